#!/usr/bin/env bash
# netns_steer_up.sh - `Steering = on|off` through the real `bpftun up`/`down`
# in two network namespaces joined by one veth pair:
#
#   A: va 10.78.0.1 ---- vb 10.78.0.2 :B      tunnel sua$$ / sub$$ 10.9.8.1 / .2
#
# Steering = off: today's path, no XDP program on va/vb. Steering = on
# (SteeringCPUs = 0-1): xdp_steer on both underlays, show reports it, two
# TCP flows whose marks (predicted with libsodium from A's pinned key) map to
# CPU 0 and CPU 1 open there (tc_open's per-CPU rx_packets and rx_bytes on
# B: all of a flow's inner bytes on its CPU; keepalives, empty and unmarked,
# may open on either), sha256 matches; a device that already has an XDP
# program is refused before anything changes; down leaves no XDP program,
# clsact or pin. Orphans: a tunnel whose key manager was killed and whose
# device was deleted by hand leaves its xdp_steer on the underlay; `down`
# of that name and `cleanup` remove it, `up` refuses naming cleanup while it
# is there, an `up` that fails after attaching leaves none, and live
# tunnels' xdp_steer stay.
#
# usage: netns_steer_up.sh BUILD_DIR
set -u

BUILD=$(cd "${1:?usage: netns_steer_up.sh BUILD_DIR}" && pwd)
BT=$BUILD/tunnel/bpftun
TOOL=$BUILD/tests/steer_tool
A="bt-sua-$$"
B="bt-sub-$$"
IA="sua$$"
IB="sub$$"
PORT=51830
TMP=$(mktemp -d /tmp/bt-steerup-XXXXXX)
PINROOT=/sys/fs/bpf/bpftun
# up pins into PINROOT/NETNS-INODE-IFNAME (pins are per network namespace)
pindir() { echo "$PINROOT/$(ip netns exec "$1" stat -Lc %i /proc/self/ns/net)-$2"; }
OTHER=/sys/fs/bpf/bt-steerup-other-$$

HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../scripts/lib/netns.sh
. "$HERE/../scripts/lib/netns.sh"
cleanup() {
	jobs -p | xargs -r kill 2>/dev/null
	btA down "$IA" >/dev/null 2>&1
	btB down "$IB" >/dev/null 2>&1
	ns_remove "$A" "$B"
	rm -rf "$TMP" "$OTHER"
	return 0
}
trap cleanup EXIT
trap 'exit 143' INT TERM

# shellcheck source=lib/check.sh
. "$HERE/lib/check.sh"
# shellcheck source=lib/hosts.sh
. "$HERE/lib/hosts.sh"

# bpftun through nsenter, not `ip netns exec` (which mounts a sysfs of its
# own, without bpffs): up pins the maps, where steer_tool reads them
btA() { nsenter --net="/run/netns/$A" "$BT" "$@"; }
btB() { nsenter --net="/run/netns/$B" "$BT" "$@"; }
json() { python3 -c "import json,sys; j=json.load(open(sys.argv[1])); print($2)" "$1"; }

[ "$(nproc)" -ge 2 ] || { echo "FAIL: needs at least 2 CPUs (have $(nproc))"; exit 1; }

two_hosts 10.78.0.1 10.78.0.2 || { echo "FAIL: namespaces"; exit 1; }

KA=$("$BT" genkey) KB=$("$BT" genkey)
PA=$(echo "$KA" | "$BT" pubkey) PB=$(echo "$KB" | "$BT" pubkey)

