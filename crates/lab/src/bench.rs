//! `xskfwd bench`: packet-rate benchmarks in the veth lab, xskfwd side by
//! side with what users would run instead.
//!
//! One lab (`src ── dut ── dst`), a generator on src0 (pinned), an XDP
//! counting sink on dst0, and one *path* through dut per trial:
//! - `ceiling`: an XDP program drops everything at dut0 (the harness's
//!   own limit: nothing can forward faster than frames arrive);
//! - `kernel`: Linux IP forwarding;
//! - `xdp-redirect`: in-kernel XDP forwarding (bpf_fib_lookup +
//!   bpf_redirect) between dut0 and dut1;
//! - `xskfwd-l2`, `xskfwd-l3`, `xskfwd-l3v6`: xskfwd in dut (L2
//!   cross-connect; L3 router over IPv4; L3 over IPv6), worker pinned.
//!
//! Frame sizes go from 60 bytes to jumbo frames (9000 and up to the
//! lab's largest MTU), plus `imix` (7:4:1 of 64/570/1514-byte frames at
//! the plain MTU: [`gen::IMIX_SIZES`] clipped to 1500 + 14). Before each
//! trial every veth gets the MTU its frames need (1500, or the largest
//! frame less 14; `--mtu` fixes one MTU for all), and the generator is
//! chosen by size: live frames (in-kernel, fastest) up to
//! [`gen::LIVE_MAX_FRAME`], an AF_PACKET transmit ring (qdisc bypassed;
//! `--jumbo-engine packet`: `sendmmsg`) above; the table and JSON name the
//! engine per row. A path that cannot carry a size (xskfwd exits during
//! start-up at an MTU above 1500: e.g. zero-copy mode where the driver
//! has no multi-buffer, or an xskfwd without it) is reported as "not
//! supported" with xskfwd's own reason, and the run goes on.
//!
//! Trials run interleaved (A B C A B C …, every size within a path) so
//! drift of the machine hits every path alike; each reports offered and
//! delivered packets per second, loss, the CPU time split per core (user,
//! system, softirq from /proc/stat) and, for xskfwd, syscalls per packet.
//! Results: a table with medians and min–max, the ratio of medians to the
//! first path and the paired ratios (each repetition against the first
//! path's trial of the same repetition: median, min–max), JSON and CSV
//! files, and an SVG plot (frame size vs Mpps and Gbit/s, one line per
//! path). `--rfc2544` adds a throughput search per path: the highest
//! offered rate with zero loss over a trial, and the highest with at most
//! 0.5 % loss.
//!
//! This module must never: touch the root namespace, leave a lab, an XDP
//! program or an xskfwd process behind (guards), or run unbounded.

use std::fmt::Write as _;
use std::process::{Command, Stdio};
use std::sync::atomic::AtomicBool;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{ensure, Context, Result};
use serde_json::json;

use crate::bpf_tools::{Tool, ToolProg, XdpLink};
use crate::demo::{self, ChildGuard};
use crate::gen::{self, Engine, FrameSize, GenConfig};
use crate::lab::{self, Lab, LabInfo};
use crate::progress::Progress;
use crate::sink::{Sink, SinkConfig, SinkMode};
use xskfwd::config::XdpMode;
use xskfwd::netns;

/// A way through dut.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Path {
    /// XDP drop at dut0.
    Ceiling,
    /// Linux IPv4 forwarding.
    Kernel,
    /// In-kernel XDP forwarding.
    XdpRedirect,
    /// xskfwd L2 cross-connect.
    XskfwdL2,
    /// xskfwd L3, IPv4.
    XskfwdL3,
    /// xskfwd L3, IPv6.
    XskfwdL3v6,
}

impl Path {
    /// Name in reports.
    pub fn name(self) -> &'static str {
        match self {
            Path::Ceiling => "ceiling",
            Path::Kernel => "kernel",
            Path::XdpRedirect => "xdp-redirect",
            Path::XskfwdL2 => "xskfwd-l2",
            Path::XskfwdL3 => "xskfwd-l3",
            Path::XskfwdL3v6 => "xskfwd-l3v6",
        }
    }

    fn v6(self) -> bool {
        self == Path::XskfwdL3v6
    }
}

/// A frame size of the sweep: fixed, or the IMIX mix.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum BenchSize {
    /// Every frame this long (bytes, without FCS).
    Fixed(usize),
    /// [`gen::IMIX_SIZES`] in the ratio [`gen::IMIX_WEIGHTS`] at the
    /// plain MTU (1500): 64/570/1514 bytes without FCS.
    Imix,
}

impl BenchSize {
    /// The generator's frame lengths.
    fn frame_size(self) -> FrameSize {
        match self {
            BenchSize::Fixed(n) => FrameSize::Fixed(n),
            BenchSize::Imix => FrameSize::Imix,
        }
    }

    /// The MTU every veth gets for this size: the plain 1500, or what the
    /// frame needs above it.
    pub fn mtu(self) -> u32 {
        match self {
            BenchSize::Fixed(n) => (n.saturating_sub(ETH_HLEN) as u32).max(lab::DEFAULT_MTU),
            BenchSize::Imix => lab::DEFAULT_MTU,
        }
    }

    /// The longest frame (bytes) at MTU `mtu`.
    fn largest(self, mtu: u32) -> usize {
        match self {
            BenchSize::Fixed(n) => n,
            BenchSize::Imix => gen::IMIX_SIZES
                .iter()
                .map(|&s| s.min(mtu as usize + ETH_HLEN))
                .max()
                .unwrap_or(0),
        }
    }
}

impl std::fmt::Display for BenchSize {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // `pad`, so widths and alignment in format strings apply.
        match self {
            BenchSize::Fixed(n) => f.pad(&n.to_string()),
            BenchSize::Imix => f.pad("imix"),
        }
    }
}

impl std::str::FromStr for BenchSize {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let t = s.trim();
        if t.eq_ignore_ascii_case("imix") {
            return Ok(BenchSize::Imix);
        }
        let n: usize = t
            .parse()
            .map_err(|_| format!("bad frame size {s:?} (bytes, e.g. 64 or 9000, or imix)"))?;
        if !(MIN_FRAME..=MAX_FRAME).contains(&n) {
            return Err(format!(
                "frame size {n} is not within {MIN_FRAME}..={MAX_FRAME} (bytes without FCS)"
            ));
        }
        Ok(BenchSize::Fixed(n))
    }
}

/// A number in JSON for a fixed size, `"imix"` for the mix.
impl serde::Serialize for BenchSize {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            BenchSize::Fixed(n) => s.serialize_u64(*n as u64),
            BenchSize::Imix => s.serialize_str("imix"),
        }
    }
}

/// Ethernet header length.
const ETH_HLEN: usize = 14;
/// Smallest frame of the sweep (Ethernet's minimum without FCS).
const MIN_FRAME: usize = 60;
/// Largest frame of the sweep: the lab's largest MTU plus the header.
const MAX_FRAME: usize = lab::MAX_MTU as usize + ETH_HLEN;

/// `xskfwd bench`
#[derive(Debug, Clone, clap::Args)]
pub struct BenchArgs {
    /// Paths, in order (ratios are to the first).
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "kernel,ceiling,xdp-redirect,xskfwd-l2,xskfwd-l3,xskfwd-l3v6"
    )]
    pub paths: Vec<Path>,
    /// Seconds per trial.
    #[arg(long, default_value_t = 5.0)]
    pub duration: f64,
    /// Repetitions of every (path, size) trial (medians reported).
    #[arg(long, default_value_t = 5)]
    pub reps: u32,
    /// Frame sizes in bytes without FCS, 60..=9230 (IPv6 paths use at
    /// least 82), or `imix` (7:4:1 of 64/570/1514 bytes).
    #[arg(long, value_delimiter = ',', default_value = "64")]
    pub sizes: Vec<BenchSize>,
    /// MTU of every veth for every trial (default: per trial, 1500 or
    /// what the trial's largest frame needs).
    #[arg(long)]
    pub mtu: Option<u32>,
    /// Generator for frames above the live-frames limit (3408 B):
    /// `ring` (AF_PACKET PACKET_TX_RING) or `packet` (AF_PACKET sendmmsg).
    #[arg(long, value_enum, default_value_t = Engine::for_largest(usize::MAX))]
    pub jumbo_engine: Engine,
    /// CPU of the generator (a veth's receive work runs on the sending CPU).
    #[arg(long, default_value_t = 0)]
    pub gen_cpu: usize,
    /// CPU of xskfwd's worker.
    #[arg(long, default_value_t = 1)]
    pub fwd_cpu: usize,
    /// Run dst0's receive processing (the sink) in a threaded NAPI pinned
    /// to this CPU instead of on whichever CPU transmits into it (on veth
    /// that is the forwarder's CPU for every path).
    #[arg(long)]
    pub sink_cpu: Option<usize>,
    /// Offered rate in packets/s (default: as fast as the generator goes).
    #[arg(long)]
    pub rate: Option<u64>,
    /// UDP flows (source ports) the generator cycles through.
    #[arg(long, default_value_t = 1)]
    pub flows: u32,
    /// Also run an RFC 2544 throughput search per path (first size).
    #[arg(long)]
    pub rfc2544: bool,
    /// Trials per RFC 2544 search.
    #[arg(long, default_value_t = 8)]
    pub rfc2544_steps: u32,
    /// Directory for bench.json, bench.csv and bench.svg.
    #[arg(long, default_value = "bench-results")]
    pub out: String,
    /// Extra arguments for `xskfwd run` (e.g. "--batch 32").
    #[arg(long, default_value = "")]
    pub xskfwd_args: String,
    /// Queues per veth, each with its own generator and xskfwd worker:
    /// generator i on CPU gen-cpu + i, worker i on CPU fwd-cpu + i
    /// (modulo the CPUs there are). A generator's frames arrive on the
    /// dut queue of its CPU, so the traffic spreads over the queues.
    #[arg(long, default_value_t = 1)]
    pub queues: u32,
}

