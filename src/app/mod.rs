//! `xskfwd run` (and `xskfwd routes`): the run as a sequence of stages,
//! and the one teardown that undoes whatever the stages built.
//!
//! Stages, in order ([`Stage`]): checks (capabilities, namespace, CPUs)
//! → resolve the ports (after subscribing to their link events) → load
//! one XDP program per port (refusing foreign programs) → L3: start the
//! control plane (kernel mirror, first snapshots, steering entries) →
//! create the UMEM → bind one socket per (port, queue) and stock its fill
//! ring → steer the queues to the sockets (XSKMAP) → attach the programs
//! (bpf_link) → drop the capabilities forwarding does not need (and
//! switch to `--user`) → start the pinned workers, the link thread and
//! the control thread → forward until a signal, `--duration`, or a port's
//! loss or return ([`Ending`]). Because the programs are attached after
//! every queue has its socket, "attached" means "forwarding" from the
//! first frame. [`run`] builds the datapath again when a lost port comes
//! back (`--on-port-loss wait`).
//!
//! Teardown (`Datapath`'s `Drop`, so also after a failure in any stage
//! and on a panic): steer the queues back to the kernel → let the workers
//! empty their rx rings → stop flag → join the workers and the control
//! thread → account for every frame → drop the sockets → drop the UMEM →
//! drop the bpf_links last. Errors are logged, never panicked on; the
//! [`Summary`] of a failed run still accounts for every UMEM frame.
//!
//! Must never: leave an XDP program attached or a thread running when it
//! returns, or lose track of a frame.

mod lifecycle;
mod ports;
mod report;

use std::os::fd::RawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, OnceLock};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use anyhow::{Context, Result};
use xskfwd_core::counters::SharedCounters;
use xskfwd_core::l2::{L2Forwarder, L2Mode};
use xskfwd_core::l3::L3Forwarder;
use xskfwd_core::links::{LinkState, Links};
use xskfwd_core::rings::Meta;
use xskfwd_core::tables::TablesReader;
use xskfwd_core::verdict::{Forwarder, Verdict};
use xskfwd_core::worker::{FrameAccount, Worker, WorkerParams};

use crate::bpf::{self, PortProgram};
use crate::config::{BindMode, Config, ControlSocketSpec, Mode, OnPortLoss, MAX_L3_PORTS};
use crate::control::{Control, ControlStats, MapSteering, PortRef};
use crate::netlink::Monitor;
use crate::netns;
use crate::ops::metrics::{MetricsListener, MetricsServer};
use crate::ops::server::{ControlListener, ControlSocket};
use crate::ops::{Live, Shape};
use crate::privileges::{self, Cap, User};
use crate::xsk::{SharedUmem, SocketOptions, XskFrame, XskRings, XskSocket};
use xskfwd_core::limits::STEER_ENTRIES;

pub use lifecycle::Ending;
pub use ports::{Port, L2_OVERHEAD};
pub use report::Summary;

/// The stages of a run, in order: [`run_staged`] reports each one it
/// completed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Stage {
    /// In the namespace, privileges checked.
    Checked,
    /// Every port found; MTUs and queues checked.
    Ports,
    /// One XDP program loaded per port (not attached).
    Programs,
    /// L3: the control plane mirrors the kernel and has published its
    /// first tables (L2: nothing to do).
    Control,
    /// The UMEM exists; its frames are the run's.
    Umem,
    /// Every (port, queue) socket is bound and its fill ring stocked.
    Sockets,
    /// Every queue is steered to its socket.
    Steered,
    /// Every program is attached.
    Attached,
    /// Capabilities dropped to what forwarding needs.
    Unprivileged,
    /// The workers (and the link and control threads) run.
    Workers,
}

impl Stage {
    /// Every stage, in order.
    pub const ALL: [Stage; 10] = [
        Stage::Checked,
        Stage::Ports,
        Stage::Programs,
        Stage::Control,
        Stage::Umem,
        Stage::Sockets,
        Stage::Steered,
        Stage::Attached,
        Stage::Unprivileged,
        Stage::Workers,
    ];
}

