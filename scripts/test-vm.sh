#!/usr/bin/env bash
# test-vm.sh - run a command inside Debian 13's stock kernel under QEMU.
#
# usage: test-vm.sh [options] [--] COMMAND [ARG...]
#   -C DIR         directory the command runs in (default: the project's build/)
#   --cache DIR    where the kernel and the initramfs are kept (default: build/vm)
#   --timeout SEC  hard limit on the whole guest run, boot included (default 900)
#   --smp N        vCPUs (default 2)      --mem SIZE   guest RAM (default 2G)
#   --refresh      ask the archive again for the newest 6.12 kernel
# Environment: QEMU=PATH and BUSYBOX=PATH (a static busybox) use those instead of
# the Debian packages qemu-system-x86 and busybox-static, which are otherwise
# installed with apt-get when missing. BPFTUN_VM_MIRROR: the Debian archive
# (default http://deb.debian.org/debian). BPFTUN_VM_APPEND: more words for the
# guest kernel's command line (e.g. ignore_loglevel to see its boot messages).
#
# The guest boots the unmodified Debian 13 (trixie) kernel linux-image-6.12.*-amd64,
# fetched with apt-get download from the trixie suite and unpacked (never installed).
# Its root is this machine's root, shared read-only over virtfs (9p) with a tmpfs
# overlay on top, so the command sees the same paths and binaries as here and may
# write anywhere (writes vanish with the guest). The kernel's own modules are bound
# to /lib/modules/<version>; aesni_intel and aes_ti are loaded, bpffs is mounted.
# QEMU runs with -cpu max (AES-NI visible), in TCG where there is no /dev/kvm.
#
# Prints the command's output (stdout and stderr together, from the guest's serial
# console, with the firmware's and kernel's few console lines), and exits with
# the command's exit status. Its own failures:
#   2  cannot run here (not root, a missing tool, the kernel cannot be fetched)
#   3  the guest did not report an exit status (boot failure, panic: console log)
#   124  the guest was stopped at the timeout
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
me=test-vm.sh
workdir=$top/build
cache=${BPFTUN_VM_CACHE:-$top/build/vm}
timeout_s=900
smp=2
mem=2G
refresh=0

die() {
	echo "$me: $*" >&2
	exit 2
}

while [ $# -gt 0 ]; do
	case $1 in
	-C) workdir=${2:?-C needs a directory}; shift 2 ;;
	--cache) cache=${2:?--cache needs a directory}; shift 2 ;;
	--timeout) timeout_s=${2:?--timeout needs seconds}; shift 2 ;;
	--smp) smp=${2:?--smp needs a count}; shift 2 ;;
	--mem) mem=${2:?--mem needs a size}; shift 2 ;;
	--refresh) refresh=1; shift ;;
	-h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	--) shift; break ;;
	-*) die "unknown option '$1' (see --help)" ;;
	*) break ;;
	esac
