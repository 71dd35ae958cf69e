//! Route and neighbour tables: the authoritative model the control plane
//! edits ([`RouteSet`], [`NeighSet`]) and the frozen snapshots the workers
//! read ([`Fib`], [`Neighbours`]).
//!
//! Workers never see a table being edited. The control plane applies
//! changes to the model, builds a new snapshot and publishes it with an
//! atomic pointer swap ([`crate::tables`], RCU style via `arc-swap`); a worker picks
//! the new snapshot up at its next batch and the old one is freed when the
//! last worker lets go. Routes and neighbours are separate snapshots, so an
//! ARP/NDP change does not rebuild a full Internet routing table.
//!
//! This module must never: be called from the fast path for anything but
//! lookups ([`Fib::lookup_v4`], [`Neighbours::get_v4`], …), allocate or lock
//! in a lookup, or panic on any input (bad prefixes are errors).

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::hash::{BuildHasherDefault, Hasher};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};

use thiserror::Error;

use crate::limits::MAX_L3_PORTS;
use crate::lpm::{Lpm4, Lpm6, LpmError};

/// Index of an xskfwd port.
pub type PortId = u8;

/// A route or neighbour could not be used.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum RouteError {
    /// The prefix length is longer than the address.
    #[error("prefix length {0} is too long for the address")]
    PrefixLen(u8),
    /// Not `ADDR/LEN`.
    #[error("'{0}' is not a prefix (expected ADDR/LEN, e.g. 198.18.5.0/24 or fd00:5::/64)")]
    Syntax(String),
    /// The LPM structure refused the table.
    #[error("building the route lookup table failed: {0:?}")]
    Lpm(LpmError),
    /// A gateway of the other address family.
    #[error("gateway {gateway} is not of the same family as {prefix}")]
    Family {
        /// The route.
        prefix: Prefix,
        /// Its gateway.
        gateway: IpAddr,
    },
}

/// An IP prefix with its host bits cleared.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Prefix {
    /// IPv4 address (host order) and length.
    V4(u32, u8),
    /// IPv6 address (big-endian numeric value) and length.
    V6(u128, u8),
}

impl Prefix {
    /// `addr/len`, host bits cleared.
    pub fn new(addr: IpAddr, len: u8) -> Result<Prefix, RouteError> {
        match addr {
            IpAddr::V4(a) => {
                if len > 32 {
                    return Err(RouteError::PrefixLen(len));
                }
                let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
                Ok(Prefix::V4(u32::from(a) & mask, len))
            }
            IpAddr::V6(a) => {
                if len > 128 {
                    return Err(RouteError::PrefixLen(len));
                }
                let mask = if len == 0 {
                    0
                } else {
                    u128::MAX << (128 - len)
                };
                Ok(Prefix::V6(u128::from(a) & mask, len))
            }
        }
    }

    /// A host prefix (/32 or /128).
    pub fn host(addr: IpAddr) -> Prefix {
        match addr {
            IpAddr::V4(a) => Prefix::V4(a.into(), 32),
            IpAddr::V6(a) => Prefix::V6(a.into(), 128),
        }
    }

    /// The network address.
    pub fn addr(&self) -> IpAddr {
        match *self {
            Prefix::V4(a, _) => IpAddr::V4(Ipv4Addr::from(a)),
            Prefix::V6(a, _) => IpAddr::V6(Ipv6Addr::from(a)),
        }
    }

    /// The prefix length.
    pub fn prefix_len(&self) -> u8 {
        match *self {
            Prefix::V4(_, l) | Prefix::V6(_, l) => l,
        }
    }

    /// IPv6?
    pub fn is_v6(&self) -> bool {
        matches!(self, Prefix::V6(..))
    }
}

impl fmt::Display for Prefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr(), self.prefix_len())
    }
}

impl FromStr for Prefix {
    type Err = RouteError;

    /// `ADDR/LEN`; a bare address is a host prefix; `default` is 0.0.0.0/0.
    fn from_str(s: &str) -> Result<Prefix, RouteError> {
        let bad = || RouteError::Syntax(s.to_string());
        if s == "default" {
            return Prefix::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0);
        }
        match s.split_once('/') {
            Some((a, l)) => {
                let addr: IpAddr = a.parse().map_err(|_| bad())?;
                let len: u8 = l.parse().map_err(|_| bad())?;
                Prefix::new(addr, len)
            }
            None => Ok(Prefix::host(s.parse().map_err(|_| bad())?)),
        }
    }
}

