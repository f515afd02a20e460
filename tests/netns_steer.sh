#!/usr/bin/env bash
# netns_steer.sh - software RSS live: tc_seal marks flows, xdp_steer on each
# underlay (native XDP on the receiving veth end, cpumap qsize 2048, CPU set
# {0,1}) moves data messages to the CPU of their mark, tc_open runs there.
# Over outer IPv4 and outer IPv6:
#   - GRO forwarding on the underlay: attach refuses (naming it) or turns it off;
#   - the mark on the wire (tcpdump on A's underlay) is the predicted one for every
#     data message of a flow;
#   - one TCP flow (source port chosen so that its mark, predicted with
#     libsodium's SipHash from the key in the pinned map, lands on CPU 0):
#     every packet B opens is opened on CPU 0, none on CPU 1; the same for a
#     flow predicted on CPU 1; sha256 of each copy matches;
#   - both flows at once: both CPUs open more than 1000 packets, sha256 match;
#   - a sender with marking off (reserved = 0): still works, all its packets
#     open on one CPU (outer-tuple fallback), counted as unmarked;
#   - no bad_tag/replay/malformed/too_big/crypto drops; detached: today's path.
# Per-CPU open counts are tc_open's per-CPU rx_packets (BPF_MAP_TYPE_PERCPU_ARRAY).
#
# usage: netns_steer.sh PATH/TO/dp_attach PATH/TO/steer_tool
set -u

DP_ATTACH=${1:?usage: netns_steer.sh dp_attach steer_tool}
TOOL=${2:?usage: netns_steer.sh dp_attach steer_tool}
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../scripts/lib/topo.sh
. "$HERE/../scripts/lib/topo.sh"
A=$TOPO_A
B=$TOPO_B
PORT=$TOPO_PORT
PIN=$TOPO_PIN
TMP=$(mktemp -d /tmp/bt-steer-XXXXXX)

cleanup() {
	jobs -p | xargs -r kill 2>/dev/null
	topo_cleanup
	rm -rf "$TMP"
}
trap cleanup EXIT INT TERM

# shellcheck source=lib/check.sh
. "$HERE/lib/check.sh"

inA() { topo_inA "$@"; }
inB() { topo_inB "$@"; }
toolA() { nsenter --net="/run/netns/$A" "$TOOL" "$@"; }
toolB() { nsenter --net="/run/netns/$B" "$TOOL" "$@"; }

[ "$(nproc)" -ge 2 ] || { echo "FAIL: needs at least 2 CPUs (have $(nproc))"; exit 1; }
command -v ethtool >/dev/null || { echo "FAIL: ethtool missing"; exit 1; }

# copy NAME SPORT DPORT BYTES: A -> B over inner IPv4 from source port SPORT, sha256 checked
copy() {
	local name=$1 sport=$2 dport=$3 bytes=$4
	head -c "$bytes" /dev/urandom >"$TMP/$name.in"
	rm -f "$TMP/$name.out"
	inB timeout 60 socat -u TCP-LISTEN:"$dport",reuseaddr "OPEN:$TMP/$name.out,creat,trunc" &
	local srv=$!
	sleep 0.3
	inA timeout 60 socat -u "OPEN:$TMP/$name.in" "TCP:10.9.0.2:$dport,sourceport=$sport,reuseaddr" ||
		{ kill $srv 2>/dev/null; return 1; }
	wait $srv || return 1
	[ "$(sha256sum <"$TMP/$name.in" | cut -d' ' -f1)" = "$(sha256sum <"$TMP/$name.out" | cut -d' ' -f1)" ]
}

# wire_marks PCAP OUTER: reserved[0] (2 hex digits) of every data message (type 4) in the capture
wire_marks() {
	local off=$((${2} == 6 ? 48 : 28))
	tcpdump -r "$1" -nn -x 2>/dev/null | awk -v off="$off" '
		function flush() { if (hex != "" && substr(hex, 2 * off + 1, 2) == "04")
					print substr(hex, 2 * off + 3, 2); hex = "" }
		/^[^ \t]/ { flush(); next }
		{ for (i = 2; i <= NF; i++) hex = hex $i }
		END { flush() }'
}

