//! IPv4 header view (RFC 791).
//!
//! Never: allocate, panic once [`Packet::new_checked`] said Ok (whatever the
//! bytes say, including IHL and total length), or trust a header field without
//! [`Packet::check`]. Setters write only the field they name; the checksum is
//! kept right only by [`Packet::decrement_ttl`] and [`Packet::fill_checksum`].

use core::net::Ipv4Addr;

use super::checksum;
use super::Truncated;

mod field {
    use core::ops::Range;
    pub const VER_IHL: usize = 0;
    pub const DSCP_ECN: usize = 1;
    pub const TOTAL_LEN: Range<usize> = 2..4;
    pub const IDENT: Range<usize> = 4..6;
    pub const FLAGS_FRAG: Range<usize> = 6..8;
    pub const TTL: usize = 8;
    pub const PROTOCOL: usize = 9;
    pub const CHECKSUM: Range<usize> = 10..12;
    pub const SRC: Range<usize> = 12..16;
    pub const DST: Range<usize> = 16..20;
    pub const HEADER_LEN: usize = 20;
}

/// Length of an IPv4 header without options.
pub const HEADER_LEN: usize = field::HEADER_LEN;

/// IP protocol numbers (IANA "Assigned Internet Protocol Numbers").
pub mod protocol {
    /// Internet Control Message Protocol.
    pub const ICMP: u8 = 1;
    /// Internet Group Management Protocol.
    pub const IGMP: u8 = 2;
    /// Transmission Control Protocol.
    pub const TCP: u8 = 6;
    /// User Datagram Protocol.
    pub const UDP: u8 = 17;
    /// IPv6 encapsulated in IPv4.
    pub const IPV6: u8 = 41;
    /// Generic Routing Encapsulation.
    pub const GRE: u8 = 47;
    /// ICMP for IPv6.
    pub const ICMPV6: u8 = 58;
}

/// Why [`Packet::check`] rejected a header, in the order the tests are made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Ipv4Error {
    /// The version field is not 4.
    Version,
    /// IHL is below 5, or the header it announces runs past the packet.
    HeaderLen,
    /// The total length is smaller than the header length.
    TotalLen,
    /// The total length is larger than the bytes the link layer delivered.
    Truncated,
    /// The header checksum does not verify.
    Checksum,
}

/// A view of an IPv4 packet.
#[derive(Debug)]
pub struct Packet<T: AsRef<[u8]>> {
    buf: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wraps `buf` after checking it holds the fixed 20-byte header.
    ///
    /// Nothing else is checked here: use [`Packet::check`] before trusting
    /// version, IHL, total length or checksum.
    pub fn new_checked(buf: T) -> Result<Self, Truncated> {
        if buf.as_ref().len() < HEADER_LEN {
            Err(Truncated)
        } else {
            Ok(Packet { buf })
        }
    }

    /// Validates the header as RFC 1812 §5.2.2 asks, given that the link
    /// layer delivered `frame_payload_len` bytes for this packet: normally
    /// the length of the buffer; more for a multi-buffer (jumbo) packet,
    /// whose further bytes are in other buffers. The header itself must be
    /// in this buffer.
    ///
    /// Tests, in this order: version is 4; IHL is at least 5 and the header
    /// fits; total length covers the header; total length fits in what was
    /// delivered; the header checksum verifies. The checksum comes last because
    /// it can only be computed once the header length is known to be sane.
    /// Bytes beyond the total length (Ethernet padding) are allowed.
    pub fn check(&self, frame_payload_len: usize) -> Result<(), Ipv4Error> {
        let in_buf = frame_payload_len.min(self.buf.as_ref().len());
        let header_len = self.header_len();
        let total_len = usize::from(self.total_len());
        if self.version() != 4 {
            Err(Ipv4Error::Version)
        } else if header_len < HEADER_LEN || header_len > in_buf {
            Err(Ipv4Error::HeaderLen)
        } else if total_len < header_len {
            Err(Ipv4Error::TotalLen)
        } else if total_len > frame_payload_len {
            Err(Ipv4Error::Truncated)
        } else if !self.verify_checksum() {
            Err(Ipv4Error::Checksum)
        } else {
            Ok(())
        }
    }

