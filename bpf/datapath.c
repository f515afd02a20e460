// SPDX-License-Identifier: GPL-2.0
/*
 * datapath.c - load and drive the BPF datapath (see datapath.h).
 */
#include <errno.h>
#include <net/if.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <sodium.h>

#include "datapath.h"
#include "datapath.skel.h"

struct datapath {
	struct datapath_bpf *skel;
	int no_batch; /* the kernel refused BPF_MAP_LOOKUP_BATCH: element lookups */
};

/* Write the IDs of every map into iface, so dp_find can reach them all. */
static int record_maps(struct datapath *dp)
{
	struct bpftun_iface ifc = {0};
	struct bpf_map *map;
	uint32_t zero = 0;
	int fd = bpf_map__fd(dp->skel->maps.iface);

	if (bpf_map_lookup_elem(fd, &zero, &ifc))
		return -errno;
	ifc.nmaps = 0;
	bpf_object__for_each_map(map, dp->skel->obj)
	{
		struct bpf_map_info info = {0};
		uint32_t len = sizeof(info);

		if (ifc.nmaps >= BPFTUN_MAX_MAPS)
			return -E2BIG;
		if (bpf_obj_get_info_by_fd(bpf_map__fd(map), &info, &len))
			return -errno;
		ifc.map_ids[ifc.nmaps++] = info.id;
	}
	if (bpf_map_update_elem(fd, &zero, &ifc, BPF_ANY))
		return -errno;
	return 0;
}

/* ------------------------------------------------------ kernel check */

/* Every kfunc the datapath's programs call: the __ksym declarations of
 * bpf/lib/common.h (bpf_dynptr_from_mem, bpf_skb_pull_data... are helpers,
 * checked by the verifier with a clear message of its own). */
const char *const dp_kernel_kfuncs[] = {
    "bpf_crypto_ctx_create", "bpf_crypto_ctx_acquire", "bpf_crypto_ctx_release",
    "bpf_crypto_encrypt",    "bpf_crypto_decrypt",     "bpf_iter_num_new",
    "bpf_iter_num_next",     "bpf_iter_num_destroy",   "bpf_dynptr_adjust",
    "bpf_cast_to_kern_ctx",
};
const size_t dp_kernel_nkfuncs = sizeof(dp_kernel_kfuncs) / sizeof(dp_kernel_kfuncs[0]);

#define KERNEL_NEEDS                                                                               \
	"needs Linux 6.10+ with CONFIG_BPF_SYSCALL, CONFIG_DEBUG_INFO_BTF, "                       \
	"CONFIG_CRYPTO_ECB and an AES cipher; see docs/kernel.md"

/* Does vmlinux, a loaded module's BTF, or the module tree provide `mod`
 * (a struct `type` defined in it)? */
static int have_feature(const struct btf *vmlinux, const char *type, const char *mod)
{
	char p[320], line[512];
	struct utsname u;
	size_t n = strlen(mod);
	FILE *f;
	int found = 0;

	if (btf__find_by_name_kind(vmlinux, type, BTF_KIND_STRUCT) >= 0)
		return 1; /* built in */
	snprintf(p, sizeof(p), "/sys/kernel/btf/%s", mod);
	if (!access(p, F_OK))
		return 1; /* loaded */
	if (uname(&u))
		return 0;
	snprintf(p, sizeof(p), "/lib/modules/%s/modules.dep", u.release);
	f = fopen(p, "re");
	if (!f)
		return 0;
	/* "kernel/net/sched/cls_bpf.ko[.xz|.zst]: ..." : the kernel loads it on use */
	while (!found && fgets(line, sizeof(line), f)) {
		char *c = strchr(line, ':'), *b;

		if (!c)
			continue;
		*c = 0;
		b = strrchr(line, '/');
		b = b ? b + 1 : line;
		found = !strncmp(b, mod, n) && !strncmp(b + n, ".ko", 3);
	}
	fclose(f);
	return found;
}

/* Is a crypto algorithm called `name` (name or driver) registered? */
static int crypto_registered(const char *name)
{
	char line[256], want[128];
	FILE *f = fopen("/proc/crypto", "re");
	int found = 0;

	if (!f)
		return -errno;
	while (!found && fgets(line, sizeof(line), f)) {
		if (sscanf(line, "name : %127s", want) == 1 ||
		    sscanf(line, "driver : %127s", want) == 1)
			found = !strcmp(want, name);
	}
	fclose(f);
	return found;
}

/* Modules of cipher drivers that declare no crypto- alias (Debian 13's
 * aes_ti has none, so `modprobe crypto-aes-fixed-time` finds nothing). */
