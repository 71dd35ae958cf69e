//! The benchmark tools end to end, in throwaway veth labs: the live-frames
//! generator on src0 sending into a sink on dut0 (count and check modes),
//! the AF_XDP generator engine, the test-only skip hook, and the in-kernel
//! XDP redirect path to dst0. Also the generator program's stamping
//! against userspace's, byte for byte. Root only (skips, saying so,
//! otherwise); every lab, sink and attachment is removed on drop.

use xskfwd_lab::harness as common;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use etherparse::{NetSlice, SlicedPacket, TransportSlice};
use xskfwd::config::{BindMode, XdpMode};
use xskfwd::netns;
use xskfwd_lab::bpf_tools::{GenProg, Tool, ToolProg, XdpLink};
use xskfwd_lab::gen::{self, Engine, FrameSize, GenConfig, Plan, StopReason};
use xskfwd_lab::lab::LabInfo;
use xskfwd_lab::sink::{parse_stamp, Sink, SinkConfig, SinkMode};
use xskfwd_lab::traffic::{Receiver, RecvLimits};

const N: u64 = 50_000;
const RATE: u64 = 100_000;

/// Generator config: src0 -> dst0 through dut0, from the lab's source host.
fn gen_cfg(info: &LabInfo, v6: bool, size: FrameSize) -> GenConfig {
    let mut cfg = GenConfig::new("src0", info.udp_spec(v6, 128));
    cfg.netns = Some(info.src_ns().to_string());
    cfg.size = size;
    cfg.count = N;
    cfg.rate_pps = Some(RATE);
    cfg.duration = Duration::from_secs(20);
    // veth runs the peer's receive (NAPI) on the sender's CPU; a pinned
    // generator keeps it there (see xskfwd::gen).
    cfg.cpu = Some(0);
    cfg
}

fn sink_cfg(info: &LabInfo, mode: SinkMode, expect: Option<u64>) -> SinkConfig {
    let mut cfg = SinkConfig::new("dut0", mode);
    cfg.netns = Some(info.dut_ns().to_string());
    cfg.duration = Duration::from_secs(30);
    cfg.idle = Some(Duration::from_secs(2));
    cfg.expect = expect;
    cfg.xdp_mode = XdpMode::Native;
    cfg.bind = BindMode::Copy;
    cfg
}

#[test]
fn gen_program_stamps_exactly_what_userspace_would() {
    if !common::root_or_skip("gen_program_stamps_exactly_what_userspace_would") {
        return;
    }
    let a = [2, 0, 0, 0, 0, 1];
    let b = [2, 0, 0, 0, 0, 2];
    for v6 in [false, true] {
        let (s, d): (std::net::IpAddr, std::net::IpAddr) = if v6 {
            (
                "fd00:0:0:1::1"
                    .parse::<std::net::Ipv6Addr>()
                    .unwrap()
                    .into(),
                "fd00:0:0:2::1"
                    .parse::<std::net::Ipv6Addr>()
                    .unwrap()
                    .into(),
            )
        } else {
            (
                std::net::Ipv4Addr::new(198, 18, 0, 1).into(),
                std::net::Ipv4Addr::new(198, 18, 1, 1).into(),
            )
        };
        let spec = xskfwd_lab::traffic::FrameSpec::udp(a, b, s, d, 128);
        for (size, flows) in [
            (FrameSize::Fixed(128), 1),
            (FrameSize::Fixed(1514), 5),
            (FrameSize::Imix, 3),
        ] {
            let plan = Plan::new(&spec, size, flows, 1500).unwrap();
            let prog = GenProg::load(plan.params()).unwrap();
            // 30 numbers, 17 skipped: 29 frames, then nothing.
            prog.arm(30, Some(17)).unwrap();
            let mut out = vec![0u8; 2048];
            let mut seqs = Vec::new();
            loop {
                let r = prog.run_once(plan.template(), &mut out).unwrap();
                if r.retval != 3 {
                    assert_eq!(r.retval, 1, "XDP_DROP after the limit");
                    break;
                }
                let frame = &out[..r.data_len];
                let (seq, ts) = parse_stamp(frame).expect("a stamped frame");
                let mut want = plan.template().to_vec();
                let len = plan.stamp(&mut want, seq, ts);
                assert_eq!(frame, &want[..len], "v6={v6} {size:?} seq {seq}");
                seqs.push(seq);
                assert!(seqs.len() <= 30, "the limit did not stop the program");
            }
            let expected: Vec<u64> = (0..30).filter(|&s| s != 17).collect();
            assert_eq!(seqs, expected);
            let c = prog.counters().unwrap();
            assert_eq!((c.sent, c.over, c.errors), (29, 1, 0));
            assert_eq!(
                c.bytes,
                expected
                    .iter()
                    .map(|&s| plan.frame_len(s) as u64)
                    .sum::<u64>()
            );
            assert_eq!(prog.next_seq().unwrap(), 30);
        }
    }
}

