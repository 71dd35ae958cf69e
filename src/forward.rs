//! The forwarding decision: bytes in, verdict out.
//!
//! PURE: no syscalls, no allocation, no clock, no panics on any input. The
//! frame is rewritten in place; the caller moves it to the verdict's port.

use crate::config::{Config, Mac, Mode, MAX_PORTS};
use crate::stats::DropReason;
use crate::wire::ethernet;

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

/// A per-packet decision the worker loop can drive.
pub trait Forwarder {
    /// Called before each rx batch (e.g. to pick up new table snapshots).
    #[inline]
    fn refresh(&mut self) {}

    /// Decides and rewrites one frame that arrived on port `ingress`.
    fn process(&self, ingress: usize, frame: &mut [u8]) -> Verdict;

    /// Looks at frame `slot` of the current rx batch before any of the
    /// batch is processed (e.g. to start its route lookup).
    #[inline]
    fn prepare(&mut self, _slot: usize, _frame: &[u8]) {}

    /// Called once all frames of the batch were prepared (e.g. to look
    /// their routes up together).
    #[inline]
    fn prepared(&mut self) {}

    /// [`Forwarder::process`] for frame `slot` of the batch last prepared.
    #[inline]
    fn process_slot(&self, _slot: usize, ingress: usize, frame: &mut [u8]) -> Verdict {
        self.process(ingress, frame)
    }
}

/// Either forwarder, chosen at start-up (one predictable branch per
/// packet instead of a generic application).
#[derive(Debug, Clone)]
#[expect(
    clippy::large_enum_variant,
    reason = "one per worker, built once and never moved in the loop; a Box would add a load per packet"
)]
pub enum AnyForwarder {
    /// L2 cross-connect or hairpin.
    L2(L2Forwarder),
    /// L3 router.
    L3(crate::l3::L3Forwarder),
}

impl Forwarder for AnyForwarder {
    #[inline]
    fn refresh(&mut self) {
        if let AnyForwarder::L3(f) = self {
            f.refresh();
        }
    }

    #[inline]
    fn process(&self, ingress: usize, frame: &mut [u8]) -> Verdict {
        match self {
            AnyForwarder::L2(f) => f.process(ingress, frame),
            AnyForwarder::L3(f) => f.process(ingress, frame),
        }
    }

    #[inline]
    fn prepare(&mut self, slot: usize, frame: &[u8]) {
        if let AnyForwarder::L3(f) = self {
            f.prepare(slot, frame);
        }
    }

    #[inline]
    fn prepared(&mut self) {
        if let AnyForwarder::L3(f) = self {
            f.prepared();
        }
    }

    #[inline]
    fn process_slot(&self, slot: usize, ingress: usize, frame: &mut [u8]) -> Verdict {
        match self {
            AnyForwarder::L2(f) => f.process(ingress, frame),
            AnyForwarder::L3(f) => f.process_slot(slot, ingress, frame),
        }
    }
}

impl Forwarder for L2Forwarder {
    #[inline]
    fn process(&self, ingress: usize, frame: &mut [u8]) -> Verdict {
        L2Forwarder::process(self, ingress, frame)
    }
}

/// How frames arriving on one port leave.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Egress {
    port: u8,
    /// Source MAC to write (the egress interface's MAC); `None` keeps it.
    src: Option<[u8; 6]>,
    /// Destination MAC to write; `None` keeps it.
    dst: Option<[u8; 6]>,
    /// Swap the two MACs instead (hairpin).
    swap: bool,
    /// Largest frame the egress port accepts (Ethernet header included).
    max_len: u32,
}

/// Per-packet L2 decision: cross-connect with MAC rewrite, or hairpin.
#[derive(Clone, Debug)]
pub struct L2Forwarder {
    egress: [Egress; MAX_PORTS],
    ports: usize,
}

/// What the forwarder needs to know about one port at run time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PortInfo {
    /// The interface's own MAC address.
    pub mac: Mac,
    /// Largest frame it can send (MTU + Ethernet header, bounded by the
    /// UMEM frame).
    pub max_len: u32,
}

impl L2Forwarder {
    /// Builds the table for a validated `config`; `info[i]` describes port i.
    pub fn new(config: &Config, info: &[PortInfo]) -> Self {
        let none = Egress {
            port: 0,
            src: None,
            dst: None,
            swap: false,
            max_len: 0,
        };
        let mut egress = [none; MAX_PORTS];
        let n = config.ports.len().min(MAX_PORTS).min(info.len());
        for (i, e) in egress.iter_mut().enumerate().take(n) {
            *e = match config.mode {
                // Not an L2 mode: max_len 0 drops every frame (never built).
                Mode::Router => none,
                Mode::Hairpin => Egress {
                    port: i as u8,
                    src: None,
                    dst: None,
                    swap: true,
                    max_len: info[i].max_len,
                },
                Mode::CrossConnect => {
                    let out = i ^ 1;
                    let nh = config.ports[out].next_hop_mac;
                    Egress {
                        port: out as u8,
                        // A transparent wire keeps both MACs; with a next hop
                        // the frame is re-originated by the egress port.
                        src: nh.map(|_| info[out].mac.0),
                        dst: nh.map(|m| m.0),
                        swap: false,
                        max_len: info[out].max_len,
                    }
                }
            };
        }
        L2Forwarder { egress, ports: n }
    }

