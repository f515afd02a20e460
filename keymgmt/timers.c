// SPDX-License-Identifier: GPL-2.0
/*
 * timers.c - bpftun-keymgmt's tick (every TICK_MS, from the event loop in
 * keymgmt.c), as WireGuard keeps its timers apart: the check that the
 * tunnel device still exists, and per peer the responder's switch-over or
 * confirmation timeout, roaming on data, route re-resolution, keepalives,
 * rekey after time or messages, and initiation retries with backoff
 * (send_initiation). What the suites do differently is struct km_suite
 * (km.h); the WireGuard suite's extra timers are wg_timers.c. The maps are
 * read with one batch lookup per KM_TICK_CHUNK peers (tick_chunk), not per
 * peer: at hub scale (10,000 peers) per-peer lookups every tick were most
 * of an idle key manager's CPU (docs/keymgmt.md, "What a tick costs").
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <sodium.h>

#include "km.h"
#include "netlink.h"

const struct km_suite km_suite_bpftun = {
    .name = "bpftun",
    .hs = &hs_suite_bpftun,
    .sa_flags = 0,
    .backoff = 1,
    .attempt_ns = NULL,
    .peer_timers = NULL,
};

void send_initiation(struct km *km, uint32_t id)
{
	struct km_peer *kp = &km->peers[id];
	uint8_t msg[HS_INITIATION_LEN];
	struct sockaddr_in6 sa;
	uint64_t now = mono_ns();
	int err;

	if (peer_sockaddr(km, id, &sa))
		return;
	err = hs_create_initiation(km->hs, id, msg, sizeof(msg));
	if (!err)
		err = km_send(km, km->sock, msg, sizeof(msg), &sa);
	if (err)
		pr_err("peer %u: sending initiation: %s", id, strerror(-err));
	if (!kp->awaiting)
		kp->attempt_start_ns = now;
	kp->awaiting = 1;
	kp->retry_ns = kp->retry_ns && km->suite->backoff ? kp->retry_ns * 2 : REKEY_TIMEOUT_NS;
	if (kp->retry_ns > BACKOFF_MAX_NS)
		kp->retry_ns = BACKOFF_MAX_NS;
	/* jitter so that two ends do not keep colliding */
	kp->next_init_ns = now + kp->retry_ns + randombytes_uniform(333) * 1000000ULL;
	kp->force = 0;
	kp->cookie_retried = 0;
}

/* A responder's pending slot: switch to it once the peer sent under it;
 * after CONFIRM_TIMEOUT_NS, initiate instead. -1 if p could not be read
 * back after the switch. */
static int check_pending(struct km *km, int i, struct bpftun_peer *p, uint64_t now)
{
	struct km_peer *kp = &km->peers[i];
	int used = dp_rx_sa_used(km->dp, kp->pending_index);

	if (used == 1) {
		sa_op(km, BPFTUN_OP_ACTIVATE_TX, (uint32_t)i, (uint32_t)kp->pending_slot, 0, NULL,
		      0);
		pr_info("peer %u: sending on slot %d (peer confirmed)", i, kp->pending_slot);
		kp->pending_slot = -1;
		/* A confirmed session completes the handshake, whoever
		 * initiated it: an initiation of ours still out (both ends
		 * started at once) is not retried, as WireGuard stops its
		 * retransmissions on handshake completion. */
		kp->awaiting = 0;
		kp->retry_ns = 0;
		return dp_get_peer(km->dp, (uint32_t)i, p) ? -1 : 0;
	}
	if (now - kp->pending_since > CONFIRM_TIMEOUT_NS) {
		/* Never send under keys the peer has not shown it holds: keep
		 * the old ones and start a handshake of our own, whose response
		 * confirms its keys. */
		kp->pending_since = now;
		if (p->ep.dport && !kp->awaiting) {
			pr_info("peer %u: slot %d not confirmed in 10 s; keeping the old keys and "
				"initiating",
				i, kp->pending_slot);
			kp->force = 1;
		}
	}
	return 0;
}

/* Roaming on data: tc_open saw authentic packets from elsewhere. 1 if the
 * endpoint was moved (or tried to). */
