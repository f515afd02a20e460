/* SPDX-License-Identifier: GPL-2.0 */
/*
 * config.h - the bpftun configuration file: WireGuard's INI format as
 * `bpftun up /etc/bpftun/bt0.conf` reads it, parsed into struct bt_config,
 * and the wg-style base64 key helpers used by genkey/pubkey.
 *
 * The parser validates everything it can see in the file (syntax, ranges,
 * duplicates, file modes of anything holding a private key). What needs the
 * system is left to the caller: the default MTU (mtu == 0), and checking that
 * no peer's PublicKey is our own public key (each bt_peer carries key_line
 * for that message, config_error_set() formats it like the parser's own).
 *
 * Errors are never printed: they are written to a struct config_error as one
 * line, "bpftun: FILE:LINE: FIELD: what is wrong", and never quote key
 * material (a PrivateKey pasted into the wrong field stays unprinted).
 */
#ifndef BPFTUN_CONFIG_H
#define BPFTUN_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include "bpftun_shared.h"
#include "keyring.h"

#define BT_KEY_LEN     32
#define BT_KEY_B64_LEN 44 /* base64 of 32 bytes, with its one '=' */

#define BT_IFNAME_LEN	     16 /* IFNAMSIZ: 15 characters and the NUL */
#define BT_MAX_ADDRS	     16 /* Address entries in [Interface] */
#define BT_MAX_ALLOWED	     64 /* AllowedIPs entries per [Peer] */
#define BT_MAX_PEERS	     BPFTUN_MAX_PEERS
#define BT_MAX_ALLOWED_TOTAL BPFTUN_MAX_ALLOWED_IPS /* AllowedIPs of all peers together */
#define BT_MAX_UNDERLAYS     BPFTUN_MAX_UNDERLAYS   /* devices the endpoints are reached over */
#define BT_MTU_MIN_V4	     576		    /* RFC 791 */
#define BT_MTU_MIN_V6	     1280		    /* RFC 8200, needed once any Address is IPv6 */
#define BT_MTU_MAX	     BPFTUN_MAX_INNER
#define BT_STEER_MAX_CPU     32 /* SteeringCPUs: CPUs 0..31 (bpftun_iface.steer_cpus) */
#define BT_CONFIG_MAX_SIZE                                                                         \
	(16 << 20) /* bytes of configuration file: room for                                        \
		    * BT_MAX_PEERS peers with their AllowedIPs */

/* An address with its prefix length. Address keeps host bits (10.9.0.1/24,
 * as wg-quick); AllowedIPs are canonical (host bits cleared, as wg). */
struct bt_prefix {
	int family;	   /* AF_INET or AF_INET6 */
	uint8_t addr[16];  /* network order; IPv4 in the first 4 bytes, rest 0 */
	uint8_t prefix;	   /* 0..32 or 0..128; absent in the file = 32 or 128 */
	unsigned int line; /* where it was written, for the caller's messages */
};

struct bt_peer {
	uint8_t public_key[BT_KEY_LEN];
	int family;	      /* of the endpoint: AF_INET, AF_INET6, 0 if none */
	uint8_t endpoint[16]; /* network order; IPv4 in the first 4 bytes */
	uint16_t port;	      /* host order */
	int have_endpoint;
	struct bt_prefix allowed[BT_MAX_ALLOWED];
	int nallowed;
	uint16_t keepalive;	 /* seconds; 0 = off */
	uint8_t psk[BT_KEY_LEN]; /* PresharedKey; all zero when none (as wg) */
	int have_psk;
	unsigned int psk_line;	    /* the PresharedKey line, 0 if none */
	unsigned int line;	    /* the [Peer] line */
	unsigned int key_line;	    /* the PublicKey line */
	unsigned int endpoint_line; /* the Endpoint line, 0 if none */
	char host[256]; /* Endpoint = name:port: the name (resolved by bt_config_resolve) */
};

/* wg-quick's PreUp/PostUp/PreDown/PostDown, in file order. */
enum { BT_PRE_UP, BT_POST_UP, BT_PRE_DOWN, BT_POST_DOWN, BT_HOOK_KINDS };
#define BT_MAX_HOOKS 64
struct bt_hook {
	int kind; /* BT_PRE_UP ... */
	unsigned int line;
	char *cmd; /* malloc'd; %i is replaced by the interface name when run */
};

/* Protocol = bpftun | wireguard: the suite of the handshake and the data
 * messages (docs/crypto.md). */
enum bt_protocol {
	BT_PROTO_BPFTUN = 0,	/* Noise IKpsk2/BLAKE2b, AES-256 on bpf_crypto */
	BT_PROTO_WIREGUARD = 1, /* WireGuard's: Noise IKpsk2/BLAKE2s, ChaCha20-Poly1305 in
				 * BPF (the default) */
};

