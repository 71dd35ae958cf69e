//! Loading, running and attaching the benchmark tools' BPF programs
//! (`bpf/tools.bpf.c`): the live-frames traffic generator and the sink,
//! drop and redirect programs. The I/O edge of [`crate::gen`] and
//! [`crate::sink`].
//!
//! A loaded program is kept as an owned program fd plus owned map handles
//! (the libbpf object is dropped right after loading), so every type here is
//! `Send` and nothing is leaked.
//!
//! This module must never: attach a program other than through a
//! **bpf_link** (an [`XdpLink`]; when the process dies the kernel detaches
//! it), run the generator without a sequence limit in its state map (a
//! BPF_PROG_RUN with a large repeat count must stop sending at the limit),
//! or leave an FFI return value unchecked.

use std::io;
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};

use libbpf_rs::libbpf_sys;
use libbpf_rs::skel::{OpenSkel, SkelBuilder};
use libbpf_rs::{MapCore, MapFlags, MapHandle, OpenObject};
use thiserror::Error;

pub use xskfwd::bpf::XdpLink;
use xskfwd::config::XdpMode;

#[allow(
    clippy::all,
    missing_docs,
    missing_debug_implementations,
    unsafe_op_in_unsafe_fn
)]
#[allow(clippy::undocumented_unsafe_blocks)]
mod skel {
    include!(concat!(env!("OUT_DIR"), "/tools.skel.rs"));
}
use skel::ToolsSkelBuilder;

/// Frame sizes one generator cycles through (`TOOLS_GEN_MAX_SIZES`).
pub const GEN_MAX_SIZES: usize = 4;
/// Longest size schedule (`TOOLS_GEN_SCHED_MAX`).
pub const GEN_SCHED_MAX: usize = 16;
/// Bytes at the start of the UDP payload that the generator owns:
/// magic (4) | sequence number (u64 BE) | timestamp (u64 BE).
pub const GEN_STAMP_LEN: usize = 20;
/// Offset of the sequence number in the UDP payload.
pub const GEN_SEQ_OFF: usize = 4;
/// Offset of the timestamp (`bpf_ktime_get_ns`, CLOCK_MONOTONIC) in the
/// UDP payload.
pub const GEN_TS_OFF: usize = 12;
/// Queues of the sink's XSKMAP (`TOOLS_MAX_QUEUES`).
pub const MAX_QUEUES: u32 = 64;
/// Largest batch the kernel accepts for live frames (`TEST_XDP_MAX_BATCH`).
pub const LIVE_MAX_BATCH: u32 = 256;

/// `skip_seq` value meaning "skip nothing".
const NO_SKIP: u64 = u64::MAX;

/// Errors of the tools' BPF programs, naming the failing step.
#[derive(Debug, Error)]
pub enum ToolsError {
    /// Loading the object failed.
    #[error("loading the benchmark tools' BPF programs failed: {0:#} (this needs root: CAP_BPF, CAP_NET_ADMIN)")]
    Load(libbpf_rs::Error),
    /// A map operation failed.
    #[error("{what} failed: {err}")]
    Map {
        /// Which operation.
        what: &'static str,
        /// Cause.
        err: libbpf_rs::Error,
    },
    /// BPF_PROG_RUN failed.
    #[error("BPF_PROG_RUN of {prog} failed: {err}{hint}")]
    Run {
        /// Program.
        prog: &'static str,
        /// Cause.
        err: io::Error,
        /// What to do about it.
        hint: &'static str,
    },
    /// Attaching failed.
    #[error("attaching {prog} to ifindex {ifindex} in {mode} mode failed: {err}{hint}")]
    Attach {
        /// Program.
        prog: &'static str,
        /// Interface index.
        ifindex: u32,
        /// Mode tried last.
        mode: &'static str,
        /// Cause.
        err: io::Error,
        /// What to do about it.
        hint: &'static str,
    },
}

fn map_err(what: &'static str) -> impl Fn(libbpf_rs::Error) -> ToolsError {
    move |err| ToolsError::Map { what, err }
}

/// The clock `bpf_ktime_get_ns` reads (CLOCK_MONOTONIC), in nanoseconds:
/// what a receiver compares the generator's timestamps with.
pub fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a live, writable timespec; CLOCK_MONOTONIC always
    // exists, so the call cannot fail.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    (ts.tv_sec as u64)
        .wrapping_mul(1_000_000_000)
        .wrapping_add(ts.tv_nsec as u64)
}

