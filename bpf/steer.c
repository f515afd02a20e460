// SPDX-License-Identifier: GPL-2.0
/*
 * steer.c - load, attach and configure bpf/steer.bpf.c; see steer.h.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/ethtool.h>
#include <linux/if_link.h>
#include <linux/sockios.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <sodium.h>

#include "steer.h"
#include "steer.skel.h"

static int ethtool_ioctl(int fd, const char *ifname, void *data)
{
	struct ifreq ifr = {0};

	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	ifr.ifr_data = data;
	return ioctl(fd, SIOCETHTOOL, &ifr) ? -errno : 0;
}

/* Index of each wanted feature name in the device's feature strings (-1 if absent). */
static int feature_indices(int fd, const char *ifname, const char *const *names, int n, int *idx,
			   uint32_t *count)
{
	struct {
		struct ethtool_sset_info hdr;
		uint32_t len;
	} info = {.hdr = {.cmd = ETHTOOL_GSSET_INFO, .sset_mask = 1ULL << ETH_SS_FEATURES}};
	struct ethtool_gstrings *gs;
	int err;

	err = ethtool_ioctl(fd, ifname, &info);
	if (err)
		return err;
	if (!info.hdr.sset_mask || !info.len || info.len > 4096)
		return -EOPNOTSUPP;
	gs = calloc(1, sizeof(*gs) + (size_t)info.len * ETH_GSTRING_LEN);
	if (!gs)
		return -ENOMEM;
	gs->cmd = ETHTOOL_GSTRINGS;
	gs->string_set = ETH_SS_FEATURES;
	gs->len = info.len;
	err = ethtool_ioctl(fd, ifname, gs);
	for (int k = 0; k < n; k++) {
		idx[k] = -1;
		for (uint32_t i = 0; !err && i < gs->len; i++)
			if (!strncmp((char *)gs->data + i * ETH_GSTRING_LEN, names[k],
				     ETH_GSTRING_LEN))
				idx[k] = (int)i;
	}
	*count = info.len;
	free(gs);
	return err;
}

int steer_gro_check(const char *ifname, int fix, char *why, size_t whylen)
{
	static const char *const names[] = {"rx-udp-gro-forwarding", "rx-gro-list"};
	enum { N = sizeof(names) / sizeof(names[0]) };
	int fd, idx[N], err, on = 0;
	uint32_t count, blocks;
	struct ethtool_gfeatures *gf = NULL;
	struct ethtool_sfeatures *sf = NULL;

	if (why && whylen)
		why[0] = 0;
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	err = feature_indices(fd, ifname, names, N, idx, &count);
	if (err)
		goto out;
	blocks = (count + 31) / 32;
	gf = calloc(1, sizeof(*gf) + blocks * sizeof(gf->features[0]));
	sf = calloc(1, sizeof(*sf) + blocks * sizeof(sf->features[0]));
	if (!gf || !sf) {
		err = -ENOMEM;
		goto out;
	}
	gf->cmd = ETHTOOL_GFEATURES;
	gf->size = blocks;
	err = ethtool_ioctl(fd, ifname, gf);
	if (err)
		goto out;
	sf->cmd = ETHTOOL_SFEATURES;
	sf->size = blocks;
	for (int k = 0; k < N; k++) {
		uint32_t b, bit;

		if (idx[k] < 0)
			continue;
		b = (uint32_t)idx[k] / 32;
		bit = 1U << (idx[k] % 32);
		if (!(gf->features[b].active & bit))
			continue;
		on++;
		if (why && whylen)
			snprintf(why, whylen, "%s is on", names[k]);
		sf->features[b].valid |= bit; /* requested bit stays 0: off */
	}
	if (!on)
		goto out;
	if (!fix) {
		err = -EBUSY;
		goto out;
	}
	err = ethtool_ioctl(fd, ifname, sf);
	if (err >= 0) {
		/* ETHTOOL_SFEATURES may return flags (> 0); read back what is active */
		err = ethtool_ioctl(fd, ifname, gf);
		for (int k = 0; !err && k < N; k++)
			if (idx[k] >= 0 &&
			    (gf->features[idx[k] / 32].active & (1U << (idx[k] % 32)))) {
				if (why && whylen)
					snprintf(why, whylen, "%s stays on", names[k]);
				err = -EBUSY;
			}
	}
out:
	free(gf);
	free(sf);
	close(fd);
	return err;
}

#define FAIL(step)                                                                                 \
	do {                                                                                       \
		if (errbuf && errlen)                                                              \
			snprintf(errbuf, errlen, "%s: %s", step, strerror(err < 0 ? -err : err));  \
		goto out;                                                                          \
	} while (0)

