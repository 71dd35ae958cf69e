//! End-to-end tests of the L3 router mode: the real xskfwd binary routing
//! between the network namespaces of a throwaway veth lab, checked against
//! the Linux kernel's own forwarding in the same lab. Root only (they skip,
//! saying so, otherwise). Every lab and extra namespace has a unique name
//! and is removed on drop (also on panic); every xskfwd child is killed on
//! drop; all traffic is bounded in packets and time and stays inside the
//! namespaces created here, with addresses in 198.18.0.0/15 and fd00::/8.

mod common;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, UdpSocket};
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

use common::*;
use etherparse::PacketBuilder;
use serde_json::Value;
use xskfwd::config::Mac;
use xskfwd::netns;
use xskfwd_lab::lab::LabInfo;
use xskfwd_lab::traffic::{self, FrameSpec, Receiver, RecvLimits, SendLimits, Sender, MAGIC};

// ---------------------------------------------------------------------------
// Small helpers: commands in namespaces, JSON rows, raw header fields.

fn mac_in(ns: &str, ifname: &str) -> [u8; 6] {
    let name = ifname.to_string();
    netns::in_netns(ns, move || netns::mac_of(&name))
        .expect("enter namespace")
        .expect("read MAC")
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

/// The summary's XDP counters of `ifname`.
fn xdp_row<'a>(summary: &'a Value, ifname: &str) -> &'a Value {
    summary["xdp"]
        .as_array()
        .expect("xdp array")
        .iter()
        .find(|r| r["ifname"] == ifname)
        .unwrap_or_else(|| panic!("no xdp row for {ifname}: {summary}"))
}

/// One XDP counter of `ifname` (panics if absent, so a renamed counter
/// fails the test instead of reading as zero).
fn xdp(summary: &Value, ifname: &str, counter: &str) -> u64 {
    xdp_row(summary, ifname)[counter]
        .as_u64()
        .unwrap_or_else(|| panic!("no xdp counter {counter} for {ifname}: {summary}"))
}

/// A per-port counter of `ifname`, summed over its queues.
fn port_count(summary: &Value, ifname: &str, counter: &str) -> u64 {
    let rows: Vec<&Value> = summary["ports"]
        .as_array()
        .expect("ports array")
        .iter()
        .filter(|r| r["ifname"] == ifname)
        .collect();
    assert!(!rows.is_empty(), "no port row for {ifname}: {summary}");
    rows.iter()
        .map(|r| {
            r[counter]
                .as_u64()
                .unwrap_or_else(|| panic!("no {counter} in {r}"))
        })
        .sum()
}

/// Drop reasons with a non-zero count, other than those in `allowed`.
fn unexpected_drops(summary: &Value, allowed: &[&str]) -> Vec<(String, u64)> {
    summary["drops"]
        .as_object()
        .expect("drops object")
        .iter()
        .filter(|(k, v)| !allowed.contains(&k.as_str()) && v.as_u64() != Some(0))
        .map(|(k, v)| (k.clone(), v.as_u64().unwrap_or(u64::MAX)))
        .collect()
}

/// Ethernet type, IP protocol / next header, TTL / hop limit and L4 offset
/// of an untagged IPv4 or IPv6 frame (IPv6 without extension headers).
#[derive(Debug, Clone, Copy)]
struct Hdr {
    v6: bool,
    proto: u8,
    ttl: u8,
    l4: usize,
}

fn hdr(f: &[u8]) -> Option<Hdr> {
    match u16::from_be_bytes([*f.get(12)?, *f.get(13)?]) {
        0x0800 if f.len() >= 34 => {
            let ihl = usize::from(f[14] & 0x0f) * 4;
            Some(Hdr {
                v6: false,
                proto: f[23],
                ttl: f[22],
                l4: 14 + ihl,
            })
        }
        0x86dd if f.len() >= 54 => Some(Hdr {
            v6: true,
            proto: f[20],
            ttl: f[21],
            l4: 54,
        }),
        _ => None,
    }
}

/// ICMP / ICMPv6 (type, code) of a frame, if it is one.
fn icmp_type(f: &[u8]) -> Option<(u8, u8)> {
    let h = hdr(f)?;
    let is_icmp = (!h.v6 && h.proto == 1) || (h.v6 && h.proto == 58);
    if !is_icmp || f.len() < h.l4 + 2 {
        return None;
    }
    Some((f[h.l4], f[h.l4 + 1]))
}

/// IPv4 or IPv6, but not the neighbour discovery / MLD chatter of the veths
/// (ICMPv6 types 130..=143) and not ARP: everything else that arrives is
/// compared.
fn is_ip_not_ndp(f: &[u8]) -> bool {
    match hdr(f) {
        Some(h) if h.v6 && h.proto == 58 => !matches!(icmp_type(f), Some((130..=143, _))),
        Some(_) => true,
        None => false,
    }
}

