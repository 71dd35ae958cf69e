//! The traffic generator of the benchmarks: UDP frames that carry a
//! sequence number and a transmit timestamp, sent out of one interface at a
//! fixed rate or as fast as possible.
//!
//! Two engines:
//! - [`Engine::Live`]: the `xskfwd_gen` XDP program run with BPF_PROG_RUN
//!   and `BPF_F_TEST_XDP_LIVE_FRAMES` (the xdp-trafficgen technique). The
//!   kernel transmits every XDP_TX out of the interface; the program stamps
//!   each frame (sequence number from a map, `bpf_ktime_get_ns`, source
//!   port, checksums). Nothing is attached. On veth the *peer* must run an
//!   XDP program (or have GRO on), or veth drops what it is handed.
//!
//!   Every call with a repeat count above 1 costs about 25 ms during which
//!   nothing is sent (the kernel adds the program to the XDP dispatcher and
//!   removes it again, each with a `synchronize_rcu`), so calls are long
//!   ([`LIVE_CALL_TIME`]). A rate is therefore kept by the program itself:
//!   it sends a frame only when it is due (`bpf_ktime_get_ns`) and returns
//!   XDP_DROP without using a number otherwise, so a paced call keeps its
//!   CPU busy. [`plan_live_call`] spreads the frames due by a call's end —
//!   those the last gap delayed included — evenly over the call: the
//!   average rate is exact, the rate inside a call is higher by the gaps'
//!   share (about 2.5%), and nothing is sent during the gaps.
//!
//!   Pin the generator ([`GenConfig::cpu`]): veth runs the peer's receive
//!   processing (NAPI) as a softirq on the CPU that sent, and a generator
//!   that migrates can leave it behind on a busy CPU, where veth's
//!   256-frame ring overflows. Frames are flushed [`LIVE_BATCH`] at a time
//!   so that softirqs run between batches even when a preempted paced
//!   generator catches up.
//!
//!   Live frames are one page each: a frame is at most [`LIVE_MAX_FRAME`]
//!   bytes (the page less XDP headroom and `skb_shared_info`; the kernel
//!   refuses larger ones in live mode).
//! - [`Engine::Xsk`]: an AF_XDP socket on rx/tx queue 0 that only
//!   transmits (zero-copy where the driver has it, copy mode on veth), with
//!   userspace stamping the same bytes the program would.
//! - [`Engine::Ring`]: an AF_PACKET transmit ring (`PACKET_TX_RING`,
//!   `TPACKET_V2`, [`traffic::TxRing`]) with `PACKET_QDISC_BYPASS`: the
//!   template is written into every slot once, each frame then only
//!   stamped in place, and one `send` per [`PACKET_BATCH`] slots hands
//!   them to the driver; AF_PACKET builds the skb around the ring's pages
//!   instead of copying the payload (veth then copies it anyway:
//!   `__dev_forward_skb` may not pass user pages on, `skb_copy_ubufs`).
//!   Any size the MTU allows (jumbo frames): what [`Engine::for_largest`]
//!   picks above [`LIVE_MAX_FRAME`]. A frame counts as sent once the
//!   kernel is done with its slot.
//! - [`Engine::Packet`]: the same socket without the ring, frames stamped
//!   in userspace buffers and sent with `sendmmsg` (the kernel copies each
//!   frame into an skb). On the 2-core VM at 9000 B the ring offered as
//!   much or more, with less spread (ceiling 0.52–0.67 vs 0.41–0.63 Mpps,
//!   xdp-redirect 0.42–0.43 vs 0.36–0.49 Mpps, two alternating runs each
//!   on a loaded machine), so it is the default.
//!
//! For both, a frame the interface refuses at once (`ENOBUFS`: on veth,
//! the peer's 256-frame ring was full) counts as sent and lost, as an
//! XDP_TX into a full ring does for the live engine; [`GenReport::refused`]
//! says how many calls met it.
//!
//! A frame is `Ethernet | IPv4 (no options) or IPv6 | UDP | payload`, the
//! payload starting with `MAGIC (4) | seq (u64 BE) | timestamp ns (u64 BE)`
//! ([`traffic::MAGIC`], [`crate::bpf_tools::GEN_SEQ_OFF`],
//! [`crate::bpf_tools::GEN_TS_OFF`]); [`crate::traffic::parse_seq`] reads
//! its sequence number. Sequence numbers run from 0 up to (excluding)
//! `count`. Frame lengths are given without FCS.
//!
//! The pure parts ([`Plan`]: template, schedule and stamping; [`Pacer`];
//! [`imix_schedule`]) do no I/O and read no clock.
//!
//! This module must never: send without both a sequence limit and a
//! deadline (every call into the kernel is bounded by both), move or pin
//! the caller's thread (it runs the engine on a thread of its own, which
//! enters the namespace), change an interface or attach a program, or spin
//! without a bound (ring-full waits sleep and end at the deadline).

use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};
use arrayvec::ArrayVec;
use etherparse::PacketBuilder;

use crate::bpf_tools::{
    self, GenParams, GenProg, GenSize, GEN_MAX_SIZES, GEN_SCHED_MAX, GEN_SEQ_OFF, GEN_STAMP_LEN,
    GEN_TS_OFF,
};
use crate::traffic::{self, FrameSpec};
use xskfwd::config::{BindMode, Mac, MAX_BATCH};
use xskfwd::netns;
use xskfwd::stats::{self, XskStats};
use xskfwd::xsk::{self, SharedUmem, SocketOptions, XskRings, XskSocket};
use xskfwd_core::rings::Rings;
use xskfwd_core::wire::checksum;

/// IMIX frame sizes (the classic 64/570/1518), clipped to what the
/// template and the interface allow.
pub const IMIX_SIZES: [usize; 3] = [64, 570, 1518];
/// IMIX weights: 7 × 64, 4 × 570, 1 × 1518 in every 12 frames.
pub const IMIX_WEIGHTS: [u32; 3] = [7, 4, 1];
/// Ethernet header length.
const ETH_LEN: usize = 14;
/// UDP header length.
const UDP_LEN: usize = 8;
/// Shortest Ethernet frame without FCS.
const MIN_ETH_FRAME: usize = 60;

/// Frames the live engine runs per batch (flushed together, with
/// softirqs processed between batches): the kernel's default, which keeps
/// a burst within a veth peer's 256-frame ring (up to 256 is allowed).
pub const LIVE_BATCH: u32 = 64;
/// How long one BPF_PROG_RUN call of the live engine should last. Every
/// call with a repeat count above 1 costs about 25 ms of setup and teardown
/// on a 2-CPU machine (the kernel adds the program to the XDP dispatcher
/// and removes it again, each with a `synchronize_rcu`), during which
/// nothing is sent; long calls keep that small.
pub const LIVE_CALL_TIME: Duration = Duration::from_secs(1);
/// Frames of the first, calibrating call at an unlimited rate.
pub const LIVE_FIRST_CALL: u64 = 1 << 16;
/// Initial guess of the per-call setup cost.
pub const LIVE_GAP_GUESS: Duration = Duration::from_millis(25);
/// Initial guess of the kernel's time per run, without pacing waits.
pub const LIVE_RUN_NS_GUESS: f64 = 150.0;
/// Longest wait inside one paced run of the program: a run that comes
/// early spins on the clock this long for its frame before giving up
/// (XDP_DROP), so most runs end in a send and batches fill up.
pub const LIVE_SPIN_NS: u64 = 500;
/// Paced: how long one batch of runs should last at most (frames wait in
/// the batch until it is flushed, which adds to their latency).
pub const LIVE_PACED_BATCH_TIME: Duration = Duration::from_micros(8);
/// Runs a paced call asks for, relative to the estimate: a call that ends
/// early delays its last frames past the next call's setup gap; one that
/// runs long only burns the CPU after its last frame (the next call's plan
/// starts from the real clock either way).
const LIVE_PACED_REPEAT_SHARE: f64 = 1.1;

/// Largest frame (without FCS) the live engine can send: live frames are
/// one 4 KiB page each, less 256 bytes of XDP headroom and the aligned
/// `skb_shared_info` at the end (the kernel refuses larger data in live
/// mode with EINVAL). Measured on Linux 6.18 x86-64 (3408 sends, 3409 is
/// refused: 432 bytes of tailroom); older kernels' smaller
/// `skb_shared_info` allow a little more, which this leaves unused.
pub const LIVE_MAX_FRAME: usize = 3408;
/// Frames per `sendmmsg` of the packet engine.
pub const PACKET_BATCH: usize = 64;
/// Send buffer of the packet engine's socket.
const PACKET_SNDBUF: i32 = 8 << 20;
/// Sleep while the packet engine's send buffer is full.
const PACKET_FULL_SLEEP: Duration = Duration::from_micros(20);

/// How the frames are sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Engine {
    /// BPF_PROG_RUN with live frames: XDP_TX out of the interface.
    Live,
    /// AF_XDP tx-only socket on queue 0.
    Xsk,
    /// AF_PACKET raw socket, qdisc bypassed, sendmmsg (any size).
    Packet,
    /// AF_PACKET transmit ring (PACKET_TX_RING), qdisc bypassed (any size;
    /// the frame's payload is not copied on the way out).
    Ring,
}

impl Engine {
    /// Name for reports.
    pub fn name(self) -> &'static str {
        match self {
            Engine::Live => "live",
            Engine::Xsk => "xsk",
            Engine::Packet => "packet",
            Engine::Ring => "ring",
        }
    }

    /// The fastest engine that can send frames of up to `largest` bytes
    /// out of any interface: live frames where they fit, the AF_PACKET
    /// transmit ring above.
    pub fn for_largest(largest: usize) -> Engine {
        if largest <= LIVE_MAX_FRAME {
            Engine::Live
        } else {
            Engine::Ring
        }
    }
}