/// Which program of the object to load; the others are not loaded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Which {
    Gen,
    Sink,
    Drop,
    Redirect,
}

impl Which {
    fn name(self) -> &'static str {
        match self {
            Which::Gen => "xskfwd_gen",
            Which::Sink => "xskfwd_sink",
            Which::Drop => "xskfwd_drop",
            Which::Redirect => "xskfwd_redirect",
        }
    }
}

/// A loaded program: its fd and handles on the maps it uses.
struct Loaded {
    prog: OwnedFd,
    gen_state: MapHandle,
    gen_counters: MapHandle,
    counters: MapHandle,
    xsks: MapHandle,
}

fn load(which: Which, rodata: impl FnOnce(&mut skel::types::rodata)) -> Result<Loaded, ToolsError> {
    let mut storage = MaybeUninit::<OpenObject>::uninit();
    let mut open = ToolsSkelBuilder::default()
        .open(&mut storage)
        .map_err(ToolsError::Load)?;
    if let Some(ro) = open.maps.rodata_data.as_deref_mut() {
        rodata(ro);
    }
    open.progs.xskfwd_gen.set_autoload(which == Which::Gen);
    open.progs.xskfwd_sink.set_autoload(which == Which::Sink);
    open.progs.xskfwd_drop.set_autoload(which == Which::Drop);
    open.progs
        .xskfwd_redirect
        .set_autoload(which == Which::Redirect);
    let skel = open.load().map_err(ToolsError::Load)?;
    let prog = match which {
        Which::Gen => &skel.progs.xskfwd_gen,
        Which::Sink => &skel.progs.xskfwd_sink,
        Which::Drop => &skel.progs.xskfwd_drop,
        Which::Redirect => &skel.progs.xskfwd_redirect,
    };
    let prog = prog
        .as_fd()
        .try_clone_to_owned()
        .map_err(|e| ToolsError::Load(e.into()))?;
    let h = |m| MapHandle::try_from(m).map_err(map_err("duplicating a map handle"));
    Ok(Loaded {
        prog,
        gen_state: h(&skel.maps.gen_state)?,
        gen_counters: h(&skel.maps.gen_counters)?,
        counters: h(&skel.maps.counters)?,
        xsks: h(&skel.maps.xsks)?,
    })
}

/// Sums per-CPU arrays of `u64` counters (one map entry holding `N` of them).
fn sum_percpu<const N: usize>(map: &MapHandle) -> Result<[u64; N], ToolsError> {
    let per_cpu = map
        .lookup_percpu(&0u32.to_ne_bytes(), MapFlags::ANY)
        .map_err(map_err("reading per-CPU counters"))?
        .unwrap_or_default();
    let mut out = [0u64; N];
    for cpu in &per_cpu {
        for (i, c) in out.iter_mut().enumerate() {
            if let Some(b) = cpu.get(i * 8..i * 8 + 8) {
                *c += u64::from_ne_bytes(b.try_into().unwrap_or([0; 8]));
            }
        }
    }
    Ok(out)
}

/// Sets every CPU's copy of a per-CPU counter entry to zero.
fn zero_percpu(map: &MapHandle) -> Result<(), ToolsError> {
    let cpus = libbpf_rs::num_possible_cpus().map_err(map_err("counting CPUs"))?;
    let zero = vec![vec![0u8; map.value_size() as usize]; cpus];
    map.update_percpu(&0u32.to_ne_bytes(), &zero, MapFlags::ANY)
        .map_err(map_err("resetting per-CPU counters"))
}

/// `struct xdp_md` as BPF_PROG_RUN takes it: data, data_end, data_meta,
/// ingress_ifindex, rx_queue_index, egress_ifindex.
fn xdp_ctx(len: usize, ifindex: u32, queue: u32) -> [u8; 24] {
    let mut ctx = [0u8; 24];
    ctx[4..8].copy_from_slice(&u32::try_from(len).unwrap_or(u32::MAX).to_ne_bytes());
    ctx[12..16].copy_from_slice(&ifindex.to_ne_bytes());
    ctx[16..20].copy_from_slice(&queue.to_ne_bytes());
    ctx
}

/// What one BPF_PROG_RUN returned.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RunOutput {
    /// The program's return value (the XDP action of the last run).
    pub retval: u32,
    /// Bytes written to `data_out` (0 without one).
    pub data_len: usize,
    /// Average nanoseconds per run, as the kernel measured it.
    pub duration_ns: u32,
}

