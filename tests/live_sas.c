// SPDX-License-Identifier: GPL-2.0
/*
 * live_sas.c - for tests/netns_live.sh: the SAs of each peer of a running
 * tunnel, read from its maps (dp_view: nothing loaded), one line per
 * present peer:
 *   PUBKEY ID tx_active rx-index-of-slot-0 ... (or -) tx-remote-index-of-slot-0 ...
 * so that a test can show that a live change left a peer's SAs as they were.
 *
 *   live_sas IFNAME
 */
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "datapath.h"
#include "underlay.h"

int main(int argc, char **argv)
{
	struct datapath *dp = NULL;
	int hidden, err;

	if (argc != 2)
		return fprintf(stderr, "usage: live_sas IFNAME\n"), 2;
	hidden = tunnel_hidden_ifindex(argv[1]);
	err = hidden < 0 ? hidden : dp_view(&dp, hidden);
	if (err)
		return fprintf(stderr, "live_sas: %s: %s\n", argv[1], strerror(-err)), 1;
	for (uint32_t id = 0; id < dp_max_peers(dp); id++) {
		char b64[BT_KEY_B64_LEN + 1];
		struct bpftun_peer p;

		if (dp_get_peer(dp, id, &p) || !p.present)
			continue;
		bt_key_to_base64(b64, p.public_key);
		printf("%s %u %u", b64, id, p.tx_active);
		for (uint32_t s = 0; s < BPFTUN_SLOTS; s++) {
			uint32_t idx;

			if (dp_rx_index(dp, id, s, &idx))
				printf(" -");
			else
				printf(" %08x", idx);
		}
		for (uint32_t s = 0; s < BPFTUN_SLOTS; s++) {
			struct bpftun_tx_sa_info tx;

			if (dp_tx_sa(dp, id, s, &tx) || !tx.present)
				printf(" -");
			else
				printf(" %08x", tx.remote_index);
		}
		printf("\n");
	}
	dp_destroy(dp);
	return 0;
}
