//! Loading and attaching xskfwd's XDP program (`bpf/xskfwd.bpf.c`).
//!
//! Each port gets its own instance of the program (its own XSKMAP keyed by
//! rx queue, and its own per-CPU counters), attached through a **bpf_link**:
//! when the process exits — even by SIGKILL — the kernel closes the link
//! and detaches the program, so nothing is left behind.
//!
//! This module holds FFI to libbpf for what libbpf-rs 0.25 does not expose
//! (link creation with XDP mode flags, program queries); every return value
//! is checked at once.

use std::ffi::CStr;
use std::io;
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

use libbpf_rs::libbpf_sys;
use libbpf_rs::skel::{OpenSkel, SkelBuilder};
use libbpf_rs::{MapCore, MapFlags, MapHandle, OpenObject};
use thiserror::Error;

use crate::config::{XdpMode, MAX_L3_PORTS};
use crate::stats::XdpProgStats;
use xskfwd_core::limits::STEER_ENTRIES;

#[allow(
    clippy::all,
    missing_docs,
    missing_debug_implementations,
    unsafe_op_in_unsafe_fn
)]
#[allow(clippy::undocumented_unsafe_blocks)]
mod skel {
    include!(concat!(env!("OUT_DIR"), "/xskfwd.skel.rs"));
}
use skel::{XskfwdSkel, XskfwdSkelBuilder};

/// Name of our XDP program as the kernel reports it.
pub const PROG_NAME: &str = "xskfwd_xdp";
/// Mode value for L2 forwarding (`XSKFWD_MODE_L2`).
pub const MODE_L2: u32 = 0;

/// Mode value for L3 routing (`XSKFWD_MODE_L3`).
pub const MODE_L3: u32 = 1;
/// Steering trie value: the kernel's (`XSKFWD_STEER_PASS`).
pub const STEER_PASS: u32 = 1;
/// Steering trie value: xskfwd's (`XSKFWD_STEER_REDIRECT`).
pub const STEER_REDIRECT: u32 = 2;
/// Steering trie value: a kernel route xskfwd leaves to the kernel
/// (`XSKFWD_STEER_KERNEL`).
pub const STEER_KERNEL: u32 = 3;

/// One program instance's steering maps (L3): the tries of local
/// addresses and static routes, and the length limits.
#[derive(Debug)]
pub struct SteerMaps {
    v4: MapHandle,
    v6: MapHandle,
    max_len: MapHandle,
    nh_use: MapHandle,
    rp_filter: MapHandle,
}

impl SteerMaps {
    fn trie(&self, prefix: &SteerPrefix) -> &MapHandle {
        match prefix {
            SteerPrefix::V4(..) => &self.v4,
            SteerPrefix::V6(..) => &self.v6,
        }
    }

    /// Adds or replaces an entry (value [`STEER_PASS`] or [`STEER_REDIRECT`]).
    pub fn insert(&self, prefix: &SteerPrefix, value: u32) -> Result<(), BpfError> {
        self.trie(prefix)
            .update(&prefix.key(), &value.to_ne_bytes(), MapFlags::ANY)
            .map_err(|err| BpfError::Map {
                what: "adding a steering entry",
                err,
            })
    }

    /// Removes an entry (an absent one is fine).
    pub fn remove(&self, prefix: &SteerPrefix) {
        let _ = self.trie(prefix).delete(&prefix.key());
    }

    /// Sets the largest IPv4 total length / IPv6 packet length the program
    /// may hand to xskfwd (larger ones go to the kernel).
    pub fn set_max_len(&self, v4: u32, v6: u32) -> Result<(), BpfError> {
        for (k, v) in [(0u32, v4), (1u32, v6)] {
            self.max_len
                .update(&k.to_ne_bytes(), &v.to_ne_bytes(), MapFlags::ANY)
                .map_err(|err| BpfError::Map {
                    what: "setting the length limit",
                    err,
                })?;
        }
        Ok(())
    }

