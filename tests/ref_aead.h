/* SPDX-License-Identifier: GPL-2.0 */
/*
 * ref_aead.h - the userspace reference AEAD that tests hold the BPF datapath to.
 *
 * Owns the interface of the reference implementation of bpftun's AEAD: RFC 8439
 * section 2.8 (AEAD construction) with AES-256 in counter mode in place of
 * ChaCha20 and Poly1305 unchanged. It is written independently of the BPF side:
 * ref_aead.c uses only OpenSSL's AES-256-ECB and libsodium's Poly1305, never
 * code or headers of the datapath (bpftun_shared.h is not included here).
 *
 * Construction, with nonce = salt[4] || header bytes 8..15 (the little-endian
 * counter as it is on the wire):
 *   keystream block i = AES-256-ECB_K(salt[4] || le64(counter) || be32(i))
 *   blocks 0 and 1    = the Poly1305 one-time key (r = block 0, s = block 1)
 *   ct[j]             = pt[j] ^ keystream block (2 + j / 16), byte j % 16
 *   tag               = Poly1305(otk, hdr[16] || ct || pad16(ct) ||
 *                                 le64(16) || le64(len))
 * The 16-byte header is the associated data; it needs no padding.
 *
 * Every function returns 0 or -errno (ref_poly1305 returns nothing).
 */
#ifndef BPFTUN_TESTS_REF_AEAD_H
#define BPFTUN_TESTS_REF_AEAD_H

#include <stddef.h>
#include <stdint.h>

#define REF_AEAD_KEY_LEN  32
#define REF_AEAD_SALT_LEN 4
#define REF_AEAD_HDR_LEN  16
#define REF_AEAD_TAG_LEN  16
#define REF_AEAD_BLOCK	  16
/* First keystream block of the payload; blocks 0 and 1 key Poly1305. */
#define REF_AEAD_PAYLOAD_BLOCK 2
/* Largest plaintext/ciphertext the reference accepts; more is -EMSGSIZE. */
#define REF_AEAD_MAX_LEN 65535

/*
 * Encrypt len bytes of pt into ct and authenticate hdr and ct into tag.
 * ct may be the same buffer as pt (in place); other overlap is not allowed.
 * pt and ct may be NULL when len is 0.
 * Returns 0, -EINVAL (NULL argument), -EMSGSIZE (len > REF_AEAD_MAX_LEN) or
 * -EIO (OpenSSL or libsodium failure; ct and tag are then unspecified).
 */
int ref_seal(const uint8_t key[32], const uint8_t salt[4], const uint8_t hdr[16], const uint8_t *pt,
	     size_t len, uint8_t *ct, uint8_t tag[16]);

/*
 * Verify tag over hdr and ct in constant time; only if it matches, decrypt ct
 * into pt. pt may be the same buffer as ct (in place).
 * Returns 0, -EBADMSG (tag mismatch: pt is not written), -EINVAL, -EMSGSIZE
 * or -EIO.
 */
int ref_open(const uint8_t key[32], const uint8_t salt[4], const uint8_t hdr[16], const uint8_t *ct,
	     size_t len, const uint8_t tag[16], uint8_t *pt);

/*
 * Write nblocks keystream blocks (16 * nblocks bytes) to out, starting at
 * block index first_block, for the given salt and packet counter.
 * Returns 0, -EINVAL, -EOVERFLOW (the 32-bit block index would wrap) or -EIO.
 */
int ref_keystream(const uint8_t key[32], const uint8_t salt[4], uint64_t counter,
		  uint32_t first_block, size_t nblocks, uint8_t *out);

/* Poly1305 of msg under the 32-byte one-time key (r || s): libsodium, as is. */
void ref_poly1305(const uint8_t key[32], const uint8_t *msg, size_t len, uint8_t tag[16]);

#endif /* BPFTUN_TESTS_REF_AEAD_H */
