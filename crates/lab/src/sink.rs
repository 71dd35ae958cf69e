//! The receiving end of the benchmarks.
//!
//! - [`SinkMode::Count`]: attaches `xskfwd_sink` to the interface (through a
//!   bpf_link, so it goes away with the process even on a crash); the
//!   program counts frames and bytes per CPU and drops them (or passes
//!   them to the kernel). Nothing reaches userspace: this measures what
//!   arrives, at any rate the interface can deliver.
//! - [`SinkMode::Check`]: the program redirects every frame to AF_XDP
//!   sockets (one per rx queue; copy mode on veth) and a receiver thread
//!   reads the generator's stamp ([`crate::gen`]): sequence number and
//!   transmit timestamp. It reports received, lost, duplicate and reordered
//!   frames ([`SeqTracker`]) and one-way latency percentiles
//!   ([`LatencyHistogram`]; the generator's `bpf_ktime_get_ns` against
//!   CLOCK_MONOTONIC at receipt — the same clock, so sender and sink must
//!   run on the same host).
//!
//! The accounting parts ([`parse_stamp`], [`SeqTracker`],
//! [`LatencyHistogram`]) are pure: no I/O, no clock, bounded memory.
//!
//! This module must never: attach a program other than through a bpf_link,
//! run without a time bound (every sink stops at its duration; the receiver
//! thread polls with a timeout and is joined on stop or drop), move the
//! caller's thread into another namespace, or allocate per frame.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};
use arrayvec::ArrayVec;

use crate::bpf_tools::{
    self, SinkAction, Tool, ToolCounters, ToolProg, XdpLink, GEN_SEQ_OFF, GEN_STAMP_LEN, GEN_TS_OFF,
};
use crate::traffic;
use xskfwd::config::{BindMode, XdpMode, MAX_BATCH};
use xskfwd::netns;
use xskfwd::stats::{self, XskStats};
use xskfwd::xsk::{self, SharedUmem, SocketOptions, XskRings, XskSocket};
use xskfwd_core::rings::Rings;

// ---------------------------------------------------------------- pure --

/// Sequence number and timestamp of a generator frame (Ethernet, IPv4 or
/// IPv6 without extension headers, UDP, payload starting with
/// [`traffic::MAGIC`]); `None` for anything else.
pub fn parse_stamp(frame: &[u8]) -> Option<(u64, u64)> {
    let ethertype = u16::from_be_bytes([*frame.get(12)?, *frame.get(13)?]);
    let udp = match ethertype {
        0x0800 => {
            let vihl = *frame.get(14)?;
            let ihl = usize::from(vihl & 0x0f) * 4;
            if vihl >> 4 != 4 || ihl < 20 || *frame.get(14 + 9)? != 17 {
                return None;
            }
            14 + ihl
        }
        0x86dd => {
            if *frame.get(14)? >> 4 != 6 || *frame.get(14 + 6)? != 17 {
                return None;
            }
            14 + 40
        }
        _ => return None,
    };
    let p = frame.get(udp + 8..udp + 8 + GEN_STAMP_LEN)?;
    if p[..traffic::MAGIC.len()] != traffic::MAGIC {
        return None;
    }
    let be = |o: usize| u64::from_be_bytes(p[o..o + 8].try_into().unwrap_or([0; 8]));
    Some((be(GEN_SEQ_OFF), be(GEN_TS_OFF)))
}

/// Sequence numbers a [`SeqTracker`] remembers behind the highest one
/// (4 Mi: 512 KiB of bits, one second of reordering at 4 Mpps).
pub const SEQ_WINDOW: u64 = 1 << 22;
/// A sequence number this far beyond the highest one so far is taken for
/// garbage and counted as out of range instead of as a huge loss.
pub const MAX_SEQ_JUMP: u64 = 1 << 32;

/// Loss, duplicate and reorder accounting over sequence numbers that start
/// at 0, in bounded memory: a bitmap of the last [`SEQ_WINDOW`] numbers
/// behind the highest one seen.
///
/// - *reordered*: arrived after a higher number (and not a duplicate);
/// - *duplicate*: seen before, within the window;
/// - *late*: older than the window; it was counted lost when it left the
///   window and stays so (it cannot be told from a duplicate any more);
/// - *lost*: numbers of the expected range `0..expect` (or `0..=highest`)
///   never seen while in the window;
/// - *out of range*: `>= expect`, or more than [`MAX_SEQ_JUMP`] ahead.
#[derive(Clone, Debug)]
pub struct SeqTracker {
    bits: Vec<u64>,
    window: u64,
    /// Lowest number still in the window; everything below is decided.
    base: u64,
    /// Highest number seen + 1 (0: none yet).
    next: u64,
    expect: Option<u64>,
    unique: u64,
    duplicates: u64,
    reordered: u64,
    late: u64,
    out_of_range: u64,
    lost_evicted: u64,
}

/// What a [`SeqTracker`] found.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SeqSummary {
    /// Distinct sequence numbers received (in range).
    pub unique: u64,
    /// Expected numbers never received.
    pub lost: u64,
    /// Received again.
    pub duplicates: u64,
    /// Received after a higher number.
    pub reordered: u64,
    /// Received too late to be matched (see [`SeqTracker`]).
    pub late: u64,
    /// Outside the expected range.
    pub out_of_range: u64,
    /// Highest number seen.
    pub highest: Option<u64>,
}

impl SeqTracker {
    /// A tracker expecting numbers `0..expect` (or any, if `None`).
    pub fn new(expect: Option<u64>) -> Self {
        Self::with_window(expect, SEQ_WINDOW)
    }

