// SPDX-License-Identifier: GPL-2.0
/*
 * test_datapath.c - table-driven BPF_PROG_TEST_RUN tests of tc_seal and
 * tc_open, checked byte for byte against the independent userspace reference
 * (tests/ref_aead.c: OpenSSL AES + libsodium Poly1305).
 *
 * Two datapath instances play the two ends: A seals towards B, B opens.
 * Packets for the negative cases are crafted with the reference, so any
 * counter, index or inner address can be put on the wire.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/udp.h>
#include <sodium.h>
#include <stdatomic.h>

#include "check.h"
#include "frames.h"
#include "datapath.h"
#include "dp_pair.h"
#include "ref_aead.h"
#include "vectors_kat.h"
#include "testprogs.skel.h"

static uint8_t KEY[32], SALT[4];

/* The peer id pair_setup configures on both ends, and the number of peers
 * the datapaths are sized for (0: dp_load's smallest size).
 * test_top_peer_id changes them. */
static uint32_t PEER_ID, LOAD_PEERS;

static void addr(int fam, const char *s, void *out)
{
	frame_addr(fam == 6, s, out);
}

static int allow(struct datapath *dp, const char *s, unsigned int prefix)
{
	return pair_allow(dp, s, prefix, PEER_ID);
}

static int sa(struct datapath *dp, uint32_t op, uint32_t slot, uint32_t index, uint64_t limit,
	      uint64_t expire_ns)
{
	struct bpftun_sa_req r = {.op = op, .peer_id = PEER_ID, .slot = slot, .index = index};

	memcpy(r.key, KEY, 32);
	memcpy(r.salt, SALT, 4);
	r.counter_limit = limit;
	r.expire_ns = expire_ns;
	return dp_sa_ctl(dp, &r);
}

/* A seals to B over outer v4 or v6 (dp_pair.c); B accepts A's inner
 * addresses only. */
static int pair_setup(struct pair *p, int outer6, uint64_t tx_limit)
{
	const char *what;
	int err = pair_load(p, outer6, PEER_ID, LOAD_PEERS, &what);

	if (err) {
		check(0, "%s: %s", what, strerror(-err));
		return err;
	}
	err = allow(p->a, IN4_B, 32) ?: allow(p->a, IN6_B, 128);
	err = err ?: allow(p->a, IN4_X, 32) ?: allow(p->a, IN6_X, 128);
	err = err ?: allow(p->b, IN4_A, 32) ?: allow(p->b, IN6_A, 128);
	err = err ?: sa(p->a, BPFTUN_OP_INSTALL_TX, 1, RIDX, tx_limit, 0);
	err = err ?: sa(p->a, BPFTUN_OP_ACTIVATE_TX, 1, 0, 0, 0);
	err = err ?: sa(p->b, BPFTUN_OP_INSTALL_RX, 1, RIDX, 0, 0);
	if (err) {
		check(0, "configure pair: %s", strerror(-err));
		pair_destroy(p);
	}
	return err;
}

/* ----------------------------------------------------------- packet helpers */

/* A sealed frame built by the reference: any index, counter, inner packet. */
static size_t craft(uint8_t *f, int outer6, uint8_t type, uint32_t index, uint64_t counter,
		    const uint8_t *inner, size_t len)
{
	size_t o = outer_headers(f, outer6, 16 + len + 16);
	uint8_t *hdr = f + o;

	memset(hdr, 0, 16);
	hdr[0] = type;
	for (int i = 0; i < 4; i++)
		hdr[4 + i] = (uint8_t)(index >> (8 * i));
	for (int i = 0; i < 8; i++)
		hdr[8 + i] = (uint8_t)(counter >> (8 * i));
	if (ref_seal(KEY, SALT, hdr, inner, len, hdr + 16, hdr + 16 + len))
		abort();
	return o + 16 + len + 16;
}

static uint64_t drops(struct datapath *dp, uint32_t peer, int reason)
{
	struct bpftun_peer_stats st;

	if (dp_peer_stats(dp, peer, &st))
		return ~0ULL;
	return st.drops[reason];
}

/* Open `frame` at B and expect a drop of `reason`, counted for `peer`. */
static int expect_drop(struct pair *p, const uint8_t *frame, size_t len, int reason, uint32_t peer)
{
	uint64_t before = drops(p->b, peer, reason);
	struct run r;

	if (run(dp_open_fd(p->b), frame, len, &r))
		return 0;
	return r.ret == TC_ACT_SHOT && drops(p->b, peer, reason) == before + 1;
}

/* --------------------------------------------------------------- round trip */

/* Check one sealed frame from A against the reference and the outer headers. */
static int check_sealed(struct pair *p, const uint8_t *inner, size_t len, const struct run *r,
			const char *what)
{
	size_t o = outer_len(p->outer6);
	const uint8_t *hdr = r->out + o;
	uint8_t ct[FRAME_MAX], tag[16];
	const struct ethhdr *eth = (const void *)r->out;
	const struct udphdr *u = (const void *)(r->out + o - 8);
	uint32_t pseudo = 0;
	int ok = 1;

	if (r->ret != TC_ACT_REDIRECT || r->out_len != o + 16 + len + 16) {
		printf("  %s: verdict %u len %u (want %d, %zu)\n", what, r->ret, r->out_len,
		       TC_ACT_REDIRECT, o + 16 + len + 16);
		return 0;
	}
	ok &= hdr[0] == BPFTUN_MSG_DATA && !hdr[1] && !hdr[2] && !hdr[3];
	ok &= (uint32_t)(hdr[4] | hdr[5] << 8 | hdr[6] << 16 | (uint32_t)hdr[7] << 24) == RIDX;
	ok &= !ref_seal(KEY, SALT, hdr, inner, len, ct, tag);
	ok &= !memcmp(ct, hdr + 16, len) && !memcmp(tag, hdr + 16 + len, 16);
	ok &= !memcmp(eth->h_dest, MAC_B, 6) && !memcmp(eth->h_source, MAC_A, 6);
	ok &= eth->h_proto == htons(p->outer6 ? ETH_P_IPV6 : ETH_P_IP);
	ok &= ntohs(u->source) == PORT && ntohs(u->dest) == PORT;
	ok &= ntohs(u->len) == 8 + 16 + len + 16;
	if (p->outer6) {
		const struct ipv6hdr *h = (const void *)(r->out + 14);

		ok &= h->version == 6 && ntohs(h->payload_len) == 8 + 16 + len + 16;
		ok &= h->nexthdr == IPPROTO_UDP;
		pseudo = csum16(&h->saddr, 32, 0);
	} else {
		const struct iphdr *h = (const void *)(r->out + 14);

		ok &= h->version == 4 && h->ihl == 5 && ntohs(h->tot_len) == 20 + 8 + 16 + len + 16;
		ok &= csum16(h, 20, 0) == 0xffff; /* header checksum verifies */
		pseudo = csum16(&h->saddr, 8, 0);
	}
	/* UDP checksum over pseudo header + datagram must verify */
	pseudo += IPPROTO_UDP + (uint32_t)(8 + 16 + len + 16);
	ok &= u->check != 0 && csum16(u, 8 + 16 + len + 16, pseudo) == 0xffff;
	if (!ok)
		printf("  %s: sealed frame differs from the reference or has bad headers\n", what);
	return ok;
}

static void test_round_trips(int outer6)
{
	struct pair p;
	uint8_t frame[FRAME_MAX];
	int mismatch = 0, bad_open = 0, n = 0;

	if (pair_setup(&p, outer6, 0))
		return;
	/* Every inner length 28..1500 for v4, 48..1500 for v6 (UDP inside),
	 * plus header-only packets. */
	for (int v6 = 0; v6 <= 1; v6++) {
		size_t min = v6 ? 40 : 20;

		for (size_t len = min; len <= 1500; len++) {
			struct run s, o;
			size_t flen = inner_frame(frame, v6, v6 ? IN6_A : IN4_A, v6 ? IN6_B : IN4_B,
						  len, (uint8_t)len);
			char what[64];

			snprintf(what, sizeof(what), "inner v%d len %zu", v6 ? 6 : 4, len);
			n++;
			if (run(dp_seal_fd(p.a), frame, flen, &s) ||
			    !check_sealed(&p, frame + 14, len, &s, what)) {
				mismatch++;
				continue;
			}
			if (run(dp_open_fd(p.b), s.out, s.out_len, &o) ||
			    o.ret != TC_ACT_REDIRECT || o.out_len != flen ||
			    memcmp(o.out + 14, frame + 14, len) || memcmp(o.out, TUN_MAC, 6) ||
			    ((const struct ethhdr *)o.out)->h_proto !=
				htons(v6 ? ETH_P_IPV6 : ETH_P_IP)) {
				if (bad_open++ < 3) {
					printf("  %s: open gave verdict %u len %u\n", what, o.ret,
					       o.out_len);
					if (getenv("DEBUG")) {
						print_hex("got", o.out, o.out_len);
						print_hex("want", frame, flen);
						for (int k = 0; k < BPFTUN_DROP_MAX; k++)
							if (drops(p.b, 0, k) ||
							    drops(p.b, BPFTUN_MAX_PEERS, k))
								printf("drop %s\n",
								       bpftun_drop_name(k));
					}
				}
				continue;
			}
		}
	}
	check(mismatch == 0,
	      "outer v%d: %d sealed frames (inner v4+v6, 20..1500 B) match the "
	      "OpenSSL/libsodium reference byte for byte, headers and checksums valid "
	      "(%d differ)",
	      outer6 ? 6 : 4, n, mismatch);
	check(bad_open == 0,
	      "outer v%d: all %d open back to the original inner packet, "
	      "redirected with the tunnel MAC (%d failed)",
	      outer6 ? 6 : 4, n, bad_open);
	{
		struct bpftun_peer_stats sa_, sb;

		dp_peer_stats(p.a, 0, &sa_);
		dp_peer_stats(p.b, 0, &sb);
		check(sa_.tx_packets == (uint64_t)n && sb.rx_packets == (uint64_t)n,
		      "outer v%d: counters tx_packets %llu rx_packets %llu == %d", outer6 ? 6 : 4,
		      (unsigned long long)sa_.tx_packets, (unsigned long long)sb.rx_packets, n);
	}
	pair_destroy(&p);
}

