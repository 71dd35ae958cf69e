//! `xskfwd soak`: the soak and overload checks an operator would run by
//! hand, as one bounded command with a verdict.
//!
//! In a throwaway lab, with xskfwd pinned in dut (L3 by default):
//! 1. calibrate: the most xskfwd delivers (generator unthrottled), then
//!    the highest of 90 %, 75 %, … of it with zero loss over 2 s;
//! 2. steady: IMIX at that rate for `--duration`, plus ~1 % malformed
//!    frames (bad checksum, lengths, version, header length) from a
//!    second sender; every `--interval` a sample of xskfwd's RSS, open
//!    fds, CPU and drops by reason;
//! 3. overload: the generator unthrottled (about 2× what xskfwd can
//!    forward on this machine's two cores) for `--overload`;
//! 4. recovery: a quarter of the steady rate for `--recovery`, which must
//!    be lossless;
//! 5. xskfwd stopped: its summary must account for every frame and say
//!    rx = tx + drops.
//!
//! Fails (non-zero) if RSS grows by more than `--rss-slack` after the
//! first sample, if the open fds change, if the recovery loses a frame,
//! or if the accounting does not close. Everything is bounded in time and
//! removed at the end (guards), also on failure.

use std::collections::BTreeMap;
use std::io::BufRead;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};
use serde_json::json;

use crate::demo::{self, ChildGuard};
use crate::gen::{self, Engine, FrameSize, GenConfig};
use crate::lab::LabInfo;
use crate::progress::Progress;
use crate::sink::{Sink, SinkConfig, SinkMode};
use crate::traffic::{self, SendLimits, Sender};

/// `xskfwd soak`
#[derive(Debug, Clone, clap::Args)]
pub struct SoakArgs {
    /// Length of the steady phase (`90s`, `30m`, `1h`; plain numbers are
    /// seconds).
    #[arg(long, value_parser = parse_duration, default_value = "30m")]
    pub duration: Duration,
    /// Seconds between samples.
    #[arg(long, value_parser = parse_duration, default_value = "10s")]
    pub interval: Duration,
    /// Forwarding mode.
    #[arg(long, value_enum, default_value_t = SoakMode::L3)]
    pub mode: SoakMode,
    /// Steady rate in frames/s (default: the measured zero-loss rate).
    #[arg(long, value_parser = gen::parse_rate)]
    pub rate: Option<u64>,
    /// Share of malformed frames, percent of the steady rate.
    #[arg(long, default_value_t = 1.0)]
    pub malformed_pct: f64,
    /// Length of the overload phase.
    #[arg(long, value_parser = parse_duration, default_value = "10s")]
    pub overload: Duration,
    /// Length of the lossless low-rate phase after it.
    #[arg(long, value_parser = parse_duration, default_value = "5s")]
    pub recovery: Duration,
    /// RSS growth tolerated after the first sample, KiB.
    #[arg(long, default_value_t = 1024)]
    pub rss_slack: u64,
    /// CPU of the generator.
    #[arg(long, default_value_t = 0)]
    pub gen_cpu: usize,
    /// CPU of xskfwd's worker.
    #[arg(long, default_value_t = 1)]
    pub fwd_cpu: usize,
    /// Also write every sample and the verdict as JSON here.
    #[arg(long)]
    pub json: Option<std::path::PathBuf>,
}

/// What xskfwd does in the soak.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum SoakMode {
    /// L2 cross-connect.
    L2,
    /// L3 router (IPv4).
    L3,
}

/// `90`, `90s`, `30m`, `1h`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    let (num, unit) = match t.char_indices().last() {
        Some((i, 's')) => (&t[..i], 1.0),
        Some((i, 'm')) => (&t[..i], 60.0),
        Some((i, 'h')) => (&t[..i], 3600.0),
        _ => (t, 1.0),
    };
    let v: f64 = num
        .parse()
        .map_err(|_| format!("bad duration {s:?} (e.g. 20s, 30m, 1h)"))?;
    let secs = v * unit;
    if !(0.1..=86_400.0).contains(&secs) {
        return Err(format!("duration {s:?} out of range (0.1 s ..= 24 h)"));
    }
    Ok(Duration::from_secs_f64(secs))
}

