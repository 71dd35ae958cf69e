//! Command line: clap definitions and their translation into a
//! [`RawConfig`] (which validates into a [`crate::config::Config`]). No I/O
//! here but reading a `--config` file and a routes file.
//!
//! `--config FILE` gives every option of `run` in a TOML file
//! ([`crate::config::file`]); a flag given on the command line overrides
//! the file's value, and repeatable flags (`--next-hop`, `--route`,
//! `--neigh`) add to its lists. Telling "given" from "default" needs
//! clap's value sources, so parse with [`Cli::try_parse_with_sources`] or
//! [`Cli::parse_with_sources`], not `Cli::parse`.
//!
//! The lab tools (`lab`, `demo`, `gen`, `sink`, `bench`) live in the
//! `xskfwd-lab` crate and binary; `xskfwd TOOL ARGS…` runs
//! `xskfwd-lab TOOL ARGS…` from the same directory, so both spellings work
//! and the forwarder never links the tools.

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::io::Write;
use std::path::PathBuf;

use clap::parser::ValueSource;
use clap::{ArgMatches, Args, CommandFactory, FromArgMatches, Parser, Subcommand};

use crate::config::file::{ConfigFile, FileSettings, FromFile};
use crate::config::{
    BindMode, Config, ConfigError, ControlSocketSpec, Invalid, Key, L3Input, LogFormat, LogLevel,
    OnPortLoss, RawConfig, RingConfig, RoutesFile, StatsFormat, XdpMode,
};
pub use crate::config::{IdleArg, ModeArg};

/// xskfwd — AF_XDP userspace packet forwarder.
#[derive(Debug, Parser)]
#[command(name = "xskfwd", version, about, long_about = None)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

impl Cli {
    /// Parses `args` (the program name first), recording which `run`
    /// options were given on the command line so they override a
    /// `--config` file (`Cli::try_parse_from` cannot tell them from
    /// defaults).
    pub fn try_parse_with_sources<I, T>(args: I) -> Result<Cli, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<OsString> + Clone,
    {
        let mut command = Cli::command();
        let matches = command.try_get_matches_from_mut(args)?;
        let mut cli = Cli::from_arg_matches(&matches).map_err(|e| e.format(&mut command))?;
        match (&mut cli.command, matches.subcommand()) {
            (Command::Run(run), Some((_, m))) => run.given = Some(given(m)),
            (Command::Config(ConfigCommand::Check(check)), Some((_, m))) => {
                if let Some((_, m)) = m.subcommand() {
                    check.run.given = Some(given(m));
                }
            }
            _ => {}
        }
        Ok(cli)
    }

    /// [`Cli::try_parse_with_sources`] of the process's arguments; on an
    /// error (or `--help`), prints it and exits.
    pub fn parse_with_sources() -> Cli {
        Cli::try_parse_with_sources(std::env::args_os()).unwrap_or_else(|e| e.exit())
    }
}

/// Ids of the arguments given on the command line (not defaulted).
fn given(m: &ArgMatches) -> BTreeSet<String> {
    m.ids()
        .filter(|id| m.value_source(id.as_str()) == Some(ValueSource::CommandLine))
        .map(|id| id.as_str().to_string())
        .collect()
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Forward frames between interfaces (runs until SIGINT/SIGTERM or --duration).
    Run(RunArgs),
    /// Print the effective L3 routing and neighbour tables (kernel mirror
    /// plus static routes) as `xskfwd run --mode l3` would use them.
    Routes(RoutesArgs),
    /// Manage the veth + network-namespace lab (src ── dut ── dst)
    /// [runs xskfwd-lab lab].
    Lab(LabTool),
    /// Bring up a throwaway lab and show, in under a minute, Linux
    /// forwarding vs xskfwd L2 vs L3 side by side (zero-loss and full-load
    /// rates, frames conserved, where the time goes), then tear it down
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
    /// Run xskfwd in AF_XDP zero-copy mode inside a QEMU guest whose
    /// virtio-net supports it, between throwaway namespaces, and check
    /// every frame [runs xskfwd-lab vm].
    Vm(LabTool),
    /// Ask a running instance how it is doing: ports, rates, drops by
    /// reason, queues and CPUs, frames, tables, privileges (control socket).
    Status(crate::ops::client::StatusArgs),
    /// Copy the next frames a running instance decides on (optionally only
    /// drops, or one reason) into a pcapng file, each with a comment
    /// saying what xskfwd did with it.
    Trace(crate::ops::client::TraceArgs),
    /// Configuration files for `xskfwd run --config`.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Print a shell completion script to stdout (e.g.
    /// `xskfwd completions bash > /etc/bash_completion.d/xskfwd`).
    Completions(CompletionsArgs),
    /// Print the man page of xskfwd and its subcommands (roff) to stdout
    /// (e.g. `xskfwd man | man -l -`).
    Man,
}

