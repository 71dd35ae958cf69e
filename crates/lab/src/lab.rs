//! The veth + network-namespace lab `src ── dut ── dst` that xskfwd is
//! demonstrated and tested in.
//!
//! ```text
//! ns P-src: src0 198.18.0.1/24   fd00:0:0:1::1/64    default via .0.254 / 1::254
//! ns P-dut: dut0 198.18.0.254/24 fd00:0:0:1::254/64  (forwarding on)
//!           dut1 198.18.1.254/24 fd00:0:0:2::254/64
//! ns P-dst: dst0 198.18.1.1/24   fd00:0:0:2::1/64    default via .1.254 / 2::254
//! veth pairs: src0 <-> dut0, dut1 <-> dst0; static neighbours everywhere.
//! ```
//!
//! This module must never: touch the root network namespace (no address,
//! route, link or sysctl there; every command runs with `ip -n NS` or
//! `ip netns exec NS`), use addresses outside 198.18.0.0/15 and fd00::/8,
//! delete a namespace it did not create (a half-built lab removes only what
//! it made; [`down`] removes only the three names of one prefix), leave a
//! lab behind on error or drop (unless [`Lab::leak`] is called), or send
//! traffic (that is [`crate::traffic`]'s job).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::traffic::FrameSpec;
use xskfwd::config::Mac;
use xskfwd::netns;

/// Suffixes of the three namespaces of a lab named by a prefix.
pub const SRC_NS_SUFFIX: &str = "-src";
/// See [`SRC_NS_SUFFIX`].
pub const DUT_NS_SUFFIX: &str = "-dut";
/// See [`SRC_NS_SUFFIX`].
pub const DST_NS_SUFFIX: &str = "-dst";

/// Interface names; fixed, as each lives in its own namespace.
pub const SRC0: &str = "src0";
/// See [`SRC0`].
pub const DUT0: &str = "dut0";
/// See [`SRC0`].
pub const DUT1: &str = "dut1";
/// See [`SRC0`].
pub const DST0: &str = "dst0";

/// Addresses (inside 198.18.0.0/15 and fd00::/8 only).
pub const SRC0_V4: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
/// See [`SRC0_V4`].
pub const DUT0_V4: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 254);
/// See [`SRC0_V4`].
pub const DUT1_V4: Ipv4Addr = Ipv4Addr::new(198, 18, 1, 254);
/// See [`SRC0_V4`].
pub const DST0_V4: Ipv4Addr = Ipv4Addr::new(198, 18, 1, 1);
/// See [`SRC0_V4`].
pub const SRC0_V6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0, 0, 1, 0, 0, 0, 1);
/// See [`SRC0_V4`].
pub const DUT0_V6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0, 0, 1, 0, 0, 0, 0x254);
/// See [`SRC0_V4`].
pub const DUT1_V6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0, 0, 2, 0, 0, 0, 0x254);
/// See [`SRC0_V4`].
pub const DST0_V6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0, 0, 2, 0, 0, 0, 1);
/// Interface indexes of the veths. They must differ between peers: in
/// fresh namespaces both ends of a pair would get index 2, and the kernel's
/// linkwatch treats a device whose ifindex equals its peer's (`iflink`) as
/// non-urgent, so carrier would come up only after up to a second.
pub const SRC0_IFINDEX: u32 = 10;
/// See [`SRC0_IFINDEX`].
pub const DUT0_IFINDEX: u32 = 11;
/// See [`SRC0_IFINDEX`].
pub const DUT1_IFINDEX: u32 = 12;
/// See [`SRC0_IFINDEX`].
pub const DST0_IFINDEX: u32 = 13;

/// Prefix lengths of all lab addresses.
pub const V4_PREFIX_LEN: u8 = 24;
/// See [`V4_PREFIX_LEN`].
pub const V6_PREFIX_LEN: u8 = 64;

/// Most queues a lab veth may have.
pub const MAX_QUEUES: u32 = 64;
/// The MTU a lab gets unless told otherwise.
pub const DEFAULT_MTU: u32 = 1500;
/// Smallest lab MTU (IPv6's minimum link MTU).
pub const MIN_MTU: u32 = 1280;
/// Largest lab MTU: 9000-byte jumbo frames and some room above them.
pub const MAX_MTU: u32 = 9216;
/// Longest accepted prefix (namespace names are `<prefix>-src` etc.).
pub const MAX_PREFIX_LEN: usize = 48;

