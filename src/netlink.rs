//! The kernel's routing state over rtnetlink: a one-shot [`dump`] of routes,
//! neighbours, links and addresses, and a [`Monitor`] that reports changes.
//!
//! This is how the L3 mode mirrors the kernel: a caller creates a
//! [`Monitor`] first, then calls [`dump`], builds its tables from the
//! [`Snapshot`], and from then on applies the [`Event`]s the monitor
//! reports (which may repeat what the dump already showed; each event
//! carries a whole object, so applying it again is harmless). On
//! [`Event::Overrun`] events were lost and the caller dumps again.
//!
//! Both work on the network namespace of the *calling thread* (a netlink
//! socket belongs to the namespace of the thread that creates it); to look
//! into another namespace, create them inside [`crate::netns::in_netns`].
//!
//! What is reported is kept close to the kernel's own words and filtered
//! only where the kernel's messages would mislead a routing table:
//!
//! - routes: IPv4 and IPv6 only (IPMR, MPLS, ... are dropped), from all
//!   tables including `local` (255), and without cached/cloned entries
//!   (`RTM_F_CLONED`: PMTU exceptions, redirects). The caller decides which
//!   tables and types it uses.
//! - neighbours: IPv4 (ARP) and IPv6 (ND) only; bridge FDB entries
//!   (`AF_BRIDGE`) and proxy entries (`NTF_PROXY`) are dropped, so a
//!   deleted proxy entry never looks like a deleted neighbour.
//! - links: only the generic `AF_UNSPEC` form; the `AF_BRIDGE` copies a
//!   bridge sends for its ports (whose `RTM_DELLINK` only means "left the
//!   bridge") are dropped.
//!
//! What the kernel does not tell: IPv4 routes that the kernel flushes when
//! their interface goes down come with no `RTM_DELROUTE`; a caller reacts
//! to the [`Event::NewLink`] with `up == false` (or `running == false`)
//! itself, as the kernel's FIB does. Multipath routes carry their next hops
//! in `RTA_MULTIPATH`, which [`KernelRoute`] only flags
//! ([`KernelRoute::multipath`]); their `oif` and `gateway` are `None`.
//!
//! This module must never: panic on any message (every length is checked;
//! a message that does not parse is skipped and counted, an unknown
//! attribute is ignored), look into or change another network namespace,
//! change any kernel state (it only sends dump requests and listens), or
//! wait without a bound (dumps give up after [`DUMP_TIMEOUT`] and
//! [`DUMP_ATTEMPTS`] attempts, [`Monitor::recv`] after its timeout). It is
//! control plane: it allocates freely and is never called per packet.

#![deny(clippy::undocumented_unsafe_blocks)]

use std::fmt;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::time::{Duration, Instant};

use netlink_packet_core::{
    NetlinkBuffer, NetlinkHeader, NetlinkMessage, NetlinkPayload, NlasIterator, Parseable,
    ParseableParametrized, NLMSG_DONE, NLMSG_ERROR, NLM_F_DUMP, NLM_F_DUMP_INTR, NLM_F_REQUEST,
};
use netlink_packet_route::address::{AddressAttribute, AddressHeader, AddressMessage};
use netlink_packet_route::link::{LinkAttribute, LinkFlags, LinkHeader, LinkMessage};
use netlink_packet_route::neighbour::{
    NeighbourAddress, NeighbourAttribute, NeighbourFlags, NeighbourHeader, NeighbourMessage,
};
use netlink_packet_route::route::{
    RouteAddress, RouteAttribute, RouteFlags, RouteHeader, RouteLwEnCapType, RouteMessage,
    RouteMetric, RouteNextHopFlags, RouteType as RtnType, RouteVia,
};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};
use netlink_sys::{protocols::NETLINK_ROUTE, Socket, SocketAddr};

/// Id of the `main` routing table.
pub const RT_TABLE_MAIN: u32 = 254;
/// Id of the `local` routing table (local, broadcast and IPv6 multicast
/// routes the kernel adds for each address).
pub const RT_TABLE_LOCAL: u32 = 255;

/// `NUD_*` neighbour states in which the kernel itself would use the
/// link-layer address (the kernel's `NUD_VALID`).
pub const NUD_VALID: u16 = libc::NUD_PERMANENT
    | libc::NUD_NOARP
    | libc::NUD_REACHABLE
    | libc::NUD_PROBE
    | libc::NUD_STALE
    | libc::NUD_DELAY;

/// How long a dump waits for the kernel's next reply before giving up.
pub const DUMP_TIMEOUT: Duration = Duration::from_secs(5);
/// How often a dump is tried when the kernel reports it inconsistent
/// (`NLM_F_DUMP_INTR`, `EINTR`) before [`dump`] fails.
pub const DUMP_ATTEMPTS: u32 = 5;
/// Receive buffer asked for the [`Monitor`] socket (the kernel doubles it).
pub const MONITOR_RCVBUF: usize = 8 << 20;

/// Datagrams read by one [`Monitor::recv`] at most, so that a flood of
/// changes cannot keep it from returning; the rest stays queued.
const MAX_DATAGRAMS_PER_RECV: usize = 4096;
/// First receive buffer size; the kernel sends dump replies of at most
/// 32 KiB unless a single object is larger.
const RECV_BUF_INITIAL: usize = 64 << 10;
/// Largest receive buffer we grow to after a truncated datagram.
const RECV_BUF_MAX: usize = 4 << 20;

/// Fixed header sizes from `<linux/rtnetlink.h>` and friends.
const RTMSG_LEN: usize = 12;
/// `sizeof(struct ndmsg)`.
const NDMSG_LEN: usize = 12;
/// `sizeof(struct ifinfomsg)`.
const IFINFOMSG_LEN: usize = 16;
/// `sizeof(struct ifaddrmsg)`.
const IFADDRMSG_LEN: usize = 8;
/// `sizeof(struct rtnexthop)`.
const RTNEXTHOP_LEN: usize = 8;
/// `NLMSG_NOOP`, `NLMSG_OVERRUN`: control messages that carry nothing for us.
const NLMSG_NOOP: u16 = 1;
/// See [`NLMSG_NOOP`].
const NLMSG_OVERRUN: u16 = 4;
/// `RTAX_LOCK` / `RTAX_MTU` from `<linux/rtnetlink.h>` (not in `libc`).
const RTAX_LOCK: u16 = 1;
/// See [`RTAX_LOCK`].
const RTAX_MTU: u16 = 2;

/// Multicast groups a [`Monitor`] joins, with names for error messages.
const MONITOR_GROUPS: [(u32, &str); 6] = [
    (libc::RTNLGRP_LINK, "NETLINK_ADD_MEMBERSHIP(RTNLGRP_LINK)"),
    (libc::RTNLGRP_NEIGH, "NETLINK_ADD_MEMBERSHIP(RTNLGRP_NEIGH)"),
    (
        libc::RTNLGRP_IPV4_IFADDR,
        "NETLINK_ADD_MEMBERSHIP(RTNLGRP_IPV4_IFADDR)",
    ),
    (
        libc::RTNLGRP_IPV6_IFADDR,
        "NETLINK_ADD_MEMBERSHIP(RTNLGRP_IPV6_IFADDR)",
    ),
    (
        libc::RTNLGRP_IPV4_ROUTE,
        "NETLINK_ADD_MEMBERSHIP(RTNLGRP_IPV4_ROUTE)",
    ),
    (
        libc::RTNLGRP_IPV6_ROUTE,
        "NETLINK_ADD_MEMBERSHIP(RTNLGRP_IPV6_ROUTE)",
    ),
];

/// Errors of this module; each names the request or call that failed.
#[derive(Debug, thiserror::Error)]
pub enum NetlinkError {
    /// A socket call failed.
    #[error("{context}: {call} failed: {err}")]
    Io {
        /// What was being done, e.g. `"RTM_GETROUTE dump"`, `"netlink monitor"`.
        context: &'static str,
        /// The call, e.g. `"recvfrom"`.
        call: &'static str,
        /// Cause.
        err: io::Error,
    },
    /// The kernel answered a dump request with an error (`NLMSG_ERROR`, or
    /// an error code in `NLMSG_DONE`).
    #[error("{request} dump: the kernel answered: {err}")]
    Kernel {
        /// The request, e.g. `"RTM_GETNEIGH"`.
        request: &'static str,
        /// The kernel's errno.
        err: io::Error,
    },
    /// Every attempt of a dump was spoiled (the table changed while it was
    /// dumped, or a reply was lost); see [`DUMP_ATTEMPTS`].
    #[error("{request} dump: gave up after {attempts} attempts, the last one failed because of {reason}")]
    Inconsistent {
        /// The request.
        request: &'static str,
        /// Attempts made.
        attempts: u32,
        /// Why the last attempt was not usable.
        reason: &'static str,
    },
    /// The kernel did not finish a dump in time.
    #[error("{request} dump: no NLMSG_DONE within {timeout:?}")]
    Timeout {
        /// The request.
        request: &'static str,
        /// The bound that was hit ([`DUMP_TIMEOUT`]).
        timeout: Duration,
    },
}

/// Type of a route (`rtm_type`, `RTN_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RouteType {
    /// `RTN_UNICAST`: forward (via a gateway or directly).
    Unicast,
    /// `RTN_LOCAL`: an address of this host.
    Local,
    /// `RTN_BROADCAST`: a broadcast address of this host.
    Broadcast,
    /// `RTN_ANYCAST`: accept locally as anycast (IPv6).
    Anycast,
    /// `RTN_MULTICAST`: multicast.
    Multicast,
    /// `RTN_BLACKHOLE`: drop silently.
    Blackhole,
    /// `RTN_UNREACHABLE`: drop, answer ICMP unreachable.
    Unreachable,
    /// `RTN_PROHIBIT`: drop, answer ICMP administratively prohibited.
    Prohibit,
    /// `RTN_THROW`: continue the lookup in the next table (policy routing).
    Throw,
    /// Anything else (`RTN_UNSPEC`, `RTN_NAT`, `RTN_XRESOLVE`, new types),
    /// with the raw value.
    Other(u8),
}

impl From<RtnType> for RouteType {
    fn from(kind: RtnType) -> Self {
        match kind {
            RtnType::Unicast => Self::Unicast,
            RtnType::Local => Self::Local,
            RtnType::Broadcast => Self::Broadcast,
            RtnType::Anycast => Self::Anycast,
            RtnType::Multicast => Self::Multicast,
            RtnType::BlackHole => Self::Blackhole,
            RtnType::Unreachable => Self::Unreachable,
            RtnType::Prohibit => Self::Prohibit,
            RtnType::Throw => Self::Throw,
            other => Self::Other(u8::from(other)),
        }
    }
}