    /// [`SeqTracker::new`] with another window (a power of two >= 64).
    pub fn with_window(expect: Option<u64>, window: u64) -> Self {
        let window = window.max(64).next_power_of_two();
        SeqTracker {
            bits: vec![0; (window / 64) as usize],
            window,
            base: 0,
            next: 0,
            expect,
            unique: 0,
            duplicates: 0,
            reordered: 0,
            late: 0,
            out_of_range: 0,
            lost_evicted: 0,
        }
    }

    fn slot(&self, seq: u64) -> (usize, u64) {
        let i = seq & (self.window - 1);
        ((i / 64) as usize, 1u64 << (i % 64))
    }

    fn test_and_set(&mut self, seq: u64) -> bool {
        let (w, m) = self.slot(seq);
        let was = self.bits[w] & m != 0;
        self.bits[w] |= m;
        was
    }

    fn test_and_clear(&mut self, seq: u64) -> bool {
        let (w, m) = self.slot(seq);
        let was = self.bits[w] & m != 0;
        self.bits[w] &= !m;
        was
    }

    /// Accounts one received sequence number.
    pub fn record(&mut self, seq: u64) {
        if self.expect.is_some_and(|e| seq >= e) || seq - seq.min(self.next) > MAX_SEQ_JUMP {
            self.out_of_range += 1;
            return;
        }
        if seq < self.base {
            self.late += 1;
            return;
        }
        if seq < self.next {
            if self.test_and_set(seq) {
                self.duplicates += 1;
            } else {
                self.unique += 1;
                self.reordered += 1;
            }
            return;
        }
        // A new highest number: slide the window so it holds seq.
        let new_base = (seq + 1).saturating_sub(self.window);
        if new_base > self.base {
            let stop = new_base.min(self.next);
            for s in self.base..stop {
                if !self.test_and_clear(s) {
                    self.lost_evicted += 1;
                }
            }
            // Numbers skipped beyond the old highest that are already
            // out of the window were never seen.
            self.lost_evicted += new_base.saturating_sub(self.next);
            self.base = new_base;
        }
        self.test_and_set(seq);
        self.unique += 1;
        self.next = seq + 1;
    }

    /// Distinct numbers received so far.
    pub fn unique(&self) -> u64 {
        self.unique
    }

    /// Whether every expected number arrived (never without `expect`).
    pub fn complete(&self) -> bool {
        self.expect.is_some_and(|e| self.unique >= e)
    }

    /// The accounting so far (O(window) for the numbers still in it).
    pub fn summary(&self) -> SeqSummary {
        let end = self.expect.unwrap_or(self.next);
        let mut lost = self.lost_evicted + end.saturating_sub(self.next);
        for s in self.base..self.next.min(end) {
            let (w, m) = self.slot(s);
            if self.bits[w] & m == 0 {
                lost += 1;
            }
        }
        SeqSummary {
            unique: self.unique,
            lost,
            duplicates: self.duplicates,
            reordered: self.reordered,
            late: self.late,
            out_of_range: self.out_of_range,
            highest: self.next.checked_sub(1),
        }
    }
}

/// Sub-buckets per power of two of a [`LatencyHistogram`] (2^7: values are
/// kept to within 1/128, under 0.8%).
const SUB_BITS: u32 = 7;
const SUB: u64 = 1 << SUB_BITS;
const BUCKETS: usize = ((64 - SUB_BITS as usize) * SUB as usize) + SUB as usize;

/// A log-linear histogram of nanosecond values (HDR-style): exact below
/// 256 ns, within 1/128 above, fixed memory (about 58 KiB), exact min, max
/// and mean.
#[derive(Clone, Debug)]
pub struct LatencyHistogram {
    counts: Vec<u64>,
    n: u64,
    min: u64,
    max: u64,
    sum: u128,
}

impl Default for LatencyHistogram {
    fn default() -> Self {
        LatencyHistogram {
            counts: vec![0; BUCKETS],
            n: 0,
            min: u64::MAX,
            max: 0,
            sum: 0,
        }
    }
}

fn bucket_of(v: u64) -> usize {
    let h = 63 - v.max(1).leading_zeros();
    let s = h.saturating_sub(SUB_BITS);
    (u64::from(s) * SUB + (v >> s)) as usize
}

/// Largest value of bucket `i`.
fn bucket_high(i: usize) -> u64 {
    let i = i as u64;
    if i < 2 * SUB {
        return i;
    }
    let s = i / SUB - 1;
    let top = i - s * SUB;
    ((top + 1) << s).wrapping_sub(1)
}

/// Summary of a [`LatencyHistogram`] in nanoseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Latency {
    /// Values recorded.
    pub samples: u64,
    /// Smallest.
    pub min_ns: u64,
    /// Median.
    pub p50_ns: u64,
    /// 90th percentile.
    pub p90_ns: u64,
    /// 99th percentile.
    pub p99_ns: u64,
    /// Largest.
    pub max_ns: u64,
    /// Mean.
    pub mean_ns: u64,
}

impl LatencyHistogram {
    /// Records one value.
    pub fn record(&mut self, ns: u64) {
        self.counts[bucket_of(ns)] += 1;
        self.n += 1;
        self.min = self.min.min(ns);
        self.max = self.max.max(ns);
        self.sum += u128::from(ns);
    }

    /// Values recorded.
    pub fn len(&self) -> u64 {
        self.n
    }

    /// Whether nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    /// The `p`-th percentile (nearest rank, `0 < p <= 100`): the smallest
    /// recorded value with at least `p`% of all values at or below it, to
    /// within 1/128 (never above the maximum). 0 when empty.
    pub fn percentile(&self, p: f64) -> u64 {
        if self.n == 0 {
            return 0;
        }
        let rank = ((p / 100.0 * self.n as f64).ceil() as u64).clamp(1, self.n);
        let mut seen = 0;
        for (i, &c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return bucket_high(i).clamp(self.min, self.max);
            }
        }
        self.max
    }

    /// min, p50, p90, p99, max, mean.
    pub fn summary(&self) -> Latency {
        if self.n == 0 {
            return Latency::default();
        }
        Latency {
            samples: self.n,
            min_ns: self.min,
            p50_ns: self.percentile(50.0),
            p90_ns: self.percentile(90.0),
            p99_ns: self.percentile(99.0),
            max_ns: self.max,
            mean_ns: (self.sum / u128::from(self.n)) as u64,
        }
    }
}