    /// Adds to `out` the next hops this program's FIB lookups resolved
    /// for frames it sent to xskfwd, each with the frames that used it
    /// (summed over CPUs and slots: a count that changes between two reads
    /// means the next hop was used in between; a slot another next hop
    /// takes over starts again from zero). `out` merges by (ifindex,
    /// address).
    pub fn next_hops_used(
        &self,
        out: &mut std::collections::HashMap<(u32, std::net::IpAddr), u64>,
    ) -> Result<(), BpfError> {
        for slot in 0..NH_SLOTS {
            let per_cpu = self
                .nh_use
                .lookup_percpu(&slot.to_ne_bytes(), MapFlags::ANY)
                .map_err(|err| BpfError::Map {
                    what: "reading the next hops in use",
                    err,
                })?;
            for v in per_cpu.into_iter().flatten() {
                if let Some(u) = NextHopUse::parse(&v) {
                    *out.entry((u.ifindex, u.addr)).or_default() += u.hits;
                }
            }
        }
        Ok(())
    }

    /// Sets the port's effective rp_filter (0 off, 1 strict, 2 loose).
    pub fn set_rp_filter(&self, mode: u32) -> Result<(), BpfError> {
        self.rp_filter
            .update(&0u32.to_ne_bytes(), &mode.to_ne_bytes(), MapFlags::ANY)
            .map_err(|err| BpfError::Map {
                what: "setting rp_filter",
                err,
            })
    }
}

/// Slots of the program's table of next hops in use (`XSKFWD_NH_SLOTS`).
pub const NH_SLOTS: u32 = 1024;

/// A next hop the kernel's FIB resolved for frames sent to xskfwd.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NextHopUse {
    /// Egress interface.
    pub ifindex: u32,
    /// The neighbour: the gateway, or the destination on the link.
    pub addr: std::net::IpAddr,
    /// Frames that used it since the slot took it.
    pub hits: u64,
}

impl NextHopUse {
    /// Decodes one `struct xskfwd_nh_use` (`bpf/xskfwd.h`); `None` for an
    /// empty slot.
    pub fn parse(v: &[u8]) -> Option<NextHopUse> {
        let u32_at = |o: usize| Some(u32::from_ne_bytes(v.get(o..o + 4)?.try_into().ok()?));
        let ifindex = u32_at(0)?;
        let family = u32_at(4)?;
        let addr: [u8; 16] = v.get(8..24)?.try_into().ok()?;
        let hits = u64::from_ne_bytes(v.get(24..32)?.try_into().ok()?);
        let addr = match family {
            f if f == libc::AF_INET as u32 => {
                std::net::IpAddr::from([addr[0], addr[1], addr[2], addr[3]])
            }
            f if f == libc::AF_INET6 as u32 => std::net::IpAddr::from(addr),
            _ => return None,
        };
        (ifindex != 0 && hits != 0).then_some(NextHopUse {
            ifindex,
            addr,
            hits,
        })
    }
}

/// What a program instance is told before it is loaded (rodata).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ProgConfig {
    /// [`MODE_L2`] or [`MODE_L3`].
    pub mode: u32,
    /// The port's own MAC (L3: frames to other MACs go to the kernel).
    pub port_mac: [u8; 6],
    /// Interface indexes of every xskfwd port (L3: egress check).
    pub port_ifindex: [u32; MAX_L3_PORTS],
    /// Effective rp_filter of the port (0 off, 1 strict, 2 loose) at load;
    /// the control plane keeps it current ([`SteerMaps::set_rp_filter`]).
    pub rp_filter: u32,
    /// L3: send what the kernel's FIB forwards out of another port to
    /// xskfwd (false with static routes only: only their prefixes go to
    /// xskfwd).
    pub fib_forward: bool,
    /// L3: entries the IPv4 and IPv6 steering tries must hold at least
    /// (the static routes of each family); the header's default is the
    /// floor.
    pub steer_entries: (u32, u32),
    /// Jumbo frames: load the program frags-aware (`BPF_F_XDP_HAS_FRAGS`)
    /// so packets larger than a buffer reach it (and the sockets, bound
    /// with `XDP_USE_SG`) as multi-buffer frames.
    pub multi_buffer: bool,
}

