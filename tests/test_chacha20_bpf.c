// SPDX-License-Identifier: GPL-2.0
/*
 * test_chacha20_bpf.c - ChaCha20 (bpf/lib/chacha20.h) and WireGuard's
 * ChaCha20-Poly1305 (bpf/lib/wg_aead.h), run in the kernel, held to RFC 8439
 * and to libsodium.
 *
 * Loads tests/bpf/wgcrypto.bpf.c (every program: a verifier rejection is a
 * FAILURE, with the log printed) and prints each program's verifier
 * statistics (processed instructions, stack depth). Then, with
 * BPF_PROG_TEST_RUN on the SEC("syscall") programs:
 *   - RFC 8439 2.4.2 (ChaCha20 encryption, block counter 1);
 *   - ChaCha20 == libsodium crypto_stream_chacha20_ietf_xor_ic, random key,
 *     nonce and block counter, every length 0..2048;
 *   - RFC 8439 2.8.2 (AEAD with 12 bytes of AAD, through the general core);
 *   - WireGuard seal == libsodium crypto_aead_chacha20poly1305_ietf_encrypt
 *     with nonce 0^32 || le64(counter) and no AD, every length 0..1504,
 *     random key and counter, plus edge counters; the BPF open accepts
 *     libsodium's output and returns the plaintext;
 *   - tamper: a flipped bit in ciphertext or tag, a wrong counter or a wrong
 *     key is refused with -EBADMSG and leaves the ciphertext untouched;
 *   - limits: len 1505 is refused with -E2BIG.
 * `test_chacha20_bpf --time` instead prints ns per call (BPF_PROG_TEST_RUN
 * repeat 1, opts.duration, median of 101) of the SEC("tc") programs at
 * 64/512/1400 B, beside one bpf_crypto_encrypt ecb call (tests/bpf/testprogs
 * tc_ecb) over the same byte count. No assertion on times.
 *
 * Needs root (BPF). Exit status 0 when every check passes.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <sodium.h>

#include "check.h"
#include "testprogs.skel.h"
#include "wgcrypto.skel.h"

#define ERR_UNSET   0x5a5a5a5a
#define MAX_REPORTS 5
#define WG_MAX	    1504 /* WG_AEAD_MAX_LEN = BPFTUN_MAX_INNER */
#define CC_MAX	    2048

static struct wgcrypto_bpf *skel;

/* ------------------------------------------------------------ loading */

static char *log_buf;
static size_t log_len, log_cap;

static int libbpf_log(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	va_list ap2;
	int n;

	if (level == LIBBPF_DEBUG)
		return 0;
	va_copy(ap2, ap);
	n = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	if (n <= 0)
		return n;
	if (log_len + (size_t)n + 1 > log_cap) {
		size_t cap = (log_len + (size_t)n + 1) * 2;
		char *p = realloc(log_buf, cap);

		if (!p)
			return 0;
		log_buf = p;
		log_cap = cap;
	}
	vsnprintf(log_buf + log_len, log_cap - log_len, fmt, ap);
	log_len += (size_t)n;
	return n;
}

#define NPROGS 5
static char vlog[NPROGS][16384];

static struct bpf_program *prog_n(int i)
{
	struct bpf_program *all[NPROGS] = {skel->progs.chacha20_run, skel->progs.aead_run,
					   skel->progs.tc_chacha, skel->progs.tc_wg_seal,
					   skel->progs.tc_wg_open};
	return all[i];
}

/* The verifier's statistics line ("processed N insns ...") and stack depth. */
static void print_stats(int i)
{
	const char *p = strstr(vlog[i], "processed "), *s = strstr(vlog[i], "stack depth ");
	const char *e;

	printf("  verifier %-13s: ", bpf_program__name(prog_n(i)));
	if (p) {
		e = strchr(p, '\n');
		printf("%.*s", e ? (int)(e - p) : (int)strlen(p), p);
	}
	if (s) {
		e = strchr(s, '\n');
		printf("; %.*s", e ? (int)(e - s) : (int)strlen(s), s);
	}
	putchar('\n');
}

