// SPDX-License-Identifier: GPL-2.0
/*
 * test_wg_datapath.c - the WireGuard suite of the datapath (SAs installed
 * with BPFTUN_SA_F_WIREGUARD; bpf/lib/wg_data.h), with BPF_PROG_TEST_RUN on
 * the real tc_seal, tc_open, tc_keepalive and sa_ctl, held to independent
 * implementations of WireGuard's data message:
 *   - libsodium's crypto_aead_chacha20poly1305_ietf_{en,de}crypt with
 *     WireGuard's nonce (32 zero bits || le64(counter)) and no AD;
 *   - keymgmt/wg_noise.c's wg_data_seal / wg_data_open (the key manager's
 *     WireGuard code, which wireguard-go accepts: test wg_interop).
 * RFC 8439's AEAD vector (2.8.2) has AD, which WireGuard never uses, so
 * libsodium is the reference here (tests/test_chacha20_bpf.c checks the
 * BPF ChaCha20-Poly1305 against RFC 8439 itself).
 *
 * Two datapath instances play the two ends: A seals towards B, B opens.
 * Cases: every inner length (v4 20..1500, v6 40..1500, outer v4 and v6)
 * sealed by tc_seal opens under libsodium and wg_data_open to the inner
 * packet plus WireGuard's zero padding, with valid outer headers and
 * checksums; the padding is capped by the device MTU as WireGuard caps it;
 * messages sealed by libsodium (padded and unpadded) open in tc_open to the
 * exact inner packet; keepalives both ways; tampered tag, ciphertext and
 * header -> bad_tag; a non-zero reserved byte -> malformed (WireGuard drops
 * it); replay -> replay; an unknown receiver index -> no_sa; an inner
 * source outside AllowedIPs -> not_allowed_ip; plaintexts that are not IP,
 * or shorter than their IP header says -> malformed; the key stored in the
 * SA's map value and zeroed by CLEAR_SLOT, DELETE_PEER and by an AES
 * install; no key copy left in the per-CPU scratch; unknown SA flags
 * refused.
 *
 * Needs root (BPF, a private network namespace). Exit status 0 when every
 * check passes.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/udp.h>
#include <sodium.h>

#include "check.h"
#include "frames.h"
#include "datapath.h"
#include "dp_pair.h"
#include "wg_noise.h"

#define MAX_INNER BPFTUN_MAX_INNER

static uint8_t KEY[32];

static int allow(struct datapath *dp, const char *s, unsigned int prefix)
{
	return pair_allow(dp, s, prefix, 0);
}

static int wg_sa(struct datapath *dp, uint32_t op, uint32_t slot, uint32_t index,
		 const uint8_t *key, uint32_t flags)
{
	struct bpftun_sa_req r = {.op = op, .peer_id = 0, .slot = slot, .index = index};

	if (key)
		memcpy(r.key, key, 32);
	r.flags = flags;
	return dp_sa_ctl(dp, &r);
}

/* A seals to B with the WireGuard suite (dp_pair.c); B accepts A's inner
 * addresses. */
static int pair_setup(struct pair *p, int outer6)
{
	const char *what;
	int err = pair_load(p, outer6, 0, 0, &what);

	if (err) {
		check(0, "%s: %s", what, strerror(-err));
		return err;
	}
	err = allow(p->a, IN4_B, 32) ?: allow(p->a, IN6_B, 128);
	err = err ?: allow(p->a, IN4_X, 32);
	err = err ?: allow(p->b, IN4_A, 32) ?: allow(p->b, IN6_A, 128);
	err = err ?: wg_sa(p->a, BPFTUN_OP_INSTALL_TX, 1, RIDX, KEY, BPFTUN_SA_F_WIREGUARD);
	err = err ?: wg_sa(p->a, BPFTUN_OP_ACTIVATE_TX, 1, 0, NULL, 0);
	err = err ?: wg_sa(p->b, BPFTUN_OP_INSTALL_RX, 1, RIDX, KEY, BPFTUN_SA_F_WIREGUARD);
	if (err) {
		check(0, "configure pair: %s", strerror(-err));
		pair_destroy(p);
	}
	return err;
}

static int set_mtu(struct datapath *dp, uint32_t mtu)
{
	struct bpftun_iface ifc;

	return dp_get_iface(dp, &ifc) ?: (ifc.mtu = mtu, dp_set_iface(dp, &ifc));
}

/* ----------------------------------------------------------- packet helpers */

/* WireGuard's nonce for a data message. */
static void wg_nonce(uint8_t n[12], uint64_t counter)
{
	memset(n, 0, 4);
	for (int i = 0; i < 8; i++)
		n[4 + i] = (uint8_t)(counter >> (8 * i));
}

/* Outer Ethernet/IP/UDP (A -> B) around a WireGuard message msg[0..mlen). */
static size_t wrap(uint8_t *f, int outer6, const uint8_t *msg, size_t mlen)
{
	size_t o = outer_headers(f, outer6, mlen);

	memcpy(f + o, msg, mlen);
	return o + mlen;
}

/* A WireGuard data message sealed by libsodium: pt[0..len) as given (the
 * caller pads), under key, index, counter. Returns the message length. */
