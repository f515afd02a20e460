// SPDX-License-Identifier: GPL-2.0
/*
 * set.c - `bpftun set`, `bpftun syncconf` and `bpftun addconf`: live peer
 * changes with wg(8)'s meanings. The command line or file becomes a change
 * set (live.h); the tunnel's key manager applies it (over its control
 * socket), or, when none runs, this process does, with the same code.
 */
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>

#include "bpftun.h"
#include "config.h"
#include "datapath.h"
#include "keyring.h"
#include "live.h"
#include "netlink.h"

static void usage_set(FILE *f)
{
	fprintf(f,
		"usage: bpftun set IFNAME peer PUBKEY [remove] [allowed-ips IP/CIDR[,...]]\n"
		"                  [endpoint HOST:PORT] [persistent-keepalive N|off]\n"
		"                  [preshared-key FILE] [peer PUBKEY ...]\n"
		"       bpftun syncconf IFNAME FILE\n"
		"       bpftun addconf IFNAME FILE\n"
		"Changes a running tunnel's peers, as wg(8) does; the other peers' traffic,\n"
		"keys and counters are not touched. Peers are named by public key; a new one\n"
		"is added, `remove` removes one (its keys are deleted at once). allowed-ips\n"
		"replaces the peer's list (\"\" empties it). preshared-key: a key file with\n"
		"PrivateKeyFile's checks (mode 0600), /dev/null for none.\n"
		"syncconf: the running peers become exactly FILE's (added, changed, removed).\n"
		"addconf: FILE's peers are added; for running ones, its AllowedIPs are added and\n"
		"its Endpoint, PersistentKeepalive and PresharedKey set where given.\n"
		"FILE is a bpftun.conf(5) file; its [Interface] must match the running key,\n"
		"ListenPort and Cipher (its other keys are not applied). Everything is checked\n"
		"(keys, AllowedIPs owned by another peer, capacities, routes) before anything\n"
		"changes.\n");
}

/* Applied here (no key manager runs): the datapath, and for the live
 * PresharedKeys the key manager will read when it starts (keyring.h). */
struct set_here {
	struct datapath *dp;
	const char *ifname;
	int psk_err; /* a PresharedKey that could not be kept (-errno) */
};

static void remove_hook(void *arg, uint32_t id)
{
	struct set_here *h = arg;
	struct bpftun_sa_req req = {.op = BPFTUN_OP_DELETE_PEER, .peer_id = id};
	struct bpftun_peer p;
	char desc[BT_KR_PSK_DESC_LEN];

	if (!dp_get_peer(h->dp, id, &p) &&
	    !bt_kr_psk_desc(desc, sizeof(desc), h->ifname, p.public_key))
		bt_kr_purge(desc, 1, NULL, NULL);
	dp_sa_ctl(h->dp, &req);
}

/* The maps do not hold PresharedKeys: the key manager, when it starts,
 * takes them from the file, or from @u where a live change left one. */
static void added_hook(void *arg, uint32_t id, const struct live_peer *lp, int is_new)
{
	struct set_here *h = arg;
	char desc[BT_KR_PSK_DESC_LEN];
	int err;

	(void)id;
	(void)is_new;
	if (!(lp->flags & LIVE_PSK))
		return;
	err = bt_kr_psk_desc(desc, sizeof(desc), h->ifname, lp->p.public_key);
	err = err ?: bt_kr_psk_store(desc, lp->p.psk);
	if (err)
		h->psk_err = err;
}

/* Hand lp to the key manager, or apply it here when none runs. 0 or 1. */
static int apply(const char *ifname, enum live_mode mode, struct live_peer *lp, int n)
{
	int hidden = tunnel_hidden_ifindex(ifname), err;
	struct datapath *dp = NULL;
	struct bpftun_iface ifc;
	char msg[512] = "", path[128];

	if (hidden == -ENODEV) {
		pr_err("interface '%s': no such device", ifname);
		return 1;
	}
	if (hidden < 0) {
		pr_err("interface '%s': %s", ifname,
		       hidden == -ENOENT ? "not a bpftun tunnel" : strerror(-hidden));
		return 1;
	}
	err = dp_view(&dp, hidden);
	err = err ?: dp_get_iface(dp, &ifc);
	dp_destroy(dp);
	dp = NULL;
	if (err) {
		pr_err("interface '%s': reading the datapath: %s", ifname, strerror(-err));
		return 1;
	}
	if (keymgmt_running(ifc.keymgmt_pid)) {
		err = live_ctl_path(path, sizeof(path), ifname);
		err = err ?: live_ctl_send(path, mode, lp, n, msg, sizeof(msg));
		if (err == -ENOENT || err == -ECONNREFUSED)
			snprintf(msg, sizeof(msg),
				 "its key manager (pid %u) has no control socket at %s (an older "
				 "bpftun-keymgmt? restart it)",
				 ifc.keymgmt_pid, path);
	} else {
		/* nobody else writes the maps: apply here (sa_ctl needs the programs) */
		err = dp_find(&dp, hidden);
		if (err)
			snprintf(msg, sizeof(msg), "loading the datapath's programs: %s",
				 strerror(-err));
		else {
			struct set_here h = {.dp = dp, .ifname = ifname};

			err = live_apply(dp, nl_link_index(ifname), mode, lp, n,
					 &(struct live_hooks){
					     .arg = &h, .remove = remove_hook, .added = added_hook},
					 msg, sizeof(msg));
			if (!err && h.psk_err)
				pr_err(
				    "interface '%s': a PresharedKey could not be kept for the key "
				    "manager (user keyring: %s); it will use the file's",
				    ifname, strerror(-h.psk_err));
		}
		dp_destroy(dp);
	}
	if (err) {
		pr_err("interface '%s': %s", ifname, msg);
		return 1;
	}
	return 0;
}

