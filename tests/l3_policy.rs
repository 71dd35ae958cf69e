//! Policy routing, ECMP and VRFs, with the kernel as the oracle: the same
//! frames go once through Linux forwarding and once through xskfwd, and
//! what reaches the destination must be byte-identical, with nothing
//! dropped by xskfwd. Kernel-routed frames carry the FIB's own decision
//! (`ip rule`, other tables and VRFs included) to the worker; ECMP routes
//! are the kernel's (its hash picks the path). Root only (skips, saying so).

mod common;

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use common::*;
use serde_json::Value;
use xskfwd::config::Mac;
use xskfwd_lab::lab::LabInfo;
use xskfwd_lab::traffic::{self, FrameSpec, Receiver, RecvLimits, SendLimits, Sender};

const N: u64 = 1000;

/// Sends `N` frames from `source` to `target` and returns what reached
/// dst0, by sequence.
fn stream(info: &LabInfo, source: Ipv4Addr, target: Ipv4Addr) -> BTreeMap<u64, Vec<u8>> {
    let spec = FrameSpec::udp(
        info.src0.mac,
        info.dut0.mac,
        IpAddr::V4(source),
        IpAddr::V4(target),
        200,
    );
    let frames = traffic::build_frames(&spec, N).expect("frames");
    let rx = Receiver::new(info.dst_ns(), "dst0").expect("receiver on dst0");
    let tx = Sender::new(info.src_ns(), "src0").expect("sender on src0");
    let report = tx
        .send(
            &frames,
            SendLimits::new(N, Duration::from_secs(5)).rate(5000),
        )
        .expect("send");
    assert_eq!(report.sent, N);
    let got = rx
        .recv_ours(RecvLimits::new(N as usize, Duration::from_secs(5)).idle(Duration::from_secs(1)))
        .expect("receive");
    got.frames
        .into_iter()
        .filter_map(|f| Some((traffic::parse_seq(&f)?, f)))
        .collect()
}

/// Kernel run, then xskfwd run, of the stream from `source` to `target`;
/// returns the xskfwd summary after checking both runs delivered the same
/// bytes.
fn differential(info: &LabInfo, what: &str, source: Ipv4Addr, target: Ipv4Addr) -> Value {
    let dut = info.dut_ns();
    assert_dut_clean(dut);
    let kernel = stream(info, source, target);
    assert_eq!(
        kernel.len() as u64,
        N,
        "{what}: the kernel forwards every frame"
    );
    let mut args = xskfwd_lab::demo::l3_run_args(info);
    args.extend(["--stats".to_string(), "json".to_string()]);
    let fwd = Running::start(&args, dut, "dut1");
    let xskfwd = stream(info, source, target);
    let summary = stop_and_summary(fwd);
    assert_dut_clean(dut);
    assert_eq!(summary["dropped"], 0, "{what}: {summary}");
    let differ: Vec<u64> = kernel
        .iter()
        .filter(|(s, f)| xskfwd.get(s) != Some(f))
        .map(|(s, _)| *s)
        .take(10)
        .collect();
    assert!(
        differ.is_empty() && xskfwd.len() == kernel.len(),
        "{what}: {} frames with xskfwd vs {} with the kernel; differing or missing: {differ:?}\n{summary}",
        xskfwd.len(),
        kernel.len()
    );
    summary
}