static size_t sodium_msg(uint8_t *msg, const uint8_t *key, uint32_t index, uint64_t counter,
			 const uint8_t *pt, size_t len)
{
	uint8_t nonce[12];
	unsigned long long clen = 0;

	memset(msg, 0, 16);
	msg[0] = 4;
	for (int i = 0; i < 4; i++)
		msg[4 + i] = (uint8_t)(index >> (8 * i));
	for (int i = 0; i < 8; i++)
		msg[8 + i] = (uint8_t)(counter >> (8 * i));
	wg_nonce(nonce, counter);
	if (crypto_aead_chacha20poly1305_ietf_encrypt(msg + 16, &clen, pt, len, NULL, 0, NULL,
						      nonce, key))
		abort();
	return 16 + (size_t)clen;
}

static struct bpftun_peer_stats stats(struct datapath *dp, uint32_t peer)
{
	struct bpftun_peer_stats st;

	if (dp_peer_stats(dp, peer, &st))
		memset(&st, 0xff, sizeof(st));
	return st;
}

/* Open frame at B: expect a drop of reason counted against peer (0, or
 * BPFTUN_NO_PEER), and nothing else counted. */
static int expect_drop_at(struct pair *p, const uint8_t *frame, size_t len, int reason,
			  uint32_t peer)
{
	struct bpftun_peer_stats b = stats(p->b, peer), a;
	struct run r;

	if (run(dp_open_fd(p->b), frame, len, &r))
		return 0;
	a = stats(p->b, peer);
	for (int k = 1; k < BPFTUN_DROP_MAX; k++)
		if (a.drops[k] != b.drops[k] + (k == reason))
			return 0;
	return r.ret == TC_ACT_SHOT && a.rx_packets == b.rx_packets;
}

static int expect_drop(struct pair *p, const uint8_t *frame, size_t len, int reason)
{
	return expect_drop_at(p, frame, len, reason, 0);
}

/* ------------------------------------------------------------ seal -> ref */

/* Check a frame sealed by A: outer headers, WireGuard header (type word 4,
 * receiver index, counter), and that libsodium and wg_data_open both open
 * it to inner || zero padding of plen - len bytes. */
static int check_sealed(struct pair *p, const uint8_t *inner, size_t len, size_t plen,
			uint64_t counter, const struct run *r, const char *what)
{
	size_t o = outer_len(p->outer6), mlen = 16 + plen + 16;
	const uint8_t *msg = r->out + o;
	const struct ethhdr *eth = (const void *)r->out;
	const struct udphdr *u = (const void *)(r->out + o - 8);
	uint8_t pt[FRAME_MAX], pt2[FRAME_MAX], nonce[12], want[FRAME_MAX];
	unsigned long long ptlen = 0;
	uint32_t idx = 0, pseudo;
	uint64_t ctr = 0;
	int ok = 1;

	if (r->ret != TC_ACT_REDIRECT || r->out_len != o + mlen) {
		printf("  %s: verdict %u len %u (want %d, %zu)\n", what, r->ret, r->out_len,
		       TC_ACT_REDIRECT, o + mlen);
		return 0;
	}
	memset(want, 0, sizeof(want));
	memcpy(want, inner, len);
	/* the whole first word is the type, little endian: 4, no flow mark */
	ok &= msg[0] == 4 && !msg[1] && !msg[2] && !msg[3];
	ok &= (uint32_t)(msg[4] | msg[5] << 8 | msg[6] << 16 | (uint32_t)msg[7] << 24) == RIDX;
	for (int i = 0; i < 8; i++)
		ctr |= (uint64_t)msg[8 + i] << (8 * i);
	ok &= ctr == counter;
	wg_nonce(nonce, ctr);
	ok &= !crypto_aead_chacha20poly1305_ietf_decrypt(pt, &ptlen, NULL, msg + 16, plen + 16,
							 NULL, 0, nonce, KEY);
	ok &= ptlen == plen && !memcmp(pt, want, plen);
	ok &= !wg_data_open(KEY, msg, mlen, pt2, &idx, &ctr) && idx == RIDX && ctr == counter &&
	      !memcmp(pt2, want, plen);
	ok &= !memcmp(eth->h_dest, MAC_B, 6) && !memcmp(eth->h_source, MAC_A, 6);
	ok &= ntohs(u->source) == PORT && ntohs(u->dest) == PORT && ntohs(u->len) == 8 + mlen;
	if (p->outer6) {
		const struct ipv6hdr *h = (const void *)(r->out + 14);

		ok &= h->version == 6 && ntohs(h->payload_len) == 8 + mlen;
		pseudo = csum16(&h->saddr, 32, 0);
	} else {
		const struct iphdr *h = (const void *)(r->out + 14);

		ok &= h->version == 4 && ntohs(h->tot_len) == 20 + 8 + mlen;
		ok &= csum16(h, 20, 0) == 0xffff;
		pseudo = csum16(&h->saddr, 8, 0);
	}
	pseudo += IPPROTO_UDP + (uint32_t)(8 + mlen);
	ok &= u->check != 0 && csum16(u, 8 + mlen, pseudo) == 0xffff;
	if (!ok)
		printf("  %s: sealed frame is not WireGuard's or has bad headers\n", what);
	return ok;
}

