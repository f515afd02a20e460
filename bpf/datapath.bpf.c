// SPDX-License-Identifier: GPL-2.0
/*
 * datapath.bpf.c - bpftun's sealed datapath.
 *
 *   tc_seal  TC ingress of the hidden peer of the tunnel veth pair: inner
 *            packets arrive MTU-sized with complete checksums (KERNEL-NOTES);
 *            look up the peer by inner destination, seal, encapsulate in
 *            UDP, redirect to the underlay.
 *   tc_open  TC ingress of the underlay: for our UDP port and the data type
 *            only, verify the tag, check replay, check the inner source
 *            against the peer's allowed IPs, decapsulate, redirect into the
 *            user-facing tunnel device.
 *   sa_ctl   SEC("syscall"): create, install, activate and delete SAs (cipher
 *            contexts stored as kptrs), driven through BPF_PROG_TEST_RUN.
 */
#include "lib/common.h"
#include "lib/aead.h"
#include "lib/replay.h"
#include "lib/flow_mark.h"

char LICENSE[] SEC("license") = "GPL";

/* Wire fields are stored with plain loads/stores: little-endian hosts only. */
_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "bpftun needs a little-endian host");

/* Set by the loader before load. */
const volatile struct bpftun_config cfg = {};

struct tx_sa {
	struct bpf_crypto_ctx __kptr_bt *ctx;
	__u64 counter; /* next counter to send; bumped atomically */
	__u64 counter_limit;
	__u64 expire_ns;
	__u32 remote_index;
	__u32 salt;
	__u32 present;
	__u32 pad;
};
_Static_assert(sizeof(struct tx_sa) == sizeof(struct bpftun_tx_sa_view), "tx_sa view");
_Static_assert(__builtin_offsetof(struct tx_sa, present) ==
		       __builtin_offsetof(struct bpftun_tx_sa_view, present),
	       "tx_sa view");

/* The peer's own reference to an rx context; the hot path finds the same
 * context through rx_sas by receiver index (bpf_crypto_ctx_acquire). */
struct rx_ref {
	struct bpf_crypto_ctx __kptr_bt *ctx;
	__u32 index;
	__u32 present;
};

/* Slots live in their own arrays, indexed peer_id * BPFTUN_SLOTS + slot: a
 * kptr field may not be reached through a variable offset into a value. */
#define peer bpftun_peer


struct rx_sa {
	struct bpf_spin_lock lock; /* guards replay */
	__u32 peer_id;
	struct bpf_crypto_ctx __kptr_bt *ctx;
	__u64 expire_ns;
	__u32 salt;
	__u32 slot;
	struct bpftun_replay replay;
};

_Static_assert(__builtin_offsetof(struct rx_sa, replay) ==
		       __builtin_offsetof(struct bpftun_rx_sa_view, replay_next),
	       "rx_sa view");
_Static_assert(__builtin_offsetof(struct rx_sa, expire_ns) ==
		       __builtin_offsetof(struct bpftun_rx_sa_view, expire_ns),
	       "rx_sa view");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, BPFTUN_MAX_PEERS);
	__type(key, __u32);
	__type(value, struct peer);
} peers SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, BPFTUN_MAX_PEERS * BPFTUN_SLOTS);
	__type(key, __u32);
	__type(value, struct tx_sa);
} tx_sas SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, BPFTUN_MAX_PEERS * BPFTUN_SLOTS);
	__type(key, __u32);
	__type(value, struct rx_ref);
} rx_refs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, BPFTUN_MAX_RX_SAS);
	__type(key, __u32);
	__type(value, struct rx_sa);
} rx_sas SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 4096);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct bpftun_lpm_key);
	__type(value, __u32);
} allowed_ips SEC(".maps");

/* All-zero bytes to insert an rx_sa from: the value is too big for the BPF
 * stack, and a source typed as rx_sa would expose its lock to the helper. */
struct rx_sa_bytes {
	__u8 raw[sizeof(struct rx_sa)];
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct rx_sa_bytes);
} rx_sa_zero SEC(".maps");

