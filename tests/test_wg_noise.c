// SPDX-License-Identifier: GPL-2.0
/*
 * test_wg_noise.c - tests of keymgmt/blake2s.c and keymgmt/wg_noise.c
 * (WireGuard's Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s handshake).
 *
 *  1. BLAKE2s: RFC 7693 Appendix B ("abc"), the Appendix E self-test grand
 *     hash (keyed and unkeyed, out 16/20/28/32, in 0..1024), and OpenSSL's
 *     BLAKE2S-256, BLAKE2SMAC and HMAC(BLAKE2S-256) over many lengths and
 *     split updates.
 *  2. A full handshake in process, with and without a preshared key: keys
 *     agree crosswise, a data message goes both ways.
 *  3. An independent re-computation of the whole transcript with OpenSSL only
 *     (EVP BLAKE2S-256, BLAKE2SMAC, HMAC, ChaCha20-Poly1305, X25519): message
 *     1, message 2 (mac1 and mac2 included) and both transport keys, byte for
 *     byte, from injected static keys, ephemerals, timestamp, indices, psk and
 *     cookie. Cookie replies: the key and AD derived by OpenSSL, opened with
 *     libsodium's XChaCha20-Poly1305 (OpenSSL 3.0 has no XChaCha).
 *  4. Refusals: every byte of message 1 and 2 flipped (mac1 catches), a
 *     forged message with a correct mac1 (AEAD catches), wrong psk, wrong
 *     receiver index, wrong lengths, low-order keys; a refused message leaves
 *     the handshake usable.
 *  5. Cookies: reply made, opened, mac2 checked; tampered reply refused.
 *  6. TAI64N.
 *  7. The key manager's handshake layer (keymgmt/handshake.c) running the
 *     WireGuard suite (hs_suite_wireguard, keymgmt/wg_handshake.c) against
 *     wg_noise.c's functions, which 3 holds to OpenSSL and tests/wg_interop.sh
 *     to wireguard-go: its message 1 is wg_init_create's byte for byte for the
 *     same ephemeral, timestamp (its clock, rounded to 2^24 ns) and index;
 *     with a psk both ways the keys agree crosswise; a replayed initiation is
 *     refused; under load its cookie reply opens with wg_cookie_reply_consume
 *     and an initiation whose mac2 uses that cookie is answered; a psk on one
 *     side only fails.
 * Exit status 0 when every check passes.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <sodium.h>

#include "blake2s.h"
#include "check.h"
#include "handshake.h"
#include "wg_noise.h"

/* ============================================ OpenSSL reference (independent) */

static int ossl_ok = 1;

static void ref_hash(uint8_t out[32], const void *a, size_t alen, const void *b, size_t blen)
{
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	unsigned int n = 0;

	if (!c || EVP_DigestInit_ex(c, EVP_blake2s256(), NULL) != 1 ||
	    EVP_DigestUpdate(c, a, alen) != 1 || (blen && EVP_DigestUpdate(c, b, blen) != 1) ||
	    EVP_DigestFinal_ex(c, out, &n) != 1 || n != 32)
		ossl_ok = 0;
	EVP_MD_CTX_free(c);
}

static void ossl_mac(const char *name, OSSL_PARAM *params, const uint8_t *key, size_t keylen,
		     const void *a, size_t alen, const void *b, size_t blen, uint8_t *out,
		     size_t outlen)
{
	EVP_MAC *mac = EVP_MAC_fetch(NULL, name, NULL);
	EVP_MAC_CTX *c = mac ? EVP_MAC_CTX_new(mac) : NULL;
	size_t n = 0;

	if (!c || EVP_MAC_init(c, key, keylen, params) != 1 || EVP_MAC_update(c, a, alen) != 1 ||
	    (blen && EVP_MAC_update(c, b, blen) != 1) || EVP_MAC_final(c, out, &n, outlen) != 1 ||
	    n != outlen)
		ossl_ok = 0;
	EVP_MAC_CTX_free(c);
	EVP_MAC_free(mac);
}

static void ref_hmac(uint8_t out[32], const uint8_t *key, size_t keylen, const void *a, size_t alen,
		     const void *b, size_t blen)
{
	OSSL_PARAM p[] = {OSSL_PARAM_construct_utf8_string("digest", "BLAKE2S-256", 0),
			  OSSL_PARAM_construct_end()};

	ossl_mac("HMAC", p, key, keylen, a, alen, b, blen, out, 32);
}

/* keyed BLAKE2s with an outlen-byte output */
static void ref_keyed(uint8_t *out, size_t outlen, const uint8_t *key, size_t keylen,
		      const void *msg, size_t len)
{
	size_t sz = outlen;
	OSSL_PARAM p[] = {OSSL_PARAM_construct_size_t(OSSL_MAC_PARAM_SIZE, &sz),
			  OSSL_PARAM_construct_end()};

	ossl_mac("BLAKE2SMAC", p, key, keylen, msg, len, NULL, 0, out, outlen);
}

/* The paper's KDF_n on OpenSSL's HMAC. */
static void ref_kdf(const uint8_t ck[32], const void *in, size_t len, uint8_t *o1, uint8_t *o2,
		    uint8_t *o3)
{
	uint8_t t0[32], t1[32], t2[32], c;

	ref_hmac(t0, ck, 32, in, len, NULL, 0);
	c = 1;
	ref_hmac(t1, t0, 32, &c, 1, NULL, 0);
	c = 2;
	ref_hmac(t2, t0, 32, t1, 32, &c, 1);
	if (o3) {
		c = 3;
		ref_hmac(o3, t0, 32, t2, 32, &c, 1);
	}
	if (o2)
		memcpy(o2, t2, 32);
	memcpy(o1, t1, 32);
}