static void test_seal(int outer6)
{
	struct pair p;
	uint8_t frame[FRAME_MAX];
	int bad = 0, n = 0;
	uint64_t counter = 0;

	if (pair_setup(&p, outer6))
		return;
	for (int v6 = 0; v6 <= 1; v6++) {
		for (size_t len = v6 ? 40 : 20; len <= 1500; len++) {
			struct run s;
			size_t flen = inner_frame(frame, v6, v6 ? IN6_A : IN4_A, v6 ? IN6_B : IN4_B,
						  len, (uint8_t)len);
			char what[64];

			snprintf(what, sizeof(what), "inner v%d len %zu", v6 ? 6 : 4, len);
			n++;
			if (run(dp_seal_fd(p.a), frame, flen, &s) ||
			    !check_sealed(&p, frame + 14, len, (len + 15) & ~15UL, counter++, &s,
					  what))
				bad++;
		}
	}
	check(bad == 0,
	      "outer v%d: %d frames sealed by tc_seal (inner v4 20..1500, v6 40..1500) open under "
	      "libsodium and wg_data_open to the inner packet + zero padding to 16, header "
	      "type word 4, counters 0..%d in order, headers and checksums valid (%d bad)",
	      outer6 ? 6 : 4, n, n - 1, bad);
	{
		struct bpftun_peer_stats st = stats(p.a, 0);

		check(st.tx_packets == (uint64_t)n,
		      "outer v%d: tx_packets %llu == %d (inner bytes, not padded: %llu)",
		      outer6 ? 6 : 4, (unsigned long long)st.tx_packets, n,
		      (unsigned long long)st.tx_bytes);
	}
	pair_destroy(&p);
}

/* WireGuard's padding bound: never past the device MTU. */
static void test_seal_mtu(void)
{
	static const struct {
		size_t len, plen;
	} cases[] = {
	    {1400, 1408},
	    {1408, 1408},
	    {1409, 1420},
	    {1419, 1420},
	    {1420, 1420},
	    /* bigger than the MTU: padded as its remainder mod MTU, as WireGuard */
	    {1430, 1436},
	    {1440, 1452},
	};
	struct pair p;
	uint8_t frame[FRAME_MAX];
	int bad = 0;
	uint64_t counter = 0;

	if (pair_setup(&p, 0) || !check(set_mtu(p.a, 1420) == 0, "mtu 1420 set in iface"))
		return;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct run s;
		size_t flen = inner_frame(frame, 0, IN4_A, IN4_B, cases[i].len, 3);
		char what[64];

		snprintf(what, sizeof(what), "mtu 1420 inner %zu", cases[i].len);
		if (run(dp_seal_fd(p.a), frame, flen, &s) ||
		    !check_sealed(&p, frame + 14, cases[i].len, cases[i].plen, counter++, &s, what))
			bad++;
	}
	check(
	    bad == 0,
	    "MTU 1420: padding stops at the MTU (1409 and 1419 -> 1420, 1420 unpadded; 1430 -> "
	    "1436, 1440 -> 1452 by WireGuard's remainder rule), each opened by libsodium (%d bad)",
	    bad);
	pair_destroy(&p);
}

/* ------------------------------------------------------------ ref -> open */

static int open_ok(struct pair *p, const uint8_t *msg, size_t mlen, const uint8_t *inner,
		   size_t len, int v6)
{
	uint8_t frame[FRAME_MAX + 128];
	size_t flen = wrap(frame, p->outer6, msg, mlen);
	struct run r;
	const struct ethhdr *eth = (const void *)r.out;

	if (run(dp_open_fd(p->b), frame, flen, &r))
		return 0;
	return r.ret == TC_ACT_REDIRECT && r.out_len == 14 + len &&
	       !memcmp(r.out + 14, inner, len) && !memcmp(eth->h_dest, TUN_MAC, 6) &&
	       eth->h_proto == htons(v6 ? ETH_P_IPV6 : ETH_P_IP);
}

