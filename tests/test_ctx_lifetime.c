// SPDX-License-Identifier: GPL-2.0
/*
 * test_ctx_lifetime.c - install, replace and delete SAs thousands of times
 * and prove the kernel freed every cipher context.
 *
 * How freeing is observed: each bpf_crypto context holds one reference on
 * the crypto algorithm it instantiated; /proc/crypto prints that algorithm's
 * `refcnt`. Contexts are freed after an RCU grace period, so the test waits
 * (bounded) for the count to settle, then requires it to be back at the
 * baseline: a leaked context would leave it higher for good.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sodium.h>

#include "check.h"
#include "datapath.h"

#define ALGO "ecb(aes)"

/* The driver ALGO resolves to: its highest-priority lskcipher instance
 * (ecb(aes-fixed-time) without AES-NI, ecb(aes-aesni) with aesni_intel). */
static char DRIVER[128];

/* refcnt of the lskcipher ALGO with the highest priority (its driver in
 * DRIVER), or -1. */
static long crypto_refcnt(void)
{
	FILE *f = fopen("/proc/crypto", "r");
	char line[256], name[128] = "", driver[128] = "", type[64] = "";
	long refcnt = -1, prio = -1, found = -1, best = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (line[0] == '\n') {
			if (!strcmp(name, ALGO) && !strcmp(type, "lskcipher") && prio > best) {
				best = prio;
				found = refcnt;
				strcpy(DRIVER, driver);
			}
			name[0] = driver[0] = type[0] = 0;
			prio = -1;
			continue;
		}
		sscanf(line, "name : %127s", name);
		sscanf(line, "driver : %127s", driver);
		sscanf(line, "type : %63s", type);
		sscanf(line, "priority : %ld", &prio);
		sscanf(line, "refcnt : %ld", &refcnt);
	}
	fclose(f);
	return found;
}

/* Wait up to 10 s for the refcnt to drop to at most `want`; returns the last value. */
static long settle(long want)
{
	long v = crypto_refcnt();

	for (int i = 0; i < 200 && v > want; i++) {
		usleep(50 * 1000);
		v = crypto_refcnt();
	}
	return v;
}

static int op(struct datapath *dp, uint32_t op, uint32_t peer, uint32_t slot, uint32_t index)
{
	struct bpftun_sa_req r = {.op = op, .peer_id = peer, .slot = slot, .index = index};

	randombytes_buf(r.key, sizeof(r.key));
	randombytes_buf(r.salt, sizeof(r.salt));
	return dp_sa_ctl(dp, &r);
}

int main(void)
{
	enum { PEERS = 4, ROUNDS = 1500 };
	struct bpftun_config cfg = {.tun_ifindex = 1};
	struct datapath *dp = NULL;
	long base, peak, after;
	int errs = 0, created = 0;
	uint32_t index = 1;

	if (sodium_init() < 0)
		return 1;
	if (!check(dp_load(&dp, &cfg) == 0, "load the datapath (verifier)"))
		return check_summary();
	for (uint32_t p = 0; p < PEERS; p++) {
		struct bpftun_peer peer = {0};

		errs += dp_set_peer(dp, p, &peer) != 0;
	}
	/* On a freshly booted kernel the ecb(aes) instance appears in
	 * /proc/crypto only once something has used it: create and drop one
	 * context first. */
	errs += op(dp, BPFTUN_OP_INSTALL_TX, 0, 1, 0) != 0;
	errs += op(dp, BPFTUN_OP_CLEAR_SLOT, 0, 1, 0) != 0;
	/* Contexts freed by an earlier process (or just now) wait for an RCU
	 * grace period: take the baseline once the count is steady. */
	base = crypto_refcnt();
	for (int i = 0, steady = 0; i < 100 && steady < 6; i++) {
		long v;

		usleep(50 * 1000);
		v = crypto_refcnt();
		steady = v == base ? steady + 1 : 0;
		base = v;
	}
	if (!check(base > 0, "/proc/crypto lists %s (%s) with refcnt %ld", ALGO, DRIVER, base))
		return check_summary();

	/* Each round, per peer: a new tx SA in the next slot, activate it, and a
	 * new rx SA replacing the oldest slot. Every 50 rounds a peer is deleted. */
	for (int round = 0; round < ROUNDS; round++) {
		for (uint32_t p = 0; p < PEERS; p++) {
			uint32_t slot = (uint32_t)(round + 1) % BPFTUN_SLOTS;

			errs += op(dp, BPFTUN_OP_INSTALL_TX, p, slot, index) != 0;
			errs += op(dp, BPFTUN_OP_ACTIVATE_TX, p, slot, 0) != 0;
			errs += op(dp, BPFTUN_OP_INSTALL_RX, p, slot, index++) != 0;
			created += 2;
			if (round % 50 == 49 && round != ROUNDS - 1)
				errs += op(dp, BPFTUN_OP_DELETE_PEER, p, 0, 0) != 0;
		}
	}
	check(errs == 0,
	      "%d rounds x %d peers: %d contexts created, replaced and deleted, %d errors", ROUNDS,
	      PEERS, created, errs);

	/* Live contexts now: at most 3 tx + 3 rx per peer. */
	peak = settle(base + PEERS * 2 * BPFTUN_SLOTS);
	check(peak >= base && peak <= base + PEERS * 2 * BPFTUN_SLOTS,
	      "while loaded: refcnt %ld <= baseline %ld + %d live slots (nothing older survived)",
	      peak, base, PEERS * 2 * BPFTUN_SLOTS);
	check(peak > base, "while loaded: installed SAs do hold contexts (refcnt %ld > %ld)", peak,
	      base);

	for (uint32_t p = 0; p < PEERS; p++)
		errs += op(dp, BPFTUN_OP_DELETE_PEER, p, 0, 0) != 0;
	after = settle(base);
	check(after == base, "after DELETE_PEER on all peers: refcnt %ld == baseline %ld", after,
	      base);

	/* Tearing down the maps with SAs still installed frees them too. */
	for (uint32_t p = 0; p < PEERS; p++) {
		errs += op(dp, BPFTUN_OP_INSTALL_TX, p, 1, 0) != 0;
		errs += op(dp, BPFTUN_OP_INSTALL_RX, p, 1, index++) != 0;
	}
	check(crypto_refcnt() >= base + 2 * PEERS, "re-installed %d SAs (refcnt %ld)", 2 * PEERS,
	      crypto_refcnt());
	dp_destroy(dp);
	after = settle(base);
	check(after == base, "after unloading with SAs installed: refcnt %ld == baseline %ld",
	      after, base);

	/* An unknown algorithm is refused, with nothing left behind. */
	{
		struct bpftun_sa_req r = {.op = BPFTUN_OP_INSTALL_TX, .slot = 1};

		if (dp_load(&dp, &cfg) == 0) {
			struct bpftun_peer peer = {0};

			dp_set_peer(dp, 0, &peer);
			strcpy(r.algo, "ctr(aes)");
			check(dp_sa_ctl(dp, &r) < 0, "an unsupported cipher (ctr(aes)) is refused");
			strcpy(r.algo, "cbc(aes)");
			check(dp_sa_ctl(dp, &r) == -EINVAL,
			      "cbc(aes) is refused: the AEAD needs an ECB block cipher");
			strcpy(r.algo, "ecb(aes-generic)");
			check(dp_sa_ctl(dp, &r) == 0, "ecb(aes-generic) is accepted");
			dp_destroy(dp);
		}
	}
	return check_summary();
}
