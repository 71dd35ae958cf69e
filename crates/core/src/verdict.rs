//! The decision vocabulary every forwarder speaks: what happens to a frame
//! ([`Verdict`]), why the kernel must have it ([`PassReason`]), why it was
//! dropped ([`DropReason`]), and the one call a worker makes per rx batch
//! ([`Forwarder::decide_batch`]).
//!
//! PURE: types only; nothing here touches a frame, a ring or the OS.

/// What happens to a frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Transmit `len` bytes of the (rewritten) frame on port `port`.
    Tx {
        /// Egress port index.
        port: u8,
        /// Length to transmit.
        len: u32,
    },
    /// Return the frame to the free pool and count why.
    Drop(DropReason),
    /// The kernel must handle this frame (L3). The XDP program passes such
    /// frames before they reach xskfwd; one that arrives anyway is dropped
    /// and counted as [`DropReason::KernelOnly`].
    Pass(PassReason),
}

/// Why a frame is the kernel's (see [`crate::l3`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PassReason {
    /// Not IPv4 or IPv6 (ARP, LLDP, …).
    NonIp,
    /// Carries an 802.1Q/802.1ad tag.
    Vlan,
    /// Broadcast or multicast destination MAC.
    L2Multicast,
    /// IPv4 options or an IPv6 hop-by-hop header.
    Options,
    /// TTL / hop limit ≤ 1: the kernel sends Time Exceeded.
    Ttl,
    /// Multicast or limited-broadcast destination address.
    Multicast,
    /// IPv6 link-local source or destination.
    LinkLocal,
    /// For this host (local, broadcast or anycast address).
    Local,
    /// 127/8 or the rest of ::/80: depends on kernel settings.
    Special,
    /// Route of type blackhole/unreachable/prohibit/throw.
    Reject,
    /// A route xskfwd does not forward (ECMP, foreign egress, other type).
    KernelRoute,
    /// The route leads back out of the ingress port (the kernel also sends
    /// a redirect).
    SameInterface,
    /// Larger than the egress MTU (fragmentation or ICMP needed).
    Mtu,
    /// The next hop's MAC is not known yet (the kernel resolves it).
    NoNeighbour,
}

impl PassReason {
    /// Every reason.
    pub const ALL: &'static [PassReason] = &[
        PassReason::NonIp,
        PassReason::Vlan,
        PassReason::L2Multicast,
        PassReason::Options,
        PassReason::Ttl,
        PassReason::Multicast,
        PassReason::LinkLocal,
        PassReason::Local,
        PassReason::Special,
        PassReason::Reject,
        PassReason::KernelRoute,
        PassReason::SameInterface,
        PassReason::Mtu,
        PassReason::NoNeighbour,
    ];

    /// Stable snake_case name (traces, JSON).
    pub fn name(self) -> &'static str {
        match self {
            PassReason::NonIp => "non_ip",
            PassReason::Vlan => "vlan",
            PassReason::L2Multicast => "l2_multicast",
            PassReason::Options => "options",
            PassReason::Ttl => "ttl",
            PassReason::Multicast => "multicast",
            PassReason::LinkLocal => "link_local",
            PassReason::Local => "local",
            PassReason::Special => "special",
            PassReason::Reject => "reject",
            PassReason::KernelRoute => "kernel_route",
            PassReason::SameInterface => "same_interface",
            PassReason::Mtu => "mtu",
            PassReason::NoNeighbour => "no_neighbour",
        }
    }
}

/// Decides the fate of whole rx batches. The worker calls it once per
/// batch it took from one port's rx ring; the forwarder keeps no state
/// about a batch between calls.
pub trait Forwarder {
    /// Decides and rewrites (in place) every frame of one rx batch that
    /// arrived on port `ingress`: `out[i]` is the verdict for `frames[i]`,
    /// `meta[i]` what the XDP program put in front of it
    /// ([`crate::rings::Rings::take_meta`]). The three have the same
    /// length, at most [`crate::limits::MAX_BATCH`].
    ///
    /// A forwarder may use the batch as a whole: pick up new table
    /// snapshots once, look every frame's route up before deciding any, so
    /// that cache misses overlap.
    fn decide_batch(
        &mut self,
        ingress: usize,
        frames: &mut [&mut [u8]],
        meta: &[crate::rings::Meta],
        out: &mut [Verdict],
    );

    /// Decides and rewrites one multi-buffer packet (a jumbo frame that
    /// arrived as a chain of UMEM frames): `head` is its first frame, with
    /// every header, and `tail` bytes follow in further frames, which a
    /// forwarder never needs to read. [`Verdict::Tx`]'s `len` is the whole
    /// packet's; the worker sends the chain only if that is the length it
    /// has (a chain is never trimmed). The default drops it
    /// ([`DropReason::Chain`]).
    fn decide_chained(
        &mut self,
        _ingress: usize,
        _head: &mut [u8],
        _tail: u32,
        _meta: &crate::rings::Meta,
    ) -> Verdict {
        Verdict::Drop(DropReason::Chain)
    }

    /// Whether [`Forwarder::decide_batch`] reads the frames' metadata; the
    /// worker does not fetch it (a cache line per frame) otherwise.
    fn uses_meta(&self) -> bool {
        false
    }

    /// The largest frame port `port` sends changed (its MTU did): frames
    /// longer than `max_len` (Ethernet header included) must not be sent
    /// there any more, and frames up to it may be. The default ignores it.
    fn set_port_max_len(&mut self, _port: usize, _max_len: u32) {}
}

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
    /// The egress port's link is down, or its interface is gone: the
    /// frame is not queued (no syscall for a port that cannot send).
    PortDown => "port_down",
    /// L3: a frame only the kernel may handle reached xskfwd (the XDP
    /// program and the tables disagreed for a moment, e.g. during an
    /// update); it cannot be handed back from the UMEM.
    KernelOnly => "kernel_only",
    /// A multi-buffer (jumbo) packet that cannot be sent as the chain of
    /// frames it arrived in: bytes beyond its IP packet (which the XDP
    /// program passes to the kernel, so this should stay zero), or a
    /// forwarder without multi-buffer support.
    Chain => "chain",
}

/// Number of drop reasons.
pub const DROP_REASONS: usize = DropReason::ALL.len();

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_have_distinct_names_and_indices() {
        for (i, r) in DropReason::ALL.iter().enumerate() {
            assert_eq!(*r as usize, i);
            assert!(DropReason::ALL[..i].iter().all(|o| o.name() != r.name()));
        }
        for (i, r) in PassReason::ALL.iter().enumerate() {
            assert!(PassReason::ALL[..i]
                .iter()
                .all(|o| o != r && o.name() != r.name()));
        }
    }
}
