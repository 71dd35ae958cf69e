/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Shared between the XDP program and src/bpf.rs (which mirrors these values). */
#ifndef XSKFWD_H
#define XSKFWD_H

#define XSKFWD_MAX_QUEUES 64
/* Ports one xskfwd instance serves (mirrors MAX_PORTS in src/config.rs). */
#define XSKFWD_MAX_PORTS 8
/* Entries of each steering trie (local addresses + static routes). */
#define XSKFWD_STEER_ENTRIES 65536

/* Slots of each CPU's table of the next hops the kernel's FIB resolved for
 * frames sent to xskfwd: the control plane reads it to keep those
 * neighbours under the kernel's NUD state machine (NTF_USE). */
#define XSKFWD_NH_SLOTS 1024

/* One slot: a next hop (egress ifindex, family, address in network order,
 * IPv4 in the first 4 bytes) and how many frames used it. */
struct xskfwd_nh_use {
	__u32 ifindex;
	__u32 family;
	__u8 addr[16];
	__u64 hits;
};

/* XDP metadata in front of a frame the program sends to xskfwd on the
 * kernel FIB's word: the decision, so the worker executes it instead of
 * re-deciding from a mirror that can lag. 20 bytes (a multiple of 4). */
#define XSKFWD_META_MAGIC 0x78736b31 /* "xsk1" */
struct xskfwd_meta {
	__u32 magic;
	__u8 port;    /* egress: index into port_ifindex */
	__u8 flags;   /* 0 */
	__u8 dmac[6]; /* the neighbour's MAC */
	__u8 smac[6]; /* the egress device's MAC */
	__u16 pad;
};

#define XSKFWD_MODE_L2 0
#define XSKFWD_MODE_L3 1

/* Values of the steering tries. */
#define XSKFWD_STEER_PASS 1     /* the kernel's: a local/broadcast/anycast address */
#define XSKFWD_STEER_REDIRECT 2 /* xskfwd's: a static route the kernel does not know */
#define XSKFWD_STEER_KERNEL 3   /* a kernel route xskfwd does not forward (ECMP, other types) */

/* Indices into the per-CPU `counters` array. Keep in sync with src/bpf.rs. */
enum xskfwd_counter {
	XSKFWD_CNT_REDIRECT = 0,    /* sent to the AF_XDP socket */
	XSKFWD_CNT_PASS_NO_SOCKET,  /* no socket bound on this queue */
	XSKFWD_CNT_PASS_SHORT,      /* shorter than an Ethernet header, or an IP header split across buffers */
	XSKFWD_CNT_PASS_QUEUE,      /* rx queue index beyond the XSKMAP */
	/* L3 mode: why a frame went to the kernel. */
	XSKFWD_CNT_PASS_NOT_IP,     /* ARP, VLAN-tagged, anything but IPv4/IPv6 */
	XSKFWD_CNT_PASS_L2_DST,     /* destination MAC is not this port's (bcast/mcast/other host) */
	XSKFWD_CNT_PASS_OPTIONS,    /* IPv4 options or IPv6 hop-by-hop header */
	XSKFWD_CNT_PASS_TTL,        /* TTL / hop limit <= 1: the kernel sends Time Exceeded */
	XSKFWD_CNT_PASS_MCAST,      /* multicast or limited-broadcast destination */
	XSKFWD_CNT_PASS_LINK_LOCAL, /* IPv6 link-local source or destination */
	XSKFWD_CNT_PASS_LOCAL,      /* for this host (local table) */
	XSKFWD_CNT_PASS_NO_ROUTE,   /* no forwarding route (or blackhole/unreachable/prohibit) */
	XSKFWD_CNT_PASS_NO_NEIGH,   /* next hop not resolved: the kernel resolves it */
	XSKFWD_CNT_PASS_MTU,        /* larger than the egress MTU */
	XSKFWD_CNT_PASS_NOT_OURS,   /* egress is not an xskfwd port, or is the ingress port */
	XSKFWD_CNT_PASS_FWD_OFF,    /* forwarding disabled on the ingress interface */
	XSKFWD_CNT_PASS_RPF,        /* fails the reverse-path filter: the kernel decides */
	XSKFWD_CNT_PASS_SPECIAL,    /* 127/8, ::/80 (loopback, unspecified, v4-mapped): the kernel decides */
	XSKFWD_CNT_PASS_LOCAL_SRC,  /* IPv4 source is this host's address: a martian unless accept_local */
	XSKFWD_CNT_PASS_PADDED,     /* multi-buffer frame longer than its IP packet: the kernel trims it */
	XSKFWD_CNT_MAX,
};

#endif
