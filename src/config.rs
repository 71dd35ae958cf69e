//! The run configuration: parse, don't validate.
//!
//! Raw input — command-line words, a routes file — is [`RawConfig`],
//! [`RouteSpec`], [`NeighSpec`] and [`RoutesFile`]: strings and numbers as
//! the user typed them. [`RawConfig::validate`] turns them, once, into a
//! [`Config`] whose fields are private and typed ([`Mac`], [`Prefix`],
//! [`PortId`], interface names that passed the kernel's rules, ring sizes
//! the kernel accepts): nothing downstream parses a string or re-checks a
//! rule again. Limits come from `xskfwd_core::limits`.
//!
//! Nothing in this module does I/O: interface existence, MTUs and
//! privileges are checked by `app` against the values validated here.
//! [`mod@file`] reads a `--config` file into the same [`RawConfig`] and prints
//! a [`Config`] back as one.

pub mod file;

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use thiserror::Error;

pub use xskfwd_core::limits::{
    MAX_BATCH, MAX_L3_PORTS, MAX_PORTS, MAX_QUEUES, XDP_PACKET_HEADROOM,
};
pub use xskfwd_core::route::{PortId, Prefix};
pub use xskfwd_core::wire::ethernet::Mac;
pub use xskfwd_core::worker::Idle;

/// How frames are forwarded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Ports are cross-connected in pairs (A↔B): what arrives on one leaves
    /// on the other.
    CrossConnect,
    /// One port; every frame goes back out where it came from with its MAC
    /// addresses swapped (the classic l2fwd, for benchmarking).
    Hairpin,
    /// L3 router: IPv4/IPv6 longest-prefix match, TTL/hop limit decrement,
    /// neighbour MACs; the kernel keeps its slow path (see `l3`).
    Router,
}

/// Parses a MAC address given on the command line or in a file.
pub fn parse_mac(s: &str) -> Result<Mac, ConfigError> {
    s.parse().map_err(|_| ConfigError::BadMac(s.to_string()))
}

/// An interface name that passed the kernel's rules (`dev_valid_name`).
pub fn check_ifname(name: &str) -> Result<(), ConfigError> {
    crate::netns::validate_ifname(name).map_err(|e| ConfigError::Ports(format!("{e:#}")))
}

/// A static route as the user wrote it: `PREFIX [via GW] dev IFACE [mtu N]`
/// (the `ip route` words) or a `[[route]]` table of a routes file.
#[derive(Clone, Debug, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteSpec {
    /// Destination prefix, e.g. `198.18.5.0/24`.
    #[serde(deserialize_with = "parsed")]
    pub prefix: Prefix,
    /// Gateway; absent for a directly connected prefix.
    #[serde(default)]
    pub via: Option<IpAddr>,
    /// Egress interface (must be one of the ports).
    pub dev: String,
    /// Route MTU.
    #[serde(default)]
    pub mtu: Option<u32>,
}

/// A static neighbour as the user wrote it: `IP lladdr MAC dev IFACE` (the
/// `ip neigh` words) or a `[[neigh]]` table of a routes file.
#[derive(Clone, Debug, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NeighSpec {
    /// Neighbour address.
    pub ip: IpAddr,
    /// Its MAC.
    #[serde(deserialize_with = "parsed")]
    pub mac: Mac,
    /// Interface it is on.
    pub dev: String,
}

/// A routes file: `kernel = bool`, `[[route]]` and `[[neigh]]` tables.
#[derive(Clone, Debug, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoutesFile {
    /// Mirror the kernel's routes, local addresses and neighbours.
    #[serde(default = "yes")]
    pub kernel: bool,
    /// Static routes.
    #[serde(default)]
    pub route: Vec<RouteSpec>,
    /// Static neighbours.
    #[serde(default)]
    pub neigh: Vec<NeighSpec>,
}

fn yes() -> bool {
    true
}

/// Deserializes a string through the type's `FromStr`.
fn parsed<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: FromStr,
    T::Err: std::fmt::Display,
{
    let s = <String as serde::Deserialize>::deserialize(d)?;
    s.parse()
        .map_err(|e| serde::de::Error::custom(format!("'{s}': {e}")))
}

/// Where L3 routes and neighbours come from, as given (before the ports
/// are known).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct L3Input {
    /// Mirror the kernel's routes, local addresses and neighbours.
    pub kernel: bool,
    /// Static routes.
    pub routes: Vec<RouteSpec>,
    /// Static neighbours.
    pub neighs: Vec<NeighSpec>,
}

impl Default for L3Input {
    fn default() -> Self {
        L3Input {
            kernel: true,
            routes: Vec::new(),
            neighs: Vec::new(),
        }
    }
}

/// A static route, typed: its egress is a port index.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StaticRoute {
    /// Destination prefix.
    pub prefix: Prefix,
    /// Gateway (same family as the prefix); `None` for a connected prefix.
    pub via: Option<IpAddr>,
    /// Egress port.
    pub port: PortId,
    /// Route MTU (68..=65535).
    pub mtu: Option<u32>,
}

/// A static neighbour, typed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StaticNeigh {
    /// Neighbour address.
    pub ip: IpAddr,
    /// Its MAC.
    pub mac: Mac,
    /// The port it is on.
    pub port: PortId,
}

/// L3 routing sources, typed against the ports.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct L3Config {
    /// Mirror the kernel's routes, local addresses and neighbours.
    pub kernel: bool,
    /// Static routes.
    pub routes: Vec<StaticRoute>,
    /// Static neighbours.
    pub neighs: Vec<StaticNeigh>,
}

impl FromStr for RouteSpec {
    type Err = ConfigError;

    /// Parses `PREFIX [via GW] dev IFACE [mtu N]` and checks the parts
    /// that need no port list.
    fn from_str(s: &str) -> Result<RouteSpec, ConfigError> {
        let bad = |why: &str| {
            ConfigError::Route(format!(
                "--route '{s}': {why} (expected 'PREFIX [via GW] dev IFACE [mtu N]')"
            ))
        };
        let mut words = s.split_whitespace();
        let prefix = words.next().ok_or_else(|| bad("empty"))?;
        let prefix: Prefix = prefix
            .parse()
            .map_err(|e| ConfigError::Route(format!("route {prefix}: {e}")))?;
        let (mut via, mut dev, mut mtu) = (None, None, None);
        while let Some(w) = words.next() {
            let v = words
                .next()
                .ok_or_else(|| bad(&format!("'{w}' needs a value")))?;
            match w {
                "via" => {
                    via = Some(
                        v.parse()
                            .map_err(|_| bad(&format!("'{v}' is not an address")))?,
                    )
                }
                "dev" => dev = Some(v.to_string()),
                "mtu" => {
                    mtu = Some(
                        v.parse()
                            .map_err(|_| bad(&format!("'{v}' is not an MTU")))?,
                    )
                }
                _ => return Err(bad(&format!("unknown word '{w}'"))),
            }
        }
        let r = RouteSpec {
            prefix,
            via,
            dev: dev.ok_or_else(|| bad("'dev IFACE' is required"))?,
            mtu,
        };
        r.check()?;
        Ok(r)
    }
}