/// BPF_PROG_RUN of an XDP program (`bpf_prog_test_run_opts`).
fn prog_run(
    prog: BorrowedFd<'_>,
    data_in: &[u8],
    data_out: Option<&mut [u8]>,
    ctx: &[u8; 24],
    flags: u32,
    repeat: u32,
    batch_size: u32,
) -> io::Result<RunOutput> {
    let mut opts = libbpf_sys::bpf_test_run_opts {
        sz: std::mem::size_of::<libbpf_sys::bpf_test_run_opts>() as _,
        ..Default::default()
    };
    opts.data_in = data_in.as_ptr().cast();
    opts.data_size_in =
        u32::try_from(data_in.len()).map_err(|_| io::Error::from_raw_os_error(libc::E2BIG))?;
    if let Some(out) = data_out {
        opts.data_size_out =
            u32::try_from(out.len()).map_err(|_| io::Error::from_raw_os_error(libc::E2BIG))?;
        opts.data_out = out.as_mut_ptr().cast();
    }
    opts.ctx_in = ctx.as_ptr().cast();
    opts.ctx_size_in = ctx.len() as u32;
    opts.flags = flags;
    opts.repeat = i32::try_from(repeat).unwrap_or(i32::MAX);
    opts.batch_size = batch_size;
    // SAFETY: `opts` is a sized bpf_test_run_opts whose pointers refer to
    // `data_in`, `ctx` and (if set) `data_out`, which are borrowed for the
    // whole call and at least as long as the sizes given; the kernel only
    // reads the inputs and writes at most `data_size_out` bytes.
    let rc = unsafe { libbpf_sys::bpf_prog_test_run_opts(prog.as_raw_fd(), &mut opts) };
    if rc < 0 {
        return Err(io::Error::from_raw_os_error(-rc));
    }
    Ok(RunOutput {
        retval: opts.retval,
        data_len: opts.data_size_out as usize,
        duration_ns: opts.duration,
    })
}

/// One frame size of the generator's schedule, as the program writes it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GenSize {
    /// Whole frame, without FCS.
    pub frame_len: u32,
    /// IPv4 total length or IPv6 payload length.
    pub ip_len: u16,
    /// IPv4 header checksum (host order; unused for IPv6).
    pub ip_csum: u16,
    /// One's-complement sum (folded, not inverted) of the UDP pseudo-header,
    /// header and payload with source port, checksum, sequence number and
    /// timestamp all zero.
    pub udp_sum: u16,
}

/// What the generator program is told before it is loaded (rodata).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GenParams {
    /// IPv6 template (else IPv4). Headers are fixed: Ethernet, IPv4 without
    /// options or IPv6 without extension headers, UDP.
    pub v6: bool,
    /// UDP source ports used, `base_port..base_port + flows`, round robin
    /// by sequence number.
    pub flows: u32,
    /// First UDP source port.
    pub base_port: u16,
    /// Size index of sequence number `n` is `sched[n % sched.len()]`;
    /// 1..=[`GEN_SCHED_MAX`] entries, each below `sizes.len()`.
    pub sched: Vec<u8>,
    /// The sizes, 1..=[`GEN_MAX_SIZES`]; the template has the largest.
    pub sizes: Vec<GenSize>,
    /// The template's Ethernet + IP header (34 bytes for IPv4, 54 for
    /// IPv6), written on every run: a forwarder that rewrites frames in
    /// place (MACs, TTL, checksum) writes into the pages the live-frames
    /// mode hands back to the generator.
    pub hdr: Vec<u8>,
}

/// The generator's per-CPU counters, summed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GenCounters {
    /// Frames transmitted (XDP_TX).
    pub sent: u64,
    /// Their bytes, without FCS.
    pub bytes: u64,
    /// Runs after the sequence limit was reached (nothing sent).
    pub over: u64,
    /// Frames the program could not stamp (should stay 0).
    pub errors: u64,
    /// Runs that came before the next frame was due (pacing).
    pub waits: u64,
}

/// `struct tools_gen_state`.
#[derive(Clone, Copy, Debug, Default)]
struct GenState {
    next_seq: u64,
    limit: u64,
    skip_seq: u64,
    start_ns: u64,
    first_seq: u64,
    interval_ps: u64,
    spin_ns: u64,
    last_ns: u64,
}

/// The loaded generator program (never attached; run with
/// [`GenProg::run_live`]). One thread at a time should run it: sequence
/// numbers are handed out atomically, but [`GenProg::arm`] resets them.
pub struct GenProg {
    l: Loaded,
}

