/* SPDX-License-Identifier: GPL-2.0 */
/*
 * frames.h - test packets for BPF_PROG_TEST_RUN, shared by the datapath
 * tests and bench_crypto: an Ethernet frame around an inner IPv4/IPv6
 * packet, and the Internet checksum to check or fill headers with.
 * Header-only (static) like check.h.
 */
#ifndef BPFTUN_TESTS_FRAMES_H
#define BPFTUN_TESTS_FRAMES_H

#include <arpa/inet.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/udp.h>

/* One's-complement sum of p[0..n) added to sum, folded to 16 bits. */
__attribute__((unused)) static uint16_t csum16(const void *p, size_t n, uint32_t sum)
{
	const uint8_t *b = p;

	for (size_t i = 0; i + 1 < n; i += 2)
		sum += (uint32_t)(b[i] << 8 | b[i + 1]);
	if (n & 1)
		sum += (uint32_t)b[n - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

/* A text address into network-order bytes; aborts on a typo in a test. */
__attribute__((unused)) static void frame_addr(int v6, const char *s, void *out)
{
	if (inet_pton(v6 ? AF_INET6 : AF_INET, s, out) != 1)
		abort();
}

/* f = Ethernet (dmac, smac) + an inner IPv4/IPv6 packet from src to dst of
 * total length len: UDP 1234 -> 5678 when it fits (else an empty protocol),
 * payload bytes derived from fill. Returns the frame length. */
__attribute__((unused)) static size_t frame_inner(uint8_t *f, const uint8_t dmac[6],
						  const uint8_t smac[6], int v6, const char *src,
						  const char *dst, size_t len, uint8_t fill)
{
	struct ethhdr *eth = (void *)f;
	size_t ip = v6 ? sizeof(struct ipv6hdr) : sizeof(struct iphdr);

	memset(f, 0, ETH_HLEN + len);
	memcpy(eth->h_dest, dmac, 6);
	memcpy(eth->h_source, smac, 6);
	eth->h_proto = htons(v6 ? ETH_P_IPV6 : ETH_P_IP);
	if (v6) {
		struct ipv6hdr *h = (void *)(f + ETH_HLEN);

		h->version = 6;
		h->payload_len = htons((uint16_t)(len - ip));
		h->nexthdr = len >= ip + 8 ? IPPROTO_UDP : 59 /* no next header */;
		h->hop_limit = 64;
		frame_addr(1, src, &h->saddr);
		frame_addr(1, dst, &h->daddr);
	} else {
		struct iphdr *h = (void *)(f + ETH_HLEN);

		h->version = 4;
		h->ihl = 5;
		h->tot_len = htons((uint16_t)len);
		h->ttl = 64;
		h->protocol = len >= ip + 8 ? IPPROTO_UDP : 253 /* experimental */;
		frame_addr(0, src, &h->saddr);
		frame_addr(0, dst, &h->daddr);
		h->check = htons((uint16_t)~csum16(h, 20, 0));
	}
	if (len >= ip + 8) {
		struct udphdr *u = (void *)(f + ETH_HLEN + ip);

		u->source = htons(1234);
		u->dest = htons(5678);
		u->len = htons((uint16_t)(len - ip));
	}
	for (size_t i = ip + 8; i < len; i++)
		f[ETH_HLEN + i] = (uint8_t)(fill + i * 7);
	return ETH_HLEN + len;
}

#endif
