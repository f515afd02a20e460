// SPDX-License-Identifier: GPL-2.0
/*
 * netlink.c - tunnel device, addresses, routes, neighbours and clsact for
 * bpftun (see netlink.h): libnl-route-3 for rtnetlink, raw RTM_GETROUTE /
 * RTM_GETNEIGH requests where libnl has no "get one" call, SIOCETHTOOL for
 * offloads and libbpf's bpf_tc_hook_* for the clsact qdisc.
 *
 * Each public function opens its own netlink socket (struct nlctx) in the
 * caller's current network namespace and closes it before returning. The
 * socket's error callback keeps the kernel's errno and extended-ack message,
 * which libnl would otherwise fold into its own NLE_* codes.
 */
#include <net/if.h> /* before any <linux/if.h> pulled in by libnl */
#include <arpa/inet.h>
#include <errno.h>
#include <fnmatch.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <linux/ethtool.h>
#include <linux/fib_rules.h>
#include <linux/if_addr.h>
#include <linux/neighbour.h>
#include <linux/netlink.h>
#include <linux/pkt_sched.h>
#include <linux/rtnetlink.h>
#include <linux/sockios.h>
#include <linux/veth.h>
#include <netlink/netlink.h>
#include <netlink/attr.h>
#include <netlink/msg.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/link/veth.h>
#include <netlink/route/link/inet6.h>
#include <netlink/route/qdisc.h>
#include <netlink/route/classifier.h>
#include <netlink/route/route.h>
#include <netlink/route/tc.h>
#include <bpf/libbpf.h>

#include "log.h"
#include "netlink.h"

_Static_assert(NL_RTPROT == RTPROT_STATIC, "NL_RTPROT must be RTPROT_STATIC");

#ifndef SOL_NETLINK
#define SOL_NETLINK 270
#endif

struct nlctx {
	struct nl_sock *sk;
	int syserr;    /* -errno of the last NLMSG_ERROR, 0 if none */
	char ext[160]; /* its extended-ack message, "" if none */
};

/* ---- errors ---------------------------------------------------------- */