done
[ $# -gt 0 ] || die "no command given (usage: $me [options] [--] COMMAND [ARG...])"
case $timeout_s in '' | *[!0-9]*) die "--timeout '$timeout_s': not a number of seconds" ;; esac
[ "$(id -u)" -eq 0 ] || die "must run as root (apt-get, virtfs export of /, tests in the guest need root)"
[ -d "$workdir" ] || die "-C '$workdir': no such directory (build first: scripts/build.sh)"
workdir=$(cd "$workdir" && pwd)
mkdir -p "$cache" || die "cannot create cache directory '$cache'"
cache=$(cd "$cache" && pwd)
for p in "$workdir" "$cache" "$top"; do
	case $p in *[!A-Za-z0-9/._+-]*) die "path '$p' has characters the kernel command line cannot carry" ;; esac
	# the guest mounts fresh filesystems there, hiding the host's files
	case $p/ in /tmp/* | /run/* | /dev/* | /proc/* | /sys/* | /var/run/*)
		die "'$p' lies under /tmp, /run, /dev, /proc or /sys, which the guest mounts afresh: use another path" ;;
	esac
done

# --- host tools ------------------------------------------------------------
# command -> Debian 12 package
qemu=${QEMU:-qemu-system-x86_64}
busybox_bin=${BUSYBOX:-/bin/busybox}
mirror=${BPFTUN_VM_MIRROR:-http://deb.debian.org/debian}
[ -z "${QEMU-}" ] || [ -x "$QEMU" ] || die "QEMU='$QEMU' is not an executable"
[ -z "${BUSYBOX-}" ] || [ -x "$BUSYBOX" ] || die "BUSYBOX='$BUSYBOX' is not an executable"
declare -A need=(
	[$qemu]=qemu-system-x86 [xz]=xz-utils
	[depmod]=kmod [dpkg-deb]=dpkg [apt-get]=apt [timeout]=coreutils
)
host_tools() {
	local missing=() c
	for c in "${!need[@]}"; do command -v "$c" >/dev/null || missing+=("${need[$c]}"); done
	[ -r /usr/share/keyrings/debian-archive-keyring.gpg ] || missing+=(debian-archive-keyring)
	# the initramfs needs a static busybox (Debian's busybox package is dynamic)
	if [ -n "${BUSYBOX-}" ]; then
		[ -x "$BUSYBOX" ] || missing+=(busybox-static)
	else
		dpkg-query -W -f='${Status}' busybox-static 2>/dev/null | grep -q 'ok installed' || missing+=(busybox-static)
	fi
	printf '%s\n' "${missing[@]}" | sort -u | grep . || true
}
apt_install() {
	DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 -y -qq "$@" >&2
}
mapfile -t todo < <(host_tools)
if [ "${#todo[@]}" -gt 0 ]; then
	echo "$me: installing ${todo[*]} (apt-get)" >&2
	if ! apt_install install --no-install-recommends "${todo[@]}" &&
		! { apt_install update && apt_install install --no-install-recommends "${todo[@]}"; }; then
		die "cannot install: ${todo[*]}"
	fi
	mapfile -t todo < <(host_tools)
	[ "${#todo[@]}" -eq 0 ] || die "still missing after apt-get: ${todo[*]}"
fi

# --- the kernel ------------------------------------------------------------
# $cache/kernel/{boot,usr} is the unpacked package, $cache/kernel.version its version.
fetch_kernel() {
	local apt=$cache/apt opts pkg ver deb
	mkdir -p "$apt/lists/partial" "$apt/cache/archives/partial"
	echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror trixie main" \
		>"$apt/trixie.list"
	opts=(-o "Dir::Etc::sourcelist=$apt/trixie.list" -o Dir::Etc::sourceparts=- -o "Dir::State::Lists=$apt/lists"
		-o "Dir::Cache=$apt/cache" -o APT::Sandbox::User=root)
	echo "$me: fetching the trixie package lists" >&2
	apt-get "${opts[@]}" -qq --error-on=any update >&2 ||
		die "apt-get update of the trixie suite from $mirror failed: no network or archive unreachable (cannot fetch the kernel)"
	# linux-image-amd64 depends on the current linux-image-6.12.N+debM-amd64
	pkg=$(apt-cache "${opts[@]}" depends linux-image-amd64 2>/dev/null |
		sed -n 's/^ *Depends: \(linux-image-6\.12\.[^ ]*-amd64\)$/\1/p' | head -n1) || true
	[ -n "$pkg" ] || die "trixie's linux-image-amd64 does not depend on a linux-image-6.12.*-amd64 package any more"
	ver=${pkg#linux-image-}
	if [ -f "$cache/kernel.version" ] && [ "$(cat "$cache/kernel.version")" = "$ver" ]; then
		return 0
	fi
	echo "$me: downloading $pkg-unsigned" >&2
	rm -f "$apt"/*.deb
	(cd "$apt" && apt-get "${opts[@]}" -qq download "$pkg-unsigned" >&2) ||
		die "apt-get download $pkg-unsigned failed"
	deb=$(ls "$apt"/linux-image-*-unsigned_*.deb)
	rm -rf "$cache/kernel" "$cache/kernel.version" "$cache/initrd.img"
	mkdir -p "$cache/kernel"
	dpkg -x "$deb" "$cache/kernel" || die "dpkg -x $deb failed"
	[ -f "$cache/kernel/boot/vmlinuz-$ver" ] && [ -d "$cache/kernel/usr/lib/modules/$ver" ] ||
		die "$deb has no boot/vmlinuz-$ver or usr/lib/modules/$ver"
	# the package ships no modules.dep
	depmod -b "$cache/kernel/usr" "$ver" || die "depmod for $ver failed"
	rm -f "$deb"
	echo "$ver" >"$cache/kernel.version"
}
# one fetch and one initramfs build at a time per cache; runs may share it
exec 9>"$cache/.lock"
flock 9 || die "cannot lock $cache/.lock"
if [ "$refresh" = 1 ] || [ ! -s "$cache/kernel.version" ]; then
	fetch_kernel
fi
kver=$(cat "$cache/kernel.version")
kdir=$cache/kernel
moddir=$kdir/usr/lib/modules/$kver
[ -f "$kdir/boot/vmlinuz-$kver" ] || die "cache '$cache' is incomplete (no vmlinuz-$kver): rerun with --refresh"

# --- the initramfs ---------------------------------------------------------
# busybox, the 9p and overlay modules, and an init that mounts / from the host
# (read-only 9p) under a tmpfs overlay and switch_roots into the guest stage,
# scripts/lib/vm-guest.sh, which runs from the host's files.
initrd=$cache/initrd.img
if [ ! -f "$initrd" ] || [ "$0" -nt "$initrd" ]; then
	stage=$(mktemp -d "$cache/initrd.XXXXXX")
	mkdir -p "$stage"/{bin,dev,proc,sys,lower,rw,newroot,mod}
	cp "$busybox_bin" "$stage/bin/busybox"
	mknod -m 600 "$stage/dev/console" c 5 1
	# modules in dependency order (modules.dep lists a module's dependencies)
	mods=()
	for m in netfs 9pnet 9pnet_virtio 9p overlay; do
		path=$(modprobe -d "$kdir/usr" -S "$kver" --show-depends "$m" 2>/dev/null |
			awk '$1 == "insmod" { print $2 }') || true
		[ -n "$path" ] || { rm -rf "$stage"; die "kernel $kver: module $m not found in $moddir"; }
		for f in $path; do
			b=$(basename "$f"); b=${b%.xz}; b=${b%.zst}
			case " ${mods[*]-} " in *" $b "*) continue ;; esac
			case $f in
			*.xz) xz -dc "$f" >"$stage/mod/$b" ;;
			*.zst) zstd -qdc "$f" >"$stage/mod/$b" ;;
			*) cp "$f" "$stage/mod/$b" ;;
			esac
			mods+=("$b")
		done
	done
	cat >"$stage/init" <<EOF
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
fail() { echo "vm-init: \$*" >/dev/console; echo o >/proc/sysrq-trigger; sleep 5; }
t() { [ -z "\$bt_debug" ] || echo "vm-init: \$(cut -d' ' -f1 /proc/uptime) \$*" >/dev/console; }
t start
for m in ${mods[*]}; do insmod /mod/\$m || fail "insmod \$m failed"; done
t modules loaded
mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=262144,cache=loose hostroot /lower ||
	fail "cannot mount the host's root (virtfs tag hostroot)"
t 9p mounted
mount -t tmpfs -o mode=755 tmpfs /rw && mkdir -p /rw/upper /rw/work
mount -t overlay overlay -o lowerdir=/lower,upperdir=/rw/upper,workdir=/rw/work /newroot ||
	fail "cannot mount the overlay on the host's root"
[ -x "/newroot\$bt_guest" ] || fail "guest stage '\$bt_guest' not found through virtfs"
# the guest kernel's modules where modprobe looks for them
mkdir -p "/newroot/usr/lib/modules/\$bt_kver" &&
	mount --bind "/lower\$bt_modules" "/newroot/usr/lib/modules/\$bt_kver" ||
	echo "vm-init: cannot bind \$bt_modules to /lib/modules/\$bt_kver" >/dev/console
t overlay and modules mounted
umount /proc /sys /dev
exec switch_root /newroot /bin/bash "\$bt_guest"
EOF
	chmod 755 "$stage/init"
	(cd "$stage" && find . | "$busybox_bin" cpio -o -H newc 2>/dev/null | gzip -1) >"$initrd.tmp" &&
		mv "$initrd.tmp" "$initrd"
	rm -rf "$stage"
fi

flock -u 9
exec 9>&-

# --- run -------------------------------------------------------------------
run=$(mktemp -d "$cache/run.XXXXXX")
cleanup() { rm -rf "$run"; }
trap cleanup EXIT
trap 'exit 130' INT TERM
{
	printf 'cd %q || exit 126\n' "$workdir"
	printf 'exec'
	printf ' %q' "$@"
	printf '\n'
} >"$run/cmd"

accel=tcg
if [ -w /dev/kvm ]; then accel=kvm; fi
append="console=ttyS0 loglevel=4 quiet panic=-1 rdinit=/init"
append+=" bt_guest=$top/scripts/lib/vm-guest.sh bt_modules=$moddir bt_kver=$kver ${BPFTUN_VM_APPEND-}"

echo "$me: booting $kver (accel $accel, $smp vCPUs, -cpu max, timeout ${timeout_s}s): $*" >&2
t0=$(date +%s.%N)
set +e
timeout -k 10 "$timeout_s" "$qemu" \
	-accel "$accel" -cpu max -smp "$smp" -m "$mem" \
	-nographic -nic none -no-reboot -monitor none -serial stdio \
	-kernel "$kdir/boot/vmlinuz-$kver" -initrd "$initrd" -append "$append" \
	-virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap \
	-virtfs "local,path=$run,mount_tag=btrun,security_model=none" \
	</dev/null | sed -u 's/\r$//; s/\x1bc//g; s/\x1b\[[0-9;?]*[A-Za-z]//g' | tee "$cache/console.log"
rc=${PIPESTATUS[0]}
set -e
t1=$(date +%s.%N)
wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
	echo "$me: the guest did not finish within ${timeout_s}s; QEMU stopped (console: $cache/console.log)" >&2
	exit 124
fi
if [ ! -s "$run/status" ]; then
	echo "$me: the guest reported no exit status (QEMU exit $rc; boot or init failed, console: $cache/console.log)" >&2
	exit 3
fi
status=$(cat "$run/status")
[ -s "$run/boot" ] && echo "$me: guest userspace started at $(cat "$run/boot") s of guest uptime" >&2
echo "$me: command exited $status; QEMU wall time ${wall}s" >&2
exit "$status"
