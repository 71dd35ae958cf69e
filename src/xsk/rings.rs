//! One worker's rings: its queue's socket on every port, as the core's
//! [`Rings`] trait.
//!
//! The rings also know which port's rings each of the worker's frames
//! was last given to, and the length it was sent with: one `u32` per UMEM
//! frame, written when a frame goes onto a fill or tx ring (read back at
//! completion for `tx_bytes`). So when a port's interface disappears,
//! [`Rings::close`] closes its socket and hands back exactly the frames
//! its rings held (the marked ones not in the worker's pool): the kernel
//! will never return them, and nothing else can tell which they are.

use xsk_rs::FrameDesc;
use xskfwd_core::limits::MAX_BATCH;
use xskfwd_core::rings::{Batch, Completed, Meta, Rings, META_LEN};

use super::umem::as_descs;
use super::{SharedUmem, XskFrame, XskSocket};

/// Where a frame is: with the worker (or in no ring of these).
const WITH_WORKER: u32 = 0;

/// Location of `port`'s fill/rx rings (the high half of a frame's mark).
fn in_fill(port: usize) -> u32 {
    (1 + 2 * port as u32) << 16
}

/// Location of `port`'s tx/completion rings, with the length sent and
/// whether a further frame of the same packet follows.
fn in_tx(port: usize, len: u32, more: bool) -> u32 {
    ((2 + 2 * port as u32) << 16) | (len & LEN_MASK) | if more { MORE } else { 0 }
}

/// The length bits of a mark (a frame holds at most 4 KiB).
const LEN_MASK: u32 = 0x7fff;
/// The mark bit of a frame sent with `XDP_PKT_CONTD`.
const MORE: u32 = 0x8000;

/// `XDP_PKT_CONTD` (linux/if_xdp.h): the packet continues in the next
/// descriptor (AF_XDP multi-buffer).
const XDP_PKT_CONTD: u32 = 1;

/// Sets a received frame's length to 0 (so the worker drops it as a runt).
fn empty(umem: &SharedUmem, d: &mut FrameDesc) {
    // SAFETY: `d` is a frame of our UMEM that the kernel handed back and
    // nothing else holds; only its descriptor's length changes.
    let mut data = unsafe { umem.umem.data_mut(d) };
    data.cursor().set_pos(0);
}

/// Moves the descriptors of whole packets from `carry` (the first frames
/// of a packet an earlier batch cut) and `got` (what the rx ring gave now,
/// in order) to `out`, and returns how many. An incomplete last packet
/// stays in `carry`. A packet of `limit` frames or more, which no batch
/// could hold, is handed over emptied (`empty`: the worker drops it as
/// runts) instead of stalling the port, and `skip` then empties the rest
/// of it as it arrives.
fn whole_packets<D: Copy>(
    carry: &mut Vec<D>,
    skip: &mut bool,
    got: &mut [D],
    limit: usize,
    more: impl Fn(&D) -> bool,
    empty: impl Fn(&mut D),
    mut out: impl FnMut(D),
) -> usize {
    let mut moved = 0;
    for d in got.iter_mut() {
        if *skip {
            empty(d);
            *skip = more(d);
            out(*d);
            moved += 1;
            continue;
        }
        carry.push(*d);
        if !more(d) {
            moved += carry.len();
            carry.drain(..).for_each(&mut out);
        } else if carry.len() >= limit {
            for mut c in carry.drain(..) {
                empty(&mut c);
                out(c);
                moved += 1;
            }
            *skip = true;
        }
    }
    moved
}

/// Whether a descriptor is followed by another of the same packet.
#[inline(always)]
fn continues(d: &FrameDesc) -> bool {
    d.options() & XDP_PKT_CONTD != 0
}

/// The location part of a mark.
fn location(mark: u32) -> u32 {
    mark & 0xffff_0000
}

/// The length part of a mark (what the frame was sent with).
fn sent_len(mark: u32) -> u32 {
    mark & LEN_MASK
}

/// One worker's rings: the sockets of its queue on every port.
#[derive(Debug)]
pub struct XskRings {
    umem: SharedUmem,
    /// By port; `None` once closed.
    socks: Vec<Option<XskSocket>>,
    scratch: Box<[FrameDesc; MAX_BATCH]>,
    pollfds: Vec<libc::pollfd>,
    need_wakeup: bool,
    /// Per UMEM frame: the rings it was last given to (high half) and the
    /// length it was sent with (low half); see the module docs.
    marks: Box<[u32]>,
    /// log2 of the frame size: a descriptor's frame is `addr >> shift`.
    shift: u32,
    /// By port: the first frames of a multi-buffer packet whose last
    /// frames were still on the rx ring when a batch ended there (see
    /// [`XskRings::rx`]). Still marked as the port's (fill/rx rings).
    carry: Vec<Vec<FrameDesc>>,
    /// By port: frames up to the end of a chain too long to carry are
    /// handed over emptied (length 0), so they are dropped as runts.
    skip: Vec<bool>,
}

