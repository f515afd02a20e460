#!/usr/bin/env bash
# netns_live.sh - live peer changes: `bpftun set`, `syncconf`, `addconf`.
# A hub H with two peers P1 and P2, each over its own veth pair. While
# iperf3 sends UDP at a fixed 4 Mb/s from H to P1, peer 2 is added, changed
# (allowed-ips, endpoint), removed and added again through set, syncconf and
# addconf. Checked: P1's stream loses nothing, P1's SAs (receiver indexes on
# both sides) are the same before and after, its counters only grow and its
# drops do not; P2 works while configured and not after its removal (its SAs
# gone from the maps); bad input is refused, naming it, with the hub
# unchanged (peers, AllowedIPs, routes). Also with no key manager running
# (bpftun applies the change itself), and a key manager restarted after live
# changes keeps the running peers.
#
# usage: netns_live.sh BUILD_DIR
set -u
BUILD=$(cd "${1:?usage: netns_live.sh BUILD_DIR}" && pwd)
BT=$BUILD/tunnel/bpftun
SAS=$BUILD/tests/live_sas
H="bt-lh-$$"
P1="bt-l1-$$"
P2="bt-l2-$$"
TMP=$(mktemp -d /tmp/bt-live-XXXXXX)
chmod 755 "$TMP"
PORT=51840
IPERF=''
# shellcheck source=../scripts/lib/netns.sh
. "$(dirname "$0")/../scripts/lib/netns.sh"
trap '[ -n "$IPERF" ] && kill "$IPERF" 2>/dev/null; ns_remove "$H" "$P1" "$P2"; rm -rf "$TMP"' EXIT
trap 'exit 143' INT TERM
# shellcheck source=lib/check.sh
. "$(dirname "$0")/lib/check.sh"
inH() { ip netns exec "$H" "$@"; }
in1() { ip netns exec "$P1" "$@"; }
in2() { ip netns exec "$P2" "$@"; }

for n in "$H" "$P1" "$P2"; do ip netns add "$n" || exit 1; ip -n "$n" link set lo up; done
ip link add h1 netns "$H" type veth peer name p1 netns "$P1" || exit 1
ip link add h2 netns "$H" type veth peer name p2 netns "$P2" || exit 1
ip -n "$H" addr add 10.80.1.1/24 dev h1; ip -n "$P1" addr add 10.80.1.2/24 dev p1
ip -n "$H" addr add 10.80.2.1/24 dev h2; ip -n "$P2" addr add 10.80.2.2/24 dev p2
for l in "$H h1" "$H h2" "$P1 p1" "$P2 p2"; do
	set -- $l; ip -n "$1" link set "$2" up; ip netns exec "$1" ethtool -K "$2" tx off >/dev/null