/* A frame sealed by the reference opens in BPF. */
static void test_reference_frame_opens(void)
{
	struct pair p;
	uint8_t inner[64], frame[FRAME_MAX];
	struct run r;
	size_t len;

	if (pair_setup(&p, 0, 0))
		return;
	len = inner_frame(frame, 0, IN4_A, IN4_B, 64, 3) - 14;
	memcpy(inner, frame + 14, len);
	len = craft(frame, 0, BPFTUN_MSG_DATA, RIDX, 42, inner, 64);
	check(!run(dp_open_fd(p.b), frame, len, &r) && r.ret == TC_ACT_REDIRECT &&
		  !memcmp(r.out + 14, inner, 64),
	      "a frame sealed by the reference (counter 42) opens in BPF");
	pair_destroy(&p);
}

/* The published known-answer vector (tests/vectors_kat.h), bytes as
 * written there, through tc_open: the tag must verify and the plaintext must
 * come out. The vector's plaintext is not an IP packet, so the packet is
 * then dropped as malformed; the decrypted bytes are read from the opener's
 * per-CPU scratch, where tc_open left them. */
static void test_kat_bpf(void)
{
	struct bpftun_config cfg = {.tun_ifindex = 1, .listen_port = htons(PORT)};
	struct bpftun_peer peer = {0};
	struct bpftun_sa_req req = {
	    .op = BPFTUN_OP_INSTALL_RX, .slot = 1, .index = BPFTUN_KAT_RECEIVER_INDEX};
	struct datapath *dp = NULL;
	uint8_t frame[FRAME_MAX], inner[BPFTUN_KAT_LEN];
	size_t o = outer_len(0), flen;
	int ncpu = libbpf_num_possible_cpus(), found = 0;
	uint64_t before;
	struct pair fake;
	struct run r;

	if (!check(dp_load(&dp, &cfg) == 0, "KAT: load a datapath"))
		return;
	dp_set_peer(dp, 0, &peer);
	memcpy(req.key, bpftun_kat_key, 32);
	memcpy(req.salt, bpftun_kat_salt, 4);
	check(dp_sa_ctl(dp, &req) == 0, "KAT: install the vector's key and salt as an rx SA");
	/* outer headers from craft(), then the vector's bytes verbatim */
	memset(inner, 0, sizeof(inner));
	flen = craft(frame, 0, BPFTUN_MSG_DATA, 0, 0, inner, BPFTUN_KAT_LEN);
	memcpy(frame + o, bpftun_kat_hdr, 16);
	memcpy(frame + o + 16, bpftun_kat_ct, BPFTUN_KAT_LEN);
	memcpy(frame + o + 16 + BPFTUN_KAT_LEN, bpftun_kat_tag, 16);
	fake.b = dp;
	before = drops(dp, 0, BPFTUN_DROP_MALFORMED);
	check(!run(dp_open_fd(dp), frame, flen, &r) && r.ret == TC_ACT_SHOT &&
		  drops(dp, 0, BPFTUN_DROP_MALFORMED) == before + 1 &&
		  drops(dp, 0, BPFTUN_DROP_BAD_TAG) == 0,
	      "KAT: the vector's tag verifies in BPF (dropped after decryption as malformed, "
	      "not as bad_tag)");
	{
		struct {
			uint8_t ks[BPFTUN_SCRATCH + 64];
			uint8_t buf[BPFTUN_SCRATCH + 64];
		} *v = calloc((size_t)ncpu, sizeof(*v));
		uint32_t key = 1;

		if (v && !bpf_map_lookup_elem(dp_map_fd(dp, "scratch"), &key, v))
			for (int c = 0; c < ncpu; c++)
				found |= !memcmp(v[c].buf + 16, bpftun_kat_pt, BPFTUN_KAT_LEN);
		free(v);
	}
	check(found, "KAT: BPF decrypted the vector's ciphertext to its plaintext");
	frame[o + 16 + BPFTUN_KAT_LEN + 15] ^= 0x80;
	check(expect_drop(&fake, frame, flen, BPFTUN_DROP_BAD_TAG, 0),
	      "KAT: with the last tag bit flipped -> bad_tag");
	dp_destroy(dp);
}

/* ----------------------------------------------------------------- tampering */

static void test_bit_flips(void)
{
	struct pair p;
	uint8_t frame[FRAME_MAX], inner[FRAME_MAX], bad[FRAME_MAX];
	const size_t lens[] = {20, 61, 100};
	uint64_t ctr = 1000;

	if (pair_setup(&p, 0, 0))
		return;
	for (size_t li = 0; li < sizeof(lens) / sizeof(lens[0]); li++) {
		size_t len = lens[li], o = outer_len(0), flen;
		int wrong_hdr = 0, wrong_body = 0, nhdr = 0, nbody = 0;

		inner_frame(frame, 0, IN4_A, IN4_B, len, 9);
		memcpy(inner, frame + 14, len);
		flen = craft(frame, 0, BPFTUN_MSG_DATA, RIDX, ctr++, inner, len);
		for (size_t bit = 0; bit < (16 + len + 16) * 8; bit++) {
			size_t byte = o + bit / 8;
			int reason, want_pass = 0;

			memcpy(bad, frame, flen);
			bad[byte] ^= (uint8_t)(1 << (bit % 8));
			if (bit < 8) {
				want_pass = 1; /* type byte: not data, to the stack */
			} else if (bit >= 32 && bit < 64) {
				reason = BPFTUN_DROP_NO_SA; /* unknown receiver index */
			} else {
				reason = BPFTUN_DROP_BAD_TAG;
			}
			if (want_pass) {
				struct run r;
				int ok = !run(dp_open_fd(p.b), bad, flen, &r) &&
					 r.ret == TC_ACT_UNSPEC && r.out_len == flen &&
					 !memcmp(r.out, bad, flen);

				wrong_hdr += !ok;
				nhdr++;
				continue;
			}
			if (bit < 128) {
				nhdr++;
				wrong_hdr += !expect_drop(
				    &p, bad, flen, reason,
				    reason == BPFTUN_DROP_NO_SA ? BPFTUN_MAX_PEERS : 0);
			} else {
				nbody++;
				wrong_body += !expect_drop(&p, bad, flen, reason, 0);
			}
		}
		check(wrong_hdr == 0,
		      "inner %zu B: %d header bit flips: type -> passed on untouched, index -> "
		      "no_sa, "
		      "reserved/counter -> bad_tag (%d wrong)",
		      len, nhdr, wrong_hdr);
		check(
		    wrong_body == 0,
		    "inner %zu B: every one of %d ciphertext and tag bit flips dropped as bad_tag "
		    "(%d wrong)",
		    len, nbody, wrong_body);
		/* and the untouched frame still opens: the flips did not burn its counter */
		{
			struct run r;

			check(!run(dp_open_fd(p.b), frame, flen, &r) && r.ret == TC_ACT_REDIRECT,
			      "inner %zu B: the original frame opens after its forgeries", len);
		}
	}
	pair_destroy(&p);
}

