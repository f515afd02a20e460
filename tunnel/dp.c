// SPDX-License-Identifier: GPL-2.0
/*
 * dp.c - load and drive the BPF datapath (see dp.h).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <sodium.h>

#include "dp.h"
#include "datapath.skel.h"

struct datapath {
	struct datapath_bpf *skel;
};

int dp_load(struct datapath **out, const struct bpftun_config *cfg)
{
	struct datapath *dp;
	int err;

	dp = calloc(1, sizeof(*dp));
	if (!dp)
		return -ENOMEM;
	dp->skel = datapath_bpf__open();
	if (!dp->skel) {
		err = -errno;
		goto fail;
	}
	dp->skel->rodata->cfg = *cfg;
	err = datapath_bpf__load(dp->skel);
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

int dp_set_peer(struct datapath *dp, uint32_t peer_id, const struct bpftun_peer *peer)
{
	if (peer_id >= BPFTUN_MAX_PEERS)
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
