//! The lab tools' command line (`xskfwd-lab`, also reached as
//! `xskfwd lab|demo|gen|sink|bench`).

use clap::{Parser, Subcommand};

use crate::demo::{DemoArgs, LabAction};

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
    /// Linux forwarding vs xskfwd L2 vs xskfwd L3 in a throwaway lab, in
    /// under a minute: zero-loss and full-load rates, frames conserved,
    /// where the time goes; then everything is torn down.
    Demo(DemoArgs),
    /// Generate test traffic (in-kernel live frames, or AF_XDP tx-only).
    Gen(crate::gen::GenArgs),
    /// Count (XDP) or check (AF_XDP: loss, reordering, latency) traffic.
    Sink(crate::sink::SinkArgs),
    /// Benchmark xskfwd against the kernel and in-kernel XDP in the lab:
    /// interleaved trials, medians, RFC 2544 search, table/JSON/CSV/SVG.
    Bench(crate::bench::BenchArgs),
    /// Soak and overload xskfwd in the lab: a steady IMIX rate with ~1 %
    /// malformed frames, sampling RSS, fds, CPU and drops; then overload
    /// and a lossless recovery; fails on growth or lost accounting.
    Soak(crate::soak::SoakArgs),
    /// The zero-copy VM lab: a guest kernel under QEMU whose virtio-net
    /// does AF_XDP zero-copy, wired to throwaway src/dst namespaces; runs
    /// xskfwd there in zero-copy mode (L2, L3), checks every frame both
    /// ways, then powers off and removes everything.
    Vm(crate::vm::VmArgs),
}
