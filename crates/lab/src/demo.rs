//! `xskfwd lab ...` and `xskfwd demo`: the veth lab from the command line,
//! and the one-command demonstration that puts xskfwd next to Linux
//! forwarding in a throwaway lab and explains what the figures mean.
//!
//! The demo drives the benchmark's in-kernel generator and counting sink
//! ([`bench`](mod@crate::bench)): per path (Linux forwarding, xskfwd L2,
//! xskfwd L3) one trial at the generator's top rate, then a short
//! bisection for the zero-loss rate; it prints one table on stdout and its
//! progress on stderr. Traffic stays inside the namespaces created here;
//! every trial is bounded in time, the search in trials, and the lab,
//! XDP programs and forwarder processes go away on every exit (guards).

use std::fmt::Write as _;
use std::process::Child;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};
use clap::{Args, Subcommand};

use crate::bench::{self, BenchArgs, CpuSplit, Path, Trial};
use crate::lab::{self, Lab, LabInfo, LabSpec};
use crate::progress::Progress;
use xskfwd::bpf;
use xskfwd::config::Mac;
use xskfwd::netns;

/// `xskfwd lab ...`
#[derive(Debug, Subcommand)]
pub enum LabAction {
    /// Create the lab namespaces PREFIX-src, PREFIX-dut, PREFIX-dst.
    Up {
        /// Namespace name prefix.
        #[arg(long, default_value = "xskfwd")]
        prefix: String,
        /// Queues per veth.
        #[arg(long, default_value_t = 1)]
        queues: u32,
        /// MTU of every veth (1280..=9216; above ~3.5 KB the veths carry
        /// multi-buffer XDP frames).
        #[arg(long, default_value_t = lab::DEFAULT_MTU)]
        mtu: u32,
    },
    /// Remove the lab (also after a crash).
    Down {
        /// Namespace name prefix.
        #[arg(long, default_value = "xskfwd")]
        prefix: String,
    },
    /// Show the lab's interfaces and addresses.
    Status {
        /// Namespace name prefix.
        #[arg(long, default_value = "xskfwd")]
        prefix: String,
    },
}

/// `xskfwd demo`
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Seconds per trial: every rate shown is measured over one trial
    /// this long (a path takes 1 + --steps trials).
    #[arg(long, default_value_t = 1.0)]
    pub duration: f64,
    /// Trials of the zero-loss search per path (each halves the interval
    /// left; 0: no search).
    #[arg(long, default_value_t = 5)]
    pub steps: u32,
    /// Frame size in bytes without FCS (at least 62 for IPv4 and 82 for
    /// IPv6: the generator stamps a sequence number and a time into each;
    /// default: 64 for IPv4, 82 for IPv6).
    #[arg(long)]
    pub size: Option<usize>,
    /// Which xskfwd rows to show next to Linux forwarding: `l2`
    /// (cross-connect with MAC rewrite), `l3` (router, routes mirrored from
    /// the dut namespace's kernel) or both.
    #[arg(long, value_enum, default_value_t = DemoMode::Both)]
    pub mode: DemoMode,
    /// Send IPv6 instead of IPv4 (every row).
    #[arg(long)]
    pub ipv6: bool,
    /// CPU of the generator.
    #[arg(long, default_value_t = 0)]
    pub gen_cpu: usize,
    /// CPU of xskfwd's worker.
    #[arg(long, default_value_t = 1)]
    pub fwd_cpu: usize,
}

/// Which xskfwd rows the demo shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum DemoMode {
    /// L2 cross-connect.
    L2,
    /// L3 router.
    L3,
    /// Both.
    Both,
}

/// A lab spec whose far ends (src0, dst0) carry the pass-everything XDP
/// program, so native XDP redirects into them work.
pub fn lab_spec(prefix: &str, queues: u32) -> LabSpec {
    LabSpec::new(prefix)
        .queues(queues)
        .attach_peer_xdp(|ns, ifname| {
            let ifname = ifname.to_string();
            netns::in_netns(ns, move || -> Result<()> {
                let idx = netns::ifindex(&ifname)?;
                bpf::attach_persistent(idx, bpf::Builtin::Pass)?;
                Ok(())
            })?
        })
}

