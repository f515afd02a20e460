// SPDX-License-Identifier: GPL-2.0
/*
 * test_noise.c - tests of keymgmt/noise.c (Noise_IKpsk2_25519_ChaChaPoly_BLAKE2b)
 * and keymgmt/handshake.c (bpftun's handshake messages).
 *
 * Owns: the published Noise test vector, the checks of HASH/HMAC/HKDF against
 * OpenSSL, an independent re-computation of a whole IK transcript and of the
 * wire messages (OpenSSL for BLAKE2b, HMAC and keyed BLAKE2b; libsodium only for
 * X25519 and the AEAD), and the handshake layer's behaviour: full exchanges,
 * every single-bit flip, truncation, wrong types, replays, cookies under load
 * and rate limiting. Standalone; prints "N passed, M failed".
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/params.h>
#include <sodium.h>

#include "check.h"
#include "handshake.h"
#include "noise.h"
#include "noise_vectors.h"

#define NS_PER_S 1000000000ULL

/* ------------------------------------------------------------ OpenSSL side */

static int ossl_mac(const char *name, const OSSL_PARAM *params, const uint8_t *key, size_t key_len,
		    const uint8_t *a, size_t alen, const uint8_t *b, size_t blen, uint8_t *out,
		    size_t out_len)
{
	static const uint8_t nokey[1];
	EVP_MAC *mac = EVP_MAC_fetch(NULL, name, NULL);
	EVP_MAC_CTX *ctx = mac ? EVP_MAC_CTX_new(mac) : NULL;
	size_t n = 0;
	int ok;

	ok = ctx && EVP_MAC_init(ctx, key_len ? key : nokey, key_len, params) == 1 &&
	     EVP_MAC_update(ctx, a, alen) == 1 && EVP_MAC_update(ctx, b, blen) == 1 &&
	     EVP_MAC_final(ctx, out, &n, out_len) == 1 && n == out_len;
	EVP_MAC_CTX_free(ctx);
	EVP_MAC_free(mac);
	return ok ? 0 : -EIO;
}

/* HMAC-BLAKE2b-512(key, a || b) by OpenSSL. */
static int ossl_hmac(const uint8_t *key, size_t key_len, const uint8_t *a, size_t alen,
		     const uint8_t *b, size_t blen, uint8_t out[64])
{
	OSSL_PARAM p[] = {OSSL_PARAM_construct_utf8_string("digest", "BLAKE2B-512", 0),
			  OSSL_PARAM_construct_end()};

	return ossl_mac("HMAC", p, key, key_len, a, alen, b, blen, out, 64);
}

/* Keyed BLAKE2b with a 16-byte output by OpenSSL (mac1, mac2). */
static int ossl_b2mac16(const uint8_t *key, size_t key_len, const uint8_t *msg, size_t len,
			uint8_t out[16])
{
	size_t size = 16;
	OSSL_PARAM p[] = {OSSL_PARAM_construct_size_t("size", &size), OSSL_PARAM_construct_end()};

	return ossl_mac("BLAKE2BMAC", p, key, key_len, msg, len, NULL, 0, out, 16);
}

static int ossl_hash2(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen, uint8_t out[64])
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned int n = 0;
	int ok;

	ok = ctx && EVP_DigestInit_ex(ctx, EVP_blake2b512(), NULL) == 1 &&
	     EVP_DigestUpdate(ctx, a, alen) == 1 && EVP_DigestUpdate(ctx, b, blen) == 1 &&
	     EVP_DigestFinal_ex(ctx, out, &n) == 1 && n == 64;
	EVP_MD_CTX_free(ctx);
	return ok ? 0 : -EIO;
}

/* HKDF of Noise section 4.3, written out with OpenSSL's HMAC. */
static int ref_hkdf(const uint8_t ck[64], const uint8_t *ikm, size_t ikm_len, int n, uint8_t o1[64],
		    uint8_t o2[64], uint8_t o3[64])
{
	uint8_t temp[64], c;
	int ret;

	ret = ossl_hmac(ck, 64, ikm, ikm_len, NULL, 0, temp);
	c = 1;
	if (!ret)
		ret = ossl_hmac(temp, 64, &c, 1, NULL, 0, o1);
	c = 2;
	if (!ret)
		ret = ossl_hmac(temp, 64, o1, 64, &c, 1, o2);
	c = 3;
	if (!ret && n == 3)
		ret = ossl_hmac(temp, 64, o2, 64, &c, 1, o3);
	return ret;
}

/* ------------------------------------------- the independent Noise reference */

struct ref {
	uint8_t h[64], ck[64], k[32];
	uint64_t n;
};

static void ref_init(struct ref *r, const uint8_t *prologue, size_t plen, const uint8_t rs[32])
{
	static const char name[] = "Noise_IKpsk2_25519_ChaChaPoly_BLAKE2b";

	memset(r, 0, sizeof(*r));
	memcpy(r->h, name, strlen(name)); /* 37 <= 64: zero padded */
	memcpy(r->ck, r->h, 64);
	ossl_hash2(r->h, 64, prologue, plen, r->h);
	ossl_hash2(r->h, 64, rs, 32, r->h);
}

static void ref_mix_hash(struct ref *r, const uint8_t *d, size_t len)
{
	ossl_hash2(r->h, 64, d, len, r->h);
}

static void ref_mix_key(struct ref *r, const uint8_t *ikm, size_t len)
{
	uint8_t o1[64], o2[64];

	ref_hkdf(r->ck, ikm, len, 2, o1, o2, NULL);
	memcpy(r->ck, o1, 64);
	memcpy(r->k, o2, 32);
	r->n = 0;
}

static void ref_mix_dh(struct ref *r, const uint8_t priv[32], const uint8_t pub[32])
{
	uint8_t dh[32];

	if (crypto_scalarmult_curve25519(dh, priv, pub))
		memset(dh, 0, sizeof(dh));
	ref_mix_key(r, dh, 32);
}

/* "e" in a psk handshake (Noise 9.2): MixHash(e.pub), then MixKey(e.pub). */
static void ref_mix_e(struct ref *r, const uint8_t pub[32])
{
	ref_mix_hash(r, pub, 32);
	ref_mix_key(r, pub, 32);
}

/* "psk": MixKeyAndHash(psk) = HKDF(ck, psk, 3) -> ck, temp_h, temp_k. */
static void ref_mix_psk(struct ref *r, const uint8_t psk[32])
{
	uint8_t o1[64], o2[64], o3[64];

	ref_hkdf(r->ck, psk, 32, 3, o1, o2, o3);
	memcpy(r->ck, o1, 64);
	ref_mix_hash(r, o2, 64);
	memcpy(r->k, o3, 32);
	r->n = 0;
}

/* EncryptAndHash with a key: ChaCha20-Poly1305, nonce = 0^32 || le64(n). */
static void ref_encrypt_and_hash(struct ref *r, const uint8_t *pt, size_t len, uint8_t *out)
{
	uint8_t nonce[12] = {0};
	uint64_t n = r->n++;

	for (int i = 4; i < 12; i++, n >>= 8)
		nonce[i] = n & 0xff;
	crypto_aead_chacha20poly1305_ietf_encrypt(out, NULL, pt, len, r->h, 64, NULL, nonce, r->k);
	ref_mix_hash(r, out, len + 16);
}

/* ------------------------------------------------------------- test clock */

struct fclock {
	uint64_t mono;
	uint64_t real;
};

static uint64_t f_mono(void *arg)
{
	return ((struct fclock *)arg)->mono;
}

static uint64_t f_real(void *arg)
{
	return ((struct fclock *)arg)->real;
}

static void tick(struct fclock *c, uint64_t ns)
{
	c->mono += ns;
	c->real += ns;
}

/* An initiator and a responder that know each other, on a fake clock. */
struct pair {
	struct fclock clk;
	struct hs_device *i, *r;
	uint32_t r_at_i, i_at_r; /* peer ids */
	uint8_t ipub[32], rpub[32];
	struct hs_addr iaddr, raddr;
};

static int pair_new(struct pair *p, const uint8_t *ipriv, const uint8_t *rpriv)
{
	static const uint8_t ia[4] = {192, 0, 2, 1}, ra[4] = {198, 51, 100, 7};

	memset(p, 0, sizeof(*p));
	p->clk.mono = 1000 * NS_PER_S;
	p->clk.real = 1700000000ULL * NS_PER_S + 123456789;
	if (hs_device_new(&p->i, ipriv) || hs_device_new(&p->r, rpriv))
		return -1;
	hs_set_clock(p->i, f_mono, f_real, &p->clk);
	hs_set_clock(p->r, f_mono, f_real, &p->clk);
	hs_device_public_key(p->i, p->ipub);
	hs_device_public_key(p->r, p->rpub);
	hs_addr_v4(&p->iaddr, ia, 51820);
	hs_addr_v4(&p->raddr, ra, 51820);
	if (hs_peer_add(p->i, p->rpub, &p->r_at_i) || hs_peer_add(p->r, p->ipub, &p->i_at_r))
		return -1;
	return 0;
}

static void pair_free(struct pair *p)
{
	hs_device_free(p->i);
	hs_device_free(p->r);
}

static bool keys_match(const struct hs_keys *a, const struct hs_keys *b)
{
	return !memcmp(&a->tx, &b->rx, sizeof(a->tx)) && !memcmp(&a->rx, &b->tx, sizeof(a->rx)) &&
	       a->local_index == b->remote_index && a->remote_index == b->local_index &&
	       memcmp(&a->tx, &a->rx, sizeof(a->tx)) != 0 && a->initiator != b->initiator;
}

static const char *rs(int rc)
{
	return handshake_strerror(rc);
}

/* ================================================================ tests */

static void test_blake2b(void)
{
	static const char want[] =
	    "ba80a53f981c4d0d6a2797b69f12f6e94c212f14685ac4b74b12bb6fdbffa2d1"
	    "7d87c5392aab792dc252d5de4533cc9518d38aa8dbf1925ab92386edd4009923";
	uint8_t exp[64], got[64], ossl[64];

	unhex(want, exp, sizeof(exp));
	check(noise_hash((const uint8_t *)"abc", 3, got) == 0 && !memcmp(got, exp, 64),
	      "HASH: BLAKE2b-512(\"abc\") = RFC 7693 appendix A");
	ossl_hash2((const uint8_t *)"abc", 3, NULL, 0, ossl);
	check(!memcmp(ossl, exp, 64), "HASH: OpenSSL agrees with RFC 7693 appendix A");
}

