//! Who we run as and what the process may do: the capabilities a run needs
//! to set up, the few it keeps while forwarding, `PR_SET_NO_NEW_PRIVS`,
//! `--user`. The one place that asks.
//!
//! Capabilities are per thread. [`drop_to`] runs on the main thread
//! before any worker or control thread exists, so every thread starts
//! with the reduced sets; later threads inherit them.
//!
//! Set-up needs (measured by running as a non-root user holding exactly
//! these; see `tests/privileges.rs`):
//! - `CAP_BPF`: load the XDP program and create its maps;
//! - `CAP_NET_ADMIN`: attach it (bpf_link), the XSKMAP, `SO_RCVBUFFORCE`
//!   on the route monitor; in L3 mode also while forwarding, for the
//!   neighbour liveness writes (`RTM_NEWNEIGH` with `NTF_USE`);
//! - `CAP_NET_RAW`: create the AF_XDP sockets;
//! - `CAP_IPC_LOCK`: pin the UMEM beyond `RLIMIT_MEMLOCK`;
//! - `CAP_SYS_ADMIN`: only to enter another namespace (`--netns`);
//! - `CAP_PERFMON`: not needed (the verifier accepts the program without).
//!
//! Forwarding needs none of them (the sockets, maps and links are file
//! descriptors the process already holds), except `CAP_NET_ADMIN` in L3
//! mode as above.

use std::io;

use anyhow::{bail, Context, Result};

/// A Linux capability this crate asks about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum Cap {
    /// `CAP_NET_ADMIN` (12).
    NetAdmin = 12,
    /// `CAP_NET_RAW` (13).
    NetRaw = 13,
    /// `CAP_IPC_LOCK` (14).
    IpcLock = 14,
    /// `CAP_SYS_ADMIN` (21).
    SysAdmin = 21,
    /// `CAP_BPF` (39).
    Bpf = 39,
}

impl Cap {
    /// Every capability this crate names.
    pub const ALL: [Cap; 5] = [
        Cap::NetAdmin,
        Cap::NetRaw,
        Cap::IpcLock,
        Cap::SysAdmin,
        Cap::Bpf,
    ];

    /// The name as `capabilities(7)` spells it.
    pub fn name(self) -> &'static str {
        match self {
            Cap::NetAdmin => "CAP_NET_ADMIN",
            Cap::NetRaw => "CAP_NET_RAW",
            Cap::IpcLock => "CAP_IPC_LOCK",
            Cap::SysAdmin => "CAP_SYS_ADMIN",
            Cap::Bpf => "CAP_BPF",
        }
    }

    fn bit(self) -> u64 {
        1u64 << (self as u32)
    }
}

/// A set of capabilities as a bit mask (bit n = capability n).
pub fn mask(caps: &[Cap]) -> u64 {
    caps.iter().fold(0, |m, c| m | c.bit())
}

/// What `xskfwd run` needs to set up: `netns` when it enters a namespace.
pub fn setup_caps(netns: bool) -> Vec<Cap> {
    let mut v = vec![Cap::Bpf, Cap::NetAdmin, Cap::NetRaw, Cap::IpcLock];
    if netns {
        v.push(Cap::SysAdmin);
    }
    v
}

/// The calling thread's capability sets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CapSets {
    /// Effective.
    pub effective: u64,
    /// Permitted.
    pub permitted: u64,
    /// Inheritable.
    pub inheritable: u64,
}

const CAP_VERSION_3: u32 = 0x2008_0522;

