//! The L2 decision: cross-connect with MAC rewrite, or hairpin.
//!
//! PURE: no syscalls, no allocation, no clock, no panics on any input. The
//! frame is rewritten in place; the worker moves it to the verdict's port.

use crate::limits::MAX_PORTS;
use crate::rings::Meta;
use crate::verdict::{DropReason, Forwarder, Verdict};
use crate::wire::ethernet::{self, Mac};

/// How the L2 forwarder pairs its ports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum L2Mode {
    /// Ports 2k and 2k+1 are cross-connected: what arrives on one leaves
    /// on the other.
    CrossConnect,
    /// Every frame goes back out where it came from, MACs swapped.
    Hairpin,
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
}

/// What the forwarder needs to know about one port.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct L2Port {
    /// The interface's own MAC address.
    pub mac: Mac,
    /// Largest frame it can send (MTU + Ethernet header, bounded by the
    /// UMEM frame).
    pub max_len: u32,
    /// Cross-connect: destination MAC written on frames leaving this port
    /// (the frame is then re-originated with the port's own MAC as source).
    /// `None` leaves both MACs alone (a transparent wire).
    pub next_hop: Option<Mac>,
}

impl L2Forwarder {
    /// The forwarder for `ports` (port `i` is `ports[i]`; at most
    /// [`MAX_PORTS`], cross-connect takes them in pairs).
    pub fn new(mode: L2Mode, ports: &[L2Port]) -> Self {
        let none = Egress {
            port: 0,
            src: None,
            dst: None,
            swap: false,
            max_len: 0,
        };
        let mut egress = [none; MAX_PORTS];
        let n = ports.len().min(MAX_PORTS);
        for (i, e) in egress.iter_mut().enumerate().take(n) {
            *e = match mode {
                L2Mode::Hairpin => Egress {
                    port: i as u8,
                    src: None,
                    dst: None,
                    swap: true,
                    max_len: ports[i].max_len,
                },
                L2Mode::CrossConnect => {
                    // An odd last port has no partner: max_len 0 drops
                    // what arrives on it (the config refuses such a list).
                    let out = i ^ 1;
                    let Some(o) = ports.get(out) else { continue };
                    Egress {
                        port: out as u8,
                        // A transparent wire keeps both MACs; with a next hop
                        // the frame is re-originated by the egress port.
                        src: o.next_hop.map(|_| o.mac.0),
                        dst: o.next_hop.map(|m| m.0),
                        swap: false,
                        max_len: o.max_len,
                    }
                }
            };
        }
        L2Forwarder { egress }
    }

    /// Decides and rewrites one frame that arrived on port `ingress`.
    #[inline]
    pub fn process(&self, ingress: usize, frame: &mut [u8]) -> Verdict {
        self.process_chained(ingress, frame, 0)
    }

    /// [`L2Forwarder::process`] for a packet whose first frame is `frame`
    /// and which has `tail` more bytes in further frames (multi-buffer).
    #[inline(always)]
    fn process_chained(&self, ingress: usize, frame: &mut [u8], tail: u32) -> Verdict {
        let len = frame.len() as u32 + tail;
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

impl Forwarder for L2Forwarder {
    #[inline]
    fn decide_batch(
        &mut self,
        ingress: usize,
        frames: &mut [&mut [u8]],
        _meta: &[Meta],
        out: &mut [Verdict],
    ) {
        debug_assert_eq!(frames.len(), out.len());
        for (f, v) in frames.iter_mut().zip(out) {
            *v = self.process(ingress, f);
        }
    }

    fn decide_chained(
        &mut self,
        ingress: usize,
        head: &mut [u8],
        tail: u32,
        _meta: &Meta,
    ) -> Verdict {
        self.process_chained(ingress, head, tail)
    }

    fn set_port_max_len(&mut self, port: usize, max_len: u32) {
        for e in &mut self.egress {
            // Unpaired entries (max_len 0) stay closed.
            if usize::from(e.port) == port && e.max_len != 0 {
                e.max_len = max_len;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rings::META_LEN;

    const A: Mac = Mac([2, 0, 0, 0, 0, 0xa]);
    const B: Mac = Mac([2, 0, 0, 0, 0, 0xb]);
    const NH_A: Mac = Mac([2, 0, 0, 0, 1, 0xa]);
    const NH_B: Mac = Mac([2, 0, 0, 0, 1, 0xb]);

    fn l2(mode: L2Mode, nh: [Option<Mac>; 2]) -> L2Forwarder {
        let ports = [
            L2Port {
                mac: A,
                max_len: 1514,
                next_hop: nh[0],
            },
            L2Port {
                mac: B,
                max_len: 1514,
                next_hop: nh[1],
            },
        ];
        let n = if mode == L2Mode::Hairpin { 1 } else { 2 };
        L2Forwarder::new(mode, &ports[..n])
    }

    fn frame(len: usize) -> Vec<u8> {
        let mut f: Vec<u8> = (0..len).map(|i| (i * 7 + 3) as u8).collect();
        f[..6].copy_from_slice(&A.0);
        f[6..12].copy_from_slice(&[2, 0, 0, 0, 9, 9]);
        f
    }

    #[test]
    fn cross_connect_rewrites_both_macs_with_a_next_hop() {
        let fwd = l2(L2Mode::CrossConnect, [Some(NH_A), Some(NH_B)]);
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
        let fwd = l2(L2Mode::CrossConnect, [None, None]);
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
        let fwd = l2(L2Mode::Hairpin, [None, None]);
        let mut f = frame(64);
        let orig = f.clone();
        assert_eq!(fwd.process(0, &mut f), Verdict::Tx { port: 0, len: 64 });
        assert_eq!(&f[0..6], &orig[6..12]);
        assert_eq!(&f[6..12], &orig[0..6]);
        assert_eq!(&f[12..], &orig[12..]);
    }

    #[test]
    fn runts_oversize_and_unknown_ports_are_dropped_not_panicking() {
        let fwd = l2(L2Mode::CrossConnect, [Some(NH_A), Some(NH_B)]);
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

    #[test]
    fn a_batch_gets_one_verdict_per_frame() {
        let mut fwd = l2(L2Mode::CrossConnect, [Some(NH_A), Some(NH_B)]);
        let mut a = frame(60);
        let mut b = vec![0u8; 3];
        let mut c = frame(200);
        let mut frames: [&mut [u8]; 3] = [&mut a, &mut b, &mut c];
        let mut out = [Verdict::Drop(DropReason::NoEgress); 3];
        fwd.decide_batch(0, &mut frames, &[[0; META_LEN]; 3], &mut out);
        assert_eq!(
            out,
            [
                Verdict::Tx { port: 1, len: 60 },
                Verdict::Drop(DropReason::Runt),
                Verdict::Tx { port: 1, len: 200 },
            ]
        );
        assert_eq!(&c[0..6], &NH_B.0);
    }
}