    /// Number of ports.
    pub fn ports(&self) -> usize {
        self.ports
    }

    /// Decides and rewrites one frame that arrived on port `ingress`.
    #[inline]
    pub fn process(&self, ingress: usize, frame: &mut [u8]) -> Verdict {
        let len = frame.len() as u32;
        let Some(e) = self.egress.get(ingress) else {
            return Verdict::Drop(DropReason::Runt);
        };
        let Ok(mut eth) = ethernet::Frame::new_checked(frame) else {
            return Verdict::Drop(DropReason::Runt);
        };
        if len > e.max_len {
            return Verdict::Drop(DropReason::TooBig);
        }
        if e.swap {
            eth.swap_addrs();
        } else {
            if let Some(dst) = e.dst {
                eth.set_dst(dst);
            }
            if let Some(src) = e.src {
                eth.set_src(src);
            }
        }
        Verdict::Tx { port: e.port, len }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: Mac = Mac([2, 0, 0, 0, 0, 0xa]);
    const B: Mac = Mac([2, 0, 0, 0, 0, 0xb]);
    const NH_A: Mac = Mac([2, 0, 0, 0, 1, 0xa]);
    const NH_B: Mac = Mac([2, 0, 0, 0, 1, 0xb]);

    fn config(mode: Mode, nh: [Option<Mac>; 2]) -> Config {
        let ports = [("p0", nh[0]), ("p1", nh[1])];
        let n = if mode == Mode::Hairpin { 1 } else { 2 };
        Config::with_ports(mode, &ports[..n])
    }

    fn info() -> [PortInfo; 2] {
        [
            PortInfo {
                mac: A,
                max_len: 1514,
            },
            PortInfo {
                mac: B,
                max_len: 1514,
            },
        ]
    }

    fn frame(len: usize) -> Vec<u8> {
        let mut f: Vec<u8> = (0..len).map(|i| (i * 7 + 3) as u8).collect();
        f[..6].copy_from_slice(&A.0);
        f[6..12].copy_from_slice(&[2, 0, 0, 0, 9, 9]);
        f
    }

    #[test]
    fn cross_connect_rewrites_both_macs_with_a_next_hop() {
        let fwd = L2Forwarder::new(
            &config(Mode::CrossConnect, [Some(NH_A), Some(NH_B)]),
            &info(),
        );
        let mut f = frame(60);
        let orig = f.clone();
        assert_eq!(fwd.process(0, &mut f), Verdict::Tx { port: 1, len: 60 });
        assert_eq!(&f[0..6], &NH_B.0, "dst = next hop behind port 1");
        assert_eq!(&f[6..12], &B.0, "src = port 1's own MAC");
        assert_eq!(&f[12..], &orig[12..]);

        let mut f = frame(1514);
        assert_eq!(fwd.process(1, &mut f), Verdict::Tx { port: 0, len: 1514 });
        assert_eq!(&f[0..12], &[NH_A.0, A.0].concat()[..]);
    }

    #[test]
    fn transparent_wire_changes_nothing() {
        let fwd = L2Forwarder::new(&config(Mode::CrossConnect, [None, None]), &info());
        for len in [14, 60, 61, 1000, 1514] {
            let mut f = frame(len);
            let orig = f.clone();
            assert_eq!(
                fwd.process(1, &mut f),
                Verdict::Tx {
                    port: 0,
                    len: len as u32
                }
            );
            assert_eq!(f, orig);
        }
    }

    #[test]
    fn hairpin_swaps() {
        let fwd = L2Forwarder::new(&config(Mode::Hairpin, [None, None]), &info());
        let mut f = frame(64);
        let orig = f.clone();
        assert_eq!(fwd.process(0, &mut f), Verdict::Tx { port: 0, len: 64 });
        assert_eq!(&f[0..6], &orig[6..12]);
        assert_eq!(&f[6..12], &orig[0..6]);
        assert_eq!(&f[12..], &orig[12..]);
    }

    #[test]
    fn runts_oversize_and_unknown_ports_are_dropped_not_panicking() {
        let fwd = L2Forwarder::new(
            &config(Mode::CrossConnect, [Some(NH_A), Some(NH_B)]),
            &info(),
        );
        for len in 0..14 {
            let mut f = vec![0u8; len];
            assert_eq!(fwd.process(0, &mut f), Verdict::Drop(DropReason::Runt));
            assert!(f.iter().all(|b| *b == 0), "a dropped runt is not written");
        }
        let mut f = frame(1515);
        assert_eq!(fwd.process(0, &mut f), Verdict::Drop(DropReason::TooBig));
        let mut f = frame(60);
        assert!(matches!(
            fwd.process(MAX_PORTS + 3, &mut f),
            Verdict::Drop(_)
        ));
    }
}
