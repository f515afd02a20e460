// SPDX-License-Identifier: GPL-2.0
/*
 * up.c - `bpftun up CONFIG`, `bpftun down IFNAME` and `bpftun cleanup`.
 *
 * up: everything that can be checked is checked before the host changes
 * (config, keys, capacities, names, routes to endpoints, the port). Then the
 * tunnel is built step by step, in an order that keeps it removable at every
 * moment (see up_main), and any failure undoes every step already taken.
 * down: the same steps backwards, for a tunnel found from its device alone,
 * so it works from any process in the namespace, after a failed up and
 * after an up killed at any step.
 * cleanup: tc_open filters and xdp_steer programs whose tunnel is gone
 * (underlay_sweep_orphans, underlay_sweep_steer_orphans) and the logs of
 * such tunnels. tc_open and clsact on the underlays: underlay.c.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <bpf/bpf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <net/if.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/mount.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <bpf/libbpf.h>
#include <sodium.h>

#include "bpftun.h"
#include "config.h"
#include "datapath.h"
#include "keyring.h"
#include "netlink.h"
#include "underlay.h"

#define BPF_FS_MAGIC_ 0xcafe4a11
#define PIN_ROOT      "/sys/fs/bpf/bpftun"

struct up_state {
	const char *conf_path;
	struct bt_config cfg;
	uint8_t public_key[32];
	struct nl_tunnel tun;
	int tun_created;
	struct datapath *dp;
	struct bpftun_iface ifc;
	pid_t keymgmt;
	uint32_t fwmark;   /* FwMark, or the table's number for a full tunnel */
	uint32_t rt_table; /* Table = auto with a /0 AllowedIPs: the policy table; 0 none */
	int full[2];	   /* a /0 AllowedIPs of IPv4, IPv6 */
	/* per peer: resolved underlay */
	struct nl_route_info route[BT_MAX_PEERS];
};

/*
 * Test builds only (bpftun-testhooks, built from these files with
 * -DBPFTUN_TEST_HOOKS beside bpftun and never installed; bpftun itself has
 * no hook): with
 * BPFTUN_TEST_STOP_AFTER=N in the environment, `up` kills itself with
 * SIGKILL right after its N-th step that changes the host, as a crash or
 * a kill -9 would. tests/netns_crash.sh kills it after every step in turn.
 * BPFTUN_TEST_STEPS=1 prints each step's number and name.
 */
#ifdef BPFTUN_TEST_HOOKS
static void up_step(const char *what)
{
	static int n;
	const char *stop = getenv("BPFTUN_TEST_STOP_AFTER");

	n++;
	if (getenv("BPFTUN_TEST_STEPS"))
		fprintf(stderr, "bpftun: test: step %d: %s\n", n, what);
	if (stop && atoi(stop) == n) {
		fprintf(stderr, "bpftun: test: killed after step %d (%s)\n", n, what);
		raise(SIGKILL);
	}
}
#define UP_HOOK_NETLINK() (nl_step_hook = up_step)
#else
static void up_step(const char *what)
{
	(void)what;
}
#define UP_HOOK_NETLINK() ((void)0)
#endif

static int bpffs_mounted(void)
{
	struct statfs st;

	return !statfs("/sys/fs/bpf", &st) && (unsigned long)st.f_type == BPF_FS_MAGIC_;
}

/* PIN_ROOT/NETNSINODE-IFNAME: this network namespace's pins of ifname (a
 * same-named tunnel in another namespace has its own). 0 or -errno. */
static int pin_dir(char *buf, size_t len, const char *ifname)
{
	struct stat st;

	if (stat("/proc/self/ns/net", &st))
		return -errno;
	snprintf(buf, len, "%s/%lu-%s", PIN_ROOT, (unsigned long)st.st_ino, ifname);
	return 0;
}

/* Pins are plain files in one directory (bpf_object__pin_maps). */
static void remove_pins(const char *ifname)
{
	char dir[128], path[400];
	struct dirent *d;
	DIR *dh;

	if (!bpffs_mounted() || pin_dir(dir, sizeof(dir), ifname))
		return;
	dh = opendir(dir);
	if (!dh)
		return;
	while ((d = readdir(dh))) {
		if (d->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, d->d_name);
		if (unlink(path))
			pr_debug("unlink %s: %s", path, strerror(errno));
	}
	closedir(dh);
	if (rmdir(dir))
		pr_debug("rmdir %s: %s", dir, strerror(errno));
	rmdir(PIN_ROOT); /* fails while other tunnels have pins: fine */
}

/* ------------------------------------------- the key manager's process */

int keymgmt_running(uint32_t pid)
{
	char path[64], comm[32] = "";
	FILE *f;
	int ok;

	if (!pid)
		return 0;
	snprintf(path, sizeof(path), "/proc/%u/comm", pid);
	f = fopen(path, "r");
	if (!f)
		return 0;
	ok = fgets(comm, sizeof(comm), f) && !strncmp(comm, "bpftun-keymgmt", 14);
	fclose(f);
	return ok;
}

/* /run/bpftun/INODE-IFNAME.SUFFIX of this namespace (bpftun.h). */
int bt_run_path(char *buf, size_t len, const char *ifname, const char *suffix)
{
	struct stat st;

	if (stat("/proc/self/ns/net", &st))
		return -errno;
	if (mkdir(BT_RUN_DIR, 0700) && errno != EEXIST)
		return -errno;
	snprintf(buf, len, "%s/%lu-%s.%s", BT_RUN_DIR, (unsigned long)st.st_ino, ifname, suffix);
	return 0;
}

/* 1 once pid is gone or a zombie (a killed `up`'s key manager is not our
 * child, so waitpid cannot tell). */
static int pid_gone(pid_t pid)
{
	char path[64], buf[256], *p;
	FILE *f;
	int gone = 1;

	if (kill(pid, 0))
		return 1;
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return 1;
	if (fgets(buf, sizeof(buf), f) && (p = strrchr(buf, ')')) && p[1] == ' ')
		gone = p[2] == 'Z' || p[2] == 'X';
	fclose(f);
	return gone;
}

/* Stop a key manager: SIGTERM, then SIGKILL after 3 s. */
static void stop_pid(pid_t pid)
{
	struct timespec ts = {0, 20 * 1000 * 1000};

	if (pid <= 0 || kill(pid, SIGTERM))
		return;
	for (int i = 0; i < 150; i++) {
		if (waitpid(pid, NULL, WNOHANG) == pid || pid_gone(pid))
			return;
		nanosleep(&ts, NULL);
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, WNOHANG);
}

/* Every bpftun-keymgmt of tunnel `name` in this network namespace, found
 * from /proc (comm, network namespace, "--ifname NAME" in its command
 * line), whether or not its pid reached the iface map: an `up` killed
 * after it started the key manager leaves one that nobody recorded.
 * Stopped; returns how many. */