/// RFC 1071 sum over `data`, folded (not inverted).
fn ones_sum(data: &[u8]) -> u16 {
    let mut sum: u64 = data
        .chunks(2)
        .map(|c| u64::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    sum as u16
}

/// Whether an IPv4 frame's header checksum is right (true for IPv6).
fn ipv4_header_ok(f: &[u8]) -> bool {
    match hdr(f) {
        Some(h) if !h.v6 => f.len() >= h.l4 && ones_sum(&f[14..h.l4]) == 0xffff,
        _ => true,
    }
}

/// The id our frames carry (`MAGIC` + u64 after it), wherever it is: in a
/// UDP payload, an echo payload, or the packet quoted by an ICMP error.
fn tag_of(f: &[u8]) -> Option<u64> {
    let at = f.get(14..)?.windows(MAGIC.len()).position(|w| w == MAGIC)? + 14 + MAGIC.len();
    Some(u64::from_be_bytes(f.get(at..at + 8)?.try_into().ok()?))
}

/// `MAGIC | id | pattern` of `len` bytes (at least 12).
fn tagged_payload(id: u64, len: usize) -> Vec<u8> {
    let mut p = Vec::with_capacity(len);
    p.extend_from_slice(&MAGIC);
    p.extend_from_slice(&id.to_be_bytes());
    p.extend((0..len.saturating_sub(p.len())).map(|i| traffic::pattern_byte(id, i)));
    p
}

/// A one-line description of a frame for failure messages.
fn describe(f: &[u8]) -> String {
    let Some(h) = hdr(f) else {
        return format!("non-IP frame of {} bytes", f.len());
    };
    let fam = if h.v6 { "IPv6" } else { "IPv4" };
    let what = match icmp_type(f) {
        Some((t, c)) => format!("ICMP type {t} code {c}"),
        None if h.proto == 17 => "UDP".to_string(),
        None => format!("protocol {}", h.proto),
    };
    format!(
        "{fam} {what}, {} bytes, ttl {}, id {:?}",
        f.len(),
        h.ttl,
        tag_of(f)
    )
}

/// Offsets where `a` and `b` differ (first few) for failure messages.
fn diff(a: &[u8], b: &[u8]) -> String {
    if a.len() != b.len() {
        return format!("lengths {} vs {}", a.len(), b.len());
    }
    let d: Vec<String> = (0..a.len())
        .filter(|&i| a[i] != b[i])
        .take(12)
        .map(|i| format!("@{i}: {:02x}->{:02x}", a[i], b[i]))
        .collect();
    d.join(" ")
}

/// A network namespace this test created (beyond the lab's); deleted on
/// drop, also when the test panics.
struct NetnsGuard(String);

impl NetnsGuard {
    fn add(name: &str) -> NetnsGuard {
        assert!(!netns::netns_exists(name), "{name} exists already");
        sh("ip", &["netns", "add", name]);
        NetnsGuard(name.to_string())
    }
}

impl Drop for NetnsGuard {
    fn drop(&mut self) {
        if netns::netns_exists(&self.0) {
            let ok = Command::new("ip")
                .args(["netns", "del", &self.0])
                .status()
                .map(|s| s.success())
                .unwrap_or(false);
            if !ok {
                eprintln!("warning: could not delete network namespace {}", self.0);
            }
        }
    }
}

/// Waits (bounded) until `ifname` in `ns` has carrier and is up.
fn wait_running(ns: &str, ifname: &str) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let name = ifname.to_string();
        if netns::in_netns(ns, move || netns::is_running(&name))
            .expect("enter namespace")
            .expect("link state")
        {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{ifname} in {ns} is not running after 5 s"
        );
        thread::sleep(Duration::from_millis(5));
    }
}

/// Attaches the lab's pass-everything XDP program to `ifname` in `ns`, as
/// the lab does for src0/dst0 (a veth accepts frames its peer redirects
/// with XDP only when it runs an XDP program itself). It goes away with
/// the namespace.
fn attach_pass(ns: &str, ifname: &str) {
    let name = ifname.to_string();
    netns::in_netns(ns, move || -> anyhow::Result<()> {
        let idx = netns::ifindex(&name)?;
        xskfwd::bpf::attach_persistent(idx, xskfwd::bpf::Builtin::Pass)?;
        Ok(())
    })
    .expect("enter namespace")
    .expect("attach the pass program");
}

/// A UDP socket on port 9 inside `ns`, dual-stack (`[::]:9` with the
/// default `bindv6only=0` also takes IPv4): the host then never answers our
/// UDP with ICMP port unreachable, whatever its ICMP budget, so what comes
/// back to src0 depends on the dut alone.
fn udp_sink(ns: &str) -> UdpSocket {
    netns::in_netns(ns, || UdpSocket::bind("[::]:9"))
        .expect("enter namespace")
        .expect("bind a UDP sink on [::]:9")
}

// ---------------------------------------------------------------------------
// 1. The kernel is the oracle.

/// What a frame of the fixed set is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// UDP to dst0: forwarded with TTL >= 2, Time Exceeded with TTL 1.
    Transit,
    /// UDP to one of the dut's own addresses (dut0's or dut1's).
    Local,
    /// UDP to an address the dut has no route for.
    Unrouted,
    /// ICMP / ICMPv6 echo request to dst0.
    Echo,
    /// IPv4 UDP to dst0 from one of the dut's own addresses: a martian
    /// source the kernel drops without a word (accept_local = 0).
    OwnSource,
}

#[derive(Debug, Clone)]
struct Probe {
    id: u64,
    kind: Kind,
    v6: bool,
    ttl: u8,
    frame: Vec<u8>,
}

const UNROUTED_V4: Ipv4Addr = Ipv4Addr::new(198, 19, 200, 1);
/// An address of the dut's loopback interface (a source the kernel
/// refuses like the ports' own).
const DUT_LO_V4: Ipv4Addr = Ipv4Addr::new(198, 18, 99, 1);
const UNROUTED_V6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0, 0, 0x99, 0, 0, 0, 1);
const TTLS: [u8; 3] = [1, 2, 64];
const SIZES_V4: [usize; 6] = [60, 64, 78, 128, 512, 1514];
const SIZES_V6: [usize; 5] = [74, 78, 128, 512, 1514];
/// First source address of the unrouted IPv4 frames, which each come from
/// their own address (198.18.0.100, .101, ...; the dut has static
/// neighbour entries for them pointing at src0). The kernel answers an
/// unrouted IPv4 packet from `ip_error`, which rate-limits with a token
/// bucket per source address (`net.ipv4.route.error_cost` 1 s per message,
/// `error_burst` 5 s; root-namespace-only sysctls, which the tests must not
/// touch). That bucket is the same per-host `inet_peer` state ICMP's own
/// rate limiter uses, and with `icmp_ratelimit=0` every other ICMP error to
/// a host empties it: errors to src0's own address (time exceeded, port
/// unreachable) would leave `ip_error` nothing, depending on timing. A
/// fresh address per frame starts with a full bucket and uses one token
/// per run, so every unrouted IPv4 frame is answered in both runs.
const UNROUTED_V4_SRC_BASE: u8 = 100;
const ECHO_SIZES_V4: [usize; 3] = [64, 512, 1514];
const ECHO_SIZES_V6: [usize; 3] = [78, 512, 1514];
const ECHO_ID: u16 = 0x5846;
/// One frame every 2 ms.
const PACE_PPS: u64 = 500;

