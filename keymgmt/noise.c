// SPDX-License-Identifier: GPL-2.0
/*
 * noise.c - Noise_IKpsk2_25519_ChaChaPoly_BLAKE2b (Noise spec revision 34).
 *
 * Owns the implementation of the CipherState, SymmetricState and
 * HandshakeState of noise.h: HASH (BLAKE2b-512), HMAC (RFC 2104 over it),
 * HKDF (spec 4.3), DH (X25519), CIPHER (ChaCha20-Poly1305 IETF), the IKpsk2
 * message patterns and Split(). Only libsodium is used. Each function keeps its
 * secret temporaries in locals that are wiped before every return.
 */
#include <errno.h>
#include <string.h>

#include <sodium.h>

#include "noise.h"

#define NONCE_LEN crypto_aead_chacha20poly1305_ietf_NPUBBYTES

_Static_assert(crypto_aead_chacha20poly1305_ietf_KEYBYTES == NOISE_KEYLEN, "ChaChaPoly key");
_Static_assert(crypto_aead_chacha20poly1305_ietf_ABYTES == NOISE_TAGLEN, "ChaChaPoly tag");
_Static_assert(NONCE_LEN == 12, "IETF nonce");
_Static_assert(crypto_scalarmult_curve25519_BYTES == NOISE_DHLEN, "X25519");
_Static_assert(crypto_generichash_blake2b_BYTES_MAX == NOISE_HASHLEN, "BLAKE2b-512");
_Static_assert(sizeof(NOISE_PROTOCOL_NAME) - 1 <= NOISE_HASHLEN, "name is padded, not hashed");
_Static_assert(NOISE_AES_KEY_LEN + NOISE_SALT_LEN <= NOISE_HASHLEN, "tunnel keys fit an output");

int noise_init(void)
{
	return sodium_init() < 0 ? -EIO : 0;
}

/* ------------------------------------------------------------------- HASH */

static int hash2(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen,
		 uint8_t out[NOISE_HASHLEN])
{
	crypto_generichash_blake2b_state st;
	int ret = -EIO;

	if (crypto_generichash_blake2b_init(&st, NULL, 0, NOISE_HASHLEN) ||
	    crypto_generichash_blake2b_update(&st, a, alen) ||
	    crypto_generichash_blake2b_update(&st, b, blen) ||
	    crypto_generichash_blake2b_final(&st, out, NOISE_HASHLEN))
		goto out;
	ret = 0;
out:
	sodium_memzero(&st, sizeof(st));
	return ret;
}

int noise_hash(const uint8_t *data, size_t len, uint8_t out[NOISE_HASHLEN])
{
	if ((!data && len) || !out)
		return -EINVAL;
	return hash2(data, len, NULL, 0, out);
}

/* ------------------------------------------------------------------- HMAC */

/* HMAC-BLAKE2b-512(key, a || b), RFC 2104 with B = BLOCKLEN, L = HASHLEN. */
static int hmac2(const uint8_t *key, size_t key_len, const uint8_t *a, size_t alen,
		 const uint8_t *b, size_t blen, uint8_t out[NOISE_HASHLEN])
{
	crypto_generichash_blake2b_state st;
	uint8_t k[NOISE_BLOCKLEN], pad[NOISE_BLOCKLEN], inner[NOISE_HASHLEN];
	int ret = -EIO;

	memset(k, 0, sizeof(k));
	if (key_len > NOISE_BLOCKLEN) {
		if (hash2(key, key_len, NULL, 0, k))
			goto out;
	} else if (key_len) {
		memcpy(k, key, key_len);
	}

	for (size_t i = 0; i < NOISE_BLOCKLEN; i++)
		pad[i] = k[i] ^ 0x36;
	if (crypto_generichash_blake2b_init(&st, NULL, 0, NOISE_HASHLEN) ||
	    crypto_generichash_blake2b_update(&st, pad, sizeof(pad)) ||
	    crypto_generichash_blake2b_update(&st, a, alen) ||
	    crypto_generichash_blake2b_update(&st, b, blen) ||
	    crypto_generichash_blake2b_final(&st, inner, sizeof(inner)))
		goto out;

	for (size_t i = 0; i < NOISE_BLOCKLEN; i++)
		pad[i] = k[i] ^ 0x5c;
	if (crypto_generichash_blake2b_init(&st, NULL, 0, NOISE_HASHLEN) ||
	    crypto_generichash_blake2b_update(&st, pad, sizeof(pad)) ||
	    crypto_generichash_blake2b_update(&st, inner, sizeof(inner)) ||
	    crypto_generichash_blake2b_final(&st, out, NOISE_HASHLEN))
		goto out;
	ret = 0;
out:
	sodium_memzero(&st, sizeof(st));
	sodium_memzero(k, sizeof(k));
	sodium_memzero(pad, sizeof(pad));
	sodium_memzero(inner, sizeof(inner));
	return ret;
}