/// A route of the kernel's FIB (one `RTM_NEWROUTE`/`RTM_DELROUTE`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KernelRoute {
    /// Routing table: `RTA_TABLE` if present, else `rtm_table`
    /// ([`RT_TABLE_MAIN`] = 254, [`RT_TABLE_LOCAL`] = 255).
    pub table: u32,
    /// Destination network address (`0.0.0.0` / `::` for a default route).
    pub dst: IpAddr,
    /// Destination prefix length (at most 32 for IPv4, 128 for IPv6).
    pub prefix_len: u8,
    /// Route type.
    pub kind: RouteType,
    /// Output interface (`RTA_OIF`).
    pub oif: Option<u32>,
    /// Next hop: `RTA_GATEWAY`, or `RTA_VIA` (which may be of the other
    /// family, e.g. an IPv4 route via an IPv6 gateway).
    pub gateway: Option<IpAddr>,
    /// Metric (`RTA_PRIORITY`, 0 if absent).
    pub metric: u32,
    /// Route MTU (`RTAX_MTU` in `RTA_METRICS`).
    pub mtu: Option<u32>,
    /// The MTU is locked (`mtu lock`: `RTAX_LOCK` has the MTU bit).
    pub mtu_locked: bool,
    /// ECMP route: `RTA_MULTIPATH` is present (its next hops are not
    /// reported; `oif` and `gateway` are then normally `None`).
    pub multipath: bool,
    /// The next hop is dead or its link is down (`RTNH_F_DEAD` /
    /// `RTNH_F_LINKDOWN` in `rtm_flags`; for a multipath route, on every
    /// next hop).
    pub linkdown: bool,
    /// Who installed it (`rtm_protocol`: 2 kernel, 3 boot/`ip route`, 4
    /// static, ...).
    pub protocol: u8,
}

/// A neighbour (ARP or NDP) entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KernelNeigh {
    /// Interface the neighbour is on.
    pub ifindex: u32,
    /// Its IP address.
    pub ip: IpAddr,
    /// Its MAC address (`NDA_LLADDR`, when it is 6 bytes long).
    pub mac: Option<[u8; 6]>,
    /// `NUD_*` state bits.
    pub state: u16,
    /// The neighbour is a router (`NTF_ROUTER`, IPv6).
    pub router: bool,
}

impl KernelNeigh {
    /// A permanent or NOARP entry: one the kernel never ages or probes,
    /// and that an `NTF_USE` request would change (the kernel strips
    /// `NUD_PERMANENT` from an entry marked used), so it is never sent one.
    pub fn fixed(&self) -> bool {
        self.state & (libc::NUD_PERMANENT | libc::NUD_NOARP) != 0
    }

    /// Whether frames may be sent to [`KernelNeigh::mac`]: a MAC is known
    /// and the state is one the kernel treats as valid ([`NUD_VALID`]).
    pub fn usable(&self) -> bool {
        self.mac.is_some() && self.state & NUD_VALID != 0
    }
}

/// A network interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KernelLink {
    /// Interface index.
    pub ifindex: u32,
    /// Name (`IFLA_IFNAME`; bytes that are not UTF-8 are replaced).
    pub name: String,
    /// Administratively up (`IFF_UP`).
    pub up: bool,
    /// Up with carrier (`IFF_RUNNING`).
    pub running: bool,
    /// MAC address (`IFLA_ADDRESS`, when it is 6 bytes long).
    pub mac: Option<[u8; 6]>,
    /// MTU (`IFLA_MTU`).
    pub mtu: u32,
}

/// An address assigned to an interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KernelAddr {
    /// Interface index.
    pub ifindex: u32,
    /// The local address (`IFA_LOCAL`, else `IFA_ADDRESS`).
    pub addr: IpAddr,
    /// Prefix length.
    pub prefix_len: u8,
}

/// Everything [`dump`] saw.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// Routes of all tables, IPv4 and IPv6.
    pub routes: Vec<KernelRoute>,
    /// Neighbours, IPv4 and IPv6.
    pub neighs: Vec<KernelNeigh>,
    /// Links.
    pub links: Vec<KernelLink>,
    /// Addresses, IPv4 and IPv6.
    pub addrs: Vec<KernelAddr>,
}

/// A change reported by a [`Monitor`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A route was added or changed (`RTM_NEWROUTE`).
    NewRoute(KernelRoute),
    /// A route was deleted (`RTM_DELROUTE`).
    DelRoute(KernelRoute),
    /// A neighbour was added or changed (`RTM_NEWNEIGH`).
    NewNeigh(KernelNeigh),
    /// A neighbour was deleted (`RTM_DELNEIGH`).
    DelNeigh(KernelNeigh),
    /// A link appeared or changed (`RTM_NEWLINK`).
    NewLink(KernelLink),
    /// The link of this index is gone (`RTM_DELLINK`).
    DelLink(u32),
    /// An address was added (`RTM_NEWADDR`).
    NewAddr(KernelAddr),
    /// An address was removed (`RTM_DELADDR`).
    DelAddr(KernelAddr),
    /// The socket overflowed (`ENOBUFS`) or a message was too large:
    /// events were lost and the caller must [`dump`] again. Events before
    /// and after it are still valid changes, in order.
    Overrun,
}

/// Runs a full dump of the calling thread's network namespace: all links,
/// all addresses, all routes of all tables and all neighbours, IPv4 and
/// IPv6.
///
/// Each of the four dumps is retried (up to [`DUMP_ATTEMPTS`] times) when
/// the kernel flags it inconsistent (`NLM_F_DUMP_INTR`, `EINTR`). The four
/// are taken one after the other, so they are not one atomic picture; a
/// [`Monitor`] created before reports what changed in between.
pub fn dump() -> Result<Snapshot, NetlinkError> {
    let mut sock = DumpSocket::new()?;
    let mut snap = Snapshot::default();
    for request in [Request::Link, Request::Addr, Request::Route, Request::Neigh] {
        for event in sock.dump(request)? {
            match event {
                Event::NewRoute(r) => snap.routes.push(r),
                Event::NewNeigh(n) => snap.neighs.push(n),
                Event::NewLink(l) => snap.links.push(l),
                Event::NewAddr(a) => snap.addrs.push(a),
                _ => {}
            }
        }
    }
    Ok(snap)
}

/// The four dump requests.
#[derive(Debug, Clone, Copy)]
enum Request {
    Link,
    Addr,
    Route,
    Neigh,
}

impl Request {
    fn name(self) -> &'static str {
        match self {
            Self::Link => "RTM_GETLINK",
            Self::Addr => "RTM_GETADDR",
            Self::Route => "RTM_GETROUTE",
            Self::Neigh => "RTM_GETNEIGH",
        }
    }

    fn context(self) -> &'static str {
        match self {
            Self::Link => "RTM_GETLINK dump",
            Self::Addr => "RTM_GETADDR dump",
            Self::Route => "RTM_GETROUTE dump",
            Self::Neigh => "RTM_GETNEIGH dump",
        }
    }

    /// The request message: `NLM_F_REQUEST | NLM_F_DUMP`, family
    /// `AF_UNSPEC` (all families), no filter.
    fn encode(self, seq: u32) -> Vec<u8> {
        let inner = match self {
            Self::Link => RouteNetlinkMessage::GetLink(LinkMessage::default()),
            Self::Addr => RouteNetlinkMessage::GetAddress(AddressMessage::default()),
            Self::Route => RouteNetlinkMessage::GetRoute(RouteMessage::default()),
            Self::Neigh => RouteNetlinkMessage::GetNeighbour(NeighbourMessage::default()),
        };
        let mut header = NetlinkHeader::default();
        header.flags = NLM_F_REQUEST | NLM_F_DUMP;
        header.sequence_number = seq;
        let mut msg = NetlinkMessage::new(header, NetlinkPayload::InnerMessage(inner));
        msg.finalize();
        let mut buf = vec![0; msg.buffer_len()];
        msg.serialize(&mut buf);
        buf
    }
}

/// `RTM_NEWNEIGH` with `NTF_USE` for `addr` on `ifindex`: tells the kernel
/// the neighbour was used, as its own forwarding does for every packet
/// (`neigh_event_send`), so a STALE entry goes through DELAY and PROBE to
/// REACHABLE (with a changed MAC, if it changed) or FAILED. No `NLM_F_ACK`:
/// only failures are answered (e.g. `ENOENT` for an entry that is gone).
fn encode_neigh_use(seq: u32, ifindex: u32, addr: IpAddr) -> Vec<u8> {
    let (family, dst) = match addr {
        IpAddr::V4(a) => (AddressFamily::Inet, NeighbourAddress::Inet(a)),
        IpAddr::V6(a) => (AddressFamily::Inet6, NeighbourAddress::Inet6(a)),
    };
    let mut msg = NeighbourMessage::default();
    msg.header.family = family;
    msg.header.ifindex = ifindex;
    msg.header.flags = NeighbourFlags::Use;
    msg.attributes.push(NeighbourAttribute::Destination(dst));
    let mut header = NetlinkHeader::default();
    header.flags = NLM_F_REQUEST;
    header.sequence_number = seq;
    let mut msg = NetlinkMessage::new(
        header,
        NetlinkPayload::InnerMessage(RouteNetlinkMessage::NewNeighbour(msg)),
    );
    msg.finalize();
    let mut buf = vec![0; msg.buffer_len()];
    msg.serialize(&mut buf);
    buf
}

/// Tells the kernel which neighbours xskfwd forwards to (see
/// [`NeighUse::used`]): the neighbour liveness the kernel's own forwarding
/// would give them.
#[derive(Debug)]
pub struct NeighUse {
    sock: Socket,
    seq: u32,
    buf: Vec<u8>,
}

impl NeighUse {
    /// A non-blocking rtnetlink socket for `NTF_USE` requests.
    pub fn new() -> Result<NeighUse, NetlinkError> {
        let io = |call| {
            move |err| NetlinkError::Io {
                context: "netlink neighbour use socket",
                call,
                err,
            }
        };
        let mut sock =
            Socket::new(NETLINK_ROUTE).map_err(io("socket(AF_NETLINK, NETLINK_ROUTE)"))?;
        sock.bind_auto().map_err(io("bind"))?;
        sock.set_non_blocking(true)
            .map_err(io("fcntl(O_NONBLOCK)"))?;
        Ok(NeighUse {
            sock,
            seq: 0,
            buf: vec![0; 8192],
        })
    }

    /// Marks the neighbour `addr` on `ifindex` as used. Returns how many
    /// earlier requests the kernel refused (their answers are read here;
    /// an entry that is gone or static is no error of ours).
    pub fn used(&mut self, ifindex: u32, addr: IpAddr) -> Result<u32, NetlinkError> {
        self.seq = self.seq.wrapping_add(1);
        let msg = encode_neigh_use(self.seq, ifindex, addr);
        self.sock.send(&msg, 0).map_err(|err| NetlinkError::Io {
            context: "NTF_USE",
            call: "send",
            err,
        })?;
        let mut refused = 0;
        while let Ok(n) = self.sock.recv(&mut &mut self.buf[..], libc::MSG_DONTWAIT) {
            if n == 0 {
                break;
            }
            refused += 1;
        }
        Ok(refused)
    }
}

/// How one dump attempt ended.
enum Attempt {
    Complete(Vec<Event>),
    Spoiled(&'static str),
}

/// A netlink socket used for dump requests only (no multicast groups).
struct DumpSocket {
    sock: Socket,
    port: u32,
    seq: u32,
    buf: Vec<u8>,
}

impl DumpSocket {
    fn new() -> Result<Self, NetlinkError> {
        let io = |call| {
            move |err| NetlinkError::Io {
                context: "netlink dump socket",
                call,
                err,
            }
        };
        let mut sock =
            Socket::new(NETLINK_ROUTE).map_err(io("socket(AF_NETLINK, NETLINK_ROUTE)"))?;
        let addr = sock.bind_auto().map_err(io("bind"))?;
        Ok(Self {
            sock,
            port: addr.port_number(),
            seq: 0,
            buf: Vec::with_capacity(RECV_BUF_INITIAL),
        })
    }

