// SPDX-License-Identifier: GPL-2.0
/*
 * wg_interop.c - a minimal WireGuard peer made of keymgmt/wg_noise.c, for
 * tests/wg_interop.sh to hold the handshake and transport keys to a real
 * WireGuard implementation (wireguard-go) over UDP, without any datapath.
 *
 *   wg_interop initiate|respond --key-file F [--psk-file F] --peer-pub B64
 *              --listen PORT --peer IPv4:PORT [--ping-src A --ping-dst A]
 *              [--aead sodium|bpf] [--under-load] [--send-cookie]
 *
 * Keys are base64 as `wg genkey`/`wg genpsk` write them; secrets come from
 * files only, never argv.
 *
 * initiate: send message 1 (resent each second, at most 5 times), accept the
 *   peer's message 2, derive the transport keys; send an ICMP echo request
 *   ping-src -> ping-dst (padded to 16 as WireGuard pads) in a data message
 *   under counter 0; wait for the peer's data message carrying the echo reply
 *   and check it byte for byte (addresses, id, sequence, payload).
 * respond: wait for the peer's message 1, check its static key and that its
 *   TAI64N is within 60 s of now; answer with message 2; wait for a data
 *   message carrying an ICMP echo request to ping-src and answer it with the
 *   echo reply (the caller's ping then succeeds).
 * --under-load (initiate): first make the peer send cookie replies (a burst
 *   of initiations), open one, check that a wrong cookie in mac2 is answered
 *   with a cookie reply, then handshake with the cookie in mac2.
 * --send-cookie (respond): answer the peer's first initiation with a cookie
 *   reply of ours and accept only a retry whose mac2 uses that cookie.
 * --aead bpf seals and opens the data messages' payload with the BPF
 * ChaCha20-Poly1305 (bpf/lib/wg_aead.h via tests/bpf/wgcrypto.bpf.c's
 * aead_run, BPF_PROG_TEST_RUN; needs root) instead of libsodium: the BPF
 * AEAD is then held to wireguard-go's. The default is libsodium.
 * Every wait is bounded (10 s). Exit 0 on success, 1 with a message naming
 * what failed.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <sodium.h>

#include "wg_noise.h"
#include "wgcrypto.skel.h"

#define WAIT_MS 10000

static int sock = -1;
static struct sockaddr_in peer_addr;

static void die(const char *fmt, const char *arg)
{
	fprintf(stderr, "wg_interop: ");
	fprintf(stderr, fmt, arg);
	fputc('\n', stderr);
	exit(1);
}

static void hex(const char *label, const uint8_t *p, size_t n)
{
	printf("  %s: ", label);
	for (size_t i = 0; i < n; i++)
		printf("%02x", p[i]);
	putchar('\n');
}

/* A 32-byte key in base64 from a file (secret) or a string (public). */
static void b64_key(const char *s, uint8_t out[32], const char *what)
{
	size_t n = 0;

	if (sodium_base642bin(out, 32, s, strlen(s), " \n\r\t", &n, NULL,
			      sodium_base64_VARIANT_ORIGINAL) ||
	    n != 32)
		die("%s: not a base64 32-byte key", what);
}

static void file_key(const char *path, uint8_t out[32])
{
	char buf[128] = {0};
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		die("cannot open key file %s", path);
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		die("cannot read key file %s", path);
	b64_key(buf, out, path);
	sodium_memzero(buf, sizeof(buf));
}

/* ------------------------------------------------ data message AEAD backends */

static struct wgcrypto_bpf *bpf;

static void bpf_load(void)
{
	bpf = wgcrypto_bpf__open();
	if (!bpf)
		die("%s", "cannot open the wgcrypto BPF skeleton");
	bpf_program__set_autoload(bpf->progs.chacha20_run, false);
	bpf_program__set_autoload(bpf->progs.tc_chacha, false);
	bpf_program__set_autoload(bpf->progs.tc_wg_seal, false);
	bpf_program__set_autoload(bpf->progs.tc_wg_open, false);
	if (wgcrypto_bpf__load(bpf))
		die("%s", "the kernel refused the wgcrypto BPF program aead_run");
}

