# shellcheck shell=bash
# wggo.sh - the real WireGuard peer of the interop tests (wg_interop.sh,
# wg_dp_interop.sh, netns_wg_interop.sh): wireguard-go (Debian's package)
# or the kernel's module, on an interface of its own in a namespace.
# Needs lib/check.sh sourced first (check, wait_until).
#
#   wg_need go|kernel [COMMAND...]  exit 1 naming what is not installed
#                                   (wg, and wireguard-go for go), or a
#                                   peer that is neither
#   wg_name go|kernel               the peer's name for messages
#   wg_start go|kernel NS IF LOG    start it on IF in NS, logging to LOG
#                                   (created even for the kernel's): one
#                                   check that it is there; wireguard-go's
#                                   pid in GO_PID
#   wg_stop IF                      for the EXIT trap: wireguard-go stopped,
#                                   its socket removed
#   wg_hosts BT DIR                 the two hosts of the bpftun-against-WireGuard
#                                   tests: namespaces "$B" (bpftun, vb
#                                   10.79.0.1/24) and "$G" (the WireGuard
#                                   peer, vg 10.79.0.2/24), lo up, tx checksum
#                                   offload off; keys: KB and PB (bpftun's,
#                                   made with BT genkey/pubkey), DIR/g.key and
#                                   PG (wg's); DIR/b made for B's config.
#                                   Non-zero at the first step that fails.
# /var/run/wireguard is shared by all namespaces: IF must carry the pid.
GO_PID=

wg_need() {
	local impl=$1 c miss=()
	shift
	case $impl in
	go) set -- wireguard-go wg "$@" ;;
	kernel) set -- wg "$@" ;;
	*) echo "FAIL: peer '$impl': want go or kernel"; exit 1 ;;
	esac
	for c in "$@"; do command -v "$c" >/dev/null || miss+=("$c"); done
	[ ${#miss[@]} = 0 ] || { echo "FAIL: not installed: ${miss[*]} (scripts/install-deps.sh)"; exit 1; }
}

wg_name() { if [ "$1" = kernel ]; then echo "kernel WireGuard"; else echo wireguard-go; fi; }

wg_start() {
	local impl=$1 ns=$2 ifname=$3 log=$4
	touch "$log"
	if [ "$impl" = go ]; then
		ip netns exec "$ns" env LOG_LEVEL=verbose WG_PROCESS_FOREGROUND=1 \
			wireguard-go "$ifname" >"$log" 2>&1 &
		GO_PID=$!
		check "wireguard-go $(wireguard-go --version 2>/dev/null | head -1 | awk '{print $2}') starts in $ns" \
			wait_until 5 test -S "/var/run/wireguard/$ifname.sock"
	else
		check "kernel WireGuard ($(uname -r)): ip link add type wireguard in $ns" \
			ip netns exec "$ns" ip link add "$ifname" type wireguard
	fi
}

wg_hosts() {
	local bt=$1 dir=$2
	ip netns add "$B" && ip netns add "$G" &&
		ip link add vb netns "$B" type veth peer name vg netns "$G" &&
		ip -n "$B" link set lo up && ip -n "$G" link set lo up &&
		ip -n "$B" addr add 10.79.0.1/24 dev vb && ip -n "$G" addr add 10.79.0.2/24 dev vg &&
		ip -n "$B" link set vb up && ip -n "$G" link set vg up &&
		ip netns exec "$B" ethtool -K vb tx off >/dev/null &&
		ip netns exec "$G" ethtool -K vg tx off >/dev/null || return 1
	KB=$("$bt" genkey) && PB=$(echo "$KB" | "$bt" pubkey) || return 1
	(umask 077 && wg genkey >"$dir/g.key") && PG=$(wg pubkey <"$dir/g.key") && mkdir "$dir/b"
}

wg_stop() {
	[ -n "$GO_PID" ] && kill "$GO_PID" 2>/dev/null && wait "$GO_PID" 2>/dev/null
	rm -f "/var/run/wireguard/$1.sock"
}
