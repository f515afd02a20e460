/* SPDX-License-Identifier: GPL-2.0 */
/*
 * maps.h - every map of the datapath and the types of their values: the
 * loader's config (cfg, in .rodata), peers, the tx and rx SA slots, rx_sas by
 * receiver index, allowed_ips, the scratch areas, iface and stats; the per-peer
 * counters (peer_stats, drop) and hold_maps(), which keeps every map alive for
 * as long as tc_seal is attached. docs/datapath.md, "Maps", says why each one
 * exists.
 *
 * The names of the maps are part of the interface: userspace finds them by name
 * (bpf/datapath.c: dp_find, the skeleton). Defines the maps, so included once,
 * by datapath.bpf.c.
 */
#ifndef BPFTUN_MAPS_H
#define BPFTUN_MAPS_H

#include "common.h"
#include "aead.h"
#include "replay.h"

/* Set by the loader before load. */
const volatile struct bpftun_config cfg = {};

struct tx_sa {
	struct bpf_crypto_ctx __kptr_bt *ctx;
	/* Next counter to send; only ever bumped atomically, never reset, not
	 * even by a new key (see install_tx). */
	__u64 counter;
	__u64 counter_limit; /* absolute */
	__u64 expire_ns;
	__u32 remote_index;
	__u32 salt;
	__u32 present;
	__u32 suite;	     /* BPFTUN_SUITE_*: what tc_seal and tc_keepalive run */
	__u64 counter_start; /* counter when the key was installed (userspace) */
	__u64 wg_key[4];     /* the WireGuard suite's key; zero otherwise */
};
_Static_assert(sizeof(struct tx_sa) == sizeof(struct bpftun_tx_sa_view), "tx_sa view");
_Static_assert(__builtin_offsetof(struct tx_sa, present) ==
		   __builtin_offsetof(struct bpftun_tx_sa_view, present),
	       "tx_sa view");
_Static_assert(__builtin_offsetof(struct tx_sa, counter_start) ==
		   __builtin_offsetof(struct bpftun_tx_sa_view, counter_start),
	       "tx_sa view");
_Static_assert(__builtin_offsetof(struct tx_sa, suite) ==
		   __builtin_offsetof(struct bpftun_tx_sa_view, suite),
	       "tx_sa view");
_Static_assert(__builtin_offsetof(struct tx_sa, wg_key) ==
		   __builtin_offsetof(struct bpftun_tx_sa_view, wg_key),
	       "tx_sa view");

/* The peer's own reference to an rx context; the hot path finds the same
 * context through rx_sas by receiver index (bpf_crypto_ctx_acquire). A
 * WireGuard-suite rx SA has no context: ctx stays NULL, index and present
 * say where its rx_sas entry is. */
struct rx_ref {
	struct bpf_crypto_ctx __kptr_bt *ctx;
	__u32 index;
	__u32 present;
};

/* Slots live in their own arrays, indexed peer_id * BPFTUN_SLOTS + slot: a
 * kptr field may not be reached through a variable offset into a value.
 *
 * Sizes: the max_entries below are the smallest size (BPFTUN_MIN_PEERS);
 * dp_load sets every per-peer map's max_entries from the configuration
 * before load (bpf/datapath.c, dp_capacity), up to BPFTUN_MAX_PEERS, and
 * writes the peer count chosen into cfg.max_peers. Nothing here is sized or
 * bounded by BPFTUN_MAX_PEERS at compile time: a peer id is valid because
 * bpf_map_lookup_elem(&peers, &id) found it (NULL past max_entries), and
 * every other per-peer index follows from a found peer. */
#define peer		    bpftun_peer
#define BPFTUN_SLOT_ENTRIES (BPFTUN_MIN_PEERS * BPFTUN_SLOTS)

struct rx_sa {
	struct bpf_spin_lock lock; /* guards replay */
	__u32 peer_id;
	struct bpf_crypto_ctx __kptr_bt *ctx;
	__u64 expire_ns;
	__u32 salt;
	__u32 slot;
	struct bpftun_replay replay;
	/* after the replay window, so that bpftun_rx_sa_view (the head) stays */
	__u32 suite; /* BPFTUN_SUITE_*: what tc_open runs */
	__u32 pad;
	__u64 wg_key[4]; /* the WireGuard suite's key; zero otherwise */
};

_Static_assert(__builtin_offsetof(struct rx_sa, replay) ==
		   __builtin_offsetof(struct bpftun_rx_sa_view, replay_next),
	       "rx_sa view");
_Static_assert(__builtin_offsetof(struct rx_sa, expire_ns) ==
		   __builtin_offsetof(struct bpftun_rx_sa_view, expire_ns),
	       "rx_sa view");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, BPFTUN_MIN_PEERS);
	__type(key, __u32);
	__type(value, struct peer);
} peers SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, BPFTUN_SLOT_ENTRIES);
	__type(key, __u32);
	__type(value, struct tx_sa);
} tx_sas SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, BPFTUN_SLOT_ENTRIES);
	__type(key, __u32);
	__type(value, struct rx_ref);
} rx_refs SEC(".maps");

/* Not preallocated: an rx_sa is 2 KiB (its replay window), and a hub sized
 * for 16,384 peers would otherwise hold 49,152 of them (about 100 MiB)
 * whether or not any SA is installed; elements are allocated when sa_ctl
 * installs an SA. Lookups cost the same either way. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, BPFTUN_SLOT_ENTRIES);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __u32);
	__type(value, struct rx_sa);
} rx_sas SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, BPFTUN_MIN_ALLOWED_IPS);
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

/* Index cfg.max_peers (one past the last peer) holds drops that no peer can
 * be blamed for; userspace asks for them as BPFTUN_NO_PEER. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, BPFTUN_MIN_PEERS + 1);
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

#define NO_PEER_ID cfg.max_peers

static __always_inline struct bpftun_peer_stats *peer_stats(__u32 peer_id)
{
	return bpf_map_lookup_elem(&stats, &peer_id);
}

static __always_inline int drop(__u32 peer_id, int reason)
{
	struct bpftun_peer_stats *st = peer_stats(peer_id < cfg.max_peers ? peer_id : NO_PEER_ID);

	if (st && reason > 0 && reason < BPFTUN_DROP_MAX)
		st->drops[reason]++;
	return TC_ACT_SHOT;
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

#endif /* BPFTUN_MAPS_H */