/* The failure, named, into the log (log.c); returns err. */
__attribute__((format(printf, 3, 4))) static int fail(const struct nlctx *c, int err,
						      const char *fmt, ...)
{
	char what[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	if (c && c->ext[0])
		pr_err("%s: %s (kernel: %s)", what, strerror(-err), c->ext);
	else
		pr_err("%s: %s", what, strerror(-err));
	return err;
}

/* libnl's NLE_* (positive) -> errno, for errors that did not come from an
 * NLMSG_ERROR (those keep the kernel's errno via err_cb). */
static int nle_errno(int nle)
{
	switch (nle) {
	case NLE_NOMEM:
		return ENOMEM;
	case NLE_EXIST:
		return EEXIST;
	case NLE_INVAL:
		return EINVAL;
	case NLE_RANGE:
		return ERANGE;
	case NLE_OPNOTSUPP:
		return EOPNOTSUPP;
	case NLE_OBJ_NOTFOUND:
		return ENOENT;
	case NLE_NODEV:
		return ENODEV;
	case NLE_PERM:
		return EPERM;
	case NLE_NOACCESS:
		return EACCES;
	case NLE_BUSY:
		return EBUSY;
	case NLE_AGAIN:
		return EAGAIN;
	case NLE_INTR:
		return EINTR;
	case NLE_NOADDR:
		return EADDRNOTAVAIL;
	case NLE_AF_NOSUPPORT:
		return EAFNOSUPPORT;
	case NLE_BAD_SOCK:
		return EBADF;
	case NLE_MSGSIZE:
		return EMSGSIZE;
	default:
		return EIO;
	}
}

static int err_cb(struct sockaddr_nl *nla, struct nlmsgerr *e, void *arg)
{
	struct nlmsghdr *h = (struct nlmsghdr *)((char *)e - NLMSG_HDRLEN);
	struct nlattr *tb[NLMSGERR_ATTR_MAX + 1];
	struct nlctx *c = arg;
	size_t off;

	(void)nla;
	c->syserr = e->error < 0 ? e->error : -e->error;
	c->ext[0] = '\0';
	if (!(h->nlmsg_flags & NLM_F_ACK_TLVS))
		return NL_STOP;
	off = sizeof(*e);
	if (!(h->nlmsg_flags & NLM_F_CAPPED) && e->msg.nlmsg_len >= NLMSG_HDRLEN)
		off += e->msg.nlmsg_len - NLMSG_HDRLEN;
	off = NLMSG_ALIGN(off);
	if (h->nlmsg_len < NLMSG_HDRLEN + off)
		return NL_STOP;
	if (nla_parse(tb, NLMSGERR_ATTR_MAX, (struct nlattr *)((char *)e + off),
		      h->nlmsg_len - NLMSG_HDRLEN - off, NULL) < 0)
		return NL_STOP;
	if (tb[NLMSGERR_ATTR_MSG])
		snprintf(
		    c->ext, sizeof(c->ext), "%.*s",
		    (int)strnlen(nla_data(tb[NLMSGERR_ATTR_MSG]), nla_len(tb[NLMSGERR_ATTR_MSG])),
		    (const char *)nla_data(tb[NLMSGERR_ATTR_MSG]));
	return NL_STOP;
}

/* 0, or -errno for a libnl return value r < 0. */
static int ctx_ret(struct nlctx *c, int r)
{
	if (r >= 0)
		return 0;
	if (c->syserr)
		return c->syserr;
	return -nle_errno(-r);
}

static void ctx_reset(struct nlctx *c)
{
	c->syserr = 0;
	c->ext[0] = '\0';
}

/* Run one libnl call with a clean error state; 0 or -errno. */
#define NLCALL(c, expr) (ctx_reset(c), ctx_ret((c), (expr)))

static int ctx_open(struct nlctx *c)
{
	int one = 1, err;

	memset(c, 0, sizeof(*c));
	c->sk = nl_socket_alloc();
	if (!c->sk)
		return fail(NULL, -ENOMEM, "netlink: allocate socket");
	err = nl_connect(c->sk, NETLINK_ROUTE);
	if (err < 0) {
		nl_socket_free(c->sk);
		c->sk = NULL;
		return fail(NULL, -nle_errno(-err), "netlink: connect");
	}
	/* Best effort: kernel error strings, and no echo of our request. */
	setsockopt(nl_socket_get_fd(c->sk), SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof(one));
	setsockopt(nl_socket_get_fd(c->sk), SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof(one));
	nl_socket_modify_err_cb(c->sk, NL_CB_CUSTOM, err_cb, c);
	return 0;
}

static void ctx_close(struct nlctx *c)
{
	nl_socket_free(c->sk);
	c->sk = NULL;
}

/* ---- small helpers --------------------------------------------------- */

/* AF_INET/AF_INET6 (or 4/6) -> AF_*, address length in *alen; 0 if bad. */
static int af_norm(int family, size_t *alen)
{
	if (family == AF_INET || family == 4) {
		*alen = 4;
		return AF_INET;
	}
	if (family == AF_INET6 || family == 6) {
		*alen = 16;
		return AF_INET6;
	}
	return 0;
}

static const char *ifname(int ifindex, char buf[IFNAMSIZ])
{
	if (!if_indextoname(ifindex, buf))
		snprintf(buf, IFNAMSIZ, "#%d", ifindex);
	return buf;
}

static const char *ntop(int af, const void *a, char buf[INET6_ADDRSTRLEN])
{
	if (!inet_ntop(af, a, buf, INET6_ADDRSTRLEN))
		snprintf(buf, INET6_ADDRSTRLEN, "?");
	return buf;
}

static void mask_prefix(uint8_t *a, size_t alen, unsigned int prefix)
{
	for (size_t i = 0; i < alen; i++) {
		if (prefix >= 8) {
			prefix -= 8;
			continue;
		}
		a[i] &= (uint8_t)(0xff00 >> prefix);
		prefix = 0;
	}
}

/* Fetch one link by ifindex or name; 0 or -errno (-ENODEV if missing). */
static int get_link(struct nlctx *c, int ifindex, const char *name, struct rtnl_link **out)
{
	int err;

	*out = NULL;
	err = NLCALL(c, rtnl_link_get_kernel(c->sk, ifindex, name, out));
	if (!err && !*out)
		err = -ENODEV;
	return err;
}

/* ifindex of name, or -errno (-ENODEV if missing). */
static int lookup_index(struct nlctx *c, const char *name)
{
	struct rtnl_link *l;
	int err;

	err = get_link(c, 0, name, &l);
	if (err)
		return err;
	err = rtnl_link_get_ifindex(l);
	rtnl_link_put(l);
	return err > 0 ? err : -ENODEV;
}

static int is_veth(struct rtnl_link *l)
{
	const char *kind = rtnl_link_get_type(l);

	return kind && !strcmp(kind, "veth");
}

/* Change flags/MTU of ifindex as described by chg; 0 or -errno. */
static int link_change(struct nlctx *c, int ifindex, struct rtnl_link *chg)
{
	struct rtnl_link *orig = rtnl_link_alloc();
	int err;

	if (!orig)
		return -ENOMEM;
	rtnl_link_set_ifindex(orig, ifindex);
	err = NLCALL(c, rtnl_link_change(c->sk, orig, chg, 0));
	rtnl_link_put(orig);
	return err;
}

static int link_delete(struct nlctx *c, int ifindex, const char *name)
{
	struct rtnl_link *l = rtnl_link_alloc();
	int err;

	if (!l)
		return -ENOMEM;
	if (ifindex > 0)
		rtnl_link_set_ifindex(l, ifindex);
	else
		rtnl_link_set_name(l, name);
	err = NLCALL(c, rtnl_link_delete(c->sk, l));
	rtnl_link_put(l);
	return err;
}

/*
 * Send msg (freed here) and parse the single reply with valid(); then eat
 * the ACK. *got is set by valid(). 0 or -errno (the kernel's).
 */
static int request(struct nlctx *c, struct nl_msg *msg, nl_recvmsg_msg_cb_t valid, void *arg,
		   int *got)
{
	struct nl_cb *scb, *cb;
	int err;

	*got = 0;
	err = NLCALL(c, nl_send_auto(c->sk, msg));
	nlmsg_free(msg);
	if (err)
		return err;
	scb = nl_socket_get_cb(c->sk); /* a reference: keeps err_cb */
	cb = nl_cb_clone(scb);
	nl_cb_put(scb);
	if (!cb)
		return -ENOMEM;
	nl_cb_set(cb, NL_CB_VALID, NL_CB_CUSTOM, valid, arg);
	err = NLCALL(c, nl_recvmsgs(c->sk, cb));
	nl_cb_put(cb);
	if (err)
		return err;
	if (!*got)
		return -ENOMSG;
	return NLCALL(c, nl_wait_for_ack(c->sk));
}

/* ---- ethtool offloads ------------------------------------------------- */

/*
 * The feature names `ethtool -K DEV tx off tso off gso off` clears, with the
 * NL_FEAT_* group each belongs to (the groups `ethtool -k` prints).
 */
static const struct {
	const char *pattern;
	unsigned int group;
} offloads[] = {
    {"tx-checksum-*", NL_FEAT_TX_CSUM},
    {"tx-tcp*-segmentation", NL_FEAT_TSO},
    {"tx-generic-segmentation", NL_FEAT_GSO},
};

static unsigned int offload_group(const char *fname)
{
	for (size_t i = 0; i < sizeof(offloads) / sizeof(offloads[0]); i++)
		if (!fnmatch(offloads[i].pattern, fname, 0))
			return offloads[i].group;
	return 0;
}

static const char *group_name(unsigned int group)
{
	switch (group) {
	case NL_FEAT_TX_CSUM:
		return "tx-checksumming";
	case NL_FEAT_TSO:
		return "tcp-segmentation-offload";
	default:
		return "generic-segmentation-offload";
	}
}

static int ethtool_ioctl(int fd, const char *name, void *data)
{
	struct ifreq ifr;

	memset(&ifr, 0, sizeof(ifr));
	memcpy(ifr.ifr_name, name, strnlen(name, IFNAMSIZ - 1));
	ifr.ifr_data = data;
	return ioctl(fd, SIOCETHTOOL, &ifr) < 0 ? -errno : 0;
}

struct features {
	unsigned int n;			/* feature count */
	char (*names)[ETH_GSTRING_LEN]; /* n names */
	struct ethtool_gfeatures *get;	/* n bits in blocks of 32 */
};

static void features_free(struct features *f)
{
	free(f->names);
	free(f->get);
	memset(f, 0, sizeof(*f));
}

/* Names and current state of every netdev feature of name. 0 or -errno. */
static int features_read(int fd, const char *name, struct features *f)
{
	struct {
		struct ethtool_sset_info hdr;
		uint32_t count;
	} ss = {.hdr = {.cmd = ETHTOOL_GSSET_INFO, .sset_mask = 1ULL << ETH_SS_FEATURES}};
	struct ethtool_gstrings *gs;
	unsigned int blocks;
	int err;

	memset(f, 0, sizeof(*f));
	err = ethtool_ioctl(fd, name, &ss);
	if (err)
		return err;
	if (!(ss.hdr.sset_mask & (1ULL << ETH_SS_FEATURES)) || !ss.count)
		return -EOPNOTSUPP;
	f->n = ss.count;
	gs = calloc(1, sizeof(*gs) + (size_t)f->n * ETH_GSTRING_LEN);
	blocks = (f->n + 31) / 32;
	f->get = calloc(1, sizeof(*f->get) + blocks * sizeof(f->get->features[0]));
	if (!gs || !f->get) {
		free(gs);
		features_free(f);
		return -ENOMEM;
	}
	gs->cmd = ETHTOOL_GSTRINGS;
	gs->string_set = ETH_SS_FEATURES;
	gs->len = f->n;
	err = ethtool_ioctl(fd, name, gs);
	if (!err && gs->len != f->n)
		err = -EAGAIN;
	if (!err) {
		f->names = malloc((size_t)f->n * ETH_GSTRING_LEN);
		if (f->names) {
			memcpy(f->names, gs->data, (size_t)f->n * ETH_GSTRING_LEN);
			for (unsigned int i = 0; i < f->n; i++)
				f->names[i][ETH_GSTRING_LEN - 1] = '\0';
		} else {
			err = -ENOMEM;
		}
	}
	free(gs);
	if (!err) {
		f->get->cmd = ETHTOOL_GFEATURES;
		f->get->size = blocks;
		err = ethtool_ioctl(fd, name, f->get);
	}
	if (err)
		features_free(f);
	return err;
}

/* NL_FEAT_* groups with at least one active feature; *which: the first. */
static unsigned int features_on(const struct features *f, const char **which)
{
	unsigned int on = 0;

	for (unsigned int i = 0; i < f->n; i++) {
		unsigned int g = offload_group(f->names[i]);

		if (g && (f->get->features[i / 32].active & (1U << (i % 32)))) {
			if (which && !on)
				*which = f->names[i];
			on |= g;
		}
	}
	return on;
}

static int ethtool_socket(void)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_GENERIC);
	return fd < 0 ? -errno : fd;
}

