/* SPDX-License-Identifier: GPL-2.0 */
/*
 * seal.h - sealing: the inner frame in, a sealed UDP message out. seal() runs
 * the steps docs/datapath.md numbers under "tc_seal, step by step", one
 * function each (seal_admit, seal_parse, seal_find_peer, tx_take,
 * seal_encrypt, resolve_nexthop in packet.h, seal_make_room, seal_store);
 * tc_seal (datapath.bpf.c) counts the result and redirects (step 9).
 * tx_take and hdr_fill are also tc_keepalive's: one counter per tx SA, so no
 * nonce is ever used twice.
 */
#ifndef BPFTUN_SEAL_H
#define BPFTUN_SEAL_H

#include "maps.h"
#include "packet.h"
#include "flow_mark.h"
#include "wg_data.h"

static __always_inline int tx_counter_ok(struct tx_sa *tx, __u64 counter)
{
	__u64 limit = tx->counter_limit ? tx->counter_limit : BPFTUN_REJECT_AFTER_MESSAGES;

	return counter < limit && counter < BPFTUN_REJECT_AFTER_MESSAGES;
}

/* The active tx SA of peer pid, its suite and a fresh counter from it, or a
 * drop reason. tc_seal and tc_keepalive both take their counters here: one
 * counter per SA, so no nonce is ever used twice. The suite and (AES) the
 * context are read once, here; a WireGuard SA has no context (*ctxp NULL). */
static __always_inline int tx_take(struct peer *p, __u32 pid, struct tx_sa **txp,
				   struct bpf_crypto_ctx **ctxp, __u32 *suite, __u64 *counter)
{
	__u32 slot = p->tx_active;
	struct bpf_crypto_ctx *ctx;
	struct tx_sa *tx;
	__u32 su;

	if (slot >= BPFTUN_SLOTS)
		return BPFTUN_DROP_NO_SA;
	slot += pid * BPFTUN_SLOTS;
	tx = bpf_map_lookup_elem(&tx_sas, &slot);
	if (!tx)
		return BPFTUN_DROP_NO_SA;
	if (!tx->present)
		return BPFTUN_DROP_NO_SA;
	su = tx->suite;
	ctx = tx->ctx;
	if (su == BPFTUN_SUITE_AES ? !ctx : su != BPFTUN_SUITE_WIREGUARD)
		return BPFTUN_DROP_NO_SA;
	if (tx->expire_ns && bpf_ktime_get_ns() >= tx->expire_ns)
		return BPFTUN_DROP_KEY_EXPIRED;
	/* Check before taking a counter too, so that refused packets stop
	 * advancing it: it overshoots the limit by at most one per CPU and so
	 * can never wrap around to reuse a nonce. */
	if (!tx_counter_ok(tx, tx->counter))
		return BPFTUN_DROP_COUNTER_EXHAUSTED;
	*counter = __sync_fetch_and_add(&tx->counter, 1);
	if (!tx_counter_ok(tx, *counter))
		return BPFTUN_DROP_COUNTER_EXHAUSTED;
	*txp = tx;
	*ctxp = ctx;
	*suite = su;
	return 0;
}

/* The 16-byte data header into s->buf (the AES suite's associated data;
 * the WireGuard suite authenticates no header). Reserved bytes zero. */
static __always_inline void hdr_fill(struct bpftun_scratch *s, struct tx_sa *tx, __u64 counter)
{
	struct bpftun_hdr *h = (struct bpftun_hdr *)s->buf;

	h->type = BPFTUN_MSG_DATA;
	h->reserved[0] = h->reserved[1] = h->reserved[2] = 0;
	h->receiver_index = tx->remote_index; /* stored little endian */
	h->counter = counter;		      /* BPF is little endian on x86 */
}

struct seal_out {
	__u32 peer_id;
	__u32 len;
	__u32 ifindex;
	__u32 neigh; /* route and resolve in the kernel (bpf_redirect_neigh) */
};

/* Step 1: what must not be sealed, and a tunnel going down. *zero is 0 (the
 * key of iface). *mtu: the tunnel device's MTU (WireGuard's padding bound). */
