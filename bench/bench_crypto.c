// SPDX-License-Identifier: GPL-2.0
/*
 * bench_crypto.c - what the datapath's AEAD costs on top of the bare cipher.
 *
 * For every inner packet length L and every cipher implementation (by default
 * "ecb(aes)", which resolves to aes-fixed-time, "ecb(aes-generic)", and
 * "wireguard", the WireGuard suite: SAs installed with BPFTUN_SA_F_WIREGUARD,
 * ChaCha20-Poly1305 in BPF), one run measures side by side:
 *
 *   seal  tc_seal (datapath A) on an Ethernet frame carrying an inner IPv4/UDP
 *         packet of total length L;
 *   open  tc_open (datapath B) on the very frame that seal just produced: each
 *         frame is opened exactly once, in counter order, so the replay window
 *         never rejects one;
 *   ecb   tc_ecb (tests/bpf/testprogs.bpf.c): one bare bpf_crypto_encrypt over
 *         the keystream bytes seal needs, 32 + roundup16(L). For the
 *         WireGuard suite the row is its bare cipher instead: tc_chacha
 *         (tests/bpf/wgcrypto.bpf.c), ChaCha20 keystream XORed over
 *         64 + roundup16(L) bytes (block 0, the Poly1305 key, and the
 *         padded payload).
 *
 * Every call is one BPF_PROG_TEST_RUN with repeat = 1 and the sample is
 * opts.duration: nanoseconds measured by the kernel around the program run
 * only (repeat > 1 would re-run seal/open on an skb it already rewrote).
 * Samples are taken round-robin over all (L, cipher) pairs, rotating the
 * starting pair every round, so machine noise hits every variant alike.
 *
 * --peers 1,10000 runs every cipher on datapaths populated with that many
 * peers (a column each, interleaved in the same round-robin): each peer has
 * an AllowedIPs /32 on both ends, a tx SA at A and an rx SA at B (its own
 * receiver index), and the maps are sized for the count (dp_load_sized) as
 * `bpftun up` sizes them. The peer under test is the last one (id N-1), so
 * seal and open look it up among all the others in allowed_ips (LPM trie),
 * peers, tx_sas, rx_sas (hash) and stats. "peers ratio" compares the
 * medians of N peers with those of the first count.
 *
 * Every verdict is checked: seal must redirect (7) with the exact sealed
 * length, open must redirect with the original inner packet byte for byte,
 * ecb must return TC_ACT_OK. A verifier rejection, a setup error or any wrong
 * verdict makes the exit status non-zero; nothing is skipped silently.
 *
 * Usage: bench_crypto [--sizes 64,512,1400] [--samples 2000] [--warmup 100]
 *                     [--algos "ecb(aes),ecb(aes-generic),wireguard"] [--peers 1,10000]
 *                     [--cpu N] [--json FILE]
 * Needs root (BPF).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <sched.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/utsname.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/udp.h>
#include <sodium.h>

#include "frames.h"
#include "datapath.h"
#include "testprogs.skel.h"
#include "wgcrypto.skel.h"

/* --algos name of the WireGuard suite (not a kernel cipher) */
#define WG_ALGO "wireguard"

#define PORT		51820
#define RIDX		0x0a0b0c0dU
#define TC_ACT_OK	0
#define TC_ACT_REDIRECT 7
#define FRAME_MAX	2048
#define MAX_SIZES	64
#define MAX_ALGOS	4
#define MAX_POPS	4 /* --peers counts */
#define MAX_IMPLS	(MAX_ALGOS * MAX_POPS)
#define ERR_UNSET	0x5a5a5a5a

static const uint8_t MAC_A[6] = {0x02, 0, 0, 0, 0, 0xa};
static const uint8_t MAC_B[6] = {0x02, 0, 0, 0, 0, 0xb};
static const uint8_t TUN_MAC[6] = {0x02, 0, 0, 0, 0, 0xc};
static const char *IN4_A = "10.9.0.1", *IN4_B = "10.9.0.2";
static const char *OUT4_A = "192.0.2.1", *OUT4_B = "192.0.2.2";

enum { OP_SEAL, OP_OPEN, OP_ECB, N_OPS };
static const char *const OP_NAME[N_OPS] = {"seal", "open", "ecb"};

/* One cipher implementation: a datapath pair and a testprogs instance. */
struct impl {
	const char *algo;
	uint32_t npeers;  /* peers configured on each end */
	uint32_t pid;	  /* the peer under test: npeers - 1 */
	double setup_s;	  /* populating the peers */
	char driver[128]; /* the lskcipher driver the kernel instantiated */
	char label[128];  /* short column label */
	struct datapath *a, *b;
	struct testprogs_bpf *tp;
	struct wgcrypto_bpf *wgc; /* the WireGuard suite's bare cipher (tc_chacha) */
	int wg;			  /* algo is WG_ALGO */
	int ecb_fd;
};

/* One (size, implementation) pair and its samples. */
struct variant {
	struct impl *im;
	unsigned int len; /* inner packet length L */
	unsigned int ks;  /* keystream bytes: 32 + roundup16(L) */
	uint8_t frame[FRAME_MAX];
	size_t flen;
	uint32_t *ns[N_OPS];
	unsigned int n[N_OPS];
	unsigned int fail[N_OPS];
	uint64_t seals; /* seal runs, recorded or not (tx counter) */
	uint64_t opens_ok;
};

struct stats {
	double median, p10, p90, mean, min, max;
	unsigned int n;
};

