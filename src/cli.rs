//! Command line: clap definitions and their translation into a
//! [`RawConfig`] (which validates into a [`crate::config::Config`]). No I/O
//! here but reading a routes file.
//!
//! The lab tools (`lab`, `demo`, `gen`, `sink`, `bench`) live in the
//! `xskfwd-lab` crate and binary; `xskfwd TOOL ARGS…` runs
//! `xskfwd-lab TOOL ARGS…` from the same directory, so both spellings work
//! and the forwarder never links the tools.

use clap::{Args, Parser, Subcommand};

use crate::config::{
    BindMode, Config, ConfigError, Idle, L3Input, Mode, OnPortLoss, RawConfig, RingConfig,
    RoutesFile, StatsFormat, XdpMode,
};

/// xskfwd — AF_XDP userspace packet forwarder.
#[derive(Debug, Parser)]
#[command(name = "xskfwd", version, about, long_about = None)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
#[expect(
    clippy::large_enum_variant,
    reason = "parsed once per process; boxing would only add noise"
)]
pub enum Command {
    /// Forward frames between interfaces (runs until SIGINT/SIGTERM or --duration).
    Run(RunArgs),
    /// Print the effective L3 routing and neighbour tables (kernel mirror
    /// plus static routes) as `xskfwd run --mode l3` would use them.
    Routes(RoutesArgs),
    /// Manage the veth + network-namespace lab (src ── dut ── dst)
    /// [runs xskfwd-lab lab].
    Lab(LabTool),
    /// Bring up a throwaway lab, forward real traffic through xskfwd for a
    /// few seconds, print the rates and tear everything down
    /// [runs xskfwd-lab demo].
    Demo(LabTool),
    /// Generate test traffic [runs xskfwd-lab gen].
    Gen(LabTool),
    /// Count or check test traffic [runs xskfwd-lab sink].
    Sink(LabTool),
    /// Benchmark xskfwd against the kernel and in-kernel XDP in the lab
    /// [runs xskfwd-lab bench].
    Bench(LabTool),
    /// Soak and overload xskfwd in the lab, sampling RSS, fds, CPU and
    /// drops; fails on growth or lost accounting [runs xskfwd-lab soak].
    Soak(LabTool),
    /// Ask a running instance how it is doing: ports, rates, drops by
    /// reason, queues and CPUs, frames, tables, privileges (control socket).
    Status(crate::ops::client::StatusArgs),
    /// Copy the next frames a running instance decides on (optionally only
    /// drops, or one reason) into a pcapng file, each with a comment
    /// saying what xskfwd did with it.
    Trace(crate::ops::client::TraceArgs),
}

/// The arguments of a lab tool, handed to `xskfwd-lab` unchanged (see
/// `xskfwd-lab TOOL --help`).
#[derive(Debug, Args)]
#[command(disable_help_flag = true)]
pub struct LabTool {
    /// Arguments of the tool.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub args: Vec<String>,
}

impl Command {
    /// For a lab tool: its name and arguments.
    pub fn lab_tool(&self) -> Option<(&'static str, &[String])> {
        match self {
            Command::Lab(t) => Some(("lab", &t.args)),
            Command::Demo(t) => Some(("demo", &t.args)),
            Command::Gen(t) => Some(("gen", &t.args)),
            Command::Sink(t) => Some(("sink", &t.args)),
            Command::Bench(t) => Some(("bench", &t.args)),
            Command::Soak(t) => Some(("soak", &t.args)),
            Command::Run(_) | Command::Routes(_) | Command::Status(_) | Command::Trace(_) => None,
        }
    }
}

