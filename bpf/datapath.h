/* SPDX-License-Identifier: GPL-2.0 */
/*
 * datapath.h - userspace side of the datapath: load the BPF object, configure
 * peers and allowed IPs, install SAs through the sa_ctl syscall program,
 * read counters. Used by the bpftun command, keymgmt, tests and bench.
 */
#ifndef BPFTUN_DP_H
#define BPFTUN_DP_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include "bpftun_shared.h"

struct datapath;

/*
 * What the datapath needs from the running kernel, checked before loading
 * it, so that a missing feature is named instead of shown as a verifier log:
 * every kfunc its programs call (in vmlinux BTF), the clsact qdisc and
 * cls_bpf (built in, loaded, or a module the kernel can load), and, when
 * algo is given ("ecb(aes)"), its block cipher (in /proc/crypto, else loaded
 * with `modprobe crypto-NAME`). 0, or -errno with one line in why:
 * "bpftun: this kernel lacks X (...)".
 */
int dp_kernel_check(const char *algo, char *why, size_t len);
/* The kfunc part for a given list of names (tests), and the datapath's list. */
int dp_kernel_check_kfuncs(const char *const *names, size_t n, char *why, size_t len);
extern const char *const dp_kernel_kfuncs[];
extern const size_t dp_kernel_nkfuncs;

/* Open and load the datapath with cfg baked into .rodata. 0 or -errno.
 * dp_load_sized sizes the per-peer maps for npeers peers and the
 * allowed_ips trie for nallowed entries, with headroom for peers added
 * later: dp_capacity(n, min, max) entries. dp_load is dp_load_sized(0, 0),
 * the smallest size (BPFTUN_MIN_PEERS, BPFTUN_MIN_ALLOWED_IPS). -E2BIG past
 * BPFTUN_MAX_PEERS or BPFTUN_MAX_ALLOWED_IPS. cfg->max_peers and
 * cfg->max_allowed_ips are ignored: dp_load_sized sets them. */
int dp_load(struct datapath **out, const struct bpftun_config *cfg);
int dp_load_sized(struct datapath **out, const struct bpftun_config *cfg, uint32_t npeers,
		  uint32_t nallowed);
/* The smallest power of two at least min and at least n + n/4 (a quarter of
 * headroom for peers added at run time), capped at max. */
uint32_t dp_capacity(uint32_t n, uint32_t min, uint32_t max);
/* Peers this datapath holds: valid peer ids are 0..dp_max_peers()-1. */
uint32_t dp_max_peers(struct datapath *dp);
/* dp_load_sized, plus sa_ctl_keyring, whose gate accepts only the "user"
 * key described as desc ("bpftun:<ifname>", < BPFTUN_KEYDESC_LEN); with
 * desc NULL, exactly dp_load_sized (one load path for all three).
 * -EOPNOTSUPP if the kernel refuses bpf_lookup_user_key in syscall programs
 * (6.12). The live tunnel's desc is in its .rodata: dp_find loads
 * sa_ctl_keyring again for it (a restarted key manager). */
int dp_load_keyring(struct datapath **out, const struct bpftun_config *cfg, const char *desc,
		    uint32_t npeers, uint32_t nallowed);
/* Would sa_ctl_keyring load here? It alone is loaded (nothing attached,
 * nothing on the host changes). 0, or -EOPNOTSUPP with why saying that
 * the kernel refuses bpf_lookup_user_key in syscall programs (the
 * verifier's words, uname -r), or another -errno with why set. */
int dp_keyring_check(char *why, size_t len);
void dp_destroy(struct datapath *dp);

/* Run sa_ctl with req; returns req->err (0 or -errno). Zeroes req->key. */
int dp_sa_ctl(struct datapath *dp, struct bpftun_sa_req *req);
/* Run sa_ctl_keyring with req and the identity key's serial (now = time(NULL));
 * returns req->err: 0, -ENOKEY, -EKEYREJECTED, -EKEYREVOKED, -EKEYEXPIRED or
 * sa_ctl's errors. Zeroes req->key. The gate refuses every op (installs,
 * deletes) while the key is unusable; each refusal is counted in the iface
 * map (keyring_refused, keyring_last_err) by the program itself.
 * dp_kr_gate_error() tells the gate's errors from sa_ctl's. */
int dp_sa_ctl_keyring(struct datapath *dp, struct bpftun_sa_req *req, int32_t serial);

static inline int dp_kr_gate_error(int err)
{
	return err == -ENOKEY || err == -EKEYREJECTED || err == -EKEYREVOKED || err == -EKEYEXPIRED;
}