static int load(void)
{
	int err;

	libbpf_set_print(libbpf_log);
	skel = wgcrypto_bpf__open();
	if (!check(skel != NULL, "open wgcrypto.bpf.o skeleton"))
		goto fail;
	for (int i = 0; i < NPROGS; i++) {
		/* BPF_LOG_STATS (4): the verifier's counts, not its trace */
		bpf_program__set_log_buf(prog_n(i), vlog[i], sizeof(vlog[i]));
		bpf_program__set_log_level(prog_n(i), 4);
	}
	err = wgcrypto_bpf__load(skel);
	if (!check(!err, "load wgcrypto programs (verifier: %s)",
		   err ? strerror(-err) : "accepted all 5"))
		goto fail;
	for (int i = 0; i < NPROGS; i++) {
		print_stats(i);
		check(strstr(vlog[i], "processed ") != NULL, "verifier stats for %s",
		      bpf_program__name(prog_n(i)));
	}
	return 0;
fail:
	printf("---- libbpf log ----\n%s---- end ----\n", log_buf ? log_buf : "(empty)\n");
	for (int i = 0; skel && i < NPROGS; i++) {
		size_t n = strlen(vlog[i]);

		printf("---- verifier log of %s (tail) ----\n%s\n", bpf_program__name(prog_n(i)),
		       vlog[i] + (n > 3000 ? n - 3000 : 0));
	}
	return -1;
}

static int run_syscall(struct bpf_program *p)
{
	LIBBPF_OPTS(bpf_test_run_opts, opts);
	int err = bpf_prog_test_run_opts(bpf_program__fd(p), &opts);

	return err ? (err < 0 ? err : -err) : (int)opts.retval;
}

/* ------------------------------------------------------------ wrappers */

/* BPF: buf ^= ChaCha20(key, nonce, ctr). Returns 0 or an error. */
static int bpf_chacha20(const uint8_t key[32], const uint8_t nonce[12], uint32_t ctr, uint8_t *buf,
			uint32_t len)
{
	int err;

	memcpy(skel->bss->cc_key, key, 32);
	memcpy(skel->bss->cc_nonce, nonce, 12);
	skel->bss->cc_ctr = ctr;
	skel->bss->cc_len = len;
	memcpy(skel->bss->cc_buf, buf, len);
	skel->bss->cc_err = ERR_UNSET;
	err = run_syscall(skel->progs.chacha20_run);
	if (err)
		return err;
	memcpy(buf, skel->bss->cc_buf, len);
	return skel->bss->cc_err;
}

/* BPF seal (op 1) or open (op 2) of buf[0..len) (+ tag for open) in place.
 * nonce: n0 (bytes 0-3) and the 64-bit rest. */
static int bpf_aead(int op, const uint8_t key[32], uint32_t n0, uint64_t counter,
		    const uint8_t *aad, uint32_t aad_len, uint8_t *buf, uint32_t len, int *used_wg)
{
	int err;

	memcpy(skel->bss->ae_key, key, 32);
	skel->bss->ae_n0 = n0;
	skel->bss->ae_counter = counter;
	memset(skel->bss->ae_aad, 0, 16);
	if (aad_len)
		memcpy(skel->bss->ae_aad, aad, aad_len > 16 ? 16 : aad_len);
	skel->bss->ae_aad_len = aad_len;
	skel->bss->ae_len = len;
	skel->bss->ae_op = (uint32_t)op;
	memcpy(skel->bss->ae_buf, buf, len + 16);
	skel->bss->ae_err = ERR_UNSET;
	skel->bss->ae_used_wg = 7;
	err = run_syscall(skel->progs.aead_run);
	if (err)
		return err;
	if (used_wg)
		*used_wg = (int)skel->bss->ae_used_wg;
	memcpy(buf, skel->bss->ae_buf, len + 16);
	return skel->bss->ae_err;
}

