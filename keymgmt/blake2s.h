/* SPDX-License-Identifier: GPL-2.0 */
/*
 * blake2s.h - BLAKE2s (RFC 7693) for WireGuard's handshake: HASH is
 * BLAKE2s-256, MAC is keyed BLAKE2s-128, HMAC is RFC 2104 over BLAKE2s-256
 * (block 64 bytes).
 *
 * Why our own and not OpenSSL's BLAKE2S-256/BLAKE2SMAC: the key manager is
 * built on libsodium alone (which has no BLAKE2s), the code is ~150 lines of
 * RFC 7693, and OpenSSL stays free to be the independent implementation the
 * tests hold this one (and the whole handshake transcript) to. RFC 7693
 * Appendix B and E vectors are checked in tests/test_wg_noise.c.
 *
 * Secrets held in a state (keyed hashing, HMAC pads) are wiped by
 * blake2s_final and on every path of the one-shot functions.
 */
#ifndef BPFTUN_BLAKE2S_H
#define BPFTUN_BLAKE2S_H

#include <stddef.h>
#include <stdint.h>

#define BLAKE2S_BLOCK	64
#define BLAKE2S_OUT_MAX 32
#define BLAKE2S_KEY_MAX 32

struct blake2s_state {
	uint32_t h[8];
	uint32_t t[2];
	uint8_t buf[BLAKE2S_BLOCK];
	size_t buflen;
	size_t outlen;
};

/* outlen 1..32, keylen 0..32 (key may be NULL when keylen is 0).
 * Returns 0 or -EINVAL. */
int blake2s_init(struct blake2s_state *s, size_t outlen, const void *key, size_t keylen);
void blake2s_update(struct blake2s_state *s, const void *in, size_t len);
/* Writes s->outlen bytes and wipes the state. */
void blake2s_final(struct blake2s_state *s, uint8_t *out);

/* One shot. Returns 0 or -EINVAL. */
int blake2s(uint8_t *out, size_t outlen, const void *key, size_t keylen, const void *in,
	    size_t len);

/* HMAC-BLAKE2s-256(key, a || b) per RFC 2104; keylen <= 64 (WireGuard only
 * uses 32). b may be NULL when blen is 0. Returns 0 or -EINVAL. */
int blake2s_hmac(uint8_t out[32], const uint8_t *key, size_t keylen, const void *a, size_t alen,
		 const void *b, size_t blen);

#endif /* BPFTUN_BLAKE2S_H */
