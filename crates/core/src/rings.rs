//! The I/O edge a worker drives, as a trait. The AF_XDP implementation is
//! the datapath's (`xskfwd::xsk`); an in-memory one for tests and benches
//! is in `xskfwd_core::testing` (feature `testing`).
//!
//! A [`Rings`] implementation is one worker's exclusive view of the rings of
//! the ports it serves: for each port an rx ring, a tx ring, a fill ring and
//! a completion ring. Frames move *by value* between the rings, the worker's
//! batches and its free pool, so every frame has exactly one owner at any
//! time. A frame type is neither `Copy` nor `Clone`.
//!
//! A packet is one frame, or with AF_XDP multi-buffer (jumbo frames) a
//! chain of frames: every frame but the last says [`Rings::more`]
//! (`XDP_PKT_CONTD`). Chains are kept whole: [`Rings::rx`] returns whole
//! packets only and [`Rings::tx`] accepts whole packets only, so a ring
//! never holds part of a packet the worker put there.
//!
//! This module must never allocate in a ring operation.

use arrayvec::ArrayVec;

use crate::limits::MAX_BATCH;

/// Bytes of metadata the XDP program may put in front of a frame
/// (`struct xskfwd_meta` in `bpf/xskfwd.h`).
pub const META_LEN: usize = 20;

/// A frame's metadata as the rings found it (all zero: none).
pub type Meta = [u8; META_LEN];

/// A batch of frames held by a worker.
pub type Batch<F> = ArrayVec<F, MAX_BATCH>;

/// What one [`Rings::complete`] call returned.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Completed {
    /// Frames.
    pub frames: usize,
    /// Packets those frames ended (a multi-buffer packet counts once, with
    /// its last frame).
    pub packets: usize,
    /// Their bytes, as sent.
    pub bytes: u64,
}

/// One worker's rings over all the ports it serves.
pub trait Rings {
    /// An owned frame (not `Copy`, not `Clone`).
    type Frame;

    /// Number of ports.
    fn ports(&self) -> usize;

    /// Moves up to `max` received frames of `port` into `out` (which has
    /// room for them). Returns how many. Only whole packets: the last frame
    /// moved never says [`Rings::more`]. A packet whose chain is longer
    /// than `max` may exceed it, within `out`'s capacity.
    fn rx(&mut self, port: usize, out: &mut Batch<Self::Frame>, max: usize) -> usize;

    /// Whether the frame is followed by another frame of the same packet
    /// (multi-buffer: `XDP_PKT_CONTD`). The default: never.
    #[inline]
    fn more(&self, _frame: &Self::Frame) -> bool {
        false
    }

    /// The frame's packet bytes, `len()` long.
    fn data<'a>(&'a self, frame: &'a mut Self::Frame) -> &'a mut [u8];

    /// Takes the metadata the XDP program put in front of the frame, and
    /// clears it there, so a frame that comes back without new metadata
    /// never shows an old one. All zero when there is none; the default
    /// has none.
    #[inline]
    fn take_meta(&self, _frame: &mut Self::Frame) -> Meta {
        [0; META_LEN]
    }

    /// Hints that the frame's first bytes will be read and written soon.
    /// The worker calls it for a whole rx batch before deciding any frame,
    /// so the batch's cache misses overlap instead of queueing one after
    /// another (in copy mode the kernel wrote the frame on another core).
    /// The default does nothing.
    #[inline]
    fn prefetch(&self, _frame: &mut Self::Frame) {}

    /// Sets the length the frame will be transmitted with (at most its
    /// current length plus tailroom; callers only shrink or keep it).
    fn set_len(&self, frame: &mut Self::Frame, len: u32);

    /// Puts frames from the front of `batch` on `port`'s tx ring, removing
    /// the ones the ring accepted. Returns how many it accepted: whole
    /// packets only (see [`Rings::more`]).
    fn tx(&mut self, port: usize, batch: &mut Batch<Self::Frame>) -> usize;

    /// Asks the kernel to process `port`'s tx ring if the ring says it
    /// needs that. Returns whether a syscall was made.
    fn kick_tx(&mut self, port: usize) -> bool;

    /// Moves completed tx frames of `port` into `pool`. Returns how many,
    /// the packets they ended, and their bytes as they were sent.
    fn complete(&mut self, port: usize, pool: &mut Vec<Self::Frame>) -> Completed;

    /// Closes `port`'s rings (its interface is gone) and moves every frame
    /// they held (fill, rx, tx and completion rings) into `pool`. Returns
    /// how many. The worker makes no other call for the port afterwards.
    fn close(&mut self, port: usize, pool: &mut Vec<Self::Frame>) -> usize;

    /// Moves frames from the end of `pool` to `port`'s fill ring, as many as
    /// it has room for and at most `max`. Returns how many.
    fn fill(&mut self, port: usize, pool: &mut Vec<Self::Frame>, max: usize) -> usize;

    /// Entries of `port`'s fill ring: the most frames the worker lends
    /// that port's receive side at once. A zero-copy driver moves frames
    /// off the fill ring into its own receive ring, so the ring's free
    /// space alone would let one port take every frame.
    fn fill_capacity(&self, port: usize) -> usize;

    /// Wakes the kernel's rx processing of `port` if the fill ring says it
    /// needs that. Returns whether a syscall was made.
    fn kick_fill(&mut self, port: usize) -> bool;

    /// Sleeps until some rx ring may have frames, or `timeout_ms` passed.
    fn wait(&mut self, timeout_ms: i32);
}
