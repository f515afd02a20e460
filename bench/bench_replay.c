// SPDX-License-Identifier: GPL-2.0
/*
 * bench_replay.c - what the rx SA's lock costs when several CPUs open one
 * SA's packets at once (software RSS: xdp_steer sends the flows of one peer
 * to several CPUs, and they share the peer's rx SA and its replay window).
 *
 * tc_open takes the SA's bpf_spin_lock only around the replay check and
 * update (bpf/lib/open.h, open_replay), after the tag is verified. This
 * measures, interleaved in one run, the in-program cost of an open
 * (BPF_PROG_TEST_RUN duration, repeat = 1) in three arrangements:
 *
 *   one      one thread on CPU 0 opens SA 0's packets in counter order;
 *   shared   two threads, on CPU 0 and CPU 1, open SA 0's packets at once:
 *            even counters on one, odd on the other (the contended case);
 *   separate two threads, on CPU 0 and CPU 1, each opens its own SA's
 *            packets (two peers): the same parallel load without sharing.
 *
 * shared / separate is the price of sharing one SA between CPUs (the lock
 * and the cache lines of the window); separate / one is what running two
 * CPUs at once costs anyway on this machine (shared caches, hypervisor).
 * The threads meet at a barrier every BATCH packets, so one never runs more
 * than BATCH ahead of the other and no packet falls out of the window. Every
 * packet must be accepted exactly once: the lock keeps the window correct
 * (tests/test_datapath.c test_replay_concurrent checks the refusals).
 *
 * Usage: bench_replay [--sizes 64,1400] [--packets N] [--rounds R]
 * Needs root (BPF) and two online CPUs.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_ether.h>
#include <sodium.h>

#include "frames.h"
#include "datapath.h"

#define PORT		51820
#define TC_ACT_REDIRECT 7
#define FRAME_MAX	1600
#define BATCH		256
#define MAX_SIZES	8

static const uint8_t MAC_A[6] = {0x02, 0, 0, 0, 0, 0xa};
static const uint8_t MAC_B[6] = {0x02, 0, 0, 0, 0, 0xb};
static const uint8_t TUN_MAC[6] = {0x02, 0, 0, 0, 0, 0xc};
/* peer p: A's inner address 10.9.p.1, B's 10.9.p.2; receiver index RIDX + p */
#define RIDX 0x0a0b0c00U

enum { ARR_ONE, ARR_SHARED, ARR_SEPARATE, N_ARR };
static const char *const ARR_NAME[N_ARR] = {"one", "shared", "separate"};

static struct datapath *A, *B;
static unsigned int npackets = 20000, nrounds = 5;

struct lane {
	int cpu;
	uint8_t (*frames)[FRAME_MAX];
	uint32_t *flen;
	unsigned int first, step, n; /* frames first, first+step, ... (n of them) */
	uint32_t *ns;		     /* n samples */
	unsigned int accepted, errors;
	pthread_barrier_t *bar;
};

static int run1(int fd, const void *in, uint32_t len, uint32_t *ret, uint32_t *ns)
{
	static __thread uint8_t out[FRAME_MAX + 256];
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = in, .data_size_in = len, .data_out = out,
		    .data_size_out = sizeof(out), .repeat = 1);

	if (bpf_prog_test_run_opts(fd, &o))
		return -errno;
	*ret = o.retval;
	*ns = o.duration;
	return 0;
}

static void *lane_run(void *arg)
{
	struct lane *l = arg;
	cpu_set_t set;
	int fd = dp_open_fd(B);

	CPU_ZERO(&set);
	CPU_SET(l->cpu, &set);
	pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
	for (unsigned int i = 0; i < l->n; i++) {
		unsigned int k = l->first + i * l->step;
		uint32_t ret = 0, ns = 0;

		if (l->bar && i % BATCH == 0)
			pthread_barrier_wait(l->bar);
		if (run1(fd, l->frames[k], l->flen[k], &ret, &ns)) {
			l->errors++;
			continue;
		}
		l->ns[i] = ns;
		l->accepted += ret == TC_ACT_REDIRECT;
	}
	return NULL;
}

/* n frames of inner length len from A's peer p, sealed now (fresh counters). */
static int seal_frames(unsigned int p, unsigned int len, uint8_t (*frames)[FRAME_MAX],
		       uint32_t *flen, unsigned int n)
{
	uint8_t in[FRAME_MAX];
	char src[32], dst[32];
	size_t ilen;

	snprintf(src, sizeof(src), "10.9.%u.1", p);
	snprintf(dst, sizeof(dst), "10.9.%u.2", p);
	ilen = frame_inner(in, MAC_B, MAC_A, 0, src, dst, len, 3);
	for (unsigned int i = 0; i < n; i++) {
		LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = in, .data_size_in = (uint32_t)ilen,
			    .data_out = frames[i], .data_size_out = FRAME_MAX, .repeat = 1);

		if (bpf_prog_test_run_opts(dp_seal_fd(A), &o))
			return -errno;
		if (o.retval != TC_ACT_REDIRECT)
			return -EIO;
		flen[i] = o.data_size_out;
	}
	return 0;
}

