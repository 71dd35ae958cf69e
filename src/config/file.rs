//! The `--config` file: every option of `xskfwd run` as a TOML key named
//! like its flag (`rx-size`, `on-port-loss`), plus the routes-file schema
//! (`kernel`, `[[route]]`, `[[neigh]]`) for L3 sources.
//!
//! [`ConfigFile::load`] reads a file into [`FileSettings`] (every key
//! optional and typed); the command line lays its flags over them
//! (`cli::RunArgs::to_config`). Every error names the file, the line and
//! the key — a syntax error, an unknown key, a wrong type, and also a rule
//! [`super::RawConfig::validate_keyed`] found broken, through
//! [`ConfigFile::explain`]. [`to_toml`] prints a [`Config`] back as a file
//! that reads to the same `Config`.

use std::ops::Range;
use std::path::{Path, PathBuf};

use clap::ValueEnum;
use serde::Deserialize;
use toml::de::{DeTable, DeValue};
use toml::Spanned;

use super::{
    BindMode, Config, ConfigError, ControlSocketSpec, IdleArg, Invalid, Key, LogFormat, LogLevel,
    ModeArg, NeighSpec, OnPortLoss, RouteSpec, StatsFormat, XdpMode,
};

/// The keys of a configuration file, typed, each `None` (or empty) when
/// the file does not set it. Names and meanings are `xskfwd run`'s flags;
/// `need-wakeup = false` is `--no-need-wakeup`, `kernel = false` is
/// `--no-kernel-routes`, `control-socket = false` is `--no-control-socket`
/// and `mode = "hairpin"` is `--hairpin`.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct FileSettings {
    /// Interfaces (the positional `IFACE…`).
    pub ports: Option<Vec<String>>,
    /// `--mode`.
    #[serde(default, deserialize_with = "value_enum")]
    pub mode: Option<ModeArg>,
    /// `--next-hop IFACE=MAC`, each.
    #[serde(default)]
    pub next_hop: Vec<String>,
    /// `--queues`.
    pub queues: Option<Vec<u32>>,
    /// `--cpus`.
    pub cpus: Option<Vec<usize>>,
    /// `--bind`.
    #[serde(default, deserialize_with = "value_enum")]
    pub bind: Option<BindMode>,
    /// `--xdp-mode`.
    #[serde(default, deserialize_with = "value_enum")]
    pub xdp_mode: Option<XdpMode>,
    /// `false` is `--no-need-wakeup`.
    pub need_wakeup: Option<bool>,
    /// `--batch`.
    pub batch: Option<u32>,
    /// `--rx-size`.
    pub rx_size: Option<u32>,
    /// `--tx-size`.
    pub tx_size: Option<u32>,
    /// `--fill-size`.
    pub fill_size: Option<u32>,
    /// `--comp-size`.
    pub comp_size: Option<u32>,
    /// `--frame-size`.
    pub frame_size: Option<u32>,
    /// `--frames`.
    pub frames: Option<u32>,
    /// `--idle`.
    #[serde(default, deserialize_with = "value_enum")]
    pub idle: Option<IdleArg>,
    /// `--duration`.
    pub duration: Option<f64>,
    /// `--stats`.
    #[serde(default, deserialize_with = "value_enum")]
    pub stats: Option<StatsFormat>,
    /// `--stats-interval`.
    pub stats_interval: Option<f64>,
    /// `--netns`.
    pub netns: Option<String>,
    /// `--on-port-loss`.
    #[serde(default, deserialize_with = "value_enum")]
    pub on_port_loss: Option<OnPortLoss>,
    /// `--user`.
    pub user: Option<String>,
    /// `--metrics`.
    pub metrics: Option<String>,
    /// `--name`.
    pub name: Option<String>,
    /// `--control-socket PATH`; `false` is `--no-control-socket`, `true`
    /// the default path.
    #[serde(default, deserialize_with = "control_socket")]
    pub control_socket: Option<ControlSocketSpec>,
    /// `--log-format`.
    #[serde(default, deserialize_with = "value_enum")]
    pub log_format: Option<LogFormat>,
    /// `--log-level`.
    #[serde(default, deserialize_with = "value_enum")]
    pub log_level: Option<LogLevel>,
    /// `false` is `--no-kernel-routes`.
    pub kernel: Option<bool>,
    /// `[[route]]` tables (`--route`).
    #[serde(default)]
    pub route: Vec<RouteSpec>,
    /// `[[neigh]]` tables (`--neigh`).
    #[serde(default)]
    pub neigh: Vec<NeighSpec>,
    /// `--routes-file`; a relative path is taken from the configuration
    /// file's directory.
    pub routes_file: Option<String>,
}