/// One sample of the forwarder process.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Sample {
    /// Phase.
    pub phase: &'static str,
    /// Seconds since the steady phase began.
    pub t: f64,
    /// Resident set, KiB.
    pub rss_kib: u64,
    /// Open file descriptors.
    pub fds: usize,
    /// CPU since the last sample, percent of one core.
    pub cpu_pct: f64,
    /// Frames xskfwd received, transmitted and dropped so far.
    pub rx: u64,
    /// Transmitted.
    pub tx: u64,
    /// Dropped, by reason (only the non-zero ones).
    pub drops: BTreeMap<String, u64>,
}

/// The forwarder as the soak watches it.
struct Forwarder {
    child: ChildGuard,
    pid: u32,
    /// The last interval line of `--stats json`.
    last: Arc<Mutex<Option<serde_json::Value>>>,
    /// The summary line, once printed.
    summary: Arc<Mutex<Option<serde_json::Value>>>,
    reader: Option<thread::JoinHandle<()>>,
    ticks: u64,
    at: Instant,
}

fn proc_status(pid: u32, key: &str) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    s.lines()
        .find_map(|l| l.strip_prefix(key))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

fn proc_ticks(pid: u32) -> u64 {
    let Ok(s) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0;
    };
    let Some(close) = s.rfind(')') else { return 0 };
    let f: Vec<&str> = s[close + 2..].split_whitespace().collect();
    let g = |i: usize| {
        f.get(i - 3)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    g(14) + g(15)
}

impl Forwarder {
    fn start(info: &LabInfo, args: &SoakArgs) -> Result<Forwarder> {
        let mut run = match args.mode {
            SoakMode::L2 => demo::l2_run_args(info),
            SoakMode::L3 => demo::l3_run_args(info),
        };
        run.extend([
            "--cpus".into(),
            args.fwd_cpu.to_string(),
            "--stats".into(),
            "json".into(),
            "--stats-interval".into(),
            format!("{}", args.interval.as_secs_f64().min(60.0)),
        ]);
        let mut child = ChildGuard(
            Command::new(demo::forwarder_exe()?)
                .args(&run)
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit())
                .spawn()
                .context("starting xskfwd run")?,
        );
        let out = child.0.stdout.take().context("xskfwd's stdout")?;
        let last = Arc::new(Mutex::new(None));
        let summary = Arc::new(Mutex::new(None));
        let (l, s) = (Arc::clone(&last), Arc::clone(&summary));
        let reader = thread::spawn(move || {
            for line in std::io::BufReader::new(out).lines() {
                let Ok(line) = line else { break };
                let Ok(v) = serde_json::from_str::<serde_json::Value>(&line) else {
                    continue;
                };
                let slot = if v["type"] == "summary" { &s } else { &l };
                *slot
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(v);
            }
        });
        demo::wait_attached(info.dut_ns(), "dut1", &mut child.0, Duration::from_secs(20))?;
        let pid = child.0.id();
        Ok(Forwarder {
            child,
            pid,
            last,
            summary,
            reader: Some(reader),
            ticks: proc_ticks(pid),
            at: Instant::now(),
        })
    }

    fn sample(&mut self, phase: &'static str, t: f64) -> Result<Sample> {
        ensure!(
            self.child.0.try_wait()?.is_none(),
            "xskfwd exited during the {phase} phase"
        );
        let ticks = proc_ticks(self.pid);
        let now = Instant::now();
        let dt = now.duration_since(self.at).as_secs_f64().max(1e-3);
        let cpu_pct = (ticks - self.ticks) as f64 / 100.0 / dt * 100.0;
        (self.ticks, self.at) = (ticks, now);
        let fds = std::fs::read_dir(format!("/proc/{}/fd", self.pid))?.count();
        let (rx, tx, drops) = self
            .last
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .as_ref()
            .map(counters)
            .unwrap_or_default();
        Ok(Sample {
            phase,
            t,
            rss_kib: proc_status(self.pid, "VmRSS:").unwrap_or(0),
            fds,
            cpu_pct,
            rx,
            tx,
            drops,
        })
    }

    /// SIGTERM, bounded wait, the summary.
    fn stop(mut self) -> Result<serde_json::Value> {
        self.child.signal(libc::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(20);
        let status = loop {
            if let Some(s) = self.child.0.try_wait()? {
                break s;
            }
            ensure!(Instant::now() < deadline, "xskfwd did not stop on SIGTERM");
            thread::sleep(Duration::from_millis(20));
        };
        if let Some(r) = self.reader.take() {
            let _ = r.join();
        }
        ensure!(status.success(), "xskfwd exited with {status}");
        let s = self
            .summary
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        s.context("xskfwd printed no summary")
    }
}

