/* SPDX-License-Identifier: GPL-2.0 */
/*
 * km.h - what the files of bpftun-keymgmt share: the state of the process
 * (struct km) and of each peer (struct km_peer), the schedule, and who
 * does what:
 *   keymgmt.c  event loop, main, sockets, endpoints (set_endpoint)
 *   session.c  a completed handshake -> SA slots (install, spare slot),
 *              resuming from the maps after a restart
 *   control.c  live peer changes from `bpftun set/syncconf/addconf`
 *   timers.c   the tick: rekey, retry with backoff, the responder's
 *              confirmation timeout, keepalives, route re-resolution
 *   wg_timers.c  the WireGuard suite's own timers (struct km_suite)
 * Everything that outlives the process is in the datapath's maps.
 */
#ifndef BPFTUN_KM_H
#define BPFTUN_KM_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "datapath.h"
#include "handshake.h"
#include "log.h"

/* WireGuard's schedule (keymgmt.c; --rekey-after/--reject-after, and
 * --rekey-attempt for the WireGuard suite's REKEY_ATTEMPT_TIME). */
extern uint64_t REKEY_AFTER_NS;
extern uint64_t REJECT_AFTER_NS;
extern uint64_t REKEY_ATTEMPT_NS;
#define REKEY_TIMEOUT_NS   (5 * 1000000000ULL)	/* no answer: try again */
#define BACKOFF_MAX_NS	   (30 * 1000000000ULL) /* retry interval cap */
#define KR_CHECK_NS	   (250 * 1000000ULL)	/* PrivateKeyKeyring poll */
#define CONFIRM_TIMEOUT_NS (10 * 1000000000ULL) /* responder: no confirmation, initiate */
/* WireGuard's (messages.h): passive keepalive after data received and
 * nothing sent; initiations given up after REKEY_ATTEMPT_TIME (the default
 * of REKEY_ATTEMPT_NS). */
#define KEEPALIVE_TIMEOUT_NS  (10 * 1000000000ULL)
#define REKEY_ATTEMPT_TIME_NS (90 * 1000000000ULL)
enum {
	EV_SEND_FULL = HS_R_COUNT, /* a reply not sent: send buffer full */
	EV_SEND_ERR,		   /* a reply not sent: another error */
	EV_N
};

struct km;
struct km_peer;

/*
 * What differs between the suites above the handshake layer (whose own
 * part is struct hs_suite, handshake.h). keymgmt.c, session.c and timers.c
 * run the same loop for both and ask this:
 *   km_suite_bpftun     retries back off to BACKOFF_MAX_NS, forever
 *   km_suite_wireguard  WireGuard's: every REKEY_TIMEOUT (+ jitter), given up
 *                       after REKEY_ATTEMPT_TIME until data waits for a key;
 *                       passive keepalives; a handshake when sent data gets
 *                       no answer (wg_timers.c)
 */
struct km_suite {
	const char *name;
	const struct hs_suite *hs;
	uint32_t sa_flags; /* bpftun_sa_req.flags of every SA installed */
	int backoff;	   /* retry interval doubles (else REKEY_TIMEOUT each time) */
	/* stop initiating after this long unanswered (REKEY_ATTEMPT_NS); NULL: never */
	const uint64_t *attempt_ns;
	/* per peer, every tick, with an endpoint; NULL: none. st: the peer's
	 * counters as the tick read them (dp_peer_stats_range), or NULL if it
	 * did not (then the hook reads them itself) */
	void (*peer_timers)(struct km *km, int i, const struct bpftun_peer *p,
			    const struct bpftun_peer_stats *st, uint64_t now);
};
extern const struct km_suite km_suite_bpftun;
extern const struct km_suite km_suite_wireguard;

struct km_peer {
	uint32_t id;
	int present;	       /* in the peers map (up, or a live change: live.h) */
	uint64_t next_init_ns; /* when to send the next initiation (0: not due) */
	uint64_t retry_ns;     /* current retry interval (backoff) */
	int awaiting;	       /* an initiation is out */
	int force;	       /* rekey requested (SIGUSR1) */
	int initiator;	       /* we initiated the current session */
	int pending_slot;      /* responder: installed, not yet sending; -1 none */
	uint32_t pending_index;
	uint64_t pending_since;
	int cookie_retried; /* a cookie reply already made us resend at once */
	uint64_t last_keepalive_ns;
	uint64_t last_route_ns;	   /* when our route to the peer was last re-resolved */
	int gate_logged;	   /* the keyring gate's refusal for this peer was logged */
	uint64_t attempt_start_ns; /* first initiation of the current series */
	int gave_up;		   /* attempt_ns passed: no initiation until data waits */
	/* wg_timers.c: the datapath's counters as last seen, and WireGuard's timers */
	int wg_sampled;
	uint64_t wg_tx_packets, wg_rx_bytes, wg_last_rx_ns, wg_waiting;
	uint64_t wg_keepalive_due_ns; /* data received at: keepalive unless we send (0: none) */
	uint64_t wg_unanswered_ns;    /* data sent at, nothing received since (0: none) */
};