/// Why a route is the kernel's business and not xskfwd's.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KernelOnly {
    /// blackhole / unreachable / prohibit / throw: the kernel drops it or
    /// answers with the ICMP error the route type asks for.
    Reject,
    /// An ECMP (multipath) route: the kernel's hash picks the path.
    Multipath,
    /// The egress interface is not an xskfwd port.
    ForeignPort,
    /// Another type (multicast, nat, …).
    Other,
}

/// What a matching route does with a packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Action {
    /// Forward out of `port`; to `gateway`, or (None) straight to the
    /// destination, which is on the link.
    Forward {
        /// Egress port.
        port: PortId,
        /// Next hop; `None` for a directly connected destination.
        gateway: Option<IpAddr>,
        /// Route MTU (largest IP packet), if the route has one.
        mtu: Option<u32>,
    },
    /// A local, broadcast or anycast address of this host (local table).
    Local,
    /// The kernel handles it.
    Kernel(KernelOnly),
}

/// Where a route came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Source {
    /// Mirrored from the kernel's main table.
    Kernel,
    /// Mirrored from the kernel's local table.
    KernelLocal,
    /// From the command line or the config file.
    Static,
}

impl Source {
    /// Name for dumps.
    pub fn name(self) -> &'static str {
        match self {
            Source::Kernel => "kernel",
            Source::KernelLocal => "local",
            Source::Static => "static",
        }
    }
}

/// One effective route.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Route {
    /// Destination prefix.
    pub prefix: Prefix,
    /// What it does.
    pub action: Action,
    /// Where it came from.
    pub source: Source,
    /// Kernel metric (lower wins between kernel routes of one prefix).
    pub metric: u32,
}

/// The authoritative route model (control plane only).
///
/// Precedence for one prefix: a local-table entry, then a static route,
/// then the kernel main-table route with the lowest metric. Between
/// prefixes, the longest match wins (as the kernel, which consults the
/// local table first: local entries are host routes, or 127/8-like
/// prefixes no main-table route overrides in practice).
#[derive(Clone, Debug, Default)]
pub struct RouteSet {
    kernel: BTreeMap<(Prefix, u32), Action>,
    local: BTreeMap<Prefix, ()>,
    statics: BTreeMap<Prefix, Action>,
}

impl RouteSet {
    /// An empty set.
    pub fn new() -> RouteSet {
        RouteSet::default()
    }

    /// Adds or replaces a kernel main-table route.
    pub fn kernel_add(&mut self, prefix: Prefix, metric: u32, action: Action) {
        self.kernel.insert((prefix, metric), action);
    }

    /// Removes a kernel main-table route; true if it was there.
    pub fn kernel_remove(&mut self, prefix: Prefix, metric: u32) -> bool {
        self.kernel.remove(&(prefix, metric)).is_some()
    }

    /// Adds a local-table entry (local/broadcast/anycast address).
    pub fn local_add(&mut self, prefix: Prefix) {
        self.local.insert(prefix, ());
    }

    /// Removes a local-table entry.
    pub fn local_remove(&mut self, prefix: Prefix) -> bool {
        self.local.remove(&prefix).is_some()
    }

    /// Forgets every kernel-mirrored route (before a full re-dump).
    pub fn clear_kernel(&mut self) {
        self.kernel.clear();
        self.local.clear();
    }

    /// Adds or replaces a static route.
    pub fn static_add(&mut self, prefix: Prefix, action: Action) {
        self.statics.insert(prefix, action);
    }

    /// Removes a static route.
    pub fn static_remove(&mut self, prefix: Prefix) -> bool {
        self.statics.remove(&prefix).is_some()
    }

    /// Local-table prefixes.
    pub fn locals(&self) -> impl Iterator<Item = &Prefix> {
        self.local.keys()
    }

