// SPDX-License-Identifier: GPL-2.0
/*
 * underlay.c - the devices a tunnel's outer packets use (underlay.h): tc_open
 * and the clsact qdisc on them (attach, detach, hand-over, the sweep of
 * filters whose tunnel is gone), finding a tunnel from its device, and the
 * route -> endpoint resolution. Called by `bpftun` (up.c) and by
 * bpftun-keymgmt (keymgmt.c, timers.c).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/ethtool.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_link.h>
#include <sodium.h>

#include "log.h"
#include "underlay.h"

/* ------------------------------------------------------------ tc filters */

int tc_ingress_attach(int ifindex, int prog_fd, uint32_t handle)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = BPF_TC_INGRESS);
	LIBBPF_OPTS(bpf_tc_opts, opts, .prog_fd = prog_fd, .handle = handle,
		    .priority = BPFTUN_TC_PRIO);

	return bpf_tc_attach(&hook, &opts);
}

int tc_ingress_detach(int ifindex, uint32_t handle)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = BPF_TC_INGRESS);
	LIBBPF_OPTS(bpf_tc_opts, opts, .handle = handle, .priority = BPFTUN_TC_PRIO);

	return bpf_tc_detach(&hook, &opts);
}

/* ------------------------------------------------------- finding tunnels */

/* The driver name of a device (ETHTOOL_GDRVINFO): a silent "is it veth?". */
static int is_veth(const char *name)
{
	struct ethtool_drvinfo info = {.cmd = ETHTOOL_GDRVINFO};
	struct ifreq ifr = {0};
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), ok;

	if (fd < 0)
		return 0;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	ifr.ifr_data = (void *)&info;
	ok = !ioctl(fd, SIOCETHTOOL, &ifr) && !strcmp(info.driver, "veth");
	close(fd);
	return ok;
}

/* 1 if hidden runs bpftun's tc_seal: the filter bpftun attaches there, its
 * program called tc_seal, with a one-entry map called iface of our layout.
 * -EPERM/-EACCES if there is a filter but we may not read its program. */
static int seal_has_iface(int hidden)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = hidden, .attach_point = BPF_TC_INGRESS);
	LIBBPF_OPTS(bpf_tc_opts, opts, .handle = BPFTUN_TC_HANDLE, .priority = BPFTUN_TC_PRIO);
	struct bpf_prog_info info = {0};
	uint32_t ids[BPFTUN_MAX_MAPS], len = sizeof(info);
	int pfd, ok = 0;

	if (bpf_tc_query(&hook, &opts))
		return 0;
	pfd = bpf_prog_get_fd_by_id(opts.prog_id);
	if (pfd < 0)
		return errno == EPERM || errno == EACCES ? -errno : 0;
	info.nr_map_ids = BPFTUN_MAX_MAPS;
	info.map_ids = (uint64_t)(unsigned long)ids;
	if (!bpf_obj_get_info_by_fd(pfd, &info, &len) && !strcmp(info.name, "tc_seal")) {
		for (uint32_t i = 0; i < info.nr_map_ids && i < BPFTUN_MAX_MAPS && !ok; i++) {
			struct bpf_map_info mi = {0};
			uint32_t ml = sizeof(mi);
			int fd = bpf_map_get_fd_by_id(ids[i]);

			if (fd < 0)
				continue;
			ok = !bpf_obj_get_info_by_fd(fd, &mi, &ml) && !strcmp(mi.name, "iface") &&
			     mi.value_size == sizeof(struct bpftun_iface) && mi.max_entries == 1;
			close(fd);
		}
	}
	close(pfd);
	return ok;
}