/* BPF aead_run: op 1 seal, 2 open, of buf[0..len) (+ tag) under key/counter. */
static int bpf_aead(int op, const uint8_t key[32], uint64_t counter, uint8_t *buf, size_t len)
{
	LIBBPF_OPTS(bpf_test_run_opts, o);
	int err;

	if (len > sizeof(bpf->bss->ae_buf) - 64)
		return -EMSGSIZE;
	memcpy(bpf->bss->ae_key, key, 32);
	bpf->bss->ae_n0 = 0;
	bpf->bss->ae_aad_len = 0;
	bpf->bss->ae_counter = counter;
	bpf->bss->ae_len = (uint32_t)len;
	bpf->bss->ae_op = (uint32_t)op;
	memcpy(bpf->bss->ae_buf, buf, len + WG_TAG_LEN);
	bpf->bss->ae_err = 0x5a5a5a5a;
	err = bpf_prog_test_run_opts(bpf_program__fd(bpf->progs.aead_run), &o);
	if (err)
		return err;
	if (bpf->bss->ae_used_wg != 1)
		return -EPROTO;
	memcpy(buf, bpf->bss->ae_buf, len + WG_TAG_LEN);
	memset(bpf->bss->ae_key, 0, 32);
	return bpf->bss->ae_err;
}

static int data_seal(const uint8_t key[32], uint32_t idx, uint64_t counter, const uint8_t *pt,
		     size_t len, uint8_t *out)
{
	int err;

	if (!bpf)
		return wg_data_seal(key, idx, counter, pt, len, out);
	memset(out, 0, WG_DATA_HDR_LEN);
	out[0] = WG_MSG_DATA;
	for (int i = 0; i < 4; i++)
		out[4 + i] = (uint8_t)(idx >> (8 * i));
	for (int i = 0; i < 8; i++)
		out[8 + i] = (uint8_t)(counter >> (8 * i));
	memcpy(out + WG_DATA_HDR_LEN, pt, len);
	err = bpf_aead(1, key, counter, out + WG_DATA_HDR_LEN, len);
	return err;
}

