#!/usr/bin/env bash
# netns_handshake.sh - the key manager under handshake floods and replays
# (issue 13, items 1-3, 2b and 10), with a live `bpftun up` responder.
#
#   X: vx 10.77.0.2/16 --- vr 10.77.0.1/16 :R: va 10.78.0.1/24 --- vb 10.78.0.2/24 :A
#      hs_flood (spoofed 10.77.H.L,             bt0 10.9.0.1        bt0 10.9.0.2
#      nobody owns them; legit peer)
#
# R's peers: the legit key of hs_flood (no endpoint) and A (a real bpftun).
# The spoofed sources are on R's link and answer no ARP: replies to them wait
# in the neighbour queue and fill the socket's send buffer.
#
# usage: netns_handshake.sh BUILD_DIR
set -u

BUILD=$(cd "${1:?usage: netns_handshake.sh BUILD_DIR}" && pwd)
BT=$BUILD/tunnel/bpftun
FLOOD=$BUILD/tests/hs_flood
R="bt-hr-$$"
X="bt-hx-$$"
A="bt-ha-$$"
TMP=$(mktemp -d /tmp/bt-hs-XXXXXX)
PORT=51820

# shellcheck source=../scripts/lib/netns.sh
. "$(dirname "$0")/../scripts/lib/netns.sh"
FLOODPID=
cleanup() {
	[ -n "$FLOODPID" ] && kill "$FLOODPID" 2>/dev/null
	ns_remove "$R" "$X" "$A"
	rm -rf "$TMP"
	return 0
}
trap cleanup EXIT INT TERM

# shellcheck source=lib/check.sh
. "$(dirname "$0")/lib/check.sh"

inR() { ip netns exec "$R" "$@"; }
inX() { ip netns exec "$X" "$@"; }
inA() { ip netns exec "$A" "$@"; }
json() { python3 -c "import json,sys; j=json.load(open(sys.argv[1])); print($2)" "$1"; }

ip netns add "$R" && ip netns add "$X" && ip netns add "$A" || exit 1
ip link add vr netns "$R" type veth peer name vx netns "$X" || exit 1
ip link add va netns "$R" type veth peer name vb netns "$A" || exit 1
for ns in "$R" "$X" "$A"; do ip -n "$ns" link set lo up; done
ip -n "$R" addr add 10.77.0.1/16 dev vr
ip -n "$X" addr add 10.77.0.2/16 dev vx
ip -n "$R" addr add 10.78.0.1/24 dev va
ip -n "$A" addr add 10.78.0.2/24 dev vb
for d in "$R vr" "$X vx" "$R va" "$A vb"; do
	set -- $d # two words: namespace, device
	ip -n "$1" link set "$2" up
	ip netns exec "$1" ethtool -K "$2" tx off >/dev/null
done

KR=$("$BT" genkey); PR=$(echo "$KR" | "$BT" pubkey)
KA=$("$BT" genkey); PA=$(echo "$KA" | "$BT" pubkey)
KL=$("$BT" genkey); PL=$(echo "$KL" | "$BT" pubkey)
(umask 077
echo "$KL" >"$TMP/legit.key"
mkdir -p "$TMP/r" "$TMP/a"
cat >"$TMP/r/bt0.conf" <<EOF
[Interface]
PrivateKey = $KR
ListenPort = $PORT
Address = 10.9.0.1/24
Protocol = bpftun

[Peer]
PublicKey = $PL
AllowedIPs = 10.9.0.99/32

[Peer]
PublicKey = $PA
Endpoint = 10.78.0.2:$PORT
AllowedIPs = 10.9.0.2/32
EOF
cat >"$TMP/a/bt0.conf" <<EOF
[Interface]
PrivateKey = $KA
ListenPort = $PORT
Address = 10.9.0.2/24
Protocol = bpftun

[Peer]
PublicKey = $PR
Endpoint = 10.78.0.1:$PORT
AllowedIPs = 10.9.0.1/32
EOF
)
check "bpftun up on R (responder) and on A" bash -c "
	ip netns exec $R '$BT' up $TMP/r/bt0.conf && ip netns exec $A '$BT' up $TMP/a/bt0.conf"
