//! The client side of the control socket: `xskfwd status [NAME]`,
//! `xskfwd routes NAME` and `xskfwd trace NAME … -w FILE.pcapng`.

use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use clap::Args;
use serde_json::{json, Value};

use super::pcapng;
use crate::stats;

/// Where instances put their control sockets by default.
pub const RUN_DIR: &str = "/run/xskfwd";

/// `xskfwd status`
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Instance name (`--name` of `xskfwd run`), or the control socket's
    /// path; default: the only instance running.
    pub name: Option<String>,
    /// Print the status as JSON.
    #[arg(long)]
    pub json: bool,
}

/// `xskfwd trace`
#[derive(Debug, Args)]
pub struct TraceArgs {
    /// Instance name (`--name` of `xskfwd run`), or the control socket's
    /// path.
    pub name: String,
    /// Frames to capture.
    #[arg(long, short = 'c', default_value_t = 100)]
    pub count: u64,
    /// Only frames with this verdict.
    #[arg(long, value_parser = ["tx", "drop", "pass"])]
    pub verdict: Option<String>,
    /// Only frames dropped (or meant for the kernel) for this reason, as
    /// `xskfwd status` and the metrics name it (e.g. `too_big`, `ttl`).
    #[arg(long)]
    pub reason: Option<String>,
    /// Give up after this many seconds.
    #[arg(long, default_value_t = 60.0)]
    pub timeout: f64,
    /// pcapng file to write (`-` for stdout).
    #[arg(short = 'w', long = "write", value_name = "FILE")]
    pub write: String,
}

/// The control socket of instance `name` (a name, or a path with a `/`).
pub fn socket_path(name: &str) -> PathBuf {
    if name.contains('/') {
        PathBuf::from(name)
    } else {
        crate::config::default_control_socket(name)
    }
}

/// Whether an instance seems to run under `name` (its socket file exists).
pub fn exists(name: &str) -> bool {
    socket_path(name).exists()
}

/// The names of instances that answer on a socket in [`RUN_DIR`] (a file
/// nobody listens on, left by an instance that died, is not one).
fn running() -> Vec<String> {
    let Ok(dir) = std::fs::read_dir(RUN_DIR) else {
        return Vec::new();
    };
    let mut v: Vec<String> = dir
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            e.file_name()
                .to_str()
                .and_then(|n| n.strip_suffix(".sock"))
                .map(str::to_string)
                .filter(|_| UnixStream::connect(e.path()).is_ok())
        })
        .collect();
    v.sort();
    v
}

/// Connects to instance `name` and sends `request`; returns the stream
/// and the first reply (already checked to be `ok`).
fn ask(name: &str, request: &Value) -> Result<(BufReader<UnixStream>, Value)> {
    let path = socket_path(name);
    let conn = UnixStream::connect(&path).map_err(|e| {
        let others = running();
        let hint = if others.is_empty() {
            "no instance has a control socket there".to_string()
        } else {
            format!("running: {}", others.join(", "))
        };
        match e.kind() {
            ErrorKind::NotFound => anyhow!(
                "no xskfwd instance named {name} ({} does not exist; {hint})",
                path.display()
            ),
            ErrorKind::ConnectionRefused => anyhow!(
                "{}: nobody answers (the instance ended without removing it)",
                path.display()
            ),
            ErrorKind::PermissionDenied => anyhow!(
                "{}: permission denied (the socket is mode 0600: run as root or as its owner)",
                path.display()
            ),
            _ => anyhow!("connecting to {}: {e}", path.display()),
        }
    })?;
    conn.set_write_timeout(Some(Duration::from_secs(5)))?;
    let mut line = request.to_string();
    line.push('\n');
    (&conn).write_all(line.as_bytes())?;
    let mut r = BufReader::new(conn);
    let reply = read_json(&mut r)?.context("the instance closed the connection")?;
    if reply["ok"] != json!(true) {
        bail!(
            "{name}: {}",
            reply["error"].as_str().unwrap_or("request refused")
        );
    }
    Ok((r, reply))
}

fn read_json(r: &mut impl BufRead) -> Result<Option<Value>> {
    let mut line = String::new();
    if r.read_line(&mut line)? == 0 {
        return Ok(None);
    }
    Ok(Some(
        serde_json::from_str(line.trim()).context("a reply that is not JSON")?,
    ))
}

