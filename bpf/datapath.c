// SPDX-License-Identifier: GPL-2.0
/*
 * datapath.c - load and drive the BPF datapath (see datapath.h).
 */
#include <errno.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <sodium.h>

#include "datapath.h"
#include "datapath.skel.h"

struct datapath {
	struct datapath_bpf *skel;
};

/* Write the IDs of every map into iface, so dp_find can reach them all. */
static int record_maps(struct datapath *dp)
{
	struct bpftun_iface ifc = {0};
	struct bpf_map *map;
	uint32_t zero = 0;
	int fd = bpf_map__fd(dp->skel->maps.iface);

	if (bpf_map_lookup_elem(fd, &zero, &ifc))
		return -errno;
	ifc.nmaps = 0;
	bpf_object__for_each_map(map, dp->skel->obj)
	{
		struct bpf_map_info info = {0};
		uint32_t len = sizeof(info);

		if (ifc.nmaps >= BPFTUN_MAX_MAPS)
			return -E2BIG;
		if (bpf_obj_get_info_by_fd(bpf_map__fd(map), &info, &len))
			return -errno;
		ifc.map_ids[ifc.nmaps++] = info.id;
	}
	if (bpf_map_update_elem(fd, &zero, &ifc, BPF_ANY))
		return -errno;
	return 0;
}

uint32_t dp_capacity(uint32_t n, uint32_t min, uint32_t max)
{
	uint64_t want = (uint64_t)n + n / 4, cap = min;

	while (cap < want && cap < max)
		cap *= 2;
	return (uint32_t)(cap < max ? cap : max);
}

/* Every map that holds something per peer, and how many entries per peer. */
static const struct {
	const char *name;
	uint32_t per_peer, extra;
} per_peer_maps[] = {
	{"peers", 1, 0},
	{"tx_sas", BPFTUN_SLOTS, 0},
	{"rx_refs", BPFTUN_SLOTS, 0},
	{"rx_sas", BPFTUN_SLOTS, 0},
	{"stats", 1, 1}, /* + the unattributed entry */
};

int dp_load(struct datapath **out, const struct bpftun_config *cfg)
{
	return dp_load_sized(out, cfg, 0, 0);
}

int dp_load_sized(struct datapath **out, const struct bpftun_config *cfg, uint32_t npeers,
		  uint32_t nallowed)
{
	uint32_t max_peers, max_allowed;
	struct datapath *dp;
	int err;

	if (npeers > BPFTUN_MAX_PEERS || nallowed > BPFTUN_MAX_ALLOWED_IPS)
		return -E2BIG;
	max_peers = dp_capacity(npeers, BPFTUN_MIN_PEERS, BPFTUN_MAX_PEERS);
	max_allowed = dp_capacity(nallowed, BPFTUN_MIN_ALLOWED_IPS, BPFTUN_MAX_ALLOWED_IPS);

	dp = calloc(1, sizeof(*dp));
	if (!dp)
		return -ENOMEM;
	dp->skel = datapath_bpf__open();
	if (!dp->skel) {
		err = -errno;
		goto fail;
	}
	dp->skel->rodata->cfg = *cfg;
	dp->skel->rodata->cfg.max_peers = max_peers;
	dp->skel->rodata->cfg.max_allowed_ips = max_allowed;
	for (size_t i = 0; i < sizeof(per_peer_maps) / sizeof(per_peer_maps[0]); i++) {
		struct bpf_map *m =
		    bpf_object__find_map_by_name(dp->skel->obj, per_peer_maps[i].name);

		err = m ? bpf_map__set_max_entries(m, max_peers * per_peer_maps[i].per_peer +
							  per_peer_maps[i].extra)
			: -ENOENT;
		if (err)
			goto fail;
	}
	err = bpf_map__set_max_entries(dp->skel->maps.allowed_ips, max_allowed);
	if (err)
		goto fail;
	err = datapath_bpf__load(dp->skel);
	if (err)
		goto fail;
	err = record_maps(dp);
	if (err)
		goto fail;
	*out = dp;
	return 0;
fail:
	datapath_bpf__destroy(dp->skel);
	free(dp);
	return err;
}

void dp_destroy(struct datapath *dp)
{
	if (!dp)
		return;
	datapath_bpf__destroy(dp->skel);
	free(dp);
}