/* NL_FEAT_* groups on for name, or -errno (message printed). */
static int offloads_query(const char *name)
{
	struct features f;
	int fd, err;

	fd = ethtool_socket();
	if (fd < 0)
		return fail(NULL, fd, "link '%s': ethtool socket", name);
	err = features_read(fd, name, &f);
	close(fd);
	if (err)
		return fail(NULL, err, "link '%s': read features (ETHTOOL_GFEATURES)", name);
	err = (int)features_on(&f, NULL);
	features_free(&f);
	return err;
}

/*
 * `ethtool -K name tx off tso off gso off` with ETHTOOL_SFEATURES, then read
 * back: -EOPNOTSUPP if any of them is still active. Message printed.
 */
static int offloads_off(const char *name)
{
	struct ethtool_sfeatures *set = NULL;
	const char *still = NULL;
	struct features f;
	unsigned int blocks, on;
	int fd, err;

	fd = ethtool_socket();
	if (fd < 0)
		return fail(NULL, fd, "link '%s': ethtool socket", name);
	err = features_read(fd, name, &f);
	if (err) {
		fail(NULL, err, "link '%s': read features (ETHTOOL_GFEATURES)", name);
		goto out;
	}
	blocks = (f.n + 31) / 32;
	set = calloc(1, sizeof(*set) + blocks * sizeof(set->features[0]));
	if (!set) {
		err = -ENOMEM;
		goto out;
	}
	set->cmd = ETHTOOL_SFEATURES;
	set->size = blocks;
	for (unsigned int i = 0; i < f.n; i++)
		if (offload_group(f.names[i]))
			set->features[i / 32].valid |= 1U << (i % 32); /* requested: 0 */
	/* > 0 (ETHTOOL_F_*) only says some bits could not change: checked below. */
	err = ethtool_ioctl(fd, name, set);
	if (err) {
		fail(NULL, err, "link '%s': turn off tx/tso/gso (ETHTOOL_SFEATURES)", name);
		goto out;
	}
	features_free(&f);
	err = features_read(fd, name, &f);
	if (err) {
		fail(NULL, err, "link '%s': read features back", name);
		goto out;
	}
	on = features_on(&f, &still);
	if (on) {
		err = fail(NULL, -EOPNOTSUPP, "link '%s': %s is still on (%s) after turning it off",
			   name, group_name(offload_group(still)), still);
		goto out;
	}
out:
	free(set);
	features_free(&f);
	close(fd);
	return err;
}

/* ---- tunnel device ---------------------------------------------------- */

int nl_tunnel_peer_name(const char *name, char out[IFNAMSIZ])
{
	size_t len = name ? strlen(name) : 0;
	uint32_t h = 2166136261u; /* FNV-1a, 32 bit */

	if (!len || len >= IFNAMSIZ)
		return -EINVAL;
	if (len <= 12) {
		snprintf(out, IFNAMSIZ, "%s-s", name);
		return 0;
	}
	for (size_t i = 0; i < len; i++) {
		h ^= (uint8_t)name[i];
		h *= 16777619u;
	}
	snprintf(out, IFNAMSIZ, "bts%08x", h);
	return 0;
}

/* Fill out for the veth user end l (name), reading its peer. */
static int tunnel_describe(struct nlctx *c, struct rtnl_link *l, const char *name,
			   struct nl_tunnel *out)
{
	struct rtnl_link *peer;
	struct nl_addr *mac;
	int32_t nsid;
	int err;

	memset(out, 0, sizeof(*out));
	out->ifindex = rtnl_link_get_ifindex(l);
	out->mtu = rtnl_link_get_mtu(l);
	mac = rtnl_link_get_addr(l);
	if (mac && nl_addr_get_len(mac) == 6)
		memcpy(out->mac, nl_addr_get_binary_addr(mac), 6);
	out->peer_ifindex = rtnl_link_get_link(l);
	if (!rtnl_link_get_link_netnsid(l, &nsid))
		return fail(NULL, -EXDEV, "link '%s': veth peer is in another namespace", name);
	if (out->peer_ifindex <= 0)
		return fail(NULL, -ENOENT, "link '%s': no veth peer", name);
	err = get_link(c, out->peer_ifindex, NULL, &peer);
	if (err)
		return fail(c, err, "link '%s': veth peer #%d", name, out->peer_ifindex);
	snprintf(out->peer_name, IFNAMSIZ, "%s", rtnl_link_get_name(peer) ?: "");
	rtnl_link_put(peer);
	err = offloads_query(name);
	if (err < 0)
		return err;
	out->features_on = (unsigned int)err;
	return 0;
}

int nl_tunnel_get(const char *name, struct nl_tunnel *out)
{
	struct rtnl_link *l;
	struct nlctx c;
	int err;

	err = ctx_open(&c);
	if (err)
		return err;
	err = get_link(&c, 0, name, &l);
	if (err) {
		if (err != -ENODEV)
			fail(&c, err, "link '%s': look up", name);
		goto out;
	}
	if (!is_veth(l))
		err = fail(NULL, -EINVAL, "link '%s': not a veth device", name);
	else
		err = tunnel_describe(&c, l, name, out);
	rtnl_link_put(l);
out:
	ctx_close(&c);
	return err;
}

