// SPDX-License-Identifier: GPL-2.0
/*
 * bpftun.c - the `bpftun` command: its subcommand table and main. up/down/
 * cleanup are up.c, set/syncconf/addconf set.c, show is show.c, genkey/genpsk/pubkey/rekey
 * are keys.c;
 * logging is log.c, the underlays are underlay.c.
 *
 * Exit status: 0 ok, 1 failure, 2 usage.
 */
#include <stdio.h>
#include <string.h>
#include <sodium.h>

#include "bpftun.h"

static int version_main(int argc, char **argv)
{
	if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "help")))
		return printf("usage: bpftun version (or bpftun --version)\n"
			      "Prints bpftun's version.\n"),
		       0;
	if (argc > 1)
		return pr_err("version: takes no arguments"), 2;
	printf("bpftun %s\n", BPFTUN_VERSION);
	return 0;
}

static const struct {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *summary;
} cmds[] = {
    {"up", up_main, "up CONFIG: create the tunnel described by CONFIG (e.g. bt0.conf -> bt0)"},
    {"down", down_main, "down IFNAME: remove the tunnel, its routes, filters, pins and process"},
    {"show", show_main, "show [IFNAME] [--json]: state and counters"},
    {"set", set_main,
     "set IFNAME peer KEY [remove] [allowed-ips ...] [endpoint ...] ...: change peers live"},
    {"syncconf", syncconf_main, "syncconf IFNAME FILE: make the running peers exactly FILE's"},
    {"addconf", addconf_main, "addconf IFNAME FILE: add FILE's peers to the running ones"},
    {"rekey", rekey_main, "rekey IFNAME: new session keys now"},
    {"cleanup", cleanup_main, "cleanup: remove tc_open filters left by tunnels that are gone"},
    {"genkey", genkey_main, "genkey: new private key to stdout"},
    {"pubkey", pubkey_main, "pubkey: private key on stdin, public key to stdout"},
    {"genpsk", genpsk_main, "genpsk: new preshared key (PresharedKey) to stdout"},
    {"version", version_main, "version (or --version): print bpftun's version"},
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

int main(int argc, char **argv)
{
	log_init("bpftun", BT_LOG_LIBBPF_QUIET);
	log_libbpf_hook();
	if (sodium_init() < 0) {
		pr_err("libsodium failed to initialise");
		return 1;
	}
	while (argc > 1 && !strcmp(argv[1], "-v")) {
		log_verbose++;
		argv++;
		argc--;
	}
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "--version"))
		return version_main(1, argv + 1);
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
