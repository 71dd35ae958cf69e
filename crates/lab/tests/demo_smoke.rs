//! `xskfwd demo`, short: Linux forwarding, xskfwd L2 and xskfwd L3 side by
//! side in a throwaway lab, with trials of a few tenths of a second and a
//! two-step search. Checks the story's parts, not its figures (no timing
//! assertions): three rows, frames conserved, every loss explained, the
//! caveat and the commands to go further; progress on stderr only; the
//! lab is gone afterwards. Root only (skips, saying so).

use xskfwd_lab::harness as common;

use common::*;
use std::process::Command;

#[test]
fn the_demo_puts_xskfwd_next_to_linux_and_explains_the_figures() {
    if !root_or_skip("the_demo_puts_xskfwd_next_to_linux_and_explains_the_figures") {
        return;
    }
    let out = Command::new(env!("CARGO_BIN_EXE_xskfwd-lab"))
        .args(["demo", "--duration", "0.3", "--steps", "2"])
        .output()
        .expect("run xskfwd demo");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "demo failed:\n{stdout}\n{stderr}");

    let row = |label: &str| {
        stdout
            .lines()
            .find(|l| l.starts_with(label))
            .unwrap_or_else(|| panic!("no {label} row:\n{stdout}"))
    };
    assert!(row("path").contains("conserved"), "{stdout}");
    assert!(row("Linux forwarding").contains("n/a"), "{stdout}");
    for label in ["xskfwd L2", "xskfwd L3"] {
        let r = row(label);
        assert!(r.contains("Mpps") || r.contains(" -> "), "{r}");
        assert!(r.contains("yes ("), "frames not conserved: {r}");
    }
    // Each row's full-load loss has its explanation, and the time split.
    for label in ["Linux forwarding", "xskfwd L2", "xskfwd L3"] {
        assert!(
            stdout.contains(&format!("  {label}: ")),
            "no explanation for {label}:\n{stdout}"
        );
        assert!(
            stdout
                .lines()
                .any(|l| l.starts_with(&format!("  {label}")) && l.contains("cpu0 ")),
            "no CPU split for {label}:\n{stdout}"
        );
    }
    for part in [
        "zero-copy",
        "xskfwd bench",
        "xskfwd lab up",
        "xskfwd status NAME",
    ] {
        assert!(stdout.contains(part), "no {part:?}:\n{stdout}");
    }
    // Progress went to stderr, one line per step (not a terminal here).
    assert!(
        !stdout.lines().any(|l| l.starts_with("demo: ")),
        "progress on stdout:\n{stdout}"
    );
    assert!(stderr.contains("demo: done in"), "{stderr}");
    assert!(
        stderr.lines().filter(|l| l.contains("full load:")).count() == 3,
        "{stderr}"
    );

    // The lab named in the header is gone.
    let lab = stdout
        .split_whitespace()
        .find(|w| w.starts_with("xf-demo-"))
        .expect("the lab's name")
        .trim_end_matches("'s");
    let netns = Command::new("ip").args(["netns", "list"]).output().unwrap();
    assert!(
        !String::from_utf8_lossy(&netns.stdout).contains(lab),
        "lab {lab} left behind"
    );
}