    /// Static route prefixes.
    pub fn static_prefixes(&self) -> impl Iterator<Item = &Prefix> {
        self.statics.keys()
    }

    /// Every effective route, one per prefix, in prefix order.
    pub fn effective(&self) -> Vec<Route> {
        let mut out: BTreeMap<Prefix, Route> = BTreeMap::new();
        // BTreeMap order is (prefix, metric) ascending: the first kernel
        // route of a prefix has the lowest metric.
        for (&(prefix, metric), &action) in &self.kernel {
            out.entry(prefix).or_insert(Route {
                prefix,
                action,
                source: Source::Kernel,
                metric,
            });
        }
        for (&prefix, &action) in &self.statics {
            out.insert(
                prefix,
                Route {
                    prefix,
                    action,
                    source: Source::Static,
                    metric: 0,
                },
            );
        }
        for &prefix in self.local.keys() {
            out.insert(
                prefix,
                Route {
                    prefix,
                    action: Action::Local,
                    source: Source::KernelLocal,
                    metric: 0,
                },
            );
        }
        out.into_values().collect()
    }

    /// Builds the frozen lookup snapshot.
    pub fn build(&self) -> Result<Fib, RouteError> {
        Fib::new(self.effective())
    }
}

/// A frozen routing table: LPM structures over [`Route`]s.
///
/// The LPM leaves do not point at routes but at *next hops*: the distinct
/// [`Action`]s of the table (a full BGP table has a million routes but a
/// handful of next hops). So a lookup ends in a small array that stays in
/// cache, instead of a 64-byte route record somewhere in a table the size
/// of the routes (one more cache and TLB miss per packet).
#[derive(Clone, Debug, Default)]
pub struct Fib {
    /// Unique per build (0: the empty default), so a neighbour snapshot
    /// can say which table its per-next-hop MACs belong to.
    id: u64,
    routes: Vec<Route>,
    hops: Vec<Action>,
    v4: Lpm4,
    v6: Lpm6,
}

impl Fib {
    /// Builds the lookup structures over `routes` (one per prefix).
    pub fn new(routes: Vec<Route>) -> Result<Fib, RouteError> {
        let mut v4 = Vec::new();
        let mut v6 = Vec::new();
        let mut hops = Vec::new();
        let mut ids: FastMap<Action, u32> = FastMap::default();
        for r in &routes {
            let id = match ids.get(&r.action) {
                Some(&id) => id,
                None => {
                    let id = u32::try_from(hops.len())
                        .map_err(|_| RouteError::Lpm(LpmError::Capacity))?;
                    hops.push(r.action);
                    ids.insert(r.action, id);
                    id
                }
            };
            match r.prefix {
                Prefix::V4(a, l) => v4.push((a, l, id)),
                Prefix::V6(a, l) => v6.push((a, l, id)),
            }
        }
        hops.shrink_to_fit();
        static IDS: AtomicU64 = AtomicU64::new(1);
        Ok(Fib {
            id: IDS.fetch_add(1, Ordering::Relaxed),
            v4: Lpm4::build(v4).map_err(RouteError::Lpm)?,
            v6: Lpm6::build(v6).map_err(RouteError::Lpm)?,
            routes,
            hops,
        })
    }

    /// What the longest match for an IPv4 destination (host order) does.
    #[inline]
    pub fn lookup_v4(&self, dst: u32) -> Option<&Action> {
        self.v4.lookup(dst).and_then(|i| self.hop(i))
    }

    /// What the longest match for an IPv6 destination does.
    #[inline]
    pub fn lookup_v6(&self, dst: u128) -> Option<&Action> {
        self.v6.lookup(dst).and_then(|i| self.hop(i))
    }

    /// Next-hop index of the longest match for an IPv4 destination.
    #[inline]
    pub fn index_v4(&self, dst: u32) -> Option<u32> {
        self.v4.lookup(dst)
    }

    /// Next-hop index of the longest match for an IPv6 destination.
    #[inline]
    pub fn index_v6(&self, dst: u128) -> Option<u32> {
        self.v6.lookup(dst)
    }

    /// Asks for the first cache line [`Fib::index_v4`] of `dst` will read
    /// (see [`Lpm4::prefetch`]).
    #[inline(always)]
    pub fn prefetch_v4(&self, dst: u32) {
        self.v4.prefetch(dst)
    }