static void test_malformed(void)
{
	struct pair p;
	uint8_t frame[FRAME_MAX], inner[FRAME_MAX], bad[FRAME_MAX];
	size_t flen, o = outer_len(0);
	struct run r;
	int wrong = 0;

	if (pair_setup(&p, 0, 0))
		return;
	inner_frame(frame, 0, IN4_A, IN4_B, 200, 1);
	memcpy(inner, frame + 14, 200);
	flen = craft(frame, 0, BPFTUN_MSG_DATA, RIDX, 7, inner, 200);

	/* truncated frames whose UDP length still claims the whole datagram */
	for (size_t cut = o + 1; cut < flen; cut += 13)
		wrong += !expect_drop(&p, frame, cut, BPFTUN_DROP_MALFORMED, BPFTUN_MAX_PEERS);
	check(wrong == 0,
	      "truncated frames (UDP length larger than the frame) -> malformed (%d wrong)", wrong);

	/* consistent lengths but shorter than header + tag */
	wrong = 0;
	for (size_t body = 1; body < 32; body += 5) {
		struct udphdr *u = (void *)(bad + o - 8);
		struct iphdr *h = (void *)(bad + 14);

		memcpy(bad, frame, o + body);
		u->len = htons((uint16_t)(8 + body));
		h->tot_len = htons((uint16_t)(20 + 8 + body));
		wrong += !expect_drop(&p, bad, o + body, BPFTUN_DROP_MALFORMED, BPFTUN_MAX_PEERS);
	}
	check(wrong == 0, "datagrams shorter than header + tag -> malformed (%d wrong)", wrong);

	/* authentic, but the inner IP length disagrees with the ciphertext length */
	{
		uint8_t in2[FRAME_MAX];

		memcpy(in2, inner, 200);
		((struct iphdr *)in2)->tot_len = htons(150);
		flen = craft(bad, 0, BPFTUN_MSG_DATA, RIDX, 8, in2, 200);
		check(expect_drop(&p, bad, flen, BPFTUN_DROP_MALFORMED, 0),
		      "authentic packet whose inner length lies -> malformed");
		memset(in2, 0x45, 200);
		in2[0] = 0x75; /* IP version 7 */
		flen = craft(bad, 0, BPFTUN_MSG_DATA, RIDX, 9, in2, 200);
		check(expect_drop(&p, bad, flen, BPFTUN_DROP_MALFORMED, 0),
		      "authentic packet with a non-IP inner -> malformed");
	}

	/* unknown receiver index */
	flen = craft(bad, 0, BPFTUN_MSG_DATA, RIDX + 1, 10, inner, 200);
	check(expect_drop(&p, bad, flen, BPFTUN_DROP_NO_SA, BPFTUN_MAX_PEERS),
	      "unknown receiver index -> no_sa, counted as unattributed");

	/* wrong port, handshake type, non-UDP: passed on untouched */
	{
		struct udphdr *u;
		int ok;

		memcpy(bad, frame, flen);
		u = (void *)(bad + o - 8);
		u->dest = htons(PORT + 1);
		ok = !run(dp_open_fd(p.b), bad, flen, &r) && r.ret == TC_ACT_UNSPEC &&
		     r.out_len == flen && !memcmp(r.out, bad, flen);
		check(ok, "wrong UDP port -> passed on untouched");
		for (uint8_t t = BPFTUN_MSG_HANDSHAKE_INIT; t <= BPFTUN_MSG_COOKIE; t++) {
			memcpy(bad, frame, flen);
			bad[o] = t;
			ok = !run(dp_open_fd(p.b), bad, flen, &r) && r.ret == TC_ACT_UNSPEC &&
			     r.out_len == flen && !memcmp(r.out, bad, flen);
			check(ok,
			      "handshake type %u on our port -> passed on untouched to the socket",
			      t);
		}
		memcpy(bad, frame, flen);
		((struct iphdr *)(bad + 14))->protocol = IPPROTO_TCP;
		ok = !run(dp_open_fd(p.b), bad, flen, &r) && r.ret == TC_ACT_UNSPEC &&
		     !memcmp(r.out, bad, flen);
		check(ok, "non-UDP outer -> passed on untouched");
	}
	pair_destroy(&p);
}

/* ----------------------------------------------------------------- replay */

static void test_replay(int outer6)
{
	/* counter, expected verdict: 0 delivered, 1 replay. Window is 8128. */
	/* counter, expected verdict: 0 delivered, 1 dropped as replay. The
	 * window accepts counters c with c + 8128 >= highest accepted + 1. */
	static const struct {
		uint64_t ctr;
		int replay;
	} seq[] = {
	    {0, 0},	{1, 0},	    {1, 1},	{9, 0},
	    {8, 0},	{7, 0},	    {7, 1},	{9000, 0},
	    {872, 1},					  /* 9000 - 8128: one past the edge */
	    {873, 0},					  /* the oldest counter still inside */
	    {873, 1},	{874, 0},   {9001, 0},	{873, 1}, /* the edge moved past it */
	    {875, 0},	{20000, 0}, {19999, 0}, {20000, 1},
	    {11872, 1}, {11873, 0}, {11873, 1}, {BPFTUN_REJECT_AFTER_MESSAGES, 1},
	};
	struct pair p;
	uint8_t frame[FRAME_MAX], inner[FRAME_MAX];
	size_t flen;

	if (pair_setup(&p, outer6, 0))
		return;
	inner_frame(frame, 1, IN6_A, IN6_B, 120, 4);
	memcpy(inner, frame + 14, 120);
	for (size_t i = 0; i < sizeof(seq) / sizeof(seq[0]); i++) {
		uint64_t before = drops(p.b, 0, BPFTUN_DROP_REPLAY);
		struct run r;
		int ok;

		flen = craft(frame, outer6, BPFTUN_MSG_DATA, RIDX, seq[i].ctr, inner, 120);
		ok = !run(dp_open_fd(p.b), frame, flen, &r);
		if (seq[i].replay)
			ok &=
			    r.ret == TC_ACT_SHOT && drops(p.b, 0, BPFTUN_DROP_REPLAY) == before + 1;
		else
			ok &= r.ret == TC_ACT_REDIRECT && !memcmp(r.out + 14, inner, 120);
		check(ok, "outer v%d replay case %zu: counter %llu -> %s", outer6 ? 6 : 4, i + 1,
		      (unsigned long long)seq[i].ctr, seq[i].replay ? "replay drop" : "delivered");
	}
	pair_destroy(&p);
}

/* Two CPUs open the same 4000 authentic packets at once: each counter must be
 * accepted exactly once in total. Without the SA lock both would win races. */
struct race {
	struct pair *p;
	uint8_t (*frames)[256];
	size_t flen;
	int n, cpu, accepted, err;
};

static void *race_thread(void *arg)
{
	struct race *r = arg;
	cpu_set_t set;
	struct run out;

	CPU_ZERO(&set);
	CPU_SET(r->cpu, &set);
	pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
	for (int i = 0; i < r->n; i++) {
		if (run(dp_open_fd(r->p->b), r->frames[i], r->flen, &out)) {
			r->err++;
			continue;
		}
		r->accepted += out.ret == TC_ACT_REDIRECT;
	}
	return NULL;
}

static void test_replay_concurrent(void)
{
	enum { N = 4000 };
	static uint8_t frames[N][256];
	struct race r[2];
	pthread_t t[2];
	struct pair p;
	uint8_t frame[FRAME_MAX], inner[64];
	size_t flen = 0;
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);

	if (pair_setup(&p, 0, 0))
		return;
	inner_frame(frame, 0, IN4_A, IN4_B, 60, 5);
	memcpy(inner, frame + 14, 60);
	for (int i = 0; i < N; i++)
		flen = craft(frames[i], 0, BPFTUN_MSG_DATA, RIDX, (uint64_t)i, inner, 60);
	for (int i = 0; i < 2; i++) {
		r[i] = (struct race){.p = &p,
				     .frames = frames,
				     .flen = flen,
				     .n = N,
				     .cpu = (int)(i % (ncpu > 0 ? ncpu : 1))};
		pthread_create(&t[i], NULL, race_thread, &r[i]);
	}
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	check(r[0].err == 0 && r[1].err == 0 && r[0].accepted + r[1].accepted == N &&
		  drops(p.b, 0, BPFTUN_DROP_REPLAY) == N,
	      "two CPUs open the same %d packets: accepted %d + %d == %d, replay drops %llu == %d",
	      N, r[0].accepted, r[1].accepted, N,
	      (unsigned long long)drops(p.b, 0, BPFTUN_DROP_REPLAY), N);
	pair_destroy(&p);
}

/* ------------------------------------------------------- routing and limits */

