// SPDX-License-Identifier: GPL-2.0
/*
 * wg_noise.c - WireGuard's handshake: Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s
 * with WireGuard's messages, macs and cookies. See wg_noise.h; the steps
 * below follow https://www.wireguard.com/protocol/ line by line (Ci/Hi are
 * ck/h here).
 */
#include <errno.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "blake2s.h"
#include "wg_noise.h"

_Static_assert(WG_INIT_MAC2 + WG_MAC_LEN == WG_INIT_LEN, "message 1 layout");
_Static_assert(WG_RESP_MAC2 + WG_MAC_LEN == WG_RESP_LEN, "message 2 layout");
_Static_assert(WG_COOKIE_ENC + WG_COOKIE_LEN + WG_TAG_LEN == WG_COOKIE_REPLY_LEN, "cookie layout");

static void put_le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put_le64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_le64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

int wg_noise_init(void)
{
	return sodium_init() < 0 ? -EIO : 0;
}

/* ------------------------------------------------------------- primitives */

void wg_hash(uint8_t out[WG_HASH_LEN], const void *a, size_t alen, const void *b, size_t blen)
{
	struct blake2s_state s;

	blake2s_init(&s, WG_HASH_LEN, NULL, 0);
	blake2s_update(&s, a, alen);
	blake2s_update(&s, b, blen);
	blake2s_final(&s, out);
}

void wg_mac(uint8_t out[WG_MAC_LEN], const uint8_t *key, size_t keylen, const void *msg, size_t len)
{
	blake2s(out, WG_MAC_LEN, key, keylen, msg, len);
}

void wg_kdf(const uint8_t key[WG_HASH_LEN], const void *in, size_t len, uint8_t out1[32],
	    uint8_t out2[32], uint8_t out3[32])
{
	uint8_t t0[32], t1[32], t2[32], one = 1, two = 2, three = 3;

	blake2s_hmac(t0, key, WG_HASH_LEN, in, len, NULL, 0);
	blake2s_hmac(t1, t0, 32, &one, 1, NULL, 0);
	if (out2 || out3)
		blake2s_hmac(t2, t0, 32, t1, 32, &two, 1);
	if (out3)
		blake2s_hmac(out3, t0, 32, t2, 32, &three, 1);
	if (out2)
		memcpy(out2, t2, 32);
	memcpy(out1, t1, 32);
	sodium_memzero(t0, sizeof(t0));
	sodium_memzero(t1, sizeof(t1));
	sodium_memzero(t2, sizeof(t2));
}

void wg_tai64n(uint64_t unix_sec, uint32_t nsec, uint8_t out[WG_TAI64N_LEN])
{
	uint64_t s = 0x400000000000000aULL + unix_sec;

	for (int i = 0; i < 8; i++)
		out[i] = (uint8_t)(s >> (56 - 8 * i));
	for (int i = 0; i < 4; i++)
		out[8 + i] = (uint8_t)(nsec >> (24 - 8 * i));
}

int wg_tai64n_now(uint8_t out[WG_TAI64N_LEN])
{
	struct timespec ts;

	if (clock_gettime(CLOCK_REALTIME, &ts))
		return -errno;
	/* WireGuard: round down to 2^24 ns, the largest power of two below
	 * 1 s / 50 initiations per second */
	wg_tai64n((uint64_t)ts.tv_sec, (uint32_t)ts.tv_nsec & ~((1U << 24) - 1), out);
	return 0;
}

static int dh(uint8_t out[32], const uint8_t priv[32], const uint8_t pub[32])
{
	/* libsodium refuses an all-zero result (low-order point) */
	if (crypto_scalarmult_curve25519(out, priv, pub)) {
		sodium_memzero(out, 32);
		return -EKEYREJECTED;
	}
	return 0;
}

static void aead_nonce(uint8_t n[12], uint64_t counter)
{
	memset(n, 0, 4);
	put_le64(n + 4, counter);
}

static int aead_seal(const uint8_t key[32], uint64_t counter, const uint8_t *pt, size_t len,
		     const uint8_t *ad, size_t ad_len, uint8_t *out)
{
	uint8_t n[12];

	aead_nonce(n, counter);
	return crypto_aead_chacha20poly1305_ietf_encrypt(out, NULL, pt, len, ad, ad_len, NULL, n,
							 key)
		   ? -EIO
		   : 0;
}

