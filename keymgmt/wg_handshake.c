// SPDX-License-Identifier: GPL-2.0
/*
 * wg_handshake.c - the WireGuard suite of the handshake layer
 * (hs_suite_wireguard, handshake.h): WireGuard's Noise_IKpsk2 message bodies
 * (wg_noise.c), its keyed-BLAKE2s MACs, its TAI64N. Everything else a
 * handshake needs (indices, pending state, mac1 before DH, cookies and
 * cookie replies under load, rate limits, TAI64N replay protection) is
 * handshake.c's, shared with the bpftun suite: the wire formats are the same.
 *
 * The transport keys go into the datapath as key[] of an SA with
 * BPFTUN_SA_F_WIREGUARD (the salt is unused and zero).
 */
#include <errno.h>
#include <string.h>

#include <sodium.h>

#include "handshake.h"
#include "wg_noise.h"

_Static_assert(WG_INIT_LEN == HS_INITIATION_LEN && WG_RESP_LEN == HS_RESPONSE_LEN &&
		   WG_COOKIE_REPLY_LEN == HS_COOKIE_REPLY_LEN,
	       "WireGuard's messages have the sizes of handshake.h's");
_Static_assert(WG_INIT_MAC1 == offsetof(struct hs_initiation, mac1) &&
		   WG_RESP_MAC1 == offsetof(struct hs_response, mac1) &&
		   WG_INIT_SENDER == offsetof(struct hs_initiation, sender_index) &&
		   WG_RESP_RECEIVER == offsetof(struct hs_response, receiver_index),
	       "WireGuard's offsets are handshake.h's");
_Static_assert(WG_MSG_INITIATION == BPFTUN_MSG_HANDSHAKE_INIT &&
		   WG_MSG_RESPONSE == BPFTUN_MSG_HANDSHAKE_RESP &&
		   WG_MSG_COOKIE == BPFTUN_MSG_COOKIE && WG_MSG_DATA == BPFTUN_MSG_DATA,
	       "message types");
_Static_assert(sizeof(((struct noise_direction *)0)->key) == WG_KEY_LEN, "a ChaCha20 key fits");