static void wg_nonce(uint64_t counter, uint8_t n[12])
{
	memset(n, 0, 4);
	for (int i = 0; i < 8; i++)
		n[4 + i] = (uint8_t)(counter >> (8 * i));
}

/* ------------------------------------------------------- 1. RFC vectors */

#define SUNSCREEN                                                                                  \
	"Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the "     \
	"future, sunscreen would be it."

static void test_rfc_2_4_2(void)
{
	uint8_t key[32], nonce[12], want[114], buf[CC_MAX + 64];
	int err;

	for (int i = 0; i < 32; i++)
		key[i] = (uint8_t)i;
	unhex("000000000000004a00000000", nonce, 12);
	unhex("6e2e359a2568f98041ba0728dd0d6981e97e7aec1d4360c20a27afccfd9fae0b"
	      "f91b65c5524733ab8f593dabcd62b3571639d624e65152ab8f530c359f0861d8"
	      "07ca0dbf500d6a6156a38e088a22b65e52bc514d16ccf806818ce91ab7793736"
	      "5af90bbf74a35be6b40b8eedf2785e42874d",
	      want, sizeof(want));
	memcpy(buf, SUNSCREEN, 114);
	err = bpf_chacha20(key, nonce, 1, buf, 114);
	if (!check(!err && !memcmp(buf, want, 114), "BPF ChaCha20 RFC 8439 2.4.2 (err %d)", err))
		print_hex("got", buf, 114);
}

static void test_rfc_2_8_2(void)
{
	uint8_t key[32], nonce[12], aad[12], want[114 + 16], buf[WG_MAX + 64];
	uint32_t n0;
	uint64_t ctr;
	int err, wg = -1;

	for (int i = 0; i < 32; i++)
		key[i] = (uint8_t)(0x80 + i);
	unhex("070000004041424344454647", nonce, 12);
	unhex("50515253c0c1c2c3c4c5c6c7", aad, 12);
	unhex("d31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d6"
	      "3dbea45e8ca9671282fafb69da92728b1a71de0a9e060b2905d6a5b67ecd3b36"
	      "92ddbd7f2d778b8c9803aee328091b58fab324e4fad675945585808b4831d7bc"
	      "3ff4def08e4b7a9de576d26586cec64b6116"
	      "1ae10b594f09e26a7e902ecbd0600691",
	      want, sizeof(want));
	memcpy(&n0, nonce, 4);
	memcpy(&ctr, nonce + 4, 8);
	memset(buf, 0, sizeof(buf));
	memcpy(buf, SUNSCREEN, 114);
	err = bpf_aead(1, key, n0, ctr, aad, 12, buf, 114, &wg);
	if (!check(!err && wg == 0 && !memcmp(buf, want, 130),
		   "BPF ChaCha20-Poly1305 seal RFC 8439 2.8.2 (err %d, core path %d)", err,
		   wg == 0))
		print_hex("got", buf, 130);
	err = bpf_aead(2, key, n0, ctr, aad, 12, buf, 114, NULL);
	check(!err && !memcmp(buf, SUNSCREEN, 114), "BPF open RFC 8439 2.8.2 (err %d)", err);
	memcpy(buf, want, 130);
	aad[0] ^= 1;
	err = bpf_aead(2, key, n0, ctr, aad, 12, buf, 114, NULL);
	check(
	    err == -EBADMSG && !memcmp(buf, want, 114),
	    "BPF open RFC 8439 2.8.2 with one AAD bit flipped: -EBADMSG, ciphertext kept (err %d)",
	    err);
}

/* -------------------------------------------- 2. ChaCha20 vs libsodium */

