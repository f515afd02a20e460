// SPDX-License-Identifier: GPL-2.0
/*
 * show.c - `bpftun show`: text and JSON from one code path.
 *
 * Everything shown is read from the datapath's maps, found from the tunnel
 * device (dp_view: map IDs from the program info of the device's tc filter;
 * nothing is loaded or verified), so `show` works from any process in the
 * namespace, whatever mount namespace `ip netns exec` gave it. Private keys
 * are never read here: the maps do not hold them.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <sodium.h>

#include "bpftun.h"
#include "config.h"
#include "keyring.h"
#include "datapath.h"
#include "underlay.h"

/* The emitter: JSON, or wg-style indented text, from the same calls. */
struct out {
	int json;
	int first; /* no comma needed before the next JSON member */
};

static void sep(struct out *o)
{
	if (o->json && !o->first)
		putchar(',');
	o->first = 0;
}

static void json_str(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			printf("\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			printf("\\u%04x", *s);
		else
			putchar(*s);
	}
	putchar('"');
}

static void out_open(struct out *o, const char *key, char bracket)
{
	if (!o->json)
		return;
	sep(o);
	if (key) {
		json_str(key);
		putchar(':');
	}
	putchar(bracket);
	o->first = 1;
}

static void out_close(struct out *o, char bracket)
{
	if (!o->json)
		return;
	putchar(bracket);
	o->first = 0;
}

/* key: JSON member name; label: text label (NULL: not shown in text). */
static void out_str(struct out *o, const char *key, const char *label, const char *v)
{
	if (o->json) {
		sep(o);
		if (key) {
			json_str(key);
			putchar(':');
		}
		json_str(v);
	} else if (label) {
		printf("  %s: %s\n", label, v);
	}
}

static void out_u64(struct out *o, const char *key, const char *label, unsigned long long v)
{
	if (o->json) {
		sep(o);
		json_str(key);
		printf(":%llu", v);
	} else if (label) {
		printf("  %s: %llu\n", label, v);
	}
}

static void key_b64(const uint8_t key[32], char out[BT_KEY_B64_LEN + 1])
{
	bt_key_to_base64(out, key);
}

static void fmt_addr(int v6, const uint8_t *a, uint16_t port_be, char *buf, size_t len)
{
	char ip[INET6_ADDRSTRLEN];

	inet_ntop(v6 ? AF_INET6 : AF_INET, a, ip, sizeof(ip));
	snprintf(buf, len, v6 ? "[%s]:%u" : "%s:%u", ip, ntohs(port_be));
}

static void fmt_ago(unsigned long long t, char *buf, size_t len)
{
	long long d = (long long)time(NULL) - (long long)t;

	if (!t)
		snprintf(buf, len, "(none)");
	else if (d < 60)
		snprintf(buf, len, "%lld second%s ago", d, d == 1 ? "" : "s");
	else if (d < 3600)
		snprintf(buf, len, "%lld minutes, %lld seconds ago", d / 60, d % 60);
	else
		snprintf(buf, len, "%lld hours, %lld minutes ago", d / 3600, (d / 60) % 60);
}

static void fmt_bytes(unsigned long long b, char *buf, size_t len)
{
	const char *u[] = {"B", "KiB", "MiB", "GiB", "TiB"};
	double v = (double)b;
	int i = 0;

	while (v >= 1024 && i < 4) {
		v /= 1024;
		i++;
	}
	snprintf(buf, len, i ? "%.2f %s" : "%.0f %s", v, u[i]);
}

/* Drop counters by reason: a "drops" object in JSON, one line in text. */
static void show_drops(struct out *o, const char *label, const struct bpftun_peer_stats *st)
{
	out_open(o, "drops", '{');
	if (!o->json)
		printf("  %s:", label);
	for (unsigned int r = 1; r < BPFTUN_DROP_MAX; r++) {
		if (o->json)
			out_u64(o, bpftun_drop_name(r), NULL, st->drops[r]);
		else
			printf(" %s %llu%s", bpftun_drop_name(r), (unsigned long long)st->drops[r],
			       r + 1 < BPFTUN_DROP_MAX ? "," : "\n");
	}
	out_close(o, '}');
}

