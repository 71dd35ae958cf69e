//! `xskfwd run`: set-up order, workers, stats, signals and teardown.
//!
//! Set-up: resolve ports → load the XDP program per port (refusing foreign
//! programs) → create the UMEM → bind one socket per (port, queue) → stock
//! the fill rings → steer the queues to the sockets (XSKMAP) → attach the
//! programs (bpf_link) → start pinned workers. Because the program is
//! attached last, no frame ever meets a queue without its socket.
//!
//! Teardown (also on every error path, through drop order): steer the
//! queues back to the kernel → let the workers empty their rx rings → stop
//! flag → join → account for every frame → drop sockets → drop the UMEM →
//! drop the bpf_links last. Errors are logged, never panicked on.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde_json::json;

use crate::bpf::{self, PortProgram};
use crate::config::{Config, Mac, Mode, StatsFormat, XDP_PACKET_HEADROOM};
use crate::control::{Control, MapSteering, PortRef};
use crate::forward::{AnyForwarder, L2Forwarder, PortInfo};
use crate::l3::L3Forwarder;
use crate::netns;
use crate::route::L3Port;
use crate::stats::{self, DropReason, PortCounters, SharedCounters, XdpProgStats, XskStats};
use crate::worker::{FrameAccount, Worker, WorkerParams};
use crate::xsk::{self, SharedUmem, SocketOptions, XskRings, XskSocket};

/// A resolved port.
#[derive(Debug, Clone)]
struct Port {
    ifname: String,
    ifindex: u32,
    info: PortInfo,
}

/// What a run ends with.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    /// Counters per (worker, port), summed over the run.
    pub per_port: Vec<PortCounters>,
    /// Frame accounting per worker.
    pub frames: Vec<FrameAccount>,
    /// The XDP programs' counters per port, at the end.
    pub xdp: Vec<XdpProgStats>,
    /// The L3 control plane's counters.
    pub control: Option<crate::control::ControlStats>,
    /// The kernel's socket statistics per (worker, port), at the end.
    pub xsk: Vec<XskStats>,
}

/// The effective rp_filter of `ifname` (the larger of `all` and the
/// interface's own, as the kernel takes it); 0 if unreadable.
fn rp_filter(ifname: &str) -> u32 {
    let read = |name: &str| {
        std::fs::read_to_string(format!("/proc/sys/net/ipv4/conf/{name}/rp_filter"))
            .ok()
            .and_then(|s| s.trim().parse::<u32>().ok())
            .unwrap_or(0)
    };
    read("all").max(read(ifname)).min(2)
}

impl Summary {
    /// Every frame of every worker is accounted for.
    pub fn conserved(&self) -> bool {
        self.frames.iter().all(FrameAccount::conserved)
    }
}

/// Raises RLIMIT_MEMLOCK if allowed. On kernels with memcg accounting for
/// BPF and UMEM it is not needed, and without CAP_SYS_RESOURCE it fails with
/// EPERM: neither is fatal.
fn raise_memlock() {
    let r = libc::rlimit {
        rlim_cur: libc::RLIM_INFINITY,
        rlim_max: libc::RLIM_INFINITY,
    };
    // SAFETY: setrlimit reads a valid rlimit struct.
    let _ = unsafe { libc::setrlimit(libc::RLIMIT_MEMLOCK, &r) };
}

fn resolve(config: &Config) -> Result<Vec<Port>> {
    let max_len = config.rings.max_packet();
    config
        .ports
        .iter()
        .map(|p| {
            let ifindex = netns::ifindex(&p.ifname).with_context(|| {
                format!(
                    "interface {} not found in this network namespace (check `ip link`, or use --netns)",
                    p.ifname
                )
            })?;
            let mac = netns::mac_of(&p.ifname)?;
            let mtu = netns::mtu_of(&p.ifname)?;
            // Ethernet header + one VLAN tag on top of the MTU.
            let frame = mtu + 18;
            if frame > max_len {
                bail!(
                    "the MTU of {} is {mtu}, but a {}-byte UMEM frame holds at most {} bytes of packet \
                     ({} are XDP headroom): use --frame-size {} or lower the MTU",
                    p.ifname,
                    config.rings.frame_size,
                    max_len,
                    XDP_PACKET_HEADROOM,
                    (frame + XDP_PACKET_HEADROOM).next_power_of_two()
                );
            }
            Ok(Port {
                ifname: p.ifname.clone(),
                ifindex,
                info: PortInfo {
                    mac: Mac(mac),
                    max_len: frame,
                },
            })
        })
        .collect()
}

