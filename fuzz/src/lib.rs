//! What each fuzz target checks. The targets (`fuzz_targets/*.rs`) only
//! call these; `scripts/fuzz.sh` builds them with coverage instrumentation
//! on the stable toolchain and runs them from the corpora under `corpus/`
//! and the crash regressions under `regressions/`.
//!
//! Invariants, beyond "never panics":
//! - `wire`: every accessor of a view that passed its length check works;
//!   the incremental TTL update equals a full checksum recompute.
//! - `l2`, `l3`: the decision and in-place rewrite of a frame inside a
//!   frame-sized buffer with XDP headroom never touch bytes outside the
//!   frame; a forwarded frame is never longer than it came; L3: it carries
//!   a valid header with TTL / hop limit one lower, the right MACs, and
//!   every other byte it keeps is unchanged.
//! - `netlink`, `routes_file`: parsing any bytes never panics, and what
//!   parses also resolves or fails with an error.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::OnceLock;

use xskfwd_core::l2::{L2Forwarder, L2Mode, L2Port};
use xskfwd_core::l3::{L3Forwarder, META_MAGIC};
use xskfwd_core::rings::{Meta, META_LEN};
use xskfwd_core::testing::router::{self, HOST, NEXT_HOP, PORT0 as MAC_A, PORT1 as MAC_B};
use xskfwd_core::tables::{tables, TablesReader, TablesWriter};
use xskfwd_core::verdict::{Forwarder, Verdict};
use xskfwd_core::wire::ethernet::{self, Mac};
use xskfwd_core::wire::{checksum, ipv4, ipv6};

/// UMEM frame size and XDP headroom, as the forwarder runs by default.
const FRAME: usize = 2048;
const HEADROOM: usize = 256;
const GUARD: u8 = 0xA5;


/// Wire views over arbitrary bytes.
pub fn wire(data: &[u8]) {
    let mut buf = data.to_vec();
    if let Ok(info) = ethernet::l3(&buf) {
        assert!(info.offset <= buf.len());
        let eth = ethernet::Frame::new_checked(&buf[..]).expect("l3() saw a header");
        let _ = (eth.dst(), eth.src(), eth.ethertype(), eth.payload().len());
        let _ = ethernet::is_multicast(&eth.dst());
    }
    for off in [0, ethernet::HEADER_LEN, ethernet::TAGGED_HEADER_LEN] {
        let Some(l3) = buf.get_mut(off..) else {
            continue;
        };
        ipv4_view(l3);
        ipv6_view(l3);
    }
    // Checksums: the 32-bit sum of any bytes folds the same however it is
    // split at an even offset.
    let split = data.first().map_or(0, |b| usize::from(*b) & !1).min(data.len() & !1);
    let whole = checksum::fold(checksum::sum(data, 0));
    let parts = checksum::fold(checksum::sum(&data[split..], checksum::sum(&data[..split], 0)));
    assert_eq!(whole, parts);
}

fn ipv4_view(l3: &mut [u8]) {
    let avail = l3.len();
    let Ok(mut p) = ipv4::Packet::new_checked(&mut *l3) else {
        return;
    };
    let _ = (
        p.version(),
        p.ihl(),
        p.dscp_ecn(),
        p.total_len(),
        p.ident(),
        p.dont_frag(),
        p.more_frags(),
        p.frag_offset(),
        p.protocol(),
        p.src_addr(),
        p.dst_addr(),
        p.has_options(),
    );
    let valid = p.check(avail).is_ok();
    if valid {
        assert!(p.verify_checksum());
        if p.ttl() > 0 {
            let ttl = p.ttl();
            p.decrement_ttl();
            assert_eq!(p.ttl(), ttl - 1);
            assert!(p.verify_checksum(), "incremental update broke the checksum");
            let incremental = p.checksum();
            p.fill_checksum();
            assert_eq!(incremental, p.checksum(), "RFC 1624 vs full recompute");
        }
    } else {
        // Must not panic on any header length, however wrong.
        p.fill_checksum();
    }
}

fn ipv6_view(l3: &mut [u8]) {
    let Ok(mut p) = ipv6::Packet::new_checked(&mut *l3) else {
        return;
    };
    let _ = (
        p.version(),
        p.traffic_class(),
        p.flow_label(),
        p.payload_len(),
        p.next_header(),
        p.src_addr(),
        p.dst_addr(),
    );
    let h = p.hop_limit();
    p.set_hop_limit(h.wrapping_sub(1));
    assert_eq!(p.hop_limit(), h.wrapping_sub(1));
}

/// Puts `frame` into a UMEM-frame-sized buffer after the headroom, the
/// rest filled with a guard pattern. Returns the buffer and the frame's
/// length (cut to what fits).
fn in_umem_frame(frame: &[u8]) -> (Vec<u8>, usize) {
    let n = frame.len().min(FRAME - HEADROOM);
    let mut buf = vec![GUARD; FRAME];
    buf[HEADROOM..HEADROOM + n].copy_from_slice(&frame[..n]);
    (buf, n)
}

