// SPDX-License-Identifier: GPL-2.0
/*
 * handshake.c - bpftun's handshake messages (initiation, response, cookie
 * reply) on top of Noise IKpsk2; see handshake.h for the wire format and the order
 * of checks.
 *
 * Owns the device state: the static keypair, the peer table (fixed size, filled
 * only by the operator), the cookie secret, the rate limiter (fixed-size,
 * set-associative, LRU) and the statistics. Nothing is allocated per message:
 * untrusted input can only evict rate-limiter entries. Every message is parsed
 * from a byte buffer with explicit little-endian decoding. Secrets are wiped
 * with sodium_memzero on every path and never logged.
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "handshake.h"

#define NSEC_PER_SEC	1000000000ULL
#define NSEC_PER_MSEC	1000000ULL
#define RL_KEY_LEN	17 /* family || address (IPv6: its /64, the rest zero) */
#define MAX_INDEX_TRIES 64

#define INIT_OFF(f)   offsetof(struct hs_initiation, f)
#define RESP_OFF(f)   offsetof(struct hs_response, f)
#define COOKIE_OFF(f) offsetof(struct hs_cookie_reply, f)

_Static_assert(crypto_aead_xchacha20poly1305_ietf_NPUBBYTES == HS_COOKIE_NONCE_LEN, "nonce");
_Static_assert(crypto_aead_xchacha20poly1305_ietf_ABYTES == NOISE_TAGLEN, "tag");
_Static_assert(crypto_aead_xchacha20poly1305_ietf_KEYBYTES == 32, "cookie key");
_Static_assert((HS_RL_SETS & (HS_RL_SETS - 1)) == 0, "HS_RL_SETS is a power of two");

struct hs_peer {
	bool used;
	uint8_t pub[NOISE_DHLEN];
	uint8_t mac1_key[32];	/* mac1 of messages we send to this peer */
	uint8_t cookie_key[32]; /* decrypts this peer's cookie replies */
	/* Pre-shared key (PresharedKey), all zero when none. */
	uint8_t psk[NOISE_PSKLEN];
	/* Responder: greatest TAI64N accepted from this peer. */
	uint8_t last_ts[HS_TAI64N_LEN];
	bool have_ts;
	/* Initiator: wall-clock ns of our last initiation (kept increasing). */
	uint64_t last_sent_real_ns;
	/* Initiator: the pending handshake, after message 1. */
	bool pending;
	uint32_t pending_index;
	uint64_t pending_at;
	union hs_noise hs;
	/* A cookie this peer gave us, for mac2 of what we send it. */
	uint8_t cookie[HS_MAC_LEN];
	uint64_t cookie_at;
	bool have_cookie;
	/* mac1 of our last message to this peer: the AD of its cookie reply. */
	uint8_t sent_mac1[HS_MAC_LEN];
	uint32_t sent_mac1_index;
	bool sent_mac1_valid;
	/* Our indices of the last completed handshakes (kept unique). */
	uint32_t recent_index[BPFTUN_SLOTS];
	unsigned int recent_pos;
};

struct hs_rl_entry {
	uint8_t key[RL_KEY_LEN];
	bool used;
	uint64_t tokens_ns; /* credit in ns; a message costs rl_cost_ns */
	uint64_t last_ns;
	uint64_t cookie_ns; /* when this source was last sent a cookie reply (0: never) */
};

struct hs_device {
	const struct hs_suite *suite;
	struct noise_keypair s;
	uint8_t mac1_key[32];	      /* checks mac1 of messages sent to us */
	uint8_t cookie_key[32];	      /* encrypts our cookie replies */
	const struct hs_suite *other; /* hs_set_other_suite(), or NULL */
	uint8_t other_mac1_key[32];   /* mac1 of messages sent to us under it */
	uint8_t secret[32];	      /* cookie secret */
	uint64_t secret_at;
	bool have_secret;
	struct hs_peer peers[HS_MAX_PEERS];

	struct hs_rl_entry rl[HS_RL_SETS][HS_RL_WAYS];
	uint8_t rl_hash_key[crypto_shorthash_KEYBYTES];
	uint64_t rl_cost_ns;
	uint64_t rl_max_ns;
	uint64_t load_hold_ns;
	uint64_t load_until_ns;
	bool load_flag;
	/* Global bucket: messages that go on to DH without proof of address
	 * (mac2), from all sources together; empty means under load. */
	uint64_t gl_tokens_ns;
	uint64_t gl_last_ns;
	uint64_t gl_cost_ns;
	uint64_t gl_max_ns;

	hs_clock_fn mono_ns;
	hs_clock_fn real_ns;
	void *clock_arg;

	uint8_t next_e[NOISE_DHLEN];
	bool has_next_e;

	struct hs_stats stats;
};

/* ------------------------------------------------------------------ helpers */

static void put_le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t default_mono_ns(void *arg)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
}

static uint64_t default_real_ns(void *arg)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
}

static uint64_t now_mono(struct hs_device *dev)
{
	return dev->mono_ns(dev->clock_arg);
}

void hs_tai64n(uint64_t real_ns, uint8_t out[HS_TAI64N_LEN])
{
	uint64_t sec = (1ULL << 62) + real_ns / NSEC_PER_SEC;
	uint32_t nsec = (uint32_t)(real_ns % NSEC_PER_SEC);

	for (int i = 0; i < 8; i++)
		out[i] = (uint8_t)(sec >> (56 - 8 * i));
	for (int i = 0; i < 4; i++)
		out[8 + i] = (uint8_t)(nsec >> (24 - 8 * i));
}

void hs_addr_v4(struct hs_addr *a, const uint8_t ip[4], uint16_t port)
{
	memset(a, 0, sizeof(*a));
	a->family = 4;
	memcpy(a->addr, ip, 4);
	a->port = port;
}

void hs_addr_v6(struct hs_addr *a, const uint8_t ip[16], uint16_t port)
{
	memset(a, 0, sizeof(*a));
	a->family = 6;
	memcpy(a->addr, ip, 16);
	a->port = port;
}

static bool addr_valid(const struct hs_addr *a)
{
	return a && (a->family == 4 || a->family == 6);
}

