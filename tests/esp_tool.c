// SPDX-License-Identifier: GPL-2.0
/*
 * esp_tool.c - test tool for the ESP found-path check of xdp_steer
 * (tests/vm_esp_steer.sh, run in the stock-kernel guest):
 *
 *   esp_tool expect PINDIR DADDR SPI      the CPU xdp_steer must pick for an SA
 *                                         without a per-CPU CPU: SipHash-2-4 of
 *                                         the SPI tuple with libsodium (not the
 *                                         BPF code), key and CPU set read from
 *                                         the pinned steer_cfg
 *   esp_tool refcnt DADDR SPI             the state's reference count, read by
 *                                         tests/bpf/xfrm_ref.bpf.c (includes the
 *                                         probe's own reference)
 *   esp_tool send DADDR SPI COUNT         COUNT raw ESP packets with a known
 *                                         pattern (SPI, sequence, filler)
 *   esp_tool recv 4|6 SPI COUNT SECONDS   count received ESP packets of SPI
 *                                         whose bytes are exactly the pattern;
 *                                         prints "match N other M"
 * SPI is a number (0x... accepted). Exit 0 on success.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <sodium.h>

#include "steer_shared.h"
#include "xfrm_ref.skel.h"

#define PAYLOAD 64

static void pattern(uint8_t *p, uint32_t spi, uint32_t seq)
{
	uint32_t s = htonl(spi), q = htonl(seq);

	memcpy(p, &s, 4);
	memcpy(p + 4, &q, 4);
	for (int j = 8; j < PAYLOAD; j++)
		p[j] = (uint8_t)(j * 7 + seq);
}

static int parse_addr(const char *s, uint8_t a[16], int *family)
{
	memset(a, 0, 16);
	*family = strchr(s, ':') ? AF_INET6 : AF_INET;
	if (inet_pton(*family, s, a) != 1) {
		fprintf(stderr, "esp_tool: bad address '%s'\n", s);
		return -1;
	}
	return 0;
}

static int cmd_expect(const char *dir, const char *daddr, uint32_t spi)
{
	struct bpftun_steer_cfg c;
	struct bpftun_flow_tuple t = {0};
	uint8_t out[8], k[16];
	uint32_t zero = 0, be = htonl(spi);
	uint64_t h;
	char p[512];
	int fd, fam;

	snprintf(p, sizeof(p), "%s/steer_cfg", dir);
	fd = bpf_obj_get(p);
	if (fd < 0 || bpf_map_lookup_elem(fd, &zero, &c)) {
		fprintf(stderr, "esp_tool: %s: %s\n", p, strerror(errno));
		return 1;
	}
	if (parse_addr(daddr, t.daddr, &fam))
		return 2;
	if (!c.ncpus || c.ncpus > BPFTUN_STEER_MAX_CPUS) {
		fprintf(stderr, "esp_tool: steer_cfg has %u CPUs\n", c.ncpus);
		return 1;
	}
	t.family = fam == AF_INET6 ? 6 : 4;
	t.proto = 50;
	memcpy(t.saddr, &be, 4); /* the SPI in the source slot, as on the wire */
	memcpy(k, c.key, 16);
	crypto_shorthash_siphash24(out, (const uint8_t *)&t, sizeof(t), k);
	memcpy(&h, out, 8); /* little-endian host, as the BPF side reads words */
	printf("%u\n", c.cpus[(uint32_t)h % c.ncpus]);
	sodium_memzero(&c, sizeof(c));
	sodium_memzero(k, sizeof(k));
	return 0;
}

static int cmd_refcnt(const char *daddr, uint32_t spi)
{
	struct xfrm_ref_bpf *s = xfrm_ref_bpf__open_and_load();
	uint8_t pkt[64] = {0};
	int fam, err;
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = pkt, .data_size_in = sizeof(pkt), .repeat = 1);

	if (!s) {
		fprintf(stderr, "esp_tool: loading xfrm_ref: %s\n", strerror(errno));
		return 1;
	}
	if (parse_addr(daddr, s->bss->q_daddr, &fam)) {
		xfrm_ref_bpf__destroy(s);
		return 2;
	}
	s->bss->q_spi = htonl(spi);
	s->bss->q_family = (uint32_t)fam;
	s->bss->a_err = 1;
	err = bpf_prog_test_run_opts(bpf_program__fd(s->progs.xfrm_ref), &o);
	if (err || s->bss->a_err) {
		fprintf(stderr, "esp_tool: lookup of %s spi 0x%x: %s\n", daddr, spi,
			err ? strerror(errno) : strerror(-s->bss->a_err));
		xfrm_ref_bpf__destroy(s);
		return 1;
	}
	printf("%d\n", s->bss->a_refcnt);
	xfrm_ref_bpf__destroy(s);
	return 0;
}