/// The frame lengths to send (without FCS).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FrameSize {
    /// Every frame this long: at least 60 and the headers plus the 20-byte
    /// stamp (62 for IPv4, 82 for IPv6), at most MTU + 14.
    Fixed(usize),
    /// [`IMIX_SIZES`] in the ratio [`IMIX_WEIGHTS`], interleaved, each
    /// clipped into the allowed range.
    Imix,
}

/// What to generate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GenConfig {
    /// Interface to send out of.
    pub ifname: String,
    /// Network namespace of the interface (`None`: the caller's).
    pub netns: Option<String>,
    /// Addresses, ports and TTL of the frames. Its `frame_len` is ignored:
    /// the lengths come from `size`.
    pub frame: FrameSpec,
    /// Frame lengths.
    pub size: FrameSize,
    /// UDP source ports `frame.src_port..frame.src_port + flows`, round
    /// robin by sequence number (>= 1).
    pub flows: u32,
    /// Sequence numbers to use, `0..count` (`u64::MAX`: unbounded; the
    /// duration still bounds the run).
    pub count: u64,
    /// Longest run time.
    pub duration: Duration,
    /// Frames per second on average, `None` for as fast as possible.
    pub rate_pps: Option<u64>,
    /// Which engine sends.
    pub engine: Engine,
    /// CPU to pin the sending thread to.
    pub cpu: Option<usize>,
    /// A self-check of the receivers: this sequence number is consumed (it
    /// counts against `count`) but never sent, so a checking receiver must
    /// report exactly one loss.
    pub skip_seq: Option<u64>,
}

impl GenConfig {
    /// `frame` at its own length out of `ifname`: one flow, 10 s at most,
    /// no count limit, no rate limit, live engine, unpinned.
    pub fn new(ifname: impl Into<String>, frame: FrameSpec) -> Self {
        GenConfig {
            ifname: ifname.into(),
            netns: None,
            size: FrameSize::Fixed(frame.frame_len),
            frame,
            flows: 1,
            count: u64::MAX,
            duration: Duration::from_secs(10),
            rate_pps: None,
            engine: Engine::Live,
            cpu: None,
            skip_seq: None,
        }
    }
}

/// Why a run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StopReason {
    /// Every sequence number below `count` was used.
    Count,
    /// The duration passed.
    Duration,
    /// The caller's stop flag was set (e.g. SIGINT).
    Stopped,
}

impl StopReason {
    /// Name for reports.
    pub fn name(self) -> &'static str {
        match self {
            StopReason::Count => "count",
            StopReason::Duration => "duration",
            StopReason::Stopped => "stopped",
        }
    }
}

/// What a run did.
#[derive(Clone, Debug, PartialEq)]
pub struct GenReport {
    /// Engine used.
    pub engine: Engine,
    /// Frames sent: handed to the interface with XDP_TX (live), or taken
    /// from the tx ring by the kernel (xsk: completed). Exact.
    pub sent: u64,
    /// Their bytes, without FCS.
    pub bytes: u64,
    /// Sequence numbers used (`sent`, plus a skipped one).
    pub next_seq: u64,
    /// From the start of the run to the last frame sent (the whole run if
    /// nothing was sent). The rate is `sent / elapsed`.
    pub elapsed: Duration,
    /// The whole run, setup and teardown of calls included.
    pub wall: Duration,
    /// BPF_PROG_RUN calls (live) or tx batches (xsk).
    pub calls: u64,
    /// Why it ended.
    pub stopped_by: StopReason,
    /// Frame lengths in use.
    pub frame_sizes: Vec<usize>,
    /// xsk: kernel socket statistics.
    pub xsk: Option<XskStats>,
    /// xsk, ring: frames still on the tx ring when the run gave up waiting
    /// for their completion (0 normally; they are not counted as sent).
    pub unconfirmed: u64,
    /// packet, ring: frames (packet) or sends (ring) the interface refused
    /// at once (`ENOBUFS`); the frames count in `sent` (they were offered
    /// and are lost).
    pub refused: u64,
}

impl GenReport {
    /// Average frames per second.
    pub fn pps(&self) -> f64 {
        stats::rate(self.sent, self.elapsed.as_secs_f64())
    }

    /// Average bits per second on an Ethernet wire (frame + FCS, preamble
    /// and inter-frame gap: 24 bytes per frame).
    pub fn wire_bps(&self) -> f64 {
        stats::rate(
            (self.bytes + 24 * self.sent).saturating_mul(8),
            self.elapsed.as_secs_f64(),
        )
    }

    /// One JSON object (`"type": "gen"`).
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "type": "gen",
            "engine": self.engine.name(),
            "sent": self.sent,
            "bytes": self.bytes,
            "next_seq": self.next_seq,
            "elapsed_s": self.elapsed.as_secs_f64(),
            "wall_s": self.wall.as_secs_f64(),
            "pps": self.pps(),
            "wire_bps": self.wire_bps(),
            "calls": self.calls,
            "stopped_by": self.stopped_by.name(),
            "frame_sizes": self.frame_sizes,
            "unconfirmed": self.unconfirmed,
            "refused": self.refused,
            "xsk": self.xsk.map(|s| serde_json::json!({
                "tx_invalid": s.tx_invalid,
                "tx_ring_empty": s.tx_ring_empty,
            })),
        })
    }
}

// ---------------------------------------------------------------- pure --

/// A smooth weighted round-robin order of size indexes: each index `i`
/// appears `weights[i]` times, spread as evenly as possible (e.g. 7:4:1 →
/// `0 1 0 0 1 0 2 0 1 0 0 1`-like, never long runs of one size).
pub fn imix_schedule(weights: &[u32]) -> Vec<u8> {
    let total: i64 = weights.iter().map(|&w| i64::from(w)).sum();
    let mut current = vec![0i64; weights.len()];
    let mut out = Vec::with_capacity(total.max(0) as usize);
    for _ in 0..total {
        for (c, &w) in current.iter_mut().zip(weights) {
            *c += i64::from(w);
        }
        let Some((best, _)) = current
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(&a.0)))
        else {
            break;
        };
        current[best] -= total;
        out.push(best as u8);
    }
    out
}

/// The frames of a run: the template (the largest size, sequence number
/// and timestamp zero), the size schedule and everything the program needs
/// to stamp a frame without summing it. [`Plan::stamp`] does in userspace
/// exactly what `xskfwd_gen` does in the kernel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plan {
    template: Vec<u8>,
    params: GenParams,
    /// Offset of the UDP header.
    udp_off: usize,
}

impl Plan {
    /// Plans frames like `frame` (lengths from `size`) with `flows` source
    /// ports for an interface of MTU `mtu`.
    pub fn new(frame: &FrameSpec, size: FrameSize, flows: u32, mtu: u32) -> Result<Plan> {
        ensure!(
            frame.src_ip.is_ipv6() == frame.dst_ip.is_ipv6(),
            "frame mixes IPv4 and IPv6 ({} -> {})",
            frame.src_ip,
            frame.dst_ip
        );
        ensure!(flows >= 1, "flows must be at least 1");
        ensure!(
            u32::from(frame.src_port) + flows <= 65536,
            "source ports {}..{} run past 65535",
            frame.src_port,
            u64::from(frame.src_port) + u64::from(flows)
        );
        let v6 = frame.is_v6();
        let ip_len = if v6 { 40 } else { 20 };
        let udp_off = ETH_LEN + ip_len;
        let min = (udp_off + UDP_LEN + GEN_STAMP_LEN).max(MIN_ETH_FRAME);
        let max = mtu as usize + ETH_LEN;
        ensure!(
            min <= max,
            "the interface MTU {mtu} is too small for these frames"
        );
        let (sizes, sched): (Vec<usize>, Vec<u8>) = match size {
            FrameSize::Fixed(len) => {
                ensure!(
                    (min..=max).contains(&len),
                    "frame size {len} out of range {min}..={max} ({} frames with the 20-byte stamp, MTU {mtu}; sizes are without FCS)",
                    if v6 { "IPv6/UDP" } else { "IPv4/UDP" }
                );
                (vec![len], vec![0])
            }
            FrameSize::Imix => (
                IMIX_SIZES.iter().map(|&s| s.clamp(min, max)).collect(),
                imix_schedule(&IMIX_WEIGHTS),
            ),
        };
        debug_assert!(sizes.len() <= GEN_MAX_SIZES && sched.len() <= GEN_SCHED_MAX);
        let largest = sizes.iter().copied().max().unwrap_or(min);

        let mut payload = vec![0u8; largest - udp_off - UDP_LEN];
        payload[..traffic::MAGIC.len()].copy_from_slice(&traffic::MAGIC);
        for (i, b) in payload[GEN_STAMP_LEN..].iter_mut().enumerate() {
            *b = traffic::pattern_byte(0, i);
        }
        let eth = PacketBuilder::ethernet2(frame.src_mac, frame.dst_mac);
        let ip = match (frame.src_ip, frame.dst_ip) {
            (IpAddr::V4(s), IpAddr::V4(d)) => eth.ipv4(s.octets(), d.octets(), frame.ttl),
            (IpAddr::V6(s), IpAddr::V6(d)) => eth.ipv6(s.octets(), d.octets(), frame.ttl),
            _ => bail!("frame mixes IPv4 and IPv6"),
        };
        let mut template = Vec::with_capacity(largest);
        ip.udp(frame.src_port, frame.dst_port)
            .write(&mut template, &payload)
            .context("building the template frame")?;
        ensure!(template.len() == largest, "template has the wrong length");

        let gen_sizes = sizes
            .iter()
            .map(|&len| size_entry(&template, v6, udp_off, len))
            .collect();
        let hdr = template[..if v6 { 54 } else { 34 }].to_vec();
        Ok(Plan {
            template,
            params: GenParams {
                v6,
                flows,
                base_port: frame.src_port,
                sched,
                sizes: gen_sizes,
                hdr,
            },
            udp_off,
        })
    }