int dp_sa_ctl(struct datapath *dp, struct bpftun_sa_req *req)
{
	/* Syscall programs take ctx_in only; the kernel copies it back there. */
	LIBBPF_OPTS(bpf_test_run_opts, opts, .ctx_in = req, .ctx_size_in = sizeof(*req));
	int err;

	err = bpf_prog_test_run_opts(bpf_program__fd(dp->skel->progs.sa_ctl), &opts);
	sodium_memzero(req->key, sizeof(req->key));
	if (err)
		return -errno;
	return req->err;
}

uint32_t dp_max_peers(struct datapath *dp)
{
	return dp->skel->rodata->cfg.max_peers;
}

int dp_set_peer(struct datapath *dp, uint32_t peer_id, const struct bpftun_peer *peer)
{
	if (peer_id >= dp_max_peers(dp))
		return -ERANGE;
	if (bpf_map_update_elem(bpf_map__fd(dp->skel->maps.peers), &peer_id, peer, BPF_ANY))
		return -errno;
	return 0;
}

int dp_get_peer(struct datapath *dp, uint32_t peer_id, struct bpftun_peer *peer)
{
	if (bpf_map_lookup_elem(bpf_map__fd(dp->skel->maps.peers), &peer_id, peer))
		return -errno;
	return 0;
}

int dp_allow(struct datapath *dp, int family, const void *addr, unsigned int prefix,
	     uint32_t peer_id)
{
	struct bpftun_lpm_key key = {.family = (uint32_t)family};
	unsigned int max = family == 4 ? 32 : 128;

	if ((family != 4 && family != 6) || prefix > max)
		return -EINVAL;
	key.prefixlen = BPFTUN_LPM_FAMILY_BITS + prefix;
	memcpy(key.addr, addr, family == 4 ? 4 : 16);
	if (bpf_map_update_elem(bpf_map__fd(dp->skel->maps.allowed_ips), &key, &peer_id, BPF_ANY))
		return -errno;
	return 0;
}

int dp_peer_stats(struct datapath *dp, uint32_t peer_id, struct bpftun_peer_stats *out)
{
	int ncpu = libbpf_num_possible_cpus();
	struct bpftun_peer_stats *v;
	int err = 0;

	if (ncpu < 0)
		return ncpu;
	if (peer_id == BPFTUN_NO_PEER)
		peer_id = dp_max_peers(dp); /* where the datapath counts them */
	else if (peer_id >= dp_max_peers(dp))
		return -ENOENT;
	v = calloc(ncpu, sizeof(*v));
	if (!v)
		return -ENOMEM;
	if (bpf_map_lookup_elem(bpf_map__fd(dp->skel->maps.stats), &peer_id, v)) {
		err = -errno;
		goto out;
	}
	memset(out, 0, sizeof(*out));
	for (int c = 0; c < ncpu; c++) {
		out->rx_packets += v[c].rx_packets;
		out->rx_bytes += v[c].rx_bytes;
		out->tx_packets += v[c].tx_packets;
		out->tx_bytes += v[c].tx_bytes;
		for (int r = 0; r < BPFTUN_DROP_MAX; r++)
			out->drops[r] += v[c].drops[r];
		if (v[c].last_rx_ns > out->last_rx_ns)
			out->last_rx_ns = v[c].last_rx_ns;
	}
out:
	free(v);
	return err;
}

int dp_seal_fd(struct datapath *dp)
{
	return bpf_program__fd(dp->skel->progs.tc_seal);
}

int dp_open_fd(struct datapath *dp)
{
	return bpf_program__fd(dp->skel->progs.tc_open);
}

int dp_sa_ctl_fd(struct datapath *dp)
{
	return bpf_program__fd(dp->skel->progs.sa_ctl);
}

int dp_pin_maps(struct datapath *dp, const char *dir)
{
	return bpf_object__pin_maps(dp->skel->obj, dir);
}

/* The map named `name` among ids, as a new fd, or -ENOENT. */
static int map_fd_by_name(const uint32_t *ids, uint32_t n, const char *name)
{
	for (uint32_t i = 0; i < n; i++) {
		struct bpf_map_info info = {0};
		uint32_t len = sizeof(info);
		int fd = bpf_map_get_fd_by_id(ids[i]);

		if (fd < 0)
			continue;
		if (!bpf_obj_get_info_by_fd(fd, &info, &len) && !strcmp(info.name, name))
			return fd;
		close(fd);
	}
	return -ENOENT;
}

/* The map whose name ends in suffix (".rodata": its name is the object's
 * truncated, then ".rodata"), as a new fd, or -ENOENT. */
