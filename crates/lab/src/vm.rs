//! The zero-copy VM lab: xskfwd in AF_XDP zero-copy mode, inside a guest
//! kernel under QEMU (TCG) whose virtio-net driver supports it (Linux ≥
//! 6.13), between the lab's src and dst namespaces on this machine.
//!
//! ```text
//!  PREFIX-src ns          QEMU guest (initramfs: busybox + xskfwd)         PREFIX-dst ns
//!  vt0 (tap) ── fd ──▶ eth0 virtio-net ⇄ xskfwd --bind zero-copy ⇄ eth1 virtio-net ◀── fd ── vt1 (tap)
//! ```
//!
//! - **Guest kernel**: a Debian cloud kernel from trixie-backports, pinned
//!   by version and sha256 ([`PIN`]), fetched once with `apt-get download`
//!   into a cache (nothing is installed on the host) and unpacked: the
//!   kernel image and the three modules virtio-net needs.
//! - **Guest**: an initramfs of busybox-static, the `xskfwd` binary with
//!   the shared libraries `ldd` names, those modules and an `/init` that
//!   takes commands from the serial console ([`Vm::sh`], [`Vm::start`],
//!   [`Vm::stop`]). The console is QEMU's stdio; nothing else connects
//!   host and guest.
//! - **Wiring**: each tap device is created *inside* its namespace (a
//!   thread enters it, opens `/dev/net/tun`), and its file descriptor is
//!   handed to QEMU (`-netdev tap,fd=N`). Nothing in the root namespace.
//!   Every NIC has `iommu_platform=on,disable-legacy=on`, without which
//!   virtio-net refuses a zero-copy bind. With `queues > 1` the taps are
//!   multi-queue (one fd per queue) and the NICs `mq=on`: the tap spreads
//!   flows over the queues by their hash, as RSS would.
//! - **Bounded and cleaned up**: every wait has a timeout; [`Vm`]'s `Drop`
//!   powers the guest off (then kills QEMU by PID) and removes the
//!   namespaces, also when a test fails.
//!
//! TCG emulates the guest's CPU: whatever runs there is slow. Count
//! frames, never time them.

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Write};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver as LineRx, RecvTimeoutError};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};
use xskfwd::config::Mac;
use xskfwd::netns;

use crate::traffic::{self, FrameSpec, Receiver, RecvLimits, SendLimits, Sender};

/// The guest kernel: Debian's cloud kernel from trixie-backports, the
/// newest the mirror had when this was written (virtio-net advertises
/// AF_XDP zero-copy from 6.13 on).
pub const PIN: KernelPin = KernelPin {
    version: "7.3.4+deb13-cloud-amd64",
    package_version: "7.3.4-1~bpo13+1",
    suite: "trixie-backports",
    binary_sha256: "c4fbc8e404958693b28825474c20742d70594d65ca58aea7be6a279c81eb6fa0",
    modules_sha256: "359f04c363b7d3c5f9ce999ccb7351e00cc8eec0a30d6bc1cda37734987fc43d",
};

/// A guest kernel, by Debian package version and the sha256 of its two
/// packages (`linux-binary-V`: the image, `linux-modules-V`).
#[derive(Debug, Clone, Copy)]
pub struct KernelPin {
    /// Kernel release (`uname -r`).
    pub version: &'static str,
    /// Debian package version.
    pub package_version: &'static str,
    /// Debian suite that has it.
    pub suite: &'static str,
    /// sha256 of `linux-binary-VERSION_PACKAGEVERSION_amd64.deb`.
    pub binary_sha256: &'static str,
    /// sha256 of `linux-modules-VERSION_PACKAGEVERSION_amd64.deb`.
    pub modules_sha256: &'static str,
}

/// Modules virtio-net needs, in load order (under `kernel/`).
const MODULES: [&str; 3] = [
    "net/core/failover",
    "drivers/net/net_failover",
    "drivers/net/virtio_net",
];

/// The guest kernel, unpacked.
#[derive(Debug, Clone)]
pub struct GuestKernel {
    /// Kernel release.
    pub version: String,
    /// The kernel image.
    pub vmlinuz: PathBuf,
    /// Uncompressed modules, in load order.
    pub modules: Vec<PathBuf>,
}

/// Where the kernel and images are cached: `$XSKFWD_VM_CACHE`, else
/// `/var/cache/xskfwd/vm`.
pub fn cache_dir() -> PathBuf {
    std::env::var_os("XSKFWD_VM_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/var/cache/xskfwd/vm"))
}

/// What the lab needs on the host, and what installs it.
pub fn check_host() -> Result<()> {
    for (tool, package) in [
        ("qemu-system-x86_64", "qemu-system-x86"),
        ("busybox", "busybox-static"),
        ("cpio", "cpio"),
        ("xz", "xz-utils"),
        ("dpkg-deb", "dpkg"),
        ("sha256sum", "coreutils"),
    ] {
        let found = Command::new("sh")
            .args(["-c", &format!("command -v {tool}")])
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        ensure!(
            found,
            "{tool} not found: the VM lab needs Debian's {package} (scripts/install-deps.sh installs it)"
        );
    }
    ensure!(
        Path::new("/dev/net/tun").exists(),
        "/dev/net/tun is missing: the VM lab wires QEMU with tap devices"
    );
    Ok(())
}

