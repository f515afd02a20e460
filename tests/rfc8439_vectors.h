/* SPDX-License-Identifier: GPL-2.0 */
/*
 * rfc8439_vectors.h - Poly1305 test vectors (data file, no code).
 *
 * Holds struct poly_vec and poly_vecs[]: the Poly1305 example of RFC 8439
 * section 2.5.2 and the eleven Poly1305 test vectors of RFC 8439 Appendix A.3
 * (#1..#11), copied from the RFC text (https://www.rfc-editor.org/rfc/rfc8439).
 * Keys and tags are hex; a message is given as text (IETF_TEXT, JABBERWOCKY:
 * the RFC's message bytes as ASCII), as hex, or as a count of zero bytes, and
 * msg_len is the length the RFC gives, so a typing error is caught.
 * Z16 and F16 are 16 bytes of 0x00 and 0xff in hex.
 *
 * Used by tests/test_ref_aead.c (against libsodium, via ref_poly1305) and
 * tests/test_poly1305_bpf.c (against bpf/lib/poly1305.h in BPF).
 * Everything here is static const; parse with unhex() from tests/check.h.
 */
#ifndef BPFTUN_TESTS_RFC8439_VECTORS_H
#define BPFTUN_TESTS_RFC8439_VECTORS_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define IETF_TEXT                                                                                  \
	"Any submission to the IETF intended by the Contributor for publication as all or part "   \
	"of an IETF Internet-Draft or RFC and any statement made within the context of an IETF "   \
	"activity is considered an \"IETF Contribution\". Such statements include oral "           \
	"statements in IETF sessions, as well as written and electronic communications made at "   \
	"any time or place, which are addressed to"

#define JABBERWOCKY                                                                                \
	"'Twas brillig, and the slithy toves\nDid gyre and gimble in the wabe:\n"                  \
	"All mimsy were the borogoves,\nAnd the mome raths outgrabe."

#define Z16 "00000000000000000000000000000000"
#define F16 "ffffffffffffffffffffffffffffffff"

struct poly_vec {
	const char *name;
	const char *key;  /* hex, 32 bytes: r || s */
	const char *text; /* message as text, or NULL */
	const char *hex;  /* message as hex, or NULL */
	size_t zeros;	  /* or: this many zero bytes */
	size_t msg_len;	  /* expected message length, catches typing errors */
	const char *tag;
};

/* clang-format off */
static const struct poly_vec poly_vecs[] __attribute__((unused)) = {
	{"RFC 8439 2.5.2 (Cryptographic Forum Research Group)",
	 "85d6be7857556d337f4452fe42d506a8 0103808afb0db2fd4abff6af4149f51b",
	 "Cryptographic Forum Research Group", NULL, 0, 34,
	 "a8061dc1305136c6c22b8baf0c0127a9"},
	{"RFC 8439 A.3 #1 (zero key, 64 zero bytes)",
	 Z16 Z16,
	 NULL, NULL, 64, 64,
	 Z16},
	{"RFC 8439 A.3 #2 (r = 0, IETF text)",
	 Z16 "36e5f6b5c5e06070f0efca96227a863e",
	 IETF_TEXT, NULL, 0, 375,
	 "36e5f6b5c5e06070f0efca96227a863e"},
	{"RFC 8439 A.3 #3 (s = 0, IETF text)",
	 "36e5f6b5c5e06070f0efca96227a863e" Z16,
	 IETF_TEXT, NULL, 0, 375,
	 "f3477e7cd95417af89a6b8794c310cf0"},
	{"RFC 8439 A.3 #4 (Jabberwocky)",
	 "1c9240a5eb55d38af333888604f6b5f0 473917c1402b80099dca5cbc207075c0",
	 JABBERWOCKY, NULL, 0, 127,
	 "4541669a7eaaee61e708dc7cbcc5eb62"},
	{"RFC 8439 A.3 #5 (partially reduced result not fully reduced)",
	 "02000000000000000000000000000000" Z16,
	 NULL, F16, 0, 16,
	 "03000000000000000000000000000000"},
	{"RFC 8439 A.3 #6 (s addition overflows 2^128)",
	 "02000000000000000000000000000000" F16,
	 NULL, "02000000000000000000000000000000", 0, 16,
	 "03000000000000000000000000000000"},
	{"RFC 8439 A.3 #7 (all-ones limb with carry)",
	 "01000000000000000000000000000000" Z16,
	 NULL,
	 F16
	 "f0ffffffffffffffffffffffffffffff"
	 "11000000000000000000000000000000", 0, 48,
	 "05000000000000000000000000000000"},
	{"RFC 8439 A.3 #8 (result exactly 2^130-5)",
	 "01000000000000000000000000000000" Z16,
	 NULL,
	 F16
	 "fbfefefefefefefefefefefefefefefe"
	 "01010101010101010101010101010101", 0, 48,
	 Z16},
	{"RFC 8439 A.3 #9 (result exactly 2^130-6)",
	 "02000000000000000000000000000000" Z16,
	 NULL, "fdffffffffffffffffffffffffffffff", 0, 16,
	 "faffffffffffffffffffffffffffffff"},
	{"RFC 8439 A.3 #10 (5*H+L reduction, 131-bit intermediate)",
	 "01000000000000000400000000000000" Z16,
	 NULL,
	 "e33594d7505e43b90000000000000000"
	 "3394d7505e4379cd0100000000000000"
	 Z16
	 "01000000000000000000000000000000", 0, 64,
	 "14000000000000005500000000000000"},
	{"RFC 8439 A.3 #11 (5*H+L reduction, 131-bit final result)",
	 "01000000000000000400000000000000" Z16,
	 NULL,
	 "e33594d7505e43b90000000000000000"
	 "3394d7505e4379cd0100000000000000"
	 Z16, 0, 48,
	 "13000000000000000000000000000000"},
};
/* clang-format on */

#define POLY_VECS_N (sizeof(poly_vecs) / sizeof(poly_vecs[0]))

/* Decode vector pv into key, msg (msg_max bytes) and the expected tag.
 * Returns the message length, or -1 if the vector's text is malformed (a
 * typo in this file); needs unhex() from check.h. */
__attribute__((unused)) static long poly_vec_load(const struct poly_vec *pv, uint8_t key[32],
						  uint8_t *msg, size_t msg_max, uint8_t want[16])
{
	long len;

	if (pv->text) {
		len = (long)strlen(pv->text);
		if ((size_t)len > msg_max)
			return -1;
		memcpy(msg, pv->text, (size_t)len);
	} else if (pv->hex) {
		len = unhex(pv->hex, msg, msg_max);
	} else {
		if (pv->zeros > msg_max)
			return -1;
		len = (long)pv->zeros;
		memset(msg, 0, pv->zeros);
	}
	if (unhex(pv->key, key, 32) != 32 || unhex(pv->tag, want, 16) != 16 ||
	    len != (long)pv->msg_len)
		return -1;
	return len;
}

#endif /* BPFTUN_TESTS_RFC8439_VECTORS_H */