// ---------------------------------------------------------------- sink --

/// What the sink does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum SinkMode {
    /// Count frames and bytes in XDP and drop them.
    Count,
    /// Receive over AF_XDP and check sequence numbers and latency.
    Check,
}

impl SinkMode {
    /// Name for reports.
    pub fn name(self) -> &'static str {
        match self {
            SinkMode::Count => "count",
            SinkMode::Check => "check",
        }
    }
}

/// Where and how to sink.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SinkConfig {
    /// Interface to receive on.
    pub ifname: String,
    /// Its network namespace (`None`: the caller's).
    pub netns: Option<String>,
    /// Count or check.
    pub mode: SinkMode,
    /// Count mode: XDP_PASS the frames to the kernel instead of dropping.
    pub pass: bool,
    /// Hard bound: the sink stops receiving after this long.
    pub duration: Duration,
    /// [`Sink::wait`] returns once no frame arrived for this long (after
    /// the first one).
    pub idle: Option<Duration>,
    /// Sequence numbers expected, `0..expect` (check mode: tail losses
    /// count; both modes: [`Sink::wait`] returns once all arrived).
    pub expect: Option<u64>,
    /// XDP attach mode.
    pub xdp_mode: XdpMode,
    /// AF_XDP bind mode (check mode).
    pub bind: BindMode,
    /// Check mode: CPU to pin the receiver thread to.
    pub cpu: Option<usize>,
}

impl SinkConfig {
    /// A sink on `ifname` of the caller's namespace: 10 s at most, no idle
    /// stop, nothing expected, auto modes.
    pub fn new(ifname: impl Into<String>, mode: SinkMode) -> Self {
        SinkConfig {
            ifname: ifname.into(),
            netns: None,
            mode,
            pass: false,
            duration: Duration::from_secs(10),
            idle: None,
            expect: None,
            xdp_mode: XdpMode::Auto,
            bind: BindMode::Auto,
            cpu: None,
        }
    }
}

/// Counts so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SinkSnapshot {
    /// Frames the XDP program saw.
    pub packets: u64,
    /// Their bytes.
    pub bytes: u64,
    /// Check mode: frames with a generator stamp read by the receiver.
    pub received: u64,
    /// Since the start.
    pub elapsed: Duration,
}

/// What check mode found.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CheckReport {
    /// Frames with a generator stamp (duplicates included).
    pub received: u64,
    /// Sequence accounting.
    pub seq: SeqSummary,
    /// One-way latency.
    pub latency: Latency,
    /// Frames without a generator stamp.
    pub not_ours: u64,
    /// Stamps from the future (receiver clock behind the stamp; counted
    /// as 0 ns).
    pub negative_latency: u64,
    /// AF_XDP sockets' statistics, summed (rx ring full = loss at the
    /// sink, not in the path under test).
    pub xsk: XskStats,
    /// Sockets (rx queues) bound.
    pub queues: u32,
    /// Whether they are zero-copy.
    pub zero_copy: bool,
}

/// What a sink saw.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SinkReport {
    /// Mode.
    pub mode: SinkMode,
    /// Frames the XDP program saw (all of them, ours or not).
    pub packets: u64,
    /// Their bytes.
    pub bytes: u64,
    /// Program counters (redirected / passed / dropped).
    pub counters: ToolCounters,
    /// From start to stop.
    pub elapsed: Duration,
    /// Check mode results.
    pub check: Option<CheckReport>,
}

impl SinkReport {
    /// Frames per second over the run.
    pub fn pps(&self) -> f64 {
        stats::rate(self.packets, self.elapsed.as_secs_f64())
    }

    /// One JSON object (`"type": "sink"`).
    pub fn to_json(&self) -> serde_json::Value {
        let us = |ns: u64| ns as f64 / 1e3;
        serde_json::json!({
            "type": "sink",
            "mode": self.mode.name(),
            "packets": self.packets,
            "bytes": self.bytes,
            "elapsed_s": self.elapsed.as_secs_f64(),
            "pps": self.pps(),
            "xdp": {
                "redirected": self.counters.redirected,
                "passed": self.counters.passed,
                "dropped": self.counters.dropped,
            },
            "check": self.check.map(|c| serde_json::json!({
                "received": c.received,
                "unique": c.seq.unique,
                "lost": c.seq.lost,
                "duplicates": c.seq.duplicates,
                "reordered": c.seq.reordered,
                "late": c.seq.late,
                "out_of_range": c.seq.out_of_range,
                "highest_seq": c.seq.highest,
                "not_ours": c.not_ours,
                "negative_latency": c.negative_latency,
                "latency_us": {
                    "samples": c.latency.samples,
                    "min": us(c.latency.min_ns),
                    "p50": us(c.latency.p50_ns),
                    "p90": us(c.latency.p90_ns),
                    "p99": us(c.latency.p99_ns),
                    "max": us(c.latency.max_ns),
                    "mean": us(c.latency.mean_ns),
                },
                "xsk": {
                    "rx_dropped": c.xsk.rx_dropped,
                    "rx_ring_full": c.xsk.rx_ring_full,
                    "fill_ring_empty": c.xsk.fill_ring_empty,
                },
                "queues": c.queues,
                "zero_copy": c.zero_copy,
            })),
        })
    }
}

/// State the receiver thread shares with [`Sink`].
#[derive(Debug, Default)]
struct Shared {
    stop: AtomicBool,
    received: AtomicU64,
    complete: AtomicBool,
}

