// SPDX-License-Identifier: GPL-2.0
/*
 * test_keyring.c - sa_ctl_keyring, the SA install gated on the identity key
 * in the kernel keyring (bpf/lib/keyring.h), run by the real kernel:
 *   - a valid serial installs;
 *   - a revoked key (KEYCTL_REVOKE), an expired one (KEYCTL_SET_TIMEOUT 1 s,
 *     then waiting, bounded, until keyctl_describe says EKEYEXPIRED), an
 *     unknown serial (an invalidated key), a key with the wrong description,
 *     and a key of the wrong type are each refused with their own error, and
 *     a refused install leaves its slot empty;
 *   - 1,000 installs leave the key's usage count in /proc/keys unchanged (the
 *     gate puts its reference on every path);
 *   - the request's key is zeroed for the caller;
 *   - dp_load (no keyring) does not load sa_ctl_keyring at all.
 * The keys live in a new anonymous session keyring of this process, so they
 * go when it exits, whatever the exit path. Raw add_key/keyctl syscalls.
 * Needs root (BPF) and a kernel that allows bpf_lookup_user_key in syscall
 * programs (not 6.12: there dp_load_keyring gives -EOPNOTSUPP, a failure).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <sodium.h>

#include "check.h"
#include "datapath.h"
#include "keyring.h" /* tunnel/keyring.h */

#define KEYCTL_JOIN_SESSION_KEYRING 1
#define KEYCTL_REVOKE		    3
#define KEYCTL_LINK		    8
#define KEYCTL_UNLINK		    9
#define KEYCTL_DESCRIBE		    6
#define KEYCTL_SET_TIMEOUT	    15
#define KEYCTL_INVALIDATE	    21
#define KEY_SPEC_SESSION_KEYRING    (-3)
#define KEY_SPEC_USER_KEYRING	    (-4)

static long keyctl(int op, unsigned long a, unsigned long b, unsigned long c, unsigned long d)
{
	return syscall(SYS_keyctl, op, a, b, c, d);
}

static int32_t add_key(const char *type, const char *desc)
{
	static const char payload[32] = "not a secret: a test key payload";

	return (int32_t)syscall(SYS_add_key, type, desc, type[0] == 'u' ? payload : NULL,
				type[0] == 'u' ? sizeof(payload) : 0, KEY_SPEC_SESSION_KEYRING);
}

/* keyctl_describe: 0 or -errno (EKEYREVOKED, EKEYEXPIRED, ENOKEY). */
static int describe(int32_t serial)
{
	char buf[256];

	return keyctl(KEYCTL_DESCRIBE, (unsigned long)serial, (unsigned long)buf, sizeof(buf), 0) <
		       0
		   ? -errno
		   : 0;
}

/* The usage count and flags columns of the key's line in /proc/keys. */
static int proc_keys(int32_t serial, int *usage, char flags[8])
{
	char line[512], want[16];
	FILE *f = fopen("/proc/keys", "r");
	int found = 0;

	if (!f)
		return -errno;
	snprintf(want, sizeof(want), "%08x ", (uint32_t)serial);
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, want, 9) && sscanf(line + 9, "%7s %d", flags, usage) == 2) {
			found = 1;
			break;
		}
	fclose(f);
	return found ? 0 : -ENOENT;
}

static const uint8_t KEY[32] = {1,  2,	3,  4,	5,  6,	7,  8,	9,  10, 11, 12, 13, 14, 15, 16,
				17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32};

static int install(struct datapath *dp, int32_t serial, uint32_t slot, int *key_wiped)
{
	struct bpftun_sa_req r = {
	    .op = BPFTUN_OP_INSTALL_TX, .peer_id = 0, .slot = slot, .index = 7};
	static const uint8_t zero[32];
	int err;

	memcpy(r.key, KEY, sizeof(KEY));
	memcpy(r.salt, "salt", 4);
	err = dp_sa_ctl_keyring(dp, &r, serial);
	if (key_wiped)
		*key_wiped = !memcmp(r.key, zero, sizeof(zero));
	return err;
}

