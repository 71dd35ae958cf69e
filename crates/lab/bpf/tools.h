/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Shared between bpf/tools.bpf.c and src/bpf_tools.rs (which mirrors these values). */
#ifndef XSKFWD_TOOLS_H
#define XSKFWD_TOOLS_H

/* Frame sizes one generator instance cycles through (IMIX uses 3). Power of two. */
#define TOOLS_GEN_MAX_SIZES 4
/* Length of the size schedule (IMIX 7:4:1 uses 12). Power of two. */
#define TOOLS_GEN_SCHED_MAX 16
/* Bytes the generator rewrites at the start of the UDP payload:
 * magic (4, from the template) | sequence number (u64 BE) | timestamp (u64 BE). */
#define TOOLS_GEN_STAMP_LEN 20
#define TOOLS_GEN_SEQ_OFF 4
#define TOOLS_GEN_TS_OFF 12

/* The generator's state (one ARRAY entry). Userspace sets everything but
 * next_seq between BPF_PROG_RUN calls; next_seq only moves forward.
 *
 * Pacing (interval_ps != 0): sequence number s is not sent before
 * start_ns + (s - first_seq) * interval_ps / 1000; a run that comes too
 * early returns XDP_DROP without using a number. start_ns 0 is replaced by
 * the time of the first run of a call (the kernel spends milliseconds
 * setting a call up before the program first runs). A run that comes
 * early first spins on the clock for up to spin_ns (at most
 * TOOLS_GEN_SPIN_READS reads), so that a run mostly ends in a send. */
struct tools_gen_state {
	__u64 next_seq;    /* next sequence number to hand out */
	__u64 limit;       /* sequence numbers >= limit are never sent */
	__u64 skip_seq;    /* test hook: this number is consumed but never sent (~0: none) */
	__u64 start_ns;    /* pacing: bpf_ktime_get_ns of first_seq (0: the first run) */
	__u64 first_seq;   /* pacing: the number due at start_ns */
	__u64 interval_ps; /* pacing: picoseconds between frames (0: no pacing) */
	__u64 spin_ns;     /* pacing: longest wait inside one run */
	__u64 last_ns;     /* bpf_ktime_get_ns of the latest frame sent */
};

#define TOOLS_GEN_SPIN_READS 64

/* Indices of the generator's per-CPU counters. */
enum tools_gen_counter {
	TOOLS_GEN_SENT = 0,  /* frames returned with XDP_TX */
	TOOLS_GEN_BYTES,     /* their bytes (without FCS) */
	TOOLS_GEN_OVER,      /* runs after the limit (XDP_DROP) */
	TOOLS_GEN_ERROR,     /* frames the program could not stamp (XDP_DROP) */
	TOOLS_GEN_WAIT,      /* runs before the next frame was due (XDP_DROP) */
	TOOLS_GEN_CNT_MAX,
};

/* What xskfwd_sink does with a frame after counting it (rodata). */
#define TOOLS_SINK_DROP 0
#define TOOLS_SINK_PASS 1
#define TOOLS_SINK_XSK 2

#define TOOLS_MAX_QUEUES 64

/* Indices of the per-CPU counters of sink, drop and redirect. */
enum tools_counter {
	TOOLS_CNT_PACKETS = 0,  /* frames seen */
	TOOLS_CNT_BYTES,        /* their bytes */
	TOOLS_CNT_REDIRECT,     /* redirect: sent out of another port; sink: to the AF_XDP socket */
	TOOLS_CNT_PASS,         /* handed to the kernel (redirect: no FIB success; sink: PASS mode) */
	TOOLS_CNT_DROP,         /* dropped (sink/drop; sink XSK mode: no socket on the queue) */
	TOOLS_CNT_MAX,
};

#endif
