//! Who we run as and what the process may lock. The one place that asks.

use anyhow::{bail, Result};

/// Whether the process runs as root (effective user id 0).
pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// Fails with an actionable message unless running as root; `what` says
/// what needs it.
pub fn require_root(what: &str) -> Result<()> {
    if !is_root() {
        bail!(
            "{what} needs root (CAP_NET_ADMIN, CAP_NET_RAW, CAP_BPF, CAP_IPC_LOCK): \
             run it with sudo"
        );
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