/* bpf_crypto_params is 408 bytes: too big for the stack next to a request. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct bpf_crypto_params);
} params_scratch SEC(".maps");

/* What this tunnel is; tc_seal reads `disabled` so that a tunnel going down
 * stops sealing before its SAs go, and so that the map is among tc_seal's
 * maps, which is how userspace finds the datapath from the device. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct bpftun_iface);
} iface SEC(".maps");

/* Index BPFTUN_MAX_PEERS holds drops that no peer can be blamed for. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, BPFTUN_MAX_PEERS + 1);
	__type(key, __u32);
	__type(value, struct bpftun_peer_stats);
} stats SEC(".maps");

/* Slot 0 for tc_seal, 1 for tc_open, 2 for tc_keepalive. The first two run
 * in softirq and never nest on a CPU; tc_keepalive runs in process context
 * (BPF_PROG_TEST_RUN) where softirq can interrupt it, so it must not share. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 3);
	__type(key, __u32);
	__type(value, struct bpftun_scratch);
} scratch SEC(".maps");

#define NO_PEER_ID BPFTUN_MAX_PEERS

static __always_inline struct bpftun_peer_stats *peer_stats(__u32 peer_id)
{
	return bpf_map_lookup_elem(&stats, &peer_id);
}

static __always_inline int drop(__u32 peer_id, int reason)
{
	struct bpftun_peer_stats *st = peer_stats(peer_id < BPFTUN_MAX_PEERS ? peer_id : NO_PEER_ID);

	if (st && reason > 0 && reason < BPFTUN_DROP_MAX)
		st->drops[reason]++;
	return TC_ACT_SHOT;
}

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

static __always_inline int tx_counter_ok(struct tx_sa *tx, __u64 counter)
{
	__u64 limit = tx->counter_limit ? tx->counter_limit : BPFTUN_REJECT_AFTER_MESSAGES;

	return counter < limit && counter < BPFTUN_REJECT_AFTER_MESSAGES;
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

/* The active tx SA of peer pid and a fresh counter from it, or a drop
 * reason. tc_seal and tc_keepalive both take their counters here: one
 * counter per SA, so no nonce is ever used twice. */
static __always_inline int tx_take(struct peer *p, __u32 pid, struct tx_sa **txp,
				   struct bpf_crypto_ctx **ctxp, __u64 *counter)
{
	__u32 slot = p->tx_active;
	struct bpf_crypto_ctx *ctx;
	struct tx_sa *tx;

	if (slot >= BPFTUN_SLOTS)
		return BPFTUN_DROP_NO_SA;
	slot += pid * BPFTUN_SLOTS;
	tx = bpf_map_lookup_elem(&tx_sas, &slot);
	if (!tx)
		return BPFTUN_DROP_NO_SA;
	ctx = tx->ctx;
	if (!ctx)
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
	return 0;
}

/* The 16-byte data header (also the AEAD's associated data) into s->buf. */
static __always_inline void hdr_fill(struct bpftun_scratch *s, struct tx_sa *tx, __u64 counter)
{
	struct bpftun_hdr *h = (struct bpftun_hdr *)s->buf;

	h->type = BPFTUN_MSG_DATA;
	h->reserved[0] = h->reserved[1] = h->reserved[2] = 0;
	h->receiver_index = tx->remote_index; /* stored little endian */
	h->counter = counter;		      /* BPF is little endian on x86 */
}

/* ------------------------------------------------------------------ tc_seal */

struct seal_out {
	__u32 peer_id;
	__u32 len;
	__u32 ifindex;
	__u32 neigh; /* route and resolve in the kernel (bpf_redirect_neigh) */
};