static void test_hmac_hkdf(void)
{
	static const size_t klens[] = {0, 1, 16, 32, 64, 65, 127, 128, 129, 200, 300};
	static const size_t dlens[] = {0, 1, 64, 127, 128, 129, 1000};
	uint8_t key[300], data[1000], a[64], b[64], c[64], r1[64], r2[64], r3[64], ck[64];
	uint8_t keyed[64];
	int bad = 0, n = 0;

	randombytes_buf(key, sizeof(key));
	randombytes_buf(data, sizeof(data));
	for (size_t i = 0; i < sizeof(klens) / sizeof(klens[0]); i++) {
		for (size_t j = 0; j < sizeof(dlens) / sizeof(dlens[0]); j++) {
			n++;
			if (noise_hmac(key, klens[i], data, dlens[j], a) ||
			    ossl_hmac(key, klens[i], data, dlens[j], NULL, 0, b) ||
			    memcmp(a, b, 64)) {
				bad++;
				printf("  HMAC mismatch: key %zu bytes, data %zu bytes\n", klens[i],
				       dlens[j]);
			}
		}
	}
	check(!bad, "HMAC-BLAKE2b == OpenSSL HMAC(BLAKE2B-512) for %d key/data lengths", n);

	/* RFC 2104 HMAC is not libsodium's keyed BLAKE2b. */
	crypto_generichash(keyed, 64, data, 64, key, 32);
	noise_hmac(key, 32, data, 64, a);
	check(memcmp(keyed, a, 64) != 0, "HMAC-BLAKE2b differs from keyed BLAKE2b");

	bad = 0;
	for (size_t ikm = 0; ikm <= 100; ikm += 25) {
		randombytes_buf(ck, sizeof(ck));
		if (noise_hkdf(ck, data, ikm, 3, a, b, c) ||
		    ref_hkdf(ck, data, ikm, 3, r1, r2, r3) || memcmp(a, r1, 64) ||
		    memcmp(b, r2, 64) || memcmp(c, r3, 64))
			bad++;
		if (noise_hkdf(ck, data, ikm, 2, a, b, NULL) || memcmp(a, r1, 64) ||
		    memcmp(b, r2, 64))
			bad++;
	}
	check(!bad, "HKDF (2 and 3 outputs, ikm 0..100 bytes) == HKDF by hand over OpenSSL HMAC");
	check(noise_hkdf(ck, data, 1, 1, a, b, NULL) == -EINVAL &&
		  noise_hkdf(ck, data, 1, 3, a, b, NULL) == -EINVAL,
	      "HKDF refuses 1 output and a missing third");
}

static void test_primitives(void)
{
	static const uint8_t zero[32];
	/* A point of order 8 on Curve25519 (low order: X25519 gives all zero). */
	static const char order8[] =
	    "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800";
	struct noise_cipher c = {0};
	uint8_t priv[32], pub[32], out[32], nonce[12] = {0}, ct[3 + 16], ct2[3 + 16];

	randombytes_buf(priv, sizeof(priv));
	check(noise_dh(priv, zero, out) == -EKEYREJECTED && sodium_is_zero(out, 32),
	      "DH with the zero point is refused (all-zero output)");
	unhex(order8, pub, sizeof(pub));
	check(noise_dh(priv, pub, out) == -EKEYREJECTED, "DH with a low-order point is refused");

	/* Nonce = 4 zero bytes || le64(n). */
	randombytes_buf(c.k, sizeof(c.k));
	c.has_key = true;
	c.n = 0x0102030405060708ULL;
	for (int i = 0; i < 8; i++)
		nonce[4 + i] = (uint8_t)(0x08 - i);
	noise_cipher_encrypt(&c, (const uint8_t *)"ad", 2, (const uint8_t *)"abc", 3, ct);
	crypto_aead_chacha20poly1305_ietf_encrypt(ct2, NULL, (const uint8_t *)"abc", 3,
						  (const uint8_t *)"ad", 2, NULL, nonce, c.k);
	check(!memcmp(ct, ct2, sizeof(ct)) && c.n == 0x0102030405060709ULL,
	      "CipherState nonce is 0x00000000 || le64(n), n incremented");
	c.n = UINT64_MAX;
	check(noise_cipher_encrypt(&c, NULL, 0, (const uint8_t *)"abc", 3, ct) == -EOVERFLOW,
	      "CipherState refuses n = 2^64 - 1");
}

/* The published vector (tests/noise_vectors.h: cacophony's
 * Noise_IKpsk2_25519_ChaChaPoly_BLAKE2b). Messages alternate initiator,
 * responder, ... */
static void test_vector(void)
{
	uint8_t prologue[16], is[32], ie[32], rsp[32], rsk[32], re[32], psk[32], hash[64], h[64];
	uint8_t h2[64], pl[64], ct[160], buf[160], got[64];
	struct noise_keypair ik, rk;
	struct noise_handshake a, b;
	struct noise_transport ta, tb;
	long plen, ctlen, prlen;
	size_t n = 0, gn = 0;

	check(!strcmp(NOISE_PROTOCOL_NAME, CACO_IKPSK2_NAME), "vector: protocol name is %s",
	      CACO_IKPSK2_NAME);
	prlen = unhex(CACO_IKPSK2_PROLOGUE, prologue, sizeof(prologue));
	unhex(CACO_IKPSK2_INIT_STATIC, is, 32);
	unhex(CACO_IKPSK2_INIT_EPHEMERAL, ie, 32);
	unhex(CACO_IKPSK2_INIT_REMOTE_STATIC, rsp, 32);
	unhex(CACO_IKPSK2_RESP_STATIC, rsk, 32);
	unhex(CACO_IKPSK2_RESP_EPHEMERAL, re, 32);
	unhex(CACO_IKPSK2_PSK, psk, 32);
	unhex(CACO_IKPSK2_HANDSHAKE_HASH, hash, 64);

	noise_keypair_from_private(&ik, is);
	noise_keypair_from_private(&rk, rsk);
	check(!memcmp(rk.pub, rsp, 32), "vector: resp_static's public key = init_remote_static");
	check(!noise_handshake_init(&a, NOISE_INITIATOR, &ik, rsp, prologue, prlen) &&
		  !noise_handshake_init(&b, NOISE_RESPONDER, &rk, NULL, prologue, prlen) &&
		  !noise_handshake_set_ephemeral(&a, ie) &&
		  !noise_handshake_set_ephemeral(&b, re) && !noise_handshake_set_psk(&a, psk),
	      "vector: Initialize with prologue, injected ephemerals, the initiator's psk");

	for (int m = 0; m < 2; m++) {
		struct noise_handshake *w = m ? &b : &a, *r = m ? &a : &b;
		int ok;

		plen = unhex(caco_ikpsk2_payload[m], pl, sizeof(pl));
		ctlen = unhex(caco_ikpsk2_ciphertext[m], ct, sizeof(ct));
		ok = !noise_write_message(w, pl, plen, buf, sizeof(buf), &n) &&
		     n == (size_t)ctlen && !memcmp(buf, ct, n);
		check(ok, "vector: handshake message %d bytes match (%ld bytes)", m + 1, ctlen);
		ok = !noise_read_message(r, buf, n, got, sizeof(got), &gn) && gn == (size_t)plen &&
		     !memcmp(got, pl, gn);
		check(ok, "vector: handshake message %d read back, payload recovered", m + 1);
		/* The responder learns who the initiator is from message 1 and
		 * only then picks the psk, as the key manager does. */
		if (m == 0)
			check(!noise_handshake_set_psk(&b, psk),
			      "vector: the responder sets the psk after message 1");
	}
	noise_handshake_hash(&a, h);
	noise_handshake_hash(&b, h2);
	check(!memcmp(h, hash, 64) && !memcmp(h2, hash, 64),
	      "vector: handshake_hash matches on both sides");
	check(noise_handshake_set_psk(&a, psk) == -EINVAL,
	      "vector: the psk cannot change once message 2 is processed");
	check(!noise_split(&a, &ta) && !noise_split(&b, &tb), "vector: Split");
	check(!memcmp(ta.handshake_hash, hash, 64), "vector: Split keeps the handshake hash");

	for (int m = 2; m < 6; m++) {
		struct noise_transport *w = m % 2 ? &tb : &ta, *r = m % 2 ? &ta : &tb;
		int ok;

		plen = unhex(caco_ikpsk2_payload[m], pl, sizeof(pl));
		ctlen = unhex(caco_ikpsk2_ciphertext[m], ct, sizeof(ct));
		ok = !noise_cipher_encrypt(&w->send, NULL, 0, pl, plen, buf) &&
		     (size_t)ctlen == (size_t)plen + 16 && !memcmp(buf, ct, ctlen);
		ok = ok && !noise_cipher_decrypt(&r->recv, NULL, 0, buf, ctlen, got) &&
		     !memcmp(got, pl, plen);
		check(ok, "vector: transport message %d (%s) matches and decrypts", m + 1,
		      m % 2 ? "responder" : "initiator");
	}
	/* The tunnel keys come from the same Split() outputs. */
	check(!memcmp(ta.tx.key, ta.send.k, 32) && !memcmp(ta.rx.key, ta.recv.k, 32) &&
		  !memcmp(&ta.tx, &tb.rx, sizeof(ta.tx)) && !memcmp(&ta.rx, &tb.tx, sizeof(ta.rx)),
	      "vector: tx/rx key = bytes 0..31 of each Split() output, mirrored");
	noise_transport_wipe(&ta);
	noise_transport_wipe(&tb);

	/* The same vector with the responder's psk one bit off: message 2
	 * (the first to depend on it) does not authenticate. */
	noise_handshake_init(&a, NOISE_INITIATOR, &ik, rsp, prologue, prlen);
	noise_handshake_init(&b, NOISE_RESPONDER, &rk, NULL, prologue, prlen);
	noise_handshake_set_ephemeral(&a, ie);
	noise_handshake_set_ephemeral(&b, re);
	noise_handshake_set_psk(&a, psk);
	psk[31] ^= 1;
	{
		int ok, rc;

		plen = unhex(caco_ikpsk2_payload[0], pl, sizeof(pl));
		ctlen = unhex(caco_ikpsk2_ciphertext[0], ct, sizeof(ct));
		ok = !noise_write_message(&a, pl, plen, buf, sizeof(buf), &n) &&
		     !memcmp(buf, ct, n) &&
		     !noise_read_message(&b, buf, n, got, sizeof(got), &gn) &&
		     !noise_handshake_set_psk(&b, psk) &&
		     !noise_write_message(&b, NULL, 0, buf, sizeof(buf), &n);
		rc = noise_read_message(&a, buf, n, got, sizeof(got), &gn);
		check(ok && rc == -EBADMSG && a.msg == -1,
		      "vector: a different psk: message 1 unchanged, message 2 refused (%d), "
		      "handshake wiped",
		      rc);
	}
	noise_handshake_wipe(&b);
	sodium_memzero(psk, sizeof(psk));
}

