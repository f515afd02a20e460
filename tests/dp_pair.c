// SPDX-License-Identifier: GPL-2.0
/*
 * dp_pair.c - the datapath pair of test_datapath.c and test_wg_datapath.c
 * (dp_pair.h).
 */
#include <errno.h>
#include <string.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "frames.h"
#include "dp_pair.h"

const uint8_t MAC_A[6] = {0x02, 0, 0, 0, 0, 0xa};
const uint8_t MAC_B[6] = {0x02, 0, 0, 0, 0, 0xb};
const uint8_t TUN_MAC[6] = {0x02, 0, 0, 0, 0, 0xc};

const char *const IN4_A = "10.9.0.1", *const IN4_B = "10.9.0.2", *const IN4_X = "10.9.7.7";
const char *const IN6_A = "fd09::1", *const IN6_B = "fd09::2", *const IN6_X = "fd09::77";
const char *const OUT4_A = "192.0.2.1", *const OUT4_B = "192.0.2.2";
const char *const OUT6_A = "2001:db8::1", *const OUT6_B = "2001:db8::2";

void pair_destroy(struct pair *p)
{
	dp_destroy(p->a);
	dp_destroy(p->b);
	p->a = p->b = NULL;
}

int pair_load(struct pair *p, int outer6, uint32_t peer_id, uint32_t npeers, const char **what)
{
	struct bpftun_config cfg = {.tun_ifindex = 1, .listen_port = htons(PORT)};
	struct bpftun_peer peer = {0};
	int err;

	memset(p, 0, sizeof(*p));
	p->outer6 = outer6;
	memcpy(cfg.tun_mac, TUN_MAC, 6);
	*what = "load datapath (verifier)";
	err = dp_load_sized(&p->a, &cfg, npeers, 0);
	if (!err)
		err = dp_load_sized(&p->b, &cfg, npeers, 0);
	if (err) {
		pair_destroy(p);
		return err;
	}
	*what = "configure pair";
	peer.present = 1;
	peer.ep.flags = outer6 ? BPFTUN_EP_V6 : 0;
	peer.ep.ifindex = 1;
	frame_addr(outer6, outer6 ? OUT6_A : OUT4_A, peer.ep.saddr);
	frame_addr(outer6, outer6 ? OUT6_B : OUT4_B, peer.ep.daddr);
	peer.ep.sport = htons(PORT);
	peer.ep.dport = htons(PORT);
	memcpy(peer.ep.smac, MAC_A, 6);
	memcpy(peer.ep.dmac, MAC_B, 6);
	err = dp_set_peer(p->a, peer_id, &peer) ?: dp_set_peer(p->b, peer_id, &peer);
	if (err)
		pair_destroy(p);
	return err;
}

int pair_allow(struct datapath *dp, const char *s, unsigned int prefix, uint32_t peer_id)
{
	uint8_t a[16];
	int v6 = strchr(s, ':') != NULL;

	frame_addr(v6, s, a);
	return dp_allow(dp, v6 ? 6 : 4, a, prefix, peer_id);
}

size_t inner_frame(uint8_t *f, int v6, const char *src, const char *dst, size_t len, uint8_t fill)
{
	return frame_inner(f, MAC_B, MAC_A, v6, src, dst, len, fill);
}

size_t outer_len(int outer6)
{
	return 14 + (outer6 ? 40 : 20) + 8;
}

size_t outer_headers(uint8_t *f, int outer6, size_t plen)
{
	size_t o = outer_len(outer6);
	uint16_t ulen = (uint16_t)(8 + plen);
	struct ethhdr *eth = (void *)f;
	struct udphdr *u = (void *)(f + o - 8);

	memset(f, 0, o);
	memcpy(eth->h_dest, MAC_B, 6);
	memcpy(eth->h_source, MAC_A, 6);
	eth->h_proto = htons(outer6 ? ETH_P_IPV6 : ETH_P_IP);
	if (outer6) {
		struct ipv6hdr *h = (void *)(f + 14);

		h->version = 6;
		h->payload_len = htons(ulen);
		h->nexthdr = IPPROTO_UDP;
		h->hop_limit = 64;
		frame_addr(1, OUT6_A, &h->saddr);
		frame_addr(1, OUT6_B, &h->daddr);
	} else {
		struct iphdr *h = (void *)(f + 14);

		h->version = 4;
		h->ihl = 5;
		h->tot_len = htons((uint16_t)(20 + ulen));
		h->ttl = 64;
		h->protocol = IPPROTO_UDP;
		frame_addr(0, OUT4_A, &h->saddr);
		frame_addr(0, OUT4_B, &h->daddr);
	}
	u->source = htons(PORT);
	u->dest = htons(PORT);
	u->len = htons(ulen);
	return o;
}

int run(int fd, const void *in, size_t len, struct run *r)
{
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = in, .data_size_in = (uint32_t)len,
		    .data_out = r->out, .data_size_out = sizeof(r->out), .repeat = 1);
	int err = bpf_prog_test_run_opts(fd, &o);

	r->out_len = o.data_size_out;
	r->ret = o.retval;
	return err ? -errno : 0;
}
