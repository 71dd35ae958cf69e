//! The per-worker forwarding loop, generic over the rings it drives.
//!
//! A worker owns queue `q` of every port: its rx, tx, fill and completion
//! rings. So every ring has exactly one producer and one consumer, no frame
//! ever crosses a thread, and an L3 route may send a frame out of any port
//! without locks. Parallelism comes from queues (RSS), one worker per queue,
//! each pinned to its own CPU.
//!
//! Loop: rx batch per port → decide and rewrite each frame in place → one tx
//! batch per egress port (flushed after every rx batch, so a lone ping goes
//! out at once) → drain completions → refill fill rings. Every retry is
//! bounded; a frame that cannot be sent is dropped *and counted*.
//!
//! The loop never allocates, locks or formats; it makes syscalls only when a
//! ring asks for a wakeup, and sleeps in `poll` only when idle (if asked).
//!
//! Ports come and go ([`Links`]): between two passes the worker reads one
//! generation counter; when it moved, it takes each port's new MTU and
//! state. Frames for a port that is down or gone are dropped as
//! `port_down` before they reach a ring (no syscall per batch, no kicks
//! for it); a gone port's rings are closed and every frame they held comes
//! back to the pool. `tx_packets` counts frames the kernel completed.

use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Instant;

use arrayvec::ArrayVec;

use crate::counters::{PortCounters, SharedCounters, WorkerGauges};
use crate::limits::{MAX_BATCH, MAX_PORTS};
use crate::links::{LinkState, Links};
use crate::rings::{Batch, Meta, Rings, META_LEN};
use crate::trace::{Outcome, Tracer};
use crate::verdict::{DropReason, Forwarder, Verdict};

/// The metadata of a batch for a forwarder that does not read any.
static NO_META: [Meta; MAX_BATCH] = [[0; META_LEN]; MAX_BATCH];

/// How many times a flush re-kicks a full tx ring before dropping.
pub const TX_RETRIES: u32 = 4;
/// Empty loop iterations before an idle worker sleeps in `poll`.
const SPIN_BEFORE_SLEEP: u32 = 256;
/// Longest sleep, so the stop flag is seen promptly.
const SLEEP_MS: i32 = 10;
/// Busy passes between two publications of a worker's gauges.
pub const GAUGE_PASSES: u64 = 1024;
/// Rounds of completion draining at shutdown.
const DRAIN_ROUNDS: u32 = 200;

/// What a worker does when its rx rings are empty.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Idle {
    /// Spin (lowest latency, one full core per worker).
    Busy,
    /// Sleep in `poll` after a short spin.
    Poll,
}

/// Static parameters of a worker.
#[derive(Clone, Copy, Debug)]
pub struct WorkerParams {
    /// Frames per rx operation (≤ [`MAX_BATCH`]).
    pub batch: usize,
    /// Idle strategy.
    pub idle: Idle,
}

/// Where the worker's frames are when it stops.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FrameAccount {
    /// Frames the worker was given.
    pub total: u64,
    /// In its free pool.
    pub in_pool: u64,
    /// Still in fill rings (owned by the kernel, returned with the socket).
    pub in_fill: u64,
    /// Sent but never completed (should be 0 after draining).
    pub in_flight: u64,
    /// Frames of the pool that were found twice (a double-owned frame).
    pub duplicates: u64,
    /// Of `in_pool`: frames taken back from the rings of ports whose
    /// interface disappeared.
    pub reclaimed: u64,
}

impl FrameAccount {
    /// Adds `other` into `self` (summing workers).
    pub fn add(&mut self, other: &FrameAccount) {
        self.total += other.total;
        self.in_pool += other.in_pool;
        self.in_fill += other.in_fill;
        self.in_flight += other.in_flight;
        self.duplicates += other.duplicates;
        self.reclaimed += other.reclaimed;
    }

    /// Every frame is in exactly one place.
    pub fn conserved(&self) -> bool {
        self.duplicates == 0 && self.in_pool + self.in_fill + self.in_flight == self.total
    }
}

/// One worker's state. Everything is allocated in [`Worker::new`].
#[derive(Debug)]
pub struct Worker<R: Rings, F: Forwarder> {
    rings: R,
    fwd: F,
    params: WorkerParams,
    pool: Vec<R::Frame>,
    rxb: Batch<R::Frame>,
    txq: Vec<Batch<R::Frame>>,
    /// The verdicts of the rx batch being decided.
    verdicts: [Verdict; MAX_BATCH],
    local: Vec<PortCounters>,
    /// Frames given to each fill ring and not yet received.
    in_fill: Vec<u64>,
    /// Frames put on each tx ring and not yet completed.
    in_tx: Vec<u64>,
    total: u64,
    /// The ports' link state, if something publishes it.
    links: Option<Arc<Links>>,
    /// The [`Links::generation`] last applied.
    links_seen: u64,
    /// Ports frames may be sent to (bit set).
    up: u32,
    /// Ports whose rings are open (bit set).
    open: u32,
    /// Frames taken back from closed ports' rings.
    reclaimed: u64,
    /// The packet trace, if one may be armed, and this worker's queue id.
    trace: Option<(Arc<Tracer>, u32)>,
}

impl<R: Rings, F: Forwarder> Worker<R, F> {
    /// A worker over `rings` with the frames in `pool`.
    /// `pool` must have capacity for every frame of the worker (it never
    /// grows, so the loop never allocates).
    pub fn new(rings: R, fwd: F, params: WorkerParams, pool: Vec<R::Frame>) -> Self {
        let ports = rings.ports().min(MAX_PORTS);
        let total = pool.len() as u64;
        Worker {
            rings,
            fwd,
            params: WorkerParams {
                batch: params.batch.clamp(1, MAX_BATCH),
                ..params
            },
            pool,
            rxb: Batch::new(),
            txq: (0..ports).map(|_| Batch::new()).collect(),
            verdicts: [Verdict::Drop(DropReason::NoEgress); MAX_BATCH],
            local: vec![PortCounters::default(); ports],
            in_fill: vec![0; ports],
            in_tx: vec![0; ports],
            total,
            links: None,
            links_seen: 0,
            up: all_ports(ports),
            open: all_ports(ports),
            reclaimed: 0,
            trace: None,
        }
    }