/* ct of len bytes (tag included) into pt (len - 16). */
static int aead_open(const uint8_t key[32], uint64_t counter, const uint8_t *ct, size_t len,
		     const uint8_t *ad, size_t ad_len, uint8_t *pt)
{
	uint8_t n[12];

	aead_nonce(n, counter);
	return crypto_aead_chacha20poly1305_ietf_decrypt(pt, NULL, NULL, ct, len, ad, ad_len, n,
							 key)
		   ? -EBADMSG
		   : 0;
}

/* h = HASH(h || data) */
static void mix_hash(uint8_t h[32], const void *data, size_t len)
{
	wg_hash(h, h, 32, data, len);
}

/* Ci = HASH(CONSTRUCTION), Hi = HASH(Ci || IDENTIFIER), Hi = HASH(Hi || Spub_r). */
static void handshake_start(uint8_t ck[32], uint8_t h[32], const uint8_t responder_pub[32])
{
	wg_hash(ck, WG_CONSTRUCTION, strlen(WG_CONSTRUCTION), NULL, 0);
	wg_hash(h, ck, 32, WG_IDENTIFIER, strlen(WG_IDENTIFIER));
	mix_hash(h, responder_pub, 32);
}

int wg_identity_init(struct wg_identity *id, const uint8_t priv[WG_KEY_LEN])
{
	if (!id)
		return -EINVAL;
	if (priv)
		memcpy(id->priv, priv, 32);
	else
		randombytes_buf(id->priv, 32);
	if (crypto_scalarmult_curve25519_base(id->pub, id->priv)) {
		wg_identity_wipe(id);
		return -EKEYREJECTED;
	}
	wg_hash(id->mac1_key, WG_LABEL_MAC1, 8, id->pub, 32);
	wg_hash(id->cookie_key, WG_LABEL_COOKIE, 8, id->pub, 32);
	return 0;
}

void wg_identity_wipe(struct wg_identity *id)
{
	if (id)
		sodium_memzero(id, sizeof(*id));
}

void wg_handshake_wipe(struct wg_handshake *hs)
{
	if (hs)
		sodium_memzero(hs, sizeof(*hs));
}

static int ephemeral(struct wg_handshake *hs, const uint8_t e_priv[32])
{
	if (e_priv)
		memcpy(hs->e_priv, e_priv, 32);
	else
		randombytes_buf(hs->e_priv, 32);
	return crypto_scalarmult_curve25519_base(hs->e_pub, hs->e_priv) ? -EKEYREJECTED : 0;
}

/* mac1 = MAC(HASH(LABEL_MAC1 || receiver_pub), msg[0:mac1]);
 * mac2 = cookie ? MAC(cookie, msg[0:mac2]) : 0. */
static void write_macs(uint8_t *msg, size_t mac1_off, const uint8_t receiver_pub[32],
		       const uint8_t *cookie)
{
	uint8_t k[32];

	wg_hash(k, WG_LABEL_MAC1, 8, receiver_pub, 32);
	wg_mac(msg + mac1_off, k, 32, msg, mac1_off);
	if (cookie)
		wg_mac(msg + mac1_off + WG_MAC_LEN, cookie, WG_COOKIE_LEN, msg,
		       mac1_off + WG_MAC_LEN);
	else
		memset(msg + mac1_off + WG_MAC_LEN, 0, WG_MAC_LEN);
	sodium_memzero(k, sizeof(k));
}

/* ------------------------------------------------------------- message 1 */