/// rx, tx and drops by reason of an interval or summary line.
fn counters(v: &serde_json::Value) -> (u64, u64, BTreeMap<String, u64>) {
    let mut rx = 0;
    let mut tx = 0;
    let mut drops = BTreeMap::new();
    for p in v["ports"].as_array().into_iter().flatten() {
        rx += p["rx_packets"].as_u64().unwrap_or(0);
        tx += p["tx_packets"].as_u64().unwrap_or(0);
        for (k, n) in p["drops"].as_object().into_iter().flatten() {
            let n = n.as_u64().unwrap_or(0);
            if n > 0 {
                *drops.entry(k.clone()).or_insert(0) += n;
            }
        }
    }
    (rx, tx, drops)
}

/// The malformed frames of the mix, built from a valid one of `info`.
fn malformed(info: &LabInfo) -> Result<Vec<Vec<u8>>> {
    let good = traffic::build_frame(&info.udp_spec(false, 128), 0)?;
    let mut out = Vec::new();
    let mut with = |f: &dyn Fn(&mut Vec<u8>)| {
        let mut v = good.clone();
        f(&mut v);
        out.push(v);
    };
    with(&|v| v[24] ^= 0x55); // IPv4 header checksum
    with(&|v| v[16..18].copy_from_slice(&2000u16.to_be_bytes())); // total length > frame
    with(&|v| v[14] = 0x55); // version 5
    with(&|v| v[14] = 0x43); // IHL 3
    with(&|v| v.truncate(30)); // header cut short
    let good6 = traffic::build_frame(&info.udp_spec(true, 128), 0)?;
    let mut v6 = good6.clone();
    v6[18..20].copy_from_slice(&3000u16.to_be_bytes()); // payload length > frame
    out.push(v6);
    let mut v6 = good6;
    v6[14] = 0x45; // IPv6 ethertype, version 4
    out.push(v6);
    Ok(out)
}

/// Runs the generator in `info`'s src at `rate` (unthrottled: `None`)
/// for `dur`, IMIX or one size.
fn generate(
    info: &LabInfo,
    args: &SoakArgs,
    size: FrameSize,
    rate: Option<u64>,
    dur: Duration,
) -> Result<gen::GenReport> {
    let mut cfg = GenConfig::new("src0", info.udp_spec(false, 64));
    cfg.netns = Some(info.src_ns().to_string());
    cfg.size = size;
    cfg.flows = 16;
    cfg.duration = dur;
    cfg.rate_pps = rate;
    cfg.engine = Engine::Live;
    cfg.cpu = Some(args.gen_cpu);
    gen::run_until(&cfg, &AtomicBool::new(false))
}

/// Sends at `rate` for `dur` and returns (sent, delivered at dst0).
fn trial(
    info: &LabInfo,
    args: &SoakArgs,
    sink: &Sink,
    size: FrameSize,
    rate: Option<u64>,
    dur: Duration,
) -> Result<(u64, u64)> {
    let before = sink.snapshot().packets;
    let r = generate(info, args, size, rate, dur)?;
    thread::sleep(Duration::from_millis(300));
    Ok((r.sent, sink.snapshot().packets - before))
}