/// The `xskfwd` forwarder binary the tools run: `$XSKFWD_BIN` if set,
/// otherwise the `xskfwd` next to this program (cargo builds both into the
/// same directory).
pub fn forwarder_exe() -> Result<std::path::PathBuf> {
    if let Some(p) = std::env::var_os("XSKFWD_BIN") {
        return Ok(p.into());
    }
    let me = std::env::current_exe().context("finding this program")?;
    let exe = me.with_file_name("xskfwd");
    if !exe.is_file() {
        bail!(
            "the xskfwd binary is not next to {} (build the workspace: cargo build --release, \
             or set XSKFWD_BIN)",
            me.display()
        );
    }
    Ok(exe)
}

/// Runs a lab action.
pub fn lab(action: LabAction) -> Result<()> {
    match action {
        LabAction::Up {
            prefix,
            queues,
            mtu,
        } => {
            if lab::status(&prefix)?.is_some() {
                bail!("a lab named {prefix} exists already (remove it with `xskfwd lab down --prefix {prefix}`)");
            }
            let info = Lab::up(lab_spec(&prefix, queues).mtu(mtu))?.leak();
            println!("{}", info.to_string().trim_end());
            println!(
                "run xskfwd in it:  xskfwd run --netns {} dut0 dut1 --next-hop dut0={} --next-hop dut1={}",
                info.dut_ns(),
                Mac(info.src0.mac),
                Mac(info.dst0.mac)
            );
            Ok(())
        }
        LabAction::Down { prefix } => lab::down(&prefix),
        LabAction::Status { prefix } => {
            match lab::status(&prefix)? {
                Some(info) => println!("{}", info.to_string().trim_end()),
                None => println!("no lab named {prefix}"),
            }
            Ok(())
        }
    }
}

/// A child process (an xskfwd run), killed and reaped on drop if it is
/// still running, so no early return or failed assertion leaves it behind.
#[derive(Debug)]
pub struct ChildGuard(pub Child);

impl ChildGuard {
    /// Sends `sig` to the child unless it has been reaped already (until
    /// then its pid cannot have been reused).
    pub fn signal(&mut self, sig: i32) {
        if let Ok(None) = self.0.try_wait() {
            // SAFETY: kill(2) on the pid of our own child, not yet reaped.
            unsafe { libc::kill(self.0.id() as i32, sig) };
        }
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// Arguments for `xskfwd run` in the lab's dut, cross-connecting dut0 and
/// dut1 with the MACs of the far ends as next hops.
pub fn l2_run_args(info: &LabInfo) -> Vec<String> {
    vec![
        "run".into(),
        "--netns".into(),
        info.dut_ns().into(),
        "dut0".into(),
        "dut1".into(),
        "--next-hop".into(),
        format!("dut0={}", Mac(info.src0.mac)),
        "--next-hop".into(),
        format!("dut1={}", Mac(info.dst0.mac)),
    ]
}

/// Arguments for `xskfwd run` in the lab's dut as an L3 router between
/// dut0 and dut1, with the dut namespace's routes and neighbours.
pub fn l3_run_args(info: &LabInfo) -> Vec<String> {
    vec![
        "run".into(),
        "--netns".into(),
        info.dut_ns().into(),
        "--mode".into(),
        "l3".into(),
        "dut0".into(),
        "dut1".into(),
    ]
}

/// Name of the XDP program attached to `ifname` in namespace `ns`, if any.
pub fn xdp_prog_in(ns: &str, ifname: &str) -> Result<Option<String>> {
    netns::in_netns(ns, || -> Result<Option<String>> {
        let idx = netns::ifindex(ifname)?;
        Ok(bpf::query(idx)?.map(|p| p.name))
    })?
}

/// Waits (bounded) until xskfwd's program is attached to `ifname` in `ns`.
pub fn wait_attached(ns: &str, ifname: &str, child: &mut Child, timeout: Duration) -> Result<()> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait()? {
            bail!("xskfwd exited during start-up ({status})");
        }
        if xdp_prog_in(ns, ifname)?.as_deref() == Some(bpf::PROG_NAME) {
            // xskfwd attaches only after every socket is bound and in the
            // XSKMAP; give its workers a moment to start polling.
            thread::sleep(Duration::from_millis(50));
            return Ok(());
        }
        if Instant::now() >= deadline {
            bail!("xskfwd did not attach to {ifname} within {timeout:?}");
        }
        thread::sleep(Duration::from_millis(50));
    }
}

