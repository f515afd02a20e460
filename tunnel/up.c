// SPDX-License-Identifier: GPL-2.0
/*
 * up.c - `bpftun up CONFIG` and `bpftun down IFNAME`.
 *
 * up: everything that can be checked is checked before the host changes
 * (config, keys, names, routes to endpoints, the port). Then the tunnel is
 * built step by step, and any failure undoes every step already taken.
 * down: the same steps backwards, for a tunnel found from its device alone,
 * so it works from any process in the namespace and after a failed up.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <net/if.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/mount.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <bpf/libbpf.h>
#include <sodium.h>

#include "bpftun.h"
#include "config.h"
#include "dp.h"
#include "netlink.h"

#define BPF_FS_MAGIC_ 0xcafe4a11
#define PIN_ROOT "/sys/fs/bpf/bpftun"

struct up_state {
	const char *conf_path;
	struct bt_config cfg;
	uint8_t public_key[32];
	struct nl_tunnel tun;
	int tun_created;
	struct datapath *dp;
	struct bpftun_iface ifc;
	int seal_attached;
	int open_attached[BPFTUN_MAX_UNDERLAYS];
	char pin_dir[128];
	pid_t keymgmt;
	/* per peer: resolved underlay */
	struct nl_route_info route[BT_MAX_PEERS];
};

static int bpffs_mounted(void)
{
	struct statfs st;

	return !statfs("/sys/fs/bpf", &st) && (unsigned long)st.f_type == BPF_FS_MAGIC_;
}

/* Pins are plain files in one directory (bpf_object__pin_maps). */
static void remove_pins(const char *ifname)
{
	char dir[128], path[400];
	struct dirent *d;
	DIR *dh;

	if (!bpffs_mounted())
		return;
	snprintf(dir, sizeof(dir), "%s/%s", PIN_ROOT, ifname);
	dh = opendir(dir);
	if (!dh)
		return;
	while ((d = readdir(dh))) {
		if (d->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, d->d_name);
		if (unlink(path))
			pr_debug("unlink %s: %s", path, strerror(errno));
	}
	closedir(dh);
	if (rmdir(dir))
		pr_debug("rmdir %s: %s", dir, strerror(errno));
	rmdir(PIN_ROOT); /* fails while other tunnels have pins: fine */
}

static int tc_attach(int ifindex, int prog_fd, uint32_t handle)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = BPF_TC_INGRESS);
	LIBBPF_OPTS(bpf_tc_opts, opts, .prog_fd = prog_fd, .handle = handle,
		    .priority = BPFTUN_TC_PRIO);

	return bpf_tc_attach(&hook, &opts);
}

static int tc_detach(int ifindex, uint32_t handle)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = BPF_TC_INGRESS);
	LIBBPF_OPTS(bpf_tc_opts, opts, .handle = handle, .priority = BPFTUN_TC_PRIO);

	return bpf_tc_detach(&hook, &opts);
}