/// Deserializes a flag's value name (`"zero-copy"`) into its enum.
fn value_enum<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: ValueEnum,
{
    let s = String::deserialize(d)?;
    T::from_str(&s, false).map(Some).map_err(|_| {
        let names: Vec<String> = T::value_variants()
            .iter()
            .filter_map(|v| {
                v.to_possible_value()
                    .map(|p| format!("\"{}\"", p.get_name()))
            })
            .collect();
        serde::de::Error::custom(format!("\"{s}\" is not one of {}", names.join(", ")))
    })
}

/// The name of an enum value as its flag and the file spell it.
fn value_name<T: ValueEnum>(v: T) -> String {
    v.to_possible_value()
        .map(|p| p.get_name().to_string())
        .unwrap_or_default()
}

/// `control-socket = "PATH" | true | false`.
fn control_socket<'de, D>(d: D) -> Result<Option<ControlSocketSpec>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    struct V;
    impl serde::de::Visitor<'_> for V {
        type Value = ControlSocketSpec;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a socket path, or false for none, or true for the default path")
        }
        fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<Self::Value, E> {
            Ok(ControlSocketSpec::Path(PathBuf::from(s)))
        }
        fn visit_bool<E: serde::de::Error>(self, b: bool) -> Result<Self::Value, E> {
            Ok(if b {
                ControlSocketSpec::Default
            } else {
                ControlSocketSpec::Off
            })
        }
    }
    d.deserialize_any(V).map(Some)
}

/// A configuration file, read and parsed.
#[derive(Clone, Debug, PartialEq)]
pub struct ConfigFile {
    path: String,
    text: String,
    settings: FileSettings,
}

impl ConfigFile {
    /// Reads and parses `path`.
    pub fn load(path: &Path) -> Result<ConfigFile, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError::File {
            path: path.display().to_string(),
            line: None,
            key: None,
            message: format!("cannot read it: {e}"),
        })?;
        let mut file = ConfigFile::parse(&text, &path.display().to_string())?;
        if let Some(rf) = &mut file.settings.routes_file {
            if Path::new(rf.as_str()).is_relative() {
                if let Some(dir) = path.parent() {
                    *rf = dir.join(&*rf).display().to_string();
                }
            }
        }
        Ok(file)
    }

    /// Parses `text` (`path` names it in errors).
    pub fn parse(text: &str, path: &str) -> Result<ConfigFile, ConfigError> {
        let doc = DeTable::parse(text).map_err(|e| toml_error(path, text, None, &e))?;
        let settings = FileSettings::deserialize(toml::de::Deserializer::from(doc.clone()))
            .map_err(|e| toml_error(path, text, Some(doc.get_ref()), &e))?;
        Ok(ConfigFile {
            path: path.to_string(),
            text: text.to_string(),
            settings,
        })
    }

    /// The file's keys.
    pub fn settings(&self) -> &FileSettings {
        &self.settings
    }

    /// The file as named.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// A validation error as an error at the line of the first of its
    /// keys that this file set (`from_file` says which values came from
    /// the file rather than the command line); unchanged when none did.
    pub fn explain(&self, invalid: Invalid, from_file: impl Fn(&Key) -> bool) -> ConfigError {
        let Ok(doc) = DeTable::parse(&self.text) else {
            return invalid.error;
        };
        for key in invalid.keys.iter().filter(|k| from_file(k)) {
            if let Some(span) = locate(doc.get_ref(), key) {
                let top = match key {
                    Key::Top(k) | Key::Item(k, _) | Key::Field(k, _, _) => k,
                };
                let message = invalid.error.to_string();
                // "--rx-size 1000 must be…" reads "1000 must be…" under
                // the key `rx-size`.
                let flag = format!("--{top}");
                let message = message
                    .strip_prefix(&flag)
                    .map(|m| m.trim_start_matches(':').trim_start())
                    .filter(|m| !m.is_empty())
                    .map_or(message.clone(), str::to_string);
                return ConfigError::File {
                    path: self.path.clone(),
                    line: Some(line_of(&self.text, span.start)),
                    key: Some(key.to_string()),
                    message,
                };
            }
        }
        invalid.error
    }
}

