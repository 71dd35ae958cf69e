//! IPv6 fixed header view (RFC 8200).
//!
//! Never: allocate, panic once [`Packet::new_checked`] said Ok, or walk
//! extension headers (the caller decides what to do with [`next_header`]
//! values it does not handle). There is no header checksum in IPv6.

use core::net::Ipv6Addr;

use super::Truncated;

mod field {
    use core::ops::Range;
    pub const VER_TC_FLOW: Range<usize> = 0..4;
    pub const PAYLOAD_LEN: Range<usize> = 4..6;
    pub const NEXT_HEADER: usize = 6;
    pub const HOP_LIMIT: usize = 7;
    pub const SRC: Range<usize> = 8..24;
    pub const DST: Range<usize> = 24..40;
    pub const HEADER_LEN: usize = 40;
}

/// Length of the IPv6 fixed header.
pub const HEADER_LEN: usize = field::HEADER_LEN;

/// Next Header values (IANA protocol numbers) met in the fixed header.
pub mod next_header {
    /// Hop-by-Hop Options extension header.
    pub const HOP_BY_HOP: u8 = 0;
    /// Transmission Control Protocol.
    pub const TCP: u8 = 6;
    /// User Datagram Protocol.
    pub const UDP: u8 = 17;
    /// Routing extension header.
    pub const ROUTING: u8 = 43;
    /// Fragment extension header.
    pub const FRAGMENT: u8 = 44;
    /// ICMP for IPv6.
    pub const ICMPV6: u8 = 58;
    /// No next header.
    pub const NO_NEXT: u8 = 59;
    /// Destination Options extension header.
    pub const DEST_OPTS: u8 = 60;
}

/// A view of an IPv6 packet.
#[derive(Debug)]
pub struct Packet<T: AsRef<[u8]>> {
    buf: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wraps `buf` after checking it holds the 40-byte fixed header.
    ///
    /// Nothing else is checked: the caller checks [`Packet::version`] and
    /// compares [`Packet::payload_len`] with the bytes it has.
    pub fn new_checked(buf: T) -> Result<Self, Truncated> {
        if buf.as_ref().len() < HEADER_LEN {
            Err(Truncated)
        } else {
            Ok(Packet { buf })
        }
    }

    /// IP version (6 for a valid packet).
    pub fn version(&self) -> u8 {
        (self.ver_tc_flow() >> 28) as u8
    }

    /// Traffic class (DSCP in the upper 6 bits, ECN in the lower 2).
    pub fn traffic_class(&self) -> u8 {
        (self.ver_tc_flow() >> 20) as u8
    }

    /// Flow label (20 bits).
    pub fn flow_label(&self) -> u32 {
        self.ver_tc_flow() & 0x000F_FFFF
    }

    /// Length of everything after the fixed header, in bytes.
    pub fn payload_len(&self) -> u16 {
        let b = &self.buf.as_ref()[field::PAYLOAD_LEN];
        u16::from_be_bytes([b[0], b[1]])
    }

    /// Type of the header after the fixed header (see [`next_header`]).
    pub fn next_header(&self) -> u8 {
        self.buf.as_ref()[field::NEXT_HEADER]
    }

    /// Hop limit.
    pub fn hop_limit(&self) -> u8 {
        self.buf.as_ref()[field::HOP_LIMIT]
    }

    /// Source address as a host-order `u128` (big-endian bytes read as a
    /// number, so `::1` is `1`).
    pub fn src(&self) -> u128 {
        self.read_u128(field::SRC)
    }

    /// Destination address as a host-order `u128`.
    pub fn dst(&self) -> u128 {
        self.read_u128(field::DST)
    }

    /// Source address.
    pub fn src_addr(&self) -> Ipv6Addr {
        Ipv6Addr::from(self.src())
    }

    /// Destination address.
    pub fn dst_addr(&self) -> Ipv6Addr {
        Ipv6Addr::from(self.dst())
    }

    fn ver_tc_flow(&self) -> u32 {
        let b = &self.buf.as_ref()[field::VER_TC_FLOW];
        u32::from_be_bytes([b[0], b[1], b[2], b[3]])
    }

