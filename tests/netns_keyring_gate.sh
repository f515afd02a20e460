#!/usr/bin/env bash
# netns_keyring_gate.sh - the BPF gate alone: with the key manager's
# userspace kill switch turned off, a revoked identity key still stops the
# tunnel, because sa_ctl_keyring refuses every new SA.
#
#   A: va 10.79.0.1 --- vb 10.79.0.2 :B
#      kgPID 10.9.9.1      bt0 10.9.9.2
#
# A's key is only in the user keyring. A comes up with its normal key
# manager; that one is stopped and bpftun-keymgmt-testhooks is started in
# its place (a restarted key manager: it finds the datapath with dp_find and
# loads sa_ctl_keyring again) with BPFTUN_TEST_NO_KILL_SWITCH=1 (it neither
# polls the key nor reacts to the gate's refusals) and --reject-after
# $REJECT (SAs it installs expire after $REJECT s). A forced rekey (SIGUSR1)
# installs a fresh session through the gate; then the key is revoked and
# rekeys are forced again. Shown: the gate refuses (its counter in
# `show --json`, its log line, naming EKEYREVOKED), no new SA is installed
# (latest_handshake unchanged, no "new session" in the log), traffic goes on
# after the revoke (userspace did not stop it) and stops when the session
# installed before the revoke expires; then 0 replies either way, the
# datapath counts key_expired drops; `down` works. Then, with a new key and
# BPFTUN_TEST_NO_KILL_SWITCH=poll (no polling, but the reaction to the gate
# on): a revoke goes unnoticed until a rekey's install is refused by the
# gate, which pulls the kill switch: SAs deleted, 0 replies either way.
#
# usage: netns_keyring_gate.sh BUILD_DIR
set -u

BUILD=$(cd "${1:?usage: netns_keyring_gate.sh BUILD_DIR}" && pwd)
BT=$BUILD/tunnel/bpftun
KMT=$BUILD/tunnel/bpftun-keymgmt-testhooks
A="bt-ga-$$"
B="bt-gb-$$"
IF="kg$$"
DESC="bpftun:$IF"
TMP=$(mktemp -d /tmp/bt-kg-XXXXXX)
PORT=51831
REJECT=10
SERIAL=
KM=

# shellcheck source=../scripts/lib/netns.sh
. "$(dirname "$0")/../scripts/lib/netns.sh"
# shellcheck source=lib/check.sh
. "$(dirname "$0")/lib/check.sh"
# shellcheck source=lib/keyctl.sh
. "$(dirname "$0")/lib/keyctl.sh"

cleanup() {
	[ -n "$KM" ] && kill "$KM" 2>/dev/null
	ns_remove "$A" "$B"
	[ -n "$SERIAL" ] || SERIAL=$(keyctl_py find "$DESC" 2>/dev/null)
	[ -n "$SERIAL" ] && keyctl_py unlink "$SERIAL"
	rm -rf "$TMP"
	return 0
}
trap 'kill "$WATCHDOG" 2>/dev/null; cleanup' EXIT
trap 'exit 143' INT TERM
deadline 130 # below ctest's TIMEOUT of 150 s

inA() { ip netns exec "$A" "$@"; }
inB() { ip netns exec "$B" "$@"; }
# js EXPR: a value from A's `show --json` (python expression on i, the interface)
js() {
	inA "$BT" show "$IF" --json 2>/dev/null |
		python3 -c "import json,sys; i=json.load(sys.stdin)['interfaces'][0]; print($1)"
}
# jf EXPR: the same from the snapshot in $TMP/show.json
jf() { python3 -c "import json,sys; i=json.load(open('$TMP/show.json'))['interfaces'][0]; print($1)"; }

[ -x "$KMT" ] || { echo "FAIL: $KMT not built"; exit 1; }
if ! ip netns add "$A" || ! ip netns add "$B"; then echo "FAIL: netns"; exit 1; fi
ip link add va netns "$A" type veth peer name vb netns "$B"
for d in "$A va 10.79.0.1" "$B vb 10.79.0.2"; do
	set -- $d
	ip -n "$1" link set lo up
	ip -n "$1" addr add "$3/24" dev "$2"
	ip -n "$1" link set "$2" up
done