static const struct {
	const char *driver, *module;
} cipher_modules[] = {
    {"aes-fixed-time", "aes_ti"},
    {"aes-aesni", "aesni_intel"},
    {"aes-generic", "aes_generic"},
};

static void modprobe(const char *name)
{
	char *argv[] = {"modprobe", "-q", (char *)name, NULL};
	extern char **environ;
	pid_t pid;
	int st;

	if (!posix_spawnp(&pid, "modprobe", NULL, NULL, argv, environ))
		waitpid(pid, &st, 0);
}

/* Load what provides cipher `name`: its crypto- alias (what the kernel's own
 * request_module asks for), else its module if it is a driver listed above.
 * The result does not matter: /proc/crypto is read again after it. */
static void crypto_modprobe(const char *name)
{
	char alias[160];

	snprintf(alias, sizeof(alias), "crypto-%s", name);
	modprobe(alias);
	if (crypto_registered(name) == 1)
		return;
	for (size_t i = 0; i < sizeof(cipher_modules) / sizeof(cipher_modules[0]); i++)
		if (!strcmp(name, cipher_modules[i].driver))
			modprobe(cipher_modules[i].module);
}

/* The driver the kernel picks for the single-block cipher "aes": the one of
 * highest priority in /proc/crypto. 0 and `out` set, or -errno. */
static int aes_driver(char *out, size_t len)
{
	char line[256], name[128] = "", driver[128] = "", type[64];
	FILE *f = fopen("/proc/crypto", "re");
	int prio = -1, best = -1;

	if (!f)
		return -errno;
	out[0] = 0;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "name : %127s", name) == 1 ||
		    sscanf(line, "driver : %127s", driver) == 1 ||
		    sscanf(line, "priority : %d", &prio) == 1)
			continue;
		if (sscanf(line, "type : %63s", type) == 1 && !strcmp(name, "aes") &&
		    !strcmp(type, "cipher") && prio > best) {
			best = prio;
			snprintf(out, len, "%s", driver);
		}
	}
	fclose(f);
	return out[0] ? 0 : -ENOENT;
}

int dp_kernel_check_kfuncs(const char *const *names, size_t n, char *why, size_t len)
{
	struct btf *btf = btf__load_vmlinux_btf();
	int err = 0;

	why[0] = 0;
	if (!btf) {
		err = -errno;
		snprintf(
		    why, len,
		    "bpftun: this kernel has no BTF (/sys/kernel/btf/vmlinux: %s; " KERNEL_NEEDS
		    ")",
		    strerror(-err));
		return err;
	}
	for (size_t i = 0; i < n && !err; i++)
		if (btf__find_by_name_kind(btf, names[i], BTF_KIND_FUNC) < 0) {
			snprintf(why, len,
				 "bpftun: this kernel lacks the kfunc %s (" KERNEL_NEEDS ")",
				 names[i]);
			err = -EOPNOTSUPP;
		}
	btf__free(btf);
	return err;
}

int dp_kernel_check(const char *algo, char *why, size_t len)
{
	struct btf *btf;
	char inner[96];
	const char *open, *close;
	int err;

	why[0] = 0;
	err = dp_kernel_check_kfuncs(dp_kernel_kfuncs, dp_kernel_nkfuncs, why, len);
	if (err)
		return err;
	btf = btf__load_vmlinux_btf();
	if (!btf)
		return -errno; /* read a moment ago */
	if (!have_feature(btf, "clsact_sched_data", "sch_ingress"))
		snprintf(
		    why, len,
		    "bpftun: this kernel lacks the clsact qdisc (CONFIG_NET_SCH_INGRESS, module "
		    "sch_ingress); see docs/kernel.md");
	else if (!have_feature(btf, "cls_bpf_prog", "cls_bpf"))
		snprintf(why, len,
			 "bpftun: this kernel lacks the cls_bpf classifier (CONFIG_NET_CLS_BPF, "
			 "module cls_bpf); see docs/kernel.md");
	btf__free(btf);
	if (why[0])
		return -EOPNOTSUPP;
	if (!algo || !algo[0])
		return 0;
	/* The cipher: "T(X)" needs the block cipher X ("aes" or a driver such as
	 * "aes-generic"). bpf_crypto_ctx_create does not load X's module on
	 * 6.12 (-EOPNOTSUPP until it is loaded): load it here. */
	open = strchr(algo, '(');
	close = strrchr(algo, ')');
	if (open && close > open + 1 && (size_t)(close - open - 1) < sizeof(inner)) {
		memcpy(inner, open + 1, (size_t)(close - open - 1));
		inner[close - open - 1] = 0;
	} else {
		snprintf(inner, sizeof(inner), "%s", algo);
	}
	if (!strcmp(inner, "aes")) {
		/* The constant-time default (Cipher = aes-fixed-time) names no
		 * driver: the kernel takes the "aes" of highest priority. Without
		 * udev (or before it ran) that can be the table-based aes-generic,
		 * as on Debian 13's 6.12 until aesni_intel or aes_ti is loaded:
		 * load both (each is constant time), then make sure. */
		char drv[128];

		modprobe("aesni_intel");
		modprobe("aes_ti");
		if (!aes_driver(drv, sizeof(drv)) && !strcmp(drv, "aes-generic")) {
			snprintf(
			    why, len,
			    "bpftun: %s would run on the table-based aes-generic here (neither "
			    "aesni_intel nor aes_ti could be loaded), which is not constant "
			    "time; load one of them, or set Cipher = aes-generic to accept "
			    "that; see docs/crypto.md",
			    algo);
			return -EOPNOTSUPP;
		}
	}
	err = crypto_registered(inner);
	if (err == 0) {
		crypto_modprobe(inner);
		err = crypto_registered(inner);
	}
	if (err < 0)
		return 0; /* no /proc/crypto: cannot tell; the SA install will say */
	if (!err) {
		snprintf(why, len,
			 "bpftun: this kernel lacks the cipher %s for %s (not in /proc/crypto, and "
			 "modprobe found no module for crypto-%s); see docs/kernel.md",
			 inner, algo, inner);
		return -ENOENT;
	}
	return 0;
}

