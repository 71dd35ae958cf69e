//! The ports' link state, published by whoever watches the links (the
//! datapath's link thread, a test) and picked up by every worker between
//! two batches: one `Acquire` load of a generation counter per loop
//! iteration, the per-port values only when it changed.
//!
//! PURE: atomics only; no I/O, no allocation after [`Links::new`].

use std::sync::atomic::{AtomicU32, AtomicU64, AtomicU8, Ordering};

/// What a port's link is doing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum LinkState {
    /// Up with carrier: frames go out.
    Up = 0,
    /// Administratively down or without carrier: frames for it are
    /// dropped (`port_down`) without a syscall; its rings stay.
    Down = 1,
    /// The interface is gone: its sockets are closed and their frames
    /// reclaimed; frames for it are dropped (`port_down`).
    Gone = 2,
}

impl LinkState {
    fn from_u8(v: u8) -> LinkState {
        match v {
            0 => LinkState::Up,
            1 => LinkState::Down,
            _ => LinkState::Gone,
        }
    }

    /// Lower-case name, as logs and statistics show it.
    pub fn name(self) -> &'static str {
        match self {
            LinkState::Up => "up",
            LinkState::Down => "down",
            LinkState::Gone => "gone",
        }
    }
}

/// One port's published state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PortLink {
    /// Up, down or gone.
    pub state: LinkState,
    /// Largest frame it sends now (MTU + [`crate::limits::L2_OVERHEAD`],
    /// bounded by the UMEM frame).
    pub max_len: u32,
}

#[derive(Debug)]
struct Slot {
    state: AtomicU8,
    max_len: AtomicU32,
}

/// The link state of every port of a run, shared by the link watcher
/// (writer) and the workers (readers).
#[derive(Debug)]
pub struct Links {
    generation: AtomicU64,
    ports: Vec<Slot>,
}

impl Links {
    /// Every port up, with the given largest frames.
    pub fn new(max_lens: &[u32]) -> Links {
        Links {
            generation: AtomicU64::new(0),
            ports: max_lens
                .iter()
                .map(|&m| Slot {
                    state: AtomicU8::new(LinkState::Up as u8),
                    max_len: AtomicU32::new(m),
                })
                .collect(),
        }
    }

    /// Number of ports.
    pub fn len(&self) -> usize {
        self.ports.len()
    }

    /// Whether there are no ports.
    pub fn is_empty(&self) -> bool {
        self.ports.is_empty()
    }

    /// Publishes `link` for `port` (ignored for a port that does not
    /// exist). A port that is [`LinkState::Gone`] stays gone: its sockets
    /// are closed, so only a new run can bring it back. Returns the state
    /// before.
    pub fn set(&self, port: usize, link: PortLink) -> Option<PortLink> {
        let slot = self.ports.get(port)?;
        let before = self.get(port)?;
        let state = if before.state == LinkState::Gone {
            LinkState::Gone
        } else {
            link.state
        };
        slot.max_len.store(link.max_len, Ordering::Relaxed);
        slot.state.store(state as u8, Ordering::Relaxed);
        // Release: a worker that sees the new generation sees the values.
        self.generation.fetch_add(1, Ordering::Release);
        Some(before)
    }

    /// The state of `port`.
    pub fn get(&self, port: usize) -> Option<PortLink> {
        let slot = self.ports.get(port)?;
        Some(PortLink {
            state: LinkState::from_u8(slot.state.load(Ordering::Relaxed)),
            max_len: slot.max_len.load(Ordering::Relaxed),
        })
    }

    /// Changes so far: a worker re-reads the ports when this moved.
    #[inline]
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_get_and_gone_is_final() {
        let l = Links::new(&[1518, 9018]);
        assert_eq!(l.generation(), 0);
        let down = PortLink {
            state: LinkState::Down,
            max_len: 1418,
        };
        assert_eq!(l.set(1, down).unwrap().max_len, 9018);
        assert_eq!(l.get(1), Some(down));
        assert_eq!(l.generation(), 1);
        l.set(
            0,
            PortLink {
                state: LinkState::Gone,
                max_len: 1518,
            },
        );
        l.set(
            0,
            PortLink {
                state: LinkState::Up,
                max_len: 1518,
            },
        );
        assert_eq!(l.get(0).unwrap().state, LinkState::Gone);
        assert!(l.set(5, down).is_none() && l.get(5).is_none());
        assert_eq!((l.len(), l.is_empty()), (2, false));
    }
}
