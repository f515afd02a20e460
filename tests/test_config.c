// SPDX-License-Identifier: GPL-2.0
/*
 * test_config.c - the configuration parser (tunnel/config.c): a config with
 * every field parses to the expected values; a table of bad configs, one
 * check each, must be refused with a message naming file, line and field;
 * file modes of configs and key files; limits; the base64 key helpers.
 *
 * Files go in a mkdtemp directory removed on every exit path (normal exit,
 * early failure, SIGINT/SIGTERM/SIGHUP).
 *
 * `test_config --write-seeds DIR [DICT]` writes the good config and the
 * table's configs as a fuzzing corpus (and a libFuzzer dictionary) instead.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <sodium.h>

#include "check.h"
#include "config.h"

/* Keys with bytes known independently of libsodium (python's base64). */
#define PRIV	  "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=" /* 00 01 .. 1f */
#define PRIV_HEAD "AAECAwQFBgcICQoLDA0O" /* must never appear in a message */
#define PUB1	  "ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8=" /* 20 21 .. 3f */
#define PUB2	  "//79/Pv6+fj39vX08/Lx8O/u7ezr6uno5+bl5OPi4eA=" /* ff fe .. e0 */
#define PUB3	  "QkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkI=" /* 42 x 32 */
/* PRIV with nonzero bits after the last byte: base64 that is not canonical. */
#define PRIV_NONCANON "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh9="

/* Lines 1-3 and then 4-6: most bad configs change one line of these. */
#define IFACE	    "[Interface]\nPrivateKey = " PRIV "\nListenPort = 51820\n"
#define IFACE_NOKEY "[Interface]\nListenPort = 51820\n"
#define A10	    "aaaaaaaaaa"
#define PEER1	    "[Peer]\nPublicKey = " PUB1 "\nAllowedIPs = 10.9.0.2/32\n"
#define PEER2	    "[Peer]\nPublicKey = " PUB2 "\nAllowedIPs = 10.9.0.3/32\n"

static const char good_conf[] = "# bt0: every field, wg-style spacing and case\n"  /*  1 */
				"[Interface]\n"					   /*  2 */
				"PrivateKey = " PRIV "   # inline key\n"	   /*  3 */
				"listenport=51820\n"				   /*  4 */
				"Address = 10.9.0.1/24, fd09::1/64\n"		   /*  5 */
				"\tAddress\t=\t10.9.1.1  \n"			   /*  6 */
				"MTU = 1420\n"					   /*  7 */
				"CIPHER = aes-generic\n"			   /*  8 */
				"protocol=BPFTUN\n"				   /*  9 */
				"[Peer]\n"					   /* 10 */
				"PublicKey = " PUB1 "\n"			   /* 11 */
				"Endpoint = 192.0.2.1:51820\n"			   /* 12 */
				"AllowedIPs = 10.9.0.2/32, fd09::2/128\n"	   /* 13 */
				"AllowedIPs = 10.77.0.55/16,2001:db8:ffff::1/33\n" /* 14 */
				"PersistentKeepalive = 25\n"			   /* 15 */
				"  # a comment line\n"				   /* 16 */
				"[ peer ]\n"					   /* 17 */
				"publickey = " PUB2 "\n"			   /* 18 */
				"endpoint = [2001:db8::1]:443\n"		   /* 19 */
				"AllowedIPs = 0.0.0.0/0, ::/0\n"		   /* 20 */
				"PersistentKeepalive = off\n";			   /* 21 */

struct bad_case {
	const char *desc;
	const char *name;  /* file name; NULL: bt0.conf */
	unsigned int mode; /* 0: parse from a buffer; else write DIR/name with this mode */
	const char *text;
	const char *expect; /* substring of the message; @DIR@ is the temp directory */
};

