#!/usr/bin/env python3
"""Writes the fuzz seed corpora under fuzz/corpus/: real frames (the lab's
IPv4/IPv6 UDP and TCP, tagged, ARP, options, hop-by-hop, TTL 1, padded),
real rtnetlink datagrams (links, addresses, routes and neighbours dumped
from a throwaway namespace, needs root and iproute2) and routes files.

    python3 fuzz/seeds.py        # rewrites the seed files (seed-*)
"""
import os, socket, struct, subprocess, sys, uuid

HERE = os.path.dirname(os.path.abspath(__file__))
A = bytes.fromhex("02000000000a")   # port 0 MAC in fuzz/src/lib.rs
B = bytes.fromhex("02000000000b")
SRC = bytes.fromhex("020000000001")

def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF

def ip4(src, dst, proto, payload, ttl=64, options=b""):
    ihl = 5 + len(options) // 4
    h = struct.pack("!BBHHHBBH4s4s", 0x40 | ihl, 0, ihl * 4 + len(payload), 0x1234, 0x4000,
                    ttl, proto, 0, socket.inet_aton(src), socket.inet_aton(dst)) + options
    h = h[:10] + struct.pack("!H", csum(h)) + h[12:]
    return h + payload

def ip6(src, dst, nh, payload, hlim=64):
    return struct.pack("!IHBB16s16s", 0x60000000, len(payload), nh, hlim,
                       socket.inet_pton(socket.AF_INET6, src),
                       socket.inet_pton(socket.AF_INET6, dst)) + payload

def udp(n):
    return struct.pack("!HHHH", 1234, 5678, 8 + n, 0) + bytes(range(n % 256)) * (n // 256) + bytes(range(n % 256))

def eth(dst, etype, payload, tag=None):
    t = b"" if tag is None else struct.pack("!HH", 0x8100, tag)
    return dst + SRC + t + struct.pack("!H", etype) + payload

def frames():
    tcp = struct.pack("!HHIIBBHHH", 80, 443, 1, 0, 0x50, 0x02, 65535, 0, 0)
    yield "udp4", eth(A, 0x0800, ip4("198.18.0.1", "198.18.5.9", 17, udp(18)))
    yield "udp4-big", eth(A, 0x0800, ip4("198.18.0.1", "198.18.7.9", 17, udp(1200)))
    yield "tcp4", eth(A, 0x0800, ip4("198.18.0.1", "198.18.1.2", 6, tcp))
    yield "udp4-ttl1", eth(A, 0x0800, ip4("198.18.0.1", "198.18.5.9", 17, udp(18), ttl=1))
    yield "udp4-opts", eth(A, 0x0800, ip4("198.18.0.1", "198.18.5.9", 17, udp(18), options=b"\x94\x04\0\0"))
    yield "udp4-padded", eth(A, 0x0800, ip4("198.18.0.1", "198.18.5.9", 17, udp(2))) + bytes(20)
    yield "udp4-local", eth(A, 0x0800, ip4("198.18.0.1", "198.18.0.254", 17, udp(18)))
    yield "udp4-class-e", eth(A, 0x0800, ip4("198.18.0.1", "240.1.2.3", 17, udp(18)))
    yield "udp4-vlan", eth(A, 0x0800, ip4("198.18.0.1", "198.18.5.9", 17, udp(18)), tag=7)
    yield "udp6", eth(A, 0x86DD, ip6("fd00:0:0:1::1", "fd00:0:0:5::9", 17, udp(18)))
    yield "udp6-mtu", eth(A, 0x86DD, ip6("fd00:0:0:1::1", "fd00:0:0:7::9", 17, udp(1300)))
    yield "udp6-hbh", eth(A, 0x86DD, ip6("fd00:0:0:1::1", "fd00:0:0:5::9", 0, b"\x11\0" + bytes(6) + udp(18)))
    yield "udp6-hlim1", eth(A, 0x86DD, ip6("fd00:0:0:1::1", "fd00:0:0:5::9", 17, udp(18), hlim=1))
    yield "udp6-linklocal", eth(A, 0x86DD, ip6("fe80::1", "fd00:0:0:5::9", 17, udp(18)))
    yield "arp", eth(b"\xff" * 6, 0x0806, struct.pack("!HHBBH", 1, 0x0800, 6, 4, 1) + SRC
                     + socket.inet_aton("198.18.0.1") + bytes(6) + socket.inet_aton("198.18.0.254"))

def write(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "seed-" + name), "wb") as f:
        f.write(data)