/// `xskfwd status`
pub fn status(args: &StatusArgs) -> Result<()> {
    let name = match &args.name {
        Some(n) => n.clone(),
        None => match &running()[..] {
            [one] => one.clone(),
            [] => bail!("no xskfwd instance runs here (no control socket in {RUN_DIR})"),
            many => bail!(
                "{} instances run: name one (xskfwd status NAME): {}",
                many.len(),
                many.join(", ")
            ),
        },
    };
    let (mut r, reply) = ask(&name, &json!({"cmd": "status"}))?;
    r.get_mut().set_read_timeout(Some(Duration::from_secs(5)))?;
    let s = &reply["status"];
    if args.json {
        println!("{}", serde_json::to_string_pretty(s)?);
    } else {
        print!("{}", render_status(s));
    }
    Ok(())
}

/// `xskfwd routes NAME`: the running instance's tables.
pub fn routes(name: &str) -> Result<()> {
    let (_, reply) = ask(name, &json!({"cmd": "routes"}))?;
    println!("{}", reply["text"].as_str().unwrap_or(""));
    Ok(())
}

fn dur(secs: f64) -> String {
    let s = secs as u64;
    match s {
        0..=59 => format!("{secs:.1}s"),
        60..=3599 => format!("{}m{:02}s", s / 60, s % 60),
        _ => format!("{}h{:02}m", s / 3600, s / 60 % 60),
    }
}

fn bits(bps: f64) -> String {
    if bps >= 1e9 {
        format!("{:.2}G", bps / 1e9)
    } else if bps >= 1e6 {
        format!("{:.1}M", bps / 1e6)
    } else if bps >= 1e3 {
        format!("{:.1}k", bps / 1e3)
    } else {
        format!("{bps:.0}")
    }
}

/// The human form of `xskfwd status`.
pub fn render_status(s: &Value) -> String {
    use std::fmt::Write as _;
    let mut o = String::new();
    let f = |v: &Value| v.as_f64().unwrap_or(0.0);
    let u = |v: &Value| v.as_u64().unwrap_or(0);
    let _ = writeln!(
        o,
        "xskfwd {} ({}) pid {}, up {}, {}{}",
        s["name"].as_str().unwrap_or("?"),
        s["version"].as_str().unwrap_or("?"),
        u(&s["pid"]),
        dur(f(&s["uptime_s"])),
        s["state"].as_str().unwrap_or("?"),
        if u(&s["datapath_builds"]) > 1 {
            format!(
                " (datapath built {} times: a port came back; this one up {})",
                u(&s["datapath_builds"]),
                dur(f(&s["datapath_uptime_s"]))
            )
        } else {
            String::new()
        }
    );
    if s["state"] != "forwarding" {
        return o;
    }
    let _ = writeln!(
        o,
        "mode {}, xdp {}, {} bind, umem {} frames of {} B: {} free, {} in kernel rings, {} in flight{}",
        s["mode"].as_str().unwrap_or("?"),
        s["xdp_mode"].as_str().unwrap_or("?"),
        s["bind"].as_str().unwrap_or("?"),
        u(&s["umem"]["frames"]),
        u(&s["umem"]["frame_size"]),
        u(&s["umem"]["free"]),
        u(&s["umem"]["kernel"]),
        u(&s["umem"]["in_flight"]),
        match u(&s["umem"]["reclaimed"]) {
            0 => String::new(),
            n => format!(", {n} reclaimed from deleted ports"),
        }
    );
    let _ = writeln!(o, "privileges: {}", s["privileges"].as_str().unwrap_or("?"));
    let _ = writeln!(
        o,
        "\n{:<12} {:<5} {:>6} {:>9} {:>9} {:>8} {:>9} {:>9} {:>13} {:>13}",
        "PORT", "LINK", "FRAME", "RX PPS", "TX PPS", "DROP/S", "RX BIT/S", "TX BIT/S", "RX", "TX"
    );
    for p in s["ports"].as_array().into_iter().flatten() {
        let _ = writeln!(
            o,
            "{:<12} {:<5} {:>6} {:>9} {:>9} {:>8} {:>9} {:>9} {:>13} {:>13}",
            p["name"].as_str().unwrap_or("?"),
            p["link"].as_str().unwrap_or("?"),
            u(&p["max_frame"]),
            stats::human(f(&p["rx_pps"])),
            stats::human(f(&p["tx_pps"])),
            stats::human(f(&p["drop_pps"])),
            bits(f(&p["rx_bps"])),
            bits(f(&p["tx_bps"])),
            u(&p["rx_packets"]),
            u(&p["tx_packets"]),
        );
    }
    let _ = writeln!(
        o,
        "\n{:<6} {:<4} {:>6} {:>8} {:>8} {:>8} {:>9}",
        "QUEUE", "CPU", "BUSY", "FRAMES", "FREE", "KERNEL", "IN FLIGHT"
    );
    for w in s["workers"].as_array().into_iter().flatten() {
        let _ = writeln!(
            o,
            "{:<6} {:<4} {:>5.0}% {:>8} {:>8} {:>8} {:>9}",
            u(&w["queue"]),
            w["cpu"].as_u64().map_or("-".to_string(), |c| c.to_string()),
            100.0 * f(&w["busy"]),
            u(&w["frames"]),
            u(&w["free"]),
            u(&w["kernel"]),
            u(&w["in_flight"]),
        );
    }
    let list = |v: &Value| -> String {
        let m = v.as_object().map(|m| {
            m.iter()
                .map(|(k, n)| format!("{k} {}", n.as_u64().unwrap_or(0)))
                .collect::<Vec<_>>()
                .join(", ")
        });
        match m {
            Some(t) if !t.is_empty() => t,
            _ => "none".into(),
        }
    };
    let _ = writeln!(o, "\ndrops: {}", list(&s["drops"]));
    let _ = writeln!(o, "passed to the kernel by XDP: {}", list(&s["xdp_pass"]));
    let mut xsk_notes = Vec::new();
    for p in s["ports"].as_array().into_iter().flatten() {
        for k in [
            "rx_dropped",
            "rx_ring_full",
            "fill_ring_empty",
            "tx_invalid",
        ] {
            let n = u(&p["xsk"][k]);
            if n > 0 {
                xsk_notes.push(format!("{} {k} {n}", p["name"].as_str().unwrap_or("?")));
            }
        }
    }
    if !xsk_notes.is_empty() {
        let _ = writeln!(o, "kernel socket statistics: {}", xsk_notes.join(", "));
    }
    if let Some(t) = s["tables"].as_object() {
        let g = |k: &str| t.get(k).and_then(Value::as_u64).unwrap_or(0);
        let _ = writeln!(
            o,
            "tables: {} IPv4 + {} IPv6 route(s), {} neighbour(s), {} KiB; {} route / {} neighbour builds, {} netlink events, {} resyncs, {} neighbour use notes",
            g("routes_v4"),
            g("routes_v6"),
            g("neighbours"),
            g("bytes") / 1024,
            g("route_builds"),
            g("neighbour_builds"),
            g("netlink_events"),
            g("resyncs"),
            g("neighbour_use_notes"),
        );
    }
    if s["tracing"] == json!(true) {
        let _ = writeln!(o, "a packet trace is armed");
    }
    o
}