static __always_inline int seal(struct __sk_buff *skb, struct seal_out *out)
{
	struct sk_buff *kskb = bpf_cast_to_kern_ctx(skb);
	struct bpftun_scratch *s;
	struct inner in = {};
	struct peer *p;
	struct tx_sa *tx;
	struct bpf_crypto_ctx *ctx;
	__u8 smac[6], dmac[6];
	__u32 zero = 0, *pid, len, ifindex, olen, sum;
	__u64 counter, t0, t1;
	int err, v6;

	/* Never seal a GSO super-packet or one whose checksum is still to be
	 * written: the kernel would later write into ciphertext. */
	if (skb->gso_segs > 1 || skb->gso_size)
		return BPFTUN_DROP_TOO_BIG;
	if (BPF_CORE_READ_BITFIELD(kskb, ip_summed) == 3 /* CHECKSUM_PARTIAL */)
		return BPFTUN_DROP_CSUM_PARTIAL;

	{
		struct bpftun_iface *ifc = bpf_map_lookup_elem(&iface, &zero);

		if (!ifc || ifc->disabled)
			return BPFTUN_DROP_NO_SA;
	}
	if (skb->len > BPFTUN_ETH_LEN + BPFTUN_MAX_INNER)
		return BPFTUN_DROP_TOO_BIG;
	if (bpf_skb_pull_data(skb, skb->len))
		return BPFTUN_DROP_MALFORMED;
	if (skb->protocol != bpf_htons(ETH_P_IP) && skb->protocol != bpf_htons(ETH_P_IPV6))
		return BPFTUN_DROP_MALFORMED;
	err = parse_inner(skb, BPFTUN_ETH_LEN, skb->len - BPFTUN_ETH_LEN, 0, &in);
	if (err)
		return err;
	len = in.len;
	out->len = len;

	pid = bpf_map_lookup_elem(&allowed_ips, &in.key);
	if (!pid)
		return BPFTUN_DROP_NO_PEER;
	out->peer_id = *pid;
	p = bpf_map_lookup_elem(&peers, pid);
	if (!p)
		return BPFTUN_DROP_NO_PEER;

	err = tx_take(p, *pid, &tx, &ctx, &counter);
	if (err)
		return err;
	s = bpf_map_lookup_elem(&scratch, &zero);
	if (!s)
		return BPFTUN_DROP_INTERNAL;
	hdr_fill(s, tx, counter);
	/* Keep this check as its own 64-bit compare: clang folds it into
	 * parse_inner's 32-bit ones otherwise, and 6.12's verifier does not carry
	 * 32-bit bounds to the 64-bit register ("R4 min value is negative"). */
	barrier_var(len);
	if (len == 0 || len > BPFTUN_MAX_INNER)
		return BPFTUN_DROP_MALFORMED;
	if (bpf_skb_load_bytes(skb, BPFTUN_ETH_LEN, s->buf + BPFTUN_HDR_LEN, len))
		return BPFTUN_DROP_MALFORMED;
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

	err = resolve_nexthop(&p->ep, smac, dmac, &ifindex);
	if (err)
		return err;

	v6 = p->ep.flags & BPFTUN_EP_V6;
	olen = (v6 ? BPFTUN_IP6_LEN : BPFTUN_IP4_LEN) + BPFTUN_UDP_LEN;
	/* Make room for outer IP + UDP + header after the MAC header. When the
	 * outer family differs from the inner one, bpf_skb_change_proto does
	 * the first +-20 bytes so that skb->protocol matches the outer header.
	 * No ENCAP flags: they set skb->encapsulation, which the stack would
	 * carry and which makes bpf_skb_change_tail refuse the skb. */
	{
		__s32 room = olen + BPFTUN_HDR_LEN;
		__u16 oproto = bpf_htons(v6 ? ETH_P_IPV6 : ETH_P_IP);

		if (oproto != in.proto) {
			if (bpf_skb_change_proto(skb, oproto, 0))
				return BPFTUN_DROP_INTERNAL;
			room += v6 ? -20 : 20;
		}
		if (bpf_skb_adjust_room(skb, room, BPF_ADJ_ROOM_MAC, 0))
			return BPFTUN_DROP_INTERNAL;
	}
	if (bpf_skb_change_tail(skb, BPFTUN_ETH_LEN + olen + BPFTUN_HDR_LEN + len + BPFTUN_TAG_LEN,
				0))
		return BPFTUN_DROP_INTERNAL;

	/* header || ciphertext || tag in one store */
	if (bpf_skb_store_bytes(skb, BPFTUN_ETH_LEN + olen, s->buf,
				(BPFTUN_HDR_LEN + len + BPFTUN_TAG_LEN) & 0xfff, 0))
		return BPFTUN_DROP_INTERNAL;
	sum = csum_scratch(s, BPFTUN_HDR_LEN + len + BPFTUN_TAG_LEN);

	if (v6) {
		struct outer6 o = {};
		__u32 ulen = BPFTUN_UDP_LEN + BPFTUN_HDR_LEN + len + BPFTUN_TAG_LEN;

		__builtin_memcpy(o.eth.h_dest, dmac, 6);
		__builtin_memcpy(o.eth.h_source, smac, 6);
		o.eth.h_proto = bpf_htons(ETH_P_IPV6);
		o.ip.version = 6;
		o.ip.payload_len = bpf_htons(ulen);
		o.ip.nexthdr = IPPROTO_UDP;
		o.ip.hop_limit = 64;
		__builtin_memcpy(&o.ip.saddr, p->ep.saddr, 16);
		__builtin_memcpy(&o.ip.daddr, p->ep.daddr, 16);
		o.udp.source = p->ep.sport;
		o.udp.dest = p->ep.dport;
		o.udp.len = bpf_htons(ulen);
		sum = bpf_csum_diff(NULL, 0, (__be32 *)((char *)&o + BPFTUN_ETH_LEN + 8), 32, sum);
		sum = csum_add32(sum, bpf_htonl(ulen));
		sum = csum_add32(sum, bpf_htonl(IPPROTO_UDP));
		sum = csum_add32(sum, ((__u32)o.udp.dest << 16) | o.udp.source);
		sum = csum_add32(sum, o.udp.len);
		o.udp.check = csum_fold32(sum) ?: 0xffff;
		if (bpf_skb_store_bytes(skb, 0, &o, sizeof(o), 0))
			return BPFTUN_DROP_INTERNAL;
	} else {
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
		__builtin_memcpy(&o.ip.saddr, p->ep.saddr, 4);
		__builtin_memcpy(&o.ip.daddr, p->ep.daddr, 4);
		o.ip.check = csum_fold32(bpf_csum_diff(NULL, 0, (__be32 *)((char *)&o + BPFTUN_ETH_LEN), 20, 0));
		o.udp.source = p->ep.sport;
		o.udp.dest = p->ep.dport;
		o.udp.len = bpf_htons(ulen);
		sum = bpf_csum_diff(NULL, 0, (__be32 *)((char *)&o + BPFTUN_ETH_LEN + 12), 8, sum);
		sum = csum_add32(sum, bpf_htonl(ulen));
		sum = csum_add32(sum, bpf_htonl(IPPROTO_UDP));
		sum = csum_add32(sum, ((__u32)o.udp.dest << 16) | o.udp.source);
		sum = csum_add32(sum, o.udp.len);
		o.udp.check = csum_fold32(sum) ?: 0xffff;
		if (bpf_skb_store_bytes(skb, 0, &o, sizeof(o), 0))
			return BPFTUN_DROP_INTERNAL;
	}
	out->ifindex = ifindex;
	out->neigh = p->ep.flags & BPFTUN_EP_FIB;
	return 0;
}