    /// Copies decided frames into `tracer` while a client has it armed
    /// (`queue`: this worker's queue id, recorded with each frame).
    pub fn with_trace(mut self, tracer: Arc<Tracer>, queue: u32) -> Self {
        self.trace = Some((tracer, queue));
        self
    }

    /// Follows the ports' link state published in `links` (port `i` of
    /// the worker is port `i` there).
    pub fn with_links(mut self, links: Arc<Links>) -> Self {
        self.links = Some(links);
        self.links_seen = u64::MAX;
        self
    }

    /// Applies link changes, if any were published since the last call:
    /// one atomic load when nothing changed.
    #[inline]
    fn follow_links(&mut self) {
        let Some(links) = &self.links else {
            return;
        };
        let generation = links.generation();
        if generation == self.links_seen {
            return;
        }
        self.links_seen = generation;
        let links = Arc::clone(links);
        self.apply_links(&links);
    }

    #[cold]
    fn apply_links(&mut self, links: &Links) {
        for p in 0..self.local.len() {
            let Some(link) = links.get(p) else {
                continue;
            };
            let bit = 1u32 << p;
            self.fwd.set_port_max_len(p, link.max_len);
            match link.state {
                LinkState::Up => self.up |= bit & self.open,
                LinkState::Down => self.up &= !bit,
                LinkState::Gone => {
                    self.up &= !bit;
                    if self.open & bit != 0 {
                        self.open &= !bit;
                        let n = self.rings.close(p, &mut self.pool) as u64;
                        self.reclaimed += n;
                        self.in_fill[p] = 0;
                        self.in_tx[p] = 0;
                    }
                }
            }
        }
    }

    /// Frames taken back from the rings of ports that disappeared.
    pub fn reclaimed(&self) -> u64 {
        self.reclaimed
    }

    /// The rings.
    pub fn rings(&self) -> &R {
        &self.rings
    }

    /// The rings, to change (tests drive in-memory rings through this).
    pub fn rings_mut(&mut self) -> &mut R {
        &mut self.rings
    }

    /// The local counters.
    pub fn counters(&self) -> &[PortCounters] {
        &self.local
    }

    /// Stocks every fill ring. Call once before the first [`Worker::poll_once`].
    pub fn prime(&mut self) {
        for p in 0..self.local.len() {
            self.refill(p);
        }
    }

    /// Lends `p`'s receive side frames, up to its fill ring's size in
    /// all: frames a zero-copy driver moved off the fill ring into its own
    /// ring still count, so no port can take every frame and starve the
    /// others (found with virtio-net in the VM lab).
    fn refill(&mut self, p: usize) {
        if self.open & (1 << p) == 0 {
            return;
        }
        let cap = self.rings.fill_capacity(p) as u64;
        let room = cap.saturating_sub(self.in_fill[p]);
        if room == 0 {
            return;
        }
        let n = self.rings.fill(p, &mut self.pool, room as usize);
        self.in_fill[p] += n as u64;
    }

    /// Takes back what `p`'s completion ring returned: only now are the
    /// frames counted as sent.
    fn complete(&mut self, p: usize) {
        if self.open & (1 << p) == 0 {
            return;
        }
        let c = self.rings.complete(p, &mut self.pool);
        self.in_tx[p] = self.in_tx[p].saturating_sub(c.frames as u64);
        self.local[p].tx_packets += c.packets as u64;
        self.local[p].tx_bytes += c.bytes;
    }

    /// Sends `txq[e]`, bounded retries, dropping (counted against the
    /// ingress port `ingress`) what the ring never accepted.
    fn flush(&mut self, e: usize, ingress: usize) {
        let mut tries = 0;
        loop {
            let n = self.rings.tx(e, &mut self.txq[e]);
            self.in_tx[e] += n as u64;
            if self.rings.kick_tx(e) {
                self.local[e].tx_kicks += 1;
            }
            if self.txq[e].is_empty() || tries == TX_RETRIES {
                break;
            }
            tries += 1;
            self.complete(e);
        }
        let Self {
            txq,
            local,
            pool,
            rings,
            ..
        } = self;
        // Whole packets only are left (the ring accepts whole packets):
        // one drop per packet, counted at its last frame.
        for f in txq[e].drain(..) {
            if !rings.more(&f) {
                local[ingress].drop(DropReason::TxRingFull);
            }
            pool.push(f);
        }
    }

