//! Bounded test and demo traffic over AF_PACKET: UDP frames that carry a
//! sequence number and a checkable pattern, a [`Sender`] and a [`Receiver`].
//!
//! A payload is `MAGIC (4) | seq (u64 BE) | pattern`, where every pattern
//! byte is a function of `(seq, offset)`, so a receiver can check every byte
//! of what arrived ([`verify_frame`]).
//!
//! This module must never: loop without both a packet bound and a time bound
//! (every send and receive stops at `count` *or* a deadline, and every retry
//! loop is capped), block without a timeout (sends use `MSG_DONTWAIT`,
//! receives `poll` with a timeout), open a socket outside the interface and
//! namespace it was asked for, or panic on bad input. It is test
//! infrastructure, not the fast path: clarity beats speed here.

#![deny(clippy::undocumented_unsafe_blocks)]

use std::io;
use std::mem;
use std::net::IpAddr;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};
use etherparse::{NetSlice, PacketBuilder, SlicedPacket, TransportSlice};

use xskfwd::netns;

/// First bytes of every payload we build.
pub const MAGIC: [u8; 4] = *b"XSKF";
/// Magic + sequence number.
pub const PAYLOAD_HEADER_LEN: usize = MAGIC.len() + 8;
/// Shortest Ethernet frame without FCS.
pub const MIN_FRAME_LEN: usize = 60;
/// Longest untagged Ethernet frame without FCS at MTU 1500.
pub const ETH_FRAME_LEN: usize = 1514;
/// Longest frame built: a jumbo frame of the largest lab MTU (9216, see
/// `lab::MAX_MTU`) with its Ethernet header. Above about 3.5 KB the lab
/// must be brought up with an MTU that carries it (`LabSpec::mtu`).
pub const MAX_FRAME_LEN: usize = 9216 + 14;

const ETH_LEN: usize = 14;
const IPV4_LEN: usize = 20;
const IPV6_LEN: usize = 40;
const UDP_LEN: usize = 8;

/// A UDP-over-IPv4 or -IPv6 Ethernet frame, minus its payload (which
/// [`build_frame`] derives from the sequence number).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrameSpec {
    /// Ethernet source.
    pub src_mac: [u8; 6],
    /// Ethernet destination.
    pub dst_mac: [u8; 6],
    /// IP source; same family as `dst_ip`.
    pub src_ip: IpAddr,
    /// IP destination; same family as `src_ip`.
    pub dst_ip: IpAddr,
    /// UDP source port.
    pub src_port: u16,
    /// UDP destination port.
    pub dst_port: u16,
    /// IPv4 TTL or IPv6 hop limit.
    pub ttl: u8,
    /// Whole frame on the wire without FCS, `MIN_FRAME_LEN..=MAX_FRAME_LEN`
    /// and at least [`FrameSpec::min_len`].
    pub frame_len: usize,
}

impl FrameSpec {
    /// UDP from port 49152 to port 9 (discard), TTL 64.
    pub fn udp(
        src_mac: [u8; 6],
        dst_mac: [u8; 6],
        src_ip: IpAddr,
        dst_ip: IpAddr,
        frame_len: usize,
    ) -> Self {
        FrameSpec {
            src_mac,
            dst_mac,
            src_ip,
            dst_ip,
            src_port: 49152,
            dst_port: 9,
            ttl: 64,
            frame_len,
        }
    }

    /// Whether this is an IPv6 frame.
    pub fn is_v6(&self) -> bool {
        self.src_ip.is_ipv6()
    }

    /// Ethernet + IP + UDP header bytes.
    pub fn header_len(&self) -> usize {
        ETH_LEN + if self.is_v6() { IPV6_LEN } else { IPV4_LEN } + UDP_LEN
    }

    /// Shortest valid `frame_len` for this family (60 for IPv4, 74 for IPv6).
    pub fn min_len(&self) -> usize {
        (self.header_len() + PAYLOAD_HEADER_LEN).max(MIN_FRAME_LEN)
    }

    /// UDP payload bytes.
    pub fn payload_len(&self) -> usize {
        self.frame_len.saturating_sub(self.header_len())
    }

    /// Checks families and lengths.
    pub fn validate(&self) -> Result<()> {
        ensure!(
            self.src_ip.is_ipv6() == self.dst_ip.is_ipv6(),
            "frame spec mixes IPv4 and IPv6 ({} -> {})",
            self.src_ip,
            self.dst_ip
        );
        ensure!(
            (self.min_len()..=MAX_FRAME_LEN).contains(&self.frame_len),
            "frame length {} out of range {}..={MAX_FRAME_LEN}",
            self.frame_len,
            self.min_len()
        );
        Ok(())
    }

    /// The same frame after one routing hop: new MACs, TTL one lower.
    /// An error if the TTL would expire (a router drops such a frame).
    pub fn forwarded(&self, src_mac: [u8; 6], dst_mac: [u8; 6]) -> Result<FrameSpec> {
        ensure!(self.ttl > 1, "TTL {} does not survive a hop", self.ttl);
        Ok(FrameSpec {
            src_mac,
            dst_mac,
            ttl: self.ttl - 1,
            ..self.clone()
        })
    }
}

/// Pattern byte at `offset` (counted from the start of the pattern, i.e.
/// after magic and sequence number) of the payload of frame `seq`.
pub fn pattern_byte(seq: u64, offset: usize) -> u8 {
    let word = splitmix64(seq ^ ((offset as u64 / 8) << 40) ^ 0x5853_4b46);
    word.to_le_bytes()[offset % 8]
}

/// SplitMix64: a cheap, well-mixed, deterministic function.
fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The UDP payload of frame `seq`.
fn payload(seq: u64, len: usize) -> Vec<u8> {
    let mut p = Vec::with_capacity(len);
    p.extend_from_slice(&MAGIC);
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend((0..len.saturating_sub(PAYLOAD_HEADER_LEN)).map(|i| pattern_byte(seq, i)));
    p
}

