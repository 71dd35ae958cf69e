//! The L3 control plane: keeps the route and neighbour model in step with
//! the kernel (rtnetlink dump, then live events) and the static
//! configuration; publishes frozen snapshots to the workers
//! (`xskfwd_core::tables`) and steering entries to the XDP programs.
//!
//! Timing: events are applied as they arrive (the thread waits on the
//! netlink socket, at most [`POLL`] at a time) and a new snapshot is
//! published right after each burst, so an `ip route`/`ip neigh` change
//! reaches the workers within milliseconds. Changes the kernel does not
//! announce route by route (a link going down, an address removed,
//! a netlink overrun) trigger a full re-dump.
//!
//! Old snapshots are freed here, never on a worker: the control plane keeps
//! a reference to every retired snapshot until no worker holds it.
//!
//! This module must never: block a worker, panic on what the kernel sends,
//! or touch another network namespace.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Write as _;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use crate::bpf::{SteerMaps, SteerPrefix, STEER_KERNEL, STEER_PASS, STEER_REDIRECT};
use crate::config::{L3Config, Mac};
use crate::netlink::{self, Event, KernelRoute, Monitor, RouteType};
use xskfwd_core::route::{
    Action, Fib, KernelOnly, NeighSet, Neighbours, PortId, Prefix, RouteSet, Source,
};
use xskfwd_core::tables::{tables, TablesReader, TablesWriter};

/// Longest wait for netlink events before checking the stop flag.
pub const POLL: Duration = Duration::from_millis(50);
/// How often the neighbours xskfwd forwarded to are reported to the kernel
/// as used (its own forwarding reports every packet; a STALE entry then
/// waits `delay_first_probe_time`, 5 s by default, before it is probed).
pub const LIVENESS_INTERVAL: Duration = Duration::from_millis(500);

/// Kernel main routing table id.
const RT_TABLE_MAIN: u32 = 254;
/// Kernel local routing table id.
const RT_TABLE_LOCAL: u32 = 255;

/// A port as the control plane knows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PortRef {
    /// Interface name.
    pub ifname: String,
    /// Interface index.
    pub ifindex: u32,
}

/// Where steering decisions go (the XDP programs' tries and length limit).
pub trait Steering: Send {
    /// Makes the programs' steering entries equal to `entries` and their
    /// length limits `(ipv4, ipv6)`.
    fn sync(&mut self, entries: &BTreeMap<SteerPrefix, u32>, max_len: (u32, u32)) -> Result<()>;

    /// The next hops the programs' FIB lookups resolved for frames sent to
    /// xskfwd, by (ifindex, address), with use counts that change when
    /// they are used. Nothing by default.
    fn next_hops_used(&mut self) -> Result<HashMap<(u32, IpAddr), u64>> {
        Ok(HashMap::new())
    }

    /// Applies the entries of `entries` that send frames to the kernel
    /// (new or changed ones only; nothing is removed), ahead of a
    /// [`Steering::sync`] with the same entries. Nothing by default.
    fn steer_to_kernel_first(&mut self, _entries: &BTreeMap<SteerPrefix, u32>) -> Result<()> {
        Ok(())
    }

    /// Sets the effective rp_filter of port `port`'s program. Nothing by
    /// default.
    fn set_rp_filter(&mut self, _port: usize, _mode: u32) -> Result<()> {
        Ok(())
    }
}

/// A [`Steering`] that only remembers (for `xskfwd routes` and tests).
#[derive(Debug, Default)]
pub struct NoSteering {
    /// Last entries.
    pub entries: BTreeMap<SteerPrefix, u32>,
    /// Last limits.
    pub max_len: (u32, u32),
}

impl Steering for NoSteering {
    fn sync(&mut self, entries: &BTreeMap<SteerPrefix, u32>, max_len: (u32, u32)) -> Result<()> {
        self.entries = entries.clone();
        self.max_len = max_len;
        Ok(())
    }
}

