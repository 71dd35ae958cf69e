//! The published route and neighbour snapshots, as a typed pair of ends:
//! one [`TablesWriter`] (the control plane's) and a [`TablesReader`] per
//! worker. Workers never see a table being edited, never wait, and never
//! free one.
//!
//! RCU style via `arc-swap`: the writer swaps in a new frozen snapshot; a
//! reader takes it over at its next batch with one reference count; the
//! writer keeps every snapshot it replaced until no reader holds it any
//! more ([`TablesWriter::reclaim`]), so while forwarding the last
//! reference — and the free of a possibly 100 MiB table — drops on the
//! control thread, never on a worker. (At shutdown the readers go last,
//! wherever the workers are joined.)
//!
//! Publish order (see [`TablesWriter::publish`]): neighbours first,
//! resolved for the routing table about to be published, then the routing
//! table. A reader can still hold either mix of old and new; each
//! neighbour snapshot's per-next-hop MACs are keyed by the id of the
//! routing table they were resolved for (`Neighbours::hop_mac`), so with a
//! mismatched pair next hops are looked up by address instead, and the
//! per-hop shortcut never applies to the wrong table.
//!
//! Never: lock, allocate or free on the reader side.

use std::sync::Arc;

use arc_swap::ArcSwap;

use crate::route::{Fib, Neighbours};

#[derive(Debug)]
struct Shared {
    fib: ArcSwap<Fib>,
    neigh: ArcSwap<Neighbours>,
}

/// The writing end (one, not `Clone`): publishes snapshots and frees the
/// ones readers let go of.
#[derive(Debug)]
pub struct TablesWriter {
    shared: Arc<Shared>,
    retired_fib: Vec<Arc<Fib>>,
    retired_neigh: Vec<Arc<Neighbours>>,
}

/// A reading end (one per worker; `Clone` makes another): the snapshots
/// it currently reads, refreshed with [`TablesReader::refresh`].
#[derive(Debug, Clone)]
pub struct TablesReader {
    shared: Arc<Shared>,
    fib: Arc<Fib>,
    neigh: Arc<Neighbours>,
}

/// A writer and a first reader, starting from the given snapshots.
pub fn tables(fib: Fib, neigh: Neighbours) -> (TablesWriter, TablesReader) {
    let shared = Arc::new(Shared {
        fib: ArcSwap::from_pointee(fib),
        neigh: ArcSwap::from_pointee(neigh),
    });
    let writer = TablesWriter {
        shared,
        retired_fib: Vec::new(),
        retired_neigh: Vec::new(),
    };
    let reader = writer.reader();
    (writer, reader)
}

impl TablesWriter {
    /// Another reader of these tables.
    pub fn reader(&self) -> TablesReader {
        TablesReader {
            fib: self.shared.fib.load_full(),
            neigh: self.shared.neigh.load_full(),
            shared: Arc::clone(&self.shared),
        }
    }

    /// The routing snapshot published last.
    pub fn fib(&self) -> Arc<Fib> {
        self.shared.fib.load_full()
    }

    /// The neighbour snapshot published last.
    pub fn neigh(&self) -> Arc<Neighbours> {
        self.shared.neigh.load_full()
    }

    /// Publishes new snapshots in the safe order: `neigh` (which should be
    /// resolved for `fib`, or for the current table if `fib` is `None`)
    /// first, then `fib`. The replaced ones are kept until
    /// [`TablesWriter::reclaim`] finds no reader holding them.
    pub fn publish(&mut self, fib: Option<Fib>, neigh: Option<Neighbours>) {
        if let Some(n) = neigh {
            let old = self.shared.neigh.swap(Arc::new(n));
            self.retired_neigh.push(old);
        }
        if let Some(f) = fib {
            let old = self.shared.fib.swap(Arc::new(f));
            self.retired_fib.push(old);
        }
    }

    /// Frees retired snapshots that no reader holds any more. Returns how
    /// many are still held.
    pub fn reclaim(&mut self) -> usize {
        self.retired_fib.retain(|a| Arc::strong_count(a) > 1);
        self.retired_neigh.retain(|a| Arc::strong_count(a) > 1);
        self.retired_fib.len() + self.retired_neigh.len()
    }
}

impl TablesReader {
    /// Takes over the newest snapshots: a pointer comparison each when
    /// nothing changed. Returns whether the routing table changed.
    #[inline]
    pub fn refresh(&mut self) -> bool {
        self.refresh_each().0
    }

    /// [`TablesReader::refresh`], telling for each snapshot whether it
    /// changed: (routing table, neighbours).
    #[inline]
    pub fn refresh_each(&mut self) -> (bool, bool) {
        let n = self.shared.neigh.load();
        let neigh = !Arc::ptr_eq(&n, &self.neigh);
        if neigh {
            self.neigh = arc_swap::Guard::into_inner(n);
        }
        let f = self.shared.fib.load();
        if Arc::ptr_eq(&f, &self.fib) {
            return (false, neigh);
        }
        self.fib = arc_swap::Guard::into_inner(f);
        (true, neigh)
    }

    /// The routing snapshot this reader holds.
    #[inline]
    pub fn fib(&self) -> &Fib {
        &self.fib
    }

    /// The neighbour snapshot this reader holds.
    #[inline]
    pub fn neigh(&self) -> &Neighbours {
        &self.neigh
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::route::{Action, RouteSet};

    fn default_route() -> Fib {
        let mut set = RouteSet::new();
        let action = Action::Forward {
            port: 0,
            gateway: None,
            mtu: None,
        };
        set.kernel_add("0.0.0.0/0".parse().unwrap(), 0, action);
        set.build().unwrap()
    }

    #[test]
    fn readers_see_a_publish_at_their_next_refresh() {
        let (mut w, mut r) = tables(Fib::default(), Neighbours::default());
        assert!(!r.refresh(), "nothing new yet");
        w.publish(Some(default_route()), None);
        assert!(r.fib().lookup_v4(1).is_none(), "old snapshot until refresh");
        assert!(r.refresh());
        assert!(r.fib().lookup_v4(1).is_some());
        assert!(w.reader().fib().lookup_v4(1).is_some());
    }

    #[test]
    fn retired_snapshots_are_freed_by_the_writer_once_readers_let_go() {
        let (mut w, mut r) = tables(Fib::default(), Neighbours::default());
        w.publish(Some(default_route()), Some(Neighbours::default()));
        assert_eq!(w.reclaim(), 2, "the reader still holds the old pair");
        r.refresh();
        assert_eq!(w.reclaim(), 0, "freed on the writer's side");
        drop(r);
        w.publish(Some(Fib::default()), None);
        assert_eq!(w.reclaim(), 0, "no reader: freed at the next reclaim");
    }
}