static int setup(void)
{
	struct bpftun_config cfg = {.tun_ifindex = 1, .listen_port = htons(PORT)};
	struct bpftun_peer peer = {0};
	uint8_t key[32], salt[4];
	int err;

	memcpy(cfg.tun_mac, TUN_MAC, 6);
	err = dp_load(&A, &cfg) ?: dp_load(&B, &cfg);
	if (err) {
		fprintf(stderr, "bench_replay: load datapath (verifier rejection?): %s\n",
			strerror(-err));
		return err;
	}
	peer.ep.ifindex = 1;
	frame_addr(0, "192.0.2.1", peer.ep.saddr);
	frame_addr(0, "192.0.2.2", peer.ep.daddr);
	peer.ep.sport = peer.ep.dport = htons(PORT);
	memcpy(peer.ep.smac, MAC_A, 6);
	memcpy(peer.ep.dmac, MAC_B, 6);
	for (uint32_t p = 0; p < 2 && !err; p++) {
		uint8_t a4[4], b4[4];
		char s[32];
		struct bpftun_sa_req r = {.peer_id = p, .slot = 1, .index = RIDX + p};

		snprintf(s, sizeof(s), "10.9.%u.1", p);
		frame_addr(0, s, a4);
		snprintf(s, sizeof(s), "10.9.%u.2", p);
		frame_addr(0, s, b4);
		randombytes_buf(key, sizeof(key));
		randombytes_buf(salt, sizeof(salt));
		err = dp_set_peer(A, p, &peer) ?: dp_set_peer(B, p, &peer);
		err = err ?: dp_allow(A, 4, b4, 32, p) ?: dp_allow(B, 4, a4, 32, p);
		snprintf(r.algo, sizeof(r.algo), "ecb(aes)");
		memcpy(r.key, key, 32);
		memcpy(r.salt, salt, 4);
		r.op = BPFTUN_OP_INSTALL_TX;
		err = err ?: dp_sa_ctl(A, &r);
		memcpy(r.key, key, 32);
		r.op = BPFTUN_OP_INSTALL_RX;
		err = err ?: dp_sa_ctl(B, &r);
		r.op = BPFTUN_OP_ACTIVATE_TX;
		err = err ?: dp_sa_ctl(A, &r);
		sodium_memzero(key, sizeof(key));
	}
	if (err)
		fprintf(stderr, "bench_replay: configure peers and SAs: %s\n", strerror(-err));
	return err;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {{"sizes", required_argument, NULL, 's'},
					     {"packets", required_argument, NULL, 'n'},
					     {"rounds", required_argument, NULL, 'r'},
					     {"help", no_argument, NULL, 'h'},
					     {0}};
	unsigned int sizes[MAX_SIZES] = {64, 1400}, nsizes = 2;
	uint8_t(*frames[2])[FRAME_MAX];
	uint32_t *flen[2], *samples[N_ARR][MAX_SIZES];
	unsigned int nsamp[N_ARR][MAX_SIZES] = {0};
	int c, bad = 0;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		char *tok, *end;

		switch (c) {
		case 's':
			nsizes = 0;
			for (tok = strtok(optarg, ","); tok; tok = strtok(NULL, ",")) {
				unsigned long v = strtoul(tok, &end, 10);

				if (*end || v < 28 || v > 1400 || nsizes == MAX_SIZES) {
					fprintf(
					    stderr,
					    "bench_replay: --sizes: '%s' (28..1400, at most %d)\n",
					    tok, MAX_SIZES);
					return 2;
				}
				sizes[nsizes++] = (unsigned int)v;
			}
			break;
		case 'n':
			npackets = (unsigned int)strtoul(optarg, &end, 10);
			if (*end || npackets < 2 * BATCH || npackets > 1000000 || npackets % 2) {
				fprintf(stderr, "bench_replay: --packets: even, %d..1000000\n",
					2 * BATCH);
				return 2;
			}
			break;
		case 'r':
			nrounds = (unsigned int)strtoul(optarg, &end, 10);
			if (*end || !nrounds || nrounds > 100) {
				fprintf(stderr, "bench_replay: --rounds: 1..100\n");
				return 2;
			}
			break;
		default:
			fprintf(
			    c == 'h' ? stdout : stderr,
			    "usage: bench_replay [--sizes 64,1400] [--packets N] [--rounds R]\n");
			return c == 'h' ? 0 : 2;
		}
	}
	if (sysconf(_SC_NPROCESSORS_ONLN) < 2) {
		fprintf(stderr, "bench_replay: needs two online CPUs\n");
		return 1;
	}
	if (sodium_init() < 0 || setup())
		return 1;
	for (int p = 0; p < 2; p++) {
		frames[p] = malloc((size_t)npackets * FRAME_MAX);
		flen[p] = calloc(npackets, sizeof(uint32_t));
		if (!frames[p] || !flen[p])
			return 1;
	}
	for (int a = 0; a < N_ARR; a++)
		for (unsigned int s = 0; s < nsizes; s++)
			samples[a][s] = calloc((size_t)npackets * nrounds, sizeof(uint32_t));

	printf("bench_replay: %u packets per arrangement and size, %u rounds, interleaved\n",
	       npackets, nrounds);
	for (unsigned int r = 0; r < nrounds; r++) {
		for (unsigned int k = 0; k < N_ARR * nsizes; k++) {
			/* rotate the order each round */
			unsigned int idx = (k + r) % (N_ARR * nsizes);
			int a = (int)(idx % N_ARR);
			unsigned int s = idx / N_ARR;
			pthread_barrier_t bar;
			struct lane l[2] = {0};
			pthread_t t[2];
			int nl = a == ARR_ONE ? 1 : 2;
			uint32_t *ns[2];
			unsigned int accepted = 0, errors = 0;

			if (seal_frames(0, sizes[s], frames[0], flen[0], npackets) ||
			    (a == ARR_SEPARATE &&
			     seal_frames(1, sizes[s], frames[1], flen[1], npackets))) {
				fprintf(stderr, "bench_replay: seal failed\n");
				return 1;
			}
			pthread_barrier_init(&bar, NULL, (unsigned int)nl);
			for (int i = 0; i < nl; i++) {
				ns[i] = calloc(npackets, sizeof(uint32_t));
				l[i] = (struct lane){
				    .cpu = i, .bar = nl > 1 ? &bar : NULL, .ns = ns[i]};
				if (a == ARR_ONE) {
					l[i].frames = frames[0], l[i].flen = flen[0];
					l[i].first = 0, l[i].step = 1, l[i].n = npackets;
				} else if (a == ARR_SHARED) {
					l[i].frames = frames[0], l[i].flen = flen[0];
					l[i].first = (unsigned int)i, l[i].step = 2;
					l[i].n = npackets / 2;
				} else {
					l[i].frames = frames[i], l[i].flen = flen[i];
					l[i].first = 0, l[i].step = 1, l[i].n = npackets / 2;
				}
				pthread_create(&t[i], NULL, lane_run, &l[i]);
			}
			for (int i = 0; i < nl; i++) {
				pthread_join(t[i], NULL);
				accepted += l[i].accepted;
				errors += l[i].errors;
				memcpy(samples[a][s] + nsamp[a][s], ns[i],
				       l[i].n * sizeof(uint32_t));
				nsamp[a][s] += l[i].n;
				free(ns[i]);
			}
			pthread_barrier_destroy(&bar);
			/* every arrangement opens npackets packets in all */
			if (errors || accepted != npackets) {
				fprintf(stderr,
					"bench_replay: FAIL: %s L=%u: %u of %u accepted, %u errors "
					"(each packet must be accepted exactly once)\n",
					ARR_NAME[a], sizes[s], accepted, npackets, errors);
				bad = 1;
			}
		}
	}

	printf("\nns per tc_open (BPF_PROG_TEST_RUN duration): median [p10 p90]\n");
	printf("    L | %-20s | %-20s | %-20s | shared/separate  separate/one\n", "one (CPU 0)",
	       "shared (CPU 0+1)", "separate (CPU 0+1)");
	for (unsigned int s = 0; s < nsizes; s++) {
		double med[N_ARR];

		printf(" %4u |", sizes[s]);
		for (int a = 0; a < N_ARR; a++) {
			uint32_t *v = samples[a][s];
			unsigned int n = nsamp[a][s];

			qsort(v, n, sizeof(*v), cmp_u32);
			med[a] = n ? v[n / 2] : 0;
			printf(" %6.0f [%5u %6u] |", med[a], n ? v[n / 10] : 0,
			       n ? v[n * 9 / 10] : 0);
		}
		printf("      %5.3f          %5.3f\n",
		       med[ARR_SEPARATE] ? med[ARR_SHARED] / med[ARR_SEPARATE] : 0,
		       med[ARR_ONE] ? med[ARR_SEPARATE] / med[ARR_ONE] : 0);
	}
	printf("every packet accepted exactly once: %s\n", bad ? "NO" : "yes");
	dp_destroy(A);
	dp_destroy(B);
	return bad;
}
