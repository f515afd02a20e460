/* SPDX-License-Identifier: GPL-2.0 */
/*
 * wg_noise.h - WireGuard's handshake (https://www.wireguard.com/protocol/,
 * and the WireGuard paper, section 5): Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s
 * with WireGuard's constants, its message formats, mac1/mac2, cookie replies
 * and the derivation of the transport keys.
 *
 *   HASH  BLAKE2s-256 (blake2s.h)        MAC   keyed BLAKE2s, 16-byte output
 *   HMAC  RFC 2104 over BLAKE2s-256      KDFn  HKDF of the paper on HMAC
 *   DH    X25519 (libsodium); an all-zero result is refused
 *   AEAD  ChaCha20-Poly1305 IETF, nonce = 4 zero bytes || le64(counter)
 *   XAEAD XChaCha20-Poly1305 (libsodium), for cookie replies
 *
 * Pure functions: no clock, no sockets, no global state. Ephemeral private
 * keys, timestamps and cookie-reply nonces can be injected (NULL = fresh
 * random), so a transcript can be reproduced byte for byte.
 *
 * Every function returns 0 or -errno:
 *   -EINVAL       bad argument, or the call does not fit the handshake state
 *   -EMSGSIZE     a message has the wrong length
 *   -EBADMSG      wrong type/reserved bytes, bad mac1/mac2, or AEAD failure
 *   -ESTALE       a response whose receiver index is not our sender index
 *   -EKEYREJECTED a DH result was all zero (a low-order public key)
 *   -EIO          libsodium failed
 * A consume that fails leaves the handshake exactly as it was: a forged
 * message cannot destroy a pending handshake. Secrets (ephemeral keys,
 * chaining key, DH results, AEAD keys) are wiped with sodium_memzero on every
 * path; wg_derive_keys wipes the handshake.
 */
#ifndef BPFTUN_WG_NOISE_H
#define BPFTUN_WG_NOISE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WG_CONSTRUCTION "Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s"
#define WG_IDENTIFIER	"WireGuard v1 zx2c4 Jason@zx2c4.com"
#define WG_LABEL_MAC1	"mac1----"
#define WG_LABEL_COOKIE "cookie--"

#define WG_KEY_LEN    32
#define WG_HASH_LEN   32
#define WG_MAC_LEN    16
#define WG_COOKIE_LEN 16
#define WG_TAG_LEN    16
#define WG_TAI64N_LEN 12
#define WG_XNONCE_LEN 24

/* Message types (first byte; the next three bytes are zero). */
#define WG_MSG_INITIATION 1
#define WG_MSG_RESPONSE	  2
#define WG_MSG_COOKIE	  3
#define WG_MSG_DATA	  4

/* Message 1, initiation: 148 bytes. */
#define WG_INIT_LEN	  148
#define WG_INIT_SENDER	  4
#define WG_INIT_EPHEMERAL 8
#define WG_INIT_STATIC	  40 /* 32 + 16 */
#define WG_INIT_TIMESTAMP 88 /* 12 + 16 */
#define WG_INIT_MAC1	  116
#define WG_INIT_MAC2	  132
/* Message 2, response: 92 bytes. */
#define WG_RESP_LEN	  92
#define WG_RESP_SENDER	  4
#define WG_RESP_RECEIVER  8
#define WG_RESP_EPHEMERAL 12
#define WG_RESP_EMPTY	  44 /* 0 + 16 */
#define WG_RESP_MAC1	  60
#define WG_RESP_MAC2	  76
/* Cookie reply: 64 bytes. */
#define WG_COOKIE_REPLY_LEN 64
#define WG_COOKIE_RECEIVER  4
#define WG_COOKIE_NONCE	    8
#define WG_COOKIE_ENC	    32 /* 16 + 16 */
/* Data message: 16-byte header, then ciphertext || tag. */
#define WG_DATA_HDR_LEN 16
#define WG_DATA_MIN_LEN (WG_DATA_HDR_LEN + WG_TAG_LEN) /* a keepalive */

/* Our static identity, with the two keys derived from the public key. */
struct wg_identity {
	uint8_t priv[WG_KEY_LEN];
	uint8_t pub[WG_KEY_LEN];
	uint8_t mac1_key[WG_HASH_LEN];	 /* HASH(LABEL_MAC1 || pub): checks mac1 sent to us */
	uint8_t cookie_key[WG_HASH_LEN]; /* HASH(LABEL_COOKIE || pub): seals our cookie replies */
};