/// A TOML error (syntax or deserialization) at its line and key.
fn toml_error(
    path: &str,
    text: &str,
    doc: Option<&DeTable<'_>>,
    e: &toml::de::Error,
) -> ConfigError {
    let span = e.span();
    ConfigError::File {
        path: path.to_string(),
        line: span.as_ref().map(|s| line_of(text, s.start)),
        key: span.zip(doc).and_then(|(s, d)| key_at(d, s.start)),
        message: e
            .message()
            .trim()
            .replace("unknown field", "unknown key")
            .replace("missing field", "missing key"),
    }
}

/// 1-based line of byte `offset`.
fn line_of(text: &str, offset: usize) -> usize {
    text.get(..offset).unwrap_or(text).matches('\n').count() + 1
}

fn find<'a, 'i>(
    table: &'a DeTable<'i>,
    name: &str,
) -> Option<(
    &'a Spanned<std::borrow::Cow<'i, str>>,
    &'a Spanned<DeValue<'i>>,
)> {
    table.iter().find(|(k, _)| k.get_ref() == name)
}

/// Where `key` is written: the key itself, or the list item or table.
fn locate(doc: &DeTable<'_>, key: &Key) -> Option<Range<usize>> {
    let (name, index, field) = match *key {
        Key::Top(k) => (k, None, None),
        Key::Item(k, i) => (k, Some(i), None),
        Key::Field(k, i, f) => (k, Some(i), Some(f)),
    };
    let (k, v) = find(doc, name)?;
    let Some(item) = index.and_then(|i| v.get_ref().as_array()?.get(i)) else {
        return index.is_none().then(|| k.span());
    };
    let inner = field.and_then(|f| find(item.get_ref().as_table()?, f));
    Some(inner.map_or(item.span(), |(k, _)| k.span()))
}

/// The key written at byte `at`, as `name`, `name[i]` or `name[i].field`.
fn key_at(doc: &DeTable<'_>, at: usize) -> Option<String> {
    let inside = |s: Range<usize>| s.contains(&at);
    let key_in = |t: &DeTable<'_>| {
        t.iter()
            .find(|(k, v)| inside(k.span()) || inside(v.span()))
            .map(|(k, _)| k.get_ref().to_string())
    };
    for (k, v) in doc.iter() {
        let name = k.get_ref();
        // The span of a `[[route]]` table is its header, so look at its
        // keys too.
        for (i, item) in v
            .get_ref()
            .as_array()
            .into_iter()
            .flat_map(|a| a.iter().enumerate())
        {
            let field = item.get_ref().as_table().and_then(key_in);
            if let Some(f) = field {
                return Some(format!("{name}[{i}].{f}"));
            }
            if inside(item.span()) {
                return Some(format!("{name}[{i}]"));
            }
        }
        if inside(k.span()) || inside(v.span()) {
            return Some(name.to_string());
        }
    }
    None
}

