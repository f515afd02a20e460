// SPDX-License-Identifier: GPL-2.0
/*
 * test_steer.c - software RSS (bpf/steer.bpf.c) and the sender's flow mark
 * (bpf/lib/flow_mark.h), through the real verifier and BPF_PROG_TEST_RUN:
 *   - the flow mark equals 1 + (SipHash-2-4 mod 2^bits) computed here with
 *     libsodium over a tuple built independently from the packet bytes;
 *   - data messages for this host go XDP_REDIRECT, to the CPU chosen by the
 *     mark (or, unmarked, by libsodium's SipHash of the outer tuple), counted
 *     per target CPU; the frame is never changed;
 *   - handshake, cookie, foreign, VLAN, fragment, short and transit frames
 *     pass untouched and steer nothing;
 *   - ESP (IPv4 and IPv6 outer) with an unknown SPI: XDP_PASS, untouched,
 *     counted as not found;
 *   - a program that keeps an xfrm state reference is refused by the
 *     verifier ("Unreleased reference"): the release is enforced at load.
 * Runs in its own network namespace (unshare), with a veth pair for the fib
 * lookups (local and transit addresses).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <sodium.h>

#include "check.h"
#include "steer_shared.h"
#include "bpftun_shared.h"
#include "steer.skel.h"
#include "steer_test.skel.h"

#define PORT		51820
#define XDP_PASS_RC	2
#define XDP_REDIRECT_RC 4

static char log_buf[1 << 20];

static int libbpf_quiet(enum libbpf_print_level l, const char *f, va_list ap)
{
	return l == LIBBPF_WARN ? vfprintf(stderr, f, ap) : 0;
}

/* ------------------------------------------------------------ frames */

struct frame {
	uint8_t b[256];
	uint32_t len;
};

static const uint8_t mac[12] = {2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1};

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* Ethernet + outer IPv4 or IPv6 + `proto` payload of plen bytes (UDP: an 8-byte
 * header for sport/dport then msg). Returns the offset of the L4 header. */
static uint32_t build(struct frame *f, int v6, const char *src, const char *dst, uint8_t proto,
		      uint16_t sport, uint16_t dport, const uint8_t *msg, uint32_t mlen)
{
	uint32_t l4;

	memset(f, 0, sizeof(*f));
	memcpy(f->b, mac, 12);
	if (v6) {
		put16(f->b + 12, 0x86dd);
		f->b[14] = 0x60;
		f->b[14 + 6] = proto;
		f->b[14 + 7] = 64;
		inet_pton(AF_INET6, src, f->b + 14 + 8);
		inet_pton(AF_INET6, dst, f->b + 14 + 24);
		l4 = 14 + 40;
	} else {
		put16(f->b + 12, 0x0800);
		f->b[14] = 0x45;
		f->b[14 + 8] = 64;
		f->b[14 + 9] = proto;
		inet_pton(AF_INET, src, f->b + 14 + 12);
		inet_pton(AF_INET, dst, f->b + 14 + 16);
		l4 = 14 + 20;
	}
	if (proto == 17) {
		put16(f->b + l4, sport);
		put16(f->b + l4 + 2, dport);
		put16(f->b + l4 + 4, (uint16_t)(8 + mlen));
		memcpy(f->b + l4 + 8, msg, mlen);
		f->len = l4 + 8 + mlen;
	} else {
		memcpy(f->b + l4, msg, mlen);
		f->len = l4 + mlen;
	}
	if (v6)
		put16(f->b + 14 + 4, (uint16_t)(f->len - 14 - 40));
	else
		put16(f->b + 14 + 2, (uint16_t)(f->len - 14));
	return l4;
}

/* ---------------------------------------------- reference: tuple, SipHash */

