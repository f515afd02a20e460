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

/*
 * Live PresharedKeys. `bpftun set/syncconf/addconf` give the key manager
 * PresharedKeys the configuration file does not hold; so that a restarted
 * key manager (crash, `systemctl restart bpftun-keymgmt@`) keeps them, it
 * also keeps each in @u, described "bpftun-psk:<netns inode>-<ifname>:<the
 * peer's public key, base64>" (all zero: the peer has none), permissions
 * BT_KR_PSK_PERM. resume() prefers it to the file's. `up` and `down` remove
 * the tunnel's (bt_kr_purge of bt_kr_psk_prefix), `cleanup` those of
 * namespaces that are gone.
 */
#define BT_KR_PSK_DESC_LEN 128
/* possessor and user (uid 0) all: a key manager started by systemd (a
 * private session keyring) must read, replace and invalidate them */
#define BT_KR_PSK_PERM 0x3f3f0000u
/* "bpftun-psk:INO-IFNAME:" (pub NULL) or the whole description of pub's,
 * INO the caller's network namespace. 0, -ENAMETOOLONG or -errno. */
int bt_kr_psk_desc(char *buf, size_t len, const char *ifname, const uint8_t pub[32]);
/* Add or replace the key desc (BT_KR_PSK_PERM). 0 or -errno. */
int bt_kr_psk_store(const char *desc, const uint8_t psk[32]);
/* The key desc into psk: 0, -ENOKEY (none) or -errno. */
int bt_kr_psk_load(const char *desc, uint8_t psk[32]);
/* Invalidate the "user" keys of @u whose description starts with prefix
 * (exact: is prefix); with gone non-NULL instead, the "bpftun-psk:" keys
 * whose netns inode gone(ino, arg) says no longer exists. How many, or
 * -errno. */
int bt_kr_purge(const char *prefix, int exact, int (*gone)(unsigned long ino, void *arg),
		void *arg);

/* keyctl_describe: 0 (usable), -EKEYREVOKED, -EKEYEXPIRED, -ENOKEY, -EACCES. */
int bt_kr_state(int32_t serial);
/* "ok", "revoked", "expired", "missing", or "error". */
const char *bt_kr_state_name(int state);

#endif