static const struct bad_case bad[] = {
    /* keys */
    {"PrivateKeyKeyring: not a user key", NULL, 0,
     "[Interface]\nPrivateKeyKeyring = logon:bpftun:bt0\nListenPort = 51820\n",
     "bt0.conf:2: PrivateKeyKeyring: 'logon:bpftun:bt0': must be user:bpftun:<interface>"},
    {"PrivateKeyKeyring: another interface's description", NULL, 0,
     "[Interface]\nPrivateKeyKeyring = user:bpftun:bt1\nListenPort = 51820\n",
     "bt0.conf:2: PrivateKeyKeyring: 'user:bpftun:bt1': the description must be "
     "bpftun:<interface>, this tunnel's name (here user:bpftun:bt0)"},
    {"PrivateKeyKeyring: no prefix", NULL, 0,
     "[Interface]\nPrivateKeyKeyring = bpftun:bt0\nListenPort = 51820\n",
     "bt0.conf:2: PrivateKeyKeyring: 'bpftun:bt0': must be user:bpftun"},
    {"PrivateKeyKeyring after PrivateKey", NULL, 0, IFACE "PrivateKeyKeyring = user:bpftun:bt0\n",
     "bt0.conf:4: PrivateKeyKeyring: conflicts with PrivateKey at line 2; use one"},
    {"PrivateKey after PrivateKeyKeyring", NULL, 0,
     "[Interface]\nPrivateKeyKeyring = user:bpftun:bt0\nPrivateKey = " PRIV "\n",
     "bt0.conf:3: PrivateKey: conflicts with PrivateKeyKeyring at line 2; use one"},
    {"PrivateKeyFile after PrivateKeyKeyring", NULL, 0,
     "[Interface]\nPrivateKeyKeyring = user:bpftun:bt0\nPrivateKeyFile = /nonexistent\n",
     "bt0.conf:3: PrivateKeyFile: conflicts with PrivateKeyKeyring at line 2; use one"},
    {"PrivateKey: bad base64 character", NULL, 0,
     "[Interface]\nPrivateKey = AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdH!8=\n",
     "bt0.conf:2: PrivateKey: not a key: invalid base64"},
    {"PrivateKey: short (43 chars)", NULL, 0,
     "[Interface]\nPrivateKey = AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8\n",
     "bt0.conf:2: PrivateKey: not a key: 43 characters"},
    {"PrivateKey: long (48 chars)", NULL, 0,
     "[Interface]\nPrivateKey = AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISI=\n",
     "bt0.conf:2: PrivateKey: not a key: 48 characters"},
    {"PrivateKey: non-canonical trailing bits", NULL, 0,
     "[Interface]\nPrivateKey = " PRIV_NONCANON "\n",
     "bt0.conf:2: PrivateKey: not a key: invalid base64"},
    {"PrivateKey: url-safe alphabet", NULL, 0,
     "[Interface]\nPrivateKey = __79_Pv6-fj39vX08_Lx8O_u7ezr6uno5-bl5OPi4eA=\n",
     "bt0.conf:2: PrivateKey: not a key: invalid base64"},
    {"PublicKey: short (40 chars)", NULL, 0,
     IFACE "[Peer]\nPublicKey = ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9\n",
     "bt0.conf:5: PublicKey: not a key: 40 characters"},
    {"PublicKey: 44 chars without padding", NULL, 0,
     IFACE "[Peer]\nPublicKey = ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8A\n",
     "bt0.conf:5: PublicKey: not a key: invalid base64"},
    {"PrivateKey missing", NULL, 0, IFACE_NOKEY PEER1,
     "bt0.conf:1: PrivateKey: missing from [Interface]"},
    {"PrivateKey and PrivateKeyFile", NULL, 0, IFACE "PrivateKeyFile = @DIR@/key600\n" PEER1,
     "bt0.conf:4: PrivateKeyFile: conflicts with PrivateKey at line 2"},
    {"PrivateKeyFile then PrivateKey", NULL, 0,
     "[Interface]\nPrivateKeyFile = @DIR@/key600\nPrivateKey = " PRIV "\n",
     "bt0.conf:3: PrivateKey: conflicts with PrivateKeyFile at line 2"},
    {"PrivateKey pasted alone on a line", NULL, 0, IFACE PRIV "\n" PEER1,
     "bt0.conf:4: unknown key (43 characters, not shown) in [Interface]"},
    {"PrivateKey pasted as PublicKey value, too short", NULL, 0,
     IFACE "[Peer]\nPublicKey = " PRIV "x\n", "bt0.conf:5: PublicKey: not a key: 45 characters"},
    /* ListenPort */
    {"ListenPort 0", NULL, 0, "[Interface]\nPrivateKey = " PRIV "\nListenPort = 0\n",
     "bt0.conf:3: ListenPort: '0': out of range (1-65535)"},
    {"ListenPort 65536", NULL, 0, "[Interface]\nListenPort = 65536\n",
     "bt0.conf:2: ListenPort: '65536': out of range (1-65535)"},
    {"ListenPort abc", NULL, 0, "[Interface]\nListenPort = abc\n",
     "bt0.conf:2: ListenPort: 'abc': not a number"},
    {"ListenPort -1", NULL, 0, "[Interface]\nListenPort = -1\n",
     "bt0.conf:2: ListenPort: '-1': not a number"},
    {"ListenPort 99999999999999999999", NULL, 0, "[Interface]\nListenPort = 99999999999999999999\n",
     "bt0.conf:2: ListenPort: '99999999999999999999': out of range (1-65535)"},
    {"ListenPort duplicate", NULL, 0, IFACE "ListenPort = 51821\n" PEER1,
     "bt0.conf:4: ListenPort: duplicate key (first at line 3)"},
    {"ListenPort duplicate, other case", NULL, 0, IFACE "LISTENPORT = 51820\n" PEER1,
     "bt0.conf:4: ListenPort: duplicate key (first at line 3)"},
    /* Address */
    {"Address: octet 256", NULL, 0, IFACE "Address = 10.9.0.256/24\n" PEER1,
     "bt0.conf:4: Address: '10.9.0.256/24': not an IPv4 or IPv6 address"},
    {"Address: prefix /33", NULL, 0, IFACE "Address = 10.9.0.1/33\n" PEER1,
     "bt0.conf:4: Address: '10.9.0.1/33': prefix length out of range (0-32)"},
    {"Address: IPv6 prefix /129", NULL, 0, IFACE "Address = 10.9.0.1/24, fd09::1/129\n" PEER1,
     "bt0.conf:4: Address: 'fd09::1/129': prefix length out of range (0-128)"},
    {"Address: prefix not a number", NULL, 0, IFACE "Address = 10.9.0.1/2x\n" PEER1,
     "bt0.conf:4: Address: '10.9.0.1/2x': prefix length is not a number"},
    {"Address: empty prefix", NULL, 0, IFACE "Address = 10.9.0.1/\n" PEER1,
     "bt0.conf:4: Address: '10.9.0.1/': missing prefix length"},
    {"Address: empty list entry", NULL, 0, IFACE "Address = 10.9.0.1/24,,fd09::1/64\n" PEER1,
     "bt0.conf:4: Address: empty entry"},
    {"Address: bad IPv6", NULL, 0, IFACE "Address = fd09:::1/64\n" PEER1,
     "bt0.conf:4: Address: 'fd09:::1/64': not an IPv4 or IPv6 address"},
    {"Address: hostname", NULL, 0, IFACE "Address = gateway/24\n" PEER1,
     "bt0.conf:4: Address: 'gateway/24': not an IPv4 or IPv6 address"},
    {"Address: same address twice", NULL, 0,
     IFACE "Address = 10.9.0.1/24\nAddress = 10.9.0.1/16\n" PEER1,
     "bt0.conf:5: Address: '10.9.0.1/16': address listed twice (line 4)"},
    /* MTU */
    {"MTU 1279 with an IPv6 Address", NULL, 0,
     IFACE "MTU = 1279\nAddress = 10.9.0.1/24, fd09::1/64\n" PEER1,
     "bt0.conf:4: MTU: '1279': below 1280, the minimum for IPv6 (the Address at line 5"},
    {"MTU 1505: above BPFTUN_MAX_INNER", NULL, 0, IFACE "MTU = 1505\n" PEER1,
     "bt0.conf:4: MTU: '1505': out of range (576-1504)"},
    {"MTU 575", NULL, 0, IFACE "MTU = 575\n" PEER1,
     "bt0.conf:4: MTU: '575': out of range (576-1504)"},
    {"MTU 9000", NULL, 0, IFACE "MTU = 9000\n" PEER1,
     "bt0.conf:4: MTU: '9000': out of range (576-1504)"},
    {"MTU 1420bytes", NULL, 0, IFACE "MTU = 1420bytes\n" PEER1,
     "bt0.conf:4: MTU: '1420bytes': not a number"},
    /* Cipher */
    {"Cipher: unknown", NULL, 0, IFACE "Cipher = aes-ni\n" PEER1,
     "bt0.conf:4: Cipher: 'aes-ni': unknown cipher; valid: aes-fixed-time"},
    {"Cipher: kernel name instead of the word", NULL, 0, IFACE "Cipher = ecb(aes)\n" PEER1,
     "bt0.conf:4: Cipher: 'ecb(aes)': unknown cipher"},
    /* Protocol */
    {"Protocol: unknown", NULL, 0, IFACE "Protocol = wg\n" PEER1,
     "bt0.conf:4: Protocol: 'wg': valid: wireguard (the default: WireGuard's handshake and "
     "ChaCha20-Poly1305, talks to WireGuard peers), bpftun (AES-256 on the kernel's "
     "bpf_crypto)"},
    {"Protocol duplicate", NULL, 0, IFACE "Protocol = wireguard\nProtocol = bpftun\n" PEER1,
     "bt0.conf:5: Protocol: duplicate key (first at line 4)"},
    {"Protocol = wireguard with Cipher", NULL, 0,
     IFACE "Cipher = aes-generic\nProtocol = wireguard\n" PEER1,
     "bt0.conf:4: Cipher: chooses the AES driver of Protocol = bpftun; Protocol = wireguard "
     "(line 5) is ChaCha20-Poly1305: remove Cipher"},
    {"Cipher without Protocol (the default is wireguard)", NULL, 0,
     IFACE "Cipher = aes-generic\n" PEER1,
     "bt0.conf:4: Cipher: chooses the AES driver of Protocol = bpftun, and the default "
     "protocol is wireguard (ChaCha20-Poly1305): add 'Protocol = bpftun' to [Interface], or "
     "remove Cipher"},
    /* Steering, SteeringCPUs */
    {"Steering: yes", NULL, 0, IFACE "Steering = yes\n" PEER1,
     "bt0.conf:4: Steering: 'yes': valid: off (the default), on"},
    {"Steering duplicate", NULL, 0, IFACE "Steering = on\nSteering = off\n" PEER1,
     "bt0.conf:5: Steering: duplicate key (first at line 4)"},
    {"SteeringCPUs: reversed range", NULL, 0, IFACE "SteeringCPUs = 3-1\n" PEER1,
     "bt0.conf:4: SteeringCPUs: '3-1': CPUs are 0-31, ranges low-high"},
    {"SteeringCPUs: CPU 32", NULL, 0, IFACE "SteeringCPUs = 0,32\n" PEER1,
     "bt0.conf:4: SteeringCPUs: '0,32': CPUs are 0-31, ranges low-high"},
    {"SteeringCPUs: not a list", NULL, 0, IFACE "SteeringCPUs = all\n" PEER1,
     "bt0.conf:4: SteeringCPUs: 'all': not a CPU list (e.g. 0-1 or 0,2)"},
    {"SteeringCPUs: empty entry", NULL, 0, IFACE "SteeringCPUs = 0,,1\n" PEER1,
     "bt0.conf:4: SteeringCPUs: '0,,1': not a CPU list (e.g. 0-1 or 0,2)"},
    /* syntax, sections, keys */
    {"unknown key in [Interface]", NULL, 0, IFACE "Foo = 1\n" PEER1,
     "bt0.conf:4: Foo: unknown key in [Interface]; valid keys: PrivateKey, PrivateKeyFile, "
     "ListenPort, Address, MTU, Cipher"},
    {"unknown key in [Peer]", NULL, 0, IFACE PEER1 "Keepalive = 25\n",
     "bt0.conf:7: Keepalive: unknown key in [Peer]; valid keys: PublicKey, Endpoint, "
     "AllowedIPs, PersistentKeepalive"},
    {"[Peer] key in [Interface]", NULL, 0, IFACE "Endpoint = 192.0.2.1:51820\n" PEER1,
     "bt0.conf:4: Endpoint: belongs in [Peer], not in [Interface]"},
    {"WireGuard key bpftun lacks", NULL, 0, IFACE "SaveConfig = true\n" PEER1,
     "bt0.conf:4: SaveConfig: a WireGuard key that bpftun does not support"},
    /* FwMark, Table, DNS */
    {"FwMark negative", NULL, 0, IFACE "FwMark = -1\n" PEER1,
     "bt0.conf:4: FwMark: '-1': valid: off, or a number 0-4294967295 (0x hex)"},
    {"FwMark above 32 bits", NULL, 0, IFACE "FwMark = 0x100000000\n" PEER1,
     "bt0.conf:4: FwMark: '0x100000000': valid: off, or a number"},
    {"FwMark word", NULL, 0, IFACE "FwMark = auto\n" PEER1, "bt0.conf:4: FwMark: 'auto': valid"},
    {"FwMark duplicate", NULL, 0, IFACE "FwMark = 1\nFwMark = 2\n" PEER1,
     "bt0.conf:5: FwMark: duplicate key (first at line 4)"},
    {"Table local", NULL, 0, IFACE "Table = 255\n" PEER1,
     "bt0.conf:4: Table: '255': valid: auto (the default), off, main, or a routing table number"},
    {"Table 0", NULL, 0, IFACE "Table = 0\n" PEER1, "bt0.conf:4: Table: '0': valid"},
    {"Table name", NULL, 0, IFACE "Table = vpn\n" PEER1, "bt0.conf:4: Table: 'vpn': valid"},
    {"DNS: bad entry", NULL, 0, IFACE "DNS = 192.0.2.53, bad_domain!\n" PEER1,
     "bt0.conf:4: DNS: 'bad_domain!': neither an IP address nor a search domain"},
    {"DNS: empty entry", NULL, 0, IFACE "DNS = 192.0.2.53,,\n" PEER1,
     "bt0.conf:4: DNS: empty entry"},
    /* PresharedKey: a secret, refused like PrivateKey and never quoted */
    {"PresharedKey in a 0644 config", "bt0.conf", 0644,
     IFACE_NOKEY "PrivateKeyFile = @DIR@/key600\n" PEER1 "PresharedKey = " PRIV "\n",
     "bt0.conf:7: PresharedKey: @DIR@/bt0.conf: mode 0644 is readable by group or others; "
     "chmod 600 it"},
    {"PresharedKey in a 0604 config", "bt0.conf", 0604,
     IFACE_NOKEY "PrivateKeyFile = @DIR@/key600\n" PEER1 "PresharedKey = " PRIV "\n",
     "bt0.conf:7: PresharedKey: @DIR@/bt0.conf: mode 0604 is readable by group or others"},
    {"PresharedKey not base64", NULL, 0, IFACE PEER1 "PresharedKey = " PRIV_NONCANON "\n",
     "bt0.conf:7: PresharedKey: not a key: invalid base64"},
    {"PresharedKey too short", NULL, 0, IFACE PEER1 "PresharedKey = AAECAwQFBgcICQoLDA0O\n",
     "bt0.conf:7: PresharedKey: not a key: 20 characters, a base64 key has 44"},
    {"PresharedKey twice", NULL, 0,
     IFACE PEER1 "PresharedKey = " PUB3 "\nPresharedKey = " PUB3 "\n",
     "bt0.conf:8: PresharedKey: duplicate key (first at line 7)"},
    {"PresharedKey and PresharedKeyFile", NULL, 0,
     IFACE PEER1 "PresharedKey = " PUB3 "\nPresharedKeyFile = @DIR@/key600\n",
     "bt0.conf:8: PresharedKeyFile: conflicts with PresharedKey at line 7; use one"},
    {"PresharedKeyFile then PresharedKey", NULL, 0,
     IFACE PEER1 "PresharedKeyFile = @DIR@/key600\nPresharedKey = " PUB3 "\n",
     "bt0.conf:8: PresharedKey: conflicts with PresharedKeyFile at line 7; use one"},
    {"PresharedKeyFile readable by group (0640)", NULL, 0,
     IFACE PEER1 "PresharedKeyFile = @DIR@/key640\n",
     "bt0.conf:7: PresharedKeyFile: @DIR@/key640: mode 0640 is readable by group or others"},
    {"PresharedKeyFile relative path", NULL, 0, IFACE PEER1 "PresharedKeyFile = key600\n",
     "bt0.conf:7: PresharedKeyFile: 'key600': use an absolute path"},
    {"PresharedKey in [Interface]", NULL, 0, IFACE "PresharedKey = " PUB3 "\n" PEER1,
     "bt0.conf:4: PresharedKey: belongs in [Peer], not in [Interface]"},
    {"unknown section", NULL, 0, IFACE "[Interfaces]\n",
     "bt0.conf:4: [Interfaces]: unknown section; valid sections: [Interface], [Peer]"},
    {"malformed section header", NULL, 0, IFACE "[Peer\n", "bt0.conf:4: malformed section header"},
    {"key before any section", NULL, 0, "ListenPort = 51820\n" IFACE,
     "bt0.conf:1: ListenPort: outside any section"},
    {"line without '='", NULL, 0, IFACE "ListenPort 51820\n", "bt0.conf:4: expected 'Key = Value'"},
    {"'=' without key", NULL, 0, IFACE "= 5\n", "bt0.conf:4: missing key before '='"},
    {"duplicate [Interface]", NULL, 0, IFACE PEER1 "[Interface]\n",
     "bt0.conf:7: [Interface]: duplicate section (first at line 1)"},
    {"no [Interface]", NULL, 0, PEER1, "bt0.conf:1: [Interface]: missing section"},
    {"empty file", NULL, 0, "", "bt0.conf:1: [Interface]: missing section"},
    {"no [Peer]", NULL, 0, "# x\n" IFACE, "bt0.conf:2: [Peer]: none; at least one [Peer]"},
    /* peers */
    {"peer without PublicKey", NULL, 0, IFACE "[Peer]\nAllowedIPs = 10.9.0.2/32\n" PEER2,
     "bt0.conf:4: PublicKey: missing from [Peer]"},
    {"last peer without PublicKey", NULL, 0, IFACE PEER1 "[Peer]\n",
     "bt0.conf:7: PublicKey: missing from [Peer]"},
    {"duplicate peer keys", NULL, 0, IFACE PEER1 "[Peer]\nPublicKey = " PUB1 "\n",
     "bt0.conf:8: PublicKey: same key as the peer at line 4"},
    {"duplicate PublicKey in one peer", NULL, 0, IFACE PEER1 "PublicKey = " PUB2 "\n",
     "bt0.conf:7: PublicKey: duplicate key (first at line 5)"},
    {"AllowedIPs: same prefix in two peers", NULL, 0,
     IFACE PEER1 "[Peer]\nPublicKey = " PUB2 "\nAllowedIPs = 10.9.0.3/32, 10.9.0.2/32\n",
     "bt0.conf:9: AllowedIPs: '10.9.0.2/32': already routed to the peer at line 4 "
     "(AllowedIPs at line 6)"},
    {"AllowedIPs: same prefix once host bits are cleared", NULL, 0,
     IFACE "[Peer]\nPublicKey = " PUB1 "\nAllowedIPs = 10.8.0.0/16\n"
	   "[Peer]\nPublicKey = " PUB2 "\nAllowedIPs = fd00::/8, 10.8.7.7/16\n",
     "bt0.conf:9: AllowedIPs: '10.8.0.0/16': already routed to the peer at line 4"},
    {"AllowedIPs: same IPv6 prefix in two peers", NULL, 0,
     IFACE "[Peer]\nPublicKey = " PUB1 "\nAllowedIPs = ::/0\n"
	   "[Peer]\nPublicKey = " PUB2 "\nAllowedIPs = ::/0\n",
     "bt0.conf:9: AllowedIPs: '::/0': already routed to the peer at line 4"},
    {"AllowedIPs: twice in one peer", NULL, 0, IFACE PEER1 "AllowedIPs = 10.9.0.2\n",
     "bt0.conf:7: AllowedIPs: '10.9.0.2/32': listed twice for this peer (line 6)"},
    {"AllowedIPs: /33", NULL, 0, IFACE PEER1 "AllowedIPs = 10.0.0.0/33\n",
     "bt0.conf:7: AllowedIPs: '10.0.0.0/33': prefix length out of range (0-32)"},
    {"AllowedIPs: IPv6 /200", NULL, 0, IFACE PEER1 "AllowedIPs = fd00::/200\n",
     "bt0.conf:7: AllowedIPs: 'fd00::/200': prefix length out of range (0-128)"},
    {"AllowedIPs: prefix -1", NULL, 0, IFACE PEER1 "AllowedIPs = 10.0.0.0/-1\n",
     "bt0.conf:7: AllowedIPs: '10.0.0.0/-1': prefix length is not a number"},
    {"AllowedIPs: trailing comma", NULL, 0, IFACE PEER1 "AllowedIPs = 10.1.0.0/16,\n",
     "bt0.conf:7: AllowedIPs: empty entry"},
    /* Endpoint */
    {"Endpoint: bad host name", NULL, 0, IFACE PEER1 "Endpoint = vpn_1.example.com:51820\n",
     "bt0.conf:7: Endpoint: 'vpn_1.example.com:51820': not a valid host name"},
    {"Endpoint: bad host name in brackets", NULL, 0, IFACE PEER1 "Endpoint = [local host]:51820\n",
     "bt0.conf:7: Endpoint: '[local host]:51820': not a valid host name"},
    {"Endpoint: host name without port", NULL, 0, IFACE PEER1 "Endpoint = vpn.example.com\n",
     "bt0.conf:7: Endpoint: 'vpn.example.com': missing port"},
    {"Endpoint: missing port", NULL, 0, IFACE PEER1 "Endpoint = 192.0.2.1\n",
     "bt0.conf:7: Endpoint: '192.0.2.1': missing port"},
    {"Endpoint: empty port", NULL, 0, IFACE PEER1 "Endpoint = 192.0.2.1:\n",
     "bt0.conf:7: Endpoint: '192.0.2.1:': missing port after ':'"},
    {"Endpoint: port 0", NULL, 0, IFACE PEER1 "Endpoint = 192.0.2.1:0\n",
     "bt0.conf:7: Endpoint: '192.0.2.1:0': port out of range (1-65535)"},
    {"Endpoint: port 65536", NULL, 0, IFACE PEER1 "Endpoint = [2001:db8::1]:65536\n",
     "bt0.conf:7: Endpoint: '[2001:db8::1]:65536': port out of range (1-65535)"},
    {"Endpoint: port not a number", NULL, 0, IFACE PEER1 "Endpoint = 192.0.2.1:wg\n",
     "bt0.conf:7: Endpoint: '192.0.2.1:wg': port is not a number"},
    {"Endpoint: IPv6 missing ']'", NULL, 0, IFACE PEER1 "Endpoint = [2001:db8::1:51820\n",
     "bt0.conf:7: Endpoint: '[2001:db8::1:51820': missing ']'"},
    {"Endpoint: IPv6 without brackets", NULL, 0, IFACE PEER1 "Endpoint = 2001:db8::1:51820\n",
     "bt0.conf:7: Endpoint: '2001:db8::1:51820': an IPv6 endpoint needs brackets"},
    {"Endpoint: no ':' after ']'", NULL, 0, IFACE PEER1 "Endpoint = [2001:db8::1]51820\n",
     "bt0.conf:7: Endpoint: '[2001:db8::1]51820': expected ':port' after ']'"},
    {"Endpoint: IPv4 in brackets", NULL, 0, IFACE PEER1 "Endpoint = [192.0.2.1]:51820\n",
     "bt0.conf:7: Endpoint: '[192.0.2.1]:51820': not an IPv6 address inside []"},
    {"Endpoint: bad IPv6 in brackets", NULL, 0, IFACE PEER1 "Endpoint = [2001:db8:::1]:51820\n",
     "bt0.conf:7: Endpoint: '[2001:db8:::1]:51820': not an IPv6 address"},
    {"Endpoint: IPv6 scope ID", NULL, 0, IFACE PEER1 "Endpoint = [fe80::1%eth0]:51820\n",
     "bt0.conf:7: Endpoint: '[fe80::1%eth0]:51820': scope IDs (%dev) are not supported"},
    {"Endpoint: bad IPv4", NULL, 0, IFACE PEER1 "Endpoint = 192.0.2:51820\n",
     "bt0.conf:7: Endpoint: '192.0.2:51820': not an IPv4 address"},
    {"Endpoint: long value quoted truncated", NULL, 0,
     IFACE PEER1 "Endpoint = " A10 A10 A10 A10 A10 A10 A10 A10 A10 A10 A10 A10 A10 A10 A10 A10 A10
	 A10 A10 A10 A10 A10 A10 A10 A10 A10 ".example:51820\n",
     "bt0.conf:7: Endpoint: '" A10 A10 A10 A10 A10 A10 "aaaa...': not a valid host name"},
    {"Endpoint: duplicate", NULL, 0, IFACE PEER1 "Endpoint = 192.0.2.1:1\nEndpoint = 192.0.2.1:2\n",
     "bt0.conf:8: Endpoint: duplicate key (first at line 7)"},
    /* PersistentKeepalive */
    {"PersistentKeepalive 65536", NULL, 0, IFACE PEER1 "PersistentKeepalive = 65536\n",
     "bt0.conf:7: PersistentKeepalive: '65536': out of range (0-65535 seconds, or off)"},
    {"PersistentKeepalive 'sometimes'", NULL, 0, IFACE PEER1 "PersistentKeepalive = sometimes\n",
     "bt0.conf:7: PersistentKeepalive: 'sometimes': not a number of seconds or 'off'"},
    {"PersistentKeepalive -5", NULL, 0, IFACE PEER1 "PersistentKeepalive = -5\n",
     "bt0.conf:7: PersistentKeepalive: '-5': not a number"},
    /* file modes: the config itself */
    {"config 0644 with PrivateKey", "bt0.conf", 0644, IFACE PEER1,
     "bt0.conf:2: PrivateKey: @DIR@/bt0.conf: mode 0644 is readable by group or others; "
     "chmod 600 it"},
    {"config 0640 with PrivateKey", "bt0.conf", 0640, IFACE PEER1,
     "bt0.conf:2: PrivateKey: @DIR@/bt0.conf: mode 0640 is readable by group or others"},
    {"config 0602 with PrivateKey", "bt0.conf", 0602, IFACE PEER1,
     "bt0.conf:2: PrivateKey: @DIR@/bt0.conf: mode 0602 is writable by group or others"},
    /* file modes: PrivateKeyFile */
    {"PrivateKeyFile readable by group (0640)", NULL, 0,
     IFACE_NOKEY "PrivateKeyFile = @DIR@/key640\n" PEER1,
     "bt0.conf:3: PrivateKeyFile: @DIR@/key640: mode 0640 is readable by group or others; "
     "chmod 600 it"},
    {"PrivateKeyFile readable by others (0604)", NULL, 0,
     IFACE_NOKEY "PrivateKeyFile = @DIR@/key604\n" PEER1,
     "bt0.conf:3: PrivateKeyFile: @DIR@/key604: mode 0604 is readable by group or others"},
    {"PrivateKeyFile writable by group (0620)", NULL, 0,
     IFACE_NOKEY "PrivateKeyFile = @DIR@/key620\n" PEER1,
     "bt0.conf:3: PrivateKeyFile: @DIR@/key620: mode 0620 is writable by group or others"},
    {"PrivateKeyFile is a directory", NULL, 0, IFACE_NOKEY "PrivateKeyFile = @DIR@/keydir\n",
     "bt0.conf:3: PrivateKeyFile: @DIR@/keydir: a directory, not a regular file (mode 0700)"},
    {"PrivateKeyFile is a character device", NULL, 0, IFACE_NOKEY "PrivateKeyFile = /dev/null\n",
     "bt0.conf:3: PrivateKeyFile: /dev/null: a character device, not a regular file"},
    {"PrivateKeyFile does not exist", NULL, 0, IFACE_NOKEY "PrivateKeyFile = @DIR@/nokey\n",
     "bt0.conf:3: PrivateKeyFile: @DIR@/nokey: No such file or directory"},
    {"PrivateKeyFile relative path", NULL, 0, IFACE_NOKEY "PrivateKeyFile = key600\n",
     "bt0.conf:3: PrivateKeyFile: 'key600': use an absolute path"},
    {"PrivateKeyFile holds no key", NULL, 0, IFACE_NOKEY "PrivateKeyFile = @DIR@/keybad\n",
     "bt0.conf:3: PrivateKeyFile: @DIR@/keybad: not a key: 9 characters"},
    {"PrivateKeyFile empty", NULL, 0, IFACE_NOKEY "PrivateKeyFile = @DIR@/keyempty\n",
     "bt0.conf:3: PrivateKeyFile: @DIR@/keyempty: empty"},
    {"PrivateKeyFile too long", NULL, 0, IFACE_NOKEY "PrivateKeyFile = @DIR@/keylong\n",
     "bt0.conf:3: PrivateKeyFile: @DIR@/keylong: too long to hold a key"},
    {"PrivateKeyFile on procfs", NULL, 0, IFACE_NOKEY "PrivateKeyFile = /proc/self/environ\n",
     "bt0.conf:3: PrivateKeyFile: /proc/self/environ: on a kernel pseudo file system"},
    /* interface name from the file name */
    {"interface name too long", "this-name-is-too-long.conf", 0, IFACE PEER1,
     "bpftun: this-name-is-too-long.conf: interface name 'this-name-is-too-long' from the "
     "file name is not valid"},
    {"interface name with a space", "bad name.conf", 0, IFACE PEER1,
     "bpftun: bad name.conf: interface name 'bad name' from the file name is not valid"},
    {"interface name empty", "/etc/bpftun/.conf", 0, IFACE PEER1,
     "bpftun: /etc/bpftun/.conf: interface name '' from the file name is not valid"},
    {"interface name '..'", "/etc/bpftun/...conf", 0, IFACE PEER1,
     "bpftun: /etc/bpftun/...conf: interface name '..' from the file name is not valid"},
    {"file name without .conf", "/etc/bpftun/bt0", 0, IFACE PEER1,
     "bpftun: /etc/bpftun/bt0: the file name must be IFNAME.conf"},
    {"interface name too long (file)", "sixteen-chars-xx.conf", 0600, IFACE PEER1,
     "bpftun: @DIR@/sixteen-chars-xx.conf: interface name 'sixteen-chars-xx' from the file "
     "name is not valid"},
    {"interface name with a space (file)", "bad name.conf", 0600, IFACE PEER1,
     "bpftun: @DIR@/bad name.conf: interface name 'bad name'"},
};