fn echo_request(
    (src_mac, dst_mac): ([u8; 6], [u8; 6]),
    (src, dst): (IpAddr, IpAddr),
    ttl: u8,
    id: u64,
    frame_len: usize,
) -> Vec<u8> {
    let eth = PacketBuilder::ethernet2(src_mac, dst_mac);
    let mut out = Vec::with_capacity(frame_len);
    let written = match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            let payload = tagged_payload(id, frame_len - 14 - 20 - 8);
            eth.ipv4(s.octets(), d.octets(), ttl)
                .icmpv4_echo_request(ECHO_ID, id as u16)
                .write(&mut out, &payload)
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            let payload = tagged_payload(id, frame_len - 14 - 40 - 8);
            eth.ipv6(s.octets(), d.octets(), ttl)
                .icmpv6_echo_request(ECHO_ID, id as u16)
                .write(&mut out, &payload)
        }
        _ => panic!("mixed families"),
    };
    written.expect("building an echo request");
    assert_eq!(out.len(), frame_len);
    out
}

/// Source addresses of the unrouted IPv4 frames: see
/// [`UNROUTED_V4_SRC_BASE`].
fn unrouted_v4_sources() -> impl Iterator<Item = IpAddr> {
    (UNROUTED_V4_SRC_BASE..=u8::MAX).map(|i| IpAddr::V4(Ipv4Addr::new(198, 18, 0, i)))
}

/// The fixed set of frames both runs send, each with a unique id.
fn probe_set(info: &LabInfo) -> Vec<Probe> {
    let mut out = Vec::new();
    let mut id = 0u64;
    let macs = (info.src0.mac, info.dut0.mac);
    let mut unrouted_v4_srcs = unrouted_v4_sources();
    for v6 in [false, true] {
        let (src, dst, dut0, dut1, unrouted): (IpAddr, IpAddr, IpAddr, IpAddr, IpAddr) = if v6 {
            (
                info.src0.ipv6.into(),
                info.dst0.ipv6.into(),
                info.dut0.ipv6.into(),
                info.dut1.ipv6.into(),
                UNROUTED_V6.into(),
            )
        } else {
            (
                info.src0.ipv4.into(),
                info.dst0.ipv4.into(),
                info.dut0.ipv4.into(),
                info.dut1.ipv4.into(),
                UNROUTED_V4.into(),
            )
        };
        let sizes: &[usize] = if v6 { &SIZES_V6 } else { &SIZES_V4 };
        for ttl in TTLS {
            for &len in sizes {
                for (kind, to) in [
                    (Kind::Transit, dst),
                    (Kind::Local, dut0),
                    (Kind::Local, dut1),
                    (Kind::Unrouted, unrouted),
                ] {
                    let from = if kind == Kind::Unrouted && !v6 {
                        unrouted_v4_srcs.next().expect("enough source addresses")
                    } else {
                        src
                    };
                    let spec = FrameSpec {
                        ttl,
                        ..FrameSpec::udp(macs.0, macs.1, from, to, len)
                    };
                    out.push(Probe {
                        id,
                        kind,
                        v6,
                        ttl,
                        frame: traffic::build_frame(&spec, id).expect("frame"),
                    });
                    id += 1;
                }
            }
        }
        if !v6 {
            for from in [dut0, dut1, IpAddr::V4(DUT_LO_V4)] {
                for ttl in [1, 64] {
                    let spec = FrameSpec {
                        ttl,
                        ..FrameSpec::udp(macs.0, macs.1, from, dst, 128)
                    };
                    out.push(Probe {
                        id,
                        kind: Kind::OwnSource,
                        v6,
                        ttl,
                        frame: traffic::build_frame(&spec, id).expect("frame"),
                    });
                    id += 1;
                }
            }
        }
        let echo_sizes: &[usize] = if v6 { &ECHO_SIZES_V6 } else { &ECHO_SIZES_V4 };
        for &len in echo_sizes {
            out.push(Probe {
                id,
                kind: Kind::Echo,
                v6,
                ttl: 64,
                frame: echo_request(macs, (src, dst), 64, id, len),
            });
            id += 1;
        }
    }
    out
}

/// What one run saw.
struct Capture {
    /// Frames received on dst0 (in the dst namespace).
    at_dst: Vec<Vec<u8>>,
    /// Frames received on src0 (incoming only: the receiver ignores what
    /// our sender emits, PACKET_OUTGOING).
    at_src: Vec<Vec<u8>>,
}

/// Sends the set from src0, paced, then collects what arrived on dst0 and
/// src0 until both have been idle for a second (bounded).
fn run_probes(info: &LabInfo, probes: &[Probe]) -> Capture {
    let rx_dst = Receiver::new(info.dst_ns(), "dst0").expect("receiver on dst0");
    let rx_src = Receiver::new(info.src_ns(), "src0").expect("receiver on src0");
    let tx = Sender::new(info.src_ns(), "src0").expect("sender on src0");
    let frames: Vec<Vec<u8>> = probes.iter().map(|p| p.frame.clone()).collect();
    let n = frames.len() as u64;
    let report = tx
        .send(
            &frames,
            SendLimits::new(n, Duration::from_secs(20)).rate(PACE_PPS),
        )
        .expect("send");
    assert_eq!(report.sent, n, "the sender was bounded by time, not count");
    // Both sockets queued everything meanwhile (64 MiB buffers); read it
    // and wait for stragglers.
    let limits =
        RecvLimits::new(20 * probes.len(), Duration::from_secs(10)).idle(Duration::from_secs(1));
    let dst = rx_dst.recv_until(limits, is_ip_not_ndp).expect("receive");
    let src = rx_src.recv_until(limits, is_ip_not_ndp).expect("receive");
    assert_eq!(dst.kernel_drops + src.kernel_drops, 0, "receiver overrun");
    eprintln!(
        "  sent {n}; dst0 kept {} (skipped {} other), src0 kept {} (skipped {} other)",
        dst.frames.len(),
        dst.skipped,
        src.frames.len(),
        src.skipped
    );
    Capture {
        at_dst: dst.frames,
        at_src: src.frames,
    }
}

