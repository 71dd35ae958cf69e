//! Who we run as. The one place that asks.

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
