#!/usr/bin/env bash
# netns_datapath.sh - live traffic through tc_seal/tc_open between two network
# namespaces, over an outer IPv4 and then an outer IPv6 underlay.
#
# Topology, per run (names carry the PID so parallel runs never collide):
#
#   ns A                                   ns B
#   bt0 10.9.0.1 fd09::1                   bt0 10.9.0.2 fd09::2
#    |  (veth, NOARP, MTU 1420,             |
#    |   tx/tso/gso off: the kernel          |
#    |   segments and checksums here)        |
#   bt0p  tc ingress: tc_seal               bt0p
#   va    tc ingress: tc_open  <--------->  vb   (underlay, tx checksum offload OFF)
#
# Underlay offload is off on purpose: KERNEL-NOTES shows that sealing before
# checksums are complete only breaks TCP once checksums fall back to software.
#
# usage: netns_datapath.sh PATH/TO/dp_attach
set -u

DP_ATTACH=${1:?usage: netns_datapath.sh PATH/TO/dp_attach}
PORT=51820
A="bt-dpa-$$"
B="bt-dpb-$$"
TMP=$(mktemp -d /tmp/bt-dp-XXXXXX)
PIN="/sys/fs/bpf/bt-dp-$$"
pass=0
fail=0

cleanup() {
	ip netns del "$A" 2>/dev/null
	ip netns del "$B" 2>/dev/null
	rm -rf "$PIN" "$TMP"
}
trap cleanup EXIT INT TERM

check() { # check "description" command...
	local what=$1
	shift
	local out
	if out=$("$@" 2>&1); then
		echo "PASS: $what"
		pass=$((pass + 1))
	else
		echo "FAIL: $what"
		[ -n "$out" ] && printf '%s\n' "$out" | tail -n 20 | sed 's/^/    /'
		fail=$((fail + 1))
	fi
}

inA() { ip netns exec "$A" "$@"; }
inB() { ip netns exec "$B" "$@"; }
hexkey() { head -c 36 /dev/urandom | od -An -tx1 | tr -d ' \n'; }

mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf
command -v ethtool >/dev/null || { echo "FAIL: ethtool missing (scripts/install-deps.sh)"; exit 1; }

# setup OUTER: build both ends with outer family 4 or 6; returns non-zero on failure.
setup() {
	local outer=$1 la lb
	cleanup
	mkdir -p "$TMP" "$PIN"
	ip netns add "$A" && ip netns add "$B" || return 1
	ip link add va netns "$A" type veth peer name vb netns "$B" || return 1
	inA ip addr add 10.77.0.1/24 dev va
	inB ip addr add 10.77.0.2/24 dev vb
	inA ip addr add fd77::1/64 dev va nodad
	inB ip addr add fd77::2/64 dev vb nodad
	for ns in "$A" "$B"; do
		ip netns exec "$ns" ip link set lo up
		ip netns exec "$ns" ip link add bt0 type veth peer name bt0p || return 1
		ip netns exec "$ns" ip link set bt0 arp off mtu 1420 up
		ip netns exec "$ns" ip link set bt0p up
		ip netns exec "$ns" ethtool -K bt0 tx off tso off gso off >/dev/null || return 1
	done
	inA ip link set va up
	inB ip link set vb up
	inA ethtool -K va tx off >/dev/null
	inB ethtool -K vb tx off >/dev/null
	inA ip addr add 10.9.0.1/24 dev bt0
	inB ip addr add 10.9.0.2/24 dev bt0
	inA ip addr add fd09::1/64 dev bt0 nodad
	inB ip addr add fd09::2/64 dev bt0 nodad

	if [ "$outer" = 6 ]; then
		la=fd77::1 lb=fd77::2
	else
		la=10.77.0.1 lb=10.77.0.2
	fi
	local mac_a mac_b k1 k2
	mac_a=$(inA cat /sys/class/net/va/address)
	mac_b=$(inB cat /sys/class/net/vb/address)
	k1=$(hexkey)
	k2=$(hexkey)
	printf '%s\n%s\n' "$k1" "$k2" | nsenter --net="/run/netns/$A" "$DP_ATTACH" \
		--tun bt0 --hidden bt0p --underlay va --port $PORT --local $la --remote $lb \
		--remote-mac "$mac_b" --tx-index 2 --rx-index 1 --pin "$PIN/a" \
		--allowed 10.9.0.2/32 --allowed fd09::2/128 || return 1
	printf '%s\n%s\n' "$k2" "$k1" | nsenter --net="/run/netns/$B" "$DP_ATTACH" \
		--tun bt0 --hidden bt0p --underlay vb --port $PORT --local $lb --remote $la \
		--remote-mac "$mac_a" --tx-index 1 --rx-index 2 --pin "$PIN/b" \
		--allowed 10.9.0.1/32 --allowed fd09::1/128 || return 1
}