/* Stop a key manager: SIGTERM, then SIGKILL after 3 s. */
static void stop_pid(pid_t pid)
{
	struct timespec ts = {0, 20 * 1000 * 1000};

	if (pid <= 0 || kill(pid, SIGTERM))
		return;
	for (int i = 0; i < 150; i++) {
		if (waitpid(pid, NULL, WNOHANG) == pid || kill(pid, 0))
			return;
		nanosleep(&ts, NULL);
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

/* Our tc_open is gone from dev. Remove the clsact qdisc bpftun added there
 * unless other filters still use it; then pass the "bpftun added it" mark to
 * another bpftun tunnel listening on dev, which removes it when it goes. */
static void release_clsact(int dev)
{
	uint32_t handles[32];
	char devname[IF_NAMESIZE];
	int n;

	if (!if_indextoname((unsigned int)dev, devname))
		return; /* the underlay is gone, and its qdisc with it */
	n = nl_clsact_filters(dev, handles, 32);
	if (n == 0) {
		nl_clsact_del(dev);
		return;
	}
	for (int i = 0; i < n && i < 32; i++) {
		char name[IF_NAMESIZE];
		struct datapath *dp = NULL;
		struct bpftun_iface ifc;
		int hidden;

		if (!if_indextoname(handles[i], name))
			continue; /* a tc_open filter's handle is its tunnel's ifindex */
		hidden = tunnel_hidden_ifindex(name);
		if (hidden < 0 || dp_find(&dp, hidden))
			continue;
		if (!dp_get_iface(dp, &ifc)) {
			for (uint32_t j = 0; j < ifc.nunderlays && j < BPFTUN_MAX_UNDERLAYS; j++) {
				if (ifc.underlays[j] != (uint32_t)dev)
					continue;
				ifc.clsact_created |= 1U << j;
				dp_set_iface(dp, &ifc);
				pr_debug("clsact on ifindex %d now belongs to '%s'", dev, name);
				break;
			}
		}
		dp_destroy(dp);
		return;
	}
}

/* Undo whatever `up` did so far, newest first. */
static void rollback(struct up_state *s)
{
	if (s->keymgmt > 0)
		stop_pid(s->keymgmt);
	for (uint32_t i = 0; i < s->ifc.nunderlays; i++) {
		if (s->open_attached[i])
			tc_detach((int)s->ifc.underlays[i], s->ifc.tun_ifindex);
		if (s->ifc.clsact_created & (1U << i))
			release_clsact((int)s->ifc.underlays[i]);
	}
	if (s->pin_dir[0])
		remove_pins(s->cfg.ifname);
	dp_destroy(s->dp);
	s->dp = NULL;
	if (s->tun_created)
		nl_tunnel_delete(s->cfg.ifname);
}

/* The default route's device, for peers that have no endpoint yet. */
static int default_underlay(void)
{
	uint8_t any[16] = {0};
	struct nl_route_info r;

	if (!nl_route_get(AF_INET, any, &r))
		return r.oif;
	if (!nl_route_get(AF_INET6, any, &r))
		return r.oif;
	return -ENETUNREACH;
}

/* All checks that need the system but change nothing. */
static int preflight(struct up_state *s)
{
	struct bt_config *c = &s->cfg;
	struct config_error e;
	unsigned int mtu = 0;
	int fd, one = 1;
	struct sockaddr_in6 sa = {.sin6_family = AF_INET6, .sin6_port = htons(c->listen_port)};

	if (crypto_scalarmult_base(s->public_key, c->private_key)) {
		pr_err("%s: PrivateKey: not a usable X25519 key", s->conf_path);
		return -EINVAL;
	}
	for (int i = 0; i < c->npeers; i++) {
		if (!sodium_memcmp(c->peers[i].public_key, s->public_key, 32)) {
			config_error_set(&e, s->conf_path, c->peers[i].key_line, "PublicKey",
					 "is this interface's own public key");
			fprintf(stderr, "%s\n", e.msg);
			return -EINVAL;
		}
	}
	if (nl_link_index(c->ifname) > 0) {
		pr_err("interface '%s' already exists (bpftun down %s, or ip link del %s)", c->ifname,
		       c->ifname, c->ifname);
		return -EEXIST;
	}
	for (int i = 0; i < c->npeers; i++) {
		struct bt_peer *p = &c->peers[i];
		int err;
		unsigned int over;

		if (!p->have_endpoint)
			continue;
		err = nl_route_get(p->family, p->endpoint, &s->route[i]);
		if (err) {
			char ip[INET6_ADDRSTRLEN];

			inet_ntop(p->family, p->endpoint, ip, sizeof(ip));
			config_error_set(&e, s->conf_path, p->line, "Endpoint",
					 "'%s': no route to this address (%s)", ip, strerror(-err));
			fprintf(stderr, "%s\n", e.msg);
			return err;
		}
		over = p->family == AF_INET6 ? BPFTUN_OVERHEAD_V6 : BPFTUN_OVERHEAD_V4;
		{
			/* the route's MTU if it has one, else its device's */
			unsigned int path = s->route[i].route_mtu ?: s->route[i].mtu;

			if (path > over && (!mtu || path - over < mtu))
				mtu = path - over;
		}
	}
	if (!c->mtu)
		c->mtu = mtu ? (mtu > BPFTUN_MAX_INNER ? BPFTUN_MAX_INNER : mtu) : 1420;
	/* with no endpoint at all, tc_open listens on the default route's device */
	{
		int any = 0;

		for (int i = 0; i < c->npeers; i++)
			any |= c->peers[i].have_endpoint;
		if (!any && default_underlay() < 0) {
			pr_err("%s: no peer has an Endpoint and there is no default route to "
			       "listen on", s->conf_path);
			return -ENETUNREACH;
		}
	}
	/* The port must be free: the key manager binds it. */
	fd = socket(AF_INET6, SOCK_DGRAM, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &(int){0}, sizeof(int));
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		int err = -errno;

		close(fd);
		config_error_set(&e, s->conf_path, 0, "ListenPort", "%u: %s", c->listen_port,
				 strerror(-err));
		fprintf(stderr, "%s\n", e.msg);
		return err;
	}
	close(fd);
	return 0;
}

static int add_underlay(struct up_state *s, int ifindex)
{
	for (uint32_t i = 0; i < s->ifc.nunderlays; i++)
		if ((int)s->ifc.underlays[i] == ifindex)
			return 0;
	if (s->ifc.nunderlays >= BPFTUN_MAX_UNDERLAYS)
		return -E2BIG;
	s->ifc.underlays[s->ifc.nunderlays++] = (uint32_t)ifindex;
	return 0;
}

static int configure_peers(struct up_state *s)
{
	struct bt_config *c = &s->cfg;
	int err;

	for (int i = 0; i < c->npeers; i++) {
		struct bt_peer *p = &c->peers[i];
		struct bpftun_peer v = {0};

		v.present = 1;
		memcpy(v.public_key, p->public_key, 32);
		v.keepalive = p->keepalive;
		v.ep.sport = htons(c->listen_port);
		if (p->have_endpoint) {
			struct nl_route_info *r = &s->route[i];
			const void *hop = r->has_gateway ? r->gateway : p->endpoint;

			v.ep.flags = BPFTUN_EP_FIB | (p->family == AF_INET6 ? BPFTUN_EP_V6 : 0);
			v.ep.ifindex = (uint32_t)r->oif;
			memcpy(v.ep.saddr, r->prefsrc, 16);
			memcpy(v.ep.daddr, p->endpoint, 16);
			v.ep.dport = htons(p->port);
			/* With BPFTUN_EP_FIB the kernel resolves the next hop
			 * (bpf_redirect_neigh); the MACs are recorded for show
			 * and for a static-MAC endpoint, not used on this path. */
			nl_link_mac(r->oif, v.ep.smac);
			nl_neigh_lookup(r->oif, p->family, hop, v.ep.dmac);
			err = add_underlay(s, r->oif);
			if (err)
				return err;
		}
		err = dp_set_peer(s->dp, (uint32_t)i, &v);
		for (int a = 0; !err && a < p->nallowed; a++)
			err = dp_allow(s->dp, p->allowed[a].family == AF_INET6 ? 6 : 4,
				       p->allowed[a].addr, p->allowed[a].prefix, (uint32_t)i);
		if (err) {
			pr_err("peer %d: writing the datapath maps: %s", i + 1, strerror(-err));
			return err;
		}
	}
	if (!s->ifc.nunderlays) {
		int dev = default_underlay();

		if (dev < 0) {
			pr_err("no peer has an Endpoint and there is no default route to listen on");
			return dev;
		}
		add_underlay(s, dev);
	}
	return 0;
}

static int start_keymgmt(struct up_state *s)
{
	char exe[PATH_MAX + 32], dir[PATH_MAX], logp[PATH_MAX], conf[PATH_MAX];
	const char *env = getenv("BPFTUN_KEYMGMT");
	struct timespec ts = {0, 20 * 1000 * 1000};
	ssize_t n;
	pid_t pid;

	if (!realpath(s->conf_path, conf)) {
		pr_err("%s: %s", s->conf_path, strerror(errno));
		return -errno;
	}
	if (env) {
		snprintf(exe, sizeof(exe), "%s", env);
	} else {
		n = readlink("/proc/self/exe", dir, sizeof(dir) - 1);
		if (n < 0)
			return -errno;
		dir[n] = 0;
		*strrchr(dir, '/') = 0;
		snprintf(exe, sizeof(exe), "%s/bpftun-keymgmt", dir);
	}
	if (bt_run_path(logp, sizeof(logp), s->cfg.ifname, "log"))
		snprintf(logp, sizeof(logp), "/dev/null");
	pid = fork();
	if (pid < 0)
		return -errno;
	if (!pid) {
		int fd = open(logp, O_WRONLY | O_CREAT | O_APPEND, 0600);

		setsid();
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
			close(fd);
		}
		fd = open("/dev/null", O_RDONLY);
		if (fd >= 0)
			dup2(fd, 0);
		execl(exe, "bpftun-keymgmt", "--ifname", s->cfg.ifname, "--config", conf, (char *)NULL);
		fprintf(stderr, "bpftun: exec %s: %s\n", exe, strerror(errno));
		_exit(127);
	}
	s->keymgmt = pid;
	/* Ready when it has written its pid into the iface map (socket bound). */
	for (int i = 0; i < 250; i++) {
		struct bpftun_iface ifc;
		int st;

		if (waitpid(pid, &st, WNOHANG) == pid) {
			s->keymgmt = 0;
			pr_err("key manager %s exited at start (status %d); see %s", exe,
			       WIFEXITED(st) ? WEXITSTATUS(st) : -1, logp);
			return -ECHILD;
		}
		if (!dp_get_iface(s->dp, &ifc) && ifc.keymgmt_pid == (uint32_t)pid)
			return 0;
		nanosleep(&ts, NULL);
	}
	pr_err("key manager did not become ready within 5 s; see %s", logp);
	return -ETIMEDOUT;
}