/// Attaches a pass-everything XDP program to `ifname` inside namespace
/// `netns` (native mode). Called for `src0` and `dst0`, because a veth only
/// accepts frames its peer redirects with XDP when it runs an XDP program.
pub type AttachPeerXdp = dyn Fn(&str, &str) -> Result<()> + Send + Sync;

/// What lab to build.
pub struct LabSpec {
    /// Names the lab: namespaces are `<prefix>-src`, `-dut`, `-dst`.
    pub prefix: String,
    /// rx and tx queues of every veth, `1..=MAX_QUEUES`.
    pub queues: u32,
    /// MTU of every veth, `MIN_MTU..=MAX_MTU` (1500 by default). Above
    /// about 3.5 KB a veth carries XDP only with programs that accept
    /// multi-buffer frames (`xdp.frags`), as the lab's own programs do.
    pub mtu: u32,
    /// Called as `(netns, ifname)` for `src0` and `dst0`, if set.
    pub attach_peer_xdp: Option<Box<AttachPeerXdp>>,
}

impl LabSpec {
    /// One queue, no XDP on the far ends.
    pub fn new(prefix: impl Into<String>) -> Self {
        LabSpec {
            prefix: prefix.into(),
            queues: 1,
            mtu: DEFAULT_MTU,
            attach_peer_xdp: None,
        }
    }

    /// Sets the MTU of every veth.
    pub fn mtu(mut self, mtu: u32) -> Self {
        self.mtu = mtu;
        self
    }

    /// Sets the queue count of every veth.
    pub fn queues(mut self, queues: u32) -> Self {
        self.queues = queues;
        self
    }

    /// Sets the far-end XDP attach hook.
    pub fn attach_peer_xdp(
        mut self,
        f: impl Fn(&str, &str) -> Result<()> + Send + Sync + 'static,
    ) -> Self {
        self.attach_peer_xdp = Some(Box::new(f));
        self
    }
}

impl fmt::Debug for LabSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LabSpec")
            .field("prefix", &self.prefix)
            .field("queues", &self.queues)
            .field("mtu", &self.mtu)
            .field("attach_peer_xdp", &self.attach_peer_xdp.is_some())
            .finish()
    }
}

/// One veth end of a lab.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabIface {
    /// Namespace the interface lives in.
    pub netns: String,
    /// Interface name inside that namespace.
    pub name: String,
    /// Its MAC address.
    pub mac: [u8; 6],
    /// Its IPv4 address (prefix length [`V4_PREFIX_LEN`]).
    pub ipv4: Ipv4Addr,
    /// Its IPv6 address (prefix length [`V6_PREFIX_LEN`]).
    pub ipv6: Ipv6Addr,
}

/// Everything about a running lab.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabInfo {
    /// The prefix the namespace names derive from.
    pub prefix: String,
    /// rx queues of `dut0` (all veths are created alike).
    pub queues: u32,
    /// MTU of `dut0` (all veths are created alike).
    pub mtu: u32,
    /// `src0` in `<prefix>-src`, peer of `dut0`.
    pub src0: LabIface,
    /// `dut0` in `<prefix>-dut`, facing the source.
    pub dut0: LabIface,
    /// `dut1` in `<prefix>-dut`, facing the destination.
    pub dut1: LabIface,
    /// `dst0` in `<prefix>-dst`, peer of `dut1`.
    pub dst0: LabIface,
}

impl LabInfo {
    /// Namespace of the source host.
    pub fn src_ns(&self) -> &str {
        &self.src0.netns
    }

    /// Namespace of the device under test (where xskfwd runs).
    pub fn dut_ns(&self) -> &str {
        &self.dut0.netns
    }

    /// Namespace of the destination host.
    pub fn dst_ns(&self) -> &str {
        &self.dst0.netns
    }

    /// The three namespaces, src, dut, dst.
    pub fn namespaces(&self) -> [&str; 3] {
        [self.src_ns(), self.dut_ns(), self.dst_ns()]
    }

    /// A UDP frame spec from `src0` to `dst0`, addressed at L2 to `dut0`
    /// (what `src0` puts on the wire). `v6` picks IPv6 over IPv4.
    pub fn udp_spec(&self, v6: bool, frame_len: usize) -> FrameSpec {
        let (src, dst): (IpAddr, IpAddr) = if v6 {
            (self.src0.ipv6.into(), self.dst0.ipv6.into())
        } else {
            (self.src0.ipv4.into(), self.dst0.ipv4.into())
        };
        FrameSpec::udp(self.src0.mac, self.dut0.mac, src, dst, frame_len)
    }

