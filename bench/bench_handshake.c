// SPDX-License-Identifier: GPL-2.0
/*
 * bench_handshake.c - time of a full Noise IK handshake, median of N.
 *
 * Two handshake devices in one process (no network): initiator creates an
 * initiation, responder consumes it and answers, initiator consumes the
 * response; both end with session keys. That is the key manager's work per
 * handshake besides two sendto()s and installing the keys (two sa_ctl runs
 * that create cipher contexts), which this does not time.
 *
 *   bench_handshake [N]     (default 100)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sodium.h>

#include "handshake.h"

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static int cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 100, fails = 0;
	uint8_t ipriv[32], rpriv[32], ipub[32], rpub[32], msg[HS_MAX_MSG_LEN];
	struct hs_device *ini = NULL, *rsp = NULL;
	struct hs_addr ia, ra;
	uint32_t ipeer, rpeer;
	uint64_t *t;

	if (n < 1 || n > 100000 || sodium_init() < 0)
		return 2;
	t = calloc((size_t)n, sizeof(*t));
	randombytes_buf(ipriv, 32);
	randombytes_buf(rpriv, 32);
	if (!t || hs_device_new(&ini, ipriv) || hs_device_new(&rsp, rpriv))
		return 1;
	hs_device_public_key(ini, ipub);
	hs_device_public_key(rsp, rpub);
	/* no rate limit: this measures the cryptography, not the limiter */
	hs_set_limits(rsp, 1000000, 1000000, 0);
	hs_set_limits(ini, 1000000, 1000000, 0);
	if (hs_peer_add(ini, rpub, &ipeer) || hs_peer_add(rsp, ipub, &rpeer))
		return 1;
	hs_addr_v4(&ia, (const uint8_t[]){10, 0, 0, 1}, 51820);
	hs_addr_v4(&ra, (const uint8_t[]){10, 0, 0, 2}, 51820);

	for (int i = 0; i < n; i++) {
		struct hs_result r1, r2;
		uint64_t t0 = now_ns();
		int ok;

		ok = !hs_create_initiation(ini, ipeer, msg, sizeof(msg)) &&
		     !hs_consume_initiation(rsp, msg, HS_INITIATION_LEN, &ia, &r1) &&
		     r1.have_keys && !hs_consume_response(ini, r1.reply, r1.reply_len, &ra, &r2) &&
		     r2.have_keys &&
		     !memcmp(r1.keys.tx.key, r2.keys.rx.key, sizeof(r1.keys.tx.key));
		t[i] = now_ns() - t0;
		fails += !ok;
		hs_result_wipe(&r1);
		hs_result_wipe(&r2);
	}
	qsort(t, (size_t)n, sizeof(*t), cmp);
	printf("Noise IK handshake (initiation + response, both sides), %d runs, %d failed\n", n,
	       fails);
	printf("  median %.1f us   p10 %.1f us   p90 %.1f us   min %.1f us\n", t[n / 2] / 1e3,
	       t[n / 10] / 1e3, t[n * 9 / 10] / 1e3, t[0] / 1e3);
	hs_device_free(ini);
	hs_device_free(rsp);
	free(t);
	return fails ? 1 : 0;
}