static void ref_x25519(uint8_t out[32], const uint8_t priv[32], const uint8_t pub[32])
{
	EVP_PKEY *a = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, priv, 32);
	EVP_PKEY *b = EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, NULL, pub, 32);
	EVP_PKEY_CTX *c = a ? EVP_PKEY_CTX_new(a, NULL) : NULL;
	size_t n = 32;

	if (!c || !b || EVP_PKEY_derive_init(c) != 1 || EVP_PKEY_derive_set_peer(c, b) != 1 ||
	    EVP_PKEY_derive(c, out, &n) != 1 || n != 32)
		ossl_ok = 0;
	EVP_PKEY_CTX_free(c);
	EVP_PKEY_free(a);
	EVP_PKEY_free(b);
}

static void ref_x25519_pub(uint8_t pub[32], const uint8_t priv[32])
{
	EVP_PKEY *a = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, priv, 32);
	size_t n = 32;

	if (!a || EVP_PKEY_get_raw_public_key(a, pub, &n) != 1 || n != 32)
		ossl_ok = 0;
	EVP_PKEY_free(a);
}

/* ChaCha20-Poly1305 with nonce 0^32 || le64(counter): out = ct || tag. */
static void ref_aead(const uint8_t key[32], uint64_t counter, const uint8_t *pt, size_t len,
		     const uint8_t *ad, size_t adlen, uint8_t *out)
{
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	uint8_t iv[12] = {0};
	int n;

	for (int i = 0; i < 8; i++)
		iv[4 + i] = (uint8_t)(counter >> (8 * i));
	if (!c || EVP_EncryptInit_ex(c, EVP_chacha20_poly1305(), NULL, key, iv) != 1 ||
	    (adlen && EVP_EncryptUpdate(c, NULL, &n, ad, (int)adlen) != 1) ||
	    (len && EVP_EncryptUpdate(c, out, &n, pt, (int)len) != 1) ||
	    EVP_EncryptFinal_ex(c, out + len, &n) != 1 ||
	    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_GET_TAG, 16, out + len) != 1)
		ossl_ok = 0;
	EVP_CIPHER_CTX_free(c);
}

static void le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

struct ref_transcript {
	uint8_t msg1[148], msg2[92];
	uint8_t i_send[32], i_recv[32]; /* initiator's T_send, T_recv */
};

/* The whole handshake as the WireGuard protocol page writes it, OpenSSL only. */
static void ref_handshake(const uint8_t si_priv[32], const uint8_t sr_priv[32],
			  const uint8_t ei_priv[32], const uint8_t er_priv[32],
			  const uint8_t ts[12], uint32_t idx_i, uint32_t idx_r,
			  const uint8_t psk[32], const uint8_t cookie_i[16],
			  const uint8_t cookie_r[16], struct ref_transcript *out)
{
	static const char construction[] = "Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s";
	static const char identifier[] = "WireGuard v1 zx2c4 Jason@zx2c4.com";
	uint8_t si_pub[32], sr_pub[32], ei_pub[32], er_pub[32];
	uint8_t c[32], h[32], k[32], d[32], tau[32], mk[32];
	uint8_t *m = out->msg1, *r = out->msg2;

	ref_x25519_pub(si_pub, si_priv);
	ref_x25519_pub(sr_pub, sr_priv);
	ref_x25519_pub(ei_pub, ei_priv);
	ref_x25519_pub(er_pub, er_priv);

	/* message 1 */
	ref_hash(c, construction, strlen(construction), NULL, 0);
	ref_hash(h, c, 32, identifier, strlen(identifier));
	ref_hash(h, h, 32, sr_pub, 32);
	memset(m, 0, 148);
	m[0] = 1;
	le32(m + 4, idx_i);
	memcpy(m + 8, ei_pub, 32);
	ref_hash(h, h, 32, ei_pub, 32);
	ref_kdf(c, ei_pub, 32, c, NULL, NULL);
	ref_x25519(d, ei_priv, sr_pub);
	ref_kdf(c, d, 32, c, k, NULL);
	ref_aead(k, 0, si_pub, 32, h, 32, m + 40);
	ref_hash(h, h, 32, m + 40, 48);
	ref_x25519(d, si_priv, sr_pub);
	ref_kdf(c, d, 32, c, k, NULL);
	ref_aead(k, 0, ts, 12, h, 32, m + 88);
	ref_hash(h, h, 32, m + 88, 28);
	ref_hash(mk, "mac1----", 8, sr_pub, 32);
	ref_keyed(m + 116, 16, mk, 32, m, 116);
	if (cookie_i)
		ref_keyed(m + 132, 16, cookie_i, 16, m, 132);

	/* message 2 (the responder's view, continuing the same c and h) */
	memset(r, 0, 92);
	r[0] = 2;
	le32(r + 4, idx_r);
	le32(r + 8, idx_i);
	memcpy(r + 12, er_pub, 32);
	ref_kdf(c, er_pub, 32, c, NULL, NULL);
	ref_hash(h, h, 32, er_pub, 32);
	ref_x25519(d, er_priv, ei_pub);
	ref_kdf(c, d, 32, c, NULL, NULL);
	ref_x25519(d, er_priv, si_pub);
	ref_kdf(c, d, 32, c, NULL, NULL);
	ref_kdf(c, psk, 32, c, tau, k);
	ref_hash(h, h, 32, tau, 32);
	ref_aead(k, 0, NULL, 0, h, 32, r + 44);
	ref_hash(h, h, 32, r + 44, 16);
	ref_hash(mk, "mac1----", 8, si_pub, 32);
	ref_keyed(r + 60, 16, mk, 32, r, 60);
	if (cookie_r)
		ref_keyed(r + 76, 16, cookie_r, 16, r, 76);

	/* transport keys */
	ref_kdf(c, NULL, 0, out->i_send, out->i_recv, NULL);
}

