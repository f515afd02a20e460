// SPDX-License-Identifier: GPL-2.0
/*
 * blake2s.c - BLAKE2s (RFC 7693 section 3, with the parameters of 2.1:
 * 10 rounds, rotations 16/12/8/7, 64-byte blocks) and HMAC over it.
 */
#include <errno.h>
#include <string.h>

#include <sodium.h>

#include "blake2s.h"

static const uint32_t blake2s_iv[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
				       0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};

static const uint8_t blake2s_sigma[10][16] = {
    {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15},
    {14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3},
    {11, 8, 12, 0, 5, 2, 15, 13, 10, 14, 3, 6, 7, 1, 9, 4},
    {7, 9, 3, 1, 13, 12, 11, 14, 2, 6, 5, 10, 4, 0, 15, 8},
    {9, 0, 5, 7, 2, 4, 10, 15, 14, 1, 11, 12, 6, 8, 3, 13},
    {2, 12, 6, 10, 0, 11, 8, 3, 4, 13, 7, 5, 15, 14, 1, 9},
    {12, 5, 1, 15, 14, 13, 4, 10, 0, 7, 6, 3, 9, 2, 8, 11},
    {13, 11, 7, 14, 12, 1, 3, 9, 5, 0, 15, 4, 8, 6, 2, 10},
    {6, 15, 14, 9, 11, 3, 0, 8, 12, 2, 13, 7, 1, 4, 10, 5},
    {10, 2, 8, 4, 7, 6, 1, 5, 15, 11, 9, 14, 3, 12, 13, 0},
};

static inline uint32_t rotr32(uint32_t x, int n)
{
	return (x >> n) | (x << (32 - n));
}

static inline uint32_t load32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

#define G(a, b, c, d, x, y)                                                                        \
	do {                                                                                       \
		v[a] = v[a] + v[b] + (x);                                                          \
		v[d] = rotr32(v[d] ^ v[a], 16);                                                    \
		v[c] = v[c] + v[d];                                                                \
		v[b] = rotr32(v[b] ^ v[c], 12);                                                    \
		v[a] = v[a] + v[b] + (y);                                                          \
		v[d] = rotr32(v[d] ^ v[a], 8);                                                     \
		v[c] = v[c] + v[d];                                                                \
		v[b] = rotr32(v[b] ^ v[c], 7);                                                     \
	} while (0)

/* RFC 7693 3.2: F(h, m, t, f). */
static void compress(struct blake2s_state *s, int last)
{
	uint32_t v[16], m[16];

	for (int i = 0; i < 16; i++)
		m[i] = load32(s->buf + 4 * i);
	for (int i = 0; i < 8; i++) {
		v[i] = s->h[i];
		v[i + 8] = blake2s_iv[i];
	}
	v[12] ^= s->t[0];
	v[13] ^= s->t[1];
	if (last)
		v[14] = ~v[14];
	for (int r = 0; r < 10; r++) {
		const uint8_t *z = blake2s_sigma[r];

		G(0, 4, 8, 12, m[z[0]], m[z[1]]);
		G(1, 5, 9, 13, m[z[2]], m[z[3]]);
		G(2, 6, 10, 14, m[z[4]], m[z[5]]);
		G(3, 7, 11, 15, m[z[6]], m[z[7]]);
		G(0, 5, 10, 15, m[z[8]], m[z[9]]);
		G(1, 6, 11, 12, m[z[10]], m[z[11]]);
		G(2, 7, 8, 13, m[z[12]], m[z[13]]);
		G(3, 4, 9, 14, m[z[14]], m[z[15]]);
	}
	for (int i = 0; i < 8; i++)
		s->h[i] ^= v[i] ^ v[i + 8];
	sodium_memzero(v, sizeof(v));
	sodium_memzero(m, sizeof(m));
}

static void add_count(struct blake2s_state *s, uint32_t n)
{
	s->t[0] += n;
	if (s->t[0] < n)
		s->t[1]++;
}