/* ------------------------------------------------------------ temp files */

static char tmpdir[] = "/tmp/test_config.XXXXXX";
static int have_tmpdir;
static char created[32][PATH_MAX];
static int created_dir[32], ncreated;

/* Async-signal-safe: unlink/rmdir only. Idempotent. */
static void cleanup(void)
{
	for (int i = ncreated - 1; i >= 0; i--) {
		if (created_dir[i])
			rmdir(created[i]);
		else
			unlink(created[i]);
	}
	if (have_tmpdir)
		rmdir(tmpdir);
}

static void on_signal(int sig)
{
	cleanup();
	signal(sig, SIG_DFL);
	raise(sig);
}

static void die(const char *what)
{
	printf("FAIL: setup: %s: %s\n", what, strerror(errno));
	check(0, "setup");
	cleanup();
	exit(check_summary());
}

static void track(const char *path, int is_dir)
{
	for (int i = 0; i < ncreated; i++)
		if (!strcmp(created[i], path))
			return;
	if (ncreated == (int)(sizeof(created) / sizeof(created[0]))) {
		errno = ENOSPC;
		die("too many temp files");
	}
	snprintf(created[ncreated], PATH_MAX, "%s", path);
	created_dir[ncreated++] = is_dir;
}

/* Write DIR/name with exactly this mode (umask notwithstanding). */
static void write_file(const char *name, const char *text, size_t len, unsigned int mode,
		       char path[PATH_MAX])
{
	int fd;

	snprintf(path, PATH_MAX, "%s/%s", tmpdir, name);
	track(path, 0);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		die(path);
	if ((len && write(fd, text, len) != (ssize_t)len) || fchmod(fd, mode) || close(fd))
		die(path);
}

