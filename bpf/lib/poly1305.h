/* SPDX-License-Identifier: GPL-2.0 */
/*
 * poly1305.h - Poly1305 (RFC 8439 2.5) in BPF.
 *
 * BPF has 64-bit multiplies but no 64x64->128, so this is the 26-bit-limb
 * "donna-32" representation: five limbs, 26x26-bit products summed in u64.
 * Messages are fed as 16-byte blocks given as two little-endian u64 words;
 * the AEAD only ever MACs whole blocks (RFC 8439 pads), the final partial
 * block of a raw message is handled by poly1305_tail().
 */
#ifndef BPFTUN_POLY1305_H
#define BPFTUN_POLY1305_H

#define POLY_M26 0x3ffffffULL

struct poly1305 {
	__u64 r0, r1, r2, r3, r4;
	__u64 s1, s2, s3, s4;
	__u64 h0, h1, h2, h3, h4;
	__u64 pad0, pad1; /* s, the second key half, as two LE u64 */
};

/* key: the 32-byte one-time key as four little-endian u64 words. */
static __always_inline void poly1305_init(struct poly1305 *p, __u64 k0, __u64 k1, __u64 k2,
					  __u64 k3)
{
	/* r &= 0x0ffffffc0ffffffc0ffffffc0fffffff, split into 26-bit limbs */
	p->r0 = k0 & 0x3ffffff;
	p->r1 = (k0 >> 26) & 0x3ffff03;
	p->r2 = ((k0 >> 52) | (k1 << 12)) & 0x3ffc0ff;
	p->r3 = (k1 >> 14) & 0x3f03fff;
	p->r4 = (k1 >> 40) & 0x00fffff;
	p->s1 = p->r1 * 5;
	p->s2 = p->r2 * 5;
	p->s3 = p->r3 * 5;
	p->s4 = p->r4 * 5;
	p->h0 = p->h1 = p->h2 = p->h3 = p->h4 = 0;
	p->pad0 = k2;
	p->pad1 = k3;
}

/* h = (h + m) * r mod 2^130 - 5; hibit is 1 << 24 for a full block (2^128). */
static __always_inline void poly1305_block(struct poly1305 *p, __u64 lo, __u64 hi, __u64 hibit)
{
	__u64 h0 = p->h0, h1 = p->h1, h2 = p->h2, h3 = p->h3, h4 = p->h4;
	__u64 d0, d1, d2, d3, d4, c;

	h0 += lo & POLY_M26;
	h1 += (lo >> 26) & POLY_M26;
	h2 += ((lo >> 52) | (hi << 12)) & POLY_M26;
	h3 += (hi >> 14) & POLY_M26;
	h4 += (hi >> 40) | hibit;

	d0 = h0 * p->r0 + h1 * p->s4 + h2 * p->s3 + h3 * p->s2 + h4 * p->s1;
	d1 = h0 * p->r1 + h1 * p->r0 + h2 * p->s4 + h3 * p->s3 + h4 * p->s2;
	d2 = h0 * p->r2 + h1 * p->r1 + h2 * p->r0 + h3 * p->s4 + h4 * p->s3;
	d3 = h0 * p->r3 + h1 * p->r2 + h2 * p->r1 + h3 * p->r0 + h4 * p->s4;
	d4 = h0 * p->r4 + h1 * p->r3 + h2 * p->r2 + h3 * p->r1 + h4 * p->r0;

	c = d0 >> 26;
	h0 = d0 & POLY_M26;
	d1 += c;
	c = d1 >> 26;
	h1 = d1 & POLY_M26;
	d2 += c;
	c = d2 >> 26;
	h2 = d2 & POLY_M26;
	d3 += c;
	c = d3 >> 26;
	h3 = d3 & POLY_M26;
	d4 += c;
	c = d4 >> 26;
	h4 = d4 & POLY_M26;
	h0 += c * 5;
	c = h0 >> 26;
	h0 &= POLY_M26;
	h1 += c;

	p->h0 = h0;
	p->h1 = h1;
	p->h2 = h2;
	p->h3 = h3;
	p->h4 = h4;
}

/* A final partial block of n (1..15) bytes held in lo/hi (bytes past n zero):
 * RFC 8439 appends a 0x01 byte instead of the 2^128 bit. */
