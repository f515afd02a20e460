// SPDX-License-Identifier: GPL-2.0
/*
 * ref_aead.c - the userspace reference implementation of bpftun's AEAD.
 *
 * Owns ref_seal, ref_open, ref_keystream and ref_poly1305 (see ref_aead.h for
 * the construction). Built only from OpenSSL's AES-256-ECB (no padding) and
 * libsodium's Poly1305 (crypto_onetimeauth_poly1305_init/update/final); it
 * shares no code with the BPF datapath, so that tests can check the datapath
 * against it byte for byte. Byte orders are written out with shifts and never
 * depend on the host's.
 */
#include <errno.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <sodium.h>

#include "ref_aead.h"

/* Keystream blocks produced per EVP call: bounds the stack buffers. */
#define KS_CHUNK  64
#define NONCE_LEN 12 /* salt[4] || le64(counter) */

static void put_le64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* libsodium picks its Poly1305 implementation in sodium_init(); idempotent. */
static int ref_sodium_init(void)
{
	return sodium_init() < 0 ? -EIO : 0;
}

/* An AES-256-ECB encryption context without padding, or NULL. */
static EVP_CIPHER_CTX *aes_new(const uint8_t key[32])
{
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();

	if (!ctx)
		return NULL;
	if (EVP_EncryptInit_ex(ctx, EVP_aes_256_ecb(), NULL, key, NULL) != 1 ||
	    EVP_CIPHER_CTX_set_padding(ctx, 0) != 1) {
		EVP_CIPHER_CTX_free(ctx); /* clears the key schedule */
		return NULL;
	}
	return ctx;
}

/*
 * out = AES_K(nonce || be32(first + i)) for i in [0, n). The caller has checked
 * that first + n - 1 does not wrap. The counter blocks are public; the output
 * is key material and the caller clears it.
 */
static int aes_ctr_blocks(EVP_CIPHER_CTX *ctx, const uint8_t nonce[NONCE_LEN], uint32_t first,
			  size_t n, uint8_t *out)
{
	uint8_t in[KS_CHUNK * REF_AEAD_BLOCK];

	while (n) {
		size_t k = n < KS_CHUNK ? n : KS_CHUNK;
		int outl = 0;

		for (size_t i = 0; i < k; i++) {
			memcpy(in + i * REF_AEAD_BLOCK, nonce, NONCE_LEN);
			put_be32(in + i * REF_AEAD_BLOCK + NONCE_LEN, first + (uint32_t)i);
		}
		if (EVP_EncryptUpdate(ctx, out, &outl, in, (int)(k * REF_AEAD_BLOCK)) != 1 ||
		    outl != (int)(k * REF_AEAD_BLOCK))
			return -EIO;
		out += k * REF_AEAD_BLOCK;
		first += (uint32_t)k;
		n -= k;
	}
	return 0;
}

/* RFC 8439 2.8 mac_data with a 16-byte AAD, fed to Poly1305 piece by piece. */
static void aead_tag(const uint8_t otk[32], const uint8_t hdr[16], const uint8_t *ct, size_t len,
		     uint8_t tag[16])
{
	static const uint8_t zeros[16];
	crypto_onetimeauth_poly1305_state st;
	uint8_t lens[16];

	crypto_onetimeauth_poly1305_init(&st, otk);
	/* AAD is exactly one block: pad16(AAD) is empty. */
	crypto_onetimeauth_poly1305_update(&st, hdr, REF_AEAD_HDR_LEN);
	if (len)
		crypto_onetimeauth_poly1305_update(&st, ct, len);
	if (len % 16)
		crypto_onetimeauth_poly1305_update(&st, zeros, 16 - len % 16);
	put_le64(lens, REF_AEAD_HDR_LEN);
	put_le64(lens + 8, (uint64_t)len);
	crypto_onetimeauth_poly1305_update(&st, lens, sizeof(lens));
	crypto_onetimeauth_poly1305_final(&st, tag);
	sodium_memzero(&st, sizeof(st));
}

/* dst = src ^ keystream blocks 2.., len bytes; dst may equal src. */
static int ctr_xor(EVP_CIPHER_CTX *ctx, const uint8_t nonce[NONCE_LEN], const uint8_t *src,
		   size_t len, uint8_t *dst)
{
	uint8_t ks[KS_CHUNK * REF_AEAD_BLOCK];
	uint32_t block = REF_AEAD_PAYLOAD_BLOCK;
	size_t off = 0;
	int err = 0;

	while (off < len) {
		size_t n = len - off < sizeof(ks) ? len - off : sizeof(ks);
		size_t nblocks = (n + REF_AEAD_BLOCK - 1) / REF_AEAD_BLOCK;

		err = aes_ctr_blocks(ctx, nonce, block, nblocks, ks);
		if (err)
			break;
		for (size_t j = 0; j < n; j++)
			dst[off + j] = src[off + j] ^ ks[j];
		block += (uint32_t)nblocks;
		off += n;
	}
	OPENSSL_cleanse(ks, sizeof(ks));
	return err;
}