void (*nl_step_hook)(const char *what);

static void step(const char *what)
{
	if (nl_step_hook)
		nl_step_hook(what);
}

/* Steps of nl_tunnel_create after the pair exists; message printed. */
static int tunnel_configure(struct nlctx *c, const char *name, const char *peer_name,
			    unsigned int mtu, struct nl_tunnel *t)
{
	struct rtnl_link *chg, *l;
	unsigned int flags;
	int ifindex, peer, err;

	ifindex = lookup_index(c, name);
	if (ifindex < 0)
		return fail(c, ifindex, "link '%s': find after creating it", name);
	peer = lookup_index(c, peer_name);
	if (peer < 0)
		return fail(c, peer, "link '%s': find hidden peer '%s'", name, peer_name);

	/* User end: NOARP and MTU. */
	chg = rtnl_link_alloc();
	if (!chg)
		return -ENOMEM;
	rtnl_link_set_flags(chg, IFF_NOARP);
	if (mtu)
		rtnl_link_set_mtu(chg, mtu);
	err = link_change(c, ifindex, chg);
	rtnl_link_put(chg);
	if (err)
		return fail(c, err, "link '%s': set noarp, mtu %u", name, mtu);
	step("device: noarp, mtu");

	/* Hidden end: same MTU, or veth would drop full-sized frames. */
	if (mtu) {
		chg = rtnl_link_alloc();
		if (!chg)
			return -ENOMEM;
		rtnl_link_set_mtu(chg, mtu);
		err = link_change(c, peer, chg);
		rtnl_link_put(chg);
		if (err)
			return fail(c, err, "link '%s': set mtu %u", peer_name, mtu);
		step("hidden end: mtu");
	}

	/* Offloads off before any packet can flow. */
	err = offloads_off(name);
	if (err)
		return err;
	step("device: offloads off");

	/* No IPv6 link-local addresses on either end: a NOARP point-to-point
	 * tunnel needs none, and router solicitations and MLD reports would
	 * only be dropped by tc_seal (as no_peer) and muddy the counters. */
	for (int end = 0; end < 2; end++) {
		chg = rtnl_link_alloc();
		if (!chg)
			return -ENOMEM;
		err = rtnl_link_inet6_set_addr_gen_mode(chg, IN6_ADDR_GEN_MODE_NONE);
		err = err < 0 ? -EINVAL : link_change(c, end ? peer : ifindex, chg);
		rtnl_link_put(chg);
		if (err)
			return fail(c, err, "link '%s': IPv6 address generation off",
				    end ? peer_name : name);
		step("IPv6 address generation off");
	}

	/* Up: hidden end first, so the user end has carrier at once. */
	chg = rtnl_link_alloc();
	if (!chg)
		return -ENOMEM;
	rtnl_link_set_flags(chg, IFF_UP);
	err = link_change(c, peer, chg);
	if (err) {
		fail(c, err, "link '%s': set up", peer_name);
	} else {
		step("hidden end: up");
		err = link_change(c, ifindex, chg);
		if (err)
			fail(c, err, "link '%s': set up", name);
	}
	rtnl_link_put(chg);
	if (err)
		return err;

	/* Read everything back. */
	err = get_link(c, ifindex, NULL, &l);
	if (err)
		return fail(c, err, "link '%s': read back", name);
	flags = rtnl_link_get_flags(l);
	err = tunnel_describe(c, l, name, t);
	rtnl_link_put(l);
	if (err)
		return err;
	if (t->peer_ifindex != peer || strcmp(t->peer_name, peer_name))
		return fail(NULL, -EIO, "link '%s': veth peer is '%s' (#%d), expected '%s' (#%d)",
			    name, t->peer_name, t->peer_ifindex, peer_name, peer);
	if ((flags & (IFF_NOARP | IFF_UP)) != (IFF_NOARP | IFF_UP))
		return fail(NULL, -EIO, "link '%s': flags 0x%x lack NOARP or UP", name, flags);
	if (mtu && t->mtu != mtu)
		return fail(NULL, -EIO, "link '%s': mtu is %u, asked for %u", name, t->mtu, mtu);
	if (t->features_on)
		return fail(NULL, -EOPNOTSUPP, "link '%s': offloads 0x%x still on", name,
			    t->features_on);
	return 0;
}

int nl_tunnel_create(const char *name, unsigned int mtu, struct nl_tunnel *out)
{
	char peer_name[IFNAMSIZ];
	struct nl_tunnel t;
	struct nlctx c;
	int err, ret;

	err = nl_tunnel_peer_name(name, peer_name);
	if (err)
		return fail(NULL, err, "link '%s': invalid name (1 to %d characters)", name ?: "",
			    IFNAMSIZ - 1);
	err = ctx_open(&c);
	if (err)
		return err;

	ret = lookup_index(&c, name);
	if (ret > 0) {
		err = fail(NULL, -EEXIST, "link '%s': already exists", name);
		goto out;
	}
	if (ret != -ENODEV) {
		err = fail(&c, ret, "link '%s': look up", name);
		goto out;
	}
	ret = lookup_index(&c, peer_name);
	if (ret > 0) {
		err = fail(NULL, -EEXIST, "link '%s': its hidden peer name '%s' is taken", name,
			   peer_name);
		goto out;
	}
	if (ret != -ENODEV) {
		err = fail(&c, ret, "link '%s': look up", peer_name);
		goto out;
	}

	/* Built by hand: libnl 3.7 leaves IFLA_GROUP out of the peer. */
	{
		struct ifinfomsg ifi = {.ifi_family = AF_UNSPEC};
		struct nlattr *li, *data, *pe;
		struct nl_msg *msg = nlmsg_alloc_simple(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);

		if (!msg) {
			err = -ENOMEM;
			goto out;
		}
		if (nlmsg_append(msg, &ifi, sizeof(ifi), NLMSG_ALIGNTO) < 0 ||
		    nla_put_string(msg, IFLA_IFNAME, name) < 0 ||
		    !(li = nla_nest_start(msg, IFLA_LINKINFO)) ||
		    nla_put_string(msg, IFLA_INFO_KIND, "veth") < 0 ||
		    !(data = nla_nest_start(msg, IFLA_INFO_DATA)) ||
		    !(pe = nla_nest_start(msg, VETH_INFO_PEER)) ||
		    nlmsg_append(msg, &ifi, sizeof(ifi), NLMSG_ALIGNTO) < 0 ||
		    nla_put_string(msg, IFLA_IFNAME, peer_name) < 0 ||
		    /* bpftun's mark, in the message that creates the pair: there
		     * is no moment at which the pair exists unmarked (the kernel
		     * ignores IFLA_IFALIAS on creation; IFLA_GROUP it applies). */
		    nla_put_u32(msg, IFLA_GROUP, NL_TUNNEL_GROUP) < 0) {
			nlmsg_free(msg);
			err = -EMSGSIZE;
			goto out;
		}
		nla_nest_end(msg, pe);
		nla_nest_end(msg, data);
		nla_nest_end(msg, li);
		err = NLCALL(&c, nl_send_sync(c.sk, msg)); /* frees msg */
	}
	if (err) {
		/* Nothing was created (EXCL): nothing to undo. */
		fail(&c, err, "link '%s': create veth pair with '%s'", name, peer_name);
		goto out;
	}
	step("veth pair created, marked");

	err = tunnel_configure(&c, name, peer_name, mtu, &t);
	if (err) {
		/* Deleting one end takes the other with it. */
		ret = link_delete(&c, 0, name);
		if (ret && ret != -ENODEV)
			fail(&c, ret, "link '%s': remove after failed set-up", name);
		goto out;
	}
	if (out)
		*out = t;
out:
	ctx_close(&c);
	return err;
}