#[repr(C)]
struct CapHeader {
    version: u32,
    pid: libc::c_int,
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

/// Reads the calling thread's capability sets.
pub fn current() -> io::Result<CapSets> {
    let mut header = CapHeader {
        version: CAP_VERSION_3,
        pid: 0,
    };
    let mut data = [CapData::default(); 2];
    // SAFETY: capget writes two CapData structs (version 3) into `data`,
    // which has room for them; the header is valid for the call.
    let r = unsafe { libc::syscall(libc::SYS_capget, &mut header, data.as_mut_ptr()) };
    if r != 0 {
        return Err(io::Error::last_os_error());
    }
    let join = |lo: u32, hi: u32| u64::from(lo) | (u64::from(hi) << 32);
    Ok(CapSets {
        effective: join(data[0].effective, data[1].effective),
        permitted: join(data[0].permitted, data[1].permitted),
        inheritable: join(data[0].inheritable, data[1].inheritable),
    })
}

fn set(sets: CapSets) -> io::Result<()> {
    let mut header = CapHeader {
        version: CAP_VERSION_3,
        pid: 0,
    };
    let split = |v: u64| (v as u32, (v >> 32) as u32);
    let (e0, e1) = split(sets.effective);
    let (p0, p1) = split(sets.permitted);
    let (i0, i1) = split(sets.inheritable);
    let data = [
        CapData {
            effective: e0,
            permitted: p0,
            inheritable: i0,
        },
        CapData {
            effective: e1,
            permitted: p1,
            inheritable: i1,
        },
    ];
    // SAFETY: capset reads the header and two CapData structs (version 3),
    // both valid for the call.
    let r = unsafe { libc::syscall(libc::SYS_capset, &mut header, data.as_ptr()) };
    if r != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// The effective user id.
pub fn current_uid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

/// Whether the process runs as root (effective user id 0).
pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// Fails with an actionable message naming the capabilities of `needed`
/// the calling thread does not have in its effective set; `what` says
/// what needs them.
pub fn require(what: &str, needed: &[Cap]) -> Result<()> {
    let have = current().context("reading this process's capabilities")?;
    let missing: Vec<&str> = needed
        .iter()
        .filter(|c| have.effective & c.bit() == 0)
        .map(|c| c.name())
        .collect();
    if !missing.is_empty() {
        let all: Vec<&str> = needed.iter().map(|c| c.name()).collect();
        bail!(
            "{what} lacks {}: it needs {} (run it as root, or grant them: \
             `setpriv --inh-caps +{caps} --ambient-caps +{caps} …`, or \
             AmbientCapabilities= in its systemd unit)",
            missing.join(", "),
            all.join(", "),
            caps = needed
                .iter()
                .map(|c| c.name()["CAP_".len()..].to_ascii_lowercase())
                .collect::<Vec<_>>()
                .join(",+"),
        );
    }
    Ok(())
}

/// Fails with an actionable message unless running as root; `what` says
/// what needs it (the lab tools, which create namespaces).
pub fn require_root(what: &str) -> Result<()> {
    if !is_root() {
        bail!("{what} needs root: run it with sudo");
    }
    Ok(())
}

/// Raises RLIMIT_MEMLOCK if allowed. On kernels with memcg accounting for
/// BPF and UMEM it is not needed, and without CAP_SYS_RESOURCE it fails with
/// EPERM: neither is fatal.
pub fn raise_memlock() {
    let r = libc::rlimit {
        rlim_cur: libc::RLIM_INFINITY,
        rlim_max: libc::RLIM_INFINITY,
    };
    // SAFETY: setrlimit reads a valid rlimit struct.
    let _ = unsafe { libc::setrlimit(libc::RLIMIT_MEMLOCK, &r) };
}

/// A user to switch to (`--user`), looked up while `/etc/passwd` is still
/// readable.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    /// Name.
    pub name: String,
    /// User id.
    pub uid: u32,
    /// Primary group id.
    pub gid: u32,
}

/// Looks `name` up in the user database.
pub fn lookup_user(name: &str) -> Result<User> {
    let cname = std::ffi::CString::new(name).context("--user: a name without NUL bytes")?;
    let mut pwd: libc::passwd = {
        // SAFETY: passwd is a plain C struct for which all-zero is a valid
        // (empty) value; getpwnam_r fills it.
        unsafe { std::mem::zeroed() }
    };
    let mut buf = vec![0u8; 16 * 1024];
    let mut out: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: every pointer is valid for the call; `buf` outlives the use
    // of the strings pwd points into (only the ids are read).
    let r = unsafe {
        libc::getpwnam_r(
            cname.as_ptr(),
            &mut pwd,
            buf.as_mut_ptr().cast(),
            buf.len(),
            &mut out,
        )
    };
    if r != 0 {
        return Err(io::Error::from_raw_os_error(r)).context(format!("--user: looking up {name}"));
    }
    if out.is_null() {
        bail!("--user: no user {name} on this host (see `getent passwd {name}`)");
    }
    Ok(User {
        name: name.to_string(),
        uid: pwd.pw_uid,
        gid: pwd.pw_gid,
    })
}

/// Drops privileges for forwarding, on the calling thread (call it before
/// any other thread exists; threads created later inherit it):
/// switches to `user` if given (no supplementary groups), keeps `effective`
/// in the effective and `permitted ∪ effective` in the permitted set and
/// nothing else (inheritable and ambient sets cleared), and sets
/// `PR_SET_NO_NEW_PRIVS`. What stays permitted but not effective can be
/// raised again with [`raise`] (a rebind after a port came back).
pub fn drop_to(effective: &[Cap], permitted: &[Cap], user: Option<&User>) -> Result<()> {
    let eff = mask(effective);
    let perm = eff | mask(permitted);
    // SAFETY: prctl with these integer arguments has no memory effects.
    if unsafe {
        libc::prctl(
            libc::PR_CAP_AMBIENT,
            libc::PR_CAP_AMBIENT_CLEAR_ALL,
            0,
            0,
            0,
        )
    } != 0
    {
        // Kernels without ambient capabilities: nothing to clear.
        let e = io::Error::last_os_error();
        if e.raw_os_error() != Some(libc::EINVAL) {
            return Err(e).context("prctl(PR_CAP_AMBIENT_CLEAR_ALL)");
        }
    }
    if let Some(u) = user {
        // Keep the permitted set through the uid change (the effective
        // set is cleared by it and restored below).
        // SAFETY: integer-only prctl.
        if unsafe { libc::prctl(libc::PR_SET_KEEPCAPS, 1, 0, 0, 0) } != 0 {
            return Err(io::Error::last_os_error()).context("prctl(PR_SET_KEEPCAPS)");
        }
        // SAFETY: setgroups with an empty list reads no memory.
        if unsafe { libc::setgroups(0, std::ptr::null()) } != 0 {
            return Err(io::Error::last_os_error()).context("setgroups([]) for --user");
        }
        // SAFETY: integer-only syscalls. glibc applies set*id to every
        // thread; there is only this one now anyway.
        if unsafe { libc::setresgid(u.gid, u.gid, u.gid) } != 0 {
            return Err(io::Error::last_os_error())
                .context(format!("setresgid({}) for --user {}", u.gid, u.name));
        }
        // SAFETY: as above.
        if unsafe { libc::setresuid(u.uid, u.uid, u.uid) } != 0 {
            return Err(io::Error::last_os_error())
                .context(format!("setresuid({}) for --user {}", u.uid, u.name));
        }
        // SAFETY: integer-only prctl.
        unsafe { libc::prctl(libc::PR_SET_KEEPCAPS, 0, 0, 0, 0) };
    }
    let now = current().context("reading capabilities")?;
    set(CapSets {
        effective: eff & now.permitted,
        permitted: perm & now.permitted,
        inheritable: 0,
    })
    .context("capset: dropping capabilities")?;
    // SAFETY: integer-only prctl.
    if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } != 0 {
        return Err(io::Error::last_os_error()).context("prctl(PR_SET_NO_NEW_PRIVS)");
    }
    Ok(())
}