/// Where L3 routes come from (shared by `run` and `routes`).
#[derive(Debug, Args, Clone, Default)]
pub struct RouteSourceArgs {
    /// L3: a static route, `PREFIX [via GW] dev IFACE [mtu N]` (repeatable).
    #[arg(long = "route", value_name = "ROUTE")]
    pub routes: Vec<String>,
    /// L3: a static neighbour, `IP lladdr MAC dev IFACE` (repeatable).
    #[arg(long = "neigh", value_name = "NEIGH")]
    pub neighs: Vec<String>,
    /// L3: read static routes/neighbours from a file: lines of
    /// `route PREFIX [via GW] dev IFACE [mtu N]`, `neigh IP lladdr MAC dev IFACE`,
    /// `kernel yes|no`; or TOML (`kernel = true|false`, `[[route]] prefix via dev mtu`,
    /// `[[neigh]] ip mac dev`).
    #[arg(long = "routes-file", value_name = "FILE")]
    pub routes_file: Option<String>,
    /// L3: do not mirror the kernel's routes and neighbours (static only).
    #[arg(long)]
    pub no_kernel_routes: bool,
}

impl RouteSourceArgs {
    /// Parses the routes (reads the file, if any).
    pub fn to_l3(&self) -> Result<L3Input, ConfigError> {
        let mut l3 = match &self.routes_file {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| ConfigError::Route(format!("reading {path}: {e}")))?;
                let f = RoutesFile::parse(&text, path)?;
                L3Input {
                    kernel: f.kernel,
                    routes: f.route,
                    neighs: f.neigh,
                }
            }
            None => L3Input::default(),
        };
        if self.no_kernel_routes {
            l3.kernel = false;
        }
        for r in &self.routes {
            l3.routes.push(r.parse()?);
        }
        for n in &self.neighs {
            l3.neighs.push(n.parse()?);
        }
        Ok(l3)
    }

    /// Whether any option was given.
    pub fn any(&self) -> bool {
        !self.routes.is_empty()
            || !self.neighs.is_empty()
            || self.no_kernel_routes
            || self.routes_file.is_some()
    }
}

/// `xskfwd routes`
#[derive(Debug, Args)]
pub struct RoutesArgs {
    /// The name of a running instance (`--name` of `xskfwd run`): print
    /// the tables it forwards with now (through its control socket).
    /// Otherwise: ports (interfaces xskfwd would forward between) to build
    /// the tables for; default: every interface but lo.
    #[arg(value_name = "NAME|IFACE")]
    pub ports: Vec<String>,
    /// Route sources.
    #[command(flatten)]
    pub source: RouteSourceArgs,
    /// Look inside this network namespace.
    #[arg(long)]
    pub netns: Option<String>,
}

