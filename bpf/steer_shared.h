/* SPDX-License-Identifier: GPL-2.0 */
/*
 * steer_shared.h - software RSS on the underlay (bpf/steer.bpf.c) and the
 * sender's flow mark (bpf/lib/flow_mark.h): the structures that BPF and
 * userspace (bpf/steer.c) share. Same rules as bpftun_shared.h: fixed
 * width types, no pointers, compiled by clang -target bpf and the host cc.
 */
#ifndef BPFTUN_STEER_SHARED_H
#define BPFTUN_STEER_SHARED_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

/* CPUs an interface may steer to (cpumap size, CPU set size, counters). */
#define BPFTUN_STEER_MAX_CPUS 64
/* Recommended cpumap queue size (frames); 128 drops and 16 collapses TCP. */
#define BPFTUN_STEER_QSIZE 2048

/* Flow mark, in bpftun_hdr.reserved[0] of data messages:
 *   0           no mark (an older or non-marking sender);
 *   1 .. 2^bits SipHash-2-4(key, inner flow tuple) mod 2^bits, plus one.
 * bits is 1..BPFTUN_MARK_BITS_MAX; 0 turns marking off. */
#define BPFTUN_MARK_BITS_MAX	 7
#define BPFTUN_MARK_BITS_DEFAULT 4

/* Value of the one-entry `flow_mark_cfg` map in the datapath (sender side). */
struct bpftun_mark_cfg {
	__u64 key[2]; /* SipHash key: random per interface, never sent */
	__u32 bits;   /* 0 = do not mark */
	__u32 pad;
};

/* What SipHash reads: the inner flow (or, for the steering fallback, the
 * outer one), 40 bytes, fixed layout. IPv4 addresses in the first 4 bytes,
 * the rest zero. Ports zero for protocols without them and for fragments. */
struct bpftun_flow_tuple {
	__u8 saddr[16];
	__u8 daddr[16];
	__u16 sport; /* network order, as on the wire */
	__u16 dport;
	__u8 proto;
	__u8 family; /* 4 or 6 */
	__u8 pad[2];
};

/* Value of the one-entry `steer_cfg` map of bpf/steer.bpf.c (receiver side). */
struct bpftun_steer_cfg {
	__u64 key[2];	   /* SipHash key for the fallback hashes (outer tuple, SPI) */
	__u16 listen_port; /* network order; 0 = no bpftun steering, ESP only */
	__u16 flags;	   /* BPFTUN_STEER_F_* */
	__u32 ncpus;	   /* entries of cpus[] in use, 1..BPFTUN_STEER_MAX_CPUS */
	__u32 cpus[BPFTUN_STEER_MAX_CPUS]; /* the allowed CPUs, each with a cpumap entry */
};
#define BPFTUN_STEER_F_ESP (1U << 0) /* steer ESP (kernel IPsec SAs) too */
/* Attached by a bpftun tunnel (tunnel/underlay.c), beside its tc_open on the
 * device: the tunnel listening on listen_port owns it, and once no live
 * tunnel's tc_open there listens on that port it is an orphan that `down`
 * and `cleanup` remove (underlay_sweep_orphans). Not read by BPF. */
#define BPFTUN_STEER_F_TUNNEL (1U << 1)

/* Counters of bpf/steer.bpf.c, one copy per CPU (the CPU that ran XDP). */
struct bpftun_steer_stats {
	__u64 data_marked;   /* bpftun data messages for this host with a mark */
	__u64 data_unmarked; /* ... without one: steered by the outer tuple */
	__u64 steered;	     /* XDP_REDIRECT into the cpumap (bpftun and ESP) */
	__u64 no_cpu;	     /* wanted to steer, but no CPU set or no cpumap entry: passed */
	__u64 transit;	     /* bpftun data to our port not addressed to this host: passed */
	__u64 esp_found;     /* ESP: bpf_xdp_get_xfrm_state found the SA */
	__u64 esp_not_found; /* ESP: -ENOENT, passed untouched */
	__u64 esp_error;     /* ESP: any other lookup error, passed untouched */
	__u64 esp_steered;   /* ESP packets redirected (also counted in steered) */
	__u64 esp_pcpu;	     /* ... of them to the per-CPU SA's own CPU */
	__u64 to_cpu[BPFTUN_STEER_MAX_CPUS]; /* redirects per target CPU */
};

#endif /* BPFTUN_STEER_SHARED_H */