    /// IP version (4 for a valid packet).
    pub fn version(&self) -> u8 {
        self.buf.as_ref()[field::VER_IHL] >> 4
    }

    /// Internet header length, in 32-bit words.
    pub fn ihl(&self) -> u8 {
        self.buf.as_ref()[field::VER_IHL] & 0x0F
    }

    /// Header length in bytes (`ihl() * 4`), as stated; may exceed the buffer.
    pub fn header_len(&self) -> usize {
        usize::from(self.ihl()) * 4
    }

    /// The DSCP (upper 6 bits) and ECN (lower 2 bits) byte.
    pub fn dscp_ecn(&self) -> u8 {
        self.buf.as_ref()[field::DSCP_ECN]
    }

    /// Total length of the packet (header and payload), in bytes.
    pub fn total_len(&self) -> u16 {
        self.read_u16(field::TOTAL_LEN)
    }

    /// Identification.
    pub fn ident(&self) -> u16 {
        self.read_u16(field::IDENT)
    }

    /// The Don't Fragment flag.
    pub fn dont_frag(&self) -> bool {
        self.read_u16(field::FLAGS_FRAG) & 0x4000 != 0
    }

    /// The More Fragments flag.
    pub fn more_frags(&self) -> bool {
        self.read_u16(field::FLAGS_FRAG) & 0x2000 != 0
    }

    /// Fragment offset, in 8-byte units.
    pub fn frag_offset(&self) -> u16 {
        self.read_u16(field::FLAGS_FRAG) & 0x1FFF
    }

    /// Time to live.
    pub fn ttl(&self) -> u8 {
        self.buf.as_ref()[field::TTL]
    }

    /// Protocol of the payload (see [`protocol`]).
    pub fn protocol(&self) -> u8 {
        self.buf.as_ref()[field::PROTOCOL]
    }

    /// Header checksum as stored.
    pub fn checksum(&self) -> u16 {
        self.read_u16(field::CHECKSUM)
    }

    /// Source address as a host-order `u32` (10.0.0.1 is `0x0A00_0001`).
    pub fn src(&self) -> u32 {
        self.read_u32(field::SRC)
    }

    /// Destination address as a host-order `u32`.
    pub fn dst(&self) -> u32 {
        self.read_u32(field::DST)
    }

    /// Source address.
    pub fn src_addr(&self) -> Ipv4Addr {
        Ipv4Addr::from(self.src())
    }

    /// Destination address.
    pub fn dst_addr(&self) -> Ipv4Addr {
        Ipv4Addr::from(self.dst())
    }

    /// Whether the header carries options (IHL above 5).
    pub fn has_options(&self) -> bool {
        self.ihl() > 5
    }

    /// Whether the checksum over `header_len()` bytes verifies; false when
    /// the header length is below 20 or runs past the buffer.
    pub fn verify_checksum(&self) -> bool {
        let header_len = self.header_len();
        if header_len < HEADER_LEN {
            return false;
        }
        match self.buf.as_ref().get(..header_len) {
            Some(header) => {
                let sum = match <&[u8; HEADER_LEN]>::try_from(header) {
                    Ok(h) => checksum::sum20(h),
                    Err(_) => checksum::sum(header, 0),
                };
                checksum::fold(sum) == 0xFFFF
            }
            None => false,
        }
    }

    fn read_u16(&self, f: core::ops::Range<usize>) -> u16 {
        let b = &self.buf.as_ref()[f];
        u16::from_be_bytes([b[0], b[1]])
    }