fn check_queues(config: &Config, ports: &[Port]) -> Result<()> {
    for p in ports {
        if let Ok(n) = netns::num_rx_queues(&p.ifname) {
            if let Some(q) = config.queues.iter().find(|q| **q >= n) {
                bail!(
                    "{} has {n} rx queue(s) (0..{}), so queue {q} does not exist (see `ethtool -l {}`)",
                    p.ifname,
                    n.saturating_sub(1),
                    p.ifname
                );
            }
        }
    }
    Ok(())
}

/// Everything that lives while forwarding; dropped in field order.
struct Running {
    workers: Vec<thread::JoinHandle<(Worker<XskRings, AnyForwarder>, FrameAccount)>>,
    shared: Vec<Arc<SharedCounters>>,
    sock_fds: Vec<Vec<i32>>,
}

/// `xskfwd routes`: prints the effective L3 tables.
pub fn routes(args: &crate::cli::RoutesArgs) -> Result<()> {
    if let Some(ns) = &args.netns {
        netns::enter_netns(ns).with_context(|| format!("entering network namespace {ns}"))?;
    }
    let l3 = args.source.to_l3()?;
    let names: Vec<String> = if args.ports.is_empty() {
        crate::netlink::dump()
            .context("listing interfaces")?
            .links
            .into_iter()
            .filter(|l| l.name != "lo")
            .map(|l| l.name)
            .collect()
    } else {
        args.ports.clone()
    };
    let mut refs = Vec::new();
    for name in names {
        let ifindex = netns::ifindex(&name).with_context(|| {
            format!("interface {name} not found in this network namespace (check `ip link`, or use --netns)")
        })?;
        refs.push(PortRef {
            ifname: name,
            ifindex,
        });
    }
    for r in &l3.routes {
        if !refs.iter().any(|p| p.ifname == r.dev) {
            bail!(
                "route {} leaves through {}, which is not one of the ports",
                r.prefix,
                r.dev
            );
        }
    }
    for n in &l3.neighs {
        if !refs.iter().any(|p| p.ifname == n.dev) {
            bail!(
                "neighbour {} is on {}, which is not one of the ports",
                n.ip,
                n.dev
            );
        }
    }
    let control = Control::start(
        refs,
        l3,
        65535,
        Box::<crate::control::NoSteering>::default(),
    )?;
    println!("{}", control.dump_text());
    Ok(())
}

