// SPDX-License-Identifier: GPL-2.0
/*
 * test_kernel_check.c - dp_kernel_check (bpf/datapath.c), what `bpftun up`
 * checks before loading the datapath:
 *   - its kfunc list is exactly the __ksym declarations of bpf/lib/common.h
 *     (read from the source here, so a new kfunc cannot be forgotten);
 *   - on the running kernel every check passes, for both ciphers bpftun
 *     offers (ecb(aes), ecb(aes-generic));
 *   - a kfunc the kernel does not have fails with -EOPNOTSUPP and a message
 *     that names it; a cipher the kernel does not have fails with -ENOENT and
 *     a message that names it.
 * With ALGO (the stock-kernel guest, after `rmmod aes_ti`): ALGO's block
 * cipher is not registered before, dp_kernel_check(ALGO) passes, and the
 * cipher is registered after: its module was loaded.
 * usage: test_kernel_check SOURCE_DIR [ALGO]
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "datapath.h"

/* the names declared `extern ... NAME(...) __ksym;` in file */
static int ksyms(const char *file, char names[][64], int max)
{
	char buf[65536], *p;
	size_t n;
	int k = 0;
	FILE *f = fopen(file, "r");

	if (!f)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	for (p = strstr(buf, "__ksym"); p && k < max; p = strstr(p + 6, "__ksym")) {
		/* back from "__ksym" to the declaration's start, then the name
		 * before its first '(' */
		char *start = p, *paren, *e, *b;

		while (start > buf && start[-1] != ';' && start[-1] != '/' && start[-1] != '}')
			start--;
		paren = memchr(start, '(', (size_t)(p - start));
		if (!paren || !strstr(start, "extern") || strstr(start, "extern") > paren)
			continue;
		e = paren;
		while (e > start && e[-1] == ' ')
			e--;
		b = e;
		while (b > start &&
		       (b[-1] == '_' || (b[-1] >= 'a' && b[-1] <= 'z') ||
			(b[-1] >= 'A' && b[-1] <= 'Z') || (b[-1] >= '0' && b[-1] <= '9')))
			b--;
		if (e - b <= 0 || e - b >= 64)
			continue;
		memcpy(names[k], b, (size_t)(e - b));
		names[k][e - b] = 0;
		k++;
	}
	return k;
}

/* 1 if /proc/crypto lists name as an algorithm or a driver */
static int registered(const char *name)
{
	char line[256], v[128];
	int found = 0;
	FILE *f = fopen("/proc/crypto", "r");

	if (!f)
		return -1;
	while (!found && fgets(line, sizeof(line), f))
		if (sscanf(line, "driver : %127s", v) == 1 || sscanf(line, "name : %127s", v) == 1)
			found = !strcmp(v, name);
	fclose(f);
	return found;
}

int main(int argc, char **argv)
{
	char why[512], path[512], names[64][64];
	const char *bad[] = {"bpf_crypto_encrypt", "bpftun_no_such_kfunc"};
	int n, err;

	if (argc != 2 && argc != 3) {
		fprintf(stderr, "usage: test_kernel_check SOURCE_DIR [ALGO]\n");
		return 2;
	}
	/* First, before any ecb(aes) check below loads aes_ti itself (the
	 * constant-time default makes sure it is loaded). */
	if (argc == 3) {
		char inner[64] = "";

		sscanf(argv[2], "%*[^(](%63[^)])", inner);
		check(inner[0] != 0, "%s names a block cipher (%s)", argv[2], inner);
		check(!registered(inner), "%s is not in /proc/crypto before the check", inner);
		err = dp_kernel_check(argv[2], why, sizeof(why));
		check(err == 0 && !why[0], "dp_kernel_check(%s) passes: %d '%s'", argv[2], err,
		      why);
		check(registered(inner) == 1, "%s is in /proc/crypto after: its module was loaded",
		      inner);
	}
	snprintf(path, sizeof(path), "%s/bpf/lib/common.h", argv[1]);
	n = ksyms(path, names, 64);
	check(n > 0, "read the __ksym declarations of %s (%d)", path, n);
	check((size_t)n == dp_kernel_nkfuncs,
	      "dp_kernel_check checks %zu kfuncs, common.h declares %d", dp_kernel_nkfuncs, n);
	for (int i = 0; i < n; i++) {
		int listed = 0;

		for (size_t j = 0; j < dp_kernel_nkfuncs; j++)
			listed |= !strcmp(names[i], dp_kernel_kfuncs[j]);
		check(listed, "kfunc %s (bpf/lib/common.h) is in dp_kernel_check's list", names[i]);
	}

	err = dp_kernel_check("ecb(aes)", why, sizeof(why));
	check(err == 0 && !why[0], "running kernel, ecb(aes): %d '%s'", err, why);
	err = dp_kernel_check("ecb(aes-generic)", why, sizeof(why));
	check(err == 0 && !why[0], "running kernel, ecb(aes-generic): %d '%s'", err, why);
	err = dp_kernel_check(NULL, why, sizeof(why));
	check(err == 0, "running kernel, no cipher: %d '%s'", err, why);

	err = dp_kernel_check_kfuncs(bad, 2, why, sizeof(why));
	check(err == -EOPNOTSUPP, "a missing kfunc fails with -EOPNOTSUPP (%d)", err);
	check(strstr(why, "this kernel lacks the kfunc bpftun_no_such_kfunc") != NULL &&
		  strstr(why, "6.10") != NULL,
	      "the message names the kfunc and the first kernel: '%s'", why);
	err = dp_kernel_check_kfuncs(bad, 1, why, sizeof(why));
	check(err == 0 && !why[0], "a present kfunc passes (%d '%s')", err, why);

	err = dp_kernel_check("ecb(bpftun-no-such-cipher)", why, sizeof(why));
	check(err == -ENOENT, "a missing cipher fails with -ENOENT (%d)", err);
	check(strstr(why, "this kernel lacks the cipher bpftun-no-such-cipher") != NULL,
	      "the message names the cipher: '%s'", why);
	return check_summary();
}