/* Maps are freed when nothing references them. The attached programs are
 * what outlives every process (up exits, the key manager may die), so
 * tc_seal takes a reference to the maps only sa_ctl uses: loading their
 * addresses is enough for the kernel to count them among its maps. */
static __always_inline void hold_maps(void)
{
	asm volatile("" ::"r"(&rx_refs), "r"(&rx_sas), "r"(&params_scratch), "r"(&rx_sa_zero));
	/* and .rodata (cfg), which dp_find copies into the programs it loads */
	asm volatile("" ::"r"(&cfg));
}

SEC("tc")
int tc_seal(struct __sk_buff *skb)
{
	struct seal_out out = {.peer_id = NO_PEER_ID};
	struct bpftun_peer_stats *st;
	int reason;

	hold_maps();

	reason = seal(skb, &out);
	if (reason)
		return drop(out.peer_id, reason);
	st = peer_stats(out.peer_id);
	if (st) {
		st->tx_packets++;
		st->tx_bytes += out.len;
	}
	if (out.neigh)
		return bpf_redirect_neigh(out.ifindex, NULL, 0, 0);
	return bpf_redirect(out.ifindex, 0);
}

/* ------------------------------------------------------------------ tc_open */

enum { OPEN_PASS = -1 };

static __always_inline int open(struct __sk_buff *skb, __u32 *peer_id, __u32 *inner_len)
{
	struct bpftun_scratch *s;
	struct bpftun_hdr *h;
	struct rx_sa *sa;
	struct inner in = {};
	struct ethhdr eth;
	__u32 one = 1, l4off, ulen, len, idx, *pid;
	__u64 counter, t0, t1, r0, r1;
	__u64 src[2] = {}; /* outer source address, for roaming */
	__u16 dport, sport;
	__u8 type, v6 = 0;
	int rc;

	if (bpf_skb_load_bytes(skb, 0, &eth, sizeof(eth)))
		return OPEN_PASS;
	if (eth.h_proto == bpf_htons(ETH_P_IP)) {
		struct iphdr ip;

		if (bpf_skb_load_bytes(skb, BPFTUN_ETH_LEN, &ip, sizeof(ip)))
			return OPEN_PASS;
		if (ip.version != 4 || ip.protocol != IPPROTO_UDP || ip.ihl < 5)
			return OPEN_PASS;
		if (ip.frag_off & bpf_htons(0x3fff)) /* fragments: let the stack reassemble */
			return OPEN_PASS;
		l4off = BPFTUN_ETH_LEN + ip.ihl * 4;
		src[0] = ip.saddr;
	} else if (eth.h_proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr ip6;

		if (bpf_skb_load_bytes(skb, BPFTUN_ETH_LEN, &ip6, sizeof(ip6)))
			return OPEN_PASS;
		if (ip6.nexthdr != IPPROTO_UDP)
			return OPEN_PASS;
		l4off = BPFTUN_ETH_LEN + BPFTUN_IP6_LEN;
		__builtin_memcpy(src, &ip6.saddr, 16);
		v6 = 1;
	} else {
		return OPEN_PASS;
	}

	{
		struct udphdr udp;

		if (bpf_skb_load_bytes(skb, l4off, &udp, sizeof(udp)))
			return OPEN_PASS;
		dport = udp.dest;
		sport = udp.source;
		ulen = bpf_ntohs(udp.len);
	}
	if (dport != cfg.listen_port)
		return OPEN_PASS;
	if (bpf_skb_load_bytes(skb, l4off + BPFTUN_UDP_LEN, &type, 1))
		return OPEN_PASS; /* empty datagram: not ours to judge */
	if (type != BPFTUN_MSG_DATA)
		return OPEN_PASS; /* handshake etc.: to the key-management socket */

	/* From here the packet claims to be ours: anything wrong is a drop. */
	if (skb->gso_segs > 1)
		return BPFTUN_DROP_TOO_BIG;
	if (ulen < BPFTUN_UDP_LEN + BPFTUN_HDR_LEN + BPFTUN_TAG_LEN ||
	    l4off + ulen > skb->len)
		return BPFTUN_DROP_MALFORMED;
	len = ulen - BPFTUN_UDP_LEN - BPFTUN_HDR_LEN - BPFTUN_TAG_LEN;
	if (len > BPFTUN_MAX_INNER)
		return BPFTUN_DROP_TOO_BIG;

	s = bpf_map_lookup_elem(&scratch, &one);
	if (!s)
		return BPFTUN_DROP_INTERNAL;
	barrier_var(len);
	if (bpf_skb_load_bytes(skb, l4off + BPFTUN_UDP_LEN, s->buf,
			       BPFTUN_HDR_LEN + (len & 0x7ff)))
		return BPFTUN_DROP_MALFORMED;
	if (bpf_skb_load_bytes(skb, l4off + BPFTUN_UDP_LEN + BPFTUN_HDR_LEN + len, &r0, 8) ||
	    bpf_skb_load_bytes(skb, l4off + BPFTUN_UDP_LEN + BPFTUN_HDR_LEN + len + 8, &r1, 8))
		return BPFTUN_DROP_MALFORMED;

	h = (struct bpftun_hdr *)s->buf;
	idx = h->receiver_index;
	counter = h->counter;
	sa = bpf_map_lookup_elem(&rx_sas, &idx);
	if (!sa)
		return BPFTUN_DROP_NO_SA;
	*peer_id = sa->peer_id;
	if (!sa->ctx)
		return BPFTUN_DROP_NO_SA;
	if (sa->expire_ns && bpf_ktime_get_ns() >= sa->expire_ns)
		return BPFTUN_DROP_KEY_EXPIRED;

	{
		__u32 nblk = BPFTUN_POLYKEY_BLOCKS + round16(len) / 16;
		struct bpf_crypto_ctx *ctx = sa->ctx;

		if (!ctx)
			return BPFTUN_DROP_NO_SA;
		if (aead_keystream(ctx, s, sa->salt, counter, nblk))
			return BPFTUN_DROP_CRYPTO_ERROR;
	}
	aead_zero_tail(s, len);
	aead_tag(s, len, &t0, &t1);
	/* One branch on the whole difference: without the barrier clang
	 * splits this into two early-exit compares, one per 8-byte half. */
	t0 = (t0 ^ r0) | (t1 ^ r1);
	barrier_var(t0);
	if (t0)
		return BPFTUN_DROP_BAD_TAG;

	/* Authentic. Only now may the counter move the replay window. */
	bpf_spin_lock(&sa->lock);
	rc = bpftun_replay_check(&sa->replay, counter);
	bpf_spin_unlock(&sa->lock);
	if (rc)
		return BPFTUN_DROP_REPLAY;

	/* Authentic and fresh: if it came from somewhere new, record where, so
	 * that the key manager can point the peer's endpoint there (roaming).
	 * Written only on a change: the peer's value stays read-mostly. */
	{
		__u32 id = sa->peer_id;
		struct peer *p = bpf_map_lookup_elem(&peers, &id);

		if (p && (p->seen_port != sport || p->seen_v6 != v6 ||
			  *(__u64 *)&p->seen_addr[0] != src[0] ||
			  *(__u64 *)&p->seen_addr[8] != src[1])) {
			*(__u64 *)&p->seen_addr[0] = src[0];
			*(__u64 *)&p->seen_addr[8] = src[1];
			p->seen_v6 = v6;
			p->seen_port = sport;
		}
	}

	if (len == 0)
		return 0; /* keepalive: authentic, consumed */
	aead_xor(s, len);

	/* Remove outer IP + UDP + header; as in seal, a change of family goes
	 * through bpf_skb_change_proto so the size checks use the right family. */
	{
		__u8 ver = s->buf[BPFTUN_HDR_LEN] >> 4;
		__u16 iproto = bpf_htons(ver == 6 ? ETH_P_IPV6 : ETH_P_IP);
		__s32 room = -(__s32)(l4off - BPFTUN_ETH_LEN + BPFTUN_UDP_LEN + BPFTUN_HDR_LEN);

		if (ver != 4 && ver != 6)
			return BPFTUN_DROP_MALFORMED;
		if (iproto != eth.h_proto) {
			if (bpf_skb_change_proto(skb, iproto, 0))
				return BPFTUN_DROP_INTERNAL;
			room += ver == 6 ? -20 : 20;
		}
		if (bpf_skb_adjust_room(skb, room, BPF_ADJ_ROOM_MAC, 0))
			return BPFTUN_DROP_INTERNAL;
	}
	if (bpf_skb_change_tail(skb, BPFTUN_ETH_LEN + len, 0))
		return BPFTUN_DROP_INTERNAL;
	barrier_var(len);
	if (len == 0 || len > BPFTUN_MAX_INNER)
		return BPFTUN_DROP_INTERNAL;
	if (bpf_skb_store_bytes(skb, BPFTUN_ETH_LEN, s->buf + BPFTUN_HDR_LEN, len, 0))
		return BPFTUN_DROP_INTERNAL;

	/* Cryptokey routing: the inner source must be one of the peer's IPs. */
	rc = parse_inner(skb, BPFTUN_ETH_LEN, len, 1, &in);
	if (rc)
		return rc;
	if (in.len != len)
		return BPFTUN_DROP_MALFORMED;
	pid = bpf_map_lookup_elem(&allowed_ips, &in.key);
	if (!pid || *pid != sa->peer_id)
		return BPFTUN_DROP_NOT_ALLOWED_IP;

	/* byte by byte: a cast dropping volatile would let clang fold the
	 * zero initialiser of cfg in place of the loader's value */
	for (int i = 0; i < 6; i++)
		eth.h_dest[i] = cfg.tun_mac[i];
	eth.h_proto = in.proto;
	if (bpf_skb_store_bytes(skb, 0, &eth, sizeof(eth), 0))
		return BPFTUN_DROP_INTERNAL;
	*inner_len = len;
	return 0;
}