/* BLAKE2b-256(label || pub): the mac1 and cookie-reply keys. */
static int derive_key(const char label[8], const uint8_t pub[NOISE_DHLEN], uint8_t out[32])
{
	uint8_t in[8 + NOISE_DHLEN];

	memcpy(in, label, 8);
	memcpy(in + 8, pub, NOISE_DHLEN);
	return crypto_generichash(out, 32, in, sizeof(in), NULL, 0) ? -EIO : 0;
}

/* BLAKE2b-128 keyed MAC of msg[0..len). */
static int mac16(const uint8_t *key, size_t key_len, const uint8_t *msg, size_t len,
		 uint8_t out[HS_MAC_LEN])
{
	return crypto_generichash(out, HS_MAC_LEN, msg, len, key, key_len) ? -EIO : 0;
}

static int mac_len_ok(size_t len)
{
	return len == HS_INITIATION_LEN || len == HS_RESPONSE_LEN;
}

int hs_seal_mac1(const uint8_t receiver_pub[NOISE_DHLEN], uint8_t *msg, size_t len)
{
	uint8_t key[32];
	int ret;

	if (!receiver_pub || !msg || !mac_len_ok(len))
		return -EINVAL;
	ret = derive_key("mac1----", receiver_pub, key);
	if (!ret)
		ret =
		    mac16(key, sizeof(key), msg, len - 2 * HS_MAC_LEN, msg + len - 2 * HS_MAC_LEN);
	sodium_memzero(key, sizeof(key));
	return ret;
}

int hs_seal_mac2(const uint8_t *cookie, uint8_t *msg, size_t len)
{
	if (!msg || !mac_len_ok(len))
		return -EINVAL;
	if (!cookie) {
		memset(msg + len - HS_MAC_LEN, 0, HS_MAC_LEN);
		return 0;
	}
	return mac16(cookie, HS_MAC_LEN, msg, len - HS_MAC_LEN, msg + len - HS_MAC_LEN);
}

const char *handshake_strerror(int reason)
{
#define HS_REASON_NAME(n, s) [HS_R_##n - HS_REASON_BASE] = s,
	static const char *const names[HS_R_COUNT] = {HS_REASONS(HS_REASON_NAME)};
#undef HS_REASON_NAME
	if (reason < 0)
		reason = -reason;
	if (reason == 0)
		return "ok";
	if (reason >= HS_REASON_BASE && reason < HS_R_END)
		return names[reason - HS_REASON_BASE];
	switch (reason) {
	case EINVAL:
		return "invalid argument";
	case ENOENT:
		return "no such peer";
	case EEXIST:
		return "peer already known";
	case ENOSPC:
		return "table full";
	case ENOMEM:
		return "out of memory";
	case EMSGSIZE:
		return "buffer too small";
	case EIO:
		return "crypto library failure";
	default:
		return "unknown error";
	}
}

static int reject(struct hs_device *dev, enum hs_reason r)
{
	dev->stats.rejected[r - HS_REASON_BASE]++;
	return -(int)r;
}

void hs_result_wipe(struct hs_result *res)
{
	if (res)
		sodium_memzero(res, sizeof(*res));
}

/* ------------------------------------------------------------------ device */

int hs_device_new(struct hs_device **out, const uint8_t static_priv[NOISE_DHLEN])
{
	return hs_device_new_suite(out, static_priv, &hs_suite_bpftun);
}

int hs_device_new_suite(struct hs_device **out, const uint8_t static_priv[NOISE_DHLEN],
			const struct hs_suite *suite)
{
	struct hs_device *dev;
	int ret;

	if (!out || !suite)
		return -EINVAL;
	*out = NULL;
	ret = noise_init();
	if (ret)
		return ret;
	/* sodium_malloc: the device holds the static private key and every
	 * handshake's secrets for its lifetime, so keep it out of swap (mlock)
	 * and between guard pages; sodium_free wipes it. */
	dev = sodium_malloc(sizeof(*dev));
	if (!dev)
		return -ENOMEM;
	memset(dev, 0, sizeof(*dev));
	dev->suite = suite;
	ret = static_priv ? noise_keypair_from_private(&dev->s, static_priv)
			  : noise_keypair_generate(&dev->s);
	if (!ret)
		ret = suite->label_key("mac1----", dev->s.pub, dev->mac1_key);
	if (!ret)
		ret = suite->label_key("cookie--", dev->s.pub, dev->cookie_key);
	if (ret) {
		hs_device_free(dev);
		return ret;
	}
	crypto_shorthash_keygen(dev->rl_hash_key);
	dev->mono_ns = default_mono_ns;
	dev->real_ns = default_real_ns;
	hs_set_limits(dev, HS_RATE_PER_S, HS_RATE_BURST, HS_LOAD_HOLD_MS);
	hs_set_load_limit(dev, HS_LOAD_RATE_PER_S, HS_LOAD_BURST);
	*out = dev;
	return 0;
}

void hs_device_free(struct hs_device *dev)
{
	if (!dev)
		return;
	sodium_memzero(dev, sizeof(*dev));
	sodium_free(dev);
}

void hs_device_public_key(const struct hs_device *dev, uint8_t pub[NOISE_DHLEN])
{
	memcpy(pub, dev->s.pub, NOISE_DHLEN);
}

void hs_set_clock(struct hs_device *dev, hs_clock_fn mono_ns, hs_clock_fn real_ns, void *arg)
{
	dev->mono_ns = mono_ns ? mono_ns : default_mono_ns;
	dev->real_ns = real_ns ? real_ns : default_real_ns;
	dev->clock_arg = arg;
}

int hs_set_other_suite(struct hs_device *dev, const struct hs_suite *other)
{
	int ret = 0;

	if (!dev || other == dev->suite)
		return -EINVAL;
	dev->other = NULL;
	sodium_memzero(dev->other_mac1_key, sizeof(dev->other_mac1_key));
	if (other && !(ret = other->label_key("mac1----", dev->s.pub, dev->other_mac1_key)))
		dev->other = other;
	return ret;
}

void hs_set_under_load(struct hs_device *dev, bool on)
{
	dev->load_flag = on;
	if (!on)
		dev->load_until_ns = 0;
}

static bool under_load_at(const struct hs_device *dev, uint64_t now)
{
	return dev->load_flag || now < dev->load_until_ns;
}