/// Where a zero-loss search ended: the highest offered rate that lost
/// nothing and the lowest that lost frames (packets/s).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ZeroLoss {
    /// Highest rate tried with no loss (the full-load rate itself when it
    /// lost nothing); `None`: every rate tried lost frames.
    pub lossless: Option<u64>,
    /// Lowest rate tried that lost frames; `None`: even the generator's
    /// top rate lost nothing, so the path is faster than the generator.
    pub lossy: Option<u64>,
    /// Trials the search ran (not counting the full-load trial).
    pub trials: u32,
}

/// Bisects for the zero-loss rate after a full-load trial that offered
/// `offered` and delivered `delivered` packets/s, `lost` saying whether
/// it lost frames. Probing starts below what the path delivered at full
/// load (it forwards no more than that without loss), and each of at most
/// `steps` trials (`probe(rate)`: whether it lost nothing) halves the
/// interval; rates below 1000/s are not tried.
pub fn zero_loss(
    offered: u64,
    delivered: u64,
    lost: bool,
    steps: u32,
    mut probe: impl FnMut(u64) -> Result<bool>,
) -> Result<ZeroLoss> {
    if !lost {
        return Ok(ZeroLoss {
            lossless: Some(offered),
            lossy: None,
            trials: 0,
        });
    }
    let (mut lo, mut hi) = (0u64, delivered.min(offered));
    let mut out = ZeroLoss {
        lossless: None,
        lossy: Some(offered),
        trials: 0,
    };
    while out.trials < steps {
        let rate = lo + (hi - lo) / 2;
        if rate < 1000 || rate <= lo {
            break;
        }
        out.trials += 1;
        if probe(rate)? {
            lo = rate;
            out.lossless = Some(rate);
        } else {
            hi = rate;
            out.lossy = Some(out.lossy.map_or(rate, |l| l.min(rate)));
        }
    }
    Ok(out)
}

/// One row of the demo: a path, its full-load trial and its search.
#[derive(Debug)]
struct Outcome {
    label: &'static str,
    path: Path,
    full: Trial,
    search: ZeroLoss,
    /// xskfwd runs whose summary said `conserved: yes`, and all runs
    /// (every trial starts and stops its own xskfwd); `None` for Linux.
    conserved: Option<(usize, usize)>,
}

fn mpps(pps: u64) -> f64 {
    pps as f64 / 1e6
}

fn rows(mode: DemoMode) -> Vec<(&'static str, Path)> {
    let mut rows = vec![("Linux forwarding", Path::Kernel)];
    if mode != DemoMode::L3 {
        rows.push(("xskfwd L2", Path::XskfwdL2));
    }
    if mode != DemoMode::L2 {
        rows.push(("xskfwd L3", Path::XskfwdL3));
    }
    rows
}