SEC("tc")
int tc_open(struct __sk_buff *skb)
{
	struct bpftun_peer_stats *st;
	__u32 peer_id = NO_PEER_ID, len = 0;
	int reason;

	reason = open(skb, &peer_id, &len);
	if (reason == OPEN_PASS)
		return TC_ACT_UNSPEC; /* not ours: let the next filter (another tunnel) look */
	if (reason)
		return drop(peer_id, reason);
	st = peer_stats(peer_id);
	if (st) {
		st->rx_packets++;
		st->rx_bytes += len;
		st->last_rx_ns = bpf_ktime_get_ns();
	}
	if (len == 0)
		return TC_ACT_SHOT; /* keepalive */
	return bpf_redirect(cfg.tun_ifindex, BPF_F_INGRESS);
}

/* -------------------------------------------------------------- keepalive */

/* A keepalive (WireGuard's: a data message with nothing inside) for the
 * peer whose id follows the 14-byte Ethernet header of the test-run input.
 * The key manager runs this with BPF_PROG_TEST_RUN and sends the 32 bytes it
 * leaves after the Ethernet header (header || tag) from its UDP socket: the
 * counter comes from the same tx SA as tc_seal's, so nonces stay unique. */
SEC("tc")
int tc_keepalive(struct __sk_buff *skb)
{
	struct bpftun_scratch *s;
	struct bpf_crypto_ctx *ctx;
	struct tx_sa *tx;
	struct peer *p;
	__u32 pid, key = 2;
	__u64 counter, t0, t1;

	if (bpf_skb_load_bytes(skb, BPFTUN_ETH_LEN, &pid, sizeof(pid)))
		return TC_ACT_SHOT;
	p = bpf_map_lookup_elem(&peers, &pid);
	if (!p || tx_take(p, pid, &tx, &ctx, &counter))
		return TC_ACT_SHOT;
	s = bpf_map_lookup_elem(&scratch, &key);
	if (!s)
		return TC_ACT_SHOT;
	hdr_fill(s, tx, counter);
	if (aead_keystream(ctx, s, tx->salt, counter, BPFTUN_POLYKEY_BLOCKS))
		return TC_ACT_SHOT;
	aead_zero_tail(s, 0);
	aead_tag(s, 0, &t0, &t1);
	*(__u64 *)(s->buf + BPFTUN_HDR_LEN) = t0;
	*(__u64 *)(s->buf + BPFTUN_HDR_LEN + 8) = t1;
	if (bpf_skb_change_tail(skb, BPFTUN_ETH_LEN + BPFTUN_HDR_LEN + BPFTUN_TAG_LEN, 0) ||
	    bpf_skb_store_bytes(skb, BPFTUN_ETH_LEN, s->buf, BPFTUN_HDR_LEN + BPFTUN_TAG_LEN, 0))
		return TC_ACT_SHOT;
	return TC_ACT_OK;
}