/// Counters of the control plane.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ControlStats {
    /// Netlink events applied.
    pub events: u64,
    /// Full re-dumps.
    pub resyncs: u64,
    /// Routing snapshots published.
    pub fib_builds: u64,
    /// Neighbour snapshots published.
    pub neigh_builds: u64,
    /// Time the last routing snapshot took to build (huge-page collapse
    /// included).
    pub last_build: Duration,
    /// Bytes of the last snapshot's lookup tables collapsed into huge
    /// pages.
    pub huge_bytes: usize,
    /// Bytes only marked for huge pages (collapse refused; khugepaged may
    /// or may not collapse them later).
    pub huge_marked_bytes: usize,
    /// `NTF_USE` notes sent for neighbours xskfwd forwarded to.
    pub neigh_uses: u64,
    /// IPv4 routes in the published table.
    pub routes_v4: usize,
    /// IPv6 routes in the published table.
    pub routes_v6: usize,
    /// Neighbours in the published table.
    pub neighbours: usize,
    /// Bytes of the published table's lookup structures.
    pub table_bytes: usize,
}

/// The control plane of one L3 run.
pub struct Control {
    ports: Vec<PortRef>,
    l3: L3Config,
    /// Largest IP packet a UMEM frame holds.
    max_ip: u32,
    routes: RouteSet,
    neighs: NeighSet,
    port_mtu: Vec<u32>,
    tables: TablesWriter,
    /// Use counts of the next hops at the last liveness pass.
    nh_hits: HashMap<(u32, IpAddr), u64>,
    /// Permanent and NOARP neighbours (ifindex, address): never aged, and
    /// never sent `NTF_USE` (which would strip `NUD_PERMANENT`).
    fixed_neighs: HashSet<(u32, IpAddr)>,
    neigh_user: Option<netlink::NeighUse>,
    next_liveness: Instant,
    /// The ports' rp_filter as last set in their programs (by port).
    rp_filter: Vec<Option<u32>>,
    /// The static prefixes (fixed for the run), to tell which kernel
    /// routes lie inside one.
    static_cover: StaticCover,
    steer: Box<dyn Steering>,
    monitor: Option<Monitor>,
    other_tables: usize,
    stats: ControlStats,
    /// Log table changes (from [`Control::run`] on; not the first build).
    log_changes: bool,
}

impl std::fmt::Debug for Control {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Control")
            .field("ports", &self.ports)
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

impl Control {
    /// Builds the model from the kernel (if `l3.kernel`) and the static
    /// configuration, publishes the first snapshots and steering entries.
    /// Runs in the caller's network namespace.
    pub fn start(
        ports: Vec<PortRef>,
        l3: L3Config,
        max_ip: u32,
        steer: Box<dyn Steering>,
    ) -> Result<Control> {
        // Subscribe before dumping, so no change falls between the two.
        // The local table (the host's own addresses) is always mirrored,
        // also with static routes only: those addresses stay the kernel's.
        let monitor = Some(Monitor::new().context("subscribing to rtnetlink")?);
        let n = ports.len();
        let mut c = Control {
            ports,
            l3,
            max_ip,
            routes: RouteSet::new(),
            neighs: NeighSet::new(),
            port_mtu: vec![max_ip; n],
            tables: tables(Fib::default(), Neighbours::default()).0,
            nh_hits: HashMap::new(),
            fixed_neighs: HashSet::new(),
            neigh_user: None,
            next_liveness: Instant::now(),
            rp_filter: vec![None; n],
            static_cover: StaticCover::default(),
            steer,
            monitor,
            other_tables: 0,
            stats: ControlStats::default(),
            log_changes: false,
        };
        c.add_statics();
        c.static_cover = StaticCover::new(c.routes.static_prefixes());
        c.resync()?;
        if c.l3.kernel && c.other_tables > 0 {
            {
                crate::info!(
                    "tables",
                    "note: {} route(s) live in tables other than main/local; xskfwd mirrors \
                     only main and local (the XDP program asks the kernel's FIB, policy rules \
                     included, before anything reaches xskfwd)",
                    c.other_tables
                );
            }
        }
        Ok(c)
    }

    fn port_of(&self, ifindex: u32) -> Option<PortId> {
        self.ports
            .iter()
            .position(|p| p.ifindex == ifindex)
            .map(|i| i as PortId)
    }

    fn add_statics(&mut self) {
        for r in &self.l3.routes {
            self.routes.static_add(
                r.prefix,
                Action::Forward {
                    port: r.port,
                    gateway: r.via,
                    mtu: r.mtu,
                },
            );
        }
        for n in &self.l3.neighs {
            self.neighs.static_add(n.port, n.ip, n.mac.0);
        }
    }

