/* SPDX-License-Identifier: GPL-2.0 */
/*
 * log.h - the one logging module of `bpftun` and `bpftun-keymgmt`.
 *
 * Levels err, warn, info, debug; debug lines only with -v (log_verbose).
 * The sink is stderr: the terminal for the command, and for the key
 * manager its log file, /run/bpftun/INODE-IFNAME.log, which `bpftun up`
 * opens as the key manager's stderr (log_init(..., BT_LOG_TIME) puts a
 * timestamp on each line there). libbpf's own messages come through the
 * same sink (log_libbpf_hook).
 *
 * Lines a received packet can cause (rejected handshakes, failed replies)
 * go through a struct log_limit: written one by one up to `burst` per
 * window, then counted and summarised once the window is over, so that a
 * flood of packets cannot flood the log.
 */
#ifndef BPFTUN_LOG_H
#define BPFTUN_LOG_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

enum log_level { BT_LOG_ERR, BT_LOG_WARN, BT_LOG_INFO, BT_LOG_DEBUG };

/* log_init flags */
#define BT_LOG_TIME	    1U /* "YYYY-MM-DD HH:MM:SS " before each line */
#define BT_LOG_LIBBPF_QUIET 2U /* libbpf's warnings only with -v, its debug with -vv */

/* -v count: 1 shows debug lines (and libbpf's messages), 2 libbpf's debug */
extern int log_verbose;

/* prog: the prefix of every line ("bpftun", "bpftun-keymgmt"). */
void log_init(const char *prog, unsigned int flags);

/* Route libbpf's messages (libbpf_set_print) into this module. */
void log_libbpf_hook(void);

__attribute__((format(printf, 2, 3))) void log_msg(enum log_level level, const char *fmt, ...);
void log_vmsg(enum log_level level, const char *fmt, va_list ap);

#define pr_err(...)   log_msg(BT_LOG_ERR, __VA_ARGS__)
#define pr_warn(...)  log_msg(BT_LOG_WARN, __VA_ARGS__)
#define pr_info(...)  log_msg(BT_LOG_INFO, __VA_ARGS__)
#define pr_debug(...) log_msg(BT_LOG_DEBUG, __VA_ARGS__)

/* ------------------------------------------------- rate-limited lines */

#define BT_LOG_LIMIT_KINDS 32

struct log_limit {
	uint64_t window_ns;  /* length of a window */
	unsigned int burst;  /* lines written one by one per window */
	unsigned int nkinds; /* kinds counted (< BT_LOG_LIMIT_KINDS) */
	/* what a summary counts, for kind: "handshake messages rejected (x)" */
	void (*what)(int kind, char *buf, size_t len);
	uint64_t start_ns; /* this window's start (CLOCK_MONOTONIC) */
	unsigned int written;
	uint64_t count[BT_LOG_LIMIT_KINDS];
};

/* A new window starting now. */
void log_limit_init(struct log_limit *l, uint64_t window_ns, unsigned int burst,
		    unsigned int nkinds, void (*what)(int kind, char *buf, size_t len));

/* Close the window if it is over: one line per kind counted,
 * "N <what> in the last S s, not logged one by one". */
void log_limit_flush(struct log_limit *l);

/* A line of `kind` caused by one packet: written while the window has room,
 * otherwise counted for the summary. */
__attribute__((format(printf, 4, 5))) void log_limited(struct log_limit *l, int kind,
						       enum log_level level, const char *fmt, ...);

/* CLOCK_MONOTONIC in ns. */
uint64_t log_mono_ns(void);

#endif