impl std::fmt::Debug for GenProg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GenProg")
            .field("prog", &self.l.prog)
            .finish_non_exhaustive()
    }
}

impl GenProg {
    /// Loads the generator for frames described by `p`.
    pub fn load(p: &GenParams) -> Result<GenProg, ToolsError> {
        let bad = |m: &str| {
            ToolsError::Load(libbpf_rs::Error::from(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("generator parameters: {m}"),
            )))
        };
        if p.sizes.is_empty() || p.sizes.len() > GEN_MAX_SIZES {
            return Err(bad("1..=4 sizes"));
        }
        if p.sched.is_empty() || p.sched.len() > GEN_SCHED_MAX {
            return Err(bad("schedule of 1..=16 entries"));
        }
        if p.sched.iter().any(|&k| usize::from(k) >= p.sizes.len()) {
            return Err(bad("schedule refers to a missing size"));
        }
        if p.flows == 0 || u32::from(p.base_port) + p.flows > 65536 {
            return Err(bad("flows must be >= 1 and ports must stay below 65536"));
        }
        let l = load(Which::Gen, |ro| {
            ro.gen_v6 = u32::from(p.v6);
            ro.gen_flows = p.flows;
            ro.gen_base_port = u32::from(p.base_port);
            ro.gen_sched_len = p.sched.len() as u32;
            let n = p.hdr.len().min(ro.gen_hdr.len());
            ro.gen_hdr[..n].copy_from_slice(&p.hdr[..n]);
            ro.gen_sched[..p.sched.len()].copy_from_slice(&p.sched);
            for (i, s) in p.sizes.iter().enumerate() {
                ro.gen_frame_len[i] = s.frame_len;
                ro.gen_ip_len[i] = u32::from(s.ip_len);
                ro.gen_ip_csum[i] = u32::from(s.ip_csum);
                ro.gen_udp_sum[i] = u32::from(s.udp_sum);
            }
        })?;
        Ok(GenProg { l })
    }

    fn write_state(&self, st: &GenState) -> Result<(), ToolsError> {
        let mut v = Vec::with_capacity(64);
        for x in [
            st.next_seq,
            st.limit,
            st.skip_seq,
            st.start_ns,
            st.first_seq,
            st.interval_ps,
            st.spin_ns,
            st.last_ns,
        ] {
            v.extend_from_slice(&x.to_ne_bytes());
        }
        self.l
            .gen_state
            .update(&0u32.to_ne_bytes(), &v, MapFlags::ANY)
            .map_err(map_err("writing the generator state"))
    }

    fn read_state(&self) -> Result<GenState, ToolsError> {
        let v = self
            .l
            .gen_state
            .lookup(&0u32.to_ne_bytes(), MapFlags::ANY)
            .map_err(map_err("reading the generator state"))?
            .unwrap_or_default();
        let mut f = [0u64; 8];
        for (i, o) in f.iter_mut().enumerate() {
            if let Some(b) = v.get(i * 8..i * 8 + 8) {
                *o = u64::from_ne_bytes(b.try_into().unwrap_or([0; 8]));
            }
        }
        Ok(GenState {
            next_seq: f[0],
            limit: f[1],
            skip_seq: f[2],
            start_ns: f[3],
            first_seq: f[4],
            interval_ps: f[5],
            spin_ns: f[6],
            last_ns: f[7],
        })
    }

    /// Starts over: sequence numbers from 0, numbers `>= limit` never sent,
    /// no pacing, counters zero. `skip` (`gen --skip-seq`) checks a
    /// receiver's loss accounting: that sequence number is consumed (it
    /// counts against `limit`) but never sent, so a receiver sees exactly
    /// one loss.
    pub fn arm(&self, limit: u64, skip: Option<u64>) -> Result<(), ToolsError> {
        self.write_state(&GenState {
            limit,
            skip_seq: skip.unwrap_or(NO_SKIP),
            ..GenState::default()
        })?;
        zero_percpu(&self.l.gen_counters)
    }

    /// Sets up the next call (between calls): numbers `>= limit` are not
    /// sent, and with `interval_ps` > 0 the frames are paced that far
    /// apart, starting with the current next number at the call's first
    /// run; a run that comes early waits up to `spin_ns` for its frame.
    pub fn set_call(&self, limit: u64, interval_ps: u64, spin_ns: u64) -> Result<(), ToolsError> {
        let st = self.read_state()?;
        self.write_state(&GenState {
            limit,
            start_ns: 0,
            first_seq: st.next_seq,
            interval_ps,
            spin_ns,
            ..st
        })
    }

    /// The next sequence number the program will hand out.
    pub fn next_seq(&self) -> Result<u64, ToolsError> {
        Ok(self.read_state()?.next_seq)
    }

    /// When the latest frame was sent ([`monotonic_ns`] clock; 0: none yet).
    pub fn last_sent_ns(&self) -> Result<u64, ToolsError> {
        Ok(self.read_state()?.last_ns)
    }

    /// The counters, summed over CPUs.
    pub fn counters(&self) -> Result<GenCounters, ToolsError> {
        let [sent, bytes, over, errors, waits] = sum_percpu::<5>(&self.l.gen_counters)?;
        Ok(GenCounters {
            sent,
            bytes,
            over,
            errors,
            waits,
        })
    }

    /// Runs the program `repeat` times on `template` in live-frames mode
    /// (`BPF_F_TEST_XDP_LIVE_FRAMES`) as if it arrived on `ifindex` rx
    /// queue 0 of the calling thread's namespace: every XDP_TX is
    /// transmitted out of that interface. `batch` frames (1..=256, 0 = the
    /// kernel's 64) are flushed at a time. The template's length must stay
    /// within a page minus the kernel's headroom (about 3.5 KB).
    pub fn run_live(
        &self,
        template: &[u8],
        ifindex: u32,
        repeat: u32,
        batch: u32,
    ) -> Result<RunOutput, ToolsError> {
        let ctx = xdp_ctx(template.len(), ifindex, 0);
        prog_run(
            self.l.prog.as_fd(),
            template,
            None,
            &ctx,
            libbpf_sys::BPF_F_TEST_XDP_LIVE_FRAMES,
            repeat,
            batch.min(LIVE_MAX_BATCH),
        )
        .map_err(|err| {
            let hint = match err.raw_os_error() {
                Some(libc::EINVAL) => {
                    " — the frame may be too large for live frames (at most 3408 bytes on Linux 6.18; use --engine ring), or the interface has no rx queue 0"
                }
                Some(libc::ENODEV) => " — no such interface in this network namespace",
                Some(libc::EPERM) => " — run as root",
                _ => "",
            };
            ToolsError::Run {
                prog: Which::Gen.name(),
                err,
                hint,
            }
        })
    }

    /// Runs the program once on a copy of `frame` (not live: nothing is
    /// transmitted) and writes the result to `out`. For tests that compare
    /// the program's stamping with userspace's.
    pub fn run_once(&self, frame: &[u8], out: &mut [u8]) -> Result<RunOutput, ToolsError> {
        let ctx = xdp_ctx(frame.len(), 1, 0);
        prog_run(self.l.prog.as_fd(), frame, Some(out), &ctx, 0, 1, 0).map_err(|err| {
            ToolsError::Run {
                prog: Which::Gen.name(),
                err,
                hint: "",
            }
        })
    }
}

