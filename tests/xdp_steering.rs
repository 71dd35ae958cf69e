//! The XDP program's L3 steering, run in the kernel with BPF_PROG_RUN on
//! crafted frames inside a lab's dut namespace (real routes, neighbours
//! and FIB), checked against the userspace decision over the same tables:
//! whatever userspace would forward, the program sends to xskfwd; nothing
//! the program sends to xskfwd is a frame only the kernel may handle.
//! Root only (skips, saying so, otherwise).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::process::Command;

use etherparse::PacketBuilder;
use xskfwd::bpf::{self, PortProgram, ProgConfig};
use xskfwd::config::{L3Config, Mac};
use xskfwd::control::{Control, MapSteering, PortRef};
use xskfwd::netns;
use xskfwd::stats::{XdpProgStats, XDP_COUNTERS};
use xskfwd_core::l3;
use xskfwd_core::route::L3Port;
use xskfwd_core::verdict::Verdict;
use xskfwd_lab::harness::root_or_skip;
use xskfwd_lab::lab::{self, Lab};

fn ip(ns: &str, args: &str) {
    let st = Command::new("ip")
        .arg("-n")
        .arg(ns)
        .args(args.split_whitespace())
        .status()
        .expect("run ip");
    assert!(st.success(), "ip -n {ns} {args}");
}

struct Case {
    name: &'static str,
    frame: Vec<u8>,
    /// The XDP counter that must count it.
    counter: &'static str,
}

fn udp4(dmac: [u8; 6], src: Ipv4Addr, dst: Ipv4Addr, ttl: u8, payload: usize) -> Vec<u8> {
    let mut out = Vec::new();
    PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], dmac)
        .ipv4(src.octets(), dst.octets(), ttl)
        .udp(4000, 5000)
        .write(&mut out, &vec![0x5a; payload])
        .unwrap();
    out
}

fn udp6(dmac: [u8; 6], src: Ipv6Addr, dst: Ipv6Addr, hops: u8, payload: usize) -> Vec<u8> {
    let mut out = Vec::new();
    PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], dmac)
        .ipv6(src.octets(), dst.octets(), hops)
        .udp(4000, 5000)
        .write(&mut out, &vec![0x5a; payload])
        .unwrap();
    out
}

