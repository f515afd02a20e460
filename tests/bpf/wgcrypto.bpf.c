// SPDX-License-Identifier: GPL-2.0
/*
 * wgcrypto.bpf.c - BPF programs that exist only for tests: ChaCha20
 * (bpf/lib/chacha20.h) and ChaCha20-Poly1305 as WireGuard uses it
 * (bpf/lib/wg_aead.h), run in the kernel with BPF_PROG_TEST_RUN.
 *   chacha20_run  SEC("syscall"): cc_buf[0 .. cc_len) ^= keystream(cc_key,
 *                 block counter cc_ctr, nonce cc_nonce) - RFC 8439 2.4;
 *   aead_run      SEC("syscall"): seal (ae_op 1) or open (ae_op 2) ae_buf.
 *                 With nonce word 0 and no AAD it calls wg_aead_seal/open
 *                 (WireGuard's nonce from ae_counter); otherwise the general
 *                 core with a 96-bit nonce and up to 16 bytes of AAD (RFC
 *                 8439 2.8.2, A.5);
 *   tc_chacha, tc_wg_seal, tc_wg_open  SEC("tc"): the same code on packet
 *                 data as a datapath would run it, for a timing (no asserts):
 *                 tc_chacha XORs tm_len bytes of keystream into scratch;
 *                 tc_wg_seal loads skb payload (after 14 bytes) into scratch
 *                 and seals it; tc_wg_open loads payload || tag and opens it.
 * Inputs and outputs are .bss globals (mmaped by the skeleton).
 */
#include "lib/common.h"
#include "lib/wg_aead.h"

char LICENSE[] SEC("license") = "GPL";

/* .bss globals are plain arrays: the skeleton's userspace side knows no
 * wg_aead types. */
/* ---- chacha20_run */
__u32 cc_key[8];
__u32 cc_nonce[3];
__u32 cc_ctr;
__u32 cc_len;
__u8 cc_buf[sizeof(struct wg_aead_buf)];
__s32 cc_err;

SEC("syscall")
int chacha20_run(void *ctx)
{
	__u32 len = cc_len;

	if (len > WG_AEAD_BUF) {
		cc_err = -E2BIG;
		return 0;
	}
	chacha20_xor(cc_key, cc_ctr, cc_nonce[0], cc_nonce[1], cc_nonce[2], cc_buf, len);
	cc_err = 0;
	return 0;
}

/* ---- aead_run */
__u32 ae_key[8];
__u32 ae_n0;	  /* nonce bytes 0-3 (0 for WireGuard) */
__u64 ae_counter; /* nonce bytes 4-11, little endian */
__u64 ae_aad[2];  /* up to 16 bytes, zero padded */
__u32 ae_aad_len;
__u32 ae_len;
__u32 ae_op;	  /* 1 seal, 2 open */
__u32 ae_used_wg; /* out: 1 if wg_aead_seal/open ran */
__u8 ae_buf[sizeof(struct wg_aead_buf)];
__s32 ae_err;

SEC("syscall")
int aead_run(void *ctx)
{
	__u32 len = ae_len, n1 = (__u32)ae_counter, n2 = (__u32)(ae_counter >> 32);
	int wg = ae_n0 == 0 && ae_aad_len == 0;
	int err;

	ae_used_wg = wg;
	if (ae_op == 1) {
		if (wg)
			err = wg_aead_seal((struct wg_aead_key *)ae_key, ae_counter,
					   (struct wg_aead_buf *)ae_buf, len);
		else
			err = chacha20poly1305_seal(ae_key, ae_n0, n1, n2, ae_aad[0], ae_aad[1],
						    ae_aad_len, (struct wg_aead_buf *)ae_buf, len);
	} else if (ae_op == 2) {
		if (wg)
			err = wg_aead_open((struct wg_aead_key *)ae_key, ae_counter,
					   (struct wg_aead_buf *)ae_buf, len);
		else
			err = chacha20poly1305_open(ae_key, ae_n0, n1, n2, ae_aad[0], ae_aad[1],
						    ae_aad_len, (struct wg_aead_buf *)ae_buf, len);
	} else {
		err = -EINVAL;
	}
	ae_err = err;
	return 0;
}

/* ---- timing programs: per-packet work on a scratch map, as a datapath */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct wg_aead_buf);
} tm_scratch SEC(".maps");

__u32 tm_key[8];
__u64 tm_counter;
__u32 tm_len;
__s32 tm_err;

SEC("tc")
int tc_chacha(struct __sk_buff *skb)
{
	struct wg_aead_buf *s;
	__u32 zero = 0, len = tm_len;

	s = bpf_map_lookup_elem(&tm_scratch, &zero);
	if (!s || len > WG_AEAD_BUF)
		return TC_ACT_SHOT;
	chacha20_xor(tm_key, 1, 0, (__u32)tm_counter, (__u32)(tm_counter >> 32), s->b, len);
	return TC_ACT_OK;
}

SEC("tc")
int tc_wg_seal(struct __sk_buff *skb)
{
	struct wg_aead_buf *s;
	__u32 zero = 0;
	__u64 len = skb->len;

	/* 64-bit bounds: Linux 6.12 does not carry a 32-bit compare over to the
	 * 64-bit register that bpf_skb_load_bytes' size is checked on */
	barrier_var(len);
	if (len <= BPFTUN_ETH_LEN || len > BPFTUN_ETH_LEN + WG_AEAD_MAX_LEN)
		return TC_ACT_SHOT;
	len -= BPFTUN_ETH_LEN;
	s = bpf_map_lookup_elem(&tm_scratch, &zero);
	if (!s)
		return TC_ACT_SHOT;
	if (bpf_skb_load_bytes(skb, BPFTUN_ETH_LEN, s->b, len))
		return TC_ACT_SHOT;
	tm_err = wg_aead_seal((struct wg_aead_key *)tm_key, tm_counter, s, len);
	return tm_err ? TC_ACT_SHOT : TC_ACT_OK;
}

SEC("tc")
int tc_wg_open(struct __sk_buff *skb)
{
	struct wg_aead_buf *s;
	__u32 zero = 0;
	__u64 len = skb->len;

	barrier_var(len); /* 64-bit bounds, as in tc_wg_seal */
	if (len < BPFTUN_ETH_LEN + WG_AEAD_TAG_LEN ||
	    len > BPFTUN_ETH_LEN + WG_AEAD_TAG_LEN + WG_AEAD_MAX_LEN)
		return TC_ACT_SHOT;
	len -= BPFTUN_ETH_LEN + WG_AEAD_TAG_LEN;
	s = bpf_map_lookup_elem(&tm_scratch, &zero);
	if (!s)
		return TC_ACT_SHOT;
	if (bpf_skb_load_bytes(skb, BPFTUN_ETH_LEN, s->b, len + WG_AEAD_TAG_LEN))
		return TC_ACT_SHOT;
	tm_err = wg_aead_open((struct wg_aead_key *)tm_key, tm_counter, s, len);
	return tm_err ? TC_ACT_SHOT : TC_ACT_OK;
}
