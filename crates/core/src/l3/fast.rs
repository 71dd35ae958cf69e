//! The fast path of [`super::L3Forwarder`]: a routed packet of the common
//! kind decided in one pass over its headers, read as fixed-size arrays,
//! with every exception folded into one test, and its next hop taken from
//! a dense table resolved once per snapshot ([`FastHops`]).
//!
//! It only ever says "forward, exactly as the reference would". Whatever
//! it does not fully recognise (any RFC 1812 check, martian or special
//! address that would not pass, TTL ≤ 1, a next hop that is not a resolved
//! gateway of the packet's family, the ingress port, a packet over the
//! MTU, a VLAN tag, IPv4 options, a hop-by-hop header, a decision from the
//! kernel) it leaves untouched and returns `None`, and the frame takes the
//! reference path ([`super::decide_with`]), which decides it. So no check
//! is given up: a packet the fast path forwards is one that passes every
//! check of the reference path. The tests compare both on every frame.
//!
//! PURE: no syscalls, no allocation, no panics on any input.

use std::net::IpAddr;

use crate::route::{Action, Fib, HopMac, L3Port, Neighbours, PortId};
use crate::verdict::Verdict;
use crate::wire::checksum;

/// Next hops with a fast entry: indices from 0 up to this (a table has a
/// handful; the rest take the reference path).
pub(super) const FAST_HOPS: usize = 256;

/// [`FastHop::family`]: usable by IPv4 packets.
pub(super) const FAMILY_V4: u8 = 1;
/// [`FastHop::family`]: usable by IPv6 packets.
pub(super) const FAMILY_V6: u8 = 2;

/// One next hop, resolved for the fast path: what it writes and checks.
/// 16 bytes, so four share a cache line.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct FastHop {
    /// The gateway's MAC, then the egress port's MAC: the first 12 bytes
    /// of the forwarded frame.
    macs: [u8; 12],
    /// The smaller of the route's and the egress port's MTU, capped at
    /// `u16::MAX` (an IP packet is never longer).
    mtu: u16,
    /// Egress port.
    port: PortId,
    /// `FAMILY_V4` or `FAMILY_V6`: which packets may use it; 0: none (the
    /// reference path decides).
    family: u8,
}

/// The fast entries of the next hops `0..FAST_HOPS` of one [`Fib`]
/// build, with the neighbours and ports they were resolved with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct FastHops {
    hops: [FastHop; FAST_HOPS],
}

impl Default for FastHops {
    fn default() -> Self {
        FastHops {
            hops: [FastHop::default(); FAST_HOPS],
        }
    }
}

impl FastHops {
    /// Resolves every next hop of `fib` that the fast path can execute:
    /// a forward via a gateway whose MAC `neigh` holds for this very
    /// build, out of one of `ports`. Exactly what the reference path
    /// (`route_tail`) would find for that hop, except the ingress check,
    /// which is per batch.
    pub(super) fn rebuild(&mut self, ports: &[L3Port], fib: &Fib, neigh: &Neighbours) {
        for (i, h) in (0u32..).zip(self.hops.iter_mut()) {
            *h = FastHop::default();
            let Some(&Action::Forward {
                port,
                gateway: Some(gw),
                mtu,
            }) = fib.hop(i)
            else {
                continue;
            };
            let Some(p) = ports.get(usize::from(port)) else {
                continue;
            };
            let Some(HopMac::Gateway(mac)) = neigh.hop_mac(fib.id(), i) else {
                continue;
            };
            let mtu = mtu.map_or(p.mtu, |m| m.min(p.mtu));
            let mut macs = [0u8; 12];
            macs[..6].copy_from_slice(&mac);
            macs[6..].copy_from_slice(&p.mac);
            *h = FastHop {
                macs,
                mtu: u16::try_from(mtu).unwrap_or(u16::MAX),
                port,
                family: match gw {
                    IpAddr::V4(_) => FAMILY_V4,
                    IpAddr::V6(_) => FAMILY_V6,
                },
            };
        }
    }