int nl_tunnel_delete(const char *name)
{
	struct rtnl_link *l;
	struct nlctx c;
	int err;

	err = ctx_open(&c);
	if (err)
		return err;
	err = get_link(&c, 0, name, &l);
	if (err) {
		if (err == -ENODEV)
			fail(NULL, err, "link '%s': cannot delete", name);
		else
			fail(&c, err, "link '%s': look up", name);
		goto out;
	}
	if (!is_veth(l)) {
		err = fail(NULL, -EINVAL, "link '%s': not a veth device, not deleting it", name);
	} else {
		err = link_delete(&c, rtnl_link_get_ifindex(l), NULL);
		if (err)
			fail(&c, err, "link '%s': delete", name);
	}
	rtnl_link_put(l);
out:
	ctx_close(&c);
	return err;
}

int nl_tunnel_marked(const char *name)
{
	char want[IFNAMSIZ];
	struct rtnl_link *l = NULL, *p = NULL;
	struct nlctx c;
	int err, peer;

	if (nl_tunnel_peer_name(name, want))
		return -ENODEV;
	err = ctx_open(&c);
	if (err)
		return err;
	err = get_link(&c, 0, name, &l);
	if (err) {
		if (err != -ENODEV)
			fail(&c, err, "link '%s': look up", name);
		goto out;
	}
	peer = rtnl_link_get_link(l);
	if (!is_veth(l) || peer <= 0) {
		err = -ENOENT;
		goto out;
	}
	{
		int32_t nsid;

		if (!rtnl_link_get_link_netnsid(l, &nsid)) {
			err = -ENOENT; /* its peer is in another namespace */
			goto out;
		}
	}
	err = get_link(&c, peer, NULL, &p);
	if (err) {
		err = -ENOENT;
		goto out;
	}
	if (!is_veth(p) || rtnl_link_get_group(p) != NL_TUNNEL_GROUP ||
	    strcmp(rtnl_link_get_name(p) ?: "", want))
		err = -ENOENT;
	else
		err = peer;
out:
	if (p)
		rtnl_link_put(p);
	if (l)
		rtnl_link_put(l);
	ctx_close(&c);
	return err;
}

/* ---- links ------------------------------------------------------------ */

int nl_link_index(const char *name)
{
	struct nlctx c;
	int err;

	err = ctx_open(&c);
	if (err)
		return err;
	err = lookup_index(&c, name);
	if (err < 0 && err != -ENODEV)
		fail(&c, err, "link '%s': look up", name);
	ctx_close(&c);
	return err;
}

/* A netlink context and ifindex's link, for the one-link lookups below.
 * A missing device is -ENODEV, silently; other failures say so. On
 * success the caller puts the link and closes the context. */
static int open_link(struct nlctx *c, int ifindex, char nb[IFNAMSIZ], struct rtnl_link **l)
{
	int err = ctx_open(c);

	if (err)
		return err;
	err = get_link(c, ifindex, NULL, l);
	if (err) {
		if (err != -ENODEV)
			fail(c, err, "link '%s': look up", ifname(ifindex, nb));
		ctx_close(c);
	}
	return err;
}

int nl_link_mac(int ifindex, uint8_t mac[6])
{
	char nb[IFNAMSIZ];
	struct rtnl_link *l;
	struct nl_addr *a;
	struct nlctx c;
	int err;

	err = open_link(&c, ifindex, nb, &l);
	if (err)
		return err;
	a = rtnl_link_get_addr(l);
	if (a && nl_addr_get_len(a) == 6)
		memcpy(mac, nl_addr_get_binary_addr(a), 6);
	else
		err = fail(NULL, -EINVAL, "link '%s': no Ethernet address",
			   rtnl_link_get_name(l) ?: ifname(ifindex, nb));
	rtnl_link_put(l);
	ctx_close(&c);
	return err;
}

int nl_veth_peer_ifindex(int ifindex)
{
	char nb[IFNAMSIZ];
	struct rtnl_link *l;
	struct nlctx c;
	int32_t nsid;
	int err;

	err = open_link(&c, ifindex, nb, &l);
	if (err)
		return err;
	snprintf(nb, sizeof(nb), "%s", rtnl_link_get_name(l) ?: "?");
	/* silent, like the other lookups: callers probe every device with it */
	if (!is_veth(l))
		err = -EINVAL;
	else if (!rtnl_link_get_link_netnsid(l, &nsid))
		err = -EXDEV;
	else if (rtnl_link_get_link(l) <= 0)
		err = -ENOENT;
	else
		err = rtnl_link_get_link(l);
	rtnl_link_put(l);
	ctx_close(&c);
	return err;
}

/* ---- addresses and routes ---------------------------------------------- */

int nl_addr_add(int ifindex, int family, const void *addr, unsigned int prefix)
{
	char nb[IFNAMSIZ], ab[INET6_ADDRSTRLEN];
	struct rtnl_addr *ra = NULL;
	struct nl_addr *local = NULL;
	struct nlctx c;
	size_t alen;
	int af, err;

	af = af_norm(family, &alen);
	if (!af)
		return fail(NULL, -EAFNOSUPPORT, "link '%s': add address: family %d",
			    ifname(ifindex, nb), family);
	if (prefix > alen * 8)
		return fail(NULL, -EINVAL, "link '%s': add address %s/%u: bad prefix length",
			    ifname(ifindex, nb), ntop(af, addr, ab), prefix);
	err = ctx_open(&c);
	if (err)
		return err;
	ra = rtnl_addr_alloc();
	local = nl_addr_build(af, addr, alen);
	if (!ra || !local) {
		err = -ENOMEM;
		goto out;
	}
	nl_addr_set_prefixlen(local, (int)prefix);
	rtnl_addr_set_ifindex(ra, ifindex);
	rtnl_addr_set_family(ra, af);
	err = NLCALL(&c, rtnl_addr_set_local(ra, local));
	if (err)
		goto out;
	rtnl_addr_set_prefixlen(ra, (int)prefix);
	if (af == AF_INET6)
		rtnl_addr_set_flags(ra, IFA_F_NODAD);
	err = NLCALL(&c, rtnl_addr_add(c.sk, ra, NLM_F_EXCL));
out:
	if (err)
		fail(&c, err, "link '%s': add address %s/%u", ifname(ifindex, nb),
		     ntop(af, addr, ab), prefix);
	nl_addr_put(local);
	if (ra)
		rtnl_addr_put(ra);
	ctx_close(&c);
	return err;
}

