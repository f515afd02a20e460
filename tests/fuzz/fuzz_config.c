// SPDX-License-Identifier: GPL-2.0
/*
 * fuzz_config.c - libFuzzer target for the configuration parser: any bytes
 * through bt_config_parse_buffer() must neither crash nor trip ASan/UBSan,
 * and the result must keep the parser's promises (one-line message starting
 * "bpftun: " on refusal and a zeroed config; bounded, sane fields on success).
 *
 * Build: clang-19 -g -O1 -fsanitize=fuzzer,address,undefined -Itunnel -Ibpf
 *        tests/fuzz/fuzz_config.c tunnel/config.c -lsodium
 * (tunnel/config.cmake does it and runs it as the ctest `fuzz_config`).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "config.h"

static void require(int ok, const char *what, const struct config_error *err)
{
	if (ok)
		return;
	fprintf(stderr, "fuzz_config: broken promise: %s (message: %s)\n", what, err->msg);
	abort();
}

static int all_zero(const void *p, size_t n)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < n; i++)
		if (b[i])
			return 0;
	return 1;
}

static int prefix_ok(const struct bt_prefix *p)
{
	return (p->family == AF_INET && p->prefix <= 32) ||
	       (p->family == AF_INET6 && p->prefix <= 128);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bt_config cfg;
	struct config_error err;
	int r;

	memset(&cfg, 0x5a, sizeof(cfg));
	r = bt_config_parse_buffer("fuzz0.conf", (const char *)data, size, &cfg, &err);
	require(memchr(err.msg, 0, sizeof(err.msg)) != NULL, "message NUL-terminated", &err);
	if (r) {
		require(r < 0, "error is -errno", &err);
		require(!strncmp(err.msg, "bpftun: fuzz0.conf", 18), "message names the file",
			&err);
		require(!strchr(err.msg, '\n'), "message is one line", &err);
		require(all_zero(&cfg, sizeof(cfg)), "refused config left zeroed", &err);
		return 0;
	}
	require(!err.msg[0], "no message on success", &err);
	require(!strcmp(cfg.ifname, "fuzz0"), "ifname from the name", &err);
	/* a private key (or the keyring key to read at up); ListenPort is
	 * optional (0: up picks a free port) */
	require(cfg.have_private_key || cfg.keyring_line, "required Interface keys", &err);
	require(cfg.nhooks >= 0 && (cfg.nhooks == 0) == (cfg.hooks == NULL), "hooks", &err);
	require(cfg.npeers >= 1 && cfg.npeers <= BT_MAX_PEERS && cfg.peers, "peer count", &err);
	require(cfg.naddrs >= 0 && cfg.naddrs <= BT_MAX_ADDRS, "address count", &err);
	require(!cfg.mtu || (cfg.mtu >= BT_MTU_MIN_V4 && cfg.mtu <= BT_MTU_MAX), "MTU range", &err);
	require(memchr(cfg.kernel_algo, 0, sizeof(cfg.kernel_algo)) &&
		    !strncmp(cfg.kernel_algo, "ecb(aes", 7),
		"kernel algo", &err);
	require(memchr(cfg.dns, 0, sizeof(cfg.dns)) && (!cfg.dns[0]) == (!cfg.dns_line),
		"DNS text terminated, with its line", &err);
	for (int i = 0; i < cfg.naddrs; i++) {
		require(prefix_ok(&cfg.addrs[i]), "Address prefix", &err);
		if (cfg.addrs[i].family == AF_INET6 && cfg.mtu)
			require(cfg.mtu >= BT_MTU_MIN_V6, "IPv6 MTU", &err);
	}
	for (int i = 0; i < cfg.npeers; i++) {
		const struct bt_peer *p = &cfg.peers[i];

		require(p->key_line > 0, "peer has a key", &err);
		require(p->nallowed >= 0 && p->nallowed <= BT_MAX_ALLOWED, "AllowedIPs count",
			&err);
		require(!p->have_endpoint ||
			    (p->port && (p->family == AF_INET || p->family == AF_INET6) &&
			     !p->host[0]) ||
			    (p->port && !p->family && memchr(p->host, 0, sizeof(p->host)) &&
			     p->host[0] &&
			     strspn(p->host, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMN"
					     "OPQRSTUVWXYZ0123456789-.") == strlen(p->host)),
			"endpoint: an address, or a host name to resolve", &err);
		for (int j = 0; j < p->nallowed; j++)
			require(prefix_ok(&p->allowed[j]), "AllowedIPs prefix", &err);
		for (int j = 0; j < i; j++)
			require(memcmp(cfg.peers[j].public_key, p->public_key, BT_KEY_LEN),
				"peer keys unique", &err);
	}
	bt_config_free(&cfg);
	require(all_zero(&cfg, sizeof(cfg)), "bt_config_free zeroes", &err);
	return 0;
}