static void test_chacha_lengths(void)
{
	static uint8_t pt[CC_MAX + 64], got[CC_MAX + 64], want[CC_MAX + 64];
	uint8_t key[32], nonce[12];
	int bad = 0, errs = 0;

	for (uint32_t len = 0; len <= CC_MAX; len++) {
		uint32_t ctr;
		int err;

		randombytes_buf(key, 32);
		randombytes_buf(nonce, 12);
		randombytes_buf(pt, len);
		/* keep the counter clear of the 2^32 wrap, which libsodium refuses */
		ctr = randombytes_uniform(len % 3 == 0 ? 4 : 1u << 30);
		crypto_stream_chacha20_ietf_xor_ic(want, pt, len, nonce, ctr, key);
		memcpy(got, pt, len);
		err = bpf_chacha20(key, nonce, ctr, got, len);
		if (err) {
			if (errs++ < MAX_REPORTS)
				printf("  len %u: err %d\n", len, err);
			continue;
		}
		if (memcmp(got, want, len) && bad++ < MAX_REPORTS) {
			printf("  len %u ctr %u mismatch\n", len, ctr);
			if (len <= 128) {
				print_hex("want", want, len);
				print_hex("got", got, len);
			}
		}
	}
	check(!bad && !errs,
	      "BPF ChaCha20 == libsodium chacha20_ietf_xor_ic, random key/nonce/counter, every len "
	      "0..%d (%d mismatches, %d errors)",
	      CC_MAX, bad, errs);
}

/* --------------------------------------- 3. WireGuard AEAD vs libsodium */

static int sodium_wg_seal(const uint8_t key[32], uint64_t counter, const uint8_t *pt, uint32_t len,
			  uint8_t *out)
{
	uint8_t n[12];
	unsigned long long clen;

	wg_nonce(counter, n);
	return crypto_aead_chacha20poly1305_ietf_encrypt(out, &clen, pt, len, NULL, 0, NULL, n,
							 key);
}

static void test_wg_lengths(void)
{
	static const uint64_t edge[] = {
	    0, 1, 0xffffffffULL, 0x100000000ULL, 0xfffffffffffffffeULL, 0xffffffffffffffffULL};
	static uint8_t pt[WG_MAX + 64], buf[WG_MAX + 64], want[WG_MAX + 64];
	uint8_t key[32];
	int bad = 0, errs = 0, bad_open = 0, notwg = 0;

	for (uint32_t len = 0; len <= WG_MAX; len++) {
		uint64_t counter;
		int err, wg = -1;

		randombytes_buf(key, 32);
		randombytes_buf(pt, len);
		if (len < sizeof(edge) / sizeof(edge[0]) * 16 && len % 16 == 0)
			counter = edge[len / 16];
		else
			randombytes_buf(&counter, sizeof(counter));
		sodium_wg_seal(key, counter, pt, len, want);
		/* garbage past len: the BPF code must not depend on it */
		randombytes_buf(buf, sizeof(buf));
		memcpy(buf, pt, len);
		err = bpf_aead(1, key, 0, counter, NULL, 0, buf, len, &wg);
		notwg += wg != 1;
		if (err) {
			if (errs++ < MAX_REPORTS)
				printf("  seal len %u: err %d\n", len, err);
			continue;
		}
		if (memcmp(buf, want, len + 16) && bad++ < MAX_REPORTS) {
			printf("  seal len %u counter %llu mismatch\n", len,
			       (unsigned long long)counter);
			if (len <= 128) {
				print_hex("want (libsodium ct || tag)", want, len + 16);
				print_hex("got (BPF)", buf, len + 16);
			}
		}
		/* open libsodium's message in BPF */
		memcpy(buf, want, len + 16);
		err = bpf_aead(2, key, 0, counter, NULL, 0, buf, len, NULL);
		if ((err || memcmp(buf, pt, len)) && bad_open++ < MAX_REPORTS)
			printf("  open len %u counter %llu: err %d\n", len,
			       (unsigned long long)counter, err);
	}
	check(!bad && !errs && !notwg,
	      "BPF wg_aead_seal == libsodium chacha20poly1305_ietf (nonce 0^32 || le64 counter, no "
	      "AD), every len 0..%d (%d mismatches, %d errors, %d not via wg_aead_seal)",
	      WG_MAX, bad, errs, notwg);
	check(!bad_open,
	      "BPF wg_aead_open accepts libsodium's message and returns the plaintext, every "
	      "len 0..%d (%d failures)",
	      WG_MAX, bad_open);
}