/// Runs the forwarder until a signal or `config.duration()`, then prints
/// and returns the summary. With `--on-port-loss wait`, a port that
/// disappears and comes back makes it build the datapath again (each
/// datapath prints its own summary; the last one is returned).
///
/// The operator's endpoints (control socket, metrics) live for the
/// whole run, across datapaths: bound before the first set-up (in the run's namespace,
/// with set-up's privileges), served only once the first datapath has
/// dropped them, so their threads hold none.
pub fn run(config: &Config, netns_name: Option<&str>) -> Result<Summary> {
    privileges::require("xskfwd run", &privileges::setup_caps(netns_name.is_some()))?;
    if let Some(ns) = netns_name {
        netns::enter_netns(ns).with_context(|| format!("entering network namespace {ns}"))?;
    }
    let name = config.name().map(str::to_string).unwrap_or_else(|| {
        let ports: Vec<String> = config
            .ports()
            .iter()
            .map(|p| p.ifname().to_string())
            .collect();
        crate::ops::default_name(crate::ops::current_netns_name().as_deref(), &ports)
    });
    let live = Live::new(&name);
    let mut control = match config.control_socket() {
        ControlSocketSpec::Off => None,
        ControlSocketSpec::Path(path) => Some(ControlListener::bind(path)?),
        ControlSocketSpec::Default => {
            let path = crate::ops::client::socket_path(&name);
            match ControlListener::bind(&path) {
                Ok(c) => Some(c),
                Err(e) => {
                    crate::warn!(
                        "start",
                        "{e:#}: running without a control socket (`xskfwd status {name}` will not find this instance; --control-socket PATH puts it elsewhere)"
                    );
                    None
                }
            }
        }
    };
    let mut metrics = config.metrics().map(MetricsListener::bind).transpose()?;
    let mut serving: (Option<ControlSocket>, Option<MetricsServer>) = (None, None);
    loop {
        let (summary, result) = run_staged_with(config, None, Some(Arc::clone(&live)), |stage| {
            if stage == Stage::Unprivileged {
                if let Some(c) = control.take() {
                    serving.0 = Some(c.serve(Arc::clone(&live))?);
                }
                if let Some(m) = metrics.take() {
                    serving.1 = Some(m.serve(Arc::clone(&live))?);
                }
            }
            Ok(())
        });
        match result? {
            Ending::Stopped => return Ok(summary),
            Ending::PortLost(name) => {
                anyhow::bail!("port {name} disappeared (--on-port-loss exit)")
            }
            Ending::PortBack(_) => {
                // Set-up needs its capabilities again (kept permitted
                // for this).
                let missing = privileges::raise(&privileges::setup_caps(false))
                    .context("raising capabilities to rebind")?;
                if !missing.is_empty() {
                    anyhow::bail!("cannot rebind the port: capabilities were dropped");
                }
            }
        }
    }
}

/// [`run`] of one datapath, calling `after` when each [`Stage`] is
/// complete: an error from it fails the run there. Returns the summary of
/// whatever ran (every frame accounted for, also when the run failed) and
/// how forwarding ended.
pub fn run_staged(
    config: &Config,
    netns_name: Option<&str>,
    after: impl FnMut(Stage) -> Result<()>,
) -> (Summary, Result<Ending>) {
    run_staged_with(config, netns_name, None, after)
}

/// [`run_staged`], publishing into `live` (the operator's surface) if
/// given.
pub fn run_staged_with(
    config: &Config,
    netns_name: Option<&str>,
    live: Option<Arc<Live>>,
    mut after: impl FnMut(Stage) -> Result<()>,
) -> (Summary, Result<Ending>) {
    let mut dp = Datapath::new(config);
    dp.live = live;
    let mut stages = || -> Result<()> {
        dp.check(netns_name)?;
        after(Stage::Checked)?;
        dp.resolve_ports()?;
        after(Stage::Ports)?;
        dp.load_programs()?;
        after(Stage::Programs)?;
        dp.start_control()?;
        after(Stage::Control)?;
        dp.create_umem()?;
        after(Stage::Umem)?;
        dp.bind_sockets()?;
        after(Stage::Sockets)?;
        dp.steer()?;
        after(Stage::Steered)?;
        dp.attach()?;
        after(Stage::Attached)?;
        dp.drop_privileges()?;
        after(Stage::Unprivileged)?;
        dp.start_workers()?;
        after(Stage::Workers)?;
        dp.forward()
    };
    let result = stages();
    let (summary, ending) = dp.finish(result.is_ok());
    (summary, result.map(|()| ending))
}

/// Set by SIGINT and SIGTERM for the life of the process (handlers are
/// installed once, whatever the number of datapaths).
fn signalled() -> Result<Arc<AtomicBool>> {
    static FLAG: OnceLock<Arc<AtomicBool>> = OnceLock::new();
    if let Some(f) = FLAG.get() {
        return Ok(Arc::clone(f));
    }
    let flag = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, Arc::clone(&flag))
            .context("installing signal handlers")?;
    }
    Ok(Arc::clone(FLAG.get_or_init(|| flag)))
}

