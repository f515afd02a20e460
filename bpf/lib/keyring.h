/* SPDX-License-Identifier: GPL-2.0 */
/*
 * keyring.h - the gate of sa_ctl_keyring: an SA is installed only while the
 * tunnel's identity key in the kernel keyring is usable. The request
 * (struct bpftun_sa_keyring_req) carries the key's serial and the real time
 * in seconds; the expected description is the loader's keyring_desc.
 *
 * bpf_lookup_user_key does not validate the key it finds (docs/keymgmt.md
 * has what it returns here): a revoked key is still found, with the REVOKED
 * flag set, an expired one with only its expiry in the past, until the key
 * garbage collector removes them (kernel.keys.gc_delay, 300 s by default).
 * So the gate reads the key itself, with CO-RE:
 *   NULL, or flags & INVALIDATED  -ENOKEY        (no such key, or gone)
 *   type not "user", or its
 *   description not keyring_desc  -EKEYREJECTED  (another key's serial)
 *   flags & REVOKED               -EKEYREVOKED
 *   state != 1 (not positive)     -ENOKEY
 *   expiry != 0 && expiry <= now  -EKEYEXPIRED
 * and puts its reference on every path.
 */
#ifndef BPFTUN_KEYRING_H
#define BPFTUN_KEYRING_H

#include "common.h"

#define ENOKEY	     126
#define EKEYEXPIRED  127
#define EKEYREVOKED  128
#define EKEYREJECTED 129

/* include/linux/key.h: #defines, not in BTF. */
#define BPFTUN_KEY_FLAG_REVOKED	    (1UL << 1)
#define BPFTUN_KEY_FLAG_INVALIDATED (1UL << 5)
#define BPFTUN_KEY_IS_POSITIVE	    1

extern struct bpf_key *bpf_lookup_user_key(__s32 serial, __u64 flags) __ksym;
extern void bpf_key_put(struct bpf_key *bkey) __ksym;

/* "bpftun:<ifname>", NUL-padded; set by dp_load_keyring before load. */
const volatile char keyring_desc[BPFTUN_KEYDESC_LEN] = {};

static __always_inline int keyring_check(struct bpf_key *bkey, __u64 now)
{
	char name[8] = {}, desc[BPFTUN_KEYDESC_LEN] = {};
	struct key *k = BPF_CORE_READ(bkey, key);
	unsigned long flags;
	__s64 expiry;
	short state;

	if (!k)
		return -ENOKEY;
	flags = BPF_CORE_READ(k, flags);
	if (flags & BPFTUN_KEY_FLAG_INVALIDATED)
		return -ENOKEY; /* gone, only not yet collected */
	if (bpf_probe_read_kernel_str(name, sizeof(name), BPF_CORE_READ(k, type, name)) < 0 ||
	    name[0] != 'u' || name[1] != 's' || name[2] != 'e' || name[3] != 'r' || name[4])
		return -EKEYREJECTED;
	if (bpf_probe_read_kernel_str(desc, sizeof(desc), BPF_CORE_READ(k, description)) < 0)
		return -EKEYREJECTED;
#pragma unroll
	for (int i = 0; i < BPFTUN_KEYDESC_LEN; i++)
		if (desc[i] != keyring_desc[i])
			return -EKEYREJECTED;
	if (!keyring_desc[0])
		return -EKEYREJECTED; /* loaded without a description */
	if (flags & BPFTUN_KEY_FLAG_REVOKED)
		return -EKEYREVOKED;
	state = BPF_CORE_READ(k, state);
	if (state != BPFTUN_KEY_IS_POSITIVE)
		return -ENOKEY;
	expiry = BPF_CORE_READ(k, expiry);
	if (expiry != 0 && expiry <= (__s64)now)
		return -EKEYEXPIRED;
	return 0;
}

/* ctx is a struct bpftun_sa_keyring_req; read at constant offsets only. */
static __always_inline int keyring_gate(void *ctx)
{
	__s32 serial =
	    *(volatile __s32 *)(ctx + __builtin_offsetof(struct bpftun_sa_keyring_req, serial));
	__u64 now =
	    *(volatile __u64 *)(ctx + __builtin_offsetof(struct bpftun_sa_keyring_req, now));
	struct bpf_key *bkey;
	int err;

	bkey = bpf_lookup_user_key(serial, 0);
	if (!bkey)
		return -ENOKEY;
	err = keyring_check(bkey, now);
	bpf_key_put(bkey);
	return err;
}

#endif /* BPFTUN_KEYRING_H */