impl RouteSpec {
    /// The gateway's family and the MTU.
    fn check(&self) -> Result<(), ConfigError> {
        if let Some(gw) = self.via {
            if gw.is_ipv6() != self.prefix.is_v6() {
                return Err(ConfigError::Route(format!(
                    "route {}: gateway {gw} is of the other address family",
                    self.prefix
                )));
            }
        }
        if let Some(m) = self.mtu {
            if !(68..=65535).contains(&m) {
                return Err(ConfigError::Route(format!(
                    "route {}: mtu {m} is out of range (68..=65535)",
                    self.prefix
                )));
            }
        }
        Ok(())
    }

    /// The typed route, its `dev` resolved against `ports`.
    pub fn resolve(&self, ports: &[&str]) -> Result<StaticRoute, ConfigError> {
        self.check()?;
        let port = port_index(ports, &self.dev).ok_or_else(|| {
            ConfigError::Route(format!(
                "route {} leaves through {}, which is not one of the ports",
                self.prefix, self.dev
            ))
        })?;
        Ok(StaticRoute {
            prefix: self.prefix,
            via: self.via,
            port,
            mtu: self.mtu,
        })
    }
}

fn port_index(ports: &[&str], name: &str) -> Option<PortId> {
    ports.iter().position(|p| *p == name).map(|i| i as PortId)
}

impl FromStr for NeighSpec {
    type Err = ConfigError;

    /// Parses `IP lladdr MAC dev IFACE` and checks the MAC.
    fn from_str(s: &str) -> Result<NeighSpec, ConfigError> {
        let bad = |why: &str| {
            ConfigError::Route(format!(
                "--neigh '{s}': {why} (expected 'IP lladdr MAC dev IFACE')"
            ))
        };
        let mut words = s.split_whitespace();
        let ip = words
            .next()
            .ok_or_else(|| bad("empty"))?
            .parse()
            .map_err(|_| bad("not an IP address"))?;
        let (mut mac, mut dev) = (None, None);
        while let Some(w) = words.next() {
            let v = words
                .next()
                .ok_or_else(|| bad(&format!("'{w}' needs a value")))?;
            match w {
                "lladdr" => mac = Some(parse_mac(v)?),
                "dev" => dev = Some(v.to_string()),
                _ => return Err(bad(&format!("unknown word '{w}'"))),
            }
        }
        let n = NeighSpec {
            ip,
            mac: mac.ok_or_else(|| bad("'lladdr MAC' is required"))?,
            dev: dev.ok_or_else(|| bad("'dev IFACE' is required"))?,
        };
        Ok(n)
    }
}

impl NeighSpec {
    /// The typed neighbour, its `dev` resolved against `ports`.
    pub fn resolve(&self, ports: &[&str]) -> Result<StaticNeigh, ConfigError> {
        let port = port_index(ports, &self.dev).ok_or_else(|| {
            ConfigError::Route(format!(
                "neighbour {} is on {}, which is not one of the ports",
                self.ip, self.dev
            ))
        })?;
        Ok(StaticNeigh {
            ip: self.ip,
            mac: self.mac,
            port,
        })
    }
}

impl RoutesFile {
    /// Reads a routes file in either format (`path` names it in errors):
    /// TOML (a first meaningful line that opens a table or sets a key), or
    /// lines of `ip route`/`ip neigh` words — [`RoutesFile::from_lines`].
    pub fn parse(text: &str, path: &str) -> Result<RoutesFile, ConfigError> {
        let first = text
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty() && !l.starts_with('#'));
        match first {
            Some(l) if l.starts_with('[') || l.contains('=') => Self::from_toml(text, path),
            _ => Self::from_lines(text, path),
        }
    }

    /// Reads the line format: one `route PREFIX [via GW] dev IFACE [mtu
    /// N]`, `neigh IP lladdr MAC dev IFACE` or `kernel yes|no` per line,
    /// `#` comments. Lean enough for full Internet tables: a million routes
    /// parse in a fraction of what the same table costs as TOML.
    pub fn from_lines(text: &str, path: &str) -> Result<RoutesFile, ConfigError> {
        let mut f = RoutesFile {
            kernel: true,
            route: Vec::new(),
            neigh: Vec::new(),
        };
        for (i, line) in text.lines().enumerate() {
            let line = line.split('#').next().unwrap_or("").trim();
            let at = |e: ConfigError| ConfigError::Route(format!("{path}:{}: {e}", i + 1));
            let (word, rest) = line
                .split_once(char::is_whitespace)
                .map_or((line, ""), |(w, r)| (w, r.trim()));
            match (word, rest) {
                ("", _) => {}
                ("route", rest) => f.route.push(rest.parse().map_err(at)?),
                ("neigh", rest) => f.neigh.push(rest.parse().map_err(at)?),
                ("kernel", "yes") => f.kernel = true,
                ("kernel", "no") => f.kernel = false,
                _ => {
                    return Err(at(ConfigError::Route(format!(
                        "'{line}': expected 'route ...', 'neigh ...' or 'kernel yes|no'"
                    ))))
                }
            }
        }
        Ok(f)
    }

    /// Reads the TOML format: `kernel = bool`, `[[route]]` and `[[neigh]]`
    /// tables (`path` names it in errors).
    pub fn from_toml(text: &str, path: &str) -> Result<RoutesFile, ConfigError> {
        let f: RoutesFile = toml::from_str(text)
            .map_err(|e| ConfigError::Route(format!("{path}: {}", e.to_string().trim())))?;
        for r in &f.route {
            r.check()?;
        }
        Ok(f)
    }
}

impl L3Input {
    /// The typed sources, every `dev` resolved against `ports`.
    pub fn resolve(&self, ports: &[&str]) -> Result<L3Config, ConfigError> {
        Ok(L3Config {
            kernel: self.kernel,
            routes: self
                .routes
                .iter()
                .map(|r| r.resolve(ports))
                .collect::<Result<_, _>>()?,
            neighs: self
                .neighs
                .iter()
                .map(|n| n.resolve(ports))
                .collect::<Result<_, _>>()?,
        })
    }
}

