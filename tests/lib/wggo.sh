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

wg_stop() {
	[ -n "$GO_PID" ] && kill "$GO_PID" 2>/dev/null && wait "$GO_PID" 2>/dev/null
	rm -f "/var/run/wireguard/$1.sock"
}