    /// One pass over every port. Returns the number of frames received.
    pub fn poll_once(&mut self) -> usize {
        self.follow_links();
        let ports = self.local.len();
        let mut work = 0;
        for p in 0..ports {
            if self.open & (1 << p) == 0 {
                continue;
            }
            let n = self.rings.rx(p, &mut self.rxb, self.params.batch);
            if n == 0 {
                if self.up & (1 << p) != 0 && self.rings.kick_fill(p) {
                    self.local[p].fill_kicks += 1;
                }
                continue;
            }
            work += n;
            self.in_fill[p] = self.in_fill[p].saturating_sub(n as u64);
            let Self {
                rings,
                fwd,
                rxb,
                txq,
                verdicts,
                local,
                pool,
                up,
                trace,
                ..
            } = self;
            // Disarmed: one relaxed load per batch.
            let tracing = trace.as_ref().filter(|(t, _)| t.armed());
            // Prefetch every frame of the batch first (the kernel wrote
            // them on another core) so their cache misses overlap, then
            // one decision for the whole batch.
            for f in rxb.iter_mut() {
                rings.prefetch(f);
            }
            // Multi-buffer (jumbo) packets: decided one packet at a time,
            // off the fast path.
            if rxb.iter().any(|f| rings.more(f)) {
                let mut lens = [0u32; MAX_BATCH];
                let n = decide_packets(rings, fwd, rxb, verdicts, &mut lens, &mut local[p], p);
                let out = Outcomes {
                    p,
                    txq,
                    local,
                    pool,
                    up: *up,
                };
                let trace = tracing.map(|(t, q)| (&**t, *q));
                let mut dirty = out.apply_chained(rings, rxb, &verdicts[..n], &lens[..n], trace);
                while dirty != 0 {
                    let e = dirty.trailing_zeros() as usize;
                    dirty &= dirty - 1;
                    self.flush(e, p);
                }
                continue;
            }
            let verdicts = &mut verdicts[..rxb.len()];
            {
                // Metadata only for a forwarder that reads it; the others
                // get a constant batch of "none" (nothing written per frame).
                let mut taken: ArrayVec<Meta, MAX_BATCH> = ArrayVec::new();
                let meta: &[Meta] = if fwd.uses_meta() {
                    for f in rxb.iter_mut() {
                        taken.push(rings.take_meta(f));
                    }
                    &taken
                } else {
                    &NO_META[..rxb.len()]
                };
                let mut frames: ArrayVec<&mut [u8], MAX_BATCH> = ArrayVec::new();
                for f in rxb.iter_mut() {
                    let data = rings.data(f);
                    local[p].rx_bytes += data.len() as u64;
                    frames.push(data);
                }
                local[p].rx_packets += frames.len() as u64;
                fwd.decide_batch(p, &mut frames, meta, verdicts);
            }
            // The verdicts carried out: a copy of the loop with the trace
            // compiled in runs only while a trace is armed.
            let out = Outcomes {
                p,
                txq,
                local,
                pool,
                up: *up,
            };
            let mut dirty = match tracing {
                None => out.apply::<R, false>(rings, rxb, verdicts, None),
                Some((t, q)) => out.apply::<R, true>(rings, rxb, verdicts, Some((t, *q))),
            };
            while dirty != 0 {
                let e = dirty.trailing_zeros() as usize;
                dirty &= dirty - 1;
                self.flush(e, p);
            }
        }
        for p in 0..ports {
            self.complete(p);
            // A port that is down does not take frames: kicking it would
            // be a failing syscall per pass.
            if self.in_tx[p] > 0 && self.up & (1 << p) != 0 && self.rings.kick_tx(p) {
                self.local[p].tx_kicks += 1;
            }
        }
        for p in 0..ports {
            self.refill(p);
        }
        work
    }

    /// Runs until `stop` is set, publishing counters into `shared`.
    ///
    /// Busy time: one clock read (vDSO, no syscall) per pass; a pass that
    /// found work counts as busy. The worker's gauges are published every
    /// [`GAUGE_PASSES`] passes and when it goes idle.
    pub fn run(&mut self, stop: &AtomicBool, shared: &SharedCounters) {
        self.prime();
        let mut idle_loops = 0u32;
        let mut g = WorkerGauges::default();
        let mut last = Instant::now();
        while !stop.load(Relaxed) {
            let work = self.poll_once();
            let now = Instant::now();
            g.passes += 1;
            if work > 0 {
                g.busy_ns += now.duration_since(last).as_nanos() as u64;
                idle_loops = 0;
                shared.publish(&self.local);
                if g.passes % GAUGE_PASSES == 0 {
                    shared.publish_worker(&self.gauges(&g));
                }
            } else {
                idle_loops = idle_loops.saturating_add(1);
                if idle_loops == SPIN_BEFORE_SLEEP {
                    shared.publish(&self.local);
                    shared.publish_worker(&self.gauges(&g));
                }
                if self.params.idle == Idle::Poll && idle_loops >= SPIN_BEFORE_SLEEP {
                    self.rings.wait(SLEEP_MS);
                    // The sleep is idle time: start the next pass's clock
                    // after it.
                    last = Instant::now();
                    continue;
                }
            }
            last = now;
        }
        shared.publish(&self.local);
        shared.publish_worker(&self.gauges(&g));
    }

    /// The gauges to publish, with the frame counts as they are now.
    fn gauges(&self, g: &WorkerGauges) -> WorkerGauges {
        WorkerGauges {
            free: self.pool.len() as u64,
            in_fill: self.in_fill.iter().sum(),
            in_flight: self.in_tx.iter().sum(),
            reclaimed: self.reclaimed,
            ..*g
        }
    }