/// `xskfwd config …`
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Validate a configuration file (with any `run` flags laid over it)
    /// and print the effective configuration as TOML that `--config`
    /// reads back: every key, defaults filled in. Needs no root and no
    /// interfaces; exits 1 with the error when it is invalid.
    Check(CheckArgs),
}

/// `xskfwd config check FILE [run flags…]`
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The configuration file.
    #[arg(value_name = "FILE", value_hint = clap::ValueHint::FilePath)]
    pub file: PathBuf,
    /// Options of `xskfwd run`, laid over the file as `run` would.
    #[command(flatten)]
    pub run: RunArgs,
}

impl CheckArgs {
    /// The effective configuration as TOML, or what is wrong.
    pub fn check(&self) -> Result<String, ConfigError> {
        if self.run.config.is_some() {
            return Err(ConfigError::BadValue {
                flag: "config",
                why: "`xskfwd config check FILE` takes the file as FILE; give it once".into(),
            });
        }
        let file = ConfigFile::load(&self.file)?;
        let config = self.run.config_with(Some(&file))?;
        Ok(crate::config::file::to_toml(&config))
    }
}

/// `xskfwd completions SHELL`
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// Writes the completion script of `shell` for xskfwd to `out`.
pub fn completions(shell: clap_complete::Shell, out: &mut dyn Write) {
    clap_complete::generate(shell, &mut Cli::command(), "xskfwd", out);
}

/// Writes the man page of xskfwd and, after it, one page per subcommand
/// (`xskfwd-run(1)`, `xskfwd-config-check(1)`, …) to `out`, as roff.
pub fn man_page(out: &mut dyn Write) -> std::io::Result<()> {
    fn render(cmd: &clap::Command, out: &mut dyn Write) -> std::io::Result<()> {
        let source = format!("xskfwd {}", env!("CARGO_PKG_VERSION"));
        clap_mangen::Man::new(cmd.clone())
            .source(source)
            .render(out)?;
        for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
            render(sub, out)?;
        }
        Ok(())
    }
    // Building names the subcommands xskfwd-run, xskfwd-config-check, …
    let mut cmd = Cli::command();
    cmd.build();
    render(&cmd, out)
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
            Command::Vm(t) => Some(("vm", &t.args)),
            Command::Run(_)
            | Command::Routes(_)
            | Command::Status(_)
            | Command::Trace(_)
            | Command::Config(_)
            | Command::Completions(_)
            | Command::Man => None,
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
                let f = read_routes_file(path)?;
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

