#!/usr/bin/env bash
# wg_interop.sh - keymgmt/wg_noise.c against a real WireGuard: wireguard-go
# (Debian's package) configured with `wg set`, in a network namespace of its
# own, talking UDP over the namespace's loopback to tests/wg_interop.c.
#
# Each run proves the handshake and both transport keys: an ICMP echo goes
# through wireguard-go's TUN and back inside data messages (type 4) that one
# side seals and the other opens.
#   1-2  wg_interop initiates (message 1 from us), without and with a psk;
#   3-4  wireguard-go initiates (a ping into its TUN), without and with a psk;
#   5    a psk that differs from wireguard-go's: the handshake must fail;
#   6    wireguard-go under load (a burst of initiations): its cookie reply
#        opens (XChaCha20-Poly1305), a wrong cookie in mac2 gets another cookie
#        reply, the right one gets message 2, and the echo goes through;
#   7    we are under load: our cookie reply to wireguard-go's initiation opens
#        there, its retry (5 s later) carries mac2 with our cookie.
# Runs 1-4 go twice: data messages sealed/opened by libsodium, then by the BPF
# ChaCha20-Poly1305 (bpf/lib/wg_aead.h run with BPF_PROG_TEST_RUN).
#
# With "kernel" as second argument, the peer is the kernel's WireGuard module
# instead (`ip link add type wireguard`, same `wg set`), for kernels that have
# it (Debian 13's, e.g. through scripts/test-vm.sh; not this project's 6.18).
#
# usage: wg_interop.sh PATH/TO/wg_interop [go|kernel]
set -u

TOOL=${1:?usage: wg_interop.sh PATH/TO/wg_interop [go|kernel]}
IMPL=${2:-go}
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib/check.sh
. "$HERE/lib/check.sh"
# shellcheck source=lib/wggo.sh
. "$HERE/lib/wggo.sh"
wg_need "$IMPL"
NAME=$(wg_name "$IMPL")

NS="wgi-$$"
IF="wgi$$" # /var/run/wireguard is shared by all namespaces: the name carries our pid
TMP=$(mktemp -d /tmp/bt-wgi-XXXXXX)

cleanup() {
	wg_stop "$IF"
	ip netns del "$NS" 2>/dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT INT TERM

inNS() { ip netns exec "$NS" "$@"; }

ip netns add "$NS" || { echo "FAIL: ip netns add $NS"; exit 1; }
inNS ip link set lo up
(umask 077 && wg genkey >"$TMP/go.key" && wg genkey >"$TMP/us.key" &&
	wg genpsk >"$TMP/psk" && wg genpsk >"$TMP/other.psk")
GO_PUB=$(wg pubkey <"$TMP/go.key")
US_PUB=$(wg pubkey <"$TMP/us.key")

wg_start "$IMPL" "$NS" "$IF" "$TMP/go.log"
inNS wg set "$IF" private-key "$TMP/go.key" listen-port 51820 &&
	inNS ip addr add 10.9.0.1/24 dev "$IF" && inNS ip link set "$IF" mtu 1420 up ||
	{ echo "FAIL: configuring $IF"; cat "$TMP/go.log"; exit 1; }

# peer_reset [PSK_FILE] [ENDPOINT]: a fresh peer entry, so no session survives
peer_reset() {
	inNS wg set "$IF" peer "$US_PUB" remove
	local args=(peer "$US_PUB" allowed-ips 10.9.0.2/32)
	[ -n "${1:-}" ] && args+=(preshared-key "$1")
	[ -n "${2:-}" ] && args+=(endpoint "$2")
	inNS wg set "$IF" "${args[@]}"
}

# we_initiate AEAD [PSK_FILE [EXTRA]]
we_initiate() {
	local psk=()
	[ -n "${2:-}" ] && psk=(--psk-file "$2")
	inNS timeout 30 "$TOOL" initiate --key-file "$TMP/us.key" "${psk[@]}" --peer-pub "$GO_PUB" \
		--listen 51821 --peer 127.0.0.1:51820 --aead "$1" ${3:-} || return 1
	# wireguard-go's own view: a handshake with our key, bytes both ways
	inNS wg show "$IF" latest-handshakes | awk -v k="$US_PUB" '$1 == k && $2 > 0 {f=1} END {exit !f}' &&
		inNS wg show "$IF" transfer | awk -v k="$US_PUB" '$1 == k && $2 > 0 && $3 > 0 {f=1} END {exit !f}'
}

# they_initiate AEAD [PSK_FILE [EXTRA]]: wireguard-go initiates for a ping into its TUN
they_initiate() {
	local psk=() tool rc=0
	[ -n "${2:-}" ] && psk=(--psk-file "$2")
	inNS timeout 40 "$TOOL" respond --key-file "$TMP/us.key" "${psk[@]}" --peer-pub "$GO_PUB" \
		--listen 51821 --peer 127.0.0.1:51820 --aead "$1" ${3:-} >"$TMP/respond.log" 2>&1 &
	tool=$!
	# wait (bounded) until the tool listens: an initiation sent earlier is
	# lost and wireguard-go retries only after 5 s
	for _ in $(seq 1 100); do
		grep -q "listening on UDP" "$TMP/respond.log" && break
		sleep 0.1
	done
	inNS ping -c 1 -W 20 10.9.0.2 || rc=1
	wait "$tool" || rc=1
	cat "$TMP/respond.log"
	return $rc
}

for aead in sodium bpf; do
	peer_reset
	check "1 ($aead): we initiate, no psk: handshake, echo through the peer's device, reply opened" \
		we_initiate $aead
	peer_reset "$TMP/psk"
	check "2 ($aead): we initiate, psk: handshake, echo through the peer's device, reply opened" \
		we_initiate $aead "$TMP/psk"
	peer_reset "" 127.0.0.1:51821
	check "3 ($aead): $NAME initiates, no psk: its ping is answered through our keys" \
		they_initiate $aead
	peer_reset "$TMP/psk" 127.0.0.1:51821
	check "4 ($aead): $NAME initiates, psk: its ping is answered through our keys" \
		they_initiate $aead "$TMP/psk"
done
peer_reset "$TMP/psk"
# psk_mismatch: the tool must fail, and for the right reason
psk_mismatch() {
	local out
	if out=$(inNS timeout 30 "$TOOL" initiate --key-file "$TMP/us.key" --psk-file "$TMP/other.psk" \
		--peer-pub "$GO_PUB" --listen 51821 --peer 127.0.0.1:51820 2>&1); then
		echo "$out"; echo "the handshake succeeded with the wrong psk"; return 1
	fi
	echo "$out"
	grep -q "message 2 is refused: Bad message" <<<"$out"
}
check "5: a psk other than the peer's: our side refuses its message 2 (bad AEAD tag)" psk_mismatch

peer_reset "$TMP/psk"
check "6: $NAME under load: cookie reply opened, wrong mac2 refused, right mac2 answered, echo" \
	we_initiate bpf "$TMP/psk" --under-load
peer_reset "" 127.0.0.1:51821
check "7: we are under load: $NAME opens our cookie reply, its retry's mac2 uses our cookie" \
	they_initiate bpf "" --send-cookie

check_summary || { echo "---- $NAME log (tail) ----"; tail -n 30 "$TMP/go.log"; exit 1; }
