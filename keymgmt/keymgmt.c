// SPDX-License-Identifier: GPL-2.0
/*
 * keymgmt.c - bpftun-keymgmt, the key-management process of one tunnel:
 * its event loop, main, sockets and peer endpoints. Sessions (handshake ->
 * SA slots, resume) are session.c, the tick (rekey, retry, confirmation,
 * keepalive, routes) timers.c, the state they share km.h; the underlays
 * (tc_open, clsact, route -> endpoint) are tunnel/underlay.c.
 *
 * It owns the tunnel's UDP port: tc_open hands it every packet that is not
 * data. It runs the Noise IK handshake (handshake.c) with each peer, derives
 * per-direction AES-256 keys and salts, and installs them into the datapath
 * through its sa_ctl program. It keeps no state the datapath does not hold:
 * SAs, the active slot, session start, endpoints all live in the tunnel's
 * maps, so a restarted process picks up where the last one stopped and
 * traffic never waits for it.
 *
 * Rekey without loss (three slots per peer and direction, see
 * docs/datapath.md): the new session goes into the spare slot installed
 * first (spare_slot). The initiator switches to it at once (the responder
 * installed its rx side before answering). The responder keeps sending with
 * the old keys until the first packet under the new ones arrives, then
 * switches; never on a timeout, and it never moves the endpoint on an
 * initiation (it may be a replay). Old sessions stay valid for receiving
 * until their slot is reused.
 *
 * Schedule (WireGuard's): a session is renewed after 120 s; every SA expires
 * 180 s after its handshake, in the datapath itself, so if this process dies
 * the tunnel fails closed.
 *
 *   bpftun-keymgmt --ifname IFNAME --config FILE [--foreground]
 *                  [--rekey-after SECONDS] [--reject-after SECONDS]
 *                  [--rekey-attempt SECONDS]
 * SIGUSR1: rekey every peer with an endpoint now. SIGTERM: exit, leaving the
 * SAs in place.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <bpf/libbpf.h>
#include <sodium.h>

#include "config.h"
#include "datapath.h"
#include "handshake.h"
#include "km.h"
#include "log.h"
#include "netlink.h"
#include "underlay.h"

/* WireGuard's schedule; --rekey-after/--reject-after/--rekey-attempt
 * shorten it for tests. */
uint64_t REKEY_AFTER_NS = BPFTUN_REKEY_AFTER_TIME_S * 1000000000ULL;
uint64_t REJECT_AFTER_NS = BPFTUN_REJECT_AFTER_TIME_S * 1000000000ULL;
uint64_t REKEY_ATTEMPT_NS = REKEY_ATTEMPT_TIME_NS;
#define TICK_MS	 100
#define RX_BATCH 64 /* messages per poll; a full batch with more queued is load */
/* Lines a received packet can cause (rejections, failed sends) are logged one
 * by one up to LOG_VERBATIM per LOG_WINDOW_NS, then counted and summarised
 * (log.h): "N handshake messages rejected (reason) in the last 10 s". */
#define LOG_WINDOW_NS (10 * 1000000000ULL)
#define LOG_VERBATIM  5

static int foreground;

/* What a summary line counts (log_limit_flush): "N <this> in the last 10 s". */
static void ev_what(int ev, char *buf, size_t len)
{
	if (ev == EV_SEND_FULL)
		snprintf(buf, len, "replies not sent (send buffer full)");
	else if (ev == EV_SEND_ERR)
		snprintf(buf, len, "replies not sent (send failed)");
	else
		snprintf(buf, len, "handshake messages rejected (%s)",
			 handshake_strerror(-(HS_REASON_BASE + ev)));
}

/* Never block the loop: a datagram that does not fit the send buffer now
 * (replies to unresolved neighbours fill it while ARP/ND waits) is dropped
 * and counted. 0 or -errno. */
int km_send(struct km *km, int fd, const void *buf, size_t len, const struct sockaddr_in6 *to)
{
	if (sendto(fd, buf, len, MSG_DONTWAIT, (const struct sockaddr *)to, sizeof(*to)) >= 0)
		return 0;
	if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS) {
		km->send_dropped++;
		return -EAGAIN;
	}
	return -errno;
}

void fmt_hs_addr(const struct hs_addr *a, char *buf, size_t len)
{
	char ip[INET6_ADDRSTRLEN];

	inet_ntop(a->family == 6 ? AF_INET6 : AF_INET, a->addr, ip, sizeof(ip));
	snprintf(buf, len, a->family == 6 ? "[%s]:%u" : "%s:%u", ip, a->port);
}