int noise_hmac(const uint8_t *key, size_t key_len, const uint8_t *data, size_t len,
	       uint8_t out[NOISE_HASHLEN])
{
	if ((!key && key_len) || (!data && len) || !out)
		return -EINVAL;
	return hmac2(key, key_len, data, len, NULL, 0, out);
}

/* ------------------------------------------------------------------- HKDF */

int noise_hkdf(const uint8_t ck[NOISE_HASHLEN], const uint8_t *ikm, size_t ikm_len,
	       unsigned int num_outputs, uint8_t out1[NOISE_HASHLEN], uint8_t out2[NOISE_HASHLEN],
	       uint8_t out3[NOISE_HASHLEN])
{
	static const uint8_t one = 1, two = 2, three = 3;
	uint8_t temp_key[NOISE_HASHLEN];
	int ret;

	if (!ck || (!ikm && ikm_len) || !out1 || !out2 || num_outputs < 2 || num_outputs > 3 ||
	    (num_outputs == 3 && !out3))
		return -EINVAL;

	ret = hmac2(ck, NOISE_HASHLEN, ikm, ikm_len, NULL, 0, temp_key);
	if (!ret)
		ret = hmac2(temp_key, sizeof(temp_key), &one, 1, NULL, 0, out1);
	if (!ret)
		ret = hmac2(temp_key, sizeof(temp_key), out1, NOISE_HASHLEN, &two, 1, out2);
	if (!ret && num_outputs == 3)
		ret = hmac2(temp_key, sizeof(temp_key), out2, NOISE_HASHLEN, &three, 1, out3);
	sodium_memzero(temp_key, sizeof(temp_key));
	if (ret) {
		sodium_memzero(out1, NOISE_HASHLEN);
		sodium_memzero(out2, NOISE_HASHLEN);
		if (out3)
			sodium_memzero(out3, NOISE_HASHLEN);
	}
	return ret;
}

/* --------------------------------------------------------------------- DH */

int noise_dh(const uint8_t priv[NOISE_DHLEN], const uint8_t pub[NOISE_DHLEN],
	     uint8_t out[NOISE_DHLEN])
{
	if (!priv || !pub || !out)
		return -EINVAL;
	/* libsodium also returns -1 for an all-zero result; check it ourselves
	 * so that the rule does not depend on the library version. */
	if (crypto_scalarmult_curve25519(out, priv, pub) != 0 || sodium_is_zero(out, NOISE_DHLEN)) {
		sodium_memzero(out, NOISE_DHLEN);
		return -EKEYREJECTED;
	}
	return 0;
}

int noise_keypair_from_private(struct noise_keypair *kp, const uint8_t priv[NOISE_DHLEN])
{
	if (!kp || !priv)
		return -EINVAL;
	memmove(kp->priv, priv, NOISE_DHLEN);
	if (crypto_scalarmult_curve25519_base(kp->pub, kp->priv) != 0) {
		sodium_memzero(kp, sizeof(*kp));
		return -EIO;
	}
	return 0;
}

int noise_keypair_generate(struct noise_keypair *kp)
{
	uint8_t priv[NOISE_DHLEN];
	int ret;

	if (!kp)
		return -EINVAL;
	randombytes_buf(priv, sizeof(priv));
	ret = noise_keypair_from_private(kp, priv);
	sodium_memzero(priv, sizeof(priv));
	return ret;
}