    /// [`Fib::index_v6`] for many destinations at once (see
    /// [`Lpm6::lookup_many`]).
    #[inline]
    pub fn index_v6_many(&self, dsts: &[u128], out: &mut [Option<u32>]) {
        self.v6.lookup_many(dsts, out)
    }

    /// This build's identity (see [`Neighbours::resolved_for`]).
    #[inline]
    pub fn id(&self) -> u64 {
        self.id
    }

    /// Every next hop, in index order.
    pub fn next_hops(&self) -> &[Action] {
        &self.hops
    }

    /// The next hop at `index` (from [`Fib::index_v4`]/[`Fib::index_v6`]).
    #[inline]
    pub fn hop(&self, index: u32) -> Option<&Action> {
        self.hops.get(index as usize)
    }

    /// Every route.
    pub fn routes(&self) -> &[Route] {
        &self.routes
    }

    /// The number of distinct next hops.
    pub fn hops(&self) -> usize {
        self.hops.len()
    }

    /// Address and length of the big lookup arrays (for
    /// `xskfwd_hugepage::advise`).
    pub fn regions(&self) -> impl Iterator<Item = (usize, usize)> {
        self.v4.regions().into_iter().chain(self.v6.regions())
    }

    /// Heap bytes of the lookup structures (the LPMs and the next hops; the
    /// route list kept for dumps and the control plane is not counted).
    pub fn memory_bytes(&self) -> usize {
        self.v4.memory_bytes()
            + self.v6.memory_bytes()
            + self.hops.capacity() * std::mem::size_of::<Action>()
    }
}

/// A small, fast, non-cryptographic hasher for neighbour keys. Keys come
/// from the control plane (the kernel's neighbour table), never from
/// packets, so flooding cannot grow a bucket.
#[derive(Clone, Copy, Debug, Default)]
pub struct FastHasher(u64);

impl FastHasher {
    #[inline]
    fn mix(&mut self, x: u64) {
        self.0 = (self.0.rotate_left(5) ^ x).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
}

impl Hasher for FastHasher {
    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut b = [0u8; 8];
            b[..chunk.len()].copy_from_slice(chunk);
            self.mix(u64::from_le_bytes(b));
        }
    }

    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.mix(u64::from(i));
    }

    #[inline]
    fn write_u32(&mut self, i: u32) {
        self.mix(u64::from(i));
    }

    #[inline]
    fn write_u128(&mut self, i: u128) {
        self.mix(i as u64);
        self.mix((i >> 64) as u64);
    }
}

type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<FastHasher>>;

/// The link-layer address of one next hop of a [`Fib`], looked up when the
/// snapshot was built.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HopMac {
    /// Not a route via a gateway (a connected route: every destination is
    /// its own neighbour; or not a forward at all): look it up per packet.
    PerDestination,
    /// The gateway's MAC.
    Gateway([u8; 6]),
    /// The gateway is not resolved (the kernel resolves it).
    Unresolved,
}

/// A frozen neighbour table: (egress port, next-hop address) → MAC, plus
/// the MAC of every gateway next hop of one [`Fib`] build, so a packet
/// routed via a gateway needs no hash lookup.
#[derive(Clone, Debug, Default)]
pub struct Neighbours {
    v4: FastMap<(PortId, u32), [u8; 6]>,
    v6: FastMap<(PortId, u128), [u8; 6]>,
    /// [`Fib::id`] that `hops` was resolved for (0: none).
    fib: u64,
    hops: Vec<HopMac>,
}

impl Neighbours {
    /// Resolves the gateway of every next hop of `fib` (control plane).
    pub fn resolved_for(mut self, fib: &Fib) -> Neighbours {
        self.hops = fib
            .next_hops()
            .iter()
            .map(|a| match *a {
                Action::Forward {
                    port,
                    gateway: Some(gw),
                    ..
                } => {
                    let mac = match gw {
                        IpAddr::V4(g) => self.get_v4(port, g.into()),
                        IpAddr::V6(g) => self.get_v6(port, g.into()),
                    };
                    mac.map_or(HopMac::Unresolved, HopMac::Gateway)
                }
                _ => HopMac::PerDestination,
            })
            .collect();
        self.fib = fib.id();
        self
    }