static int stop_keymgmt_of(const char *name)
{
	struct stat me, st;
	struct dirent *d;
	int n = 0;
	DIR *dh;

	if (stat("/proc/self/ns/net", &me))
		return 0;
	dh = opendir("/proc");
	if (!dh)
		return 0;
	while ((d = readdir(dh))) {
		char path[300], buf[4096];
		pid_t pid = (pid_t)atoi(d->d_name);
		ssize_t len;
		int fd, match = 0;

		if (pid <= 0 || pid == getpid() || !keymgmt_running((uint32_t)pid))
			continue;
		snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)pid);
		if (stat(path, &st) || st.st_ino != me.st_ino || st.st_dev != me.st_dev)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		len = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (len <= 0)
			continue;
		buf[len] = 0;
		for (char *a = buf; a < buf + len; a += strlen(a) + 1)
			if (!strcmp(a, "--ifname") && a + strlen(a) + 1 < buf + len &&
			    !strcmp(a + strlen(a) + 1, name))
				match = 1;
		if (!match)
			continue;
		pr_debug("stopping key manager %d of '%s'", (int)pid, name);
		stop_pid(pid);
		n++;
	}
	closedir(dh);
	return n;
}

static int teardown(const char *name);

/* ---------------------------------------------------------------- hooks */

/* One wg-quick hook: cmd with every %i replaced by ifname, run by /bin/sh -c
 * as this process (root), its output on ours. 0, or -1 if it failed. */
static int run_hook(const char *what, const char *cmd, const char *ifname)
{
	size_t n = 0, cap = strlen(cmd) * (strlen(ifname) + 1) + 1;
	char *line = malloc(cap);
	int st = -1;
	pid_t pid;

	if (!line)
		return -1;
	for (const char *c = cmd; *c; c++) {
		if (c[0] == '%' && c[1] == 'i') {
			n += (size_t)sprintf(line + n, "%s", ifname);
			c++;
		} else {
			line[n++] = *c;
		}
	}
	line[n] = 0;
	pr_info("%s: %s", what, line);
	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		execl("/bin/sh", "sh", "-c", line, (char *)NULL);
		_exit(127);
	}
	while (pid > 0 && waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	if (pid < 0 || !WIFEXITED(st) || WEXITSTATUS(st)) {
		pr_err("%s '%s' failed (%s %d)", what, line,
		       pid > 0 && WIFSIGNALED(st) ? "signal" : "exit status",
		       pid < 0		 ? -1
		       : WIFSIGNALED(st) ? WTERMSIG(st)
					 : WEXITSTATUS(st));
		st = -1;
	}
	free(line);
	return st ? -1 : 0;
}

/* The hooks of one kind in file order; stops at the first that fails. */
static int run_hooks(const struct bt_config *c, int kind)
{
	static const char *const names[] = {"PreUp", "PostUp", "PreDown", "PostDown"};

	for (int i = 0; i < c->nhooks; i++)
		if (c->hooks[i].kind == kind && run_hook(names[kind], c->hooks[i].cmd, c->ifname))
			return -ECANCELED;
	return 0;
}

/* `down` runs the PreDown/PostDown hooks of the file the tunnel came up
 * with: `up` keeps them in /run/bpftun/NETNSINODE-IFNAME.hooks (0600),
 * one per line, "D cmd" (PreDown) or "d cmd" (PostDown). */
static int save_down_hooks(const struct bt_config *c)
{
	char path[PATH_MAX];
	FILE *f;
	int fd, n = 0;

	for (int i = 0; i < c->nhooks; i++)
		n += c->hooks[i].kind == BT_PRE_DOWN || c->hooks[i].kind == BT_POST_DOWN;
	if (!n || bt_run_path(path, sizeof(path), c->ifname, "hooks"))
		return 0;
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	f = fd < 0 ? NULL : fdopen(fd, "w");
	if (!f) {
		pr_err("%s: %s", path, strerror(errno));
		return -errno;
	}
	for (int i = 0; i < c->nhooks; i++)
		if (c->hooks[i].kind == BT_PRE_DOWN || c->hooks[i].kind == BT_POST_DOWN)
			fprintf(f, "%c %s\n", c->hooks[i].kind == BT_PRE_DOWN ? 'D' : 'd',
				c->hooks[i].cmd);
	return fclose(f) ? -EIO : 0;
}

static void remove_down_hooks(const char *ifname)
{
	char path[PATH_MAX];

	if (!bt_run_path(path, sizeof(path), ifname, "hooks"))
		unlink(path);
}

/* Run the saved hooks of kind 'D' or 'd' for ifname. */
static void run_down_hooks(const char *ifname, char kind)
{
	char path[PATH_MAX], line[4096];
	struct stat st;
	FILE *f;

	if (bt_run_path(path, sizeof(path), ifname, "hooks"))
		return;
	f = fopen(path, "re");
	/* written by `up` as root, 0600: anything else is not ours to run */
	if (!f || fstat(fileno(f), &st) || st.st_uid || (st.st_mode & 077)) {
		if (f)
			pr_err("%s: not a root-owned 0600 file; its hooks are not run", path);
		if (f)
			fclose(f);
		return;
	}
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = 0;
		if (line[0] == kind && line[1] == ' ')
			run_hook(kind == 'D' ? "PreDown" : "PostDown", line + 2, ifname);
	}
	fclose(f);
}

/* ------------------------------------------------------------------- up */

/* The default route's device, for peers that have no endpoint yet. */
static int default_underlay(void)
{
	uint8_t any[16] = {0};
	struct nl_route_info r;

	if (!nl_route_get(AF_INET, any, &r))
		return r.oif;
	if (!nl_route_get(AF_INET6, any, &r))
		return r.oif;
	return -ENETUNREACH;
}

/* 1 if ifindex was new to s->ifc.underlays, 0 if known, -E2BIG if full. */
static int add_underlay(struct up_state *s, int ifindex)
{
	for (uint32_t i = 0; i < s->ifc.nunderlays; i++)
		if ((int)s->ifc.underlays[i] == ifindex)
			return 0;
	if (s->ifc.nunderlays >= BPFTUN_MAX_UNDERLAYS)
		return -E2BIG;
	s->ifc.underlays[s->ifc.nunderlays++] = (uint32_t)ifindex;
	return 1;
}