static struct {
	unsigned int sizes[MAX_SIZES];
	int nsizes;
	const char *algos[MAX_ALGOS];
	int nalgos;
	uint32_t pops[MAX_POPS];
	int npops;
	unsigned int samples, warmup;
	int cpu;
	const char *json;
} opt = {.sizes = {64, 512, 1400},
	 .nsizes = 3,
	 .algos = {"ecb(aes)", "ecb(aes-generic)", WG_ALGO},
	 .nalgos = 3,
	 .pops = {1},
	 .npops = 1,
	 .samples = 2000,
	 .warmup = 100,
	 .cpu = -1};

static unsigned int setup_failures;

__attribute__((format(printf, 1, 2))) static void fail(const char *fmt, ...)
{
	va_list ap;

	setup_failures++;
	fprintf(stderr, "bench_crypto: FAIL: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* ------------------------------------------------------------------ packets */

static void addr4(const char *s, void *out)
{
	frame_addr(0, s, out);
}

/* Ethernet frame with an inner IPv4 packet of total length len (UDP if it fits). */
static size_t inner_frame(uint8_t *f, size_t len)
{
	return frame_inner(f, MAC_B, MAC_A, 0, IN4_A, IN4_B, len, 3);
}

/* ------------------------------------------------------------------- setup */

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int sa(struct datapath *dp, uint32_t op, uint32_t pid, uint32_t index, const char *algo,
	      const uint8_t *key, const uint8_t *salt)
{
	struct bpftun_sa_req r = {.op = op, .peer_id = pid, .slot = 1, .index = index};

	if (key)
		memcpy(r.key, key, sizeof(r.key));
	if (salt)
		memcpy(r.salt, salt, sizeof(r.salt));
	if (!strcmp(algo, WG_ALGO))
		r.flags = BPFTUN_SA_F_WIREGUARD; /* key[] is the ChaCha20 key, algo unused */
	else
		snprintf(r.algo, sizeof(r.algo), "%s", algo);
	return dp_sa_ctl(dp, &r);
}

/* refcnt of every lskcipher in /proc/crypto, to see which driver a context took. */
struct crypto_alg {
	char name[128], driver[128];
	long refcnt, prio;
};

static int crypto_algs(struct crypto_alg *out, int max)
{
	FILE *f = fopen("/proc/crypto", "r");
	char line[256], type[64] = "";
	struct crypto_alg cur = {.refcnt = -1};
	int n = 0;

	if (!f)
		return 0;
	for (;;) {
		char *got = fgets(line, sizeof(line), f);

		if (!got || line[0] == '\n') {
			if (!strcmp(type, "lskcipher") && n < max)
				out[n++] = cur;
			memset(&cur, 0, sizeof(cur));
			cur.refcnt = -1;
			type[0] = 0;
			if (!got)
				break;
			continue;
		}
		sscanf(line, "name : %127s", cur.name);
		sscanf(line, "driver : %127s", cur.driver);
		sscanf(line, "type : %63s", type);
		sscanf(line, "refcnt : %ld", &cur.refcnt);
		sscanf(line, "priority : %ld", &cur.prio);
	}
	fclose(f);
	return n;
}

/* The driver behind algo: the matching entry whose refcnt grew while our
 * contexts were created, else the highest-priority match (what the kernel
 * picks by name). */
static void resolve_driver(struct impl *im, const struct crypto_alg *before, int nb)
{
	struct crypto_alg after[256];
	int na = crypto_algs(after, 256);
	long best_grow = 0, best_prio = -1;
	const char *by_grow = NULL, *by_prio = NULL;

	for (int i = 0; i < na; i++) {
		long was = 0;

		if (strcmp(after[i].name, im->algo) && strcmp(after[i].driver, im->algo))
			continue;
		for (int j = 0; j < nb; j++)
			if (!strcmp(before[j].driver, after[i].driver))
				was = before[j].refcnt;
		if (after[i].refcnt - was > best_grow) {
			best_grow = after[i].refcnt - was;
			by_grow = after[i].driver;
		}
		if (after[i].prio > best_prio) {
			best_prio = after[i].prio;
			by_prio = after[i].driver;
		}
	}
	snprintf(im->driver, sizeof(im->driver), "%s",
		 by_grow   ? by_grow
		 : by_prio ? by_prio
			   : "unknown");
	/* label: the driver without "ecb(...)" around it */
	if (!strncmp(im->driver, "ecb(", 4) && strlen(im->driver) > 5)
		snprintf(im->label, sizeof(im->label), "%.*s", (int)strlen(im->driver) - 5,
			 im->driver + 4);
	else
		snprintf(im->label, sizeof(im->label), "%s", im->driver);
}

/* A seals to B over outer IPv4, both keyed with algo; testprogs keyed too. */
static int impl_setup(struct impl *im)
{
	struct bpftun_config cfg = {.tun_ifindex = 1, .listen_port = htons(PORT)};
	struct bpftun_peer peer = {0};
	struct crypto_alg before[256];
	uint8_t key[32], salt[4], a4[4], b4[4];
	int nb = crypto_algs(before, 256);
	int err;

	randombytes_buf(key, sizeof(key));
	randombytes_buf(salt, sizeof(salt));
	memcpy(cfg.tun_mac, TUN_MAC, 6);
	err = dp_load_sized(&im->a, &cfg, im->npeers, im->npeers);
	if (!err)
		err = dp_load_sized(&im->b, &cfg, im->npeers, im->npeers);
	if (err) {
		fail("%s: load datapath (verifier rejection?): %s", im->algo, strerror(-err));
		return err;
	}
	peer.ep.ifindex = 1;
	addr4(OUT4_A, peer.ep.saddr);
	addr4(OUT4_B, peer.ep.daddr);
	peer.ep.sport = htons(PORT);
	peer.ep.dport = htons(PORT);
	memcpy(peer.ep.smac, MAC_A, 6);
	memcpy(peer.ep.dmac, MAC_B, 6);
	addr4(IN4_A, a4);
	addr4(IN4_B, b4);
	im->pid = im->npeers - 1;
	{
		double t0 = now_s();

		/* the others: 10.64.0.0/10 on both ends, SAs at both ends */
		for (uint32_t i = 0; i < im->pid && !err; i++) {
			uint8_t o4[4] = {10, (uint8_t)(64 + (i >> 16)), (uint8_t)(i >> 8),
					 (uint8_t)i};

			err = dp_set_peer(im->a, i, &peer) ?: dp_set_peer(im->b, i, &peer);
			err = err ?: dp_allow(im->a, 4, o4, 32, i) ?: dp_allow(im->b, 4, o4, 32, i);
			err = err
				  ?: sa(im->a, BPFTUN_OP_INSTALL_TX, i, RIDX + 1 + i, im->algo, key,
					salt);
			err = err ?: sa(im->a, BPFTUN_OP_ACTIVATE_TX, i, 0, im->algo, NULL, NULL);
			err = err
				  ?: sa(im->b, BPFTUN_OP_INSTALL_RX, i, RIDX + 1 + i, im->algo, key,
					salt);
		}
		im->setup_s = now_s() - t0;
	}
	err = err ?: dp_set_peer(im->a, im->pid, &peer) ?: dp_set_peer(im->b, im->pid, &peer);
	err = err ?: dp_allow(im->a, 4, b4, 32, im->pid) ?: dp_allow(im->b, 4, a4, 32, im->pid);
	if (err) {
		fail("%s: configure %u peers: %s", im->algo, im->npeers, strerror(-err));
		return err;
	}
	err = sa(im->a, BPFTUN_OP_INSTALL_TX, im->pid, RIDX, im->algo, key, salt);
	err = err ?: sa(im->a, BPFTUN_OP_ACTIVATE_TX, im->pid, 0, im->algo, NULL, NULL);
	err = err ?: sa(im->b, BPFTUN_OP_INSTALL_RX, im->pid, RIDX, im->algo, key, salt);
	if (err) {
		fail("%s: install SAs: %s", im->algo, strerror(-err));
		return err;
	}

	if (im->wg) {
		im->wgc = wgcrypto_bpf__open_and_load();
		if (!im->wgc) {
			fail("%s: load wgcrypto (verifier rejection?): %s", im->algo,
			     strerror(errno));
			return -1;
		}
		memcpy(im->wgc->bss->tm_key, key, sizeof(key));
		im->wgc->bss->tm_counter = 1;
		sodium_memzero(key, sizeof(key));
		im->ecb_fd = bpf_program__fd(im->wgc->progs.tc_chacha);
		snprintf(im->driver, sizeof(im->driver), "chacha20-poly1305-bpf");
		snprintf(im->label, sizeof(im->label), "wireguard");
		goto label;
	}
	im->tp = testprogs_bpf__open_and_load();
	if (!im->tp) {
		fail("%s: load testprogs (verifier rejection?): %s", im->algo, strerror(errno));
		return -1;
	}
	snprintf(im->tp->data->ecb_algo, sizeof(im->tp->data->ecb_algo), "%s", im->algo);
	memcpy(im->tp->bss->ecb_key, key, sizeof(key));
	im->tp->bss->ecb_err = ERR_UNSET;
	{
		LIBBPF_OPTS(bpf_test_run_opts, o);

		err = bpf_prog_test_run_opts(bpf_program__fd(im->tp->progs.ecb_setup), &o);
		if (err || im->tp->bss->ecb_err) {
			fail("%s: ecb_setup: %s", im->algo,
			     strerror(err				  ? errno
				      : im->tp->bss->ecb_err == ERR_UNSET ? EIO
									  : -im->tp->bss->ecb_err));
			return -1;
		}
	}
	sodium_memzero(im->tp->bss->ecb_key, sizeof(im->tp->bss->ecb_key));
	sodium_memzero(key, sizeof(key));
	im->ecb_fd = bpf_program__fd(im->tp->progs.tc_ecb);
	resolve_driver(im, before, nb);
label:
	if (opt.npops > 1) {
		size_t l = strlen(im->label);

		snprintf(im->label + l, sizeof(im->label) - l, " %up", im->npeers);
	}
	return 0;
}

static void impl_destroy(struct impl *im)
{
	testprogs_bpf__destroy(im->tp);
	if (im->wgc)
		sodium_memzero(im->wgc->bss->tm_key, sizeof(im->wgc->bss->tm_key));
	wgcrypto_bpf__destroy(im->wgc);
	dp_destroy(im->a);
	dp_destroy(im->b);
}

/* ------------------------------------------------------------------ running */

static uint8_t sealed[FRAME_MAX + 256], opened[FRAME_MAX + 256], ecb_out[256];
static uint8_t ecb_in[64];

/* One BPF_PROG_TEST_RUN, repeat 1. Returns 0 and fills ret/len/ns, or -errno. */
static int run1(int fd, const void *in, size_t len, void *out, size_t out_cap, uint32_t *ret,
		uint32_t *out_len, uint32_t *ns)
{
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = in, .data_size_in = (uint32_t)len,
		    .data_out = out, .data_size_out = (uint32_t)out_cap, .repeat = 1);

	/* Defined on every path: callers report them when the run fails. */
	*ret = 0;
	*out_len = 0;
	*ns = 0;
	if (bpf_prog_test_run_opts(fd, &o))
		return -errno;
	*ret = o.retval;
	*out_len = o.data_size_out;
	*ns = o.duration;
	return 0;
}

static unsigned int reported;

static void report(struct variant *v, int op, const char *fmt, ...)
{
	va_list ap;

	if (reported++ >= 5)
		return;
	fprintf(stderr, "bench_crypto: FAIL: %s L=%u %s: ", v->im->algo, v->len, OP_NAME[op]);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* seal, open what it sealed, bare ecb: one sample each (kept when record). */
static void round_once(struct variant *v, int record)
{
	/* the WireGuard suite pads the plaintext to 16 (no MTU set here) */
	const size_t want_sealed = ETH_HLEN + BPFTUN_IP4_LEN + BPFTUN_UDP_LEN + BPFTUN_HDR_LEN +
				   (v->im->wg ? (v->len + 15) & ~15U : v->len) + BPFTUN_TAG_LEN;
	uint32_t ret, olen, ns, slen;
	int err;

	/* seal */
	v->seals++;
	err =
	    run1(dp_seal_fd(v->im->a), v->frame, v->flen, sealed, sizeof(sealed), &ret, &slen, &ns);
	if (err || ret != TC_ACT_REDIRECT || slen != want_sealed) {
		v->fail[OP_SEAL]++;
		v->fail[OP_OPEN]++; /* nothing to open */
		report(v, OP_SEAL, "err %d verdict %u len %u (want %d, %zu)", err, ret, slen,
		       TC_ACT_REDIRECT, want_sealed);
		goto ecb;
	}
	if (record)
		v->ns[OP_SEAL][v->n[OP_SEAL]++] = ns;

	/* open, once per sealed frame */
	err = run1(dp_open_fd(v->im->b), sealed, slen, opened, sizeof(opened), &ret, &olen, &ns);
	if (err || ret != TC_ACT_REDIRECT || olen != v->flen ||
	    memcmp(opened + ETH_HLEN, v->frame + ETH_HLEN, v->len) || memcmp(opened, TUN_MAC, 6)) {
		v->fail[OP_OPEN]++;
		report(v, OP_OPEN, "err %d verdict %u len %u (want %d, %zu, original bytes)", err,
		       ret, olen, TC_ACT_REDIRECT, v->flen);
	} else {
		v->opens_ok++;
		if (record)
			v->ns[OP_OPEN][v->n[OP_OPEN]++] = ns;
	}

ecb:
	/* bare cipher over the same number of keystream bytes */
	if (v->im->wg)
		v->im->wgc->bss->tm_len = v->ks;
	else
		v->im->tp->data->ecb_len = v->ks;
	err =
	    run1(v->im->ecb_fd, ecb_in, sizeof(ecb_in), ecb_out, sizeof(ecb_out), &ret, &olen, &ns);
	if (err || ret != TC_ACT_OK) {
		v->fail[OP_ECB]++;
		report(v, OP_ECB, "err %d verdict %u (want %d)", err, ret, TC_ACT_OK);
	} else if (record) {
		v->ns[OP_ECB][v->n[OP_ECB]++] = ns;
	}
}

/* ------------------------------------------------------------------ figures */

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* Percentile by linear interpolation between closest ranks. */
static double pct(const uint32_t *s, unsigned int n, double q)
{
	double pos = q * (n - 1);
	unsigned int i = (unsigned int)pos;
	double f = pos - i;

	if (i + 1 >= n)
		return s[n - 1];
	return s[i] + f * (s[i + 1] - s[i]);
}

static struct stats stats_of(const uint32_t *ns, unsigned int n)
{
	struct stats st = {.n = n};
	uint32_t *s;
	double sum = 0;

	if (!n)
		return st;
	s = malloc(n * sizeof(*s));
	if (!s)
		abort();
	memcpy(s, ns, n * sizeof(*s));
	qsort(s, n, sizeof(*s), cmp_u32);
	for (unsigned int i = 0; i < n; i++)
		sum += s[i];
	st.mean = sum / n;
	st.min = s[0];
	st.max = s[n - 1];
	st.median = pct(s, n, 0.5);
	st.p10 = pct(s, n, 0.1);
	st.p90 = pct(s, n, 0.9);
	free(s);
	return st;
}

/* MB/s (10^6 bytes per second) of `bytes` per median call. */
static double mbps(unsigned int bytes, double median_ns)
{
	return median_ns > 0 ? bytes * 1e3 / median_ns : 0;
}

static double ratio(double a, double b)
{
	return b > 0 ? a / b : 0;
}

/* ---------------------------------------------------------------- environment */

struct env {
	char kernel[128], cpu[512], clang[512], date[64], libbpf[32];
	long ncpu;
};

static void trim(char *s)
{
	size_t n = strlen(s);

	while (n && (s[n - 1] == '\n' || s[n - 1] == ' ' || s[n - 1] == '\t'))
		s[--n] = 0;
}

static void env_get(struct env *e)
{
	struct utsname u;
	char line[512];
	FILE *f;
	time_t t = time(NULL);

	snprintf(e->kernel, sizeof(e->kernel), "unknown");
	snprintf(e->cpu, sizeof(e->cpu), "unknown");
	snprintf(e->clang, sizeof(e->clang), "unknown");
	if (!uname(&u))
		snprintf(e->kernel, sizeof(e->kernel), "%s", u.release);
	f = fopen("/proc/cpuinfo", "r");
	if (f) {
		while (fgets(line, sizeof(line), f)) {
			char *c = strchr(line, ':');

			if (!strncmp(line, "model name", 10) && c) {
				c++;
				while (*c == ' ')
					c++;
				snprintf(e->cpu, sizeof(e->cpu), "%s", c);
				trim(e->cpu);
				break;
			}
		}
		fclose(f);
	}
	f = popen("clang-19 --version 2>/dev/null", "r");
	if (f) {
		if (fgets(line, sizeof(line), f)) {
			trim(line);
			if (line[0])
				snprintf(e->clang, sizeof(e->clang), "%s", line);
		}
		pclose(f);
	}
	e->ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	strftime(e->date, sizeof(e->date), "%Y-%m-%dT%H:%M:%SZ", gmtime(&t));
	snprintf(e->libbpf, sizeof(e->libbpf), "%u.%u", libbpf_major_version(),
		 libbpf_minor_version());
}

/* ---------------------------------------------------------------------- output */

static void print_table(struct variant *vs, int nv, struct impl *im, int ni, const struct env *e,
			double secs)
{
	printf("bench_crypto: %u samples per variant (+%u warm-up), round-robin over %d "
	       "(L, cipher) pairs, %.1f s\n",
	       opt.samples, opt.warmup, nv, secs);
	printf("kernel %s, CPU %s (%ld online)%s, %s\n", e->kernel, e->cpu, e->ncpu,
	       opt.cpu >= 0 ? ", pinned" : "", e->date);
	for (int i = 0; i < ni; i++)
		printf("  %s -> %s\n", im[i].algo, im[i].driver);
	printf("\nns per call from BPF_PROG_TEST_RUN duration (repeat=1): median [p10 p90];"
	       " MB/s = L / median\n");

	printf("%5s %5s %-4s", "L", "ks_B", "op");
	for (int i = 0; i < ni; i++)
		printf(" | %-31.31s", im[i].label);
	if (ni == 2)
		printf(" | %s", "A/B");
	printf("\n%5s %5s %-4s", "", "", "");
	for (int i = 0; i < ni; i++)
		printf(" | %7s %7s %7s %7s", "median", "p10", "p90", "MB/s");
	printf("\n");
	for (int s = 0; s < opt.nsizes; s++) {
		for (int op = 0; op < N_OPS; op++) {
			double med[MAX_IMPLS] = {0};

			printf("%5u %5u %-4s", opt.sizes[s], vs[s * ni].ks, OP_NAME[op]);
			for (int i = 0; i < ni; i++) {
				struct variant *v = &vs[s * ni + i];
				struct stats st = stats_of(v->ns[op], v->n[op]);

				med[i] = st.median;
				printf(" | %7.0f %7.0f %7.0f %7.1f", st.median, st.p10, st.p90,
				       mbps(v->len, st.median));
			}
			if (ni == 2)
				printf(" | %5.2f", ratio(med[0], med[1]));
			printf("\n");
		}
	}
	if (ni == 2)
		printf("A/B = median of %s / median of %s\n", im[0].label, im[1].label);

	for (int k = 0; k < nv; k++)
		if (vs[k].fail[OP_SEAL] + vs[k].fail[OP_OPEN] + vs[k].fail[OP_ECB])
			printf("FAILED %s L=%u: %u seal, %u open, %u ecb wrong verdicts\n",
			       vs[k].im->algo, vs[k].len, vs[k].fail[OP_SEAL], vs[k].fail[OP_OPEN],
			       vs[k].fail[OP_ECB]);

	printf("\nratios of medians (same run only)\n%5s", "L");
	for (int i = 0; i < ni; i++)
		printf(" | %-*.31s", i == ni - 1 ? 0 : 31, im[i].label);
	printf("\n%5s", "");
	for (int i = 0; i < ni; i++)
		printf(" | %9s %9s %11s", "seal/ecb", "open/ecb", "(s+o)/2ecb");
	printf("\n");
	for (int s = 0; s < opt.nsizes; s++) {
		printf("%5u", opt.sizes[s]);
		for (int i = 0; i < ni; i++) {
			struct variant *v = &vs[s * ni + i];
			double se = stats_of(v->ns[OP_SEAL], v->n[OP_SEAL]).median;
			double op = stats_of(v->ns[OP_OPEN], v->n[OP_OPEN]).median;
			double ec = stats_of(v->ns[OP_ECB], v->n[OP_ECB]).median;

			printf(" | %9.2f %9.2f %11.2f", ratio(se, ec), ratio(op, ec),
			       ratio(se + op, 2 * ec));
		}
		printf("\n");
	}
	for (int w = 0; w < ni; w++) {
		if (!im[w].wg || im[w].npeers != opt.pops[0])
			continue;
		printf("\nsuites: median of %s / median of each AES cipher (same run)\n%5s %-4s",
		       im[w].label, "L", "op");
		for (int i = 0; i < ni; i++)
			if (!im[i].wg && im[i].npeers == opt.pops[0])
				printf(" | %-16.16s", im[i].label);
		printf("\n");
		for (int s = 0; s < opt.nsizes; s++)
			for (int op = OP_SEAL; op <= OP_OPEN; op++) {
				struct variant *vw = &vs[s * ni + w];
				double mw = stats_of(vw->ns[op], vw->n[op]).median;

				printf("%5u %-4s", opt.sizes[s], OP_NAME[op]);
				for (int i = 0; i < ni; i++) {
					struct variant *va = &vs[s * ni + i];

					if (im[i].wg || im[i].npeers != opt.pops[0])
						continue;
					printf(" | %16.2f",
					       ratio(mw, stats_of(va->ns[op], va->n[op]).median));
				}
				printf("\n");
			}
	}
	if (opt.npops < 2)
		return;
	printf("\npeers ratio: median with N peers / median with %u (same run, interleaved)\n",
	       opt.pops[0]);
	for (int i = 0; i < ni; i++)
		if (im[i].npeers != opt.pops[0])
			printf("  %s: %u peers populated in %.2f s\n", im[i].label, im[i].npeers,
			       im[i].setup_s);
	printf("%5s %-32s %-4s %9s %9s %7s\n", "L", "cipher, N", "op", "median_1", "median_N",
	       "N/1");
	for (int s = 0; s < opt.nsizes; s++)
		for (int i = 0; i < ni; i++) {
			int base = i - i % opt.npops; /* same cipher, first count */

			if (i == base)
				continue;
			for (int op = OP_SEAL; op <= OP_OPEN; op++) {
				double m1 =
				    stats_of(vs[s * ni + base].ns[op], vs[s * ni + base].n[op])
					.median;
				double mn =
				    stats_of(vs[s * ni + i].ns[op], vs[s * ni + i].n[op]).median;

				printf("%5u %-32.32s %-4s %9.0f %9.0f %7.3f\n", opt.sizes[s],
				       im[i].label, OP_NAME[op], m1, mn, ratio(mn, m1));
			}
		}
}

static void json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fprintf(f, "\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			fprintf(f, "\\u%04x", *s);
		else
			fputc(*s, f);
	}
	fputc('"', f);
}

static void json_stats(FILE *f, const char *name, const struct stats *st, unsigned int fails,
		       unsigned int inner, unsigned int ks, int last)
{
	fprintf(f,
		"        \"%s\": {\"n\": %u, \"failures\": %u, \"median_ns\": %.1f, "
		"\"p10_ns\": %.1f, \"p90_ns\": %.1f, \"mean_ns\": %.1f, \"min_ns\": %.0f, "
		"\"max_ns\": %.0f, \"inner_MBps\": %.2f, \"keystream_MBps\": %.2f}%s\n",
		name, st->n, fails, st->median, st->p10, st->p90, st->mean, st->min, st->max,
		mbps(inner, st->median), mbps(ks, st->median), last ? "" : ",");
}

static int write_json(const char *path, struct variant *vs, int nv, struct impl *im, int ni,
		      const struct env *e, double secs, unsigned int failures)
{
	FILE *f = fopen(path, "w");

	if (!f) {
		fprintf(stderr, "bench_crypto: %s: %s\n", path, strerror(errno));
		return -1;
	}
	fprintf(f, "{\n  \"tool\": \"bench_crypto\",\n  \"env\": {\n    \"kernel\": ");
	json_str(f, e->kernel);
	fprintf(f, ",\n    \"cpu_model\": ");
	json_str(f, e->cpu);
	fprintf(f, ",\n    \"cpus_online\": %ld,\n    \"clang\": ", e->ncpu);
	json_str(f, e->clang);
	fprintf(f, ",\n    \"libbpf\": ");
	json_str(f, e->libbpf);
	fprintf(f, ",\n    \"date\": ");
	json_str(f, e->date);
	fprintf(f,
		"\n  },\n  \"config\": {\n    \"samples\": %u,\n    \"warmup\": %u,\n"
		"    \"pinned_cpu\": %d,\n    \"method\": ",
		opt.samples, opt.warmup, opt.cpu);
	json_str(f, "BPF_PROG_TEST_RUN repeat=1, opts.duration ns; round-robin over (L, cipher) "
		    "pairs rotating the start each round; seal, open of that sealed frame, ecb");
	fprintf(f, ",\n    \"sizes\": [");
	for (int s = 0; s < opt.nsizes; s++)
		fprintf(f, "%s%u", s ? ", " : "", opt.sizes[s]);
	fprintf(f, "],\n    \"ciphers\": [");
	for (int i = 0; i < ni; i++) {
		fprintf(f, "%s{\"algo\": ", i ? ", " : "");
		json_str(f, im[i].algo);
		fprintf(f, ", \"driver\": ");
		json_str(f, im[i].driver);
		fprintf(f, ", \"peers\": %u, \"populate_s\": %.3f}", im[i].npeers, im[i].setup_s);
	}
	fprintf(f, "],\n    \"elapsed_s\": %.2f\n  },\n  \"results\": [\n", secs);
	for (int k = 0; k < nv; k++) {
		struct variant *v = &vs[k];
		struct stats st[N_OPS];

		for (int op = 0; op < N_OPS; op++)
			st[op] = stats_of(v->ns[op], v->n[op]);
		fprintf(f, "    {\n      \"algo\": ");
		json_str(f, v->im->algo);
		fprintf(f, ", \"driver\": ");
		json_str(f, v->im->driver);
		fprintf(f, ", \"peers\": %u, \"inner_len\": %u, \"keystream_bytes\": %u,\n",
			v->im->npeers, v->len, v->ks);
		fprintf(f, "      \"ops\": {\n");
		for (int op = 0; op < N_OPS; op++)
			json_stats(f, OP_NAME[op], &st[op], v->fail[op], v->len, v->ks,
				   op == N_OPS - 1);
		fprintf(f,
			"      },\n      \"ratios\": {\"seal_over_ecb\": %.4f, \"open_over_ecb\": "
			"%.4f, \"seal_plus_open_over_2ecb\": %.4f}\n    }%s\n",
			ratio(st[OP_SEAL].median, st[OP_ECB].median),
			ratio(st[OP_OPEN].median, st[OP_ECB].median),
			ratio(st[OP_SEAL].median + st[OP_OPEN].median, 2 * st[OP_ECB].median),
			k == nv - 1 ? "" : ",");
	}
	fprintf(f, "  ],\n  \"cross\": [\n");
	/* each cipher's medians against the first cipher's, per size and op */
	for (int s = 0, first = 1; s < opt.nsizes; s++) {
		for (int i = 1; i < ni; i++) {
			for (int op = 0; op < N_OPS; op++) {
				struct variant *a = &vs[s * ni], *b = &vs[s * ni + i];
				double ma = stats_of(a->ns[op], a->n[op]).median;
				double mb = stats_of(b->ns[op], b->n[op]).median;

				fprintf(f, "%s    {\"inner_len\": %u, \"op\": \"%s\", \"a\": ",
					first ? "" : ",\n", a->len, OP_NAME[op]);
				json_str(f, a->im->driver);
				fprintf(f, ", \"b\": ");
				json_str(f, b->im->driver);
				fprintf(f, ", \"a_over_b\": %.4f}", ratio(ma, mb));
				first = 0;
			}
		}
	}
	fprintf(f, "\n  ],\n  \"setup_failures\": %u,\n  \"run_failures\": %u,\n  \"ok\": %s\n}\n",
		setup_failures, failures, failures || setup_failures ? "false" : "true");
	if (fclose(f)) {
		fprintf(stderr, "bench_crypto: %s: %s\n", path, strerror(errno));
		return -1;
	}
	return 0;
}

/* ------------------------------------------------------------------- options */

static int add_size(long v)
{
	if (v < 20 || v > BPFTUN_MAX_INNER) {
		fprintf(stderr, "bench_crypto: size %ld outside 20..%d\n", v, BPFTUN_MAX_INNER);
		return -1;
	}
	if (opt.nsizes >= MAX_SIZES) {
		fprintf(stderr, "bench_crypto: at most %d sizes\n", MAX_SIZES);
		return -1;
	}
	opt.sizes[opt.nsizes++] = (unsigned int)v;
	return 0;
}

/* "64,512,1400"; "64,128,...,1500" continues the step up to the last value. */
static int parse_sizes(const char *arg)
{
	char *s = strdup(arg), *save = NULL, *tok;
	int pending_range = 0, err = 0;

	if (!s)
		return -1;
	opt.nsizes = 0;
	for (tok = strtok_r(s, ",", &save); tok && !err; tok = strtok_r(NULL, ",", &save)) {
		char *end;
		long v;

		if (!strcmp(tok, "...")) {
			if (opt.nsizes < 2 || pending_range) {
				err = -1;
				break;
			}
			pending_range = 1;
			continue;
		}
		v = strtol(tok, &end, 10);
		if (*end || end == tok) {
			err = -1;
			break;
		}
		if (pending_range) {
			long step = (long)opt.sizes[opt.nsizes - 1] - opt.sizes[opt.nsizes - 2];
			long x = opt.sizes[opt.nsizes - 1] + step;

			if (step <= 0) {
				err = -1;
				break;
			}
			for (; x < v && !err; x += step)
				err = add_size(x);
			pending_range = 0;
		}
		err = err ?: add_size(v);
	}
	free(s);
	if (err || pending_range || !opt.nsizes) {
		fprintf(stderr, "bench_crypto: bad --sizes '%s'\n", arg);
		return -1;
	}
	return 0;
}

static int parse_algos(char *arg)
{
	char *save = NULL, *tok;

	opt.nalgos = 0;
	for (tok = strtok_r(arg, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (opt.nalgos >= MAX_ALGOS || strlen(tok) >= BPFTUN_ALGO_LEN)
			return -1;
		opt.algos[opt.nalgos++] = tok;
	}
	return opt.nalgos ? 0 : -1;
}

static void usage(FILE *f)
{
	fprintf(
	    f,
	    "usage: bench_crypto [--sizes 64,512,1400] [--samples 2000] [--warmup 100]\n"
	    "                    [--algos 'ecb(aes),ecb(aes-generic),wireguard'] [--peers "
	    "1,10000]\n"
	    "                    [--cpu N] [--json FILE]\n"
	    "  --sizes   inner IPv4 packet lengths L (20..%d); '64,128,...,1500' fills the step\n"
	    "  --samples samples per (L, cipher, op), default 2000\n"
	    "  --warmup  unrecorded rounds first, default 100\n"
	    "  --algos   cipher implementations (bpftun_sa_req.algo / ecb_algo), or 'wireguard'\n"
	    "            for the WireGuard suite (ChaCha20-Poly1305 in BPF)\n"
	    "  --peers   peer counts to populate both ends with, e.g. 1,10000 (default 1)\n"
	    "  --cpu     pin to this CPU (default: not pinned)\n"
	    "  --json    also write every figure and the environment to FILE\n"
	    "Needs root. Exit status 1 if any load, setup or verdict failed.\n",
	    BPFTUN_MAX_INNER);
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {{"sizes", required_argument, NULL, 's'},
					   {"samples", required_argument, NULL, 'n'},
					   {"warmup", required_argument, NULL, 'w'},
					   {"algos", required_argument, NULL, 'a'},
					   {"cpu", required_argument, NULL, 'c'},
					   {"json", required_argument, NULL, 'j'},
					   {"peers", required_argument, NULL, 'p'},
					   {"help", no_argument, NULL, 'h'},
					   {0}};
	struct impl im[MAX_IMPLS] = {0};
	struct variant *vs;
	struct env env;
	unsigned int failures = 0;
	double t0, secs;
	int c, nv, ni, ok = 1;

	while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		char *end;

		switch (c) {
		case 's':
			if (parse_sizes(optarg))
				return 2;
			break;
		case 'n':
		case 'w':
		case 'c': {
			long v = strtol(optarg, &end, 10);

			if (*end || end == optarg || v < 0 || v > 10000000 || (c == 'n' && v < 1)) {
				fprintf(stderr, "bench_crypto: bad --%s '%s'\n",
					c == 'n'   ? "samples"
					: c == 'w' ? "warmup"
						   : "cpu",
					optarg);
				return 2;
			}
			if (c == 'n')
				opt.samples = (unsigned int)v;
			else if (c == 'w')
				opt.warmup = (unsigned int)v;
			else
				opt.cpu = (int)v;
			break;
		}
		case 'a':
			if (parse_algos(optarg)) {
				fprintf(stderr, "bench_crypto: bad --algos (1..%d names)\n",
					MAX_ALGOS);
				return 2;
			}
			break;
		case 'j':
			opt.json = optarg;
			break;
		case 'p': {
			char *tok, *save = NULL;

			opt.npops = 0;
			for (tok = strtok_r(optarg, ",", &save); tok;
			     tok = strtok_r(NULL, ",", &save)) {
				long v = strtol(tok, &end, 10);

				if (*end || end == tok || v < 1 || v > BPFTUN_MAX_PEERS ||
				    opt.npops >= MAX_POPS) {
					fprintf(
					    stderr,
					    "bench_crypto: bad --peers (1..%d counts of 1..%d)\n",
					    MAX_POPS, BPFTUN_MAX_PEERS);
					return 2;
				}
				opt.pops[opt.npops++] = (uint32_t)v;
			}
			if (!opt.npops) {
				fprintf(stderr, "bench_crypto: bad --peers\n");
				return 2;
			}
			break;
		}
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	if (geteuid() != 0) {
		fprintf(stderr, "bench_crypto: must run as root (BPF)\n");
		return 1;
	}
	if (sodium_init() < 0)
		return 1;
	if (opt.cpu >= 0) {
		cpu_set_t set;

		CPU_ZERO(&set);
		CPU_SET(opt.cpu, &set);
		if (sched_setaffinity(0, sizeof(set), &set)) {
			fprintf(stderr, "bench_crypto: pin to CPU %d: %s\n", opt.cpu,
				strerror(errno));
			return 1;
		}
	}
	env_get(&env);

	/* im[algo * npops + pop]: the counts of one cipher side by side */
	ni = opt.nalgos * opt.npops;
	for (int i = 0; i < ni; i++) {
		im[i].algo = opt.algos[i / opt.npops];
		im[i].wg = !strcmp(im[i].algo, WG_ALGO);
		im[i].npeers = opt.pops[i % opt.npops];
		if (impl_setup(&im[i]))
			ok = 0;
	}
	if (!ok) {
		for (int i = 0; i < ni; i++)
			impl_destroy(&im[i]);
		fprintf(stderr, "bench_crypto: setup failed, nothing measured\n");
		return 1;
	}

	/* variants ordered size-major: vs[s * ni + i] */
	nv = opt.nsizes * ni;
	vs = calloc(nv, sizeof(*vs));
	if (!vs)
		return 1;
	for (int s = 0; s < opt.nsizes; s++) {
		for (int i = 0; i < ni; i++) {
			struct variant *v = &vs[s * ni + i];

			v->im = &im[i];
			v->len = opt.sizes[s];
			v->ks = (im[i].wg ? 64 : BPFTUN_POLYKEY_BLOCKS * BPFTUN_BLOCK) +
				((v->len + 15) & ~15U);
			v->flen = inner_frame(v->frame, v->len);
			for (int op = 0; op < N_OPS; op++) {
				v->ns[op] = calloc(opt.samples, sizeof(uint32_t));
				if (!v->ns[op])
					return 1;
			}
		}
	}
	inner_frame(ecb_in, sizeof(ecb_in) - ETH_HLEN); /* tc_ecb ignores the packet */

	t0 = now_s();
	for (unsigned int r = 0; r < opt.warmup + opt.samples; r++) {
		int record = r >= opt.warmup;

		for (int k = 0; k < nv; k++)
			round_once(&vs[(k + r) % nv], record);
	}
	secs = now_s() - t0;

	/* The counters must agree: every seal counted as sent, every good open as
	 * received, and B dropped nothing. */
	for (int i = 0; i < ni; i++) {
		struct bpftun_peer_stats sa_, sb, sn;
		uint64_t seals = 0, opens = 0, drops = 0;

		for (int k = 0; k < nv; k++) {
			if (vs[k].im != &im[i])
				continue;
			seals += vs[k].seals;
			opens += vs[k].opens_ok;
		}
		if (dp_peer_stats(im[i].a, im[i].pid, &sa_) ||
		    dp_peer_stats(im[i].b, im[i].pid, &sb) ||
		    dp_peer_stats(im[i].b, BPFTUN_NO_PEER, &sn)) {
			fail("%s: read counters", im[i].algo);
			continue;
		}
		for (int d = 0; d < BPFTUN_DROP_MAX; d++)
			drops += sb.drops[d] + sn.drops[d];
		if (sa_.tx_packets != seals || sb.rx_packets != opens || drops)
			fail("%s: counters: A tx_packets %llu (seal runs %llu), B rx_packets %llu "
			     "(good opens %llu), B drops %llu",
			     im[i].algo, (unsigned long long)sa_.tx_packets,
			     (unsigned long long)seals, (unsigned long long)sb.rx_packets,
			     (unsigned long long)opens, (unsigned long long)drops);
		if (drops)
			for (int d = 1; d < BPFTUN_DROP_MAX; d++)
				if (sb.drops[d] + sn.drops[d])
					fprintf(stderr, "  drop %s: %llu\n", bpftun_drop_name(d),
						(unsigned long long)(sb.drops[d] + sn.drops[d]));
	}

	print_table(vs, nv, im, ni, &env, secs);
	for (int k = 0; k < nv; k++)
		for (int op = 0; op < N_OPS; op++)
			failures += vs[k].fail[op];
	{
		unsigned long long runs = (unsigned long long)(opt.warmup + opt.samples) * nv;

		printf("\nverdicts: %llu seal, %llu open, %llu ecb runs; %u wrong (seal must "
		       "redirect, open must redirect the original packet, ecb must return OK)\n",
		       runs, runs, runs, failures);
	}
	if (opt.json && write_json(opt.json, vs, nv, im, ni, &env, secs, failures))
		ok = 0;
	if (failures || setup_failures) {
		fprintf(stderr,
			"bench_crypto: FAILED: %u wrong verdicts, %u setup/counter failures\n",
			failures, setup_failures);
		ok = 0;
	}

	for (int k = 0; k < nv; k++)
		for (int op = 0; op < N_OPS; op++)
			free(vs[k].ns[op]);
	free(vs);
	for (int i = 0; i < ni; i++)
		impl_destroy(&im[i]);
	return ok ? 0 : 1;
}
