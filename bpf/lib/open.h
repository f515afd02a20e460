/* SPDX-License-Identifier: GPL-2.0 */
/*
 * open.h - opening: a UDP datagram off the underlay in, the inner frame out,
 * or OPEN_PASS for what is not ours. open() runs the steps docs/datapath.md
 * numbers under "tc_open, step by step", one function each (open_outer,
 * open_udp and open_for_us for step 1, open_check_len, open_load,
 * open_find_sa, open_verify, open_replay, open_roam, open_decap,
 * open_check_inner, open_eth); tc_open (datapath.bpf.c) counts the result and
 * redirects. addressed_to_us() (lib/local.h) is the routing question of "Only what is addressed to
 * this host".
 */
#ifndef BPFTUN_OPEN_H
#define BPFTUN_OPEN_H

#include "maps.h"
#include "packet.h"
#include "local.h"
#include "wg_data.h"

enum { OPEN_PASS = -1 };

#define VLAN_VID_MASK 0x0fff

/* Zero keystream blocks 0..nblk-1 (Poly1305 key included) in s->ks. */
static __always_inline void aead_wipe(struct bpftun_scratch *s, __u32 nblk)
{
	int i;

	bpf_for(i, 0, (nblk + 3) / 4)
	{
		__u64 *p = (__u64 *)(s->ks + (i & 31) * 64);

		p[0] = p[1] = p[2] = p[3] = p[4] = p[5] = p[6] = p[7] = 0;
	}
}

/* Step 1a: Ethernet and outer IP header. Only unfragmented UDP over IPv4 or
 * IPv6 goes on; l4off is where the UDP header starts. */
static __always_inline int open_outer(struct __sk_buff *skb, struct ethhdr *eth, __u32 *l4off,
				      __u64 *src, __u64 *dst, __u32 *tos, __u8 *v6)
{
	if (bpf_skb_load_bytes(skb, 0, eth, sizeof(*eth)))
		return OPEN_PASS;
	if (eth->h_proto == bpf_htons(ETH_P_IP)) {
		struct iphdr ip;

		if (bpf_skb_load_bytes(skb, BPFTUN_ETH_LEN, &ip, sizeof(ip)))
			return OPEN_PASS;
		if (ip.version != 4 || ip.protocol != IPPROTO_UDP || ip.ihl < 5)
			return OPEN_PASS;
		if (ip.frag_off & bpf_htons(0x3fff)) /* fragments: let the stack reassemble */
			return OPEN_PASS;
		*l4off = BPFTUN_ETH_LEN + ip.ihl * 4;
		src[0] = ip.saddr;
		dst[0] = ip.daddr;
		*tos = ip.tos;
	} else if (eth->h_proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr ip6;

		if (bpf_skb_load_bytes(skb, BPFTUN_ETH_LEN, &ip6, sizeof(ip6)))
			return OPEN_PASS;
		if (ip6.nexthdr != IPPROTO_UDP)
			return OPEN_PASS;
		*l4off = BPFTUN_ETH_LEN + BPFTUN_IP6_LEN;
		__builtin_memcpy(src, &ip6.saddr, 16);
		*v6 = 1;
		__builtin_memcpy(dst, &ip6.daddr, 16);
		*tos = *(__be32 *)&ip6 & bpf_htonl(0x0fffffff);
	} else {
		return OPEN_PASS;
	}
	return 0;
}

/* Step 1b: a data message to our port, on this device (not a VLAN's). */
static __always_inline int open_udp(struct __sk_buff *skb, __u32 l4off, __u16 *sport, __u16 *dport,
				    __u32 *ulen)
{
	__u8 type;

	{
		struct udphdr udp;

		if (bpf_skb_load_bytes(skb, l4off, &udp, sizeof(udp)))
			return OPEN_PASS;
		*dport = udp.dest;
		*sport = udp.source;
		*ulen = bpf_ntohs(udp.len);
	}
	if (*dport != cfg.listen_port)
		return OPEN_PASS;
	if (bpf_skb_load_bytes(skb, l4off + BPFTUN_UDP_LEN, &type, 1))
		return OPEN_PASS; /* empty datagram: not ours to judge */
	if (type != BPFTUN_MSG_DATA)
		return OPEN_PASS; /* handshake etc.: to the key-management socket */
	/* A frame tagged with a VLAN id is for that VLAN's device, where the
	 * stack delivers it untagged (and where tc_open runs if that device is
	 * an underlay). At TC ingress the outer tag is always in the skb's
	 * metadata, never in the data: __netif_receive_skb_core untags before
	 * the ingress hook. Priority tags (VLAN id 0) are delivered on this
	 * device, so they are handled like untagged frames. */
	if (skb->vlan_present && (skb->vlan_tci & VLAN_VID_MASK))
		return OPEN_PASS;
	return 0;
}