LOG=/run/bpftun/$(inR stat -Lc %i /proc/self/ns/net)-bt0.log
kmpid() { inR "$BT" show bt0 --json | python3 -c "import json,sys; print(json.load(sys.stdin)['interfaces'][0]['keymgmt_pid'])"; }
KMPID=$(kmpid)
check "R's key manager runs (pid $KMPID) and logs to $LOG" test -d "/proc/$KMPID" -a -f "$LOG"
check "A - R tunnel works" inA ping -c 3 -i 0.2 -W 2 10.9.0.1

legit() { inX "$FLOOD" legit 10.77.0.1 $PORT "$PR" "$TMP/legit.key" "$1"; }
check "baseline: the legit peer completes a handshake with R within 2 s" legit 2000

# start_flood MODE NSRC PPS SECS: in the background, from X
start_flood() {
	inX "$FLOOD" flood 10.77.0.1 $PORT "$PR" "$1" "$2" "$3" "$4" >"$TMP/flood.out" 2>&1 &
	FLOODPID=$!
}
stop_flood() { wait "$FLOODPID"; FLOODPID=; }

# wchan_watch SECS: sample where R's key manager sleeps, 10 times a second
wchan_watch() {
	local n=0 w
	: >"$TMP/wchan"
	while [ $n -lt $(($1 * 10)) ]; do
		w=$(cat "/proc/$KMPID/wchan" 2>/dev/null) && echo "$w" >>"$TMP/wchan"
		sleep 0.1; n=$((n + 1))
	done
}

echo "== item 2: replies to unreachable sources never block the loop"
# 20 unowned on-link sources, 150/s each: each is over its rate limit, so R
# is under load and answers every message with a cookie reply, which waits
# for ARP. The old blocking socket slept in sock_alloc_send_pskb here.
start_flood init 20 3000 6
sleep 1
wchan_watch 2 &
WPID=$!
legit 2000 >"$TMP/legit1" 2>&1; rc1=$?
wait "$WPID"
stop_flood
check "during a flood of cookie-needing initiations from 20 unowned on-link sources (3000/s), the legit peer completes within 2 s: $(cat "$TMP/legit1")" [ "$rc1" = 0 ]
check "R's key manager never slept in sock_alloc_send_pskb ($(sort "$TMP/wchan" | uniq -c | tr '\n' ' '))" \
	bash -c "! grep -q sock_alloc_send_pskb $TMP/wchan"
check "A - R tunnel still works" inA ping -c 2 -i 0.2 -W 2 10.9.0.1
sleep 3 # the neighbour queues of the last flood time out

echo "== item 3: a distributed flood is load"
# 12000 sources, 3000 initiations/s in all: each source sends one every 4 s,
# far under its own limit. Valid mac1, a key R does not know: without a
# global measure of load each one costs R a DH.
start_flood init 12000 3000 6
sleep 1.5
legit 2000 >"$TMP/legit2" 2>&1; rc2=$?
cookies=$(sed -n 's/.*, \([0-9]*\) cookie replies/\1/p' "$TMP/legit2")
stop_flood
check "during a flood from 12000 spoofed sources (3000/s, valid mac1), R demands cookies from the legit peer ($(cat "$TMP/legit2"))" [ "${cookies:-0}" -ge 1 ]
check "... and the legit peer completes within 2 s" [ "$rc2" = 0 ]
sleep 1.2
check "R's log counts initiations answered with cookies (needs cookie)" \
	grep -q "needs cookie (under load)" "$LOG"
check "after the flood the legit peer completes without a cookie" bash -c "
	sleep 1.5; ip netns exec $X '$FLOOD' legit 10.77.0.1 $PORT '$PR' $TMP/legit.key 2000 | grep -q ', 0 cookie replies'"