/// XDP attach mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum XdpMode {
    /// Driver (native) mode; fails if the driver has no XDP support.
    Native,
    /// Generic (SKB) mode: works everywhere, slower.
    Skb,
    /// Native if the driver supports it, otherwise SKB (and say so).
    Auto,
}

/// AF_XDP bind mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum BindMode {
    /// Try zero-copy, fall back to copy mode and say so.
    Auto,
    /// Copy mode (works on every driver, veth included).
    Copy,
    /// Zero-copy; fails if the driver does not support it.
    ZeroCopy,
}

/// Stats output format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum StatsFormat {
    /// A compact table per interval.
    Table,
    /// One JSON object per line and interval.
    Json,
    /// Only the final summary.
    None,
}

/// Sizes of the UMEM and the rings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RingConfig {
    /// UMEM frame size (power of two, 2048..=65536 with the kernel's limits).
    pub frame_size: u32,
    /// Total number of UMEM frames (0 = computed from the ring sizes).
    pub frames: u32,
    /// rx ring descriptors per socket.
    pub rx_size: u32,
    /// tx ring descriptors per socket.
    pub tx_size: u32,
    /// Fill ring descriptors per (port, queue).
    pub fill_size: u32,
    /// Completion ring descriptors per (port, queue).
    pub comp_size: u32,
    /// Frames handled per ring operation.
    pub batch: u32,
}

impl Default for RingConfig {
    fn default() -> Self {
        RingConfig {
            frame_size: 4096,
            frames: 0,
            rx_size: 2048,
            tx_size: 2048,
            fill_size: 4096,
            comp_size: 2048,
            batch: 64,
        }
    }
}

impl RingConfig {
    /// Frames one worker needs to keep all its rings stocked.
    pub fn frames_per_worker(&self, ports: usize) -> u32 {
        // Each port's fill ring full, each tx ring full, plus one batch in
        // hand per port.
        (ports as u32) * (self.fill_size + self.tx_size + self.batch)
    }

    /// Largest packet a frame can hold.
    pub fn max_packet(&self) -> u32 {
        self.frame_size - XDP_PACKET_HEADROOM
    }
}

/// One forwarding port, validated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PortConfig {
    ifname: String,
    next_hop: Option<Mac>,
}

impl PortConfig {
    /// Interface name (passed the kernel's rules).
    pub fn ifname(&self) -> &str {
        &self.ifname
    }

    /// L2 mode: destination MAC written on frames leaving this port. `None`
    /// leaves the destination MAC alone (a transparent wire).
    pub fn next_hop(&self) -> Option<Mac> {
        self.next_hop
    }
}

/// Everything `xskfwd run` takes, as given: [`RawConfig::validate`] makes
/// it a [`Config`]. Defaults are the command line's.
#[derive(Clone, Debug, PartialEq)]
pub struct RawConfig {
    /// Forwarding mode.
    pub mode: Mode,
    /// Interface names, in order. In cross-connect mode, ports 2k and 2k+1
    /// form a pair.
    pub ports: Vec<String>,
    /// `IFACE=MAC`: L2 next hop behind IFACE (`--next-hop`).
    pub next_hops: Vec<String>,
    /// Queue ids served on every port.
    pub queues: Vec<u32>,
    /// CPUs workers are pinned to, round robin (empty = not pinned).
    pub cpus: Vec<usize>,
    /// Ring and UMEM sizes.
    pub rings: RingConfig,
    /// XDP attach mode.
    pub xdp_mode: XdpMode,
    /// AF_XDP bind mode.
    pub bind_mode: BindMode,
    /// Use the need_wakeup flag (fewer syscalls).
    pub need_wakeup: bool,
    /// Idle strategy.
    pub idle: Idle,
    /// Stop after this many seconds (`None` = until a signal).
    pub duration: Option<f64>,
    /// Stats interval in seconds.
    pub stats_interval: f64,
    /// Stats format.
    pub stats: StatsFormat,
    /// L3 mode: where routes and neighbours come from.
    pub l3: L3Input,
    /// What to do when a port's interface disappears.
    pub on_port_loss: OnPortLoss,
    /// Switch to this user after set-up (`--user`).
    pub user: Option<String>,
    /// Run inside this network namespace (`--netns`).
    pub netns: Option<String>,
    /// `ADDR:PORT` to serve metrics on (`--metrics`; `None` = off).
    pub metrics: Option<String>,
    /// Instance name (`--name`): names the control socket (`None`: derived
    /// at run time from the namespace and the ports).
    pub name: Option<String>,
    /// The control socket (`--control-socket`, `--no-control-socket`).
    pub control_socket: ControlSocketSpec,
    /// Log format (`--log-format`).
    pub log_format: LogFormat,
    /// Least severe level logged (`--log-level`).
    pub log_level: LogLevel,
    /// Whether an L3 source option was given (they need L3 mode), even one
    /// that left `l3` at its default (a routes file with nothing in it).
    pub l3_options_given: bool,
}

/// Everything `xskfwd run` needs, validated and typed (see the module
/// docs). Built only by [`RawConfig::validate`].
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    mode: Mode,
    ports: Vec<PortConfig>,
    queues: Vec<u32>,
    cpus: Vec<usize>,
    rings: RingConfig,
    xdp_mode: XdpMode,
    bind_mode: BindMode,
    need_wakeup: bool,
    idle: Idle,
    duration: Option<f64>,
    stats_interval: f64,
    stats: StatsFormat,
    l3: L3Config,
    on_port_loss: OnPortLoss,
    user: Option<String>,
    netns: Option<String>,
    metrics: Option<SocketAddr>,
    name: Option<String>,
    control_socket: ControlSocketSpec,
    log_format: LogFormat,
    log_level: LogLevel,
}

/// The control socket as given.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub enum ControlSocketSpec {
    /// `/run/xskfwd/NAME.sock` ([`default_control_socket`]).
    #[default]
    Default,
    /// `--control-socket PATH`.
    Path(PathBuf),
    /// `--no-control-socket`.
    Off,
}

/// Log output format (`--log-format`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

impl LogFormat {
    /// The name `--log-format` and the configuration file use.
    pub fn name(self) -> &'static str {
        match self {
            LogFormat::Text => "text",
            LogFormat::Json => "json",
        }
    }
}

/// How much is logged (`--log-level`), least to most verbose: a level
/// logs itself and everything before it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default, clap::ValueEnum)]
pub enum LogLevel {
    /// Errors only.
    Error,
    /// Errors and warnings.
    Warn,
    /// Errors, warnings and what xskfwd does (start, stop, ports).
    #[default]
    Info,
    /// Everything, including diagnostics.
    Debug,
}