static void test_open(int outer6)
{
	struct pair p;
	uint8_t frame[FRAME_MAX], pt[FRAME_MAX], msg[FRAME_MAX + 64];
	int bad = 0, bad_unpadded = 0, bad_wg = 0, n = 0;
	uint64_t counter = 0;

	if (pair_setup(&p, outer6))
		return;
	for (int v6 = 0; v6 <= 1; v6++) {
		for (size_t len = v6 ? 40 : 20; len <= 1500; len++) {
			size_t plen = (len + 15) & ~15UL, mlen;

			inner_frame(frame, v6, v6 ? IN6_A : IN4_A, v6 ? IN6_B : IN4_B, len,
				    (uint8_t)(len * 3));
			memset(pt, 0, sizeof(pt));
			memcpy(pt, frame + 14, len);
			n++;
			/* padded, as WireGuard sends */
			mlen = sodium_msg(msg, KEY, RIDX, counter++, pt, plen);
			if (!open_ok(&p, msg, mlen, frame + 14, len, v6))
				bad++;
			/* unpadded (a sender at its MTU bound): the same packet */
			mlen = sodium_msg(msg, KEY, RIDX, counter++, pt, len);
			if (!open_ok(&p, msg, mlen, frame + 14, len, v6))
				bad_unpadded++;
			/* sealed by the key manager's WireGuard code */
			if (len % 97 == 0) {
				if (wg_data_seal(KEY, RIDX, counter++, pt, plen, msg) ||
				    !open_ok(&p, msg, 32 + plen, frame + 14, len, v6))
					bad_wg++;
			}
		}
	}
	check(bad == 0,
	      "outer v%d: %d messages sealed by libsodium (inner v4/v6, padded to 16) open in "
	      "tc_open to the exact inner packet, padding cut, tunnel MAC (%d bad)",
	      outer6 ? 6 : 4, n, bad);
	check(bad_unpadded == 0, "outer v%d: the same %d unpadded also open (%d bad)",
	      outer6 ? 6 : 4, n, bad_unpadded);
	check(bad_wg == 0, "outer v%d: messages from keymgmt's wg_data_seal open (%d bad)",
	      outer6 ? 6 : 4, bad_wg);
	{
		struct bpftun_peer_stats st = stats(p.b, 0);
		uint64_t drops = 0;

		for (int k = 1; k < BPFTUN_DROP_MAX; k++)
			drops += st.drops[k];
		check(drops == 0 && st.rx_packets >= (uint64_t)(2 * n),
		      "outer v%d: rx_packets %llu, no drops", outer6 ? 6 : 4,
		      (unsigned long long)st.rx_packets);
	}
	/* the largest inner packet (BPFTUN_MAX_INNER), and one byte past it */
	{
		size_t mlen;
		uint8_t f2[FRAME_MAX + 128];

		inner_frame(frame, 0, IN4_A, IN4_B, MAX_INNER, 7);
		memset(pt, 0, sizeof(pt));
		memcpy(pt, frame + 14, MAX_INNER);
		mlen = sodium_msg(msg, KEY, RIDX, counter++, pt, MAX_INNER);
		check(open_ok(&p, msg, mlen, frame + 14, MAX_INNER, 0),
		      "outer v%d: an inner packet of %d B (the maximum) opens", outer6 ? 6 : 4,
		      MAX_INNER);
		mlen = sodium_msg(msg, KEY, RIDX, counter++, pt, MAX_INNER + 1);
		check(expect_drop_at(&p, f2, wrap(f2, outer6, msg, mlen), BPFTUN_DROP_TOO_BIG,
				     BPFTUN_NO_PEER),
		      "outer v%d: a plaintext of %d B -> too_big (before the SA lookup: "
		      "unattributed)",
		      outer6 ? 6 : 4, MAX_INNER + 1);
	}
	pair_destroy(&p);
}

/* A plaintext of len bytes: not IP (1, 15, 16, 17: first nibble 0), or an
 * IP header claiming more than it holds -> malformed, after a good tag. */
static void test_open_malformed(void)
{
	static const size_t sizes[] = {1, 15, 16, 17};
	struct pair p;
	uint8_t pt[FRAME_MAX], msg[FRAME_MAX + 64], frame[FRAME_MAX + 128];
	uint64_t counter = 100;
	int ok = 1;
	size_t mlen;

	if (pair_setup(&p, 0))
		return;
	memset(pt, 0, sizeof(pt));
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		mlen = sodium_msg(msg, KEY, RIDX, counter++, pt, sizes[i]);
		ok &= expect_drop(&p, frame, wrap(frame, 0, msg, mlen), BPFTUN_DROP_MALFORMED);
	}
	check(ok, "plaintexts of 1, 15, 16, 17 zero bytes (not IP) -> malformed");

	/* an IPv4 header saying 64 bytes in a 48-byte plaintext */
	inner_frame(frame, 0, IN4_A, IN4_B, 64, 1);
	memcpy(pt, frame + 14, 48);
	mlen = sodium_msg(msg, KEY, RIDX, counter++, pt, 48);
	check(expect_drop(&p, frame, wrap(frame, 0, msg, mlen), BPFTUN_DROP_MALFORMED),
	      "an inner IPv4 total length past the plaintext -> malformed");
	inner_frame(frame, 1, IN6_A, IN6_B, 100, 1);
	memcpy(pt, frame + 14, 96);
	mlen = sodium_msg(msg, KEY, RIDX, counter++, pt, 96);
	check(expect_drop(&p, frame, wrap(frame, 0, msg, mlen), BPFTUN_DROP_MALFORMED),
	      "an inner IPv6 payload length past the plaintext -> malformed");
	/* 1 byte of IPv4 version nibble only */
	pt[0] = 0x45;
	mlen = sodium_msg(msg, KEY, RIDX, counter++, pt, 1);
	check(expect_drop(&p, frame, wrap(frame, 0, msg, mlen), BPFTUN_DROP_MALFORMED),
	      "a 1-byte plaintext 0x45 -> malformed");
	pair_destroy(&p);
}

/* ------------------------------------------------------------- keepalives */