int wg_init_create(struct wg_handshake *hs, const struct wg_identity *me,
		   const uint8_t peer_pub[WG_KEY_LEN], const uint8_t e_priv[WG_KEY_LEN],
		   const uint8_t ts[WG_TAI64N_LEN], uint32_t sender_index,
		   const uint8_t cookie[WG_COOKIE_LEN], uint8_t msg[WG_INIT_LEN])
{
	uint8_t k[32], dhr[32];
	int err;

	if (!hs || !me || !peer_pub || !ts || !msg)
		return -EINVAL;
	wg_handshake_wipe(hs);
	err = ephemeral(hs, e_priv);
	if (err)
		goto out;
	handshake_start(hs->ck, hs->h, peer_pub);

	memset(msg, 0, WG_INIT_LEN);
	msg[0] = WG_MSG_INITIATION;
	put_le32(msg + WG_INIT_SENDER, sender_index);
	/* msg.unencrypted_ephemeral = Epub_i; Hi = HASH(Hi || e); Ci = KDF1(Ci, e) */
	memcpy(msg + WG_INIT_EPHEMERAL, hs->e_pub, 32);
	mix_hash(hs->h, hs->e_pub, 32);
	wg_kdf(hs->ck, hs->e_pub, 32, hs->ck, NULL, NULL);
	/* (Ci, k) = KDF2(Ci, DH(Epriv_i, Spub_r)); static = AEAD(k, 0, Spub_i, Hi) */
	err = dh(dhr, hs->e_priv, peer_pub);
	if (err)
		goto out;
	wg_kdf(hs->ck, dhr, 32, hs->ck, k, NULL);
	err = aead_seal(k, 0, me->pub, 32, hs->h, 32, msg + WG_INIT_STATIC);
	if (err)
		goto out;
	mix_hash(hs->h, msg + WG_INIT_STATIC, 32 + WG_TAG_LEN);
	/* (Ci, k) = KDF2(Ci, DH(Spriv_i, Spub_r)); timestamp = AEAD(k, 0, TAI64N, Hi) */
	err = dh(dhr, me->priv, peer_pub);
	if (err)
		goto out;
	wg_kdf(hs->ck, dhr, 32, hs->ck, k, NULL);
	err = aead_seal(k, 0, ts, WG_TAI64N_LEN, hs->h, 32, msg + WG_INIT_TIMESTAMP);
	if (err)
		goto out;
	mix_hash(hs->h, msg + WG_INIT_TIMESTAMP, WG_TAI64N_LEN + WG_TAG_LEN);

	write_macs(msg, WG_INIT_MAC1, peer_pub, cookie);
	memcpy(hs->last_mac1, msg + WG_INIT_MAC1, WG_MAC_LEN);
	memcpy(hs->remote_static, peer_pub, 32);
	hs->local_index = sender_index;
	hs->state = WG_HS_INIT_CREATED;
out:
	sodium_memzero(k, sizeof(k));
	sodium_memzero(dhr, sizeof(dhr));
	if (err) {
		wg_handshake_wipe(hs);
		sodium_memzero(msg, WG_INIT_LEN);
	}
	return err;
}

static int check_header(const uint8_t *msg, size_t len, uint8_t type, size_t want_len)
{
	if (!msg)
		return -EINVAL;
	if (len != want_len)
		return -EMSGSIZE;
	if (msg[0] != type || msg[1] || msg[2] || msg[3])
		return -EBADMSG;
	return 0;
}

int wg_init_consume(struct wg_handshake *hs, const struct wg_identity *me, const uint8_t *msg,
		    size_t len, uint8_t peer_pub[WG_KEY_LEN], uint8_t ts[WG_TAI64N_LEN])
{
	struct wg_handshake t;
	uint8_t k[32], dhr[32], spub[32], stamp[WG_TAI64N_LEN];
	int err;

	if (!hs || !me || !peer_pub || !ts)
		return -EINVAL;
	err = check_header(msg, len, WG_MSG_INITIATION, WG_INIT_LEN);
	if (err)
		return err;
	err = wg_mac1_check(me->mac1_key, msg, len);
	if (err)
		return err;

	memset(&t, 0, sizeof(t));
	handshake_start(t.ck, t.h, me->pub);
	memcpy(t.remote_e, msg + WG_INIT_EPHEMERAL, 32);
	mix_hash(t.h, t.remote_e, 32);
	wg_kdf(t.ck, t.remote_e, 32, t.ck, NULL, NULL);
	/* (Cr, k) = KDF2(Cr, DH(Spriv_r, Epub_i)) */
	err = dh(dhr, me->priv, t.remote_e);
	if (err)
		goto out;
	wg_kdf(t.ck, dhr, 32, t.ck, k, NULL);
	err = aead_open(k, 0, msg + WG_INIT_STATIC, 32 + WG_TAG_LEN, t.h, 32, spub);
	if (err)
		goto out;
	mix_hash(t.h, msg + WG_INIT_STATIC, 32 + WG_TAG_LEN);
	/* (Cr, k) = KDF2(Cr, DH(Spriv_r, Spub_i)) */
	err = dh(dhr, me->priv, spub);
	if (err)
		goto out;
	wg_kdf(t.ck, dhr, 32, t.ck, k, NULL);
	err = aead_open(k, 0, msg + WG_INIT_TIMESTAMP, WG_TAI64N_LEN + WG_TAG_LEN, t.h, 32, stamp);
	if (err)
		goto out;
	mix_hash(t.h, msg + WG_INIT_TIMESTAMP, WG_TAI64N_LEN + WG_TAG_LEN);

	memcpy(t.remote_static, spub, 32);
	memcpy(t.last_mac1, msg + WG_INIT_MAC1, WG_MAC_LEN);
	t.remote_index = get_le32(msg + WG_INIT_SENDER);
	t.state = WG_HS_INIT_CONSUMED;
	memcpy(hs, &t, sizeof(t));
	memcpy(peer_pub, spub, 32);
	memcpy(ts, stamp, WG_TAI64N_LEN);
out:
	sodium_memzero(&t, sizeof(t));
	sodium_memzero(k, sizeof(k));
	sodium_memzero(dhr, sizeof(dhr));
	sodium_memzero(stamp, sizeof(stamp));
	return err;
}