fn run(cmd: &mut Command, what: &str) -> Result<String> {
    let out = cmd.output().with_context(|| format!("starting {what}"))?;
    if !out.status.success() {
        bail!(
            "{what} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn sha256(path: &Path) -> Result<String> {
    let out = run(Command::new("sha256sum").arg(path), "sha256sum")?;
    Ok(out
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_string())
}

/// apt-get with a sources list and state of its own under `dir`: it
/// reads the suite's index and downloads packages, and never touches the
/// host's apt configuration or installs anything.
fn apt(dir: &Path, suite: &str) -> Result<impl Fn(&[&str]) -> Result<String>> {
    let lists = dir.join("lists");
    std::fs::create_dir_all(lists.join("partial"))?;
    std::fs::create_dir_all(dir.join("cache/archives/partial"))?;
    let sources = dir.join("sources.list");
    std::fs::write(
        &sources,
        format!(
            "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian {suite} main\n"
        ),
    )?;
    let opts: Vec<String> = vec![
        format!("-o=Dir::Etc::SourceList={}", sources.display()),
        "-o=Dir::Etc::SourceParts=-".into(),
        format!("-o=Dir::State::Lists={}", lists.display()),
        format!("-o=Dir::Cache={}", dir.join("cache").display()),
        "-o=APT::Sandbox::User=root".into(),
        "-o=Debug::NoLocking=1".into(),
        "-q".into(),
    ];
    let dir = dir.to_path_buf();
    Ok(move |args: &[&str]| {
        let (tool, rest) = args.split_first().context("an apt command")?;
        run(
            Command::new(tool)
                .args(&opts)
                .args(rest)
                .current_dir(&dir)
                .env("DEBIAN_FRONTEND", "noninteractive"),
            &format!("{tool} {}", rest.join(" ")),
        )
    })
}

/// The guest kernel of [`PIN`], fetched and unpacked into `cache` once.
/// If the mirror no longer has the pinned version (backports keeps only
/// recent ones), it says so and takes the newest ≥ 6.13 cloud kernel the
/// suite has, checked against apt's signed index instead of the pin.
pub fn guest_kernel(cache: &Path) -> Result<GuestKernel> {
    let want = PIN;
    let found = |version: &str| -> Option<GuestKernel> {
        let dir = cache.join(format!("kernel-{version}"));
        dir.join("ok").exists().then(|| GuestKernel {
            version: version.to_string(),
            vmlinuz: dir.join("vmlinuz"),
            modules: MODULES
                .iter()
                .map(|m| dir.join(format!("{}.ko", m.rsplit('/').next().unwrap_or(m))))
                .collect(),
        })
    };
    if let Some(k) = found(want.version) {
        return Ok(k);
    }
    let apt = apt(&cache.join("apt"), want.suite)?;
    apt(&["apt-get", "update"]).context("reading trixie-backports' index")?;
    let debs = cache.join("debs");
    std::fs::create_dir_all(&debs)?;
    let pinned = [
        ("linux-binary", want.binary_sha256),
        ("linux-modules", want.modules_sha256),
    ];
    let show = apt(&[
        "apt-cache",
        "show",
        &format!("linux-binary-{}={}", want.version, want.package_version),
    ]);
    let (version, package_version, check) = match show {
        Ok(_) => (
            want.version.to_string(),
            want.package_version.to_string(),
            true,
        ),
        Err(_) => {
            let (v, pv) = newest_cloud_kernel(&apt)?;
            eprintln!(
                "vm: the pinned guest kernel {} ({}) is no longer on the mirror; using the newest, {v} ({pv}), checked against apt's signed index (update PIN in crates/lab/src/vm.rs)",
                want.version, want.package_version
            );
            (v, pv, false)
        }
    };
    let unpacked = cache.join(format!("unpack-{version}"));
    let _ = std::fs::remove_dir_all(&unpacked);
    for (name, sha) in pinned {
        let package = format!("{name}-{version}");
        // apt-get download writes into the current directory.
        let dl = apt(&[
            "apt-get",
            "download",
            &format!("{package}={package_version}"),
        ]);
        dl.with_context(|| format!("downloading {package}"))?;
        let file = format!(
            "{package}_{}_amd64.deb",
            package_version.replace(':', "%3a")
        );
        let src = cache.join("apt").join(&file);
        let deb = debs.join(&file);
        std::fs::rename(&src, &deb).with_context(|| format!("moving {}", src.display()))?;
        let got = sha256(&deb)?;
        if check && got != sha {
            let _ = std::fs::remove_file(&deb);
            bail!("{file}: sha256 {got}, pinned {sha}: refusing it");
        }
        eprintln!("vm: {file} sha256 {got}");
        run(
            Command::new("dpkg-deb").arg("-x").arg(&deb).arg(&unpacked),
            "dpkg-deb -x",
        )?;
    }
    let tree = unpacked.join(format!("usr/lib/modules/{version}"));
    let dir = cache.join(format!("kernel-{version}"));
    std::fs::create_dir_all(&dir)?;
    std::fs::copy(tree.join("vmlinuz"), dir.join("vmlinuz")).context("the kernel image")?;
    for m in MODULES {
        let from = tree.join(format!("kernel/{m}.ko.xz"));
        let name = m.rsplit('/').next().unwrap_or(m);
        let out = std::fs::File::create(dir.join(format!("{name}.ko")))?;
        let st = Command::new("xz")
            .arg("-dc")
            .arg(&from)
            .stdout(out)
            .status()
            .context("xz")?;
        ensure!(st.success(), "unpacking {}", from.display());
    }
    let _ = std::fs::remove_dir_all(&unpacked);
    std::fs::write(dir.join("ok"), format!("{version} {package_version}\n"))?;
    found(&version).context("the kernel just unpacked")
}

/// The newest `linux-binary-*-cloud-amd64` ≥ 6.13 in the suite's index.
fn newest_cloud_kernel(apt: &impl Fn(&[&str]) -> Result<String>) -> Result<(String, String)> {
    let list = apt(&[
        "apt-cache",
        "search",
        "--names-only",
        "^linux-binary-.*-cloud-amd64$",
    ])?;
    let mut best: Option<((u32, u32, u32), String)> = None;
    for line in list.lines() {
        let Some(v) = line
            .split_whitespace()
            .next()
            .and_then(|p| p.strip_prefix("linux-binary-"))
        else {
            continue;
        };
        let nums: Vec<u32> = v
            .split(['.', '+', '-'])
            .take(3)
            .filter_map(|x| x.parse().ok())
            .collect();
        if let [a, b, c] = nums[..] {
            if (a, b) >= (6, 13) && best.as_ref().is_none_or(|(k, _)| (a, b, c) > *k) {
                best = Some(((a, b, c), v.to_string()));
            }
        }
    }
    let (_, version) = best.context("no cloud kernel ≥ 6.13 in trixie-backports")?;
    let show = apt(&["apt-cache", "show", &format!("linux-binary-{version}")])?;
    let pv = show
        .lines()
        .find_map(|l| l.strip_prefix("Version: "))
        .context("no Version in apt-cache show")?
        .to_string();
    Ok((version, pv))
}

/// The guest's `/init`: mounts, loads virtio-net, then takes commands
/// from the console, one per line:
/// `SH cmd` (run, print its output and `XSKVM: done RC`), `BG cmd` (start
/// in the background), `STOP` (SIGINT to it, wait, print its stdout and
/// stderr and `XSKVM: stopped RC`), `OFF` (power off).
const INIT: &str = r#"#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mount -t tmpfs tmp /tmp
mount -t tmpfs run /run
for m in $(cat /lib/modules/order); do insmod /lib/modules/$m.ko || echo "XSKVM: insmod $m failed"; done
stty -echo 2>/dev/null
ip link set lo up
echo "XSKVM: booted $(uname -r) cpus $(nproc)"
while read -r line; do
  case "$line" in
    SH\ *) sh -c "${line#SH }" > /tmp/sh.out 2>&1; rc=$?
           sed 's/^/XSKVM-OUT: /' /tmp/sh.out; echo "XSKVM: done $rc";;
    BG\ *) sh -c "exec ${line#BG }" > /tmp/bg.out 2> /tmp/bg.err &
           echo $! > /tmp/bg.pid; echo "XSKVM: started $!";;
    STOP) pid=$(cat /tmp/bg.pid); kill -INT $pid; wait $pid; rc=$?
          sed 's/^/XSKVM-OUT: /' /tmp/bg.out; sed 's/^/XSKVM-ERR: /' /tmp/bg.err
          echo "XSKVM: stopped $rc";;
    OFF) poweroff -f;;
  esac