static int cmd_send(const char *daddr, uint32_t spi, int count)
{
	struct sockaddr_storage ss = {0};
	uint8_t a[16], p[PAYLOAD];
	socklen_t sl;
	int fam, fd;

	if (parse_addr(daddr, a, &fam))
		return 2;
	if (fam == AF_INET) {
		struct sockaddr_in *s4 = (void *)&ss;

		s4->sin_family = AF_INET;
		memcpy(&s4->sin_addr, a, 4);
		sl = sizeof(*s4);
	} else {
		struct sockaddr_in6 *s6 = (void *)&ss;

		s6->sin6_family = AF_INET6;
		memcpy(&s6->sin6_addr, a, 16);
		sl = sizeof(*s6);
	}
	fd = socket(fam, SOCK_RAW, IPPROTO_ESP);
	if (fd < 0) {
		perror("esp_tool: raw socket");
		return 1;
	}
	for (int i = 0; i < count; i++) {
		pattern(p, spi, (uint32_t)i + 1);
		if (sendto(fd, p, sizeof(p), 0, (struct sockaddr *)&ss, sl) != (ssize_t)sizeof(p)) {
			perror("esp_tool: sendto");
			close(fd);
			return 1;
		}
		usleep(20000);
	}
	close(fd);
	return 0;
}

static int cmd_recv(int v, uint32_t spi, int count, int seconds)
{
	int fd = socket(v == 6 ? AF_INET6 : AF_INET, SOCK_RAW, IPPROTO_ESP);
	int match = 0, other = 0;
	time_t end = time(NULL) + seconds;
	uint8_t buf[2048], want[PAYLOAD];

	if (fd < 0) {
		perror("esp_tool: raw socket");
		return 1;
	}
	printf("ready\n");
	fflush(stdout);
	while (match < count && time(NULL) < end) {
		struct pollfd pf = {.fd = fd, .events = POLLIN};
		ssize_t n;
		size_t off = 0;
		uint32_t s, q;

		if (poll(&pf, 1, 200) <= 0)
			continue;
		n = recv(fd, buf, sizeof(buf), 0);
		if (n <= 0)
			continue;
		if (v == 4) /* IPv4 raw sockets see the IP header */
			off = (size_t)(buf[0] & 0xf) * 4;
		if ((size_t)n < off + 8) {
			other++;
			continue;
		}
		memcpy(&s, buf + off, 4);
		memcpy(&q, buf + off + 4, 4);
		if (ntohl(s) != spi)
			continue; /* another SA's packet */
		pattern(want, spi, ntohl(q));
		if ((size_t)n - off == PAYLOAD && !memcmp(buf + off, want, PAYLOAD))
			match++;
		else
			other++;
	}
	close(fd);
	printf("match %d other %d\n", match, other);
	return match == count && !other ? 0 : 1;
}

int main(int argc, char **argv)
{
	if (sodium_init() < 0 || argc < 2)
		goto usage;
	if (!strcmp(argv[1], "expect") && argc == 5)
		return cmd_expect(argv[2], argv[3], (uint32_t)strtoul(argv[4], NULL, 0));
	if (!strcmp(argv[1], "refcnt") && argc == 4)
		return cmd_refcnt(argv[2], (uint32_t)strtoul(argv[3], NULL, 0));
	if (!strcmp(argv[1], "send") && argc == 5)
		return cmd_send(argv[2], (uint32_t)strtoul(argv[3], NULL, 0), atoi(argv[4]));
	if (!strcmp(argv[1], "recv") && argc == 6)
		return cmd_recv(atoi(argv[2]), (uint32_t)strtoul(argv[3], NULL, 0), atoi(argv[4]),
				atoi(argv[5]));
usage:
	fprintf(stderr, "usage: see tests/esp_tool.c\n");
	return 2;
}