#[test]
fn live_generator_into_count_sink_is_exact() {
    if !common::root_or_skip("live_generator_into_count_sink_is_exact") {
        return;
    }
    let lab = common::lab("gencount");
    let info = lab.info().clone();
    let sink = Sink::start(sink_cfg(&info, SinkMode::Count, Some(N))).unwrap();
    assert_eq!(
        common::xdp_prog(info.dut_ns(), "dut0").as_deref(),
        Some("xskfwd_sink")
    );
    let report = gen::run(&gen_cfg(&info, false, FrameSize::Fixed(64))).unwrap();
    eprintln!("{report:?}");
    assert_eq!(report.sent, N);
    assert_eq!(report.bytes, N * 64);
    assert_eq!(report.stopped_by, StopReason::Count);
    // (No timing assertion: the rate is a benchmark figure, not a test.)
    eprintln!("50k frames in {:?}", report.elapsed);
    let snap = sink.wait();
    let r = sink.stop().unwrap();
    eprintln!("{r:?}");
    // The sink counts every frame dut0 receives; the kernel on src0 may
    // add a stray frame of its own (e.g. a 90-byte IPv6 MLD report), which
    // is never 64 bytes long. Every generated frame must be there, once.
    let stray = r.packets - N.min(r.packets);
    assert!(snap.packets >= N, "{snap:?}");
    assert!(stray <= 3, "{stray} frames beyond the {N} generated");
    assert!(r.bytes >= N * 64 && r.bytes - N * 64 >= stray * 60, "{r:?}");
    assert_eq!(r.counters.dropped, r.packets);
    assert_eq!(
        common::xdp_prog(info.dut_ns(), "dut0"),
        None,
        "sink left attached"
    );
}

#[test]
fn check_sink_sees_no_loss_then_exactly_the_skipped_number() {
    if !common::root_or_skip("check_sink_sees_no_loss_then_exactly_the_skipped_number") {
        return;
    }
    let lab = common::lab("gencheck");
    let info = lab.info().clone();
    for skip in [None, Some(1234)] {
        let sink = Sink::start(sink_cfg(&info, SinkMode::Check, Some(N))).unwrap();
        let mut cfg = gen_cfg(&info, false, FrameSize::Fixed(128));
        cfg.skip_seq = skip;
        let report = gen::run(&cfg).unwrap();
        let want = if skip.is_some() { N - 1 } else { N };
        assert_eq!(report.sent, want, "{report:?}");
        sink.wait();
        let r = sink.stop().unwrap();
        let c = r.check.expect("check report");
        eprintln!("skip {skip:?}: {c:?}");
        assert_eq!(r.packets, want);
        assert_eq!(c.received, want);
        assert_eq!(c.seq.unique, want);
        assert_eq!(c.seq.lost, N - want);
        assert_eq!(c.seq.duplicates, 0);
        assert_eq!(c.seq.reordered, 0);
        assert_eq!((c.seq.late, c.seq.out_of_range, c.not_ours), (0, 0, 0));
        assert_eq!(c.seq.highest, Some(N - 1));
        assert_eq!(c.latency.samples, want);
        assert_eq!(c.negative_latency, 0);
        assert!(c.latency.min_ns <= c.latency.p50_ns);
        assert!(c.latency.p50_ns <= c.latency.p90_ns && c.latency.p90_ns <= c.latency.p99_ns);
        assert!(c.latency.p99_ns <= c.latency.max_ns);
        // One host, one clock: one-way latency is positive and below a second.
        assert!(c.latency.max_ns < 1_000_000_000, "{:?}", c.latency);
        assert_eq!(c.xsk.rx_ring_full, 0);
        assert_eq!(common::xdp_prog_settled(info.dut_ns(), "dut0"), None);
    }
}

