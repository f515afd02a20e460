/* SPDX-License-Identifier: GPL-2.0 */
/*
 * underlay.h - the devices a tunnel's outer packets use, for `bpftun` and
 * `bpftun-keymgmt` alike. The only code that attaches, detaches or hands
 * over tc_open and the clsact qdisc on an underlay, and the one route ->
 * endpoint resolution.
 *
 * Who added a clsact qdisc is recorded per underlay slot in the iface map
 * (clsact_created), before it is added, so that no crash leaves one behind
 * unrecorded. The tunnel that removes its tc_open from an underlay removes
 * that clsact if nothing else uses it, or hands the record on to another
 * bpftun tunnel listening there (underlay_detach_all).
 */
#ifndef BPFTUN_UNDERLAY_H
#define BPFTUN_UNDERLAY_H

#include <stdint.h>

#include "bpftun_shared.h"
#include "datapath.h"
#include "netlink.h"
#include "steer.h"

#include <stddef.h>

/* A filter on ifindex's TC ingress at bpftun's priority, handle `handle`. */
int tc_ingress_attach(int ifindex, int prog_fd, uint32_t handle);
int tc_ingress_detach(int ifindex, uint32_t handle);

/* The hidden (sealing) end of tunnel device `name`, if it is a bpftun
 * tunnel: -ENODEV if there is no such device, -ENOENT if it is not ours,
 * -EPERM/-EACCES if its tc filter's program may not be read (not root). */
int tunnel_hidden_ifindex(const char *name);

/*
 * tc_open on ifc->underlays[i]: "bpftun added the clsact" recorded in the
 * iface map before it is added (and taken back if someone else was
 * quicker), then the filter. step (may be NULL) is called after each host
 * change (the crash-test hook of `up`). With ifc->steering, xdp_steer
 * too (steer_attach, after tc_open); fatal for `up` (strict), only logged
 * for the key manager, whose tunnel keeps working unsteered there.
 * 0 or -errno, said in the log.
 */
int underlay_attach(struct datapath *dp, struct bpftun_iface *ifc, uint32_t i,
		    void (*step)(const char *what), int strict);

/*
 * Software RSS (Steering = on): before anything changes, whether xdp_steer
 * can go on dev: no XDP program on it (any mode; another tunnel's xdp_steer
 * counts), no GRO feature that merges data messages in the cpumap
 * (steer_gro_check, which bpftun never turns off itself). 0, or -EBUSY /
 * -errno with the reason in why.
 */
int underlay_steer_check(int dev, char *why, size_t whylen);

/* This tunnel's xdp_steer on dev: the one whose steer_cfg listens on port
 * (host order). Its program fd (caller closes) and, if stats is not NULL,
 * its counters summed over CPUs. -ENOENT if dev has none of ours. */
int underlay_steer_find(int dev, uint16_t port, struct bpftun_steer_stats *stats);

/* The key manager: tc_open on ifindex too if this tunnel does not listen
 * there yet (the slot of a device that is gone is reused). On failure the
 * iface map is left as it was, so the next call tries again. */
int underlay_listen(struct datapath *dp, int ifindex);

/* tc_open (and this tunnel's xdp_steer) off every underlay of ifc; each clsact bpftun added removed
 * if no filter is left on it, else handed on to another bpftun tunnel there. */
void underlay_detach_all(const struct bpftun_iface *ifc);

/*
 * tc_open filters on any device of this namespace whose tunnel is gone
 * (see underlay.c). Detached unless dry, with the clsact they leave empty.
 * Returns how many were found; names them when dry or with -v.
 */
int underlay_sweep_orphans(int dry);
/*
 * The same for xdp_steer: a program a tunnel attached (BPFTUN_STEER_F_TUNNEL)
 * on a device where no live tunnel's tc_open listens on its port any more
 * (the device deleted by hand, the key manager killed, an `up` killed half
 * way). Detached unless dry; how many were found. Run after
 * underlay_sweep_orphans, by `down` and `cleanup`; `up` refuses while one is
 * on a device it would use.
 */
int underlay_sweep_steer_orphans(int dry);

/*
 * The endpoint (addr, port) reached by route r: device, source (the
 * route's prefsrc), destination, port and the MACs for show. ep->sport is
 * not touched. port in host order.
 */
void underlay_endpoint(const struct nl_route_info *r, int family, const void *addr, uint16_t port,
		       struct bpftun_endpoint *ep);

/* The route to addr looked up now, then underlay_endpoint. *oif (may be
 * NULL): the device. 0 or -errno (no route). */
int underlay_resolve(int family, const void *addr, uint16_t port, struct bpftun_endpoint *ep,
		     int *oif);

#endif
