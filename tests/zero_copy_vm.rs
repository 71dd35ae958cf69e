//! xskfwd in AF_XDP zero-copy mode, for real: inside a QEMU (TCG) guest
//! whose virtio-net driver supports zero-copy (Linux ≥ 6.13), wired to
//! throwaway src and dst namespaces on this machine through tap devices
//! created inside them (`xskfwd_lab::vm`). Frames are counted, never
//! timed: the guest's CPU is emulated.
//!
//! Root only. Skipped, saying why, when QEMU or the guest kernel cannot be
//! had (scripts/install-deps.sh installs QEMU; the kernel comes from
//! Debian's mirror once and is cached).

mod common;

use std::time::Instant;

use common::*;
use xskfwd_lab::vm::{self, Forwarding, GuestRun, Vm, VmSpec};

/// Boots a guest around the xskfwd binary under test, or says why not.
fn boot(test: &str, spec: VmSpec) -> Option<Vm> {
    if !root_or_skip(test) {
        return None;
    }
    if let Err(e) = vm::check_host() {
        eprintln!("skipped: {test}: {e:#}");
        return None;
    }
    let cache = vm::cache_dir();
    if let Err(e) = vm::guest_kernel(&cache) {
        eprintln!("skipped: {test}: the guest kernel cannot be had: {e:#}");
        return None;
    }
    let xskfwd = std::path::Path::new(env!("CARGO_BIN_EXE_xskfwd"));
    let t = Instant::now();
    let vm = vm::boot(test, spec, xskfwd, &cache).expect("the guest boots");
    eprintln!(
        "{test}: guest {} up in {:.1} s",
        vm.banner,
        t.elapsed().as_secs_f64()
    );
    Some(vm)
}

/// Everything a zero-copy run must show.
fn check(r: &GuestRun, frames: u64) {
    check_bound(r, frames, "zero-copy");
}

/// Everything a run bound in mode `bind` must show.
fn check_bound(r: &GuestRun, frames: u64, bind: &str) {
    eprintln!(
        "{:?} --bind {}: {}; ping {}; {} / {} of {frames} frames; exit {}",
        r.mode, r.bind_asked, r.started, r.ping, r.crossing.to_dst, r.crossing.to_src, r.exit
    );
    assert_eq!(r.bind(), bind, "{}\n{}", r.started, r.log);
    assert!(r.ping, "ping across the guest\n{}", r.log);
    assert_eq!(
        r.crossing.to_dst, frames,
        "src → dst, byte-exact, each once"
    );
    assert_eq!(
        r.crossing.to_src, frames,
        "dst → src, byte-exact, each once"
    );
    assert_eq!(r.exit, 0, "{}", r.log);
    assert!(
        r.conserved(),
        "every UMEM frame came back from the driver: {}",
        r.summary["frames"]
    );
    let dropped = r.summary["dropped"].as_u64().unwrap();
    assert_eq!(dropped, 0, "no drops: {}", r.summary["drops"]);
}

#[test]
fn zero_copy_l2_and_l3_through_virtio_net() {
    let Some(mut vm) = boot("zcvm1", VmSpec::default()) else {
        return;
    };
    const N: u64 = 2000;
    // L2 with an explicit --bind zero-copy; then L3 with --bind auto,
    // which must choose zero-copy by itself.
    let l2 = vm::guest_run(&mut vm, Forwarding::L2, "zero-copy", N, 400, 8).expect("L2 run");
    check(&l2, N);
    let l3 = vm::guest_run(&mut vm, Forwarding::L3, "auto", N, 400, 8).expect("L3 run");
    check(&l3, N);
    // The routed frames went through xskfwd, not the guest's kernel.
    let tx: u64 = l3.summary["tx_packets"].as_u64().unwrap();
    assert!(tx >= 2 * N, "xskfwd sent {tx}");
    // What differs in zero-copy mode: the driver holds the frames. Without
    // need_wakeup (a kick for every batch, both rings), and with rings so
    // small that the fill ring runs dry under a burst (the driver must
    // wait for frames the worker gives back), nothing is lost or kept.
    let no_wakeup = vm::guest_run_with(
        &mut vm,
        Forwarding::L2,
        "zero-copy",
        "--no-need-wakeup --idle busy",
        1000,
        400,
        8,
    )
    .expect("L2 run without need_wakeup");
    check(&no_wakeup, 1000);
    let small = vm::guest_run_with(
        &mut vm,
        Forwarding::L2,
        "zero-copy",
        "--rx-size 64 --tx-size 64 --fill-size 64 --comp-size 64 --batch 16",
        1000,
        400,
        8,
    )
    .expect("L2 run with small rings");
    check(&small, 1000);
    // Jumbo frames (MTU 9000, frames of 60..9014 bytes): AF_XDP
    // multi-buffer. virtio-net has none in zero-copy mode, so an explicit
    // --bind zero-copy is refused with one line that says what to do, and
    // --bind auto binds copy mode (native XDP, frags-aware) and carries
    // every frame as a chain, byte-exact.
    vm.set_mtu(9000).expect("MTU 9000");
    let refused = vm::guest_run(&mut vm, Forwarding::L2, "zero-copy", 10, 400, 8)
        .expect_err("zero-copy jumbo frames on virtio-net");
    let why = format!("{refused:#}");
    assert!(
        why.contains("multi-buffer") && why.contains("--bind auto"),
        "one line saying what to do: {why}"
    );
    for mode in [Forwarding::L2, Forwarding::L3] {
        let r = vm::guest_run(&mut vm, mode, "auto", 400, 400, 8).expect("jumbo run");
        check_bound(&r, 400, "copy");
        assert!(r.started.contains("multi-buffer"), "{}", r.started);
    }
    // Torn down: the guest is off, QEMU gone, the namespaces removed.
    let pid = vm.qemu_pid().expect("QEMU runs");
    let namespaces = vm.namespaces().to_vec();
    drop(vm);
    assert!(
        !std::path::Path::new(&format!("/proc/{pid}")).exists(),
        "QEMU ({pid}) ended"
    );
    let list = String::from_utf8(
        std::process::Command::new("ip")
            .args(["netns", "list"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    for ns in namespaces {
        assert!(!list.contains(&ns), "{ns} removed");
    }
}

#[test]
fn zero_copy_with_two_queues_spreads_flows_over_both_workers() {
    let spec = VmSpec {
        queues: 2,
        cpus: 2,
        ..VmSpec::default()
    };
    let Some(mut vm) = boot("zcvm2", spec) else {
        return;
    };
    const N: u64 = 1000;
    let r = vm::guest_run(&mut vm, Forwarding::L2, "zero-copy", N, 400, 16).expect("L2 run");
    check(&r, N);
    // The taps spread the 16 flows over both queues (by flow hash): each
    // queue's worker forwarded some of them, and each worker's frames are
    // accounted for on its own.
    let per_queue = r.summary["frames_per_queue"].as_array().unwrap();
    for q in [0, 1] {
        let acc = per_queue
            .iter()
            .find(|a| a["queue"] == q)
            .unwrap_or_else(|| panic!("queue {q} in {per_queue:?}"));
        assert_eq!(acc["conserved"], true, "queue {q}: {acc}");
        assert!(acc["total"].as_u64().unwrap() > 0);
    }
    for q in [0, 1] {
        let rx: u64 = r.summary["ports"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["queue"] == q)
            .map(|p| p["rx_packets"].as_u64().unwrap())
            .sum();
        eprintln!("queue {q}: {rx} frames received");
        assert!(rx > N / 10, "queue {q} took {rx} of {} frames", 2 * N);
    }
}
