//! The operator's surface of a running instance: what it publishes
//! ([`Live`]), Prometheus metrics over HTTP ([`metrics`]), the control
//! socket ([`server`]) and its client commands ([`client`]: `xskfwd
//! status`, `routes NAME`, `trace`), and the pcapng files traces are
//! written to ([`pcapng`]).
//!
//! The workers know nothing of this: the stats loop (main thread) samples
//! the counters the workers already publish, the kernel's socket and XDP
//! statistics, a few times a second into [`Live`]; the control thread
//! adds its counters after every poll. Metrics and `status` read the
//! latest sample, so a scrape or a client never reaches a worker. The one
//! exception is a trace, which workers serve through the core's lock-free
//! [`Tracer`] while a client has it armed.
//!
//! [`Live`] outlives a datapath: when a lost port comes back and the
//! datapath is built again, the new one publishes into the same [`Live`]
//! (its counters start from zero again: `xskfwd_datapath_builds_total`
//! says so).

pub mod client;
pub mod metrics;
pub mod pcapng;
mod prom;
pub mod server;

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use xskfwd_core::counters::{PortCounters, WorkerGauges};
use xskfwd_core::links::LinkState;
use xskfwd_core::tables::TablesReader;
use xskfwd_core::trace::Tracer;

use crate::control::ControlStats;
use crate::stats::{XdpProgStats, XskStats};

/// The name of an instance not given `--name`: its ports joined by `-`,
/// after the name of the network namespace it runs in unless that is
/// the host's (`lab-dut.dut0-dut1`, `eth1-eth2`). Two instances cannot
/// share a port, so names only collide across namespaces with the same
/// name, which cannot exist at once.
pub fn default_name(netns: Option<&str>, ports: &[String]) -> String {
    let ports = ports.join("-");
    match netns {
        Some(ns) => format!("{ns}.{ports}"),
        None => ports,
    }
}

/// The name of the network namespace this thread is in, as `ip netns`
/// knows it; `None` for the host's (or an unnamed one: then
/// `netns-INODE`).
pub fn current_netns_name() -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    let mine = std::fs::metadata("/proc/thread-self/ns/net").ok()?.ino();
    if std::fs::metadata("/proc/1/ns/net").is_ok_and(|m| m.ino() == mine) {
        return None;
    }
    let named = std::fs::read_dir("/run/netns").ok().and_then(|d| {
        d.filter_map(Result::ok).find_map(|e| {
            let ino = std::fs::metadata(e.path()).ok()?.ino();
            (ino == mine).then(|| e.file_name().to_string_lossy().into_owned())
        })
    });
    Some(named.unwrap_or_else(|| format!("netns-{mine}")))
}

/// What does not change during one datapath's life.
#[derive(Clone, Debug, Default)]
pub struct Shape {
    /// `l2`, `hairpin` or `l3`.
    pub mode: &'static str,
    /// The ports' interface names, in port order.
    pub ports: Vec<String>,
    /// Their ifindexes.
    pub ifindexes: Vec<u32>,
    /// Queue id served by each worker.
    pub queues: Vec<u32>,
    /// CPU each worker is pinned to (`None`: not pinned).
    pub cpus: Vec<Option<usize>>,
    /// `zero-copy` or `copy`.
    pub bind: &'static str,
    /// XDP attach mode (`native`, `generic`, …).
    pub xdp_mode: String,
    /// UMEM frames and their size.
    pub umem_frames: u64,
    /// Bytes per UMEM frame.
    pub frame_size: u32,
    /// Frames each worker was given.
    pub worker_frames: Vec<u64>,
    /// The privileges forwarding runs with (as logged).
    pub privileges: String,
}

/// One sample of the running datapath's counters.
#[derive(Clone, Debug)]
pub struct Sample {
    /// When it was taken.
    pub at: Instant,
    /// Per worker, per port.
    pub counters: Vec<Vec<PortCounters>>,
    /// The kernel's socket statistics, per worker, per port.
    pub xsk: Vec<Vec<XskStats>>,
    /// The XDP programs' counters, per port.
    pub xdp: Vec<XdpProgStats>,
    /// Per worker.
    pub workers: Vec<WorkerGauges>,
    /// Each port's link state and largest frame.
    pub links: Vec<(LinkState, u32)>,
}

/// The published state of a running instance (see the module docs).
#[derive(Debug)]
pub struct Live {
    /// The instance name (`--name`).
    pub name: String,
    /// Wall-clock start of the process, and the same as an `Instant`.
    started: (SystemTime, Instant),
    /// Shared with every worker of every datapath.
    pub tracer: Arc<Tracer>,
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    shape: Option<Arc<Shape>>,
    /// Recent samples, oldest first (for rates over about a second).
    samples: VecDeque<Arc<Sample>>,
    control: Option<ControlStats>,
    tables: Option<TablesReader>,
    builds: u64,
    datapath_started: Option<SystemTime>,
}