/// Builds frame `seq` of `spec`, with correct IPv4 header and UDP checksums.
pub fn build_frame(spec: &FrameSpec, seq: u64) -> Result<Vec<u8>> {
    spec.validate()?;
    let eth = PacketBuilder::ethernet2(spec.src_mac, spec.dst_mac);
    let ip = match (spec.src_ip, spec.dst_ip) {
        (IpAddr::V4(s), IpAddr::V4(d)) => eth.ipv4(s.octets(), d.octets(), spec.ttl),
        (IpAddr::V6(s), IpAddr::V6(d)) => eth.ipv6(s.octets(), d.octets(), spec.ttl),
        _ => bail!("frame spec mixes IPv4 and IPv6"),
    };
    let udp = ip.udp(spec.src_port, spec.dst_port);
    let body = payload(seq, spec.payload_len());
    let mut frame = Vec::with_capacity(spec.frame_len);
    udp.write(&mut frame, &body)
        .with_context(|| format!("building frame {seq} of {spec:?}"))?;
    ensure!(
        frame.len() == spec.frame_len,
        "built {} bytes, wanted {}",
        frame.len(),
        spec.frame_len
    );
    Ok(frame)
}

/// Frames `0..n` of `spec`.
pub fn build_frames(spec: &FrameSpec, n: u64) -> Result<Vec<Vec<u8>>> {
    (0..n).map(|seq| build_frame(spec, seq)).collect()
}

/// The UDP payload of an Ethernet/IPv4-or-IPv6/UDP frame.
fn udp_payload(frame: &[u8]) -> Option<&[u8]> {
    let packet = SlicedPacket::from_ethernet(frame).ok()?;
    match packet.transport? {
        TransportSlice::Udp(udp) => Some(udp.payload()),
        _ => None,
    }
}

/// Sequence number of one of our frames; `None` for anything else (not
/// UDP over IPv4/IPv6, truncated, or without [`MAGIC`]). Does not check the
/// pattern; see [`verify_frame`].
pub fn parse_seq(frame: &[u8]) -> Option<u64> {
    let p = udp_payload(frame)?;
    if p.len() < PAYLOAD_HEADER_LEN || p[..MAGIC.len()] != MAGIC {
        return None;
    }
    let seq: [u8; 8] = p[MAGIC.len()..PAYLOAD_HEADER_LEN].try_into().ok()?;
    Some(u64::from_be_bytes(seq))
}

/// Checks one of our frames completely and returns its sequence number:
/// IPv4 header checksum and UDP checksum (verified with an RFC 1071 sum
/// independent of etherparse, so both encodings of zero are accepted),
/// magic, and every pattern byte.
pub fn verify_frame(frame: &[u8]) -> Result<u64> {
    let packet = SlicedPacket::from_ethernet(frame).map_err(|e| anyhow::anyhow!("{e}"))?;
    let Some(TransportSlice::Udp(udp)) = &packet.transport else {
        bail!("not a UDP frame");
    };
    let udp_bytes = udp.slice();
    let pseudo = match &packet.net {
        Some(NetSlice::Ipv4(ip)) => {
            let h = ip.header();
            ensure!(
                ones_complement_sum(0, h.slice()) == 0xffff,
                "bad IPv4 header checksum {:#06x}",
                h.header_checksum()
            );
            ensure!(
                udp.checksum() != 0,
                "UDP checksum is absent (0); we always set it"
            );
            let mut p = Vec::with_capacity(12);
            p.extend_from_slice(&h.source());
            p.extend_from_slice(&h.destination());
            p.extend_from_slice(&[0, 17]);
            p.extend_from_slice(&(udp_bytes.len() as u16).to_be_bytes());
            p
        }
        Some(NetSlice::Ipv6(ip)) => {
            let h = ip.header();
            let mut p = Vec::with_capacity(40);
            p.extend_from_slice(&h.source());
            p.extend_from_slice(&h.destination());
            p.extend_from_slice(&(udp_bytes.len() as u32).to_be_bytes());
            p.extend_from_slice(&[0, 0, 0, 17]);
            p
        }
        None => bail!("no IP header"),
    };
    ensure!(
        ones_complement_sum(ones_complement_sum(0, &pseudo), udp_bytes) == 0xffff,
        "bad UDP checksum {:#06x}",
        udp.checksum()
    );
    let p = udp.payload();
    ensure!(
        p.len() >= PAYLOAD_HEADER_LEN && p[..MAGIC.len()] == MAGIC,
        "payload does not start with our magic"
    );
    let seq = u64::from_be_bytes(
        p[MAGIC.len()..PAYLOAD_HEADER_LEN]
            .try_into()
            .context("sequence number")?,
    );
    if let Some(i) = p[PAYLOAD_HEADER_LEN..]
        .iter()
        .enumerate()
        .position(|(i, &b)| b != pattern_byte(seq, i))
    {
        bail!(
            "frame {seq}: payload byte {} is {:#04x}, expected {:#04x}",
            PAYLOAD_HEADER_LEN + i,
            p[PAYLOAD_HEADER_LEN + i],
            pattern_byte(seq, i)
        );
    }
    Ok(seq)
}