static uint32_t le32toh_bytes(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* HASH(label || pub) with BLAKE2s-256: WireGuard's mac1 and cookie keys. */
static int wg_label_key(const char label[8], const uint8_t pub[NOISE_DHLEN], uint8_t out[32])
{
	wg_hash(out, label, 8, pub, NOISE_DHLEN);
	return 0;
}

/* MAC(key, msg): keyed BLAKE2s-128 (key of 16 or 32 bytes). */
static int wg_mac16(const uint8_t *key, size_t key_len, const uint8_t *msg, size_t len,
		    uint8_t out[HS_MAC_LEN])
{
	if (key_len != 16 && key_len != 32)
		return -EINVAL;
	wg_mac(out, key, key_len, msg, len);
	return 0;
}

/* TAI64N as WireGuard sends it: nanoseconds rounded down to 2^24. */
static void wg_tai64n_ns(uint64_t real_ns, uint8_t out[HS_TAI64N_LEN])
{
	wg_tai64n(real_ns / 1000000000ULL, (uint32_t)(real_ns % 1000000000ULL) & ~((1U << 24) - 1),
		  out);
}

/* wg_noise's view of our static key. Its mac1/cookie keys are derived here
 * (two BLAKE2s): wg_noise checks mac1 again, which handshake.c has already
 * done; the cost is one more hash per message that got as far as DH. */
static void identity_of(struct wg_identity *id, const struct noise_keypair *s)
{
	memcpy(id->priv, s->priv, WG_KEY_LEN);
	memcpy(id->pub, s->pub, WG_KEY_LEN);
	wg_hash(id->mac1_key, WG_LABEL_MAC1, 8, id->pub, WG_KEY_LEN);
	wg_hash(id->cookie_key, WG_LABEL_COOKIE, 8, id->pub, WG_KEY_LEN);
}

static int write_init(union hs_noise *st, const struct noise_keypair *s,
		      const uint8_t rs[NOISE_DHLEN], const uint8_t *e,
		      const uint8_t ts[HS_TAI64N_LEN], uint8_t *msg)
{
	struct wg_identity id;
	uint8_t m[WG_INIT_LEN];
	int ret;

	identity_of(&id, s);
	ret = wg_init_create(&st->wg, &id, rs, e, ts, le32toh_bytes(msg + WG_INIT_SENDER), NULL, m);
	if (!ret) /* the body; handshake.c writes the macs */
		memcpy(msg + WG_INIT_EPHEMERAL, m + WG_INIT_EPHEMERAL,
		       WG_INIT_MAC1 - WG_INIT_EPHEMERAL);
	wg_identity_wipe(&id);
	sodium_memzero(m, sizeof(m));
	return ret;
}

static int read_init(union hs_noise *st, const struct noise_keypair *s, const uint8_t *msg,
		     uint8_t rs[NOISE_DHLEN], uint8_t ts[HS_TAI64N_LEN])
{
	struct wg_identity id;
	int ret;

	identity_of(&id, s);
	ret = wg_init_consume(&st->wg, &id, msg, WG_INIT_LEN, rs, ts);
	wg_identity_wipe(&id);
	return ret;
}

/* The session's ChaCha20-Poly1305 keys as the datapath takes them. */
static int keys_of(union hs_noise *st, struct noise_direction *tx, struct noise_direction *rx)
{
	struct wg_session_keys k;
	int ret = wg_derive_keys(&st->wg, &k);

	if (!ret) {
		memset(tx, 0, sizeof(*tx));
		memset(rx, 0, sizeof(*rx));
		memcpy(tx->key, k.send, WG_KEY_LEN);
		memcpy(rx->key, k.recv, WG_KEY_LEN);
	}
	sodium_memzero(&k, sizeof(k));
	return ret;
}

static int write_resp(union hs_noise *st, const struct noise_keypair *s, const uint8_t psk[32],
		      const uint8_t *e, uint8_t *msg, struct noise_direction *tx,
		      struct noise_direction *rx)
{
	struct wg_identity id;
	uint8_t m[WG_RESP_LEN];
	int ret;

	identity_of(&id, s);
	ret = wg_resp_create(&st->wg, &id, psk, e, le32toh_bytes(msg + WG_RESP_SENDER), NULL, m);
	if (!ret) {
		memcpy(msg + WG_RESP_EPHEMERAL, m + WG_RESP_EPHEMERAL,
		       WG_RESP_MAC1 - WG_RESP_EPHEMERAL);
		ret = keys_of(st, tx, rx);
	}
	wg_identity_wipe(&id);
	sodium_memzero(m, sizeof(m));
	return ret;
}

static int read_resp(union hs_noise *st, const struct noise_keypair *s, const uint8_t psk[32],
		     const uint8_t *msg, struct noise_direction *tx, struct noise_direction *rx)
{
	struct wg_identity id;
	int ret;

	identity_of(&id, s);
	ret = wg_resp_consume(&st->wg, &id, psk, msg, WG_RESP_LEN);
	/* -ESTALE (another receiver index) cannot happen: handshake.c found
	 * the pending handshake by that index */
	if (!ret)
		ret = keys_of(st, tx, rx);
	wg_identity_wipe(&id);
	return ret;
}

const struct hs_suite hs_suite_wireguard = {
    .name = "wireguard",
    .label_key = wg_label_key,
    .mac = wg_mac16,
    .tai64n = wg_tai64n_ns,
    /* WireGuard rounds the nanoseconds down to 2^24 (~16.8 ms), the
     * largest power of two below 1 s / 50 initiations */
    .ts_quantum_ns = 1ULL << 24,
    .write_init = write_init,
    .read_init = read_init,
    .write_resp = write_resp,
    .read_resp = read_resp,
};
