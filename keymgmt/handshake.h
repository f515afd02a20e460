/* SPDX-License-Identifier: GPL-2.0 */
/*
 * handshake.h - bpftun's handshake messages on top of Noise IKpsk2 (noise.h),
 * modelled on WireGuard's, with its optional per-peer pre-shared key (psk2).
 *
 * Owns the wire format of the three handshake messages, their parser and the
 * reasons it gives for every rejection, mac1/mac2 and cookies, the per-source
 * rate limiter and the "under load" state, the responder's replay protection
 * and the per-peer handshake state. The result of a completed exchange is the
 * pair of indices and the tunnel's tx/rx keys and salts (from noise_split()).
 *
 * Messages (all integers little endian, encoded byte by byte):
 *   initiation (1) 148 B  Noise message 1 with a TAI64N timestamp as payload
 *   response   (2)  92 B  Noise message 2 with an empty payload
 *   cookie     (3)  64 B  XChaCha20-Poly1305 of the cookie, AD = the mac1 it answers
 * Noise prologue: HS_PROLOGUE || the initiation's first 8 bytes (type,
 * reserved, sender index), so that these bytes are authenticated by Noise too.
 *   mac1 = BLAKE2b-128(key = BLAKE2b-256("mac1----" || receiver's static pub),
 *                      bytes before mac1)
 *   mac2 = BLAKE2b-128(key = cookie, bytes before mac2), all zero without a cookie
 *   cookie = BLAKE2b-128(key = secret rotated every 120 s, src address || be16 port)
 *   cookie reply key = BLAKE2b-256("cookie--" || the cookie sender's static pub)
 * (BLAKE2b-n = libsodium's crypto_generichash with an n/8-byte output.)
 *
 * Receiving, in this order (cheap checks first, DH last):
 *   length and type, reserved bytes, mac1; then, only under load, mac2: a
 *   valid one is required (a missing or wrong one is answered with a cookie
 *   reply; not under load mac2 is ignored, as in WireGuard, so a forged cookie
 *   costs nothing); then the source's token bucket; then the global bucket
 *   (empty: under load, and this message needs a cookie too); then Noise;
 *   then peer, timestamp (initiation) or pending index (response).
 * A rejected message never changes a pending handshake or a peer's state.
 *
 * Return values: 0, -errno for local failures (-EINVAL, -ENOENT, -ENOSPC,
 * -EIO), or -reason (enum hs_reason, all >= HS_REASON_BASE = 4096, above any
 * errno) when a message is rejected; handshake_strerror() names either kind.
 *
 * Not thread-safe: one thread owns a device. Time comes from a clock that
 * tests may replace (hs_set_clock).
 */
#ifndef BPFTUN_HANDSHAKE_H
#define BPFTUN_HANDSHAKE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bpftun_shared.h"
#include "noise.h"
#include "wg_noise.h"

/* ---------------------------------------------------------------- wire format */

#define HS_MAC_LEN	    16
#define HS_TAI64N_LEN	    12
#define HS_COOKIE_NONCE_LEN 24
#define HS_INDEX_LEN	    4
#define HS_INITIATION_LEN   148
#define HS_RESPONSE_LEN	    92
#define HS_COOKIE_REPLY_LEN 64
#define HS_MAX_MSG_LEN	    HS_INITIATION_LEN
#define HS_PROLOGUE	    "bpftun handshake v1"
#define HS_PROLOGUE_LEN	    (sizeof(HS_PROLOGUE) - 1)
#define HS_PROLOGUE_HDR_LEN 8 /* type, reserved[3], sender_index */

struct hs_initiation {
	uint8_t type; /* BPFTUN_MSG_HANDSHAKE_INIT */
	uint8_t reserved[3];
	uint8_t sender_index[HS_INDEX_LEN];
	uint8_t ephemeral[NOISE_DHLEN];
	uint8_t enc_static[NOISE_DHLEN + NOISE_TAGLEN];
	uint8_t enc_timestamp[HS_TAI64N_LEN + NOISE_TAGLEN];
	uint8_t mac1[HS_MAC_LEN];
	uint8_t mac2[HS_MAC_LEN];
};