int tunnel_hidden_ifindex(const char *name)
{
	int ifindex = nl_link_index(name), hidden, ours;

	if (ifindex <= 0)
		return -ENODEV;
	if (!is_veth(name))
		return -ENOENT;
	hidden = nl_veth_peer_ifindex(ifindex);
	if (hidden <= 0)
		return -ENOENT;
	/* ours only if the hidden end runs our tc_seal with its iface map (a
	 * query, not dp_find: loading programs to answer costs ~0.3 s) */
	ours = seal_has_iface(hidden);
	if (ours <= 0)
		return ours < 0 ? ours : -ENOENT;
	return hidden;
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
	if (nl_clsact_exists(dev) != 1)
		return; /* recorded as ours, but `up` was stopped before adding it */
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

/* ------------------------------------------------------- software RSS */

static int steer_orphan(int dev, uint16_t *port);

int underlay_steer_check(int dev, char *why, size_t whylen)
{
	LIBBPF_OPTS(bpf_xdp_query_opts, q);
	char name[IF_NAMESIZE] = "?", gro[64];
	int err;

	if (!if_indextoname((unsigned int)dev, name))
		return -ENODEV;
	err = bpf_xdp_query(dev, 0, &q);
	if (err) {
		snprintf(why, whylen, "'%s': reading its XDP program: %s", name, strerror(-err));
		return err;
	}
	if (q.attach_mode != XDP_ATTACHED_NONE) {
		uint16_t port;

		if (steer_orphan(dev, &port)) {
			snprintf(
			    why, whylen,
			    "'%s' has the xdp_steer of a tunnel that is gone (port %u): remove "
			    "it with bpftun cleanup",
			    name, port);
			return -EBUSY;
		}
		snprintf(why, whylen,
			 "'%s' already has an XDP program (id %u); Steering = on needs the "
			 "device's XDP hook",
			 name, q.prog_id ?: q.drv_prog_id ?: q.skb_prog_id);
		return -EBUSY;
	}
	err = steer_gro_check(name, 0, gro, sizeof(gro));
	if (err == -EBUSY) {
		snprintf(why, whylen,
			 "'%s': %s: the cpumap would merge data messages, which tc_open drops "
			 "(turn it off with ethtool -K %s, or Steering = off)",
			 name, gro, name);
		return err;
	}
	if (err && err != -EOPNOTSUPP) {
		snprintf(why, whylen, "'%s': reading GRO features: %s", name, strerror(-err));
		return err;
	}
	return 0;
}

/* dev's xdp_steer (native mode): its steer_cfg into c (the fallback-hash key
 * zeroed) and, if stats is not NULL, its counters. -ENOENT if dev has no
 * xdp_steer. */
static int steer_cfg_of(int dev, struct bpftun_steer_cfg *c, struct bpftun_steer_stats *stats)
{
	struct bpf_prog_info info = {0};
	uint32_t ids[8], len = sizeof(info), id = 0, zero = 0;
	int pfd, cfd = -1, sfd = -1, err = -ENOENT;

	if (bpf_xdp_query_id(dev, XDP_FLAGS_DRV_MODE, &id) || !id)
		return -ENOENT;
	pfd = bpf_prog_get_fd_by_id(id);
	if (pfd < 0)
		return -ENOENT;
	info.nr_map_ids = 8;
	info.map_ids = (uint64_t)(unsigned long)ids;
	if (bpf_obj_get_info_by_fd(pfd, &info, &len) || strcmp(info.name, "xdp_steer"))
		goto out;
	for (uint32_t i = 0; i < info.nr_map_ids && i < 8; i++) {
		struct bpf_map_info mi = {0};
		uint32_t ml = sizeof(mi);
		int fd = bpf_map_get_fd_by_id(ids[i]);

		if (fd < 0)
			continue;
		if (!bpf_obj_get_info_by_fd(fd, &mi, &ml) && !strcmp(mi.name, "steer_cfg") &&
		    cfd < 0)
			cfd = fd;
		else if (!strcmp(mi.name, "steer_stats") && sfd < 0)
			sfd = fd;
		else
			close(fd);
	}
	if (cfd >= 0 && !bpf_map_lookup_elem(cfd, &zero, c)) {
		sodium_memzero(c->key, sizeof(c->key)); /* its fallback-hash key */
		err = 0;
	}
	if (!err && stats)
		err = sfd >= 0 ? steer_read_stats(sfd, stats) : -ENOENT;
out:
	if (cfd >= 0)
		close(cfd);
	if (sfd >= 0)
		close(sfd);
	close(pfd);
	return err;
}

int underlay_steer_find(int dev, uint16_t port, struct bpftun_steer_stats *stats)
{
	struct bpftun_steer_cfg c;
	int err = steer_cfg_of(dev, &c, stats);

	if (!err && c.listen_port != htons(port))
		err = -ENOENT;
	return err;
}

/* xdp_steer on ifc->underlays[i] (ifc->steering). */
static int steer_on(const struct bpftun_iface *ifc, uint32_t i)
{
	uint32_t cpus[BPFTUN_STEER_MAX_CPUS];
	struct steer_opts o = {.listen_port = ifc->listen_port, .tunnel = 1};
	char name[IF_NAMESIZE] = "?", why[256];
	int err, dev = (int)ifc->underlays[i];

	if (!if_indextoname((unsigned int)dev, name))
		return -ENODEV;
	o.ifname = name;
	for (uint32_t c = 0; c < 32; c++)
		if (ifc->steer_cpus & (1U << c))
			cpus[o.ncpus++] = c;
	o.cpus = o.ncpus ? cpus : NULL;
	err = underlay_steer_check(dev, why, sizeof(why));
	if (!err)
		err = steer_attach(&o, why, sizeof(why));
	if (err)
		pr_err("underlay '%s': Steering = on: %s", name, why);
	return err;
}

/* ----------------------------------------------------- attach and detach */

int underlay_attach(struct datapath *dp, struct bpftun_iface *ifc, uint32_t i,
		    void (*step)(const char *what), int strict)
{
	int created = 0, dev = (int)ifc->underlays[i], had, err;
	char name[IF_NAMESIZE] = "?";

	if_indextoname((unsigned int)dev, name);
	had = nl_clsact_exists(dev);
	if (had < 0)
		return had;
	if (!had) {
		ifc->clsact_created |= 1U << i;
		err = dp_set_iface(dp, ifc);
		if (err)
			return err;
		if (step)
			step("underlay: clsact recorded as ours");
	}
	err = nl_clsact_ensure(dev, &created);
	if (!err && !created && !had) {
		ifc->clsact_created &= ~(1U << i); /* someone else was quicker */
		err = dp_set_iface(dp, ifc);
	}
	if (!err && created && step)
		step("underlay: clsact added");
	err = err ?: tc_ingress_attach(dev, dp_open_fd(dp), ifc->tun_ifindex);
	if (err) {
		pr_err("underlay '%s': attaching tc_open: %s", name, strerror(-err));
		return err;
	}
	if (step)
		step("underlay: tc_open attached");
	if (ifc->steering) {
		err = steer_on(ifc, i);
		if (err && strict)
			return err;
		if (!err && step)
			step("underlay: xdp_steer attached");
	}
	return 0;
}

int underlay_listen(struct datapath *dp, int ifindex)
{
	struct bpftun_iface ifc, before;
	int slot, added = 0, err;

	err = dp_get_iface(dp, &ifc);
	if (err)
		return err;
	before = ifc;
	/* the slot of a device that is gone is reused (bpf/datapath.h) */
	slot = dp_underlay_slot(&ifc, (uint32_t)ifindex, &added);
	if (slot < 0 || !added)
		return slot < 0 ? slot : 0;
	err = underlay_attach(dp, &ifc, (uint32_t)slot, NULL, 0);
	if (err) {
		if (ifc.clsact_created & (1U << slot))
			release_clsact(ifindex);
		dp_set_iface(dp, &before);
	}
	return err;
}

void underlay_detach_all(const struct bpftun_iface *ifc)
{
	for (uint32_t i = 0; i < ifc->nunderlays && i < BPFTUN_MAX_UNDERLAYS; i++) {
		char name[IF_NAMESIZE];

		/* only this tunnel's xdp_steer (its port), whatever the setting
		 * says now: an `up` stopped half way may have attached it */
		if (!underlay_steer_find((int)ifc->underlays[i], ifc->listen_port, NULL) &&
		    if_indextoname(ifc->underlays[i], name))
			steer_detach(name);
		tc_ingress_detach((int)ifc->underlays[i], ifc->tun_ifindex);
		if (ifc->clsact_created & (1U << i))
			release_clsact((int)ifc->underlays[i]);
	}
}

/* --------------------------------------------- orphaned tc_open filters */

/* The id of the map called `map` among a program's maps, 0 if none; the
 * program's name into name (16 bytes) if name is not NULL. */
static uint32_t prog_map_id(int prog_fd, const char *map, char *name)
{
	struct bpf_prog_info info = {0};
	uint32_t ids[BPFTUN_MAX_MAPS], len = sizeof(info), id = 0;

	info.nr_map_ids = BPFTUN_MAX_MAPS;
	info.map_ids = (uint64_t)(unsigned long)ids;
	if (bpf_obj_get_info_by_fd(prog_fd, &info, &len))
		return 0;
	if (name)
		snprintf(name, 16, "%s", info.name);
	for (uint32_t i = 0; i < info.nr_map_ids && i < BPFTUN_MAX_MAPS && !id; i++) {
		struct bpf_map_info mi = {0};
		uint32_t ml = sizeof(mi);
		int fd = bpf_map_get_fd_by_id(ids[i]);

		if (fd < 0)
			continue;
		if (!bpf_obj_get_info_by_fd(fd, &mi, &ml) && !strcmp(mi.name, map))
			id = mi.id;
		close(fd);
	}
	return id;
}

/* The id of the `peers` map of the bpftun program attached with handle on
 * dev's TC ingress, 0 if none; its name into name (16 bytes). */
static uint32_t filter_peers_id(int dev, uint32_t handle, char *name)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = dev, .attach_point = BPF_TC_INGRESS);
	LIBBPF_OPTS(bpf_tc_opts, opts, .handle = handle, .priority = BPFTUN_TC_PRIO);
	uint32_t id;
	int pfd;

	if (dev <= 0 || bpf_tc_query(&hook, &opts))
		return 0;
	pfd = bpf_prog_get_fd_by_id(opts.prog_id);
	if (pfd < 0)
		return 0;
	id = prog_map_id(pfd, "peers", name);
	close(pfd);
	return id;
}

