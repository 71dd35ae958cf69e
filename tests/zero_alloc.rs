//! The fast path never allocates: a counting global allocator watches the
//! worker loop (L2 and L3) over in-memory rings for 10,000+ batches after
//! a warm-up, including a table update picked up mid-run.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::{Cell, RefCell};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;

use xskfwd::app::Forwarding;
use xskfwd_core::l2::{L2Forwarder, L2Mode, L2Port};
use xskfwd_core::l3::L3Forwarder;
use xskfwd_core::route::{Action, L3Port, NeighSet, RouteSet};
use xskfwd_core::tables::tables;
use xskfwd_core::testing::MemRings;
use xskfwd_core::wire::ethernet::Mac;
use xskfwd_core::worker::{Idle, Worker, WorkerParams};

struct Counting;

thread_local! {
    /// Counting is on for the thread running the worker loop only: the
    /// test harness's own threads (reporting another test's result, say)
    /// may allocate at any time.
    static COUNTING: Cell<bool> = const { Cell::new(false) };
}
static ALLOCS: AtomicU64 = AtomicU64::new(0);
/// Tests in this file run one at a time (the counter is global).
static SERIAL: Mutex<()> = Mutex::new(());

// SAFETY: defers every operation to the system allocator unchanged; only
// counts calls.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if COUNTING.with(Cell::get) {
            ALLOCS.fetch_add(1, Relaxed);
        }
        // SAFETY: same contract as our caller's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as our caller's.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if COUNTING.with(Cell::get) {
            ALLOCS.fetch_add(1, Relaxed);
        }
        // SAFETY: same contract as our caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const OWN: [[u8; 6]; 2] = [[2, 0, 0, 0, 0, 0], [2, 0, 0, 0, 0, 1]];
const BATCHES: usize = 10_000;

fn udp4(dst_mac: [u8; 6]) -> Vec<u8> {
    let mut out = Vec::new();
    etherparse::PacketBuilder::ethernet2([2, 0, 0, 0, 1, 0], dst_mac)
        .ipv4([198, 18, 0, 1], [198, 18, 1, 1], 64)
        .udp(4000, 5000)
        .write(&mut out, &[0u8; 18])
        .unwrap();
    out
}

/// Runs `BATCHES` batches of 64 frames in on port 0 through `fwd` (the
/// forwarder the datapath's workers run) and returns (allocations after
/// warm-up, frames sent on port 1). `between` runs before each batch as
/// the control thread would, so it is not counted.
fn run(fwd: Forwarding, between: impl Fn(usize)) -> (u64, u64) {
    let (mut rings, pool) = MemRings::new(2, 256, 1024, 2048);
    rings.record = false;
    let mut w = Worker::new(
        rings,
        fwd,
        WorkerParams {
            batch: 64,
            idle: Idle::Busy,
        },
        pool,
    );
    w.prime();
    let pkt = udp4(OWN[0]);
    let step = |w: &mut Worker<MemRings, Forwarding>| {
        w.rings_mut().deliver_copies(0, &pkt, 64);
        w.poll_once();
    };
    for _ in 0..100 {
        step(&mut w);
    }
    ALLOCS.store(0, Relaxed);
    COUNTING.with(|c| c.set(true));
    for i in 0..BATCHES {
        COUNTING.with(|c| c.set(false));
        between(i);
        COUNTING.with(|c| c.set(true));
        step(&mut w);
    }
    COUNTING.with(|c| c.set(false));
    let sent = w.rings().sent_count(1);
    (ALLOCS.load(Relaxed), sent)
}

#[test]
fn l2_worker_loop_does_not_allocate() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let ports = [0, 1].map(|i| L2Port {
        mac: Mac(OWN[i]),
        max_len: 1518,
        next_hop: Some(Mac([2, 0, 0, 0, 1, i as u8])),
    });
    let fwd = Forwarding::L2(L2Forwarder::new(L2Mode::CrossConnect, &ports));
    let (allocs, sent) = run(fwd, |_| {});
    assert_eq!(sent, (BATCHES as u64 + 100) * 64, "every frame forwarded");
    assert_eq!(allocs, 0, "allocations in the L2 fast path");
}

#[test]
fn l3_worker_loop_does_not_allocate_even_across_table_updates() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let mut routes = RouteSet::new();
    routes.kernel_add(
        "198.18.1.0/24".parse().unwrap(),
        0,
        Action::Forward {
            port: 1,
            gateway: None,
            mtu: None,
        },
    );
    let mut neigh = NeighSet::new();
    neigh.kernel_set(1, "198.18.1.1".parse().unwrap(), Some([2, 0, 0, 0, 1, 1]));
    let fib = routes.build().unwrap();
    let (writer, reader) = tables(fib.clone(), neigh.build());
    // A second snapshot published mid-run (by the "control thread"): the
    // worker takes it over without allocating, and the one it lets go of
    // is not freed on the worker either (the writer keeps it).
    let writer = RefCell::new(writer);
    let spare = RefCell::new(Some(fib));
    let ports = OWN.map(|mac| L3Port { mac, mtu: 1500 });
    let fwd = Forwarding::L3(L3Forwarder::new(&ports, reader));
    let (allocs, sent) = run(fwd, |i| {
        if i == BATCHES / 2 {
            writer.borrow_mut().publish(spare.borrow_mut().take(), None);
        }
    });
    assert_eq!(sent, (BATCHES as u64 + 100) * 64, "every frame routed");
    assert_eq!(allocs, 0, "allocations in the L3 fast path");
}
