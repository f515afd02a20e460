/* SPDX-License-Identifier: GPL-2.0 */
/*
 * siphash.h - SipHash-2-4 (Aumasson, Bernstein 2012) over a whole number of
 * 64-bit little-endian words, in BPF. Used for flow marks and steering
 * hashes: a keyed PRF, so that without the key nobody can tell which flows
 * share a mark or a CPU. Checked against libsodium's
 * crypto_shorthash_siphash24 (tests/test_steer.c).
 */
#ifndef BPFTUN_SIPHASH_H
#define BPFTUN_SIPHASH_H

static __always_inline __u64 sip_rotl(__u64 x, int b)
{
	return (x << b) | (x >> (64 - b));
}

#define SIP_ROUND(v0, v1, v2, v3)                                                                  \
	do {                                                                                       \
		v0 += v1;                                                                          \
		v1 = sip_rotl(v1, 13);                                                             \
		v1 ^= v0;                                                                          \
		v0 = sip_rotl(v0, 32);                                                             \
		v2 += v3;                                                                          \
		v3 = sip_rotl(v3, 16);                                                             \
		v3 ^= v2;                                                                          \
		v0 += v3;                                                                          \
		v3 = sip_rotl(v3, 21);                                                             \
		v3 ^= v0;                                                                          \
		v2 += v1;                                                                          \
		v1 = sip_rotl(v1, 17);                                                             \
		v1 ^= v2;                                                                          \
		v2 = sip_rotl(v2, 32);                                                             \
	} while (0)

/* SipHash-2-4 of m[0..n) (8n bytes, n a compile-time constant <= 31). */
static __always_inline __u64 bpftun_siphash(const __u64 k[2], const __u64 *m, int n)
{
	__u64 v0 = k[0] ^ 0x736f6d6570736575ULL;
	__u64 v1 = k[1] ^ 0x646f72616e646f6dULL;
	__u64 v2 = k[0] ^ 0x6c7967656e657261ULL;
	__u64 v3 = k[1] ^ 0x7465646279746573ULL;
	__u64 b = (__u64)(n * 8) << 56;

#pragma unroll
	for (int i = 0; i < n; i++) {
		v3 ^= m[i];
		SIP_ROUND(v0, v1, v2, v3);
		SIP_ROUND(v0, v1, v2, v3);
		v0 ^= m[i];
	}
	v3 ^= b;
	SIP_ROUND(v0, v1, v2, v3);
	SIP_ROUND(v0, v1, v2, v3);
	v0 ^= b;
	v2 ^= 0xff;
	SIP_ROUND(v0, v1, v2, v3);
	SIP_ROUND(v0, v1, v2, v3);
	SIP_ROUND(v0, v1, v2, v3);
	SIP_ROUND(v0, v1, v2, v3);
	return v0 ^ v1 ^ v2 ^ v3;
}

#endif /* BPFTUN_SIPHASH_H */