/* The tunnel of bpftun's tc_open filter `handle` on dev: its hidden end (>
 * 0) if the tunnel is alive (the device of that index is a tunnel whose
 * tc_seal shares the filter's `peers` map), 0 if it is gone, -ENOENT if the
 * filter is not a tc_open of bpftun. */
static int filter_tunnel(int dev, uint32_t handle)
{
	char pname[16] = "", tname[IF_NAMESIZE];
	uint32_t peers = filter_peers_id(dev, handle, pname);
	int hidden;

	if (!peers || strcmp(pname, "tc_open"))
		return -ENOENT;
	hidden = if_indextoname(handle, tname) ? nl_veth_peer_ifindex((int)handle) : -ENODEV;
	if (hidden > 0 && filter_peers_id(hidden, BPFTUN_TC_HANDLE, NULL) == peers)
		return hidden;
	return 0;
}

/* The iface map of the live tunnel whose hidden end is `hidden` (read from
 * its tc_seal's maps, nothing loaded). 0 or -errno. */
static int tunnel_iface(int hidden, struct bpftun_iface *ifc)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = hidden, .attach_point = BPF_TC_INGRESS);
	LIBBPF_OPTS(bpf_tc_opts, opts, .handle = BPFTUN_TC_HANDLE, .priority = BPFTUN_TC_PRIO);
	uint32_t id, zero = 0;
	int pfd, fd, err;

	if (bpf_tc_query(&hook, &opts))
		return -ENOENT;
	pfd = bpf_prog_get_fd_by_id(opts.prog_id);
	if (pfd < 0)
		return -errno;
	id = prog_map_id(pfd, "iface", NULL);
	close(pfd);
	fd = id ? bpf_map_get_fd_by_id(id) : -1;
	if (fd < 0)
		return -ENOENT;
	err = bpf_map_lookup_elem(fd, &zero, ifc) ? -errno : 0;
	close(fd);
	return err;
}

