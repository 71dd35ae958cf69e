//! The L3 forwarding decision: frame bytes + tables → verdict, with the
//! frame rewritten in place the way the Linux kernel's own forwarding
//! rewrites it.
//!
//! PURE: no syscalls, no allocation, no clock, no panics on any input. All
//! header access goes through [`crate::wire`].
//!
//! The reference is the kernel (`ip_rcv`/`ip_forward`, `ipv6_rcv`/
//! `ip6_forward`), not the RFC text, wherever they differ:
//! - 0.0.0.0/8 (except 0.0.0.0 itself) and 240.0.0.0/4 are forwarded as
//!   ordinary unicast; 0.0.0.0, multicast and limited-broadcast *sources*
//!   and a 0.0.0.0 destination are dropped silently (as the kernel's
//!   martian checks do); 127/8 depends on `route_localnet`, so it is the
//!   kernel's.
//! - bytes after the IP total length / IPv6 payload are trimmed (the
//!   kernel's `pskb_trim_rcsum`), so the forwarded frame can be shorter
//!   than the received one; nothing else after the IP header changes.
//! - IPv6 link-local sources and destinations are the kernel's (it sends
//!   ICMPv6 errors for them), so are IPv4 options and IPv6 hop-by-hop
//!   headers, TTL/hop limit ≤ 1 (Time Exceeded), multicast, local
//!   addresses, reject routes, unresolved neighbours (ARP/NDP), packets over
//!   the egress MTU (fragmentation or ICMP), and a route back out of the
//!   ingress port (the kernel also sends a redirect).
//!
//! [`Verdict::Pass`] names those cases. The XDP program passes all of them
//! to the kernel before they reach xskfwd; if one still arrives (a table
//! changed between the two decisions), the worker drops and counts it,
//! because a frame in the UMEM cannot be handed back.
//!
//! Shape: [`decide_with`] checks the Ethernet header and hands the packet
//! to its family's header checks (`ipv4_route`, `ipv6_route`), which hand
//! a routed packet to one generic tail (`route_tail`: route action → MTU
//! → neighbour) and then to one `transmit` (MACs, length), so the two
//! families cannot drift apart.

use std::net::IpAddr;

use crate::limits::{MAX_BATCH, MAX_L3_PORTS};
use crate::rings::{Meta, META_LEN};
use crate::route::{Action, Fib, HopMac, KernelOnly, L3Port, L3Ports, Neighbours, PortId};
use crate::tables::TablesReader;
use crate::verdict::{DropReason, Forwarder, PassReason, Verdict};
use crate::wire::ethernet::{self, ethertype};
use crate::wire::ipv4::{self, Ipv4Error};
use crate::wire::ipv6;

mod fast;
use fast::{Fast, FastHops};

/// Decides and rewrites one frame that arrived on port `ingress`.
///
/// `ports[i]` describes port `i`; `fib` and `neigh` are the current
/// snapshots. On [`Verdict::Tx`] the frame has been rewritten in place and
/// `len` is the length to send (the frame trimmed to the IP packet).
#[inline]
pub fn decide(
    ports: &[L3Port],
    fib: &Fib,
    neigh: &Neighbours,
    ingress: usize,
    frame: &mut [u8],
) -> Verdict {
    decide_with(ports, fib, neigh, ingress, frame, Hint::None)
}

/// A route looked up ahead of the decision (see [`lookup_ahead`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Hint {
    /// Nothing looked up.
    #[default]
    None,
    /// The next-hop index for this IPv4 destination (host order).
    V4(u32, Option<u32>),
    /// The next-hop index for this IPv6 destination.
    V6(u128, Option<u32>),
    /// The kernel's FIB decided this frame (in the XDP program, which put
    /// the decision in front of it): the worker executes it.
    Kernel(KernelHop),
}

/// Magic of `struct xskfwd_meta` (`XSKFWD_META_MAGIC`).
pub const META_MAGIC: u32 = 0x7873_6b31;

/// What the kernel's FIB decided for a frame, as the XDP program put it in
/// front of the frame (`struct xskfwd_meta`): egress port and MACs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KernelHop {
    /// Egress port.
    pub port: PortId,
    /// The neighbour's MAC.
    pub dst: [u8; 6],
    /// The egress device's MAC.
    pub src: [u8; 6],
}

impl KernelHop {
    /// Decodes the XDP metadata; `None` without a decision in it.
    #[inline]
    pub fn from_meta(m: &Meta) -> Option<KernelHop> {
        if u32::from_ne_bytes([m[0], m[1], m[2], m[3]]) != META_MAGIC {
            return None;
        }
        let mut dst = [0u8; 6];
        let mut src = [0u8; 6];
        dst.copy_from_slice(&m[6..12]);
        src.copy_from_slice(&m[12..18]);
        Some(KernelHop {
            port: m[4],
            dst,
            src,
        })
    }

    /// The metadata the XDP program writes for this decision.
    pub fn to_meta(self) -> Meta {
        let mut m = [0u8; META_LEN];
        m[..4].copy_from_slice(&META_MAGIC.to_ne_bytes());
        m[4] = self.port;
        m[6..12].copy_from_slice(&self.dst);
        m[12..18].copy_from_slice(&self.src);
        m
    }
}

/// Executes the kernel's decision for a routed packet of `ip_len` bytes
/// (its header checks passed), unless it names no other port of ours. No
/// MTU check here: the FIB lookup checked the egress device's MTU and the
/// program's length limit every route MTU before the frame was
/// redirected.
#[inline(always)]
fn kernel_tail(ctx: &Ctx<'_>, k: KernelHop, ip_len: u32) -> Option<Routed> {
    let ours = usize::from(k.port) < ctx.ports.len() && usize::from(k.port) != ctx.ingress;
    ours.then_some(Routed {
        port: k.port,
        dst: k.dst,
        src: k.src,
        ip_len,
    })
}

/// The destination address of an untagged IPv4/IPv6 frame, unchecked
/// otherwise: what a look-ahead needs before the real decision.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Dst {
    V4(u32),
    V6(u128),
}

#[inline(always)]
fn peek_dst(frame: &[u8]) -> Option<Dst> {
    let eth = ethernet::Frame::new_checked(frame).ok()?;
    match eth.ethertype() {
        ethertype::IPV4 => Some(Dst::V4(
            ipv4::Packet::new_checked(eth.payload()).ok()?.dst(),
        )),
        ethertype::IPV6 => Some(Dst::V6(
            ipv6::Packet::new_checked(eth.payload()).ok()?.dst(),
        )),
        _ => None,
    }
}

/// Looks the destination of an untagged IPv4/IPv6 frame up before the
/// decision. Done for every frame of a batch first, so the CPU overlaps
/// the cache misses of independent lookups instead of serialising them
/// behind each packet's decision; [`decide_with`] uses the result only if
/// the destination it parses is the same. (The forwarder looks IPv6
/// destinations up together, level by level, instead.)
#[inline]
pub fn lookup_ahead(fib: &Fib, frame: &[u8]) -> Hint {
    hint_for(fib, peek_dst(frame))
}

#[inline(always)]
fn hint_for(fib: &Fib, dst: Option<Dst>) -> Hint {
    match dst {
        Some(Dst::V4(d)) => Hint::V4(d, fib.index_v4(d)),
        Some(Dst::V6(d)) => Hint::V6(d, fib.index_v6(d)),
        None => Hint::None,
    }
}

/// [`decide`] with a route possibly looked up ahead.
#[inline]
pub fn decide_with(
    ports: &[L3Port],
    fib: &Fib,
    neigh: &Neighbours,
    ingress: usize,
    frame: &mut [u8],
    hint: Hint,
) -> Verdict {
    decide_inner(ports, fib, neigh, ingress, frame, 0, hint)
}

/// [`decide_with`] for a multi-buffer packet: `frame` is its first frame
/// (every header is in it) and `tail` bytes of the packet follow in
/// further frames. The checks are the same; only the bytes available
/// behind the IP header include the tail. [`Verdict::Tx`]'s `len` is the
/// whole packet's.
pub fn decide_chained(
    ports: &[L3Port],
    fib: &Fib,
    neigh: &Neighbours,
    ingress: usize,
    frame: &mut [u8],
    tail: u32,
    hint: Hint,
) -> Verdict {
    decide_inner(ports, fib, neigh, ingress, frame, tail as usize, hint)
}

#[inline(always)]
fn decide_inner(
    ports: &[L3Port],
    fib: &Fib,
    neigh: &Neighbours,
    ingress: usize,
    frame: &mut [u8],
    tail: usize,
    hint: Hint,
) -> Verdict {
    let Some(port) = ports.get(ingress) else {
        return Verdict::Drop(DropReason::NoEgress);
    };
    let (Ok(eth), Ok(info)) = (ethernet::Frame::new_checked(&*frame), ethernet::l3(frame)) else {
        return Verdict::Drop(DropReason::Runt);
    };
    let dmac = eth.dst();
    if dmac != port.mac {
        if ethernet::is_multicast(&dmac) {
            return Verdict::Pass(PassReason::L2Multicast);
        }
        // The kernel drops unicast for other hosts (PACKET_OTHERHOST).
        return Verdict::Drop(DropReason::NotForUs);
    }
    if info.vlan.is_some() {
        return Verdict::Pass(PassReason::Vlan);
    }
    let ctx = Ctx {
        ports,
        fib,
        neigh,
        ingress,
        tail,
    };
    let off = info.offset;
    match info.ethertype {
        ethertype::IPV4 => ipv4_decide(&ctx, frame, off, hint),
        ethertype::IPV6 => ipv6_decide(&ctx, frame, off, hint),
        _ => Verdict::Pass(PassReason::NonIp),
    }
}