static void test_keepalive(void)
{
	struct pair p;
	uint8_t ka[32], msg[64], frame[256], pt[16];
	struct bpftun_peer_stats before, after;
	uint8_t nonce[12];
	unsigned long long ptlen = 1;
	uint32_t idx = 0;
	uint64_t ctr = ~0ULL;
	struct run r;
	size_t mlen;

	if (pair_setup(&p, 0))
		return;
	/* the counter continues from tc_seal's: seal one packet first */
	{
		size_t flen = inner_frame(frame, 0, IN4_A, IN4_B, 40, 1);

		check(!run(dp_seal_fd(p.a), frame, flen, &r) && r.ret == TC_ACT_REDIRECT,
		      "keepalive: one data packet sealed first (counter 0)");
	}
	check(dp_keepalive(p.a, 0, ka) == 0, "keepalive: tc_keepalive seals one");
	check(ka[0] == 4 && !ka[1] && !ka[2] && !ka[3], "keepalive: type word 4");
	wg_nonce(nonce, 1);
	check(!crypto_aead_chacha20poly1305_ietf_decrypt(pt, &ptlen, NULL, ka + 16, 16, NULL, 0,
							 nonce, KEY) &&
		  ptlen == 0,
	      "keepalive: libsodium opens it as an empty plaintext under counter 1");
	check(!wg_data_open(KEY, ka, 32, pt, &idx, &ctr) && idx == RIDX && ctr == 1,
	      "keepalive: wg_data_open opens it (index, counter 1)");
	before = stats(p.b, 0);
	check(!run(dp_open_fd(p.b), frame, wrap(frame, 0, ka, 32), &r) && r.ret == TC_ACT_SHOT,
	      "keepalive: tc_open consumes it");
	after = stats(p.b, 0);
	check(after.rx_packets == before.rx_packets + 1 && after.rx_bytes == before.rx_bytes &&
		  !memcmp(after.drops, before.drops, sizeof(after.drops)),
	      "keepalive: counted as received (0 bytes), no drop");
	/* a keepalive sealed by libsodium (a WireGuard peer's) */
	mlen = sodium_msg(msg, KEY, RIDX, 500, pt, 0);
	before = stats(p.b, 0);
	check(mlen == 32 && !run(dp_open_fd(p.b), frame, wrap(frame, 0, msg, mlen), &r) &&
		  r.ret == TC_ACT_SHOT && stats(p.b, 0).rx_packets == before.rx_packets + 1,
	      "keepalive: a libsodium-sealed 32-byte keepalive is accepted");
	check(expect_drop(&p, frame, wrap(frame, 0, msg, mlen), BPFTUN_DROP_REPLAY),
	      "keepalive: and replayed, dropped as replay");
	pair_destroy(&p);
}

/* ------------------------------------------------------------ forgeries */

static void test_tamper(void)
{
	struct pair p;
	uint8_t frame[FRAME_MAX], pt[FRAME_MAX], msg[FRAME_MAX + 64], bad[FRAME_MAX + 64];
	uint8_t f2[FRAME_MAX + 128];
	size_t len = 100, mlen;
	int tag_ok = 1, ct_ok = 1, ctr_ok = 1, n = 0;
	uint64_t counter = 7;

	if (pair_setup(&p, 0))
		return;
	inner_frame(frame, 0, IN4_A, IN4_B, len, 9);
	memset(pt, 0, sizeof(pt));
	memcpy(pt, frame + 14, len);
	mlen = sodium_msg(msg, KEY, RIDX, counter, pt, 112);
	/* every bit of the tag, every 8th bit of the ciphertext, every bit of
	 * the counter */
	for (size_t bit = 0; bit < mlen * 8; bit++) {
		size_t byte = bit / 8;
		int *ok;

		if (byte >= 8 && byte < 16)
			ok = &ctr_ok;
		else if (byte >= 16 + 112)
			ok = &tag_ok;
		else if (byte >= 16 && bit % 8 == (byte % 8))
			ok = &ct_ok;
		else
			continue;
		memcpy(bad, msg, mlen);
		bad[byte] ^= (uint8_t)(1u << (bit % 8));
		*ok &= expect_drop(&p, f2, wrap(f2, 0, bad, mlen), BPFTUN_DROP_BAD_TAG);
		n++;
	}
	check(tag_ok, "tamper: each of the 128 tag bits flipped -> bad_tag");
	check(ct_ok, "tamper: a bit in each ciphertext byte flipped -> bad_tag");
	check(ctr_ok, "tamper: each of the 64 counter bits flipped -> bad_tag (the nonce)");
	/* a truncated message (tag cut) */
	check(expect_drop(&p, f2, wrap(f2, 0, msg, mlen - 1), BPFTUN_DROP_BAD_TAG),
	      "tamper: one byte cut -> bad_tag");
	/* a wrong key */
	{
		uint8_t k2[32];

		memcpy(k2, KEY, 32);
		k2[31] ^= 1;
		mlen = sodium_msg(bad, k2, RIDX, counter, pt, 112);
		check(expect_drop(&p, f2, wrap(f2, 0, bad, mlen), BPFTUN_DROP_BAD_TAG),
		      "tamper: sealed under another key -> bad_tag");
	}
	/* reserved bytes: WireGuard reads the first word as le32 type and
	 * drops anything but 4; the tag does not cover the header */
	for (int i = 1; i <= 3; i++) {
		memcpy(bad, msg, mlen);
		bad[i] = 1;
		check(expect_drop(&p, f2, wrap(f2, 0, bad, mlen), BPFTUN_DROP_MALFORMED),
		      "tamper: reserved byte %d = 1 (valid tag) -> dropped, malformed", i);
	}
	/* a receiver index nobody has */
	memcpy(bad, msg, mlen);
	bad[4] ^= 0x01;
	check(expect_drop_at(&p, f2, wrap(f2, 0, bad, mlen), BPFTUN_DROP_NO_SA, BPFTUN_NO_PEER),
	      "tamper: wrong receiver index -> no_sa");
	/* after all that, the untouched message still opens (nothing moved the
	 * replay window) and only once */
	check(open_ok(&p, msg, mlen, frame + 14, len, 0),
	      "tamper: the authentic message still opens afterwards");
	check(expect_drop(&p, f2, wrap(f2, 0, msg, mlen), BPFTUN_DROP_REPLAY),
	      "replay: the same message again -> replay");
	{
		size_t m2 = sodium_msg(bad, KEY, RIDX, counter + 20000, pt, 112);

		check(open_ok(&p, bad, m2, frame + 14, len, 0),
		      "replay: counter +20000 opens (window moves)");
		m2 = sodium_msg(bad, KEY, RIDX, counter + 1, pt, 112);
		check(expect_drop(&p, f2, wrap(f2, 0, bad, m2), BPFTUN_DROP_REPLAY),
		      "replay: counter + 1, now behind the 8128-packet window -> replay");
	}
	printf("  (%d tampered messages)\n", n);
	pair_destroy(&p);
}

