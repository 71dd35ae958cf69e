// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * xskfwd's benchmark tools: a traffic generator and the programs a
 * benchmark puts at the far end or at the device under test.
 *
 * xskfwd_gen      run with BPF_PROG_RUN + BPF_F_TEST_XDP_LIVE_FRAMES (never
 *                 attached): each run stamps the template frame and returns
 *                 XDP_TX, which the kernel turns into a transmission out of
 *                 the ctx's ingress interface (the xdp-trafficgen technique).
 * xskfwd_sink     counts and drops (or passes, or redirects to an AF_XDP
 *                 socket for checking) at the receiving end.
 * xskfwd_drop     counts and drops at a dut port: the "ceiling" path.
 * xskfwd_redirect in-kernel L3 forwarding with bpf_fib_lookup +
 *                 bpf_redirect: the "xdp-redirect" reference path.
 *
 * Counters are per CPU; userspace sums them.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/in.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "tools.h"

#define AF_INET 2
#define AF_INET6 10

/* ---------------------------------------------------------------- gen -- */

/*
 * The live-frames mode keeps its pages in a page pool and hands them to the
 * program again without resetting their contents (only data/data_end are
 * reset when the program moved them). So every byte that varies between
 * frames is written on every run: the sequence number and timestamp, the
 * UDP source port and checksum and, when several sizes are in use, the
 * length fields and the IPv4 header checksum. Everything else stays as
 * userspace built it in the template (the largest size of the schedule).
 *
 * Userspace precomputes, per size k, the IP length field, the IPv4 header
 * checksum and the one's-complement sum of the UDP pseudo-header, UDP
 * header and payload with source port, checksum, sequence number and
 * timestamp all zero; the program adds those four in and folds.
 *
 * With a rate, the program paces itself (see struct tools_gen_state): a
 * run that comes before the next frame is due spins on the clock for a
 * while and then returns XDP_DROP without using a sequence number.
 */
const volatile __u32 gen_v6 = 0;              /* 1: IPv6 template, 0: IPv4 */
const volatile __u32 gen_flows = 1;           /* UDP source ports used, >= 1 */
const volatile __u32 gen_base_port = 49152;   /* first UDP source port */
const volatile __u32 gen_sched_len = 1;       /* 1: fixed size */
const volatile __u8 gen_sched[TOOLS_GEN_SCHED_MAX] = {};
const volatile __u32 gen_frame_len[TOOLS_GEN_MAX_SIZES] = {};
const volatile __u32 gen_ip_len[TOOLS_GEN_MAX_SIZES] = {};  /* v4 tot_len / v6 payload_len */
const volatile __u32 gen_ip_csum[TOOLS_GEN_MAX_SIZES] = {}; /* v4 header checksum */
const volatile __u32 gen_udp_sum[TOOLS_GEN_MAX_SIZES] = {}; /* folded partial sum */
/* The template's Ethernet + IP header, rewritten on every run: forwarders
 * that rewrite in place (MACs, TTL, checksum; e.g. XDP redirect) modify the
 * very pages the live-frames mode hands back to this program. */
const volatile __u8 gen_hdr[64] = {};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct tools_gen_state);
} gen_state SEC(".maps");

struct gen_counters {
	__u64 c[TOOLS_GEN_CNT_MAX];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct gen_counters);
} gen_counters SEC(".maps");

static __always_inline __u64 words16(__u64 x)
{
	return (x >> 48) + ((x >> 32) & 0xffff) + ((x >> 16) & 0xffff) + (x & 0xffff);
}

static __always_inline __u16 fold16(__u64 s)
{
	s = (s & 0xffffffff) + (s >> 32);
	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	return (__u16)s;
}

static __always_inline int gen_count(struct gen_counters *cnt, __u32 which, __u64 n, int action)
{
	if (cnt && which < TOOLS_GEN_CNT_MAX)
		cnt->c[which] += n;
	return action;
}

