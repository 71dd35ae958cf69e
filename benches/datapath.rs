//! Criterion benches of the pure datapath: the per-packet L2 decision and
//! the whole worker loop over in-memory rings (no kernel involved).

use criterion::{black_box, criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use xskfwd::config::{Config, Idle, Mac, Mode};
use xskfwd::forward::{L2Forwarder, PortInfo};
use xskfwd::port::MemRings;
use xskfwd::worker::{Worker, WorkerParams};

fn config() -> Config {
    let nh = |i: u8| Some(Mac([2, 0, 0, 0, 1, i]));
    Config::with_ports(Mode::CrossConnect, &[("p0", nh(0)), ("p1", nh(1))])
}

fn forwarder() -> L2Forwarder {
    let info = [0u8, 1].map(|i| PortInfo {
        mac: Mac([2, 0, 0, 0, 0, i]),
        max_len: 1518,
    });
    L2Forwarder::new(&config(), &info)
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

fn bench_worker(c: &mut Criterion) {
    let mut g = c.benchmark_group("worker_mem");
    g.throughput(Throughput::Elements(64));
    g.bench_function("poll_once_64x64B", |b| {
        b.iter_batched_ref(
            || {
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
                w.prime();
                for _ in 0..64 {
                    w.rings().inject(0, &[0u8; 64]);
                }
                w.rings().deliver();
                w
            },
            |w| black_box(w.poll_once()),
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

criterion_group!(benches, bench_process, bench_worker);
criterion_main!(benches);