/* An existing device called like the tunnel: say what it is and what to run. */
static int name_taken(const char *name)
{
	int marked = nl_tunnel_marked(name), hidden;
	struct datapath *dp = NULL;
	struct bpftun_iface ifc;

	if (marked == -ENODEV && nl_link_index(name) <= 0)
		return 0;
	hidden = tunnel_hidden_ifindex(name);
	if (hidden > 0 && !dp_find(&dp, hidden) && !dp_get_iface(dp, &ifc) &&
	    keymgmt_running(ifc.keymgmt_pid)) {
		dp_destroy(dp);
		pr_err("interface '%s' already exists: a bpftun tunnel that is up (to replace it: "
		       "bpftun down %s)",
		       name, name);
		return -EEXIST;
	}
	dp_destroy(dp);
	if (hidden > 0 || marked > 0)
		pr_err("interface '%s' already exists: left by an interrupted or failed bpftun up, "
		       "or its key manager died; remove it with: bpftun down %s",
		       name, name);
	else
		pr_err("interface '%s' already exists and is not a bpftun tunnel (choose another "
		       "name, or remove it: ip link del %s)",
		       name, name);
	return -EEXIST;
}

/* Steering = on: every planned underlay can take xdp_steer, and the
 * SteeringCPUs exist. Changes nothing. */
static int steer_preflight(struct up_state *s)
{
	long online = sysconf(_SC_NPROCESSORS_ONLN);
	char why[256];

	if (!s->cfg.steering)
		return 0;
	for (uint32_t c = 0; c < BT_STEER_MAX_CPU; c++) {
		if ((s->cfg.steer_cpus & (1U << c)) && (long)c >= online) {
			struct config_error e;

			config_error_set(&e, s->conf_path, 0, "SteeringCPUs",
					 "CPU %u is not online (CPUs 0-%ld are)", c, online - 1);
			fprintf(stderr, "%s\n", e.msg);
			return -EINVAL;
		}
	}
	for (uint32_t i = 0; i < s->ifc.nunderlays; i++) {
		int err = underlay_steer_check((int)s->ifc.underlays[i], why, sizeof(why));

		if (err) {
			pr_err("%s: Steering = on: %s", s->conf_path, why);
			return err;
		}
	}
	return 0;
}

/* ---------------------------------- full tunnel, DNS (as wg-quick) */

/* The routing table for the prefix of an AllowedIPs entry: Table = off ->
 * none (0), a number -> it, auto -> the policy table for a /0, else main. */
static uint32_t route_table(const struct up_state *s, const struct bt_prefix *pf)
{
	if (s->cfg.table == BT_TABLE_OFF)
		return 0;
	if (s->cfg.table != BT_TABLE_AUTO)
		return s->cfg.table;
	return pf->prefix == 0 && s->rt_table ? s->rt_table : 254 /* main */;
}

/* Table = auto and a /0: wg-quick's table (= FwMark, or the first free
 * table from 51820, which then becomes FwMark). Changes nothing. */
static int plan_full_tunnel(struct up_state *s)
{
	s->fwmark = s->cfg.fwmark;
	for (int i = 0; i < s->cfg.npeers; i++)
		for (int a = 0; a < s->cfg.peers[i].nallowed; a++)
			if (!s->cfg.peers[i].allowed[a].prefix)
				s->full[s->cfg.peers[i].allowed[a].family == AF_INET6] = 1;
	if (s->cfg.table != BT_TABLE_AUTO || (!s->full[0] && !s->full[1]))
		return 0;
	if (s->fwmark) {
		s->rt_table = s->fwmark;
	} else {
		uint32_t t = 51820;
		int used;

		while ((used = nl_table_in_use(t)) > 0 && t < 51820 + 1000)
			t++;
		if (used)
			return used < 0 ? used : -EBUSY;
		s->rt_table = s->fwmark = t;
	}
	return 0;
}

/* The executable `resolvconf` in PATH: 1, else 0. */
static int have_resolvconf(void)
{
	const char *path = getenv("PATH") ?: "/usr/sbin:/usr/bin:/sbin:/bin";
	char buf[PATH_MAX];

	while (*path) {
		size_t n = strcspn(path, ":");

		snprintf(buf, sizeof(buf), "%.*s/resolvconf", (int)n, path);
		if (n && !access(buf, X_OK))
			return 1;
		path += n + (path[n] == ':');
	}
	return 0;
}

/* `resolvconf -a IF -m 0 -x` fed with input, or `resolvconf -d IF -f`
 * (input NULL), as wg-quick. 0 or -errno / the exit status as -EIO. */
static int run_resolvconf(const char *ifname, const char *input)
{
	struct sigaction ign = {.sa_handler = SIG_IGN}, old;
	int pfd[2], st, err;
	pid_t pid;

	if (pipe(pfd))
		return -errno;
	pid = fork();
	if (pid < 0) {
		err = -errno;
		close(pfd[0]);
		close(pfd[1]);
		return err;
	}
	if (!pid) {
		dup2(pfd[0], 0);
		close(pfd[0]);
		close(pfd[1]);
		if (input)
			execlp("resolvconf", "resolvconf", "-a", ifname, "-m", "0", "-x",
			       (char *)NULL);
		else
			execlp("resolvconf", "resolvconf", "-d", ifname, "-f", (char *)NULL);
		_exit(127);
	}
	close(pfd[0]);
	/* a resolvconf that exits without reading gives EPIPE, not SIGPIPE */
	sigaction(SIGPIPE, &ign, &old);
	if (input && write(pfd[1], input, strlen(input)) != (ssize_t)strlen(input))
		pr_err("resolvconf: writing its input: %s", strerror(errno));
	close(pfd[1]);
	sigaction(SIGPIPE, &old, NULL);
	if (waitpid(pid, &st, 0) != pid)
		return -errno;
	return WIFEXITED(st) && !WEXITSTATUS(st) ? 0 : -EIO;
}

/* The policy rules of a full tunnel, each recorded in the iface map before
 * it is added (so that `down` after a crash removes it); src_valid_mark as
 * wg-quick (not restored by down, as wg-quick). */
static int add_rules(struct up_state *s, struct datapath *dp)
{
	for (int v6 = 0; v6 < 2; v6++) {
		int fam = v6 ? AF_INET6 : AF_INET, err;
		uint32_t rule = v6 ? BPFTUN_HOST_RULE6 : BPFTUN_HOST_RULE4;
		uint32_t sup = v6 ? BPFTUN_HOST_SUPPRESS6 : BPFTUN_HOST_SUPPRESS4;

		if (!s->full[v6] || !s->rt_table)
			continue;
		s->ifc.host_state |= rule | sup;
		err = dp_set_iface(dp, &s->ifc);
		err = err ?: nl_rule(1, fam, s->rt_table, s->fwmark, 0);
		if (err) {
			pr_err("interface '%s': adding the rule 'not fwmark %u table %u': %s",
			       s->cfg.ifname, s->fwmark, s->rt_table, strerror(-err));
			return err;
		}
		up_step("policy rule added");
		err = nl_rule(1, fam, 254 /* main */, 0, 1);
		if (err == -EEXIST) { /* someone else's: not ours to remove */
			s->ifc.host_state &= ~sup;
			err = dp_set_iface(dp, &s->ifc);
		} else if (!err) {
			up_step("suppress rule added");
		}
		if (err) {
			pr_err("interface '%s': adding the rule 'table main suppress_prefixlength "
			       "0': %s",
			       s->cfg.ifname, strerror(-err));
			return err;
		}
		if (!v6) {
			int fd = open("/proc/sys/net/ipv4/conf/all/src_valid_mark", O_WRONLY);

			if (fd < 0 || write(fd, "1", 1) != 1)
				pr_err("net.ipv4.conf.all.src_valid_mark=1: %s", strerror(errno));
			if (fd >= 0)
				close(fd);
		}
	}
	return 0;
}