static void test_allowed_ips(void)
{
	struct pair p;
	uint8_t frame[FRAME_MAX], inner[FRAME_MAX];
	size_t flen;

	if (pair_setup(&p, 1, 0))
		return;
	inner_frame(frame, 0, IN4_X, IN4_B, 100, 6); /* source not B's peer's */
	memcpy(inner, frame + 14, 100);
	flen = craft(frame, 1, BPFTUN_MSG_DATA, RIDX, 1, inner, 100);
	check(expect_drop(&p, frame, flen, BPFTUN_DROP_NOT_ALLOWED_IP, 0),
	      "inner IPv4 source outside the peer's allowed IPs -> not_allowed_ip");
	inner_frame(frame, 1, IN6_X, IN6_B, 100, 6);
	memcpy(inner, frame + 14, 100);
	flen = craft(frame, 1, BPFTUN_MSG_DATA, RIDX, 2, inner, 100);
	check(expect_drop(&p, frame, flen, BPFTUN_DROP_NOT_ALLOWED_IP, 0),
	      "inner IPv6 source outside the peer's allowed IPs -> not_allowed_ip");
	pair_destroy(&p);
}

static int seal_drop(struct datapath *dp, const uint8_t *frame, size_t len, int reason,
		     uint32_t peer)
{
	uint64_t before = drops(dp, peer, reason);
	struct run r;

	if (run(dp_seal_fd(dp), frame, len, &r))
		return 0;
	return r.ret == TC_ACT_SHOT && drops(dp, peer, reason) == before + 1;
}