/// Samples kept for rates: at one per [`SAMPLE_EVERY`], a bit over a
/// second.
const KEEP: usize = 6;
/// How often the stats loop samples.
pub const SAMPLE_EVERY: Duration = Duration::from_millis(250);

/// A consistent view of [`Live`] for one request.
#[derive(Clone, Debug)]
pub struct View {
    /// Instance name.
    pub name: String,
    /// Seconds since the process started.
    pub uptime: f64,
    /// Process start (Unix seconds).
    pub start_time: f64,
    /// Datapaths built (more than one after a port came back).
    pub builds: u64,
    /// Current datapath's start (Unix seconds).
    pub datapath_start: f64,
    /// The current datapath, if one runs.
    pub shape: Option<Arc<Shape>>,
    /// The newest sample.
    pub now: Option<Arc<Sample>>,
    /// The oldest kept sample (for rates).
    pub then: Option<Arc<Sample>>,
    /// The control plane's counters (L3).
    pub control: Option<ControlStats>,
    /// Whether a trace is armed.
    pub tracing: bool,
}

fn unix(t: SystemTime) -> f64 {
    t.duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs_f64()
}

impl Live {
    /// The published state of instance `name`.
    pub fn new(name: &str) -> Arc<Live> {
        Arc::new(Live {
            name: name.to_string(),
            started: (SystemTime::now(), Instant::now()),
            tracer: Arc::new(Tracer::new()),
            inner: Mutex::new(Inner::default()),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panicking reader cannot leave the data half-written: every
        // field is replaced whole. Keep serving.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A datapath starts forwarding with this shape (and these tables).
    pub fn begin(&self, shape: Shape, tables: Option<TablesReader>) {
        let mut i = self.lock();
        i.shape = Some(Arc::new(shape));
        i.samples.clear();
        i.tables = tables;
        i.control = None;
        i.builds += 1;
        i.datapath_started = Some(SystemTime::now());
    }

    /// The datapath stopped.
    pub fn end(&self) {
        let mut i = self.lock();
        i.shape = None;
        i.samples.clear();
        i.tables = None;
    }

    /// Publishes a sample (the stats loop).
    pub fn publish(&self, s: Sample) {
        let mut i = self.lock();
        // Let go of retired table snapshots as the workers do.
        if let Some(t) = i.tables.as_mut() {
            t.refresh();
        }
        if i.samples.len() == KEEP {
            i.samples.pop_front();
        }
        i.samples.push_back(Arc::new(s));
    }

    /// Publishes the control plane's counters.
    pub fn set_control(&self, c: ControlStats) {
        self.lock().control = Some(c);
    }

    /// The view for one request.
    pub fn view(&self) -> View {
        let i = self.lock();
        View {
            name: self.name.clone(),
            uptime: self.started.1.elapsed().as_secs_f64(),
            start_time: unix(self.started.0),
            builds: i.builds,
            datapath_start: i.datapath_started.map_or(0.0, unix),
            shape: i.shape.clone(),
            now: i.samples.back().cloned(),
            then: i.samples.front().cloned(),
            control: i.control,
            tracing: self.tracer.armed(),
        }
    }

    /// The running tables as text, if this is an L3 instance.
    pub fn tables_text(&self) -> Option<String> {
        let mut i = self.lock();
        let names = i.shape.as_ref()?.ports.clone();
        let reader = i.tables.as_mut()?;
        reader.refresh();
        Some(crate::control::format_tables(
            reader.fib(),
            reader.neigh(),
            &names,
        ))
    }
}

impl View {
    /// Seconds between the two samples rates are taken over (0 if fewer
    /// than two).
    pub fn rate_window(&self) -> f64 {
        match (&self.now, &self.then) {
            (Some(n), Some(t)) => n.at.duration_since(t.at).as_secs_f64(),
            _ => 0.0,
        }
    }

    /// Share of the rate window worker `w` spent in passes that found
    /// frames (0..=1; 0 without two samples).
    pub fn busy_ratio(&self, w: usize) -> f64 {
        let window = self.rate_window();
        let now = self.now.as_ref().and_then(|n| n.workers.get(w));
        let then = self.then.as_ref().and_then(|t| t.workers.get(w));
        match (now, then) {
            (Some(g), Some(b)) if window > 0.0 => {
                (g.busy_ns.saturating_sub(b.busy_ns) as f64 / 1e9 / window).min(1.0)
            }
            _ => 0.0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_names_say_where_and_what() {
        let ports = ["dut0".to_string(), "dut1".to_string()];
        assert_eq!(default_name(Some("lab-dut"), &ports), "lab-dut.dut0-dut1");
        assert_eq!(default_name(None, &ports[..1]), "dut0");
    }
}