/* ------------------------------------------------------------------- sa_ctl */


static __always_inline struct bpf_crypto_ctx *sa_create(struct bpftun_sa_req *req, int *err)
{
	struct bpf_crypto_params *params;
	struct bpf_crypto_ctx *ctx;
	__u32 zero = 0;

	params = bpf_map_lookup_elem(&params_scratch, &zero);
	if (!params) {
		*err = -ENOMEM;
		return NULL;
	}
	__builtin_memset(params, 0, sizeof(*params));
	__builtin_memcpy(params->type, "skcipher", sizeof("skcipher"));
	params->key_len = BPFTUN_KEY_LEN;
	if (req->algo[0])
		__builtin_memcpy(params->algo, req->algo, sizeof(req->algo));
	else
		__builtin_memcpy(params->algo, "ecb(aes)", sizeof("ecb(aes)"));
	params->algo[BPFTUN_ALGO_LEN - 1] = 0;
	/* The AEAD needs a block cipher in ECB mode: cbc(aes) would install and
	 * then fail on every packet. */
	if (params->algo[0] != 'e' || params->algo[1] != 'c' || params->algo[2] != 'b' ||
	    params->algo[3] != '(') {
		*err = -EINVAL;
		return NULL;
	}
	__builtin_memcpy(params->key, req->key, BPFTUN_KEY_LEN);
	ctx = bpf_crypto_ctx_create(params, sizeof(*params), err);
	__builtin_memset(params->key, 0, BPFTUN_KEY_LEN);
	return ctx;
}