    /// What a router in the dut turns `sent` into on `dut1 -> dst0`: MACs
    /// rewritten, TTL / hop limit one lower, everything else identical.
    pub fn routed(&self, sent: &FrameSpec) -> Result<FrameSpec> {
        sent.forwarded(self.dut1.mac, self.dst0.mac)
    }
}

impl fmt::Display for LabInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "lab {} ({} queue{} per veth, MTU {})",
            self.prefix,
            self.queues,
            if self.queues == 1 { "" } else { "s" },
            self.mtu
        )?;
        let rows = [
            (&self.src0, "default via 198.18.0.254, fd00:0:0:1::254"),
            (&self.dut0, "forwarding on; peer src0"),
            (&self.dut1, "forwarding on; peer dst0"),
            (&self.dst0, "default via 198.18.1.254, fd00:0:0:2::254"),
        ];
        for (i, (ifc, note)) in rows.iter().enumerate() {
            write!(
                f,
                "  {:<w$}  {:<4}  {}  {:<15}  {:<18}  {}",
                ifc.netns,
                ifc.name,
                Mac(ifc.mac),
                format!("{}/{V4_PREFIX_LEN}", ifc.ipv4),
                format!("{}/{V6_PREFIX_LEN}", ifc.ipv6),
                note,
                w = self.prefix.len() + 4,
            )?;
            if i + 1 < rows.len() {
                writeln!(f)?;
            }
        }
        Ok(())
    }
}

/// A running lab; dropping it deletes its three namespaces (and with them
/// the veths and any XDP programs on them).
#[derive(Debug)]
pub struct Lab {
    info: LabInfo,
    armed: bool,
}

impl Lab {
    /// Builds the lab. On failure everything created so far is removed
    /// before the error is returned; an existing lab of the same prefix is
    /// an error and is left alone.
    pub fn up(spec: LabSpec) -> Result<Lab> {
        validate_prefix(&spec.prefix)?;
        if spec.queues == 0 || spec.queues > MAX_QUEUES {
            bail!("queues must be in 1..={MAX_QUEUES}, got {}", spec.queues);
        }
        if !(MIN_MTU..=MAX_MTU).contains(&spec.mtu) {
            bail!(
                "the lab MTU must be in {MIN_MTU}..={MAX_MTU}, got {}",
                spec.mtu
            );
        }
        let names = ns_names(&spec.prefix);
        if let Some(n) = names.iter().find(|n| netns::netns_exists(n)) {
            bail!(
                "network namespace {n} already exists; remove the old lab with `down {}` first",
                spec.prefix
            );
        }
        let mut partial = Partial::default();
        build(&spec, &names, &mut partial)
            .with_context(|| format!("bringing lab {} up", spec.prefix))?;
        let info = read_info(&spec.prefix)?;
        partial.created.clear();
        Ok(Lab { info, armed: true })
    }

    /// Facts about the lab.
    pub fn info(&self) -> &LabInfo {
        &self.info
    }

    /// Keeps the lab after this value is gone (for `xskfwd lab up`); remove
    /// it later with [`down`].
    pub fn leak(mut self) -> LabInfo {
        self.armed = false;
        self.info.clone()
    }

    /// Removes the lab now, reporting errors (dropping ignores them).
    pub fn teardown(mut self) -> Result<()> {
        self.armed = false;
        down(&self.info.prefix)
    }

    /// Removes the lab of `prefix`, if any; see [`down`].
    pub fn down(prefix: &str) -> Result<()> {
        down(prefix)
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        if self.armed {
            if let Err(e) = down(&self.info.prefix) {
                eprintln!("warning: removing lab {}: {e:#}", self.info.prefix);
            }
        }
    }
}

/// Removes the three namespaces of lab `prefix` (crash cleanup). Absent
/// namespaces are fine, so this is idempotent; it tries all three even when
/// one fails.
pub fn down(prefix: &str) -> Result<()> {
    validate_prefix(prefix)?;
    let mut errors = Vec::new();
    for ns in ns_names(prefix) {
        if let Err(e) = del_netns(&ns) {
            errors.push(format!("{e:#}"));
        }
    }
    if !errors.is_empty() {
        bail!("removing lab {prefix}: {}", errors.join("; "));
    }
    Ok(())
}

