/* SPDX-License-Identifier: GPL-2.0 */
/*
 * bpftun_shared.h - the single source of truth shared by the BPF datapath and
 * userspace: wire format, SA install API, drop reasons, counters, limits.
 *
 * Fixed-width __u* types only, no pointers, no bool: this header is compiled
 * both by clang -target bpf (with vmlinux.h) and by the host compiler (with
 * <linux/types.h>).
 */
#ifndef BPFTUN_SHARED_H
#define BPFTUN_SHARED_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

/* ---------------------------------------------------------------- wire format */

/* Message types (first byte of the bpftun header). Data is sealed by the TC
 * datapath; handshake types are carried to the key-management socket untouched. */
#define BPFTUN_MSG_HANDSHAKE_INIT 1
#define BPFTUN_MSG_HANDSHAKE_RESP 2
#define BPFTUN_MSG_COOKIE	  3
#define BPFTUN_MSG_DATA		  4

/* Transport data header: WireGuard's. It is also the AES suite's associated
 * data; the WireGuard suite authenticates none and keeps reserved[] zero. */
struct bpftun_hdr {
	__u8 type;
	__u8 reserved[3];
	__u32 receiver_index; /* little endian on the wire */
	__u64 counter;	      /* little endian on the wire */
};

#define BPFTUN_HDR_LEN 16
#define BPFTUN_TAG_LEN 16
#define BPFTUN_UDP_LEN 8
#define BPFTUN_IP4_LEN 20
#define BPFTUN_IP6_LEN 40
#define BPFTUN_ETH_LEN 14
/* Bytes added to an inner packet: outer IP + UDP + header + tag. */
#define BPFTUN_OVERHEAD_V4 (BPFTUN_IP4_LEN + BPFTUN_UDP_LEN + BPFTUN_HDR_LEN + BPFTUN_TAG_LEN)
#define BPFTUN_OVERHEAD_V6 (BPFTUN_IP6_LEN + BPFTUN_UDP_LEN + BPFTUN_HDR_LEN + BPFTUN_TAG_LEN)

/* Largest inner packet the datapath seals or opens: a constant bound for
 * every BPF buffer and loop. 1504 is a multiple of 16 that holds any inner
 * packet a 1500-byte underlay can carry (at most 1500 - 60 with outer IPv4). */
#define BPFTUN_MAX_INNER 1504

_Static_assert(sizeof(struct bpftun_hdr) == BPFTUN_HDR_LEN, "wire header is 16 bytes");

/* ------------------------------------------------------------------- the AEAD */

/* The AES suite: AES-256 in counter mode built from ecb(aes), Poly1305 as in
 * RFC 8439 2.8 (the WireGuard suite's ChaCha20-Poly1305: lib/wg_data.h).
 * Keystream block i = AES_K(salt[4] || le64(counter) || be32(i)).
 * Blocks 0-1: Poly1305 one-time key. Blocks 2..: payload keystream. */
#define BPFTUN_KEY_LEN	      32
#define BPFTUN_SALT_LEN	      4
#define BPFTUN_BLOCK	      16
#define BPFTUN_POLYKEY_BLOCKS 2
/* Keystream bytes per packet: poly key + payload rounded up to a block. */
#define BPFTUN_KS_MAX (BPFTUN_POLYKEY_BLOCKS * BPFTUN_BLOCK + BPFTUN_MAX_INNER)

/* Scratch buffers are 2048 bytes so that an offset masked with 0x7ff and
 * followed by a 16-byte access stays inside a 2048+16 buffer. */
#define BPFTUN_SCRATCH	    2048
#define BPFTUN_SCRATCH_MASK (BPFTUN_SCRATCH - 1)
_Static_assert(BPFTUN_KS_MAX <= BPFTUN_SCRATCH, "keystream fits scratch");
_Static_assert(BPFTUN_HDR_LEN + BPFTUN_MAX_INNER + 2 * BPFTUN_BLOCK <= BPFTUN_SCRATCH,
	       "header + ciphertext + padding fit scratch");

/* ---------------------------------------------------------------- SA limits */

/* WireGuard's constants (messages.h), used as hard limits by the datapath. */
#define BPFTUN_REKEY_AFTER_MESSAGES  (1ULL << 60)
#define BPFTUN_REJECT_AFTER_MESSAGES (~0ULL - (1ULL << 13)) /* UINT64_MAX - window */
#define BPFTUN_REKEY_AFTER_TIME_S    120
#define BPFTUN_REJECT_AFTER_TIME_S   180

