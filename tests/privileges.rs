//! Least privilege, checked on the running binary in a throwaway lab:
//! what every thread holds while forwarding, that the process can no
//! longer load a BPF program while traffic still flows, that a non-root
//! user holding exactly the set-up capabilities runs it, and that a
//! missing capability is named. Root only (to build the lab).

mod common;

use std::process::Command;
use std::thread;
use std::time::Duration;

use common::*;
use xskfwd_lab::lab::LabInfo;
use xskfwd_lab::traffic::{self, Receiver, RecvLimits, SendLimits, Sender};

const NET_ADMIN: u64 = 1 << 12;
const NET_RAW: u64 = 1 << 13;
const IPC_LOCK: u64 = 1 << 14;
const BPF: u64 = 1 << 39;

/// Per thread of `pid`: (name, CapEff, CapPrm, CapInh, CapAmb, NoNewPrivs, uid).
fn threads(pid: u32) -> Vec<(String, u64, u64, u64, u64, u32, u32)> {
    let mut out = Vec::new();
    for t in std::fs::read_dir(format!("/proc/{pid}/task")).expect("tasks") {
        let status =
            std::fs::read_to_string(t.expect("task").path().join("status")).unwrap_or_default();
        let field = |k: &str| -> &str {
            status
                .lines()
                .find_map(|l| l.strip_prefix(k))
                .map_or("", str::trim)
        };
        let hex = |k: &str| u64::from_str_radix(field(k), 16).expect(k);
        out.push((
            field("Name:").to_string(),
            hex("CapEff:"),
            hex("CapPrm:"),
            hex("CapInh:"),
            hex("CapAmb:"),
            field("NoNewPrivs:").parse().expect("NoNewPrivs"),
            field("Uid:")
                .split_whitespace()
                .next()
                .and_then(|u| u.parse().ok())
                .expect("uid"),
        ));
    }
    out
}

/// Sends `n` UDP frames src0 → dst0 (routed or cross-connected by the
/// forwarder) and returns how many arrived.
fn traffic_through(info: &LabInfo, n: u64) -> usize {
    let frames = traffic::build_frames(&info.udp_spec(false, 200), n).expect("frames");
    let rx = Receiver::new(info.dst_ns(), "dst0").expect("receiver");
    let tx = Sender::new(info.src_ns(), "src0").expect("sender");
    let collector = thread::spawn(move || {
        rx.recv_ours(
            RecvLimits::new(n as usize, Duration::from_secs(20)).idle(Duration::from_millis(700)),
        )
    });
    tx.send(
        &frames,
        SendLimits::new(n, Duration::from_secs(10)).rate(20_000),
    )
    .expect("send");
    collector
        .join()
        .expect("collector")
        .expect("receive")
        .frames
        .len()
}

fn nobody_uid() -> u32 {
    let out = sh("id", &["-u", "nobody"]);
    out.trim().parse().expect("uid of nobody")
}

#[test]
fn forwarding_threads_keep_only_what_they_use_and_cannot_load_bpf() {
    if !root_or_skip("forwarding_threads_keep_only_what_they_use_and_cannot_load_bpf") {
        return;
    }
    let lab = lab("privl3");
    let info = lab.info().clone();
    // L3 with the kernel's tables: CAP_NET_ADMIN stays (neighbour
    // liveness); with --on-port-loss exit nothing else stays permitted.
    let mut args = xskfwd_lab::demo::l3_run_args(&info);
    args.extend(["--on-port-loss", "exit", "--user", "nobody"].map(String::from));
    let fwd = Running::start(&args, info.dut_ns(), "dut0");
    let pid = fwd.pid();
    let flow = {
        let info = info.clone();
        thread::spawn(move || traffic_through(&info, 4_000))
    };
    thread::sleep(Duration::from_millis(100));
    let seen = threads(pid);
    assert!(
        seen.len() >= 4,
        "main, worker, link and route threads: {seen:?}"
    );
    for (name, eff, prm, inh, amb, nnp, uid) in &seen {
        assert_eq!(
            (*eff, *prm, *inh, *amb, *nnp, *uid),
            (NET_ADMIN, NET_ADMIN, 0, 0, 1, nobody_uid()),
            "thread {name}"
        );
    }
    assert_eq!(flow.join().expect("flow"), 4_000, "traffic flows meanwhile");
    let out = stop_clean(fwd);
    assert!(
        out.stderr.contains(
            "privileges: effective CAP_NET_ADMIN, permitted CAP_NET_ADMIN, user nobody, no_new_privs; \
             loading a BPF program now fails: Operation not permitted"
        ),
        "{}",
        out.stderr
    );
    // Its control socket, created as root, stays: nobody may not remove
    // it from /run/xskfwd. It says so; nothing answers there any more.
    let socket = format!("/run/xskfwd/{}.dut0-dut1.sock", info.dut_ns());
    assert!(
        out.stderr
            .contains(&format!("control socket {socket} stays")),
        "{}",
        out.stderr
    );
    assert!(std::os::unix::net::UnixStream::connect(&socket).is_err());
    let _ = std::fs::remove_file(&socket);
    assert_dut_clean(info.dut_ns());
}

