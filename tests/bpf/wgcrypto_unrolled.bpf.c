// SPDX-License-Identifier: GPL-2.0
/*
 * wgcrypto_unrolled.bpf.c - tests/bpf/wgcrypto.bpf.c built with the ten
 * ChaCha20 double rounds fully unrolled (CHACHA20_UNROLL, bpf/lib/chacha20.h)
 * instead of looped: the other half of bench/bench_chacha_unroll.c's
 * comparison. Not used by the datapath.
 */
#define CHACHA20_UNROLL 1
#include "wgcrypto.bpf.c"