/// The CPUs of `n` queues' generators or workers, starting at `first`.
fn queue_cpus(first: usize, n: u32) -> Vec<usize> {
    let ncpu = core_affinity::get_core_ids().map_or(1, |c| c.len()).max(1);
    (0..n as usize).map(|i| (first + i) % ncpu).collect()
}

/// CPU time of one core (USER_HZ ticks).
#[derive(Clone, Copy, Debug, Default)]
struct CpuTimes {
    user: u64,
    system: u64,
    softirq: u64,
    total: u64,
}

fn cpu_times() -> Vec<CpuTimes> {
    let Ok(text) = std::fs::read_to_string("/proc/stat") else {
        return Vec::new();
    };
    text.lines()
        .filter(|l| l.starts_with("cpu") && l.as_bytes().get(3).is_some_and(u8::is_ascii_digit))
        .map(|l| {
            let v: Vec<u64> = l
                .split_whitespace()
                .skip(1)
                .filter_map(|x| x.parse().ok())
                .collect();
            let g = |i: usize| v.get(i).copied().unwrap_or(0);
            CpuTimes {
                user: g(0) + g(1),
                system: g(2),
                softirq: g(6) + g(5),
                total: v.iter().sum(),
            }
        })
        .collect()
}

/// Share of each core's time in user / system / softirq over a trial.
#[derive(Clone, Copy, Debug, Default, serde::Serialize)]
pub struct CpuSplit {
    /// Percent user.
    pub user: f64,
    /// Percent system.
    pub system: f64,
    /// Percent softirq (and hardirq).
    pub softirq: f64,
}

fn split(before: &[CpuTimes], after: &[CpuTimes]) -> Vec<CpuSplit> {
    before
        .iter()
        .zip(after)
        .map(|(b, a)| {
            let t = a.total.saturating_sub(b.total).max(1) as f64;
            CpuSplit {
                user: 100.0 * a.user.saturating_sub(b.user) as f64 / t,
                system: 100.0 * a.system.saturating_sub(b.system) as f64 / t,
                softirq: 100.0 * a.softirq.saturating_sub(b.softirq) as f64 / t,
            }
        })
        .collect()
}

/// A process's CPU time over a trial, percent of one core.
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize)]
pub struct ProcCpu {
    /// In its own code.
    pub user: f64,
    /// In the kernel on its behalf (its syscalls: in copy mode, the
    /// transmit's copy and skb).
    pub system: f64,
}

impl ProcCpu {
    /// From two (user, system) tick readings `secs` apart.
    fn between(a: (u64, u64), b: (u64, u64), secs: f64) -> ProcCpu {
        let pct = |t: u64| 100.0 * t as f64 / clock_ticks() / secs.max(1e-9);
        ProcCpu {
            user: pct(b.0.saturating_sub(a.0)),
            system: pct(b.1.saturating_sub(a.1)),
        }
    }
}

/// Clock ticks per second of /proc's CPU times.
fn clock_ticks() -> f64 {
    // SAFETY: sysconf has no preconditions.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 {
        t as f64
    } else {
        100.0
    }
}

/// (user, system) ticks of process `pid`, all threads.
fn proc_ticks(pid: u32) -> Option<(u64, u64)> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name, which may hold spaces: state is
    // field 3, utime 14, stime 15.
    let f: Vec<&str> = s[s.rfind(')')? + 2..].split_whitespace().collect();
    Some((f.get(11)?.parse().ok()?, f.get(12)?.parse().ok()?))
}

/// One trial's outcome.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Trial {
    /// Path name.
    pub path: &'static str,
    /// Frame size.
    pub size: BenchSize,
    /// Average frame length sent (bytes without FCS).
    pub frame_bytes: f64,
    /// The generator's engine (`live`, `packet`).
    pub engine: &'static str,
    /// MTU of the lab's veths during the trial.
    pub mtu: u32,
    /// Repetition.
    pub rep: u32,
    /// Frames the generator sent.
    pub sent: u64,
    /// Frames that arrived (at the sink; at dut0's drop for `ceiling`).
    pub delivered: u64,
    /// Their bytes as the receiving XDP program counted them (every
    /// buffer of a multi-buffer frame), over the same window.
    pub delivered_bytes: u64,
    /// Packet generator: frames the interface refused at once (its
    /// peer's ring was full), counted in `sent` and lost.
    pub gen_refused: u64,
    /// xdp-redirect: frames its program sent out of the other port with
    /// bpf_redirect, over the trial (both ports).
    pub xdp_redirected: Option<u64>,
    /// xdp-redirect: frames its program handed to the kernel instead
    /// (no FIB answer, too big, TTL), over the trial.
    pub xdp_passed: Option<u64>,
    /// Offered rate (Mpps).
    pub offered_mpps: f64,
    /// Delivered rate (Mpps).
    pub delivered_mpps: f64,
    /// Lost share in percent.
    pub loss_pct: f64,
    /// CPU split per core.
    pub cpu: Vec<CpuSplit>,
    /// xskfwd: syscalls (tx kicks + fill wakeups) per forwarded packet.
    pub syscalls_per_pkt: Option<f64>,
    /// xskfwd's own account of the trial.
    pub xskfwd: Option<XskfwdEnd>,
    /// xskfwd's own CPU time over the trial (its process, all threads).
    pub xskfwd_cpu: Option<ProcCpu>,
    /// Offered rate limit of this trial (pps), if any.
    pub rate_limit: Option<u64>,
    /// A trial of the RFC 2544 search (not one of the table's
    /// repetitions, even when it ran unlimited).
    pub rfc2544: bool,
}

impl Trial {
    /// Whether the trial is one of the table's repetitions (which run
    /// unlimited or at `--rate`).
    fn is_rep(&self) -> bool {
        !self.rfc2544
    }
}

/// What is attached / running for one path; dropped at the trial's end.
struct PathGuard {
    _links: Vec<XdpLink>,
    prog: Option<ToolProg>,
    child: Option<ChildGuard>,
    /// Collects xskfwd's stdout while it runs (so a full pipe never
    /// blocks it).
    output: Option<thread::JoinHandle<String>>,
}

pub(crate) fn ip(ns: &str, args: &[&str]) -> Result<()> {
    let st = Command::new("ip")
        .arg("-n")
        .arg(ns)
        .args(args)
        .stdout(Stdio::null())
        .status()
        .context("running ip")?;
    ensure!(st.success(), "ip -n {ns} {} failed", args.join(" "));
    Ok(())
}

fn sysctl(ns: &str, kv: &str) -> Result<()> {
    let st = Command::new("ip")
        .args(["netns", "exec", ns, "sysctl", "-qw", kv])
        .status()
        .context("running sysctl")?;
    ensure!(st.success(), "sysctl {kv} in {ns} failed");
    Ok(())
}

/// Switches `ifname` to threaded NAPI and pins its NAPI threads to `cpu`.
fn pin_napi(ns: &str, ifname: &str, cpu: usize) -> Result<()> {
    let st = Command::new("ip")
        .args(["netns", "exec", ns, "sh", "-c"])
        .arg(format!("echo 1 > /sys/class/net/{ifname}/threaded"))
        .status()
        .context("enabling threaded NAPI")?;
    ensure!(st.success(), "enabling threaded NAPI on {ifname} failed");
    // The threads are named napi/IFNAME-ID (kernel threads: pid namespace
    // is the host's, so /proc lists them).
    let mut pinned = 0;
    for e in std::fs::read_dir("/proc")?.flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
        if comm.trim().starts_with(&format!("napi/{ifname}-")) {
            // SAFETY: a zeroed cpu_set_t is valid; CPU_SET stays in bounds
            // (cpu < available_parallelism was checked).
            let ok = unsafe {
                let mut set: libc::cpu_set_t = std::mem::zeroed();
                libc::CPU_SET(cpu, &mut set);
                libc::sched_setaffinity(pid, std::mem::size_of::<libc::cpu_set_t>(), &set) == 0
            };
            if ok {
                pinned += 1;
            }
        }
    }
    ensure!(pinned > 0, "no NAPI thread of {ifname} found to pin");
    Ok(())
}

fn attach_tool(ns: &str, tool: Tool, ifnames: &[&str]) -> Result<(ToolProg, Vec<XdpLink>)> {
    let names: Vec<String> = ifnames.iter().map(|s| s.to_string()).collect();
    netns::in_netns(ns, move || -> Result<(ToolProg, Vec<XdpLink>)> {
        let prog = ToolProg::load(tool)?;
        let mut links = Vec::new();
        for n in &names {
            links.push(prog.attach(netns::ifindex(n)?, XdpMode::Native)?);
        }
        Ok((prog, links))
    })?
}