/// Reads and parses a routes file.
fn read_routes_file(path: &str) -> Result<RoutesFile, ConfigError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| ConfigError::Route(format!("reading {path}: {e}")))?;
    RoutesFile::parse(&text, path)
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
    /// Interfaces. Cross-connect: pairs `A B [C D ...]` (A↔B, C↔D). Hairpin:
    /// one. Required here or as `ports` in the --config file.
    #[arg(value_name = "IFACE")]
    pub ports: Vec<String>,
    /// Read the options from this TOML file (keys named like the flags, see
    /// packaging/xskfwd.toml); flags given here override its values, and
    /// --next-hop/--route/--neigh add to its lists.
    #[arg(long, value_name = "FILE", value_hint = clap::ValueHint::FilePath)]
    pub config: Option<PathBuf>,
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
    /// UMEM frame size (power of two, 2048..=the page size). A port whose
    /// MTU needs more than one frame (jumbo frames) turns AF_XDP
    /// multi-buffer on: packets travel as chains of frames.
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
    /// Serve metrics on this address (default: off).
    #[arg(long, value_name = "ADDR:PORT")]
    pub metrics: Option<String>,
    /// Instance name (1-64 of A-Z a-z 0-9 _ . -): names the control socket
    /// [default: the namespace and the ports, e.g. `lab-dut.dut0-dut1`].
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// The control socket [default: /run/xskfwd/NAME.sock].
    #[arg(long, value_name = "PATH", value_hint = clap::ValueHint::FilePath)]
    pub control_socket: Option<PathBuf>,
    /// Do not open a control socket.
    #[arg(long, conflicts_with = "control_socket")]
    pub no_control_socket: bool,
    /// Log format.
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// Least severe messages logged.
    #[arg(long, value_enum, default_value_t = LogLevel::Info)]
    pub log_level: LogLevel,
    /// L3 route sources.
    #[command(flatten)]
    pub source: RouteSourceArgs,
    /// Ids of the options given on the command line (`None`: parsed
    /// without value sources, so a --config file cannot be used).
    #[arg(skip)]
    given: Option<BTreeSet<String>>,
}

impl RunArgs {
    /// The configuration as given (not yet validated): the command line
    /// laid over the --config file, if any.
    pub fn to_raw(&self) -> Result<RawConfig, ConfigError> {
        let file = self.config.as_deref().map(ConfigFile::load).transpose()?;
        self.merge(file.as_ref())
            .map(|(raw, _)| raw)
            .map_err(|invalid| explain(file.as_ref(), invalid))
    }

    /// Builds and validates the configuration (reading the --config file,
    /// if any).
    pub fn to_config(&self) -> Result<Config, ConfigError> {
        let file = self.config.as_deref().map(ConfigFile::load).transpose()?;
        self.config_with(file.as_ref())
    }

    /// The command line laid over `file`, validated; an error about a
    /// value from the file names its line and key.
    pub(crate) fn config_with(&self, file: Option<&ConfigFile>) -> Result<Config, ConfigError> {
        let (raw, from_file) = self.merge(file).map_err(|i| explain(file, i))?;
        raw.validate_keyed().map_err(|invalid| match file {
            Some(f) => f.explain(invalid, |k| from_file.contains(k)),
            None => invalid.error,
        })
    }

    /// Whether the option with clap id `id` counts as given on the
    /// command line (without a file, every value does).
    fn given(&self, id: &str, file: Option<&ConfigFile>) -> bool {
        file.is_none() || self.given.as_ref().is_some_and(|g| g.contains(id))
    }