/// A prefix for the steering tries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SteerPrefix {
    /// IPv4 address bytes and prefix length.
    V4([u8; 4], u8),
    /// IPv6 address bytes and prefix length.
    V6([u8; 16], u8),
}

impl SteerPrefix {
    fn key(&self) -> Vec<u8> {
        let (len, addr): (u8, &[u8]) = match self {
            SteerPrefix::V4(a, l) => (*l, a),
            SteerPrefix::V6(a, l) => (*l, a),
        };
        let mut k = u32::from(len).to_ne_bytes().to_vec();
        k.extend_from_slice(addr);
        k
    }
}

/// Errors loading or attaching the XDP program.
#[derive(Debug, Error)]
pub enum BpfError {
    /// Loading the object failed.
    #[error("loading the XDP program failed: {0:#} (xskfwd must run as root: it needs CAP_BPF, CAP_NET_ADMIN, CAP_NET_RAW and CAP_IPC_LOCK)")]
    Load(libbpf_rs::Error),
    /// Attaching failed.
    #[error("attaching the XDP program to {ifname} in {mode} mode failed: {err}{hint}")]
    Attach {
        /// Interface.
        ifname: String,
        /// Mode.
        mode: &'static str,
        /// Cause.
        err: io::Error,
        /// What to do.
        hint: &'static str,
    },
    /// Another program sits on the interface.
    #[error("{ifname} already has an XDP program attached: '{name}' (id {id}, {how}). xskfwd does not remove programs it does not own; if it is not needed, remove it with `ip link set dev {ifname} xdp off` (or stop the program that owns it) and try again")]
    Foreign {
        /// Interface.
        ifname: String,
        /// Program name.
        name: String,
        /// Program id.
        id: u32,
        /// Attach mode description.
        how: &'static str,
    },
    /// A running xskfwd already owns the interface.
    #[error("{ifname} is in use by another running xskfwd (program id {id}, attached through a bpf_link); stop that one first")]
    Busy {
        /// Interface.
        ifname: String,
        /// Program id.
        id: u32,
    },
    /// A map operation failed.
    #[error("{what} failed: {err}")]
    Map {
        /// Which operation.
        what: &'static str,
        /// Cause.
        err: libbpf_rs::Error,
    },
}

fn load_skel(cfg: &ProgConfig) -> Result<XskfwdSkel<'static>, BpfError> {
    // The skeleton borrows its object storage for its whole life. One small
    // slot per loaded program is leaked deliberately (a handful per process)
    // instead of building a self-referential struct with unsafe code.
    let storage: &'static mut MaybeUninit<OpenObject> = Box::leak(Box::new(MaybeUninit::uninit()));
    let mut open = XskfwdSkelBuilder::default()
        .open(storage)
        .map_err(BpfError::Load)?;
    // The steering tries are sized for the static routes they will hold
    // (never below the header's default, which covers the local table and
    // the kernel-only routes of an ordinary host); BPF_F_NO_PREALLOC
    // makes room cost memory only when it is used.
    for (map, n) in [
        (&mut open.maps.steer4, cfg.steer_entries.0),
        (&mut open.maps.steer6, cfg.steer_entries.1),
    ] {
        map.set_max_entries(n.max(STEER_ENTRIES))
            .map_err(BpfError::Load)?;
    }
    if let Some(ro) = open.maps.rodata_data.as_deref_mut() {
        ro.xskfwd_mode = cfg.mode;
        ro.port_mac = cfg.port_mac;
        ro.port_ifindex = cfg.port_ifindex;
        ro.fib_forward = u32::from(cfg.fib_forward);
        ro.multi_buffer = u32::from(cfg.multi_buffer);
    }
    if cfg.multi_buffer {
        // The section ("xdp") sets no load flags of its own.
        open.progs
            .xskfwd_xdp
            .set_flags(libbpf_sys::BPF_F_XDP_HAS_FRAGS);
    }
    let skel = open.load().map_err(BpfError::Load)?;
    skel.maps
        .rp_filter
        .update(
            &0u32.to_ne_bytes(),
            &cfg.rp_filter.to_ne_bytes(),
            MapFlags::ANY,
        )
        .map_err(|err| BpfError::Map {
            what: "setting rp_filter",
            err,
        })?;
    Ok(skel)
}