/// RFC 1071 one's-complement sum of `data` added to `start`, folded to 16
/// bits (not inverted). A correct header/segment sums to 0xffff.
fn ones_complement_sum(start: u16, data: &[u8]) -> u16 {
    let mut sum = u64::from(start);
    let mut chunks = data.chunks_exact(2);
    for c in &mut chunks {
        sum += u64::from(u16::from_be_bytes([c[0], c[1]]));
    }
    if let [last] = chunks.remainder() {
        sum += u64::from(u16::from_be_bytes([*last, 0]));
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    sum as u16
}

/// Opens an AF_PACKET raw socket bound to `ifname` of the calling thread's
/// namespace; `protocol` 0 receives nothing, `ETH_P_ALL` everything.
fn packet_socket(ifname: &str, protocol: u16) -> Result<OwnedFd> {
    let ifindex = netns::ifindex(ifname)?;
    // SAFETY: plain socket(2) call with constant arguments. Protocol 0 means
    // nothing is received until bind() names the interface.
    let fd = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error()).context("socket(AF_PACKET, SOCK_RAW)");
    }
    // SAFETY: `fd` was just returned by socket(2), is valid and owned by nobody else.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    let addr = libc::sockaddr_ll {
        sll_family: libc::AF_PACKET as u16,
        sll_protocol: protocol.to_be(),
        sll_ifindex: i32::try_from(ifindex).context("ifindex out of range")?,
        sll_hatype: 0,
        sll_pkttype: 0,
        sll_halen: 0,
        sll_addr: [0; 8],
    };
    // SAFETY: `addr` is a fully initialised sockaddr_ll that lives across the
    // call, and the length passed is its exact size.
    let rc = unsafe {
        libc::bind(
            fd.as_raw_fd(),
            (&addr as *const libc::sockaddr_ll).cast::<libc::sockaddr>(),
            mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error())
            .with_context(|| format!("binding an AF_PACKET socket to {ifname:?}"));
    }
    Ok(fd)
}

/// setsockopt with an `int` value.
fn set_int_opt(fd: BorrowedFd<'_>, level: i32, name: i32, value: i32) -> io::Result<()> {
    // SAFETY: `value` is a live c_int and the length passed is its size.
    let rc = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            level,
            name,
            (&value as *const i32).cast::<libc::c_void>(),
            mem::size_of::<i32>() as libc::socklen_t,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Opens a socket inside `netns` (or the caller's namespace for `None`).
fn open_in(netns: Option<&str>, ifname: &str, protocol: u16) -> Result<OwnedFd> {
    let ifname_owned = ifname.to_string();
    let fd = match netns {
        Some(ns) => netns::in_netns(ns, move || packet_socket(&ifname_owned, protocol))?,
        None => packet_socket(ifname, protocol),
    };
    fd.with_context(|| match netns {
        Some(ns) => format!("opening a packet socket on {ifname} in netns {ns}"),
        None => format!("opening a packet socket on {ifname}"),
    })
}

/// Bounds of one [`Sender::send`] call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SendLimits {
    /// Stop after this many packets.
    pub count: u64,
    /// Stop after this much time, even if `count` was not reached.
    pub duration: Duration,
    /// Packets per second, or `None` for as fast as possible.
    pub rate_pps: Option<u64>,
    /// Packets per `sendmmsg`, `1..=1024`.
    pub batch: usize,
}

impl SendLimits {
    /// `count` packets or `duration`, whichever first; batches of 64, no rate limit.
    pub fn new(count: u64, duration: Duration) -> Self {
        SendLimits {
            count,
            duration,
            rate_pps: None,
            batch: 64,
        }
    }

    /// Limits the rate to `pps` packets per second.
    pub fn rate(mut self, pps: u64) -> Self {
        self.rate_pps = Some(pps);
        self
    }
}

/// What a [`Sender::send`] call did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SendReport {
    /// Packets the kernel accepted.
    pub sent: u64,
    /// Their bytes (without FCS).
    pub bytes: u64,
    /// Time from start to stop.
    pub elapsed: Duration,
    /// Times the kernel said ENOBUFS/EAGAIN and we backed off.
    pub backoffs: u64,
}

/// Consecutive ENOBUFS/EAGAIN answers after which sending gives up.
const MAX_CONSECUTIVE_BACKOFFS: u32 = 2000;
/// Sleep after an ENOBUFS/EAGAIN answer.
const BACKOFF: Duration = Duration::from_micros(200);

/// Sends frames out of one interface with an AF_PACKET socket.
#[derive(Debug)]
pub struct Sender {
    fd: OwnedFd,
    ifname: String,
    qdisc_bypass: bool,
}

impl Sender {
    /// A sender on `ifname` inside network namespace `netns`.
    pub fn new(netns: &str, ifname: &str) -> Result<Sender> {
        Self::open(Some(netns), ifname)
    }

    /// A sender on `ifname` of the calling thread's namespace.
    pub fn here(ifname: &str) -> Result<Sender> {
        Self::open(None, ifname)
    }

    fn open(netns: Option<&str>, ifname: &str) -> Result<Sender> {
        // Protocol 0: this socket never receives, so it never buffers traffic.
        let fd = open_in(netns, ifname, 0)?;
        let qdisc_bypass =
            set_int_opt(fd.as_fd(), libc::SOL_PACKET, libc::PACKET_QDISC_BYPASS, 1).is_ok();
        Ok(Sender {
            fd,
            ifname: ifname.to_string(),
            qdisc_bypass,
        })
    }

    /// Whether PACKET_QDISC_BYPASS is on (frames skip the qdisc layer).
    pub fn qdisc_bypass(&self) -> bool {
        self.qdisc_bypass
    }

    /// Sets the socket's send buffer (SO_SNDBUFFORCE: root may exceed
    /// `wmem_max`), so a fast sender is not throttled by its own buffer.
    pub fn set_sndbuf(&self, bytes: i32) -> Result<()> {
        set_int_opt(
            self.fd.as_fd(),
            libc::SOL_SOCKET,
            libc::SO_SNDBUFFORCE,
            bytes,
        )
        .context("setsockopt(SO_SNDBUFFORCE)")
    }