int blake2s_init(struct blake2s_state *s, size_t outlen, const void *key, size_t keylen)
{
	if (!s || outlen == 0 || outlen > BLAKE2S_OUT_MAX || keylen > BLAKE2S_KEY_MAX ||
	    (keylen && !key))
		return -EINVAL;
	memset(s, 0, sizeof(*s));
	memcpy(s->h, blake2s_iv, sizeof(s->h));
	/* parameter block word 0: digest length, key length, fanout 1, depth 1 */
	s->h[0] ^= 0x01010000U ^ ((uint32_t)keylen << 8) ^ (uint32_t)outlen;
	s->outlen = outlen;
	if (keylen) {
		/* the key, zero padded, is the first block */
		memcpy(s->buf, key, keylen);
		s->buflen = BLAKE2S_BLOCK;
	}
	return 0;
}

void blake2s_update(struct blake2s_state *s, const void *in, size_t len)
{
	const uint8_t *p = in;

	while (len > 0) {
		size_t n;

		/* a full buffer is compressed only once more input follows:
		 * the last block must go through final with the flag set */
		if (s->buflen == BLAKE2S_BLOCK) {
			add_count(s, BLAKE2S_BLOCK);
			compress(s, 0);
			s->buflen = 0;
		}
		n = BLAKE2S_BLOCK - s->buflen;
		if (n > len)
			n = len;
		memcpy(s->buf + s->buflen, p, n);
		s->buflen += n;
		p += n;
		len -= n;
	}
}

void blake2s_final(struct blake2s_state *s, uint8_t *out)
{
	uint8_t full[32];

	add_count(s, (uint32_t)s->buflen);
	memset(s->buf + s->buflen, 0, BLAKE2S_BLOCK - s->buflen);
	compress(s, 1);
	for (int i = 0; i < 8; i++) {
		full[4 * i + 0] = (uint8_t)(s->h[i]);
		full[4 * i + 1] = (uint8_t)(s->h[i] >> 8);
		full[4 * i + 2] = (uint8_t)(s->h[i] >> 16);
		full[4 * i + 3] = (uint8_t)(s->h[i] >> 24);
	}
	memcpy(out, full, s->outlen);
	sodium_memzero(full, sizeof(full));
	sodium_memzero(s, sizeof(*s));
}

int blake2s(uint8_t *out, size_t outlen, const void *key, size_t keylen, const void *in, size_t len)
{
	struct blake2s_state s;
	int err = blake2s_init(&s, outlen, key, keylen);

	if (err)
		return err;
	blake2s_update(&s, in, len);
	blake2s_final(&s, out);
	return 0;
}

int blake2s_hmac(uint8_t out[32], const uint8_t *key, size_t keylen, const void *a, size_t alen,
		 const void *b, size_t blen)
{
	uint8_t pad[BLAKE2S_BLOCK], inner[32];
	struct blake2s_state s;

	if (keylen > BLAKE2S_BLOCK || (keylen && !key))
		return -EINVAL;
	memset(pad, 0x36, sizeof(pad));
	for (size_t i = 0; i < keylen; i++)
		pad[i] ^= key[i];
	blake2s_init(&s, 32, NULL, 0);
	blake2s_update(&s, pad, sizeof(pad));
	blake2s_update(&s, a, alen);
	if (blen)
		blake2s_update(&s, b, blen);
	blake2s_final(&s, inner);

	memset(pad, 0x5c, sizeof(pad));
	for (size_t i = 0; i < keylen; i++)
		pad[i] ^= key[i];
	blake2s_init(&s, 32, NULL, 0);
	blake2s_update(&s, pad, sizeof(pad));
	blake2s_update(&s, inner, sizeof(inner));
	blake2s_final(&s, out);
	sodium_memzero(pad, sizeof(pad));
	sodium_memzero(inner, sizeof(inner));
	return 0;
}