/// `xskfwd run`
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Interfaces. Cross-connect: pairs `A B [C D ...]` (A↔B, C↔D). Hairpin: one.
    #[arg(required = true, value_name = "IFACE")]
    pub ports: Vec<String>,
    /// Forwarding mode.
    #[arg(long, value_enum, default_value_t = ModeArg::L2)]
    pub mode: ModeArg,
    /// Shorthand for `--mode hairpin`.
    #[arg(long)]
    pub hairpin: bool,
    /// L2: rewrite frames leaving IFACE to this destination MAC (and the
    /// source MAC to IFACE's own). Without it, frames pass unchanged.
    #[arg(long = "next-hop", value_name = "IFACE=MAC")]
    pub next_hops: Vec<String>,
    /// Queue ids to serve on every port (one pinned worker per queue).
    #[arg(long, value_delimiter = ',', default_value = "0")]
    pub queues: Vec<u32>,
    /// CPUs to pin workers to, round robin (default: not pinned).
    #[arg(long, value_delimiter = ',')]
    pub cpus: Vec<usize>,
    /// AF_XDP bind mode.
    #[arg(long = "bind", value_enum, default_value_t = BindMode::Auto)]
    pub bind: BindMode,
    /// XDP attach mode.
    #[arg(long = "xdp-mode", value_enum, default_value_t = XdpMode::Auto)]
    pub xdp_mode: XdpMode,
    /// Do not use the need_wakeup ring flag (kick the kernel every time).
    #[arg(long)]
    pub no_need_wakeup: bool,
    /// Frames per ring operation (1..=256).
    #[arg(long, default_value_t = RingConfig::default().batch)]
    pub batch: u32,
    /// rx ring size (power of two).
    #[arg(long, default_value_t = RingConfig::default().rx_size)]
    pub rx_size: u32,
    /// tx ring size (power of two).
    #[arg(long, default_value_t = RingConfig::default().tx_size)]
    pub tx_size: u32,
    /// Fill ring size (power of two).
    #[arg(long, default_value_t = RingConfig::default().fill_size)]
    pub fill_size: u32,
    /// Completion ring size (power of two).
    #[arg(long, default_value_t = RingConfig::default().comp_size)]
    pub comp_size: u32,
    /// UMEM frame size (power of two, 2048..=65536).
    #[arg(long, default_value_t = RingConfig::default().frame_size)]
    pub frame_size: u32,
    /// UMEM frames in total (default: enough for every ring).
    #[arg(long, default_value_t = 0)]
    pub frames: u32,
    /// What an idle worker does.
    #[arg(long, value_enum, default_value_t = IdleArg::Poll)]
    pub idle: IdleArg,
    /// Stop after this many seconds.
    #[arg(long)]
    pub duration: Option<f64>,
    /// Stats output.
    #[arg(long, value_enum, default_value_t = StatsFormat::Table)]
    pub stats: StatsFormat,
    /// Seconds between stats lines.
    #[arg(long, default_value_t = 1.0)]
    pub stats_interval: f64,
    /// Run inside this network namespace (as `ip netns exec` would).
    #[arg(long)]
    pub netns: Option<String>,
    /// When a port's interface disappears: keep forwarding between the
    /// others and rebind it when it comes back (wait), or exit non-zero
    /// (exit: for a supervisor that restarts xskfwd).
    #[arg(long, value_enum, default_value_t = OnPortLoss::Wait)]
    pub on_port_loss: OnPortLoss,
    /// After set-up, switch to this user (with no supplementary groups).
    #[arg(long, value_name = "NAME")]
    pub user: Option<String>,
    /// L3 route sources.
    #[command(flatten)]
    pub source: RouteSourceArgs,
    /// The operator's surface.
    #[command(flatten)]
    pub ops: OpsArgs,
}

/// `xskfwd run`'s operator's surface: name, control socket, metrics, logs.
#[derive(Debug, Args, Clone)]
pub struct OpsArgs {
    /// Instance name: the control socket is /run/xskfwd/NAME.sock
    /// (default: the namespace and the ports, e.g. `lab-dut.dut0-dut1`).
    #[arg(long)]
    pub name: Option<String>,
    /// The control socket's path (default /run/xskfwd/NAME.sock).
    #[arg(long, value_name = "PATH")]
    pub control_socket: Option<std::path::PathBuf>,
    /// No control socket (no `xskfwd status`, `routes NAME`, `trace`).
    #[arg(long, conflicts_with = "control_socket")]
    pub no_control_socket: bool,
    /// Serve Prometheus metrics at http://ADDR:PORT/metrics (in the
    /// namespace xskfwd runs in).
    #[arg(long, value_name = "ADDR:PORT")]
    pub metrics: Option<std::net::SocketAddr>,
    /// Log lines as text or JSON objects.
    #[arg(long, value_enum, default_value_t = crate::config::LogFormat::Text)]
    pub log_format: crate::config::LogFormat,
    /// The most verbose level logged.
    #[arg(long, value_enum, default_value_t = crate::config::LogLevel::Info)]
    pub log_level: crate::config::LogLevel,
}

impl OpsArgs {
    /// The endpoints a run offers.
    pub fn endpoints(&self) -> crate::ops::Endpoints {
        crate::ops::Endpoints {
            name: self.name.clone(),
            control_socket: self.control_socket.clone(),
            no_control_socket: self.no_control_socket,
            metrics: self.metrics,
        }
    }
}

/// Forwarding modes on the command line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ModeArg {
    /// L2 cross-connect of port pairs.
    L2,
    /// Single port, MACs swapped.
    Hairpin,
    /// L3 router (IPv4 + IPv6), routes mirrored from the kernel and/or
    /// given with --route / --routes-file.
    L3,
}

