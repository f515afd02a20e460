// SPDX-License-Identifier: GPL-2.0
/*
 * datapath.bpf.c - bpftun's sealed datapath: the entry programs only. What
 * they run is in lib/ (docs/datapath.md names each file):
 *   lib/maps.h    every map and map value type, the counters
 *   lib/packet.h  inner parsing, outer headers, checksums, next hop
 *   lib/seal.h    seal(), step by step
 *   lib/open.h    open(), step by step
 *   lib/sa.h      SA install, clear and activate
 *   lib/aead.h, poly1305.h, replay.h  the AES suite's AEAD and the replay window
 *   lib/wg_data.h, wg_aead.h, chacha20.h  the WireGuard suite's data messages
 *
 *   tc_seal       TC ingress of the hidden peer of the tunnel veth pair: inner
 *                 packets arrive MTU-sized with complete checksums
 *                 (docs/kernel.md); look up the peer by inner destination,
 *                 seal, encapsulate in UDP, redirect to the underlay.
 *   tc_open       TC ingress of the underlay: for our UDP port and the data
 *                 type only, verify the tag, check replay, check the inner
 *                 source against the peer's allowed IPs, decapsulate, redirect
 *                 into the user-facing tunnel device.
 *   tc_keepalive  not attached: a sealed empty data message for the key
 *                 manager to send, driven through BPF_PROG_TEST_RUN.
 *   sa_ctl        SEC("syscall"): create, install, activate and delete SAs
 *                 (cipher contexts stored as kptrs), driven through
 *                 BPF_PROG_TEST_RUN.
 *   sa_ctl_keyring SEC("syscall"): sa_ctl, but only while the identity key
 *                 in the kernel keyring is usable (lib/keyring.h).
 */
#include "lib/common.h"
#include "lib/aead.h"
#include "lib/replay.h"
#include "lib/maps.h"
#include "lib/packet.h"
#include "lib/seal.h"
#include "lib/open.h"
#include "lib/sa.h"
#include "lib/keyring.h"

char LICENSE[] SEC("license") = "GPL";

/* ------------------------------------------------------------------ tc_seal */

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
	__u32 pid, key = 2, suite = 0;
	__u64 counter, t0, t1;

	if (bpf_skb_load_bytes(skb, BPFTUN_ETH_LEN, &pid, sizeof(pid)))
		return TC_ACT_SHOT;
	p = bpf_map_lookup_elem(&peers, &pid);
	if (!p || tx_take(p, pid, &tx, &ctx, &suite, &counter))
		return TC_ACT_SHOT;
	s = bpf_map_lookup_elem(&scratch, &key);
	if (!s)
		return TC_ACT_SHOT;
	hdr_fill(s, tx, counter);
	if (suite == BPFTUN_SUITE_WIREGUARD) {
		/* WireGuard's keepalive: an empty plaintext, so header || tag */
		if (wg_seal(s, tx->wg_key, counter, 0, 0))
			return TC_ACT_SHOT;
	} else {
		if (aead_keystream(ctx, s, tx->salt, counter, BPFTUN_POLYKEY_BLOCKS))
			return TC_ACT_SHOT;
		aead_zero_tail(s, 0);
		aead_tag(s, 0, &t0, &t1);
		*(__u64 *)(s->buf + BPFTUN_HDR_LEN) = t0;
		*(__u64 *)(s->buf + BPFTUN_HDR_LEN + 8) = t1;
	}
	if (bpf_skb_change_tail(skb, BPFTUN_ETH_LEN + BPFTUN_HDR_LEN + BPFTUN_TAG_LEN, 0) ||
	    bpf_skb_store_bytes(skb, BPFTUN_ETH_LEN, s->buf, BPFTUN_HDR_LEN + BPFTUN_TAG_LEN, 0))
		return TC_ACT_SHOT;
	return TC_ACT_OK;
}

/* ------------------------------------------------------------------- sa_ctl */

/* The syscall ctx may only be read at constant offsets from its register.
 * The key goes from the ctx straight into params_scratch (map memory), one
 * 8-byte word at a time through a register, and is then zeroed in the ctx;
 * the rest of the request is copied onto the stack. No copy of the key is
 * ever on the BPF stack (which is the kernel stack, and is not cleared when
 * the program returns): tests/check_sa_ctl_stack.sh checks the object code. */
static __always_inline int sa_ctl_do(void *ctx, int keyring)
{
	struct bpftun_sa_req r;
	struct bpftun_sa_req *req = &r;
	struct bpf_crypto_params *params;
	__u32 zero = 0;
	int err = 0;

	params = bpf_map_lookup_elem(&params_scratch, &zero);
	if (!params) {
		err = -ENOMEM;
		goto wipe_ctx;
	}
#pragma unroll
	for (int i = 0; i < BPFTUN_KEY_LEN / 8; i++)
		*(volatile __u64 *)(params->key + i * 8) =
		    *(volatile __u64 *)(ctx + KEY_OFF + i * 8);
wipe_ctx:
#pragma unroll
	for (int i = 0; i < BPFTUN_KEY_LEN / 8; i++)
		*(volatile __u64 *)(ctx + KEY_OFF + i * 8) = 0;
#pragma unroll
	for (int i = 0; i < REQ_WORDS; i++) {
		if (i * 8 >= KEY_OFF && i * 8 < KEY_OFF + BPFTUN_KEY_LEN)
			((__u64 *)&r)[i] = 0;
		else
			((__u64 *)&r)[i] = *(volatile __u64 *)(ctx + i * 8);
	}
	if (err)
		goto out;
	if (keyring) {
		err = keyring_gate(ctx);
		if (err)
			goto out;
	}

	err = sa_run(req, params);
out:
	if (params) {
#pragma unroll
		for (int i = 0; i < BPFTUN_KEY_LEN / 8; i++)
			*(volatile __u64 *)(params->key + i * 8) = 0;
	}
	*(volatile __s32 *)(ctx + __builtin_offsetof(struct bpftun_sa_req, err)) = err;
	return 0;
}

SEC("syscall")
int sa_ctl(void *ctx)
{
	return sa_ctl_do(ctx, 0);
}

/* sa_ctl behind the keyring gate (lib/keyring.h): ctx is a struct
 * bpftun_sa_keyring_req. Loaded only for a tunnel whose identity key is in
 * the kernel keyring (dp_load_keyring): Linux 6.12 refuses
 * bpf_lookup_user_key in syscall programs, and the rest of the datapath must
 * still load there. */
SEC("syscall")
int sa_ctl_keyring(void *ctx)
{
	return sa_ctl_do(ctx, 1);
}