/* ------------------------------------------------------------ endpoints */

/* Peer id's endpoint from the peers map, as a socket address. */
int peer_sockaddr(struct km *km, uint32_t id, struct sockaddr_in6 *sa)
{
	struct bpftun_peer p;

	if (dp_get_peer(km->dp, id, &p) || !p.ep.dport)
		return -ENOENT;
	memset(sa, 0, sizeof(*sa));
	sa->sin6_family = AF_INET6;
	sa->sin6_port = p.ep.dport;
	if (p.ep.flags & BPFTUN_EP_V6) {
		memcpy(&sa->sin6_addr, p.ep.daddr, 16);
	} else {
		/* v4-mapped: the socket is dual-stack */
		sa->sin6_addr.s6_addr[10] = 0xff;
		sa->sin6_addr.s6_addr[11] = 0xff;
		memcpy(&sa->sin6_addr.s6_addr[12], p.ep.daddr, 4);
	}
	return 0;
}

/* Point peer id at a (new) endpoint: route lookup for device and source
 * (underlay.c), and tc_open on that device if it is new to this tunnel. */
int set_endpoint(struct km *km, uint32_t id, const struct hs_addr *a)
{
	struct bpftun_peer p;
	int fam = a->family == 6 ? AF_INET6 : AF_INET, oif, err;

	if (dp_get_peer(km->dp, id, &p))
		return -ENOENT;
	/* Looked up on every handshake, not only when the peer moved: our own
	 * address or route may have changed too (the source we seal with). */
	err = underlay_resolve(fam, a->addr, a->port, &p.ep, &oif);
	if (err)
		return err;
	/* what tc_open compares the next packets with: the endpoint itself */
	memcpy(p.seen_addr, p.ep.daddr, 16);
	p.seen_port = p.ep.dport;
	p.seen_v6 = fam == AF_INET6;
	err = dp_set_peer(km->dp, id, &p);
	if (err)
		return err;
	underlay_listen(km->dp, oif);
	return 0;
}

/* The device a message from a came in on (our route back to it): tc_open
 * there too, without touching any peer's endpoint. */
static void listen_towards(struct km *km, const struct hs_addr *a)
{
	struct nl_route_info r;

	if (!nl_route_get(a->family == 6 ? AF_INET6 : AF_INET, a->addr, &r))
		underlay_listen(km->dp, r.oif);
}

/* The tunnel device was deleted behind bpftun's back (ip link del): take
 * tc_open off the underlays, and the clsact qdiscs bpftun added if nothing
 * else uses them (else their record goes to another tunnel there), then stop. `bpftun down` is the
 * way; this limits the mess. */
void device_gone(struct km *km)
{
	struct bpftun_iface ifc;

	pr_info("interface '%s' is gone; detaching from the underlays and exiting", km->ifname);
	if (!dp_get_iface(km->dp, &ifc))
		underlay_detach_all(&ifc); /* hands a shared clsact on, as `down` does */
	km->stop = 1;
}

