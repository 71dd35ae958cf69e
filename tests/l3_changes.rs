//! The router while the network changes: a route that appears at the end
//! of a 20,000-route batch is forwarded by xskfwd from the moment the
//! kernel's FIB has it — not when xskfwd's own mirror catches up. The XDP
//! program puts the FIB's decision in front of each frame and the worker
//! executes it, so mirror lag costs no frame (no `no_route`, no
//! `kernel_only`). Root only (skips, saying so).

mod common;

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr};
use std::thread;
use std::time::Duration;

use common::*;
use xskfwd_lab::traffic::{self, FrameSpec, Receiver, RecvLimits, SendLimits, Sender};

const TARGET: Ipv4Addr = Ipv4Addr::new(198, 19, 60, 1);
const N: u64 = 30_000;
const RATE: u64 = 10_000;
const BATCH_ROUTES: u32 = 20_000;

#[test]
fn a_route_added_in_a_big_batch_forwards_from_the_first_frame_the_kernel_would() {
    if !root_or_skip("a_route_added_in_a_big_batch_forwards_from_the_first_frame_the_kernel_would")
    {
        return;
    }
    let lab = lab("l3batch");
    let info = lab.info().clone();
    let dut = info.dut_ns().to_string();
    let dir = std::env::temp_dir().join(format!("xskfwd-l3batch-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let batch = dir.join("routes.batch");
    // /32s inside 198.19.128.0/17 (table entries only), then the route the
    // stream needs, last.
    let mut text = String::new();
    for i in 0..BATCH_ROUTES {
        let a = Ipv4Addr::from(u32::from(Ipv4Addr::new(198, 19, 128, 0)) + i);
        let _ = writeln!(text, "route add {a}/32 via 198.18.1.1 dev dut1");
    }
    let _ = writeln!(text, "route add 198.19.60.0/24 via 198.18.1.1 dev dut1");
    std::fs::write(&batch, text).expect("write the batch");

    let mut args = xskfwd_lab::demo::l3_run_args(&info);
    args.extend(["--stats".to_string(), "json".to_string()]);
    let fwd = Running::start(&args, &dut, "dut1");

    let spec = FrameSpec::udp(
        info.src0.mac,
        info.dut0.mac,
        IpAddr::V4(info.src0.ipv4),
        IpAddr::V4(TARGET),
        128,
    );
    let frames = traffic::build_frames(&spec, N).expect("frames");
    let rx = Receiver::new(info.dst_ns(), "dst0").expect("receiver on dst0");
    let tx = Sender::new(info.src_ns(), "src0").expect("sender on src0");
    let limits = RecvLimits::new(N as usize, Duration::from_secs(10)).idle(Duration::from_secs(2));
    let capture = thread::spawn(move || rx.recv_ours(limits));
    let sender = thread::spawn(move || {
        tx.send(
            &frames,
            SendLimits::new(N, Duration::from_secs(6)).rate(RATE),
        )
    });
    thread::sleep(Duration::from_millis(800));
    ip(&dut, &["-batch", &batch.display().to_string()]);
    let report = sender.join().expect("sender").expect("send");
    let got = capture.join().expect("receiver").expect("receive");
    // The next hop is a permanent neighbour (the lab's): reporting it as
    // used must not touch it (NTF_USE would strip NUD_PERMANENT).
    let neigh = ip(
        &dut,
        &["neigh", "show", &info.dst0.ipv4.to_string(), "dev", "dut1"],
    );
    let summary = stop_and_summary(fwd);
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        neigh.contains("PERMANENT"),
        "the next hop's entry: {neigh:?}"
    );
    assert_dut_clean(&dut);
    assert_eq!(report.sent, N);

    let seqs: BTreeSet<u64> = got
        .frames
        .iter()
        .filter_map(|f| traffic::parse_seq(f))
        .collect();
    let first = *seqs
        .first()
        .expect("nothing reached dst0 after the route appeared");
    let missing: Vec<u64> = (first..N).filter(|s| !seqs.contains(s)).take(20).collect();
    let drops = &summary["drops"];
    eprintln!(
        "route batch: first frame through at seq {first} of {N}; {} delivered; \
         no_route {}, kernel_only {}",
        seqs.len(),
        drops["no_route"],
        drops["kernel_only"]
    );
    assert_eq!(drops["no_route"], 0, "{summary}");
    assert_eq!(drops["kernel_only"], 0, "{summary}");
    assert!(
        missing.is_empty(),
        "frames lost after the route appeared (first through: {first}): {missing:?}\n{summary}"
    );
    assert!(
        seqs.len() as u64 >= N / 2,
        "the route came too late to tell: {summary}"
    );
}

/// Streams to a prefix routed through dst0 and, mid-stream, applies
/// `change` to its route. Returns the sequence numbers that reached dst0,
/// the sequence number sent when the change was made, and xskfwd's
/// summary if it was running.
fn stream_through_a_change(
    info: &xskfwd_lab::lab::LabInfo,
    change: &[&str],
    with_xskfwd: bool,
) -> (BTreeSet<u64>, u64, Option<serde_json::Value>) {
    const M: u64 = 10_000;
    const PPS: u64 = 5_000;
    let dut = info.dut_ns();
    let gw = info.dst0.ipv4.to_string();
    ip(
        dut,
        &[
            "route",
            "replace",
            "198.19.61.0/24",
            "via",
            &gw,
            "dev",
            "dut1",
        ],
    );
    let fwd = with_xskfwd.then(|| {
        let mut args = xskfwd_lab::demo::l3_run_args(info);
        args.extend(["--stats".to_string(), "json".to_string()]);
        Running::start(&args, dut, "dut1")
    });
    let spec = FrameSpec::udp(
        info.src0.mac,
        info.dut0.mac,
        IpAddr::V4(info.src0.ipv4),
        IpAddr::V4(Ipv4Addr::new(198, 19, 61, 1)),
        128,
    );
    let frames = traffic::build_frames(&spec, M).expect("frames");
    let rx = Receiver::new(info.dst_ns(), "dst0").expect("receiver on dst0");
    let tx = Sender::new(info.src_ns(), "src0").expect("sender on src0");
    let limits = RecvLimits::new(M as usize, Duration::from_secs(6)).idle(Duration::from_secs(1));
    let capture = thread::spawn(move || rx.recv_ours(limits));
    let started = std::time::Instant::now();
    let sender = thread::spawn(move || {
        tx.send(
            &frames,
            SendLimits::new(M, Duration::from_secs(4)).rate(PPS),
        )
    });
    thread::sleep(Duration::from_millis(1000));
    let mut args = vec!["route"];
    args.extend_from_slice(change);
    ip(dut, &args);
    let at = (started.elapsed().as_secs_f64() * PPS as f64) as u64;
    sender.join().expect("sender").expect("send");
    let got = capture.join().expect("receiver").expect("receive");
    let summary = fwd.map(stop_and_summary);
    let _ = std::process::Command::new("ip")
        .args(["-n", dut, "route", "del", "198.19.61.0/24"])
        .stderr(std::process::Stdio::null())
        .status();
    let seqs = got
        .frames
        .iter()
        .filter_map(|f| traffic::parse_seq(f))
        .collect();
    (seqs, at, summary)
}

#[test]
fn a_route_deleted_or_blackholed_under_traffic_stops_it_as_the_kernel_does() {
    if !root_or_skip("a_route_deleted_or_blackholed_under_traffic_stops_it_as_the_kernel_does") {
        return;
    }
    let lab = lab("l3del");
    let info = lab.info().clone();
    for change in [
        &["del", "198.19.61.0/24"][..],
        &["replace", "blackhole", "198.19.61.0/24"][..],
    ] {
        let (kernel, k_at, _) = stream_through_a_change(&info, change, false);
        let (xsk, x_at, summary) = stream_through_a_change(&info, change, true);
        let summary = summary.expect("xskfwd ran");
        assert_dut_clean(info.dut_ns());
        for (who, seqs, at) in [("kernel", &kernel, k_at), ("xskfwd", &xsk, x_at)] {
            let last = *seqs.last().unwrap_or(&0);
            eprintln!(
                "route {change:?}, {who}: {} delivered, the last {last}; changed at about {at}",
                seqs.len()
            );
            // Everything before the change arrived; nothing well after it.
            assert_eq!(
                seqs.len() as u64,
                last + 1,
                "{who} {change:?}: lost before the change"
            );
            assert!(
                last + 1 >= at.saturating_sub(500),
                "{who} {change:?}: stopped early"
            );
            assert!(
                last <= at + 500,
                "{who} {change:?}: still forwarded after the change"
            );
        }
        assert_eq!(summary["dropped"], 0, "route {change:?}: {summary}");
    }
}
