#!/usr/bin/env bash
# netns_underlay.sh - the underlay devices of a tunnel.
#
#   A: va 10.67.0.1 ---- vb 10.67.0.2 :B
#      bt0 10.9.0.1          bt0 10.9.0.2
#
# 1. The underlay pair va/vb is deleted and re-created 9 times (a tunnel
#    listens on at most 8 underlays): each time the key managers move the
#    peers' endpoints and tc_open to the new devices (they re-resolve routes
#    every 5 s), reusing the slot of the device that is gone, and traffic
#    flows again within 15 s.
# 2. Endpoints reached over 9 different devices are refused before anything
#    changes, naming file:line: Endpoint and the limit of 8; 8 are accepted.
# 3. Two tunnels share an underlay's clsact, added by the first: the first's
#    device is deleted (ip link del) and its key manager detaches and exits,
#    handing the clsact on to the second, whose `down` then removes it.
#
# usage: netns_underlay.sh BUILD_DIR
set -u

BUILD=$(cd "${1:?usage: netns_underlay.sh BUILD_DIR}" && pwd)
BT=$BUILD/tunnel/bpftun
A="bt-ua-$$"
B="bt-ub-$$"
C="bt-uc-$$"
TMP=$(mktemp -d /tmp/bt-underlay-XXXXXX)
PORT=51820
ROUNDS=9

# shellcheck source=../scripts/lib/netns.sh
. "$(dirname "$0")/../scripts/lib/netns.sh"
cleanup() {
	ns_remove "$A" "$B" "$C"
	rm -rf "$TMP"
	return 0
}
trap cleanup EXIT INT TERM

# shellcheck source=lib/check.sh
. "$(dirname "$0")/lib/check.sh"
# shellcheck source=lib/hosts.sh
. "$(dirname "$0")/lib/hosts.sh"

underlay() { veth_link 10.67.0.1 10.67.0.2; } # (re-)create va/vb
topology() { two_hosts 10.67.0.1 10.67.0.2; }

KA=$("$BT" genkey)
configs() {
	local ka=$KA kb pa pb
	kb=$("$BT" genkey) || return 1
	pa=$(echo "$ka" | "$BT" pubkey) && pb=$(echo "$kb" | "$BT" pubkey) || return 1
	mkdir -p "$TMP/a" "$TMP/b"
	(umask 077
	printf '[Interface]\nPrivateKey = %s\nListenPort = %s\nAddress = 10.9.0.1/24\nProtocol = bpftun\n[Peer]\nPublicKey = %s\nEndpoint = 10.67.0.2:%s\nAllowedIPs = 10.9.0.2/32\n' \
		"$ka" "$PORT" "$pb" "$PORT" >"$TMP/a/bt0.conf"
	printf '[Interface]\nPrivateKey = %s\nListenPort = %s\nAddress = 10.9.0.2/24\nProtocol = bpftun\n[Peer]\nPublicKey = %s\nEndpoint = 10.67.0.1:%s\nAllowedIPs = 10.9.0.1/32\n' \
		"$kb" "$PORT" "$pa" "$PORT" >"$TMP/b/bt0.conf")
}

flows() { # ping through the tunnel: 15 s at most (route re-resolution is every 5 s)
	for _ in $(seq 1 30); do
		inA ping -c 1 -W 0.5 10.9.0.2 >/dev/null 2>&1 && return 0
	done
	echo "no ping reply through the tunnel in 15 s"
	return 1
}

one_tc_open() { # exactly one tc_open on the current va
	local n
	n=$(tc -n "$A" filter show dev va ingress | grep -c tc_open)
	[ "$n" = 1 ] || { echo "$n tc_open filters on va"; return 1; }
}

check "topology" topology
check "configs" configs
check "bpftun up on A and B" bash -c "ip netns exec $A '$BT' up $TMP/a/bt0.conf && ip netns exec $B '$BT' up $TMP/b/bt0.conf"
check "traffic flows" flows
for i in $(seq 1 $ROUNDS); do
	ip -n "$A" link del va
	check "underlay deleted and re-created ($i of $ROUNDS; a tunnel listens on 8 at most)" underlay
	check "... traffic flows again within 15 s" flows
	check "... through the one tc_open on the new va" one_tc_open
done
check "bpftun down on both" bash -c "ip netns exec $A '$BT' down bt0 && ip netns exec $B '$BT' down bt0"

