//! The operator's surface of a running instance, end to end, with the
//! real binary in a throwaway lab: Prometheus metrics checked by
//! `promtool` and scraped by a real Prometheus server (on loopback inside
//! the lab's dut namespace), `xskfwd status` / `routes NAME`, a packet
//! trace read back with tshark and compared frame by frame with the
//! traffic sent, and JSON log lines for port events. Root only; every lab
//! and process is removed on drop; all traffic is bounded.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::*;
use xskfwd_lab::demo::ChildGuard;
use xskfwd_lab::lab::LabInfo;
use xskfwd_lab::traffic::{self, SendLimits, Sender};

/// A scratch directory removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(tag: &str) -> Scratch {
        let d = std::env::temp_dir().join(format!(
            "xskfwd-{tag}-{}-{}",
            std::process::id(),
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        ));
        std::fs::create_dir_all(&d).unwrap();
        Scratch(d)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `GET path` from `addr` inside namespace `ns` (HTTP/1.0, body only).
fn http_get(ns: &str, addr: &str, path: &str) -> Result<String, String> {
    let (ns, addr, path) = (ns.to_string(), addr.to_string(), path.to_string());
    thread::spawn(move || -> Result<String, String> {
        xskfwd::netns::enter_netns(&ns).map_err(|e| e.to_string())?;
        let mut s = TcpStream::connect(&addr).map_err(|e| format!("{addr}: {e}"))?;
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        write!(s, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").map_err(|e| e.to_string())?;
        let mut resp = String::new();
        s.read_to_string(&mut resp).map_err(|e| e.to_string())?;
        let (head, body) = resp.split_once("\r\n\r\n").ok_or("no HTTP header")?;
        if !head.starts_with("HTTP/1.1 200") && !head.starts_with("HTTP/1.0 200") {
            return Err(format!("{path}: {head}"));
        }
        Ok(body.to_string())
    })
    .join()
    .expect("http thread")
}

fn url_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A Prometheus server on loopback in `ns`, scraping `target` every
/// second; killed on drop.
struct Prometheus {
    _guard: ChildGuard,
    ns: String,
    addr: String,
    _dir: Scratch,
}

impl Prometheus {
    fn start(ns: &str, target: &str) -> Prometheus {
        let dir = Scratch::new("prom");
        let config = dir.0.join("prometheus.yml");
        std::fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: 1s\n  scrape_timeout: 900ms\n\
                 scrape_configs:\n  - job_name: xskfwd\n    static_configs:\n      - targets: ['{target}']\n"
            ),
        )
        .unwrap();
        let check = Command::new("promtool")
            .args(["check", "config"])
            .arg(&config)
            .output()
            .expect("promtool (scripts/install-deps.sh installs prometheus)");
        assert!(check.status.success(), "{check:?}");
        let addr = "127.0.0.1:9090".to_string();
        let child = Command::new("ip")
            .args(["netns", "exec", ns, "prometheus"])
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.0.join("data").display()
            ))
            .arg(format!("--web.listen-address={addr}"))
            .arg("--log.level=warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("prometheus (scripts/install-deps.sh installs it)");
        let p = Prometheus {
            _guard: ChildGuard(child),
            ns: ns.to_string(),
            addr,
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while http_get(&p.ns, &p.addr, "/-/ready").is_err() {
            assert!(Instant::now() < deadline, "prometheus did not become ready");
            thread::sleep(Duration::from_millis(200));
        }
        // Prometheus hands targets to its scrapers some seconds after it
        // is ready: wait for the first successful scrape.
        while p.query("up{job=\"xskfwd\"}", now_unix()) != Some(1.0) {
            assert!(Instant::now() < deadline, "prometheus never scraped xskfwd");
            thread::sleep(Duration::from_millis(200));
        }
        p
    }

    /// The single value of an instant query at `time` (Unix seconds).
    fn query(&self, q: &str, time: f64) -> Option<f64> {
        let body = http_get(
            &self.ns,
            &self.addr,
            &format!("/api/v1/query?query={}&time={time:.3}", url_encode(q)),
        )
        .ok()?;
        let v: serde_json::Value = serde_json::from_str(&body).ok()?;
        assert_eq!(v["status"], "success", "{body}");
        let r = v["data"]["result"].as_array()?.first()?.clone();
        r["value"][1].as_str()?.parse().ok()
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        self._guard.signal(libc::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self._guard.0.try_wait() {
                return;
            }
            thread::sleep(Duration::from_millis(50));
        }
    }
}