/// The end of every routed packet's path, once its IP header is updated:
/// the new MACs, and the length to send (the frame trimmed to the packet).
#[inline(always)]
fn transmit(frame: &mut [u8], off: usize, out: Routed) -> Verdict {
    if let Ok(mut eth) = ethernet::Frame::new_checked(frame) {
        eth.set_addrs(out.dst, out.src);
    }
    Verdict::Tx {
        port: out.port,
        len: off as u32 + out.ip_len,
    }
}

/// What one decision reads besides the frame.
struct Ctx<'a> {
    ports: &'a [L3Port],
    fib: &'a Fib,
    neigh: &'a Neighbours,
    ingress: usize,
    /// Bytes of the packet in further frames (multi-buffer), 0 for a
    /// packet in one frame.
    tail: usize,
}

/// A routed packet, its IP header already updated: where it goes and the
/// MACs to write.
struct Routed {
    port: PortId,
    dst: [u8; 6],
    src: [u8; 6],
    /// Length of the IP packet (what is sent after the Ethernet header).
    ip_len: u32,
}

/// What the generic tail needs to know about an address family.
trait Family: Copy {
    /// A gateway of this family, or `None` for one of the other family.
    fn gateway(g: IpAddr) -> Option<Self>;
    /// The neighbour entry of `self` on `port`.
    fn neighbour(self, neigh: &Neighbours, port: PortId) -> Option<[u8; 6]>;
}

impl Family for u32 {
    #[inline(always)]
    fn gateway(g: IpAddr) -> Option<u32> {
        match g {
            IpAddr::V4(a) => Some(u32::from(a)),
            IpAddr::V6(_) => None,
        }
    }

    #[inline(always)]
    fn neighbour(self, neigh: &Neighbours, port: PortId) -> Option<[u8; 6]> {
        neigh.get_v4(port, self)
    }
}

impl Family for u128 {
    #[inline(always)]
    fn gateway(g: IpAddr) -> Option<u128> {
        match g {
            IpAddr::V6(a) => Some(u128::from(a)),
            IpAddr::V4(_) => None,
        }
    }

    #[inline(always)]
    fn neighbour(self, neigh: &Neighbours, port: PortId) -> Option<[u8; 6]> {
        neigh.get_v6(port, self)
    }
}

/// Egress port, MACs and MTU check for a packet to `dst` of `ip_len`
/// bytes whose route is next hop `hop_idx`, after the family-specific
/// header checks. The same for both families.
#[inline(always)]
fn route_tail<A: Family>(
    ctx: &Ctx<'_>,
    hop_idx: u32,
    action: &Action,
    dst: A,
    ip_len: u32,
) -> Result<Routed, Verdict> {
    let (port, gateway, route_mtu) = match *action {
        Action::Forward { port, gateway, mtu } => (port, gateway, mtu),
        Action::Local => return Err(Verdict::Pass(PassReason::Local)),
        Action::Kernel(KernelOnly::Reject) => return Err(Verdict::Pass(PassReason::Reject)),
        Action::Kernel(_) => return Err(Verdict::Pass(PassReason::KernelRoute)),
    };
    let Some(p) = ctx.ports.get(port as usize) else {
        return Err(Verdict::Drop(DropReason::NoEgress));
    };
    if port as usize == ctx.ingress {
        return Err(Verdict::Pass(PassReason::SameInterface));
    }
    let gw = match gateway {
        Some(g) => match A::gateway(g) {
            Some(a) => Some(a),
            // A gateway of the other family (RFC 5549 style): the kernel's
            // business.
            None => return Err(Verdict::Pass(PassReason::KernelRoute)),
        },
        None => None,
    };
    let mtu = route_mtu.map_or(p.mtu, |m| m.min(p.mtu));
    if ip_len > mtu {
        return Err(Verdict::Pass(PassReason::Mtu));
    }
    let mac = match ctx.neigh.hop_mac(ctx.fib.id(), hop_idx) {
        Some(HopMac::Gateway(m)) => Some(m),
        Some(HopMac::Unresolved) => None,
        _ => gw.unwrap_or(dst).neighbour(ctx.neigh, port),
    };
    let Some(dst_mac) = mac else {
        return Err(Verdict::Pass(PassReason::NoNeighbour));
    };
    Ok(Routed {
        port,
        dst: dst_mac,
        src: p.mac,
        ip_len,
    })
}

/// The next hop `found` for a destination (by look-ahead or lookup), or
/// the verdict without one: no route, or a local address (the kernel's,
/// decided before the TTL is looked at).
#[inline(always)]
fn route_of(fib: &Fib, found: Option<u32>) -> Result<(u32, &Action), Verdict> {
    match found.and_then(|i| Some((i, fib.hop(i)?))) {
        Some((_, Action::Local)) => Err(Verdict::Pass(PassReason::Local)),
        Some(r) => Ok(r),
        None => Err(Verdict::Drop(DropReason::NoRoute)),
    }
}

#[inline]
fn ipv4_decide(ctx: &Ctx<'_>, frame: &mut [u8], off: usize, hint: Hint) -> Verdict {
    match ipv4_route(ctx, frame, off, hint) {
        Ok(out) => transmit(frame, off, out),
        Err(v) => v,
    }
}

/// The header checks and route of one IPv4 packet; on `Ok` its TTL is
/// decremented and the MACs are what [`transmit`] writes.
#[inline(always)]
fn ipv4_route(ctx: &Ctx<'_>, frame: &mut [u8], off: usize, hint: Hint) -> Result<Routed, Verdict> {
    let Some(l3) = frame.get_mut(off..) else {
        return Err(Verdict::Drop(DropReason::Ipv4Truncated));
    };
    let avail = l3.len() + ctx.tail;
    let Ok(mut ip) = ipv4::Packet::new_checked(l3) else {
        return Err(Verdict::Drop(DropReason::Ipv4Truncated));
    };
    // RFC 1812 §5.2.2, in the kernel's order; cannot be switched off.
    if let Err(e) = ip.check(avail) {
        return Err(Verdict::Drop(match e {
            Ipv4Error::Version => DropReason::Ipv4Version,
            Ipv4Error::HeaderLen => DropReason::Ipv4HeaderLen,
            Ipv4Error::TotalLen => DropReason::Ipv4TotalLen,
            Ipv4Error::Truncated => DropReason::Ipv4Truncated,
            Ipv4Error::Checksum => DropReason::Ipv4Checksum,
        }));
    }
    if ip.has_options() {
        return Err(Verdict::Pass(PassReason::Options));
    }
    let (src, dst) = (ip.src(), ip.dst());
    if dst >> 28 == 0xe || dst == u32::MAX {
        return Err(Verdict::Pass(PassReason::Multicast));
    }
    if src >> 28 == 0xe || src == u32::MAX || src == 0 {
        return Err(Verdict::Drop(DropReason::MartianSrc));
    }
    if dst == 0 {
        return Err(Verdict::Drop(DropReason::MartianDst));
    }
    if src >> 24 == 127 || dst >> 24 == 127 {
        return Err(Verdict::Pass(PassReason::Special));
    }
    let ip_len = u32::from(ip.total_len());
    let kernel = match hint {
        Hint::Kernel(k) => kernel_tail(ctx, k, ip_len),
        _ => None,
    };
    let routed = match kernel {
        Some(routed) => {
            if ip.ttl() <= 1 {
                return Err(Verdict::Pass(PassReason::Ttl));
            }
            routed
        }
        None => {
            let found = match hint {
                Hint::V4(d, idx) if d == dst => idx,
                _ => ctx.fib.index_v4(dst),
            };
            let (hop_idx, action) = route_of(ctx.fib, found)?;
            if ip.ttl() <= 1 {
                return Err(Verdict::Pass(PassReason::Ttl));
            }
            route_tail(ctx, hop_idx, action, dst, ip_len)?
        }
    };
    ip.decrement_ttl();
    Ok(routed)
}

const LINK_LOCAL: u128 = 0xfe80 << 112;
const LINK_LOCAL_MASK: u128 = 0xffc0 << 112;

#[inline]
fn ipv6_decide(ctx: &Ctx<'_>, frame: &mut [u8], off: usize, hint: Hint) -> Verdict {
    match ipv6_route(ctx, frame, off, hint) {
        Ok(out) => transmit(frame, off, out),
        Err(v) => v,
    }
}

