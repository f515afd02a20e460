/* SPDX-License-Identifier: GPL-2.0 */
/*
 * wg_aead.h - ChaCha20-Poly1305 (RFC 8439 2.8) in BPF, as WireGuard seals and
 * opens its data messages (type 4):
 *   nonce = 32 zero bits || le64(counter)   (n0 = 0, n1/n2 = counter halves)
 *   no associated data
 *   Poly1305 one-time key = ChaCha20 block 0, first 32 bytes
 *   ciphertext = plaintext ^ ChaCha20 blocks 1, 2, ...
 *   tag = Poly1305(ct || pad16(ct) || le64(0) || le64(len))
 * WireGuard pads the inner packet with zeros to a multiple of 16 before
 * sealing, but caps the padding at the MTU, so a received message may have
 * any length: these functions take any len 0..WG_AEAD_MAX_LEN.
 *
 * The general core chacha20poly1305_seal/open also takes a 96-bit nonce and up
 * to 16 bytes of associated data, so that RFC 8439's own AEAD vectors (2.8.2,
 * A.5) check the very code WireGuard messages go through.
 *
 * Data lives in a struct wg_aead_buf (map-value memory: a per-CPU scratch map
 * in a datapath, .bss in tests), payload at offset 0, the 16-byte tag right
 * after the payload. Every access has a constant bound the verifier can check.
 *
 * open verifies the tag over the ciphertext first and decrypts only if it
 * matches: on -EBADMSG the buffer still holds the ciphertext.
 * Returns 0, -E2BIG (len > WG_AEAD_MAX_LEN), -EINVAL (aad_len > 16) or
 * -EBADMSG (open: tag mismatch).
 */
#ifndef BPFTUN_WG_AEAD_H
#define BPFTUN_WG_AEAD_H

#include "chacha20.h"
#include "poly1305.h"

#ifndef EBADMSG
#define EBADMSG 74
#endif

#define WG_AEAD_KEY_LEN 32
#define WG_AEAD_TAG_LEN 16
/* Largest payload: the datapath's bound on an inner packet (a multiple of 16). */
#define WG_AEAD_MAX_LEN BPFTUN_MAX_INNER
/* 2048 so a masked block offset (i & 31) * 64 plus 64 stays inside; the
 * slack after it absorbs whole-block XOR past len and the tag. */
#define WG_AEAD_BUF 2048
_Static_assert(WG_AEAD_MAX_LEN + WG_AEAD_TAG_LEN + 16 <= WG_AEAD_BUF, "payload + tag fit");

struct wg_aead_buf {
	__u8 b[WG_AEAD_BUF + 64];
	__u64 otk[8]; /* Poly1305 one-time key (block 0), zeroed after use */
};

/* key: 32 bytes as eight u32 words (map-value or stack memory). */
struct wg_aead_key {
	__u32 k[8];
};

/* Poly1305 over b[0 .. len) || pad16 || le64(aad_len) || le64(len), preceded
 * by the (zero-padded) AAD block when aad_len > 0, with the one-time key
 * made in otk[0..8) (64 bytes of map value) and zeroed again after. Zeroes
 * b[len .. len+16) first (the pad16 bytes); the caller keeps whatever it
 * needs from there. b: map-value memory with 2048 + 64 bytes from b. */
static __always_inline void wg_aead_tag_at(const __u32 *k, __u32 n0, __u32 n1, __u32 n2,
					   __u64 aad_lo, __u64 aad_hi, __u32 aad_len, __u8 *b,
					   __u64 *otk, __u32 len, __u64 *t0, __u64 *t1)
{
	struct poly1305 p;
	__u8 *tail = b + (len & (WG_AEAD_BUF - 1));

	*(__u64 *)(tail + 0) = 0;
	*(__u64 *)(tail + 8) = 0;

	__builtin_memset(otk, 0, 64);
	chacha20_xor_block(k, 0, n0, n1, n2, otk);
	poly1305_init(&p, otk[0], otk[1], otk[2], otk[3]);
	/* the one-time key is a secret: do not leave it in the map */
	__builtin_memset(otk, 0, 64);
	if (aad_len)
		poly1305_block(&p, aad_lo, aad_hi, 1ULL << 24);
	poly1305_aead_finish(&p, b, (len + 15) / 16, aad_len, len, t0, t1);
}

static __always_inline void wg_aead_tag(const __u32 *k, __u32 n0, __u32 n1, __u32 n2, __u64 aad_lo,
					__u64 aad_hi, __u32 aad_len, struct wg_aead_buf *s,
					__u32 len, __u64 *t0, __u64 *t1)
{
	wg_aead_tag_at(k, n0, n1, n2, aad_lo, aad_hi, aad_len, s->b, s->otk, len, t0, t1);
}