/* ================================================================ 1. BLAKE2s */

static void selftest_seq(uint8_t *out, size_t len, uint32_t seed)
{
	uint32_t a = 0xDEAD4BAD * seed, b = 1, t;

	for (size_t i = 0; i < len; i++) {
		t = a + b;
		a = b;
		b = t;
		out[i] = (uint8_t)(t >> 24);
	}
}

static void test_blake2s(void)
{
	static const size_t md_len[4] = {16, 20, 28, 32}, in_len[6] = {0, 3, 64, 65, 255, 1024};
	uint8_t in[1024], md[32], key[32], got[32], want[32];
	struct blake2s_state grand;
	static uint8_t big[4096];
	int bad;

	blake2s(got, 32, NULL, 0, "abc", 3);
	unhex("508c5e8c327c14e2e1a72ba34eeb452f37458b209ed63a294d999b4c86675982", want, 32);
	check(!memcmp(got, want, 32), "BLAKE2s-256(\"abc\") = RFC 7693 Appendix B");
	blake2s(got, 32, NULL, 0, "", 0);
	unhex("69217a3079908094e11121d042354a7c1f55b6482ca1a51e1b250dfd1ed0eef9", want, 32);
	check(!memcmp(got, want, 32), "BLAKE2s-256(\"\") = published empty-input digest");

	/* RFC 7693 Appendix E: grand hash over keyed and unkeyed results */
	blake2s_init(&grand, 32, NULL, 0);
	for (int i = 0; i < 4; i++) {
		for (int j = 0; j < 6; j++) {
			selftest_seq(in, in_len[j], (uint32_t)in_len[j]);
			blake2s(md, md_len[i], NULL, 0, in, in_len[j]);
			blake2s_update(&grand, md, md_len[i]);
			selftest_seq(key, md_len[i], (uint32_t)md_len[i]);
			blake2s(md, md_len[i], key, md_len[i], in, in_len[j]);
			blake2s_update(&grand, md, md_len[i]);
		}
	}
	blake2s_final(&grand, got);
	unhex("6a411f08ce25adcdfb02aba641451cec53c598b24f4fc787fbdc88797f4c1dfe", want, 32);
	check(!memcmp(got, want, 32), "BLAKE2s RFC 7693 Appendix E self-test grand hash");

	/* OpenSSL: unkeyed, every length 0..1100, split at a random point */
	randombytes_buf(big, sizeof(big));
	bad = 0;
	for (size_t len = 0; len <= 1100; len++) {
		struct blake2s_state s;
		size_t cut = len ? randombytes_uniform((uint32_t)len + 1) : 0;

		blake2s_init(&s, 32, NULL, 0);
		blake2s_update(&s, big, cut);
		blake2s_update(&s, big + cut, len - cut);
		blake2s_final(&s, got);
		ref_hash(want, big, len, NULL, 0);
		bad += memcmp(got, want, 32) != 0;
	}
	check(!bad && ossl_ok,
	      "BLAKE2s-256 == OpenSSL BLAKE2S-256, every len 0..1100, split updates "
	      "(%d mismatches)",
	      bad);
	/* keyed: key 1..32 bytes, out 16 and 32 */
	bad = 0;
	for (size_t kl = 1; kl <= 32; kl++) {
		for (size_t len = 0; len <= 200; len += 7) {
			for (size_t ol = 16; ol <= 32; ol += 16) {
				blake2s(got, ol, big + 2000, kl, big, len);
				ref_keyed(want, ol, big + 2000, kl, big, len);
				bad += memcmp(got, want, ol) != 0;
			}
		}
	}
	check(!bad && ossl_ok,
	      "keyed BLAKE2s == OpenSSL BLAKE2SMAC, key 1..32, out 16/32 (%d mismatches)", bad);
	bad = 0;
	for (size_t kl = 0; kl <= 64; kl++) {
		for (size_t len = 0; len <= 300; len += 13) {
			blake2s_hmac(got, big + 3000, kl, big, len, big + 500, len / 3);
			ref_hmac(want, big + 3000, kl, big, len, big + 500, len / 3);
			bad += memcmp(got, want, 32) != 0;
		}
	}
	check(!bad && ossl_ok,
	      "HMAC-BLAKE2s == OpenSSL HMAC(BLAKE2S-256), key 0..64 (%d mismatches)", bad);
	check(blake2s(got, 33, NULL, 0, "", 0) == -EINVAL &&
		  blake2s(got, 0, NULL, 0, "", 0) == -EINVAL &&
		  blake2s(got, 32, big, 33, "", 0) == -EINVAL,
	      "BLAKE2s refuses out 0/33 and a 33-byte key");
}

/* ============================================================ 2. handshake */

struct pair {
	struct wg_identity i, r;
	struct wg_handshake hi, hr;
	struct wg_session_keys ki, kr;
};