# conf NAME PRIV PEERPUB ADDR EP ALLOWED EXTRA
conf() {
	(umask 077 && cat >"$TMP/$1.conf" <<EOF
[Interface]
PrivateKey = $2
ListenPort = $PORT
Address = $4
Protocol = bpftun
$7

[Peer]
PublicKey = $3
Endpoint = $5
AllowedIPs = $6
EOF
	)
}
up_both() { # EXTRA
	conf "$IA" "$KA" "$PB" 10.9.8.1/24 10.78.0.2:$PORT 10.9.8.2/32 "$1"
	conf "$IB" "$KB" "$PA" 10.9.8.2/24 10.78.0.1:$PORT 10.9.8.1/32 "$1"
	btA up "$TMP/$IA.conf" && btB up "$TMP/$IB.conf"
}
down_both() { btA down "$IA"; btB down "$IB"; }
no_xdp() { ! inA ip link show va | grep -q xdp && ! inB ip link show vb | grep -q xdp; }
no_xdp_va() { ! inA ip link show va | grep -q xdp || { inA ip link show va; false; }; }
nothing_left() {
	no_xdp || { echo "XDP left"; return 1; }
	! inA tc qdisc show dev va | grep -q clsact || { echo "clsact left on va"; return 1; }
	! inB tc qdisc show dev vb | grep -q clsact || { echo "clsact left on vb"; return 1; }
	[ ! -e "$(pindir "$A" "$IA")" ] && [ ! -e "$(pindir "$B" "$IB")" ] || { echo "pins left"; return 1; }
	! ip -n "$A" link show "$IA" >/dev/null 2>&1 || { echo "$IA left"; return 1; }
}
ping_ok() { inA ping -c 3 -i 0.2 -W 2 10.9.8.2 >/dev/null || inA ping -c 3 -i 0.2 -W 2 10.9.8.2; }
show_b() { btB show "$IB" --json >"$TMP/s.json"; }

