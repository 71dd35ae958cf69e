//! Validated run configuration.
//!
//! Everything the fast path relies on (power-of-two rings, a frame size the
//! kernel accepts, a batch that fits the rings, distinct ports) is checked
//! here, once, at the edge. Nothing in this module does I/O: interface
//! existence, MTUs and privileges are checked by `app` against the values
//! validated here.

use std::fmt;

use thiserror::Error;

/// Largest batch a worker handles per ring operation.
pub const MAX_BATCH: usize = 256;
/// Most ports one forwarder serves.
pub const MAX_PORTS: usize = 16;
/// Most queues per port (the XSKMAP size in `bpf/xskfwd.h`).
pub const MAX_QUEUES: u32 = 64;
/// Headroom the kernel reserves in front of every AF_XDP frame.
pub const XDP_PACKET_HEADROOM: u32 = 256;

/// A MAC address.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Mac(pub [u8; 6]);

impl fmt::Display for Mac {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let m = self.0;
        write!(
            f,
            "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            m[0], m[1], m[2], m[3], m[4], m[5]
        )
    }
}

impl fmt::Debug for Mac {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl std::str::FromStr for Mac {
    type Err = ConfigError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || ConfigError::BadMac(s.to_string());
        let mut out = [0u8; 6];
        let mut parts = s.split([':', '-']);
        for b in out.iter_mut() {
            let p = parts.next().ok_or_else(bad)?;
            if p.is_empty() || p.len() > 2 {
                return Err(bad());
            }
            *b = u8::from_str_radix(p, 16).map_err(|_| bad())?;
        }
        if parts.next().is_some() {
            return Err(bad());
        }
        Ok(Mac(out))
    }
}

/// How frames are forwarded.
#[derive(Clone, Debug, PartialEq, Eq)]
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

/// Most ports in L3 mode (the XDP program's port list).
pub const MAX_L3_PORTS: usize = 8;

/// A static route (`PREFIX [via GW] dev IFACE [mtu N]`).
#[derive(Clone, Debug, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StaticRoute {
    /// Destination prefix, e.g. `198.18.5.0/24`.
    pub prefix: String,
    /// Gateway; absent for a directly connected prefix.
    #[serde(default)]
    pub via: Option<std::net::IpAddr>,
    /// Egress interface (must be one of the ports).
    pub dev: String,
    /// Route MTU.
    #[serde(default)]
    pub mtu: Option<u32>,
}

/// A static neighbour (`IP lladdr MAC dev IFACE`).
#[derive(Clone, Debug, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StaticNeigh {
    /// Neighbour address.
    pub ip: std::net::IpAddr,
    /// Its MAC.
    pub mac: String,
    /// Interface it is on.
    pub dev: String,
}

/// L3 routing sources.
#[derive(Clone, Debug, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct L3Config {
    /// Mirror the kernel's routes, local addresses and neighbours (default).
    #[serde(default = "yes")]
    pub kernel: bool,
    /// Static routes.
    #[serde(default, rename = "route")]
    pub routes: Vec<StaticRoute>,
    /// Static neighbours.
    #[serde(default, rename = "neigh")]
    pub neighs: Vec<StaticNeigh>,
}

fn yes() -> bool {
    true
}

impl StaticRoute {
    /// Parses `PREFIX [via GW] dev IFACE [mtu N]` (the `ip route` words).
    pub fn parse(s: &str) -> Result<StaticRoute, ConfigError> {
        let bad = |why: &str| {
            ConfigError::Route(format!(
                "--route '{s}': {why} (expected 'PREFIX [via GW] dev IFACE [mtu N]')"
            ))
        };
        let mut words = s.split_whitespace();
        let prefix = words.next().ok_or_else(|| bad("empty"))?.to_string();
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
        let r = StaticRoute {
            prefix,
            via,
            dev: dev.ok_or_else(|| bad("'dev IFACE' is required"))?,
            mtu,
        };
        r.check()?;
        Ok(r)
    }