done
poweroff -f
"#;

/// The shared libraries `ldd` lists for `bin` (and its loader).
fn shared_libs(bin: &Path) -> Result<Vec<PathBuf>> {
    let out = run(Command::new("ldd").arg(bin), "ldd")?;
    let mut libs = Vec::new();
    for line in out.lines() {
        let path = match line.split_once("=>") {
            Some((_, rest)) => rest.split_whitespace().next(),
            None => line
                .split_whitespace()
                .next()
                .filter(|p| p.starts_with('/')),
        };
        if let Some(p) = path.filter(|p| p.starts_with('/')) {
            libs.push(PathBuf::from(p));
        }
    }
    Ok(libs)
}

/// Builds the guest's initramfs at `out`: busybox-static, `xskfwd` and its
/// shared libraries, the kernel's modules and the `/init` above.
pub fn initramfs(kernel: &GuestKernel, xskfwd: &Path, out: &Path) -> Result<()> {
    let stage = out.with_extension("d");
    let _ = std::fs::remove_dir_all(&stage);
    for d in ["bin", "lib/modules", "proc", "sys", "dev", "tmp", "run"] {
        std::fs::create_dir_all(stage.join(d))?;
    }
    let busybox = run(
        Command::new("sh").args(["-c", "command -v busybox"]),
        "busybox",
    )?;
    let busybox = PathBuf::from(busybox.trim());
    let linked = run(Command::new("ldd").arg(&busybox), "ldd busybox").unwrap_or_default();
    ensure!(
        !linked.contains("=>"),
        "{} is not static: the guest needs busybox-static",
        busybox.display()
    );
    std::fs::copy(&busybox, stage.join("bin/busybox"))?;
    std::fs::copy(xskfwd, stage.join("bin/xskfwd"))
        .with_context(|| format!("copying {}", xskfwd.display()))?;
    for lib in shared_libs(xskfwd)? {
        let to = stage.join(lib.strip_prefix("/").unwrap_or(&lib));
        std::fs::create_dir_all(to.parent().unwrap_or(&stage))?;
        std::fs::copy(&lib, &to).with_context(|| format!("copying {}", lib.display()))?;
    }
    let mut order = String::new();
    for m in &kernel.modules {
        let name = m.file_name().context("a module name")?;
        std::fs::copy(m, stage.join("lib/modules").join(name))?;
        order.push_str(&format!(
            "{} ",
            name.to_string_lossy().trim_end_matches(".ko")
        ));
    }
    std::fs::write(stage.join("lib/modules/order"), order)?;
    let init = stage.join("init");
    std::fs::write(&init, INIT)?;
    run(Command::new("chmod").arg("755").arg(&init), "chmod")?;
    let script = format!(
        "cd {} && find . | cpio -o -H newc --quiet | gzip -1 > {}",
        stage.display(),
        out.display()
    );
    run(Command::new("sh").args(["-c", &script]), "cpio | gzip")?;
    let _ = std::fs::remove_dir_all(&stage);
    Ok(())
}

/// The lab's shape.
#[derive(Debug, Clone)]
pub struct VmSpec {
    /// Queue pairs per NIC (and tap queues); 1 or more.
    pub queues: u32,
    /// Guest CPUs.
    pub cpus: u32,
    /// Guest memory, MiB.
    pub memory_mb: u32,
    /// How long the guest may take to boot (it takes about 7 s here);
    /// [`boot`] tries once more after a guest that did not.
    pub boot_timeout: Duration,
    /// MTU of the taps and the guest's NICs (jumbo frames above ~3.8 KB
    /// make xskfwd use AF_XDP multi-buffer).
    pub mtu: u32,
}

impl Default for VmSpec {
    fn default() -> Self {
        VmSpec {
            queues: 1,
            cpus: 1,
            memory_mb: 512,
            boot_timeout: Duration::from_secs(60),
            mtu: 1500,
        }
    }
}

/// One side of the wire: a tap in its namespace, and the guest NIC behind.
#[derive(Debug, Clone)]
pub struct Side {
    /// Namespace.
    pub ns: String,
    /// The tap's name there.
    pub tap: String,
    /// The tap's MAC.
    pub tap_mac: [u8; 6],
    /// The guest NIC's name (`eth0`, `eth1`) and MAC.
    pub nic: String,
    /// The guest NIC's MAC.
    pub nic_mac: [u8; 6],
    /// The tap's IPv4 address (for L3) and the guest's on that link.
    pub ip: std::net::Ipv4Addr,
    /// The guest NIC's IPv4 address.
    pub gw: std::net::Ipv4Addr,
    /// An address in one subnet shared by both taps (for L2).
    pub l2_ip: std::net::Ipv4Addr,
}

