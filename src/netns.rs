//! Network namespaces and interface facts, seen from the calling thread.
//!
//! [`in_netns`] runs a closure on a fresh thread that has joined a named
//! namespace (`ip netns add NAME`, i.e. `/var/run/netns/NAME`); sockets made
//! there stay in that namespace after the thread ends. [`enter_netns`] moves
//! the calling thread itself. The interface queries ([`ifindex`], [`mac_of`],
//! [`mtu_of`], [`num_rx_queues`]) use ioctls on a socket created by the
//! calling thread, so they answer for the namespace that thread is in.
//!
//! This module must never: change the namespace of a thread it did not create
//! (except [`enter_netns`], which the caller asks for explicitly), change any
//! interface or namespace setting (it only reads), trust `/sys` without
//! checking that it shows the caller's namespace (`/sys` reflects the
//! namespace of whoever mounted it), or panic on bad names.

#![deny(clippy::undocumented_unsafe_blocks)]

use std::ffi::CString;
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::thread;

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, MutexGuard};

use anyhow::{bail, Context, Result};
use xskfwd_core::wire::ethernet::Mac;

/// Where `ip netns add` puts its namespace handles.
pub const NETNS_DIR: &str = "/var/run/netns";

/// `ETHTOOL_GCHANNELS` from `<linux/ethtool.h>`.
const ETHTOOL_GCHANNELS: u32 = 0x3c;

/// `struct ethtool_channels` from `<linux/ethtool.h>`.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
struct EthtoolChannels {
    cmd: u32,
    max_rx: u32,
    max_tx: u32,
    max_other: u32,
    max_combined: u32,
    rx_count: u32,
    tx_count: u32,
    other_count: u32,
    combined_count: u32,
}

/// Checks a namespace name the way it will be used: one path component
/// under [`NETNS_DIR`].
pub fn validate_netns_name(name: &str) -> Result<()> {
    if name.is_empty() || name.len() > 200 {
        bail!("invalid network namespace name {name:?}: must be 1..=200 bytes");
    }
    if name == "." || name == ".." || name.contains(['/', '\0']) {
        bail!("invalid network namespace name {name:?}: must be a plain file name");
    }
    Ok(())
}

/// Checks an interface name like the kernel's `dev_valid_name` does.
pub fn validate_ifname(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= xskfwd_core::limits::IFNAME_MAX
        && name != "."
        && name != ".."
        && !name
            .chars()
            .any(|c| c == '/' || c == ':' || c == '\0' || c.is_whitespace());
    if !ok {
        bail!("invalid interface name {name:?}: 1..=15 bytes, no '/', ':' or whitespace");
    }
    Ok(())
}

/// Path of a named namespace's handle, after validating the name.
pub fn netns_path(name: &str) -> Result<PathBuf> {
    validate_netns_name(name)?;
    Ok(PathBuf::from(NETNS_DIR).join(name))
}

/// Whether `ip netns` knows a namespace of this name (invalid names: false).
pub fn netns_exists(name: &str) -> bool {
    netns_path(name).map(|p| p.exists()).unwrap_or(false)
}

/// Inode number of the calling thread's network namespace: two threads are
/// in the same namespace exactly when these are equal.
pub fn current_netns_id() -> Result<u64> {
    let meta = std::fs::metadata("/proc/thread-self/ns/net")
        .context("reading /proc/thread-self/ns/net")?;
    Ok(meta.ino())
}

/// Moves the calling thread into the named network namespace.
fn setns_current_thread(name: &str) -> Result<()> {
    let path = netns_path(name)?;
    let file = File::open(&path).with_context(|| {
        format!(
            "opening network namespace {} (does `ip netns list` show {name:?}?)",
            path.display()
        )
    })?;
    // SAFETY: `file` is an open descriptor that outlives the call; setns only
    // reads it and changes nothing but this thread's network namespace.
    let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
    if rc != 0 {
        return Err(io::Error::last_os_error())
            .with_context(|| format!("setns({}, CLONE_NEWNET)", path.display()));
    }
    Ok(())
}

/// Moves the *calling thread* into the named network namespace.
///
/// Only the calling thread moves: threads started before keep their
/// namespace, threads started after inherit the new one. So call this before
/// spawning any thread (e.g. first thing in `xskfwd run --netns NAME`), or
/// the process ends up split across namespaces. To run a piece of code in
/// another namespace without moving the caller, use [`in_netns`].
pub fn enter_netns(name: &str) -> Result<()> {
    setns_current_thread(name)
}