uint32_t dp_capacity(uint32_t n, uint32_t min, uint32_t max)
{
	uint64_t want = (uint64_t)n + n / 4, cap = min;

	while (cap < want && cap < max)
		cap *= 2;
	return (uint32_t)(cap < max ? cap : max);
}

/* Every map that holds something per peer, and how many entries per peer. */
static const struct {
	const char *name;
	uint32_t per_peer, extra;
} per_peer_maps[] = {
    {"peers", 1, 0},
    {"tx_sas", BPFTUN_SLOTS, 0},
    {"rx_refs", BPFTUN_SLOTS, 0},
    {"rx_sas", BPFTUN_SLOTS, 0},
    {"stats", 1, 1}, /* + the unattributed entry */
};

static int load(struct datapath **out, const struct bpftun_config *cfg, const char *desc,
		uint32_t npeers, uint32_t nallowed);

int dp_load(struct datapath **out, const struct bpftun_config *cfg)
{
	return load(out, cfg, NULL, 0, 0);
}

int dp_load_sized(struct datapath **out, const struct bpftun_config *cfg, uint32_t npeers,
		  uint32_t nallowed)
{
	return load(out, cfg, NULL, npeers, nallowed);
}

int dp_load_keyring(struct datapath **out, const struct bpftun_config *cfg, const char *desc,
		    uint32_t npeers, uint32_t nallowed)
{
	return load(out, cfg, desc, npeers, nallowed);
}

/* The verifier's words when it refuses the kfunc in a syscall program. */
#define KEYRING_REFUSED_MSG "calling kernel function bpf_lookup_user_key is not allowed"

int dp_keyring_check(char *why, size_t len)
{
	static const char *const kf[] = {"bpf_lookup_user_key", "bpf_key_put"};
	const size_t logsz = 1 << 20;
	struct datapath_bpf *skel;
	struct bpf_program *prog;
	struct utsname u;
	char *log;
	int err;

	why[0] = 0;
	if (uname(&u))
		snprintf(u.release, sizeof(u.release), "?");
	skel = datapath_bpf__open();
	if (!skel)
		return -errno;
	log = calloc(1, logsz);
	if (!log) {
		datapath_bpf__destroy(skel);
		return -ENOMEM;
	}
	/* sa_ctl_keyring alone, exactly as up loads it (the maps are created
	 * in this process only) */
	bpf_object__for_each_program(prog, skel->obj)
	    bpf_program__set_autoload(prog, prog == skel->progs.sa_ctl_keyring);
	memcpy((char *)skel->rodata->keyring_desc, "bpftun:probe", sizeof("bpftun:probe"));
	/* log level 0: libbpf loads without a log first, and only after a
	 * failure loads again with level 1 into log (for the reason) */
	bpf_program__set_log_buf(skel->progs.sa_ctl_keyring, log, logsz);
	err = datapath_bpf__load(skel);
	if (err && dp_kernel_check_kfuncs(kf, 2, why, len)) {
		err = -EOPNOTSUPP; /* not in this kernel at all; why says which */
	} else if (err && strstr(log, KEYRING_REFUSED_MSG)) {
		snprintf(why, len,
			 "this kernel (%s) refuses bpf_lookup_user_key in BPF syscall programs "
			 "(verifier: \"" KEYRING_REFUSED_MSG "\"): the SA-install gate cannot "
			 "load; use PrivateKey or PrivateKeyFile here (docs/kernel.md)",
			 u.release);
		err = -EOPNOTSUPP;
	} else if (err) {
		snprintf(why, len,
			 "the keyring gate sa_ctl_keyring does not load on this kernel (%s): %s "
			 "(run with -v for the verifier's log)",
			 u.release, strerror(-err));
	}
	free(log);
	datapath_bpf__destroy(skel);
	return err;
}