fn guards_intact(buf: &[u8], n: usize) {
    assert!(buf[..HEADROOM].iter().all(|&b| b == GUARD), "headroom written");
    assert!(
        buf[HEADROOM + n..].iter().all(|&b| b == GUARD),
        "bytes after the frame written"
    );
}

/// The L2 decision: byte 0 picks mode, ingress and next hops; the rest
/// is the frame.
pub fn l2(data: &[u8]) {
    let Some((&ctl, frame)) = data.split_first() else {
        return;
    };
    let mode = if ctl & 1 == 0 {
        L2Mode::CrossConnect
    } else {
        L2Mode::Hairpin
    };
    let ingress = usize::from((ctl >> 1) & 3); // 2 and 3 are not ports
    let rewrite = ctl & 8 != 0;
    let max_len = 1514 + u32::from(ctl >> 4) * 64;
    let ports = [
        L2Port {
            mac: Mac(MAC_A),
            max_len,
            next_hop: rewrite.then_some(Mac(NEXT_HOP)),
        },
        L2Port {
            mac: Mac(MAC_B),
            max_len: 1514,
            next_hop: rewrite.then_some(Mac(HOST)),
        },
    ];
    let mut fwd = L2Forwarder::new(mode, &ports);
    let (mut buf, n) = in_umem_frame(frame);
    let before = buf.clone();
    let mut verdict = [Verdict::Drop(xskfwd_core::verdict::DropReason::NoEgress)];
    {
        let mut frames = [&mut buf[HEADROOM..HEADROOM + n]];
        fwd.decide_batch(ingress, &mut frames, &[[0; META_LEN]], &mut verdict);
    }
    guards_intact(&buf, n);
    let f = &buf[HEADROOM..HEADROOM + n];
    let orig = &before[HEADROOM..HEADROOM + n];
    match verdict[0] {
        Verdict::Tx { port, len } => {
            let port = usize::from(port);
            assert!(ingress < 2 && n >= ethernet::HEADER_LEN);
            assert_eq!(len as usize, n, "L2 never changes the length");
            assert!(len <= ports[port].max_len);
            assert_eq!(&f[12..], &orig[12..], "L2 changed more than the MACs");
            match mode {
                L2Mode::Hairpin => {
                    assert_eq!(port, ingress);
                    assert_eq!((&f[..6], &f[6..12]), (&orig[6..12], &orig[..6]));
                }
                L2Mode::CrossConnect => {
                    assert_eq!(port, ingress ^ 1);
                    if let Some(nh) = ports[port].next_hop {
                        assert_eq!((&f[..6], &f[6..12]), (&nh.0[..], &ports[port].mac.0[..]));
                    } else {
                        assert_eq!(f, orig);
                    }
                }
            }
        }
        Verdict::Drop(_) | Verdict::Pass(_) => {}
    }
}

/// The core's test router (`xskfwd_core::testing::router`), built once.
struct World {
    reader: TablesReader,
    _writer: TablesWriter,
}

fn world() -> &'static std::sync::Mutex<World> {
    static WORLD: OnceLock<std::sync::Mutex<World>> = OnceLock::new();
    WORLD.get_or_init(|| {
        let fib = router::routes().build().expect("routes build");
        let neigh = router::neighbours().build().resolved_for(&fib);
        let (writer, reader) = tables(fib, neigh);
        std::sync::Mutex::new(World {
            reader,
            _writer: writer,
        })
    })
}

