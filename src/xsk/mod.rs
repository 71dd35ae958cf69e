//! AF_XDP sockets over one shared UMEM, on top of xsk-rs.
//!
//! One concept per file, as xdpilone splits it: [`umem`] (the shared UMEM
//! and the owned frame type), [`socket`] (binding, socket options,
//! statistics), [`fallback`] (which bind modes to try, and what to say when
//! they fail) and [`rings`] (a worker's rings, implementing the core's
//! `Rings` trait). With `bpf`, `netns`, `netlink` and `privileges`, this is
//! where the crate's `unsafe` code lives. It turns the two rules xsk-rs
//! cannot check into types:
//!
//! 1. *A frame given to the fill or tx ring is not touched until it comes
//!    back.* [`XskFrame`] is the only handle to a frame. It is neither `Copy`
//!    nor `Clone`; it is created only when a frame leaves a ring (rx,
//!    completion) or the UMEM is created, and consumed by value when it is
//!    given to a ring (fill, tx). Holding one means owning that frame.
//! 2. *Descriptors of different UMEMs are never mixed.* A process has one
//!    UMEM ([`SharedUmem`]), and every [`XskRings`] of it refers to it.

use std::io;

use thiserror::Error;

pub mod fallback;
pub mod rings;
pub mod socket;
pub mod umem;

pub use rings::XskRings;
pub use socket::{socket_stats, SocketOptions, XskSocket, COPY_TX_BUDGET};
pub use umem::{SharedUmem, XskFrame};

/// Errors of the AF_XDP layer, naming the failing step.
#[derive(Debug, Error)]
pub enum XskError {
    /// UMEM creation failed.
    #[error("creating the UMEM ({frames} frames of {frame_size} bytes) failed: {err}")]
    Umem {
        /// Frames requested.
        frames: u32,
        /// Frame size.
        frame_size: u32,
        /// Cause.
        err: io::Error,
    },
    /// A bad size was given (validated earlier; kept for completeness).
    #[error("invalid AF_XDP size: {0}")]
    Size(String),
    /// Socket creation / bind failed.
    #[error("binding an AF_XDP socket to {ifname} queue {queue} ({mode}) failed: {err}{hint}")]
    Bind {
        /// Interface.
        ifname: String,
        /// Queue.
        queue: u32,
        /// Bind mode tried.
        mode: &'static str,
        /// Cause.
        err: io::Error,
        /// What to do about it.
        hint: &'static str,
    },
}