#[test]
fn xsk_engine_sends_exactly_count_imix() {
    if !common::root_or_skip("xsk_engine_sends_exactly_count_imix") {
        return;
    }
    const M: u64 = 20_000;
    let lab = common::lab("genxsk");
    let info = lab.info().clone();
    let sink = Sink::start(sink_cfg(&info, SinkMode::Check, Some(M))).unwrap();
    let mut cfg = gen_cfg(&info, true, FrameSize::Imix);
    cfg.engine = Engine::Xsk;
    cfg.count = M;
    cfg.flows = 4;
    let report = gen::run(&cfg).unwrap();
    eprintln!("{report:?}");
    assert_eq!((report.sent, report.unconfirmed), (M, 0));
    assert_eq!(report.frame_sizes, vec![82, 570, 1514]);
    let plan = Plan::new(&cfg.frame, cfg.size, cfg.flows, 1500).unwrap();
    assert_eq!(
        report.bytes,
        (0..M).map(|s| plan.frame_len(s) as u64).sum::<u64>()
    );
    sink.wait();
    let r = sink.stop().unwrap();
    let c = r.check.unwrap();
    assert_eq!((r.packets, r.bytes), (M, report.bytes));
    assert_eq!((c.seq.unique, c.seq.lost, c.seq.duplicates), (M, 0, 0));
}

#[test]
fn generator_stops_at_its_duration() {
    if !common::root_or_skip("generator_stops_at_its_duration") {
        return;
    }
    let lab = common::lab("gendur");
    let info = lab.info().clone();
    let sink = Sink::start(sink_cfg(&info, SinkMode::Count, None)).unwrap();
    for engine in [Engine::Live, Engine::Xsk] {
        let mut cfg = gen_cfg(&info, false, FrameSize::Fixed(64));
        cfg.engine = engine;
        cfg.count = u64::MAX;
        cfg.rate_pps = None;
        cfg.duration = Duration::from_millis(300);
        let t = Instant::now();
        let report = gen::run(&cfg).unwrap();
        let took = t.elapsed();
        eprintln!("{engine:?}: {report:?} in {took:?}");
        assert_eq!(report.stopped_by, StopReason::Duration);
        assert!(report.sent > 0);
        assert!(took < Duration::from_millis(1500), "{took:?}");
    }
    let r = sink.stop().unwrap();
    assert!(r.packets > 0);
}

/// Runs `f` in the dut namespace (attaching there).
fn attach_in_dut(info: &LabInfo, prog: &ToolProg, ifname: &'static str) -> XdpLink {
    netns::in_netns(info.dut_ns(), || {
        prog.attach(netns::ifindex(ifname).unwrap(), XdpMode::Native)
    })
    .unwrap()
    .unwrap()
}