#[test]
fn l2_forwards_with_no_effective_capability() {
    if !root_or_skip("l2_forwards_with_no_effective_capability") {
        return;
    }
    let lab = lab("privl2");
    let info = lab.info().clone();
    let mut args = xskfwd_lab::demo::l2_run_args(&info);
    args.extend(["--stats", "json"].map(String::from));
    let fwd = Running::start(&args, info.dut_ns(), "dut0");
    // --on-port-loss wait (the default) keeps what a rebind needs
    // permitted, never effective.
    for (name, eff, prm, inh, amb, nnp, _) in threads(fwd.pid()) {
        assert_eq!(
            (eff, prm, inh, amb, nnp),
            (0, NET_ADMIN | NET_RAW | IPC_LOCK | BPF, 0, 0, 1),
            "thread {name}"
        );
    }
    assert_eq!(traffic_through(&info, 2_000), 2_000);
    let s = stop_and_summary(fwd);
    assert_eq!(s["tx_packets"].as_u64(), Some(2_000), "{s}");
}

#[test]
fn a_non_root_user_with_the_set_up_capabilities_runs_it_and_one_without_is_told_which() {
    if !root_or_skip("a_non_root_user_with_the_set_up_capabilities_runs_it") {
        return;
    }
    let lab = lab("privuser");
    let info = lab.info().clone();
    let exe = env!("CARGO_BIN_EXE_xskfwd");
    let as_nobody = |caps: &str, args: &[String]| {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", info.dut_ns(), "setpriv"])
            .args(["--reuid", "nobody", "--regid", "nogroup", "--clear-groups"])
            .args(["--inh-caps", caps, "--ambient-caps", caps, exe])
            .args(args);
        cmd
    };
    // `--netns` needs CAP_SYS_ADMIN; `ip netns exec` entered it for us.
    let mut args: Vec<String> = xskfwd_lab::demo::l2_run_args(&info)
        .into_iter()
        .filter(|a| a != "--netns" && a != info.dut_ns())
        .collect();
    args.extend(["--stats", "json"].map(String::from));
    let fwd = Running::wait_started(
        Running::spawn_command(as_nobody("+bpf,+net_admin,+net_raw,+ipc_lock", &args)),
        info.dut_ns(),
        "dut0",
        Duration::from_secs(20),
    );
    assert_eq!(traffic_through(&info, 2_000), 2_000);
    let s = stop_and_summary(fwd);
    assert_eq!(s["tx_packets"].as_u64(), Some(2_000), "{s}");

    let out = Running::spawn_command(as_nobody("+net_admin", &args)).wait(Duration::from_secs(20));
    assert_eq!(out.status.code(), Some(1), "{}", out.stderr);
    assert!(
        out.stderr
            .contains("xskfwd run lacks CAP_BPF, CAP_NET_RAW, CAP_IPC_LOCK"),
        "{}",
        out.stderr
    );
    assert_dut_clean(info.dut_ns());
}
