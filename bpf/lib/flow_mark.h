/* SPDX-License-Identifier: GPL-2.0 */
/*
 * flow_mark.h - the sender's flow mark for software RSS at the receiver.
 *
 * tc_seal writes one byte into bpftun_hdr.reserved[0] of every data message:
 * 1 + (SipHash-2-4(key, inner 5-tuple) mod 2^bits), or 0 when marking is off.
 * The header is the AEAD's associated data, so the mark is authenticated;
 * it is not encrypted. The key is random per interface and set by userspace
 * in `flow_mark_cfg`; see docs/protocol.md and docs/crypto.md for what an
 * observer learns from it. The receiver's XDP program (bpf/steer.bpf.c)
 * maps the mark to a CPU, so one inner flow is opened on one CPU, in order.
 */
#ifndef BPFTUN_FLOW_MARK_H
#define BPFTUN_FLOW_MARK_H

#include "steer_shared.h"
#include "siphash.h"

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct bpftun_mark_cfg);
} flow_mark_cfg SEC(".maps");

/* Ports of TCP, UDP, SCTP and UDP-Lite: the flow is the 5-tuple. */
static __always_inline int flow_has_ports(__u8 proto)
{
	return proto == 6 || proto == 17 || proto == 132 || proto == 136;
}

/* Fill t from the inner IP packet at ip[0..len) (ip: at least 128 readable
 * bytes, e.g. a scratch buffer). Fragments and protocols without ports
 * hash on addresses and protocol only, so all pieces of a flow agree. */
static __always_inline void flow_tuple(const __u8 *ip, __u32 len, struct bpftun_flow_tuple *t)
{
	__u32 l4 = 0;

	if ((ip[0] >> 4) == 4) {
		__u32 ihl = (ip[0] & 15) * 4;

		t->family = 4;
		t->proto = ip[9];
		__builtin_memcpy(t->saddr, ip + 12, 4);
		__builtin_memcpy(t->daddr, ip + 16, 4);
		/* no ports in fragments: MF set or an offset */
		if (!(((ip[6] & 0x3f) | ip[7])) && ihl >= 20)
			l4 = ihl;
	} else {
		t->family = 6;
		t->proto = ip[6];
		__builtin_memcpy(t->saddr, ip + 8, 16);
		__builtin_memcpy(t->daddr, ip + 24, 16);
		l4 = 40;
	}
	if (l4 && flow_has_ports(t->proto) && l4 + 4 <= len) {
		l4 &= 0x3c | 0x40; /* 20..60, or 40: a bound the verifier sees */
		t->sport = *(__u16 *)(ip + l4);
		t->dport = *(__u16 *)(ip + l4 + 2);
	}
}

/* The mark of the inner packet at ip[0..len) under c, 0 if marking is off. */
static __always_inline __u8 flow_mark_of(const struct bpftun_mark_cfg *c, const __u8 *ip, __u32 len)
{
	struct bpftun_flow_tuple t = {};
	__u32 bits = c->bits;
	__u64 h;

	if (!bits || bits > BPFTUN_MARK_BITS_MAX)
		return 0;
	flow_tuple(ip, len, &t);
	h = bpftun_siphash(c->key, (const __u64 *)&t, sizeof(t) / 8);
	return (__u8)(1 + (h & ((1U << bits) - 1)));
}

/* tc_seal: write the mark into the header at hdr (reserved[0]) for the
 * inner packet that follows it. */
static __always_inline void flow_mark_set(__u8 *hdr, __u32 len)
{
	__u32 zero = 0;
	struct bpftun_mark_cfg *c = bpf_map_lookup_elem(&flow_mark_cfg, &zero);

	if (c)
		hdr[1] = flow_mark_of(c, hdr + BPFTUN_HDR_LEN, len);
}

_Static_assert(sizeof(struct bpftun_flow_tuple) == 40, "flow tuple is 5 words");

#endif /* BPFTUN_FLOW_MARK_H */
