//! The forwarding core of xskfwd: everything that decides a packet's fate,
//! from bytes alone.
//!
//! This crate never does I/O, reads no clock, holds no `unsafe` (the
//! compiler enforces it: `forbid(unsafe_code)`), and depends on no libc,
//! xsk-rs or libbpf: it builds and tests without clang, libbpf or root.
//! The datapath crate (`xskfwd`) drives it over real AF_XDP rings; tests
//! and benches drive it over in-memory ones (`testing`, feature
//! `testing`).
//!
//! - [`wire`]: smoltcp-style zero-copy views of Ethernet, IPv4 and IPv6
//!   headers, and the Internet checksum (RFC 1071/1624).
//! - [`verdict`]: the decision vocabulary — [`verdict::Verdict`], its
//!   pass and drop reasons, and the [`verdict::Forwarder`] trait (one call
//!   per rx batch).
//! - [`l2`], [`l3`]: the two forwarders.
//! - [`route`], [`lpm`], [`tables`]: the route and neighbour model, the
//!   frozen snapshots workers read, their longest-prefix-match tries, and
//!   the typed writer/reader pair that publishes them.
//! - [`rings`], [`worker`], [`counters`]: the rings a worker drives (a
//!   trait), the worker loop over them, and its lock-free counters.
//! - [`links`]: the ports' link state (up, down, gone, MTU) as the
//!   control side publishes it and workers pick it up between batches.
//! - [`limits`]: every fixed limit, checked against the XDP program's.

#![forbid(unsafe_code)]

pub mod counters;
pub mod l2;
pub mod l3;
pub mod limits;
pub mod links;
pub mod lpm;
pub mod rings;
pub mod route;
pub mod tables;
pub mod trace;
pub mod verdict;
pub mod wire;
pub mod worker;

#[cfg(any(test, feature = "testing"))]
pub mod testing;
