/* SPDX-License-Identifier: GPL-2.0 */
/*
 * keyring.h - the identity key in the kernel keyring, with raw add_key and
 * keyctl syscalls (no libkeyutils: six calls, see docs/keymgmt.md). The key
 * is a "user" key described "bpftun:<ifname>" in the user keyring (@u), its
 * payload the private key in base64 (44 characters, an optional newline), so
 * that `wg genkey | keyctl padd user bpftun:bt0 @u` works too.
 *
 * Used by PrivateKeyKeyring: bt_config_keyring_load (config.c), the key
 * manager's poll (keymgmt/timers.c) and show (docs/keymgmt.md).
 */
#ifndef BPFTUN_TUNNEL_KEYRING_H
#define BPFTUN_TUNNEL_KEYRING_H

#include <stdint.h>

#define BT_KR_DESC_LEN 32 /* = BPFTUN_KEYDESC_LEN, with the NUL */
/* possessor all, user view+read: the key manager reads the key without
 * possessing it (a process in a private session keyring, as systemd starts
 * services by default, does not possess @u's keys) */
#define BT_KR_PERM 0x3f030000u

/* "user:bpftun:<ifname>" -> desc "bpftun:<ifname>". ifname is the tunnel's
 * (from the config file name): the description must name it. 0, or -EINVAL
 * with *why set to a static explanation. */
int bt_kr_parse(const char *spec, const char *ifname, char desc[BT_KR_DESC_LEN], const char **why);

/* Add (or update: same description) the key in @u with BT_KR_PERM.
 * Returns the serial (> 0) or -errno. */
int32_t bt_kr_add(const char *desc, const uint8_t key[32]);

/* The serial of the "user" key desc in @u, or -errno (-ENOKEY: none). */
int32_t bt_kr_find(const char *desc);

/* Read and decode the key. 0 or -errno (-EINVAL: not a base64 key). The
 * buffers are wiped. */
int bt_kr_read(int32_t serial, uint8_t key[32]);

/* keyctl_describe: 0 (usable), -EKEYREVOKED, -EKEYEXPIRED, -ENOKEY, -EACCES. */
int bt_kr_state(int32_t serial);
/* "ok", "revoked", "expired", "missing", or "error". */
const char *bt_kr_state_name(int state);

#endif