static int parse_peer_args(const char *ifname, int argc, char **argv, struct live_peer **out,
			   int *nout)
{
	struct live_peer *lp = NULL, *cur = NULL;
	struct config_error e;
	int n = 0;

	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];
		char *val = i + 1 < argc ? argv[i + 1] : NULL;
		int r = 0;

		if (!strcmp(a, "peer")) {
			struct live_peer *nl;

			if (!val) {
				pr_err("set: 'peer' needs a public key");
				goto bad;
			}
			nl = realloc(lp, (size_t)(n + 1) * sizeof(*lp));
			if (!nl)
				goto bad;
			lp = nl;
			cur = &lp[n++];
			memset(cur, 0, sizeof(*cur));
			if (bt_key_from_base64(cur->p.public_key, val)) {
				pr_err(
				    "set: peer '%.60s': not a public key (44 characters of base64, "
				    "as bpftun pubkey prints)",
				    val);
				goto bad;
			}
			i++;
			continue;
		}
		if (!cur) {
			if (!strcmp(a, "listen-port") || !strcmp(a, "private-key") ||
			    !strcmp(a, "fwmark"))
				pr_err("set: '%s' is not changed on a running tunnel (bpftun down, "
				       "then up)",
				       a);
			else
				pr_err("set: '%s': expected 'peer PUBKEY'", a);
			goto bad;
		}
		if (!strcmp(a, "remove")) {
			cur->flags |= LIVE_REMOVE;
			continue;
		}
		if (!val) {
			pr_err("set: '%s': missing its value", a);
			goto bad;
		}
		i++;
		if (!strcmp(a, "allowed-ips")) {
			cur->p.nallowed = 0;
			r = bt_config_peer_value("set", &cur->p, "AllowedIPs", val, &e);
			cur->flags |= LIVE_ALLOWED;
		} else if (!strcmp(a, "endpoint")) {
			r = bt_config_peer_value("set", &cur->p, "Endpoint", val, &e);
			if (!r && cur->p.host[0]) { /* a host name: resolved now, as wg set */
				int g =
				    bt_resolve_host(cur->p.host, &cur->p.family, cur->p.endpoint);

				if (g) {
					pr_err("set: endpoint '%s': cannot resolve '%s': %s", val,
					       cur->p.host, gai_strerror(g));
					goto bad;
				}
			}
			cur->flags |= LIVE_ENDPOINT;
		} else if (!strcmp(a, "persistent-keepalive")) {
			r = bt_config_peer_value("set", &cur->p, "PersistentKeepalive", val, &e);
			cur->flags |= LIVE_KEEPALIVE;
		} else if (!strcmp(a, "preshared-key")) {
			cur->flags |= LIVE_PSK;
			if (strcmp(val, "/dev/null")) {
				r = bt_key_file_read("set", "preshared-key", val, cur->p.psk, &e);
				cur->p.have_psk = !r;
			}
		} else {
			pr_err("set: '%s': unknown peer option (remove, allowed-ips, endpoint, "
			       "persistent-keepalive, preshared-key)",
			       a);
			goto bad;
		}
		if (r) {
			fprintf(stderr, "%s\n", e.msg);
			goto bad;
		}
	}
	if (!n) {
		usage_set(stderr);
		free(lp);
		return 2;
	}
	(void)ifname;
	*out = lp;
	*nout = n;
	return 0;
bad:
	if (lp)
		sodium_memzero(lp, (size_t)n * sizeof(*lp));
	free(lp);
	return 1;
}

