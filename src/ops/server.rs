//! The control socket of a running instance: a Unix stream socket
//! (`/run/xskfwd/NAME.sock` by default, mode 0600) that answers
//! `xskfwd status`, `xskfwd routes NAME` and `xskfwd trace`.
//!
//! Protocol: the client writes one JSON request line; the server answers
//! with one JSON line (`{"ok":true,…}` or `{"ok":false,"error":"…"}`).
//! A trace then streams its records, each a JSON header line followed by
//! the frame's bytes, and ends with an `{"end":true,…}` line.
//!
//! Each client gets a thread of its own (at most [`MAX_CLIENTS`]) with
//! read and write timeouts, so a stuck client holds nothing but its
//! thread; a client never reaches a worker (status reads the latest
//! sample; a trace goes through the core's lock-free [`Tracer`]).
//!
//! [`Tracer`]: xskfwd_core::trace::Tracer

use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};
use xskfwd_core::counters::PortCounters;
use xskfwd_core::links::LinkState;
use xskfwd_core::trace::{Filter, Outcome, Reason, Record, VerdictKind, MAX_BUFFERS};
use xskfwd_core::verdict::DropReason;

use super::{Live, View};
use crate::stats::{self, XDP_COUNTERS};

/// Clients served at once; more are told to retry.
pub const MAX_CLIENTS: usize = 8;
/// Most frames one trace may ask for.
pub const MAX_TRACE: u64 = 1_000_000;
/// Longest a trace may run.
pub const MAX_TRACE_SECS: f64 = 3600.0;
/// A request line longer than this is refused.
const MAX_REQUEST: u64 = 4096;
const IO_TIMEOUT: Duration = Duration::from_secs(5);

/// The listening control socket; removed when dropped.
#[derive(Debug)]
pub struct ControlSocket {
    path: PathBuf,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

/// The control socket, bound but not served yet (bound while set-up
/// holds its privileges; served by a thread started after they are
/// dropped, so it holds none).
#[derive(Debug)]
pub struct ControlListener {
    /// `None` once served.
    listener: Option<UnixListener>,
    path: PathBuf,
}

impl Drop for ControlListener {
    fn drop(&mut self) {
        // Never served (set-up failed first): the file goes with it.
        if self.listener.take().is_some() {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

impl ControlListener {
    /// Binds `path` (creating its directory if needed). Refuses when
    /// another instance answers there; replaces a stale socket file.
    pub fn bind(path: &Path) -> Result<ControlListener> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            if !dir.exists() {
                std::fs::create_dir_all(dir).with_context(|| {
                    format!("creating {} for the control socket", dir.display())
                })?;
                let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755));
            }
        }
        if let Ok(meta) = std::fs::symlink_metadata(path) {
            if !meta.file_type().is_socket() {
                bail!(
                    "control socket {}: a file that is not a socket is in the way (remove it, or choose --control-socket)",
                    path.display()
                );
            }
            match UnixStream::connect(path) {
                Ok(_) => bail!(
                    "control socket {}: another xskfwd answers there (choose another --name)",
                    path.display()
                ),
                Err(_) => {
                    // Nobody listens: left by a process that died.
                    std::fs::remove_file(path).with_context(|| {
                        format!("removing the stale control socket {}", path.display())
                    })?;
                }
            }
        }
        let listener = UnixListener::bind(path)
            .with_context(|| format!("creating the control socket {}", path.display()))?;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
            .with_context(|| format!("chmod 0600 {}", path.display()))?;
        listener
            .set_nonblocking(true)
            .context("control socket: non-blocking accept")?;
        Ok(ControlListener {
            listener: Some(listener),
            path: path.to_path_buf(),
        })
    }

    /// Answers clients from `live` on threads of its own.
    pub fn serve(mut self, live: Arc<Live>) -> Result<ControlSocket> {
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = Arc::clone(&stop);
        let listener = self.listener.take().context("served twice")?;
        let path = std::mem::take(&mut self.path);
        // Removed by the socket's Drop, or here if the thread fails.
        let mut socket = ControlSocket {
            path,
            stop,
            thread: None,
        };
        let thread = thread::Builder::new()
            .name("xskfwd-control".into())
            .spawn(move || accept_loop(&listener, &live, &stopped))
            .context("spawning the control socket thread")?;
        socket.thread = Some(thread);
        crate::info!("start", "control socket: {}", socket.path.display());
        Ok(socket)
    }
}