    /// The template frame (the largest size; stamp fields zero).
    pub fn template(&self) -> &[u8] {
        &self.template
    }

    /// What the generator program is loaded with.
    pub fn params(&self) -> &GenParams {
        &self.params
    }

    /// The frame lengths in use.
    pub fn sizes(&self) -> Vec<usize> {
        self.params
            .sizes
            .iter()
            .map(|s| s.frame_len as usize)
            .collect()
    }

    fn size_of(&self, seq: u64) -> &GenSize {
        let sched = &self.params.sched;
        let k = sched[(seq % sched.len() as u64) as usize];
        &self.params.sizes[usize::from(k)]
    }

    /// Length of frame `seq`.
    pub fn frame_len(&self, seq: u64) -> usize {
        self.size_of(seq).frame_len as usize
    }

    /// Turns `frame` — holding the template's bytes, at least as long as
    /// the template — into frame `seq` stamped with `ts`, writing only what
    /// `xskfwd_gen` writes. Returns the frame's length.
    pub fn stamp(&self, frame: &mut [u8], seq: u64, ts: u64) -> usize {
        let p = &self.params;
        let s = *self.size_of(seq);
        let u = self.udp_off;
        if p.sched.len() > 1 {
            if p.v6 {
                frame[ETH_LEN + 4..ETH_LEN + 6].copy_from_slice(&s.ip_len.to_be_bytes());
                frame[u + 4..u + 6].copy_from_slice(&s.ip_len.to_be_bytes());
            } else {
                frame[ETH_LEN + 2..ETH_LEN + 4].copy_from_slice(&s.ip_len.to_be_bytes());
                frame[ETH_LEN + 10..ETH_LEN + 12].copy_from_slice(&s.ip_csum.to_be_bytes());
                frame[u + 4..u + 6].copy_from_slice(&(s.ip_len - 20).to_be_bytes());
            }
        }
        let port = u64::from(p.base_port) + seq % u64::from(p.flows.max(1));
        let port = (port & 0xffff) as u16;
        let pl = u + UDP_LEN;
        frame[u..u + 2].copy_from_slice(&port.to_be_bytes());
        frame[pl + GEN_SEQ_OFF..pl + GEN_SEQ_OFF + 8].copy_from_slice(&seq.to_be_bytes());
        frame[pl + GEN_TS_OFF..pl + GEN_TS_OFF + 8].copy_from_slice(&ts.to_be_bytes());
        let sum = u64::from(s.udp_sum) + u64::from(port) + words16(seq) + words16(ts);
        let mut csum = !fold16(sum);
        if csum == 0 {
            csum = 0xffff;
        }
        frame[u + 6..u + 8].copy_from_slice(&csum.to_be_bytes());
        s.frame_len as usize
    }
}

fn words16(x: u64) -> u64 {
    (x >> 48) + ((x >> 32) & 0xffff) + ((x >> 16) & 0xffff) + (x & 0xffff)
}

fn fold16(mut s: u64) -> u16 {
    s = (s & 0xffff_ffff) + (s >> 32);
    s = (s & 0xffff) + (s >> 16);
    s = (s & 0xffff) + (s >> 16);
    s = (s & 0xffff) + (s >> 16);
    s as u16
}

/// The per-size values of frame length `len` cut from `template`.
fn size_entry(template: &[u8], v6: bool, udp_off: usize, len: usize) -> GenSize {
    let udp_len = len - udp_off;
    let (ip_len, ip_csum, pseudo) = if v6 {
        let mut pseudo = Vec::with_capacity(40);
        pseudo.extend_from_slice(&template[ETH_LEN + 8..ETH_LEN + 40]);
        pseudo.extend_from_slice(&(udp_len as u32).to_be_bytes());
        pseudo.extend_from_slice(&[0, 0, 0, 17]);
        (udp_len as u16, 0, pseudo)
    } else {
        let ip_len = (len - ETH_LEN) as u16;
        let mut hdr = template[ETH_LEN..ETH_LEN + 20].to_vec();
        hdr[2..4].copy_from_slice(&ip_len.to_be_bytes());
        hdr[10..12].copy_from_slice(&[0, 0]);
        let ip_csum = checksum::checksum(&hdr);
        let mut pseudo = Vec::with_capacity(12);
        pseudo.extend_from_slice(&template[ETH_LEN + 12..ETH_LEN + 20]);
        pseudo.extend_from_slice(&[0, 17]);
        pseudo.extend_from_slice(&(udp_len as u16).to_be_bytes());
        (ip_len, ip_csum, pseudo)
    };
    let mut udp = template[udp_off..len].to_vec();
    udp[0..2].copy_from_slice(&[0, 0]); // source port: added per frame
    udp[4..6].copy_from_slice(&(udp_len as u16).to_be_bytes());
    udp[6..8].copy_from_slice(&[0, 0]);
    let sum = checksum::sum(&udp, checksum::sum(&pseudo, 0));
    GenSize {
        frame_len: len as u32,
        ip_len,
        ip_csum,
        udp_sum: checksum::fold(sum),
    }
}

/// What the sender should do next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// Send this many frames now.
    Send(u64),
    /// Nothing is due yet: wait this long.
    Wait(Duration),
}

/// Rate pacing: how many frames are due after a given time, sent in bursts
/// of at least `min_burst` (fewer, larger calls when each call costs) and
/// at most `max_burst`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pacer {
    /// Frames per second, `None` for unlimited.
    pub rate_pps: Option<u64>,
    /// Smallest burst worth a call (>= 1).
    pub min_burst: u64,
    /// Largest burst (>= 1).
    pub max_burst: u64,
}

impl Pacer {
    /// The next step after `elapsed` since the start, with `done` frames
    /// sent and `remaining` left (> 0).
    pub fn step(&self, elapsed: Duration, done: u64, remaining: u64) -> Step {
        let max = self.max_burst.max(1).min(remaining);
        let Some(rate) = self.rate_pps.filter(|&r| r > 0) else {
            return Step::Send(max);
        };
        // Frame i is due at i / rate seconds; frame 0 right at the start.
        let due = (elapsed.as_nanos().saturating_mul(u128::from(rate)) / 1_000_000_000)
            .saturating_add(1)
            .min(u128::from(u64::MAX)) as u64;
        let budget = due.saturating_sub(done);
        let want = self.min_burst.max(1).min(remaining);
        if budget >= want {
            return Step::Send(budget.min(max));
        }
        // Wait until the `want`-th next frame is due.
        let target = done + want - 1;
        let at = Duration::from_nanos(
            (u128::from(target) * 1_000_000_000 / u128::from(rate)).min(u128::from(u64::MAX))
                as u64,
        );
        Step::Wait(at.saturating_sub(elapsed).max(Duration::from_micros(1)))
    }
}

/// What the live engine learned about its calls so far.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LiveEstimates {
    /// Wall time of a call not spent running the program (setup).
    pub gap: Duration,
    /// Kernel nanoseconds per run of the program (as BPF_PROG_RUN reports).
    pub run_ns: f64,
    /// Whether a call was measured yet.
    pub measured: bool,
}

impl Default for LiveEstimates {
    fn default() -> Self {
        LiveEstimates {
            gap: LIVE_GAP_GUESS,
            run_ns: LIVE_RUN_NS_GUESS,
            measured: false,
        }
    }
}

impl LiveEstimates {
    /// Folds in a call of `repeat` runs that took `wall` in total, the
    /// kernel reporting `run_ns` per run.
    pub fn update(&mut self, repeat: u64, wall: Duration, run_ns: u32) {
        let run_ns = f64::from(run_ns.max(1));
        let busy = Duration::from_nanos((run_ns * repeat as f64) as u64);
        let gap = wall.saturating_sub(busy);
        if self.measured {
            self.run_ns = 0.5 * self.run_ns + 0.5 * run_ns;
            self.gap = (self.gap + gap) / 2;
        } else {
            self.run_ns = run_ns;
            self.gap = gap;
            self.measured = true;
        }
    }
}

/// One BPF_PROG_RUN call of the live engine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LiveCall {
    /// Sequence numbers this call may use (the limit is `done + frames`).
    pub frames: u64,
    /// Pacing: picoseconds between frames, 0 for none.
    pub interval_ps: u64,
    /// Pacing: longest wait inside one run.
    pub spin_ns: u64,
    /// Runs of the program (sends plus pacing waits).
    pub repeat: u32,
    /// Runs per batch (flush).
    pub batch: u32,
}

