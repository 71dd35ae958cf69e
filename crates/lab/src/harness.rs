//! Helpers of the end-to-end suites (this crate's and the forwarder's
//! `tests/`): the root check, a throwaway lab, what XDP program an
//! interface carries. Built only with the `harness` feature, which only
//! dev-dependencies turn on.

use std::process::{Command, Stdio};

use crate::lab::{self, Lab};

/// True when running as root; otherwise prints why the test is skipped.
pub fn root_or_skip(test: &str) -> bool {
    if xskfwd::privileges::is_root() {
        true
    } else {
        eprintln!("skipped {test}: needs root (network namespaces, XDP, AF_XDP)");
        false
    }
}

/// A fresh lab with a unique name (removed on drop).
pub fn lab(tag: &str) -> Lab {
    Lab::up(crate::demo::lab_spec(&lab::unique_prefix(tag), 1)).expect("lab up")
}

/// The XDP program attached to `ifname` in `ns`, if any (name).
pub fn xdp_prog(ns: &str, ifname: &str) -> Option<String> {
    crate::demo::xdp_prog_in(ns, ifname).expect("query the XDP program in the namespace")
}

/// The XDP program left on `ifname` in `ns` once a detach had time to
/// finish (bounded, 2 s): a bpf_link fd this process just closed can
/// still be held for a moment by a child another test thread is spawning
/// (the fd table is copied when it forks and closed when it execs), and
/// the link goes only with the last holder.
pub fn xdp_prog_settled(ns: &str, ifname: &str) -> Option<String> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
    loop {
        let prog = xdp_prog(ns, ifname);
        if prog.is_none() || std::time::Instant::now() >= deadline {
            return prog;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// Asserts that no XDP program is attached to dut0 and dut1.
pub fn assert_dut_clean(ns: &str) {
    for ifname in ["dut0", "dut1"] {
        assert_eq!(
            xdp_prog_settled(ns, ifname),
            None,
            "an XDP program is left on {ifname}"
        );
    }
}

/// Runs `ping` in `ns` (one echo, bounded) and returns whether it succeeded.
pub fn ping(ns: &str, dst: &str) -> bool {
    Command::new("ip")
        .args(["netns", "exec", ns, "ping", "-c", "1", "-W", "2", dst])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

/// The last JSON line of `stdout` whose "type" is `ty`.
pub fn last_json(stdout: &str, ty: &str) -> serde_json::Value {
    stdout
        .lines()
        .rev()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|v| v["type"] == ty)
        .unwrap_or_else(|| panic!("no {ty} line in:\n{stdout}"))
}

/// Plugs dut1 ↔ dst0 back in (after a test deleted it), with the pass
/// program on dst0 as the lab has it.
pub fn replug_dut1(info: &crate::lab::LabInfo) {
    let spec = crate::demo::lab_spec("unused", 1);
    lab::replug_dut1(info, spec.attach_peer_xdp.as_deref()).expect("re-create dut1 and dst0");
}