/// Frames by id (None: carries no id), each group sorted: a multiset.
/// With `kernel_ids`, IPv4 ICMP errors and echo replies — packets the
/// kernel originated, not our sender — get their IP identification and
/// header checksum zeroed: the kernel picks IP IDs randomly (per
/// destination, advancing), so those two fields legitimately differ
/// between runs. Nothing else is touched, in particular not the packet
/// quoted inside an ICMP error.
fn multiset(frames: &[Vec<u8>], kernel_ids: bool) -> BTreeMap<Option<u64>, Vec<Vec<u8>>> {
    let mut m: BTreeMap<Option<u64>, Vec<Vec<u8>>> = BTreeMap::new();
    for f in frames {
        let mut f = f.clone();
        let kernel_v4 = matches!(hdr(&f), Some(h) if !h.v6)
            && matches!(icmp_type(&f), Some((0 | 3 | 11 | 12, _)));
        if kernel_ids && kernel_v4 {
            f[18..20].fill(0); // identification
            f[24..26].fill(0); // header checksum
        }
        m.entry(tag_of(&f)).or_default().push(f);
    }
    for v in m.values_mut() {
        v.sort();
    }
    m
}

/// Differences between the kernel's run (A) and xskfwd's (B) at one place.
fn compare(place: &str, a: &[Vec<u8>], b: &[Vec<u8>], kernel_ids: bool) -> Vec<String> {
    let (ma, mb) = (multiset(a, kernel_ids), multiset(b, kernel_ids));
    let ids: BTreeSet<&Option<u64>> = ma.keys().chain(mb.keys()).collect();
    let empty = Vec::new();
    let mut out = Vec::new();
    for id in ids {
        let (fa, fb) = (ma.get(id).unwrap_or(&empty), mb.get(id).unwrap_or(&empty));
        if fa == fb {
            continue;
        }
        let mut msg = format!(
            "{place}, id {id:?}: kernel {} frame(s), xskfwd {} frame(s)",
            fa.len(),
            fb.len()
        );
        for f in fa.iter().filter(|f| !fb.contains(f)) {
            msg += &format!("\n    only with the kernel: {}", describe(f));
        }
        for f in fb.iter().filter(|f| !fa.contains(f)) {
            msg += &format!("\n    only with xskfwd:     {}", describe(f));
            if let Some(k) = fa.iter().find(|k| k.len() == f.len()) {
                msg += &format!("\n      bytes kernel->xskfwd: {}", diff(k, f));
            }
        }
        out.push(msg);
    }
    out
}

/// Checks that run A (the kernel alone) shows every category, so the
/// comparison cannot pass vacuously.
fn check_reference(info: &LabInfo, probes: &[Probe], a: &Capture) {
    let at_dst: HashMap<u64, Vec<&Vec<u8>>> = group(&a.at_dst);
    let at_src: HashMap<u64, Vec<&Vec<u8>>> = group(&a.at_src);
    let mut problems = Vec::new();
    for p in probes {
        let fam = if p.v6 { "IPv6" } else { "IPv4" };
        let d = at_dst.get(&p.id).map_or(&[][..], |v| &v[..]);
        let s = at_src.get(&p.id).map_or(&[][..], |v| &v[..]);
        let types: Vec<Option<(u8, u8)>> = s.iter().map(|f| icmp_type(f)).collect();
        let want = |ok: bool, what: &str| {
            if ok {
                None
            } else {
                Some(format!(
                    "id {} ({fam} {:?} ttl {}): expected {what}; dst0 got {}, src0 got {:?}",
                    p.id,
                    p.kind,
                    p.ttl,
                    d.len(),
                    types
                ))
            }
        };
        let problem = match (p.kind, p.ttl) {
            (Kind::Transit, 1) => want(
                d.is_empty() && types == [Some(if p.v6 { (3, 0) } else { (11, 0) })],
                "one ICMP time exceeded at src0 and nothing at dst0",
            ),
            (Kind::Transit, ttl) => {
                let spec = FrameSpec {
                    ttl,
                    ..info.udp_spec(p.v6, p.frame.len())
                };
                let want_frame = traffic::build_frame(&info.routed(&spec).unwrap(), p.id).unwrap();
                want(
                    d.len() == 1 && *d[0] == want_frame && s.is_empty(),
                    "exactly the routed frame at dst0 (MACs dut1->dst0, TTL - 1)",
                )
            }
            (Kind::Local, _) => want(
                d.is_empty() && types == [Some(if p.v6 { (1, 4) } else { (3, 3) })],
                "one ICMP port unreachable at src0",
            ),
            (Kind::Unrouted, _) => want(
                d.is_empty()
                    && types.len() == 1
                    && matches!(types[0], Some((t, _)) if t == if p.v6 { 1 } else { 3 }),
                "one ICMP destination unreachable at src0",
            ),
            (Kind::OwnSource, _) => want(
                d.is_empty() && s.is_empty(),
                "nothing at dst0 or src0 (the kernel drops a martian source silently)",
            ),
            (Kind::Echo, _) => {
                let reply = if p.v6 { (129, 0) } else { (0, 0) };
                want(
                    d.len() == 1
                        && hdr(d[0]).map(|h| h.ttl) == Some(63)
                        && types == [Some(reply)]
                        && s.iter().all(|f| hdr(f).map(|h| h.ttl) == Some(63)),
                    "the request at dst0 and the reply at src0, both with TTL 63",
                )
            }
        };
        problems.extend(problem);
    }
    let untagged = a
        .at_dst
        .iter()
        .chain(&a.at_src)
        .filter(|f| tag_of(f).is_none())
        .map(|f| describe(f))
        .collect::<Vec<_>>();
    assert!(
        problems.is_empty() && untagged.is_empty(),
        "the kernel (run A) did not behave as this test assumes:\n  {}\nuntagged: {untagged:?}",
        problems.join("\n  ")
    );
}