bool hs_under_load(struct hs_device *dev)
{
	return under_load_at(dev, now_mono(dev));
}

int hs_set_limits(struct hs_device *dev, uint32_t per_s, uint32_t burst, uint32_t load_hold_ms)
{
	if (!dev || !per_s || !burst)
		return -EINVAL;
	dev->rl_cost_ns = NSEC_PER_SEC / per_s;
	dev->rl_max_ns = dev->rl_cost_ns * burst;
	dev->load_hold_ns = (uint64_t)load_hold_ms * NSEC_PER_MSEC;
	return 0;
}

int hs_set_load_limit(struct hs_device *dev, uint32_t per_s, uint32_t burst)
{
	if (!dev || !per_s || !burst)
		return -EINVAL;
	dev->gl_cost_ns = NSEC_PER_SEC / per_s;
	dev->gl_max_ns = dev->gl_cost_ns * burst;
	dev->gl_tokens_ns = dev->gl_max_ns;
	dev->gl_last_ns = 0;
	return 0;
}

/* Enter (or extend) the load state: HS_LOAD_HOLD_MS, at least 1 s when the
 * automatic hold is off, so that one event is not forgotten at once. */
static void enter_load(struct hs_device *dev, uint64_t now)
{
	uint64_t hold = dev->load_hold_ns ? dev->load_hold_ns : NSEC_PER_SEC;

	if (!under_load_at(dev, now))
		dev->stats.load_entered++;
	dev->load_until_ns = now + hold;
}

void hs_note_backlog(struct hs_device *dev)
{
	if (dev)
		enter_load(dev, now_mono(dev));
}

/* One message from the global bucket; false when it is empty (load). */
static bool global_take(struct hs_device *dev, uint64_t now)
{
	if (now > dev->gl_last_ns) {
		uint64_t add = now - dev->gl_last_ns;

		dev->gl_tokens_ns = add >= dev->gl_max_ns - dev->gl_tokens_ns
					? dev->gl_max_ns
					: dev->gl_tokens_ns + add;
		dev->gl_last_ns = now;
	}
	if (dev->gl_tokens_ns < dev->gl_cost_ns)
		return false;
	dev->gl_tokens_ns -= dev->gl_cost_ns;
	return true;
}

void hs_get_stats(const struct hs_device *dev, struct hs_stats *st)
{
	*st = dev->stats;
}

int hs_set_next_ephemeral(struct hs_device *dev, const uint8_t priv[NOISE_DHLEN])
{
	if (!dev || !priv)
		return -EINVAL;
	memcpy(dev->next_e, priv, NOISE_DHLEN);
	dev->has_next_e = true;
	return 0;
}

/* The injected ephemeral, once: copied into e (the caller wipes it), or NULL. */
static const uint8_t *next_ephemeral(struct hs_device *dev, uint8_t e[NOISE_DHLEN])
{
	if (!dev->has_next_e)
		return NULL;
	memcpy(e, dev->next_e, NOISE_DHLEN);
	sodium_memzero(dev->next_e, sizeof(dev->next_e));
	dev->has_next_e = false;
	return e;
}

/* ------------------------------------------------------------------ peers */

static void peer_clear_pending(struct hs_peer *p)
{
	sodium_memzero(&p->hs, sizeof(p->hs));
	p->pending = false;
	p->pending_index = 0;
}

static int peer_init(struct hs_device *dev, struct hs_peer *p, const uint8_t pub[NOISE_DHLEN]);

int hs_peer_add(struct hs_device *dev, const uint8_t pub[NOISE_DHLEN], uint32_t *peer_id)
{
	struct hs_peer *p = NULL;

	if (!dev || !pub || sodium_memcmp(pub, dev->s.pub, NOISE_DHLEN) == 0)
		return -EINVAL;
	/* memcmp: configured public keys are not secret, and this runs once per
	 * peer at start, so sodium_memcmp made it 4 s at 10,000 peers (O(n^2)) */
	for (uint32_t i = 0; i < HS_MAX_PEERS; i++) {
		if (dev->peers[i].used && memcmp(dev->peers[i].pub, pub, NOISE_DHLEN) == 0)
			return -EEXIST;
		if (!dev->peers[i].used && !p) {
			p = &dev->peers[i];
			if (peer_id)
				*peer_id = i;
		}
	}
	if (!p)
		return -ENOSPC;
	return peer_init(dev, p, pub);
}

int hs_peer_add_at(struct hs_device *dev, const uint8_t pub[NOISE_DHLEN], uint32_t peer_id)
{
	if (!dev || !pub || peer_id >= HS_MAX_PEERS ||
	    sodium_memcmp(pub, dev->s.pub, NOISE_DHLEN) == 0)
		return -EINVAL;
	if (dev->peers[peer_id].used)
		return -EBUSY;
	/* no scan for the key under another id (O(n^2) at a resume of 16,384
	 * peers): the caller's peers come from the peers map, unique by key */
	return peer_init(dev, &dev->peers[peer_id], pub);
}

static int peer_init(struct hs_device *dev, struct hs_peer *p, const uint8_t pub[NOISE_DHLEN])
{
	int ret;

	memset(p, 0, sizeof(*p));
	memcpy(p->pub, pub, NOISE_DHLEN);
	ret = dev->suite->label_key("mac1----", pub, p->mac1_key);
	if (!ret)
		ret = dev->suite->label_key("cookie--", pub, p->cookie_key);
	if (ret) {
		sodium_memzero(p, sizeof(*p));
		return ret;
	}
	p->used = true;
	return 0;
}

static struct hs_peer *peer_get(struct hs_device *dev, uint32_t peer_id)
{
	if (peer_id >= HS_MAX_PEERS || !dev->peers[peer_id].used)
		return NULL;
	return &dev->peers[peer_id];
}

int hs_peer_remove(struct hs_device *dev, uint32_t peer_id)
{
	struct hs_peer *p;

	if (!dev)
		return -EINVAL;
	p = peer_get(dev, peer_id);
	if (!p)
		return -ENOENT;
	sodium_memzero(p, sizeof(*p));
	return 0;
}