impl ControlSocket {
    /// Binds and serves at once (tests; a run binds first, serves later).
    pub fn start(path: &Path, live: Arc<Live>) -> Result<ControlSocket> {
        ControlListener::bind(path)?.serve(live)
    }
}

impl Drop for ControlSocket {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        match std::fs::remove_file(&self.path) {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            // After --user, its directory is not ours to write.
            Err(e) if e.kind() == ErrorKind::PermissionDenied => crate::info!(
                "shutdown",
                "control socket {} stays ({e}: this user may not remove it from its directory); nothing answers there, and the next start replaces it",
                self.path.display()
            ),
            Err(e) => crate::warn!(
                "shutdown",
                "control socket {}: not removed ({e}); the next start replaces it",
                self.path.display()
            ),
        }
    }
}

fn accept_loop(listener: &UnixListener, live: &Arc<Live>, stop: &Arc<AtomicBool>) {
    let clients = Arc::new(AtomicUsize::new(0));
    while !stop.load(Ordering::Relaxed) {
        let (mut conn, _) = match listener.accept() {
            Ok(c) => c,
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                thread::sleep(Duration::from_millis(50));
                continue;
            }
            Err(e) => {
                crate::warn!("control", "control socket: accept: {e}");
                thread::sleep(Duration::from_millis(200));
                continue;
            }
        };
        let _ = conn.set_nonblocking(false);
        let _ = conn.set_read_timeout(Some(IO_TIMEOUT));
        let _ = conn.set_write_timeout(Some(IO_TIMEOUT));
        if clients.fetch_add(1, Ordering::AcqRel) >= MAX_CLIENTS {
            clients.fetch_sub(1, Ordering::AcqRel);
            let _ = reply_err(&mut conn, "too many clients at once; try again");
            continue;
        }
        let (live, stop, count) = (Arc::clone(live), Arc::clone(stop), Arc::clone(&clients));
        let spawned = thread::Builder::new()
            .name("xskfwd-client".into())
            .spawn(move || {
                if let Err(e) = serve(conn, &live, &stop) {
                    crate::debug!("control", "control socket client: {e:#}");
                }
                count.fetch_sub(1, Ordering::AcqRel);
            });
        if spawned.is_err() {
            clients.fetch_sub(1, Ordering::AcqRel);
        }
    }
}

fn reply(conn: &mut UnixStream, v: &Value) -> std::io::Result<()> {
    let mut line = v.to_string();
    line.push('\n');
    conn.write_all(line.as_bytes())
}

fn reply_err(conn: &mut UnixStream, msg: &str) -> std::io::Result<()> {
    reply(conn, &json!({"ok": false, "error": msg}))
}

fn serve(mut conn: UnixStream, live: &Live, stop: &AtomicBool) -> Result<()> {
    let mut line = String::new();
    BufReader::new((&conn).take(MAX_REQUEST))
        .read_line(&mut line)
        .context("reading the request")?;
    let req: Value = match serde_json::from_str(line.trim()) {
        Ok(v) => v,
        Err(e) => {
            reply_err(
                &mut conn,
                &format!("bad request (one JSON line expected): {e}"),
            )?;
            return Ok(());
        }
    };
    match req["cmd"].as_str() {
        Some("status") => reply(
            &mut conn,
            &json!({"ok": true, "status": status(&live.view())}),
        )?,
        Some("routes") => match live.tables_text() {
            Some(text) => reply(&mut conn, &json!({"ok": true, "text": text}))?,
            None => reply_err(
                &mut conn,
                if live.view().shape.is_some() {
                    "this instance is not an L3 router (--mode l3): it has no routes"
                } else {
                    "no datapath runs right now (it is being built again)"
                },
            )?,
        },
        Some("trace") => trace(&mut conn, &req, live, stop)?,
        Some(other) => reply_err(
            &mut conn,
            &format!("unknown command `{other}`: status, routes or trace"),
        )?,
        None => reply_err(&mut conn, "the request has no \"cmd\"")?,
    }
    Ok(())
}

