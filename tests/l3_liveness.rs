//! Neighbour liveness, with the kernel as the oracle: a next hop that dies
//! while traffic flows through the router must be found dead — and the
//! sender told with ICMP host unreachable — as fast with xskfwd
//! forwarding as with the kernel forwarding. The kernel only re-probes a
//! neighbour it uses itself; xskfwd reports the next hops it forwards to
//! (NTF_USE), or a STALE entry would keep xskfwd sending to a dead MAC
//! forever. Root only (skips, saying so).

mod common;

use std::net::{IpAddr, Ipv4Addr};
use std::thread;
use std::time::{Duration, Instant};

use common::*;
use xskfwd_lab::lab::LabInfo;
use xskfwd_lab::traffic::{build_frames, FrameSpec, Receiver, RecvLimits, SendLimits, Sender};

/// The next hop that dies: a second address on dst0.
const NEXT_HOP: &str = "198.18.1.77";
/// A prefix routed through it.
const ROUTED: &str = "198.18.77.0/24";
const TARGET: Ipv4Addr = Ipv4Addr::new(198, 18, 77, 1);
/// The stream through the router.
const PPS: u64 = 200;
const RUN: Duration = Duration::from_secs(14);
/// The next hop dies this long after the stream starts.
const KILL_AFTER: Duration = Duration::from_secs(3);

/// ICMP destination unreachable / host unreachable from the router.
fn is_host_unreachable(f: &[u8]) -> bool {
    f.len() >= 36 && f[12..14] == [0x08, 0x00] && f[23] == 1 && {
        let l4 = 14 + usize::from(f[14] & 0x0f) * 4;
        f.get(l4..l4 + 2) == Some(&[3, 1][..])
    }
}

/// Streams UDP to [`TARGET`] through the router, kills the next hop after
/// [`KILL_AFTER`], and returns how long after that the first ICMP host
/// unreachable reached the sender (`None`: none within the run).
fn time_to_unreachable(info: &LabInfo) -> Option<Duration> {
    let (src, dut, dst) = (info.src_ns(), info.dut_ns(), info.dst_ns());
    ip(
        dst,
        &["addr", "add", &format!("{NEXT_HOP}/24"), "dev", "dst0"],
    );
    ip(
        dut,
        &["route", "replace", ROUTED, "via", NEXT_HOP, "dev", "dut1"],
    );
    let spec = FrameSpec::udp(
        info.src0.mac,
        info.dut0.mac,
        IpAddr::V4(info.src0.ipv4),
        IpAddr::V4(TARGET),
        100,
    );
    let frames = build_frames(&spec, 64).expect("frames");
    let rx = Receiver::new(src, "src0").expect("receiver at src0");
    let sender = Sender::new(src, "src0").expect("sender at src0");
    let total = PPS * RUN.as_secs();
    let started = Instant::now();
    let stream = thread::spawn(move || {
        let limits = SendLimits::new(total, RUN).rate(PPS);
        sender.send(&frames, limits).expect("send")
    });
    let dst_ns = dst.to_string();
    let killer = thread::spawn(move || {
        thread::sleep(KILL_AFTER);
        let at = Instant::now();
        ip(
            &dst_ns,
            &["addr", "del", &format!("{NEXT_HOP}/24"), "dev", "dst0"],
        );
        at
    });
    let got = rx
        .recv_until(RecvLimits::new(1, RUN + Duration::from_secs(1)), |f| {
            is_host_unreachable(f) && started.elapsed() > KILL_AFTER
        })
        .expect("receive at src0");
    let arrived = Instant::now();
    let killed = killer.join().expect("killer");
    stream.join().expect("stream");
    ip(dut, &["route", "del", ROUTED]);
    let _ = std::process::Command::new("ip")
        .args(["-n", dut, "neigh", "del", NEXT_HOP, "dev", "dut1"])
        .status();
    (!got.frames.is_empty()).then(|| arrived.saturating_duration_since(killed))
}

#[test]
fn a_dead_next_hop_is_found_as_fast_as_kernel_forwarding_finds_it() {
    if !root_or_skip("a_dead_next_hop_is_found_as_fast_as_kernel_forwarding_finds_it") {
        return;
    }
    let lab = lab("nhdead");
    let info = lab.info().clone();
    let dut = info.dut_ns().to_string();
    // Short neighbour timers, the same for both runs; every ICMP error
    // sent (no rate limit), so the first one marks the moment.
    sysctls(
        &dut,
        &[
            "net.ipv4.neigh.dut1.base_reachable_time_ms=1000",
            "net.ipv4.neigh.dut1.delay_first_probe_time=1",
            "net.ipv4.neigh.dut1.retrans_time_ms=200",
            "net.ipv4.neigh.dut1.ucast_solicit=3",
            "net.ipv4.neigh.dut1.mcast_solicit=3",
            "net.ipv4.icmp_ratelimit=0",
        ],
    );

    assert_dut_clean(&dut);
    let kernel = time_to_unreachable(&info).expect("the kernel reports the dead next hop");
    eprintln!("kernel forwarding: ICMP host unreachable {kernel:?} after the next hop died");

    let mut args = xskfwd_lab::demo::l3_run_args(&info);
    args.extend(["--stats".to_string(), "json".to_string()]);
    let fwd = Running::start(&args, &dut, "dut1");
    let xskfwd = time_to_unreachable(&info);
    let out = fwd.signal_and_wait(libc::SIGTERM);
    assert!(out.status.success(), "xskfwd failed:\n{}", out.stderr);
    let summary = last_json(&out.stdout, "summary");
    assert_dut_clean(&dut);
    let redirected: u64 = summary["xdp"]
        .as_array()
        .expect("xdp rows")
        .iter()
        .map(|r| r["redirect"].as_u64().expect("redirect counter"))
        .sum();
    assert!(
        redirected > PPS,
        "xskfwd forwarded the stream while the next hop lived: {summary}"
    );
    assert!(
        summary["control"]["neigh_uses"].as_u64().unwrap_or(0) > 0,
        "the next hop was reported as used: {summary}"
    );
    let xskfwd = xskfwd.unwrap_or_else(|| {
        panic!(
            "with xskfwd forwarding the sender never heard of the dead next hop \
             (the kernel took {kernel:?}): {summary}"
        )
    });
    eprintln!("xskfwd: ICMP host unreachable {xskfwd:?} after the next hop died");
    assert!(
        xskfwd <= kernel * 2 + Duration::from_secs(2),
        "xskfwd took {xskfwd:?}, the kernel {kernel:?}"
    );
}
