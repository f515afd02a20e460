// SPDX-License-Identifier: GPL-2.0
/*
 * keys.c - `bpftun genkey`, `bpftun pubkey` (X25519 keys, base64, through
 * stdin/stdout only), `bpftun genpsk` (a PresharedKey, as wg genpsk) and
 * `bpftun rekey IFNAME` (new session keys now: SIGUSR1 to the key manager,
 * then wait for its handshakes).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <sodium.h>

#include "bpftun.h"
#include "config.h"
#include "datapath.h"
#include "keyring.h"

/* genkey --keyring user:bpftun:<ifname>: the key goes into the user keyring
 * (tunnel/keyring.c), only the public key is printed. */
static int genkey_keyring(const char *spec)
{
	const char *why = NULL, *ifname = strncmp(spec, "user:bpftun:", 12) ? "" : spec + 12;
	char desc[BT_KR_DESC_LEN], b64[BT_KEY_B64_LEN + 1];
	uint8_t k[32], pub[32];
	int32_t serial;

	if (bt_kr_parse(spec, ifname, desc, &why) || !ifname[0] ||
	    strlen(ifname) >= BT_IFNAME_LEN) {
		fprintf(stderr, "bpftun: genkey: --keyring %s: %s\n", spec,
			why ? why
			    : "want user:bpftun:<interface>, the interface name 1-15 characters");
		return 2;
	}
	randombytes_buf(k, sizeof(k));
	k[0] &= 248;
	k[31] = (k[31] & 127) | 64;
	crypto_scalarmult_base(pub, k);
	serial = bt_kr_add(desc, k);
	sodium_memzero(k, sizeof(k));
	if (serial < 0) {
		fprintf(stderr, "bpftun: genkey: add_key user %s to @u: %s\n", desc,
			strerror(-serial));
		return 1;
	}
	sodium_bin2base64(b64, sizeof(b64), pub, sizeof(pub), sodium_base64_VARIANT_ORIGINAL);
	fprintf(stderr,
		"bpftun: genkey: private key in user key %s (serial %d) in @u; public key:\n", desc,
		serial);
	puts(b64);
	return 0;
}

int genkey_main(int argc, char **argv)
{
	uint8_t k[32];
	char b64[BT_KEY_B64_LEN + 1];

	if (argc == 3 && !strcmp(argv[1], "--keyring"))
		return genkey_keyring(argv[2]);
	if (argc > 1)
		return fprintf(argc > 1 && !strcmp(argv[1], "--help") ? stdout : stderr,
			       "usage: bpftun genkey > private.key\n"
			       "       bpftun genkey --keyring user:bpftun:IFNAME\n"
			       "Writes a new X25519 private key, base64, to stdout, or puts it\n"
			       "into the user keyring and writes its public key.\n"),
		       strcmp(argv[1], "--help") ? 2 : 0;
	umask(077);
	randombytes_buf(k, sizeof(k));
	k[0] &= 248; /* clamped as X25519 (and wg genkey) do */
	k[31] = (k[31] & 127) | 64;
	sodium_bin2base64(b64, sizeof(b64), k, sizeof(k), sodium_base64_VARIANT_ORIGINAL);
	sodium_memzero(k, sizeof(k));
	puts(b64);
	sodium_memzero(b64, sizeof(b64));
	return 0;
}

/* 32 random bytes, base64, not clamped: wg genpsk's output. Printed even to
 * a terminal, as wg does. */
int genpsk_main(int argc, char **argv)
{
	char b64[BT_KEY_B64_LEN + 1];
	uint8_t k[32];

	if (argc > 1) {
		int help = !strcmp(argv[1], "--help");

		fprintf(help ? stdout : stderr,
			"usage: bpftun genpsk > peer.psk\n"
			"Writes a new preshared key (32 random bytes, base64) to stdout,\n"
			"for PresharedKey or PresharedKeyFile in [Peer]; both peers need it.\n");
		return help ? 0 : 2;
	}
	umask(077);
	randombytes_buf(k, sizeof(k));
	sodium_bin2base64(b64, sizeof(b64), k, sizeof(k), sodium_base64_VARIANT_ORIGINAL);
	sodium_memzero(k, sizeof(k));
	puts(b64);
	sodium_memzero(b64, sizeof(b64));
	return 0;
}

