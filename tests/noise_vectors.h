/* SPDX-License-Identifier: GPL-2.0 */
/*
 * noise_vectors.h - a published test vector for bpftun's Noise protocol,
 * Noise_IKpsk2_25519_ChaChaPoly_BLAKE2b, copied byte for byte from the
 * cacophony test vectors (the Haskell Noise implementation's vector file,
 * which snow also ships):
 *   https://github.com/haskell-cryptography/cacophony/blob/8ee9d41e34a1a596cfa3ab12aa4069ff87dc1247/vectors/cacophony.txt
 *   https://github.com/mcginty/snow/blob/8ac60f51cfe3e010c84f0a454cc575ad9204fa12/tests/vectors/cacophony.txt
 * (the entry "protocol_name": "Noise_IKpsk2_25519_ChaChaPoly_BLAKE2b"; the two
 * files hold the same entry). One PSK on both sides; messages alternate
 * initiator, responder, ...; the first two are the handshake, the rest
 * transport messages. Hex strings.
 */
#ifndef BPFTUN_NOISE_VECTORS_H
#define BPFTUN_NOISE_VECTORS_H

#define CACO_IKPSK2_NAME	"Noise_IKpsk2_25519_ChaChaPoly_BLAKE2b"
#define CACO_IKPSK2_PROLOGUE	"4a6f686e2047616c74"
#define CACO_IKPSK2_PSK		"54686973206973206d7920417573747269616e20706572737065637469766521"
#define CACO_IKPSK2_INIT_STATIC "e61ef9919cde45dd5f82166404bd08e38bceb5dfdfded0a34c8df7ed542214d1"
#define CACO_IKPSK2_INIT_EPHEMERAL                                                                 \
	"893e28b9dc6ca8d611ab664754b8ceb7bac5117349a4439a6b0569da977c464a"
#define CACO_IKPSK2_INIT_REMOTE_STATIC                                                             \
	"31e0303fd6418d2f8c0e78b91f22e8caed0fbe48656dcf4767e4834f701b8f62"
#define CACO_IKPSK2_RESP_STATIC "4a3acbfdb163dec651dfa3194dece676d437029c62a408b4c5ea9114246e4893"
#define CACO_IKPSK2_RESP_EPHEMERAL                                                                 \
	"bbdb4cdbd309f1a1f2e1456967fe288cadd6f712d65dc7b7793d5e63da6b375b"
#define CACO_IKPSK2_HANDSHAKE_HASH                                                                 \
	"ed837c9084f2f0333a7ec60b9bcacd9921394858de8ced118b5966d1147ba390084dab42326c565a"         \
	"309c29317a6079be30aa1d790d25a517b43287426cb1d36a"

static const char *const caco_ikpsk2_payload[6] = {
    "4c756477696720766f6e204d69736573",
    "4d757272617920526f746862617264",
    "462e20412e20486179656b",
    "4361726c204d656e676572",
    "4a65616e2d426170746973746520536179",
    "457567656e2042f6686d20766f6e2042617765726b",
};

static const char *const caco_ikpsk2_ciphertext[6] = {
    ("ca35def5ae56cec33dc2036731ab14896bc4c75dbb07a61f879f8e3afa4c7944b6fe0240b839afac"
     "809de1630eaf99d8f9b941394f0512c0554633bbb021d15176135c0a20e7fdb9a9ed066f22f054b4"
     "7625b1d5061cb27d6a17f053273db7c25216a5addc506ee321bc0618feb5849d"),
    ("95ebc60d2b1fa672c1f46a8aa265ef51bfe38e7ccb39ec5be34069f1448088438f627e69fc120006"
     "f746b9d420bf4056cf8481ab32d9e904ffaeeaa56a5290"),
    "07fc0034398a5f1010322be193d62f94bebf2948a20b3e15d681fe",
    "2ea5400f5b8a16971c8b67bde75aeb7987d454b1c0beeb2566932d",
    "96eef918ef51639fc0e156da1823c4f71b33fac5af983f5da9384f7da20d86ed91",
    "f02766a56496e1fbf32e05274baebf6d693c8f3e4c6e0dc7ebdc5ac170f15dae433b92f469",
};

#endif /* BPFTUN_NOISE_VECTORS_H */