/* in with @DIR@ replaced by dir. */
static void subst(const char *in, const char *dir, char *out, size_t n)
{
	size_t o = 0;

	while (*in && o + 1 < n) {
		if (!strncmp(in, "@DIR@", 5)) {
			for (const char *d = dir; *d && o + 1 < n; d++)
				out[o++] = *d;
			in += 5;
		} else {
			out[o++] = *in++;
		}
	}
	out[o] = 0;
}

/* ----------------------------------------------------------------- checks */

static int all_zero(const void *p, size_t n)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < n; i++)
		if (b[i])
			return 0;
	return 1;
}

static int key_is(const uint8_t *key, unsigned int first, int step)
{
	for (int i = 0; i < BT_KEY_LEN; i++)
		if (key[i] != (uint8_t)(first + step * i))
			return 0;
	return 1;
}

static int prefix_is(const struct bt_prefix *p, int family, const char *addr, unsigned int len,
		     unsigned int line)
{
	uint8_t a[16] = {0};

	if (inet_pton(family, addr, a) != 1)
		return 0;
	return p->family == family && !memcmp(p->addr, a, 16) && p->prefix == len &&
	       p->line == line;
}

static void check_good(void)
{
	struct bt_config cfg;
	struct config_error err;
	uint8_t ep[16] = {0};
	int r = bt_config_parse_buffer("/etc/bpftun/bt0.conf", good_conf, strlen(good_conf), &cfg,
				       &err);
	struct bt_peer *a = cfg.peers, *b = cfg.peers ? cfg.peers + 1 : NULL;

	if (!check(r == 0, "good config parses (%d: %s)", r, err.msg))
		return;
	check(!strcmp(cfg.ifname, "bt0"), "good: ifname bt0 (%s)", cfg.ifname);
	check(cfg.have_private_key && key_is(cfg.private_key, 0, 1), "good: PrivateKey bytes");
	check(cfg.listen_port == 51820, "good: ListenPort 51820 (%u)", cfg.listen_port);
	check(cfg.naddrs == 3 && prefix_is(&cfg.addrs[0], AF_INET, "10.9.0.1", 24, 5) &&
		  prefix_is(&cfg.addrs[1], AF_INET6, "fd09::1", 64, 5) &&
		  prefix_is(&cfg.addrs[2], AF_INET, "10.9.1.1", 32, 6),
	      "good: Address 10.9.0.1/24 (host bits kept), fd09::1/64, 10.9.1.1 -> /32");
	check(cfg.mtu == 1420, "good: MTU 1420 (%u)", cfg.mtu);
	check(!strcmp(cfg.cipher, "aes-generic") && !strcmp(cfg.kernel_algo, "ecb(aes-generic)"),
	      "good: Cipher aes-generic -> ecb(aes-generic) (%s, %s)", cfg.cipher, cfg.kernel_algo);
	check(cfg.npeers == 2, "good: two peers (%d)", cfg.npeers);
	if (cfg.npeers != 2)
		goto out;
	inet_pton(AF_INET, "192.0.2.1", ep);
	check(key_is(a->public_key, 0x20, 1) && a->line == 10 && a->key_line == 11,
	      "good: peer 1 PublicKey bytes, lines");
	check(a->have_endpoint && a->family == AF_INET && !memcmp(a->endpoint, ep, 16) &&
		  a->port == 51820,
	      "good: peer 1 Endpoint 192.0.2.1:51820");
	check(a->nallowed == 4 && prefix_is(&a->allowed[0], AF_INET, "10.9.0.2", 32, 13) &&
		  prefix_is(&a->allowed[1], AF_INET6, "fd09::2", 128, 13) &&
		  prefix_is(&a->allowed[2], AF_INET, "10.77.0.0", 16, 14) &&
		  prefix_is(&a->allowed[3], AF_INET6, "2001:db8:8000::", 33, 14),
	      "good: peer 1 AllowedIPs, host bits cleared (10.77.0.55/16 -> 10.77.0.0/16)");
	check(a->keepalive == 25, "good: peer 1 PersistentKeepalive 25 (%u)", a->keepalive);
	memset(ep, 0, sizeof(ep));
	inet_pton(AF_INET6, "2001:db8::1", ep);
	check(key_is(b->public_key, 0xff, -1) && b->line == 17 && b->key_line == 18,
	      "good: peer 2 PublicKey bytes, lines");
	check(b->have_endpoint && b->family == AF_INET6 && !memcmp(b->endpoint, ep, 16) &&
		  b->port == 443,
	      "good: peer 2 Endpoint [2001:db8::1]:443");
	check(b->nallowed == 2 && prefix_is(&b->allowed[0], AF_INET, "0.0.0.0", 0, 20) &&
		  prefix_is(&b->allowed[1], AF_INET6, "::", 0, 20),
	      "good: peer 2 AllowedIPs 0.0.0.0/0, ::/0");
	check(b->keepalive == 0, "good: peer 2 PersistentKeepalive off");
out:
	bt_config_free(&cfg);
	check(all_zero(&cfg, sizeof(cfg)), "bt_config_free zeroes the key and the rest");
}