static int slot_present(struct datapath *dp, uint32_t slot)
{
	struct bpftun_tx_sa_info info = {0};

	return dp_tx_sa(dp, 0, slot, &info) == 0 && info.present;
}

static int clear_slot(struct datapath *dp, uint32_t slot)
{
	struct bpftun_sa_req r = {.op = BPFTUN_OP_CLEAR_SLOT, .peer_id = 0, .slot = slot};

	return dp_sa_ctl(dp, &r);
}

static const char *ename(int err)
{
	switch (-err) {
	case 0:
		return "0";
	case ENOKEY:
		return "ENOKEY";
	case EKEYREJECTED:
		return "EKEYREJECTED";
	case EKEYREVOKED:
		return "EKEYREVOKED";
	case EKEYEXPIRED:
		return "EKEYEXPIRED";
	case EOPNOTSUPP:
		return "EOPNOTSUPP";
	default:
		return strerror(-err);
	}
}

/* tunnel/keyring.c: the identity key in @u (the user keyring, shared with
 * the rest of the host: the key gets a pid-unique description, a 60 s
 * timeout as a safety net, and is invalidated at the end). */
static void test_library(struct datapath *dp)
{
	uint8_t key[32], back[32];
	char desc[BT_KR_DESC_LEN], ifname[16], info[256], want[128];
	const char *why;
	int32_t serial;
	int err;

	snprintf(ifname, sizeof(ifname), "kt%d", (int)getpid());
	check(bt_kr_parse("user:bpftun:bt0", "bt0", desc, &why) == 0 && !strcmp(desc, "bpftun:bt0"),
	      "parse user:bpftun:bt0 for bt0 -> bpftun:bt0");
	err = bt_kr_parse("logon:bpftun:bt0", "bt0", desc, &why);
	check(err == -EINVAL && why, "parse logon:bpftun:bt0: refused (%s)", why ? why : "");
	err = bt_kr_parse("user:bpftun:bt1", "bt0", desc, &why);
	check(err == -EINVAL && why, "parse user:bpftun:bt1 for bt0: refused (%s)", why ? why : "");
	check(bt_kr_parse("user:bt0", "bt0", desc, &why) == -EINVAL, "parse user:bt0: refused");
	check(bt_kr_parse("user:bpftun:bt0 ", "bt0", desc, &why) == -EINVAL,
	      "parse with a trailing space: refused");
	check(bt_kr_parse("user:bpftun:", ifname, desc, &why) == -EINVAL,
	      "parse user:bpftun: (no interface): refused");
	snprintf(want, sizeof(want), "user:bpftun:%s", ifname);
	if (!check(bt_kr_parse(want, ifname, desc, &why) == 0, "parse %s", want))
		return;

	randombytes_buf(key, sizeof(key));
	serial = bt_kr_add(desc, key);
	if (!check(serial > 0, "bt_kr_add %s: %d", desc, serial))
		return;
	keyctl(KEYCTL_SET_TIMEOUT, (unsigned long)serial, 60, 0, 0);
	check(bt_kr_find(desc) == serial, "bt_kr_find finds serial %d in @u", serial);
	err = bt_kr_read(serial, back);
	check(err == 0 && !memcmp(key, back, 32), "bt_kr_read gives the key back: %d", err);
	snprintf(want, sizeof(want), "user;0;0;%08x;%s", BT_KR_PERM, desc);
	check(keyctl(KEYCTL_DESCRIBE, (unsigned long)serial, (unsigned long)info, sizeof(info), 0) >
		      0 &&
		  !strcmp(info, want),
	      "describe: %s (want %s)", info, want);
	check(bt_kr_state(serial) == 0 && !strcmp(bt_kr_state_name(0), "ok"), "state ok");
	/* the gate, with a datapath that expects this description */
	{
		struct bpftun_config cfg = {.tun_ifindex = 1, .listen_port = htons(51820)};
		struct bpftun_peer peer = {0};
		struct datapath *d2 = NULL;

		(void)dp;
		if (check(dp_load_keyring(&d2, &cfg, desc, 0, 0) == 0, "load a datapath for %s",
			  desc)) {
			dp_set_peer(d2, 0, &peer);
			err = install(d2, serial, 1, NULL);
			check(err == 0, "the @u key installs: %s", ename(err));
			/* perm 0x3f030000 lets a non-possessor only view and read:
			 * revoking needs possession, as in a login shell, whose
			 * session keyring links @u */
			check(keyctl(KEYCTL_REVOKE, (unsigned long)serial, 0, 0, 0) < 0 &&
				  errno == EACCES,
			      "revoke without possessing @u: EACCES");
			check(keyctl(KEYCTL_LINK, (unsigned long)KEY_SPEC_USER_KEYRING,
				     (unsigned long)KEY_SPEC_SESSION_KEYRING, 0, 0) == 0,
			      "link @u into the session keyring");
			check(keyctl(KEYCTL_REVOKE, (unsigned long)serial, 0, 0, 0) == 0,
			      "revoke while possessing @u");
			err = install(d2, serial, 2, NULL);
			check(err == -EKEYREVOKED, "revoked: %s", ename(err));
			check(!strcmp(bt_kr_state_name(bt_kr_state(serial)), "revoked"),
			      "bt_kr_state: revoked");
			check(bt_kr_read(serial, back) == -EKEYREVOKED,
			      "bt_kr_read of it: -EKEYREVOKED");
			dp_destroy(d2);
		}
	}
	/* a revoked key cannot be invalidated (EKEYREVOKED), but unlinked */
	keyctl(KEYCTL_INVALIDATE, (unsigned long)serial, 0, 0, 0);
	keyctl(KEYCTL_UNLINK, (unsigned long)serial, (unsigned long)KEY_SPEC_USER_KEYRING, 0, 0);
	check(bt_kr_find(desc) < 0, "gone from @u after unlink");
	check(!strcmp(bt_kr_state_name(-ENOKEY), "missing") &&
		  !strcmp(bt_kr_state_name(-EKEYEXPIRED), "expired"),
	      "state names");
	sodium_memzero(key, sizeof(key));
}

