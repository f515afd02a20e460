/* SPDX-License-Identifier: GPL-2.0 */
/*
 * sa.h - the SAs behind sa_ctl: create a cipher context (sa_create), install
 * a tx or rx SA into a peer's slot (install_tx, install_rx), make a tx slot
 * the one tc_seal uses (activate_tx), clear slots (tx_clear, rx_clear), and
 * sa_run(), which checks a request and does its op. The ops and error codes
 * are docs/datapath.md's "sa_ctl operations". The bpf_crypto_ctx kfuncs that
 * create, acquire and release contexts are callable only from syscall
 * programs: everything here runs in sa_ctl (datapath.bpf.c), which takes the
 * request and its key from the syscall ctx.
 */
#ifndef BPFTUN_SA_H
#define BPFTUN_SA_H

#include "maps.h"

/* params->key holds the request's key already (sa_ctl put it there straight
 * from the syscall ctx); everything else in params is set here. */
static __always_inline struct bpf_crypto_ctx *sa_create(struct bpftun_sa_req *req,
							struct bpf_crypto_params *params, int *err)
{
	__builtin_memset(params->type, 0, sizeof(params->type));
	__builtin_memset(params->reserved, 0, sizeof(params->reserved));
	__builtin_memset(params->algo, 0, sizeof(params->algo));
	__builtin_memset(params->key + BPFTUN_KEY_LEN, 0, sizeof(params->key) - BPFTUN_KEY_LEN);
	params->authsize = 0;
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
	return bpf_crypto_ctx_create(params, sizeof(*params), err);
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

/* The WireGuard suite's key of an SA: the request's key (in params->key,
 * see sa_ctl) copied map value to map value, one word at a time through a
 * register, never onto the stack; or zeroed. */
static __always_inline void wg_key_set(__u64 *dst, struct bpf_crypto_params *params)
{
#pragma unroll
	for (int i = 0; i < 4; i++)
		*(volatile __u64 *)&dst[i] = *(volatile __u64 *)(params->key + i * 8);
}

/* A WireGuard key without a zero 64-bit word (see wg_key_load). */
static __always_inline int wg_key_ok(struct bpf_crypto_params *params)
{
	int ok = 1;

#pragma unroll
	for (int i = 0; i < 4; i++)
		ok &= *(volatile __u64 *)(params->key + i * 8) != 0;
	return ok;
}

static __always_inline void wg_key_zero(__u64 *dst)
{
#pragma unroll
	for (int i = 0; i < 4; i++)
		*(volatile __u64 *)&dst[i] = 0;
}

/* Drop the rx SA of a peer slot: both references. A WireGuard key is zeroed
 * in the entry before it goes (a deleted element's memory is not cleared). */
static __always_inline int rx_clear(__u32 peer_id, __u32 slot)
{
	__u32 key = slot_key(peer_id, slot), idx;
	struct rx_ref *ref = bpf_map_lookup_elem(&rx_refs, &key);
	struct rx_sa *sa;

	if (!ref)
		return -ENOENT;
	release(bpf_kptr_xchg(&ref->ctx, NULL));
	idx = ref->index;
	if (ref->present) {
		sa = bpf_map_lookup_elem(&rx_sas, &idx);
		if (sa) {
			wg_key_zero(sa->wg_key);
			sa->suite = BPFTUN_SUITE_AES;
		}
		bpf_map_delete_elem(&rx_sas, &idx); /* frees its own kptr */
	}
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
	wg_key_zero(tx->wg_key);
	tx->suite = BPFTUN_SUITE_AES;
	return 0;
}

static __always_inline int install_tx(struct bpftun_sa_req *req, struct bpf_crypto_params *params,
				      struct peer *p)
{
	__u32 key = slot_key(req->peer_id, req->slot);
	struct bpf_crypto_ctx *ctx;
	struct tx_sa *tx;
	int err = 0;