fn group(frames: &[Vec<u8>]) -> HashMap<u64, Vec<&Vec<u8>>> {
    let mut m: HashMap<u64, Vec<&Vec<u8>>> = HashMap::new();
    for f in frames {
        if let Some(id) = tag_of(f) {
            m.entry(id).or_default().push(f);
        }
    }
    m
}

#[test]
fn l3_matches_kernel_forwarding_byte_for_byte() {
    if !root_or_skip("l3_matches_kernel_forwarding_byte_for_byte") {
        return;
    }
    let lab = lab("l3oracle");
    let info = lab.info().clone();
    let dut = info.dut_ns().to_string();
    // ICMP errors are not rate limited in the dut (per-namespace sysctls),
    // except ip_error's bucket: see UNROUTED_V4_SRC_BASE.
    sysctls(
        &dut,
        &[
            "net.ipv4.icmp_ratelimit=0",
            "net.ipv6.icmp.ratelimit=0",
            "net.ipv4.icmp_msgs_per_sec=100000",
            "net.ipv4.icmp_msgs_burst=100000",
        ],
    );
    let _sink = udp_sink(info.dst_ns());
    // An address on the dut's loopback: a source the kernel refuses too.
    ip(&dut, &["link", "set", "lo", "up"]);
    ip(
        &dut,
        &["addr", "add", &format!("{DUT_LO_V4}/32"), "dev", "lo"],
    );
    let probes = probe_set(&info);
    // The extra source addresses of the unrouted IPv4 frames live behind
    // src0, like src0's own (static, so nothing is resolved with ARP).
    let extra = probes
        .iter()
        .filter(|p| p.kind == Kind::Unrouted && !p.v6)
        .count();
    for addr in unrouted_v4_sources().take(extra) {
        ip(
            &dut,
            &[
                "neigh",
                "replace",
                &addr.to_string(),
                "lladdr",
                &Mac(info.src0.mac).to_string(),
                "dev",
                "dut0",
                "nud",
                "permanent",
            ],
        );
    }
    let count = |f: &dyn Fn(&Probe) -> bool| probes.iter().filter(|p| f(p)).count() as u64;

    // Run A: the kernel forwards.
    assert_dut_clean(&dut);
    eprintln!("run A: kernel forwarding");
    let a = run_probes(&info, &probes);
    check_reference(&info, &probes, &a);

    // Run B: xskfwd forwards, the kernel handles what it passes.
    let mut args = xskfwd_lab::demo::l3_run_args(&info);
    args.extend(strings(&["--stats", "json"]));
    // dut1 is attached last: once it is, both ports forward.
    let fwd = Running::start(&args, &dut, "dut1");
    eprintln!("run B: xskfwd");
    let b = run_probes(&info, &probes);
    let summary = stop_and_summary(fwd);
    assert_dut_clean(&dut);

    // Every IPv4 header that arrived is valid (before any normalisation).
    for f in a
        .at_dst
        .iter()
        .chain(&a.at_src)
        .chain(&b.at_dst)
        .chain(&b.at_src)
    {
        assert!(
            ipv4_header_ok(f),
            "bad IPv4 header checksum: {}",
            describe(f)
        );
    }
    // Byte for byte, as multisets: what reached dst0, and what came back
    // to src0 (ICMP errors, echo replies).
    let mut diffs = compare("dst0", &a.at_dst, &b.at_dst, false);
    diffs.extend(compare("src0", &a.at_src, &b.at_src, true));
    assert!(
        diffs.is_empty(),
        "xskfwd differs from the kernel in {} place(s):\n{}",
        diffs.len(),
        diffs.join("\n")
    );

    // xskfwd, not the kernel, forwarded the transit traffic; the kernel
    // got everything else.
    let forwarded = count(&|p| p.kind == Kind::Transit && p.ttl >= 2);
    let echoes = count(&|p| p.kind == Kind::Echo);
    let expired = count(&|p| p.ttl <= 1 && p.kind != Kind::Local && p.kind != Kind::OwnSource);
    let own_source = count(&|p| p.kind == Kind::OwnSource);
    let local = count(&|p| p.kind == Kind::Local);
    let unrouted = count(&|p| p.kind == Kind::Unrouted && p.ttl >= 2);
    let redirect = xdp(&summary, "dut0", "redirect") + xdp(&summary, "dut1", "redirect");
    eprintln!(
        "xskfwd: redirect dut0 {} dut1 {}, tx {}, pass_ttl {}, pass_local {}, pass_no_route {}; \
         expected transit {} (+{echoes} echo requests, +{echoes} replies), expired {expired}, \
         local {local}, unrouted {unrouted}",
        xdp(&summary, "dut0", "redirect"),
        xdp(&summary, "dut1", "redirect"),
        summary["tx_packets"],
        xdp(&summary, "dut0", "pass_ttl"),
        xdp(&summary, "dut0", "pass_local"),
        xdp(&summary, "dut0", "pass_no_route"),
        forwarded
    );
    let transit = forwarded + 2 * echoes;
    assert!(
        redirect >= transit,
        "redirect {redirect} < {transit}: {summary}"
    );
    assert!(xdp(&summary, "dut1", "redirect") >= echoes, "{summary}");
    let tx = summary["tx_packets"].as_u64().unwrap();
    assert!(tx >= transit, "tx {tx} < {transit}: {summary}");
    assert!(
        port_count(&summary, "dut1", "tx_packets") >= forwarded + echoes,
        "{summary}"
    );
    assert!(
        port_count(&summary, "dut0", "tx_packets") >= echoes,
        "{summary}"
    );
    // The XDP program checks local addresses before the TTL, so local
    // frames with TTL 1 count as pass_local, not pass_ttl.
    assert!(xdp(&summary, "dut0", "pass_ttl") >= expired, "{summary}");
    assert!(xdp(&summary, "dut0", "pass_local") >= local, "{summary}");
    assert!(
        xdp(&summary, "dut0", "pass_no_route") >= unrouted,
        "{summary}"
    );
    // Own-address sources are checked first, whatever the TTL.
    assert_eq!(
        xdp(&summary, "dut0", "pass_local_src"),
        own_source,
        "{summary}"
    );
    assert_eq!(summary["dropped"], 0, "{summary}");
}