    fn read_u32(&self, f: core::ops::Range<usize>) -> u32 {
        let b = &self.buf.as_ref()[f];
        u32::from_be_bytes([b[0], b[1], b[2], b[3]])
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    /// Sets the time to live (the checksum is not updated).
    pub fn set_ttl(&mut self, ttl: u8) {
        self.buf.as_mut()[field::TTL] = ttl;
    }

    /// Stores `checksum` as the header checksum.
    pub fn set_checksum(&mut self, checksum: u16) {
        self.buf.as_mut()[field::CHECKSUM].copy_from_slice(&checksum.to_be_bytes());
    }

    /// Sets the source address from a host-order `u32` (the checksum is not
    /// updated; see [`checksum::update32`]).
    pub fn set_src(&mut self, addr: u32) {
        self.buf.as_mut()[field::SRC].copy_from_slice(&addr.to_be_bytes());
    }

    /// Sets the destination address from a host-order `u32` (the checksum is
    /// not updated; see [`checksum::update32`]).
    pub fn set_dst(&mut self, addr: u32) {
        self.buf.as_mut()[field::DST].copy_from_slice(&addr.to_be_bytes());
    }

    /// Sets the total length (the checksum is not updated).
    pub fn set_total_len(&mut self, len: u16) {
        self.buf.as_mut()[field::TOTAL_LEN].copy_from_slice(&len.to_be_bytes());
    }

    /// Recomputes the header checksum from scratch.
    ///
    /// Covers `header_len()` bytes, clamped to at least 20 and at most the
    /// buffer, so a bad IHL cannot make it panic.
    pub fn fill_checksum(&mut self) {
        self.set_checksum(0);
        let len = self
            .header_len()
            .min(self.buf.as_ref().len())
            .max(HEADER_LEN);
        // new_checked guaranteed the buffer holds HEADER_LEN bytes, so
        // len <= buffer length.
        let c = checksum::checksum(&self.buf.as_ref()[..len]);
        self.set_checksum(c);
    }

    /// Lowers the TTL by one and updates the checksum incrementally
    /// (RFC 1624, with the same result as a full recompute).
    ///
    /// The caller should have dropped packets with TTL 0 or 1 already; a TTL
    /// of 0 saturates: it stays 0 and nothing is written.
    pub fn decrement_ttl(&mut self) {
        let ttl = self.ttl();
        let Some(new_ttl) = ttl.checked_sub(1) else {
            return;
        };
        let proto = self.protocol();
        let old = u16::from_be_bytes([ttl, proto]);
        let new = u16::from_be_bytes([new_ttl, proto]);
        let c = checksum::update(self.checksum(), old, new);
        self.set_ttl(new_ttl);
        self.set_checksum(c);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use etherparse::{IpFragOffset, IpNumber, Ipv4Dscp, Ipv4Ecn, Ipv4Header};
    use proptest::prelude::*;

    /// The classic example header (UDP, 192.168.0.1 -> 192.168.0.199).
    const HEADER: [u8; 20] = [
        0x45, 0x00, 0x00, 0x73, // version, IHL, DSCP/ECN, total length 115
        0x00, 0x00, 0x40, 0x00, // ident, DF
        0x40, 0x11, 0xb8, 0x61, // TTL 64, UDP, checksum
        0xc0, 0xa8, 0x00, 0x01, // src
        0xc0, 0xa8, 0x00, 0xc7, // dst
    ];

    /// A header with every field set to something unusual, options included.
    fn etherparse_header(ttl: u8) -> Ipv4Header {
        let mut h = Ipv4Header {
            dscp: Ipv4Dscp::try_new(46).unwrap(),
            ecn: Ipv4Ecn::try_new(1).unwrap(),
            total_len: 24 + 13,
            identification: 0xBEEF,
            dont_fragment: false,
            more_fragments: true,
            fragment_offset: IpFragOffset::try_new(0x1ABC).unwrap(),
            time_to_live: ttl,
            protocol: IpNumber::TCP,
            header_checksum: 0,
            source: [10, 1, 2, 3],
            destination: [203, 0, 113, 77],
            options: [0x94, 0x04, 0x00, 0x00].into(), // Router Alert
        };
        h.header_checksum = h.calc_header_checksum();
        h
    }

    /// `header` serialized, followed by `payload` bytes of 0xEE.
    fn bytes(header: &Ipv4Header, payload: usize) -> Vec<u8> {
        let mut v = header.to_bytes().to_vec();
        v.resize(v.len() + payload, 0xEE);
        v
    }

    #[test]
    fn deconstruct() {
        let p = Packet::new_checked(&HEADER[..]).unwrap();
        assert_eq!(p.version(), 4);
        assert_eq!(p.ihl(), 5);
        assert_eq!(p.header_len(), 20);
        assert_eq!(p.dscp_ecn(), 0);
        assert_eq!(p.total_len(), 115);
        assert_eq!(p.ident(), 0);
        assert!(p.dont_frag());
        assert!(!p.more_frags());
        assert_eq!(p.frag_offset(), 0);
        assert_eq!(p.ttl(), 64);
        assert_eq!(p.protocol(), protocol::UDP);
        assert_eq!(p.checksum(), 0xb861);
        assert_eq!(p.src(), 0xc0a8_0001);
        assert_eq!(p.dst(), 0xc0a8_00c7);
        assert_eq!(p.src_addr(), Ipv4Addr::new(192, 168, 0, 1));
        assert_eq!(p.dst_addr(), Ipv4Addr::new(192, 168, 0, 199));
        assert!(!p.has_options());
        assert!(p.verify_checksum());
        // Only the header is here; the total length says 115.
        assert_eq!(p.check(20), Err(Ipv4Error::Truncated));
    }

    #[test]
    fn construct() {
        let mut b = [0u8; 20];
        b[0] = 0x45;
        b[6] = 0x40;
        b[9] = protocol::UDP;
        let mut p = Packet::new_checked(&mut b[..]).unwrap();
        p.set_total_len(115);
        p.set_ttl(64);
        p.set_src(0xc0a8_0001);
        p.set_dst(0xc0a8_00c7);
        p.set_checksum(0x1234);
        p.fill_checksum();
        assert_eq!(b, HEADER);
    }

    #[test]
    fn golden_against_etherparse() {
        let h = etherparse_header(99);
        let b = bytes(&h, 13);
        let p = Packet::new_checked(&b[..]).unwrap();
        assert_eq!(p.version(), 4);
        assert_eq!(p.ihl(), h.ihl());
        assert_eq!(p.header_len(), h.header_len());
        assert_eq!(p.dscp_ecn(), (h.dscp.value() << 2) | h.ecn.value());
        assert_eq!(p.total_len(), h.total_len);
        assert_eq!(p.ident(), h.identification);
        assert_eq!(p.dont_frag(), h.dont_fragment);
        assert_eq!(p.more_frags(), h.more_fragments);
        assert_eq!(p.frag_offset(), h.fragment_offset.value());
        assert_eq!(p.ttl(), h.time_to_live);
        assert_eq!(p.protocol(), h.protocol.0);
        assert_eq!(p.checksum(), h.header_checksum);
        assert_eq!(p.src_addr(), Ipv4Addr::from(h.source));
        assert_eq!(p.dst_addr(), Ipv4Addr::from(h.destination));
        assert_eq!(p.src(), u32::from_be_bytes(h.source));
        assert_eq!(p.dst(), u32::from_be_bytes(h.destination));
        assert!(p.has_options());
        assert!(p.verify_checksum());
        assert_eq!(p.check(b.len()), Ok(()));
    }

    #[test]
    fn setters_match_etherparse() {
        let h = etherparse_header(64);
        let mut b = bytes(&h, 13);
        let mut p = Packet::new_checked(&mut b[..]).unwrap();
        p.set_ttl(7);
        p.set_src(0x0102_0304);
        p.set_dst(0xFFFF_FFFE);
        p.set_total_len(24 + 5);
        p.fill_checksum();
        let mut want = h;
        want.time_to_live = 7;
        want.source = [1, 2, 3, 4];
        want.destination = [255, 255, 255, 254];
        want.total_len = 24 + 5;
        want.header_checksum = want.calc_header_checksum();
        assert_eq!(&b[..24], &want.to_bytes()[..]);
        assert!(b[24..].iter().all(|&x| x == 0xEE), "payload untouched");
    }

    #[test]
    fn decrement_ttl_matches_etherparse_for_every_ttl() {
        for options in [false, true] {
            for ttl in 2..=255u8 {
                let mut h = etherparse_header(ttl);
                if !options {
                    h.options = [].into();
                    h.total_len = 20 + 13;
                    h.header_checksum = h.calc_header_checksum();
                }
                let mut b = bytes(&h, 13);
                Packet::new_checked(&mut b[..]).unwrap().decrement_ttl();
                h.time_to_live = ttl - 1;
                h.header_checksum = h.calc_header_checksum();
                assert_eq!(b, bytes(&h, 13), "ttl {ttl} options {options}");
                let p = Packet::new_checked(&b[..]).unwrap();
                assert_eq!(p.check(b.len()), Ok(()));
            }
        }
    }

    #[test]
    fn decrement_ttl_to_zero_and_saturating() {
        let mut b = HEADER;
        b[8] = 1;
        Packet::new_checked(&mut b[..]).unwrap().fill_checksum();
        let mut p = Packet::new_checked(&mut b[..]).unwrap();
        p.decrement_ttl();
        assert_eq!(p.ttl(), 0);
        assert!(p.verify_checksum());
        let before = b;
        Packet::new_checked(&mut b[..]).unwrap().decrement_ttl();
        assert_eq!(b, before, "TTL 0 saturates and writes nothing");
    }

    #[test]
    fn decrement_ttl_keeps_negative_zero_out() {
        // A header whose checksum becomes 0x0000 after the decrement; the
        // kernel and a recompute store 0x0000, RFC 1141 would store 0xFFFF.
        let mut b = HEADER;
        let mut p = Packet::new_checked(&mut b[..]).unwrap();
        // Solve ident so that the checksum after decrementing is 0x0000.
        p.set_ttl(63);
        p.fill_checksum();
        // With ident 0 the sum is S and the checksum !S; ident = !S makes
        // the sum exactly 0xFFFF, i.e. the checksum 0x0000.
        let ident = p.checksum();
        b[4..6].copy_from_slice(&ident.to_be_bytes());
        let mut p = Packet::new_checked(&mut b[..]).unwrap();
        p.fill_checksum();
        assert_eq!(p.checksum(), 0x0000, "construction");
        p.set_ttl(64);
        p.fill_checksum();
        p.decrement_ttl();
        assert_eq!(p.ttl(), 63);
        assert_eq!(p.checksum(), 0x0000);
        assert!(p.verify_checksum());
    }

    #[test]
    fn every_error_in_order() {
        let good = bytes(&etherparse_header(64), 13);
        let len = good.len();
        let with = |f: &dyn Fn(&mut Vec<u8>)| {
            let mut b = good.clone();
            f(&mut b);
            b
        };
        let check = |b: &[u8], avail: usize| Packet::new_checked(b).unwrap().check(avail);
        assert_eq!(check(&good, len), Ok(()));
        // Ethernet padding after total length is fine.
        let padded = with(&|b| b.extend_from_slice(&[0; 9]));
        assert_eq!(check(&padded, padded.len()), Ok(()));

        // Version (wins over every later fault: IHL 0 and bad checksum too).
        assert_eq!(check(&with(&|b| b[0] = 0x65), len), Err(Ipv4Error::Version));
        assert_eq!(check(&with(&|b| b[0] = 0x60), len), Err(Ipv4Error::Version));
        // HeaderLen: IHL < 5, or the header runs past what was delivered.
        for ihl in 0..5 {
            let b = with(&|b| b[0] = 0x40 | ihl);
            assert_eq!(check(&b, len), Err(Ipv4Error::HeaderLen), "ihl {ihl}");
        }
        assert_eq!(check(&good, 23), Err(Ipv4Error::HeaderLen));
        assert_eq!(check(&good[..23], 100), Err(Ipv4Error::HeaderLen));
        let b = with(&|b| b[0] = 0x4F);
        assert_eq!(check(&b, len), Err(Ipv4Error::HeaderLen));
        // TotalLen: below the header length (with a bad checksum too).
        let b = with(&|b| b[2..4].copy_from_slice(&23u16.to_be_bytes()));
        assert_eq!(check(&b, len), Err(Ipv4Error::TotalLen));
        // Truncated: longer than delivered.
        assert_eq!(check(&good, len - 1), Err(Ipv4Error::Truncated));
        // Delivered bytes beyond this buffer (a multi-buffer packet's
        // further buffers) count; the header must be in this one.
        assert_eq!(check(&good[..len - 1], len), Ok(()));
        assert_eq!(check(&good[..len - 1], len - 1), Err(Ipv4Error::Truncated));
        let b = with(&|b| b[2..4].copy_from_slice(&0xFFFFu16.to_be_bytes()));
        assert_eq!(check(&b, len), Err(Ipv4Error::Truncated));
        // Checksum: any flipped bit in the header, options included.
        for i in 0..24 {
            let b = with(&|b| b[i] ^= 0x01);
            let want = match i {
                // Total length 37 -> 293.
                2 => Ipv4Error::Truncated,
                // Includes IHL 6 -> 7 (28 bytes still fit) and total length 36.
                _ => Ipv4Error::Checksum,
            };
            assert_eq!(check(&b, len), Err(want), "byte {i}");
        }
        // A payload byte is not covered.
        let b = with(&|b| b[30] ^= 0xFF);
        assert_eq!(check(&b, len), Ok(()));
    }

    #[test]
    fn verify_checksum_bounds() {
        let mut b = HEADER;
        b[0] = 0x46; // 24-byte header in a 20-byte buffer
        assert!(!Packet::new_checked(&b[..]).unwrap().verify_checksum());
        b[0] = 0x44;
        assert!(!Packet::new_checked(&b[..]).unwrap().verify_checksum());
        // fill_checksum clamps to the buffer and to 20 bytes.
        for v in [0x40, 0x44, 0x46, 0x4F] {
            let mut b = HEADER;
            b[0] = v;
            Packet::new_checked(&mut b[..]).unwrap().fill_checksum();
            assert_eq!(checksum::fold(checksum::sum(&b, 0)), 0xFFFF, "{v:#x}");
        }
    }

    #[test]
    fn every_short_length_is_rejected() {
        for n in 0..HEADER_LEN {
            assert_eq!(Packet::new_checked(&HEADER[..n]).unwrap_err(), Truncated);
        }
        assert!(Packet::new_checked(&HEADER[..HEADER_LEN]).is_ok());
    }

    proptest! {
        #[test]
        fn no_panic_on_random_bytes(
            mut data in proptest::collection::vec(any::<u8>(), 0..80),
            avail in 0usize..100,
        ) {
            let Ok(p) = Packet::new_checked(&data[..]) else {
                prop_assert!(data.len() < HEADER_LEN);
                return Ok(());
            };
            let _ = (p.version(), p.ihl(), p.header_len(), p.dscp_ecn());
            let _ = (p.total_len(), p.ident(), p.dont_frag(), p.more_frags());
            let _ = (p.frag_offset(), p.ttl(), p.protocol(), p.checksum());
            let _ = (p.src(), p.dst(), p.src_addr(), p.dst_addr());
            let _ = (p.has_options(), p.verify_checksum());
            let ok = p.check(avail).is_ok();
            let _ = p.check(data.len());
            if ok {
                prop_assert!(p.verify_checksum());
            }
            let mut p = Packet::new_checked(&mut data[..]).unwrap();
            let was_ok = p.check(avail).is_ok();
            p.decrement_ttl();
            if was_ok {
                prop_assert!(p.verify_checksum());
            }
            p.fill_checksum();
            p.set_ttl(1);
            p.set_checksum(2);
            p.set_src(3);
            p.set_dst(4);
            p.set_total_len(5);
        }
    }
}
