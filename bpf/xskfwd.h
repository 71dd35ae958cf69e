/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Shared between the XDP program and src/bpf.rs (which mirrors these values). */
#ifndef XSKFWD_H
#define XSKFWD_H

#define XSKFWD_MAX_QUEUES 64

#define XSKFWD_MODE_L2 0

/* Indices into the per-CPU `counters` array. Keep in sync with src/bpf.rs. */
enum xskfwd_counter {
	XSKFWD_CNT_REDIRECT = 0,    /* sent to the AF_XDP socket */
	XSKFWD_CNT_PASS_NO_SOCKET,  /* no socket bound on this queue */
	XSKFWD_CNT_PASS_SHORT,      /* shorter than an Ethernet header */
	XSKFWD_CNT_PASS_QUEUE,      /* rx queue index beyond the XSKMAP */
	XSKFWD_CNT_MAX,
};

#endif