/* 1 if dev's xdp_steer was attached by a tunnel (BPFTUN_STEER_F_TUNNEL) and
 * no live tunnel's tc_open on dev listens on its port: the tunnel that
 * attached it is gone (ip link del, a key manager killed, an `up` killed
 * half way) and nobody else will detach it. Its port into *port. */
static int steer_orphan(int dev, uint16_t *port)
{
	struct bpftun_steer_cfg c;
	uint32_t handles[64];
	int n;

	if (steer_cfg_of(dev, &c, NULL) || !(c.flags & BPFTUN_STEER_F_TUNNEL))
		return 0;
	*port = ntohs(c.listen_port);
	n = nl_clsact_filters(dev, handles, 64);
	for (int k = 0; k < n && k < 64; k++) {
		struct bpftun_iface ifc;
		int hidden = filter_tunnel(dev, handles[k]);

		if (hidden > 0 && !tunnel_iface(hidden, &ifc) && ifc.listen_port == *port)
			return 0;
	}
	return 1;
}

/*
 * A tc_open of bpftun on some device of this namespace whose tunnel is gone:
 * its program is called tc_open, its filter handle is its tunnel device's
 * ifindex, and that device is gone, or is no longer a tunnel whose tc_seal
 * (on the hidden end) shares the tc_open's `peers` map (deleted, or another
 * device under the same index). Such a filter keeps the dead tunnel's maps
 * and cipher contexts alive and takes the tunnel port's packets. Each one is
 * detached unless dry, and the clsact qdisc it leaves without any filter is
 * removed: the record of who added it (the iface map) went with the
 * tunnel's tc_seal. Returns how many were found; names them with -v or when
 * dry.
 */