impl XskRings {
    /// Rings over `socks` (index = port) of `umem`.
    pub fn new(umem: SharedUmem, socks: Vec<XskSocket>, need_wakeup: bool) -> Self {
        let pollfds = socks
            .iter()
            .map(|s| libc::pollfd {
                fd: s.fd,
                events: libc::POLLIN,
                revents: 0,
            })
            .collect();
        let frames = umem.frames as usize;
        let ports = socks.len();
        debug_assert!(umem.frame_size.is_power_of_two());
        XskRings {
            carry: (0..ports).map(|_| Vec::with_capacity(MAX_BATCH)).collect(),
            skip: vec![false; ports],
            shift: umem.frame_size.trailing_zeros(),
            umem,
            socks: socks.into_iter().map(Some).collect(),
            scratch: Box::new([FrameDesc::default(); MAX_BATCH]),
            pollfds,
            need_wakeup,
            marks: vec![WITH_WORKER; frames].into_boxed_slice(),
        }
    }

    /// Frame size of the UMEM.
    pub fn frame_size(&self) -> u32 {
        self.umem.frame_size
    }

    /// The open sockets.
    pub fn sockets(&self) -> impl Iterator<Item = &XskSocket> + Clone {
        self.socks.iter().flatten()
    }
}

impl Rings for XskRings {
    type Frame = XskFrame;

    fn ports(&self) -> usize {
        self.socks.len()
    }

    /// Whole packets only: a batch that ends inside a multi-buffer
    /// packet keeps that packet's first frames (in `carry`) until its last
    /// one is read (see [`whole_packets`]). The kernel publishes a packet's
    /// descriptors together, so only the batch limit cuts one.
    #[inline]
    fn rx(&mut self, port: usize, out: &mut Batch<XskFrame>, max: usize) -> usize {
        let room = out.remaining_capacity();
        let Some(s) = self.socks[port].as_mut() else {
            return 0;
        };
        let carry = &mut self.carry[port];
        // With a packet carried over, read on (at least one more frame of
        // it) within `out`'s room.
        let want = max
            .min(room)
            .saturating_sub(carry.len())
            .max(1)
            .min(room.saturating_sub(carry.len()));
        // SAFETY: the descriptors written into `scratch` are frames the
        // kernel hands back to us; each becomes exactly one XskFrame below
        // (or waits in `carry` until it does).
        let n = unsafe { s.rx.consume(&mut self.scratch[..want]) };
        let got = &mut self.scratch[..n];
        if carry.is_empty() && !self.skip[port] && got.last().is_none_or(|d| !continues(d)) {
            // The common case: no packet cut anywhere.
            for d in got.iter() {
                out.push(XskFrame(*d));
            }
            return n;
        }
        let umem = &self.umem;
        whole_packets(
            carry,
            &mut self.skip[port],
            got,
            MAX_BATCH,
            continues,
            |d| empty(umem, d),
            |d| out.push(XskFrame(d)),
        )
    }

    #[inline]
    fn more(&self, frame: &XskFrame) -> bool {
        continues(&frame.0)
    }

    #[inline]
    fn data<'a>(&'a self, frame: &'a mut XskFrame) -> &'a mut [u8] {
        // SAFETY: `frame` came from this process's only UMEM and is owned
        // (not on any ring), so nobody else reads or writes its bytes.
        let mut data = unsafe { self.umem.umem.data_mut(&mut frame.0) };
        let bytes = data.contents_mut();
        let (ptr, len) = (bytes.as_mut_ptr(), bytes.len());
        // SAFETY: the bytes live in the UMEM mapping, which `self` keeps
        // alive for 'a; `frame` is mutably borrowed for 'a, so this is the
        // only reference to them.
        unsafe { std::slice::from_raw_parts_mut(ptr, len) }
    }

    #[inline]
    fn take_meta(&self, frame: &mut XskFrame) -> Meta {
        let mut m = [0u8; META_LEN];
        // The metadata sits right before the packet data, in the
        // frame's headroom (XDP_PACKET_HEADROOM): only if there is room
        // for it inside this frame's chunk.
        if (frame.0.addr() % self.umem.frame_size as usize) < META_LEN {
            return m;
        }
        let p = self.data(frame).as_mut_ptr();
        // SAFETY: the META_LEN bytes before the data lie in the same UMEM
        // chunk (checked above), which this owned frame covers and nobody
        // else touches while we hold it; `self` keeps the mapping alive.
        let meta = unsafe { std::slice::from_raw_parts_mut(p.sub(META_LEN), META_LEN) };
        m.copy_from_slice(meta);
        // Cleared, so this frame never shows a stale decision when it
        // comes back without one.
        meta[..4].fill(0);
        m
    }