/// A running sink. Stop it with [`Sink::stop`]; dropping it stops it too
/// (without a report).
#[derive(Debug)]
pub struct Sink {
    cfg: SinkConfig,
    start: Instant,
    prog: Arc<ToolProg>,
    /// Count mode: the attachment (check mode: the thread holds it).
    link: Option<XdpLink>,
    shared: Arc<Shared>,
    thread: Option<JoinHandle<Result<CheckReport>>>,
}

/// How long [`Sink::start`] waits for the receiver thread to be ready.
const START_TIMEOUT: Duration = Duration::from_secs(20);
/// Receiver poll timeout (bounds how long a stop takes).
const POLL_MS: i32 = 10;

impl Sink {
    /// Attaches the sink and, in check mode, starts the receiver thread.
    /// When it returns, frames are being counted.
    pub fn start(cfg: SinkConfig) -> Result<Sink> {
        netns::validate_ifname(&cfg.ifname)?;
        if let Some(ns) = &cfg.netns {
            netns::validate_netns_name(ns)?;
        }
        ensure!(
            !cfg.duration.is_zero() && cfg.duration <= Duration::from_secs(24 * 3600),
            "duration must be between 0 and 24 h"
        );
        let action = match (cfg.mode, cfg.pass) {
            (SinkMode::Check, _) => SinkAction::Xsk,
            (SinkMode::Count, true) => SinkAction::Pass,
            (SinkMode::Count, false) => SinkAction::Drop,
        };
        let prog = Arc::new(ToolProg::load(Tool::Sink(action))?);
        let shared = Arc::new(Shared::default());
        let start = Instant::now();
        let mut sink = Sink {
            cfg: cfg.clone(),
            start,
            prog: Arc::clone(&prog),
            link: None,
            shared: Arc::clone(&shared),
            thread: None,
        };
        match cfg.mode {
            SinkMode::Count => {
                let (ifname, mode) = (cfg.ifname.clone(), cfg.xdp_mode);
                let attach = move || -> Result<XdpLink> {
                    let idx = netns::ifindex(&ifname)?;
                    Ok(prog.attach(idx, mode)?)
                };
                sink.link = Some(match &cfg.netns {
                    Some(ns) => netns::in_netns(ns, attach)??,
                    None => attach()?,
                });
            }
            SinkMode::Check => {
                let (tx, rx) = mpsc::channel();
                let deadline = start + cfg.duration;
                let h = thread::Builder::new()
                    .name("xskfwd-sink".into())
                    .spawn(move || check_thread(cfg, prog, shared, deadline, tx))
                    .context("spawning the sink's receiver thread")?;
                sink.thread = Some(h);
                match rx.recv_timeout(START_TIMEOUT) {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => {
                        let _ = sink.join();
                        return Err(e);
                    }
                    Err(_) => {
                        sink.shared.stop.store(true, Ordering::Relaxed);
                        let err = sink.join().err();
                        bail!(
                            "the sink's receiver did not start within {START_TIMEOUT:?}{}",
                            err.map_or(String::new(), |e| format!(": {e:#}"))
                        );
                    }
                }
            }
        }
        Ok(sink)
    }

    /// Counts so far.
    pub fn snapshot(&self) -> SinkSnapshot {
        let c = self.prog.counters().unwrap_or_default();
        SinkSnapshot {
            packets: c.packets,
            bytes: c.bytes,
            received: self.shared.received.load(Ordering::Relaxed),
            elapsed: self.start.elapsed(),
        }
    }

    /// Waits until the configured duration passed, every expected sequence
    /// number arrived (check mode: unique numbers; count mode: frames), or
    /// the configured idle time passed without a frame. Returns the counts.
    pub fn wait(&self) -> SinkSnapshot {
        self.wait_until(&AtomicBool::new(false))
    }

    /// [`Sink::wait`], also returning soon after `stop` becomes true.
    pub fn wait_until(&self, stop: &AtomicBool) -> SinkSnapshot {
        let deadline = self.start + self.cfg.duration;
        let mut last = self.snapshot();
        let mut last_change = Instant::now();
        loop {
            let now = Instant::now();
            if now >= deadline || stop.load(Ordering::Relaxed) {
                return last;
            }
            if self.thread.as_ref().is_some_and(|t| t.is_finished()) {
                return last;
            }
            let done = match (self.cfg.mode, self.cfg.expect) {
                (SinkMode::Check, Some(_)) => self.shared.complete.load(Ordering::Relaxed),
                (SinkMode::Count, Some(e)) => last.packets >= e,
                _ => false,
            };
            if done {
                return last;
            }
            if let Some(idle) = self.cfg.idle {
                if last.packets > 0 && now - last_change >= idle {
                    return last;
                }
            }
            thread::sleep(Duration::from_millis(5).min(deadline - now));
            let s = self.snapshot();
            if s.packets != last.packets || s.received != last.received {
                last_change = Instant::now();
            }
            last = s;
        }
    }

    fn join(&mut self) -> Result<Option<CheckReport>> {
        self.shared.stop.store(true, Ordering::Relaxed);
        match self.thread.take() {
            Some(h) => match h.join() {
                Ok(r) => r.map(Some),
                Err(_) => bail!("the sink's receiver thread panicked"),
            },
            None => Ok(None),
        }
    }

    /// Stops receiving, detaches the program and reports.
    pub fn stop(mut self) -> Result<SinkReport> {
        let elapsed = self.start.elapsed();
        let check = self.join()?;
        let counters = self.prog.counters()?;
        self.link = None;
        Ok(SinkReport {
            mode: self.cfg.mode,
            packets: counters.packets,
            bytes: counters.bytes,
            counters,
            elapsed,
            check,
        })
    }