static void check_defaults(void)
{
	static const char text[] = IFACE "Address = 10.9.0.1/24\nMTU = 576\n" PEER1;
	static const char aes[] = IFACE "Protocol = bpftun\n" PEER1;
	struct bt_config cfg;
	struct config_error err;
	int r = bt_config_parse_buffer("bt0.conf", text, strlen(text), &cfg, &err);

	check(r == 0 && cfg.mtu == 576 && cfg.protocol == BT_PROTO_WIREGUARD &&
		  !strcmp(cfg.cipher, "chacha20-poly1305") && !cfg.peers[0].have_endpoint &&
		  cfg.peers[0].keepalive == 0,
	      "minimal config: MTU 576 (IPv4 only), Protocol wireguard (chacha20-poly1305), no "
	      "endpoint, no keepalive (%d: %s)",
	      r, err.msg);
	bt_config_free(&cfg);
	r = bt_config_parse_buffer("bt0.conf", aes, strlen(aes), &cfg, &err);
	check(r == 0 && cfg.protocol == BT_PROTO_BPFTUN && !strcmp(cfg.cipher, "aes-fixed-time") &&
		  !strcmp(cfg.kernel_algo, "ecb(aes)"),
	      "Protocol = bpftun alone: Cipher aes-fixed-time -> ecb(aes) (%d: %s)", r, err.msg);
	if (!r)
		bt_config_free(&cfg);
}

/* ListenPort is optional (as wg): 0 in the config, `up` picks a free port. */
static void check_no_listen_port(void)
{
	static const char text[] = "[Interface]\nPrivateKey = " PRIV "\n" PEER1;
	struct bt_config cfg;
	struct config_error err;
	int r = bt_config_parse_buffer("bt0.conf", text, strlen(text), &cfg, &err);

	check(r == 0 && cfg.listen_port == 0, "no ListenPort: accepted, listen_port 0 (%d: %s)", r,
	      err.msg);
	bt_config_free(&cfg);
}

static void check_steering(void)
{
	static const char on[] = IFACE "Steering = On\nSteeringCPUs = 0-1, 3\n" PEER1;
	static const char dflt[] = IFACE PEER1;
	struct bt_config cfg;
	struct config_error err;
	int r = bt_config_parse_buffer("bt0.conf", dflt, strlen(dflt), &cfg, &err);

	check(r == 0 && cfg.steering == 0 && cfg.steer_cpus == 0,
	      "Steering defaults to off, SteeringCPUs to every online CPU (%d: %s)", r, err.msg);
	if (!r)
		bt_config_free(&cfg);
	r = bt_config_parse_buffer("bt0.conf", on, strlen(on), &cfg, &err);
	check(r == 0 && cfg.steering == 1 && cfg.steer_cpus == 0xb,
	      "Steering = On, SteeringCPUs = 0-1, 3 -> mask 0xb (%d: %s, 0x%x)", r, err.msg,
	      r ? 0 : cfg.steer_cpus);
	if (!r)
		bt_config_free(&cfg);
}