    /// The entry of next hop `idx` if packets of `family` may use it.
    #[inline(always)]
    fn get(&self, idx: Option<u32>, family: u8) -> Option<&FastHop> {
        let h = self.hops.get(idx? as usize)?;
        (h.family == family).then_some(h)
    }
}

/// What the fast path needs besides the frame: the ingress port and the
/// resolved next hops.
pub(super) struct Fast<'a> {
    /// The ingress port's MAC, as [`mac48`] reads it.
    pub mac: u64,
    /// The ingress port.
    pub ingress: usize,
    /// Number of ports.
    pub ports: usize,
    /// Next hops resolved for the current snapshots.
    pub hops: &'a FastHops,
}

/// Where a packet goes: egress port and the MACs to write (destination,
/// source).
pub(super) type Out = (PortId, [u8; 12]);

impl Fast<'_> {
    /// The route's next hop `idx` for a packet of `family` and `total`
    /// bytes, if the fast path can execute it: resolved, not back out of
    /// the ingress port, within the MTU.
    #[inline(always)]
    pub(super) fn table(&self, idx: Option<u32>, family: u8, total: usize) -> Option<Out> {
        let hop = self.hops.get(idx, family)?;
        (usize::from(hop.port) != self.ingress && total <= usize::from(hop.mtu))
            .then_some((hop.port, hop.macs))
    }

    /// The kernel's decision (XDP metadata), if it names another port of
    /// ours; no MTU check, as on the reference path (the FIB lookup and
    /// the program's length limit made it).
    #[inline(always)]
    pub(super) fn kernel(&self, port: PortId, dst: [u8; 6], src: [u8; 6]) -> Option<Out> {
        let p = usize::from(port);
        (p < self.ports && p != self.ingress).then(|| {
            let mut macs = [0u8; 12];
            macs[..6].copy_from_slice(&dst);
            macs[6..].copy_from_slice(&src);
            (port, macs)
        })
    }
}

const ETH: usize = 14;
/// Ethernet + IPv4 header without options.
const V4_END: usize = ETH + 20;
/// Ethernet + IPv6 header.
const V6_END: usize = ETH + 40;

#[inline(always)]
fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

/// A MAC address as one number (a byte-order-independent key: only
/// compared for equality).
#[inline(always)]
pub(super) fn mac48(m: [u8; 6]) -> u64 {
    u64::from_le_bytes([m[0], m[1], m[2], m[3], m[4], m[5], 0, 0])
}

/// The destination MAC of the frame `h` starts with, as [`mac48`].
#[inline(always)]
fn dst_mac(h: &[u8]) -> u64 {
    mac48([h[0], h[1], h[2], h[3], h[4], h[5]])
}

/// Bytes 12..15 (EtherType, first byte of the IP header) as a number.
#[inline(always)]
fn type_and_version(h: &[u8]) -> u32 {
    u32::from_le_bytes([h[12], h[13], h[14], 0])
}

/// What [`type_and_version`] reads for IPv4 without options.
const IPV4_IHL5: u32 = u32::from_le_bytes([0x08, 0x00, 0x45, 0]);
/// What [`type_and_version`] reads for IPv6, without the traffic class.
const IPV6_V6: u32 = u32::from_le_bytes([0x86, 0xdd, 0x60, 0]);
/// The bits of [`type_and_version`] that [`IPV6_V6`] fixes.
const IPV6_MASK: u32 = u32::from_le_bytes([0xff, 0xff, 0xf0, 0]);