    /// The command line over `file`: a flag given on the command line
    /// wins, then the file's key, then the flag's default; `--next-hop`,
    /// `--route` and `--neigh` follow the file's items.
    fn merge(&self, file: Option<&ConfigFile>) -> Result<(RawConfig, FromFile), Invalid> {
        let invalid = |keys: &[Key], error| Invalid {
            keys: keys.to_vec(),
            error,
        };
        if file.is_some() && self.given.is_none() {
            return Err(invalid(
                &[],
                ConfigError::BadValue {
                    flag: "config",
                    why: "internal error: the command line was parsed without value sources \
                          (use Cli::try_parse_with_sources)"
                        .into(),
                },
            ));
        }
        let empty = FileSettings::default();
        let f = file.map_or(&empty, ConfigFile::settings);
        let mut from = FromFile::default();
        let given = |id: &str| self.given(id, file);
        // The file's value if it has one and the command line did not
        // give `ids`, else the command line's (given or default).
        macro_rules! pick {
            ($ids:expr, $key:literal, $file:expr, $cli:expr) => {
                match $file {
                    Some(v) if !$ids.iter().any(|id: &&str| given(id)) => {
                        from.keys.insert($key);
                        v
                    }
                    _ => $cli,
                }
            };
        }
        let cli_mode = if self.hairpin {
            ModeArg::Hairpin
        } else {
            self.mode
        };
        let mode: ModeArg = pick!(["mode", "hairpin"], "mode", f.mode, cli_mode);
        let cli_socket = match (&self.control_socket, self.no_control_socket) {
            (_, true) => ControlSocketSpec::Off,
            (Some(p), false) => ControlSocketSpec::Path(p.clone()),
            (None, false) => ControlSocketSpec::Default,
        };
        let rings = RingConfig {
            frame_size: pick!(["frame_size"], "frame-size", f.frame_size, self.frame_size),
            frames: pick!(["frames"], "frames", f.frames, self.frames),
            rx_size: pick!(["rx_size"], "rx-size", f.rx_size, self.rx_size),
            tx_size: pick!(["tx_size"], "tx-size", f.tx_size, self.tx_size),
            fill_size: pick!(["fill_size"], "fill-size", f.fill_size, self.fill_size),
            comp_size: pick!(["comp_size"], "comp-size", f.comp_size, self.comp_size),
            batch: pick!(["batch"], "batch", f.batch, self.batch),
        };
        let routes_file: Option<String> = pick!(
            ["routes_file"],
            "routes-file",
            f.routes_file.clone().map(Some),
            self.source.routes_file.clone()
        );
        let mut l3 = L3Input::default();
        if let Some(path) = &routes_file {
            let keys: &[Key] = if from.keys.contains("routes-file") {
                &[Key::Top("routes-file")]
            } else {
                &[]
            };
            let rf = read_routes_file(path).map_err(|e| invalid(keys, e))?;
            l3.kernel = rf.kernel;
            l3.routes = rf.route;
            l3.neighs = rf.neigh;
        }
        if self.source.no_kernel_routes {
            l3.kernel = false;
        } else if let Some(k) = f.kernel {
            from.keys.insert("kernel");
            l3.kernel &= k;
        }
        l3.routes.splice(0..0, f.route.iter().cloned());
        l3.neighs.splice(0..0, f.neigh.iter().cloned());
        (from.routes, from.neighs) = (f.route.len(), f.neigh.len());
        for r in &self.source.routes {
            l3.routes.push(r.parse().map_err(|e| invalid(&[], e))?);
        }
        for n in &self.source.neighs {
            l3.neighs.push(n.parse().map_err(|e| invalid(&[], e))?);
        }
        from.next_hops = f.next_hop.len();
        let raw = RawConfig {
            mode: mode.into(),
            ports: pick!(["ports"], "ports", f.ports.clone(), self.ports.clone()),
            next_hops: f.next_hop.iter().chain(&self.next_hops).cloned().collect(),
            queues: pick!(["queues"], "queues", f.queues.clone(), self.queues.clone()),
            cpus: pick!(["cpus"], "cpus", f.cpus.clone(), self.cpus.clone()),
            rings,
            xdp_mode: pick!(["xdp_mode"], "xdp-mode", f.xdp_mode, self.xdp_mode),
            bind_mode: pick!(["bind"], "bind", f.bind, self.bind),
            need_wakeup: pick!(
                ["no_need_wakeup"],
                "need-wakeup",
                f.need_wakeup,
                !self.no_need_wakeup
            ),
            idle: pick!(["idle"], "idle", f.idle, self.idle).into(),
            duration: pick!(
                ["duration"],
                "duration",
                f.duration.map(Some),
                self.duration
            ),
            stats_interval: pick!(
                ["stats_interval"],
                "stats-interval",
                f.stats_interval,
                self.stats_interval
            ),
            stats: pick!(["stats"], "stats", f.stats, self.stats),
            l3,
            on_port_loss: pick!(
                ["on_port_loss"],
                "on-port-loss",
                f.on_port_loss,
                self.on_port_loss
            ),
            user: pick!(
                ["user"],
                "user",
                f.user.clone().map(Some),
                self.user.clone()
            ),
            netns: pick!(
                ["netns"],
                "netns",
                f.netns.clone().map(Some),
                self.netns.clone()
            ),
            metrics: pick!(
                ["metrics"],
                "metrics",
                f.metrics.clone().map(Some),
                self.metrics.clone()
            ),
            name: pick!(
                ["name"],
                "name",
                f.name.clone().map(Some),
                self.name.clone()
            ),
            control_socket: pick!(
                ["control_socket", "no_control_socket"],
                "control-socket",
                f.control_socket.clone(),
                cli_socket
            ),
            log_format: pick!(["log_format"], "log-format", f.log_format, self.log_format),
            log_level: pick!(["log_level"], "log-level", f.log_level, self.log_level),
            l3_options_given: self.source.any()
                || f.kernel.is_some()
                || !f.route.is_empty()
                || !f.neigh.is_empty()
                || f.routes_file.is_some(),
        };
        Ok((raw, from))
    }
}

