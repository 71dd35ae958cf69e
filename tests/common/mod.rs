//! Shared helpers of the end-to-end tests: the lab harness of
//! `xskfwd-lab` (root check, a lab, XDP queries) and the xskfwd binary run
//! as a child process (killed on drop).

#![allow(dead_code)]

use std::io::Read;
use std::process::{Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use xskfwd_lab::demo::ChildGuard;

pub use xskfwd_lab::harness::*;

/// The xskfwd binary under test.
pub fn xskfwd() -> Command {
    Command::new(env!("CARGO_BIN_EXE_xskfwd"))
}

/// A running `xskfwd`; SIGKILLed and reaped on drop if still running.
/// Its output is read as it comes (a chatty run never blocks on a full
/// pipe).
pub struct Running {
    guard: ChildGuard,
    stdout: Option<thread::JoinHandle<String>>,
    stderr: Option<thread::JoinHandle<String>>,
}

fn read_all(mut r: impl Read + Send + 'static) -> thread::JoinHandle<String> {
    thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = r.read_to_end(&mut bytes);
        String::from_utf8_lossy(&bytes).into_owned()
    })
}

/// Output of a finished run.
pub struct Finished {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
    /// It did not exit by itself in time and was killed.
    pub timed_out: bool,
}

impl Running {
    /// Spawns `xskfwd` with `args`, capturing its output.
    pub fn spawn(args: &[String]) -> Running {
        let mut cmd = xskfwd();
        cmd.args(args);
        Running::spawn_command(cmd)
    }

    /// Spawns `cmd` (which runs xskfwd somehow), capturing its output.
    pub fn spawn_command(mut cmd: Command) -> Running {
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn xskfwd");
        let stdout = child.stdout.take().map(read_all);
        let stderr = child.stderr.take().map(read_all);
        Running {
            guard: ChildGuard(child),
            stdout,
            stderr,
        }
    }

    /// Spawns `xskfwd` with `args`, waiting until its program is attached
    /// to `ifname` in `ns`.
    pub fn start(args: &[String], ns: &str, ifname: &str) -> Running {
        Running::start_within(args, ns, ifname, Duration::from_secs(20))
    }

    /// [`Running::start`], allowing `timeout` for the start-up.
    pub fn start_within(args: &[String], ns: &str, ifname: &str, timeout: Duration) -> Running {
        Running::wait_started(Running::spawn(args), ns, ifname, timeout)
    }

    /// Waits until the program of `r` is attached to `ifname` in `ns`.
    pub fn wait_started(mut r: Running, ns: &str, ifname: &str, timeout: Duration) -> Running {
        if let Err(e) = xskfwd_lab::demo::wait_attached(ns, ifname, &mut r.guard.0, timeout) {
            let _ = r.guard.0.kill();
            let out = r.wait(Duration::from_secs(10));
            panic!(
                "xskfwd did not start: {e:#}\nstdout:\n{}\nstderr:\n{}",
                out.stdout, out.stderr
            );
        }
        r
    }

    /// The child's process id.
    pub fn pid(&self) -> u32 {
        self.guard.0.id()
    }

    /// Sends `sig` and collects the output (bounded wait, then SIGKILL).
    pub fn signal_and_wait(mut self, sig: i32) -> Finished {
        self.guard.signal(sig);
        self.wait(Duration::from_secs(20))
    }

    /// Waits up to `timeout` for the exit (then SIGKILLs) and collects the
    /// output.
    pub fn wait(mut self, timeout: Duration) -> Finished {
        let child = &mut self.guard.0;
        let deadline = Instant::now() + timeout;
        let mut timed_out = false;
        let status = loop {
            if let Some(s) = child.try_wait().expect("wait") {
                break s;
            }
            if Instant::now() >= deadline {
                timed_out = true;
                let _ = child.kill();
                break child.wait().expect("wait after kill");
            }
            thread::sleep(Duration::from_millis(20));
        };
        let text = |h: Option<thread::JoinHandle<String>>| {
            h.map(|h| h.join().unwrap_or_default()).unwrap_or_default()
        };
        let stdout = text(self.stdout.take());
        let stderr = text(self.stderr.take());
        Finished {
            status,
            stdout,
            stderr,
            timed_out,
        }
    }
}

/// Runs `program args...`; panics with the command line and its stderr if
/// it fails. Returns stdout.
pub fn sh(program: &str, args: &[&str]) -> String {
    let out = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("starting {program}: {e}"));
    assert!(
        out.status.success(),
        "`{program} {}` failed ({}): {}",
        args.join(" "),
        out.status,
        String::from_utf8_lossy(&out.stderr).trim()
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `ip -n NS ARGS...`
pub fn ip(ns: &str, args: &[&str]) -> String {
    let mut all = vec!["-n", ns];
    all.extend_from_slice(args);
    sh("ip", &all)
}

/// `ip netns exec NS ARGS...`
pub fn exec_in(ns: &str, args: &[&str]) -> String {
    let mut all = vec!["netns", "exec", ns];
    all.extend_from_slice(args);
    sh("ip", &all)
}

/// `sysctl -qw` inside `ns` (these are per-namespace settings).
pub fn sysctls(ns: &str, settings: &[&str]) {
    let mut args = vec!["sysctl", "-q", "-w"];
    args.extend_from_slice(settings);
    exec_in(ns, &args);
}

/// Stops xskfwd with SIGTERM and returns its JSON summary, asserting a
/// clean exit with every UMEM frame accounted for.
pub fn stop_and_summary(fwd: Running) -> serde_json::Value {
    let out = stop_clean(fwd);
    let summary = last_json(&out.stdout, "summary");
    assert_eq!(summary["frames"]["conserved"], true, "{summary}");
    summary
}

/// Asserts that every line of `lines` appears exactly once in `log`.
pub fn assert_logged_once(log: &str, lines: &[&str]) {
    for line in lines {
        assert_eq!(
            log.matches(line).count(),
            1,
            "one log line '{line}':\n{log}"
        );
    }
}

/// Stops xskfwd with SIGTERM and returns its output, asserting that it
/// exited by itself, successfully.
pub fn stop_clean(fwd: Running) -> Finished {
    let out = fwd.signal_and_wait(libc::SIGTERM);
    assert!(
        !out.timed_out,
        "xskfwd did not exit on SIGTERM\n{}",
        out.stderr
    );
    assert!(
        out.status.success(),
        "exit {:?}\nstderr:\n{}\nstdout:\n{}",
        out.status,
        out.stderr,
        out.stdout
    );
    out
}

/// One XDP counter summed over every port of a summary.
pub fn xdp_total(summary: &serde_json::Value, counter: &str) -> u64 {
    summary["xdp"]
        .as_array()
        .expect("xdp rows")
        .iter()
        .map(|r| {
            r[counter]
                .as_u64()
                .unwrap_or_else(|| panic!("no xdp counter {counter}: {summary}"))
        })
        .sum()
}