/* The whole IKpsk2 transcript written a second way, with a prologue, injected
 * ephemerals and payloads on both messages; h and the split keys compared.
 * with_psk: a random psk on both sides, else none (32 zero bytes). */
static void test_noise_reference_psk(int with_psk)
{
	uint8_t psk[32] = {0};
	static const uint8_t prologue[] = "some prologue bytes";
	uint8_t m1[256], m2[256], e1[256], e2[256], pl1[37], pl2[5], got[64], h[64];
	uint8_t o1[64], o2[64], iep[32], rep[32];
	struct noise_keypair is, rsk, ie, re;
	struct noise_handshake a, b;
	struct noise_transport ta, tb;
	struct ref r;
	size_t n1 = 0, n2 = 0, gn = 0;
	int ok;
#define P (with_psk ? "random psk" : "no psk")

	noise_keypair_generate(&is);
	noise_keypair_generate(&rsk);
	noise_keypair_generate(&ie);
	noise_keypair_generate(&re);
	randombytes_buf(pl1, sizeof(pl1));
	randombytes_buf(pl2, sizeof(pl2));
	if (with_psk)
		randombytes_buf(psk, sizeof(psk));

	noise_handshake_init(&a, NOISE_INITIATOR, &is, rsk.pub, prologue, sizeof(prologue));
	noise_handshake_init(&b, NOISE_RESPONDER, &rsk, NULL, prologue, sizeof(prologue));
	noise_handshake_set_ephemeral(&a, ie.priv);
	noise_handshake_set_ephemeral(&b, re.priv);
	if (with_psk)
		noise_handshake_set_psk(&a, psk);
	ok = !noise_write_message(&a, pl1, sizeof(pl1), m1, sizeof(m1), &n1) &&
	     !noise_read_message(&b, m1, n1, got, sizeof(got), &gn) &&
	     (!with_psk || !noise_handshake_set_psk(&b, psk)) &&
	     !noise_write_message(&b, pl2, sizeof(pl2), m2, sizeof(m2), &n2) &&
	     !noise_read_message(&a, m2, n2, got, sizeof(got), &gn);
	check(ok, "reference (%s): handshake with payloads %zu and %zu bytes", P, sizeof(pl1),
	      sizeof(pl2));
	noise_handshake_hash(&a, h);

	/* Initiator side, by the reference: -> e, es, s, ss; <- e, ee, se, psk. */
	crypto_scalarmult_curve25519_base(iep, ie.priv);
	crypto_scalarmult_curve25519_base(rep, re.priv);
	ref_init(&r, prologue, sizeof(prologue), rsk.pub);
	memcpy(e1, iep, 32);
	ref_mix_e(&r, iep);
	ref_mix_dh(&r, ie.priv, rsk.pub);
	ref_encrypt_and_hash(&r, is.pub, 32, e1 + 32);
	ref_mix_dh(&r, is.priv, rsk.pub);
	ref_encrypt_and_hash(&r, pl1, sizeof(pl1), e1 + 80);
	check(n1 == 80 + sizeof(pl1) + 16 && !memcmp(m1, e1, n1),
	      "reference (%s): message 1 bytes equal the independent computation", P);
	memcpy(e2, rep, 32);
	ref_mix_e(&r, rep);
	ref_mix_dh(&r, re.priv, iep);	 /* ee */
	ref_mix_dh(&r, re.priv, is.pub); /* se, from the responder's side */
	ref_mix_psk(&r, psk);
	ref_encrypt_and_hash(&r, pl2, sizeof(pl2), e2 + 32);
	check(n2 == 32 + sizeof(pl2) + 16 && !memcmp(m2, e2, n2),
	      "reference (%s): message 2 bytes equal the independent computation", P);
	check(!memcmp(h, r.h, 64),
	      "reference (%s): handshake hash equals the independent computation", P);

	ref_hkdf(r.ck, NULL, 0, 2, o1, o2, NULL);
	noise_split(&a, &ta);
	noise_split(&b, &tb);
	check(!memcmp(ta.tx.key, o1, 32) && !memcmp(ta.tx.salt, o1 + 32, 4) &&
		  !memcmp(ta.rx.key, o2, 32) && !memcmp(ta.rx.salt, o2 + 32, 4),
	      "reference (%s): initiator tx = HKDF out1[0..31]+[32..35], rx = out2", P);
	check(!memcmp(tb.tx.key, o2, 32) && !memcmp(tb.tx.salt, o2 + 32, 4) &&
		  !memcmp(tb.rx.key, o1, 32) && !memcmp(tb.rx.salt, o1 + 32, 4),
	      "reference (%s): responder tx = out2, rx = out1", P);
	check(!memcmp(ta.send.k, o1, 32) && !memcmp(tb.send.k, o2, 32) && ta.send.n == 0,
	      "reference (%s): Noise CipherStates = truncated outputs, n = 0", P);
	noise_transport_wipe(&ta);
	noise_transport_wipe(&tb);
	sodium_memzero(&r, sizeof(r));
	sodium_memzero(psk, sizeof(psk));
}

#undef P

static void test_noise_reference(void)
{
	test_noise_reference_psk(0);
	test_noise_reference_psk(1);
}

/* The wire messages of one hs_* exchange recomputed independently. */
static void test_wire_reference(void)
{
	uint8_t ipriv[32], rpriv[32], iepriv[32], repriv[32], iep[32], rep[32];
	uint8_t init[HS_INITIATION_LEN], want[HS_INITIATION_LEN], ts[12], prologue[64];
	uint8_t key[32], mac[16], o1[64], o2[64], in[40], psk[32];
	struct hs_result ri, rr;
	struct pair p;
	struct ref r;
	uint64_t sec;
	size_t plen;
	int ok;

	randombytes_buf(ipriv, 32);
	randombytes_buf(rpriv, 32);
	randombytes_buf(iepriv, 32);
	randombytes_buf(repriv, 32);
	if (pair_new(&p, ipriv, rpriv)) {
		check(0, "wire reference: setup");
		return;
	}
	randombytes_buf(psk, 32);
	hs_peer_set_psk(p.i, p.r_at_i, psk);
	hs_peer_set_psk(p.r, p.i_at_r, psk);
	hs_set_next_ephemeral(p.i, iepriv);
	hs_set_next_ephemeral(p.r, repriv);
	ok = !hs_create_initiation(p.i, p.r_at_i, init, sizeof(init)) &&
	     !hs_consume_initiation(p.r, init, sizeof(init), &p.iaddr, &rr) &&
	     rr.reply_len == HS_RESPONSE_LEN &&
	     !hs_consume_response(p.i, rr.reply, rr.reply_len, &p.raddr, &ri);
	check(ok, "wire reference: exchange with injected ephemerals and a psk on both peers");

	/* Header: type 1, reserved 0, le32 sender index = initiator's local index. */
	check(init[0] == 1 && !init[1] && !init[2] && !init[3] &&
		  (uint32_t)(init[4] | init[5] << 8 | init[6] << 16 | (uint32_t)init[7] << 24) ==
		      ri.keys.local_index,
	      "wire reference: initiation header, little-endian sender index");

	/* TAI64N, big endian, 2^62 + seconds. */
	sec = (1ULL << 62) + p.clk.real / NS_PER_S;
	for (int i = 0; i < 8; i++)
		ts[i] = (uint8_t)(sec >> (56 - 8 * i));
	for (int i = 0; i < 4; i++)
		ts[8 + i] = (uint8_t)((p.clk.real % NS_PER_S) >> (24 - 8 * i));

	crypto_scalarmult_curve25519_base(iep, iepriv);
	crypto_scalarmult_curve25519_base(rep, repriv);
	plen = strlen("bpftun handshake v1");
	memcpy(prologue, "bpftun handshake v1", plen);
	memcpy(prologue + plen, init, 8);
	ref_init(&r, prologue, plen + 8, p.rpub);
	memcpy(want, init, 8);
	memcpy(want + 8, iep, 32);
	ref_mix_e(&r, iep);
	ref_mix_dh(&r, iepriv, p.rpub);
	ref_encrypt_and_hash(&r, p.ipub, 32, want + 40);
	ref_mix_dh(&r, ipriv, p.rpub);
	ref_encrypt_and_hash(&r, ts, 12, want + 88);
	check(!memcmp(init, want, 116),
	      "wire reference: initiation bytes 0..115 (e, enc static, enc TAI64N) recomputed");

	/* mac1 = BLAKE2b-128(key = BLAKE2b-256("mac1----" || receiver pub)). */
	memcpy(in, "mac1----", 8);
	memcpy(in + 8, p.rpub, 32);
	crypto_generichash(key, 32, in, 40, NULL, 0);
	ossl_b2mac16(key, 32, init, 116, mac);
	check(!memcmp(init + 116, mac, 16) && sodium_is_zero(init + 132, 16),
	      "wire reference: initiation mac1 (OpenSSL BLAKE2BMAC) and zero mac2");

	/* Response. */
	ref_mix_e(&r, rep);
	ref_mix_dh(&r, repriv, iep);
	ref_mix_dh(&r, repriv, p.ipub);
	ref_mix_psk(&r, psk); /* the peers' PresharedKey */
	memcpy(want, rr.reply, 12);
	memcpy(want + 12, rep, 32);
	ref_encrypt_and_hash(&r, NULL, 0, want + 44);
	check(rr.reply[0] == 2 && !memcmp(rr.reply + 8, init + 4, 4) && !memcmp(rr.reply, want, 60),
	      "wire reference: response header (receiver = initiator's index), e, enc_empty");
	memcpy(in + 8, p.ipub, 32);
	crypto_generichash(key, 32, in, 40, NULL, 0);
	ossl_b2mac16(key, 32, rr.reply, 60, mac);
	check(!memcmp(rr.reply + 60, mac, 16),
	      "wire reference: response mac1 under the initiator's key");

	ref_hkdf(r.ck, NULL, 0, 2, o1, o2, NULL);
	check(!memcmp(ri.keys.tx.key, o1, 32) && !memcmp(ri.keys.tx.salt, o1 + 32, 4) &&
		  !memcmp(ri.keys.rx.key, o2, 32) && !memcmp(ri.keys.rx.salt, o2 + 32, 4),
	      "wire reference: initiator's tunnel keys = independent Split()");
	check(keys_match(&ri.keys, &rr.keys), "wire reference: responder's keys mirror them");
	hs_result_wipe(&ri);
	hs_result_wipe(&rr);
	sodium_memzero(&r, sizeof(r));
	sodium_memzero(psk, sizeof(psk));
	pair_free(&p);
}