impl LogLevel {
    /// The name `--log-level` and the configuration file use.
    pub fn name(self) -> &'static str {
        match self {
            LogLevel::Error => "error",
            LogLevel::Warn => "warn",
            LogLevel::Info => "info",
            LogLevel::Debug => "debug",
        }
    }
}

/// Forwarding modes as `--mode` and the configuration file name them.
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

impl From<ModeArg> for Mode {
    fn from(m: ModeArg) -> Mode {
        match m {
            ModeArg::L2 => Mode::CrossConnect,
            ModeArg::Hairpin => Mode::Hairpin,
            ModeArg::L3 => Mode::Router,
        }
    }
}

impl From<Mode> for ModeArg {
    fn from(m: Mode) -> ModeArg {
        match m {
            Mode::CrossConnect => ModeArg::L2,
            Mode::Hairpin => ModeArg::Hairpin,
            Mode::Router => ModeArg::L3,
        }
    }
}

/// What an idle worker does, as `--idle` and the configuration file name it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum IdleArg {
    /// Spin: lowest latency, burns the core.
    Busy,
    /// After a short spin, sleep in `poll(2)` on the rx sockets.
    Poll,
}

impl From<IdleArg> for Idle {
    fn from(i: IdleArg) -> Idle {
        match i {
            IdleArg::Busy => Idle::Busy,
            IdleArg::Poll => Idle::Poll,
        }
    }
}

impl From<Idle> for IdleArg {
    fn from(i: Idle) -> IdleArg {
        match i {
            Idle::Busy => IdleArg::Busy,
            Idle::Poll => IdleArg::Poll,
        }
    }
}

/// A setting a validation error is about, named as in a configuration
/// file: a key (the flag's name without `--`), an item of a list, or a
/// key of one table of an array of tables (`[[route]]`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Key {
    /// `rx-size`
    Top(&'static str),
    /// `ports[1]`: the second item of `ports`.
    Item(&'static str, usize),
    /// `route[0].dev`: `dev` of the first `[[route]]`.
    Field(&'static str, usize, &'static str),
}

impl std::fmt::Display for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Key::Top(k) => write!(f, "{k}"),
            Key::Item(k, i) => write!(f, "{k}[{i}]"),
            Key::Field(k, i, field) => write!(f, "{k}[{i}].{field}"),
        }
    }
}

/// A validation error and the settings it is about, most specific first
/// (a file points at the first of them it sets).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Invalid {
    /// Settings the error is about.
    pub keys: Vec<Key>,
    /// What is wrong.
    pub error: ConfigError,
}

impl Invalid {
    fn at(keys: &[Key], error: ConfigError) -> Invalid {
        Invalid {
            keys: keys.to_vec(),
            error,
        }
    }
}

/// `map_err` adapter: the error is about `keys`.
fn at(keys: &[Key]) -> impl FnOnce(ConfigError) -> Invalid + '_ {
    move |error| Invalid::at(keys, error)
}

/// What `xskfwd run` does when a port's interface disappears.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum OnPortLoss {
    /// Close its sockets, keep forwarding between the other ports, and
    /// rebind it when an interface of the same name appears.
    #[default]
    Wait,
    /// Stop and exit non-zero (for a supervisor that restarts it, such as
    /// systemd's `Restart=on-failure`).
    Exit,
}

impl RawConfig {
    /// Every option at its command-line default, with `mode` and `ports`.
    pub fn new(mode: Mode, ports: &[&str]) -> RawConfig {
        RawConfig {
            mode,
            ports: ports.iter().map(|p| p.to_string()).collect(),
            next_hops: Vec::new(),
            queues: vec![0],
            cpus: vec![],
            rings: RingConfig::default(),
            xdp_mode: XdpMode::Auto,
            bind_mode: BindMode::Auto,
            need_wakeup: true,
            idle: Idle::Poll,
            duration: None,
            stats_interval: 1.0,
            stats: StatsFormat::Table,
            l3: L3Input::default(),
            on_port_loss: OnPortLoss::Wait,
            user: None,
            netns: None,
            metrics: None,
            name: None,
            control_socket: ControlSocketSpec::Default,
            log_format: LogFormat::Text,
            log_level: LogLevel::Info,
            l3_options_given: false,
        }
    }

    /// Checks every rule that does not need the OS and types the result.
    pub fn validate(self) -> Result<Config, ConfigError> {
        self.validate_keyed().map_err(|invalid| invalid.error)
    }