static void test_allowed_ips(void)
{
	struct pair p;
	uint8_t frame[FRAME_MAX], pt[FRAME_MAX], msg[FRAME_MAX + 64], f2[FRAME_MAX + 128];
	size_t mlen;

	if (pair_setup(&p, 0))
		return;
	inner_frame(frame, 0, IN4_X, IN4_A, 60, 2); /* source 10.9.7.7: not A's */
	memset(pt, 0, sizeof(pt));
	memcpy(pt, frame + 14, 60);
	mlen = sodium_msg(msg, KEY, RIDX, 1, pt, 64);
	check(expect_drop(&p, f2, wrap(f2, 0, msg, mlen), BPFTUN_DROP_NOT_ALLOWED_IP),
	      "AllowedIPs: an inner source outside the peer's -> not_allowed_ip");
	pair_destroy(&p);
}

/* ------------------------------------------------------------- keys */

/* Does the value hold the 32 key bytes anywhere? */
static int holds_key(const uint8_t *v, size_t n, const uint8_t *key)
{
	for (size_t i = 0; i + 32 <= n; i++)
		if (!memcmp(v + i, key, 32))
			return 1;
	return 0;
}

struct scratch_val {
	uint8_t b[2 * (BPFTUN_SCRATCH + 64)];
};

/* Does any CPU's scratch (tc_seal 0, tc_open 1, tc_keepalive 2) hold it? */
static int scratch_holds_key(struct datapath *dp, const uint8_t *key)
{
	int ncpu = libbpf_num_possible_cpus(), found = 0;
	struct scratch_val *v = calloc((size_t)ncpu, sizeof(*v));

	if (!v)
		return -1;
	for (uint32_t k = 0; k < 3; k++) {
		if (bpf_map_lookup_elem(dp_map_fd(dp, "scratch"), &k, v)) {
			found = -1;
			break;
		}
		for (int c = 0; c < ncpu; c++)
			found += holds_key(v[c].b, sizeof(v[c].b), key);
	}
	free(v);
	return found;
}

static int tx_value_holds_key(struct datapath *dp, uint32_t slot, const uint8_t *key,
			      uint32_t *suite)
{
	struct bpftun_tx_sa_view v;
	uint32_t k = slot;
	int r;

	if (bpf_map_lookup_elem(dp_map_fd(dp, "tx_sas"), &k, &v))
		return -1;
	r = holds_key((const uint8_t *)&v, sizeof(v), key);
	if (suite)
		*suite = v.suite;
	sodium_memzero(&v, sizeof(v));
	return r;
}

static int rx_value_holds_key(struct datapath *dp, uint32_t index, const uint8_t *key)
{
	static uint8_t v[8192];
	uint32_t k = index;
	int r;

	if (bpf_map_lookup_elem(dp_map_fd(dp, "rx_sas"), &k, v))
		return -errno;
	r = holds_key(v, sizeof(v), key);
	sodium_memzero(v, sizeof(v));
	return r;
}