    /// A reader of the published tables (one per worker).
    pub fn reader(&self) -> TablesReader {
        self.tables.reader()
    }

    /// Counters.
    pub fn stats(&self) -> ControlStats {
        self.stats
    }

    /// What a kernel route means for xskfwd: `(prefix, local?, action)`.
    fn kernel_route(&self, r: &KernelRoute) -> Option<(Prefix, bool, Action)> {
        let prefix = Prefix::new(r.dst, r.prefix_len).ok()?;
        match r.table {
            RT_TABLE_LOCAL => match r.kind {
                RouteType::Local | RouteType::Broadcast | RouteType::Anycast => {
                    Some((prefix, true, Action::Local))
                }
                _ => None,
            },
            RT_TABLE_MAIN if self.l3.kernel => {
                let action = match r.kind {
                    RouteType::Unicast if r.multipath => Action::Kernel(KernelOnly::Multipath),
                    RouteType::Unicast => match r.oif.and_then(|i| self.port_of(i)) {
                        Some(port) => Action::Forward {
                            port,
                            gateway: r.gateway,
                            mtu: r.mtu,
                        },
                        None => Action::Kernel(KernelOnly::ForeignPort),
                    },
                    RouteType::Blackhole
                    | RouteType::Unreachable
                    | RouteType::Prohibit
                    | RouteType::Throw => Action::Kernel(KernelOnly::Reject),
                    _ => Action::Kernel(KernelOnly::Other),
                };
                Some((prefix, false, action))
            }
            _ => None,
        }
    }

    /// Re-reads everything from the kernel and republishes.
    pub fn resync(&mut self) -> Result<()> {
        let snap = netlink::dump().context("dumping the kernel's routes and neighbours")?;
        self.routes.clear_kernel();
        self.neighs.clear_kernel();
        self.other_tables = 0;
        for r in &snap.routes {
            if r.table != RT_TABLE_MAIN
                && r.table != RT_TABLE_LOCAL
                && r.kind != RouteType::Multicast
            {
                self.other_tables += 1;
            }
            self.apply_route(r, true);
        }
        self.fixed_neighs.clear();
        for n in snap.neighs.iter().filter(|_| self.l3.kernel) {
            if let Some(port) = self.port_of(n.ifindex) {
                self.neighs
                    .kernel_set(port, n.ip, n.usable().then_some(n.mac).flatten());
            }
            if n.fixed() {
                self.fixed_neighs.insert((n.ifindex, n.ip));
            }
        }
        for l in &snap.links {
            if let Some(port) = self.port_of(l.ifindex) {
                self.port_mtu[port as usize] = l.mtu.min(self.max_ip);
            }
        }
        self.stats.resyncs += 1;
        self.publish(true, true)
    }

    fn apply_route(&mut self, r: &KernelRoute, add: bool) -> bool {
        let Some((prefix, local, action)) = self.kernel_route(r) else {
            return false;
        };
        match (local, add) {
            (true, true) => self.routes.local_add(prefix),
            (true, false) => {
                self.routes.local_remove(prefix);
            }
            (false, true) => self.routes.kernel_add(prefix, r.metric, action),
            (false, false) => {
                self.routes.kernel_remove(prefix, r.metric);
            }
        }
        true
    }

    /// Applies events; returns (routes changed, neighbours changed, resync needed).
    fn apply(&mut self, events: &[Event]) -> (bool, bool, bool) {
        let (mut fib, mut neigh, mut resync) = (false, false, false);
        for ev in events {
            self.stats.events += 1;
            match ev {
                Event::NewRoute(r) => fib |= self.apply_route(r, true),
                Event::DelRoute(r) => fib |= self.apply_route(r, false),
                Event::NewNeigh(n) | Event::DelNeigh(n) if self.l3.kernel => {
                    match ev {
                        Event::NewNeigh(_) if n.fixed() => {
                            self.fixed_neighs.insert((n.ifindex, n.ip));
                        }
                        _ => {
                            self.fixed_neighs.remove(&(n.ifindex, n.ip));
                        }
                    }
                    if let Some(port) = self.port_of(n.ifindex) {
                        let mac = match ev {
                            Event::NewNeigh(_) if n.usable() => n.mac,
                            _ => None,
                        };
                        neigh |= self.neighs.kernel_set(port, n.ip, mac);
                    }
                }
                // The kernel flushes routes on link down / address removal
                // without announcing each one: read everything again.
                Event::NewLink(_)
                | Event::DelLink(_)
                | Event::NewAddr(_)
                | Event::DelAddr(_)
                | Event::Overrun => resync = true,
                Event::NewNeigh(_) | Event::DelNeigh(_) => {}
            }
        }
        (fib, neigh, resync)
    }

