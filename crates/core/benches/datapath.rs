//! Criterion benches of the pure datapath: the per-packet L2 decision and
//! the whole worker loop over in-memory rings (no kernel involved).

use arrayvec::ArrayVec;
use criterion::{black_box, criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use xskfwd_core::l2::{L2Forwarder, L2Mode, L2Port};
use xskfwd_core::testing::MemRings;
use xskfwd_core::wire::ethernet::Mac;
use xskfwd_core::worker::{Idle, Worker, WorkerParams};

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use xskfwd_core::trace::{Filter, Record, Tracer, VerdictKind};

use etherparse::PacketBuilder;
use xskfwd_core::l3;
use xskfwd_core::l3::{KernelHop, L3Forwarder};
use xskfwd_core::route::{Action, L3Port, NeighSet, Prefix, RouteSet};
use xskfwd_core::tables::{tables, TablesReader, TablesWriter};
use xskfwd_core::testing::synth::{addresses, gen4, gen6, Rng};
use xskfwd_core::verdict::{DropReason, Forwarder, Verdict};

fn forwarder() -> L2Forwarder {
    let ports = [0u8, 1].map(|i| L2Port {
        mac: Mac([2, 0, 0, 0, 0, i]),
        max_len: 1518,
        next_hop: Some(Mac([2, 0, 0, 0, 1, i])),
    });
    L2Forwarder::new(L2Mode::CrossConnect, &ports)
}

fn bench_process(c: &mut Criterion) {
    let fwd = forwarder();
    let mut frames = vec![[0u8; 64]; 64];
    let mut g = c.benchmark_group("l2_process");
    g.throughput(Throughput::Elements(64));
    g.bench_function("batch_of_64x64B", |b| {
        b.iter(|| {
            for f in frames.iter_mut() {
                black_box(fwd.process(0, black_box(&mut f[..])));
            }
        })
    });
    g.finish();
}

/// A worker with 64 frames of 64 bytes waiting on port 0, with `tracer`
/// attached if given.
fn loaded_worker(tracer: Option<&Arc<Tracer>>) -> Worker<MemRings, L2Forwarder> {
    let (rings, pool) = MemRings::new(2, 256, 1024, 2048);
    let mut w = Worker::new(
        rings,
        forwarder(),
        WorkerParams {
            batch: 64,
            idle: Idle::Busy,
        },
        pool,
    );
    if let Some(t) = tracer {
        w = w.with_trace(Arc::clone(t), 0);
    }
    w.prime();
    for _ in 0..64 {
        w.rings_mut().inject(0, &[0u8; 64]);
    }
    w.rings_mut().deliver();
    w
}

/// The whole worker loop over in-memory rings, one fresh worker per pass
/// (so every pass starts with cold caches).
fn bench_worker(c: &mut Criterion) {
    let mut g = c.benchmark_group("worker_mem");
    g.throughput(Throughput::Elements(64));
    g.bench_function("poll_once_64x64B", |b| {
        b.iter_batched_ref(
            || loaded_worker(None),
            |w| black_box(w.poll_once()),
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

/// What a packet trace costs the worker loop, in steady state (one worker
/// kept warm, 64 frames of 64 bytes per pass; only the passes are timed):
/// no tracer, a tracer nobody armed, one armed for frames this traffic
/// never matches (drops), and one copying every frame (tx), whose buffers
/// a client gives back between passes (untimed, as on its own thread).
fn bench_trace(c: &mut Criterion) {
    let mut g = c.benchmark_group("worker_trace");
    g.throughput(Throughput::Elements(64));
    let frame = [0u8; 64];
    let steady = |w: &mut Worker<MemRings, L2Forwarder>, iters: u64, between: &dyn Fn()| {
        let mut spent = Duration::ZERO;
        for _ in 0..iters {
            w.rings_mut().deliver_copies(0, &frame, 64);
            let t = std::time::Instant::now();
            black_box(w.poll_once());
            spent += t.elapsed();
            between();
        }
        spent
    };
    let warm = |tracer: Option<&Arc<Tracer>>| {
        let mut w = loaded_worker(tracer);
        w.rings_mut().record = false;
        w.poll_once();
        w
    };
    let mut w = warm(None);
    g.bench_function("none", |b| b.iter_custom(|n| steady(&mut w, n, &|| {})));
    let tracer = Arc::new(Tracer::new());
    let mut w = warm(Some(&tracer));
    g.bench_function("disarmed", |b| b.iter_custom(|n| steady(&mut w, n, &|| {})));
    let buffers = |n: usize| (0..n).map(|_| Record::with_capacity(2048)).collect();
    {
        let drops = Filter {
            verdict: Some(VerdictKind::Drop),
            reason: None,
        };
        let _armed = tracer.arm(drops, u64::MAX, buffers(64)).unwrap();
        g.bench_function("armed_no_match", |b| {
            b.iter_custom(|n| steady(&mut w, n, &|| {}))
        });
    }
    {
        let all_tx = Filter {
            verdict: Some(VerdictKind::Tx),
            reason: None,
        };
        let session = tracer.arm(all_tx, u64::MAX, buffers(64)).unwrap();
        let recycle = || {
            while let Some(r) = session.next(Duration::ZERO) {
                session.recycle(r);
            }
        };
        g.bench_function("copying_all", |b| {
            b.iter_custom(|n| steady(&mut w, n, &recycle))
        });
        assert_eq!(session.stats().missed, 0, "every frame was copied");
    }
    g.finish();
}

/// The L3 world of the benches: two ports, every route of `v4`/`v6` via
/// one gateway behind port 1 (an upstream router), neighbours resolved;
/// published once, so the forwarder and the plain decisions read the same
/// (huge-page advised) arrays.
fn l3_tables(v4: &[(u32, u8, u32)], v6: &[(u128, u8, u32)]) -> (TablesWriter, TablesReader) {
    let mut r = RouteSet::new();
    let gw4: IpAddr = "198.18.1.1".parse().unwrap();
    let gw6: IpAddr = "fd00:0:0:2::1".parse().unwrap();
    for &(a, l, _) in v4 {
        let action = Action::Forward {
            port: 1,
            gateway: Some(gw4),
            mtu: None,
        };
        r.kernel_add(Prefix::new(IpAddr::V4(a.into()), l).unwrap(), 0, action);
    }
    for &(a, l, _) in v6 {
        let action = Action::Forward {
            port: 1,
            gateway: Some(gw6),
            mtu: None,
        };
        r.kernel_add(Prefix::new(IpAddr::V6(a.into()), l).unwrap(), 0, action);
    }
    let mut n = NeighSet::new();
    n.kernel_set(1, gw4, Some([2, 0, 0, 0, 1, 1]));
    n.kernel_set(1, gw6, Some([2, 0, 0, 0, 1, 1]));
    let fib = r.build().unwrap();
    // As the control plane does before it publishes a table.
    let huge = xskfwd_hugepage::advise(fib.regions());
    eprintln!("huge pages: {huge:?}");
    let neigh = n.build().resolved_for(&fib);
    tables(fib, neigh)
}

const PORT0: [u8; 6] = [2, 0, 0, 0, 0, 0];

/// 64-byte UDP frames (78 for IPv6) to `dsts`, addressed to port 0.
fn l3_frames<A: Copy>(dsts: &[A], v6: bool, to_ip: impl Fn(A) -> IpAddr) -> Vec<Vec<u8>> {
    dsts.iter()
        .map(|&d| {
            let b = PacketBuilder::ethernet2([2, 0, 0, 0, 1, 0], PORT0);
            let mut out = Vec::new();
            match (to_ip(d), v6) {
                (IpAddr::V4(d), false) => b
                    .ipv4([198, 18, 0, 1], d.octets(), 64)
                    .udp(4000, 5000)
                    .write(&mut out, &[0u8; 18])
                    .unwrap(),
                (IpAddr::V6(d), true) => b
                    .ipv6(
                        "fd00:0:0:1::1"
                            .parse::<std::net::Ipv6Addr>()
                            .unwrap()
                            .octets(),
                        d.octets(),
                        64,
                    )
                    .udp(4000, 5000)
                    .write(&mut out, &[0u8; 16])
                    .unwrap(),
                _ => unreachable!(),
            }
            out
        })
        .collect()
}

/// Decides + rewrites batches of 64 frames, the way a worker meets them:
/// each batch is first "received" into 64 fixed frame buffers (the UMEM
/// slots: in copy mode the kernel has just written the frame there, so it
/// is in cache) by copying the next 64 frames of the stream, whose
/// destinations are spread over the whole table. That copy (64–78 bytes
/// per frame, read sequentially) is part of the figure. The first pass is
/// checked: every frame must be forwarded, or the figure would measure an
/// early drop.
fn bench_l3_batches(
    g: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    id: &str,
    tables: &TablesReader,
    frames: &[Vec<u8>],
) {
    let (fib, neigh) = (tables.fib(), tables.neigh());
    let ports = [
        L3Port {
            mac: PORT0,
            mtu: 1500,
        },
        L3Port {
            mac: [2, 0, 0, 0, 0, 1],
            mtu: 1500,
        },
    ];
    let len = frames[0].len();
    assert!(frames.iter().all(|f| f.len() == len));
    let stream: Vec<u8> = frames.concat();
    for f in frames {
        let mut c = f.clone();
        assert!(matches!(
            l3::decide(&ports, fib, neigh, 0, &mut c),
            Verdict::Tx { .. }
        ));
    }
    let n = frames.len() / 64 * 64;
    let mut umem = vec![[0u8; 128]; 64];
    let mut at = 0;
    let receive = |umem: &mut [[u8; 128]], at: &mut usize| {
        for (k, slot) in umem.iter_mut().enumerate() {
            let i = *at + k;
            slot[..len].copy_from_slice(&stream[i * len..(i + 1) * len]);
        }
        *at = (*at + 64) % n;
    };
    // As the worker does it: one call for the whole batch (its
    // destinations are looked up together, level by level, then each frame
    // is decided).
    let mut fwd = L3Forwarder::new(&ports, tables.clone());
    let mut verdicts = [Verdict::Drop(DropReason::NoEgress); 64];
    let no_meta = [[0u8; xskfwd_core::rings::META_LEN]; 64];
    g.bench_function(id, |b| {
        b.iter(|| {
            receive(&mut umem, &mut at);
            let mut batch: ArrayVec<&mut [u8], 64> = ArrayVec::new();
            batch.extend(umem.iter_mut().map(|f| &mut f[..len]));
            fwd.decide_batch(0, black_box(&mut batch), &no_meta, &mut verdicts);
            debug_assert!(verdicts.iter().all(|v| matches!(v, Verdict::Tx { .. })));
            black_box(&verdicts);
        })
    });
    // The kernel-routed path: the XDP program put the FIB's decision in
    // front of every frame, and the worker executes it (no lookup, no
    // neighbour).
    let kernel_meta = [KernelHop {
        port: 1,
        dst: [2, 0, 0, 0, 1, 1],
        src: [2, 0, 0, 0, 0, 1],
    }
    .to_meta(); 64];
    g.bench_function(format!("{id}_kernel_meta"), |b| {
        b.iter(|| {
            receive(&mut umem, &mut at);
            let mut batch: ArrayVec<&mut [u8], 64> = ArrayVec::new();
            batch.extend(umem.iter_mut().map(|f| &mut f[..len]));
            fwd.decide_batch(0, black_box(&mut batch), &kernel_meta, &mut verdicts);
            debug_assert!(verdicts.iter().all(|v| matches!(v, Verdict::Tx { .. })));
            black_box(&verdicts);
        })
    });
    // One lookup inside each decision (no look-ahead), for comparison.
    g.bench_function(format!("{id}_no_lookahead"), |b| {
        b.iter(|| {
            receive(&mut umem, &mut at);
            for f in umem.iter_mut() {
                let v = l3::decide(&ports, fib, neigh, 0, black_box(&mut f[..len]));
                black_box(v);
            }
        })
    });
    // The receive copy alone, to subtract.
    g.bench_function(format!("{id}_receive_only"), |b| {
        b.iter(|| {
            receive(&mut umem, &mut at);
            black_box(&mut umem);
        })
    });
}

fn bench_l3(c: &mut Criterion) {
    let mut r = Rng(0x9e37_79b9_7f4a_7c15);
    let mut g = c.benchmark_group("l3_process");
    g.throughput(Throughput::Elements(64));
    // The same seeds as benches/lpm.rs, so the tables are the same.
    for (name, n4, n6, s4, s6) in [
        ("small", 100, 100, 1, 3),
        ("full", 1_000_000, 200_000, 2, 4),
    ] {
        let t4 = gen4(n4, s4);
        let t6 = gen6(n6, s6);
        let (_writer, tables) = l3_tables(&t4, &t6);
        eprintln!(
            "l3 tables {name}: {} IPv4 + {} IPv6 routes, lookup structures {:.1} MiB",
            t4.len(),
            t6.len(),
            tables.fib().memory_bytes() as f64 / (1 << 20) as f64
        );
        // Destinations inside table prefixes (even entries of the pool).
        let d4: Vec<u32> = addresses(&t4, &mut r).into_iter().step_by(2).collect();
        let d6: Vec<u128> = addresses(&t6, &mut r).into_iter().step_by(2).collect();
        let f4 = l3_frames(&d4, false, |a| IpAddr::V4(a.into()));
        let f6 = l3_frames(&d6, true, |a| IpAddr::V6(a.into()));
        bench_l3_batches(&mut g, &format!("ipv4_{name}_batch64"), &tables, &f4);
        bench_l3_batches(&mut g, &format!("ipv6_{name}_batch64"), &tables, &f6);
    }
    g.finish();
}

/// RFC 1624 incremental update (TTL decrement) vs a full RFC 1071
/// recompute of a 20-byte IPv4 header, 64 headers per iteration.
fn bench_checksum(c: &mut Criterion) {
    use xskfwd_core::wire::checksum;
    let headers: Vec<[u8; 20]> = (0..64u16)
        .map(|i| {
            let mut h = [0u8; 20];
            h[0] = 0x45;
            h[2..4].copy_from_slice(&(46 + i).to_be_bytes());
            h[4..6].copy_from_slice(&i.wrapping_mul(7919).to_be_bytes());
            h[8] = 64;
            h[9] = 17;
            h[12..16].copy_from_slice(&[198, 18, 0, 1]);
            h[16..20].copy_from_slice(&[198, 18, 1, i as u8]);
            let c = checksum::checksum(&h);
            h[10..12].copy_from_slice(&c.to_be_bytes());
            h
        })
        .collect();
    let mut g = c.benchmark_group("checksum");
    g.throughput(Throughput::Elements(64));
    g.bench_function("rfc1624_ttl_update_x64", |b| {
        b.iter(|| {
            for h in &headers {
                let old = u16::from_be_bytes([h[8], h[9]]);
                let hc = u16::from_be_bytes([h[10], h[11]]);
                black_box(checksum::update(black_box(hc), old, old - 0x0100));
            }
        })
    });
    g.bench_function("rfc1071_full_20B_x64", |b| {
        b.iter(|| {
            for h in &headers {
                let mut x = *h;
                x[8] -= 1;
                x[10] = 0;
                x[11] = 0;
                black_box(checksum::checksum(black_box(&x)));
            }
        })
    });
    g.finish();
}

criterion_group!(
    benches,
    bench_process,
    bench_worker,
    bench_trace,
    bench_l3,
    bench_checksum
);
criterion_main!(benches);