    /// [`RawConfig::validate`], saying which setting an error is about (so
    /// a configuration file can point at the line of its key).
    pub fn validate_keyed(self) -> Result<Config, Invalid> {
        use Key::{Field, Item, Top};
        let r = &self.rings;
        pow2("frame-size", r.frame_size, 2048, 65536).map_err(at(&[Top("frame-size")]))?;
        pow2("rx-size", r.rx_size, 64, 1 << 16).map_err(at(&[Top("rx-size")]))?;
        pow2("tx-size", r.tx_size, 64, 1 << 16).map_err(at(&[Top("tx-size")]))?;
        pow2("fill-size", r.fill_size, 64, 1 << 17).map_err(at(&[Top("fill-size")]))?;
        pow2("comp-size", r.comp_size, 64, 1 << 17).map_err(at(&[Top("comp-size")]))?;
        if r.batch == 0
            || r.batch as usize > MAX_BATCH
            || r.batch > r.rx_size
            || r.batch > r.tx_size
        {
            return Err(Invalid::at(
                &[Top("batch")],
                ConfigError::BadBatch {
                    batch: r.batch,
                    max: MAX_BATCH,
                    rx: r.rx_size,
                    tx: r.tx_size,
                },
            ));
        }
        if self.mode != Mode::Router && (self.l3_options_given || self.l3 != L3Input::default()) {
            return Err(Invalid::at(
                &[
                    Item("route", 0),
                    Item("neigh", 0),
                    Top("kernel"),
                    Top("routes-file"),
                    Top("mode"),
                ],
                ConfigError::Route(
                    "--route, --neigh, --routes-file and --no-kernel-routes need --mode l3".into(),
                ),
            ));
        }
        let n = self.ports.len();
        let count = &[Top("ports"), Top("mode")];
        match self.mode {
            _ if n == 0 => {
                return Err(Invalid::at(
                    count,
                    ConfigError::Ports(
                        "no ports: name the interfaces (xskfwd run IFACE…) or set `ports = [...]` \
                         in the --config file"
                            .into(),
                    ),
                ));
            }
            Mode::CrossConnect if n < 2 || n % 2 != 0 => {
                return Err(Invalid::at(
                    count,
                    ConfigError::Ports(format!(
                        "cross-connect mode needs ports in pairs (A B [C D ...]); got {n}"
                    )),
                ));
            }
            Mode::Router if n > MAX_L3_PORTS => {
                return Err(Invalid::at(
                    count,
                    ConfigError::Ports(format!("L3 mode takes 1 to {MAX_L3_PORTS} ports; got {n}")),
                ));
            }
            Mode::Hairpin if n != 1 => {
                return Err(Invalid::at(
                    count,
                    ConfigError::Ports(format!("hairpin mode takes exactly one port; got {n}")),
                ));
            }
            _ => {}
        }
        if n > MAX_PORTS {
            return Err(Invalid::at(
                count,
                ConfigError::Ports(format!("at most {MAX_PORTS} ports; got {n}")),
            ));
        }
        let mut ports: Vec<PortConfig> = Vec::with_capacity(n);
        for (i, name) in self.ports.iter().enumerate() {
            check_ifname(name).map_err(at(&[Item("ports", i)]))?;
            if ports.iter().any(|q| q.ifname == *name) {
                return Err(Invalid::at(
                    &[Item("ports", i)],
                    ConfigError::Ports(format!("interface {name} is given twice")),
                ));
            }
            ports.push(PortConfig {
                ifname: name.clone(),
                next_hop: None,
            });
        }
        for (i, nh) in self.next_hops.iter().enumerate() {
            let key = &[Item("next-hop", i)];
            let (ifname, mac) = nh.split_once('=').ok_or_else(|| {
                Invalid::at(
                    key,
                    ConfigError::Ports(format!("--next-hop '{nh}' must look like IFACE=MAC")),
                )
            })?;
            let mac = parse_mac(mac).map_err(at(key))?;
            let port = ports
                .iter_mut()
                .find(|p| p.ifname == ifname)
                .ok_or_else(|| {
                    Invalid::at(
                        key,
                        ConfigError::Ports(format!(
                            "--next-hop names {ifname}, which is not one of the ports {:?}",
                            self.ports
                        )),
                    )
                })?;
            port.next_hop = Some(mac);
        }
        if !self.next_hops.is_empty() {
            let key = &[Item("next-hop", 0), Top("mode")];
            match self.mode {
                Mode::Hairpin => {
                    return Err(Invalid::at(
                        key,
                        ConfigError::Ports(
                            "--next-hop does not apply to hairpin mode (it swaps the MACs)".into(),
                        ),
                    ))
                }
                Mode::Router => {
                    return Err(Invalid::at(key, ConfigError::Ports(
                        "--next-hop does not apply to L3 mode (next hops come from routes and neighbours)"
                            .into(),
                    )))
                }
                Mode::CrossConnect => {}
            }
        }
        let names: Vec<&str> = self.ports.iter().map(String::as_str).collect();
        let l3 = if self.mode == Mode::Router {
            let mut l3 = L3Config {
                kernel: self.l3.kernel,
                routes: Vec::with_capacity(self.l3.routes.len()),
                neighs: Vec::with_capacity(self.l3.neighs.len()),
            };
            for (i, r) in self.l3.routes.iter().enumerate() {
                r.check().map_err(at(&[Item("route", i)]))?;
                l3.routes
                    .push(r.resolve(&names).map_err(at(&[Field("route", i, "dev")]))?);
            }
            for (i, n) in self.l3.neighs.iter().enumerate() {
                l3.neighs
                    .push(n.resolve(&names).map_err(at(&[Field("neigh", i, "dev")]))?);
            }
            if !l3.kernel && l3.routes.is_empty() {
                return Err(Invalid::at(
                    &[Top("kernel"), Top("routes-file")],
                    ConfigError::Route(
                        "with --no-kernel-routes there must be at least one --route".into(),
                    ),
                ));
            }
            l3
        } else {
            L3Config::default()
        };
        if self.queues.is_empty() {
            return Err(Invalid::at(
                &[Top("queues")],
                ConfigError::Queues("at least one queue is needed".into()),
            ));
        }
        for (i, q) in self.queues.iter().enumerate() {
            if *q >= MAX_QUEUES {
                return Err(Invalid::at(
                    &[Item("queues", i)],
                    ConfigError::Queues(format!("queue {q} is out of range (0..{MAX_QUEUES})")),
                ));
            }
            if self.queues[..i].contains(q) {
                return Err(Invalid::at(
                    &[Item("queues", i)],
                    ConfigError::Queues(format!("queue {q} is given twice")),
                ));
            }
        }
        let workers = self.queues.len();
        let needed = u64::from(r.frames_per_worker(n)) * workers as u64;
        if r.frames != 0 && u64::from(r.frames) < needed {
            return Err(Invalid::at(
                &[Top("frames")],
                ConfigError::TooFewFrames {
                    given: r.frames,
                    needed,
                    workers,
                    ports: n,
                },
            ));
        }
        let total = if r.frames != 0 {
            u64::from(r.frames)
        } else {
            needed
        };
        let bytes = total * u64::from(r.frame_size);
        if bytes > u64::from(u32::MAX) {
            return Err(Invalid::at(
                &[
                    Top("frames"),
                    Top("frame-size"),
                    Top("fill-size"),
                    Top("tx-size"),
                    Top("queues"),
                ],
                ConfigError::UmemTooLarge { bytes },
            ));
        }
        let mut rings = self.rings;
        rings.frames = total as u32;
        if let Some(d) = self.duration {
            if !(d.is_finite() && d > 0.0) {
                return Err(Invalid::at(
                    &[Top("duration")],
                    ConfigError::Time(format!(
                        "--duration {d} must be a positive number of seconds"
                    )),
                ));
            }
        }
        if !(self.stats_interval.is_finite() && self.stats_interval >= 0.05) {
            return Err(Invalid::at(
                &[Top("stats-interval")],
                ConfigError::Time(format!(
                    "--stats-interval {} must be at least 0.05 seconds",
                    self.stats_interval
                )),
            ));
        }
        if let Some(ns) = &self.netns {
            crate::netns::validate_netns_name(ns)
                .map_err(|e| bad_value("netns", format!("{e:#}")))
                .map_err(at(&[Top("netns")]))?;
        }
        if let Some(user) = &self.user {
            if user.is_empty() || user.contains(['\0', '/', ':']) {
                return Err(Invalid::at(
                    &[Top("user")],
                    bad_value("user", format!("{user:?} is not a user name")),
                ));
            }
        }
        let metrics = match &self.metrics {
            None => None,
            Some(s) => Some(parse_metrics(s).map_err(at(&[Top("metrics")]))?),
        };
        if let Some(name) = &self.name {
            check_instance_name(name).map_err(at(&[Top("name")]))?;
        }
        let control_socket = match self.control_socket {
            ControlSocketSpec::Path(p) => {
                ControlSocketSpec::Path(check_socket_path(p).map_err(at(&[Top("control-socket")]))?)
            }
            other => other,
        };
        Ok(Config {
            mode: self.mode,
            ports,
            queues: self.queues,
            cpus: self.cpus,
            rings,
            xdp_mode: self.xdp_mode,
            bind_mode: self.bind_mode,
            need_wakeup: self.need_wakeup,
            idle: self.idle,
            duration: self.duration,
            stats_interval: self.stats_interval,
            stats: self.stats,
            l3,
            on_port_loss: self.on_port_loss,
            user: self.user,
            netns: self.netns,
            metrics,
            name: self.name,
            control_socket,
            log_format: self.log_format,
            log_level: self.log_level,
        })
    }
}

