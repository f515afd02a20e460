// SPDX-License-Identifier: GPL-2.0
/*
 * keyring.c - the identity key in the kernel keyring (keyring.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sodium.h>

#include "keyring.h"

#define KEYCTL_DESCRIBE		 6
#define KEYCTL_SETPERM		 5
#define KEYCTL_SEARCH		 10
#define KEYCTL_READ		 11
#define KEYCTL_LINK		 8
#define KEYCTL_UNLINK		 9
#define KEYCTL_INVALIDATE	 21
#define KEY_SPEC_SESSION_KEYRING (-3)
#define KEY_SPEC_USER_KEYRING	 (-4)
#define KEY_B64_LEN		 44

static long keyctl(int op, unsigned long a, unsigned long b, unsigned long c, unsigned long d)
{
	return syscall(SYS_keyctl, op, a, b, c, d);
}

int bt_kr_parse(const char *spec, const char *ifname, char desc[BT_KR_DESC_LEN], const char **why)
{
	char want[BT_KR_DESC_LEN];

	*why = NULL;
	if (strncmp(spec, "user:", 5)) {
		*why = "must be user:bpftun:<interface> (only \"user\" keys)";
		return -EINVAL;
	}
	spec += 5;
	if (snprintf(want, sizeof(want), "bpftun:%s", ifname) >= (int)sizeof(want) ||
	    strcmp(spec, want)) {
		*why = "the description must be bpftun:<interface>, this tunnel's name";
		return -EINVAL;
	}
	memcpy(desc, want, strlen(want) + 1);
	return 0;
}

/* The key is made in the session keyring, where the caller possesses it and
 * may set its permissions, then linked into @u (replacing an older key with
 * the same description) and unlinked from the session. Added to @u directly,
 * a caller whose session does not link @u (a private session keyring) could
 * not set the permissions of its own key. */
static int32_t kr_add(const char *desc, const uint8_t key[32], uint32_t perm)
{
	char b64[KEY_B64_LEN + 1];
	long serial;
	int err = 0;

	sodium_bin2base64(b64, sizeof(b64), key, 32, sodium_base64_VARIANT_ORIGINAL);
	serial =
	    syscall(SYS_add_key, "user", desc, b64, (size_t)KEY_B64_LEN, KEY_SPEC_SESSION_KEYRING);
	sodium_memzero(b64, sizeof(b64));
	if (serial < 0)
		return -errno;
	if (keyctl(KEYCTL_SETPERM, (unsigned long)serial, perm, 0, 0) < 0 ||
	    keyctl(KEYCTL_LINK, (unsigned long)serial, (unsigned long)KEY_SPEC_USER_KEYRING, 0, 0) <
		0)
		err = -errno;
	keyctl(KEYCTL_UNLINK, (unsigned long)serial, (unsigned long)KEY_SPEC_SESSION_KEYRING, 0, 0);
	if (err) {
		keyctl(KEYCTL_INVALIDATE, (unsigned long)serial, 0, 0, 0);
		return err;
	}
	return (int32_t)serial;
}

int32_t bt_kr_add(const char *desc, const uint8_t key[32])
{
	return kr_add(desc, key, BT_KR_PERM);
}

#define PSK_PREFIX "bpftun-psk:"

