//! Multi-queue in the veth lab: two queues per veth, traffic spread over
//! them (a veth delivers a frame on the receive queue matching the
//! sender's transmit queue; a packet socket transmits on the queue of the
//! CPU it runs on, so one sender pinned per CPU), one xskfwd worker per
//! queue. Root only; labs are unique and removed on
//! drop; traffic is bounded.

mod common;

use std::collections::HashSet;
use std::thread;
use std::time::Duration;

use common::*;
use xskfwd_lab::lab::{self, Lab, LabInfo};
use xskfwd_lab::traffic::{self, Receiver, RecvLimits, SendLimits, Sender};

fn mq_lab(tag: &str) -> Lab {
    Lab::up(xskfwd_lab::demo::lab_spec(&lab::unique_prefix(tag), 2)).expect("lab up")
}

/// Sends `n` UDP frames of mixed sizes in `flows` flows from src0 and
/// returns what dst0 received of them (each once, payload intact).
fn send_flows(info: &LabInfo, n: u64, flows: u16) -> Vec<Vec<u8>> {
    let mut frames = Vec::new();
    for seq in 0..n {
        let mut spec = info.udp_spec(false, 60 + (seq as usize * 53) % 1400);
        spec.src_port = 40000 + (seq % u64::from(flows)) as u16;
        frames.push(traffic::build_frame(&spec, seq).unwrap());
    }
    let rx = Receiver::new(info.dst_ns(), "dst0").expect("receiver");
    let collector = thread::spawn(move || {
        rx.recv_ours(
            RecvLimits::new(n as usize, Duration::from_secs(30)).idle(Duration::from_millis(800)),
        )
    });
    // A packet socket transmits on the queue of the CPU it runs on: one
    // sender pinned to each of two CPUs, each with half of the frames.
    let cpus = core_affinity::get_core_ids().expect("CPUs");
    assert!(cpus.len() >= 2, "two CPUs to spread over two queues");
    let senders: Vec<_> = [0usize, 1]
        .into_iter()
        .map(|i| {
            let half: Vec<Vec<u8>> = frames.iter().skip(i).step_by(2).cloned().collect();
            let cpu = cpus[i];
            let ns = info.src_ns().to_string();
            thread::spawn(move || {
                assert!(core_affinity::set_for_current(cpu), "pin the sender");
                let tx = Sender::new(&ns, "src0").expect("sender");
                let k = half.len() as u64;
                let sent = tx
                    .send(
                        &half,
                        SendLimits::new(k, Duration::from_secs(20)).rate(10_000),
                    )
                    .expect("send");
                assert_eq!(sent.sent, k);
            })
        })
        .collect();
    for s in senders {
        s.join().expect("sender");
    }
    let got = collector.join().unwrap().expect("receive");
    let mut seen = HashSet::new();
    for f in &got.frames {
        let seq = traffic::verify_frame(f).expect("payload intact");
        assert!(seen.insert(seq), "frame {seq} twice");
    }
    got.frames
}

/// rx_packets of `ifname` on `queue` in the summary.
fn queue_rx(summary: &serde_json::Value, ifname: &str, queue: u64) -> u64 {
    summary["ports"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["ifname"] == ifname && p["queue"] == queue)
        .map(|p| p["rx_packets"].as_u64().unwrap())
        .sum()
}

#[test]
fn two_queues_two_workers_every_frame_byte_exact_each_queue_conserved() {
    if !root_or_skip("two_queues_two_workers_every_frame_byte_exact_each_queue_conserved") {
        return;
    }
    let lab = mq_lab("mq2");
    let info = lab.info().clone();
    let mut args = xskfwd_lab::demo::l2_run_args(&info);
    args.extend(
        ["--queues", "0,1", "--cpus", "0,1", "--stats", "json"]
            .iter()
            .map(|s| s.to_string()),
    );
    let fwd = Running::start(&args, info.dut_ns(), "dut0");
    const N: u64 = 4000;
    let got = send_flows(&info, N, 16);
    assert_eq!(got.len() as u64, N, "every frame, each once");
    for f in &got {
        assert_eq!(&f[0..6], &info.dst0.mac, "next hop's MAC");
        assert_eq!(&f[6..12], &info.dut1.mac, "dut1's own");
    }
    let summary = stop_and_summary(fwd);
    let (q0, q1) = (queue_rx(&summary, "dut0", 0), queue_rx(&summary, "dut0", 1));
    eprintln!("dut0 queue 0: {q0} frames, queue 1: {q1}");
    assert!(q0 > 0 && q1 > 0, "both queues carried traffic: {q0} / {q1}");
    assert!(q0 + q1 >= N);
    for acc in summary["frames_per_queue"].as_array().unwrap() {
        assert_eq!(acc["conserved"], true, "{acc}");
    }
    assert_eq!(summary["frames"]["conserved"], true);
}

#[test]
fn a_queue_without_an_xskfwd_socket_still_reaches_the_kernel() {
    if !root_or_skip("a_queue_without_an_xskfwd_socket_still_reaches_the_kernel") {
        return;
    }
    let lab = mq_lab("mq1");
    let info = lab.info().clone();
    // L3, so xskfwd's frames and the kernel's are the same bytes; xskfwd
    // serves queue 0 only.
    let mut args = xskfwd_lab::demo::l3_run_args(&info);
    args.extend(
        ["--queues", "0", "--stats", "json"]
            .iter()
            .map(|s| s.to_string()),
    );
    let fwd = Running::start(&args, info.dut_ns(), "dut0");
    assert!(
        ping(info.src_ns(), &info.dst0.ipv4.to_string()),
        "neighbours"
    );
    const N: u64 = 2000;
    let got = send_flows(&info, N, 16);
    assert_eq!(
        got.len() as u64,
        N,
        "every frame, by xskfwd or by the kernel"
    );
    let summary = stop_and_summary(fwd);
    let by_xskfwd = queue_rx(&summary, "dut0", 0);
    let to_kernel = xdp_total(&summary, "pass_no_socket");
    eprintln!("queue 0 (xskfwd): {by_xskfwd}; queue 1 passed to the kernel: {to_kernel}");
    assert!(by_xskfwd > 0, "xskfwd forwarded queue 0's flows");
    assert!(to_kernel > 0, "queue 1's flows went to the kernel");
    assert_eq!(summary["frames"]["conserved"], true);
}