enum wg_hs_state {
	WG_HS_EMPTY = 0,
	WG_HS_INIT_CREATED,  /* initiator: message 1 sent, waiting for message 2 */
	WG_HS_INIT_CONSUMED, /* responder: message 1 accepted, message 2 not yet made */
	WG_HS_RESP_CREATED,  /* responder: message 2 made, keys ready */
	WG_HS_RESP_CONSUMED, /* initiator: message 2 accepted, keys ready */
};

/* One handshake in progress. Treat as opaque. */
struct wg_handshake {
	enum wg_hs_state state;
	uint8_t h[WG_HASH_LEN];
	uint8_t ck[WG_HASH_LEN];
	uint8_t e_priv[WG_KEY_LEN];
	uint8_t e_pub[WG_KEY_LEN];
	uint8_t remote_e[WG_KEY_LEN];
	uint8_t remote_static[WG_KEY_LEN];
	uint8_t last_mac1[WG_MAC_LEN]; /* mac1 of the message we sent: cookie reply AD */
	uint32_t local_index;
	uint32_t remote_index;
};

/* The transport keys of one session (the paper's T_send, T_recv). */
struct wg_session_keys {
	uint8_t send[WG_KEY_LEN];
	uint8_t recv[WG_KEY_LEN];
	uint32_t local_index;  /* ours: the receiver index on messages we receive */
	uint32_t remote_index; /* theirs: the receiver index on messages we send */
	bool initiator;
};

/* sodium_init(); call once before anything else (idempotent). */
int wg_noise_init(void);

/* ------------------------------------------------------------- primitives */

/* HASH(a || b), BLAKE2s-256. */
void wg_hash(uint8_t out[WG_HASH_LEN], const void *a, size_t alen, const void *b, size_t blen);
/* MAC(key, msg) = keyed BLAKE2s-128; key of 16 or 32 bytes. */
void wg_mac(uint8_t out[WG_MAC_LEN], const uint8_t *key, size_t keylen, const void *msg,
	    size_t len);
/* KDF_n(key, input) for n = 1..3 (out2/out3 may be NULL for smaller n). */
void wg_kdf(const uint8_t key[WG_HASH_LEN], const void *in, size_t len, uint8_t out1[32],
	    uint8_t out2[32], uint8_t out3[32]);
/* TAI64N of a wall-clock time: be64(2^62 + 10 + sec) || be32(nsec).
 * Big endian: two TAI64N values compare with memcmp (the responder accepts
 * an initiation only if its timestamp is greater than the last one). */
void wg_tai64n(uint64_t unix_sec, uint32_t nsec, uint8_t out[WG_TAI64N_LEN]);
/* TAI64N of now (CLOCK_REALTIME), nanoseconds rounded down to a multiple of
 * 2^24 as WireGuard does (no finer clock leaks through the handshake). */
int wg_tai64n_now(uint8_t out[WG_TAI64N_LEN]);

/* Fill id from a private key (NULL: a fresh random one). */
int wg_identity_init(struct wg_identity *id, const uint8_t priv[WG_KEY_LEN]);
void wg_identity_wipe(struct wg_identity *id);

/* ----------------------------------------------------------- handshake */

/*
 * Initiator: message 1 to the peer with static public key peer_pub.
 * e_priv: the ephemeral private key (NULL: fresh random). ts: TAI64N.
 * cookie: the peer's latest cookie (NULL: mac2 is zero).
 * hs is (re)initialized.
 */
int wg_init_create(struct wg_handshake *hs, const struct wg_identity *me,
		   const uint8_t peer_pub[WG_KEY_LEN], const uint8_t e_priv[WG_KEY_LEN],
		   const uint8_t ts[WG_TAI64N_LEN], uint32_t sender_index,
		   const uint8_t cookie[WG_COOKIE_LEN], uint8_t msg[WG_INIT_LEN]);

/*
 * Responder: check message 1 (type, length, mac1 under me->mac1_key) and open
 * it. On success hs holds the handshake and peer_pub/ts the initiator's
 * static key and timestamp; the caller finds the peer by peer_pub, refuses a
 * timestamp not greater than the last one accepted from it, and under load
 * checks mac2 (wg_mac2_check) before calling this at all. hs is written only
 * on success.
 */
