//! End-to-end tests: the real xskfwd binary forwarding between network
//! namespaces of a throwaway veth lab. Root only (they skip, saying so,
//! otherwise). Every lab has a unique name and is removed on drop; every
//! xskfwd child is killed on drop; all traffic is bounded.

mod common;

use std::collections::HashMap;
use std::thread;
use std::time::Duration;

use common::*;
use xskfwd_lab::lab::LabInfo;
use xskfwd_lab::traffic::{self, FrameSpec, Receiver, RecvLimits, SendLimits, Sender};

const SIZES: [usize; 6] = [60, 64, 128, 512, 1000, 1514];
const N: u64 = 10_002;
/// Modest, so no layer drops for lack of CPU: this checks correctness,
/// the benchmarks measure speed.
const RATE: u64 = 25_000;

fn run_args(info: &LabInfo, extra: &[&str]) -> Vec<String> {
    let mut v = xskfwd_lab::demo::l2_run_args(info);
    v.extend(extra.iter().map(|s| s.to_string()));
    v
}

/// Sends N frames of every size in SIZES from `from` and checks that each
/// arrives at `to` exactly once, byte-exact except the rewritten MACs.
fn send_and_check(
    info: &LabInfo,
    (from_ns, from_if, spec): (&str, &str, FrameSpec),
    (to_ns, to_if): (&str, &str),
    (new_src, new_dst): ([u8; 6], [u8; 6]),
) {
    let mut frames = Vec::new();
    for i in 0..N {
        let mut s = spec.clone();
        s.frame_len = SIZES[(i as usize) % SIZES.len()].max(s.min_len());
        frames.push(traffic::build_frame(&s, i).expect("frame"));
    }
    let rx = Receiver::new(to_ns, to_if).expect("receiver");
    let tx = Sender::new(from_ns, from_if).expect("sender");
    let collector = thread::spawn(move || {
        rx.recv_ours(
            RecvLimits::new(N as usize, Duration::from_secs(30)).idle(Duration::from_secs(3)),
        )
    });
    let report = tx
        .send(
            &frames,
            SendLimits::new(N, Duration::from_secs(20)).rate(RATE),
        )
        .expect("send");
    assert_eq!(report.sent, N, "the sender was bounded by time, not count");
    let got = collector.join().expect("collector").expect("receive");
    let mut seen: HashMap<u64, usize> = HashMap::new();
    for f in &got.frames {
        let seq = traffic::verify_frame(f).expect("payload and checksums intact");
        *seen.entry(seq).or_default() += 1;
        let sent = &frames[seq as usize];
        assert_eq!(f.len(), sent.len(), "frame {seq}: length changed");
        assert_eq!(&f[0..6], &new_dst, "frame {seq}: destination MAC");
        assert_eq!(&f[6..12], &new_src, "frame {seq}: source MAC");
        assert_eq!(
            &f[12..],
            &sent[12..],
            "frame {seq}: bytes after the MACs changed"
        );
    }
    let missing: Vec<u64> = (0..N).filter(|s| !seen.contains_key(s)).take(10).collect();
    assert!(
        missing.is_empty(),
        "{} of {N} frames missing (first: {missing:?}); kernel drops at the receiver: {} ({})",
        N as usize - seen.len(),
        got.kernel_drops,
        info.prefix
    );
    assert!(seen.values().all(|n| *n == 1), "a frame arrived twice");
}

#[test]
fn l2_forwards_every_frame_byte_exact_both_ways_and_exits_clean() {
    if !root_or_skip("l2_forwards_every_frame_byte_exact_both_ways_and_exits_clean") {
        return;
    }
    let lab = lab("l2");
    let info = lab.info().clone();
    let fwd = Running::start(
        &run_args(&info, &["--stats", "json", "--stats-interval", "0.25"]),
        info.dut_ns(),
        "dut0",
    );

    // src -> dst: leaves dut1 re-originated by dut1 towards dst0.
    send_and_check(
        &info,
        (info.src_ns(), "src0", info.udp_spec(false, 60)),
        (info.dst_ns(), "dst0"),
        (info.dut1.mac, info.dst0.mac),
    );
    // dst -> src over IPv6 this time.
    let back = FrameSpec::udp(
        info.dst0.mac,
        info.dut1.mac,
        info.dst0.ipv6.into(),
        info.src0.ipv6.into(),
        74,
    );
    send_and_check(
        &info,
        (info.dst_ns(), "dst0", back),
        (info.src_ns(), "src0"),
        (info.dut0.mac, info.src0.mac),
    );

    // A single echo request each way gets through (partial batches flush).
    assert!(
        ping(info.src_ns(), &info.dst0.ipv4.to_string()),
        "ping src -> dst"
    );
    assert!(
        ping(info.dst_ns(), &info.src0.ipv4.to_string()),
        "ping dst -> src"
    );

    let out = fwd.signal_and_wait(libc::SIGTERM);
    assert!(
        out.status.success(),
        "exit {:?}\n{}",
        out.status,
        out.stderr
    );
    let summary = last_json(&out.stdout, "summary");
    assert_eq!(summary["frames"]["conserved"], true, "{summary}");
    assert_eq!(summary["frames"]["in_flight"], 0, "{summary}");
    assert_eq!(summary["dropped"], 0, "{summary}");
    // Our 2N frames plus the two echo exchanges (4 frames), and nothing else
    // flows in the quiet lab: the counters match what was delivered.
    let rx = summary["rx_packets"].as_u64().unwrap();
    let tx = summary["tx_packets"].as_u64().unwrap();
    assert_eq!(rx, tx, "{summary}");
    assert!((2 * N + 4..=2 * N + 16).contains(&rx), "rx {rx}: {summary}");
    let ports = summary["ports"].as_array().unwrap();
    assert_eq!(ports[0]["ifname"], "dut0");
    assert!(ports[0]["rx_packets"].as_u64().unwrap() >= N + 2);
    assert!(ports[1]["tx_packets"].as_u64().unwrap() >= N + 2);
    // Interval lines are well-formed and show the XDP program's redirects.
    let interval = last_json(&out.stdout, "interval");
    assert!(interval["xdp"][0]["redirect"].as_u64().unwrap() >= N);
    assert_dut_clean(info.dut_ns());
}