/// The comment a traced frame carries in the pcapng file.
pub fn comment(head: &Value, ports: &[String]) -> String {
    let port = |i: u64| {
        ports
            .get(i as usize)
            .cloned()
            .unwrap_or_else(|| format!("port{i}"))
    };
    let ingress = port(head["ingress"].as_u64().unwrap_or(0));
    let queue = head["queue"].as_u64().unwrap_or(0);
    match head["verdict"].as_str().unwrap_or("?") {
        "tx" => format!(
            "xskfwd: tx {ingress} -> {} (queue {queue})",
            head["egress"].as_str().unwrap_or("?")
        ),
        "pass" => format!(
            "xskfwd: pass {} (ingress {ingress}, queue {queue}; for the kernel, dropped as kernel_only)",
            head["reason"].as_str().unwrap_or("?")
        ),
        v => format!(
            "xskfwd: {v} {} (ingress {ingress}, queue {queue})",
            head["reason"].as_str().unwrap_or("?")
        ),
    }
}

/// `xskfwd trace`
pub fn trace(args: &TraceArgs) -> Result<()> {
    // Only a file this trace creates may be removed again (never an
    // existing file, and never a device such as /dev/null).
    let created = args.write != "-" && std::fs::symlink_metadata(&args.write).is_err();
    let result = trace_to_file(args);
    if result.is_err() && created {
        // No half-written capture left behind.
        let _ = std::fs::remove_file(&args.write);
    }
    result
}

