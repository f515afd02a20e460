/* SPDX-License-Identifier: GPL-2.0 */
/*
 * aead.h - bpftun's AEAD on top of bpf_crypto: AES-256 in counter mode made
 * from one ecb(aes) call over a buffer of counter blocks, and Poly1305 over
 * header || ciphertext as RFC 8439 2.8 specifies. See docs/crypto.md.
 *
 * All work happens in a per-CPU scratch area (map value memory), so every
 * access has a constant bound the verifier can check, whatever the packet.
 */
#ifndef BPFTUN_AEAD_H
#define BPFTUN_AEAD_H

#include "poly1305.h"

/* ks: counter blocks, encrypted in place into keystream.
 * buf: header (16) || payload || zero padding; tag is placed after payload
 * for the UDP checksum. The 64-byte slack lets unrolled loops run past len. */
struct bpftun_scratch {
	__u8 ks[BPFTUN_SCRATCH + 64];
	__u8 buf[BPFTUN_SCRATCH + 64];
};

static __always_inline __u32 round16(__u32 n)
{
	return (n + 15) & ~15U;
}

/* Keystream blocks 0..nblk-1 for (salt, counter) into s->ks with one
 * bpf_crypto_encrypt call. Block i = AES_K(salt4 || le64(counter) || be32(i)). */
static __always_inline int aead_keystream(struct bpf_crypto_ctx *ctx, struct bpftun_scratch *s,
					  __u32 salt, __u64 counter, __u32 nblk)
{
	struct bpf_dynptr d, iv;
	__u64 w0 = (__u64)salt | (counter << 32);
	__u64 w1 = counter >> 32;
	int i;

	if (nblk == 0 || nblk > BPFTUN_KS_MAX / BPFTUN_BLOCK)
		return -EINVAL;

	bpf_for(i, 0, (nblk + 3) / 4)
	{
		__u32 b = (__u32)i * 4;
		__u8 *p = s->ks + (i & 31) * 64;

		*(__u64 *)(p + 0) = w0;
		*(__u64 *)(p + 8) = w1 | ((__u64)bpf_htonl(b) << 32);
		*(__u64 *)(p + 16) = w0;
		*(__u64 *)(p + 24) = w1 | ((__u64)bpf_htonl(b + 1) << 32);
		*(__u64 *)(p + 32) = w0;
		*(__u64 *)(p + 40) = w1 | ((__u64)bpf_htonl(b + 2) << 32);
		*(__u64 *)(p + 48) = w0;
		*(__u64 *)(p + 56) = w1 | ((__u64)bpf_htonl(b + 3) << 32);
	}

	bpf_dynptr_from_mem(s->ks, sizeof(s->ks), 0, &d);
	if (bpf_dynptr_adjust(&d, 0, nblk * BPFTUN_BLOCK))
		return -EINVAL;
	/* ecb takes no IV: an empty dynptr (siv_len must equal ivsize, 0). */
	bpf_dynptr_from_mem(s->ks, 0, 0, &iv);
	return bpf_crypto_encrypt(ctx, &d, &d, &iv);
}

/* buf[16 .. 16+len) ^= ks[32 .. 32+len), 64 bytes a step (slack absorbs the tail). */
static __always_inline void aead_xor(struct bpftun_scratch *s, __u32 len)
{
	int i;

	bpf_for(i, 0, (len + 63) / 64)
	{
		__u32 off = (i & 31) * 64;
		__u64 *d = (__u64 *)(s->buf + BPFTUN_HDR_LEN + off);
		__u64 *k = (__u64 *)(s->ks + 2 * BPFTUN_BLOCK + off);

		d[0] ^= k[0];
		d[1] ^= k[1];
		d[2] ^= k[2];
		d[3] ^= k[3];
		d[4] ^= k[4];
		d[5] ^= k[5];
		d[6] ^= k[6];
		d[7] ^= k[7];
	}
}

/* Zero buf from the end of the payload to the next 16-byte boundary and a
 * little past it (RFC 8439 pad16; also word padding for the checksum). */
static __always_inline void aead_zero_tail(struct bpftun_scratch *s, __u32 len)
{
	__u8 *p = s->buf + ((BPFTUN_HDR_LEN + len) & BPFTUN_SCRATCH_MASK);

	*(__u64 *)(p + 0) = 0;
	*(__u64 *)(p + 8) = 0;
	*(__u64 *)(p + 16) = 0;
}

/* Poly1305 tag over header || ciphertext || pad16 || le64(16) || le64(len),
 * with the one-time key in ks[0..32). Expects the tail zeroed. */
static __always_inline void aead_tag(struct bpftun_scratch *s, __u32 len, __u64 *t0, __u64 *t1)
{
	struct poly1305 p;
	__u64 *k = (__u64 *)s->ks;

	poly1305_init(&p, k[0], k[1], k[2], k[3]);
	poly1305_aead_finish(&p, s->buf, 1 + round16(len) / BPFTUN_BLOCK, BPFTUN_HDR_LEN, len, t0,
			     t1);
}

#endif /* BPFTUN_AEAD_H */