int set_main(int argc, char **argv)
{
	struct live_peer *lp = NULL;
	int n = 0, r;

	if (argc < 3) {
		int help = argc == 2 && !strcmp(argv[1], "--help");

		usage_set(help ? stdout : stderr);
		return help ? 0 : 2;
	}
	r = parse_peer_args(argv[1], argc - 2, argv + 2, &lp, &n);
	if (r)
		return r;
	r = apply(argv[1], LIVE_SET, lp, n);
	sodium_memzero(lp, (size_t)n * sizeof(*lp));
	free(lp);
	return r;
}

/* syncconf and addconf: FILE's peers as a change set. */
static int conf_main(int argc, char **argv, int sync)
{
	struct bt_config cfg;
	struct config_error e;
	struct datapath *dp = NULL;
	struct bpftun_iface ifc;
	struct live_peer *lp;
	uint8_t pub[32];
	int hidden, r = 1, err, running;

	if (argc != 3 || argv[1][0] == '-') {
		int help = argc == 2 && !strcmp(argv[1], "--help");

		usage_set(help ? stdout : stderr);
		return help ? 0 : 2;
	}
	if (bt_config_parse_file(argv[2], &cfg, &e) || bt_config_keyring_load(&cfg, argv[2], &e) ||
	    bt_config_resolve(&cfg, argv[2], &e)) {
		fprintf(stderr, "%s\n", e.msg);
		bt_config_free(&cfg);
		return 1;
	}
	/* the [Interface] must be the running one's (wg would change it) */
	hidden = tunnel_hidden_ifindex(argv[1]);
	err = hidden < 0 ? hidden : dp_view(&dp, hidden);
	err = err ?: dp_get_iface(dp, &ifc);
	dp_destroy(dp);
	if (err) {
		pr_err("interface '%s': %s", argv[1],
		       err == -ENODEV	? "no such device"
		       : err == -ENOENT ? "not a bpftun tunnel"
					: strerror(-err));
		goto out;
	}
	crypto_scalarmult_base(pub, cfg.private_key);
	if (sodium_memcmp(pub, ifc.public_key, 32)) {
		pr_err(
		    "%s: PrivateKey: not the running tunnel's key (changing it needs bpftun down, "
		    "then up)",
		    argv[2]);
		goto out;
	}
	if (cfg.listen_port && cfg.listen_port != ifc.listen_port) {
		pr_err("%s: ListenPort: %u, the running tunnel's is %u (changing it needs bpftun "
		       "down, then up)",
		       argv[2], cfg.listen_port, ifc.listen_port);
		goto out;
	}
	/* only the WireGuard suite records this cipher */
	running = strcmp(ifc.cipher, "chacha20-poly1305") ? BT_PROTO_BPFTUN : BT_PROTO_WIREGUARD;
	if (cfg.protocol != running) {
		pr_err("%s: Protocol: %s, the running tunnel's is %s (changing it needs bpftun "
		       "down, then up)",
		       argv[2], cfg.protocol == BT_PROTO_WIREGUARD ? "wireguard" : "bpftun",
		       running == BT_PROTO_WIREGUARD ? "wireguard" : "bpftun");
		goto out;
	}
	if (running == BT_PROTO_BPFTUN && strcmp(cfg.kernel_algo, ifc.algo)) {
		pr_err("%s: Cipher: %s, the running tunnel's is %s (changing it needs bpftun down, "
		       "then up)",
		       argv[2], cfg.cipher, ifc.cipher);
		goto out;
	}
	lp = calloc((size_t)cfg.npeers + 1, sizeof(*lp));
	if (!lp)
		goto out;
	for (int i = 0; i < cfg.npeers; i++) {
		lp[i].p = cfg.peers[i];
		lp[i].flags = (sync ? LIVE_ALLOWED | LIVE_KEEPALIVE | LIVE_PSK : LIVE_ALLOWED_ADD) |
			      (cfg.peers[i].have_endpoint ? LIVE_ENDPOINT : 0) |
			      (!sync && cfg.peers[i].keepalive ? LIVE_KEEPALIVE : 0) |
			      (!sync && cfg.peers[i].have_psk ? LIVE_PSK : 0);
	}
	r = apply(argv[1], sync ? LIVE_SYNC : LIVE_SET, lp, cfg.npeers);
	sodium_memzero(lp, (size_t)cfg.npeers * sizeof(*lp));
	free(lp);
out:
	sodium_memzero(pub, sizeof(pub));
	bt_config_free(&cfg);
	return r;
}

int syncconf_main(int argc, char **argv)
{
	return conf_main(argc, argv, 1);
}

int addconf_main(int argc, char **argv)
{
	return conf_main(argc, argv, 0);
}