static __always_inline void poly1305_tail(struct poly1305 *p, __u64 lo, __u64 hi, __u32 n)
{
	if (n < 8)
		lo |= 1ULL << ((n & 7) * 8);
	else
		hi |= 1ULL << (((n - 8) & 7) * 8);
	poly1305_block(p, lo, hi, 0);
}

/* tag = (h mod p) + s mod 2^128, returned as two little-endian u64 words. */
static __always_inline void poly1305_finish(struct poly1305 *p, __u64 *t0, __u64 *t1)
{
	__u64 h0 = p->h0, h1 = p->h1, h2 = p->h2, h3 = p->h3, h4 = p->h4;
	__u64 g0, g1, g2, g3, g4, c, mask, lo, hi, f;

	c = h1 >> 26;
	h1 &= POLY_M26;
	h2 += c;
	c = h2 >> 26;
	h2 &= POLY_M26;
	h3 += c;
	c = h3 >> 26;
	h3 &= POLY_M26;
	h4 += c;
	c = h4 >> 26;
	h4 &= POLY_M26;
	h0 += c * 5;
	c = h0 >> 26;
	h0 &= POLY_M26;
	h1 += c;

	/* g = h + 5 - 2^130; pick g if it did not go negative (constant time) */
	g0 = h0 + 5;
	c = g0 >> 26;
	g0 &= POLY_M26;
	g1 = h1 + c;
	c = g1 >> 26;
	g1 &= POLY_M26;
	g2 = h2 + c;
	c = g2 >> 26;
	g2 &= POLY_M26;
	g3 = h3 + c;
	c = g3 >> 26;
	g3 &= POLY_M26;
	g4 = h4 + c - (1ULL << 26);

	mask = (g4 >> 63) - 1; /* all ones if g4 >= 0 */
	h0 = (h0 & ~mask) | (g0 & mask);
	h1 = (h1 & ~mask) | (g1 & mask);
	h2 = (h2 & ~mask) | (g2 & mask);
	h3 = (h3 & ~mask) | (g3 & mask);
	h4 = (h4 & ~mask) | (g4 & mask & POLY_M26);

	/* h as 128 bits, then + s with carry between the halves */
	lo = h0 | (h1 << 26) | (h2 << 52);
	hi = (h2 >> 12) | (h3 << 14) | (h4 << 40);
	f = lo + p->pad0;
	/* carry out of the add without a compare (BPF has no setcc; a
	 * compare becomes a branch on secret data) */
	c = ((lo & p->pad0) | ((lo | p->pad0) & ~f)) >> 63;
	*t0 = f;
	*t1 = hi + p->pad1 + c;
}

#ifdef bpf_for
/*
 * The end of RFC 8439 2.8's MAC, shared by both AEADs of the datapath: after
 * poly1305_init and any AAD block, nb whole 16-byte blocks of m (the caller
 * zero-pads the last one: pad16), then le64(aad_len) || le64(ct_len), and
 * the tag. m is map-value memory with at least 2048 + 16 bytes readable from
 * it (offsets are masked to stay inside), nb <= 128.
 *   aead.h (AES suite): m = header || ciphertext, the header being the
 *     16-byte AAD block, aad_len 16;
 *   wg_aead.h (WireGuard): m = ciphertext, aad_len 0 (or an AAD block fed
 *     before, for RFC 8439's own vectors).
 * Needs bpf_for (common.h): BPF only.
 */
static __always_inline void poly1305_aead_finish(struct poly1305 *p, const __u8 *m, __u32 nb,
						 __u64 aad_len, __u64 ct_len, __u64 *t0, __u64 *t1)
{
	int i;

	/* four blocks a step: fewer iterator calls */
	bpf_for(i, 0, nb / 4)
	{
		const __u64 *w = (const __u64 *)(m + (i & 31) * 64);

		poly1305_block(p, w[0], w[1], 1ULL << 24);
		poly1305_block(p, w[2], w[3], 1ULL << 24);
		poly1305_block(p, w[4], w[5], 1ULL << 24);
		poly1305_block(p, w[6], w[7], 1ULL << 24);
	}
	bpf_for(i, nb & ~3U, nb)
	{
		const __u64 *w = (const __u64 *)(m + (i & 127) * 16);

		poly1305_block(p, w[0], w[1], 1ULL << 24);
	}
	poly1305_block(p, aad_len, ct_len, 1ULL << 24);
	poly1305_finish(p, t0, t1);
}
#endif

#endif /* BPFTUN_POLY1305_H */
