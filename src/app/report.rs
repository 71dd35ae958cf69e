//! What a run reports: the interval lines (table or JSON) while
//! forwarding, and the closing summary with the frame accounting.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use serde_json::json;
use xskfwd_core::counters::PortCounters;
use xskfwd_core::links::{LinkState, Links};
use xskfwd_core::verdict::DropReason;
use xskfwd_core::worker::FrameAccount;

use super::ports::Port;
use super::Workers;
use crate::bpf::PortProgram;
use crate::config::{Config, StatsFormat};
use crate::control::ControlStats;
use crate::ops::{Live, Sample, SAMPLE_EVERY};
use crate::stats::{self, XdpProgStats, XskStats};
use crate::xsk;

/// What a run ends with (also a run that failed half-way: whatever was
/// built is accounted for).
#[derive(Debug, Clone, Default)]
pub struct Summary {
    /// Counters per (worker, port), summed over the run.
    pub per_port: Vec<PortCounters>,
    /// Frame accounting per worker, plus one entry for the UMEM frames no
    /// worker was given (the remainder of the division, or all of them if
    /// set-up stopped before the workers).
    pub frames: Vec<FrameAccount>,
    /// The XDP programs' counters per port, at the end.
    pub xdp: Vec<XdpProgStats>,
    /// The L3 control plane's counters.
    pub control: Option<ControlStats>,
    /// The kernel's socket statistics per (worker, port), at the end.
    pub xsk: Vec<XskStats>,
    /// UMEM frames created (0 if set-up stopped before the UMEM).
    pub umem_frames: u64,
    /// Each port's link state at the end (empty if set-up stopped before
    /// the ports were resolved).
    pub links: Vec<LinkState>,
}

impl Summary {
    /// Every frame of the UMEM is accounted for, exactly once.
    pub fn conserved(&self) -> bool {
        let total: u64 = self.frames.iter().map(|f| f.total).sum();
        total == self.umem_frames && self.frames.iter().all(FrameAccount::conserved)
    }
}

fn drops_json(c: &PortCounters) -> serde_json::Value {
    let mut m = serde_json::Map::new();
    for r in DropReason::ALL {
        m.insert(r.name().into(), json!(c.drops[*r as usize]));
    }
    serde_json::Value::Object(m)
}

/// A port's cumulative counters (interval rows and the summary).
fn port_json(ifname: &str, queue: u32, c: &PortCounters) -> serde_json::Value {
    json!({
        "ifname": ifname, "queue": queue,
        "rx_packets": c.rx_packets, "tx_packets": c.tx_packets,
        "rx_bytes": c.rx_bytes, "tx_bytes": c.tx_bytes,
        "tx_kicks": c.tx_kicks, "fill_kicks": c.fill_kicks, "drops": drops_json(c),
    })
}

fn xsk_json(s: &XskStats) -> serde_json::Value {
    json!({
        "rx_dropped": s.rx_dropped, "rx_invalid": s.rx_invalid, "rx_ring_full": s.rx_ring_full,
        "fill_ring_empty": s.fill_ring_empty, "tx_invalid": s.tx_invalid, "tx_ring_empty": s.tx_ring_empty,
    })
}

fn prog_json(s: &XdpProgStats) -> serde_json::Value {
    s.named()
        .map(|(k, v)| (k.to_string(), json!(v)))
        .collect::<serde_json::Map<_, _>>()
        .into()
}

/// The kernel's statistics of a port's socket `fd`, zero for a port that
/// is gone: its socket is closed, and the fd number may be another's now.
pub(super) fn port_socket_stats(fd: std::os::fd::RawFd, link: LinkState) -> XskStats {
    if link == LinkState::Gone {
        XskStats::default()
    } else {
        xsk::socket_stats(fd).unwrap_or_default()
    }
}