/// Makes `caps` effective again on the calling thread, as far as the
/// permitted set allows; returns the ones it could not raise.
pub fn raise(caps: &[Cap]) -> io::Result<Vec<Cap>> {
    let now = current()?;
    let want = mask(caps);
    set(CapSets {
        effective: now.effective | (want & now.permitted),
        ..now
    })?;
    Ok(caps
        .iter()
        .copied()
        .filter(|c| now.permitted & c.bit() == 0)
        .collect())
}

/// Clears the effective set of the calling thread except `keep`.
pub fn lower_to(keep: &[Cap]) -> io::Result<()> {
    let now = current()?;
    set(CapSets {
        effective: now.effective & mask(keep),
        ..now
    })
}

/// Tries to load a two-instruction XDP program (`return XDP_PASS`) and
/// closes it at once: `Ok` if the kernel accepted it. After [`drop_to`]
/// it must fail (`EPERM`): the check `xskfwd run` makes of itself.
pub fn try_load_bpf() -> io::Result<()> {
    const BPF_PROG_LOAD: libc::c_long = 5;
    const BPF_PROG_TYPE_XDP: u32 = 6;
    // mov64 r0, 2 (XDP_PASS); exit
    let insns: [u64; 2] = [
        u64::from_le_bytes([0xb7, 0, 0, 0, 2, 0, 0, 0]),
        u64::from_le_bytes([0x95, 0, 0, 0, 0, 0, 0, 0]),
    ];
    let license = c"GPL";
    // union bpf_attr, BPF_PROG_LOAD part: prog_type, insn_cnt, insns,
    // license; the rest zero.
    let mut attr = [0u64; 16];
    attr[0] = u64::from(BPF_PROG_TYPE_XDP) | (2u64 << 32);
    attr[1] = insns.as_ptr() as u64;
    attr[2] = license.as_ptr() as u64;
    // SAFETY: attr is a zeroed bpf_attr of 128 bytes whose pointers refer
    // to `insns` and `license`, alive for the call.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            BPF_PROG_LOAD,
            attr.as_ptr(),
            std::mem::size_of_val(&attr),
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the kernel just returned this fd to us; nothing else owns it.
    unsafe { libc::close(fd as libc::c_int) };
    Ok(())
}

