/* SPDX-License-Identifier: GPL-2.0 */
/*
 * noise.h - the Noise protocol framework (noiseprotocol.org, revision 34) for
 * exactly one protocol, "Noise_IKpsk2_25519_ChaChaPoly_BLAKE2b", built from
 * libsodium primitives only.
 *
 * Owns the interface of the CipherState, SymmetricState and HandshakeState
 * objects of the spec (section 5), the HMAC-BLAKE2b and HKDF of section 4.3,
 * and the transport split. The functions are:
 *   DH     X25519 (crypto_scalarmult_curve25519); an all-zero result is refused
 *   CIPHER ChaCha20-Poly1305 IETF, nonce = 4 zero bytes || le64(n)
 *   HASH   BLAKE2b-512 (HASHLEN 64, BLOCKLEN 128)
 *   HMAC   RFC 2104 over BLAKE2b-512 (not libsodium's keyed BLAKE2b)
 * IKpsk2 pattern (IK with the psk2 modifier, spec 9), with the pre-message "<- s":
 *   -> e, es, s, ss
 *   <- e, ee, se, psk
 * As in every psk handshake (spec 9.2), each "e" token is also MixKey(e.pub);
 * "psk" is MixKeyAndHash(psk). The PSK is 32 bytes; a handshake without one
 * uses 32 zero bytes, as WireGuard does (noise_handshake_set_psk).
 *
 * Every function returns 0 or -errno:
 *   -EINVAL       bad argument, or the call does not fit the handshake's state
 *   -EMSGSIZE     a buffer is too small, or a message or payload too long
 *   -EBADMSG      authentication failed (a message or ciphertext was altered)
 *   -EKEYREJECTED a DH result was all zero (a low-order public key)
 *   -EOVERFLOW    a CipherState's nonce is exhausted
 *   -EIO          libsodium failed
 * A handshake that fails is wiped and must not be used again (spec 5.3): keep
 * a copy if a forged message must not destroy a pending handshake.
 * Secrets (keys, chaining key, DH results, HMAC pads) are wiped with
 * sodium_memzero on every path.
 */
#ifndef BPFTUN_NOISE_H
#define BPFTUN_NOISE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NOISE_PROTOCOL_NAME "Noise_IKpsk2_25519_ChaChaPoly_BLAKE2b"
#define NOISE_PSKLEN	    32
#define NOISE_DHLEN	    32
#define NOISE_HASHLEN	    64
#define NOISE_BLOCKLEN	    128
#define NOISE_KEYLEN	    32
#define NOISE_TAGLEN	    16
#define NOISE_MAX_MSG	    65535
/* The tunnel's per-direction key material taken from each Split() output. */
#define NOISE_AES_KEY_LEN 32
#define NOISE_SALT_LEN	  4

/* Size of each IK handshake message for a payload of p bytes. */
#define NOISE_IK_MSG1_LEN(p) (NOISE_DHLEN + (NOISE_DHLEN + NOISE_TAGLEN) + (p) + NOISE_TAGLEN)
#define NOISE_IK_MSG2_LEN(p) (NOISE_DHLEN + (p) + NOISE_TAGLEN)

struct noise_keypair {
	uint8_t pub[NOISE_DHLEN];
	uint8_t priv[NOISE_DHLEN];
};

/* CipherState (spec 5.1): k is "empty" while has_key is false. */
struct noise_cipher {
	uint8_t k[NOISE_KEYLEN];
	uint64_t n;
	bool has_key;
};

/* SymmetricState (spec 5.2). */
struct noise_symmetric {
	struct noise_cipher cs;
	uint8_t ck[NOISE_HASHLEN];
	uint8_t h[NOISE_HASHLEN];
};

enum noise_role {
	NOISE_INITIATOR = 1,
	NOISE_RESPONDER = 2,
};

/* HandshakeState (spec 5.3) for IK. Treat as opaque. */
struct noise_handshake {
	struct noise_symmetric ss;
	enum noise_role role;
	int msg; /* next message: 0 = initiator's, 1 = responder's, 2 = done, -1 = dead */
	struct noise_keypair s;
	struct noise_keypair e;
	bool has_e; /* e was injected (test vectors) and is used instead of a fresh one */
	uint8_t rs[NOISE_DHLEN];
	uint8_t re[NOISE_DHLEN];
	bool has_rs;
	uint8_t psk[NOISE_PSKLEN]; /* all zero unless noise_handshake_set_psk() */
};

/* One direction's key material for the tunnel's AEAD, from a Split() output. */
struct noise_direction {
	uint8_t key[NOISE_AES_KEY_LEN];
	uint8_t salt[NOISE_SALT_LEN];
};

/*
 * The result of Split(). HKDF(ck, "", 2) gives two 64-byte outputs:
 *   out1: initiator -> responder   out2: responder -> initiator
 * send/recv are the spec's CipherStates (k = bytes 0..31 of the output).
 * tx/rx hold, from the same outputs, key = bytes 0..31 and salt = bytes 32..35.
 * The two views share the key bytes: a session uses either the Noise
 * CipherStates or the tunnel keys, never both with the same output.
 */
