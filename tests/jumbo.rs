//! Jumbo frames through xskfwd in the veth lab at MTU 9000: packets
//! larger than a UMEM frame travel as chains of frames (AF_XDP
//! multi-buffer) and leave byte for byte as they would after the kernel's
//! forwarding; what exceeds the egress MTU goes to the kernel, which
//! answers with its own ICMP. Root only; labs are unique and removed on
//! drop; traffic is bounded.

mod common;

use std::collections::HashMap;
use std::net::IpAddr;
use std::thread;
use std::time::Duration;

use common::*;
use xskfwd_lab::lab::{self, Lab, LabInfo};
use xskfwd_lab::traffic::{self, FrameSpec, Receiver, RecvLimits, SendLimits, Sender};

const MTU: u32 = 9000;
/// The largest frame at MTU 9000.
const JUMBO: usize = 9014;

fn jumbo_lab(tag: &str) -> Lab {
    let spec = xskfwd_lab::demo::lab_spec(&lab::unique_prefix(tag), 1).mtu(MTU);
    Lab::up(spec).expect("lab up")
}

/// Frame lengths: full jumbo frames, then 1515..=9014 mixed (one-frame
/// packets and chains of two and three frames), some small ones.
fn lengths(n: usize, min: usize) -> Vec<usize> {
    (0..n)
        .map(|i| match i % 4 {
            0 => JUMBO,
            3 => min + i % 200,
            _ => 1515 + (i * 2_741) % (JUMBO - 1515 + 1),
        })
        .collect()
}

/// One direction's traffic: from `from` (netns, ifname) to `to`, frames of
/// `spec`'s addresses with the given lengths.
struct Flow<'a> {
    from: (&'a str, &'a str),
    to: (&'a str, &'a str),
    frames: Vec<Vec<u8>>,
}