# per-CPU opens on B: "N0 N1"
opens() { toolB cpus "$PIN/b" | awk '$1 == "cpu0" {a = $2} $1 == "cpu1" {b = $2} END {print a + 0, b + 0}'; }

# pick_sport DPORT CPU: a source port whose mark (A's key) maps to CPU on B
pick_sport() {
	local sp m
	for sp in $(seq 41000 41100); do
		m=$(toolA expect "$PIN/a" 10.9.0.1 10.9.0.2 6 "$sp" "$1") || return 1
		[ "$m" -gt 0 ] && [ $(((m - 1) % 2)) = "$2" ] && { echo "$sp"; return 0; }
	done
	return 1
}

# one_cpu WANT BEFORE AFTER: all opens between the snapshots on CPU WANT, > 1000
one_cpu() {
	local want=$1 b0 b1 a0 a1 d0 d1
	read -r b0 b1 <<<"$2"
	read -r a0 a1 <<<"$3"
	d0=$((a0 - b0)) d1=$((a1 - b1))
	echo "opened: CPU0 +$d0, CPU1 +$d1 (want all on CPU $want)"
	if [ "$want" = 0 ]; then [ $d0 -gt 1000 ] && [ $d1 = 0 ]; else [ $d1 -gt 1000 ] && [ $d0 = 0 ]; fi
}