/* Step 1c: is it addressed to this host? The lookup's 64 bytes live in
 * scratch s, not on the full stack; buf is overwritten with the message
 * later. */
static __always_inline int open_for_us(struct __sk_buff *skb, struct bpftun_scratch *s, __u8 v6,
				       __u32 tos, __u64 *src, __u64 *dst, __u16 sport, __u16 dport)
{
	struct bpf_fib_lookup *fib = (struct bpf_fib_lookup *)s->buf;

	__builtin_memset(fib, 0, sizeof(*fib));
	fib->family = v6 ? 10 /* AF_INET6 */ : 2 /* AF_INET */;
	fib->l4_protocol = IPPROTO_UDP;
	fib->sport = sport;
	fib->dport = dport;
	if (v6) {
		fib->flowinfo = tos;
		__builtin_memcpy(fib->ipv6_src, src, 16);
		__builtin_memcpy(fib->ipv6_dst, dst, 16);
	} else {
		fib->tos = (__u8)tos;
		fib->ipv4_src = (__u32)src[0];
		fib->ipv4_dst = (__u32)dst[0];
	}
	return addressed_to_us(skb, fib, skb->ifindex);
}

/* Step 2: from here the packet claims to be ours: anything wrong is a drop.
 * *len is the ciphertext's length. */
static __always_inline int open_check_len(struct __sk_buff *skb, __u32 l4off, __u32 ulen,
					  __u32 *len)
{
	if (skb->gso_segs > 1)
		return BPFTUN_DROP_TOO_BIG;
	if (ulen < BPFTUN_UDP_LEN + BPFTUN_HDR_LEN + BPFTUN_TAG_LEN || l4off + ulen > skb->len)
		return BPFTUN_DROP_MALFORMED;
	*len = ulen - BPFTUN_UDP_LEN - BPFTUN_HDR_LEN - BPFTUN_TAG_LEN;
	if (*len > BPFTUN_MAX_INNER)
		return BPFTUN_DROP_TOO_BIG;
	return 0;
}

/* Step 3: header || ciphertext into s->buf, the tag into r0, r1. The
 * barrier is left on *lenp, for the steps after this one. */
static __always_inline int open_load(struct __sk_buff *skb, struct bpftun_scratch *s, __u32 l4off,
				     __u32 *lenp, __u64 *r0, __u64 *r1)
{
	__u32 len;

	barrier_var(*lenp);
	len = *lenp;
	if (bpf_skb_load_bytes(skb, l4off + BPFTUN_UDP_LEN, s->buf, BPFTUN_HDR_LEN + (len & 0x7ff)))
		return BPFTUN_DROP_MALFORMED;
	if (bpf_skb_load_bytes(skb, l4off + BPFTUN_UDP_LEN + BPFTUN_HDR_LEN + len, r0, 8) ||
	    bpf_skb_load_bytes(skb, l4off + BPFTUN_UDP_LEN + BPFTUN_HDR_LEN + len + 8, r1, 8))
		return BPFTUN_DROP_MALFORMED;
	return 0;
}

/* Step 4: the rx SA of the header's receiver index. Its fields are read
 * once, here, before the crypto: the entry can be deleted and its memory
 * reused for another SA (another peer) while this packet is being opened.
 * The packet is attributed to, and its inner source checked against, the
 * peer read here (*sa_peer, also *peer_id from here on). (The WireGuard
 * suite's key is copied once too, in wg_open.) A WireGuard-suite message
 * whose three reserved bytes are not zero is not a data message to
 * WireGuard, which drops it: dropped here as malformed. */
static __always_inline int open_find_sa(struct bpftun_scratch *s, struct rx_sa **sap,
					__u64 *counter, __u32 *sa_peer, __u32 *salt, __u32 *suite,
					__u32 *peer_id)
{
	struct bpftun_hdr *h = (struct bpftun_hdr *)s->buf;
	struct rx_sa *sa;
	__u32 idx;

	idx = h->receiver_index;
	*counter = h->counter;
	sa = bpf_map_lookup_elem(&rx_sas, &idx);
	if (!sa)
		return BPFTUN_DROP_NO_SA;
	*sa_peer = sa->peer_id;
	*salt = sa->salt;
	*suite = sa->suite;
	*peer_id = *sa_peer;
	if (*suite == BPFTUN_SUITE_WIREGUARD && (h->reserved[0] | h->reserved[1] | h->reserved[2]))
		return BPFTUN_DROP_MALFORMED;
	if (sa->expire_ns && bpf_ktime_get_ns() >= sa->expire_ns)
		return BPFTUN_DROP_KEY_EXPIRED;
	*sap = sa;
	return 0;
}