/// Sends every flow's frames at once (one sender per flow) and returns
/// what each destination received of ours, by flow.
fn exchange(flows: &[Flow<'_>]) -> Vec<Vec<Vec<u8>>> {
    let receivers: Vec<_> = flows
        .iter()
        .map(|f| {
            let rx = Receiver::new(f.to.0, f.to.1).expect("receiver");
            let n = f.frames.len();
            thread::spawn(move || {
                rx.recv_ours(
                    RecvLimits::new(n, Duration::from_secs(30)).idle(Duration::from_millis(800)),
                )
            })
        })
        .collect();
    thread::sleep(Duration::from_millis(50));
    let senders: Vec<_> = flows
        .iter()
        .map(|f| {
            let (ns, ifname) = (f.from.0.to_string(), f.from.1.to_string());
            let frames = f.frames.clone();
            thread::spawn(move || {
                let tx = Sender::new(&ns, &ifname).expect("sender");
                let k = frames.len() as u64;
                let sent = tx
                    .send(
                        &frames,
                        SendLimits::new(k, Duration::from_secs(20)).rate(5_000),
                    )
                    .expect("send");
                assert_eq!(sent.sent, k, "every frame sent");
            })
        })
        .collect();
    for s in senders {
        s.join().expect("sender");
    }
    receivers
        .into_iter()
        .map(|r| {
            let got = r.join().unwrap().expect("receive");
            assert_eq!(got.kernel_drops, 0, "receiver overrun");
            got.frames
        })
        .collect()
}

/// Each received frame equals the expected one of its sequence number,
/// and each arrived once.
fn assert_exact(got: &[Vec<u8>], want: &[Vec<u8>], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: every frame, each once");
    let by_seq: HashMap<u64, &Vec<u8>> = want
        .iter()
        .map(|w| (traffic::parse_seq(w).expect("ours"), w))
        .collect();
    let mut seen = std::collections::HashSet::new();
    for g in got {
        let seq = traffic::verify_frame(g).expect("payload and checksums intact");
        assert!(seen.insert(seq), "{what}: frame {seq} twice");
        let w = by_seq[&seq];
        assert_eq!(g.len(), w.len(), "{what}: frame {seq} length");
        assert!(*g == **w, "{what}: frame {seq} ({} bytes) differs", w.len());
    }
}

/// Frames of `spec` with the given lengths; sequence numbers from `first`.
fn frames(spec: &FrameSpec, lens: &[usize], first: u64) -> (Vec<Vec<u8>>, Vec<FrameSpec>) {
    let specs: Vec<FrameSpec> = lens
        .iter()
        .map(|&l| FrameSpec {
            frame_len: l,
            ..spec.clone()
        })
        .collect();
    let built = specs
        .iter()
        .zip(first..)
        .map(|(s, seq)| traffic::build_frame(s, seq).unwrap())
        .collect();
    (built, specs)
}

/// The reverse direction's spec: dst0 to src0 through dut1.
fn back_spec(info: &LabInfo, v6: bool) -> FrameSpec {
    let (src, dst): (IpAddr, IpAddr) = if v6 {
        (info.dst0.ipv6.into(), info.src0.ipv6.into())
    } else {
        (info.dst0.ipv4.into(), info.src0.ipv4.into())
    };
    FrameSpec::udp(info.dst0.mac, info.dut1.mac, src, dst, 100)
}

/// Frames conserved, nothing dropped, and every packet counted once (not
/// once per UMEM frame of its chain): `frames` of ours, and `extra` at
/// most besides (pings).
fn summary_checks(summary: &serde_json::Value, frames: u64, extra: u64) {
    assert_eq!(
        summary["frames"]["conserved"], true,
        "{}",
        summary["frames"]
    );
    assert_eq!(summary["dropped"], 0, "{}", summary["drops"]);
    let (rx, tx) = (
        summary["rx_packets"].as_u64().unwrap(),
        summary["tx_packets"].as_u64().unwrap(),
    );
    assert_eq!(rx, tx);
    assert!(
        (frames..=frames + extra).contains(&rx),
        "{rx} packets for {frames} sent"
    );
}

#[test]
fn jumbo_frames_cross_l2_both_ways_byte_exact() {
    if !root_or_skip("jumbo_frames_cross_l2_both_ways_byte_exact") {
        return;
    }
    let lab = jumbo_lab("jl2");
    let info = lab.info().clone();
    let mut args = xskfwd_lab::demo::l2_run_args(&info);
    args.extend(["--stats", "json"].iter().map(|s| s.to_string()));
    let fwd = Running::start(&args, info.dut_ns(), "dut0");
    const N: usize = 400;
    let (out, _) = frames(&info.udp_spec(false, 100), &lengths(N, 60), 0);
    let (back, _) = frames(&back_spec(&info, true), &lengths(N, 78), 100_000);
    let got = exchange(&[
        Flow {
            from: (info.src_ns(), "src0"),
            to: (info.dst_ns(), "dst0"),
            frames: out.clone(),
        },
        Flow {
            from: (info.dst_ns(), "dst0"),
            to: (info.src_ns(), "src0"),
            frames: back.clone(),
        },
    ]);
    // L2: only the MACs change (to the next hop's and the port's own).
    let rewrite = |f: &[u8], dst: [u8; 6], src: [u8; 6]| {
        let mut w = f.to_vec();
        w[0..6].copy_from_slice(&dst);
        w[6..12].copy_from_slice(&src);
        w
    };
    let want_out: Vec<_> = out
        .iter()
        .map(|f| rewrite(f, info.dst0.mac, info.dut1.mac))
        .collect();
    let want_back: Vec<_> = back
        .iter()
        .map(|f| rewrite(f, info.src0.mac, info.dut0.mac))
        .collect();
    assert_exact(&got[0], &want_out, "src0 -> dst0");
    assert_exact(&got[1], &want_back, "dst0 -> src0");
    let summary = stop_and_summary(fwd);
    summary_checks(&summary, 2 * N as u64, 0);
}

#[test]
fn jumbo_frames_routed_both_ways_byte_exact_and_over_mtu_to_the_kernel() {
    if !root_or_skip("jumbo_frames_routed_both_ways_byte_exact_and_over_mtu_to_the_kernel") {
        return;
    }
    let lab = jumbo_lab("jl3");
    let info = lab.info().clone();
    let mut args = xskfwd_lab::demo::l3_run_args(&info);
    // Batches of two frames: every packet of three frames is cut by a
    // batch end and carried over to the next batch whole.
    args.extend(
        ["--stats", "json", "--batch", "2"]
            .iter()
            .map(|s| s.to_string()),
    );
    let fwd = Running::start(&args, info.dut_ns(), "dut0");
    assert!(
        ping(info.src_ns(), &info.dst0.ipv4.to_string()),
        "neighbours"
    );
    const N: usize = 200;
    let mut total = 0;
    for v6 in [false, true] {
        let min = if v6 { 78 } else { 60 };
        let (out, out_specs) = frames(&info.udp_spec(v6, 100), &lengths(N, min), 0);
        let (back, back_specs) = frames(&back_spec(&info, v6), &lengths(N, min), 100_000);
        let got = exchange(&[
            Flow {
                from: (info.src_ns(), "src0"),
                to: (info.dst_ns(), "dst0"),
                frames: out,
            },
            Flow {
                from: (info.dst_ns(), "dst0"),
                to: (info.src_ns(), "src0"),
                frames: back,
            },
        ]);
        // What the kernel's forwarding emits: new MACs, TTL / hop limit
        // one lower (IPv4 header checksum updated), the rest identical.
        let want_out: Vec<_> = out_specs
            .iter()
            .zip(0..)
            .map(|(s, seq)| traffic::build_frame(&info.routed(s).unwrap(), seq).unwrap())
            .collect();
        let want_back: Vec<_> = back_specs
            .iter()
            .zip(100_000..)
            .map(|(s, seq)| {
                let hop = s.forwarded(info.dut0.mac, info.src0.mac).unwrap();
                traffic::build_frame(&hop, seq).unwrap()
            })
            .collect();
        let fam = if v6 { "IPv6" } else { "IPv4" };
        assert_exact(&got[0], &want_out, &format!("{fam} src0 -> dst0"));
        assert_exact(&got[1], &want_back, &format!("{fam} dst0 -> src0"));
        total += 2 * N as u64;
    }

    // A jumbo frame with bytes beyond its IP packet: the kernel trims and
    // forwards it, so xskfwd passes it to the kernel (it would have to cut
    // the chain): what arrives is the trimmed packet, routed.
    let spec = info.udp_spec(false, JUMBO - 10);
    let mut padded = traffic::build_frame(&spec, 7_777).unwrap();
    padded.extend_from_slice(&[0xa5; 10]);
    let got = exchange(&[Flow {
        from: (info.src_ns(), "src0"),
        to: (info.dst_ns(), "dst0"),
        frames: vec![padded],
    }]);
    let want = traffic::build_frame(&info.routed(&spec).unwrap(), 7_777).unwrap();
    assert_exact(&got[0], &[want], "padded jumbo frame");

    // dut1 at MTU 4000: a 9000-byte packet with DF (and every IPv6 one) is
    // the kernel's, which sends Fragmentation Needed / Packet Too Big with
    // dut1's MTU, as without xskfwd.
    ip(info.dut_ns(), &["link", "set", "dut1", "mtu", "4000"]);
    thread::sleep(Duration::from_millis(300));
    for (v6, dst, size, said) in [
        (false, info.dst0.ipv4.to_string(), "8972", "mtu = 4000"),
        (true, info.dst0.ipv6.to_string(), "8952", "mtu=4000"),
    ] {
        let mut a = vec!["ping"];
        if v6 {
            a.push("-6");
        }
        a.extend(["-c", "1", "-W", "2", "-M", "do", "-s", size, &dst]);
        let out = std::process::Command::new("ip")
            .args(["netns", "exec", info.src_ns()])
            .args(&a)
            .output()
            .expect("ping");
        let text = String::from_utf8_lossy(&out.stdout).to_string()
            + &String::from_utf8_lossy(&out.stderr);
        assert!(
            text.to_lowercase().contains(said),
            "the kernel's ICMP error with dut1's MTU ({said}): {text}"
        );
    }
    let summary = stop_and_summary(fwd);
    summary_checks(&summary, total, 10);
    assert_eq!(
        xdp_total(&summary, "pass_mtu"),
        2,
        "both over-MTU packets went to the kernel"
    );
    assert_eq!(
        xdp_total(&summary, "pass_padded"),
        1,
        "the padded frame went to the kernel"
    );
}