/*
 * 1 if an address on ifindex has dst/prefix (masked) as its connected
 * prefix, i.e. the kernel keeps a route for it; 0 if not; -errno.
 * IPv4 /32 addresses have no connected route; IPv6 ones (any length) do.
 */
static int connected(struct nlctx *c, int ifindex, int af, const uint8_t *dst, size_t alen,
		     unsigned int prefix)
{
	struct nl_cache *cache = NULL;
	struct nl_object *o;
	int err, found = 0;

	if (af == AF_INET && prefix >= 32)
		return 0;
	err = NLCALL(c, rtnl_addr_alloc_cache(c->sk, &cache));
	if (err)
		return err;
	for (o = nl_cache_get_first(cache); o && !found; o = nl_cache_get_next(o)) {
		struct rtnl_addr *a = (struct rtnl_addr *)o;
		struct nl_addr *l = rtnl_addr_get_local(a);
		uint8_t net[16];

		if (rtnl_addr_get_ifindex(a) != ifindex || rtnl_addr_get_family(a) != af ||
		    rtnl_addr_get_prefixlen(a) != (int)prefix ||
		    (rtnl_addr_get_flags(a) & IFA_F_NOPREFIXROUTE) || !l ||
		    nl_addr_get_len(l) != alen)
			continue;
		memcpy(net, nl_addr_get_binary_addr(l), alen);
		mask_prefix(net, alen, prefix);
		found = !memcmp(net, dst, alen);
	}
	nl_cache_free(cache);
	return found;
}

/* The route nl_route_add installs, for adding or deleting it. */
static struct rtnl_route *route_build(int ifindex, int af, const uint8_t *dst, size_t alen,
				      unsigned int prefix, uint32_t table)
{
	struct rtnl_route *r = rtnl_route_alloc();
	struct rtnl_nexthop *nh = rtnl_route_nh_alloc();
	struct nl_addr *d = nl_addr_build(af, dst, alen);

	if (!r || !nh || !d)
		goto fail;
	nl_addr_set_prefixlen(d, (int)prefix);
	rtnl_route_set_family(r, (uint8_t)af);
	if (rtnl_route_set_dst(r, d) < 0)
		goto fail;
	nl_addr_put(d);
	rtnl_route_set_table(r, table);
	rtnl_route_set_protocol(r, NL_RTPROT);
	rtnl_route_set_type(r, RTN_UNICAST);
	rtnl_route_set_scope(r, af == AF_INET ? RT_SCOPE_LINK : RT_SCOPE_UNIVERSE);
	rtnl_route_nh_set_ifindex(nh, ifindex);
	rtnl_route_add_nexthop(r, nh);
	return r;
fail:
	if (nh)
		rtnl_route_nh_free(nh);
	nl_addr_put(d);
	if (r)
		rtnl_route_put(r);
	return NULL;
}

static int route_op(int add, int ifindex, int family, const void *dst, unsigned int prefix,
		    uint32_t table)
{
	const char *op = add ? "add" : "delete";
	char nb[IFNAMSIZ], ab[INET6_ADDRSTRLEN];
	struct rtnl_route *r;
	uint8_t net[16];
	struct nlctx c;
	size_t alen;
	int af, err;

	af = af_norm(family, &alen);
	if (!af)
		return fail(NULL, -EAFNOSUPPORT, "link '%s': %s route: family %d",
			    ifname(ifindex, nb), op, family);
	if (prefix > alen * 8)
		return fail(NULL, -EINVAL, "link '%s': %s route %s/%u: bad prefix length",
			    ifname(ifindex, nb), op, ntop(af, dst, ab), prefix);
	memcpy(net, dst, alen);
	mask_prefix(net, alen, prefix);
	err = ctx_open(&c);
	if (err)
		return err;
	err = table == RT_TABLE_MAIN ? connected(&c, ifindex, af, net, alen, prefix) : 0;
	if (err) {
		/* 1: the kernel's own route for an address already does it. */
		if (err < 0)
			fail(&c, err, "link '%s': list addresses", ifname(ifindex, nb));
		err = err > 0 ? 0 : err;
		goto out;
	}
	r = route_build(ifindex, af, net, alen, prefix, table);
	if (!r) {
		err = fail(NULL, -ENOMEM, "link '%s': %s route", ifname(ifindex, nb), op);
		goto out;
	}
	if (add)
		err = NLCALL(&c, rtnl_route_add(c.sk, r, NLM_F_EXCL));
	else
		err = NLCALL(&c, rtnl_route_delete(c.sk, r, 0));
	rtnl_route_put(r);
	if (err == -ESRCH) /* what both families say for "no such route" */
		err = -ENOENT;
	if (err)
		fail(&c, err, "link '%s': %s route %s/%u", ifname(ifindex, nb), op,
		     ntop(af, net, ab), prefix);
out:
	ctx_close(&c);
	return err;
}

int nl_route_add(int ifindex, int family, const void *dst, unsigned int prefix)
{
	return route_op(1, ifindex, family, dst, prefix, RT_TABLE_MAIN);
}

int nl_route_add_table(int ifindex, int family, const void *dst, unsigned int prefix,
		       uint32_t table)
{
	return route_op(1, ifindex, family, dst, prefix, table);
}

int nl_route_del(int ifindex, int family, const void *dst, unsigned int prefix)
{
	return route_op(0, ifindex, family, dst, prefix, RT_TABLE_MAIN);
}

int nl_table_in_use(uint32_t table)
{
	struct nl_cache *cache = NULL;
	struct nl_object *o;
	struct nlctx c;
	int err, used = 0;

	err = ctx_open(&c);
	if (err)
		return err;
	err = NLCALL(&c, rtnl_route_alloc_cache(c.sk, AF_UNSPEC, 0, &cache));
	if (err) {
		fail(&c, err, "list routes");
		goto out;
	}
	for (o = nl_cache_get_first(cache); o && !used; o = nl_cache_get_next(o))
		used = rtnl_route_get_table((struct rtnl_route *)o) == table;
	nl_cache_free(cache);
	err = used;
out:
	ctx_close(&c);
	return err;
}