    /// One `sendmmsg` of `frames` (at most 1024), not blocking: how many
    /// the kernel took, or the error it gave for the first. The caller
    /// bounds and paces its loop (e.g. the generator's packet engine).
    pub fn send_batch(&self, frames: &[&[u8]]) -> io::Result<usize> {
        const MAX: usize = 1024;
        let n = frames.len().min(MAX);
        let mut iovs: arrayvec::ArrayVec<libc::iovec, MAX> = arrayvec::ArrayVec::new();
        for f in &frames[..n] {
            iovs.push(libc::iovec {
                // The kernel only reads from send buffers.
                iov_base: f.as_ptr() as *mut libc::c_void,
                iov_len: f.len(),
            });
        }
        let mut msgs: arrayvec::ArrayVec<libc::mmsghdr, MAX> = arrayvec::ArrayVec::new();
        for iov in iovs.iter_mut() {
            // SAFETY: mmsghdr is plain C data (integers and raw pointers);
            // all-zero is a valid value (no name, no control data).
            let mut m: libc::mmsghdr = unsafe { mem::zeroed() };
            m.msg_hdr.msg_iov = iov as *mut libc::iovec;
            m.msg_hdr.msg_iovlen = 1;
            msgs.push(m);
        }
        // SAFETY: `msgs` holds `n` initialised headers, each pointing at one
        // iovec in `iovs`, which point into `frames`; all of them outlive
        // the call and are not otherwise accessed during it.
        let rc = unsafe {
            libc::sendmmsg(
                self.fd.as_raw_fd(),
                msgs.as_mut_ptr(),
                n as libc::c_uint,
                libc::MSG_DONTWAIT,
            )
        };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(rc as usize)
    }

    /// Sends `frames` cyclically (frame `i % frames.len()` as the i-th
    /// packet) until `limits.count` packets went out or `limits.duration`
    /// passed, whichever comes first. ENOBUFS/EAGAIN are retried after a
    /// short sleep (at most `MAX_CONSECUTIVE_BACKOFFS` times in a row, then
    /// an error); other errors end the call.
    pub fn send(&self, frames: &[Vec<u8>], limits: SendLimits) -> Result<SendReport> {
        ensure!(!frames.is_empty(), "no frames to send");
        ensure!(
            (1..=1024).contains(&limits.batch),
            "batch must be 1..=1024, got {}",
            limits.batch
        );
        ensure!(limits.rate_pps != Some(0), "rate must be positive");
        if let Some(f) = frames.iter().find(|f| f.len() < ETH_LEN || f.len() > 65535) {
            bail!("cannot send a {}-byte frame", f.len());
        }

        let start = Instant::now();
        let deadline = start + limits.duration;
        let mut report = SendReport::default();
        let mut consecutive = 0u32;

        while report.sent < limits.count {
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            let mut n = (limits.count - report.sent).min(limits.batch as u64);
            if let Some(pps) = limits.rate_pps {
                let elapsed = now - start;
                let due = (elapsed.as_nanos() * u128::from(pps) / 1_000_000_000) as u64 + 1;
                let budget = due.saturating_sub(report.sent);
                if budget == 0 {
                    let next = Duration::from_nanos(
                        (u128::from(report.sent) * 1_000_000_000 / u128::from(pps))
                            .min(u128::from(u64::MAX)) as u64,
                    );
                    let wait = next
                        .saturating_sub(elapsed)
                        .min(deadline - now)
                        .min(Duration::from_millis(10));
                    std::thread::sleep(wait.max(Duration::from_micros(1)));
                    continue;
                }
                n = n.min(budget);
            }
            let n = n as usize;

            let batch: arrayvec::ArrayVec<&[u8], 1024> = (0..n)
                .map(|i| {
                    frames[((report.sent + i as u64) % frames.len() as u64) as usize].as_slice()
                })
                .collect();
            let rc = self.send_batch(&batch);
            let done = match rc {
                Ok(done) => done,
                Err(err) => match err.raw_os_error() {
                    Some(libc::EINTR) => continue,
                    Some(libc::EAGAIN) | Some(libc::ENOBUFS) => {
                        report.backoffs += 1;
                        consecutive += 1;
                        if consecutive > MAX_CONSECUTIVE_BACKOFFS {
                            return Err(err).with_context(|| {
                                format!(
                                    "{} refused packets {consecutive} times in a row",
                                    self.ifname
                                )
                            });
                        }
                        std::thread::sleep(BACKOFF.min(deadline.saturating_duration_since(now)));
                        continue;
                    }
                    _ => {
                        return Err(err).with_context(|| format!("sendmmsg on {}", self.ifname));
                    }
                },
            };
            consecutive = 0;
            report.sent += done as u64;
            report.bytes += batch[..done].iter().map(|f| f.len() as u64).sum::<u64>();
        }
        report.elapsed = start.elapsed();
        Ok(report)
    }
}