static int check_roamed(struct km *km, int i, const struct bpftun_peer *p, uint64_t now)
{
	struct hs_addr a;
	char who[64];

	if (!p->seen_port ||
	    (p->seen_port == p->ep.dport && p->seen_v6 == !!(p->ep.flags & BPFTUN_EP_V6) &&
	     !memcmp(p->seen_addr, p->ep.daddr, 16)))
		return 0;
	if (p->seen_v6)
		hs_addr_v6(&a, p->seen_addr, ntohs(p->seen_port));
	else
		hs_addr_v4(&a, p->seen_addr, ntohs(p->seen_port));
	fmt_hs_addr(&a, who, sizeof(who));
	if (!set_endpoint(km, (uint32_t)i, &a))
		pr_info("peer %d: roamed to %s (authentic data from there)", i, who);
	km->peers[i].last_route_ns = now;
	return 1;
}

/* Our side may move too (address, route): re-resolve every 5 s. -1 if p
 * could not be read back. */
static int reresolve(struct km *km, int i, struct bpftun_peer *p, uint64_t now)
{
	struct km_peer *kp = &km->peers[i];
	struct hs_addr a;

	if (now - kp->last_route_ns <= 5000000000ULL)
		return 0;
	kp->last_route_ns = now;
	if (p->ep.flags & BPFTUN_EP_V6)
		hs_addr_v6(&a, p->ep.daddr, ntohs(p->ep.dport));
	else
		hs_addr_v4(&a, p->ep.daddr, ntohs(p->ep.dport));
	set_endpoint(km, (uint32_t)i, &a);
	return dp_get_peer(km->dp, (uint32_t)i, p) ? -1 : 0;
}

int send_keepalive(struct km *km, int i)
{
	uint8_t ka[BPFTUN_HDR_LEN + BPFTUN_TAG_LEN];
	struct sockaddr_in6 to;
	int err = dp_keepalive(km->dp, (uint32_t)i, ka) ?: peer_sockaddr(km, (uint32_t)i, &to);

	return err ?: km_send(km, km->sock, ka, sizeof(ka), &to);
}

static void keepalive(struct km *km, int i, const struct bpftun_peer *p, uint64_t now)
{
	struct km_peer *kp = &km->peers[i];

	if (!p->keepalive || now - kp->last_keepalive_ns < p->keepalive * 1000000000ULL)
		return;
	kp->last_keepalive_ns = now;
	send_keepalive(km, i);
}

/* Endpoint = name:port: a handshake timed out, so resolve the name again
 * (as wg's reresolve-dns) and move to the new address if it changed.
 * getaddrinfo blocks the loop while it runs (once per retry, >= 5 s apart). */
static void reresolve_host(struct km *km, int i, const struct bpftun_peer *p)
{
	const struct bt_peer *cp = NULL;
	uint8_t addr[16] = {0};
	struct hs_addr a;
	int fam = 0, r;
	char who[64];

	/* the file's peer with this public key: ids follow the maps, not the
	 * file, once peers were changed live or the key manager restarted */
	for (int c = 0; c < km->cfg.npeers && !cp; c++)
		if (!memcmp(km->cfg.peers[c].public_key, p->public_key, 32))
			cp = &km->cfg.peers[c];
	if (!cp || !cp->host[0])
		return;
	r = bt_resolve_host(cp->host, &fam, addr);
	if (r) {
		pr_err("peer %d: resolving '%s' again: %s", i, cp->host, gai_strerror(r));
		return;
	}
	if (fam == (p->ep.flags & BPFTUN_EP_V6 ? AF_INET6 : AF_INET) &&
	    !memcmp(addr, p->ep.daddr, fam == AF_INET6 ? 16 : 4))
		return;
	if (fam == AF_INET6)
		hs_addr_v6(&a, addr, cp->port);
	else
		hs_addr_v4(&a, addr, cp->port);
	fmt_hs_addr(&a, who, sizeof(who));
	if (!set_endpoint(km, (uint32_t)i, &a))
		pr_info("peer %d: '%s' now resolves to %s; endpoint moved", i, cp->host, who);
}

