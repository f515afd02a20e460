/* SPDX-License-Identifier: GPL-2.0 */
/*
 * check.h - the tests' tiny harness: check() records and prints one result,
 * check_summary() prints "N passed, M failed" and gives main's exit status.
 * Header-only (static) so each test program stays a single translation unit.
 */
#ifndef BPFTUN_TESTS_CHECK_H
#define BPFTUN_TESTS_CHECK_H

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>

static int check_pass, check_fail;
/* Print passing checks too (failing ones always print). */
static int check_verbose = 1;

__attribute__((format(printf, 2, 3), unused)) static int check(int ok, const char *fmt, ...)
{
	va_list ap;

	if (ok)
		check_pass++;
	else
		check_fail++;
	if (ok && !check_verbose)
		return ok;
	printf("%s: ", ok ? "PASS" : "FAIL");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
	return ok;
}

__attribute__((unused)) static int check_summary(void)
{
	printf("%d passed, %d failed\n", check_pass, check_fail);
	return check_fail || !check_pass ? 1 : 0;
}

/* Parse hex, ignoring spaces, colons and newlines; returns the byte count or -1. */
__attribute__((unused)) static long unhex(const char *s, uint8_t *out, size_t max)
{
	size_t n = 0;
	int hi = -1;

	for (; *s; s++) {
		int v;

		if (*s == ' ' || *s == ':' || *s == '\n')
			continue;
		if (*s >= '0' && *s <= '9')
			v = *s - '0';
		else if (*s >= 'a' && *s <= 'f')
			v = *s - 'a' + 10;
		else if (*s >= 'A' && *s <= 'F')
			v = *s - 'A' + 10;
		else
			return -1;
		if (hi < 0) {
			hi = v;
			continue;
		}
		if (n >= max)
			return -1;
		out[n++] = (uint8_t)(hi << 4 | v);
		hi = -1;
	}
	return hi < 0 ? (long)n : -1;
}

__attribute__((unused)) static void print_hex(const char *label, const uint8_t *p, size_t len)
{
	printf("  %s (%zu bytes):", label, len);
	for (size_t i = 0; i < len; i++)
		printf("%s%02x", i % 16 ? "" : "\n    ", p[i]);
	putchar('\n');
}

#endif