/* Every entry of allowed_ips, read once per datapath and sorted by peer id
 * (then by the trie's order), so that showing n peers costs one walk of the
 * trie and not n walks: 10,000 peers took minutes. Keyed by the map's id. */
struct allowed_entry {
	struct bpftun_lpm_key key;
	uint32_t id, order;
};
static struct {
	uint32_t map_id;
	struct allowed_entry *v;
	size_t n;
} allowed_cache;

static int allowed_cmp(const void *a, const void *b)
{
	const struct allowed_entry *x = a, *y = b;

	if (x->id != y->id)
		return x->id < y->id ? -1 : 1;
	return x->order < y->order ? -1 : x->order > y->order;
}

static void allowed_load(int fd)
{
	struct bpf_map_info info = {0};
	uint32_t len = sizeof(info);
	struct bpftun_lpm_key key, next;
	void *prev = NULL;
	size_t cap = 0;

	if (bpf_obj_get_info_by_fd(fd, &info, &len) || info.id == allowed_cache.map_id)
		return;
	free(allowed_cache.v);
	memset(&allowed_cache, 0, sizeof(allowed_cache));
	allowed_cache.map_id = info.id;
	while (!bpf_map_get_next_key(fd, prev, &next)) {
		uint32_t id;

		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(fd, &key, &id))
			continue;
		if (allowed_cache.n == cap) {
			size_t nc = cap ? cap * 2 : 256;
			struct allowed_entry *nv = realloc(allowed_cache.v, nc * sizeof(*nv));

			if (!nv)
				break;
			allowed_cache.v = nv;
			cap = nc;
		}
		allowed_cache.v[allowed_cache.n] = (struct allowed_entry){
		    .key = key, .id = id, .order = (uint32_t)allowed_cache.n};
		allowed_cache.n++;
	}
	if (allowed_cache.n)
		qsort(allowed_cache.v, allowed_cache.n, sizeof(*allowed_cache.v), allowed_cmp);
}

static void show_allowed(struct out *o, struct datapath *dp, uint32_t peer_id)
{
	char text[1024] = "";
	size_t used = 0, lo = 0, hi;
	int fd = dp_map_fd(dp, "allowed_ips");

	if (fd >= 0)
		allowed_load(fd);
	/* the first entry of peer_id */
	for (hi = allowed_cache.n; lo < hi;) {
		size_t mid = lo + (hi - lo) / 2;

		if (allowed_cache.v[mid].id < peer_id)
			lo = mid + 1;
		else
			hi = mid;
	}
	out_open(o, "allowed_ips", '[');
	for (size_t i = lo; fd >= 0 && i < allowed_cache.n && allowed_cache.v[i].id == peer_id;
	     i++) {
		const struct bpftun_lpm_key *key = &allowed_cache.v[i].key;
		char ip[INET6_ADDRSTRLEN], pfx[INET6_ADDRSTRLEN + 8];

		inet_ntop(key->family == 6 ? AF_INET6 : AF_INET, key->addr, ip, sizeof(ip));
		snprintf(pfx, sizeof(pfx), "%s/%u", ip, key->prefixlen - BPFTUN_LPM_FAMILY_BITS);
		if (o->json)
			out_str(o, NULL, NULL, pfx);
		else if (used + strlen(pfx) + 3 < sizeof(text))
			used += (size_t)snprintf(text + used, sizeof(text) - used, "%s%s",
						 used ? ", " : "", pfx);
	}
	out_close(o, ']');
	if (!o->json)
		printf("  allowed ips: %s\n", used ? text : "(none)");
}

