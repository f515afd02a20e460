// SPDX-License-Identifier: GPL-2.0
/*
 * control.c - bpftun-keymgmt's control socket: live peer changes from
 * `bpftun set/syncconf/addconf` (tunnel/live.h). The key manager is the one
 * writer of the peers map while it runs (it rewrites entries on handshakes
 * and roaming), so it applies change sets itself, between two events of its
 * loop: a removed peer's SAs are deleted (BPFTUN_OP_DELETE_PEER) and its
 * handshake state and PresharedKey zeroed before its entry is cleared; a new
 * peer gets handshake state at its new id and a first handshake at once.
 * Peers that are not named are not touched.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <sodium.h>

#include "keyring.h"
#include "km.h"
#include "live.h"
#include "netlink.h"

int km_ctl_open(struct km *km)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd, err;

	km->ctl = -1;
	err = live_ctl_path(km->ctl_path, sizeof(km->ctl_path), km->ifname);
	if (err)
		return err;
	memcpy(sa.sun_path, km->ctl_path, strlen(km->ctl_path) + 1); /* fits: live_ctl_path */
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	unlink(km->ctl_path); /* left by a key manager that was killed */
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || chmod(km->ctl_path, 0600) ||
	    listen(fd, 4)) {
		err = -errno;
		close(fd);
		pr_err("control socket %s: %s", km->ctl_path, strerror(-err));
		return err;
	}
	km->ctl = fd;
	return 0;
}

void km_ctl_close(struct km *km)
{
	if (km->ctl < 0)
		return;
	close(km->ctl);
	km->ctl = -1;
	unlink(km->ctl_path);
}

static void on_remove(void *arg, uint32_t id)
{
	struct km *km = arg;
	struct bpftun_peer p;
	char desc[BT_KR_PSK_DESC_LEN];

	/* its live PresharedKey, if one was set (the entry still holds the key) */
	if (!dp_get_peer(km->dp, id, &p) &&
	    !bt_kr_psk_desc(desc, sizeof(desc), km->ifname, p.public_key))
		bt_kr_purge(desc, 1, NULL, NULL);
	sa_op(km, BPFTUN_OP_DELETE_PEER, id, 0, 0, NULL, 0);
	hs_peer_remove(km->hs, id);
	sodium_memzero(&km->peers[id], sizeof(km->peers[id]));
	km->peers[id].pending_slot = -1;
	pr_info("peer %u: removed (its SAs deleted)", id);
}

static void on_added(void *arg, uint32_t id, const struct live_peer *lp, int is_new)
{
	struct km *km = arg;
	struct km_peer *kp = &km->peers[id];

	if (is_new) {
		memset(kp, 0, sizeof(*kp));
		kp->id = id;
		kp->pending_slot = -1;
		if (hs_peer_add_at(km->hs, lp->p.public_key, id)) {
			pr_err("peer %u: handshake state: refused", id);
			return;
		}
		kp->present = 1;
		if ((int)id >= km->nids)
			km->nids = (int)id + 1;
	}
	if ((lp->flags & LIVE_PSK) && hs_peer_set_psk(km->hs, id, lp->p.psk)) { /* zero: none */
		pr_err("peer %u: PresharedKey: refused", id);
	} else if (lp->flags & LIVE_PSK) {
		/* kept in @u too, so that a restarted key manager still has it
		 * (keyring.h); a zero key records "none" over the file's */
		char desc[BT_KR_PSK_DESC_LEN];
		int err = bt_kr_psk_desc(desc, sizeof(desc), km->ifname, lp->p.public_key);

		err = err ?: bt_kr_psk_store(desc, lp->p.psk);
		if (err)
			pr_err("peer %u: PresharedKey in use, but not kept in the user keyring "
			       "(%s): a "
			       "restarted key manager would take the file's",
			       id, strerror(-err));
	}
	if (lp->flags & LIVE_ENDPOINT)
		kp->last_route_ns = mono_ns(); /* just resolved */
	pr_info("peer %u: %s", id, is_new ? "added" : "changed");
}

void km_live(struct km *km)
{
	struct live_hooks hooks = {.arg = km, .remove = on_remove, .added = on_added};
	struct live_peer *lp = NULL;
	enum live_mode mode;
	char msg[500] = "";
	int fd = accept4(km->ctl, NULL, NULL, SOCK_CLOEXEC), n = 0, err;

	if (fd < 0)
		return;
	err = live_ctl_read(fd, &mode, &lp, &n);
	if (err)
		snprintf(msg, sizeof(msg), "the change set could not be read: %s", strerror(-err));
	else
		err = live_apply(km->dp, nl_link_index(km->ifname), mode, lp, n, &hooks, msg,
				 sizeof(msg));
	if (err)
		pr_info("live change refused: %s", msg);
	live_ctl_answer(fd, err, msg);
	close(fd);
	if (lp)
		sodium_memzero(lp, (size_t)n * sizeof(*lp));
	free(lp);
}
