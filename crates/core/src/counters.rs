//! Counters: per-worker, per-port counts and their lock-free publication.
//!
//! A worker counts into plain integers it owns ([`PortCounters`]) and
//! publishes them with `Relaxed` stores into its own cache-line-padded
//! [`SharedCounters`]; the stats thread only loads. No locks, no atomics
//! read-modify-write on the fast path, no formatting there either: all
//! printing happens on snapshots, off the workers.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use crate::limits::MAX_PORTS;
use crate::verdict::{DropReason, DROP_REASONS};

/// What one worker counted for one port it serves.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PortCounters {
    /// Frames taken from this port's rx ring.
    pub rx_packets: u64,
    /// Bytes of those frames.
    pub rx_bytes: u64,
    /// Frames put on this port's tx ring.
    pub tx_packets: u64,
    /// Bytes of those frames.
    pub tx_bytes: u64,
    /// Frames dropped that arrived on this port, by reason.
    pub drops: [u64; DROP_REASONS],
    /// `sendto` kicks of this port's tx ring.
    pub tx_kicks: u64,
    /// Wakeups of this port's fill ring (`recvfrom`).
    pub fill_kicks: u64,
}

impl PortCounters {
    /// Total drops over all reasons.
    pub fn dropped(&self) -> u64 {
        self.drops.iter().sum()
    }

    /// Counts a drop.
    #[inline]
    pub fn drop(&mut self, reason: DropReason) {
        self.drops[reason as usize] += 1;
    }

    /// `self - earlier`, field by field (wrapping, for rates).
    pub fn delta(&self, earlier: &PortCounters) -> PortCounters {
        let mut drops = [0; DROP_REASONS];
        for (i, d) in drops.iter_mut().enumerate() {
            *d = self.drops[i].wrapping_sub(earlier.drops[i]);
        }
        PortCounters {
            rx_packets: self.rx_packets.wrapping_sub(earlier.rx_packets),
            rx_bytes: self.rx_bytes.wrapping_sub(earlier.rx_bytes),
            tx_packets: self.tx_packets.wrapping_sub(earlier.tx_packets),
            tx_bytes: self.tx_bytes.wrapping_sub(earlier.tx_bytes),
            drops,
            tx_kicks: self.tx_kicks.wrapping_sub(earlier.tx_kicks),
            fill_kicks: self.fill_kicks.wrapping_sub(earlier.fill_kicks),
        }
    }

    /// Adds `other` into `self`.
    pub fn add(&mut self, other: &PortCounters) {
        self.rx_packets += other.rx_packets;
        self.rx_bytes += other.rx_bytes;
        self.tx_packets += other.tx_packets;
        self.tx_bytes += other.tx_bytes;
        for (d, o) in self.drops.iter_mut().zip(other.drops) {
            *d += o;
        }
        self.tx_kicks += other.tx_kicks;
        self.fill_kicks += other.fill_kicks;
    }
}

const FIELDS: usize = 6 + DROP_REASONS;

/// The published copy of one port's counters (one cache line or more).
#[derive(Debug, Default)]
#[repr(align(128))]
struct SharedPort([AtomicU64; FIELDS]);

/// What one worker publishes about itself (not per port): where its
/// frames are and how busy it is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WorkerGauges {
    /// Frames in its free pool.
    pub free: u64,
    /// Frames in fill and rx rings (the kernel's until received).
    pub in_fill: u64,
    /// Frames on tx rings, not completed yet.
    pub in_flight: u64,
    /// Frames taken back from deleted ports' rings (a counter).
    pub reclaimed: u64,
    /// Nanoseconds spent in passes that found work (a counter; see
    /// [`crate::worker`]).
    pub busy_ns: u64,
    /// Passes over its ports (a counter).
    pub passes: u64,
}

/// The counters one worker publishes; read by the stats thread.
#[derive(Debug)]
pub struct SharedCounters {
    ports: Vec<SharedPort>,
    worker: SharedPort,
}

impl SharedCounters {
    /// Counters for a worker serving `ports` ports.
    pub fn new(ports: usize) -> Self {
        assert!(ports <= MAX_PORTS);
        SharedCounters {
            ports: (0..ports).map(|_| SharedPort::default()).collect(),
            worker: SharedPort::default(),
        }
    }

    /// Publishes the worker's own gauges (owner only).
    #[inline]
    pub fn publish_worker(&self, g: &WorkerGauges) {
        let a = &self.worker.0;
        a[0].store(g.free, Relaxed);
        a[1].store(g.in_fill, Relaxed);
        a[2].store(g.in_flight, Relaxed);
        a[3].store(g.reclaimed, Relaxed);
        a[4].store(g.busy_ns, Relaxed);
        a[5].store(g.passes, Relaxed);
    }

    /// Reads the worker's last published gauges.
    pub fn worker(&self) -> WorkerGauges {
        let a = &self.worker.0;
        WorkerGauges {
            free: a[0].load(Relaxed),
            in_fill: a[1].load(Relaxed),
            in_flight: a[2].load(Relaxed),
            reclaimed: a[3].load(Relaxed),
            busy_ns: a[4].load(Relaxed),
            passes: a[5].load(Relaxed),
        }
    }

    /// Publishes the worker's local counters (owner only).
    #[inline]
    pub fn publish(&self, local: &[PortCounters]) {
        for (s, l) in self.ports.iter().zip(local) {
            let a = &s.0;
            a[0].store(l.rx_packets, Relaxed);
            a[1].store(l.rx_bytes, Relaxed);
            a[2].store(l.tx_packets, Relaxed);
            a[3].store(l.tx_bytes, Relaxed);
            a[4].store(l.tx_kicks, Relaxed);
            a[5].store(l.fill_kicks, Relaxed);
            for (i, d) in l.drops.iter().enumerate() {
                a[6 + i].store(*d, Relaxed);
            }
        }
    }

    /// Reads the last published values.
    pub fn snapshot(&self) -> Vec<PortCounters> {
        self.ports
            .iter()
            .map(|s| {
                let a = &s.0;
                let mut drops = [0; DROP_REASONS];
                for (i, d) in drops.iter_mut().enumerate() {
                    *d = a[6 + i].load(Relaxed);
                }
                PortCounters {
                    rx_packets: a[0].load(Relaxed),
                    rx_bytes: a[1].load(Relaxed),
                    tx_packets: a[2].load(Relaxed),
                    tx_bytes: a[3].load(Relaxed),
                    tx_kicks: a[4].load(Relaxed),
                    fill_kicks: a[5].load(Relaxed),
                    drops,
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn publish_snapshot_round_trip() {
        let shared = SharedCounters::new(2);
        let mut local = [PortCounters::default(); 2];
        local[1].rx_packets = 7;
        local[1].tx_bytes = 900;
        local[0].drop(DropReason::TxRingFull);
        local[0].drop(DropReason::TxRingFull);
        local[1].fill_kicks = 3;
        shared.publish(&local);
        let snap = shared.snapshot();
        assert_eq!(snap, local.to_vec());
        assert_eq!(snap[0].dropped(), 2);
    }

    #[test]
    fn delta_and_add() {
        let mut a = PortCounters {
            rx_packets: 10,
            tx_packets: 5,
            ..Default::default()
        };
        a.drop(DropReason::Runt);
        let b = PortCounters {
            rx_packets: 4,
            tx_packets: 1,
            ..Default::default()
        };
        let d = a.delta(&b);
        assert_eq!((d.rx_packets, d.tx_packets, d.dropped()), (6, 4, 1));
        let mut s = PortCounters::default();
        s.add(&a);
        s.add(&b);
        assert_eq!(s.rx_packets, 14);
    }
}
