/* SPDX-License-Identifier: GPL-2.0 */
/*
 * replay.h - the per-SA anti-replay window, shared by the BPF datapath and
 * the userspace unit test (tests/test_replay.c), so both run the same code.
 *
 * An RFC 6479 ring of 64-bit words. Instead of clearing the words between the
 * old and the new top when the window slides (a loop of up to 128 stores,
 * under a lock), each word carries the block number it holds: a word whose tag
 * is older than the block being checked is stale and is reset on use. The
 * check is then O(1) with no loop, which keeps the bpf_spin_lock section tiny.
 *
 * The caller holds the SA's lock (bpf_spin_lock in BPF): check and update
 * must be one step, or two CPUs could both accept the same counter.
 */
#ifndef BPFTUN_REPLAY_H
#define BPFTUN_REPLAY_H

struct bpftun_replay_word {
	__u64 block; /* counter >> 6 that bits[] describe */
	__u64 bits;
};

struct bpftun_replay {
	__u64 next; /* highest accepted counter + 1; 0 before the first packet */
	struct bpftun_replay_word w[BPFTUN_REPLAY_WORDS];
};

/* Returns 0 and records the counter if it is new and inside the window,
 * 1 if it was seen before, 2 if it is too old (or past the reject limit). */
static __always_inline int bpftun_replay_check(struct bpftun_replay *r, __u64 counter)
{
	struct bpftun_replay_word *w;
	__u64 block, bit;

	if (counter >= BPFTUN_REJECT_AFTER_MESSAGES)
		return 2;
	if (counter + BPFTUN_REPLAY_WINDOW < r->next)
		return 2;

	block = counter >> 6;
	bit = 1ULL << (counter & 63);
	w = &r->w[block & (BPFTUN_REPLAY_WORDS - 1)];
	if (w->block != block) {
		/* A newer block owns this word: counter is older than the window. */
		if (w->block > block)
			return 2;
		w->block = block;
		w->bits = 0;
	}
	if (w->bits & bit)
		return 1;
	w->bits |= bit;
	if (counter + 1 > r->next)
		r->next = counter + 1;
	return 0;
}

#endif /* BPFTUN_REPLAY_H */