int pubkey_main(int argc, char **argv)
{
	char line[256], b64[BT_KEY_B64_LEN + 1];
	uint8_t k[32], pub[32];
	size_t n = 0, len;
	const char *end;
	int ok;

	if (argc > 1)
		return fprintf(!strcmp(argv[1], "--help") ? stdout : stderr,
			       "usage: bpftun pubkey < private.key > public.key\n"
			       "Reads a base64 private key on stdin, writes its public key.\n"),
		       strcmp(argv[1], "--help") ? 2 : 0;
	if (!fgets(line, sizeof(line), stdin)) {
		pr_err(
		    "pubkey: stdin: no key (want a base64 private key, as bpftun genkey writes)");
		return 1;
	}
	len = strcspn(line, " \t\r\n");
	line[len] = 0;
	ok = !sodium_base642bin(k, sizeof(k), line, len, NULL, &n, &end,
				sodium_base64_VARIANT_ORIGINAL) &&
	     n == 32 && *end == 0 && len == 44;
	sodium_memzero(line, sizeof(line));
	if (!ok) {
		sodium_memzero(k, sizeof(k));
		pr_err("pubkey: stdin: not a base64 private key (want 44 characters encoding 32 "
		       "bytes)");
		return 1;
	}
	ok = !crypto_scalarmult_base(pub, k);
	sodium_memzero(k, sizeof(k));
	if (!ok) {
		pr_err("pubkey: deriving the public key failed");
		return 1;
	}
	sodium_bin2base64(b64, sizeof(b64), pub, sizeof(pub), sodium_base64_VARIANT_ORIGINAL);
	puts(b64);
	return 0;
}

/* ---------------------------------------------------------------- rekey */

/* The key manager's pid from the tunnel's iface map, checked to be ours. */
static int keymgmt_pid(const char *ifname, struct datapath **dpp, pid_t *pid)
{
	struct bpftun_iface ifc;
	int hidden = tunnel_hidden_ifindex(ifname), err;

	if (hidden < 0) {
		pr_err("interface '%s': %s", ifname,
		       hidden == -ENODEV ? "no such device" : "not a bpftun tunnel");
		return hidden;
	}
	err = dp_find(dpp, hidden);
	if (!err)
		err = dp_get_iface(*dpp, &ifc);
	if (err) {
		pr_err("interface '%s': reading the datapath: %s", ifname, strerror(-err));
		return err;
	}
	if (!keymgmt_running(ifc.keymgmt_pid)) {
		pr_err("interface '%s': its key manager is not running", ifname);
		return -ESRCH;
	}
	*pid = (pid_t)ifc.keymgmt_pid;
	return 0;
}

int rekey_main(int argc, char **argv)
{
	struct datapath *dp = NULL;
	struct bpftun_peer *before = NULL; /* dp_max_peers() of them */
	struct timespec ts = {0, 50 * 1000 * 1000};
	pid_t pid;
	int err, done = 0, want = 0;

	if (argc != 2 || argv[1][0] == '-') {
		FILE *f = argc == 2 && !strcmp(argv[1], "--help") ? stdout : stderr;

		fprintf(f,
			"usage: bpftun rekey IFNAME\n"
			"Makes the key manager start a new handshake with every peer that has an\n"
			"endpoint now, and waits (up to 10 s) until they have completed.\n");
		return f == stdout ? 0 : 2;
	}
	err = keymgmt_pid(argv[1], &dp, &pid);
	if (err)
		goto out;
	before = calloc(dp_max_peers(dp), sizeof(*before));
	if (!before) {
		err = -ENOMEM;
		goto out;
	}
	for (uint32_t id = 0; id < dp_max_peers(dp); id++) {
		if (dp_get_peer(dp, id, &before[id]))
			before[id].present = 0;
		want += before[id].present && before[id].ep.dport;
	}
	if (kill(pid, SIGUSR1)) {
		err = -errno;
		pr_err("interface '%s': signalling key manager %d: %s", argv[1], pid,
		       strerror(errno));
		goto out;
	}
	for (int i = 0; i < 200 && done < want; i++) {
		nanosleep(&ts, NULL);
		done = 0;
		for (uint32_t id = 0; id < dp_max_peers(dp); id++) {
			struct bpftun_peer now;

			if (before[id].present && before[id].ep.dport &&
			    !dp_get_peer(dp, id, &now) &&
			    now.session_start_ns != before[id].session_start_ns)
				done++;
		}
	}
	if (done < want) {
		pr_err("interface '%s': %d of %d handshakes completed within 10 s", argv[1], done,
		       want);
		err = -ETIMEDOUT;
	}
out:
	free(before);
	dp_destroy(dp);
	return err ? 1 : 0;
}