/// Whether the driver or the generic path runs the program.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Attached {
    /// Driver (native) mode.
    Native,
    /// Generic (SKB) mode.
    Skb,
}

impl Attached {
    /// Name for logs.
    pub fn name(self) -> &'static str {
        match self {
            Attached::Native => "native",
            Attached::Skb => "skb",
        }
    }
}

/// Our XDP program attached to one port. Dropping it removes it.
pub struct PortProgram {
    // Field order is drop order: the link goes first, then the program.
    link: Option<XdpLink>,
    skel: XskfwdSkel<'static>,
    ifname: String,
    ifindex: u32,
}

impl std::fmt::Debug for PortProgram {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PortProgram")
            .field("ifname", &self.ifname)
            .field("link", &self.link)
            .finish_non_exhaustive()
    }
}

/// The link-create flags to try, in order, for an attach `mode`, and what
/// each means.
fn mode_tries(mode: XdpMode) -> &'static [(u32, Attached)] {
    match mode {
        XdpMode::Native => &[(libbpf_sys::XDP_FLAGS_DRV_MODE, Attached::Native)],
        XdpMode::Skb => &[(libbpf_sys::XDP_FLAGS_SKB_MODE, Attached::Skb)],
        XdpMode::Auto => &[
            (libbpf_sys::XDP_FLAGS_DRV_MODE, Attached::Native),
            (libbpf_sys::XDP_FLAGS_SKB_MODE, Attached::Skb),
        ],
    }
}

fn link_create(prog: RawFd, ifindex: u32, flags: u32) -> io::Result<OwnedFd> {
    // SAFETY: all-zero is a valid bpf_link_create_opts; sz is set below.
    let mut opts: libbpf_sys::bpf_link_create_opts = unsafe { std::mem::zeroed() };
    opts.sz = std::mem::size_of::<libbpf_sys::bpf_link_create_opts>() as _;
    opts.flags = flags;
    // SAFETY: plain FFI call with a valid program fd and a valid opts struct.
    let fd =
        unsafe { libbpf_sys::bpf_link_create(prog, ifindex as i32, libbpf_sys::BPF_XDP, &opts) };
    if fd < 0 {
        return Err(io::Error::from_raw_os_error(-fd));
    }
    // SAFETY: the kernel just returned this new fd to us; nobody else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// An XDP program attached to an interface through a bpf_link. Dropping
/// it (or the process dying) detaches the program: nothing is ever left
/// attached behind us.
#[derive(Debug)]
pub struct XdpLink {
    _link: OwnedFd,
    attached: Attached,
}

impl XdpLink {
    /// The mode the program runs in.
    pub fn attached(&self) -> Attached {
        self.attached
    }
}

/// Why [`attach_link`] failed: the mode tried last, the kernel's error and
/// what to do about it.
#[derive(Debug, Error)]
#[error("attaching in {} mode failed: {err}{hint}", .mode.name())]
pub struct AttachError {
    /// The mode tried last.
    pub mode: Attached,
    /// The kernel's error.
    pub err: io::Error,
    /// What to do about it (empty or starting with " — ").
    pub hint: &'static str,
}

/// Attaches `prog` to `ifindex` through a bpf_link in `mode`, falling back
/// from native to generic (skb) mode for [`XdpMode::Auto`]. The one attach
/// path of every XDP program xskfwd and its tools load.
pub fn attach_link(
    prog: BorrowedFd<'_>,
    ifindex: u32,
    mode: XdpMode,
) -> Result<XdpLink, AttachError> {
    let mut last = None;
    for (flags, attached) in mode_tries(mode) {
        match link_create(prog.as_raw_fd(), ifindex, *flags) {
            Ok(link) => {
                return Ok(XdpLink {
                    _link: link,
                    attached: *attached,
                })
            }
            Err(e) => last = Some((*attached, e)),
        }
    }
    let (attached, err) = last.expect("every mode has at least one try");
    let hint = match err.raw_os_error() {
        Some(libc::EOPNOTSUPP) if attached == Attached::Native => {
            " — the driver has no native XDP; use --xdp-mode skb or auto"
        }
        Some(libc::EBUSY) | Some(libc::EEXIST) => {
            " — another XDP program is attached; remove it with `ip link set dev IF xdp off`"
        }
        Some(libc::ENODEV) => " — no such interface in this network namespace",
        Some(libc::EPERM) => " — run as root",
        Some(libc::ERANGE) | Some(libc::EINVAL) => {
            " — the MTU may be too large for XDP on this driver (veth: at most about 3500 bytes)"
        }
        _ => "",
    };
    Err(AttachError {
        mode: attached,
        err,
        hint,
    })
}

/// What is attached to an interface right now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExistingProgram {
    /// Program id.
    pub id: u32,
    /// Program name.
    pub name: String,
    /// Attach mode (libbpf's XDP_ATTACHED_*).
    pub mode: u8,
}