/// A running VM lab (see the module docs); torn down on drop.
#[derive(Debug)]
pub struct Vm {
    /// The src side (eth0).
    pub src: Side,
    /// The dst side (eth1).
    pub dst: Side,
    /// The spec it runs with.
    pub spec: VmSpec,
    /// What the guest printed at boot (`uname -r`, CPUs).
    pub banner: String,
    qemu: Option<Child>,
    stdin: Option<ChildStdin>,
    lines: LineRx<String>,
    namespaces: Vec<String>,
}

const TUNSETIFF: libc::c_ulong = 0x4004_54ca;
const IFF_TAP: libc::c_short = 0x0002;
const IFF_NO_PI: libc::c_short = 0x1000;
const IFF_MULTI_QUEUE: libc::c_short = 0x0100;

/// Opens queue file descriptors of tap `name` (created by the first) in
/// the calling thread's namespace.
fn open_tap(name: &str, queues: u32) -> Result<Vec<OwnedFd>> {
    let mut fds = Vec::new();
    for _ in 0..queues {
        let f = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open("/dev/net/tun")
            .context("opening /dev/net/tun")?;
        let fd = OwnedFd::from(f);
        let mut ifr = [0u8; 40];
        let bytes = name.as_bytes();
        ensure!(bytes.len() < 16, "tap name {name} too long");
        ifr[..bytes.len()].copy_from_slice(bytes);
        let mut flags = IFF_TAP | IFF_NO_PI;
        if queues > 1 {
            flags |= IFF_MULTI_QUEUE;
        }
        ifr[16..18].copy_from_slice(&flags.to_ne_bytes());
        // SAFETY: TUNSETIFF reads a struct ifreq (name, then flags) from
        // the 40 valid bytes `ifr` points to; `fd` is an open /dev/net/tun.
        let rc = unsafe { libc::ioctl(fd.as_raw_fd(), TUNSETIFF, ifr.as_ptr()) };
        if rc != 0 {
            return Err(std::io::Error::last_os_error())
                .with_context(|| format!("TUNSETIFF {name}"));
        }
        fds.push(fd);
    }
    Ok(fds)
}

fn ip(ns: &str, args: &[&str]) -> Result<()> {
    run(
        Command::new("ip").arg("-n").arg(ns).args(args),
        &format!("ip -n {ns} {}", args.join(" ")),
    )
    .map(|_| ())
}

impl Vm {
    /// Boots a guest with `kernel` and `initrd` wired to two new namespaces
    /// (`TAG…-src`, `TAG…-dst`, unique names), waiting (bounded) until its
    /// init takes commands.
    pub fn up(tag: &str, spec: VmSpec, kernel: &GuestKernel, initrd: &Path) -> Result<Vm> {
        let prefix = netns::unique_prefix(tag);
        let side = |i: u8, name: &str| Side {
            ns: format!("{prefix}-{name}"),
            tap: format!("vt{i}"),
            tap_mac: [0x02, 0x58, 0x56, 0x4d, 0x00, 0x10 + i],
            nic: format!("eth{i}"),
            nic_mac: [0x52, 0x54, 0x00, 0x4d, 0x00, 0x20 + i],
            ip: std::net::Ipv4Addr::new(198, 18, i, 1),
            gw: std::net::Ipv4Addr::new(198, 18, i, 254),
            l2_ip: std::net::Ipv4Addr::new(198, 18, 2, 1 + i),
        };
        let (lines_tx, lines) = mpsc::channel();
        let mut vm = Vm {
            src: side(0, "src"),
            dst: side(1, "dst"),
            spec: spec.clone(),
            banner: String::new(),
            qemu: None,
            stdin: None,
            lines,
            namespaces: Vec::new(),
        };
        let mut fds: Vec<OwnedFd> = Vec::new();
        for s in [vm.src.clone(), vm.dst.clone()] {
            run(
                Command::new("ip").args(["netns", "add", &s.ns]),
                "ip netns add",
            )?;
            vm.namespaces.push(s.ns.clone());
            let tap = s.tap.clone();
            let q = spec.queues;
            fds.extend(netns::in_netns(&s.ns, move || open_tap(&tap, q))??);
            let mac = Mac(s.tap_mac).to_string();
            ip(&s.ns, &["link", "set", "lo", "up"])?;
            ip(&s.ns, &["link", "set", &s.tap, "address", &mac, "up"])?;
            if spec.mtu != 1500 {
                ip(
                    &s.ns,
                    &["link", "set", &s.tap, "mtu", &spec.mtu.to_string()],
                )?;
            }
            ip(
                &s.ns,
                &["addr", "add", &format!("{}/24", s.ip), "dev", &s.tap],
            )?;
            ip(
                &s.ns,
                &["addr", "add", &format!("{}/24", s.l2_ip), "dev", &s.tap],
            )?;
            ip(
                &s.ns,
                &["route", "add", "198.18.0.0/15", "via", &s.gw.to_string()],
            )?;
            // Full checksums on what the namespace sends (a tap would
            // otherwise pass partial ones to the guest).
            let _ = Command::new("ip")
                .args(["netns", "exec", &s.ns, "ethtool", "-K", &s.tap, "tx", "off"])
                .output();
        }
        // QEMU gets the taps' fds as 3, 4, …: src's queues, then dst's.
        let n = spec.queues as usize;
        let fd_list = |first: usize| {
            (first..first + n)
                .map(|i| (3 + i).to_string())
                .collect::<Vec<_>>()
                .join(":")
        };
        let mut cmd = Command::new("qemu-system-x86_64");
        cmd.args([
            "-accel",
            "tcg",
            "-nographic",
            "-no-reboot",
            "-monitor",
            "none",
        ])
        .args(["-m", &spec.memory_mb.to_string()])
        .args(["-smp", &spec.cpus.to_string()])
        .arg("-kernel")
        .arg(&kernel.vmlinuz)
        .arg("-initrd")
        .arg(initrd)
        .args(["-append", "console=ttyS0 quiet panic=-1"]);
        for (i, s) in [&vm.src, &vm.dst].into_iter().enumerate() {
            let fds_arg = if n == 1 {
                format!("fd={}", 3 + i)
            } else {
                format!("fds={}", fd_list(i * n))
            };
            cmd.arg("-netdev")
                .arg(format!("tap,id=n{i},{fds_arg},vhost=off"));
            let mq = if n > 1 {
                format!(",mq=on,vectors={}", 2 * n + 2)
            } else {
                String::new()
            };
            cmd.arg("-device").arg(format!(
                "virtio-net-pci,netdev=n{i},mac={},iommu_platform=on,disable-legacy=on,romfile={mq}",
                Mac(s.nic_mac)
            ));
        }
        ensure!(fds.len() <= 16, "at most 8 queues per NIC");
        let mut raw: [RawFd; 16] = [-1; 16];
        for (r, fd) in raw.iter_mut().zip(&fds) {
            *r = fd.as_raw_fd();
        }
        let count = fds.len();
        // SAFETY: between fork and exec only async-signal-safe calls
        // (fcntl, dup2) on descriptors this process owns, kept open by
        // `fds` until after the spawn; no allocation.
        unsafe {
            cmd.pre_exec(move || {
                // First out of the way (close-on-exec copies above 100),
                // then into 3, 4, …: a source never gets overwritten by an
                // earlier target. dup2's copies stay open across exec.
                let mut high: [RawFd; 16] = [-1; 16];
                for i in 0..count {
                    high[i] = libc::fcntl(raw[i], libc::F_DUPFD_CLOEXEC, 100);
                    if high[i] < 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                }
                for (i, &fd) in high.iter().enumerate().take(count) {
                    if libc::dup2(fd, 3 + i as RawFd) < 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                }
                Ok(())
            });
        }
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .context("starting qemu-system-x86_64 (scripts/install-deps.sh installs it)")?;
        drop(fds);
        vm.stdin = child.stdin.take();
        if let Some(out) = child.stdout.take() {
            let tx = lines_tx.clone();
            thread::spawn(move || {
                for line in BufReader::new(out).lines() {
                    let Ok(line) = line else { break };
                    if tx.send(line).is_err() {
                        break;
                    }
                }
            });
        }
        if let Some(err) = child.stderr.take() {
            thread::spawn(move || {
                for line in BufReader::new(err).lines().map_while(Result::ok) {
                    let _ = lines_tx.send(format!("QEMU: {line}"));
                }
            });
        }
        vm.qemu = Some(child);
        let got = vm
            .expect("XSKVM: booted", spec.boot_timeout)
            .context(BootHung)?;
        vm.banner = got
            .last()
            .and_then(|l| l.split_once("XSKVM: booted "))
            .map(|(_, b)| b.to_string())
            .unwrap_or_default();
        Ok(vm)
    }

