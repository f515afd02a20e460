/* SPDX-License-Identifier: GPL-2.0 */
/*
 * chacha20.h - ChaCha20 (RFC 8439 2.3/2.4) in BPF.
 *
 * 20 rounds on 32-bit words; rotations are shift+or (BPF has no rotate).
 * The state lives in sixteen C locals, not an array: the compiler keeps what
 * fits in registers and spills the rest, which measured about 20% faster than
 * a stack array. The ten double rounds are a loop, not unrolled: the verifier
 * walks its ten iterations (the bound is a constant), and the program stays
 * small, which measured 23% faster than a fully unrolled body with a cold
 * instruction cache.
 *
 * The key is eight little-endian u32 words (the 32 key bytes as they are in
 * memory on a little-endian machine: BPF on x86 is bpfel). The 96-bit nonce is
 * three words n0, n1, n2 (nonce bytes 0-3, 4-7, 8-11, little endian); the
 * block counter is the 32-bit word 12. WireGuard's nonce (32 zero bits, then
 * the little-endian 64-bit message counter) is n0 = 0, n1 = low half,
 * n2 = high half (see wg_aead.h).
 *
 * Nothing here branches on key, nonce or data: constant time by construction.
 */
#ifndef BPFTUN_CHACHA20_H
#define BPFTUN_CHACHA20_H

#define CHACHA20_C0	       0x61707865U /* "expa" */
#define CHACHA20_C1	       0x3320646eU /* "nd 3" */
#define CHACHA20_C2	       0x79622d32U /* "2-by" */
#define CHACHA20_C3	       0x6b206574U /* "te k" */
#define CHACHA20_BLOCK	       64
#define CHACHA20_DOUBLE_ROUNDS 10

#define CHACHA20_ROTL(v, n) (((v) << (n)) | ((v) >> (32 - (n))))

/* RFC 8439 2.1 quarter round on four __u32 lvalues. */
#define CHACHA20_QR(a, b, c, d)                                                                    \
	do {                                                                                       \
		a += b;                                                                            \
		d ^= a;                                                                            \
		d = CHACHA20_ROTL(d, 16);                                                          \
		c += d;                                                                            \
		b ^= c;                                                                            \
		b = CHACHA20_ROTL(b, 12);                                                          \
		a += b;                                                                            \
		d ^= a;                                                                            \
		d = CHACHA20_ROTL(d, 8);                                                           \
		c += d;                                                                            \
		b ^= c;                                                                            \
		b = CHACHA20_ROTL(b, 7);                                                           \
	} while (0)

/*
 * One keystream block for (key k[8], counter ctr, nonce n0 n1 n2), XORed into
 * the 64 bytes at d as eight little-endian u64 words: d ^= ChaCha20 block.
 * XOR into zeros to get the bare keystream.
 */
static __always_inline void chacha20_xor_block(const __u32 *k, __u32 ctr, __u32 n0, __u32 n1,
					       __u32 n2, __u64 *d)
{
	__u32 x0 = CHACHA20_C0, x1 = CHACHA20_C1, x2 = CHACHA20_C2, x3 = CHACHA20_C3;
	__u32 x4 = k[0], x5 = k[1], x6 = k[2], x7 = k[3];
	__u32 x8 = k[4], x9 = k[5], x10 = k[6], x11 = k[7];
	__u32 x12 = ctr, x13 = n0, x14 = n1, x15 = n2;
	int i;

#ifdef CHACHA20_UNROLL
	/* bench/bench_chacha_unroll.c's comparison build only */
#pragma clang loop unroll(full)
#else
#pragma clang loop unroll(disable)
#endif
	for (i = 0; i < CHACHA20_DOUBLE_ROUNDS; i++) {
		/* column round */
		CHACHA20_QR(x0, x4, x8, x12);
		CHACHA20_QR(x1, x5, x9, x13);
		CHACHA20_QR(x2, x6, x10, x14);
		CHACHA20_QR(x3, x7, x11, x15);
		/* diagonal round */
		CHACHA20_QR(x0, x5, x10, x15);
		CHACHA20_QR(x1, x6, x11, x12);
		CHACHA20_QR(x2, x7, x8, x13);
		CHACHA20_QR(x3, x4, x9, x14);
	}

	/* add the input state back (RFC 8439 2.3), serialize little endian */
	d[0] ^= (__u64)(x0 + CHACHA20_C0) | ((__u64)(x1 + CHACHA20_C1) << 32);
	d[1] ^= (__u64)(x2 + CHACHA20_C2) | ((__u64)(x3 + CHACHA20_C3) << 32);
	d[2] ^= (__u64)(x4 + k[0]) | ((__u64)(x5 + k[1]) << 32);
	d[3] ^= (__u64)(x6 + k[2]) | ((__u64)(x7 + k[3]) << 32);
	d[4] ^= (__u64)(x8 + k[4]) | ((__u64)(x9 + k[5]) << 32);
	d[5] ^= (__u64)(x10 + k[6]) | ((__u64)(x11 + k[7]) << 32);
	d[6] ^= (__u64)(x12 + ctr) | ((__u64)(x13 + n0) << 32);
	d[7] ^= (__u64)(x14 + n1) | ((__u64)(x15 + n2) << 32);
}

/*
 * buf[0 .. len) ^= ChaCha20 keystream starting at block counter ctr0
 * (RFC 8439 2.4). buf must be map-value memory of at least 2048 + 64 bytes:
 * whole 64-byte blocks are XORed, so up to 63 bytes past len change (the
 * caller's slack; zero them again if they matter). len <= 2048.
 * The block counter wraps mod 2^32 as RFC 8439 leaves it to the caller: with
 * len <= 2048 that needs ctr0 > 2^32 - 33, which no user here passes.
 */
static __always_inline void chacha20_xor(const __u32 *k, __u32 ctr0, __u32 n0, __u32 n1, __u32 n2,
					 __u8 *buf, __u32 len)
{
	int i;

	bpf_for(i, 0, (len + CHACHA20_BLOCK - 1) / CHACHA20_BLOCK)
	{
		__u64 *d = (__u64 *)(buf + (i & 31) * CHACHA20_BLOCK);

		chacha20_xor_block(k, ctr0 + (__u32)i, n0, n1, n2, d);
	}
}

#endif /* BPFTUN_CHACHA20_H */