    /// Steering entries: local addresses go to the kernel, static routes to
    /// xskfwd (a local entry wins over a static route of the same prefix),
    /// and kernel routes xskfwd does not forward (ECMP, other types) to the
    /// kernel: bpf_fib_lookup would otherwise say SUCCESS for them and
    /// xskfwd could only drop them. A more specific route inside such a
    /// prefix still matches first (longest match).
    fn steering(&self, routes: &[xskfwd_core::route::Route]) -> BTreeMap<SteerPrefix, u32> {
        let mut m = BTreeMap::new();
        let key = |p: &Prefix| match *p {
            Prefix::V4(a, l) => SteerPrefix::V4(a.to_be_bytes(), l),
            Prefix::V6(a, l) => SteerPrefix::V6(a.to_be_bytes(), l),
        };
        // A kernel route the worker does not forward that lies inside a
        // static route's prefix must be passed before the static route's
        // REDIRECT entry catches it (a more specific blackhole or
        // unreachable route, a route out of another interface): the
        // kernel's, not a drop.
        let covered = |p: &Prefix| self.static_cover.covers(p);
        for r in routes {
            let kernel_only = match r.action {
                Action::Kernel(KernelOnly::Multipath | KernelOnly::Other) => true,
                Action::Kernel(KernelOnly::Reject | KernelOnly::ForeignPort) => {
                    r.source != Source::Static && covered(&r.prefix)
                }
                // bpf_fib_lookup forwards an IPv4 route via an IPv6
                // gateway (RFC 5549); the worker leaves it to the kernel.
                Action::Forward {
                    gateway: Some(g), ..
                } => g.is_ipv6() != r.prefix.is_v6(),
                _ => false,
            };
            if kernel_only {
                m.insert(key(&r.prefix), STEER_KERNEL);
            }
        }
        for p in self.routes.static_prefixes() {
            m.insert(key(p), STEER_REDIRECT);
        }
        for p in self.routes.locals() {
            m.insert(key(p), STEER_PASS);
        }
        m
    }

    /// Largest IPv4 / IPv6 packet the XDP program may hand to xskfwd: the
    /// UMEM frame, every route MTU (the kernel honours unlocked route MTUs,
    /// bpf_fib_lookup checks only the device's), and with static routes
    /// (which bypass bpf_fib_lookup) the ports' MTUs.
    fn max_len(&self, routes: &[xskfwd_core::route::Route]) -> (u32, u32) {
        let mut v4 = self.max_ip;
        let mut v6 = self.max_ip;
        for r in routes {
            if let Action::Forward { mtu: Some(m), .. } = r.action {
                if r.prefix.is_v6() {
                    v6 = v6.min(m);
                } else {
                    v4 = v4.min(m);
                }
            }
            if let (Source::Static, Action::Forward { port, .. }) = (r.source, r.action) {
                let m = self.port_mtu.get(port as usize).copied().unwrap_or(0);
                if r.prefix.is_v6() {
                    v6 = v6.min(m);
                } else {
                    v4 = v4.min(m);
                }
            }
        }
        (v4, v6)
    }