/// The forwarder a worker drives: chosen at start-up, dispatched once per
/// batch.
#[derive(Debug, Clone)]
#[expect(
    clippy::large_enum_variant,
    reason = "one per worker, built once and never moved in the loop"
)]
pub enum Forwarding {
    /// L2 cross-connect or hairpin.
    L2(L2Forwarder),
    /// L3 router.
    L3(L3Forwarder),
}

impl Forwarder for Forwarding {
    #[inline]
    fn decide_batch(
        &mut self,
        ingress: usize,
        frames: &mut [&mut [u8]],
        meta: &[Meta],
        out: &mut [Verdict],
    ) {
        match self {
            Forwarding::L2(f) => f.decide_batch(ingress, frames, meta, out),
            Forwarding::L3(f) => f.decide_batch(ingress, frames, meta, out),
        }
    }

    fn decide_chained(
        &mut self,
        ingress: usize,
        head: &mut [u8],
        tail: u32,
        meta: &Meta,
    ) -> Verdict {
        match self {
            Forwarding::L2(f) => f.decide_chained(ingress, head, tail, meta),
            Forwarding::L3(f) => f.decide_chained(ingress, head, tail, meta),
        }
    }

    #[inline]
    fn uses_meta(&self) -> bool {
        matches!(self, Forwarding::L3(_))
    }

    fn set_port_max_len(&mut self, port: usize, max_len: u32) {
        match self {
            Forwarding::L2(f) => f.set_port_max_len(port, max_len),
            Forwarding::L3(f) => f.set_port_max_len(port, max_len),
        }
    }
}

type XskWorker = Worker<XskRings, Forwarding>;

/// The running workers, as the stats loop sees them.
#[derive(Debug, Default)]
struct Workers {
    threads: Vec<JoinHandle<Option<(XskWorker, FrameAccount)>>>,
    shared: Vec<Arc<SharedCounters>>,
    /// Socket fds per worker, per port (for `XDP_STATISTICS`).
    sock_fds: Vec<Vec<RawFd>>,
    /// UMEM frames each worker was given.
    frames: Vec<u64>,
    /// Every socket is bound in zero-copy mode.
    zero_copy: bool,
}

/// Everything a run builds, in teardown order (see the module docs).
/// Each stage method fills its part; [`Datapath::finish`] (or `Drop`)
/// tears down what exists.
struct Datapath<'c> {
    config: &'c Config,
    /// Stops this datapath's threads.
    stop: Arc<AtomicBool>,
    /// A signal arrived (process-wide).
    signal: Arc<AtomicBool>,
    /// The user to switch to after set-up (looked up while checking).
    user: Option<User>,
    /// Subscribed to link events before the ports were resolved.
    monitor: Option<Monitor>,
    /// The ports' link state, shared with the workers.
    links: Option<Arc<Links>>,
    link_thread: Option<JoinHandle<Ending>>,
    ports: Vec<Port>,
    workers: Workers,
    control_thread: Option<JoinHandle<ControlStats>>,
    /// Bound workers not started yet.
    idle: Vec<XskWorker>,
    steered: bool,
    umem: Option<SharedUmem>,
    /// UMEM frames no worker was given.
    spare: Vec<XskFrame>,
    control: Option<Control>,
    programs: Vec<PortProgram>,
    summary: Summary,
    ending: Ending,
    done: bool,
    /// The operator's surface this datapath publishes into.
    live: Option<Arc<Live>>,
    /// The XDP attach mode the programs got.
    xdp_attach: String,
    /// The privileges forwarding runs with, as logged.
    privileges: String,
    /// L3: a reader of the published tables, for `xskfwd routes NAME`.
    tables: Option<TablesReader>,
    /// L2: the ports held in promiscuous mode while forwarding.
    promiscuous: Vec<netns::Promiscuous>,
    /// Jumbo frames: a port's MTU is more than one UMEM frame holds, so
    /// packets travel as chains of frames (AF_XDP multi-buffer).
    multi_buffer: bool,
}

impl<'c> Datapath<'c> {
    fn new(config: &'c Config) -> Self {
        Datapath {
            config,
            stop: Arc::new(AtomicBool::new(false)),
            signal: Arc::new(AtomicBool::new(false)),
            user: None,
            monitor: None,
            links: None,
            link_thread: None,
            ports: Vec::new(),
            workers: Workers::default(),
            control_thread: None,
            idle: Vec::new(),
            steered: false,
            umem: None,
            spare: Vec::new(),
            control: None,
            programs: Vec::new(),
            summary: Summary::default(),
            ending: Ending::Stopped,
            done: false,
            live: None,
            xdp_attach: String::new(),
            privileges: String::new(),
            tables: None,
            promiscuous: Vec::new(),
            multi_buffer: false,
        }
    }

