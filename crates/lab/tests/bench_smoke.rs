//! `xskfwd bench` smoke test: two short paths and a two-step RFC 2544
//! search in a throwaway lab; the table, JSON, CSV and SVG come out
//! well-formed. No timing assertions. Root only (skips, saying so).

use xskfwd_lab::harness as common;

use common::*;
use std::process::Command;

/// The lab tools' binary under test.
fn xskfwd_lab() -> Command {
    Command::new(env!("CARGO_BIN_EXE_xskfwd-lab"))
}

/// Runs a short `bench` (one repetition of 1 s at 64 B) with `extra`
/// options into a fresh directory; it must succeed. Returns the
/// directory, stdout and stderr.
fn bench(tag: &str, extra: &[&str]) -> (std::path::PathBuf, String, String) {
    let dir = std::env::temp_dir().join(format!("xskfwd-bench-{tag}-{}", std::process::id()));
    let out = xskfwd_lab()
        .args(["bench", "--duration", "1", "--reps", "1", "--sizes", "64"])
        .args(extra)
        .arg("--out")
        .arg(&dir)
        .output()
        .expect("run xskfwd bench");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "bench failed:\n{stdout}\n{stderr}");
    (dir, stdout, stderr)
}

#[test]
fn bench_produces_table_json_csv_and_plot() {
    if !root_or_skip("bench_produces_table_json_csv_and_plot") {
        return;
    }
    let (dir, stdout, _) = bench(
        "smoke",
        &[
            "--paths",
            "kernel,xskfwd-l3",
            "--rfc2544",
            "--rfc2544-steps",
            "2",
        ],
    );
    assert!(
        stdout.contains("kernel") && stdout.contains("xskfwd-l3"),
        "{stdout}"
    );
    assert!(stdout.contains("rfc2544 kernel"), "{stdout}");

    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("bench.json")).unwrap()).unwrap();
    let rows = json["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 2);
    for r in rows {
        assert!(r["offered_mpps"].as_f64().unwrap() > 0.0, "{r}");
        assert!(
            r["delivered_mpps"].as_f64().unwrap() > 0.0,
            "nothing forwarded: {r}"
        );
        assert_eq!(r["cpu"].as_array().unwrap().len(), num_cpus());
    }
    assert_eq!(rows[0]["ratio"].as_f64(), Some(1.0));
    assert!(
        rows[1]["syscalls_per_pkt"].as_f64().is_some(),
        "xskfwd reports syscalls"
    );
    assert_eq!(json["rfc2544"].as_array().unwrap().len(), 2);

    let csv = std::fs::read_to_string(dir.join("bench.csv")).unwrap();
    let mut lines = csv.lines();
    let header = lines.next().unwrap();
    let cols = header.split(',').count();
    let body: Vec<&str> = lines.collect();
    assert!(body.len() >= 2 + 2 * 2, "trials and search steps: {csv}");
    assert!(body.iter().all(|l| l.split(',').count() == cols), "{csv}");

    let svg = std::fs::read_to_string(dir.join("bench.svg")).unwrap();
    assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
    assert!(svg.contains("xskfwd-l3") && svg.contains("<polyline"));
    let _ = std::fs::remove_dir_all(&dir);
    // The lab is gone.
    assert!(!String::from_utf8_lossy(
        &std::process::Command::new("ip")
            .args(["netns", "list"])
            .output()
            .unwrap()
            .stdout
    )
    .contains(&json["lab"].as_str().unwrap().to_string()));
}

fn num_cpus() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

#[test]
fn bench_with_two_queues_runs_a_generator_and_a_worker_per_queue() {
    if !root_or_skip("bench_with_two_queues_runs_a_generator_and_a_worker_per_queue") {
        return;
    }
    let (dir, _, stderr) = bench("q2", &["--paths", "xskfwd-l2", "--queues", "2"]);
    assert!(stderr.contains("2 queue(s) per veth"), "{stderr}");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("bench.json")).unwrap()).unwrap();
    assert_eq!(json["queues"], 2);
    let row = &json["rows"][0];
    assert!(row["delivered_mpps"].as_f64().unwrap() > 0.0, "{row}");
    let _ = std::fs::remove_dir_all(&dir);
}