/* Step 5: keystream, Poly1305 and the tag compare. On a failure the
 * keystream of nblk blocks is wiped. The WireGuard suite checks the tag
 * and, only if it matches, decrypts here (wg_open). */
static __always_inline int open_verify(struct rx_sa *sa, struct bpftun_scratch *s, __u32 salt,
				       __u32 suite, __u64 counter, __u32 len, __u32 nblk, __u64 r0,
				       __u64 r1)
{
	__u64 t0, t1;

	if (suite == BPFTUN_SUITE_WIREGUARD)
		return wg_open(s, sa->wg_key, counter, len, r0, r1);
	if (suite != BPFTUN_SUITE_AES)
		return BPFTUN_DROP_NO_SA;
	{
		struct bpf_crypto_ctx *ctx = sa->ctx;

		if (!ctx)
			return BPFTUN_DROP_NO_SA;
		if (aead_keystream(ctx, s, salt, counter, nblk)) {
			aead_wipe(s, nblk);
			return BPFTUN_DROP_CRYPTO_ERROR;
		}
	}
	aead_zero_tail(s, len);
	aead_tag(s, len, &t0, &t1);
	/* One branch on the whole difference: without the barrier clang
	 * splits this into two early-exit compares, one per 8-byte half. */
	t0 = (t0 ^ r0) | (t1 ^ r1);
	barrier_var(t0);
	if (t0) {
		/* The keystream and Poly1305 key of a counter the sender may not
		 * have used yet: with them, anyone who can read this map could
		 * forge a message under that counter. */
		aead_wipe(s, nblk);
		return BPFTUN_DROP_BAD_TAG;
	}
	return 0;
}

/* Step 6: authentic. Only now may the counter move the replay window. */
static __always_inline int open_replay(struct rx_sa *sa, __u64 counter)
{
	int rc;

	bpf_spin_lock(&sa->lock);
	rc = bpftun_replay_check(&sa->replay, counter);
	bpf_spin_unlock(&sa->lock);
	if (rc)
		return BPFTUN_DROP_REPLAY;
	return 0;
}

/* Step 7: authentic and fresh: if it came from somewhere new, record where,
 * so that the key manager can point the peer's endpoint there (roaming).
 * Written only on a change: the peer's value stays read-mostly. */
static __always_inline void open_roam(__u32 sa_peer, __u64 *src, __u16 sport, __u8 v6)
{
	struct peer *p = bpf_map_lookup_elem(&peers, &sa_peer);

	if (p && (p->seen_port != sport || p->seen_v6 != v6 ||
		  *(__u64 *)&p->seen_addr[0] != src[0] || *(__u64 *)&p->seen_addr[8] != src[1])) {
		*(__u64 *)&p->seen_addr[0] = src[0];
		*(__u64 *)&p->seen_addr[8] = src[1];
		p->seen_v6 = v6;
		p->seen_port = sport;
	}
}

/* Step 9: decrypt (the AES suite; the WireGuard suite has decrypted in step
 * 5 and cut the padding in step 8), remove outer IP + UDP + header and the
 * tag, and store the plaintext after the MAC header. As in seal, a change
 * of family goes through bpf_skb_change_proto so the size checks use the
 * right family. The barrier is left on *lenp, for the steps after this one. */
static __always_inline int open_decap(struct __sk_buff *skb, struct bpftun_scratch *s, __u32 l4off,
				      __u16 oproto, __u32 suite, __u32 *lenp)
{
	__u32 len = *lenp;

	if (suite == BPFTUN_SUITE_AES)
		aead_xor(s, len);
	{
		__u8 ver = s->buf[BPFTUN_HDR_LEN] >> 4;
		__u16 iproto = bpf_htons(ver == 6 ? ETH_P_IPV6 : ETH_P_IP);
		__s32 room = -(__s32)(l4off - BPFTUN_ETH_LEN + BPFTUN_UDP_LEN + BPFTUN_HDR_LEN);

		if (ver != 4 && ver != 6)
			return BPFTUN_DROP_MALFORMED;
		if (iproto != oproto) {
			if (bpf_skb_change_proto(skb, iproto, 0))
				return BPFTUN_DROP_INTERNAL;
			room += ver == 6 ? -20 : 20;
		}
		if (bpf_skb_adjust_room(skb, room, BPF_ADJ_ROOM_MAC, 0))
			return BPFTUN_DROP_INTERNAL;
	}
	if (bpf_skb_change_tail(skb, BPFTUN_ETH_LEN + len, 0))
		return BPFTUN_DROP_INTERNAL;
	barrier_var(*lenp);
	len = *lenp;
	if (len == 0 || len > BPFTUN_MAX_INNER)
		return BPFTUN_DROP_INTERNAL;
	if (bpf_skb_store_bytes(skb, BPFTUN_ETH_LEN, s->buf + BPFTUN_HDR_LEN, len, 0))
		return BPFTUN_DROP_INTERNAL;
	return 0;
}

