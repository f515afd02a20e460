// SPDX-License-Identifier: GPL-2.0
/*
 * session.c - bpftun-keymgmt: a completed handshake becomes a session in the
 * datapath's SA slots (three per peer and direction, docs/datapath.md):
 * which slot (spare_slot), installing both directions and when to send on
 * them (install), and picking up a running tunnel's sessions after a
 * restart (resume). The datapath is driven through sa_ctl (bpf/datapath.h).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <sodium.h>

#include "keyring.h"
#include "km.h"

int sa_op(struct km *km, uint32_t op, uint32_t id, uint32_t slot, uint32_t index,
	  const struct noise_direction *d, uint64_t expire)
{
	struct bpftun_sa_req req = {.op = op, .peer_id = id, .slot = slot, .index = index};

	snprintf(req.algo, sizeof(req.algo), "%s", km->cfg.kernel_algo);
	req.flags = km->suite->sa_flags;
	req.expire_ns = expire;
	if (d) {
		memcpy(req.key, d->key, sizeof(req.key));
		memcpy(req.salt, d->salt, sizeof(req.salt));
	}
	if (km->cfg.keyring_line && (op == BPFTUN_OP_INSTALL_RX || op == BPFTUN_OP_INSTALL_TX)) {
		int err = dp_sa_ctl_keyring(km->dp, &req, km->cfg.keyring_serial); /* zeroes */

		if (dp_kr_gate_error(err)) {
			struct bpftun_iface ifc = {0};

			dp_get_iface(km->dp, &ifc);
			if (id < BT_MAX_PEERS && !km->peers[id].gate_logged)
				pr_err(
				    "peer %u: the SA-install gate (sa_ctl_keyring) refused the "
				    "install: identity key %s (serial %d): %s; refusals so far: %u",
				    id, km->cfg.keyring_desc, km->cfg.keyring_serial,
				    strerror(-err), ifc.keyring_refused);
			if (id < BT_MAX_PEERS)
				km->peers[id].gate_logged = 1;
			kill_switch(km, err, "the SA-install gate");
		}
		return err;
	}
	return dp_sa_ctl(km->dp, &req); /* zeroes req.key */
}

/*
 * The slot a new session goes into. Never the active one (we send on it).
 * Of the other two, the one installed first (the earlier expiry; an empty
 * one before either): the newer one may hold a session the peer is sending
 * on now. That is a pending one we have not switched to yet, or one we
 * forgot as pending when a handshake of our own completed first, while the
 * peer, its initiator, had switched to it at once. "The slot after the
 * active one" (the old rule) picked exactly that one when the slots had
 * been filled out of turn, and dropped the peer's packets as no_sa until
 * it switched (docs/keymgmt.md, "The no_sa window of a rekey").
 */
static uint32_t spare_slot(struct km *km, uint32_t id, uint32_t active)
{
	uint32_t best = (active + 1) % BPFTUN_SLOTS;
	uint64_t best_exp = UINT64_MAX;

	for (uint32_t i = 1; i < BPFTUN_SLOTS; i++) {
		uint32_t s = (active + i) % BPFTUN_SLOTS;
		struct bpftun_tx_sa_info tx;

		if (dp_tx_sa(km->dp, id, s, &tx) || !tx.present)
			return s;
		if (tx.expire_ns < best_exp) {
			best = s;
			best_exp = tx.expire_ns;
		}
	}
	return best;
}

/* A handshake completed: install both directions in a spare slot. */
int install(struct km *km, const struct hs_keys *k)
{
	struct km_peer *kp = &km->peers[k->peer_id];
	struct bpftun_peer p;
	uint64_t now = mono_ns(), expire = now + REJECT_AFTER_NS;
	uint32_t slot;
	int err;

	if (km->kr_dead) /* the identity key is gone (timers.c) */
		return -EKEYREVOKED;
	err = dp_get_peer(km->dp, k->peer_id, &p);
	if (err)
		return err;
	slot = spare_slot(km, k->peer_id, p.tx_active);
	err = sa_op(km, BPFTUN_OP_INSTALL_RX, k->peer_id, slot, k->local_index, &k->rx, expire);
	if (err == -EEXIST) {
		/* our own index from an earlier session in the same slot: clear it */
		sa_op(km, BPFTUN_OP_CLEAR_SLOT, k->peer_id, slot, 0, NULL, 0);
		err = sa_op(km, BPFTUN_OP_INSTALL_RX, k->peer_id, slot, k->local_index, &k->rx,
			    expire);
	}
	err = err
		  ?: sa_op(km, BPFTUN_OP_INSTALL_TX, k->peer_id, slot, k->remote_index, &k->tx,
			   expire);
	if (err) {
		pr_err("peer %u: installing keys in slot %u: %s", k->peer_id, slot, strerror(-err));
		return err;
	}
	kp->initiator = k->initiator;
	kp->gave_up = 0; /* a session: initiate on the schedule again */
	if (k->initiator) {
		err = sa_op(km, BPFTUN_OP_ACTIVATE_TX, k->peer_id, slot, 0, NULL, 0);
		kp->pending_slot = -1;
	} else {
		/* Wait for the initiator's first packet under the new keys, also
		 * for the first session: an initiation can be a replay (after a
		 * restart the responder has no timestamp to refuse it by), and
		 * nobody else holds its keys. The initiator sends a keepalive at
		 * once, so this is one round trip. */
		kp->pending_slot = (int)slot;
		kp->pending_index = k->local_index;
		kp->pending_since = now;
	}
	if (dp_get_peer(km->dp, k->peer_id, &p))
		return -EIO;
	p.session_start_ns = now;
	p.last_handshake = (uint64_t)time(NULL);
	if (!k->initiator)
		hs_peer_get_timestamp(km->hs, k->peer_id, p.handshake_ts);
	err = err ?: dp_set_peer(km->dp, k->peer_id, &p);
	pr_info("peer %u: new session in slot %u (%s), local index %08x", k->peer_id, slot,
		k->initiator ? "initiator, sending on it"
			     : "responder, switching when the peer sends under it",
		k->local_index);
	return err;
}

