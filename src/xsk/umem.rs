//! The one UMEM of the process and the owned frame type ([`XskFrame`]).

use std::io;
use std::num::NonZeroU32;
use std::sync::Arc;

use xsk_rs::config::{FrameSize, QueueSize, UmemConfig};
use xsk_rs::{FrameDesc, Umem};

use super::XskError;

/// The one UMEM of the process, shared by every socket of every port.
#[derive(Debug, Clone)]
pub struct SharedUmem {
    pub(super) umem: Umem,
    pub(super) frame_size: u32,
    /// Number of frames.
    pub(super) frames: u32,
    /// The descriptor of every frame as the UMEM was created (index =
    /// frame): what [`SharedUmem::frame_at`] hands out again for a frame a
    /// closed socket's rings held.
    descs: Arc<[FrameDesc]>,
}

/// An owned UMEM frame (see the module docs). `repr(transparent)` so a
/// slice of them is a slice of xsk-rs descriptors.
#[derive(Debug)]
#[repr(transparent)]
pub struct XskFrame(pub(super) FrameDesc);

impl XskFrame {
    /// Index of the frame in the UMEM (for conservation checks).
    pub fn index(&self, frame_size: u32) -> u64 {
        self.0.addr() as u64 / u64::from(frame_size)
    }
}

pub(super) fn as_descs(frames: &[XskFrame]) -> &[FrameDesc] {
    // SAFETY: XskFrame is repr(transparent) over FrameDesc, so the layouts
    // of the two slices are identical; the borrow keeps `frames` alive.
    unsafe { std::slice::from_raw_parts(frames.as_ptr().cast::<FrameDesc>(), frames.len()) }
}

impl SharedUmem {
    /// Creates the UMEM and returns it with every frame it holds.
    pub fn new(
        frames: u32,
        frame_size: u32,
        fill_size: u32,
        comp_size: u32,
    ) -> Result<(Self, Vec<XskFrame>), XskError> {
        let size_err = |e: &dyn std::fmt::Display| XskError::Size(e.to_string());
        let config = UmemConfig::builder()
            .frame_size(FrameSize::new(frame_size).map_err(|e| size_err(&e))?)
            .fill_queue_size(QueueSize::new(fill_size).map_err(|e| size_err(&e))?)
            .comp_queue_size(QueueSize::new(comp_size).map_err(|e| size_err(&e))?)
            .frame_headroom(0)
            .build()
            .map_err(|e| size_err(&e))?;
        let count = NonZeroU32::new(frames).ok_or_else(|| XskError::Size("0 frames".into()))?;
        let (umem, descs) = Umem::new(config, count, false).map_err(|e| XskError::Umem {
            frames,
            frame_size,
            err: std::error::Error::source(&e)
                .and_then(|s| s.downcast_ref::<io::Error>())
                .map(|io| io::Error::new(io.kind(), format!("{e}: {io}")))
                .unwrap_or_else(|| io::Error::other(e.to_string())),
        })?;
        let descs: Arc<[FrameDesc]> = descs.into();
        Ok((
            SharedUmem {
                umem,
                frame_size,
                frames: descs.len() as u32,
                descs: Arc::clone(&descs),
            },
            descs.iter().copied().map(XskFrame).collect(),
        ))
    }

    /// Frame `index` as a new owned handle. Only for frames that no ring
    /// and no other [`XskFrame`] holds: those a closed socket's rings held
    /// (see `rings`), which the kernel never returns.
    pub(super) fn frame_at(&self, index: usize) -> XskFrame {
        XskFrame(self.descs[index])
    }

    /// Frame size in bytes.
    pub fn frame_size(&self) -> u32 {
        self.frame_size
    }
}