static void receive(struct km *km, int fd)
{
	uint8_t buf[256];
	struct sockaddr_in6 from;
	struct hs_result res;
	struct hs_addr src;
	socklen_t flen = sizeof(from);
	ssize_t n;
	int rc, responded = 0;
	char who[64];

	n = recvfrom(fd, buf, sizeof(buf), MSG_DONTWAIT, (struct sockaddr *)&from, &flen);
	if (n <= 0 || flen != sizeof(from) || km->kr_dead) /* dead identity: drop */
		return;
	if (IN6_IS_ADDR_V4MAPPED(&from.sin6_addr))
		hs_addr_v4(&src, &from.sin6_addr.s6_addr[12], ntohs(from.sin6_port));
	else
		hs_addr_v6(&src, from.sin6_addr.s6_addr, ntohs(from.sin6_port));
	fmt_hs_addr(&src, who, sizeof(who));
	rc = hs_receive(km->hs, buf, (size_t)n, &src, &res);
	/* A responder installs its keys before it answers: the initiator sends
	 * under them as soon as the answer arrives. */
	if (rc >= 0 && res.have_keys && !res.keys.initiator)
		responded = !install(km, &res.keys);
	if (res.reply_len && (rc < 0 || !res.have_keys || res.keys.initiator || responded)) {
		/* Cookie replies go to sources that proved nothing, from their own
		 * socket: when its send buffer fills (replies waiting for ARP to
		 * addresses nobody owns), replies to peers still go out. */
		int cookie = res.reply[0] == BPFTUN_MSG_COOKIE;
		int e = km_send(km, cookie ? km->sock_cookie : km->sock, res.reply, res.reply_len,
				&from);

		if (e)
			log_limited(&km->evlog, e == -EAGAIN ? EV_SEND_FULL : EV_SEND_ERR,
				    BT_LOG_WARN, "%s: sending reply: %s", who, strerror(-e));
	}
	if (rc < 0) {
		if (rc == -HS_R_OTHER_SUITE)
			log_limited(&km->evlog, -rc - HS_REASON_BASE, BT_LOG_WARN,
				    "%s: a handshake message of Protocol = %s, but interface '%s' "
				    "speaks Protocol = %s: set the same Protocol on both ends",
				    who, km->suite == &km_suite_wireguard ? "bpftun" : "wireguard",
				    km->ifname, km->suite->name);
		else if (hs_is_rejection(rc))
			log_limited(&km->evlog, -rc - HS_REASON_BASE, BT_LOG_INFO,
				    "%s: handshake message rejected: %s", who,
				    handshake_strerror(rc));
		hs_result_wipe(&res);
		return;
	}
	if (res.have_keys && !res.keys.initiator) {
		/* Not the endpoint: an initiation can be a replay. The endpoint
		 * follows the peer's first authentic data under the new keys
		 * (tc_open records where it came from; tick() moves it). Only
		 * make sure tc_open listens where that data will arrive. */
		listen_towards(km, &src);
	} else if (res.have_keys) {
		struct km_peer *kp = &km->peers[res.keys.peer_id];

		/* A response answers our own fresh ephemeral: it cannot be a
		 * replay, so the peer is there now. */
		if (set_endpoint(km, res.keys.peer_id, &src))
			pr_err("peer %u: no route back to %s", res.keys.peer_id, who);
		if (!install(km, &res.keys)) {
			uint8_t ka[BPFTUN_HDR_LEN + BPFTUN_TAG_LEN];

			kp->awaiting = 0;
			kp->retry_ns = 0;
			/* As WireGuard does: a keepalive under the new keys at once,
			 * so the responder learns it may switch without waiting for
			 * data (a restarted peer may have none to send). */
			if (!dp_keepalive(km->dp, res.keys.peer_id, ka))
				km_send(km, km->sock, ka, sizeof(ka), &from);
		}
	} else if (buf[0] == BPFTUN_MSG_COOKIE && res.peer_id < (uint32_t)km->nids &&
		   km->peers[res.peer_id].present) {
		struct km_peer *kp = &km->peers[res.peer_id];

		/* The peer is under load and answered our initiation with a
		 * cookie: send the next one (with mac2) now rather than after
		 * the retry interval. Once per initiation, so that cookie
		 * replies (forged ones too) cannot make us send more than two
		 * initiations per interval. */
		if (kp->awaiting && !kp->cookie_retried) {
			kp->retry_ns /= 2; /* send_initiation doubles it: keep the interval */
			send_initiation(km, res.peer_id);
			kp->cookie_retried = 1;
		}
	}
	hs_result_wipe(&res);
}

/* --------------------------------------------------------------- set-up */

static int open_socket(uint16_t port, uint32_t mark)
{
	struct sockaddr_in6 sa = {.sin6_family = AF_INET6, .sin6_port = htons(port)};
	int fd = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0), off = 0, on = 1;

	if (fd < 0)
		return -errno;
	/* FwMark: handshakes take the route our marked outer packets take */
	if (mark && setsockopt(fd, SOL_SOCKET, SO_MARK, &mark, sizeof(mark))) {
		int err = -errno;

		close(fd);
		return err;
	}
	setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off));
	/* two sockets on the port: one for peers, one for cookie replies */
	setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof(on));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