/* Built by hand: libnl's rtnl_rule has no FIB_RULE_INVERT. */
int nl_rule(int add, int family, uint32_t table, uint32_t not_fwmark, int suppress0)
{
	struct fib_rule_hdr frh = {.family = (uint8_t)family, .action = FR_ACT_TO_TBL};
	struct nl_msg *msg;
	struct nlctx c;
	int err;

	if (not_fwmark)
		frh.flags = FIB_RULE_INVERT;
	frh.table = table < 256 ? (uint8_t)table : RT_TABLE_UNSPEC;
	err = ctx_open(&c);
	if (err)
		return err;
	msg = nlmsg_alloc_simple(add ? RTM_NEWRULE : RTM_DELRULE,
				 add ? NLM_F_CREATE | NLM_F_EXCL : 0);
	if (!msg || nlmsg_append(msg, &frh, sizeof(frh), NLMSG_ALIGNTO) < 0 ||
	    nla_put_u32(msg, FRA_TABLE, table) < 0 ||
	    (not_fwmark && nla_put_u32(msg, FRA_FWMARK, not_fwmark) < 0) ||
	    (suppress0 && nla_put_u32(msg, FRA_SUPPRESS_PREFIXLEN, 0) < 0)) {
		nlmsg_free(msg);
		err = -ENOMEM;
		goto out;
	}
	err = NLCALL(&c, nl_send_sync(c.sk, msg)); /* frees msg */
	if (err == -ESRCH)
		err = -ENOENT;
	/* EEXIST on add (the same rule is there) is the caller's to judge */
	if (err && err != -EEXIST && !(err == -ENOENT && !add))
		fail(&c, err, "%s %s rule: not fwmark %u table %u%s", add ? "add" : "delete",
		     family == AF_INET6 ? "IPv6" : "IPv4", not_fwmark, table,
		     suppress0 ? " suppress_prefixlength 0" : "");
out:
	ctx_close(&c);
	return err;
}

uint32_t nl_route_mark;

struct route_reply {
	struct nl_route_info *info;
	int got;
};

static int route_reply(struct nl_msg *msg, void *arg)
{
	struct nlmsghdr *h = nlmsg_hdr(msg);
	struct route_reply *rr = arg;
	struct nl_route_info *info = rr->info;
	struct nlattr *tb[RTA_MAX + 1];
	size_t alen;
	struct rtmsg *r;

	if (h->nlmsg_type != RTM_NEWROUTE || nlmsg_parse(h, sizeof(*r), tb, RTA_MAX, NULL) < 0)
		return NL_SKIP;
	r = nlmsg_data(h);
	alen = r->rtm_family == AF_INET ? 4 : 16;
	info->type = r->rtm_type;
	if (tb[RTA_OIF] && nla_len(tb[RTA_OIF]) >= 4)
		info->oif = (int)nla_get_u32(tb[RTA_OIF]);
	if (tb[RTA_PREFSRC] && (size_t)nla_len(tb[RTA_PREFSRC]) == alen) {
		info->has_prefsrc = 1;
		info->prefsrc_family = r->rtm_family;
		memcpy(info->prefsrc, nla_data(tb[RTA_PREFSRC]), alen);
	}
	if (tb[RTA_GATEWAY] && (size_t)nla_len(tb[RTA_GATEWAY]) == alen) {
		info->has_gateway = 1;
		info->gw_family = r->rtm_family;
		memcpy(info->gateway, nla_data(tb[RTA_GATEWAY]), alen);
	} else if (tb[RTA_VIA] && (size_t)nla_len(tb[RTA_VIA]) >= sizeof(struct rtvia)) {
		const struct rtvia *via = nla_data(tb[RTA_VIA]);
		size_t vlen = nla_len(tb[RTA_VIA]) - sizeof(*via);

		if ((via->rtvia_family == AF_INET && vlen == 4) ||
		    (via->rtvia_family == AF_INET6 && vlen == 16)) {
			info->has_gateway = 1;
			info->gw_family = via->rtvia_family;
			memcpy(info->gateway, via->rtvia_addr, vlen);
		}
	}
	if (tb[RTA_METRICS]) {
		struct nlattr *mx[RTAX_MAX + 1];

		if (!nla_parse_nested(mx, RTAX_MAX, tb[RTA_METRICS], NULL) && mx[RTAX_MTU] &&
		    nla_len(mx[RTAX_MTU]) >= 4)
			info->route_mtu = nla_get_u32(mx[RTAX_MTU]);
	}
	rr->got = 1;
	return NL_STOP;
}

int nl_route_get(int family, const void *dst, struct nl_route_info *out)
{
	char ab[INET6_ADDRSTRLEN], nb[IFNAMSIZ];
	struct route_reply rr = {.info = out};
	struct rtnl_link *l;
	struct nl_msg *msg;
	struct rtmsg rtm;
	struct nlctx c;
	size_t alen;
	int af, err;

	af = af_norm(family, &alen);
	if (!af)
		return fail(NULL, -EAFNOSUPPORT, "route get: family %d", family);
	memset(out, 0, sizeof(*out));
	err = ctx_open(&c);
	if (err)
		return err;
	memset(&rtm, 0, sizeof(rtm));
	rtm.rtm_family = (uint8_t)af;
	rtm.rtm_dst_len = (uint8_t)(alen * 8);
	msg = nlmsg_alloc_simple(RTM_GETROUTE, 0);
	if (!msg || nlmsg_append(msg, &rtm, sizeof(rtm), NLMSG_ALIGNTO) < 0 ||
	    nla_put(msg, RTA_DST, (int)alen, dst) < 0 ||
	    (nl_route_mark && nla_put_u32(msg, RTA_MARK, nl_route_mark) < 0)) {
		nlmsg_free(msg);
		err = fail(NULL, -ENOMEM, "route get %s", ntop(af, dst, ab));
		goto out;
	}
	err = request(&c, msg, route_reply, &rr, &rr.got);
	if (err) {
		/* Unreachable and friends are answers, not failures. */
		if (err != -ENETUNREACH && err != -EHOSTUNREACH && err != -EACCES)
			fail(&c, err, "route get %s", ntop(af, dst, ab));
		goto out;
	}
	if (out->oif <= 0) {
		err = -ENETUNREACH;
		goto out;
	}
	err = get_link(&c, out->oif, NULL, &l);
	if (err) {
		fail(&c, err, "route get %s: link '%s'", ntop(af, dst, ab), ifname(out->oif, nb));
		goto out;
	}
	out->mtu = rtnl_link_get_mtu(l);
	rtnl_link_put(l);
out:
	ctx_close(&c);
	return err;
}

/* ---- neighbours ------------------------------------------------------- */

/* Kernel-internal (include/net/neighbour.h): states with a usable address. */
#define NUD_VALID (NUD_PERMANENT | NUD_NOARP | NUD_REACHABLE | NUD_PROBE | NUD_STALE | NUD_DELAY)

struct neigh_reply {
	uint8_t *mac;
	int valid;
	int got;
};

