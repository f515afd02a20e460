// SPDX-License-Identifier: GPL-2.0
/*
 * test_replay.c - unit test of the anti-replay window (bpf/lib/replay.h),
 * compiled natively: the same code the BPF datapath runs under its SA lock.
 *
 * Numbered cases T(counter, expected) in the style of WireGuard's
 * drivers/net/wireguard/selftest/counter.c, adapted to bpftun's constants and
 * rule. With next = highest accepted counter + 1 (0 before the first packet),
 * bpftun_replay_check(counter) returns
 *   2 (OLD)  if counter >= BPFTUN_REJECT_AFTER_MESSAGES, or
 *            counter + BPFTUN_REPLAY_WINDOW < next (older than the window);
 *   1 (DUP)  if counter was accepted before;
 *   0 (OK)   otherwise, and records it.
 * So next - WINDOW is the oldest counter still accepted, next - WINDOW - 1 the
 * newest one refused as too old. (WireGuard accepts one more: counter + 1 +
 * WINDOW >= next; its cases are shifted by one here where that matters.)
 *
 * Then a randomized differential test against an independent model (a hash
 * set of accepted counters and next), 200000 operations per seed, counters
 * drawn around the moving top, near the window edge, as duplicates, as jumps,
 * and near the reject limit.
 *
 * Usage: test_replay [SEED]. Exit status 0 when every check passes; the last
 * line is "N passed, M failed". Failing numbered cases are printed one by one.
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <linux/types.h>

#ifndef __always_inline
#define __always_inline inline __attribute__((always_inline))
#endif

#include "bpftun_shared.h"
#include "lib/replay.h"

#include "check.h"

#define OK  0
#define DUP 1
#define OLD 2

#define W     ((uint64_t)BPFTUN_REPLAY_WINDOW)
#define LIMIT ((uint64_t)BPFTUN_REJECT_AFTER_MESSAGES)

_Static_assert(BPFTUN_REPLAY_WINDOW == 8128, "window as documented (8192 - 64)");
_Static_assert(BPFTUN_REJECT_AFTER_MESSAGES == UINT64_MAX - 8192, "WireGuard's reject limit");

static struct bpftun_replay st;
static unsigned int test_num;
static const char *group;
/* Failures printed per group; later ones are only counted. */
static int group_failed;
#define MAX_PRINTED 20

static const char *rname(int r)
{
	return r == OK ? "ok" : r == DUP ? "dup" : r == OLD ? "too old" : "?";
}

static void t_case(uint64_t counter, int want, int line)
{
	int got = bpftun_replay_check(&st, counter);

	++test_num;
	if (got == want) {
		check_pass++;
		return;
	}
	if (group_failed++ >= MAX_PRINTED) {
		check_fail++;
		return;
	}
	check(0,
	      "%s: case %u (line %d): counter %" PRIu64 " (0x%016" PRIx64
	      "): want %d (%s), got %d (%s); next %" PRIu64,
	      group, test_num, line, counter, counter, want, rname(want), got, rname(got),
	      (uint64_t)st.next);
}

#define T(n, v) t_case((n), (v), __LINE__)

static void t_init(const char *name)
{
	memset(&st, 0, sizeof(st));
	group = name;
	group_failed = 0;
}

static void t_group_done(unsigned int first)
{
	printf("%s: %s (cases %u..%u)\n", group_failed ? "FAIL" : "PASS", group, first + 1,
	       test_num);
	if (group_failed > MAX_PRINTED)
		printf("  (%d failures, %d printed)\n", group_failed, MAX_PRINTED);
}

#define GROUP(name)                                                                                \
	for (unsigned int _first = (t_init(name), test_num), _once = 1; _once;                     \
	     _once = 0, t_group_done(_first))

/* ------------------------------------------------------- numbered cases */

