#!/usr/bin/env bash
# demo.sh - README's first command: build if needed, then walk through the
# sealed datapath between two network namespaces, step by step.
#
# Until the key-management process and the `bpftun` command land, keys are
# random 256-bit keys handed to the datapath by a test loader (dp_attach)
# through stdin: what you see here is the datapath itself, live.
set -uo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
if [ "$(id -u)" -ne 0 ]; then
	echo "demo.sh: run as root (it loads BPF programs and creates namespaces)" >&2
	exit 1
fi
ALGO=${ALGO:-ecb(aes)}
bold() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }

if [ ! -x "$top/build/tests/dp_attach" ] || [ "${REBUILD:-0}" = 1 ]; then
	bold "Building (scripts/build.sh: apt dependencies, cmake, clang-19 for BPF)"
	bash "$top/scripts/build.sh" || exit 1
fi
DP_ATTACH=$top/build/tests/dp_attach
# shellcheck source=lib/topo.sh
. "$top/scripts/lib/topo.sh"
TMP=$(mktemp -d /tmp/bt-demo-XXXXXX)
cleanup() {
	topo_cleanup
	rm -rf "$TMP"
	[ -n "${IPERF_PID:-}" ] && kill "$IPERF_PID" 2>/dev/null
	return 0
}
trap cleanup EXIT INT TERM

bold "1. Two hosts as network namespaces, joined by a veth underlay; a tunnel device in each"
echo "   A=$TOPO_A  B=$TOPO_B  underlay 10.77.0.0/24, tunnel 10.9.0.0/24 and fd09::/64"
echo "   cipher implementation: $ALGO (ALGO=ecb(aes-generic) for the faster, table-based one)"
topo_setup 4 "$ALGO" || { echo "set-up failed"; exit 1; }
run topo_inA ip -br addr show dev bt0
run topo_inA tc filter show dev va ingress
run topo_inA tc filter show dev bt0p ingress

bold "2. Ping through the tunnel (IPv4, then IPv6 inside)"
run topo_inA ping -c 3 -i 0.2 10.9.0.2
run topo_inA ping -6 -c 3 -i 0.2 fd09::2

bold "3. A 20 MB file over TCP; the sha256 on both ends must match"
head -c 20000000 /dev/urandom >"$TMP/file"
topo_inB timeout 60 socat -u TCP-LISTEN:7000,reuseaddr "OPEN:$TMP/recv,creat,trunc" &
srv=$!
sleep 0.3
topo_inA timeout 60 socat -u "OPEN:$TMP/file" TCP:10.9.0.2:7000
wait $srv
sha256sum "$TMP/file" "$TMP/recv" | sed "s|$TMP/||"
if [ "$(sha256sum <"$TMP/file")" = "$(sha256sum <"$TMP/recv")" ]; then
	echo "   match"
else
	echo "   MISMATCH"
	exit 1
fi

bold "4. iperf3 for 5 seconds (TCP through the tunnel)"
topo_inB iperf3 -s -1 -B 10.9.0.2 >/dev/null 2>&1 &
IPERF_PID=$!
sleep 0.5
run topo_inA iperf3 -c 10.9.0.2 -t 5 -f m
wait "$IPERF_PID" 2>/dev/null
IPERF_PID=

bold "5. What the wire sees: a capture on B's underlay while A sends a known marker"
topo_inB timeout 10 tcpdump -i vb -U -c 6 -w "$TMP/cap.pcap" udp port $TOPO_PORT 2>/dev/null &
cap=$!
sleep 1
topo_inA ping -c 3 -i 0.2 -p "$(printf 'SECRET-MARKER' | od -An -tx1 | tr -d ' \n' | head -c 32)" 10.9.0.2 >/dev/null
wait $cap
run tcpdump -nr "$TMP/cap.pcap" -c 2 -X 2>/dev/null | head -20
if grep -aq "SECRET-M" "$TMP/cap.pcap"; then
	echo "   PLAINTEXT FOUND ON THE WIRE"
	exit 1
fi
echo "   the ping payload 'SECRET-M...' does not appear in the capture: UDP $TOPO_PORT, type 4, ciphertext"

bold "6. Datapath counters (per-CPU maps, summed), side A then side B"
for side in a b; do
	echo "-- side $side"
	"$DP_ATTACH" --show "$TOPO_PIN/$side" | awk '$1 == "peer0" && ($3 != 0 || $2 ~ /packets|bad_tag|replay/)'
done

bold "Done. Everything is removed on exit (namespaces, devices, TC filters, pins)."