/* A new handshake when the session is due, or a retry with backoff. */
static void rekey_or_retry(struct km *km, int i, const struct bpftun_peer *p, uint64_t now)
{
	struct km_peer *kp = &km->peers[i];
	uint64_t attempt = km->suite->attempt_ns ? *km->suite->attempt_ns : 0;

	if (kp->awaiting && attempt && now - kp->attempt_start_ns >= attempt) {
		/* WireGuard: give up until data waits for a key (wg_timers.c) */
		pr_info("peer %d: no answer to initiations for %llu s; waiting for data to send", i,
			(unsigned long long)(attempt / 1000000000ULL));
		kp->awaiting = 0;
		kp->retry_ns = 0;
		kp->gave_up = 1;
	}
	if (kp->gave_up && !kp->force)
		return;
	if (!kp->awaiting) {
		/* renew a session that reached REKEY_AFTER_TIME; the responder
		 * waits 10 s longer so both ends rarely race */
		uint64_t due =
		    p->session_start_ns + REKEY_AFTER_NS + (kp->initiator ? 0 : 10000000000ULL);
		struct bpftun_tx_sa_info tx;

		/* or once the active SA has sent REKEY_AFTER_MESSAGES: checked
		 * once a second, each peer on a tick of its own (2^60 messages
		 * leave 15 * 2^60 more before the datapath refuses the key) */
		if ((km->ticks + (uint64_t)i) % KM_TX_CHECK_TICKS == 0 &&
		    !dp_tx_sa(km->dp, (uint32_t)i, p->tx_active, &tx) && tx.present &&
		    tx.counter >= BPFTUN_REKEY_AFTER_MESSAGES)
			kp->force = 1;
		if (kp->force || !p->session_start_ns || now >= due)
			send_initiation(km, (uint32_t)i);
	} else if (now >= kp->next_init_ns) {
		/* the handshake timed out: retry with backoff, to where the
		 * endpoint's name resolves now */
		reresolve_host(km, i, p);
		send_initiation(km, (uint32_t)i);
	}
}

/* Peer i's timers. cached: its entry of the peers map as the tick read it
 * (dp_get_peers), or NULL to read it here; st: its counters, or NULL (the
 * suite's peer_timers then reads them). */
static void tick_peer(struct km *km, int i, const struct bpftun_peer *cached,
		      const struct bpftun_peer_stats *st, uint64_t now)
{
	struct bpftun_peer p;

	if (cached)
		p = *cached;
	else if (dp_get_peer(km->dp, (uint32_t)i, &p))
		return;
	if (km->peers[i].pending_slot >= 0 && check_pending(km, i, &p, now))
		return;
	if (check_roamed(km, i, &p, now))
		return;
	if (!p.ep.dport)
		return; /* no endpoint: wait for the peer */
	if (reresolve(km, i, &p, now))
		return;
	keepalive(km, i, &p, now);
	if (km->suite->peer_timers)
		km->suite->peer_timers(km, i, &p, st, now);
	rekey_or_retry(km, i, &p, now);
}

/* Peers first..first+n-1 (n <= KM_TICK_CHUNK): their entries of the peers
 * map with one batch lookup (dp_get_peers), and, for a suite with
 * peer_timers, the counters of the peers that have an endpoint (only those
 * reach peer_timers): one batch lookup of the ids from the first to the last
 * of them (dp_peer_stats_range) if at least one in KM_STATS_SPARSE of those
 * ids needs them, else one lookup each as before (a batch copies every id
 * in its range). Each peer's timers then run on its copy: what a timer
 * changes (set_endpoint, an SA switched) it reads back itself. If a read
 * fails, each peer is read alone as before. Stops once the kill switch was
 * pulled: no more handshakes. */
