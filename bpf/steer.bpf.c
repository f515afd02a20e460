// SPDX-License-Identifier: GPL-2.0
/*
 * steer.bpf.c - software RSS on the underlay (XDP, one instance per device).
 *
 * A peer's data messages all share one outer 5-tuple, so hardware RSS puts
 * them on one queue and one CPU. xdp_steer moves each message, through a
 * cpumap, to a CPU chosen from the allowed set (`steer_cfg`):
 *   - bpftun data messages (UDP to our port, type 4, addressed to this host
 *     by the same fib rule as tc_open): by the sender's flow mark
 *     (bpftun_hdr.reserved[0], see lib/flow_mark.h), so one inner flow stays
 *     on one CPU, in order; without a mark by a keyed hash of the outer
 *     tuple (one CPU per peer, as before, but peers spread);
 *   - ESP (IP protocol 50, IPv4 and IPv6 outer, no extension headers): the
 *     kernel's SA is looked up with bpf_xdp_get_xfrm_state; a per-CPU SA
 *     (RFC 9611, xfrm_state.pcpu_num, checked with CO-RE) goes to its own
 *     CPU, any other found SA by a keyed hash of its SPI. Unknown SPIs pass.
 * tc_open (or the kernel's ESP input) then runs on the chosen CPU, after the
 * cpumap kthread has built the skb. Everything else is XDP_PASS, untouched:
 * handshake and cookie messages, foreign traffic, transit, VLAN frames,
 * fragments. The program never writes the packet.
 */
#include "lib/common.h"
#include "lib/siphash.h"
#include "lib/local.h"
#include "steer_shared.h"

char LICENSE[] SEC("license") = "GPL";

#define ETH_P_8021Q  0x8100
#define ETH_P_8021AD 0x88A8
#define IPPROTO_ESP  50
#define AF_INET	     2
#define AF_INET6     10
#define NO_PCPU	     0xffffffffU

extern struct xfrm_state *
bpf_xdp_get_xfrm_state(struct xdp_md *ctx, struct bpf_xfrm_state_opts *opts, __u32 opts__sz) __ksym;
extern void bpf_xdp_xfrm_state_release(struct xfrm_state *x) __ksym;

struct {
	__uint(type, BPF_MAP_TYPE_CPUMAP);
	__uint(max_entries, BPFTUN_STEER_MAX_CPUS);
	__type(key, __u32);
	__type(value, struct bpf_cpumap_val);
} cpu_map SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct bpftun_steer_cfg);
} steer_cfg SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct bpftun_steer_stats);
} steer_stats SEC(".maps");

/* Redirect to cpu through the cpumap; XDP_PASS (counted) when it has no entry. */
static __always_inline int to_cpu(struct bpftun_steer_stats *st, __u32 cpu)
{
	long rc;

	if (cpu >= BPFTUN_STEER_MAX_CPUS) {
		st->no_cpu++;
		return XDP_PASS;
	}
	rc = bpf_redirect_map(&cpu_map, cpu, XDP_PASS);
	if (rc != XDP_REDIRECT) {
		st->no_cpu++;
		return XDP_PASS;
	}
	st->steered++;
	st->to_cpu[cpu & (BPFTUN_STEER_MAX_CPUS - 1)]++;
	return XDP_REDIRECT;
}

/* The CPU of slot `h` in the allowed set. */
static __always_inline int to_slot(struct bpftun_steer_cfg *c, struct bpftun_steer_stats *st,
				   __u32 h)
{
	__u32 n = c->ncpus, i;

	if (!n || n > BPFTUN_STEER_MAX_CPUS) {
		st->no_cpu++;
		return XDP_PASS;
	}
	/* The verifier does not bound a modulo: mask after it, and keep clang
	 * from dropping the mask it can prove redundant. */
	i = h % n;
	barrier_var(i);
	return to_cpu(st, c->cpus[i & (BPFTUN_STEER_MAX_CPUS - 1)]);
}

/* ESP: find the SA the kernel will use; every found state is released
 * before anything else happens (the verifier refuses a path that leaks it). */
static __always_inline int steer_esp(struct xdp_md *ctx, struct bpftun_steer_cfg *c,
				     struct bpftun_steer_stats *st, int v6, const void *daddr,
				     __be32 spi)
{
	struct bpf_xfrm_state_opts o = {};
	struct bpftun_flow_tuple t = {};
	struct xfrm_state *x;
	__u32 pcpu = NO_PCPU;

	o.netns_id = -1; /* BPF_F_CURRENT_NETNS */
	o.spi = spi;
	o.proto = IPPROTO_ESP;
	o.family = v6 ? AF_INET6 : AF_INET;
	__builtin_memcpy(&o.daddr, daddr, v6 ? 16 : 4);
	x = bpf_xdp_get_xfrm_state(ctx, &o, sizeof(o));
	if (!x) {
		if (o.error == -ENOENT)
			st->esp_not_found++;
		else
			st->esp_error++;
		return XDP_PASS;
	}
	st->esp_found++;
	if (bpf_core_field_exists(x->pcpu_num))
		pcpu = x->pcpu_num;
	bpf_xdp_xfrm_state_release(x);

	if (pcpu != NO_PCPU && pcpu < BPFTUN_STEER_MAX_CPUS &&
	    bpf_redirect_map(&cpu_map, pcpu, XDP_PASS) == XDP_REDIRECT) {
		st->steered++;
		st->esp_steered++;
		st->esp_pcpu++;
		st->to_cpu[pcpu & (BPFTUN_STEER_MAX_CPUS - 1)]++;
		return XDP_REDIRECT;
	}
	t.proto = IPPROTO_ESP;
	t.family = v6 ? 6 : 4;
	__builtin_memcpy(t.daddr, daddr, v6 ? 16 : 4);
	__builtin_memcpy(t.saddr, &spi, 4);
	{
		int rc = to_slot(c, st, (__u32)bpftun_siphash(c->key, (const __u64 *)&t, 5));

		if (rc == XDP_REDIRECT)
			st->esp_steered++;
		return rc;
	}
}