/// What an idle worker does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum IdleArg {
    /// Spin: lowest latency, burns the core.
    Busy,
    /// After a short spin, sleep in `poll(2)` on the rx sockets.
    Poll,
}

impl RunArgs {
    /// The configuration as given (not yet validated).
    pub fn to_raw(&self) -> Result<RawConfig, ConfigError> {
        let mode = if self.hairpin || self.mode == ModeArg::Hairpin {
            Mode::Hairpin
        } else if self.mode == ModeArg::L3 {
            Mode::Router
        } else {
            Mode::CrossConnect
        };
        Ok(RawConfig {
            mode,
            ports: self.ports.clone(),
            next_hops: self.next_hops.clone(),
            queues: self.queues.clone(),
            cpus: self.cpus.clone(),
            rings: RingConfig {
                frame_size: self.frame_size,
                frames: self.frames,
                rx_size: self.rx_size,
                tx_size: self.tx_size,
                fill_size: self.fill_size,
                comp_size: self.comp_size,
                batch: self.batch,
            },
            xdp_mode: self.xdp_mode,
            bind_mode: self.bind,
            need_wakeup: !self.no_need_wakeup,
            idle: match self.idle {
                IdleArg::Busy => Idle::Busy,
                IdleArg::Poll => Idle::Poll,
            },
            duration: self.duration,
            stats_interval: self.stats_interval,
            stats: self.stats,
            l3: self.source.to_l3()?,
            on_port_loss: self.on_port_loss,
            user: self.user.clone(),
            l3_options_given: self.source.any(),
        })
    }