/// A path cannot run at this size: xskfwd refused the lab's MTU (in its
/// own words). The bench reports the cell as not supported and goes on.
#[derive(Debug, thiserror::Error)]
#[error("not supported: {0}")]
pub struct NotSupported(pub String);

/// The reason in xskfwd's stderr: its last error line (a usage error is
/// followed by a hint), else its last line, without the error prefix.
fn refusal(stderr: &str) -> String {
    let lines: Vec<&str> = stderr
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let line = lines
        .iter()
        .rev()
        .find(|l| l.to_ascii_lowercase().contains("error"))
        .or(lines.last())
        .copied()
        .unwrap_or("xskfwd exited during start-up");
    match line.find("rror: ") {
        Some(i) => line[i + "rror: ".len()..].to_string(),
        None => line.to_string(),
    }
}

fn start_path(args: &BenchArgs, info: &LabInfo, path: Path, mtu: u32) -> Result<PathGuard> {
    let dut = info.dut_ns();
    let mut g = PathGuard {
        _links: Vec::new(),
        prog: None,
        child: None,
        output: None,
    };
    match path {
        Path::Kernel => {}
        Path::Ceiling => {
            let (p, l) = attach_tool(dut, Tool::Drop, &["dut0"])?;
            g.prog = Some(p);
            g._links = l;
        }
        Path::XdpRedirect => {
            let (p, l) = attach_tool(dut, Tool::Redirect, &["dut0", "dut1"])?;
            g.prog = Some(p);
            g._links = l;
        }
        Path::XskfwdL2 | Path::XskfwdL3 | Path::XskfwdL3v6 => {
            let mut run = if path == Path::XskfwdL2 {
                demo::l2_run_args(info)
            } else {
                demo::l3_run_args(info)
            };
            let queues: Vec<String> = (0..args.queues).map(|q| q.to_string()).collect();
            let cpus: Vec<String> = queue_cpus(args.fwd_cpu, args.queues)
                .iter()
                .map(ToString::to_string)
                .collect();
            run.extend([
                "--queues".into(),
                queues.join(","),
                "--cpus".into(),
                cpus.join(","),
                "--stats".into(),
                "json".into(),
                "--stats-interval".into(),
                "60".into(),
            ]);
            run.extend(args.xskfwd_args.split_whitespace().map(String::from));
            let exe = crate::demo::forwarder_exe()?;
            let mut child = ChildGuard(
                Command::new(exe)
                    .args(&run)
                    .stdin(Stdio::null())
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .spawn()
                    .context("starting xskfwd run")?,
            );
            let reader = |pipe: Option<Box<dyn std::io::Read + Send>>| {
                thread::spawn(move || {
                    let mut s = String::new();
                    if let Some(mut o) = pipe {
                        let _ = o.read_to_string(&mut s);
                    }
                    s
                })
            };
            g.output = Some(reader(child.0.stdout.take().map(|o| Box::new(o) as _)));
            // Drained while xskfwd runs; read when it exits during start-up.
            let errors = reader(child.0.stderr.take().map(|o| Box::new(o) as _));
            if let Err(e) = demo::wait_attached(dut, "dut1", &mut child.0, Duration::from_secs(20))
            {
                let exited = matches!(child.0.try_wait(), Ok(Some(_)));
                drop(child);
                if exited && mtu > lab::DEFAULT_MTU {
                    let why = errors.join().unwrap_or_default();
                    return Err(NotSupported(format!("MTU {mtu}: {}", refusal(&why))).into());
                }
                return Err(e);
            }
            g.child = Some(child);
        }
    }
    Ok(g)
}

/// What xskfwd's summary says about a trial.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct XskfwdEnd {
    /// Syscalls (tx kicks + fill wakeups) per forwarded packet.
    pub syscalls_per_pkt: f64,
    /// Frames xskfwd transmitted.
    pub tx_packets: u64,
    /// Frames xskfwd dropped (every reason).
    pub dropped: u64,
    /// Frames the kernel could not put into xskfwd's rx rings (ring full,
    /// no fill-ring frame): the worker did not keep up.
    pub rx_lost: u64,
    /// Of `rx_lost`, those counted as `rx_ring_full` (the rest as
    /// `rx_dropped`).
    pub rx_ring_full: u64,
    /// The summary's frame account closed (`conserved: yes`): every UMEM
    /// frame is free, in a kernel ring or in flight, none twice.
    pub conserved: bool,
    /// Packets transmitted by each queue's worker (index: queue id), over
    /// every port.
    pub tx_per_queue: Vec<u64>,
}

/// Parses the summary line of `xskfwd run --stats json`.
fn parse_end(out: &str) -> Option<XskfwdEnd> {
    let summary = out
        .lines()
        .rev()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|v| v["type"] == "summary")?;
    let tx = summary["tx_packets"].as_u64()?;
    let ports = summary["ports"].as_array()?;
    let sum = |f: &dyn Fn(&serde_json::Value) -> u64| ports.iter().map(f).sum::<u64>();
    let calls =
        sum(&|p| p["tx_kicks"].as_u64().unwrap_or(0) + p["fill_kicks"].as_u64().unwrap_or(0));
    let rx_ring_full = sum(&|p| p["xsk"]["rx_ring_full"].as_u64().unwrap_or(0));
    let rx_lost = rx_ring_full + sum(&|p| p["xsk"]["rx_dropped"].as_u64().unwrap_or(0));
    Some(XskfwdEnd {
        syscalls_per_pkt: if tx > 0 {
            calls as f64 / tx as f64
        } else {
            0.0
        },
        tx_packets: tx,
        dropped: summary["dropped"].as_u64().unwrap_or(0),
        rx_lost,
        rx_ring_full,
        conserved: summary["frames"]["conserved"] == true,
        tx_per_queue: per_queue(ports, "tx_packets"),
    })
}

/// A per-port counter summed by queue id (index), from a summary's
/// `ports` (one entry per port and queue).
fn per_queue(ports: &[serde_json::Value], key: &str) -> Vec<u64> {
    let mut v = Vec::new();
    for p in ports {
        let (Some(q), Some(n)) = (p["queue"].as_u64(), p[key].as_u64()) else {
            continue;
        };
        let q = q as usize;
        if q >= v.len() {
            v.resize(q + 1, 0);
        }
        v[q] += n;
    }
    v
}

/// Stops xskfwd (SIGTERM) and reads its summary.
fn stop_xskfwd(
    mut child: ChildGuard,
    output: Option<thread::JoinHandle<String>>,
) -> Option<XskfwdEnd> {
    child.signal(libc::SIGTERM);
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.0.try_wait() {
            break;
        }
        thread::sleep(Duration::from_millis(20));
    }
    drop(child); // killed if it did not stop, so the reader sees EOF
    parse_end(&output?.join().ok()?)
}

fn trial(
    args: &BenchArgs,
    info: &LabInfo,
    path: Path,
    size: BenchSize,
    rep: u32,
    rate: Option<u64>,
) -> Result<Trial> {
    trial_family(args, info, path, path.v6(), size, rep, rate)
}

/// The MTU of a trial at `size`: `--mtu`, or what the size needs.
fn trial_mtu(args: &BenchArgs, size: BenchSize) -> u32 {
    args.mtu.unwrap_or_else(|| size.mtu())
}