// ---------------------------------------------------------------------------
// 2. A live route change towards a next hop the kernel must resolve.

/// Settings of an extra host namespace, as the lab gives its own hosts
/// before any interface exists: no DAD, RA, autoconf or link-local
/// addresses, no reverse-path filter, no ICMP errors.
const HOST_NS_SYSCTLS: &[&str] = &[
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
    "net.ipv4.conf.all.rp_filter=0",
    "net.ipv4.conf.default.rp_filter=0",
    "net.ipv4.icmp_msgs_per_sec=0",
    "net.ipv4.icmp_msgs_burst=0",
];

/// Adds `PREFIX-dst2` with a veth dut2 (in dut) <-> dst2, addressed
/// 198.18.2.254 / 198.18.2.1 (fd00:0:0:3::/64), and no static neighbour
/// for dst2 in the dut. Returns the namespace's guard.
fn add_second_egress(info: &LabInfo) -> NetnsGuard {
    let dut = info.dut_ns();
    let name = format!("{}-dst2", info.prefix);
    let guard = NetnsGuard::add(&name);
    let dst2 = guard.0.as_str();
    ip(dst2, &["link", "set", "lo", "up"]);
    sysctls(dst2, HOST_NS_SYSCTLS);
    // Distinct ifindexes for the two ends (see lab::SRC0_IFINDEX).
    ip(
        dut,
        &[
            "link", "add", "dut2", "index", "14", "type", "veth", "peer", "name", "dst2", "netns",
            dst2, "index", "15",
        ],
    );
    for (ns, ifname, v4, v6) in [
        (dut, "dut2", "198.18.2.254/24", "fd00:0:0:3::254/64"),
        (dst2, "dst2", "198.18.2.1/24", "fd00:0:0:3::1/64"),
    ] {
        exec_in(ns, &["ethtool", "-K", ifname, "tx", "off"]);
        ip(ns, &["addr", "add", v4, "dev", ifname]);
        ip(ns, &["-6", "addr", "add", v6, "dev", ifname, "nodad"]);
        ip(ns, &["link", "set", ifname, "up"]);
    }
    ip(dst2, &["route", "add", "default", "via", "198.18.2.254"]);
    ip(
        dst2,
        &["-6", "route", "add", "default", "via", "fd00:0:0:3::254"],
    );
    attach_pass(dst2, "dst2");
    wait_running(dut, "dut2");
    wait_running(dst2, "dst2");
    guard
}