/* Run a whole handshake; returns 0 or the first error. */
static int handshake(struct pair *p, const uint8_t *psk_i, const uint8_t *psk_r)
{
	uint8_t m1[WG_INIT_LEN], m2[WG_RESP_LEN], ts[12], peer[32], ts_got[12];
	int err;

	wg_tai64n_now(ts);
	err = wg_init_create(&p->hi, &p->i, p->r.pub, NULL, ts, 0x11223344, NULL, m1);
	if (!err)
		err = wg_init_consume(&p->hr, &p->r, m1, sizeof(m1), peer, ts_got);
	if (!err && (memcmp(peer, p->i.pub, 32) || memcmp(ts, ts_got, 12)))
		err = -EPROTO;
	if (!err)
		err = wg_resp_create(&p->hr, &p->r, psk_r, NULL, 0x55667788, NULL, m2);
	if (!err)
		err = wg_resp_consume(&p->hi, &p->i, psk_i, m2, sizeof(m2));
	if (!err)
		err = wg_derive_keys(&p->hi, &p->ki);
	if (!err)
		err = wg_derive_keys(&p->hr, &p->kr);
	return err;
}

static void test_handshake(void)
{
	uint8_t psk[32], pt[100], msg[200], back[100];
	uint32_t idx;
	uint64_t ctr;

	for (int with_psk = 0; with_psk < 2; with_psk++) {
		struct pair p;
		int err, ok;

		randombytes_buf(psk, 32);
		wg_identity_init(&p.i, NULL);
		wg_identity_init(&p.r, NULL);
		err = handshake(&p, with_psk ? psk : NULL, with_psk ? psk : NULL);
		ok = !err && !memcmp(p.ki.send, p.kr.recv, 32) &&
		     !memcmp(p.ki.recv, p.kr.send, 32) && memcmp(p.ki.send, p.ki.recv, 32) &&
		     p.ki.initiator && !p.kr.initiator && p.ki.local_index == 0x11223344 &&
		     p.ki.remote_index == 0x55667788 && p.kr.local_index == 0x55667788 &&
		     p.kr.remote_index == 0x11223344;
		check(ok, "handshake %s psk: err %d, keys agree crosswise, indices right",
		      with_psk ? "with" : "without", err);
		randombytes_buf(pt, sizeof(pt));
		err = wg_data_seal(p.ki.send, p.ki.remote_index, 7, pt, sizeof(pt), msg);
		err = err ? err : wg_data_open(p.kr.recv, msg, sizeof(pt) + 32, back, &idx, &ctr);
		check(!err && !memcmp(back, pt, sizeof(pt)) && idx == p.kr.local_index && ctr == 7,
		      "data message initiator -> responder (err %d)", err);
		err = wg_data_seal(p.kr.send, p.kr.remote_index, 0, NULL, 0, msg);
		err = err ? err : wg_data_open(p.ki.recv, msg, 32, NULL, &idx, &ctr);
		check(!err && idx == p.ki.local_index && ctr == 0,
		      "keepalive responder -> initiator (err %d)", err);
		msg[20] ^= 1;
		check(wg_data_open(p.ki.recv, msg, 32, NULL, NULL, NULL) == -EBADMSG,
		      "tampered keepalive refused");
		{
			static const struct wg_handshake zero_hs;

			check(!memcmp(&p.hi, &zero_hs, sizeof(zero_hs)) &&
				  !memcmp(&p.hr, &zero_hs, sizeof(zero_hs)),
			      "derive_keys wiped both handshakes (every byte zero)");
		}
	}
	/* a psk on one side only: the response does not open */
	{
		struct pair p;
		int err;

		wg_identity_init(&p.i, NULL);
		wg_identity_init(&p.r, NULL);
		randombytes_buf(psk, 32);
		err = handshake(&p, NULL, psk);
		check(err == -EBADMSG,
		      "psk on the responder only: initiator refuses message 2 (%d)", err);
	}
}

/* ================================================== 3. OpenSSL transcript */

static void test_transcript(void)
{
	uint8_t si[32], sr[32], ei[32], er[32], ts[12], psk[32], ck_i[16], ck_r[16];
	uint8_t m1[WG_INIT_LEN], m2[WG_RESP_LEN], peer[32], ts_got[12];
	struct wg_identity I, R;
	struct wg_handshake hi, hr;
	struct wg_session_keys ki, kr;
	struct ref_transcript ref;

	for (int round = 0; round < 20; round++) {
		int use_psk = round % 2, use_cookie = round % 4 >= 2, err = 0, ok;

		randombytes_buf(si, 32);
		randombytes_buf(sr, 32);
		randombytes_buf(ei, 32);
		randombytes_buf(er, 32);
		randombytes_buf(ck_i, 16);
		randombytes_buf(ck_r, 16);
		if (use_psk)
			randombytes_buf(psk, 32);
		else
			memset(psk, 0, 32);
		wg_tai64n(1700000000 + (uint64_t)round, (uint32_t)round << 24, ts);
		ref_handshake(si, sr, ei, er, ts, 1000 + (uint32_t)round,
			      0xabcdef00u + (uint32_t)round, psk, use_cookie ? ck_i : NULL,
			      use_cookie ? ck_r : NULL, &ref);

		err = wg_identity_init(&I, si);
		err = err ? err : wg_identity_init(&R, sr);
		err = err ? err
			  : wg_init_create(&hi, &I, R.pub, ei, ts, 1000 + (uint32_t)round,
					   use_cookie ? ck_i : NULL, m1);
		err = err ? err : wg_init_consume(&hr, &R, m1, sizeof(m1), peer, ts_got);
		err = err ? err
			  : wg_resp_create(&hr, &R, use_psk ? psk : NULL, er,
					   0xabcdef00u + (uint32_t)round, use_cookie ? ck_r : NULL,
					   m2);
		err = err ? err : wg_resp_consume(&hi, &I, use_psk ? psk : NULL, m2, sizeof(m2));
		err = err ? err : wg_derive_keys(&hi, &ki);
		err = err ? err : wg_derive_keys(&hr, &kr);
		ok = !err && ossl_ok && !memcmp(m1, ref.msg1, sizeof(m1)) &&
		     !memcmp(m2, ref.msg2, sizeof(m2)) && !memcmp(ki.send, ref.i_send, 32) &&
		     !memcmp(ki.recv, ref.i_recv, 32) && !memcmp(kr.send, ref.i_recv, 32) &&
		     !memcmp(kr.recv, ref.i_send, 32);
		if (!check(
			ok,
			"transcript %d (psk %d, cookie %d) == OpenSSL re-computation: message 1, "
			"message 2, T_send, T_recv (err %d)",
			round, use_psk, use_cookie, err)) {
			print_hex("msg1", m1, sizeof(m1));
			print_hex("ref msg1", ref.msg1, sizeof(m1));
			print_hex("msg2", m2, sizeof(m2));
			print_hex("ref msg2", ref.msg2, sizeof(m2));
		}
		if (use_cookie)
			check(!wg_mac2_check(ck_i, m1, sizeof(m1)) &&
				  !wg_mac2_check(ck_r, m2, sizeof(m2)),
			      "transcript %d: mac2 of both messages checks under its cookie",
			      round);
	}
}