static void test_full_handshake(void)
{
	uint8_t init[HS_INITIATION_LEN];
	struct hs_result ri, rr;
	struct noise_keypair a, b;
	struct noise_handshake x, y;
	struct noise_transport tx, ty;
	uint8_t m[256], pt[64], ct[64 + 16], back[64];
	struct pair p;
	size_t n = 0, pn = 0;
	int rc, ok;

	if (pair_new(&p, NULL, NULL)) {
		check(0, "full handshake: setup");
		return;
	}
	rc = hs_create_initiation(p.i, p.r_at_i, init, sizeof(init));
	check(rc == 0, "full handshake: initiation created (%s)", rs(rc));
	rc = hs_consume_initiation(p.r, init, sizeof(init), &p.iaddr, &rr);
	check(rc == 0 && rr.have_keys && rr.reply_len == HS_RESPONSE_LEN &&
		  rr.keys.peer_id == p.i_at_r && !rr.keys.initiator,
	      "full handshake: responder accepts, replies 92 bytes (%s)", rs(rc));
	rc = hs_consume_response(p.i, rr.reply, rr.reply_len, &p.raddr, &ri);
	check(rc == 0 && ri.have_keys && ri.keys.peer_id == p.r_at_i && ri.keys.initiator,
	      "full handshake: initiator accepts the response (%s)", rs(rc));
	check(keys_match(&ri.keys, &rr.keys), "full handshake: initiator tx == responder rx, rx == "
					      "tx, indices crossed, directions differ");
	check(ri.keys.local_index && ri.keys.remote_index &&
		  ri.keys.local_index != ri.keys.remote_index,
	      "full handshake: non-zero indices");
	rc = hs_consume_response(p.i, rr.reply, rr.reply_len, &p.raddr, &ri);
	check(rc == -HS_R_UNKNOWN_INDEX, "full handshake: a second copy of the response: %s",
	      rs(rc));
	hs_result_wipe(&ri);
	hs_result_wipe(&rr);
	pair_free(&p);

	/* Noise level with fresh keys: transport works both ways. */
	noise_keypair_generate(&a);
	noise_keypair_generate(&b);
	noise_handshake_init(&x, NOISE_INITIATOR, &a, b.pub, NULL, 0);
	noise_handshake_init(&y, NOISE_RESPONDER, &b, NULL, NULL, 0);
	ok = !noise_write_message(&x, NULL, 0, m, sizeof(m), &n) &&
	     !noise_read_message(&y, m, n, NULL, 0, &pn) &&
	     !noise_write_message(&y, NULL, 0, m, sizeof(m), &n) &&
	     !noise_read_message(&x, m, n, NULL, 0, &pn) && !noise_split(&x, &tx) &&
	     !noise_split(&y, &ty);
	randombytes_buf(pt, sizeof(pt));
	for (int i = 0; ok && i < 3; i++) {
		ok = !noise_cipher_encrypt(&tx.send, NULL, 0, pt, sizeof(pt), ct) &&
		     !noise_cipher_decrypt(&ty.recv, NULL, 0, ct, sizeof(ct), back) &&
		     !memcmp(back, pt, sizeof(pt)) &&
		     !noise_cipher_encrypt(&ty.send, NULL, 0, pt, sizeof(pt), ct) &&
		     !noise_cipher_decrypt(&tx.recv, NULL, 0, ct, sizeof(ct), back);
	}
	check(ok, "noise: fresh keys, empty prologue: transport both ways, 3 messages each");
	ct[5] ^= 1;
	check(noise_cipher_decrypt(&tx.recv, NULL, 0, ct, sizeof(ct), back) == -EBADMSG &&
		  tx.recv.n == 3,
	      "noise: altered transport message refused, n unchanged");
	check(sodium_is_zero((const uint8_t *)&x.ss, sizeof(x.ss)) && x.msg == -1,
	      "noise: Split wipes the handshake state");
	check(noise_write_message(&x, NULL, 0, m, sizeof(m), &n) == -EINVAL,
	      "noise: a wiped handshake refuses to write");
	noise_transport_wipe(&tx);
	noise_transport_wipe(&ty);
}

static void test_noise_misuse(void)
{
	struct noise_keypair a, b;
	struct noise_handshake x, y;
	uint8_t m[256], small[100];
	size_t n = 0, pn = 0;

	noise_keypair_generate(&a);
	noise_keypair_generate(&b);
	check(noise_handshake_init(&x, NOISE_INITIATOR, &a, NULL, NULL, 0) == -EINVAL &&
		  noise_handshake_init(&y, NOISE_RESPONDER, &b, a.pub, NULL, 0) == -EINVAL,
	      "noise: initiator needs rs, responder must not get one");
	noise_handshake_init(&x, NOISE_INITIATOR, &a, b.pub, NULL, 0);
	noise_handshake_init(&y, NOISE_RESPONDER, &b, NULL, NULL, 0);
	check(noise_read_message(&x, m, 96, NULL, 0, &pn) == -EINVAL &&
		  noise_write_message(&y, NULL, 0, m, sizeof(m), &n) == -EINVAL,
	      "noise: out-of-turn read/write refused");
	check(noise_write_message(&x, NULL, 0, small, 95, &n) == -EMSGSIZE && x.msg == 0,
	      "noise: short output buffer refused, state kept");
	noise_write_message(&x, (const uint8_t *)"hello", 5, m, sizeof(m), &n);
	check(noise_read_message(&y, m, n, small, 4, &pn) == -EMSGSIZE && y.msg == 0,
	      "noise: short payload buffer refused, state kept");
	check(noise_read_message(&y, m, n - 1, small, sizeof(small), &pn) == -EBADMSG &&
		  y.msg == -1,
	      "noise: failed read wipes the handshake (spec 5.3)");
}

/* Expected reason of a single-bit flip at byte i of a message, macs not resealed. */
static int raw_flip_reason(size_t i, size_t len)
{
	if (i == 0)
		return -HS_R_BAD_TYPE;
	if (i < 4)
		return -HS_R_BAD_RESERVED;
	if (i < len - HS_MAC_LEN)
		return -HS_R_BAD_MAC1;
	return -HS_R_BAD_MAC2;
}