/// The header checks and route of one IPv6 packet; on `Ok` its hop limit is
/// decremented and the MACs are what [`transmit`] writes.
#[inline(always)]
fn ipv6_route(ctx: &Ctx<'_>, frame: &mut [u8], off: usize, hint: Hint) -> Result<Routed, Verdict> {
    let Some(l3) = frame.get_mut(off..) else {
        return Err(Verdict::Drop(DropReason::Ipv6Truncated));
    };
    let avail = l3.len() + ctx.tail;
    let Ok(mut ip) = ipv6::Packet::new_checked(l3) else {
        return Err(Verdict::Drop(DropReason::Ipv6Truncated));
    };
    if ip.version() != 6 {
        return Err(Verdict::Drop(DropReason::Ipv6Version));
    }
    let total = ipv6::HEADER_LEN + usize::from(ip.payload_len());
    if total > avail {
        return Err(Verdict::Drop(DropReason::Ipv6Truncated));
    }
    if ip.next_header() == ipv6::next_header::HOP_BY_HOP {
        return Err(Verdict::Pass(PassReason::Options));
    }
    let (src, dst) = (ip.src(), ip.dst());
    if dst >> 120 == 0xff {
        return Err(Verdict::Pass(PassReason::Multicast));
    }
    if dst & LINK_LOCAL_MASK == LINK_LOCAL || src & LINK_LOCAL_MASK == LINK_LOCAL {
        return Err(Verdict::Pass(PassReason::LinkLocal));
    }
    // The kernel drops multicast and loopback sources and loopback
    // destinations on receipt (ip6_rcv_core).
    if src >> 120 == 0xff || src == 1 {
        return Err(Verdict::Drop(DropReason::MartianSrc));
    }
    if dst == 1 {
        return Err(Verdict::Drop(DropReason::MartianDst));
    }
    if src >> 48 == 0 || dst >> 48 == 0 {
        // The rest of ::/80 (unspecified, IPv4-mapped/-compatible): what
        // the kernel does depends on the destination; its business.
        return Err(Verdict::Pass(PassReason::Special));
    }
    let hops = ip.hop_limit();
    let kernel = match hint {
        Hint::Kernel(k) => kernel_tail(ctx, k, total as u32),
        _ => None,
    };
    let routed = match kernel {
        Some(routed) => {
            if hops <= 1 {
                return Err(Verdict::Pass(PassReason::Ttl));
            }
            routed
        }
        None => {
            let found = match hint {
                Hint::V6(d, idx) if d == dst => idx,
                _ => ctx.fib.index_v6(dst),
            };
            let (hop_idx, action) = route_of(ctx.fib, found)?;
            if hops <= 1 {
                return Err(Verdict::Pass(PassReason::Ttl));
            }
            route_tail(ctx, hop_idx, action, dst, total as u32)?
        }
    };
    ip.set_hop_limit(hops - 1);
    Ok(routed)
}

/// Routing tables at least this large get the root entries of a batch's
/// IPv4 destinations prefetched while the batch is parsed, before the
/// first decision (IPv6 routes are always looked up ahead). Measured
/// (`l3_process` benches, batches of 64): with 1M IPv4 routes the root
/// (64 MiB, read at random) misses the caches on nearly every lookup, and
/// the prefetches let those misses overlap instead of queueing behind each
/// decision; with 100 routes everything is in cache and the hints would
/// only cost.
pub const LOOKAHEAD_MIN_ROUTES: usize = 4096;

/// The L3 forwarder a worker drives: the port table and its reader of the
/// published tables (refreshed once per batch, lock-free).
#[derive(Debug, Clone)]
pub struct L3Forwarder {
    ports: L3Ports,
    nports: usize,
    tables: TablesReader,
    /// Prefetch the IPv4 routes' root entries ahead (only pays off when the
    /// tables outgrow the caches; see [`LOOKAHEAD_MIN_ROUTES`]). IPv6
    /// routes are always looked up ahead: with 100 routes too, that
    /// measured 22 instead of 25–29 ns per packet (a walk of up to five
    /// levels inside each decision serialises even on cache hits).
    lookahead: bool,
    /// Scratch of one [`Forwarder::decide_batch`] call: each frame's route
    /// looked up ahead (IPv6) or decided by the kernel; IPv4 frames hold
    /// `Hint::None` and are looked up in their decision.
    hints: [Hint; MAX_BATCH],
    /// Scratch of one call: IPv6 destinations with their slots, looked up
    /// together, level by level, in rounds without branches on the data
    /// (`lookup_many`): the loop that parses the frames issues no table
    /// load, so the loads of a round are all in flight together.
    ahead6: Ahead<u128>,
    /// The next hops resolved for the fast path (see [`fast`]), for the
    /// snapshots and ports held now.
    fast: FastHops,
}

/// Destinations waiting for a batched lookup.
#[derive(Debug, Clone)]
struct Ahead<A> {
    dst: [A; MAX_BATCH],
    slot: [u16; MAX_BATCH],
    found: [Option<u32>; MAX_BATCH],
    len: usize,
}

impl<A: Copy + Default> Ahead<A> {
    fn new() -> Self {
        Ahead {
            dst: [A::default(); MAX_BATCH],
            slot: [0; MAX_BATCH],
            found: [None; MAX_BATCH],
            len: 0,
        }
    }

    #[inline]
    fn push(&mut self, slot: usize, dst: A) {
        if self.len < MAX_BATCH {
            self.dst[self.len] = dst;
            self.slot[self.len] = slot as u16;
            self.len += 1;
        }
    }
}

impl L3Forwarder {
    /// A forwarder over `ports` (at most [`MAX_L3_PORTS`]) reading the
    /// tables through `tables`.
    pub fn new(ports: &[L3Port], tables: TablesReader) -> Self {
        let mut p = [L3Port::default(); MAX_L3_PORTS];
        let nports = ports.len().min(MAX_L3_PORTS);
        p[..nports].copy_from_slice(&ports[..nports]);
        let mut f = L3Forwarder {
            lookahead: tables.fib().routes().len() >= LOOKAHEAD_MIN_ROUTES,
            ports: p,
            nports,
            tables,
            hints: [Hint::None; MAX_BATCH],
            ahead6: Ahead::new(),
            fast: FastHops::default(),
        };
        f.resolve_fast();
        f
    }

    /// Resolves the fast path's next hops again (after a snapshot or a
    /// port changed).
    fn resolve_fast(&mut self) {
        let ports = &self.ports[..self.nports];
        self.fast
            .rebuild(ports, self.tables.fib(), self.tables.neigh());
    }

    /// Takes over new table snapshots (once per batch or chained packet: a
    /// pointer comparison each when nothing changed), and with them the
    /// look-ahead choice and the fast path's next hops.
    #[inline]
    fn take_snapshots(&mut self) {
        let (fib_changed, neigh_changed) = self.tables.refresh_each();
        if fib_changed {
            self.lookahead = self.tables.fib().routes().len() >= LOOKAHEAD_MIN_ROUTES;
        }
        if fib_changed || neigh_changed {
            self.resolve_fast();
        }
    }

    /// Looks the IPv6 routes of a whole batch up before any is decided,
    /// and with `lookahead` prefetches the IPv4 ones' root entries (not
    /// for frames the kernel decided already), and notes the kernel's
    /// decisions.
    ///
    /// IPv4 is prefetched, not looked up ahead: with a 24-bit root a full
    /// table's lookup is nearly always the one root load, so a hint issued
    /// here, a batch ahead of the decision that loads it, hides its miss
    /// as well as `lookup_many` did without that pass's second loop and
    /// stores: 16.1–18.1 → 14.2–15.5 ns per packet with 1M routes (eight
    /// interleaved rounds on two days; 100 routes and IPv6 unchanged).
    /// Hinting instead a fixed distance ahead inside the decision loop (12
    /// or 32 frames, the destinations kept from this pass) was slower:
    /// 0.96–1.02 → 1.04–1.07 µs per batch of 64, two rounds each.
    #[inline]
    fn look_ahead(&mut self, frames: &[&mut [u8]], meta: &[Meta]) {
        let fib = self.tables.fib();
        let a6 = &mut self.ahead6;
        a6.len = 0;
        for (slot, ((f, h), m)) in frames
            .iter()
            .zip(self.hints.iter_mut())
            .zip(meta)
            .enumerate()
        {
            if let Some(k) = KernelHop::from_meta(m) {
                *h = Hint::Kernel(k);
                continue;
            }
            *h = Hint::None;
            match peek_dst(f) {
                Some(Dst::V4(d)) if self.lookahead => fib.prefetch_v4(d),
                Some(Dst::V6(d)) => a6.push(slot, d),
                _ => {}
            }
        }
        if a6.len > 0 {
            fib.index_v6_many(&a6.dst[..a6.len], &mut a6.found[..a6.len]);
            for i in 0..a6.len {
                if let Some(h) = self.hints.get_mut(usize::from(a6.slot[i])) {
                    *h = Hint::V6(a6.dst[i], a6.found[i]);
                }
            }
        }
    }
}

impl Forwarder for L3Forwarder {
    #[inline]
    fn uses_meta(&self) -> bool {
        true
    }

    fn set_port_max_len(&mut self, port: usize, max_len: u32) {
        if port < self.nports {
            self.ports[port].mtu = max_len.saturating_sub(crate::limits::L2_OVERHEAD);
            self.resolve_fast();
        }
    }

    #[inline]
    fn decide_batch(
        &mut self,
        ingress: usize,
        frames: &mut [&mut [u8]],
        meta: &[Meta],
        out: &mut [Verdict],
    ) {
        debug_assert!(
            frames.len() == out.len() && frames.len() == meta.len() && frames.len() <= MAX_BATCH
        );
        self.take_snapshots();
        self.look_ahead(frames, meta);
        let ports = &self.ports[..self.nports];
        let (fib, neigh) = (self.tables.fib(), self.tables.neigh());
        let fast = ports.get(ingress).map(|p| Fast {
            mac: fast::mac48(p.mac),
            ingress,
            ports: ports.len(),
            hops: &self.fast,
        });
        for (i, (f, v)) in frames.iter_mut().zip(out).enumerate() {
            let hint = self.hints.get(i).copied().unwrap_or_default();
            let fast = fast.as_ref().and_then(|c| fast_decide(c, fib, f, hint));
            *v = fast.unwrap_or_else(|| decide_with(ports, fib, neigh, ingress, f, hint));
        }
    }

    fn decide_chained(
        &mut self,
        ingress: usize,
        head: &mut [u8],
        tail: u32,
        meta: &Meta,
    ) -> Verdict {
        self.take_snapshots();
        let ports = &self.ports[..self.nports];
        let (fib, neigh) = (self.tables.fib(), self.tables.neigh());
        let hint = KernelHop::from_meta(meta).map_or(Hint::None, Hint::Kernel);
        decide_chained(ports, fib, neigh, ingress, head, tail, hint)
    }
}