/* Options into km (and the schedule). -1 to go on, else the exit status. */
static int parse_args(struct km *km, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"ifname", 1, 0, 'i'},	  {"config", 1, 0, 'c'},
	    {"foreground", 0, 0, 'f'},	  {"help", 0, 0, 'h'},
	    {"rekey-after", 1, 0, 'r'},	  {"reject-after", 1, 0, 'R'},
	    {"rekey-attempt", 1, 0, 'a'}, {0, 0, 0, 0}};
	int c;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'i':
			km->ifname = optarg;
			break;
		case 'c':
			km->conf_path = optarg;
			break;
		case 'f':
			foreground = 1;
			break;
		case 'r':
		case 'R':
		case 'a': {
			char *end;
			unsigned long v = strtoul(optarg, &end, 10);

			if (*end || !v || v > 3600) {
				fprintf(stderr, "bpftun-keymgmt: --%s '%s': want 1..3600 seconds\n",
					c == 'r'   ? "rekey-after"
					: c == 'R' ? "reject-after"
						   : "rekey-attempt",
					optarg);
				return 2;
			}
			if (c == 'r')
				REKEY_AFTER_NS = v * 1000000000ULL;
			else if (c == 'R')
				REJECT_AFTER_NS = v * 1000000000ULL;
			else
				REKEY_ATTEMPT_NS = v * 1000000000ULL;
			break;
		}
		case 'h':
			printf(
			    "usage: bpftun-keymgmt --ifname IFNAME --config FILE [--foreground]\n"
			    "                      [--rekey-after S] [--reject-after S]\n"
			    "                      [--rekey-attempt S]\n"
			    "Key management for a tunnel that `bpftun up` created. SIGUSR1 "
			    "rekeys,\n"
			    "SIGTERM exits leaving the keys in place (they expire after 180 s).\n"
			    "--rekey-after/--reject-after (default 120/180) shorten the schedule,\n"
			    "for tests and for operators who want shorter-lived keys.\n"
			    "--rekey-attempt (default 90; Protocol = wireguard only): stop\n"
			    "initiating after this long without an answer, until data waits.\n");
			return 0;
		default:
			return 2;
		}
	}
	if (!km->ifname || !km->conf_path) {
		fprintf(stderr,
			"usage: bpftun-keymgmt --ifname IFNAME --config FILE [--foreground]\n");
		return 2;
	}
	return -1;
}

/* The two sockets on the tunnel's port. 0 or -errno (logged). */
static int open_sockets(struct km *km)
{
	int err;

	struct bpftun_iface ifc;

	/* FwMark as `up` chose it (a full tunnel's table when none was set) */
	if (!dp_get_iface(km->dp, &ifc))
		nl_route_mark = ifc.fwmark;
	km->sock = open_socket(km->cfg.listen_port, nl_route_mark);
	km->sock_cookie = km->sock < 0 ? -1 : open_socket(km->cfg.listen_port, nl_route_mark);
	if (km->sock_cookie >= 0) {
		/* Room for one reply to each of the neighbours the kernel lets
		 * wait for resolution at once (gc_thresh3, 1024 by default);
		 * best effort (needs CAP_NET_ADMIN beyond wmem_max). */
		int sz = 4 << 20;

		setsockopt(km->sock_cookie, SOL_SOCKET, SO_SNDBUFFORCE, &sz, sizeof(sz));
	}
	if (km->sock < 0 || km->sock_cookie < 0) {
		err = km->sock < 0 ? km->sock : km->sock_cookie;
		pr_err("port %u: %s", km->cfg.listen_port, strerror(-err));
		return err;
	}
	return 0;
}

/* The running tunnel's datapath, the handshake state, the peers resumed
 * from the maps, the sockets and the signals. 0 or -errno (logged). */
static int setup(struct km *km)
{
	sigset_t mask;
	int hidden, err;

	/* The handshake device keeps its own (mlocked) copy of the private key;
	 * this one is only needed to create it. */
	hidden = nl_link_index(km->ifname);
	hidden = hidden > 0 ? nl_veth_peer_ifindex(hidden) : hidden;
	err = hidden > 0 ? dp_find(&km->dp, hidden) : -ENODEV;
	if (err) {
		pr_err("interface '%s': no bpftun datapath found: %s", km->ifname, strerror(-err));
		return err;
	}
	km->suite = km->cfg.protocol == BT_PROTO_WIREGUARD ? &km_suite_wireguard : &km_suite_bpftun;
	err = hs_device_new_suite(&km->hs, km->cfg.private_key, km->suite->hs);
	sodium_memzero(km->cfg.private_key, sizeof(km->cfg.private_key));
	/* a peer configured with the other Protocol is named as such */
	if (!err)
		err = hs_set_other_suite(km->hs, km->suite == &km_suite_wireguard
						     ? &hs_suite_bpftun
						     : &hs_suite_wireguard);
	if (err) {
		pr_err("handshake state: %s", strerror(-err));
		return err;
	}
	{
		/* the tunnel's own key and port, from the running datapath */
		struct bpftun_iface ifc;
		uint8_t pub[32];

		hs_device_public_key(km->hs, pub);
		if (dp_get_iface(km->dp, &ifc) || memcmp(pub, ifc.public_key, 32)) {
			pr_err("interface '%s': %s's PrivateKey is not the running tunnel's",
			       km->ifname, km->conf_path);
			return -ESTALE;
		}
		if (!km->cfg.listen_port) /* ListenPort absent: the one `up` chose */
			km->cfg.listen_port = ifc.listen_port;
	}
	err = resume(km);
	if (err) {
		pr_err("interface '%s': peers do not match the running tunnel (%s)", km->ifname,
		       strerror(-err));
		return err;
	}
	err = open_sockets(km);
	err = err ?: km_ctl_open(km); /* live peer changes (control.c) */
	if (err)
		return err;
	sigemptyset(&mask);
	sigaddset(&mask, SIGUSR1);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	km->sigfd = signalfd(-1, &mask, SFD_CLOEXEC);
	return 0;
}

