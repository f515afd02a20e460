// SPDX-License-Identifier: GPL-2.0
/*
 * testprogs.bpf.c - BPF programs that exist only for tests and bench:
 *   poly1305_run  the datapath's Poly1305 (bpf/lib/poly1305.h) over any
 *                 message, partial final block included, for RFC 8439 vectors;
 *   ecb_setup     create an ecb context from a key, for the bare cipher cost;
 *   tc_ecb        one bpf_crypto_encrypt over `ecb_len` bytes of scratch, the
 *                 same call the datapath makes, with nothing else around it.
 */
#include "lib/common.h"
#include "lib/poly1305.h"

char LICENSE[] SEC("license") = "GPL";

/* ---- poly1305_run: inputs and output in .bss */
__u8 poly_key[32];
__u8 poly_msg[2048 + 16];
__u32 poly_len;
__u8 poly_tag[16];
__s32 poly_err;

SEC("syscall")
int poly1305_run(void *ctx)
{
	struct poly1305 p;
	__u64 *k = (__u64 *)poly_key, t0, t1, lo = 0, hi = 0;
	__u32 len = poly_len, full, rem;
	int i;

	if (len > 2048) {
		poly_err = -E2BIG;
		return 0;
	}
	full = len / 16;
	rem = len % 16;
	poly1305_init(&p, k[0], k[1], k[2], k[3]);
	bpf_for(i, 0, full)
	{
		__u64 *m = (__u64 *)(poly_msg + (i & 127) * 16);

		poly1305_block(&p, m[0], m[1], 1ULL << 24);
	}
	if (rem) {
		__u8 tail[16] = {};
		__u32 off = (full * 16) & 2047;

		bpf_for(i, 0, rem) tail[i & 15] = poly_msg[off + (i & 15)];
		lo = *(__u64 *)&tail[0];
		hi = *(__u64 *)&tail[8];
		poly1305_tail(&p, lo, hi, rem);
	}
	poly1305_finish(&p, &t0, &t1);
	*(__u64 *)&poly_tag[0] = t0;
	*(__u64 *)&poly_tag[8] = t1;
	poly_err = 0;
	return 0;
}

/* ---- bare ecb cost */
struct ecb_val {
	struct bpf_crypto_ctx __kptr_bt *ctx;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ecb_val);
} ecb_ctx SEC(".maps");

struct ecb_buf {
	__u8 b[BPFTUN_SCRATCH];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ecb_buf);
} ecb_scratch SEC(".maps");

char ecb_algo[BPFTUN_ALGO_LEN] = "ecb(aes)";
__u8 ecb_key[32];
__u32 ecb_len = 1440;
__s32 ecb_err;

SEC("syscall")
int ecb_setup(void *ctx)
{
	struct bpf_crypto_params params = {.type = "skcipher", .key_len = 32};
	struct bpf_crypto_ctx *c, *old;
	struct ecb_val *v;
	__u32 zero = 0;
	int err = 0;

	__builtin_memcpy(params.algo, ecb_algo, sizeof(ecb_algo));
	__builtin_memcpy(params.key, ecb_key, 32);
	c = bpf_crypto_ctx_create(&params, sizeof(params), &err);
	if (!c) {
		ecb_err = err ?: -ENOMEM;
		return 0;
	}
	v = bpf_map_lookup_elem(&ecb_ctx, &zero);
	if (!v) {
		bpf_crypto_ctx_release(c);
		ecb_err = -ENOENT;
		return 0;
	}
	old = bpf_kptr_xchg(&v->ctx, c);
	if (old)
		bpf_crypto_ctx_release(old);
	ecb_err = 0;
	return 0;
}

SEC("tc")
int tc_ecb(struct __sk_buff *skb)
{
	struct bpf_dynptr d, iv;
	struct bpf_crypto_ctx *c;
	struct ecb_buf *s;
	struct ecb_val *v;
	__u32 zero = 0, len = ecb_len;

	v = bpf_map_lookup_elem(&ecb_ctx, &zero);
	s = bpf_map_lookup_elem(&ecb_scratch, &zero);
	if (!v || !s)
		return TC_ACT_SHOT;
	c = v->ctx;
	if (!c)
		return TC_ACT_SHOT;
	bpf_dynptr_from_mem(s->b, sizeof(s->b), 0, &d);
	if (bpf_dynptr_adjust(&d, 0, len))
		return TC_ACT_SHOT;
	bpf_dynptr_from_mem(s->b, 0, 0, &iv);
	return bpf_crypto_encrypt(c, &d, &d, &iv) ? TC_ACT_SHOT : TC_ACT_OK;
}

/* ---- tc_flip: a router in the middle that corrupts tunnel traffic.
 * On TC egress of a device: for UDP to port flip_port, flip one bit of the
 * byte at flip_offset (from the start of the UDP payload) while flip_on. */
__u32 flip_on;
__u16 flip_port;   /* host order */
__u32 flip_offset; /* into the UDP payload: 16+ hits ciphertext */
__u64 flip_count;

SEC("tc")
int tc_flip(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	__u32 l4;
	__u8 b;

	if (!flip_on || (void *)(eth + 1) > end)
		return TC_ACT_OK;
	if (eth->h_proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = (void *)(eth + 1);

		if ((void *)(ip + 1) > end || ip->protocol != IPPROTO_UDP)
			return TC_ACT_OK;
		l4 = sizeof(*eth) + ip->ihl * 4;
	} else if (eth->h_proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = (void *)(eth + 1);

		if ((void *)(ip6 + 1) > end || ip6->nexthdr != IPPROTO_UDP)
			return TC_ACT_OK;
		l4 = sizeof(*eth) + sizeof(*ip6);
	} else {
		return TC_ACT_OK;
	}
	{
		struct udphdr udp;

		if (bpf_skb_load_bytes(skb, l4, &udp, sizeof(udp)) ||
		    udp.dest != bpf_htons(flip_port))
			return TC_ACT_OK;
	}
	if (bpf_skb_load_bytes(skb, l4 + 8 + flip_offset, &b, 1))
		return TC_ACT_OK;
	b ^= 0x10;
	/* BPF_F_RECOMPUTE_CSUM is not used: the receiver must see a packet
	 * whose UDP checksum no longer matches, as a real corruption. The
	 * datapath does not check UDP checksums; the tag catches it. */
	bpf_skb_store_bytes(skb, l4 + 8 + flip_offset, &b, 1, 0);
	__sync_fetch_and_add(&flip_count, 1);
	return TC_ACT_OK;
}

/* ---- tc_vlan_wrap: the frame as tc_open sees it on a device receiving a
 * VLAN-tagged frame. __netif_receive_skb_core untags every frame before TC
 * ingress, so the tag is in the skb's metadata (vlan_present, vlan_tci), not
 * in the data; BPF_PROG_TEST_RUN cannot set that metadata from its input, so
 * this pushes vlan_push_tci as a tag (skb_vlan_push on an untagged skb only
 * sets the metadata) and tail-calls vlan_next[0], which the test sets to
 * tc_open. Returns 1000 if the push fails, 1001 if the tail call does. */
__u32 vlan_push_tci;

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} vlan_next SEC(".maps");

SEC("tc")
int tc_vlan_wrap(struct __sk_buff *skb)
{
	if (bpf_skb_vlan_push(skb, bpf_htons(0x8100), (__u16)vlan_push_tci))
		return 1000;
	bpf_tail_call(skb, &vlan_next, 0);
	return 1001;
}
