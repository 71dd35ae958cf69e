//! A small two-port router for tests and fuzz targets: connected,
//! gatewayed, MTU-limited, kernel-only and unresolved routes, IPv4 and
//! IPv6, local addresses, and the neighbours behind each port.

use std::net::IpAddr;

use crate::route::{Action, KernelOnly, L3Port, NeighSet, Prefix, RouteSet};

/// Port 0's MAC.
pub const PORT0: [u8; 6] = [2, 0, 0, 0, 0, 0xa];
/// Port 1's MAC.
pub const PORT1: [u8; 6] = [2, 0, 0, 0, 0, 0xb];
/// A host behind port 0 (198.18.0.1).
pub const SRC: [u8; 6] = [2, 0, 0, 0, 1, 0xa];
/// The next hop behind port 1 (198.18.1.1, fd00:0:0:2::1).
pub const NEXT_HOP: [u8; 6] = [2, 0, 0, 0, 1, 0xb];
/// A connected host behind port 1 (198.18.1.2, fd00:0:0:2::2).
pub const HOST: [u8; 6] = [2, 0, 0, 0, 1, 0xc];

/// `"a.b.c.d/len"` as a prefix (panics on bad input: test data).
pub fn prefix(s: &str) -> Prefix {
    let (a, l) = s.split_once('/').expect("prefix");
    Prefix::new(a.parse().expect("address"), l.parse().expect("length")).expect("prefix")
}

/// Forward out of `port`, to `gw` if given, with a route MTU if given.
pub fn forward(port: u8, gw: Option<&str>, mtu: Option<u32>) -> Action {
    Action::Forward {
        port,
        gateway: gw.map(|g| g.parse().expect("gateway")),
        mtu,
    }
}

/// The ports: MACs [`PORT0`], [`PORT1`], MTU 1500.
pub fn ports() -> [L3Port; 2] {
    [
        L3Port {
            mac: PORT0,
            mtu: 1500,
        },
        L3Port {
            mac: PORT1,
            mtu: 1500,
        },
    ]
}

/// The routes: 198.18.0.0/24 on port 0, 198.18.1.0/24 on port 1, /24s
/// via 198.18.1.1 (5), rejected (6), route MTU 1000 (7), via port 0's
/// host (8), via an unresolved gateway (9), ECMP (10), 0/8 and 240/4 via
/// 198.18.1.1; fd00:0:0:1::/64 and :2::/64 connected, :5::/64 via
/// fd00:0:0:2::1, :7::/64 the same with MTU 1280; the ports' addresses
/// .254 (and 198.18.1.255) local.
pub fn routes() -> RouteSet {
    let mut r = RouteSet::new();
    for l in [
        "198.18.0.254/32",
        "198.18.1.254/32",
        "198.18.1.255/32",
        "fd00:0:0:1::254/128",
        "fd00:0:0:2::254/128",
    ] {
        r.local_add(prefix(l));
    }
    let k = |r: &mut RouteSet, p: &str, metric: u32, a: Action| r.kernel_add(prefix(p), metric, a);
    k(&mut r, "198.18.0.0/24", 0, forward(0, None, None));
    k(&mut r, "198.18.1.0/24", 0, forward(1, None, None));
    k(
        &mut r,
        "198.18.5.0/24",
        0,
        forward(1, Some("198.18.1.1"), None),
    );
    k(
        &mut r,
        "198.18.6.0/24",
        0,
        Action::Kernel(KernelOnly::Reject),
    );
    k(
        &mut r,
        "198.18.7.0/24",
        0,
        forward(1, Some("198.18.1.1"), Some(1000)),
    );
    k(
        &mut r,
        "198.18.8.0/24",
        0,
        forward(0, Some("198.18.0.1"), None),
    );
    k(
        &mut r,
        "198.18.9.0/24",
        0,
        forward(1, Some("198.18.1.99"), None),
    );
    k(
        &mut r,
        "198.18.10.0/24",
        0,
        Action::Kernel(KernelOnly::Multipath),
    );
    k(&mut r, "0.0.0.0/8", 0, forward(1, Some("198.18.1.1"), None));
    k(
        &mut r,
        "240.0.0.0/4",
        0,
        forward(1, Some("198.18.1.1"), None),
    );
    k(&mut r, "fd00:0:0:1::/64", 256, forward(0, None, None));
    k(&mut r, "fd00:0:0:2::/64", 256, forward(1, None, None));
    k(
        &mut r,
        "fd00:0:0:5::/64",
        1024,
        forward(1, Some("fd00:0:0:2::1"), None),
    );
    k(
        &mut r,
        "fd00:0:0:7::/64",
        1024,
        forward(1, Some("fd00:0:0:2::1"), Some(1280)),
    );
    r
}

/// The neighbours: [`NEXT_HOP`] and [`HOST`] behind port 1 (IPv4 and
/// IPv6), [`SRC`] behind port 0.
pub fn neighbours() -> NeighSet {
    let ip = |s: &str| -> IpAddr { s.parse().expect("address") };
    let mut n = NeighSet::new();
    n.kernel_set(1, ip("198.18.1.1"), Some(NEXT_HOP));
    n.kernel_set(1, ip("198.18.1.2"), Some(HOST));
    n.kernel_set(0, ip("198.18.0.1"), Some(SRC));
    n.kernel_set(1, ip("fd00:0:0:2::1"), Some(NEXT_HOP));
    n.kernel_set(1, ip("fd00:0:0:2::2"), Some(HOST));
    n
}
