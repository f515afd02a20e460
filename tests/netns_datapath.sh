#!/usr/bin/env bash
# netns_datapath.sh - live traffic through tc_seal/tc_open between two network
# namespaces, over an outer IPv4 and then an outer IPv6 underlay.
#
# Topology: scripts/lib/topo.sh. Underlay tx checksum offload is off on
# purpose: docs/kernel.md shows that sealing before checksums are complete only
# breaks TCP once checksums fall back to software.
#
# ALGO (default ecb(aes)) is dp_attach's --algo: "wireguard" runs the same
# checks with SAs of the WireGuard suite (ChaCha20-Poly1305 in BPF, padded
# plaintext, no flow mark).
#
# usage: netns_datapath.sh PATH/TO/dp_attach [ALGO]
set -u

DP_ATTACH=${1:?usage: netns_datapath.sh PATH/TO/dp_attach [ALGO]}
ALGO=${2:-ecb(aes)}
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../scripts/lib/topo.sh
. "$HERE/../scripts/lib/topo.sh"
A=$TOPO_A
B=$TOPO_B
PORT=$TOPO_PORT
TMP=$(mktemp -d /tmp/bt-dp-XXXXXX)

cleanup() {
	topo_cleanup
	rm -rf "$TMP"
}
trap cleanup EXIT INT TERM

# shellcheck source=lib/check.sh
. "$HERE/lib/check.sh"

inA() { topo_inA "$@"; }
inB() { topo_inB "$@"; }

mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf
command -v ethtool >/dev/null || { echo "FAIL: ethtool missing (scripts/install-deps.sh)"; exit 1; }

# tcp_copy SRC_NS DST_NS DST_ADDR BYTES: copy random data over TCP, compare sha256
tcp_copy() {
	local dst_ns=$2 addr=$3 bytes=$4 port=$((5000 + RANDOM % 1000))
	head -c "$bytes" /dev/urandom >"$TMP/in"
	rm -f "$TMP/out"
	ip netns exec "$dst_ns" timeout 60 socat -u TCP6-LISTEN:$port,reuseaddr,ipv6only=0 \
		"OPEN:$TMP/out,creat,trunc" &
	local srv=$!
	wait_until 10 listening "$dst_ns" t $port || { kill $srv 2>/dev/null; return 1; }
	ip netns exec "$1" timeout 60 socat -u "OPEN:$TMP/in" "TCP:$addr:$port" || { kill $srv 2>/dev/null; return 1; }
	wait $srv || return 1
	[ "$(sha256sum <"$TMP/in" | cut -d' ' -f1)" = "$(sha256sum <"$TMP/out" | cut -d' ' -f1)" ]
}

# no_marker: send a marker over the tunnel while capturing the underlay; the
# capture must hold our UDP packets and never the marker.
no_marker() {
	local marker="BPFTUN-PLAINTEXT-MARKER-$$"
	# ip netns exec execs timeout, so $! is timeout, which passes the SIGINT
	# below on to tcpdump (through the inB function, it never reached it and
	# every capture ran to its timeout).
	ip netns exec "$TOPO_B" timeout 30 tcpdump -i vb -U -w "$TMP/cap.pcap" udp port $PORT 2>"$TMP/cap.err" &
	local cap=$!
	wait_until 10 grep -q 'listening on' "$TMP/cap.err"
	for i in $(seq 1 200); do printf '%s %s\n' "$marker" "$i"; done >"$TMP/in"
	local port=$((6000 + RANDOM % 1000))
	inB timeout 20 socat -u TCP-LISTEN:$port,reuseaddr "OPEN:$TMP/out,creat,trunc" &
	local srv=$!
	wait_until 10 listening "$TOPO_B" t $port
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

# wg_format: every data message in the last capture is WireGuard's: the first
# word 04 00 00 00 (no flow mark), the plaintext padded to 16 or cut at the
# 1420-byte MTU (UDP payload - 32 header and tag bytes).
wg_format() {
	python3 - "$TMP/cap.pcap" <<'PY'
import struct, sys
d = open(sys.argv[1], "rb").read()
assert struct.unpack("<I", d[:4])[0] == 0xa1b2c3d4 and struct.unpack("<I", d[20:24])[0] == 1
off, n, bad = 24, 0, 0
while off + 16 <= len(d):
    incl = struct.unpack("<I", d[off + 8:off + 12])[0]
    f = d[off + 16:off + 16 + incl]
    off += 16 + incl
    et = f[12:14]
    l4 = 14 + (f[14] & 15) * 4 if et == b"\x08\x00" else 14 + 40
    p = f[l4 + 8:]
    if len(p) < 32 or p[0] != 4:
        continue
    n += 1
    plen = len(p) - 32
    if p[1:4] != b"\0\0\0" or not (plen % 16 == 0 or plen == 1420):
        bad += 1
print("%d data messages, %d not in WireGuard's format" % (n, bad))
sys.exit(0 if n > 10 and bad == 0 else 1)
PY
}

for outer in 4 6; do
	echo "== outer IPv$outer, underlay tx checksum offload off, $ALGO"
	if ! topo_setup $outer "$ALGO"; then
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
	if [ "$ALGO" = wireguard ]; then
		check "outer v$outer: captured data messages: type word 4, padded to 16 (or the MTU)" wg_format
	fi
	for side in a b; do
		for reason in bad_tag replay malformed crypto_error internal; do
			v=$(topo_counter $side "peer0 $reason")
			check "outer v$outer: side $side: $reason drops = ${v:-?} (want 0)" [ "${v:-x}" = 0 ]
		done
		v=$(topo_counter $side "peer0 rx_packets")
		check "outer v$outer: side $side: rx_packets ${v:-?} > 1000" [ "${v:-0}" -gt 1000 ]
	done
	v=$(topo_counter b "peer0 csum_partial")
	check "outer v$outer: no CHECKSUM_PARTIAL packet ever reached the sealer (${v:-?})" [ "${v:-x}" = 0 ]
done

check_summary