/* ------------------------------------------------------------ 4. tamper */

static void test_tamper(void)
{
	static const uint32_t lens[] = {0, 1, 15, 16, 17, 64, 100, 1420, WG_MAX};
	static uint8_t pt[WG_MAX + 64], msg[WG_MAX + 64], buf[WG_MAX + 64], alt[WG_MAX + 64];
	uint8_t key[32], key2[32];
	int accepted = 0, changed = 0, tries = 0;

	for (size_t li = 0; li < sizeof(lens) / sizeof(lens[0]); li++) {
		uint32_t len = lens[li];
		uint64_t counter;

		randombytes_buf(key, 32);
		randombytes_buf(&counter, sizeof(counter));
		randombytes_buf(pt, len);
		sodium_wg_seal(key, counter, pt, len, msg);
		/* every bit of the tag, and 64 random bits of the ciphertext */
		for (uint32_t b = 0; b < 128 + (len ? 64 : 0); b++) {
			uint32_t bit = b < 128 ? len * 8 + b : randombytes_uniform(len * 8);
			int err;

			memcpy(buf, msg, len + 16);
			buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
			memcpy(alt, buf, len + 16);
			err = bpf_aead(2, key, 0, counter, NULL, 0, buf, len, NULL);
			tries++;
			accepted += err != -EBADMSG;
			/* the ciphertext (with the flipped bit) is left as it was */
			changed += memcmp(buf, alt, len) != 0;
		}
		/* wrong counter, wrong key */
		memcpy(buf, msg, len + 16);
		tries++;
		accepted += bpf_aead(2, key, 0, counter ^ 1, NULL, 0, buf, len, NULL) != -EBADMSG;
		changed += memcmp(buf, msg, len) != 0;
		memcpy(key2, key, 32);
		key2[randombytes_uniform(32)] ^= 0x80;
		memcpy(buf, msg, len + 16);
		tries++;
		accepted += bpf_aead(2, key2, 0, counter, NULL, 0, buf, len, NULL) != -EBADMSG;
		changed += memcmp(buf, msg, len) != 0;
	}
	check(tries > 1000 && !accepted && !changed,
	      "tamper: %d altered messages (tag bits, ciphertext bits, counter, key) over %zu "
	      "lengths: "
	      "%d accepted, %d had their ciphertext changed",
	      tries, sizeof(lens) / sizeof(lens[0]), accepted, changed);
}

static void test_limits(void)
{
	static uint8_t buf[WG_MAX + 64 + 16];
	uint8_t key[32] = {1};
	int e1, e2, e3;

	e1 = bpf_aead(1, key, 0, 0, NULL, 0, buf, WG_MAX + 1, NULL);
	e2 = bpf_aead(2, key, 0, 0, NULL, 0, buf, WG_MAX + 1, NULL);
	check(e1 == -E2BIG && e2 == -E2BIG, "len %d refused by seal and open: %d %d (want %d)",
	      WG_MAX + 1, e1, e2, -E2BIG);
	e3 = bpf_aead(1, key, 0, 0, NULL, 0, buf, WG_MAX, NULL);
	check(e3 == 0, "len %d accepted: %d", WG_MAX, e3);
	e1 = bpf_aead(1, key, 1, 0, buf, 17, buf, 16, NULL);
	check(e1 == -EINVAL, "AAD of 17 bytes refused by the core: %d", e1);
}

/* ------------------------------------------------------------ --time */

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

#define NRUN 101

static double median_ns(int fd, const uint8_t *in, uint32_t in_len, int want_ret, int *bad)
{
	static uint8_t out[4096];
	uint64_t ns[NRUN];

	for (int i = 0; i < NRUN; i++) {
		LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = in, .data_size_in = in_len,
			    .data_out = out, .data_size_out = sizeof(out), .repeat = 1);
		int err = bpf_prog_test_run_opts(fd, &o);

		if (err || (int)o.retval != want_ret) {
			if ((*bad)++ < 3)
				printf("  run of fd %d on %u bytes: err %d retval %d\n", fd, in_len,
				       err, (int)o.retval);
		}
		ns[i] = o.duration;
	}
	qsort(ns, NRUN, sizeof(ns[0]), cmp_u64);
	return (double)ns[NRUN / 2];
}