/* ============================================================ 4. refusals */

static void test_refusals(void)
{
	uint8_t m1[WG_INIT_LEN], m2[WG_RESP_LEN], bad[WG_INIT_LEN], ts[12], peer[32], tg[12];
	uint8_t zero[32] = {0}, k[32];
	struct wg_identity I, R, X;
	struct wg_handshake hi, hr, hx, saved;
	struct wg_session_keys ki, kr;
	int refused = 0, n = 0, err;

	wg_identity_init(&I, NULL);
	wg_identity_init(&R, NULL);
	wg_identity_init(&X, NULL);
	wg_tai64n_now(ts);
	wg_init_create(&hi, &I, R.pub, NULL, ts, 42, NULL, m1);

	/* every byte of message 1 flipped (mac2 excluded: it is zero and unchecked here) */
	for (size_t i = 0; i < WG_INIT_MAC2; i++) {
		memcpy(bad, m1, sizeof(m1));
		bad[i] ^= 0x01;
		n++;
		refused += wg_init_consume(&hx, &R, bad, sizeof(bad), peer, tg) != 0;
	}
	check(refused == n, "message 1 with any one byte flipped is refused (%d of %d)", refused,
	      n);
	/* a forger who recomputes mac1 (it needs only R's public key) */
	memcpy(bad, m1, sizeof(m1));
	bad[WG_INIT_STATIC + 3] ^= 0x80;
	wg_mac(bad + WG_INIT_MAC1, R.mac1_key, 32, bad, WG_INIT_MAC1);
	check(wg_mac1_check(R.mac1_key, bad, sizeof(bad)) == 0 &&
		  wg_init_consume(&hx, &R, bad, sizeof(bad), peer, tg) == -EBADMSG,
	      "message 1 with a correct mac1 but an altered static key: -EBADMSG (AEAD)");
	memcpy(bad, m1, sizeof(m1));
	bad[WG_INIT_TIMESTAMP + 1] ^= 0x01;
	wg_mac(bad + WG_INIT_MAC1, R.mac1_key, 32, bad, WG_INIT_MAC1);
	check(wg_init_consume(&hx, &R, bad, sizeof(bad), peer, tg) == -EBADMSG,
	      "message 1 with a correct mac1 but an altered timestamp: -EBADMSG (AEAD)");
	check(wg_init_consume(&hx, &X, m1, sizeof(m1), peer, tg) == -EBADMSG,
	      "message 1 sent to R, received by X: -EBADMSG (mac1)");
	check(wg_init_consume(&hx, &R, m1, sizeof(m1) - 1, peer, tg) == -EMSGSIZE,
	      "message 1 one byte short: -EMSGSIZE");
	memcpy(bad, m1, sizeof(m1));
	bad[1] = 1;
	check(wg_init_consume(&hx, &R, bad, sizeof(bad), peer, tg) == -EBADMSG,
	      "message 1 with a nonzero reserved byte: -EBADMSG");
	check(wg_init_create(&hx, &I, zero, NULL, ts, 1, NULL, bad) == -EKEYREJECTED,
	      "initiation to an all-zero (low-order) public key: -EKEYREJECTED");

	err = wg_init_consume(&hr, &R, m1, sizeof(m1), peer, tg);
	err = err ? err : wg_resp_create(&hr, &R, NULL, NULL, 77, NULL, m2);
	check(!err, "the genuine message 1 still works after the refusals (%d)", err);
	check(sodium_is_zero(hr.e_priv, sizeof(hr.e_priv)),
	      "responder's ephemeral private key wiped once message 2 is made");

	/* message 2: every byte flipped, before mac2; the handshake survives */
	memcpy(&saved, &hi, sizeof(hi));
	refused = n = 0;
	for (size_t i = 0; i < WG_RESP_MAC2; i++) {
		memcpy(bad, m2, sizeof(m2));
		bad[i] ^= 0x01;
		n++;
		refused += wg_resp_consume(&hi, &I, NULL, bad, sizeof(m2)) != 0;
	}
	check(refused == n && !memcmp(&saved, &hi, sizeof(hi)),
	      "message 2 with any one byte flipped is refused (%d of %d), handshake unchanged",
	      refused, n);
	memcpy(bad, m2, sizeof(m2));
	bad[WG_RESP_EPHEMERAL] ^= 0x01;
	wg_mac(bad + WG_RESP_MAC1, I.mac1_key, 32, bad, WG_RESP_MAC1);
	check(wg_resp_consume(&hi, &I, NULL, bad, sizeof(m2)) == -EBADMSG,
	      "message 2 with a correct mac1 but another ephemeral: -EBADMSG (AEAD)");
	memcpy(bad, m2, sizeof(m2));
	bad[WG_RESP_RECEIVER] ^= 0x01;
	wg_mac(bad + WG_RESP_MAC1, I.mac1_key, 32, bad, WG_RESP_MAC1);
	check(wg_resp_consume(&hi, &I, NULL, bad, sizeof(m2)) == -ESTALE,
	      "message 2 for another receiver index: -ESTALE");
	randombytes_buf(k, 32);
	check(wg_resp_consume(&hi, &I, k, m2, sizeof(m2)) == -EBADMSG,
	      "message 2 under a psk the responder did not use: -EBADMSG");
	err = wg_resp_consume(&hi, &I, NULL, m2, sizeof(m2));
	err = err ? err : wg_derive_keys(&hi, &ki);
	err = err ? err : wg_derive_keys(&hr, &kr);
	check(!err && !memcmp(ki.send, kr.recv, 32),
	      "the genuine message 2 completes the handshake after the forgeries (%d)", err);
	check(wg_resp_consume(&hi, &I, NULL, m2, sizeof(m2)) == -EINVAL,
	      "message 2 again after the keys were taken: -EINVAL");
}

