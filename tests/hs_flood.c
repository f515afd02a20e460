// SPDX-License-Identifier: GPL-2.0
/*
 * hs_flood.c - handshake traffic for tests/netns_handshake.sh, written with
 * the key manager's own handshake code (keymgmt/handshake.c).
 *
 *   hs_flood flood DST PORT RPUB MODE NSRC PPS SECS
 *	Sends PPS messages a second for SECS seconds to DST:PORT from NSRC
 *	spoofed IPv4 sources 10.77.H.L (H = 1 + (i / 250) % 250, L = 1 + i % 250,
 *	i = 0..NSRC-1, taken in turn), over a raw socket. MODE:
 *	  init     valid-mac1 initiations to RPUB (base64) from a key the
 *	           responder does not know: each costs the responder a DH
 *	           unless it is under load;
 *	  garbage  random bytes: types 0-5, lengths 1-200, reserved bytes and
 *	           mac1 random (every one is rejected, with several reasons).
 *	Prints "sent N".
 *   hs_flood legit DST PORT RPUB PRIVFILE TIMEOUT_MS
 *	A real peer (private key in PRIVFILE, base64) does one handshake with
 *	DST:PORT from an ordinary UDP socket, answering cookie replies at once
 *	and resending after 1 s of silence. Prints "completed in N ms, C cookie
 *	replies" or "not completed in N ms, C cookie replies"; exit 0 only if it
 *	completed within TIMEOUT_MS.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/udp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "handshake.h"

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static int key_from_b64(const char *b64, uint8_t out[32])
{
	size_t n = 0;

	if (sodium_base642bin(out, 32, b64, strlen(b64), " \n", &n, NULL,
			      sodium_base64_VARIANT_ORIGINAL) ||
	    n != 32) {
		fprintf(stderr, "hs_flood: '%.8s...': not a base64 32-byte key\n", b64);
		return -1;
	}
	return 0;
}

static int flood(int argc, char **argv)
{
	const char *mode = argv[5];
	unsigned long nsrc = strtoul(argv[6], NULL, 10), pps = strtoul(argv[7], NULL, 10);
	unsigned long secs = strtoul(argv[8], NULL, 10);
	uint8_t rpub[32], init[HS_INITIATION_LEN];
	uint8_t pkt[sizeof(struct iphdr) + sizeof(struct udphdr) + 256];
	struct iphdr *ip = (struct iphdr *)pkt;
	struct udphdr *udp = (struct udphdr *)(pkt + sizeof(*ip));
	uint8_t *payload = pkt + sizeof(*ip) + sizeof(*udp);
	struct sockaddr_in dst = {.sin_family = AF_INET};
	struct hs_device *dev;
	uint64_t start, sent = 0, total;
	uint32_t id;
	int fd, garbage = !strcmp(mode, "garbage");

	if (!garbage && strcmp(mode, "init")) {
		fprintf(stderr, "hs_flood: mode '%s': want init or garbage\n", mode);
		return 2;
	}
	if (!nsrc || nsrc > 250 * 250 || !pps || pps > 100000 || !secs || secs > 60) {
		fprintf(stderr, "hs_flood: want 1 <= NSRC <= 62500, PPS <= 100000, SECS <= 60\n");
		return 2;
	}
	if (inet_pton(AF_INET, argv[2], &dst.sin_addr) != 1 || key_from_b64(argv[4], rpub))
		return 2;
	if (hs_device_new(&dev, NULL) || hs_peer_add(dev, rpub, &id) ||
	    hs_create_initiation(dev, id, init, sizeof(init))) {
		fprintf(stderr, "hs_flood: handshake state\n");
		return 1;
	}
	fd = socket(AF_INET, SOCK_RAW, IPPROTO_RAW);
	if (fd < 0) {
		perror("hs_flood: raw socket");
		return 1;
	}
	total = (uint64_t)pps * secs;
	start = now_ns();
	for (uint64_t i = 0; i < total; i++) {
		/* pace: message i goes at start + i / pps */
		uint64_t due = start + i * 1000000000ULL / pps, now = now_ns();
		unsigned long s = (unsigned long)(i % nsrc);
		size_t len = HS_INITIATION_LEN;

		if (due > now + 200000) {
			struct timespec ts = {0, (long)(due - now)};

			nanosleep(&ts, NULL);
		}
		if (garbage) {
			len = 1 + randombytes_uniform(200);
			randombytes_buf(payload, len);
			payload[0] = (uint8_t)randombytes_uniform(6);
		} else {
			memcpy(payload, init, sizeof(init));
		}
		memset(ip, 0, sizeof(*ip));
		ip->version = 4;
		ip->ihl = 5;
		ip->ttl = 64;
		ip->protocol = IPPROTO_UDP;
		ip->tot_len = htons((uint16_t)(sizeof(*ip) + sizeof(*udp) + len));
		ip->saddr = htonl(0x0a4d0000u | (uint32_t)(1 + (s / 250) % 250) << 8 |
				  (uint32_t)(1 + s % 250));
		ip->daddr = dst.sin_addr.s_addr;
		udp->source = htons((uint16_t)(20000 + s % 40000));
		udp->dest = htons((uint16_t)atoi(argv[3]));
		udp->len = htons((uint16_t)(sizeof(*udp) + len));
		udp->check = 0; /* optional over IPv4 */
		if (sendto(fd, pkt, sizeof(*ip) + sizeof(*udp) + len, 0, (struct sockaddr *)&dst,
			   sizeof(dst)) > 0)
			sent++;
	}
	printf("sent %llu\n", (unsigned long long)sent);
	close(fd);
	hs_device_free(dev);
	return 0;
}