fn print(progress: &Progress, s: &Sample) {
    let drops: Vec<String> = s.drops.iter().map(|(k, v)| format!("{k} {v}")).collect();
    progress.note(&format!(
        "soak: {:>9} {:>7.0}s  rss {:>7} KiB  fds {:>3}  cpu {:>5.1}%  rx {:>11} tx {:>11}  drops: {}",
        s.phase,
        s.t,
        s.rss_kib,
        s.fds,
        s.cpu_pct,
        s.rx,
        s.tx,
        if drops.is_empty() {
            "none".to_string()
        } else {
            drops.join(", ")
        }
    ));
}

/// What failed, if anything: RSS growth beyond `rss_slack` KiB over the
/// first sample, a change in open fds, a loss in the recovery phase
/// (`recovery` = sent, delivered), accounting that does not close.
pub fn verdict(
    samples: &[Sample],
    rss_slack: u64,
    (r_sent, r_got): (u64, u64),
    summary: &serde_json::Value,
) -> Vec<String> {
    let mut failures = Vec::new();
    let Some(base) = samples.first() else {
        return vec!["no samples".into()];
    };
    let rss_max = samples.iter().map(|s| s.rss_kib).max().unwrap_or(0);
    if rss_max > base.rss_kib + rss_slack {
        failures.push(format!(
            "RSS grew from {} to {} KiB (more than {} KiB)",
            base.rss_kib, rss_max, rss_slack
        ));
    }
    if let Some(s) = samples.iter().find(|s| s.fds != base.fds) {
        failures.push(format!(
            "open fds changed from {} to {} at {:.0} s",
            base.fds, s.fds, s.t
        ));
    }
    if r_got < r_sent {
        failures.push(format!(
            "the recovery phase lost {} of {r_sent} frames",
            r_sent - r_got
        ));
    }
    let (rx, tx, drops) = counters(summary);
    let dropped: u64 = drops.values().sum();
    if rx != tx + dropped {
        failures.push(format!("rx {rx} != tx {tx} + dropped {dropped}"));
    }
    if summary["frames"]["conserved"] != true {
        failures.push(format!("frames not conserved: {}", summary["frames"]));
    }
    failures
}

