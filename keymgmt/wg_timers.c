// SPDX-License-Identifier: GPL-2.0
/*
 * wg_timers.c - bpftun-keymgmt: the WireGuard suite (Protocol = wireguard).
 * Its messages are handshake.c's with hs_suite_wireguard (wg_handshake.c);
 * its schedule is timers.c's with WireGuard's settings (km_suite_wireguard
 * below: REKEY_TIMEOUT retries with jitter and no backoff, given up after
 * REKEY_ATTEMPT_TIME), plus the timers WireGuard runs on traffic, here from
 * the datapath's per-peer counters sampled every tick (100 ms; timers.c
 * reads them for a chunk of peers at once):
 *
 *   passive keepalive  data (not a keepalive: rx_bytes grew) was received
 *                      and we sent nothing for KEEPALIVE_TIMEOUT (10 s):
 *                      send a keepalive, so the peer knows its data arrived
 *   new handshake      data was sent (tx_packets grew) and nothing
 *                      authentic came back for KEEPALIVE_TIMEOUT +
 *                      REKEY_TIMEOUT (15 s): initiate
 *   data waiting       after giving up, the peer's no_sa/key_expired drops
 *                      grew (a packet found no key): initiate again, as
 *                      WireGuard does for a packet queued without a session
 *
 * The SAs carry BPFTUN_SA_F_WIREGUARD: the datapath seals and opens them
 * with ChaCha20-Poly1305 as WireGuard's type 4 messages.
 */
#include <stdio.h>

#include "km.h"

static void wg_peer_timers(struct km *km, int i, const struct bpftun_peer *p,
			   const struct bpftun_peer_stats *stp, uint64_t now);

const struct km_suite km_suite_wireguard = {
    .name = "wireguard",
    .hs = &hs_suite_wireguard,
    .sa_flags = BPFTUN_SA_F_WIREGUARD,
    .backoff = 0,
    .attempt_ns = &REKEY_ATTEMPT_NS, /* --rekey-attempt */
    .peer_timers = wg_peer_timers,
};

static void wg_peer_timers(struct km *km, int i, const struct bpftun_peer *p,
			   const struct bpftun_peer_stats *stp, uint64_t now)
{
	struct km_peer *kp = &km->peers[i];
	struct bpftun_peer_stats st;
	uint64_t waiting;

	(void)p;
	if (stp) /* read by the tick with its chunk of peers */
		st = *stp;
	else if (dp_peer_stats(km->dp, (uint32_t)i, &st))
		return;
	waiting = st.drops[BPFTUN_DROP_NO_SA] + st.drops[BPFTUN_DROP_KEY_EXPIRED];
	if (!kp->wg_sampled) { /* the first sample (a restart): only record */
		kp->wg_sampled = 1;
		kp->wg_tx_packets = st.tx_packets;
		kp->wg_rx_bytes = st.rx_bytes;
		kp->wg_last_rx_ns = st.last_rx_ns;
		kp->wg_waiting = waiting;
		return;
	}
	/* Sent data: whatever was due to be answered by a keepalive is
	 * answered; from now on we wait for the peer. */
	if (st.tx_packets != kp->wg_tx_packets) {
		kp->wg_tx_packets = st.tx_packets;
		kp->wg_keepalive_due_ns = 0;
		if (!kp->wg_unanswered_ns)
			kp->wg_unanswered_ns = now;
	}
	/* Anything authentic from the peer (keepalives too) answers us. */
	if (st.last_rx_ns != kp->wg_last_rx_ns) {
		kp->wg_last_rx_ns = st.last_rx_ns;
		kp->wg_unanswered_ns = 0;
	}
	/* Received data (keepalives carry no bytes): answer it within 10 s. */
	if (st.rx_bytes != kp->wg_rx_bytes) {
		kp->wg_rx_bytes = st.rx_bytes;
		if (!kp->wg_keepalive_due_ns)
			kp->wg_keepalive_due_ns = now;
	}
	if (kp->wg_keepalive_due_ns && now - kp->wg_keepalive_due_ns >= KEEPALIVE_TIMEOUT_NS) {
		kp->wg_keepalive_due_ns = 0;
		send_keepalive(km, i);
	}
	if (kp->wg_unanswered_ns &&
	    now - kp->wg_unanswered_ns >= KEEPALIVE_TIMEOUT_NS + REKEY_TIMEOUT_NS) {
		kp->wg_unanswered_ns = 0;
		if (!kp->awaiting) {
			pr_info("peer %d: data sent and nothing received for 15 s; initiating", i);
			kp->force = 1;
		}
	}
	if (waiting != kp->wg_waiting) {
		kp->wg_waiting = waiting;
		if (kp->gave_up) {
			pr_info("peer %d: data waits for a key; initiating again", i);
			kp->force = 1;
		}
	}
}