/// Plans the next live call: `elapsed` since the start, `done` numbers
/// used, `remaining` (> 0) left, `time_left` (> 0) until the deadline.
///
/// Unlimited: as many frames as fit in [`LIVE_CALL_TIME`] (a small first
/// call to calibrate). Paced at `rate`: the frames due by the end of a call
/// of up to [`LIVE_CALL_TIME`] — including those the setup gaps delayed —
/// spread evenly over the call, so the average rate is right and frames
/// are never bunched more than the gaps force.
pub fn plan_live_call(
    rate_pps: Option<u64>,
    elapsed: Duration,
    done: u64,
    remaining: u64,
    time_left: Duration,
    est: &LiveEstimates,
) -> LiveCall {
    let call = LIVE_CALL_TIME
        .min(time_left.saturating_sub(est.gap))
        .max(Duration::from_millis(1));
    let max_repeat = u64::from(u32::MAX);
    match rate_pps.filter(|&r| r > 0) {
        None => {
            let fit = if est.measured {
                (call.as_nanos() as f64 / est.run_ns.max(1.0)) as u64
            } else {
                LIVE_FIRST_CALL
            };
            let frames = fit.clamp(1, max_repeat).min(remaining);
            LiveCall {
                frames,
                interval_ps: 0,
                spin_ns: 0,
                repeat: frames as u32,
                batch: LIVE_BATCH,
            }
        }
        Some(rate) => {
            let end = elapsed + est.gap + call;
            let due = (end.as_nanos().saturating_mul(u128::from(rate)) / 1_000_000_000)
                .min(u128::from(u64::MAX)) as u64;
            // Spread what is due over the call; the count may cut it short.
            let due_frames = due.saturating_sub(done).max(1);
            let call_ps = call.as_nanos().saturating_mul(1000);
            let interval_ps =
                (call_ps / u128::from(due_frames)).clamp(1, u128::from(u64::MAX)) as u64;
            let frames = due_frames.min(remaining).min(max_repeat / 2);
            let span_ns = u128::from(interval_ps) * u128::from(frames) / 1000;
            // A run costs about the base cost plus the spin (up to the
            // next frame); the kernel's measurement replaces the guess.
            let spin = (interval_ps / 1000).min(LIVE_SPIN_NS) as f64;
            let run_ns = if est.measured {
                est.run_ns
            } else {
                LIVE_RUN_NS_GUESS + spin
            };
            let waits = (LIVE_PACED_REPEAT_SHARE * span_ns as f64 / run_ns.max(1.0)) as u64;
            let batch = (LIVE_PACED_BATCH_TIME.as_nanos() as f64 / (LIVE_RUN_NS_GUESS / 2.0 + spin))
                .clamp(8.0, f64::from(LIVE_BATCH)) as u32;
            LiveCall {
                frames,
                interval_ps,
                spin_ns: LIVE_SPIN_NS,
                repeat: frames.saturating_add(waits).min(max_repeat) as u32,
                batch,
            }
        }
    }
}

/// Parses a rate like `100000`, `100k`, `1.5M`, `2G` (frames per second).
pub fn parse_rate(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let (num, mult) = match t.char_indices().last() {
        Some((i, 'k' | 'K')) => (&t[..i], 1e3),
        Some((i, 'm' | 'M')) => (&t[..i], 1e6),
        Some((i, 'g' | 'G')) => (&t[..i], 1e9),
        _ => (t, 1.0),
    };
    let v: f64 = num
        .parse()
        .map_err(|_| format!("bad rate {s:?} (e.g. 100000, 100k, 1.5M)"))?;
    let r = (v * mult).round();
    if !(1.0..=1e12).contains(&r) {
        return Err(format!("rate {s:?} out of range (1 ..= 1e12 frames/s)"));
    }
    Ok(r as u64)
}

// ----------------------------------------------------------------- run --

/// Runs the generator until `cfg.count` sequence numbers are used or
/// `cfg.duration` passed.
pub fn run(cfg: &GenConfig) -> Result<GenReport> {
    run_until(cfg, &AtomicBool::new(false))
}

/// [`run`], also stopping soon after `stop` becomes true.
pub fn run_until(cfg: &GenConfig, stop: &AtomicBool) -> Result<GenReport> {
    ensure!(cfg.count > 0, "count must be positive");
    ensure!(cfg.rate_pps != Some(0), "rate must be positive");
    ensure!(
        !cfg.duration.is_zero() && cfg.duration <= Duration::from_secs(24 * 3600),
        "duration must be between 0 and 24 h"
    );
    netns::validate_ifname(&cfg.ifname)?;
    if let Some(ns) = &cfg.netns {
        netns::validate_netns_name(ns)?;
    }
    thread::scope(|s| {
        let h = thread::Builder::new()
            .name("xskfwd-gen".into())
            .spawn_scoped(s, || -> Result<GenReport> {
                if let Some(ns) = &cfg.netns {
                    // Our own thread: moving it moves nobody else.
                    netns::enter_netns(ns)
                        .with_context(|| format!("entering network namespace {ns}"))?;
                }
                if let Some(cpu) = cfg.cpu {
                    ensure!(
                        core_affinity::set_for_current(core_affinity::CoreId { id: cpu }),
                        "could not pin the generator to CPU {cpu}"
                    );
                }
                let ifindex = netns::ifindex(&cfg.ifname)?;
                let mtu = netns::mtu_of(&cfg.ifname)?;
                let plan = Plan::new(&cfg.frame, cfg.size, cfg.flows, mtu)?;
                match cfg.engine {
                    Engine::Live => run_live(cfg, &plan, ifindex, stop),
                    Engine::Xsk => run_xsk(cfg, &plan, stop),
                    Engine::Packet => run_packet(cfg, &plan, stop),
                    Engine::Ring => run_ring(cfg, &plan, stop),
                }
            })
            .context("spawning the generator thread")?;
        h.join()
            .map_err(|_| anyhow::anyhow!("the generator thread panicked"))?
    })
}

/// The bounds of a paced sending loop (the AF_XDP and AF_PACKET
/// engines): `count` frames with one sequence number possibly skipped,
/// until `deadline`, at the pacer's rate, or until `stop` is set.
struct Paced<'a> {
    stop: &'a AtomicBool,
    count: u64,
    skip: u64,
    pacer: Pacer,
    start: Instant,
    deadline: Instant,
}

/// What a paced loop does next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Turn {
    /// Stop, for this reason.
    Stop(StopReason),
    /// Nothing is due yet: wait this long (never past the deadline).
    Wait(Duration),
    /// Send this many frames now.
    Send(u64),
}