def netlink_dumps():
    """Dumps a namespace with two veths, addresses, routes and neighbours."""
    ns = "xfz" + uuid.uuid4().hex[:8]
    run = lambda *a: subprocess.run(["ip", "-n", ns, *a], check=True)
    subprocess.run(["ip", "netns", "add", ns], check=True)
    try:
        run("link", "add", "a0", "type", "veth", "peer", "name", "a1")
        run("link", "set", "a0", "up"); run("link", "set", "a1", "up")
        run("addr", "add", "198.18.0.254/24", "dev", "a0")
        run("addr", "add", "fd00:0:0:1::254/64", "dev", "a0", "nodad")
        run("route", "add", "198.18.5.0/24", "via", "198.18.0.1", "mtu", "1400")
        run("route", "add", "blackhole", "198.18.6.0/24")
        run("route", "add", "fd00:0:0:5::/64", "via", "fd00:0:0:1::1")
        run("neigh", "add", "198.18.0.1", "lladdr", "02:00:00:00:00:01", "dev", "a0")
        run("neigh", "add", "fd00:0:0:1::1", "lladdr", "02:00:00:00:00:01", "dev", "a0", "nud", "stale")
        subprocess.run(["ip", "netns", "exec", ns, sys.executable, os.path.abspath(__file__), "--dump-here"],
                       check=True)
    finally:
        subprocess.run(["ip", "netns", "del", ns])

def dump_here():
    s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0)
    s.bind((0, 0))
    for kind, body in [(18, struct.pack("=Bxxxiii", 0, 0, 0, 0)),   # RTM_GETLINK
                       (22, struct.pack("=BBBBi", 0, 0, 0, 0, 0)),   # RTM_GETADDR
                       (26, struct.pack("=BBBBBBBBI", 0, 0, 0, 0, 0, 0, 0, 0, 0)),  # RTM_GETROUTE
                       (30, struct.pack("=BxxxiHBB", 0, 0, 0, 0, 0))]:  # RTM_GETNEIGH
        s.send(struct.pack("=IHHII", 16 + len(body), kind, 0x301, 1, 0) + body)
        n = 0
        while True:
            data = s.recv(65536)
            write("netlink", "dump%d-%d" % (kind, n), data)
            # The first message alone too, as a notification would be.
            write("netlink", "msg%d-%d" % (kind, n), data[:struct.unpack_from("=I", data)[0]])
            n += 1
            off, done = 0, False
            while off + 16 <= len(data):
                ln, typ = struct.unpack_from("=IH", data, off)
                done |= typ in (2, 3)  # NLMSG_ERROR, NLMSG_DONE
                off += max(16, (ln + 3) & ~3)
            if done or n > 50:
                break

def main():
    if sys.argv[1:] == ["--dump-here"]:
        return dump_here()
    for name, f in frames():
        write("wire", name, f)
        write("l2", name, b"\x00" + f)
        write("l2", name + "-hairpin", b"\x01" + f)
        write("l3", name, b"\x00" + f)
        meta = struct.pack("=IBB6s6sH", 0x78736B31, 1, 0, bytes.fromhex("020000000099"), B, 0)
        write("l3", name + "-meta", b"\x04" + meta + f)
    write("routes_file", "lines", b"kernel no\nroute 198.18.5.0/24 via 198.18.1.1 dev dut1 mtu 1400\n"
          b"route fd00:5::/64 via fd00:1::1 dev dut1\nneigh 198.18.1.1 lladdr 02:00:00:00:00:02 dev dut1\n# c\n")
    write("routes_file", "toml", b"kernel = false\n[[route]]\nprefix = \"198.18.5.0/24\"\nvia = \"198.18.1.1\"\n"
          b"dev = \"dut1\"\nmtu = 1400\n[[neigh]]\nip = \"198.18.1.1\"\nmac = \"02:00:00:00:00:02\"\ndev = \"dut1\"\n")
    if os.geteuid() == 0:
        netlink_dumps()
    else:
        print("not root: netlink seeds not refreshed", file=sys.stderr)

if __name__ == "__main__":
    main()