static int data_open(const uint8_t key[32], const uint8_t *msg, size_t len, uint8_t *pt,
		     uint32_t *idx, uint64_t *counter)
{
	uint8_t buf[2048 + 64];
	uint64_t c = 0;
	int err;

	if (!bpf)
		return wg_data_open(key, msg, len, pt, idx, counter);
	if (len < WG_DATA_MIN_LEN || len - WG_DATA_HDR_LEN > sizeof(buf) - 64)
		return -EMSGSIZE;
	for (int i = 7; i >= 0; i--)
		c = c << 8 | msg[8 + i];
	memcpy(buf, msg + WG_DATA_HDR_LEN, len - WG_DATA_HDR_LEN);
	err = bpf_aead(2, key, c, buf, len - WG_DATA_MIN_LEN);
	if (err)
		return err;
	memcpy(pt, buf, len - WG_DATA_MIN_LEN);
	*idx = (uint32_t)msg[4] | (uint32_t)msg[5] << 8 | (uint32_t)msg[6] << 16 |
	       (uint32_t)msg[7] << 24;
	*counter = c;
	return 0;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Receive one datagram from the peer within ms; returns its length or -1. */
static ssize_t recv_peer(uint8_t *buf, size_t cap, int ms)
{
	struct pollfd p = {.fd = sock, .events = POLLIN};

	if (ms <= 0 || poll(&p, 1, ms) <= 0)
		return -1;
	return recv(sock, buf, cap, 0);
}

static void send_peer(const uint8_t *buf, size_t len)
{
	if (sendto(sock, buf, len, 0, (struct sockaddr *)&peer_addr, sizeof(peer_addr)) !=
	    (ssize_t)len)
		die("sendto: %s", strerror(errno));
}

static uint16_t csum(const uint8_t *p, size_t n)
{
	uint32_t s = 0;

	for (size_t i = 0; i + 1 < n; i += 2)
		s += (uint32_t)p[i] << 8 | p[i + 1];
	if (n & 1)
		s += (uint32_t)p[n - 1] << 8;
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

/* IPv4 + ICMP echo (type 8 request, 0 reply) with a 56-byte payload: 84 bytes,
 * zero padded to 96 in buf. Returns the padded length. */
static size_t icmp_packet(uint8_t *buf, struct in_addr src, struct in_addr dst, uint8_t type,
			  uint16_t id, uint16_t seq, const uint8_t payload[56])
{
	uint16_t c;

	memset(buf, 0, 96);
	buf[0] = 0x45;
	buf[3] = 84;
	buf[8] = 64;
	buf[9] = 1;
	memcpy(buf + 12, &src, 4);
	memcpy(buf + 16, &dst, 4);
	c = csum(buf, 20);
	buf[10] = (uint8_t)(c >> 8);
	buf[11] = (uint8_t)c;
	buf[20] = type;
	buf[24] = (uint8_t)(id >> 8);
	buf[25] = (uint8_t)id;
	buf[26] = (uint8_t)(seq >> 8);
	buf[27] = (uint8_t)seq;
	memcpy(buf + 28, payload, 56);
	c = csum(buf + 20, 64);
	buf[22] = (uint8_t)(c >> 8);
	buf[23] = (uint8_t)c;
	return 96; /* 84 rounded up to 16 */
}

/* Wait for a data message to us; open it under key into pt. Keepalives and
 * packets that `want` rejects are counted and skipped. Returns the plaintext
 * length. */
static size_t wait_data_ms(const struct wg_session_keys *k, uint8_t *pt, size_t cap,
			   int (*want)(const uint8_t *, size_t), int ms)
{
	uint64_t end = now_ms() + (uint64_t)ms;
	uint8_t buf[2048];
	int keepalives = 0, others = 0;

	for (;;) {
		uint32_t idx;
		uint64_t ctr;
		ssize_t n = recv_peer(buf, sizeof(buf), (int)(end - now_ms()));
		int err;

		if (n < 0) {
			printf("  (%d keepalives, %d other packets seen in %d ms)\n", keepalives,
			       others, ms);
			return 0;
		}
		if (n < WG_DATA_MIN_LEN || buf[0] != WG_MSG_DATA || (size_t)n - 32 > cap)
			continue;
		err = data_open(k->recv, buf, (size_t)n, pt, &idx, &ctr);
		if (err)
			die("a data message from the peer does not open under our receive key: %s",
			    strerror(-err));
		if (idx != k->local_index)
			die("%s", "data message for another receiver index");
		printf("  data message from the peer: %zd bytes, counter %llu, opened\n", n,
		       (unsigned long long)ctr);
		if (n == WG_DATA_MIN_LEN) {
			keepalives++;
			continue;
		}
		if (want(pt, (size_t)n - 32))
			return (size_t)n - 32;
		others++;
	}
}

static size_t wait_data(const struct wg_session_keys *k, uint8_t *pt, size_t cap,
			int (*want)(const uint8_t *, size_t))
{
	size_t n = wait_data_ms(k, pt, cap, want, WAIT_MS);

	if (!n)
		die("%s", "no data message from the peer within 10 s");
	return n;
}

static struct in_addr ping_src, ping_dst;
static uint16_t ping_id = 0x4242, ping_seq = 1;
static uint8_t ping_payload[56];

static int is_reply(const uint8_t *p, size_t n)
{
	return n >= 84 && p[0] == 0x45 && p[9] == 1 && p[20] == 0 &&
	       !memcmp(p + 12, &ping_dst, 4) && !memcmp(p + 16, &ping_src, 4);
}

/* An echo request from the peer's side (to ping_src: our inner address). */
static int is_request(const uint8_t *p, size_t n)
{
	return n >= 28 && (p[0] >> 4) == 4 && p[9] == 1 && p[20] == 8 &&
	       !memcmp(p + 16, &ping_src, 4);
}

static uint32_t rd_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/*
 * --under-load: put the peer under load with a burst of copies of one
 * initiation (sender index idx) until it answers with a cookie reply; open
 * it. Then, while the peer is still under load (it stays so for 1 s), an
 * initiation (index idx + 1) whose mac2 is made with a wrong cookie must get
 * a cookie reply and no message 2. The caller retries with the right cookie.
 */
#define FLOOD 3000
static void get_cookie(const struct wg_identity *me, const uint8_t peer_pub[32], uint32_t idx,
		       uint8_t cookie[WG_COOKIE_LEN])
{
	struct wg_handshake hs;
	uint8_t m1[WG_INIT_LEN], buf[2048], ts[12], wrong[WG_COOKIE_LEN], mac1s[3][WG_MAC_LEN];
	int got = 0, cookie_for_wrong = 0, resp_for_wrong = 0;

	for (int round = 0; round < 3 && !got; round++) {
		uint64_t end;
		int sent = 0;

		wg_tai64n_now(ts);
		if (wg_init_create(&hs, me, peer_pub, NULL, ts, idx, NULL, m1))
			die("%s", "wg_init_create failed");
		memcpy(mac1s[round], hs.last_mac1, WG_MAC_LEN);
		for (int i = 0; i < FLOOD; i++)
			sent += send(sock, m1, sizeof(m1), MSG_DONTWAIT) == (ssize_t)sizeof(m1);
		printf("  burst of %d copies of one initiation sent\n", sent);
		end = now_ms() + 3000;
		while (!got) {
			ssize_t r = recv_peer(buf, sizeof(buf), (int)(end - now_ms()));
			int err;

			if (r < 0)
				break;
			if (r != WG_COOKIE_REPLY_LEN || buf[0] != WG_MSG_COOKIE ||
			    rd_le32(buf + WG_COOKIE_RECEIVER) != idx)
				continue;
			/* it may answer an earlier burst: try each burst's mac1 */
			err = -EBADMSG;
			for (int b = round; b >= 0 && err; b--)
				err = wg_cookie_reply_consume(peer_pub, mac1s[b], buf, (size_t)r,
							      cookie);
			if (err)
				die("the peer's cookie reply does not open: %s", strerror(-err));
			got = 1;
		}
	}
	if (!got)
		die("%s", "no cookie reply from the peer after 3 bursts");
	printf("  cookie reply (64 bytes, XChaCha20-Poly1305) opened: cookie received\n");

	/* the rest of the burst's answers: until 100 ms pass without one (at
	 * most 2 s), so the control's answer is not lost among them */
	{
		uint64_t end = now_ms() + 2000;
		int drained = 0;

		while (now_ms() < end && recv_peer(buf, sizeof(buf), 100) >= 0)
			drained++;
		printf("  %d more answers to the burst drained\n", drained);
	}
	/* control: a wrong cookie in mac2 must be answered with a cookie reply */
	memcpy(wrong, cookie, sizeof(wrong));
	wrong[0] ^= 1;
	wg_tai64n_now(ts);
	if (wg_init_create(&hs, me, peer_pub, NULL, ts, idx + 1, wrong, m1))
		die("%s", "wg_init_create failed");
	send_peer(m1, sizeof(m1));
	{
		uint64_t end = now_ms() + 2000;

		while (!cookie_for_wrong) {
			ssize_t r = recv_peer(buf, sizeof(buf), (int)(end - now_ms()));

			if (r < 0)
				break;
			if (r >= 8 && buf[0] == WG_MSG_COOKIE && rd_le32(buf + 4) == idx + 1)
				cookie_for_wrong = 1;
			if (r >= 12 && buf[0] == WG_MSG_RESPONSE && rd_le32(buf + 8) == idx + 1)
				resp_for_wrong = 1;
		}
	}
	if (!cookie_for_wrong || resp_for_wrong)
		die("%s",
		    "an initiation with a wrong mac2 was not answered with a cookie reply: the "
		    "peer was not under load, the cookie check proves nothing");
	printf("  initiation with a wrong mac2: answered with a cookie reply, no message 2\n");
	wg_handshake_wipe(&hs);
}

static int initiate(const struct wg_identity *me, const uint8_t peer_pub[32], const uint8_t *psk,
		    int under_load)
{
	struct wg_handshake hs;
	struct wg_session_keys k;
	uint8_t m1[WG_INIT_LEN], buf[2048], ts[12], pkt[128], msg[256], pt[2048];
	uint8_t cookie[WG_COOKIE_LEN], payloads[3][56];
	uint32_t idx;
	size_t len, n;
	int err = -ETIMEDOUT, stale = 0;

	randombytes_buf(&idx, sizeof(idx));
	if (under_load) {
		get_cookie(me, peer_pub, idx, cookie);
		idx += 2;
	}
	for (int tries = 0; tries < 5 && err; tries++) {
		uint64_t end = now_ms() + 1000;

		wg_tai64n_now(ts);
		err = wg_init_create(&hs, me, peer_pub, NULL, ts, idx, under_load ? cookie : NULL,
				     m1);
		if (err)
			die("wg_init_create: %s", strerror(-err));
		send_peer(m1, sizeof(m1));
		printf("  message 1 sent (148 bytes, sender index %08x%s)\n", idx,
		       under_load ? ", mac2 with the cookie" : "");
		err = -ETIMEDOUT;
		while (err) {
			ssize_t r = recv_peer(buf, sizeof(buf), (int)(end - now_ms()));

			if (r < 0)
				break;
			if (buf[0] == WG_MSG_COOKIE && r >= 8 && rd_le32(buf + 4) == idx)
				printf("  cookie reply received for our initiation\n");
			if (buf[0] != WG_MSG_RESPONSE)
				continue;
			err = wg_resp_consume(&hs, me, psk, buf, (size_t)r);
			if (err == -ESTALE) { /* an answer to an earlier initiation */
				stale++;
				err = -ETIMEDOUT;
				continue;
			}
			if (err)
				die("the peer's message 2 is refused: %s", strerror(-err));
		}
	}
	if (stale)
		printf("  %d responses to earlier initiations ignored\n", stale);
	if (err)
		die("%s", "no message 2 from the peer after 5 tries");
	printf("  message 2 accepted (92 bytes): handshake done\n");
	err = wg_derive_keys(&hs, &k);
	if (err)
		die("wg_derive_keys: %s", strerror(-err));

	/* an echo can be lost on a loaded machine like any datagram: up to 3
	 * requests (counters 0, 1, 2), 4 s each */
	n = 0;
	for (uint64_t c = 0; c < 3 && !n; c++) {
		ping_seq = (uint16_t)(1 + c);
		randombytes_buf(ping_payload, sizeof(ping_payload));
		memcpy(payloads[c], ping_payload, sizeof(ping_payload));
		len = icmp_packet(pkt, ping_src, ping_dst, 8, ping_id, ping_seq, ping_payload);
		err = data_seal(k.send, k.remote_index, c, pkt, len, msg);
		if (err)
			die("sealing the echo request: %s", strerror(-err));
		send_peer(msg, len + 32);
		printf("  echo request sent in a data message (counter %llu, %zu bytes)\n",
		       (unsigned long long)c, len + 32);
		n = wait_data_ms(&k, pt, sizeof(pt), is_reply, 4000);
	}
	if (!n)
		die("%s", "no echo reply from the peer to 3 requests");
	/* the reply may answer an earlier request: match it by its sequence */
	if (pt[24] != (uint8_t)(ping_id >> 8) || pt[25] != (uint8_t)ping_id || pt[26] ||
	    pt[27] < 1 || pt[27] > ping_seq || memcmp(pt + 28, payloads[pt[27] - 1], 56))
		die("%s", "the echo reply does not match the request");
	printf("  echo reply from the peer opened and matches (%zu bytes inner)\n", n);
	sodium_memzero(&k, sizeof(k));
	return 0;
}

/*
 * --send-cookie (respond): act as a responder under load. Answer the peer's
 * first initiation with a cookie reply (cookie = MAC(random secret, our view
 * of the peer's IP || port)), and accept only an initiation whose mac2 is
 * made with that cookie. The peer retries after its rekey timeout (5 s).
 */
static void send_cookie(const struct wg_identity *me, uint8_t cookie[WG_COOKIE_LEN])
{
	uint8_t buf[2048], reply[WG_COOKIE_REPLY_LEN], secret[32], addr[6];
	uint64_t end = now_ms() + WAIT_MS;
	int err;

	for (;;) {
		ssize_t r = recv_peer(buf, sizeof(buf), (int)(end - now_ms()));

		if (r < 0)
			die("%s", "no message 1 from the peer within 10 s");
		if (r == WG_INIT_LEN && buf[0] == WG_MSG_INITIATION &&
		    !wg_mac1_check(me->mac1_key, buf, (size_t)r))
			break;
	}
	if (!wg_mac2_check(cookie, buf, WG_INIT_LEN))
		die("%s", "the peer's first initiation already has a valid mac2");
	randombytes_buf(secret, sizeof(secret));
	memcpy(addr, &peer_addr.sin_addr, 4);
	memcpy(addr + 4, &peer_addr.sin_port, 2);
	wg_cookie_make(cookie, secret, addr, sizeof(addr));
	sodium_memzero(secret, sizeof(secret));
	err = wg_cookie_reply_create(me, buf, WG_INIT_LEN, cookie, NULL, reply);
	if (err)
		die("wg_cookie_reply_create: %s", strerror(-err));
	send_peer(reply, sizeof(reply));
	printf("  first initiation answered with a cookie reply (64 bytes)\n");
}

static int respond(const struct wg_identity *me, const uint8_t peer_pub[32], const uint8_t *psk,
		   int with_cookie)
{
	struct wg_handshake hs;
	struct wg_session_keys k;
	uint8_t buf[2048], m2[WG_RESP_LEN], who[32], ts[12], now[12], pt[2048], msg[2048];
	uint8_t cookie[WG_COOKIE_LEN] = {0};
	uint64_t end, their, mine;
	uint32_t idx;
	size_t n, plen;
	int err = -ETIMEDOUT, no_mac2 = 0;

	if (with_cookie)
		send_cookie(me, cookie);
	end = now_ms() + WAIT_MS;
	while (err) {
		ssize_t r = recv_peer(buf, sizeof(buf), (int)(end - now_ms()));

		if (r < 0)
			die("no message 1 from the peer within 10 s%s",
			    no_mac2 ? " (only ones without the cookie in mac2)" : "");
		if (buf[0] != WG_MSG_INITIATION)
			continue;
		if (with_cookie && wg_mac2_check(cookie, buf, (size_t)r)) {
			no_mac2++;
			continue;
		}
		if (with_cookie)
			printf("  the peer's retry carries mac2 = MAC(our cookie, ...)\n");
		err = wg_init_consume(&hs, me, buf, (size_t)r, who, ts);
		if (err)
			die("the peer's message 1 is refused: %s", strerror(-err));
	}
	if (memcmp(who, peer_pub, 32))
		die("%s", "message 1 carries another static key than the peer's");
	wg_tai64n_now(now);
	their = 0;
	mine = 0;
	for (int i = 0; i < 8; i++) {
		their = their << 8 | ts[i];
		mine = mine << 8 | now[i];
	}
	printf("  message 1 accepted: static key is the peer's, TAI64N %llu s from ours\n",
	       (unsigned long long)(their > mine ? their - mine : mine - their));
	if ((their > mine ? their - mine : mine - their) > 60)
		die("%s", "the peer's timestamp is more than 60 s away");
	randombytes_buf(&idx, sizeof(idx));
	err = wg_resp_create(&hs, me, psk, NULL, idx, NULL, m2);
	if (err)
		die("wg_resp_create: %s", strerror(-err));
	err = wg_derive_keys(&hs, &k);
	if (err)
		die("wg_derive_keys: %s", strerror(-err));
	send_peer(m2, sizeof(m2));
	printf("  message 2 sent (92 bytes)\n");

	n = wait_data(&k, pt, sizeof(pt), is_request);
	/* answer: swap addresses, type 0, fix checksums; pad to 16 */
	plen = (size_t)pt[2] << 8 | pt[3];
	if (plen > n || plen < 28)
		die("%s", "malformed echo request");
	memcpy(pt + 12, &ping_src, 4);
	memcpy(pt + 16, &ping_dst, 4);
	pt[10] = pt[11] = 0;
	{
		uint16_t c = csum(pt, 20);

		pt[10] = (uint8_t)(c >> 8);
		pt[11] = (uint8_t)c;
	}
	pt[20] = 0;
	pt[22] = pt[23] = 0;
	{
		uint16_t c = csum(pt + 20, plen - 20);

		pt[22] = (uint8_t)(c >> 8);
		pt[23] = (uint8_t)c;
	}
	printf("  echo request from the peer opened (%zu bytes inner)\n", plen);
	n = (plen + 15) & ~(size_t)15;
	memset(pt + plen, 0, n - plen);
	err = data_seal(k.send, k.remote_index, 0, pt, n, msg);
	if (err)
		die("sealing the echo reply: %s", strerror(-err));
	send_peer(msg, n + 32);
	printf("  echo reply sent in a data message (counter 0)\n");
	sodium_memzero(&k, sizeof(k));
	return 0;
}

int main(int argc, char **argv)
{
	const char *key_file = NULL, *psk_file = NULL, *peer_pub_s = NULL, *peer = NULL;
	const char *src = "10.9.0.2", *dst = "10.9.0.1", *aead = "sodium";
	uint8_t priv[32], peer_pub[32], psk[32];
	struct wg_identity me;
	struct sockaddr_in local = {.sin_family = AF_INET};
	int listen_port = 0, rc, under_load = 0, send_cookie_opt = 0;
	char host[64];
	char *colon;

	/* line by line: wg_interop.sh waits for "listening" in our output */
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc < 2 || (strcmp(argv[1], "initiate") && strcmp(argv[1], "respond")))
		die("%s",
		    "usage: wg_interop initiate|respond --key-file F [--psk-file F] "
		    "--peer-pub B64 --listen PORT --peer IPv4:PORT [--ping-src A --ping-dst A] "
		    "[--aead sodium|bpf] [--under-load] [--send-cookie]");
	for (int i = 2; i < argc; i += 2) {
		if (!strcmp(argv[i], "--under-load") || !strcmp(argv[i], "--send-cookie")) {
			*(argv[i][2] == 'u' ? &under_load : &send_cookie_opt) = 1;
			i--;
			continue;
		}
		if (i + 1 >= argc)
			die("option %s needs a value", argv[i]);
		if (!strcmp(argv[i], "--key-file"))
			key_file = argv[i + 1];
		else if (!strcmp(argv[i], "--psk-file"))
			psk_file = argv[i + 1];
		else if (!strcmp(argv[i], "--peer-pub"))
			peer_pub_s = argv[i + 1];
		else if (!strcmp(argv[i], "--listen"))
			listen_port = atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--peer"))
			peer = argv[i + 1];
		else if (!strcmp(argv[i], "--ping-src"))
			src = argv[i + 1];
		else if (!strcmp(argv[i], "--ping-dst"))
			dst = argv[i + 1];
		else if (!strcmp(argv[i], "--aead"))
			aead = argv[i + 1];
		else
			die("unknown option %s", argv[i]);
	}
	if (!key_file || !peer_pub_s || !peer || listen_port <= 0 || listen_port > 65535)
		die("%s", "--key-file, --peer-pub, --listen and --peer are required");
	if (wg_noise_init())
		die("%s", "sodium_init failed");
	if (!strcmp(aead, "bpf"))
		bpf_load();
	else if (strcmp(aead, "sodium"))
		die("--aead %s: want sodium or bpf", aead);
	printf("  data messages sealed and opened by %s\n",
	       bpf ? "BPF (bpf/lib/wg_aead.h, BPF_PROG_TEST_RUN)" : "libsodium");
	file_key(key_file, priv);
	b64_key(peer_pub_s, peer_pub, "--peer-pub");
	if (psk_file)
		file_key(psk_file, psk);
	if (wg_identity_init(&me, priv))
		die("%s", "bad private key");
	sodium_memzero(priv, sizeof(priv));
	if (inet_pton(AF_INET, src, &ping_src) != 1 || inet_pton(AF_INET, dst, &ping_dst) != 1)
		die("%s", "--ping-src/--ping-dst: not IPv4 addresses");

	snprintf(host, sizeof(host), "%s", peer);
	colon = strrchr(host, ':');
	if (!colon)
		die("--peer %s: want IPv4:PORT", peer);
	*colon = 0;
	peer_addr.sin_family = AF_INET;
	peer_addr.sin_port = htons((uint16_t)atoi(colon + 1));
	if (inet_pton(AF_INET, host, &peer_addr.sin_addr) != 1)
		die("--peer %s: want IPv4:PORT", peer);
	sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	local.sin_port = htons((uint16_t)listen_port);
	if (sock < 0 || bind(sock, (struct sockaddr *)&local, sizeof(local)))
		die("bind: %s", strerror(errno));
	/* room for the answers to a burst (--under-load); root may exceed rmem_max */
	{
		int sz = 4 << 20;

		setsockopt(sock, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof(sz));
	}
	/* only the peer's datagrams */
	if (connect(sock, (struct sockaddr *)&peer_addr, sizeof(peer_addr)))
		die("connect: %s", strerror(errno));

	hex("our public key", me.pub, 32);
	printf("  listening on UDP port %d\n", listen_port);
	rc = !strcmp(argv[1], "initiate")
		 ? initiate(&me, peer_pub, psk_file ? psk : NULL, under_load)
		 : respond(&me, peer_pub, psk_file ? psk : NULL, send_cookie_opt);
	wg_identity_wipe(&me);
	sodium_memzero(psk, sizeof(psk));
	close(sock);
	wgcrypto_bpf__destroy(bpf);
	printf("wg_interop %s: OK\n", argv[1]);
	return rc;
}
