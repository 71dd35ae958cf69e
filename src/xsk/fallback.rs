//! Which bind modes a [`BindMode`] tries, in order, and what to tell the
//! user when the last one fails. Pure tables: no I/O here.

use std::io;

use xsk_rs::config::BindFlags;

use crate::config::BindMode;

/// One bind attempt: flags, whether it is zero-copy, and its name.
pub type Attempt = (BindFlags, bool, &'static str);

/// The attempts for `bind`, in order: `auto` tries zero-copy, then copy.
pub fn attempts(bind: BindMode) -> &'static [Attempt] {
    match bind {
        BindMode::Copy => &[(BindFlags::XDP_COPY, false, "copy mode")],
        BindMode::ZeroCopy => &[(BindFlags::XDP_ZEROCOPY, true, "zero-copy mode")],
        BindMode::Auto => &[
            (BindFlags::XDP_ZEROCOPY, true, "zero-copy mode"),
            (BindFlags::XDP_COPY, false, "copy mode"),
        ],
    }
}

/// What to do about the last attempt's error (empty or " — …").
/// `multi_buffer`: the bind asked for `XDP_USE_SG` (jumbo frames).
pub fn hint(bind: BindMode, multi_buffer: bool, err: &io::Error) -> &'static str {
    match err.raw_os_error() {
        Some(libc::EOPNOTSUPP) | Some(libc::EINVAL) if bind == BindMode::ZeroCopy && multi_buffer => {
            " — jumbo frames need AF_XDP multi-buffer, which this driver does not support in zero-copy mode: use --bind auto or --bind copy, or lower the ports' MTU to what one UMEM frame holds (3822 with --frame-size 4096)"
        }
        Some(libc::EOPNOTSUPP) | Some(libc::EINVAL) if bind == BindMode::ZeroCopy => {
            " — this driver has no AF_XDP zero-copy support (veth never has); use --bind copy or --bind auto"
        }
        Some(libc::EBUSY) => " — another AF_XDP socket is bound to this queue (another xskfwd?)",
        Some(libc::EPERM) => " — run as root (needs CAP_NET_ADMIN, CAP_NET_RAW and CAP_IPC_LOCK)",
        Some(libc::ENOMEM) | Some(libc::ENOBUFS) => {
            " — not enough lockable memory for the rings: lower --frames or the ring sizes"
        }
        Some(libc::EINVAL) => " — the queue may not exist on this interface (see ethtool -l)",
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_tries_zero_copy_first_and_errors_say_what_to_do() {
        let names: Vec<_> = attempts(BindMode::Auto).iter().map(|a| a.2).collect();
        assert_eq!(names, ["zero-copy mode", "copy mode"]);
        assert!(attempts(BindMode::Copy).iter().all(|a| !a.1));
        let e = |n| io::Error::from_raw_os_error(n);
        assert!(hint(BindMode::ZeroCopy, false, &e(libc::EOPNOTSUPP)).contains("--bind copy"));
        assert!(hint(BindMode::ZeroCopy, true, &e(libc::EOPNOTSUPP)).contains("multi-buffer"));
        assert!(!hint(BindMode::Copy, true, &e(libc::EBUSY)).contains("multi-buffer"));
        assert!(hint(BindMode::Copy, false, &e(libc::EINVAL)).contains("ethtool -l"));
        assert!(hint(BindMode::Auto, false, &e(libc::EBUSY)).contains("another AF_XDP socket"));
        assert_eq!(hint(BindMode::Auto, false, &e(libc::EIO)), "");
    }
}
