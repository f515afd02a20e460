// SPDX-License-Identifier: GPL-2.0
/*
 * dp_attach.c - test tool: load the datapath in the current network
 * namespace, attach it, configure one peer with keys read from stdin, exit.
 *
 * It is the datapath half of `bpftun up` without key management, so that
 * the netns tests can drive live traffic through tc_seal/tc_open with keys
 * they choose. The attached programs keep their maps alive after exit;
 * deleting the devices (or the namespace) removes everything.
 *
 * stdin: two lines of 72 hex digits: tx key(32) || salt(4), rx key || salt.
 * --algo wireguard installs WireGuard-suite SAs (BPFTUN_SA_F_WIREGUARD; the
 * salts are ignored) and records the tunnel device's MTU in iface, which
 * bounds WireGuard's padding as `bpftun up` does.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/libbpf.h>
#include <sodium.h>

#include "check.h"
#include "datapath.h"

static void usage(void)
{
	fprintf(stderr,
		"usage: dp_attach --tun DEV --hidden DEV --underlay DEV --port N --local ADDR\n"
		"                 --remote ADDR --remote-mac MAC --tx-index N --rx-index N\n"
		"                 --allowed PREFIX [--allowed PREFIX...] [--algo NAME|wireguard]\n"
		"                 [--pin DIR] < keys\n"
		"       dp_attach --show DIR\n");
}

/* ioctl, not /sys: this runs under `nsenter --net`, where /sys is the host's. */
static int read_mac(const char *dev, uint8_t mac[6])
{
	struct ifreq ifr = {0};
	int fd = socket(AF_INET, SOCK_DGRAM, 0), err = 0;

	if (fd < 0)
		return -errno;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", dev);
	if (ioctl(fd, SIOCGIFHWADDR, &ifr))
		err = -errno;
	else
		memcpy(mac, ifr.ifr_hwaddr.sa_data, 6);
	close(fd);
	return err;
}

static int read_mtu(const char *dev, uint32_t *mtu)
{
	struct ifreq ifr = {0};
	int fd = socket(AF_INET, SOCK_DGRAM, 0), err = 0;

	if (fd < 0)
		return -errno;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", dev);
	if (ioctl(fd, SIOCGIFMTU, &ifr))
		err = -errno;
	else
		*mtu = (uint32_t)ifr.ifr_mtu;
	close(fd);
	return err;
}

/* --show DIR: print the pinned counters of peer 0 and the unattributed bucket. */
static int show(const char *dir)
{
	char path[256];
	int fd, ncpu = libbpf_num_possible_cpus();
	struct bpftun_peer_stats *v = calloc((size_t)ncpu, sizeof(*v));

	snprintf(path, sizeof(path), "%s/stats", dir);
	fd = bpf_obj_get(path);
	if (fd < 0 || !v) {
		fprintf(stderr, "dp_attach: %s: %s\n", path, strerror(errno));
		return 1;
	}
	struct bpf_map_info info = {0};
	uint32_t ilen = sizeof(info);

	/* the unattributed bucket is the last entry (index = the peer count) */
	if (bpf_obj_get_info_by_fd(fd, &info, &ilen) || info.max_entries < 2)
		return 1;
	for (uint32_t key = 0; key < info.max_entries; key += info.max_entries - 1) {
		struct bpftun_peer_stats sum = {0};
		const char *who = key ? "unattributed" : "peer0";

		if (bpf_map_lookup_elem(fd, &key, v))
			return 1;
		for (int c = 0; c < ncpu; c++) {
			sum.rx_packets += v[c].rx_packets;
			sum.tx_packets += v[c].tx_packets;
			sum.rx_bytes += v[c].rx_bytes;
			sum.tx_bytes += v[c].tx_bytes;
			for (int r = 0; r < BPFTUN_DROP_MAX; r++)
				sum.drops[r] += v[c].drops[r];
		}
		printf("%s rx_packets %llu\n%s tx_packets %llu\n", who,
		       (unsigned long long)sum.rx_packets, who, (unsigned long long)sum.tx_packets);
		for (int r = 1; r < BPFTUN_DROP_MAX; r++)
			printf("%s %s %llu\n", who, bpftun_drop_name((unsigned int)r),
			       (unsigned long long)sum.drops[r]);
	}
	free(v);
	close(fd);
	return 0;
}