	tx = bpf_map_lookup_elem(&tx_sas, &key);
	if (!tx)
		return -ENOENT;
	/* Refuse to rewrite the slot packets are being sealed with. */
	if (req->slot == p->tx_active && tx->present)
		return -EBUSY;
	if (req->flags & BPFTUN_SA_F_WIREGUARD) {
		ctx = NULL;
	} else {
		ctx = sa_create(req, params, &err);
		if (!ctx)
			return err ?: -ENOMEM;
	}
	/* Not present while it changes: tc_seal never takes a half-written
	 * slot of the other suite. */
	tx->present = 0;
	release(bpf_kptr_xchg(&tx->ctx, NULL));
	/* The counter is not reset: a tc_seal that read the old context just
	 * before this install (a softirq preempted on PREEMPT_RT, or simply
	 * another CPU) may take its counter after it. Since the counter only
	 * grows, that counter was never used with the old key, nor will it be
	 * with the new one: every (key, counter) of a slot is unique whatever
	 * the interleaving. The new key's limit counts from here. */
	{
		__u64 start = tx->counter;
		__u64 room = req->counter_limit ?: BPFTUN_REJECT_AFTER_MESSAGES;

		tx->counter_start = start;
		tx->counter_limit = room < BPFTUN_REJECT_AFTER_MESSAGES - start
					? start + room
					: BPFTUN_REJECT_AFTER_MESSAGES;
	}
	tx->expire_ns = req->expire_ns;
	tx->remote_index = req->index;
	if (req->flags & BPFTUN_SA_F_WIREGUARD) {
		tx->salt = 0;
		wg_key_set(tx->wg_key, params);
		tx->suite = BPFTUN_SUITE_WIREGUARD;
		tx->present = 1;
		return 0;
	}
	wg_key_zero(tx->wg_key);
	tx->suite = BPFTUN_SUITE_AES;
	__builtin_memcpy(&tx->salt, req->salt, 4);
	release(bpf_kptr_xchg(&tx->ctx, ctx));
	tx->present = 1;
	return 0;
}

/* install_rx for the WireGuard suite: the key in the rx_sas entry, no
 * context; the peer's rx_ref only records the index. */
static __always_inline int install_rx_wg(struct bpftun_sa_req *req,
					 struct bpf_crypto_params *params, __u32 idx, __u32 key)
{
	struct rx_sa_bytes *init;
	struct rx_ref *ref;
	struct rx_sa *sa;
	__u32 zero = 0;
	int err;

	init = bpf_map_lookup_elem(&rx_sa_zero, &zero);
	err = init ? bpf_map_update_elem(&rx_sas, &idx, init, BPF_NOEXIST) : -ENOENT;
	sa = err ? NULL : bpf_map_lookup_elem(&rx_sas, &idx);
	if (!sa)
		return err ?: -ENOENT;
	sa->peer_id = req->peer_id;
	sa->expire_ns = req->expire_ns;
	sa->slot = req->slot;
	sa->suite = BPFTUN_SUITE_WIREGUARD;
	wg_key_set(sa->wg_key, params);

	rx_clear(req->peer_id, req->slot); /* whatever this slot held before */
	ref = bpf_map_lookup_elem(&rx_refs, &key);
	if (!ref)
		return -ENOENT;
	ref->index = idx;
	ref->present = 1;
	return 0;
}

static __always_inline int install_rx(struct bpftun_sa_req *req, struct bpf_crypto_params *params)
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

	if (req->flags & BPFTUN_SA_F_WIREGUARD)
		return install_rx_wg(req, params, idx, key);
	ctx = sa_create(req, params, &err);
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
	if (!tx->present)
		return -ENOENT;
	p->tx_active = req->slot;
	return 0;
}

/* Check the request (peer and slot) and do its op. Returns 0 or -errno. */
static __always_inline int sa_run(struct bpftun_sa_req *req, struct bpf_crypto_params *params)
{
	__u32 peer_id = req->peer_id;
	struct peer *p;
	int err = 0;

	p = bpf_map_lookup_elem(&peers, &peer_id);
	if (!p)
		return -ENOENT;
	if (req->slot >= BPFTUN_SLOTS)
		return -EINVAL;
	if (req->flags & ~BPFTUN_SA_F_WIREGUARD)
		return -EINVAL; /* a flag this datapath does not know */
	if ((req->flags & BPFTUN_SA_F_WIREGUARD) &&
	    (req->op == BPFTUN_OP_INSTALL_TX || req->op == BPFTUN_OP_INSTALL_RX) &&
	    !wg_key_ok(params))
		return -EINVAL; /* the datapath reads a zero word as "no key" (wg_data.h) */
	switch (req->op) {
	case BPFTUN_OP_INSTALL_TX:
		err = install_tx(req, params, p);
		break;
	case BPFTUN_OP_INSTALL_RX:
		err = install_rx(req, params);
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
	return err;
}

/* sa_ctl reads the request from its ctx in 8-byte words, the key's among
 * them straight into params_scratch (see sa_ctl). */
#define REQ_WORDS (sizeof(struct bpftun_sa_req) / 8)
#define KEY_OFF	  __builtin_offsetof(struct bpftun_sa_req, key)
_Static_assert(sizeof(struct bpftun_sa_req) % 8 == 0, "request is whole words");
_Static_assert(KEY_OFF % 8 == 0 && BPFTUN_KEY_LEN % 8 == 0, "key is whole words");

#endif /* BPFTUN_SA_H */