static void usage_up(FILE *f)
{
	fprintf(f, "usage: bpftun up CONFIG\n"
		   "Creates the tunnel described by CONFIG (WireGuard INI format; bt0.conf makes\n"
		   "interface bt0), loads and attaches the datapath, starts the key manager in\n"
		   "the background and returns once the interface is up. A bad CONFIG is refused,\n"
		   "naming file, line and field, before anything on the host changes. See\n"
		   "bpftun.conf(5).\n");
}

int up_main(int argc, char **argv)
{
	struct up_state *s;
	struct config_error e;
	struct bpftun_config dcfg = {0};
	int err;

	if (argc != 2 || argv[1][0] == '-') {
		int help = argc == 2 && !strcmp(argv[1], "--help");

		usage_up(help ? stdout : stderr);
		return help ? 0 : 2;
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		return 1;
	s->conf_path = argv[1];
	err = bt_config_parse_file(argv[1], &s->cfg, &e);
	if (err) {
		fprintf(stderr, "%s\n", e.msg);
		free(s);
		return 1;
	}
	err = preflight(s);
	if (err)
		goto out;

	/* From here on the host changes; every failure rolls back. */
	err = nl_tunnel_create(s->cfg.ifname, s->cfg.mtu, &s->tun);
	if (err) {
		pr_err("interface '%s': creating the device: %s", s->cfg.ifname, strerror(-err));
		goto fail;
	}
	s->tun_created = 1;
	for (int i = 0; i < s->cfg.naddrs && !err; i++)
		err = nl_addr_add(s->tun.ifindex, s->cfg.addrs[i].family, s->cfg.addrs[i].addr,
				  s->cfg.addrs[i].prefix);
	if (err) {
		pr_err("interface '%s': adding addresses: %s", s->cfg.ifname, strerror(-err));
		goto fail;
	}
	for (int i = 0; i < s->cfg.npeers && !err; i++) {
		for (int a = 0; a < s->cfg.peers[i].nallowed && !err; a++) {
			struct bt_prefix *pf = &s->cfg.peers[i].allowed[a];
			char ip[INET6_ADDRSTRLEN];

			err = nl_route_add(s->tun.ifindex, pf->family, pf->addr, pf->prefix);
			if (!err)
				continue;
			inet_ntop(pf->family, pf->addr, ip, sizeof(ip));
			config_error_set(&e, s->conf_path, pf->line, "AllowedIPs",
					 "%s/%u: adding its route: %s%s", ip, pf->prefix,
					 strerror(-err),
					 err == -EEXIST ? " (another route for this prefix exists; "
							  "bpftun does not do wg-quick's policy "
							  "routing for default routes)"
							: "");
			fprintf(stderr, "%s\n", e.msg);
		}
	}
	if (err)
		goto fail;

	dcfg.tun_ifindex = (uint32_t)s->tun.ifindex;
	dcfg.listen_port = htons(s->cfg.listen_port);
	memcpy(dcfg.tun_mac, s->tun.mac, 6);
	err = dp_load(&s->dp, &dcfg);
	if (err) {
		pr_err("loading the datapath (verifier, run with -v for libbpf's log): %s",
		       strerror(-err));
		goto fail;
	}
	err = dp_get_iface(s->dp, &s->ifc); /* the map IDs dp_load recorded */
	if (err)
		goto fail;
	s->ifc.tun_ifindex = (uint32_t)s->tun.ifindex;
	s->ifc.hidden_ifindex = (uint32_t)s->tun.peer_ifindex;
	s->ifc.mtu = s->cfg.mtu;
	s->ifc.listen_port = s->cfg.listen_port;
	memcpy(s->ifc.public_key, s->public_key, 32);
	snprintf(s->ifc.cipher, sizeof(s->ifc.cipher), "%s", s->cfg.cipher);
	snprintf(s->ifc.algo, sizeof(s->ifc.algo), "%s", s->cfg.kernel_algo);
	err = configure_peers(s); /* adds the underlays to s->ifc */
	if (err)
		goto fail;

	/* Attach: the sealer first (it drops until keys exist), then openers. */
	err = nl_clsact_ensure(s->tun.peer_ifindex, &(int){0});
	err = err ?: tc_attach(s->tun.peer_ifindex, dp_seal_fd(s->dp), BPFTUN_TC_HANDLE);
	if (err) {
		pr_err("interface '%s': attaching tc_seal: %s", s->cfg.ifname, strerror(-err));
		goto fail;
	}
	for (uint32_t i = 0; i < s->ifc.nunderlays; i++) {
		int created = 0, dev = (int)s->ifc.underlays[i];
		char name[IF_NAMESIZE] = "?";

		if_indextoname((unsigned int)dev, name);
		err = nl_clsact_ensure(dev, &created);
		if (!err && created)
			s->ifc.clsact_created |= 1U << i;
		err = err ?: tc_attach(dev, dp_open_fd(s->dp), s->ifc.tun_ifindex);
		if (err) {
			pr_err("underlay '%s': attaching tc_open: %s", name, strerror(-err));
			goto fail;
		}
		s->open_attached[i] = 1;
	}
	err = dp_set_iface(s->dp, &s->ifc);
	if (err)
		goto fail;

	if (bpffs_mounted()) {
		snprintf(s->pin_dir, sizeof(s->pin_dir), "%s/%s", PIN_ROOT, s->cfg.ifname);
		mkdir(PIN_ROOT, 0700);
		if (dp_pin_maps(s->dp, s->pin_dir))
			pr_debug("pinning maps under %s failed; bpftool finds them by id", s->pin_dir);
	}

	err = start_keymgmt(s);
	if (err)
		goto fail;
	pr_info("interface '%s' is up: mtu %u, port %u, %d peer%s, cipher %s", s->cfg.ifname,
		s->cfg.mtu, s->cfg.listen_port, s->cfg.npeers, s->cfg.npeers == 1 ? "" : "s",
		s->cfg.cipher);
	goto out;
fail:
	rollback(s);
out:
	dp_destroy(s->dp);
	bt_config_free(&s->cfg);
	free(s);
	return err ? 1 : 0;
}

/* ------------------------------------------------------------------ down */

int down_main(int argc, char **argv)
{
	struct datapath *dp = NULL;
	struct bpftun_iface ifc;
	const char *name;
	int hidden, err;

	if (argc != 2 || argv[1][0] == '-') {
		int help = argc == 2 && !strcmp(argv[1], "--help");

		fprintf(help ? stdout : stderr,
			"usage: bpftun down IFNAME\n"
			"Removes the tunnel: stops its key manager, drops its keys, detaches its\n"
			"programs and the clsact qdiscs it added, deletes the device (and with it\n"
			"its routes and addresses) and its pins.\n");
		return help ? 0 : 2;
	}
	name = argv[1];
	hidden = tunnel_hidden_ifindex(name);
	if (hidden < 0) {
		pr_err("interface '%s': %s", name,
		       hidden == -ENODEV ? "no such device" : "not a bpftun tunnel");
		return 1;
	}
	err = dp_find(&dp, hidden);
	if (!err)
		err = dp_get_iface(dp, &ifc);
	if (err) {
		pr_err("interface '%s': reading the datapath: %s", name, strerror(-err));
		dp_destroy(dp);
		return 1;
	}
	/* 1. stop sealing, 2. stop the key manager, 3. drop every key now */
	ifc.disabled = 1;
	dp_set_iface(dp, &ifc);
	if (keymgmt_running(ifc.keymgmt_pid))
		stop_pid((pid_t)ifc.keymgmt_pid);
	for (uint32_t id = 0; id < BPFTUN_MAX_PEERS; id++) {
		struct bpftun_peer p;
		struct bpftun_sa_req req = {.op = BPFTUN_OP_DELETE_PEER, .peer_id = id};

		if (!dp_get_peer(dp, id, &p) && p.present)
			dp_sa_ctl(dp, &req);
	}
	/* 4. detach from underlays, remove the clsact qdiscs bpftun added */
	for (uint32_t i = 0; i < ifc.nunderlays && i < BPFTUN_MAX_UNDERLAYS; i++) {
		tc_detach((int)ifc.underlays[i], ifc.tun_ifindex);
		if (ifc.clsact_created & (1U << i))
			release_clsact((int)ifc.underlays[i]);
	}
	dp_destroy(dp);
	/* 5. the device: its veth peer, addresses and routes go with it */
	err = nl_tunnel_delete(name);
	if (err)
		pr_err("interface '%s': deleting the device: %s", name, strerror(-err));
	remove_pins(name);
	{
		char p[PATH_MAX];

		if (!bt_run_path(p, sizeof(p), name, "log"))
			unlink(p);
	}
	return err ? 1 : 0;
}
