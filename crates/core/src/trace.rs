//! Packet trace: copies of the next N frames the workers decide on that
//! match a filter, with what happened to each (VPP's `trace add`, on a
//! running forwarder).
//!
//! One [`Tracer`] serves every worker. A client (the control socket)
//! [`arm`](Tracer::arm)s it with a filter, a count and buffers it
//! allocates itself; workers that see it armed copy matching frames into
//! those buffers and hand them back through a bounded channel; the client
//! writes them out and returns the buffers. So:
//!
//! - disarmed, a worker pays one relaxed load and a predictable branch per
//!   rx batch, and copies nothing;
//! - armed, a worker copies only matching frames, into buffers it never
//!   allocates, through channels it never blocks on (no free buffer: the
//!   frame is counted as [`TraceStats::missed`] and forwarded as usual);
//! - a frame is copied, never held: tracing does not change what is
//!   forwarded or when.
//!
//! PURE: no I/O; the time stamp is the wall clock (`SystemTime`).

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crossbeam_channel::{bounded, Receiver, Sender};

use crate::verdict::{DropReason, PassReason};

/// What happened to a traced frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Put on port `egress`'s tx queue (the bytes are what is sent).
    Tx {
        /// Egress port index.
        egress: u8,
    },
    /// Dropped, for this reason (the bytes are as the frame arrived).
    Drop(DropReason),
    /// The forwarder decided the kernel must have it; from the UMEM it
    /// cannot go back, so it is dropped and counted as `kernel_only`.
    Pass(PassReason),
}

impl Outcome {
    /// The verdict's kind.
    pub fn kind(self) -> VerdictKind {
        match self {
            Outcome::Tx { .. } => VerdictKind::Tx,
            Outcome::Drop(_) => VerdictKind::Drop,
            Outcome::Pass(_) => VerdictKind::Pass,
        }
    }

    /// The reason's name (`""` for a transmitted frame).
    pub fn reason(self) -> &'static str {
        match self {
            Outcome::Tx { .. } => "",
            Outcome::Drop(r) => r.name(),
            Outcome::Pass(r) => r.name(),
        }
    }
}

/// A verdict, as a trace filter names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VerdictKind {
    /// Transmitted.
    Tx,
    /// Dropped.
    Drop,
    /// Meant for the kernel (dropped as `kernel_only`).
    Pass,
}

impl VerdictKind {
    /// `tx`, `drop` or `pass`.
    pub fn name(self) -> &'static str {
        match self {
            VerdictKind::Tx => "tx",
            VerdictKind::Drop => "drop",
            VerdictKind::Pass => "pass",
        }
    }

    /// Parses [`VerdictKind::name`].
    pub fn from_name(s: &str) -> Option<VerdictKind> {
        [VerdictKind::Tx, VerdictKind::Drop, VerdictKind::Pass]
            .into_iter()
            .find(|k| k.name() == s)
    }
}

/// Which frames a trace takes: every field given must match.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Filter {
    /// Only this verdict.
    pub verdict: Option<VerdictKind>,
    /// Only this drop or pass reason.
    pub reason: Option<Reason>,
}

/// A drop or pass reason a filter names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reason {
    /// A [`DropReason`].
    Drop(DropReason),
    /// A [`PassReason`].
    Pass(PassReason),
}

impl Reason {
    /// Looks a reason up by name (drop reasons first: no name is both).
    pub fn from_name(s: &str) -> Option<Reason> {
        DropReason::ALL
            .iter()
            .find(|r| r.name() == s)
            .map(|r| Reason::Drop(*r))
            .or_else(|| {
                PassReason::ALL
                    .iter()
                    .find(|r| r.name() == s)
                    .map(|r| Reason::Pass(*r))
            })
    }

    /// Every name [`Reason::from_name`] knows.
    pub fn names() -> impl Iterator<Item = &'static str> {
        DropReason::ALL
            .iter()
            .map(|r| r.name())
            .chain(PassReason::ALL.iter().map(|r| r.name()))
    }
}

impl Filter {
    /// Whether `o` passes the filter.
    pub fn matches(&self, o: Outcome) -> bool {
        if self.verdict.is_some_and(|v| v != o.kind()) {
            return false;
        }
        match (self.reason, o) {
            (None, _) => true,
            (Some(Reason::Drop(want)), Outcome::Drop(r)) => want == r,
            (Some(Reason::Pass(want)), Outcome::Pass(r)) => want == r,
            _ => false,
        }
    }