/* ------------------------------------------------------------ CipherState */

static void cipher_init_key(struct noise_cipher *c, const uint8_t *k)
{
	if (k) {
		memcpy(c->k, k, NOISE_KEYLEN);
		c->has_key = true;
	} else {
		sodium_memzero(c->k, NOISE_KEYLEN);
		c->has_key = false;
	}
	c->n = 0;
}

static void cipher_nonce(uint8_t nonce[NONCE_LEN], uint64_t n)
{
	memset(nonce, 0, 4);
	for (int i = 0; i < 8; i++)
		nonce[4 + i] = (uint8_t)(n >> (8 * i));
}

int noise_cipher_encrypt(struct noise_cipher *c, const uint8_t *ad, size_t ad_len,
			 const uint8_t *pt, size_t len, uint8_t *out)
{
	uint8_t nonce[NONCE_LEN], empty = 0;

	if (!c || !c->has_key || (!ad && ad_len) || (!pt && len) || !out)
		return -EINVAL;
	if (!pt)
		pt = &empty;
	if (len > NOISE_MAX_MSG - NOISE_TAGLEN)
		return -EMSGSIZE;
	/* n = 2^64 - 1 is reserved (spec 5.1). */
	if (c->n == UINT64_MAX)
		return -EOVERFLOW;
	cipher_nonce(nonce, c->n);
	if (crypto_aead_chacha20poly1305_ietf_encrypt(out, NULL, pt, len, ad, ad_len, NULL, nonce,
						      c->k) != 0)
		return -EIO;
	c->n++;
	return 0;
}

int noise_cipher_decrypt(struct noise_cipher *c, const uint8_t *ad, size_t ad_len,
			 const uint8_t *ct, size_t len, uint8_t *out)
{
	uint8_t nonce[NONCE_LEN], empty;

	if (!c || !c->has_key || (!ad && ad_len) || !ct || (!out && len > NOISE_TAGLEN))
		return -EINVAL;
	if (!out)
		out = &empty; /* an empty plaintext: nothing is written */
	if (len < NOISE_TAGLEN)
		return -EBADMSG;
	if (len > NOISE_MAX_MSG)
		return -EMSGSIZE;
	if (c->n == UINT64_MAX)
		return -EOVERFLOW;
	cipher_nonce(nonce, c->n);
	/* libsodium checks the tag before it writes any plaintext. */
	if (crypto_aead_chacha20poly1305_ietf_decrypt(out, NULL, NULL, ct, len, ad, ad_len, nonce,
						      c->k) != 0)
		return -EBADMSG;
	c->n++;
	return 0;
}

/* --------------------------------------------------------- SymmetricState */

static void symmetric_init(struct noise_symmetric *ss, const char *name)
{
	size_t len = strlen(name);

	memset(ss, 0, sizeof(*ss));
	if (len <= NOISE_HASHLEN)
		memcpy(ss->h, name, len); /* zero-padded to HASHLEN */
	else
		hash2((const uint8_t *)name, len, NULL, 0, ss->h);
	memcpy(ss->ck, ss->h, NOISE_HASHLEN);
	cipher_init_key(&ss->cs, NULL);
}

static int mix_hash(struct noise_symmetric *ss, const uint8_t *data, size_t len)
{
	return hash2(ss->h, NOISE_HASHLEN, data, len, ss->h);
}

static int mix_key(struct noise_symmetric *ss, const uint8_t *ikm, size_t len)
{
	uint8_t ck[NOISE_HASHLEN], temp_k[NOISE_HASHLEN];
	int ret;

	ret = noise_hkdf(ss->ck, ikm, len, 2, ck, temp_k, NULL);
	if (!ret) {
		memcpy(ss->ck, ck, NOISE_HASHLEN);
		/* HASHLEN 64: temp_k is truncated to 32 bytes. */
		cipher_init_key(&ss->cs, temp_k);
	}
	sodium_memzero(ck, sizeof(ck));
	sodium_memzero(temp_k, sizeof(temp_k));
	return ret;
}