impl AsFd for Sender {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

/// `TPACKET_V2` (`enum tpacket_versions` in `<linux/if_packet.h>`).
const TPACKET_V2: i32 = 1;
/// Where a transmitted frame's data starts in a `TPACKET_V2` ring frame:
/// `TPACKET2_HDRLEN - sizeof(struct sockaddr_ll)` (no `PACKET_TX_HAS_OFF`).
const TX_RING_DATA_OFF: usize = 32;

/// An AF_PACKET transmit ring (`PACKET_TX_RING`, `TPACKET_V2`) on one
/// interface, qdisc bypassed: userspace writes frames into slots of a
/// shared ring and one `send` hands every ready slot to the driver. The
/// kernel builds each skb around the ring's pages (only the Ethernet
/// header is copied), so AF_PACKET does not copy a jumbo frame (a veth
/// does, when it forwards the skb to its peer); a slot is free again once
/// the kernel freed its skb.
///
/// Slots are filled strictly in ring order ([`TxRing::fill`] takes the
/// next one), which is the order the kernel sends them in.
#[derive(Debug)]
pub struct TxRing {
    fd: OwnedFd,
    ring: *mut u8,
    ring_len: usize,
    frame_size: usize,
    frames: usize,
    next: usize,
}

// SAFETY: the ring is a private mapping of this socket, reached only
// through `&mut self` (writes) or `&self` (volatile status reads).
unsafe impl Send for TxRing {}

impl TxRing {
    /// A ring of `frames` slots (a multiple of 4), each holding a frame of
    /// up to `max_len` bytes, on `ifname` of the calling thread's namespace.
    pub fn here(ifname: &str, max_len: usize, frames: usize) -> Result<TxRing> {
        ensure!(
            frames >= 4 && frames % 4 == 0,
            "frames must be a multiple of 4"
        );
        ensure!(
            (ETH_LEN..=65535).contains(&max_len),
            "cannot send {max_len}-byte frames"
        );
        let fd = packet_socket(ifname, 0)?;
        let frame_size = (TX_RING_DATA_OFF + max_len).next_power_of_two().max(2048);
        // Four slots per block: a block is a multiple of the page size.
        let block_size = frame_size * 4;
        let set = |level, name, value, what: &str| {
            set_int_opt(fd.as_fd(), level, name, value)
                .with_context(|| format!("setsockopt({what})"))
        };
        set(
            libc::SOL_PACKET,
            libc::PACKET_VERSION,
            TPACKET_V2,
            "PACKET_VERSION",
        )?;
        set(
            libc::SOL_PACKET,
            libc::PACKET_QDISC_BYPASS,
            1,
            "PACKET_QDISC_BYPASS",
        )?;
        set(
            libc::SOL_SOCKET,
            libc::SO_SNDBUFFORCE,
            64 << 20,
            "SO_SNDBUFFORCE",
        )?;
        let req = libc::tpacket_req {
            tp_block_size: block_size as u32,
            tp_block_nr: (frames / 4) as u32,
            tp_frame_size: frame_size as u32,
            tp_frame_nr: frames as u32,
        };
        // SAFETY: `req` is a live tpacket_req and its size is passed.
        let rc = unsafe {
            libc::setsockopt(
                fd.as_raw_fd(),
                libc::SOL_PACKET,
                libc::PACKET_TX_RING,
                (&req as *const libc::tpacket_req).cast::<libc::c_void>(),
                mem::size_of::<libc::tpacket_req>() as libc::socklen_t,
            )
        };
        if rc != 0 {
            return Err(io::Error::last_os_error()).context("setsockopt(PACKET_TX_RING)");
        }
        let ring_len = frame_size * frames;
        // SAFETY: maps the socket's ring (its whole length) shared; the
        // result is checked against MAP_FAILED.
        let ring = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                ring_len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                fd.as_raw_fd(),
                0,
            )
        };
        if ring == libc::MAP_FAILED {
            return Err(io::Error::last_os_error()).context("mmap of the PACKET_TX_RING");
        }
        Ok(TxRing {
            fd,
            ring: ring.cast(),
            ring_len,
            frame_size,
            frames,
            next: 0,
        })
    }

    /// Number of slots.
    pub fn frames(&self) -> usize {
        self.frames
    }

    /// The `tp_status` word of slot `i` (< frames).
    fn status_ptr(&self, i: usize) -> *mut u32 {
        debug_assert!(i < self.frames);
        // SAFETY: slot i starts i * frame_size bytes into the mapping
        // (i < frames), with the tpacket2_hdr (tp_status first) there.
        unsafe { self.ring.add(i * self.frame_size).cast::<u32>() }
    }

    /// Whether slot `i` is free (`TP_STATUS_AVAILABLE`): never used, or the
    /// kernel is done with the frame it held.
    pub fn is_free(&self, i: usize) -> bool {
        // SAFETY: an aligned u32 inside the mapping, which the kernel
        // writes concurrently: read volatile.
        let st = unsafe { std::ptr::read_volatile(self.status_ptr(i % self.frames)) };
        std::sync::atomic::fence(std::sync::atomic::Ordering::Acquire);
        st == libc::TP_STATUS_AVAILABLE
    }

    /// The slot [`TxRing::fill`] takes next.
    pub fn next_slot(&self) -> usize {
        self.next
    }

    /// Writes `init` into the data area of every slot (e.g. a template
    /// frame that later fills only stamp). Slots must all be free.
    pub fn init_all(&mut self, init: &[u8]) {
        let room = self.frame_size - TX_RING_DATA_OFF;
        let n = init.len().min(room);
        for i in 0..self.frames {
            // SAFETY: the data area of slot i, `room` bytes inside the
            // mapping; the slot is free, so the kernel does not read it.
            let data = unsafe {
                std::slice::from_raw_parts_mut(
                    self.ring.add(i * self.frame_size + TX_RING_DATA_OFF),
                    room,
                )
            };
            data[..n].copy_from_slice(&init[..n]);
        }
    }

    /// Fills the next slot if it is free: `write` gets its data area and
    /// returns the frame's length; the slot is then marked for sending.
    /// Returns the slot's index, or `None` if it is still in flight.
    pub fn fill(&mut self, write: impl FnOnce(&mut [u8]) -> usize) -> Option<usize> {
        let i = self.next;
        if !self.is_free(i) {
            return None;
        }
        let room = self.frame_size - TX_RING_DATA_OFF;
        // SAFETY: the data area of slot i inside the mapping; the slot is
        // free, so the kernel neither reads nor writes it until we mark it.
        let data = unsafe {
            std::slice::from_raw_parts_mut(
                self.ring.add(i * self.frame_size + TX_RING_DATA_OFF),
                room,
            )
        };
        let len = write(data).min(room);
        let hdr = self.status_ptr(i).cast::<libc::tpacket2_hdr>();
        // SAFETY: the slot's tpacket2_hdr, ours while free; tp_len first,
        // then (after a release fence) the status that hands it over.
        unsafe {
            std::ptr::write_volatile(std::ptr::addr_of_mut!((*hdr).tp_len), len as u32);
            std::sync::atomic::fence(std::sync::atomic::Ordering::Release);
            std::ptr::write_volatile(self.status_ptr(i), libc::TP_STATUS_SEND_REQUEST);
        }
        self.next = (i + 1) % self.frames;
        Some(i)
    }

    /// Asks the kernel to send every slot marked for sending (not
    /// blocking): bytes sent, or its error (`ENOBUFS`: the interface
    /// dropped a frame at once; the rest stay marked for the next call).
    pub fn kick(&self) -> io::Result<usize> {
        // SAFETY: send(2) with no buffer: the ring holds the frames.
        let rc =
            unsafe { libc::send(self.fd.as_raw_fd(), std::ptr::null(), 0, libc::MSG_DONTWAIT) };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(rc as usize)
    }
}

