// SPDX-License-Identifier: GPL-2.0
/*
 * wg_dp_handshake.c - key the datapath's WireGuard suite from a real
 * WireGuard handshake, for tests/wg_dp_interop.sh: act as the initiator
 * (keymgmt/wg_noise.c) towards a WireGuard peer over UDP, then run
 * dp_attach with the session's transport keys on its stdin and the
 * session's indexes as --tx-index (the peer's) and --rx-index (ours).
 *
 *   wg_dp_handshake --key-file F --peer-pub B64 --bind IPv4:PORT --peer IPv4:PORT
 *                   -- DP_ATTACH ARGS... (with --algo wireguard)
 *
 * The private key comes from a file, the transport keys go through a pipe:
 * no secret in argv. Prints "local index XXXXXXXX" (the receiver index the
 * peer puts on its data messages). Message 1 is resent each second, at most
 * 5 times. Exit status: dp_attach's, or 1 with a message.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "wg_noise.h"

static void die(const char *what, const char *arg)
{
	fprintf(stderr, "wg_dp_handshake: %s%s\n", what, arg ? arg : "");
	exit(1);
}

static void addr_port(const char *s, struct sockaddr_in *a)
{
	char host[64], *colon;

	snprintf(host, sizeof(host), "%s", s);
	colon = strrchr(host, ':');
	if (!colon)
		die("want IPv4:PORT: ", s);
	*colon = 0;
	a->sin_family = AF_INET;
	a->sin_port = htons((uint16_t)atoi(colon + 1));
	if (inet_pton(AF_INET, host, &a->sin_addr) != 1)
		die("want IPv4:PORT: ", s);
}

static void key_from_file(const char *path, uint8_t out[32])
{
	char buf[128] = {0};
	size_t n = 0;
	FILE *f = fopen(path, "r");

	if (!f || !fgets(buf, sizeof(buf), f))
		die("cannot read ", path);
	fclose(f);
	if (sodium_base642bin(out, 32, buf, strlen(buf), " \n\r\t", &n, NULL,
			      sodium_base64_VARIANT_ORIGINAL) ||
	    n != 32)
		die("not a base64 32-byte key: ", path);
	sodium_memzero(buf, sizeof(buf));
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int main(int argc, char **argv)
{
	const char *key_file = NULL, *peer_pub_s = NULL, *bind_s = NULL, *peer_s = NULL;
	struct sockaddr_in local = {0}, peer = {0};
	struct wg_identity me;
	struct wg_handshake hs;
	struct wg_session_keys k;
	uint8_t priv[32], peer_pub[32], m1[WG_INIT_LEN], buf[2048], ts[WG_TAI64N_LEN];
	char tx_idx[16], rx_idx[16], line[2][80];
	char **dargv;
	int i, sock, err = -ETIMEDOUT, pfd[2], status;
	uint32_t idx;
	size_t n = 0;
	pid_t pid;

	for (i = 1; i < argc && strcmp(argv[i], "--"); i += 2) {
		if (i + 1 >= argc)
			die("option needs a value: ", argv[i]);
		if (!strcmp(argv[i], "--key-file"))
			key_file = argv[i + 1];
		else if (!strcmp(argv[i], "--peer-pub"))
			peer_pub_s = argv[i + 1];
		else if (!strcmp(argv[i], "--bind"))
			bind_s = argv[i + 1];
		else if (!strcmp(argv[i], "--peer"))
			peer_s = argv[i + 1];
		else
			die("unknown option ", argv[i]);
	}
	if (!key_file || !peer_pub_s || !bind_s || !peer_s || i + 1 >= argc)
		die("usage: wg_dp_handshake --key-file F --peer-pub B64 --bind IPv4:PORT "
		    "--peer IPv4:PORT -- DP_ATTACH ARGS...",
		    NULL);
	if (wg_noise_init())
		die("sodium_init failed", NULL);
	key_from_file(key_file, priv);
	if (sodium_base642bin(peer_pub, 32, peer_pub_s, strlen(peer_pub_s), " \n", &n, NULL,
			      sodium_base64_VARIANT_ORIGINAL) ||
	    n != 32)
		die("--peer-pub: not a base64 32-byte key", NULL);
	if (wg_identity_init(&me, priv))
		die("bad private key", NULL);
	sodium_memzero(priv, sizeof(priv));
	addr_port(bind_s, &local);
	addr_port(peer_s, &peer);
	sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (sock < 0 || bind(sock, (struct sockaddr *)&local, sizeof(local)) ||
	    connect(sock, (struct sockaddr *)&peer, sizeof(peer)))
		die("socket: ", strerror(errno));

	randombytes_buf(&idx, sizeof(idx));
	for (int tries = 0; tries < 5 && err; tries++) {
		uint64_t end = now_ms() + 1000;

		wg_tai64n_now(ts);
		if (wg_init_create(&hs, &me, peer_pub, NULL, ts, idx, NULL, m1))
			die("wg_init_create failed", NULL);
		if (send(sock, m1, sizeof(m1), 0) != (ssize_t)sizeof(m1))
			die("send: ", strerror(errno));
		while (err && now_ms() < end) {
			struct pollfd p = {.fd = sock, .events = POLLIN};
			ssize_t r;

			if (poll(&p, 1, (int)(end - now_ms())) <= 0)
				break;
			r = recv(sock, buf, sizeof(buf), 0);
			if (r <= 0 || buf[0] != WG_MSG_RESPONSE)
				continue;
			err = wg_resp_consume(&hs, &me, NULL, buf, (size_t)r);
			if (err == -ESTALE)
				err = -ETIMEDOUT; /* an answer to an earlier try */
			else if (err)
				die("message 2 refused: ", strerror(-err));
		}
	}
	close(sock); /* from here the datapath owns the port's data messages */
	if (err)
		die("no message 2 after 5 tries", NULL);
	if (wg_derive_keys(&hs, &k))
		die("wg_derive_keys failed", NULL);
	wg_identity_wipe(&me);
	printf("handshake done: local index %08x, remote index %08x\n", k.local_index,
	       k.remote_index);
	fflush(stdout);

	/* dp_attach ARGS... --tx-index REMOTE --rx-index LOCAL < keys */
	snprintf(tx_idx, sizeof(tx_idx), "%u", k.remote_index);
	snprintf(rx_idx, sizeof(rx_idx), "%u", k.local_index);
	dargv = calloc((size_t)(argc - i) + 5, sizeof(*dargv));
	if (!dargv)
		return 1;
	n = 0;
	for (int j = i + 1; j < argc; j++)
		dargv[n++] = argv[j];
	dargv[n++] = "--tx-index";
	dargv[n++] = tx_idx;
	dargv[n++] = "--rx-index";
	dargv[n++] = rx_idx;
	if (pipe(pfd))
		die("pipe: ", strerror(errno));
	pid = fork();
	if (pid < 0)
		die("fork: ", strerror(errno));
	if (pid == 0) {
		dup2(pfd[0], 0);
		close(pfd[0]);
		close(pfd[1]);
		execv(dargv[0], dargv);
		_exit(127);
	}
	close(pfd[0]);
	/* dp_attach's stdin: key(32) || salt(4) in hex, tx then rx; no salt here */
	sodium_bin2hex(line[0], sizeof(line[0]), k.send, 32);
	sodium_bin2hex(line[1], sizeof(line[1]), k.recv, 32);
	sodium_memzero(&k, sizeof(k));
	for (int j = 0; j < 2; j++) {
		strcat(line[j], "00000000\n");
		if (write(pfd[1], line[j], strlen(line[j])) != (ssize_t)strlen(line[j]))
			die("write to dp_attach: ", strerror(errno));
	}
	sodium_memzero(line, sizeof(line));
	close(pfd[1]);
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		die("dp_attach did not finish", NULL);
	return WEXITSTATUS(status);
}