#[test]
fn hairpin_returns_frames_with_swapped_macs() {
    if !root_or_skip("hairpin_returns_frames_with_swapped_macs") {
        return;
    }
    let lab = lab("hp");
    let info = lab.info().clone();
    let fwd = Running::start(
        &[
            "run".into(),
            "--netns".into(),
            info.dut_ns().into(),
            "dut0".into(),
            "--hairpin".into(),
            "--stats".into(),
            "json".into(),
        ],
        info.dut_ns(),
        "dut0",
    );
    // Out of src0 and straight back in, MACs swapped.
    send_and_check(
        &info,
        (info.src_ns(), "src0", info.udp_spec(false, 60)),
        (info.src_ns(), "src0"),
        (info.dut0.mac, info.src0.mac),
    );
    let out = fwd.signal_and_wait(libc::SIGINT);
    assert!(out.status.success(), "{}", out.stderr);
    assert_eq!(
        last_json(&out.stdout, "summary")["frames"]["conserved"],
        true
    );
    assert_dut_clean(info.dut_ns());
}

/// The interface's promiscuity count (`ip -d link`).
fn promiscuity(ns: &str, ifname: &str) -> u32 {
    let out = ip(ns, &["-d", "link", "show", ifname]);
    out.split_whitespace()
        .skip_while(|w| *w != "promiscuity")
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no promiscuity in {out}"))
}

#[test]
fn sigkill_mid_traffic_leaves_nothing_attached_and_kernel_path_works() {
    if !root_or_skip("sigkill_mid_traffic_leaves_nothing_attached_and_kernel_path_works") {
        return;
    }
    let lab = lab("kill");
    let info = lab.info().clone();
    let fwd = Running::start(
        &run_args(&info, &["--stats", "none"]),
        info.dut_ns(),
        "dut0",
    );
    let frames = traffic::build_frames(&info.udp_spec(false, 60), 256).unwrap();
    let tx = Sender::new(info.src_ns(), "src0").unwrap();
    let blaster =
        thread::spawn(move || tx.send(&frames, SendLimits::new(2_000_000, Duration::from_secs(2))));
    thread::sleep(Duration::from_millis(500));
    // L2 takes frames for any MAC: its ports are promiscuous meanwhile
    // (a NIC would filter them out otherwise; the VM lab's virtio-net did).
    for port in ["dut0", "dut1"] {
        assert_eq!(
            promiscuity(info.dut_ns(), port),
            1,
            "{port} while forwarding"
        );
    }
    let out = fwd.signal_and_wait(libc::SIGKILL);
    assert_eq!(out.status.code(), None, "killed by a signal");
    blaster.join().unwrap().unwrap();
    // The bpf_link died with the process: nothing is attached, and the
    // kernel dropped its hold on promiscuous mode...
    assert_dut_clean(info.dut_ns());
    for port in ["dut0", "dut1"] {
        assert_eq!(promiscuity(info.dut_ns(), port), 0, "{port} after SIGKILL");
    }
    // ...and the kernel forwards again (the lab enables IP forwarding).
    assert!(
        ping(info.src_ns(), &info.dst0.ipv4.to_string()),
        "kernel path after SIGKILL"
    );
    // A new xskfwd starts cleanly on the same ports.
    let again = Running::start(
        &run_args(&info, &["--stats", "none"]),
        info.dut_ns(),
        "dut0",
    );
    let out = again.signal_and_wait(libc::SIGTERM);
    assert!(out.status.success(), "{}", out.stderr);
    assert_dut_clean(info.dut_ns());
    assert_eq!(promiscuity(info.dut_ns(), "dut0"), 0, "after SIGTERM");
}