struct hs_response {
	uint8_t type; /* BPFTUN_MSG_HANDSHAKE_RESP */
	uint8_t reserved[3];
	uint8_t sender_index[HS_INDEX_LEN];
	uint8_t receiver_index[HS_INDEX_LEN];
	uint8_t ephemeral[NOISE_DHLEN];
	uint8_t enc_empty[NOISE_TAGLEN];
	uint8_t mac1[HS_MAC_LEN];
	uint8_t mac2[HS_MAC_LEN];
};

struct hs_cookie_reply {
	uint8_t type; /* BPFTUN_MSG_COOKIE */
	uint8_t reserved[3];
	uint8_t receiver_index[HS_INDEX_LEN];
	uint8_t nonce[HS_COOKIE_NONCE_LEN];
	uint8_t enc_cookie[HS_MAC_LEN + NOISE_TAGLEN];
};

_Static_assert(sizeof(struct hs_initiation) == HS_INITIATION_LEN, "initiation is 148 bytes");
_Static_assert(sizeof(struct hs_response) == HS_RESPONSE_LEN, "response is 92 bytes");
_Static_assert(sizeof(struct hs_cookie_reply) == HS_COOKIE_REPLY_LEN, "cookie reply is 64 bytes");
_Static_assert(__builtin_offsetof(struct hs_initiation, ephemeral) == 8, "Noise message 1 at 8");
_Static_assert(__builtin_offsetof(struct hs_initiation, mac1) ==
		   8 + NOISE_IK_MSG1_LEN(HS_TAI64N_LEN),
	       "Noise message 1 is followed by mac1");
_Static_assert(__builtin_offsetof(struct hs_response, ephemeral) == 12, "Noise message 2 at 12");
_Static_assert(__builtin_offsetof(struct hs_response, mac1) == 12 + NOISE_IK_MSG2_LEN(0),
	       "Noise message 2 is followed by mac1");
_Static_assert(__builtin_offsetof(struct hs_initiation, mac2) == HS_INITIATION_LEN - HS_MAC_LEN,
	       "mac2 ends the initiation");
_Static_assert(__builtin_offsetof(struct hs_response, mac2) == HS_RESPONSE_LEN - HS_MAC_LEN,
	       "mac2 ends the response");

/* ---------------------------------------------------------------- limits */

#define HS_MAX_PEERS	       BPFTUN_MAX_PEERS
#define HS_COOKIE_SECRET_AGE_S 120 /* the cookie secret is replaced after this */
#define HS_COOKIE_LATENCY_S    5   /* a received cookie is used for AGE - LATENCY */
/* A response to an initiation older than this is refused. */
#define HS_PENDING_MAX_AGE_S BPFTUN_REKEY_AFTER_TIME_S
/* Handshake messages per second per source (IPv4 address, IPv6 /64), with a burst. */
#define HS_RATE_PER_S 20
#define HS_RATE_BURST 5
/* A rate-limit drop keeps the device under load this long. */
#define HS_LOAD_HOLD_MS 1000
/* Messages per second, all sources together, that may reach DH without a
 * valid mac2, with a burst. Beyond it the device is under load (as
 * WireGuard's handshake queue above 1/8 of its size), whatever the sources. */
#define HS_LOAD_RATE_PER_S 200
#define HS_LOAD_BURST	   128
/* One cookie reply per source (IPv4 address, IPv6 /64) at most this often. */
#define HS_COOKIE_REPLY_GAP_MS 500
/* Rate-limiter table: HS_RL_SETS sets of HS_RL_WAYS entries, LRU within a set. */
#define HS_RL_WAYS 8
#define HS_RL_SETS 512

/* ---------------------------------------------------------------- reasons */

#define HS_REASON_BASE 4096

#define HS_REASONS(X)                                                                              \
	X(TRUNCATED, "truncated")                                                                  \
	X(BAD_LENGTH, "bad length (longer than the message type)")                                 \
	X(BAD_TYPE, "bad type")                                                                    \
	X(BAD_RESERVED, "bad reserved bytes")                                                      \
	X(BAD_MAC1, "bad mac1")                                                                    \
	X(BAD_MAC2, "bad mac2 (stale or forged cookie)")                                           \
	X(NEEDS_COOKIE, "needs cookie (under load)")                                               \
	X(RATE_LIMITED, "rate limited (source over its handshake budget)")                         \
	X(DECRYPT, "decrypt failed")                                                               \
	X(BAD_KEY, "bad public key (DH result is zero)")                                           \
	X(UNKNOWN_PEER, "unknown peer")                                                            \
	X(REPLAY, "replayed timestamp (not newer than the last accepted)")                         \
	X(UNKNOWN_INDEX, "unknown receiver index (no such pending handshake)")                     \
	X(STALE, "stale (the pending handshake expired)")                                          \
	X(RESPONSE_AUTH, "response not authentic (preshared keys differ, or it was altered)")      \
	X(OTHER_SUITE, "the other suite's (its mac1 is valid under the other Protocol)")