/* MixKeyAndHash(psk) (spec 5.2): HKDF(ck, psk, 3) -> ck, temp_h, temp_k;
 * MixHash(temp_h); InitializeKey(temp_k truncated to 32 bytes). */
static int mix_key_and_hash(struct noise_symmetric *ss, const uint8_t *ikm, size_t len)
{
	uint8_t ck[NOISE_HASHLEN], temp_h[NOISE_HASHLEN], temp_k[NOISE_HASHLEN];
	int ret;

	ret = noise_hkdf(ss->ck, ikm, len, 3, ck, temp_h, temp_k);
	if (!ret) {
		memcpy(ss->ck, ck, NOISE_HASHLEN);
		ret = mix_hash(ss, temp_h, NOISE_HASHLEN);
	}
	if (!ret)
		cipher_init_key(&ss->cs, temp_k);
	sodium_memzero(ck, sizeof(ck));
	sodium_memzero(temp_h, sizeof(temp_h));
	sodium_memzero(temp_k, sizeof(temp_k));
	return ret;
}

/* The "e" token's symmetric part: MixHash(e.pub), and, because this is a psk
 * handshake (spec 9.2), MixKey(e.pub). */
static int mix_ephemeral(struct noise_symmetric *ss, const uint8_t pub[NOISE_DHLEN])
{
	int ret = mix_hash(ss, pub, NOISE_DHLEN);

	return ret ? ret : mix_key(ss, pub, NOISE_DHLEN);
}

/* MixKey(DH(priv, pub)). */
static int mix_dh(struct noise_symmetric *ss, const uint8_t *priv, const uint8_t *pub)
{
	uint8_t dh[NOISE_DHLEN];
	int ret;

	ret = noise_dh(priv, pub, dh);
	if (!ret)
		ret = mix_key(ss, dh, sizeof(dh));
	sodium_memzero(dh, sizeof(dh));
	return ret;
}

/* out gets len (+16 once keyed) bytes; out may equal pt. */
static int encrypt_and_hash(struct noise_symmetric *ss, const uint8_t *pt, size_t len, uint8_t *out,
			    size_t *out_len)
{
	int ret;

	if (ss->cs.has_key) {
		ret = noise_cipher_encrypt(&ss->cs, ss->h, NOISE_HASHLEN, pt, len, out);
		if (ret)
			return ret;
		len += NOISE_TAGLEN;
	} else if (len) {
		memmove(out, pt, len);
	}
	*out_len = len;
	return mix_hash(ss, out, len);
}

/* ct is hashed as received; out gets len (-16 once keyed) bytes. */
static int decrypt_and_hash(struct noise_symmetric *ss, const uint8_t *ct, size_t len, uint8_t *out)
{
	int ret;

	if (ss->cs.has_key) {
		ret = noise_cipher_decrypt(&ss->cs, ss->h, NOISE_HASHLEN, ct, len, out);
		if (ret)
			return ret;
	} else if (len) {
		memmove(out, ct, len);
	}
	return mix_hash(ss, ct, len);
}

/* --------------------------------------------------------- HandshakeState */

void noise_handshake_wipe(struct noise_handshake *hs)
{
	if (hs) {
		sodium_memzero(hs, sizeof(*hs));
		hs->msg = -1;
	}
}

int noise_handshake_init(struct noise_handshake *hs, enum noise_role role,
			 const struct noise_keypair *s, const uint8_t *rs, const uint8_t *prologue,
			 size_t prologue_len)
{
	int ret;

	if (!hs || !s || (!prologue && prologue_len))
		return -EINVAL;
	if ((role == NOISE_INITIATOR && !rs) || (role == NOISE_RESPONDER && rs) ||
	    (role != NOISE_INITIATOR && role != NOISE_RESPONDER))
		return -EINVAL;

	memset(hs, 0, sizeof(*hs));
	symmetric_init(&hs->ss, NOISE_PROTOCOL_NAME);
	hs->role = role;
	hs->s = *s;
	if (rs) {
		memcpy(hs->rs, rs, NOISE_DHLEN);
		hs->has_rs = true;
	}
	ret = mix_hash(&hs->ss, prologue, prologue_len);
	/* Pre-message pattern "<- s": the responder's static key. */
	if (!ret)
		ret = mix_hash(&hs->ss, role == NOISE_INITIATOR ? hs->rs : hs->s.pub, NOISE_DHLEN);
	if (ret) {
		noise_handshake_wipe(hs);
		return ret;
	}
	return 0;
}