/// The L3 decision. Byte 0: ingress port (bit 0; bit 1 makes it a port
/// the forwarder does not have), kernel metadata (bit 2: the next
/// `META_LEN` bytes are the program's metadata, magic set), whether to
/// steer the destination into a routed prefix (bit 3). Then the frame,
/// whose destination MAC is set to the ingress port's (else nearly every
/// input would be `not_for_us`) unless bit 4 is set.
pub fn l3(data: &[u8]) {
    let Some((&ctl, mut rest)) = data.split_first() else {
        return;
    };
    let ingress = usize::from(ctl & 1) + if ctl & 2 != 0 { 5 } else { 0 };
    let mut meta: Meta = [0; META_LEN];
    if ctl & 4 != 0 {
        let Some(m) = rest.get(..META_LEN) else {
            return;
        };
        meta.copy_from_slice(m);
        meta[..4].copy_from_slice(&META_MAGIC.to_ne_bytes());
        rest = &rest[META_LEN..];
    }
    let (mut buf, n) = in_umem_frame(rest);
    {
        let f = &mut buf[HEADROOM..HEADROOM + n];
        if ctl & 16 == 0 && n >= 6 {
            f[..6].copy_from_slice(if ingress == 0 { &MAC_A } else { &MAC_B });
        }
        if ctl & 8 != 0 && n >= 34 && f[12..14] == [0x08, 0x00] {
            f[30] = 198;
            f[31] = 18;
            f[32] %= 12;
        }
        if ctl & 8 != 0 && n >= 54 && f[12..14] == [0x86, 0xdd] {
            f[38..44].copy_from_slice(&[0xfd, 0, 0, 0, 0, 0]);
            f[44] = 0;
            f[45] %= 8;
        }
    }
    let before = buf.clone();
    let ports = router::ports();
    let w = world().lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let mut fwd = L3Forwarder::new(&ports, w.reader.clone());
    let mut verdict = [Verdict::Drop(xskfwd_core::verdict::DropReason::NoEgress)];
    {
        let mut frames = [&mut buf[HEADROOM..HEADROOM + n]];
        fwd.decide_batch(ingress, &mut frames, &[meta], &mut verdict);
    }
    guards_intact(&buf, n);
    let Verdict::Tx { port, len } = verdict[0] else {
        return;
    };
    let len = len as usize;
    let port = usize::from(port);
    assert!(len <= n, "a forwarded frame grew: {len} > {n}");
    assert!(port < ports.len(), "egress {port} is not a port");
    assert!(ingress < ports.len(), "forwarded from a port it does not have");
    let f = &buf[HEADROOM..HEADROOM + len];
    let orig = &before[HEADROOM..HEADROOM + n];
    let (dst, src) = (&f[..6], &f[6..12]);
    // The kernel's decision is executed when it names another port of
    // ours; otherwise the worker decides with its mirror.
    let kernel = xskfwd_core::l3::KernelHop::from_meta(&meta)
        .filter(|h| usize::from(h.port) < ports.len() && usize::from(h.port) != ingress);
    if let Some(hop) = kernel {
        assert_eq!(port, usize::from(hop.port), "the kernel's egress");
        assert_eq!((dst, src), (&hop.dst[..], &hop.src[..]));
    } else {
        assert_eq!(src, &ports[port].mac[..], "source MAC is not the egress port's");
        assert!(
            dst == NEXT_HOP || dst == HOST || dst == router::SRC,
            "destination MAC is not a neighbour's"
        );
    }
    assert_eq!(&f[12..14], &orig[12..14], "ethertype changed");
    let l3 = &f[ethernet::HEADER_LEN..];
    let o3 = &orig[ethernet::HEADER_LEN..];
    match u16::from_be_bytes([f[12], f[13]]) {
        ethernet::ethertype::IPV4 => {
            let p = ipv4::Packet::new_checked(l3).expect("forwarded a runt");
            let o = ipv4::Packet::new_checked(o3).expect("forwarded a runt");
            assert!(p.check(l3.len()).is_ok(), "forwarded an invalid IPv4 header");
            assert_eq!(usize::from(p.total_len()), l3.len(), "not trimmed to the IP length");
            assert_eq!(p.ttl(), o.ttl() - 1, "TTL not decremented");
            // Everything but TTL and checksum is unchanged.
            for (i, (a, b)) in l3.iter().zip(o3).enumerate() {
                if i != 8 && i != 10 && i != 11 {
                    assert_eq!(a, b, "IPv4 byte {i} changed");
                }
            }
            let _: Ipv4Addr = p.dst_addr();
        }
        ethernet::ethertype::IPV6 => {
            let p = ipv6::Packet::new_checked(l3).expect("forwarded a runt");
            let o = ipv6::Packet::new_checked(o3).expect("forwarded a runt");
            assert_eq!(p.version(), 6);
            assert_eq!(usize::from(p.payload_len()) + 40, l3.len(), "not trimmed");
            assert_eq!(p.hop_limit(), o.hop_limit() - 1, "hop limit not decremented");
            for (i, (a, b)) in l3.iter().zip(o3).enumerate() {
                if i != 7 {
                    assert_eq!(a, b, "IPv6 byte {i} changed");
                }
            }
            let _: Ipv6Addr = p.dst_addr();
        }
        other => panic!("forwarded ethertype {other:#06x}"),
    }
}

/// Netlink notifications as the route monitor parses them.
pub fn netlink(data: &[u8]) {
    let (events, malformed) = xskfwd::netlink::fuzzing::datagram(data);
    assert!(events.len() + malformed as usize <= data.len() / 16 + 1);
}

/// The routes file, both syntaxes, then resolved against two ports.
pub fn routes_file(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    use xskfwd::config::RoutesFile;
    for parsed in [
        RoutesFile::parse(text, "fuzz"),
        RoutesFile::from_lines(text, "fuzz"),
        RoutesFile::from_toml(text, "fuzz"),
    ] {
        if let Ok(file) = parsed {
            let input = xskfwd::config::L3Input {
                kernel: file.kernel,
                routes: file.route,
                neighs: file.neigh,
            };
            let _ = input.resolve(&["dut0", "dut1"]);
        }
    }
}