/* What add_rules and the DNS step recorded in ifc->host_state, undone. */
static void undo_host_state(const char *name, const struct bpftun_iface *ifc)
{
	uint32_t h = ifc->host_state;

	if (h & BPFTUN_HOST_RULE4)
		nl_rule(0, AF_INET, ifc->rt_table, ifc->fwmark, 0);
	if (h & BPFTUN_HOST_SUPPRESS4)
		nl_rule(0, AF_INET, 254, 0, 1);
	if (h & BPFTUN_HOST_RULE6)
		nl_rule(0, AF_INET6, ifc->rt_table, ifc->fwmark, 0);
	if (h & BPFTUN_HOST_SUPPRESS6)
		nl_rule(0, AF_INET6, 254, 0, 1);
	if ((h & BPFTUN_HOST_DNS) && run_resolvconf(name, NULL))
		pr_err("interface '%s': resolvconf -d %s failed", name, name);
}

/* All checks that need the system but change nothing; also plans the
 * underlays (s->ifc.underlays), so that their limit is checked here. */
static int preflight(struct up_state *s)
{
	struct bt_config *c = &s->cfg;
	struct config_error e;
	unsigned int mtu = 0;
	int fd, one = 1, err;
	struct sockaddr_in6 sa = {.sin6_family = AF_INET6, .sin6_port = htons(c->listen_port)};
	char why[400];

	/* Protocol = wireguard: ChaCha20 in BPF, no kernel cipher to check */
	if ((err = dp_kernel_check(c->protocol == BT_PROTO_WIREGUARD ? NULL : c->kernel_algo, why,
				   sizeof(why))))
		return fprintf(stderr, "%s\n", why), err;
	/* PrivateKeyKeyring: the SA-install gate (sa_ctl_keyring) must load
	 * here, or the tunnel would run without it: refused, naming the line */
	if (c->keyring_line && (err = dp_keyring_check(why, sizeof(why)))) {
		config_error_set(&e, s->conf_path, c->keyring_line, "PrivateKeyKeyring", "%s",
				 strncmp(why, "bpftun: ", 8) ? why : why + 8);
		return fprintf(stderr, "%s\n", e.msg), err;
	}
	/* PrivateKeyKeyring: the key from the user keyring, before any change */
	if ((err = bt_config_keyring_load(c, s->conf_path, &e)))
		return fprintf(stderr, "%s\n", e.msg), err;
	if (crypto_scalarmult_base(s->public_key, c->private_key)) {
		pr_err("%s: PrivateKey: not a usable X25519 key", s->conf_path);
		return -EINVAL;
	}
	for (int i = 0; i < c->npeers; i++) {
		if (!sodium_memcmp(c->peers[i].public_key, s->public_key, 32)) {
			config_error_set(&e, s->conf_path, c->peers[i].key_line, "PublicKey",
					 "is this interface's own public key");
			fprintf(stderr, "%s\n", e.msg);
			return -EINVAL;
		}
	}
	err = name_taken(c->ifname);
	if (err)
		return err;
	if (c->dns[0] && !have_resolvconf()) {
		config_error_set(&e, s->conf_path, c->dns_line, "DNS",
				 "resolvconf(8) is not installed (not found in PATH); install "
				 "resolvconf or openresolv, or remove DNS");
		fprintf(stderr, "%s\n", e.msg);
		return -ENOENT;
	}
	if ((err = bt_config_resolve(c, s->conf_path, &e)))
		return fprintf(stderr, "%s\n", e.msg), err;
	if ((err = plan_full_tunnel(s))) {
		pr_err("%s: Table: no free routing table from 51820 for the default route: %s",
		       s->conf_path, strerror(-err));
		return err;
	}
	nl_route_mark = s->fwmark; /* the endpoints' routes as our outer packets see them */
	for (int i = 0; i < c->npeers; i++) {
		struct bt_peer *p = &c->peers[i];
		char ip[INET6_ADDRSTRLEN], dev[IF_NAMESIZE] = "?";
		unsigned int over;

		if (!p->have_endpoint)
			continue;
		inet_ntop(p->family, p->endpoint, ip, sizeof(ip));
		err = nl_route_get(p->family, p->endpoint, &s->route[i]);
		if (err) {
			config_error_set(&e, s->conf_path, p->endpoint_line, "Endpoint",
					 "'%s': no route to this address (%s)", ip, strerror(-err));
			fprintf(stderr, "%s\n", e.msg);
			return err;
		}
		if (add_underlay(s, s->route[i].oif) < 0) {
			if_indextoname((unsigned int)s->route[i].oif, dev);
			config_error_set(
			    &e, s->conf_path, p->endpoint_line, "Endpoint",
			    "'%s': reached over '%s', a %dth device: a tunnel listens on "
			    "at most %d underlay devices",
			    ip, dev, BPFTUN_MAX_UNDERLAYS + 1, BPFTUN_MAX_UNDERLAYS);
			fprintf(stderr, "%s\n", e.msg);
			return -E2BIG;
		}
		over = p->family == AF_INET6 ? BPFTUN_OVERHEAD_V6 : BPFTUN_OVERHEAD_V4;
		{
			/* the route's MTU if it has one, else its device's */
			unsigned int path = s->route[i].route_mtu ?: s->route[i].mtu;

			if (path > over && (!mtu || path - over < mtu))
				mtu = path - over;
		}
	}
	if (!c->mtu)
		c->mtu = mtu ? (mtu > BPFTUN_MAX_INNER ? BPFTUN_MAX_INNER : mtu) : 1420;
	/* with no endpoint at all, tc_open listens on the default route's device */
	if (!s->ifc.nunderlays) {
		int dev = default_underlay();

		if (dev < 0) {
			pr_err("%s: no peer has an Endpoint and there is no default route to "
			       "listen on",
			       s->conf_path);
			return -ENETUNREACH;
		}
		add_underlay(s, dev);
	}
	err = steer_preflight(s);
	if (err)
		return err;
	/* A tc_open left on an underlay by a tunnel that is gone would take
	 * this tunnel's packets first; an xdp_steer left there would steer
	 * them with the dead tunnel's settings. */
	if (underlay_sweep_orphans(1) + underlay_sweep_steer_orphans(1)) {
		pr_err("remove what tunnels that are gone left behind first: bpftun cleanup");
		return -EBUSY;
	}
	/* The port must be free: the key manager binds it. */
	fd = socket(AF_INET6, SOCK_DGRAM, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &(int){0}, sizeof(int));
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		err = -errno;
		close(fd);
		config_error_set(&e, s->conf_path, 0, "ListenPort", "%u: %s", c->listen_port,
				 strerror(-err));
		fprintf(stderr, "%s\n", e.msg);
		return err;
	}
	if (!c->listen_port) { /* no ListenPort: the free port the kernel chose (as wg) */
		socklen_t sl = sizeof(sa);

		if (getsockname(fd, (struct sockaddr *)&sa, &sl)) {
			err = -errno;
			close(fd);
			return err;
		}
		c->listen_port = ntohs(sa.sin6_port);
	}
	close(fd);
	return 0;
}

