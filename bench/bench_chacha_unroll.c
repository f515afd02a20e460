// SPDX-License-Identifier: GPL-2.0
/*
 * bench_chacha_unroll.c - ChaCha20's ten double rounds as a loop (what
 * bpf/lib/chacha20.h ships) against the same rounds fully unrolled
 * (CHACHA20_UNROLL), on WireGuard's seal and open (tc_wg_seal, tc_wg_open of
 * tests/bpf/wgcrypto.bpf.c and wgcrypto_unrolled.bpf.c: the wg_aead.h code
 * the datapath runs, on packet data).
 *
 * Per variant it prints the verifier's processed instructions, the
 * translated and JITed sizes, and ns per call (BPF_PROG_TEST_RUN repeat 1,
 * opts.duration, median [p10 p90]) in two states:
 *   hot   the same program ran just before (one unrecorded run);
 *   cold  a 4 MiB buffer was written and read just before (4x the 1 MiB L2
 *         here; Zen's L2 holds the L1 lines, so the program's code and
 *         data leave L1 and L2; L3 is large and shared, and stays warm).
 * Samples are interleaved round-robin over (variant, op, size, state), the
 * start rotating every round. Every verdict is checked (seal and open of an
 * authentic message return TC_ACT_OK); a wrong one fails the run.
 *
 * usage: bench_chacha_unroll [--samples N] [--sizes 64,512,1400]
 * Needs root (BPF). Not a test: run it by hand.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <sodium.h>

#include "wgcrypto.skel.h"
#include "wgcrypto_unrolled.skel.h"

#define MAX_SIZES 8
#define EVICT	  (4u << 20)

enum { V_LOOP, V_UNROLL, N_VAR };
enum { OP_SEAL, OP_OPEN, N_OP };
enum { S_HOT, S_COLD, N_STATE };
static const char *const VNAME[N_VAR] = {"looped", "unrolled"};
static const char *const ONAME[N_OP] = {"seal", "open"};
static const char *const SNAME[N_STATE] = {"hot", "cold"};

struct var {
	int fd[N_OP];
	unsigned long long processed[N_OP];
	unsigned int xlated[N_OP], jited[N_OP];
};

static char vlog[N_VAR][N_OP][65536];
static volatile unsigned char *evict_buf;

static void evict(void)
{
	unsigned long s = 0;

	for (size_t i = 0; i < EVICT; i += 64)
		evict_buf[i] = (unsigned char)(evict_buf[i] + 1);
	for (size_t i = 0; i < EVICT; i += 64)
		s += evict_buf[i];
	__asm__ volatile("" ::"r"(s));
}

static int run1(int fd, const void *in, size_t len, unsigned int *ns)
{
	unsigned char out[2048];
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = in, .data_size_in = (unsigned int)len,
		    .data_out = out, .data_size_out = sizeof(out), .repeat = 1);

	if (bpf_prog_test_run_opts(fd, &o))
		return -errno;
	*ns = o.duration;
	return o.retval == 0 ? 0 : -EBADMSG;
}

static int cmp_u32(const void *a, const void *b)
{
	unsigned int x = *(const unsigned int *)a, y = *(const unsigned int *)b;

	return x < y ? -1 : x > y;
}

static unsigned long long processed_of(const char *log)
{
	const char *p = strstr(log, "processed ");

	return p ? strtoull(p + 10, NULL, 10) : 0;
}

static void prog_sizes(int fd, unsigned int *xlated, unsigned int *jited)
{
	struct bpf_prog_info info = {0};
	__u32 len = sizeof(info);

	*xlated = *jited = 0;
	if (!bpf_obj_get_info_by_fd(fd, &info, &len)) {
		*xlated = info.xlated_prog_len;
		*jited = info.jited_prog_len;
	}
}

int main(int argc, char **argv)
{
	unsigned int sizes[MAX_SIZES] = {64, 512, 1400}, nsizes = 3, samples = 1001;
	struct wgcrypto_bpf *lp;
	struct wgcrypto_unrolled_bpf *up;
	struct var v[N_VAR] = {0};
	unsigned char key[32], nonce[12] = {0};
	static unsigned char pt[MAX_SIZES][2048], ct[MAX_SIZES][2048];
	size_t ptlen[MAX_SIZES], ctlen[MAX_SIZES];
	unsigned int *ns;
	unsigned int nvar, bad = 0;
	__u64 counter = 12345;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--samples") && i + 1 < argc) {
			samples = (unsigned int)strtoul(argv[++i], NULL, 10);
		} else if (!strcmp(argv[i], "--sizes") && i + 1 < argc) {
			char *s = argv[++i], *tok, *save = NULL;

			nsizes = 0;
			for (tok = strtok_r(s, ",", &save); tok && nsizes < MAX_SIZES;
			     tok = strtok_r(NULL, ",", &save))
				sizes[nsizes++] = (unsigned int)strtoul(tok, NULL, 10);
		} else {
			fprintf(stderr,
				"usage: bench_chacha_unroll [--samples N] [--sizes 64,...]\n");
			return 2;
		}
	}
	for (unsigned int s = 0; s < nsizes; s++)
		if (sizes[s] < 1 || sizes[s] > 1504 || !samples) {
			fprintf(stderr, "bench_chacha_unroll: sizes 1..1504, samples >= 1\n");
			return 2;
		}
	if (geteuid() != 0 || sodium_init() < 0) {
		fprintf(stderr, "bench_chacha_unroll: must run as root (BPF)\n");
		return 1;
	}
	evict_buf = malloc(EVICT);
	if (!evict_buf)
		return 1;
	memset((void *)evict_buf, 1, EVICT);

	lp = wgcrypto_bpf__open();
	up = wgcrypto_unrolled_bpf__open();
	if (!lp || !up)
		return 1;
	{
		struct bpf_program *pr[N_VAR][N_OP] = {
		    {lp->progs.tc_wg_seal, lp->progs.tc_wg_open},
		    {up->progs.tc_wg_seal, up->progs.tc_wg_open}};

		for (int a = 0; a < N_VAR; a++)
			for (int o = 0; o < N_OP; o++) {
				bpf_program__set_log_buf(pr[a][o], vlog[a][o], sizeof(vlog[a][o]));
				bpf_program__set_log_level(pr[a][o], 4); /* stats */
			}
		if (wgcrypto_bpf__load(lp) || wgcrypto_unrolled_bpf__load(up)) {
			fprintf(stderr, "bench_chacha_unroll: FAIL: load (verifier): %s\n",
				strerror(errno));
			return 1;
		}
		for (int a = 0; a < N_VAR; a++)
			for (int o = 0; o < N_OP; o++) {
				v[a].fd[o] = bpf_program__fd(pr[a][o]);
				v[a].processed[o] = processed_of(vlog[a][o]);
				prog_sizes(v[a].fd[o], &v[a].xlated[o], &v[a].jited[o]);
			}
	}
	randombytes_buf(key, sizeof(key));
	memcpy(lp->bss->tm_key, key, 32);
	memcpy(up->bss->tm_key, key, 32);
	lp->bss->tm_counter = up->bss->tm_counter = counter;
	for (int i = 0; i < 8; i++)
		nonce[4 + i] = (unsigned char)(counter >> (8 * i));
	/* frames: 14 bytes (ignored) + plaintext, or + ciphertext || tag */
	for (unsigned int s = 0; s < nsizes; s++) {
		unsigned long long cl = 0;

		ptlen[s] = 14 + sizes[s];
		randombytes_buf(pt[s] + 14, sizes[s]);
		crypto_aead_chacha20poly1305_ietf_encrypt(ct[s] + 14, &cl, pt[s] + 14, sizes[s],
							  NULL, 0, NULL, nonce, key);
		ctlen[s] = 14 + (size_t)cl;
	}
	sodium_memzero(key, sizeof(key));

	nvar = N_VAR * N_OP * nsizes * N_STATE;
	ns = calloc((size_t)nvar * samples, sizeof(*ns));
	if (!ns)
		return 1;
	for (unsigned int r = 0; r < samples + 20; r++) {
		for (unsigned int k0 = 0; k0 < nvar; k0++) {
			unsigned int k = (k0 + r) % nvar, t;
			unsigned int st = k % N_STATE, s = (k / N_STATE) % nsizes;
			unsigned int o = (k / N_STATE / nsizes) % N_OP;
			unsigned int a = k / N_STATE / nsizes / N_OP;
			const void *in = o == OP_SEAL ? pt[s] : ct[s];
			size_t len = o == OP_SEAL ? ptlen[s] : ctlen[s];

			if (st == S_HOT)
				bad += run1(v[a].fd[o], in, len, &t) != 0;
			else
				evict();
			if (run1(v[a].fd[o], in, len, &t))
				bad++;
			else if (r >= 20)
				ns[(size_t)k * samples + (r - 20)] = t;
		}
	}
	if (bad) {
		fprintf(stderr, "bench_chacha_unroll: FAIL: %u runs gave a wrong verdict\n", bad);
		return 1;
	}
	printf("bench_chacha_unroll: %u samples per cell, BPF_PROG_TEST_RUN repeat=1, "
	       "opts.duration ns, median [p10 p90]\n",
	       samples);
	for (int a = 0; a < N_VAR; a++)
		for (int o = 0; o < N_OP; o++)
			printf("  %-8s tc_wg_%s: verifier processed %llu insns, xlated %u B, "
			       "jited %u B\n",
			       VNAME[a], ONAME[o], v[a].processed[o], v[a].xlated[o],
			       v[a].jited[o]);
	printf("\n%5s %-4s %-5s | %-22s | %-22s | %s\n", "L", "op", "state", "looped", "unrolled",
	       "unrolled/looped");
	for (unsigned int s = 0; s < nsizes; s++)
		for (int o = 0; o < N_OP; o++)
			for (int st = 0; st < N_STATE; st++) {
				double med[N_VAR];

				printf("%5u %-4s %-5s", sizes[s], ONAME[o], SNAME[st]);
				for (int a = 0; a < N_VAR; a++) {
					unsigned int k =
					    ((a * N_OP + o) * nsizes + s) * N_STATE + st;
					unsigned int *x = ns + (size_t)k * samples;

					qsort(x, samples, sizeof(*x), cmp_u32);
					med[a] = x[samples / 2];
					printf(" | %6u [%6u %6u]", x[samples / 2], x[samples / 10],
					       x[samples * 9 / 10]);
				}
				printf(" | %.2f\n", med[V_UNROLL] / med[V_LOOP]);
			}
	wgcrypto_bpf__destroy(lp);
	wgcrypto_unrolled_bpf__destroy(up);
	free(ns);
	return 0;
}