    /// Starts a sink, waits ([`Sink::wait_until`]) and stops it.
    pub fn run(cfg: SinkConfig, stop: &AtomicBool) -> Result<SinkReport> {
        let sink = Sink::start(cfg)?;
        sink.wait_until(stop);
        sink.stop()
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        if let Err(e) = self.join() {
            eprintln!("xskfwd sink: {e:#}");
        }
    }
}

/// Per-queue frames of the check-mode UMEM, at most (half on the fill
/// ring, the rest on the rx ring or being read).
const CHECK_FRAMES_PER_QUEUE: u32 = 16384;
/// All check-mode frames, at most (256 MiB of 4 KiB frames).
const CHECK_FRAMES_MAX: u32 = 65536;

/// What the check-mode receiver sets up before it says it is ready.
struct CheckSetup {
    rings: XskRings,
    pool: Vec<xsk::XskFrame>,
    fds: Vec<i32>,
    zero_copy: bool,
    link: XdpLink,
}

/// The receiver of check mode: binds a socket to every rx queue, fills
/// the XSKMAP, attaches the program, says it is ready, then reads until
/// stopped or past `deadline`. Teardown: sockets out of the map, sockets
/// and UMEM dropped, the link last.
fn check_thread(
    cfg: SinkConfig,
    prog: Arc<ToolProg>,
    shared: Arc<Shared>,
    deadline: Instant,
    ready: mpsc::Sender<Result<()>>,
) -> Result<CheckReport> {
    let setup = || -> Result<CheckSetup> {
        if let Some(ns) = &cfg.netns {
            // Our own thread: moving it moves nobody else.
            netns::enter_netns(ns).with_context(|| format!("entering network namespace {ns}"))?;
        }
        if let Some(cpu) = cfg.cpu {
            ensure!(
                core_affinity::set_for_current(core_affinity::CoreId { id: cpu }),
                "could not pin the sink's receiver to CPU {cpu}"
            );
        }
        let ifindex = netns::ifindex(&cfg.ifname)?;
        let queues = netns::num_rx_queues(&cfg.ifname)?.clamp(1, bpf_tools::MAX_QUEUES);
        let mtu = netns::mtu_of(&cfg.ifname)?;
        // Copy mode puts XDP_PACKET_HEADROOM (256) in front of the frame.
        let frame_size = if mtu + 14 + 256 <= 2048 { 2048 } else { 4096 };
        let per_queue = (CHECK_FRAMES_MAX / queues)
            .min(CHECK_FRAMES_PER_QUEUE)
            .next_power_of_two()
            .min(CHECK_FRAMES_PER_QUEUE);
        let per_queue = if per_queue * queues > CHECK_FRAMES_MAX {
            per_queue / 2
        } else {
            per_queue
        };
        let ring = (per_queue / 2).max(64);
        let (umem, frames) = SharedUmem::new(per_queue * queues, frame_size, ring, 64)?;
        let mut socks = Vec::with_capacity(queues as usize);
        for q in 0..queues {
            socks.push(XskSocket::bind(
                &umem,
                &cfg.ifname,
                q,
                SocketOptions {
                    rx_size: ring,
                    tx_size: 64,
                    bind: cfg.bind,
                    need_wakeup: true,
                    multi_buffer: false,
                },
                ring,
            )?);
        }
        let fds: Vec<i32> = socks.iter().map(|s| s.fd()).collect();
        let zero_copy = socks.iter().all(|s| s.zero_copy());
        let mut rings = XskRings::new(umem, socks, true);
        let mut pool = frames;
        for q in 0..queues as usize {
            rings.fill(q, &mut pool, usize::MAX);
            rings.kick_fill(q);
        }
        for (q, fd) in fds.iter().enumerate() {
            prog.register(q as u32, *fd)?;
        }
        let link = prog.attach(ifindex, cfg.xdp_mode)?;
        Ok(CheckSetup {
            rings,
            pool,
            fds,
            zero_copy,
            link,
        })
    };
    let CheckSetup {
        mut rings,
        mut pool,
        fds,
        zero_copy,
        link,
    } = match setup() {
        Ok(s) => {
            let _ = ready.send(Ok(()));
            s
        }
        Err(e) => {
            let msg = format!("{e:#}");
            let _ = ready.send(Err(e));
            bail!("{msg}");
        }
    };

    let mut tracker = SeqTracker::new(cfg.expect);
    let mut hist = LatencyHistogram::default();
    let (mut received, mut not_ours, mut negative) = (0u64, 0u64, 0u64);
    let mut batch = ArrayVec::<xsk::XskFrame, MAX_BATCH>::new();
    let ports = fds.len();
    while !shared.stop.load(Ordering::Relaxed) && Instant::now() < deadline {
        let mut got = 0;
        for q in 0..ports {
            let n = rings.rx(q, &mut batch, MAX_BATCH);
            if n > 0 {
                let now = bpf_tools::monotonic_ns();
                for mut f in batch.drain(..) {
                    match parse_stamp(rings.data(&mut f)) {
                        Some((seq, ts)) => {
                            received += 1;
                            tracker.record(seq);
                            if ts > now {
                                negative += 1;
                            }
                            hist.record(now.saturating_sub(ts));
                        }
                        None => not_ours += 1,
                    }
                    pool.push(f);
                }
                got += n;
            }
            rings.fill(q, &mut pool, usize::MAX);
            rings.kick_fill(q);
        }
        if got > 0 {
            shared.received.store(received, Ordering::Relaxed);
            if tracker.complete() {
                shared.complete.store(true, Ordering::Relaxed);
            }
        } else {
            rings.wait(POLL_MS);
        }
    }
    shared.received.store(received, Ordering::Relaxed);

    let mut xs = XskStats::default();
    for fd in &fds {
        if let Ok(s) = xsk::socket_stats(*fd) {
            xs.add(&s);
        }
    }
    for q in 0..ports {
        prog.unregister(q as u32);
    }
    drop(rings);
    drop(pool);
    drop(link);
    Ok(CheckReport {
        received,
        seq: tracker.summary(),
        latency: hist.summary(),
        not_ours,
        negative_latency: negative,
        xsk: xs,
        queues: ports as u32,
        zero_copy,
    })
}