    /// One dump, retried while the kernel flags it inconsistent.
    fn dump(&mut self, request: Request) -> Result<Vec<Event>, NetlinkError> {
        let mut reason = "";
        for _ in 0..DUMP_ATTEMPTS {
            match self.attempt(request)? {
                Attempt::Complete(events) => return Ok(events),
                Attempt::Spoiled(why) => reason = why,
            }
        }
        Err(NetlinkError::Inconsistent {
            request: request.name(),
            attempts: DUMP_ATTEMPTS,
            reason,
        })
    }

    /// Sends the request and reads replies up to `NLMSG_DONE` (or an
    /// error), always to the end so that the socket is clean for the next.
    fn attempt(&mut self, request: Request) -> Result<Attempt, NetlinkError> {
        let io = |call| {
            move |err| NetlinkError::Io {
                context: request.context(),
                call,
                err,
            }
        };
        self.seq = self.seq.wrapping_add(1);
        let msg = request.encode(self.seq);
        let kernel = SocketAddr::new(0, 0);
        let sent = self.sock.send_to(&msg, &kernel, 0).map_err(io("sendto"))?;
        if sent != msg.len() {
            return Err(io("sendto")(io::Error::new(
                io::ErrorKind::WriteZero,
                "short write of the dump request",
            )));
        }

        let deadline = Instant::now() + DUMP_TIMEOUT;
        let mut replies = Replies::default();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if !wait_readable(self.sock.as_fd(), left).map_err(io("poll"))? {
                return Err(NetlinkError::Timeout {
                    request: request.name(),
                    timeout: DUMP_TIMEOUT,
                });
            }
            match recv_datagram(&self.sock, &mut self.buf) {
                Ok(Datagram::Whole { sender: 0 }) => {
                    replies.absorb(request, &self.buf, self.seq, self.port)?;
                }
                Ok(Datagram::Whole { .. }) => {} // not from the kernel
                Ok(Datagram::Truncated) => {
                    // The rest of this datagram is lost; finish and retry.
                    replies.spoil("a reply larger than the receive buffer");
                }
                Err(e)
                    if e.kind() == io::ErrorKind::WouldBlock
                        || e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.raw_os_error() == Some(libc::ENOBUFS) => {
                    replies.spoil("ENOBUFS (replies were lost)");
                }
                Err(e) => return Err(io("recvfrom")(e)),
            }
            if replies.done {
                return Ok(match replies.spoiled {
                    None => Attempt::Complete(replies.events),
                    Some(why) => Attempt::Spoiled(why),
                });
            }
        }
    }
}

/// What the replies to one dump attempt said so far.
#[derive(Debug, Default)]
struct Replies {
    /// The objects dumped.
    events: Vec<Event>,
    /// Why the attempt cannot be used, if it cannot.
    spoiled: Option<&'static str>,
    /// `NLMSG_DONE` (or a final `NLMSG_ERROR`) was seen.
    done: bool,
}

impl Replies {
    fn spoil(&mut self, why: &'static str) {
        self.spoiled = Some(why);
    }

    /// Takes in one datagram from the kernel; only messages answering
    /// `seq` on our `port` count. A kernel error other than `EINTR` ends
    /// the dump with an error.
    fn absorb(
        &mut self,
        request: Request,
        data: &[u8],
        seq: u32,
        port: u32,
    ) -> Result<(), NetlinkError> {
        for msg in Messages::new(data) {
            let Ok(msg) = msg else {
                self.spoil("a malformed reply datagram");
                return Ok(());
            };
            if msg.seq != seq || msg.port != port {
                continue;
            }
            if msg.flags & NLM_F_DUMP_INTR != 0 {
                self.spoil("NLM_F_DUMP_INTR (the table changed during the dump)");
            }
            match msg.kind {
                NLMSG_DONE | NLMSG_ERROR => {
                    // NLMSG_DONE may carry the dump's error code, an
                    // NLMSG_ERROR always does (0 is an ACK, not an end).
                    let code = leading_i32(msg.payload).unwrap_or(0);
                    if code == -libc::EINTR {
                        self.spoil("EINTR (the dump was interrupted)");
                    } else if code < 0 {
                        return Err(NetlinkError::Kernel {
                            request: request.name(),
                            err: io::Error::from_raw_os_error(code.saturating_neg()),
                        });
                    }
                    if msg.kind == NLMSG_DONE || code != 0 {
                        self.done = true;
                        return Ok(());
                    }
                }
                NLMSG_NOOP | NLMSG_OVERRUN => {}
                kind => {
                    if let Ok(Some(event)) = parse_event(kind, msg.payload) {
                        self.events.push(event);
                    }
                }
            }
        }
        Ok(())
    }
}

/// A subscription to the kernel's link, neighbour, address and route
/// change notifications of the namespace it was created in.
pub struct Monitor {
    sock: Socket,
    buf: Vec<u8>,
    malformed: u64,
    overruns: u64,
}

impl fmt::Debug for Monitor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Monitor")
            .field("fd", &self.sock.as_raw_fd())
            .field("malformed", &self.malformed)
            .field("overruns", &self.overruns)
            .finish()
    }
}

impl Monitor {
    /// Subscribes to `RTNLGRP_LINK`, `RTNLGRP_NEIGH`,
    /// `RTNLGRP_IPV4_IFADDR`, `RTNLGRP_IPV6_IFADDR`, `RTNLGRP_IPV4_ROUTE`
    /// and `RTNLGRP_IPV6_ROUTE` in the calling thread's namespace.
    ///
    /// Create it *before* calling [`dump`], so that nothing that changes
    /// during the dump is missed. The receive buffer is set to
    /// [`MONITOR_RCVBUF`] with `SO_RCVBUFFORCE` (needs `CAP_NET_ADMIN`),
    /// else with `SO_RCVBUF` (capped by `net.core.rmem_max`); neither
    /// failing is an error, a smaller buffer only overruns sooner.
    pub fn new() -> Result<Monitor, NetlinkError> {
        let io = |call| {
            move |err| NetlinkError::Io {
                context: "netlink monitor",
                call,
                err,
            }
        };
        let mut sock =
            Socket::new(NETLINK_ROUTE).map_err(io("socket(AF_NETLINK, NETLINK_ROUTE)"))?;
        set_rcvbuf(sock.as_fd(), MONITOR_RCVBUF);
        sock.bind_auto().map_err(io("bind"))?;
        for (group, call) in MONITOR_GROUPS {
            sock.add_membership(group).map_err(io(call))?;
        }
        Ok(Monitor {
            sock,
            buf: Vec::with_capacity(RECV_BUF_INITIAL),
            malformed: 0,
            overruns: 0,
        })
    }

    /// Waits up to `timeout` for the first notification, then reads
    /// everything queued without blocking (at most a few thousand
    /// datagrams; the rest is left for the next call) and appends the
    /// events to `out`, in the kernel's order.
    ///
    /// Returns `Ok` with nothing appended when the timeout passes. When the
    /// socket overflowed (`ENOBUFS`) or a notification did not fit the
    /// buffer, appends [`Event::Overrun`] (once per run) and carries on.
    /// Messages that do not parse are skipped and counted
    /// ([`Monitor::malformed`]).
    pub fn recv(&mut self, timeout: Duration, out: &mut Vec<Event>) -> Result<(), NetlinkError> {
        let io = |call| {
            move |err| NetlinkError::Io {
                context: "netlink monitor",
                call,
                err,
            }
        };
        if !wait_readable(self.sock.as_fd(), timeout).map_err(io("poll"))? {
            return Ok(());
        }
        for _ in 0..MAX_DATAGRAMS_PER_RECV {
            match recv_datagram(&self.sock, &mut self.buf) {
                Ok(Datagram::Whole { sender: 0 }) => {
                    parse_datagram(&self.buf, out, &mut self.malformed);
                }
                Ok(Datagram::Whole { .. }) => {} // not from the kernel
                Ok(Datagram::Truncated) => self.overrun(out),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.raw_os_error() == Some(libc::ENOBUFS) => self.overrun(out),
                Err(e) => return Err(io("recvfrom")(e)),
            }
        }
        Ok(())
    }

    /// Messages skipped so far because they did not parse.
    pub fn malformed(&self) -> u64 {
        self.malformed
    }

    /// Overruns seen so far (each reported as [`Event::Overrun`]).
    pub fn overruns(&self) -> u64 {
        self.overruns
    }

    fn overrun(&mut self, out: &mut Vec<Event>) {
        self.overruns += 1;
        if out.last() != Some(&Event::Overrun) {
            out.push(Event::Overrun);
        }
    }
}

impl AsFd for Monitor {
    /// The socket, for callers that wait on several descriptors; it becomes
    /// readable when [`Monitor::recv`] has something to return.
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.sock.as_fd()
    }
}

impl AsRawFd for Monitor {
    fn as_raw_fd(&self) -> RawFd {
        self.sock.as_raw_fd()
    }
}