    /// Packs the filter into one word (for an atomic the workers read).
    fn pack(&self) -> u32 {
        let v = match self.verdict {
            None => 0,
            Some(VerdictKind::Tx) => 1,
            Some(VerdictKind::Drop) => 2,
            Some(VerdictKind::Pass) => 3,
        };
        let r = match self.reason {
            None => 0,
            Some(Reason::Drop(d)) => 0x100 | d as u32,
            Some(Reason::Pass(p)) => 0x200 | p as u32,
        };
        v | r << 8
    }

    fn unpack(w: u32) -> Filter {
        let verdict = match w & 0xff {
            1 => Some(VerdictKind::Tx),
            2 => Some(VerdictKind::Drop),
            3 => Some(VerdictKind::Pass),
            _ => None,
        };
        let r = (w >> 8) as usize;
        let reason = match r >> 8 {
            1 => DropReason::ALL.get(r & 0xff).map(|d| Reason::Drop(*d)),
            2 => PassReason::ALL.get(r & 0xff).map(|p| Reason::Pass(*p)),
            _ => None,
        };
        Filter { verdict, reason }
    }
}

/// One traced frame.
#[derive(Clone, Debug)]
pub struct Record {
    /// When the worker copied it.
    pub time: Duration,
    /// Port it arrived on.
    pub ingress: u8,
    /// Queue (worker) that decided it.
    pub queue: u32,
    /// What happened to it.
    pub outcome: Outcome,
    /// Its length on the wire (the copy may be shorter: `data.len()`).
    pub wire_len: u32,
    /// The copy (at most the buffer's capacity).
    pub data: Vec<u8>,
}

impl Record {
    /// An empty record whose copy holds up to `snap` bytes (the only
    /// allocation a trace makes, on the client's side).
    pub fn with_capacity(snap: usize) -> Box<Record> {
        Box::new(Record {
            time: Duration::ZERO,
            ingress: 0,
            queue: 0,
            outcome: Outcome::Drop(DropReason::Runt),
            wire_len: 0,
            data: Vec::with_capacity(snap),
        })
    }
}

/// What a trace counted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TraceStats {
    /// Frames copied.
    pub captured: u64,
    /// Matching frames not copied because every buffer was in use (the
    /// client was slower than the traffic).
    pub missed: u64,
}

/// Why a trace cannot start.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ArmError {
    /// Another client's trace runs.
    #[error("another trace is running on this instance; try again when it ends")]
    Busy,
    /// Count or buffers of zero.
    #[error("a trace needs a count and at least one buffer")]
    Empty,
}

/// The trace shared by the workers and one client at a time.
#[derive(Debug)]
pub struct Tracer {
    armed: AtomicBool,
    /// A client holds the tracer (armed or writing out).
    busy: AtomicBool,
    filter: AtomicU32,
    remaining: AtomicU64,
    captured: AtomicU64,
    missed: AtomicU64,
    free: (Sender<Box<Record>>, Receiver<Box<Record>>),
    full: (Sender<Box<Record>>, Receiver<Box<Record>>),
}

/// Most buffers one trace may have in flight.
pub const MAX_BUFFERS: usize = 256;

impl Default for Tracer {
    fn default() -> Self {
        Tracer {
            armed: AtomicBool::new(false),
            busy: AtomicBool::new(false),
            filter: AtomicU32::new(0),
            remaining: AtomicU64::new(0),
            captured: AtomicU64::new(0),
            missed: AtomicU64::new(0),
            free: bounded(MAX_BUFFERS),
            full: bounded(MAX_BUFFERS),
        }
    }
}

impl Tracer {
    /// A disarmed tracer.
    pub fn new() -> Tracer {
        Tracer::default()
    }

    /// Whether a trace is armed (the workers' per-batch check).
    #[inline]
    pub fn armed(&self) -> bool {
        self.armed.load(Ordering::Relaxed)
    }