int main(void)
{
	struct bpftun_config cfg = {.tun_ifindex = 1, .listen_port = htons(51820)};
	struct bpftun_peer peer = {0};
	struct datapath *dp = NULL, *plain = NULL;
	char desc[32], flags[8] = "", flags2[8] = "";
	int32_t good, other, ring, revoked, expiring, gone;
	int err, wiped = 0, before = -1, after = -2, bad = 0;

	setvbuf(stdout, NULL, _IOLBF, 0);
	snprintf(desc, sizeof(desc), "bpftun:kt%d", (int)getpid());
	if (!check(keyctl(KEYCTL_JOIN_SESSION_KEYRING, 0, 0, 0, 0) > 0,
		   "join a new anonymous session keyring: %s", strerror(errno)))
		return check_summary();

	/* Without a keyring description the program is not even loaded. */
	err = dp_load(&plain, &cfg);
	if (check(err == 0, "dp_load (no keyring) loads: %s", strerror(-err))) {
		struct bpftun_sa_req r = {.op = BPFTUN_OP_INSTALL_TX, .slot = 1};

		check(dp_sa_ctl_keyring(plain, &r, 1) == -EOPNOTSUPP,
		      "dp_load leaves sa_ctl_keyring unloaded: -EOPNOTSUPP");
		dp_destroy(plain);
	}

	err = dp_load_keyring(&dp, &cfg, desc, 0, 0);
	if (!check(err == 0, "dp_load_keyring(\"%s\") loads sa_ctl_keyring (verifier): %s", desc,
		   ename(err)))
		return check_summary();
	{ /* one load path: sized like dp_load_sized, with the gate */
		struct datapath *big = NULL;
		char why[512];

		err = dp_load_keyring(&big, &cfg, desc, 5000, 9000);
		check(err == 0 &&
			  dp_max_peers(big) ==
			      dp_capacity(5000, BPFTUN_MIN_PEERS, BPFTUN_MAX_PEERS) &&
			  dp_sa_ctl_fd(big) >= 0,
		      "dp_load_keyring for 5000 peers: %u peer slots (%s)",
		      big ? dp_max_peers(big) : 0, ename(err));
		dp_destroy(big);
		err = dp_keyring_check(why, sizeof(why));
		check(err == 0, "dp_keyring_check: the gate loads on this kernel (%s%s)",
		      ename(err), err ? why : "");
	}
	check(dp_load_keyring(&plain, &cfg, "", 0, 0) == -EINVAL,
	      "an empty description is refused");
	check(dp_load_keyring(&plain, &cfg, "bpftun:0123456789abcdef0123456789", 0, 0) == -EINVAL,
	      "a description of 32+ bytes is refused");
	dp_set_peer(dp, 0, &peer);

	good = add_key("user", desc);
	other = add_key("user", "bpftun:someoneelse");
	ring = add_key("keyring", desc);
	if (!check(good > 0 && other > 0 && ring > 0, "add_key: three keys"))
		goto out;

	/* valid */
	err = install(dp, good, 1, &wiped);
	check(err == 0 && slot_present(dp, 1), "valid key %d: installs (%s)", good, ename(err));
	check(wiped, "the caller's request key is zeroed");

	/* 1,000 installs: usage count unchanged */
	proc_keys(good, &before, flags);
	for (int i = 0; i < 1000; i++)
		if (install(dp, good, 1, NULL))
			bad++;
	proc_keys(good, &after, flags);
	check(bad == 0, "1000 installs with the valid key: %d refused", bad);
	check(before > 0 && before == after,
	      "/proc/keys usage count of key %08x before and after 1000 installs: %d, %d", good,
	      before, after);
	/* and 1,000 refused ones (wrong description): every path puts */
	proc_keys(other, &before, flags);
	for (int i = 0; i < 1000; i++)
		install(dp, other, 2, NULL);
	proc_keys(other, &after, flags);
	check(before > 0 && before == after,
	      "usage count of key %08x before and after 1000 refused installs: %d, %d", other,
	      before, after);

	/* wrong description, wrong type, a special serial (@u: a keyring) */
	err = install(dp, other, 2, NULL);
	check(err == -EKEYREJECTED && !slot_present(dp, 2),
	      "user key with description bpftun:someoneelse: %s, slot empty", ename(err));
	err = install(dp, ring, 2, NULL);
	check(err == -EKEYREJECTED && !slot_present(dp, 2),
	      "keyring with the right description: %s, slot empty", ename(err));
	err = install(dp, KEY_SPEC_USER_KEYRING, 2, NULL);
	check(err == -EKEYREJECTED && !slot_present(dp, 2), "serial -4 (@u): %s, slot empty",
	      ename(err));

	/* unknown serial: one keyctl_describe does not know (bounded search) */
	{
		int32_t unknown = 0x7fff0000;

		for (int i = 0; i < 100 && describe(unknown) != -ENOKEY; i++)
			unknown++;
		err = install(dp, unknown, 2, NULL);
		check(describe(unknown) == -ENOKEY && err == -ENOKEY && !slot_present(dp, 2),
		      "unknown serial %d: %s, slot empty", unknown, ename(err));
	}
	/* an invalidated key (found until the GC runs, or not: ENOKEY both ways) */
	gone = add_key("user", "bpftun:gone");
	keyctl(KEYCTL_INVALIDATE, (unsigned long)gone, 0, 0, 0);
	err = install(dp, gone, 2, NULL);
	check(err == -ENOKEY && !slot_present(dp, 2), "invalidated key %d: %s, slot empty", gone,
	      ename(err));

	/* expired: a timeout of 1 s; installs before, refused after */
	expiring = good;
	{ /* the expiry is whole seconds: start in the first half of one (<= 1 s) */
		struct timespec now, ms10 = {0, 10 * 1000 * 1000};

		for (int i = 0; i < 100; i++) {
			clock_gettime(CLOCK_REALTIME, &now);
			if (now.tv_nsec < 500 * 1000 * 1000)
				break;
			nanosleep(&ms10, NULL);
		}
	}
	check(keyctl(KEYCTL_SET_TIMEOUT, (unsigned long)expiring, 1, 0, 0) == 0, "set_timeout 1 s");
	err = install(dp, expiring, 1, NULL);
	check(err == 0, "before its expiry the key still installs: %s", ename(err));
	{
		struct timespec t0, t1, ms50 = {0, 50 * 1000 * 1000};
		int d = 0, i;

		clock_gettime(CLOCK_MONOTONIC, &t0);
		for (i = 0; i < 60 && (d = describe(expiring)) == 0; i++) /* <= 3 s */
			nanosleep(&ms50, NULL);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		check(d == -EKEYEXPIRED, "keyctl_describe says EKEYEXPIRED after %.2f s",
		      (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9);
	}
	clear_slot(dp, 1);
	err = install(dp, expiring, 1, NULL);
	proc_keys(expiring, &before, flags);
	check(err == -EKEYEXPIRED && !slot_present(dp, 1),
	      "expired key: %s (so bpf_lookup_user_key still found it), slot empty; /proc/keys "
	      "flags %s",
	      ename(err), flags);

	/* revoked: a fresh key. add_key of an existing type and description
	 * updates that key in place, and a user key's update clears its expiry:
	 * what a new `up` does. */
	revoked = add_key("user", desc);
	check(revoked == good, "add_key again with the description updates key %d in place: %d",
	      good, revoked);
	err = install(dp, revoked, 1, NULL);
	check(err == 0, "the re-added key %d installs again: %s", revoked, ename(err));
	clear_slot(dp, 1);
	check(keyctl(KEYCTL_REVOKE, (unsigned long)revoked, 0, 0, 0) == 0, "keyctl revoke %d",
	      revoked);
	check(describe(revoked) == -EKEYREVOKED, "keyctl_describe says EKEYREVOKED");
	proc_keys(revoked, &before, flags2);
	err = install(dp, revoked, 1, NULL);
	proc_keys(revoked, &after, flags2);
	check(err == -EKEYREVOKED && !slot_present(dp, 1),
	      "revoked key: %s (so bpf_lookup_user_key still found it), slot empty; /proc/keys "
	      "flags %s",
	      ename(err), flags2);
	check(before == after, "usage count of the revoked key across a refused install: %d, %d",
	      before, after);
	/* the gate counts its refusals itself, in the iface map, and
	 * dp_set_iface (userspace's read-modify-write) does not reset them */
	{
		struct bpftun_iface i0 = {0}, i1 = {0}, i2 = {0};

		dp_get_iface(dp, &i0);
		install(dp, revoked, 1, NULL);
		install(dp, other, 1, NULL);
		dp_get_iface(dp, &i1);
		check(i1.keyring_refused == i0.keyring_refused + 2 &&
			  i1.keyring_last_err == -EKEYREJECTED,
		      "iface keyring_refused counts 2 more refusals (%u -> %u), last error %s",
		      i0.keyring_refused, i1.keyring_refused, ename(i1.keyring_last_err));
		install(dp, revoked, 1, NULL);
		i0.keyring_refused = 0; /* a stale copy written back */
		i0.keyring_last_err = 0;
		dp_set_iface(dp, &i0);
		dp_get_iface(dp, &i2);
		check(
		    i2.keyring_refused == i1.keyring_refused + 1 &&
			i2.keyring_last_err == -EKEYREVOKED,
		    "dp_set_iface of a stale copy keeps the gate's count (%u) and last error (%s)",
		    i2.keyring_refused, ename(i2.keyring_last_err));
	}
	test_library(dp);
out:
	dp_destroy(dp);
	return check_summary();
}
