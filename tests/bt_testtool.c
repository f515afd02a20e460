// SPDX-License-Identifier: GPL-2.0
/*
 * bt_testtool.c - helpers for the netns tests that no packaged tool does:
 *
 *   bt_testtool flip DEV PORT OFFSET   attach tc_flip to DEV's TC egress: flip a
 *                                      bit at OFFSET of every UDP payload to PORT
 *   bt_testtool unflip DEV             remove it
 *   bt_testtool replay PCAP DEV        send every frame of a pcap file out of DEV
 *                                      (AF_PACKET), as captured: a replay attack
 *
 * The flip program stays attached after this process exits; its counter is
 * not read back (the datapath's bad_tag counter is what the test checks).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <bpf/libbpf.h>

#include "testprogs.skel.h"

#define FLIP_HANDLE 0xf1

static int flip(const char *dev, int port, int offset)
{
	int ifindex = (int)if_nametoindex(dev), err;
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = BPF_TC_EGRESS);
	LIBBPF_OPTS(bpf_tc_opts, opts, .handle = FLIP_HANDLE, .priority = 1);
	struct testprogs_bpf *skel;

	if (!ifindex)
		return fprintf(stderr, "bt_testtool: no device '%s'\n", dev), 1;
	skel = testprogs_bpf__open();
	if (!skel)
		return 1;
	skel->bss->flip_on = 1;
	skel->bss->flip_port = (__u16)port;
	skel->bss->flip_offset = (__u32)offset;
	err = testprogs_bpf__load(skel);
	if (!err) {
		err = bpf_tc_hook_create(&hook);
		err = err == -EEXIST ? 0 : err;
	}
	if (!err) {
		opts.prog_fd = bpf_program__fd(skel->progs.tc_flip);
		err = bpf_tc_attach(&hook, &opts);
	}
	if (err)
		fprintf(stderr, "bt_testtool: flip on %s: %s\n", dev, strerror(-err));
	testprogs_bpf__destroy(skel);
	return err ? 1 : 0;
}

static int unflip(const char *dev)
{
	int ifindex = (int)if_nametoindex(dev);
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = BPF_TC_EGRESS);
	LIBBPF_OPTS(bpf_tc_opts, opts, .handle = FLIP_HANDLE, .priority = 1);

	return ifindex && !bpf_tc_detach(&hook, &opts) ? 0 : 1;
}

/* Classic pcap: 24-byte file header, then 16-byte record headers. */
static int replay(const char *path, const char *dev)
{
	struct sockaddr_ll sll = {.sll_family = AF_PACKET, .sll_halen = 6};
	unsigned char hdr[24], rec[16], frame[65536];
	FILE *f = fopen(path, "rb");
	int fd, sent = 0;

	if (!f)
		return fprintf(stderr, "bt_testtool: %s: %s\n", path, strerror(errno)), 1;
	sll.sll_ifindex = (int)if_nametoindex(dev);
	fd = socket(AF_PACKET, SOCK_RAW, 0);
	if (fd < 0 || !sll.sll_ifindex || fread(hdr, 1, 24, f) != 24) {
		fprintf(stderr, "bt_testtool: replay: cannot start (%s)\n", strerror(errno));
		fclose(f);
		return 1;
	}
	while (fread(rec, 1, 16, f) == 16) {
		unsigned int len = (unsigned int)(rec[8] | rec[9] << 8 | rec[10] << 16 |
						  (unsigned int)rec[11] << 24);

		if (len > sizeof(frame) || fread(frame, 1, len, f) != len)
			break;
		if (sendto(fd, frame, len, 0, (struct sockaddr *)&sll, sizeof(sll)) == (ssize_t)len)
			sent++;
	}
	fclose(f);
	close(fd);
	printf("%d\n", sent);
	return sent ? 0 : 1;
}

int main(int argc, char **argv)
{
	if (argc == 5 && !strcmp(argv[1], "flip"))
		return flip(argv[2], atoi(argv[3]), atoi(argv[4]));
	if (argc == 3 && !strcmp(argv[1], "unflip"))
		return unflip(argv[2]);
	if (argc == 4 && !strcmp(argv[1], "replay"))
		return replay(argv[2], argv[3]);
	fprintf(stderr, "usage: bt_testtool flip DEV PORT OFFSET | unflip DEV | replay PCAP DEV\n");
	return 2;
}