/// What a trace request asks for.
#[derive(Debug, PartialEq)]
struct TraceRequest {
    filter: Filter,
    count: u64,
    timeout: Duration,
}

fn trace_request(req: &Value) -> Result<TraceRequest, String> {
    let count = req["count"].as_u64().ok_or("a trace needs \"count\"")?;
    if count == 0 || count > MAX_TRACE {
        return Err(format!("--count must be 1..={MAX_TRACE}"));
    }
    let verdict = match req["verdict"].as_str() {
        None => None,
        Some(v) => Some(
            VerdictKind::from_name(v)
                .ok_or_else(|| format!("unknown verdict `{v}`: tx, drop or pass"))?,
        ),
    };
    let reason = match req["reason"].as_str() {
        None => None,
        Some(r) => Some(Reason::from_name(r).ok_or_else(|| {
            format!(
                "unknown reason `{r}`: one of {}",
                Reason::names().collect::<Vec<_>>().join(", ")
            )
        })?),
    };
    let secs = req["timeout"].as_f64().unwrap_or(60.0);
    if !(secs > 0.0 && secs <= MAX_TRACE_SECS) {
        return Err(format!(
            "--timeout must be in (0, {MAX_TRACE_SECS}] seconds"
        ));
    }
    Ok(TraceRequest {
        filter: Filter { verdict, reason },
        count,
        timeout: Duration::from_secs_f64(secs),
    })
}

fn trace(conn: &mut UnixStream, req: &Value, live: &Live, stop: &AtomicBool) -> Result<()> {
    let r = match trace_request(req) {
        Ok(r) => r,
        Err(e) => {
            reply_err(conn, &e)?;
            return Ok(());
        }
    };
    let Some(shape) = live.view().shape else {
        reply_err(conn, "no datapath runs right now (it is being built again)")?;
        return Ok(());
    };
    let snap = shape.frame_size as usize;
    let buffers = (0..r.count.min(MAX_BUFFERS as u64))
        .map(|_| Record::with_capacity(snap))
        .collect();
    let session = match live.tracer.arm(r.filter, r.count, buffers) {
        Ok(s) => s,
        Err(e) => {
            reply_err(conn, &e.to_string())?;
            return Ok(());
        }
    };
    crate::info!(
        "trace",
        "trace: armed for {} frame(s){}{}",
        r.count,
        r.filter
            .verdict
            .map_or(String::new(), |v| format!(", verdict {}", v.name())),
        req["reason"]
            .as_str()
            .map_or(String::new(), |x| format!(", reason {x}"))
    );
    reply(
        conn,
        &json!({"ok": true, "ports": shape.ports, "queues": shape.queues, "snap": snap}),
    )?;
    let deadline = Instant::now() + r.timeout;
    let mut sent = 0u64;
    let why = loop {
        if sent >= r.count {
            break "count";
        }
        if stop.load(Ordering::Relaxed) || live.view().shape.is_none() {
            break "stopped";
        }
        if Instant::now() >= deadline {
            break "timeout";
        }
        let Some(rec) = session.next(Duration::from_millis(100)) else {
            continue;
        };
        let (verdict, reason, egress) = match rec.outcome {
            Outcome::Tx { egress } => ("tx", "", shape.ports.get(egress as usize).cloned()),
            o => (o.kind().name(), o.reason(), None),
        };
        let head = json!({
            "t_ns": rec.time.as_nanos() as u64,
            "ingress": rec.ingress,
            "queue": rec.queue,
            "verdict": verdict,
            "reason": reason,
            "egress": egress,
            "wire_len": rec.wire_len,
            "len": rec.data.len(),
        });
        let mut out = head.to_string().into_bytes();
        out.push(b'\n');
        out.extend_from_slice(&rec.data);
        session.recycle(rec);
        if conn.write_all(&out).is_err() {
            break "client gone";
        }
        sent += 1;
    };
    let st = session.stats();
    drop(session);
    crate::info!(
        "trace",
        "trace: ended ({why}): {sent} frame(s) written, {} missed (no free buffer)",
        st.missed
    );
    let _ = reply(
        conn,
        &json!({"end": true, "why": why, "captured": sent, "missed": st.missed}),
    );
    Ok(())
}