/// The longest path a unix socket address holds (`sun_path` less its NUL).
const SUN_PATH_MAX: usize = 107;

fn bad_value(flag: &'static str, why: String) -> ConfigError {
    ConfigError::BadValue { flag, why }
}

/// `--metrics ADDR:PORT`.
fn parse_metrics(s: &str) -> Result<SocketAddr, ConfigError> {
    let addr: SocketAddr = s.parse().map_err(|_| {
        bad_value(
            "metrics",
            format!("'{s}' is not ADDR:PORT (e.g. 127.0.0.1:9100 or [::1]:9100)"),
        )
    })?;
    if addr.port() == 0 {
        return Err(bad_value(
            "metrics",
            format!("'{s}': port 0 would listen on a random port; name one"),
        ));
    }
    Ok(addr)
}

/// `--name`: 1–64 of `[A-Za-z0-9_.-]`, not starting with `.` (it names
/// files such as the control socket).
fn check_instance_name(name: &str) -> Result<(), ConfigError> {
    let ok = (1..=64).contains(&name.len())
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(bad_value(
            "name",
            format!("{name:?} must be 1 to 64 of A-Z a-z 0-9 _ . - and not start with '.'"),
        ))
    }
}

/// Where the control socket of instance `name` is by default.
pub fn default_control_socket(name: &str) -> PathBuf {
    Path::new(crate::ops::client::RUN_DIR).join(format!("{name}.sock"))
}

/// `--control-socket PATH`: fits a unix socket address.
fn check_socket_path(p: PathBuf) -> Result<PathBuf, ConfigError> {
    let len = p.as_os_str().len();
    let why = if len == 0 {
        "is empty".to_string()
    } else if len > SUN_PATH_MAX {
        format!("is {len} bytes, more than the {SUN_PATH_MAX} a unix socket path may have")
    } else if p.as_os_str().as_encoded_bytes().contains(&0) {
        "contains a NUL byte".to_string()
    } else {
        return Ok(p);
    };
    Err(bad_value("control-socket", format!("{:?} {why}", p)))
}

impl Config {
    /// Forwarding mode.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// The ports, in order (cross-connect: 2k ↔ 2k+1).
    pub fn ports(&self) -> &[PortConfig] {
        &self.ports
    }

    /// Queue ids served on every port.
    pub fn queues(&self) -> &[u32] {
        &self.queues
    }

    /// What to do when a port's interface disappears.
    pub fn on_port_loss(&self) -> OnPortLoss {
        self.on_port_loss
    }

    /// The user to switch to after set-up.
    pub fn user(&self) -> Option<&str> {
        self.user.as_deref()
    }

    /// CPUs workers are pinned to, round robin (empty = not pinned).
    pub fn cpus(&self) -> &[usize] {
        &self.cpus
    }

    /// Ring and UMEM sizes; `frames` is the UMEM's total, default filled in.
    pub fn rings(&self) -> &RingConfig {
        &self.rings
    }

    /// XDP attach mode.
    pub fn xdp_mode(&self) -> XdpMode {
        self.xdp_mode
    }

    /// AF_XDP bind mode.
    pub fn bind_mode(&self) -> BindMode {
        self.bind_mode
    }

    /// Use the need_wakeup flag.
    pub fn need_wakeup(&self) -> bool {
        self.need_wakeup
    }

    /// Idle strategy.
    pub fn idle(&self) -> Idle {
        self.idle
    }

    /// Stop after this many seconds (`None` = until a signal).
    pub fn duration(&self) -> Option<f64> {
        self.duration
    }

    /// Stats interval in seconds.
    pub fn stats_interval(&self) -> f64 {
        self.stats_interval
    }

    /// Stats format.
    pub fn stats(&self) -> StatsFormat {
        self.stats
    }

    /// L3 sources (empty outside L3 mode).
    pub fn l3(&self) -> &L3Config {
        &self.l3
    }

    /// Number of worker threads: one per queue id (each owns that queue on
    /// every port, see `xskfwd_core::worker`).
    pub fn workers(&self) -> usize {
        self.queues.len()
    }

    /// Total UMEM frames.
    pub fn total_frames(&self) -> u32 {
        self.rings.frames
    }

    /// The network namespace to run in (`None` = the current one).
    pub fn netns(&self) -> Option<&str> {
        self.netns.as_deref()
    }

    /// Where to serve metrics (`None` = nowhere, the default).
    pub fn metrics(&self) -> Option<SocketAddr> {
        self.metrics
    }

    /// Instance name (`--name`): 1–64 of `[A-Za-z0-9_.-]`, not starting
    /// with `.`; `None`: derived at run time from the namespace and the
    /// ports (`crate::ops::default_name`).
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// The control socket: `/run/xskfwd/NAME.sock` (default), a path, or
    /// none.
    pub fn control_socket(&self) -> &ControlSocketSpec {
        &self.control_socket
    }

    /// Log format.
    pub fn log_format(&self) -> LogFormat {
        self.log_format
    }

    /// Least severe level logged.
    pub fn log_level(&self) -> LogLevel {
        self.log_level
    }
}