/// Queries the XDP program on `ifindex`, if any.
pub fn query(ifindex: u32) -> io::Result<Option<ExistingProgram>> {
    // SAFETY: all-zero is a valid bpf_xdp_query_opts; sz is set below.
    let mut opts: libbpf_sys::bpf_xdp_query_opts = unsafe { std::mem::zeroed() };
    opts.sz = std::mem::size_of::<libbpf_sys::bpf_xdp_query_opts>() as _;
    // SAFETY: FFI with a valid, sized opts struct.
    let rc = unsafe { libbpf_sys::bpf_xdp_query(ifindex as i32, 0, &mut opts) };
    if rc < 0 {
        return Err(io::Error::from_raw_os_error(-rc));
    }
    let id = [
        opts.prog_id,
        opts.drv_prog_id,
        opts.skb_prog_id,
        opts.hw_prog_id,
    ]
    .into_iter()
    .find(|id| *id != 0);
    let Some(id) = id else { return Ok(None) };
    Ok(Some(ExistingProgram {
        id,
        name: prog_name(id).unwrap_or_else(|_| "?".into()),
        mode: opts.attach_mode,
    }))
}

fn prog_name(id: u32) -> io::Result<String> {
    // SAFETY: plain FFI; a negative return is an error code.
    let fd = unsafe { libbpf_sys::bpf_prog_get_fd_by_id(id) };
    if fd < 0 {
        return Err(io::Error::from_raw_os_error(-fd));
    }
    // SAFETY: a fresh fd we own.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    let mut info = libbpf_sys::bpf_prog_info::default();
    let mut len = std::mem::size_of::<libbpf_sys::bpf_prog_info>() as u32;
    // SAFETY: `info` is a writable bpf_prog_info of `len` bytes.
    let rc = unsafe {
        libbpf_sys::bpf_obj_get_info_by_fd(
            fd.as_raw_fd(),
            (&mut info as *mut libbpf_sys::bpf_prog_info).cast(),
            &mut len,
        )
    };
    if rc < 0 {
        return Err(io::Error::from_raw_os_error(-rc));
    }
    let bytes: Vec<u8> = info.name.iter().map(|c| *c as u8).collect();
    Ok(CStr::from_bytes_until_nul(&bytes)
        .map(|c| c.to_string_lossy().into_owned())
        .unwrap_or_default())
}

