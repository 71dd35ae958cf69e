//! `xskfwd lab ...` and `xskfwd demo`: the veth lab from the command line,
//! and the one-command demonstration that forwards real traffic through
//! xskfwd between throwaway namespaces.
//!
//! Traffic stays inside the namespaces created here and is bounded by a
//! packet count and a duration.

use std::os::unix::process::ExitStatusExt;
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};

use crate::lab::{self, Lab, LabInfo, LabSpec};
use crate::traffic::{self, Receiver, SendLimits, Sender};
use xskfwd::bpf;
use xskfwd::config::Mac;
use xskfwd::netns;
use xskfwd::stats;

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
    /// Seconds of traffic.
    #[arg(long, default_value_t = 5.0)]
    pub duration: f64,
    /// Frame size in bytes (60..=1514, without FCS).
    #[arg(long, default_value_t = 60)]
    pub size: usize,
    /// Most packets to send.
    #[arg(long, default_value_t = 20_000_000)]
    pub count: u64,
    /// Forwarding mode: `l2` (cross-connect with MAC rewrite) or `l3`
    /// (router, routes mirrored from the dut namespace's kernel).
    #[arg(long, value_enum, default_value_t = DemoMode::L2)]
    pub mode: DemoMode,
    /// Send IPv6 instead of IPv4.
    #[arg(long)]
    pub ipv6: bool,
}

/// Demo forwarding modes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum DemoMode {
    /// L2 cross-connect.
    L2,
    /// L3 router.
    L3,
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
        LabAction::Up { prefix, queues } => {
            if lab::status(&prefix)?.is_some() {
                bail!("a lab named {prefix} exists already (remove it with `xskfwd lab down --prefix {prefix}`)");
            }
            let info = Lab::up(lab_spec(&prefix, queues))?.leak();
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

/// Runs the demo: lab up, xskfwd in dut, UDP from src to dst, rates, down.
pub fn demo(args: &DemoArgs) -> Result<()> {
    if !(args.duration > 0.0 && args.duration <= 600.0) {
        bail!("--duration must be between 0 and 600 seconds");
    }
    if !(60..=1514).contains(&args.size) {
        bail!("--size must be between 60 and 1514 bytes");
    }
    xskfwd::privileges::require_root(
        "the demo (it creates network namespaces and attaches XDP programs)",
    )?;
    let prefix = lab::unique_prefix("demo");
    println!("== bringing up the lab {prefix}: src ── dut ── dst (veth, 198.18.0.0/15)");
    let lab = Lab::up(lab_spec(&prefix, 1))?;
    let info = lab.info().clone();
    let cpus = thread::available_parallelism().map_or(1, |n| n.get());
    let run_args = match args.mode {
        DemoMode::L2 => l2_run_args(&info),
        DemoMode::L3 => l3_run_args(&info),
    };
    let mut cmd = Command::new(forwarder_exe()?);
    cmd.args(&run_args).args([
        "--duration".to_string(),
        format!("{}", args.duration + 3.0),
        "--cpus".to_string(),
        (cpus - 1).to_string(),
    ]);
    println!("== starting: xskfwd {}", run_args.join(" "));
    let mut fwd = ChildGuard(
        cmd.stdin(Stdio::null())
            .spawn()
            .context("starting xskfwd run")?,
    );
    wait_attached(info.dut_ns(), "dut0", &mut fwd.0, Duration::from_secs(10))?;

    let min = if args.ipv6 { 78 } else { 60 };
    if args.size < min {
        bail!("--size must be at least {min} bytes for this frame");
    }
    let spec = info.udp_spec(args.ipv6, args.size);
    let frames = traffic::build_frames(&spec, 1024)?;
    let receiver = Receiver::new(info.dst_ns(), "dst0")?;
    let sender = Sender::new(info.src_ns(), "src0")?;
    let dur = Duration::from_secs_f64(args.duration);
    println!(
        "== sending {}-byte UDP/{} frames src0 -> dst0 for {:.1} s through xskfwd ({})",
        args.size,
        if args.ipv6 { "IPv6" } else { "IPv4" },
        args.duration,
        match args.mode {
            DemoMode::L2 => "L2, MAC rewrite",
            DemoMode::L3 => "L3 router: LPM, TTL/hop limit, neighbour MACs",
        }
    );
    let rx = thread::spawn(move || receiver.count_for(dur + Duration::from_millis(500)));
    let sent = sender.send(&frames, SendLimits::new(args.count, dur))?;
    let got = rx
        .join()
        .map_err(|_| anyhow::anyhow!("receiver thread panicked"))??;

    // Stop xskfwd and let it print its summary.
    fwd.signal(libc::SIGTERM);
    let status = fwd.0.wait()?;
    let secs = sent.elapsed.as_secs_f64();
    println!("== result");
    println!(
        "   offered   {:>10} packets in {secs:.2} s = {} pps",
        sent.sent,
        stats::human(stats::rate(sent.sent, secs))
    );
    println!(
        "   delivered {:>10} packets of ours at dst0 = {} pps ({:.2} Gbit/s on the wire), loss {:.2}%",
        got.ours,
        stats::human(stats::rate(got.ours, secs)),
        (got.ours as f64 * (args.size as f64 + 24.0) * 8.0) / secs / 1e9,
        if sent.sent > 0 {
            100.0 * sent.sent.saturating_sub(got.ours) as f64 / sent.sent as f64
        } else {
            0.0
        }
    );
    println!(
        "   (veth runs AF_XDP in copy mode: the kernel copies every frame in and builds an skb per \
         transmitted frame; see README for what limits the rate)"
    );
    if !status.success() {
        bail!(
            "xskfwd exited with {}",
            status.code().map_or_else(
                || format!("signal {:?}", status.signal()),
                |c| c.to_string()
            )
        );
    }
    println!("== tearing down {prefix}");
    lab.teardown()?;
    if got.ours == 0 {
        bail!("no packet reached dst0: forwarding does not work here");
    }
    Ok(())
}
