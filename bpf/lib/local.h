/* SPDX-License-Identifier: GPL-2.0 */
/*
 * lib/local.h - "is this packet addressed to this host?", the one rule that
 * tc_open (lib/open.h) and xdp_steer (steer.bpf.c) both apply before they
 * touch or count a data message; docs/kernel.md has the measured behaviour
 * of bpf_fib_lookup it relies on.
 */
#ifndef BPFTUN_LIB_LOCAL_H
#define BPFTUN_LIB_LOCAL_H

#include "common.h"

/* Is this packet addressed to this host? Asked only of data messages to our
 * port, before anything is counted. The kernel's own routing decides, with
 * the input lookup the stack will make (bpf_fib_lookup, ingress device as
 * iif, the packet's addresses, ports and TOS):
 *   - a unicast route (SUCCESS, NO_NEIGH, FRAG_NEEDED): the stack would
 *     forward it, it is transit: not ours;
 *   - BLACKHOLE, UNREACHABLE, PROHIBIT, UNSUPP_LWT: the stack discards or
 *     tunnels it elsewhere: not ours;
 *   - NOT_FWDED: a local (or broadcast, multicast, unroutable) destination:
 *     ours;
 *   - FWD_DISABLED: the kernel checks forwarding on the device before it
 *     looks at the destination, so this says nothing about it; but a device
 *     that does not forward only delivers locally or drops, so a packet there
 *     is never transit: ours. This is the common case of a host (not a
 *     router), and costs no route lookup at all;
 *   - an error (< 0): cannot tell: ours, as before the check existed.
 * SKIP_NEIGH: the neighbour is irrelevant to the answer. */
static __always_inline int addressed_to_us(void *ctx, struct bpf_fib_lookup *f, __u32 ifindex)
{
	long rc;

	f->ifindex = ifindex;
	rc = bpf_fib_lookup(ctx, f, sizeof(*f), BPF_FIB_LOOKUP_SKIP_NEIGH);
	switch (rc) {
	case BPF_FIB_LKUP_RET_NOT_FWDED:
	case BPF_FIB_LKUP_RET_FWD_DISABLED:
		return 1;
	case BPF_FIB_LKUP_RET_SUCCESS:
	case BPF_FIB_LKUP_RET_NO_NEIGH:
	case BPF_FIB_LKUP_RET_FRAG_NEEDED:
	case BPF_FIB_LKUP_RET_BLACKHOLE:
	case BPF_FIB_LKUP_RET_UNREACHABLE:
	case BPF_FIB_LKUP_RET_PROHIBIT:
	case BPF_FIB_LKUP_RET_UNSUPP_LWT:
		return 0;
	default:
		return 1;
	}
}

#endif