fn mode_flags(mode: u8) -> u32 {
    match u32::from(mode) {
        libbpf_sys::XDP_ATTACHED_SKB => libbpf_sys::XDP_FLAGS_SKB_MODE,
        libbpf_sys::XDP_ATTACHED_HW => libbpf_sys::XDP_FLAGS_HW_MODE,
        _ => libbpf_sys::XDP_FLAGS_DRV_MODE,
    }
}

fn mode_name(mode: u8) -> &'static str {
    match u32::from(mode) {
        libbpf_sys::XDP_ATTACHED_SKB => "generic/skb mode",
        libbpf_sys::XDP_ATTACHED_HW => "offloaded",
        libbpf_sys::XDP_ATTACHED_MULTI => "several modes",
        _ => "native mode",
    }
}

/// Makes sure `ifindex` is free for us: a stale xskfwd program (attached
/// through netlink and outliving its process) is removed and reported; a
/// live xskfwd or any foreign program is an error.
pub fn claim(ifname: &str, ifindex: u32) -> Result<(), BpfError> {
    let existing = query(ifindex).map_err(|err| BpfError::Attach {
        ifname: ifname.into(),
        mode: "query",
        err,
        hint: "",
    })?;
    let Some(p) = existing else { return Ok(()) };
    if p.name != PROG_NAME {
        return Err(BpfError::Foreign {
            ifname: ifname.into(),
            name: p.name,
            id: p.id,
            how: mode_name(p.mode),
        });
    }
    // SAFETY: plain FFI; detaches whatever netlink-attached program is there.
    let rc =
        unsafe { libbpf_sys::bpf_xdp_detach(ifindex as i32, mode_flags(p.mode), std::ptr::null()) };
    if rc == -libc::EBUSY {
        return Err(BpfError::Busy {
            ifname: ifname.into(),
            id: p.id,
        });
    }
    if rc < 0 {
        return Err(BpfError::Attach {
            ifname: ifname.into(),
            mode: "detach of a stale program",
            err: io::Error::from_raw_os_error(-rc),
            hint: "",
        });
    }
    crate::info!(
        "start",
        "{ifname}: removed a stale xskfwd XDP program (id {}) left by an earlier run",
        p.id
    );
    Ok(())
}

impl PortProgram {
    /// Claims `ifindex` (see [`claim`]) and loads an instance of the
    /// program for it, not yet attached: its XSKMAP can be filled first, so
    /// the moment the program is attached every queue already has a socket.
    pub fn load(ifname: &str, ifindex: u32, cfg: &ProgConfig) -> Result<Self, BpfError> {
        claim(ifname, ifindex)?;
        Ok(PortProgram {
            link: None,
            skel: load_skel(cfg)?,
            ifname: ifname.into(),
            ifindex,
        })
    }

    /// Attaches the loaded program to its interface through a bpf_link.
    pub fn attach(&mut self, mode: XdpMode) -> Result<Attached, BpfError> {
        let prog = self.skel.progs.xskfwd_xdp.as_fd();
        let link = attach_link(prog, self.ifindex, mode).map_err(|e| BpfError::Attach {
            ifname: self.ifname.clone(),
            mode: e.mode.name(),
            err: e.err,
            hint: e.hint,
        })?;
        let attached = link.attached();
        if attached == Attached::Skb && mode == XdpMode::Auto {
            crate::info!(
                "start",
                "{}: the driver has no native XDP, using generic (skb) mode",
                self.ifname
            );
        }
        self.link = Some(link);
        Ok(attached)
    }

    /// Steers rx queue `queue` to the AF_XDP socket `fd`.
    pub fn register(&self, queue: u32, fd: RawFd) -> Result<(), BpfError> {
        self.skel
            .maps
            .xsks
            .update(
                &queue.to_ne_bytes(),
                &(fd as u32).to_ne_bytes(),
                MapFlags::ANY,
            )
            .map_err(|err| BpfError::Map {
                what: "adding the socket to the XSKMAP",
                err,
            })
    }