/// One trial of `path` with IPv6 (`v6`) or IPv4 frames of `size` bytes
/// (at least 82 / 62, what a stamped frame needs), offered at `rate`
/// (`None`: as fast as the generator goes) for `args.duration`. The lab's
/// veths must have [`trial_mtu`] (see [`set_lab_mtu`]); the generator's
/// engine is the fastest that sends frames this large.
pub(crate) fn trial_family(
    args: &BenchArgs,
    info: &LabInfo,
    path: Path,
    v6: bool,
    size: BenchSize,
    rep: u32,
    rate: Option<u64>,
) -> Result<Trial> {
    let size = match size {
        BenchSize::Fixed(n) => BenchSize::Fixed(if v6 { n.max(82) } else { n.max(62) }),
        BenchSize::Imix => BenchSize::Imix,
    };
    let mtu = trial_mtu(args, size);
    let engine = match Engine::for_largest(size.largest(mtu)) {
        Engine::Live => Engine::Live,
        _ => args.jumbo_engine,
    };
    let guard = start_path(args, info, path, mtu)?;
    let dur = Duration::from_secs_f64(args.duration);
    let mut sink_cfg = SinkConfig::new("dst0", SinkMode::Count);
    sink_cfg.netns = Some(info.dst_ns().to_string());
    sink_cfg.duration = dur + Duration::from_secs(5);
    let sink = Sink::start(sink_cfg)?;
    if let Some(cpu) = args.sink_cpu {
        pin_napi(info.dst_ns(), "dst0", cpu)?;
    }
    let before_prog = guard.prog.as_ref().and_then(|p| p.counters().ok());
    let mut cfg = GenConfig::new("src0", info.udp_spec(v6, size.largest(mtu)));
    cfg.netns = Some(info.src_ns().to_string());
    cfg.size = size.frame_size();
    cfg.flows = args.flows.max(1);
    cfg.duration = dur;
    cfg.rate_pps = rate;
    cfg.engine = engine;
    cfg.cpu = Some(args.gen_cpu);
    let pid = guard.child.as_ref().map(|c| c.0.id());
    let p0 = pid.and_then(proc_ticks);
    let t0 = cpu_times();
    let report = if args.queues <= 1 {
        gen::run_until(&cfg, &AtomicBool::new(false))?
    } else {
        // One generator per queue, each on its own CPU and with its share
        // of the rate; together they are one offer.
        let cpus = queue_cpus(args.gen_cpu, args.queues);
        let reports: Vec<Result<gen::GenReport>> = thread::scope(|s| {
            let handles: Vec<_> = cpus
                .iter()
                .map(|&cpu| {
                    let mut c = cfg.clone();
                    c.cpu = Some(cpu);
                    c.rate_pps = rate.map(|r| (r / u64::from(args.queues)).max(1));
                    s.spawn(move || gen::run_until(&c, &AtomicBool::new(false)))
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join()
                        .unwrap_or_else(|_| Err(anyhow::anyhow!("a generator panicked")))
                })
                .collect()
        });
        let mut all = reports.into_iter().collect::<Result<Vec<_>>>()?;
        let mut total = all.pop().context("a generator")?;
        for r in all {
            total.sent += r.sent;
            total.bytes += r.bytes;
            total.refused += r.refused;
            total.elapsed = total.elapsed.max(r.elapsed);
        }
        total
    };
    let t1 = cpu_times();
    let p1 = pid.and_then(proc_ticks);
    thread::sleep(Duration::from_millis(300));
    let prog_now = guard.prog.as_ref().and_then(|p| p.counters().ok());
    let (xdp_redirected, xdp_passed) = match (path, before_prog, prog_now) {
        (Path::XdpRedirect, Some(b), Some(n)) => {
            (Some(n.redirected - b.redirected), Some(n.passed - b.passed))
        }
        _ => (None, None),
    };
    let (delivered, delivered_bytes) = if path == Path::Ceiling {
        let now = guard.prog.as_ref().and_then(|p| p.counters().ok());
        match (before_prog, now) {
            (Some(b), Some(n)) => (n.packets - b.packets, n.bytes - b.bytes),
            _ => (0, 0),
        }
    } else {
        let s = sink.snapshot();
        (s.packets, s.bytes)
    };
    drop(sink.stop());
    let end = match guard.child {
        Some(c) => stop_xskfwd(c, guard.output),
        None => None,
    };
    drop(guard._links);
    let secs = report.elapsed.as_secs_f64().max(1e-9);
    let delivered = delivered.min(report.sent);
    Ok(Trial {
        path: path.name(),
        size,
        frame_bytes: if report.sent > 0 {
            report.bytes as f64 / report.sent as f64
        } else {
            size.largest(mtu) as f64
        },
        engine: engine.name(),
        mtu,
        rep,
        sent: report.sent,
        delivered,
        delivered_bytes,
        gen_refused: report.refused,
        xdp_redirected,
        xdp_passed,
        offered_mpps: report.sent as f64 / secs / 1e6,
        delivered_mpps: delivered as f64 / secs / 1e6,
        loss_pct: if report.sent > 0 {
            100.0 * (report.sent - delivered) as f64 / report.sent as f64
        } else {
            0.0
        },
        cpu: split(&t0, &t1),
        syscalls_per_pkt: end
            .as_ref()
            .map(|e| e.syscalls_per_pkt)
            .filter(|&s| s > 0.0),
        xskfwd: end,
        xskfwd_cpu: match (p0, p1) {
            (Some(a), Some(b)) => Some(ProcCpu::between(a, b, secs)),
            _ => None,
        },
        rate_limit: rate,
        rfc2544: false,
    })
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    match v.len() {
        0 => 0.0,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

/// Median, smallest and largest of `v` (zeros when empty).
fn spread(v: &mut [f64]) -> [f64; 3] {
    let med = median(v);
    // `median` sorted it.
    [
        med,
        v.first().copied().unwrap_or(0.0),
        v.last().copied().unwrap_or(0.0),
    ]
}

/// Median and range of one (path, size).
#[derive(Clone, Debug, serde::Serialize)]
pub struct Row {
    /// Path.
    pub path: &'static str,
    /// Frame size.
    pub size: BenchSize,
    /// Average frame length (bytes without FCS; the size itself unless
    /// IMIX).
    pub avg_frame: f64,
    /// The generator's engine.
    pub engine: &'static str,
    /// Median offered Mpps.
    pub offered_mpps: f64,
    /// Median delivered Mpps.
    pub delivered_mpps: f64,
    /// Smallest delivered.
    pub min_mpps: f64,
    /// Largest delivered.
    pub max_mpps: f64,
    /// Median loss.
    pub loss_pct: f64,
    /// Delivered Gbit/s on the wire (average frame + 24 bytes of overhead:
    /// FCS, preamble, inter-frame gap).
    pub gbps: f64,
    /// Ratio of the median to the first path's median, same size.
    pub ratio: f64,
    /// Paired ratios: each repetition against the first path's trial of
    /// the same repetition (run next to it, so machine drift cancels):
    /// median, min, max.
    pub rep_ratio: Option<[f64; 3]>,
    /// Mean CPU split per core.
    pub cpu: Vec<CpuSplit>,
    /// Median syscalls per packet (xskfwd).
    pub syscalls_per_pkt: Option<f64>,
    /// Where xskfwd's lost frames went, summed over the trials.
    pub loss_split: Option<LossSplit>,
    /// xskfwd with several queues: each queue's share of the delivered
    /// rate (Mpps, median over the repetitions; index: queue id).
    pub queue_mpps: Option<Vec<f64>>,
}

/// Where the frames an xskfwd path lost went, in percent of the lost.
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize)]
pub struct LossSplit {
    /// Never entered xskfwd: its rx ring was full (the worker's core was
    /// busy) or had no fill-ring frame.
    pub rx_ring: f64,
    /// Dropped by xskfwd (counted per reason in its summary).
    pub xskfwd: f64,
    /// Transmitted by xskfwd but not counted at the sink.
    pub after_tx: f64,
    /// Before xskfwd's socket (dut0's receive, the XDP program's passes).
    pub before: f64,
}

pub(crate) fn loss_split(ts: &[&Trial]) -> Option<LossSplit> {
    let ends: Vec<(&Trial, XskfwdEnd)> = ts
        .iter()
        .filter_map(|t| Some((*t, t.xskfwd.clone()?)))
        .collect();
    if ends.is_empty() {
        return None;
    }
    let lost: u64 = ends
        .iter()
        .map(|(t, _)| t.sent.saturating_sub(t.delivered))
        .sum();
    let rx: u64 = ends.iter().map(|(_, e)| e.rx_lost).sum();
    let fwd: u64 = ends.iter().map(|(_, e)| e.dropped).sum();
    let after: u64 = ends
        .iter()
        .map(|(t, e)| e.tx_packets.saturating_sub(t.delivered))
        .sum();
    // xskfwd's counters cover its whole run, the generator's only its
    // window, so the measured parts can add up to more than was lost:
    // then they are scaled to the loss, keeping their proportions.
    let measured = rx + fwd + after;
    let whole = measured.max(lost);
    let pct = |x: u64| {
        if whole == 0 {
            0.0
        } else {
            100.0 * x as f64 / whole as f64
        }
    };
    Some(LossSplit {
        rx_ring: pct(rx),
        xskfwd: pct(fwd),
        after_tx: pct(after),
        before: pct(lost.saturating_sub(measured)),
    })
}

