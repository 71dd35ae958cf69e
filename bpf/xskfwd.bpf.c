// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * xskfwd's XDP program: decide per packet whether it goes to the AF_XDP
 * socket bound to this rx queue (XSKMAP) or to the kernel (XDP_PASS).
 *
 * It never drops: anything it does not understand goes to the kernel, and
 * a queue without a bound socket falls back to XDP_PASS, so the host keeps
 * working while xskfwd starts up or shuts down.
 *
 * L2 mode: every frame goes to the socket (the port is a wire).
 *
 * Jumbo frames: with multi_buffer set, userspace loads this program
 * frags-aware (BPF_F_XDP_HAS_FRAGS), so a packet larger than one buffer
 * arrives here as a multi-buffer frame and reaches the socket as a chain
 * of descriptors (XDP_PKT_CONTD). Every header it reads is in the first
 * buffer (data..data_end); a frame whose headers are not goes to the
 * kernel as too short for what it claims.
 *
 * L3 mode: xskfwd accelerates the kernel's own forwarding, so a frame may
 * go to userspace only when the kernel would forward it unchanged except
 * for the TTL/hop limit and the MACs. Once a frame is in the UMEM it cannot
 * be handed back, so everything else is decided here and passed:
 *   - not IPv4/IPv6 (ARP, VLAN tags, ...), not addressed to this port's MAC;
 *   - IPv4 options, IPv6 hop-by-hop, TTL/hop limit <= 1, multicast and
 *     broadcast, IPv6 link-local (the kernel answers with ICMP errors);
 *   - local addresses (steering trie, filled from the kernel's local table)
 *     and kernel routes xskfwd does not forward (ECMP: the kernel's hash
 *     picks the path; other route types);
 *   - whatever bpf_fib_lookup (the kernel's FIB, policy rules included)
 *     does not forward out of another xskfwd port with a resolved
 *     neighbour and within the MTU: no route, unreachable, blackhole,
 *     forwarding off, unresolved neighbour (the kernel runs ARP/NDP),
 *     fragmentation needed / packet too big;
 *   - the reverse-path filter, when enabled, fails;
 *   - an IPv4 source that is one of this host's addresses (the kernel
 *     drops it as a martian unless accept_local is set);
 *   - a multi-buffer (jumbo) frame with bytes beyond its IP packet (the
 *     kernel trims them; xskfwd sends a chain as it arrived).
 * For a frame it sends to xskfwd on the FIB's word it puts the FIB's
 * decision (egress port, MACs) in front of the frame as XDP metadata, which
 * the worker executes instead of re-deciding, and notes the next hop
 * the FIB resolved (nh_use): the kernel only re-probes neighbours it uses
 * itself, so the control plane tells it which ones xskfwd uses (NTF_USE).
 * Malformed IP headers (bad version/IHL, truncated) go to userspace, which
 * drops and counts them exactly where the kernel would drop them silently.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/in.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "xskfwd.h"

#define AF_INET 2
#define AF_INET6 10

/* Set by userspace before load (rodata). One program instance per port. */
const volatile __u32 xskfwd_mode = XSKFWD_MODE_L2;
/* This port's MAC address (L3). */
const volatile __u8 port_mac[6] = {};
/* Interface indexes of every xskfwd port (0 = unused slot). */
const volatile __u32 port_ifindex[XSKFWD_MAX_PORTS] = {};
/* 1: what the kernel's FIB forwards out of another port goes to xskfwd
 * (xskfwd mirrors the kernel's routes). 0 (static routes only): only the
 * steering trie's static routes go to xskfwd, everything else to the
 * kernel. */
const volatile __u32 fib_forward = 1;
/* 1: the program is loaded frags-aware (BPF_F_XDP_HAS_FRAGS) and xskfwd's
 * sockets take multi-buffer packets (jumbo frames, XDP_USE_SG). */
const volatile __u32 multi_buffer = 0;

struct {
	__uint(type, BPF_MAP_TYPE_XSKMAP);
	__uint(max_entries, XSKFWD_MAX_QUEUES);
	__type(key, __u32);
	__type(value, __u32);
} xsks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, XSKFWD_CNT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

struct steer4_key {
	__u32 prefixlen;
	__u8 addr[4];
};

struct steer6_key {
	__u32 prefixlen;
	__u8 addr[16];
};

/* Local addresses (PASS) and static routes (REDIRECT), longest match. */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, XSKFWD_STEER_ENTRIES);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct steer4_key);
	__type(value, __u32);
} steer4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, XSKFWD_STEER_ENTRIES);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct steer6_key);
	__type(value, __u32);
} steer6 SEC(".maps");

