// SPDX-License-Identifier: GPL-2.0
/*
 * live.c - live peer changes applied to a running tunnel's maps, and the
 * control socket that carries them to its key manager (see live.h).
 */
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <sodium.h>

#include "live.h"
#include "netlink.h"
#include "underlay.h"

/* One AllowedIPs entry of the result, for the overlap check. */
struct owned {
	struct bpftun_lpm_key k;
	uint32_t id;
};

static int owned_cmp(const void *a, const void *b)
{
	const struct owned *x = a, *y = b;
	int r = memcmp(&x->k, &y->k, sizeof(x->k));

	return r ? r : (x->id > y->id) - (x->id < y->id);
}

static struct bpftun_lpm_key lpm_key(const struct bt_prefix *pf)
{
	struct bpftun_lpm_key k = {0};

	k.family = pf->family == AF_INET6 ? 6 : 4;
	k.prefixlen = BPFTUN_LPM_FAMILY_BITS + pf->prefix;
	memcpy(k.addr, pf->addr, pf->family == AF_INET6 ? 16 : 4);
	return k;
}

static void key_str(char *buf, size_t len, const struct bpftun_lpm_key *k)
{
	char ip[INET6_ADDRSTRLEN];

	inet_ntop(k->family == 6 ? AF_INET6 : AF_INET, k->addr, ip, sizeof(ip));
	snprintf(buf, len, "%s/%u", ip, k->prefixlen - BPFTUN_LPM_FAMILY_BITS);
}

static int key_cmp(const void *a, const void *b)
{
	return memcmp(&((const struct owned *)a)->k, &((const struct owned *)b)->k,
		      sizeof(struct bpftun_lpm_key));
}

/* k is in the resulting trie (res: sorted, one entry per key). */
static int in_result(const struct owned *res, size_t n, const struct bpftun_lpm_key *k)
{
	struct owned o = {*k, 0};

	return n && bsearch(&o, res, n, sizeof(*res), key_cmp);
}

/* A trie entry and its route (a /0 has none: see `up`). */
static void trie_del(int fd, int tun_ifindex, const struct bpftun_lpm_key *k)
{
	bpf_map_delete_elem(fd, k);
	if (tun_ifindex > 0 && k->prefixlen > BPFTUN_LPM_FAMILY_BITS)
		nl_route_del(tun_ifindex, k->family == 6 ? AF_INET6 : AF_INET, k->addr,
			     k->prefixlen - BPFTUN_LPM_FAMILY_BITS);
}

/* Every trie entry (key -> peer id), malloc'd. */
static int read_trie(int fd, struct owned **out, size_t *n)
{
	struct bpftun_lpm_key k, next;
	struct owned *v = NULL;
	size_t cap = 0, len = 0;
	void *prev = NULL;

	while (!bpf_map_get_next_key(fd, prev, &next)) {
		if (len == cap) {
			struct owned *nv = realloc(v, (cap = cap ? cap * 2 : 256) * sizeof(*v));

			if (!nv)
				return free(v), -ENOMEM;
			v = nv;
		}
		if (!bpf_map_lookup_elem(fd, &next, &v[len].id)) {
			v[len].k = next;
			len++;
		}
		k = next;
		prev = &k;
	}
	*out = v;
	*n = len;
	return 0;
}

static int zero_stats(struct datapath *dp, uint32_t id)
{
	int ncpu = libbpf_num_possible_cpus(), fd = dp_map_fd(dp, "stats"), err = 0;
	void *z;

	if (ncpu < 0 || fd < 0)
		return ncpu < 0 ? ncpu : fd;
	z = calloc((size_t)ncpu, sizeof(struct bpftun_peer_stats));
	if (!z)
		return -ENOMEM;
	if (bpf_map_update_elem(fd, &id, z, BPF_ANY))
		err = -errno;
	free(z);
	return err;
}

/* Public keys sorted with their index, for lookups in O(log n). */
struct keyidx {
	const uint8_t *key;
	uint32_t idx;
};

static int keyidx_cmp(const void *a, const void *b)
{
	return memcmp(((const struct keyidx *)a)->key, ((const struct keyidx *)b)->key, 32);
}

static void peer_name(char *buf, const uint8_t key[32])
{
	bt_key_to_base64(buf, key);
}

