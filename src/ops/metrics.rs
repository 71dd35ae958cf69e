//! `--metrics ADDR:PORT`: Prometheus metrics of the running instance at
//! `http://ADDR:PORT/metrics`, rendered at scrape time from the latest
//! sample in [`Live`] (at most [`super::SAMPLE_EVERY`] old).
//!
//! Names follow Prometheus' conventions: `xskfwd_` prefix, base units
//! (bytes, seconds), counters end in `_total`, labels `port`, `queue`,
//! `reason`, `state`. Counters restart from zero when the datapath is
//! built again after a port came back (`xskfwd_datapath_builds_total`
//! counts those; `rate()` handles the reset).
//!
//! The HTTP server is `tiny_http` on one thread of its own; a scrape
//! takes the `Live` lock for the time of a copy, never a worker's time.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::Duration;

use anyhow::{anyhow, Context, Result};
use xskfwd_core::counters::PortCounters;
use xskfwd_core::verdict::DropReason;

use super::prom::{Exposition, Kind};
use super::{Live, View};
use crate::stats::XDP_COUNTERS;

/// The metrics of `v` in the Prometheus text format.
pub fn render(v: &View) -> String {
    let mut e = Exposition::default();
    let version = env!("CARGO_PKG_VERSION");
    let mode = v.shape.as_ref().map_or("", |s| s.mode);
    e.family(
        "xskfwd_build_info",
        Kind::Gauge,
        "Always 1: the version, instance name and forwarding mode as labels.",
    )
    .sample(
        "xskfwd_build_info",
        &[("version", version), ("name", &v.name), ("mode", mode)],
        1.0,
    );
    e.family(
        "xskfwd_start_time_seconds",
        Kind::Gauge,
        "When the process started (Unix time).",
    )
    .sample("xskfwd_start_time_seconds", &[], v.start_time.floor());
    e.family(
        "xskfwd_datapath_builds_total",
        Kind::Counter,
        "Datapaths built: 1, plus one per lost port that came back (the counters below restart then).",
    )
    .sample("xskfwd_datapath_builds_total", &[], v.builds as f64);
    e.family(
        "xskfwd_trace_armed",
        Kind::Gauge,
        "1 while a client's packet trace is armed (workers copy matching frames).",
    )
    .sample("xskfwd_trace_armed", &[], f64::from(u8::from(v.tracing)));
    if let Some(c) = &v.control {
        control(&mut e, c);
    }
    let (Some(shape), Some(now)) = (&v.shape, &v.now) else {
        return e.finish();
    };
    let ports = &shape.ports;
    e.family(
        "xskfwd_port_state",
        Kind::Gauge,
        "1 for the port's link state (up, down, gone), 0 for the others.",
    );
    for (p, (state, _)) in now.links.iter().enumerate() {
        for s in ["up", "down", "gone"] {
            let on = state.name() == s;
            e.sample(
                "xskfwd_port_state",
                &[("port", &ports[p]), ("state", s)],
                f64::from(u8::from(on)),
            );
        }
    }
    e.family(
        "xskfwd_port_max_frame_bytes",
        Kind::Gauge,
        "Largest frame the port sends (its MTU plus the Ethernet header).",
    );
    for (p, (_, max)) in now.links.iter().enumerate() {
        e.sample(
            "xskfwd_port_max_frame_bytes",
            &[("port", &ports[p])],
            f64::from(*max),
        );
    }
    // Per (queue, port).
    type PortField = (&'static str, &'static str, fn(&PortCounters) -> u64);
    let per_port: [PortField; 6] = [
        (
            "xskfwd_rx_packets_total",
            "Frames taken from the port's AF_XDP rx ring.",
            |c| c.rx_packets,
        ),
        ("xskfwd_rx_bytes_total", "Bytes of those frames.", |c| {
            c.rx_bytes
        }),
        (
            "xskfwd_tx_packets_total",
            "Frames sent on the port (completed by the kernel).",
            |c| c.tx_packets,
        ),
        ("xskfwd_tx_bytes_total", "Bytes of those frames.", |c| {
            c.tx_bytes
        }),
        (
            "xskfwd_tx_wakeups_total",
            "sendto() kicks of the port's tx ring.",
            |c| c.tx_kicks,
        ),
        (
            "xskfwd_fill_wakeups_total",
            "recvfrom() wakeups of the port's fill ring.",
            |c| c.fill_kicks,
        ),
    ];
    let c = &now.counters;
    for (name, help, get) in per_port {
        e.family(name, Kind::Counter, help);
        for (w, row) in c.iter().enumerate() {
            let q = shape.queues.get(w).map_or(String::new(), u32::to_string);
            for (port, pc) in ports.iter().zip(row) {
                e.sample(name, &[("port", port), ("queue", &q)], get(pc) as f64);
            }
        }
    }
    e.family(
        "xskfwd_dropped_packets_total",
        Kind::Counter,
        "Frames xskfwd dropped that arrived on the port, by reason.",
    );
    for (w, row) in c.iter().enumerate() {
        let q = shape.queues.get(w).map_or(String::new(), u32::to_string);
        for (p, pc) in row.iter().enumerate() {
            for r in DropReason::ALL {
                e.sample(
                    "xskfwd_dropped_packets_total",
                    &[("port", &ports[p]), ("queue", &q), ("reason", r.name())],
                    pc.drops[*r as usize] as f64,
                );
            }
        }
    }
    // The kernel's XDP_STATISTICS of each socket.
    type Field = (
        &'static str,
        &'static str,
        fn(&crate::stats::XskStats) -> u64,
    );
    let xsk_fields: [Field; 6] = [
        (
            "xskfwd_xsk_rx_dropped_total",
            "Frames the kernel dropped at the socket (XDP_STATISTICS rx_dropped).",
            |s| s.rx_dropped,
        ),
        (
            "xskfwd_xsk_rx_invalid_descs_total",
            "Invalid rx descriptors (XDP_STATISTICS).",
            |s| s.rx_invalid,
        ),
        (
            "xskfwd_xsk_rx_ring_full_total",
            "Frames dropped because the rx ring was full (XDP_STATISTICS).",
            |s| s.rx_ring_full,
        ),
        (
            "xskfwd_xsk_fill_ring_empty_total",
            "Times the fill ring was empty when the kernel needed a frame (XDP_STATISTICS).",
            |s| s.fill_ring_empty,
        ),
        (
            "xskfwd_xsk_tx_invalid_descs_total",
            "Invalid tx descriptors (XDP_STATISTICS).",
            |s| s.tx_invalid,
        ),
        (
            "xskfwd_xsk_tx_ring_empty_total",
            "Times the tx ring was empty when the kernel looked (XDP_STATISTICS).",
            |s| s.tx_ring_empty,
        ),
    ];
    for (name, help, get) in xsk_fields {
        e.family(name, Kind::Counter, help);
        for (w, row) in now.xsk.iter().enumerate() {
            let q = shape.queues.get(w).map_or(String::new(), u32::to_string);
            for (p, s) in row.iter().enumerate() {
                e.sample(name, &[("port", &ports[p]), ("queue", &q)], get(s) as f64);
            }
        }
    }
    e.family(
        "xskfwd_xdp_redirected_packets_total",
        Kind::Counter,
        "Frames the port's XDP program redirected into xskfwd's sockets.",
    );
    for (p, x) in now.xdp.iter().enumerate() {
        e.sample(
            "xskfwd_xdp_redirected_packets_total",
            &[("port", &ports[p])],
            x.redirect() as f64,
        );
    }
    e.family(
        "xskfwd_xdp_passed_packets_total",
        Kind::Counter,
        "Frames the port's XDP program passed to the kernel, by reason.",
    );
    for (p, x) in now.xdp.iter().enumerate() {
        for (i, name) in XDP_COUNTERS.iter().enumerate().skip(1) {
            let reason = name.strip_prefix("pass_").unwrap_or(name);
            e.sample(
                "xskfwd_xdp_passed_packets_total",
                &[("port", &ports[p]), ("reason", reason)],
                x.counts[i] as f64,
            );
        }
    }
    e.family(
        "xskfwd_umem_size_frames",
        Kind::Gauge,
        "Frames of the UMEM shared by every socket.",
    )
    .sample("xskfwd_umem_size_frames", &[], shape.umem_frames as f64);
    e.family(
        "xskfwd_umem_frame_size_bytes",
        Kind::Gauge,
        "Bytes per UMEM frame.",
    )
    .sample(
        "xskfwd_umem_frame_size_bytes",
        &[],
        f64::from(shape.frame_size),
    );
    e.family(
        "xskfwd_umem_frames",
        Kind::Gauge,
        "A worker's UMEM frames by where they are: free (its pool), kernel (fill and rx rings), in_flight (tx rings, not completed).",
    );
    for (w, g) in now.workers.iter().enumerate() {
        let q = shape.queues.get(w).map_or(String::new(), u32::to_string);
        for (state, n) in [
            ("free", g.free),
            ("kernel", g.in_fill),
            ("in_flight", g.in_flight),
        ] {
            e.sample(
                "xskfwd_umem_frames",
                &[("queue", &q), ("state", state)],
                n as f64,
            );
        }
    }
    e.family(
        "xskfwd_umem_frames_reclaimed_total",
        Kind::Counter,
        "Frames taken back from the rings of ports whose interface was deleted.",
    );
    for (w, g) in now.workers.iter().enumerate() {
        let q = shape.queues.get(w).map_or(String::new(), u32::to_string);
        e.sample(
            "xskfwd_umem_frames_reclaimed_total",
            &[("queue", &q)],
            g.reclaimed as f64,
        );
    }
    e.family(
        "xskfwd_worker_busy_seconds_total",
        Kind::Counter,
        "Time the queue's worker spent in passes that found frames.",
    );
    for (w, g) in now.workers.iter().enumerate() {
        let q = shape.queues.get(w).map_or(String::new(), u32::to_string);
        e.sample(
            "xskfwd_worker_busy_seconds_total",
            &[("queue", &q)],
            g.busy_ns as f64 / 1e9,
        );
    }
    e.family(
        "xskfwd_worker_busy_ratio",
        Kind::Gauge,
        "Share of the last second the queue's worker spent in passes that found frames (0..1).",
    );
    for w in 0..now.workers.len() {
        let q = shape.queues.get(w).map_or(String::new(), u32::to_string);
        e.sample(
            "xskfwd_worker_busy_ratio",
            &[("queue", &q)],
            v.busy_ratio(w),
        );
    }
    e.finish()
}