impl Drop for TxRing {
    fn drop(&mut self) {
        // SAFETY: the mapping made in `here`, unmapped once; skbs still in
        // flight hold their own page references.
        unsafe { libc::munmap(self.ring.cast(), self.ring_len) };
    }
}

/// Bounds of one collecting receive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecvLimits {
    /// Stop after keeping this many frames.
    pub max_frames: usize,
    /// Stop at this time after the start, no matter what.
    pub timeout: Duration,
    /// Also stop once this long passed without a kept frame (after the
    /// first one arrived), if set.
    pub idle: Option<Duration>,
}

impl RecvLimits {
    /// At most `max_frames` frames within `timeout`; no idle stop.
    pub fn new(max_frames: usize, timeout: Duration) -> Self {
        RecvLimits {
            max_frames,
            timeout,
            idle: None,
        }
    }

    /// Stops after `idle` without a kept frame.
    pub fn idle(mut self, idle: Duration) -> Self {
        self.idle = Some(idle);
        self
    }
}

/// Frames kept by [`Receiver::recv_until`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Received {
    /// Kept frames in arrival order.
    pub frames: Vec<Vec<u8>>,
    /// Incoming frames not kept (other traffic, truncated frames).
    pub skipped: u64,
    /// Frames the kernel dropped for this socket (full buffer) meanwhile.
    pub kernel_drops: u64,
    /// Time from start to stop.
    pub elapsed: Duration,
}

/// Counts from [`Receiver::count_for`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RecvCount {
    /// Incoming frames.
    pub packets: u64,
    /// Their bytes (without FCS).
    pub bytes: u64,
    /// Those of them that carry our magic ([`parse_seq`]).
    pub ours: u64,
    /// Frames the kernel dropped for this socket (full buffer) meanwhile.
    pub kernel_drops: u64,
    /// Time counted.
    pub elapsed: Duration,
}

/// Biggest frame we read whole; longer ones are counted but skipped.
const RX_BUF_LEN: usize = 65536;
/// Receive buffer asked for (SO_RCVBUFFORCE needs CAP_NET_ADMIN, else
/// SO_RCVBUF, which the kernel caps at `net.core.rmem_max`).
const RCVBUF_BYTES: i32 = 64 << 20;

/// Receives the incoming frames of one interface with an AF_PACKET socket.
#[derive(Debug)]
pub struct Receiver {
    fd: OwnedFd,
    ifname: String,
}

impl Receiver {
    /// A receiver on `ifname` inside network namespace `netns`.
    pub fn new(netns: &str, ifname: &str) -> Result<Receiver> {
        Self::open(Some(netns), ifname)
    }

    /// A receiver on `ifname` of the calling thread's namespace.
    pub fn here(ifname: &str) -> Result<Receiver> {
        Self::open(None, ifname)
    }

    fn open(netns: Option<&str>, ifname: &str) -> Result<Receiver> {
        let fd = open_in(netns, ifname, libc::ETH_P_ALL as u16)?;
        let b = fd.as_fd();
        if set_int_opt(b, libc::SOL_SOCKET, libc::SO_RCVBUFFORCE, RCVBUF_BYTES).is_err() {
            // Best effort: without CAP_NET_ADMIN the kernel caps this.
            let _ = set_int_opt(b, libc::SOL_SOCKET, libc::SO_RCVBUF, RCVBUF_BYTES);
        }
        // Best effort (Linux >= 4.20); recv_one also checks sll_pkttype.
        let _ = set_int_opt(b, libc::SOL_PACKET, libc::PACKET_IGNORE_OUTGOING, 1);
        let rx = Receiver {
            fd,
            ifname: ifname.to_string(),
        };
        rx.kernel_drops()?; // reset the counters
        Ok(rx)
    }

    /// Frames the kernel dropped for this socket since the last call
    /// (PACKET_STATISTICS; reading resets it).
    pub fn kernel_drops(&self) -> Result<u64> {
        let mut st = libc::tpacket_stats {
            tp_packets: 0,
            tp_drops: 0,
        };
        let mut len = mem::size_of::<libc::tpacket_stats>() as libc::socklen_t;
        // SAFETY: `st` and `len` are live and exclusively borrowed; `len`
        // holds the size of `st`, which PACKET_STATISTICS fills.
        let rc = unsafe {
            libc::getsockopt(
                self.fd.as_raw_fd(),
                libc::SOL_PACKET,
                libc::PACKET_STATISTICS,
                (&mut st as *mut libc::tpacket_stats).cast::<libc::c_void>(),
                &mut len,
            )
        };
        if rc != 0 {
            return Err(io::Error::last_os_error()).context("getsockopt(PACKET_STATISTICS)");
        }
        Ok(u64::from(st.tp_drops))
    }