static void test_seal_refusals(void)
{
	struct pair p;
	uint8_t frame[FRAME_MAX];
	size_t flen;
	struct run r;
	int ok;

	/* counter limit 3: three packets leave, the fourth is refused */
	if (pair_setup(&p, 0, 3))
		return;
	flen = inner_frame(frame, 0, IN4_A, IN4_B, 80, 1);
	ok = 1;
	for (int i = 0; i < 3; i++)
		ok &= !run(dp_seal_fd(p.a), frame, flen, &r) && r.ret == TC_ACT_REDIRECT;
	ok &= seal_drop(p.a, frame, flen, BPFTUN_DROP_COUNTER_EXHAUSTED, 0);
	ok &= seal_drop(p.a, frame, flen, BPFTUN_DROP_COUNTER_EXHAUSTED, 0);
	check(ok, "tx counter limit 3: packets 0-2 sealed, then counter_exhausted, never wraps");

	/* destination without a peer */
	flen = inner_frame(frame, 0, IN4_A, "10.99.0.1", 80, 1);
	check(seal_drop(p.a, frame, flen, BPFTUN_DROP_NO_PEER, BPFTUN_MAX_PEERS),
	      "inner destination outside every peer's allowed IPs -> no_peer");

	/* too big: an inner packet over BPFTUN_MAX_INNER */
	flen = inner_frame(frame, 0, IN4_A, IN4_B, BPFTUN_MAX_INNER + 1, 1);
	check(seal_drop(p.a, frame, flen, BPFTUN_DROP_TOO_BIG, BPFTUN_MAX_PEERS),
	      "inner packet of %d B -> too_big", BPFTUN_MAX_INNER + 1);

	/* inner length field larger than the frame */
	flen = inner_frame(frame, 0, IN4_A, IN4_B, 80, 1);
	((struct iphdr *)(frame + 14))->tot_len = htons(200);
	check(seal_drop(p.a, frame, flen, BPFTUN_DROP_MALFORMED, BPFTUN_MAX_PEERS),
	      "inner IP length beyond the frame -> malformed");
	pair_destroy(&p);

	/* no SA: a peer without keys sends nothing, and nothing leaves in clear */
	{
		struct bpftun_config cfg = {.tun_ifindex = 1, .listen_port = htons(PORT)};
		struct bpftun_peer peer = {0};
		struct datapath *dp = NULL;

		if (dp_load(&dp, &cfg)) {
			check(0, "load datapath");
			return;
		}
		peer.ep.ifindex = 1;
		dp_set_peer(dp, 0, &peer);
		allow(dp, IN4_B, 24);
		flen = inner_frame(frame, 0, IN4_A, IN4_B, 80, 1);
		check(seal_drop(dp, frame, flen, BPFTUN_DROP_NO_SA, 0),
		      "peer without a tx SA -> no_sa, packet dropped");
		/* an expired SA fails closed */
		{
			struct timespec ts;
			uint64_t now;

			clock_gettime(CLOCK_MONOTONIC, &ts);
			now = (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
			check(sa(dp, BPFTUN_OP_INSTALL_TX, 2, RIDX, 0, now - 1) == 0 &&
				  sa(dp, BPFTUN_OP_ACTIVATE_TX, 2, 0, 0, 0) == 0,
			      "install an already expired tx SA");
			check(seal_drop(dp, frame, flen, BPFTUN_DROP_KEY_EXPIRED, 0),
			      "expired tx SA -> key_expired, nothing sent");
			check(sa(dp, BPFTUN_OP_INSTALL_TX, 2, RIDX, 0, 0) == -EBUSY,
			      "installing over the active tx slot is refused (-EBUSY)");
			check(sa(dp, BPFTUN_OP_ACTIVATE_TX, 0, 0, 0, 0) == -ENOENT,
			      "activating an empty slot is refused (-ENOENT)");
		}
		dp_destroy(dp);
	}
}

/* A rekey in the middle of a stream loses nothing: old-key packets in flight
 * still open after the sender has moved to the new slot. */
static void test_rekey_slots(void)
{
	struct pair p;
	uint8_t frame[FRAME_MAX];
	struct run old_pkt, new_pkt, r;
	size_t flen;
	int ok;

	if (pair_setup(&p, 0, 0))
		return;
	flen = inner_frame(frame, 0, IN4_A, IN4_B, 90, 2);
	ok = !run(dp_seal_fd(p.a), frame, flen, &old_pkt) && old_pkt.ret == TC_ACT_REDIRECT;
	/* new keys: B gets an rx SA in slot 2 first, then A installs and switches */
	randombytes_buf(KEY, sizeof(KEY));
	randombytes_buf(SALT, sizeof(SALT));
	ok &= sa(p.b, BPFTUN_OP_INSTALL_RX, 2, RIDX + 7, 0, 0) == 0;
	ok &= sa(p.a, BPFTUN_OP_INSTALL_TX, 2, RIDX + 7, 0, 0) == 0;
	ok &= sa(p.a, BPFTUN_OP_ACTIVATE_TX, 2, 0, 0, 0) == 0;
	ok &= !run(dp_seal_fd(p.a), frame, flen, &new_pkt) && new_pkt.ret == TC_ACT_REDIRECT;
	ok &= new_pkt.out[outer_len(0) + 4] == (uint8_t)(RIDX + 7);
	/* deliver the new one first, then the old one still in flight */
	ok &= !run(dp_open_fd(p.b), new_pkt.out, new_pkt.out_len, &r) && r.ret == TC_ACT_REDIRECT;
	ok &= !run(dp_open_fd(p.b), old_pkt.out, old_pkt.out_len, &r) && r.ret == TC_ACT_REDIRECT;
	check(ok, "rekey: new-key and in-flight old-key packets both delivered");
	/* retire the old slot: its packets are then refused */
	ok = sa(p.b, BPFTUN_OP_CLEAR_SLOT, 1, 0, 0, 0) == 0;
	ok &= expect_drop(&p, old_pkt.out, old_pkt.out_len, BPFTUN_DROP_NO_SA, BPFTUN_MAX_PEERS);
	check(ok, "after the old slot is cleared its packets are dropped as no_sa");
	pair_destroy(&p);
}

/* A keepalive sealed by tc_keepalive (as the key manager sends it) opens at
 * the peer as an authentic empty message: counted, consumed, not delivered. */
static void test_keepalive(void)
{
	struct pair p;
	uint8_t ka[32], frame[FRAME_MAX], inner[1];
	struct bpftun_peer_stats before, after;
	size_t o = outer_len(0), flen;
	struct run r;

	if (pair_setup(&p, 0, 0))
		return;
	check(dp_keepalive(p.a, 0, ka) == 0 && ka[0] == BPFTUN_MSG_DATA,
	      "keepalive: tc_keepalive seals an empty data message");
	/* the reference agrees on the tag of an empty message */
	{
		uint8_t tag[16];

		check(!ref_seal(KEY, SALT, ka, inner, 0, inner, tag) && !memcmp(tag, ka + 16, 16),
		      "keepalive: its tag equals the reference's for an empty payload");
	}
	flen = craft(frame, 0, BPFTUN_MSG_DATA, RIDX, 0, inner, 0);
	memcpy(frame + o, ka, 32);
	dp_peer_stats(p.b, 0, &before);
	check(!run(dp_open_fd(p.b), frame, flen, &r) && r.ret == TC_ACT_SHOT,
	      "keepalive: the peer consumes it");
	dp_peer_stats(p.b, 0, &after);
	check(after.rx_packets == before.rx_packets + 1 && after.rx_bytes == before.rx_bytes &&
		  !memcmp(after.drops, before.drops, sizeof(after.drops)),
	      "keepalive: counted as received (0 bytes), not as a drop");
	check(dp_keepalive(p.a, 7, ka) == -ENOKEY, "keepalive: a peer without keys gets none");
	pair_destroy(&p);
}

/* -------------------------------------------- addressed to this host only */

static int sh(const char *cmd)
{
	int rc = system(cmd);

	if (rc)
		printf("  `%s` failed (%d)\n", cmd, rc);
	return rc ? -1 : 0;
}

static int sysctl_w(const char *path, const char *v)
{
	FILE *f = fopen(path, "w");
	int ok = f && fputs(v, f) >= 0;

	if (f)
		ok &= fclose(f) == 0;
	return ok ? 0 : -1;
}

static int forwarding(int on)
{
	return sysctl_w("/proc/sys/net/ipv4/conf/all/forwarding", on ? "1" : "0")
		   ?: sysctl_w("/proc/sys/net/ipv6/conf/all/forwarding", on ? "1" : "0");
}

/* Every counter of peer 0 and of the unattributed slot, summed. */
static uint64_t all_counters(struct datapath *dp)
{
	uint32_t ids[2] = {0, BPFTUN_MAX_PEERS};
	uint64_t n = 0;

	for (int i = 0; i < 2; i++) {
		struct bpftun_peer_stats st;

		if (dp_peer_stats(dp, ids[i], &st))
			return ~0ULL;
		n += st.rx_packets + st.tx_packets;
		for (int k = 0; k < BPFTUN_DROP_MAX; k++)
			n += st.drops[k];
	}
	return n;
}

/* passed: verdict TC_ACT_UNSPEC, the frame untouched, no counter moved */
static int passed_untouched(struct datapath *dp, int fd, const uint8_t *frame, size_t len)
{
	uint64_t before = all_counters(dp);
	struct run r;

	return !run(fd, frame, len, &r) && r.ret == TC_ACT_UNSPEC && r.out_len == len &&
	       !memcmp(r.out, frame, len) && all_counters(dp) == before;
}

/* tc_open asks the kernel's routing (bpf_fib_lookup) whether a data message
 * is addressed to this host. BPF_PROG_TEST_RUN runs it on this namespace's
 * loopback device; the namespace is the test's own (main), so the answers
 * depend on what is set up here and nowhere else. */
static void test_only_for_us(int outer6)
{
	const char *dst = outer6 ? OUT6_B : OUT4_B;
	uint8_t frame[FRAME_MAX], inner[FRAME_MAX];
	char cmd[160];
	struct pair p;
	size_t flen;
	struct run r;
	int ok;

	if (pair_setup(&p, outer6, 0))
		return;
	inner_frame(frame, 0, IN4_A, IN4_B, 100, 8);
	memcpy(inner, frame + 14, 100);

	/* a host: forwarding off, the destination is not even local here */
	ok = forwarding(0) == 0;
	flen = craft(frame, outer6, BPFTUN_MSG_DATA, RIDX, 1, inner, 100);
	ok &= !run(dp_open_fd(p.b), frame, flen, &r) && r.ret == TC_ACT_REDIRECT;
	check(ok,
	      "outer v%d: forwarding off: a data message is this host's to open "
	      "(the stack would deliver it or drop it, never forward it)",
	      outer6 ? 6 : 4);

	/* a router: forwarding on, a route to the destination through t0 */
	ok = forwarding(1) == 0;
	snprintf(cmd, sizeof(cmd), "ip %s route replace %s dev bttr0", outer6 ? "-6" : "",
		 outer6 ? "2001:db8::/64" : "192.0.2.0/24");
	ok &= !sh(cmd);
	flen = craft(frame, outer6, BPFTUN_MSG_DATA, RIDX, 2, inner, 100);
	ok &= passed_untouched(p.b, dp_open_fd(p.b), frame, flen);
	check(ok,
	      "outer v%d: forwarding on, destination routed elsewhere: passed on untouched, "
	      "nothing counted",
	      outer6 ? 6 : 4);
	/* a forged one (unknown index, bad tag) to be forwarded is none of ours either */
	flen = craft(frame, outer6, BPFTUN_MSG_DATA, RIDX + 99, 3, inner, 100);
	check(passed_untouched(p.b, dp_open_fd(p.b), frame, flen),
	      "outer v%d: forwarding on, transit message with an unknown index: passed, not no_sa",
	      outer6 ? 6 : 4);

	/* the same destination made a local address: ours again */
	snprintf(cmd, sizeof(cmd), "ip %s addr add %s/%d dev lo", outer6 ? "-6" : "", dst,
		 outer6 ? 128 : 32);
	ok = !sh(cmd);
	flen = craft(frame, outer6, BPFTUN_MSG_DATA, RIDX, 4, inner, 100);
	ok &= !run(dp_open_fd(p.b), frame, flen, &r) && r.ret == TC_ACT_REDIRECT &&
	      !memcmp(r.out + 14, inner, 100);
	check(ok, "outer v%d: forwarding on, destination local: opened and delivered",
	      outer6 ? 6 : 4);
	flen = craft(frame, outer6, BPFTUN_MSG_DATA, RIDX + 99, 5, inner, 100);
	check(expect_drop(&p, frame, flen, BPFTUN_DROP_NO_SA, BPFTUN_MAX_PEERS),
	      "outer v%d: forwarding on, destination local, unknown index: no_sa", outer6 ? 6 : 4);
	snprintf(cmd, sizeof(cmd), "ip %s addr del %s/%d dev lo", outer6 ? "-6" : "", dst,
		 outer6 ? 128 : 32);
	sh(cmd);
	forwarding(0);
	pair_destroy(&p);
}

/* ----------------------------------------------------------- VLAN frames */

/* protocol.md: VLAN-tagged frames are passed on. At TC ingress the tag is in
 * the skb's metadata; testprogs' tc_vlan_wrap puts it there and tail-calls
 * tc_open. */
static void test_vlan(void)
{
	struct testprogs_bpf *tp = testprogs_bpf__open();
	uint8_t frame[FRAME_MAX], inner[FRAME_MAX];
	struct bpf_program *prog;
	uint32_t zero = 0;
	struct pair p;
	size_t flen;
	struct run r;
	int fd, ok;

	if (!check(tp != NULL, "VLAN: open testprogs"))
		return;
	bpf_object__for_each_program(prog, tp->obj)
	    bpf_program__set_autoload(prog, prog == tp->progs.tc_vlan_wrap);
	if (!check(testprogs_bpf__load(tp) == 0 && tp->bss, "VLAN: load tc_vlan_wrap")) {
		testprogs_bpf__destroy(tp);
		return;
	}
	if (pair_setup(&p, 0, 0)) {
		testprogs_bpf__destroy(tp);
		return;
	}
	fd = dp_open_fd(p.b);
	ok = !bpf_map_update_elem(bpf_map__fd(tp->maps.vlan_next), &zero, &fd, BPF_ANY);
	check(ok, "VLAN: tc_open in the wrapper's prog array");
	inner_frame(frame, 0, IN4_A, IN4_B, 120, 7);
	memcpy(inner, frame + 14, 120);
	flen = craft(frame, 0, BPFTUN_MSG_DATA, RIDX, 1, inner, 120);

	tp->bss->vlan_push_tci = 100;
	check(passed_untouched(p.b, bpf_program__fd(tp->progs.tc_vlan_wrap), frame, flen),
	      "VLAN: an authentic data message tagged with VLAN id 100 is passed on untouched, "
	      "nothing counted");
	tp->bss->vlan_push_tci = 4095 | (7 << 13);
	check(passed_untouched(p.b, bpf_program__fd(tp->progs.tc_vlan_wrap), frame, flen),
	      "VLAN: VLAN id 4095, priority 7: passed on untouched");
	/* a priority tag (VLAN id 0) is delivered on this device: handled */
	tp->bss->vlan_push_tci = 5 << 13;
	ok = !run(bpf_program__fd(tp->progs.tc_vlan_wrap), frame, flen, &r) &&
	     r.ret == TC_ACT_REDIRECT && !memcmp(r.out + 14, inner, 120);
	check(ok,
	      "VLAN: priority-tagged (VLAN id 0) message opened like an untagged one "
	      "(verdict %u)",
	      r.ret);
	pair_destroy(&p);
	testprogs_bpf__destroy(tp);
}

/* ------------------------------------------------- scratch after a forgery */

struct scratch_val {
	uint8_t ks[BPFTUN_SCRATCH + 64];
	uint8_t buf[BPFTUN_SCRATCH + 64];
};

/* Does any CPU's tc_open scratch hold any keystream block of `counter`? */
static int scratch_holds_keystream(struct datapath *dp, uint64_t counter, uint32_t nblk)
{
	int ncpu = libbpf_num_possible_cpus(), found = 0;
	struct scratch_val *v = calloc((size_t)ncpu, sizeof(*v));
	uint8_t ks[BPFTUN_KS_MAX];
	uint32_t key = 1;

	if (!v || ref_keystream(KEY, SALT, counter, 0, nblk, ks) ||
	    bpf_map_lookup_elem(dp_map_fd(dp, "scratch"), &key, v)) {
		free(v);
		return -1;
	}
	for (int c = 0; c < ncpu; c++)
		for (uint32_t b = 0; b < nblk; b++)
			for (uint32_t at = 0; at < nblk; at++)
				found += !memcmp(v[c].ks + at * 16, ks + b * 16, 16);
	free(v);
	return found;
}

static void test_scratch_after_forgery(void)
{
	uint8_t frame[FRAME_MAX], inner[FRAME_MAX];
	const uint32_t nblk = BPFTUN_POLYKEY_BLOCKS + 100 / 16 + 1; /* 100 B inner */
	struct pair p;
	size_t flen;
	struct run r;

	if (pair_setup(&p, 0, 0))
		return;
	inner_frame(frame, 0, IN4_A, IN4_B, 100, 6);
	memcpy(inner, frame + 14, 100);
	/* control: an authentic message leaves its (spent) keystream, so the
	 * check below does see keystream when it is there */
	flen = craft(frame, 0, BPFTUN_MSG_DATA, RIDX, 500, inner, 100);
	check(!run(dp_open_fd(p.b), frame, flen, &r) && r.ret == TC_ACT_REDIRECT &&
		  scratch_holds_keystream(p.b, 500, nblk) == (int)nblk,
	      "scratch: after an authentic message its %u keystream blocks are found (control)",
	      nblk);
	/* a forgery for a counter the sender has not used yet */
	flen = craft(frame, 0, BPFTUN_MSG_DATA, RIDX, 501, inner, 100);
	frame[flen - 1] ^= 1;
	check(expect_drop(&p, frame, flen, BPFTUN_DROP_BAD_TAG, 0),
	      "scratch: forged tag -> bad_tag");
	check(scratch_holds_keystream(p.b, 501, nblk) == 0,
	      "scratch: after the forgery no CPU's scratch holds any of its keystream blocks "
	      "(Poly1305 key included)");
	/* and the genuine message with that counter still opens */
	frame[flen - 1] ^= 1;
	check(!run(dp_open_fd(p.b), frame, flen, &r) && r.ret == TC_ACT_REDIRECT,
	      "scratch: the genuine message for counter 501 opens afterwards");
	pair_destroy(&p);
}

/* ------------------------------------------------- tx counters never reset */

static uint64_t sealed_counter(const struct run *r)
{
	uint64_t c;

	memcpy(&c, r->out + outer_len(0) + 8, 8);
	return c;
}

/* A slot's counter only grows, across keys: a sealer that took the old key
 * just before a rekey of its slot can never repeat a (key, counter). */
static void test_counter_never_reset(void)
{
	uint8_t frame[FRAME_MAX];
	struct bpftun_tx_sa_info info;
	struct pair p;
	size_t flen;
	struct run r;
	int ok = 1;

	if (pair_setup(&p, 0, 0))
		return;
	flen = inner_frame(frame, 0, IN4_A, IN4_B, 80, 1);
	for (uint64_t i = 0; i < 5; i++)
		ok &= !run(dp_seal_fd(p.a), frame, flen, &r) && sealed_counter(&r) == i;
	check(ok, "counters: slot 1 sends 0..4");
	randombytes_buf(KEY, sizeof(KEY));
	ok = sa(p.a, BPFTUN_OP_INSTALL_TX, 2, RIDX + 1, 0, 0) == 0 &&
	     sa(p.a, BPFTUN_OP_ACTIVATE_TX, 2, 0, 0, 0) == 0;
	ok &= !run(dp_seal_fd(p.a), frame, flen, &r) && sealed_counter(&r) == 0; /* slot 2: 0 */
	randombytes_buf(KEY, sizeof(KEY));
	ok &= sa(p.a, BPFTUN_OP_INSTALL_TX, 1, RIDX + 2, 0, 0) == 0 &&
	      sa(p.a, BPFTUN_OP_ACTIVATE_TX, 1, 0, 0, 0) == 0;
	ok &= sa(p.b, BPFTUN_OP_INSTALL_RX, 2, RIDX + 2, 0, 0) == 0;
	ok &= !run(dp_seal_fd(p.a), frame, flen, &r) && r.ret == TC_ACT_REDIRECT;
	check(ok && sealed_counter(&r) == 5,
	      "counters: a new key in slot 1 continues at counter 5, not 0 (got %llu)",
	      (unsigned long long)sealed_counter(&r));
	memset(&info, 0, sizeof(info));
	ok = dp_tx_sa(p.a, 0, 1, &info) == 0;
	check(ok && info.present && info.counter == 1,
	      "counters: dp_tx_sa reports 1 message under the new key (got %llu)",
	      (unsigned long long)info.counter);
	{
		struct run o;

		check(!run(dp_open_fd(p.b), r.out, r.out_len, &o) && o.ret == TC_ACT_REDIRECT,
		      "counters: the peer's fresh rx SA accepts a first counter of 5");
	}
	/* counter_limit counts from the key's first counter */
	randombytes_buf(KEY, sizeof(KEY));
	ok = sa(p.a, BPFTUN_OP_INSTALL_TX, 2, RIDX + 3, 2, 0) == 0 &&
	     sa(p.a, BPFTUN_OP_ACTIVATE_TX, 2, 0, 0, 0) == 0; /* slot 2 is at counter 1 */
	ok &= !run(dp_seal_fd(p.a), frame, flen, &r) && sealed_counter(&r) == 1;
	ok &= !run(dp_seal_fd(p.a), frame, flen, &r) && sealed_counter(&r) == 2;
	ok &= seal_drop(p.a, frame, flen, BPFTUN_DROP_COUNTER_EXHAUSTED, 0);
	check(ok, "counters: a limit of 2 messages on a slot at counter 1 sends 1 and 2, then "
		  "counter_exhausted");
	pair_destroy(&p);
}

/* Two CPUs seal without pause while the main thread re-keys, alternating
 * slots 1 and 2, each time with a new key, salt and receiver index. Every
 * sealed frame is attributed to the key that really sealed it (the reference
 * opens it), and no (key, counter) may appear twice. On a kernel whose
 * softirqs cannot be preempted the window (between tc_seal reading the
 * context and taking its counter) is nanoseconds wide, so this mostly shows
 * that nothing else repeats; test_counter_never_reset shows the mechanism. */
enum { RK_GENS = 200, RK_MAXF = 40000, RK_INNER = 60 };

struct rk_frame {
	uint8_t hdr[16], ct[RK_INNER], tag[16];
};

struct rk_thread {
	struct pair *p;
	int cpu, err;
	atomic_int n;
	struct rk_frame *f;
};

static atomic_int rk_stop;
static uint8_t rk_keys[RK_GENS + 1][32], rk_salts[RK_GENS + 1][4];

static void *rk_sealer(void *arg)
{
	struct rk_thread *t = arg;
	uint8_t frame[FRAME_MAX];
	size_t flen = inner_frame(frame, 0, IN4_A, IN4_B, RK_INNER, 3), o = outer_len(0);
	cpu_set_t set;
	struct run r;

	CPU_ZERO(&set);
	CPU_SET(t->cpu, &set);
	pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
	while (!atomic_load(&rk_stop) && t->n < RK_MAXF) {
		if (run(dp_seal_fd(t->p->a), frame, flen, &r) || r.ret != TC_ACT_REDIRECT ||
		    r.out_len != o + 32 + RK_INNER) {
			t->err++;
			continue;
		}
		memcpy(&t->f[atomic_load(&t->n)], r.out + o, sizeof(struct rk_frame));
		atomic_fetch_add(&t->n, 1);
	}
	return NULL;
}

static int rk_cmp(const void *a, const void *b)
{
	const uint64_t *x = a, *y = b;

	return x[0] != y[0] ? (x[0] < y[0] ? -1 : 1) : (x[1] < y[1] ? -1 : x[1] > y[1]);
}

static void test_rekey_concurrent(void)
{
	struct rk_thread t[2];
	pthread_t th[2];
	struct pair p;
	uint64_t(*pairs)[2];
	int total = 0, unattributed = 0, stale = 0, dups = 0, rekeys = 0;
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);

	if (pair_setup(&p, 0, 0))
		return;
	memcpy(rk_keys[0], KEY, 32);
	memcpy(rk_salts[0], SALT, 4);
	atomic_store(&rk_stop, 0);
	for (int i = 0; i < 2; i++) {
		t[i] = (struct rk_thread){.p = &p,
					  .cpu = (int)(i % (ncpu > 0 ? ncpu : 1)),
					  .f = calloc(RK_MAXF, sizeof(struct rk_frame))};
		pthread_create(&th[i], NULL, rk_sealer, &t[i]);
	}
	for (int g = 1; g <= RK_GENS; g++) {
		uint32_t slot = 1 + (g & 1 ? 1 : 0); /* 2, 1, 2, 1, ... */

		/* let both sealers get going, and re-key among their packets:
		 * one rekey per 60 frames sealed, each wait at most 50 ms */
		for (int w = 0;
		     w < 500 && (atomic_load(&t[0].n) < 20 || atomic_load(&t[1].n) < 20 ||
				 atomic_load(&t[0].n) + atomic_load(&t[1].n) < 60 * g);
		     w++)
			usleep(100);

		randombytes_buf(rk_keys[g], 32);
		randombytes_buf(rk_salts[g], 4);
		memcpy(KEY, rk_keys[g], 32);
		memcpy(SALT, rk_salts[g], 4);
		rekeys +=
		    sa(p.a, BPFTUN_OP_INSTALL_TX, slot, RIDX + 0x100 + (uint32_t)g, 0, 0) == 0 &&
		    sa(p.a, BPFTUN_OP_ACTIVATE_TX, slot, 0, 0, 0) == 0;
	}
	atomic_store(&rk_stop, 1);
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	pairs = calloc(2 * RK_MAXF, sizeof(*pairs));
	for (int i = 0; i < 2 && pairs; i++) {
		for (int k = 0; k < t[i].n; k++) {
			struct rk_frame *f = &t[i].f[k];
			uint32_t idx;
			uint64_t ctr;
			uint8_t pt[RK_INNER];
			int g, found = -1;

			memcpy(&idx, f->hdr + 4, 4);
			memcpy(&ctr, f->hdr + 8, 8);
			g = idx == RIDX ? 0 : (int)(idx - RIDX - 0x100);
			/* the header's generation, else its neighbours (a sealer
			 * that read the context before a rekey and the index or
			 * salt after it), every key with every salt */
			for (int d = 0; d <= 4 && found < 0; d++)
				for (int kg = g - d; kg <= g + d && found < 0; kg++)
					for (int sg = g - d; sg <= g + d && found < 0; sg++)
						if (kg >= 0 && kg <= RK_GENS && sg >= 0 &&
						    sg <= RK_GENS &&
						    !ref_open(rk_keys[kg], rk_salts[sg], f->hdr,
							      f->ct, RK_INNER, f->tag, pt))
							found = kg;
			if (found < 0) {
				unattributed++;
				continue;
			}
			stale += found != g;
			pairs[total][0] = (uint64_t)found;
			pairs[total][1] = ctr;
			total++;
		}
	}
	if (pairs) {
		qsort(pairs, (size_t)total, sizeof(*pairs), rk_cmp);
		for (int i = 1; i < total; i++)
			dups += pairs[i][0] == pairs[i - 1][0] && pairs[i][1] == pairs[i - 1][1];
	}
	check(rekeys == RK_GENS && t[0].err + t[1].err == 0 && total > 1000,
	      "rekey race: %d rekeys while 2 CPUs sealed %d + %d frames", rekeys, t[0].n, t[1].n);
	check(pairs && unattributed == 0 && dups == 0,
	      "rekey race: every frame opens under a key the test installed (%d not), and no "
	      "(key, counter) repeats (%d repeats; %d frames sealed with the previous key of "
	      "their slot)",
	      unattributed, dups, stale);
	free(pairs);
	free(t[0].f);
	free(t[1].f);
	pair_destroy(&p);
}

