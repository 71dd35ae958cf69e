//! Ethernet II header view.

use super::Truncated;

mod field {
    use core::ops::Range;
    pub const DST: Range<usize> = 0..6;
    pub const SRC: Range<usize> = 6..12;
    pub const ETHERTYPE: Range<usize> = 12..14;
    pub const HEADER_LEN: usize = 14;
}

/// Length of an Ethernet II header without VLAN tags.
pub const HEADER_LEN: usize = field::HEADER_LEN;

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
}
