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
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};

use libbpf_rs::libbpf_sys;
use libbpf_rs::skel::{OpenSkel, SkelBuilder};
use libbpf_rs::{MapCore, MapFlags, OpenObject};
use thiserror::Error;

use crate::config::XdpMode;
use crate::stats::XdpProgStats;

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

// Counter indices, mirroring `enum xskfwd_counter` in bpf/xskfwd.h.
const CNT_REDIRECT: u32 = 0;
const CNT_PASS_NO_SOCKET: u32 = 1;
const CNT_PASS_SHORT: u32 = 2;
const CNT_PASS_QUEUE: u32 = 3;

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

fn load_skel(mode: u32) -> Result<XskfwdSkel<'static>, BpfError> {
    // The skeleton borrows its object storage for its whole life. One small
    // slot per loaded program is leaked deliberately (a handful per process)
    // instead of building a self-referential struct with unsafe code.
    let storage: &'static mut MaybeUninit<OpenObject> = Box::leak(Box::new(MaybeUninit::uninit()));
    let mut open = XskfwdSkelBuilder::default()
        .open(storage)
        .map_err(BpfError::Load)?;
    if let Some(ro) = open.maps.rodata_data.as_deref_mut() {
        ro.xskfwd_mode = mode;
    }
    open.load().map_err(BpfError::Load)
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
    link: Option<OwnedFd>,
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
    eprintln!(
        "xskfwd: {ifname}: removed a stale xskfwd XDP program (id {}) left by an earlier run",
        p.id
    );
    Ok(())
}

impl PortProgram {
    /// Claims `ifindex` (see [`claim`]) and loads an instance of the
    /// program for it, not yet attached: its XSKMAP can be filled first, so
    /// the moment the program is attached every queue already has a socket.
    pub fn load(ifname: &str, ifindex: u32, prog_mode: u32) -> Result<Self, BpfError> {
        claim(ifname, ifindex)?;
        Ok(PortProgram {
            link: None,
            skel: load_skel(prog_mode)?,
            ifname: ifname.into(),
            ifindex,
        })
    }

    /// Attaches the loaded program to its interface through a bpf_link.
    pub fn attach(&mut self, mode: XdpMode) -> Result<Attached, BpfError> {
        let (ifname, ifindex) = (self.ifname.as_str(), self.ifindex);
        let prog_fd = self.skel.progs.xskfwd_xdp.as_fd().as_raw_fd();
        let tries: &[(u32, Attached)] = match mode {
            XdpMode::Native => &[(libbpf_sys::XDP_FLAGS_DRV_MODE, Attached::Native)],
            XdpMode::Skb => &[(libbpf_sys::XDP_FLAGS_SKB_MODE, Attached::Skb)],
            XdpMode::Auto => &[
                (libbpf_sys::XDP_FLAGS_DRV_MODE, Attached::Native),
                (libbpf_sys::XDP_FLAGS_SKB_MODE, Attached::Skb),
            ],
        };
        let mut last = None;
        for (flags, attached) in tries {
            match link_create(prog_fd, ifindex, *flags) {
                Ok(link) => {
                    if *attached == Attached::Skb && mode == XdpMode::Auto {
                        eprintln!("xskfwd: {ifname}: the driver has no native XDP, using generic (skb) mode");
                    }
                    self.link = Some(link);
                    return Ok(*attached);
                }
                Err(e) => last = Some((*attached, e)),
            }
        }
        let (attached, source) = last.expect("at least one mode");
        let hint = match source.raw_os_error() {
            Some(libc::EOPNOTSUPP) if attached == Attached::Native => {
                " — the driver has no native XDP; use --xdp-mode skb or auto"
            }
            Some(libc::EBUSY) | Some(libc::EEXIST) => {
                " — another XDP program is attached; remove it with `ip link set dev IF xdp off`"
            }
            Some(libc::EPERM) => " — run as root",
            Some(libc::ERANGE) | Some(libc::EINVAL) => {
                " — the MTU may be too large for XDP on this driver (veth: at most about 3500 bytes)"
            }
            _ => "",
        };
        Err(BpfError::Attach {
            ifname: ifname.into(),
            mode: attached.name(),
            err: source,
            hint,
        })
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
            eprintln!(
                "xskfwd: {}: removing queue {queue} from the XSKMAP: {e}",
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
        XdpProgStats {
            redirect: get(CNT_REDIRECT),
            pass_no_socket: get(CNT_PASS_NO_SOCKET),
            pass_short: get(CNT_PASS_SHORT),
            pass_queue: get(CNT_PASS_QUEUE),
        }
    }
}

/// Attaches the pass-everything program to `ifindex` in native mode through
/// netlink, so it stays after this process exits (the lab uses it on the
/// far ends of its veth pairs; it goes away with the namespace).
pub fn attach_pass_persistent(ifindex: u32) -> Result<(), BpfError> {
    attach_persistent(ifindex, false)
}

/// Attaches xskfwd's own forwarding program through netlink, the way an
/// older or crashed tool could have left it: it outlives this process. Only
/// for tests of the stale-program handling.
#[doc(hidden)]
pub fn attach_stale_for_tests(ifindex: u32) -> Result<(), BpfError> {
    attach_persistent(ifindex, true)
}

fn attach_persistent(ifindex: u32, forwarder: bool) -> Result<(), BpfError> {
    let skel = load_skel(MODE_L2)?;
    let prog = if forwarder {
        &skel.progs.xskfwd_xdp
    } else {
        &skel.progs.xskfwd_pass
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