    /// Stops forwarding: waits (bounded) for outstanding tx frames to
    /// complete, then accounts for every frame.
    pub fn drain(&mut self, frame_id: impl Fn(&R::Frame) -> u64) -> FrameAccount {
        let ports = self.local.len();
        for _ in 0..DRAIN_ROUNDS {
            for p in 0..ports {
                if self.in_tx[p] > 0 && self.up & (1 << p) != 0 {
                    self.rings.kick_tx(p);
                }
                self.complete(p);
            }
            // Frames on a down port's tx ring stay there: counted in flight.
            if (0..ports).all(|p| self.in_tx[p] == 0 || self.up & (1 << p) == 0) {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        let mut ids: Vec<u64> = self.pool.iter().map(&frame_id).collect();
        ids.sort_unstable();
        let before = ids.len();
        ids.dedup();
        FrameAccount {
            total: self.total,
            in_pool: before as u64,
            in_fill: self.in_fill.iter().sum(),
            in_flight: self.in_tx.iter().sum(),
            duplicates: (before - ids.len()) as u64,
            reclaimed: self.reclaimed,
        }
    }
}

/// Where one rx batch's verdicts go (the worker's parts they touch).
struct Outcomes<'a, F> {
    /// Ingress port.
    p: usize,
    txq: &'a mut [Batch<F>],
    local: &'a mut [PortCounters],
    pool: &'a mut Vec<F>,
    up: u32,
}

impl<F> Outcomes<'_, F> {
    /// Carries out `verdicts` for the frames of `rxb`: queued for an
    /// egress port (returns the bit set of those with frames) or back to
    /// the pool, counted. With `TRACE`, each frame's final outcome goes to
    /// `trace` (the bytes as sent, or as they arrived); without, the trace
    /// is compiled out.
    #[inline(always)]
    fn apply<R: Rings<Frame = F>, const TRACE: bool>(
        self,
        rings: &R,
        rxb: &mut Batch<F>,
        verdicts: &[Verdict],
        trace: Option<(&Tracer, u32)>,
    ) -> u32 {
        let Outcomes {
            p,
            txq,
            local,
            pool,
            up,
        } = self;
        let traced = |f: &mut F, o: Outcome| {
            if TRACE {
                if let Some((t, q)) = trace {
                    t.capture(p, q, o, rings.data(f));
                }
            }
        };
        let mut dirty = 0u32;
        for (mut f, v) in rxb.drain(..).zip(verdicts.iter()) {
            if let Verdict::Tx { len, .. } = *v {
                rings.set_len(&mut f, len);
            }
            if let Some(e) = carry_out(*v, f, &mut local[p], txq, pool, up, traced) {
                dirty |= 1 << e;
            }
        }
        dirty
    }
}

impl<F> Outcomes<'_, F> {
    /// [`Outcomes::apply`] for a batch with multi-buffer packets:
    /// `verdicts[k]` is the verdict of the batch's `k`-th packet, and the
    /// further frames of a packet follow its first frame wherever it went
    /// (the same tx queue, right behind it, or the pool). A chain is
    /// never trimmed: `len` sets only a one-frame packet's length
    /// ([`decide_packets`] dropped chains whose length would change).
    fn apply_chained<R: Rings<Frame = F>>(
        self,
        rings: &R,
        rxb: &mut Batch<F>,
        verdicts: &[Verdict],
        lens: &[u32],
        trace: Option<(&Tracer, u32)>,
    ) -> u32 {
        let Outcomes {
            p,
            txq,
            local,
            pool,
            up,
        } = self;
        // A packet's first frame is traced, with the whole packet's length.
        let traced = |f: &mut F, o: Outcome, wire_len: u32| {
            if let Some((t, q)) = trace {
                t.capture_packet(p, q, o, rings.data(f), wire_len as usize);
            }
        };
        let mut dirty = 0u32;
        let mut k = 0;
        // Inside a packet: where its further frames go (None: the pool).
        let mut in_packet = false;
        let mut follow: Option<usize> = None;
        for mut f in rxb.drain(..) {
            let more = rings.more(&f);
            if in_packet {
                in_packet = more;
                match follow {
                    // txq[e] holds at most one rx batch: this cannot fail.
                    Some(e) => {
                        if let Err(err) = txq[e].try_push(f) {
                            pool.push(err.element());
                        }
                    }
                    None => pool.push(f),
                }
                continue;
            }
            in_packet = more;
            follow = None;
            let wire_len = lens.get(k).copied().unwrap_or(0);
            let Some(v) = verdicts.get(k) else {
                // More packets than verdicts: cannot happen; never lose one.
                local[p].drop(DropReason::Chain);
                pool.push(f);
                continue;
            };
            k += 1;
            // A chain keeps its length (see above).
            if let (Verdict::Tx { len, .. }, false) = (*v, more) {
                rings.set_len(&mut f, len);
            }
            let traced = |f: &mut F, o: Outcome| traced(f, o, wire_len);
            follow = carry_out(*v, f, &mut local[p], txq, pool, up, traced);
            if let Some(e) = follow {
                dirty |= 1 << e;
            }
        }
        dirty
    }
}

/// Carries out verdict `v` for frame `f` (a packet's first frame) that
/// arrived on the port counted in `c`: queued on its egress port's tx
/// queue (returns that port) or back to `pool`, counted; `traced` sees the
/// outcome first. The length is already set.
#[inline(always)]
fn carry_out<F>(
    v: Verdict,
    mut f: F,
    c: &mut PortCounters,
    txq: &mut [Batch<F>],
    pool: &mut Vec<F>,
    up: u32,
    traced: impl FnOnce(&mut F, Outcome),
) -> Option<usize> {
    match v {
        Verdict::Tx { port, .. } => {
            let e = port as usize;
            // txq[e] holds at most one rx batch: flushed after.
            let Some(q) = txq.get_mut(e) else {
                traced(&mut f, Outcome::Drop(DropReason::NoEgress));
                unreachable_port(c, pool, f);
                return None;
            };
            if up & (1 << e) == 0 {
                traced(&mut f, Outcome::Drop(DropReason::PortDown));
                c.drop(DropReason::PortDown);
                pool.push(f);
                return None;
            }
            traced(&mut f, Outcome::Tx { egress: port });
            match q.try_push(f) {
                Ok(()) => Some(e),
                Err(err) => {
                    c.drop(DropReason::TxRingFull);
                    pool.push(err.element());
                    None
                }
            }
        }
        Verdict::Drop(reason) => {
            traced(&mut f, Outcome::Drop(reason));
            c.drop(reason);
            pool.push(f);
            None
        }
        Verdict::Pass(why) => {
            traced(&mut f, Outcome::Pass(why));
            c.drop(DropReason::KernelOnly);
            pool.push(f);
            None
        }
    }
}

