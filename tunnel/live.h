/* SPDX-License-Identifier: GPL-2.0 */
/*
 * live.h - live peer changes (`bpftun set`, `syncconf`, `addconf`): the
 * change set, its check and its application to a running tunnel's maps, and
 * the control socket over which `bpftun` hands a change set to the tunnel's
 * key manager (docs/keymgmt.md, "Live peer changes").
 *
 * The peers map is the running state: a peer is identified by its public
 * key, its id is its index in that map (a new peer takes the lowest free
 * id). One process writes peer entries while a key manager runs: the key
 * manager itself (it also rewrites them on handshakes and roaming), so
 * `bpftun` sends it the change set and waits for its answer. Without a key
 * manager `bpftun` applies the change set itself, with the same code.
 *
 * live_apply checks everything first (own key, capacities, AllowedIPs
 * owned by another peer in the result, routes to endpoints, underlay slots)
 * and changes nothing on a refusal. Then, in an order that keeps every other
 * peer untouched: removed peers lose their AllowedIPs (trie entries and
 * routes, but not a prefix another peer takes over in the same set), then
 * their SAs and key material (hooks->remove), then their entry; new and
 * changed peers get their entry, then the trie entries and routes they gain
 * or keep; last, changed peers lose the entries they no longer have. A peer
 * that is not named is never written.
 */
#ifndef BPFTUN_LIVE_H
#define BPFTUN_LIVE_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "datapath.h"

/* What a live_peer sets; a field whose bit is clear is left as it runs. */
#define LIVE_REMOVE	 (1U << 0) /* remove the peer (nothing else applies) */
#define LIVE_ALLOWED	 (1U << 1) /* replace its AllowedIPs by p.allowed */
#define LIVE_ALLOWED_ADD (1U << 2) /* add p.allowed to its AllowedIPs (addconf) */
#define LIVE_ENDPOINT	 (1U << 3) /* p.endpoint/p.port */
#define LIVE_KEEPALIVE	 (1U << 4) /* p.keepalive */
#define LIVE_PSK	 (1U << 5) /* p.psk/p.have_psk (have_psk 0: no PSK) */

struct live_peer {
	struct bt_peer p; /* public_key always; the rest as flags say */
	uint32_t flags;
};

enum live_mode {
	LIVE_SET = 1,  /* the named peers only */
	LIVE_SYNC = 2, /* and every running peer not named is removed */
};

/* What the key manager does beside the maps (NULL members: nothing). */
struct live_hooks {
	void *arg;
	/* before the peer's entry is cleared: its SAs (BPFTUN_OP_DELETE_PEER)
	 * and its key material */
	void (*remove)(void *arg, uint32_t id);
	/* after a new or changed peer's entry and AllowedIPs are written */
	void (*added)(void *arg, uint32_t id, const struct live_peer *lp, int is_new);
};

/*
 * Apply n change records to the tunnel whose datapath is dp, whose user-facing
 * device is tun_ifindex (its routes). With LIVE_SYNC, running peers not in lp
 * are removed. 0, or -errno with one line in msg ("peer KEY: ...") and nothing
 * changed, unless a map write failed half-way (said in msg).
 */
int live_apply(struct datapath *dp, int tun_ifindex, enum live_mode mode, struct live_peer *lp,
	       int n, const struct live_hooks *hooks, char *msg, size_t msglen);

/* ------------------------------------------------------- control socket */

/* /run/bpftun/NETNSINODE-IFNAME.ctl: a unix stream socket, mode 0600 in a
 * 0700 directory; the key manager accepts root only (SO_PEERCRED). */
int live_ctl_path(char *buf, size_t len, const char *ifname);

#define LIVE_MAGIC 0x6274756cU /* "btul" */
struct live_msg_hdr {
	uint32_t magic;
	uint32_t mode;	   /* enum live_mode */
	uint32_t n;	   /* live_peer records that follow */
	uint32_t rec_size; /* sizeof(struct live_peer): both ends are one build */
};
struct live_msg_reply {
	int32_t err; /* 0 or -errno */
	char msg[500];
};

/* bpftun: send the change set to the key manager listening at path and wait
 * for its answer (up to 30 s). -ENOENT/-ECONNREFUSED if nobody listens
 * there; else its answer's err, with its msg. */
int live_ctl_send(const char *path, enum live_mode mode, const struct live_peer *lp, int n,
		  char *msg, size_t msglen);
/* The key manager: read one change set from the accepted connection fd
 * (root only; bounded in size and time). *lp is malloc'd (caller zeroes and
 * frees it). 0 or -errno. */
int live_ctl_read(int fd, enum live_mode *mode, struct live_peer **lp, int *n);
void live_ctl_answer(int fd, int err, const char *msg);

#endif