/* [0]: largest IPv4 total length xskfwd may forward, [1]: largest IPv6
 * packet (header included). The smallest MTU of xskfwd's ports and of
 * every route MTU the kernel honours but bpf_fib_lookup does not check
 * (unlocked route MTUs). Set by userspace; 0 means "not configured yet"
 * and passes everything. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u32);
} max_len SEC(".maps");

/* [0]: the effective rp_filter of this port (0 off, 1 strict, 2 loose),
 * kept current by the control plane as the sysctls change. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} rp_filter SEC(".maps");

/* Next hops in use, per CPU, direct-mapped by a hash of (ifindex, address):
 * a slot holds the last next hop that hashed to it, so with more next hops
 * in use than slots some are reported only now and then (each pass sees
 * whichever was last), and a colliding pair alternates. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, XSKFWD_NH_SLOTS);
	__type(key, __u32);
	__type(value, struct xskfwd_nh_use);
} nh_use SEC(".maps");

static __always_inline int count(__u32 which, int action)
{
	__u64 *c = bpf_map_lookup_elem(&counters, &which);

	if (c)
		*c += 1;
	return action;
}

static __always_inline int to_socket(__u32 queue)
{
	if (bpf_redirect_map(&xsks, queue, XDP_PASS) == XDP_REDIRECT)
		return count(XSKFWD_CNT_REDIRECT, XDP_REDIRECT);
	return count(XSKFWD_CNT_PASS_NO_SOCKET, XDP_PASS);
}

/* The xskfwd port index of `ifindex`, or -1. */
static __always_inline int port_index(__u32 ifindex)
{
#pragma unroll
	for (int i = 0; i < XSKFWD_MAX_PORTS; i++)
		if (port_ifindex[i] && port_ifindex[i] == ifindex)
			return i;
	return -1;
}

/* Puts the FIB's decision (`p`, egress `port`) in front of the frame as
 * XDP metadata — or, with `p` NULL, metadata that says "no decision":
 * every frame L3 mode redirects carries metadata, so a chunk never shows
 * the worker a decision left from an earlier frame, even one whose
 * redirect failed. AF_XDP delivers metadata in copy and zero-copy mode.
 * Where the driver has no room for it, no frame has any and the worker
 * decides from its mirror. */
static __always_inline void put_decision(struct xdp_md *ctx, const struct bpf_fib_lookup *p,
					 int port)
{
	struct xskfwd_meta *m;
	void *data;

	if (bpf_xdp_adjust_meta(ctx, -(int)sizeof(*m)))
		return;
	m = (void *)(long)ctx->data_meta;
	data = (void *)(long)ctx->data;
	if ((void *)(m + 1) > data)
		return;
	__builtin_memset(m, 0, sizeof(*m));
	if (!p)
		return;
	m->magic = XSKFWD_META_MAGIC;
	m->port = port;
	__builtin_memcpy(m->dmac, p->dmac, 6);
	__builtin_memcpy(m->smac, p->smac, 6);
}

/* Redirects an L3 frame the worker decides itself (a static route, or one
 * it drops and counts), with metadata that says so. */
static __always_inline int l3_to_socket(struct xdp_md *ctx, __u32 queue)
{
	put_decision(ctx, NULL, 0);
	return to_socket(queue);
}

/* A multi-buffer frame with bytes beyond its IP packet of ip_len bytes.
 * The kernel trims them before forwarding; xskfwd sends a chain as it
 * arrived, so such a frame is the kernel's. A frame in one buffer is
 * trimmed by the worker. */
/* A frame in more than one buffer (only with multi_buffer). */
static __always_inline int is_multi(struct xdp_md *ctx)
{
	return multi_buffer && bpf_xdp_get_buff_len(ctx) > ctx->data_end - ctx->data;
}

static __always_inline int chain_padded(struct xdp_md *ctx, __u32 ip_len)
{
	__u32 linear = ctx->data_end - ctx->data;
	__u32 len;

	if (!multi_buffer)
		return 0;
	len = bpf_xdp_get_buff_len(ctx);
	return len > linear && len != sizeof(struct ethhdr) + ip_len;
}

static __always_inline __u32 len_limit(__u32 which)
{
	__u32 *v = bpf_map_lookup_elem(&max_len, &which);

	return v ? *v : 0;
}

