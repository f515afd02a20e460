/* SPDX-License-Identifier: GPL-2.0 */
/*
 * steer.h - userspace half of software RSS (bpf/steer.bpf.c, bpf/lib/flow_mark.h):
 * load and attach the XDP program on an underlay device, fill its cpumap and
 * CPU set, check the device's GRO settings, set the sender's flow-mark key.
 */
#ifndef BPFTUN_STEER_H
#define BPFTUN_STEER_H

#include <stddef.h>
#include <stdint.h>
#include "steer_shared.h"

struct steer_opts {
	const char *ifname;   /* underlay device (current network namespace) */
	uint16_t listen_port; /* host order; 0 = ESP only */
	const uint32_t *cpus; /* allowed CPUs; NULL = every online CPU */
	unsigned int ncpus;
	uint32_t qsize;	     /* cpumap queue per CPU; 0 = BPFTUN_STEER_QSIZE */
	int esp;	     /* steer ESP (kernel IPsec SAs) too */
	int fix_gro;	     /* turn GRO list / UDP GRO forwarding off instead of refusing */
	const char *pin_dir; /* pin steer_cfg, steer_stats, cpu_map here; NULL = no pins */
	int tunnel;	     /* attached for a tunnel: BPFTUN_STEER_F_TUNNEL */
};

/* GRO features that let the cpumap merge data messages into one skb, which
 * tc_open must drop (too_big): rx-udp-gro-forwarding and rx-gro-list. With
 * fix, turn the ones that are on off. 0 when none is (or no longer) on,
 * -EBUSY when one is on and fix is 0 (its name in why), other -errno on
 * failure. */
int steer_gro_check(const char *ifname, int fix, char *why, size_t whylen);

/* Check GRO (steer_gro_check with o->fix_gro), load xdp_steer, create one
 * cpumap entry per allowed CPU (o->qsize), write the CPU set and a random
 * fallback-hash key, and attach it in native (driver) mode. Nothing is
 * attached when any step fails, and an XDP program already on the device is
 * never replaced (-EBUSY). 0 or -errno; err names the step. */
int steer_attach(const struct steer_opts *o, char *err, size_t errlen);

/* Detach xdp_steer from ifname (native mode). 0 when nothing is attached;
 * -EBUSY, and nothing changes, when the attached program is not xdp_steer. */
int steer_detach(const char *ifname);

/* Sender side: a fresh random key and bits (0 = marking off, else
 * 1..BPFTUN_MARK_BITS_MAX) into the datapath's flow_mark_cfg map. */
int steer_set_mark(int flow_mark_cfg_fd, unsigned int bits);

/* Sum of the per-CPU steer_stats. */
int steer_read_stats(int steer_stats_fd, struct bpftun_steer_stats *sum);

#endif /* BPFTUN_STEER_H */