fn now_unix() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

fn unique_name(tag: &str) -> String {
    format!("t{tag}{}", std::process::id())
}

fn run_args(info: &LabInfo, name: &str, extra: &[&str]) -> Vec<String> {
    let mut v = xskfwd_lab::demo::l2_run_args(info);
    v.extend(
        ["--name", name, "--stats", "json", "--stats-interval", "0.5"]
            .iter()
            .chain(extra)
            .map(|s| s.to_string()),
    );
    v
}

fn cli(args: &[&str]) -> std::process::Output {
    xskfwd().args(args).output().expect("xskfwd")
}

/// Sends `frames` from src0 at `rate` (all of them, or the test fails).
fn send(info: &LabInfo, frames: &[Vec<u8>], rate: u64) {
    let tx = Sender::new(info.src_ns(), "src0").expect("sender");
    let n = frames.len() as u64;
    let sent = tx
        .send(
            frames,
            SendLimits::new(n, Duration::from_secs(30)).rate(rate),
        )
        .expect("send");
    assert_eq!(sent.sent, n, "the sender was bounded by time, not count");
}

#[test]
fn prometheus_scrapes_a_running_instance_and_status_answers() {
    if !root_or_skip("prometheus_scrapes_a_running_instance_and_status_answers") {
        return;
    }
    let lab = lab("opmet");
    let info = lab.info().clone();
    let name = unique_name("met");
    ip(info.dut_ns(), &["link", "set", "lo", "up"]);
    let fwd = Running::start(
        &run_args(
            &info,
            &name,
            &["--metrics", "127.0.0.1:9417", "--log-format", "json"],
        ),
        info.dut_ns(),
        "dut0",
    );
    // The exposition is valid for promtool.
    let text = http_get(info.dut_ns(), "127.0.0.1:9417", "/metrics").expect("metrics");
    let mut promtool = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool (scripts/install-deps.sh installs prometheus)");
    promtool
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = promtool.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool check metrics:\n{}{}\n{text}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    let prom = Prometheus::start(info.dut_ns(), "127.0.0.1:9417");
    // 30,000 frames at 5,000 per second: six seconds of traffic.
    const N: u64 = 30_000;
    const RATE: u64 = 5_000;
    let frames = traffic::build_frames(&info.udp_spec(false, 128), N).expect("frames");
    let t0 = now_unix();
    send(&info, &frames, RATE);
    let t1 = now_unix();
    // Two more scrapes after the end.
    thread::sleep(Duration::from_millis(2500));
    let q = |expr: &str, at: f64| {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(v) = prom.query(expr, at) {
                return v;
            }
            assert!(Instant::now() < deadline, "no result for {expr}");
            thread::sleep(Duration::from_millis(300));
        }
    };
    let total = q(
        "xskfwd_rx_packets_total{port=\"dut0\",job=\"xskfwd\"}",
        now_unix(),
    );
    eprintln!("prometheus: xskfwd_rx_packets_total{{port=dut0}} = {total}");
    // Every frame sent, plus at most a few of the lab's own (IPv6
    // neighbour discovery) that L2 forwards too.
    assert!(
        (N as f64..=N as f64 + 50.0).contains(&total),
        "{total} vs {N} sent"
    );
    let mid = (t0 + t1) / 2.0;
    let rate = q("rate(xskfwd_rx_packets_total{port=\"dut0\"}[3s])", mid);
    let tx_rate = q("rate(xskfwd_tx_packets_total{port=\"dut1\"}[3s])", mid);
    eprintln!(
        "prometheus: rx rate {rate:.0}/s, tx rate {tx_rate:.0}/s at mid-traffic (sent {RATE}/s)"
    );
    for r in [rate, tx_rate] {
        assert!(
            (RATE as f64 * 0.8..=RATE as f64 * 1.2).contains(&r),
            "rate {r} vs {RATE} sent per second"
        );
    }
    let up = q("xskfwd_port_state{port=\"dut1\",state=\"up\"}", now_unix());
    assert_eq!(up, 1.0);
    drop(prom);

    // xskfwd status, JSON and text.
    let out = cli(&["status", &name, "--json"]);
    assert!(out.status.success(), "{out:?}");
    let s: serde_json::Value = serde_json::from_slice(&out.stdout).expect("status JSON");
    assert_eq!(s["name"], name.as_str());
    assert_eq!(s["state"], "forwarding");
    assert_eq!(s["mode"], "l2");
    assert_eq!(s["bind"], "copy");
    assert_eq!(s["ports"][0]["name"], "dut0");
    assert_eq!(s["ports"][1]["link"], "up");
    assert!(s["ports"][0]["rx_packets"].as_u64().unwrap() >= N);
    assert_eq!(s["workers"][0]["queue"], 0);
    let frames_total = s["umem"]["frames"].as_u64().unwrap();
    let held: u64 = ["free", "kernel", "in_flight"]
        .iter()
        .map(|k| s["umem"][k].as_u64().unwrap())
        .sum();
    assert_eq!(held, frames_total, "every frame somewhere: {}", s["umem"]);
    let out = cli(&["status", &name]);
    let text = String::from_utf8_lossy(&out.stdout);
    eprintln!("{text}");
    assert!(text.contains("dut0") && text.contains("QUEUE") && text.contains("privileges:"));
    // An L2 instance has no routes; an unknown name is named.
    let out = cli(&["routes", &name]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not an L3 router"));
    let out = cli(&["status", "no-such-instance-here"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("no xskfwd instance named"));

    // Port events as JSON log lines.
    ip(info.dut_ns(), &["link", "set", "dut1", "down"]);
    thread::sleep(Duration::from_millis(500));
    ip(info.dut_ns(), &["link", "set", "dut1", "up"]);
    thread::sleep(Duration::from_millis(500));
    let done = stop_clean(fwd);
    let socket = Path::new("/run/xskfwd").join(format!("{name}.sock"));
    assert!(!socket.exists(), "the control socket is removed at the end");
    let mut port_events = Vec::new();
    for line in done.stderr.lines() {
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        assert!(v["ts"].is_string() && v["level"].is_string(), "{line}");
        if v["event"] == "port" {
            port_events.push(v["msg"].as_str().unwrap().to_string());
        }
    }
    assert!(
        port_events
            .iter()
            .any(|m| m.starts_with("port dut1: link down")),
        "{port_events:?}"
    );
    assert!(
        port_events
            .iter()
            .any(|m| m.starts_with("port dut1: link up")),
        "{port_events:?}"
    );
}

/// Frames from a pcapng file, through tshark: (comment, bytes) each.
fn read_capture(file: &Path) -> Vec<(String, Vec<u8>)> {
    let out = Command::new("tshark")
        .arg("-r")
        .arg(file)
        .args(["-T", "fields", "-e", "frame.comment", "-e", "frame.len"])
        .output()
        .expect("tshark (scripts/install-deps.sh installs it)");
    assert!(out.status.success(), "{out:?}");
    let fields: Vec<(String, usize)> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| {
            let (c, len) = l.rsplit_once('\t').expect("two fields");
            (c.to_string(), len.parse().expect("length"))
        })
        .collect();
    // The bytes: tshark rewrites the capture as classic pcap, read here.
    let pcap = file.with_extension("pcap");
    let conv = Command::new("tshark")
        .arg("-r")
        .arg(file)
        .args(["-F", "pcap", "-w"])
        .arg(&pcap)
        .output()
        .expect("tshark");
    assert!(conv.status.success(), "{conv:?}");
    let b = std::fs::read(&pcap).unwrap();
    assert_eq!(&b[..4], &0xa1b2c3d4u32.to_le_bytes(), "little-endian pcap");
    let mut frames = Vec::new();
    let mut at = 24;
    while at < b.len() {
        let caplen = u32::from_le_bytes(b[at + 8..at + 12].try_into().unwrap()) as usize;
        frames.push(b[at + 16..at + 16 + caplen].to_vec());
        at += 16 + caplen;
    }
    assert_eq!(frames.len(), fields.len());
    fields
        .into_iter()
        .zip(frames)
        .map(|((c, len), f)| {
            assert_eq!(len, f.len());
            (c, f)
        })
        .collect()
}