int noise_handshake_set_ephemeral(struct noise_handshake *hs, const uint8_t priv[NOISE_DHLEN])
{
	int ret;

	if (!hs || !priv)
		return -EINVAL;
	if ((hs->role == NOISE_INITIATOR && hs->msg != 0) ||
	    (hs->role == NOISE_RESPONDER && hs->msg != 0 && hs->msg != 1))
		return -EINVAL;
	ret = noise_keypair_from_private(&hs->e, priv);
	hs->has_e = !ret;
	return ret;
}

int noise_handshake_set_psk(struct noise_handshake *hs, const uint8_t psk[NOISE_PSKLEN])
{
	/* The psk token is in message 2 (msg == 1): not yet processed while
	 * msg is 0 or 1. */
	if (!hs || hs->msg < 0 || hs->msg > 1)
		return -EINVAL;
	if (psk)
		memcpy(hs->psk, psk, NOISE_PSKLEN);
	else
		sodium_memzero(hs->psk, NOISE_PSKLEN);
	return 0;
}

static int ensure_ephemeral(struct noise_handshake *hs)
{
	if (hs->has_e)
		return 0;
	return noise_keypair_generate(&hs->e);
}

int noise_write_message(struct noise_handshake *hs, const uint8_t *payload, size_t payload_len,
			uint8_t *out, size_t out_size, size_t *out_len)
{
	size_t need, off = 0, n;
	int ret;

	if (!hs || !out || !out_len || (!payload && payload_len))
		return -EINVAL;
	if ((hs->role == NOISE_INITIATOR) != (hs->msg == 0) || (hs->msg != 0 && hs->msg != 1))
		return -EINVAL;
	if (payload_len > NOISE_MAX_MSG)
		return -EMSGSIZE;
	need = hs->msg == 0 ? NOISE_IK_MSG1_LEN(payload_len) : NOISE_IK_MSG2_LEN(payload_len);
	if (need > NOISE_MAX_MSG || need > out_size)
		return -EMSGSIZE;

	ret = ensure_ephemeral(hs);
	if (ret)
		goto fail;
	/* e */
	memcpy(out, hs->e.pub, NOISE_DHLEN);
	off = NOISE_DHLEN;
	ret = mix_ephemeral(&hs->ss, hs->e.pub);
	if (ret)
		goto fail;

	if (hs->msg == 0) {
		/* -> e, es, s, ss */
		ret = mix_dh(&hs->ss, hs->e.priv, hs->rs);
		if (!ret)
			ret = encrypt_and_hash(&hs->ss, hs->s.pub, NOISE_DHLEN, out + off, &n);
		if (ret)
			goto fail;
		off += n;
		ret = mix_dh(&hs->ss, hs->s.priv, hs->rs);
	} else {
		/* <- e, ee, se, psk */
		ret = mix_dh(&hs->ss, hs->e.priv, hs->re);
		if (!ret)
			ret = mix_dh(&hs->ss, hs->e.priv, hs->rs);
		if (!ret)
			ret = mix_key_and_hash(&hs->ss, hs->psk, NOISE_PSKLEN);
	}
	if (!ret)
		ret = encrypt_and_hash(&hs->ss, payload, payload_len, out + off, &n);
	if (ret)
		goto fail;
	*out_len = off + n;
	hs->msg++;
	return 0;
fail:
	sodium_memzero(out, need);
	noise_handshake_wipe(hs);
	return ret;
}