/// Runs `f` on a new thread inside the named network namespace and returns
/// its result. The calling thread's namespace does not change.
///
/// Sockets and other descriptors created by `f` keep the namespace they were
/// created in, so `f` may return them (e.g. as [`OwnedFd`]). If `f` panics
/// the panic is caught and returned as an error.
pub fn in_netns<T: Send>(name: &str, f: impl FnOnce() -> T + Send) -> Result<T> {
    validate_netns_name(name)?;
    thread::scope(|s| {
        let handle = thread::Builder::new()
            .name("xskfwd-netns".to_string())
            .spawn_scoped(s, move || -> Result<T> {
                setns_current_thread(name)?;
                Ok(f())
            })
            .context("spawning a thread to enter a network namespace")?;
        match handle.join() {
            Ok(result) => result,
            Err(panic) => {
                let msg = panic
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "non-string panic payload".to_string());
                bail!("code run in network namespace {name:?} panicked: {msg}")
            }
        }
    })
}

/// The system's page size in bytes (the largest aligned AF_XDP frame
/// without a huge-page UMEM).
pub fn page_size() -> u32 {
    // SAFETY: sysconf has no preconditions.
    let n = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    u32::try_from(n).unwrap_or(4096)
}

/// Holds an interface in promiscuous mode for as long as it lives: one
/// counted reference (`PACKET_MR_PROMISC` on a packet socket), which the
/// kernel drops when the socket closes, also when the process dies. So
/// it never leaves an interface promiscuous behind, and it leaves alone
/// promiscuity that someone else asked for. The socket has protocol 0:
/// it receives nothing.
#[derive(Debug)]
pub struct Promiscuous {
    _sock: OwnedFd,
}

/// Puts interface `ifindex` in promiscuous mode until the guard is
/// dropped (needs `CAP_NET_RAW`).
pub fn promiscuous(ifindex: u32) -> Result<Promiscuous> {
    // SAFETY: plain socket(2); the result is checked before use.
    let fd = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error()).context("a packet socket for promiscuous mode");
    }
    // SAFETY: `fd` was just returned by socket(2) and is owned by nothing
    // else.
    let sock = unsafe { OwnedFd::from_raw_fd(fd) };
    let mreq = libc::packet_mreq {
        mr_ifindex: ifindex as libc::c_int,
        mr_type: libc::PACKET_MR_PROMISC as libc::c_ushort,
        mr_alen: 0,
        mr_address: [0; 8],
    };
    // SAFETY: setsockopt reads `size_of::<packet_mreq>()` bytes from
    // `mreq`, which lives across the call.
    let rc = unsafe {
        libc::setsockopt(
            sock.as_raw_fd(),
            libc::SOL_PACKET,
            libc::PACKET_ADD_MEMBERSHIP,
            (&mreq as *const libc::packet_mreq).cast(),
            std::mem::size_of::<libc::packet_mreq>() as libc::socklen_t,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error())
            .with_context(|| format!("promiscuous mode on ifindex {ifindex}"));
    }
    Ok(Promiscuous { _sock: sock })
}

/// Index of an interface in the calling thread's namespace.
pub fn ifindex(name: &str) -> Result<u32> {
    validate_ifname(name)?;
    let c = CString::new(name).context("interface name contains NUL")?;
    // SAFETY: `c` is a valid NUL-terminated string that outlives the call;
    // if_nametoindex only reads it.
    let idx = unsafe { libc::if_nametoindex(c.as_ptr()) };
    if idx == 0 {
        return Err(io::Error::last_os_error()).with_context(|| {
            format!("no interface named {name:?} in this network namespace (if_nametoindex)")
        });
    }
    Ok(idx)
}

