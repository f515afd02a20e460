// SPDX-License-Identifier: GPL-2.0
/*
 * xfrm_ref.bpf.c - test probe for tests/esp_tool.c: look one xfrm state up
 * with bpf_xdp_get_xfrm_state (the kfunc xdp_steer uses), read its reference
 * count, release it. Run with BPF_PROG_TEST_RUN in the state's network
 * namespace (BPF_F_CURRENT_NETNS: the test run's device is that namespace's
 * loopback). The count read includes this lookup's own reference; compared
 * before and after traffic it shows whether any path kept one.
 */
#include "lib/common.h"

char LICENSE[] SEC("license") = "GPL";

extern struct xfrm_state *
bpf_xdp_get_xfrm_state(struct xdp_md *ctx, struct bpf_xfrm_state_opts *opts, __u32 opts__sz) __ksym;
extern void bpf_xdp_xfrm_state_release(struct xfrm_state *x) __ksym;

/* query (written by esp_tool before the run) */
__u8 q_daddr[16];
__u32 q_spi;	/* network order */
__u32 q_family; /* AF_INET or AF_INET6 */
/* answer */
__s32 a_err;
__s32 a_refcnt;

SEC("xdp")
int xfrm_ref(struct xdp_md *ctx)
{
	struct bpf_xfrm_state_opts o = {};
	struct xfrm_state *x;

	o.netns_id = -1; /* BPF_F_CURRENT_NETNS */
	o.spi = q_spi;
	o.proto = 50; /* IPPROTO_ESP */
	o.family = (__u16)q_family;
	__builtin_memcpy(&o.daddr, q_daddr, 16);
	x = bpf_xdp_get_xfrm_state(ctx, &o, sizeof(o));
	if (!x) {
		a_err = o.error ? o.error : -1;
		return XDP_PASS;
	}
	a_refcnt = x->refcnt.refs.counter;
	a_err = 0;
	bpf_xdp_xfrm_state_release(x);
	return XDP_PASS;
}
