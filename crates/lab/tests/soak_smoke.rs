//! `xskfwd soak`, short: calibration, a steady phase with malformed
//! frames, overload and a lossless recovery in a throwaway lab; the
//! verdict passes and the JSON report holds the samples. Root only
//! (skips, saying so). The soak's own checks (growth, fds, loss,
//! accounting) are what this runs; their failure cases are unit tests
//! of `soak::verdict`.

use xskfwd_lab::harness as common;

use common::*;
use std::process::Command;

#[test]
fn a_short_soak_passes_and_reports_its_samples() {
    if !root_or_skip("a_short_soak_passes_and_reports_its_samples") {
        return;
    }
    let json = std::env::temp_dir().join(format!("xskfwd-soak-smoke-{}.json", std::process::id()));
    let out = Command::new(env!("CARGO_BIN_EXE_xskfwd-lab"))
        .args([
            "soak",
            "--duration",
            "10s",
            "--interval",
            "2s",
            "--overload",
            "3s",
            "--recovery",
            "2s",
            "--json",
        ])
        .arg(&json)
        .output()
        .expect("run xskfwd soak");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("soak: passed"), "{stderr}");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).expect("report")).expect("JSON");
    let _ = std::fs::remove_file(&json);
    let samples = report["samples"].as_array().expect("samples");
    assert!(samples.len() >= 6, "{report}");
    for phase in ["steady", "overload", "recovery"] {
        assert!(samples.iter().any(|s| s["phase"] == phase), "{phase}");
    }
    assert!(report["malformed_sent"].as_u64().unwrap() > 0);
    let s = &report["summary"];
    assert_eq!(
        s["rx"].as_u64(),
        Some(s["tx"].as_u64().unwrap() + s["dropped"].as_u64().unwrap())
    );
    assert_eq!(report["failures"].as_array().map(Vec::len), Some(0));
}