/* Built from the bytes as the docs describe, not from the BPF code. */
static uint64_t ref_siphash(const void *key, const struct bpftun_flow_tuple *t)
{
	uint8_t out[8], k[16];
	uint64_t h;

	memcpy(k, key, 16);
	crypto_shorthash_siphash24(out, (const uint8_t *)t, sizeof(*t), k);
	memcpy(&h, out, 8);
	return h;
}

/* Inner flow tuple of an IP packet (ports for TCP/UDP/SCTP/UDP-Lite, not in fragments). */
static void ref_inner_tuple(const uint8_t *ip, uint32_t len, struct bpftun_flow_tuple *t)
{
	uint32_t l4 = 0;

	memset(t, 0, sizeof(*t));
	if (ip[0] >> 4 == 4) {
		uint16_t frag = (uint16_t)((ip[6] << 8) | ip[7]);

		t->family = 4;
		t->proto = ip[9];
		memcpy(t->saddr, ip + 12, 4);
		memcpy(t->daddr, ip + 16, 4);
		if (!(frag & 0x3fff))
			l4 = (ip[0] & 15) * 4u;
	} else {
		t->family = 6;
		t->proto = ip[6];
		memcpy(t->saddr, ip + 8, 16);
		memcpy(t->daddr, ip + 24, 16);
		l4 = 40;
	}
	if (l4 && (t->proto == 6 || t->proto == 17 || t->proto == 132 || t->proto == 136) &&
	    l4 + 4 <= len) {
		memcpy(&t->sport, ip + l4, 2);
		memcpy(&t->dport, ip + l4 + 2, 2);
	}
}

/* --------------------------------------------------------- flow marks */

static int run_mark(struct steer_test_bpf *sk, const struct frame *f)
{
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = f->b, .data_size_in = f->len);

	if (bpf_prog_test_run_opts(bpf_program__fd(sk->progs.flow_mark_test), &o))
		return -1000 - errno;
	return (int)o.retval;
}