static int do_time(void)
{
	static const uint32_t lens[] = {64, 512, 1400};
	static const char *algos[] = {"ecb(aes)", "ecb(aes-generic)"};
	static uint8_t pkt[14 + WG_MAX + 64], sealed[14 + WG_MAX + 64];
	struct testprogs_bpf *tp;
	uint8_t key[32];
	int bad = 0;

	randombytes_buf(key, 32);
	memcpy(skel->bss->tm_key, key, 32);
	skel->bss->tm_counter = 12345;
	tp = testprogs_bpf__open();
	if (!tp)
		return 1;
	bpf_program__set_autoload(tp->progs.poly1305_run, false);
	bpf_program__set_autoload(tp->progs.tc_flip, false);
	if (testprogs_bpf__load(tp)) {
		printf("testprogs load failed\n");
		return 1;
	}
	printf("ns per call, BPF_PROG_TEST_RUN repeat 1, opts.duration, median of %d\n", NRUN);
	printf("%5s | %9s %9s %9s | %9s %12s\n", "bytes", "chacha20", "wg_seal", "wg_open",
	       "ecb(aes)", "ecb(generic)");
	for (size_t li = 0; li < sizeof(lens) / sizeof(lens[0]); li++) {
		uint32_t len = lens[li];
		double cc, se, op, ecb[2];

		memset(pkt, 0, 14);
		randombytes_buf(pkt + 14, len);
		memcpy(sealed, pkt, 14);
		sodium_wg_seal(key, 12345, pkt + 14, len, sealed + 14);
		skel->bss->tm_len = len;
		cc = median_ns(bpf_program__fd(skel->progs.tc_chacha), pkt, 14 + len, 0, &bad);
		se = median_ns(bpf_program__fd(skel->progs.tc_wg_seal), pkt, 14 + len, 0, &bad);
		op = median_ns(bpf_program__fd(skel->progs.tc_wg_open), sealed, 14 + len + 16, 0,
			       &bad);
		for (int a = 0; a < 2; a++) {
			LIBBPF_OPTS(bpf_test_run_opts, o);
			memset(tp->data->ecb_algo, 0, sizeof(tp->data->ecb_algo));
			strcpy(tp->data->ecb_algo, algos[a]);
			memcpy(tp->bss->ecb_key, key, 32);
			if (bpf_prog_test_run_opts(bpf_program__fd(tp->progs.ecb_setup), &o) ||
			    tp->bss->ecb_err)
				bad++;
			/* ecb takes whole 16-byte blocks: the keystream for len bytes */
			tp->data->ecb_len = (len + 15) & ~15U;
			ecb[a] =
			    median_ns(bpf_program__fd(tp->progs.tc_ecb), pkt, 14 + len, 0, &bad);
		}
		printf("%5u | %9.0f %9.0f %9.0f | %9.0f %12.0f\n", len, cc, se, op, ecb[0], ecb[1]);
	}
	printf("failed runs: %d\n", bad);
	testprogs_bpf__destroy(tp);
	return bad != 0;
}

int main(int argc, char **argv)
{
	int rc;

	if (sodium_init() < 0) {
		fprintf(stderr, "sodium_init failed\n");
		return 1;
	}
	if (load()) {
		wgcrypto_bpf__destroy(skel);
		return check_summary() ? 1 : 1;
	}
	if (argc > 1 && !strcmp(argv[1], "--time")) {
		rc = do_time();
		wgcrypto_bpf__destroy(skel);
		return rc;
	}
	test_rfc_2_4_2();
	test_rfc_2_8_2();
	test_chacha_lengths();
	test_wg_lengths();
	test_tamper();
	test_limits();
	wgcrypto_bpf__destroy(skel);
	free(log_buf);
	return check_summary();
}