/* The live PresharedKeys kept in @u for tunnel name of this namespace
 * (keyring.h): a new tunnel starts from its file, a removed one leaves none. */
static void purge_live_psks(const char *name)
{
	char prefix[BT_KR_PSK_DESC_LEN];

	if (!bt_kr_psk_desc(prefix, sizeof(prefix), name, NULL))
		bt_kr_purge(prefix, 0, NULL, NULL);
}

/* Peers and allowed IPs into the maps (of this process: nothing is attached
 * yet, so this changes nothing on the host). */
static int configure_peers(struct up_state *s)
{
	struct bt_config *c = &s->cfg;
	int err;

	for (int i = 0; i < c->npeers; i++) {
		struct bt_peer *p = &c->peers[i];
		struct bpftun_peer v = {0};

		v.present = 1;
		memcpy(v.public_key, p->public_key, 32);
		v.keepalive = p->keepalive;
		v.ep.sport = htons(c->listen_port);
		if (p->have_endpoint) /* over the route preflight looked up */
			underlay_endpoint(&s->route[i], p->family, p->endpoint, p->port, &v.ep);
		err = dp_set_peer(s->dp, (uint32_t)i, &v);
		for (int a = 0; !err && a < p->nallowed; a++)
			err = dp_allow(s->dp, p->allowed[a].family == AF_INET6 ? 6 : 4,
				       p->allowed[a].addr, p->allowed[a].prefix, (uint32_t)i);
		if (err) {
			pr_err("peer %d: writing the datapath maps: %s", i + 1, strerror(-err));
			return err;
		}
	}
	return 0;
}
static int start_keymgmt(struct up_state *s)
{
	char exe[PATH_MAX + 32], dir[PATH_MAX], logp[PATH_MAX], conf[PATH_MAX];
	const char *env = getenv("BPFTUN_KEYMGMT");
	struct timespec ts = {0, 20 * 1000 * 1000};
	ssize_t n;
	pid_t pid;

	if (!realpath(s->conf_path, conf)) {
		pr_err("%s: %s", s->conf_path, strerror(errno));
		return -errno;
	}
	if (env) {
		snprintf(exe, sizeof(exe), "%s", env);
	} else {
		n = readlink("/proc/self/exe", dir, sizeof(dir) - 1);
		if (n < 0)
			return -errno;
		dir[n] = 0;
		*strrchr(dir, '/') = 0;
		snprintf(exe, sizeof(exe), "%s/bpftun-keymgmt", dir);
	}
	if (bt_run_path(logp, sizeof(logp), s->cfg.ifname, "log"))
		snprintf(logp, sizeof(logp), "/dev/null");
	pid = fork();
	if (pid < 0)
		return -errno;
	if (!pid) {
		int fd = open(logp, O_WRONLY | O_CREAT | O_APPEND, 0600);

		setsid();
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
			close(fd);
		}
		fd = open("/dev/null", O_RDONLY);
		if (fd >= 0)
			dup2(fd, 0);
		execl(exe, "bpftun-keymgmt", "--ifname", s->cfg.ifname, "--config", conf,
		      (char *)NULL);
		fprintf(stderr, "bpftun: exec %s: %s\n", exe, strerror(errno));
		_exit(127);
	}
	s->keymgmt = pid;
	up_step("key manager started");
	/* Ready when it has written its pid into the iface map (socket bound). */
	for (int i = 0; i < 250; i++) {
		struct bpftun_iface ifc;
		int st;

		if (waitpid(pid, &st, WNOHANG) == pid) {
			s->keymgmt = 0;
			pr_err("key manager %s exited at start (status %d); see %s", exe,
			       WIFEXITED(st) ? WEXITSTATUS(st) : -1, logp);
			return -ECHILD;
		}
		if (!dp_get_iface(s->dp, &ifc) && ifc.keymgmt_pid == (uint32_t)pid)
			return 0;
		nanosleep(&ts, NULL);
	}
	pr_err("key manager did not become ready within 5 s; see %s", logp);
	return -ETIMEDOUT;
}

static void usage_up(FILE *f)
{
	fprintf(f,
		"usage: bpftun up [--no-keymgmt] CONFIG\n"
		"Creates the tunnel described by CONFIG (WireGuard INI format; bt0.conf makes\n"
		"interface bt0), loads and attaches the datapath, starts the key manager in\n"
		"the background and returns once the interface is up. A bad CONFIG is refused,\n"
		"naming file, line and field, before anything on the host changes. See\n"
		"bpftun.conf(5). --no-keymgmt: everything but the key manager, which the\n"
		"caller starts and supervises (bpftun@.service does; no traffic until it runs).\n");
}

/* Step 2: the datapath loaded and configured in this process's maps
 * (nothing attached yet, so no host change). */
