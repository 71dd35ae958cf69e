//! AF_XDP sockets over one shared UMEM, on top of xsk-rs.
//!
//! This is the only module (with `bpf` and `netns`) that holds `unsafe`
//! code. It turns the two rules xsk-rs cannot check into types:
//!
//! 1. *A frame given to the fill or tx ring is not touched until it comes
//!    back.* [`XskFrame`] is the only handle to a frame. It is neither `Copy`
//!    nor `Clone`; it is created only when a frame leaves a ring (rx,
//!    completion) or the UMEM is created, and consumed by value when it is
//!    given to a ring (fill, tx). Holding one means owning that frame.
//! 2. *Descriptors of different UMEMs are never mixed.* A process has one
//!    UMEM ([`SharedUmem`]), and every [`XskRings`] of it refers to it.

use std::ffi::CString;
use std::io;
use std::num::NonZeroU32;
use std::os::fd::{AsRawFd, RawFd};

use thiserror::Error;
use xsk_rs::config::{
    BindFlags, FrameSize, Interface, LibxdpFlags, QueueSize, SocketConfig, UmemConfig,
};
use xsk_rs::{CompQueue, FillQueue, FrameDesc, RxQueue, Socket, TxQueue, Umem};

use crate::config::{BindMode, MAX_BATCH};
use crate::port::{Batch, Rings};
use crate::stats::XskStats;

/// Errors of the AF_XDP layer, naming the failing step.
#[derive(Debug, Error)]
pub enum XskError {
    /// UMEM creation failed.
    #[error("creating the UMEM ({frames} frames of {frame_size} bytes) failed: {err}")]
    Umem {
        /// Frames requested.
        frames: u32,
        /// Frame size.
        frame_size: u32,
        /// Cause.
        err: io::Error,
    },
    /// A bad size was given (validated earlier; kept for completeness).
    #[error("invalid AF_XDP size: {0}")]
    Size(String),
    /// Socket creation / bind failed.
    #[error("binding an AF_XDP socket to {ifname} queue {queue} ({mode}) failed: {err}{hint}")]
    Bind {
        /// Interface.
        ifname: String,
        /// Queue.
        queue: u32,
        /// Bind mode tried.
        mode: &'static str,
        /// Cause.
        err: io::Error,
        /// What to do about it.
        hint: &'static str,
    },
}

/// The one UMEM of the process, shared by every socket of every port.
#[derive(Debug, Clone)]
pub struct SharedUmem {
    umem: Umem,
    frame_size: u32,
}

/// An owned UMEM frame (see the module docs). `repr(transparent)` so a
/// slice of them is a slice of xsk-rs descriptors.
#[derive(Debug)]
#[repr(transparent)]
pub struct XskFrame(FrameDesc);

impl XskFrame {
    /// Index of the frame in the UMEM (for conservation checks).
    pub fn index(&self, frame_size: u32) -> u64 {
        self.0.addr() as u64 / u64::from(frame_size)
    }
}

fn as_descs(frames: &[XskFrame]) -> &[FrameDesc] {
    // SAFETY: XskFrame is repr(transparent) over FrameDesc, so the layouts
    // of the two slices are identical; the borrow keeps `frames` alive.
    unsafe { std::slice::from_raw_parts(frames.as_ptr().cast::<FrameDesc>(), frames.len()) }
}

impl SharedUmem {
    /// Creates the UMEM and returns it with every frame it holds.
    pub fn new(
        frames: u32,
        frame_size: u32,
        fill_size: u32,
        comp_size: u32,
    ) -> Result<(Self, Vec<XskFrame>), XskError> {
        let size_err = |e: &dyn std::fmt::Display| XskError::Size(e.to_string());
        let config = UmemConfig::builder()
            .frame_size(FrameSize::new(frame_size).map_err(|e| size_err(&e))?)
            .fill_queue_size(QueueSize::new(fill_size).map_err(|e| size_err(&e))?)
            .comp_queue_size(QueueSize::new(comp_size).map_err(|e| size_err(&e))?)
            .frame_headroom(0)
            .build()
            .map_err(|e| size_err(&e))?;
        let count = NonZeroU32::new(frames).ok_or_else(|| XskError::Size("0 frames".into()))?;
        let (umem, descs) = Umem::new(config, count, false).map_err(|e| XskError::Umem {
            frames,
            frame_size,
            err: std::error::Error::source(&e)
                .and_then(|s| s.downcast_ref::<io::Error>())
                .map(|io| io::Error::new(io.kind(), format!("{e}: {io}")))
                .unwrap_or_else(|| io::Error::other(e.to_string())),
        })?;
        Ok((
            SharedUmem { umem, frame_size },
            descs.into_iter().map(XskFrame).collect(),
        ))
    }