SEC("xdp")
int xskfwd_gen(struct xdp_md *ctx)
{
	__u32 zero = 0, k = 0, len, cur, port;
	struct tools_gen_state *st = bpf_map_lookup_elem(&gen_state, &zero);
	struct gen_counters *cnt = bpf_map_lookup_elem(&gen_counters, &zero);
	void *data, *data_end;
	struct udphdr *udp;
	__u8 *pl;
	__u64 seq, ts, sum, v;
	__u16 csum;

	if (!st)
		return gen_count(cnt, TOOLS_GEN_ERROR, 1, XDP_DROP);
	if (st->interval_ps) {
		__u64 now = bpf_ktime_get_ns(), due, until;

		if (!st->start_ns)
			st->start_ns = now;
		due = st->start_ns + (st->next_seq - st->first_seq) * st->interval_ps / 1000;
		until = now + st->spin_ns;
		for (int i = 0; i < TOOLS_GEN_SPIN_READS && now < due && now < until; i++)
			now = bpf_ktime_get_ns();
		if (now < due)
			return gen_count(cnt, TOOLS_GEN_WAIT, 1, XDP_DROP);
	}
	/* Numbers below the limit are handed out exactly once; one at or
	 * above it is given back, so next_seq never passes the limit. */
	seq = __sync_fetch_and_add(&st->next_seq, 1);
	if (seq == st->skip_seq)
		seq = __sync_fetch_and_add(&st->next_seq, 1);
	if (seq >= st->limit) {
		__sync_fetch_and_sub(&st->next_seq, 1);
		return gen_count(cnt, TOOLS_GEN_OVER, 1, XDP_DROP);
	}

	if (gen_sched_len > 1) {
		k = gen_sched[(seq % gen_sched_len) & (TOOLS_GEN_SCHED_MAX - 1)] &
		    (TOOLS_GEN_MAX_SIZES - 1);
		len = gen_frame_len[k];
		cur = ctx->data_end - ctx->data;
		if (len != cur && bpf_xdp_adjust_tail(ctx, (int)len - (int)cur))
			return gen_count(cnt, TOOLS_GEN_ERROR, 1, XDP_DROP);
	}
	data = (void *)(long)ctx->data;
	data_end = (void *)(long)ctx->data_end;
	/* Byte by byte through the volatile rodata (a memcpy that casts the
	 * volatile away may be folded to the zero initialiser). */
	if (data + 54 > data_end)
		return gen_count(cnt, TOOLS_GEN_ERROR, 1, XDP_DROP);
	if (gen_v6) {
#pragma unroll
		for (int i = 0; i < 54; i++)
			((__u8 *)data)[i] = gen_hdr[i];
	} else {
#pragma unroll
		for (int i = 0; i < 34; i++)
			((__u8 *)data)[i] = gen_hdr[i];
	}

	if (gen_v6) {
		struct ipv6hdr *ip6 = data + sizeof(struct ethhdr);

		udp = (void *)(ip6 + 1);
		pl = (void *)(udp + 1);
		if ((void *)(pl + TOOLS_GEN_STAMP_LEN) > data_end)
			return gen_count(cnt, TOOLS_GEN_ERROR, 1, XDP_DROP);
		if (gen_sched_len > 1) {
			ip6->payload_len = bpf_htons(gen_ip_len[k]);
			udp->len = bpf_htons(gen_ip_len[k]);
		}
	} else {
		struct iphdr *ip4 = data + sizeof(struct ethhdr);

		udp = (void *)(ip4 + 1);
		pl = (void *)(udp + 1);
		if ((void *)(pl + TOOLS_GEN_STAMP_LEN) > data_end)
			return gen_count(cnt, TOOLS_GEN_ERROR, 1, XDP_DROP);
		if (gen_sched_len > 1) {
			ip4->tot_len = bpf_htons(gen_ip_len[k]);
			ip4->check = bpf_htons(gen_ip_csum[k]);
			udp->len = bpf_htons(gen_ip_len[k] - sizeof(struct iphdr));
		}
	}

	port = gen_base_port;
	if (gen_flows > 1)
		port += seq % gen_flows;
	port &= 0xffff;
	ts = bpf_ktime_get_ns();

	udp->source = bpf_htons(port);
	v = bpf_cpu_to_be64(seq);
	__builtin_memcpy(pl + TOOLS_GEN_SEQ_OFF, &v, 8);
	v = bpf_cpu_to_be64(ts);
	__builtin_memcpy(pl + TOOLS_GEN_TS_OFF, &v, 8);

	sum = (__u64)gen_udp_sum[k] + port + words16(seq) + words16(ts);
	csum = ~fold16(sum);
	if (csum == 0)
		csum = 0xffff; /* 0 means "no checksum" in UDP */
	udp->check = bpf_htons(csum);

	st->last_ns = ts;
	len = data_end - data;
	gen_count(cnt, TOOLS_GEN_BYTES, len, 0);
	return gen_count(cnt, TOOLS_GEN_SENT, 1, XDP_TX);
}

