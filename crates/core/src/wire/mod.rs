//! Zero-copy views over packet bytes, in the style of smoltcp's `wire`.
//!
//! A view is created with `new_checked`, which verifies the length once;
//! after that no getter or setter can panic. Nothing here allocates, does
//! I/O or reads a clock.

pub mod checksum;
pub mod ethernet;
pub mod ipv4;
pub mod ipv6;

/// A packet was too short (or otherwise malformed) for the view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Truncated;