static void show_peer(struct out *o, struct datapath *dp, uint32_t id, const struct bpftun_peer *p)
{
	struct bpftun_peer_stats st = {0};
	char b64[BT_KEY_B64_LEN + 1], buf[128], rx[32], tx[32];
	int have_ep = 0;

	dp_peer_stats(dp, id, &st);
	key_b64(p->public_key, b64);
	for (int i = 0; i < 16; i++)
		have_ep |= p->ep.daddr[i];
	if (!o->json)
		printf("\npeer: %s\n", b64);
	out_open(o, NULL, '{');
	out_str(o, "public_key", NULL, b64);
	if (have_ep)
		fmt_addr(p->ep.flags & BPFTUN_EP_V6, p->ep.daddr, p->ep.dport, buf, sizeof(buf));
	else
		snprintf(buf, sizeof(buf), "(none)");
	out_str(o, "endpoint", "endpoint", buf);
	show_allowed(o, dp, id);
	fmt_ago(p->last_handshake, buf, sizeof(buf));
	if (o->json)
		out_u64(o, "latest_handshake", NULL, p->last_handshake);
	else
		printf("  latest handshake: %s\n", buf);
	out_u64(o, "rx_bytes", NULL, st.rx_bytes);
	out_u64(o, "tx_bytes", NULL, st.tx_bytes);
	out_u64(o, "rx_packets", NULL, st.rx_packets);
	out_u64(o, "tx_packets", NULL, st.tx_packets);
	if (!o->json) {
		fmt_bytes(st.rx_bytes, rx, sizeof(rx));
		fmt_bytes(st.tx_bytes, tx, sizeof(tx));
		printf("  transfer: %s received, %s sent\n", rx, tx);
		printf("  packets: %llu received, %llu sent\n", (unsigned long long)st.rx_packets,
		       (unsigned long long)st.tx_packets);
	}
	if (p->keepalive)
		out_u64(o, "persistent_keepalive", "persistent keepalive", p->keepalive);
	show_drops(o, "drops", &st);
	out_close(o, '}');
}

/* Steering: the setting, and the counters of this tunnel's xdp_steer summed
 * over its underlays (steer_read_stats): redirects per target CPU, ESP. */
static void show_steering(struct out *o, const struct bpftun_iface *ifc)
{
	struct bpftun_steer_stats sum = {0};
	int ncpu = libbpf_num_possible_cpus(), found = 0;

	out_str(o, "steering", "steering", ifc->steering ? "on" : "off");
	if (!ifc->steering)
		return;
	if (ncpu <= 0 || ncpu > BPFTUN_STEER_MAX_CPUS)
		ncpu = BPFTUN_STEER_MAX_CPUS;
	for (uint32_t i = 0; i < ifc->nunderlays && i < BPFTUN_MAX_UNDERLAYS; i++) {
		struct bpftun_steer_stats st;

		if (underlay_steer_find((int)ifc->underlays[i], ifc->listen_port, &st))
			continue;
		found++;
		/* every member is a __u64 (not uint64_t: that type would alias) */
		for (size_t k = 0; k < sizeof(st) / sizeof(__u64); k++)
			((__u64 *)&sum)[k] += ((const __u64 *)&st)[k];
	}
	out_open(o, "steer", '{');
	out_u64(o, "underlays_steered", "steering underlays", (unsigned long long)found);
	out_u64(o, "steered", "steered", sum.steered);
	out_u64(o, "data_marked", NULL, sum.data_marked);
	out_u64(o, "data_unmarked", NULL, sum.data_unmarked);
	out_u64(o, "no_cpu", NULL, sum.no_cpu);
	out_u64(o, "transit", NULL, sum.transit);
	out_open(o, "to_cpu", '[');
	if (!o->json)
		printf("  steered per cpu:");
	for (int c = 0; c < ncpu; c++) {
		if (o->json) {
			sep(o);
			printf("%llu", (unsigned long long)sum.to_cpu[c]);
		} else {
			printf(" cpu%d %llu%s", c, (unsigned long long)sum.to_cpu[c],
			       c + 1 < ncpu ? "," : "\n");
		}
	}
	out_close(o, ']');
	if (!o->json)
		printf("  data: marked %llu, unmarked %llu, no cpu %llu, transit %llu\n",
		       (unsigned long long)sum.data_marked, (unsigned long long)sum.data_unmarked,
		       (unsigned long long)sum.no_cpu, (unsigned long long)sum.transit);
	out_u64(o, "esp_found", NULL, sum.esp_found);
	out_u64(o, "esp_not_found", NULL, sum.esp_not_found);
	out_u64(o, "esp_error", NULL, sum.esp_error);
	out_u64(o, "esp_steered", NULL, sum.esp_steered);
	if (!o->json)
		printf("  esp: found %llu, not found %llu, error %llu, steered %llu\n",
		       (unsigned long long)sum.esp_found, (unsigned long long)sum.esp_not_found,
		       (unsigned long long)sum.esp_error, (unsigned long long)sum.esp_steered);
	out_close(o, '}');
}