#define HS_REASON_ENUM(n, s) HS_R_##n,
enum hs_reason { HS_R_FIRST = HS_REASON_BASE - 1, HS_REASONS(HS_REASON_ENUM) HS_R_END };
#undef HS_REASON_ENUM
#define HS_R_COUNT (HS_R_END - HS_REASON_BASE)

/* The name of a reason or of an errno; either sign. Never NULL. */
const char *handshake_strerror(int reason);
/* True if rc (a return value) is a rejection reason rather than 0 or -errno. */
static inline bool hs_is_rejection(int rc)
{
	return rc <= -HS_REASON_BASE && rc > -HS_R_END;
}

/* ---------------------------------------------------------------- objects */

/* A UDP source or destination. family is 4 or 6; for 4, addr[0..3]. */
struct hs_addr {
	uint8_t family;
	uint8_t addr[16];
	uint16_t port; /* host order */
};

/* What both sides hold after a successful exchange. */
struct hs_keys {
	uint32_t peer_id;
	uint32_t local_index;  /* our index: the receiver index of packets sent to us */
	uint32_t remote_index; /* the peer's: put in packets we send */
	bool initiator;
	struct noise_direction tx; /* the tunnel's AES-256 key + salt for sending */
	struct noise_direction rx; /* ... and for receiving */
};

/*
 * The outcome of receiving one message. reply (reply_len > 0) goes back to
 * the source: a response to an accepted initiation, or a cookie reply. keys is
 * valid when have_keys. The responder must not send with its tx key before it
 * has received an authenticated packet under its rx key (key confirmation).
 * Wipe with hs_result_wipe().
 */
struct hs_result {
	uint8_t reply[HS_MAX_MSG_LEN];
	size_t reply_len;
	bool have_keys;
	struct hs_keys keys;
	uint32_t peer_id; /* valid when the peer is known (have_keys or a cookie accepted) */
};

struct hs_stats {
	uint64_t received;
	uint64_t accepted;
	uint64_t noise_attempts; /* messages that got as far as DH */
	uint64_t cookie_replies_sent;
	uint64_t cookie_replies_withheld; /* same source again within HS_COOKIE_REPLY_GAP_MS */
	uint64_t load_entered; /* times the device went under load (not the operator flag) */
	uint64_t rejected[HS_R_COUNT]; /* index = reason - HS_REASON_BASE */
};

struct hs_device;

/* ---------------------------------------------------------------- suites */

/*
 * The Noise protocol under the messages. Wire format, order of checks,
 * cookies, rate limits, replay protection and indices above are the same for
 * both suites; a suite supplies only its hash-based MACs, its TAI64N and the
 * Noise message bodies (initiation bytes 8..115, response bytes 12..59):
 *   hs_suite_bpftun     Noise_IK_25519_ChaChaPoly_BLAKE2b, prologue
 *                       HS_PROLOGUE || the initiation's first 8 bytes; MACs
 *                       keyed BLAKE2b; keys: AES-256 key + salt (noise.h)
 *   hs_suite_wireguard  WireGuard: Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s with
 *                       its constants, MACs keyed BLAKE2s, the peer's psk;
 *                       keys: the ChaCha20-Poly1305 keys, salt zero
 *                       (wg_handshake.c on wg_noise.c)
 * The body functions return 0, -EBADMSG (authentication), -EKEYREJECTED (a
 * zero DH result) or -errno; st is wiped by the caller.
 */
union hs_noise {
	struct noise_handshake ik;
	struct wg_handshake wg;
};