    /// Largest packet (Ethernet header included) the datapath carries:
    /// one UMEM frame's worth, or with multi-buffer any IP packet.
    fn max_packet(&self) -> u32 {
        if self.multi_buffer {
            ports::MAX_MULTI_BUFFER_FRAME
        } else {
            self.config.rings().max_packet()
        }
    }

    fn check(&mut self, netns_name: Option<&str>) -> Result<()> {
        privileges::require("xskfwd run", &privileges::setup_caps(netns_name.is_some()))?;
        if let Some(name) = self.config.user() {
            self.user = Some(privileges::lookup_user(name)?);
        }
        if let Some(ns) = netns_name {
            netns::enter_netns(ns).with_context(|| format!("entering network namespace {ns}"))?;
        }
        privileges::raise_memlock();
        check_cpus(self.config.cpus())?;
        self.signal = signalled()?;
        Ok(())
    }

    fn resolve_ports(&mut self) -> Result<()> {
        self.monitor = Some(lifecycle::PortWatch::subscribe()?);
        self.ports = ports::resolve(self.config)?;
        if let Some(why) = ports::multi_buffer_reason(&self.ports, self.config.rings().frame_size) {
            if self.config.bind_mode() == BindMode::ZeroCopy {
                crate::info!(
                    "port",
                    "{why}: jumbo frames use AF_XDP multi-buffer, which zero-copy needs driver support for"
                );
            } else {
                crate::info!("port", "{why}: jumbo frames use AF_XDP multi-buffer");
            }
            self.multi_buffer = true;
        }
        let max_lens: Vec<u32> = self.ports.iter().map(|p| p.max_len).collect();
        self.links = Some(Arc::new(Links::new(&max_lens)));
        Ok(())
    }

    /// Loads (which also refuses foreign programs early); attached only
    /// once every socket is bound and steered.
    fn load_programs(&mut self) -> Result<()> {
        let router = self.config.mode() == Mode::Router;
        let mut port_ifindex = [0u32; MAX_L3_PORTS];
        for (slot, q) in port_ifindex.iter_mut().zip(&self.ports) {
            *slot = q.ifindex;
        }
        // Room for every static route beside the local table and the
        // kernel-only routes the default already covers.
        let statics = |v6: bool| {
            let n = self
                .config
                .l3()
                .routes
                .iter()
                .filter(|r| r.prefix.is_v6() == v6)
                .count();
            u32::try_from(n)
                .unwrap_or(u32::MAX)
                .saturating_add(STEER_ENTRIES)
        };
        let steer_entries = (statics(false), statics(true));
        for p in &self.ports {
            let cfg = if router {
                bpf::ProgConfig {
                    mode: bpf::MODE_L3,
                    port_mac: p.mac.0,
                    port_ifindex,
                    rp_filter: netns::rp_filter(&p.ifname),
                    fib_forward: self.config.l3().kernel,
                    steer_entries,
                    multi_buffer: self.multi_buffer,
                }
            } else {
                bpf::ProgConfig {
                    multi_buffer: self.multi_buffer,
                    ..bpf::ProgConfig::default()
                }
            };
            self.programs
                .push(PortProgram::load(&p.ifname, p.ifindex, &cfg)?);
        }
        Ok(())
    }

    /// L3: mirrors the kernel's tables (and the static ones), publishes the
    /// first snapshot and the steering entries before anything is attached.
    fn start_control(&mut self) -> Result<()> {
        if self.config.mode() != Mode::Router {
            return Ok(());
        }
        let maps = self
            .programs
            .iter()
            .map(PortProgram::steer_maps)
            .collect::<Result<Vec<_>, _>>()?;
        let refs = self
            .ports
            .iter()
            .map(|p| PortRef {
                ifname: p.ifname.clone(),
                ifindex: p.ifindex,
            })
            .collect();
        // What a UMEM frame holds; the control plane lowers the program's
        // limit to the ports' MTUs as they are now and as they change
        // (the workers follow them through `Links`).
        let max_ip = self.max_packet() - L2_OVERHEAD;
        let control = Control::start(
            refs,
            self.config.l3().clone(),
            max_ip,
            Box::new(MapSteering::new(maps)),
        )?;
        self.tables = Some(control.reader());
        self.control = Some(control);
        Ok(())
    }

