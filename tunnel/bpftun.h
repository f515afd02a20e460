/* SPDX-License-Identifier: GPL-2.0 */
/*
 * bpftun.h - what the `bpftun` command's files share: logging (log.h), usage texts,
 * subcommand entry points, and finding tunnels from their device name.
 */
#ifndef BPFTUN_H
#define BPFTUN_H

#include <stdint.h>
#include <stdio.h>

#include "log.h" /* pr_err, pr_info, pr_debug, log_verbose */

#include "underlay.h" /* tunnel_hidden_ifindex */

/* 1 if pid is a running bpftun-keymgmt (a recorded pid may be stale); up.c. */
int keymgmt_running(uint32_t pid);

/* /run/bpftun: the directory every namespace shares; file names carry the
 * network namespace's inode so that two ends of a netns demo never collide. */
#define BT_RUN_DIR "/run/bpftun"
int bt_run_path(char *buf, size_t len, const char *ifname, const char *suffix);

/* subcommands: keys.c */
int genkey_main(int argc, char **argv);
int pubkey_main(int argc, char **argv);
int genpsk_main(int argc, char **argv);
int rekey_main(int argc, char **argv);
/* up.c */
int up_main(int argc, char **argv);
int down_main(int argc, char **argv);
int cleanup_main(int argc, char **argv);
/* set.c: live peer changes */
int set_main(int argc, char **argv);
int syncconf_main(int argc, char **argv);
int addconf_main(int argc, char **argv);
/* show.c */
int show_main(int argc, char **argv);
void usage_show(FILE *f);

#endif