/* ------------------------------------------------------------- message 2 */

/* The part of message 2 both sides compute alike, from Er onwards:
 * Cr = KDF1(Cr, Epub_r); Hr = HASH(Hr || Epub_r); two DH mixes (given);
 * (Cr, tau, k) = KDF3(Cr, Q); Hr = HASH(Hr || tau). Leaves k. */
static void resp_mix(uint8_t ck[32], uint8_t h[32], const uint8_t e_r_pub[32],
		     const uint8_t dh_ee[32], const uint8_t dh_se[32], const uint8_t *psk,
		     uint8_t k[32])
{
	static const uint8_t zero_psk[32];
	uint8_t tau[32];

	wg_kdf(ck, e_r_pub, 32, ck, NULL, NULL);
	mix_hash(h, e_r_pub, 32);
	wg_kdf(ck, dh_ee, 32, ck, NULL, NULL);
	wg_kdf(ck, dh_se, 32, ck, NULL, NULL);
	wg_kdf(ck, psk ? psk : zero_psk, 32, ck, tau, k);
	mix_hash(h, tau, 32);
	sodium_memzero(tau, sizeof(tau));
}

int wg_resp_create(struct wg_handshake *hs, const struct wg_identity *me,
		   const uint8_t psk[WG_KEY_LEN], const uint8_t e_priv[WG_KEY_LEN],
		   uint32_t sender_index, const uint8_t cookie[WG_COOKIE_LEN],
		   uint8_t msg[WG_RESP_LEN])
{
	uint8_t k[32], dh_ee[32], dh_se[32];
	int err;

	if (!hs || !me || !msg || hs->state != WG_HS_INIT_CONSUMED)
		return -EINVAL;
	err = ephemeral(hs, e_priv);
	if (err)
		goto out;
	memset(msg, 0, WG_RESP_LEN);
	msg[0] = WG_MSG_RESPONSE;
	put_le32(msg + WG_RESP_SENDER, sender_index);
	put_le32(msg + WG_RESP_RECEIVER, hs->remote_index);
	memcpy(msg + WG_RESP_EPHEMERAL, hs->e_pub, 32);
	/* DH(Epriv_r, Epub_i), DH(Epriv_r, Spub_i) */
	err = dh(dh_ee, hs->e_priv, hs->remote_e);
	if (!err)
		err = dh(dh_se, hs->e_priv, hs->remote_static);
	if (err)
		goto out;
	resp_mix(hs->ck, hs->h, hs->e_pub, dh_ee, dh_se, psk, k);
	/* msg.encrypted_nothing = AEAD(k, 0, e, Hr); Hr = HASH(Hr || it) */
	err = aead_seal(k, 0, NULL, 0, hs->h, 32, msg + WG_RESP_EMPTY);
	if (err)
		goto out;
	mix_hash(hs->h, msg + WG_RESP_EMPTY, WG_TAG_LEN);
	write_macs(msg, WG_RESP_MAC1, hs->remote_static, cookie);
	memcpy(hs->last_mac1, msg + WG_RESP_MAC1, WG_MAC_LEN);
	hs->local_index = sender_index;
	hs->state = WG_HS_RESP_CREATED;
	/* only ck is needed from here on (wg_derive_keys) */
	sodium_memzero(hs->e_priv, sizeof(hs->e_priv));
out:
	sodium_memzero(k, sizeof(k));
	sodium_memzero(dh_ee, sizeof(dh_ee));
	sodium_memzero(dh_se, sizeof(dh_se));
	if (err) {
		wg_handshake_wipe(hs);
		sodium_memzero(msg, WG_RESP_LEN);
	}
	return err;
}