/* Would the datapath load without sa_ctl_keyring? Then the kernel refused
 * only bpf_lookup_user_key (Linux 6.12 does in syscall programs). */
static int keyring_refused(const struct bpftun_config *cfg)
{
	struct datapath_bpf *skel = datapath_bpf__open();
	int ok;

	if (!skel)
		return 0;
	skel->rodata->cfg = *cfg;
	bpf_program__set_autoload(skel->progs.sa_ctl_keyring, false);
	ok = datapath_bpf__load(skel) == 0;
	datapath_bpf__destroy(skel);
	return ok;
}

static int load(struct datapath **out, const struct bpftun_config *cfg, const char *desc,
		uint32_t npeers, uint32_t nallowed)
{
	uint32_t max_peers, max_allowed;
	struct datapath *dp;
	int err;

	if (desc && (!desc[0] || strlen(desc) >= BPFTUN_KEYDESC_LEN))
		return -EINVAL;
	if (npeers > BPFTUN_MAX_PEERS || nallowed > BPFTUN_MAX_ALLOWED_IPS)
		return -E2BIG;
	max_peers = dp_capacity(npeers, BPFTUN_MIN_PEERS, BPFTUN_MAX_PEERS);
	max_allowed = dp_capacity(nallowed, BPFTUN_MIN_ALLOWED_IPS, BPFTUN_MAX_ALLOWED_IPS);
	dp = calloc(1, sizeof(*dp));
	if (!dp)
		return -ENOMEM;
	dp->skel = datapath_bpf__open();
	if (!dp->skel) {
		err = -errno;
		goto fail;
	}
	dp->skel->rodata->cfg = *cfg;
	if (desc)
		memcpy((char *)dp->skel->rodata->keyring_desc, desc, strlen(desc) + 1);
	else
		bpf_program__set_autoload(dp->skel->progs.sa_ctl_keyring, false);
	dp->skel->rodata->cfg.max_peers = max_peers;
	dp->skel->rodata->cfg.max_allowed_ips = max_allowed;
	for (size_t i = 0; i < sizeof(per_peer_maps) / sizeof(per_peer_maps[0]); i++) {
		struct bpf_map *m =
		    bpf_object__find_map_by_name(dp->skel->obj, per_peer_maps[i].name);

		err = m ? bpf_map__set_max_entries(m, max_peers * per_peer_maps[i].per_peer +
							  per_peer_maps[i].extra)
			: -ENOENT;
		if (err)
			goto fail;
	}
	err = bpf_map__set_max_entries(dp->skel->maps.allowed_ips, max_allowed);
	if (err)
		goto fail;
	err = datapath_bpf__load(dp->skel);
	if (err && desc && keyring_refused(cfg))
		err = -EOPNOTSUPP;
	if (err)
		goto fail;
	err = record_maps(dp);
	if (err)
		goto fail;
	*out = dp;
	return 0;
fail:
	datapath_bpf__destroy(dp->skel);
	free(dp);
	return err;
}

void dp_destroy(struct datapath *dp)
{
	if (!dp)
		return;
	datapath_bpf__destroy(dp->skel);
	free(dp);
}

int dp_sa_ctl(struct datapath *dp, struct bpftun_sa_req *req)
{
	/* Syscall programs take ctx_in only; the kernel copies it back there. */
	LIBBPF_OPTS(bpf_test_run_opts, opts, .ctx_in = req, .ctx_size_in = sizeof(*req));
	int err;

	err = bpf_prog_test_run_opts(bpf_program__fd(dp->skel->progs.sa_ctl), &opts);
	sodium_memzero(req->key, sizeof(req->key));
	if (err)
		return -errno;
	return req->err;
}

int dp_sa_ctl_keyring(struct datapath *dp, struct bpftun_sa_req *req, int32_t serial)
{
	struct bpftun_sa_keyring_req kr = {.serial = serial, .now = (uint64_t)time(NULL)};
	LIBBPF_OPTS(bpf_test_run_opts, opts, .ctx_in = &kr, .ctx_size_in = sizeof(kr));
	int fd = bpf_program__fd(dp->skel->progs.sa_ctl_keyring), err;

	if (fd < 0) {
		sodium_memzero(req->key, sizeof(req->key));
		return -EOPNOTSUPP; /* loaded without a keyring description */
	}
	kr.req = *req;
	sodium_memzero(req->key, sizeof(req->key));
	err = bpf_prog_test_run_opts(fd, &opts) ? -errno : 0;
	req->err = *(volatile int32_t *)&kr.req.err; /* the kernel wrote it back into kr */
	sodium_memzero(&kr, sizeof(kr));
	return err ?: req->err;
}