#[test]
fn xdp_steering_agrees_with_the_userspace_decision() {
    if !root_or_skip("xdp_steering_agrees_with_the_userspace_decision") {
        return;
    }
    let lab = Lab::up(xskfwd_lab::demo::lab_spec(&lab::unique_prefix("steer"), 1)).expect("lab");
    let info = lab.info().clone();
    let dut = info.dut_ns().to_string();
    // Extra routes: an MTU-limited one, a blackhole, and a gateway whose
    // neighbour is not resolved.
    ip(
        &dut,
        "route add 198.18.60.0/24 via 198.18.1.1 dev dut1 mtu 1000",
    );
    ip(&dut, "route add blackhole 198.18.61.0/24");
    ip(&dut, "route add 198.18.62.0/24 via 198.18.1.77 dev dut1");
    ip(
        &dut,
        "-6 route add fd00:0:0:60::/64 via fd00:0:0:2::1 dev dut1 mtu 1280",
    );
    // ECMP: the kernel's hash picks the path, so the kernel forwards it.
    // Both next hops are resolved and out of dut1, so the FIB would say
    // SUCCESS whichever the hash picks.
    let dst_mac = Mac(info.dst0.mac);
    ip(
        &dut,
        &format!("neigh add 198.18.1.2 lladdr {dst_mac} dev dut1 nud permanent"),
    );
    ip(
        &dut,
        "route add 198.18.63.0/24 nexthop via 198.18.1.1 dev dut1 nexthop via 198.18.1.2 dev dut1",
    );

    let mac0 = info.dut0.mac;
    let s4 = info.src0.ipv4;
    let s6 = info.src0.ipv6;
    let d4 = info.dst0.ipv4;
    let d6 = info.dst0.ipv6;
    let a4 = |s: &str| s.parse::<Ipv4Addr>().unwrap();
    let a6 = |s: &str| s.parse::<Ipv6Addr>().unwrap();
    let mut options = udp4(mac0, s4, d4, 64, 20);
    options.splice(34..34, [1u8, 1, 1, 0]);
    options[14] = 0x46;
    let total = (options.len() - 14) as u16;
    options[16..18].copy_from_slice(&total.to_be_bytes());
    options[24..26].copy_from_slice(&[0, 0]);
    let c = xskfwd_core::wire::checksum::checksum(&options[14..38]);
    options[24..26].copy_from_slice(&c.to_be_bytes());
    let mut arp = udp4(mac0, s4, d4, 64, 20);
    arp[12..14].copy_from_slice(&[0x08, 0x06]);
    let mut hbh = udp6(mac0, s6, d6, 64, 20);
    hbh[20] = 0;
    let cases = vec![
        Case {
            name: "v4 transit",
            frame: udp4(mac0, s4, d4, 64, 20),
            counter: "pass_no_socket",
        },
        Case {
            name: "v4 transit ttl 2",
            frame: udp4(mac0, s4, d4, 2, 200),
            counter: "pass_no_socket",
        },
        Case {
            name: "v6 transit",
            frame: udp6(mac0, s6, d6, 64, 20),
            counter: "pass_no_socket",
        },
        Case {
            name: "v4 ttl 1",
            frame: udp4(mac0, s4, d4, 1, 20),
            counter: "pass_ttl",
        },
        Case {
            name: "v4 ttl 0",
            frame: udp4(mac0, s4, d4, 0, 20),
            counter: "pass_ttl",
        },
        Case {
            name: "v6 hop limit 1",
            frame: udp6(mac0, s6, d6, 1, 20),
            counter: "pass_ttl",
        },
        Case {
            name: "v4 local dut0",
            frame: udp4(mac0, s4, info.dut0.ipv4, 64, 20),
            counter: "pass_local",
        },
        Case {
            name: "v4 local dut1",
            frame: udp4(mac0, s4, info.dut1.ipv4, 64, 20),
            counter: "pass_local",
        },
        Case {
            name: "v4 source: dut0's own address",
            frame: udp4(mac0, info.dut0.ipv4, d4, 64, 20),
            counter: "pass_local_src",
        },
        Case {
            name: "v4 source: dut1's own address, ttl 1",
            frame: udp4(mac0, info.dut1.ipv4, d4, 1, 20),
            counter: "pass_local_src",
        },
        Case {
            name: "v4 subnet broadcast",
            frame: udp4(mac0, s4, a4("198.18.1.255"), 64, 20),
            counter: "pass_local",
        },
        Case {
            name: "v6 local",
            frame: udp6(mac0, s6, info.dut1.ipv6, 64, 20),
            counter: "pass_local",
        },
        Case {
            name: "v6 subnet-router anycast",
            frame: udp6(mac0, s6, a6("fd00:0:0:2::"), 64, 20),
            counter: "pass_local",
        },
        Case {
            name: "v4 no route",
            frame: udp4(mac0, s4, a4("198.19.200.1"), 64, 20),
            counter: "pass_no_route",
        },
        Case {
            name: "v6 no route",
            frame: udp6(mac0, s6, a6("fd00:0:0:99::1"), 64, 20),
            counter: "pass_no_route",
        },
        Case {
            name: "v4 blackhole",
            frame: udp4(mac0, s4, a4("198.18.61.1"), 64, 20),
            counter: "pass_no_route",
        },
        Case {
            name: "v4 ecmp route",
            frame: udp4(mac0, s4, a4("198.18.63.1"), 64, 20),
            counter: "pass_not_ours",
        },
        Case {
            name: "v4 unresolved gateway",
            frame: udp4(mac0, s4, a4("198.18.62.1"), 64, 20),
            counter: "pass_no_neigh",
        },
        Case {
            name: "v4 unresolved host",
            frame: udp4(mac0, s4, a4("198.18.1.77"), 64, 20),
            counter: "pass_no_neigh",
        },
        Case {
            name: "v4 back out of dut0",
            frame: udp4(mac0, a4("198.18.0.9"), s4, 64, 20),
            counter: "pass_not_ours",
        },
        Case {
            name: "v4 route mtu ok",
            frame: udp4(mac0, s4, a4("198.18.60.1"), 64, 1000 - 28),
            counter: "pass_no_socket",
        },
        Case {
            name: "v4 route mtu exceeded",
            frame: udp4(mac0, s4, a4("198.18.60.1"), 64, 1001 - 28),
            counter: "pass_mtu",
        },
        Case {
            name: "v6 route mtu exceeded",
            frame: udp6(mac0, s6, a6("fd00:0:0:60::1"), 64, 1281 - 48),
            counter: "pass_mtu",
        },
        Case {
            name: "v4 multicast",
            frame: udp4(mac0, s4, a4("239.1.1.1"), 64, 20),
            counter: "pass_mcast",
        },
        Case {
            name: "v4 limited broadcast",
            frame: udp4(mac0, s4, Ipv4Addr::BROADCAST, 64, 20),
            counter: "pass_mcast",
        },
        Case {
            name: "v6 multicast",
            frame: udp6(mac0, s6, a6("ff0e::1"), 64, 20),
            counter: "pass_mcast",
        },
        Case {
            name: "v6 link-local src",
            frame: udp6(mac0, a6("fe80::1"), d6, 64, 20),
            counter: "pass_link_local",
        },
        Case {
            name: "v6 link-local dst",
            frame: udp6(mac0, s6, a6("fe80::2"), 64, 20),
            counter: "pass_link_local",
        },
        Case {
            name: "v4 options",
            frame: options,
            counter: "pass_options",
        },
        Case {
            name: "v6 hop-by-hop",
            frame: hbh,
            counter: "pass_options",
        },
        Case {
            name: "arp",
            frame: arp,
            counter: "pass_not_ip",
        },
        Case {
            name: "other host's MAC",
            frame: udp4([2, 9, 9, 9, 9, 9], s4, d4, 64, 20),
            counter: "pass_l2_dst",
        },
        Case {
            name: "broadcast MAC",
            frame: udp4([0xff; 6], s4, d4, 64, 20),
            counter: "pass_l2_dst",
        },
        Case {
            name: "v4 loopback dst",
            frame: udp4(mac0, s4, Ipv4Addr::LOCALHOST, 64, 20),
            counter: "pass_special",
        },
        Case {
            name: "v6 v4-mapped dst",
            frame: udp6(mac0, s6, a6("::ffff:198.18.1.1"), 64, 20),
            counter: "pass_special",
        },
        Case {
            name: "v4 0/8 is unicast",
            frame: udp4(mac0, a4("0.1.2.3"), d4, 64, 20),
            counter: "pass_no_socket",
        },
        Case {
            name: "v4 martian src 0.0.0.0",
            frame: udp4(mac0, Ipv4Addr::UNSPECIFIED, d4, 64, 20),
            counter: "pass_no_socket",
        },
        Case {
            name: "v4 martian src multicast",
            frame: udp4(mac0, a4("224.0.0.9"), d4, 64, 20),
            counter: "pass_no_socket",
        },
        Case {
            name: "v6 multicast src",
            frame: udp6(mac0, a6("ff02::1"), d6, 64, 20),
            counter: "pass_no_socket",
        },
    ];
    // The program's length limit is the smallest route MTU of the table
    // (1000 here), so a 1000-byte packet to any destination still reaches
    // xskfwd and a 1001-byte one goes to the kernel — conservative for
    // routes with larger MTUs, never wrong.

    let dut0 = info.dut0.mac;
    let dut1 = info.dut1.mac;
    netns::in_netns(&dut, move || {
        let i0 = netns::ifindex("dut0").unwrap();
        let i1 = netns::ifindex("dut1").unwrap();
        let mut port_ifindex = [0u32; xskfwd::config::MAX_L3_PORTS];
        port_ifindex[0] = i0;
        port_ifindex[1] = i1;
        let prog = PortProgram::load(
            "dut0",
            i0,
            &ProgConfig {
                mode: bpf::MODE_L3,
                port_mac: dut0,
                port_ifindex,
                rp_filter: 0,
                fib_forward: true,
                steer_entries: (0, 0),
                multi_buffer: false,
            },
        )
        .expect("load");
        let control = Control::start(
            vec![
                PortRef {
                    ifname: "dut0".into(),
                    ifindex: i0,
                },
                PortRef {
                    ifname: "dut1".into(),
                    ifindex: i1,
                },
            ],
            L3Config {
                kernel: true,
                ..L3Config::default()
            },
            4096 - 256 - 18,
            Box::new(MapSteering::new(vec![prog.steer_maps().unwrap()])),
        )
        .expect("control plane");
        let tables = control.reader();
        let ports = [
            L3Port {
                mac: dut0,
                mtu: 1500,
            },
            L3Port {
                mac: dut1,
                mtu: 1500,
            },
        ];
        let idx = |name: &str| XDP_COUNTERS.iter().position(|c| *c == name).unwrap();
        let mut failures = Vec::new();
        for case in &cases {
            let before: XdpProgStats = prog.counters();
            let action = prog.test_run(&case.frame, 0).expect("BPF_PROG_RUN");
            let after = prog.counters();
            let moved: Vec<&str> = XDP_COUNTERS
                .iter()
                .enumerate()
                .filter(|(i, _)| after.counts[*i] != before.counts[*i])
                .map(|(_, n)| *n)
                .collect();
            if moved != [case.counter] {
                failures.push(format!(
                    "{}: counted {moved:?}, want [{}]",
                    case.name, case.counter
                ));
            }
            // XDP_PASS = 2 either way (no socket is bound in a test run).
            assert_eq!(action, 2, "{}", case.name);
            let to_xskfwd =
                after.counts[idx("pass_no_socket")] > before.counts[idx("pass_no_socket")];
            // Own-address sources are the program's alone: the userspace
            // decision does not look sources up (a second LPM lookup per
            // packet) because such frames never reach the worker.
            if case.counter == "pass_local_src" {
                continue;
            }
            let mut f = case.frame.clone();
            let verdict = l3::decide(&ports, tables.fib(), tables.neigh(), 0, &mut f);
            match verdict {
                Verdict::Tx { .. } if !to_xskfwd => failures.push(format!(
                    "{}: userspace forwards it, the program passes it",
                    case.name
                )),
                Verdict::Pass(r) if to_xskfwd => failures.push(format!(
                    "{}: the program sends it to xskfwd, userspace says kernel ({r:?})",
                    case.name
                )),
                _ => {}
            }
        }
        assert!(
            failures.is_empty(),
            "steering disagreements:\n{}",
            failures.join("\n")
        );
        let _ = IpAddr::V4(Ipv4Addr::LOCALHOST);
    })
    .expect("in netns");
    drop(lab);
}