struct bt_config {
	char ifname[BT_IFNAME_LEN]; /* from the file name: bt0.conf -> "bt0" */
	uint8_t private_key[BT_KEY_LEN];
	int have_private_key;		   /* 1 after a successful parse, unless PrivateKeyKeyring:
					    * then after bt_config_keyring_load() */
	char keyring_desc[BT_KR_DESC_LEN]; /* PrivateKeyKeyring's "bpftun:<ifname>" */
	unsigned int keyring_line;	   /* its line, 0 if none */
	int32_t keyring_serial;		   /* set by bt_config_keyring_load() */
	uint16_t listen_port;		   /* host order, 1..65535; 0 = absent: `up` picks one */
	struct bt_prefix addrs[BT_MAX_ADDRS];
	int naddrs;
	uint32_t mtu;			   /* 0 = default: the caller resolves it */
	int protocol;			   /* enum bt_protocol */
	char cipher[24];		   /* Protocol = wireguard (default): "chacha20-poly1305";
					    * bpftun: "aes-fixed-time" (default) or "aes-generic" */
	char kernel_algo[BPFTUN_ALGO_LEN]; /* "ecb(aes)" or "ecb(aes-generic)" */
	int steering;			   /* Steering = on: xdp_steer on the underlays */
	uint32_t steer_cpus;		   /* SteeringCPUs bit c = CPU c; 0 = every online CPU */
	uint32_t fwmark;		   /* FwMark: 0 = off */
	uint32_t table;			   /* Table: BT_TABLE_AUTO, BT_TABLE_OFF or a table id */
	char dns[512];			   /* DNS: resolvconf(8) input lines, "" if none */
	unsigned int dns_line;		   /* its (first) line, 0 if none */
	struct bt_hook *hooks;		   /* malloc'd, nhooks of them */
	int nhooks;
	struct bt_peer *peers; /* malloc'd, 1..BT_MAX_PEERS of them */
	int npeers;
};

#define BT_TABLE_AUTO 0		 /* Table = auto (the default): main, or a policy table for a /0 */
#define BT_TABLE_OFF  UINT32_MAX /* Table = off: no routes (so table 2^32-1 is refused) */

struct config_error {
	char msg[512];
};

/*
 * Parse the configuration file at path. The file must be a regular file;
 * if it holds a PrivateKey it must not be readable or writable by group or
 * others. PrivateKeyFile must be an absolute path to a regular file with
 * the same restriction. The interface name is the file name less ".conf".
 *
 * Returns 0, or -EINVAL for a refused configuration, -ENOMEM, or -errno of a
 * failed open/read; err->msg then says why. On failure cfg is left zeroed
 * and owns nothing; on success release it with bt_config_free().
 */
int bt_config_parse_file(const char *path, struct bt_config *cfg, struct config_error *err);

/*
 * The same from a buffer (need not be NUL-terminated): name stands for the
 * path, in messages and to derive the interface name ("bt0.conf"). No file
 * mode is checked for the buffer itself; PrivateKeyFile is read as above.
 * The caller owns buf and zeroes it if it held a key.
 */
int bt_config_parse_buffer(const char *name, const char *buf, size_t len, struct bt_config *cfg,
			   struct config_error *err);

/*
 * With PrivateKeyKeyring: look the key up in the user keyring and read it
 * into cfg->private_key (setting keyring_serial and have_private_key). A
 * missing, revoked, expired or unreadable key is refused with
 * "FILE:LINE: PrivateKeyKeyring: ..." in err. Without it: 0, nothing done.
 */
int bt_config_keyring_load(struct bt_config *cfg, const char *path, struct config_error *err);

/*
 * Resolve every Endpoint given as a host name (getaddrinfo, as wg): fills
 * family/endpoint. A name that does not resolve is refused with
 * "FILE:LINE: Endpoint: 'name:port': <the resolver's message>". 0 or -errno.
 */
int bt_config_resolve(struct bt_config *cfg, const char *path, struct config_error *err);
/* Resolve one peer's host name: 0 (family/addr set) or an EAI_* code. */
int bt_resolve_host(const char *host, int *family, uint8_t addr[16]);

/*
 * Live changes (`bpftun set`): one [Peer] key ("AllowedIPs", "Endpoint",
 * "PersistentKeepalive") parsed into peer as the file's parser does it (name
 * stands for the file in messages); AllowedIPs add to peer->allowed. And a key
 * file read with the checks of PrivateKeyFile (regular file, mode 0600 or
 * stricter, one base64 key). 0 or -errno with err->msg set.
 */
int bt_config_peer_value(const char *name, struct bt_peer *peer, const char *key, char *val,
			 struct config_error *err);
int bt_key_file_read(const char *name, const char *field, const char *path, uint8_t key[BT_KEY_LEN],
		     struct config_error *err);

/* Zero the private key (sodium_memzero) and the rest, free the peers. */
void bt_config_free(struct bt_config *cfg);

/*
 * Format "bpftun: FILE:LINE: FIELD: message" into err, as the parser does;
 * line 0 leaves out ":LINE", a NULL field leaves out "FIELD: ".
 */
__attribute__((format(printf, 5, 6))) void config_error_set(struct config_error *err,
							    const char *file, unsigned int line,
							    const char *field, const char *fmt,
							    ...);

/*
 * wg-style keys: exactly 44 characters of standard base64 (with padding, no
 * whitespace, canonical trailing bits) for exactly 32 bytes. Decoding
 * returns 0 or -EINVAL and leaves key zeroed on failure.
 */
int bt_key_from_base64(uint8_t key[BT_KEY_LEN], const char *b64);
void bt_key_to_base64(char b64[BT_KEY_B64_LEN + 1], const uint8_t key[BT_KEY_LEN]);

#endif /* BPFTUN_CONFIG_H */