int live_apply(struct datapath *dp, int tun_ifindex, enum live_mode mode, struct live_peer *lp,
	       int n, const struct live_hooks *hooks, char *msg, size_t msglen)
{
	uint32_t max = dp_max_peers(dp), max_allowed, nrun = 0, next_free = 0, *ids = NULL;
	struct bpf_map_info info = {0};
	uint32_t ilen = sizeof(info);
	struct bpftun_iface ifc;
	struct bpftun_peer *run = NULL; /* running entries, by id */
	uint8_t *drop = NULL;		/* by id: a running peer removed */
	int32_t *rec = NULL;		/* by id: its record in lp, -1 none */
	struct keyidx *byk = NULL;	/* running peers, then records, by key */
	struct owned *trie = NULL, *res = NULL;
	size_t ntrie = 0, nres = 0;
	int fd = dp_map_fd(dp, "allowed_ips"), err;
	char kb[BT_KEY_B64_LEN + 1], pb[64];

	msg[0] = 0;
	if (fd < 0 || bpf_obj_get_info_by_fd(fd, &info, &ilen) || dp_get_iface(dp, &ifc)) {
		snprintf(msg, msglen, "reading the running tunnel's maps: %s", strerror(errno));
		return -EIO;
	}
	max_allowed = info.max_entries;
	nl_route_mark = ifc.fwmark; /* endpoint routes as our marked outer packets see them */
	run = calloc(max, sizeof(*run));
	drop = calloc(max, 1);
	rec = malloc(max * sizeof(*rec));
	ids = calloc((size_t)n + 1, sizeof(*ids));
	byk = malloc(((size_t)max + (size_t)n + 1) * sizeof(*byk));
	err = run && drop && rec && ids && byk ? read_trie(fd, &trie, &ntrie) : -ENOMEM;
	if (err)
		goto out;
	for (uint32_t id = 0; id < max; id++) {
		rec[id] = -1;
		if (dp_get_peer(dp, id, &run[id]) || !run[id].present)
			run[id].present = 0;
		else
			byk[nrun++] = (struct keyidx){run[id].public_key, id};
	}
	qsort(byk, nrun, sizeof(*byk), keyidx_cmp);

	/* 1. Each record's peer id: running (by public key) or a free one. */
	for (int i = 0; i < n; i++) {
		struct keyidx want = {lp[i].p.public_key, 0}, *hit;
		uint32_t id = max;

		peer_name(kb, want.key);
		if (!memcmp(want.key, ifc.public_key, 32)) {
			snprintf(msg, msglen, "peer %s: is this interface's own public key", kb);
			err = -EINVAL;
			goto out;
		}
		hit = nrun ? bsearch(&want, byk, nrun, sizeof(*byk), keyidx_cmp) : NULL;
		if (hit)
			id = hit->idx;
		if (id == max && (lp[i].flags & LIVE_REMOVE)) {
			ids[i] = max; /* removing a peer that is not there: nothing (as wg) */
			continue;
		}
		if (id == max) { /* new: the lowest free id no earlier record took */
			while (next_free < max && (run[next_free].present || rec[next_free] >= 0))
				next_free++;
			if (next_free == max) {
				snprintf(msg, msglen,
					 "peer %s: no room for another peer: this tunnel's maps "
					 "hold %u peers (sized at up; down and up to grow them)",
					 kb, max);
				err = -ENOSPC;
				goto out;
			}
			id = next_free;
		}
		if (rec[id] >= 0) {
			snprintf(msg, msglen, "peer %s: named twice", kb);
			err = -EINVAL;
			goto out;
		}
		ids[i] = id;
		rec[id] = i;
		if (lp[i].flags & LIVE_REMOVE)
			drop[id] = 1;
	}
	/* a new key named twice took two free ids: the records, sorted */
	for (int i = 0; i < n; i++)
		byk[i] = (struct keyidx){lp[i].p.public_key, (uint32_t)i};
	qsort(byk, (size_t)n, sizeof(*byk), keyidx_cmp);
	for (int i = 1; i < n; i++)
		if (!memcmp(byk[i - 1].key, byk[i].key, 32)) {
			peer_name(kb, byk[i].key);
			snprintf(msg, msglen, "peer %s: named twice", kb);
			err = -EINVAL;
			goto out;
		}
	if (mode == LIVE_SYNC)
		for (uint32_t k = 0; k < max; k++)
			if (run[k].present && rec[k] < 0)
				drop[k] = 1;

	/* 2. The trie as it will be: no prefix owned twice, within its size. */
	res = malloc((ntrie + 1) * sizeof(*res));
	err = res ? 0 : -ENOMEM;
	for (size_t t = 0; !err && t < ntrie; t++) {
		uint32_t id = trie[t].id;

		if (id < max && !drop[id] && !(rec[id] >= 0 && (lp[rec[id]].flags & LIVE_ALLOWED)))
			res[nres++] = trie[t];
	}
	for (int i = 0; !err && i < n; i++) {
		struct owned *nr;

		if (!(lp[i].flags & (LIVE_ALLOWED | LIVE_ALLOWED_ADD)) || ids[i] == max ||
		    (lp[i].flags & LIVE_REMOVE))
			continue;
		nr = realloc(res, (nres + (size_t)lp[i].p.nallowed + 1) * sizeof(*res));
		if (!nr) {
			err = -ENOMEM;
			break;
		}
		res = nr;
		for (int a = 0; a < lp[i].p.nallowed; a++)
			res[nres++] = (struct owned){lpm_key(&lp[i].p.allowed[a]), ids[i]};
	}
	if (err)
		goto out;
	qsort(res, nres, sizeof(*res), owned_cmp);
	{
		size_t w = 0;

		for (size_t t = 0; t < nres; t++) {
			if (w && !memcmp(&res[w - 1].k, &res[t].k, sizeof(res[t].k))) {
				if (res[w - 1].id == res[t].id)
					continue; /* the same peer lists it again: once */
				key_str(pb, sizeof(pb), &res[t].k);
				{ /* name the peer of the change set */
					int32_t r = rec[res[t].id] >= 0 ? rec[res[t].id]
									: rec[res[w - 1].id];

					peer_name(kb, r >= 0 ? lp[r].p.public_key
							     : run[res[t].id].public_key);
				}
				snprintf(msg, msglen,
					 "peer %s: AllowedIPs %s: already routed to another peer "
					 "(remove it there first)",
					 kb, pb);
				err = -EEXIST;
				goto out;
			}
			res[w++] = res[t];
		}
		nres = w;
	}
	if (nres > max_allowed) {
		snprintf(msg, msglen,
			 "AllowedIPs: %zu entries in all peers together, this tunnel's table holds "
			 "%u (sized at up; down and up to grow it)",
			 nres, max_allowed);
		err = -ENOSPC;
		goto out;
	}
	/* 3. Endpoints: a route to each, and a free underlay slot for a new device. */
	for (int i = 0; i < n; i++) {
		struct bpftun_endpoint ep = {0};
		struct bpftun_iface plan = ifc;
		int oif, added;

		if (!(lp[i].flags & LIVE_ENDPOINT) || (lp[i].flags & LIVE_REMOVE) ||
		    !lp[i].p.have_endpoint)
			continue;
		peer_name(kb, lp[i].p.public_key);
		inet_ntop(lp[i].p.family, lp[i].p.endpoint, pb, sizeof(pb));
		err = underlay_resolve(lp[i].p.family, lp[i].p.endpoint, lp[i].p.port, &ep, &oif);
		if (err) {
			snprintf(msg, msglen, "peer %s: endpoint %s: no route to this address (%s)",
				 kb, pb, strerror(-err));
			goto out;
		}
		if (dp_underlay_slot(&plan, (uint32_t)oif, &added) < 0) {
			snprintf(msg, msglen,
				 "peer %s: endpoint %s: reached over a %dth underlay device; a "
				 "tunnel listens on at most %d",
				 kb, pb, BPFTUN_MAX_UNDERLAYS + 1, BPFTUN_MAX_UNDERLAYS);
			err = -E2BIG;
			goto out;
		}
	}

	/* From here on the maps change. 4. Removed peers: their trie entries
	 * and routes (not a prefix another peer takes over in this set), then
	 * their SAs and key material, then their entries. */
	qsort(trie, ntrie, sizeof(*trie), owned_cmp);
	for (size_t t = 0; t < ntrie; t++)
		if (trie[t].id < max && drop[trie[t].id] && !in_result(res, nres, &trie[t].k))
			trie_del(fd, tun_ifindex, &trie[t].k);
	for (uint32_t k = 0; k < max; k++) {
		struct bpftun_peer none = {0};

		if (!drop[k] || !run[k].present)
			continue;
		if (hooks && hooks->remove)
			hooks->remove(hooks->arg, k);
		if (dp_set_peer(dp, k, &none)) {
			err = -errno;
			snprintf(msg, msglen, "peer %u: clearing its entry: %s", k,
				 strerror(errno));
			goto out;
		}
	}
	/* 5. New and changed peers: entry, then trie entries and routes. */
	for (int i = 0; i < n; i++) {
		uint32_t id = ids[i];
		struct bpftun_peer v;
		int is_new;

		if (id == max || (lp[i].flags & LIVE_REMOVE))
			continue;
		is_new = !run[id].present;
		v = is_new ? (struct bpftun_peer){0} : run[id];
		if (is_new) {
			v.present = 1;
			memcpy(v.public_key, lp[i].p.public_key, 32);
			v.ep.sport = htons(ifc.listen_port);
			err = zero_stats(dp, id);
			if (err) {
				snprintf(msg, msglen, "peer %u: zeroing its counters: %s", id,
					 strerror(-err));
				goto out;
			}
		}
		if (lp[i].flags & LIVE_KEEPALIVE)
			v.keepalive = lp[i].p.keepalive;
		if ((lp[i].flags & LIVE_ENDPOINT) && lp[i].p.have_endpoint) {
			int oif;

			if (!underlay_resolve(lp[i].p.family, lp[i].p.endpoint, lp[i].p.port, &v.ep,
					      &oif)) {
				memcpy(v.seen_addr, v.ep.daddr, 16);
				v.seen_port = v.ep.dport;
				v.seen_v6 = lp[i].p.family == AF_INET6;
				underlay_listen(dp, oif);
			}
		}
		if (dp_set_peer(dp, id, &v)) {
			err = -errno;
			snprintf(msg, msglen, "peer %u: writing its entry: %s", id,
				 strerror(errno));
			goto out;
		}
		/* AllowedIPs it gains or keeps (a prefix that moves changes owner
		 * at once); those it loses go in step 6 */
		for (int a = 0;
		     (lp[i].flags & (LIVE_ALLOWED | LIVE_ALLOWED_ADD)) && a < lp[i].p.nallowed;
		     a++) {
			struct bt_prefix *pf = &lp[i].p.allowed[a];
			struct owned o = {lpm_key(pf), 0};
			struct owned *was =
			    ntrie ? bsearch(&o, trie, ntrie, sizeof(*trie), key_cmp) : NULL;
			int had = was != NULL; /* routed already (step 4 kept it) */

			err =
			    dp_allow(dp, pf->family == AF_INET6 ? 6 : 4, pf->addr, pf->prefix, id);
			if (err) {
				snprintf(msg, msglen, "peer %u: AllowedIPs: %s", id,
					 strerror(-err));
				goto out;
			}
			if (!had && tun_ifindex > 0 && pf->prefix) {
				int e = nl_route_add(tun_ifindex, pf->family, pf->addr, pf->prefix);

				if (e && e != -EEXIST)
					fprintf(stderr,
						"bpftun: peer %u: route for an AllowedIP: %s\n", id,
						strerror(-e));
			}
		}
		if (hooks && hooks->added)
			hooks->added(hooks->arg, id, &lp[i], is_new);
	}
	/* 6. The entries changed peers no longer have (after the new ones: a
	 * prefix that moved to another peer is not in this list) */
	for (size_t t = 0; t < ntrie; t++)
		if (trie[t].id < max && !drop[trie[t].id] && rec[trie[t].id] >= 0 &&
		    (lp[rec[trie[t].id]].flags & LIVE_ALLOWED) && !in_result(res, nres, &trie[t].k))
			trie_del(fd, tun_ifindex, &trie[t].k);
	err = 0;
out:
	if (err && !msg[0])
		snprintf(msg, msglen, "%s", strerror(-err));
	free(run);
	free(drop);
	free(rec);
	free(byk);
	free(ids);
	free(trie);
	free(res);
	return err;
}