static __always_inline int seal_admit(struct __sk_buff *skb, __u32 *zero, __u32 *mtu)
{
	struct sk_buff *kskb = bpf_cast_to_kern_ctx(skb);
	struct bpftun_iface *ifc;

	/* Never seal a GSO super-packet or one whose checksum is still to be
	 * written: the kernel would later write into ciphertext. */
	if (skb->gso_segs > 1 || skb->gso_size)
		return BPFTUN_DROP_TOO_BIG;
	if (BPF_CORE_READ_BITFIELD(kskb, ip_summed) == 3 /* CHECKSUM_PARTIAL */)
		return BPFTUN_DROP_CSUM_PARTIAL;

	ifc = bpf_map_lookup_elem(&iface, zero);
	if (!ifc || ifc->disabled)
		return BPFTUN_DROP_NO_SA;
	*mtu = ifc->mtu;
	return 0;
}

/* Step 2: the whole frame linear, and its inner IP header. */
static __always_inline int seal_parse(struct __sk_buff *skb, struct inner *in)
{
	if (skb->len > BPFTUN_ETH_LEN + BPFTUN_MAX_INNER)
		return BPFTUN_DROP_TOO_BIG;
	if (bpf_skb_pull_data(skb, skb->len))
		return BPFTUN_DROP_MALFORMED;
	if (skb->protocol != bpf_htons(ETH_P_IP) && skb->protocol != bpf_htons(ETH_P_IPV6))
		return BPFTUN_DROP_MALFORMED;
	return parse_inner(skb, BPFTUN_ETH_LEN, skb->len - BPFTUN_ETH_LEN, 0, in);
}

/* Step 3: the peer that owns the inner destination (cryptokey routing). */
static __always_inline int seal_find_peer(struct inner *in, struct seal_out *out, __u32 **pidp,
					  struct peer **pp)
{
	__u32 *pid;

	pid = bpf_map_lookup_elem(&allowed_ips, &in->key);
	if (!pid)
		return BPFTUN_DROP_NO_PEER;
	out->peer_id = *pid;
	*pp = bpf_map_lookup_elem(&peers, pid);
	if (!*pp)
		return BPFTUN_DROP_NO_PEER;
	*pidp = pid;
	return 0;
}

/* Step 5, in scratch s: header, inner packet behind it, keystream, XOR, zero
 * tail, Poly1305, the tag right after the ciphertext and zeros after it. The
 * bounds check on *lenp is left on *lenp, for the steps after this one,
 * which take *lenp as the ciphertext's length: the WireGuard suite pads, so
 * there it becomes the padded length. */
static __always_inline int seal_encrypt(struct __sk_buff *skb, struct bpftun_scratch *s,
					struct tx_sa *tx, struct bpf_crypto_ctx *ctx, __u32 suite,
					__u64 counter, __u32 mtu, __u32 *lenp)
{
	__u64 t0, t1;
	__u32 len;
	int err;

	hdr_fill(s, tx, counter);
	/* Keep this check as its own 64-bit compare: clang folds it into
	 * parse_inner's 32-bit ones otherwise, and 6.12's verifier does not carry
	 * 32-bit bounds to the 64-bit register ("R4 min value is negative"). */
	barrier_var(*lenp);
	len = *lenp;
	if (len == 0 || len > BPFTUN_MAX_INNER)
		return BPFTUN_DROP_MALFORMED;
	if (bpf_skb_load_bytes(skb, BPFTUN_ETH_LEN, s->buf + BPFTUN_HDR_LEN, len))
		return BPFTUN_DROP_MALFORMED;
	if (suite == BPFTUN_SUITE_WIREGUARD) {
		/* No flow mark: WireGuard's receivers take the first four bytes
		 * as one little-endian type word and drop anything but 4. */
		__u32 plen = wg_padded_len(len, mtu);

		if (plen > BPFTUN_MAX_INNER)
			return BPFTUN_DROP_TOO_BIG;
		err = wg_seal(s, tx->wg_key, counter, len, plen);
		*lenp = plen;
		return err;
	}
	flow_mark_set(s->buf, len); /* steering hint, before the tag covers it */

	if (aead_keystream(ctx, s, tx->salt, counter, BPFTUN_POLYKEY_BLOCKS + round16(len) / 16))
		return BPFTUN_DROP_CRYPTO_ERROR;
	aead_xor(s, len);
	aead_zero_tail(s, len);
	aead_tag(s, len, &t0, &t1);
	/* tag right after the ciphertext, then zeros: one store, one checksum */
	{
		__u8 *tp = s->buf + ((BPFTUN_HDR_LEN + len) & BPFTUN_SCRATCH_MASK);

		*(__u64 *)(tp + 0) = t0;
		*(__u64 *)(tp + 8) = t1;
		*(__u64 *)(tp + 16) = 0;
	}
	return 0;
}

