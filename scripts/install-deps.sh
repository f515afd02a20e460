#!/usr/bin/env bash
# Install everything bpftun needs to build, test and run its demo on Debian 12.
# Idempotent: apt-get skips what is already installed.
set -euo pipefail

if [ "$(id -u)" -ne 0 ]; then
	echo "install-deps.sh: must run as root (apt-get)" >&2
	exit 1
fi

pkgs=(
	# build
	clang-19 llvm-19 lld-19 bpftool libbpf-dev libelf-dev zlib1g-dev
	libsodium-dev libnl-3-dev libnl-route-3-dev pkg-config cmake make gcc
	# tests: reference crypto, fuzzing runtime, netns tooling
	libssl-dev libclang-rt-19-dev iproute2 ethtool tcpdump iperf3 socat
	coreutils procps kmod iputils-ping util-linux python3 openssl man-db groff-base
	# tests: a real WireGuard peer for the handshake interop test (tests/wg_interop.sh)
	wireguard-go wireguard-tools
	# keyctl, for the keyring lines in docs/keymgmt.md (netns_keyring itself
	# calls keyctl(2) through python's ctypes)
	keyutils
	# tests: systemd-analyze verify of the shipped units (tests/systemd_units.sh)
	systemd

	# CI: the format check (scripts/check-format.sh), git ls-files for it
	clang-format-19 git
)

# shellcheck source=lib/apt.sh
. "$(dirname "$0")/lib/apt.sh"
apt_ensure "${pkgs[@]}"

# bpffs is not mounted on a fresh machine here; pins need it.
if ! mountpoint -q /sys/fs/bpf; then
	mount -t bpf bpf /sys/fs/bpf
fi