uint32_t dp_max_peers(struct datapath *dp)
{
	return dp->skel->rodata->cfg.max_peers;
}

int dp_set_peer(struct datapath *dp, uint32_t peer_id, const struct bpftun_peer *peer)
{
	if (peer_id >= dp_max_peers(dp))
		return -ERANGE;
	if (bpf_map_update_elem(bpf_map__fd(dp->skel->maps.peers), &peer_id, peer, BPF_ANY))
		return -errno;
	return 0;
}

int dp_get_peer(struct datapath *dp, uint32_t peer_id, struct bpftun_peer *peer)
{
	if (bpf_map_lookup_elem(bpf_map__fd(dp->skel->maps.peers), &peer_id, peer))
		return -errno;
	return 0;
}

void dp_batch_off(struct datapath *dp)
{
	dp->no_batch = 1;
}

/* errno values that mean "no batch lookups here" rather than a failed read:
 * kernels before 5.6 (EINVAL: unknown command), map types without them
 * (ENOTSUPP, 524, which has no name in userspace headers; EOPNOTSUPP). */
static int batch_unsupported(int err)
{
	return err == EINVAL || err == EOPNOTSUPP || err == 524 || err == ENOSYS;
}

/* Values first..first+n-1 of the ARRAY or PERCPU_ARRAY map fd (size
 * entries) into vals, stride bytes apart (the value size; for a per-CPU map,
 * the value size rounded up to 8 times the possible CPUs, as the kernel
 * lays them out): BPF_MAP_LOOKUP_BATCH, up to DP_BATCH_MAX at a time (an
 * array map's next key after k is k + 1, so in_batch = first - 1 starts at
 * first), or one lookup each once the kernel has refused a batch. */
static int array_read(struct datapath *dp, int fd, uint32_t size, uint32_t first, uint32_t n,
		      void *vals, size_t stride)
{
	uint32_t keys[DP_BATCH_MAX], in, out, done = 0;

	if (first > size || n > size - first)
		return -ERANGE;
	while (done < n) {
		uint32_t want = n - done < DP_BATCH_MAX ? n - done : DP_BATCH_MAX, cnt = want;
		uint8_t *v = (uint8_t *)vals + (size_t)done * stride;

		if (!dp->no_batch) {
			LIBBPF_OPTS(bpf_map_batch_opts, o);
			int r;

			in = first + done - 1;
			r = bpf_map_lookup_batch(fd, first + done ? &in : NULL, &out, keys, v, &cnt,
						 &o);
			if (r && errno == ENOENT)
				r = 0; /* the map's end: cnt says how many came */
			if (!r) {
				/* an array has every key: exactly want, in order */
				if (cnt != want || keys[0] != first + done ||
				    keys[cnt - 1] != first + done + cnt - 1)
					return -EIO;
				done += cnt;
				continue;
			}
			if (!batch_unsupported(errno))
				return -errno;
			dp->no_batch = 1;
		}
		for (uint32_t k = 0; k < want; k++) {
			uint32_t key = first + done + k;

			if (bpf_map_lookup_elem(fd, &key, v + (size_t)k * stride))
				return -errno;
		}
		done += want;
	}
	return 0;
}

int dp_get_peers(struct datapath *dp, uint32_t first, uint32_t n, struct bpftun_peer *out)
{
	return array_read(dp, bpf_map__fd(dp->skel->maps.peers), dp_max_peers(dp), first, n, out,
			  sizeof(*out));
}

int dp_allow(struct datapath *dp, int family, const void *addr, unsigned int prefix,
	     uint32_t peer_id)
{
	struct bpftun_lpm_key key = {.family = (uint32_t)family};
	unsigned int max = family == 4 ? 32 : 128;

	if ((family != 4 && family != 6) || prefix > max)
		return -EINVAL;
	key.prefixlen = BPFTUN_LPM_FAMILY_BITS + prefix;
	memcpy(key.addr, addr, family == 4 ? 4 : 16);
	if (bpf_map_update_elem(bpf_map__fd(dp->skel->maps.allowed_ips), &key, &peer_id, BPF_ANY))
		return -errno;
	return 0;
}