/// Runs the demo: a lab, Linux forwarding and xskfwd side by side at
/// full load and at their zero-loss rates, the table, the lab down.
pub fn demo(args: &DemoArgs) -> Result<()> {
    ensure!(
        args.duration >= 0.1 && args.duration <= 60.0,
        "--duration must be between 0.1 and 60 seconds (per trial)"
    );
    ensure!(args.steps <= 20, "--steps must be at most 20");
    let min = if args.ipv6 { 82 } else { 62 };
    let size = args.size.unwrap_or(if args.ipv6 { 82 } else { 64 });
    ensure!(
        (min..=1514).contains(&size),
        "--size must be between {min} and 1514 bytes for this frame"
    );
    bench::lab_run_ok("the demo", args.gen_cpu, args.fwd_cpu)?;
    let started = Instant::now();
    let rows = rows(args.mode);
    let (lab, info) = bench::path_lab("demo", args.gen_cpu, args.fwd_cpu, 1)?;
    let bargs = BenchArgs {
        paths: rows.iter().map(|r| r.1).collect(),
        duration: args.duration,
        reps: 1,
        sizes: vec![bench::BenchSize::Fixed(size)],
        mtu: None,
        jumbo_engine: crate::gen::Engine::for_largest(usize::MAX),
        gen_cpu: args.gen_cpu,
        fwd_cpu: args.fwd_cpu,
        sink_cpu: None,
        rate: None,
        flows: 1,
        rfc2544: false,
        rfc2544_steps: args.steps,
        out: String::new(),
        xskfwd_args: String::new(),
        queues: 1,
    };
    let progress = Progress::new(rows.len() as u64 * (1 + u64::from(args.steps)));
    let mut outcomes = Vec::new();
    for &(label, path) in &rows {
        let run = |rate: Option<u64>| {
            bench::trial_family(
                &bargs,
                &info,
                path,
                args.ipv6,
                bench::BenchSize::Fixed(size),
                0,
                rate,
            )
            .with_context(|| format!("{label} trial"))
        };
        progress.begin(&format!("{label}: full load"));
        let full = run(None)?;
        progress.done(&format!(
            "demo: {label}: full load: {:.3} Mpps offered, {:.3} delivered, loss {:.2} %",
            full.offered_mpps, full.delivered_mpps, full.loss_pct
        ));
        let mut ends = vec![full.xskfwd.clone()];
        let search = zero_loss(
            (full.offered_mpps * 1e6) as u64,
            (full.delivered_mpps * 1e6) as u64,
            full.delivered < full.sent,
            args.steps,
            |rate| {
                progress.begin(&format!("{label}: {:.3} Mpps", mpps(rate)));
                let t = run(Some(rate))?;
                progress.done(&format!(
                    "demo: {label}: {:.3} Mpps offered: {} of {} frames delivered, loss {:.2} %",
                    mpps(rate),
                    t.delivered,
                    t.sent,
                    t.loss_pct
                ));
                ends.push(t.xskfwd);
                Ok(t.delivered >= t.sent)
            },
        )?;
        progress.skip(u64::from(args.steps - search.trials));
        let conserved = (path != Path::Kernel).then(|| {
            let yes = ends
                .iter()
                .filter(|e| e.as_ref().is_some_and(|e| e.conserved))
                .count();
            (yes, ends.len())
        });
        outcomes.push(Outcome {
            label,
            path,
            full,
            search,
            conserved,
        });
    }
    drop(progress);
    lab.teardown()?;
    let ncpu = thread::available_parallelism().map_or(1, |n| n.get());
    print!("{}", report(args, &info, &outcomes, ncpu));
    eprintln!(
        "demo: done in {:.1} s (lab {} removed)",
        started.elapsed().as_secs_f64(),
        info.prefix
    );
    for o in &outcomes {
        ensure!(
            o.full.delivered > 0,
            "{}: no frame reached dst0: forwarding does not work here",
            o.label
        );
        if let Some((yes, all)) = o.conserved {
            ensure!(
                yes == all,
                "{}: {} of {all} xskfwd runs did not account for every frame",
                o.label,
                all - yes
            );
        }
    }
    Ok(())
}

/// The zero-loss cell: `>= top` when the generator could not make the
/// path lose, the bracket otherwise.
fn zero_loss_cell(z: &ZeroLoss) -> String {
    match (z.lossless, z.lossy) {
        (Some(l), None) => format!(">= {:.3} (no loss at all)", mpps(l)),
        (Some(l), Some(h)) => format!("{:.3} (lost at {:.3})", mpps(l), mpps(h)),
        (None, Some(h)) => format!("< {:.3} (every rate lost)", mpps(h)),
        (None, None) => "-".into(),
    }
}

fn cpu_cell(cpu: &[CpuSplit], i: usize) -> String {
    cpu.get(i).map_or_else(
        || format!("cpu{i} -"),
        |c| format!("cpu{i} {:.0}/{:.0}/{:.0}", c.user, c.system, c.softirq),
    )
}

/// What the loss at full load means, next to its figure.
fn loss_line(o: &Outcome, duration: f64) -> String {
    let f = &o.full;
    let zl = match o.search.lossless {
        Some(l) => format!("whose zero-loss rate is {:.3} Mpps", mpps(l)),
        None => "that lost frames at every rate tried".into(),
    };
    if f.delivered >= f.sent {
        return match o.path {
            Path::Kernel => format!(
                "{}: no loss: the kernel forwards in the generator's own softirq on the same CPU, \
                 so the generator ({:.3} Mpps) cannot outrun it; its zero-loss rate is at least that",
                o.label, f.offered_mpps
            ),
            _ => format!(
                "{}: no loss even at the generator's top rate ({:.3} Mpps): here the generator, \
                 not the forwarder, is the limit",
                o.label, f.offered_mpps
            ),
        };
    }
    let lost = f.sent - f.delivered;
    let head = format!(
        "{}: offered {:.3} Mpps to a forwarder {zl}: {:.3} Mpps delivered, the excess ({:.2} % \
         of the frames, {:.3} M in {duration} s) lost",
        o.label,
        f.offered_mpps,
        f.delivered_mpps,
        f.loss_pct,
        mpps(lost)
    );
    match (o.path, f.xskfwd.clone(), bench::loss_split(&[f])) {
        (Path::Kernel, ..) => format!(
            "{head}: the excess is dropped inside the kernel on the way through dut \
             (`xskfwd bench` has the per-CPU split)"
        ),
        (_, Some(end), Some(l)) => format!(
            "{head}: {:.0} % at the rx ring, never entered xskfwd (counted as rx_ring_full: \
             {:.3} M; the kernel found the ring full, its worker's core was busy), {:.0} % \
             dropped by xskfwd, {:.0} % after its transmit, {:.0} % before its socket",
            l.rx_ring,
            mpps(end.rx_ring_full),
            l.xskfwd,
            l.after_tx,
            l.before
        ),
        _ => format!("{head}: xskfwd printed no summary, so where they went is unknown"),
    }
}