/* WireGuard's seal of b[0 .. len) in place (nonce 0^32 || le64(counter), no
 * AAD), the tag in *t0, *t1; b and otk as for wg_aead_tag_at. The datapath
 * (lib/wg_data.h) calls this on its own scratch layout. */
static __always_inline void wg_aead_seal_at(const __u32 *k, __u64 counter, __u8 *b, __u64 *otk,
					    __u32 len, __u64 *t0, __u64 *t1)
{
	chacha20_xor(k, 1, 0, (__u32)counter, (__u32)(counter >> 32), b, len);
	wg_aead_tag_at(k, 0, (__u32)counter, (__u32)(counter >> 32), 0, 0, 0, b, otk, len, t0, t1);
}

/* WireGuard's tag over the ciphertext b[0 .. len): compare it with the
 * received one before wg_aead_decrypt_at. */
static __always_inline void wg_aead_verify_tag_at(const __u32 *k, __u64 counter, __u8 *b,
						  __u64 *otk, __u32 len, __u64 *t0, __u64 *t1)
{
	wg_aead_tag_at(k, 0, (__u32)counter, (__u32)(counter >> 32), 0, 0, 0, b, otk, len, t0, t1);
}

static __always_inline void wg_aead_decrypt_at(const __u32 *k, __u64 counter, __u8 *b, __u32 len)
{
	chacha20_xor(k, 1, 0, (__u32)counter, (__u32)(counter >> 32), b, len);
}

/* Encrypt b[0 .. len) in place and write the tag to b[len .. len+16). */
static __always_inline int chacha20poly1305_seal(const __u32 *k, __u32 n0, __u32 n1, __u32 n2,
						 __u64 aad_lo, __u64 aad_hi, __u32 aad_len,
						 struct wg_aead_buf *s, __u32 len)
{
	__u64 t0, t1;
	__u8 *tp;

	if (len > WG_AEAD_MAX_LEN)
		return -E2BIG;
	if (aad_len > 16)
		return -EINVAL;
	chacha20_xor(k, 1, n0, n1, n2, s->b, len);
	wg_aead_tag(k, n0, n1, n2, aad_lo, aad_hi, aad_len, s, len, &t0, &t1);
	tp = s->b + (len & (WG_AEAD_BUF - 1));
	*(__u64 *)(tp + 0) = t0;
	*(__u64 *)(tp + 8) = t1;
	return 0;
}

/* Check the tag at b[len .. len+16) over b[0 .. len); only if it matches,
 * decrypt b[0 .. len) in place. Bytes from b[len] on are unspecified after. */
static __always_inline int chacha20poly1305_open(const __u32 *k, __u32 n0, __u32 n1, __u32 n2,
						 __u64 aad_lo, __u64 aad_hi, __u32 aad_len,
						 struct wg_aead_buf *s, __u32 len)
{
	__u64 r0, r1, t0, t1;
	__u8 *tp;

	if (len > WG_AEAD_MAX_LEN)
		return -E2BIG;
	if (aad_len > 16)
		return -EINVAL;
	tp = s->b + (len & (WG_AEAD_BUF - 1));
	r0 = *(__u64 *)(tp + 0);
	r1 = *(__u64 *)(tp + 8);
	wg_aead_tag(k, n0, n1, n2, aad_lo, aad_hi, aad_len, s, len, &t0, &t1);
	/* compare without branching on partial results */
	if ((r0 ^ t0) | (r1 ^ t1))
		return -EBADMSG;
	chacha20_xor(k, 1, n0, n1, n2, s->b, len);
	return 0;
}

/* WireGuard data message (type 4) payload: nonce 0 || le64(counter), no AAD. */
static __always_inline int wg_aead_seal(const struct wg_aead_key *key, __u64 counter,
					struct wg_aead_buf *s, __u32 len)
{
	return chacha20poly1305_seal(key->k, 0, (__u32)counter, (__u32)(counter >> 32), 0, 0, 0, s,
				     len);
}

static __always_inline int wg_aead_open(const struct wg_aead_key *key, __u64 counter,
					struct wg_aead_buf *s, __u32 len)
{
	return chacha20poly1305_open(key->k, 0, (__u32)counter, (__u32)(counter >> 32), 0, 0, 0, s,
				     len);
}

#endif /* BPFTUN_WG_AEAD_H */