    #[inline]
    fn prefetch(&self, frame: &mut XskFrame) {
        #[cfg(target_arch = "x86_64")]
        {
            use core::arch::x86_64::{_mm_prefetch, _MM_HINT_ET0};
            let p = self.data(frame).as_ptr();
            // SAFETY: a prefetch never faults and changes no memory; SSE
            // (and with it PREFETCHh/PREFETCHW, a no-op where absent) is
            // part of the x86-64 baseline.
            unsafe { _mm_prefetch::<_MM_HINT_ET0>(p.cast()) };
        }
        #[cfg(not(target_arch = "x86_64"))]
        let _ = frame;
    }

    #[inline]
    fn set_len(&self, frame: &mut XskFrame, len: u32) {
        // SAFETY: as in `data`: an owned frame of our UMEM.
        let mut data = unsafe { self.umem.umem.data_mut(&mut frame.0) };
        data.cursor().set_pos(len as usize);
    }

    #[inline]
    fn tx(&mut self, port: usize, batch: &mut Batch<XskFrame>) -> usize {
        let Some(s) = self.socks[port].as_mut() else {
            return 0;
        };
        // The ring reserves all-or-nothing: ask how much room there is,
        // and take whole packets only.
        let mut k = s.tx.nb_free(batch.len() as u32).min(batch.len() as u32) as usize;
        while k > 0 && continues(&batch[k - 1].0) {
            k -= 1;
        }
        if k == 0 {
            return 0;
        }
        // SAFETY: the frames are owned by `batch`; the accepted ones are
        // removed from it right below, so they are not touched again until
        // the completion ring returns them.
        let n = unsafe { s.tx.produce(&as_descs(batch)[..k]) };
        for f in batch.drain(..n) {
            if let Some(m) = self.marks.get_mut(f.0.addr() >> self.shift) {
                *m = in_tx(port, f.0.lengths().data() as u32, continues(&f.0));
            }
        }
        n
    }

    #[inline]
    fn kick_tx(&mut self, port: usize) -> bool {
        let Some(s) = self.socks[port].as_mut() else {
            return false;
        };
        if self.need_wakeup && !s.tx.needs_wakeup() {
            return false;
        }
        // Errors other than the transient ones xsk-rs already ignores mean
        // the device went away; the frames come back at teardown.
        let _ = s.tx.wakeup();
        true
    }

    #[inline]
    fn complete(&mut self, port: usize, pool: &mut Vec<XskFrame>) -> Completed {
        let mut done = Completed::default();
        loop {
            let Some(s) = self.socks[port].as_mut() else {
                return done;
            };
            let room = (pool.capacity() - pool.len()).min(MAX_BATCH);
            // SAFETY: completed descriptors are frames the kernel is done
            // with; each becomes exactly one XskFrame.
            let n = unsafe { s.cq.consume(&mut self.scratch[..room]) };
            for d in &self.scratch[..n] {
                if let Some(m) = self.marks.get(d.addr() >> self.shift) {
                    done.bytes += u64::from(sent_len(*m));
                    done.packets += usize::from(*m & MORE == 0);
                }
                pool.push(XskFrame(*d));
            }
            done.frames += n;
            if n < room || n == 0 {
                return done;
            }
        }
    }

    fn close(&mut self, port: usize, pool: &mut Vec<XskFrame>) -> usize {
        let Some(sock) = self.socks[port].take() else {
            return 0;
        };
        if let Some(p) = self.pollfds.get_mut(port) {
            p.fd = -1; // poll() ignores negative fds
        }
        // Closes the fd (its rings are unmapped): the kernel uses none of
        // those frames any more.
        drop(sock);
        // Frames the worker holds keep the mark of the rings they came
        // from: clear those first (the worker calls this between passes,
        // so all it holds is in `pool`).
        for f in pool.iter() {
            if let Some(m) = self.marks.get_mut(f.0.addr() >> self.shift) {
                *m = WITH_WORKER;
            }
        }
        // Frames carried over are still marked as the port's: they are
        // handed back below with the rest.
        self.carry[port].clear();
        self.skip[port] = false;
        let (fill, tx) = (in_fill(port), location(in_tx(port, 0, false)));
        let before = pool.len();
        for (idx, m) in self.marks.iter_mut().enumerate() {
            let at = location(*m);
            if at == fill || at == tx {
                *m = WITH_WORKER;
                if pool.len() < pool.capacity() {
                    pool.push(self.umem.frame_at(idx));
                }
            }
        }
        pool.len() - before
    }