static void test_keys(void)
{
	struct pair p;
	uint8_t frame[FRAME_MAX], k2[32];
	struct bpftun_tx_sa_info info;
	uint32_t suite = 99;
	struct run r, o;
	size_t flen;

	if (pair_setup(&p, 0))
		return;
	check(tx_value_holds_key(p.a, 1, KEY, &suite) == 1 && suite == BPFTUN_SUITE_WIREGUARD,
	      "key: a WireGuard tx SA keeps its key in the tx_sas value, suite recorded");
	check(!dp_tx_sa(p.a, 0, 1, &info) && info.present && info.suite == BPFTUN_SUITE_WIREGUARD &&
		  info.remote_index == RIDX,
	      "key: dp_tx_sa reports the suite");
	check(rx_value_holds_key(p.b, RIDX, KEY) == 1,
	      "key: a WireGuard rx SA keeps its key in the rx_sas value");
	flen = inner_frame(frame, 0, IN4_A, IN4_B, 300, 5);
	check(!run(dp_seal_fd(p.a), frame, flen, &r) && r.ret == TC_ACT_REDIRECT &&
		  !run(dp_open_fd(p.b), r.out, r.out_len, &o) && o.ret == TC_ACT_REDIRECT &&
		  o.out_len == flen && !memcmp(o.out + 14, frame + 14, 300),
	      "key: tc_seal's output opens in tc_open (A -> B)");
	{
		uint8_t ka[32];

		check(dp_keepalive(p.a, 0, ka) == 0, "key: a keepalive sealed too");
	}
	check(scratch_holds_key(p.a, KEY) == 0 && scratch_holds_key(p.b, KEY) == 0,
	      "key: no CPU's scratch (seal, open, keepalive) holds a copy of the key afterwards");
	/* a forged message: the open's key copy must be wiped on bad_tag too */
	r.out[r.out_len - 1] ^= 1;
	check(!run(dp_open_fd(p.b), r.out, r.out_len, &o) && o.ret == TC_ACT_SHOT &&
		  scratch_holds_key(p.b, KEY) == 0,
	      "key: after a bad tag no scratch holds the key either");

	/* install a second key in slot 2, activate it, then clear slot 1 */
	randombytes_buf(k2, sizeof(k2));
	check(wg_sa(p.a, BPFTUN_OP_INSTALL_TX, 1, RIDX, k2, BPFTUN_SA_F_WIREGUARD) == -EBUSY,
	      "key: the active slot cannot be rewritten (-EBUSY)");
	check(!wg_sa(p.a, BPFTUN_OP_INSTALL_TX, 2, RIDX + 1, k2, BPFTUN_SA_F_WIREGUARD) &&
		  !wg_sa(p.a, BPFTUN_OP_ACTIVATE_TX, 2, 0, NULL, 0) &&
		  !wg_sa(p.a, BPFTUN_OP_CLEAR_SLOT, 1, 0, NULL, 0),
	      "key: install slot 2, activate it, clear slot 1");
	check(tx_value_holds_key(p.a, 1, KEY, &suite) == 0 &&
		  tx_value_holds_key(p.a, 2, k2, NULL) == 1,
	      "key: CLEAR_SLOT zeroed slot 1's key in tx_sas; slot 2 holds its own");
	check(!wg_sa(p.b, BPFTUN_OP_CLEAR_SLOT, 1, 0, NULL, 0) &&
		  rx_value_holds_key(p.b, RIDX, KEY) == -ENOENT,
	      "key: CLEAR_SLOT removes the rx SA");
	/* an AES install over a slot that held a WireGuard key */
	{
		struct bpftun_sa_req req = {.op = BPFTUN_OP_INSTALL_TX, .slot = 0, .index = 5};

		check(!wg_sa(p.a, BPFTUN_OP_INSTALL_TX, 0, 9, KEY, BPFTUN_SA_F_WIREGUARD) &&
			  tx_value_holds_key(p.a, 0, KEY, NULL) == 1,
		      "key: slot 0 installed with the WireGuard suite");
		randombytes_buf(req.key, 32);
		check(!dp_sa_ctl(p.a, &req) && tx_value_holds_key(p.a, 0, KEY, &suite) == 0 &&
			  suite == BPFTUN_SUITE_AES,
		      "key: an AES install over it leaves no WireGuard key, suite AES");
	}
	check(!wg_sa(p.a, BPFTUN_OP_DELETE_PEER, 0, 0, NULL, 0) &&
		  tx_value_holds_key(p.a, 2, k2, NULL) == 0,
	      "key: DELETE_PEER zeroes every slot's key");
	check(wg_sa(p.a, BPFTUN_OP_INSTALL_TX, 1, RIDX, KEY, BPFTUN_SA_F_WIREGUARD | 2) ==
		      -EINVAL &&
		  tx_value_holds_key(p.a, 1, KEY, NULL) == 0,
	      "sa_ctl: an unknown flag is refused (-EINVAL), nothing installed");
	pair_destroy(&p);
}

/* A key with a zero 64-bit word: sa_ctl refuses it, and the datapath treats
 * one it finds in a map value (a key being cleared or not yet written, which
 * a packet may race with) as no SA, on both sides. The race itself cannot be
 * forced under BPF_PROG_TEST_RUN: the values are written from userspace. */
