/* SPDX-License-Identifier: GPL-2.0 */
/*
 * packet.h - the packet around the ciphertext: parsing the inner IP header
 * (parse_inner, which also gives the allowed_ips key), the outer Ethernet,
 * IP and UDP headers that tc_seal writes (outer4_write, outer6_write), the
 * one's-complement checksum helpers, and the next hop (resolve_nexthop).
 * Nothing here touches a map.
 */
#ifndef BPFTUN_PACKET_H
#define BPFTUN_PACKET_H

#include "common.h"
#include "aead.h"

/* Wire fields are stored with plain loads/stores: little-endian hosts only. */
_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "bpftun needs a little-endian host");

/* ------------------------------------------------------------- inner packets */

struct inner {
	__u32 len;
	__u16 proto; /* network order ETH_P_IP / ETH_P_IPV6 */
	struct bpftun_lpm_key key;
};

/* Parse the inner IP header at off; fill the LPM key for the source (want_src)
 * or destination address. Returns 0 or a drop reason. */
static __always_inline int parse_inner(struct __sk_buff *skb, __u32 off, __u32 avail, int want_src,
				       struct inner *in)
{
	void *data = (void *)(long)skb->data;
	void *end = (void *)(long)skb->data_end;
	struct iphdr *ip4 = data + off;

	if ((void *)(ip4 + 1) > end)
		return BPFTUN_DROP_MALFORMED;
	if (ip4->version == 4) {
		if (ip4->ihl < 5)
			return BPFTUN_DROP_MALFORMED;
		in->len = bpf_ntohs(ip4->tot_len);
		in->proto = bpf_htons(ETH_P_IP);
		in->key.prefixlen = BPFTUN_LPM_FAMILY_BITS + 32;
		in->key.family = 4;
		__builtin_memcpy(in->key.addr, want_src ? (void *)&ip4->saddr : (void *)&ip4->daddr,
				 4);
	} else if (ip4->version == 6) {
		struct ipv6hdr *ip6 = data + off;

		if ((void *)(ip6 + 1) > end)
			return BPFTUN_DROP_MALFORMED;
		in->len = bpf_ntohs(ip6->payload_len) + sizeof(*ip6);
		in->proto = bpf_htons(ETH_P_IPV6);
		in->key.prefixlen = BPFTUN_LPM_FAMILY_BITS + 128;
		in->key.family = 6;
		__builtin_memcpy(in->key.addr, want_src ? (void *)&ip6->saddr : (void *)&ip6->daddr,
				 16);
	} else {
		return BPFTUN_DROP_MALFORMED;
	}
	if (in->len < sizeof(struct iphdr) || in->len > avail)
		return BPFTUN_DROP_MALFORMED;
	if (in->len > BPFTUN_MAX_INNER)
		return BPFTUN_DROP_TOO_BIG;
	return 0;
}

/* ------------------------------------------------------------- outer headers */

struct outer4 {
	struct ethhdr eth;
	struct iphdr ip;
	struct udphdr udp;
} __attribute__((packed));

struct outer6 {
	struct ethhdr eth;
	struct ipv6hdr ip;
	struct udphdr udp;
} __attribute__((packed));

static __always_inline __u32 csum_add32(__u32 sum, __u32 v)
{
	sum += v;
	return sum + (sum < v);
}

static __always_inline __u16 csum_fold32(__u32 sum)
{
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (__u16)~sum;
}

/* One's-complement sum of buf[0..n) (n rounded up to 4; the scratch tail is
 * zero). bpf_csum_diff is limited to 512 bytes per call on older kernels. */
static __always_inline __u32 csum_scratch(struct bpftun_scratch *s, __u32 n)
{
	__u32 sum = 0;
	__u32 left = (n + 3) & ~3U;

#pragma unroll
	for (int k = 0; k < 4; k++) {
		__u32 chunk = left > 512 ? 512 : left;

		if (!chunk)
			break;
		sum = bpf_csum_diff(NULL, 0, (__be32 *)(s->buf + k * 512), chunk & 0x3fc, sum);
		left -= chunk;
	}
	return sum;
}

/* The outer Ethernet, IPv6 and UDP headers of a sealed message whose UDP
 * payload (header || ciphertext || tag) is in place and sums to sum: fold in
 * the pseudo-header and store all three in one call. Returns 0 or a drop
 * reason. */