    fn create_umem(&mut self) -> Result<()> {
        let r = self.config.rings();
        let page = netns::page_size();
        if r.frame_size > page {
            anyhow::bail!(
                "--frame-size {}: an AF_XDP UMEM frame is at most one page ({page} bytes) here. \
                 Larger packets need no larger frames: xskfwd carries them as chains of frames \
                 (AF_XDP multi-buffer) by itself. Use --frame-size {page} (up to {} bytes of \
                 packet per frame)",
                r.frame_size,
                page - xskfwd_core::limits::XDP_PACKET_HEADROOM,
            );
        }
        let (umem, frames) = SharedUmem::new(
            self.config.total_frames(),
            r.frame_size,
            r.fill_size,
            r.comp_size,
        )?;
        self.summary.umem_frames = frames.len() as u64;
        self.umem = Some(umem);
        self.spare = frames;
        Ok(())
    }

    fn forwarder(&self) -> Forwarding {
        match (&self.control, self.config.mode()) {
            (Some(c), _) => {
                let l3ports: Vec<_> = self.ports.iter().map(Port::l3).collect();
                Forwarding::L3(L3Forwarder::new(&l3ports, c.reader()))
            }
            (None, mode) => {
                let l2ports: Vec<_> = self.ports.iter().map(Port::l2).collect();
                let mode = if mode == Mode::Hairpin {
                    L2Mode::Hairpin
                } else {
                    L2Mode::CrossConnect
                };
                Forwarding::L2(L2Forwarder::new(mode, &l2ports))
            }
        }
    }

    /// One worker per queue: its sockets on every port, its share of the
    /// frames, its fill rings stocked.
    fn bind_sockets(&mut self) -> Result<()> {
        let config = self.config;
        let r = config.rings();
        let umem = self.umem.clone().context("the UMEM is created first")?;
        let opts = SocketOptions {
            rx_size: r.rx_size,
            tx_size: r.tx_size,
            bind: config.bind_mode(),
            need_wakeup: config.need_wakeup(),
            multi_buffer: self.multi_buffer,
        };
        let per_worker = self.summary.umem_frames as usize / config.workers();
        for &q in config.queues() {
            let mut socks = Vec::new();
            for p in &self.ports {
                socks.push(XskSocket::bind(&umem, &p.ifname, q, opts, r.fill_size)?);
            }
            self.workers
                .sock_fds
                .push(socks.iter().map(XskSocket::fd).collect());
            let pool = self.spare.split_off(self.spare.len() - per_worker);
            self.workers.frames.push(pool.len() as u64);
            let rings = XskRings::new(umem.clone(), socks, config.need_wakeup());
            let params = WorkerParams {
                batch: r.batch as usize,
                idle: config.idle(),
            };
            let mut w = Worker::new(rings, self.forwarder(), params, pool);
            if let Some(links) = &self.links {
                w = w.with_links(Arc::clone(links));
            }
            if let Some(live) = &self.live {
                w = w.with_trace(Arc::clone(&live.tracer), q);
            }
            w.prime();
            self.idle.push(w);
        }
        Ok(())
    }

    /// Steers every queue to its sockets (their fill rings are stocked).
    fn steer(&mut self) -> Result<()> {
        self.steered = true;
        for (qi, &q) in self.config.queues().iter().enumerate() {
            for (pi, prog) in self.programs.iter().enumerate() {
                prog.register(q, self.workers.sock_fds[qi][pi])?;
            }
        }
        Ok(())
    }

    fn attach(&mut self) -> Result<()> {
        // L2 forwards frames for any MAC (a wire, or next hops behind the
        // ports): a NIC must not filter them out. The kernel drops this
        // hold when the process ends, however it ends.
        if self.config.mode() != Mode::Router {
            for p in &self.ports {
                self.promiscuous.push(
                    netns::promiscuous(p.ifindex).with_context(|| format!("port {}", p.ifname))?,
                );
            }
        }
        let mut attached = Vec::new();
        for prog in &mut self.programs {
            attached.push(prog.attach(self.config.xdp_mode())?);
        }
        let config = self.config;
        let socks = self.idle.iter().flat_map(|w| w.rings().sockets());
        let zero_copy = socks.clone().any(XskSocket::zero_copy);
        self.workers.zero_copy = zero_copy;
        let tx_budget = socks.map(XskSocket::tx_budget).min().unwrap_or(0);
        self.xdp_attach = attached.first().map_or("-", |a| a.name()).to_string();
        crate::info!("start", 
            "forwarding {} on queue(s) {:?} — {} worker(s), {} frames of {} B, xdp {} mode, {} bind, batch {}{}{}{}",
            self.ports.iter().map(|p| p.ifname.as_str()).collect::<Vec<_>>().join(" <-> "),
            config.queues(),
            config.workers(),
            config.total_frames(),
            config.rings().frame_size,
            attached.first().map_or("-", |a| a.name()),
            if zero_copy { "zero-copy" } else { "copy" },
            config.rings().batch,
            if zero_copy {
                String::new()
            } else {
                format!(", up to {tx_budget} frames per tx kick")
            },
            if self.promiscuous.is_empty() {
                ""
            } else {
                ", ports promiscuous"
            },
            if self.multi_buffer {
                ", multi-buffer (jumbo frames)"
            } else {
                ""
            },
        );
        Ok(())
    }

