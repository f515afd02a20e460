// SPDX-License-Identifier: GPL-2.0
/*
 * fuzz_handshake.c - libFuzzer target for the handshake message parser and
 * consumers (keymgmt/handshake.c on keymgmt/noise.c).
 *
 * Owns the fuzzing harness only. Each input is fed as an initiation to a
 * responder, as a response to an initiator with a pending handshake, as a
 * cookie reply, and through hs_receive(). The first byte selects fix-ups so
 * that inputs also get past the cheap checks into Noise:
 *   bit 0  set the type, clear reserved, point a response at the pending
 *          index, and reseal mac1 with the receiver's real key
 *   bit 1  clear mac2
 *   bit 2  receivers under load
 * Any result other than 0, a rejection reason or -EINVAL aborts, as does a
 * rejection that still hands out keys. A fake clock advances 60 ms per input
 * so that the rate limiter refills, and the pending initiation is renewed.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "handshake.h"

#define FUZZ_MAX_LEN 512

struct fclock {
	uint64_t mono, real;
};

static struct fclock clk = {1000000000000ULL, 1700000000000000000ULL};
static struct hs_device *resp, *init;
static uint8_t rpub[NOISE_DHLEN], ipub[NOISE_DHLEN], pending[HS_INDEX_LEN];
static uint32_t resp_id;
static unsigned long iterations;

static uint64_t f_mono(void *arg)
{
	return clk.mono;
}

static uint64_t f_real(void *arg)
{
	return clk.real;
}

static void renew_pending(void)
{
	uint8_t msg[HS_INITIATION_LEN];

	if (hs_create_initiation(init, resp_id, msg, sizeof(msg)))
		abort();
	memcpy(pending, msg + 4, HS_INDEX_LEN);
}

static void setup(void)
{
	uint8_t k1[NOISE_DHLEN], k2[NOISE_DHLEN];
	uint32_t id;

	memset(k1, 0x11, sizeof(k1));
	memset(k2, 0x22, sizeof(k2));
	if (hs_device_new(&resp, k1) || hs_device_new(&init, k2))
		abort();
	hs_set_clock(resp, f_mono, f_real, NULL);
	hs_set_clock(init, f_mono, f_real, NULL);
	hs_device_public_key(resp, rpub);
	hs_device_public_key(init, ipub);
	if (hs_peer_add(init, rpub, &resp_id) || hs_peer_add(resp, ipub, &id))
		abort();
	renew_pending();
}

static void verdict(int rc, const struct hs_result *res)
{
	if (rc == 0 || rc == -EINVAL)
		return;
	if (!hs_is_rejection(rc) || res->have_keys)
		abort();
	if (res->reply_len && res->reply_len != HS_COOKIE_REPLY_LEN)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* An exactly sized heap copy, so that ASan sees any read past the end. */
static uint8_t *dup(const uint8_t *data, size_t size)
{
	uint8_t *p = malloc(size ? size : 1);

	if (!p)
		abort();
	memcpy(p, data, size);
	return p;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t ip[4] = {192, 0, 2, 9};
	struct hs_result res;
	struct hs_addr src;
	uint8_t *buf, mode;
	int rc;

	if (!resp)
		setup();
	if (size < 1)
		return 0;
	mode = data[0];
	data++;
	size--;
	if (size > FUZZ_MAX_LEN)
		size = FUZZ_MAX_LEN;
	clk.mono += 60000000;
	clk.real += 60000000;
	if (++iterations % 1000 == 0)
		renew_pending();
	hs_set_under_load(resp, mode & 4);
	hs_set_under_load(init, mode & 4);
	hs_addr_v4(&src, ip, 4242);

	/* As an initiation. */
	buf = dup(data, size);
	if ((mode & 1) && size >= 4) {
		buf[0] = BPFTUN_MSG_HANDSHAKE_INIT;
		memset(buf + 1, 0, 3);
	}
	if ((mode & 2) && size == HS_INITIATION_LEN)
		hs_seal_mac2(NULL, buf, size);
	if ((mode & 1) && size == HS_INITIATION_LEN)
		hs_seal_mac1(rpub, buf, size);
	rc = hs_consume_initiation(resp, buf, size, &src, &res);
	verdict(rc, &res);
	free(buf);

	/* As a response to the pending initiation. */
	buf = dup(data, size);
	if ((mode & 1) && size >= 12) {
		buf[0] = BPFTUN_MSG_HANDSHAKE_RESP;
		memset(buf + 1, 0, 3);
		memcpy(buf + 8, pending, HS_INDEX_LEN);
	}
	if ((mode & 2) && size == HS_RESPONSE_LEN)
		hs_seal_mac2(NULL, buf, size);
	if ((mode & 1) && size == HS_RESPONSE_LEN)
		hs_seal_mac1(ipub, buf, size);
	rc = hs_consume_response(init, buf, size, &src, &res);
	verdict(rc, &res);
	if (rc == 0) /* cannot happen without the responder's key */
		abort();
	free(buf);

	/* As a cookie reply, and as whatever its type says. */
	buf = dup(data, size);
	rc = hs_consume_cookie(init, buf, size, &res);
	verdict(rc, &res);
	rc = hs_receive(resp, buf, size, &src, &res);
	verdict(rc, &res);
	free(buf);
	hs_result_wipe(&res);
	return 0;
}