static __always_inline int outer6_write(struct __sk_buff *skb, struct bpftun_endpoint *ep,
					__u8 *smac, __u8 *dmac, __u32 len, __u32 sum)
{
	struct outer6 o = {};
	__u32 ulen = BPFTUN_UDP_LEN + BPFTUN_HDR_LEN + len + BPFTUN_TAG_LEN;

	__builtin_memcpy(o.eth.h_dest, dmac, 6);
	__builtin_memcpy(o.eth.h_source, smac, 6);
	o.eth.h_proto = bpf_htons(ETH_P_IPV6);
	o.ip.version = 6;
	o.ip.payload_len = bpf_htons(ulen);
	o.ip.nexthdr = IPPROTO_UDP;
	o.ip.hop_limit = 64;
	__builtin_memcpy(&o.ip.saddr, ep->saddr, 16);
	__builtin_memcpy(&o.ip.daddr, ep->daddr, 16);
	o.udp.source = ep->sport;
	o.udp.dest = ep->dport;
	o.udp.len = bpf_htons(ulen);
	sum = bpf_csum_diff(NULL, 0, (__be32 *)((char *)&o + BPFTUN_ETH_LEN + 8), 32, sum);
	sum = csum_add32(sum, bpf_htonl(ulen));
	sum = csum_add32(sum, bpf_htonl(IPPROTO_UDP));
	sum = csum_add32(sum, ((__u32)o.udp.dest << 16) | o.udp.source);
	sum = csum_add32(sum, o.udp.len);
	o.udp.check = csum_fold32(sum) ?: 0xffff;
	if (bpf_skb_store_bytes(skb, 0, &o, sizeof(o), 0))
		return BPFTUN_DROP_INTERNAL;
	return 0;
}

/* As outer6_write, for an outer IPv4 header (DF set, with its checksum). */
static __always_inline int outer4_write(struct __sk_buff *skb, struct bpftun_endpoint *ep,
					__u8 *smac, __u8 *dmac, __u32 len, __u32 sum)
{
	struct outer4 o = {};
	__u32 ulen = BPFTUN_UDP_LEN + BPFTUN_HDR_LEN + len + BPFTUN_TAG_LEN;

	__builtin_memcpy(o.eth.h_dest, dmac, 6);
	__builtin_memcpy(o.eth.h_source, smac, 6);
	o.eth.h_proto = bpf_htons(ETH_P_IP);
	o.ip.version = 4;
	o.ip.ihl = 5;
	o.ip.tot_len = bpf_htons(BPFTUN_IP4_LEN + ulen);
	o.ip.frag_off = bpf_htons(0x4000); /* DF: the MTU is ours to get right */
	o.ip.ttl = 64;
	o.ip.protocol = IPPROTO_UDP;
	__builtin_memcpy(&o.ip.saddr, ep->saddr, 4);
	__builtin_memcpy(&o.ip.daddr, ep->daddr, 4);
	o.ip.check =
	    csum_fold32(bpf_csum_diff(NULL, 0, (__be32 *)((char *)&o + BPFTUN_ETH_LEN), 20, 0));
	o.udp.source = ep->sport;
	o.udp.dest = ep->dport;
	o.udp.len = bpf_htons(ulen);
	sum = bpf_csum_diff(NULL, 0, (__be32 *)((char *)&o + BPFTUN_ETH_LEN + 12), 8, sum);
	sum = csum_add32(sum, bpf_htonl(ulen));
	sum = csum_add32(sum, bpf_htonl(IPPROTO_UDP));
	sum = csum_add32(sum, ((__u32)o.udp.dest << 16) | o.udp.source);
	sum = csum_add32(sum, o.udp.len);
	o.udp.check = csum_fold32(sum) ?: 0xffff;
	if (bpf_skb_store_bytes(skb, 0, &o, sizeof(o), 0))
		return BPFTUN_DROP_INTERNAL;
	return 0;
}

/* Next hop for the outer packet. With BPFTUN_EP_FIB the kernel routes it:
 * tc_seal redirects with bpf_redirect_neigh, which looks up the route for
 * the outer destination and resolves (or queues for) the neighbour, as the
 * stack would. bpf_fib_lookup is not used: it refuses devices that do not
 * forward (BPF_FIB_LKUP_RET_FWD_DISABLED), and a host tunnel must not need
 * forwarding on its underlay. Otherwise the control plane's MACs are used. */
static __always_inline int resolve_nexthop(struct bpftun_endpoint *ep, __u8 *smac, __u8 *dmac,
					   __u32 *ifindex)
{
	__builtin_memcpy(smac, ep->smac, 6);
	__builtin_memcpy(dmac, ep->dmac, 6);
	*ifindex = ep->ifindex;
	if (!ep->ifindex)
		return BPFTUN_DROP_NO_ROUTE;
	return 0;
}

#endif /* BPFTUN_PACKET_H */