/*
 * Host-name resolution (bt_resolve_host, bt_config_resolve) in a child with
 * a private mount namespace whose /etc/hosts and /etc/nsswitch.conf
 * ("hosts: files") are the test's own: no DNS server is ever asked. The
 * child reports through its exit status (bit 0: setup, 1: peer.test, 2:
 * the refusal) and the refusal's message through a pipe.
 */
static void check_resolve(void)
{
	static const char unres[] =
	    IFACE "[Peer]\nPublicKey = " PUB1 "\nEndpoint = no-such-host.test:1\n";
	char hosts[PATH_MAX], nss[PATH_MAX], msg[sizeof(((struct config_error *)0)->msg)] = "";
	int pfd[2], st = 0;
	pid_t pid;

	write_file("hosts", "10.1.2.3 peer.test\n", 19, 0644, hosts);
	write_file("nsswitch.conf", "hosts: files\n", 13, 0644, nss);
	if (pipe(pfd))
		die("pipe");
	pid = fork();
	if (pid < 0)
		die("fork");
	if (!pid) {
		struct config_error err = {0};
		struct bt_config cfg;
		uint8_t a[16];
		int fam = 0, bits = 0;

		close(pfd[0]);
		if (unshare(CLONE_NEWNS) || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) ||
		    mount(hosts, "/etc/hosts", NULL, MS_BIND, NULL) ||
		    mount(nss, "/etc/nsswitch.conf", NULL, MS_BIND, NULL))
			_exit(1);
		if (bt_resolve_host("peer.test", &fam, a) || fam != AF_INET || a[0] != 10 ||
		    a[1] != 1 || a[2] != 2 || a[3] != 3)
			bits |= 2;
		if (bt_config_parse_buffer("bt0.conf", unres, strlen(unres), &cfg, &err) ||
		    bt_config_resolve(&cfg, "bt0.conf", &err) >= 0 ||
		    !strstr(err.msg, "bt0.conf:6: Endpoint: 'no-such-host.test:1': cannot resolve "
				     "'no-such-host.test': "))
			bits |= 4;
		if (write(pfd[1], err.msg, strlen(err.msg)) < 0)
			bits |= 4;
		_exit(bits);
	}
	close(pfd[1]);
	if (read(pfd[0], msg, sizeof(msg) - 1) < 0)
		msg[0] = 0;
	close(pfd[0]);
	waitpid(pid, &st, 0);
	st = WIFEXITED(st) ? WEXITSTATUS(st) : 255;
	check(!(st & 1), "resolver set-up: a private mount namespace with the test's hosts file");
	check(!(st & 3), "a name from the hosts file resolves (peer.test -> 10.1.2.3)");
	check(!(st & 5),
	      "an unresolvable name refused naming file:line: Endpoint and the resolver (%s)", msg);
}

/* FwMark, Table, DNS and host-name endpoints (issue 11's wg-quick keys). */
static void check_wg_quick_keys(void)
{
	static const char text[] =
	    IFACE "FwMark = 0xca6c\nTable = 1234\n"
		  "DNS = 192.0.2.53, example.com\nDNS = 2001:db8::53, corp\n"
		  "[Peer]\nPublicKey = " PUB1 "\nEndpoint = vpn.example.com:51821\n"
		  "AllowedIPs = 0.0.0.0/0\n"
		  "[Peer]\nPublicKey = " PUB2 "\nEndpoint = [gw6.example]:7\n";
	static const char dflt[] = IFACE PEER1;
	static const char words[] = IFACE "FwMark = off\nTable = off\n" PEER1;
	struct bt_config cfg;
	struct config_error err;
	int r = bt_config_parse_buffer("bt0.conf", text, strlen(text), &cfg, &err);

	check(r == 0 && cfg.fwmark == 0xca6c && cfg.table == 1234 &&
		  !strcmp(cfg.dns, "nameserver 192.0.2.53\nnameserver 2001:db8::53\n"
				   "search example.com corp\n") &&
		  cfg.dns_line == 6,
	      "FwMark 0xca6c, Table 1234, DNS servers in order then one search line (%d: %s)", r,
	      err.msg);
	check(r == 0 && cfg.peers[0].have_endpoint &&
		  !strcmp(cfg.peers[0].host, "vpn.example.com") && cfg.peers[0].port == 51821 &&
		  cfg.peers[0].family == 0 && !strcmp(cfg.peers[1].host, "gw6.example") &&
		  cfg.peers[1].port == 7,
	      "Endpoint host names kept for resolution, name:port and [name]:port");
	if (!r)
		bt_config_free(&cfg);
	r = bt_config_parse_buffer("bt0.conf", dflt, strlen(dflt), &cfg, &err);
	check(r == 0 && cfg.fwmark == 0 && cfg.table == BT_TABLE_AUTO && !cfg.dns[0],
	      "defaults: FwMark off, Table auto, no DNS");
	if (!r)
		bt_config_free(&cfg);
	r = bt_config_parse_buffer("bt0.conf", words, strlen(words), &cfg, &err);
	check(r == 0 && cfg.fwmark == 0 && cfg.table == BT_TABLE_OFF, "FwMark = off, Table = off");
	if (!r)
		bt_config_free(&cfg);
	check_resolve();
}

/* Protocol: wireguard by default; it sets the cipher shown to the user. */
static void check_protocol(void)
{
	static const char wg[] = IFACE "protocol = WireGuard\n" PEER1;
	static const char bt[] = IFACE "Protocol = bpftun\nCipher = aes-generic\n" PEER1;
	static const char dflt[] = IFACE PEER1;
	struct bt_config cfg;
	struct config_error err;
	int r = bt_config_parse_buffer("bt0.conf", dflt, strlen(dflt), &cfg, &err);

	check(r == 0 && cfg.protocol == BT_PROTO_WIREGUARD &&
		  !strcmp(cfg.cipher, "chacha20-poly1305"),
	      "Protocol defaults to wireguard, cipher chacha20-poly1305 (%d: %s)", r, err.msg);
	if (!r)
		bt_config_free(&cfg);
	r = bt_config_parse_buffer("bt0.conf", wg, strlen(wg), &cfg, &err);
	check(r == 0 && cfg.protocol == BT_PROTO_WIREGUARD &&
		  !strcmp(cfg.cipher, "chacha20-poly1305"),
	      "protocol = WireGuard (any case) -> wireguard, cipher chacha20-poly1305 (%d: %s)", r,
	      err.msg);
	if (!r)
		bt_config_free(&cfg);
	r = bt_config_parse_buffer("bt0.conf", bt, strlen(bt), &cfg, &err);
	check(r == 0 && cfg.protocol == BT_PROTO_BPFTUN && !strcmp(cfg.cipher, "aes-generic"),
	      "Protocol = bpftun with Cipher = aes-generic (%d: %s)", r, err.msg);
	if (!r)
		bt_config_free(&cfg);
}

static void check_mtu_v6_ok(void)
{
	static const char text[] = IFACE "Address = fd09::1/64\nMTU = 1280\n" PEER1;
	struct bt_config cfg;
	struct config_error err;
	int r = bt_config_parse_buffer("bt0.conf", text, strlen(text), &cfg, &err);

	check(r == 0 && cfg.mtu == 1280, "MTU 1280 with an IPv6 Address accepted (%s)", err.msg);
	bt_config_free(&cfg);
}

static void check_crlf(void)
{
	static const char text[] = "[Interface]\r\nPrivateKey = " PRIV "\r\nListenPort = 1\r\n"
				   "[Peer]\r\nPublicKey = " PUB1 "\r\nAllowedIPs =\r\n";
	struct bt_config cfg;
	struct config_error err;
	int r = bt_config_parse_buffer("bt0.conf", text, strlen(text), &cfg, &err);

	check(r == 0 && cfg.listen_port == 1 && cfg.npeers == 1 && cfg.peers[0].nallowed == 0,
	      "CRLF line ends, empty AllowedIPs (as wg) accepted (%s)", err.msg);
	bt_config_free(&cfg);
}

static void check_nul(void)
{
	static const char text[] = IFACE "MTU = 1420\0 junk\n" PEER1;
	struct bt_config cfg;
	struct config_error err;
	int r = bt_config_parse_buffer("bt0.conf", text, sizeof(text) - 1, &cfg, &err);

	check(r == -EINVAL && strstr(err.msg, "bt0.conf:4: NUL byte"),
	      "NUL byte refused with its line (%s)", err.msg);
}

/* Exactly limit entries of one kind are accepted, one more is refused at its line. */
enum limit_kind { LIMIT_PEERS, LIMIT_ALLOWED, LIMIT_ADDRS, LIMIT_ALLOWED_TOTAL };