    /// Lines up to and including the first containing `tag`.
    fn expect(&mut self, tag: &str, timeout: Duration) -> Result<Vec<String>> {
        let deadline = Instant::now() + timeout;
        let mut got = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    let line = line.trim_end_matches('\r').to_string();
                    let hit = line.contains(tag);
                    got.push(line);
                    if hit {
                        return Ok(got);
                    }
                }
                Err(RecvTimeoutError::Timeout) => bail!(
                    "the guest did not say `{tag}` within {timeout:?}; last lines:\n{}",
                    tail(&got)
                ),
                Err(RecvTimeoutError::Disconnected) => bail!(
                    "QEMU exited before the guest said `{tag}`; last lines:\n{}",
                    tail(&got)
                ),
            }
        }
    }

    fn send(&mut self, line: &str) -> Result<()> {
        let stdin = self.stdin.as_mut().context("the console is closed")?;
        stdin.write_all(format!("{line}\n").as_bytes())?;
        stdin.flush()?;
        Ok(())
    }

    /// Runs `cmd` in the guest; returns its exit status and output.
    pub fn sh(&mut self, cmd: &str, timeout: Duration) -> Result<(i32, String)> {
        ensure!(!cmd.contains('\n'), "one line per command");
        self.send(&format!("SH {cmd}"))?;
        let got = self.expect("XSKVM: done ", timeout)?;
        let rc = got
            .last()
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|r| r.parse().ok())
            .unwrap_or(-1);
        Ok((rc, outputs(&got, "XSKVM-OUT: ")))
    }

    /// [`Vm::sh`] that must succeed.
    pub fn sh_ok(&mut self, cmd: &str, timeout: Duration) -> Result<String> {
        let (rc, out) = self.sh(cmd, timeout)?;
        ensure!(rc == 0, "in the guest, `{cmd}` failed ({rc}): {out}");
        Ok(out)
    }

    /// Starts `cmd` in the guest's background (one at a time).
    pub fn start(&mut self, cmd: &str) -> Result<()> {
        self.send(&format!("BG {cmd}"))?;
        self.expect("XSKVM: started", Duration::from_secs(30))?;
        Ok(())
    }

    /// Stops the background command with SIGINT; returns its exit status,
    /// stdout and stderr.
    pub fn stop(&mut self, timeout: Duration) -> Result<(i32, String, String)> {
        self.send("STOP")?;
        let got = self.expect("XSKVM: stopped ", timeout)?;
        let rc = got
            .last()
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|r| r.parse().ok())
            .unwrap_or(-1);
        Ok((
            rc,
            outputs(&got, "XSKVM-OUT: "),
            outputs(&got, "XSKVM-ERR: "),
        ))
    }

    /// Waits (bounded) until a background xskfwd logged that it forwards;
    /// returns that line.
    pub fn wait_forwarding(&mut self, timeout: Duration) -> Result<String> {
        let deadline = Instant::now() + timeout;
        loop {
            let (rc, out) = self.sh(
                "grep 'xskfwd: forwarding' /tmp/bg.err",
                Duration::from_secs(30),
            )?;
            if rc == 0 {
                return Ok(out.trim().to_string());
            }
            let (_, err) = self.sh(
                "cat /tmp/bg.err; kill -0 $(cat /tmp/bg.pid)",
                Duration::from_secs(30),
            )?;
            if err.contains("error:") || err.contains("No such process") {
                bail!("xskfwd did not start in the guest:\n{err}");
            }
            ensure!(
                Instant::now() < deadline,
                "xskfwd did not start forwarding in the guest within {timeout:?}:\n{err}"
            );
            thread::sleep(Duration::from_millis(500));
        }
    }
}