/// Runs xskfwd to completion with `args` (bounded) and returns (code, stderr).
fn run_to_end(args: &[String]) -> (Option<i32>, String) {
    let out = Running::spawn(args).wait(Duration::from_secs(30));
    assert!(!out.timed_out, "xskfwd hung on bad input: {args:?}");
    (out.status.code(), out.stderr)
}

#[test]
fn bad_input_fails_clearly_and_leaves_nothing_attached() {
    if !root_or_skip("bad_input_fails_clearly_and_leaves_nothing_attached") {
        return;
    }
    let lab = lab("bad");
    let info = lab.info().clone();
    let ns = info.dut_ns().to_string();
    let base = |ports: &[&str], extra: &[&str]| -> Vec<String> {
        let mut v: Vec<String> = vec!["run".into(), "--netns".into(), ns.clone()];
        v.extend(ports.iter().map(|s| s.to_string()));
        v.extend(extra.iter().map(|s| s.to_string()));
        v.extend(["--duration".into(), "2".into()]);
        v
    };
    let cases: Vec<(Vec<String>, &str)> = vec![
        (base(&["dut0", "nosuch0"], &[]), "nosuch0 not found"),
        (
            base(&["dut0", "dut1"], &["--rx-size", "1000"]),
            "power of two",
        ),
        (
            base(&["dut0", "dut1"], &["--bind", "zero-copy"]),
            "zero-copy",
        ),
        (
            base(&["dut0", "dut1"], &["--queues", "5"]),
            "queue 5 does not exist",
        ),
        (
            base(
                &["dut0", "dut1"],
                &["--frame-size", "2048", "--frames", "10"],
            ),
            "too small",
        ),
        (
            base(&["dut0", "dut1"], &["--frame-size", "8192"]),
            "--frame-size 8192: an AF_XDP UMEM frame is at most one page (4096 bytes) here",
        ),
        (
            base(&["dut0", "dut1"], &["--cpus", "0,99999"]),
            "--cpus: CPU 99999 is not one this process may run on",
        ),
        (
            base(&["dut0", "dut1"], &["--user", "no-such-user-xf"]),
            "no user no-such-user-xf",
        ),
        (
            vec![
                "run".into(),
                "--netns".into(),
                "xf-no-such-ns".into(),
                "a".into(),
                "b".into(),
            ],
            "xf-no-such-ns",
        ),
    ];
    for (args, expect) in cases {
        let (code, stderr) = run_to_end(&args);
        assert_eq!(code, Some(1), "{args:?}: {stderr}");
        assert!(
            stderr.contains(expect),
            "{args:?}: expected '{expect}' in: {stderr}"
        );
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "one clear line: {stderr}");
        assert_dut_clean(&ns);
    }
    // A foreign XDP program is never removed: attach the lab's pass program
    // to dut1 and try to run there.
    xskfwd::netns::in_netns(&ns, || {
        let idx = xskfwd::netns::ifindex("dut1").unwrap();
        xskfwd::bpf::attach_persistent(idx, xskfwd::bpf::Builtin::Pass).unwrap();
    })
    .unwrap();
    let (code, stderr) = run_to_end(&base(&["dut0", "dut1"], &[]));
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("xskfwd_pass") && stderr.contains("xdp off"),
        "{stderr}"
    );
    assert_eq!(
        xdp_prog(&ns, "dut1").as_deref(),
        Some("xskfwd_pass"),
        "still there"
    );
    assert_eq!(xdp_prog(&ns, "dut0"), None, "dut0 was released again");
}

#[test]
fn a_stale_xskfwd_program_is_reported_and_replaced() {
    if !root_or_skip("a_stale_xskfwd_program_is_reported_and_replaced") {
        return;
    }
    let lab = lab("stale");
    let info = lab.info().clone();
    let ns = info.dut_ns().to_string();
    xskfwd::netns::in_netns(&ns, || {
        let idx = xskfwd::netns::ifindex("dut0").unwrap();
        xskfwd::bpf::attach_persistent(idx, xskfwd::bpf::Builtin::Forwarder).unwrap();
    })
    .unwrap();
    assert_eq!(
        xdp_prog(&ns, "dut0").as_deref(),
        Some(xskfwd::bpf::PROG_NAME)
    );
    let fwd = Running::start(&run_args(&info, &["--stats", "none"]), &ns, "dut1");
    assert!(
        ping(info.src_ns(), &info.dst0.ipv4.to_string()),
        "forwarding after the replacement"
    );
    let out = fwd.signal_and_wait(libc::SIGTERM);
    assert!(out.status.success(), "{}", out.stderr);
    assert!(
        out.stderr.contains("removed a stale xskfwd XDP program"),
        "{}",
        out.stderr
    );
    assert_dut_clean(&ns);
}