int dp_peer_stats(struct datapath *dp, uint32_t peer_id, struct bpftun_peer_stats *out)
{
	int ncpu = libbpf_num_possible_cpus();
	struct bpftun_peer_stats *v;
	int err = 0;

	if (ncpu < 0)
		return ncpu;
	if (peer_id == BPFTUN_NO_PEER)
		peer_id = dp_max_peers(dp); /* where the datapath counts them */
	else if (peer_id >= dp_max_peers(dp))
		return -ENOENT;
	v = calloc(ncpu, sizeof(*v));
	if (!v)
		return -ENOMEM;
	if (bpf_map_lookup_elem(bpf_map__fd(dp->skel->maps.stats), &peer_id, v)) {
		err = -errno;
		goto out;
	}
	memset(out, 0, sizeof(*out));
	for (int c = 0; c < ncpu; c++) {
		out->rx_packets += v[c].rx_packets;
		out->rx_bytes += v[c].rx_bytes;
		out->tx_packets += v[c].tx_packets;
		out->tx_bytes += v[c].tx_bytes;
		for (int r = 0; r < BPFTUN_DROP_MAX; r++)
			out->drops[r] += v[c].drops[r];
		if (v[c].last_rx_ns > out->last_rx_ns)
			out->last_rx_ns = v[c].last_rx_ns;
	}
out:
	free(v);
	return err;
}

int dp_peer_stats_range(struct datapath *dp, uint32_t first, uint32_t n,
			struct bpftun_peer_stats *out)
{
	int ncpu = libbpf_num_possible_cpus();
	size_t vsz = (sizeof(*out) + 7) & ~(size_t)7, stride;
	struct bpftun_peer_stats *v;
	uint8_t *buf;
	int err;

	if (ncpu < 0)
		return ncpu;
	if (first > dp_max_peers(dp) || n > dp_max_peers(dp) - first)
		return -ERANGE; /* peers only: BPFTUN_NO_PEER's slot is not one */
	if (!n)
		return 0;
	stride = vsz * (size_t)ncpu;
	buf = calloc(n, stride);
	if (!buf)
		return -ENOMEM;
	err = array_read(dp, bpf_map__fd(dp->skel->maps.stats), dp_max_peers(dp) + 1, first, n, buf,
			 stride);
	for (uint32_t i = 0; !err && i < n; i++) {
		memset(&out[i], 0, sizeof(out[i]));
		for (int c = 0; c < ncpu; c++) {
			v = (struct bpftun_peer_stats *)(buf + i * stride + (size_t)c * vsz);
			out[i].rx_packets += v->rx_packets;
			out[i].rx_bytes += v->rx_bytes;
			out[i].tx_packets += v->tx_packets;
			out[i].tx_bytes += v->tx_bytes;
			for (int r = 0; r < BPFTUN_DROP_MAX; r++)
				out[i].drops[r] += v->drops[r];
			if (v->last_rx_ns > out[i].last_rx_ns)
				out[i].last_rx_ns = v->last_rx_ns;
		}
	}
	free(buf);
	return err;
}

int dp_seal_fd(struct datapath *dp)
{
	return bpf_program__fd(dp->skel->progs.tc_seal);
}

int dp_open_fd(struct datapath *dp)
{
	return bpf_program__fd(dp->skel->progs.tc_open);
}

int dp_sa_ctl_fd(struct datapath *dp)
{
	return bpf_program__fd(dp->skel->progs.sa_ctl);
}

int dp_pin_maps(struct datapath *dp, const char *dir)
{
	return bpf_object__pin_maps(dp->skel->obj, dir);
}

/* The map named `name` among ids, as a new fd, or -ENOENT. */
static int map_fd_by_name(const uint32_t *ids, uint32_t n, const char *name)
{
	for (uint32_t i = 0; i < n; i++) {
		struct bpf_map_info info = {0};
		uint32_t len = sizeof(info);
		int fd = bpf_map_get_fd_by_id(ids[i]);

		if (fd < 0)
			continue;
		if (!bpf_obj_get_info_by_fd(fd, &info, &len) && !strcmp(info.name, name))
			return fd;
		close(fd);
	}
	return -ENOENT;
}

/* The map whose name ends in suffix (".rodata": its name is the object's
 * truncated, then ".rodata"), as a new fd, or -ENOENT. */
static int map_fd_by_name_suffix(const uint32_t *ids, uint32_t n, const char *suffix)
{
	size_t sl = strlen(suffix);

	for (uint32_t i = 0; i < n; i++) {
		struct bpf_map_info info = {0};
		uint32_t len = sizeof(info);
		int fd = bpf_map_get_fd_by_id(ids[i]);
		size_t nl;

		if (fd < 0)
			continue;
		if (!bpf_obj_get_info_by_fd(fd, &info, &len)) {
			nl = strlen(info.name);
			if (nl >= sl && !strcmp(info.name + nl - sl, suffix))
				return fd;
		}
		close(fd);
	}
	return -ENOENT;
}