fn outputs(lines: &[String], prefix: &str) -> String {
    let mut s = String::new();
    for l in lines {
        if let Some((_, rest)) = l.split_once(prefix) {
            s.push_str(rest);
            s.push('\n');
        }
    }
    s
}

fn tail(lines: &[String]) -> String {
    lines[lines.len().saturating_sub(15)..].join("\n")
}

impl Vm {
    /// Sets the MTU of both taps; the next [`guest_run`] gives the
    /// guest's NICs the same and [`cross`] sends frames up to it.
    pub fn set_mtu(&mut self, mtu: u32) -> Result<()> {
        ensure!((1280..=9216).contains(&mtu), "MTU {mtu} out of 1280..=9216");
        for s in [&self.src, &self.dst] {
            ip(&s.ns, &["link", "set", &s.tap, "mtu", &mtu.to_string()])?;
        }
        self.spec.mtu = mtu;
        Ok(())
    }

    /// QEMU's process id (while it runs).
    pub fn qemu_pid(&self) -> Option<u32> {
        self.qemu.as_ref().map(Child::id)
    }

    /// The namespaces it created.
    pub fn namespaces(&self) -> &[String] {
        &self.namespaces
    }
}

impl Drop for Vm {
    fn drop(&mut self) {
        if let Some(mut q) = self.qemu.take() {
            let _ = self.send("OFF");
            let deadline = Instant::now() + Duration::from_secs(15);
            loop {
                match q.try_wait() {
                    Ok(Some(_)) => break,
                    Ok(None) if Instant::now() < deadline => {
                        thread::sleep(Duration::from_millis(50))
                    }
                    _ => {
                        let _ = q.kill();
                        let _ = q.wait();
                        break;
                    }
                }
            }
        }
        for ns in self.namespaces.drain(..) {
            let _ = Command::new("ip").args(["netns", "del", &ns]).output();
        }
    }
}

/// What one traffic check through the guest saw.
#[derive(Debug, Clone, Default)]
pub struct Crossing {
    /// Frames sent each way.
    pub sent: u64,
    /// Frames received src → dst, byte-exact, each once.
    pub to_dst: u64,
    /// Frames received dst → src, byte-exact, each once.
    pub to_src: u64,
}

/// How frames leave the guest: L2 (next-hop MAC rewrite only) or L3
/// (routed: MACs, TTL − 1, checksum).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Forwarding {
    /// L2 cross-connect with next hops.
    L2,
    /// L3 router.
    L3,
}

/// What `frame`, sent from `from` towards `to`, must look like on `to`'s
/// tap after the guest forwarded it.
fn expected(frame: &[u8], to: &Side, mode: Forwarding) -> Vec<u8> {
    let mut f = frame.to_vec();
    f[0..6].copy_from_slice(&to.tap_mac);
    f[6..12].copy_from_slice(&to.nic_mac);
    if mode == Forwarding::L3 {
        // IPv4: TTL − 1 and the header checksum again.
        f[22] -= 1;
        f[24] = 0;
        f[25] = 0;
        let sum = xskfwd_core::wire::checksum::checksum(&f[14..34]);
        f[24..26].copy_from_slice(&sum.to_be_bytes());
    }
    f
}

/// Sends `n` UDP frames of mixed sizes (60–1514 bytes) each way through
/// the guest, at `rate` per second, `flows` UDP source ports, and checks
/// every received frame byte for byte against what forwarding `mode` must
/// make of it. Bounded by count and time.
pub fn cross(vm: &Vm, mode: Forwarding, n: u64, rate: u64, flows: u16) -> Result<Crossing> {
    let mut report = Crossing {
        sent: n,
        ..Crossing::default()
    };
    for (from, to) in [(&vm.src, &vm.dst), (&vm.dst, &vm.src)] {
        let (src_ip, dst_ip) = match mode {
            Forwarding::L2 => (from.l2_ip, to.l2_ip),
            Forwarding::L3 => (from.ip, to.ip),
        };
        let mut frames = Vec::new();
        // Mixed sizes up to the largest frame of the MTU.
        let max = vm.spec.mtu as usize + 14;
        for seq in 0..n {
            let len = 60 + (seq as usize * 97) % (max - 60 + 1);
            let mut spec = FrameSpec::udp(
                from.tap_mac,
                from.nic_mac,
                src_ip.into(),
                dst_ip.into(),
                len,
            );
            spec.src_port = 49152 + (seq % u64::from(flows.max(1))) as u16;
            frames.push(traffic::build_frame(&spec, seq)?);
        }
        let rx = Receiver::new(&to.ns, &to.tap)?;
        let tx = Sender::new(&from.ns, &from.tap)?;
        let want = n as usize;
        let collector = thread::spawn(move || {
            rx.recv_ours(
                RecvLimits::new(want, Duration::from_secs(120)).idle(Duration::from_secs(5)),
            )
        });
        let sent = tx.send(
            &frames,
            SendLimits::new(n, Duration::from_secs(120)).rate(rate),
        )?;
        ensure!(sent.sent == n, "sent {} of {n} frames in time", sent.sent);
        let got = collector
            .join()
            .map_err(|_| anyhow::anyhow!("receiver panicked"))??;
        let mut seen = HashSet::new();
        for f in &got.frames {
            let seq = traffic::verify_frame(f)?;
            ensure!(seen.insert(seq), "frame {seq} arrived twice");
            let want = expected(&frames[seq as usize], to, mode);
            ensure!(
                *f == want,
                "frame {seq} ({} bytes) differs from what {mode:?} forwarding makes of it",
                f.len()
            );
        }
        if from.ns == vm.src.ns {
            report.to_dst = seen.len() as u64;
        } else {
            report.to_src = seen.len() as u64;
        }
    }
    Ok(report)
}

