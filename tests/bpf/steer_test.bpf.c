// SPDX-License-Identifier: GPL-2.0
/*
 * steer_test.bpf.c - test wrapper around lib/flow_mark.h, run with
 * BPF_PROG_TEST_RUN by tests/test_steer.c: the input is an Ethernet frame
 * whose payload is an inner IP packet; the return value is the mark tc_seal
 * would write for it (key and bits from this object's flow_mark_cfg).
 */
#include "lib/common.h"
#include "lib/flow_mark.h"

char LICENSE[] SEC("license") = "GPL";

struct mark_buf {
	__u8 b[256];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct mark_buf);
} mark_scratch SEC(".maps");

SEC("tc")
int flow_mark_test(struct __sk_buff *skb)
{
	__u32 zero = 0, len = skb->len - BPFTUN_ETH_LEN;
	struct bpftun_mark_cfg *c = bpf_map_lookup_elem(&flow_mark_cfg, &zero);
	struct mark_buf *m = bpf_map_lookup_elem(&mark_scratch, &zero);

	if (!c || !m || skb->len <= BPFTUN_ETH_LEN)
		return -1;
	barrier_var(len);
	if (len == 0 || len > 128)
		return -1;
	__builtin_memset(m->b, 0, sizeof(m->b));
	if (bpf_skb_load_bytes(skb, BPFTUN_ETH_LEN, m->b, len & 0xff))
		return -1;
	return flow_mark_of(c, m->b, len);
}

/* Negative test for the verifier: looks an xfrm state up and returns without
 * releasing it. It must never load ("Unreleased reference"). */
extern struct xfrm_state *
bpf_xdp_get_xfrm_state(struct xdp_md *ctx, struct bpf_xfrm_state_opts *opts, __u32 opts__sz) __ksym;
extern void bpf_xdp_xfrm_state_release(struct xfrm_state *x) __ksym;

SEC("xdp")
int xdp_leak_probe(struct xdp_md *ctx)
{
	struct bpf_xfrm_state_opts o = {.netns_id = -1, .proto = 50, .family = 2};
	struct xfrm_state *x = bpf_xdp_get_xfrm_state(ctx, &o, sizeof(o));

	if (x && x->id.spi == 1)
		bpf_xdp_xfrm_state_release(x); /* released on one path only */
	return XDP_PASS;
}