/* SIGUSR1: rekey every peer now; SIGHUP: ignored; others: stop. */
static void on_signal(struct km *km)
{
	struct signalfd_siginfo si;

	if (read(km->sigfd, &si, sizeof(si)) != sizeof(si))
		return;
	if (si.ssi_signo == SIGUSR1) {
		pr_info("rekey requested");
		for (int i = 0; i < km->nids; i++) {
			km->peers[i].force = 1;
			km->peers[i].awaiting = 0;
			km->peers[i].retry_ns = 0;
		}
	} else if (si.ssi_signo != SIGHUP) {
		km->stop = 1;
	}
}

/* The event loop: signals, then up to RX_BATCH messages from each socket,
 * then the tick (timers.c), until stopped. */
static void run(struct km *km)
{
	log_limit_init(&km->evlog, LOG_WINDOW_NS, LOG_VERBATIM, EV_N, ev_what);
	while (!km->stop) {
		struct pollfd pfd[4] = {{km->sock, POLLIN, 0},
					{km->sock_cookie, POLLIN, 0},
					{km->sigfd, POLLIN, 0},
					{km->ctl, POLLIN, 0}};

		if (poll(pfd, 4, TICK_MS) < 0 && errno != EINTR)
			break;
		if (pfd[2].revents & POLLIN)
			on_signal(km);
		if (pfd[3].revents & POLLIN)
			km_live(km);
		/* A full batch with more still queued is a deep queue: load, as
		 * WireGuard measures it, whatever the sources. */
		for (int k = 0; k < 2; k++) {
			int i;

			if (!(pfd[k].revents & POLLIN))
				continue;
			for (i = 0; i < RX_BATCH; i++) {
				struct pollfd p1 = {pfd[k].fd, POLLIN, 0};

				receive(km, pfd[k].fd);
				if (poll(&p1, 1, 0) <= 0)
					break;
			}
			if (i == RX_BATCH)
				hs_note_backlog(km->hs);
		}
		tick(km);
	}
}

int main(int argc, char **argv)
{
	struct km *km;
	struct config_error e;
	struct bpftun_iface ifc;
	int err, npeers = 0;

	log_init("bpftun-keymgmt", BT_LOG_TIME);
	log_libbpf_hook();
	km = calloc(1, sizeof(*km));
	if (!km || sodium_init() < 0)
		return 1;
	km->sock = km->sock_cookie = km->ctl = -1;
	err = parse_args(km, argc, argv);
	if (err >= 0) {
		free(km);
		return err;
	}
	err = bt_config_parse_file(km->conf_path, &km->cfg, &e);
	if (!err)
		err = bt_config_keyring_load(&km->cfg, km->conf_path, &e);
	if (err) {
		fprintf(stderr, "%s\n", e.msg);
		bt_config_free(&km->cfg);
		free(km);
		return 1;
	}
	err = setup(km);
	if (err)
		goto out;
	/* ready: `up` waits for this pid to appear */
	if (!dp_get_iface(km->dp, &ifc)) {
		ifc.keymgmt_pid = (uint32_t)getpid();
		dp_set_iface(km->dp, &ifc);
	}
	for (int i = 0; i < km->nids; i++)
		npeers += km->peers[i].present;
	pr_info("interface '%s': listening on port %u, %d peer%s, protocol %s", km->ifname,
		km->cfg.listen_port, npeers, npeers == 1 ? "" : "s", km->suite->name);
	run(km);
	pr_info("exiting; keys stay installed until they expire");
	if (!dp_get_iface(km->dp, &ifc) && ifc.keymgmt_pid == (uint32_t)getpid()) {
		ifc.keymgmt_pid = 0;
		dp_set_iface(km->dp, &ifc);
	}
	err = 0;
out:
	km_ctl_close(km);
	hs_device_free(km->hs);
	dp_destroy(km->dp);
	bt_config_free(&km->cfg);
	if (km->sock >= 0)
		close(km->sock);
	if (km->sock_cookie >= 0)
		close(km->sock_cookie);
	free(km);
	return err ? 1 : 0;
}