// ----------------------------------------------------------------- cli --

/// `xskfwd sink`: count (or check) what arrives on an interface.
#[derive(Debug, Clone, clap::Args)]
pub struct SinkArgs {
    /// Interface to receive on (default with --lab: dut0).
    pub interface: Option<String>,
    /// Network namespace of the interface.
    #[arg(long)]
    pub netns: Option<String>,
    /// Sink at dut0 of lab PREFIX (netns PREFIX-dut).
    #[arg(long, value_name = "PREFIX")]
    pub lab: Option<String>,
    /// count: count and drop in XDP; check: AF_XDP receive, loss, order, latency.
    #[arg(long, value_enum, default_value_t = SinkMode::Count)]
    pub mode: SinkMode,
    /// Count mode: pass frames to the kernel instead of dropping them.
    #[arg(long)]
    pub pass: bool,
    /// Longest run, in seconds.
    #[arg(long, default_value_t = 10.0)]
    pub duration: f64,
    /// Stop after this many seconds without a frame (once one arrived).
    #[arg(long)]
    pub idle: Option<f64>,
    /// Sequence numbers expected, 0..N (losses at the tail count; stops
    /// once all arrived).
    #[arg(long)]
    pub expect: Option<u64>,
    /// XDP attach mode.
    #[arg(long = "xdp-mode", value_enum, default_value_t = XdpMode::Auto)]
    pub xdp_mode: XdpMode,
    /// AF_XDP bind mode (check mode).
    #[arg(long, value_enum, default_value_t = BindMode::Auto)]
    pub bind: BindMode,
    /// Check mode: pin the receiver thread to this CPU.
    #[arg(long)]
    pub cpu: Option<usize>,
    /// Print the report as one JSON line.
    #[arg(long)]
    pub json: bool,
}

impl SinkArgs {
    /// The validated configuration.
    pub fn to_config(&self) -> Result<SinkConfig> {
        ensure!(
            self.duration > 0.0 && self.duration <= 86_400.0,
            "--duration must be between 0 and 86400 seconds"
        );
        if let Some(i) = self.idle {
            ensure!(i > 0.0 && i <= 86_400.0, "--idle must be positive");
        }
        ensure!(
            !(self.pass && self.mode == SinkMode::Check),
            "--pass only applies to count mode"
        );
        let lab = match &self.lab {
            Some(p) => {
                Some(crate::lab::status(p)?.with_context(|| format!("no lab named {p} is up"))?)
            }
            None => None,
        };
        let ifname = match (&self.interface, &lab) {
            (Some(i), _) => i.clone(),
            (None, Some(l)) => l.dut0.name.clone(),
            (None, None) => bail!("name the interface to receive on (or use --lab PREFIX)"),
        };
        Ok(SinkConfig {
            ifname,
            netns: self
                .netns
                .clone()
                .or_else(|| lab.as_ref().map(|l| l.dut_ns().to_string())),
            mode: self.mode,
            pass: self.pass,
            duration: Duration::from_secs_f64(self.duration),
            idle: self.idle.map(Duration::from_secs_f64),
            expect: self.expect,
            xdp_mode: self.xdp_mode,
            bind: self.bind,
            cpu: self.cpu,
        })
    }