impl<'a> Paced<'a> {
    /// Bounds for `cfg`, starting now.
    fn new(cfg: &GenConfig, max_burst: u64, stop: &'a AtomicBool) -> Paced<'a> {
        let start = Instant::now();
        Paced {
            stop,
            count: cfg.count,
            skip: cfg.skip_seq.unwrap_or(u64::MAX),
            pacer: Pacer {
                rate_pps: cfg.rate_pps,
                min_burst: 1,
                max_burst,
            },
            start,
            deadline: start + cfg.duration,
        }
    }

    /// The next turn, with `next` the next sequence number and `paced`
    /// the frames handed over so far.
    fn turn(&self, next: u64, paced: u64) -> Turn {
        if self.stop.load(Ordering::Relaxed) {
            return Turn::Stop(StopReason::Stopped);
        }
        if next >= self.count || (next == self.skip && self.skip.saturating_add(1) >= self.count) {
            return Turn::Stop(StopReason::Count);
        }
        let now = Instant::now();
        if now >= self.deadline {
            return Turn::Stop(StopReason::Duration);
        }
        match self.pacer.step(now - self.start, paced, self.count - next) {
            Step::Wait(d) => Turn::Wait(d.min(self.deadline - now)),
            Step::Send(n) => Turn::Send(n),
        }
    }
}

fn run_live(cfg: &GenConfig, plan: &Plan, ifindex: u32, stop: &AtomicBool) -> Result<GenReport> {
    let prog = GenProg::load(plan.params())?;
    prog.arm(cfg.count, cfg.skip_seq)?;
    let template = plan.template();
    let start = Instant::now();
    let start_ns = bpf_tools::monotonic_ns();
    let deadline = start + cfg.duration;
    let mut done = 0u64;
    let mut calls = 0u64;
    let mut est = LiveEstimates::default();
    let stopped_by = loop {
        if stop.load(Ordering::Relaxed) {
            break StopReason::Stopped;
        }
        if done >= cfg.count {
            break StopReason::Count;
        }
        let now = Instant::now();
        if now + Duration::from_millis(1) >= deadline {
            break StopReason::Duration;
        }
        let call = plan_live_call(
            cfg.rate_pps,
            now - start,
            done,
            cfg.count - done,
            deadline - now,
            &est,
        );
        prog.set_call(
            done.saturating_add(call.frames),
            call.interval_ps,
            call.spin_ns,
        )?;
        let t0 = Instant::now();
        match prog.run_live(template, ifindex, call.repeat, call.batch) {
            Ok(out) => est.update(u64::from(call.repeat), t0.elapsed(), out.duration_ns),
            // A signal ends the call early; the stop flag says whether to go on.
            Err(bpf_tools::ToolsError::Run { err, .. })
                if err.raw_os_error() == Some(libc::EINTR) => {}
            Err(e) => return Err(e.into()),
        }
        calls += 1;
        done = prog.next_seq()?;
    };
    let wall = start.elapsed();
    let last = prog.last_sent_ns()?;
    let elapsed = if last > start_ns {
        Duration::from_nanos(last - start_ns).min(wall)
    } else {
        wall
    };
    let c = prog.counters()?;
    ensure!(
        c.errors == 0,
        "the generator program failed to stamp {} frames",
        c.errors
    );
    Ok(GenReport {
        engine: Engine::Live,
        sent: c.sent,
        bytes: c.bytes,
        next_seq: done,
        elapsed,
        wall,
        calls,
        stopped_by,
        frame_sizes: plan.sizes(),
        xsk: None,
        unconfirmed: 0,
        refused: 0,
    })
}

/// UMEM frames of the xsk engine (twice the tx ring).
const XSK_FRAMES: u32 = 4096;
/// tx ring of the xsk engine.
const XSK_TX_RING: u32 = 2048;
/// How long the xsk engine waits for the last completions.
const XSK_DRAIN: Duration = Duration::from_secs(1);
/// Sleep while the tx ring is full.
const XSK_FULL_SLEEP: Duration = Duration::from_micros(20);

fn run_xsk(cfg: &GenConfig, plan: &Plan, stop: &AtomicBool) -> Result<GenReport> {
    let template = plan.template();
    let frame_size = if template.len() <= 2048 { 2048 } else { 4096 };
    let (umem, frames) = SharedUmem::new(XSK_FRAMES, frame_size, 64, XSK_TX_RING)?;
    let sock = XskSocket::bind(
        &umem,
        &cfg.ifname,
        0,
        SocketOptions {
            rx_size: 64,
            tx_size: XSK_TX_RING,
            bind: BindMode::Auto,
            need_wakeup: true,
            multi_buffer: false,
        },
        0,
    )?;
    let fd = sock.fd();
    let mut rings = XskRings::new(umem, vec![sock], true);
    let mut pool = Vec::with_capacity(frames.len());
    for mut f in frames {
        rings.set_len(&mut f, template.len() as u32);
        rings.data(&mut f).copy_from_slice(template);
        pool.push(f);
    }
    let total = pool.len();
    let paced = Paced::new(cfg, MAX_BATCH as u64, stop);
    // `queued`: put on the tx ring (paces); `sent`/`bytes`: completed.
    let (mut next, mut queued, mut calls) = (0u64, 0u64, 0u64);
    let (mut sent, mut bytes) = (0u64, 0u64);
    let mut last_tx: Option<Instant> = None;
    let mut batch = ArrayVec::<_, MAX_BATCH>::new();
    let mut seqs = ArrayVec::<u64, MAX_BATCH>::new();
    let mut lens = ArrayVec::<u32, MAX_BATCH>::new();
    // Lengths of the frames on the ring, oldest first: the kernel
    // completes a socket's frames in the order they were queued.
    let mut in_flight = std::collections::VecDeque::with_capacity(total);
    let mut complete = |rings: &mut XskRings,
                        pool: &mut Vec<xsk::XskFrame>,
                        in_flight: &mut std::collections::VecDeque<u32>|
     -> usize {
        let n = rings.complete(0, pool).frames;
        for _ in 0..n {
            bytes += u64::from(in_flight.pop_front().unwrap_or(0));
        }
        sent += n as u64;
        n
    };
    let stopped_by = loop {
        complete(&mut rings, &mut pool, &mut in_flight);
        let n = match paced.turn(next, queued) {
            Turn::Stop(why) => break why,
            Turn::Wait(d) => {
                rings.kick_tx(0);
                thread::sleep(d);
                continue;
            }
            Turn::Send(n) => n.min(pool.len() as u64) as usize,
        };
        if n == 0 {
            // Every frame is on the tx ring: let the kernel work.
            rings.kick_tx(0);
            thread::sleep(XSK_FULL_SLEEP);
            continue;
        }
        let ts = bpf_tools::monotonic_ns();
        let mut seq = next;
        for _ in 0..n {
            if seq == paced.skip {
                seq += 1;
            }
            if seq >= cfg.count {
                break;
            }
            let Some(mut f) = pool.pop() else { break };
            rings.set_len(&mut f, template.len() as u32);
            let len = plan.stamp(rings.data(&mut f), seq, ts);
            rings.set_len(&mut f, len as u32);
            batch.push(f);
            seqs.push(seq);
            lens.push(len as u32);
            seq += 1;
        }
        let k = rings.tx(0, &mut batch);
        calls += 1;
        queued += k as u64;
        if k > 0 {
            last_tx = Some(Instant::now());
        }
        in_flight.extend(&lens[..k]);
        // Numbers of frames the ring did not take are used again.
        next = if k < seqs.len() { seqs[k] } else { seq };
        pool.extend(batch.drain(..));
        seqs.clear();
        lens.clear();
        rings.kick_tx(0);
    };
    let wall_loop = paced.start.elapsed();
    // Wait (bounded) until the kernel gave every frame back.
    let drain_end = Instant::now() + XSK_DRAIN;
    while pool.len() < total && Instant::now() < drain_end {
        rings.kick_tx(0);
        if complete(&mut rings, &mut pool, &mut in_flight) == 0 {
            thread::sleep(XSK_FULL_SLEEP);
        }
    }
    let unconfirmed = (total - pool.len()) as u64;
    let xsk_stats = xsk::socket_stats(fd).ok();
    Ok(GenReport {
        engine: Engine::Xsk,
        sent,
        bytes,
        next_seq: next,
        elapsed: last_tx.map_or(wall_loop, |t| t - paced.start),
        wall: paced.start.elapsed(),
        calls,
        stopped_by,
        frame_sizes: plan.sizes(),
        xsk: xsk_stats,
        unconfirmed,
        refused: 0,
    })
}

fn run_packet(cfg: &GenConfig, plan: &Plan, stop: &AtomicBool) -> Result<GenReport> {
    // Protocol 0: it never receives. The thread is in the namespace.
    let sock = traffic::Sender::here(&cfg.ifname)?;
    ensure!(
        sock.qdisc_bypass(),
        "PACKET_QDISC_BYPASS is not available on {}",
        cfg.ifname
    );
    sock.set_sndbuf(PACKET_SNDBUF)?;
    let template = plan.template();
    let mut frames: Vec<Vec<u8>> = (0..PACKET_BATCH).map(|_| template.to_vec()).collect();
    let mut lens = [0usize; PACKET_BATCH];
    let mut seqs = [0u64; PACKET_BATCH];
    let paced = Paced::new(cfg, PACKET_BATCH as u64, stop);
    let (mut next, mut sent, mut bytes, mut calls, mut refused) = (0u64, 0u64, 0u64, 0u64, 0u64);
    let mut last_tx: Option<Instant> = None;
    let stopped_by = loop {
        let n = match paced.turn(next, sent) {
            Turn::Stop(why) => break why,
            Turn::Wait(d) => {
                thread::sleep(d);
                continue;
            }
            Turn::Send(n) => n as usize,
        };
        let ts = bpf_tools::monotonic_ns();
        let mut seq = next;
        let mut k = 0;
        while k < n && seq < cfg.count {
            if seq == paced.skip {
                seq += 1;
                continue;
            }
            lens[k] = plan.stamp(&mut frames[k], seq, ts);
            seqs[k] = seq;
            seq += 1;
            k += 1;
        }
        if k == 0 {
            next = seq;
            continue;
        }
        calls += 1;
        let batch: ArrayVec<&[u8], PACKET_BATCH> = frames[..k]
            .iter()
            .zip(&lens[..k])
            .map(|(f, &l)| &f[..l])
            .collect();
        let done = match sock.send_batch(&batch) {
            Ok(d) => d,
            // The interface dropped the first frame at once (veth: the
            // peer's ring is full): offered and lost, like an XDP_TX into
            // a full ring.
            Err(e) if e.raw_os_error() == Some(libc::ENOBUFS) => {
                refused += 1;
                1
            }
            Err(e) if e.raw_os_error() == Some(libc::EAGAIN) => {
                thread::sleep(PACKET_FULL_SLEEP);
                0
            }
            Err(e) => bail!("sendmmsg on the AF_PACKET socket failed: {e}"),
        };
        if done > 0 {
            last_tx = Some(Instant::now());
        }
        sent += done as u64;
        bytes += lens[..done].iter().map(|&l| l as u64).sum::<u64>();
        // Numbers of frames the kernel did not take are used again.
        next = if done < k { seqs[done] } else { seq };
    };
    let wall = paced.start.elapsed();
    Ok(GenReport {
        engine: Engine::Packet,
        sent,
        bytes,
        next_seq: next,
        elapsed: last_tx.map_or(wall, |t| t - paced.start),
        wall,
        calls,
        stopped_by,
        frame_sizes: plan.sizes(),
        xsk: None,
        unconfirmed: 0,
        refused,
    })
}

/// Slots of the ring engine's PACKET_TX_RING.
const RING_FRAMES: usize = 256;
/// How long the ring engine waits for the kernel to finish its last slots.
const RING_DRAIN: Duration = Duration::from_secs(1);

fn run_ring(cfg: &GenConfig, plan: &Plan, stop: &AtomicBool) -> Result<GenReport> {
    let template = plan.template();
    // The thread is in the namespace.
    let mut ring = traffic::TxRing::here(&cfg.ifname, template.len(), RING_FRAMES)?;
    ring.init_all(template);
    let n_slots = ring.frames();
    // Length of the frame each slot holds, 0: none in flight.
    let mut in_slot = vec![0u32; n_slots];
    let paced = Paced::new(cfg, PACKET_BATCH as u64, stop);
    // `queued`: handed to the ring (paces); `sent`/`bytes`: slots the
    // kernel is done with.
    let (mut next, mut queued, mut calls, mut refused) = (0u64, 0u64, 0u64, 0u64);
    let (mut sent, mut bytes) = (0u64, 0u64);
    let mut last_tx: Option<Instant> = None;
    let stopped_by = loop {
        let n = match paced.turn(next, queued) {
            Turn::Stop(why) => break why,
            Turn::Wait(d) => {
                thread::sleep(d);
                continue;
            }
            Turn::Send(n) => n,
        };
        let ts = bpf_tools::monotonic_ns();
        let mut k = 0;
        while k < n && next < cfg.count {
            if next == paced.skip {
                next += 1;
                continue;
            }
            let slot = ring.next_slot();
            let seq = next;
            let mut len = 0;
            let Some(i) = ring.fill(|data| {
                len = plan.stamp(data, seq, ts);
                len
            }) else {
                break;
            };
            debug_assert_eq!(i, slot);
            // The slot's previous frame is done (the slot was free).
            if in_slot[i] > 0 {
                sent += 1;
                bytes += u64::from(in_slot[i]);
            }
            in_slot[i] = len as u32;
            next += 1;
            k += 1;
        }
        queued += k;
        calls += 1;
        match ring.kick() {
            Ok(_) => {}
            // The interface dropped a frame at once: offered and lost.
            Err(e) if e.raw_os_error() == Some(libc::ENOBUFS) => refused += 1,
            Err(e) if e.raw_os_error() == Some(libc::EAGAIN) => {}
            Err(e) => bail!("send on the PACKET_TX_RING failed: {e}"),
        }
        if k > 0 {
            last_tx = Some(Instant::now());
        } else {
            // Every slot is in flight: let the kernel work.
            thread::sleep(PACKET_FULL_SLEEP);
        }
    };
    let wall_loop = paced.start.elapsed();
    // Wait (bounded) until the kernel is done with every slot.
    let drain_end = Instant::now() + RING_DRAIN;
    loop {
        for (i, len) in in_slot.iter_mut().enumerate() {
            if *len > 0 && ring.is_free(i) {
                sent += 1;
                bytes += u64::from(*len);
                *len = 0;
            }
        }
        if in_slot.iter().all(|&l| l == 0) || Instant::now() >= drain_end {
            break;
        }
        let _ = ring.kick();
        thread::sleep(PACKET_FULL_SLEEP);
    }
    let unconfirmed = in_slot.iter().filter(|&&l| l > 0).count() as u64;
    Ok(GenReport {
        engine: Engine::Ring,
        sent,
        bytes,
        next_seq: next,
        elapsed: last_tx.map_or(wall_loop, |t| t - paced.start),
        wall: paced.start.elapsed(),
        calls,
        stopped_by,
        frame_sizes: plan.sizes(),
        xsk: None,
        unconfirmed,
        refused,
    })
}

// ----------------------------------------------------------------- cli --

/// `xskfwd gen`: send stamped UDP frames out of an interface.
#[derive(Debug, Clone, clap::Args)]
pub struct GenArgs {
    /// Interface to send out of (default with --lab: src0).
    pub interface: Option<String>,
    /// Network namespace of the interface.
    #[arg(long)]
    pub netns: Option<String>,
    /// Send from the source host of lab PREFIX (netns PREFIX-src, src0)
    /// to its destination host through the dut: fills in interface,
    /// namespace, MACs and addresses (explicit options win).
    #[arg(long, value_name = "PREFIX")]
    pub lab: Option<String>,
    /// With --lab: use the IPv6 addresses.
    #[arg(long)]
    pub ipv6: bool,
    /// Source MAC (default: the interface's).
    #[arg(long)]
    pub src_mac: Option<Mac>,
    /// Destination MAC (required without --lab).
    #[arg(long)]
    pub dst_mac: Option<Mac>,
    /// Source IP address (required without --lab).
    #[arg(long)]
    pub src_ip: Option<IpAddr>,
    /// Destination IP address (required without --lab).
    #[arg(long)]
    pub dst_ip: Option<IpAddr>,
    /// First UDP source port.
    #[arg(long, default_value_t = 49152)]
    pub src_port: u16,
    /// UDP destination port.
    #[arg(long, default_value_t = 9)]
    pub dst_port: u16,
    /// IPv4 TTL / IPv6 hop limit.
    #[arg(long, default_value_t = 64)]
    pub ttl: u8,
    /// Frame length without FCS (62/82..=MTU+14).
    #[arg(long, default_value_t = 64, conflicts_with = "imix")]
    pub size: usize,
    /// IMIX 7:4:1 of 64/570/1518-byte frames (clipped to the MTU).
    #[arg(long)]
    pub imix: bool,
    /// UDP source ports (flows), round robin.
    #[arg(long, default_value_t = 1)]
    pub flows: u32,
    /// Frames to send (sequence numbers 0..COUNT); default: until --duration.
    #[arg(long)]
    pub count: Option<u64>,
    /// Longest run, in seconds.
    #[arg(long, default_value_t = 10.0)]
    pub duration: f64,
    /// Frames per second (e.g. 100k, 1.5M); default: as fast as possible.
    #[arg(long, value_parser = parse_rate)]
    pub rate: Option<u64>,
    /// live: BPF_PROG_RUN live frames (XDP_TX, frames up to 3408 bytes);
    /// xsk: AF_XDP tx on queue 0; ring / packet: AF_PACKET transmit ring /
    /// sendmmsg with the qdisc bypassed (any size, e.g. jumbo frames).
    #[arg(long, value_enum, default_value_t = Engine::Live)]
    pub engine: Engine,
    /// Pin the sending thread to this CPU.
    #[arg(long)]
    pub cpu: Option<usize>,
    /// Print the report as one JSON line.
    #[arg(long)]
    pub json: bool,
    /// Self-check of a receiver: consume this sequence number without
    /// sending it (a checking sink must report exactly one loss).
    #[arg(long, hide = true)]
    pub skip_seq: Option<u64>,
}

impl GenArgs {
    /// The validated configuration (reads the lab and the interface MAC).
    pub fn to_config(&self) -> Result<GenConfig> {
        ensure!(
            self.duration > 0.0 && self.duration <= 86_400.0,
            "--duration must be between 0 and 86400 seconds"
        );
        let lab = match &self.lab {
            Some(p) => {
                Some(crate::lab::status(p)?.with_context(|| format!("no lab named {p} is up"))?)
            }
            None => None,
        };
        let netns = self
            .netns
            .clone()
            .or_else(|| lab.as_ref().map(|l| l.src_ns().to_string()));
        let ifname = match (&self.interface, &lab) {
            (Some(i), _) => i.clone(),
            (None, Some(l)) => l.src0.name.clone(),
            (None, None) => bail!("name the interface to send out of (or use --lab PREFIX)"),
        };
        let src_mac = match (self.src_mac, &lab) {
            (Some(m), _) => m.0,
            (None, Some(l)) if self.interface.is_none() => l.src0.mac,
            _ => {
                let i = ifname.clone();
                match &netns {
                    Some(ns) => netns::in_netns(ns, move || netns::mac_of(&i))??,
                    None => netns::mac_of(&i)?,
                }
            }
        };
        let from_lab = |f: fn(&crate::lab::LabInfo) -> IpAddr| lab.as_ref().map(f);
        let v6 = self.ipv6;
        let dst_mac = self
            .dst_mac
            .map(|m| m.0)
            .or(lab.as_ref().map(|l| l.dut0.mac))
            .context("--dst-mac is required without --lab")?;
        let src_ip = self
            .src_ip
            .or_else(|| {
                from_lab(if v6 {
                    |l| l.src0.ipv6.into()
                } else {
                    |l| l.src0.ipv4.into()
                })
            })
            .context("--src-ip is required without --lab")?;
        let dst_ip = self
            .dst_ip
            .or_else(|| {
                from_lab(if v6 {
                    |l| l.dst0.ipv6.into()
                } else {
                    |l| l.dst0.ipv4.into()
                })
            })
            .context("--dst-ip is required without --lab")?;
        let mut frame = FrameSpec::udp(src_mac, dst_mac, src_ip, dst_ip, self.size);
        frame.src_port = self.src_port;
        frame.dst_port = self.dst_port;
        frame.ttl = self.ttl;
        Ok(GenConfig {
            ifname,
            netns,
            frame,
            size: if self.imix {
                FrameSize::Imix
            } else {
                FrameSize::Fixed(self.size)
            },
            flows: self.flows,
            count: self.count.unwrap_or(u64::MAX),
            duration: Duration::from_secs_f64(self.duration),
            rate_pps: self.rate,
            engine: self.engine,
            cpu: self.cpu,
            skip_seq: self.skip_seq,
        })
    }