/// What is wrong with a configuration.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum ConfigError {
    /// Not a MAC address.
    #[error("'{0}' is not a MAC address (expected six hex bytes like 02:00:00:00:00:01)")]
    BadMac(String),
    /// A size that must be a power of two is not.
    #[error("--{name} {value} must be a power of two between {min} and {max}")]
    NotPowerOfTwo {
        /// Option name.
        name: &'static str,
        /// Given value.
        value: u32,
        /// Smallest allowed.
        min: u32,
        /// Largest allowed.
        max: u32,
    },
    /// The batch is too large or zero.
    #[error("--batch {batch} must be between 1 and {max} and no larger than the rx and tx rings ({rx}, {tx})")]
    BadBatch {
        /// Given batch.
        batch: u32,
        /// Limit.
        max: usize,
        /// rx ring size.
        rx: u32,
        /// tx ring size.
        tx: u32,
    },
    /// Too few frames for the rings.
    #[error("--frames {given} is too small: {workers} worker(s) over {ports} port(s) need at least {needed} to keep their rings stocked (or omit --frames)")]
    TooFewFrames {
        /// Given.
        given: u32,
        /// Needed.
        needed: u64,
        /// Workers.
        workers: usize,
        /// Ports.
        ports: usize,
    },
    /// Frames × frame size overflows.
    #[error("the UMEM would be {bytes} bytes, more than the 4 GiB an AF_XDP UMEM may have; lower --frames or --frame-size")]
    UmemTooLarge {
        /// Requested size.
        bytes: u64,
    },
    /// Port list is wrong for the mode.
    #[error("{0}")]
    Ports(String),
    /// Queue list is wrong.
    #[error("{0}")]
    Queues(String),
    /// A time is wrong.
    #[error("{0}")]
    Time(String),
    /// A static route, neighbour or routes file is wrong.
    #[error("{0}")]
    Route(String),
    /// The value of an option is wrong.
    #[error("--{flag}: {why}")]
    BadValue {
        /// Option name.
        flag: &'static str,
        /// What is wrong with it.
        why: String,
    },
    /// A configuration file is wrong (unreadable, not TOML, an unknown
    /// key, a value of the wrong type or one that did not validate).
    #[error("{path}{}{}: {message}", line.map(|l| format!(" line {l}")).unwrap_or_default(), key.as_ref().map(|k| format!(": key `{k}`")).unwrap_or_default())]
    File {
        /// The file as named.
        path: String,
        /// 1-based line of the key, when known.
        line: Option<usize>,
        /// The key, e.g. `rx-size` or `route[1].dev`, when known.
        key: Option<String>,
        /// What is wrong.
        message: String,
    },
}