static int show_iface(struct out *o, const char *name, int hidden)
{
	struct datapath *dp = NULL;
	struct bpftun_iface ifc;
	struct bpftun_peer_stats un = {0};
	char b64[BT_KEY_B64_LEN + 1];
	int err;

	err = dp_view(&dp, hidden);
	if (err)
		return err;
	err = dp_get_iface(dp, &ifc);
	if (err)
		goto out;
	key_b64(ifc.public_key, b64);
	if (!o->json)
		printf("interface: %s\n", name);
	out_open(o, NULL, '{');
	out_str(o, "name", NULL, name);
	out_str(o, "public_key", "public key", b64);
	out_u64(o, "listen_port", "listening port", ifc.listen_port);
	out_u64(o, "mtu", "mtu", ifc.mtu);
	if (ifc.fwmark)
		out_u64(o, "fwmark", "fwmark", ifc.fwmark);
	if (ifc.rt_table)
		out_u64(o, "table", "policy table", ifc.rt_table);
	/* the suite (Protocol): only WireGuard's has this cipher */
	out_str(o, "protocol", "protocol",
		strcmp(ifc.cipher, "chacha20-poly1305") ? "bpftun" : "wireguard");
	out_str(o, "cipher", "cipher", ifc.cipher[0] ? ifc.cipher : "aes-fixed-time");
	show_steering(o, &ifc);
	/* PrivateKeyKeyring: the identity key's state now (ok, revoked,
	 * expired, missing); the key manager stops the tunnel on any but ok */
	if (ifc.keyring_serial > 0) {
		out_str(o, "identity_key", "identity key",
			bt_kr_state_name(bt_kr_state(ifc.keyring_serial)));
		/* SA installs the BPF gate (sa_ctl_keyring) refused, counted by
		 * the gate itself, and why the last one was */
		out_u64(o, "key_gate_refused", "key gate refusals", ifc.keyring_refused);
		if (ifc.keyring_refused)
			out_str(o, "key_gate_last", "key gate last refusal",
				bt_kr_state_name(ifc.keyring_last_err));
	}
	/* a pid recorded by a key manager that has since died is not shown */
	if (keymgmt_running(ifc.keymgmt_pid))
		out_u64(o, "keymgmt_pid", "key manager pid", ifc.keymgmt_pid);
	else
		out_str(o, "keymgmt", "key manager", "not running");
	/* drops no peer can be blamed for (unknown index, malformed...) */
	dp_peer_stats(dp, BPFTUN_NO_PEER, &un);
	show_drops(o, "drops (no peer)", &un);
	out_open(o, "peers", '[');
	for (uint32_t id = 0; id < dp_max_peers(dp); id++) {
		struct bpftun_peer p;

		if (dp_get_peer(dp, id, &p) || !p.present)
			continue;
		show_peer(o, dp, id, &p);
	}
	out_close(o, ']');
	out_close(o, '}');
out:
	dp_destroy(dp);
	return err;
}

