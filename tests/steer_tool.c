// SPDX-License-Identifier: GPL-2.0
/*
 * steer_tool.c - test tool for tests/netns_steer.sh: attach software RSS
 * (bpf/steer.c) to a device, set the sender's flow-mark key in a pinned
 * datapath, predict a flow's mark with libsodium's SipHash (independently of
 * the BPF code), and print per-CPU open counts and steering counters.
 *
 *   steer_tool attach DEV PORT CPU[,CPU...] PINDIR [--no-fix-gro] [--esp]
 *   steer_tool detach DEV
 *   steer_tool mark DPPIN BITS           random key, BITS 0..7 (0 = off)
 *   steer_tool expect DPPIN SRC DST PROTO SPORT DPORT   -> the mark
 *   steer_tool cpus DPPIN                 peer 0's rx_packets and rx_bytes per CPU
 *   steer_tool stats PINDIR               xdp_steer's counters
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <sodium.h>

#include "bpftun_shared.h"
#include "steer.h"

static int pinned(const char *dir, const char *name)
{
	char p[512];
	int fd;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	fd = bpf_obj_get(p);
	if (fd < 0)
		fprintf(stderr, "steer_tool: %s: %s\n", p, strerror(errno));
	return fd;
}

static int cmd_expect(char **a)
{
	struct bpftun_mark_cfg c;
	struct bpftun_flow_tuple t = {0};
	uint32_t zero = 0;
	uint8_t out[8], k[16];
	uint64_t h;
	int fd = pinned(a[0], "flow_mark_cfg");
	int v6 = strchr(a[1], ':') != NULL;

	if (fd < 0 || bpf_map_lookup_elem(fd, &zero, &c))
		return 1;
	t.family = v6 ? 6 : 4;
	if (inet_pton(v6 ? AF_INET6 : AF_INET, a[1], t.saddr) != 1 ||
	    inet_pton(v6 ? AF_INET6 : AF_INET, a[2], t.daddr) != 1)
		return 2;
	t.proto = (uint8_t)atoi(a[3]);
	t.sport = htons((uint16_t)atoi(a[4]));
	t.dport = htons((uint16_t)atoi(a[5]));
	if (!c.bits) {
		printf("0\n");
		return 0;
	}
	memcpy(k, c.key, 16);
	crypto_shorthash_siphash24(out, (const uint8_t *)&t, sizeof(t), k);
	memcpy(&h, out, 8);
	printf("%u\n", 1 + (unsigned int)(h & ((1u << c.bits) - 1)));
	sodium_memzero(&c, sizeof(c));
	sodium_memzero(k, sizeof(k));
	return 0;
}

static int cmd_cpus(const char *dir)
{
	int ncpu = libbpf_num_possible_cpus(), fd = pinned(dir, "stats");
	struct bpftun_peer_stats *v = calloc((size_t)ncpu, sizeof(*v));
	uint32_t key = 0;

	if (fd < 0 || !v || bpf_map_lookup_elem(fd, &key, v))
		return 1;
	for (int c = 0; c < ncpu; c++)
		printf("cpu%d %llu %llu\n", c, (unsigned long long)v[c].rx_packets,
		       (unsigned long long)v[c].rx_bytes);
	free(v);
	return 0;
}

static int cmd_stats(const char *dir)
{
	static const char *const names[] = {
	    "data_marked", "data_unmarked", "steered",	 "no_cpu",	"transit",
	    "esp_found",   "esp_not_found", "esp_error", "esp_steered", "esp_pcpu"};
	struct bpftun_steer_stats s;
	int fd = pinned(dir, "steer_stats"), err;

	if (fd < 0)
		return 1;
	err = steer_read_stats(fd, &s);
	if (err)
		return 1;
	for (int i = 0; i < 10; i++)
		printf("%s %llu\n", names[i], (unsigned long long)((uint64_t *)&s)[i]);
	for (int c = 0; c < BPFTUN_STEER_MAX_CPUS; c++)
		if (s.to_cpu[c])
			printf("to_cpu%d %llu\n", c, (unsigned long long)s.to_cpu[c]);
	return 0;
}

int main(int argc, char **argv)
{
	if (sodium_init() < 0 || argc < 3)
		goto usage;
	if (!strcmp(argv[1], "attach") && argc >= 6) {
		uint32_t cpus[BPFTUN_STEER_MAX_CPUS];
		unsigned int n = 0;
		char err[256], *s = argv[4], *tok;
		struct steer_opts o = {.ifname = argv[2],
				       .listen_port = (uint16_t)atoi(argv[3]),
				       .cpus = cpus,
				       .pin_dir = argv[5],
				       .fix_gro = 1};

		for (tok = strtok(s, ","); tok && n < BPFTUN_STEER_MAX_CPUS;
		     tok = strtok(NULL, ","))
			cpus[n++] = (uint32_t)atoi(tok);
		o.ncpus = n;
		for (int i = 6; i < argc; i++) {
			if (!strcmp(argv[i], "--no-fix-gro"))
				o.fix_gro = 0;
			else if (!strcmp(argv[i], "--esp"))
				o.esp = 1;
		}
		if (steer_attach(&o, err, sizeof(err))) {
			fprintf(stderr, "steer_tool: %s\n", err);
			return 1;
		}
		return 0;
	}
	if (!strcmp(argv[1], "detach"))
		return steer_detach(argv[2]) ? 1 : 0;
	if (!strcmp(argv[1], "mark") && argc == 4) {
		int fd = pinned(argv[2], "flow_mark_cfg"), err;

		if (fd < 0)
			return 1;
		err = steer_set_mark(fd, (unsigned int)atoi(argv[3]));
		if (err)
			fprintf(stderr, "steer_tool: mark: %s\n", strerror(-err));
		return err ? 1 : 0;
	}
	if (!strcmp(argv[1], "expect") && argc == 8)
		return cmd_expect(argv + 2);
	if (!strcmp(argv[1], "cpus"))
		return cmd_cpus(argv[2]);
	if (!strcmp(argv[1], "stats"))
		return cmd_stats(argv[2]);
usage:
	fprintf(stderr, "usage: see tests/steer_tool.c\n");
	return 2;
}