#[test]
fn a_trace_captures_drops_and_transmits_frame_by_frame() {
    if !root_or_skip("a_trace_captures_drops_and_transmits_frame_by_frame") {
        return;
    }
    let lab = lab("optrc");
    let info = lab.info().clone();
    let name = unique_name("trc");
    // dut1 takes at most 1000-byte packets: bigger frames are dropped as
    // too_big by xskfwd (L2 forwards, it does not fragment).
    ip(info.dut_ns(), &["link", "set", "dut1", "mtu", "1000"]);
    let fwd = Running::start(&run_args(&info, &name, &[]), info.dut_ns(), "dut0");
    let dir = Scratch::new("trace");
    // Interleaved: 20 small frames that pass, 20 big ones that do not.
    let small = info.udp_spec(false, 200);
    let big = info.udp_spec(false, 1200);
    let mut frames = Vec::new();
    for i in 0..20u64 {
        frames.push(traffic::build_frame(&small, i).unwrap());
        frames.push(traffic::build_frame(&big, 1000 + i).unwrap());
    }
    let trace = |verdict: &str, count: u32, file: &Path| {
        let child = xskfwd()
            .args(["trace", &name, "--verdict", verdict, "--timeout", "30"])
            .args(["-c", &count.to_string(), "-w"])
            .arg(file)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("xskfwd trace");
        ChildGuard(child)
    };
    let drops_file = dir.0.join("drops.pcapng");
    let mut drops = trace("drop", 20, &drops_file);
    // Armed before any traffic.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let out = cli(&["status", &name, "--json"]);
        let s: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
        if s["tracing"] == true {
            break;
        }
        assert!(Instant::now() < deadline, "the trace was never armed");
        thread::sleep(Duration::from_millis(100));
    }
    // A second client cannot trace at the same time.
    let out = cli(&["trace", &name, "-c", "1", "-w", "/dev/null"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("another trace"));
    send(&info, &frames, 1000);
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(s) = drops.0.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "the trace did not end");
        thread::sleep(Duration::from_millis(50));
    };
    let mut err = String::new();
    drops
        .0
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert!(status.success(), "{err}");
    assert!(
        err.contains("20 frame(s) written") && err.contains("drop too_big: 20"),
        "{err}"
    );
    let got = read_capture(&drops_file);
    assert_eq!(got.len(), 20);
    for (i, (comment, bytes)) in got.iter().enumerate() {
        assert_eq!(comment, "xskfwd: drop too_big (ingress dut0, queue 0)");
        let sent = &frames[2 * i + 1];
        assert_eq!(
            bytes, sent,
            "drop {i}: the frame as it arrived, byte for byte"
        );
    }
    // Now the frames that go out: rewritten (MACs) as they leave.
    let tx_file = dir.0.join("tx.pcapng");
    let mut txs = trace("tx", 10, &tx_file);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !serde_json::from_slice::<serde_json::Value>(&cli(&["status", &name, "--json"]).stdout)
        .is_ok_and(|s| s["tracing"] == true)
    {
        assert!(Instant::now() < deadline, "the trace was never armed");
        thread::sleep(Duration::from_millis(100));
    }
    let smalls: Vec<Vec<u8>> = frames.iter().step_by(2).take(10).cloned().collect();
    send(&info, &smalls, 1000);
    let deadline = Instant::now() + Duration::from_secs(30);
    while txs.0.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "the tx trace did not end");
        thread::sleep(Duration::from_millis(50));
    }
    let got = read_capture(&tx_file);
    assert_eq!(got.len(), 10);
    for (i, (comment, bytes)) in got.iter().enumerate() {
        assert_eq!(comment, "xskfwd: tx dut0 -> dut1 (queue 0)");
        assert_eq!(&bytes[0..6], &info.dst0.mac, "to dst0's MAC");
        assert_eq!(&bytes[6..12], &info.dut1.mac, "from dut1's");
        assert_eq!(&bytes[12..], &smalls[i][12..], "tx {i}: the rest unchanged");
    }
    let summary = stop_and_summary(fwd);
    assert_eq!(
        summary["drops"]["too_big"], 20,
        "the counter agrees with the trace"
    );
    assert_eq!(summary["frames"]["conserved"], true);
}