/// Groups trials by (path, size), in the given path and size order.
pub fn summarise(trials: &[Trial], paths: &[&'static str]) -> Vec<Row> {
    let mut rows: Vec<Row> = Vec::new();
    let mut sizes: Vec<BenchSize> = trials.iter().map(|t| t.size).collect();
    sizes.sort_unstable();
    sizes.dedup();
    for &path in paths {
        for &size in &sizes {
            let ts: Vec<&Trial> = trials
                .iter()
                .filter(|t| t.path == path && t.size == size && t.is_rep())
                .collect();
            if ts.is_empty() {
                continue;
            }
            let mut d: Vec<f64> = ts.iter().map(|t| t.delivered_mpps).collect();
            let mut o: Vec<f64> = ts.iter().map(|t| t.offered_mpps).collect();
            let mut l: Vec<f64> = ts.iter().map(|t| t.loss_pct).collect();
            let mut s: Vec<f64> = ts.iter().filter_map(|t| t.syscalls_per_pkt).collect();
            let ncpu = ts.iter().map(|t| t.cpu.len()).max().unwrap_or(0);
            let cpu = (0..ncpu)
                .map(|c| {
                    let n = ts.len() as f64;
                    let f = |g: fn(&CpuSplit) -> f64| {
                        ts.iter().filter_map(|t| t.cpu.get(c)).map(g).sum::<f64>() / n
                    };
                    CpuSplit {
                        user: f(|x| x.user),
                        system: f(|x| x.system),
                        softirq: f(|x| x.softirq),
                    }
                })
                .collect();
            let [med, min, max] = spread(&mut d);
            let avg_frame = ts.iter().map(|t| t.frame_bytes).sum::<f64>() / ts.len() as f64;
            rows.push(Row {
                path,
                size,
                avg_frame,
                engine: ts[0].engine,
                offered_mpps: median(&mut o),
                delivered_mpps: med,
                min_mpps: min,
                max_mpps: max,
                loss_pct: median(&mut l),
                gbps: med * 1e6 * (avg_frame + 24.0) * 8.0 / 1e9,
                ratio: 0.0,
                rep_ratio: None,
                cpu,
                syscalls_per_pkt: (!s.is_empty()).then(|| median(&mut s)),
                loss_split: loss_split(&ts),
                queue_mpps: queue_rates(&ts),
            });
        }
    }
    let firsts: Vec<(BenchSize, f64)> = rows
        .iter()
        .filter(|r| Some(&r.path) == paths.first())
        .map(|r| (r.size, r.delivered_mpps))
        .collect();
    for r in &mut rows {
        let base = firsts.iter().find(|(s, _)| *s == r.size).or(firsts.first());
        r.ratio = match base {
            Some(&(_, b)) if b > 0.0 => r.delivered_mpps / b,
            _ => 0.0,
        };
        let (Some(&first), Some(&(base_size, _))) = (paths.first(), base) else {
            continue;
        };
        let mut paired: Vec<f64> = trials
            .iter()
            .filter(|t| t.is_rep())
            .filter(|t| t.path == r.path && t.size == r.size)
            .filter_map(|t| {
                let b = trials.iter().find(|b| {
                    b.is_rep() && b.path == first && b.size == base_size && b.rep == t.rep
                })?;
                (b.delivered_mpps > 0.0).then(|| t.delivered_mpps / b.delivered_mpps)
            })
            .collect();
        if !paired.is_empty() {
            r.rep_ratio = Some(spread(&mut paired));
        }
    }
    rows
}

/// Each queue's share of the delivered rate (what its worker
/// transmitted, of all xskfwd transmitted), median over `ts`; only with
/// more than one queue.
fn queue_rates(ts: &[&Trial]) -> Option<Vec<f64>> {
    let ends: Vec<(&Trial, &XskfwdEnd)> = ts
        .iter()
        .filter_map(|t| Some((*t, t.xskfwd.as_ref()?)))
        .collect();
    let queues = ends.iter().map(|(_, e)| e.tx_per_queue.len()).max()?;
    if queues < 2 {
        return None;
    }
    let rates = (0..queues)
        .map(|q| {
            let mut v: Vec<f64> = ends
                .iter()
                .filter(|(_, e)| e.tx_packets > 0)
                .map(|(t, e)| {
                    let n = e.tx_per_queue.get(q).copied().unwrap_or(0);
                    t.delivered_mpps * n as f64 / e.tx_packets as f64
                })
                .collect();
            median(&mut v)
        })
        .collect();
    Some(rates)
}

/// A (path, size) the bench could not run, and why.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Unsupported {
    /// Path.
    pub path: &'static str,
    /// Frame size.
    pub size: BenchSize,
    /// Why (xskfwd's own words).
    pub reason: String,
}

/// The results table; the cells that could not run follow it.
pub fn table(rows: &[Row], unsupported: &[Unsupported]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<13} {:>5} {:>7} {:>6} {:>9} {:>9} {:>17} {:>7} {:>7} {:>6} {:>16} {:>9}  cpu (user/sys/softirq %)",
        "path",
        "size",
        "avg B",
        "gen",
        "offered",
        "Mpps",
        "min-max",
        "loss%",
        "Gbit/s",
        "ratio",
        "paired (min-max)",
        "sys/pkt"
    );
    for r in rows {
        let cpu: Vec<String> = r
            .cpu
            .iter()
            .enumerate()
            .map(|(i, c)| format!("cpu{i} {:.0}/{:.0}/{:.0}", c.user, c.system, c.softirq))
            .collect();
        let _ = writeln!(
            out,
            "{:<13} {:>5} {:>7.1} {:>6} {:>9.3} {:>9.3} {:>8.3}-{:<8.3} {:>7.2} {:>7.3} {:>6.2} {:>16} {:>9}  {}",
            r.path,
            r.size,
            r.avg_frame,
            r.engine,
            r.offered_mpps,
            r.delivered_mpps,
            r.min_mpps,
            r.max_mpps,
            r.loss_pct,
            r.gbps,
            r.ratio,
            r.rep_ratio.map_or_else(
                || "-".to_string(),
                |[m, lo, hi]| format!("{m:.2} ({lo:.2}-{hi:.2})")
            ),
            r.syscalls_per_pkt
                .map_or_else(|| "-".to_string(), |s| format!("{s:.3}")),
            cpu.join("  ")
        );
    }
    for u in unsupported {
        let _ = writeln!(
            out,
            "{:<13} {:>5}  not supported ({})",
            u.path, u.size, u.reason
        );
    }
    for r in rows {
        if let Some(q) = &r.queue_mpps {
            let each: Vec<String> = q
                .iter()
                .enumerate()
                .map(|(i, m)| format!("queue {i} {m:.3}"))
                .collect();
            let _ = writeln!(
                out,
                "per queue {} {} B (Mpps, of {:.3} delivered): {}",
                r.path,
                r.size,
                r.delivered_mpps,
                each.join(", ")
            );
        }
    }
    for r in rows {
        if let Some(l) = r.loss_split.filter(|_| r.loss_pct > 0.0) {
            let _ = writeln!(
                out,
                "lost by {} {} B: {:.1}% not taken into xskfwd's rx ring (its core was busy), \
                 {:.1}% dropped by xskfwd, {:.1}% after its transmit, {:.1}% before its socket",
                r.path, r.size, l.rx_ring, l.xskfwd, l.after_tx, l.before
            );
        }
    }
    out
}

/// CSV of every trial.
pub fn csv(trials: &[Trial]) -> String {
    let mut out = String::from(
        "path,size,avg_frame,engine,mtu,rep,rfc2544,rate_limit,sent,delivered,offered_mpps,delivered_mpps,loss_pct,syscalls_per_pkt\n",
    );
    for t in trials {
        let _ = writeln!(
            out,
            "{},{},{:.2},{},{},{},{},{},{},{},{:.6},{:.6},{:.4},{}",
            t.path,
            t.size,
            t.frame_bytes,
            t.engine,
            t.mtu,
            t.rep,
            t.rfc2544,
            t.rate_limit.map_or(String::new(), |r| r.to_string()),
            t.sent,
            t.delivered,
            t.offered_mpps,
            t.delivered_mpps,
            t.loss_pct,
            t.syscalls_per_pkt
                .map_or(String::new(), |s| format!("{s:.5}"))
        );
    }
    out
}

/// Line colours, one per path (matplotlib's "tab10").
const COLORS: [(u8, u8, u8); 8] = [
    (0x1f, 0x77, 0xb4),
    (0xff, 0x7f, 0x0e),
    (0x2c, 0xa0, 0x2c),
    (0xd6, 0x27, 0x28),
    (0x94, 0x67, 0xbd),
    (0x8c, 0x56, 0x4b),
    (0xe3, 0x77, 0xc2),
    (0x7f, 0x7f, 0x7f),
];

/// An SVG plot (plotters' SVG backend: text stays `<text>`, no fonts
/// needed): frame size vs delivered Mpps (solid, with the repetitions'
/// min–max as error bars) and Gbit/s (dashed, right axis), one colour
/// per path. Frame sizes are evenly spaced categories.
pub fn svg(rows: &[Row], paths: &[&'static str]) -> Result<String> {
    use plotters::prelude::*;

    let mut sizes: Vec<BenchSize> = rows.iter().map(|r| r.size).collect();
    sizes.sort_unstable();
    sizes.dedup();
    let max_m = rows
        .iter()
        .map(|r| r.max_mpps)
        .fold(0.0, f64::max)
        .max(0.001)
        * 1.1;
    let max_g = rows.iter().map(|r| r.gbps).fold(0.0, f64::max).max(0.001) * 1.1;
    // Category i sits at x = i; the axis spans half a category beyond.
    let x = |size: BenchSize| sizes.iter().position(|&s| s == size).unwrap_or(0) as f64;
    let xs = -0.5..(sizes.len().max(1) as f64 - 0.5);
    let label = |v: &f64| {
        let i = v.round();
        match sizes.get(i as usize) {
            Some(s) if (v - i).abs() < 1e-6 && i >= 0.0 => s.to_string(),
            _ => String::new(),
        }
    };
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, (820, 480)).into_drawing_area();
        let err = |e: DrawingAreaErrorKind<_>| anyhow::anyhow!("drawing bench.svg: {e}");
        root.fill(&WHITE).map_err(err)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(
                "xskfwd bench: delivered rate by frame size (solid: Mpps, dashed: Gbit/s)",
                ("sans-serif", 16),
            )
            .margin(12)
            .x_label_area_size(45)
            .y_label_area_size(60)
            .right_y_label_area_size(60)
            .build_cartesian_2d(xs.clone(), 0.0..max_m)
            .map_err(err)?
            .set_secondary_coord(xs, 0.0..max_g);
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(4 * sizes.len().max(1) + 1)
            .x_label_formatter(&label)
            .y_labels(5)
            .y_label_formatter(&|v| format!("{v:.2}"))
            .x_desc("frame size (bytes)")
            .y_desc("Mpps")
            .draw()
            .map_err(err)?;
        chart
            .configure_secondary_axes()
            .y_labels(5)
            .y_label_formatter(&|v| format!("{v:.2}"))
            .y_desc("Gbit/s")
            .draw()
            .map_err(err)?;
        for (i, &p) in paths.iter().enumerate() {
            let (r, g, b) = COLORS[i % COLORS.len()];
            let c = RGBColor(r, g, b);
            let pts: Vec<&Row> = rows.iter().filter(|r| r.path == p).collect();
            if pts.is_empty() {
                continue;
            }
            chart
                .draw_series(LineSeries::new(
                    pts.iter().map(|r| (x(r.size), r.delivered_mpps)),
                    c.stroke_width(2),
                ))
                .map_err(err)?
                .label(p)
                .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], c.stroke_width(3)));
            chart
                .draw_series(
                    pts.iter()
                        .map(|r| Circle::new((x(r.size), r.delivered_mpps), 4, c.filled())),
                )
                .map_err(err)?;
            chart
                .draw_series(pts.iter().map(|r| {
                    ErrorBar::new_vertical(
                        x(r.size),
                        r.min_mpps,
                        r.delivered_mpps,
                        r.max_mpps,
                        c.stroke_width(1),
                        8,
                    )
                }))
                .map_err(err)?;
            chart
                .draw_secondary_series(DashedLineSeries::new(
                    pts.iter().map(|r| (x(r.size), r.gbps)),
                    5,
                    4,
                    c.stroke_width(1),
                ))
                .map_err(err)?;
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .draw()
            .map_err(err)?;
        root.present().map_err(err)?;
    }
    Ok(out)
}