/* Replay window: RFC 6479 bitmap of 128 64-bit words; 8192 - 64 packets of
 * reordering are always accepted (one word is the ring's moving edge). */
#define BPFTUN_REPLAY_WORDS  128
#define BPFTUN_REPLAY_BITS   (BPFTUN_REPLAY_WORDS * 64)
#define BPFTUN_REPLAY_WINDOW (BPFTUN_REPLAY_BITS - 64)

/* SA slots per peer and direction: a ring of three (previous, current, next). */
#define BPFTUN_SLOTS 3
/* Peers per interface: the ceiling. The per-peer maps are sized at load
 * (bpf/datapath.c, dp_capacity) from the configuration, between
 * BPFTUN_MIN_PEERS and this; cfg.max_peers holds the size chosen. A peer id
 * is below cfg.max_peers; in the stats map, index cfg.max_peers holds the
 * drops no peer can be blamed for, which userspace names BPFTUN_NO_PEER. */
#define BPFTUN_MAX_PEERS  16384
#define BPFTUN_MIN_PEERS  256
#define BPFTUN_NO_PEER	  BPFTUN_MAX_PEERS
#define BPFTUN_MAX_RX_SAS (BPFTUN_MAX_PEERS * BPFTUN_SLOTS)
/* Entries of the allowed_ips LPM trie: every peer's AllowedIPs together
 * (IPv4 and IPv6). The config parser refuses more (tunnel/config.h). The
 * trie is not preallocated; its max_entries is sized at load like the
 * per-peer maps, between BPFTUN_MIN_ALLOWED_IPS and this. */
#define BPFTUN_MAX_ALLOWED_IPS 131072
#define BPFTUN_MIN_ALLOWED_IPS 4096
#define BPFTUN_ALGO_LEN	       32

/* --------------------------------------------------------- SA control program */

enum bpftun_sa_op {
	BPFTUN_OP_INSTALL_TX = 1,  /* create a tx SA in peer/slot (not the active slot) */
	BPFTUN_OP_INSTALL_RX = 2,  /* create an rx SA in peer/slot and index it by receiver index */
	BPFTUN_OP_ACTIVATE_TX = 3, /* make peer/slot the sending SA */
	BPFTUN_OP_CLEAR_SLOT = 4,  /* drop the tx and rx SAs of peer/slot */
	BPFTUN_OP_DELETE_PEER = 5, /* drop every SA of the peer */
};

/* Passed as ctx_in to the SEC("syscall") program sa_ctl and copied back as
 * ctx_out. The program zeroes key[] before returning. */
struct bpftun_sa_req {
	__u32 op;
	__u32 peer_id;
	__u32 slot;
	__u32 index; /* rx: our receiver index; tx: the peer's receiver index */
	__u8 key[BPFTUN_KEY_LEN];
	__u8 salt[BPFTUN_SALT_LEN];
	__u32 flags;		    /* BPFTUN_SA_F_* */
	char algo[BPFTUN_ALGO_LEN]; /* "ecb(aes)" (default), "ecb(aes-generic)", ... */
	__u64 expire_ns;	    /* CLOCK_MONOTONIC (bpf_ktime_get_ns); 0 = never */
	__u64 counter_limit;	    /* tx: messages this key may send; 0 = default */
	__s32 err;		    /* out: 0 or -errno */
	__u32 pad;
};

/* bpftun_sa_req.flags. BPFTUN_SA_F_WIREGUARD: the SA is of the WireGuard
 * suite (ChaCha20-Poly1305 in BPF, key[] is the 32-byte ChaCha20 key, salt
 * unused); without it the AES suite on bpf_crypto. */
#define BPFTUN_SA_F_WIREGUARD (1U << 0)

/* The suite an installed SA belongs to, as the datapath records it in the
 * SA's map value (tx_sas, rx_sas) and tc_seal / tc_open / tc_keepalive
 * dispatch on it. */
#define BPFTUN_SUITE_AES       0 /* AES-CTR (bpf_crypto ecb) + Poly1305, header as AD */
#define BPFTUN_SUITE_WIREGUARD 1 /* WireGuard's ChaCha20-Poly1305 in BPF, no AD */

