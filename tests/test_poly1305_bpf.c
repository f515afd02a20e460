// SPDX-License-Identifier: GPL-2.0
/*
 * test_poly1305_bpf.c - the datapath's Poly1305 (bpf/lib/poly1305.h), run in
 * the kernel, held to RFC 8439 and to libsodium.
 *
 * Loads tests/bpf/testprogs.bpf.c and runs its SEC("syscall") program
 * poly1305_run with BPF_PROG_TEST_RUN. Inputs (poly_key, poly_msg, poly_len)
 * and outputs (poly_tag, poly_err) are .bss globals, written and read through
 * the skeleton's mmaped skel->bss.
 *
 * Checks: the program loads (a verifier rejection is a FAILURE, with libbpf's
 * log printed); RFC 8439 2.5.2 and A.3 #1..#11 (tests/rfc8439_vectors.h);
 * random key and message for every length 0..2048 against ref_poly1305
 * (libsodium); edge keys (r with every clamp-allowed bit, s all ones) over
 * all-0xff messages; poly_len 2049 refused with -E2BIG.
 *
 * Needs root (BPF). Exit status 0 when every check passes; the last line is
 * "N passed, M failed".
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
#include "ref_aead.h"
#include "rfc8439_vectors.h"
#include "testprogs.skel.h"

#define MAX_LEN 2048
/* Sentinel written to poly_err before each run: the program must overwrite it. */
#define ERR_UNSET 0x5a5a5a5a
/* Mismatches printed in full before the rest are only counted. */
#define MAX_REPORTS 5

static struct testprogs_bpf *skel;
static int prog_fd;

/* ------------------------------------------------------------ libbpf log */

static char *log_buf;
static size_t log_len, log_cap;

/* Keep everything libbpf says (the verifier log included) for a failed load. */
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

static int load(void)
{
	int err;

	libbpf_set_print(libbpf_log);
	skel = testprogs_bpf__open();
	if (!skel) {
		err = -errno;
		check(0, "open testprogs.bpf.o skeleton (%s)", strerror(-err));
		goto fail;
	}
	/* Only poly1305_run is under test here; the ecb programs belong to bench. */
	bpf_program__set_autoload(skel->progs.ecb_setup, false);
	bpf_program__set_autoload(skel->progs.tc_ecb, false);
	err = testprogs_bpf__load(skel);
	if (err) {
		check(0, "load poly1305_run (verifier rejected it or load failed: %s)",
		      strerror(-err));
		goto fail;
	}
	prog_fd = bpf_program__fd(skel->progs.poly1305_run);
	if (!check(prog_fd >= 0 && skel->bss, "load poly1305_run (fd %d, .bss mmaped)", prog_fd))
		goto fail;
	return 0;
fail:
	printf("---- libbpf log ----\n%s---- end of libbpf log ----\n",
	       log_buf ? log_buf : "(empty)\n");
	return -1;
}

/* Run poly1305_run over the .bss as it is; returns the syscall's error or the
 * program's return value (0). */
static int run(void)
{
	LIBBPF_OPTS(bpf_test_run_opts, opts);
	int err;

	skel->bss->poly_err = ERR_UNSET;
	err = bpf_prog_test_run_opts(prog_fd, &opts);
	if (err)
		return err < 0 ? err : -err;
	return (int)opts.retval;
}

/* BPF tag of msg[0..len) under key; msg may be NULL when the caller already
 * filled skel->bss->poly_msg. Returns 0, or nonzero (and *perr) on error. */
static int bpf_poly1305(const uint8_t key[32], const uint8_t *msg, uint32_t len, uint8_t tag[16],
			int *perr)
{
	int err;

	memcpy(skel->bss->poly_key, key, 32);
	if (msg)
		memcpy(skel->bss->poly_msg, msg, len);
	skel->bss->poly_len = len;
	memset(skel->bss->poly_tag, 0xa5, 16);
	err = run();
	*perr = err ? err : skel->bss->poly_err;
	memcpy(tag, skel->bss->poly_tag, 16);
	return *perr;
}

static void report(const char *what, uint32_t len, const uint8_t key[32], const uint8_t *msg,
		   const uint8_t want[16], const uint8_t got[16], int err)
{
	printf("  %s mismatch at len %u (run/poly_err %d):\n", what, len, err);
	print_hex("key", key, 32);
	if (len <= 256)
		print_hex("message", msg, len);
	else
		printf("  (message of %u bytes not shown)\n", len);
	print_hex("expected (libsodium)", want, 16);
	print_hex("got (BPF)", got, 16);
}

/* ------------------------------------------------------ 1. RFC 8439 vectors */