/// System calls a worker thread makes once it forwards: the ring kicks
/// (`sendto`, `recvfrom`), the idle sleep (`poll`/`ppoll`), closing a gone
/// port's socket (`getsockopt`, `close`, `munmap`), the frame accounting at the end
/// (memory allocation), the drain's short sleeps, thread exit, and what a
/// panic needs to report itself and abort.
const WORKER_SYSCALLS: &[libc::c_long] = &[
    libc::SYS_sendto,
    libc::SYS_recvfrom,
    #[cfg(target_arch = "x86_64")]
    libc::SYS_poll,
    libc::SYS_ppoll,
    libc::SYS_close,
    libc::SYS_getsockopt,
    libc::SYS_munmap,
    libc::SYS_mmap,
    libc::SYS_mprotect,
    libc::SYS_madvise,
    libc::SYS_mremap,
    libc::SYS_brk,
    libc::SYS_futex,
    libc::SYS_sched_yield,
    libc::SYS_nanosleep,
    libc::SYS_clock_nanosleep,
    libc::SYS_clock_gettime,
    libc::SYS_write,
    libc::SYS_writev,
    libc::SYS_sigaltstack,
    libc::SYS_rt_sigprocmask,
    libc::SYS_rt_sigreturn,
    libc::SYS_getpid,
    libc::SYS_gettid,
    libc::SYS_tgkill,
    libc::SYS_exit,
    libc::SYS_exit_group,
];

#[cfg(target_arch = "x86_64")]
const AUDIT_ARCH: u32 = 0xC000_003E;
#[cfg(target_arch = "aarch64")]
const AUDIT_ARCH: u32 = 0xC000_00B7;