counter() { # counter SIDE NAME -> value
	"$DP_ATTACH" --show "$PIN/$1" | awk -v n="$2" '$1 " " $2 == n {print $3}'
}

# tcp_copy SRC_NS DST_NS DST_ADDR BYTES: copy random data over TCP, compare sha256
tcp_copy() {
	local dst_ns=$2 addr=$3 bytes=$4 port=$((5000 + RANDOM % 1000))
	head -c "$bytes" /dev/urandom >"$TMP/in"
	rm -f "$TMP/out"
	ip netns exec "$dst_ns" timeout 60 socat -u TCP6-LISTEN:$port,reuseaddr,ipv6only=0 \
		"OPEN:$TMP/out,creat,trunc" &
	local srv=$!
	sleep 0.3
	ip netns exec "$1" timeout 60 socat -u "OPEN:$TMP/in" "TCP:$addr:$port" || { kill $srv 2>/dev/null; return 1; }
	wait $srv || return 1
	[ "$(sha256sum <"$TMP/in" | cut -d' ' -f1)" = "$(sha256sum <"$TMP/out" | cut -d' ' -f1)" ]
}

# no_marker: send a marker over the tunnel while capturing the underlay; the
# capture must hold our UDP packets and never the marker.
no_marker() {
	local marker="BPFTUN-PLAINTEXT-MARKER-$$"
	inB timeout 20 tcpdump -i vb -U -w "$TMP/cap.pcap" udp port $PORT 2>/dev/null &
	local cap=$!
	sleep 1
	for i in $(seq 1 200); do printf '%s %s\n' "$marker" "$i"; done >"$TMP/in"
	local port=$((6000 + RANDOM % 1000))
	inB timeout 20 socat -u TCP-LISTEN:$port,reuseaddr "OPEN:$TMP/out,creat,trunc" &
	local srv=$!
	sleep 0.3
	inA timeout 20 socat -u "OPEN:$TMP/in" TCP:10.9.0.2:$port
	wait $srv
	inA ping -c 2 -W 1 -p "$(printf '%s' BPFTUNMARK | od -An -tx1 | tr -d ' \n' | head -c 32)" 10.9.0.2 >/dev/null
	sleep 1
	kill -INT $cap 2>/dev/null
	wait $cap 2>/dev/null
	local n
	n=$(tcpdump -r "$TMP/cap.pcap" 2>/dev/null | wc -l)
	grep -q "BPFTUN" "$TMP/out" || return 1     # the marker did cross the tunnel
	[ "$n" -gt 10 ] || return 1                   # and the capture saw the tunnel traffic
	! grep -aq "BPFTUN" "$TMP/cap.pcap"          # but never in clear on the wire
}

for outer in 4 6; do
	echo "== outer IPv$outer, underlay tx checksum offload off"
	if ! setup $outer; then
		check "outer v$outer: set up namespaces and attach the datapath" false
		continue
	fi
	check "outer v$outer: inner IPv4 ping through the tunnel" inA ping -c 3 -i 0.2 -W 2 10.9.0.2
	check "outer v$outer: inner IPv6 ping through the tunnel" inA ping -6 -c 3 -i 0.2 -W 2 fd09::2
	check "outer v$outer: full-MTU ping (1420 B, DF) goes through" \
		inA ping -c 2 -W 2 -M do -s 1392 10.9.0.2
	check "outer v$outer: 16 MB TCP over inner IPv4, sha256 matches" \
		tcp_copy "$A" "$B" 10.9.0.2 16000000
	check "outer v$outer: 8 MB TCP over inner IPv6 (B to A), sha256 matches" \
		tcp_copy "$B" "$A" "[fd09::1]" 8000000
	check "outer v$outer: no plaintext marker in a capture of the underlay" no_marker
	for side in a b; do
		for reason in bad_tag replay malformed crypto_error internal; do
			v=$(counter $side "peer0 $reason")
			check "outer v$outer: side $side: $reason drops = ${v:-?} (want 0)" [ "${v:-x}" = 0 ]
		done
		v=$(counter $side "peer0 rx_packets")
		check "outer v$outer: side $side: rx_packets ${v:-?} > 1000" [ "${v:-0}" -gt 1000 ]
	done
	v=$(counter b "peer0 csum_partial")
	check "outer v$outer: no CHECKSUM_PARTIAL packet ever reached the sealer (${v:-?})" [ "${v:-x}" = 0 ]
done

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ] && [ "$pass" -gt 0 ]
