/* SPDX-License-Identifier: GPL-2.0 */
/*
 * dp_pair.h - the two datapath instances of the BPF_PROG_TEST_RUN datapath
 * tests (test_datapath.c for the AES suite, test_wg_datapath.c for the
 * WireGuard suite): A seals towards B, B opens. dp_pair.c loads both ends,
 * gives them the peer they share and builds their frames; the allowed IPs
 * and the suite's SAs are each test's own. The addresses are never on a
 * wire (BPF_PROG_TEST_RUN only).
 */
#ifndef BPFTUN_TESTS_DP_PAIR_H
#define BPFTUN_TESTS_DP_PAIR_H

#include <stddef.h>
#include <stdint.h>

#include "datapath.h"

#define PORT 51820
#define RIDX 0x0a0b0c0dU
/* tc_open hands packets that are not ours to the next filter / the stack */
#define TC_ACT_UNSPEC	0xffffffffU
#define TC_ACT_SHOT	2
#define TC_ACT_REDIRECT 7
#define FRAME_MAX	2048

extern const uint8_t MAC_A[6], MAC_B[6], TUN_MAC[6];
/* inner addresses: A's, B's, and one that is neither's */
extern const char *const IN4_A, *const IN4_B, *const IN4_X;
extern const char *const IN6_A, *const IN6_B, *const IN6_X;
/* outer (underlay) addresses */
extern const char *const OUT4_A, *const OUT4_B, *const OUT6_A, *const OUT6_B;

struct pair {
	struct datapath *a, *b;
	int outer6;
};

/* Load A and B (maps sized for npeers peers; 0: dp_load's smallest size)
 * and set the peer peer_id on both: endpoint A -> B over outer IPv4 or
 * IPv6, port PORT both ways. 0, or -errno with *what naming the step that
 * failed ("load datapath (verifier)", "configure pair"); then nothing is
 * left loaded. */
int pair_load(struct pair *p, int outer6, uint32_t peer_id, uint32_t npeers, const char **what);
void pair_destroy(struct pair *p);

/* dp_allow of the address s (text, v4 or v6) / prefix for peer_id. */
int pair_allow(struct datapath *dp, const char *s, unsigned int prefix, uint32_t peer_id);

/* An Ethernet frame A -> B holding an inner packet of total length len
 * (frames.h's frame_inner). */
size_t inner_frame(uint8_t *f, int v6, const char *src, const char *dst, size_t len, uint8_t fill);

/* The outer Ethernet + IP + UDP header length. */
size_t outer_len(int outer6);

/* Write the outer Ethernet, IPv4 (checksum left 0) or IPv6, and UDP
 * headers A -> B, PORT -> PORT, for a UDP payload of plen bytes that the
 * caller writes at f + the returned length (outer_len). */
size_t outer_headers(uint8_t *f, int outer6, size_t plen);

struct run {
	uint8_t out[FRAME_MAX + 256];
	uint32_t out_len;
	uint32_t ret;
};

/* One BPF_PROG_TEST_RUN of program fd on in[0..len): output, length and
 * return value into r. 0 or -errno. */
int run(int fd, const void *in, size_t len, struct run *r);

#endif /* BPFTUN_TESTS_DP_PAIR_H */