    /// Waits up to `timeout` for the socket to become readable.
    fn wait_readable(&self, timeout: Duration) -> Result<bool> {
        let mut pfd = libc::pollfd {
            fd: self.fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        let ms = timeout.as_millis().clamp(0, 100) as libc::c_int;
        // SAFETY: `pfd` is one live, exclusively borrowed pollfd and we pass 1.
        let rc = unsafe { libc::poll(&mut pfd, 1, ms) };
        if rc < 0 {
            let err = io::Error::last_os_error();
            if err.raw_os_error() == Some(libc::EINTR) {
                return Ok(false);
            }
            return Err(err).with_context(|| format!("poll on {}", self.ifname));
        }
        Ok(rc > 0)
    }

    /// Reads one queued frame without blocking. `Ok(None)`: nothing queued.
    /// `Ok(Some(len))` with `len > buf.len()` means it was truncated;
    /// outgoing frames are reported as `Some(0)`.
    fn recv_one(&self, buf: &mut [u8]) -> Result<Option<usize>> {
        loop {
            let mut addr = libc::sockaddr_ll {
                sll_family: 0,
                sll_protocol: 0,
                sll_ifindex: 0,
                sll_hatype: 0,
                sll_pkttype: 0,
                sll_halen: 0,
                sll_addr: [0; 8],
            };
            let mut alen = mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t;
            // SAFETY: `buf` is writable for `buf.len()` bytes; `addr`/`alen`
            // are live, and `alen` holds the size of `addr`.
            let rc = unsafe {
                libc::recvfrom(
                    self.fd.as_raw_fd(),
                    buf.as_mut_ptr().cast::<libc::c_void>(),
                    buf.len(),
                    libc::MSG_DONTWAIT | libc::MSG_TRUNC,
                    (&mut addr as *mut libc::sockaddr_ll).cast::<libc::sockaddr>(),
                    &mut alen,
                )
            };
            if rc < 0 {
                let err = io::Error::last_os_error();
                match err.raw_os_error() {
                    Some(libc::EINTR) => continue,
                    Some(libc::EAGAIN) => return Ok(None),
                    _ => return Err(err).with_context(|| format!("recvfrom on {}", self.ifname)),
                }
            }
            if addr.sll_pkttype == libc::PACKET_OUTGOING {
                return Ok(Some(0));
            }
            return Ok(Some(rc as usize));
        }
    }

    /// Keeps incoming frames for which `keep` says true, until
    /// `limits.max_frames` were kept, `limits.timeout` passed, or (if set)
    /// `limits.idle` passed without a kept frame.
    pub fn recv_until(
        &self,
        limits: RecvLimits,
        mut keep: impl FnMut(&[u8]) -> bool,
    ) -> Result<Received> {
        let start = Instant::now();
        let deadline = start + limits.timeout;
        let mut last_kept: Option<Instant> = None;
        let mut out = Received::default();
        let mut buf = vec![0u8; RX_BUF_LEN];
        'outer: while out.frames.len() < limits.max_frames {
            let now = Instant::now();
            let mut until = deadline;
            if let (Some(idle), Some(t)) = (limits.idle, last_kept) {
                until = until.min(t + idle);
            }
            if now >= until {
                break;
            }
            if !self.wait_readable(until - now)? {
                continue;
            }
            while let Some(len) = self.recv_one(&mut buf)? {
                if len > buf.len() || (len > 0 && !keep(&buf[..len])) {
                    out.skipped += 1;
                } else if len > 0 {
                    out.frames.push(buf[..len].to_vec());
                    last_kept = Some(Instant::now());
                    if out.frames.len() >= limits.max_frames {
                        break 'outer;
                    }
                }
                if Instant::now() >= deadline {
                    break 'outer;
                }
            }
        }
        out.kernel_drops = self.kernel_drops()?;
        out.elapsed = start.elapsed();
        Ok(out)
    }

    /// Keeps our frames (those [`parse_seq`] recognises).
    pub fn recv_ours(&self, limits: RecvLimits) -> Result<Received> {
        self.recv_until(limits, |f| parse_seq(f).is_some())
    }

    /// Counts incoming frames and bytes for `duration` without keeping them.
    pub fn count_for(&self, duration: Duration) -> Result<RecvCount> {
        let start = Instant::now();
        let deadline = start + duration;
        let mut out = RecvCount::default();
        let mut buf = vec![0u8; RX_BUF_LEN];
        loop {
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            if !self.wait_readable(deadline - now)? {
                continue;
            }
            while let Some(len) = self.recv_one(&mut buf)? {
                if len == 0 {
                    continue;
                }
                out.packets += 1;
                out.bytes += len as u64;
                if len <= buf.len() && parse_seq(&buf[..len]).is_some() {
                    out.ours += 1;
                }
                if Instant::now() >= deadline {
                    break;
                }
            }
        }
        out.kernel_drops = self.kernel_drops()?;
        out.elapsed = start.elapsed();
        Ok(out)
    }

    /// Discards everything queued now; returns how many frames that was.
    /// Bounded: stops after 1,000,000 frames.
    pub fn drain(&self) -> Result<u64> {
        let mut buf = vec![0u8; RX_BUF_LEN];
        let mut n = 0;
        while n < 1_000_000 && self.recv_one(&mut buf)?.is_some() {
            n += 1;
        }
        Ok(n)
    }
}

impl AsFd for Receiver {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use etherparse::{Ipv4HeaderSlice, Ipv6HeaderSlice};
    use std::net::{Ipv4Addr, Ipv6Addr};

    const A: [u8; 6] = [0x02, 0, 0, 0, 0, 1];
    const B: [u8; 6] = [0x02, 0, 0, 0, 0, 2];

    fn v4(len: usize) -> FrameSpec {
        FrameSpec::udp(
            A,
            B,
            Ipv4Addr::new(198, 18, 0, 1).into(),
            Ipv4Addr::new(198, 18, 1, 1).into(),
            len,
        )
    }

    fn v6(len: usize) -> FrameSpec {
        FrameSpec::udp(
            A,
            B,
            "fd00:0:0:1::1".parse::<Ipv6Addr>().unwrap().into(),
            "fd00:0:0:2::1".parse::<Ipv6Addr>().unwrap().into(),
            len,
        )
    }