static void test_tamper(void)
{
	uint8_t init[HS_INITIATION_LEN], t[HS_INITIATION_LEN], resp[HS_RESPONSE_LEN];
	uint8_t ck[HS_COOKIE_REPLY_LEN];
	struct hs_result res, rr;
	struct hs_addr fa;
	int bad, n, rc;
	struct pair p;

	if (pair_new(&p, NULL, NULL)) {
		check(0, "tamper: setup");
		return;
	}
	/* Tokens are not what this test is about. */
	hs_set_limits(p.r, 1000000, 1000000, 0);
	hs_set_limits(p.i, 1000000, 1000000, 0);
	hs_set_load_limit(p.r, 1000000, 1000000);
	hs_set_load_limit(p.i, 1000000, 1000000);
	hs_create_initiation(p.i, p.r_at_i, init, sizeof(init));

	bad = n = 0;
	for (size_t i = 0; i < sizeof(init); i++) {
		for (int b = 0; b < 8; b++, n++) {
			int want = raw_flip_reason(i, sizeof(init));

			memcpy(t, init, sizeof(t));
			t[i] ^= (uint8_t)(1 << b);
			/* mac2 is looked at only under load; a source of its own
			 * for each, as one source gets one cookie reply per 500 ms */
			hs_set_under_load(p.r, i >= sizeof(init) - HS_MAC_LEN);
			fa = p.iaddr;
			fa.addr[2] = (uint8_t)(n >> 8);
			fa.addr[3] = (uint8_t)n;
			rc = hs_consume_initiation(p.r, t, sizeof(t), &fa, &res);
			if (rc != want || res.have_keys ||
			    (want == -HS_R_BAD_MAC2) != (res.reply_len == HS_COOKIE_REPLY_LEN)) {
				if (bad++ < 5)
					printf("  initiation byte %zu bit %d: %s, want %s\n", i, b,
					       rs(rc), rs(want));
			}
		}
	}
	hs_set_under_load(p.r, false);
	check(!bad,
	      "tamper: all %d single-bit flips of an initiation refused with the "
	      "field's reason (type/reserved/mac1/mac2 under load)",
	      n);

	/* An attacker who knows the responder's public key reseals mac1: Noise
	 * must catch what mac1 no longer does. */
	bad = n = 0;
	for (size_t i = 0; i < HS_INITIATION_LEN - 2 * HS_MAC_LEN; i++) {
		for (int b = 0; b < 8; b++, n++) {
			int want = i == 0  ? -HS_R_BAD_TYPE
				   : i < 4 ? -HS_R_BAD_RESERVED
					   : -HS_R_DECRYPT;

			memcpy(t, init, sizeof(t));
			t[i] ^= (uint8_t)(1 << b);
			hs_seal_mac1(p.rpub, t, sizeof(t));
			rc = hs_consume_initiation(p.r, t, sizeof(t), &p.iaddr, &res);
			if (rc != want || res.have_keys) {
				if (bad++ < 5)
					printf(
					    "  resealed initiation byte %zu bit %d: %s, want %s\n",
					    i, b, rs(rc), rs(want));
			}
		}
	}
	check(!bad,
	      "tamper: all %d flips of bytes 0..115 with mac1 resealed refused (type, "
	      "reserved, then decrypt failed: sender index is in the prologue)",
	      n);

	rc = hs_consume_initiation(p.r, init, sizeof(init), &p.iaddr, &rr);
	check(rc == 0 && rr.have_keys, "tamper: the untouched initiation is still accepted (%s)",
	      rs(rc));
	memcpy(resp, rr.reply, sizeof(resp));

	bad = n = 0;
	for (size_t i = 0; i < sizeof(resp); i++) {
		for (int b = 0; b < 8; b++, n++) {
			int want = raw_flip_reason(i, sizeof(resp));

			memcpy(t, resp, sizeof(resp));
			t[i] ^= (uint8_t)(1 << b);
			hs_set_under_load(p.i, i >= sizeof(resp) - HS_MAC_LEN);
			fa = p.raddr;
			fa.addr[2] = (uint8_t)(n >> 8);
			fa.addr[3] = (uint8_t)n;
			rc = hs_consume_response(p.i, t, sizeof(resp), &fa, &res);
			if (rc != want || res.have_keys) {
				if (bad++ < 5)
					printf("  response byte %zu bit %d: %s, want %s\n", i, b,
					       rs(rc), rs(want));
			}
		}
	}
	hs_set_under_load(p.i, false);
	check(!bad,
	      "tamper: all %d single-bit flips of a response refused with the field's reason "
	      "(mac2 under load)",
	      n);

	bad = n = 0;
	for (size_t i = 0; i < HS_RESPONSE_LEN - 2 * HS_MAC_LEN; i++) {
		if (i >= 4 && i < 8)
			continue; /* sender index: see below */
		for (int b = 0; b < 8; b++, n++) {
			int want = i == 0   ? -HS_R_BAD_TYPE
				   : i < 4  ? -HS_R_BAD_RESERVED
				   : i < 12 ? -HS_R_UNKNOWN_INDEX
					    : -HS_R_RESPONSE_AUTH;

			memcpy(t, resp, sizeof(resp));
			t[i] ^= (uint8_t)(1 << b);
			hs_seal_mac1(p.ipub, t, sizeof(resp));
			rc = hs_consume_response(p.i, t, sizeof(resp), &p.raddr, &res);
			if (rc != want || res.have_keys) {
				if (bad++ < 5)
					printf("  resealed response byte %zu bit %d: %s, want %s\n",
					       i, b, rs(rc), rs(want));
			}
		}
	}
	check(!bad,
	      "tamper: all %d flips of the response's type, reserved, receiver index, e "
	      "and enc_empty with mac1 resealed refused",
	      n);

	rc = hs_consume_response(p.i, resp, sizeof(resp), &p.raddr, &res);
	check(rc == 0 && keys_match(&res.keys, &rr.keys),
	      "tamper: the untouched response is still accepted, keys agree (%s)", rs(rc));

	/* Cookie reply: every bit flip refused. */
	hs_set_under_load(p.r, true);
	hs_create_initiation(p.i, p.r_at_i, init, sizeof(init));
	rc = hs_consume_initiation(p.r, init, sizeof(init), &p.iaddr, &res);
	memcpy(ck, res.reply, sizeof(ck));
	bad = n = 0;
	for (size_t i = 0; i < sizeof(ck); i++) {
		for (int b = 0; b < 8; b++, n++) {
			int want = i == 0  ? -HS_R_BAD_TYPE
				   : i < 4 ? -HS_R_BAD_RESERVED
				   : i < 8 ? -HS_R_UNKNOWN_INDEX
					   : -HS_R_DECRYPT;

			memcpy(t, ck, sizeof(ck));
			t[i] ^= (uint8_t)(1 << b);
			rc = hs_consume_cookie(p.i, t, sizeof(ck), &res);
			if (rc != want && bad++ < 5)
				printf("  cookie byte %zu bit %d: %s, want %s\n", i, b, rs(rc),
				       rs(want));
		}
	}
	check(!bad, "tamper: all %d single-bit flips of a cookie reply refused", n);
	rc = hs_consume_cookie(p.i, ck, sizeof(ck), &res);
	check(rc == 0, "tamper: the untouched cookie reply is still accepted (%s)", rs(rc));

	/* Documented limit (as in WireGuard): the response's sender index is
	 * covered only by mac1, which anyone who knows the initiator's public key
	 * can recompute. A changed index makes the initiator address packets the
	 * responder drops: no worse than dropping the response. */
	hs_set_under_load(p.r, false);
	hs_create_initiation(p.i, p.r_at_i, init, sizeof(init));
	tick(&p.clk, NS_PER_S);
	hs_consume_initiation(p.r, init, sizeof(init), &p.iaddr, &rr);
	memcpy(t, rr.reply, sizeof(resp));
	t[4] ^= 1;
	hs_seal_mac1(p.ipub, t, sizeof(resp));
	rc = hs_consume_response(p.i, t, sizeof(resp), &p.raddr, &res);
	check(rc == 0 && res.keys.remote_index == (rr.keys.local_index ^ 1),
	      "tamper (documented limit): response sender index is authenticated by mac1 only");
	hs_result_wipe(&res);
	hs_result_wipe(&rr);
	pair_free(&p);
}

static void test_low_order_ephemeral(void)
{
	uint8_t init[HS_INITIATION_LEN];
	struct hs_result res;
	struct pair p;
	int rc;

	pair_new(&p, NULL, NULL);
	hs_create_initiation(p.i, p.r_at_i, init, sizeof(init));
	memset(init + 8, 0, 32); /* e = the zero point */
	hs_seal_mac1(p.rpub, init, sizeof(init));
	rc = hs_consume_initiation(p.r, init, sizeof(init), &p.iaddr, &res);
	check(rc == -HS_R_BAD_KEY, "initiation with a zero ephemeral: %s", rs(rc));
	pair_free(&p);
}

static void test_truncated_and_types(void)
{
	uint8_t init[HS_INITIATION_LEN + 1], ck[HS_COOKIE_REPLY_LEN + 1], t[HS_INITIATION_LEN];
	struct hs_result rr, res;
	struct pair p;
	int bad = 0, rc;

	pair_new(&p, NULL, NULL);
	hs_create_initiation(p.i, p.r_at_i, init, sizeof(init));
	for (size_t l = 0; l < HS_INITIATION_LEN; l++) {
		rc = hs_consume_initiation(p.r, init, l, &p.iaddr, &res);
		bad += rc != -HS_R_TRUNCATED;
		rc = hs_receive(p.r, init, l, &p.iaddr, &res);
		bad += rc != -HS_R_TRUNCATED;
	}
	check(!bad, "truncated: every initiation length 0..147 refused as truncated");
	init[HS_INITIATION_LEN] = 0;
	rc = hs_consume_initiation(p.r, init, HS_INITIATION_LEN + 1, &p.iaddr, &res);
	check(rc == -HS_R_BAD_LENGTH, "initiation with a trailing byte: %s", rs(rc));

	rc = hs_receive(p.r, init, HS_INITIATION_LEN, &p.iaddr, &rr);
	check(rc == 0, "hs_receive dispatches the initiation (%s)", rs(rc));

	bad = 0;
	for (size_t l = 0; l < HS_RESPONSE_LEN; l++) {
		rc = hs_consume_response(p.i, rr.reply, l, &p.raddr, &res);
		bad += rc != -HS_R_TRUNCATED;
		rc = hs_receive(p.i, rr.reply, l, &p.raddr, &res);
		bad += rc != -HS_R_TRUNCATED;
	}
	check(!bad, "truncated: every response length 0..91 refused as truncated");

	/* Wrong types into each consumer. */
	rc = hs_consume_initiation(p.r, rr.reply, rr.reply_len, &p.iaddr, &res);
	check(rc == -HS_R_BAD_TYPE, "a response given as an initiation: %s", rs(rc));
	rc = hs_consume_response(p.i, init, HS_INITIATION_LEN, &p.raddr, &res);
	check(rc == -HS_R_BAD_TYPE, "an initiation given as a response: %s", rs(rc));
	rc = hs_consume_cookie(p.i, init, HS_INITIATION_LEN, &res);
	check(rc == -HS_R_BAD_TYPE, "an initiation given as a cookie reply: %s", rs(rc));
	bad = 0;
	for (int type = 0; type < 256; type++) {
		if (type >= BPFTUN_MSG_HANDSHAKE_INIT && type <= BPFTUN_MSG_COOKIE)
			continue;
		memcpy(t, init, sizeof(t));
		t[0] = (uint8_t)type;
		rc = hs_receive(p.r, t, sizeof(t), &p.iaddr, &res);
		bad += rc != -HS_R_BAD_TYPE;
	}
	check(!bad, "hs_receive: types 0 and 4..255 (data included) refused as bad type");

	rc = hs_consume_response(p.i, rr.reply, rr.reply_len, &p.raddr, &res);
	check(rc == 0, "the untouched response is still accepted (%s)", rs(rc));

	/* Cookie replies. */
	hs_set_under_load(p.r, true);
	hs_create_initiation(p.i, p.r_at_i, init, sizeof(init));
	hs_consume_initiation(p.r, init, HS_INITIATION_LEN, &p.iaddr, &res);
	memcpy(ck, res.reply, HS_COOKIE_REPLY_LEN);
	bad = 0;
	for (size_t l = 0; l < HS_COOKIE_REPLY_LEN; l++) {
		rc = hs_consume_cookie(p.i, ck, l, &res);
		bad += rc != -HS_R_TRUNCATED;
	}
	check(!bad, "truncated: every cookie reply length 0..63 refused as truncated");
	ck[HS_COOKIE_REPLY_LEN] = 0;
	rc = hs_consume_cookie(p.i, ck, HS_COOKIE_REPLY_LEN + 1, &res);
	check(rc == -HS_R_BAD_LENGTH, "cookie reply with a trailing byte: %s", rs(rc));
	rc = hs_consume_initiation(p.r, ck, HS_COOKIE_REPLY_LEN, &p.iaddr, &res);
	check(rc == -HS_R_BAD_TYPE, "a cookie reply given as an initiation: %s", rs(rc));
	pair_free(&p);
}