    fn publish(&mut self, fib: bool, neigh: bool) -> Result<()> {
        let mut built = None;
        if fib {
            let t = Instant::now();
            let b = match self.routes.build() {
                Ok(b) => b,
                Err(e) => {
                    // The routes cannot be published; the neighbours still
                    // can, for the table the workers keep using.
                    if neigh {
                        self.publish(false, true)?;
                    }
                    return Err(e.into());
                }
            };
            // Before publishing: no worker reads it while it moves.
            let huge = xskfwd_hugepage::advise(b.regions());
            self.stats.huge_bytes = huge.collapsed;
            self.stats.huge_marked_bytes = huge.marked;
            self.stats.last_build = t.elapsed();
            built = Some(b);
        }
        // Neighbours first, resolved for the routing table about to be
        // published: a route that points at a new neighbour finds it
        // already there, and until the new table is out workers see a
        // mismatched table id and look neighbours up by address instead.
        if fib || neigh {
            let n = match &built {
                Some(b) => self.neighs.build().resolved_for(b),
                None => self.neighs.build().resolved_for(&self.tables.fib()),
            };
            self.tables.publish(None, Some(n));
            self.stats.neigh_builds += 1;
        }
        if let Some(built) = built {
            let limits = self.max_len(built.routes());
            let entries = self.steering(built.routes());
            // What the new table leaves to the kernel is steered to the
            // kernel before workers read that table, and what it newly
            // sends to xskfwd only after: a frame the program redirects
            // always meets a table that forwards it.
            self.steer.steer_to_kernel_first(&entries)?;
            self.tables.publish(Some(built), None);
            self.stats.fib_builds += 1;
            self.steer.sync(&entries, limits)?;
        }
        if fib || neigh {
            let fib_now = self.tables.fib();
            let v6 = fib_now.routes().iter().filter(|r| r.prefix.is_v6()).count();
            let s = &mut self.stats;
            s.routes_v4 = fib_now.routes().len() - v6;
            s.routes_v6 = v6;
            s.neighbours = self.tables.neigh().len();
            s.table_bytes = fib_now.memory_bytes();
            if self.log_changes {
                crate::info!(
                    "tables",
                    "tables: {} IPv4 + {} IPv6 route(s), {} neighbour(s){}",
                    s.routes_v4,
                    s.routes_v6,
                    s.neighbours,
                    if fib {
                        format!("; routes rebuilt in {} us", s.last_build.as_micros())
                    } else {
                        String::new()
                    }
                );
            }
        }
        // Free retired snapshots no worker holds any more.
        self.tables.reclaim();
        Ok(())
    }

    /// Waits up to `timeout` for kernel changes and applies them.
    pub fn poll(&mut self, timeout: Duration) -> Result<()> {
        if self.next_liveness <= Instant::now() {
            self.next_liveness = Instant::now() + LIVENESS_INTERVAL;
            if let Err(e) = self.keep_neighbours_alive() {
                crate::warn!("tables", "neighbour liveness: {e:#}");
            }
            if let Err(e) = self.follow_sysctls() {
                crate::warn!("tables", "following rp_filter: {e:#}");
            }
        }
        let Some(monitor) = self.monitor.as_mut() else {
            std::thread::sleep(timeout);
            self.publish(false, false)?;
            return Ok(());
        };
        let mut events = Vec::new();
        monitor.recv(timeout, &mut events)?;
        let (fib, neigh, resync) = self.apply(&events);
        if resync {
            self.resync()
        } else {
            self.publish(fib, neigh)
        }
    }

    /// Tells the kernel which of its neighbours xskfwd forwarded to since
    /// the last pass (`NTF_USE`), as its own forwarding would on every
    /// packet: a STALE entry is re-probed, a changed MAC is learnt, a dead
    /// next hop goes FAILED — after which the XDP program's FIB lookup
    /// passes its frames to the kernel, which answers with ICMP.
    fn keep_neighbours_alive(&mut self) -> Result<()> {
        let used = self.steer.next_hops_used()?;
        if used.is_empty() {
            return Ok(());
        }
        let user = match &mut self.neigh_user {
            Some(u) => u,
            None => self.neigh_user.insert(netlink::NeighUse::new()?),
        };
        for (&(ifindex, addr), hits) in &used {
            let key = (ifindex, addr);
            if self.nh_hits.get(&key) != Some(hits) && !self.fixed_neighs.contains(&key) {
                user.used(ifindex, addr)?;
                self.stats.neigh_uses += 1;
            }
        }
        self.nh_hits = used;
        Ok(())
    }