int wg_resp_consume(struct wg_handshake *hs, const struct wg_identity *me,
		    const uint8_t psk[WG_KEY_LEN], const uint8_t *msg, size_t len)
{
	struct wg_handshake t;
	uint8_t k[32], dh_ee[32], dh_se[32], e_r[32];
	int err;

	if (!hs || !me || hs->state != WG_HS_INIT_CREATED)
		return -EINVAL;
	err = check_header(msg, len, WG_MSG_RESPONSE, WG_RESP_LEN);
	if (err)
		return err;
	err = wg_mac1_check(me->mac1_key, msg, len);
	if (err)
		return err;
	if (get_le32(msg + WG_RESP_RECEIVER) != hs->local_index)
		return -ESTALE;

	memcpy(&t, hs, sizeof(t));
	memcpy(e_r, msg + WG_RESP_EPHEMERAL, 32);
	/* DH(Epriv_i, Epub_r), DH(Spriv_i, Epub_r) */
	err = dh(dh_ee, t.e_priv, e_r);
	if (!err)
		err = dh(dh_se, me->priv, e_r);
	if (err)
		goto out;
	resp_mix(t.ck, t.h, e_r, dh_ee, dh_se, psk, k);
	err = aead_open(k, 0, msg + WG_RESP_EMPTY, WG_TAG_LEN, t.h, 32, NULL);
	if (err)
		goto out;
	mix_hash(t.h, msg + WG_RESP_EMPTY, WG_TAG_LEN);
	memcpy(t.remote_e, e_r, 32);
	t.remote_index = get_le32(msg + WG_RESP_SENDER);
	t.state = WG_HS_RESP_CONSUMED;
	sodium_memzero(t.e_priv, sizeof(t.e_priv));
	memcpy(hs, &t, sizeof(t));
out:
	sodium_memzero(&t, sizeof(t));
	sodium_memzero(k, sizeof(k));
	sodium_memzero(dh_ee, sizeof(dh_ee));
	sodium_memzero(dh_se, sizeof(dh_se));
	return err;
}

int wg_derive_keys(struct wg_handshake *hs, struct wg_session_keys *keys)
{
	uint8_t t1[32], t2[32];
	bool initiator;

	if (!hs || !keys)
		return -EINVAL;
	if (hs->state != WG_HS_RESP_CREATED && hs->state != WG_HS_RESP_CONSUMED)
		return -EINVAL;
	initiator = hs->state == WG_HS_RESP_CONSUMED;
	/* (T_send_i = T_recv_r, T_recv_i = T_send_r) = KDF2(Ci, e) */
	wg_kdf(hs->ck, NULL, 0, t1, t2, NULL);
	memcpy(keys->send, initiator ? t1 : t2, 32);
	memcpy(keys->recv, initiator ? t2 : t1, 32);
	keys->local_index = hs->local_index;
	keys->remote_index = hs->remote_index;
	keys->initiator = initiator;
	sodium_memzero(t1, sizeof(t1));
	sodium_memzero(t2, sizeof(t2));
	wg_handshake_wipe(hs);
	return 0;
}

/* --------------------------------------------------------- mac1, mac2, cookies */

static int mac_offsets(const uint8_t *msg, size_t len, size_t *mac1)
{
	if (!msg)
		return -EINVAL;
	if (len == WG_INIT_LEN && msg[0] == WG_MSG_INITIATION)
		*mac1 = WG_INIT_MAC1;
	else if (len == WG_RESP_LEN && msg[0] == WG_MSG_RESPONSE)
		*mac1 = WG_RESP_MAC1;
	else
		return -EMSGSIZE;
	return 0;
}

int wg_mac1_check(const uint8_t mac1_key[WG_HASH_LEN], const uint8_t *msg, size_t len)
{
	uint8_t want[WG_MAC_LEN];
	size_t off;
	int err = mac_offsets(msg, len, &off);

	if (err || !mac1_key)
		return err ? err : -EINVAL;
	wg_mac(want, mac1_key, 32, msg, off);
	return sodium_memcmp(want, msg + off, WG_MAC_LEN) ? -EBADMSG : 0;
}