static int check_args(const uint8_t *key, const uint8_t *salt, const uint8_t *hdr,
		      const uint8_t *in, size_t len, const void *out, const uint8_t *tag)
{
	if (!key || !salt || !hdr || !tag || (len && (!in || !out)))
		return -EINVAL;
	if (len > REF_AEAD_MAX_LEN)
		return -EMSGSIZE;
	return 0;
}

/* nonce = salt || the counter exactly as the header carries it (le64). */
static void make_nonce(uint8_t nonce[NONCE_LEN], const uint8_t salt[4], const uint8_t hdr[16])
{
	memcpy(nonce, salt, REF_AEAD_SALT_LEN);
	memcpy(nonce + REF_AEAD_SALT_LEN, hdr + 8, 8);
}

int ref_seal(const uint8_t key[32], const uint8_t salt[4], const uint8_t hdr[16], const uint8_t *pt,
	     size_t len, uint8_t *ct, uint8_t tag[16])
{
	uint8_t nonce[NONCE_LEN], otk[32];
	EVP_CIPHER_CTX *ctx;
	int err;

	err = check_args(key, salt, hdr, pt, len, ct, tag);
	if (err)
		return err;
	err = ref_sodium_init();
	if (err)
		return err;
	ctx = aes_new(key);
	if (!ctx)
		return -EIO;
	make_nonce(nonce, salt, hdr);

	err = aes_ctr_blocks(ctx, nonce, 0, 2, otk);
	if (!err)
		err = ctr_xor(ctx, nonce, pt, len, ct);
	if (!err)
		aead_tag(otk, hdr, ct, len, tag);

	sodium_memzero(otk, sizeof(otk));
	EVP_CIPHER_CTX_free(ctx);
	return err;
}

int ref_open(const uint8_t key[32], const uint8_t salt[4], const uint8_t hdr[16], const uint8_t *ct,
	     size_t len, const uint8_t tag[16], uint8_t *pt)
{
	uint8_t nonce[NONCE_LEN], otk[32], want[16];
	EVP_CIPHER_CTX *ctx;
	int err;

	err = check_args(key, salt, hdr, ct, len, pt, tag);
	if (err)
		return err;
	err = ref_sodium_init();
	if (err)
		return err;
	ctx = aes_new(key);
	if (!ctx)
		return -EIO;
	make_nonce(nonce, salt, hdr);

	err = aes_ctr_blocks(ctx, nonce, 0, 2, otk);
	if (err)
		goto out;
	aead_tag(otk, hdr, ct, len, want);
	/* Constant time; nothing is decrypted unless the tag is right. */
	if (crypto_verify_16(want, tag) != 0) {
		err = -EBADMSG;
		goto out;
	}
	err = ctr_xor(ctx, nonce, ct, len, pt);
out:
	sodium_memzero(otk, sizeof(otk));
	sodium_memzero(want, sizeof(want));
	EVP_CIPHER_CTX_free(ctx);
	return err;
}

int ref_keystream(const uint8_t key[32], const uint8_t salt[4], uint64_t counter,
		  uint32_t first_block, size_t nblocks, uint8_t *out)
{
	uint8_t nonce[NONCE_LEN];
	EVP_CIPHER_CTX *ctx;
	int err;

	if (!key || !salt || (nblocks && !out))
		return -EINVAL;
	if ((uint64_t)nblocks > (uint64_t)UINT32_MAX - first_block + 1)
		return -EOVERFLOW;
	if (!nblocks)
		return 0;
	ctx = aes_new(key);
	if (!ctx)
		return -EIO;
	memcpy(nonce, salt, REF_AEAD_SALT_LEN);
	put_le64(nonce + REF_AEAD_SALT_LEN, counter);
	err = aes_ctr_blocks(ctx, nonce, first_block, nblocks, out);
	if (err)
		OPENSSL_cleanse(out, nblocks * REF_AEAD_BLOCK);
	EVP_CIPHER_CTX_free(ctx);
	return err;
}

void ref_poly1305(const uint8_t key[32], const uint8_t *msg, size_t len, uint8_t tag[16])
{
	crypto_onetimeauth_poly1305_state st;

	/* On failure libsodium keeps its portable implementation: still correct. */
	(void)ref_sodium_init();
	crypto_onetimeauth_poly1305_init(&st, key);
	if (len)
		crypto_onetimeauth_poly1305_update(&st, msg, len);
	crypto_onetimeauth_poly1305_final(&st, tag);
	sodium_memzero(&st, sizeof(st));
}
