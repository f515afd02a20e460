/* SPDX-License-Identifier: GPL-2.0 */
/*
 * common.h - includes, kfunc declarations and small macros shared by every BPF
 * object of bpftun. libbpf 1.1 has no kfunc prototypes and an outdated
 * __kptr_ref, so both are declared here (see docs/kernel.md).
 */
#ifndef BPFTUN_COMMON_H
#define BPFTUN_COMMON_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_core_read.h>

#include "bpftun_shared.h"

/* A referenced kptr: the verifier needs the "kptr" BTF type tag (clang >= 15). */
#define __kptr_bt __attribute__((btf_type_tag("kptr")))

#ifndef EINVAL
#define EPERM  1
#define ENOENT 2
#define E2BIG  7
#define ENOMEM 12
#define EBUSY  16
#define EEXIST 17
#define EINVAL 22
#define ENOSPC 28
#define ERANGE 34
#endif

#define TC_ACT_UNSPEC	(-1)
#define TC_ACT_OK	0
#define TC_ACT_SHOT	2
#define TC_ACT_REDIRECT 7
#define ETH_P_IP	0x0800
#define ETH_P_IPV6	0x86DD
#define IPPROTO_UDP	17

/* bpf_crypto kfuncs (kernel/bpf/crypto.c). */
extern struct bpf_crypto_ctx *bpf_crypto_ctx_create(const struct bpf_crypto_params *params,
						    __u32 params__sz, int *err) __ksym;
extern struct bpf_crypto_ctx *bpf_crypto_ctx_acquire(struct bpf_crypto_ctx *ctx) __ksym;
extern void bpf_crypto_ctx_release(struct bpf_crypto_ctx *ctx) __ksym;
extern int bpf_crypto_encrypt(struct bpf_crypto_ctx *ctx, const struct bpf_dynptr *src,
			      const struct bpf_dynptr *dst, const struct bpf_dynptr *siv) __ksym;
extern int bpf_crypto_decrypt(struct bpf_crypto_ctx *ctx, const struct bpf_dynptr *src,
			      const struct bpf_dynptr *dst, const struct bpf_dynptr *siv) __ksym;

/* Open-coded iterators (kernel >= 6.4): loops verified once, not unrolled. */
extern int bpf_iter_num_new(struct bpf_iter_num *it, int start, int end) __ksym;
extern int *bpf_iter_num_next(struct bpf_iter_num *it) __ksym;
extern void bpf_iter_num_destroy(struct bpf_iter_num *it) __ksym;

extern int bpf_dynptr_adjust(const struct bpf_dynptr *ptr, __u32 start, __u32 end) __ksym;
extern void *bpf_cast_to_kern_ctx(void *obj) __ksym;

/* for (i = start; i < end; i++) as an open-coded iterator; i is an int. */
#define bpf_for(i, start, end)                                                                     \
	for (struct bpf_iter_num ___it __attribute__((aligned(8), cleanup(bpf_iter_num_destroy))), \
	     *___p __attribute__((unused)) = (bpf_iter_num_new(&___it, (start), (end)),            \
					      (void)bpf_iter_num_destroy, (void *)0);              \
	     ({                                                                                    \
		     int *___t = bpf_iter_num_next(&___it);                                        \
		     (___t && ((i) = *___t, (i) >= (start) && (i) < (end)));                       \
	     });)

#define likely(x)   __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

#endif /* BPFTUN_COMMON_H */