PA=$("$BT" genkey --keyring "user:$DESC" 2>/dev/null) || { echo "FAIL: genkey --keyring"; exit 1; }
SERIAL=$(keyctl_py find "$DESC")
KB=$("$BT" genkey)
PB=$(echo "$KB" | "$BT" pubkey)
mkdir -p "$TMP/a" "$TMP/b"
(umask 077
cat >"$TMP/a/$IF.conf" <<EOF
[Interface]
PrivateKeyKeyring = user:$DESC
ListenPort = $PORT
Address = 10.9.9.1/24
Protocol = bpftun

[Peer]
PublicKey = $PB
Endpoint = 10.79.0.2:$PORT
AllowedIPs = 10.9.9.2/32
EOF
cat >"$TMP/b/bt0.conf" <<EOF
[Interface]
PrivateKey = $KB
ListenPort = $PORT
Address = 10.9.9.2/24
Protocol = bpftun

[Peer]
PublicKey = $PA
Endpoint = 10.79.0.1:$PORT
AllowedIPs = 10.9.9.1/32
EOF
)

check "B up" inB "$BT" up "$TMP/b/bt0.conf"
check "A up with PrivateKeyKeyring" inA "$BT" up "$TMP/a/$IF.conf"
check "traffic A->B" wait_until 10 inA ping -c 1 -W 1 -q 10.9.9.2
check "show --json: key_gate_refused 0" test "$(js "i.get('key_gate_refused')")" = 0

# the key manager restarted as the test build, kill switch off
KPID=$(js "i.get('keymgmt_pid')")
check "stop A's key manager ($KPID)" bash -c "kill $KPID"
wait_until 5 bash -c "! kill -0 $KPID 2>/dev/null"
# (ip netns exec and env exec: $! is the key manager's pid)
ip netns exec "$A" env BPFTUN_TEST_NO_KILL_SWITCH=1 "$KMT" --ifname "$IF" --config "$TMP/a/$IF.conf" \
	--reject-after "$REJECT" --rekey-after 60 >"$TMP/km.log" 2>&1 &
KM=$!
check "the restarted key manager (testhooks) is ready" \
	wait_until 10 grep -q "listening on port" "$TMP/km.log"
# it runs the gate: sa_ctl_keyring is loaded, held by this process
# prog_names PID: the names of the BPF programs PID holds (fds -> prog_id)
prog_names() {
	local f id
	for f in /proc/"$1"/fd/*; do
		[ "$(readlink "$f")" = "anon_inode:bpf-prog" ] || continue
		id=$(awk '/^prog_id:/ {print $2}' /proc/"$1"/fdinfo/"${f##*/}")
		bpftool prog show id "$id" 2>/dev/null | sed -n 's/.* name \([^ ]*\) .*/\1/p'
	done
}
check "the restarted key manager holds sa_ctl_keyring (its fds, bpftool prog show)" \
	bash -c "$(declare -f prog_names); prog_names $KM | grep -qx sa_ctl_keyring"
# a fresh session, installed through the gate, expiring in $REJECT s; the
# key revoked at once after it; pings with timestamps throughout
HS0=$(js "i['peers'][0]['latest_handshake']")
NEW0=$(grep -c "new session" "$TMP/km.log")
sleep 1.1 # latest_handshake has 1 s resolution
inA ping -D -i 0.1 -w $((REJECT + 6)) -W 1 10.9.9.2 >"$TMP/ping.txt" 2>&1 &
PING=$!
TSA=$(date +%s.%N) # the session is installed between TSA and TS
kill -USR1 "$KM"
check "a forced rekey installs a new session through the gate" \
	wait_until 5 bash -c "[ \$(grep -c 'new session' '$TMP/km.log') -gt $NEW0 ]"
TS=$(date +%s.%N)
NEW0=$(grep -c "new session" "$TMP/km.log")
check "revoke A's identity key" bash -c "keyctl_py revoke $SERIAL >'$TMP/t0'"
T0=$(cat "$TMP/t0")
HS1=$(js "i['peers'][0]['latest_handshake']")
check "latest_handshake moved with that session" test "$HS1" != "$HS0"
kill -USR1 "$KM" # rekey: A initiates, B answers, the install is refused
check "the gate refuses the rekey: key_gate_refused > 0" \
	wait_until 5 bash -c "ip netns exec $A '$BT' show $IF --json | grep -Eq '\"key_gate_refused\": *[1-9]'"
check "the key manager logs the gate's refusal (EKEYREVOKED), once for the peer" bash -c \
	"[ \$(grep -c 'SA-install gate (sa_ctl_keyring) refused the install.*revoked' '$TMP/km.log') = 1 ]"
grep -m1 "SA-install gate" "$TMP/km.log" | sed 's/^/    log: /'
sleep 1
kill -USR1 "$KM" # a second forced rekey
wait $PING
inA "$BT" show "$IF" --json >"$TMP/show.json"
echo "gate refusals counted: $(jf "i.get('key_gate_refused')")"
check "show --json: key_gate_last revoked" test "$(jf "i.get('key_gate_last')")" = revoked
check "no new SA installed after the revoke (latest_handshake unchanged)" \
	test "$(jf "i['peers'][0]['latest_handshake']")" = "$HS1"