fn control(e: &mut Exposition, c: &crate::control::ControlStats) {
    e.family(
        "xskfwd_routes",
        Kind::Gauge,
        "Routes in the published L3 table, by address family.",
    )
    .sample("xskfwd_routes", &[("family", "ipv4")], c.routes_v4 as f64)
    .sample("xskfwd_routes", &[("family", "ipv6")], c.routes_v6 as f64);
    e.family(
        "xskfwd_neighbours",
        Kind::Gauge,
        "Neighbours (next-hop MACs) in the published L3 table.",
    )
    .sample("xskfwd_neighbours", &[], c.neighbours as f64);
    e.family(
        "xskfwd_route_table_bytes",
        Kind::Gauge,
        "Memory of the published routing table's lookup structures.",
    )
    .sample("xskfwd_route_table_bytes", &[], c.table_bytes as f64);
    e.family(
        "xskfwd_table_builds_total",
        Kind::Counter,
        "Table snapshots published to the workers (each is a generation).",
    )
    .sample(
        "xskfwd_table_builds_total",
        &[("table", "routes")],
        c.fib_builds as f64,
    )
    .sample(
        "xskfwd_table_builds_total",
        &[("table", "neighbours")],
        c.neigh_builds as f64,
    );
    e.family(
        "xskfwd_route_build_seconds",
        Kind::Gauge,
        "Time the last routing table build took.",
    )
    .sample(
        "xskfwd_route_build_seconds",
        &[],
        c.last_build.as_secs_f64(),
    );
    e.family(
        "xskfwd_netlink_events_total",
        Kind::Counter,
        "Kernel route, address and neighbour events applied.",
    )
    .sample("xskfwd_netlink_events_total", &[], c.events as f64);
    e.family(
        "xskfwd_netlink_resyncs_total",
        Kind::Counter,
        "Full re-reads of the kernel's tables (after an overrun or an error).",
    )
    .sample("xskfwd_netlink_resyncs_total", &[], c.resyncs as f64);
    e.family(
        "xskfwd_neighbour_use_notes_total",
        Kind::Counter,
        "NTF_USE notes telling the kernel a neighbour is in use (keeps it probed like the kernel's own forwarding).",
    )
    .sample("xskfwd_neighbour_use_notes_total", &[], c.neigh_uses as f64);
}