    /// Builds and validates the configuration.
    pub fn to_config(&self) -> Result<Config, ConfigError> {
        self.to_raw()?.validate()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(args: &[&str]) -> Result<Config, String> {
        let mut v = vec!["xskfwd", "run"];
        v.extend_from_slice(args);
        let cli = Cli::try_parse_from(v).map_err(|e| e.to_string())?;
        match cli.command {
            Command::Run(r) => r.to_config().map_err(|e| e.to_string()),
            _ => unreachable!(),
        }
    }

    #[test]
    fn defaults() {
        let c = run(&["a", "b"]).unwrap();
        assert_eq!(c.mode(), Mode::CrossConnect);
        assert_eq!(c.queues(), [0]);
        let rings = RingConfig {
            frames: c.total_frames(),
            ..RingConfig::default()
        };
        assert_eq!(*c.rings(), rings);
        assert!(c.need_wakeup());
        assert_eq!(c.idle(), Idle::Poll);
    }

    #[test]
    fn next_hops_and_lists() {
        let c = run(&[
            "a",
            "b",
            "--next-hop",
            "b=02:00:00:00:00:01",
            "--queues",
            "0,1",
            "--cpus",
            "1,0",
        ])
        .unwrap();
        let mac = crate::config::parse_mac("02:00:00:00:00:01").unwrap();
        assert_eq!(c.ports()[1].next_hop(), Some(mac));
        assert_eq!(c.ports()[0].next_hop(), None);
        assert_eq!((c.queues(), c.cpus()), (&[0, 1][..], &[1, 0][..]));
    }

    #[test]
    fn clear_errors() {
        assert!(run(&["a", "b", "--rx-size", "1000"])
            .unwrap_err()
            .contains("power of two"));
        assert!(run(&["a", "b", "--next-hop", "c=02:00:00:00:00:01"])
            .unwrap_err()
            .contains("not one of the ports"));
        assert!(run(&["a", "b", "--next-hop", "b"])
            .unwrap_err()
            .contains("IFACE=MAC"));
        assert!(run(&["a", "b", "--next-hop", "b=xx"])
            .unwrap_err()
            .contains("not a MAC"));
        assert!(run(&["a"]).unwrap_err().contains("pairs"));
        assert!(run(&["a", "--hairpin"]).is_ok());
        assert!(run(&["a", "b", "--bind", "bogus"]).is_err());
    }

    #[test]
    fn l3_routes_and_neighbours() {
        let c = run(&[
            "a",
            "b",
            "--mode",
            "l3",
            "--route",
            "198.18.5.0/24 via 198.18.1.1 dev b mtu 1400",
            "--route",
            "fd00:5::/64 dev a",
            "--neigh",
            "198.18.1.1 lladdr 02:00:00:00:00:09 dev b",
        ])
        .unwrap();
        assert_eq!(c.mode(), Mode::Router);
        assert!(c.l3().kernel);
        assert_eq!(c.l3().routes.len(), 2);
        assert_eq!(c.l3().routes[0].mtu, Some(1400));
        assert_eq!(c.l3().routes[1].via, None);
        assert_eq!(c.l3().neighs[0].port, 1);
        assert!(run(&["a", "--mode", "l3"]).is_ok(), "one port is fine");
        let e = |args: &[&str]| run(args).unwrap_err();
        assert!(e(&["a", "b", "--route", "198.18.5.0/24 dev b"]).contains("--mode l3"));
        assert!(e(&["a", "--mode", "l3", "--route", "198.18.5.0/24 dev c"])
            .contains("not one of the ports"));
        assert!(e(&["a", "--mode", "l3", "--route", "198.18.5.0/24"]).contains("dev IFACE"));
        assert!(e(&["a", "--mode", "l3", "--route", "198.18.5.0/33 dev a"]).contains("too long"));
        assert!(e(&[
            "a",
            "--mode",
            "l3",
            "--route",
            "198.18.5.0/24 via fd00::1 dev a"
        ])
        .contains("other address family"));
        assert!(e(&["a", "--mode", "l3", "--route", "x dev a"]).contains("not a prefix"));
        assert!(
            e(&["a", "--mode", "l3", "--route", "1.0.0.0/8 dev a bogus 1"])
                .contains("unknown word")
        );
        assert!(
            e(&["a", "--mode", "l3", "--neigh", "198.18.1.1 lladdr zz dev a"])
                .contains("not a MAC")
        );
        assert!(e(&["a", "--mode", "l3", "--no-kernel-routes"]).contains("at least one --route"));
        assert!(
            e(&["a", "--mode", "l3", "--routes-file", "/nonexistent/x.toml"])
                .contains("reading /nonexistent")
        );
        assert!(e(&[
            "a",
            "b",
            "--mode",
            "l3",
            "--next-hop",
            "b=02:00:00:00:00:01"
        ])
        .contains("L3 mode"));
    }

    #[test]
    fn lab_tools_pass_their_arguments_through() {
        let cli = Cli::try_parse_from(["xskfwd", "bench", "--duration", "1", "-h"]).unwrap();
        assert_eq!(
            cli.command.lab_tool(),
            Some((
                "bench",
                &["--duration".to_string(), "1".into(), "-h".into()][..]
            ))
        );
        let cli = Cli::try_parse_from(["xskfwd", "lab", "up", "--prefix", "x"]).unwrap();
        assert_eq!(cli.command.lab_tool().unwrap().0, "lab");
    }

    #[test]
    fn routes_file() {
        let c = RoutesFile::from_toml(
            "kernel = false\n[[route]]\nprefix = \"198.18.5.0/24\"\nvia = \"198.18.1.1\"\ndev = \"b\"\n\n[[neigh]]\nip = \"198.18.1.1\"\nmac = \"02:00:00:00:00:09\"\ndev = \"b\"\n",
            "f.toml",
        )
        .unwrap();
        assert!(!c.kernel);
        assert_eq!(c.route[0].dev, "b");
        assert_eq!(c.neigh.len(), 1);
        let e = RoutesFile::from_toml("[[route]]\nprefix = \"1.2.3.0/24\"\nbogus = 1\n", "f.toml")
            .unwrap_err();
        assert!(e.to_string().contains("f.toml"), "{e}");
        let e = RoutesFile::from_toml(
            "[[route]]\nprefix = \"1.2.3.0/99\"\ndev = \"a\"\n",
            "f.toml",
        )
        .unwrap_err();
        assert!(e.to_string().contains("too long"), "{e}");
    }
}