#[test]
fn xdp_redirect_forwards_like_a_router() {
    if !common::root_or_skip("xdp_redirect_forwards_like_a_router") {
        return;
    }
    const M: u64 = 3_000;
    let lab = common::lab("genredir");
    let info = lab.info().clone();
    let prog = ToolProg::load(Tool::Redirect).unwrap();
    let links = [
        attach_in_dut(&info, &prog, "dut0"),
        attach_in_dut(&info, &prog, "dut1"),
    ];
    for (v6, size) in [(false, FrameSize::Fixed(128)), (true, FrameSize::Imix)] {
        let rx = Receiver::new(info.dst_ns(), "dst0").unwrap();
        let before = prog.counters().unwrap();
        let mut cfg = gen_cfg(&info, v6, size);
        cfg.count = M;
        cfg.flows = 3;
        cfg.rate_pps = Some(30_000);
        let report = gen::run(&cfg).unwrap();
        assert_eq!(report.sent, M);
        let got = rx
            .recv_ours(RecvLimits::new(M as usize, Duration::from_secs(10)))
            .unwrap();
        assert_eq!(got.frames.len() as u64, M, "v6={v6}");
        let after = prog.counters().unwrap();
        assert_eq!(after.redirected - before.redirected, M, "v6={v6}");
        let mut seqs = BTreeSet::new();
        for f in &got.frames {
            let (seq, _) = parse_stamp(f).unwrap();
            assert!(seqs.insert(seq));
            assert_eq!(&f[0..6], &info.dst0.mac, "destination MAC from the FIB");
            assert_eq!(&f[6..12], &info.dut1.mac, "source MAC from the FIB");
            let p = SlicedPacket::from_ethernet(f).unwrap();
            let Some(TransportSlice::Udp(udp)) = &p.transport else {
                panic!("not UDP")
            };
            let uh = udp.to_header();
            match &p.net {
                Some(NetSlice::Ipv4(ip)) => {
                    let h = ip.header().to_header();
                    assert_eq!(h.time_to_live, 63);
                    assert_eq!(h.header_checksum, h.calc_header_checksum());
                    assert_eq!(
                        uh.checksum,
                        uh.calc_checksum_ipv4(&h, udp.payload()).unwrap()
                    );
                }
                Some(NetSlice::Ipv6(ip)) => {
                    let h = ip.header().to_header();
                    assert_eq!(h.hop_limit, 63);
                    assert_eq!(
                        uh.checksum,
                        uh.calc_checksum_ipv6(&h, udp.payload()).unwrap()
                    );
                }
                _ => panic!("not IP"),
            }
        }
        assert_eq!(seqs.len() as u64, M);
    }
    drop(links);
    common::assert_dut_clean(info.dut_ns());
}

#[test]
fn sinks_detach_on_stop_drop_and_failure() {
    if !common::root_or_skip("sinks_detach_on_stop_drop_and_failure") {
        return;
    }
    let lab = common::lab("gensinkdrop");
    let info = lab.info().clone();
    for mode in [SinkMode::Count, SinkMode::Check] {
        let sink = Sink::start(sink_cfg(&info, mode, None)).unwrap();
        assert_eq!(
            common::xdp_prog(info.dut_ns(), "dut0").as_deref(),
            Some("xskfwd_sink")
        );
        drop(sink);
        assert_eq!(
            common::xdp_prog_settled(info.dut_ns(), "dut0"),
            None,
            "{mode:?}"
        );
        // No such interface: an error, and nothing attached anywhere.
        let mut cfg = sink_cfg(&info, mode, None);
        cfg.ifname = "nosuchif0".into();
        assert!(Sink::start(cfg).is_err());
        // Occupied interface: the second sink fails, the first keeps working.
        let first = Sink::start(sink_cfg(&info, mode, None)).unwrap();
        let err = Sink::start(sink_cfg(&info, mode, None)).unwrap_err();
        eprintln!("{mode:?}: second sink: {err:#}");
        assert_eq!(
            common::xdp_prog(info.dut_ns(), "dut0").as_deref(),
            Some("xskfwd_sink")
        );
        first.stop().unwrap();
        common::assert_dut_clean(info.dut_ns());
    }
    // A bounded sink ends by itself at its duration.
    let mut cfg = sink_cfg(&info, SinkMode::Check, None);
    cfg.duration = Duration::from_millis(300);
    cfg.idle = None;
    let t = Instant::now();
    let r = Sink::run(cfg, &std::sync::atomic::AtomicBool::new(false)).unwrap();
    assert!(t.elapsed() < Duration::from_secs(3));
    assert_eq!(r.check.unwrap().received, 0);
    common::assert_dut_clean(info.dut_ns());
}