    /// Follows the ports' effective rp_filter into their programs as the
    /// sysctls change (`all` or the port's own), as the kernel does on
    /// its next packet.
    fn follow_sysctls(&mut self) -> Result<()> {
        for (i, p) in self.ports.iter().enumerate() {
            // Unreadable (a port renamed, a transient error): keep the
            // last value rather than turn the check off.
            let Some(mode) = crate::netns::read_rp_filter(&p.ifname) else {
                continue;
            };
            if self.rp_filter[i] != Some(mode) {
                self.steer.set_rp_filter(i, mode)?;
                self.rp_filter[i] = Some(mode);
            }
        }
        Ok(())
    }

    /// Runs until `stop` is set. Errors are reported and retried (with a
    /// re-dump), never fatal to forwarding.
    /// `each` sees the control plane after every poll (to publish its
    /// counters).
    pub fn run(&mut self, stop: &AtomicBool, mut each: impl FnMut(&Control)) {
        let mut failing = false;
        self.log_changes = true;
        while !stop.load(Ordering::Relaxed) {
            let polled = self.poll(POLL);
            each(self);
            match polled {
                Ok(()) => failing = false,
                Err(e) => {
                    if !failing {
                        crate::warn!(
                            "tables",
                            "route mirror: {e:#}; re-reading the kernel's tables"
                        );
                    }
                    failing = true;
                    // Back off: a persistent error (e.g. a full steering
                    // trie) must not turn into a re-dump every 50 ms.
                    for _ in 0..20 {
                        if stop.load(Ordering::Relaxed) {
                            return;
                        }
                        std::thread::sleep(POLL);
                    }
                    let _ = self.resync();
                }
            }
        }
    }

    /// The effective tables as text (`xskfwd routes`).
    pub fn dump_text(&self) -> String {
        let names: Vec<String> = self.ports.iter().map(|p| p.ifname.clone()).collect();
        format_tables(&self.tables.fib(), &self.tables.neigh(), &names)
    }
}

/// Routing and neighbour tables as text (`xskfwd routes`, and the
/// control socket's `routes`): `names[p]` is port `p`'s interface.
pub fn format_tables(fib: &Fib, neigh: &Neighbours, names: &[String]) -> String {
    let name = |p: PortId| {
        names
            .get(p as usize)
            .map_or("?", |n| n.as_str())
            .to_string()
    };
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<43} {:<44} {:<7} METRIC",
        "PREFIX", "ACTION", "SOURCE"
    );
    for r in fib.routes() {
        let action = match r.action {
            Action::Forward { port, gateway, mtu } => {
                let mut a = String::new();
                if let Some(g) = gateway {
                    let _ = write!(a, "via {g} ");
                }
                let _ = write!(a, "dev {}", name(port));
                if let Some(m) = mtu {
                    let _ = write!(a, " mtu {m}");
                }
                a
            }
            Action::Local => "local (to the kernel)".into(),
            Action::Kernel(KernelOnly::Reject) => "reject (to the kernel)".into(),
            Action::Kernel(KernelOnly::Multipath) => "multipath (to the kernel)".into(),
            Action::Kernel(KernelOnly::ForeignPort) => "not an xskfwd port (to the kernel)".into(),
            Action::Kernel(KernelOnly::Other) => "other type (to the kernel)".into(),
        };
        let _ = writeln!(
            out,
            "{:<43} {:<44} {:<7} {}",
            r.prefix.to_string(),
            action,
            r.source.name(),
            r.metric
        );
    }
    let _ = writeln!(out, "\n{:<43} {:<18} DEV", "NEIGHBOUR", "MAC");
    for (port, ip, mac) in neigh.entries() {
        let _ = writeln!(out, "{:<43} {:<18} {}", ip, Mac(mac), name(port));
    }
    let _ = write!(
        out,
        "\n{} route(s), {} neighbour(s); lookup structures {} KiB",
        fib.routes().len(),
        neigh.len(),
        fib.memory_bytes() / 1024
    );
    out
}

/// The static prefixes (fixed for a run), to tell whether a route lies
/// inside one of them: any static prefix as long as the route's or
/// shorter that contains it, whatever more specific statics there are.
#[derive(Debug, Default)]
struct StaticCover {
    prefixes: HashSet<Prefix>,
    /// The distinct lengths of the static prefixes, per family (v4, v6).
    lens: (Vec<u8>, Vec<u8>),
}