/// The metrics endpoint: bound at start-up, served by its own thread.
#[derive(Debug)]
pub struct MetricsServer {
    /// The address it listens on (the port resolved if 0 was asked).
    pub addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

/// The metrics listener, bound but not served yet (bound while set-up
/// holds its privileges; served by a thread started after they are
/// dropped, so it holds none).
#[derive(Debug)]
pub struct MetricsListener {
    listener: std::net::TcpListener,
    addr: SocketAddr,
}

impl MetricsListener {
    /// Listens on `addr` in the current network namespace.
    pub fn bind(addr: SocketAddr) -> Result<MetricsListener> {
        let listener = std::net::TcpListener::bind(addr).with_context(|| {
            format!(
                "--metrics {addr}: cannot listen there (address in use, or not an address of this network namespace?)"
            )
        })?;
        let addr = listener
            .local_addr()
            .context("the metrics listener's address")?;
        Ok(MetricsListener { listener, addr })
    }

    /// The address it listens on (the port resolved if 0 was asked).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Serves `/metrics` from `live` on threads of its own.
    pub fn serve(self, live: Arc<Live>) -> Result<MetricsServer> {
        let addr = self.addr;
        let server = tiny_http::Server::from_listener(self.listener, None)
            .map_err(|e| anyhow!("{e}"))
            .context("starting the metrics server")?;
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = Arc::clone(&stop);
        let thread = thread::Builder::new()
            .name("xskfwd-metrics".into())
            .spawn(move || serve(&server, &live, &stopped))
            .context("spawning the metrics thread")?;
        crate::info!(
            "start",
            "metrics: http://{addr}/metrics (Prometheus text format)"
        );
        Ok(MetricsServer {
            addr,
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for MetricsServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn serve(server: &tiny_http::Server, live: &Live, stop: &AtomicBool) {
    while !stop.load(Ordering::Relaxed) {
        let req = match server.recv_timeout(Duration::from_millis(200)) {
            Ok(Some(r)) => r,
            Ok(None) => continue,
            Err(e) => {
                crate::warn!("metrics", "metrics: {e}");
                thread::sleep(Duration::from_millis(200));
                continue;
            }
        };
        let path = req.url().split('?').next().unwrap_or("");
        let header = |v: &str| {
            tiny_http::Header::from_bytes(&b"Content-Type"[..], v.as_bytes())
                .expect("a static header is valid")
        };
        let resp = match (req.method(), path) {
            (tiny_http::Method::Get | tiny_http::Method::Head, "/metrics") => {
                tiny_http::Response::from_string(render(&live.view()))
                    .with_header(header("text/plain; version=0.0.4; charset=utf-8"))
            }
            (tiny_http::Method::Get, "/") => {
                tiny_http::Response::from_string("xskfwd: metrics at /metrics\n")
                    .with_header(header("text/plain; charset=utf-8"))
            }
            _ => {
                tiny_http::Response::from_string("not found: try /metrics\n").with_status_code(404)
            }
        };
        let _ = req.respond(resp);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::{Sample, Shape};
    use std::time::Instant;
    use xskfwd_core::counters::{PortCounters, WorkerGauges};
    use xskfwd_core::links::LinkState;

    fn view() -> View {
        let live = Live::new("lab");
        live.begin(
            Shape {
                mode: "l2",
                ports: vec!["dut0".into(), "dut1".into()],
                ifindexes: vec![3, 4],
                queues: vec![0],
                cpus: vec![Some(1)],
                bind: "copy",
                xdp_mode: "native".into(),
                umem_frames: 8192,
                frame_size: 4096,
                worker_frames: vec![8192],
                privileges: "none".into(),
            },
            None,
        );
        let mut c = PortCounters {
            rx_packets: 10,
            rx_bytes: 1000,
            ..PortCounters::default()
        };
        c.drop(DropReason::TooBig);
        let t0 = Instant::now();
        for (i, busy) in [(0u64, 0u64), (1, 500_000_000)] {
            live.publish(Sample {
                at: t0 + Duration::from_secs(i),
                counters: vec![vec![c, PortCounters::default()]],
                xsk: vec![vec![Default::default(); 2]],
                xdp: vec![Default::default(); 2],
                workers: vec![WorkerGauges {
                    free: 100,
                    busy_ns: busy,
                    ..Default::default()
                }],
                links: vec![(LinkState::Up, 1514), (LinkState::Down, 1514)],
            });
        }
        live.view()
    }

    #[test]
    fn renders_every_family_with_labels() {
        let text = render(&view());
        for want in [
            "xskfwd_build_info{version=\"",
            "xskfwd_rx_packets_total{port=\"dut0\",queue=\"0\"} 10",
            "xskfwd_rx_bytes_total{port=\"dut0\",queue=\"0\"} 1000",
            "xskfwd_dropped_packets_total{port=\"dut0\",queue=\"0\",reason=\"too_big\"} 1",
            "xskfwd_port_state{port=\"dut1\",state=\"down\"} 1",
            "xskfwd_port_state{port=\"dut1\",state=\"up\"} 0",
            "xskfwd_umem_frames{queue=\"0\",state=\"free\"} 100",
            "xskfwd_worker_busy_ratio{queue=\"0\"} 0.5",
            "xskfwd_xdp_passed_packets_total{port=\"dut0\",reason=\"no_socket\"} 0",
            "# TYPE xskfwd_tx_packets_total counter",
        ] {
            assert!(text.contains(want), "missing {want}\n{text}");
        }
        // One HELP and one TYPE per family, never twice.
        let mut types: Vec<&str> = text.lines().filter(|l| l.starts_with("# TYPE")).collect();
        let n = types.len();
        types.sort_unstable();
        types.dedup();
        assert_eq!(types.len(), n);
    }
}