int noise_read_message(struct noise_handshake *hs, const uint8_t *msg, size_t len, uint8_t *payload,
		       size_t payload_size, size_t *payload_len)
{
	size_t min, plen, off;
	int ret;

	if (!hs || !msg || !payload_len)
		return -EINVAL;
	if ((hs->role == NOISE_RESPONDER) != (hs->msg == 0) || (hs->msg != 0 && hs->msg != 1))
		return -EINVAL;
	if (len > NOISE_MAX_MSG)
		return -EMSGSIZE;
	min = hs->msg == 0 ? NOISE_IK_MSG1_LEN(0) : NOISE_IK_MSG2_LEN(0);
	if (len < min) {
		ret = -EBADMSG;
		goto fail;
	}
	plen = len - min;
	if (plen > payload_size || (plen && !payload))
		return -EMSGSIZE; /* the caller's buffer: the state is unchanged */

	/* e */
	memcpy(hs->re, msg, NOISE_DHLEN);
	off = NOISE_DHLEN;
	ret = mix_ephemeral(&hs->ss, hs->re);
	if (ret)
		goto fail;

	if (hs->msg == 0) {
		/* -> e, es, s, ss */
		ret = mix_dh(&hs->ss, hs->s.priv, hs->re);
		if (!ret)
			ret = decrypt_and_hash(&hs->ss, msg + off, NOISE_DHLEN + NOISE_TAGLEN,
					       hs->rs);
		if (ret)
			goto fail;
		hs->has_rs = true;
		off += NOISE_DHLEN + NOISE_TAGLEN;
		ret = mix_dh(&hs->ss, hs->s.priv, hs->rs);
	} else {
		/* <- e, ee, se, psk */
		ret = mix_dh(&hs->ss, hs->e.priv, hs->re);
		if (!ret)
			ret = mix_dh(&hs->ss, hs->s.priv, hs->re);
		if (!ret)
			ret = mix_key_and_hash(&hs->ss, hs->psk, NOISE_PSKLEN);
	}
	if (!ret)
		ret = decrypt_and_hash(&hs->ss, msg + off, len - off, payload);
	if (ret)
		goto fail;
	*payload_len = plen;
	hs->msg++;
	return 0;
fail:
	if (payload && payload_size)
		sodium_memzero(payload, payload_size);
	noise_handshake_wipe(hs);
	return ret;
}

int noise_handshake_remote_static(const struct noise_handshake *hs, uint8_t rs[NOISE_DHLEN])
{
	if (!hs || !rs || !hs->has_rs)
		return -EINVAL;
	memcpy(rs, hs->rs, NOISE_DHLEN);
	return 0;
}

int noise_handshake_hash(const struct noise_handshake *hs, uint8_t h[NOISE_HASHLEN])
{
	if (!hs || !h || hs->msg < 0)
		return -EINVAL;
	memcpy(h, hs->ss.h, NOISE_HASHLEN);
	return 0;
}

void noise_transport_wipe(struct noise_transport *t)
{
	if (t)
		sodium_memzero(t, sizeof(*t));
}

int noise_split(struct noise_handshake *hs, struct noise_transport *t)
{
	uint8_t o1[NOISE_HASHLEN], o2[NOISE_HASHLEN];
	const uint8_t *mine, *theirs;
	int ret;

	if (!hs || !t)
		return -EINVAL;
	if (hs->msg != 2)
		return -EINVAL;
	memset(t, 0, sizeof(*t));
	ret = noise_hkdf(hs->ss.ck, NULL, 0, 2, o1, o2, NULL);
	if (ret)
		goto out;
	/* out1 carries initiator -> responder, out2 responder -> initiator. */
	mine = hs->role == NOISE_INITIATOR ? o1 : o2;
	theirs = hs->role == NOISE_INITIATOR ? o2 : o1;
	cipher_init_key(&t->send, mine);
	cipher_init_key(&t->recv, theirs);
	memcpy(t->tx.key, mine, NOISE_AES_KEY_LEN);
	memcpy(t->tx.salt, mine + NOISE_AES_KEY_LEN, NOISE_SALT_LEN);
	memcpy(t->rx.key, theirs, NOISE_AES_KEY_LEN);
	memcpy(t->rx.salt, theirs + NOISE_AES_KEY_LEN, NOISE_SALT_LEN);
	memcpy(t->handshake_hash, hs->ss.h, NOISE_HASHLEN);
	t->role = hs->role;
out:
	sodium_memzero(o1, sizeof(o1));
	sodium_memzero(o2, sizeof(o2));
	noise_handshake_wipe(hs);
	return ret;
}