/// Runs the forwarder until a signal or `config.duration`.
pub fn run(config: &Config, netns_name: Option<&str>) -> Result<Summary> {
    if let Some(ns) = netns_name {
        netns::enter_netns(ns).with_context(|| format!("entering network namespace {ns}"))?;
    }
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        bail!("xskfwd run needs root (CAP_NET_ADMIN, CAP_NET_RAW, CAP_BPF, CAP_IPC_LOCK): run it with sudo");
    }
    raise_memlock();
    let ports = resolve(config)?;
    check_queues(config, &ports)?;

    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, Arc::clone(&stop))
            .context("installing signal handlers")?;
    }

    // The programs live until the very end of this function (dropped last).
    // They are loaded now (which also refuses foreign programs early) and
    // attached only once every socket is bound and steered.
    let router = config.mode == Mode::Router;
    let mut programs = Vec::new();
    for p in &ports {
        let cfg = if router {
            let mut port_ifindex = [0u32; bpf::MAX_PROG_PORTS];
            for (slot, q) in port_ifindex.iter_mut().zip(&ports) {
                *slot = q.ifindex;
            }
            bpf::ProgConfig {
                mode: bpf::MODE_L3,
                port_mac: p.info.mac.0,
                port_ifindex,
                rp_filter: rp_filter(&p.ifname),
                fib_forward: config.l3.kernel,
            }
        } else {
            bpf::ProgConfig::default()
        };
        programs.push(PortProgram::load(&p.ifname, p.ifindex, &cfg)?);
    }

    // L3: mirror the kernel's tables (and the static ones), publish the
    // first snapshot and the steering entries before anything is attached.
    let mut control = None;
    if router {
        let maps = programs
            .iter()
            .map(PortProgram::steer_maps)
            .collect::<Result<Vec<_>, _>>()?;
        let refs = ports
            .iter()
            .map(|p| PortRef {
                ifname: p.ifname.clone(),
                ifindex: p.ifindex,
            })
            .collect();
        // The worker checks against each port's MTU as it was at start;
        // the program's limit must not let larger packets through if an
        // MTU grows later (bpf_fib_lookup checks the current one).
        let max_ip = ports
            .iter()
            .map(|p| p.info.max_len - 18)
            .min()
            .unwrap_or(0)
            .min(config.rings.max_packet() - 18);
        control = Some(Control::start(
            refs,
            config.l3.clone(),
            max_ip,
            Box::new(MapSteering::new(maps)),
        )?);
    }

    let total = config.total_frames();
    let (umem, mut frames) = SharedUmem::new(
        total,
        config.rings.frame_size,
        config.rings.fill_size,
        config.rings.comp_size,
    )?;
    let opts = SocketOptions {
        rx_size: config.rings.rx_size,
        tx_size: config.rings.tx_size,
        bind: config.bind_mode,
        need_wakeup: config.need_wakeup,
    };
    let infos: Vec<PortInfo> = ports.iter().map(|p| p.info).collect();
    let fwd = match &control {
        Some(c) => {
            let l3ports: Vec<L3Port> = ports
                .iter()
                .map(|p| L3Port {
                    mac: p.info.mac.0,
                    // Largest IP packet: the frame minus Ethernet + VLAN.
                    mtu: p.info.max_len - 18,
                })
                .collect();
            AnyForwarder::L3(L3Forwarder::new(&l3ports, c.tables()))
        }
        None => AnyForwarder::L2(L2Forwarder::new(config, &infos)),
    };
    let per_worker = total as usize / config.workers();
    let mut workers = Vec::new();
    let mut sock_fds = Vec::new();
    let mut zero_copy = false;
    let mut tx_budget = u32::MAX;
    for &q in &config.queues {
        let mut socks = Vec::new();
        for p in &ports {
            let s = XskSocket::bind(&umem, &p.ifname, q, opts, config.rings.fill_size)?;
            zero_copy |= s.zero_copy();
            tx_budget = tx_budget.min(s.tx_budget());
            socks.push(s);
        }
        sock_fds.push(socks.iter().map(XskSocket::fd).collect::<Vec<_>>());
        let mine = frames.split_off(frames.len() - per_worker);
        let mut pool = Vec::with_capacity(per_worker);
        pool.extend(mine);
        let rings = XskRings::new(umem.clone(), socks, config.need_wakeup);
        let mut w = Worker::new(
            rings,
            fwd.clone(),
            WorkerParams {
                batch: config.rings.batch as usize,
                idle: config.idle,
            },
            pool,
        );
        w.prime();
        workers.push(w);
    }
    drop(frames); // leftover frames (total not divisible by workers) stay unused

    // Steer the queues to the sockets (the fill rings are stocked), then
    // attach: from the first frame the program sees, every queue has a
    // socket, and "attached" means "forwarding".
    for (qi, &q) in config.queues.iter().enumerate() {
        for (pi, prog) in programs.iter().enumerate() {
            prog.register(q, sock_fds[qi][pi])?;
        }
    }
    let mut attached = Vec::new();
    for prog in &mut programs {
        attached.push(prog.attach(config.xdp_mode)?);
    }

    eprintln!(
        "xskfwd: forwarding {} on queue(s) {:?} — {} worker(s), {} frames of {} B, xdp {} mode, {} bind, batch {}{}",
        ports.iter().map(|p| p.ifname.as_str()).collect::<Vec<_>>().join(" <-> "),
        config.queues,
        config.workers(),
        total,
        config.rings.frame_size,
        attached.first().map_or("-", |a| a.name()),
        if zero_copy { "zero-copy" } else { "copy" },
        config.rings.batch,
        if zero_copy {
            String::new()
        } else {
            format!(", up to {tx_budget} frames per tx kick")
        },
    );

    let mut running = Running {
        workers: Vec::new(),
        shared: Vec::new(),
        sock_fds,
    };
    let frame_size = config.rings.frame_size;
    for (i, mut w) in workers.into_iter().enumerate() {
        let shared = Arc::new(SharedCounters::new(ports.len()));
        running.shared.push(Arc::clone(&shared));
        let stop = Arc::clone(&stop);
        let cpu = (!config.cpus.is_empty()).then(|| config.cpus[i % config.cpus.len()]);
        let h = thread::Builder::new()
            .name(format!("xskfwd-q{}", config.queues[i]))
            .spawn(move || {
                if let Some(cpu) = cpu {
                    if !core_affinity::set_for_current(core_affinity::CoreId { id: cpu }) {
                        eprintln!(
                            "xskfwd: could not pin worker {i} to CPU {cpu}; running unpinned"
                        );
                    }
                }
                w.run(&stop, &shared);
                let acc = w.drain(|f| f.index(frame_size));
                (w, acc)
            })
            .context("spawning a worker thread")?;
        running.workers.push(h);
    }

    let control_thread = match control {
        Some(mut c) => {
            let stop = Arc::clone(&stop);
            Some(
                thread::Builder::new()
                    .name("xskfwd-routes".into())
                    .spawn(move || {
                        c.run(&stop);
                        c.stats()
                    })
                    .context("spawning the route mirror thread")?,
            )
        }
        None => None,
    };

    let result = stats_loop(config, &ports, &programs, &running, &stop);

    // Teardown: steer back to the kernel, let workers empty their rx rings.
    for &q in &config.queues {
        for prog in &programs {
            prog.unregister(q);
        }
    }
    thread::sleep(Duration::from_millis(20));
    stop.store(true, Ordering::Relaxed);
    let mut summary = Summary::default();
    let mut finished = Vec::new();
    for h in running.workers.drain(..) {
        match h.join() {
            Ok((w, acc)) => {
                summary.per_port.extend_from_slice(w.counters());
                summary.frames.push(acc);
                finished.push(w);
            }
            Err(_) => eprintln!("xskfwd: a worker thread panicked"),
        }
    }
    if let Some(h) = control_thread {
        match h.join() {
            Ok(cs) => summary.control = Some(cs),
            Err(_) => eprintln!("xskfwd: the route mirror thread panicked"),
        }
    }
    summary.xsk = running
        .sock_fds
        .iter()
        .flatten()
        .map(|&fd| xsk::socket_stats(fd).unwrap_or_default())
        .collect();
    drop(finished); // sockets
    drop(umem); // UMEM (freed when the last socket's clone is gone)
    summary.xdp = programs.iter().map(PortProgram::counters).collect();
    drop(programs); // bpf_links last
    result?;
    print_summary(config, &ports, &summary);
    Ok(summary)
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