static void test_replay(void)
{
	uint8_t a[HS_INITIATION_LEN], b[HS_INITIATION_LEN];
	struct hs_result res;
	struct pair p;
	int rc;

	pair_new(&p, NULL, NULL);
	hs_create_initiation(p.i, p.r_at_i, a, sizeof(a));
	rc = hs_consume_initiation(p.r, a, sizeof(a), &p.iaddr, &res);
	check(rc == 0, "replay: first initiation accepted (%s)", rs(rc));
	rc = hs_consume_initiation(p.r, a, sizeof(a), &p.iaddr, &res);
	check(rc == -HS_R_REPLAY && !res.have_keys && !res.reply_len,
	      "replay: the same initiation again: %s", rs(rc));

	/* An older initiation after a newer one was accepted. */
	tick(&p.clk, NS_PER_S);
	hs_create_initiation(p.i, p.r_at_i, a, sizeof(a));
	tick(&p.clk, NS_PER_S);
	hs_create_initiation(p.i, p.r_at_i, b, sizeof(b));
	rc = hs_consume_initiation(p.r, b, sizeof(b), &p.iaddr, &res);
	check(rc == 0, "replay: newer initiation accepted (%s)", rs(rc));
	rc = hs_consume_initiation(p.r, a, sizeof(a), &p.iaddr, &res);
	check(rc == -HS_R_REPLAY, "replay: older initiation after it: %s", rs(rc));

	/* A stalled clock still gives strictly increasing timestamps. */
	hs_create_initiation(p.i, p.r_at_i, a, sizeof(a));
	rc = hs_consume_initiation(p.r, a, sizeof(a), &p.iaddr, &res);
	check(rc == 0, "replay: initiation with the clock unchanged still newer (%s)", rs(rc));
	hs_result_wipe(&res);
	pair_free(&p);
}

static void test_unknown_peer(void)
{
	uint8_t init[HS_INITIATION_LEN];
	struct hs_device *stranger;
	struct hs_result res;
	uint32_t id;
	struct pair p;
	int rc;

	pair_new(&p, NULL, NULL);
	hs_device_new(&stranger, NULL);
	hs_peer_add(stranger, p.rpub, &id);
	hs_create_initiation(stranger, id, init, sizeof(init));
	rc = hs_consume_initiation(p.r, init, sizeof(init), &p.iaddr, &res);
	check(rc == -HS_R_UNKNOWN_PEER && !res.reply_len, "initiation from a stranger: %s", rs(rc));
	rc = hs_peer_remove(p.r, p.i_at_r);
	hs_create_initiation(p.i, p.r_at_i, init, sizeof(init));
	rc = hs_consume_initiation(p.r, init, sizeof(init), &p.iaddr, &res);
	check(rc == -HS_R_UNKNOWN_PEER, "initiation from a removed peer: %s", rs(rc));
	hs_device_free(stranger);
	pair_free(&p);
}

static void test_cookie(void)
{
	uint8_t init[HS_INITIATION_LEN], ck[HS_COOKIE_REPLY_LEN];
	struct hs_result res, rr, ri;
	struct hs_addr other;
	struct pair p;
	int rc;

	pair_new(&p, NULL, NULL);
	hs_set_under_load(p.r, true);
	check(hs_under_load(p.r), "cookie: responder under load");
	hs_create_initiation(p.i, p.r_at_i, init, sizeof(init));
	rc = hs_consume_initiation(p.r, init, sizeof(init), &p.iaddr, &res);
	check(rc == -HS_R_NEEDS_COOKIE && res.reply_len == HS_COOKIE_REPLY_LEN &&
		  res.reply[0] == BPFTUN_MSG_COOKIE && !res.have_keys &&
		  !memcmp(res.reply + 4, init + 4, 4),
	      "cookie: initiation without mac2 under load gets a cookie reply (%s)", rs(rc));
	memcpy(ck, res.reply, sizeof(ck));
	rc = hs_consume_cookie(p.i, ck, sizeof(ck), &res);
	check(rc == 0 && res.peer_id == p.r_at_i, "cookie: initiator takes the cookie (%s)",
	      rs(rc));
	rc = hs_consume_cookie(p.i, ck, sizeof(ck), &res);
	check(rc == -HS_R_UNKNOWN_INDEX, "cookie: the same cookie reply twice: %s", rs(rc));

	tick(&p.clk, NS_PER_S);
	hs_create_initiation(p.i, p.r_at_i, init, sizeof(init));
	check(!sodium_is_zero(init + 132, 16), "cookie: the retry carries mac2");
	/* From another port the cookie is not valid: a fresh cookie comes back. */
	other = p.iaddr;
	other.port++;
	rc = hs_consume_initiation(p.r, init, sizeof(init), &other, &res);
	check(rc == -HS_R_BAD_MAC2 && res.reply_len == HS_COOKIE_REPLY_LEN,
	      "cookie: mac2 from another address/port: %s, new cookie reply", rs(rc));
	rc = hs_consume_initiation(p.r, init, sizeof(init), &p.iaddr, &rr);
	check(rc == 0 && rr.have_keys && rr.reply_len == HS_RESPONSE_LEN,
	      "cookie: the retry with the cookie's mac2 is accepted under load (%s)", rs(rc));
	rc = hs_consume_response(p.i, rr.reply, rr.reply_len, &p.raddr, &ri);
	check(rc == 0 && keys_match(&ri.keys, &rr.keys),
	      "cookie: the exchange completes, keys agree (%s)", rs(rc));

	/* After the secret rotates (120 s) the old cookie is refused, with a new one. */
	hs_set_under_load(p.r, false);
	tick(&p.clk, 100 * NS_PER_S);
	hs_create_initiation(p.i, p.r_at_i, init, sizeof(init));
	check(!sodium_is_zero(init + 132, 16), "cookie: still used 101 s after receipt");
	tick(&p.clk, 20 * NS_PER_S);
	hs_set_under_load(p.r, true);
	rc = hs_consume_initiation(p.r, init, sizeof(init), &p.iaddr, &res);
	check(rc == -HS_R_BAD_MAC2 && res.reply_len == HS_COOKIE_REPLY_LEN,
	      "cookie: mac2 under a rotated secret, under load: %s, new cookie reply", rs(rc));
	hs_set_under_load(p.r, false);
	rc = hs_consume_initiation(p.r, init, sizeof(init), &p.iaddr, &res);
	check(rc == 0 && res.have_keys,
	      "cookie: the same stale mac2 when not under load: ignored, accepted (%s)", rs(rc));
	tick(&p.clk, 15 * NS_PER_S);
	hs_create_initiation(p.i, p.r_at_i, init, sizeof(init));
	check(sodium_is_zero(init + 132, 16), "cookie: not used 116 s after receipt");
	rc = hs_consume_initiation(p.r, init, sizeof(init), &p.iaddr, &res);
	check(rc == 0, "cookie: without mac2 and not under load: accepted (%s)", rs(rc));

	/* The responder may be the one sent a cookie: the initiator under load. */
	hs_set_under_load(p.i, true);
	tick(&p.clk, NS_PER_S);
	hs_create_initiation(p.i, p.r_at_i, init, sizeof(init));
	hs_consume_initiation(p.r, init, sizeof(init), &p.iaddr, &rr);
	rc = hs_consume_response(p.i, rr.reply, rr.reply_len, &p.raddr, &res);
	check(rc == -HS_R_NEEDS_COOKIE && res.reply_len == HS_COOKIE_REPLY_LEN,
	      "cookie: response to an initiator under load: %s", rs(rc));
	memcpy(ck, res.reply, sizeof(ck));
	rc = hs_consume_cookie(p.r, ck, sizeof(ck), &res);
	check(rc == 0 && res.peer_id == p.i_at_r, "cookie: responder takes the cookie (%s)",
	      rs(rc));
	hs_result_wipe(&res);
	hs_result_wipe(&rr);
	hs_result_wipe(&ri);
	pair_free(&p);
}

/* A real peer completes a handshake from its own address, with a cookie
 * round trip if the responder is under load. */
static int real_peer_completes(struct pair *p)
{
	uint8_t init[HS_INITIATION_LEN];
	struct hs_result rr, ri, res;
	int rc;

	hs_create_initiation(p->i, p->r_at_i, init, sizeof(init));
	rc = hs_consume_initiation(p->r, init, sizeof(init), &p->iaddr, &rr);
	if (rc == -HS_R_NEEDS_COOKIE) {
		rc = hs_consume_cookie(p->i, rr.reply, rr.reply_len, &res);
		if (rc)
			return rc;
		hs_create_initiation(p->i, p->r_at_i, init, sizeof(init));
		rc = hs_consume_initiation(p->r, init, sizeof(init), &p->iaddr, &rr);
	}
	if (rc)
		return rc;
	rc = hs_consume_response(p->i, rr.reply, rr.reply_len, &p->raddr, &ri);
	if (!rc && !keys_match(&ri.keys, &rr.keys))
		rc = -EIO;
	hs_result_wipe(&rr);
	hs_result_wipe(&ri);
	return rc;
}

