#!/usr/bin/env bash
# Install the peers and tools that `bench/bench tunnel` compares bpftun with,
# on Debian 12. Idempotent: apt-get runs only when something is missing.
# Build dependencies of bpftun itself are in scripts/install-deps.sh.
set -euo pipefail

if [ "$(id -u)" -ne 0 ]; then
	echo "install-bench-deps.sh: must run as root (apt-get)" >&2
	exit 1
fi

pkgs=(
	# peers: userspace WireGuard over TUN, OpenVPN 2.6 (TLS mode, certs by openssl)
	wireguard-go wireguard-tools openvpn openssl
	# load and latency
	iperf3 sockperf iputils-ping
	# netns plumbing and CPU accounting
	iproute2 ethtool procps util-linux
	# plots and JSON
	gnuplot-nox python3
)

# shellcheck source=scripts/lib/apt.sh
. "$(dirname "$0")/../scripts/lib/apt.sh"
apt_ensure "${pkgs[@]}"