int hs_peer_set_psk(struct hs_device *dev, uint32_t peer_id, const uint8_t psk[NOISE_PSKLEN])
{
	struct hs_peer *p = dev ? peer_get(dev, peer_id) : NULL;

	if (!p)
		return -ENOENT;
	if (psk)
		memcpy(p->psk, psk, NOISE_PSKLEN);
	else
		sodium_memzero(p->psk, NOISE_PSKLEN);
	return 0;
}

int hs_peer_get_timestamp(struct hs_device *dev, uint32_t peer_id, uint8_t ts[HS_TAI64N_LEN])
{
	struct hs_peer *p = dev ? peer_get(dev, peer_id) : NULL;

	if (!p)
		return -ENOENT;
	if (!p->have_ts)
		return -ENODATA;
	memcpy(ts, p->last_ts, HS_TAI64N_LEN);
	return 0;
}

int hs_peer_set_timestamp(struct hs_device *dev, uint32_t peer_id, const uint8_t ts[HS_TAI64N_LEN])
{
	struct hs_peer *p = dev ? peer_get(dev, peer_id) : NULL;

	if (!p)
		return -ENOENT;
	if (!p->have_ts || memcmp(ts, p->last_ts, HS_TAI64N_LEN) > 0) {
		memcpy(p->last_ts, ts, HS_TAI64N_LEN);
		p->have_ts = true;
	}
	return 0;
}

static struct hs_peer *peer_by_pub(struct hs_device *dev, const uint8_t pub[NOISE_DHLEN])
{
	for (uint32_t i = 0; i < HS_MAX_PEERS; i++)
		if (dev->peers[i].used && sodium_memcmp(dev->peers[i].pub, pub, NOISE_DHLEN) == 0)
			return &dev->peers[i];
	return NULL;
}

static uint32_t peer_id_of(const struct hs_device *dev, const struct hs_peer *p)
{
	return (uint32_t)(p - dev->peers);
}

static bool index_in_use(const struct hs_device *dev, uint32_t idx)
{
	for (uint32_t i = 0; i < HS_MAX_PEERS; i++) {
		const struct hs_peer *p = &dev->peers[i];

		if (!p->used)
			continue;
		if ((p->pending && p->pending_index == idx) ||
		    (p->sent_mac1_valid && p->sent_mac1_index == idx))
			return true;
		for (int j = 0; j < BPFTUN_SLOTS; j++)
			if (p->recent_index[j] == idx)
				return true;
	}
	return false;
}

/* A random, non-zero index that none of our handshakes or recent sessions use. */
static int alloc_index(struct hs_device *dev, uint32_t *idx)
{
	for (int i = 0; i < MAX_INDEX_TRIES; i++) {
		uint32_t v = randombytes_random();

		if (v && !index_in_use(dev, v)) {
			*idx = v;
			return 0;
		}
	}
	return -ENOSPC;
}

static void peer_push_recent(struct hs_peer *p, uint32_t idx)
{
	p->recent_index[p->recent_pos] = idx;
	p->recent_pos = (p->recent_pos + 1) % BPFTUN_SLOTS;
}

static bool peer_cookie_fresh(const struct hs_peer *p, uint64_t now)
{
	return p->have_cookie &&
	       now - p->cookie_at < (HS_COOKIE_SECRET_AGE_S - HS_COOKIE_LATENCY_S) * NSEC_PER_SEC;
}

/* mac1 for the peer, and mac2 if we hold a fresh cookie from it. */
static int peer_seal_macs(const struct hs_device *dev, struct hs_peer *p, uint8_t *msg, size_t len,
			  uint64_t now)
{
	int ret;

	ret = dev->suite->mac(p->mac1_key, sizeof(p->mac1_key), msg, len - 2 * HS_MAC_LEN,
			      msg + len - 2 * HS_MAC_LEN);
	if (ret)
		return ret;
	if (!peer_cookie_fresh(p, now)) {
		memset(msg + len - HS_MAC_LEN, 0, HS_MAC_LEN);
		return 0;
	}
	return dev->suite->mac(p->cookie, HS_MAC_LEN, msg, len - HS_MAC_LEN,
			       msg + len - HS_MAC_LEN);
}

/* ------------------------------------------------------------ rate limiter */

static void rl_key(const struct hs_addr *src, uint8_t key[RL_KEY_LEN])
{
	memset(key, 0, RL_KEY_LEN);
	key[0] = src->family;
	/* IPv6: one bucket per /64, as one host usually owns one. */
	memcpy(key + 1, src->addr, src->family == 4 ? 4 : 8);
}

static void rl_refill(const struct hs_device *dev, struct hs_rl_entry *e, uint64_t now)
{
	if (now > e->last_ns) {
		uint64_t add = now - e->last_ns;

		e->tokens_ns =
		    add >= dev->rl_max_ns - e->tokens_ns ? dev->rl_max_ns : e->tokens_ns + add;
		e->last_ns = now;
	}
}

static bool rl_full_at(const struct hs_device *dev, const struct hs_rl_entry *e, uint64_t now)
{
	return now >= e->last_ns && now - e->last_ns >= dev->rl_max_ns - e->tokens_ns;
}

/* The rate-limiter entry of src, made if it has none (evicting another). */
static struct hs_rl_entry *rl_find(struct hs_device *dev, const struct hs_addr *src, uint64_t now)
{
	uint8_t key[RL_KEY_LEN], h[crypto_shorthash_BYTES];
	struct hs_rl_entry *set, *e = NULL, *idle = NULL, *lru = NULL;
	uint64_t hv = 0;

	rl_key(src, key);
	crypto_shorthash(h, key, sizeof(key), dev->rl_hash_key);
	for (int i = 0; i < 8; i++)
		hv |= (uint64_t)h[i] << (8 * i);
	set = dev->rl[hv & (HS_RL_SETS - 1)];

	for (int i = 0; i < HS_RL_WAYS; i++) {
		struct hs_rl_entry *w = &set[i];

		if (!w->used) {
			idle = idle ? idle : w;
			continue;
		}
		if (memcmp(w->key, key, sizeof(key)) == 0) {
			e = w;
			break;
		}
		/* A full bucket is as good as a new one: forgetting it loses nothing. */
		if (!idle && rl_full_at(dev, w, now))
			idle = w;
		if (!lru || w->last_ns < lru->last_ns)
			lru = w;
	}
	if (!e) {
		/* Evict an unused or idle entry, else the least recently used. */
		e = idle ? idle : lru;
		memcpy(e->key, key, sizeof(key));
		e->used = true;
		e->tokens_ns = dev->rl_max_ns;
		e->last_ns = now;
		e->cookie_ns = 0;
	}
	return e;
}