/* ------------------------------------------------------- control socket */

int live_ctl_path(char *buf, size_t len, const char *ifname)
{
	struct stat st;

	if (stat("/proc/self/ns/net", &st))
		return -errno;
	if (mkdir("/run/bpftun", 0700) && errno != EEXIST)
		return -errno;
	snprintf(buf, len, "/run/bpftun/%lu-%s.ctl", (unsigned long)st.st_ino, ifname);
	return strlen(buf) < sizeof(((struct sockaddr_un *)0)->sun_path) ? 0 : -ENAMETOOLONG;
}

/* All of len bytes, waiting at most until deadline (CLOCK_MONOTONIC ms). */
static int xfer(int fd, void *buf, size_t len, int out, uint64_t deadline)
{
	uint8_t *b = buf;

	while (len) {
		struct timespec ts;
		struct pollfd p = {fd, out ? POLLOUT : POLLIN, 0};
		uint64_t now;
		ssize_t r;

		clock_gettime(CLOCK_MONOTONIC, &ts);
		now = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
		if (now >= deadline)
			return -ETIMEDOUT;
		if (poll(&p, 1, (int)(deadline - now)) <= 0)
			continue;
		r = out ? send(fd, b, len, MSG_NOSIGNAL | MSG_DONTWAIT)
			: recv(fd, b, len, MSG_DONTWAIT);
		if (r < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (r <= 0)
			return r ? -errno : -ECONNRESET;
		b += r;
		len -= (size_t)r;
	}
	return 0;
}

static uint64_t deadline_ms(unsigned int ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000 + ms;
}

int live_ctl_send(const char *path, enum live_mode mode, const struct live_peer *lp, int n,
		  char *msg, size_t msglen)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct live_msg_hdr h = {LIVE_MAGIC, (uint32_t)mode, (uint32_t)n, sizeof(*lp)};
	struct live_msg_reply r = {0};
	uint64_t dl = deadline_ms(30000);
	int fd, err;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		err = -errno;
		close(fd);
		return err;
	}
	err = xfer(fd, &h, sizeof(h), 1, dl);
	err = err ?: xfer(fd, (void *)lp, (size_t)n * sizeof(*lp), 1, dl);
	err = err ?: xfer(fd, &r, sizeof(r), 0, dl);
	close(fd);
	if (err) {
		snprintf(msg, msglen, "talking to the key manager: %s", strerror(-err));
		return err == -ENOENT || err == -ECONNREFUSED ? -EIO : err;
	}
	r.msg[sizeof(r.msg) - 1] = 0;
	snprintf(msg, msglen, "%s", r.msg);
	return r.err;
}