/* The top of the peer range: datapaths sized for BPFTUN_MAX_PEERS peers
 * hold peer id BPFTUN_MAX_PEERS - 1 (SAs, allowed IPs, seal checked against
 * the reference, open, counters) and refuse the next one; the smallest
 * size refuses BPFTUN_MIN_PEERS. */
static uint32_t map_entries(struct datapath *dp, const char *name)
{
	struct bpf_map_info info = {0};
	uint32_t len = sizeof(info);

	if (bpf_obj_get_info_by_fd(dp_map_fd(dp, name), &info, &len))
		return 0;
	return info.max_entries;
}

static void test_top_peer_id(void)
{
	const uint32_t top = BPFTUN_MAX_PEERS - 1;
	uint8_t frame[FRAME_MAX];
	struct bpftun_peer_stats sa_, sb;
	struct bpftun_peer peer = {0};
	struct pair p;
	int bad = 0, n = 0;

	check(dp_capacity(0, 256, 16384) == 256 && dp_capacity(205, 256, 16384) == 256 &&
		  dp_capacity(206, 256, 16384) == 512 && dp_capacity(10000, 256, 16384) == 16384 &&
		  dp_capacity(16384, 256, 16384) == 16384 &&
		  dp_capacity(6554, 256, 16384) == 8192 && dp_capacity(6555, 256, 16384) == 16384,
	      "dp_capacity: power of two >= n + n/4, at least min, at most max");
	PEER_ID = top;
	LOAD_PEERS = BPFTUN_MAX_PEERS;
	if (pair_setup(&p, 0, 0))
		goto out;
	check(dp_max_peers(p.a) == BPFTUN_MAX_PEERS &&
		  map_entries(p.a, "peers") == BPFTUN_MAX_PEERS &&
		  map_entries(p.a, "tx_sas") == BPFTUN_MAX_PEERS * BPFTUN_SLOTS &&
		  map_entries(p.a, "rx_refs") == BPFTUN_MAX_PEERS * BPFTUN_SLOTS &&
		  map_entries(p.a, "rx_sas") == BPFTUN_MAX_PEERS * BPFTUN_SLOTS &&
		  map_entries(p.a, "stats") == BPFTUN_MAX_PEERS + 1,
	      "sized for %d peers: peers %u, tx_sas %u, rx_refs %u, rx_sas %u, stats %u entries",
	      BPFTUN_MAX_PEERS, map_entries(p.a, "peers"), map_entries(p.a, "tx_sas"),
	      map_entries(p.a, "rx_refs"), map_entries(p.a, "rx_sas"), map_entries(p.a, "stats"));
	for (int v6 = 0; v6 <= 1; v6++)
		for (size_t len = v6 ? 40 : 20; len <= 1500; len += 97) {
			struct run s, o;
			size_t flen = inner_frame(frame, v6, v6 ? IN6_A : IN4_A, v6 ? IN6_B : IN4_B,
						  len, (uint8_t)len);

			n++;
			if (run(dp_seal_fd(p.a), frame, flen, &s) ||
			    !check_sealed(&p, frame + 14, len, &s, "peer 16383") ||
			    run(dp_open_fd(p.b), s.out, s.out_len, &o) ||
			    o.ret != TC_ACT_REDIRECT || o.out_len != flen ||
			    memcmp(o.out + 14, frame + 14, len))
				bad++;
		}
	check(bad == 0,
	      "peer id %u: %d packets sealed as the reference seals them and opened "
	      "back (%d failed)",
	      top, n, bad);
	memset(&sa_, 0xff, sizeof(sa_));
	memset(&sb, 0xff, sizeof(sb));
	bad = dp_peer_stats(p.a, top, &sa_) || dp_peer_stats(p.b, top, &sb);
	check(!bad && sa_.tx_packets == (uint64_t)n && sb.rx_packets == (uint64_t)n,
	      "peer id %u: tx_packets %llu, rx_packets %llu counted for it (want %d)", top,
	      (unsigned long long)sa_.tx_packets, (unsigned long long)sb.rx_packets, n);
	{
		uint8_t inner[200];
		size_t flen;

		inner_frame(frame, 0, IN4_A, IN4_B, 100, 1);
		memcpy(inner, frame + 14, 100);
		flen = craft(frame, 0, BPFTUN_MSG_DATA, RIDX + 1, 1, inner, 100);
		check(expect_drop(&p, frame, flen, BPFTUN_DROP_NO_SA, BPFTUN_NO_PEER),
		      "unknown index at a %d-peer datapath: no_sa, counted unattributed "
		      "(stats index %d)",
		      BPFTUN_MAX_PEERS, BPFTUN_MAX_PEERS);
	}
	{
		struct bpftun_sa_req r = {
		    .op = BPFTUN_OP_INSTALL_RX, .peer_id = top + 1, .slot = 0, .index = 77};
		uint8_t a4[4];
		int e1 = dp_set_peer(p.b, top + 1, &peer), e2;

		memcpy(r.key, KEY, 32);
		e2 = dp_sa_ctl(p.b, &r);
		check(e1 == -ERANGE && e2 == -ENOENT, "peer id %u refused: set_peer %d, sa_ctl %d",
		      top + 1, e1, e2);
		/* an allowed IP naming a peer id past the table seals nothing */
		addr(4, IN4_X, a4);
		dp_allow(p.a, 4, a4, 32, top + 1);
		check(seal_drop(p.a, frame, inner_frame(frame, 0, IN4_A, IN4_X, 100, 2),
				BPFTUN_DROP_NO_PEER, BPFTUN_NO_PEER),
		      "allowed IP naming peer id %u (past the table): no_peer, unattributed",
		      top + 1);
	}
	pair_destroy(&p);
	/* the smallest size: peer BPFTUN_MIN_PEERS - 1 works, BPFTUN_MIN_PEERS does not */
	LOAD_PEERS = 0;
	PEER_ID = BPFTUN_MIN_PEERS - 1;
	if (!pair_setup(&p, 0, 0)) {
		struct run s;
		size_t flen = inner_frame(frame, 0, IN4_A, IN4_B, 200, 3);
		int e = dp_set_peer(p.a, BPFTUN_MIN_PEERS, &peer);

		check(dp_max_peers(p.a) == BPFTUN_MIN_PEERS &&
			  map_entries(p.a, "rx_sas") == BPFTUN_MIN_PEERS * BPFTUN_SLOTS &&
			  e == -ERANGE && !run(dp_seal_fd(p.a), frame, flen, &s) &&
			  check_sealed(&p, frame + 14, 200, &s, "peer 255"),
		      "dp_load (smallest size): %u peers, peer %d seals, peer %d refused (%d)",
		      dp_max_peers(p.a), BPFTUN_MIN_PEERS - 1, BPFTUN_MIN_PEERS, e);
		pair_destroy(&p);
	}
out:
	PEER_ID = 0;
	LOAD_PEERS = 0;
}