/// Prints interval lines until `stop` or a signal, the configured
/// duration, or a worker that ended on its own (an error).
pub(super) fn stats_loop(
    config: &Config,
    ports: &[Port],
    programs: &[PortProgram],
    running: &Workers,
    links: &Links,
    live: Option<&Live>,
    (stop, signal): (&AtomicBool, &AtomicBool),
) -> Result<()> {
    let start = Instant::now();
    let end = config
        .duration()
        .map(|d| start + Duration::from_secs_f64(d));
    let interval = Duration::from_secs_f64(config.stats_interval());
    let mut last: Vec<Vec<PortCounters>> = running.shared.iter().map(|s| s.snapshot()).collect();
    let mut last_prog: Vec<XdpProgStats> = programs.iter().map(PortProgram::counters).collect();
    let mut last_t = start;
    let mut next = start + interval;
    let mut header_due = 0u32;
    let out = std::io::stdout();
    let state = |p: usize| links.get(p).map_or(LinkState::Up, |l| l.state);
    let mut next_sample = start;
    loop {
        if stop.load(Ordering::Relaxed) || signal.load(Ordering::Relaxed) {
            break;
        }
        let now = Instant::now();
        if let Some(live) = live.filter(|_| now >= next_sample) {
            next_sample = now + SAMPLE_EVERY;
            live.publish(sample(ports.len(), programs, running, links));
        }
        if let Some(end) = end {
            if now >= end {
                break;
            }
        }
        if let Some(h) = running.threads.iter().position(|h| h.is_finished()) {
            bail!("worker {h} stopped unexpectedly");
        }
        if now < next {
            let nap = next - now;
            let nap = end.map_or(nap, |e| nap.min(e.saturating_duration_since(now)));
            let nap = if live.is_some() {
                nap.min(next_sample.saturating_duration_since(now))
            } else {
                nap
            };
            thread::sleep(nap.min(Duration::from_millis(50)));
            continue;
        }
        next += interval;
        let dt = now.duration_since(last_t).as_secs_f64();
        last_t = now;
        let t = now.duration_since(start).as_secs_f64();
        let snaps: Vec<Vec<PortCounters>> = running.shared.iter().map(|s| s.snapshot()).collect();
        let progs: Vec<XdpProgStats> = programs.iter().map(PortProgram::counters).collect();
        // One row per (worker, port): the interval's delta and the kernel's
        // socket statistics, gathered once for whichever format prints them.
        let rows: Vec<(usize, usize, &PortCounters, PortCounters, XskStats)> =
            if config.stats() == StatsFormat::None {
                Vec::new()
            } else {
                snaps
                    .iter()
                    .enumerate()
                    .flat_map(|(w, snap)| snap.iter().enumerate().map(move |(p, c)| (w, p, c)))
                    .map(|(w, p, c)| {
                        let x = port_socket_stats(running.sock_fds[w][p], state(p));
                        (w, p, c, c.delta(&last[w][p]), x)
                    })
                    .collect()
            };
        let mut lock = out.lock();
        match config.stats() {
            StatsFormat::None => {}
            StatsFormat::Table => {
                if header_due == 0 {
                    let _ = writeln!(
                        lock,
                        "{:>7} {:<10} {:>2} {:>9} {:>9} {:>8} {:>9} {:>8} | {:>7} {:>7} {:>7} {:>7} {:>7}",
                        "time", "port", "q", "rx pps", "tx pps", "drop/s", "xdp-rdr/s", "pass/s",
                        "rx_drop", "rx_full", "fq_empt", "tx_inv", "tx_empt"
                    );
                }
                header_due = (header_due + 1) % 20;
                for (w, p, _, d, x) in &rows {
                    let (w, p) = (*w, *p);
                    // The XDP program counts per port, not per queue: show it
                    // on the first queue's row.
                    let (rdr, pass) = if w == 0 {
                        let rate = |now: u64, then: u64| stats::human(stats::rate(now - then, dt));
                        (
                            rate(progs[p].redirect(), last_prog[p].redirect()),
                            rate(progs[p].passed(), last_prog[p].passed()),
                        )
                    } else {
                        (String::new(), String::new())
                    };
                    let name = match state(p) {
                        LinkState::Up => ports[p].ifname.clone(),
                        s => format!("{} {}", ports[p].ifname, s.name()),
                    };
                    let _ = writeln!(
                        lock,
                        "{:>6.1}s {:<10} {:>2} {:>9} {:>9} {:>8} {:>9} {:>8} | {:>7} {:>7} {:>7} {:>7} {:>7}",
                        t,
                        name,
                        config.queues()[w],
                        stats::human(stats::rate(d.rx_packets, dt)),
                        stats::human(stats::rate(d.tx_packets, dt)),
                        stats::human(stats::rate(d.dropped(), dt)),
                        rdr,
                        pass,
                        x.rx_dropped,
                        x.rx_ring_full,
                        x.fill_ring_empty,
                        x.tx_invalid,
                        x.tx_ring_empty
                    );
                }
            }
            StatsFormat::Json => {
                let rows: Vec<_> = rows
                    .iter()
                    .map(|(w, p, c, d, x)| {
                        let mut v = port_json(&ports[*p].ifname, config.queues()[*w], c);
                        v["link"] = json!(state(*p).name());
                        v["rx_pps"] = json!(stats::rate(d.rx_packets, dt));
                        v["tx_pps"] = json!(stats::rate(d.tx_packets, dt));
                        v["drop_pps"] = json!(stats::rate(d.dropped(), dt));
                        v["xsk"] = xsk_json(x);
                        v
                    })
                    .collect();
                let xdp: Vec<_> = ports
                    .iter()
                    .zip(&progs)
                    .map(|(p, s)| {
                        let mut v = prog_json(s);
                        v["ifname"] = json!(p.ifname);
                        v
                    })
                    .collect();
                let _ = writeln!(
                    lock,
                    "{}",
                    json!({"type": "interval", "t": t, "interval": dt, "ports": rows, "xdp": xdp})
                );
            }
        }
        let _ = lock.flush();
        last = snaps;
        last_prog = progs;
    }
    Ok(())
}