struct hs_suite {
	const char *name;
	/* HASH(label || pub), 32 bytes: the mac1 and cookie-reply keys */
	int (*label_key)(const char label[8], const uint8_t pub[NOISE_DHLEN], uint8_t out[32]);
	/* the 16-byte keyed MAC of mac1, mac2 and cookies */
	int (*mac)(const uint8_t *key, size_t key_len, const uint8_t *msg, size_t len,
		   uint8_t out[HS_MAC_LEN]);
	/* TAI64N of a wall-clock time in ns (WireGuard's hides finer time than
	 * its quantum: a time ts_quantum_ns later always encodes greater) */
	void (*tai64n)(uint64_t real_ns, uint8_t out[HS_TAI64N_LEN]);
	uint64_t ts_quantum_ns;
	/* initiator: msg[0..8) written; the body into msg, st pending. e: an
	 * ephemeral private key to use (tests), or NULL */
	int (*write_init)(union hs_noise *st, const struct noise_keypair *s,
			  const uint8_t rs[NOISE_DHLEN], const uint8_t *e,
			  const uint8_t ts[HS_TAI64N_LEN], uint8_t *msg);
	/* responder: open an initiation (mac1 already checked): st, the
	 * initiator's static key and timestamp */
	int (*read_init)(union hs_noise *st, const struct noise_keypair *s, const uint8_t *msg,
			 uint8_t rs[NOISE_DHLEN], uint8_t ts[HS_TAI64N_LEN]);
	/* responder: msg[0..12) written; the body, and the session's keys */
	int (*write_resp)(union hs_noise *st, const struct noise_keypair *s, const uint8_t psk[32],
			  const uint8_t *e, uint8_t *msg, struct noise_direction *tx,
			  struct noise_direction *rx);
	/* initiator: open a response on st (a copy of the pending one); keys */
	int (*read_resp)(union hs_noise *st, const struct noise_keypair *s, const uint8_t psk[32],
			 const uint8_t *msg, struct noise_direction *tx,
			 struct noise_direction *rx);
};

extern const struct hs_suite hs_suite_bpftun;
extern const struct hs_suite hs_suite_wireguard;

/* A clock: monotonic ns (rate limiting, ages) and wall-clock ns since the Unix
 * epoch (TAI64N timestamps). */
typedef uint64_t (*hs_clock_fn)(void *arg);

/* ---------------------------------------------------------------- device */

/* A device with the given static private key (NULL: a fresh random one). */
int hs_device_new(struct hs_device **out, const uint8_t static_priv[NOISE_DHLEN]);
/* The same for a suite (hs_device_new: hs_suite_bpftun). */
int hs_device_new_suite(struct hs_device **out, const uint8_t static_priv[NOISE_DHLEN],
			const struct hs_suite *suite);
/* The suite a mismatched peer may speak: a message whose mac1 fails under
 * ours but is valid under this one is rejected as HS_R_OTHER_SUITE instead
 * of HS_R_BAD_MAC1, so that the operator learns that the two ends' Protocol
 * differs. NULL: none (the default). */
int hs_set_other_suite(struct hs_device *dev, const struct hs_suite *other);
/* Wipes every secret and frees the device. NULL is allowed. */
void hs_device_free(struct hs_device *dev);
void hs_device_public_key(const struct hs_device *dev, uint8_t pub[NOISE_DHLEN]);
/* Replace the clocks (tests); NULL restores CLOCK_MONOTONIC / CLOCK_REALTIME. */
void hs_set_clock(struct hs_device *dev, hs_clock_fn mono_ns, hs_clock_fn real_ns, void *arg);
/* The operator's "under load" flag. The device is also under load for
 * HS_LOAD_HOLD_MS (see hs_set_limits) after the rate limiter dropped a
 * message, after the global bucket ran empty, or after hs_note_backlog(). */
void hs_set_under_load(struct hs_device *dev, bool on);
bool hs_under_load(struct hs_device *dev);
/* Rate limiter parameters (defaults HS_RATE_PER_S, HS_RATE_BURST,
 * HS_LOAD_HOLD_MS; load_hold_ms 0 turns the automatic load state off). */
int hs_set_limits(struct hs_device *dev, uint32_t per_s, uint32_t burst, uint32_t load_hold_ms);
/* The global bucket (defaults HS_LOAD_RATE_PER_S, HS_LOAD_BURST), refilled. */
int hs_set_load_limit(struct hs_device *dev, uint32_t per_s, uint32_t burst);
/* The caller's queue of received messages is deep (WireGuard's measure of
 * load): under load for HS_LOAD_HOLD_MS (1 s if that is 0). */