static int neigh_reply(struct nl_msg *msg, void *arg)
{
	struct nlmsghdr *h = nlmsg_hdr(msg);
	struct neigh_reply *nr = arg;
	struct nlattr *tb[NDA_MAX + 1];
	struct ndmsg *ndm;

	if (h->nlmsg_type != RTM_NEWNEIGH || nlmsg_parse(h, sizeof(*ndm), tb, NDA_MAX, NULL) < 0)
		return NL_SKIP;
	ndm = nlmsg_data(h);
	nr->got = 1;
	if ((ndm->ndm_state & NUD_VALID) && tb[NDA_LLADDR] && nla_len(tb[NDA_LLADDR]) == 6) {
		memcpy(nr->mac, nla_data(tb[NDA_LLADDR]), 6);
		nr->valid = 1;
	}
	return NL_STOP;
}

int nl_neigh_lookup(int ifindex, int family, const void *addr, uint8_t mac[6])
{
	char ab[INET6_ADDRSTRLEN], nb[IFNAMSIZ];
	struct neigh_reply nr = {.mac = mac};
	struct nl_msg *msg;
	struct ndmsg ndm;
	struct nlctx c;
	size_t alen;
	int af, err;

	af = af_norm(family, &alen);
	if (!af)
		return fail(NULL, -EAFNOSUPPORT, "link '%s': neighbour: family %d",
			    ifname(ifindex, nb), family);
	err = ctx_open(&c);
	if (err)
		return err;
	memset(&ndm, 0, sizeof(ndm));
	ndm.ndm_family = (uint8_t)af;
	ndm.ndm_ifindex = ifindex;
	msg = nlmsg_alloc_simple(RTM_GETNEIGH, 0);
	if (!msg || nlmsg_append(msg, &ndm, sizeof(ndm), NLMSG_ALIGNTO) < 0 ||
	    nla_put(msg, NDA_DST, (int)alen, addr) < 0) {
		nlmsg_free(msg);
		err = fail(NULL, -ENOMEM, "link '%s': neighbour %s", ifname(ifindex, nb),
			   ntop(af, addr, ab));
		goto out;
	}
	err = request(&c, msg, neigh_reply, &nr, &nr.got);
	if (!err && !nr.valid)
		err = -ENOENT;
	if (err && err != -ENOENT)
		fail(&c, err, "link '%s': neighbour %s", ifname(ifindex, nb), ntop(af, addr, ab));
out:
	ctx_close(&c);
	return err;
}

/* ---- clsact ----------------------------------------------------------- */

/*
 * Kind of the qdisc at ifindex's ingress/clsact slot into kind (size n):
 * 1 if there is one, 0 if not, -errno.
 */
static int ingress_qdisc(struct nlctx *c, int ifindex, char *kind, size_t n)
{
	struct nl_cache *cache = NULL;
	struct nl_object *o;
	int err, found = 0;

	err = NLCALL(c, rtnl_qdisc_alloc_cache(c->sk, &cache));
	if (err)
		return err;
	for (o = nl_cache_get_first(cache); o && !found; o = nl_cache_get_next(o)) {
		struct rtnl_tc *tc = TC_CAST(o);

		if (rtnl_tc_get_ifindex(tc) != ifindex || rtnl_tc_get_parent(tc) != TC_H_INGRESS)
			continue;
		snprintf(kind, n, "%s", rtnl_tc_get_kind(tc) ?: "");
		found = 1;
	}
	nl_cache_free(cache);
	return found;
}

int nl_clsact_ensure(int ifindex, int *created)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = BPF_TC_INGRESS);
	char nb[IFNAMSIZ], kind[32];
	struct nlctx c;
	int err;

	if (created)
		*created = 0;
	err = ctx_open(&c);
	if (err)
		return err;
	err = ingress_qdisc(&c, ifindex, kind, sizeof(kind));
	ctx_close(&c);
	if (err < 0)
		return fail(NULL, err, "link '%s': list qdiscs", ifname(ifindex, nb));
	if (err > 0) {
		if (strcmp(kind, "clsact"))
			return fail(NULL, -EBUSY, "link '%s': has an '%s' qdisc where clsact goes",
				    ifname(ifindex, nb), kind);
		return 0;
	}
	err = bpf_tc_hook_create(&hook);
	if (err == -EEXIST) /* someone else was quicker */
		return 0;
	if (err)
		return fail(NULL, err, "link '%s': add clsact qdisc", ifname(ifindex, nb));
	if (created)
		*created = 1;
	return 0;
}

int nl_clsact_del(int ifindex)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex,
		    .attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS);
	char nb[IFNAMSIZ], kind[32];
	struct nlctx c;
	int err;

	err = ctx_open(&c);
	if (err)
		return err;
	err = ingress_qdisc(&c, ifindex, kind, sizeof(kind));
	ctx_close(&c);
	if (err < 0)
		return fail(NULL, err, "link '%s': list qdiscs", ifname(ifindex, nb));
	if (!err || strcmp(kind, "clsact"))
		return fail(NULL, -ENOENT, "link '%s': no clsact qdisc to delete",
			    ifname(ifindex, nb));
	/* Both attach points: libbpf then deletes the qdisc, not just filters. */
	err = bpf_tc_hook_destroy(&hook);
	if (err)
		return fail(NULL, err, "link '%s': delete clsact qdisc", ifname(ifindex, nb));
	return 0;
}

int nl_clsact_exists(int ifindex)
{
	char kind[32];
	struct nlctx c;
	int err = ctx_open(&c);

	if (err)
		return err;
	err = ingress_qdisc(&c, ifindex, kind, sizeof(kind));
	ctx_close(&c);
	return err < 0 ? err : err > 0 && !strcmp(kind, "clsact");
}

/* ---- filters on a clsact qdisc ----------------------------------------- */

int nl_clsact_filters(int ifindex, uint32_t *ingress_handles, int max)
{
	static const uint32_t parents[2] = {
	    TC_H_MAKE(TC_H_CLSACT, TC_H_MIN_INGRESS),
	    TC_H_MAKE(TC_H_CLSACT, TC_H_MIN_EGRESS),
	};
	struct nl_cache *cache = NULL;
	struct nlctx c;
	int err, total = 0, n = 0;

	err = ctx_open(&c);
	if (err)
		return err;
	for (int p = 0; p < 2; p++) {
		struct nl_object *o;

		err = rtnl_cls_alloc_cache(c.sk, ifindex, parents[p], &cache);
		if (err < 0) {
			err = c.syserr ?: -EIO;
			goto out;
		}
		for (o = nl_cache_get_first(cache); o; o = nl_cache_get_next(o)) {
			total++;
			if (p == 0 && n < max && ingress_handles)
				ingress_handles[n++] = rtnl_tc_get_handle(TC_CAST(o));
		}
		nl_cache_free(cache);
		cache = NULL;
	}
	err = total;
out:
	ctx_close(&c);
	return err;
}