/* Passed as ctx_in to sa_ctl_keyring: the same request, plus the serial of
 * the identity key in the kernel keyring and the time now (CLOCK_REALTIME
 * seconds: the keyring's expiry clock, which BPF cannot read). The program
 * installs only while that key is a positive "user" key described as the
 * loader's keyring_desc, not revoked and not expired (docs/keymgmt.md). */
#define BPFTUN_KEYDESC_LEN 32
struct bpftun_sa_keyring_req {
	struct bpftun_sa_req req; /* first: the key sits at the same ctx offset */
	__s32 serial;
	__u32 pad;
	__u64 now; /* real time, seconds */
};

/* ------------------------------------------------------ peers and endpoints */

#define BPFTUN_EP_V6  (1U << 0) /* outer IPv6 */
#define BPFTUN_EP_FIB (1U << 1) /* let the kernel route and resolve: bpf_redirect_neigh */

/* Where a peer's sealed packets go. Set by the control plane. */
struct bpftun_endpoint {
	__u32 flags;
	__u32 ifindex;	/* underlay device for redirect */
	__u8 saddr[16]; /* outer source (IPv4 in the first 4 bytes) */
	__u8 daddr[16]; /* outer destination */
	__u16 sport;	/* network order */
	__u16 dport;	/* network order */
	__u8 smac[6];
	__u8 dmac[6];
};

/* Value of the `peers` array map. The datapath reads tx_active and ep; the
 * rest is the control plane's record, kept here so that any process (show,
 * down, a restarted key manager) finds it without private state. */
struct bpftun_peer {
	__u32 tx_active; /* slot used for sending */
	__u32 present;	 /* configured */
	struct bpftun_endpoint ep;
	__u8 public_key[32];
	__u64 last_handshake;	/* unix seconds, 0 = never */
	__u64 session_start_ns; /* CLOCK_MONOTONIC of the active session's handshake */
	__u16 keepalive;	/* seconds, 0 = off */
	__u16 pad[3];
	__u8 handshake_ts[12]; /* greatest TAI64N accepted from the peer: replays
				* stay refused across key manager restarts */
	__u32 pad2;
	/* Outer source of the latest authentic data message, written by tc_open
	 * only when it changes: the key manager follows a peer that roams. */
	__u8 seen_addr[16]; /* IPv4 in the first 4 bytes */
	__u16 seen_port;    /* network order; 0 = nothing seen yet */
	__u8 seen_v6;
	__u8 seen_pad[5];
};

/* Userspace view of a `tx_sas` value. The first word is the context kptr,
 * which always reads as zero from userspace: `present` says whether a key
 * is installed. datapath.bpf.c asserts the layouts agree. A slot's counter
 * is never reset: a new key continues from where the slot's counter is, so
 * the messages sent under the current key are counter - counter_start. */
struct bpftun_tx_sa_view {
	__u64 ctx;
	__u64 counter;	     /* next counter of the slot: only ever grows */
	__u64 counter_limit; /* absolute: counter_start + the request's limit */
	__u64 expire_ns;
	__u32 remote_index;
	__u32 salt;
	__u32 present;
	__u32 suite;	     /* BPFTUN_SUITE_* */
	__u64 counter_start; /* the slot's counter when this key was installed */
	/* The WireGuard suite's ChaCha20-Poly1305 key (zero for the AES suite,
	 * whose key is inside the kernel's cipher context). Whoever reads the
	 * value reads the key: zero the copy (bpf/datapath.c dp_tx_sa does). */
	__u8 wg_key[32];
};

/* Userspace view of the head of an `rx_sas` value (its replay window
 * follows). `replay_next` > 0 once a packet under this SA was accepted: the
 * key manager's proof that the peer has switched to these keys. */
struct bpftun_rx_sa_view {
	__u32 lock;
	__u32 peer_id;
	__u64 ctx;
	__u64 expire_ns;
	__u32 salt;
	__u32 slot;
	__u64 replay_next;
};

/* tc filter handle and priority of bpftun's programs (clsact ingress). */
#define BPFTUN_TC_HANDLE 0xb7
#define BPFTUN_TC_PRIO	 1

/* Value of the one-entry `iface` map: what the tunnel is, for any process
 * that finds the datapath from the tunnel device (see bpf/datapath.c dp_find). */