# copy NAME SPORT DPORT BYTES: A -> B over the tunnel from SPORT, sha256 checked
copy() {
	head -c "$4" /dev/urandom >"$TMP/$1.in"
	rm -f "$TMP/$1.out"
	inB timeout 60 socat -u TCP-LISTEN:"$3",reuseaddr "OPEN:$TMP/$1.out,creat,trunc" &
	local srv=$!
	wait_until 10 listening "$B" t "$3" || { kill $srv; return 1; }
	inA timeout 60 socat -u "OPEN:$TMP/$1.in" "TCP:10.9.8.2:$3,sourceport=$2,bind=10.9.8.1" ||
		{ kill $srv 2>/dev/null; return 1; }
	wait $srv || return 1
	[ "$(sha256sum <"$TMP/$1.in" | cut -d' ' -f1)" = "$(sha256sum <"$TMP/$1.out" | cut -d' ' -f1)" ]
}
# opens: tc_open's opens on B, as "PACKETS0 PACKETS1 BYTES0 BYTES1 UNMARKED":
# peer 0's rx_packets and rx_bytes (inner bytes) on CPU 0 and CPU 1, and
# xdp_steer's data_unmarked (read after them)
opens() {
	local c
	c=$(nsenter --net="/run/netns/$B" "$TOOL" cpus "$(pindir "$B" "$IB")" |
		awk '$1 == "cpu0" {p0 = $2; b0 = $3} $1 == "cpu1" {p1 = $2; b1 = $3}
			END {print p0 + 0, p1 + 0, b0 + 0, b1 + 0}')
	show_b && echo "$c $(json "$TMP/s.json" 'j["interfaces"][0]["steer"]["data_unmarked"]')"
}
pick_sport() { # DPORT CPU FIRST: a source port from FIRST whose mark (A's key) maps to CPU on B
	local sp m
	for sp in $(seq "$3" $(($3 + 100))); do
		m=$(nsenter --net="/run/netns/$A" "$TOOL" expect "$(pindir "$A" "$IA")" 10.9.8.1 10.9.8.2 6 "$sp" "$1") || return 1
		[ "$m" -gt 0 ] && [ $(((m - 1) % 2)) = "$2" ] && { echo "$sp"; return 0; }
	done
	return 1
}
# one_cpu WANT BEFORE AFTER BYTES: between two `opens`, the flow (BYTES of
# TCP payload) was opened on CPU WANT only. The flow's packets are those
# that carry inner bytes: every packet opened on the other CPU must be a
# keepalive (an empty data message: rx_packets +1, rx_bytes +0). Keepalives
# do come during a flow: `up` of A initiates before B is up, retries 5 s
# later and, as the initiator of that second handshake, sends a keepalive at
# once. It carries no flow mark (data_unmarked), so xdp_steer puts it on
# the CPU of the outer tuple's hash, 0 or 1 by the random key of each up.
one_cpu() {
	local p0 p1 b0 b1 u0 q0 q1 c0 c1 u1 dp0 dp1 db0 db1
	read -r p0 p1 b0 b1 u0 <<<"$2"
	read -r q0 q1 c0 c1 u1 <<<"$3"
	dp0=$((q0 - p0)) dp1=$((q1 - p1)) db0=$((c0 - b0)) db1=$((c1 - b1))
	echo "opened on B: CPU0 +$dp0 packets +$db0 bytes, CPU1 +$dp1 packets +$db1 bytes," \
		"unmarked data messages +$((u1 - u0)) (want the flow all on CPU $1)"
	if [ "$1" = 0 ]; then
		[ $dp0 -gt 1000 ] && [ $db0 -ge "$4" ] && [ $db1 = 0 ]
	else
		[ $dp1 -gt 1000 ] && [ $db1 -ge "$4" ] && [ $db0 = 0 ]
	fi
}

echo "== Steering = off (the default)"
check "up, both ends, no Steering line" up_both ""
check "ping over the tunnel" ping_ok
check "no XDP program on va or vb (today's path)" no_xdp
check "show: steering off" eval 'show_b && [ "$(json "$TMP/s.json" "j[\"interfaces\"][0][\"steering\"]")" = off ]'
check "8 MB TCP, sha256 matches" copy off 40999 7000 8000000
check "down leaves nothing" eval 'down_both && nothing_left'

echo "== Steering = on, an XDP program already on vb"
check "another XDP program attached on vb (test setup)" \
	nsenter --net="/run/netns/$B" "$TOOL" attach vb 9 0 "$OTHER"
conf "$IB" "$KB" "$PA" 10.9.8.2/24 10.78.0.1:$PORT 10.9.8.1/32 "Steering = on"
check "up refused, naming the device's XDP program" \
	eval '! btB up "$TMP/$IB.conf" 2>"$TMP/err" && grep -q "already has an XDP program" "$TMP/err"'
check "the refused up changed nothing (no device, no clsact, the other program stays)" \
	eval '! ip -n "$B" link show "$IB" >/dev/null 2>&1 && ! inB tc qdisc show dev vb | grep -q clsact && inB ip link show vb | grep -q xdp'
check "the other XDP program removed (test setup)" nsenter --net="/run/netns/$B" "$TOOL" detach vb

echo "== Steering = on, SteeringCPUs = 0-1"
check "up, both ends" up_both $'Steering = on\nSteeringCPUs = 0-1'
check "xdp_steer attached natively on va and vb" \
	eval 'inA ip link show va | grep -q "prog/xdp id [0-9]* name xdp_steer" && inB ip link show vb | grep -q "prog/xdp id [0-9]* name xdp_steer" && inB ip link show vb | grep -q " xdp qdisc" || { inA ip link show va; inB ip link show vb; false; }'
check "ping over the tunnel" ping_ok
check "show: steering on, one underlay steered" \
	eval 'show_b && [ "$(json "$TMP/s.json" "j[\"interfaces\"][0][\"steering\"]")" = on ] && [ "$(json "$TMP/s.json" "j[\"interfaces\"][0][\"steer\"][\"underlays_steered\"]")" = 1 ]'
sp0=$(pick_sport 7001 0 41000) sp1=$(pick_sport 7002 1 42000)
check "source ports predicted for CPU 0 (${sp0:-none}) and CPU 1 (${sp1:-none})" [ -n "$sp0" ] && [ -n "$sp1" ]
if [ -n "$sp0" ] && [ -n "$sp1" ]; then
	s0=$(opens)
	check "flow 1 ($sp0 -> 7001): 8 MB TCP, sha256 matches" copy f1 "$sp0" 7001 8000000
	s1=$(opens)
	check "flow 1 opened only on CPU 0 (its bytes; keepalives aside)" one_cpu 0 "$s0" "$s1" 8000000
	check "flow 2 ($sp1 -> 7002): 8 MB TCP, sha256 matches" copy f2 "$sp1" 7002 8000000
	s2=$(opens)
	check "flow 2 opened only on CPU 1 (its bytes; keepalives aside)" one_cpu 1 "$s1" "$s2" 8000000
	check "show --json: steered to both CPUs, data marked, ESP counted none found" \
		eval 'show_b && json "$TMP/s.json" "(lambda s: s[\"to_cpu\"][0] > 1000 and s[\"to_cpu\"][1] > 1000 and s[\"data_marked\"] > 2000 and s[\"esp_found\"] == 0 or sys.exit(str(s)))(j[\"interfaces\"][0][\"steer\"])"'
	check "show (text) lists steered per cpu" eval 'btB show "$IB" | grep -q "steered per cpu: cpu0 [1-9]"'
fi
check "no bad_tag/replay/too_big drops on B" \
	eval 'show_b && json "$TMP/s.json" "(lambda d: d[\"bad_tag\"] + d[\"replay\"] + d[\"too_big\"] == 0 or sys.exit(str(d)))(j[\"interfaces\"][0][\"peers\"][0][\"drops\"])"'
check "down leaves nothing (no XDP program, clsact, pin, device)" eval 'down_both && nothing_left'

echo "== orphaned xdp_steer: what is left when a tunnel dies without its down"
steer_on_va() { inA ip link show va | grep -q "prog/xdp id [0-9]* name xdp_steer"; }
# die_by_hand: A's key manager killed (-9), then A's device deleted by hand:
# nobody ran underlay_detach_all for it
die_by_hand() {
	local pid
	pid=$(btA show "$IA" --json | python3 -c "import json,sys; print(json.load(sys.stdin)['interfaces'][0].get('keymgmt_pid', ''))")
	[ -n "$pid" ] || { echo "no key manager pid"; return 1; }
	kill -9 "$pid" && wait_until 5 bash -c "! kill -0 $pid 2>/dev/null" || return 1
	ip -n "$A" link del "$IA" && steer_on_va || { echo "setup: no xdp_steer left on va"; return 1; }
}
conf "$IA" "$KA" "$PB" 10.9.8.1/24 10.78.0.2:$PORT 10.9.8.2/32 $'Steering = on'
check "A up (Steering = on), key manager killed, device deleted by hand: xdp_steer left on va" \
	eval 'btA up "$TMP/$IA.conf" && die_by_hand'
check "bpftun down of the deleted device removes the orphaned xdp_steer (and clsact)" \
	eval 'btA down "$IA" && no_xdp_va && ! inA tc qdisc show dev va | grep -q clsact'
check "again: A up, key manager killed, device deleted by hand" eval 'btA up "$TMP/$IA.conf" && die_by_hand'
check "up refuses while it is there, naming bpftun cleanup" \
	eval '! btA up "$TMP/$IA.conf" 2>"$TMP/err" && grep -q "xdp_steer of a tunnel that is gone.*bpftun cleanup" "$TMP/err" || { cat "$TMP/err"; false; }'
check "bpftun cleanup removes it" \
	eval 'btA cleanup 2>"$TMP/err" && grep -q "removed 1 xdp_steer" "$TMP/err" && no_xdp_va || { cat "$TMP/err"; inA ip link show va; false; }'
check "an up that fails after attaching xdp_steer (its key manager exits at start) leaves none" \
	eval '! BPFTUN_KEYMGMT=/bin/false btA up "$TMP/$IA.conf" 2>/dev/null && no_xdp_va && ! ip -n "$A" link show "$IA" >/dev/null 2>&1'
check "live tunnels' xdp_steer stay: up both, then cleanup in A and B" \
	eval 'up_both "Steering = on" && btA cleanup 2>/dev/null && btB cleanup 2>/dev/null && steer_on_va && inB ip link show vb | grep -q "name xdp_steer"'
check "down leaves nothing" eval 'down_both && nothing_left'

check_summary
