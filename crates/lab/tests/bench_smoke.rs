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

/// Runs a short `bench` (one repetition of 1 s, at 64 B unless `extra`
/// has `--sizes`) with `extra` options into a fresh directory; it must
/// succeed. Returns the directory, stdout and stderr.
fn bench(tag: &str, extra: &[&str]) -> (std::path::PathBuf, String, String) {
    let dir = std::env::temp_dir().join(format!("xskfwd-bench-{tag}-{}", std::process::id()));
    let sizes: &[&str] = if extra.contains(&"--sizes") {
        &[]
    } else {
        &["--sizes", "64"]
    };
    let out = xskfwd_lab()
        .args(["bench", "--duration", "1", "--reps", "1"])
        .args(sizes)
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

/// The frame-size sweep: a plain size, a jumbo size and IMIX through the
/// kernel, XDP redirect and xskfwd L2. Checks conservation and what each
/// trial used, never timings.
#[test]
fn bench_sweeps_sizes_up_to_jumbo_and_imix() {
    if !root_or_skip("bench_sweeps_sizes_up_to_jumbo_and_imix") {
        return;
    }
    let (dir, stdout, _) = bench(
        "jumbo",
        &[
            "--paths",
            "kernel,xdp-redirect,xskfwd-l2",
            "--sizes",
            "64,9000,imix",
        ],
    );
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("bench.json")).unwrap()).unwrap();
    let trials = json["trials"].as_array().unwrap();
    let rows = json["rows"].as_array().unwrap();
    // The machine's load is recorded with the figures.
    assert!(json["load_average"]["end"][0].as_f64().is_some(), "{json}");
    assert!(stdout.contains("load average (1/5/15 min): "), "{stdout}");
    let row = |path: &str, size: serde_json::Value| {
        rows.iter()
            .find(|r| r["path"] == path && r["size"] == size)
            .unwrap_or_else(|| panic!("no row {path} {size}: {stdout}"))
    };
    for t in trials {
        let (sent, delivered) = (
            t["sent"].as_u64().unwrap(),
            t["delivered"].as_u64().unwrap(),
        );
        assert!(sent > 0 && delivered <= sent, "{t}");
    }
    for path in ["kernel", "xdp-redirect"] {
        for size in [
            serde_json::json!(64),
            serde_json::json!(9000),
            "imix".into(),
        ] {
            let r = row(path, size.clone());
            assert!(r["delivered_mpps"].as_f64().unwrap() > 0.0, "{r}");
            assert!(r["gbps"].as_f64().unwrap() > 0.0, "{r}");
        }
        let t = trials
            .iter()
            .find(|t| t["path"] == path && t["size"] == 9000)
            .unwrap();
        // Above the live-frames limit: the AF_PACKET ring, and every
        // veth at the MTU a 9000-byte frame needs.
        assert_eq!(t["engine"], "ring", "{t}");
        assert_eq!(t["mtu"], 8986, "{t}");
        // The sink counted whole multi-buffer frames (bpf_xdp_get_buff_len).
        let (d, b) = (
            t["delivered"].as_u64().unwrap(),
            t["delivered_bytes"].as_u64().unwrap(),
        );
        assert!(d > 0, "{t}");
        let avg = b as f64 / d as f64;
        assert!((avg - 9000.0).abs() < 90.0, "average {avg} bytes: {t}");
        if path == "xdp-redirect" {
            // Every delivered jumbo frame went through bpf_redirect.
            assert!(t["xdp_redirected"].as_u64().unwrap() >= d, "{t}");
        }
        let t64 = trials
            .iter()
            .find(|t| t["path"] == path && t["size"] == 64)
            .unwrap();
        assert_eq!(
            (&t64["engine"], &t64["mtu"]),
            (&"live".into(), &1500.into())
        );
        // IMIX: 7:4:1 of 64/570/1514 bytes averages 353.5.
        let imix = row(path, "imix".into());
        let avg = imix["avg_frame"].as_f64().unwrap();
        assert!((avg - 353.5).abs() < 5.0, "{imix}");
    }
    // xskfwd carries jumbo frames (AF_XDP multi-buffer): its 9000 B cell
    // ran, every frame it took is accounted for, and nothing was refused.
    assert!(
        row("xskfwd-l2", 64.into())["delivered_mpps"]
            .as_f64()
            .unwrap()
            > 0.0
    );
    let r = row("xskfwd-l2", 9000.into());
    assert!(r["delivered_mpps"].as_f64().unwrap() > 0.0, "{r}");
    let t = trials
        .iter()
        .find(|t| t["path"] == "xskfwd-l2" && t["size"] == 9000)
        .unwrap();
    assert_eq!(t["xskfwd"]["conserved"], true, "{t}");
    assert_eq!(json["unsupported"].as_array().map(Vec::len), Some(0));
    let _ = std::fs::remove_dir_all(&dir);
    assert!(!String::from_utf8_lossy(
        &Command::new("ip")
            .args(["netns", "list"])
            .output()
            .unwrap()
            .stdout
    )
    .contains(&json["lab"].as_str().unwrap().to_string()));
}

/// A path that refuses a size is reported as not supported, with
/// xskfwd's reason, and the run still succeeds: xskfwd in zero-copy mode
/// on veth (no multi-buffer in zero-copy) at 9000 B.
#[test]
fn bench_reports_a_refused_size_as_not_supported() {
    if !root_or_skip("bench_reports_a_refused_size_as_not_supported") {
        return;
    }
    let (dir, stdout, _) = bench(
        "refused",
        &[
            "--paths",
            "xskfwd-l2",
            "--sizes",
            "9000",
            "--xskfwd-args=--bind zero-copy",
        ],
    );
    assert!(
        stdout.contains("xskfwd-l2      9000  not supported (MTU 8986: "),
        "{stdout}"
    );
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("bench.json")).unwrap()).unwrap();
    assert_eq!(json["rows"].as_array().map(Vec::len), Some(0));
    let u = &json["unsupported"][0];
    assert_eq!(
        (&u["path"], &u["size"]),
        (&"xskfwd-l2".into(), &9000.into())
    );
    assert!(u["reason"].as_str().unwrap().contains("zero-copy"), "{u}");
    let _ = std::fs::remove_dir_all(&dir);
}