/// Pings `to`'s address from `from`'s namespace through the guest.
pub fn ping(from: &Side, to: std::net::Ipv4Addr) -> bool {
    Command::new("ip")
        .args([
            "netns", "exec", &from.ns, "ping", "-c", "3", "-i", "0.3", "-W", "5",
        ])
        .arg(to.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// What one xskfwd run in the guest did.
#[derive(Debug, Clone)]
pub struct GuestRun {
    /// Forwarding mode.
    pub mode: Forwarding,
    /// The `--bind` asked for.
    pub bind_asked: String,
    /// xskfwd's `forwarding …` line (it names the bind mode it got).
    pub started: String,
    /// Whether the ping across answered.
    pub ping: bool,
    /// The traffic check.
    pub crossing: Crossing,
    /// xskfwd's exit status.
    pub exit: i32,
    /// Its closing summary (`--stats json`).
    pub summary: serde_json::Value,
    /// Its stderr.
    pub log: String,
}

impl GuestRun {
    /// The bind mode xskfwd reports it got (`zero-copy` or `copy`).
    pub fn bind(&self) -> &str {
        if self.started.contains("zero-copy bind") {
            "zero-copy"
        } else if self.started.contains("copy bind") {
            "copy"
        } else {
            "?"
        }
    }

    /// Every UMEM frame accounted for at the end.
    pub fn conserved(&self) -> bool {
        self.summary["frames"]["conserved"] == serde_json::Value::Bool(true)
    }
}

/// Runs xskfwd in the guest in `mode` with `--bind bind`, pings across,
/// sends `frames` each way at `rate` (byte-exact checks, `flows` flows),
/// stops it and reads its summary.
pub fn guest_run(
    vm: &mut Vm,
    mode: Forwarding,
    bind: &str,
    frames: u64,
    rate: u64,
    flows: u16,
) -> Result<GuestRun> {
    guest_run_with(vm, mode, bind, "", frames, rate, flows)
}

/// [`guest_run`] with more options for `xskfwd run` (`extra`, e.g.
/// `--no-need-wakeup` or small rings).
pub fn guest_run_with(
    vm: &mut Vm,
    mode: Forwarding,
    bind: &str,
    extra: &str,
    frames: u64,
    rate: u64,
    flows: u16,
) -> Result<GuestRun> {
    let t = Duration::from_secs(60);
    // Both links up (carrier) before xskfwd starts, so no early frame
    // meets a port that is still down.
    let mtu = vm.spec.mtu;
    vm.sh_ok(
        &format!("ip link set eth0 mtu {mtu} && ip link set eth1 mtu {mtu} && ip link set eth0 up && ip link set eth1 up && for i in $(seq 100); do [ $(cat /sys/class/net/eth0/carrier) = 1 ] && [ $(cat /sys/class/net/eth1/carrier) = 1 ] && exit 0; sleep 0.1; done; exit 1"),
        t,
    )?;
    let queues: Vec<String> = (0..vm.spec.queues).map(|q| q.to_string()).collect();
    let mut cmd = format!(
        "/bin/xskfwd run eth0 eth1 --bind {bind} --stats json --stats-interval 3600 --no-control-socket --queues {} {extra}",
        queues.join(",")
    );
    if vm.spec.cpus > 1 {
        let cpus: Vec<String> = (0..vm.spec.queues)
            .map(|q| (q % vm.spec.cpus).to_string())
            .collect();
        cmd.push_str(&format!(" --cpus {}", cpus.join(",")));
    }
    let ping_to = match mode {
        Forwarding::L2 => {
            vm.sh_ok(
                "ip addr flush dev eth0; ip addr flush dev eth1; echo 0 > /proc/sys/net/ipv4/ip_forward",
                t,
            )?;
            cmd.push_str(&format!(
                " --next-hop eth0={} --next-hop eth1={}",
                Mac(vm.src.tap_mac),
                Mac(vm.dst.tap_mac)
            ));
            vm.dst.l2_ip
        }
        Forwarding::L3 => {
            vm.sh_ok(
                &format!(
                    "ip addr flush dev eth0; ip addr flush dev eth1; ip addr add {}/24 dev eth0 && ip addr add {}/24 dev eth1 && echo 1 > /proc/sys/net/ipv4/ip_forward",
                    vm.src.gw, vm.dst.gw
                ),
                t,
            )?;
            cmd.push_str(" --mode l3");
            vm.dst.ip
        }
    };
    vm.start(&cmd)?;
    let started = vm.wait_forwarding(Duration::from_secs(180))?;
    let ping = ping(&vm.src.clone(), ping_to);
    let crossing = cross(vm, mode, frames, rate, flows);
    let (exit, out, log) = vm.stop(Duration::from_secs(120))?;
    let crossing = crossing?;
    let summary = out
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .rfind(|v| v["type"] == "summary")
        .with_context(|| format!("no summary from xskfwd in the guest:\n{out}\n{log}"))?;
    Ok(GuestRun {
        mode,
        bind_asked: bind.to_string(),
        started,
        ping,
        crossing,
        exit,
        summary,
        log,
    })
}

/// `xskfwd vm`
#[derive(Debug, Clone, clap::Args)]
pub struct VmArgs {
    /// What xskfwd does in the guest.
    #[arg(long, value_enum, default_value_t = VmMode::Both)]
    pub mode: VmMode,
    /// Frames each way, per mode (mixed sizes 60 B to the MTU's largest).
    #[arg(long, default_value_t = 2000)]
    pub frames: u64,
    /// MTU of the taps and the guest's NICs (1280..=9216); above ~3.8 KB
    /// xskfwd carries jumbo frames with AF_XDP multi-buffer.
    #[arg(long, default_value_t = 1500)]
    pub mtu: u32,
    /// Frames per second offered (the guest's CPU is emulated: slow).
    #[arg(long, default_value_t = 400)]
    pub rate: u64,
    /// Queue pairs per NIC; more than one gives the guest as many CPUs,
    /// multi-queue taps and flows spread over the queues.
    #[arg(long, default_value_t = 1)]
    pub queues: u32,
    /// The xskfwd binary to run in the guest (default: the one next to
    /// this program).
    #[arg(long)]
    pub xskfwd: Option<PathBuf>,
    /// Where the guest kernel and image are cached (default
    /// $XSKFWD_VM_CACHE or /var/cache/xskfwd/vm).
    #[arg(long)]
    pub cache: Option<PathBuf>,
    /// More options for `xskfwd run` in the guest (e.g. "--no-need-wakeup").
    #[arg(long, default_value = "", allow_hyphen_values = true)]
    pub xskfwd_args: String,
}

/// Modes `xskfwd vm` runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum VmMode {
    /// L2 cross-connect, `--bind zero-copy`.
    L2,
    /// L3 router, `--bind auto` (which must pick zero-copy).
    L3,
    /// Both, one after the other in the same guest.
    Both,
}

/// A guest that did not say it booted within [`VmSpec::boot_timeout`].
#[derive(Debug)]
struct BootHung;

impl std::fmt::Display for BootHung {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the guest did not boot")
    }
}