    /// The MAC of next hop `hop` of the Fib build `fib`, if this snapshot
    /// was resolved for that build; `None` means "look it up".
    #[inline]
    pub fn hop_mac(&self, fib: u64, hop: u32) -> Option<HopMac> {
        if fib != self.fib {
            return None;
        }
        self.hops.get(hop as usize).copied()
    }

    /// MAC of IPv4 neighbour `ip` (host order) on `port`.
    #[inline]
    pub fn get_v4(&self, port: PortId, ip: u32) -> Option<[u8; 6]> {
        self.v4.get(&(port, ip)).copied()
    }

    /// MAC of IPv6 neighbour `ip` on `port`.
    #[inline]
    pub fn get_v6(&self, port: PortId, ip: u128) -> Option<[u8; 6]> {
        self.v6.get(&(port, ip)).copied()
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.v4.len() + self.v6.len()
    }

    /// No entries?
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every entry, sorted, for dumps.
    pub fn entries(&self) -> Vec<(PortId, IpAddr, [u8; 6])> {
        let mut v: Vec<_> = self
            .v4
            .iter()
            .map(|(&(p, ip), &m)| (p, IpAddr::V4(ip.into()), m))
            .chain(
                self.v6
                    .iter()
                    .map(|(&(p, ip), &m)| (p, IpAddr::V6(ip.into()), m)),
            )
            .collect();
        v.sort();
        v
    }
}

/// The authoritative neighbour model: kernel-mirrored entries and static
/// ones (static wins).
#[derive(Clone, Debug, Default)]
pub struct NeighSet {
    kernel: BTreeMap<(PortId, IpAddr), [u8; 6]>,
    statics: BTreeMap<(PortId, IpAddr), [u8; 6]>,
}

impl NeighSet {
    /// An empty set.
    pub fn new() -> NeighSet {
        NeighSet::default()
    }

    /// Sets (Some) or removes (None) a kernel neighbour; true if changed.
    pub fn kernel_set(&mut self, port: PortId, ip: IpAddr, mac: Option<[u8; 6]>) -> bool {
        match mac {
            Some(m) => self.kernel.insert((port, ip), m) != Some(m),
            None => self.kernel.remove(&(port, ip)).is_some(),
        }
    }

    /// Forgets every kernel neighbour (before a full re-dump).
    pub fn clear_kernel(&mut self) {
        self.kernel.clear();
    }

    /// Adds a static neighbour.
    pub fn static_add(&mut self, port: PortId, ip: IpAddr, mac: [u8; 6]) {
        self.statics.insert((port, ip), mac);
    }

    /// Builds the frozen snapshot.
    pub fn build(&self) -> Neighbours {
        let mut n = Neighbours::default();
        for (&(port, ip), &mac) in self.kernel.iter().chain(self.statics.iter()) {
            match ip {
                IpAddr::V4(a) => {
                    n.v4.insert((port, a.into()), mac);
                }
                IpAddr::V6(a) => {
                    n.v6.insert((port, a.into()), mac);
                }
            }
        }
        n
    }
}

/// What the L3 decision needs to know about a port.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct L3Port {
    /// The interface's MAC.
    pub mac: [u8; 6],
    /// Its MTU: the largest IP packet it sends (bounded by the UMEM frame).
    pub mtu: u32,
}