    /// Keeps only what forwarding needs (see `privileges`): in L3 mode with
    /// the kernel's tables, `CAP_NET_ADMIN` for the neighbour liveness
    /// writes; nothing otherwise. With `--on-port-loss wait`, what set-up
    /// needs stays permitted (not effective) to rebind a port that comes
    /// back. Runs before any other thread of the datapath exists.
    fn drop_privileges(&mut self) -> Result<()> {
        let config = self.config;
        let effective: &[Cap] = if config.mode() == Mode::Router && config.l3().kernel {
            &[Cap::NetAdmin]
        } else {
            &[]
        };
        let permitted = match config.on_port_loss() {
            OnPortLoss::Wait => privileges::setup_caps(false),
            OnPortLoss::Exit => Vec::new(),
        };
        // A later datapath (after a rebind) runs as that user already.
        let user = self
            .user
            .as_ref()
            .filter(|u| u.uid != privileges::current_uid());
        privileges::drop_to(effective, &permitted, user)?;
        // Check it took: the kernel must now refuse a BPF program.
        let now = privileges::current().context("reading capabilities")?;
        let load = match privileges::try_load_bpf() {
            Ok(()) => anyhow::bail!(
                "capabilities were dropped to {} but a BPF program still loads: refusing to forward",
                privileges::names(now.effective)
            ),
            Err(e) => e,
        };
        self.privileges = format!(
            "effective {}, permitted {}{}, no_new_privs",
            privileges::names(now.effective),
            privileges::names(now.permitted),
            match &self.user {
                Some(u) => format!(", user {}", u.name),
                None => String::new(),
            },
        );
        crate::info!(
            "privileges",
            "privileges: {}; loading a BPF program now fails: {load}",
            self.privileges
        );
        Ok(())
    }

    fn start_workers(&mut self) -> Result<()> {
        let config = self.config;
        let frame_size = config.rings().frame_size;
        let nports = self.ports.len();
        let queues = config.queues();
        let cpus = config.cpus();
        // A worker is handed to its thread only once the thread exists, so
        // a failed spawn leaves it (and its frames) here to be accounted.
        let mut idle = std::mem::take(&mut self.idle).into_iter().enumerate();
        while let Some((i, w)) = idle.next() {
            let shared = Arc::new(SharedCounters::new(nports));
            let stop = Arc::clone(&self.stop);
            let cpu = (!cpus.is_empty()).then(|| cpus[i % cpus.len()]);
            let mine = Arc::clone(&shared);
            let (hand, take) = mpsc::sync_channel::<XskWorker>(1);
            let spawned = thread::Builder::new()
                .name(format!("xskfwd-q{}", queues[i]))
                .spawn(move || {
                    let mut w = take.recv().ok()?;
                    if let Some(cpu) = cpu {
                        // Checked at start-up; the mask can still shrink.
                        if !core_affinity::set_for_current(core_affinity::CoreId { id: cpu }) {
                            crate::warn!(
                                "worker",
                                "could not pin worker {i} to CPU {cpu}; running unpinned"
                            );
                        }
                    }
                    // From here on a worker needs a handful of system
                    // calls; anything else kills the process.
                    if let Err(e) = privileges::confine_worker() {
                        crate::warn!("worker", "worker {i}: no seccomp filter: {e}");
                    }
                    w.run(&stop, &mine);
                    let acc = w.drain(|f| f.index(frame_size));
                    Some((w, acc))
                });
            match spawned {
                Ok(h) => {
                    // The thread holds the receiver until it got the worker.
                    if let Err(e) = hand.send(w) {
                        crate::error!(
                            "worker",
                            "worker {i}'s thread ended before it got its worker"
                        );
                        self.idle.push(e.0);
                    }
                    self.workers.threads.push(h);
                    self.workers.shared.push(shared);
                }
                Err(e) => {
                    self.idle.push(w);
                    self.idle.extend(idle.map(|(_, w)| w));
                    return Err(e).context("spawning a worker thread");
                }
            }
        }
        if let (Some(monitor), Some(links)) = (self.monitor.take(), &self.links) {
            let watch = lifecycle::PortWatch::new(
                monitor,
                &self.ports,
                Arc::clone(links),
                self.max_packet(),
                config.on_port_loss(),
            );
            let stop = Arc::clone(&self.stop);
            let h = thread::Builder::new()
                .name("xskfwd-links".into())
                .spawn(move || watch.run(&stop))
                .context("spawning the link thread")?;
            self.link_thread = Some(h);
        }
        if let Some(mut c) = self.control.take() {
            let stop = Arc::clone(&self.stop);
            let live = self.live.clone();
            let h = thread::Builder::new()
                .name("xskfwd-routes".into())
                .spawn(move || {
                    c.run(&stop, |c| {
                        if let Some(live) = &live {
                            live.set_control(c.stats());
                        }
                    });
                    c.stats()
                })
                .context("spawning the route mirror thread")?;
            self.control_thread = Some(h);
        }
        Ok(())
    }