/// Everything [`guest_run`] needs, prepared: the kernel fetched, the
/// initramfs built around `xskfwd`, the guest booted.
///
/// A guest that hangs before it boots is stopped and booted once more,
/// saying so: under TCG a guest hung after "Booting from ROM..." once in
/// CI (it boots in about 7 s otherwise), before any of xskfwd ran.
pub fn boot(tag: &str, spec: VmSpec, xskfwd: &Path, cache: &Path) -> Result<Vm> {
    check_host()?;
    let kernel = guest_kernel(cache)?;
    let dir = std::env::temp_dir().join(format!("{}-initrd", netns::unique_prefix(tag)));
    std::fs::create_dir_all(&dir)?;
    let initrd = dir.join("initrd.gz");
    let built = initramfs(&kernel, xskfwd, &initrd);
    let vm = built.and_then(|()| match Vm::up(tag, spec.clone(), &kernel, &initrd) {
        Err(e) if e.downcast_ref::<BootHung>().is_some() => {
            eprintln!("vm: {e:#}");
            eprintln!("vm: booting the guest once more");
            Vm::up(tag, spec, &kernel, &initrd)
        }
        up => up,
    });
    let _ = std::fs::remove_dir_all(&dir);
    vm
}

/// `xskfwd vm`: boots the guest, runs xskfwd in zero-copy mode in it, checks
/// the traffic and prints what it saw.
pub fn run_cli(args: &VmArgs) -> Result<()> {
    let xskfwd = match &args.xskfwd {
        Some(p) => p.clone(),
        None => std::env::current_exe()?.with_file_name("xskfwd"),
    };
    ensure!(
        xskfwd.is_file(),
        "{}: no xskfwd binary there (build the workspace, or --xskfwd PATH)",
        xskfwd.display()
    );
    let cache = args.cache.clone().unwrap_or_else(cache_dir);
    let spec = VmSpec {
        queues: args.queues.max(1),
        cpus: args.queues.max(1),
        mtu: args.mtu,
        ..VmSpec::default()
    };
    anyhow::ensure!(
        (1280..=9216).contains(&args.mtu),
        "--mtu must be in 1280..=9216, got {}",
        args.mtu
    );
    let t0 = Instant::now();
    eprintln!(
        "vm: guest kernel {} (cache {})",
        PIN.version,
        cache.display()
    );
    let mut vm = boot("vm", spec, &xskfwd, &cache)?;
    eprintln!(
        "vm: booted {} in {:.1} s; src {} ({}) ── eth0 [guest] eth1 ── dst {} ({})",
        vm.banner,
        t0.elapsed().as_secs_f64(),
        vm.src.ns,
        vm.src.tap,
        vm.dst.ns,
        vm.dst.tap
    );
    // Jumbo frames need AF_XDP multi-buffer, which virtio-net supports in
    // copy mode only: zero-copy is refused (with a line saying so), so
    // both modes run with --bind auto and bind copy.
    let jumbo = args.mtu > 3822;
    let modes: &[(Forwarding, &str)] = match (args.mode, jumbo) {
        (VmMode::L2, false) => &[(Forwarding::L2, "zero-copy")],
        (VmMode::L2, true) => &[(Forwarding::L2, "auto")],
        (VmMode::L3, _) => &[(Forwarding::L3, "auto")],
        (VmMode::Both, false) => &[(Forwarding::L2, "zero-copy"), (Forwarding::L3, "auto")],
        (VmMode::Both, true) => &[(Forwarding::L2, "auto"), (Forwarding::L3, "auto")],
    };
    if jumbo {
        eprintln!(
            "vm: MTU {}: jumbo frames use AF_XDP multi-buffer, which virtio-net supports in copy mode only (--bind auto picks it)",
            args.mtu
        );
    }
    let mut ok = true;
    for &(mode, bind) in modes {
        let t = Instant::now();
        let r = guest_run_with(
            &mut vm,
            mode,
            bind,
            &args.xskfwd_args,
            args.frames,
            args.rate,
            8,
        )?;
        let good = r.bind() == if jumbo { "copy" } else { "zero-copy" }
            && r.ping
            && r.conserved()
            && r.exit == 0
            && r.crossing.to_dst == r.crossing.sent
            && r.crossing.to_src == r.crossing.sent;
        ok &= good;
        println!(
            "{:?} --bind {}: bound {}; ping {}; {} of {} frames src→dst and {} of {} dst→src byte-exact; frames conserved: {}; exit {} ({:.1} s)",
            mode,
            bind,
            r.bind(),
            if r.ping { "ok" } else { "FAILED" },
            r.crossing.to_dst,
            r.crossing.sent,
            r.crossing.to_src,
            r.crossing.sent,
            if r.conserved() { "yes" } else { "NO" },
            r.exit,
            t.elapsed().as_secs_f64()
        );
        println!("  frames: {}", r.summary["frames"]);
        for p in r.summary["ports"].as_array().into_iter().flatten() {
            let drops: Vec<String> = p["drops"]
                .as_object()
                .into_iter()
                .flatten()
                .filter(|(_, v)| v.as_u64().unwrap_or(0) > 0)
                .map(|(k, v)| format!("{k} {v}"))
                .collect();
            println!(
                "  {} queue {}: rx {} tx {}, dropped: {}",
                p["ifname"].as_str().unwrap_or("?"),
                p["queue"],
                p["rx_packets"],
                p["tx_packets"],
                if drops.is_empty() {
                    "none".to_string()
                } else {
                    drops.join(", ")
                }
            );
        }
    }
    drop(vm);
    eprintln!(
        "vm: done in {:.1} s (guest off, namespaces removed)",
        t0.elapsed().as_secs_f64()
    );
    ensure!(ok, "the zero-copy VM run did not pass: see above");
    Ok(())
}