    /// Stops steering `queue` (frames go to the kernel again).
    pub fn unregister(&self, queue: u32) {
        if let Err(e) = self.skel.maps.xsks.delete(&queue.to_ne_bytes()) {
            crate::warn!(
                "shutdown",
                "{}: removing queue {queue} from the XSKMAP: {e}",
                self.ifname
            );
        }
    }

    /// The program's counters, summed over CPUs.
    pub fn counters(&self) -> XdpProgStats {
        let get = |key: u32| -> u64 {
            match self
                .skel
                .maps
                .counters
                .lookup_percpu(&key.to_ne_bytes(), MapFlags::ANY)
            {
                Ok(Some(per_cpu)) => per_cpu
                    .iter()
                    .filter_map(|v| {
                        v.get(..8)
                            .map(|b| u64::from_ne_bytes(b.try_into().unwrap_or([0; 8])))
                    })
                    .sum(),
                _ => 0,
            }
        };
        let mut s = XdpProgStats::default();
        for (i, c) in s.counts.iter_mut().enumerate() {
            *c = get(i as u32);
        }
        s
    }

    /// Runs the (loaded, not necessarily attached) program once on `frame`
    /// (feature `testing`: the XDP steering suite's probe)
    /// as if it arrived on this port's rx queue `queue` (BPF_PROG_RUN), in
    /// the calling thread's network namespace. Returns the XDP action. The
    /// program's counters record the decision; with no socket in the
    /// XSKMAP a frame for xskfwd counts as `pass_no_socket`.
    #[cfg(feature = "testing")]
    pub fn test_run(&self, frame: &[u8], queue: u32) -> Result<u32, BpfError> {
        // struct xdp_md: data, data_end, data_meta, ingress_ifindex,
        // rx_queue_index, egress_ifindex (all u32).
        let mut ctx = [0u8; 24];
        let len = u32::try_from(frame.len()).unwrap_or(u32::MAX);
        ctx[4..8].copy_from_slice(&len.to_ne_bytes());
        ctx[12..16].copy_from_slice(&self.ifindex.to_ne_bytes());
        ctx[16..20].copy_from_slice(&queue.to_ne_bytes());
        let input = libbpf_rs::ProgramInput {
            data_in: Some(frame),
            context_in: Some(&mut ctx),
            ..Default::default()
        };
        self.skel
            .progs
            .xskfwd_xdp
            .test_run(input)
            .map(|o| o.return_value)
            .map_err(|err| BpfError::Map {
                what: "BPF_PROG_RUN of the XDP program",
                err,
            })
    }

    /// Handles on this instance's steering maps, usable from another
    /// thread (the L3 control plane).
    pub fn steer_maps(&self) -> Result<SteerMaps, BpfError> {
        let h = |m| {
            MapHandle::try_from(m).map_err(|err| BpfError::Map {
                what: "duplicating a map handle",
                err,
            })
        };
        Ok(SteerMaps {
            v4: h(&self.skel.maps.steer4)?,
            v6: h(&self.skel.maps.steer6)?,
            max_len: h(&self.skel.maps.max_len)?,
            nh_use: h(&self.skel.maps.nh_use)?,
            rp_filter: h(&self.skel.maps.rp_filter)?,
        })
    }
}

/// A program of the forwarder's object that can be attached on its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Builtin {
    /// `xskfwd_pass`: passes every frame (what a veth peer needs so that
    /// native-mode redirects into it work).
    Pass,
    /// `xskfwd_xdp`, the forwarder's steering program, with no sockets:
    /// what an older or crashed tool would have left behind (feature
    /// `testing`: the stale-program suite leaves one on purpose).
    #[cfg(feature = "testing")]
    Forwarder,
}