/// The fast path (see [`fast`]) for one frame: `None` leaves the frame
/// untouched for [`decide_with`].
#[inline(always)]
fn fast_decide(c: &Fast<'_>, fib: &Fib, frame: &mut [u8], hint: Hint) -> Option<Verdict> {
    match hint {
        // The kernel's FIB decided: its egress port and MACs, after the
        // same header checks.
        Hint::Kernel(k) => match frame.get(12..14) {
            Some([0x08, 0x00]) => fast::ipv4(c, frame, |_, _| c.kernel(k.port, k.dst, k.src)),
            Some([0x86, 0xdd]) => fast::ipv6(c, frame, |_, _| c.kernel(k.port, k.dst, k.src)),
            _ => None,
        },
        Hint::V4(d, idx) => fast::ipv4(c, frame, |dst, total| {
            let idx = if dst == d { idx } else { fib.index_v4(dst) };
            c.table(idx, fast::FAMILY_V4, total)
        }),
        Hint::V6(d, idx) => fast::ipv6(c, frame, |dst, total| {
            let idx = if dst == d { idx } else { fib.index_v6(dst) };
            c.table(idx, fast::FAMILY_V6, total)
        }),
        Hint::None => match frame.get(12..14) {
            Some([0x08, 0x00]) => fast::ipv4(c, frame, |d, total| {
                c.table(fib.index_v4(d), fast::FAMILY_V4, total)
            }),
            Some([0x86, 0xdd]) => fast::ipv6(c, frame, |d, total| {
                c.table(fib.index_v6(d), fast::FAMILY_V6, total)
            }),
            _ => None,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::route::{NeighSet, Prefix, RouteSet};
    use crate::tables::tables;
    use etherparse::{IpNumber, Ipv4Header, Ipv6Header, PacketBuilder};
    use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

    use crate::testing::router::{HOST, NEXT_HOP as NH, PORT0 as A, PORT1 as B, SRC};

    fn p(s: &str) -> Prefix {
        s.parse().unwrap()
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn fwd(port: PortId, gw: Option<&str>, mtu: Option<u32>) -> Action {
        Action::Forward {
            port,
            gateway: gw.map(ip),
            mtu,
        }
    }

    struct World {
        ports: [L3Port; 2],
        fib: Fib,
        /// Resolved for `fib`, as the control plane publishes them.
        neigh: Neighbours,
        /// The same entries, not resolved: every next hop by address.
        unresolved: Neighbours,
    }

    fn world() -> World {
        let fib = crate::testing::router::routes().build().unwrap();
        let n = crate::testing::router::neighbours();
        World {
            ports: crate::testing::router::ports(),
            neigh: n.build().resolved_for(&fib),
            unresolved: n.build(),
            fib,
        }
    }

    impl World {
        fn run(&self, ingress: usize, frame: &mut [u8]) -> Verdict {
            decide(&self.ports, &self.fib, &self.neigh, ingress, frame)
        }
    }

    fn udp4(dmac: [u8; 6], src: [u8; 4], dst: [u8; 4], ttl: u8, payload: usize) -> Vec<u8> {
        let body: Vec<u8> = (0..payload).map(|i| (i * 13 + 5) as u8).collect();
        let b = PacketBuilder::ethernet2(SRC, dmac)
            .ipv4(src, dst, ttl)
            .udp(4000, 5000);
        let mut out = Vec::new();
        b.write(&mut out, &body).unwrap();
        out
    }

    fn udp6(dmac: [u8; 6], src: &str, dst: &str, hops: u8, payload: usize) -> Vec<u8> {
        let body: Vec<u8> = (0..payload).map(|i| (i * 13 + 5) as u8).collect();
        let s: Ipv6Addr = src.parse().unwrap();
        let d: Ipv6Addr = dst.parse().unwrap();
        let b = PacketBuilder::ethernet2(SRC, dmac)
            .ipv6(s.octets(), d.octets(), hops)
            .udp(4000, 5000);
        let mut out = Vec::new();
        b.write(&mut out, &body).unwrap();
        out
    }

    #[test]
    fn a_chained_packet_is_decided_on_its_whole_length() {
        let mut w = world();
        w.ports[1].mtu = 9000;
        let cases = [
            udp4(A, [198, 18, 0, 1], [198, 18, 5, 9], 64, 9000 - 28),
            udp6(A, "fd00:0:0:1::1", "fd00:0:0:5::9", 64, 9000 - 48),
        ];
        for f in cases {
            let (head, rest) = f.split_at(2048);
            let tail = rest.len() as u32;
            // The same decision and rewrite as for the packet in one frame.
            let mut whole = f.clone();
            let want = w.run(0, &mut whole);
            assert!(matches!(want, Verdict::Tx { port: 1, len } if len as usize == f.len()));
            let mut h = head.to_vec();
            let got = decide_chained(&w.ports, &w.fib, &w.neigh, 0, &mut h, tail, Hint::None);
            assert_eq!(got, want);
            assert_eq!(h, whole[..2048]);
            // A byte missing from the chain: truncated, as in one frame.
            let mut h = head.to_vec();
            let short = decide_chained(&w.ports, &w.fib, &w.neigh, 0, &mut h, tail - 1, Hint::None);
            assert!(
                matches!(
                    short,
                    Verdict::Drop(DropReason::Ipv4Truncated | DropReason::Ipv6Truncated)
                ),
                "{short:?}"
            );
            // Bytes beyond the IP packet: a length shorter than the chain,
            // which the worker never sends as it is.
            let mut h = head.to_vec();
            let padded =
                decide_chained(&w.ports, &w.fib, &w.neigh, 0, &mut h, tail + 4, Hint::None);
            assert_eq!(padded, want);
            // Over the egress MTU: the kernel's (ICMP).
            let mut small = w.ports;
            small[1].mtu = 4000;
            let mut h = head.to_vec();
            assert_eq!(
                decide_chained(&small, &w.fib, &w.neigh, 0, &mut h, tail, Hint::None),
                Verdict::Pass(PassReason::Mtu)
            );
        }
    }

    /// What the kernel emits for `input`: new MACs, TTL−1 and the header
    /// checksum recomputed in full (etherparse), the rest identical.
    fn expect4(input: &[u8], dmac: [u8; 6], smac: [u8; 6]) -> Vec<u8> {
        let (mut h, _) = Ipv4Header::from_slice(&input[14..]).unwrap();
        h.time_to_live -= 1;
        h.header_checksum = h.calc_header_checksum();
        let mut out = Vec::new();
        out.extend_from_slice(&dmac);
        out.extend_from_slice(&smac);
        out.extend_from_slice(&input[12..14]);
        h.write(&mut out).unwrap();
        let end = 14 + usize::from(h.total_len);
        out.extend_from_slice(&input[14 + h.header_len()..end]);
        out
    }

    fn expect6(input: &[u8], dmac: [u8; 6], smac: [u8; 6]) -> Vec<u8> {
        let (mut h, _) = Ipv6Header::from_slice(&input[14..]).unwrap();
        h.hop_limit -= 1;
        let mut out = Vec::new();
        out.extend_from_slice(&dmac);
        out.extend_from_slice(&smac);
        out.extend_from_slice(&input[12..14]);
        h.write(&mut out).unwrap();
        let end = 54 + usize::from(h.payload_length);
        out.extend_from_slice(&input[54..end]);
        out
    }

    fn forwarded(w: &World, ingress: usize, mut f: Vec<u8>) -> (u8, Vec<u8>) {
        match w.run(ingress, &mut f) {
            Verdict::Tx { port, len } => (port, f[..len as usize].to_vec()),
            v => panic!("not forwarded: {v:?}"),
        }
    }

    #[test]
    fn ipv4_golden_via_gateway_and_connected() {
        let w = world();
        for payload in [0, 18, 100, 1472] {
            let f = udp4(A, [198, 18, 0, 1], [198, 18, 5, 9], 64, payload);
            let want = expect4(&f, NH, B);
            assert_eq!(forwarded(&w, 0, f), (1, want), "via gateway, {payload}");
            let f = udp4(A, [198, 18, 0, 1], [198, 18, 1, 2], 64, payload);
            let want = expect4(&f, HOST, B);
            assert_eq!(forwarded(&w, 0, f), (1, want), "connected, {payload}");
        }
        // And back the other way.
        let f = udp4(B, [198, 18, 1, 2], [198, 18, 0, 1], 9, 30);
        let want = expect4(&f, SRC, A);
        assert_eq!(forwarded(&w, 1, f), (0, want));
    }

    #[test]
    fn ipv4_every_ttl_matches_a_full_recompute() {
        let w = world();
        for ttl in 2..=255u8 {
            for id_seed in [0u16, 0x00ff, 0xfeff, 0xffff, 0x1234] {
                let mut f = udp4(A, [198, 18, 0, 1], [198, 18, 5, 9], ttl, 26);
                // Vary the identification to walk the checksum around,
                // then fix the checksum in full.
                f[18..20].copy_from_slice(&id_seed.to_be_bytes());
                let (mut h, _) = Ipv4Header::from_slice(&f[14..]).unwrap();
                h.header_checksum = h.calc_header_checksum();
                let mut hb = Vec::new();
                h.write(&mut hb).unwrap();
                f[14..34].copy_from_slice(&hb);
                let want = expect4(&f, NH, B);
                assert_eq!(forwarded(&w, 0, f).1, want, "ttl {ttl} id {id_seed:#x}");
            }
        }
    }

    #[test]
    fn ipv6_golden() {
        let w = world();
        for payload in [0, 12, 1000] {
            let f = udp6(A, "fd00:0:0:1::1", "fd00:0:0:5::9", 64, payload);
            let want = expect6(&f, NH, B);
            assert_eq!(forwarded(&w, 0, f), (1, want));
            let f = udp6(A, "fd00:0:0:1::1", "fd00:0:0:2::2", 2, payload);
            let want = expect6(&f, HOST, B);
            assert_eq!(forwarded(&w, 0, f), (1, want));
        }
    }

    #[test]
    fn ethernet_padding_is_trimmed_like_the_kernel() {
        let w = world();
        let mut f = udp4(A, [198, 18, 0, 1], [198, 18, 5, 9], 64, 0); // 42 bytes
        let want = expect4(&f, NH, B);
        f.resize(60, 0xee);
        assert_eq!(forwarded(&w, 0, f), (1, want.clone()));
        assert_eq!(want.len(), 42);
        let mut f = udp6(A, "fd00:0:0:1::1", "fd00:0:0:5::9", 64, 0); // 62 bytes
        let want = expect6(&f, NH, B);
        f.extend_from_slice(&[0xee; 10]);
        assert_eq!(forwarded(&w, 0, f), (1, want));
    }

    fn with_ip4(f: &mut [u8], edit: impl FnOnce(&mut [u8]), fix_checksum: bool) {
        edit(&mut f[14..]);
        if fix_checksum {
            f[24] = 0;
            f[25] = 0;
            let ihl = usize::from(f[14] & 0xf) * 4;
            let c = crate::wire::checksum::checksum(&f[14..14 + ihl.clamp(20, 60)]);
            f[24..26].copy_from_slice(&c.to_be_bytes());
        }
    }

    #[test]
    fn rfc1812_header_checks() {
        let w = world();
        let base = || udp4(A, [198, 18, 0, 1], [198, 18, 5, 9], 64, 30);
        type Edit = Box<dyn Fn(&mut [u8])>;
        let cases: [(&str, Edit, bool, DropReason); 6] = [
            (
                "version 5",
                Box::new(|h| h[0] = 0x55),
                true,
                DropReason::Ipv4Version,
            ),
            (
                "version 6",
                Box::new(|h| h[0] = 0x65),
                true,
                DropReason::Ipv4Version,
            ),
            (
                "ihl 4",
                Box::new(|h| h[0] = 0x44),
                false,
                DropReason::Ipv4HeaderLen,
            ),
            (
                "total < header",
                Box::new(|h| h[2..4].copy_from_slice(&19u16.to_be_bytes())),
                true,
                DropReason::Ipv4TotalLen,
            ),
            (
                "total > frame",
                Box::new(|h| h[2..4].copy_from_slice(&59u16.to_be_bytes())),
                true,
                DropReason::Ipv4Truncated,
            ),
            (
                "bad checksum",
                Box::new(|h| h[10] ^= 1),
                false,
                DropReason::Ipv4Checksum,
            ),
        ];
        for (name, edit, fix, reason) in cases {
            let mut f = base();
            with_ip4(&mut f, edit, fix);
            assert_eq!(w.run(0, &mut f), Verdict::Drop(reason), "{name}");
        }
        // Checks cannot be bypassed by a plausible TTL or route.
        let mut f = base();
        with_ip4(&mut f, |h| h[10] ^= 0x80, false);
        assert_eq!(w.run(0, &mut f), Verdict::Drop(DropReason::Ipv4Checksum));
    }

    #[test]
    fn ipv4_martians_and_kernel_unicast_ranges() {
        let w = world();
        let v = |src: [u8; 4], dst: [u8; 4]| {
            let mut f = udp4(A, src, dst, 64, 20);
            w.run(0, &mut f)
        };
        let s = [198, 18, 0, 1];
        assert_eq!(
            v([0, 0, 0, 0], [198, 18, 5, 9]),
            Verdict::Drop(DropReason::MartianSrc)
        );
        assert_eq!(
            v([224, 1, 2, 3], [198, 18, 5, 9]),
            Verdict::Drop(DropReason::MartianSrc)
        );
        assert_eq!(
            v([255; 4], [198, 18, 5, 9]),
            Verdict::Drop(DropReason::MartianSrc)
        );
        assert_eq!(v(s, [0, 0, 0, 0]), Verdict::Drop(DropReason::MartianDst));
        assert_eq!(
            v([127, 0, 0, 1], [198, 18, 5, 9]),
            Verdict::Pass(PassReason::Special)
        );
        assert_eq!(v(s, [127, 0, 0, 1]), Verdict::Pass(PassReason::Special));
        assert_eq!(v(s, [224, 0, 0, 5]), Verdict::Pass(PassReason::Multicast));
        assert_eq!(v(s, [239, 1, 1, 1]), Verdict::Pass(PassReason::Multicast));
        assert_eq!(v(s, [255; 4]), Verdict::Pass(PassReason::Multicast));
        // The kernel forwards 0/8 (but 0.0.0.0) and 240/4 as unicast.
        assert!(matches!(v(s, [0, 1, 2, 3]), Verdict::Tx { port: 1, .. }));
        assert!(matches!(
            v([0, 1, 2, 3], [198, 18, 5, 9]),
            Verdict::Tx { port: 1, .. }
        ));
        assert!(matches!(v(s, [240, 1, 2, 3]), Verdict::Tx { port: 1, .. }));
        assert!(matches!(
            v([250, 1, 2, 3], [198, 18, 5, 9]),
            Verdict::Tx { port: 1, .. }
        ));
    }

    #[test]
    fn ipv6_martians_and_link_local() {
        let w = world();
        let v = |src: &str, dst: &str| {
            let mut f = udp6(A, src, dst, 64, 20);
            w.run(0, &mut f)
        };
        let s = "fd00:0:0:1::1";
        let d = "fd00:0:0:5::9";
        assert_eq!(v("ff02::1", d), Verdict::Drop(DropReason::MartianSrc));
        assert_eq!(v("::1", d), Verdict::Drop(DropReason::MartianSrc));
        assert_eq!(v(s, "::1"), Verdict::Drop(DropReason::MartianDst));
        assert_eq!(v("::", d), Verdict::Pass(PassReason::Special));
        assert_eq!(
            v(s, "::ffff:198.18.5.9"),
            Verdict::Pass(PassReason::Special)
        );
        assert_eq!(v("fe80::1", d), Verdict::Pass(PassReason::LinkLocal));
        assert_eq!(v(s, "fe80::1"), Verdict::Pass(PassReason::LinkLocal));
        assert_eq!(v(s, "febf::1"), Verdict::Pass(PassReason::LinkLocal));
        assert_eq!(v(s, "ff02::1"), Verdict::Pass(PassReason::Multicast));
        assert_eq!(v(s, "ff0e::1"), Verdict::Pass(PassReason::Multicast));
        assert!(matches!(v(s, d), Verdict::Tx { port: 1, .. }));
        assert!(
            matches!(v("fec0::1", d), Verdict::Tx { port: 1, .. }),
            "site-local is not link-local"
        );
    }

    #[test]
    fn ttl_and_hop_limit() {
        let w = world();
        for (ttl, want) in [
            (0u8, None),
            (1, None),
            (2, Some(1u8)),
            (64, Some(63)),
            (255, Some(254)),
        ] {
            let mut f = udp4(A, [198, 18, 0, 1], [198, 18, 5, 9], ttl, 20);
            let v = w.run(0, &mut f);
            match want {
                None => assert_eq!(v, Verdict::Pass(PassReason::Ttl), "ttl {ttl}"),
                Some(t) => {
                    assert!(matches!(v, Verdict::Tx { .. }));
                    assert_eq!(f[22], t);
                }
            }
            let mut f = udp6(A, "fd00:0:0:1::1", "fd00:0:0:5::9", ttl, 20);
            let v = w.run(0, &mut f);
            match want {
                None => assert_eq!(v, Verdict::Pass(PassReason::Ttl), "hop limit {ttl}"),
                Some(t) => {
                    assert!(matches!(v, Verdict::Tx { .. }));
                    assert_eq!(f[21], t);
                }
            }
        }
        // TTL 1 to a local address is still the kernel's (local delivery).
        let mut f = udp4(A, [198, 18, 0, 1], [198, 18, 0, 254], 1, 20);
        assert_eq!(w.run(0, &mut f), Verdict::Pass(PassReason::Local));
    }

    #[test]
    fn options_hop_by_hop_and_fragments() {
        let w = world();
        // IPv4 with a 4-byte NOP/EOL option: IHL 6.
        let f = udp4(A, [198, 18, 0, 1], [198, 18, 5, 9], 64, 20);
        let mut o = f[..34].to_vec();
        o.extend_from_slice(&[1, 1, 1, 0]);
        o.extend_from_slice(&f[34..]);
        o[14] = 0x46;
        let total = (o.len() - 14) as u16;
        with_ip4(
            &mut o,
            |h| h[2..4].copy_from_slice(&total.to_be_bytes()),
            true,
        );
        assert_eq!(w.run(0, &mut o), Verdict::Pass(PassReason::Options));
        // IPv6 hop-by-hop.
        let mut f = udp6(A, "fd00:0:0:1::1", "fd00:0:0:5::9", 64, 20);
        f[20] = 0;
        assert_eq!(w.run(0, &mut f), Verdict::Pass(PassReason::Options));
        // Fragments: first (MF, offset 0) and non-first (offset 185) are
        // forwarded with only TTL and checksum changed.
        for flags in [0x2000u16, 0x00b9, 0x20b9] {
            let mut f = udp4(A, [198, 18, 0, 1], [198, 18, 5, 9], 64, 40);
            with_ip4(
                &mut f,
                |h| h[6..8].copy_from_slice(&flags.to_be_bytes()),
                true,
            );
            let want = expect4(&f, NH, B);
            assert_eq!(forwarded(&w, 0, f), (1, want), "flags {flags:#x}");
        }
        // IPv6 fragment header is forwarded like any other.
        let mut f = udp6(A, "fd00:0:0:1::1", "fd00:0:0:5::9", 64, 20);
        f[20] = 44;
        let want = expect6(&f, NH, B);
        assert_eq!(forwarded(&w, 0, f), (1, want));
    }

    #[test]
    fn l2_cases_vlan_and_non_ip() {
        let w = world();
        let mut f = udp4(B, [198, 18, 0, 1], [198, 18, 5, 9], 64, 20);
        assert_eq!(w.run(0, &mut f), Verdict::Drop(DropReason::NotForUs));
        let mut f = udp4([0xff; 6], [198, 18, 0, 1], [198, 18, 5, 9], 64, 20);
        assert_eq!(w.run(0, &mut f), Verdict::Pass(PassReason::L2Multicast));
        let mut f = udp4(
            [0x33, 0x33, 0, 0, 0, 1],
            [198, 18, 0, 1],
            [198, 18, 5, 9],
            64,
            20,
        );
        assert_eq!(w.run(0, &mut f), Verdict::Pass(PassReason::L2Multicast));
        let f = udp4(A, [198, 18, 0, 1], [198, 18, 5, 9], 64, 20);
        let mut t = f[..12].to_vec();
        t.extend_from_slice(&[0x81, 0x00, 0x00, 0x05]);
        t.extend_from_slice(&f[12..]);
        assert_eq!(w.run(0, &mut t), Verdict::Pass(PassReason::Vlan));
        let mut arp = f.clone();
        arp[12..14].copy_from_slice(&[0x08, 0x06]);
        assert_eq!(w.run(0, &mut arp), Verdict::Pass(PassReason::NonIp));
    }

    #[test]
    fn routes_neighbours_mtu_and_kernel_cases() {
        let w = world();
        let v4 = |dst: [u8; 4], payload: usize, ingress: usize| {
            let mac = if ingress == 0 { A } else { B };
            let mut f = udp4(mac, [198, 18, 0, 1], dst, 64, payload);
            w.run(ingress, &mut f)
        };
        assert_eq!(
            v4([198, 18, 0, 254], 20, 0),
            Verdict::Pass(PassReason::Local)
        );
        assert_eq!(
            v4([198, 18, 1, 254], 20, 0),
            Verdict::Pass(PassReason::Local)
        );
        assert_eq!(
            v4([198, 18, 1, 255], 20, 0),
            Verdict::Pass(PassReason::Local),
            "subnet broadcast"
        );
        assert_eq!(
            v4([198, 19, 0, 1], 20, 0),
            Verdict::Drop(DropReason::NoRoute)
        );
        assert_eq!(
            v4([198, 18, 6, 1], 20, 0),
            Verdict::Pass(PassReason::Reject)
        );
        assert_eq!(
            v4([198, 18, 10, 1], 20, 0),
            Verdict::Pass(PassReason::KernelRoute)
        );
        assert_eq!(
            v4([198, 18, 8, 1], 20, 0),
            Verdict::Pass(PassReason::SameInterface)
        );
        assert_eq!(
            v4([198, 18, 9, 1], 20, 0),
            Verdict::Pass(PassReason::NoNeighbour)
        );
        assert_eq!(
            v4([198, 18, 1, 77], 20, 0),
            Verdict::Pass(PassReason::NoNeighbour)
        );
        // Route MTU 1000: 1000-byte IP packet passes, 1001 goes to the kernel.
        assert!(matches!(
            v4([198, 18, 7, 1], 1000 - 28, 0),
            Verdict::Tx { .. }
        ));
        assert_eq!(
            v4([198, 18, 7, 1], 1001 - 28, 0),
            Verdict::Pass(PassReason::Mtu)
        );
        // Port MTU 1500.
        assert!(matches!(
            v4([198, 18, 5, 1], 1500 - 28, 0),
            Verdict::Tx { .. }
        ));
        assert_eq!(
            v4([198, 18, 5, 1], 1501 - 28, 0),
            Verdict::Pass(PassReason::Mtu)
        );
        // A bad ingress index never panics.
        let mut f = udp4(A, [198, 18, 0, 1], [198, 18, 5, 9], 64, 20);
        assert_eq!(w.run(7, &mut f), Verdict::Drop(DropReason::NoEgress));

        let v6 = |dst: &str, payload: usize| {
            let mut f = udp6(A, "fd00:0:0:1::1", dst, 64, payload);
            w.run(0, &mut f)
        };
        assert_eq!(v6("fd00:0:0:1::254", 20), Verdict::Pass(PassReason::Local));
        assert_eq!(v6("fd00:0:0:9::1", 20), Verdict::Drop(DropReason::NoRoute));
        assert_eq!(
            v6("fd00:0:0:2::77", 20),
            Verdict::Pass(PassReason::NoNeighbour)
        );
        assert!(matches!(v6("fd00:0:0:7::1", 1280 - 48), Verdict::Tx { .. }));
        assert_eq!(
            v6("fd00:0:0:7::1", 1281 - 48),
            Verdict::Pass(PassReason::Mtu)
        );
    }

    #[test]
    fn truncated_frames_of_every_length_never_forward_or_panic() {
        let w = world();
        let f4 = udp4(A, [198, 18, 0, 1], [198, 18, 5, 9], 64, 18);
        let f6 = udp6(A, "fd00:0:0:1::1", "fd00:0:0:5::9", 64, 18);
        for full in [f4, f6] {
            for len in 0..=full.len().min(60) {
                let mut f = full[..len].to_vec();
                let v = w.run(0, &mut f);
                if len < full.len() {
                    assert!(matches!(v, Verdict::Drop(_)), "len {len}: {v:?}");
                    if len < 14 {
                        assert_eq!(v, Verdict::Drop(DropReason::Runt));
                    }
                } else {
                    assert!(matches!(v, Verdict::Tx { .. }));
                }
            }
            // Every length 0..=60 of garbage, too.
            for len in 0..=60usize {
                let mut g: Vec<u8> = (0..len).map(|i| (i * 37 + 11) as u8).collect();
                if len >= 6 {
                    g[..6].copy_from_slice(&A);
                }
                if len >= 14 {
                    g[12] = 0x08;
                    g[13] = 0x00;
                }
                let _ = w.run(0, &mut g);
                if len >= 14 {
                    g[13] = 0xdd;
                    g[12] = 0x86;
                    let _ = w.run(0, &mut g);
                }
            }
        }
    }

    proptest::proptest! {
        /// Any bytes after a valid-looking Ethernet header: no panic, and a
        /// forwarded frame never grows or leaves through the ingress port.
        #[test]
        fn random_frames_never_panic(
            body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200),
            v6 in proptest::prelude::any::<bool>(),
            dst in proptest::prelude::any::<[u8; 4]>(),
        ) {
            let w = world();
            let mut f = Vec::new();
            f.extend_from_slice(&A);
            f.extend_from_slice(&SRC);
            f.extend_from_slice(if v6 { &[0x86, 0xdd] } else { &[0x08, 0x00] });
            f.extend_from_slice(&body);
            // Make some of them plausible: right version, routed dst.
            if f.len() > 14 {
                f[14] = (f[14] & 0x0f) | if v6 { 0x60 } else { 0x40 };
            }
            if !v6 && f.len() >= 34 {
                f[30..34].copy_from_slice(&[198, 18, dst[2] % 12, dst[3]]);
            }
            let n = f.len();
            let mut by_address = f.clone();
            let plain = decide(&w.ports, &w.fib, &w.unresolved, 0, &mut by_address);
            let v = w.run(0, &mut f);
            proptest::prop_assert_eq!((v, &f), (plain, &by_address));
            if let Verdict::Tx { port, len } = v {
                proptest::prop_assert!(len as usize <= n);
                proptest::prop_assert_eq!(port, 1);
            }
        }
    }

    /// The test world's routes plus the next hops the fast path must
    /// leave alone: a gateway of the other family each way, a route MTU
    /// above what an IP packet can be, and one just above a small packet.
    fn fast_world_fib() -> Fib {
        let mut r = crate::testing::router::routes();
        r.kernel_add(p("198.18.11.0/24"), 0, fwd(1, Some("fd00:0:0:2::1"), None));
        r.kernel_add(
            p("198.18.12.0/24"),
            0,
            fwd(1, Some("198.18.1.1"), Some(70_000)),
        );
        r.kernel_add(p("198.18.13.0/24"), 0, fwd(1, Some("198.18.1.1"), Some(60)));
        r.kernel_add(p("fd00:0:0:11::/64"), 0, fwd(1, Some("198.18.1.1"), None));
        r.kernel_add(
            p("fd00:0:0:12::/64"),
            0,
            fwd(1, Some("fd00:0:0:2::1"), Some(100_000)),
        );
        r.kernel_add(
            p("fd00:0:0:13::/64"),
            0,
            fwd(0, Some("fd00:0:0:2::1"), None),
        );
        // Defaults, so that special addresses have a route too.
        r.kernel_add(p("::/0"), 0, fwd(1, Some("fd00:0:0:2::1"), None));
        r.kernel_add(p("0.0.0.0/0"), 0, fwd(1, Some("198.18.1.1"), None));
        r.build().unwrap()
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2000))]
        /// The forwarder (fast path first, the reference path for what it
        /// leaves) decides and rewrites every frame exactly as `decide`:
        /// valid frames to every kind of route, then damaged in any byte,
        /// with or without a checksum that fits, cut or padded.
        #[test]
        fn fast_path_agrees_with_the_reference(
            v6 in proptest::prelude::any::<bool>(),
            net in proptest::prop_oneof![
                3 => proptest::sample::select(vec![5u8, 7, 8, 12]),
                1 => 0u8..16,
            ],
            host in proptest::prelude::any::<u8>(),
            src_kind in 0u8..16,
            ttl in proptest::prop_oneof![
                proptest::sample::select(vec![0u8, 1, 2, 255]),
                proptest::prelude::any::<u8>(),
            ],
            payload in 0usize..120,
            edits in proptest::collection::vec((0usize..80, proptest::prelude::any::<u8>()), 0..3),
            fix_checksum in proptest::prelude::any::<bool>(),
            cut in 0usize..60,
            pad in 0usize..8,
            ingress in 0usize..3,
            dmac in 0u8..5,
            resolved in 0u8..4,
            lookahead in proptest::prelude::any::<bool>(),
            mtu in proptest::prop_oneof![proptest::prelude::Just(1500u32), 40u32..200, 60_000u32..70_000],
            kernel in 0u8..6,
        ) {
            let w = world();
            let fib = fast_world_fib();
            let n = crate::testing::router::neighbours().build();
            let neigh = if resolved > 0 { n.resolved_for(&fib) } else { n };
            let mut ports = w.ports;
            ports[1].mtu = mtu;
            let dmac = match dmac {
                0..=2 => [A, B, A][ingress],
                3 => [B, A, B][ingress],
                _ => [0x33, 0x33, 0, 0, 0, 1],
            };
            let mut f = if v6 {
                let src = match src_kind {
                    0 => "fe80::1",
                    1 => "ff02::1",
                    2 => "::1",
                    3 => "::ffff:1.2.3.4",
                    _ => "fd00:0:0:1::1",
                };
                let dst = match src_kind {
                    4 => "fe80::9".to_string(),
                    5 => "ff02::9".to_string(),
                    6 => "::1".to_string(),
                    7 => "::".to_string(),
                    _ => format!("fd00:0:0:{net:x}::{host:x}"),
                };
                let mut f = udp6(dmac, src, &dst, ttl, payload);
                if src_kind == 8 {
                    f[20] = ipv6::next_header::HOP_BY_HOP;
                }
                f
            } else {
                let src = match src_kind {
                    0 => [127, 0, 0, 1],
                    1 => [224, 0, 0, 1],
                    2 => [255, 255, 255, 255],
                    3 => [0, 0, 0, 0],
                    _ => [198, 18, 0, 1],
                };
                let dst = match src_kind {
                    4 => [127, 0, 0, 1],
                    5 => [224, 0, 0, 1],
                    6 => [255, 255, 255, 255],
                    7 => [0, 0, 0, 0],
                    _ => [198, 18, net, host],
                };
                let mut f = udp4(dmac, src, dst, ttl, payload);
                // Options (IHL 6) or another version.
                if src_kind >= 14 {
                    f[14] = [0x46, 0x55][usize::from(src_kind - 14)];
                }
                f
            };
            for (at, x) in edits {
                if let Some(b) = f.get_mut(at) {
                    *b ^= x;
                }
            }
            if fix_checksum && !v6 && f.len() >= 34 {
                let ihl = (usize::from(f[14] & 0xf) * 4).clamp(20, f.len() - 14);
                f[24..26].fill(0);
                let c = crate::wire::checksum::checksum(&f[14..14 + ihl]);
                f[24..26].copy_from_slice(&c.to_be_bytes());
            }
            f.truncate(f.len().saturating_sub(if cut < 50 { 0 } else { cut - 49 }));
            f.extend(std::iter::repeat_n(0xa5, pad));
            // Half the frames carry the kernel's decision (XDP metadata):
            // out of port 1, or a port that is not another of ours.
            let hop = (kernel >= 3).then(|| KernelHop {
                port: [1, 1, ingress as u8, 7][usize::from(kernel - 3).min(3)],
                dst: [2, 0, 0, 0, 9, kernel],
                src: B,
            });
            let mut want_f = f.clone();
            let hint = hop.map_or(Hint::None, Hint::Kernel);
            let want = decide_with(&ports, &fib, &neigh, ingress, &mut want_f, hint);
            let (_writer, reader) = tables(fib.clone(), neigh.clone());
            let mut fwd = L3Forwarder::new(&ports, reader);
            fwd.lookahead = lookahead;
            let mut got_f = f.clone();
            let mut v = [Verdict::Drop(DropReason::NoEgress)];
            let meta = hop.map_or([0; META_LEN], KernelHop::to_meta);
            fwd.decide_batch(ingress, &mut [&mut got_f[..]], &[meta], &mut v);
            proptest::prop_assert_eq!((v[0], &got_f), (want, &want_f));
        }
    }

    /// The fast path's next hops follow the ports' MTU and the neighbour
    /// snapshots, and leave every hop alone that is not a resolved gateway.
    #[test]
    fn fast_hops_follow_ports_and_snapshots() {
        let w = world();
        let fib = fast_world_fib();
        let n = crate::testing::router::neighbours().build();
        let (mut writer, reader) = tables(fib.clone(), n.clone());
        let mut fwd = L3Forwarder::new(&w.ports, reader);
        let f = udp4(A, [198, 18, 0, 1], [198, 18, 5, 9], 64, 400);
        let run = |fwd: &mut L3Forwarder| {
            let mut c = f.clone();
            let v = one(fwd, &mut c);
            (v, c)
        };
        // Not resolved for this build: by address, the same result.
        let mut by_address = f.clone();
        let want = decide(&w.ports, &fib, &n, 0, &mut by_address);
        assert!(matches!(want, Verdict::Tx { port: 1, .. }));
        assert_eq!(run(&mut fwd), (want, by_address.clone()));
        assert!(fwd.fast == FastHops::default(), "nothing resolved yet");
        writer.publish(None, Some(n.clone().resolved_for(&fib)));
        assert_eq!(run(&mut fwd), (want, by_address));
        assert!(fwd.fast != FastHops::default(), "resolved now");
        let c = Fast {
            mac: fast::mac48(A),
            ingress: 0,
            ports: 2,
            hops: &fwd.fast,
        };
        let mut g = f.clone();
        let fib2 = fwd.tables.fib().clone();
        assert_eq!(
            fast_decide(&c, &fib2, &mut g, Hint::None),
            Some(want),
            "the fast path decides it"
        );
        let mut g6 = udp6(A, "fd00:0:0:1::1", "fd00:0:0:5::9", 64, 20);
        assert!(matches!(
            fast_decide(&c, &fib2, &mut g6, Hint::None),
            Some(Verdict::Tx { port: 1, .. })
        ));
        // A smaller port MTU reaches the fast path too.
        fwd.set_port_max_len(1, 300 + crate::limits::L2_OVERHEAD);
        assert_eq!(run(&mut fwd).0, Verdict::Pass(PassReason::Mtu));
        fwd.set_port_max_len(1, 1500 + crate::limits::L2_OVERHEAD);
        assert!(matches!(run(&mut fwd).0, Verdict::Tx { port: 1, .. }));
        // The neighbour is gone: the kernel resolves it.
        writer.publish(None, Some(NeighSet::new().build().resolved_for(&fib)));
        assert_eq!(run(&mut fwd).0, Verdict::Pass(PassReason::NoNeighbour));
        // A new snapshot first taken over by a multi-buffer packet reaches
        // the fast path too: the next one-frame packet does not use a
        // next hop that is gone.
        writer.publish(None, Some(n.clone().resolved_for(&fib)));
        assert_eq!(run(&mut fwd).0, want, "resolved again, by the fast path");
        writer.publish(None, Some(NeighSet::new().build().resolved_for(&fib)));
        let big = udp4(A, [198, 18, 0, 1], [198, 18, 5, 9], 64, 1400);
        let (mut head, tail) = (big[..1000].to_vec(), (big.len() - 1000) as u32);
        assert_eq!(
            fwd.decide_chained(0, &mut head, tail, &[0; META_LEN]),
            Verdict::Pass(PassReason::NoNeighbour)
        );
        assert_eq!(
            run(&mut fwd).0,
            Verdict::Pass(PassReason::NoNeighbour),
            "not a stale next hop"
        );
    }

    #[test]
    fn per_hop_macs_agree_with_lookups_by_address() {
        let w = world();
        // Resolved for another build of the same routes: a different id,
        // so it must not be used (the worker may see a new table with
        // the old neighbours for a moment).
        let other = {
            let mut r = RouteSet::new();
            r.kernel_add(p("0.0.0.0/0"), 0, fwd(1, Some("198.18.1.9"), None));
            w.unresolved.clone().resolved_for(&r.build().unwrap())
        };
        let mut forwarded = 0;
        for third in 0..=12u8 {
            for last in [1u8, 2, 9, 99] {
                let v4 = udp4(A, [198, 18, 0, 1], [198, 18, third, last], 64, 20);
                let v6 = udp6(
                    A,
                    "fd00:0:0:1::1",
                    &format!("fd00:0:0:{third:x}::{last:x}"),
                    64,
                    20,
                );
                for f in [v4, v6] {
                    let mut want = f.clone();
                    let v = decide(&w.ports, &w.fib, &w.unresolved, 0, &mut want);
                    for n in [&w.neigh, &other] {
                        let mut got = f.clone();
                        let g = decide(&w.ports, &w.fib, n, 0, &mut got);
                        assert_eq!((g, &got), (v, &want), "{third}.{last}");
                    }
                    forwarded += usize::from(matches!(v, Verdict::Tx { .. }));
                }
            }
        }
        assert!(
            forwarded >= 10,
            "the cases must include forwards: {forwarded}"
        );
        // Gateways are resolved per hop; connected routes are not.
        let hops: Vec<_> = (0..w.fib.hops() as u32)
            .filter_map(|i| w.neigh.hop_mac(w.fib.id(), i))
            .collect();
        assert!(hops.contains(&HopMac::Gateway(NH)));
        assert!(
            hops.contains(&HopMac::Unresolved),
            "198.18.1.99 has no entry"
        );
        assert!(hops.contains(&HopMac::PerDestination));
        assert_eq!(w.neigh.hop_mac(w.fib.id() + 1000, 0), None);
    }

    #[test]
    fn look_ahead_changes_nothing_and_stale_hints_are_ignored() {
        let w = world();
        let frames = [
            udp4(A, [198, 18, 0, 1], [198, 18, 5, 9], 64, 20),
            udp4(A, [198, 18, 0, 1], [198, 18, 1, 2], 64, 20),
            udp4(A, [198, 18, 0, 1], [198, 19, 0, 1], 64, 20),
            udp4(A, [198, 18, 0, 1], [198, 18, 6, 1], 64, 20),
            udp6(A, "fd00:0:0:1::1", "fd00:0:0:5::9", 64, 20),
            udp6(A, "fd00:0:0:1::1", "fd00:0:0:9::1", 64, 20),
        ];
        for f in &frames {
            let mut plain = f.clone();
            let want = w.run(0, &mut plain);
            let mut hinted = f.clone();
            let hint = lookup_ahead(&w.fib, &hinted);
            assert_ne!(hint, Hint::None);
            let got = decide_with(&w.ports, &w.fib, &w.neigh, 0, &mut hinted, hint);
            assert_eq!((got, &hinted), (want, &plain));
            // A hint for another destination is not used.
            for wrong in [
                Hint::V4(1, Some(0)),
                Hint::V6(1, Some(0)),
                Hint::V4(0, None),
            ] {
                let mut f2 = f.clone();
                let got = decide_with(&w.ports, &w.fib, &w.neigh, 0, &mut f2, wrong);
                assert_eq!((got, &f2), (want, &plain));
            }
        }
        assert_eq!(lookup_ahead(&w.fib, &[0u8; 20]), Hint::None);
    }

    #[test]
    fn the_kernels_decision_is_executed_as_given() {
        let w = world();
        let empty = RouteSet::new().build().unwrap();
        let none = NeighSet::new().build();
        let k = KernelHop {
            port: 1,
            dst: NH,
            src: B,
        };
        assert_eq!(KernelHop::from_meta(&k.to_meta()), Some(k));
        assert_eq!(KernelHop::from_meta(&[0; META_LEN]), None);
        // No route and no neighbour in the mirror: the kernel's decision
        // alone forwards it, exactly as the mirror would have.
        let f = udp4(A, [198, 18, 0, 1], [198, 18, 5, 9], 64, 100);
        let mut with_mirror = f.clone();
        let want = w.run(0, &mut with_mirror);
        let mut g = f.clone();
        let got = decide_with(&w.ports, &empty, &none, 0, &mut g, Hint::Kernel(k));
        assert_eq!((got, &g), (want, &with_mirror));
        // The header checks still come first.
        let mut bad = f.clone();
        bad[24] ^= 0xff;
        assert_eq!(
            decide_with(&w.ports, &empty, &none, 0, &mut bad, Hint::Kernel(k)),
            Verdict::Drop(DropReason::Ipv4Checksum)
        );
        let mut ttl1 = udp4(A, [198, 18, 0, 1], [198, 18, 5, 9], 1, 100);
        assert_eq!(
            decide_with(&w.ports, &empty, &none, 0, &mut ttl1, Hint::Kernel(k)),
            Verdict::Pass(PassReason::Ttl)
        );
        // IPv6 alike.
        let f6 = udp6(A, "fd00:0:0:1::1", "fd00:0:0:5::9", 64, 100);
        let mut m6 = f6.clone();
        let want6 = w.run(0, &mut m6);
        let mut g6 = f6.clone();
        let got6 = decide_with(&w.ports, &empty, &none, 0, &mut g6, Hint::Kernel(k));
        assert_eq!((got6, &g6), (want6, &m6));
        // A decision that names no other port of ours is not trusted: the
        // mirror decides (here: no route).
        for port in [0, 2, 200] {
            let bogus = KernelHop { port, ..k };
            let mut h = f.clone();
            assert_eq!(
                decide_with(&w.ports, &empty, &none, 0, &mut h, Hint::Kernel(bogus)),
                Verdict::Drop(DropReason::NoRoute),
                "port {port}"
            );
        }
        // Through the forwarder: the metadata of each frame of a batch.
        let (_writer, reader) = tables(empty.clone(), none.clone());
        let mut fwd = L3Forwarder::new(&w.ports, reader);
        let (mut a, mut b) = (f.clone(), f.clone());
        let mut out = [Verdict::Drop(DropReason::NoEgress); 2];
        fwd.decide_batch(
            0,
            &mut [&mut a, &mut b],
            &[k.to_meta(), [0; META_LEN]],
            &mut out,
        );
        assert_eq!(out, [want, Verdict::Drop(DropReason::NoRoute)]);
        assert_eq!(a, with_mirror);
    }

    fn one(fwd: &mut L3Forwarder, f: &mut [u8]) -> Verdict {
        let mut v = [Verdict::Drop(DropReason::NoEgress)];
        fwd.decide_batch(0, &mut [f], &[[0; META_LEN]], &mut v);
        v[0]
    }

    #[test]
    fn the_forwarder_follows_published_snapshots() {
        let w = world();
        let (mut writer, reader) = tables(Fib::default(), Neighbours::default());
        let mut fwd = L3Forwarder::new(&w.ports, reader);
        let mut f = udp4(A, [198, 18, 0, 1], [198, 18, 5, 9], 64, 20);
        assert_eq!(
            one(&mut fwd, &mut f.clone()),
            Verdict::Drop(DropReason::NoRoute)
        );
        writer.publish(Some(w.fib.clone()), Some(w.neigh.clone()));
        assert!(
            matches!(one(&mut fwd, &mut f), Verdict::Tx { port: 1, .. }),
            "taken over at the next batch"
        );
        let _ = Ipv4Addr::LOCALHOST;
        let _ = IpNumber::UDP;
    }

    #[test]
    fn batched_look_ahead_matches_decide_in_a_large_table() {
        // The world's routes plus enough /32s (via the gateway) that the
        // forwarder looks ahead.
        let mut r = RouteSet::new();
        let w = world();
        for route in w.fib.routes() {
            match route.action {
                Action::Local => r.local_add(route.prefix),
                a => r.kernel_add(route.prefix, route.metric, a),
            }
        }
        for i in 0..LOOKAHEAD_MIN_ROUTES as u32 {
            let a = Ipv4Addr::from(0xc613_0000 | i); // 198.19.x.y/32
            r.kernel_add(
                Prefix::new(IpAddr::V4(a), 32).unwrap(),
                0,
                fwd(1, Some("198.18.1.1"), None),
            );
        }
        let fib = r.build().unwrap();
        let neigh = w.unresolved.clone().resolved_for(&fib);
        let (_writer, reader) = tables(fib.clone(), neigh.clone());
        let mut f = L3Forwarder::new(&w.ports, reader);
        assert!(f.lookahead);
        let mut frames = Vec::new();
        for k in 0..200u32 {
            frames.push(match k % 5 {
                0 => udp4(
                    A,
                    [198, 18, 0, 1],
                    [198, 19, (k >> 3) as u8, k as u8],
                    64,
                    20,
                ),
                1 => udp4(A, [198, 18, 0, 1], [198, 18, (k % 13) as u8, 2], 64, 20),
                2 => udp6(
                    A,
                    "fd00:0:0:1::1",
                    &format!("fd00:0:0:{:x}::{:x}", k % 7, k),
                    64,
                    20,
                ),
                3 => udp4(A, [198, 18, 0, 1], [203, 0, 113, k as u8], 2, 20),
                _ => vec![0u8; 30 + k as usize % 20],
            });
        }
        let want: Vec<_> = frames
            .iter()
            .map(|fr| {
                let mut c = fr.clone();
                (decide(&w.ports, &fib, &neigh, 0, &mut c), c)
            })
            .collect();
        // Batches of every shape: nothing of one batch's look-ahead may
        // leak into the next.
        for batch in [1, 7, 64, 100, MAX_BATCH] {
            let mut got = frames.clone();
            let mut verdicts = vec![Verdict::Drop(DropReason::NoEgress); got.len()];
            for (fs, vs) in got.chunks_mut(batch).zip(verdicts.chunks_mut(batch)) {
                let mut slices: Vec<&mut [u8]> = fs.iter_mut().map(|f| f.as_mut_slice()).collect();
                let meta = vec![[0; META_LEN]; slices.len()];
                f.decide_batch(0, &mut slices, &meta, vs);
            }
            for (i, (v, fr)) in verdicts.iter().zip(&got).enumerate() {
                assert_eq!(
                    (*v, fr),
                    (want[i].0, &want[i].1),
                    "batch {batch}, frame {i}"
                );
            }
        }
        let verdicts: Vec<_> = want.iter().map(|(v, _)| *v).collect();
        assert!(
            verdicts
                .iter()
                .filter(|v| matches!(v, Verdict::Tx { .. }))
                .count()
                >= 40,
            "{verdicts:?}"
        );
    }
}
