// SPDX-License-Identifier: GPL-2.0
/*
 * config.c - parse bpftun's WireGuard-style configuration file (see config.h).
 *
 * One pass over a private copy of the text (zeroed before it is freed: it
 * may hold a PrivateKey). Each line is cut at '#' and trimmed; it is either a
 * [Section] or "Key = Value", dispatched through the section's key table.
 * Checks that need a whole section (required keys, MTU against IPv6
 * addresses) run when the section ends, those across peers (AllowedIPs
 * routed twice) at the end of the file, so errors come out in file order as
 * far as possible.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>
#include <linux/magic.h>
#include <sodium.h>

#include "config.h"

/* Longest key or section name quoted back in a message: longer ones may be a
 * pasted key (a bare base64 key line parses as "KEY=" with an empty value). */
#define NAME_SHOWN_MAX 24
/* Values are quoted up to this many characters, then "...". */
#define VALUE_SHOWN_MAX 64
/* A key file holds 44 characters and a newline; anything past this is not one. */
#define KEY_FILE_MAX 256

enum section { SEC_NONE, SEC_INTERFACE, SEC_PEER };

struct parser {
	const char *name; /* the file, as messages name it */
	struct bt_config *cfg;
	struct config_error *err;
	int check_mode;	   /* an inline PrivateKey needs the file to be private */
	unsigned int mode; /* of the file, when check_mode */
	enum section sec;
	unsigned int sec_line;
	unsigned int seen[32]; /* line of each single-valued key of the current section */
	unsigned int iface_line;
	size_t peers_cap;
	int nallowed;	      /* AllowedIPs of all peers so far */
	char dns_search[256]; /* DNS entries that are not addresses: search domains */
	/* Peers by public key, so that a repeated key is found without
	 * comparing every pair (BT_MAX_PEERS peers): open addressing, peer
	 * index + 1 per slot (0 = free), keyset_cap a power of two. */
	int *keyset;
	size_t keyset_cap;
};

typedef int (*key_fn)(struct parser *p, unsigned int line, const char *field, char *val);

struct key_def {
	const char *name;
	key_fn fn;
	int repeatable;
};

/* ------------------------------------------------------------------ messages */

static void error_vset(struct config_error *err, const char *file, unsigned int line,
		       const char *field, const char *fmt, va_list ap)
{
	size_t sz = sizeof(err->msg), n;
	int r;

	if (line)
		r = snprintf(err->msg, sz, "bpftun: %s:%u: ", file, line);
	else
		r = snprintf(err->msg, sz, "bpftun: %s: ", file);
	n = r < 0 ? 0 : (size_t)r < sz ? (size_t)r : sz - 1;
	if (field) {
		r = snprintf(err->msg + n, sz - n, "%s: ", field);
		n += r < 0 ? 0 : (size_t)r < sz - n ? (size_t)r : sz - n - 1;
	}
	vsnprintf(err->msg + n, sz - n, fmt, ap);
}

void config_error_set(struct config_error *err, const char *file, unsigned int line,
		      const char *field, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	error_vset(err, file, line, field, fmt, ap);
	va_end(ap);
}