int dp_set_peer(struct datapath *dp, uint32_t peer_id, const struct bpftun_peer *peer);
int dp_get_peer(struct datapath *dp, uint32_t peer_id, struct bpftun_peer *peer);
/*
 * Peers first..first+n-1 into out[0..n-1], as dp_get_peer for each, with
 * one BPF_MAP_LOOKUP_BATCH per DP_BATCH_MAX peers (the peers map is an
 * ARRAY: every id below dp_max_peers() has an entry, present or not, so
 * exactly n come back, in id order). Where the kernel refuses batch
 * lookups (EINVAL, EOPNOTSUPP, ENOTSUPP), this and every later call read
 * one peer at a time instead: the same result, n syscalls. 0, -ERANGE if
 * first + n passes dp_max_peers() (nothing read), or -errno (out partly
 * written). A snapshot per batch, not across batches or of the
 * datapath's concurrent writes to one peer (neither is dp_get_peer).
 */
#define DP_BATCH_MAX 256
int dp_get_peers(struct datapath *dp, uint32_t first, uint32_t n, struct bpftun_peer *out);
/* Tests: use the element-by-element path from now on, as if the kernel
 * had refused batch lookups. */
void dp_batch_off(struct datapath *dp);
/* family 4 or 6; addr in network order (4 or 16 bytes). */
int dp_allow(struct datapath *dp, int family, const void *addr, unsigned int prefix,
	     uint32_t peer_id);
/* Per-peer counters summed over CPUs; peer_id BPFTUN_NO_PEER = unattributed
 * (the datapath keeps them at index dp_max_peers()). -ENOENT past the size. */
int dp_peer_stats(struct datapath *dp, uint32_t peer_id, struct bpftun_peer_stats *out);

/* dp_peer_stats for peers first..first+n-1 into out[0..n-1] (summed over
 * CPUs), with batch lookups of the per-CPU stats map as dp_get_peers (same
 * fallback). Peers only (not BPFTUN_NO_PEER's counters). 0, -ERANGE past
 * dp_max_peers(), -ENOMEM or -errno. */
int dp_peer_stats_range(struct datapath *dp, uint32_t first, uint32_t n,
			struct bpftun_peer_stats *out);

/* Attach to the datapath serving a tunnel: hidden_ifindex is the veth end
 * whose TC ingress runs tc_seal. Maps are shared with the live tunnel;
 * programs are loaded afresh (not attached) so sa_ctl can be run. */
int dp_find(struct datapath **out, int hidden_ifindex);
/* Like dp_find, but nothing is loaded or verified: the live maps only (from
 * the IDs in tc_seal's program info), for reading and writing map entries.
 * Program fds (dp_*_fd, dp_sa_ctl, dp_keepalive) are not usable. */
int dp_view(struct datapath **out, int hidden_ifindex);

int dp_get_iface(struct datapath *dp, struct bpftun_iface *ifc);
/* Updates everything but the map IDs recorded at load. */
int dp_set_iface(struct datapath *dp, const struct bpftun_iface *ifc);

/*
 * The slot of underlay device ifindex in ifc->underlays: the one that
 * already lists it (*added = 0), or a new one (*added = 1), which is the
 * first slot whose device no longer exists in this network namespace
 * (deleted, perhaps re-created under a new index: its tc_open and clsact went
 * with it), else the next free one; the new slot's clsact_created bit is
 * cleared. -ENOSPC if all BPFTUN_MAX_UNDERLAYS slots hold devices that
 * exist. Only ifc is changed: the caller writes it (dp_set_iface).
 */
int dp_underlay_slot(struct bpftun_iface *ifc, uint32_t ifindex, int *added);

struct bpftun_tx_sa_info {
	int present;
	uint64_t counter;
	uint64_t expire_ns;
	uint32_t remote_index;
	uint32_t suite; /* BPFTUN_SUITE_* */
};
int dp_tx_sa(struct datapath *dp, uint32_t peer_id, uint32_t slot, struct bpftun_tx_sa_info *out);

/* The fd of the map called `name` (owned by dp), or -ENOENT. */
int dp_map_fd(struct datapath *dp, const char *name);

/* 1 if a packet was accepted under rx SA `index`, 0 if not, -ENOENT if no
 * such SA. */
int dp_rx_sa_used(struct datapath *dp, uint32_t index);

/* The receiver index of the rx SA in a peer slot, or -ENOENT. */
int dp_rx_index(struct datapath *dp, uint32_t peer_id, uint32_t slot, uint32_t *index);

/* A sealed keepalive for peer_id (header || tag, 32 bytes) to send from the
 * tunnel's UDP socket; -ENOKEY if the peer has no usable tx SA. */
int dp_keepalive(struct datapath *dp, uint32_t peer_id, uint8_t out[32]);

/* Pin every map under dir (a bpffs directory). 0 or -errno. */
int dp_pin_maps(struct datapath *dp, const char *dir);

/* File descriptors of programs, for attaching and BPF_PROG_TEST_RUN. */
int dp_seal_fd(struct datapath *dp);
int dp_open_fd(struct datapath *dp);
int dp_sa_ctl_fd(struct datapath *dp);

#endif