/// Decides an untagged IPv4 frame of the common kind; `next` says where
/// a packet to a destination of so many bytes goes (a route looked up,
/// or looked up ahead, or the kernel's decision), if the fast path can
/// send it there.
#[inline(always)]
pub(super) fn ipv4(
    ctx: &Fast<'_>,
    frame: &mut [u8],
    next: impl FnOnce(u32, usize) -> Option<Out>,
) -> Option<Verdict> {
    let avail = frame.len().wrapping_sub(ETH);
    let (h, _) = frame.split_first_chunk_mut::<V4_END>()?;
    let ip: &[u8; 20] = h.last_chunk::<20>()?;
    let total = usize::from(be16(ip, 2));
    let ttl = ip[8];
    let src = u32::from_be_bytes([ip[12], ip[13], ip[14], ip[15]]);
    let dst = u32::from_be_bytes([ip[16], ip[17], ip[18], ip[19]]);
    // The reference path's checks, each as it must come out for a
    // forward, folded into one test (`&`, not `&&`: no branch each).
    let sane = (dst_mac(h) == ctx.mac)
        // EtherType IPv4, version 4, no options (a 20-byte header).
        & (type_and_version(h) == IPV4_IHL5)
        & (total >= 20)
        & (total <= avail)
        & checksum::verify20(ip)
        // Not multicast (either end); neither 255.255.255.255 nor 0.0.0.0
        // (either end: x + 1 is then 0 or 1); no loopback.
        & (dst >> 28 != 0xe)
        & (src >> 28 != 0xe)
        & (dst.wrapping_add(1) > 1)
        & (src.wrapping_add(1) > 1)
        & (dst >> 24 != 127)
        & (src >> 24 != 127)
        & (ttl > 1);
    if !sane {
        return None;
    }
    let (port, macs) = next(dst, total)?;
    let proto = ip[9];
    let hc = checksum::update(
        be16(ip, 10),
        u16::from_be_bytes([ttl, proto]),
        u16::from_be_bytes([ttl - 1, proto]),
    );
    h[..12].copy_from_slice(&macs);
    h[ETH + 8] = ttl - 1;
    h[ETH + 10..ETH + 12].copy_from_slice(&hc.to_be_bytes());
    Some(Verdict::Tx {
        port,
        len: (ETH + total) as u32,
    })
}

const LINK_LOCAL: u128 = 0xfe80 << 112;
const LINK_LOCAL_MASK: u128 = 0xffc0 << 112;

/// Decides an untagged IPv6 frame of the common kind; `next` as for
/// [`ipv4`].
#[inline(always)]
pub(super) fn ipv6(
    ctx: &Fast<'_>,
    frame: &mut [u8],
    next: impl FnOnce(u128, usize) -> Option<Out>,
) -> Option<Verdict> {
    let avail = frame.len().wrapping_sub(ETH);
    let (h, _) = frame.split_first_chunk_mut::<V6_END>()?;
    let ip: &[u8; 40] = h.last_chunk::<40>()?;
    let total = 40 + usize::from(be16(ip, 4));
    let hops = ip[7];
    let addr = |at: usize| {
        let mut a = [0u8; 16];
        a.copy_from_slice(&ip[at..at + 16]);
        u128::from_be_bytes(a)
    };
    let (src, dst) = (addr(8), addr(24));
    let sane = (dst_mac(h) == ctx.mac)
        // EtherType IPv6, version 6.
        & (type_and_version(h) & IPV6_MASK == IPV6_V6)
        & (total <= avail)
        // No hop-by-hop options header.
        & (ip[6] != 0)
        // Not multicast (either end), not link-local (either end), not
        // loopback, not in the rest of ::/80.
        & (dst >> 120 != 0xff)
        & (src >> 120 != 0xff)
        & (dst & LINK_LOCAL_MASK != LINK_LOCAL)
        & (src & LINK_LOCAL_MASK != LINK_LOCAL)
        & (dst >> 48 != 0)
        & (src >> 48 != 0)
        & (hops > 1);
    if !sane {
        return None;
    }
    let (port, macs) = next(dst, total)?;
    h[..12].copy_from_slice(&macs);
    h[ETH + 7] = hops - 1;
    Some(Verdict::Tx {
        port,
        len: (ETH + total) as u32,
    })
}