#[test]
fn policy_routing_ecmp_and_vrfs_forward_as_the_kernel_does() {
    if !root_or_skip("policy_routing_ecmp_and_vrfs_forward_as_the_kernel_does") {
        return;
    }
    let lab = lab("l3policy");
    let info = lab.info().clone();
    let dut = info.dut_ns().to_string();
    let gw = info.dst0.ipv4.to_string();
    let dst_mac = Mac(info.dst0.mac).to_string();

    // A route only in table 100, chosen by a rule: xskfwd forwards it.
    ip(
        &dut,
        &[
            "route",
            "add",
            "198.19.70.0/24",
            "via",
            &gw,
            "dev",
            "dut1",
            "table",
            "100",
        ],
    );
    ip(
        &dut,
        &[
            "rule",
            "add",
            "to",
            "198.19.70.0/24",
            "lookup",
            "100",
            "pref",
            "100",
        ],
    );
    let src = info.src0.ipv4;
    let s = differential(&info, "ip rule", src, Ipv4Addr::new(198, 19, 70, 1));
    assert!(
        xdp_total(&s, "redirect") >= N,
        "ip rule: xskfwd forwarded it: {s}"
    );

    // ECMP: the kernel's hash picks the path, so the kernel forwards it.
    ip(
        &dut,
        &[
            "neigh",
            "replace",
            "198.18.1.2",
            "lladdr",
            &dst_mac,
            "dev",
            "dut1",
            "nud",
            "permanent",
        ],
    );
    ip(
        &dut,
        &[
            "route",
            "add",
            "198.19.71.0/24",
            "nexthop",
            "via",
            &gw,
            "dev",
            "dut1",
            "nexthop",
            "via",
            "198.18.1.2",
            "dev",
            "dut1",
        ],
    );
    let s = differential(&info, "ecmp", src, Ipv4Addr::new(198, 19, 71, 1));
    assert!(
        xdp_total(&s, "pass_not_ours") >= N,
        "ecmp: passed to the kernel: {s}"
    );

    // A source that is the router's own address, with accept_local=1: the
    // kernel forwards it (with 0 it drops it: tests/l3_e2e.rs), and so
    // it must arrive with xskfwd too — it passes such frames to the kernel.
    sysctls(
        &dut,
        &[
            "net.ipv4.conf.all.accept_local=1",
            "net.ipv4.conf.dut0.accept_local=1",
        ],
    );
    let s = differential(&info, "accept_local=1", info.dut1.ipv4, info.dst0.ipv4);
    assert!(xdp_total(&s, "pass_local_src") >= N, "accept_local: {s}");
    sysctls(
        &dut,
        &[
            "net.ipv4.conf.all.accept_local=0",
            "net.ipv4.conf.dut0.accept_local=0",
        ],
    );

    // A VRF holding both ports: its table decides, through the FIB.
    let vrf = std::process::Command::new("ip")
        .args([
            "-n", &dut, "link", "add", "blue", "type", "vrf", "table", "10",
        ])
        .output()
        .expect("run ip");
    if !vrf.status.success() {
        eprintln!(
            "skipped the VRF part: this kernel cannot make a VRF device ({})",
            String::from_utf8_lossy(&vrf.stderr).trim()
        );
        return;
    }
    ip(&dut, &["link", "set", "blue", "up"]);
    for port in ["dut0", "dut1"] {
        ip(&dut, &["link", "set", port, "master", "blue"]);
    }
    ip(
        &dut,
        &[
            "route",
            "add",
            "198.19.72.0/24",
            "via",
            &gw,
            "dev",
            "dut1",
            "vrf",
            "blue",
        ],
    );
    let s = differential(&info, "vrf", src, Ipv4Addr::new(198, 19, 72, 1));
    assert!(
        xdp_total(&s, "redirect") >= N,
        "vrf: xskfwd forwarded it: {s}"
    );
}

#[test]
fn rp_filter_switched_on_while_forwarding_is_followed() {
    if !root_or_skip("rp_filter_switched_on_while_forwarding_is_followed") {
        return;
    }
    let lab = lab("l3rpf");
    let info = lab.info().clone();
    let dut = info.dut_ns().to_string();
    // From an address of dst0's subnet, arriving on dut0: the reverse
    // path leads out of dut1, so strict rp_filter refuses it.
    let spoofed = Ipv4Addr::new(198, 18, 1, 99);
    let target = info.dst0.ipv4;
    let strict = [
        "net.ipv4.conf.all.rp_filter=1",
        "net.ipv4.conf.dut0.rp_filter=1",
    ];
    let off = [
        "net.ipv4.conf.all.rp_filter=0",
        "net.ipv4.conf.dut0.rp_filter=0",
    ];

    sysctls(&dut, &off);
    assert_eq!(
        stream(&info, spoofed, target).len() as u64,
        N,
        "rp_filter off: forwarded"
    );
    sysctls(&dut, &strict);
    assert!(
        stream(&info, spoofed, target).is_empty(),
        "strict: the kernel drops them"
    );

    // xskfwd starts with rp_filter off, then it is switched on.
    sysctls(&dut, &off);
    let mut args = xskfwd_lab::demo::l3_run_args(&info);
    args.extend(["--stats".to_string(), "json".to_string()]);
    let fwd = Running::start(&args, &dut, "dut1");
    assert_eq!(
        stream(&info, spoofed, target).len() as u64,
        N,
        "xskfwd, rp_filter off"
    );
    sysctls(&dut, &strict);
    std::thread::sleep(Duration::from_millis(1500));
    let after = stream(&info, spoofed, target);
    let summary = stop_and_summary(fwd);
    assert_dut_clean(&dut);
    assert!(
        after.is_empty(),
        "{} frames forwarded after rp_filter was switched on: {summary}",
        after.len()
    );
    assert!(xdp_total(&summary, "pass_rpf") >= N, "{summary}");
}