/* ============================================================= 5. cookies */

static void test_cookies(void)
{
	uint8_t m1[WG_INIT_LEN], reply[WG_COOKIE_REPLY_LEN], ts[12], secret[32], cookie[16];
	uint8_t got[16], key[32], nonce[24], addr[6] = {10, 0, 0, 1, 0xca, 0x6c}, bad[64];
	struct wg_identity I, R;
	struct wg_handshake hi, hi2;
	unsigned long long n;
	int err;

	wg_identity_init(&I, NULL);
	wg_identity_init(&R, NULL);
	wg_tai64n_now(ts);
	wg_init_create(&hi, &I, R.pub, NULL, ts, 0x01020304, NULL, m1);
	randombytes_buf(secret, 32);
	wg_cookie_make(cookie, secret, addr, sizeof(addr));
	ref_keyed(got, 16, secret, 32, addr, sizeof(addr));
	check(!memcmp(got, cookie, 16), "cookie = MAC(secret, addr) == OpenSSL BLAKE2SMAC");
	randombytes_buf(nonce, 24);
	err = wg_cookie_reply_create(&R, m1, sizeof(m1), cookie, nonce, reply);
	check(!err && reply[0] == 3 && !reply[1] && !reply[2] && !reply[3] &&
		  !memcmp(reply + 4, m1 + 4, 4) && !memcmp(reply + 8, nonce, 24),
	      "cookie reply: type 3, receiver = the initiation's sender, nonce (err %d)", err);
	/* independent: key = OpenSSL HASH("cookie--" || R.pub), AD = mac1 of m1 */
	ref_hash(key, "cookie--", 8, R.pub, 32);
	err = crypto_aead_xchacha20poly1305_ietf_decrypt(got, &n, NULL, reply + 32, 32,
							 m1 + WG_INIT_MAC1, 16, reply + 8, key);
	check(!err && n == 16 && !memcmp(got, cookie, 16),
	      "cookie reply opens with an OpenSSL-derived key and the initiation's mac1 as AD");
	memset(got, 0, 16);
	err = wg_cookie_reply_consume(R.pub, hi.last_mac1, reply, sizeof(reply), got);
	check(!err && !memcmp(got, cookie, 16), "initiator opens the cookie reply (err %d)", err);
	memcpy(bad, reply, 64);
	bad[40] ^= 1;
	check(wg_cookie_reply_consume(R.pub, hi.last_mac1, bad, 64, got) == -EBADMSG,
	      "tampered cookie reply refused");
	check(wg_cookie_reply_consume(I.pub, hi.last_mac1, reply, 64, got) == -EBADMSG,
	      "cookie reply under another peer's key refused");
	/* the retry carries mac2 = MAC(cookie, ...) */
	wg_init_create(&hi2, &I, R.pub, NULL, ts, 0x01020305, cookie, m1);
	check(!wg_mac2_check(cookie, m1, sizeof(m1)) && !wg_mac1_check(R.mac1_key, m1, sizeof(m1)),
	      "retry with the cookie: mac1 and mac2 check");
	m1[WG_INIT_MAC2] ^= 1;
	check(wg_mac2_check(cookie, m1, sizeof(m1)) == -EBADMSG, "altered mac2 refused");
	wg_handshake_wipe(&hi);
	wg_handshake_wipe(&hi2);
}

/* ============================================================== 6. TAI64N */

static void test_tai64n(void)
{
	uint8_t a[12], b[12], want[12];

	wg_tai64n(0, 0, a);
	unhex("400000000000000a00000000", want, 12);
	check(!memcmp(a, want, 12), "TAI64N(1970-01-01) = 400000000000000a 00000000");
	wg_tai64n(1700000000, 123456789, a);
	unhex("400000006553f10a 075bcd15", want, 12);
	check(!memcmp(a, want, 12), "TAI64N(1700000000 s, 123456789 ns)");
	wg_tai64n_now(a);
	wg_tai64n(1700000000, 0, b);
	check(memcmp(a, b, 12) > 0 && a[9] == 0 && a[10] == 0 && a[11] == 0,
	      "TAI64N now: later than 2023, nanoseconds a multiple of 2^24");
}

/* ============================================ 7. handshake.c, WireGuard suite */

static uint64_t fixed_real_ns;
static uint64_t fixed_mono_ns = 1000000000ULL;
static uint64_t clk_real(void *arg)
{
	(void)arg;
	return fixed_real_ns;
}
static uint64_t clk_mono(void *arg)
{
	(void)arg;
	return fixed_mono_ns;
}