#[test]
fn l3_live_route_change_and_arp_through_the_kernel() {
    if !root_or_skip("l3_live_route_change_and_arp_through_the_kernel") {
        return;
    }
    const N: u64 = 40_000;
    const RATE: u64 = 10_000;
    const TARGET: &str = "198.18.100.1";
    let lab = lab("l3route");
    let info = lab.info().clone();
    let dut = info.dut_ns().to_string();
    let dst2_ns = add_second_egress(&info);
    let dst2 = dst2_ns.0.clone();
    let (dut2_mac, dst2_mac) = (mac_in(&dut, "dut2"), mac_in(&dst2, "dst2"));

    for (ns, ifname) in [(info.dst_ns(), "dst0"), (dst2.as_str(), "dst2")] {
        ip(ns, &["addr", "add", &format!("{TARGET}/32"), "dev", ifname]);
    }
    ip(
        &dut,
        &[
            "route",
            "add",
            "198.18.100.0/24",
            "via",
            "198.18.1.1",
            "dev",
            "dut1",
        ],
    );
    assert!(
        ip(&dut, &["neigh", "show", "198.18.2.1", "dev", "dut2"])
            .trim()
            .is_empty(),
        "the dut must start without a neighbour entry for 198.18.2.1"
    );

    let mut args = xskfwd_lab::demo::l3_run_args(&info);
    args.extend(strings(&["dut2", "--stats", "json"]));
    let fwd = Running::start(&args, &dut, "dut2");

    let spec = FrameSpec::udp(
        info.src0.mac,
        info.dut0.mac,
        info.src0.ipv4.into(),
        IpAddr::V4(TARGET.parse().unwrap()),
        128,
    );
    let frames = traffic::build_frames(&spec, N).expect("frames");
    let rx0 = Receiver::new(info.dst_ns(), "dst0").expect("receiver on dst0");
    let rx2 = Receiver::new(&dst2, "dst2").expect("receiver on dst2");
    let tx = Sender::new(info.src_ns(), "src0").expect("sender");
    let limits = RecvLimits::new(N as usize, Duration::from_secs(20)).idle(Duration::from_secs(2));
    let c0 = thread::spawn(move || rx0.recv_ours(limits));
    let c2 = thread::spawn(move || rx2.recv_ours(limits));
    let sender = thread::spawn(move || {
        tx.send(
            &frames,
            SendLimits::new(N, Duration::from_secs(15)).rate(RATE),
        )
    });
    thread::sleep(Duration::from_secs(1));
    ip(
        &dut,
        &[
            "route",
            "replace",
            "198.18.100.0/24",
            "via",
            "198.18.2.1",
            "dev",
            "dut2",
        ],
    );
    let report = sender.join().expect("sender thread").expect("send");
    let got0 = c0.join().expect("receiver thread").expect("receive");
    let got2 = c2.join().expect("receiver thread").expect("receive");
    let neigh = ip(&dut, &["neigh", "show", "198.18.2.1", "dev", "dut2"]);
    let summary = stop_and_summary(fwd);
    assert_dut_clean(&dut);
    assert_eq!(
        xdp_prog(&dut, "dut2"),
        None,
        "an XDP program is left on dut2"
    );

    assert_eq!(report.sent, N, "the sender was bounded by time, not count");
    assert_eq!(got0.kernel_drops + got2.kernel_drops, 0, "receiver overrun");
    // Every frame is the routed frame, byte for byte.
    let check = |frames: &[Vec<u8>], (src, dst): ([u8; 6], [u8; 6]), place: &str| -> Vec<u64> {
        let routed = spec.forwarded(src, dst).unwrap();
        frames
            .iter()
            .map(|f| {
                let seq = traffic::verify_frame(f)
                    .unwrap_or_else(|e| panic!("{place}: a damaged frame: {e:#}"));
                assert!(seq < N, "{place}: sequence {seq} out of range");
                let want = traffic::build_frame(&routed, seq).unwrap();
                assert_eq!(
                    f,
                    &want,
                    "{place}: frame {seq} differs from the routed frame: {}",
                    diff(&want, f)
                );
                seq
            })
            .collect()
    };
    let at0 = check(&got0.frames, (info.dut1.mac, info.dst0.mac), "dst0");
    let at2 = check(&got2.frames, (dut2_mac, dst2_mac), "dst2");
    let mut seen = vec![0u8; N as usize];
    for &s in at0.iter().chain(&at2) {
        seen[s as usize] += 1;
    }
    let dups: Vec<usize> = (0..N as usize).filter(|&s| seen[s] > 1).take(10).collect();
    assert!(dups.is_empty(), "frames delivered twice: {dups:?}");

    let first2 = *at2
        .iter()
        .min()
        .expect("nothing reached dst2 after the route change");
    let last0 = *at0
        .iter()
        .max()
        .expect("nothing reached dst0 before the route change");
    let (before, after) = (first2.saturating_sub(RATE), first2 + RATE);
    let missing: Vec<u64> = (0..N).filter(|&s| seen[s as usize] == 0).collect();
    let late0 = at0.iter().filter(|&&s| s > first2).count();
    eprintln!(
        "dst0 got {} (last seq {last0}), dst2 got {} (first seq {first2}); {late0} reached dst0 \
         after the first one reached dst2; {} missing (first: {:?}); neighbour: {}",
        at0.len(),
        at2.len(),
        missing.len(),
        &missing[..missing.len().min(10)],
        neigh.trim()
    );
    // Within a second of traffic after the first frame on the new path,
    // everything takes the new path...
    assert!(
        last0 <= after,
        "frame {last0} still went to dst0, more than {RATE} frames after the switch at {first2}"
    );
    // ...and outside the second around the switch nothing is lost.
    let lost: Vec<&u64> = missing
        .iter()
        .filter(|&&s| s < before || s > after)
        .take(10)
        .collect();
    assert!(
        lost.is_empty(),
        "frames lost away from the switch ({before}..={after}): {lost:?}"
    );
    assert!(
        at0.iter().any(|&s| s < before),
        "nothing went to dst0 well before the switch"
    );
    // The kernel resolved 198.18.2.1 with ARP.
    assert!(
        neigh.contains("REACHABLE") || neigh.contains("STALE"),
        "neighbour 198.18.2.1 in the dut: {neigh:?}"
    );

    // The kernel handled the frames while ARP resolved; xskfwd forwarded
    // after that.
    let no_neigh = xdp(&summary, "dut0", "pass_no_neigh");
    let tx2 = port_count(&summary, "dut2", "tx_packets");
    let tx1 = port_count(&summary, "dut1", "tx_packets");
    let kernel_only = summary["drops"]["kernel_only"]
        .as_u64()
        .expect("kernel_only");
    eprintln!(
        "xskfwd: tx dut1 {tx1}, tx dut2 {tx2}, dut0 pass_no_neigh {no_neigh}, redirect {}, \
         drops kernel_only {kernel_only}",
        xdp(&summary, "dut0", "redirect")
    );
    assert!(no_neigh >= 1, "{summary}");
    assert!(
        tx2 >= at2.len() as u64 / 2 && tx2 >= 1000,
        "xskfwd sent {tx2} of the {} frames that reached dst2: {summary}",
        at2.len()
    );
    assert!(
        tx1 >= 1000,
        "xskfwd sent only {tx1} frames to dst0: {summary}"
    );
    // Every frame on dst0 came from xskfwd (the old next hop is a
    // permanent neighbour: the kernel never forwarded there); every frame
    // on dst2 came from xskfwd or from the kernel while ARP resolved.
    assert_eq!(
        at0.len() as u64,
        tx1,
        "frames on dst0 vs sent by xskfwd to dut1; sequences on both dst0 and dst2: {:?}; \
         seen twice on dst0: {:?}; {summary}",
        at0.iter()
            .filter(|s| at2.contains(s))
            .take(10)
            .collect::<Vec<_>>(),
        at0.iter()
            .enumerate()
            .filter(|(i, s)| at0[..*i].contains(s))
            .map(|(_, s)| s)
            .take(10)
            .collect::<Vec<_>>()
    );
    assert!(
        tx2 <= at2.len() as u64 && at2.len() as u64 <= tx2 + no_neigh,
        "dst2 got {} frames, xskfwd sent {tx2}, the kernel got {no_neigh}: {summary}",
        at2.len()
    );
    // Every frame xskfwd took in was sent or counted as a drop.
    let dropped = summary["dropped"].as_u64().expect("dropped");
    assert_eq!(
        port_count(&summary, "dut0", "rx_packets"),
        tx1 + tx2 + dropped,
        "{summary}"
    );
    let unexpected = unexpected_drops(&summary, &["kernel_only"]);
    assert!(unexpected.is_empty(), "drops: {unexpected:?}: {summary}");
}

// ---------------------------------------------------------------------------
// 3. Static routes and neighbours only.