int wg_init_consume(struct wg_handshake *hs, const struct wg_identity *me, const uint8_t *msg,
		    size_t len, uint8_t peer_pub[WG_KEY_LEN], uint8_t ts[WG_TAI64N_LEN]);

/* Responder: message 2 after wg_init_consume. psk: the peer's preshared key
 * (NULL: 32 zero bytes). e_priv, cookie as for wg_init_create. */
int wg_resp_create(struct wg_handshake *hs, const struct wg_identity *me,
		   const uint8_t psk[WG_KEY_LEN], const uint8_t e_priv[WG_KEY_LEN],
		   uint32_t sender_index, const uint8_t cookie[WG_COOKIE_LEN],
		   uint8_t msg[WG_RESP_LEN]);

/* Initiator: check and open message 2 (mac1 under me->mac1_key; its receiver
 * index must be our sender index, else -ESTALE). hs changes only on success. */
int wg_resp_consume(struct wg_handshake *hs, const struct wg_identity *me,
		    const uint8_t psk[WG_KEY_LEN], const uint8_t *msg, size_t len);

/* Keys of the finished handshake (RESP_CREATED or RESP_CONSUMED); wipes hs. */
int wg_derive_keys(struct wg_handshake *hs, struct wg_session_keys *keys);
void wg_handshake_wipe(struct wg_handshake *hs);

/* --------------------------------------------------------- mac1, mac2, cookies */

/* 0 if the mac1 of a message 1 or 2 (by its type and length) is right under
 * mac1_key (the receiver's identity->mac1_key), else -EBADMSG/-EMSGSIZE. */
int wg_mac1_check(const uint8_t mac1_key[WG_HASH_LEN], const uint8_t *msg, size_t len);
/* 0 if the mac2 of a message 1 or 2 is MAC(cookie, msg up to mac2). */
int wg_mac2_check(const uint8_t cookie[WG_COOKIE_LEN], const uint8_t *msg, size_t len);

/* The cookie for a source: MAC(secret, addr) where secret is the responder's
 * random value (changed every two minutes) and addr the source IP || port. */
void wg_cookie_make(uint8_t cookie[WG_COOKIE_LEN], const uint8_t secret[32], const void *addr,
		    size_t addr_len);

/*
 * Responder under load: the cookie reply to message `trigger` (a message 1
 * or 2 we received, len bytes): receiver index = the trigger's sender index,
 * encrypted cookie = XAEAD(me->cookie_key, nonce, cookie, AD = trigger's
 * mac1). nonce: 24 bytes (NULL: fresh random).
 */
int wg_cookie_reply_create(const struct wg_identity *me, const uint8_t *trigger, size_t len,
			   const uint8_t cookie[WG_COOKIE_LEN], const uint8_t nonce[WG_XNONCE_LEN],
			   uint8_t out[WG_COOKIE_REPLY_LEN]);

/* Initiator: open a cookie reply from the peer with public key peer_pub, for
 * the message whose mac1 was last_mac1 (hs->last_mac1). */
int wg_cookie_reply_consume(const uint8_t peer_pub[WG_KEY_LEN], const uint8_t last_mac1[WG_MAC_LEN],
			    const uint8_t *msg, size_t len, uint8_t cookie[WG_COOKIE_LEN]);

/* ------------------------------------------------------------ data messages */

/* A type 4 message: header (type, receiver_index, le64 counter) || AEAD(key,
 * counter, pt) with no AD. pt is sealed as given (pad it first). out gets
 * WG_DATA_MIN_LEN + len bytes. */
int wg_data_seal(const uint8_t key[WG_KEY_LEN], uint32_t receiver_index, uint64_t counter,
		 const uint8_t *pt, size_t len, uint8_t *out);
/* Open a type 4 message of len bytes into pt (len - 32 bytes); gives its
 * receiver index and counter (replay checks are the caller's). */
int wg_data_open(const uint8_t key[WG_KEY_LEN], const uint8_t *msg, size_t len, uint8_t *pt,
		 uint32_t *receiver_index, uint64_t *counter);

#endif /* BPFTUN_WG_NOISE_H */