/* ------------------------------------------------------------------ dump */

/* Allowed IPs of peer_id as wg's dump prints them: "a/n,b/m" or "(none)". */
static void dump_allowed(struct datapath *dp, uint32_t peer_id)
{
	struct bpftun_lpm_key key, next;
	void *prev = NULL;
	int fd = dp_map_fd(dp, "allowed_ips"), n = 0;

	while (fd >= 0 && !bpf_map_get_next_key(fd, prev, &next)) {
		uint32_t id;
		char ip[INET6_ADDRSTRLEN];

		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(fd, &key, &id) || id != peer_id)
			continue;
		inet_ntop(key.family == 6 ? AF_INET6 : AF_INET, key.addr, ip, sizeof(ip));
		printf("%s%s/%u", n++ ? "," : "", ip, key.prefixlen - BPFTUN_LPM_FAMILY_BITS);
	}
	if (!n)
		fputs("(none)", stdout);
}

/*
 * wg(8)'s `dump` format, tab-separated. Interface line: private-key
 * public-key listen-port fwmark; one line per peer: public-key preshared-key
 * endpoint allowed-ips latest-handshake transfer-rx transfer-tx
 * persistent-keepalive, then bpftun's drop counters, one column per reason
 * in bpftun_drop_name order. The private key is never printed: "(hidden)".
 * prefix: "IFNAME\t" for `show all dump`, else "".
 */
static int dump_iface(const char *prefix, int hidden)
{
	struct datapath *dp = NULL;
	struct bpftun_iface ifc;
	char b64[BT_KEY_B64_LEN + 1], buf[128];
	int err;

	err = dp_view(&dp, hidden);
	if (err)
		return err;
	err = dp_get_iface(dp, &ifc);
	if (err)
		goto out;
	key_b64(ifc.public_key, b64);
	if (ifc.fwmark) /* as wg: 0x hex, or off */
		printf("%s(hidden)\t%s\t%u\t0x%x\n", prefix, b64, (unsigned int)ifc.listen_port,
		       ifc.fwmark);
	else
		printf("%s(hidden)\t%s\t%u\toff\n", prefix, b64, (unsigned int)ifc.listen_port);
	for (uint32_t id = 0; id < dp_max_peers(dp); id++) {
		struct bpftun_peer p;
		struct bpftun_peer_stats st = {0};
		int have_ep = 0;

		if (dp_get_peer(dp, id, &p) || !p.present)
			continue;
		dp_peer_stats(dp, id, &st);
		for (int i = 0; i < 16; i++)
			have_ep |= p.ep.daddr[i];
		if (have_ep)
			fmt_addr(p.ep.flags & BPFTUN_EP_V6, p.ep.daddr, p.ep.dport, buf,
				 sizeof(buf));
		else
			snprintf(buf, sizeof(buf), "(none)");
		key_b64(p.public_key, b64);
		printf("%s%s\t(none)\t%s\t", prefix, b64, buf);
		dump_allowed(dp, id);
		printf("\t%llu\t%llu\t%llu\t", (unsigned long long)p.last_handshake,
		       (unsigned long long)st.rx_bytes, (unsigned long long)st.tx_bytes);
		if (p.keepalive)
			printf("%u", (unsigned int)p.keepalive);
		else
			fputs("off", stdout);
		for (unsigned int r = 1; r < BPFTUN_DROP_MAX; r++)
			printf("\t%llu", (unsigned long long)st.drops[r]);
		putchar('\n');
	}
out:
	dp_destroy(dp);
	return err;
}

static void show_find_err(const char *name, int err)
{
	if (err == -ENODEV)
		pr_err("interface '%s': no such device", name);
	else if (err == -EPERM || err == -EACCES)
		pr_err("interface '%s': reading its tc filter's BPF program "
		       "(bpf_prog_get_fd_by_id): %s (show needs root: CAP_SYS_ADMIN)",
		       name, strerror(-err));
	else
		pr_err("interface '%s': not a bpftun tunnel", name);
}