static uint32_t get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void test_hs_suite(void)
{
	uint8_t m1[WG_INIT_LEN], want[WG_INIT_LEN], m2[WG_RESP_LEN], e[32], ts[12], peer[32];
	uint8_t ts_got[12], psk[32], cookie[16];
	struct hs_addr src = {.family = 4, .addr = {10, 0, 0, 9}, .port = 51820};
	struct wg_identity us, them;
	struct wg_handshake h, h2;
	struct wg_session_keys k;
	struct hs_device *dev = NULL;
	struct hs_result res;
	uint32_t id = 99;
	int err;

	wg_identity_init(&us, NULL);
	wg_identity_init(&them, NULL);
	randombytes_buf(psk, 32);
	err = hs_device_new_suite(&dev, us.priv, &hs_suite_wireguard);
	err = err ?: hs_peer_add(dev, them.pub, &id);
	err = err ?: hs_peer_set_psk(dev, id, psk);
	check(!err && id == 0, "hs device in the WireGuard suite, one peer with a psk (%d)", err);
	if (err)
		return;
	hs_set_clock(dev, clk_mono, clk_real, NULL);
	fixed_real_ns = 1700000000ULL * 1000000000ULL + 123456789;

	/* we initiate: byte for byte wg_init_create's message */
	randombytes_buf(e, 32);
	hs_set_next_ephemeral(dev, e);
	err = hs_create_initiation(dev, id, m1, sizeof(m1));
	wg_tai64n(1700000000ULL, 123456789 & ~((1U << 24) - 1), ts);
	err = err ?: wg_init_create(&h, &us, them.pub, e, ts, get_le32(m1 + 4), NULL, want);
	check(!err && !memcmp(m1, want, sizeof(m1)),
	      "hs (WireGuard suite) message 1 == wg_init_create's for the same e, TAI64N, index "
	      "(%d)",
	      err);
	err = wg_init_consume(&h2, &them, m1, sizeof(m1), peer, ts_got);
	check(!err && !memcmp(peer, us.pub, 32) && !memcmp(ts_got, ts, 12),
	      "the peer (wg_noise) opens it: our static key, TAI64N rounded to 2^24 ns (%d)", err);
	/* a second initiation at the same clock: its TAI64N is the next 2^24 ns */
	{
		uint8_t again[WG_INIT_LEN], ts2[12], nx[12];

		err = hs_create_initiation(dev, id, again, sizeof(again));
		err = err ?: wg_init_consume(&h2, &them, again, sizeof(again), peer, ts2);
		wg_tai64n(1700000000ULL, (123456789 & ~((1U << 24) - 1)) + (1U << 24), nx);
		check(!err && !memcmp(ts2, nx, 12),
		      "a second initiation at the same clock carries the next 2^24 ns (%d)", err);
		memcpy(m1, again, sizeof(m1)); /* it replaced the first as pending */
	}
	err = err ?: wg_resp_create(&h2, &them, psk, NULL, 0xabcdef01, NULL, m2);
	err = err ?: hs_consume_response(dev, m2, sizeof(m2), &src, &res);
	err = err ?: wg_derive_keys(&h2, &k);
	check(!err && res.have_keys && res.keys.initiator && res.keys.remote_index == 0xabcdef01 &&
		  res.keys.local_index == get_le32(m1 + 4) &&
		  !memcmp(res.keys.tx.key, k.recv, 32) && !memcmp(res.keys.rx.key, k.send, 32) &&
		  sodium_is_zero(res.keys.tx.salt, 4),
	      "with psk: its message 2 completes ours; keys agree crosswise, indices, salt zero "
	      "(%d)",
	      err);
	hs_result_wipe(&res);

	/* they initiate */
	fixed_real_ns += 5000000000ULL;
	wg_tai64n_now(ts);
	err = wg_init_create(&h, &them, us.pub, NULL, ts, 0x01010101, NULL, m1);
	err = err ?: hs_consume_initiation(dev, m1, sizeof(m1), &src, &res);
	check(!err && res.have_keys && res.reply_len == WG_RESP_LEN && !res.keys.initiator &&
		  res.keys.remote_index == 0x01010101,
	      "their message 1 is answered with a 92-byte message 2 (%d)", err);
	memcpy(m2, res.reply, sizeof(m2));
	err = err ?: wg_resp_consume(&h, &them, psk, m2, sizeof(m2));
	err = err ?: wg_derive_keys(&h, &k);
	check(!err && !memcmp(res.keys.tx.key, k.recv, 32) &&
		  !memcmp(res.keys.rx.key, k.send, 32) && k.remote_index == res.keys.local_index,
	      "the peer (wg_noise) opens our message 2; keys agree crosswise (%d)", err);
	hs_result_wipe(&res);
	err = hs_consume_initiation(dev, m1, sizeof(m1), &src, &res);
	check(err == -HS_R_REPLAY, "the same initiation again: refused as a replay (%d)", err);
	hs_result_wipe(&res);

	/* under load: a cookie reply that wg_noise opens, then mac2 is required */
	hs_set_under_load(dev, true);
	fixed_mono_ns += 1000000000ULL;
	wg_tai64n(1800000000ULL, 0, ts);
	err = wg_init_create(&h, &them, us.pub, NULL, ts, 0x02020202, NULL, m1);
	err = err ?: hs_consume_initiation(dev, m1, sizeof(m1), &src, &res);
	check(err == -HS_R_NEEDS_COOKIE && res.reply_len == WG_COOKIE_REPLY_LEN &&
		  get_le32(res.reply + 4) == 0x02020202,
	      "under load, mac2 zero: a cookie reply to the initiation's sender index (%d)", err);
	err = wg_cookie_reply_consume(us.pub, h.last_mac1, res.reply, res.reply_len, cookie);
	check(!err, "wg_cookie_reply_consume opens our cookie reply (XChaCha20-Poly1305) (%d)",
	      err);
	hs_result_wipe(&res);
	wg_tai64n(1800000001ULL, 0, ts);
	err = wg_init_create(&h, &them, us.pub, NULL, ts, 0x03030303, cookie, m1);
	err = err ?: hs_consume_initiation(dev, m1, sizeof(m1), &src, &res);
	check(!err && res.have_keys, "under load, mac2 with that cookie: answered (%d)", err);
	hs_result_wipe(&res);
	hs_set_under_load(dev, false);

	/* a psk on our side only */
	hs_device_free(dev);
	dev = NULL;
	err = hs_device_new_suite(&dev, us.priv, &hs_suite_wireguard);
	err = err ?: hs_peer_add(dev, them.pub, &id);
	err = err ?: hs_peer_set_psk(dev, id, psk);
	err = err ?: hs_create_initiation(dev, id, m1, sizeof(m1));
	err = err ?: wg_init_consume(&h2, &them, m1, sizeof(m1), peer, ts_got);
	err = err ?: wg_resp_create(&h2, &them, NULL, NULL, 0x0badcafe, NULL, m2);
	err = err ?: hs_consume_response(dev, m2, sizeof(m2), &src, &res);
	check(err == -HS_R_RESPONSE_AUTH && !res.have_keys,
	      "psk on our side only: their message 2 is refused (response_auth) (%d)", err);
	hs_result_wipe(&res);
	hs_device_free(dev);
	wg_identity_wipe(&us);
	wg_identity_wipe(&them);
}