    fn read_u128(&self, f: core::ops::Range<usize>) -> u128 {
        let mut a = [0u8; 16];
        a.copy_from_slice(&self.buf.as_ref()[f]);
        u128::from_be_bytes(a)
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    /// Sets the hop limit.
    pub fn set_hop_limit(&mut self, hop_limit: u8) {
        self.buf.as_mut()[field::HOP_LIMIT] = hop_limit;
    }

    /// Sets the source address from a host-order `u128`.
    pub fn set_src(&mut self, addr: u128) {
        self.buf.as_mut()[field::SRC].copy_from_slice(&addr.to_be_bytes());
    }

    /// Sets the destination address from a host-order `u128`.
    pub fn set_dst(&mut self, addr: u128) {
        self.buf.as_mut()[field::DST].copy_from_slice(&addr.to_be_bytes());
    }

    /// Sets the payload length.
    pub fn set_payload_len(&mut self, len: u16) {
        self.buf.as_mut()[field::PAYLOAD_LEN].copy_from_slice(&len.to_be_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use etherparse::{IpNumber, Ipv6FlowLabel, Ipv6Header};
    use proptest::prelude::*;

    /// ICMPv6 from 2001:db8::1 to ff02::1, hop limit 255, TC 0xb8, flow 0xabcde.
    const HEADER: [u8; 40] = [
        0x6b, 0x8a, 0xbc, 0xde, // version 6, TC 0xb8, flow label 0xabcde
        0x00, 0x08, 0x3a, 0xff, // payload length 8, ICMPv6, hop limit 255
        0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, // src
        0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, // dst
    ];

    fn etherparse_header() -> Ipv6Header {
        Ipv6Header {
            traffic_class: 0xb8,
            flow_label: Ipv6FlowLabel::try_new(0xabcde).unwrap(),
            payload_length: 8,
            next_header: IpNumber::IPV6_ICMP,
            hop_limit: 255,
            source: [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
            destination: [0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
        }
    }

    #[test]
    fn deconstruct() {
        let p = Packet::new_checked(&HEADER[..]).unwrap();
        assert_eq!(p.version(), 6);
        assert_eq!(p.traffic_class(), 0xb8);
        assert_eq!(p.flow_label(), 0xabcde);
        assert_eq!(p.payload_len(), 8);
        assert_eq!(p.next_header(), next_header::ICMPV6);
        assert_eq!(p.hop_limit(), 255);
        assert_eq!(p.src(), 0x2001_0db8_0000_0000_0000_0000_0000_0001);
        assert_eq!(p.dst(), 0xff02_0000_0000_0000_0000_0000_0000_0001);
        assert_eq!(p.src_addr(), "2001:db8::1".parse::<Ipv6Addr>().unwrap());
        assert_eq!(p.dst_addr(), "ff02::1".parse::<Ipv6Addr>().unwrap());
    }

    #[test]
    fn golden_against_etherparse() {
        let h = etherparse_header();
        assert_eq!(h.to_bytes(), HEADER, "etherparse agrees with the constant");
        let b = h.to_bytes();
        let p = Packet::new_checked(&b[..]).unwrap();
        assert_eq!(p.traffic_class(), h.traffic_class);
        assert_eq!(p.flow_label(), h.flow_label.value());
        assert_eq!(p.payload_len(), h.payload_length);
        assert_eq!(p.next_header(), h.next_header.0);
        assert_eq!(p.hop_limit(), h.hop_limit);
        assert_eq!(p.src_addr(), h.source_addr());
        assert_eq!(p.dst_addr(), h.destination_addr());
    }

    #[test]
    fn construct_matches_etherparse() {
        let mut b = HEADER.to_vec();
        b.extend_from_slice(&[0xEE; 8]);
        let mut p = Packet::new_checked(&mut b[..]).unwrap();
        p.set_hop_limit(63);
        p.set_src(0xfe80_0000_0000_0000_0011_22ff_fe33_4455);
        p.set_dst(1);
        p.set_payload_len(0x1234);
        let mut want = etherparse_header();
        want.hop_limit = 63;
        want.source = "fe80::11:22ff:fe33:4455"
            .parse::<Ipv6Addr>()
            .unwrap()
            .octets();
        want.destination = Ipv6Addr::LOCALHOST.octets();
        want.payload_length = 0x1234;
        assert_eq!(&b[..40], &want.to_bytes()[..]);
        assert_eq!(&b[40..], &[0xEE; 8], "payload untouched");
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
        fn no_panic_and_agrees_with_etherparse(
            mut data in proptest::collection::vec(any::<u8>(), 0..80),
            force_v6 in any::<bool>(),
        ) {
            if let (Some(b), true) = (data.first_mut(), force_v6) {
                *b = 0x60 | (*b & 0x0F);
            }
            let Ok(p) = Packet::new_checked(&data[..]) else {
                prop_assert!(data.len() < HEADER_LEN);
                return Ok(());
            };
            let _ = (p.version(), p.src(), p.dst());
            if let Ok((h, _)) = Ipv6Header::from_slice(&data) {
                prop_assert_eq!(p.version(), 6);
                prop_assert_eq!(p.traffic_class(), h.traffic_class);
                prop_assert_eq!(p.flow_label(), h.flow_label.value());
                prop_assert_eq!(p.payload_len(), h.payload_length);
                prop_assert_eq!(p.next_header(), h.next_header.0);
                prop_assert_eq!(p.hop_limit(), h.hop_limit);
                prop_assert_eq!(p.src_addr(), h.source_addr());
                prop_assert_eq!(p.dst_addr(), h.destination_addr());
            }
            let mut p = Packet::new_checked(&mut data[..]).unwrap();
            p.set_hop_limit(1);
            p.set_src(2);
            p.set_dst(3);
            p.set_payload_len(4);
            prop_assert_eq!((p.hop_limit(), p.src(), p.dst(), p.payload_len()), (1, 2, 3, 4));
        }
    }
}
