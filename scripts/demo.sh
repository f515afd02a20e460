#!/usr/bin/env bash
# demo.sh - README's first command: build if needed, then walk through a
# bpftun tunnel between two network namespaces, step by step, the way you
# would set one up between two hosts.
#
# The demo runs the AES suite on the kernel's bpf_crypto (Protocol = bpftun),
# the one this project is named for. Environment: PROTOCOL=wireguard for the
# default suite (WireGuard's, ChaCha20-Poly1305 in BPF, which talks to
# WireGuard peers); CIPHER=aes-generic for the faster, table-based AES;
# REBUILD=1 to rebuild first.
set -uo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
if [ "$(id -u)" -ne 0 ]; then
	echo "demo.sh: run as root (it loads BPF programs and creates namespaces)" >&2
	exit 1
fi
PROTOCOL=${PROTOCOL:-bpftun}
CIPHER=${CIPHER:-aes-fixed-time}
case $PROTOCOL in
bpftun) SUITE="Protocol = bpftun
Cipher = $CIPHER" ;;
wireguard) SUITE="Protocol = wireguard"; CIPHER=chacha20-poly1305 ;;
*) echo "demo.sh: PROTOCOL='$PROTOCOL': want bpftun or wireguard" >&2; exit 1 ;;
esac
BT=$top/build/tunnel/bpftun
A="bt-demo-a-$$"
B="bt-demo-b-$$"
TMP=$(mktemp -d /tmp/bt-demo-XXXXXX)

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '\033[2m$ %s\033[0m\n' "$*"; "$@"; }
inA() { ip netns exec "$A" "$@"; }
inB() { ip netns exec "$B" "$@"; }

# shellcheck source=lib/netns.sh
. "$top/scripts/lib/netns.sh"
cleanup() {
	ns_remove "$A" "$B"
	rm -rf "$TMP"
	return 0
}
trap cleanup EXIT INT TERM

if [ ! -x "$BT" ] || [ "${REBUILD:-0}" = 1 ]; then
	step "Building (scripts/build.sh: apt dependencies, cmake, clang-19 for the BPF programs)"
	bash "$top/scripts/build.sh" || exit 1
fi

step "1. Two hosts: network namespaces $A and $B, joined by a veth 'wire'"
run ip netns add "$A"
run ip netns add "$B"
run ip link add va netns "$A" type veth peer name vb netns "$B"
run ip -n "$A" addr add 10.77.0.1/24 dev va
run ip -n "$B" addr add 10.77.0.2/24 dev vb
for ns in "$A" "$B"; do ip -n "$ns" link set lo up; done
run ip -n "$A" link set va up
run ip -n "$B" link set vb up

step "2. Keys: each side makes a private key and tells the other its public key"
(umask 077 && "$BT" genkey >"$TMP/a.key" && "$BT" genkey >"$TMP/b.key")
run sh -c "bpftun pubkey < a.key  # -> $("$BT" pubkey <"$TMP/a.key")"
run sh -c "bpftun pubkey < b.key  # -> $("$BT" pubkey <"$TMP/b.key")"
mkdir -p "$TMP/a" "$TMP/b"
(umask 077
cat >"$TMP/a/bt0.conf" <<EOF
[Interface]
PrivateKey = $(cat "$TMP/a.key")
ListenPort = 51820
Address = 10.9.0.1/24, fd09::1/64
$SUITE

[Peer]
PublicKey = $("$BT" pubkey <"$TMP/b.key")
Endpoint = 10.77.0.2:51820
AllowedIPs = 10.9.0.2/32, fd09::2/128
EOF
cat >"$TMP/b/bt0.conf" <<EOF
[Interface]
PrivateKey = $(cat "$TMP/b.key")
ListenPort = 51820
Address = 10.9.0.2/24, fd09::2/64
$SUITE

[Peer]
PublicKey = $("$BT" pubkey <"$TMP/a.key")
Endpoint = 10.77.0.1:51820
AllowedIPs = 10.9.0.1/32, fd09::1/128
EOF
)
echo "A's bt0.conf (mode 600; the private key is elided here):"
sed 's/^PrivateKey = .*/PrivateKey = (hidden)/' "$TMP/a/bt0.conf" | sed 's/^/    /'

step "3. bpftun up on each host: device, addresses, routes, BPF programs, key manager"
run inA "$BT" up "$TMP/a/bt0.conf" || exit 1
run inB "$BT" up "$TMP/b/bt0.conf" || exit 1
echo "The tunnel device is a veth pair: bt0 (yours) and bt0-s (the sealer's side):"
run inA ip -br link show type veth
run inA tc filter show dev bt0-s ingress
run inA tc filter show dev va ingress
for _ in $(seq 1 50); do
	inA "$BT" show bt0 --json | grep -q '"latest_handshake":0' || break
	sleep 0.1
done

step "4. Ping through the tunnel (IPv4, then IPv6 inside)"
run inA ping -c 3 -i 0.2 10.9.0.2
run inA ping -6 -c 3 -i 0.2 fd09::2

step "5. A 20 MB file over TCP; the sha256 on both ends must match"
head -c 20000000 /dev/urandom >"$TMP/file"
inB timeout 60 socat -u TCP-LISTEN:7000,reuseaddr "OPEN:$TMP/recv,creat,trunc" &
srv=$!
sleep 0.3
inA timeout 60 socat -u "OPEN:$TMP/file" TCP:10.9.0.2:7000
wait $srv
(cd "$TMP" && sha256sum file recv)
if cmp -s "$TMP/file" "$TMP/recv"; then echo "   match"; else echo "   MISMATCH"; exit 1; fi

step "6. iperf3 for 5 seconds through the tunnel (cipher: $CIPHER)"
inB iperf3 -s -1 -B 10.9.0.2 >/dev/null 2>&1 &
sleep 0.5
run inA iperf3 -c 10.9.0.2 -t 5 -f m

step "7. What the wire sees: capture on B's underlay while A pings with a known payload"
inB timeout 10 tcpdump -ni vb -U -c 4 -w "$TMP/cap.pcap" udp port 51820 2>/dev/null &
cap=$!
sleep 1
inA ping -c 3 -i 0.2 -p "$(printf 'SECRET-MARKER' | od -An -tx1 | tr -d ' \n' | head -c 32)" 10.9.0.2 >/dev/null
wait $cap
run tcpdump -nr "$TMP/cap.pcap" -c 2 -X 2>/dev/null | head -16
if grep -aq "SECRET-M" "$TMP/cap.pcap"; then echo "   PLAINTEXT ON THE WIRE"; exit 1; fi
echo "   'SECRET-M...' is nowhere in the capture: UDP 51820, message type 4, ciphertext + tag"

step "8. State and counters, the way wg show prints them (add --json for scripts)"
run inA "$BT" show

step "9. A forced rekey: new keys, nothing lost"
run inA "$BT" rekey bt0
run inA ping -c 2 -i 0.2 10.9.0.2

step "10. bpftun down: device, filters, qdiscs, key manager and pins are gone"
run inA "$BT" down bt0
run inB "$BT" down bt0
run inA ip -br link
run inA tc qdisc show dev va
echo
echo "Done. Everything the demo created is removed on exit."