static int attach(int fd, const char *dev)
{
	int ifindex = (int)if_nametoindex(dev);
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = BPF_TC_INGRESS);
	LIBBPF_OPTS(bpf_tc_opts, opts, .prog_fd = fd, .handle = BPFTUN_TC_HANDLE,
		    .priority = BPFTUN_TC_PRIO);
	int err;

	if (!ifindex)
		return -ENODEV;
	err = bpf_tc_hook_create(&hook);
	if (err && err != -EEXIST)
		return err;
	return bpf_tc_attach(&hook, &opts);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"tun", 1, 0, 't'},	       {"hidden", 1, 0, 'h'},
	    {"underlay", 1, 0, 'u'},   {"port", 1, 0, 'p'},
	    {"local", 1, 0, 'l'},      {"remote", 1, 0, 'r'},
	    {"remote-mac", 1, 0, 'm'}, {"tx-index", 1, 0, 'T'},
	    {"rx-index", 1, 0, 'R'},   {"allowed", 1, 0, 'a'},
	    {"algo", 1, 0, 'g'},       {"pin", 1, 0, 'P'},
	    {"show", 1, 0, 'S'},       {0, 0, 0, 0},
	};
	const char *tun = NULL, *hidden = NULL, *underlay = NULL, *local = NULL, *remote = NULL;
	const char *allowed[16], *algo = "ecb(aes)", *pin = NULL;
	struct bpftun_config cfg = {0};
	struct bpftun_peer peer = {0};
	struct bpftun_sa_req req = {0};
	uint32_t tx_index = 0, rx_index = 0;
	int nallowed = 0, c, err, v6;
	char line[2][160];
	uint8_t keys[2][36];
	struct datapath *dp = NULL;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 't':
			tun = optarg;
			break;
		case 'h':
			hidden = optarg;
			break;
		case 'u':
			underlay = optarg;
			break;
		case 'p':
			cfg.listen_port = htons((uint16_t)atoi(optarg));
			break;
		case 'l':
			local = optarg;
			break;
		case 'r':
			remote = optarg;
			break;
		case 'm':
			if (sscanf(optarg, "%hhx:%hhx:%hhx:%hhx:%hhx:%hhx", &peer.ep.dmac[0],
				   &peer.ep.dmac[1], &peer.ep.dmac[2], &peer.ep.dmac[3],
				   &peer.ep.dmac[4], &peer.ep.dmac[5]) != 6) {
				fprintf(stderr, "dp_attach: bad MAC '%s'\n", optarg);
				return 2;
			}
			break;
		case 'T':
			tx_index = (uint32_t)strtoul(optarg, NULL, 0);
			break;
		case 'R':
			rx_index = (uint32_t)strtoul(optarg, NULL, 0);
			break;
		case 'a':
			if (nallowed < 16)
				allowed[nallowed++] = optarg;
			break;
		case 'g':
			algo = optarg;
			break;
		case 'P':
			pin = optarg;
			break;
		case 'S':
			return show(optarg);
		default:
			usage();
			return 2;
		}
	}
	if (!tun || !hidden || !underlay || !local || !remote || !cfg.listen_port || !nallowed) {
		usage();
		return 2;
	}
	if (sodium_init() < 0)
		return 1;
	for (int i = 0; i < 2; i++) {
		if (!fgets(line[i], sizeof(line[i]), stdin) || unhex(line[i], keys[i], 36) != 36) {
			fprintf(stderr,
				"dp_attach: stdin line %d: want 72 hex digits (key || salt)\n",
				i + 1);
			return 2;
		}
	}
	sodium_memzero(line, sizeof(line));

	cfg.tun_ifindex = if_nametoindex(tun);
	if (!cfg.tun_ifindex || read_mac(tun, cfg.tun_mac)) {
		fprintf(stderr, "dp_attach: device '%s' not found\n", tun);
		return 1;
	}
	v6 = strchr(local, ':') != NULL;
	peer.ep.flags = BPFTUN_EP_FIB | (v6 ? BPFTUN_EP_V6 : 0);
	peer.ep.ifindex = if_nametoindex(underlay);
	if (!peer.ep.ifindex || read_mac(underlay, peer.ep.smac)) {
		fprintf(stderr, "dp_attach: device '%s' not found\n", underlay);
		return 1;
	}
	if (inet_pton(v6 ? AF_INET6 : AF_INET, local, peer.ep.saddr) != 1 ||
	    inet_pton(v6 ? AF_INET6 : AF_INET, remote, peer.ep.daddr) != 1) {
		fprintf(stderr, "dp_attach: bad address '%s' or '%s'\n", local, remote);
		return 2;
	}
	peer.ep.sport = peer.ep.dport = cfg.listen_port;

	err = dp_load(&dp, &cfg);
	if (err) {
		fprintf(stderr, "dp_attach: loading the datapath: %s\n", strerror(-err));
		return 1;
	}
	err = dp_set_peer(dp, 0, &peer);
	for (int i = 0; !err && i < nallowed; i++) {
		char buf[64], *slash;
		uint8_t a[16];
		int fam;

		snprintf(buf, sizeof(buf), "%s", allowed[i]);
		slash = strchr(buf, '/');
		if (!slash) {
			err = -EINVAL;
			break;
		}
		*slash = 0;
		fam = strchr(buf, ':') ? 6 : 4;
		if (inet_pton(fam == 6 ? AF_INET6 : AF_INET, buf, a) != 1) {
			err = -EINVAL;
			break;
		}
		err = dp_allow(dp, fam, a, (unsigned int)atoi(slash + 1), 0);
	}
	if (err) {
		fprintf(stderr, "dp_attach: peer/allowed IPs: %s\n", strerror(-err));
		goto out;
	}

	if (!strcmp(algo, "wireguard")) {
		struct bpftun_iface ifc;

		req.flags = BPFTUN_SA_F_WIREGUARD;
		err = dp_get_iface(dp, &ifc) ?: read_mtu(tun, &ifc.mtu) ?: dp_set_iface(dp, &ifc);
		if (err) {
			fprintf(stderr, "dp_attach: iface mtu: %s\n", strerror(-err));
			goto out;
		}
	} else {
		snprintf(req.algo, sizeof(req.algo), "%s", algo);
	}
	req.op = BPFTUN_OP_INSTALL_TX;
	req.slot = 1;
	req.index = tx_index;
	memcpy(req.key, keys[0], 32);
	memcpy(req.salt, keys[0] + 32, 4);
	err = dp_sa_ctl(dp, &req);
	req.op = BPFTUN_OP_ACTIVATE_TX;
	err = err ?: dp_sa_ctl(dp, &req);
	req.op = BPFTUN_OP_INSTALL_RX;
	req.index = rx_index;
	memcpy(req.key, keys[1], 32);
	memcpy(req.salt, keys[1] + 32, 4);
	err = err ?: dp_sa_ctl(dp, &req);
	sodium_memzero(keys, sizeof(keys));
	if (err) {
		fprintf(stderr, "dp_attach: installing SAs (%s): %s\n", algo, strerror(-err));
		goto out;
	}
	err = attach(dp_seal_fd(dp), hidden);
	if (err) {
		fprintf(stderr, "dp_attach: attach tc_seal to %s ingress: %s\n", hidden,
			strerror(-err));
		goto out;
	}
	err = attach(dp_open_fd(dp), underlay);
	if (err) {
		fprintf(stderr, "dp_attach: attach tc_open to %s ingress: %s\n", underlay,
			strerror(-err));
		goto out;
	}
	if (pin) {
		err = dp_pin_maps(dp, pin);
		if (err)
			fprintf(stderr, "dp_attach: pin maps under %s: %s\n", pin, strerror(-err));
	}
out:
	dp_destroy(dp);
	return err ? 1 : 0;
}