void usage_show(FILE *f)
{
	fprintf(
	    f, "usage: bpftun show [IFNAME] [--json]\n"
	       "       bpftun show {IFNAME|all} dump\n"
	       "Shows each bpftun interface (or IFNAME): public key, port, MTU, protocol, cipher,\n"
	       "and per peer: endpoint, allowed IPs, latest handshake, traffic, drops by\n"
	       "reason.\n"
	       "Private keys are never shown. --json prints the same as one JSON object.\n"
	       "dump: wg(8)'s tab-separated dump format (private key shown as (hidden)),\n"
	       "then the drop counters by reason as extra columns on peer lines.\n");
}

int show_main(int argc, char **argv)
{
	struct out o = {.first = 1};
	const char *only = NULL;
	struct if_nameindex *ifs, *i;
	int shown = 0, err = 0, hidden, dump = 0, all = 0;

	for (int a = 1; a < argc; a++) {
		if (!strcmp(argv[a], "--json") || !strcmp(argv[a], "-j"))
			o.json = 1;
		else if (!strcmp(argv[a], "--help") || !strcmp(argv[a], "help"))
			return usage_show(stdout), 0;
		else if (!strcmp(argv[a], "dump") && only && !dump)
			dump = 1;
		else if (argv[a][0] == '-' || only)
			return pr_err("show: unexpected argument '%s'", argv[a]),
			       usage_show(stderr), 2;
		else
			only = argv[a];
	}
	if (dump && o.json)
		return pr_err("show: dump and --json exclude each other"), usage_show(stderr), 2;
	if (only && !strcmp(only, "all"))
		only = NULL, all = dump;
	if (only) {
		int hidden = tunnel_hidden_ifindex(only);

		if (hidden < 0)
			return show_find_err(only, hidden), 1;
	}
	/* find every tunnel before printing anything: an error (not root)
	 * prints no partial output, above all no empty JSON list */
	ifs = if_nameindex();
	for (i = ifs; i && i->if_index; i++) {
		if (only && strcmp(only, i->if_name))
			continue;
		hidden = tunnel_hidden_ifindex(i->if_name);
		if (hidden == -EPERM || hidden == -EACCES) {
			show_find_err(i->if_name, hidden);
			if_freenameindex(ifs);
			return 1;
		}
	}
	if (dump) {
		for (i = ifs; i && i->if_index && !err; i++) {
			char prefix[IF_NAMESIZE + 2] = "";

			if (only && strcmp(only, i->if_name))
				continue;
			hidden = tunnel_hidden_ifindex(i->if_name);
			if (hidden < 0)
				continue;
			if (all)
				snprintf(prefix, sizeof(prefix), "%s\t", i->if_name);
			err = dump_iface(prefix, hidden);
			if (err)
				pr_err("interface '%s': reading the datapath's maps: %s",
				       i->if_name, strerror(-err));
		}
		if_freenameindex(ifs);
		return err ? 1 : 0;
	}
	out_open(&o, NULL, '{');
	out_open(&o, "interfaces", '[');
	for (i = ifs; i && i->if_index; i++) {
		if (only && strcmp(only, i->if_name))
			continue;
		hidden = tunnel_hidden_ifindex(i->if_name);
		if (hidden < 0)
			continue;
		if (!o.json && shown)
			putchar('\n');
		err = show_iface(&o, i->if_name, hidden);
		if (err) {
			pr_err("interface '%s': reading the datapath's maps: %s", i->if_name,
			       strerror(-err));
			break;
		}
		shown++;
	}
	if_freenameindex(ifs);
	out_close(&o, ']');
	out_close(&o, '}');
	if (o.json)
		putchar('\n');
	return err ? 1 : 0;
}
