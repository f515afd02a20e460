/* SPDX-License-Identifier: GPL-2.0 */
/*
 * netlink.h - the device, address, route and qdisc set-up the bpftun
 * command needs, over rtnetlink (libnl-route-3), SIOCETHTOOL and libbpf's
 * clsact helpers. It replaces the ip/ethtool/tc calls of scripts/lib/topo.sh.
 *
 * The tunnel device is a veth pair (see docs/kernel.md, "The
 * tunnel device: GSO and partial checksums"):
 *   - the user-facing end (e.g. "bt0") has IFF_NOARP, the tunnel MTU and
 *     tx-checksumming, tso and gso off, so the kernel segments packets and
 *     completes their checksums before they cross the pair;
 *   - the hidden end (nl_tunnel_peer_name()) runs the seal program on its
 *     TC ingress.
 *
 * Conventions:
 *   - Every function returns 0 (or a non-negative value where stated) or
 *     -errno, with the kernel's errno preserved (e.g. -ENETUNREACH).
 *   - Every call opens its own netlink socket, so it acts in the calling
 *     thread's current network namespace (setns() between calls is fine),
 *     and nothing is cached between calls.
 *   - Failures print one line to stderr naming the object, e.g.
 *     "bpftun: link 'bt0': set mtu 100000: Invalid argument (kernel: mtu
 *     greater than device maximum)". Lookups that merely find nothing
 *     (nl_link_index, nl_neigh_lookup, ... returning -ENODEV/-ENOENT) are
 *     silent: the caller decides whether that is an error.
 *   - family is AF_INET or AF_INET6; 4 and 6 are accepted as aliases (the
 *     convention of bpf/datapath.h). Addresses are in network byte order, 4 or 16 bytes.
 */
#ifndef BPFTUN_NETLINK_H
#define BPFTUN_NETLINK_H

#include <net/if.h>
#include <stdint.h>

/* Feature bits of struct nl_tunnel.features_on. */
#define NL_FEAT_TX_CSUM 0x1 /* tx-checksumming */
#define NL_FEAT_TSO	0x2 /* tcp-segmentation-offload */
#define NL_FEAT_GSO	0x4 /* generic-segmentation-offload */

struct nl_tunnel {
	int ifindex;		  /* user-facing end */
	int peer_ifindex;	  /* hidden end */
	unsigned int mtu;	  /* of the user-facing end */
	uint8_t mac[6];		  /* user-facing end's MAC */
	char peer_name[IFNAMSIZ]; /* hidden end's name */
	unsigned int features_on; /* NL_FEAT_* still on; 0 once created */
};

/*
 * Name of the hidden end for a tunnel called name:
 *   strlen(name) <= 12: name + "-s"              ("bt0" -> "bt0-s")
 *   13..15 characters:  "bts" + 8 lowercase hex digits of the 32-bit
 *                       FNV-1a hash of name      ("bts1a2b3c4d")
 * out must hold IFNAMSIZ bytes. -EINVAL if name is empty or longer than
 * IFNAMSIZ - 1.
 */
int nl_tunnel_peer_name(const char *name, char out[IFNAMSIZ]);

/*
 * Create the tunnel device name (user-facing end) and its hidden peer.
 * mtu 0 keeps the kernel default. Both ends end up up with MTU mtu; the
 * user end has NOARP and tx-checksumming/tso/gso off (read back; a feature
 * that does not turn off fails with -EOPNOTSUPP). -EEXIST if name or the
 * hidden peer's name exists (nothing is touched). On any failure after the
 * pair was created, the pair is deleted again. out may be NULL.
 */
int nl_tunnel_create(const char *name, unsigned int mtu, struct nl_tunnel *out);

/*
 * Describe an existing veth pair name (user end) as created above: both
 * ifindexes, MTU, MAC, the hidden end's actual name, and which offloads are
 * on. -ENODEV if missing (silent), -EINVAL if name is not a veth device.
 */
int nl_tunnel_get(const char *name, struct nl_tunnel *out);

/*
 * bpftun's mark: the hidden end is created in link group NL_TUNNEL_GROUP,
 * in the same RTM_NEWLINK that creates the pair, so a pair that exists is
 * marked (`ip -d link show` shows "group 1651799406"). nl_tunnel_marked(name)
 * gives the hidden end's ifindex (> 0) if name is a veth whose peer, in the
 * same namespace, carries the mark and the name nl_tunnel_peer_name(name);
 * -ENODEV if there is no such device, -ENOENT if it is not marked (silent).
 */
#define NL_TUNNEL_GROUP 0x6274756eU /* "btun" */
int nl_tunnel_marked(const char *name);

/* Tests of crash safety only: called after each step of nl_tunnel_create
 * that changes the host, when set (NULL otherwise). */
extern void (*nl_step_hook)(const char *what);