    /// Arms a trace of the next `count` frames matching `filter`, copied
    /// into `buffers` (at most [`MAX_BUFFERS`] are used). Returns the
    /// session through which the client takes the records; dropping it
    /// disarms the trace.
    pub fn arm(
        &self,
        filter: Filter,
        count: u64,
        buffers: Vec<Box<Record>>,
    ) -> Result<Session<'_>, ArmError> {
        if count == 0 || buffers.is_empty() {
            return Err(ArmError::Empty);
        }
        if self.busy.swap(true, Ordering::Acquire) {
            return Err(ArmError::Busy);
        }
        // Leftovers of an earlier session (none if it ended cleanly).
        while self.free.1.try_recv().is_ok() {}
        while self.full.1.try_recv().is_ok() {}
        for b in buffers.into_iter().take(MAX_BUFFERS) {
            let _ = self.free.0.try_send(b);
        }
        self.captured.store(0, Ordering::Relaxed);
        self.missed.store(0, Ordering::Relaxed);
        self.filter.store(filter.pack(), Ordering::Relaxed);
        self.remaining.store(count, Ordering::Relaxed);
        // Release: a worker that sees `armed` sees the filter and count.
        self.armed.store(true, Ordering::Release);
        Ok(Session { tracer: self })
    }

    /// A worker's copy of one decided frame (call only when
    /// [`Tracer::armed`]): taken if it matches, a buffer is free and the
    /// count is not reached yet. `data` is the frame as sent (for
    /// [`Outcome::Tx`]) or as it arrived.
    #[cold]
    pub fn capture(&self, ingress: usize, queue: u32, outcome: Outcome, data: &[u8]) {
        self.capture_packet(ingress, queue, outcome, data, data.len());
    }

    /// [`Tracer::capture`] of a packet of `wire_len` bytes of which `data`
    /// is the first part: a multi-buffer (jumbo) packet's first frame. The
    /// record keeps `wire_len` as the packet's length, so the capture shows
    /// it cut short, as a snap length would.
    pub fn capture_packet(
        &self,
        ingress: usize,
        queue: u32,
        outcome: Outcome,
        data: &[u8],
        wire_len: usize,
    ) {
        if !self.armed.load(Ordering::Acquire) {
            return;
        }
        let filter = Filter::unpack(self.filter.load(Ordering::Relaxed));
        if !filter.matches(outcome) {
            return;
        }
        let Ok(mut rec) = self.free.1.try_recv() else {
            self.missed.fetch_add(1, Ordering::Relaxed);
            return;
        };
        let took = self
            .remaining
            .fetch_update(Ordering::AcqRel, Ordering::Relaxed, |n| n.checked_sub(1));
        match took {
            Ok(left) => {
                if left == 1 {
                    self.armed.store(false, Ordering::Relaxed);
                }
            }
            Err(_) => {
                self.armed.store(false, Ordering::Relaxed);
                let _ = self.free.0.try_send(rec);
                return;
            }
        }
        rec.time = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        rec.ingress = u8::try_from(ingress).unwrap_or(u8::MAX);
        rec.queue = queue;
        rec.outcome = outcome;
        rec.wire_len = u32::try_from(wire_len.max(data.len())).unwrap_or(u32::MAX);
        rec.data.clear();
        let n = data.len().min(rec.data.capacity());
        rec.data.extend_from_slice(&data[..n]);
        self.captured.fetch_add(1, Ordering::Relaxed);
        // Never full: it has room for every buffer there is.
        let _ = self.full.0.try_send(rec);
    }
}

/// A client's hold on an armed trace.
#[derive(Debug)]
pub struct Session<'t> {
    tracer: &'t Tracer,
}

impl Session<'_> {
    /// The next record, waiting up to `timeout`; `None` if none came.
    pub fn next(&self, timeout: Duration) -> Option<Box<Record>> {
        self.tracer.full.1.recv_timeout(timeout).ok()
    }

    /// Gives a written-out record's buffer back to the workers.
    pub fn recycle(&self, rec: Box<Record>) {
        let _ = self.tracer.free.0.try_send(rec);
    }

    /// Frames still to capture.
    pub fn remaining(&self) -> u64 {
        self.tracer.remaining.load(Ordering::Relaxed)
    }

    /// Whether the workers still copy frames.
    pub fn armed(&self) -> bool {
        self.tracer.armed()
    }

    /// What the trace counted so far.
    pub fn stats(&self) -> TraceStats {
        TraceStats {
            captured: self.tracer.captured.load(Ordering::Relaxed),
            missed: self.tracer.missed.load(Ordering::Relaxed),
        }
    }
}

