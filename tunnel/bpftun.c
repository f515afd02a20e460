// SPDX-License-Identifier: GPL-2.0
/*
 * bpftun.c - the `bpftun` command: subcommand table, logging, keys, rekey.
 * `up`/`down` live in up.c, `show` in show.c.
 *
 * Exit status: 0 ok, 1 failure, 2 usage.
 */
#include <errno.h>
#include <linux/ethtool.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <sodium.h>

#include "bpftun.h"
#include "config.h"
#include "datapath.h"
#include "netlink.h"

int bt_verbose;

static void vlog(const char *prefix, const char *fmt, va_list ap)
{
	fputs(prefix, stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

void pr_err(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog("bpftun: ", fmt, ap);
	va_end(ap);
}

void pr_info(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog("bpftun: ", fmt, ap);
	va_end(ap);
}

void pr_debug(const char *fmt, ...)
{
	va_list ap;

	if (!bt_verbose)
		return;
	va_start(ap, fmt);
	vlog("bpftun: debug: ", fmt, ap);
	va_end(ap);
}

/* The driver name of a device (ETHTOOL_GDRVINFO): a silent "is it veth?". */
static int is_veth(const char *name)
{
	struct ethtool_drvinfo info = {.cmd = ETHTOOL_GDRVINFO};
	struct ifreq ifr = {0};
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), ok;

	if (fd < 0)
		return 0;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	ifr.ifr_data = (void *)&info;
	ok = !ioctl(fd, SIOCETHTOOL, &ifr) && !strcmp(info.driver, "veth");
	close(fd);
	return ok;
}

/* 1 if hidden runs bpftun's tc_seal: the filter bpftun attaches there, its
 * program called tc_seal, with a one-entry map called iface of our layout. */
static int seal_has_iface(int hidden)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = hidden, .attach_point = BPF_TC_INGRESS);
	LIBBPF_OPTS(bpf_tc_opts, opts, .handle = BPFTUN_TC_HANDLE, .priority = BPFTUN_TC_PRIO);
	struct bpf_prog_info info = {0};
	uint32_t ids[BPFTUN_MAX_MAPS], len = sizeof(info);
	int pfd, ok = 0;

	if (bpf_tc_query(&hook, &opts))
		return 0;
	pfd = bpf_prog_get_fd_by_id(opts.prog_id);
	if (pfd < 0)
		return 0;
	info.nr_map_ids = BPFTUN_MAX_MAPS;
	info.map_ids = (uint64_t)(unsigned long)ids;
	if (!bpf_obj_get_info_by_fd(pfd, &info, &len) && !strcmp(info.name, "tc_seal")) {
		for (uint32_t i = 0; i < info.nr_map_ids && i < BPFTUN_MAX_MAPS && !ok; i++) {
			struct bpf_map_info mi = {0};
			uint32_t ml = sizeof(mi);
			int fd = bpf_map_get_fd_by_id(ids[i]);

			if (fd < 0)
				continue;
			ok = !bpf_obj_get_info_by_fd(fd, &mi, &ml) && !strcmp(mi.name, "iface") &&
			     mi.value_size == sizeof(struct bpftun_iface) && mi.max_entries == 1;
			close(fd);
		}
	}
	close(pfd);
	return ok;
}

int tunnel_hidden_ifindex(const char *name)
{
	int ifindex = nl_link_index(name), hidden;
	struct datapath *dp = NULL;

	if (ifindex <= 0)
		return -ENODEV;
	if (!is_veth(name))
		return -ENOENT;
	hidden = nl_veth_peer_ifindex(ifindex);
	if (hidden <= 0)
		return -ENOENT;
	/* ours only if the hidden end runs our tc_seal with its iface map (a
	 * query, not dp_find: loading programs to answer costs ~0.3 s) */
	(void)dp;
	if (!seal_has_iface(hidden))
		return -ENOENT;
	return hidden;
}

int bt_run_path(char *buf, size_t len, const char *ifname, const char *suffix)
{
	struct stat st;

	if (stat("/proc/self/ns/net", &st))
		return -errno;
	if (mkdir(BT_RUN_DIR, 0700) && errno != EEXIST)
		return -errno;
	snprintf(buf, len, "%s/%lu-%s.%s", BT_RUN_DIR, (unsigned long)st.st_ino, ifname, suffix);
	return 0;
}