static void test_flood(void)
{
	static const uint8_t attacker_ip[4] = {203, 0, 113, 66};
	uint8_t init[HS_INITIATION_LEN], ck[HS_COOKIE_REPLY_LEN];
	uint64_t limit, got, count[HS_R_COUNT] = {0};
	struct hs_stats before, after;
	struct hs_device *att;
	struct hs_addr aaddr;
	struct hs_result res;
	uint32_t id;
	struct pair p;
	int rc, ok = 1;

	pair_new(&p, NULL, NULL);
	hs_device_new(&att, NULL);
	hs_set_clock(att, f_mono, f_real, &p.clk);
	hs_peer_add(att, p.rpub, &id);
	hs_addr_v4(&aaddr, attacker_ip, 4444);

	/* 10000 initiations from one address over 1 s, valid mac1, no cookie. */
	hs_create_initiation(att, id, init, sizeof(init));
	hs_get_stats(p.r, &before);
	for (int i = 0; i < 10000; i++) {
		tick(&p.clk, 100000); /* 100 us */
		rc = hs_consume_initiation(p.r, init, sizeof(init), &aaddr, &res);
		if (hs_is_rejection(rc))
			count[-rc - HS_REASON_BASE]++;
		else
			ok = 0;
		if (res.reply_len == HS_COOKIE_REPLY_LEN)
			memcpy(ck, res.reply, sizeof(ck)); /* one per 500 ms */
	}
	hs_get_stats(p.r, &after);
	got = after.noise_attempts - before.noise_attempts;
	limit = HS_RATE_BURST + HS_RATE_PER_S * 1 + 1;
	check(ok && got <= limit && got >= HS_RATE_BURST,
	      "flood: 10000 initiations from one address in 1 s, %llu reached DH (limit %llu)",
	      (unsigned long long)got, (unsigned long long)limit);
	check(count[HS_R_RATE_LIMITED - HS_REASON_BASE] >= 1 &&
		  count[HS_R_NEEDS_COOKIE - HS_REASON_BASE] > 9000,
	      "flood: %llu rate limited, then under load: %llu answered with a cookie",
	      (unsigned long long)count[HS_R_RATE_LIMITED - HS_REASON_BASE],
	      (unsigned long long)count[HS_R_NEEDS_COOKIE - HS_REASON_BASE]);
	check(hs_under_load(p.r), "flood: the rate limiter put the responder under load");
	rc = real_peer_completes(&p);
	check(rc == 0, "flood: a real peer from another address still completes (%s)", rs(rc));

	/* The attacker proves its address (takes a cookie) and floods with mac2. */
	rc = hs_consume_cookie(att, ck, sizeof(ck), &res);
	check(rc == 0, "flood: the attacker takes a cookie reply (%s)", rs(rc));
	hs_create_initiation(att, id, init, sizeof(init));
	check(!sodium_is_zero(init + 132, 16), "flood: attacker now has a valid mac2");
	memset(count, 0, sizeof(count));
	hs_get_stats(p.r, &before);
	for (int i = 0; i < 10000; i++) {
		tick(&p.clk, 100000);
		rc = hs_consume_initiation(p.r, init, sizeof(init), &aaddr, &res);
		if (hs_is_rejection(rc))
			count[-rc - HS_REASON_BASE]++;
	}
	hs_get_stats(p.r, &after);
	got = after.noise_attempts - before.noise_attempts;
	check(got <= limit && count[HS_R_RATE_LIMITED - HS_REASON_BASE] >= 10000 - limit,
	      "flood with a valid cookie: %llu of 10000 reached DH (limit %llu), %llu rate limited",
	      (unsigned long long)got, (unsigned long long)limit,
	      (unsigned long long)count[HS_R_RATE_LIMITED - HS_REASON_BASE]);
	rc = real_peer_completes(&p);
	check(rc == 0, "flood with a valid cookie: the real peer still completes (%s)", rs(rc));

	/* The load state ends HS_LOAD_HOLD_MS after the last drop. */
	tick(&p.clk, 2 * NS_PER_S);
	check(!hs_under_load(p.r), "flood: load state clears after the flood stops");
	hs_device_free(att);
	pair_free(&p);
}

/* Many sources: the rate-limiter table stays fixed; each new source gets its
 * burst as far as the per-source limiter goes, but together they are load. */
static void test_many_sources(void)
{
	uint8_t init[HS_INITIATION_LEN], ip[16] = {0x20, 0x01, 0x0d, 0xb8};
	const uint32_t nsrc = 3 * HS_RL_SETS * HS_RL_WAYS;
	uint64_t dh, cookies;
	struct hs_stats before, after;
	struct hs_device *att;
	struct hs_result res;
	struct hs_addr a;
	uint32_t id;
	struct pair p;
	int limited = 0, rc;

	pair_new(&p, NULL, NULL);
	hs_device_new(&att, NULL);
	hs_peer_add(att, p.rpub, &id);
	hs_create_initiation(att, id, init, sizeof(init));
	/* Without the global bucket (raised out of the way): the per-source
	 * limiter alone lets each of them through. */
	hs_set_load_limit(p.r, 1000000, 1000000);
	hs_get_stats(p.r, &before);
	for (uint32_t i = 0; i < nsrc; i++) {
		ip[4] = (uint8_t)(i >> 16);
		ip[5] = (uint8_t)(i >> 8);
		ip[6] = (uint8_t)i;
		hs_addr_v6(&a, ip, 1);
		rc = hs_consume_initiation(p.r, init, sizeof(init), &a, &res);
		limited += rc == -HS_R_RATE_LIMITED;
	}
	hs_get_stats(p.r, &after);
	check(!limited && after.noise_attempts - before.noise_attempts == nsrc,
	      "many sources: %u distinct /64s (3x the table) each get their burst from the "
	      "per-source limiter",
	      nsrc);
	/* Hosts of one /64 share a bucket: 10 messages, at most a burst reach DH. */
	hs_get_stats(p.r, &before);
	for (int i = 0; i < 10; i++) {
		ip[15] = (uint8_t)(i + 1);
		hs_addr_v6(&a, ip, (uint16_t)i);
		hs_consume_initiation(p.r, init, sizeof(init), &a, &res);
	}
	hs_get_stats(p.r, &after);
	check(after.noise_attempts - before.noise_attempts <= HS_RATE_BURST,
	      "many sources: 10 hosts of one /64 share a bucket (%llu reached DH)",
	      (unsigned long long)(after.noise_attempts - before.noise_attempts));
	hs_set_under_load(p.r, false);
	rc = real_peer_completes(&p);
	check(rc == 0, "many sources: the real peer still completes (%s)", rs(rc));

	/* With the default global bucket, the same sources are load. */
	hs_set_load_limit(p.r, HS_LOAD_RATE_PER_S, HS_LOAD_BURST);
	tick(&p.clk, 10 * NS_PER_S);
	ip[3] = 0x99; /* sources the table has not seen */
	hs_get_stats(p.r, &before);
	for (uint32_t i = 0; i < nsrc; i++) {
		ip[4] = (uint8_t)(i >> 16);
		ip[5] = (uint8_t)(i >> 8);
		ip[6] = (uint8_t)i;
		hs_addr_v6(&a, ip, 1);
		hs_consume_initiation(p.r, init, sizeof(init), &a, &res);
	}
	hs_get_stats(p.r, &after);
	dh = after.noise_attempts - before.noise_attempts;
	cookies = after.rejected[HS_R_NEEDS_COOKIE - HS_REASON_BASE] -
		  before.rejected[HS_R_NEEDS_COOKIE - HS_REASON_BASE];
	check(dh == HS_LOAD_BURST && cookies == nsrc - HS_LOAD_BURST &&
		  after.load_entered > before.load_entered && hs_under_load(p.r),
	      "many sources, global bucket: %u sources at once: %llu reached DH (burst %d), "
	      "%llu asked for a cookie, under load",
	      nsrc, (unsigned long long)dh, HS_LOAD_BURST, (unsigned long long)cookies);
	hs_device_free(att);
	pair_free(&p);
}

/*
 * Issue 13 item 3: a distributed flood, each source under its own limit,
 * valid mac1, no cookie: 30000 sources in 1 s. The global bucket makes the
 * responder demand cookies; DH is bounded by its burst + rate x time, and a
 * real peer still completes (with one cookie round trip).
 */
static void test_distributed_flood(void)
{
	const uint32_t nsrc = 30000;
	uint8_t init[HS_INITIATION_LEN], ip[4] = {10, 0, 0, 0};
	struct hs_stats before, after;
	struct hs_device *att;
	struct hs_result res;
	uint64_t dh, limit;
	struct hs_addr a;
	uint32_t id;
	struct pair p;
	int rc, other = 0;

	pair_new(&p, NULL, NULL);
	hs_device_new(&att, NULL);
	hs_set_clock(att, f_mono, f_real, &p.clk);
	hs_peer_add(att, p.rpub, &id);
	hs_create_initiation(att, id, init, sizeof(init));
	hs_get_stats(p.r, &before);
	for (uint32_t i = 0; i < nsrc; i++) {
		tick(&p.clk, NS_PER_S / nsrc);
		ip[1] = (uint8_t)(i >> 16);
		ip[2] = (uint8_t)(i >> 8);
		ip[3] = (uint8_t)i;
		hs_addr_v4(&a, ip, (uint16_t)(1024 + i % 60000));
		rc = hs_consume_initiation(p.r, init, sizeof(init), &a, &res);
		other += rc != -HS_R_NEEDS_COOKIE && rc != -HS_R_UNKNOWN_PEER;
		other += rc == -HS_R_NEEDS_COOKIE && res.reply_len != HS_COOKIE_REPLY_LEN;
	}
	hs_get_stats(p.r, &after);
	dh = after.noise_attempts - before.noise_attempts;
	limit = HS_LOAD_BURST + HS_LOAD_RATE_PER_S + 1;
	check(dh <= limit && !other && hs_under_load(p.r),
	      "distributed flood: %u sources x 1 valid-mac1 initiation in 1 s: %llu reached DH "
	      "(limit %llu), the rest answered with cookie replies, under load",
	      nsrc, (unsigned long long)dh, (unsigned long long)limit);
	check(after.rejected[HS_R_RATE_LIMITED - HS_REASON_BASE] ==
		  before.rejected[HS_R_RATE_LIMITED - HS_REASON_BASE],
	      "distributed flood: no source was over its own limit (the old load signal)");
	rc = real_peer_completes(&p);
	check(rc == 0, "distributed flood: a real peer completes with a cookie round trip (%s)",
	      rs(rc));
	tick(&p.clk, 2 * NS_PER_S);
	check(!hs_under_load(p.r), "distributed flood: load clears 1 s after it stops");
	hs_note_backlog(p.r);
	check(hs_under_load(p.r), "a deep receive queue (hs_note_backlog) is load too");
	{
		/* One source, under load: one cookie reply per 500 ms, not one per message. */
		int replies = 0;

		hs_get_stats(p.r, &before);
		for (int i = 0; i < 100; i++) {
			tick(&p.clk, 10 * 1000000ULL); /* 100 messages in 1 s */
			hs_note_backlog(p.r);
			hs_consume_initiation(p.r, init, sizeof(init), &a, &res);
			replies += res.reply_len == HS_COOKIE_REPLY_LEN;
		}
		hs_get_stats(p.r, &after);
		check(
		    replies >= 2 && replies <= 1000 / HS_COOKIE_REPLY_GAP_MS + 1 &&
			after.cookie_replies_withheld - before.cookie_replies_withheld ==
			    (uint64_t)(100 - replies),
		    "cookie replies to one source under load: %d for 100 messages in 1 s (at most "
		    "one per %d ms), the rest withheld",
		    replies, HS_COOKIE_REPLY_GAP_MS);
	}
	hs_device_free(att);
	pair_free(&p);
}