    #[test]
    fn frames_round_trip_at_every_length() {
        for spec in [v4(0), v6(0)] {
            for len in spec.min_len()..=ETH_FRAME_LEN {
                let spec = FrameSpec {
                    frame_len: len,
                    ..spec.clone()
                };
                let seq = (len as u64) << 32 | 7;
                let f = build_frame(&spec, seq).unwrap();
                assert_eq!(f.len(), len);
                assert_eq!(parse_seq(&f), Some(seq));
                assert_eq!(verify_frame(&f).unwrap(), seq);
            }
        }
        assert_eq!(v4(0).min_len(), 60);
        assert_eq!(v6(0).min_len(), 74);
    }

    #[test]
    fn headers_are_what_the_spec_says() {
        let f = build_frame(&v4(100), 42).unwrap();
        assert_eq!(&f[0..6], &B);
        assert_eq!(&f[6..12], &A);
        assert_eq!(&f[12..14], &[0x08, 0x00]);
        let ip = Ipv4HeaderSlice::from_slice(&f[14..]).unwrap();
        assert_eq!(ip.ttl(), 64);
        assert_eq!(ip.total_len(), 86);
        assert_eq!(ip.header_checksum(), ip.to_header().calc_header_checksum());
        assert_eq!(&f[34..36], &49152u16.to_be_bytes());
        assert_eq!(&f[36..38], &9u16.to_be_bytes());
        assert_eq!(&f[42..46], &MAGIC);
        assert_eq!(&f[46..54], &42u64.to_be_bytes());

        let f = build_frame(&v6(100), 42).unwrap();
        assert_eq!(&f[12..14], &[0x86, 0xdd]);
        let ip = Ipv6HeaderSlice::from_slice(&f[14..]).unwrap();
        assert_eq!(ip.hop_limit(), 64);
        assert_eq!(ip.payload_length(), 100 - 54);
    }

    #[test]
    fn every_corrupted_byte_is_caught() {
        for spec in [v4(128), v6(128)] {
            let good = build_frame(&spec, 3).unwrap();
            // Every byte from the IP header on is covered by a checksum or
            // the pattern, except IPv6 traffic class / flow label and hop
            // limit, which nothing covers.
            let uncovered: &[usize] = if spec.is_v6() {
                &[14, 15, 16, 17, 21]
            } else {
                &[]
            };
            for i in (ETH_LEN..good.len()).filter(|i| !uncovered.contains(i)) {
                let mut bad = good.clone();
                bad[i] ^= 0x01;
                assert!(verify_frame(&bad).is_err(), "flip at {i} not caught");
            }
        }
        // A pattern from another sequence number is caught even with fixed-up checksums.
        let mut other = build_frame(&v4(128), 4).unwrap();
        other[46..54].copy_from_slice(&3u64.to_be_bytes());
        assert!(verify_frame(&other).is_err());
    }

    #[test]
    fn patterns_differ_between_sequence_numbers() {
        let a = build_frame(&v4(200), 1).unwrap();
        let b = build_frame(&v4(200), 2).unwrap();
        let differing = a[54..].iter().zip(&b[54..]).filter(|(x, y)| x != y).count();
        assert!(differing > 100, "{differing}");
    }

    #[test]
    fn bad_input_is_an_error_or_none_never_a_panic() {
        assert!(build_frame(&v4(59), 0).is_err());
        assert!(build_frame(&v4(MAX_FRAME_LEN + 1), 0).is_err());
        assert!(build_frame(&v6(73), 0).is_err());
        let mixed = FrameSpec {
            dst_ip: Ipv6Addr::LOCALHOST.into(),
            ..v4(100)
        };
        assert!(build_frame(&mixed, 0).is_err());
        assert!(v4(100).forwarded(A, B).unwrap().forwarded(A, B).is_ok());
        assert!(FrameSpec { ttl: 1, ..v4(100) }.forwarded(A, B).is_err());

        let good = build_frame(&v4(100), 9).unwrap();
        for cut in 0..good.len() {
            assert_eq!(parse_seq(&good[..cut]), None, "cut at {cut}");
            assert!(verify_frame(&good[..cut]).is_err());
        }
        assert_eq!(parse_seq(&[]), None);
        assert_eq!(parse_seq(&[0xff; 1514]), None);
        // Trailing Ethernet padding is fine.
        let mut padded = good.clone();
        padded.extend_from_slice(&[0; 8]);
        assert_eq!(verify_frame(&padded).unwrap(), 9);
    }

    #[test]
    fn forwarded_spec_changes_only_macs_and_ttl() {
        let s = v4(100);
        let f = s.forwarded(B, A).unwrap();
        let (x, y) = (build_frame(&s, 5).unwrap(), build_frame(&f, 5).unwrap());
        assert_eq!(&y[0..6], &A);
        assert_eq!(y[14 + 8], 63);
        let diffs: Vec<usize> = (0..x.len()).filter(|&i| x[i] != y[i]).collect();
        // MACs, TTL and the IPv4 header checksum only.
        assert!(
            diffs
                .iter()
                .all(|&i| i < 12 || i == 22 || i == 24 || i == 25),
            "{diffs:?}"
        );
    }

    #[test]
    fn ones_complement_sum_matches_rfc1071_example() {
        // RFC 1071 section 3 example: 00 01 f2 03 f4 f5 f6 f7 sums to ddf2.
        assert_eq!(
            ones_complement_sum(0, &[0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]),
            0xddf2
        );
        assert_eq!(ones_complement_sum(0, &[0xff]), 0xff00);
    }

    #[test]
    fn send_limits_are_checked() {
        let l = SendLimits::new(10, Duration::from_secs(1)).rate(5);
        assert_eq!(l.rate_pps, Some(5));
        assert_eq!(l.batch, 64);
        let r = RecvLimits::new(3, Duration::from_secs(1)).idle(Duration::from_millis(5));
        assert_eq!(r.idle, Some(Duration::from_millis(5)));
    }
}