    /// Checks the prefix, the gateway's family and the MTU.
    pub fn check(&self) -> Result<(), ConfigError> {
        let prefix: crate::route::Prefix = self
            .prefix
            .parse()
            .map_err(|e| ConfigError::Route(format!("route {}: {e}", self.prefix)))?;
        if let Some(gw) = self.via {
            if gw.is_ipv6() != prefix.is_v6() {
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
}

impl StaticNeigh {
    /// Parses `IP lladdr MAC dev IFACE` (the `ip neigh` words).
    pub fn parse(s: &str) -> Result<StaticNeigh, ConfigError> {
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
                "lladdr" => mac = Some(v.to_string()),
                "dev" => dev = Some(v.to_string()),
                _ => return Err(bad(&format!("unknown word '{w}'"))),
            }
        }
        let n = StaticNeigh {
            ip,
            mac: mac.ok_or_else(|| bad("'lladdr MAC' is required"))?,
            dev: dev.ok_or_else(|| bad("'dev IFACE' is required"))?,
        };
        n.check()?;
        Ok(n)
    }

    /// Checks the MAC.
    pub fn check(&self) -> Result<(), ConfigError> {
        self.mac.parse::<Mac>().map(|_| ())
    }
}

impl L3Config {
    /// Reads a TOML file with `kernel = bool`, `[[route]]` and `[[neigh]]`
    /// tables.
    pub fn from_toml(text: &str, path: &str) -> Result<L3Config, ConfigError> {
        let c: L3Config = toml::from_str(text)
            .map_err(|e| ConfigError::Route(format!("{path}: {}", e.to_string().trim())))?;
        for r in &c.routes {
            r.check()?;
        }
        for n in &c.neighs {
            n.check()?;
        }
        Ok(c)
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

/// How a worker waits when no traffic arrives.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Idle {
    /// Spin: lowest latency, burns the core.
    Busy,
    /// After a short spin, sleep in `poll(2)` on the rx sockets.
    Poll,
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

/// One forwarding port as configured.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PortConfig {
    /// Interface name.
    pub ifname: String,
    /// L2 mode: destination MAC written on frames leaving this port. `None`
    /// leaves the destination MAC alone (a transparent wire).
    pub next_hop_mac: Option<Mac>,
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

/// Everything `xskfwd run` needs, validated.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    /// Forwarding mode.
    pub mode: Mode,
    /// The ports, in order. In cross-connect mode, ports 2k and 2k+1 form a
    /// pair.
    pub ports: Vec<PortConfig>,
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
    pub l3: L3Config,
}

/// What is wrong with a configuration.
#[derive(Debug, Error, PartialEq, Eq)]
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

impl Config {
    /// A configuration with every option at its command-line default and
    /// the given mode and ports (each port's next-hop MAC in order).
    pub fn with_ports(mode: Mode, ports: &[(&str, Option<Mac>)]) -> Config {
        Config {
            mode,
            ports: ports
                .iter()
                .map(|(ifname, next_hop_mac)| PortConfig {
                    ifname: ifname.to_string(),
                    next_hop_mac: *next_hop_mac,
                })
                .collect(),
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
            l3: L3Config {
                kernel: true,
                ..L3Config::default()
            },
        }
    }

    /// Number of worker threads: one per queue id (each owns that queue on
    /// every port, see `worker`).
    pub fn workers(&self) -> usize {
        self.queues.len()
    }

    /// Total UMEM frames, after filling in the default.
    pub fn total_frames(&self) -> u32 {
        if self.rings.frames != 0 {
            self.rings.frames
        } else {
            self.rings.frames_per_worker(self.ports.len()) * self.workers() as u32
        }
    }