/* Token bucket of src: true if one more message may go on to DH. */
static bool rl_allow(struct hs_device *dev, const struct hs_addr *src, uint64_t now)
{
	struct hs_rl_entry *e = rl_find(dev, src, now);

	rl_refill(dev, e, now);
	if (e->tokens_ns >= dev->rl_cost_ns) {
		e->tokens_ns -= dev->rl_cost_ns;
		return true;
	}
	if (dev->load_hold_ns)
		enter_load(dev, now);
	return false;
}

/* ------------------------------------------------------------------ cookies */

/* cookie = BLAKE2b-128(key = secret, address || be16 port); the secret is
 * replaced when it is HS_COOKIE_SECRET_AGE_S old. */
static int make_cookie(struct hs_device *dev, const struct hs_addr *src, uint64_t now,
		       uint8_t cookie[HS_MAC_LEN])
{
	uint8_t in[16 + 2];
	size_t n = src->family == 4 ? 4 : 16;

	if (!dev->have_secret || now - dev->secret_at >= HS_COOKIE_SECRET_AGE_S * NSEC_PER_SEC) {
		randombytes_buf(dev->secret, sizeof(dev->secret));
		dev->secret_at = now;
		dev->have_secret = true;
	}
	memcpy(in, src->addr, n);
	in[n] = (uint8_t)(src->port >> 8);
	in[n + 1] = (uint8_t)src->port;
	return dev->suite->mac(dev->secret, sizeof(dev->secret), in, n + 2, cookie);
}

/* A cookie reply to msg (an initiation or response from src) into res. */
static int cookie_reply(struct hs_device *dev, const uint8_t *msg, size_t len, uint32_t sender,
			const struct hs_addr *src, uint64_t now, struct hs_result *res)
{
	uint8_t cookie[HS_MAC_LEN];
	uint8_t *r = res->reply;
	int ret;

	ret = make_cookie(dev, src, now, cookie);
	if (ret)
		goto out;
	memset(r, 0, HS_COOKIE_REPLY_LEN);
	r[0] = BPFTUN_MSG_COOKIE;
	put_le32(r + COOKIE_OFF(receiver_index), sender);
	randombytes_buf(r + COOKIE_OFF(nonce), HS_COOKIE_NONCE_LEN);
	/* AD = the mac1 of the message answered, binding the reply to it. */
	if (crypto_aead_xchacha20poly1305_ietf_encrypt(r + COOKIE_OFF(enc_cookie), NULL, cookie,
						       sizeof(cookie), msg + len - 2 * HS_MAC_LEN,
						       HS_MAC_LEN, NULL, r + COOKIE_OFF(nonce),
						       dev->cookie_key) != 0) {
		ret = -EIO;
		goto out;
	}
	res->reply_len = HS_COOKIE_REPLY_LEN;
	dev->stats.cookie_replies_sent++;
out:
	if (ret)
		memset(r, 0, HS_COOKIE_REPLY_LEN);
	sodium_memzero(cookie, sizeof(cookie));
	return ret;
}

/* At most one cookie reply per source (address; IPv6 /64) every
 * HS_COOKIE_REPLY_GAP_MS: a source that does not own its address (spoofed,
 * on our link) makes every reply wait for ARP/ND in the kernel, charged to
 * the sending socket; a real initiator needs one cookie per attempt. */
static bool cookie_allowed(struct hs_device *dev, const struct hs_addr *src, uint64_t now)
{
	struct hs_rl_entry *e = rl_find(dev, src, now);

	if (e->cookie_ns && now - e->cookie_ns < HS_COOKIE_REPLY_GAP_MS * NSEC_PER_MSEC) {
		dev->stats.cookie_replies_withheld++;
		return false;
	}
	e->cookie_ns = now ? now : 1;
	return true;
}

/* mac2 under load: a valid one is required; 0 or the reason to refuse. */
static int mac2_check(struct hs_device *dev, const uint8_t *msg, size_t len,
		      const struct hs_addr *src, uint64_t now, enum hs_reason *why)
{
	const uint8_t *mac2 = msg + len - HS_MAC_LEN;
	uint8_t cookie[HS_MAC_LEN], want[HS_MAC_LEN];
	int ret = 0;

	*why = 0;
	if (sodium_is_zero(mac2, HS_MAC_LEN)) {
		*why = HS_R_NEEDS_COOKIE;
		return 0;
	}
	ret = make_cookie(dev, src, now, cookie);
	if (!ret)
		ret = dev->suite->mac(cookie, sizeof(cookie), msg, len - HS_MAC_LEN, want);
	if (!ret && sodium_memcmp(want, mac2, HS_MAC_LEN) != 0)
		*why = HS_R_BAD_MAC2;
	sodium_memzero(cookie, sizeof(cookie));
	sodium_memzero(want, sizeof(want));
	return ret;
}

/*
 * The checks between mac1 and DH, as WireGuard does them:
 * - Not under load, mac2 is not looked at: a forged cookie reply (anyone who
 *   saw our initiation and knows the peer's public key can write one) then
 *   costs nothing.
 * - Under load, a valid mac2 is required; a missing or wrong one is answered
 *   with a cookie reply.
 * - Then the source's token bucket.
 * - Then, if not under load, the global bucket: every message that reaches
 *   DH without proof of its address takes a token from it, whatever its
 *   source. When it is empty the device is under load (a distributed flood
 *   from many sources, each under its own limit), and this message is
 *   treated as under load already.
 */
static int check_load(struct hs_device *dev, const uint8_t *msg, size_t len, uint32_t sender,
		      const struct hs_addr *src, uint64_t now, struct hs_result *res)
{
	bool loaded = under_load_at(dev, now);
	enum hs_reason why = 0;
	int ret = 0;

	if (loaded) {
		ret = mac2_check(dev, msg, len, src, now, &why);
		if (ret)
			return ret;
	}
	if (!why && !rl_allow(dev, src, now))
		return reject(dev, HS_R_RATE_LIMITED);
	if (!why && !loaded && !global_take(dev, now)) {
		enter_load(dev, now);
		ret = mac2_check(dev, msg, len, src, now, &why);
		if (ret)
			return ret;
	}
	if (why) {
		ret = cookie_allowed(dev, src, now)
			  ? cookie_reply(dev, msg, len, sender, src, now, res)
			  : 0;
		if (!ret)
			ret = reject(dev, why);
	}
	return ret;
}