static void check_limit(enum limit_kind kind, const char *what, int limit, const char *expect_fmt)
{
	size_t cap = 8u << 20; /* 16,385 peers or 131,073 AllowedIPs fit */
	char *text = malloc(cap), expect[200];
	struct bt_config cfg;
	struct config_error err;

	if (!text)
		die("malloc");
	for (int extra = 0; extra <= 1; extra++) {
		int n = limit + extra, r;
		unsigned int bad_line = 0;
		size_t o = 0;

		/* IFACE is lines 1-3. */
		o += (size_t)snprintf(text + o, cap - o, "%s", IFACE);
		if (kind == LIMIT_ALLOWED) /* lines 4-5, AllowedIPs from line 6 */
			o += (size_t)snprintf(text + o, cap - o, "[Peer]\nPublicKey = %s\n", PUB1);
		for (int i = 0; i < n; i++) {
			uint8_t key[BT_KEY_LEN] = {1, (uint8_t)i, (uint8_t)(i >> 8),
						   (uint8_t)(i >> 16)};
			char b64[BT_KEY_B64_LEN + 1];

			switch (kind) {
			case LIMIT_PEERS: /* 3 lines each from line 4 */
				bt_key_to_base64(b64, key);
				o += (size_t)snprintf(text + o, cap - o,
						      "[Peer]\nPublicKey = %s\nAllowedIPs = "
						      "10.%d.%d.0/24\n",
						      b64, i >> 8, i & 255);
				bad_line = 4 + 3 * (unsigned int)i;
				break;
			case LIMIT_ALLOWED:
				o += (size_t)snprintf(text + o, cap - o,
						      "AllowedIPs = 10.8.%d.0/24\n", i);
				bad_line = 6 + (unsigned int)i;
				break;
			case LIMIT_ALLOWED_TOTAL:
				/* limit / BT_MAX_ALLOWED peers with BT_MAX_ALLOWED each,
				 * one line per prefix; the extra one is a peer of its own */
				if (i % BT_MAX_ALLOWED == 0) {
					bt_key_to_base64(b64, key);
					o += (size_t)snprintf(text + o, cap - o,
							      "[Peer]\nPublicKey = %s\n", b64);
				}
				o += (size_t)snprintf(text + o, cap - o,
						      "AllowedIPs = 10.%d.%d.%d/32\n", i >> 16,
						      (i >> 8) & 255, i & 255);
				bad_line =
				    4 + (unsigned int)(i / BT_MAX_ALLOWED) * (2 + BT_MAX_ALLOWED) +
				    2 + (unsigned int)(i % BT_MAX_ALLOWED);
				break;
			case LIMIT_ADDRS:
				o += (size_t)snprintf(text + o, cap - o, "Address = 10.7.%d.1/24\n",
						      i);
				bad_line = 4 + (unsigned int)i;
				break;
			}
		}
		if (kind == LIMIT_ADDRS)
			o += (size_t)snprintf(text + o, cap - o, "%s", PEER2);
		if (o >= cap)
			die("check_limit: text buffer too small");
		snprintf(expect, sizeof(expect), expect_fmt, bad_line);
		memset(&err, 0, sizeof(err));
		r = bt_config_parse_buffer("bt0.conf", text, o, &cfg, &err);
		if (!extra)
			check(r == 0, "%d %s accepted (%s)", n, what, err.msg);
		else
			check(r == -EINVAL && strstr(err.msg, expect),
			      "%d %s refused: want '%s', got '%s'", n, what, expect, err.msg);
		bt_config_free(&cfg);
	}
	free(text);
}

static void check_keys(void)
{
	uint8_t key[BT_KEY_LEN], bytes[BT_KEY_LEN];
	char b64[BT_KEY_B64_LEN + 1];
	int ok;

	for (int i = 0; i < BT_KEY_LEN; i++)
		bytes[i] = (uint8_t)i;
	bt_key_to_base64(b64, bytes);
	check(!strcmp(b64, PRIV), "bt_key_to_base64(00..1f) = python's base64 (%s)", b64);
	check(!bt_key_from_base64(key, PRIV) && !memcmp(key, bytes, 32),
	      "bt_key_from_base64 decodes to 00..1f");
	ok = 1;
	for (int i = 0; i < 200 && ok; i++) {
		randombytes_buf(bytes, sizeof(bytes));
		bt_key_to_base64(b64, bytes);
		ok = strlen(b64) == 44 && !bt_key_from_base64(key, b64) && !memcmp(key, bytes, 32);
	}
	check(ok, "200 random keys round-trip through base64");
	memset(key, 0xaa, sizeof(key));
	check(bt_key_from_base64(key, PRIV_NONCANON) == -EINVAL && all_zero(key, sizeof(key)),
	      "non-canonical base64 refused, output zeroed");
	memset(key, 0xaa, sizeof(key));
	check(bt_key_from_base64(key, PRIV " ") == -EINVAL && all_zero(key, sizeof(key)),
	      "trailing space refused, output zeroed");
	check(bt_key_from_base64(key, "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8") == -EINVAL,
	      "43 characters (no padding) refused");
	check(bt_key_from_base64(key, "") == -EINVAL, "empty string refused");
}

static void run_bad(const struct bad_case *c)
{
	char text[4096], expect[1024], path[PATH_MAX];
	const char *name = c->name ? c->name : "bt0.conf";
	struct bt_config cfg;
	struct config_error err;
	int r, zeroed, ok;

	subst(c->text, tmpdir, text, sizeof(text));
	subst(c->expect, tmpdir, expect, sizeof(expect));
	memset(&cfg, 0xaa, sizeof(cfg)); /* the parser must not rely on a zeroed cfg */
	if (c->mode) {
		write_file(name, text, strlen(text), c->mode, path);
		r = bt_config_parse_file(path, &cfg, &err);
		unlink(path);
	} else {
		r = bt_config_parse_buffer(name, text, strlen(text), &cfg, &err);
	}
	zeroed = all_zero(&cfg, sizeof(cfg));
	if (!r)
		bt_config_free(&cfg);
	ok = r < 0 && strstr(err.msg, expect) && !strncmp(err.msg, "bpftun: ", 8) &&
	     !strchr(err.msg, '\n') && !strstr(err.msg, PRIV_HEAD) && zeroed;
	if (ok)
		check(1, "refused: %s: %s", c->desc, err.msg);
	else
		check(0, "refused: %s (returned %d%s)\n      want: %s\n      got:  %s", c->desc, r,
		      r < 0 && !zeroed ? ", cfg not zeroed" : "", expect, err.msg);
}

static void check_files(void)
{
	char path[PATH_MAX], text[PATH_MAX + 128];
	struct bt_config cfg;
	struct config_error err;
	int r;

	write_file("bt1.conf", IFACE PEER1, strlen(IFACE PEER1), 0600, path);
	r = bt_config_parse_file(path, &cfg, &err);
	check(r == 0 && !strcmp(cfg.ifname, "bt1") && key_is(cfg.private_key, 0, 1),
	      "config 0600 with PrivateKey accepted, ifname bt1 (%s)", err.msg);
	bt_config_free(&cfg);

	write_file("bt2.conf", good_conf, strlen(good_conf), 0400, path);
	r = bt_config_parse_file(path, &cfg, &err);
	check(r == 0 && cfg.npeers == 2 && cfg.mtu == 1420,
	      "good config from a 0400 file parses like the buffer (%s)", err.msg);
	bt_config_free(&cfg);

	subst(IFACE_NOKEY "PrivateKeyFile = @DIR@/key600 # comment\n" PEER1, tmpdir, text,
	      sizeof(text));
	write_file("bt3.conf", text, strlen(text), 0644, path);
	r = bt_config_parse_file(path, &cfg, &err);
	check(r == 0 && cfg.have_private_key && key_is(cfg.private_key, 0, 1),
	      "PrivateKeyFile 0600 read (config 0644 without a key is fine) (%s)", err.msg);
	bt_config_free(&cfg);

	subst(IFACE_NOKEY "PrivateKeyFile=@DIR@/key400\n" PEER1, tmpdir, text, sizeof(text));
	r = bt_config_parse_buffer("bt0.conf", text, strlen(text), &cfg, &err);
	check(r == 0 && key_is(cfg.private_key, 0, 1), "PrivateKeyFile 0400 read (%s)", err.msg);
	bt_config_free(&cfg);

	/* PresharedKey (issue 11): inline in a 0600 file, from a 0600 file, none. */
	subst(IFACE PEER1 "PresharedKey = " PUB3 "\n" PEER2 "PresharedKeyFile = @DIR@/key600\n"
			  "[Peer]\nPublicKey = " PUB3 "\n",
	      tmpdir, text, sizeof(text));
	write_file("bt4.conf", text, strlen(text), 0600, path);
	r = bt_config_parse_file(path, &cfg, &err);
	check(r == 0 && cfg.npeers == 3 && cfg.peers[0].have_psk && cfg.peers[0].psk_line == 7 &&
		  key_is(cfg.peers[0].psk, 0x42, 0) && cfg.peers[1].have_psk &&
		  cfg.peers[1].psk_line == 11 && key_is(cfg.peers[1].psk, 0, 1) &&
		  !cfg.peers[2].have_psk && !cfg.peers[2].psk_line &&
		  all_zero(cfg.peers[2].psk, sizeof(cfg.peers[2].psk)),
	      "PresharedKey (0600 config) and PresharedKeyFile read; a peer without has none (%s)",
	      err.msg);
	bt_config_free(&cfg);

	snprintf(path, sizeof(path), "%s/missing.conf", tmpdir);
	r = bt_config_parse_file(path, &cfg, &err);
	snprintf(text, sizeof(text), "bpftun: %s: No such file or directory", path);
	check(r == -ENOENT && !strcmp(err.msg, text), "missing config file: %s", err.msg);

	snprintf(path, sizeof(path), "%s/dir.conf", tmpdir);
	if (mkdir(path, 0700))
		die(path);
	track(path, 1);
	r = bt_config_parse_file(path, &cfg, &err);
	snprintf(text, sizeof(text), "bpftun: %s: a directory, not a regular file", path);
	check(r == -EINVAL && !strcmp(err.msg, text), "config that is a directory: %s", err.msg);
}