/// One sample of everything the operator's surface shows.
fn sample(nports: usize, programs: &[PortProgram], running: &Workers, links: &Links) -> Sample {
    let link = |p: usize| {
        links
            .get(p)
            .map_or((LinkState::Up, 0), |l| (l.state, l.max_len))
    };
    Sample {
        at: Instant::now(),
        counters: running.shared.iter().map(|s| s.snapshot()).collect(),
        xsk: running
            .sock_fds
            .iter()
            .map(|fds| {
                fds.iter()
                    .enumerate()
                    .map(|(p, &fd)| port_socket_stats(fd, link(p).0))
                    .collect()
            })
            .collect(),
        xdp: programs.iter().map(PortProgram::counters).collect(),
        workers: running.shared.iter().map(|s| s.worker()).collect(),
        links: (0..nports).map(link).collect(),
    }
}

/// Prints the closing summary.
pub(super) fn print_summary(config: &Config, ports: &[Port], s: &Summary) {
    let nports = ports.len();
    let mut rows = Vec::new();
    let mut total = PortCounters::default();
    for (i, c) in s.per_port.iter().enumerate() {
        total.add(c);
        let mut row = port_json(&ports[i % nports].ifname, config.queues()[i / nports], c);
        if let Some(x) = s.xsk.get(i) {
            row["xsk"] = xsk_json(x);
        }
        if let Some(l) = s.links.get(i % nports) {
            row["link"] = json!(l.name());
        }
        rows.push(row);
    }
    let mut f = FrameAccount::default();
    for a in &s.frames {
        f.add(a);
    }
    let conserved = s.conserved();
    match config.stats() {
        StatsFormat::Json => println!(
            "{}",
            json!({
                "type": "summary",
                "rx_packets": total.rx_packets, "tx_packets": total.tx_packets,
                "dropped": total.dropped(), "drops": drops_json(&total), "ports": rows,
                "xdp": s.xdp.iter().zip(ports).map(|(x, p)| {
                    let mut v = prog_json(x);
                    v["ifname"] = json!(p.ifname);
                    v
                }).collect::<Vec<_>>(),
                "control": s.control.map(|c| json!({
                    "events": c.events, "resyncs": c.resyncs, "fib_builds": c.fib_builds,
                    "neigh_builds": c.neigh_builds, "last_build_us": c.last_build.as_micros() as u64,
                    "huge_bytes": c.huge_bytes,
                    "huge_marked_bytes": c.huge_marked_bytes,
                    "neigh_uses": c.neigh_uses,
                })),
                "frames": {"total": f.total, "in_pool": f.in_pool, "in_kernel": f.in_fill,
                           "in_flight": f.in_flight, "duplicates": f.duplicates,
                           "reclaimed": f.reclaimed, "conserved": conserved},
                // Per queue (worker); a last entry without a queue holds
                // the frames no worker was given.
                "frames_per_queue": s.frames.iter().enumerate().map(|(i, a)| json!({
                    "queue": config.queues().get(i),
                    "total": a.total, "in_pool": a.in_pool, "in_kernel": a.in_fill,
                    "in_flight": a.in_flight, "duplicates": a.duplicates,
                    "conserved": a.conserved(),
                })).collect::<Vec<_>>(),
            })
        ),
        _ => {
            println!(
                "xskfwd: summary: rx {} tx {} dropped {} ({})",
                total.rx_packets,
                total.tx_packets,
                total.dropped(),
                DropReason::ALL
                    .iter()
                    .map(|r| format!("{} {}", r.name(), total.drops[*r as usize]))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            for (x, p) in s.xdp.iter().zip(ports) {
                let nonzero: Vec<String> = x
                    .named()
                    .filter(|(_, v)| *v > 0)
                    .map(|(k, v)| format!("{k} {v}"))
                    .collect();
                if !nonzero.is_empty() {
                    println!("xskfwd: xdp {}: {}", p.ifname, nonzero.join(", "));
                }
            }
            for (l, p) in s.links.iter().zip(ports) {
                if *l != LinkState::Up {
                    println!("xskfwd: port {}: {} at the end", p.ifname, l.name());
                }
            }
            println!(
                "xskfwd: frames: {} total = {} free{} + {} in kernel fill/rx rings + {} in flight; duplicates {}; conserved: {}",
                f.total,
                f.in_pool,
                if f.reclaimed > 0 {
                    format!(" ({} of them reclaimed from deleted ports' rings)", f.reclaimed)
                } else {
                    String::new()
                },
                f.in_fill,
                f.in_flight,
                f.duplicates,
                if conserved { "yes" } else { "NO" }
            );
        }
    }
    let _ = std::io::stdout().flush();
}
