//! Ethernet II header view, plus a parser for at most one 802.1Q/802.1ad tag.
//!
//! Never: allocate, panic once [`Frame::new_checked`] said Ok (and [`l3`]
//! never panics at all), or look past a second VLAN tag.

use super::Truncated;

mod field {
    use core::ops::Range;
    pub const DST: Range<usize> = 0..6;
    pub const SRC: Range<usize> = 6..12;
    pub const ETHERTYPE: Range<usize> = 12..14;
    pub const HEADER_LEN: usize = 14;
    // Inside an 802.1Q/802.1ad tag, which follows SRC in place of the type.
    pub const TCI: Range<usize> = 14..16;
    pub const INNER_ETHERTYPE: Range<usize> = 16..18;
    pub const TAGGED_HEADER_LEN: usize = 18;
}

/// Length of an Ethernet II header without VLAN tags.
pub const HEADER_LEN: usize = field::HEADER_LEN;

/// Length of an Ethernet II header carrying one VLAN tag.
pub const TAGGED_HEADER_LEN: usize = field::TAGGED_HEADER_LEN;

/// A MAC address. Parsed once at the edge (CLI, config, netlink) and
/// carried typed from there on; `Display` is the one formatting of a MAC.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Mac(pub [u8; 6]);

impl core::fmt::Display for Mac {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let m = self.0;
        write!(
            f,
            "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            m[0], m[1], m[2], m[3], m[4], m[5]
        )
    }
}

impl core::fmt::Debug for Mac {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        core::fmt::Display::fmt(self, f)
    }
}

/// A string that is not a MAC address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BadMac;

impl core::fmt::Display for BadMac {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("not a MAC address (expected six hex bytes like 02:00:00:00:00:01)")
    }
}

impl std::error::Error for BadMac {}

impl core::str::FromStr for Mac {
    type Err = BadMac;

    /// Six hex bytes separated by `:` or `-`.
    fn from_str(s: &str) -> Result<Self, BadMac> {
        let mut out = [0u8; 6];
        let mut parts = s.split([':', '-']);
        for b in out.iter_mut() {
            let part = parts.next().ok_or(BadMac)?;
            if part.is_empty() || part.len() > 2 {
                return Err(BadMac);
            }
            *b = u8::from_str_radix(part, 16).map_err(|_| BadMac)?;
        }
        if parts.next().is_some() {
            return Err(BadMac);
        }
        Ok(Mac(out))
    }
}

/// EtherType and tag protocol identifier (TPID) values.
pub mod ethertype {
    /// Internet Protocol version 4.
    pub const IPV4: u16 = 0x0800;
    /// Address Resolution Protocol.
    pub const ARP: u16 = 0x0806;
    /// Internet Protocol version 6.
    pub const IPV6: u16 = 0x86DD;
    /// IEEE 802.1Q VLAN tag (C-tag).
    pub const VLAN: u16 = 0x8100;
    /// IEEE 802.1ad service tag (S-tag, "QinQ").
    pub const QINQ: u16 = 0x88A8;
}

/// Where the layer-3 header of a frame starts, as found by [`l3`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct L3Info {
    /// EtherType after at most one VLAN tag. For a frame with two tags this
    /// is the inner TPID (such as [`ethertype::VLAN`]), which no L3 handler
    /// accepts.
    pub ethertype: u16,
    /// Offset of the layer-3 header: [`HEADER_LEN`] or [`TAGGED_HEADER_LEN`].
    pub offset: usize,
    /// VLAN ID (12 bits, priority and DEI stripped) of the tag, if any.
    pub vlan: Option<u16>,
}

/// Finds the layer-3 EtherType and offset of `frame`, skipping one 802.1Q
/// or 802.1ad tag if present.
///
/// Fails if the frame is shorter than 14 bytes, or carries a tag and is
/// shorter than 18 bytes.
pub fn l3(frame: &[u8]) -> Result<L3Info, Truncated> {
    let be16 = |b: &[u8]| u16::from_be_bytes([b[0], b[1]]);
    let outer = frame.get(field::ETHERTYPE).map(be16).ok_or(Truncated)?;
    if outer != ethertype::VLAN && outer != ethertype::QINQ {
        return Ok(L3Info {
            ethertype: outer,
            offset: HEADER_LEN,
            vlan: None,
        });
    }
    let tci = frame.get(field::TCI).map(be16).ok_or(Truncated)?;
    let inner = frame
        .get(field::INNER_ETHERTYPE)
        .map(be16)
        .ok_or(Truncated)?;
    Ok(L3Info {
        ethertype: inner,
        offset: TAGGED_HEADER_LEN,
        vlan: Some(tci & 0x0FFF),
    })
}

/// Whether `mac` is a group (multicast) address, broadcast included: the
/// I/G bit, the lowest bit of the first byte, is set.
pub fn is_multicast(mac: &[u8; 6]) -> bool {
    mac[0] & 0x01 != 0
}