static int legit(int argc, char **argv)
{
	uint8_t rpub[32], priv[32], init[HS_INITIATION_LEN], buf[256];
	struct sockaddr_in dst = {.sin_family = AF_INET,
				  .sin_port = htons((uint16_t)atoi(argv[3]))};
	unsigned long timeout_ms = strtoul(argv[6], NULL, 10);
	uint64_t start, last_sent, deadline;
	struct hs_device *dev;
	struct hs_result res;
	struct hs_addr src;
	char line[128];
	int fd, cookies = 0, done = 0;
	uint32_t id;
	FILE *f;

	if (inet_pton(AF_INET, argv[2], &dst.sin_addr) != 1 || key_from_b64(argv[4], rpub))
		return 2;
	f = fopen(argv[5], "r");
	if (!f || !fgets(line, sizeof(line), f)) {
		fprintf(stderr, "hs_flood: %s: cannot read the private key\n", argv[5]);
		return 2;
	}
	fclose(f);
	line[strcspn(line, "\n")] = 0;
	if (key_from_b64(line, priv))
		return 2;
	sodium_memzero(line, sizeof(line));
	if (hs_device_new(&dev, priv) || hs_peer_add(dev, rpub, &id)) {
		fprintf(stderr, "hs_flood: handshake state\n");
		return 1;
	}
	sodium_memzero(priv, sizeof(priv));
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (fd < 0) {
		perror("hs_flood: socket");
		return 1;
	}
	hs_addr_v4(&src, (uint8_t *)&dst.sin_addr, ntohs(dst.sin_port));
	start = now_ns();
	deadline = start + 10 * 1000000000ULL; /* give up after 10 s whatever TIMEOUT_MS */
	last_sent = start;
	hs_create_initiation(dev, id, init, sizeof(init));
	sendto(fd, init, sizeof(init), 0, (struct sockaddr *)&dst, sizeof(dst));
	while (!done && now_ns() < deadline) {
		struct pollfd p = {fd, POLLIN, 0};
		ssize_t n;
		int rc;

		if (now_ns() - last_sent > 1000000000ULL) {
			hs_create_initiation(dev, id, init, sizeof(init));
			sendto(fd, init, sizeof(init), 0, (struct sockaddr *)&dst, sizeof(dst));
			last_sent = now_ns();
		}
		if (poll(&p, 1, 50) <= 0)
			continue;
		n = recv(fd, buf, sizeof(buf), 0);
		if (n <= 0)
			continue;
		rc = hs_receive(dev, buf, (size_t)n, &src, &res);
		if (rc == 0 && res.have_keys) {
			done = 1;
		} else if (rc == 0 && buf[0] == BPFTUN_MSG_COOKIE) {
			cookies++;
			hs_create_initiation(dev, id, init, sizeof(init)); /* now with mac2 */
			sendto(fd, init, sizeof(init), 0, (struct sockaddr *)&dst, sizeof(dst));
			last_sent = now_ns();
		}
		hs_result_wipe(&res);
	}
	{
		unsigned long ms = (unsigned long)((now_ns() - start) / 1000000ULL);

		printf("%s in %lu ms, %d cookie replies\n", done ? "completed" : "not completed",
		       ms, cookies);
		close(fd);
		hs_device_free(dev);
		return done && ms <= timeout_ms ? 0 : 1;
	}
}

int main(int argc, char **argv)
{
	if (sodium_init() < 0)
		return 1;
	if (argc == 9 && !strcmp(argv[1], "flood"))
		return flood(argc, argv);
	if (argc == 7 && !strcmp(argv[1], "legit"))
		return legit(argc, argv);
	fprintf(stderr, "usage: hs_flood flood DST PORT RPUB init|garbage NSRC PPS SECS\n"
			"       hs_flood legit DST PORT RPUB PRIVFILE TIMEOUT_MS\n");
	return 2;
}