/* 1 if ifindex has a clsact qdisc, 0 if not, -errno. */
int nl_clsact_exists(int ifindex);

/* Delete the veth device name; its peer goes with it. -ENODEV if missing,
 * -EINVAL (nothing deleted) if name is not a veth device. */
int nl_tunnel_delete(const char *name);

/* Add addr/prefix to ifindex; IPv6 gets IFA_F_NODAD. -EEXIST if present. */
int nl_addr_add(int ifindex, int family, const void *addr, unsigned int prefix);

/*
 * Route dst/prefix (an AllowedIPs entry; host bits are masked off) via
 * ifindex in the main table, proto static (NL_RTPROT), scope link. If the
 * prefix is the connected prefix of an address on ifindex, the kernel
 * already routes it there: nothing is added and 0 is returned. -EEXIST if
 * the same route exists otherwise. nl_route_del removes what nl_route_add
 * added (only proto static routes; the connected prefix is left alone and
 * gives 0); -ENOENT if there is no such route.
 */
#define NL_RTPROT 4 /* RTPROT_STATIC */
int nl_route_add(int ifindex, int family, const void *dst, unsigned int prefix);
int nl_route_del(int ifindex, int family, const void *dst, unsigned int prefix);
/* nl_route_add into routing table `table` (no connected-prefix shortcut
 * outside main); such routes go with the device. */
int nl_route_add_table(int ifindex, int family, const void *dst, unsigned int prefix,
		       uint32_t table);
/* 1 if routing table `table` holds any route (IPv4 or IPv6), 0 if not, -errno. */
int nl_table_in_use(uint32_t table);

/*
 * Policy rules as wg-quick adds them for a full tunnel (add 1, delete 0):
 *   not_fwmark M: `ip rule add not fwmark M table T`
 *   suppress0:    `ip rule add table T suppress_prefixlength 0` (T: main)
 * -EEXIST (silent) if the same rule exists on add, -ENOENT (silent) if
 * there is none on delete.
 */
int nl_rule(int add, int family, uint32_t table, uint32_t not_fwmark, int suppress0);

/* FwMark: the mark nl_route_get's lookups carry (RTA_MARK), 0 = none. The
 * routes to endpoints are those our marked outer packets take. */
extern uint32_t nl_route_mark;

struct nl_route_info {
	int oif;	   /* output device */
	unsigned int type; /* RTN_UNICAST, RTN_LOCAL, ... */
	int has_prefsrc;
	int prefsrc_family;  /* AF_INET or AF_INET6 */
	uint8_t prefsrc[16]; /* preferred source address */
	int has_gateway;
	int gw_family; /* may differ from the lookup's (RTA_VIA) */
	uint8_t gateway[16];
	unsigned int mtu;	/* MTU of the output device */
	unsigned int route_mtu; /* RTAX_MTU of the route, 0 if none */
};

/*
 * What `ip route get DST` answers: a RTM_GETROUTE lookup. The route's
 * errors are returned as such (-ENETUNREACH, -EHOSTUNREACH, ...), silently.
 */
int nl_route_get(int family, const void *dst, struct nl_route_info *out);

/*
 * The MAC of addr on ifindex from the neighbour table, if the entry is
 * valid (NUD_REACHABLE, STALE, DELAY, PROBE, PERMANENT, NOARP) and has a
 * 6-byte link-layer address. -ENOENT otherwise (silent); no resolution is
 * triggered.
 */
int nl_neigh_lookup(int ifindex, int family, const void *addr, uint8_t mac[6]);

/* The link-layer address of ifindex; -EINVAL if it is not 6 bytes. */
int nl_link_mac(int ifindex, uint8_t mac[6]);

/* ifindex of name (> 0), or -ENODEV (silent). */
int nl_link_index(const char *name);

/* ifindex (> 0) of the veth peer of ifindex, from IFLA_LINK. -EINVAL if
 * ifindex is not a veth, -EXDEV if the peer is in another namespace
 * (silent: a lookup). */
int nl_veth_peer_ifindex(int ifindex);

/*
 * Make sure ifindex has a clsact qdisc (libbpf bpf_tc_hook_create).
 * *created is 1 if this call added it, 0 if it was there already, so that
 * teardown removes only what bpftun added. nl_clsact_del deletes the qdisc
 * with all its filters; -ENOENT if there is none.
 */
int nl_clsact_ensure(int ifindex, int *created);
int nl_clsact_del(int ifindex);

/*
 * The filters on ifindex's clsact qdisc: returns how many there are on
 * ingress and egress together (0 if none or no qdisc), and the handles of
 * up to max ingress filters. bpftun's tc_open filters use the tunnel
 * device's ifindex as handle, which is how `down` finds the other tunnels
 * sharing an underlay.
 */
int nl_clsact_filters(int ifindex, uint32_t *ingress_handles, int max);

#endif
