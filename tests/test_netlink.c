// SPDX-License-Identifier: GPL-2.0
/*
 * test_netlink.c - tunnel/netlink.c against the running kernel, inside a
 * private network namespace (unshare(CLONE_NEWNET) first thing; it goes away
 * with the process, so nothing is left on the host). Each fact is checked
 * through netlink.c's own getters and, independently, through what
 * `ip -j`, `ethtool -k` and `tc -j` report. Needs root, ip, ethtool, tc.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* unshare, setns */
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>
#include <linux/rtnetlink.h>

#include "netlink.h"
#include "check.h"

/* ---- running tools ------------------------------------------------------ */

/* Output of a shell command (malloc'd, never NULL); *status: exit code. */
__attribute__((format(printf, 2, 3))) static char *run(int *status, const char *fmt, ...)
{
	char cmd[512];
	size_t len = 0, cap = 4096;
	char *buf = malloc(cap);
	va_list ap;
	FILE *p;
	int st;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	if (!buf)
		abort();
	buf[0] = '\0';
	p = popen(cmd, "r");
	if (!p) {
		if (status)
			*status = -1;
		return buf;
	}
	for (;;) {
		size_t n;

		if (cap - len < 2048) {
			cap *= 2;
			buf = realloc(buf, cap);
			if (!buf)
				abort();
		}
		n = fread(buf + len, 1, cap - len - 1, p);
		if (!n)
			break;
		len += n;
	}
	buf[len] = '\0';
	st = pclose(p);
	if (status)
		*status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
	return buf;
}