/* Length, type and reserved bytes, then mac1 (keyed by our static key). */
static int check_header(struct hs_device *dev, const uint8_t *msg, size_t len, uint8_t type,
			size_t want_len)
{
	uint8_t mac[HS_MAC_LEN];
	int ret;

	if (len < 1)
		return reject(dev, HS_R_TRUNCATED);
	if (msg[0] != type)
		return reject(dev, HS_R_BAD_TYPE);
	if (len < want_len)
		return reject(dev, HS_R_TRUNCATED);
	if (len > want_len)
		return reject(dev, HS_R_BAD_LENGTH);
	if (msg[1] | msg[2] | msg[3])
		return reject(dev, HS_R_BAD_RESERVED);
	if (type == BPFTUN_MSG_COOKIE)
		return 0; /* a cookie reply has no mac1: its AEAD authenticates it */
	ret = dev->suite->mac(dev->mac1_key, sizeof(dev->mac1_key), msg, len - 2 * HS_MAC_LEN, mac);
	if (!ret && sodium_memcmp(mac, msg + len - 2 * HS_MAC_LEN, HS_MAC_LEN) != 0) {
		/* a peer whose Protocol differs: name it (the other suite's mac1
		 * is keyed by our public key too, so only a peer that knows it
		 * gets this reason rather than bad mac1) */
		if (dev->other &&
		    !dev->other->mac(dev->other_mac1_key, sizeof(dev->other_mac1_key), msg,
				     len - 2 * HS_MAC_LEN, mac) &&
		    !sodium_memcmp(mac, msg + len - 2 * HS_MAC_LEN, HS_MAC_LEN))
			ret = reject(dev, HS_R_OTHER_SUITE);
		else
			ret = reject(dev, HS_R_BAD_MAC1);
	}
	sodium_memzero(mac, sizeof(mac));
	return ret;
}

static int noise_reason(struct hs_device *dev, int ret)
{
	if (ret == -EBADMSG)
		return reject(dev, HS_R_DECRYPT);
	if (ret == -EKEYREJECTED)
		return reject(dev, HS_R_BAD_KEY);
	return ret;
}

static void prologue_for(const uint8_t hdr[HS_PROLOGUE_HDR_LEN],
			 uint8_t out[HS_PROLOGUE_LEN + HS_PROLOGUE_HDR_LEN])
{
	memcpy(out, HS_PROLOGUE, HS_PROLOGUE_LEN);
	memcpy(out + HS_PROLOGUE_LEN, hdr, HS_PROLOGUE_HDR_LEN);
}

/* ------------------------------------------------------ the bpftun suite */

static int ik_write_init(union hs_noise *st, const struct noise_keypair *s,
			 const uint8_t rs[NOISE_DHLEN], const uint8_t *e,
			 const uint8_t ts[HS_TAI64N_LEN], uint8_t *msg)
{
	uint8_t prologue[HS_PROLOGUE_LEN + HS_PROLOGUE_HDR_LEN];
	size_t n;
	int ret;

	prologue_for(msg, prologue);
	ret = noise_handshake_init(&st->ik, NOISE_INITIATOR, s, rs, prologue, sizeof(prologue));
	if (!ret && e)
		ret = noise_handshake_set_ephemeral(&st->ik, e);
	if (!ret)
		ret = noise_write_message(&st->ik, ts, HS_TAI64N_LEN, msg + INIT_OFF(ephemeral),
					  INIT_OFF(mac1) - INIT_OFF(ephemeral), &n);
	return ret;
}

static int ik_read_init(union hs_noise *st, const struct noise_keypair *s, const uint8_t *msg,
			uint8_t rs[NOISE_DHLEN], uint8_t ts[HS_TAI64N_LEN])
{
	uint8_t prologue[HS_PROLOGUE_LEN + HS_PROLOGUE_HDR_LEN];
	size_t n;
	int ret;

	prologue_for(msg, prologue);
	ret = noise_handshake_init(&st->ik, NOISE_RESPONDER, s, NULL, prologue, sizeof(prologue));
	if (!ret)
		ret =
		    noise_read_message(&st->ik, msg + INIT_OFF(ephemeral),
				       INIT_OFF(mac1) - INIT_OFF(ephemeral), ts, HS_TAI64N_LEN, &n);
	return ret ?: noise_handshake_remote_static(&st->ik, rs);
}

/* Split() into the tunnel's tx/rx key and salt. */
static int ik_split(union hs_noise *st, struct noise_direction *tx, struct noise_direction *rx)
{
	struct noise_transport t;
	int ret;

	memset(&t, 0, sizeof(t));
	ret = noise_split(&st->ik, &t);
	if (!ret) {
		*tx = t.tx;
		*rx = t.rx;
	}
	noise_transport_wipe(&t);
	return ret;
}

static int ik_write_resp(union hs_noise *st, const struct noise_keypair *s, const uint8_t psk[32],
			 const uint8_t *e, uint8_t *msg, struct noise_direction *tx,
			 struct noise_direction *rx)
{
	size_t n;
	int ret = noise_handshake_set_psk(&st->ik, psk); /* psk2: all zero when none */

	(void)s;
	if (!ret && e)
		ret = noise_handshake_set_ephemeral(&st->ik, e);
	if (!ret)
		ret = noise_write_message(&st->ik, NULL, 0, msg + RESP_OFF(ephemeral),
					  RESP_OFF(mac1) - RESP_OFF(ephemeral), &n);
	return ret ?: ik_split(st, tx, rx);
}

static int ik_read_resp(union hs_noise *st, const struct noise_keypair *s, const uint8_t psk[32],
			const uint8_t *msg, struct noise_direction *tx, struct noise_direction *rx)
{
	size_t n;
	int ret;

	(void)s;
	ret = noise_handshake_set_psk(&st->ik, psk); /* psk2: all zero when none */
	if (!ret)
		ret = noise_read_message(&st->ik, msg + RESP_OFF(ephemeral),
					 RESP_OFF(mac1) - RESP_OFF(ephemeral), NULL, 0, &n);
	return ret ?: ik_split(st, tx, rx);
}

