// SPDX-License-Identifier: GPL-2.0
/*
 * log.c - the one logging module of `bpftun` and `bpftun-keymgmt` (log.h):
 * levels, the stderr sink (the key manager's log file), libbpf's print
 * hook and the rate limiter for lines a packet can cause.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <bpf/libbpf.h>

#include "log.h"

int log_verbose;

static const char *log_prog = "bpftun";
static unsigned int log_flags;

void log_init(const char *prog, unsigned int flags)
{
	log_prog = prog;
	log_flags = flags;
}

uint64_t log_mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* One line to the sink: [time] prog: [debug: ]text. */
static void emit(enum log_level level, const char *text)
{
	char when[32] = "";

	if (log_flags & BT_LOG_TIME) {
		struct timespec ts;
		struct tm tm;

		clock_gettime(CLOCK_REALTIME, &ts);
		localtime_r(&ts.tv_sec, &tm);
		strftime(when, sizeof(when), "%F %T ", &tm);
	}
	fprintf(stderr, "%s%s: %s%s\n", when, log_prog, level == BT_LOG_DEBUG ? "debug: " : "",
		text);
}

void log_vmsg(enum log_level level, const char *fmt, va_list ap)
{
	char line[1024];

	if (level == BT_LOG_DEBUG && !log_verbose)
		return;
	vsnprintf(line, sizeof(line), fmt, ap);
	emit(level, line);
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(level, fmt, ap);
	va_end(ap);
}

/*
 * libbpf's messages. In the command only with -v (BT_LOG_LIBBPF_QUIET):
 * probing devices that have no clsact is normal for `show`, and its
 * kernel error lines would look like failures; its debug lines with -vv.
 * In the key manager its warnings and information, as libbpf's default
 * printer does. They keep their own "libbpf: " prefix.
 */
static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	char line[1024];
	size_t n;

	if (log_flags & BT_LOG_LIBBPF_QUIET) {
		if (!log_verbose || (level == LIBBPF_DEBUG && log_verbose < 2))
			return 0;
	} else if (level == LIBBPF_DEBUG && log_verbose < 2) {
		return 0;
	}
	vsnprintf(line, sizeof(line), fmt, ap);
	n = strlen(line);
	while (n && line[n - 1] == '\n')
		line[--n] = 0;
	emit(level == LIBBPF_WARN ? BT_LOG_WARN : BT_LOG_INFO, line);
	return (int)n;
}

void log_libbpf_hook(void)
{
	libbpf_set_print(libbpf_print);
}

/* ------------------------------------------------- rate-limited lines */

void log_limit_init(struct log_limit *l, uint64_t window_ns, unsigned int burst,
		    unsigned int nkinds, void (*what)(int kind, char *buf, size_t len))
{
	memset(l, 0, sizeof(*l));
	l->window_ns = window_ns;
	l->burst = burst;
	l->nkinds = nkinds < BT_LOG_LIMIT_KINDS ? nkinds : BT_LOG_LIMIT_KINDS;
	l->what = what;
	l->start_ns = log_mono_ns();
}

void log_limit_flush(struct log_limit *l)
{
	uint64_t now = log_mono_ns();

	if (now - l->start_ns < l->window_ns)
		return;
	for (unsigned int k = 0; k < l->nkinds; k++) {
		char what[160];

		if (!l->count[k])
			continue;
		l->what((int)k, what, sizeof(what));
		log_msg(BT_LOG_INFO, "%llu %s in the last %llu s, not logged one by one",
			(unsigned long long)l->count[k], what,
			(unsigned long long)(l->window_ns / 1000000000ULL));
		l->count[k] = 0;
	}
	l->start_ns = now;
	l->written = 0;
}

void log_limited(struct log_limit *l, int kind, enum log_level level, const char *fmt, ...)
{
	va_list ap;

	log_limit_flush(l);
	if (l->written >= l->burst) {
		if (kind >= 0 && (unsigned int)kind < l->nkinds)
			l->count[kind]++;
		return;
	}
	l->written++;
	va_start(ap, fmt);
	log_vmsg(level, fmt, ap);
	va_end(ap);
}