static void test_zero_key_words(void)
{
	struct pair p;
	uint8_t frame[FRAME_MAX], k2[32], pt[FRAME_MAX], msg[FRAME_MAX + 64], f2[FRAME_MAX + 128];
	struct bpftun_tx_sa_view v;
	static uint8_t rv[8192];
	uint32_t key = 1, ridx = RIDX;
	struct bpftun_peer_stats b0, b1;
	struct run r;
	size_t flen, mlen;
	int ok = 1;

	if (pair_setup(&p, 0))
		return;
	memcpy(k2, KEY, 32);
	memset(k2 + 8, 0, 8);
	ok &= wg_sa(p.a, BPFTUN_OP_INSTALL_TX, 2, 5, k2, BPFTUN_SA_F_WIREGUARD) == -EINVAL;
	ok &= wg_sa(p.b, BPFTUN_OP_INSTALL_RX, 2, 5, k2, BPFTUN_SA_F_WIREGUARD) == -EINVAL;
	check(ok, "zero word: sa_ctl refuses a WireGuard key with a zero 64-bit word (tx and rx)");

	/* the active tx slot's key, its second word zeroed in place */
	flen = inner_frame(frame, 0, IN4_A, IN4_B, 200, 1);
	check(!bpf_map_lookup_elem(dp_map_fd(p.a, "tx_sas"), &key, &v) && v.present &&
		  (memset(v.wg_key + 8, 0, 8),
		   !bpf_map_update_elem(dp_map_fd(p.a, "tx_sas"), &key, &v, BPF_EXIST)),
	      "zero word: the tx slot's key word written as zero (from userspace)");
	sodium_memzero(&v, sizeof(v));
	b0 = stats(p.a, 0);
	check(!run(dp_seal_fd(p.a), frame, flen, &r) && r.ret == TC_ACT_SHOT &&
		  (b1 = stats(p.a, 0),
		   b1.drops[BPFTUN_DROP_NO_SA] == b0.drops[BPFTUN_DROP_NO_SA] + 1) &&
		  b1.tx_packets == b0.tx_packets,
	      "zero word: tc_seal refuses to seal under it (no_sa)");

	/* the rx SA's key, its last word zeroed: a message under that partly
	 * zero key (an attacker knows 64 of its bits fewer) is not opened */
	check(!bpf_map_lookup_elem(dp_map_fd(p.b, "rx_sas"), &ridx, rv) &&
		  holds_key(rv, sizeof(rv), KEY),
	      "zero word: the rx SA holds the key");
	for (size_t i = 0; i + 32 <= sizeof(rv); i++)
		if (!memcmp(rv + i, KEY, 32)) {
			memset(rv + i + 24, 0, 8);
			break;
		}
	memcpy(k2, KEY, 32);
	memset(k2 + 24, 0, 8);
	check(!bpf_map_update_elem(dp_map_fd(p.b, "rx_sas"), &ridx, rv, BPF_EXIST),
	      "zero word: the rx key's last word written as zero (from userspace)");
	sodium_memzero(rv, sizeof(rv));
	inner_frame(frame, 0, IN4_A, IN4_B, 60, 2);
	memset(pt, 0, sizeof(pt));
	memcpy(pt, frame + 14, 60);
	mlen = sodium_msg(msg, k2, RIDX, 3, pt, 64);
	check(expect_drop(&p, f2, wrap(f2, 0, msg, mlen), BPFTUN_DROP_NO_SA),
	      "zero word: a message sealed under the partly zero rx key -> no_sa, not delivered");
	check(scratch_holds_key(p.a, k2) == 0 && scratch_holds_key(p.b, k2) == 0,
	      "zero word: no copy left in scratch");
	pair_destroy(&p);
}

/* tc_seal keeps the AES suite's flow mark and the WireGuard suite's zero
 * reserved bytes apart: a peer whose slot changes suite changes format. */
static void test_suite_switch(void)
{
	struct pair p;
	uint8_t frame[FRAME_MAX];
	struct bpftun_sa_req req = {.op = BPFTUN_OP_INSTALL_TX, .slot = 2, .index = 77};
	struct run r;
	size_t flen;

	if (pair_setup(&p, 0))
		return;
	randombytes_buf(req.key, 32);
	randombytes_buf(req.salt, 4);
	flen = inner_frame(frame, 0, IN4_A, IN4_B, 333, 1);
	check(!dp_sa_ctl(p.a, &req) && !wg_sa(p.a, BPFTUN_OP_ACTIVATE_TX, 2, 0, NULL, 0) &&
		  !run(dp_seal_fd(p.a), frame, flen, &r) && r.ret == TC_ACT_REDIRECT &&
		  r.out_len == outer_len(0) + 16 + 333 + 16,
	      "suite switch: an AES slot activated seals the AES format (no padding)");
	check(!wg_sa(p.a, BPFTUN_OP_ACTIVATE_TX, 1, 0, NULL, 0) &&
		  !run(dp_seal_fd(p.a), frame, flen, &r) && r.ret == TC_ACT_REDIRECT &&
		  r.out_len == outer_len(0) + 16 + 336 + 16,
	      "suite switch: back to the WireGuard slot, padded to 336");
	pair_destroy(&p);
}

/* ------------------------------------------------------------------- main */

static int sh(const char *cmd)
{
	int rc = system(cmd);

	return rc == -1 ? -1 : WEXITSTATUS(rc);
}

int main(void)
{
	if (geteuid() != 0) {
		printf("test_wg_datapath: must run as root (BPF)\n");
		check(0, "running as root");
		return check_summary();
	}
	if (sodium_init() < 0)
		return 1;
	check_verbose = 1;
	/* tc_open consults the routing of its namespace: our own, forwarding
	 * off (a host delivers only locally), with a veth for routes */
	if (!check(unshare(CLONE_NEWNET) == 0 &&
		       !sh("sysctl -qw net.ipv4.ip_forward=0 net.ipv6.conf.all.forwarding=0 && "
			   "ip link set lo up && ip link add bttr0 type veth peer name bttr1 && "
			   "ip link set bttr0 up && ip link set bttr1 up"),
		   "a private network namespace, forwarding off"))
		return check_summary();
	randombytes_buf(KEY, sizeof(KEY));

	test_seal(0);
	test_seal(1);
	test_seal_mtu();
	test_open(0);
	test_open(1);
	test_open_malformed();
	test_keepalive();
	test_tamper();
	test_allowed_ips();
	test_keys();
	test_suite_switch();
	test_zero_key_words();
	return check_summary();
}