/// Confines the calling thread (a worker) to `WORKER_SYSCALLS` with a
/// seccomp filter: any other system call kills the process (whose
/// bpf_links then detach, leaving forwarding to the kernel). Needs
/// `PR_SET_NO_NEW_PRIVS`, which [`drop_to`] set.
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
pub fn confine_worker() -> io::Result<()> {
    const LD_W_ABS: u16 = 0x20; // BPF_LD | BPF_W | BPF_ABS
    const JEQ_K: u16 = 0x15; // BPF_JMP | BPF_JEQ | BPF_K
    const RET_K: u16 = 0x06; // BPF_RET | BPF_K
    const ALLOW: u32 = 0x7fff_0000; // SECCOMP_RET_ALLOW
    const KILL: u32 = 0x8000_0000; // SECCOMP_RET_KILL_PROCESS
    let ins = |code: u16, jt: u8, jf: u8, k: u32| libc::sock_filter { code, jt, jf, k };
    let mut prog = vec![
        ins(LD_W_ABS, 0, 0, 4), // seccomp_data.arch
        ins(JEQ_K, 1, 0, AUDIT_ARCH),
        ins(RET_K, 0, 0, KILL),
        ins(LD_W_ABS, 0, 0, 0), // seccomp_data.nr
    ];
    for &nr in WORKER_SYSCALLS {
        prog.push(ins(JEQ_K, 0, 1, nr as u32));
        prog.push(ins(RET_K, 0, 0, ALLOW));
    }
    prog.push(ins(RET_K, 0, 0, KILL));
    let fprog = libc::sock_fprog {
        len: prog.len() as u16,
        filter: prog.as_mut_ptr(),
    };
    // SAFETY: fprog points to `prog`, alive for the call; the kernel
    // copies the filter.
    let r = unsafe {
        libc::prctl(
            libc::PR_SET_SECCOMP,
            libc::SECCOMP_MODE_FILTER as libc::c_ulong,
            &fprog as *const libc::sock_fprog,
            0,
            0,
        )
    };
    if r != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Other architectures: no filter (their system call numbers differ).
#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
pub fn confine_worker() -> io::Result<()> {
    Err(io::Error::from(io::ErrorKind::Unsupported))
}

/// The names of the capabilities in `mask` (those this crate names; the
/// rest as numbers).
pub fn names(mask: u64) -> String {
    let mut out: Vec<String> = Vec::new();
    for bit in 0..64u32 {
        if mask & (1u64 << bit) == 0 {
            continue;
        }
        match Cap::ALL.iter().find(|c| **c as u32 == bit) {
            Some(c) => out.push(c.name().to_string()),
            None => out.push(format!("cap{bit}")),
        }
    }
    if out.is_empty() {
        "none".into()
    } else {
        out.join(",")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_and_names() {
        assert_eq!(mask(&[Cap::NetAdmin, Cap::Bpf]), (1 << 12) | (1 << 39));
        assert_eq!(Cap::IpcLock.name(), "CAP_IPC_LOCK");
        assert!(setup_caps(true).contains(&Cap::SysAdmin));
        assert!(!setup_caps(false).contains(&Cap::SysAdmin));
    }

    #[test]
    fn reads_this_threads_sets() {
        let c = current().unwrap();
        assert_eq!(c.effective & !c.permitted, 0, "effective ⊆ permitted");
    }

    #[test]
    fn a_missing_capability_is_named() {
        // A thread of its own, so the rest of the test binary keeps its
        // capabilities.
        std::thread::spawn(|| {
            if current().unwrap().effective & Cap::Bpf.bit() != 0 {
                lower_to(&[Cap::NetAdmin]).unwrap();
            }
            let err = require("xskfwd run", &[Cap::Bpf, Cap::NetAdmin])
                .unwrap_err()
                .to_string();
            assert!(err.contains("lacks CAP_BPF"), "{err}");
            assert!(err.contains("+bpf,+net_admin"), "{err}");
        })
        .join()
        .unwrap();
    }

    #[test]
    fn bpf_loads_only_with_its_capabilities() {
        std::thread::spawn(|| {
            let have = current().unwrap().effective;
            if have & mask(&[Cap::Bpf, Cap::NetAdmin]) == mask(&[Cap::Bpf, Cap::NetAdmin]) {
                try_load_bpf().expect("root loads a trivial XDP program");
            }
            lower_to(&[Cap::NetAdmin]).unwrap();
            let e = try_load_bpf().expect_err("no CAP_BPF, no program");
            assert_eq!(e.raw_os_error(), Some(libc::EPERM), "{e}");
        })
        .join()
        .unwrap();
        assert_eq!(
            names(mask(&[Cap::NetAdmin, Cap::Bpf])),
            "CAP_NET_ADMIN,CAP_BPF"
        );
        assert_eq!(names(0), "none");
    }

    #[test]
    fn a_confined_thread_keeps_its_syscalls() {
        std::thread::spawn(|| {
            // SAFETY: integer-only prctl (seccomp needs no_new_privs).
            let r = unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) };
            assert_eq!(r, 0);
            confine_worker().expect("install the filter");
            // What a worker does: sleep, allocate, write, close.
            std::thread::sleep(std::time::Duration::from_millis(1));
            let v: Vec<u8> = vec![7; 1 << 20];
            assert_eq!(v[12345], 7);
            eprintln!("a confined thread can still report");
            drop(v);
        })
        .join()
        .expect("the confined thread ends normally");
    }

    /// In a child process (this test binary again): a confined thread
    /// that opens a file is killed with the whole process (SIGSYS).
    #[test]
    fn a_confined_thread_that_opens_a_file_kills_the_process() {
        const CHILD: &str = "XSKFWD_SECCOMP_CHILD";
        if std::env::var_os(CHILD).is_some() {
            let _ = std::thread::spawn(|| {
                // SAFETY: integer-only prctl.
                unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) };
                confine_worker().expect("install the filter");
                let _ = std::fs::File::open("/proc/self/status");
            })
            .join();
            std::process::exit(0);
        }
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "privileges::tests::a_confined_thread_that_opens_a_file_kills_the_process",
            ])
            .env(CHILD, "1")
            .output()
            .unwrap();
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(out.status.signal(), Some(libc::SIGSYS), "{:?}", out.status);
    }

    #[test]
    fn unknown_users_are_refused() {
        let err = lookup_user("no-such-user-xskfwd").unwrap_err().to_string();
        assert!(err.contains("no user no-such-user-xskfwd"), "{err}");
        assert_eq!(lookup_user("root").unwrap().uid, 0);
    }
}
