//! A minimal pcapng writer (the format tcpdump, tshark and Wireshark
//! read): one section, one Ethernet interface per port, and one enhanced
//! packet block per traced frame with a comment saying what xskfwd did
//! with it. Time stamps in nanoseconds. Little-endian, as the byte-order
//! magic declares.

use std::io::{self, Write};

const SHB: u32 = 0x0A0D_0D0A;
const IDB: u32 = 1;
const EPB: u32 = 6;
const LINKTYPE_ETHERNET: u16 = 1;
const OPT_END: u16 = 0;
const OPT_COMMENT: u16 = 1;
const SHB_USERAPPL: u16 = 4;
const IF_NAME: u16 = 2;
const IF_TSRESOL: u16 = 9;

/// Writes a pcapng stream.
#[derive(Debug)]
pub struct Writer<W: Write> {
    out: W,
    interfaces: u32,
}

/// Appends option `code` with `value`, padded to 32 bits.
fn option(buf: &mut Vec<u8>, code: u16, value: &[u8]) {
    buf.extend_from_slice(&code.to_le_bytes());
    buf.extend_from_slice(&(value.len() as u16).to_le_bytes());
    buf.extend_from_slice(value);
    pad(buf);
}

fn pad(buf: &mut Vec<u8>) {
    while buf.len() % 4 != 0 {
        buf.push(0);
    }
}

impl<W: Write> Writer<W> {
    /// Starts a section (written at once) with `interfaces`: one per port,
    /// `(name, snap length)`.
    pub fn new(out: W, interfaces: &[(&str, u32)]) -> io::Result<Writer<W>> {
        let mut w = Writer { out, interfaces: 0 };
        let mut body = Vec::new();
        body.extend_from_slice(&0x1A2B_3C4Du32.to_le_bytes());
        body.extend_from_slice(&1u16.to_le_bytes());
        body.extend_from_slice(&0u16.to_le_bytes());
        body.extend_from_slice(&(-1i64).to_le_bytes());
        let app = format!("xskfwd {}", env!("CARGO_PKG_VERSION"));
        option(&mut body, SHB_USERAPPL, app.as_bytes());
        option(&mut body, OPT_END, &[]);
        w.block(SHB, &body)?;
        for (name, snap) in interfaces {
            let mut body = Vec::new();
            body.extend_from_slice(&LINKTYPE_ETHERNET.to_le_bytes());
            body.extend_from_slice(&0u16.to_le_bytes());
            body.extend_from_slice(&snap.to_le_bytes());
            option(&mut body, IF_NAME, name.as_bytes());
            option(&mut body, IF_TSRESOL, &[9]);
            option(&mut body, OPT_END, &[]);
            w.block(IDB, &body)?;
            w.interfaces += 1;
        }
        Ok(w)
    }

    fn block(&mut self, kind: u32, body: &[u8]) -> io::Result<()> {
        let len = (12 + body.len()) as u32;
        self.out.write_all(&kind.to_le_bytes())?;
        self.out.write_all(&len.to_le_bytes())?;
        self.out.write_all(body)?;
        self.out.write_all(&len.to_le_bytes())
    }

    /// One frame seen on interface `iface` at `ts_ns` (Unix time, ns):
    /// `data` is what was captured of `orig_len` bytes.
    pub fn packet(
        &mut self,
        iface: u32,
        ts_ns: u64,
        orig_len: u32,
        data: &[u8],
        comment: &str,
    ) -> io::Result<()> {
        if iface >= self.interfaces {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("interface {iface} was not declared"),
            ));
        }
        let mut body = Vec::with_capacity(32 + data.len() + comment.len());
        body.extend_from_slice(&iface.to_le_bytes());
        body.extend_from_slice(&((ts_ns >> 32) as u32).to_le_bytes());
        body.extend_from_slice(&(ts_ns as u32).to_le_bytes());
        body.extend_from_slice(&(data.len() as u32).to_le_bytes());
        body.extend_from_slice(&orig_len.max(data.len() as u32).to_le_bytes());
        body.extend_from_slice(data);
        pad(&mut body);
        if !comment.is_empty() {
            option(&mut body, OPT_COMMENT, comment.as_bytes());
            option(&mut body, OPT_END, &[]);
        }
        self.block(EPB, &body)
    }

    /// Flushes and returns the output.
    pub fn finish(mut self) -> io::Result<W> {
        self.out.flush()?;
        Ok(self.out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u32_at(b: &[u8], at: usize) -> u32 {
        u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
    }

    /// Walks the blocks: every length is a multiple of 4 and repeated at
    /// the block's end.
    fn blocks(b: &[u8]) -> Vec<(u32, Vec<u8>)> {
        let mut out = Vec::new();
        let mut at = 0;
        while at < b.len() {
            let (kind, len) = (u32_at(b, at), u32_at(b, at + 4) as usize);
            assert_eq!(len % 4, 0);
            assert_eq!(u32_at(b, at + len - 4) as usize, len);
            out.push((kind, b[at + 8..at + len - 4].to_vec()));
            at += len;
        }
        out
    }

    #[test]
    fn blocks_are_well_formed() {
        let mut w = Writer::new(Vec::new(), &[("dut0", 4096), ("dut1", 4096)]).unwrap();
        w.packet(
            1,
            1_700_000_000_123_456_789,
            61,
            &[0xab; 61],
            "drop: too_big",
        )
        .unwrap();
        assert!(w.packet(2, 0, 1, &[0], "").is_err());
        let b = w.finish().unwrap();
        let bl = blocks(&b);
        assert_eq!(
            bl.iter().map(|(k, _)| *k).collect::<Vec<_>>(),
            [SHB, IDB, IDB, EPB]
        );
        let epb = &bl[3].1;
        assert_eq!(u32_at(epb, 0), 1, "interface");
        let ts = u64::from(u32_at(epb, 4)) << 32 | u64::from(u32_at(epb, 8));
        assert_eq!(ts, 1_700_000_000_123_456_789);
        assert_eq!((u32_at(epb, 12), u32_at(epb, 16)), (61, 61));
        assert_eq!(&epb[20..81], &[0xab; 61][..]);
        // Padded to 84, then the comment option.
        assert_eq!(u16::from_le_bytes([epb[84], epb[85]]), OPT_COMMENT);
        assert_eq!(&epb[88..88 + 13], b"drop: too_big");
    }
}