/// Counts the ICMP destination-unreachable messages that reach src0 while
/// `n` frames from src0 to `target` are sent.
fn unreachables(info: &LabInfo, target: Ipv4Addr, n: u64) -> usize {
    let spec = FrameSpec::udp(
        info.src0.mac,
        info.dut0.mac,
        IpAddr::V4(info.src0.ipv4),
        IpAddr::V4(target),
        200,
    );
    let frames = traffic::build_frames(&spec, n).expect("frames");
    let rx = Receiver::new(info.src_ns(), "src0").expect("receiver on src0");
    let tx = Sender::new(info.src_ns(), "src0").expect("sender on src0");
    tx.send(
        &frames,
        SendLimits::new(n, Duration::from_secs(5)).rate(2000),
    )
    .expect("send");
    let icmp_unreachable = |f: &[u8]| {
        f.len() > 35 && f[12..14] == [0x08, 0x00] && f[23] == 1 && {
            let l4 = 14 + usize::from(f[14] & 0x0f) * 4;
            f.get(l4) == Some(&3)
        }
    };
    rx.recv_until(
        RecvLimits::new(n as usize, Duration::from_secs(5)).idle(Duration::from_secs(1)),
        icmp_unreachable,
    )
    .expect("receive")
    .frames
    .len()
}

#[test]
fn a_static_route_over_kernel_routes_leaves_them_to_the_kernel() {
    if !root_or_skip("a_static_route_over_kernel_routes_leaves_them_to_the_kernel") {
        return;
    }
    let lab = lab("l3cover");
    let info = lab.info().clone();
    let dut = info.dut_ns().to_string();
    sysctls(&dut, &["net.ipv4.icmp_ratelimit=0"]);
    // A more specific kernel route of a type xskfwd does not forward.
    ip(&dut, &["route", "add", "unreachable", "198.19.90.0/24"]);
    let hole = Ipv4Addr::new(198, 19, 90, 1);
    // The kernel rate-limits these per source (ip_error's bucket, about 5
    // at once): both runs must hear from it, neither all 200 times.
    let kernel = unreachables(&info, hole, 200);
    assert!(kernel > 0, "the kernel answers");

    // xskfwd with a static /16 over it: the /24 stays the kernel's.
    let mut args = xskfwd_lab::demo::l3_run_args(&info);
    args.extend([
        "--route".to_string(),
        format!("198.19.0.0/16 via {} dev dut1", info.dst0.ipv4),
        "--stats".to_string(),
        "json".to_string(),
    ]);
    let fwd = Running::start(&args, &dut, "dut1");
    let with_xskfwd = unreachables(&info, hole, 200);
    // The static route itself forwards the rest of the /16.
    let forwarded = stream(&info, info.src0.ipv4, Ipv4Addr::new(198, 19, 91, 1));
    let summary = stop_and_summary(fwd);
    assert_dut_clean(&dut);
    assert_eq!(summary["dropped"], 0, "{summary}");
    eprintln!("ICMP unreachable at the sender: {kernel} (kernel), {with_xskfwd} (xskfwd)");
    assert!(with_xskfwd > 0, "the sender hears the kernel: {summary}");
    assert!(
        xdp_total(&summary, "pass_not_ours") >= 200,
        "the /24 went to the kernel: {summary}"
    );
    assert_eq!(
        forwarded.len() as u64,
        N,
        "the static route forwards: {summary}"
    );
}