static void test_numbered(void)
{
	uint64_t i;

	GROUP("WireGuard counter.c sequence, adapted")
	{
		const uint64_t L = W + 1; /* WireGuard's T_LIM */

		/*  1 */ T(0, OK);
		/*  2 */ T(1, OK);
		/*  3 */ T(1, DUP);
		/*  4 */ T(9, OK);
		/*  5 */ T(8, OK);
		/*  6 */ T(7, OK);
		/*  7 */ T(7, DUP);
		/*  8 */ T(L, OK); /* next = W + 2 */
		/*  9 */ T(L - 1, OK);
		/* 10 */ T(L - 1, DUP);
		/* 11 */ T(L - 2, OK);
		/* 12 */ T(2, OK); /* = next - W: the oldest accepted */
		/* 13 */ T(2, DUP);
		/* 14 */ T(L + 16, OK); /* next = W + 18 */
		/* 15 */ T(3, OLD);
		/* 16 */ T(L + 16, DUP);
		/* 17 */ T(L * 4, OK);	       /* next = 4L + 1 */
		/* 18 */ T(L * 4 + 1 - W, OK); /* next - W */
		/* 19 */ T(10, OLD);
		/* 20 */ T(L * 4 + 1 - W, DUP);
		/* 21 */ T(L * 4 - W, OLD); /* next - W - 1 (WireGuard would accept it) */
		/* 22 */ T(L * 4 + 2 - W, OK);
		/* 23 */ T(0, OLD);
		/* 24 */ T(LIMIT, OLD);
		/* 25 */ T(LIMIT - 1, OK); /* next = LIMIT */
		/* 26 */ T(LIMIT, OLD);
		/* 27 */ T(LIMIT - 1, DUP);
		/* 28 */ T(LIMIT - 2, OK);
		/* 29 */ T(LIMIT + 1, OLD);
		/* 30 */ T(LIMIT + 2, OLD);
		/* 31 */ T(LIMIT - 2, DUP);
		/* 32 */ T(LIMIT - 3, OK);
		/* 33 */ T(0, OLD);
		/* 34 */ T(UINT64_MAX, OLD);
		/* 35 */ T(LIMIT - W, OK);	/* next - W, next = LIMIT */
		/* 36 */ T(LIMIT - W - 1, OLD); /* next - W - 1 */
		/* 37 */ T(LIMIT - W, DUP);
	}

	GROUP("window edges from a fresh state")
	{
		/* 38 */ T(W, OK);  /* first packet may be anything; next = W + 1 */
		/* 39 */ T(0, OLD); /* next - W - 1 */
		/* 40 */ T(1, OK);  /* next - W */
		/* 41 */ T(1, DUP);
		/* 42 */ T(W - 1, OK);
		/* 43 */ T(W, DUP);
		/* 44 */ T(W + 1, OK); /* next = W + 2 */
		/* 45 */ T(1, OLD);    /* was accepted, now out of the window */
		/* 46 */ T(2, OK);
		/* 47 */ T(1000000, OK); /* far jump */
		/* 48 */ T(W + 1, OLD);
		/* 49 */ T(2, OLD);
		/* 50 */ T(1000001 - W - 1, OLD);
		/* 51 */ T(1000001 - W, OK);
		/* 52 */ T(999999, OK);
		/* 53 */ T(1000000, DUP);
	}

	GROUP("jumps of exactly 64, 128*64 and more")
	{
		/* 54 */ T(0, OK);
		/* 55 */ T(64, OK); /* +64: next word */
		/* 56 */ T(0, DUP);
		/* 57 */ T(64, DUP);
		/* 58 */ T(64 + 128 * 64, OK); /* +8192: same word as 64, next = 8257 */
		/* 59 */ T(64, OLD);
		/* 60 */ T(8257 - W - 1, OLD); /* 128 */
		/* 61 */ T(8257 - W, OK);      /* 129 */
		/* 62 */ T(128 * 64, OK);      /* 8192: word 0, held block 0 */
		/* 63 */ T(0, OLD);
		/* 64 */ T(8256 + 64, OK); /* +64 again */
		/* 65 */ T(8320 - 64, DUP);
		/* 66 */ T(8320 + 128 * 64 + 1, OK); /* +8193; next = 16514 */
		/* 67 */ T(8320, OLD);
		/* 68 */ T(8256, OLD);
		/* 69 */ T(16514 - W, OK);
		/* 70 */ T(16514 - W - 1, OLD);
		/* 71 */ T(UINT64_C(1) << 40, OK);
		/* 72 */ T((UINT64_C(1) << 40) - 1, OK);
		/* 73 */ T(16513, OLD);
		/* 74 */ T((UINT64_C(1) << 40) + 1 - W, OK);
		/* 75 */ T((UINT64_C(1) << 40) - W, OLD);
	}

	GROUP("words reused across a 128*64 jump keep their block's bits")
	{
		/* 76 */ T(100, OK);  /* block 1 */
		/* 77 */ T(8227, OK); /* block 128, word 0; next = 8228 = 100 + W */
		/* 78 */ T(100, DUP); /* still in the window and remembered */
		/* 79 */ T(99, OLD);
		/* 80 */ T(8228, OK); /* next = 8229 */
		/* 81 */ T(100, OLD);
		/* 82 */ T(101, OK); /* word 1 still block 1 */
		/* 83 */ T(101, DUP);
		/* 84 */ T(8256, OK); /* block 129 takes word 1; next = 8257 */
		/* 85 */ T(101, OLD);
		/* 86 */ T(129, OK);
		/* 87 */ T(8256, DUP);
		/* 88 */ T(8255, OK);
	}

	GROUP("every counter of a window in reverse order")
	{
		for (i = W; i-- > 0;)
			T(i, OK); /* first W - 1, next = W; down to 0 = next - W */
		for (i = 0; i < W; i++)
			T(i, DUP);
		T(W, OK);
		T(0, OLD);
		T(1, DUP);
	}

	GROUP("every counter of an unaligned window in reverse order")
	{
		const uint64_t base = 1000003;

		for (i = base + W; i-- > base;)
			T(i, OK);
		T(base - 1, OLD);
		for (i = base; i < base + W; i++)
			T(i, DUP);
	}

	GROUP("forward through the window, then the oldest (WireGuard, adapted)")
	{
		for (i = 1; i < W; i++)
			T(i, OK);
		T(0, OK); /* next = W: 0 = next - W */
		T(0, DUP);
	}

	GROUP("forward one past, then the edge (WireGuard, adapted)")
	{
		for (i = 2; i <= W; i++)
			T(i, OK); /* next = W + 1 */
		T(1, OK);
		T(0, OLD);
	}

	GROUP("reverse, then one more on top (WireGuard, adapted)")
	{
		for (i = W; i-- > 1;)
			T(i, OK);
		T(W, OK);
		T(0, OLD);
	}

	GROUP("reverse to 0, then one more on top (WireGuard, adapted)")
	{
		for (i = W; i-- > 1;)
			T(i, OK);
		T(0, OK);
		T(W, OK);
		T(0, OLD);
	}

	GROUP("reject limit from a fresh state")
	{
		T(LIMIT, OLD);
		T(UINT64_MAX, OLD);
		T(LIMIT - 1, OK);
		T(LIMIT - 1, DUP);
		T(LIMIT, OLD);
		T(LIMIT - 1 - W, OLD);
		T(LIMIT - W, OK);
	}

	GROUP("state is reset by re-initialising")
	{
		T(0, OK);
		T(0, DUP);
		memset(&st, 0, sizeof(st));
		T(0, OK);
		T(5000000, OK);
		memset(&st, 0, sizeof(st));
		T(0, OK);
		T(1, OK);
	}
}

