// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * xskfwd's XDP program: decide per packet whether it goes to the AF_XDP
 * socket bound to this rx queue (XSKMAP) or to the kernel (XDP_PASS).
 *
 * It never drops: anything it does not understand goes to the kernel, and
 * a queue without a bound socket falls back to XDP_PASS, so the host keeps
 * working while xskfwd starts up or shuts down.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "xskfwd.h"

/* Set by userspace before load (rodata). */
const volatile __u32 xskfwd_mode = XSKFWD_MODE_L2;

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

static __always_inline int count(__u32 which, int action)
{
	__u64 *c = bpf_map_lookup_elem(&counters, &which);

	if (c)
		*c += 1;
	return action;
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

	/* L2 cross-connect: the port is a wire, every frame is forwarded. */
	if (bpf_redirect_map(&xsks, queue, XDP_PASS) == XDP_REDIRECT)
		return count(XSKFWD_CNT_REDIRECT, XDP_REDIRECT);
	return count(XSKFWD_CNT_PASS_NO_SOCKET, XDP_PASS);
}

/*
 * A program that passes everything. The lab attaches it to the far ends of
 * its veth pairs: a veth only accepts XDP_REDIRECT (ndo_xdp_xmit) from its
 * peer when the receiving end has an XDP program of its own.
 */
SEC("xdp")
int xskfwd_pass(struct xdp_md *ctx)
{
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