/* Peers read per batch in a tick (timers.c): 256 of struct bpftun_peer
 * and of bpftun_peer_stats, about 80 KiB in struct km. */
#define KM_TICK_CHUNK DP_BATCH_MAX
/* The active tx SA's counter is checked against REKEY_AFTER_MESSAGES (2^60,
 * 2^64 - 2^13 - 2^60 messages before the datapath refuses the key) every
 * this many ticks per peer, each peer on its own tick: at most once a
 * second. */
#define KM_TX_CHECK_TICKS 10

struct km {
	const struct km_suite *suite;
	const char *ifname;
	const char *conf_path;
	struct bt_config cfg;
	struct datapath *dp;
	struct hs_device *hs;
	int sock;	 /* handshakes with peers, keepalives */
	int sock_cookie; /* same port: cookie replies to unproven sources only */
	int sigfd;
	struct log_limit evlog;		    /* per-packet log lines (log.h) */
	uint64_t send_dropped;		    /* replies dropped because a send would block */
	struct km_peer peers[BT_MAX_PEERS]; /* by peer id; 0..nids-1 may be present */
	int nids;
	int ctl; /* control socket (live.h): live peer changes from `bpftun set` */
	char ctl_path[128];
	uint64_t last_dev_check_ns;
	/* timers.c: the tick reads the maps a chunk of KM_TICK_CHUNK peers at a
	 * time (dp_get_peers, dp_peer_stats_range) into these */
	struct bpftun_peer tick_peers[KM_TICK_CHUNK];
	struct bpftun_peer_stats tick_stats[KM_TICK_CHUNK];
	uint64_t ticks;		   /* ticks run: spreads the once-a-second tx counter checks */
	uint64_t last_kr_check_ns; /* PrivateKeyKeyring: the key's state, every 250 ms */
	int kr_dead;		   /* it was revoked/expired/removed: SAs deleted, no handshakes */
	int kr_test_said;	   /* test builds: "kill switch off" logged */
	int stop;
};

static inline uint64_t mono_ns(void)
{
	return log_mono_ns();
}

/* keymgmt.c */
/* Never blocks: 0, -EAGAIN (send buffer full, counted) or -errno. */
int km_send(struct km *km, int fd, const void *buf, size_t len, const struct sockaddr_in6 *to);
void fmt_hs_addr(const struct hs_addr *a, char *buf, size_t len);
/* Peer id's endpoint from the peers map, as a socket address. */
int peer_sockaddr(struct km *km, uint32_t id, struct sockaddr_in6 *sa);
/* Point peer id at endpoint a (route, source, device: underlay.c). */
int set_endpoint(struct km *km, uint32_t id, const struct hs_addr *a);
/* The tunnel device is gone: off the underlays, and stop. */
void device_gone(struct km *km);

/* session.c */
/* One sa_ctl request (bpftun_shared.h); d may be NULL (no key). With
 * PrivateKeyKeyring, installs go through sa_ctl_keyring's gate: a refusal
 * is logged once per peer (the gate counts every one in the iface map) and
 * pulls the kill switch. */
int sa_op(struct km *km, uint32_t op, uint32_t id, uint32_t slot, uint32_t index,
	  const struct noise_direction *d, uint64_t expire);
/* A handshake completed: both directions into a spare slot. */
int install(struct km *km, const struct hs_keys *k);
/* The peers of the peers map (by id), their schedule resumed from the maps. */
int resume(struct km *km);
/* control.c: the control socket (live.h); a change set from it, applied. */
int km_ctl_open(struct km *km);
void km_ctl_close(struct km *km);
void km_live(struct km *km);

/* timers.c */
void send_initiation(struct km *km, uint32_t id);
/* The identity key is unusable (st: -EKEYREVOKED, -EKEYEXPIRED, -ENOKEY,
 * -EKEYREJECTED), as who saw it ("polled", "the SA-install gate"): every
 * peer's SAs deleted, no more handshakes (kr_dead). Once. */
void kill_switch(struct km *km, int st, const char *who);
/* A keepalive (an empty data message under the active tx SA) to peer i. */
int send_keepalive(struct km *km, int i);
/* Every TICK_MS: due handshakes, switch-overs, keepalives, routes. */
void tick(struct km *km);

#endif