#define BPFTUN_MAX_MAPS	     16
#define BPFTUN_MAX_UNDERLAYS 8
struct bpftun_iface {
	__u32 disabled; /* set while going down: tc_seal drops everything */
	__u32 tun_ifindex;
	__u32 hidden_ifindex;
	__u32 mtu;
	__u16 listen_port; /* host order */
	__u16 steering;	   /* Steering = on: xdp_steer beside tc_open on each underlay */
	__u32 nmaps;
	__u32 map_ids[BPFTUN_MAX_MAPS]; /* every map of this datapath instance */
	__u8 public_key[32];
	char cipher[24];	    /* user word: aes-fixed-time, aes-generic */
	char algo[BPFTUN_ALGO_LEN]; /* kernel name: ecb(aes), ecb(aes-generic) */
	__u32 keymgmt_pid;
	__u32 nunderlays;
	__u32 underlays[BPFTUN_MAX_UNDERLAYS]; /* devices whose ingress runs tc_open */
	__u32 clsact_created;		       /* bit i: bpftun added underlays[i]'s clsact */
	__u32 steer_cpus;     /* SteeringCPUs: bit c = CPU c; 0 = every online CPU */
	__s32 keyring_serial; /* PrivateKeyKeyring: the identity key's serial; 0 = none */
};

/* ------------------------------------------------------------ allowed IPs */

struct bpftun_lpm_key {
	__u32 prefixlen; /* 0..32 for v4 (after the family word), see below */
	__u32 family;	 /* 4 or 6; part of the key so v4 and v6 never overlap */
	__u8 addr[16];
};
/* prefixlen counts the family word: a v4 /24 is stored as 32 + 24. */
#define BPFTUN_LPM_FAMILY_BITS 32

/* --------------------------------------------------------- drops and counters */

/* Drop reasons: defined once here, named by bpftun_drop_names() below. */
#define BPFTUN_DROP_REASONS(X)                                                                     \
	X(BAD_TAG, "bad_tag")                                                                      \
	X(REPLAY, "replay")                                                                        \
	X(NO_SA, "no_sa")                                                                          \
	X(NOT_ALLOWED_IP, "not_allowed_ip")                                                        \
	X(MALFORMED, "malformed")                                                                  \
	X(TOO_BIG, "too_big")                                                                      \
	X(COUNTER_EXHAUSTED, "counter_exhausted")                                                  \
	X(NO_PEER, "no_peer")                                                                      \
	X(NO_ROUTE, "no_route")                                                                    \
	X(CRYPTO_ERROR, "crypto_error")                                                            \
	X(KEY_EXPIRED, "key_expired")                                                              \
	X(CSUM_PARTIAL, "csum_partial")                                                            \
	X(INTERNAL, "internal")

#define BPFTUN_DROP_ENUM(n, s) BPFTUN_DROP_##n,
enum bpftun_drop { BPFTUN_DROP_NONE = 0, BPFTUN_DROP_REASONS(BPFTUN_DROP_ENUM) BPFTUN_DROP_MAX };
#undef BPFTUN_DROP_ENUM

/* Per-peer counters, one copy per CPU (BPF_MAP_TYPE_PERCPU_ARRAY). */
struct bpftun_peer_stats {
	__u64 rx_packets;
	__u64 rx_bytes; /* inner bytes delivered */
	__u64 tx_packets;
	__u64 tx_bytes; /* inner bytes sealed */
	__u64 drops[BPFTUN_DROP_MAX];
	__u64 last_rx_ns; /* bpf_ktime_get_ns of the last authenticated packet */
};

/* Datapath-wide settings, in the program's .rodata/.data. */
struct bpftun_config {
	__u32 tun_ifindex; /* user-facing tunnel device: decap target */
	__u16 listen_port; /* network order */
	__u8 tun_mac[6];   /* destination MAC for decapsulated packets */
	/* Set by dp_load, not by callers: the peers the maps hold (peer ids
	 * 0..max_peers-1; stats index max_peers = unattributed drops). */
	__u32 max_peers;
	__u32 max_allowed_ips;
};

#ifndef __VMLINUX_H__
/* Userspace: the names of drop reasons, index = enum bpftun_drop. */
static inline const char *bpftun_drop_name(unsigned int r)
{
#define BPFTUN_DROP_NAME(n, s) [BPFTUN_DROP_##n] = s,
	static const char *const names[BPFTUN_DROP_MAX] = {[BPFTUN_DROP_NONE] = "none",
							   BPFTUN_DROP_REASONS(BPFTUN_DROP_NAME)};
#undef BPFTUN_DROP_NAME
	return r < BPFTUN_DROP_MAX ? names[r] : "unknown";
}
#endif

#endif /* BPFTUN_SHARED_H */