#[test]
fn l3_static_routes_without_kernel_routes() {
    if !root_or_skip("l3_static_routes_without_kernel_routes") {
        return;
    }
    const N: u64 = 1_000;
    // On dst0, but the dut's kernel has no route for it: only xskfwd's
    // static route gets it there.
    const STATIC_ONLY: &str = "198.18.101.1";
    let lab = lab("l3static");
    let info = lab.info().clone();
    let dut = info.dut_ns().to_string();
    ip(
        info.dst_ns(),
        &["addr", "add", &format!("{STATIC_ONLY}/32"), "dev", "dst0"],
    );
    let err = Command::new("ip")
        .args(["-n", &dut, "route", "get", STATIC_ONLY])
        .output()
        .expect("ip route get");
    assert!(
        !err.status.success(),
        "the dut's kernel must not know a route to {STATIC_ONLY}"
    );

    let mut args = strings(&[
        "run",
        "--netns",
        &dut,
        "--mode",
        "l3",
        "dut0",
        "dut1",
        "--stats",
        "json",
        "--no-kernel-routes",
        "--route",
        "198.18.1.0/24 dev dut1",
        "--route",
        "198.18.0.0/24 dev dut0",
        "--route",
        "198.18.101.0/24 via 198.18.1.1 dev dut1",
    ]);
    args.extend([
        "--neigh".to_string(),
        format!("198.18.1.1 lladdr {} dev dut1", Mac(info.dst0.mac)),
        "--neigh".to_string(),
        format!("198.18.0.1 lladdr {} dev dut0", Mac(info.src0.mac)),
    ]);
    let fwd = Running::start(&args, &dut, "dut1");

    // N frames to dst0's own address, then N to the static-only one.
    let to_dst0 = info.udp_spec(false, 128);
    let to_static = FrameSpec {
        dst_ip: IpAddr::V4(STATIC_ONLY.parse().unwrap()),
        ..to_dst0.clone()
    };
    let mut frames = Vec::new();
    for seq in 0..2 * N {
        let spec = if seq < N { &to_dst0 } else { &to_static };
        frames.push(traffic::build_frame(spec, seq).unwrap());
    }
    let rx = Receiver::new(info.dst_ns(), "dst0").expect("receiver");
    let tx = Sender::new(info.src_ns(), "src0").expect("sender");
    let report = tx
        .send(
            &frames,
            SendLimits::new(2 * N, Duration::from_secs(20)).rate(20_000),
        )
        .expect("send");
    assert_eq!(report.sent, 2 * N);
    let got = rx
        .recv_ours(
            RecvLimits::new(2 * N as usize, Duration::from_secs(10)).idle(Duration::from_secs(1)),
        )
        .expect("receive");
    let mut seen = vec![false; 2 * N as usize];
    for f in &got.frames {
        let seq = traffic::verify_frame(f).expect("intact frame");
        assert!(seq < 2 * N);
        let spec = if seq < N { &to_dst0 } else { &to_static };
        let want = traffic::build_frame(&info.routed(spec).unwrap(), seq).unwrap();
        assert_eq!(f, &want, "frame {seq}: {}", diff(&want, f));
        assert!(!seen[seq as usize], "frame {seq} arrived twice");
        seen[seq as usize] = true;
    }
    let missing: Vec<usize> = (0..2 * N as usize).filter(|&s| !seen[s]).take(10).collect();
    assert!(
        missing.is_empty(),
        "{} of {} frames missing (first: {missing:?})",
        seen.iter().filter(|s| !**s).count(),
        2 * N
    );
    // Echo both ways through the static routes and neighbours.
    assert!(ping(info.src_ns(), "198.18.1.1"), "ping src -> dst0");
    assert!(
        ping(info.src_ns(), STATIC_ONLY),
        "ping src -> {STATIC_ONLY}"
    );
    // The dut's own addresses stay the kernel's.
    let local0 = ping(info.src_ns(), "198.18.0.254");
    let local1 = ping(info.src_ns(), "198.18.1.254");

    let summary = stop_and_summary(fwd);
    assert_dut_clean(&dut);
    eprintln!(
        "xskfwd: tx dut1 {}, redirect dut0 {}, pass_local dut0 {}; ping dut0 {local0}, dut1 {local1}",
        port_count(&summary, "dut1", "tx_packets"),
        xdp(&summary, "dut0", "redirect"),
        xdp(&summary, "dut0", "pass_local"),
    );
    assert!(
        port_count(&summary, "dut1", "tx_packets") >= 2 * N + 2,
        "{summary}"
    );
    assert!(port_count(&summary, "dut0", "tx_packets") >= 2, "{summary}");
    assert!(xdp(&summary, "dut0", "redirect") >= 2 * N + 2, "{summary}");
    assert_eq!(summary["dropped"], 0, "{summary}");
    assert!(
        local0 && local1,
        "with --no-kernel-routes the dut's own addresses must still reach its kernel: \
         ping 198.18.0.254 {local0}, 198.18.1.254 {local1}; {summary}"
    );
    assert!(xdp(&summary, "dut0", "pass_local") >= 2, "{summary}");
}

// ---------------------------------------------------------------------------
// 4. `xskfwd routes`.

#[test]
fn routes_command_prints_the_effective_table() {
    if !root_or_skip("routes_command_prints_the_effective_table") {
        return;
    }
    let lab = lab("l3routes");
    let info = lab.info().clone();
    let dut = info.dut_ns().to_string();
    let routes = |route: &str| {
        let out = Running::spawn(&strings(&[
            "routes", "--netns", &dut, "dut0", "dut1", "--route", route,
        ]))
        .wait(Duration::from_secs(30));
        assert!(!out.timed_out, "xskfwd routes hung");
        out
    };

    let out = routes("198.18.50.0/24 via 198.18.1.1 dev dut1");
    assert_eq!(out.status.code(), Some(0), "{}", out.stderr);
    let has = |parts: &[&str]| {
        out.stdout
            .lines()
            .any(|l| parts.iter().all(|p| l.contains(p)))
    };
    for parts in [
        &["198.18.1.0/24", "dev dut1", "kernel"][..],
        &["198.18.0.0/24", "dev dut0", "kernel"],
        &["198.18.50.0/24", "via 198.18.1.1 dev dut1", "static"],
        &["198.18.0.254/32", "local"],
        &["198.18.1.254/32", "local"],
    ] {
        assert!(has(parts), "no line with {parts:?} in:\n{}", out.stdout);
    }

    let out = routes("198.18.50.0/24 dev nosuch");
    assert_eq!(out.status.code(), Some(1), "{}\n{}", out.stdout, out.stderr);
    assert_eq!(out.stderr.lines().count(), 1, "one line: {}", out.stderr);
    assert!(out.stderr.contains("nosuch"), "{}", out.stderr);
    assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
}