__attribute__((format(printf, 4, 5))) static int fail(struct parser *p, unsigned int line,
						      const char *field, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	error_vset(p->err, p->name, line, field, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static int fail_nomem(struct parser *p, unsigned int line)
{
	config_error_set(p->err, p->name, line, NULL, "out of memory");
	return -ENOMEM;
}

/* A value as it may be quoted: printable ASCII, at most VALUE_SHOWN_MAX chars. */
static const char *shown(char *buf, size_t n, const char *s)
{
	size_t i;

	for (i = 0; s[i] && i < n - 4 && i < VALUE_SHOWN_MAX; i++)
		buf[i] = s[i] >= 0x20 && s[i] < 0x7f ? s[i] : '?';
	if (s[i]) {
		memcpy(buf + i, "...", 3);
		i += 3;
	}
	buf[i] = 0;
	return buf;
}

/* A key or section name, or NULL if it must not be quoted (see NAME_SHOWN_MAX). */
static const char *name_shown(const char *s)
{
	size_t i;

	for (i = 0; s[i]; i++) {
		char c = s[i];

		if (i >= NAME_SHOWN_MAX ||
		    !((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '-' || c == '.' || c == ' '))
			return NULL;
	}
	return s;
}

static void key_list(char *buf, size_t n, const struct key_def *defs, size_t ndefs)
{
	size_t off = 0;

	buf[0] = 0;
	for (size_t i = 0; i < ndefs && off < n; i++) {
		int r = snprintf(buf + off, n - off, "%s%s", i ? ", " : "", defs[i].name);

		if (r < 0)
			break;
		off += (size_t)r;
	}
}

/* ------------------------------------------------------------------- lexing */

static int is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

static char *trim(char *s)
{
	char *e;

	while (is_space(*s))
		s++;
	e = s + strlen(s);
	while (e > s && is_space(e[-1]))
		*--e = 0;
	return s;
}

/* Decimal digits only (no sign, space or base prefix). 0, -EINVAL if not a
 * number, -ERANGE if above max. */
static int parse_u32(const char *s, uint32_t max, uint32_t *out)
{
	uint64_t v = 0;

	if (!*s)
		return -EINVAL;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -EINVAL;
		v = v * 10 + (uint64_t)(*s - '0');
		if (v > max)
			v = (uint64_t)max + 1; /* saturate: keep scanning for non-digits */
	}
	if (v > max)
		return -ERANGE;
	*out = (uint32_t)v;
	return 0;
}

/* -------------------------------------------------------------------- keys */

int bt_key_from_base64(uint8_t key[BT_KEY_LEN], const char *b64)
{
	const char *end = NULL;
	size_t len = 0;

	if (strlen(b64) != BT_KEY_B64_LEN ||
	    sodium_base642bin(key, BT_KEY_LEN, b64, BT_KEY_B64_LEN, NULL, &len, &end,
			      sodium_base64_VARIANT_ORIGINAL) ||
	    len != BT_KEY_LEN || end != b64 + BT_KEY_B64_LEN) {
		sodium_memzero(key, BT_KEY_LEN);
		return -EINVAL;
	}
	return 0;
}

void bt_key_to_base64(char b64[BT_KEY_B64_LEN + 1], const uint8_t key[BT_KEY_LEN])
{
	sodium_bin2base64(b64, BT_KEY_B64_LEN + 1, key, BT_KEY_LEN, sodium_base64_VARIANT_ORIGINAL);
}

/* Decode val into key. The message never quotes val: it may be a private key.
 * path names the key file, NULL for a key written in the configuration. */
static int decode_key(struct parser *p, unsigned int line, const char *field, const char *path,
		      const char *val, uint8_t key[BT_KEY_LEN])
{
	size_t len = strlen(val);

	if (!bt_key_from_base64(key, val))
		return 0;
	if (len != BT_KEY_B64_LEN)
		return fail(p, line, field,
			    "%s%snot a key: %zu characters, a base64 key has 44 (32 bytes)",
			    path ? path : "", path ? ": " : "", len);
	return fail(p, line, field, "%s%snot a key: invalid base64 (as printed by bpftun %s)",
		    path ? path : "", path ? ": " : "",
		    strstr(field, "Preshared") ? "genpsk" : "genkey");
}

static const char *file_type(unsigned int mode)
{
	if (S_ISDIR(mode))
		return "a directory";
	if (S_ISCHR(mode))
		return "a character device";
	if (S_ISBLK(mode))
		return "a block device";
	if (S_ISFIFO(mode))
		return "a FIFO";
	if (S_ISSOCK(mode))
		return "a socket";
	return "not a regular file";
}

/* 0 if mode keeps a secret private: nobody but the owner reads or writes it. */
static int mode_error(struct parser *p, unsigned int line, const char *field, const char *path,
		      unsigned int mode)
{
	if (!(mode & (S_IRWXG | S_IRWXO) & ~(S_IXGRP | S_IXOTH)))
		return 0;
	return fail(p, line, field, "%s: mode %04o is %s by group or others; chmod 600 it", path,
		    mode & 07777, mode & (S_IRGRP | S_IROTH) ? "readable" : "writable");
}

/* Pseudo file systems: reading them has effects (/proc/kmsg consumes the log)
 * and none holds a key. Refused before the first read. */
static int pseudo_fs(int fd)
{
	struct statfs sfs;

	if (fstatfs(fd, &sfs))
		return 0;
	switch ((unsigned long)sfs.f_type) {
	case PROC_SUPER_MAGIC:
	case SYSFS_MAGIC:
	case DEBUGFS_MAGIC:
	case TRACEFS_MAGIC:
	case SECURITYFS_MAGIC:
	case CGROUP_SUPER_MAGIC:
	case CGROUP2_SUPER_MAGIC:
	case BPF_FS_MAGIC:
		return 1;
	}
	return 0;
}

static int read_key_file(struct parser *p, unsigned int line, const char *field, const char *path,
			 uint8_t key[BT_KEY_LEN])
{
	char buf[KEY_FILE_MAX];
	struct stat st, fst;
	size_t len = 0;
	int fd = -1, ret;
	char *k;

	/* stat first: open() on a device node can act (a watchdog arms). */
	if (stat(path, &st)) {
		ret = -errno;
		fail(p, line, field, "%s: %s", path, strerror(-ret));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		ret = fail(p, line, field, "%s: %s, not a regular file (mode %04o)", path,
			   file_type(st.st_mode), st.st_mode & 07777);
		goto out;
	}
	ret = mode_error(p, line, field, path, st.st_mode);
	if (ret)
		goto out;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		ret = -errno;
		fail(p, line, field, "%s: %s", path, strerror(-ret));
		goto out;
	}
	if (fstat(fd, &fst) || fst.st_dev != st.st_dev || fst.st_ino != st.st_ino ||
	    !S_ISREG(fst.st_mode)) {
		ret = fail(p, line, field, "%s: replaced while being opened", path);
		goto out;
	}
	if (pseudo_fs(fd)) {
		ret = fail(p, line, field, "%s: on a kernel pseudo file system, not a key file",
			   path);
		goto out;
	}
	ret = mode_error(p, line, field, path, fst.st_mode);
	if (ret)
		goto out;
	for (;;) {
		ssize_t n = read(fd, buf + len, sizeof(buf) - 1 - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ret = -errno;
			fail(p, line, field, "%s: %s", path, strerror(-ret));
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len == sizeof(buf) - 1) {
			ret = fail(p, line, field, "%s: too long to hold a key", path);
			goto out;
		}
	}
	buf[len] = 0;
	k = trim(buf);
	if (!*k) {
		ret = fail(p, line, field, "%s: empty; expected a base64 key", path);
		goto out;
	}
	ret = decode_key(p, line, field, path, k, key);
out:
	sodium_memzero(buf, sizeof(buf));
	if (fd >= 0)
		close(fd);
	return ret;
}

/* ------------------------------------------------------- addresses, ports */

/* "addr[/len]": family from the address; len defaults to the full length.
 * canonical clears the host bits (AllowedIPs, as wg does). */
static int parse_prefix(struct parser *p, unsigned int line, const char *field, char *s,
			int canonical, struct bt_prefix *out)
{
	char q[VALUE_SHOWN_MAX + 8];
	char *slash = strchr(s, '/'), *host = s;
	uint32_t max, len;
	int r;

	shown(q, sizeof(q), s);
	memset(out, 0, sizeof(*out));
	if (slash) {
		*slash = 0;
		host = trim(host);
	}
	if (strchr(host, ':')) {
		out->family = AF_INET6;
		max = 128;
	} else {
		out->family = AF_INET;
		max = 32;
	}
	if (inet_pton(out->family, host, out->addr) != 1)
		return fail(p, line, field, "'%s': not an IPv4 or IPv6 address", q);
	len = max;
	if (slash) {
		char *l = trim(slash + 1);

		if (!*l)
			return fail(p, line, field, "'%s': missing prefix length after '/'", q);
		r = parse_u32(l, max, &len);
		if (r == -EINVAL)
			return fail(p, line, field, "'%s': prefix length is not a number", q);
		if (r)
			return fail(p, line, field, "'%s': prefix length out of range (0-%u)", q,
				    max);
	}
	out->prefix = (uint8_t)len;
	out->line = line;
	if (canonical) {
		for (uint32_t i = 0; i < 16; i++) {
			uint32_t bit = i * 8;

			if (bit >= len)
				out->addr[i] = 0;
			else if (len - bit < 8)
				out->addr[i] &= (uint8_t)(0xff00 >> (len - bit));
		}
	}
	return 0;
}

static int is_hostname(const char *s)
{
	for (; *s; s++)
		if ((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z'))
			return 1;
	return 0;
}

/* A DNS name as getaddrinfo takes it: letters, digits, '-', '.', 1-253. */
static int valid_hostname(const char *s)
{
	size_t n = strlen(s);

	if (!n || n > 253 || !is_hostname(s) || s[0] == '-' || s[0] == '.')
		return 0;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '-' || *s == '.'))
			return 0;
	return 1;
}

/* "a.b.c.d:port", "[v6]:port", "name:port" or "[name]:port" (the name is
 * resolved later: bt_config_resolve). */
static int parse_endpoint(struct parser *p, unsigned int line, const char *field, char *val,
			  struct bt_peer *peer)
{
	char q[VALUE_SHOWN_MAX + 8];
	char *host, *port;
	uint32_t v = 0;
	int r;

	shown(q, sizeof(q), val);
	if (val[0] == '[') {
		char *close = strchr(val, ']');

		if (!close)
			return fail(p, line, field, "'%s': missing ']'; use [IPv6 address]:port",
				    q);
		*close = 0;
		host = val + 1;
		if (close[1] != ':')
			return fail(p, line, field, "'%s': expected ':port' after ']'", q);
		port = close + 2;
		peer->family = AF_INET6;
		if (inet_pton(AF_INET6, host, peer->endpoint) != 1) {
			if (strchr(host, '%'))
				return fail(p, line, field,
					    "'%s': scope IDs (%%dev) are not supported", q);
			if (strchr(host, ':'))
				return fail(p, line, field, "'%s': not an IPv6 address", q);
			if (valid_hostname(host)) {
				snprintf(peer->host, sizeof(peer->host), "%s", host);
				peer->family = 0;
			} else if (is_hostname(host)) {
				return fail(p, line, field, "'%s': not a valid host name", q);
			} else {
				return fail(p, line, field,
					    "'%s': not an IPv6 address inside [] (IPv4 goes "
					    "without brackets: a.b.c.d:port)",
					    q);
			}
		}
	} else {
		char *colon = strrchr(val, ':');

		if (!colon)
			return fail(p, line, field,
				    "'%s': missing port; use address:port or [IPv6 address]:port",
				    q);
		if (strchr(val, ':') != colon)
			return fail(p, line, field,
				    "'%s': an IPv6 endpoint needs brackets: [address]:port", q);
		*colon = 0;
		host = val;
		port = colon + 1;
		peer->family = AF_INET;
		if (inet_pton(AF_INET, host, peer->endpoint) != 1) {
			if (valid_hostname(host)) {
				snprintf(peer->host, sizeof(peer->host), "%s", host);
				peer->family = 0;
			} else if (is_hostname(host)) {
				return fail(p, line, field, "'%s': not a valid host name", q);
			} else {
				return fail(p, line, field, "'%s': not an IPv4 address", q);
			}
		}
	}
	if (!*port)
		return fail(p, line, field, "'%s': missing port after ':'", q);
	r = parse_u32(port, 65535, &v);
	if (r == -EINVAL)
		return fail(p, line, field, "'%s': port is not a number", q);
	if (r || !v)
		return fail(p, line, field, "'%s': port out of range (1-65535)", q);
	peer->port = (uint16_t)v;
	peer->have_endpoint = 1;
	return 0;
}

/* Call fn on each trimmed entry of a comma-separated list. An empty value is
 * an empty list (as wg allows "AllowedIPs ="); an empty entry is an error. */
static int for_each_entry(struct parser *p, unsigned int line, const char *field, char *val,
			  key_fn fn)
{
	if (!*val)
		return 0;
	for (;;) {
		char *comma = strchr(val, ',');
		char *entry;
		int r;

		if (comma)
			*comma = 0;
		entry = trim(val);
		if (!*entry)
			return fail(p, line, field, "empty entry in the list");
		r = fn(p, line, field, entry);
		if (r)
			return r;
		if (!comma)
			return 0;
		val = comma + 1;
	}
}

/* ------------------------------------------------------------ [Interface] */

enum {
	IK_PRIVATE_KEY,
	IK_PRIVATE_KEY_FILE,
	IK_LISTEN_PORT,
	IK_ADDRESS,
	IK_MTU,
	IK_CIPHER,
	IK_STEERING,
	IK_STEERING_CPUS,
	IK_PRIVATE_KEY_KEYRING,
	IK_FWMARK,
	IK_TABLE,
	IK_DNS,
	IK_PROTOCOL,
	IK_HOOK, /* PreUp, PostUp, PreDown, PostDown (repeatable) */
};

static int k_private_key(struct parser *p, unsigned int line, const char *field, char *val)
{
	int r;

	if (p->seen[IK_PRIVATE_KEY_FILE])
		return fail(p, line, field, "conflicts with PrivateKeyFile at line %u; use one",
			    p->seen[IK_PRIVATE_KEY_FILE]);
	if (p->seen[IK_PRIVATE_KEY_KEYRING])
		return fail(p, line, field, "conflicts with PrivateKeyKeyring at line %u; use one",
			    p->seen[IK_PRIVATE_KEY_KEYRING]);
	if (p->check_mode) {
		r = mode_error(p, line, field, p->name, p->mode);
		if (r)
			return r;
	}
	r = decode_key(p, line, field, NULL, val, p->cfg->private_key);
	if (r)
		return r;
	p->cfg->have_private_key = 1;
	return 0;
}

static int k_private_key_file(struct parser *p, unsigned int line, const char *field, char *val)
{
	char q[VALUE_SHOWN_MAX + 8];
	int r;

	if (p->seen[IK_PRIVATE_KEY])
		return fail(p, line, field, "conflicts with PrivateKey at line %u; use one",
			    p->seen[IK_PRIVATE_KEY]);
	if (p->seen[IK_PRIVATE_KEY_KEYRING])
		return fail(p, line, field, "conflicts with PrivateKeyKeyring at line %u; use one",
			    p->seen[IK_PRIVATE_KEY_KEYRING]);
	if (val[0] != '/')
		return fail(p, line, field, "'%s': use an absolute path", shown(q, sizeof(q), val));
	r = read_key_file(p, line, field, val, p->cfg->private_key);
	if (r)
		return r;
	p->cfg->have_private_key = 1;
	return 0;
}

/* Only the description is checked here; the key itself is looked up by
 * bt_config_keyring_load() at up's preflight and the key manager's start. */
static int k_private_key_keyring(struct parser *p, unsigned int line, const char *field, char *val)
{
	char q[VALUE_SHOWN_MAX + 8];
	const char *why;

	if (p->seen[IK_PRIVATE_KEY])
		return fail(p, line, field, "conflicts with PrivateKey at line %u; use one",
			    p->seen[IK_PRIVATE_KEY]);
	if (p->seen[IK_PRIVATE_KEY_FILE])
		return fail(p, line, field, "conflicts with PrivateKeyFile at line %u; use one",
			    p->seen[IK_PRIVATE_KEY_FILE]);
	if (bt_kr_parse(val, p->cfg->ifname, p->cfg->keyring_desc, &why))
		return fail(p, line, field, "'%s': %s (here user:bpftun:%s)",
			    shown(q, sizeof(q), val), why, p->cfg->ifname);
	p->cfg->keyring_line = line;
	return 0;
}

static int k_listen_port(struct parser *p, unsigned int line, const char *field, char *val)
{
	char q[VALUE_SHOWN_MAX + 8];
	uint32_t v = 0;
	int r = parse_u32(val, 65535, &v);

	shown(q, sizeof(q), val);
	if (r == -EINVAL)
		return fail(p, line, field, "'%s': not a number", q);
	if (r || !v)
		return fail(p, line, field, "'%s': out of range (1-65535)", q);
	p->cfg->listen_port = (uint16_t)v;
	return 0;
}

static int address_entry(struct parser *p, unsigned int line, const char *field, char *s)
{
	struct bt_config *cfg = p->cfg;
	struct bt_prefix a;
	char q[VALUE_SHOWN_MAX + 8];
	int r;

	shown(q, sizeof(q), s);
	r = parse_prefix(p, line, field, s, 0, &a);
	if (r)
		return r;
	for (int i = 0; i < cfg->naddrs; i++)
		if (cfg->addrs[i].family == a.family && !memcmp(cfg->addrs[i].addr, a.addr, 16))
			return fail(p, line, field, "'%s': address listed twice (line %u)", q,
				    cfg->addrs[i].line);
	if (cfg->naddrs == BT_MAX_ADDRS)
		return fail(p, line, field, "'%s': too many addresses (max %d)", q, BT_MAX_ADDRS);
	cfg->addrs[cfg->naddrs++] = a;
	return 0;
}

static int k_address(struct parser *p, unsigned int line, const char *field, char *val)
{
	return for_each_entry(p, line, field, val, address_entry);
}

static int k_mtu(struct parser *p, unsigned int line, const char *field, char *val)
{
	char q[VALUE_SHOWN_MAX + 8];
	uint32_t v = 0;
	int r = parse_u32(val, UINT32_MAX, &v);

	shown(q, sizeof(q), val);
	if (r)
		return fail(p, line, field, "'%s': not a number", q);
	if (v < BT_MTU_MIN_V4 || v > BT_MTU_MAX)
		return fail(p, line, field, "'%s': out of range (%d-%d)", q, BT_MTU_MIN_V4,
			    BT_MTU_MAX);
	p->cfg->mtu = v;
	return 0;
}

static const struct {
	const char *word, *algo;
} ciphers[] = {
    {"aes-fixed-time", "ecb(aes)"},
    {"aes-generic", "ecb(aes-generic)"},
};

static int k_cipher(struct parser *p, unsigned int line, const char *field, char *val)
{
	char q[VALUE_SHOWN_MAX + 8];

	for (size_t i = 0; i < sizeof(ciphers) / sizeof(ciphers[0]); i++) {
		if (strcasecmp(val, ciphers[i].word))
			continue;
		snprintf(p->cfg->cipher, sizeof(p->cfg->cipher), "%s", ciphers[i].word);
		snprintf(p->cfg->kernel_algo, sizeof(p->cfg->kernel_algo), "%s", ciphers[i].algo);
		return 0;
	}
	return fail(p, line, field,
		    "'%s': unknown cipher; valid: aes-fixed-time (constant time, the default), "
		    "aes-generic (table-based: faster, exposed to cache timing)",
		    shown(q, sizeof(q), val));
}

/* Protocol = bpftun | wireguard (docs/bpftun.conf.5). */
static int k_protocol(struct parser *p, unsigned int line, const char *field, char *val)
{
	char q[VALUE_SHOWN_MAX + 8];

	if (!strcasecmp(val, "bpftun") || !strcasecmp(val, "wireguard")) {
		p->cfg->protocol = strcasecmp(val, "bpftun") ? BT_PROTO_WIREGUARD : BT_PROTO_BPFTUN;
		return 0;
	}
	return fail(p, line, field,
		    "'%s': valid: wireguard (the default: WireGuard's handshake and "
		    "ChaCha20-Poly1305, talks to WireGuard peers), bpftun (AES-256 on the "
		    "kernel's bpf_crypto)",
		    shown(q, sizeof(q), val));
}

/* Steering = off | on: software RSS on the underlays (docs/bpftun.conf.5). */
static int k_steering(struct parser *p, unsigned int line, const char *field, char *val)
{
	char q[VALUE_SHOWN_MAX + 8];

	if (!strcasecmp(val, "off") || !strcasecmp(val, "on")) {
		p->cfg->steering = !strcasecmp(val, "on");
		return 0;
	}
	return fail(p, line, field, "'%s': valid: off (the default), on", shown(q, sizeof(q), val));
}

/* SteeringCPUs = 0-1,3: CPUs 0..BT_STEER_MAX_CPU-1, as a list of numbers and ranges. */
static int k_steering_cpus(struct parser *p, unsigned int line, const char *field, char *val)
{
	char q[VALUE_SHOWN_MAX + 8], *s = val;
	uint32_t mask = 0;

	shown(q, sizeof(q), val);
	for (;;) {
		char *end, *dash;
		uint32_t a, b;

		end = strchr(s, ',');
		if (end)
			*end = 0;
		s = trim(s);
		dash = strchr(s, '-');
		if (dash)
			*dash = 0;
		if (parse_u32(trim(s), UINT32_MAX, &a) ||
		    (dash ? parse_u32(trim(dash + 1), UINT32_MAX, &b) : (b = a, 0)))
			return fail(p, line, field, "'%s': not a CPU list (e.g. 0-1 or 0,2)", q);
		if (a > b || b >= BT_STEER_MAX_CPU)
			return fail(p, line, field, "'%s': CPUs are 0-%d, ranges low-high", q,
				    BT_STEER_MAX_CPU - 1);
		for (uint32_t c = a; c <= b; c++)
			mask |= 1U << c;
		if (!end)
			break;
		s = end + 1;
	}
	p->cfg->steer_cpus = mask;
	return 0;
}

/* FwMark = off | 0 | N (decimal or 0x hex, as wg): the mark of our own
 * outer packets and handshake socket. */
static int k_fwmark(struct parser *p, unsigned int line, const char *field, char *val)
{
	char q[VALUE_SHOWN_MAX + 8], *end;
	unsigned long long v;

	if (!strcasecmp(val, "off")) {
		p->cfg->fwmark = 0;
		return 0;
	}
	errno = 0;
	v = strtoull(val, &end, 0);
	if (!*val || *val == '-' || *val == '+' || *end || errno || v > UINT32_MAX)
		return fail(p, line, field, "'%s': valid: off, or a number 0-4294967295 (0x hex)",
			    shown(q, sizeof(q), val));
	p->cfg->fwmark = (uint32_t)v;
	return 0;
}

/* Table = auto | off | main | N (as wg-quick, numbers only besides main). */
static int k_table(struct parser *p, unsigned int line, const char *field, char *val)
{
	char q[VALUE_SHOWN_MAX + 8];
	uint32_t v = 0;

	if (!strcasecmp(val, "auto"))
		v = BT_TABLE_AUTO;
	else if (!strcasecmp(val, "off"))
		v = BT_TABLE_OFF;
	else if (!strcasecmp(val, "main"))
		v = 254; /* RT_TABLE_MAIN */
	else if (parse_u32(val, UINT32_MAX - 1, &v) || !v || v == 255 /* local */)
		return fail(p, line, field,
			    "'%s': valid: auto (the default), off, main, or a routing table "
			    "number 1-4294967294 other than 255 (local)",
			    shown(q, sizeof(q), val));
	p->cfg->table = v;
	return 0;
}

/* DNS = addresses and search domains (as wg-quick), for resolvconf(8). */
static int dns_entry(struct parser *p, unsigned int line, const char *field, char *s)
{
	struct bt_config *cfg = p->cfg;
	char q[VALUE_SHOWN_MAX + 8], buf[16], *d;
	size_t n;

	shown(q, sizeof(q), s);
	if (inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1) {
		d = cfg->dns;
		n = strlen(d);
		if (n + strlen(s) + 13 > sizeof(cfg->dns))
			return fail(p, line, field, "'%s': too many DNS servers", q);
		snprintf(d + n, sizeof(cfg->dns) - n, "nameserver %s\n", s);
	} else if (valid_hostname(s)) {
		d = p->dns_search;
		n = strlen(d);
		if (n + strlen(s) + 2 > sizeof(p->dns_search))
			return fail(p, line, field, "'%s': too many search domains", q);
		snprintf(d + n, sizeof(p->dns_search) - n, "%s%s", n ? " " : "", s);
	} else {
		return fail(p, line, field, "'%s': neither an IP address nor a search domain", q);
	}
	if (!cfg->dns_line)
		cfg->dns_line = line;
	return 0;
}

static int k_dns(struct parser *p, unsigned int line, const char *field, char *val)
{
	return for_each_entry(p, line, field, val, dns_entry);
}

/* wg-quick's hooks, run by `up`/`down` as root with /bin/sh -c: the file
 * must not be writable by anyone else. */
static const char *const hook_names[BT_HOOK_KINDS] = {"PreUp", "PostUp", "PreDown", "PostDown"};

static int k_hook(struct parser *p, unsigned int line, const char *field, char *val)
{
	struct bt_config *cfg = p->cfg;
	struct bt_hook *nh;
	int kind = 0;

	while (kind < BT_HOOK_KINDS - 1 && strcasecmp(field, hook_names[kind]))
		kind++;
	if (p->check_mode && (p->mode & (S_IWGRP | S_IWOTH)))
		return fail(p, line, hook_names[kind],
			    "the file is writable by group or others (mode %04o) and its hooks "
			    "run as root; chmod go-w it",
			    p->mode & 07777);
	if (!*val)
		return fail(p, line, hook_names[kind], "empty command");
	if (cfg->nhooks >= BT_MAX_HOOKS)
		return fail(p, line, hook_names[kind], "too many hooks (max %d)", BT_MAX_HOOKS);
	nh = realloc(cfg->hooks, (size_t)(cfg->nhooks + 1) * sizeof(*nh));
	if (!nh)
		return fail_nomem(p, line);
	cfg->hooks = nh;
	nh[cfg->nhooks].kind = kind;
	nh[cfg->nhooks].line = line;
	nh[cfg->nhooks].cmd = strdup(val);
	if (!nh[cfg->nhooks].cmd)
		return fail_nomem(p, line);
	cfg->nhooks++;
	return 0;
}

static const struct key_def iface_keys[] = {
    [IK_PRIVATE_KEY] = {"PrivateKey", k_private_key, 0},
    [IK_PRIVATE_KEY_FILE] = {"PrivateKeyFile", k_private_key_file, 0},
    [IK_LISTEN_PORT] = {"ListenPort", k_listen_port, 0},
    [IK_ADDRESS] = {"Address", k_address, 1},
    [IK_MTU] = {"MTU", k_mtu, 0},
    [IK_CIPHER] = {"Cipher", k_cipher, 0},
    [IK_STEERING] = {"Steering", k_steering, 0},
    [IK_STEERING_CPUS] = {"SteeringCPUs", k_steering_cpus, 0},
    [IK_PRIVATE_KEY_KEYRING] = {"PrivateKeyKeyring", k_private_key_keyring, 0},
    [IK_PROTOCOL] = {"Protocol", k_protocol, 0},
    [IK_FWMARK] = {"FwMark", k_fwmark, 0},
    [IK_TABLE] = {"Table", k_table, 0},
    [IK_DNS] = {"DNS", k_dns, 1},
    [IK_HOOK] = {"PreUp", k_hook, 1},
    [IK_HOOK + 1] = {"PostUp", k_hook, 1},
    [IK_HOOK + 2] = {"PreDown", k_hook, 1},
    [IK_HOOK + 3] = {"PostDown", k_hook, 1},
};
_Static_assert(sizeof(iface_keys) / sizeof(iface_keys[0]) <= 32, "parser.seen holds every key");

/* ------------------------------------------------------------------ [Peer] */

static struct bt_peer *cur_peer(struct parser *p)
{
	return &p->cfg->peers[p->cfg->npeers - 1];
}

static size_t key_hash(const uint8_t key[BT_KEY_LEN], size_t mask)
{
	uint64_t h = 0xcbf29ce484222325ULL; /* FNV-1a: keys are public */

	for (int i = 0; i < BT_KEY_LEN; i++)
		h = (h ^ key[i]) * 0x100000001b3ULL;
	return (size_t)(h ^ (h >> 29)) & mask;
}

/* Add peer `idx` to the key set, or return the index of the peer that
 * already has its key; -1 when added, -2 out of memory. */
static int keyset_add(struct parser *p, int idx)
{
	const uint8_t *key = p->cfg->peers[idx].public_key;

	if ((size_t)(p->cfg->npeers * 2) >= p->keyset_cap) {
		size_t cap = p->keyset_cap ? p->keyset_cap * 2 : 64;
		int *ns = calloc(cap, sizeof(*ns));

		if (!ns)
			return -2;
		for (size_t i = 0; i < p->keyset_cap; i++) {
			size_t j;

			if (!p->keyset[i])
				continue;
			j = key_hash(p->cfg->peers[p->keyset[i] - 1].public_key, cap - 1);
			while (ns[j])
				j = (j + 1) & (cap - 1);
			ns[j] = p->keyset[i];
		}
		free(p->keyset);
		p->keyset = ns;
		p->keyset_cap = cap;
	}
	for (size_t j = key_hash(key, p->keyset_cap - 1);; j = (j + 1) & (p->keyset_cap - 1)) {
		if (!p->keyset[j]) {
			p->keyset[j] = idx + 1;
			return -1;
		}
		if (!memcmp(p->cfg->peers[p->keyset[j] - 1].public_key, key, BT_KEY_LEN))
			return p->keyset[j] - 1;
	}
}

static int k_public_key(struct parser *p, unsigned int line, const char *field, char *val)
{
	struct bt_peer *peer = cur_peer(p);
	int r;

	r = decode_key(p, line, field, NULL, val, peer->public_key);
	if (r)
		return r;
	r = keyset_add(p, p->cfg->npeers - 1);
	if (r == -2)
		return fail_nomem(p, line);
	if (r >= 0)
		return fail(p, line, field, "same key as the peer at line %u",
			    p->cfg->peers[r].line);
	peer->key_line = line;
	return 0;
}

static int k_endpoint(struct parser *p, unsigned int line, const char *field, char *val)
{
	cur_peer(p)->endpoint_line = line;
	return parse_endpoint(p, line, field, val, cur_peer(p));
}

static int allowed_entry(struct parser *p, unsigned int line, const char *field, char *s)
{
	struct bt_peer *peer = cur_peer(p);
	char q[VALUE_SHOWN_MAX + 8];
	struct bt_prefix a;
	int r;

	shown(q, sizeof(q), s);
	r = parse_prefix(p, line, field, s, 1, &a);
	if (r)
		return r;
	if (peer->nallowed == BT_MAX_ALLOWED)
		return fail(p, line, field, "'%s': too many AllowedIPs for one peer (max %d)", q,
			    BT_MAX_ALLOWED);
	if (p->nallowed == BT_MAX_ALLOWED_TOTAL)
		return fail(p, line, field,
			    "'%s': too many AllowedIPs in all peers together (max %d, the "
			    "largest allowed_ips table of the datapath)",
			    q, BT_MAX_ALLOWED_TOTAL);
	peer->allowed[peer->nallowed++] = a;
	p->nallowed++;
	return 0;
}

static int k_allowed_ips(struct parser *p, unsigned int line, const char *field, char *val)
{
	return for_each_entry(p, line, field, val, allowed_entry);
}

static int k_keepalive(struct parser *p, unsigned int line, const char *field, char *val)
{
	char q[VALUE_SHOWN_MAX + 8];
	uint32_t v = 0;
	int r;

	if (!strcasecmp(val, "off")) {
		cur_peer(p)->keepalive = 0;
		return 0;
	}
	r = parse_u32(val, 65535, &v);
	shown(q, sizeof(q), val);
	if (r == -EINVAL)
		return fail(p, line, field, "'%s': not a number of seconds or 'off'", q);
	if (r)
		return fail(p, line, field, "'%s': out of range (0-65535 seconds, or off)", q);
	cur_peer(p)->keepalive = (uint16_t)v;
	return 0;
}

enum { PK_PRESHARED_KEY = 4, PK_PRESHARED_KEY_FILE = 5 }; /* peer_keys[] indices */

/* PresharedKey is a secret like PrivateKey: the file must be private, and
 * the value is never quoted. */
static int k_psk(struct parser *p, unsigned int line, const char *field, char *val)
{
	struct bt_peer *peer = cur_peer(p);
	int r;

	if (p->seen[PK_PRESHARED_KEY_FILE])
		return fail(p, line, field, "conflicts with PresharedKeyFile at line %u; use one",
			    p->seen[PK_PRESHARED_KEY_FILE]);
	if (p->check_mode) {
		r = mode_error(p, line, field, p->name, p->mode);
		if (r)
			return r;
	}
	r = decode_key(p, line, field, NULL, val, peer->psk);
	if (r)
		return r;
	peer->have_psk = 1;
	peer->psk_line = line;
	return 0;
}

static int k_psk_file(struct parser *p, unsigned int line, const char *field, char *val)
{
	struct bt_peer *peer = cur_peer(p);
	char q[VALUE_SHOWN_MAX + 8];
	int r;

	if (p->seen[PK_PRESHARED_KEY])
		return fail(p, line, field, "conflicts with PresharedKey at line %u; use one",
			    p->seen[PK_PRESHARED_KEY]);
	if (val[0] != '/')
		return fail(p, line, field, "'%s': use an absolute path", shown(q, sizeof(q), val));
	r = read_key_file(p, line, field, val, peer->psk);
	if (r)
		return r;
	peer->have_psk = 1;
	peer->psk_line = line;
	return 0;
}

static const struct key_def peer_keys[] = {
    {"PublicKey", k_public_key, 0},
    {"Endpoint", k_endpoint, 0},
    {"AllowedIPs", k_allowed_ips, 1},
    {"PersistentKeepalive", k_keepalive, 0},
    [PK_PRESHARED_KEY] = {"PresharedKey", k_psk, 0},
    [PK_PRESHARED_KEY_FILE] = {"PresharedKeyFile", k_psk_file, 0},
};

/* Keys of wg/wg-quick that bpftun does not implement: a clearer refusal. */
static const char *const wg_unsupported[] = {
    "SaveConfig",
};

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* ---------------------------------------------------------------- sections */

static int end_section(struct parser *p)
{
	struct bt_config *cfg = p->cfg;

	if (p->sec == SEC_INTERFACE) {
		if (!cfg->have_private_key && !cfg->keyring_line)
			return fail(p, p->sec_line, "PrivateKey",
				    "missing from [Interface]; set PrivateKey, PrivateKeyFile or "
				    "PrivateKeyKeyring");
		if (cfg->protocol == BT_PROTO_WIREGUARD && p->seen[IK_CIPHER] &&
		    p->seen[IK_PROTOCOL])
			return fail(p, p->seen[IK_CIPHER], "Cipher",
				    "chooses the AES driver of Protocol = bpftun; Protocol = "
				    "wireguard (line %u) is ChaCha20-Poly1305: remove Cipher",
				    p->seen[IK_PROTOCOL]);
		if (cfg->protocol == BT_PROTO_WIREGUARD && p->seen[IK_CIPHER])
			return fail(p, p->seen[IK_CIPHER], "Cipher",
				    "chooses the AES driver of Protocol = bpftun, and the default "
				    "protocol is wireguard (ChaCha20-Poly1305): add 'Protocol = "
				    "bpftun' to [Interface], or remove Cipher");
		if (cfg->protocol == BT_PROTO_WIREGUARD)
			snprintf(cfg->cipher, sizeof(cfg->cipher), "chacha20-poly1305");
		/* no ListenPort: `up` picks a free port (listen_port 0 here) */
		if (cfg->mtu && cfg->mtu < BT_MTU_MIN_V6) {
			for (int i = 0; i < cfg->naddrs; i++)
				if (cfg->addrs[i].family == AF_INET6)
					return fail(p, p->seen[IK_MTU], "MTU",
						    "'%u': below %d, the minimum for IPv6 (the "
						    "Address at line %u is IPv6)",
						    cfg->mtu, BT_MTU_MIN_V6, cfg->addrs[i].line);
		}
		if (p->dns_search[0]) { /* room: both buffers are bounded above */
			size_t n = strlen(cfg->dns);

			if (n + strlen(p->dns_search) + 9 > sizeof(cfg->dns))
				return fail(p, cfg->dns_line, "DNS", "too many entries");
			snprintf(cfg->dns + n, sizeof(cfg->dns) - n, "search %s\n", p->dns_search);
		}
	} else if (p->sec == SEC_PEER) {
		if (!cur_peer(p)->key_line)
			return fail(p, p->sec_line, "PublicKey", "missing from [Peer]");
	}
	return 0;
}

static int begin_section(struct parser *p, unsigned int line, char *s)
{
	struct bt_config *cfg = p->cfg;
	size_t len = strlen(s);
	char field[NAME_SHOWN_MAX + 3];
	const char *name;
	int r;

	if (len < 2 || s[len - 1] != ']')
		return fail(p, line, NULL,
			    "malformed section header; expected [Interface] or [Peer]");
	s[len - 1] = 0;
	name = trim(s + 1);
	r = end_section(p);
	if (r)
		return r;
	memset(p->seen, 0, sizeof(p->seen));
	p->sec_line = line;
	if (!strcasecmp(name, "Interface")) {
		if (p->iface_line)
			return fail(p, line, "[Interface]", "duplicate section (first at line %u)",
				    p->iface_line);
		p->iface_line = line;
		p->sec = SEC_INTERFACE;
		return 0;
	}
	if (!strcasecmp(name, "Peer")) {
		if (cfg->npeers == BT_MAX_PEERS)
			return fail(p, line, "[Peer]", "too many peers (max %d)", BT_MAX_PEERS);
		if ((size_t)cfg->npeers == p->peers_cap) {
			size_t cap = p->peers_cap ? p->peers_cap * 2 : 4;
			struct bt_peer *np;

			if (cap > BT_MAX_PEERS)
				cap = BT_MAX_PEERS;
			/* not realloc: the old block may hold PresharedKeys */
			np = malloc(cap * sizeof(*np));
			if (!np)
				return fail_nomem(p, line);
			if (cfg->peers) {
				memcpy(np, cfg->peers, (size_t)cfg->npeers * sizeof(*np));
				sodium_memzero(cfg->peers, p->peers_cap * sizeof(*np));
				free(cfg->peers);
			}
			cfg->peers = np;
			p->peers_cap = cap;
		}
		memset(&cfg->peers[cfg->npeers], 0, sizeof(cfg->peers[0]));
		cfg->peers[cfg->npeers++].line = line;
		p->sec = SEC_PEER;
		return 0;
	}
	p->sec = SEC_NONE;
	if (name_shown(name)) {
		snprintf(field, sizeof(field), "[%s]", name);
		return fail(p, line, field, "unknown section; valid sections: [Interface], [Peer]");
	}
	return fail(p, line, NULL, "unknown section; valid sections: [Interface], [Peer]");
}

static const char *sec_name(enum section s)
{
	return s == SEC_INTERFACE ? "[Interface]" : "[Peer]";
}

static int key_value(struct parser *p, unsigned int line, char *key, char *val)
{
	const struct key_def *defs = p->sec == SEC_INTERFACE ? iface_keys : peer_keys;
	size_t ndefs = p->sec == SEC_INTERFACE ? ARRAY_SIZE(iface_keys) : ARRAY_SIZE(peer_keys);
	const struct key_def *other = p->sec == SEC_INTERFACE ? peer_keys : iface_keys;
	size_t nother = p->sec == SEC_INTERFACE ? ARRAY_SIZE(peer_keys) : ARRAY_SIZE(iface_keys);
	const char *shown_key = name_shown(key);
	char valid[256];
	int r;

	if (p->sec == SEC_NONE) {
		if (shown_key)
			return fail(p, line, shown_key,
				    "outside any section; the file starts with [Interface]");
		return fail(p, line, NULL,
			    "key outside any section; the file starts with [Interface]");
	}
	for (size_t i = 0; i < ndefs; i++) {
		if (strcasecmp(key, defs[i].name))
			continue;
		if (!defs[i].repeatable && p->seen[i])
			return fail(p, line, defs[i].name, "duplicate key (first at line %u)",
				    p->seen[i]);
		r = defs[i].fn(p, line, defs[i].name, val);
		if (r)
			return r;
		if (!defs[i].repeatable)
			p->seen[i] = line;
		return 0;
	}
	key_list(valid, sizeof(valid), defs, ndefs);
	for (size_t i = 0; i < nother; i++)
		if (!strcasecmp(key, other[i].name))
			return fail(p, line, other[i].name, "belongs in %s, not in %s",
				    sec_name(p->sec == SEC_INTERFACE ? SEC_PEER : SEC_INTERFACE),
				    sec_name(p->sec));
	for (size_t i = 0; i < ARRAY_SIZE(wg_unsupported); i++)
		if (!strcasecmp(key, wg_unsupported[i]))
			return fail(p, line, wg_unsupported[i],
				    "a WireGuard key that bpftun does not support; valid keys in "
				    "%s: %s",
				    sec_name(p->sec), valid);
	if (shown_key)
		return fail(p, line, shown_key, "unknown key in %s; valid keys: %s",
			    sec_name(p->sec), valid);
	return fail(p, line, NULL, "unknown key (%zu characters, not shown) in %s; valid keys: %s",
		    strlen(key), sec_name(p->sec), valid);
}

static int parse_line(struct parser *p, unsigned int line, char *s)
{
	char *hash = strchr(s, '#'), *eq, *key;

	if (hash)
		*hash = 0;
	s = trim(s);
	if (!*s)
		return 0;
	if (*s == '[')
		return begin_section(p, line, s);
	eq = strchr(s, '=');
	if (!eq)
		return fail(p, line, NULL, "expected 'Key = Value' or a [Section] header");
	*eq = 0;
	key = trim(s);
	if (!*key)
		return fail(p, line, NULL, "missing key before '='");
	return key_value(p, line, key, trim(eq + 1));
}

/* ------------------------------------------------------- across the file */

struct routed {
	const struct bt_prefix *pfx;
	int peer;
};

static int routed_cmp(const void *a, const void *b)
{
	const struct bt_prefix *x = ((const struct routed *)a)->pfx;
	const struct bt_prefix *y = ((const struct routed *)b)->pfx;
	int r;

	if (x->family != y->family)
		return x->family < y->family ? -1 : 1;
	if (x->prefix != y->prefix)
		return x->prefix < y->prefix ? -1 : 1;
	r = memcmp(x->addr, y->addr, 16);
	if (r)
		return r;
	return x->line < y->line ? -1 : x->line > y->line;
}

/* The same prefix twice, in one peer or two: the route would be ambiguous.
 * Sorted, so 256 peers x 64 prefixes stay cheap; the first repeat in file
 * order is reported. */
static int check_routes(struct parser *p)
{
	struct bt_config *cfg = p->cfg;
	struct routed *all, *dup = NULL, *orig = NULL;
	size_t n = 0, first = 0;
	int r = 0;

	for (int i = 0; i < cfg->npeers; i++)
		n += (size_t)cfg->peers[i].nallowed;
	if (!n)
		return 0;
	all = malloc(n * sizeof(*all));
	if (!all)
		return fail_nomem(p, 0);
	n = 0;
	for (int i = 0; i < cfg->npeers; i++)
		for (int j = 0; j < cfg->peers[i].nallowed; j++)
			all[n++] = (struct routed){&cfg->peers[i].allowed[j], i};
	qsort(all, n, sizeof(*all), routed_cmp);
	for (size_t i = 1; i < n; i++) {
		const struct bt_prefix *a = all[first].pfx, *b = all[i].pfx;

		if (a->family != b->family || a->prefix != b->prefix ||
		    memcmp(a->addr, b->addr, 16)) {
			first = i;
			continue;
		}
		if (!dup || b->line < dup->pfx->line) {
			dup = &all[i];
			orig = &all[first];
		}
	}
	if (dup) {
		char addr[INET6_ADDRSTRLEN];

		inet_ntop(dup->pfx->family, dup->pfx->addr, addr, sizeof(addr));
		if (dup->peer == orig->peer)
			r = fail(p, dup->pfx->line, "AllowedIPs",
				 "'%s/%u': listed twice for this peer (line %u)", addr,
				 dup->pfx->prefix, orig->pfx->line);
		else
			r = fail(p, dup->pfx->line, "AllowedIPs",
				 "'%s/%u': already routed to the peer at line %u (AllowedIPs at "
				 "line %u)",
				 addr, dup->pfx->prefix, cfg->peers[orig->peer].line,
				 orig->pfx->line);
	}
	free(all);
	return r;
}

static int parse_text(struct parser *p, char *text, size_t len)
{
	char *s = text, *end = text + len;
	unsigned int line = 0;
	int r;

	while (s < end) {
		char *nl = memchr(s, '\n', (size_t)(end - s));
		char *e = nl ? nl : end;

		line++;
		if (memchr(s, 0, (size_t)(e - s)))
			return fail(p, line, NULL, "NUL byte; the file is not text");
		*e = 0;
		r = parse_line(p, line, s);
		if (r)
			return r;
		s = e + 1;
	}
	r = end_section(p);
	if (r)
		return r;
	if (!p->iface_line)
		return fail(p, 1, "[Interface]", "missing section");
	if (!p->cfg->npeers)
		return fail(p, p->iface_line, "[Peer]",
			    "none; at least one [Peer] section is required");
	return check_routes(p);
}

/* ----------------------------------------------------------------- entries */

/* wg-quick: the interface is the file name less ".conf", a valid Linux name. */
static int ifname_from(const char *path, char ifname[BT_IFNAME_LEN], struct config_error *err)
{
	const char *base = strrchr(path, '/');
	char stem[VALUE_SHOWN_MAX + 1], q[VALUE_SHOWN_MAX + 8];
	size_t len;
	int ok;

	base = base ? base + 1 : path;
	len = strlen(base);
	if (len < 5 || strcmp(base + len - 5, ".conf")) {
		config_error_set(err, path, 0, NULL,
				 "the file name must be IFNAME.conf (IFNAME: the interface)");
		return -EINVAL;
	}
	len -= 5;
	ok = len > 0 && len < BT_IFNAME_LEN && strncmp(base, ".", len) && strncmp(base, "..", len);
	for (size_t i = 0; ok && i < len; i++) {
		char c = base[i];

		ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		     c == '_' || c == '=' || c == '+' || c == '.' || c == '-';
	}
	if (!ok) {
		snprintf(stem, sizeof(stem), "%.*s",
			 (int)(len < VALUE_SHOWN_MAX ? len : VALUE_SHOWN_MAX), base);
		config_error_set(err, path, 0, NULL,
				 "interface name '%s' from the file name is not valid: 1-15 "
				 "characters of a-z A-Z 0-9 _ = + . -",
				 shown(q, sizeof(q), stem));
		return -EINVAL;
	}
	memcpy(ifname, base, len);
	ifname[len] = 0;
	return 0;
}

static int parse_common(const char *name, const char *buf, size_t len, struct bt_config *cfg,
			struct config_error *err, int check_mode, unsigned int mode)
{
	struct parser p = {
	    .name = name, .cfg = cfg, .err = err, .check_mode = check_mode, .mode = mode};
	char *text;
	int r;

	memset(cfg, 0, sizeof(*cfg));
	err->msg[0] = 0;
	r = ifname_from(name, cfg->ifname, err);
	if (r)
		goto out;
	if (len > BT_CONFIG_MAX_SIZE) {
		config_error_set(err, name, 0, NULL, "larger than %d bytes", BT_CONFIG_MAX_SIZE);
		r = -EINVAL;
		goto out;
	}
	/* the default suite is WireGuard's (docs/crypto.md: why); the AES
	 * suite's default driver stays ready for Protocol = bpftun */
	cfg->protocol = BT_PROTO_WIREGUARD;
	snprintf(cfg->cipher, sizeof(cfg->cipher), "%s", ciphers[0].word);
	snprintf(cfg->kernel_algo, sizeof(cfg->kernel_algo), "%s", ciphers[0].algo);
	text = malloc(len + 1);
	if (!text) {
		r = fail_nomem(&p, 0);
		goto out;
	}
	if (len)
		memcpy(text, buf, len);
	text[len] = 0;
	r = parse_text(&p, text, len);
	sodium_memzero(text, len + 1);
	free(text);
	free(p.keyset);
out:
	if (r)
		bt_config_free(cfg);
	else
		err->msg[0] = 0;
	return r;
}

int bt_config_parse_buffer(const char *name, const char *buf, size_t len, struct bt_config *cfg,
			   struct config_error *err)
{
	return parse_common(name, buf, len, cfg, err, 0, 0);
}

int bt_config_keyring_load(struct bt_config *cfg, const char *path, struct config_error *err)
{
	int32_t serial;
	int r;

	if (!cfg->keyring_line)
		return 0;
	serial = bt_kr_find(cfg->keyring_desc);
	if (serial == -EKEYREVOKED || serial == -EKEYEXPIRED) { /* the search says so */
		config_error_set(err, path, cfg->keyring_line, "PrivateKeyKeyring",
				 "the key '%s' is %s", cfg->keyring_desc, bt_kr_state_name(serial));
		return serial;
	}
	if (serial < 0) {
		config_error_set(err, path, cfg->keyring_line, "PrivateKeyKeyring",
				 "no user key '%s' in the user keyring (%s); add one with "
				 "bpftun genkey --keyring user:%s",
				 cfg->keyring_desc, strerror(-serial), cfg->keyring_desc);
		return serial;
	}
	r = bt_kr_state(serial);
	if (r) {
		config_error_set(err, path, cfg->keyring_line, "PrivateKeyKeyring",
				 "the key '%s' (serial %d) is %s", cfg->keyring_desc, serial,
				 bt_kr_state_name(r));
		return r;
	}
	r = bt_kr_read(serial, cfg->private_key);
	if (r) {
		config_error_set(err, path, cfg->keyring_line, "PrivateKeyKeyring",
				 "the key '%s' (serial %d) cannot be read: %s", cfg->keyring_desc,
				 serial, r == -EINVAL ? "not a base64 X25519 key" : strerror(-r));
		return r;
	}
	cfg->keyring_serial = serial;
	cfg->have_private_key = 1;
	return 0;
}

int bt_config_parse_file(const char *path, struct bt_config *cfg, struct config_error *err)
{
	struct stat st, fst;
	char *buf = NULL;
	size_t cap = 0, len = 0;
	int fd = -1, r;

	memset(cfg, 0, sizeof(*cfg));
	err->msg[0] = 0;
	r = ifname_from(path, cfg->ifname, err);
	if (r)
		return r;
	if (stat(path, &st)) {
		r = -errno;
		config_error_set(err, path, 0, NULL, "%s", strerror(-r));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		config_error_set(err, path, 0, NULL, "%s, not a regular file",
				 file_type(st.st_mode));
		r = -EINVAL;
		goto out;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		r = -errno;
		config_error_set(err, path, 0, NULL, "%s", strerror(-r));
		goto out;
	}
	if (fstat(fd, &fst) || !S_ISREG(fst.st_mode) || fst.st_ino != st.st_ino ||
	    fst.st_dev != st.st_dev) {
		config_error_set(err, path, 0, NULL, "replaced while being opened");
		r = -EINVAL;
		goto out;
	}
	if (fst.st_size > BT_CONFIG_MAX_SIZE) {
		config_error_set(err, path, 0, NULL, "larger than %d bytes", BT_CONFIG_MAX_SIZE);
		r = -EINVAL;
		goto out;
	}
	/* One byte past the size seen, to notice a file growing under us. */
	cap = (size_t)fst.st_size + 1;
	buf = malloc(cap);
	if (!buf) {
		config_error_set(err, path, 0, NULL, "out of memory");
		r = -ENOMEM;
		goto out;
	}
	for (;;) {
		ssize_t n = read(fd, buf + len, cap - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = -errno;
			config_error_set(err, path, 0, NULL, "%s", strerror(-r));
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len == cap) {
			config_error_set(err, path, 0, NULL, "changed while being read");
			r = -EINVAL;
			goto out;
		}
	}
	r = parse_common(path, buf, len, cfg, err, 1, fst.st_mode);
out:
	if (buf) {
		sodium_memzero(buf, cap);
		free(buf);
	}
	if (fd >= 0)
		close(fd);
	if (r)
		bt_config_free(cfg);
	return r;
}

int bt_resolve_host(const char *host, int *family, uint8_t addr[16])
{
	struct addrinfo hints = {
	    .ai_family = AF_UNSPEC, .ai_socktype = SOCK_DGRAM, .ai_protocol = IPPROTO_UDP};
	struct addrinfo *res = NULL, *ai;
	int r = getaddrinfo(host, NULL, &hints, &res);

	if (r)
		return r;
	r = EAI_NONAME;
	for (ai = res; ai && r; ai = ai->ai_next) { /* the first usable answer, as wg */
		memset(addr, 0, 16);
		if (ai->ai_family == AF_INET) {
			memcpy(addr, &((struct sockaddr_in *)ai->ai_addr)->sin_addr, 4);
			*family = AF_INET;
			r = 0;
		} else if (ai->ai_family == AF_INET6) {
			memcpy(addr, &((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr, 16);
			*family = AF_INET6;
			r = 0;
		}
	}
	freeaddrinfo(res);
	return r;
}

int bt_config_resolve(struct bt_config *cfg, const char *path, struct config_error *err)
{
	for (int i = 0; i < cfg->npeers; i++) {
		struct bt_peer *p = &cfg->peers[i];
		int r;

		if (!p->host[0])
			continue;
		r = bt_resolve_host(p->host, &p->family, p->endpoint);
		if (r) {
			config_error_set(err, path, p->endpoint_line, "Endpoint",
					 "'%s:%u': cannot resolve '%s': %s", p->host, p->port,
					 p->host,
					 r == EAI_SYSTEM ? strerror(errno) : gai_strerror(r));
			return r == EAI_MEMORY ? -ENOMEM : -EHOSTUNREACH;
		}
	}
	return 0;
}

int bt_config_peer_value(const char *name, struct bt_peer *peer, const char *key, char *val,
			 struct config_error *err)
{
	struct bt_config cfg = {.peers = peer, .npeers = 1};
	struct parser p = {.name = name, .cfg = &cfg, .err = err, .sec = SEC_PEER};

	for (size_t i = 0; i < ARRAY_SIZE(peer_keys); i++)
		if (!strcasecmp(key, peer_keys[i].name))
			return peer_keys[i].fn(&p, 0, peer_keys[i].name, val);
	return fail(&p, 0, key, "not a [Peer] key");
}

int bt_key_file_read(const char *name, const char *field, const char *path, uint8_t key[BT_KEY_LEN],
		     struct config_error *err)
{
	struct parser p = {.name = name, .err = err};

	return read_key_file(&p, 0, field, path, key);
}

void bt_config_free(struct bt_config *cfg)
{
	if (!cfg)
		return;
	if (cfg->peers) /* PresharedKeys */
		sodium_memzero(cfg->peers, (size_t)cfg->npeers * sizeof(*cfg->peers));
	free(cfg->peers);
	for (int i = 0; i < cfg->nhooks; i++)
		free(cfg->hooks[i].cmd);
	free(cfg->hooks);
	sodium_memzero(cfg, sizeof(*cfg));
}