done
KH=$("$BT" genkey); K1=$("$BT" genkey); K2=$("$BT" genkey)
PH=$(echo "$KH" | "$BT" pubkey); PP1=$(echo "$K1" | "$BT" pubkey); PP2=$(echo "$K2" | "$BT" pubkey)
mkdir "$TMP/h" "$TMP/1" "$TMP/2" "$TMP/s"
# FILE PRIV ADDR, then per peer: PUB ENDPOINT ALLOWED
conf() {
	local f=$1 k=$2 a=$3
	shift 3
	(umask 077 && {
		printf '[Interface]\nPrivateKey = %s\nListenPort = %s\nAddress = %s\nProtocol = bpftun\n' "$k" "$PORT" "$a"
		while [ $# -ge 3 ]; do
			printf '\n[Peer]\nPublicKey = %s\n' "$1"
			[ -n "$2" ] && printf 'Endpoint = %s\n' "$2"
			printf 'AllowedIPs = %s\n' "$3"
			shift 3
		done
	} >"$f")
}
conf "$TMP/h/bt0.conf" "$KH" 10.9.9.1/24 "$PP1" "10.80.1.2:$PORT" 10.9.9.2/32
conf "$TMP/1/bt0.conf" "$K1" 10.9.9.2/24 "$PH" "10.80.1.1:$PORT" 10.9.9.1/32
conf "$TMP/2/bt0.conf" "$K2" 10.9.9.3/24 "$PH" "10.80.2.1:$PORT" 10.9.9.0/24
check "hub, peer 1 and peer 2 up (the hub knows peer 1 only)" bash -c "
	ip netns exec $H '$BT' up $TMP/h/bt0.conf && ip netns exec $P1 '$BT' up $TMP/1/bt0.conf &&
	ip netns exec $P2 '$BT' up $TMP/2/bt0.conf"
check "hub -> peer 1" wait_until 10 inH ping -c 1 -W 1 10.9.9.2
check "hub -> peer 2 fails before it is added" bash -c "! ip netns exec $H ping -c 1 -W 1 10.9.9.3"
in2 ip addr add 10.9.10.1/32 dev bt0

sas() { inH "$SAS" bt0 | awk -v k="$1" '$1 == k' | cut -d' ' -f2-; }
peer_line() { inH "$BT" show bt0 dump | awk -F'\t' -v k="$1" '$1 == k'; }
# the hub's view without counters: keys, endpoints, AllowedIPs; and its routes
snapshot() { inH "$BT" show bt0 dump | awk -F'\t' 'NR > 1 {print $1, $3, $4, $8}' | sort; inH ip -4 route show dev bt0; }

# both ends initiate at start, and an initiation lost before the other end
# was up is retried after 5 s: then wait until peer 1's SAs stay put for 2 s
sleep 6
steady() { local a b; a="$(inH "$SAS" bt0; in1 "$SAS" bt0)"; sleep 2; b="$(inH "$SAS" bt0; in1 "$SAS" bt0)"; [ "$a" = "$b" ]; }
check "peer 1's sessions settled" wait_until 20 steady
S1H=$(sas "$PP1"); S1P=$(in1 "$SAS" bt0)
C1=$(peer_line "$PP1"); R1=$(in1 "$BT" show bt0 dump | sed -n 2p)
check "peer 1 has SAs (rx index on the hub: $S1H)" bash -c "[ -n '$S1H' ] && ! echo '$S1H' | grep -q '^[0-9]* [0-9]* - - -'"

# --- the stream to peer 1 (UDP: loss is counted by iperf3's sequence numbers)
in1 iperf3 -s -1 -B 10.9.9.2 -p 5201 >/dev/null 2>&1 &
check "iperf3 listens in peer 1" wait_until 10 listening "$P1" t 5201
inH iperf3 -c 10.9.9.2 -p 5201 -u -b 4M -l 1000 -w 1M -t 30 --json >"$TMP/iperf.json" 2>&1 &
IPERF=$!
sleep 2

# --- add (set), change allowed-ips and endpoint (set), all under the stream
check "set: peer 2 added (allowed-ips, endpoint)" inH "$BT" set bt0 peer "$PP2" allowed-ips 10.9.9.3/32 endpoint "10.80.2.2:$PORT"
check "hub -> peer 2 after set" wait_until 10 inH ping -c 1 -W 1 10.9.9.3
check "set: peer 2's allowed-ips changed (+10.9.10.0/24)" inH "$BT" set bt0 peer "$PP2" allowed-ips 10.9.9.3/32,10.9.10.0/24
check "the hub routes 10.9.10.0/24 into the tunnel" bash -c "ip -n $H route show dev bt0 | grep -q '^10.9.10.0/24'"
check "hub -> 10.9.10.1 (peer 2's new prefix)" wait_until 5 inH ping -c 1 -W 1 10.9.10.1
# peer 2 moves to another address (its key manager re-resolves its source
# every 5 s); the hub is told its new endpoint
in2 sysctl -qw net.ipv4.conf.p2.promote_secondaries=1 # keep .3 when .2 goes
in2 ip addr add 10.80.2.3/24 dev p2
in2 ip addr del 10.80.2.2/24 dev p2
sleep 6
check "set: peer 2's endpoint changed" inH "$BT" set bt0 peer "$PP2" endpoint "10.80.2.3:$PORT" persistent-keepalive 5
check "dump shows the new endpoint and keepalive" bash -c "
	ip netns exec $H '$BT' show bt0 dump | awk -F'\t' '\$1 == \"$PP2\" && \$3 == \"10.80.2.3:$PORT\" && \$8 == 5' | grep -q ."
check "hub -> peer 2 at its new endpoint" wait_until 10 inH ping -c 1 -W 1 10.9.9.3
S2=$(sas "$PP2")

# --- syncconf: the file without peer 2 removes it
conf "$TMP/s/bt0.conf" "$KH" 10.9.9.1/24 "$PP1" "10.80.1.2:$PORT" 10.9.9.2/32
check "syncconf: peer 2 removed" inH "$BT" syncconf bt0 "$TMP/s/bt0.conf"
check "peer 2 is gone from show and its SAs from the maps" bash -c "
	[ -z \"\$(ip netns exec $H '$BT' show bt0 dump | awk -F'\t' '\$1 == \"$PP2\"')\" ] &&
	[ -z \"\$(ip netns exec $H '$SAS' bt0 | awk '\$1 == \"$PP2\"')\" ] && [ -n '$S2' ]"
check "its routes are gone" bash -c "! ip -n $H route show dev bt0 | grep -q '10.9.10.0/24\|10.9.9.3'"
check "hub -> peer 2 fails after removal" bash -c "! ip netns exec $H ping -c 2 -i 0.3 -W 1 10.9.9.3"
RX2=$(in2 "$BT" show bt0 dump | awk -F'\t' 'NR == 2 {print $6}')
in2 ping -c 3 -i 0.2 -W 1 10.9.9.1 >/dev/null 2>&1
check "peer 2 -> hub: nothing more reaches peer 2 (rx unchanged)" bash -c "
	[ \"\$(ip netns exec $P2 '$BT' show bt0 dump | awk -F'\t' 'NR == 2 {print \$6}')\" = '$RX2' ]"

# --- addconf: peer 2 back from a file, then syncconf with both, then set remove
conf "$TMP/s/bt0.conf" "$KH" 10.9.9.1/24 "$PP2" "10.80.2.3:$PORT" 10.9.9.3/32
check "addconf: peer 2 added" inH "$BT" addconf bt0 "$TMP/s/bt0.conf"
check "hub -> peer 2 after addconf" wait_until 10 inH ping -c 1 -W 1 10.9.9.3
conf "$TMP/s/bt0.conf" "$KH" 10.9.9.1/24 "$PP1" "10.80.1.2:$PORT" 10.9.9.2/32 "$PP2" "10.80.2.3:$PORT" "10.9.9.3/32, 10.9.10.0/24"
check "syncconf: both peers, peer 2 with 10.9.10.0/24 again" inH "$BT" syncconf bt0 "$TMP/s/bt0.conf"
check "hub -> 10.9.10.1 after syncconf" wait_until 5 inH ping -c 1 -W 1 10.9.10.1

# --- the stream to peer 1 ran through all of the above
check "iperf3 to peer 1 finished" wait_until 40 bash -c "! kill -0 $IPERF 2>/dev/null"
IPERF=''
C1B=$(peer_line "$PP1"); R1B=$(in1 "$BT" show bt0 dump | sed -n 2p)
check "iperf3 to peer 1 lost no packet during the changes" python3 -c "
import json, sys
r = json.load(open('$TMP/iperf.json'))
s = r['end']['sum']
print('packets', s['packets'], 'lost', s['lost_packets'])
sys.exit(not (s['packets'] > 5000 and s['lost_packets'] == 0))"
# the tunnel's own count: every inner byte the hub sealed for peer 1 was
# opened and delivered by peer 1, and neither end dropped any of its packets
check "peer 1: bytes sealed by the hub = bytes delivered by peer 1; drops unchanged" python3 -c "
h0 = '''$C1'''.split('\t'); h1 = '''$C1B'''.split('\t')
p0 = '''$R1'''.split('\t'); p1 = '''$R1B'''.split('\t')
sealed = int(h1[6]) - int(h0[6]); opened = int(p1[5]) - int(p0[5])
print('hub sealed', sealed, 'peer 1 delivered', opened, 'hub drops', h0[8:] == h1[8:], 'peer 1 drops', p0[8:] == p1[8:])
assert sealed > 5000 * 1000 and sealed == opened and h0[8:] == h1[8:] and p0[8:] == p1[8:]"

# --- bad input: refused, named, the hub unchanged
BEFORE=$(snapshot)
refused() { # WHAT-IN-MESSAGE COMMAND...
	local want=$1
	shift
	! "$@" >"$TMP/o" 2>"$TMP/e" && grep -q -- "$want" "$TMP/e" && [ "$(snapshot)" = "$BEFORE" ] ||
		{ cat "$TMP/e"; return 1; }
}
check "unknown interface" refused "interface 'nosuch0': no such device" inH "$BT" set nosuch0 peer "$PP2" remove
check "bad public key" refused "not a public key" inH "$BT" set bt0 peer notakey allowed-ips 10.9.9.9/32
check "bad CIDR" refused "10.9.9.300/32" inH "$BT" set bt0 peer "$PP2" allowed-ips 10.9.9.300/32
check "prefix length out of range" refused "out of range" inH "$BT" set bt0 peer "$PP2" allowed-ips 10.9.9.0/33
check "AllowedIPs of another peer" refused "already routed to another peer" inH "$BT" set bt0 peer "$PP2" allowed-ips 10.9.9.2/32
check "the hub's own key" refused "own public key" inH "$BT" set bt0 peer "$PH" allowed-ips 10.9.9.9/32
check "endpoint without a route" refused "no route" inH "$BT" set bt0 peer "$PP2" endpoint 192.0.2.9:1
check "preshared-key file readable by others" refused "chmod 600" bash -c "
	echo \$(head -c 32 /dev/urandom | base64) >$TMP/psk && chmod 644 $TMP/psk &&
	ip netns exec $H '$BT' set bt0 peer '$PP2' preshared-key $TMP/psk"
check "syncconf with another ListenPort" refused "ListenPort" bash -c "
	umask 077 && sed 's/^ListenPort = .*/ListenPort = 1234/' $TMP/s/bt0.conf >$TMP/s2.conf && mkdir -p $TMP/p && mv $TMP/s2.conf $TMP/p/bt0.conf &&
	ip netns exec $H '$BT' syncconf bt0 $TMP/p/bt0.conf"
check "syncconf with another Protocol (a file without 'Protocol = bpftun': wireguard)" \
	refused "Protocol: wireguard, the running tunnel's is bpftun" bash -c "
	umask 077 && sed '/^Protocol = /d' $TMP/s/bt0.conf >$TMP/p/bt0.conf &&
	ip netns exec $H '$BT' syncconf bt0 $TMP/p/bt0.conf"
# capacity: the hub's maps were sized at up for 1 peer: 256 peers, 4096 AllowedIPs
python3 - "$TMP" "$KH" <<'EOF'
import base64, os, sys
tmp, kh = sys.argv[1], sys.argv[2]
os.makedirs(tmp + "/c1", exist_ok=True); os.makedirs(tmp + "/c2", exist_ok=True)
def write(path, peers):
    with open(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600), "w") as f:
        f.write("[Interface]\nPrivateKey = %s\nProtocol = bpftun\n" % kh)
        for pub, allowed in peers:
            f.write("\n[Peer]\nPublicKey = %s\nAllowedIPs = %s\n" % (pub, allowed))
key = lambda: base64.b64encode(os.urandom(32)).decode()
write(tmp + "/c1/bt0.conf", [(key(), "10.%d.%d.0/24" % (100 + i // 256, i % 256)) for i in range(257)])
write(tmp + "/c2/bt0.conf", [(key(), ", ".join("10.%d.%d.%d/32" % (100 + i, j // 256, j % 256) for j in range(64))) for i in range(65)])
EOF
check "257 peers: more than the maps hold" refused "no room for another peer" inH "$BT" syncconf bt0 "$TMP/c1/bt0.conf"
check "65 x 64 AllowedIPs: more than the table holds" refused "table holds 4096" inH "$BT" syncconf bt0 "$TMP/c2/bt0.conf"

# --- a prefix moves from one peer to another in one syncconf: owner and route kept
conf "$TMP/s/bt0.conf" "$KH" 10.9.9.1/24 "$PP1" "10.80.1.2:$PORT" "10.9.9.2/32, 10.9.10.0/24" "$PP2" "10.80.2.3:$PORT" 10.9.9.3/32
check "syncconf: 10.9.10.0/24 moves from peer 2 to peer 1" inH "$BT" syncconf bt0 "$TMP/s/bt0.conf"
check "dump: peer 1 has it, peer 2 not; its route stays" bash -c "
	ip netns exec $H '$BT' show bt0 dump | awk -F'\t' '(\$1 == \"$PP1\" && \$4 == \"10.9.9.2/32,10.9.10.0/24\") || (\$1 == \"$PP2\" && \$4 == \"10.9.9.3/32\")' | wc -l | grep -qx 2 &&
	ip -n $H route show dev bt0 | grep -q '^10.9.10.0/24'"

# --- set remove
check "set: peer 2 removed" inH "$BT" set bt0 peer "$PP2" remove
check "hub -> peer 2 fails after set remove" bash -c "! ip netns exec $H ping -c 2 -i 0.3 -W 1 10.9.9.3"

# --- peer 1 across everything
check "peer 1's SAs unchanged on the hub ($S1H)" bash -c "[ '$(sas "$PP1")' = '$S1H' ] || { echo '$(sas "$PP1")'; false; }"
check "peer 1's SAs unchanged on peer 1" bash -c "[ '$(in1 "$SAS" bt0)' = '$S1P' ] || { echo '$(in1 "$SAS" bt0) / $S1P'; false; }"
C1C=$(peer_line "$PP1")
check "peer 1's counters grew, its drops did not" python3 -c "
a = '''$C1'''.split('\t'); b = '''$C1C'''.split('\t')
print(a[5:7], b[5:7], a[8:], b[8:])
assert int(b[5]) > int(a[5]) and int(b[6]) > int(a[6]) + 5000, 'counters'
assert a[8:] == b[8:], 'drops changed'"

# --- without a key manager: bpftun applies the change itself
inH kill "$(inH "$BT" show bt0 | sed -n 's/.*key manager pid: //p')"
check "the hub's key manager stopped" wait_until 5 bash -c "ip netns exec $H '$BT' show bt0 | grep -q 'key manager: not running'"
check "set with no key manager: peer 2 added" inH "$BT" set bt0 peer "$PP2" allowed-ips 10.9.9.3/32 endpoint "10.80.2.3:$PORT"
check "peer 2 in the maps" bash -c "ip netns exec $H '$SAS' bt0 | awk '\$1 == \"$PP2\"' | grep -q ."
KM=$BUILD/tunnel/bpftun-keymgmt
ip netns exec "$H" setsid "$KM" --ifname bt0 --config "$TMP/h/bt0.conf" --foreground >"$TMP/km.log" 2>&1 </dev/null &
check "a key manager restarted with the old file keeps the running peers: hub -> peer 2" wait_until 15 inH ping -c 1 -W 1 10.9.9.3
check "... and peer 1" inH ping -c 2 -i 0.2 -W 1 10.9.9.2
check "set through the restarted key manager: peer 2 removed" inH "$BT" set bt0 peer "$PP2" remove
check "hub -> peer 2 fails" bash -c "! ip netns exec $H ping -c 2 -i 0.3 -W 1 10.9.9.3"

for n in "$H" "$P1" "$P2"; do ip netns exec "$n" "$BT" down bt0; done

# --- wg-quick's hooks and a ListenPort left out, on the hub
L=$TMP/hooks.log
hooks_conf() { # PREUP POSTUP [no ListenPort]
	conf "$TMP/h/bt0.conf" "$KH" 10.9.9.1/24 "$PP1" "10.80.1.2:$PORT" 10.9.9.2/32
	(umask 077 && sed -i "/^\[Interface\]/a PreUp = $1\nPostUp = $2\nPostUp = echo post2 %i >>$L\nPreDown = echo predown %i \$(ip link show %i >/dev/null 2>\&1 \&\& echo there) >>$L\nPostDown = echo postdown %i \$(ip link show %i >/dev/null 2>\&1 || echo gone) >>$L" "$TMP/h/bt0.conf")
	[ -z "${3:-}" ] || sed -i '/^ListenPort/d' "$TMP/h/bt0.conf"
}
hooks_conf "echo pre %i >>$L" "echo post %i \$(ip link show %i >/dev/null 2>\&1 \&\& echo there) >>$L" noport
check "up with hooks and no ListenPort" inH "$BT" up "$TMP/h/bt0.conf"
check "PreUp, then both PostUps in order, %i replaced, the device there for PostUp" \
	bash -c "[ \"\$(cat $L)\" = \"\$(printf 'pre bt0\npost bt0 there\npost2 bt0')\" ] || { cat $L; false; }"
PORTH=$(inH "$BT" show bt0 | sed -n 's/.*listening port: //p')
check "no ListenPort: show names the chosen port ($PORTH), the key manager is bound to it" bash -c "
	[ -n '$PORTH' ] && [ '$PORTH' != 0 ] && ip netns exec $H ss -Hlnup 'sport = :$PORTH' | grep -q bpftun-keymgmt"
check "... and the tunnel works over it (peer 1 still points at $PORT: its endpoint roams to the hub's port)" \
	bash -c "ip netns exec $P1 '$BT' up $TMP/1/bt0.conf && ip netns exec $P1 '$BT' set bt0 peer '$PH' endpoint 10.80.1.1:$PORTH &&
	wait_until 10 ip netns exec $H ping -c 1 -W 1 10.9.9.2"
: >"$L"
check "down runs PreDown (device there) and PostDown (device gone)" bash -c "
	ip netns exec $H '$BT' down bt0 && [ \"\$(cat $L)\" = \"\$(printf 'predown bt0 there\npostdown bt0 gone')\" ]"
: >"$L"
hooks_conf "false" "echo post %i >>$L"
check "a failing PreUp stops up before anything: no device, no PostUp" bash -c "
	! ip netns exec $H '$BT' up $TMP/h/bt0.conf 2>$TMP/e && grep -q \"PreUp 'false' failed\" $TMP/e &&
	! ip -n $H link show bt0 2>/dev/null && [ ! -s $L ]"
hooks_conf "echo pre %i >>$L" "exit 3"
check "a failing PostUp undoes up (no device, no key manager), down hooks not run" bash -c "
	! ip netns exec $H '$BT' up $TMP/h/bt0.conf 2>$TMP/e && grep -q \"PostUp 'exit 3' failed (exit status 3)\" $TMP/e &&
	! ip -n $H link show bt0 2>/dev/null && ! pgrep -f 'bpftun-keymgm[t] --ifname bt0 --config $TMP/h/' &&
	[ \"\$(cat $L)\" = 'pre bt0' ]"
chmod 620 "$TMP/h/bt0.conf"
check "hooks in a group-writable file are refused" bash -c "
	! ip netns exec $H '$BT' up $TMP/h/bt0.conf 2>$TMP/e && grep -q 'writable by group or others' $TMP/e"
check_summary