/* ----------------------------------------------------------------- keys */

int genkey_main(int argc, char **argv)
{
	uint8_t k[32];
	char b64[BT_KEY_B64_LEN + 1];

	if (argc > 1)
		return fprintf(argc > 1 && !strcmp(argv[1], "--help") ? stdout : stderr,
			       "usage: bpftun genkey > private.key\n"
			       "Writes a new X25519 private key, base64, to stdout.\n"),
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
		pr_err("pubkey: stdin: no key (want a base64 private key, as bpftun genkey writes)");
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
		pr_err("pubkey: stdin: not a base64 private key (want 44 characters encoding 32 bytes)");
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

int keymgmt_running(uint32_t pid)
{
	char path[64], comm[32] = "";
	FILE *f;
	int ok;

	if (!pid)
		return 0;
	snprintf(path, sizeof(path), "/proc/%u/comm", pid);
	f = fopen(path, "r");
	if (!f)
		return 0;
	ok = fgets(comm, sizeof(comm), f) && !strncmp(comm, "bpftun-keymgmt", 14);
	fclose(f);
	return ok;
}

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

		fprintf(f, "usage: bpftun rekey IFNAME\n"
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
		pr_err("interface '%s': signalling key manager %d: %s", argv[1], pid, strerror(errno));
		goto out;
	}
	for (int i = 0; i < 200 && done < want; i++) {
		nanosleep(&ts, NULL);
		done = 0;
		for (uint32_t id = 0; id < dp_max_peers(dp); id++) {
			struct bpftun_peer now;

			if (before[id].present && before[id].ep.dport && !dp_get_peer(dp, id, &now) &&
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

/* ------------------------------------------------------------------ main */

void usage_show(FILE *f)
{
	fprintf(f, "usage: bpftun show [IFNAME] [--json]\n"
		   "Shows each bpftun interface (or IFNAME): public key, port, MTU, cipher, and per\n"
		   "peer: endpoint, allowed IPs, latest handshake, traffic, drops by reason.\n"
		   "Private keys are never shown. --json prints the same as one JSON object.\n");
}

static const struct {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *summary;
} cmds[] = {
	{"up", up_main, "up CONFIG: create the tunnel described by CONFIG (e.g. bt0.conf -> bt0)"},
	{"down", down_main, "down IFNAME: remove the tunnel, its routes, filters, pins and process"},
	{"show", show_main, "show [IFNAME] [--json]: state and counters"},
	{"rekey", rekey_main, "rekey IFNAME: new session keys now"},
	{"cleanup", cleanup_main,
	 "cleanup: remove tc_open filters left by tunnels that are gone"},
	{"genkey", genkey_main, "genkey: new private key to stdout"},
	{"pubkey", pubkey_main, "pubkey: private key on stdin, public key to stdout"},
};

static void usage(FILE *f)
{
	fprintf(f, "usage: bpftun [-v] COMMAND [ARGS]\n\n"
		   "An encrypted point-to-point tunnel whose datapath is eBPF.\n\n"
		   "Commands:\n");
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		fprintf(f, "  %s\n", cmds[i].summary);
	fprintf(f, "  help: this text; COMMAND --help for each command\n\n"
		   "Keys come from files or stdin, never from the command line.\n");
}

/* libbpf's messages only with -v: probing devices that have no clsact is
 * normal for `show`, and its kernel error lines would look like failures. */
static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (!bt_verbose || (level == LIBBPF_DEBUG && bt_verbose < 2))
		return 0;
	return vfprintf(stderr, fmt, ap);
}

int main(int argc, char **argv)
{
	libbpf_set_print(libbpf_print);
	if (sodium_init() < 0) {
		pr_err("libsodium failed to initialise");
		return 1;
	}
	while (argc > 1 && !strcmp(argv[1], "-v")) {
		bt_verbose++;
		argv++;
		argc--;
	}
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "help") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		usage(stdout);
		return 0;
	}
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (!strcmp(argv[1], cmds[i].name))
			return cmds[i].fn(argc - 1, argv + 1);
	pr_err("unknown command '%s'", argv[1]);
	usage(stderr);
	return 2;
}