/// A datagram socket used only as a handle for interface ioctls; it lives in
/// the calling thread's network namespace.
fn ioctl_socket() -> Result<OwnedFd> {
    // SAFETY: plain socket(2) call with constant arguments; no pointers.
    let fd = unsafe { libc::socket(libc::AF_UNIX, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error()).context("socket(AF_UNIX, SOCK_DGRAM) for ioctls");
    }
    // SAFETY: `fd` was just returned by socket(2), is valid and owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// A zeroed `ifreq` carrying `name`.
fn ifreq_for(name: &str) -> Result<libc::ifreq> {
    validate_ifname(name)?;
    // SAFETY: `ifreq` is plain C data (a char array and a union of integers,
    // sockaddrs and a raw pointer); all-zero bytes are a valid value of each.
    let mut ifr: libc::ifreq = unsafe { std::mem::zeroed() };
    // validate_ifname guarantees name.len() <= IFNAME_MAX < IFNAMSIZ, so the last byte stays NUL.
    for (dst, src) in ifr.ifr_name.iter_mut().zip(name.bytes()) {
        *dst = src as libc::c_char;
    }
    Ok(ifr)
}

/// Issues an interface ioctl on a fresh socket of the calling thread's namespace.
fn ifreq_ioctl(name: &str, request: libc::Ioctl, ifr: &mut libc::ifreq, call: &str) -> Result<()> {
    let sock = ioctl_socket()?;
    // SAFETY: `ifr` is a valid, exclusively borrowed `ifreq` for the whole
    // call, which is what these SIOC* requests read and write; for
    // SIOCETHTOOL the caller points `ifru_data` at a live, correctly sized
    // ethtool struct.
    let rc = unsafe { libc::ioctl(sock.as_raw_fd(), request, ifr as *mut libc::ifreq) };
    if rc < 0 {
        return Err(io::Error::last_os_error())
            .with_context(|| format!("ioctl({call}) on interface {name:?}"));
    }
    Ok(())
}

/// MAC address of an Ethernet interface in the calling thread's namespace
/// (`SIOCGIFHWADDR`). Non-Ethernet interfaces (e.g. `lo`) are an error.
pub fn mac_of(ifname: &str) -> Result<[u8; 6]> {
    let mut ifr = ifreq_for(ifname)?;
    ifreq_ioctl(ifname, libc::SIOCGIFHWADDR, &mut ifr, "SIOCGIFHWADDR")?;
    // SAFETY: SIOCGIFHWADDR succeeded, so the kernel filled `ifru_hwaddr`.
    let hw = unsafe { ifr.ifr_ifru.ifru_hwaddr };
    if hw.sa_family != libc::ARPHRD_ETHER {
        bail!(
            "interface {ifname:?} is not Ethernet (hardware type {})",
            hw.sa_family
        );
    }
    let mut mac = [0u8; 6];
    for (dst, src) in mac.iter_mut().zip(hw.sa_data.iter()) {
        *dst = *src as u8;
    }
    Ok(mac)
}

/// Whether an interface in the calling thread's namespace is up and has
/// carrier, i.e. the kernel reports `IFF_RUNNING` (`SIOCGIFFLAGS`).
pub fn is_running(ifname: &str) -> Result<bool> {
    let mut ifr = ifreq_for(ifname)?;
    ifreq_ioctl(ifname, libc::SIOCGIFFLAGS, &mut ifr, "SIOCGIFFLAGS")?;
    // SAFETY: SIOCGIFFLAGS succeeded, so the kernel filled `ifru_flags`.
    let flags = unsafe { ifr.ifr_ifru.ifru_flags };
    let want = (libc::IFF_UP | libc::IFF_RUNNING) as libc::c_short;
    Ok(flags & want == want)
}

/// MTU of an interface in the calling thread's namespace (`SIOCGIFMTU`).
pub fn mtu_of(ifname: &str) -> Result<u32> {
    let mut ifr = ifreq_for(ifname)?;
    ifreq_ioctl(ifname, libc::SIOCGIFMTU, &mut ifr, "SIOCGIFMTU")?;
    // SAFETY: SIOCGIFMTU succeeded, so the kernel filled `ifru_mtu`.
    let mtu = unsafe { ifr.ifr_ifru.ifru_mtu };
    u32::try_from(mtu).with_context(|| format!("interface {ifname:?} reports MTU {mtu}"))
}

/// Channel counts of an interface (`ETHTOOL_GCHANNELS`).
fn ethtool_channels(ifname: &str) -> Result<EthtoolChannels> {
    let mut ch = EthtoolChannels {
        cmd: ETHTOOL_GCHANNELS,
        ..Default::default()
    };
    let mut ifr = ifreq_for(ifname)?;
    ifr.ifr_ifru.ifru_data = (&mut ch as *mut EthtoolChannels).cast::<libc::c_char>();
    ifreq_ioctl(
        ifname,
        libc::SIOCETHTOOL,
        &mut ifr,
        "SIOCETHTOOL ETHTOOL_GCHANNELS",
    )?;
    Ok(ch)
}

/// Number of receive queues in use on an interface in the calling thread's
/// namespace (AF_XDP queue ids are `0..n`).
///
/// Asks `ETHTOOL_GCHANNELS` (rx-only + combined channels). If the driver
/// does not implement it, falls back to counting `/sys/class/net/IF/queues/rx-*`,
/// but only after checking that `/sys` shows this very interface (same
/// ifindex and MAC), because `/sys` belongs to the namespace of whoever
/// mounted it; otherwise it returns an error rather than a guess.
pub fn num_rx_queues(ifname: &str) -> Result<u32> {
    let ethtool_err = match ethtool_channels(ifname) {
        Ok(ch) => {
            let n = ch.rx_count.saturating_add(ch.combined_count);
            if n > 0 {
                return Ok(n);
            }
            anyhow::anyhow!("ETHTOOL_GCHANNELS reports no rx or combined channels")
        }
        Err(e) => e,
    };
    rx_queues_from_sysfs(ifname).with_context(|| {
        format!("cannot tell the rx queue count of {ifname:?}: ethtool: {ethtool_err:#}")
    })
}

/// `/sys` fallback of [`num_rx_queues`]; refuses when `/sys` shows another
/// namespace's interface of the same name.
fn rx_queues_from_sysfs(ifname: &str) -> Result<u32> {
    let base = PathBuf::from("/sys/class/net").join(ifname);
    let idx_text = std::fs::read_to_string(base.join("ifindex"))
        .with_context(|| format!("reading {}", base.join("ifindex").display()))?;
    let sys_idx: u32 = idx_text
        .trim()
        .parse()
        .with_context(|| format!("parsing {}", base.join("ifindex").display()))?;
    if sys_idx != ifindex(ifname)? {
        bail!("/sys shows a different network namespace");
    }
    if let Ok(mac) = mac_of(ifname) {
        let sys_mac = std::fs::read_to_string(base.join("address")).unwrap_or_default();
        if sys_mac.trim() != Mac(mac).to_string() {
            bail!("/sys shows a different network namespace");
        }
    }
    let dir = base.join("queues");
    let mut n = 0u32;
    for entry in std::fs::read_dir(&dir).with_context(|| format!("listing {}", dir.display()))? {
        let entry = entry.with_context(|| format!("listing {}", dir.display()))?;
        if entry.file_name().to_string_lossy().starts_with("rx-") {
            n += 1;
        }
    }
    if n == 0 {
        bail!("{} lists no rx queues", dir.display());
    }
    Ok(n)
}

/// The effective rp_filter of `ifname` (the larger of `all` and the
/// interface's own, as the kernel takes it, at most 2); 0 if unreadable.
pub fn rp_filter(ifname: &str) -> u32 {
    read_rp_filter(ifname).unwrap_or(0)
}

/// [`rp_filter`], or `None` if either sysctl cannot be read.
pub fn read_rp_filter(ifname: &str) -> Option<u32> {
    let read = |name: &str| {
        std::fs::read_to_string(format!("/proc/sys/net/ipv4/conf/{name}/rp_filter"))
            .ok()?
            .trim()
            .parse::<u32>()
            .ok()
    };
    Some(read("all")?.max(read(ifname)?).min(2))
}

/// A name prefix unique to this process and call: `xf-<tag>-<pid>-<n>`,
/// with the tag reduced to at most 12 of `[a-z0-9]`. Skips prefixes that
/// any existing namespace already starts with (e.g. left by a crashed
/// process that had the same pid), so `PREFIX-anything` names are free.
pub fn unique_prefix(tag: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let tag: String = tag
        .chars()
        .filter_map(|c| {
            let c = c.to_ascii_lowercase();
            c.is_ascii_alphanumeric().then_some(c)
        })
        .take(12)
        .collect();
    let tag = if tag.is_empty() {
        "lab".to_string()
    } else {
        tag
    };
    let pid = std::process::id();
    let existing: Vec<String> = std::fs::read_dir(NETNS_DIR)
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    let mut prefix = String::new();
    for _ in 0..1000 {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        prefix = format!("xf-{tag}-{pid}-{n}");
        let taken = existing
            .iter()
            .any(|e| e == &prefix || e.starts_with(&format!("{prefix}-")));
        if !taken {
            break;
        }
    }
    prefix
}

/// Serialises `ip netns add/del` within this process: the first `ip netns
/// add` on a host sets up the `/var/run/netns` mount, and concurrent first
/// calls race on it.
pub fn admin_lock() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    #[test]
    fn names_are_validated() {
        assert!(validate_netns_name("xf-a-1-0-src").is_ok());
        for bad in ["", ".", "..", "a/b", "a\0b", &"x".repeat(201)] {
            assert!(validate_netns_name(bad).is_err(), "{bad:?}");
        }
        assert!(validate_ifname("dut0").is_ok());
        assert!(validate_ifname("123456789012345").is_ok());
        for bad in ["", "1234567890123456", "a b", "a/b", "a:b", "."] {
            assert!(validate_ifname(bad).is_err(), "{bad:?}");
        }
        assert!(in_netns("../etc", || ()).is_err());
        assert!(mac_of("no such if").is_err());
    }

    #[test]
    fn missing_things_are_errors_not_panics() {
        let err = in_netns("xf-no-such-netns-ever", || ()).unwrap_err();
        assert!(format!("{err:#}").contains("xf-no-such-netns-ever"));
        let err = ifindex("xfnosuchif0").unwrap_err();
        assert!(format!("{err:#}").contains("xfnosuchif0"));
        assert!(mtu_of("xfnosuchif0").is_err());
        assert!(num_rx_queues("xfnosuchif0").is_err());
    }

    /// Deletes a namespace made by the test, even when an assertion fails.
    struct NsGuard(String);
    impl Drop for NsGuard {
        fn drop(&mut self) {
            let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
        }
    }

    fn ip(args: &[&str]) -> String {
        let out = Command::new("ip").args(args).output().expect("running ip");
        assert!(
            out.status.success(),
            "ip {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    #[test]
    fn queries_answer_for_the_namespace_entered() {
        if !crate::privileges::is_root() {
            eprintln!("skipped: needs root");
            return;
        }
        let ns = format!("{}-ns", unique_prefix("nstest"));
        let _lock = admin_lock();
        ip(&["netns", "add", &ns]);
        let _guard = NsGuard(ns.clone());
        drop(_lock);
        ip(&[
            "-n",
            &ns,
            "link",
            "add",
            "xa0",
            "numtxqueues",
            "3",
            "numrxqueues",
            "3",
            "mtu",
            "1400",
            "type",
            "veth",
            "peer",
            "name",
            "xb0",
            "numtxqueues",
            "3",
            "numrxqueues",
            "3",
        ]);
        let shown = ip(&["-n", &ns, "-o", "link", "show", "xa0"]);

        let here = current_netns_id().unwrap();
        let (there, idx, mac, mtu, queues, lo_mac, running) = in_netns(&ns, || {
            (
                current_netns_id().unwrap(),
                ifindex("xa0").unwrap(),
                mac_of("xa0").unwrap(),
                mtu_of("xa0").unwrap(),
                num_rx_queues("xa0").unwrap(),
                mac_of("lo").is_err(),
                is_running("xa0").unwrap(),
            )
        })
        .unwrap();
        assert!(!running, "xa0 is down");
        assert_ne!(here, there);
        assert_eq!(current_netns_id().unwrap(), here, "caller must not move");
        assert!(shown.starts_with(&format!("{idx}: xa0@")), "{shown}");
        assert!(shown.contains(&Mac(mac).to_string()), "{shown}");
        assert_eq!(mtu, 1400);
        assert_eq!(queues, 3);
        assert!(lo_mac, "lo is not Ethernet");
        // The root namespace has no xa0 (unique to the test namespace).
        assert!(ifindex("xa0").is_err());

        // A socket made inside stays there after the thread ended.
        let fd = in_netns(&ns, ioctl_socket).unwrap().unwrap();
        drop(fd);

        // enter_netns moves the calling thread only.
        let ns2 = ns.clone();
        let entered = thread::spawn(move || {
            enter_netns(&ns2).unwrap();
            current_netns_id().unwrap()
        })
        .join()
        .unwrap();
        assert_eq!(entered, there);
        assert_eq!(current_netns_id().unwrap(), here);

        // A panic inside becomes an error.
        let err = in_netns(&ns, || panic!("boom")).unwrap_err();
        assert!(format!("{err:#}").contains("boom"));
    }
}