/// What `xskfwd_sink` does with a frame after counting it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SinkAction {
    /// XDP_DROP.
    Drop,
    /// XDP_PASS (the kernel's stack sees it; AF_PACKET can read it).
    Pass,
    /// Redirect to the AF_XDP socket of the rx queue (XSKMAP); dropped if
    /// the queue has none.
    Xsk,
}

/// One of the counting programs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tool {
    /// `xskfwd_sink`: the receiving end of a benchmark.
    Sink(SinkAction),
    /// `xskfwd_drop`: count and drop at a dut port (the "ceiling" path).
    Drop,
    /// `xskfwd_redirect`: in-kernel XDP L3 forwarding between dut ports
    /// (bpf_fib_lookup + bpf_redirect; XDP_PASS unless the FIB says
    /// SUCCESS). Attach one loaded instance to **every** dut port (each is
    /// the ingress of one direction); on veth the peer of each egress
    /// device needs an XDP program as well (the lab's src0/dst0 have one).
    Redirect,
}

impl Tool {
    /// The program's name as the kernel reports it.
    pub fn prog_name(self) -> &'static str {
        self.which().name()
    }

    fn which(self) -> Which {
        match self {
            Tool::Sink(_) => Which::Sink,
            Tool::Drop => Which::Drop,
            Tool::Redirect => Which::Redirect,
        }
    }
}