/// Decides an rx batch that holds multi-buffer packets, one packet at a
/// time: `verdicts[k]` for its `k`-th packet, `lens[k]` its length. Counts
/// what was received.
/// Returns the number of packets.
#[cold]
#[inline(never)]
fn decide_packets<R: Rings, F: Forwarder>(
    rings: &R,
    fwd: &mut F,
    rxb: &mut Batch<R::Frame>,
    verdicts: &mut [Verdict; MAX_BATCH],
    lens: &mut [u32; MAX_BATCH],
    c: &mut PortCounters,
    ingress: usize,
) -> usize {
    let n = rxb.len();
    let (mut i, mut k) = (0, 0);
    while i < n && k < MAX_BATCH {
        let mut j = i;
        while j + 1 < n && rings.more(&rxb[j]) {
            j += 1;
        }
        // The rings return whole packets; one cut short is dropped.
        let whole = !rings.more(&rxb[j]);
        let meta = if fwd.uses_meta() {
            rings.take_meta(&mut rxb[i])
        } else {
            NO_META[0]
        };
        let (head, rest) = rxb[i..=j].split_first_mut().expect("i <= j");
        let tail: u64 = rest.iter_mut().map(|f| rings.data(f).len() as u64).sum();
        let data = rings.data(head);
        let head_len = data.len() as u64;
        c.rx_packets += 1;
        c.rx_bytes += head_len + tail;
        lens[k] = u32::try_from(head_len + tail).unwrap_or(u32::MAX);
        verdicts[k] = if !whole || tail > u64::from(u32::MAX) {
            Verdict::Drop(DropReason::Chain)
        } else if rest.is_empty() {
            let mut v = [Verdict::Drop(DropReason::NoEgress)];
            fwd.decide_batch(ingress, &mut [data], &[meta], &mut v);
            v[0]
        } else {
            match fwd.decide_chained(ingress, data, tail as u32, &meta) {
                Verdict::Tx { len, .. } if u64::from(len) != head_len + tail => {
                    Verdict::Drop(DropReason::Chain)
                }
                v => v,
            }
        };
        k += 1;
        i = j + 1;
    }
    k
}

/// The bit set of ports `0..n`.
fn all_ports(n: usize) -> u32 {
    u32::MAX.checked_shr(32 - n as u32).unwrap_or(0)
}