static int find(struct datapath **out, int hidden_ifindex, int load)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = hidden_ifindex, .attach_point = BPF_TC_INGRESS);
	LIBBPF_OPTS(bpf_tc_opts, opts, .handle = BPFTUN_TC_HANDLE, .priority = BPFTUN_TC_PRIO);
	struct bpf_prog_info pinfo = {0};
	uint32_t ids[BPFTUN_MAX_MAPS], zero = 0, len = sizeof(pinfo);
	struct bpftun_iface ifc;
	struct datapath *dp = NULL;
	struct bpf_map *map;
	int err, prog_fd = -1, ifc_fd = -1;

	err = bpf_tc_query(&hook, &opts);
	if (err)
		return err == -ENOENT ? -ENODEV : err;
	prog_fd = bpf_prog_get_fd_by_id(opts.prog_id);
	if (prog_fd < 0)
		return -errno; /* -EPERM without CAP_SYS_ADMIN */
	pinfo.nr_map_ids = BPFTUN_MAX_MAPS;
	pinfo.map_ids = (uint64_t)(unsigned long)ids;
	if (bpf_obj_get_info_by_fd(prog_fd, &pinfo, &len)) {
		err = -errno;
		goto out;
	}
	ifc_fd = map_fd_by_name(
	    ids, pinfo.nr_map_ids < BPFTUN_MAX_MAPS ? pinfo.nr_map_ids : BPFTUN_MAX_MAPS, "iface");
	if (ifc_fd < 0 || bpf_map_lookup_elem(ifc_fd, &zero, &ifc)) {
		err = -ENOENT; /* a program that is not ours */
		goto out;
	}
	dp = calloc(1, sizeof(*dp));
	if (!dp) {
		err = -ENOMEM;
		goto out;
	}
	dp->skel = datapath_bpf__open();
	if (!dp->skel) {
		err = -errno;
		goto out;
	}
	/* The live programs' configuration (.rodata: cfg), so that a program
	 * loaded here behaves exactly as the attached ones (the key manager
	 * attaches its tc_open on a new underlay when a peer roams), and so that
	 * a view knows the live sizes (cfg.max_peers). */
	{
		int ro = map_fd_by_name_suffix(
		    ids, pinfo.nr_map_ids < BPFTUN_MAX_MAPS ? pinfo.nr_map_ids : BPFTUN_MAX_MAPS,
		    ".rodata");
		size_t sz = bpf_map__value_size(dp->skel->maps.rodata);
		void *buf = calloc(1, sz);

		if (ro < 0 || !buf || bpf_map_lookup_elem(ro, &zero, buf)) {
			err = ro < 0 ? ro : !buf ? -ENOMEM : -EIO;
			if (ro >= 0)
				close(ro);
			free(buf);
			goto out;
		}
		close(ro);
		memcpy(dp->skel->rodata, buf, sz); /* the skeleton's mmap, before load */
		free(buf);
	}
	/* The live tunnel's keyring description decides sa_ctl_keyring. */
	if (!dp->skel->rodata->keyring_desc[0])
		bpf_program__set_autoload(dp->skel->progs.sa_ctl_keyring, false);
	/* Share every map but the program's own .rodata/.bss: fresh programs
	 * (sa_ctl above all) run against the live tunnel's state. */
	bpf_object__for_each_map(map, dp->skel->obj)
	{
		const char *name = bpf_map__name(map);
		int fd;

		if (name[0] == '.' || strchr(name, '.'))
			continue;
		fd = map_fd_by_name(ifc.map_ids, ifc.nmaps, name);
		if (fd < 0) {
			err = fd;
			goto out;
		}
		err = bpf_map__reuse_fd(map, fd);
		close(fd);
		if (err)
			goto out;
	}
	err = load ? datapath_bpf__load(dp->skel) : 0;
	if (err)
		goto out;
	*out = dp;
	dp = NULL;
out:
	if (dp) {
		datapath_bpf__destroy(dp->skel);
		free(dp);
	}
	if (ifc_fd >= 0)
		close(ifc_fd);
	close(prog_fd);
	return err;
}

int dp_find(struct datapath **out, int hidden_ifindex)
{
	return find(out, hidden_ifindex, 1);
}

int dp_view(struct datapath **out, int hidden_ifindex)
{
	return find(out, hidden_ifindex, 0);
}

int dp_get_iface(struct datapath *dp, struct bpftun_iface *ifc)
{
	uint32_t zero = 0;

	if (bpf_map_lookup_elem(bpf_map__fd(dp->skel->maps.iface), &zero, ifc))
		return -errno;
	return 0;
}