int steer_attach(const struct steer_opts *o, char *errbuf, size_t errlen)
{
	struct bpftun_steer_cfg cfg = {0};
	struct steer_bpf *skel = NULL;
	char why[64];
	uint32_t zero = 0;
	int err = 0, ifindex, ncpu = libbpf_num_possible_cpus();

	ifindex = (int)if_nametoindex(o->ifname);
	if (!ifindex) {
		err = -ENODEV;
		FAIL(o->ifname);
	}
	err = steer_gro_check(o->ifname, o->fix_gro, why, sizeof(why));
	if (err == -EBUSY) {
		if (errbuf && errlen)
			snprintf(errbuf, errlen,
				 "%s: %s (GRO merges data messages in the cpumap; turn it off)",
				 o->ifname, why);
		goto out;
	}
	if (err && err != -EOPNOTSUPP)
		FAIL("reading GRO features");
	if (o->ncpus > BPFTUN_STEER_MAX_CPUS || (o->cpus && !o->ncpus)) {
		err = -EINVAL;
		FAIL("CPU set (1..64 CPUs)");
	}
	if (o->cpus) {
		for (unsigned int i = 0; i < o->ncpus; i++) {
			if (o->cpus[i] >= (uint32_t)ncpu || o->cpus[i] >= BPFTUN_STEER_MAX_CPUS) {
				err = -EINVAL;
				FAIL("CPU set: a CPU that does not exist");
			}
			cfg.cpus[cfg.ncpus++] = o->cpus[i];
		}
	} else {
		long online = sysconf(_SC_NPROCESSORS_ONLN);

		for (long c = 0; c < online && c < ncpu && c < BPFTUN_STEER_MAX_CPUS; c++)
			cfg.cpus[cfg.ncpus++] = (uint32_t)c;
	}
	cfg.listen_port = htons(o->listen_port);
	cfg.flags = (o->esp ? BPFTUN_STEER_F_ESP : 0) | (o->tunnel ? BPFTUN_STEER_F_TUNNEL : 0);
	randombytes_buf(cfg.key, sizeof(cfg.key));

	skel = steer_bpf__open_and_load();
	if (!skel) {
		err = -errno;
		FAIL("loading xdp_steer");
	}
	for (uint32_t i = 0; i < cfg.ncpus; i++) {
		struct bpf_cpumap_val v = {.qsize = o->qsize ? o->qsize : BPFTUN_STEER_QSIZE};

		if (bpf_map_update_elem(bpf_map__fd(skel->maps.cpu_map), &cfg.cpus[i], &v, 0)) {
			err = -errno;
			FAIL("cpumap entry");
		}
	}
	err = bpf_map_update_elem(bpf_map__fd(skel->maps.steer_cfg), &zero, &cfg, 0) ? -errno : 0;
	sodium_memzero(cfg.key, sizeof(cfg.key));
	if (err)
		FAIL("steer_cfg");
	if (o->pin_dir) {
		err = bpf_object__pin_maps(skel->obj, o->pin_dir);
		if (err)
			FAIL("pinning maps");
	}
	/* never replace another XDP program (another tunnel's, or the user's) */
	err = bpf_xdp_attach(ifindex, bpf_program__fd(skel->progs.xdp_steer),
			     XDP_FLAGS_DRV_MODE | XDP_FLAGS_UPDATE_IF_NOEXIST, NULL);
	if (err) {
		if (o->pin_dir)
			bpf_object__unpin_maps(skel->obj, o->pin_dir);
		FAIL("attaching XDP (native mode)");
	}
out:
	sodium_memzero(&cfg, sizeof(cfg));
	steer_bpf__destroy(skel); /* the attached program keeps its maps */
	return err;
}

int steer_detach(const char *ifname)
{
	struct bpf_prog_info info = {0};
	uint32_t id = 0, len = sizeof(info);
	int ifindex = (int)if_nametoindex(ifname), fd, err;

	if (!ifindex)
		return -ENODEV;
	err = bpf_xdp_query_id(ifindex, XDP_FLAGS_DRV_MODE, &id);
	if (err)
		return err;
	if (!id)
		return 0; /* nothing attached */
	fd = bpf_prog_get_fd_by_id(id);
	if (fd < 0)
		return -errno;
	if (bpf_obj_get_info_by_fd(fd, &info, &len) || strcmp(info.name, "xdp_steer")) {
		close(fd);
		return -EBUSY; /* not ours: leave it */
	}
	{
		LIBBPF_OPTS(bpf_xdp_attach_opts, o, .old_prog_fd = fd);

		/* only if it is still this program (XDP_FLAGS_REPLACE) */
		err = bpf_xdp_detach(ifindex, XDP_FLAGS_DRV_MODE | XDP_FLAGS_REPLACE, &o);
	}
	close(fd);
	return err;
}

int steer_set_mark(int fd, unsigned int bits)
{
	struct bpftun_mark_cfg c = {0};
	uint32_t zero = 0;
	int err;

	if (bits > BPFTUN_MARK_BITS_MAX)
		return -EINVAL;
	if (bits)
		randombytes_buf(c.key, sizeof(c.key));
	c.bits = bits;
	err = bpf_map_update_elem(fd, &zero, &c, 0) ? -errno : 0;
	sodium_memzero(&c, sizeof(c));
	return err;
}

int steer_read_stats(int fd, struct bpftun_steer_stats *sum)
{
	int ncpu = libbpf_num_possible_cpus();
	struct bpftun_steer_stats *v;
	uint32_t zero = 0;

	if (ncpu <= 0)
		return -EINVAL;
	v = calloc((size_t)ncpu, sizeof(*v));
	if (!v)
		return -ENOMEM;
	memset(sum, 0, sizeof(*sum));
	if (bpf_map_lookup_elem(fd, &zero, v)) {
		int err = -errno;

		free(v);
		return err;
	}
	for (int c = 0; c < ncpu; c++) {
		const __u64 *s = (const __u64 *)&v[c]; /* the members' type: no aliasing */
		__u64 *d = (__u64 *)sum;

		for (size_t i = 0; i < sizeof(*sum) / sizeof(__u64); i++)
			d[i] += s[i];
	}
	free(v);
	return 0;
}