impl StaticCover {
    fn new<'a>(statics: impl Iterator<Item = &'a Prefix>) -> StaticCover {
        let mut c = StaticCover::default();
        for p in statics {
            let lens = if p.is_v6() {
                &mut c.lens.1
            } else {
                &mut c.lens.0
            };
            if !lens.contains(&p.prefix_len()) {
                lens.push(p.prefix_len());
            }
            c.prefixes.insert(*p);
        }
        c
    }

    fn covers(&self, p: &Prefix) -> bool {
        let (lens, addr) = if p.is_v6() {
            (&self.lens.1, p.addr())
        } else {
            (&self.lens.0, p.addr())
        };
        lens.iter()
            .filter(|l| **l <= p.prefix_len())
            .any(|l| Prefix::new(addr, *l).is_ok_and(|s| self.prefixes.contains(&s)))
    }
}

/// Steering through the XDP programs' maps: applies the difference to the
/// entries every program holds.
#[derive(Debug)]
pub struct MapSteering {
    maps: Vec<SteerMaps>,
    current: BTreeMap<SteerPrefix, u32>,
}

impl MapSteering {
    /// Steering through `maps` (one per port program).
    pub fn new(maps: Vec<SteerMaps>) -> MapSteering {
        MapSteering {
            maps,
            current: BTreeMap::new(),
        }
    }
}

impl Steering for MapSteering {
    fn steer_to_kernel_first(&mut self, entries: &BTreeMap<SteerPrefix, u32>) -> Result<()> {
        for (k, v) in entries {
            if *v == STEER_REDIRECT || self.current.get(k) == Some(v) {
                continue;
            }
            for m in &self.maps {
                m.insert(k, *v).context("updating the XDP steering maps")?;
            }
            self.current.insert(*k, *v);
        }
        Ok(())
    }

    fn set_rp_filter(&mut self, port: usize, mode: u32) -> Result<()> {
        if let Some(m) = self.maps.get(port) {
            m.set_rp_filter(mode)?;
        }
        Ok(())
    }

    fn next_hops_used(&mut self) -> Result<HashMap<(u32, IpAddr), u64>> {
        let mut out = HashMap::new();
        for m in &self.maps {
            m.next_hops_used(&mut out)?;
        }
        Ok(out)
    }

    fn sync(&mut self, entries: &BTreeMap<SteerPrefix, u32>, max_len: (u32, u32)) -> Result<()> {
        // Limits first and removals before insertions, and one failing
        // entry (a full trie) does not stop the others.
        let mut first_err = None;
        for m in &self.maps {
            if let Err(e) = m.set_max_len(max_len.0, max_len.1) {
                first_err.get_or_insert(anyhow::Error::new(e));
            }
        }
        for k in self.current.keys() {
            if !entries.contains_key(k) {
                for m in &self.maps {
                    m.remove(k);
                }
            }
        }
        let mut applied = BTreeMap::new();
        for (k, v) in entries {
            if self.current.get(k) == Some(v) {
                applied.insert(*k, *v);
                continue;
            }
            let mut ok = true;
            for m in &self.maps {
                if let Err(e) = m.insert(k, *v) {
                    ok = false;
                    first_err.get_or_insert(anyhow::Error::new(e));
                }
            }
            if ok {
                applied.insert(*k, *v);
            }
        }
        self.current = applied;
        match first_err {
            Some(e) => Err(e.context("updating the XDP steering maps")),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_route_is_covered_by_any_shorter_static_whatever_lies_inside_it() {
        let p = |s: &str| s.parse::<Prefix>().unwrap();
        let statics = [p("198.18.0.0/15"), p("198.19.0.0/24"), p("fd00::/16")];
        let c = StaticCover::new(statics.iter());
        assert!(
            c.covers(&p("198.19.0.0/16")),
            "the /15 covers it, the /24 inside does not matter"
        );
        assert!(c.covers(&p("198.19.0.0/24")), "equal length");
        assert!(c.covers(&p("198.19.5.0/24")));
        assert!(
            !c.covers(&p("198.0.0.0/8")),
            "longer than nothing covers a shorter route"
        );
        assert!(!c.covers(&p("10.0.0.0/24")));
        assert!(c.covers(&p("fd00:1::/32")));
        assert!(!c.covers(&p("fd01::/32")));
        assert!(!StaticCover::default().covers(&p("198.19.0.0/24")));
    }
}