/// Describes the lab of `prefix`: `None` when none of its namespaces exist,
/// an error when only some do (a broken lab: run [`down`]).
pub fn status(prefix: &str) -> Result<Option<LabInfo>> {
    validate_prefix(prefix)?;
    let names = ns_names(prefix);
    let present: Vec<&String> = names.iter().filter(|n| netns::netns_exists(n)).collect();
    if present.is_empty() {
        return Ok(None);
    }
    if present.len() != names.len() {
        bail!(
            "lab {prefix} is incomplete (only {} exist); remove it with `down {prefix}`",
            present
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    read_info(prefix).map(Some)
}

pub use xskfwd::netns::unique_prefix;

/// Checks that a prefix makes valid, harmless namespace names.
pub fn validate_prefix(prefix: &str) -> Result<()> {
    let ok = !prefix.is_empty()
        && prefix.len() <= MAX_PREFIX_LEN
        && prefix
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        && !prefix.starts_with('-');
    if !ok {
        bail!(
            "invalid lab prefix {prefix:?}: 1..={MAX_PREFIX_LEN} of [A-Za-z0-9_-], not starting with '-'"
        );
    }
    Ok(())
}

/// `[<p>-src, <p>-dut, <p>-dst]`.
fn ns_names(prefix: &str) -> [String; 3] {
    [SRC_NS_SUFFIX, DUT_NS_SUFFIX, DST_NS_SUFFIX].map(|s| format!("{prefix}{s}"))
}

/// Namespaces created by a lab under construction; deleted on drop unless
/// cleared.
#[derive(Default)]
struct Partial {
    created: Vec<String>,
}

impl Drop for Partial {
    fn drop(&mut self) {
        for ns in self.created.drain(..).rev() {
            if let Err(e) = del_netns(&ns) {
                eprintln!("warning: cleaning up half-built lab: {e:#}");
            }
        }
    }
}

fn add_netns(name: &str, partial: &mut Partial) -> Result<()> {
    netns::validate_netns_name(name)?;
    let _lock = netns::admin_lock();
    run("ip", &["netns", "add", name])?;
    partial.created.push(name.to_string());
    Ok(())
}

fn del_netns(name: &str) -> Result<()> {
    let _lock = netns::admin_lock();
    if !netns::netns_exists(name) {
        return Ok(());
    }
    run("ip", &["netns", "del", name])?;
    Ok(())
}

/// Sysctls set in every lab namespace before any veth exists, so the
/// `default` values apply to the veths: no router solicitations, no
/// autoconf, no DAD, no link-local addresses (`addr_gen_mode=1`; static
/// neighbours make them unnecessary), unsolicited MLD reports 1 ms apart
/// (so the two reports each veth sends at carrier-up are out before `up`
/// returns), no reverse-path filter surprises.
const QUIET_SYSCTLS: &[&str] = &[
    "net.ipv6.conf.all.accept_ra=0",
    "net.ipv6.conf.default.accept_ra=0",
    "net.ipv6.conf.all.autoconf=0",
    "net.ipv6.conf.default.autoconf=0",
    "net.ipv6.conf.all.router_solicitations=0",
    "net.ipv6.conf.default.router_solicitations=0",
    "net.ipv6.conf.all.accept_dad=0",
    "net.ipv6.conf.default.accept_dad=0",
    "net.ipv6.conf.all.dad_transmits=0",
    "net.ipv6.conf.default.dad_transmits=0",
    "net.ipv6.conf.default.addr_gen_mode=1",
    "net.ipv6.conf.default.mldv1_unsolicited_report_interval=1",
    "net.ipv6.conf.default.mldv2_unsolicited_report_interval=1",
    "net.ipv4.conf.all.rp_filter=0",
    "net.ipv4.conf.default.rp_filter=0",
];

/// Extra sysctls of the end hosts (src, dst): no ICMP errors, so test UDP
/// to a closed port does not send port-unreachables back through the dut.
/// Echo replies are not rate limited, so ping still works.
const HOST_SYSCTLS: &[&str] = &["net.ipv4.icmp_msgs_per_sec=0", "net.ipv4.icmp_msgs_burst=0"];

/// Extra sysctls of the dut namespace.
const DUT_SYSCTLS: &[&str] = &["net.ipv4.ip_forward=1", "net.ipv6.conf.all.forwarding=1"];

fn build(spec: &LabSpec, names: &[String; 3], partial: &mut Partial) -> Result<()> {
    let [src, dut, dst] = names.each_ref().map(|s| s.as_str());
    for ns in [src, dut, dst] {
        add_netns(ns, partial)?;
        ip_in(ns, &["link", "set", "lo", "up"])?;
        let mut args = vec!["sysctl", "-q", "-w"];
        args.extend_from_slice(QUIET_SYSCTLS);
        args.extend_from_slice(if ns == dut { DUT_SYSCTLS } else { HOST_SYSCTLS });
        exec_in(ns, &args)?;
    }

    let q = spec.queues;
    for (a_ns, a, ai, b_ns, b, bi) in [
        (src, SRC0, SRC0_IFINDEX, dut, DUT0, DUT0_IFINDEX),
        (dut, DUT1, DUT1_IFINDEX, dst, DST0, DST0_IFINDEX),
    ] {
        // Both ends are born in their namespaces; none passes through the
        // root one. Distinct ifindexes: see SRC0_IFINDEX.
        let args = format!(
            "link add {a} index {ai} numtxqueues {q} numrxqueues {q} \
             type veth peer name {b} netns {b_ns} index {bi} numtxqueues {q} numrxqueues {q}"
        );
        ip_in(a_ns, &args.split_whitespace().collect::<Vec<_>>())?;
    }

    let ifaces = [
        (src, SRC0, SRC0_V4, SRC0_V6),
        (dut, DUT0, DUT0_V4, DUT0_V6),
        (dut, DUT1, DUT1_V4, DUT1_V6),
        (dst, DST0, DST0_V4, DST0_V6),
    ];
    for (ns, ifname, v4, v6) in ifaces {
        exec_in(ns, &["ethtool", "-K", ifname, "tx", "off"])?;
        if spec.mtu != DEFAULT_MTU {
            ip_in(ns, &["link", "set", ifname, "mtu", &spec.mtu.to_string()])?;
        }
        let v4 = format!("{v4}/{V4_PREFIX_LEN}");
        let v6 = format!("{v6}/{V6_PREFIX_LEN}");
        ip_in(ns, &["addr", "add", &v4, "dev", ifname])?;
        ip_in(ns, &["-6", "addr", "add", &v6, "dev", ifname, "nodad"])?;
        ip_in(ns, &["link", "set", ifname, "up"])?;
    }

    for (ns, gw4, gw6) in [(src, DUT0_V4, DUT0_V6), (dst, DUT1_V4, DUT1_V6)] {
        ip_in(ns, &["route", "add", "default", "via", &gw4.to_string()])?;
        ip_in(
            ns,
            &["-6", "route", "add", "default", "via", &gw6.to_string()],
        )?;
    }

    let mac = |ns: &str, ifname: &'static str| -> Result<[u8; 6]> {
        netns::in_netns(ns, move || netns::mac_of(ifname))?
            .with_context(|| format!("reading the MAC of {ifname} in {ns}"))
    };
    let (src0, dut0, dut1, dst0) = (
        mac(src, SRC0)?,
        mac(dut, DUT0)?,
        mac(dut, DUT1)?,
        mac(dst, DST0)?,
    );
    let neighbours: [(&str, &str, IpAddr, IpAddr, [u8; 6]); 4] = [
        (src, SRC0, DUT0_V4.into(), DUT0_V6.into(), dut0),
        (dut, DUT0, SRC0_V4.into(), SRC0_V6.into(), src0),
        (dut, DUT1, DST0_V4.into(), DST0_V6.into(), dst0),
        (dst, DST0, DUT1_V4.into(), DUT1_V6.into(), dut1),
    ];
    for (ns, ifname, v4, v6, lladdr) in neighbours {
        permanent_neighbours(ns, ifname, &[v4, v6], &Mac(lladdr).to_string())?;
    }

    if let Some(attach) = &spec.attach_peer_xdp {
        for (ns, ifname) in [(src, SRC0), (dst, DST0)] {
            attach(ns, ifname)
                .with_context(|| format!("attaching the peer XDP program to {ifname} in {ns}"))?;
        }
    }

    // Carrier comes up through the kernel's linkwatch, up to ~1 s after
    // `link set up`, and only then are the MLD reports for the solicited-node
    // groups sent (twice, 1 ms apart with the sysctls above). Waiting here
    // means the lab is usable and quiet when `up` returns.
    for (ns, ifname) in [(src, SRC0), (dut, DUT0), (dut, DUT1), (dst, DST0)] {
        wait_running(ns, ifname)?;
    }
    std::thread::sleep(SETTLE);
    Ok(())
}

/// `ip neigh replace ADDR lladdr MAC dev IFNAME nud permanent` in `ns`
/// for every address.
fn permanent_neighbours(ns: &str, ifname: &str, addrs: &[IpAddr], mac: &str) -> Result<()> {
    for addr in addrs {
        let addr = addr.to_string();
        ip_in(
            ns,
            &[
                "neigh",
                "replace",
                &addr,
                "lladdr",
                mac,
                "dev",
                ifname,
                "nud",
                "permanent",
            ],
        )?;
    }
    Ok(())
}

/// How long to wait for an interface to become operationally up.
const CARRIER_TIMEOUT: Duration = Duration::from_secs(5);
/// Pause after all interfaces are up, for the last MLD report to go out.
const SETTLE: Duration = Duration::from_millis(20);

/// Waits (bounded) until `ifname` in `ns` is running (carrier, operstate up).
fn wait_running(ns: &str, ifname: &'static str) -> Result<()> {
    let deadline = Instant::now() + CARRIER_TIMEOUT;
    loop {
        if netns::in_netns(ns, move || netns::is_running(ifname))?? {
            return Ok(());
        }
        if Instant::now() >= deadline {
            bail!("{ifname} in {ns} not running after {CARRIER_TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Reads the facts of an existing lab.
fn read_info(prefix: &str) -> Result<LabInfo> {
    let [src, dut, dst] = ns_names(prefix);
    let (dut0_mac, dut1_mac, queues, mtu) = netns::in_netns(&dut, || -> Result<_> {
        Ok((
            netns::mac_of(DUT0)?,
            netns::mac_of(DUT1)?,
            netns::num_rx_queues(DUT0)?,
            netns::mtu_of(DUT0)?,
        ))
    })?
    .with_context(|| format!("reading interfaces of {dut}"))?;
    let src0_mac = netns::in_netns(&src, || netns::mac_of(SRC0))?
        .with_context(|| format!("reading interfaces of {src}"))?;
    let dst0_mac = netns::in_netns(&dst, || netns::mac_of(DST0))?
        .with_context(|| format!("reading interfaces of {dst}"))?;
    let iface = |ns: &str, name: &str, mac, ipv4, ipv6| LabIface {
        netns: ns.to_string(),
        name: name.to_string(),
        mac,
        ipv4,
        ipv6,
    };
    Ok(LabInfo {
        prefix: prefix.to_string(),
        queues,
        mtu,
        src0: iface(&src, SRC0, src0_mac, SRC0_V4, SRC0_V6),
        dut0: iface(&dut, DUT0, dut0_mac, DUT0_V4, DUT0_V6),
        dut1: iface(&dut, DUT1, dut1_mac, DUT1_V4, DUT1_V6),
        dst0: iface(&dst, DST0, dst0_mac, DST0_V4, DST0_V6),
    })
}

/// `ip -n NS ARGS...`
fn ip_in(ns: &str, args: &[&str]) -> Result<String> {
    let mut all = vec!["-n", ns];
    all.extend_from_slice(args);
    run("ip", &all)
}

/// `ip netns exec NS ARGS...`
fn exec_in(ns: &str, args: &[&str]) -> Result<String> {
    let mut all = vec!["netns", "exec", ns];
    all.extend_from_slice(args);
    run("ip", &all)
}

/// Runs a command to completion; any failure names the command line and
/// carries its stderr.
fn run(program: &str, args: &[&str]) -> Result<String> {
    let cmdline = std::iter::once(program)
        .chain(args.iter().copied())
        .collect::<Vec<_>>()
        .join(" ");
    let out = Command::new(program).args(args).output().with_context(|| {
        format!("starting `{cmdline}` (is it installed? see scripts/install-deps.sh)")
    })?;
    if !out.status.success() {
        bail!(
            "`{cmdline}` failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Sets the MTU of every veth of a running lab (`MIN_MTU..=MAX_MTU`), so
/// one lab can carry jumbo frames in one trial and stay at a plain MTU in
/// the next (xskfwd refuses ports whose MTU does not fit its frames). Every
/// XDP program the lab tools put on a veth accepts multi-buffer frames
/// (`xdp.frags`), which is what lets the MTU rise above a page with them
/// attached. `info.mtu` is the caller's to update.
pub fn set_mtu(info: &LabInfo, mtu: u32) -> Result<()> {
    if !(MIN_MTU..=MAX_MTU).contains(&mtu) {
        bail!("the lab MTU must be in {MIN_MTU}..={MAX_MTU}, got {mtu}");
    }
    let m = mtu.to_string();
    for (ns, ifname) in [
        (info.src_ns(), SRC0),
        (info.dut_ns(), DUT0),
        (info.dut_ns(), DUT1),
        (info.dst_ns(), DST0),
    ] {
        ip_in(ns, &["link", "set", ifname, "mtu", &m])
            .with_context(|| format!("setting the MTU of {ifname} to {mtu}"))?;
    }
    Ok(())
}

/// Plugs the dut1 ↔ dst0 cable back in after a test deleted it: the pair
/// is created again with the MACs, addresses, routes, permanent
/// neighbours and offload settings it had (so `info` stays true), and
/// `attach` runs on dst0 as [`LabSpec::attach_peer_xdp`] did. The indexes
/// are new ones (the kernel's choice).
pub fn replug_dut1(info: &LabInfo, attach: Option<&AttachPeerXdp>) -> Result<()> {
    let (dut, dst) = (info.dut_ns(), info.dst_ns());
    let q = info.queues.to_string();
    let (dut1_mac, dst0_mac) = (
        Mac(info.dut1.mac).to_string(),
        Mac(info.dst0.mac).to_string(),
    );
    ip_in(
        dut,
        &[
            "link",
            "add",
            DUT1,
            "address",
            &dut1_mac,
            "numtxqueues",
            &q,
            "numrxqueues",
            &q,
            "type",
            "veth",
            "peer",
            "name",
            DST0,
            "netns",
            dst,
            "address",
            &dst0_mac,
            "numtxqueues",
            &q,
            "numrxqueues",
            &q,
        ],
    )?;
    for (ns, ifname, v4, v6) in [(dut, DUT1, DUT1_V4, DUT1_V6), (dst, DST0, DST0_V4, DST0_V6)] {
        exec_in(ns, &["ethtool", "-K", ifname, "tx", "off"])?;
        if info.mtu != DEFAULT_MTU {
            ip_in(ns, &["link", "set", ifname, "mtu", &info.mtu.to_string()])?;
        }
        ip_in(
            ns,
            &[
                "addr",
                "add",
                &format!("{v4}/{V4_PREFIX_LEN}"),
                "dev",
                ifname,
            ],
        )?;
        let v6 = format!("{v6}/{V6_PREFIX_LEN}");
        ip_in(ns, &["-6", "addr", "add", &v6, "dev", ifname, "nodad"])?;
        ip_in(ns, &["link", "set", ifname, "up"])?;
    }
    ip_in(
        dst,
        &["route", "replace", "default", "via", &DUT1_V4.to_string()],
    )?;
    ip_in(
        dst,
        &[
            "-6",
            "route",
            "replace",
            "default",
            "via",
            &DUT1_V6.to_string(),
        ],
    )?;
    for (ns, ifname, v4, v6, mac) in [
        (dut, DUT1, DST0_V4, DST0_V6, &dst0_mac),
        (dst, DST0, DUT1_V4, DUT1_V6, &dut1_mac),
    ] {
        permanent_neighbours(ns, ifname, &[v4.into(), v6.into()], mac)?;
    }
    if let Some(attach) = attach {
        attach(dst, DST0).context("attaching the peer XDP program to dst0 again")?;
    }
    for (ns, ifname) in [(dut, DUT1), (dst, DST0)] {
        wait_running(ns, ifname)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::traffic::{self, Receiver, RecvLimits, SendLimits, Sender};
    use std::collections::BTreeSet;

    #[test]
    fn unique_prefixes_differ_and_make_valid_names() {
        let a = unique_prefix("Some Tag!");
        let b = unique_prefix("Some Tag!");
        assert_ne!(a, b);
        assert!(a.starts_with("xf-sometag-"), "{a}");
        let long = unique_prefix(&"x".repeat(100));
        for p in [&a, &b, &long] {
            validate_prefix(p).unwrap();
            for n in ns_names(p) {
                netns::validate_netns_name(&n).unwrap();
            }
        }
        assert!(unique_prefix("").starts_with("xf-lab-"));
    }

    #[test]
    fn bad_prefixes_and_specs_are_errors() {
        for bad in [
            "",
            "-x",
            "a/b",
            "a b",
            "a.b",
            &"p".repeat(MAX_PREFIX_LEN + 1),
        ] {
            assert!(validate_prefix(bad).is_err(), "{bad:?}");
            assert!(down(bad).is_err());
            assert!(status(bad).is_err());
        }
        assert!(Lab::up(LabSpec::new("xf-bad").queues(0)).is_err());
        assert!(Lab::up(LabSpec::new("xf-bad").queues(MAX_QUEUES + 1)).is_err());
        // Absent labs: down is a no-op, status says none.
        let p = unique_prefix("absent");
        down(&p).unwrap();
        assert_eq!(status(&p).unwrap(), None);
    }

    #[test]
    fn failed_commands_report_command_line_and_stderr() {
        let err = run("ip", &["link", "show", "dev", "xfnosuchif0"]).unwrap_err();
        let msg = format!("{err:#}");
        assert!(msg.contains("ip link show dev xfnosuchif0"), "{msg}");
        assert!(
            msg.contains("xfnosuchif0\""),
            "stderr should be included: {msg}"
        );
    }

    fn is_root() -> bool {
        xskfwd::privileges::is_root()
    }

    #[test]
    fn half_built_lab_is_removed() {
        if !is_root() {
            eprintln!("skipped: needs root");
            return;
        }
        let prefix = unique_prefix("fail");
        let spec = LabSpec::new(prefix.clone()).attach_peer_xdp(|_, _| bail!("refused on purpose"));
        let err = Lab::up(spec).unwrap_err();
        assert!(format!("{err:#}").contains("refused on purpose"), "{err:#}");
        for n in ns_names(&prefix) {
            assert!(!netns::netns_exists(&n), "{n} left behind");
        }
    }

    #[test]
    fn kernel_forwards_through_the_lab() {
        if !is_root() {
            eprintln!("skipped: needs root");
            return;
        }
        const N: u64 = 1000;
        let prefix = unique_prefix("fwd");
        let calls = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let seen = calls.clone();
        let spec = LabSpec::new(prefix.clone())
            .queues(2)
            .attach_peer_xdp(move |ns, ifname| {
                seen.lock()
                    .map_err(|_| anyhow::anyhow!("poisoned"))?
                    .push(format!("{ns}/{ifname}"));
                Ok(())
            });
        let lab = Lab::up(spec).unwrap();
        let info = lab.info().clone();
        assert_eq!(
            *calls.lock().unwrap(),
            [format!("{prefix}-src/src0"), format!("{prefix}-dst/dst0")]
        );

        // Namespaces and interfaces exist, status agrees with up.
        assert_eq!(info.queues, 2);
        for ns in info.namespaces() {
            assert!(netns::netns_exists(ns), "{ns}");
        }
        for ifc in [&info.src0, &info.dut0, &info.dut1, &info.dst0] {
            let name = ifc.name.clone();
            let idx = netns::in_netns(&ifc.netns, move || netns::ifindex(&name))
                .unwrap()
                .unwrap();
            assert!(idx > 1);
        }
        assert_eq!(status(&prefix).unwrap().as_ref(), Some(&info));
        let shown = info.to_string();
        assert!(shown.contains(&Mac(info.dut1.mac).to_string()), "{shown}");
        eprintln!("{shown}");

        for v6 in [false, true] {
            let sent_spec = info.udp_spec(v6, 128);
            let want_spec = info.routed(&sent_spec).unwrap();
            let frames = traffic::build_frames(&sent_spec, N).unwrap();
            let rx = Receiver::new(info.dst_ns(), DST0).unwrap();
            let tx = Sender::new(info.src_ns(), SRC0).unwrap();
            let report = tx
                .send(
                    &frames,
                    SendLimits::new(N, Duration::from_secs(10)).rate(200_000),
                )
                .unwrap();
            assert_eq!(report.sent, N, "{report:?}");
            let got = rx
                .recv_ours(RecvLimits::new(N as usize, Duration::from_secs(10)))
                .unwrap();
            assert_eq!(got.frames.len() as u64, N, "v6={v6}: {got:?}");
            let mut seqs = BTreeSet::new();
            for frame in &got.frames {
                let seq = traffic::verify_frame(frame).unwrap();
                assert!(seqs.insert(seq), "duplicate {seq}");
                let want = traffic::build_frame(&want_spec, seq).unwrap();
                assert_eq!(frame, &want, "v6={v6} seq {seq}");
            }
            assert_eq!(seqs.len() as u64, N);
            assert_eq!(seqs.last().copied(), Some(N - 1));
        }

        drop(lab);
        for ns in info.namespaces() {
            assert!(!netns::netns_exists(ns), "{ns} still exists");
        }
        assert_eq!(status(&prefix).unwrap(), None);
        down(&prefix).unwrap();
    }

    #[test]
    fn leaked_lab_survives_until_down() {
        if !is_root() {
            eprintln!("skipped: needs root");
            return;
        }
        let prefix = unique_prefix("leak");
        let info = Lab::up(LabSpec::new(prefix.clone())).unwrap().leak();
        let still = status(&prefix);
        let again = Lab::up(LabSpec::new(prefix.clone()));
        let broken = del_netns(info.dut_ns()).and_then(|()| status(&prefix));
        down(&prefix).unwrap();
        let err = broken.unwrap_err();
        assert!(format!("{err:#}").contains("incomplete"), "{err:#}");
        assert_eq!(still.unwrap().as_ref(), Some(&info));
        assert!(
            again.is_err(),
            "a second lab with the same prefix must be refused"
        );
        assert_eq!(status(&prefix).unwrap(), None);
        down(&prefix).unwrap();
    }
}