struct noise_transport {
	struct noise_cipher send;
	struct noise_cipher recv;
	struct noise_direction tx;
	struct noise_direction rx;
	uint8_t handshake_hash[NOISE_HASHLEN]; /* h at Split(): channel binding */
	enum noise_role role;
};

/* sodium_init(); call once before anything else (idempotent). */
int noise_init(void);

/* ------------------------------------------------------- primitives (spec 4) */

/* HASH: BLAKE2b-512 of len bytes. */
int noise_hash(const uint8_t *data, size_t len, uint8_t out[NOISE_HASHLEN]);
/* HMAC-BLAKE2b-512 per RFC 2104 (B = 128, L = 64); any key length. */
int noise_hmac(const uint8_t *key, size_t key_len, const uint8_t *data, size_t len,
	       uint8_t out[NOISE_HASHLEN]);
/*
 * HKDF(chaining_key, input_key_material, num_outputs) of spec 4.3: num_outputs
 * is 2 or 3; out3 may be NULL when it is 2. Outputs are HASHLEN bytes, not
 * truncated (callers truncate as the spec says).
 */
int noise_hkdf(const uint8_t ck[NOISE_HASHLEN], const uint8_t *ikm, size_t ikm_len,
	       unsigned int num_outputs, uint8_t out1[NOISE_HASHLEN], uint8_t out2[NOISE_HASHLEN],
	       uint8_t out3[NOISE_HASHLEN]);
/* DH: X25519; -EKEYREJECTED if the result is all zero. */
int noise_dh(const uint8_t priv[NOISE_DHLEN], const uint8_t pub[NOISE_DHLEN],
	     uint8_t out[NOISE_DHLEN]);
/* A fresh random keypair, or the keypair of a given private key. */
int noise_keypair_generate(struct noise_keypair *kp);
int noise_keypair_from_private(struct noise_keypair *kp, const uint8_t priv[NOISE_DHLEN]);

/* --------------------------------------------------------------- handshake */

/*
 * Initialize(IK, initiator, prologue, s, e = empty, rs, re = empty).
 * The initiator must give rs (the responder's static public key); the
 * responder must pass rs = NULL (it learns the initiator's from message 1).
 * prologue may be NULL when prologue_len is 0.
 */
int noise_handshake_init(struct noise_handshake *hs, enum noise_role role,
			 const struct noise_keypair *s, const uint8_t *rs, const uint8_t *prologue,
			 size_t prologue_len);
/* Use this ephemeral private key instead of a fresh random one (test vectors).
 * Only before this side writes its message. */
int noise_handshake_set_ephemeral(struct noise_handshake *hs, const uint8_t priv[NOISE_DHLEN]);
/*
 * The pre-shared key mixed in by message 2's "psk" token; NULL = 32 zero
 * bytes (the default). Allowed until that token is processed: the initiator
 * before it reads message 2, the responder before it writes it (after reading
 * message 1, once it knows who the initiator is). -EINVAL otherwise.
 */
int noise_handshake_set_psk(struct noise_handshake *hs, const uint8_t psk[NOISE_PSKLEN]);
/*
 * WriteMessage: the next handshake message, carrying payload (NULL if 0 bytes),
 * into out (out_size bytes, at least NOISE_IK_MSG1_LEN/MSG2_LEN(payload_len)).
 * On -EMSGSIZE/-EINVAL from argument checks the state is unchanged.
 */
int noise_write_message(struct noise_handshake *hs, const uint8_t *payload, size_t payload_len,
			uint8_t *out, size_t out_size, size_t *out_len);
/*
 * ReadMessage: consume the peer's next handshake message of len bytes; its
 * payload goes to payload (payload_size bytes; NULL if 0). On -EBADMSG or
 * -EKEYREJECTED the handshake is wiped and dead.
 */
int noise_read_message(struct noise_handshake *hs, const uint8_t *msg, size_t len, uint8_t *payload,
		       size_t payload_size, size_t *payload_len);
/* After message 1 was read (responder) or always (initiator): the peer's static key. */
int noise_handshake_remote_static(const struct noise_handshake *hs, uint8_t rs[NOISE_DHLEN]);
/* The current handshake hash h. */
int noise_handshake_hash(const struct noise_handshake *hs, uint8_t h[NOISE_HASHLEN]);
/* Split() once both messages are done: fills t and wipes hs. */
int noise_split(struct noise_handshake *hs, struct noise_transport *t);
void noise_handshake_wipe(struct noise_handshake *hs);

/* --------------------------------------------------------------- transport */

/* EncryptWithAd / DecryptWithAd of a keyed CipherState. out gets len + 16
 * (encrypt) or len - 16 (decrypt) bytes; in-place (out == in) is allowed.
 * A failed decryption leaves n unchanged. */
int noise_cipher_encrypt(struct noise_cipher *c, const uint8_t *ad, size_t ad_len,
			 const uint8_t *pt, size_t len, uint8_t *out);
int noise_cipher_decrypt(struct noise_cipher *c, const uint8_t *ad, size_t ad_len,
			 const uint8_t *ct, size_t len, uint8_t *out);
void noise_transport_wipe(struct noise_transport *t);

#endif /* BPFTUN_NOISE_H */