for outer in 4 6; do
	echo "== outer IPv$outer"
	if ! topo_setup "$outer"; then
		check "outer v$outer: set up namespaces and the datapath" false
		continue
	fi
	# GRO forwarding on: refused by name without --fix, nothing attached
	inB ethtool -K vb gro on rx-udp-gro-forwarding on >/dev/null 2>&1
	refusal=$(toolB attach vb $PORT 0,1 "$PIN/sb" --no-fix-gro 2>&1)
	check "outer v$outer: attach refuses with GRO forwarding on ($refusal)" \
		eval '! toolB attach vb $PORT 0,1 "$PIN/sb" --no-fix-gro 2>/dev/null && [[ "$refusal" == *rx-udp-gro-forwarding* ]]'
	check "outer v$outer: refused attach left no XDP program on vb" \
		eval '! inB ip link show vb | grep -q xdp'
	check "outer v$outer: steering attached on vb (turns GRO forwarding off)" \
		toolB attach vb $PORT 0,1 "$PIN/sb"
	check "outer v$outer: steering attached on va" toolA attach va $PORT 0,1 "$PIN/sa"
	check "outer v$outer: a second attach on vb is refused (an XDP program is there)" \
		eval '! toolB attach vb $PORT 0 "$PIN/sb2" 2>/dev/null'
	check "outer v$outer: vb runs XDP in native mode" eval 'inB ip link show vb | grep -q "xdp "'
	check "outer v$outer: rx-udp-gro-forwarding is off on vb" \
		eval 'inB ethtool -k vb | grep -q "rx-udp-gro-forwarding: off"'
	check "outer v$outer: flow marks on (4 bits) on both senders" \
		eval 'toolA mark "$PIN/a" 4 && toolB mark "$PIN/b" 4'

	sp0=$(pick_sport 7001 0) sp1=$(pick_sport 7002 1)
	check "outer v$outer: source ports predicted for CPU 0 (${sp0:-none}) and CPU 1 (${sp1:-none})" \
		[ -n "$sp0" ] && [ -n "$sp1" ]
	[ -n "$sp0" ] && [ -n "$sp1" ] || continue

	s0=$(opens)
	inA timeout 30 tcpdump -i va -nn -U -w "$TMP/f1.pcap" "udp dst port $PORT and src host $([ "$outer" = 6 ] && echo fd77::1 || echo 10.77.0.1)" 2>/dev/null &
	cap=$!
	sleep 1
	check "outer v$outer: flow 1 (port $sp0 -> 7001): 8 MB TCP, sha256 matches" copy f1 "$sp0" 7001 8000000
	s1=$(opens)
	sleep 0.5
	kill -INT $cap 2>/dev/null
	wait $cap 2>/dev/null
	m0=$(toolA expect "$PIN/a" 10.9.0.1 10.9.0.2 6 "$sp0" 7001)
	marks=$(wire_marks "$TMP/f1.pcap" "$outer")
	check "outer v$outer: on the wire, flow 1's data messages all carry mark $m0 (hex; seen: $(echo "$marks" | sort | uniq -c | tr -s ' \n' ' '))" \
		eval '[ "$(echo "$marks" | wc -l)" -gt 1000 ] && [ "$(echo "$marks" | sort -u)" = "$(printf %02x "$m0")" ]'
	check "outer v$outer: flow 1 opened on CPU 0 only" one_cpu 0 "$s0" "$s1"
	check "outer v$outer: flow 2 (port $sp1 -> 7002): 8 MB TCP, sha256 matches" copy f2 "$sp1" 7002 8000000
	s2=$(opens)
	check "outer v$outer: flow 2 opened on CPU 1 only" one_cpu 1 "$s1" "$s2"

	# both at once
	copy f3 "$sp0" 7001 16000000 & j1=$!
	copy f4 "$sp1" 7002 16000000 & j2=$!
	wait $j1; r1=$?
	wait $j2; r2=$?
	s3=$(opens)
	check "outer v$outer: two flows at once, both sha256 match" [ $r1 = 0 ] && [ $r2 = 0 ]
	check "outer v$outer: two flows at once open on two CPUs ($s2 -> $s3)" \
		eval 'read -r b0 b1 <<<"$s2"; read -r a0 a1 <<<"$s3"; [ $((a0 - b0)) -gt 1000 ] && [ $((a1 - b1)) -gt 1000 ]'

	# a sender that does not mark
	before=$(toolB stats "$PIN/sb" | awk '$1 == "data_unmarked" {print $2}')
	check "outer v$outer: sender marking off" toolA mark "$PIN/a" 0
	s4=$(opens)
	check "outer v$outer: unmarked sender: 8 MB TCP, sha256 matches" copy f5 "$sp0" 7003 8000000
	s5=$(opens)
	after=$(toolB stats "$PIN/sb" | awk '$1 == "data_unmarked" {print $2}')
	check "outer v$outer: unmarked data counted (${before:-?} -> ${after:-?})" \
		[ $((${after:-0} - ${before:-0})) -gt 1000 ]
	check "outer v$outer: unmarked sender opens on one CPU ($s4 -> $s5)" \
		eval 'read -r b0 b1 <<<"$s4"; read -r a0 a1 <<<"$s5"; d0=$((a0 - b0)); d1=$((a1 - b1)); { [ $d0 -gt 1000 ] && [ $d1 = 0 ]; } || { [ $d1 -gt 1000 ] && [ $d0 = 0 ]; }'

	toolB stats "$PIN/sb" | sed 's/^/    B steer: /'
	v=$(toolB stats "$PIN/sb" | awk '$1 == "no_cpu" {print $2}')
	check "outer v$outer: B steered nothing to a missing CPU (no_cpu ${v:-?})" [ "${v:-x}" = 0 ]
	for reason in bad_tag replay malformed too_big crypto_error internal; do
		v=$(topo_counter b "peer0 $reason")
		check "outer v$outer: B: $reason drops = ${v:-?} (want 0)" [ "${v:-x}" = 0 ]
	done

	# off again: today's path
	check "outer v$outer: detach steering on vb and va" eval 'toolB detach vb && toolA detach va'
	check "outer v$outer: no XDP program left on vb" eval '! inB ip link show vb | grep -q xdp'
	check "outer v$outer: detach with nothing attached is a no-op" toolB detach vb
	check "outer v$outer: without steering, 4 MB TCP still matches" copy f6 "$sp0" 7004 4000000
done

check_summary
