//! Command line: clap definitions and their translation into a validated
//! [`Config`]. No I/O here.

use clap::{Args, Parser, Subcommand};

use crate::config::{
    BindMode, Config, ConfigError, Idle, L3Config, Mac, Mode, PortConfig, RingConfig, StaticNeigh,
    StaticRoute, StatsFormat, XdpMode,
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
pub enum Command {
    /// Forward frames between interfaces (runs until SIGINT/SIGTERM or --duration).
    Run(RunArgs),
    /// Manage the veth + network-namespace lab (src ── dut ── dst).
    Lab {
        /// Lab action.
        #[command(subcommand)]
        action: LabAction,
    },
    /// Build nothing, bring up a throwaway lab, forward real traffic through
    /// xskfwd for a few seconds, print the rates and tear everything down.
    Demo(DemoArgs),
    /// Print the effective L3 routing and neighbour tables (kernel mirror
    /// plus static routes) as `xskfwd run --mode l3` would use them.
    Routes(RoutesArgs),
    /// Generate test traffic (in-kernel live frames, or AF_XDP tx-only).
    Gen(crate::gen::GenArgs),
    /// Count (XDP) or check (AF_XDP: loss, reordering, latency) traffic.
    Sink(crate::sink::SinkArgs),
    /// Benchmark xskfwd against the kernel and in-kernel XDP in the lab:
    /// interleaved trials, medians, RFC 2544 search, table/JSON/CSV/SVG.
    Bench(crate::bench::BenchArgs),
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
    /// L3: read static routes/neighbours from a TOML file
    /// (`kernel = true|false`, `[[route]] prefix via dev mtu`, `[[neigh]] ip mac dev`).
    #[arg(long = "routes-file", value_name = "FILE")]
    pub routes_file: Option<String>,
    /// L3: do not mirror the kernel's routes and neighbours (static only).
    #[arg(long)]
    pub no_kernel_routes: bool,
}

impl RouteSourceArgs {
    /// Parses the routes (reads the file, if any).
    pub fn to_l3(&self) -> Result<L3Config, ConfigError> {
        let mut l3 = match &self.routes_file {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| ConfigError::Route(format!("reading {path}: {e}")))?;
                L3Config::from_toml(&text, path)?
            }
            None => L3Config {
                kernel: true,
                ..L3Config::default()
            },
        };
        if self.no_kernel_routes {
            l3.kernel = false;
        }
        for r in &self.routes {
            l3.routes.push(StaticRoute::parse(r)?);
        }
        for n in &self.neighs {
            l3.neighs.push(StaticNeigh::parse(n)?);
        }
        Ok(l3)
    }
}

/// `xskfwd routes`
#[derive(Debug, Args)]
pub struct RoutesArgs {
    /// Ports (interfaces xskfwd would forward between); default: every
    /// interface but lo.
    #[arg(value_name = "IFACE")]
    pub ports: Vec<String>,
    /// Route sources.
    #[command(flatten)]
    pub source: RouteSourceArgs,
    /// Look inside this network namespace.
    #[arg(long)]
    pub netns: Option<String>,
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
    #[arg(long, value_enum, default_value_t = Idle::Poll)]
    pub idle: Idle,
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
    /// L3 route sources.
    #[command(flatten)]
    pub source: RouteSourceArgs,
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

impl RunArgs {
    /// Builds and validates the configuration.
    pub fn to_config(&self) -> Result<Config, ConfigError> {
        let mode = if self.hairpin || self.mode == ModeArg::Hairpin {
            Mode::Hairpin
        } else if self.mode == ModeArg::L3 {
            Mode::Router
        } else {
            Mode::CrossConnect
        };
        let l3 = self.source.to_l3()?;
        if mode != Mode::Router
            && (!l3.routes.is_empty()
                || !l3.neighs.is_empty()
                || self.source.no_kernel_routes
                || self.source.routes_file.is_some())
        {
            return Err(ConfigError::Route(
                "--route, --neigh, --routes-file and --no-kernel-routes need --mode l3".into(),
            ));
        }
        let mut ports: Vec<PortConfig> = self
            .ports
            .iter()
            .map(|p| PortConfig {
                ifname: p.clone(),
                next_hop_mac: None,
            })
            .collect();
        for nh in &self.next_hops {
            let (ifname, mac) = nh.split_once('=').ok_or_else(|| {
                ConfigError::Ports(format!("--next-hop '{nh}' must look like IFACE=MAC"))
            })?;
            let mac: Mac = mac.parse()?;
            let port = ports
                .iter_mut()
                .find(|p| p.ifname == ifname)
                .ok_or_else(|| {
                    ConfigError::Ports(format!(
                        "--next-hop names {ifname}, which is not one of the ports {:?}",
                        self.ports
                    ))
                })?;
            port.next_hop_mac = Some(mac);
        }
        if mode == Mode::Hairpin && ports.iter().any(|p| p.next_hop_mac.is_some()) {
            return Err(ConfigError::Ports(
                "--next-hop does not apply to hairpin mode (it swaps the MACs)".into(),
            ));
        }
        if mode == Mode::Router && ports.iter().any(|p| p.next_hop_mac.is_some()) {
            return Err(ConfigError::Ports(
                "--next-hop does not apply to L3 mode (next hops come from routes and neighbours)"
                    .into(),
            ));
        }
        let config = Config {
            mode,
            ports,
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
            idle: self.idle,
            duration: self.duration,
            stats_interval: self.stats_interval,
            stats: self.stats,
            l3,
        };
        config.validate()?;
        Ok(config)
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
        assert_eq!(c.mode, Mode::CrossConnect);
        assert_eq!(c.queues, vec![0]);
        assert_eq!(c.rings, RingConfig::default());
        assert!(c.need_wakeup);
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
        assert_eq!(c.ports[1].next_hop_mac, Some(Mac([2, 0, 0, 0, 0, 1])));
        assert_eq!(c.ports[0].next_hop_mac, None);
        assert_eq!((c.queues, c.cpus), (vec![0, 1], vec![1, 0]));
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
        assert_eq!(c.mode, Mode::Router);
        assert!(c.l3.kernel);
        assert_eq!(c.l3.routes.len(), 2);
        assert_eq!(c.l3.routes[0].mtu, Some(1400));
        assert_eq!(c.l3.routes[1].via, None);
        assert_eq!(c.l3.neighs[0].dev, "b");
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
    fn routes_file() {
        let c = L3Config::from_toml(
            "kernel = false\n[[route]]\nprefix = \"198.18.5.0/24\"\nvia = \"198.18.1.1\"\ndev = \"b\"\n\n[[neigh]]\nip = \"198.18.1.1\"\nmac = \"02:00:00:00:00:09\"\ndev = \"b\"\n",
            "f.toml",
        )
        .unwrap();
        assert!(!c.kernel);
        assert_eq!(c.routes[0].dev, "b");
        assert_eq!(c.neighs.len(), 1);
        let e = L3Config::from_toml("[[route]]\nprefix = \"1.2.3.0/24\"\nbogus = 1\n", "f.toml")
            .unwrap_err();
        assert!(e.to_string().contains("f.toml"), "{e}");
        let e = L3Config::from_toml(
            "[[route]]\nprefix = \"1.2.3.0/99\"\ndev = \"a\"\n",
            "f.toml",
        )
        .unwrap_err();
        assert!(e.to_string().contains("too long"), "{e}");
    }
}
