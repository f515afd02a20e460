#!/usr/bin/env bash
# wg_dp_interop.sh - the datapath's WireGuard suite against a real WireGuard
# (wireguard-go, Debian's package): data messages sealed by tc_seal are
# opened by wireguard-go and the other way round, through the attached
# datapath, with keys from a real handshake.
#
#   ns $G                                   ns $B
#   wgd<pid> 10.9.0.1 fd09::1 (wireguard-go) bt0 10.9.0.2 fd09::2 (veth, MTU 1420)
#    |  UDP 51820                           bt0p  tc ingress: tc_seal
#   vg 10.78.0.1  <--------------------->   vb 10.78.0.2  tc ingress: tc_open
#
# tests/wg_dp_handshake (keymgmt/wg_noise.c as the initiator) handshakes with
# wireguard-go from 10.78.0.2:51820, then runs dp_attach --algo wireguard
# with the transport keys; from then on no userspace on our side touches a
# data message. Checks: pings both ways over inner v4 and v6, full-MTU pings
# with DF (WireGuard's padding bound at MTU 1420), TCP copies both ways with
# sha256, wireguard-go's keepalives consumed, a tampered message dropped as
# bad_tag and a replayed one as replay, no other drops, wireguard-go's own
# counters moving.
#
# With "kernel" as third argument the peer is the kernel's WireGuard module
# (`ip link add type wireguard`), for kernels that have it (Debian 13's, in
# the stock-kernel guest; not this project's 6.18).
#
# usage: wg_dp_interop.sh PATH/TO/dp_attach PATH/TO/wg_dp_handshake [go|kernel]
set -u

DP_ATTACH=${1:?usage: wg_dp_interop.sh PATH/TO/dp_attach PATH/TO/wg_dp_handshake [go|kernel]}
HS=${2:?usage: wg_dp_interop.sh PATH/TO/dp_attach PATH/TO/wg_dp_handshake [go|kernel]}
IMPL=${3:-go}
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib/check.sh
. "$HERE/lib/check.sh"
# shellcheck source=lib/wggo.sh
. "$HERE/lib/wggo.sh"
wg_need "$IMPL"
NAME=$(wg_name "$IMPL")

G="wgdg-$$"
B="wgdb-$$"
IF="wgd$$" # /var/run/wireguard is shared by all namespaces: the name carries our pid
PIN="/sys/fs/bpf/wgd-$$"
TMP=$(mktemp -d /tmp/bt-wgd-XXXXXX)

cleanup() {
	wg_stop "$IF"
	ip netns del "$G" 2>/dev/null
	ip netns del "$B" 2>/dev/null
	rm -rf "$PIN" "$TMP"
}
trap cleanup EXIT INT TERM

inG() { ip netns exec "$G" "$@"; }
inB() { ip netns exec "$B" "$@"; }
counter() { "$DP_ATTACH" --show "$PIN" | awk -v n="$1" '$1 " " $2 == n {print $3}'; }

mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf
ip netns add "$G" && ip netns add "$B" || { echo "FAIL: ip netns add"; exit 1; }
ip link add vg netns "$G" type veth peer name vb netns "$B" || { echo "FAIL: veth"; exit 1; }
inG ip link set lo up
inB ip link set lo up
inG ip addr add 10.78.0.1/24 dev vg
inB ip addr add 10.78.0.2/24 dev vb
inG ip link set vg up
inB ip link set vb up
inB ethtool -K vb tx off >/dev/null
inB ip link add bt0 type veth peer name bt0p
inB ip link set bt0 arp off mtu 1420 up
inB ip link set bt0p up
inB ethtool -K bt0 tx off tso off gso off >/dev/null
inB ip addr add 10.9.0.2/24 dev bt0
inB ip addr add fd09::2/64 dev bt0 nodad

(umask 077 && wg genkey >"$TMP/go.key" && wg genkey >"$TMP/us.key")
GO_PUB=$(wg pubkey <"$TMP/go.key")
US_PUB=$(wg pubkey <"$TMP/us.key")
wg_start "$IMPL" "$G" "$IF" "$TMP/go.log"
inG wg set "$IF" private-key "$TMP/go.key" listen-port 51820 \
	peer "$US_PUB" allowed-ips 10.9.0.2/32,fd09::2/128 endpoint 10.78.0.2:51820 &&
	inG ip addr add 10.9.0.1/24 dev "$IF" && inG ip addr add fd09::1/64 dev "$IF" nodad &&
	inG ip link set "$IF" mtu 1420 up ||
	{ echo "FAIL: configuring $IF"; cat "$TMP/go.log"; exit 1; }

mkdir -p "$PIN"
MAC_G=$(inG cat /sys/class/net/vg/address)
# nsenter --net keeps this mount namespace: the pins stay reachable
nsenter --net="/run/netns/$B" "$HS" --key-file "$TMP/us.key" --peer-pub "$GO_PUB" \
	--bind 10.78.0.2:51820 --peer 10.78.0.1:51820 -- "$DP_ATTACH" --algo wireguard \
	--tun bt0 --hidden bt0p --underlay vb --port 51820 --local 10.78.0.2 --remote 10.78.0.1 \
	--remote-mac "$MAC_G" --pin "$PIN" --allowed 10.9.0.1/32 --allowed fd09::1/128 \
	>"$TMP/hs.out" 2>&1
rc=$?
cat "$TMP/hs.out"
check "handshake with $NAME (wg_noise, we initiate), datapath keyed with its transport keys" \
	[ $rc = 0 ]
LOCAL_INDEX=$(awk '/local index/ {print $5}' "$TMP/hs.out" | tr -d ,)