/// What the busy CPUs did at full load, in one line per row.
fn time_line(o: &Outcome, gen: usize, fwd: usize) -> String {
    let cpu = &o.full.cpu;
    let cells = if gen == fwd {
        cpu_cell(cpu, gen)
    } else {
        format!("{}  {}", cpu_cell(cpu, gen), cpu_cell(cpu, fwd))
    };
    let why = match (o.path, o.full.xskfwd_cpu) {
        (Path::Kernel, _) => format!(
            "cpu{gen} does it all: the generator, then dut's forwarding and dst0's receive in \
             the same softirq; cpu{fwd} has nothing to do"
        ),
        (_, Some(p)) => format!(
            "cpu{gen}: the generator and dut0's receive, which copies each frame into the UMEM; \
             cpu{fwd}: xskfwd's process {:.0} % in its own code, {:.0} % in the kernel for it \
             (copy-mode transmit: an skb and a copy per frame, and dst0's receive behind it)",
            p.user, p.system
        ),
        (_, None) => format!(
            "cpu{gen}: the generator and dut0's receive, which copies each frame into the UMEM; \
             cpu{fwd}: xskfwd, its copy-mode transmit (system) and dst0's receive (softirq)"
        ),
    };
    // The generator and the kernel's forwarding run in the kernel, and
    // xskfwd's own user time is known: user time beyond that on the two
    // CPUs belongs to other processes.
    let user = |i: usize| cpu.get(i).map_or(0.0, |c| c.user);
    let mine = o.full.xskfwd_cpu.map_or(0.0, |p| p.user);
    let other = if gen == fwd {
        (user(gen) - mine).max(0.0)
    } else {
        user(gen) + (user(fwd) - mine).max(0.0)
    };
    let noise = if other >= 10.0 {
        format!(
            "; other processes took ~{other:.0} % of a CPU in user time meanwhile (a busy \
             machine: lower figures than on a quiet one)"
        )
    } else {
        String::new()
    };
    format!("  {:<17} {cells}  {why}{noise}", o.label)
}