static void test_rfc_vectors(void)
{
	uint8_t key[32], msg[512], tag[16], want[16];
	int err;

	for (size_t v = 0; v < POLY_VECS_N; v++) {
		const struct poly_vec *pv = &poly_vecs[v];
		long len;

		len = poly_vec_load(pv, key, msg, sizeof(msg), want);
		if (len < 0) {
			check(0, "BPF Poly1305 %s: vector malformed (want a %zu-byte message)",
			      pv->name, pv->msg_len);
			continue;
		}
		bpf_poly1305(key, msg, (uint32_t)len, tag, &err);
		if (!check(!err && !memcmp(tag, want, 16), "BPF Poly1305 %s", pv->name)) {
			printf("  run/poly_err %d\n", err);
			print_hex("expected", want, 16);
			print_hex("got", tag, 16);
		}
	}
}

/* --------------------------------------------- 2. random, every length */

static void test_random_lengths(void)
{
	uint8_t key[32], want[16], got[16];
	static uint8_t msg[MAX_LEN + 16];
	int bad = 0, errs = 0, err;

	for (uint32_t len = 0; len <= MAX_LEN; len++) {
		randombytes_buf(key, sizeof(key));
		/* Fill the whole buffer: bytes past len are garbage the BPF code must ignore. */
		randombytes_buf(msg, sizeof(msg));
		memcpy(skel->bss->poly_msg, msg, sizeof(msg));
		ref_poly1305(key, msg, len, want);
		if (bpf_poly1305(key, NULL, len, got, &err)) {
			if (errs++ < MAX_REPORTS)
				printf("  len %u: run/poly_err %d\n", len, err);
			continue;
		}
		if (memcmp(got, want, 16) && bad++ < MAX_REPORTS)
			report("random", len, key, msg, want, got, err);
	}
	check(!bad && !errs,
	      "BPF Poly1305 == libsodium, random key and message, every len 0..%d (%d mismatches, "
	      "%d errors)",
	      MAX_LEN, bad, errs);
}

/* --------------------------------------------------------- 3. edge keys */

static void test_edge_keys(void)
{
	/* r with every bit the clamp allows: 0x0ffffffc0ffffffc0ffffffc0fffffff, LE. */
	static const char r_clamped[] = "ffffff0ffcffff0ffcffff0ffcffff0f";
	static const struct {
		const char *name, *r, *s;
	} keys[] = {
	    {"r = clamp max, s = all 0xff", r_clamped, F16},
	    {"r = all 0xff (clamped by the code), s = all 0xff", F16, F16},
	    {"r = clamp max, s = 0", r_clamped, Z16},
	    {"r = 0, s = all 0xff", Z16, F16},
	    {"r = 1, s = all 0xff", "01000000000000000000000000000000", F16},
	};
	static uint8_t ones[MAX_LEN + 16];
	uint8_t key[32], want[16], got[16];

	memset(ones, 0xff, sizeof(ones));
	for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
		int bad = 0, errs = 0, err;

		if (unhex(keys[k].r, key, 16) != 16 || unhex(keys[k].s, key + 16, 16) != 16) {
			check(0, "edge key %s: malformed", keys[k].name);
			continue;
		}
		memcpy(skel->bss->poly_msg, ones, sizeof(ones));
		for (uint32_t len = 0; len <= MAX_LEN; len++) {
			ref_poly1305(key, ones, len, want);
			if (bpf_poly1305(key, NULL, len, got, &err)) {
				if (errs++ < MAX_REPORTS)
					printf("  len %u: run/poly_err %d\n", len, err);
				continue;
			}
			if (memcmp(got, want, 16) && bad++ < MAX_REPORTS)
				report(keys[k].name, len, key, ones, want, got, err);
		}
		check(!bad && !errs,
		      "BPF Poly1305 == libsodium, edge key %s, all-0xff message, every len 0..%d "
		      "(%d mismatches, %d errors)",
		      keys[k].name, MAX_LEN, bad, errs);
	}
}

/* ------------------------------------------------------------ 4. limits */

static void test_limits(void)
{
	static const uint32_t too_big[] = {MAX_LEN + 1, 0xffffffffU};
	uint8_t key[32] = {1}, tag[16];
	int err;

	for (size_t i = 0; i < sizeof(too_big) / sizeof(too_big[0]); i++) {
		memcpy(skel->bss->poly_key, key, 32);
		skel->bss->poly_len = too_big[i];
		err = run();
		check(!err && skel->bss->poly_err == -E2BIG,
		      "poly_len %u refused: poly_err %d (want -E2BIG = %d), run %d", too_big[i],
		      skel->bss->poly_err, -E2BIG, err);
	}
	/* And the largest length is still accepted after a refusal. */
	memset(skel->bss->poly_msg, 0, sizeof(skel->bss->poly_msg));
	check(!bpf_poly1305(key, NULL, MAX_LEN, tag, &err), "poly_len %d accepted: poly_err %d",
	      MAX_LEN, err);
}

int main(void)
{
	if (sodium_init() < 0) {
		fprintf(stderr, "sodium_init failed\n");
		return 1;
	}
	check_verbose = 1;
	if (!load()) {
		test_rfc_vectors();
		test_random_lengths();
		test_edge_keys();
		test_limits();
	}
	testprogs_bpf__destroy(skel);
	free(log_buf);
	return check_summary();
}