/// A verdict named a port the worker does not serve (a forwarder bug):
/// count it and keep the frame.
#[cold]
fn unreachable_port<F>(c: &mut PortCounters, pool: &mut Vec<F>, f: F) {
    c.drop(DropReason::NoEgress);
    pool.push(f);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::l2::{L2Forwarder, L2Mode, L2Port};
    use crate::testing::MemRings;
    use crate::wire::ethernet::Mac;

    const NH: [Mac; 2] = [Mac([2, 0, 0, 0, 1, 0]), Mac([2, 0, 0, 0, 1, 1])];
    const OWN: [Mac; 2] = [Mac([2, 0, 0, 0, 0, 0]), Mac([2, 0, 0, 0, 0, 1])];

    fn worker(fill: usize, frames: u32, batch: usize) -> Worker<MemRings, L2Forwarder> {
        worker_with(1514, false, fill, frames, batch)
    }

    /// A primed L2 worker over in-memory rings of 2 KiB frames whose ports
    /// send frames up to `max_len`, longer packets arriving as chains of
    /// frames if `multi_buffer`.
    fn worker_with(
        max_len: u32,
        multi_buffer: bool,
        fill: usize,
        frames: u32,
        batch: usize,
    ) -> Worker<MemRings, L2Forwarder> {
        let ports = [0, 1].map(|i| L2Port {
            mac: OWN[i],
            max_len,
            next_hop: Some(NH[i]),
        });
        let fwd = L2Forwarder::new(L2Mode::CrossConnect, &ports);
        let (mut rings, pool) = MemRings::new(2, fill, frames, 2048);
        rings.multi_buffer = multi_buffer;
        let mut w = Worker::new(
            rings,
            fwd,
            WorkerParams {
                batch,
                idle: Idle::Busy,
            },
            pool,
        );
        w.prime();
        w
    }

    fn packet(seq: u32, len: usize) -> Vec<u8> {
        let mut p = vec![0u8; len];
        p[12] = 0x08;
        p[14..18].copy_from_slice(&seq.to_be_bytes());
        for (i, b) in p.iter_mut().enumerate().skip(18) {
            *b = (i as u32 ^ seq) as u8;
        }
        p
    }

    fn account(w: &mut Worker<MemRings, L2Forwarder>) -> FrameAccount {
        w.drain(|f| u64::from(f.id))
    }

    #[test]
    fn forwards_every_frame_both_ways_and_conserves_frames() {
        let mut w = worker(64, 256, 32);
        let mut expect = [Vec::new(), Vec::new()];
        for round in 0..50u32 {
            for i in 0..40u32 {
                let seq = round * 1000 + i;
                let len = 60 + (seq as usize * 37) % 1455;
                let port = (seq % 2) as usize;
                let pkt = packet(seq, len);
                w.rings_mut().inject(port, &pkt);
                expect[port ^ 1].push(pkt);
            }
            w.rings_mut().deliver();
            while w.poll_once() > 0 {}
        }
        for out in 0..2 {
            let sent = w.rings_mut().take_sent(out);
            assert_eq!(sent.len(), expect[out].len());
            for (s, e) in sent.iter().zip(&expect[out]) {
                assert_eq!(&s[0..6], &NH[out].0);
                assert_eq!(&s[6..12], &OWN[out].0);
                assert_eq!(&s[12..], &e[12..], "only the MACs change");
            }
        }
        let c = w.counters();
        assert_eq!(c[0].rx_packets + c[1].rx_packets, 2000);
        assert_eq!(c[0].tx_packets + c[1].tx_packets, 2000);
        assert_eq!(c[0].dropped() + c[1].dropped(), 0);
        let acc = account(&mut w);
        assert!(acc.conserved(), "{acc:?}");
        assert_eq!(acc.in_flight, 0);
        assert_eq!(acc.in_fill, 128, "both fill rings restocked");
        // The rings' own view agrees: what they hold plus the pool is all.
        let held = w.rings_mut().held_ids().len() as u64;
        assert_eq!(held + acc.in_pool, 256);
    }

    #[test]
    fn an_armed_trace_copies_matching_frames_with_their_outcome() {
        use crate::trace::{Filter, Record, Tracer, VerdictKind};
        use std::time::Duration;
        let tracer = Arc::new(Tracer::new());
        let mut w = worker(64, 256, 32).with_trace(Arc::clone(&tracer), 7);
        // Disarmed: nothing is copied.
        w.rings_mut().inject(0, &packet(0, 100));
        w.rings_mut().deliver();
        while w.poll_once() > 0 {}
        let bufs = (0..4).map(|_| Record::with_capacity(2048)).collect();
        let drops = Filter {
            verdict: Some(VerdictKind::Drop),
            reason: None,
        };
        let session = tracer.arm(drops, 3, bufs).unwrap();
        let mut runts = Vec::new();
        for i in 1..=10u32 {
            // Every other frame is a runt (dropped), the rest forwarded.
            let pkt = if i % 2 == 0 {
                vec![i as u8; 10]
            } else {
                packet(i, 60 + i as usize)
            };
            if i % 2 == 0 {
                runts.push(pkt.clone());
            }
            w.rings_mut().inject(0, &pkt);
        }
        w.rings_mut().deliver();
        while w.poll_once() > 0 {}
        assert!(!tracer.armed(), "the count was reached");
        let mut got = Vec::new();
        while let Some(r) = session.next(Duration::from_millis(1)) {
            assert_eq!(r.outcome, Outcome::Drop(DropReason::Runt));
            assert_eq!((r.ingress, r.queue), (0, 7));
            got.push(r.data.clone());
            session.recycle(r);
        }
        assert_eq!(got, runts[..3], "the first three drops, byte for byte");
        assert_eq!(
            w.rings_mut().take_sent(1).len(),
            6,
            "tracing forwards as usual"
        );
        drop(session);
        let acc = account(&mut w);
        assert!(acc.conserved(), "{acc:?}");
    }

    /// A zero-copy driver moves frames off the fill ring into its own
    /// ring (virtio-net posts up to 256). Were the fill ring's free space
    /// the only limit, the ports would soak up every frame between them
    /// and one could end up with none to receive into (seen in the VM lab
    /// with 64-entry rings and 288 frames: one direction stalled). A port
    /// is lent at most its fill ring's size, whatever its driver takes.
    #[test]
    fn a_port_is_lent_at_most_its_fill_ring_whatever_its_driver_takes() {
        let mut w = worker(16, 96, 16);
        w.rings_mut().driver_ring = 256;
        for _ in 0..20 {
            w.poll_once();
        }
        assert_eq!((w.rings().lent(0), w.rings().lent(1)), (16, 16));
        // Traffic one way keeps both sides stocked.
        for round in 0..10u32 {
            for i in 0..16u32 {
                w.rings_mut().inject(1, &packet(round * 100 + i, 100));
            }
            w.rings_mut().deliver();
            while w.poll_once() > 0 {}
            assert_eq!(w.rings_mut().take_sent(0).len(), 16, "round {round}");
            assert_eq!(w.rings_mut().dropped_no_frame(1), 0);
            assert!(w.rings().lent(0) <= 16 && w.rings().lent(1) <= 16);
        }
        let acc = account(&mut w);
        assert!(acc.conserved(), "{acc:?}");
        assert_eq!(acc.in_fill, 32);
    }

    /// A worker whose ports carry jumbo frames (up to `max_len`) as
    /// chains of 2 KiB frames.
    fn jumbo_worker(max_len: u32, frames: u32) -> Worker<MemRings, L2Forwarder> {
        worker_with(max_len, true, 64, frames, 64)
    }

    #[test]
    fn jumbo_chains_are_forwarded_whole_and_byte_exact() {
        let mut w = jumbo_worker(9014, 256);
        // One-frame and chained packets mixed, both ways: 9014 B is five
        // 2 KiB frames, 2049 B two.
        let lens = [9014, 60, 2048, 2049, 4096, 1515, 8999, 64, 9014, 3000];
        let mut sent = [Vec::new(), Vec::new()];
        for round in 0..4u32 {
            for (i, &len) in lens.iter().enumerate() {
                let port = (i + round as usize) % 2;
                let pkt = packet(round * 100 + i as u32, len);
                w.rings_mut().inject(port, &pkt);
                sent[port].push(pkt);
            }
            w.rings_mut().deliver();
            w.poll_once();
            w.poll_once();
        }
        for (ingress, egress) in [(0, 1), (1, 0)] {
            let got = w.rings_mut().take_sent(egress);
            assert_eq!(got.len(), sent[ingress].len());
            for (g, s) in got.iter().zip(&sent[ingress]) {
                assert_eq!(g.len(), s.len());
                assert_eq!(g[..6], NH[egress].0);
                assert_eq!(g[6..12], OWN[egress].0);
                assert_eq!(g[12..], s[12..], "payload of a {}-byte packet", s.len());
            }
        }
        let c = w.counters();
        let packets = 4 * lens.len() as u64;
        assert_eq!(c[0].rx_packets + c[1].rx_packets, packets);
        assert_eq!(
            c[0].tx_packets + c[1].tx_packets,
            packets,
            "packets, not frames"
        );
        let bytes: u64 = 4 * lens.iter().map(|&l| l as u64).sum::<u64>();
        assert_eq!(c[0].rx_bytes + c[1].rx_bytes, bytes);
        assert_eq!(c[0].tx_bytes + c[1].tx_bytes, bytes);
        assert_eq!(c[0].dropped() + c[1].dropped(), 0);
        assert!(account(&mut w).conserved());
    }

    #[test]
    fn a_traced_chain_shows_its_first_frame_and_the_whole_length() {
        use crate::trace::{Filter, Record, Tracer};
        use std::time::Duration;
        let tracer = Arc::new(Tracer::new());
        let mut w = jumbo_worker(9014, 128).with_trace(Arc::clone(&tracer), 0);
        let bufs = (0..4).map(|_| Record::with_capacity(4096)).collect();
        let session = tracer.arm(Filter::default(), 2, bufs).unwrap();
        let (big, small) = (packet(1, 9014), packet(2, 100));
        w.rings_mut().inject(0, &big);
        w.rings_mut().inject(0, &small);
        w.rings_mut().deliver();
        while w.poll_once() > 0 {}
        let mut got = Vec::new();
        while let Some(r) = session.next(Duration::from_millis(1)) {
            assert_eq!(r.outcome, Outcome::Tx { egress: 1 });
            got.push((r.wire_len, r.data.len(), r.data[12..].to_vec()));
            session.recycle(r);
        }
        assert_eq!(got.len(), 2);
        assert_eq!(
            (got[0].0, got[0].1),
            (9014, 2048),
            "the first 2 KiB frame of 9014 bytes"
        );
        assert_eq!(got[0].2, big[12..2048]);
        assert_eq!((got[1].0, got[1].1), (100, 100));
        assert_eq!(w.rings_mut().take_sent(1).len(), 2);
        drop(session);
        assert!(account(&mut w).conserved());
    }

    #[test]
    fn a_chain_never_goes_on_a_tx_ring_in_part() {
        let mut w = jumbo_worker(9014, 128);
        // The tx ring takes 4 frames per call: a five-frame packet never
        // fits; what fits goes, the rest is dropped whole, once per packet.
        w.rings_mut().tx_room = 4;
        for (seq, len) in [(1, 100), (2, 4000), (3, 9014)] {
            w.rings_mut().inject(0, &packet(seq, len));
        }
        w.rings_mut().deliver();
        w.poll_once();
        w.poll_once();
        let got = w.rings_mut().take_sent(1);
        let lens: Vec<usize> = got.iter().map(Vec::len).collect();
        // 100 B (1 frame) and 4000 B (2 frames) fit into 4, and the first
        // frame of the 9014 B packet would too: it is not taken in part.
        assert_eq!(lens, [100, 4000]);
        assert_eq!(w.rings().tx_queued(1), 0);
        assert_eq!(w.counters()[0].drops[DropReason::TxRingFull as usize], 1);
        assert_eq!(w.counters()[1].tx_packets, 2);
        assert!(account(&mut w).conserved());
    }

    #[test]
    fn a_chain_longer_than_the_egress_allows_is_too_big() {
        let mut w = jumbo_worker(9014, 128);
        w.fwd.set_port_max_len(1, 4000);
        w.rings_mut().inject(0, &packet(1, 4001));
        w.rings_mut().inject(0, &packet(2, 4000));
        w.rings_mut().deliver();
        w.poll_once();
        w.poll_once();
        let got = w.rings_mut().take_sent(1);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].len(), 4000);
        assert_eq!(w.counters()[0].drops[DropReason::TooBig as usize], 1);
        assert!(account(&mut w).conserved());
    }

    #[test]
    fn a_forwarder_without_chains_drops_them_counted() {
        struct OneFrame;
        impl Forwarder for OneFrame {
            fn decide_batch(
                &mut self,
                _: usize,
                f: &mut [&mut [u8]],
                _: &[Meta],
                out: &mut [Verdict],
            ) {
                for (f, v) in f.iter().zip(out) {
                    *v = Verdict::Tx {
                        port: 1,
                        len: f.len() as u32,
                    };
                }
            }
        }
        let (mut rings, pool) = MemRings::new(2, 64, 128, 2048);
        rings.multi_buffer = true;
        let params = WorkerParams {
            batch: 64,
            idle: Idle::Busy,
        };
        let mut w = Worker::new(rings, OneFrame, params, pool);
        w.prime();
        w.rings_mut().inject(0, &packet(1, 5000));
        w.rings_mut().inject(0, &packet(2, 500));
        w.rings_mut().deliver();
        w.poll_once();
        w.poll_once();
        assert_eq!(w.rings_mut().take_sent(1).len(), 1);
        assert_eq!(w.counters()[0].drops[DropReason::Chain as usize], 1);
        assert!(w.drain(|f| u64::from(f.id)).conserved());
    }

    #[test]
    fn a_single_frame_goes_out_at_once() {
        let mut w = worker(64, 256, 64);
        w.rings_mut().inject(0, &packet(1, 98));
        w.rings_mut().deliver();
        assert_eq!(w.poll_once(), 1);
        assert_eq!(
            w.rings_mut().take_sent(1).len(),
            1,
            "partial batches are flushed"
        );
    }

    #[test]
    fn full_tx_ring_drops_are_bounded_and_counted() {
        let mut w = worker(64, 256, 64);
        w.rings_mut().tx_room = 0;
        for i in 0..10 {
            w.rings_mut().inject(0, &packet(i, 60));
        }
        w.rings_mut().deliver();
        assert_eq!(w.poll_once(), 10);
        assert_eq!(w.counters()[0].drops[DropReason::TxRingFull as usize], 10);
        assert_eq!(w.rings_mut().kicks, u64::from(TX_RETRIES) + 1);
        let acc = account(&mut w);
        assert!(acc.conserved(), "{acc:?}");
    }

    #[test]
    fn runts_are_counted_and_their_frames_recycled() {
        let mut w = worker(16, 64, 16);
        for _ in 0..100 {
            w.rings_mut().inject(1, &[0u8; 10]);
            w.rings_mut().deliver();
            w.poll_once();
        }
        assert_eq!(w.counters()[1].drops[DropReason::Runt as usize], 100);
        assert_eq!(
            w.rings_mut().dropped_no_frame(1),
            0,
            "frames came back to the fill ring"
        );
        assert!(account(&mut w).conserved());
    }

    fn link(state: LinkState, max_len: u32) -> crate::links::PortLink {
        crate::links::PortLink { state, max_len }
    }

    /// Injects `n` frames of `len` bytes on `port` and runs the worker
    /// until it is idle.
    fn pump(w: &mut Worker<MemRings, L2Forwarder>, port: usize, n: u32, len: usize) {
        for i in 0..n {
            w.rings_mut().inject(port, &packet(i, len));
        }
        w.rings_mut().deliver();
        while w.poll_once() > 0 {}
    }

    #[test]
    fn a_down_port_drops_without_kicks_and_resumes_when_up() {
        let links = Arc::new(Links::new(&[1514, 1514]));
        let mut w = worker(64, 256, 32).with_links(Arc::clone(&links));
        pump(&mut w, 0, 10, 100);
        assert_eq!(w.counters()[1].tx_packets, 10);
        links.set(1, link(LinkState::Down, 1514));
        let kicks = w.rings_mut().kicks;
        for _ in 0..20 {
            pump(&mut w, 0, 10, 100);
        }
        assert_eq!(w.counters()[0].drops[DropReason::PortDown as usize], 200);
        assert_eq!(w.rings_mut().kicks, kicks, "no syscall for a down port");
        assert_eq!(w.counters()[1].tx_packets, 10);
        links.set(1, link(LinkState::Up, 1514));
        pump(&mut w, 0, 10, 100);
        assert_eq!(w.counters()[1].tx_packets, 20, "forwarding resumed");
        assert!(account(&mut w).conserved());
    }

    #[test]
    fn tx_counts_completions_not_queued_frames() {
        let links = Arc::new(Links::new(&[1514, 1514]));
        let mut w = worker(64, 256, 32).with_links(Arc::clone(&links));
        // The ring took them, then the link went down before the kernel
        // sent them: queued, not sent.
        w.rings_mut().set_down(1, true);
        pump(&mut w, 0, 5, 100);
        assert_eq!(w.rings_mut().tx_queued(1), 5);
        assert_eq!(w.counters()[1].tx_packets, 0);
        w.rings_mut().set_down(1, false);
        w.poll_once();
        assert_eq!(
            (w.counters()[1].tx_packets, w.counters()[1].tx_bytes),
            (5, 500)
        );
    }

    #[test]
    fn a_gone_port_gives_every_frame_back_and_the_others_keep_forwarding() {
        let links = Arc::new(Links::new(&[1514, 1514, 1514, 1514]));
        let ports = [0, 1, 2, 3].map(|i| L2Port {
            mac: OWN[i % 2],
            max_len: 1514,
            next_hop: None,
        });
        let fwd = L2Forwarder::new(L2Mode::CrossConnect, &ports);
        let (rings, pool) = MemRings::new(4, 64, 512, 2048);
        let params = WorkerParams {
            batch: 32,
            idle: Idle::Busy,
        };
        let mut w = Worker::new(rings, fwd, params, pool).with_links(Arc::clone(&links));
        w.prime();
        // Frames for port 1 stuck on its tx ring (link down at the wire).
        w.rings_mut().set_down(1, true);
        for i in 0..7 {
            w.rings_mut().inject(0, &packet(i, 80));
        }
        w.rings_mut().deliver();
        while w.poll_once() > 0 {}
        assert_eq!(w.rings_mut().tx_queued(1), 7);
        links.set(1, link(LinkState::Gone, 1514));
        w.poll_once();
        assert!(w.rings_mut().closed(1));
        // Its fill ring (64) and tx ring (7) came back.
        assert_eq!(w.reclaimed(), 71);
        for i in 0..10 {
            w.rings_mut().inject(2, &packet(i, 80));
            w.rings_mut().inject(0, &packet(i, 80));
        }
        w.rings_mut().deliver();
        while w.poll_once() > 0 {}
        assert_eq!(w.rings_mut().sent_count(3), 10, "ports 2-3 forward on");
        assert_eq!(w.counters()[0].drops[DropReason::PortDown as usize], 10);
        // Coming back does not reopen closed rings.
        links.set(1, link(LinkState::Up, 1514));
        pump(&mut w, 0, 3, 80);
        assert_eq!(w.counters()[0].drops[DropReason::PortDown as usize], 13);
        let acc = account(&mut w);
        assert!(acc.conserved(), "{acc:?}");
        assert_eq!((acc.in_flight, acc.reclaimed), (0, 71));
        assert_eq!(acc.in_fill, 3 * 64, "three fill rings stocked");
    }

    #[test]
    fn an_mtu_change_is_followed_both_ways() {
        let links = Arc::new(Links::new(&[1514, 1514]));
        let mut w = worker(64, 256, 32).with_links(Arc::clone(&links));
        links.set(1, link(LinkState::Up, 1014));
        pump(&mut w, 0, 4, 1200);
        assert_eq!(w.counters()[0].drops[DropReason::TooBig as usize], 4);
        links.set(1, link(LinkState::Up, 1514));
        pump(&mut w, 0, 4, 1200);
        assert_eq!(w.counters()[1].tx_packets, 4);
    }

    #[test]
    fn duplicates_are_detected() {
        let acc = FrameAccount {
            total: 3,
            in_pool: 3,
            duplicates: 1,
            ..Default::default()
        };
        assert!(!acc.conserved());
    }
}