check "no new session in the key manager's log after the revoke" \
	test "$(grep -c "new session" "$TMP/km.log")" = "$NEW0"
check "userspace did not stop it: the kill switch stayed off (test hook)" \
	grep -q "kill switch off" "$TMP/km.log"
R=$(python3 - "$TMP/ping.txt" "$T0" "$TSA" "$TS" <<'PY'
import re, sys
t0, tsa, ts = float(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
t = [float(m.group(1)) for m in re.finditer(r"^\[(\d+\.\d+)\] \d+ bytes from", open(sys.argv[1]).read(), re.M)]
after = [x for x in t if x >= t0]
last = max(t) if t else -1
print("%d %.3f %.3f %.3f" % (len(after), last - t0, last - tsa, last - ts))
PY
)
set -- $R
echo "after the revoke: $1 replies, the last $2 s after it; $3 to $4 s after the pre-revoke session was installed (it expires after ${REJECT} s)"
# with the kill switch on, the last reply comes < 1 s after a revoke
# (netns_keyring: the key manager polls every 250 ms)
check "replies went on after the revoke (last one > 1 s after it: no userspace kill switch)" \
	python3 -c "import sys; sys.exit(not ($1 > 0 and $2 > 1.0))"
check "and stopped at the pre-revoke session's expiry (install + ${REJECT} s, -0.5/+0.3 s)" \
	python3 -c "import sys; sys.exit(not ($3 > $REJECT - 0.5 and $4 < $REJECT + 0.3))"
check "ping A->B for 2 s after the expiry: 0 received" bash -c \
	"ip netns exec $A ping -i 0.1 -w 2 -W 1 -q 10.9.9.2 | grep -q ' 0 received'"
check "ping B->A for 2 s after the expiry: 0 received" bash -c \
	"ip netns exec $B ping -i 0.1 -w 2 -W 1 -q 10.9.9.1 | grep -q ' 0 received'"
check "A's datapath counts key_expired drops" \
	python3 -c "import sys; sys.exit(not int('$(js "i['peers'][0]['drops']['key_expired']")') > 0)"

echo "== a refusal by the gate pulls the kill switch (the key manager does not poll)"
# a new key (the revoked one cannot be updated: a new serial), B told of it
PA2=$("$BT" genkey --keyring "user:$DESC" 2>/dev/null)
SERIAL=$(keyctl_py find "$DESC")
sed -i "s|^PublicKey = .*|PublicKey = $PA2|" "$TMP/b/bt0.conf"
kill "$KM" 2>/dev/null
wait "$KM" 2>/dev/null
KM=
check "A and B down and up again with A's new key, A without its key manager" bash -c "
	ip netns exec $A '$BT' down $IF && ip netns exec $B '$BT' down bt0 &&
	ip netns exec $B '$BT' up '$TMP/b/bt0.conf' >/dev/null &&
	ip netns exec $A '$BT' up --no-keymgmt '$TMP/a/$IF.conf' >/dev/null"
ip netns exec "$A" env BPFTUN_TEST_NO_KILL_SWITCH=poll "$KMT" --ifname "$IF" --config "$TMP/a/$IF.conf" \
	>"$TMP/km2.log" 2>&1 &
KM=$!
check "A's key manager (testhooks, BPFTUN_TEST_NO_KILL_SWITCH=poll) carries traffic" \
	wait_until 10 inA ping -c 1 -W 1 -q 10.9.9.2
check "revoke the new key" bash -c "keyctl_py revoke $SERIAL >'$TMP/t1'"
sleep 1
check "not polled: 1 s after the revoke traffic still flows" inA ping -c 1 -W 1 -q 10.9.9.2
kill -USR1 "$KM" # the rekey's install is refused by the gate
check "the gate's refusal pulls the kill switch: SAs deleted (log)" \
	wait_until 5 grep -q "is revoked (the SA-install gate): deleted the SAs of all 1 peers" "$TMP/km2.log"
check "ping A->B for 2 s after that: 0 received" bash -c \
	"ip netns exec $A ping -i 0.1 -w 2 -W 1 -q 10.9.9.2 | grep -q ' 0 received'"
check "ping B->A for 2 s after that: 0 received" bash -c \
	"ip netns exec $B ping -i 0.1 -w 2 -W 1 -q 10.9.9.1 | grep -q ' 0 received'"
check "A down" inA "$BT" down "$IF"
KM=
check "B down" inB "$BT" down bt0
check_summary