/* Step 7: room for outer IP + UDP + header after the MAC header, and the
 * frame cut to its final length (which drops any bytes past the inner IP
 * length). When the outer family differs from the inner one,
 * bpf_skb_change_proto does the first +-20 bytes so that skb->protocol
 * matches the outer header. No ENCAP flags: they set skb->encapsulation,
 * which the stack would carry and which makes bpf_skb_change_tail refuse the
 * skb. */
static __always_inline int seal_make_room(struct __sk_buff *skb, int v6, __u32 olen, __u16 iproto,
					  __u32 len)
{
	__s32 room = olen + BPFTUN_HDR_LEN;
	__u16 oproto = bpf_htons(v6 ? ETH_P_IPV6 : ETH_P_IP);

	if (oproto != iproto) {
		if (bpf_skb_change_proto(skb, oproto, 0))
			return BPFTUN_DROP_INTERNAL;
		room += v6 ? -20 : 20;
	}
	if (bpf_skb_adjust_room(skb, room, BPF_ADJ_ROOM_MAC, 0))
		return BPFTUN_DROP_INTERNAL;
	if (bpf_skb_change_tail(skb, BPFTUN_ETH_LEN + olen + BPFTUN_HDR_LEN + len + BPFTUN_TAG_LEN,
				0))
		return BPFTUN_DROP_INTERNAL;
	return 0;
}

/* Step 8: header || ciphertext || tag in one store, its checksum from
 * scratch, then the outer headers with the pseudo-header folded in. */
static __always_inline int seal_store(struct __sk_buff *skb, struct bpftun_scratch *s,
				      struct bpftun_endpoint *ep, __u8 *smac, __u8 *dmac, int v6,
				      __u32 olen, __u32 len)
{
	__u32 sum;

	if (bpf_skb_store_bytes(skb, BPFTUN_ETH_LEN + olen, s->buf,
				(BPFTUN_HDR_LEN + len + BPFTUN_TAG_LEN) & 0xfff, 0))
		return BPFTUN_DROP_INTERNAL;
	sum = csum_scratch(s, BPFTUN_HDR_LEN + len + BPFTUN_TAG_LEN);
	if (v6)
		return outer6_write(skb, ep, smac, dmac, len, sum);
	return outer4_write(skb, ep, smac, dmac, len, sum);
}

/* Steps 1-8 of docs/datapath.md, "tc_seal, step by step". Returns 0 or a drop
 * reason; out says whom to count it against and where the packet goes. */
static __always_inline int seal(struct __sk_buff *skb, struct seal_out *out)
{
	struct bpftun_scratch *s;
	struct inner in = {};
	struct peer *p;
	struct tx_sa *tx;
	struct bpf_crypto_ctx *ctx;
	__u8 smac[6], dmac[6];
	__u32 zero = 0, *pid, len, ifindex, olen, mtu = 0, suite = 0;
	__u64 counter;
	int err, v6;

	err = seal_admit(skb, &zero, &mtu); /* 1 */
	if (err)
		return err;
	err = seal_parse(skb, &in); /* 2 */
	if (err)
		return err;
	len = in.len;
	out->len = len;
	err = seal_find_peer(&in, out, &pid, &p); /* 3 */
	if (err)
		return err;
	err = tx_take(p, *pid, &tx, &ctx, &suite, &counter); /* 4 */
	if (err)
		return err;
	s = bpf_map_lookup_elem(&scratch, &zero); /* 5 */
	if (!s)
		return BPFTUN_DROP_INTERNAL;
	err = seal_encrypt(skb, s, tx, ctx, suite, counter, mtu, &len);
	if (err)
		return err;
	err = resolve_nexthop(&p->ep, smac, dmac, &ifindex); /* 6 */
	if (err)
		return err;
	v6 = p->ep.flags & BPFTUN_EP_V6;
	olen = (v6 ? BPFTUN_IP6_LEN : BPFTUN_IP4_LEN) + BPFTUN_UDP_LEN;
	err = seal_make_room(skb, v6, olen, in.proto, len); /* 7 */
	if (err)
		return err;
	err = seal_store(skb, s, &p->ep, smac, dmac, v6, olen, len); /* 8 */
	if (err)
		return err;
	out->ifindex = ifindex;
	out->neigh = p->ep.flags & BPFTUN_EP_FIB;
	return 0;
}

#endif /* BPFTUN_SEAL_H */