static __always_inline void release(struct bpf_crypto_ctx *ctx)
{
	if (ctx)
		bpf_crypto_ctx_release(ctx);
}

static __always_inline __u32 slot_key(__u32 peer_id, __u32 slot)
{
	return peer_id * BPFTUN_SLOTS + slot;
}

/* Drop the rx SA of a peer slot: both references. */
static __always_inline int rx_clear(__u32 peer_id, __u32 slot)
{
	__u32 key = slot_key(peer_id, slot), idx;
	struct rx_ref *ref = bpf_map_lookup_elem(&rx_refs, &key);

	if (!ref)
		return -ENOENT;
	release(bpf_kptr_xchg(&ref->ctx, NULL));
	idx = ref->index;
	if (ref->present)
		bpf_map_delete_elem(&rx_sas, &idx); /* frees its own kptr */
	ref->present = 0;
	ref->index = 0;
	return 0;
}

static __always_inline int tx_clear(__u32 peer_id, __u32 slot)
{
	__u32 key = slot_key(peer_id, slot);
	struct tx_sa *tx = bpf_map_lookup_elem(&tx_sas, &key);

	if (!tx)
		return -ENOENT;
	release(bpf_kptr_xchg(&tx->ctx, NULL));
	tx->present = 0;
	return 0;
}

static __always_inline int install_tx(struct bpftun_sa_req *req, struct peer *p)
{
	__u32 key = slot_key(req->peer_id, req->slot);
	struct bpf_crypto_ctx *ctx;
	struct tx_sa *tx;
	int err = 0;

	tx = bpf_map_lookup_elem(&tx_sas, &key);
	if (!tx)
		return -ENOENT;
	/* Refuse to rewrite the slot packets are being sealed with. */
	if (req->slot == p->tx_active && tx->ctx)
		return -EBUSY;
	ctx = sa_create(req, &err);
	if (!ctx)
		return err ?: -ENOMEM;
	release(bpf_kptr_xchg(&tx->ctx, NULL));
	tx->counter = 0;
	tx->counter_limit = req->counter_limit;
	tx->expire_ns = req->expire_ns;
	tx->remote_index = req->index;
	__builtin_memcpy(&tx->salt, req->salt, 4);
	tx->present = 1;
	release(bpf_kptr_xchg(&tx->ctx, ctx));
	return 0;
}