int dp_set_iface(struct datapath *dp, const struct bpftun_iface *ifc)
{
	uint32_t zero = 0;
	struct bpftun_iface cur;
	int err = dp_get_iface(dp, &cur);

	if (err)
		return err;
	/* map IDs belong to dp_load; callers cannot overwrite them */
	struct bpftun_iface next = *ifc;

	next.nmaps = cur.nmaps;
	memcpy(next.map_ids, cur.map_ids, sizeof(next.map_ids));
	/* the gate's counters are the kernel's (sa_ctl_keyring writes them) */
	next.keyring_refused = cur.keyring_refused;
	next.keyring_last_err = cur.keyring_last_err;
	if (bpf_map_update_elem(bpf_map__fd(dp->skel->maps.iface), &zero, &next, BPF_ANY))
		return -errno;
	return 0;
}

int dp_tx_sa(struct datapath *dp, uint32_t peer_id, uint32_t slot, struct bpftun_tx_sa_info *out)
{
	uint32_t key = peer_id * BPFTUN_SLOTS + slot;
	struct bpftun_tx_sa_view v;

	if (slot >= BPFTUN_SLOTS ||
	    bpf_map_lookup_elem(bpf_map__fd(dp->skel->maps.tx_sas), &key, &v))
		return -errno ?: -EINVAL;
	out->present = (int)v.present;
	out->counter = v.counter - v.counter_start; /* messages under this key */
	out->expire_ns = v.expire_ns;
	out->remote_index = v.remote_index;
	out->suite = v.suite;
	sodium_memzero(&v, sizeof(v)); /* a WireGuard SA's key came with it */
	return 0;
}

int dp_map_fd(struct datapath *dp, const char *name)
{
	struct bpf_map *map = bpf_object__find_map_by_name(dp->skel->obj, name);

	return map ? bpf_map__fd(map) : -ENOENT;
}

int dp_rx_sa_used(struct datapath *dp, uint32_t index)
{
	/* the value is an rx_sa (with its replay window); read it whole */
	struct {
		struct bpftun_rx_sa_view head;
		uint8_t rest[4096];
	} v;
	int fd = dp_map_fd(dp, "rx_sas"), used;

	if (bpf_map__value_size(bpf_object__find_map_by_name(dp->skel->obj, "rx_sas")) > sizeof(v))
		return -E2BIG;
	if (bpf_map_lookup_elem(fd, &index, &v))
		return -errno;
	used = v.head.replay_next > 0;
	sodium_memzero(&v, sizeof(v)); /* a WireGuard SA's key came with it */
	return used;
}

int dp_rx_index(struct datapath *dp, uint32_t peer_id, uint32_t slot, uint32_t *index)
{
	uint32_t key = peer_id * BPFTUN_SLOTS + slot;
	struct {
		uint64_t ctx;
		uint32_t index;
		uint32_t present;
	} v;

	if (slot >= BPFTUN_SLOTS || bpf_map_lookup_elem(dp_map_fd(dp, "rx_refs"), &key, &v))
		return -ENOENT;
	if (!v.present)
		return -ENOENT;
	*index = v.index;
	return 0;
}

int dp_keepalive(struct datapath *dp, uint32_t peer_id, uint8_t out[32])
{
	uint8_t in[64] = {0}, res[128];
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = in, .data_size_in = 64, .data_out = res,
		    .data_size_out = sizeof(res), .repeat = 1);
	int err;

	in[12] = 0x08; /* an Ethernet header for the test run; never sent */
	memcpy(in + 14, &peer_id, sizeof(peer_id));
	err = bpf_prog_test_run_opts(bpf_program__fd(dp->skel->progs.tc_keepalive), &opts);
	if (err)
		return -errno;
	if (opts.retval != 0 || opts.data_size_out != 14 + 32)
		return -ENOKEY;
	memcpy(out, res + 14, 32);
	return 0;
}

int dp_underlay_slot(struct bpftun_iface *ifc, uint32_t ifindex, int *added)
{
	uint32_t n =
	    ifc->nunderlays < BPFTUN_MAX_UNDERLAYS ? ifc->nunderlays : BPFTUN_MAX_UNDERLAYS;
	char name[IF_NAMESIZE];
	int slot = -1;

	*added = 0;
	for (uint32_t i = 0; i < n; i++)
		if (ifc->underlays[i] == ifindex)
			return (int)i;
	for (uint32_t i = 0; i < n && slot < 0; i++)
		if (!if_indextoname(ifc->underlays[i], name))
			slot = (int)i;
	if (slot < 0) {
		if (n >= BPFTUN_MAX_UNDERLAYS)
			return -ENOSPC;
		slot = (int)n;
		ifc->nunderlays = n + 1;
	}
	ifc->underlays[slot] = ifindex;
	ifc->clsact_created &= ~(1U << slot);
	*added = 1;
	return slot;
}