/* ------------------------------------------------- sink, drop, redirect -- */

const volatile __u32 sink_action = TOOLS_SINK_DROP;

struct tools_counters {
	__u64 c[TOOLS_CNT_MAX];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct tools_counters);
} counters SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_XSKMAP);
	__uint(max_entries, TOOLS_MAX_QUEUES);
	__type(key, __u32);
	__type(value, __u32);
} xsks SEC(".maps");

static __always_inline struct tools_counters *seen(struct xdp_md *ctx)
{
	__u32 zero = 0;
	struct tools_counters *cnt = bpf_map_lookup_elem(&counters, &zero);

	if (cnt) {
		cnt->c[TOOLS_CNT_PACKETS] += 1;
		/* The whole frame, every buffer of a multi-buffer one. */
		cnt->c[TOOLS_CNT_BYTES] += bpf_xdp_get_buff_len(ctx);
	}
	return cnt;
}

static __always_inline int count(struct tools_counters *cnt, __u32 which, int action)
{
	if (cnt && which < TOOLS_CNT_MAX)
		cnt->c[which] += 1;
	return action;
}

/*
 * The programs below sit on veths and accept multi-buffer frames
 * (xdp.frags): a veth whose peer has an MTU above about 3.5 KB takes only
 * such programs, and then hands them frames of several buffers. Only the
 * first buffer is in data..data_end; the headers are always there.
 */
SEC("xdp.frags")
int xskfwd_sink(struct xdp_md *ctx)
{
	struct tools_counters *cnt = seen(ctx);

	if (sink_action == TOOLS_SINK_XSK) {
		if (bpf_redirect_map(&xsks, ctx->rx_queue_index, XDP_DROP) == XDP_REDIRECT)
			return count(cnt, TOOLS_CNT_REDIRECT, XDP_REDIRECT);
		return count(cnt, TOOLS_CNT_DROP, XDP_DROP);
	}
	if (sink_action == TOOLS_SINK_PASS)
		return count(cnt, TOOLS_CNT_PASS, XDP_PASS);
	return count(cnt, TOOLS_CNT_DROP, XDP_DROP);
}

SEC("xdp.frags")
int xskfwd_drop(struct xdp_md *ctx)
{
	return count(seen(ctx), TOOLS_CNT_DROP, XDP_DROP);
}

/* RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m'), on host-order 16-bit words,
 * with the -0 result mapped to +0 like src/wire/checksum.rs::update, so the
 * result equals a full recompute bit for bit. */
static __always_inline __u16 csum_replace(__u16 hc, __u16 old, __u16 new)
{
	__u32 s = (__u32)(__u16)~hc + (__u32)(__u16)~old + new;

	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	return s ? (__u16)~s : 0;
}