/// Attaches a [`Builtin`] program to `ifindex` in native mode through
/// netlink, so it stays after this process exits (it goes away with the
/// interface or its namespace; `xskfwd run` removes a stale forwarder).
pub fn attach_persistent(ifindex: u32, which: Builtin) -> Result<(), BpfError> {
    let skel = load_skel(&ProgConfig::default())?;
    let prog = match which {
        #[cfg(feature = "testing")]
        Builtin::Forwarder => &skel.progs.xskfwd_xdp,
        Builtin::Pass => &skel.progs.xskfwd_pass,
    };
    let fd = prog.as_fd().as_raw_fd();
    // SAFETY: plain FFI with a valid program fd.
    let rc = unsafe {
        libbpf_sys::bpf_xdp_attach(
            ifindex as i32,
            fd,
            libbpf_sys::XDP_FLAGS_DRV_MODE,
            std::ptr::null(),
        )
    };
    if rc < 0 {
        return Err(BpfError::Attach {
            ifname: format!("ifindex {ifindex}"),
            mode: "native",
            err: io::Error::from_raw_os_error(-rc),
            hint: "",
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_hop_slots_decode() {
        let slot = |ifindex: u32, family: i32, addr: &[u8], hits: u64| {
            let mut v = Vec::new();
            v.extend_from_slice(&ifindex.to_ne_bytes());
            v.extend_from_slice(&(family as u32).to_ne_bytes());
            let mut a = [0u8; 16];
            a[..addr.len()].copy_from_slice(addr);
            v.extend_from_slice(&a);
            v.extend_from_slice(&hits.to_ne_bytes());
            v
        };
        assert_eq!(
            NextHopUse::parse(&slot(12, libc::AF_INET, &[198, 18, 1, 1], 5)),
            Some(NextHopUse {
                ifindex: 12,
                addr: "198.18.1.1".parse().unwrap(),
                hits: 5
            })
        );
        let v6: std::net::Ipv6Addr = "fd00:0:0:2::1".parse().unwrap();
        assert_eq!(
            NextHopUse::parse(&slot(3, libc::AF_INET6, &v6.octets(), 1)).map(|u| u.addr),
            Some(v6.into())
        );
        assert_eq!(NextHopUse::parse(&slot(0, 0, &[], 0)), None, "empty slot");
        assert_eq!(
            NextHopUse::parse(&slot(3, 7, &[1], 1)),
            None,
            "other family"
        );
        assert_eq!(NextHopUse::parse(&[0; 12]), None, "short");
    }

    fn define(name: &str) -> u32 {
        include_str!("../bpf/xskfwd.h")
            .lines()
            .filter_map(|l| l.strip_prefix("#define "))
            .find_map(|l| {
                let mut w = l.split_whitespace();
                (w.next() == Some(name)).then(|| w.next().unwrap().parse().unwrap())
            })
            .unwrap_or_else(|| panic!("{name} is not defined in bpf/xskfwd.h"))
    }

    #[test]
    fn constants_agree_with_the_xdp_program() {
        assert_eq!(define("XSKFWD_MODE_L2"), MODE_L2);
        assert_eq!(define("XSKFWD_MODE_L3"), MODE_L3);
        assert_eq!(define("XSKFWD_STEER_PASS"), STEER_PASS);
        assert_eq!(define("XSKFWD_STEER_REDIRECT"), STEER_REDIRECT);
        assert_eq!(define("XSKFWD_STEER_KERNEL"), STEER_KERNEL);
        assert_eq!(define("XSKFWD_NH_SLOTS"), NH_SLOTS);
        let magic = include_str!("../bpf/xskfwd.h")
            .lines()
            .find_map(|l| l.strip_prefix("#define XSKFWD_META_MAGIC 0x"))
            .and_then(|l| u32::from_str_radix(l.split_whitespace().next()?, 16).ok());
        assert_eq!(magic, Some(xskfwd_core::l3::META_MAGIC));
        use xskfwd_core::limits;
        assert_eq!(define("XSKFWD_MAX_PORTS") as usize, limits::MAX_L3_PORTS);
        assert_eq!(define("XSKFWD_MAX_QUEUES"), limits::MAX_QUEUES);
        assert_eq!(define("XSKFWD_STEER_ENTRIES"), limits::STEER_ENTRIES);
    }
}