    /// Frame size in bytes.
    pub fn frame_size(&self) -> u32 {
        self.frame_size
    }
}

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
}

/// One bound AF_XDP socket with its four rings.
#[derive(Debug)]
pub struct XskSocket {
    rx: RxQueue,
    tx: TxQueue,
    fq: FillQueue,
    cq: CompQueue,
    fd: RawFd,
    zero_copy: bool,
    fill_cap: u32,
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
        let attempts: &[(BindFlags, bool, &'static str)] = match opts.bind {
            BindMode::Copy => &[(BindFlags::XDP_COPY, false, "copy mode")],
            BindMode::ZeroCopy => &[(BindFlags::XDP_ZEROCOPY, true, "zero-copy mode")],
            BindMode::Auto => &[
                (BindFlags::XDP_ZEROCOPY, true, "zero-copy mode"),
                (BindFlags::XDP_COPY, false, "copy mode"),
            ],
        };
        let iface: Interface = CString::new(ifname)
            .map(Interface::new)
            .map_err(|e| XskError::Size(e.to_string()))?;
        let mut last = None;
        for (i, (flags, zc, mode)) in attempts.iter().enumerate() {
            let mut flags = *flags;
            if opts.need_wakeup {
                flags |= BindFlags::XDP_USE_NEED_WAKEUP;
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
            // SAFETY: xsk-rs requires that no other socket of ours is bound
            // to this (interface, queue); `app` binds each pair once.
            match unsafe { Socket::new(config, &umem.umem, &iface, queue) } {
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
                        eprintln!(
                            "xskfwd: {ifname} queue {queue}: zero-copy is not supported by this driver, using copy mode"
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
                    let source = std::error::Error::source(&e)
                        .and_then(|s| s.downcast_ref::<io::Error>())
                        .map(|io| io::Error::from_raw_os_error(io.raw_os_error().unwrap_or(0)))
                        .unwrap_or_else(|| io::Error::other(e.to_string()));
                    last = Some((mode, source));
                }
            }
        }
        let (mode, source) = last.expect("at least one attempt");
        let hint = match source.raw_os_error() {
            Some(libc::EOPNOTSUPP) | Some(libc::EINVAL) if opts.bind == BindMode::ZeroCopy => {
                " — this driver has no AF_XDP zero-copy support (veth never has); use --bind copy or --bind auto"
            }
            Some(libc::EBUSY) => " — another AF_XDP socket is bound to this queue (another xskfwd?)",
            Some(libc::EPERM) => " — run as root (needs CAP_NET_ADMIN, CAP_NET_RAW and CAP_IPC_LOCK)",
            Some(libc::ENOMEM) | Some(libc::ENOBUFS) => {
                " — not enough lockable memory for the rings: lower --frames or the ring sizes"
            }
            Some(libc::EINVAL) => " — the queue may not exist on this interface (see ethtool -l)",
            _ => "",
        };
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

/// One worker's rings: the sockets of its queue on every port.
#[derive(Debug)]
pub struct XskRings {
    umem: SharedUmem,
    socks: Vec<XskSocket>,
    scratch: Box<[FrameDesc; MAX_BATCH]>,
    pollfds: Vec<libc::pollfd>,
    need_wakeup: bool,
}

impl XskRings {
    /// Rings over `socks` (index = port) of `umem`.
    pub fn new(umem: SharedUmem, socks: Vec<XskSocket>, need_wakeup: bool) -> Self {
        let pollfds = socks
            .iter()
            .map(|s| libc::pollfd {
                fd: s.fd,
                events: libc::POLLIN,
                revents: 0,
            })
            .collect();
        XskRings {
            umem,
            socks,
            scratch: Box::new([FrameDesc::default(); MAX_BATCH]),
            pollfds,
            need_wakeup,
        }
    }

    /// Frame size of the UMEM.
    pub fn frame_size(&self) -> u32 {
        self.umem.frame_size
    }
}

impl Rings for XskRings {
    type Frame = XskFrame;

    fn ports(&self) -> usize {
        self.socks.len()
    }

    #[inline]
    fn rx(&mut self, port: usize, out: &mut Batch<XskFrame>, max: usize) -> usize {
        let max = max.min(out.remaining_capacity());
        let s = &mut self.socks[port];
        // SAFETY: the descriptors written into `scratch` are frames the
        // kernel hands back to us; each becomes exactly one XskFrame below.
        let n = unsafe { s.rx.consume(&mut self.scratch[..max]) };
        for d in &self.scratch[..n] {
            out.push(XskFrame(*d));
        }
        n
    }

    #[inline]
    fn data<'a>(&'a self, frame: &'a mut XskFrame) -> &'a mut [u8] {
        // SAFETY: `frame` came from this process's only UMEM and is owned
        // (not on any ring), so nobody else reads or writes its bytes.
        let mut data = unsafe { self.umem.umem.data_mut(&mut frame.0) };
        let bytes = data.contents_mut();
        let (ptr, len) = (bytes.as_mut_ptr(), bytes.len());
        // SAFETY: the bytes live in the UMEM mapping, which `self` keeps
        // alive for 'a; `frame` is mutably borrowed for 'a, so this is the
        // only reference to them.
        unsafe { std::slice::from_raw_parts_mut(ptr, len) }
    }

    #[inline]
    fn prefetch(&self, frame: &mut XskFrame) {
        #[cfg(target_arch = "x86_64")]
        {
            use core::arch::x86_64::{_mm_prefetch, _MM_HINT_ET0};
            let p = self.data(frame).as_ptr();
            // SAFETY: a prefetch never faults and changes no memory; SSE
            // (and with it PREFETCHh/PREFETCHW, a no-op where absent) is
            // part of the x86-64 baseline.
            unsafe { _mm_prefetch::<_MM_HINT_ET0>(p.cast()) };
        }
        #[cfg(not(target_arch = "x86_64"))]
        let _ = frame;
    }

    #[inline]
    fn set_len(&self, frame: &mut XskFrame, len: u32) {
        // SAFETY: as in `data`: an owned frame of our UMEM.
        let mut data = unsafe { self.umem.umem.data_mut(&mut frame.0) };
        data.cursor().set_pos(len as usize);
    }

    #[inline]
    fn tx(&mut self, port: usize, batch: &mut Batch<XskFrame>) -> usize {
        let s = &mut self.socks[port];
        // The ring reserves all-or-nothing: ask how much room there is.
        let k = s.tx.nb_free(batch.len() as u32).min(batch.len() as u32) as usize;
        if k == 0 {
            return 0;
        }
        // SAFETY: the frames are owned by `batch`; the accepted ones are
        // removed from it right below, so they are not touched again until
        // the completion ring returns them.
        let n = unsafe { s.tx.produce(&as_descs(batch)[..k]) };
        batch.drain(..n);
        n
    }

    #[inline]
    fn kick_tx(&mut self, port: usize) -> bool {
        let s = &mut self.socks[port];
        if self.need_wakeup && !s.tx.needs_wakeup() {
            return false;
        }
        // Errors other than the transient ones xsk-rs already ignores mean
        // the device went away; the frames come back at teardown.
        let _ = s.tx.wakeup();
        true
    }

    #[inline]
    fn complete(&mut self, port: usize, pool: &mut Vec<XskFrame>) -> usize {
        let s = &mut self.socks[port];
        let mut total = 0;
        loop {
            let room = (pool.capacity() - pool.len()).min(MAX_BATCH);
            // SAFETY: completed descriptors are frames the kernel is done
            // with; each becomes exactly one XskFrame.
            let n = unsafe { s.cq.consume(&mut self.scratch[..room]) };
            for d in &self.scratch[..n] {
                pool.push(XskFrame(*d));
            }
            total += n;
            if n < room || n == 0 {
                return total;
            }
        }
    }

    #[inline]
    fn fill(&mut self, port: usize, pool: &mut Vec<XskFrame>) -> usize {
        let s = &mut self.socks[port];
        let want = pool.len().min(s.fill_cap as usize) as u32;
        let k = s.fq.nb_free(want).min(want) as usize;
        if k == 0 {
            return 0;
        }
        let start = pool.len() - k;
        // SAFETY: the frames are owned by `pool`; the accepted ones are
        // removed from it right below.
        let n = unsafe { s.fq.produce(as_descs(&pool[start..])) };
        pool.drain(start..start + n);
        n
    }

    #[inline]
    fn kick_fill(&mut self, port: usize) -> bool {
        let s = &mut self.socks[port];
        if !self.need_wakeup || !s.fq.needs_wakeup() {
            return false;
        }
        // SAFETY: recvfrom with a null buffer of length 0 on our own socket
        // only asks the kernel to process the rings.
        unsafe {
            libc::recvfrom(
                s.fd,
                std::ptr::null_mut(),
                0,
                libc::MSG_DONTWAIT,
                std::ptr::null_mut(),
                std::ptr::null_mut(),
            )
        };
        true
    }

    fn wait(&mut self, timeout_ms: i32) {
        // SAFETY: `pollfds` is a valid array of `len` pollfd structs.
        unsafe {
            libc::poll(
                self.pollfds.as_mut_ptr(),
                self.pollfds.len() as libc::nfds_t,
                timeout_ms,
            )
        };
    }
}