static void test_marks(void)
{
	struct steer_test_bpf *sk = steer_test_bpf__open();
	struct bpftun_mark_cfg cfg = {0};
	uint32_t zero = 0;
	int err;

	if (!check(sk != NULL, "steer_test.bpf.o opens"))
		return;
	/* the leak probe must not load here: it is the verifier's negative test */
	bpf_program__set_autoload(sk->progs.xdp_leak_probe, false);
	err = steer_test_bpf__load(sk);
	if (!check(!err, "flow_mark_test loads through the verifier (%d)", err))
		goto out;

	struct {
		const char *what;
		int v6;
		uint8_t proto;
		int frag, opts;
	} pk[] = {
	    {"IPv4 TCP", 0, 6, 0, 0},
	    {"IPv4 UDP", 0, 17, 0, 0},
	    {"IPv4 TCP, 8 B of IP options", 0, 6, 0, 8},
	    {"IPv4 TCP first fragment (no ports)", 0, 6, 1, 0},
	    {"IPv4 ICMP", 0, 1, 0, 0},
	    {"IPv6 TCP", 1, 6, 0, 0},
	    {"IPv6 UDP", 1, 17, 0, 0},
	    {"IPv6 SCTP", 1, 132, 0, 0},
	    {"IPv6 hop-by-hop first (no ports)", 1, 0, 0, 0},
	};
	unsigned int bits_list[] = {1, 4, 7};

	for (unsigned int bi = 0; bi < 3; bi++) {
		unsigned int bits = bits_list[bi];

		randombytes_buf(cfg.key, sizeof(cfg.key));
		cfg.bits = bits;
		bpf_map_update_elem(bpf_map__fd(sk->maps.flow_mark_cfg), &zero, &cfg, 0);
		for (size_t i = 0; i < sizeof(pk) / sizeof(pk[0]); i++) {
			int agree = 1, nonzero = 1, seen[129] = {0}, distinct = 0;

			for (int r = 0; r < 32; r++) {
				struct frame f;
				struct bpftun_flow_tuple t;
				uint8_t *ip = f.b + 14, l4[40];
				uint32_t ihl = 20 + (uint32_t)pk[i].opts;
				int got, want;

				randombytes_buf(l4, sizeof(l4));
				memset(&f, 0, sizeof(f));
				if (pk[i].v6) {
					build(&f, 1, "fd09::1", "fd09::2", pk[i].proto, 0, 0, l4,
					      sizeof(l4));
					randombytes_buf(ip + 8, 32); /* random addresses */
				} else {
					build(&f, 0, "10.9.0.1", "10.9.0.2", pk[i].proto, 0, 0, l4,
					      sizeof(l4));
					randombytes_buf(ip + 12, 8);
					if (pk[i].opts) { /* shift L4 behind options */
						memmove(ip + ihl, ip + 20, sizeof(l4));
						memset(ip + 20, 1, (size_t)pk[i].opts); /* NOPs */
						ip[0] = (uint8_t)(0x40 | ihl / 4);
						f.len += (uint32_t)pk[i].opts;
					}
					if (pk[i].frag)
						ip[6] = 0x20; /* MF */
				}
				ref_inner_tuple(ip, f.len - 14, &t);
				want = 1 + (int)(ref_siphash(cfg.key, &t) & ((1u << bits) - 1));
				got = run_mark(sk, &f);
				agree &= got == want;
				nonzero &= got >= 1 && got <= (1 << bits);
				if (got >= 1 && got <= 128 && !seen[got]++)
					distinct++;
			}
			check(agree && nonzero,
			      "mark, %u bits, %s: BPF = 1 + libsodium SipHash-2-4 mod 2^%u for 32 "
			      "random flows",
			      bits, pk[i].what, bits);
			if (bits == 7)
				check(distinct > 8,
				      "mark, 7 bits, %s: %d distinct marks over 32 flows",
				      pk[i].what, distinct);
		}
	}
	/* ports matter (TCP), fragments do not carry them: same mark for all pieces */
	{
		struct frame a, b;
		uint8_t l4[40] = {0};

		cfg.bits = 7;
		bpf_map_update_elem(bpf_map__fd(sk->maps.flow_mark_cfg), &zero, &cfg, 0);
		build(&a, 0, "10.9.0.1", "10.9.0.2", 6, 0, 0, l4, sizeof(l4));
		b = a;
		b.b[14 + 20 + 40 - 1] ^= 0xff; /* payload byte: same flow */
		check(run_mark(sk, &a) == run_mark(sk, &b), "mark: payload does not change it");
		a.b[14 + 6] = 0x20; /* first fragment */
		b = a;
		b.b[14 + 6] = 0x00;
		b.b[14 + 7] = 0x10; /* later fragment, payload of another offset */
		b.b[14 + 20] ^= 0x55;
		check(run_mark(sk, &a) == run_mark(sk, &b),
		      "mark: first and later IPv4 fragments of one packet agree");
	}
	cfg.bits = 0;
	bpf_map_update_elem(bpf_map__fd(sk->maps.flow_mark_cfg), &zero, &cfg, 0);
	{
		struct frame f;
		uint8_t l4[40] = {0};

		build(&f, 0, "10.9.0.1", "10.9.0.2", 6, 0, 0, l4, sizeof(l4));
		check(run_mark(sk, &f) == 0, "mark: bits 0 (marking off) gives 0, today's header");
	}
out:
	steer_test_bpf__destroy(sk);
}