static int map_fd_by_name_suffix(const uint32_t *ids, uint32_t n, const char *suffix)
{
	size_t sl = strlen(suffix);

	for (uint32_t i = 0; i < n; i++) {
		struct bpf_map_info info = {0};
		uint32_t len = sizeof(info);
		int fd = bpf_map_get_fd_by_id(ids[i]);
		size_t nl;

		if (fd < 0)
			continue;
		if (!bpf_obj_get_info_by_fd(fd, &info, &len)) {
			nl = strlen(info.name);
			if (nl >= sl && !strcmp(info.name + nl - sl, suffix))
				return fd;
		}
		close(fd);
	}
	return -ENOENT;
}

int dp_find(struct datapath **out, int hidden_ifindex)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = hidden_ifindex, .attach_point = BPF_TC_INGRESS);
	LIBBPF_OPTS(bpf_tc_opts, opts, .handle = BPFTUN_TC_HANDLE, .priority = BPFTUN_TC_PRIO);
	struct bpf_prog_info pinfo = {0};
	uint32_t ids[BPFTUN_MAX_MAPS], zero = 0, len = sizeof(pinfo);
	struct bpftun_iface ifc;
	struct datapath *dp = NULL;
	struct bpf_map *map;
	int err, prog_fd = -1, ifc_fd = -1;

	err = bpf_tc_query(&hook, &opts);
	if (err)
		return err == -ENOENT ? -ENODEV : err;
	prog_fd = bpf_prog_get_fd_by_id(opts.prog_id);
	if (prog_fd < 0)
		return -errno;
	pinfo.nr_map_ids = BPFTUN_MAX_MAPS;
	pinfo.map_ids = (uint64_t)(unsigned long)ids;
	if (bpf_obj_get_info_by_fd(prog_fd, &pinfo, &len)) {
		err = -errno;
		goto out;
	}
	ifc_fd = map_fd_by_name(ids, pinfo.nr_map_ids < BPFTUN_MAX_MAPS ? pinfo.nr_map_ids
								: BPFTUN_MAX_MAPS,
				"iface");
	if (ifc_fd < 0 || bpf_map_lookup_elem(ifc_fd, &zero, &ifc)) {
		err = -ENOENT; /* a program that is not ours */
		goto out;
	}
	dp = calloc(1, sizeof(*dp));
	if (!dp) {
		err = -ENOMEM;
		goto out;
	}
	dp->skel = datapath_bpf__open();
	if (!dp->skel) {
		err = -errno;
		goto out;
	}
	/* The live programs' configuration (.rodata: cfg), so that a program
	 * loaded here behaves exactly as the attached ones (the key manager
	 * attaches its tc_open on a new underlay when a peer roams). */
	{
		int ro = map_fd_by_name_suffix(ids, pinfo.nr_map_ids < BPFTUN_MAX_MAPS
							 ? pinfo.nr_map_ids
							 : BPFTUN_MAX_MAPS,
					       ".rodata");
		uint8_t buf[256];
		size_t sz = bpf_map__value_size(dp->skel->maps.rodata);

		if (ro < 0 || sz > sizeof(buf) || bpf_map_lookup_elem(ro, &zero, buf)) {
			err = ro < 0 ? ro : -EIO;
			if (ro >= 0)
				close(ro);
			goto out;
		}
		close(ro);
		memcpy(dp->skel->rodata, buf, sz); /* the skeleton's mmap, before load */
	}
	/* Share every map but the program's own .rodata/.bss: fresh programs
	 * (sa_ctl above all) run against the live tunnel's state. */
	bpf_object__for_each_map(map, dp->skel->obj)
	{
		const char *name = bpf_map__name(map);
		int fd;

		if (name[0] == '.' || strchr(name, '.'))
			continue;
		fd = map_fd_by_name(ifc.map_ids, ifc.nmaps, name);
		if (fd < 0) {
			err = fd;
			goto out;
		}
		err = bpf_map__reuse_fd(map, fd);
		close(fd);
		if (err)
			goto out;
	}
	err = datapath_bpf__load(dp->skel);
	if (err)
		goto out;
	*out = dp;
	dp = NULL;
out:
	if (dp) {
		datapath_bpf__destroy(dp->skel);
		free(dp);
	}
	if (ifc_fd >= 0)
		close(ifc_fd);
	close(prog_fd);
	return err;
}

int dp_get_iface(struct datapath *dp, struct bpftun_iface *ifc)
{
	uint32_t zero = 0;

	if (bpf_map_lookup_elem(bpf_map__fd(dp->skel->maps.iface), &zero, ifc))
		return -errno;
	return 0;
}