/* Notes the next hop a successful bpf_fib_lookup resolved (its ipv4_dst /
 * ipv6_dst then hold the gateway, or the destination itself on a link). */
static __always_inline void note_next_hop(const struct bpf_fib_lookup *p)
{
	struct xskfwd_nh_use *u;
	__u32 a[4] = {};
	__u32 h, slot, *w;

	if (p->family == AF_INET) {
		a[0] = p->ipv4_dst;
	} else {
		a[0] = p->ipv6_dst[0];
		a[1] = p->ipv6_dst[1];
		a[2] = p->ipv6_dst[2];
		a[3] = p->ipv6_dst[3];
	}
	h = (a[0] ^ a[1] ^ a[2] ^ a[3]) ^ (p->ifindex * 0x9e3779b1);
	h ^= h >> 16;
	h *= 0x85ebca6b;
	h ^= h >> 13;
	slot = h & (XSKFWD_NH_SLOTS - 1);
	u = bpf_map_lookup_elem(&nh_use, &slot);
	if (!u)
		return;
	w = (__u32 *)u->addr;
	if (u->ifindex != p->ifindex || u->family != p->family || w[0] != a[0] ||
	    w[1] != a[1] || w[2] != a[2] || w[3] != a[3]) {
		u->ifindex = p->ifindex;
		u->family = p->family;
		w[0] = a[0];
		w[1] = a[1];
		w[2] = a[2];
		w[3] = a[3];
		u->hits = 0;
	}
	u->hits++;
}

/* What the kernel's FIB says about forwarding this packet. */
static __always_inline int fib_verdict(struct xdp_md *ctx, struct bpf_fib_lookup *p,
				       __u32 queue)
{
	long rc;
	int port;

	if (!fib_forward)
		return count(XSKFWD_CNT_PASS_NOT_OURS, XDP_PASS);
	rc = bpf_fib_lookup(ctx, p, sizeof(*p), 0);

	switch (rc) {
	case BPF_FIB_LKUP_RET_SUCCESS:
		port = port_index(p->ifindex);
		if (p->ifindex == ctx->ingress_ifindex || port < 0)
			return count(XSKFWD_CNT_PASS_NOT_OURS, XDP_PASS);
		note_next_hop(p);
		put_decision(ctx, p, port);
		return to_socket(queue);
	case BPF_FIB_LKUP_RET_NO_NEIGH:
		return count(XSKFWD_CNT_PASS_NO_NEIGH, XDP_PASS);
	case BPF_FIB_LKUP_RET_FRAG_NEEDED:
		return count(XSKFWD_CNT_PASS_MTU, XDP_PASS);
	case BPF_FIB_LKUP_RET_FWD_DISABLED:
		return count(XSKFWD_CNT_PASS_FWD_OFF, XDP_PASS);
	default:
		return count(XSKFWD_CNT_PASS_NO_ROUTE, XDP_PASS);
	}
}

/* Reverse-path check as rp_filter would do it; 1 = acceptable. */
static __always_inline int rpf_ok(struct xdp_md *ctx, __be32 saddr, __be32 daddr)
{
	struct bpf_fib_lookup p = {};
	__u32 zero = 0, *mode = bpf_map_lookup_elem(&rp_filter, &zero);
	long rc;

	if (!mode || !*mode)
		return 1;
	p.family = AF_INET;
	p.ipv4_src = daddr;
	p.ipv4_dst = saddr;
	p.ifindex = ctx->ingress_ifindex;
	rc = bpf_fib_lookup(ctx, &p, sizeof(p), BPF_FIB_LOOKUP_SKIP_NEIGH);
	if (rc != BPF_FIB_LKUP_RET_SUCCESS)
		return 0;
	return *mode == 2 || p.ifindex == ctx->ingress_ifindex;
}