/*
 * Issue 13 item 1: anyone who saw an initiation and knows the responder's
 * public key can write a cookie reply the initiator accepts. It must not stop
 * the next handshake while the responder is not under load.
 */
static void test_forged_cookie(void)
{
	uint8_t init[HS_INITIATION_LEN], ck[HS_COOKIE_REPLY_LEN], key[32], lab[8 + 32];
	uint8_t bogus[16];
	struct hs_result res, rr, ri;
	struct pair p;
	int rc;

	pair_new(&p, NULL, NULL);
	hs_create_initiation(p.i, p.r_at_i, init, sizeof(init));
	/* The forger: key = BLAKE2b-256("cookie--" || responder's public key),
	 * AD = the initiation's mac1, which it saw. */
	memcpy(lab, "cookie--", 8);
	memcpy(lab + 8, p.rpub, 32);
	check(crypto_generichash(key, 32, lab, sizeof(lab), NULL, 0) == 0,
	      "forged cookie: the forger derives the cookie-reply key from the public key");
	randombytes_buf(bogus, sizeof(bogus));
	memset(ck, 0, sizeof(ck));
	ck[0] = BPFTUN_MSG_COOKIE;
	memcpy(ck + 4, init + 4, 4); /* receiver index = the initiation's sender index */
	randombytes_buf(ck + 8, 24);
	crypto_aead_xchacha20poly1305_ietf_encrypt(ck + 32, NULL, bogus, sizeof(bogus),
						   init + HS_INITIATION_LEN - 32, 16, NULL, ck + 8,
						   key);
	rc = hs_consume_cookie(p.i, ck, sizeof(ck), &res);
	check(rc == 0, "forged cookie: the initiator accepts it, as WireGuard's would (%s)",
	      rs(rc));
	rc = hs_consume_cookie(p.i, ck, sizeof(ck), &res);
	check(rc == -HS_R_UNKNOWN_INDEX,
	      "forged cookie: only one cookie reply per message sent (second: %s)", rs(rc));

	tick(&p.clk, NS_PER_S);
	hs_create_initiation(p.i, p.r_at_i, init, sizeof(init));
	check(!sodium_is_zero(init + HS_INITIATION_LEN - 16, 16),
	      "forged cookie: the next initiation carries a mac2 under the forged cookie");
	check(!hs_under_load(p.r), "forged cookie: responder not under load");
	rc = hs_consume_initiation(p.r, init, sizeof(init), &p.iaddr, &rr);
	check(rc == 0 && rr.have_keys,
	      "forged cookie: the next handshake is accepted when not under load (%s)", rs(rc));
	rc = hs_consume_response(p.i, rr.reply, rr.reply_len, &p.raddr, &ri);
	check(rc == 0 && keys_match(&ri.keys, &rr.keys),
	      "forged cookie: ... and completes, keys agree (%s)", rs(rc));

	/* Under load the wrong mac2 is refused with a real cookie, which then
	 * replaces the forged one. */
	tick(&p.clk, NS_PER_S);
	hs_set_under_load(p.r, true);
	hs_create_initiation(p.i, p.r_at_i, init, sizeof(init));
	rc = hs_consume_initiation(p.r, init, sizeof(init), &p.iaddr, &rr);
	check(rc == -HS_R_BAD_MAC2 && rr.reply_len == HS_COOKIE_REPLY_LEN,
	      "forged cookie: under load the forged mac2 gets a real cookie reply (%s)", rs(rc));
	rc = hs_consume_cookie(p.i, rr.reply, rr.reply_len, &res);
	check(rc == 0, "forged cookie: the initiator takes the real cookie (%s)", rs(rc));
	tick(&p.clk, NS_PER_S);
	hs_create_initiation(p.i, p.r_at_i, init, sizeof(init));
	rc = hs_consume_initiation(p.r, init, sizeof(init), &p.iaddr, &rr);
	check(rc == 0 && rr.have_keys, "forged cookie: under load, the retry is accepted (%s)",
	      rs(rc));
	sodium_memzero(key, sizeof(key));
	hs_result_wipe(&res);
	hs_result_wipe(&rr);
	hs_result_wipe(&ri);
	pair_free(&p);
}

/* One exchange with the given psks (NULL: none) on the initiator's and the
 * responder's side; returns hs_consume_response's result, and the
 * responder's in *rrc. */
static int psk_exchange(const uint8_t *ipsk, const uint8_t *rpsk, int *rrc, struct hs_keys *ik,
			struct hs_keys *rk)
{
	uint8_t init[HS_INITIATION_LEN];
	struct hs_result ri, rr;
	struct pair p;
	int rc;

	if (pair_new(&p, NULL, NULL))
		return -ENOMEM;
	hs_peer_set_psk(p.i, p.r_at_i, ipsk);
	hs_peer_set_psk(p.r, p.i_at_r, rpsk);
	rc = hs_create_initiation(p.i, p.r_at_i, init, sizeof(init));
	*rrc = rc ? rc : hs_consume_initiation(p.r, init, sizeof(init), &p.iaddr, &rr);
	rc = *rrc ? *rrc : hs_consume_response(p.i, rr.reply, rr.reply_len, &p.raddr, &ri);
	if (!*rrc) {
		*rk = rr.keys;
		if (!rc)
			*ik = ri.keys;
		else
			check(!ri.have_keys, "psk: a refused response yields no keys");
	}
	hs_result_wipe(&ri);
	hs_result_wipe(&rr);
	pair_free(&p);
	return rc;
}

/* Issue 11: PresharedKey mixed in as WireGuard's psk2. */
static void test_psk(void)
{
	uint8_t a[32], b[32], zero[32] = {0};
	struct hs_keys ik, rk, ik2, rk2;
	int rc, rrc;

	randombytes_buf(a, sizeof(a));
	memcpy(b, a, sizeof(b));
	b[0] ^= 0x80;
	rc = psk_exchange(a, a, &rrc, &ik, &rk);
	check(!rrc && !rc && keys_match(&ik, &rk), "psk: the same psk on both sides: accepted (%s)",
	      rs(rc));
	rc = psk_exchange(NULL, NULL, &rrc, &ik2, &rk2);
	check(!rrc && !rc && keys_match(&ik2, &rk2) && memcmp(&ik.tx, &ik2.tx, sizeof(ik.tx)),
	      "psk: no psk on either side: accepted, other keys (%s)", rs(rc));
	rc = psk_exchange(zero, NULL, &rrc, &ik2, &rk2);
	check(!rrc && !rc, "psk: an all-zero psk is the same as none (as WireGuard) (%s)", rs(rc));
	rc = psk_exchange(a, b, &rrc, &ik2, &rk2);
	check(!rrc && rc == -HS_R_RESPONSE_AUTH,
	      "psk: psks one bit apart: the responder answers (message 1 does not depend on "
	      "it), the initiator refuses: %s",
	      rs(rc));
	rc = psk_exchange(a, NULL, &rrc, &ik2, &rk2);
	check(!rrc && rc == -HS_R_RESPONSE_AUTH, "psk: initiator only: refused: %s", rs(rc));
	rc = psk_exchange(NULL, a, &rrc, &ik2, &rk2);
	check(!rrc && rc == -HS_R_RESPONSE_AUTH, "psk: responder only: refused: %s", rs(rc));
	check(hs_peer_set_psk(NULL, 0, a) == -ENOENT, "psk: set on no device refused");
	sodium_memzero(a, sizeof(a));
	sodium_memzero(b, sizeof(b));
	sodium_memzero(&ik, sizeof(ik));
	sodium_memzero(&rk, sizeof(rk));
	sodium_memzero(&ik2, sizeof(ik2));
	sodium_memzero(&rk2, sizeof(rk2));
}

static void test_strerror(void)
{
	static const struct {
		int r;
		const char *s;
	} want[] = {
	    {HS_R_TRUNCATED, "truncated"},
	    {HS_R_BAD_TYPE, "bad type"},
	    {HS_R_BAD_MAC1, "bad mac1"},
	    {HS_R_NEEDS_COOKIE, "needs cookie (under load)"},
	    {HS_R_DECRYPT, "decrypt failed"},
	    {HS_R_UNKNOWN_PEER, "unknown peer"},
	    {HS_R_REPLAY, "replayed timestamp (not newer than the last accepted)"},
	    {HS_R_BAD_RESERVED, "bad reserved bytes"},
	    {HS_R_RESPONSE_AUTH,
	     "response not authentic (preshared keys differ, or it was altered)"},
	};
	int ok = 1;

	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		ok &= !strcmp(handshake_strerror(-want[i].r), want[i].s) &&
		      !strcmp(handshake_strerror(want[i].r), want[i].s);
	for (int r = HS_REASON_BASE; r < HS_R_END; r++) {
		ok &= handshake_strerror(-r) && *handshake_strerror(-r) && hs_is_rejection(-r);
		for (int s = HS_REASON_BASE; s < r; s++)
			ok &= strcmp(handshake_strerror(r), handshake_strerror(s)) != 0;
	}
	ok &= !hs_is_rejection(-EINVAL) && !hs_is_rejection(0) &&
	      !strcmp(handshake_strerror(-EINVAL), "invalid argument");
	check(ok, "handshake_strerror: %d distinct reason names, errnos named too", HS_R_COUNT);
}

int main(void)
{
	if (noise_init()) {
		printf("sodium_init failed\n");
		return 1;
	}
	test_blake2b();
	test_hmac_hkdf();
	test_primitives();
	test_vector();
	test_noise_reference();
	test_wire_reference();
	test_full_handshake();
	test_noise_misuse();
	test_tamper();
	test_low_order_ephemeral();
	test_truncated_and_types();
	test_replay();
	test_unknown_peer();
	test_cookie();
	test_flood();
	test_many_sources();
	test_distributed_flood();
	test_forged_cookie();
	test_psk();
	test_strerror();
	return check_summary();
}