    /// Runs `xskfwd gen` and prints a summary (or JSON). SIGINT/SIGTERM
    /// end the run early, with a report.
    pub fn run(&self) -> Result<()> {
        let cfg = self.to_config()?;
        let stop = std::sync::Arc::new(AtomicBool::new(false));
        let ids = [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM]
            .iter()
            .map(|&sig| signal_hook::flag::register(sig, std::sync::Arc::clone(&stop)))
            .collect::<std::io::Result<Vec<_>>>()
            .context("installing signal handlers")?;
        let report = run_until(&cfg, &stop);
        for id in ids {
            signal_hook::low_level::unregister(id);
        }
        let report = report?;
        if self.json {
            println!("{}", report.to_json());
        } else {
            print!("{}", summary(&cfg, &report));
        }
        Ok(())
    }
}

/// The human summary of a run.
pub fn summary(cfg: &GenConfig, r: &GenReport) -> String {
    let secs = r.elapsed.as_secs_f64();
    let mut s = format!(
        "gen: {} engine on {}{}: sent {} frames ({} bytes) in {secs:.3} s = {} pps, {:.3} Gbit/s on the wire\n",
        r.engine.name(),
        cfg.ifname,
        cfg.netns
            .as_ref()
            .map_or(String::new(), |n| format!(" (netns {n})")),
        r.sent,
        r.bytes,
        stats::human(r.pps()),
        r.wire_bps() / 1e9,
    );
    s += &format!(
        "     sizes {:?}, {} flow(s), sequence numbers 0..{}, {} call(s), stopped by {}\n",
        r.frame_sizes,
        cfg.flows,
        r.next_seq,
        r.calls,
        r.stopped_by.name()
    );
    if r.unconfirmed > 0 {
        s += &format!(
            "     {} frames were not completed by the kernel and are not counted\n",
            r.unconfirmed
        );
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use etherparse::{NetSlice, SlicedPacket, TransportSlice};
    use std::net::{Ipv4Addr, Ipv6Addr};

    const A: [u8; 6] = [0x02, 0, 0, 0, 0, 1];
    const B: [u8; 6] = [0x02, 0, 0, 0, 0, 2];

    fn spec(v6: bool) -> FrameSpec {
        let (s, d): (IpAddr, IpAddr) = if v6 {
            (
                "fd00:0:0:1::1".parse::<Ipv6Addr>().unwrap().into(),
                "fd00:0:0:2::1".parse::<Ipv6Addr>().unwrap().into(),
            )
        } else {
            (
                Ipv4Addr::new(198, 18, 0, 1).into(),
                Ipv4Addr::new(198, 18, 1, 1).into(),
            )
        };
        FrameSpec::udp(A, B, s, d, 64)
    }

    /// Frame `seq` built from scratch with etherparse (checksums computed
    /// by etherparse over the whole frame).
    fn reference(plan: &Plan, f: &FrameSpec, seq: u64, ts: u64, len: usize) -> Vec<u8> {
        let udp_off = plan.udp_off;
        let mut payload = plan.template()[udp_off + UDP_LEN..len].to_vec();
        payload[GEN_SEQ_OFF..GEN_SEQ_OFF + 8].copy_from_slice(&seq.to_be_bytes());
        payload[GEN_TS_OFF..GEN_TS_OFF + 8].copy_from_slice(&ts.to_be_bytes());
        let port = f.src_port + (seq % u64::from(plan.params().flows)) as u16;
        let eth = PacketBuilder::ethernet2(f.src_mac, f.dst_mac);
        let ip = match (f.src_ip, f.dst_ip) {
            (IpAddr::V4(s), IpAddr::V4(d)) => eth.ipv4(s.octets(), d.octets(), f.ttl),
            (IpAddr::V6(s), IpAddr::V6(d)) => eth.ipv6(s.octets(), d.octets(), f.ttl),
            _ => unreachable!(),
        };
        let mut out = Vec::new();
        ip.udp(port, f.dst_port).write(&mut out, &payload).unwrap();
        out
    }

    #[test]
    fn imix_schedule_is_7_4_1_and_interleaved() {
        let s = imix_schedule(&IMIX_WEIGHTS);
        assert_eq!(s.len(), 12);
        for (i, w) in IMIX_WEIGHTS.iter().enumerate() {
            assert_eq!(s.iter().filter(|&&k| k == i as u8).count(), *w as usize);
        }
        // No run of the same size longer than 2 (cyclically).
        let twice: Vec<u8> = s.iter().chain(s.iter()).copied().collect();
        assert!(
            twice.windows(3).all(|w| !(w[0] == w[1] && w[1] == w[2])),
            "{s:?}"
        );
        assert_eq!(imix_schedule(&[1]), vec![0]);
        assert_eq!(imix_schedule(&[1, 1]), vec![0, 1]);
        assert!(imix_schedule(&[]).is_empty());
    }

    #[test]
    fn a_paced_loop_stops_at_its_bounds() {
        let stop = AtomicBool::new(false);
        let mut cfg = GenConfig::new("x", spec(false));
        cfg.count = 10;
        cfg.duration = Duration::from_secs(60);
        let paced = Paced::new(&cfg, 4, &stop);
        // Unpaced: bursts of at most 4, at most what is left.
        assert_eq!(paced.turn(0, 0), Turn::Send(4));
        assert_eq!(paced.turn(8, 8), Turn::Send(2));
        assert_eq!(paced.turn(10, 10), Turn::Stop(StopReason::Count));
        // A skipped last number ends the count one early.
        cfg.skip_seq = Some(9);
        let paced = Paced::new(&cfg, 4, &stop);
        assert_eq!(paced.turn(9, 9), Turn::Stop(StopReason::Count));
        assert_eq!(paced.turn(8, 8), Turn::Send(2));
        // Paced at 10 frames/s: the second frame waits, never past the
        // deadline.
        cfg.rate_pps = Some(10);
        cfg.duration = Duration::from_millis(50);
        let paced = Paced::new(&cfg, 4, &stop);
        assert_eq!(paced.turn(0, 0), Turn::Send(1));
        match paced.turn(1, 1) {
            Turn::Wait(d) => assert!(d <= Duration::from_millis(50), "{d:?}"),
            t => panic!("{t:?}"),
        }
        std::thread::sleep(Duration::from_millis(60));
        assert_eq!(paced.turn(1, 1), Turn::Stop(StopReason::Duration));
        stop.store(true, Ordering::Relaxed);
        assert_eq!(paced.turn(0, 0), Turn::Stop(StopReason::Stopped));
    }

    #[test]
    fn stamped_frames_equal_frames_built_from_scratch() {
        for v6 in [false, true] {
            let f = spec(v6);
            for (size, flows) in [
                (FrameSize::Fixed(if v6 { 82 } else { 64 }), 1),
                (FrameSize::Fixed(1514), 7),
                (FrameSize::Imix, 3),
            ] {
                let plan = Plan::new(&f, size, flows, 1500).unwrap();
                let mut buf = plan.template().to_vec();
                for seq in (0..40u64).chain([0xffff, 0x1_0000, u64::MAX - 3, 0xfffe_ffff_0001]) {
                    for ts in [0u64, 1, 0xffff_ffff_ffff_ffff, 0x0123_4567_89ab_cdef] {
                        let len = plan.stamp(&mut buf, seq, ts);
                        assert_eq!(len, plan.frame_len(seq));
                        let want = reference(&plan, &f, seq, ts, len);
                        assert_eq!(&buf[..len], &want[..], "v6={v6} {size:?} seq {seq} ts {ts}");
                        assert_eq!(traffic::parse_seq(&buf[..len]), Some(seq));
                    }
                }
            }
        }
    }

    #[test]
    fn imix_sizes_are_clipped_and_cycle_in_order() {
        let plan = Plan::new(&spec(false), FrameSize::Imix, 1, 1500).unwrap();
        assert_eq!(plan.sizes(), vec![64, 570, 1514]);
        assert_eq!(plan.template().len(), 1514);
        let sched = imix_schedule(&IMIX_WEIGHTS);
        for seq in 0..24 {
            assert_eq!(
                plan.frame_len(seq),
                plan.sizes()[usize::from(sched[seq as usize % 12])]
            );
        }
        let plan = Plan::new(&spec(true), FrameSize::Imix, 1, 1000).unwrap();
        assert_eq!(plan.sizes(), vec![82, 570, 1014]);
    }

    #[test]
    fn udp_checksum_is_never_zero_and_verifies() {
        // Search for a (seq, ts) whose checksum would compute to 0.
        let plan = Plan::new(&spec(false), FrameSize::Fixed(64), 1, 1500).unwrap();
        let mut buf = plan.template().to_vec();
        let mut seen_ffff = false;
        for seq in 0..200_000u64 {
            plan.stamp(&mut buf, seq, 0);
            let c = u16::from_be_bytes([buf[40], buf[41]]);
            assert_ne!(c, 0);
            seen_ffff |= c == 0xffff;
        }
        assert!(seen_ffff, "the 0 -> 0xffff case was not exercised");
        let p = SlicedPacket::from_ethernet(&buf).unwrap();
        let (Some(NetSlice::Ipv4(ip)), Some(TransportSlice::Udp(udp))) = (&p.net, &p.transport)
        else {
            panic!()
        };
        let h = ip.header().to_header();
        let u = udp.to_header();
        assert_eq!(u.calc_checksum_ipv4(&h, udp.payload()).unwrap(), u.checksum);
    }

    #[test]
    fn bad_plans_are_errors() {
        let f = spec(false);
        assert!(Plan::new(&f, FrameSize::Fixed(61), 1, 1500).is_err());
        assert!(Plan::new(&f, FrameSize::Fixed(62), 1, 1500).is_ok());
        assert!(Plan::new(&f, FrameSize::Fixed(1515), 1, 1500).is_err());
        assert!(Plan::new(&f, FrameSize::Fixed(9014), 1, 9000).is_ok());
        assert!(Plan::new(&spec(true), FrameSize::Fixed(81), 1, 1500).is_err());
        assert!(Plan::new(&f, FrameSize::Fixed(64), 0, 1500).is_err());
        // Ports 49152..=65535.
        assert!(Plan::new(&f, FrameSize::Fixed(64), 16384, 1500).is_ok());
        assert!(Plan::new(&f, FrameSize::Fixed(64), 16385, 1500).is_err());
        let mixed = FrameSpec {
            dst_ip: Ipv6Addr::LOCALHOST.into(),
            ..f.clone()
        };
        assert!(Plan::new(&mixed, FrameSize::Fixed(100), 1, 1500).is_err());
        assert!(Plan::new(&f, FrameSize::Fixed(64), 1, 40).is_err());
    }

    #[test]
    fn pacer_keeps_the_average_rate() {
        let p = Pacer {
            rate_pps: Some(100_000),
            min_burst: 100,
            max_burst: 1 << 20,
        };
        // At t=0 one frame is due: less than a burst, so wait until 100 are.
        assert_eq!(
            p.step(Duration::ZERO, 0, 1_000_000),
            Step::Wait(Duration::from_nanos(99 * 10_000))
        );
        assert_eq!(
            p.step(Duration::from_micros(990), 0, 1_000_000),
            Step::Send(100)
        );
        assert_eq!(
            p.step(Duration::from_millis(10), 0, 1_000_000),
            Step::Send(1001)
        );
        // The last frames go out even when fewer than a burst remain.
        assert_eq!(p.step(Duration::from_secs(10), 999_990, 10), Step::Send(10));
        // Simulate: calls whenever due, each taking 50 µs; after 1 s the
        // count is within one burst of the rate.
        let mut t = Duration::ZERO;
        let mut done = 0u64;
        while t < Duration::from_secs(1) {
            match p.step(t, done, u64::MAX - done) {
                Step::Send(n) => {
                    done += n;
                    t += Duration::from_micros(50);
                }
                Step::Wait(d) => t += d,
            }
        }
        assert!((100_000..=100_000 + 100).contains(&done), "{done}");
        let unlimited = Pacer {
            rate_pps: None,
            min_burst: 1,
            max_burst: 500,
        };
        assert_eq!(unlimited.step(Duration::ZERO, 0, 10_000), Step::Send(500));
        assert_eq!(unlimited.step(Duration::ZERO, 0, 7), Step::Send(7));
    }

    #[test]
    fn pacer_does_not_overflow() {
        let p = Pacer {
            rate_pps: Some(u64::MAX),
            min_burst: 1,
            max_burst: 10,
        };
        assert_eq!(
            p.step(Duration::from_secs(1 << 40), 0, u64::MAX),
            Step::Send(10)
        );
        let slow = Pacer {
            rate_pps: Some(1),
            min_burst: 1,
            max_burst: 10,
        };
        assert_eq!(
            slow.step(Duration::ZERO, u64::MAX - 1, 1),
            Step::Wait(Duration::from_nanos(u64::MAX))
        );
    }

    #[test]
    fn live_calls_fit_the_time_and_keep_the_rate() {
        let mut est = LiveEstimates::default();
        // Unlimited: a small calibrating call, then a second's worth.
        let c = plan_live_call(
            None,
            Duration::ZERO,
            0,
            u64::MAX,
            Duration::from_secs(10),
            &est,
        );
        assert_eq!(
            (c.frames, c.interval_ps, c.repeat),
            (LIVE_FIRST_CALL, 0, LIVE_FIRST_CALL as u32)
        );
        est.update(
            LIVE_FIRST_CALL,
            Duration::from_millis(25) + Duration::from_nanos(200 * LIVE_FIRST_CALL),
            200,
        );
        assert!(est.measured && est.run_ns == 200.0);
        assert!(est.gap >= Duration::from_millis(24) && est.gap <= Duration::from_millis(26));
        let c = plan_live_call(
            None,
            Duration::ZERO,
            0,
            u64::MAX,
            Duration::from_secs(10),
            &est,
        );
        assert_eq!(c.frames, 5_000_000);
        // Never past the count, shorter near the deadline.
        let c = plan_live_call(None, Duration::ZERO, 0, 1000, Duration::from_secs(10), &est);
        assert_eq!(c.frames, 1000);
        let c = plan_live_call(
            None,
            Duration::ZERO,
            0,
            u64::MAX,
            Duration::from_millis(125),
            &est,
        );
        assert!((480_000..=520_000).contains(&c.frames), "{c:?}");

        // Paced at 100 kpps: simulate calls (each: the gap, then the call
        // time, sending what the plan allows); after ~10 s the average is
        // right within one call's rounding.
        let rate = 100_000u64;
        let mut t = Duration::ZERO;
        let mut done = 0u64;
        let est = LiveEstimates {
            gap: Duration::from_millis(25),
            run_ns: 50.0,
            measured: true,
        };
        while t < Duration::from_secs(10) {
            let c = plan_live_call(
                Some(rate),
                t,
                done,
                u64::MAX,
                Duration::from_secs(100),
                &est,
            );
            assert!(c.interval_ps > 0 && u64::from(c.repeat) > c.frames);
            // The frames are spread over the call: interval * frames = call time.
            let span = u128::from(c.interval_ps) * u128::from(c.frames);
            assert!(span <= LIVE_CALL_TIME.as_nanos() * 1000, "{c:?}");
            done += c.frames;
            t += est.gap + Duration::from_nanos((span / 1000) as u64);
        }
        let expected = (t.as_secs_f64() * rate as f64) as u64;
        assert!(done.abs_diff(expected) <= rate / 10, "{done} vs {expected}");
        // The instantaneous rate inside a call is only the gaps' share above.
        let c = plan_live_call(
            Some(rate),
            Duration::from_secs(5),
            500_000,
            u64::MAX,
            Duration::from_secs(100),
            &est,
        );
        let inner = 1e12 / c.interval_ps as f64;
        assert!(inner > rate as f64 && inner < rate as f64 * 1.05, "{inner}");
        // The count still bounds a paced call (at the same spacing, so the
        // call is shorter); a tiny rate still sends.
        let c = plan_live_call(
            Some(rate),
            Duration::ZERO,
            0,
            50_000,
            Duration::from_secs(100),
            &est,
        );
        assert_eq!(c.frames, 50_000);
        let span_ms = c.interval_ps as f64 * 50_000.0 / 1e9;
        assert!((470.0..=500.0).contains(&span_ms), "{span_ms}");
        assert!(u64::from(c.repeat) < 50_000 + 11_000_000, "{c:?}");
        let c = plan_live_call(
            Some(1),
            Duration::ZERO,
            0,
            100,
            Duration::from_secs(100),
            &est,
        );
        assert_eq!(c.frames, 1);
    }

    #[derive(clap::Parser, Debug)]
    struct Cli {
        #[command(flatten)]
        gen: GenArgs,
    }

    #[test]
    fn cli_flags_make_a_config() {
        use clap::{CommandFactory, Parser};
        Cli::command().debug_assert();
        let cli = Cli::try_parse_from([
            "gen",
            "eth9",
            "--netns",
            "ns1",
            "--src-mac",
            "02:00:00:00:00:01",
            "--dst-mac",
            "02:00:00:00:00:02",
            "--src-ip",
            "fd00::1",
            "--dst-ip",
            "fd00::2",
            "--imix",
            "--flows",
            "8",
            "--count",
            "5000",
            "--duration",
            "2.5",
            "--rate",
            "100k",
            "--engine",
            "xsk",
            "--cpu",
            "1",
            "--json",
        ])
        .unwrap();
        let cfg = cli.gen.to_config().unwrap();
        assert_eq!(cfg.ifname, "eth9");
        assert_eq!(cfg.netns.as_deref(), Some("ns1"));
        assert_eq!(cfg.size, FrameSize::Imix);
        assert_eq!((cfg.flows, cfg.count), (8, 5000));
        assert_eq!(cfg.duration, Duration::from_millis(2500));
        assert_eq!(cfg.rate_pps, Some(100_000));
        assert_eq!(
            (cfg.engine, cfg.cpu, cfg.skip_seq),
            (Engine::Xsk, Some(1), None)
        );
        assert_eq!(cfg.frame.dst_mac, [2, 0, 0, 0, 0, 2]);
        assert!(cfg.frame.is_v6());
        assert!(cli.gen.json);
        // Defaults: 64-byte frames, unbounded count, 10 s, unlimited, live.
        let cli = Cli::try_parse_from([
            "gen",
            "eth9",
            "--src-mac",
            "02:00:00:00:00:01",
            "--dst-mac",
            "02:00:00:00:00:02",
            "--src-ip",
            "198.18.0.1",
            "--dst-ip",
            "198.18.1.1",
        ])
        .unwrap();
        let cfg = cli.gen.to_config().unwrap();
        assert_eq!(cfg.size, FrameSize::Fixed(64));
        assert_eq!(
            (cfg.count, cfg.rate_pps, cfg.engine),
            (u64::MAX, None, Engine::Live)
        );
        assert_eq!(cfg.duration, Duration::from_secs(10));
        // Errors: missing addresses, --size with --imix, bad duration.
        assert!(Cli::try_parse_from(["gen", "eth9"])
            .unwrap()
            .gen
            .to_config()
            .is_err());
        assert!(Cli::try_parse_from(["gen", "eth9", "--size", "100", "--imix"]).is_err());
        assert!(Cli::try_parse_from(["gen", "eth9", "--rate", "fast"]).is_err());
        let cli = Cli::try_parse_from([
            "gen",
            "eth9",
            "--src-mac",
            "02:00:00:00:00:01",
            "--dst-mac",
            "02:00:00:00:00:02",
            "--src-ip",
            "198.18.0.1",
            "--dst-ip",
            "198.18.1.1",
            "--duration",
            "0",
        ])
        .unwrap();
        assert!(cli.gen.to_config().is_err());
    }

    #[test]
    fn rates_parse_with_suffixes() {
        assert_eq!(parse_rate("100000"), Ok(100_000));
        assert_eq!(parse_rate("100k"), Ok(100_000));
        assert_eq!(parse_rate("1.5M"), Ok(1_500_000));
        assert_eq!(parse_rate("2G"), Ok(2_000_000_000));
        for bad in ["", "k", "0", "-5", "1e13", "fast", "NaN"] {
            assert!(parse_rate(bad).is_err(), "{bad}");
        }
    }
}
