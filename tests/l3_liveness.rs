//! Neighbour liveness, with the kernel as the oracle: a next hop that dies
//! while traffic flows through the router must be found dead — and the
//! sender told with ICMP host unreachable — and a next hop that changes
//! its MAC must be followed, as fast with xskfwd forwarding as with the
//! kernel forwarding. The kernel only re-probes a
//! neighbour it uses itself; xskfwd reports the next hops it forwards to
//! (NTF_USE), or a STALE entry would keep xskfwd sending to a dead MAC
//! forever. Root only (skips, saying so).

mod common;

use std::net::{IpAddr, Ipv4Addr};
use std::thread;
use std::time::{Duration, Instant};

use common::*;
use xskfwd::config::Mac;
use xskfwd_lab::lab::LabInfo;
use xskfwd_lab::traffic::{
    build_frames, parse_seq, FrameSpec, Receiver, RecvLimits, SendLimits, Sender,
};

/// The next hop that dies: a second address on dst0.
const NEXT_HOP: &str = "198.18.1.77";
/// A prefix routed through it.
const ROUTED: &str = "198.18.77.0/24";
const TARGET: Ipv4Addr = Ipv4Addr::new(198, 18, 77, 1);
/// The stream through the router.
const PPS: u64 = 200;
const RUN: Duration = Duration::from_secs(14);
/// The next hop changes this long after the stream starts.
const CHANGE_AFTER: Duration = Duration::from_secs(3);

/// ICMP destination unreachable / host unreachable from the router.
fn is_host_unreachable(f: &[u8]) -> bool {
    f.len() >= 36 && f[12..14] == [0x08, 0x00] && f[23] == 1 && {
        let l4 = 14 + usize::from(f[14] & 0x0f) * 4;
        f.get(l4..l4 + 2) == Some(&[3, 1][..])
    }
}

/// What happens to the next hop [`CHANGE_AFTER`] into the stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Change {
    /// Its address goes away: the router must find it dead and tell the
    /// sender (ICMP host unreachable).
    Dies,
    /// Its MAC changes: the router must learn the new one.
    NewMac,
}

/// The MAC dst0 takes in [`Change::NewMac`].
const NEW_MAC: [u8; 6] = [0x02, 0x00, 0x00, 0x77, 0x77, 0x77];

/// Streams UDP to [`TARGET`] through the router, applies `change` to the
/// next hop after [`CHANGE_AFTER`], and returns how long after that the
/// router showed it noticed: the first ICMP host unreachable at the
/// sender ([`Change::Dies`]) or the first frame to the new MAC at dst0
/// ([`Change::NewMac`]). `None`: not within the run.
fn time_to_notice(info: &LabInfo, change: Change) -> Option<Duration> {
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
    let (watch_ns, watch_if) = match change {
        Change::Dies => (src, "src0"),
        Change::NewMac => (dst, "dst0"),
    };
    let rx = Receiver::new(watch_ns, watch_if).expect("receiver");
    let sender = Sender::new(src, "src0").expect("sender at src0");
    let total = PPS * RUN.as_secs();
    let started = Instant::now();
    let stream = thread::spawn(move || {
        let limits = SendLimits::new(total, RUN).rate(PPS);
        sender.send(&frames, limits).expect("send")
    });
    let dst_ns = dst.to_string();
    let changer = thread::spawn(move || {
        thread::sleep(CHANGE_AFTER);
        let at = Instant::now();
        match change {
            Change::Dies => ip(
                &dst_ns,
                &["addr", "del", &format!("{NEXT_HOP}/24"), "dev", "dst0"],
            ),
            Change::NewMac => ip(
                &dst_ns,
                &["link", "set", "dst0", "address", &Mac(NEW_MAC).to_string()],
            ),
        };
        at
    });
    let got = rx
        .recv_until(RecvLimits::new(1, RUN + Duration::from_secs(1)), |f| {
            started.elapsed() > CHANGE_AFTER
                && match change {
                    Change::Dies => is_host_unreachable(f),
                    Change::NewMac => f.get(..6) == Some(&NEW_MAC[..]) && parse_seq(f).is_some(),
                }
        })
        .expect("receive");
    let noticed = Instant::now();
    let changed = changer.join().expect("changer");
    stream.join().expect("stream");
    ip(dut, &["route", "del", ROUTED]);
    let _ = std::process::Command::new("ip")
        .args(["-n", dut, "neigh", "del", NEXT_HOP, "dev", "dut1"])
        .status();
    let _ = std::process::Command::new("ip")
        .args([
            "-n",
            dst,
            "addr",
            "del",
            &format!("{NEXT_HOP}/24"),
            "dev",
            "dst0",
        ])
        .status();
    let old = Mac(info.dst0.mac).to_string();
    ip(dst, &["link", "set", "dst0", "address", &old]);
    (!got.frames.is_empty()).then(|| noticed.saturating_duration_since(changed))
}

/// Runs `change` once with the kernel forwarding and once with xskfwd, in
/// a lab with short neighbour timers (the same for both runs), and checks
/// xskfwd noticed it no slower than twice the kernel plus 2 s.
fn like_the_kernel(tag: &str, change: Change) {
    let lab = lab(tag);
    let info = lab.info().clone();
    let dut = info.dut_ns().to_string();
    // Every ICMP error sent (no rate limit), so the first one marks the
    // moment.
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
    let kernel = time_to_notice(&info, change).expect("the kernel notices");
    eprintln!("{change:?}, kernel forwarding: noticed {kernel:?} after the change");

    let mut args = xskfwd_lab::demo::l3_run_args(&info);
    args.extend(["--stats".to_string(), "json".to_string()]);
    let fwd = Running::start(&args, &dut, "dut1");
    let xskfwd = time_to_notice(&info, change);
    let summary = stop_and_summary(fwd);
    assert_dut_clean(&dut);
    let redirected = xdp_total(&summary, "redirect");
    assert!(
        redirected > PPS,
        "xskfwd forwarded the stream before the change: {summary}"
    );
    assert!(
        summary["control"]["neigh_uses"].as_u64().unwrap_or(0) > 0,
        "the next hop was reported as used: {summary}"
    );
    let xskfwd = xskfwd.unwrap_or_else(|| {
        panic!("{change:?}: xskfwd never noticed (the kernel took {kernel:?}): {summary}")
    });
    eprintln!("{change:?}, xskfwd: noticed {xskfwd:?} after the change");
    assert!(
        xskfwd <= kernel * 2 + Duration::from_secs(2),
        "{change:?}: xskfwd took {xskfwd:?}, the kernel {kernel:?}"
    );
}

#[test]
fn a_dead_next_hop_is_found_as_fast_as_kernel_forwarding_finds_it() {
    if !root_or_skip("a_dead_next_hop_is_found_as_fast_as_kernel_forwarding_finds_it") {
        return;
    }
    like_the_kernel("nhdead", Change::Dies);
}

#[test]
fn a_next_hops_new_mac_is_learnt_as_fast_as_kernel_forwarding_learns_it() {
    if !root_or_skip("a_next_hops_new_mac_is_learnt_as_fast_as_kernel_forwarding_learns_it") {
        return;
    }
    like_the_kernel("nhmac", Change::NewMac);
}
