//! Counters: drop reasons, per-worker counters and their snapshots.
//!
//! A worker counts into plain integers it owns ([`PortCounters`]) and
//! publishes them with `Relaxed` stores into its own cache-line-padded
//! [`SharedCounters`]; the stats thread only loads. No locks, no atomics
//! read-modify-write on the fast path, no formatting there either: all
//! printing happens on snapshots, off the workers.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use crate::config::MAX_PORTS;

macro_rules! reasons {
    ($($(#[$doc:meta])* $name:ident => $text:literal,)*) => {
        /// Why a frame was dropped by xskfwd (each has its own counter).
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[repr(u8)]
        pub enum DropReason { $($(#[$doc])* $name,)* }

        impl DropReason {
            /// Every reason, in counter order.
            pub const ALL: &'static [DropReason] = &[$(DropReason::$name,)*];

            /// Stable snake_case name (used in JSON and tables).
            pub fn name(self) -> &'static str {
                match self { $(DropReason::$name => $text,)* }
            }
        }
    };
}

reasons! {
    /// Shorter than an Ethernet header (the XDP program passes these to the
    /// kernel, so this should stay zero).
    Runt => "runt",
    /// The egress tx ring stayed full through every bounded retry.
    TxRingFull => "tx_ring_full",
    /// Larger than the egress port accepts.
    TooBig => "too_big",
    /// The decision named a port this worker does not serve (a bug).
    NoEgress => "no_egress",
    /// L3: unicast to another host's MAC (the kernel drops these too).
    NotForUs => "not_for_us",
    /// L3: IPv4 header or packet longer than the frame.
    Ipv4Truncated => "ipv4_truncated",
    /// L3: IPv4 version field is not 4.
    Ipv4Version => "ipv4_version",
    /// L3: IPv4 header length below 20 bytes.
    Ipv4HeaderLen => "ipv4_header_len",
    /// L3: IPv4 total length below the header length.
    Ipv4TotalLen => "ipv4_total_len",
    /// L3: IPv4 header checksum wrong.
    Ipv4Checksum => "ipv4_checksum",
    /// L3: IPv6 header or payload longer than the frame.
    Ipv6Truncated => "ipv6_truncated",
    /// L3: IPv6 version field is not 6.
    Ipv6Version => "ipv6_version",
    /// L3: martian source (0.0.0.0, multicast, broadcast, loopback).
    MartianSrc => "martian_src",
    /// L3: martian destination (0.0.0.0, ::1).
    MartianDst => "martian_dst",
    /// L3: no route (the XDP program sends these to the kernel, which
    /// answers with ICMP unreachable; this counts only table races).
    NoRoute => "no_route",
    /// L3: a frame only the kernel may handle reached xskfwd (the XDP
    /// program and the tables disagreed for a moment, e.g. during an
    /// update); it cannot be handed back from the UMEM.
    KernelOnly => "kernel_only",
}

/// Number of drop reasons.
pub const DROP_REASONS: usize = DropReason::ALL.len();

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

/// The counters one worker publishes; read by the stats thread.
#[derive(Debug)]
pub struct SharedCounters {
    ports: Vec<SharedPort>,
}

impl SharedCounters {
    /// Counters for a worker serving `ports` ports.
    pub fn new(ports: usize) -> Self {
        assert!(ports <= MAX_PORTS);
        SharedCounters {
            ports: (0..ports).map(|_| SharedPort::default()).collect(),
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

/// Kernel-side AF_XDP statistics of one socket (`XDP_STATISTICS`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct XskStats {
    /// Dropped for reasons other than invalid descriptors.
    pub rx_dropped: u64,
    /// Dropped because of invalid rx descriptors.
    pub rx_invalid: u64,
    /// Dropped because the rx ring was full.
    pub rx_ring_full: u64,
    /// Times the fill ring was empty when the kernel needed a frame.
    pub fill_ring_empty: u64,
    /// Invalid tx descriptors.
    pub tx_invalid: u64,
    /// Times the tx ring was empty when the kernel looked.
    pub tx_ring_empty: u64,
}

/// Names of the XDP program's counters, in the order of
/// `enum xskfwd_counter` in `bpf/xskfwd.h` (JSON keys).
pub const XDP_COUNTERS: [&str; 18] = [
    "redirect",
    "pass_no_socket",
    "pass_short",
    "pass_queue",
    "pass_not_ip",
    "pass_l2_dst",
    "pass_options",
    "pass_ttl",
    "pass_mcast",
    "pass_link_local",
    "pass_local",
    "pass_no_route",
    "pass_no_neigh",
    "pass_mtu",
    "pass_not_ours",
    "pass_fwd_off",
    "pass_rpf",
    "pass_special",
];

/// What one port's XDP program counted, summed over CPUs: index `i` is
/// [`XDP_COUNTERS`]`[i]`. Index 0 is frames redirected to xskfwd; every
/// other counter is a reason a frame went to the kernel.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct XdpProgStats {
    /// The counters.
    pub counts: [u64; XDP_COUNTERS.len()],
}

impl XdpProgStats {
    /// Redirected into an AF_XDP socket.
    pub fn redirect(&self) -> u64 {
        self.counts[0]
    }

    /// Everything passed to the kernel, whatever the reason.
    pub fn passed(&self) -> u64 {
        self.counts[1..].iter().sum()
    }

    /// `(name, count)` of every counter.
    pub fn named(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
        XDP_COUNTERS
            .iter()
            .copied()
            .zip(self.counts.iter().copied())
    }
}

/// Packets per second over `secs`, as f64.
pub fn rate(count: u64, secs: f64) -> f64 {
    if secs > 0.0 {
        count as f64 / secs
    } else {
        0.0
    }
}

/// Formats a rate compactly: `1.23M`, `45.6k`, `789`.
pub fn human(rate: f64) -> String {
    if rate >= 1e6 {
        format!("{:.2}M", rate / 1e6)
    } else if rate >= 1e3 {
        format!("{:.1}k", rate / 1e3)
    } else {
        format!("{rate:.0}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_have_distinct_names_and_indices() {
        for (i, r) in DropReason::ALL.iter().enumerate() {
            assert_eq!(*r as usize, i);
            assert!(DropReason::ALL[..i].iter().all(|o| o.name() != r.name()));
        }
    }

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

    #[test]
    fn human_rates() {
        assert_eq!(human(1_234_567.0), "1.23M");
        assert_eq!(human(45_600.0), "45.6k");
        assert_eq!(human(789.0), "789");
        assert_eq!(rate(10, 0.0), 0.0);
        assert_eq!(rate(10, 2.0), 5.0);
    }
}