    /// Runs `xskfwd sink` and prints a summary (or JSON). SIGINT/SIGTERM
    /// end it early, with a report.
    pub fn run(&self) -> Result<()> {
        let cfg = self.to_config()?;
        let stop = Arc::new(AtomicBool::new(false));
        let ids = [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM]
            .iter()
            .map(|&sig| signal_hook::flag::register(sig, Arc::clone(&stop)))
            .collect::<std::io::Result<Vec<_>>>()
            .context("installing signal handlers")?;
        let report = Sink::run(cfg.clone(), &stop);
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

/// The human summary of a sink run.
pub fn summary(cfg: &SinkConfig, r: &SinkReport) -> String {
    let secs = r.elapsed.as_secs_f64();
    let mut s = format!(
        "sink: {} mode on {}{}: {} frames, {} bytes in {secs:.3} s ({} pps)\n",
        r.mode.name(),
        cfg.ifname,
        cfg.netns
            .as_ref()
            .map_or(String::new(), |n| format!(" (netns {n})")),
        r.packets,
        r.bytes,
        stats::human(r.pps()),
    );
    if let Some(c) = &r.check {
        let us = |ns: u64| ns as f64 / 1e3;
        s += &format!(
            "      received {} stamped frames: {} unique, lost {}, duplicates {}, reordered {}, late {}, out of range {}, not ours {}\n",
            c.received,
            c.seq.unique,
            c.seq.lost,
            c.seq.duplicates,
            c.seq.reordered,
            c.seq.late,
            c.seq.out_of_range,
            c.not_ours
        );
        s += &format!(
            "      latency µs: min {:.1}  p50 {:.1}  p90 {:.1}  p99 {:.1}  max {:.1}  ({} samples)\n",
            us(c.latency.min_ns),
            us(c.latency.p50_ns),
            us(c.latency.p90_ns),
            us(c.latency.p99_ns),
            us(c.latency.max_ns),
            c.latency.samples
        );
        if c.xsk.rx_ring_full + c.xsk.rx_dropped > 0 {
            s += &format!(
                "      the sink itself dropped {} frames (rx ring full {}): they count as lost\n",
                c.xsk.rx_dropped + c.xsk.rx_ring_full,
                c.xsk.rx_ring_full
            );
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gen::{FrameSize, Plan};
    use crate::traffic::FrameSpec;
    use std::net::{Ipv4Addr, Ipv6Addr};

    #[test]
    fn stamps_parse_from_generator_frames_only() {
        for v6 in [false, true] {
            let (s, d): (std::net::IpAddr, std::net::IpAddr) = if v6 {
                (Ipv6Addr::LOCALHOST.into(), Ipv6Addr::LOCALHOST.into())
            } else {
                (Ipv4Addr::LOCALHOST.into(), Ipv4Addr::LOCALHOST.into())
            };
            let spec = FrameSpec::udp([2; 6], [4; 6], s, d, 100);
            let plan = Plan::new(&spec, FrameSize::Fixed(100), 1, 1500).unwrap();
            let mut f = plan.template().to_vec();
            plan.stamp(&mut f, 0x0102_0304_0506_0708, 99);
            assert_eq!(parse_stamp(&f), Some((0x0102_0304_0506_0708, 99)));
            for cut in 0..f.len().min(14 + 40 + 8 + GEN_STAMP_LEN) {
                if v6 || cut < 14 + 20 + 8 + GEN_STAMP_LEN {
                    assert_eq!(parse_stamp(&f[..cut]), None, "cut {cut}");
                }
            }
            let mut bad = f.clone();
            bad[if v6 { 62 } else { 42 }] ^= 1; // magic
            assert_eq!(parse_stamp(&bad), None);
            let mut tcp = f.clone();
            tcp[if v6 { 20 } else { 23 }] = 6;
            assert_eq!(parse_stamp(&tcp), None);
        }
        // A plain traffic frame also carries MAGIC + seq.
        let spec = FrameSpec::udp(
            [2; 6],
            [4; 6],
            Ipv4Addr::LOCALHOST.into(),
            Ipv4Addr::LOCALHOST.into(),
            100,
        );
        let f = traffic::build_frame(&spec, 5).unwrap();
        assert_eq!(parse_stamp(&f).map(|s| s.0), Some(5));
        assert_eq!(parse_stamp(&[0u8; 200]), None);
        assert_eq!(parse_stamp(&[]), None);
    }

    #[derive(clap::Parser, Debug)]
    struct Cli {
        #[command(flatten)]
        sink: SinkArgs,
    }

    #[test]
    fn cli_flags_make_a_config() {
        use clap::{CommandFactory, Parser};
        Cli::command().debug_assert();
        let cli = Cli::try_parse_from([
            "sink",
            "eth9",
            "--netns",
            "ns1",
            "--mode",
            "check",
            "--duration",
            "3",
            "--idle",
            "0.5",
            "--expect",
            "1000",
            "--xdp-mode",
            "skb",
            "--bind",
            "copy",
            "--cpu",
            "1",
        ])
        .unwrap();
        let cfg = cli.sink.to_config().unwrap();
        assert_eq!(cfg.ifname, "eth9");
        assert_eq!(cfg.netns.as_deref(), Some("ns1"));
        assert_eq!(cfg.mode, SinkMode::Check);
        assert_eq!(cfg.duration, Duration::from_secs(3));
        assert_eq!(cfg.idle, Some(Duration::from_millis(500)));
        assert_eq!((cfg.expect, cfg.cpu), (Some(1000), Some(1)));
        assert_eq!((cfg.xdp_mode, cfg.bind), (XdpMode::Skb, BindMode::Copy));
        let cfg = Cli::try_parse_from(["sink", "eth9"])
            .unwrap()
            .sink
            .to_config()
            .unwrap();
        assert_eq!(cfg, SinkConfig::new("eth9", SinkMode::Count));
        assert!(Cli::try_parse_from(["sink"])
            .unwrap()
            .sink
            .to_config()
            .is_err());
        for bad in [
            vec!["sink", "eth9", "--mode", "check", "--pass"],
            vec!["sink", "eth9", "--duration=-1"],
            vec!["sink", "eth9", "--idle", "0"],
        ] {
            assert!(
                Cli::try_parse_from(bad.clone())
                    .unwrap()
                    .sink
                    .to_config()
                    .is_err(),
                "{bad:?}"
            );
        }
    }

    fn track(expect: Option<u64>, window: u64, seqs: &[u64]) -> SeqSummary {
        let mut t = SeqTracker::with_window(expect, window);
        for &s in seqs {
            t.record(s);
        }
        t.summary()
    }

    #[test]
    fn in_order_stream_has_no_loss() {
        let seqs: Vec<u64> = (0..10_000).collect();
        let s = track(Some(10_000), 64, &seqs);
        assert_eq!(
            s,
            SeqSummary {
                unique: 10_000,
                highest: Some(9_999),
                ..Default::default()
            }
        );
        let mut t = SeqTracker::new(Some(3));
        assert!(!t.complete());
        for s in 0..3 {
            t.record(s);
        }
        assert!(t.complete());
    }

    #[test]
    fn one_skipped_number_is_one_loss() {
        let seqs: Vec<u64> = (0..50_000).filter(|&s| s != 1234).collect();
        for window in [64, 1 << 22] {
            let s = track(Some(50_000), window, &seqs);
            assert_eq!(
                (s.lost, s.unique, s.reordered, s.duplicates),
                (1, 49_999, 0, 0)
            );
            let s = track(None, window, &seqs);
            assert_eq!(s.lost, 1);
        }
    }

    #[test]
    fn losses_at_head_and_tail_count_only_with_expect() {
        let seqs: Vec<u64> = (5..95).collect();
        let s = track(Some(100), 64, &seqs);
        assert_eq!(s.lost, 10);
        let s = track(None, 64, &seqs);
        assert_eq!(s.lost, 5); // 0..5; nothing is known past 94
        let s = track(Some(100), 64, &[]);
        assert_eq!((s.lost, s.highest), (100, None));
    }

    #[test]
    fn reorder_duplicates_late_and_out_of_range() {
        // 0 1 3 2 2 4 ... : 2 is reordered, then a duplicate.
        let mut seqs = vec![0, 1, 3, 2, 2];
        seqs.extend(4..200);
        seqs.push(10); // older than a 64-wide window: late
        seqs.push(199); // duplicate within the window
        seqs.push(1000); // beyond expect
        let s = track(Some(200), 64, &seqs);
        assert_eq!(s.unique, 200);
        assert_eq!(s.reordered, 1);
        assert_eq!(s.duplicates, 2);
        assert_eq!(s.late, 1);
        assert_eq!(s.out_of_range, 1);
        assert_eq!(s.lost, 0);
        // A garbage jump is out of range, not a huge loss.
        let s = track(None, 64, &[0, 1, u64::MAX - 1]);
        assert_eq!((s.lost, s.out_of_range, s.highest), (0, 1, Some(1)));
    }

    #[test]
    fn gaps_larger_than_the_window_are_lost_exactly() {
        // 0..10, then 10_000..10_010: 9_990 lost, across window slides.
        let seqs: Vec<u64> = (0..10).chain(10_000..10_010).collect();
        for window in [64, 128, 1 << 14] {
            let s = track(None, window, &seqs);
            assert_eq!((s.unique, s.lost), (20, 9_990), "window {window}");
        }
        // A late reordered frame within the window is not lost.
        let seqs: Vec<u64> = (0..50).chain([60, 55]).collect();
        let s = track(Some(61), 64, &seqs);
        assert_eq!((s.lost, s.reordered), (61 - 52, 1));
    }

    #[test]
    fn tracker_matches_a_set_model() {
        // Pseudo-random stream with losses, duplicates and bounded
        // reordering; a window larger than the reorder depth must match
        // an exact HashSet model.
        let mut x = 0x1234_5678_9abc_def0u64;
        let mut rnd = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let n = 20_000u64;
        let mut seqs = Vec::new();
        for s in 0..n {
            match rnd() % 100 {
                0..=2 => {}                   // lost
                3..=4 => seqs.extend([s, s]), // duplicated
                _ => seqs.push(s),
            }
        }
        for i in 0..seqs.len().saturating_sub(8) {
            if rnd() % 10 == 0 {
                let j = i + (rnd() % 8) as usize;
                seqs.swap(i, j);
            }
        }
        let mut seen = std::collections::HashSet::new();
        let mut highest = None::<u64>;
        let (mut dups, mut reord) = (0, 0);
        for &s in &seqs {
            if !seen.insert(s) {
                dups += 1;
            } else if highest.is_some_and(|h| s < h) {
                reord += 1;
            }
            highest = highest.max(Some(s));
        }
        let lost = n - seen.len() as u64;
        let got = track(Some(n), 256, &seqs);
        assert_eq!(got.unique, seen.len() as u64);
        assert_eq!(got.lost, lost);
        assert_eq!(got.duplicates, dups);
        assert_eq!(got.reordered, reord);
        assert_eq!(got.late, 0);
    }

    #[test]
    fn histogram_buckets_are_contiguous_and_tight() {
        let mut prev = 0;
        for v in 0..5000u64 {
            let i = bucket_of(v);
            assert!(i == prev || i == prev + 1, "v {v}: bucket {i} after {prev}");
            prev = i;
        }
        for v in (0..5000u64).chain((12..64).flat_map(|h| {
            let b = 1u64 << h;
            [b - 1, b, b + 1, b + b / 3]
        })) {
            let i = bucket_of(v);
            assert!(bucket_high(i) >= v, "v {v} bucket {i}");
            if i > 0 {
                assert!(bucket_high(i - 1) < v, "v {v} bucket {i}");
            }
            assert!(bucket_high(i) - v <= v / SUB, "v {v}");
        }
        assert_eq!(bucket_of(u64::MAX), BUCKETS - 1);
        assert_eq!(bucket_high(BUCKETS - 1), u64::MAX);
    }

    #[test]
    fn percentiles_match_exact_ranks() {
        let mut h = LatencyHistogram::default();
        assert!(h.is_empty());
        assert_eq!(h.summary(), Latency::default());
        assert_eq!(h.percentile(50.0), 0);
        // 1..=100: exact (small values).
        for v in 1..=100 {
            h.record(v);
        }
        assert_eq!(h.percentile(50.0), 50);
        assert_eq!(h.percentile(90.0), 90);
        assert_eq!(h.percentile(99.0), 99);
        assert_eq!(h.percentile(100.0), 100);
        assert_eq!(h.summary().mean_ns, 50);
        // Spread values: within 1/128 of the exact nearest-rank value.
        let mut h = LatencyHistogram::default();
        let mut vals: Vec<u64> = (0..10_007u64)
            .map(|i| (i * 7919 % 10_007) * 1_000 + 3)
            .collect();
        for &v in &vals {
            h.record(v);
        }
        vals.sort_unstable();
        for p in [50.0, 90.0, 99.0, 99.9, 100.0] {
            let rank = ((p / 100.0 * vals.len() as f64).ceil() as usize).max(1);
            let exact = vals[rank - 1];
            let got = h.percentile(p);
            assert!(
                got >= exact && got - exact <= exact / 128,
                "p{p}: {got} vs {exact}"
            );
        }
        let s = h.summary();
        assert_eq!(
            (s.min_ns, s.max_ns, s.samples),
            (3, vals[vals.len() - 1], 10_007)
        );
        // A single value is reported exactly.
        let mut one = LatencyHistogram::default();
        one.record(123_456_789);
        assert_eq!(one.percentile(50.0), 123_456_789);
    }
}