const struct hs_suite hs_suite_bpftun = {
    .name = "bpftun",
    .label_key = derive_key,
    .mac = mac16,
    .tai64n = hs_tai64n,
    .ts_quantum_ns = 1,
    .write_init = ik_write_init,
    .read_init = ik_read_init,
    .write_resp = ik_write_resp,
    .read_resp = ik_read_resp,
};

/* ------------------------------------------------------------------------ */

static void keys_from(struct hs_keys *k, const struct noise_direction *tx,
		      const struct noise_direction *rx, uint32_t peer_id, uint32_t local,
		      uint32_t remote, bool initiator)
{
	k->peer_id = peer_id;
	k->local_index = local;
	k->remote_index = remote;
	k->initiator = initiator;
	k->tx = *tx;
	k->rx = *rx;
}

static int reset_result(struct hs_device *dev, const uint8_t *msg, struct hs_result *res)
{
	if (!dev || !res)
		return -EINVAL;
	hs_result_wipe(res);
	if (!msg)
		return -EINVAL;
	dev->stats.received++;
	return 0;
}

/* ------------------------------------------------------------- initiation */

int hs_create_initiation(struct hs_device *dev, uint32_t peer_id, uint8_t *out, size_t out_size)
{
	uint8_t msg[HS_INITIATION_LEN], ts[HS_TAI64N_LEN], e[NOISE_DHLEN];
	const uint64_t q = dev ? dev->suite->ts_quantum_ns : 1;
	union hs_noise hs;
	struct hs_peer *p;
	uint64_t now, real;
	uint32_t idx;
	int ret;

	if (!dev || !out)
		return -EINVAL;
	if (out_size < HS_INITIATION_LEN)
		return -EMSGSIZE;
	p = peer_get(dev, peer_id);
	if (!p)
		return -ENOENT;
	ret = alloc_index(dev, &idx);
	if (ret)
		return ret;
	now = now_mono(dev);
	/* Timestamps to one peer strictly increase even if the clock stalls
	 * (WireGuard's are coarse: a step of its quantum makes the next one). */
	real = dev->real_ns(dev->clock_arg);
	dev->suite->tai64n(real, ts);
	dev->suite->tai64n(p->last_sent_real_ns, e); /* e: scratch, the last one sent */
	if (memcmp(ts, e, HS_TAI64N_LEN) <= 0) {
		real = p->last_sent_real_ns + q;
		dev->suite->tai64n(real, ts);
	}

	memset(&hs, 0, sizeof(hs));
	memset(msg, 0, sizeof(msg));
	msg[0] = BPFTUN_MSG_HANDSHAKE_INIT;
	put_le32(msg + INIT_OFF(sender_index), idx);
	ret = dev->suite->write_init(&hs, &dev->s, p->pub, next_ephemeral(dev, e), ts, msg);
	if (!ret)
		ret = peer_seal_macs(dev, p, msg, sizeof(msg), now);
	if (ret)
		goto out;

	peer_clear_pending(p);
	p->hs = hs;
	p->pending = true;
	p->pending_index = idx;
	p->pending_at = now;
	p->last_sent_real_ns = real;
	memcpy(p->sent_mac1, msg + INIT_OFF(mac1), HS_MAC_LEN);
	p->sent_mac1_index = idx;
	p->sent_mac1_valid = true;
	memcpy(out, msg, sizeof(msg));
out:
	sodium_memzero(&hs, sizeof(hs));
	sodium_memzero(e, sizeof(e));
	sodium_memzero(ts, sizeof(ts));
	return ret;
}

/* What every message from an address starts with: a fresh result, a usable
 * source, then type, length and reserved bytes. 0 or a rejection. */
static int consume_begin(struct hs_device *dev, const uint8_t *msg, size_t len,
			 const struct hs_addr *src, struct hs_result *res, uint8_t type,
			 size_t size)
{
	int ret = reset_result(dev, msg, res);

	if (ret)
		return ret;
	if (!addr_valid(src))
		return -EINVAL;
	return check_header(dev, msg, len, type, size);
}

int hs_consume_initiation(struct hs_device *dev, const uint8_t *msg, size_t len,
			  const struct hs_addr *src, struct hs_result *res)
{
	uint8_t ts[HS_TAI64N_LEN], rs[NOISE_DHLEN], reply[HS_RESPONSE_LEN], e[NOISE_DHLEN];
	struct noise_direction tx, rx;
	union hs_noise hs;
	uint32_t sender, idx;
	struct hs_peer *p;
	uint64_t now;
	int ret;

	ret = consume_begin(dev, msg, len, src, res, BPFTUN_MSG_HANDSHAKE_INIT, HS_INITIATION_LEN);
	if (ret)
		return ret;
	sender = get_le32(msg + INIT_OFF(sender_index));
	now = now_mono(dev);
	ret = check_load(dev, msg, len, sender, src, now, res);
	if (ret)
		return ret;

	memset(&hs, 0, sizeof(hs));
	memset(&tx, 0, sizeof(tx));
	memset(&rx, 0, sizeof(rx));
	memset(reply, 0, sizeof(reply));
	dev->stats.noise_attempts++;
	ret = dev->suite->read_init(&hs, &dev->s, msg, rs, ts);
	if (ret) {
		ret = noise_reason(dev, ret);
		goto out;
	}
	p = peer_by_pub(dev, rs);
	if (!p) {
		ret = reject(dev, HS_R_UNKNOWN_PEER);
		goto out;
	}
	/* TAI64N is big endian: byte order is time order. */
	if (p->have_ts && memcmp(ts, p->last_ts, HS_TAI64N_LEN) <= 0) {
		ret = reject(dev, HS_R_REPLAY);
		goto out;
	}

	ret = alloc_index(dev, &idx);
	if (ret)
		goto out;
	reply[0] = BPFTUN_MSG_HANDSHAKE_RESP;
	put_le32(reply + RESP_OFF(sender_index), idx);
	put_le32(reply + RESP_OFF(receiver_index), sender);
	ret = dev->suite->write_resp(&hs, &dev->s, p->psk, next_ephemeral(dev, e), reply, &tx, &rx);
	if (!ret)
		ret = peer_seal_macs(dev, p, reply, sizeof(reply), now);
	if (ret)
		goto out;

	/* Accepted: only now does the peer's state change. */
	memcpy(p->last_ts, ts, HS_TAI64N_LEN);
	p->have_ts = true;
	memcpy(p->sent_mac1, reply + RESP_OFF(mac1), HS_MAC_LEN);
	p->sent_mac1_index = idx;
	p->sent_mac1_valid = true;
	peer_push_recent(p, idx);
	memcpy(res->reply, reply, sizeof(reply));
	res->reply_len = sizeof(reply);
	res->peer_id = peer_id_of(dev, p);
	keys_from(&res->keys, &tx, &rx, res->peer_id, idx, sender, false);
	res->have_keys = true;
	dev->stats.accepted++;
out:
	sodium_memzero(&hs, sizeof(hs));
	sodium_memzero(&tx, sizeof(tx));
	sodium_memzero(&rx, sizeof(rx));
	sodium_memzero(e, sizeof(e));
	sodium_memzero(ts, sizeof(ts));
	sodium_memzero(reply, sizeof(reply));
	return ret;
}