fn stats_loop(
    config: &Config,
    ports: &[Port],
    programs: &[PortProgram],
    running: &Running,
    stop: &AtomicBool,
) -> Result<()> {
    let start = Instant::now();
    let end = config.duration.map(|d| start + Duration::from_secs_f64(d));
    let interval = Duration::from_secs_f64(config.stats_interval);
    let mut last: Vec<Vec<PortCounters>> = running.shared.iter().map(|s| s.snapshot()).collect();
    let mut last_prog: Vec<XdpProgStats> = programs.iter().map(PortProgram::counters).collect();
    let mut last_t = start;
    let mut next = start + interval;
    let mut header_due = 0u32;
    let out = std::io::stdout();
    loop {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        let now = Instant::now();
        if let Some(end) = end {
            if now >= end {
                break;
            }
        }
        if let Some(h) = running.workers.iter().position(|h| h.is_finished()) {
            bail!("worker {h} stopped unexpectedly");
        }
        if now < next {
            let nap = next - now;
            let nap = end.map_or(nap, |e| nap.min(e.saturating_duration_since(now)));
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
            if config.stats == StatsFormat::None {
                Vec::new()
            } else {
                snaps
                    .iter()
                    .enumerate()
                    .flat_map(|(w, snap)| snap.iter().enumerate().map(move |(p, c)| (w, p, c)))
                    .map(|(w, p, c)| {
                        let x = xsk::socket_stats(running.sock_fds[w][p]).unwrap_or_default();
                        (w, p, c, c.delta(&last[w][p]), x)
                    })
                    .collect()
            };
        let mut lock = out.lock();
        match config.stats {
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
                    let _ = writeln!(
                        lock,
                        "{:>6.1}s {:<10} {:>2} {:>9} {:>9} {:>8} {:>9} {:>8} | {:>7} {:>7} {:>7} {:>7} {:>7}",
                        t,
                        ports[p].ifname,
                        config.queues[w],
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
                        let mut v = port_json(&ports[*p].ifname, config.queues[*w], c);
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

fn print_summary(config: &Config, ports: &[Port], s: &Summary) {
    let nports = ports.len();
    let mut rows = Vec::new();
    let mut total = PortCounters::default();
    for (i, c) in s.per_port.iter().enumerate() {
        total.add(c);
        let mut row = port_json(&ports[i % nports].ifname, config.queues[i / nports], c);
        if let Some(x) = s.xsk.get(i) {
            row["xsk"] = xsk_json(x);
        }
        rows.push(row);
    }
    let mut f = FrameAccount::default();
    for a in &s.frames {
        f.add(a);
    }
    let conserved = s.conserved();
    match config.stats {
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
                })),
                "frames": {"total": f.total, "in_pool": f.in_pool, "in_kernel": f.in_fill,
                           "in_flight": f.in_flight, "duplicates": f.duplicates, "conserved": conserved},
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
            println!(
                "xskfwd: frames: {} total = {} free + {} in kernel fill/rx rings + {} in flight; duplicates {}; conserved: {}",
                f.total,
                f.in_pool,
                f.in_fill,
                f.in_flight,
                f.duplicates,
                if conserved { "yes" } else { "NO" }
            );
        }
    }
    let _ = std::io::stdout().flush();
}