/* Run and discard output; exit status. */
__attribute__((format(printf, 1, 2))) static int sh(const char *fmt, ...)
{
	char cmd[512];
	va_list ap;
	int st;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	st = system(cmd);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* ---- just enough JSON (iproute2's compact -j output) ------------------ */

static int count(const char *s, const char *sub)
{
	int n = 0;

	for (s = strstr(s, sub); s; s = strstr(s + 1, sub))
		n++;
	return n;
}

/* Number after "key": in s, or -1. */
static long json_num(const char *s, const char *key)
{
	char k[64];
	const char *p;

	snprintf(k, sizeof(k), "\"%s\":", key);
	p = strstr(s, k);
	return p ? strtol(p + strlen(k), NULL, 10) : -1;
}

/* String after "key": into buf; 0 if found. */
static int json_str(const char *s, const char *key, char *buf, size_t n)
{
	char k[64];
	const char *p, *e;

	snprintf(k, sizeof(k), "\"%s\":\"", key);
	p = strstr(s, k);
	if (!p)
		return -1;
	p += strlen(k);
	e = strchr(p, '"');
	if (!e || (size_t)(e - p) >= n)
		return -1;
	memcpy(buf, p, e - p);
	buf[e - p] = '\0';
	return 0;
}

/* Does the "key":[...] array in s contain "item"? */
static int json_arr_has(const char *s, const char *key, const char *item)
{
	char k[64], it[64];
	const char *p, *e;

	snprintf(k, sizeof(k), "\"%s\":[", key);
	snprintf(it, sizeof(it), "\"%s\"", item);
	p = strstr(s, k);
	if (!p)
		return 0;
	e = strchr(p, ']');
	for (const char *q = strstr(p, it); q; q = strstr(q + 1, it))
		if (q < e)
			return 1;
	return 0;
}

/* Is there a flat {...} object in s containing both kv1 and kv2? */
static int json_obj_has(const char *s, const char *kv1, const char *kv2)
{
	for (const char *p = strstr(s, kv1); p; p = strstr(p + 1, kv1)) {
		const char *b = p, *e = strchr(p, '}');

		while (b > s && *b != '{')
			b--;
		for (const char *q = strstr(b, kv2); q && e; q = strstr(q + 1, kv2))
			if (q < e)
				return 1;
	}
	return 0;
}

/* "off"/"on" value of a line "name: value" in ethtool -k output. */
static int ethtool_is_off(const char *out, const char *feature)
{
	char k[80];

	snprintf(k, sizeof(k), "\n%s: off", feature);
	return strstr(out, k) != NULL;
}

/* ---- capturing netlink.c's messages ------------------------------------ */

static char cap_text[4096];
static int cap_saved = -1;
static FILE *cap_file;

static void cap_begin(void)
{
	fflush(stderr);
	cap_file = tmpfile();
	cap_saved = dup(2);
	if (!cap_file || cap_saved < 0 || dup2(fileno(cap_file), 2) < 0)
		abort();
}

static const char *cap_end(void)
{
	size_t n;

	fflush(stderr);
	dup2(cap_saved, 2);
	close(cap_saved);
	rewind(cap_file);
	n = fread(cap_text, 1, sizeof(cap_text) - 1, cap_file);
	cap_text[n] = '\0';
	fclose(cap_file);
	if (n)
		printf("  stderr: %s", cap_text);
	return cap_text;
}

/* ---- helpers ------------------------------------------------------------ */

static int exists(const char *name)
{
	return sh("ip link show dev %s >/dev/null 2>&1", name) == 0;
}

static uint32_t fnv1a(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s; s++) {
		h ^= (uint8_t)*s;
		h *= 16777619u;
	}
	return h;
}

static void fmt_mac(const uint8_t *m, char *buf)
{
	sprintf(buf, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
}

static int ip_eq(int af, const uint8_t *a, const char *text)
{
	uint8_t b[16];

	return inet_pton(af, text, b) == 1 && !memcmp(a, b, af == AF_INET ? 4 : 16);
}

static void pton(int af, const char *text, uint8_t *out)
{
	if (inet_pton(af, text, out) != 1)
		abort();
}

/* ---- the tests ---------------------------------------------------------- */

static void test_peer_names(void)
{
	char out[IFNAMSIZ], want[IFNAMSIZ];

	check(!nl_tunnel_peer_name("bt0", out) && !strcmp(out, "bt0-s"),
	      "peer name of 'bt0' is 'bt0-s' (got '%s')", out);
	check(!nl_tunnel_peer_name("abcdefghijkl", out) && !strcmp(out, "abcdefghijkl-s"),
	      "12-char name keeps the '-s' rule (got '%s')", out);
	snprintf(want, sizeof(want), "bts%08x", fnv1a("abcdefghijklm"));
	check(!nl_tunnel_peer_name("abcdefghijklm", out) && !strcmp(out, want),
	      "13-char name uses bts+FNV-1a: '%s' (want '%s')", out, want);
	check(nl_tunnel_peer_name("", out) == -EINVAL, "empty name is -EINVAL");
	check(nl_tunnel_peer_name("0123456789abcdef", out) == -EINVAL, "16-char name is -EINVAL");
}

static void test_create(struct nl_tunnel *t)
{
	char *out, buf[64], mac[18];
	struct nl_tunnel g;
	int err, st;

	err = nl_tunnel_create("bt0", 1420, t);
	check(err == 0, "nl_tunnel_create(bt0, 1420) = %d", err);
	if (err)
		return;

	/* Own getters. */
	check(t->ifindex > 0 && nl_link_index("bt0") == t->ifindex, "bt0 exists, ifindex %d",
	      t->ifindex);
	check(!strcmp(t->peer_name, "bt0-s") && nl_link_index("bt0-s") == t->peer_ifindex,
	      "hidden peer '%s' exists, ifindex %d", t->peer_name, t->peer_ifindex);
	check(nl_veth_peer_ifindex(t->ifindex) == t->peer_ifindex &&
		  nl_veth_peer_ifindex(t->peer_ifindex) == t->ifindex,
	      "nl_veth_peer_ifindex pairs %d <-> %d", t->ifindex, t->peer_ifindex);
	check(t->mtu == 1420 && t->features_on == 0, "out: mtu %u, offloads on 0x%x", t->mtu,
	      t->features_on);
	err = nl_tunnel_get("bt0", &g);
	check(!err && g.ifindex == t->ifindex && g.peer_ifindex == t->peer_ifindex &&
		  g.mtu == 1420 && !g.features_on && !memcmp(g.mac, t->mac, 6) &&
		  !strcmp(g.peer_name, "bt0-s"),
	      "nl_tunnel_get(bt0) agrees (err %d, offloads on 0x%x)", err, g.features_on);
	uint8_t m[6];
	check(!nl_link_mac(t->ifindex, m) && !memcmp(m, t->mac, 6), "nl_link_mac(bt0) = out.mac");

	/* What ip says. */
	out = run(&st, "ip -d -j link show dev bt0");
	fmt_mac(t->mac, mac);
	check(st == 0, "ip -d -j link show bt0");
	check(json_num(out, "mtu") == 1420, "ip: bt0 mtu %ld", json_num(out, "mtu"));
	check(json_arr_has(out, "flags", "NOARP"), "ip: bt0 has NOARP");
	check(json_arr_has(out, "flags", "UP") && json_arr_has(out, "flags", "LOWER_UP"),
	      "ip: bt0 is UP, LOWER_UP");
	check(strstr(out, "\"info_kind\":\"veth\"") != NULL, "ip: bt0 is a veth");
	check(!json_str(out, "link", buf, sizeof(buf)) && !strcmp(buf, "bt0-s"),
	      "ip: bt0's link is '%s'", buf);
	check(!json_str(out, "address", buf, sizeof(buf)) && !strcmp(buf, mac),
	      "ip: bt0 address %s = out.mac %s", buf, mac);
	free(out);
	out = run(&st, "ip -j link show dev bt0-s");
	check(st == 0 && json_arr_has(out, "flags", "UP") && strstr(out, "\"operstate\":\"UP\"") &&
		  json_num(out, "mtu") == 1420,
	      "ip: bt0-s is up, operstate UP, mtu %ld", json_num(out, "mtu"));
	free(out);

	/* bpftun's mark: the hidden end's link group, set on creation. */
	out = run(&st, "ip -d -j link show dev bt0-s");
	check(st == 0 && strstr(out, "\"group\":\"1651799406\"") != NULL,
	      "ip: bt0-s is in link group %u (bpftun's mark)", NL_TUNNEL_GROUP);
	free(out);
	check(nl_tunnel_marked("bt0") == t->peer_ifindex, "nl_tunnel_marked(bt0) = %d (hidden end)",
	      nl_tunnel_marked("bt0"));
	check(nl_tunnel_marked("bt0-s") == -ENOENT, "nl_tunnel_marked(bt0-s): not a tunnel name");
	check(nl_tunnel_marked("nosuch0") == -ENODEV, "nl_tunnel_marked(nosuch0) = -ENODEV");
	/* the same shape made by someone else is not ours */
	sh("ip link add bt5 type veth peer name bt5-s");
	check(nl_tunnel_marked("bt5") == -ENOENT,
	      "an unmarked veth pair bt5/bt5-s is not marked (%d)", nl_tunnel_marked("bt5"));
	sh("ip link del bt5");
	{
		int had = nl_clsact_exists(t->peer_ifindex);

		check(had == 0, "nl_clsact_exists(bt0-s) = %d before any clsact", had);
	}

	/* What ethtool says. */
	out = run(&st, "ethtool -k bt0");
	check(st == 0 && ethtool_is_off(out, "tx-checksumming"), "ethtool: tx-checksumming off");
	check(ethtool_is_off(out, "tcp-segmentation-offload"), "ethtool: tso off");
	check(ethtool_is_off(out, "generic-segmentation-offload"), "ethtool: gso off");
	free(out);
}

static void test_create_refused(const struct nl_tunnel *t)
{
	char *before, *after;
	const char *msg;
	int err;

	before = run(NULL, "ip -d -j link show");
	cap_begin();
	err = nl_tunnel_create("bt0", 1280, NULL);
	msg = cap_end();
	after = run(NULL, "ip -d -j link show");
	check(err == -EEXIST, "creating bt0 again: %d (-EEXIST)", err);
	check(strstr(msg, "bpftun: link 'bt0': already exists") != NULL, "message names the link");
	check(!strcmp(before, after), "links unchanged by the refused create");
	check(nl_link_index("bt0") == t->ifindex, "bt0 still has ifindex %d", t->ifindex);
	free(before);
	free(after);

	/* Hidden peer's name taken by someone else: refuse, touch nothing. */
	sh("ip link add bt1-s type veth peer name other1");
	cap_begin();
	err = nl_tunnel_create("bt1", 1420, NULL);
	msg = cap_end();
	check(err == -EEXIST && strstr(msg, "'bt1-s' is taken"),
	      "bt1 refused, hidden peer name 'bt1-s' taken: %d", err);
	check(!exists("bt1") && exists("bt1-s") && exists("other1"),
	      "bt1 not created, the existing bt1-s/other1 left alone");
	sh("ip link del bt1-s");
}

static void test_addrs_routes(const struct nl_tunnel *t)
{
	uint8_t a4[4], a6[16], d4[4], d6[16];
	struct nl_route_info ri;
	char *out;
	int err;

	pton(AF_INET, "10.9.0.1", a4);
	pton(AF_INET6, "fd09::1", a6);
	err = nl_addr_add(t->ifindex, AF_INET, a4, 24);
	check(err == 0, "nl_addr_add 10.9.0.1/24 = %d", err);
	err = nl_addr_add(t->ifindex, 6, a6, 64); /* 6: the bpf/datapath.h alias */
	check(err == 0, "nl_addr_add fd09::1/64 = %d", err);
	cap_begin();
	err = nl_addr_add(t->ifindex, AF_INET, a4, 24);
	check(err == -EEXIST && strstr(cap_end(), "bpftun: link 'bt0': add address 10.9.0.1/24"),
	      "adding 10.9.0.1/24 again: %d, message names link and address", err);

	out = run(NULL, "ip -j addr show dev bt0");
	check(json_obj_has(out, "\"local\":\"10.9.0.1\"", "\"prefixlen\":24"),
	      "ip: bt0 has 10.9.0.1/24");
	check(json_obj_has(out, "\"local\":\"fd09::1\"", "\"prefixlen\":64") &&
		  json_obj_has(out, "\"local\":\"fd09::1\"", "\"nodad\":true") &&
		  !json_obj_has(out, "\"local\":\"fd09::1\"", "tentative"),
	      "ip: bt0 has fd09::1/64, not tentative (NODAD)");
	free(out);

	/* AllowedIPs routes; host bits are masked off. */
	pton(AF_INET, "10.1.2.3", d4);
	pton(AF_INET6, "fd10::1", d6);
	err = nl_route_add(t->ifindex, AF_INET, d4, 16);
	check(err == 0, "nl_route_add 10.1.2.3/16 = %d", err);
	err = nl_route_add(t->ifindex, AF_INET6, d6, 48);
	check(err == 0, "nl_route_add fd10::1/48 = %d", err);
	cap_begin();
	err = nl_route_add(t->ifindex, AF_INET, d4, 16);
	check(err == -EEXIST && strstr(cap_end(), "link 'bt0': add route 10.1.0.0/16"),
	      "same route again: %d (-EEXIST)", err);
	/* The connected prefixes of the addresses: accepted, not duplicated. */
	pton(AF_INET, "10.9.0.0", d4);
	err = nl_route_add(t->ifindex, AF_INET, d4, 24);
	check(err == 0, "route to connected 10.9.0.0/24 accepted: %d", err);
	pton(AF_INET6, "fd09::", d6);
	err = nl_route_add(t->ifindex, AF_INET6, d6, 64);
	check(err == 0, "route to connected fd09::/64 accepted: %d", err);

	out = run(NULL, "ip -j route show dev bt0");
	check(json_obj_has(out, "\"dst\":\"10.1.0.0/16\"", "\"protocol\":\"static\"") &&
		  json_obj_has(out, "\"dst\":\"10.1.0.0/16\"", "\"scope\":\"link\""),
	      "ip: route 10.1.0.0/16 dev bt0 proto static scope link");
	check(count(out, "\"dst\":\"10.9.0.0/24\"") == 1, "ip: one route 10.9.0.0/24");
	free(out);
	out = run(NULL, "ip -j -6 route show dev bt0");
	check(json_obj_has(out, "\"dst\":\"fd10::/48\"", "\"protocol\":\"static\""),
	      "ip: route fd10::/48 dev bt0 proto static");
	check(count(out, "\"dst\":\"fd09::/64\"") == 1, "ip: one route fd09::/64");
	free(out);

	/* The lookup goes through the tunnel, from the tunnel's address. */
	pton(AF_INET, "10.1.7.7", d4);
	err = nl_route_get(AF_INET, d4, &ri);
	check(!err && ri.oif == t->ifindex && ri.has_prefsrc &&
		  ip_eq(AF_INET, ri.prefsrc, "10.9.0.1") && !ri.has_gateway && ri.mtu == 1420,
	      "route get 10.1.7.7: err %d, oif %d, src 10.9.0.1, no gw, mtu %u", err, ri.oif,
	      ri.mtu);
	pton(AF_INET6, "fd10::7", d6);
	err = nl_route_get(AF_INET6, d6, &ri);
	check(!err && ri.oif == t->ifindex && ri.has_prefsrc &&
		  ip_eq(AF_INET6, ri.prefsrc, "fd09::1"),
	      "route get fd10::7: err %d, oif %d, src fd09::1", err, ri.oif);

	/* Delete. */
	pton(AF_INET, "10.1.0.0", d4);
	err = nl_route_del(t->ifindex, AF_INET, d4, 16);
	check(err == 0, "nl_route_del 10.1.0.0/16 = %d", err);
	cap_begin();
	err = nl_route_del(t->ifindex, AF_INET, d4, 16);
	cap_end();
	check(err == -ENOENT, "deleting it again: %d (-ENOENT)", err);
	pton(AF_INET6, "fd10::", d6);
	err = nl_route_del(t->ifindex, AF_INET6, d6, 48);
	check(err == 0, "nl_route_del fd10::/48 = %d", err);
	pton(AF_INET, "10.9.0.0", d4);
	err = nl_route_del(t->ifindex, AF_INET, d4, 24);
	check(err == 0, "nl_route_del of the connected 10.9.0.0/24: %d (left alone)", err);
	out = run(NULL, "ip -j route show dev bt0");
	check(!strstr(out, "10.1.0.0/16") && count(out, "\"dst\":\"10.9.0.0/24\"") == 1,
	      "ip: 10.1.0.0/16 gone, connected 10.9.0.0/24 still there");
	free(out);
	out = run(NULL, "ip -j -6 route show dev bt0");
	check(!strstr(out, "fd10::/48") && count(out, "\"dst\":\"fd09::/64\"") == 1,
	      "ip: fd10::/48 gone, connected fd09::/64 still there");
	free(out);
}

static void test_underlay(void)
{
	struct nl_route_info ri;
	uint8_t d[16], mac[6];
	char *out, buf[64];
	int ul0, err;

	sh("ip link add ul0 type veth peer name ul1");
	sh("ip link set ul0 mtu 1400 up; ip link set ul1 up");
	sh("ip addr add 10.77.0.1/24 dev ul0; ip addr add fd77::1/64 dev ul0 nodad");
	sh("ip route add 10.88.0.0/16 via 10.77.0.254; ip -6 route add fd88::/64 via fd77::fe");
	ul0 = nl_link_index("ul0");
	check(ul0 > 0, "underlay ul0 ifindex %d", ul0);

	pton(AF_INET, "10.77.0.2", d);
	err = nl_route_get(AF_INET, d, &ri);
	check(!err && ri.oif == ul0 && ri.has_prefsrc && ip_eq(AF_INET, ri.prefsrc, "10.77.0.1") &&
		  !ri.has_gateway && ri.mtu == 1400 && ri.type == RTN_UNICAST,
	      "route get 10.77.0.2: err %d oif %d src 10.77.0.1, no gw, mtu %u", err, ri.oif,
	      ri.mtu);
	out = run(NULL, "ip -j route get 10.77.0.2");
	check(!json_str(out, "dev", buf, sizeof(buf)) && !strcmp(buf, "ul0") &&
		  !json_str(out, "prefsrc", buf, sizeof(buf)) && !strcmp(buf, "10.77.0.1"),
	      "ip route get 10.77.0.2 agrees (dev ul0 src 10.77.0.1)");
	free(out);

	pton(AF_INET, "10.88.1.1", d);
	err = nl_route_get(AF_INET, d, &ri);
	check(!err && ri.oif == ul0 && ri.has_gateway && ri.gw_family == AF_INET &&
		  ip_eq(AF_INET, ri.gateway, "10.77.0.254") &&
		  ip_eq(AF_INET, ri.prefsrc, "10.77.0.1"),
	      "route get 10.88.1.1: via 10.77.0.254 dev ul0 (err %d)", err);

	pton(AF_INET6, "fd77::2", d);
	err = nl_route_get(AF_INET6, d, &ri);
	check(!err && ri.oif == ul0 && ri.has_prefsrc && ip_eq(AF_INET6, ri.prefsrc, "fd77::1") &&
		  !ri.has_gateway && ri.mtu == 1400,
	      "route get fd77::2: dev ul0 src fd77::1 (err %d)", err);
	out = run(NULL, "ip -j -6 route get fd77::2");
	check(!json_str(out, "dev", buf, sizeof(buf)) && !strcmp(buf, "ul0") &&
		  !json_str(out, "prefsrc", buf, sizeof(buf)) && !strcmp(buf, "fd77::1"),
	      "ip -6 route get fd77::2 agrees");
	free(out);

	pton(AF_INET6, "fd88::1", d);
	err = nl_route_get(AF_INET6, d, &ri);
	check(!err && ri.oif == ul0 && ri.has_gateway && ri.gw_family == AF_INET6 &&
		  ip_eq(AF_INET6, ri.gateway, "fd77::fe"),
	      "route get fd88::1: via fd77::fe dev ul0 (err %d)", err);

	pton(AF_INET, "192.0.2.1", d);
	err = nl_route_get(AF_INET, d, &ri);
	check(err == -ENETUNREACH, "route get 192.0.2.1 (no default route): %d", err);
	pton(AF_INET6, "2001:db8::1", d);
	err = nl_route_get(AF_INET6, d, &ri);
	check(err == -ENETUNREACH, "route get 2001:db8::1: %d", err);

	/* Neighbours. */
	pton(AF_INET, "10.77.0.2", d);
	check(nl_neigh_lookup(ul0, AF_INET, d, mac) == -ENOENT, "no neighbour 10.77.0.2 yet");
	sh("ip neigh add 10.77.0.2 lladdr 02:00:00:77:00:02 dev ul0 nud permanent");
	err = nl_neigh_lookup(ul0, AF_INET, d, mac);
	fmt_mac(mac, buf);
	check(!err && !strcmp(buf, "02:00:00:77:00:02"), "neighbour 10.77.0.2 permanent: %s (%d)",
	      buf, err);
	pton(AF_INET6, "fd77::2", d);
	sh("ip -6 neigh add fd77::2 lladdr 02:00:00:77:00:06 dev ul0 nud stale");
	err = nl_neigh_lookup(ul0, AF_INET6, d, mac);
	fmt_mac(mac, buf);
	check(!err && !strcmp(buf, "02:00:00:77:00:06"), "neighbour fd77::2 stale: %s (%d)", buf,
	      err);
	pton(AF_INET6, "fd77::3", d);
	check(nl_neigh_lookup(ul0, AF_INET6, d, mac) == -ENOENT, "no neighbour fd77::3");

	/* Not a veth / not a tunnel. */
	cap_begin();
	err = nl_veth_peer_ifindex(1);
	cap_end();
	check(err == -EINVAL, "nl_veth_peer_ifindex(lo) = %d (-EINVAL)", err);
	cap_begin();
	err = nl_link_mac(99999, mac);
	cap_end();
	check(err == -ENODEV, "nl_link_mac(no such ifindex) = %d", err);
	check(nl_link_index("nonesuch") == -ENODEV, "nl_link_index(nonesuch) = -ENODEV");
}

static void test_clsact(const struct nl_tunnel *t)
{
	int created = -1, err;
	char *out;

	err = nl_clsact_ensure(t->peer_ifindex, &created);
	check(!err && created == 1, "clsact on bt0-s added (err %d, created %d)", err, created);
	out = run(NULL, "tc -j qdisc show dev bt0-s");
	check(strstr(out, "\"kind\":\"clsact\"") != NULL, "tc: bt0-s has clsact");
	free(out);
	err = nl_clsact_ensure(t->peer_ifindex, &created);
	check(!err && created == 0, "ensure again: present, created %d", created);
	check(nl_clsact_exists(t->peer_ifindex) == 1, "nl_clsact_exists(bt0-s) = 1 with it");
	err = nl_clsact_del(t->peer_ifindex);
	check(err == 0, "nl_clsact_del = %d", err);
	out = run(NULL, "tc -j qdisc show dev bt0-s");
	check(!strstr(out, "clsact"), "tc: clsact gone");
	free(out);
	cap_begin();
	err = nl_clsact_del(t->peer_ifindex);
	cap_end();
	check(err == -ENOENT, "deleting it again: %d (-ENOENT)", err);

	/* A plain ingress qdisc is not a clsact. */
	sh("tc qdisc add dev bt0-s ingress");
	cap_begin();
	err = nl_clsact_ensure(t->peer_ifindex, &created);
	cap_end();
	check(err == -EBUSY && created == 0, "ingress qdisc in the way: %d (-EBUSY)", err);
	check(nl_clsact_exists(t->peer_ifindex) == 0,
	      "an ingress qdisc is not a clsact (exists 0)");
	sh("tc qdisc del dev bt0-s ingress");
}

static void test_netns(const struct nl_tunnel *t)
{
	int fd = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);

	check(fd >= 0 && unshare(CLONE_NEWNET) == 0, "enter a second fresh namespace");
	check(nl_link_index("bt0") == -ENODEV, "bt0 not visible there");
	check(fd >= 0 && setns(fd, CLONE_NEWNET) == 0, "back to the test namespace");
	check(nl_link_index("bt0") == t->ifindex, "bt0 visible again (no stale state)");
	if (fd >= 0)
		close(fd);
}

static void test_features_getter(void)
{
	struct nl_tunnel g;

	int err;

	sh("ethtool -K bt0 tx on >/dev/null 2>&1");
	err = nl_tunnel_get("bt0", &g);
	check(!err && (g.features_on & NL_FEAT_TX_CSUM),
	      "after ethtool -K bt0 tx on, nl_tunnel_get sees tx-checksumming (0x%x)",
	      g.features_on);
	sh("ethtool -K bt0 tx off >/dev/null 2>&1");
	err = nl_tunnel_get("bt0", &g);
	check(!err && !g.features_on, "and off again (0x%x)", g.features_on);
}

static void test_long_names(void)
{
	const char *name = "bt-0123456789ab"; /* 15 characters */
	char want[IFNAMSIZ], *out, buf[32];
	struct nl_tunnel t;
	int err;

	snprintf(want, sizeof(want), "bts%08x", fnv1a(name));
	err = nl_tunnel_create(name, 1380, &t);
	check(!err && !strcmp(t.peer_name, want), "15-char '%s': hidden peer '%s' (want %s)", name,
	      t.peer_name, want);
	out = run(NULL, "ip -j link show dev %s", name);
	check(!json_str(out, "link", buf, sizeof(buf)) && !strcmp(buf, want) &&
		  json_num(out, "mtu") == 1380,
	      "ip: link of %s is %s", name, buf);
	free(out);
	check(nl_link_index(want) == t.peer_ifindex && exists(want), "%s exists", want);
	check(nl_tunnel_delete(name) == 0 && !exists(name) && !exists(want),
	      "delete %s removes both ends", name);

	err = nl_tunnel_create("abcdefghijkl", 0, &t); /* 12 chars, default MTU */
	check(!err && !strcmp(t.peer_name, "abcdefghijkl-s") && t.mtu == 1500,
	      "12-char name: peer '%s', default mtu %u", t.peer_name, t.mtu);
	check(nl_tunnel_delete("abcdefghijkl") == 0 && !exists("abcdefghijkl-s"),
	      "delete abcdefghijkl");
}

static int max_ifindex(void)
{
	char *out = run(NULL, "ip -j link show");
	const char *p;
	int max = 0;

	for (p = strstr(out, "\"ifindex\":"); p; p = strstr(p + 1, "\"ifindex\":")) {
		int i = atoi(p + 10);

		if (i > max)
			max = i;
	}
	free(out);
	return max;
}

static void test_failure_midway(void)
{
	int before_links, after_links, probe, gap, err;
	const char *msg;
	char *out;

	/* A probe pair marks where ifindex allocation stands (it never reuses). */
	sh("ip link add probe0 type veth peer name probe1");
	probe = max_ifindex();
	sh("ip link del probe0");
	out = run(NULL, "ip -j link show");
	before_links = count(out, "\"ifindex\":");
	free(out);

	cap_begin();
	err = nl_tunnel_create("bt9", 100000, NULL);
	msg = cap_end();
	check(err == -EINVAL, "create bt9 with mtu 100000: %d (-EINVAL)", err);
	check(strstr(msg, "bpftun: link 'bt9': set noarp, mtu 100000") != NULL,
	      "message names the link and the step");
	check(!exists("bt9") && !exists("bt9-s") && nl_link_index("bt9") == -ENODEV,
	      "nothing named bt9 / bt9-s left behind");

	cap_begin();
	err = nl_tunnel_create("bt9", 10, NULL);
	cap_end();
	check(err == -EINVAL && !exists("bt9") && !exists("bt9-s"),
	      "mtu 10 fails too (%d), nothing left", err);

	out = run(NULL, "ip -j link show");
	after_links = count(out, "\"ifindex\":");
	free(out);
	check(before_links == after_links, "link count unchanged (%d -> %d)", before_links,
	      after_links);

	/*
	 * Proof the failures came after the pair existed: each attempt used two
	 * ifindexes, so gap0/gap1 land 2 + 2 + 2 above the probe pair (2 if the
	 * attempts had failed before creating anything).
	 */
	sh("ip link add gap0 type veth peer name gap1");
	gap = max_ifindex() - probe;
	check(gap == 6, "ifindex advanced by %d: both attempts created a pair, then removed it",
	      gap);
	sh("ip link del gap0");

	cap_begin();
	err = nl_tunnel_create("0123456789abcdef", 1420, NULL);
	cap_end();
	check(err == -EINVAL, "16-char name refused: %d", err);
}

static void test_delete(const struct nl_tunnel *t)
{
	int err;

	cap_begin();
	err = nl_tunnel_delete("lo");
	cap_end();
	check(err == -EINVAL && exists("lo"), "nl_tunnel_delete(lo) refused: %d", err);
	err = nl_tunnel_delete("bt0");
	check(err == 0, "nl_tunnel_delete(bt0) = %d", err);
	check(nl_link_index("bt0") == -ENODEV && nl_link_index("bt0-s") == -ENODEV,
	      "bt0 and bt0-s gone (getters)");
	check(!exists("bt0") && !exists("bt0-s"), "bt0 and bt0-s gone (ip link show)");
	check(nl_veth_peer_ifindex(t->ifindex) == -ENODEV, "old ifindex %d gone", t->ifindex);
	cap_begin();
	err = nl_tunnel_delete("bt0");
	check(err == -ENODEV && strstr(cap_end(), "link 'bt0'"), "delete again: %d (-ENODEV)", err);
}

int main(void)
{
	struct nl_tunnel t;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (geteuid() != 0) {
		check(0, "needs root (network namespace, links)");
		return check_summary();
	}
	if (unshare(CLONE_NEWNET)) {
		check(0, "unshare(CLONE_NEWNET): %s", strerror(errno));
		return check_summary();
	}
	check(sh("ip link set lo up") == 0, "private namespace, lo up");

	test_peer_names();
	memset(&t, 0, sizeof(t));
	test_create(&t);
	if (t.ifindex > 0) {
		test_create_refused(&t);
		test_addrs_routes(&t);
		test_clsact(&t);
		test_features_getter();
		test_netns(&t);
	}
	test_underlay();
	test_long_names();
	test_failure_midway();
	if (t.ifindex > 0)
		test_delete(&t);
	return check_summary();
}