static int load_datapath(struct up_state *s)
{
	struct bpftun_config dcfg = {0};
	int err;

	dcfg.tun_ifindex = (uint32_t)s->tun.ifindex;
	dcfg.listen_port = htons(s->cfg.listen_port);
	memcpy(dcfg.tun_mac, s->tun.mac, 6);
	{
		uint32_t nallowed = 0; /* the maps are sized for the configuration */

		for (int i = 0; i < s->cfg.npeers; i++)
			nallowed += (uint32_t)s->cfg.peers[i].nallowed;
		/* with PrivateKeyKeyring, sa_ctl_keyring too: every SA the key
		 * manager installs passes its gate */
		err =
		    dp_load_keyring(&s->dp, &dcfg, s->cfg.keyring_line ? s->cfg.keyring_desc : NULL,
				    (uint32_t)s->cfg.npeers, nallowed);
	}
	if (err) {
		pr_err("loading the datapath (verifier, run with -v for libbpf's log): %s",
		       strerror(-err));
		return err;
	}
	{
		struct bpftun_iface plan = s->ifc; /* the underlays preflight chose */

		err = dp_get_iface(s->dp, &s->ifc); /* the map IDs dp_load recorded */
		if (err)
			return err;
		s->ifc.nunderlays = plan.nunderlays;
		memcpy(s->ifc.underlays, plan.underlays, sizeof(plan.underlays));
		s->ifc.clsact_created = 0;
	}
	s->ifc.tun_ifindex = (uint32_t)s->tun.ifindex;
	s->ifc.hidden_ifindex = (uint32_t)s->tun.peer_ifindex;
	s->ifc.mtu = s->cfg.mtu;
	s->ifc.listen_port = s->cfg.listen_port;
	memcpy(s->ifc.public_key, s->public_key, 32);
	snprintf(s->ifc.cipher, sizeof(s->ifc.cipher), "%s", s->cfg.cipher);
	snprintf(s->ifc.algo, sizeof(s->ifc.algo), "%s", s->cfg.kernel_algo);
	s->ifc.steering = (uint16_t)!!s->cfg.steering;
	s->ifc.steer_cpus = s->cfg.steer_cpus;
	s->ifc.keyring_serial = s->cfg.keyring_serial; /* show reports its state */
	s->ifc.fwmark = s->fwmark;
	s->ifc.rt_table = s->rt_table;
	err = configure_peers(s);
	/* the sender's flow mark (random key per interface), so that the
	 * peer's xdp_steer spreads our flows over its CPUs */
	if (!err && s->cfg.steering) {
		err = steer_set_mark(dp_map_fd(s->dp, "flow_mark_cfg"), BPFTUN_MARK_BITS_DEFAULT);
		if (err)
			pr_err("setting the flow-mark key: %s", strerror(-err));
	}
	err = err ?: dp_set_iface(s->dp, &s->ifc);
	return err;
}

/* Step 4: the addresses and the AllowedIPs routes (they go with the device). */
static int add_addresses_routes(struct up_state *s)
{
	struct config_error e;
	int err = 0;

	for (int i = 0; i < s->cfg.naddrs && !err; i++) {
		err = nl_addr_add(s->tun.ifindex, s->cfg.addrs[i].family, s->cfg.addrs[i].addr,
				  s->cfg.addrs[i].prefix);
		if (!err)
			up_step("address added");
	}
	if (err) {
		pr_err("interface '%s': adding addresses: %s", s->cfg.ifname, strerror(-err));
		return err;
	}
	for (int i = 0; i < s->cfg.npeers && !err; i++) {
		for (int a = 0; a < s->cfg.peers[i].nallowed && !err; a++) {
			struct bt_prefix *pf = &s->cfg.peers[i].allowed[a];
			char ip[INET6_ADDRSTRLEN];

			uint32_t table = route_table(s, pf);

			if (!table)
				continue; /* Table = off */
			err = nl_route_add_table(s->tun.ifindex, pf->family, pf->addr, pf->prefix,
						 table);
			if (!err) {
				up_step("route added");
				continue;
			}
			inet_ntop(pf->family, pf->addr, ip, sizeof(ip));
			config_error_set(
			    &e, s->conf_path, pf->line, "AllowedIPs",
			    "%s/%u: adding its route: %s%s", ip, pf->prefix, strerror(-err),
			    err == -EEXIST ? " (another route for this prefix exists)" : "");
			fprintf(stderr, "%s\n", e.msg);
		}
	}
	return err;
}

