// SPDX-License-Identifier: GPL-2.0
/*
 * bench_sockbuf - give a running process's UDP sockets larger buffers, from
 * outside: `bench_sockbuf PID BYTES`.
 *
 * bench tunnel gives every peer its best documented settings. OpenVPN takes
 * --sndbuf/--rcvbuf; Debian 12's wireguard-go (0.0.20220316) has no such
 * option and sets no buffers of its own (newer releases ask for 7 MiB), and
 * net.core.rmem_default cannot be written inside a network namespace. So
 * this takes each UDP socket of PID with pidfd_getfd(2) (Linux 5.6; needs
 * ptrace access, i.e. root) and calls setsockopt(SO_RCVBUF/SO_SNDBUF, BYTES)
 * on it: the very call OpenVPN makes for --rcvbuf/--sndbuf, with the same
 * net.core.{r,w}mem_max cap. The socket is shared, so the owner sees the new
 * sizes at once; our duplicate descriptor is closed again.
 *
 * Prints one line per socket with the sizes the kernel reports afterwards
 * (twice the request, as socket(7) says), and exits 1 if PID has no UDP
 * socket or a call fails.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_getfd
#define SYS_pidfd_getfd 438
#endif

static int getint(int fd, int level, int opt)
{
	int v = -1;
	socklen_t l = sizeof(v);

	if (getsockopt(fd, level, opt, &v, &l) < 0)
		return -1;
	return v;
}

int main(int argc, char **argv)
{
	char path[64], link[128], *end;
	struct dirent *de;
	long pid, bytes;
	int pidfd, found = 0, bad = 0;
	DIR *d;

	if (argc != 3) {
		fprintf(stderr, "usage: bench_sockbuf PID BYTES\n");
		return 2;
	}
	errno = 0;
	pid = strtol(argv[1], &end, 10);
	if (errno || *end || pid <= 0 || pid > INT_MAX) {
		fprintf(stderr, "bench_sockbuf: '%s': not a process id\n", argv[1]);
		return 2;
	}
	bytes = strtol(argv[2], &end, 10);
	if (errno || *end || bytes < 4096 || bytes > (1L << 30)) {
		fprintf(stderr, "bench_sockbuf: '%s': not a buffer size (4096..2^30 bytes)\n",
			argv[2]);
		return 2;
	}
	pidfd = (int)syscall(SYS_pidfd_open, (pid_t)pid, 0);
	if (pidfd < 0) {
		fprintf(stderr, "bench_sockbuf: pidfd_open(%ld): %s\n", pid, strerror(errno));
		return 1;
	}
	snprintf(path, sizeof(path), "/proc/%ld/fd", pid);
	d = opendir(path);
	if (!d) {
		fprintf(stderr, "bench_sockbuf: %s: %s\n", path, strerror(errno));
		return 1;
	}
	while ((de = readdir(d))) {
		char fdpath[64];
		ssize_t n;
		long target = strtol(de->d_name, &end, 10);
		int fd, ok;

		if (*end || de->d_name[0] == '.')
			continue;
		snprintf(fdpath, sizeof(fdpath), "/proc/%ld/fd/%ld", pid, target);
		n = readlink(fdpath, link, sizeof(link) - 1);
		if (n < 0)
			continue;
		link[n] = 0;
		if (strncmp(link, "socket:", 7))
			continue;
		fd = (int)syscall(SYS_pidfd_getfd, pidfd, (int)target, 0);
		if (fd < 0) {
			fprintf(stderr, "bench_sockbuf: pidfd_getfd(%ld, fd %ld): %s\n", pid,
				target, strerror(errno));
			bad = 1;
			continue;
		}
		if (getint(fd, SOL_SOCKET, SO_TYPE) != SOCK_DGRAM ||
		    (getint(fd, SOL_SOCKET, SO_DOMAIN) != AF_INET &&
		     getint(fd, SOL_SOCKET, SO_DOMAIN) != AF_INET6)) {
			close(fd);
			continue;
		}
		int v = (int)bytes;
		ok = setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &v, sizeof(v)) == 0 &&
		     setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &v, sizeof(v)) == 0;
		if (!ok) {
			fprintf(stderr, "bench_sockbuf: setsockopt on fd %ld: %s\n", target,
				strerror(errno));
			bad = 1;
		}
		printf("pid %ld fd %ld udp%s rcvbuf %d sndbuf %d\n", pid, target,
		       getint(fd, SOL_SOCKET, SO_DOMAIN) == AF_INET6 ? "6" : "4",
		       getint(fd, SOL_SOCKET, SO_RCVBUF), getint(fd, SOL_SOCKET, SO_SNDBUF));
		close(fd);
		found++;
	}
	closedir(d);
	close(pidfd);
	if (!found) {
		fprintf(stderr, "bench_sockbuf: process %ld has no UDP socket\n", pid);
		return 1;
	}
	return bad;
}