    #[inline]
    fn fill(&mut self, port: usize, pool: &mut Vec<XskFrame>, max: usize) -> usize {
        let Some(s) = self.socks[port].as_mut() else {
            return 0;
        };
        let want = pool.len().min(s.fill_cap as usize).min(max) as u32;
        let k = s.fq.nb_free(want).min(want) as usize;
        if k == 0 {
            return 0;
        }
        let start = pool.len() - k;
        // SAFETY: the frames are owned by `pool`; the accepted ones are
        // removed from it right below.
        let n = unsafe { s.fq.produce(as_descs(&pool[start..])) };
        let at = in_fill(port);
        for f in pool.drain(start..start + n) {
            if let Some(m) = self.marks.get_mut(f.0.addr() >> self.shift) {
                *m = at;
            }
        }
        n
    }

    fn fill_capacity(&self, port: usize) -> usize {
        self.socks
            .get(port)
            .and_then(Option::as_ref)
            .map_or(0, |s| s.fill_cap as usize)
    }

    #[inline]
    fn kick_fill(&mut self, port: usize) -> bool {
        let Some(s) = self.socks[port].as_mut() else {
            return false;
        };
        if !self.need_wakeup || !s.fq.needs_wakeup() {
            return false;
        }
        // SAFETY: recvfrom with a null buffer of length 0 on our own socket
        // only asks the kernel to process the rings.
        unsafe {
            libc::recvfrom(
                s.fd,
                std::ptr::null_mut(),
                0,
                libc::MSG_DONTWAIT,
                std::ptr::null_mut(),
                std::ptr::null_mut(),
            )
        };
        true
    }

    fn wait(&mut self, timeout_ms: i32) {
        // SAFETY: `pollfds` is a valid array of `len` pollfd structs.
        unsafe {
            libc::poll(
                self.pollfds.as_mut_ptr(),
                self.pollfds.len() as libc::nfds_t,
                timeout_ms,
            )
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A descriptor stand-in: (id, length, more).
    type D = (u32, u32, bool);

    fn run(carry: &mut Vec<D>, skip: &mut bool, got: &[D], limit: usize) -> Vec<D> {
        let mut got = got.to_vec();
        let mut out = Vec::new();
        let n = whole_packets(
            carry,
            skip,
            &mut got,
            limit,
            |d| d.2,
            |d| d.1 = 0,
            |d| out.push(d),
        );
        assert_eq!(n, out.len());
        out
    }

    #[test]
    fn a_packet_cut_by_the_batch_end_waits_for_its_last_frame() {
        let (mut carry, mut skip) = (Vec::new(), false);
        // A (one frame), B (three frames, cut after two).
        let a = (1, 60, false);
        let b = [(2, 3840, true), (3, 3840, true), (4, 1334, false)];
        let out = run(&mut carry, &mut skip, &[a, b[0], b[1]], 64);
        assert_eq!(out, [a]);
        assert_eq!(carry, [b[0], b[1]]);
        // The rest of B and a whole C.
        let c = [(5, 3840, true), (6, 100, false)];
        let out = run(&mut carry, &mut skip, &[b[2], c[0], c[1]], 64);
        assert_eq!(out, [b[0], b[1], b[2], c[0], c[1]]);
        assert!(carry.is_empty() && !skip);
        // Cut after its first frame only, twice in a row.
        let out = run(&mut carry, &mut skip, &[b[0]], 64);
        assert!(out.is_empty());
        let out = run(&mut carry, &mut skip, &[b[1]], 64);
        assert!(out.is_empty());
        let out = run(&mut carry, &mut skip, &[b[2]], 64);
        assert_eq!(out, b);
    }

    #[test]
    fn a_packet_no_batch_could_hold_is_emptied_not_stalled_on() {
        let (mut carry, mut skip) = (Vec::new(), false);
        // Limit 3: a five-frame packet, then a one-frame one.
        let long: Vec<D> = (0..5).map(|i| (i, 100, i < 4)).collect();
        let next = (9, 60, false);
        let out = run(&mut carry, &mut skip, &long[..3], 3);
        assert_eq!(out.len(), 3);
        assert!(out.iter().all(|d| d.1 == 0), "emptied: dropped as runts");
        assert!(carry.is_empty() && skip);
        let out = run(&mut carry, &mut skip, &[long[3], long[4], next], 3);
        assert_eq!(out.len(), 3);
        assert!(out[..2].iter().all(|d| d.1 == 0));
        assert_eq!(out[2], next, "the next packet is whole and untouched");
        assert!(!skip);
    }
}