/* dp_get_peers and dp_peer_stats_range (the key manager's tick): the same
 * as dp_get_peer / dp_peer_stats for every peer, with batch lookups and
 * with the element-by-element fallback, across DP_BATCH_MAX boundaries. */
static int batch_peers_agree(struct datapath *dp, uint32_t first, uint32_t n, int *bad_id)
{
	static struct bpftun_peer got[BPFTUN_MAX_PEERS];
	struct bpftun_peer one;
	int err = dp_get_peers(dp, first, n, got);

	if (err)
		return err;
	for (uint32_t i = 0; i < n; i++)
		if (dp_get_peer(dp, first + i, &one) || memcmp(&one, &got[i], sizeof(one)) ||
		    one.keepalive != (uint16_t)(first + i) ||
		    one.present != ((first + i) % 3 != 0)) {
			*bad_id = (int)(first + i);
			return -EBADMSG;
		}
	return 0;
}

static int batch_stats_agree(struct datapath *dp, uint32_t first, uint32_t n, int ncpu, int *bad_id)
{
	static struct bpftun_peer_stats got[BPFTUN_MAX_PEERS];
	struct bpftun_peer_stats one;
	int err = dp_peer_stats_range(dp, first, n, got);

	if (err)
		return err;
	for (uint32_t i = 0; i < n; i++) {
		uint64_t id = first + i, c = (uint64_t)ncpu;

		/* what test_batch_reads wrote, summed by hand */
		if (dp_peer_stats(dp, (uint32_t)id, &one) || memcmp(&one, &got[i], sizeof(one)) ||
		    one.rx_packets != c * id * 100 + c * (c - 1) / 2 ||
		    one.tx_bytes != c * (id + 7) || one.drops[BPFTUN_DROP_NO_SA] != c * id * 3 ||
		    one.last_rx_ns != id * 1000 + c - 1) {
			*bad_id = (int)id;
			return -EBADMSG;
		}
	}
	return 0;
}