#[test]
fn an_l3_instance_from_a_config_file_shows_its_running_tables() {
    if !root_or_skip("an_l3_instance_from_a_config_file_shows_its_running_tables") {
        return;
    }
    let lab = lab("opl3");
    let info = lab.info().clone();
    let name = unique_name("l3");
    let dir = Scratch::new("l3conf");
    let file = dir.0.join("xskfwd.toml");
    std::fs::write(
        &file,
        format!(
            "# An L3 router in the lab's dut, configured by file only.\n\
             ports = [\"dut0\", \"dut1\"]\nmode = \"l3\"\nnetns = \"{}\"\nname = \"{name}\"\n\
             stats = \"json\"\nstats-interval = 0.5\n\n\
             [[route]]\nprefix = \"198.18.99.0/24\"\nvia = \"198.18.1.1\"\ndev = \"dut1\"\n",
            info.dut_ns()
        ),
    )
    .unwrap();
    let file_arg = file.display().to_string();
    // The file checks, and the effective configuration names the route.
    let out = cli(&["config", "check", &file_arg]);
    assert!(out.status.success(), "{out:?}");
    let effective = String::from_utf8_lossy(&out.stdout);
    assert!(effective.contains("198.18.99.0/24"), "{effective}");
    assert!(
        effective.contains(&format!("name = \"{name}\"")),
        "{effective}"
    );
    let fwd = Running::start(
        &["run".to_string(), "--config".to_string(), file_arg],
        info.dut_ns(),
        "dut0",
    );
    assert!(ping(info.src_ns(), &info.dst0.ipv4.to_string()), "routed");
    // The running tables: the static route, then a kernel route added
    // while it runs.
    let routes = |name: &str| {
        let out = cli(&["routes", name]);
        assert!(out.status.success(), "{out:?}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let t = routes(&name);
    let line = t
        .lines()
        .find(|l| l.starts_with("198.18.99.0/24"))
        .unwrap_or_else(|| panic!("no static route in\n{t}"));
    assert!(
        line.contains("via 198.18.1.1 dev dut1") && line.contains("static"),
        "{line}"
    );
    ip(
        info.dut_ns(),
        &[
            "route",
            "add",
            "198.18.77.0/24",
            "via",
            "198.18.1.1",
            "dev",
            "dut1",
        ],
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let t = routes(&name);
        if let Some(l) = t.lines().find(|l| l.starts_with("198.18.77.0/24")) {
            assert!(
                l.contains("via 198.18.1.1 dev dut1") && l.contains("kernel"),
                "{l}"
            );
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the new route never showed:\n{t}"
        );
        thread::sleep(Duration::from_millis(100));
    }
    let out = cli(&["status", &name, "--json"]);
    let s: serde_json::Value = serde_json::from_slice(&out.stdout).expect("status");
    assert_eq!(s["mode"], "l3");
    assert!(
        s["tables"]["routes_v4"].as_u64().unwrap() >= 3,
        "{}",
        s["tables"]
    );
    assert!(
        s["tables"]["route_builds"].as_u64().unwrap() >= 2,
        "{}",
        s["tables"]
    );
    let summary = stop_and_summary(fwd);
    assert_eq!(summary["frames"]["conserved"], true);
}