/*
 * Forwards IPv4/IPv6 the way the kernel's FIB says, entirely in XDP:
 * bpf_fib_lookup (routes, neighbours, MTU, forwarding sysctl), new MACs
 * from its answer, TTL / hop limit one lower (IPv4 header checksum updated
 * incrementally), bpf_redirect to the egress interface. Anything the FIB
 * does not resolve to SUCCESS (no route, no neighbour yet, too big,
 * forwarding off, local), TTL <= 1 and anything not IP goes to the kernel.
 *
 * A multi-buffer frame is redirected whole: bpf_redirect hands the
 * xdp_frame with its fragments to the egress device's ndo_xdp_xmit, which
 * for veth takes multi-buffer frames (NETDEV_XDP_ACT_NDO_XMIT_SG) up to
 * the peer's MTU. The FIB's MTU check sees the IP length, so a frame
 * larger than the egress MTU goes to the kernel.
 *
 * Attach it to every dut port (each is the ingress of one direction). On
 * veth the egress device's *peer* must run an XDP program too (veth
 * accepts ndo_xdp_xmit only then); the lab's far ends have one.
 */
SEC("xdp.frags")
int xskfwd_redirect(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct tools_counters *cnt = seen(ctx);
	struct ethhdr *eth = data;
	struct bpf_fib_lookup p = {};
	long rc;

	if ((void *)(eth + 1) > data_end)
		return count(cnt, TOOLS_CNT_PASS, XDP_PASS);

	if (eth->h_proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = (void *)(eth + 1);
		__u16 old, new;

		if ((void *)(ip + 1) > data_end || ip->ttl <= 1)
			return count(cnt, TOOLS_CNT_PASS, XDP_PASS);
		p.family = AF_INET;
		p.tos = ip->tos;
		p.l4_protocol = ip->protocol;
		p.tot_len = bpf_ntohs(ip->tot_len);
		p.ipv4_src = ip->saddr;
		p.ipv4_dst = ip->daddr;
		p.ifindex = ctx->ingress_ifindex;
		rc = bpf_fib_lookup(ctx, &p, sizeof(p), 0);
		if (rc != BPF_FIB_LKUP_RET_SUCCESS)
			return count(cnt, TOOLS_CNT_PASS, XDP_PASS);
		old = ((__u16)ip->ttl << 8) | ip->protocol;
		ip->ttl -= 1;
		new = ((__u16)ip->ttl << 8) | ip->protocol;
		ip->check = bpf_htons(csum_replace(bpf_ntohs(ip->check), old, new));
	} else if (eth->h_proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = (void *)(eth + 1);

		if ((void *)(ip6 + 1) > data_end || ip6->hop_limit <= 1)
			return count(cnt, TOOLS_CNT_PASS, XDP_PASS);
		p.family = AF_INET6;
		p.flowinfo = *(__be32 *)ip6 & bpf_htonl(0x0fffffff);
		p.l4_protocol = ip6->nexthdr;
		p.tot_len = bpf_ntohs(ip6->payload_len) + sizeof(*ip6);
		__builtin_memcpy(p.ipv6_src, &ip6->saddr, 16);
		__builtin_memcpy(p.ipv6_dst, &ip6->daddr, 16);
		p.ifindex = ctx->ingress_ifindex;
		rc = bpf_fib_lookup(ctx, &p, sizeof(p), 0);
		if (rc != BPF_FIB_LKUP_RET_SUCCESS)
			return count(cnt, TOOLS_CNT_PASS, XDP_PASS);
		ip6->hop_limit -= 1;
	} else {
		return count(cnt, TOOLS_CNT_PASS, XDP_PASS);
	}
	__builtin_memcpy(eth->h_dest, p.dmac, ETH_ALEN);
	__builtin_memcpy(eth->h_source, p.smac, ETH_ALEN);
	return count(cnt, TOOLS_CNT_REDIRECT, bpf_redirect(p.ifindex, 0));
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