void hs_note_backlog(struct hs_device *dev);
void hs_get_stats(const struct hs_device *dev, struct hs_stats *st);

/* A peer by static public key. -EEXIST if known, -ENOSPC if the table is full,
 * -EINVAL for our own key. */
int hs_peer_add(struct hs_device *dev, const uint8_t pub[NOISE_DHLEN], uint32_t *peer_id);
/* The same at a given id (the datapath's peer id): -EBUSY if taken. The
 * caller guarantees pub is not known under another id (the peers map is
 * unique by key), which is not checked. */
int hs_peer_add_at(struct hs_device *dev, const uint8_t pub[NOISE_DHLEN], uint32_t peer_id);
/* Forget a peer: its state (pending handshake, cookie, timestamps) zeroed. */
int hs_peer_remove(struct hs_device *dev, uint32_t peer_id);
/* The peer's pre-shared key (psk2 in both suites, as WireGuard's
 * PresharedKey); NULL or never set: 32 zero bytes. Used from the next
 * handshake message 2 this side writes or reads; wiped with the peer. */
int hs_peer_set_psk(struct hs_device *dev, uint32_t peer_id, const uint8_t psk[NOISE_PSKLEN]);
/* The greatest initiation timestamp accepted from a peer, out and in, so
 * that a restarted key manager keeps refusing replays of old initiations.
 * get: -ENODATA before the first; set: keeps the greater of the two. */
int hs_peer_get_timestamp(struct hs_device *dev, uint32_t peer_id, uint8_t ts[HS_TAI64N_LEN]);
int hs_peer_set_timestamp(struct hs_device *dev, uint32_t peer_id, const uint8_t ts[HS_TAI64N_LEN]);
/* Use priv as the ephemeral of the next message this device writes (tests:
 * deterministic transcripts), then fresh random ones again. */
int hs_set_next_ephemeral(struct hs_device *dev, const uint8_t priv[NOISE_DHLEN]);

/* ---------------------------------------------------------------- messages */

/*
 * Initiator: a new initiation to peer_id into out (out_size >= 148); it
 * replaces any pending one. mac2 is set if a cookie from the peer is fresh.
 */
int hs_create_initiation(struct hs_device *dev, uint32_t peer_id, uint8_t *out, size_t out_size);

/*
 * Consume one received message from src. Each checks the type first (so a
 * message of another type is HS_R_BAD_TYPE); hs_receive() dispatches on it.
 * res is always reset; it may carry a reply even when the return is a
 * rejection (HS_R_NEEDS_COOKIE, HS_R_BAD_MAC2: a cookie reply, unless that
 * source was sent one less than HS_COOKIE_REPLY_GAP_MS ago).
 */
int hs_consume_initiation(struct hs_device *dev, const uint8_t *msg, size_t len,
			  const struct hs_addr *src, struct hs_result *res);
int hs_consume_response(struct hs_device *dev, const uint8_t *msg, size_t len,
			const struct hs_addr *src, struct hs_result *res);
int hs_consume_cookie(struct hs_device *dev, const uint8_t *msg, size_t len, struct hs_result *res);
int hs_receive(struct hs_device *dev, const uint8_t *msg, size_t len, const struct hs_addr *src,
	       struct hs_result *res);
void hs_result_wipe(struct hs_result *res);

/* ---------------------------------------------------------------- helpers */

/* Fill mac1 of an initiation or response (len 148 or 92) for the receiver's
 * static public key, or mac2 under a 16-byte cookie (NULL: all zero). */
int hs_seal_mac1(const uint8_t receiver_pub[NOISE_DHLEN], uint8_t *msg, size_t len);
int hs_seal_mac2(const uint8_t *cookie, uint8_t *msg, size_t len);
/* TAI64N of a wall-clock time: be64(2^62 + seconds) || be32(nanoseconds). */
void hs_tai64n(uint64_t real_ns, uint8_t out[HS_TAI64N_LEN]);
void hs_addr_v4(struct hs_addr *a, const uint8_t ip[4], uint16_t port);
void hs_addr_v6(struct hs_addr *a, const uint8_t ip[16], uint16_t port);

#endif /* BPFTUN_HANDSHAKE_H */