/// Rate of a counter between the view's two samples.
fn rate(now: u64, then: Option<u64>, window: f64) -> f64 {
    match then {
        Some(t) if window > 0.0 => now.saturating_sub(t) as f64 / window,
        _ => 0.0,
    }
}

/// `xskfwd status` as JSON (the client renders it).
pub fn status(v: &View) -> Value {
    let mut s = json!({
        "name": v.name,
        "version": env!("CARGO_PKG_VERSION"),
        "pid": std::process::id(),
        "uptime_s": v.uptime,
        "datapath_builds": v.builds,
        "tracing": v.tracing,
    });
    if let Some(c) = &v.control {
        s["tables"] = json!({
            "routes_v4": c.routes_v4, "routes_v6": c.routes_v6,
            "neighbours": c.neighbours, "bytes": c.table_bytes,
            "route_builds": c.fib_builds, "neighbour_builds": c.neigh_builds,
            "netlink_events": c.events, "resyncs": c.resyncs,
            "neighbour_use_notes": c.neigh_uses,
            "last_build_us": c.last_build.as_micros() as u64,
        });
    }
    let (Some(shape), Some(now)) = (&v.shape, &v.now) else {
        s["state"] = json!("starting");
        return s;
    };
    s["state"] = json!("forwarding");
    s["mode"] = json!(shape.mode);
    s["bind"] = json!(shape.bind);
    s["xdp_mode"] = json!(shape.xdp_mode);
    s["privileges"] = json!(shape.privileges);
    s["datapath_uptime_s"] =
        json!((super::unix(std::time::SystemTime::now()) - v.datapath_start).max(0.0));
    let window = v.rate_window();
    let then = v.then.as_ref();
    let mut ports = Vec::new();
    for (p, name) in shape.ports.iter().enumerate() {
        let mut total = PortCounters::default();
        let mut before = PortCounters::default();
        for (w, row) in now.counters.iter().enumerate() {
            total.add(&row[p]);
            if let Some(t) = then.and_then(|t| t.counters.get(w)) {
                before.add(&t[p]);
            }
        }
        let have_then = then.is_some();
        let pick =
            |f: fn(&PortCounters) -> u64| rate(f(&total), have_then.then(|| f(&before)), window);
        let xdp = now.xdp.get(p).copied().unwrap_or_default();
        let xdp_then = then.and_then(|t| t.xdp.get(p).copied());
        let mut xsk = stats::XskStats::default();
        for row in &now.xsk {
            xsk.add(&row[p]);
        }
        let (link, max) = now.links.get(p).copied().unwrap_or((LinkState::Up, 0));
        ports.push(json!({
            "name": name,
            "ifindex": shape.ifindexes.get(p),
            "link": link.name(),
            "max_frame": max,
            "rx_packets": total.rx_packets, "rx_bytes": total.rx_bytes,
            "tx_packets": total.tx_packets, "tx_bytes": total.tx_bytes,
            "dropped": total.dropped(),
            "rx_pps": pick(|c| c.rx_packets), "tx_pps": pick(|c| c.tx_packets),
            "rx_bps": 8.0 * pick(|c| c.rx_bytes), "tx_bps": 8.0 * pick(|c| c.tx_bytes),
            "drop_pps": pick(PortCounters::dropped),
            "xdp_redirect": xdp.redirect(), "xdp_pass": xdp.passed(),
            "xdp_pass_pps": rate(xdp.passed(), xdp_then.map(|x| x.passed()), window),
            "xsk": {
                "rx_dropped": xsk.rx_dropped, "rx_ring_full": xsk.rx_ring_full,
                "fill_ring_empty": xsk.fill_ring_empty, "tx_invalid": xsk.tx_invalid,
                "tx_ring_empty": xsk.tx_ring_empty, "rx_invalid": xsk.rx_invalid,
            },
        }));
    }
    s["ports"] = json!(ports);
    let mut drops = serde_json::Map::new();
    let mut all = PortCounters::default();
    for row in &now.counters {
        for c in row {
            all.add(c);
        }
    }
    for r in DropReason::ALL {
        let n = all.drops[*r as usize];
        if n > 0 {
            drops.insert(r.name().into(), json!(n));
        }
    }
    s["drops"] = Value::Object(drops);
    let mut passes = serde_json::Map::new();
    for (i, name) in XDP_COUNTERS.iter().enumerate().skip(1) {
        let n: u64 = now.xdp.iter().map(|x| x.counts[i]).sum();
        if n > 0 {
            passes.insert(name.strip_prefix("pass_").unwrap_or(name).into(), json!(n));
        }
    }
    s["xdp_pass"] = Value::Object(passes);
    let mut workers = Vec::new();
    let (mut free, mut kernel, mut flight, mut reclaimed) = (0, 0, 0, 0);
    for (w, g) in now.workers.iter().enumerate() {
        let busy = v.busy_ratio(w);
        free += g.free;
        kernel += g.in_fill;
        flight += g.in_flight;
        reclaimed += g.reclaimed;
        workers.push(json!({
            "queue": shape.queues.get(w),
            "cpu": shape.cpus.get(w).copied().flatten(),
            "busy": busy,
            "frames": shape.worker_frames.get(w),
            "free": g.free, "kernel": g.in_fill, "in_flight": g.in_flight,
        }));
    }
    s["workers"] = json!(workers);
    s["umem"] = json!({
        "frames": shape.umem_frames, "frame_size": shape.frame_size,
        "free": free, "kernel": kernel, "in_flight": flight, "reclaimed": reclaimed,
    });
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trace_requests_are_checked() {
        let ok =
            trace_request(&json!({"count": 5, "verdict": "drop", "reason": "too_big"})).unwrap();
        assert_eq!(ok.count, 5);
        assert_eq!(ok.filter.verdict, Some(VerdictKind::Drop));
        assert_eq!(ok.timeout, Duration::from_secs(60));
        let err = |v: Value| trace_request(&v).unwrap_err();
        assert!(err(json!({})).contains("count"));
        assert!(err(json!({"count": 0})).contains("1..="));
        assert!(err(json!({"count": 1, "verdict": "x"})).contains("tx, drop or pass"));
        let e = err(json!({"count": 1, "reason": "nope"}));
        assert!(
            e.contains("unknown reason `nope`") && e.contains("too_big"),
            "{e}"
        );
        assert!(err(json!({"count": 1, "timeout": -1.0})).contains("--timeout"));
    }

    #[test]
    fn a_second_instance_of_a_name_is_refused_and_a_stale_socket_replaced() {
        let dir = std::env::temp_dir().join(format!("xskfwd-ctl-{}", std::process::id()));
        let path = dir.join("t.sock");
        let live = Live::new("t");
        let first = ControlSocket::start(&path, Arc::clone(&live)).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let err = ControlSocket::start(&path, Arc::clone(&live)).unwrap_err();
        assert!(err.to_string().contains("another xskfwd"), "{err:#}");
        // Ask it something.
        let mut c = UnixStream::connect(&path).unwrap();
        c.write_all(b"{\"cmd\":\"status\"}\n").unwrap();
        let mut line = String::new();
        BufReader::new(&c).read_line(&mut line).unwrap();
        let v: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["status"]["name"], "t");
        assert_eq!(v["status"]["state"], "starting");
        let mut c = UnixStream::connect(&path).unwrap();
        c.write_all(b"not json\n").unwrap();
        let mut line = String::new();
        BufReader::new(&c).read_line(&mut line).unwrap();
        assert!(line.contains("bad request"), "{line}");
        drop(first);
        assert!(!path.exists(), "removed at the end");
        // A socket file nobody listens on is replaced.
        let stale = UnixListener::bind(&path).unwrap();
        drop(stale);
        assert!(path.exists());
        let again = ControlSocket::start(&path, live).unwrap();
        drop(again);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