int wg_mac2_check(const uint8_t cookie[WG_COOKIE_LEN], const uint8_t *msg, size_t len)
{
	uint8_t want[WG_MAC_LEN];
	size_t off;
	int err = mac_offsets(msg, len, &off);

	if (err || !cookie)
		return err ? err : -EINVAL;
	wg_mac(want, cookie, WG_COOKIE_LEN, msg, off + WG_MAC_LEN);
	return sodium_memcmp(want, msg + off + WG_MAC_LEN, WG_MAC_LEN) ? -EBADMSG : 0;
}

void wg_cookie_make(uint8_t cookie[WG_COOKIE_LEN], const uint8_t secret[32], const void *addr,
		    size_t addr_len)
{
	wg_mac(cookie, secret, 32, addr, addr_len);
}

int wg_cookie_reply_create(const struct wg_identity *me, const uint8_t *trigger, size_t len,
			   const uint8_t cookie[WG_COOKIE_LEN], const uint8_t nonce[WG_XNONCE_LEN],
			   uint8_t out[WG_COOKIE_REPLY_LEN])
{
	size_t off;
	int err;

	if (!me || !cookie || !out)
		return -EINVAL;
	err = mac_offsets(trigger, len, &off);
	if (err)
		return err;
	memset(out, 0, WG_COOKIE_REPLY_LEN);
	out[0] = WG_MSG_COOKIE;
	/* receiver = the trigger's sender index (offset 4 in messages 1 and 2) */
	memcpy(out + WG_COOKIE_RECEIVER, trigger + 4, 4);
	if (nonce)
		memcpy(out + WG_COOKIE_NONCE, nonce, WG_XNONCE_LEN);
	else
		randombytes_buf(out + WG_COOKIE_NONCE, WG_XNONCE_LEN);
	if (crypto_aead_xchacha20poly1305_ietf_encrypt(out + WG_COOKIE_ENC, NULL, cookie,
						       WG_COOKIE_LEN, trigger + off, WG_MAC_LEN,
						       NULL, out + WG_COOKIE_NONCE, me->cookie_key))
		return -EIO;
	return 0;
}

int wg_cookie_reply_consume(const uint8_t peer_pub[WG_KEY_LEN], const uint8_t last_mac1[WG_MAC_LEN],
			    const uint8_t *msg, size_t len, uint8_t cookie[WG_COOKIE_LEN])
{
	uint8_t key[32];
	int err;

	if (!peer_pub || !last_mac1 || !cookie)
		return -EINVAL;
	err = check_header(msg, len, WG_MSG_COOKIE, WG_COOKIE_REPLY_LEN);
	if (err)
		return err;
	wg_hash(key, WG_LABEL_COOKIE, 8, peer_pub, 32);
	err = crypto_aead_xchacha20poly1305_ietf_decrypt(cookie, NULL, NULL, msg + WG_COOKIE_ENC,
							 WG_COOKIE_LEN + WG_TAG_LEN, last_mac1,
							 WG_MAC_LEN, msg + WG_COOKIE_NONCE, key)
		  ? -EBADMSG
		  : 0;
	sodium_memzero(key, sizeof(key));
	return err;
}

/* ------------------------------------------------------------ data messages */

int wg_data_seal(const uint8_t key[WG_KEY_LEN], uint32_t receiver_index, uint64_t counter,
		 const uint8_t *pt, size_t len, uint8_t *out)
{
	if (!key || !out || (len && !pt))
		return -EINVAL;
	memset(out, 0, WG_DATA_HDR_LEN);
	out[0] = WG_MSG_DATA;
	put_le32(out + 4, receiver_index);
	put_le64(out + 8, counter);
	return aead_seal(key, counter, pt, len, NULL, 0, out + WG_DATA_HDR_LEN);
}

int wg_data_open(const uint8_t key[WG_KEY_LEN], const uint8_t *msg, size_t len, uint8_t *pt,
		 uint32_t *receiver_index, uint64_t *counter)
{
	uint64_t c;

	if (!key || !msg || (len > WG_DATA_MIN_LEN && !pt))
		return -EINVAL;
	if (len < WG_DATA_MIN_LEN)
		return -EMSGSIZE;
	if (msg[0] != WG_MSG_DATA || msg[1] || msg[2] || msg[3])
		return -EBADMSG;
	c = get_le64(msg + 8);
	if (aead_open(key, c, msg + WG_DATA_HDR_LEN, len - WG_DATA_HDR_LEN, NULL, 0, pt))
		return -EBADMSG;
	if (receiver_index)
		*receiver_index = get_le32(msg + 4);
	if (counter)
		*counter = c;
	return 0;
}