# The first data message must be ours (wireguard-go, the responder, sends
# only after it has received one, and records the handshake then).
check "inner IPv4 ping: tc_seal -> $NAME, its reply -> tc_open" \
	inB ping -c 3 -i 0.2 -W 3 10.9.0.1
check "$NAME records the handshake (confirmed by our first data message)" \
	sh -c "ip netns exec $G wg show $IF latest-handshakes | awk '\$2 > 0 {f=1} END {exit !f}'"
check "inner IPv6 ping through $NAME" inB ping -6 -c 3 -i 0.2 -W 3 fd09::1
check "$NAME pings us (inner IPv4): its data opened by tc_open, ours back" \
	inG ping -c 3 -i 0.2 -W 3 10.9.0.2
check "full-MTU ping from us (1420 B, DF): padding bounded by the MTU" \
	inB ping -c 2 -W 3 -M do -s 1392 10.9.0.1
check "full-MTU ping from $NAME (1420 B, DF)" inG ping -c 2 -W 3 -M do -s 1392 10.9.0.2
for s in 1 15 16 17 100 1000; do
	inB ping -c 1 -W 3 -s "$s" 10.9.0.1 >/dev/null || { echo "  ping -s $s failed"; touch "$TMP/sizes.bad"; }
done
check "pings with payloads 1, 15, 16, 17, 100, 1000 B (every padding case)" test ! -e "$TMP/sizes.bad"

tcp_copy() { # SRC_NS DST_NS DST_ADDR BYTES
	local port=$((5000 + RANDOM % 1000))
	head -c "$4" /dev/urandom >"$TMP/in"
	rm -f "$TMP/out"
	ip netns exec "$2" timeout 60 socat -u TCP6-LISTEN:$port,reuseaddr,ipv6only=0 \
		"OPEN:$TMP/out,creat,trunc" &
	local srv=$!
	wait_until 10 listening "$2" t $port || { kill $srv 2>/dev/null; return 1; }
	ip netns exec "$1" timeout 60 socat -u "OPEN:$TMP/in" "TCP:$3:$port" || { kill $srv 2>/dev/null; return 1; }
	wait $srv || return 1
	[ "$(sha256sum <"$TMP/in" | cut -d' ' -f1)" = "$(sha256sum <"$TMP/out" | cut -d' ' -f1)" ]
}
check "8 MB TCP from us to $NAME (inner IPv4), sha256 matches" tcp_copy "$B" "$G" 10.9.0.1 8000000
check "8 MB TCP from $NAME to us (inner IPv6), sha256 matches" tcp_copy "$G" "$B" "[fd09::2]" 8000000

# wireguard-go's keepalives (every second) are consumed: rx_packets grows
# while nothing else is sent
inG wg set "$IF" peer "$US_PUB" persistent-keepalive 1
rx0=$(counter "peer0 rx_packets")
sleep 3.5
rx1=$(counter "peer0 rx_packets")
check "$NAME's keepalives are opened and counted (rx_packets $rx0 -> $rx1)" \
	[ "${rx1:-0}" -ge $((${rx0:-0} + 2)) ]
inG wg set "$IF" peer "$US_PUB" persistent-keepalive 0

# forged: a data message to our index with a random body (tag cannot match),
# and a replay of a real one captured on the underlay
send_udp() { # NS HEXPAYLOAD
	ip netns exec "$1" python3 -c "
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(('10.78.0.1', 40000))
s.sendto(bytes.fromhex(sys.argv[1]), ('10.78.0.2', 51820))" "$2"
}
bad0=$(counter "peer0 bad_tag")
IDX_LE=$(printf '%s' "$LOCAL_INDEX" | sed 's/\(..\)\(..\)\(..\)\(..\)/\4\3\2\1/')
BODY=$(head -c 64 /dev/urandom | od -An -tx1 | tr -d ' \n')
send_udp "$G" "04000000${IDX_LE}ffffff0000000000${BODY}"
sleep 0.3
bad1=$(counter "peer0 bad_tag")
check "a forged data message to our index is dropped as bad_tag ($bad0 -> $bad1)" \
	[ "${bad1:-0}" = $((${bad0:-0} + 1)) ]

inB timeout 20 tcpdump -i vb -U -c 1 -w "$TMP/one.pcap" "udp and src host 10.78.0.1 and udp[8] = 4 and greater 100" \
	2>"$TMP/cap.err" &
CAP=$!
wait_until 10 grep -q 'listening on' "$TMP/cap.err"
inG ping -c 1 -W 3 10.9.0.2 >/dev/null
wait $CAP
REPLAY=$(python3 -c "
import struct, sys
d = open(sys.argv[1], 'rb').read()
f = d[40:40 + struct.unpack('<I', d[32:36])[0]]
l4 = 14 + (f[14] & 15) * 4
print(f[l4 + 8:].hex())" "$TMP/one.pcap" 2>/dev/null)
rp0=$(counter "peer0 replay")
[ -n "$REPLAY" ] && send_udp "$G" "$REPLAY"
sleep 0.3
rp1=$(counter "peer0 replay")
check "a captured $NAME data message sent again is dropped as replay ($rp0 -> $rp1)" \
	[ -n "$REPLAY" ] && [ "${rp1:-0}" = $((${rp0:-0} + 1)) ]

for reason in malformed not_allowed_ip no_sa crypto_error internal too_big; do
	v=$(counter "peer0 $reason")
	check "no $reason drops (${v:-?})" [ "${v:-x}" = 0 ]
done
v=$(counter "peer0 rx_packets")
check "rx_packets ${v:-?} > 1000" [ "${v:-0}" -gt 1000 ]
check "$NAME counts bytes both ways" \
	sh -c "ip netns exec $G wg show $IF transfer | awk '\$2 > 1000000 && \$3 > 1000000 {f=1} END {exit !f}'"

check_summary