static void make_fixtures(void)
{
	char path[PATH_MAX], big[300];

	if (!mkdtemp(tmpdir))
		die("mkdtemp");
	have_tmpdir = 1;
	write_file("key600", PRIV "\n", strlen(PRIV) + 1, 0600, path);
	write_file("key400", "  " PRIV "  \n\n", strlen(PRIV) + 6, 0400, path);
	write_file("key640", PRIV "\n", strlen(PRIV) + 1, 0640, path);
	write_file("key604", PRIV "\n", strlen(PRIV) + 1, 0604, path);
	write_file("key620", PRIV "\n", strlen(PRIV) + 1, 0620, path);
	write_file("keybad", "not-a-key\n", 10, 0600, path);
	write_file("keyempty", "", 0, 0600, path);
	memset(big, 'A', sizeof(big));
	write_file("keylong", big, sizeof(big), 0600, path);
	snprintf(path, sizeof(path), "%s/keydir", tmpdir);
	if (mkdir(path, 0700) || chmod(path, 0700))
		die(path);
	track(path, 1);
}

/* The fuzzer's corpus: the good config and every buffer row; and a dictionary. */
static int write_seeds(const char *dir, const char *dict)
{
	char path[PATH_MAX], text[4096];
	FILE *f;

	for (size_t i = 0; i <= sizeof(bad) / sizeof(bad[0]); i++) {
		const char *t = i ? bad[i - 1].text : good_conf;

		subst(t, "/nonexistent", text, sizeof(text));
		snprintf(path, sizeof(path), "%s/seed-%03zu.conf", dir, i);
		f = fopen(path, "w");
		if (!f || fputs(text, f) < 0 || fclose(f)) {
			perror(path);
			return 1;
		}
	}
	if (!dict)
		return 0;
	f = fopen(dict, "w");
	if (!f)
		return perror(dict), 1;
	fputs(
	    "\"[Interface]\"\n\"[Peer]\"\n\"PrivateKey\"\n\"PrivateKeyFile\"\n\"ListenPort\"\n"
	    "\"Address\"\n\"MTU\"\n\"Cipher\"\n\"Protocol\"\n\"wireguard\"\n\"Steering\"\n\"Steerin"
	    "gCPUs\"\n"
	    "\"PublicKey\"\n\"Endpoint\"\n\"AllowedIPs\"\n\"PresharedKey\"\n\"PresharedKeyFile\"\n"
	    "\"PersistentKeepalive\"\n\"aes-generic\"\n\"aes-fixed-time\"\n\"off\"\n"
	    "\" = \"\n\"\\x0a\"\n\"#\"\n\",\"\n\"/\"\n\"::\"\n\"[::1]:\"\n\"/32\"\n\"/128\"\n"
	    "\"" PUB1 "\"\n\"" PUB2 "\"\n\"" PRIV "\"\n",
	    f);
	return fclose(f) ? perror(dict), 1 : 0;
}

/* PrivateKeyKeyring: parsed without touching the keyring; the key is read
 * by bt_config_keyring_load, which refuses a missing and a revoked key with
 * the line. Uses the real user keyring (a key "bpftun:kc<pid>", removed). */
static void check_keyring(void)
{
	char name[32], ifn[16], text[256];
	struct bt_config cfg;
	struct config_error e;
	uint8_t key[32];
	int32_t serial;
	int r;

	snprintf(ifn, sizeof(ifn), "kc%d", (int)getpid() % 1000000);
	snprintf(name, sizeof(name), "%s.conf", ifn);
	snprintf(text, sizeof(text),
		 "[Interface]\nPrivateKeyKeyring = user:bpftun:%s\nListenPort = 51820\n" PEER1,
		 ifn);
	r = bt_config_parse_buffer(name, text, strlen(text), &cfg, &e);
	check(r == 0 && !cfg.have_private_key && cfg.keyring_line == 2 &&
		  !strcmp(cfg.keyring_desc + 7, ifn) && !strncmp(cfg.keyring_desc, "bpftun:", 7),
	      "keyring: parsed, key not read yet (%s)", r ? e.msg : "ok");
	if (r)
		return;
	/* missing */
	r = bt_config_keyring_load(&cfg, name, &e);
	check(r == -ENOKEY && strstr(e.msg, ":2: PrivateKeyKeyring: no user key") &&
		  !cfg.have_private_key,
	      "keyring: missing key refused with the line (%d: %s)", r, e.msg);
	for (int i = 0; i < 32; i++)
		key[i] = (uint8_t)(0x60 + i);
	serial = bt_kr_add(cfg.keyring_desc, key);
	check(serial > 0, "keyring: bt_kr_add (%d)", serial);
	if (serial <= 0) {
		bt_config_free(&cfg);
		return;
	}
	r = bt_config_keyring_load(&cfg, name, &e);
	check(r == 0 && cfg.have_private_key && cfg.keyring_serial == serial &&
		  !memcmp(cfg.private_key, key, 32),
	      "keyring: key read from the keyring (%d: %s)", r, r ? e.msg : "ok");
	/* BT_KR_PERM gives possessors all: revoking needs possession, so this
	 * process joins a session of its own that links @u (keyctl link @u @s) */
	r = (int)syscall(SYS_keyctl, 1 /* KEYCTL_JOIN_SESSION_KEYRING */, NULL, 0, 0, 0);
	if (r >= 0)
		r = (int)syscall(SYS_keyctl, 8 /* KEYCTL_LINK */, -4L /* @u */, -3L /* @s */, 0, 0);
	if (r >= 0)
		r = (int)syscall(SYS_keyctl, 3 /* KEYCTL_REVOKE */, (unsigned long)serial, 0, 0, 0);
	check(r >= 0, "keyring: revoke (%s)", r < 0 ? strerror(errno) : "ok");
	memset(cfg.private_key, 0, 32);
	cfg.have_private_key = 0;
	e.msg[0] = 0;
	r = bt_config_keyring_load(&cfg, name, &e);
	check(r == -EKEYREVOKED && strstr(e.msg, "is revoked") &&
		  strstr(e.msg, ":2: PrivateKeyKeyring: ") && !cfg.have_private_key,
	      "keyring: revoked key refused with the line (%d: %s)", r, e.msg);
	syscall(SYS_keyctl, 9 /* KEYCTL_UNLINK */, (unsigned long)serial,
		(unsigned long)-4 /* KEY_SPEC_USER_KEYRING */, 0, 0);
	sodium_memzero(key, sizeof(key));
	bt_config_free(&cfg);
}

int main(int argc, char **argv)
{
	if (argc >= 3 && !strcmp(argv[1], "--write-seeds"))
		return write_seeds(argv[2], argc >= 4 ? argv[3] : NULL);
	if (sodium_init() < 0)
		return 1;
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGHUP, on_signal);
	atexit(cleanup);
	make_fixtures();

	check_keys();
	check_good();
	check_defaults();
	check_no_listen_port();
	check_steering();
	check_wg_quick_keys();
	check_protocol();
	check_mtu_v6_ok();
	check_crlf();
	check_nul();
	check_limit(LIMIT_PEERS, "peers", BT_MAX_PEERS,
		    "bt0.conf:%u: [Peer]: too many peers (max 16384)");
	check_limit(LIMIT_ALLOWED, "AllowedIPs", BT_MAX_ALLOWED,
		    "bt0.conf:%u: AllowedIPs: '10.8.64.0/24': too many AllowedIPs for one peer "
		    "(max 64)");
	check_limit(LIMIT_ADDRS, "addresses", BT_MAX_ADDRS,
		    "bt0.conf:%u: Address: '10.7.16.1/24': too many addresses (max 16)");
	/* All peers' AllowedIPs together: the datapath's table (70 peers x 64
	 * used to fail only while the host was being changed). */
	check_limit(LIMIT_ALLOWED_TOTAL, "AllowedIPs in all peers", BT_MAX_ALLOWED_TOTAL,
		    "bt0.conf:%u: AllowedIPs: '10.2.0.0/32': too many AllowedIPs in all peers "
		    "together (max 131072, the largest allowed_ips table of the datapath)");
	check_files();
	check_keyring();
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		run_bad(&bad[i]);
	printf("%zu bad configs in the table\n", sizeof(bad) / sizeof(bad[0]));
	cleanup();
	return check_summary();
}