static void test_batch_reads(void)
{
	int ncpu = libbpf_num_possible_cpus(), bad_id = -1, e1, e2, e3, e4, e5;
	struct bpftun_config cfg = {0};
	struct datapath *dp = NULL;
	struct bpftun_peer_stats *pc = NULL;
	uint32_t max, keys[8], out = 0, cnt = 8;
	struct bpftun_peer vals[8];
	int err = dp_load_sized(&dp, &cfg, 1000, 0);

	if (!check(!err && ncpu > 0, "load a datapath for 1000 peers: %s", strerror(-err)))
		return;
	max = dp_max_peers(dp);
	pc = calloc((size_t)ncpu, sizeof(*pc));
	for (uint32_t id = 0; id < max && pc; id++) {
		struct bpftun_peer p = {.present = id % 3 != 0, .keepalive = (uint16_t)id};

		memcpy(p.public_key, &id, sizeof(id));
		p.session_start_ns = id * 1000003ULL;
		for (int c = 0; c < ncpu; c++) {
			memset(&pc[c], 0, sizeof(pc[c]));
			pc[c].rx_packets = id * 100 + (uint64_t)c;
			pc[c].tx_bytes = id + 7;
			pc[c].drops[BPFTUN_DROP_NO_SA] = id * 3;
			pc[c].last_rx_ns = id * 1000 + (uint64_t)c;
		}
		if (dp_set_peer(dp, id, &p) ||
		    bpf_map_update_elem(dp_map_fd(dp, "stats"), &id, pc, BPF_ANY)) {
			err = -errno ?: -EIO;
			break;
		}
	}
	if (!check(pc && !err, "%u peers and their per-CPU counters written", max))
		goto out;
	{
		LIBBPF_OPTS(bpf_map_batch_opts, o);
		int r =
		    bpf_map_lookup_batch(dp_map_fd(dp, "peers"), NULL, &out, keys, vals, &cnt, &o);

		check(!r && cnt == 8 && keys[0] == 0 && keys[7] == 7 && out == 7 &&
			  vals[7].keepalive == 7,
		      "this kernel does batch lookups on the peers map (the fast path is "
		      "tested, not only the fallback): %d, %u entries",
		      r ? -errno : 0, cnt);
	}
	for (int off = 0; off <= 1; off++) {
		const char *how = off ? "element by element (dp_batch_off)" : "batch lookups";

		if (off)
			dp_batch_off(dp);
		e1 = batch_peers_agree(dp, 0, max, &bad_id);
		e2 = batch_peers_agree(dp, DP_BATCH_MAX - 1, DP_BATCH_MAX + 2, &bad_id);
		e3 = batch_peers_agree(dp, max - 1, 1, &bad_id);
		check(!e1 && !e2 && !e3,
		      "%s: dp_get_peers of 0..%u, %d..%d, %u agree with dp_get_peer (%d %d %d, "
		      "first bad id %d)",
		      how, max - 1, DP_BATCH_MAX - 1, 2 * DP_BATCH_MAX, max - 1, e1, e2, e3,
		      bad_id);
		e1 = batch_stats_agree(dp, 0, max, ncpu, &bad_id);
		e2 = batch_stats_agree(dp, 5, 2 * DP_BATCH_MAX + 1, ncpu, &bad_id);
		check(!e1 && !e2,
		      "%s: dp_peer_stats_range of 0..%u and 5..%d agree with dp_peer_stats and "
		      "the sums over %d CPUs (%d %d, first bad id %d)",
		      how, max - 1, 2 * DP_BATCH_MAX + 5, ncpu, e1, e2, bad_id);
		e1 = dp_get_peers(dp, max, 1, vals);
		e2 = dp_get_peers(dp, 1, max, vals);
		e3 = dp_peer_stats_range(dp, max, 1, pc);
		e4 = dp_get_peers(dp, max, 0, vals);
		e5 = dp_peer_stats_range(dp, 0, 0, pc);
		check(e1 == -ERANGE && e2 == -ERANGE && e3 == -ERANGE && !e4 && !e5,
		      "%s: past the %u peers -ERANGE (%d %d, stats %d: not the unattributed "
		      "slot), none at the end 0 (%d %d)",
		      how, max, e1, e2, e3, e4, e5);
	}
out:
	free(pc);
	dp_destroy(dp);
}

int main(void)
{
	if (geteuid() != 0) {
		printf("test_datapath: must run as root (BPF)\n");
		check(0, "running as root");
		return check_summary();
	}
	if (sodium_init() < 0)
		return 1;
	check_verbose = 1;
	/* tc_open consults the routing of the namespace it runs in: use a
	 * namespace of our own, a host (forwarding off) with a veth for routes */
	if (!check(unshare(CLONE_NEWNET) == 0 && forwarding(0) == 0 &&
		       !sh("ip link set lo up && ip link add bttr0 type veth peer name bttr1 && "
			   "ip link set bttr0 up && ip link set bttr1 up"),
		   "a private network namespace, forwarding off"))
		return check_summary();
	randombytes_buf(KEY, sizeof(KEY));
	randombytes_buf(SALT, sizeof(SALT));

	test_round_trips(0);
	test_round_trips(1);
	test_reference_frame_opens();
	test_kat_bpf();
	test_bit_flips();
	test_malformed();
	test_replay(0);
	test_replay(1);
	test_replay_concurrent();
	test_allowed_ips();
	test_seal_refusals();
	test_rekey_slots();
	test_keepalive();
	test_only_for_us(0);
	test_only_for_us(1);
	test_vlan();
	test_scratch_after_forgery();
	test_counter_never_reset();
	test_rekey_concurrent();
	test_top_peer_id();
	test_batch_reads();
	return check_summary();
}
