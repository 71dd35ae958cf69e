//! Binding one AF_XDP socket to (interface, queue) on the shared UMEM,
//! its socket options and its kernel statistics.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::time::{Duration, Instant};

use xsk_rs::config::{BindFlags, Interface, LibxdpFlags, QueueSize, SocketConfig};
use xsk_rs::{CompQueue, FillQueue, RxQueue, Socket, TxQueue};

use super::{fallback, SharedUmem, XskError};
use crate::config::BindMode;
use crate::stats::XskStats;

/// Options for one socket.
#[derive(Debug, Clone, Copy)]
pub struct SocketOptions {
    /// rx ring size.
    pub rx_size: u32,
    /// tx ring size.
    pub tx_size: u32,
    /// Bind mode.
    pub bind: BindMode,
    /// need_wakeup.
    pub need_wakeup: bool,
    /// Jumbo frames: packets larger than a frame arrive and leave as
    /// chains of descriptors (`XDP_USE_SG`).
    pub multi_buffer: bool,
}

/// One bound AF_XDP socket with its four rings.
#[derive(Debug)]
pub struct XskSocket {
    pub(super) rx: RxQueue,
    pub(super) tx: TxQueue,
    pub(super) fq: FillQueue,
    pub(super) cq: CompQueue,
    pub(super) fd: RawFd,
    zero_copy: bool,
    pub(super) fill_cap: u32,
    tx_budget: u32,
}

impl XskSocket {
    /// Binds a socket to `ifname` queue `queue` on the shared UMEM. The
    /// XDP program is ours (loaded by `bpf`), so libxdp is told not to load
    /// its own.
    pub fn bind(
        umem: &SharedUmem,
        ifname: &str,
        queue: u32,
        opts: SocketOptions,
        fill_cap: u32,
    ) -> Result<Self, XskError> {
        let attempts = fallback::attempts(opts.bind);
        let iface: Interface = CString::new(ifname)
            .map(Interface::new)
            .map_err(|e| XskError::Size(e.to_string()))?;
        let mut last = None;
        for (i, (flags, zc, mode)) in attempts.iter().enumerate() {
            let mut flags = *flags;
            if opts.need_wakeup {
                flags |= BindFlags::XDP_USE_NEED_WAKEUP;
            }
            if opts.multi_buffer {
                flags |= BindFlags::XDP_USE_SG;
            }
            let config = SocketConfig::builder()
                .rx_queue_size(
                    QueueSize::new(opts.rx_size).map_err(|e| XskError::Size(e.to_string()))?,
                )
                .tx_queue_size(
                    QueueSize::new(opts.tx_size).map_err(|e| XskError::Size(e.to_string()))?,
                )
                .libxdp_flags(LibxdpFlags::XSK_LIBXDP_FLAGS_INHIBIT_PROG_LOAD)
                .bind_flags(flags)
                .build();
            // A socket closed a moment ago (an earlier run, an earlier
            // sink) frees its queue asynchronously (the kernel releases
            // its buffer pool from a work queue): EBUSY until then. Retry,
            // bounded; a queue that stays busy has another socket.
            let busy_until = Instant::now() + BUSY_WAIT;
            let created = loop {
                // SAFETY: xsk-rs requires that no other socket of ours is
                // bound to this (interface, queue); `app` binds each pair
                // once, and a failed attempt leaves nothing bound.
                let r = unsafe { Socket::new(config, &umem.umem, &iface, queue) };
                match &r {
                    Err(e) if errno(e) == Some(libc::EBUSY) && Instant::now() < busy_until => {
                        std::thread::sleep(Duration::from_millis(10));
                    }
                    _ => break r,
                }
            };
            match created {
                Ok((tx, rx, Some((fq, cq)))) => {
                    let fd = rx.fd().as_raw_fd();
                    // A socket sharing the UMEM inherits the first socket's
                    // mode whatever it asked for: ask the kernel.
                    let zc = is_zero_copy(fd).unwrap_or(*zc);
                    if opts.bind == BindMode::ZeroCopy && !zc {
                        return Err(XskError::Bind {
                            ifname: ifname.into(),
                            queue,
                            mode,
                            err: io::Error::from_raw_os_error(libc::EOPNOTSUPP),
                            hint: " — the UMEM is shared with a copy-mode socket of another port",
                        });
                    }
                    if i > 0 && !zc {
                        crate::warn!("socket", 
                            "{ifname} queue {queue}: zero-copy is not supported by this driver, using copy mode"
                        );
                    }
                    // Copy mode transmits at most 32 frames per sendto()
                    // unless told otherwise (Linux 6.17+): let one kick
                    // drain the whole ring. Older kernels keep 32.
                    let tx_budget = if zc {
                        0
                    } else {
                        set_tx_budget(fd, opts.tx_size).map_or(COPY_TX_BUDGET, |()| opts.tx_size)
                    };
                    return Ok(XskSocket {
                        rx,
                        tx,
                        fq,
                        cq,
                        fd,
                        zero_copy: zc,
                        fill_cap,
                        tx_budget,
                    });
                }
                Ok((_, _, None)) => {
                    return Err(XskError::Bind {
                        ifname: ifname.into(),
                        queue,
                        mode,
                        err: io::Error::other("this (interface, queue) is already bound"),
                        hint: "",
                    })
                }
                Err(e) => {
                    let source = errno(&e)
                        .map(io::Error::from_raw_os_error)
                        .unwrap_or_else(|| io::Error::other(e.to_string()));
                    last = Some((mode, source));
                }
            }
        }
        let (mode, source) = last.expect("at least one attempt");
        let hint = fallback::hint(opts.bind, opts.multi_buffer, &source);
        Err(XskError::Bind {
            ifname: ifname.into(),
            queue,
            mode,
            err: source,
            hint,
        })
    }