static __always_inline int l3_ipv4(struct xdp_md *ctx, void *l3, void *data_end, __u32 queue)
{
	struct iphdr *ip = l3;
	struct bpf_fib_lookup p = {};
	struct steer4_key key = { .prefixlen = 32 };
	__u32 *steer, limit;
	__u32 daddr, saddr;

	if ((void *)(ip + 1) > data_end) {
		/* The header continues in the next buffer: the kernel's. */
		if (is_multi(ctx))
			return count(XSKFWD_CNT_PASS_SHORT, XDP_PASS);
		return l3_to_socket(ctx, queue); /* truncated: userspace counts the drop */
	}
	if (ip->version != 4 || ip->ihl < 5)
		return l3_to_socket(ctx, queue); /* malformed: userspace counts the drop */
	if (ip->ihl > 5)
		return count(XSKFWD_CNT_PASS_OPTIONS, XDP_PASS);

	daddr = bpf_ntohl(ip->daddr);
	saddr = bpf_ntohl(ip->saddr);
	if ((daddr & 0xf0000000) == 0xe0000000 || daddr == 0xffffffff)
		return count(XSKFWD_CNT_PASS_MCAST, XDP_PASS);
	/* Martians the kernel drops silently: userspace counts them. 127/8 is
	 * left to the kernel (route_localnet may make it routable). */
	if ((saddr & 0xf0000000) == 0xe0000000 || saddr == 0xffffffff || saddr == 0 ||
	    daddr == 0)
		return l3_to_socket(ctx, queue);
	if ((saddr >> 24) == 127 || (daddr >> 24) == 127)
		return count(XSKFWD_CNT_PASS_SPECIAL, XDP_PASS);

	/* A source in the local table (one of this host's addresses, or its
	 * broadcast/anycast ones): the kernel drops the frame as a martian
	 * unless accept_local is set on the ingress device, and forwards it
	 * otherwise; either way it is the kernel's to decide. */
	__builtin_memcpy(key.addr, &ip->saddr, 4);
	steer = bpf_map_lookup_elem(&steer4, &key);
	if (steer && *steer == XSKFWD_STEER_PASS)
		return count(XSKFWD_CNT_PASS_LOCAL_SRC, XDP_PASS);

	__builtin_memcpy(key.addr, &ip->daddr, 4);
	steer = bpf_map_lookup_elem(&steer4, &key);
	if (steer && *steer == XSKFWD_STEER_PASS)
		return count(XSKFWD_CNT_PASS_LOCAL, XDP_PASS);
	if (steer && *steer == XSKFWD_STEER_KERNEL)
		return count(XSKFWD_CNT_PASS_NOT_OURS, XDP_PASS);
	if (ip->ttl <= 1)
		return count(XSKFWD_CNT_PASS_TTL, XDP_PASS);
	limit = len_limit(0);
	if (bpf_ntohs(ip->tot_len) > limit)
		return count(XSKFWD_CNT_PASS_MTU, XDP_PASS);
	if (chain_padded(ctx, bpf_ntohs(ip->tot_len)))
		return count(XSKFWD_CNT_PASS_PADDED, XDP_PASS);
	if (!rpf_ok(ctx, ip->saddr, ip->daddr))
		return count(XSKFWD_CNT_PASS_RPF, XDP_PASS);
	if (steer && *steer == XSKFWD_STEER_REDIRECT)
		return l3_to_socket(ctx, queue);

	p.family = AF_INET;
	p.tos = ip->tos;
	p.l4_protocol = ip->protocol;
	p.tot_len = bpf_ntohs(ip->tot_len);
	p.ipv4_src = ip->saddr;
	p.ipv4_dst = ip->daddr;
	p.ifindex = ctx->ingress_ifindex;
	return fib_verdict(ctx, &p, queue);
}

/* In ::/80: unspecified, loopback, IPv4-mapped/-compatible. */
static __always_inline int low80_zero(const struct in6_addr *a)
{
	return a->in6_u.u6_addr32[0] == 0 && a->in6_u.u6_addr32[1] == 0 &&
	       a->in6_u.u6_addr16[4] == 0;
}