/* --------------------------------------------------------------- response */

int hs_consume_response(struct hs_device *dev, const uint8_t *msg, size_t len,
			const struct hs_addr *src, struct hs_result *res)
{
	struct noise_direction tx, rx;
	union hs_noise hs;
	struct hs_peer *p = NULL;
	uint32_t sender, receiver;
	uint64_t now;
	int ret;

	ret = consume_begin(dev, msg, len, src, res, BPFTUN_MSG_HANDSHAKE_RESP, HS_RESPONSE_LEN);
	if (ret)
		return ret;
	sender = get_le32(msg + RESP_OFF(sender_index));
	receiver = get_le32(msg + RESP_OFF(receiver_index));
	for (uint32_t i = 0; i < HS_MAX_PEERS && !p; i++)
		if (dev->peers[i].used && dev->peers[i].pending &&
		    dev->peers[i].pending_index == receiver)
			p = &dev->peers[i];
	if (!p)
		return reject(dev, HS_R_UNKNOWN_INDEX);
	now = now_mono(dev);
	if (now - p->pending_at > HS_PENDING_MAX_AGE_S * NSEC_PER_SEC) {
		peer_clear_pending(p);
		return reject(dev, HS_R_STALE);
	}
	ret = check_load(dev, msg, len, sender, src, now, res);
	if (ret)
		return ret;

	/* Work on a copy: a forged response must not kill the pending handshake. */
	memset(&tx, 0, sizeof(tx));
	memset(&rx, 0, sizeof(rx));
	hs = p->hs;
	dev->stats.noise_attempts++;
	ret = dev->suite->read_resp(&hs, &dev->s, p->psk, msg, &tx, &rx);
	if (ret) {
		/* Message 2 has no tag before the psk token: a different
		 * PresharedKey on the two sides and an altered e or tag look
		 * the same, and this is the one place where the first shows. */
		ret = ret == -EBADMSG ? reject(dev, HS_R_RESPONSE_AUTH) : noise_reason(dev, ret);
		goto out;
	}

	peer_clear_pending(p);
	p->sent_mac1_valid = false;
	peer_push_recent(p, receiver);
	res->peer_id = peer_id_of(dev, p);
	keys_from(&res->keys, &tx, &rx, res->peer_id, receiver, sender, true);
	res->have_keys = true;
	dev->stats.accepted++;
out:
	sodium_memzero(&hs, sizeof(hs));
	sodium_memzero(&tx, sizeof(tx));
	sodium_memzero(&rx, sizeof(rx));
	return ret;
}

/* ----------------------------------------------------------- cookie reply */

int hs_consume_cookie(struct hs_device *dev, const uint8_t *msg, size_t len, struct hs_result *res)
{
	uint8_t cookie[HS_MAC_LEN];
	struct hs_peer *p = NULL;
	uint32_t receiver;
	int ret;

	ret = reset_result(dev, msg, res);
	if (ret)
		return ret;
	ret = check_header(dev, msg, len, BPFTUN_MSG_COOKIE, HS_COOKIE_REPLY_LEN);
	if (ret)
		return ret;
	receiver = get_le32(msg + COOKIE_OFF(receiver_index));
	for (uint32_t i = 0; i < HS_MAX_PEERS && !p; i++)
		if (dev->peers[i].used && dev->peers[i].sent_mac1_valid &&
		    dev->peers[i].sent_mac1_index == receiver)
			p = &dev->peers[i];
	if (!p)
		return reject(dev, HS_R_UNKNOWN_INDEX);
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(
		cookie, NULL, NULL, msg + COOKIE_OFF(enc_cookie), HS_MAC_LEN + NOISE_TAGLEN,
		p->sent_mac1, HS_MAC_LEN, msg + COOKIE_OFF(nonce), p->cookie_key) != 0) {
		ret = reject(dev, HS_R_DECRYPT);
		goto out;
	}
	memcpy(p->cookie, cookie, HS_MAC_LEN);
	p->cookie_at = now_mono(dev);
	p->have_cookie = true;
	p->sent_mac1_valid = false; /* one cookie per message sent */
	res->peer_id = peer_id_of(dev, p);
	dev->stats.accepted++;
out:
	sodium_memzero(cookie, sizeof(cookie));
	return ret;
}

int hs_receive(struct hs_device *dev, const uint8_t *msg, size_t len, const struct hs_addr *src,
	       struct hs_result *res)
{
	int ret;

	if (len >= 1 && msg) {
		switch (msg[0]) {
		case BPFTUN_MSG_HANDSHAKE_INIT:
			return hs_consume_initiation(dev, msg, len, src, res);
		case BPFTUN_MSG_HANDSHAKE_RESP:
			return hs_consume_response(dev, msg, len, src, res);
		case BPFTUN_MSG_COOKIE:
			return hs_consume_cookie(dev, msg, len, res);
		}
	}
	ret = reset_result(dev, msg, res);
	if (ret)
		return ret;
	return reject(dev, len < 1 ? HS_R_TRUNCATED : HS_R_BAD_TYPE);
}