    fn forward(&mut self) -> Result<()> {
        let links = self.links.clone().context("the ports are resolved first")?;
        if let Some(live) = &self.live {
            live.begin(self.shape(), self.tables.take());
        }
        report::stats_loop(
            self.config,
            &self.ports,
            &self.programs,
            &self.workers,
            &links,
            self.live.as_deref(),
            (&self.stop, &self.signal),
        )
    }

    /// What the operator's surface shows of this datapath's set-up.
    fn shape(&self) -> Shape {
        let config = self.config;
        let cpus = config.cpus();
        let zero_copy = self.workers.zero_copy;
        Shape {
            mode: match config.mode() {
                Mode::CrossConnect => "l2",
                Mode::Hairpin => "hairpin",
                Mode::Router => "l3",
            },
            ports: self.ports.iter().map(|p| p.ifname.clone()).collect(),
            ifindexes: self.ports.iter().map(|p| p.ifindex).collect(),
            queues: config.queues().to_vec(),
            cpus: (0..config.queues().len())
                .map(|i| (!cpus.is_empty()).then(|| cpus[i % cpus.len()]))
                .collect(),
            bind: match (zero_copy, self.multi_buffer) {
                (true, false) => "zero-copy",
                (true, true) => "zero-copy multi-buffer",
                (false, false) => "copy",
                (false, true) => "copy multi-buffer",
            },
            xdp_mode: self.xdp_attach.clone(),
            umem_frames: self.summary.umem_frames,
            frame_size: config.rings().frame_size,
            worker_frames: self.workers.frames.clone(),
            privileges: self.privileges.clone(),
        }
    }

    /// Tears down in the documented order and returns the summary (printed
    /// if the run succeeded) and how forwarding ended.
    fn finish(mut self, print: bool) -> (Summary, Ending) {
        self.teardown();
        let summary = std::mem::take(&mut self.summary);
        if print {
            report::print_summary(self.config, &self.ports, &summary);
        }
        let ending = std::mem::replace(&mut self.ending, Ending::Stopped);
        (summary, ending)
    }