/* Step 10: cryptokey routing: the inner source must be one of the peer's
 * IPs, and the inner IP length the ciphertext's. */
static __always_inline int open_check_inner(struct __sk_buff *skb, __u32 len, __u32 sa_peer,
					    struct inner *in)
{
	__u32 *pid;
	int rc;

	rc = parse_inner(skb, BPFTUN_ETH_LEN, len, 1, in);
	if (rc)
		return rc;
	if (in->len != len)
		return BPFTUN_DROP_MALFORMED;
	pid = bpf_map_lookup_elem(&allowed_ips, &in->key);
	if (!pid || *pid != sa_peer)
		return BPFTUN_DROP_NOT_ALLOWED_IP;
	return 0;
}

/* Step 11: the Ethernet header for the tunnel device: its MAC as destination,
 * the inner EtherType. */
static __always_inline int open_eth(struct __sk_buff *skb, struct ethhdr *eth, __u16 iproto)
{
	/* byte by byte: a cast dropping volatile would let clang fold the
	 * zero initialiser of cfg in place of the loader's value */
	for (int i = 0; i < 6; i++)
		eth->h_dest[i] = cfg.tun_mac[i];
	eth->h_proto = iproto;
	if (bpf_skb_store_bytes(skb, 0, eth, sizeof(*eth), 0))
		return BPFTUN_DROP_INTERNAL;
	return 0;
}

/* Steps 1-10 and the frame of step 11 of docs/datapath.md, "tc_open, step by
 * step". Returns 0, OPEN_PASS (not ours: untouched, nothing counted) or a drop
 * reason, counted against *peer_id; *inner_len is 0 for a keepalive. */
static __always_inline int open(struct __sk_buff *skb, __u32 *peer_id, __u32 *inner_len)
{
	struct bpftun_scratch *s;
	struct rx_sa *sa;
	struct inner in = {};
	struct ethhdr eth;
	__u64 dst[2] = {}; /* outer destination address, for addressed_to_us() */
	__u32 tos = 0;	   /* IPv4 TOS, or IPv6 traffic class and flow label */
	__u32 one = 1, l4off, ulen, len, sa_peer, salt, suite, nblk;
	__u64 counter, r0, r1;
	__u64 src[2] = {}; /* outer source address, for roaming */
	__u16 dport, sport;
	__u8 v6 = 0;
	int rc;

	rc = open_outer(skb, &eth, &l4off, src, dst, &tos, &v6); /* 1 */
	if (rc)
		return rc;
	rc = open_udp(skb, l4off, &sport, &dport, &ulen);
	if (rc)
		return rc;
	s = bpf_map_lookup_elem(&scratch, &one);
	if (!s)
		return OPEN_PASS; /* cannot happen (array map); nothing judged yet */
	if (!open_for_us(skb, s, v6, tos, src, dst, sport, dport))
		return OPEN_PASS; /* transit: the stack forwards it untouched */

	rc = open_check_len(skb, l4off, ulen, &len); /* 2 */
	if (rc)
		return rc;
	rc = open_load(skb, s, l4off, &len, &r0, &r1); /* 3 */
	if (rc)
		return rc;
	rc = open_find_sa(s, &sa, &counter, &sa_peer, &salt, &suite, peer_id); /* 4 */
	if (rc)
		return rc;
	nblk = BPFTUN_POLYKEY_BLOCKS + round16(len) / 16;
	rc = open_verify(sa, s, salt, suite, counter, len, nblk, r0, r1); /* 5 */
	if (rc)
		return rc;
	rc = open_replay(sa, counter); /* 6 */
	if (rc)
		return rc;
	open_roam(sa_peer, src, sport, v6); /* 7 */

	/* 8: a keepalive: authentic, consumed. The WireGuard suite's inner
	 * length is the inner IP header's: the padding goes. */
	if (len == 0)
		return 0;
	if (suite == BPFTUN_SUITE_WIREGUARD) {
		rc = wg_inner_len(s, &len);
		if (rc)
			return rc;
	}
	rc = open_decap(skb, s, l4off, eth.h_proto, suite, &len); /* 9 */
	if (rc)
		return rc;
	rc = open_check_inner(skb, len, sa_peer, &in); /* 10 */
	if (rc)
		return rc;
	rc = open_eth(skb, &eth, in.proto); /* 11 */
	if (rc)
		return rc;
	*inner_len = len;
	return 0;
}

#endif /* BPFTUN_OPEN_H */