    /// Checks every rule that does not need the OS.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let r = &self.rings;
        pow2("frame-size", r.frame_size, 2048, 65536)?;
        pow2("rx-size", r.rx_size, 64, 1 << 16)?;
        pow2("tx-size", r.tx_size, 64, 1 << 16)?;
        pow2("fill-size", r.fill_size, 64, 1 << 17)?;
        pow2("comp-size", r.comp_size, 64, 1 << 17)?;
        if r.batch == 0
            || r.batch as usize > MAX_BATCH
            || r.batch > r.rx_size
            || r.batch > r.tx_size
        {
            return Err(ConfigError::BadBatch {
                batch: r.batch,
                max: MAX_BATCH,
                rx: r.rx_size,
                tx: r.tx_size,
            });
        }
        match self.mode {
            Mode::CrossConnect => {
                if self.ports.len() < 2 || self.ports.len() % 2 != 0 {
                    return Err(ConfigError::Ports(format!(
                        "cross-connect mode needs ports in pairs (A B [C D ...]); got {}",
                        self.ports.len()
                    )));
                }
            }
            Mode::Router => {
                if self.ports.is_empty() || self.ports.len() > MAX_L3_PORTS {
                    return Err(ConfigError::Ports(format!(
                        "L3 mode takes 1 to {MAX_L3_PORTS} ports; got {}",
                        self.ports.len()
                    )));
                }
                for r in &self.l3.routes {
                    r.check()?;
                    if !self.ports.iter().any(|p| p.ifname == r.dev) {
                        return Err(ConfigError::Route(format!(
                            "route {} leaves through {}, which is not one of the ports",
                            r.prefix, r.dev
                        )));
                    }
                }
                for n in &self.l3.neighs {
                    n.check()?;
                    if !self.ports.iter().any(|p| p.ifname == n.dev) {
                        return Err(ConfigError::Route(format!(
                            "neighbour {} is on {}, which is not one of the ports",
                            n.ip, n.dev
                        )));
                    }
                }
                if !self.l3.kernel && self.l3.routes.is_empty() {
                    return Err(ConfigError::Route(
                        "with --no-kernel-routes there must be at least one --route".into(),
                    ));
                }
            }
            Mode::Hairpin => {
                if self.ports.len() != 1 {
                    return Err(ConfigError::Ports(format!(
                        "hairpin mode takes exactly one port; got {}",
                        self.ports.len()
                    )));
                }
            }
        }
        if self.ports.len() > MAX_PORTS {
            return Err(ConfigError::Ports(format!(
                "at most {MAX_PORTS} ports; got {}",
                self.ports.len()
            )));
        }
        for (i, p) in self.ports.iter().enumerate() {
            if p.ifname.is_empty() || p.ifname.len() > 15 || p.ifname.contains(['/', ' ', '\0']) {
                return Err(ConfigError::Ports(format!(
                    "'{}' is not a valid interface name",
                    p.ifname
                )));
            }
            if self.ports[..i].iter().any(|q| q.ifname == p.ifname) {
                return Err(ConfigError::Ports(format!(
                    "interface {} is given twice",
                    p.ifname
                )));
            }
        }
        if self.queues.is_empty() {
            return Err(ConfigError::Queues("at least one queue is needed".into()));
        }
        for (i, q) in self.queues.iter().enumerate() {
            if *q >= MAX_QUEUES {
                return Err(ConfigError::Queues(format!(
                    "queue {q} is out of range (0..{MAX_QUEUES})"
                )));
            }
            if self.queues[..i].contains(q) {
                return Err(ConfigError::Queues(format!("queue {q} is given twice")));
            }
        }
        let needed = u64::from(r.frames_per_worker(self.ports.len())) * self.workers() as u64;
        if r.frames != 0 && u64::from(r.frames) < needed {
            return Err(ConfigError::TooFewFrames {
                given: r.frames,
                needed,
                workers: self.workers(),
                ports: self.ports.len(),
            });
        }
        let total = if r.frames != 0 {
            u64::from(r.frames)
        } else {
            needed
        };
        let bytes = total * u64::from(r.frame_size);
        if bytes > u64::from(u32::MAX) {
            return Err(ConfigError::UmemTooLarge { bytes });
        }
        if let Some(d) = self.duration {
            if !(d.is_finite() && d > 0.0) {
                return Err(ConfigError::Time(format!(
                    "--duration {d} must be a positive number of seconds"
                )));
            }
        }
        if !(self.stats_interval.is_finite() && self.stats_interval >= 0.05) {
            return Err(ConfigError::Time(format!(
                "--stats-interval {} must be at least 0.05 seconds",
                self.stats_interval
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn sample() -> Config {
        Config::with_ports(
            Mode::CrossConnect,
            &[("a", None), ("b", Some(Mac([2, 0, 0, 0, 0, 1])))],
        )
    }

    #[test]
    fn default_config_is_valid() {
        sample().validate().unwrap();
        assert_eq!(
            sample().total_frames(),
            2 * (4096 + 2048 + 64),
            "fill + tx ring + one batch per port"
        );
    }

    #[test]
    fn ring_sizes_must_be_powers_of_two() {
        for (set, name) in [
            (
                (|c: &mut Config| c.rings.rx_size = 1000) as fn(&mut Config),
                "rx-size",
            ),
            (|c: &mut Config| c.rings.tx_size = 3, "tx-size"),
            (|c: &mut Config| c.rings.fill_size = 0, "fill-size"),
            (|c: &mut Config| c.rings.comp_size = 1 << 20, "comp-size"),
            (|c: &mut Config| c.rings.frame_size = 1024, "frame-size"),
            (|c: &mut Config| c.rings.frame_size = 3000, "frame-size"),
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
        assert!(matches!(c.validate(), Err(ConfigError::BadBatch { .. })));
        c.rings.batch = 64;
        c.validate().unwrap();
    }

    #[test]
    fn ports_must_fit_the_mode() {
        let mut c = sample();
        c.ports.pop();
        assert!(matches!(c.validate(), Err(ConfigError::Ports(_))));
        c.mode = Mode::Hairpin;
        c.validate().unwrap();
        let mut c = sample();
        c.ports[1].ifname = "a".into();
        assert!(c.validate().unwrap_err().to_string().contains("twice"));
        c.ports[1].ifname = "waytoolonginterfacename".into();
        assert!(c
            .validate()
            .unwrap_err()
            .to_string()
            .contains("not a valid"));
    }

    #[test]
    fn queues_and_frames() {
        let mut c = sample();
        c.queues = vec![0, 0];
        assert!(matches!(c.validate(), Err(ConfigError::Queues(_))));
        c.queues = vec![64];
        assert!(matches!(c.validate(), Err(ConfigError::Queues(_))));
        c.queues = vec![0, 1];
        c.rings.frames = 100;
        assert!(matches!(
            c.validate(),
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
        assert!(matches!(c.validate(), Err(ConfigError::Time(_))));
        c.duration = Some(f64::NAN);
        assert!(matches!(c.validate(), Err(ConfigError::Time(_))));
        c.duration = Some(0.5);
        c.stats_interval = 0.0;
        assert!(matches!(c.validate(), Err(ConfigError::Time(_))));
    }

    #[test]
    fn mac_parsing() {
        assert_eq!(
            "02:aa:0B:00:ff:1".parse::<Mac>().unwrap(),
            Mac([2, 0xaa, 0xb, 0, 0xff, 1])
        );
        assert_eq!(
            "02-00-00-00-00-01".parse::<Mac>().unwrap().to_string(),
            "02:00:00:00:00:01"
        );
        for bad in [
            "",
            "02:00:00:00:00",
            "02:00:00:00:00:00:00",
            "zz:00:00:00:00:00",
            "002:0:0:0:0:0",
        ] {
            assert!(bad.parse::<Mac>().is_err(), "{bad}");
        }
    }
}