/// A TOML string or other value, quoted and escaped as TOML wants.
fn quote(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

fn float(x: f64) -> String {
    toml::Value::Float(x).to_string()
}

fn list<T: ToString>(items: impl IntoIterator<Item = T>) -> String {
    let items: Vec<String> = items.into_iter().map(|i| i.to_string()).collect();
    format!("[{}]", items.join(", "))
}

/// `config` as a configuration file: every key, defaults filled in, the
/// routes and neighbours of every source (a routes file's included), so
/// that reading it back gives the same [`Config`].
pub fn to_toml(config: &Config) -> String {
    let mut out = String::new();
    let mut line = |s: String| {
        out.push_str(&s);
        out.push('\n');
    };
    let opt = |key: &str, v: Option<String>| match v {
        Some(v) => format!("{key} = {v}"),
        None => format!("# {key} = (not set)"),
    };
    line("# The effective configuration of xskfwd: every key, defaults filled in.".into());
    line("# Checked without the OS: that the interfaces, the network namespace, the".into());
    line("# user and the queues exist is checked when `xskfwd run` starts.".into());
    line(String::new());
    line(format!(
        "ports = {}",
        list(config.ports().iter().map(|p| quote(p.ifname())))
    ));
    line(format!(
        "mode = {}",
        quote(&value_name(ModeArg::from(config.mode())))
    ));
    line(format!(
        "next-hop = {}",
        list(
            config
                .ports()
                .iter()
                .filter_map(|p| p.next_hop().map(|m| quote(&format!("{}={m}", p.ifname()))))
        )
    ));
    line(format!("queues = {}", list(config.queues())));
    line(format!("cpus = {}", list(config.cpus())));
    line(format!("bind = {}", quote(&value_name(config.bind_mode()))));
    line(format!(
        "xdp-mode = {}",
        quote(&value_name(config.xdp_mode()))
    ));
    line(format!("need-wakeup = {}", config.need_wakeup()));
    let r = config.rings();
    line(format!("batch = {}", r.batch));
    line(format!("rx-size = {}", r.rx_size));
    line(format!("tx-size = {}", r.tx_size));
    line(format!("fill-size = {}", r.fill_size));
    line(format!("comp-size = {}", r.comp_size));
    line(format!("frame-size = {}", r.frame_size));
    line(format!("frames = {}", r.frames));
    line(format!(
        "idle = {}",
        quote(&value_name(IdleArg::from(config.idle())))
    ));
    line(opt("duration", config.duration().map(float)));
    line(format!("stats = {}", quote(&value_name(config.stats()))));
    line(format!(
        "stats-interval = {}",
        float(config.stats_interval())
    ));
    line(opt("netns", config.netns().map(quote)));
    line(format!(
        "on-port-loss = {}",
        quote(&value_name(config.on_port_loss()))
    ));
    line(opt("user", config.user().map(quote)));
    line(opt(
        "metrics",
        config.metrics().map(|a| quote(&a.to_string())),
    ));
    line(opt("name", config.name().map(quote)));
    line(format!(
        "control-socket = {}",
        match config.control_socket() {
            ControlSocketSpec::Default => "true".to_string(),
            ControlSocketSpec::Off => "false".to_string(),
            ControlSocketSpec::Path(p) => quote(&p.display().to_string()),
        }
    ));
    line(format!(
        "log-format = {}",
        quote(config.log_format().name())
    ));
    line(format!("log-level = {}", quote(config.log_level().name())));
    if config.mode() != super::Mode::Router {
        line("# kernel, [[route]] and [[neigh]]: L3 mode only".into());
        return out;
    }
    let l3 = config.l3();
    let dev = |port: super::PortId| quote(config.ports()[usize::from(port)].ifname());
    line(format!("kernel = {}", l3.kernel));
    for r in &l3.routes {
        line(String::new());
        line("[[route]]".into());
        line(format!("prefix = {}", quote(&r.prefix.to_string())));
        if let Some(via) = r.via {
            line(format!("via = {}", quote(&via.to_string())));
        }
        line(format!("dev = {}", dev(r.port)));
        if let Some(mtu) = r.mtu {
            line(format!("mtu = {mtu}"));
        }
    }
    for n in &l3.neighs {
        line(String::new());
        line("[[neigh]]".into());
        line(format!("ip = {}", quote(&n.ip.to_string())));
        line(format!("mac = {}", quote(&n.mac.to_string())));
        line(format!("dev = {}", dev(n.port)));
    }
    out
}

/// Which values of a merged [`super::RawConfig`] came from the file: its keys
/// the command line did not override, and how many of the leading
/// `next-hop`, `route` and `neigh` items are the file's.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FromFile {
    /// Keys whose value is the file's.
    pub keys: std::collections::BTreeSet<&'static str>,
    /// Leading `next-hop` items from the file.
    pub next_hops: usize,
    /// Leading `[[route]]` items from the file.
    pub routes: usize,
    /// Leading `[[neigh]]` items from the file.
    pub neighs: usize,
}