/* The verifier refuses an xfrm state reference that is not released. */
static void test_leak_refused(void)
{
	struct steer_test_bpf *sk = steer_test_bpf__open();
	struct bpf_program *p;
	int err;

	if (!check(sk != NULL, "steer_test.bpf.o opens (leak probe)"))
		return;
	bpf_object__for_each_program(p, sk->obj)
	    bpf_program__set_autoload(p, p == sk->progs.xdp_leak_probe);
	bpf_program__set_log_buf(sk->progs.xdp_leak_probe, log_buf, sizeof(log_buf));
	bpf_program__set_log_level(sk->progs.xdp_leak_probe, 1);
	libbpf_set_print(NULL);
	err = steer_test_bpf__load(sk);
	libbpf_set_print(libbpf_quiet);
	check(err && strstr(log_buf, "Unreleased reference"),
	      "a program that keeps the bpf_xdp_get_xfrm_state reference is refused (%d, %s)", err,
	      strstr(log_buf, "Unreleased reference") ? "Unreleased reference" : "other reason");
	steer_test_bpf__destroy(sk);
}

/* ------------------------------------------------------------- xdp_steer */

struct rig {
	struct steer_bpf *sk;
	int prog, stats, ifindex;
	struct bpftun_steer_cfg cfg;
	int ncpu;
};

static int xdp_run(struct rig *r, const struct frame *f, int *changed)
{
	uint8_t out[512];
	/* data_end must be the frame length, or the program sees an empty frame */
	struct xdp_md ctx = {.data_end = f->len, .ingress_ifindex = (uint32_t)r->ifindex};
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = f->b, .data_size_in = f->len, .data_out = out,
		    .data_size_out = sizeof(out), .ctx_in = &ctx, .ctx_size_in = sizeof(ctx));

	if (bpf_prog_test_run_opts(r->prog, &o))
		return -1000 - errno;
	*changed = o.data_size_out != f->len || memcmp(out, f->b, f->len);
	return (int)o.retval;
}

static void stats_sum(struct rig *r, struct bpftun_steer_stats *sum)
{
	struct bpftun_steer_stats v[r->ncpu];
	uint32_t zero = 0;

	memset(sum, 0, sizeof(*sum));
	if (bpf_map_lookup_elem(r->stats, &zero, v))
		return;
	for (int c = 0; c < r->ncpu; c++)
		for (size_t i = 0; i < sizeof(*sum) / 8; i++)
			((uint64_t *)sum)[i] += ((uint64_t *)&v[c])[i];
}

#define DELTA(a, b, f) ((b).f - (a).f)

/* one frame: expect rc (and, for a redirect, the target CPU); never changed */
static void expect(struct rig *r, const char *what, const struct frame *f, int want_rc,
		   int want_cpu)
{
	struct bpftun_steer_stats a, b;
	int changed = 1, rc, cpu_ok = 1;

	stats_sum(r, &a);
	rc = xdp_run(r, f, &changed);
	stats_sum(r, &b);
	if (want_rc == XDP_REDIRECT_RC) {
		cpu_ok = DELTA(a, b, steered) == 1 && DELTA(a, b, to_cpu[want_cpu]) == 1;
		check(rc == want_rc && cpu_ok && !changed,
		      "%s: XDP_REDIRECT (rc %d) to CPU %d (counted %llu), frame unchanged", what,
		      rc, want_cpu, (unsigned long long)DELTA(a, b, to_cpu[want_cpu]));
	} else {
		check(rc == want_rc && DELTA(a, b, steered) == 0 && !changed,
		      "%s: XDP_PASS (rc %d), nothing steered, frame unchanged", what, rc);
	}
}

static int cpu_of_slot(struct rig *r, uint64_t h)
{
	return (int)r->cfg.cpus[(uint32_t)h % r->cfg.ncpus];
}

static int outer_cpu(struct rig *r, int v6, const struct frame *f)
{
	struct bpftun_flow_tuple t = {0};
	const uint8_t *ip = f->b + 14;

	t.family = v6 ? 6 : 4;
	t.proto = 17;
	if (v6) {
		memcpy(t.saddr, ip + 8, 16);
		memcpy(t.daddr, ip + 24, 16);
	} else {
		memcpy(t.saddr, ip + 12, 4);
		memcpy(t.daddr, ip + 16, 4);
	}
	memcpy(&t.sport, f->b + 14 + (v6 ? 40 : 20), 2);
	memcpy(&t.dport, f->b + 14 + (v6 ? 40 : 20) + 2, 2);
	return cpu_of_slot(r, (uint32_t)ref_siphash(r->cfg.key, &t));
}