    fn teardown(&mut self) {
        if std::mem::replace(&mut self.done, true) {
            return;
        }
        // Steer back to the kernel, let running workers empty their rx rings.
        if self.steered {
            for &q in self.config.queues() {
                for prog in &self.programs {
                    prog.unregister(q);
                }
            }
            if !self.workers.threads.is_empty() {
                thread::sleep(Duration::from_millis(20));
            }
        }
        self.stop.store(true, Ordering::Relaxed);
        if let Some(live) = &self.live {
            live.end();
        }
        let s = &mut self.summary;
        let frame_size = self.config.rings().frame_size;
        let mut finished = Vec::new();
        for h in self.workers.threads.drain(..) {
            match h.join() {
                Ok(Some((w, acc))) => {
                    s.per_port.extend_from_slice(w.counters());
                    s.frames.push(acc);
                    finished.push(w);
                }
                Ok(None) => crate::error!("worker", "a worker thread never got its worker"),
                Err(_) => crate::error!("worker", "a worker thread panicked"),
            }
        }
        for mut w in self.idle.drain(..) {
            let acc = w.drain(|f| f.index(frame_size));
            s.per_port.extend_from_slice(w.counters());
            s.frames.push(acc);
            finished.push(w);
        }
        if let Some(h) = self.control_thread.take() {
            match h.join() {
                Ok(cs) => s.control = Some(cs),
                Err(_) => crate::error!("shutdown", "the route mirror thread panicked"),
            }
        } else if let Some(c) = self.control.take() {
            s.control = Some(c.stats());
        }
        if let Some(h) = self.link_thread.take() {
            match h.join() {
                Ok(e) => self.ending = e,
                Err(_) => crate::error!("shutdown", "the link thread panicked"),
            }
        }
        s.links = (0..self.ports.len())
            .map(|p| {
                self.links
                    .as_deref()
                    .and_then(|l| l.get(p))
                    .map_or(LinkState::Up, |l| l.state)
            })
            .collect();
        s.xsk = self
            .workers
            .sock_fds
            .iter()
            .flat_map(|fds| fds.iter().zip(&s.links))
            .map(|(&fd, &link)| report::port_socket_stats(fd, link))
            .collect();
        drop(finished); // the sockets
        if self.umem.is_some() {
            let n = self.spare.len() as u64;
            s.frames.push(FrameAccount {
                total: n,
                in_pool: n,
                ..FrameAccount::default()
            });
        }
        self.spare.clear();
        self.umem = None; // freed when the last socket's clone is gone
        s.xdp = self.programs.iter().map(PortProgram::counters).collect();
        self.programs.clear(); // the bpf_links
        self.promiscuous.clear();
    }
}

impl Drop for Datapath<'_> {
    fn drop(&mut self) {
        self.teardown();
    }
}

/// Every CPU of `--cpus` must be one this process may run on (it exists,
/// and the affinity mask, which cgroup cpusets narrow, includes it).
fn check_cpus(wanted: &[usize]) -> Result<()> {
    if wanted.is_empty() {
        return Ok(());
    }
    let allowed: Vec<usize> = core_affinity::get_core_ids()
        .context("reading this process's CPU affinity mask")?
        .into_iter()
        .map(|c| c.id)
        .collect();
    let bad: Vec<String> = wanted
        .iter()
        .filter(|c| !allowed.contains(c))
        .map(ToString::to_string)
        .collect();
    if !bad.is_empty() {
        anyhow::bail!(
            "--cpus: CPU {} is not one this process may run on (allowed: {}; see `taskset -p $$` \
             and the cgroup's cpuset.cpus.effective)",
            bad.join(","),
            cpu_list(&allowed)
        );
    }
    Ok(())
}

/// `0-3,6` style.
fn cpu_list(cpus: &[usize]) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut i = 0;
    while i < cpus.len() {
        let mut j = i;
        while j + 1 < cpus.len() && cpus[j + 1] == cpus[j] + 1 {
            j += 1;
        }
        out.push(if i == j {
            cpus[i].to_string()
        } else {
            format!("{}-{}", cpus[i], cpus[j])
        });
        i = j + 1;
    }
    out.join(",")
}

/// `xskfwd routes`: prints the effective L3 tables.
pub fn routes(args: &crate::cli::RoutesArgs) -> Result<()> {
    // `xskfwd routes NAME`: a running instance's tables.
    if let [name] = &args.ports[..] {
        if !args.source.any() && args.netns.is_none() && crate::ops::client::exists(name) {
            return crate::ops::client::routes(name);
        }
    }
    if let Some(ns) = &args.netns {
        netns::enter_netns(ns).with_context(|| format!("entering network namespace {ns}"))?;
    }
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
    let name_refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let l3 = args.source.to_l3()?.resolve(&name_refs)?;
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
    let control = Control::start(
        refs,
        l3,
        65535,
        Box::<crate::control::NoSteering>::default(),
    )?;
    println!("{}", control.dump_text());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_lists_read_like_cpusets() {
        assert_eq!(cpu_list(&[0, 1, 2, 3, 6, 8, 9]), "0-3,6,8-9");
        assert_eq!(cpu_list(&[5]), "5");
        assert_eq!(cpu_list(&[]), "");
    }

    #[test]
    fn a_cpu_outside_the_mask_is_refused() {
        let err = check_cpus(&[99_999]).unwrap_err().to_string();
        assert!(err.contains("CPU 99999"), "{err}");
        assert!(check_cpus(&[]).is_ok());
        let mine = core_affinity::get_core_ids().unwrap();
        assert!(check_cpus(&[mine[0].id]).is_ok());
    }
}