/// RFC 2544 result of one path.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Rfc2544 {
    /// Path.
    pub path: &'static str,
    /// Frame size.
    pub size: BenchSize,
    /// Highest offered rate with no loss (Mpps).
    pub zero_loss_mpps: f64,
    /// Highest offered rate with at most 0.5 % loss (Mpps).
    pub half_pct_loss_mpps: f64,
    /// Trials run.
    pub trials: u32,
}

fn rfc2544(
    args: &BenchArgs,
    info: &LabInfo,
    path: Path,
    size: BenchSize,
    progress: &Progress,
) -> Result<(Rfc2544, Vec<Trial>)> {
    // Upper bound: what the generator offers unlimited.
    progress.begin(&format!("rfc2544 {} {size}B: unlimited", path.name()));
    let mut first = trial(args, info, path, size, 0, None)?;
    progress.done(&format!(
        "rfc2544 {} {size}B: {:.3} Mpps offered (unlimited) -> loss {:.3}%",
        path.name(),
        first.offered_mpps,
        first.loss_pct
    ));
    first.rfc2544 = true;
    let mut all = vec![first.clone()];
    let top = (first.offered_mpps * 1e6) as u64;
    let (mut lo0, mut hi0) = (0u64, top.max(1000));
    let (mut lo5, mut hi5) = (0u64, top.max(1000));
    if first.loss_pct == 0.0 {
        lo0 = top;
    }
    if first.loss_pct <= 0.5 {
        lo5 = top;
    }
    let mut steps = 0;
    while steps < args.rfc2544_steps && (hi0 - lo0 > top / 100 || hi5 - lo5 > top / 100) {
        steps += 1;
        // Alternate the two searches; each halves its interval.
        let (lo, hi, zero) = if steps % 2 == 1 && hi0 - lo0 > top / 100 {
            (lo0, hi0, true)
        } else {
            (lo5, hi5, false)
        };
        let rate = (lo + hi) / 2;
        progress.begin(&format!(
            "rfc2544 {} {size}B: {:.3} Mpps",
            path.name(),
            rate as f64 / 1e6
        ));
        let mut t = trial(args, info, path, size, steps, Some(rate.max(1000)))?;
        t.rfc2544 = true;
        let ok = if zero {
            t.loss_pct == 0.0
        } else {
            t.loss_pct <= 0.5
        };
        progress.done(&format!(
            "rfc2544 {} {size}B: {:.3} Mpps offered -> loss {:.3}%",
            path.name(),
            rate as f64 / 1e6,
            t.loss_pct
        ));
        match (zero, ok) {
            (true, true) => lo0 = rate,
            (true, false) => hi0 = rate,
            (false, true) => lo5 = rate,
            (false, false) => hi5 = rate,
        }
        // A zero-loss rate also meets the 0.5 % bound.
        if zero && ok && rate > lo5 {
            lo5 = rate.min(hi5);
        }
        all.push(t);
    }
    progress.skip(u64::from(args.rfc2544_steps - steps));
    Ok((
        Rfc2544 {
            path: path.name(),
            size,
            zero_loss_mpps: lo0 as f64 / 1e6,
            half_pct_loss_mpps: lo5 as f64 / 1e6,
            trials: steps + 1,
        },
        all,
    ))
}

/// The generator's and the forwarder's CPUs exist, and we are root (a
/// lab tool creates namespaces and attaches XDP programs); `what` names
/// the tool in the error.
pub(crate) fn lab_run_ok(what: &str, gen_cpu: usize, fwd_cpu: usize) -> Result<()> {
    let ncpu = thread::available_parallelism().map_or(1, |n| n.get());
    ensure!(
        gen_cpu < ncpu && fwd_cpu < ncpu,
        "--gen-cpu/--fwd-cpu must be below {ncpu}"
    );
    xskfwd::privileges::require_root(&format!(
        "{what} (it creates network namespaces and attaches XDP programs)"
    ))
}

/// A fresh lab for a measuring tool (`tag`: bench, soak) whose dst0 is
/// ready for a counting sink: the sink replaces the lab's pass program
/// (it is an XDP program too, so veth redirects into dst0 keep working).
pub(crate) fn sink_lab(
    tag: &str,
    gen_cpu: usize,
    fwd_cpu: usize,
    queues: u32,
) -> Result<(Lab, LabInfo)> {
    let prefix = lab::unique_prefix(tag);
    eprintln!(
        "{tag}: lab {prefix} (src ── dut ── dst, {queues} queue(s) per veth), generator on cpu{gen_cpu}, xskfwd on cpu{fwd_cpu}"
    );
    let lab = Lab::up(demo::lab_spec(&prefix, queues))?;
    let info = lab.info().clone();
    ip(info.dst_ns(), &["link", "set", "dev", "dst0", "xdp", "off"])?;
    Ok((lab, info))
}

