#!/usr/bin/env bash
# netns_wg_interop.sh - bpftun, with a wg-quick config file as it is (the
# default Protocol = wireguard), against wireguard-go
# (Debian's package, configured with wg(8)), or against the kernel's
# WireGuard module (`kernel`: where it exists, Debian 13's 6.12 in the
# stock-kernel guest, tests/vm_lane.sh), through the real datapath and key
# manager: two namespaces joined by a veth pair, `bpftun up` in B, the
# WireGuard peer in G.
#
#   0. B with Protocol = bpftun: its log names the peer's initiations as
#      the other Protocol's, and no session starts.
#   1. the WireGuard peer initiates (B has no Endpoint): handshake, ping over inner
#      IPv4 and IPv6 both ways.
#   2. bpftun initiates (G has no endpoint for B): handshake, pings, a TCP
#      copy each way with matching sha256.
#   3. three forced rekeys (SIGUSR1 to B's key manager): each is a new
#      handshake on both sides (B's log, wg's latest-handshake), traffic
#      flows after each, no bad_tag/replay on B.
#   4. `bpftun show bt0 dump` against `wg show IF dump`: keys crosswise, psk
#      (none), endpoints, allowed-ips, latest-handshake within 2 s,
#      transfer in the same direction consistent, persistent keepalive.
#   5. a tampered packet (one bit of a data message flipped on G's egress)
#      is dropped by B and counted as bad_tag; traffic resumes after.
#   6. roaming: G moves to another address and port; B's endpoint follows
#      G's authentic data, and B's own traffic reaches G there.
#
# usage: netns_wg_interop.sh BUILD_DIR [go|kernel]
set -u
BUILD=$(cd "${1:?usage: netns_wg_interop.sh BUILD_DIR [go|kernel]}" && pwd)
IMPL=${2:-go}
case $IMPL in
go) PEER=wireguard-go; SIZE=8M ;;
kernel) PEER="kernel WireGuard"; SIZE=4M ;; # the guest runs under TCG: slower
*) echo "FAIL: peer '$IMPL': want go or kernel"; exit 1 ;;
esac
BT=$BUILD/tunnel/bpftun
TT=$BUILD/tests/bt_testtool
B="bt-wb-$$"
G="bt-wg-$$"
WIF="wgi$$" # /var/run/wireguard is shared by all namespaces: the name carries our pid
TMP=$(mktemp -d /tmp/bt-wgi-XXXXXX)
chmod 755 "$TMP"
PORT=51841 # B's ListenPort
GPORT=51842
GPORT2=51843
# shellcheck source=../scripts/lib/netns.sh
. "$(dirname "$0")/../scripts/lib/netns.sh"
# shellcheck source=lib/wggo.sh
. "$(dirname "$0")/lib/wggo.sh"
cleanup() {
	wg_stop "$WIF"
	ip netns exec "$B" "$BT" down bt0 >/dev/null 2>&1
	ns_remove "$B" "$G"
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 143' INT TERM
# shellcheck source=lib/check.sh
. "$(dirname "$0")/lib/check.sh"
inB() { ip netns exec "$B" "$@"; }
inG() { ip netns exec "$G" "$@"; }

wg_need "$IMPL" socat

wg_hosts "$BT" "$TMP" || { echo "FAIL: setting up namespaces $B and $G"; exit 1; }
# conf [ENDPOINT]: B's config, a wg-quick file as it is (no Protocol line:
# wireguard is the default)
conf() {
	(umask 077 && {
		printf '[Interface]\nPrivateKey = %s\nListenPort = %s\nAddress = 10.9.7.1/24, fd09:7::1/64\n\n' "$KB" "$PORT"
		printf '[Peer]\nPublicKey = %s\nAllowedIPs = 10.9.7.2/32, fd09:7::2/128\nPersistentKeepalive = 25\n' "$PG"
		[ -n "${1:-}" ] && printf 'Endpoint = %s\n' "$1"
	} >"$TMP/b/bt0.conf")
}

# the WireGuard peer in G
[ "$IMPL" = kernel ] && modprobe wireguard
wg_start "$IMPL" "$G" "$WIF" "$TMP/go.log"
inG wg set "$WIF" private-key "$TMP/g.key" listen-port $GPORT &&
	inG ip addr add 10.9.7.2/24 dev "$WIF" && inG ip -6 addr add fd09:7::2/64 dev "$WIF" &&
	inG ip link set "$WIF" mtu 1420 up || { echo "FAIL: configuring $WIF"; exit 1; }
# g_peer [ENDPOINT]: G's peer entry for B, fresh (no session survives)
g_peer() {
	inG wg set "$WIF" peer "$PB" remove
	local args=(peer "$PB" allowed-ips 10.9.7.1/32,fd09:7::1/128)
	[ -n "${1:-}" ] && args+=(endpoint "$1")
	inG wg set "$WIF" "${args[@]}"
}
g_handshake() { inG wg show "$WIF" latest-handshakes | awk -v k="$PB" '$1 == k {print $2}'; }
g_handshook() { [ "$(g_handshake)" -gt "${1:-0}" ] 2>/dev/null; } # wg's latest-handshake > $1
km_log() { cat /run/bpftun/"$(inB stat -Lc %i /proc/self/ns/net)"-bt0.log 2>/dev/null; }
km_has() { km_log | grep -q "$1"; }
sessions() { km_log | grep -c "new session in slot"; }
more_sessions() { [ "$(sessions)" -gt "$1" ]; }
drop() { inB "$BT" show bt0 --json | python3 -c "import json,sys; d=json.load(sys.stdin)['interfaces'][0]['peers'][0]['drops']; print(sum(d[k] for k in sys.argv[1:]))" "$@"; }
drops_at_least() { [ "$(drop "$1")" -ge "$2" ]; }
km_pid() { inB "$BT" show bt0 --json | python3 -c "import json,sys; print(json.load(sys.stdin)['interfaces'][0]['keymgmt_pid'])"; }
pings() { # NS DST...: one ping to each, all must answer
	local ns=$1 d
	shift
	for d in "$@"; do ip netns exec "$ns" ping -c 1 -W 2 "$d" >/dev/null || { echo "no answer from $d in $ns"; return 1; }; done
}

# --- 0. B's Protocol = bpftun: the WireGuard peer's initiations are named
# the other Protocol's in B's log, and no session starts
conf
sed -i 's/^\[Interface\]$/[Interface]\nProtocol = bpftun/' "$TMP/b/bt0.conf"
g_peer "10.79.0.1:$PORT"
check "0: bpftun up with Protocol = bpftun" inB "$BT" up "$TMP/b/bt0.conf"
check "0: show: 'protocol: bpftun', 'cipher: aes-fixed-time'" \
	eval 'inB "$BT" show bt0 | grep -qx "  protocol: bpftun" && inB "$BT" show bt0 | grep -qx "  cipher: aes-fixed-time"'
inG ping -c 1 -W 2 10.9.7.1 >/dev/null # a packet queued: the peer initiates
check "0: B's log names the mismatch (a handshake message of Protocol = wireguard)" \
	wait_until 10 km_has "a handshake message of Protocol = wireguard, but interface 'bt0' speaks Protocol = bpftun"
check "0: no session" eval '! km_has "new session in slot" && ! g_handshook'
inB "$BT" down bt0

# --- 1. the WireGuard peer initiates
conf
g_peer "10.79.0.1:$PORT"
check "1: bpftun up (a wg-quick file: no Protocol line, no Endpoint)" inB "$BT" up "$TMP/b/bt0.conf"
check "1: the key manager speaks wireguard" wait_until 5 km_has "protocol wireguard"
suite() { inB "$BT" show bt0 --json | python3 -c "import json,sys; i=json.load(sys.stdin)['interfaces'][0]; print(i['protocol'], i['cipher'])"; }
check "1: show --json: protocol wireguard, cipher chacha20-poly1305" test "$(suite)" = "wireguard chacha20-poly1305"
check "1: show: 'protocol: wireguard'" eval 'inB "$BT" show bt0 | grep -qx "  protocol: wireguard"'
check "1: $PEER initiates; its ping over inner IPv4 is answered" wait_until 15 inG ping -c 1 -W 1 10.9.7.1
check "1: $PEER sees the handshake" g_handshook
check "1: B was the responder (its log)" km_has "responder, switching"
check "1: pings over inner IPv4 and IPv6, both ways" pings "$G" 10.9.7.1 fd09:7::1
check "1: ... and from B" pings "$B" 10.9.7.2 fd09:7::2
inB "$BT" down bt0

# --- 2. bpftun initiates
g_peer
conf "10.79.0.2:$GPORT"
check "2: bpftun up with G's Endpoint" inB "$BT" up "$TMP/b/bt0.conf"
check "2: bpftun initiates: $PEER shows a handshake" wait_until 10 g_handshook
check "2: B was the initiator (its log)" km_has "initiator, sending on it"
check "2: pings over inner IPv4 and IPv6, both ways" pings "$B" 10.9.7.2 fd09:7::2
check "2: ... and from G" pings "$G" 10.9.7.1 fd09:7::1
head -c "$SIZE" /dev/urandom >"$TMP/data"
want=$(sha256sum <"$TMP/data" | cut -d' ' -f1)
tcp_copy() { # FROM_NS TO_NS 4|6 TO_ADDR: $SIZE over TCP, sha256 compared
	rm -f "$TMP/got"
	ip netns exec "$2" timeout 40 socat -u TCP$3-LISTEN:5001,reuseaddr,bind="$4" OPEN:"$TMP/got",creat,trunc &
	local srv=$!
	wait_until 5 listening "$2" t 5001 || { kill $srv; echo "no listener"; return 1; }
	ip netns exec "$1" timeout 40 socat -u OPEN:"$TMP/data" TCP$3:"$4":5001 || { kill $srv; echo "copy failed"; return 1; }
	wait $srv
	[ "$(sha256sum <"$TMP/got" | cut -d' ' -f1)" = "$want" ] || { echo "sha256 differs"; return 1; }
}
check "2: $SIZE TCP over inner IPv4 B -> G ($PEER opens), sha256 matches" tcp_copy "$B" "$G" 4 10.9.7.2
check "2: $SIZE TCP over inner IPv6 G -> B (B opens), sha256 matches" tcp_copy "$G" "$B" 6 "[fd09:7::1]"

# --- 3. three forced rekeys from our side
for k in 1 2 3; do
	n0=$(sessions); h0=$(g_handshake)
	sleep 1.1 # wg's latest-handshake has 1 s resolution
	kill -USR1 "$(km_pid)"
	check "3: rekey $k: a new session on B" wait_until 10 more_sessions "$n0"
	check "3: rekey $k: a newer handshake on $PEER" wait_until 5 g_handshook "$h0"
	check "3: rekey $k: pings both ways under the new keys" pings "$B" 10.9.7.2 fd09:7::2
	check "3: rekey $k: ... and from G" pings "$G" 10.9.7.1
done
check "3: no bad_tag or replay drops on B after the rekeys" test "$(drop bad_tag replay)" = 0

# --- 4. show dump against wg show dump
inB ping -c 2 -i 0.2 -W 2 10.9.7.2 >/dev/null
inB "$BT" show bt0 dump >"$TMP/bd"
inG wg show "$WIF" dump >"$TMP/gd"
dump_cmp() {
	local bi bp gi gp
	bi=$(sed -n 1p "$TMP/bd"); bp=$(sed -n 2p "$TMP/bd"); gi=$(sed -n 1p "$TMP/gd"); gp=$(sed -n 2p "$TMP/gd")
	echo "bpftun: $bi"; echo "        $bp"; echo "wg:     $gi"; echo "        $gp"
	f() { cut -f"$2" <<<"$1"; }
	[ "$(f "$bi" 2)" = "$(f "$gp" 1)" ] || { echo "our public key is not wg's peer key"; return 1; }
	[ "$(f "$bp" 1)" = "$(f "$gi" 2)" ] || { echo "our peer key is not wg's public key"; return 1; }
	[ "$(f "$bi" 3)" = "$PORT" ] && [ "$(f "$gi" 3)" = "$GPORT" ] || { echo "listen ports"; return 1; }
	[ "$(f "$bi" 4)" = off ] && [ "$(f "$gi" 4)" = off ] || { echo "fwmark"; return 1; }
	[ "$(f "$bp" 2)" = "(none)" ] && [ "$(f "$gp" 2)" = "(none)" ] || { echo "psk"; return 1; }
	[ "$(f "$bp" 3)" = "10.79.0.2:$GPORT" ] && [ "$(f "$gp" 3)" = "10.79.0.1:$PORT" ] || { echo "endpoints"; return 1; }
	[ "$(f "$bp" 4)" = "10.9.7.2/32,fd09:7::2/128" ] && [ "$(f "$gp" 4)" = "10.9.7.1/32,fd09:7::1/128" ] || { echo "allowed-ips"; return 1; }
	local d=$(($(f "$bp" 5) - $(f "$gp" 5)))
	[ "$(f "$bp" 5)" -gt 0 ] && [ ${d#-} -le 2 ] || { echo "latest-handshake differs by $d s"; return 1; }
	# transfer: ours counts inner bytes, wg whole messages (header, padding,
	# tag, handshakes), and what one side sent the other may not have
	# received (TCP retransmits what the path lost): in each direction,
	# received <= sent (+ 5% and 64 kB: wg's overhead on our inner bytes)
	local our_rx our_tx g_rx g_tx
	our_rx=$(f "$bp" 6); our_tx=$(f "$bp" 7); g_rx=$(f "$gp" 6); g_tx=$(f "$gp" 7)
	[ "$our_rx" -gt "$(stat -c %s "$TMP/data")" ] && [ "$our_rx" -le "$g_tx" ] || { echo "B rx $our_rx vs G tx $g_tx"; return 1; }
	[ "$g_rx" -gt "$(stat -c %s "$TMP/data")" ] && [ "$g_rx" -le $((our_tx * 105 / 100 + 65536)) ] || { echo "G rx $g_rx vs B tx $our_tx"; return 1; }
	[ "$(f "$bp" 8)" = 25 ] && [ "$(f "$gp" 8)" = off ] || { echo "persistent keepalive"; return 1; }
}
check "4: show dump matches wg show dump field for field (keys, psk, endpoints, allowed-ips, handshake, transfer, keepalive)" dump_cmp

# --- 5. a tampered data message: dropped by B as bad_tag
bt0=$(drop bad_tag)
check "5: flip one bit at byte 40 of every UDP payload G sends to B's port" inG "$TT" flip vg "$PORT" 40
check "5: G's ping through the flipped path is not answered" bash -c "! ip netns exec $G ping -c 2 -i 0.3 -W 1 10.9.7.1"
inG "$TT" unflip vg
check "5: B counted the tampered messages as bad_tag (>= 2 more)" drops_at_least bad_tag $((bt0 + 2))
check "5: traffic resumes once the path is clean" wait_until 5 inG ping -c 1 -W 1 10.9.7.1

# --- 6. roaming: G moves to 10.79.0.3 and port $GPORT2
inG ip addr del 10.79.0.2/24 dev vg
inG ip addr add 10.79.0.3/24 dev vg
inG wg set "$WIF" listen-port $GPORT2
check "6: G, from its new address and port, reaches B" wait_until 10 inG ping -c 1 -W 1 10.9.7.1
ep_is() { [ "$(inB "$BT" show bt0 dump | sed -n 2p | cut -f3)" = "$1" ]; }
check "6: B's endpoint for G follows it to 10.79.0.3:$GPORT2" wait_until 5 ep_is "10.79.0.3:$GPORT2"
check "6: B's own traffic reaches G at its new address (IPv4 and IPv6)" pings "$B" 10.9.7.2 fd09:7::2

check "down" inB "$BT" down bt0
check_summary || { echo "---- B's key manager log (tail) ----"; km_log | tail -n 30; [ "$IMPL" = go ] && { echo "---- wireguard-go log (tail) ----"; tail -n 20 "$TMP/go.log"; }; exit 1; }