fn pow2(name: &'static str, value: u32, min: u32, max: u32) -> Result<(), ConfigError> {
    if value.is_power_of_two() && (min..=max).contains(&value) {
        Ok(())
    } else {
        Err(ConfigError::NotPowerOfTwo {
            name,
            value,
            min,
            max,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::ValueEnum;

    fn sample() -> RawConfig {
        let mut c = RawConfig::new(Mode::CrossConnect, &["a", "b"]);
        c.next_hops = vec!["b=02:00:00:00:00:01".into()];
        c
    }

    #[test]
    fn default_config_is_valid_and_typed() {
        let c = sample().validate().unwrap();
        assert_eq!(
            c.total_frames(),
            2 * (4096 + 2048 + 64),
            "fill + tx ring + one batch per port"
        );
        assert_eq!(c.ports()[0].ifname(), "a");
        assert_eq!(c.ports()[0].next_hop(), None);
        assert_eq!(c.ports()[1].next_hop(), Some(Mac([2, 0, 0, 0, 0, 1])));
    }

    #[test]
    fn ring_sizes_must_be_powers_of_two() {
        for (set, name) in [
            (
                (|c: &mut RawConfig| c.rings.rx_size = 1000) as fn(&mut RawConfig),
                "rx-size",
            ),
            (|c: &mut RawConfig| c.rings.tx_size = 3, "tx-size"),
            (|c: &mut RawConfig| c.rings.fill_size = 0, "fill-size"),
            (|c: &mut RawConfig| c.rings.comp_size = 1 << 20, "comp-size"),
            (|c: &mut RawConfig| c.rings.frame_size = 1024, "frame-size"),
            (|c: &mut RawConfig| c.rings.frame_size = 3000, "frame-size"),
        ] {
            let mut c = sample();
            set(&mut c);
            match c.validate() {
                Err(ConfigError::NotPowerOfTwo { name: n, .. }) => assert_eq!(n, name),
                other => panic!("{name}: {other:?}"),
            }
        }
    }

    #[test]
    fn batch_limits() {
        for b in [0, 257, 4096] {
            let mut c = sample();
            c.rings.batch = b;
            assert!(
                matches!(c.validate(), Err(ConfigError::BadBatch { .. })),
                "{b}"
            );
        }
        let mut c = sample();
        c.rings.rx_size = 64;
        c.rings.batch = 128;
        assert!(matches!(
            c.clone().validate(),
            Err(ConfigError::BadBatch { .. })
        ));
        c.rings.batch = 64;
        c.validate().unwrap();
    }

    #[test]
    fn ports_must_fit_the_mode() {
        let mut c = sample();
        c.next_hops.clear();
        c.ports.pop();
        assert!(matches!(c.clone().validate(), Err(ConfigError::Ports(_))));
        c.mode = Mode::Hairpin;
        c.validate().unwrap();
        let mut c = sample();
        c.ports[1] = "a".into();
        assert!(c
            .clone()
            .validate()
            .unwrap_err()
            .to_string()
            .contains("twice"));
        for bad in ["waytoolonginterfacename", "a:b", "a/b", ""] {
            c.ports[1] = bad.into();
            let e = c.clone().validate().unwrap_err().to_string();
            assert!(e.contains("invalid interface name"), "{bad}: {e}");
        }
        let mut c = RawConfig::new(Mode::Router, &["a"; MAX_L3_PORTS + 1]);
        assert!(c
            .clone()
            .validate()
            .unwrap_err()
            .to_string()
            .contains("1 to 8"));
        c.mode = Mode::CrossConnect;
        c.ports = (0..MAX_PORTS + 2).map(|i| format!("p{i}")).collect();
        assert!(c.validate().unwrap_err().to_string().contains("at most 16"));
    }

    #[test]
    fn queues_and_frames() {
        let mut c = sample();
        c.queues = vec![0, 0];
        assert!(matches!(c.clone().validate(), Err(ConfigError::Queues(_))));
        c.queues = vec![64];
        assert!(matches!(c.clone().validate(), Err(ConfigError::Queues(_))));
        c.queues = vec![0, 1];
        c.rings.frames = 100;
        assert!(matches!(
            c.clone().validate(),
            Err(ConfigError::TooFewFrames { workers: 2, .. })
        ));
        c.rings.frames = 0;
        c.rings.frame_size = 65536;
        c.rings.fill_size = 1 << 17;
        assert!(matches!(
            c.validate(),
            Err(ConfigError::UmemTooLarge { .. })
        ));
    }

    #[test]
    fn times() {
        let mut c = sample();
        c.duration = Some(0.0);
        assert!(matches!(c.clone().validate(), Err(ConfigError::Time(_))));
        c.duration = Some(f64::NAN);
        assert!(matches!(c.clone().validate(), Err(ConfigError::Time(_))));
        c.duration = Some(0.5);
        c.stats_interval = 0.0;
        assert!(matches!(c.validate(), Err(ConfigError::Time(_))));
    }

    #[test]
    fn mac_parsing() {
        assert_eq!(
            parse_mac("02:aa:0B:00:ff:1").unwrap(),
            Mac([2, 0xaa, 0xb, 0, 0xff, 1])
        );
        assert_eq!(
            parse_mac("02-00-00-00-00-01").unwrap().to_string(),
            "02:00:00:00:00:01"
        );
        for bad in [
            "",
            "02:00:00:00:00",
            "02:00:00:00:00:00:00",
            "zz:00:00:00:00:00",
            "002:0:0:0:0:0",
        ] {
            assert_eq!(
                parse_mac(bad),
                Err(ConfigError::BadMac(bad.into())),
                "{bad}"
            );
        }
    }

    #[test]
    fn static_routes_and_neighbours_are_typed_against_the_ports() {
        let mut c = RawConfig::new(Mode::Router, &["a", "b"]);
        c.l3.routes = vec!["198.18.5.0/24 via 198.18.1.1 dev b mtu 1400"
            .parse()
            .unwrap()];
        c.l3.neighs = vec!["198.18.1.1 lladdr 02:00:00:00:00:09 dev b".parse().unwrap()];
        let l3 = c.clone().validate().unwrap().l3().clone();
        assert_eq!(
            l3.routes,
            vec![StaticRoute {
                prefix: "198.18.5.0/24".parse().unwrap(),
                via: Some("198.18.1.1".parse().unwrap()),
                port: 1,
                mtu: Some(1400),
            }]
        );
        assert_eq!(l3.neighs[0].mac, Mac([2, 0, 0, 0, 0, 9]));
        c.l3.neighs[0].dev = "c".into();
        assert!(c
            .validate()
            .unwrap_err()
            .to_string()
            .contains("not one of the ports"));
        let file = RoutesFile::from_toml(
            "[[neigh]]\nip = \"198.18.1.1\"\nmac = \"bad\"\ndev = \"b\"\n",
            "f.toml",
        );
        let e = file.unwrap_err().to_string();
        assert!(
            e.contains("f.toml") && e.contains("'bad': not a MAC"),
            "{e}"
        );
        let mut c = RawConfig::new(Mode::CrossConnect, &["a", "b"]);
        c.l3.routes = vec!["198.18.5.0/24 dev b".parse().unwrap()];
        assert!(c
            .validate()
            .unwrap_err()
            .to_string()
            .contains("need --mode l3"));
    }

    #[test]
    fn instance_name_metrics_and_control_socket() {
        let name = |n: &str| {
            let mut c = sample();
            c.name = Some(n.into());
            c.validate()
                .map(|c| c.name().unwrap_or_default().to_string())
        };
        for ok in ["xskfwd", "a", "edge-1.b_2", &"x".repeat(64)] {
            assert_eq!(name(ok).as_deref(), Ok(ok));
        }
        for bad in ["", ".hidden", "a/b", "a b", "é", &"x".repeat(65)] {
            let e = name(bad).unwrap_err();
            assert!(e.to_string().starts_with("--name: "), "{bad}: {e}");
        }
        let mut c = sample();
        c.metrics = Some("127.0.0.1:9100".into());
        assert_eq!(
            c.clone().validate().unwrap().metrics(),
            Some("127.0.0.1:9100".parse().unwrap())
        );
        for bad in ["127.0.0.1", "localhost:9100", "127.0.0.1:0", ""] {
            c.metrics = Some(bad.into());
            let e = c.clone().validate_keyed().unwrap_err();
            assert_eq!(e.keys, [Key::Top("metrics")], "{bad}");
            assert!(e.error.to_string().starts_with("--metrics: "), "{bad}");
        }
        let mut c = sample();
        c.control_socket = ControlSocketSpec::Path(format!("/{}", "s".repeat(106)).into());
        let ControlSocketSpec::Path(p) = c.clone().validate().unwrap().control_socket().clone()
        else {
            panic!("a path")
        };
        assert_eq!(p.as_os_str().len(), 107);
        c.control_socket = ControlSocketSpec::Path(format!("/{}", "s".repeat(107)).into());
        assert!(c
            .clone()
            .validate()
            .unwrap_err()
            .to_string()
            .contains("more than the 107"));
        c.control_socket = ControlSocketSpec::Path("".into());
        assert!(c
            .clone()
            .validate()
            .unwrap_err()
            .to_string()
            .contains("is empty"));
        c.control_socket = ControlSocketSpec::Off;
        assert_eq!(
            c.validate().unwrap().control_socket(),
            &ControlSocketSpec::Off
        );
        let mut c = sample();
        c.netns = Some("a/b".into());
        assert!(c
            .validate()
            .unwrap_err()
            .to_string()
            .starts_with("--netns: "));
    }

    #[test]
    fn log_levels_are_ordered_and_named_as_their_flags() {
        assert!(LogLevel::Error < LogLevel::Warn);
        assert!(LogLevel::Warn < LogLevel::Info);
        assert!(LogLevel::Info < LogLevel::Debug);
        for l in LogLevel::value_variants() {
            assert_eq!(clap::ValueEnum::from_str(l.name(), false), Ok(*l));
        }
        for f in LogFormat::value_variants() {
            assert_eq!(clap::ValueEnum::from_str(f.name(), false), Ok(*f));
        }
        assert_eq!(
            (LogLevel::default(), LogFormat::default()),
            (LogLevel::Info, LogFormat::Text)
        );
    }

    #[test]
    fn errors_say_which_setting_they_are_about() {
        let keys = |f: fn(&mut RawConfig)| {
            let mut c = sample();
            f(&mut c);
            c.validate_keyed().unwrap_err().keys[0]
        };
        assert_eq!(keys(|c| c.rings.tx_size = 3), Key::Top("tx-size"));
        assert_eq!(keys(|c| c.rings.batch = 0), Key::Top("batch"));
        assert_eq!(keys(|c| c.ports[1] = "a".into()), Key::Item("ports", 1));
        assert_eq!(
            keys(|c| c.next_hops.push("a=zz".into())),
            Key::Item("next-hop", 1)
        );
        assert_eq!(keys(|c| c.queues = vec![0, 0]), Key::Item("queues", 1));
        assert_eq!(keys(|c| c.rings.frames = 1), Key::Top("frames"));
        assert_eq!(keys(|c| c.stats_interval = 0.0), Key::Top("stats-interval"));
        assert_eq!(keys(|c| c.duration = Some(-1.0)), Key::Top("duration"));
        assert_eq!(keys(|c| c.ports.clear()), Key::Top("ports"));
    }
}