/// Asks for a large receive buffer; never fails (see [`Monitor::new`]).
fn set_rcvbuf(fd: BorrowedFd<'_>, bytes: usize) {
    let value = libc::c_int::try_from(bytes).unwrap_or(libc::c_int::MAX);
    for option in [libc::SO_RCVBUFFORCE, libc::SO_RCVBUF] {
        // SAFETY: `fd` is an open socket for the whole call; the option
        // value points at a live `c_int` whose size is passed alongside.
        let rc = unsafe {
            libc::setsockopt(
                fd.as_raw_fd(),
                libc::SOL_SOCKET,
                option,
                (&value as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        if rc == 0 {
            return;
        }
    }
}

/// Waits until `fd` is readable (or has an error to report, such as
/// `ENOBUFS`); `false` when `timeout` passed first. Restarts after signals
/// without extending the deadline.
fn wait_readable(fd: BorrowedFd<'_>, timeout: Duration) -> io::Result<bool> {
    let start = Instant::now();
    loop {
        let left = timeout.saturating_sub(start.elapsed());
        // Round up so that a sub-millisecond wait does not become a spin.
        let ms = left.as_micros().div_ceil(1000);
        let ms = libc::c_int::try_from(ms).unwrap_or(libc::c_int::MAX);
        let mut pfd = libc::pollfd {
            fd: fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: `pfd` is one valid, exclusively borrowed pollfd and nfds
        // is 1; poll only writes its `revents`.
        let rc = unsafe { libc::poll(&mut pfd, 1, ms) };
        match rc {
            0 => return Ok(false),
            n if n > 0 => return Ok(true),
            _ => {
                let err = io::Error::last_os_error();
                if err.kind() != io::ErrorKind::Interrupted {
                    return Err(err);
                }
                if start.elapsed() >= timeout {
                    return Ok(false);
                }
            }
        }
    }
}

/// Outcome of one non-blocking read.
enum Datagram {
    /// `buf` holds one whole datagram from this netlink port (0 = kernel).
    Whole { sender: u32 },
    /// The datagram was larger than `buf` and its tail is lost; `buf` has
    /// been grown for the next one.
    Truncated,
}

/// Reads one datagram into `buf` without blocking.
fn recv_datagram(sock: &Socket, buf: &mut Vec<u8>) -> io::Result<Datagram> {
    buf.clear();
    let room = buf.capacity();
    let (len, from) = sock.recv_from(buf, libc::MSG_DONTWAIT | libc::MSG_TRUNC)?;
    if len > room {
        let want = len
            .checked_next_power_of_two()
            .unwrap_or(RECV_BUF_MAX)
            .min(RECV_BUF_MAX);
        buf.clear();
        buf.reserve(want);
        return Ok(Datagram::Truncated);
    }
    Ok(Datagram::Whole {
        sender: from.port_number(),
    })
}

/// Appends the events of one notification datagram.
fn parse_datagram(data: &[u8], out: &mut Vec<Event>, malformed: &mut u64) {
    for msg in Messages::new(data) {
        let Ok(msg) = msg else {
            *malformed += 1;
            return;
        };
        match parse_event(msg.kind, msg.payload) {
            Ok(Some(event)) => out.push(event),
            Ok(None) => {}
            Err(Malformed(_)) => *malformed += 1,
        }
    }
}

/// One netlink message of a datagram.
#[derive(Debug, Clone, Copy)]
struct RawMsg<'a> {
    kind: u16,
    flags: u16,
    seq: u32,
    port: u32,
    payload: &'a [u8],
}

/// The netlink messages of a datagram; stops after the first one whose
/// header does not fit.
struct Messages<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Messages<'a> {
    fn new(data: &'a [u8]) -> Self {
        Self { data, pos: 0 }
    }
}

impl<'a> Iterator for Messages<'a> {
    type Item = Result<RawMsg<'a>, Malformed>;

    fn next(&mut self) -> Option<Self::Item> {
        let rest = self.data.get(self.pos..).filter(|r| !r.is_empty())?;
        let Ok(buf) = NetlinkBuffer::new_checked(rest) else {
            self.pos = self.data.len();
            return Some(Err(Malformed("netlink header or length")));
        };
        // Messages are padded to 4 bytes (NLMSG_ALIGN).
        let len = buf.length() as usize;
        self.pos = self.pos.saturating_add(len.saturating_add(3) & !3);
        Some(Ok(RawMsg {
            kind: buf.message_type(),
            flags: buf.flags(),
            seq: buf.sequence_number(),
            port: buf.port_number(),
            payload: buf.payload(),
        }))
    }
}

/// A message that does not parse, with what was wrong (for tests and
/// debugging; it is counted, not shown).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Malformed(&'static str);

/// The first 4 bytes as a native-endian `i32` (the error code of
/// `NLMSG_ERROR` and `NLMSG_DONE`).
fn leading_i32(payload: &[u8]) -> Option<i32> {
    let bytes: [u8; 4] = payload.get(..4)?.try_into().ok()?;
    Some(i32::from_ne_bytes(bytes))
}

/// Turns one rtnetlink message into an event: `Ok(None)` for messages that
/// are well-formed but not reported (other types or families, cloned
/// routes, proxy neighbours, bridge links).
fn parse_event(kind: u16, payload: &[u8]) -> Result<Option<Event>, Malformed> {
    Ok(match kind {
        libc::RTM_NEWROUTE => parse_route(payload)?.map(Event::NewRoute),
        libc::RTM_DELROUTE => parse_route(payload)?.map(Event::DelRoute),
        libc::RTM_NEWNEIGH => parse_neigh(payload)?.map(Event::NewNeigh),
        libc::RTM_DELNEIGH => parse_neigh(payload)?.map(Event::DelNeigh),
        libc::RTM_NEWLINK => parse_link(payload)?.map(Event::NewLink),
        libc::RTM_DELLINK => parse_link_index(payload)?.map(Event::DelLink),
        libc::RTM_NEWADDR => parse_addr(payload)?.map(Event::NewAddr),
        libc::RTM_DELADDR => parse_addr(payload)?.map(Event::DelAddr),
        _ => None,
    })
}

/// The attributes after a fixed header of `header_len` bytes.
fn attributes(payload: &[u8], header_len: usize) -> NlasIterator<&[u8]> {
    NlasIterator::new(payload.get(header_len..).unwrap_or_default())
}

/// The unspecified address and the longest prefix of a family, or `None`
/// for families other than IPv4 and IPv6.
fn family_info(family: AddressFamily) -> Option<(IpAddr, u8)> {
    match family {
        AddressFamily::Inet => Some((IpAddr::V4(Ipv4Addr::UNSPECIFIED), 32)),
        AddressFamily::Inet6 => Some((IpAddr::V6(Ipv6Addr::UNSPECIFIED), 128)),
        _ => None,
    }
}

fn route_ip(addr: RouteAddress) -> Result<IpAddr, Malformed> {
    match addr {
        RouteAddress::Inet(a) => Ok(IpAddr::V4(a)),
        RouteAddress::Inet6(a) => Ok(IpAddr::V6(a)),
        _ => Err(Malformed("route address of an unexpected family")),
    }
}

fn parse_route(payload: &[u8]) -> Result<Option<KernelRoute>, Malformed> {
    let header = RouteHeader::parse(payload).map_err(|_| Malformed("short rtmsg"))?;
    let family = header.address_family;
    let Some((unspecified, max_len)) = family_info(family) else {
        return Ok(None);
    };
    if header.flags.contains(RouteFlags::Cloned) {
        return Ok(None);
    }
    if header.destination_prefix_length > max_len {
        return Err(Malformed("route prefix length"));
    }
    let mut route = KernelRoute {
        table: u32::from(header.table),
        dst: unspecified,
        prefix_len: header.destination_prefix_length,
        kind: header.kind.into(),
        oif: None,
        gateway: None,
        metric: 0,
        mtu: None,
        mtu_locked: false,
        multipath: false,
        linkdown: header
            .flags
            .intersects(RouteFlags::Dead | RouteFlags::Linkdown),
        protocol: header.protocol.into(),
    };
    let mut lock = 0u32;
    for nla in attributes(payload, RTMSG_LEN) {
        let nla = nla.map_err(|_| Malformed("route attribute framing"))?;
        match nla.kind() {
            libc::RTA_DST
            | libc::RTA_GATEWAY
            | libc::RTA_VIA
            | libc::RTA_OIF
            | libc::RTA_PRIORITY
            | libc::RTA_TABLE => {
                let param = (family, header.kind, RouteLwEnCapType::None);
                let attr = RouteAttribute::parse_with_param(&nla, param)
                    .map_err(|_| Malformed("route attribute value"))?;
                match attr {
                    RouteAttribute::Destination(a) => route.dst = route_ip(a)?,
                    RouteAttribute::Gateway(a) => route.gateway = Some(route_ip(a)?),
                    RouteAttribute::Via(RouteVia::Inet(a)) => route.gateway = Some(IpAddr::V4(a)),
                    RouteAttribute::Via(RouteVia::Inet6(a)) => route.gateway = Some(IpAddr::V6(a)),
                    RouteAttribute::Via(_) => return Err(Malformed("RTA_VIA of a non-IP family")),
                    RouteAttribute::Oif(i) => route.oif = Some(i),
                    RouteAttribute::Priority(p) => route.metric = p,
                    RouteAttribute::Table(t) => route.table = t,
                    _ => {}
                }
            }
            libc::RTA_METRICS => {
                for metric in NlasIterator::new(nla.value()) {
                    let metric = metric.map_err(|_| Malformed("RTA_METRICS framing"))?;
                    if metric.kind() != RTAX_MTU && metric.kind() != RTAX_LOCK {
                        continue;
                    }
                    match RouteMetric::parse(&metric) {
                        Ok(RouteMetric::Mtu(v)) => route.mtu = (v != 0).then_some(v),
                        Ok(RouteMetric::Lock(v)) => lock = v,
                        _ => return Err(Malformed("RTAX_MTU/RTAX_LOCK value")),
                    }
                }
            }
            libc::RTA_MULTIPATH => {
                route.multipath = true;
                if all_next_hops_down(nla.value())? {
                    route.linkdown = true;
                }
            }
            _ => {}
        }
    }
    route.mtu_locked = lock & (1 << RTAX_MTU) != 0;
    Ok(Some(route))
}

/// Walks the `struct rtnexthop` entries of `RTA_MULTIPATH`; true when there
/// is at least one and each is dead or link-down.
fn all_next_hops_down(mut data: &[u8]) -> Result<bool, Malformed> {
    let mut any = false;
    let mut all_down = true;
    while !data.is_empty() {
        // struct rtnexthop { u16 len; u8 flags; u8 hops; i32 ifindex; }
        let (Some(len), Some(&flags)) = (data.get(..2), data.get(2)) else {
            return Err(Malformed("rtnexthop header"));
        };
        let len = usize::from(u16::from_ne_bytes([len[0], len[1]]));
        if len < RTNEXTHOP_LEN || len > data.len() {
            return Err(Malformed("rtnexthop length"));
        }
        any = true;
        let flags = RouteNextHopFlags::from_bits_retain(flags);
        if !flags.intersects(RouteNextHopFlags::Dead | RouteNextHopFlags::Linkdown) {
            all_down = false;
        }
        // Entries are padded to 4 bytes (RTNH_ALIGN).
        data = data.get((len + 3) & !3..).unwrap_or_default();
    }
    Ok(any && all_down)
}

fn parse_neigh(payload: &[u8]) -> Result<Option<KernelNeigh>, Malformed> {
    let header = NeighbourHeader::parse(payload).map_err(|_| Malformed("short ndmsg"))?;
    if family_info(header.family).is_none() || header.flags.contains(NeighbourFlags::Proxy) {
        return Ok(None);
    }
    let mut ip = None;
    let mut mac = None;
    for nla in attributes(payload, NDMSG_LEN) {
        let nla = nla.map_err(|_| Malformed("neighbour attribute framing"))?;
        if nla.kind() != libc::NDA_DST && nla.kind() != libc::NDA_LLADDR {
            continue;
        }
        match NeighbourAttribute::parse_with_param(&nla, header.family) {
            Ok(NeighbourAttribute::Destination(NeighbourAddress::Inet(a))) => {
                ip = Some(IpAddr::V4(a))
            }
            Ok(NeighbourAttribute::Destination(NeighbourAddress::Inet6(a))) => {
                ip = Some(IpAddr::V6(a))
            }
            Ok(NeighbourAttribute::LinkLayerAddress(bytes)) => {
                mac = <[u8; 6]>::try_from(bytes.as_slice()).ok()
            }
            _ => return Err(Malformed("NDA_DST value")),
        }
    }
    let ip = ip.ok_or(Malformed("neighbour without NDA_DST"))?;
    Ok(Some(KernelNeigh {
        ifindex: header.ifindex,
        ip,
        mac,
        state: header.state.into(),
        router: header.flags.contains(NeighbourFlags::Router),
    }))
}

/// The header of a generic (`AF_UNSPEC`) link message; `None` for the
/// other families' copies.
fn generic_link_header(payload: &[u8]) -> Result<Option<LinkHeader>, Malformed> {
    let header = LinkHeader::parse(payload).map_err(|_| Malformed("short ifinfomsg"))?;
    if header.interface_family != AddressFamily::Unspec {
        return Ok(None);
    }
    if header.index == 0 {
        return Err(Malformed("link index 0"));
    }
    Ok(Some(header))
}

/// The index of an `RTM_DELLINK` (nothing else is needed to forget a link).
fn parse_link_index(payload: &[u8]) -> Result<Option<u32>, Malformed> {
    Ok(generic_link_header(payload)?.map(|h| h.index))
}

fn parse_link(payload: &[u8]) -> Result<Option<KernelLink>, Malformed> {
    let Some(header) = generic_link_header(payload)? else {
        return Ok(None);
    };
    let mut name = None;
    let mut mtu = None;
    let mut mac = None;
    for nla in attributes(payload, IFINFOMSG_LEN) {
        let nla = nla.map_err(|_| Malformed("link attribute framing"))?;
        match nla.kind() {
            // Parsed here rather than by the crate, which refuses names
            // that are not UTF-8 (the kernel allows any byte but '/', ':'
            // and whitespace).
            libc::IFLA_IFNAME => name = Some(ifname(nla.value())),
            libc::IFLA_MTU | libc::IFLA_ADDRESS => {
                match LinkAttribute::parse_with_param(&nla, header.interface_family) {
                    Ok(LinkAttribute::Mtu(v)) => mtu = Some(v),
                    Ok(LinkAttribute::Address(bytes)) => {
                        mac = <[u8; 6]>::try_from(bytes.as_slice()).ok()
                    }
                    _ => return Err(Malformed("IFLA_MTU value")),
                }
            }
            _ => {}
        }
    }
    Ok(Some(KernelLink {
        ifindex: header.index,
        name: name.ok_or(Malformed("link without IFLA_IFNAME"))?,
        up: header.flags.contains(LinkFlags::Up),
        running: header.flags.contains(LinkFlags::Running),
        mac,
        mtu: mtu.ok_or(Malformed("link without IFLA_MTU"))?,
    }))
}

/// An `IFLA_IFNAME` value: up to the first NUL, lossily as UTF-8.
fn ifname(value: &[u8]) -> String {
    let end = value.iter().position(|&b| b == 0).unwrap_or(value.len());
    String::from_utf8_lossy(value.get(..end).unwrap_or_default()).into_owned()
}

fn parse_addr(payload: &[u8]) -> Result<Option<KernelAddr>, Malformed> {
    let header = AddressHeader::parse(payload).map_err(|_| Malformed("short ifaddrmsg"))?;
    let Some((unspecified, max_len)) = family_info(header.family) else {
        return Ok(None);
    };
    if header.prefix_len > max_len {
        return Err(Malformed("address prefix length"));
    }
    let mut local = None;
    let mut address = None;
    for nla in attributes(payload, IFADDRMSG_LEN) {
        let nla = nla.map_err(|_| Malformed("address attribute framing"))?;
        if nla.kind() != libc::IFA_LOCAL && nla.kind() != libc::IFA_ADDRESS {
            continue;
        }
        match AddressAttribute::parse(&nla) {
            Ok(AddressAttribute::Local(ip)) => local = Some(ip),
            Ok(AddressAttribute::Address(ip)) => address = Some(ip),
            _ => return Err(Malformed("IFA_LOCAL/IFA_ADDRESS value")),
        }
    }
    // IFA_LOCAL is the local address; IFA_ADDRESS is the peer on
    // point-to-point links and the local address everywhere else.
    let addr = local
        .or(address)
        .ok_or(Malformed("address without IFA_LOCAL or IFA_ADDRESS"))?;
    if addr.is_ipv4() != unspecified.is_ipv4() {
        return Err(Malformed("address of the other family"));
    }
    Ok(Some(KernelAddr {
        ifindex: header.index,
        addr,
        prefix_len: header.prefix_len,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use netlink_packet_core::Emitable;
    use netlink_packet_route::route::{RouteNextHop, RouteProtocol, RouteScope};
    use proptest::prelude::*;
    use std::process::Command;

    fn v4(s: &str) -> IpAddr {
        IpAddr::V4(s.parse().unwrap())
    }

    fn v6(s: &str) -> IpAddr {
        IpAddr::V6(s.parse().unwrap())
    }

    /// Emits a crate-built message, as the kernel would send its payload.
    fn emit(msg: &impl Emitable) -> Vec<u8> {
        let mut buf = vec![0; msg.buffer_len()];
        msg.emit(&mut buf);
        buf
    }

    /// Wraps a payload in a netlink header (seq 1, port 0).
    fn nlmsg(kind: u16, flags: u16, payload: &[u8]) -> Vec<u8> {
        nlmsg_to(kind, flags, 1, 0, payload)
    }

    /// Wraps a payload in a netlink header, padded to 4 bytes.
    fn nlmsg_to(kind: u16, flags: u16, seq: u32, port: u32, payload: &[u8]) -> Vec<u8> {
        let len = 16 + payload.len();
        let mut out = Vec::new();
        out.extend_from_slice(&(len as u32).to_ne_bytes());
        out.extend_from_slice(&kind.to_ne_bytes());
        out.extend_from_slice(&flags.to_ne_bytes());
        out.extend_from_slice(&seq.to_ne_bytes());
        out.extend_from_slice(&port.to_ne_bytes());
        out.extend_from_slice(payload);
        out.resize((out.len() + 3) & !3, 0);
        out
    }

    fn v4_route(attrs: Vec<RouteAttribute>) -> RouteMessage {
        let mut m = RouteMessage::default();
        m.header.address_family = AddressFamily::Inet;
        m.header.destination_prefix_length = 24;
        m.header.table = 254;
        m.header.protocol = RouteProtocol::Static;
        m.header.scope = RouteScope::Universe;
        m.header.kind = RtnType::Unicast;
        m.attributes = attrs;
        m
    }

    #[test]
    fn route_fields_come_from_header_and_attributes() {
        let m = v4_route(vec![
            RouteAttribute::Table(1000),
            RouteAttribute::Destination(RouteAddress::Inet("198.18.6.0".parse().unwrap())),
            RouteAttribute::Priority(42),
            RouteAttribute::Gateway(RouteAddress::Inet("198.18.0.2".parse().unwrap())),
            RouteAttribute::Oif(7),
            RouteAttribute::Metrics(vec![
                RouteMetric::Hoplimit(9),
                RouteMetric::Mtu(1300),
                RouteMetric::Lock(1 << RTAX_MTU),
                RouteMetric::CcAlgo("cubic".into()),
            ]),
            RouteAttribute::Mark(5), // known to the crate, not used here
        ]);
        let r = parse_route(&emit(&m)).unwrap().unwrap();
        assert_eq!(
            r,
            KernelRoute {
                table: 1000,
                dst: v4("198.18.6.0"),
                prefix_len: 24,
                kind: RouteType::Unicast,
                oif: Some(7),
                gateway: Some(v4("198.18.0.2")),
                metric: 42,
                mtu: Some(1300),
                mtu_locked: true,
                multipath: false,
                linkdown: false,
                protocol: 4,
            }
        );

        // Without RTA_TABLE the header's table counts; a lock of another
        // metric does not lock the MTU.
        let mut m = v4_route(vec![RouteAttribute::Metrics(vec![
            RouteMetric::Mtu(1400),
            RouteMetric::Lock(1 << 8),
        ])]);
        m.header.kind = RtnType::BlackHole;
        m.header.destination_prefix_length = 0;
        m.header.flags = RouteFlags::Linkdown;
        let r = parse_route(&emit(&m)).unwrap().unwrap();
        assert_eq!(r.table, 254);
        assert_eq!(r.dst, v4("0.0.0.0"));
        assert_eq!(r.prefix_len, 0);
        assert_eq!(r.kind, RouteType::Blackhole);
        assert_eq!((r.mtu, r.mtu_locked), (Some(1400), false));
        assert!(r.linkdown);
        assert_eq!((r.oif, r.gateway, r.metric), (None, None, 0));
    }

    #[test]
    fn route_types_map_one_to_one() {
        for (raw, want) in [
            (1, RouteType::Unicast),
            (2, RouteType::Local),
            (3, RouteType::Broadcast),
            (4, RouteType::Anycast),
            (5, RouteType::Multicast),
            (6, RouteType::Blackhole),
            (7, RouteType::Unreachable),
            (8, RouteType::Prohibit),
            (9, RouteType::Throw),
            (0, RouteType::Other(0)),
            (10, RouteType::Other(10)),
            (200, RouteType::Other(200)),
        ] {
            assert_eq!(RouteType::from(RtnType::from(raw)), want, "{raw}");
        }
    }

    #[test]
    fn ipv4_route_via_an_ipv6_gateway() {
        let m = v4_route(vec![
            RouteAttribute::Destination(RouteAddress::Inet("198.18.11.0".parse().unwrap())),
            RouteAttribute::Via(RouteVia::Inet6("fd00:0:0:1::2".parse().unwrap())),
        ]);
        let r = parse_route(&emit(&m)).unwrap().unwrap();
        assert_eq!(r.gateway, Some(v6("fd00:0:0:1::2")));

        let m = v4_route(vec![RouteAttribute::Via(RouteVia::Packet(vec![1, 2, 3]))]);
        assert!(parse_route(&emit(&m)).is_err());
    }

    #[test]
    fn multipath_is_linkdown_only_when_every_next_hop_is() {
        let hop = |flags: RouteNextHopFlags, gw: &str| {
            let mut nh = RouteNextHop::default();
            nh.flags = flags;
            nh.interface_index = 3;
            nh.attributes = vec![RouteAttribute::Gateway(RouteAddress::Inet(
                gw.parse().unwrap(),
            ))];
            nh
        };
        let down = RouteNextHopFlags::Linkdown;
        let dead = RouteNextHopFlags::Dead | RouteNextHopFlags::Linkdown;
        let up = RouteNextHopFlags::Onlink;
        for (hops, want) in [
            (vec![hop(down, "198.18.0.2"), hop(up, "198.18.0.3")], false),
            (vec![hop(down, "198.18.0.2"), hop(dead, "198.18.0.3")], true),
            (vec![], false),
        ] {
            let m = v4_route(vec![RouteAttribute::MultiPath(hops)]);
            let r = parse_route(&emit(&m)).unwrap().unwrap();
            assert!(r.multipath);
            assert_eq!(r.linkdown, want);
            assert_eq!((r.oif, r.gateway), (None, None));
        }
        // A next hop claiming more bytes than there are.
        assert!(all_next_hops_down(&[0x40, 0, 0, 0, 1, 0, 0, 0]).is_err());
        assert!(all_next_hops_down(&[4, 0, 0, 0]).is_err());
        assert!(all_next_hops_down(&[8, 0]).is_err());
    }

    #[test]
    fn cloned_and_foreign_routes_are_not_reported() {
        let mut m = v4_route(vec![]);
        m.header.flags = RouteFlags::Cloned;
        assert_eq!(parse_route(&emit(&m)), Ok(None));
        let mut m = v4_route(vec![]);
        m.header.address_family = AddressFamily::Mpls;
        assert_eq!(parse_route(&emit(&m)), Ok(None));
        let mut m = v4_route(vec![]);
        m.header.destination_prefix_length = 33;
        assert!(parse_route(&emit(&m)).is_err());
        // A destination of the wrong size for the family.
        let mut m = v4_route(vec![RouteAttribute::Destination(RouteAddress::Inet6(
            Ipv6Addr::LOCALHOST,
        ))]);
        m.header.destination_prefix_length = 8;
        assert!(parse_route(&emit(&m)).is_err());
    }

    /// A datagram written byte by byte as the kernel sends it: an IPv6
    /// route (`fd00:0:0:5::/64 dev 3 metric 1024 proto boot`), then a
    /// message whose length runs past the end.
    #[test]
    fn byte_exact_datagram() {
        #[rustfmt::skip]
        let mut data: Vec<u8> = vec![
            // nlmsghdr: len 80, RTM_NEWROUTE, flags 0, seq 0, pid 0
            80, 0, 0, 0,  24, 0,  0, 0,  0, 0, 0, 0,  0, 0, 0, 0,
            // rtmsg: AF_INET6, dst_len 64, src_len 0, tos 0, table 254,
            // proto boot, scope universe, type unicast, flags 0
            10, 64, 0, 0, 254, 3, 0, 1,  0, 0, 0, 0,
            // RTA_TABLE 254
            8, 0, 15, 0,  254, 0, 0, 0,
            // RTA_DST fd00:0:0:5::
            20, 0, 1, 0,  0xfd, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0, 0,
            // RTA_OIF 3
            8, 0, 4, 0,  3, 0, 0, 0,
            // RTA_PRIORITY 1024
            8, 0, 6, 0,  0, 4, 0, 0,
            // an attribute of a type nobody knows (99): ignored
            8, 0, 99, 0,  1, 2, 3, 4,
        ];
        assert_eq!(data.len(), 80);
        let whole = data.len();
        // Second message: header says 64 bytes, only 20 are there.
        data.extend_from_slice(&[
            64, 0, 0, 0, 24, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 10, 0, 0, 0,
        ]);
        let mut out = Vec::new();
        let mut malformed = 0;
        parse_datagram(&data, &mut out, &mut malformed);
        assert_eq!(malformed, 1);
        assert_eq!(
            out,
            vec![Event::NewRoute(KernelRoute {
                table: 254,
                dst: v6("fd00:0:0:5::"),
                prefix_len: 64,
                kind: RouteType::Unicast,
                oif: Some(3),
                gateway: None,
                metric: 1024,
                mtu: None,
                mtu_locked: false,
                multipath: false,
                linkdown: false,
                protocol: 3,
            })]
        );
        // Cut anywhere: never a panic, never an invented event.
        for cut in 0..whole {
            let mut out = Vec::new();
            parse_datagram(&data[..cut], &mut out, &mut malformed);
            assert!(out.is_empty(), "cut at {cut}: {out:?}");
        }
    }

    #[test]
    fn neighbours() {
        let neigh = |family, flags: NeighbourFlags, state: u16, attrs| {
            let mut m = NeighbourMessage::default();
            m.header.family = family;
            m.header.ifindex = 4;
            m.header.state = state.into();
            m.header.flags = flags;
            m.attributes = attrs;
            emit(&m)
        };
        let dst =
            NeighbourAttribute::Destination(NeighbourAddress::Inet("198.18.0.2".parse().unwrap()));
        let mac = NeighbourAttribute::LinkLayerAddress(vec![2, 0, 0, 0, 0, 2]);
        let n = parse_neigh(&neigh(
            AddressFamily::Inet,
            NeighbourFlags::empty(),
            libc::NUD_PERMANENT,
            vec![dst.clone(), mac.clone()],
        ))
        .unwrap()
        .unwrap();
        assert_eq!(
            n,
            KernelNeigh {
                ifindex: 4,
                ip: v4("198.18.0.2"),
                mac: Some([2, 0, 0, 0, 0, 2]),
                state: libc::NUD_PERMANENT,
                router: false,
            }
        );
        assert!(n.usable());
        for (state, usable) in [
            (libc::NUD_REACHABLE, true),
            (libc::NUD_STALE, true),
            (libc::NUD_DELAY, true),
            (libc::NUD_PROBE, true),
            (libc::NUD_NOARP, true),
            (libc::NUD_INCOMPLETE, false),
            (libc::NUD_FAILED, false),
            (libc::NUD_NONE, false),
        ] {
            let n = KernelNeigh { state, ..n.clone() };
            assert_eq!(n.usable(), usable, "state {state:#x}");
            assert!(!KernelNeigh { mac: None, ..n }.usable());
        }

        let dst6 = NeighbourAttribute::Destination(NeighbourAddress::Inet6(
            "fd00:0:0:1::2".parse().unwrap(),
        ));
        let n = parse_neigh(&neigh(
            AddressFamily::Inet6,
            NeighbourFlags::Router,
            libc::NUD_STALE,
            vec![
                dst6.clone(),
                NeighbourAttribute::LinkLayerAddress(vec![1, 2, 3]),
            ],
        ))
        .unwrap()
        .unwrap();
        assert_eq!((n.ip, n.mac, n.router), (v6("fd00:0:0:1::2"), None, true));

        // Proxy entries and bridge FDB entries are not neighbours.
        let proxy = neigh(
            AddressFamily::Inet,
            NeighbourFlags::Proxy,
            0,
            vec![dst.clone()],
        );
        assert_eq!(parse_neigh(&proxy), Ok(None));
        let fdb = neigh(AddressFamily::Bridge, NeighbourFlags::empty(), 0, vec![mac]);
        assert_eq!(parse_neigh(&fdb), Ok(None));
        // No address, or one of the wrong size.
        let none = neigh(AddressFamily::Inet, NeighbourFlags::empty(), 0, vec![]);
        assert!(parse_neigh(&none).is_err());
        let wrong = neigh(AddressFamily::Inet, NeighbourFlags::empty(), 0, vec![dst6]);
        assert!(parse_neigh(&wrong).is_err());
    }

    #[test]
    fn links() {
        let link = |family, flags: LinkFlags, attrs| {
            let mut m = LinkMessage::default();
            m.header.interface_family = family;
            m.header.index = 9;
            m.header.flags = flags;
            m.attributes = attrs;
            emit(&m)
        };
        let attrs = vec![
            LinkAttribute::IfName("d0".into()),
            LinkAttribute::Mtu(1500),
            LinkAttribute::Address(vec![2, 0, 0, 0, 0, 9]),
            LinkAttribute::TxQueueLen(1000),
        ];
        let l = parse_link(&link(AddressFamily::Unspec, LinkFlags::Up, attrs.clone()))
            .unwrap()
            .unwrap();
        assert_eq!(
            l,
            KernelLink {
                ifindex: 9,
                name: "d0".into(),
                up: true,
                running: false,
                mac: Some([2, 0, 0, 0, 0, 9]),
                mtu: 1500,
            }
        );
        let l = parse_link(&link(
            AddressFamily::Unspec,
            LinkFlags::Up | LinkFlags::Running,
            attrs.clone(),
        ))
        .unwrap()
        .unwrap();
        assert!(l.up && l.running);
        // The copies a bridge sends for its ports are not links.
        let bridge = link(AddressFamily::Bridge, LinkFlags::Up, attrs.clone());
        assert_eq!(parse_link(&bridge), Ok(None));
        assert_eq!(
            parse_event(libc::RTM_DELLINK, &bridge),
            Ok(None),
            "a port leaving a bridge is not a deleted link"
        );
        let del = link(AddressFamily::Unspec, LinkFlags::empty(), vec![]);
        assert_eq!(
            parse_event(libc::RTM_DELLINK, &del),
            Ok(Some(Event::DelLink(9)))
        );
        assert!(
            parse_link(&del).is_err(),
            "RTM_NEWLINK needs a name and an MTU"
        );

        // A name that is not UTF-8 still names the link.
        let mut raw = link(
            AddressFamily::Unspec,
            LinkFlags::empty(),
            vec![LinkAttribute::Mtu(9000)],
        );
        raw.extend_from_slice(&[8, 0, libc::IFLA_IFNAME as u8, 0, b'x', 0xff, 0, 0]);
        let l = parse_link(&raw).unwrap().unwrap();
        assert_eq!((l.name.as_str(), l.mtu, l.mac), ("x\u{fffd}", 9000, None));
    }

    #[test]
    fn addresses() {
        let addr = |family, prefix_len, attrs| {
            let mut m = AddressMessage::default();
            m.header.family = family;
            m.header.prefix_len = prefix_len;
            m.header.index = 3;
            m.attributes = attrs;
            emit(&m)
        };
        // Point-to-point: IFA_LOCAL is ours, IFA_ADDRESS the peer.
        let a = parse_addr(&addr(
            AddressFamily::Inet,
            32,
            vec![
                AddressAttribute::Address(v4("198.18.0.9")),
                AddressAttribute::Local(v4("198.18.0.1")),
            ],
        ))
        .unwrap()
        .unwrap();
        assert_eq!(
            a,
            KernelAddr {
                ifindex: 3,
                addr: v4("198.18.0.1"),
                prefix_len: 32
            }
        );
        let a = parse_addr(&addr(
            AddressFamily::Inet6,
            64,
            vec![AddressAttribute::Address(v6("fd00:0:0:1::1"))],
        ))
        .unwrap()
        .unwrap();
        assert_eq!((a.addr, a.prefix_len), (v6("fd00:0:0:1::1"), 64));
        let bad = addr(
            AddressFamily::Inet,
            33,
            vec![AddressAttribute::Local(v4("198.18.0.1"))],
        );
        assert!(parse_addr(&bad).is_err());
        let mixed = addr(
            AddressFamily::Inet,
            24,
            vec![AddressAttribute::Local(v6("fd00::1"))],
        );
        assert!(parse_addr(&mixed).is_err());
        assert!(parse_addr(&addr(AddressFamily::Inet, 24, vec![])).is_err());
        assert_eq!(
            parse_addr(&addr(AddressFamily::Packet, 0, vec![])),
            Ok(None)
        );
    }

    #[test]
    fn dump_replies_end_retry_or_fail() {
        const MULTI: u16 = netlink_packet_core::NLM_F_MULTIPART;
        let (seq, port) = (5, 77);
        let route = emit(&v4_route(vec![RouteAttribute::Destination(
            RouteAddress::Inet("198.18.6.0".parse().unwrap()),
        )]));
        let code = |c: i32| {
            // An NLMSG_ERROR carries the request's header after the code.
            let mut p = c.to_ne_bytes().to_vec();
            p.extend_from_slice(&[0; 16]);
            p
        };
        let done = nlmsg_to(NLMSG_DONE, MULTI, seq, port, &code(0)[..4]);

        // A clean dump over two datagrams; stale and foreign replies skipped.
        let mut r = Replies::default();
        let mut first = nlmsg_to(libc::RTM_NEWROUTE, MULTI, seq, port, &route);
        first.extend(nlmsg_to(libc::RTM_NEWROUTE, MULTI, seq - 1, port, &route));
        first.extend(nlmsg_to(libc::RTM_NEWROUTE, MULTI, seq, port + 1, &route));
        first.extend(nlmsg_to(NLMSG_DONE, MULTI, seq - 1, port, &code(0)[..4]));
        r.absorb(Request::Route, &first, seq, port).unwrap();
        assert!(!r.done);
        r.absorb(Request::Route, &done, seq, port).unwrap();
        assert!(r.done);
        assert_eq!(r.spoiled, None);
        assert_eq!(r.events.len(), 1);

        // An empty NLMSG_DONE ends it too; an ACK does not.
        let mut r = Replies::default();
        r.absorb(
            Request::Route,
            &nlmsg_to(NLMSG_ERROR, 0, seq, port, &code(0)),
            seq,
            port,
        )
        .unwrap();
        assert!(!r.done);
        r.absorb(
            Request::Route,
            &nlmsg_to(NLMSG_DONE, MULTI, seq, port, &[]),
            seq,
            port,
        )
        .unwrap();
        assert!(r.done && r.spoiled.is_none());

        // NLM_F_DUMP_INTR on any message: retry.
        let mut r = Replies::default();
        let mut d = nlmsg_to(
            libc::RTM_NEWROUTE,
            MULTI | NLM_F_DUMP_INTR,
            seq,
            port,
            &route,
        );
        d.extend_from_slice(&done);
        r.absorb(Request::Route, &d, seq, port).unwrap();
        assert!(r.done);
        assert!(r.spoiled.unwrap().contains("NLM_F_DUMP_INTR"));

        // EINTR, in NLMSG_ERROR or in NLMSG_DONE: retry.
        for kind in [NLMSG_ERROR, NLMSG_DONE] {
            let mut r = Replies::default();
            let m = nlmsg_to(kind, 0, seq, port, &code(-libc::EINTR));
            r.absorb(Request::Route, &m, seq, port).unwrap();
            assert!(r.done);
            assert!(r.spoiled.unwrap().contains("EINTR"), "{kind}");
        }

        // Any other error fails the dump and names it.
        for kind in [NLMSG_ERROR, NLMSG_DONE] {
            let m = nlmsg_to(kind, 0, seq, port, &code(-libc::EPERM));
            let err = Replies::default()
                .absorb(Request::Neigh, &m, seq, port)
                .unwrap_err();
            let text = err.to_string();
            assert!(
                text.starts_with("RTM_GETNEIGH dump: the kernel answered"),
                "{text}"
            );
            assert!(
                matches!(err, NetlinkError::Kernel { ref err, .. } if err.raw_os_error() == Some(libc::EPERM))
            );
        }

        // Broken framing: the attempt is spoiled (and will time out or end).
        let mut r = Replies::default();
        r.absorb(Request::Route, &[1, 2, 3], seq, port).unwrap();
        assert!(r.spoiled.is_some());
    }

    #[test]
    fn dump_request_bytes() {
        #[rustfmt::skip]
        let want: Vec<u8> = vec![
            28, 0, 0, 0,  26, 0,  0x01, 0x03,  7, 0, 0, 0,  0, 0, 0, 0,
            0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        ];
        assert_eq!(Request::Route.encode(7), want);
        let link = Request::Link.encode(1);
        assert_eq!(
            (link.len(), link[4]),
            (16 + IFINFOMSG_LEN, libc::RTM_GETLINK as u8)
        );
        let addr = Request::Addr.encode(1);
        assert_eq!(
            (addr.len(), addr[4]),
            (16 + IFADDRMSG_LEN, libc::RTM_GETADDR as u8)
        );
        let neigh = Request::Neigh.encode(1);
        assert_eq!(
            (neigh.len(), neigh[4]),
            (16 + NDMSG_LEN, libc::RTM_GETNEIGH as u8)
        );
    }

    #[test]
    fn errors_name_the_request() {
        let e = NetlinkError::Kernel {
            request: Request::Route.name(),
            err: io::Error::from_raw_os_error(libc::EPERM),
        };
        assert!(e.to_string().starts_with("RTM_GETROUTE dump: "), "{e}");
        let e = NetlinkError::Io {
            context: Request::Neigh.context(),
            call: "recvfrom",
            err: io::Error::from_raw_os_error(libc::EBADF),
        };
        assert!(
            e.to_string()
                .starts_with("RTM_GETNEIGH dump: recvfrom failed"),
            "{e}"
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn arbitrary_bytes_never_panic(kind in 0u16..40, bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = parse_event(kind, &bytes);
            let mut out = Vec::new();
            let mut malformed = 0;
            parse_datagram(&bytes, &mut out, &mut malformed);
            let _ = all_next_hops_down(&bytes);
        }

        #[test]
        fn damaged_messages_never_panic(at in 0usize..200, byte in any::<u8>(), cut in 0usize..200) {
            let route = emit(&v4_route(vec![
                RouteAttribute::Destination(RouteAddress::Inet("198.18.6.0".parse().unwrap())),
                RouteAttribute::Oif(7),
                RouteAttribute::Metrics(vec![RouteMetric::Mtu(1300), RouteMetric::Lock(4)]),
                RouteAttribute::MultiPath(vec![RouteNextHop::default()]),
            ]));
            let mut msg = route.clone();
            if let Some(b) = msg.get_mut(at) {
                *b = byte;
            }
            msg.truncate(cut);
            for kind in [libc::RTM_NEWROUTE, libc::RTM_NEWNEIGH, libc::RTM_NEWLINK, libc::RTM_DELLINK, libc::RTM_NEWADDR] {
                let _ = parse_event(kind, &msg);
                let mut out = Vec::new();
                let mut malformed = 0;
                parse_datagram(&nlmsg(kind, 0, &msg), &mut out, &mut malformed);
            }
        }
    }

    #[test]
    fn neigh_use_requests_carry_ntf_use_and_the_address() {
        for (addr, family, len) in [
            ("198.18.1.7".parse::<IpAddr>().unwrap(), libc::AF_INET, 4),
            ("fd00:0:0:2::7".parse().unwrap(), libc::AF_INET6, 16),
        ] {
            let b = encode_neigh_use(42, 13, addr);
            let nlmsg_type = u16::from_ne_bytes([b[4], b[5]]);
            let flags = u16::from_ne_bytes([b[6], b[7]]);
            assert_eq!(nlmsg_type, libc::RTM_NEWNEIGH);
            assert_eq!(flags, NLM_F_REQUEST, "no ACK, no CREATE/REPLACE");
            assert_eq!(u32::from_ne_bytes([b[8], b[9], b[10], b[11]]), 42);
            // struct ndmsg: family, pad x3, ifindex, state (u16), flags, type.
            let ndm = &b[16..28];
            assert_eq!(i32::from(ndm[0]), family);
            assert_eq!(u32::from_ne_bytes([ndm[4], ndm[5], ndm[6], ndm[7]]), 13);
            assert_eq!(u16::from_ne_bytes([ndm[8], ndm[9]]), 0, "no state");
            assert_eq!(ndm[10], libc::NTF_USE);
            // One attribute: NDA_DST with the address.
            let rta = &b[28..];
            assert_eq!(u16::from_ne_bytes([rta[0], rta[1]]) as usize, 4 + len);
            assert_eq!(u16::from_ne_bytes([rta[2], rta[3]]), libc::NDA_DST);
            let want = match addr {
                IpAddr::V4(a) => a.octets().to_vec(),
                IpAddr::V6(a) => a.octets().to_vec(),
            };
            assert_eq!(&rta[4..4 + len], &want[..]);
        }
    }

    // ---- against the kernel, in a throwaway namespace (needs root) ----

    /// A namespace made for one test; deleted on drop, even on panic.
    struct TestNs(String);

    impl TestNs {
        /// A fresh namespace with `d0 <-> d1` (veth, both up), `lo` up,
        /// and 198.18.0.1/24 + fd00:0:0:1::1/64 on d0. `None` when not root.
        fn new(tag: &str) -> Option<TestNs> {
            if !crate::privileges::is_root() {
                eprintln!("skipped: needs root to create a network namespace");
                return None;
            }
            let ns = TestNs(format!("{}-ns", crate::netns::unique_prefix(tag)));
            {
                let _lock = crate::netns::admin_lock();
                run(&["netns", "add", &ns.0]);
            }
            ns.ip("link add d0 type veth peer name d1");
            ns.ip("link set lo up");
            ns.ip("link set d0 up");
            ns.ip("link set d1 up");
            ns.ip("addr add 198.18.0.1/24 dev d0");
            ns.ip("addr add fd00:0:0:1::1/64 dev d0 nodad");
            Some(ns)
        }

        /// `ip -n NS ARGS` (`args` split at spaces), asserting success.
        fn ip(&self, args: &str) {
            let mut all = vec!["-n", self.0.as_str()];
            all.extend(args.split_whitespace());
            run(&all);
        }

        fn dump(&self) -> Snapshot {
            crate::netns::in_netns(&self.0, dump).unwrap().unwrap()
        }

        fn ifindex(&self, name: &str) -> u32 {
            crate::netns::in_netns(&self.0, || crate::netns::ifindex(name))
                .unwrap()
                .unwrap()
        }

        /// Dumps until `ok` holds (at most 3 s; link state settles
        /// asynchronously), returning the last snapshot.
        fn dump_until(&self, what: &str, ok: impl Fn(&Snapshot) -> bool) -> Snapshot {
            let deadline = Instant::now() + Duration::from_secs(3);
            loop {
                let snap = self.dump();
                if ok(&snap) {
                    return snap;
                }
                assert!(Instant::now() < deadline, "never saw {what}: {snap:#?}");
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }

    impl Drop for TestNs {
        fn drop(&mut self) {
            let _lock = crate::netns::admin_lock();
            let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
        }
    }

    fn run(args: &[&str]) {
        let out = Command::new("ip").args(args).output().expect("running ip");
        assert!(
            out.status.success(),
            "ip {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn find_route(snap: &Snapshot, table: u32, dst: IpAddr, len: u8) -> &KernelRoute {
        snap.routes
            .iter()
            .find(|r| r.table == table && r.dst == dst && r.prefix_len == len)
            .unwrap_or_else(|| panic!("no route {dst}/{len} in table {table}: {:#?}", snap.routes))
    }

    fn link<'a>(snap: &'a Snapshot, name: &str) -> &'a KernelLink {
        snap.links
            .iter()
            .find(|l| l.name == name)
            .unwrap_or_else(|| panic!("no link {name}: {:#?}", snap.links))
    }

    #[test]
    fn dump_reports_the_namespace_state() {
        let Some(ns) = TestNs::new("nldump") else {
            return;
        };
        for route in [
            "route add 198.18.5.0/24 via 198.18.0.2",
            "route add 198.18.6.0/24 dev d0 mtu 1400",
            "route add 198.18.7.0/24 dev d0 mtu lock 1300",
            "route add blackhole 198.18.8.0/24",
            "route add unreachable 198.18.9.0/24",
            "route add fd00:0:0:5::/64 via fd00:0:0:1::2",
            "route add 198.18.11.0/24 via inet6 fd00:0:0:1::2 dev d0",
            "route add 198.18.12.0/24 nexthop via 198.18.0.2 nexthop via 198.18.0.3",
            "route add 198.18.13.0/24 via 198.18.0.2 table 100 metric 7",
            "neigh add 198.18.0.2 lladdr 02:00:00:00:00:02 dev d0 nud permanent",
        ] {
            ns.ip(route);
        }
        let d0 = ns.ifindex("d0");
        let d0_mac = crate::netns::in_netns(&ns.0, || crate::netns::mac_of("d0"))
            .unwrap()
            .unwrap();
        let snap = ns.dump_until("d0 running", |s| link(s, "d0").running);

        // Links: d0 (and only this namespace's: lo, d0, d1).
        let l = link(&snap, "d0");
        assert_eq!(
            (l.ifindex, l.up, l.mtu, l.mac),
            (d0, true, 1500, Some(d0_mac))
        );
        let mut names: Vec<&str> = snap.links.iter().map(|l| l.name.as_str()).collect();
        names.sort_unstable();
        assert_eq!(names, ["d0", "d1", "lo"]);

        // Addresses.
        for (addr, len) in [(v4("198.18.0.1"), 24), (v6("fd00:0:0:1::1"), 64)] {
            assert!(
                snap.addrs.contains(&KernelAddr {
                    ifindex: d0,
                    addr,
                    prefix_len: len
                }),
                "{addr}/{len}: {:#?}",
                snap.addrs
            );
        }

        // Routes of the main table.
        let main = RT_TABLE_MAIN;
        let r = find_route(&snap, main, v4("198.18.0.0"), 24);
        assert_eq!(
            (r.kind, r.oif, r.gateway, r.protocol),
            (RouteType::Unicast, Some(d0), None, 2)
        );
        let r = find_route(&snap, main, v4("198.18.5.0"), 24);
        assert_eq!(
            (r.kind, r.oif, r.gateway),
            (RouteType::Unicast, Some(d0), Some(v4("198.18.0.2")))
        );
        assert_eq!(
            (r.mtu, r.multipath, r.linkdown, r.protocol),
            (None, false, false, 3)
        );
        let r = find_route(&snap, main, v4("198.18.6.0"), 24);
        assert_eq!(
            (r.oif, r.gateway, r.mtu, r.mtu_locked),
            (Some(d0), None, Some(1400), false)
        );
        let r = find_route(&snap, main, v4("198.18.7.0"), 24);
        assert_eq!((r.mtu, r.mtu_locked), (Some(1300), true));
        let r = find_route(&snap, main, v4("198.18.8.0"), 24);
        assert_eq!(
            (r.kind, r.oif, r.gateway),
            (RouteType::Blackhole, None, None)
        );
        let r = find_route(&snap, main, v4("198.18.9.0"), 24);
        assert_eq!(r.kind, RouteType::Unreachable);
        let r = find_route(&snap, main, v6("fd00:0:0:5::"), 64);
        assert_eq!(
            (r.kind, r.oif, r.gateway, r.metric),
            (
                RouteType::Unicast,
                Some(d0),
                Some(v6("fd00:0:0:1::2")),
                1024
            )
        );
        let r = find_route(&snap, main, v6("fd00:0:0:1::"), 64);
        assert_eq!(
            (r.oif, r.gateway, r.metric, r.protocol),
            (Some(d0), None, 256, 2)
        );
        let r = find_route(&snap, main, v4("198.18.11.0"), 24);
        assert_eq!((r.oif, r.gateway), (Some(d0), Some(v6("fd00:0:0:1::2"))));
        let r = find_route(&snap, main, v4("198.18.12.0"), 24);
        assert_eq!(
            (r.multipath, r.oif, r.gateway, r.linkdown),
            (true, None, None, false)
        );
        let r = find_route(&snap, 100, v4("198.18.13.0"), 24);
        assert_eq!((r.gateway, r.metric), (Some(v4("198.18.0.2")), 7));
        assert!(snap
            .routes
            .iter()
            .filter(|r| r.dst == v4("198.18.13.0"))
            .all(|r| r.table == 100));
        find_route(&snap, main, v6("fe80::"), 64);

        // The local table.
        let local = RT_TABLE_LOCAL;
        let r = find_route(&snap, local, v4("198.18.0.1"), 32);
        assert_eq!((r.kind, r.oif), (RouteType::Local, Some(d0)));
        let r = find_route(&snap, local, v4("198.18.0.255"), 32);
        assert_eq!(r.kind, RouteType::Broadcast);
        let r = find_route(&snap, local, v6("fd00:0:0:1::1"), 128);
        assert_eq!((r.kind, r.oif), (RouteType::Local, Some(d0)));
        assert!(snap.routes.iter().any(|r| r.table == local
            && r.kind == RouteType::Multicast
            && r.dst == v6("ff00::")
            && r.prefix_len == 8));
        let r = find_route(&snap, local, v4("127.0.0.0"), 8);
        assert_eq!(r.kind, RouteType::Local);

        // Neighbours.
        let n = snap
            .neighs
            .iter()
            .find(|n| n.ip == v4("198.18.0.2"))
            .unwrap_or_else(|| panic!("{:#?}", snap.neighs));
        assert_eq!(
            n,
            &KernelNeigh {
                ifindex: d0,
                ip: v4("198.18.0.2"),
                mac: Some([2, 0, 0, 0, 0, 2]),
                state: libc::NUD_PERMANENT,
                router: false,
            }
        );
        assert!(n.usable());

        // Carrier loss: d0 stops running and its routes turn linkdown.
        ns.ip("link set d1 down");
        let snap = ns.dump_until("d0 without carrier", |s| {
            !link(s, "d0").running && find_route(s, main, v4("198.18.5.0"), 24).linkdown
        });
        assert!(link(&snap, "d0").up);
        assert!(
            find_route(&snap, main, v4("198.18.12.0"), 24).linkdown,
            "all next hops are down"
        );
        assert!(!find_route(&snap, main, v4("198.18.8.0"), 24).linkdown);
    }

    /// Receives until an event matching `want` arrives (at most 2 s).
    fn expect(mon: &mut Monitor, what: &str, want: impl Fn(&Event) -> bool) -> Event {
        let deadline = Instant::now() + Duration::from_secs(2);
        let mut seen = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let from = seen.len();
            mon.recv(left, &mut seen).unwrap();
            if let Some(e) = seen[from..].iter().find(|e| want(e)) {
                return e.clone();
            }
            assert!(
                Instant::now() < deadline,
                "no {what} within 2 s; saw {seen:#?}"
            );
        }
    }

    #[test]
    fn monitor_reports_changes() {
        let Some(ns) = TestNs::new("nlmon") else {
            return;
        };
        let d0 = ns.ifindex("d0");
        let mut mon = crate::netns::in_netns(&ns.0, Monitor::new)
            .unwrap()
            .unwrap();
        let net = v4("198.18.20.0");

        ns.ip("route add 198.18.20.0/24 via 198.18.0.2");
        let e = expect(
            &mut mon,
            "NewRoute 198.18.20.0/24",
            |e| matches!(e, Event::NewRoute(r) if r.dst == net && r.prefix_len == 24),
        );
        let Event::NewRoute(r) = e else {
            unreachable!()
        };
        assert_eq!(
            (r.table, r.kind, r.oif, r.gateway),
            (
                RT_TABLE_MAIN,
                RouteType::Unicast,
                Some(d0),
                Some(v4("198.18.0.2"))
            )
        );

        ns.ip("route replace 198.18.20.0/24 dev d0 mtu 1280");
        let e = expect(
            &mut mon,
            "replaced 198.18.20.0/24",
            |e| matches!(e, Event::NewRoute(r) if r.dst == net && r.mtu.is_some()),
        );
        let Event::NewRoute(r) = e else {
            unreachable!()
        };
        assert_eq!((r.gateway, r.oif, r.mtu), (None, Some(d0), Some(1280)));

        ns.ip("route del 198.18.20.0/24");
        expect(
            &mut mon,
            "DelRoute 198.18.20.0/24",
            |e| matches!(e, Event::DelRoute(r) if r.dst == net && r.prefix_len == 24),
        );

        ns.ip("route replace fd00:0:0:20::/64 via fd00:0:0:1::2");
        expect(
            &mut mon,
            "NewRoute fd00:0:0:20::/64",
            |e| matches!(e, Event::NewRoute(r) if r.dst == v6("fd00:0:0:20::") && r.gateway == Some(v6("fd00:0:0:1::2"))),
        );

        ns.ip("neigh replace 198.18.0.3 lladdr 02:00:00:00:00:03 dev d0 nud reachable");
        let e = expect(
            &mut mon,
            "NewNeigh 198.18.0.3",
            |e| matches!(e, Event::NewNeigh(n) if n.ip == v4("198.18.0.3")),
        );
        let Event::NewNeigh(n) = e else {
            unreachable!()
        };
        assert_eq!(
            (n.ifindex, n.mac, n.state),
            (d0, Some([2, 0, 0, 0, 0, 3]), libc::NUD_REACHABLE)
        );
        assert!(n.usable());

        ns.ip("neigh del 198.18.0.3 dev d0");
        expect(
            &mut mon,
            "DelNeigh 198.18.0.3",
            |e| matches!(e, Event::DelNeigh(n) if n.ip == v4("198.18.0.3") && n.ifindex == d0),
        );

        ns.ip("addr add 198.18.2.1/24 dev d0");
        let added = Event::NewAddr(KernelAddr {
            ifindex: d0,
            addr: v4("198.18.2.1"),
            prefix_len: 24,
        });
        expect(&mut mon, "NewAddr 198.18.2.1/24", |e| *e == added);
        ns.ip("addr del 198.18.2.1/24 dev d0");
        let removed = Event::DelAddr(KernelAddr {
            ifindex: d0,
            addr: v4("198.18.2.1"),
            prefix_len: 24,
        });
        expect(&mut mon, "DelAddr 198.18.2.1/24", |e| *e == removed);

        ns.ip("link set d0 down");
        let e = expect(
            &mut mon,
            "NewLink d0 down",
            |e| matches!(e, Event::NewLink(l) if l.ifindex == d0 && !l.up),
        );
        let Event::NewLink(l) = e else { unreachable!() };
        assert_eq!((l.name.as_str(), l.running), ("d0", false));

        ns.ip("link del d0");
        expect(&mut mon, "DelLink d0", |e| *e == Event::DelLink(d0));

        assert_eq!((mon.malformed(), mon.overruns()), (0, 0));
        // Nothing more pending after a quiet period: recv honours its timeout.
        let start = Instant::now();
        let mut rest = Vec::new();
        while start.elapsed() < Duration::from_millis(300) {
            mon.recv(Duration::from_millis(100), &mut rest).unwrap();
        }
        assert!(start.elapsed() < Duration::from_secs(2));
    }

    #[test]
    fn overrun_is_reported_and_the_monitor_keeps_working() {
        let Some(ns) = TestNs::new("nlovr") else {
            return;
        };
        let mut mon = crate::netns::in_netns(&ns.0, Monitor::new)
            .unwrap()
            .unwrap();
        // Shrink the buffer to the minimum, then make more noise than fits.
        let tiny: libc::c_int = 0;
        // SAFETY: the fd is open; the value points at a live c_int of the size given.
        let rc = unsafe {
            libc::setsockopt(
                mon.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_RCVBUF,
                (&tiny as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        assert_eq!(rc, 0);
        let batch: String = (0..200)
            .map(|i| format!("route add 198.18.{}.{}/32 dev d0\n", 100 + i / 100, i % 100))
            .collect();
        let file = std::env::temp_dir().join(format!("{}.batch", ns.0));
        std::fs::write(&file, batch).unwrap();
        ns.ip(&format!("-batch {}", file.display()));
        let _ = std::fs::remove_file(&file);
        expect(&mut mon, "Overrun", |e| *e == Event::Overrun);
        assert!(mon.overruns() >= 1);
        // Still usable afterwards.
        ns.ip("route add 198.18.30.0/24 dev d0");
        expect(
            &mut mon,
            "NewRoute after the overrun",
            |e| matches!(e, Event::NewRoute(r) if r.dst == v4("198.18.30.0")),
        );
    }
}

/// Entry points for the fuzz targets under `fuzz/`; built only with
/// `--cfg fuzzing` (scripts/fuzz.sh), never into the forwarder.
#[cfg(fuzzing)]
pub mod fuzzing {
    use super::{parse_datagram, Event, Replies, Request};

    /// What the monitor makes of one notification datagram and, read as
    /// replies to a dump (sequence 1, port 0), what the dump makes of it:
    /// the events of both, and how many messages were malformed.
    pub fn datagram(data: &[u8]) -> (Vec<Event>, u64) {
        let mut events = Vec::new();
        let mut malformed = 0;
        parse_datagram(data, &mut events, &mut malformed);
        let mut replies = Replies::default();
        let _ = replies.absorb(Request::Route, data, 1, 0);
        assert!(replies.events.len() <= data.len() / 16);
        (events, malformed)
    }
}