/// Runs the benchmark; prints the table and writes the files.
pub fn run(args: &BenchArgs) -> Result<()> {
    ensure!(!args.paths.is_empty(), "--paths is empty");
    ensure!(
        args.duration > 0.0 && args.duration <= 600.0,
        "--duration must be between 0 and 600 seconds"
    );
    ensure!((1..=100).contains(&args.reps), "--reps must be 1..=100");
    ensure!(!args.sizes.is_empty(), "--sizes is empty");
    if let Some(mtu) = args.mtu {
        ensure!(
            (lab::MIN_MTU..=lab::MAX_MTU).contains(&mtu),
            "--mtu must be in {}..={}",
            lab::MIN_MTU,
            lab::MAX_MTU
        );
        for s in &args.sizes {
            ensure!(
                s.largest(mtu) <= mtu as usize + ETH_HLEN,
                "--sizes: {s}-byte frames do not fit --mtu {mtu} (at most {} bytes)",
                mtu as usize + ETH_HLEN
            );
        }
    }
    lab_run_ok("the benchmark", args.gen_cpu, args.fwd_cpu)?;
    std::fs::create_dir_all(&args.out).with_context(|| format!("creating {}", args.out))?;
    ensure!(
        (1..=crate::lab::MAX_QUEUES).contains(&args.queues),
        "--queues must be 1..={}",
        crate::lab::MAX_QUEUES
    );
    let load_start = load_average();
    let (lab, info) = path_lab("bench", args.gen_cpu, args.fwd_cpu, args.queues)?;

    let paths: Vec<&'static str> = args.paths.iter().map(|p| p.name()).collect();
    let total = args.reps as usize * args.paths.len() * args.sizes.len();
    let search_steps = if args.rfc2544 {
        args.paths.len() as u64 * (u64::from(args.rfc2544_steps) + 1)
    } else {
        0
    };
    let progress = Progress::new(total as u64 + search_steps);
    let mut trials = Vec::new();
    let mut unsupported: Vec<Unsupported> = Vec::new();
    let mut mtu = info.mtu;
    let mut n = 0;
    for rep in 0..args.reps {
        for &path in &args.paths {
            for &size in &args.sizes {
                n += 1;
                let skip = unsupported
                    .iter()
                    .any(|u| u.path == path.name() && u.size == size);
                if skip {
                    progress.skip(1);
                    continue;
                }
                progress.begin(&format!("{} {size}B rep {}", path.name(), rep + 1));
                set_lab_mtu(&info, &mut mtu, trial_mtu(args, size))?;
                let t = match trial(args, &info, path, size, rep, args.rate) {
                    Ok(t) => t,
                    Err(e) => match e.downcast::<NotSupported>() {
                        Ok(NotSupported(reason)) => {
                            progress.done(&format!(
                                "[{n}/{total}] {} {size}B: not supported ({reason})",
                                path.name()
                            ));
                            unsupported.push(Unsupported {
                                path: path.name(),
                                size,
                                reason,
                            });
                            continue;
                        }
                        Err(e) => return Err(e.context(format!("trial {} {size}B", path.name()))),
                    },
                };
                progress.done(&format!(
                    "[{n}/{total}] {} {size}B rep {} ({} generator, MTU {mtu}): {:.3} Mpps offered, {:.3} delivered",
                    path.name(),
                    rep + 1,
                    t.engine,
                    t.offered_mpps,
                    t.delivered_mpps
                ));
                trials.push(t);
            }
        }
    }
    let mut searches = Vec::new();
    if args.rfc2544 {
        let size = args.sizes.first().copied().unwrap_or(BenchSize::Fixed(64));
        set_lab_mtu(&info, &mut mtu, trial_mtu(args, size))?;
        for &path in &args.paths {
            let (r, ts) = rfc2544(args, &info, path, size, &progress)?;
            searches.push(r);
            trials.extend(ts);
        }
    }
    drop(progress);
    // Down before anything is printed: a closed stdout (`| head`) must
    // not leave the lab behind.
    let prefix = info.prefix.clone();
    lab.teardown()?;
    let load_end = load_average();
    let rows = summarise(&trials, &paths);
    let text = table(&rows, &unsupported);
    println!("{text}");
    if let (Some(a), Some(b)) = (load_start, load_end) {
        // The bench's own busy cores count too (about 2 on a 2-core lab).
        println!(
            "load average (1/5/15 min): {:.2} {:.2} {:.2} at the start, {:.2} {:.2} {:.2} at the end",
            a[0], a[1], a[2], b[0], b[1], b[2]
        );
    }
    for r in &searches {
        println!(
            "rfc2544 {:<13} {:>5} B: zero-loss throughput {:.3} Mpps, at <= 0.5% loss {:.3} Mpps ({} trials)",
            r.path, r.size, r.zero_loss_mpps, r.half_pct_loss_mpps, r.trials
        );
    }
    let dir = std::path::Path::new(&args.out);
    let doc = json!({
        "type": "bench",
        "lab": prefix,
        "duration_s": args.duration,
        "reps": args.reps,
        "gen_cpu": args.gen_cpu,
        "queues": args.queues,
        "fwd_cpu": args.fwd_cpu,
        "mtu": args.mtu,
        "load_average": { "start": load_start, "end": load_end },
        "rows": rows,
        "unsupported": unsupported,
        "trials": trials,
        "rfc2544": searches,
    });
    std::fs::write(
        dir.join("bench.json"),
        serde_json::to_string_pretty(&doc)? + "\n",
    )?;
    std::fs::write(dir.join("bench.csv"), csv(&trials))?;
    std::fs::write(dir.join("bench.svg"), svg(&rows, &paths)?)?;
    println!(
        "wrote {0}/bench.json, {0}/bench.csv, {0}/bench.svg",
        args.out
    );
    Ok(())
}

/// The 1, 5 and 15 minute load averages (`/proc/loadavg`), recorded with
/// the figures: other work on the machine moves them.
fn load_average() -> Option<[f64; 3]> {
    parse_loadavg(&std::fs::read_to_string("/proc/loadavg").ok()?)
}

fn parse_loadavg(text: &str) -> Option<[f64; 3]> {
    let mut v = text.split_whitespace().map(str::parse::<f64>);
    Some([v.next()?.ok()?, v.next()?.ok()?, v.next()?.ok()?])
}

/// Sets every veth of the lab to `want` unless `current` says it has it.
fn set_lab_mtu(info: &LabInfo, current: &mut u32, want: u32) -> Result<()> {
    if *current != want {
        lab::set_mtu(info, want)?;
        *current = want;
    }
    Ok(())
}