/* ------------------------------------------------ randomized differential */

/* splitmix64: reproducible from the printed seed. */
static uint64_t rng_state;

static uint64_t rnd(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static uint64_t rnd_below(uint64_t n)
{
	return n ? rnd() % n : 0;
}

/* The model: accepted counters in an open-addressing hash set, and next. */
#define SET_BITS 20
#define SET_SIZE (1U << SET_BITS)
static uint64_t *set_keys;
static uint8_t *set_used;
static uint64_t model_next;

static size_t set_slot(uint64_t c)
{
	size_t h = (size_t)((c * 0x9e3779b97f4a7c15ULL) >> (64 - SET_BITS));

	while (set_used[h] && set_keys[h] != c)
		h = (h + 1) & (SET_SIZE - 1);
	return h;
}

static void model_reset(void)
{
	memset(set_used, 0, SET_SIZE);
	model_next = 0;
}

static int model_check(uint64_t c)
{
	size_t h;

	if (c >= LIMIT)
		return OLD;
	if (c + W < model_next)
		return OLD;
	h = set_slot(c);
	if (set_used[h])
		return DUP;
	set_used[h] = 1;
	set_keys[h] = c;
	if (c + 1 > model_next)
		model_next = c + 1;
	return OK;
}

static uint64_t add_sat(uint64_t a, uint64_t b)
{
	return a + b < a ? UINT64_MAX - rnd_below(2 * (uint64_t)BPFTUN_REPLAY_BITS) : a + b;
}

static uint64_t behind(uint64_t next, uint64_t d)
{
	return next > d ? next - d : rnd_below(next + 1);
}

/* A counter near the moving top, sometimes far from it. In calm stretches the
 * top creeps forward so windows fill densely; otherwise it also jumps. */
static uint64_t draw(const uint64_t *recent, size_t nrecent, int calm)
{
	uint64_t next = model_next;
	unsigned int kind = (unsigned int)rnd_below(1000);

	if (kind < 400) /* inside the window or just past its edge */
		return behind(next, rnd_below(W + 64));
	if (kind < 550 || (calm && kind >= 800 && kind < 853)) /* at or a little ahead of the top */
		return add_sat(next, rnd_below(80));
	if (kind < 650) /* around the window edge: next - W - 2 .. next - W + 2 */
		return behind(next, W - 2 + rnd_below(5));
	if (kind < 800) /* a recently accepted counter again */
		return nrecent ? recent[rnd_below(nrecent)] : next;
	if (kind < 850) /* jumps of 64, 128 or 192 (* 128 sometimes), +-1 */
		return add_sat(next, 64 * (1 + rnd_below(3)) * (rnd_below(8) ? 1 : 128) - 1 +
					 rnd_below(3));
	if (kind < 853) /* far ahead */
		return add_sat(next, rnd_below(UINT64_C(1) << 20));
	if (kind < 900) /* anywhere behind */
		return rnd_below(next + 1);
	/* a few windows behind */
	return behind(next, rnd_below(4 * W));
}

static int differential(uint64_t start, unsigned int ops, const char *what)
{
	static uint64_t recent[256];
	size_t nrecent = 0;
	int bad = 0, calm = 0;
	unsigned int counts[3] = {0};

	memset(&st, 0, sizeof(st));
	model_reset();
	if (start) { /* first packet at start: the window begins there */
		int a = bpftun_replay_check(&st, start), b = model_check(start);

		if (a != b) {
			printf("  %s: first counter %" PRIu64 ": want %d, got %d\n", what, start, b,
			       a);
			bad++;
		}
	}
	for (unsigned int op = 0; op < ops; op++) {
		uint64_t c, next = model_next;
		int want, got;

		if (op % 5000 == 0)
			calm = (int)rnd_below(2);
		c = draw(recent, nrecent, calm);
		want = model_check(c);
		got = bpftun_replay_check(&st, c);
		counts[want]++;
		if (want == OK) {
			recent[nrecent < 256 ? nrecent++ : rnd_below(256)] = c;
		}
		if (got != want || st.next != model_next) {
			if (bad++ < MAX_PRINTED)
				printf("  %s: op %u: counter %" PRIu64 " (next was %" PRIu64
				       ", next - counter %" PRId64
				       "): model %d (%s), replay.h %d (%s); next now model %" PRIu64
				       ", replay.h %" PRIu64 "\n",
				       what, op, c, next, (int64_t)(next - c), want, rname(want),
				       got, rname(got), model_next, (uint64_t)st.next);
			/* Resynchronise so one difference is not reported thousands of times. */
			memset(&st, 0, sizeof(st));
			model_reset();
			nrecent = 0;
		}
	}
	check(!bad,
	      "differential vs set model, %s: %u ops (%u ok, %u dup, %u too old), %d "
	      "differences",
	      what, ops, counts[OK], counts[DUP], counts[OLD], bad);
	return bad;
}

static void test_differential(uint64_t seed)
{
	set_keys = calloc(SET_SIZE, sizeof(*set_keys));
	set_used = calloc(SET_SIZE, 1);
	if (!set_keys || !set_used) {
		check(0, "differential: out of memory");
		return;
	}
	printf("differential seed %" PRIu64 " (rerun with: test_replay %" PRIu64 ")\n", seed, seed);
	rng_state = seed;
	differential(0, 200000, "from 0");
	differential(LIMIT - 30000000, 200000, "up to the reject limit");
	differential(UINT64_C(1) << 32, 200000, "from 2^32");
	free(set_keys);
	free(set_used);
}

int main(int argc, char **argv)
{
	uint64_t seed = argc > 1 ? strtoull(argv[1], NULL, 0) : (uint64_t)time(NULL);

	check_verbose = 0; /* numbered cases: print failures only, groups print a line */
	test_numbered();
	check_verbose = 1;
	test_differential(seed);
	return check_summary();
}