SEC("xdp")
int xdp_steer(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct bpftun_steer_stats *st;
	struct bpftun_steer_cfg *c;
	struct bpftun_flow_tuple t = {};
	struct bpf_fib_lookup fib = {};
	struct udphdr *udp;
	__u8 *msg;
	__u32 zero = 0;
	int v6;

	if ((void *)(eth + 1) > end)
		return XDP_PASS;
	/* VLAN-tagged frames belong to the VLAN device: passed, as in tc_open. */
	if (eth->h_proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = (void *)(eth + 1);
		__u32 ihl;

		if ((void *)(ip + 1) > end || ip->version != 4 || ip->ihl < 5)
			return XDP_PASS;
		if (ip->frag_off & bpf_htons(0x3fff)) /* fragments: the stack reassembles */
			return XDP_PASS;
		ihl = ip->ihl * 4;
		if (ip->protocol == IPPROTO_ESP) {
			__be32 *spi = (void *)ip + ihl;

			if ((void *)(spi + 1) > end)
				return XDP_PASS;
			c = bpf_map_lookup_elem(&steer_cfg, &zero);
			st = bpf_map_lookup_elem(&steer_stats, &zero);
			if (!c || !st || !(c->flags & BPFTUN_STEER_F_ESP))
				return XDP_PASS;
			return steer_esp(ctx, c, st, 0, &ip->daddr, *spi);
		}
		if (ip->protocol != IPPROTO_UDP)
			return XDP_PASS;
		udp = (void *)ip + ihl;
		v6 = 0;
		t.family = 4;
		__builtin_memcpy(t.saddr, &ip->saddr, 4);
		__builtin_memcpy(t.daddr, &ip->daddr, 4);
		fib.family = AF_INET;
		fib.tos = ip->tos;
		fib.ipv4_src = ip->saddr;
		fib.ipv4_dst = ip->daddr;
	} else if (eth->h_proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = (void *)(eth + 1);

		if ((void *)(ip6 + 1) > end || ip6->version != 6)
			return XDP_PASS;
		if (ip6->nexthdr == IPPROTO_ESP) {
			__be32 *spi = (void *)(ip6 + 1);

			if ((void *)(spi + 1) > end)
				return XDP_PASS;
			c = bpf_map_lookup_elem(&steer_cfg, &zero);
			st = bpf_map_lookup_elem(&steer_stats, &zero);
			if (!c || !st || !(c->flags & BPFTUN_STEER_F_ESP))
				return XDP_PASS;
			return steer_esp(ctx, c, st, 1, &ip6->daddr, *spi);
		}
		if (ip6->nexthdr != IPPROTO_UDP)
			return XDP_PASS;
		udp = (void *)(ip6 + 1);
		v6 = 1;
		t.family = 6;
		__builtin_memcpy(t.saddr, &ip6->saddr, 16);
		__builtin_memcpy(t.daddr, &ip6->daddr, 16);
		fib.family = AF_INET6;
		fib.flowinfo = *(__be32 *)ip6 & bpf_htonl(0x0fffffff);
		__builtin_memcpy(fib.ipv6_src, &ip6->saddr, 16);
		__builtin_memcpy(fib.ipv6_dst, &ip6->daddr, 16);
	} else {
		return XDP_PASS;
	}

	/* UDP to our port, carrying at least a whole data header of type 4. */
	msg = (__u8 *)(udp + 1);
	if ((void *)(msg + BPFTUN_HDR_LEN) > end)
		return XDP_PASS;
	c = bpf_map_lookup_elem(&steer_cfg, &zero);
	st = bpf_map_lookup_elem(&steer_stats, &zero);
	if (!c || !st || !c->listen_port || udp->dest != c->listen_port)
		return XDP_PASS;
	if (msg[0] != BPFTUN_MSG_DATA)
		return XDP_PASS; /* handshake, cookie, unknown: the socket's */
	fib.l4_protocol = IPPROTO_UDP;
	fib.sport = udp->source;
	fib.dport = udp->dest;
	t.sport = udp->source;
	t.dport = udp->dest;
	t.proto = IPPROTO_UDP;
	(void)v6;
	if (!addressed_to_us(ctx, &fib, ctx->ingress_ifindex)) {
		st->transit++;
		return XDP_PASS;
	}
	if (msg[1]) {
		st->data_marked++;
		return to_slot(c, st, msg[1] - 1u);
	}
	st->data_unmarked++;
	return to_slot(c, st, (__u32)bpftun_siphash(c->key, (const __u64 *)&t, 5));
}