static void test_xdp(void)
{
	struct rig r = {0};
	struct frame f;
	uint8_t msg[48] = {0};
	uint32_t zero = 0;
	struct bpf_prog_info info = {0};
	uint32_t ilen = sizeof(info);

	r.ncpu = libbpf_num_possible_cpus();
	if (!check(sysconf(_SC_NPROCESSORS_ONLN) >= 2, "at least 2 online CPUs (have %ld)",
		   sysconf(_SC_NPROCESSORS_ONLN)))
		return;
	r.sk = steer_bpf__open_and_load();
	if (!check(r.sk != NULL, "xdp_steer loads through the verifier"))
		return;
	r.prog = bpf_program__fd(r.sk->progs.xdp_steer);
	r.stats = bpf_map__fd(r.sk->maps.steer_stats);
	if (!bpf_obj_get_info_by_fd(r.prog, &info, &ilen))
		printf("xdp_steer: %u BPF instructions (xlated), %u B jited\n",
		       info.xlated_prog_len / 8, info.jited_prog_len);
	r.ifindex = (int)if_nametoindex("st0");
	check(r.ifindex > 0, "test device st0 exists");

	/* CPUs 0 and 1 with cpumap entries; CPU set {0, 1} */
	for (uint32_t c = 0; c < 2; c++) {
		struct bpf_cpumap_val v = {.qsize = BPFTUN_STEER_QSIZE};

		check(!bpf_map_update_elem(bpf_map__fd(r.sk->maps.cpu_map), &c, &v, 0),
		      "cpumap entry for CPU %u, qsize %d", c, BPFTUN_STEER_QSIZE);
	}
	r.cfg.listen_port = htons(PORT);
	r.cfg.flags = BPFTUN_STEER_F_ESP;
	r.cfg.ncpus = 2;
	r.cfg.cpus[0] = 0;
	r.cfg.cpus[1] = 1;
	randombytes_buf(r.cfg.key, sizeof(r.cfg.key));
	check(!bpf_map_update_elem(bpf_map__fd(r.sk->maps.steer_cfg), &zero, &r.cfg, 0),
	      "steer_cfg written: port %d, CPUs {0, 1}, ESP on", PORT);
	msg[0] = BPFTUN_MSG_DATA;
	/* marked: mark m goes to cpus[(m - 1) % n] */
	for (int m = 1; m <= 4; m++) {
		char what[80];

		msg[1] = (uint8_t)m;
		build(&f, 0, "10.77.0.2", "10.88.0.1", 17, PORT, PORT, msg, sizeof(msg));
		snprintf(what, sizeof(what), "IPv4 data to this host, mark %d", m);
		expect(&r, what, &f, XDP_REDIRECT_RC, (m - 1) % 2);
		build(&f, 1, "fd77::2", "fd88::1", 17, PORT, PORT, msg, sizeof(msg));
		snprintf(what, sizeof(what), "IPv6 data to this host, mark %d", m);
		expect(&r, what, &f, XDP_REDIRECT_RC, (m - 1) % 2);
	}
	/* unmarked: hash of the outer tuple; 16 peers (source ports) use both CPUs */
	{
		int used[2] = {0};

		msg[1] = 0;
		for (int i = 0; i < 16; i++) {
			char what[96];
			int cpu;

			build(&f, i & 1, i & 1 ? "fd77::2" : "10.77.0.2",
			      i & 1 ? "fd88::1" : "10.88.0.1", 17, (uint16_t)(40000 + i), PORT, msg,
			      sizeof(msg));
			cpu = outer_cpu(&r, i & 1, &f);
			used[cpu]++;
			snprintf(
			    what, sizeof(what),
			    "unmarked IPv%d data, source port %d: CPU of the outer-tuple SipHash",
			    i & 1 ? 6 : 4, 40000 + i);
			expect(&r, what, &f, XDP_REDIRECT_RC, cpu);
		}
		check(used[0] && used[1], "16 unmarked peers use both CPUs (%d/%d)", used[0],
		      used[1]);
	}
	/* passed untouched */
	msg[1] = 3;
	for (int type = 1; type <= 3; type++) {
		char what[64];

		msg[0] = (uint8_t)type;
		build(&f, 0, "10.77.0.2", "10.88.0.1", 17, PORT, PORT, msg, sizeof(msg));
		snprintf(what, sizeof(what), "IPv4 message type %d (handshake/cookie)", type);
		expect(&r, what, &f, XDP_PASS_RC, 0);
		build(&f, 1, "fd77::2", "fd88::1", 17, PORT, PORT, msg, sizeof(msg));
		snprintf(what, sizeof(what), "IPv6 message type %d (handshake/cookie)", type);
		expect(&r, what, &f, XDP_PASS_RC, 0);
	}
	msg[0] = BPFTUN_MSG_DATA;
	build(&f, 0, "10.77.0.2", "10.88.0.1", 17, PORT, 53, msg, sizeof(msg));
	expect(&r, "UDP to another port", &f, XDP_PASS_RC, 0);
	build(&f, 0, "10.77.0.2", "10.88.0.1", 6, 0, 0, msg, sizeof(msg));
	expect(&r, "TCP", &f, XDP_PASS_RC, 0);
	build(&f, 0, "10.77.0.2", "10.88.0.1", 17, PORT, PORT, msg, 8);
	expect(&r, "data message shorter than a header", &f, XDP_PASS_RC, 0);
	build(&f, 0, "10.77.0.2", "10.88.0.1", 17, PORT, PORT, msg, sizeof(msg));
	f.b[14 + 6] = 0x20;
	expect(&r, "IPv4 fragment to our port", &f, XDP_PASS_RC, 0);
	build(&f, 0, "10.77.0.2", "10.88.0.1", 17, PORT, PORT, msg, sizeof(msg));
	memmove(f.b + 16, f.b + 12, f.len - 12);
	put16(f.b + 12, 0x8100);
	put16(f.b + 14, 7);
	f.len += 4;
	expect(&r, "VLAN-tagged data message", &f, XDP_PASS_RC, 0);
	memset(&f, 0, sizeof(f));
	memcpy(f.b, mac, 12);
	put16(f.b + 12, 0x0806);
	f.len = 60;
	expect(&r, "ARP", &f, XDP_PASS_RC, 0);
	{
		struct bpftun_steer_stats a, b;

		stats_sum(&r, &a);
		build(&f, 0, "10.77.0.2", "10.88.0.77", 17, PORT, PORT, msg, sizeof(msg));
		expect(&r, "IPv4 data to another host (transit, forwarding on)", &f, XDP_PASS_RC,
		       0);
		build(&f, 1, "fd77::2", "fd88::77", 17, PORT, PORT, msg, sizeof(msg));
		expect(&r, "IPv6 data to another host (transit, forwarding on)", &f, XDP_PASS_RC,
		       0);
		stats_sum(&r, &b);
		check(DELTA(a, b, transit) == 2, "transit counted (%llu)",
		      (unsigned long long)DELTA(a, b, transit));
	}
	/* ESP: no SA here (and no xfrm types on this kernel): ENOENT, passed */
	{
		struct bpftun_steer_stats a, b;
		uint8_t esp[40] = {0x00, 0x00, 0x12, 0x34, 0, 0, 0, 1};

		stats_sum(&r, &a);
		build(&f, 0, "10.77.0.2", "10.88.0.1", 50, 0, 0, esp, sizeof(esp));
		expect(&r, "ESP over IPv4, unknown SPI", &f, XDP_PASS_RC, 0);
		build(&f, 1, "fd77::2", "fd88::1", 50, 0, 0, esp, sizeof(esp));
		expect(&r, "ESP over IPv6, unknown SPI", &f, XDP_PASS_RC, 0);
		for (int i = 0; i < 1000; i++) {
			int ch;

			esp[3] = (uint8_t)i;
			build(&f, i & 1, i & 1 ? "fd77::2" : "10.77.0.2",
			      i & 1 ? "fd88::1" : "10.88.0.1", 50, 0, 0, esp, sizeof(esp));
			xdp_run(&r, &f, &ch);
		}
		stats_sum(&r, &b);
		check(DELTA(a, b, esp_not_found) == 1002 && DELTA(a, b, esp_found) == 0 &&
			  DELTA(a, b, esp_error) == 0 && DELTA(a, b, esp_steered) == 0,
		      "ESP: 1002 lookups, all counted not found (%llu), none found/error/steered",
		      (unsigned long long)DELTA(a, b, esp_not_found));
		/* ESP steering off: not even looked up */
		r.cfg.flags = 0;
		bpf_map_update_elem(bpf_map__fd(r.sk->maps.steer_cfg), &zero, &r.cfg, 0);
		stats_sum(&r, &a);
		build(&f, 0, "10.77.0.2", "10.88.0.1", 50, 0, 0, esp, sizeof(esp));
		expect(&r, "ESP with ESP steering off", &f, XDP_PASS_RC, 0);
		stats_sum(&r, &b);
		check(DELTA(a, b, esp_not_found) == 0, "ESP steering off: no lookup");
	}
	/* a CPU in the set without a cpumap entry: passed, counted */
	{
		struct bpftun_steer_stats a, b;

		r.cfg.ncpus = 1;
		r.cfg.cpus[0] = 5;
		bpf_map_update_elem(bpf_map__fd(r.sk->maps.steer_cfg), &zero, &r.cfg, 0);
		stats_sum(&r, &a);
		msg[0] = BPFTUN_MSG_DATA;
		msg[1] = 1;
		build(&f, 0, "10.77.0.2", "10.88.0.1", 17, PORT, PORT, msg, sizeof(msg));
		expect(&r, "data to a CPU without a cpumap entry", &f, XDP_PASS_RC, 0);
		r.cfg.ncpus = 0;
		bpf_map_update_elem(bpf_map__fd(r.sk->maps.steer_cfg), &zero, &r.cfg, 0);
		expect(&r, "data with an empty CPU set", &f, XDP_PASS_RC, 0);
		stats_sum(&r, &b);
		check(DELTA(a, b, no_cpu) == 2, "no_cpu counted (%llu)",
		      (unsigned long long)DELTA(a, b, no_cpu));
	}
	steer_bpf__destroy(r.sk);
}

static int sh(const char *cmd)
{
	int rc = system(cmd);

	return rc == 0 ? 0 : -1;
}

int main(void)
{
	libbpf_set_print(libbpf_quiet);
	if (sodium_init() < 0)
		return 1;
	if (!check(!unshare(CLONE_NEWNET), "own network namespace"))
		return check_summary();
	/* st0/st1: local 10.88.0.1 and fd88::1; 10.88.0.77 and fd88::77 are
	 * other hosts on the link (transit when forwarding is on). */
	check(!sh("ip link set lo up && ip link add st0 type veth peer name st1 &&"
		  " ip link set st0 up && ip link set st1 up &&"
		  " ip addr add 10.88.0.1/24 dev st0 && ip addr add fd88::1/64 dev st0 nodad &&"
		  " sysctl -qw net.ipv4.conf.all.forwarding=1 net.ipv6.conf.all.forwarding=1"),
	      "test devices and forwarding");
	test_marks();
	test_leak_refused();
	test_xdp();
	return check_summary();
}