/// A view of an Ethernet II frame.
#[derive(Debug)]
pub struct Frame<T: AsRef<[u8]>> {
    buf: T,
}

impl<T: AsRef<[u8]>> Frame<T> {
    /// Wraps `buf` after checking it holds a whole Ethernet header.
    pub fn new_checked(buf: T) -> Result<Self, Truncated> {
        if buf.as_ref().len() < HEADER_LEN {
            Err(Truncated)
        } else {
            Ok(Frame { buf })
        }
    }

    /// Destination MAC.
    pub fn dst(&self) -> [u8; 6] {
        let mut m = [0u8; 6];
        m.copy_from_slice(&self.buf.as_ref()[field::DST]);
        m
    }

    /// Source MAC.
    pub fn src(&self) -> [u8; 6] {
        let mut m = [0u8; 6];
        m.copy_from_slice(&self.buf.as_ref()[field::SRC]);
        m
    }

    /// EtherType (or 802.1Q TPID) in host order.
    pub fn ethertype(&self) -> u16 {
        let b = &self.buf.as_ref()[field::ETHERTYPE];
        u16::from_be_bytes([b[0], b[1]])
    }

    /// The bytes after the header.
    pub fn payload(&self) -> &[u8] {
        &self.buf.as_ref()[HEADER_LEN..]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Frame<T> {
    /// Sets the destination MAC.
    pub fn set_dst(&mut self, mac: [u8; 6]) {
        self.buf.as_mut()[field::DST].copy_from_slice(&mac);
    }

    /// Sets the source MAC.
    pub fn set_src(&mut self, mac: [u8; 6]) {
        self.buf.as_mut()[field::SRC].copy_from_slice(&mac);
    }

    /// Sets both addresses at once (a forwarded frame's new MACs).
    #[inline]
    pub fn set_addrs(&mut self, dst: [u8; 6], src: [u8; 6]) {
        let (d, s) = self.buf.as_mut()[..field::ETHERTYPE.start].split_at_mut(field::SRC.start);
        d.copy_from_slice(&dst);
        s.copy_from_slice(&src);
    }

    /// Swaps source and destination MACs in place.
    pub fn swap_addrs(&mut self) {
        let (dst, src) = (self.dst(), self.src());
        self.set_dst(src);
        self.set_src(dst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn macs_print_as_lowercase_colon_hex_and_parse_back() {
        let m = Mac([0x02, 0xab, 0, 0x10, 0xff, 1]);
        assert_eq!(m.to_string(), "02:ab:00:10:ff:01");
        assert_eq!("02:AB:0:10:ff:01".parse::<Mac>(), Ok(m));
        assert_eq!("02-ab-00-10-ff-01".parse::<Mac>(), Ok(m));
        for bad in [
            "",
            "02:ab:00:10:ff",
            "02:ab:00:10:ff:01:00",
            "zz:0:0:0:0:0",
            "002:0:0:0:0:0",
        ] {
            assert_eq!(bad.parse::<Mac>(), Err(BadMac), "{bad}");
        }
    }

    const FRAME: [u8; 16] = [
        0x02, 0, 0, 0, 0, 0x0d, // dst
        0x02, 0, 0, 0, 0, 0x05, // src
        0x08, 0x00, // IPv4
        0xaa, 0xbb,
    ];

    #[test]
    fn deconstruct() {
        let f = Frame::new_checked(&FRAME[..]).unwrap();
        assert_eq!(f.dst(), [2, 0, 0, 0, 0, 0x0d]);
        assert_eq!(f.src(), [2, 0, 0, 0, 0, 0x05]);
        assert_eq!(f.ethertype(), 0x0800);
        assert_eq!(f.payload(), &[0xaa, 0xbb]);
    }

    #[test]
    fn construct_and_swap() {
        let mut b = FRAME;
        let mut f = Frame::new_checked(&mut b[..]).unwrap();
        f.swap_addrs();
        assert_eq!(&b[..12], &[2, 0, 0, 0, 0, 5, 2, 0, 0, 0, 0, 0x0d]);
        let mut f = Frame::new_checked(&mut b[..]).unwrap();
        f.set_src([1, 2, 3, 4, 5, 6]);
        f.set_dst([7, 8, 9, 10, 11, 12]);
        assert_eq!(&b[..12], &[7, 8, 9, 10, 11, 12, 1, 2, 3, 4, 5, 6]);
        assert_eq!(&b[12..], &FRAME[12..], "nothing after the MACs changes");
    }

    #[test]
    fn every_short_length_is_rejected() {
        for n in 0..HEADER_LEN {
            assert_eq!(Frame::new_checked(&FRAME[..n]).unwrap_err(), Truncated);
        }
        assert!(Frame::new_checked(&FRAME[..HEADER_LEN]).is_ok());
    }

    /// 802.1Q frame: PCP 5, DEI 1, VID 0x123, carrying IPv6.
    const TAGGED: [u8; 20] = [
        0x02, 0, 0, 0, 0, 0x0d, // dst
        0x02, 0, 0, 0, 0, 0x05, // src
        0x81, 0x00, // 802.1Q TPID
        0xb1, 0x23, // PCP 5, DEI 1, VID 0x123
        0x86, 0xdd, // IPv6
        0xaa, 0xbb,
    ];

    #[test]
    fn l3_untagged() {
        let info = l3(&FRAME).unwrap();
        assert_eq!(
            info,
            L3Info {
                ethertype: ethertype::IPV4,
                offset: 14,
                vlan: None
            }
        );
        // The header alone is enough without a tag.
        assert_eq!(l3(&FRAME[..14]), Ok(info));
        let mut arp = FRAME;
        arp[12..14].copy_from_slice(&ethertype::ARP.to_be_bytes());
        assert_eq!(l3(&arp).unwrap().ethertype, ethertype::ARP);
    }

    #[test]
    fn l3_tagged() {
        let want = L3Info {
            ethertype: ethertype::IPV6,
            offset: 18,
            vlan: Some(0x123),
        };
        assert_eq!(l3(&TAGGED), Ok(want));
        assert_eq!(l3(&TAGGED[..18]), Ok(want));
        let mut s_tag = TAGGED;
        s_tag[12..14].copy_from_slice(&ethertype::QINQ.to_be_bytes());
        assert_eq!(l3(&s_tag), Ok(want));
        // The plain view still reports the TPID.
        assert_eq!(Frame::new_checked(&TAGGED[..]).unwrap().ethertype(), 0x8100);
    }

    #[test]
    fn l3_looks_past_one_tag_only() {
        // 802.1ad outer tag, 802.1Q inner tag: the inner TPID is reported.
        let mut b = [0u8; 22];
        b[12..14].copy_from_slice(&ethertype::QINQ.to_be_bytes());
        b[14..16].copy_from_slice(&0x0064u16.to_be_bytes());
        b[16..18].copy_from_slice(&ethertype::VLAN.to_be_bytes());
        b[18..20].copy_from_slice(&0x00c8u16.to_be_bytes());
        b[20..22].copy_from_slice(&ethertype::IPV4.to_be_bytes());
        assert_eq!(
            l3(&b),
            Ok(L3Info {
                ethertype: ethertype::VLAN,
                offset: 18,
                vlan: Some(100)
            })
        );
    }

    #[test]
    fn l3_truncated() {
        for n in 0..HEADER_LEN {
            assert_eq!(l3(&FRAME[..n]), Err(Truncated), "untagged {n}");
        }
        for n in 0..TAGGED_HEADER_LEN {
            assert_eq!(l3(&TAGGED[..n]), Err(Truncated), "tagged {n}");
        }
    }

    #[test]
    fn l3_agrees_with_etherparse() {
        use etherparse::{PacketBuilder, SlicedPacket, VlanId};
        for vid in [0u16, 1, 100, 0x123, 4094, 4095] {
            let mut v = Vec::new();
            PacketBuilder::ethernet2([2, 0, 0, 0, 0, 5], [2, 0, 0, 0, 0, 0x0d])
                .single_vlan(VlanId::try_new(vid).unwrap())
                .ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
                .udp(1234, 53)
                .write(&mut v, &[1, 2, 3])
                .unwrap();
            let info = l3(&v).unwrap();
            assert_eq!(info.vlan, Some(vid));
            assert_eq!(info.ethertype, ethertype::IPV4);
            let sliced = SlicedPacket::from_ethernet(&v).unwrap();
            let Some(etherparse::NetSlice::Ipv4(ip)) = sliced.net else {
                panic!("not IPv4");
            };
            let ip_start = v.len() - ip.header().slice().len() - 8 - 3;
            assert_eq!(info.offset, ip_start);
        }
        let mut v = Vec::new();
        PacketBuilder::ethernet2([2, 0, 0, 0, 0, 5], [2, 0, 0, 0, 0, 0x0d])
            .ipv6([0xfe; 16], [0xff; 16], 64)
            .udp(1234, 53)
            .write(&mut v, &[])
            .unwrap();
        assert_eq!(
            l3(&v),
            Ok(L3Info {
                ethertype: ethertype::IPV6,
                offset: 14,
                vlan: None
            })
        );
    }

    #[test]
    fn multicast() {
        assert!(is_multicast(&[0xff; 6]), "broadcast");
        assert!(is_multicast(&[0x01, 0x00, 0x5e, 0x00, 0x00, 0xfb]));
        assert!(is_multicast(&[0x33, 0x33, 0, 0, 0, 1]));
        assert!(!is_multicast(&[0x02, 0, 0, 0, 0, 0x0d]));
        assert!(!is_multicast(&[0xfe, 0xff, 0xff, 0xff, 0xff, 0xff]));
    }
}