/// Counters of a [`ToolProg`], summed over CPUs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ToolCounters {
    /// Frames seen.
    pub packets: u64,
    /// Their bytes (without FCS).
    pub bytes: u64,
    /// Redirect: forwarded out of another port; sink: to the AF_XDP socket.
    pub redirected: u64,
    /// Handed to the kernel (redirect: FIB said no; sink: PASS mode).
    pub passed: u64,
    /// Dropped (sink XSK mode: no socket on the queue).
    pub dropped: u64,
}

/// A loaded sink, drop or redirect program, ready to attach.
pub struct ToolProg {
    tool: Tool,
    l: Loaded,
}

impl std::fmt::Debug for ToolProg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ToolProg")
            .field("tool", &self.tool)
            .field("prog", &self.l.prog)
            .finish_non_exhaustive()
    }
}

impl ToolProg {
    /// Loads one instance of `tool` (its own counters and XSKMAP).
    pub fn load(tool: Tool) -> Result<ToolProg, ToolsError> {
        let action = match tool {
            Tool::Sink(SinkAction::Drop) | Tool::Drop | Tool::Redirect => 0,
            Tool::Sink(SinkAction::Pass) => 1,
            Tool::Sink(SinkAction::Xsk) => 2,
        };
        let l = load(tool.which(), |ro| ro.sink_action = action)?;
        Ok(ToolProg { tool, l })
    }

    /// Which program this is.
    pub fn tool(&self) -> Tool {
        self.tool
    }

    /// The counters, summed over CPUs (all interfaces it is attached to).
    pub fn counters(&self) -> Result<ToolCounters, ToolsError> {
        let [packets, bytes, redirected, passed, dropped] = sum_percpu::<5>(&self.l.counters)?;
        Ok(ToolCounters {
            packets,
            bytes,
            redirected,
            passed,
            dropped,
        })
    }

    /// Steers rx queue `queue` to the AF_XDP socket `fd` (sink in
    /// [`SinkAction::Xsk`] mode).
    pub fn register(&self, queue: u32, fd: i32) -> Result<(), ToolsError> {
        self.l
            .xsks
            .update(
                &queue.to_ne_bytes(),
                &(fd as u32).to_ne_bytes(),
                MapFlags::ANY,
            )
            .map_err(map_err("adding the socket to the XSKMAP"))
    }

    /// Stops steering `queue` (an absent entry is fine).
    pub fn unregister(&self, queue: u32) {
        let _ = self.l.xsks.delete(&queue.to_ne_bytes());
    }

    /// Attaches the program to `ifindex` of the **calling thread's**
    /// network namespace through a bpf_link; dropping the link detaches it.
    /// `Auto` tries native mode, then generic (skb) mode.
    pub fn attach(&self, ifindex: u32, mode: XdpMode) -> Result<XdpLink, ToolsError> {
        attach_fd(self.l.prog.as_fd(), self.tool.prog_name(), ifindex, mode)
    }

    /// Runs the program once on `frame` as if it arrived on `ifindex` rx
    /// queue `queue` of the calling thread's namespace (not live). Returns
    /// the XDP action; the counters count it.
    pub fn test_run(&self, frame: &[u8], ifindex: u32, queue: u32) -> Result<u32, ToolsError> {
        let ctx = xdp_ctx(frame.len(), ifindex, queue);
        prog_run(self.l.prog.as_fd(), frame, None, &ctx, 0, 1, 0)
            .map(|o| o.retval)
            .map_err(|err| ToolsError::Run {
                prog: self.tool.prog_name(),
                err,
                hint: "",
            })
    }
}

fn attach_fd(
    prog: BorrowedFd<'_>,
    name: &'static str,
    ifindex: u32,
    mode: XdpMode,
) -> Result<XdpLink, ToolsError> {
    xskfwd::bpf::attach_link(prog, ifindex, mode).map_err(|e| ToolsError::Attach {
        prog: name,
        ifindex,
        mode: e.mode.name(),
        err: e.err,
        hint: e.hint,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xdp_ctx_layout() {
        let c = xdp_ctx(60, 7, 3);
        assert_eq!(&c[0..4], &0u32.to_ne_bytes());
        assert_eq!(&c[4..8], &60u32.to_ne_bytes());
        assert_eq!(&c[12..16], &7u32.to_ne_bytes());
        assert_eq!(&c[16..20], &3u32.to_ne_bytes());
    }

    #[test]
    fn monotonic_clock_moves_forward() {
        let a = monotonic_ns();
        let b = monotonic_ns();
        assert!(b >= a && a > 0);
    }
}
