#!/bin/bash
# vm-guest.sh - PID 1 inside the guest that scripts/test-vm.sh boots: the host's
# root (read-only 9p under a tmpfs overlay) is already /. Mounts what a test
# needs, checks that the guest kernel's modules are in place, loads the AES-NI and fixed-time AES
# modules, runs the command test-vm.sh wrote to the run share, writes its exit
# status there and powers the guest off.
# Environment (from the kernel command line): bt_modules, bt_kver.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root TERM=dumb LANG=C.UTF-8
run=/run/bt-vm
bt_kver=${bt_kver:-$(uname -r)}
bt_modules=${bt_modules:?bt_modules= missing from the kernel command line}

off() {
	sync
	echo o >/proc/sysrq-trigger
	sleep 10
}
say() { echo "vm-guest: $*" >/dev/console; }

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /dev/shm
mount -t tmpfs -o mode=755 tmpfs /run
mount -t tmpfs -o mode=1777 tmpfs /tmp
mount -t cgroup2 cgroup2 /sys/fs/cgroup 2>/dev/null
mount -t bpf bpf /sys/fs/bpf
mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null
exec </dev/console >/dev/console 2>&1
mkdir -p "$run"
if ! mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144 btrun "$run"; then
	say "cannot mount the run share (virtfs tag btrun)"
	off
fi
awk '{ print $1 }' /proc/uptime >"$run/boot"
[ -z "${bt_debug-}" ] || say "$(cat "$run/boot") run share mounted"

# the initramfs bound the guest kernel's modules where modprobe looks for them
[ -f "/usr/lib/modules/$bt_kver/modules.dep" ] || say "no modules for $bt_kver in /lib/modules (from $bt_modules)"
hostname bpftun-vm
ip link set lo up
# No udev here: load the AES-NI cipher (on real hardware udev does it from the
# CPU's modalias) and aes_ti, which ecb(aes-fixed-time) needs.
for m in aesni_intel aes_ti; do
	modprobe "$m" || say "modprobe $m failed: this kernel or CPU lacks it"
done

bash "$run/cmd"
echo $? >"$run/status"
umount "$run"
off