int underlay_sweep_orphans(int dry)
{
	struct if_nameindex *ifs = if_nameindex(), *i;
	int found = 0;

	if (!ifs)
		return 0;
	for (i = ifs; i->if_index; i++) {
		int dev = (int)i->if_index, n, removed = 0;
		uint32_t handles[64];

		n = nl_clsact_filters(dev, handles, 64);
		for (int k = 0; k < n && k < 64; k++) {
			if (filter_tunnel(dev, handles[k]) != 0)
				continue; /* not a tc_open of bpftun, or its tunnel is alive */
			found++;
			if (dry || log_verbose)
				pr_info(
				    "%s '%s': tc_open of a tunnel that is gone (device index %u)",
				    dry ? "underlay" : "removing from", i->if_name, handles[k]);
			if (dry)
				continue;
			tc_ingress_detach(dev, handles[k]);
			removed = 1;
		}
		if (removed && nl_clsact_filters(dev, NULL, 0) == 0)
			nl_clsact_del(dev);
	}
	if_freenameindex(ifs);
	return found;
}

int underlay_sweep_steer_orphans(int dry)
{
	struct if_nameindex *ifs = if_nameindex(), *i;
	int found = 0;

	if (!ifs)
		return 0;
	for (i = ifs; i->if_index; i++) {
		uint16_t port = 0;

		if (!steer_orphan((int)i->if_index, &port))
			continue;
		found++;
		if (dry || log_verbose)
			pr_info("%s '%s': xdp_steer of a tunnel that is gone (port %u)",
				dry ? "underlay" : "removing from", i->if_name, port);
		if (!dry)
			steer_detach(i->if_name);
	}
	if_freenameindex(ifs);
	return found;
}

/* ------------------------------------------------------------- endpoints */

void underlay_endpoint(const struct nl_route_info *r, int family, const void *addr, uint16_t port,
		       struct bpftun_endpoint *ep)
{
	size_t alen = family == AF_INET6 ? 16 : 4;

	ep->flags = BPFTUN_EP_FIB | (family == AF_INET6 ? BPFTUN_EP_V6 : 0);
	ep->ifindex = (uint32_t)r->oif;
	memset(ep->saddr, 0, sizeof(ep->saddr));
	memcpy(ep->saddr, r->prefsrc, alen);
	memset(ep->daddr, 0, sizeof(ep->daddr));
	memcpy(ep->daddr, addr, alen);
	ep->dport = htons(port);
	/* With BPFTUN_EP_FIB the kernel resolves the next hop
	 * (bpf_redirect_neigh); the MACs are recorded for show and for a
	 * static-MAC endpoint, not used on this path. */
	nl_link_mac(r->oif, ep->smac);
	memset(ep->dmac, 0, sizeof(ep->dmac));
	nl_neigh_lookup(r->oif, family, r->has_gateway ? r->gateway : addr, ep->dmac);
}

int underlay_resolve(int family, const void *addr, uint16_t port, struct bpftun_endpoint *ep,
		     int *oif)
{
	struct nl_route_info r;
	int err = nl_route_get(family, addr, &r);

	if (err)
		return err;
	underlay_endpoint(&r, family, addr, port, ep);
	if (oif)
		*oif = r.oif;
	return 0;
}