static __always_inline int install_rx(struct bpftun_sa_req *req)
{
	__u32 idx = req->index, zero = 0, key = slot_key(req->peer_id, req->slot);
	struct bpf_crypto_ctx *ctx, *second;
	struct rx_sa_bytes *init;
	struct rx_sa *sa;
	struct rx_ref *ref;
	int err = 0;

	if (!bpf_map_lookup_elem(&rx_refs, &key))
		return -ENOENT;
	if (bpf_map_lookup_elem(&rx_sas, &idx))
		return -EEXIST; /* receiver indices are unique per tunnel */

	ctx = sa_create(req, &err);
	if (!ctx)
		return err ?: -ENOMEM;
	/* One context, two owners: rx_sas (hot path, by index) and the peer's slot. */
	second = bpf_crypto_ctx_acquire(ctx);
	if (!second) {
		bpf_crypto_ctx_release(ctx);
		return -ENOENT;
	}

	init = bpf_map_lookup_elem(&rx_sa_zero, &zero);
	err = init ? bpf_map_update_elem(&rx_sas, &idx, init, BPF_NOEXIST) : -ENOENT;
	sa = err ? NULL : bpf_map_lookup_elem(&rx_sas, &idx);
	if (!sa) {
		bpf_crypto_ctx_release(ctx);
		bpf_crypto_ctx_release(second);
		return err ?: -ENOENT;
	}
	sa->peer_id = req->peer_id;
	sa->expire_ns = req->expire_ns;
	sa->slot = req->slot;
	__builtin_memcpy(&sa->salt, req->salt, 4);
	release(bpf_kptr_xchg(&sa->ctx, ctx));

	rx_clear(req->peer_id, req->slot); /* whatever this slot held before */
	ref = bpf_map_lookup_elem(&rx_refs, &key);
	if (!ref) {
		bpf_crypto_ctx_release(second);
		return -ENOENT;
	}
	release(bpf_kptr_xchg(&ref->ctx, second));
	ref->index = idx;
	ref->present = 1;
	return 0;
}

static __always_inline int activate_tx(struct bpftun_sa_req *req, struct peer *p)
{
	__u32 key = slot_key(req->peer_id, req->slot);
	struct tx_sa *tx = bpf_map_lookup_elem(&tx_sas, &key);

	if (!tx)
		return -ENOENT;
	if (!tx->ctx)
		return -ENOENT;
	p->tx_active = req->slot;
	return 0;
}

/* The syscall ctx may only be read at constant offsets from its register:
 * copy it word by word into a stack copy, zero the key in it afterwards. */
#define REQ_WORDS (sizeof(struct bpftun_sa_req) / 8)
_Static_assert(sizeof(struct bpftun_sa_req) % 8 == 0, "request is whole words");

SEC("syscall")
int sa_ctl(void *ctx)
{
	struct bpftun_sa_req r;
	struct bpftun_sa_req *req = &r;
	__u32 peer_id;
	struct peer *p;
	int err = 0;

#pragma unroll
	for (int i = 0; i < REQ_WORDS; i++)
		((__u64 *)&r)[i] = *(volatile __u64 *)(ctx + i * 8);
#pragma unroll
	for (int i = 0; i < BPFTUN_KEY_LEN / 8; i++)
		*(volatile __u64 *)(ctx + __builtin_offsetof(struct bpftun_sa_req, key) + i * 8) = 0;

	peer_id = req->peer_id;
	p = bpf_map_lookup_elem(&peers, &peer_id);
	if (!p) {
		err = -ENOENT;
		goto out;
	}
	if (req->slot >= BPFTUN_SLOTS) {
		err = -EINVAL;
		goto out;
	}
	switch (req->op) {
	case BPFTUN_OP_INSTALL_TX:
		err = install_tx(req, p);
		break;
	case BPFTUN_OP_INSTALL_RX:
		err = install_rx(req);
		break;
	case BPFTUN_OP_ACTIVATE_TX:
		err = activate_tx(req, p);
		break;
	case BPFTUN_OP_CLEAR_SLOT:
		err = tx_clear(peer_id, req->slot) ?: rx_clear(peer_id, req->slot);
		break;
	case BPFTUN_OP_DELETE_PEER:
		for (int i = 0; i < BPFTUN_SLOTS; i++) {
			tx_clear(peer_id, i);
			rx_clear(peer_id, i);
		}
		p->tx_active = 0;
		break;
	default:
		err = -EINVAL;
	}
out:
	/* volatile: a plain memset of a dying stack copy is a dead store */
#pragma unroll
	for (int i = 0; i < BPFTUN_KEY_LEN / 8; i++)
		*(volatile __u64 *)&r.key[i * 8] = 0;
	*(volatile __s32 *)(ctx + __builtin_offsetof(struct bpftun_sa_req, err)) = err;
	return 0;
}