int up_main(int argc, char **argv)
{
	struct up_state *s;
	struct config_error e;
	int err;

	int no_keymgmt = argc == 3 && !strcmp(argv[1], "--no-keymgmt");

	if (no_keymgmt) {
		argv++;
		argc--;
	}
	if (argc != 2 || argv[1][0] == '-') {
		int help = argc == 2 && !strcmp(argv[1], "--help");

		usage_up(help ? stdout : stderr);
		return help ? 0 : 2;
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		return 1;
	s->conf_path = argv[1];
	UP_HOOK_NETLINK();
	err = bt_config_parse_file(argv[1], &s->cfg, &e);
	if (err) {
		fprintf(stderr, "%s\n", e.msg);
		free(s);
		return 1;
	}
	err = preflight(s);
	/* wg-quick's PreUp, before the host changes; a failure stops `up` */
	err = err ?: run_hooks(&s->cfg, BT_PRE_UP);
	err = err ?: save_down_hooks(&s->cfg);
	if (err)
		goto out;

	/*
	 * From here on the host changes; every failure rolls back, and so does
	 * `bpftun down` after a crash at any point:
	 *  1. the veth pair, created marked (nl_tunnel_marked): from now on
	 *     `down` knows the device is ours and deletes it;
	 *  2. the datapath, configured in this process's maps (no host change);
	 *  3. tc_seal on the hidden end: from now on the iface map is found from
	 *     the device, and it already lists every underlay;
	 *  4. addresses and routes (they go with the device);
	 *  5. per underlay: clsact (recorded before it is added), tc_open;
	 *  6. pins, the key manager (found by `down` from /proc if its pid
	 *     never reached the iface map).
	 */
	err = nl_tunnel_create(s->cfg.ifname, s->cfg.mtu, &s->tun);
	if (err) {
		pr_err("interface '%s': creating the device: %s", s->cfg.ifname, strerror(-err));
		goto fail;
	}
	s->tun_created = 1;
	up_step("device configured");

	err = load_datapath(s);
	if (err)
		goto fail;

	/* The sealer (it drops until keys exist): the tunnel is now found
	 * from its device, with every underlay it will listen on. */
	err = nl_clsact_ensure(s->tun.peer_ifindex, &(int){0});
	if (!err)
		up_step("hidden end: clsact added");
	err = err ?: tc_ingress_attach(s->tun.peer_ifindex, dp_seal_fd(s->dp), BPFTUN_TC_HANDLE);
	if (err) {
		pr_err("interface '%s': attaching tc_seal: %s", s->cfg.ifname, strerror(-err));
		goto fail;
	}
	up_step("hidden end: tc_seal attached");

	err = add_addresses_routes(s);
	err = err ?: add_rules(s, s->dp);
	if (err)
		goto fail;

	for (uint32_t i = 0; i < s->ifc.nunderlays && !err; i++)
		err = underlay_attach(s->dp, &s->ifc, i, up_step, 1);
	if (err)
		goto fail;

	if (bpffs_mounted()) {
		char dir[128];

		err = pin_dir(dir, sizeof(dir), s->cfg.ifname);
		if (!err && mkdir(PIN_ROOT, 0700) && errno != EEXIST)
			err = -errno;
		err = err ?: dp_pin_maps(s->dp, dir);
		if (err) {
			pr_err("interface '%s': pinning its maps under %s: %s%s", s->cfg.ifname,
			       dir, strerror(-err),
			       err == -EEXIST
				   ? " (left by an earlier tunnel of "
				     "this name in this namespace: bpftun down removes them)"
				   : "");
			goto fail;
		}
		up_step("maps pinned");
	}

	if (s->cfg.dns[0]) { /* recorded first: `down` runs resolvconf -d */
		s->ifc.host_state |= BPFTUN_HOST_DNS;
		err = dp_set_iface(s->dp, &s->ifc);
		err = err ?: run_resolvconf(s->cfg.ifname, s->cfg.dns);
		if (err) {
			pr_err("interface '%s': DNS: resolvconf -a %s failed: %s", s->cfg.ifname,
			       s->cfg.ifname, strerror(-err));
			goto fail;
		}
		up_step("DNS set");
	}

	purge_live_psks(s->cfg.ifname); /* a tunnel of this name before: not ours */
	if (!no_keymgmt) {
		err = start_keymgmt(s);
		if (err)
			goto fail;
		up_step("key manager ready");
	}
	/* wg-quick's PostUp; a failure undoes the whole `up` */
	err = run_hooks(&s->cfg, BT_POST_UP);
	if (err)
		goto fail;
	if (no_keymgmt) { /* a supervisor (bpftun-keymgmt@.service) starts it */
		pr_info("interface '%s' is up without its key manager: start bpftun-keymgmt "
			"--ifname %s --config %s",
			s->cfg.ifname, s->cfg.ifname, s->conf_path);
		goto out;
	}
	pr_info("interface '%s' is up: mtu %u, port %u, %d peer%s, cipher %s", s->cfg.ifname,
		s->cfg.mtu, s->cfg.listen_port, s->cfg.npeers, s->cfg.npeers == 1 ? "" : "s",
		s->cfg.cipher);
	goto out;
fail:
	/* the same teardown as `bpftun down`, from what exists */
	dp_destroy(s->dp);
	s->dp = NULL;
	if (s->keymgmt > 0)
		stop_pid(s->keymgmt);
	if (s->tun_created)
		teardown(s->cfg.ifname);
	else
		remove_down_hooks(s->cfg.ifname);
out:
	dp_destroy(s->dp);
	bt_config_free(&s->cfg);
	free(s);
	return err ? 1 : 0;
}

/* ------------------------------------------------------------------ down */

/*
 * Remove tunnel `name` and whatever of it exists: a complete tunnel, or
 * what an `up` killed at any step left (a marked device, perhaps without
 * tc_seal, a key manager nobody recorded, a tc_open whose iface map lists
 * it). Returns 1 if there was something to remove, 0 if nothing, -ENOTTY
 * if `name` is a device that is not a bpftun tunnel (left alone).
 */
static int teardown_keep_hooks(const char *name)
{
	int marked = nl_tunnel_marked(name), hidden = tunnel_hidden_ifindex(name);
	int something = 0, err;
	char p[PATH_MAX];

	if (hidden == -ENOENT && marked <= 0 && nl_link_index(name) > 0)
		return -ENOTTY;
	if (hidden > 0) {
		struct datapath *dp = NULL;
		struct bpftun_iface ifc;

		something = 1;
		err = dp_find(&dp, hidden);
		if (!err)
			err = dp_get_iface(dp, &ifc);
		if (err) {
			pr_err("interface '%s': reading the datapath: %s (deleting the device; "
			       "filters it left are removed as orphans)",
			       name, strerror(-err));
		} else {
			/* 1. stop sealing, 2. stop the key manager, 3. drop every key now */
			ifc.disabled = 1;
			dp_set_iface(dp, &ifc);
			if (keymgmt_running(ifc.keymgmt_pid))
				stop_pid((pid_t)ifc.keymgmt_pid);
			stop_keymgmt_of(name);
			for (uint32_t id = 0; id < dp_max_peers(dp); id++) {
				struct bpftun_peer pe;
				struct bpftun_sa_req req = {.op = BPFTUN_OP_DELETE_PEER,
							    .peer_id = id};

				if (!dp_get_peer(dp, id, &pe) && pe.present)
					dp_sa_ctl(dp, &req);
			}
			/* 4. detach from underlays, remove the clsact qdiscs bpftun added */
			underlay_detach_all(&ifc);
			/* policy rules and DNS (the routes go with the device) */
			undo_host_state(name, &ifc);
		}
		dp_destroy(dp);
	}
	something |= stop_keymgmt_of(name) > 0;
	/* 5. the device: its veth peer, addresses and routes go with it */
	if (hidden > 0 || marked > 0) {
		something = 1;
		err = nl_tunnel_delete(name);
		if (err && err != -ENODEV)
			pr_err("interface '%s': deleting the device: %s", name, strerror(-err));
	}
	/* 6. what outlives the device: pins, the log, orphaned filters */
	if (bpffs_mounted()) {
		char dir[160];
		struct stat st;

		if (!pin_dir(dir, sizeof(dir), name) && !stat(dir, &st))
			something = 1;
		remove_pins(name);
	}
	if (!bt_run_path(p, sizeof(p), name, "log") && !unlink(p))
		something = 1;
	if (!bt_run_path(p, sizeof(p), name, "ctl")) /* a killed key manager's */
		unlink(p);
	something |= underlay_sweep_orphans(0) > 0;
	something |= underlay_sweep_steer_orphans(0) > 0;
	purge_live_psks(name); /* after its key manager stopped */
	return something;
}

/* ... and the down hooks `up` saved (a failed `up` runs none of them) */
static int teardown(const char *name)
{
	int r = teardown_keep_hooks(name);

	remove_down_hooks(name);
	return r;
}

int down_main(int argc, char **argv)
{
	const char *name;
	int r, gone;

	if (argc != 2 || argv[1][0] == '-') {
		int help = argc == 2 && !strcmp(argv[1], "--help");

		fprintf(help ? stdout : stderr,
			"usage: bpftun down IFNAME\n"
			"Removes the tunnel: stops its key manager, drops its keys, detaches its\n"
			"programs and the clsact qdiscs it added, deletes the device (and with it\n"
			"its routes and addresses) and its pins. Also finishes the removal of a\n"
			"tunnel whose `bpftun up` was interrupted, and of what a tunnel deleted\n"
			"with `ip link del` left behind (see bpftun cleanup).\n");
		return help ? 0 : 2;
	}
	name = argv[1];
	gone = nl_link_index(name) <= 0;
	if (!gone && nl_tunnel_marked(name) > 0)
		run_down_hooks(name, 'D'); /* wg-quick's PreDown (a failure is only said) */
	r = teardown_keep_hooks(name);
	if (r > 0)
		run_down_hooks(name, 'd'); /* PostDown */
	remove_down_hooks(name);
	if (r == -ENOTTY) {
		pr_err("interface '%s': not a bpftun tunnel", name);
		return 1;
	}
	if (!r) {
		pr_err("interface '%s': no such device", name);
		return 1;
	}
	if (nl_link_index(name) > 0) {
		pr_err("interface '%s': still there after down", name);
		return 1;
	}
	if (gone)
		pr_info("interface '%s' was gone; removed what it left behind", name);
	return 0;
}

static int cmp_ulong(const void *a, const void *b)
{
	unsigned long x = *(const unsigned long *)a, y = *(const unsigned long *)b;

	return x < y ? -1 : x > y;
}

/* The inodes of the network namespaces that exist: those of every process
 * (a key manager lives in its tunnel's namespace) and those named under
 * /run/netns. malloc'd, sorted; *n of them; NULL if none could be read. */
static unsigned long *live_netns(size_t *n)
{
	unsigned long *v = NULL, *nv;
	size_t cap = 0;
	const char *dirs[] = {"/proc", "/run/netns"};

	*n = 0;
	for (int k = 0; k < 2; k++) {
		DIR *dh = opendir(dirs[k]);
		struct dirent *d;

		if (!dh)
			continue;
		while ((d = readdir(dh))) {
			char path[PATH_MAX];
			struct stat st;

			if (d->d_name[0] == '.' ||
			    (!k && (d->d_name[0] < '1' || d->d_name[0] > '9')))
				continue;
			snprintf(path, sizeof(path), k ? "%s/%s" : "%s/%s/ns/net", dirs[k],
				 d->d_name);
			if (stat(path, &st))
				continue;
			if (*n == cap) {
				cap = cap ? 2 * cap : 256;
				nv = realloc(v, cap * sizeof(*v));
				if (!nv) {
					closedir(dh);
					free(v);
					*n = 0;
					return NULL;
				}
				v = nv;
			}
			v[(*n)++] = (unsigned long)st.st_ino;
		}
		closedir(dh);
	}
	if (v)
		qsort(v, *n, sizeof(*v), cmp_ulong);
	return v;
}

/* /run/bpftun/INODE-NAME.{log,ctl} of this namespace whose device NAME is
 * gone and which no key manager of NAME uses any more, and those of
 * namespaces that no longer exist (a key manager killed with its namespace
 * leaves its control socket): removed; how many logs of this namespace
 * (*gone: files of namespaces that are gone). */
static int remove_stale_run_files(int *gone)
{
	unsigned long *live;
	size_t nlive;
	char prefix[32];
	struct dirent *d;
	struct stat st;
	int n = 0;
	DIR *dh;

	*gone = 0;
	if (stat("/proc/self/ns/net", &st))
		return 0;
	snprintf(prefix, sizeof(prefix), "%lu-", (unsigned long)st.st_ino);
	dh = opendir(BT_RUN_DIR);
	if (!dh)
		return 0;
	live = live_netns(&nlive);
	while ((d = readdir(dh))) {
		size_t pl = strlen(prefix), len = strlen(d->d_name);
		char name[IF_NAMESIZE], path[PATH_MAX], *end;
		unsigned long ino = strtoul(d->d_name, &end, 10);

		int is_log = len >= 4 && !strcmp(d->d_name + len - 4, ".log");

		/* another namespace's: removed only once that namespace is gone
		 * (not among the live ones; nothing is removed if they could
		 * not be listed) */
		if (live && *end == '-' && end != d->d_name && strncmp(d->d_name, prefix, pl) &&
		    len >= 4 && (is_log || !strcmp(d->d_name + len - 4, ".ctl")) &&
		    !bsearch(&ino, live, nlive, sizeof(*live), cmp_ulong)) {
			snprintf(path, sizeof(path), "%s/%s", BT_RUN_DIR, d->d_name);
			*gone += !unlink(path);
			continue;
		}

		/* logs, and control sockets a killed key manager left */
		if (strncmp(d->d_name, prefix, pl) || len < pl + 5 ||
		    (!is_log && strcmp(d->d_name + len - 4, ".ctl")) ||
		    len - pl - 4 >= sizeof(name))
			continue;
		snprintf(name, sizeof(name), "%.*s", (int)(len - pl - 4), d->d_name + pl);
		if (nl_link_index(name) > 0)
			continue;
		stop_keymgmt_of(name); /* it would stop by itself within 1 s */
		snprintf(path, sizeof(path), "%s/%s", BT_RUN_DIR, d->d_name);
		n += !unlink(path) && is_log;
	}
	closedir(dh);
	free(live);
	return n;
}

struct live_set {
	unsigned long *v;
	size_t n;
};

static int netns_gone(unsigned long ino, void *arg)
{
	const struct live_set *l = arg;

	return !bsearch(&ino, l->v, l->n, sizeof(*l->v), cmp_ulong);
}

int cleanup_main(int argc, char **argv)
{
	struct live_set live;
	int n, gone;

	if (argc != 1) {
		int help = argc == 2 && !strcmp(argv[1], "--help");

		fprintf(help ? stdout : stderr,
			"usage: bpftun cleanup\n"
			"Removes from every device of this network namespace the tc_open filters\n"
			"and xdp_steer programs of bpftun tunnels that are gone (deleted with ip\n"
			"link del after their key manager died), and the clsact qdiscs they leave\n"
			"without filters; and the key manager logs of such tunnels from\n"
			"/run/bpftun, with the logs and control sockets of key managers whose\n"
			"network namespace is gone, and the live PresharedKeys they kept in the\n"
			"user keyring. Tunnels that exist are not touched.\n");
		return help ? 0 : 2;
	}
	n = underlay_sweep_orphans(0);
	pr_info("removed %d tc_open filter%s of tunnels that are gone", n, n == 1 ? "" : "s");
	n = underlay_sweep_steer_orphans(0);
	if (n)
		pr_info("removed %d xdp_steer program%s of tunnels that are gone", n,
			n == 1 ? "" : "s");
	n = remove_stale_run_files(&gone);
	if (n)
		pr_info("removed %d key manager log%s of tunnels that are gone", n,
			n == 1 ? "" : "s");
	if (gone)
		pr_info("removed %d file%s of key managers whose network namespace is gone "
			"from " BT_RUN_DIR,
			gone, gone == 1 ? "" : "s");
	live.v = live_netns(&live.n);
	n = live.v ? bt_kr_purge(NULL, 0, netns_gone, &live) : 0;
	free(live.v);
	if (n > 0)
		pr_info("removed %d live PresharedKey%s of namespaces that are gone from the user "
			"keyring",
			n, n == 1 ? "" : "s");
	return 0;
}