impl Drop for Session<'_> {
    fn drop(&mut self) {
        let t = self.tracer;
        t.armed.store(false, Ordering::Release);
        t.remaining.store(0, Ordering::Relaxed);
        while t.free.1.try_recv().is_ok() {}
        while t.full.1.try_recv().is_ok() {}
        t.busy.store(false, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[expect(clippy::vec_box, reason = "the buffers move between channels as boxes")]
    fn buffers(n: usize, snap: usize) -> Vec<Box<Record>> {
        (0..n).map(|_| Record::with_capacity(snap)).collect()
    }

    #[test]
    fn filters_match_verdict_and_reason() {
        let drop_ttl = Outcome::Drop(DropReason::TooBig);
        let tx = Outcome::Tx { egress: 1 };
        let pass = Outcome::Pass(PassReason::Ttl);
        let any = Filter::default();
        assert!(any.matches(drop_ttl) && any.matches(tx) && any.matches(pass));
        let drops = Filter {
            verdict: Some(VerdictKind::Drop),
            reason: None,
        };
        assert!(drops.matches(drop_ttl) && !drops.matches(tx) && !drops.matches(pass));
        let big = Filter {
            verdict: None,
            reason: Reason::from_name("too_big"),
        };
        assert!(big.matches(drop_ttl));
        assert!(!big.matches(Outcome::Drop(DropReason::PortDown)));
        let ttl = Filter {
            verdict: None,
            reason: Reason::from_name("ttl"),
        };
        assert!(ttl.matches(pass) && !ttl.matches(drop_ttl));
        assert_eq!(Reason::from_name("bogus"), None);
        for f in [any, drops, big, ttl] {
            assert_eq!(Filter::unpack(f.pack()), f);
        }
        let names: Vec<_> = Reason::names().collect();
        let mut dedup = names.clone();
        dedup.sort_unstable();
        dedup.dedup();
        assert_eq!(dedup.len(), names.len(), "reason names are unique");
    }

    #[test]
    fn takes_the_next_n_matching_frames_then_disarms() {
        let t = Tracer::new();
        assert!(!t.armed());
        let only_drops = Filter {
            verdict: Some(VerdictKind::Drop),
            reason: None,
        };
        let s = t.arm(only_drops, 3, buffers(8, 64)).unwrap();
        assert!(t.armed());
        assert_eq!(
            t.arm(only_drops, 1, buffers(1, 64)).unwrap_err(),
            ArmError::Busy
        );
        for i in 0..10u8 {
            let o = if i % 2 == 0 {
                Outcome::Tx { egress: 1 }
            } else {
                Outcome::Drop(DropReason::TooBig)
            };
            if t.armed() {
                t.capture(0, 5, o, &[i; 100]);
            }
        }
        assert!(!t.armed(), "disarmed after 3");
        let mut got = Vec::new();
        while let Some(r) = s.next(Duration::from_millis(1)) {
            got.push((r.data.clone(), r.wire_len, r.queue, r.outcome));
            s.recycle(r);
        }
        assert_eq!(got.len(), 3);
        for (k, (data, wire, q, o)) in got.iter().enumerate() {
            let i = 2 * k as u8 + 1;
            assert_eq!(data, &vec![i; 64], "cut at the buffer's capacity");
            assert_eq!((*wire, *q, *o), (100, 5, Outcome::Drop(DropReason::TooBig)));
        }
        assert_eq!(s.stats().captured, 3);
        drop(s);
        // Free again.
        let s = t.arm(Filter::default(), 1, buffers(1, 8)).unwrap();
        drop(s);
        assert!(!t.armed());
    }

    #[test]
    fn without_a_free_buffer_a_frame_is_missed_not_waited_for() {
        let t = Tracer::new();
        let s = t.arm(Filter::default(), 10, buffers(2, 16)).unwrap();
        for _ in 0..5 {
            t.capture(1, 0, Outcome::Tx { egress: 0 }, &[1; 10]);
        }
        assert_eq!(
            s.stats(),
            TraceStats {
                captured: 2,
                missed: 3
            }
        );
        assert_eq!(s.remaining(), 8);
        let r = s.next(Duration::from_millis(1)).unwrap();
        s.recycle(r);
        t.capture(1, 0, Outcome::Tx { egress: 0 }, &[2; 10]);
        assert_eq!(s.stats().captured, 3);
    }

    #[test]
    fn arming_needs_a_count_and_buffers() {
        let t = Tracer::new();
        assert_eq!(
            t.arm(Filter::default(), 0, buffers(1, 8)).unwrap_err(),
            ArmError::Empty
        );
        assert_eq!(
            t.arm(Filter::default(), 1, Vec::new()).unwrap_err(),
            ArmError::Empty
        );
        assert!(t.arm(Filter::default(), 1, buffers(1, 8)).is_ok());
    }
}