echo "== endpoints over more than 8 devices are refused before anything changes"
ip netns add "$C"
ip -n "$C" link set lo up
# no IPv6 on these links: DAD's "tentative" would change the snapshots
ip netns exec "$C" sysctl -qw net.ipv6.conf.default.disable_ipv6=1 net.ipv6.conf.all.disable_ipv6=1
for d in $(seq 0 8); do
	ip -n "$C" link add u$d type veth peer name u$d-p
	ip -n "$C" addr add 10.68.$d.1/24 dev u$d
	ip -n "$C" link set u$d up
	ip -n "$C" link set u$d-p up
done
many() { # many N: bt1.conf with N peers, peer i reached over device u(i-1)
	local i k
	printf '[Interface]\nPrivateKey = %s\nListenPort = 51900\n' "$KA"
	for i in $(seq 0 $(($1 - 1))); do
		k=$("$BT" genkey | "$BT" pubkey)
		printf '\n[Peer]\nPublicKey = %s\nEndpoint = 10.68.%d.2:51900\nAllowedIPs = 10.10.%d.0/24\n' "$k" "$i" "$i"
	done
}
snapshot() { ip netns exec "$C" sh -c 'ip -d -j link; ip -j addr; ip -j route; tc qdisc show'; ip netns pids "$C"; }
before=$(snapshot)
(umask 077; many 9 >"$TMP/bt1.conf")
# line of the 9th peer's Endpoint: 3 lines of [Interface], then 5 per peer
line=$((3 + 8 * 5 + 4))
refused9() {
	! ip netns exec "$C" "$BT" up "$TMP/bt1.conf" 2>"$TMP/e" &&
		grep -q "bt1.conf:$line: Endpoint: '10.68.8.2': reached over 'u8', a 9th device: a tunnel listens on at most 8 underlay devices" "$TMP/e" ||
		{ cat "$TMP/e"; return 1; }
}
unchanged() { [ "$before" = "$(snapshot)" ] || { diff <(echo "$before") <(snapshot) | cut -c1-300 | head; return 1; }; }
up8() {
	ip netns exec "$C" "$BT" up "$TMP/bt1.conf" || return 1
	for d in 0 1 2 3 4 5 6 7; do
		tc -n "$C" filter show dev u$d ingress | grep -q tc_open || { echo "no tc_open on u$d"; return 1; }
	done
	ip netns exec "$C" "$BT" down bt1
}
check "9 peers over 9 devices: refused with bt1.conf:$line: Endpoint and the limit" refused9
check "... and nothing changed" unchanged
(umask 077; many 8 >"$TMP/bt1.conf")
check "8 peers over 8 devices: up works, tc_open on all 8, down" up8
check "... and nothing is left" unchanged


echo "== a shared clsact is handed on when a tunnel's device is deleted"
one() { # one PORT: a config with one peer over u0
	printf '[Interface]\nPrivateKey = %s\nListenPort = %s\n\n[Peer]\nPublicKey = %s\nEndpoint = 10.68.0.2:%s\nAllowedIPs = 10.11.%d.0/24\n' \
		"$("$BT" genkey)" "$1" "$("$BT" genkey | "$BT" pubkey)" "$1" "$(($1 - 51900))"
}
(umask 077; one 51910 >"$TMP/bt2.conf"; one 51911 >"$TMP/bt3.conf")
tc_opens() { tc -n "$C" filter show dev u0 ingress | grep -c tc_open; }
two_up() { # bt2 adds the clsact on u0, bt3 shares it
	ip netns exec "$C" "$BT" up "$TMP/bt2.conf" && ip netns exec "$C" "$BT" up "$TMP/bt3.conf" &&
		[ "$(tc_opens)" = 2 ] || { echo "$(tc_opens) tc_open filters on u0"; return 1; }
}
bt2_gone() { # ip link del bt2: its key manager detaches within 10 s and exits
	ip -n "$C" link del bt2 || return 1
	for _ in $(seq 1 50); do # only bt3's key manager left in C
		[ "$(tc_opens)" = 1 ] && [ "$(ip netns pids "$C" | wc -l)" = 1 ] && return 0
		sleep 0.2
	done
	echo "$(tc_opens) tc_open filters on u0; processes in $C: $(ip netns pids "$C" | tr '\n' ' ')"
	return 1
}
no_clsact() { ! tc -n "$C" qdisc show dev u0 | grep -q clsact || { tc -n "$C" qdisc show dev u0; return 1; }; }
check "two tunnels on u0, the first added its clsact" two_up
check "... ip link del of the first: its key manager detaches and exits" bt2_gone
check "... down of the second (then of what the first left: pins, log)" bash -c "
	ip netns exec $C '$BT' down bt3 || exit 1; ip netns exec $C '$BT' down bt2 >/dev/null 2>&1; exit 0"
check "... removes the clsact it was handed" no_clsact
check "... and nothing is left" unchanged

check_summary