impl FromFile {
    /// Whether the value `key` names came from the file.
    pub fn contains(&self, key: &Key) -> bool {
        match *key {
            Key::Item("next-hop", i) => i < self.next_hops,
            Key::Item("route", i) | Key::Field("route", i, _) => i < self.routes,
            Key::Item("neigh", i) | Key::Field("neigh", i, _) => i < self.neighs,
            Key::Top(k) | Key::Item(k, _) | Key::Field(k, _, _) => self.keys.contains(k),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ConfigError;
    use crate::config::{Mode, RawConfig};

    /// `xskfwd run --config FILE` with no other flag.
    fn from_file(file: &ConfigFile) -> Result<Config, ConfigError> {
        let cli = crate::cli::Cli::try_parse_with_sources(["xskfwd", "run"]).unwrap();
        let crate::cli::Command::Run(run) = cli.command else {
            unreachable!()
        };
        run.config_with(Some(file))
    }

    fn config(text: &str) -> Result<Config, String> {
        let file = ConfigFile::parse(text, "x.toml").map_err(|e| e.to_string())?;
        from_file(&file).map_err(|e| e.to_string())
    }

    #[test]
    fn errors_name_the_file_the_line_and_the_key() {
        let e = config("ports = [\"a\", \"b\"]\n\n# ring\nrx-size = 1000\n").unwrap_err();
        assert_eq!(
            e,
            "x.toml line 4: key `rx-size`: 1000 must be a power of two between 64 and 65536"
        );
        let e = config("ports = [\"a\", \"b\"]\nrx-sise = 3\n").unwrap_err();
        assert!(
            e.starts_with("x.toml line 2: key `rx-sise`: unknown key `rx-sise`, expected one of"),
            "{e}"
        );
        let e = config("ports = [\"a\", \"b\"]\nbatch = \"x\"\n").unwrap_err();
        assert_eq!(
            e,
            "x.toml line 2: key `batch`: invalid type: string \"x\", expected u32"
        );
        let e = config("ports = [\"a\", 5]\n").unwrap_err();
        assert!(
            e.starts_with("x.toml line 1: key `ports[1]`: invalid type"),
            "{e}"
        );
        let e = config("ports = [\"a\", \"b\"\n").unwrap_err();
        assert!(e.starts_with("x.toml line 1: "), "{e}");
        let e = config("ports = [\"a\"]\nmode = \"l4\"\n").unwrap_err();
        assert_eq!(
            e,
            "x.toml line 2: key `mode`: \"l4\" is not one of \"l2\", \"hairpin\", \"l3\""
        );
        let e = config("ports = [\"a\", \"b\"]\nnext-hop = [\"a=02:00:00:00:00:01\", \"c=02:00:00:00:00:01\"]\n")
            .unwrap_err();
        assert!(
            e.starts_with(
                "x.toml line 2: key `next-hop[1]`: names c, which is not one of the ports"
            ),
            "{e}"
        );
        let routes = "mode = \"l3\"\nports = [\"a\"]\n[[route]]\nprefix = \"10.0.0.0/8\"\ndev = \"a\"\n\n[[route]]\nprefix = \"10.1.0.0/16\"\n";
        let e = config(routes).unwrap_err();
        assert_eq!(e, "x.toml line 7: key `route[1]`: missing key `dev`");
        let e = config(&format!("{routes}dev = \"zz\"\n")).unwrap_err();
        assert_eq!(
            e,
            "x.toml line 9: key `route[1].dev`: route 10.1.0.0/16 leaves through zz, which is not one of the ports"
        );
        let e = config(&format!("{routes}dev = \"a\"\nmtu = \"x\"\n")).unwrap_err();
        assert!(
            e.starts_with("x.toml line 10: key `route[1].mtu`: invalid type"),
            "{e}"
        );
        let e = config(&format!("{routes}dev = \"a\"\nmtu = 20\n")).unwrap_err();
        assert!(e.starts_with("x.toml line 7: key `route[1]`: "), "{e}");
        assert!(e.contains("out of range"), "{e}");
        config(&format!("{routes}dev = \"a\"\nmtu = 1400\n")).unwrap();
    }

    #[test]
    fn an_error_about_a_value_not_from_the_file_names_no_line() {
        let file = ConfigFile::parse("ports = [\"a\", \"b\"]\nrx-size = 1024\n", "x.toml").unwrap();
        let mut raw = RawConfig::new(Mode::CrossConnect, &["a", "b"]);
        raw.rings.rx_size = 1000; // as if from the command line
        let invalid = raw.validate_keyed().unwrap_err();
        assert_eq!(invalid.keys, [Key::Top("rx-size")]);
        let e = file.explain(invalid.clone(), |k| *k != Key::Top("rx-size"));
        assert_eq!(e, invalid.error);
    }

    #[test]
    fn a_missing_file_is_named() {
        let e = ConfigFile::load(Path::new("/nonexistent/xskfwd.toml")).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("/nonexistent/xskfwd.toml: cannot read it: No such file"),
            "{e}"
        );
    }

    #[test]
    fn a_relative_routes_file_is_taken_from_the_files_directory() {
        let dir = std::env::temp_dir().join(format!("xskfwd-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("x.toml");
        std::fs::write(&path, "routes-file = \"routes.conf\"\n").unwrap();
        let f = ConfigFile::load(&path);
        std::fs::remove_dir_all(&dir).unwrap();
        let rf = dir.join("routes.conf").display().to_string();
        assert_eq!(f.unwrap().settings().routes_file.as_deref(), Some(&*rf));
    }

    #[test]
    fn value_kinds() {
        let f = ConfigFile::parse(
            "duration = 10\ncontrol-socket = false\nmode = \"hairpin\"\nidle = \"busy\"\nbind = \"zero-copy\"\n",
            "x.toml",
        )
        .unwrap();
        let s = f.settings();
        assert_eq!(s.duration, Some(10.0), "an integer is a float");
        assert_eq!(s.control_socket, Some(ControlSocketSpec::Off));
        assert_eq!(s.mode, Some(ModeArg::Hairpin));
        assert_eq!(s.idle, Some(IdleArg::Busy));
        assert_eq!(s.bind, Some(BindMode::ZeroCopy));
        let s = |t: &str| ConfigFile::parse(t, "x.toml").map(|f| f.settings().clone());
        assert_eq!(
            s("control-socket = true\n").unwrap().control_socket,
            Some(ControlSocketSpec::Default)
        );
        assert_eq!(
            s("control-socket = \"/tmp/x.sock\"\n")
                .unwrap()
                .control_socket,
            Some(ControlSocketSpec::Path("/tmp/x.sock".into()))
        );
        let e = s("control-socket = 3\n").unwrap_err().to_string();
        assert!(
            e.contains("key `control-socket`") && e.contains("socket path"),
            "{e}"
        );
    }

    /// The example shipped in packaging/ sets every key it sets to its
    /// default, and its commented L3 block works once uncommented.
    #[test]
    fn the_packaged_example_is_valid_and_holds_the_defaults() {
        let text = include_str!("../../packaging/xskfwd.toml");
        let f = ConfigFile::parse(text, "xskfwd.toml").unwrap();
        let from_file = from_file(&f).unwrap();
        let defaults = RawConfig::new(Mode::CrossConnect, &["eth1", "eth2"])
            .validate()
            .unwrap();
        assert_eq!(from_file, defaults);
        let l3: String = text
            .lines()
            .map(|l| {
                let l = l.replace("mode = \"l2\"", "mode = \"l3\"");
                for key in ["[[", "prefix", "via", "dev", "mtu", "ip ", "mac", "kernel"] {
                    if let Some(rest) = l.strip_prefix("# ").filter(|r| r.starts_with(key)) {
                        return format!("{rest}\n");
                    }
                }
                format!("{l}\n")
            })
            .collect();
        let c = config(&l3).unwrap();
        assert_eq!(c.mode(), Mode::Router);
        assert_eq!((c.l3().routes.len(), c.l3().neighs.len()), (1, 1));
        assert_eq!(c.l3().routes[0].mtu, Some(1400));
    }

    /// file → Config → printed TOML → Config is the same Config.
    #[test]
    fn printed_configurations_read_back_the_same() {
        let cases = [
            include_str!("../../packaging/xskfwd.toml").to_string(),
            "ports = [\"a\", \"b\", \"c\", \"d\"]\nnext-hop = [\"d=02:00:00:00:00:01\"]\nqueues = [0, 3]\ncpus = [1, 2]\nbind = \"copy\"\nxdp-mode = \"skb\"\nneed-wakeup = false\nbatch = 32\nrx-size = 1024\ntx-size = 512\nfill-size = 8192\ncomp-size = 64\nframe-size = 2048\nframes = 100000\nidle = \"busy\"\nduration = 2.5\nstats = \"json\"\nstats-interval = 0.25\nnetns = \"dut\"\non-port-loss = \"exit\"\nuser = \"nobody\"\nmetrics = \"[::1]:9100\"\nname = \"edge-1\"\ncontrol-socket = false\nlog-format = \"json\"\nlog-level = \"debug\"\n".into(),
            "ports = [\"a\"]\nmode = \"hairpin\"\ncontrol-socket = \"/tmp/x \\\"quoted\\\".sock\"\n".into(),
            "ports = [\"a\", \"b\"]\nmode = \"l3\"\nkernel = false\n[[route]]\nprefix = \"198.18.5.0/24\"\nvia = \"198.18.1.1\"\ndev = \"b\"\nmtu = 1400\n[[route]]\nprefix = \"fd00:5::/64\"\ndev = \"a\"\n[[neigh]]\nip = \"fd00::9\"\nmac = \"02:00:00:00:00:09\"\ndev = \"a\"\n".into(),
        ];
        for text in cases {
            let first = config(&text).unwrap();
            let printed = to_toml(&first);
            let again = config(&printed).unwrap_or_else(|e| panic!("{e}\n{printed}"));
            assert_eq!(first, again, "{printed}");
        }
    }
}