/// The demo's result on stdout.
fn report(args: &DemoArgs, info: &LabInfo, outcomes: &[Outcome], ncpu: usize) -> String {
    let mut s = String::new();
    let family = if args.ipv6 { "IPv6" } else { "IPv4" };
    let _ = writeln!(
        s,
        "xskfwd demo: {}-byte UDP/{family} frames through {}'s dut (veth), in-kernel generator \
         pinned to cpu{}, xskfwd's worker to cpu{}, {} s per trial",
        outcomes
            .first()
            .map_or_else(String::new, |o| o.full.size.to_string()),
        info.prefix,
        args.gen_cpu,
        args.fwd_cpu,
        args.duration
    );
    let _ = writeln!(s);
    let _ = writeln!(
        s,
        "{:<17} {:<26} {:<38} frames conserved",
        "path", "zero-loss rate, Mpps", "full load, Mpps: offered -> delivered"
    );
    for o in outcomes {
        let conserved = match o.conserved {
            None => "n/a (no UMEM)".to_string(),
            Some((y, n)) if y == n => format!("yes ({n} of {n} runs)"),
            Some((y, n)) => format!("NO ({} of {n} runs did not)", n - y),
        };
        let full = format!(
            "{:.3} -> {:.3} ({:.2} % lost)",
            o.full.offered_mpps, o.full.delivered_mpps, o.full.loss_pct
        );
        let _ = writeln!(
            s,
            "{:<17} {:<26} {full:<38} {conserved}",
            o.label,
            zero_loss_cell(&o.search)
        );
    }
    let _ = writeln!(s);
    let _ = writeln!(
        s,
        "zero-loss rate: bisection of up to {} trials of {} s below the full-load delivered rate, \
         highest rate that lost no frame (RFC 2544-style, short: it moves between runs)",
        args.steps, args.duration
    );
    let _ = writeln!(
        s,
        "frames conserved: xskfwd's summary accounted for every UMEM frame (free, in a kernel ring \
         or in flight; none twice) when it stopped, in every run"
    );
    let _ = writeln!(s);
    let _ = writeln!(s, "loss at full load, explained:");
    for o in outcomes {
        let _ = writeln!(s, "  {}", loss_line(o, args.duration));
    }
    let _ = writeln!(s);
    let _ = writeln!(
        s,
        "where the time goes at full load (each CPU's user/system/softirq %, everything on it):"
    );
    for o in outcomes {
        let _ = writeln!(s, "{}", time_line(o, args.gen_cpu, args.fwd_cpu));
    }
    let _ = writeln!(s);
    let _ = writeln!(
        s,
        "caveat: veth has no AF_XDP zero-copy: in copy mode the kernel copies every frame into \
         xskfwd's UMEM and builds an skb for every frame xskfwd sends; on this {ncpu}-CPU machine \
         the generator, the kernel and xskfwd share cores. These are veth figures from this \
         machine, not a NIC's."
    );
    let _ = writeln!(s);
    let _ = writeln!(s, "go further:");
    for (cmd, what) in [
        (
            "sudo xskfwd bench --rfc2544",
            "every path (also in-kernel XDP and the harness's ceiling), repeated, medians, JSON/CSV/SVG",
        ),
        (
            "sudo xskfwd lab up",
            "a lab that stays, to run xskfwd in by hand (xskfwd lab down removes it)",
        ),
        ("xskfwd run --help", "the forwarder's options"),
        (
            "sudo xskfwd status NAME",
            "a running forwarder's ports, rates, drops and frames (trace, metrics: README)",
        ),
        (
            "sudo xskfwd vm",
            "xskfwd in AF_XDP zero-copy mode, in a QEMU guest on virtio-net",
        ),
    ] {
        let _ = writeln!(s, "  {cmd:<29} {what}");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn search(lost: bool, limit: u64, steps: u32) -> (ZeroLoss, Vec<u64>) {
        let mut tried = Vec::new();
        let z = zero_loss(4_000_000, 2_000_000, lost, steps, |r| {
            tried.push(r);
            Ok(r <= limit)
        })
        .unwrap();
        (z, tried)
    }

    #[test]
    fn no_loss_at_full_load_needs_no_search() {
        let (z, tried) = search(false, 0, 5);
        assert!(tried.is_empty());
        assert_eq!(
            z,
            ZeroLoss {
                lossless: Some(4_000_000),
                lossy: None,
                trials: 0
            }
        );
        assert!(zero_loss_cell(&z).starts_with(">= 4.000"));
    }

    #[test]
    fn bisection_below_the_delivered_rate_brackets_the_limit() {
        let (z, tried) = search(true, 700_000, 5);
        assert_eq!(tried, [1_000_000, 500_000, 750_000, 625_000, 687_500]);
        assert_eq!(z.lossless, Some(687_500));
        assert_eq!(z.lossy, Some(750_000));
        assert_eq!(z.trials, 5);
        assert_eq!(zero_loss_cell(&z), "0.688 (lost at 0.750)");
        // Every rate lost: the bracket's top is the lowest tried.
        let (z, tried) = search(true, 0, 3);
        assert_eq!(tried, [1_000_000, 500_000, 250_000]);
        assert_eq!((z.lossless, z.lossy), (None, Some(250_000)));
        // No steps: the full-load rate is the only lossy one known.
        let (z, _) = search(true, 0, 0);
        assert_eq!((z.lossless, z.lossy, z.trials), (None, Some(4_000_000), 0));
        // Never below 1000 frames/s.
        let (z, tried) = search(true, 0, 20);
        assert!(tried.iter().all(|&r| r >= 1000), "{tried:?}");
        assert!(z.trials < 20);
    }

    #[test]
    fn the_rows_follow_the_mode() {
        let names = |m| rows(m).into_iter().map(|r| r.0).collect::<Vec<_>>();
        assert_eq!(
            names(DemoMode::Both),
            ["Linux forwarding", "xskfwd L2", "xskfwd L3"]
        );
        assert_eq!(names(DemoMode::L3), ["Linux forwarding", "xskfwd L3"]);
        assert_eq!(names(DemoMode::L2), ["Linux forwarding", "xskfwd L2"]);
    }
}
