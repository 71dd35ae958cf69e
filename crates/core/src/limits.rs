//! Every fixed limit of xskfwd, in one place. The XDP program's share of
//! them (`bpf/xskfwd.h`) is checked against these by a test of the
//! datapath crate (`xskfwd::bpf`), so the two can never disagree.

/// Most frames handled in one ring operation (`--batch`).
pub const MAX_BATCH: usize = 256;

/// Most ports one instance serves in the L2 modes. The worker keeps one tx
/// batch per port and tracks the ports with frames in a `u32` bit set.
pub const MAX_PORTS: usize = 16;

/// Most ports in L3 mode: the XDP program's port table
/// (`XSKFWD_MAX_PORTS`), which `bpf_fib_lookup` results are matched
/// against.
pub const MAX_L3_PORTS: usize = 8;

/// Queue ids 0..MAX_QUEUES can be served (`XSKFWD_MAX_QUEUES`, the XSKMAP
/// size).
pub const MAX_QUEUES: u32 = 64;

/// Entries of each of the XDP program's steering tries (local addresses
/// and static routes; `XSKFWD_STEER_ENTRIES`).
pub const STEER_ENTRIES: u32 = 65536;

/// Headroom the kernel keeps in front of a frame in copy mode
/// (`XDP_PACKET_HEADROOM`).
pub const XDP_PACKET_HEADROOM: u32 = 256;

/// Longest Linux interface name (`IFNAMSIZ` − 1).
pub const IFNAME_MAX: usize = 15;

const _: () = assert!(MAX_PORTS <= 32, "the worker's dirty-port set is a u32");
const _: () = assert!(MAX_L3_PORTS <= MAX_PORTS);

/// Ethernet header plus one VLAN tag: what a frame carries besides its IP
/// packet at most. A port's largest frame is its MTU plus this.
pub const L2_OVERHEAD: u32 = 18;