int dp_set_iface(struct datapath *dp, const struct bpftun_iface *ifc)
{
	uint32_t zero = 0;
	struct bpftun_iface cur;
	int err = dp_get_iface(dp, &cur);

	if (err)
		return err;
	/* map IDs belong to dp_load; callers cannot overwrite them */
	struct bpftun_iface next = *ifc;

	next.nmaps = cur.nmaps;
	memcpy(next.map_ids, cur.map_ids, sizeof(next.map_ids));
	if (bpf_map_update_elem(bpf_map__fd(dp->skel->maps.iface), &zero, &next, BPF_ANY))
		return -errno;
	return 0;
}

int dp_tx_sa(struct datapath *dp, uint32_t peer_id, uint32_t slot, struct bpftun_tx_sa_info *out)
{
	uint32_t key = peer_id * BPFTUN_SLOTS + slot;
	struct bpftun_tx_sa_view v;

	if (slot >= BPFTUN_SLOTS ||
	    bpf_map_lookup_elem(bpf_map__fd(dp->skel->maps.tx_sas), &key, &v))
		return -errno ?: -EINVAL;
	out->present = (int)v.present;
	out->counter = v.counter - v.counter_start; /* messages under this key */
	out->expire_ns = v.expire_ns;
	out->remote_index = v.remote_index;
	return 0;
}

int dp_map_fd(struct datapath *dp, const char *name)
{
	struct bpf_map *map = bpf_object__find_map_by_name(dp->skel->obj, name);

	return map ? bpf_map__fd(map) : -ENOENT;
}

int dp_rx_sa_used(struct datapath *dp, uint32_t index)
{
	/* the value is an rx_sa (with its replay window); read it whole */
	struct {
		struct bpftun_rx_sa_view head;
		uint8_t rest[4096];
	} v;
	int fd = dp_map_fd(dp, "rx_sas");

	if (bpf_map__value_size(bpf_object__find_map_by_name(dp->skel->obj, "rx_sas")) > sizeof(v))
		return -E2BIG;
	if (bpf_map_lookup_elem(fd, &index, &v))
		return -errno;
	return v.head.replay_next > 0;
}

int dp_rx_index(struct datapath *dp, uint32_t peer_id, uint32_t slot, uint32_t *index)
{
	uint32_t key = peer_id * BPFTUN_SLOTS + slot;
	struct {
		uint64_t ctx;
		uint32_t index;
		uint32_t present;
	} v;

	if (slot >= BPFTUN_SLOTS || bpf_map_lookup_elem(dp_map_fd(dp, "rx_refs"), &key, &v))
		return -ENOENT;
	if (!v.present)
		return -ENOENT;
	*index = v.index;
	return 0;
}

int dp_keepalive(struct datapath *dp, uint32_t peer_id, uint8_t out[32])
{
	uint8_t in[64] = {0}, res[128];
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = in, .data_size_in = 64, .data_out = res,
		    .data_size_out = sizeof(res), .repeat = 1);
	int err;

	in[12] = 0x08; /* an Ethernet header for the test run; never sent */
	memcpy(in + 14, &peer_id, sizeof(peer_id));
	err = bpf_prog_test_run_opts(bpf_program__fd(dp->skel->progs.tc_keepalive), &opts);
	if (err)
		return -errno;
	if (opts.retval != 0 || opts.data_size_out != 14 + 32)
		return -ENOKEY;
	memcpy(out, res + 14, 32);
	return 0;
}

int dp_underlay_slot(struct bpftun_iface *ifc, uint32_t ifindex, int *added)
{
	uint32_t n = ifc->nunderlays < BPFTUN_MAX_UNDERLAYS ? ifc->nunderlays : BPFTUN_MAX_UNDERLAYS;
	char name[IF_NAMESIZE];
	int slot = -1;

	*added = 0;
	for (uint32_t i = 0; i < n; i++)
		if (ifc->underlays[i] == ifindex)
			return (int)i;
	for (uint32_t i = 0; i < n && slot < 0; i++)
		if (!if_indextoname(ifc->underlays[i], name))
			slot = (int)i;
	if (slot < 0) {
		if (n >= BPFTUN_MAX_UNDERLAYS)
			return -ENOSPC;
		slot = (int)n;
		ifc->nunderlays = n + 1;
	}
	ifc->underlays[slot] = ifindex;
	ifc->clsact_created &= ~(1U << slot);
	*added = 1;
	return slot;
}