int live_ctl_read(int fd, enum live_mode *mode, struct live_peer **lp, int *n)
{
	struct live_msg_hdr h;
	struct ucred cr;
	socklen_t cl = sizeof(cr);
	uint64_t dl = deadline_ms(10000);
	struct live_peer *v;
	int err;

	*lp = NULL;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &cl) || cr.uid != 0)
		return -EPERM;
	err = xfer(fd, &h, sizeof(h), 0, dl);
	if (err)
		return err;
	if (h.magic != LIVE_MAGIC || h.rec_size != sizeof(**lp) || h.n > BT_MAX_PEERS ||
	    (h.mode != LIVE_SET && h.mode != LIVE_SYNC))
		return -EPROTO;
	v = calloc(h.n + 1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	err = xfer(fd, v, (size_t)h.n * sizeof(*v), 0, dl);
	if (err) {
		sodium_memzero(v, (size_t)h.n * sizeof(*v));
		free(v);
		return err;
	}
	for (uint32_t i = 0; i < h.n; i++)
		if (v[i].p.nallowed < 0 || v[i].p.nallowed > BT_MAX_ALLOWED) {
			sodium_memzero(v, (size_t)h.n * sizeof(*v));
			free(v);
			return -EPROTO;
		}
	*lp = v;
	*n = (int)h.n;
	*mode = (enum live_mode)h.mode;
	return 0;
}

void live_ctl_answer(int fd, int err, const char *msg)
{
	struct live_msg_reply r = {.err = err};

	snprintf(r.msg, sizeof(r.msg), "%s", msg ? msg : "");
	xfer(fd, &r, sizeof(r), 1, deadline_ms(2000));
}
