//! The lab tools' command line (`xskfwd-lab`, also reached as
//! `xskfwd lab|demo|gen|sink|bench`).

use clap::{Args, Parser, Subcommand};

/// xskfwd-lab — the veth lab, traffic generator, sink, benchmark and demo
/// that test and measure xskfwd.
#[derive(Debug, Parser)]
#[command(name = "xskfwd-lab", version, about, long_about = None)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Manage the veth + network-namespace lab (src ── dut ── dst).
    Lab {
        /// Lab action.
        #[command(subcommand)]
        action: LabAction,
    },
    /// Build nothing, bring up a throwaway lab, forward real traffic through
    /// xskfwd for a few seconds, print the rates and tear everything down.
    Demo(DemoArgs),
    /// Generate test traffic (in-kernel live frames, or AF_XDP tx-only).
    Gen(crate::gen::GenArgs),
    /// Count (XDP) or check (AF_XDP: loss, reordering, latency) traffic.
    Sink(crate::sink::SinkArgs),
    /// Benchmark xskfwd against the kernel and in-kernel XDP in the lab:
    /// interleaved trials, medians, RFC 2544 search, table/JSON/CSV/SVG.
    Bench(crate::bench::BenchArgs),
}

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