/* The running peers are the peers map's (`up` wrote the configuration's
 * in file order; live changes since may have added, removed or moved
 * some): each gets the handshake state of its id. The configuration gives
 * only what the maps do not hold, the PresharedKey, matched by public key. */
int resume(struct km *km)
{
	uint32_t max = dp_max_peers(km->dp);
	int n = 0;

	for (uint32_t i = 0; i < max; i++) {
		struct km_peer *kp = &km->peers[i];
		struct bpftun_tx_sa_info cur, next;
		struct bpftun_peer p;
		int err;

		if (dp_get_peer(km->dp, i, &p) || !p.present)
			continue;
		kp->id = i;
		kp->present = 1;
		kp->pending_slot = -1;
		km->nids = (int)i + 1;
		n++;
		err = hs_peer_add_at(km->hs, p.public_key, i);
		if (err)
			return err;
		/* its PresharedKey (all zero: none) from the file, the file's
		 * peer i first (`up` wrote them in file order); the handshake
		 * device keeps the (mlocked) copy, as for the private key */
		for (int c = (int)i < km->cfg.npeers ? (int)i : 0, k = 0; k < km->cfg.npeers;
		     k++, c = (c + 1) % km->cfg.npeers)
			if (!memcmp(km->cfg.peers[c].public_key, p.public_key, 32)) {
				err = hs_peer_set_psk(km->hs, i, km->cfg.peers[c].psk);
				sodium_memzero(km->cfg.peers[c].psk, sizeof(km->cfg.peers[c].psk));
				if (err)
					return err;
				break;
			}
		/* a live change's PresharedKey (set/syncconf/addconf) outranks the
		 * file's: it is newer (keyring.h) */
		{
			char desc[BT_KR_PSK_DESC_LEN];
			uint8_t psk[32];

			if (!bt_kr_psk_desc(desc, sizeof(desc), km->ifname, p.public_key) &&
			    !bt_kr_psk_load(desc, psk)) {
				err = hs_peer_set_psk(km->hs, i, psk);
				sodium_memzero(psk, sizeof(psk));
				if (err)
					return err;
				pr_info("peer %u: PresharedKey from the last live change (user "
					"keyring)",
					i);
			}
		}
		/* a newer SA installed but not yet sending: a responder that was
		 * waiting for confirmation when the last process stopped */
		if (!dp_tx_sa(km->dp, i, p.tx_active, &cur) &&
		    !dp_tx_sa(km->dp, i, (p.tx_active + 1) % BPFTUN_SLOTS, &next) && next.present &&
		    (!cur.present || next.expire_ns > cur.expire_ns) &&
		    !dp_rx_index(km->dp, i, (p.tx_active + 1) % BPFTUN_SLOTS, &kp->pending_index)) {
			kp->pending_slot = (int)((p.tx_active + 1) % BPFTUN_SLOTS);
			kp->pending_since = mono_ns();
		}
		{
			static const uint8_t none[12];

			if (memcmp(p.handshake_ts, none, sizeof(none)))
				hs_peer_set_timestamp(km->hs, i, p.handshake_ts);
		}
		if (p.session_start_ns)
			pr_info(
			    "peer %u: resuming session from %llus ago", i,
			    (unsigned long long)((mono_ns() - p.session_start_ns) / 1000000000ULL));
	}
	if (n != km->cfg.npeers)
		pr_info("%d peer%s running (%d in %s): live changes since up are kept", n,
			n == 1 ? "" : "s", km->cfg.npeers, km->conf_path);
	return 0;
}