static __always_inline int l3_ipv6(struct xdp_md *ctx, void *l3, void *data_end, __u32 queue)
{
	struct ipv6hdr *ip = l3;
	struct bpf_fib_lookup p = {};
	struct steer6_key key = { .prefixlen = 128 };
	__u32 *steer, limit;
	__u8 s0, s1, d0, d1;

	if ((void *)(ip + 1) > data_end) {
		if (is_multi(ctx))
			return count(XSKFWD_CNT_PASS_SHORT, XDP_PASS);
		return l3_to_socket(ctx, queue);
	}
	if (ip->version != 6)
		return l3_to_socket(ctx, queue);
	if (ip->nexthdr == 0)
		return count(XSKFWD_CNT_PASS_OPTIONS, XDP_PASS);
	d0 = ip->daddr.in6_u.u6_addr8[0];
	d1 = ip->daddr.in6_u.u6_addr8[1];
	s0 = ip->saddr.in6_u.u6_addr8[0];
	s1 = ip->saddr.in6_u.u6_addr8[1];
	if (d0 == 0xff)
		return count(XSKFWD_CNT_PASS_MCAST, XDP_PASS);
	if ((d0 == 0xfe && (d1 & 0xc0) == 0x80) || (s0 == 0xfe && (s1 & 0xc0) == 0x80))
		return count(XSKFWD_CNT_PASS_LINK_LOCAL, XDP_PASS);
	if (s0 == 0xff)
		return l3_to_socket(ctx, queue); /* multicast source: userspace drops it */
	if (low80_zero(&ip->saddr) || low80_zero(&ip->daddr))
		return count(XSKFWD_CNT_PASS_SPECIAL, XDP_PASS);

	__builtin_memcpy(key.addr, &ip->daddr, 16);
	steer = bpf_map_lookup_elem(&steer6, &key);
	if (steer && *steer == XSKFWD_STEER_PASS)
		return count(XSKFWD_CNT_PASS_LOCAL, XDP_PASS);
	if (steer && *steer == XSKFWD_STEER_KERNEL)
		return count(XSKFWD_CNT_PASS_NOT_OURS, XDP_PASS);
	if (ip->hop_limit <= 1)
		return count(XSKFWD_CNT_PASS_TTL, XDP_PASS);
	limit = len_limit(1);
	if (bpf_ntohs(ip->payload_len) + (__u32)sizeof(*ip) > limit)
		return count(XSKFWD_CNT_PASS_MTU, XDP_PASS);
	if (chain_padded(ctx, bpf_ntohs(ip->payload_len) + (__u32)sizeof(*ip)))
		return count(XSKFWD_CNT_PASS_PADDED, XDP_PASS);
	if (steer && *steer == XSKFWD_STEER_REDIRECT)
		return l3_to_socket(ctx, queue);

	p.family = AF_INET6;
	p.flowinfo = *(__be32 *)ip & bpf_htonl(0x0fffffff);
	p.l4_protocol = ip->nexthdr;
	p.tot_len = bpf_ntohs(ip->payload_len) + sizeof(*ip);
	__builtin_memcpy(p.ipv6_src, &ip->saddr, 16);
	__builtin_memcpy(p.ipv6_dst, &ip->daddr, 16);
	p.ifindex = ctx->ingress_ifindex;
	return fib_verdict(ctx, &p, queue);
}

static __always_inline int l3(struct xdp_md *ctx, struct ethhdr *eth, void *data_end, __u32 queue)
{
	/* Only frames addressed to this port's MAC: the kernel drops other
	 * unicast (PACKET_OTHERHOST) and handles broadcast/multicast itself. */
	if (eth->h_dest[0] != port_mac[0] || eth->h_dest[1] != port_mac[1] ||
	    eth->h_dest[2] != port_mac[2] || eth->h_dest[3] != port_mac[3] ||
	    eth->h_dest[4] != port_mac[4] || eth->h_dest[5] != port_mac[5])
		return count(XSKFWD_CNT_PASS_L2_DST, XDP_PASS);
	if (eth->h_proto == bpf_htons(ETH_P_IP))
		return l3_ipv4(ctx, eth + 1, data_end, queue);
	if (eth->h_proto == bpf_htons(ETH_P_IPV6))
		return l3_ipv6(ctx, eth + 1, data_end, queue);
	return count(XSKFWD_CNT_PASS_NOT_IP, XDP_PASS);
}

SEC("xdp")
int xskfwd_xdp(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	__u32 queue = ctx->rx_queue_index;

	if ((void *)(eth + 1) > data_end)
		return count(XSKFWD_CNT_PASS_SHORT, XDP_PASS);

	if (queue >= XSKFWD_MAX_QUEUES)
		return count(XSKFWD_CNT_PASS_QUEUE, XDP_PASS);

	if (xskfwd_mode == XSKFWD_MODE_L3)
		return l3(ctx, eth, data_end, queue);

	/* L2 cross-connect: the port is a wire, every frame is forwarded. */
	return to_socket(queue);
}

/*
 * A program that passes everything. The lab attaches it to the far ends of
 * its veth pairs: a veth only accepts XDP_REDIRECT (ndo_xdp_xmit) from its
 * peer when the receiving end has an XDP program of its own. It accepts
 * multi-buffer frames (xdp.frags), so a veth carrying it may have an MTU
 * above a page (jumbo frames).
 */
SEC("xdp.frags")
int xskfwd_pass(struct xdp_md *ctx)
{
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