/// An error of [`RunArgs::merge`], at its line of `file` when the value
/// came from there.
fn explain(file: Option<&ConfigFile>, invalid: Invalid) -> ConfigError {
    match file {
        Some(f) => f.explain(invalid, |k| *k == Key::Top("routes-file")),
        None => invalid.error,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Idle, Mode};

    fn run(args: &[&str]) -> Result<Config, String> {
        let mut v = vec!["xskfwd", "run"];
        v.extend_from_slice(args);
        let cli = Cli::try_parse_with_sources(v).map_err(|e| e.to_string())?;
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

    /// A configuration file in a fresh directory, removed on drop.
    struct TempFile(PathBuf);

    impl TempFile {
        fn new(tag: &str, text: &str) -> TempFile {
            let dir = std::env::temp_dir().join(format!("xskfwd-cli-{}-{tag}", std::process::id()));
            std::fs::create_dir_all(&dir).unwrap();
            let path = dir.join("xskfwd.toml");
            std::fs::write(&path, text).unwrap();
            TempFile(path)
        }

        fn arg(&self) -> &str {
            self.0.to_str().unwrap()
        }
    }

    impl Drop for TempFile {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(self.0.parent().unwrap());
        }
    }

    #[test]
    fn new_flags_and_their_defaults() {
        let c = run(&["a", "b"]).unwrap();
        assert_eq!(c.metrics(), None);
        assert_eq!(
            c.name(),
            None,
            "derived at run time from the namespace and ports"
        );
        assert_eq!(c.control_socket(), &ControlSocketSpec::Default);
        assert_eq!(
            (c.log_format(), c.log_level()),
            (LogFormat::Text, LogLevel::Info)
        );
        assert_eq!(c.netns(), None);
        let c = run(&[
            "a",
            "b",
            "--metrics",
            "[::1]:9100",
            "--name",
            "edge-1",
            "--log-format",
            "json",
            "--log-level",
            "debug",
            "--netns",
            "dut",
        ])
        .unwrap();
        assert_eq!(c.metrics(), Some("[::1]:9100".parse().unwrap()));
        assert_eq!(c.name(), Some("edge-1"));
        assert_eq!(c.control_socket(), &ControlSocketSpec::Default);
        assert_eq!(
            (c.log_format(), c.log_level()),
            (LogFormat::Json, LogLevel::Debug)
        );
        assert_eq!(c.netns(), Some("dut"));
        let c = run(&["a", "b", "--control-socket", "/tmp/x.sock"]).unwrap();
        assert_eq!(
            c.control_socket(),
            &ControlSocketSpec::Path("/tmp/x.sock".into())
        );
        assert_eq!(
            run(&["a", "b", "--no-control-socket"])
                .unwrap()
                .control_socket(),
            &ControlSocketSpec::Off
        );
        let e = run(&["a", "b", "--no-control-socket", "--control-socket", "/x"]).unwrap_err();
        assert!(e.contains("cannot be used with"), "{e}");
        let e = run(&["a", "b", "--metrics", "9100"]).unwrap_err();
        assert!(e.starts_with("--metrics: '9100' is not ADDR:PORT"), "{e}");
        assert!(run(&["a", "b", "--name", ".x"])
            .unwrap_err()
            .starts_with("--name:"));
        assert!(run(&["a", "b", "--log-level", "trace"]).is_err());
        assert!(run(&[]).unwrap_err().starts_with("no ports"));
    }

    #[test]
    fn flags_given_override_the_file_and_defaults_do_not() {
        let f = TempFile::new(
            "override",
            "ports = [\"a\", \"b\"]\nrx-size = 1024\nstats = \"none\"\nqueues = [0, 1]\nname = \"f\"\ncontrol-socket = false\nnext-hop = [\"a=02:00:00:00:00:0a\"]\n",
        );
        let c = run(&["--config", f.arg()]).unwrap();
        assert_eq!(c.rings().rx_size, 1024);
        assert_eq!(
            c.stats(),
            StatsFormat::None,
            "the default of --stats does not override"
        );
        assert_eq!(c.queues(), [0, 1]);
        assert_eq!(c.name(), Some("f"));
        assert_eq!(c.control_socket(), &ControlSocketSpec::Off);
        let c = run(&[
            "--config",
            f.arg(),
            "--rx-size",
            "2048",
            "--stats",
            "table",
            "--queues",
            "3",
            "--control-socket",
            "/tmp/y.sock",
            "--next-hop",
            "b=02:00:00:00:00:0b",
        ])
        .unwrap();
        assert_eq!(
            c.rings().rx_size,
            2048,
            "a flag given equal to its default still wins"
        );
        assert_eq!(c.stats(), StatsFormat::Table);
        assert_eq!(c.queues(), [3]);
        assert_eq!(
            c.control_socket(),
            &ControlSocketSpec::Path("/tmp/y.sock".into())
        );
        let hops: Vec<_> = c.ports().iter().map(|p| p.next_hop().is_some()).collect();
        assert_eq!(hops, [true, true], "--next-hop adds to the file's");
        let c = run(&["--config", f.arg(), "c", "d", "--hairpin"]);
        assert!(c
            .unwrap_err()
            .contains("hairpin mode takes exactly one port"));
        let c = run(&["--config", f.arg(), "c", "d"]).unwrap_err();
        assert!(c.contains("names a, which is not one of the ports"), "{c}");
        // A bad value on the command line is the command line's error.
        let e = run(&["--config", f.arg(), "--rx-size", "1000"]).unwrap_err();
        assert_eq!(
            e,
            "--rx-size 1000 must be a power of two between 64 and 65536"
        );
        let e = run(&["--config", f.arg(), "--frames", "1000"]).unwrap_err();
        assert!(e.starts_with("--frames 1000 is too small"), "{e}");
    }

    #[test]
    fn routes_from_the_file_and_the_command_line_add_up() {
        let routes = TempFile::new("routes-file", "route 10.9.0.0/16 dev b\nkernel no\n");
        let f = TempFile::new(
            "routes",
            &format!(
                "mode = \"l3\"\nports = [\"a\", \"b\"]\nroutes-file = {:?}\n[[route]]\nprefix = \"10.0.0.0/8\"\ndev = \"a\"\n[[neigh]]\nip = \"10.0.0.1\"\nmac = \"02:00:00:00:00:01\"\ndev = \"a\"\n",
                routes.arg()
            ),
        );
        let c = run(&["--config", f.arg(), "--route", "10.1.0.0/16 dev b"]).unwrap();
        let prefixes: Vec<String> = c.l3().routes.iter().map(|r| r.prefix.to_string()).collect();
        assert_eq!(prefixes, ["10.0.0.0/8", "10.9.0.0/16", "10.1.0.0/16"]);
        assert_eq!(c.l3().neighs.len(), 1);
        assert!(!c.l3().kernel, "the routes file said kernel no");
        let e = run(&["--config", f.arg(), "--route", "10.1.0.0/16 dev c"]).unwrap_err();
        assert!(
            !e.contains("line"),
            "a command-line route is not the file's: {e}"
        );
        let gone = TempFile::new("gone", "");
        let f = TempFile::new(
            "routes-missing",
            &format!(
                "mode = \"l3\"\nports = [\"a\"]\n\nroutes-file = \"{}/none.conf\"\n",
                gone.0.parent().unwrap().display()
            ),
        );
        let e = run(&["--config", f.arg()]).unwrap_err();
        assert!(e.contains("line 4: key `routes-file`: reading "), "{e}");
    }

    #[test]
    fn a_file_needs_the_value_sources() {
        let f = TempFile::new("sources", "ports = [\"a\", \"b\"]\n");
        let cli = Cli::try_parse_from(["xskfwd", "run", "--config", f.arg()]).unwrap();
        let Command::Run(r) = cli.command else {
            unreachable!()
        };
        assert!(r
            .to_config()
            .unwrap_err()
            .to_string()
            .contains("value sources"));
    }

    fn check(args: &[&str]) -> Result<String, String> {
        let mut v = vec!["xskfwd", "config", "check"];
        v.extend_from_slice(args);
        let cli = Cli::try_parse_with_sources(v).map_err(|e| e.to_string())?;
        match cli.command {
            Command::Config(ConfigCommand::Check(c)) => c.check().map_err(|e| e.to_string()),
            _ => unreachable!(),
        }
    }

    #[test]
    fn config_check_prints_the_effective_configuration() {
        let f = TempFile::new(
            "check",
            "ports = [\"a\", \"b\"]\n# a comment\nrx-size = 1000\n",
        );
        let e = check(&[f.arg()]).unwrap_err();
        assert!(
            e.ends_with("line 3: key `rx-size`: 1000 must be a power of two between 64 and 65536"),
            "{e}"
        );
        let out = check(&[f.arg(), "--rx-size", "512", "--name", "edge"]).unwrap();
        assert!(out.contains("\nrx-size = 512\n"), "{out}");
        assert!(out.contains("\nname = \"edge\"\n"), "{out}");
        assert!(out.contains("\ncontrol-socket = true\n"), "{out}");
        assert!(out.contains("checked when `xskfwd run` starts"), "{out}");
        let g = TempFile::new("check-read-back", &out);
        assert_eq!(
            run(&["--config", g.arg()]).unwrap(),
            run(&["--config", f.arg(), "--rx-size", "512", "--name", "edge"]).unwrap()
        );
        assert!(check(&[f.arg(), "--config", f.arg()])
            .unwrap_err()
            .contains("give it once"));
        let e = check(&["/nonexistent/x.toml"]).unwrap_err();
        assert!(e.starts_with("/nonexistent/x.toml: cannot read it"), "{e}");
    }

    #[test]
    fn completions_know_the_subcommands_and_flags() {
        let mut out = Vec::new();
        completions(clap_complete::Shell::Bash, &mut out);
        let bash = String::from_utf8(out).unwrap();
        assert!(
            bash.contains("--config") && bash.contains("xskfwd,run)"),
            "{bash}"
        );
        for shell in [clap_complete::Shell::Zsh, clap_complete::Shell::Fish] {
            let mut out = Vec::new();
            completions(shell, &mut out);
            let text = String::from_utf8(out).unwrap();
            assert!(text.contains("no-control-socket"), "{shell}");
        }
        Cli::command().debug_assert();
    }

    #[test]
    fn the_man_page_is_roff_that_man_renders() {
        let mut out = Vec::new();
        man_page(&mut out).unwrap();
        let roff = String::from_utf8(out).unwrap();
        assert!(
            roff.starts_with(".ie \\n(.g .ds Aq") || roff.starts_with(".TH"),
            "{}",
            &roff[..200]
        );
        assert!(roff.contains(".TH xskfwd 1"), "{}", &roff[..300]);
        for sub in Cli::command().get_subcommands() {
            let page = format!(".TH xskfwd-{} 1", sub.get_name());
            assert!(roff.contains(&page), "no page {page}");
        }
        assert!(roff.contains(".TH xskfwd-config-check 1"));
        assert!(roff.contains("\\-\\-config"));
        let Ok(mut man) = std::process::Command::new("man")
            .args(["-l", "-"])
            .env("MANWIDTH", "100")
            .env("MAN_KEEP_FORMATTING", "0")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
        else {
            eprintln!("man is not installed: rendering not checked");
            return;
        };
        man.stdin
            .take()
            .unwrap()
            .write_all(roff.as_bytes())
            .unwrap();
        let done = man.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&done.stderr);
        assert!(done.status.success(), "man -l - failed: {stderr}");
        assert!(!stderr.contains("warning"), "{stderr}");
        // Without a terminal, man may still embolden by overstriking.
        let mut text = String::new();
        for c in String::from_utf8_lossy(&done.stdout).chars() {
            match c {
                '\u{8}' => drop(text.pop()),
                c => text.push(c),
            }
        }
        assert!(
            text.contains("xskfwd-run") && text.contains("--on-port-loss"),
            "{text}"
        );
    }
}