/// `xskfwd soak`.
pub fn run(args: &SoakArgs) -> Result<()> {
    ensure!(
        args.interval >= Duration::from_secs(1),
        "--interval must be at least 1 s"
    );
    ensure!(
        (0.0..=50.0).contains(&args.malformed_pct),
        "--malformed-pct must be 0..=50"
    );
    crate::bench::lab_run_ok("the soak", args.gen_cpu, args.fwd_cpu)?;
    let (lab, info) = crate::bench::sink_lab("soak", args.gen_cpu, args.fwd_cpu, 1)?;
    let total = args.duration + args.overload + args.recovery + Duration::from_secs(120);
    let mut sink_cfg = SinkConfig::new("dst0", SinkMode::Count);
    sink_cfg.netns = Some(info.dst_ns().to_string());
    sink_cfg.duration = total;
    let sink = Sink::start(sink_cfg)?;
    let mut fwd = Forwarder::start(&info, args)?;
    // The bar (a terminal only) counts the seconds of the three timed
    // phases; the sample lines print above it.
    let phases = args.duration + args.overload + args.recovery;
    let progress = Progress::new(phases.as_secs());
    progress.begin("calibrating");

    // 1. Calibration.
    let (sent, got) = trial(
        &info,
        args,
        &sink,
        FrameSize::Imix,
        None,
        Duration::from_secs(2),
    )?;
    let capacity = got / 2;
    progress.note(&format!(
        "soak: capacity {capacity} frames/s IMIX delivered ({sent} offered in 2 s)"
    ));
    let rate = match args.rate {
        Some(r) => r,
        None => {
            let mut found = None;
            for pct in [90, 75, 60, 45, 30, 15] {
                let r = (capacity * pct / 100).max(1000);
                let (s, g) = trial(
                    &info,
                    args,
                    &sink,
                    FrameSize::Imix,
                    Some(r),
                    Duration::from_secs(2),
                )?;
                progress.note(&format!("soak: {r} frames/s: {s} sent, {g} delivered"));
                if g >= s {
                    found = Some(r);
                    break;
                }
            }
            found.context("no zero-loss rate found down to 15 % of capacity")?
        }
    };

    // 2. Steady, with malformed frames beside it.
    progress.note(&format!(
        "soak: steady {} s at {rate} frames/s IMIX + {} % malformed, a sample every {} s",
        args.duration.as_secs_f64(),
        args.malformed_pct,
        args.interval.as_secs_f64()
    ));
    let bad = malformed(&info)?;
    let bad_rate = ((rate as f64) * args.malformed_pct / 100.0).round() as u64;
    let stop_bad = Arc::new(AtomicBool::new(false));
    let bad_thread = (bad_rate > 0).then(|| {
        let (info, dur, stop) = (info.clone(), args.duration, Arc::clone(&stop_bad));
        thread::spawn(move || -> Result<u64> {
            let tx = Sender::new(info.src_ns(), "src0")?;
            let mut sent = 0;
            let end = Instant::now() + dur;
            // In one-second slices, so a failure elsewhere stops it soon.
            while Instant::now() < end && !stop.load(Ordering::Relaxed) {
                let r = tx.send(
                    &bad,
                    SendLimits::new(bad_rate, Duration::from_secs(1)).rate(bad_rate),
                )?;
                sent += r.sent;
            }
            Ok(sent)
        })
    });
    let gen_thread = {
        let (info, a, dur) = (info.clone(), args.clone(), args.duration);
        thread::spawn(move || generate(&info, &a, FrameSize::Imix, Some(rate), dur))
    };
    let start = Instant::now();
    progress.begin("steady");
    let mut samples = vec![fwd.sample("steady", 0.0)?];
    print(&progress, &samples[0]);
    let mut next = start + args.interval;
    while !gen_thread.is_finished() {
        thread::sleep(Duration::from_millis(100));
        progress.set_position(start.elapsed().as_secs());
        if Instant::now() >= next {
            next += args.interval;
            let s = fwd.sample("steady", start.elapsed().as_secs_f64());
            let s = match s {
                Ok(s) => s,
                Err(e) => {
                    stop_bad.store(true, Ordering::Relaxed);
                    return Err(e);
                }
            };
            print(&progress, &s);
            samples.push(s);
        }
    }
    let steady = gen_thread
        .join()
        .map_err(|_| anyhow::anyhow!("generator panicked"))??;
    stop_bad.store(true, Ordering::Relaxed);
    let bad_sent = match bad_thread {
        Some(h) => h.join().map_err(|_| anyhow::anyhow!("sender panicked"))??,
        None => 0,
    };
    thread::sleep(Duration::from_millis(300));
    let end_steady = fwd.sample("steady", start.elapsed().as_secs_f64())?;
    print(&progress, &end_steady);
    samples.push(end_steady);

    // 3. Overload.
    progress.begin("overload");
    progress.set_position(args.duration.as_secs());
    let (o_sent, o_got) = trial(&info, args, &sink, FrameSize::Imix, None, args.overload)?;
    let s = fwd.sample("overload", start.elapsed().as_secs_f64())?;
    print(&progress, &s);
    samples.push(s);
    progress.note(&format!(
        "soak: overload {} s: {o_sent} offered ({:.0} /s, {:.1}× the measured capacity), {o_got} delivered",
        args.overload.as_secs_f64(),
        o_sent as f64 / args.overload.as_secs_f64(),
        o_sent as f64 / args.overload.as_secs_f64() / capacity.max(1) as f64
    ));

    // 4. Recovery: must be lossless.
    progress.begin("recovery");
    progress.set_position((args.duration + args.overload).as_secs());
    let (r_sent, r_got) = trial(
        &info,
        args,
        &sink,
        FrameSize::Imix,
        Some((rate / 4).max(1000)),
        args.recovery,
    )?;
    let s = fwd.sample("recovery", start.elapsed().as_secs_f64())?;
    print(&progress, &s);
    samples.push(s);
    progress.note(&format!("soak: recovery: {r_sent} sent, {r_got} delivered"));

    // 5. The accounting.
    progress.set_position(phases.as_secs());
    progress.begin("stopping xskfwd");
    let summary = fwd.stop()?;
    drop(sink);
    let (rx, tx, drops) = counters(&summary);
    let dropped: u64 = drops.values().sum();

    let failures = verdict(&samples, args.rss_slack, (r_sent, r_got), &summary);
    let base = &samples[0];
    let rss_max = samples.iter().map(|s| s.rss_kib).max().unwrap_or(0);
    progress.note(&format!(
        "soak: steady {} frames + {bad_sent} malformed sent; summary rx {rx} tx {tx} dropped {dropped} ({}); RSS {}..{} KiB, fds {}",
        steady.sent,
        drops.iter().map(|(k, v)| format!("{k} {v}")).collect::<Vec<_>>().join(", "),
        base.rss_kib,
        rss_max,
        base.fds
    ));
    if let Some(path) = &args.json {
        let report = json!({
            "rate": rate, "capacity": capacity, "steady_sent": steady.sent, "malformed_sent": bad_sent,
            "overload": {"sent": o_sent, "delivered": o_got},
            "recovery": {"sent": r_sent, "delivered": r_got},
            "summary": {"rx": rx, "tx": tx, "dropped": dropped, "drops": drops},
            "samples": samples, "failures": failures,
        });
        std::fs::write(path, serde_json::to_string_pretty(&report)?)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    lab.teardown()?;
    drop(progress);
    if !failures.is_empty() {
        bail!("soak failed: {}", failures.join("; "));
    }
    eprintln!("soak: passed");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse() {
        assert_eq!(parse_duration("90").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("20s").unwrap(), Duration::from_secs(20));
        assert_eq!(parse_duration("30m").unwrap(), Duration::from_secs(1800));
        assert_eq!(parse_duration("1h").unwrap(), Duration::from_secs(3600));
        assert!(parse_duration("0").is_err());
        assert!(parse_duration("soon").is_err());
    }

    fn sample(t: f64, rss_kib: u64, fds: usize) -> Sample {
        Sample {
            phase: "steady",
            t,
            rss_kib,
            fds,
            cpu_pct: 50.0,
            rx: 0,
            tx: 0,
            drops: BTreeMap::new(),
        }
    }

    #[test]
    fn the_verdict_catches_growth_loss_and_broken_accounting() {
        let good = json!({"ports": [{"rx_packets": 10, "tx_packets": 8, "drops": {"runt": 2}}],
                          "frames": {"conserved": true}});
        let flat = [sample(0.0, 1000, 40), sample(10.0, 1500, 40)];
        assert!(verdict(&flat, 1024, (5, 5), &good).is_empty());
        let leak = [sample(0.0, 1000, 40), sample(10.0, 3000, 40)];
        assert!(verdict(&leak, 1024, (5, 5), &good)[0].contains("RSS grew"));
        let fds = [sample(0.0, 1000, 40), sample(10.0, 1000, 41)];
        assert!(verdict(&fds, 1024, (5, 5), &good)[0].contains("open fds"));
        assert!(verdict(&flat, 1024, (5, 4), &good)[0].contains("lost 1 of 5"));
        let bad = json!({"ports": [{"rx_packets": 10, "tx_packets": 9, "drops": {"runt": 2}}],
                         "frames": {"conserved": false}});
        let f = verdict(&flat, 1024, (5, 5), &bad);
        assert_eq!(f.len(), 2, "{f:?}");
        assert!(verdict(&[], 1024, (0, 0), &good)[0].contains("no samples"));
    }

    #[test]
    fn counters_sum_ports_and_keep_non_zero_drops() {
        let v = json!({"ports": [
            {"rx_packets": 10, "tx_packets": 7, "drops": {"too_big": 1, "runt": 0}},
            {"rx_packets": 5, "tx_packets": 6, "drops": {"too_big": 1}},
        ]});
        let (rx, tx, d) = counters(&v);
        assert_eq!((rx, tx), (15, 13));
        assert_eq!(
            d.into_iter().collect::<Vec<_>>(),
            vec![("too_big".to_string(), 2)]
        );
    }
}