/// Jumbo frames end to end: both AF_PACKET engines send 9014-byte frames
/// (MTU 9000) into dut0, where the frags-aware redirect program forwards
/// these multi-buffer frames with bpf_redirect to dut1; they arrive at
/// dst0 whole, routed (MACs, TTL) and with valid checksums, and every
/// program counted their full length.
#[test]
fn af_packet_jumbo_frames_are_redirected_whole() {
    if !common::root_or_skip("af_packet_jumbo_frames_are_redirected_whole") {
        return;
    }
    const M: u64 = 2_000;
    const LEN: usize = 9014;
    let lab = xskfwd_lab::lab::Lab::up(
        xskfwd_lab::demo::lab_spec(&xskfwd_lab::lab::unique_prefix("genjumbo"), 1).mtu(9000),
    )
    .expect("lab up");
    let info = lab.info().clone();
    assert_eq!(info.mtu, 9000);
    let prog = ToolProg::load(Tool::Redirect).unwrap();
    let links = [
        attach_in_dut(&info, &prog, "dut0"),
        attach_in_dut(&info, &prog, "dut1"),
    ];
    assert_eq!(Engine::for_largest(LEN), Engine::Ring);
    for engine in [Engine::Ring, Engine::Packet] {
        let before = prog.counters().unwrap();
        let rx = Receiver::new(info.dst_ns(), "dst0").unwrap();
        let mut cfg = gen_cfg(&info, false, FrameSize::Fixed(LEN));
        cfg.engine = engine;
        cfg.count = M;
        cfg.rate_pps = Some(20_000);
        let report = gen::run(&cfg).unwrap();
        eprintln!("{report:?}");
        assert_eq!((report.sent, report.refused), (M, 0), "{engine:?}");
        assert_eq!((report.bytes, report.unconfirmed), (M * LEN as u64, 0));
        assert_eq!(report.stopped_by, StopReason::Count);
        let got = rx
            .recv_ours(RecvLimits::new(M as usize, Duration::from_secs(10)))
            .unwrap();
        let c = prog.counters().unwrap();
        let (redirected, passed) = (c.redirected - before.redirected, c.passed - before.passed);
        assert_eq!((redirected, passed), (M, 0), "{engine:?}: {c:?}");
        assert_eq!(
            c.bytes - before.bytes,
            M * LEN as u64,
            "bpf_xdp_get_buff_len: {c:?}"
        );
        check_jumbo(&info, &got.frames, M, LEN);
    }
    drop(links);
    common::assert_dut_clean(info.dut_ns());
}

/// `frames` are `m` distinct routed UDP/IPv4 frames of `len` bytes, whole.
fn check_jumbo(info: &LabInfo, frames: &[Vec<u8>], m: u64, len: usize) {
    assert_eq!(frames.len() as u64, m);
    let mut seqs = BTreeSet::new();
    for f in frames {
        assert_eq!(f.len(), len);
        let (seq, _) = parse_stamp(f).unwrap();
        assert!(seqs.insert(seq));
        assert_eq!(&f[0..6], &info.dst0.mac);
        assert_eq!(&f[6..12], &info.dut1.mac);
        let p = SlicedPacket::from_ethernet(f).unwrap();
        let (Some(NetSlice::Ipv4(ip)), Some(TransportSlice::Udp(udp))) = (&p.net, &p.transport)
        else {
            panic!("not UDP/IPv4")
        };
        let h = ip.header().to_header();
        assert_eq!(h.time_to_live, 63);
        assert_eq!(h.header_checksum, h.calc_header_checksum());
        let uh = udp.to_header();
        assert_eq!(
            uh.checksum,
            uh.calc_checksum_ipv4(&h, udp.payload()).unwrap()
        );
    }
    assert_eq!(seqs.len() as u64, m);
}