/// Ports of an L3 forwarder (fixed for a run).
pub type L3Ports = [L3Port; MAX_L3_PORTS];

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Prefix {
        s.parse().unwrap()
    }

    fn fwd(port: PortId) -> Action {
        Action::Forward {
            port,
            gateway: None,
            mtu: None,
        }
    }

    #[test]
    fn prefixes_parse_and_normalise() {
        assert_eq!(p("198.18.5.77/24"), Prefix::V4(0xc612_0500, 24));
        assert_eq!(p("default"), Prefix::V4(0, 0));
        assert_eq!(p("198.18.0.1"), Prefix::V4(0xc612_0001, 32));
        assert_eq!(p("fd00:5::1/16").to_string(), "fd00::/16");
        assert_eq!(p("::/0").prefix_len(), 0);
        assert!("198.18.0.0/33".parse::<Prefix>().is_err());
        assert!("fd00::/129".parse::<Prefix>().is_err());
        assert!("nonsense".parse::<Prefix>().is_err());
        assert!("1.2.3.4/x".parse::<Prefix>().is_err());
    }

    #[test]
    fn longest_match_and_fallback_after_delete() {
        let mut set = RouteSet::new();
        let lens = [0u8, 8, 16, 24, 32];
        for (i, l) in lens.iter().enumerate() {
            set.kernel_add(
                Prefix::new("198.18.5.7".parse().unwrap(), *l).unwrap(),
                0,
                fwd(i as u8),
            );
        }
        let dst = u32::from(Ipv4Addr::new(198, 18, 5, 7));
        for (i, l) in lens.iter().enumerate().rev() {
            let fib = set.build().unwrap();
            let a = fib.lookup_v4(dst).unwrap();
            assert_eq!(*a, fwd(i as u8), "/{l} is the longest match");
            let pre = Prefix::new("198.18.5.7".parse().unwrap(), *l).unwrap();
            assert!(set.kernel_remove(pre, 0));
        }
        assert!(set.build().unwrap().lookup_v4(dst).is_none());
    }

    #[test]
    fn ipv6_longest_match() {
        let mut set = RouteSet::new();
        for (i, s) in ["::/0", "fd00::/8", "fd00:0:0:5::/64", "fd00:0:0:5::9/128"]
            .iter()
            .enumerate()
        {
            set.kernel_add(p(s), 0, fwd(i as u8));
        }
        let fib = set.build().unwrap();
        let look = |s: &str| {
            fib.lookup_v6(u128::from(s.parse::<Ipv6Addr>().unwrap()))
                .copied()
        };
        assert_eq!(look("fd00:0:0:5::9"), Some(fwd(3)));
        assert_eq!(look("fd00:0:0:5::8"), Some(fwd(2)));
        assert_eq!(look("fd00:1::1"), Some(fwd(1)));
        assert_eq!(look("2001:db8::1"), Some(fwd(0)));
    }

    #[test]
    fn precedence_local_then_static_then_lowest_metric() {
        let mut set = RouteSet::new();
        let pre = p("198.18.5.0/24");
        set.kernel_add(pre, 200, fwd(2));
        set.kernel_add(pre, 100, fwd(1));
        assert_eq!(set.effective()[0].action, fwd(1));
        set.static_add(pre, fwd(3));
        assert_eq!(set.effective()[0].action, fwd(3));
        assert_eq!(set.effective()[0].source, Source::Static);
        set.local_add(pre);
        assert_eq!(set.effective()[0].action, Action::Local);
        set.local_remove(pre);
        set.static_remove(pre);
        set.kernel_remove(pre, 100);
        assert_eq!(set.effective()[0].action, fwd(2));
        set.clear_kernel();
        assert!(set.effective().is_empty());
    }

    #[test]
    fn neighbours_static_wins_and_removal() {
        let mut n = NeighSet::new();
        let ip: IpAddr = "198.18.1.1".parse().unwrap();
        assert!(n.kernel_set(1, ip, Some([1; 6])));
        assert!(!n.kernel_set(1, ip, Some([1; 6])), "unchanged");
        assert_eq!(n.build().get_v4(1, 0xc612_0101), Some([1; 6]));
        assert_eq!(n.build().get_v4(0, 0xc612_0101), None, "per port");
        n.static_add(1, ip, [2; 6]);
        assert_eq!(n.build().get_v4(1, 0xc612_0101), Some([2; 6]));
        let ip6: IpAddr = "fd00:0:0:2::1".parse().unwrap();
        n.kernel_set(1, ip6, Some([3; 6]));
        let b = n.build();
        assert_eq!(
            b.get_v6(1, u128::from(ip6.to_string().parse::<Ipv6Addr>().unwrap())),
            Some([3; 6])
        );
        assert_eq!(b.len(), 2);
        assert!(n.kernel_set(1, ip6, None));
        assert_eq!(n.build().len(), 1);
    }
}