/* Two ends whose Protocol differs: a WireGuard initiation to a device of the
 * bpftun suite (and the reverse) is "bad mac1" until the other suite is set,
 * then "the other suite's"; a message with a mac1 valid under neither stays
 * "bad mac1". */
static void test_other_suite(void)
{
	uint8_t m1[WG_INIT_LEN], ts[12];
	struct hs_addr src = {.family = 4, .addr = {10, 0, 0, 9}, .port = 51820};
	struct wg_identity us, them;
	struct wg_handshake h;
	struct hs_device *bt = NULL, *wg = NULL, *peer = NULL;
	struct hs_result res;
	uint8_t our_pub[32], msg[HS_INITIATION_LEN];
	uint32_t id;
	int err, e2, e3;

	wg_identity_init(&us, NULL);
	wg_identity_init(&them, NULL);
	err = hs_device_new_suite(&bt, us.priv, &hs_suite_bpftun);
	err = err ?: hs_peer_add(bt, them.pub, &id);
	check(!err, "a device of the bpftun suite with one peer (%d)", err);
	if (err)
		goto out;
	wg_tai64n_now(ts);
	err = wg_init_create(&h, &them, us.pub, NULL, ts, 0x01010101, NULL, m1);
	e2 = err ?: hs_consume_initiation(bt, m1, sizeof(m1), &src, &res);
	hs_result_wipe(&res);
	check(e2 == -HS_R_BAD_MAC1, "WireGuard's initiation to the bpftun suite: bad mac1 (%d)",
	      e2);
	err = hs_set_other_suite(bt, &hs_suite_wireguard);
	e2 = err ?: hs_consume_initiation(bt, m1, sizeof(m1), &src, &res);
	hs_result_wipe(&res);
	check(e2 == -HS_R_OTHER_SUITE,
	      "... with the other suite set: named as the other suite's (%d: %s)", e2,
	      handshake_strerror(e2));
	m1[20] ^= 1; /* its mac1 is now valid under neither suite */
	e3 = hs_consume_initiation(bt, m1, sizeof(m1), &src, &res);
	hs_result_wipe(&res);
	check(e3 == -HS_R_BAD_MAC1, "an altered one: bad mac1 under both, bad mac1 (%d)", e3);
	check(hs_set_other_suite(bt, &hs_suite_bpftun) == -EINVAL,
	      "the device's own suite as the other: -EINVAL");

	/* the reverse: the bpftun suite's initiation to a WireGuard device */
	err = hs_device_new_suite(&wg, us.priv, &hs_suite_wireguard);
	err = err ?: hs_device_new_suite(&peer, them.priv, &hs_suite_bpftun);
	err = err ?: hs_peer_add(peer, us.pub, &id);
	err = err ?: hs_create_initiation(peer, id, msg, sizeof(msg));
	err = err ?: hs_set_other_suite(wg, &hs_suite_bpftun);
	e2 = err ?: hs_consume_initiation(wg, msg, sizeof(msg), &src, &res);
	hs_result_wipe(&res);
	hs_device_public_key(wg, our_pub);
	check(e2 == -HS_R_OTHER_SUITE && !memcmp(our_pub, us.pub, 32),
	      "the bpftun suite's initiation to a WireGuard device: the other suite's (%d)", e2);
out:
	hs_device_free(bt);
	hs_device_free(wg);
	hs_device_free(peer);
	wg_identity_wipe(&us);
	wg_identity_wipe(&them);
}

int main(void)
{
	if (wg_noise_init()) {
		fprintf(stderr, "sodium_init failed\n");
		return 1;
	}
	test_blake2s();
	test_handshake();
	test_transcript();
	test_refusals();
	test_cookies();
	test_tai64n();
	test_hs_suite();
	test_other_suite();
	return check_summary();
}