#define KM_STATS_SPARSE 16
static void tick_chunk(struct km *km, int first, int n, uint64_t now)
{
	const struct bpftun_peer *pc = km->tick_peers;
	const struct bpftun_peer_stats *sc = NULL;
	int any = 0, lo = -1, hi = -1, want = 0;

	for (int k = 0; k < n && !any; k++)
		any = km->peers[first + k].present;
	if (!any)
		return;
	if (dp_get_peers(km->dp, (uint32_t)first, (uint32_t)n, km->tick_peers))
		pc = NULL;
	for (int k = 0; pc && km->suite->peer_timers && k < n; k++)
		if (km->peers[first + k].present && pc[k].ep.dport) {
			lo = lo < 0 ? k : lo;
			hi = k;
			want++;
		}
	if (want && hi - lo + 1 <= KM_STATS_SPARSE * want &&
	    !dp_peer_stats_range(km->dp, (uint32_t)(first + lo), (uint32_t)(hi - lo + 1),
				 km->tick_stats))
		sc = km->tick_stats;
	for (int k = 0; k < n && !km->kr_dead; k++)
		if (km->peers[first + k].present)
			tick_peer(km, first + k, pc ? &pc[k] : NULL,
				  sc && k >= lo && k <= hi ? &sc[k - lo] : NULL, now);
}

/* Test builds only (bpftun-keymgmt-testhooks, never installed):
 * BPFTUN_TEST_NO_KILL_SWITCH=1: the key manager neither polls the identity
 * key nor reacts to the gate's refusals, as if userspace would not stop:
 * what is left is sa_ctl_keyring's own gate. =poll: no polling, but a
 * refusal by the gate still pulls the kill switch (tests/netns_keyring_gate.sh
 * shows both). */
static const char *test_hook(void)
{
#ifdef BPFTUN_TEST_HOOKS
	const char *v = getenv("BPFTUN_TEST_NO_KILL_SWITCH");

	return v ? v : "";
#else
	return "";
#endif
}

static int kill_switch_off(void)
{
	return !strcmp(test_hook(), "1");
}

static int kr_poll_off(void)
{
	return kill_switch_off() || !strcmp(test_hook(), "poll");
}

void kill_switch(struct km *km, int st, const char *who)
{
	int npresent = 0;

	if (km->kr_dead)
		return;
	if (kill_switch_off()) {
		if (!km->kr_test_said)
			pr_info("test: kill switch off (BPFTUN_TEST_NO_KILL_SWITCH): %s says the "
				"identity key is %s; SAs kept, handshakes go on",
				who, bt_kr_state_name(st));
		km->kr_test_said = 1;
		return;
	}
	km->kr_dead = 1;
	/* deletes through plain sa_ctl: the gate refuses every op once the key
	 * is unusable, and deleting keys must always work */
	for (int i = 0; i < km->nids; i++)
		if (km->peers[i].present && ++npresent)
			sa_op(km, BPFTUN_OP_DELETE_PEER, (uint32_t)i, 0, 0, NULL, 0);
	pr_err("identity key %s (serial %d) is %s (%s): deleted the SAs of all %d peers; no more "
	       "handshakes",
	       km->cfg.keyring_desc, km->cfg.keyring_serial, bt_kr_state_name(st), who, npresent);
}

/* PrivateKeyKeyring: once the identity key is revoked, expired or gone,
 * every peer's SAs are deleted at once and no handshake is sent or
 * answered again (a new key needs a new `up`). One log line. */
static void keyring_check(struct km *km, uint64_t now)
{
	int st;

	if (!km->cfg.keyring_line || km->kr_dead || kr_poll_off() ||
	    now - km->last_kr_check_ns < KR_CHECK_NS)
		return;
	km->last_kr_check_ns = now;
	st = bt_kr_state(km->cfg.keyring_serial);
	if (st != -EKEYREVOKED && st != -EKEYEXPIRED && st != -ENOKEY)
		return; /* usable (or an error that says nothing about the key) */
	kill_switch(km, st, "polled");
}

void tick(struct km *km)
{
	uint64_t now = mono_ns();

	log_limit_flush(&km->evlog);
	keyring_check(km, now);
	if (km->kr_dead)
		return;

	/* once a second is soon enough, and a netlink round trip each tick is
	 * what made the idle key manager show up in CPU accounting */
	if (now - km->last_dev_check_ns >= 1000000000ULL) {
		km->last_dev_check_ns = now;
		if (nl_link_index(km->ifname) <= 0) {
			device_gone(km);
			return;
		}
	}
	km->ticks++;
	for (int c = 0; c < km->nids; c += KM_TICK_CHUNK)
		tick_chunk(km, c, km->nids - c < KM_TICK_CHUNK ? km->nids - c : KM_TICK_CHUNK, now);
}