fn trace_to_file(args: &TraceArgs) -> Result<()> {
    let req = json!({
        "cmd": "trace", "count": args.count, "verdict": args.verdict,
        "reason": args.reason, "timeout": args.timeout,
    });
    // Check what can be checked here, and open the output, before
    // anything is armed.
    if let Some(r) = &args.reason {
        if xskfwd_core::trace::Reason::from_name(r).is_none() {
            bail!(
                "--reason {r}: unknown; one of {}",
                xskfwd_core::trace::Reason::names()
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
    }
    let out: Box<dyn Write> = if args.write == "-" {
        Box::new(std::io::stdout().lock())
    } else {
        Box::new(std::io::BufWriter::new(
            std::fs::File::create(&args.write)
                .with_context(|| format!("creating {}", args.write))?,
        ))
    };
    let (mut r, reply) = ask(&args.name, &req)?;
    // The server ends the trace by its timeout; allow for it.
    r.get_mut()
        .set_read_timeout(Some(Duration::from_secs_f64(args.timeout + 10.0)))?;
    let ports: Vec<String> = reply["ports"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| p.as_str().map(str::to_string))
        .collect();
    let snap = reply["snap"].as_u64().unwrap_or(65535) as u32;
    let ifaces: Vec<(&str, u32)> = ports.iter().map(|p| (p.as_str(), snap)).collect();
    let mut w = pcapng::Writer::new(out, &ifaces)?;
    let mut counts: std::collections::BTreeMap<String, u64> = Default::default();
    let mut written = 0u64;
    let end = loop {
        let Some(head) = read_json(&mut r)? else {
            bail!("the instance closed the connection mid-trace (it stopped?)");
        };
        if head["end"] == json!(true) {
            break head;
        }
        let len = head["len"].as_u64().context("a record without a length")? as usize;
        let mut data = vec![0u8; len];
        r.read_exact(&mut data).context("reading a traced frame")?;
        let ingress = head["ingress"].as_u64().unwrap_or(0) as u32;
        w.packet(
            ingress,
            head["t_ns"].as_u64().unwrap_or(0),
            head["wire_len"].as_u64().unwrap_or(len as u64) as u32,
            &data,
            &comment(&head, &ports),
        )?;
        let key = match head["verdict"].as_str().unwrap_or("?") {
            "tx" => "tx".to_string(),
            v => format!("{v} {}", head["reason"].as_str().unwrap_or("?")),
        };
        *counts.entry(key).or_default() += 1;
        written += 1;
    };
    w.finish()?.flush()?;
    eprintln!(
        "xskfwd: trace: {written} frame(s) written to {} ({}){}; ended by {}",
        args.write,
        if counts.is_empty() {
            "none matched".to_string()
        } else {
            counts
                .iter()
                .map(|(k, n)| format!("{k}: {n}"))
                .collect::<Vec<_>>()
                .join(", ")
        },
        match end["missed"].as_u64().unwrap_or(0) {
            0 => String::new(),
            n => format!(", {n} matching frame(s) missed (the client was slower than the traffic)"),
        },
        end["why"].as_str().unwrap_or("?")
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn names_and_paths() {
        assert_eq!(socket_path("lab"), Path::new("/run/xskfwd/lab.sock"));
        assert_eq!(socket_path("/tmp/x.sock"), Path::new("/tmp/x.sock"));
        let e = ask("no-such-instance-xyz", &json!({"cmd": "status"})).unwrap_err();
        assert!(e.to_string().contains("no xskfwd instance named"), "{e}");
    }

    #[test]
    fn a_failed_trace_removes_only_a_file_it_created() {
        let dir = std::env::temp_dir().join(format!("xskfwd-trace-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let args = |w: &Path| TraceArgs {
            name: "no-such-instance-xyz".into(),
            count: 1,
            verdict: None,
            reason: None,
            timeout: 1.0,
            write: w.display().to_string(),
        };
        let existing = dir.join("kept.pcapng");
        std::fs::write(&existing, b"keep me").unwrap();
        assert!(trace(&args(&existing)).is_err());
        assert!(existing.exists(), "an existing file is never removed");
        let fresh = dir.join("fresh.pcapng");
        assert!(trace(&args(&fresh)).is_err());
        assert!(
            !fresh.exists(),
            "a capture it created is not left half-written"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn comments_say_what_happened() {
        let ports = ["dut0".to_string(), "dut1".to_string()];
        let c = comment(
            &json!({"ingress": 0, "queue": 0, "verdict": "drop", "reason": "too_big"}),
            &ports,
        );
        assert_eq!(c, "xskfwd: drop too_big (ingress dut0, queue 0)");
        let c = comment(
            &json!({"ingress": 1, "queue": 2, "verdict": "tx", "egress": "dut0"}),
            &ports,
        );
        assert_eq!(c, "xskfwd: tx dut1 -> dut0 (queue 2)");
    }

    #[test]
    fn status_renders_without_a_datapath() {
        let t = render_status(&json!({"name": "x", "state": "starting", "uptime_s": 1.5}));
        assert!(t.contains("xskfwd x") && t.contains("starting"), "{t}");
    }
}