sleep 3

echo "== item 2b: a garbage flood grows the log by a bounded amount"
# The bound: per 10 s window at most 5 lines written one by one, plus one
# summary line per kind counted (14 rejection reasons + 2 send failures),
# each line under 200 bytes; a T s flood plus the wait for the last
# summary spans at most (T + 11) / 10 + 2 windows.
FLOOD_S=30
size0=$(stat -c %s "$LOG")
start_flood garbage 1000 2000 $FLOOD_S
stop_flood
sent=$(sed -n 's/^sent //p' "$TMP/flood.out")
sleep 11
size1=$(stat -c %s "$LOG")
grown=$((size1 - size0))
bound=$(( ((FLOOD_S + 11) / 10 + 2) * (5 + 16) * 200 ))
counted=$(tail -c "$grown" "$LOG" | sed -n 's/.* \([0-9]*\) handshake messages rejected .*/\1/p' | awk '{s += $1} END {print s + 0}')
check "$FLOOD_S s of garbage ($sent messages, 2000/s from 1000 sources) grew the log by $grown bytes (bound $bound)" \
	[ "$grown" -le "$bound" ]
check "... the rejections were counted in summary lines ($counted of $sent; data-type messages stay in tc_open)" \
	[ "$counted" -ge $((sent / 2)) ]

echo "== item 10: a replayed initiation after down/up of the responder"
check "capture one of A's initiations to R" bash -c "
	ip netns exec $R timeout 8 tcpdump -ni va -Q in -U -c 1 -w $TMP/init.pcap 'udp dst port $PORT and udp[8] = 1' 2>/dev/null & cap=\$!
	sleep 0.5; ip netns exec $A '$BT' rekey bt0; wait \$cap"
check "bpftun down and up on R (its handshake state is gone)" bash -c "
	ip netns exec $R '$BT' down bt0 && ip netns exec $R '$BT' up $TMP/r/bt0.conf"
KMPID=$(kmpid)
check "A - R tunnel works again after R's up" bash -c "
	for i in 1 2 3 4 5 6 7 8 9 10; do ip netns exec $A ping -c 1 -W 1 10.9.0.1 >/dev/null && exit 0; done; exit 1"
ep() { inR "$BT" show bt0 --json >"$TMP/s.json" && json "$TMP/s.json" "j['interfaces'][0]['peers'][1]['endpoint']"; }
ep0=$(ep)
mark=$(wc -l <"$LOG")
# The replay comes from X's address: an attacker elsewhere on the path.
check "replay the captured initiation to R from 10.77.0.2" inX python3 -c "
import socket, struct
d = open('$TMP/init.pcap', 'rb').read()
rec = d[24:]
incl = struct.unpack('<I', rec[8:12])[0]
pkt = rec[16:16 + incl]
ihl = (pkt[14] & 15) * 4
msg = pkt[14 + ihl + 8:]
assert msg[0] == 1 and len(msg) == 148, (msg[:1], len(msg))
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.sendto(msg, ('10.77.0.1', $PORT))"
sleep 1
check "R accepted the replay (no timestamp survives down/up)" \
	bash -c "tail -n +$((mark + 1)) $LOG | grep -q 'peer 1: new session .*responder'"
check "R's endpoint for A is unchanged by the replay ($ep0 -> $(ep))" [ "$(ep)" = "$ep0" ]
check "A - R tunnel works right after the replay" inA ping -c 3 -i 0.2 -W 2 10.9.0.1
sleep 11
check "R never switched to the replayed keys: it kept the old ones and initiated" \
	bash -c "tail -n +$((mark + 1)) $LOG | grep -q 'peer 1: slot .* not confirmed in 10 s; keeping the old keys and initiating'"
check "A - R tunnel works after the 10 s confirmation timeout" inA ping -c 3 -i 0.2 -W 2 10.9.0.1
check "... and the endpoint is still A's ($(ep))" [ "$(ep)" = "$ep0" ]

check_summary