/// A [`sink_lab`] every path of [`Path`] can run in: IPv6 forwarding on
/// in dut, and GRO on dut0 for the kernel path.
pub(crate) fn path_lab(
    tag: &str,
    gen_cpu: usize,
    fwd_cpu: usize,
    queues: u32,
) -> Result<(Lab, LabInfo)> {
    let (lab, info) = sink_lab(tag, gen_cpu, fwd_cpu, queues)?;
    sysctl(info.dut_ns(), "net.ipv6.conf.all.forwarding=1")?;
    // A veth takes frames its peer transmits with XDP (the generator's
    // XDP_TX) only into NAPI, which needs an XDP program or GRO on it:
    // GRO on dut0 lets the kernel path (no XDP in dut) receive them.
    let st = Command::new("ip")
        .args([
            "netns",
            "exec",
            info.dut_ns(),
            "ethtool",
            "-K",
            "dut0",
            "gro",
            "on",
        ])
        .stdout(Stdio::null())
        .status()
        .context("running ethtool")?;
    ensure!(st.success(), "ethtool -K dut0 gro on failed");
    Ok((lab, info))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(path: &'static str, size: usize, d: f64) -> Trial {
        Trial {
            path,
            size: BenchSize::Fixed(size),
            frame_bytes: size as f64,
            engine: "live",
            mtu: 1500,
            rep: 0,
            sent: 100,
            delivered: 90,
            delivered_bytes: 90 * size as u64,
            gen_refused: 0,
            xdp_redirected: None,
            xdp_passed: None,
            offered_mpps: 1.0,
            delivered_mpps: d,
            loss_pct: 10.0,
            cpu: vec![CpuSplit::default(); 2],
            syscalls_per_pkt: None,
            xskfwd: None,
            xskfwd_cpu: None,
            rate_limit: None,
            rfc2544: false,
        }
    }

    #[test]
    fn medians_ranges_and_ratios() {
        let rep = |mut t: Trial, r: u32| {
            t.rep = r;
            t
        };
        let trials = vec![
            rep(t("kernel", 64, 1.0), 0),
            rep(t("kernel", 64, 3.0), 1),
            rep(t("kernel", 64, 2.0), 2),
            rep(t("x", 64, 1.0), 0),
            rep(t("x", 64, 1.5), 1),
            rep(t("x", 512, 0.5), 0),
            // The RFC 2544 search's unlimited first trial is not a
            // repetition: it changes neither medians nor paired ratios.
            Trial {
                rfc2544: true,
                ..t("x", 64, 9.0)
            },
        ];
        let rows = summarise(&trials, &["kernel", "x"]);
        assert_eq!(rows.len(), 3);
        assert_eq!(rows[0].delivered_mpps, 2.0);
        assert_eq!((rows[0].min_mpps, rows[0].max_mpps), (1.0, 3.0));
        assert_eq!(rows[0].ratio, 1.0);
        assert_eq!(rows[1].delivered_mpps, 1.25);
        assert_eq!(rows[1].ratio, 0.625);
        // No kernel figure at 512: the first size's base is used.
        assert_eq!(rows[2].ratio, 0.25);
        // Paired by repetition: x/kernel = 1.0/1.0 and 1.5/3.0.
        assert_eq!(rows[0].rep_ratio, Some([1.0, 1.0, 1.0]));
        assert_eq!(rows[1].rep_ratio, Some([0.75, 0.5, 1.0]));
        assert_eq!(rows[2].rep_ratio, Some([0.5, 0.5, 0.5]));
        assert!((rows[0].gbps - 2e6 * 88.0 * 8.0 / 1e9).abs() < 1e-9);
        // Repetitions at `--rate` are repetitions too.
        let paced = Trial {
            rate_limit: Some(1_000_000),
            ..t("kernel", 64, 0.9)
        };
        let rows = summarise(&[paced], &["kernel"]);
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].delivered_mpps, 0.9);
    }

    #[test]
    fn sizes_parse_and_pick_their_mtu_and_generator() {
        let p = |s: &str| s.parse::<BenchSize>();
        assert_eq!(p("64"), Ok(BenchSize::Fixed(64)));
        assert_eq!(p(" IMIX "), Ok(BenchSize::Imix));
        assert!(p("59").is_err() && p("9231").is_err() && p("jumbo").is_err());
        assert_eq!(p("9230"), Ok(BenchSize::Fixed(9230)));
        // The plain MTU up to 1514-byte frames, then what the frame needs.
        assert_eq!(BenchSize::Fixed(64).mtu(), 1500);
        assert_eq!(BenchSize::Fixed(1514).mtu(), 1500);
        assert_eq!(BenchSize::Fixed(1518).mtu(), 1504);
        assert_eq!(BenchSize::Fixed(9000).mtu(), 8986);
        // IMIX stays at 1500: its 1518 is clipped to 1514.
        assert_eq!(BenchSize::Imix.mtu(), 1500);
        assert_eq!(BenchSize::Imix.largest(1500), 1514);
        // Fixed sizes sort by length, the mix last; JSON: number or "imix".
        let mut v = vec![
            BenchSize::Imix,
            BenchSize::Fixed(9000),
            BenchSize::Fixed(64),
        ];
        v.sort();
        assert_eq!(serde_json::to_string(&v).unwrap(), r#"[64,9000,"imix"]"#);
        assert_eq!(
            format!("{:>5}|{:<5}|", BenchSize::Fixed(64), BenchSize::Imix),
            "   64|imix |"
        );
        // Live frames where they fit, AF_PACKET above.
        assert_eq!(
            Engine::for_largest(BenchSize::Imix.largest(1500)),
            Engine::Live
        );
        assert_eq!(Engine::for_largest(gen::LIVE_MAX_FRAME), Engine::Live);
        assert_eq!(Engine::for_largest(gen::LIVE_MAX_FRAME + 1), Engine::Ring);
    }

    #[test]
    fn load_average_is_read() {
        assert_eq!(
            parse_loadavg("1.33 1.65 2.16 3/412 30701\n"),
            Some([1.33, 1.65, 2.16])
        );
        assert_eq!(parse_loadavg("1.0 x"), None);
        assert!(load_average().is_some(), "/proc/loadavg");
    }

    #[test]
    fn xskfwd_refusal_is_its_last_error_line() {
        let err = "starting\nError: the MTU of dut0 is 8986, but ...\n\n";
        assert_eq!(refusal(err), "the MTU of dut0 is 8986, but ...");
        assert_eq!(refusal("xskfwd: error: too big\n"), "too big");
        assert_eq!(
            refusal(
                "error: invalid value 'x' for '--bind'\n\nFor more information, try '--help'.\n"
            ),
            "invalid value 'x' for '--bind'"
        );
        assert_eq!(refusal(""), "xskfwd exited during start-up");
    }

    #[test]
    fn loss_split_adds_up_to_the_loss() {
        let end = |rx_lost, dropped, tx_packets| XskfwdEnd {
            syscalls_per_pkt: 0.02,
            tx_packets,
            dropped,
            rx_lost,
            rx_ring_full: rx_lost,
            conserved: true,
            tx_per_queue: vec![tx_packets],
        };
        // sent 100, delivered 90: 10 lost; 6 never entered xskfwd, 2 it
        // dropped, 1 after its transmit, 1 unaccounted (before it).
        let mut a = t("x", 64, 1.0);
        a.xskfwd = Some(end(6, 2, 91));
        let l = loss_split(&[&a]).unwrap();
        assert_eq!(
            (l.rx_ring, l.xskfwd, l.after_tx, l.before),
            (60.0, 20.0, 10.0, 10.0)
        );
        // xskfwd counted over a longer window than the generator's: 30
        // against 10 lost is scaled down, proportions kept.
        a.xskfwd = Some(end(24, 6, 90));
        let l = loss_split(&[&a]).unwrap();
        assert_eq!(
            (l.rx_ring, l.xskfwd, l.after_tx, l.before),
            (80.0, 20.0, 0.0, 0.0)
        );
        a.xskfwd = None;
        assert_eq!(loss_split(&[&a]), None);
    }

    #[test]
    fn outputs_are_well_formed() {
        let trials = vec![t("kernel", 64, 1.0), t("kernel", 512, 0.8), t("x", 64, 0.5)];
        let rows = summarise(&trials, &["kernel", "x"]);
        let c = csv(&trials);
        assert_eq!(c.lines().count(), 4);
        assert!(c.lines().all(|l| l.split(',').count() == 14));
        let skipped = [Unsupported {
            path: "x",
            size: BenchSize::Fixed(9000),
            reason: "MTU 8986: too big".into(),
        }];
        let text = table(&rows, &skipped);
        assert!(text.contains("kernel"));
        assert!(
            text.contains("x              9000  not supported (MTU 8986: too big)"),
            "{text}"
        );
    }

    /// Checks that `s` is well-formed XML as far as an SVG needs: every
    /// element closed in order, quoted attributes, no stray `<` or `&`.
    /// Returns the element names and the non-blank text nodes (trimmed),
    /// in document order.
    fn xml_elements(s: &str) -> Result<(Vec<String>, Vec<String>), String> {
        let mut stack: Vec<String> = Vec::new();
        let mut names = Vec::new();
        let mut texts = Vec::new();
        let mut rest = s;
        while let Some(lt) = rest.find('<') {
            let text = &rest[..lt];
            check_text(text)?;
            if !text.trim().is_empty() {
                texts.push(text.trim().to_string());
            }
            let gt = rest[lt..].find('>').ok_or("unclosed tag")? + lt;
            let tag = &rest[lt + 1..gt];
            rest = &rest[gt + 1..];
            if tag.starts_with('?') || tag.starts_with("!--") {
                continue;
            }
            if let Some(name) = tag.strip_prefix('/') {
                match stack.pop() {
                    Some(open) if open == name.trim() => continue,
                    other => return Err(format!("</{name}> closes {other:?}")),
                }
            }
            let self_closing = tag.ends_with('/');
            let tag = tag.trim_end_matches('/');
            let name: String = tag.chars().take_while(|c| !c.is_whitespace()).collect();
            if name.is_empty()
                || !name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == ':')
            {
                return Err(format!("bad element name in <{tag}>"));
            }
            // Attributes: name="value" pairs.
            let mut attrs = tag[name.len()..].trim();
            while !attrs.is_empty() {
                let eq = attrs
                    .find('=')
                    .ok_or(format!("attribute without value in <{tag}>"))?;
                let q = attrs[eq + 1..].chars().next().ok_or("no quote")?;
                if q != '"' && q != '\'' {
                    return Err(format!("unquoted attribute in <{tag}>"));
                }
                let close = attrs[eq + 2..].find(q).ok_or("unclosed attribute")? + eq + 2;
                check_text(&attrs[eq + 2..close])?;
                attrs = attrs[close + 1..].trim_start();
            }
            names.push(name.clone());
            if !self_closing {
                stack.push(name);
            }
        }
        check_text(rest)?;
        if stack.is_empty() {
            Ok((names, texts))
        } else {
            Err(format!("unclosed elements {stack:?}"))
        }
    }

    fn check_text(t: &str) -> Result<(), String> {
        for (i, _) in t.match_indices('&') {
            let ent = &t[i..t[i..].find(';').map_or(t.len(), |e| i + e + 1)];
            if !["&amp;", "&lt;", "&gt;", "&quot;", "&apos;"].contains(&ent)
                && !ent.starts_with("&#")
            {
                return Err(format!("stray & in {t:?}"));
            }
        }
        if t.contains('>') {
            return Err(format!("stray > in {t:?}"));
        }
        Ok(())
    }

    #[test]
    fn the_xml_check_catches_broken_documents() {
        assert!(
            xml_elements(r#"<svg a="1"><g><text x='2'>a &amp; b</text></g><rect/></svg>"#).is_ok()
        );
        assert!(xml_elements("<svg><g></svg></g>").is_err());
        assert!(xml_elements("<svg><g></svg>").is_err());
        assert!(xml_elements("<svg a=1></svg>").is_err());
        assert!(xml_elements("<svg>a & b</svg>").is_err());
    }

    #[test]
    fn the_plot_is_well_formed_svg_with_every_path() {
        let paths = ["kernel", "xskfwd-l2", "xskfwd-l3"];
        let mut trials = Vec::new();
        for (i, p) in paths.iter().enumerate() {
            for (j, size) in [64, 512, 1514].into_iter().enumerate() {
                for rep in 0..3 {
                    trials.push(Trial {
                        rep,
                        ..t(p, size, 1.0 + i as f64 - 0.1 * j as f64 + 0.05 * rep as f64)
                    });
                }
            }
        }
        let rows = summarise(&trials, &paths);
        let s = svg(&rows, &paths).unwrap();
        let (names, texts) = xml_elements(&s).unwrap_or_else(|e| panic!("{e}:\n{s}"));
        assert_eq!(names.first().map(String::as_str), Some("svg"));
        assert!(s.trim_end().ends_with("</svg>"));
        for label in
            paths
                .into_iter()
                .chain(["64", "512", "1514", "Mpps", "Gbit/s", "frame size (bytes)"])
        {
            assert!(
                texts.iter().any(|t| t == label),
                "no text {label}: {texts:?}"
            );
        }
        // Per path: a solid Mpps line, its dashes for Gbit/s, a legend line.
        assert!(names.iter().filter(|n| *n == "polyline").count() >= 2 * paths.len());
        assert!(names.iter().filter(|n| *n == "circle").count() >= 9);
        // One size only: still a plot, at the middle.
        let one = summarise(&trials[..3], &paths[..1]);
        xml_elements(&svg(&one, &paths[..1]).unwrap()).unwrap();
        // Nothing at all: an empty plot, not a panic.
        xml_elements(&svg(&[], &[]).unwrap()).unwrap();
    }

    #[test]
    fn cpu_split_from_proc_stat_deltas() {
        let b = [CpuTimes {
            user: 10,
            system: 10,
            softirq: 0,
            total: 100,
        }];
        let a = [CpuTimes {
            user: 60,
            system: 30,
            softirq: 10,
            total: 200,
        }];
        let s = split(&b, &a);
        assert_eq!((s[0].user, s[0].system, s[0].softirq), (50.0, 20.0, 10.0));
        assert!(!cpu_times().is_empty(), "/proc/stat has per-CPU lines");
        let (u, sy) = proc_ticks(std::process::id()).expect("our own /proc/PID/stat");
        let c = ProcCpu::between((0, 0), (u, sy), 1e9);
        assert!(c.user >= 0.0 && c.system >= 0.0);
        let c = ProcCpu::between((10, 20), (10 + 50, 20 + 25), 1.0);
        let hz = clock_ticks();
        assert_eq!((c.user, c.system), (5000.0 / hz, 2500.0 / hz));
    }
}