int bt_kr_psk_desc(char *buf, size_t len, const char *ifname, const uint8_t pub[32])
{
	char b64[KEY_B64_LEN + 1] = "";
	struct stat st;
	int n;

	if (stat("/proc/self/ns/net", &st))
		return -errno;
	if (pub)
		sodium_bin2base64(b64, sizeof(b64), pub, 32, sodium_base64_VARIANT_ORIGINAL);
	n = snprintf(buf, len, PSK_PREFIX "%lu-%s:%s", (unsigned long)st.st_ino, ifname, b64);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int bt_kr_psk_store(const char *desc, const uint8_t psk[32])
{
	int32_t r = kr_add(desc, psk, BT_KR_PSK_PERM);

	return r < 0 ? r : 0;
}

int bt_kr_psk_load(const char *desc, uint8_t psk[32])
{
	int32_t serial = bt_kr_find(desc);

	return serial < 0 ? serial : bt_kr_read(serial, psk);
}

int bt_kr_purge(const char *prefix, int exact, int (*gone)(unsigned long ino, void *arg), void *arg)
{
	int32_t *ids = NULL;
	long n, cap = 64;
	int count = 0;

	/* the serials of @u's keys; grown until they fit */
	for (;;) {
		int32_t *nids = realloc(ids, (size_t)cap * sizeof(*ids));

		if (!nids) {
			free(ids);
			return -ENOMEM;
		}
		ids = nids;
		n = keyctl(KEYCTL_READ, (unsigned long)KEY_SPEC_USER_KEYRING, (unsigned long)ids,
			   (unsigned long)cap * sizeof(*ids), 0);
		if (n < 0) {
			free(ids);
			return -errno;
		}
		if (n <= cap * (long)sizeof(*ids))
			break;
		cap = n / (long)sizeof(*ids) + 16;
	}
	for (long i = 0; i < n / (long)sizeof(*ids); i++) {
		char d[512], *desc, *end;
		unsigned long ino;
		int semis = 0, hit;

		/* "type;uid;gid;perm;description" */
		if (keyctl(KEYCTL_DESCRIBE, (unsigned long)ids[i], (unsigned long)d, sizeof(d), 0) <
		    0)
			continue;
		d[sizeof(d) - 1] = 0;
		for (desc = d; *desc && semis < 4; desc++)
			semis += *desc == ';';
		if (semis < 4 || strncmp(d, "user;", 5))
			continue;
		if (gone) {
			if (strncmp(desc, PSK_PREFIX, strlen(PSK_PREFIX)))
				continue;
			ino = strtoul(desc + strlen(PSK_PREFIX), &end, 10);
			hit = *end == '-' && gone(ino, arg);
		} else {
			hit =
			    exact ? !strcmp(desc, prefix) : !strncmp(desc, prefix, strlen(prefix));
		}
		if (hit && !keyctl(KEYCTL_INVALIDATE, (unsigned long)ids[i], 0, 0, 0))
			count++;
	}
	free(ids);
	return count;
}

int32_t bt_kr_find(const char *desc)
{
	long serial = keyctl(KEYCTL_SEARCH, (unsigned long)KEY_SPEC_USER_KEYRING,
			     (unsigned long)"user", (unsigned long)desc, 0);

	return serial < 0 ? -errno : (int32_t)serial;
}

int bt_kr_read(int32_t serial, uint8_t key[32])
{
	char buf[KEY_B64_LEN + 2];
	const char *end = NULL;
	size_t len = 0;
	long n;
	int err = 0;

	n = keyctl(KEYCTL_READ, (unsigned long)serial, (unsigned long)buf, sizeof(buf), 0);
	if (n < 0)
		return -errno;
	if (n == KEY_B64_LEN + 1 && buf[KEY_B64_LEN] == '\n')
		n--;
	if (n != KEY_B64_LEN ||
	    sodium_base642bin(key, 32, buf, KEY_B64_LEN, NULL, &len, &end,
			      sodium_base64_VARIANT_ORIGINAL) ||
	    len != 32 || end != buf + KEY_B64_LEN) {
		sodium_memzero(key, 32);
		err = -EINVAL;
	}
	sodium_memzero(buf, sizeof(buf));
	return err;
}

int bt_kr_state(int32_t serial)
{
	char buf[256];

	return keyctl(KEYCTL_DESCRIBE, (unsigned long)serial, (unsigned long)buf, sizeof(buf), 0) <
		       0
		   ? -errno
		   : 0;
}

const char *bt_kr_state_name(int state)
{
	switch (state) {
	case 0:
		return "ok";
	case -EKEYREVOKED:
		return "revoked";
	case -EKEYEXPIRED:
		return "expired";
	case -ENOKEY:
		return "missing";
	case -EKEYREJECTED:
		return "rejected";
	default:
		return "error";
	}
}