    /// The socket's file descriptor (for the XSKMAP and statistics).
    pub fn fd(&self) -> RawFd {
        self.fd
    }

    /// Whether the socket is bound in zero-copy mode.
    pub fn zero_copy(&self) -> bool {
        self.zero_copy
    }

    /// Copy mode: the most frames one tx kick transmits (0 in zero-copy
    /// mode, where the driver decides).
    pub fn tx_budget(&self) -> u32 {
        self.tx_budget
    }
}

/// How long a bind waits for a queue that a socket closed a moment ago is
/// still releasing.
const BUSY_WAIT: Duration = Duration::from_secs(2);

/// The OS error behind an xsk-rs socket error, if there is one.
fn errno(e: &xsk_rs::socket::SocketCreateError) -> Option<i32> {
    std::error::Error::source(e)
        .and_then(|s| s.downcast_ref::<io::Error>())
        .and_then(io::Error::raw_os_error)
}

/// Frames a copy-mode `sendto()` transmits by default (the kernel's
/// `TX_BATCH_SIZE`).
pub const COPY_TX_BUDGET: u32 = 32;

/// Raises the frames one copy-mode `sendto()` may transmit
/// (`XDP_MAX_TX_SKB_BUDGET`, Linux 6.17+; between 32 and the tx ring size).
fn set_tx_budget(fd: RawFd, budget: u32) -> io::Result<()> {
    const XDP_MAX_TX_SKB_BUDGET: libc::c_int = 9;
    if budget < COPY_TX_BUDGET {
        return Err(io::Error::from_raw_os_error(libc::EINVAL));
    }
    // SAFETY: passes a readable u32 of the given length.
    let rc = unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_XDP,
            XDP_MAX_TX_SKB_BUDGET,
            (&budget as *const u32).cast(),
            std::mem::size_of::<u32>() as libc::socklen_t,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Whether the socket is bound in zero-copy mode (`XDP_OPTIONS`).
fn is_zero_copy(fd: RawFd) -> io::Result<bool> {
    const XDP_OPTIONS: libc::c_int = 8;
    const XDP_OPTIONS_ZEROCOPY: u32 = 1;
    let mut flags: u32 = 0;
    let mut len = std::mem::size_of::<u32>() as libc::socklen_t;
    // SAFETY: `flags` is a writable u32 of `len` bytes (struct xdp_options).
    let rc = unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_XDP,
            XDP_OPTIONS,
            (&mut flags as *mut u32).cast(),
            &mut len,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(flags & XDP_OPTIONS_ZEROCOPY != 0)
}

/// Reads `XDP_STATISTICS` of a socket by fd.
pub fn socket_stats(fd: RawFd) -> io::Result<XskStats> {
    #[repr(C)]
    #[derive(Default)]
    struct XdpStatistics {
        rx_dropped: u64,
        rx_invalid_descs: u64,
        tx_invalid_descs: u64,
        rx_ring_full: u64,
        rx_fill_ring_empty_descs: u64,
        tx_ring_empty_descs: u64,
    }
    let mut s = XdpStatistics::default();
    let mut len = std::mem::size_of::<XdpStatistics>() as libc::socklen_t;
    // SAFETY: `s` is a writable buffer of `len` bytes with the layout of
    // the kernel's struct xdp_statistics; the kernel writes at most `len`.
    let rc = unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_XDP,
            libc::XDP_STATISTICS,
            (&mut s as *mut XdpStatistics).cast(),
            &mut len,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(XskStats {
        rx_dropped: s.rx_dropped,
        rx_invalid: s.rx_invalid_descs,
        rx_ring_full: s.rx_ring_full,
        fill_ring_empty: s.rx_fill_ring_empty_descs,
        tx_invalid: s.tx_invalid_descs,
        tx_ring_empty: s.tx_ring_empty_descs,
    })
}
