#!/usr/bin/env bash
# netns_keyring.sh - PrivateKeyKeyring end to end, in two network namespaces
# joined by a veth: A's private key lives only in the user keyring (@u, put
# there by `bpftun genkey --keyring`), B's is in its config.
#
#   A: va 10.78.0.1 --- vb 10.78.0.2 :B
#      krPID 10.9.8.1      bt0 10.9.8.2
#
# What it shows: the tunnel comes up with the key read from the keyring
# (loaded with the SA-install gate sa_ctl_keyring) and carries traffic;
# `keyctl revoke` stops it within a second (the key manager's kill switch;
# the gate alone is shown by netns_keyring_gate.sh), with no plaintext on
# the underlay (and the same check finding the marker on the tunnel device,
# its positive control); a timeout stops it at the expiry; a description
# naming another interface, and a key that is missing or revoked, are
# refused at `up` with file:line: field and nothing changes in the
# namespace; `down` works after a revoke.
#
# usage: netns_keyring.sh BUILD_DIR
set -u

BUILD=$(cd "${1:?usage: netns_keyring.sh BUILD_DIR}" && pwd)
BT=$BUILD/tunnel/bpftun
A="bt-ka-$$"
B="bt-kb-$$"
IF="kr$$"
DESC="bpftun:$IF"
TMP=$(mktemp -d /tmp/bt-kr-XXXXXX)
PORT=51830
SERIAL=

# shellcheck source=../scripts/lib/netns.sh
. "$(dirname "$0")/../scripts/lib/netns.sh"
# shellcheck source=lib/check.sh
. "$(dirname "$0")/lib/check.sh"
# shellcheck source=lib/hosts.sh
. "$(dirname "$0")/lib/hosts.sh"

# keyctl_py find|read|revoke|timeout|unlink (tests/lib/keyctl.sh)
# shellcheck source=lib/keyctl.sh
. "$(dirname "$0")/lib/keyctl.sh"

cleanup() {
	ns_remove "$A" "$B"
	# the key of this run, revoked or not (a revoked key is not found)
	[ -n "$SERIAL" ] || SERIAL=$(keyctl_py find "$DESC" 2>/dev/null)
	[ -n "$SERIAL" ] && keyctl_py unlink "$SERIAL"
	rm -rf "$TMP"
	return 0
}
trap cleanup EXIT
trap 'exit 143' INT TERM

# idkey: A's identity key state from `bpftun show --json`; idkey_text: from show
idkey() {
	inA "$BT" show "$IF" --json 2>/dev/null |
		python3 -c "import json,sys; print(json.load(sys.stdin)['interfaces'][0].get('identity_key'))"
}
is_idkey() { local v; v=$(idkey); [ "$v" = "$1" ] || { echo "identity_key: $v"; return 1; }; }

two_hosts 10.78.0.1 10.78.0.2 || { echo "FAIL: netns"; exit 1; }

PA=$("$BT" genkey --keyring "user:$DESC") || { echo "FAIL: genkey --keyring"; exit 1; }
KB=$("$BT" genkey)
PB=$(echo "$KB" | "$BT" pubkey)
mkdir -p "$TMP/a" "$TMP/b" "$TMP/bad" "$TMP/none"
(umask 077
cat >"$TMP/a/$IF.conf" <<EOF
[Interface]
PrivateKeyKeyring = user:$DESC
ListenPort = $PORT
Address = 10.9.8.1/24
Protocol = bpftun

[Peer]
PublicKey = $PB
Endpoint = 10.78.0.2:$PORT
AllowedIPs = 10.9.8.2/32
EOF
sed "s/^PrivateKeyKeyring = .*/PrivateKeyKeyring = user:bpftun:bt0/" "$TMP/a/$IF.conf" >"$TMP/bad/$IF.conf"
sed "s/^PrivateKeyKeyring = .*/PrivateKeyKeyring = user:bpftun:km$$/" "$TMP/a/$IF.conf" >"$TMP/none/km$$.conf"
cat >"$TMP/b/bt0.conf" <<EOF
[Interface]
PrivateKey = $KB
ListenPort = $PORT
Address = 10.9.8.2/24
Protocol = bpftun

[Peer]
PublicKey = $PA
Endpoint = 10.78.0.1:$PORT
AllowedIPs = 10.9.8.1/32
EOF
)

# host_state NS: links, addresses, qdiscs and processes of NS (to compare)
host_state() {
	{ ip -n "$1" -o link show; ip -n "$1" -o addr show; tc -n "$1" qdisc show
	  ip netns pids "$1"; } 2>&1 | sed 's/ link-netns[^ ]*//; s/ tentative//'
}
refused() { # CONF EXPECT: up refused with EXPECT in stderr, A unchanged
	local before after
	before=$(host_state "$A")
	! inA "$BT" up "$1" 2>"$TMP/err" || { echo "up succeeded"; return 1; }
	grep -qF "$2" "$TMP/err" || { echo "stderr: $(cat "$TMP/err")"; return 1; }
	after=$(host_state "$A")
	[ "$before" = "$after" ] || { diff <(echo "$before") <(echo "$after"); return 1; }
}

check "a description naming another interface is refused at up, A unchanged" \
	refused "$TMP/bad/$IF.conf" "$IF.conf:2: PrivateKeyKeyring: 'user:bpftun:bt0': the description must be"
check "a missing keyring key is refused at up with file:line: field, A unchanged" \
	refused "$TMP/none/km$$.conf" "km$$.conf:2: PrivateKeyKeyring: no user key 'bpftun:km$$'"

check "B up (PrivateKey)" inB "$BT" up "$TMP/b/bt0.conf"
check "A up with PrivateKeyKeyring = user:$DESC (key only in @u)" inA "$BT" up "$TMP/a/$IF.conf"
no_key_on_disk() { # the private key (read from @u) in no file up wrote or read
	local k
	k=$(keyctl_py read "$(keyctl_py find "$DESC")") && [ ${#k} -eq 44 ] || { echo "read: $k"; return 1; }
	! grep -rqF "$k" "$TMP" /run/bpftun 2>/dev/null || { echo "found in a file"; return 1; }
}
check "the private key is in no file under the config dir or /run/bpftun" no_key_on_disk
check "the keyring-keyed tunnel carries traffic (ping A->B)" \
	wait_until 10 inA ping -c 1 -W 1 -q 10.9.8.2
check "10 pings A->B, 10 received" bash -c \
	"ip netns exec $A ping -c 10 -i 0.05 -W 1 -q 10.9.8.2 | grep -q ' 10 received'"
check "show --json: identity_key ok" is_idkey ok
check "show: identity key: ok" bash -c "ip netns exec $A '$BT' show $IF | grep -Eq 'identity key:? +ok'"
check "show on B (PrivateKey): no identity_key" bash -c "! ip netns exec $B '$BT' show bt0 --json | grep -q identity_key"

MARK=6b72706c61696e746578742d6d61726b # "krplaintext-mark", ping's pad
SERIAL=$(keyctl_py find "$DESC")
# ping with timestamps through the revoke: the last reply's time minus the
# revoke's is the revoke-to-silence time (the key manager polls every 250 ms)
# the same capture on A's tunnel device, where the plaintext is: the
# positive control of the marker check below (it must find it there)
inB timeout 20 tcpdump -i vb -U -w "$TMP/cap.pcap" udp >/dev/null 2>&1 &
TCPDUMP=$!
inA timeout 20 tcpdump -i "$IF" -U -w "$TMP/cap-tun.pcap" icmp >/dev/null 2>&1 &
TCPDUMP_TUN=$!
wait_until 5 test -s "$TMP/cap.pcap" || sleep 1
wait_until 5 test -s "$TMP/cap-tun.pcap" || sleep 1
inA ping -D -i 0.05 -c 80 -W 1 -p "$MARK" 10.9.8.2 >"$TMP/ping-through.txt" 2>&1 &
PING=$!
sleep 1
check "revoke the key while the tunnel runs (a session that links @u)" \
	bash -c "keyctl_py revoke $SERIAL >'$TMP/t0'"
T0=$(cat "$TMP/t0")
wait $PING
sleep 1
inA ping -i 0.05 -w 2 -W 1 -q -p "$MARK" 10.9.8.2 >"$TMP/ping-after.txt" 2>&1
inB ping -i 0.05 -w 2 -W 1 -q 10.9.8.1 >"$TMP/ping-after-b.txt" 2>&1
kill "$TCPDUMP" "$TCPDUMP_TUN" 2>/dev/null; wait "$TCPDUMP" "$TCPDUMP_TUN" 2>/dev/null
SILENCE=$(python3 - "$TMP/ping-through.txt" "$T0" <<'PY'
import re, sys
t0 = float(sys.argv[2])
ts = [float(m.group(1)) for m in re.finditer(r"^\[(\d+\.\d+)\] \d+ bytes from", open(sys.argv[1]).read(), re.M)]
before = [t for t in ts if t < t0]
after = [t for t in ts if t >= t0]
print("%.3f %d %d" % ((max(ts) - t0) if ts else -1, len(before), len(after)))
PY
)
echo "revoke-to-silence: last reply $(echo "$SILENCE" | cut -d' ' -f1) s after the revoke; replies before/after it: $(echo "$SILENCE" | cut -d' ' -f2-)"
check "replies flowed before the revoke" test "$(echo "$SILENCE" | cut -d' ' -f2)" -gt 0
check "no reply later than 1 s after the revoke" python3 -c "import sys; sys.exit(not float('$(echo "$SILENCE" | cut -d' ' -f1)') < 1.0)"
check "ping A->B for 2 s from 1 s after the revoke: 0 received" grep -q " 0 received" "$TMP/ping-after.txt"
check "ping B->A for 2 s from 1 s after the revoke: 0 received" grep -q " 0 received" "$TMP/ping-after-b.txt"
# marker_in PCAP: the capture has packets, and MARK in one of them (hex
# dump of every packet, joined, so the pattern is found across dump lines)
marker_in() {
	local n
	n=$(tcpdump -r "$1" 2>/dev/null | wc -l)
	[ "$n" -gt 0 ] || { echo "empty capture $1"; return 2; }
	tcpdump -r "$1" -x 2>/dev/null | sed 's/^.*0x[0-9a-f]*: *//' | tr -d ' \n' | grep -q "$MARK"
}
check "positive control: the same check finds the marker in a capture on A's $IF" marker_in "$TMP/cap-tun.pcap"
no_marker() { marker_in "$1"; [ $? -eq 1 ]; } # packets, none with MARK
check "the underlay capture holds no plaintext marker" no_marker "$TMP/cap.pcap"
check "show --json: identity_key revoked" is_idkey revoked
check "bpftun down $IF on A after the revoke" inA "$BT" down "$IF"
check "after down, no $IF link on A" bash -c "! ip -n $A link show $IF >/dev/null 2>&1"

check "a revoked keyring key is refused at up with file:line: field, A unchanged" \
	refused "$TMP/a/$IF.conf" "$IF.conf:2: PrivateKeyKeyring: the key '$DESC' is revoked"

# a new key (a new up) brings it back; a 3 s timeout stops it at expiry
PA2=$("$BT" genkey --keyring "user:$DESC")
sed -i "s|^PublicKey = .*|PublicKey = $PA2|" "$TMP/b/bt0.conf"
inB "$BT" down bt0
check "B up again with A's new public key" inB "$BT" up "$TMP/b/bt0.conf"
check "A up with a new key in @u" inA "$BT" up "$TMP/a/$IF.conf"
SERIAL=$(keyctl_py find "$DESC")
check "the new key carries traffic" wait_until 10 inA ping -c 1 -W 1 -q 10.9.8.2
check "set a 3 s timeout on the key" keyctl_py timeout "$SERIAL" 3
T1=$(date +%s.%N)
inA ping -D -i 0.05 -c 100 -W 1 10.9.8.2 >"$TMP/ping-expiry.txt" 2>&1
EXP=$(python3 - "$TMP/ping-expiry.txt" "$T1" <<'PY'
import re, sys
t1 = float(sys.argv[2])
ts = [float(m.group(1)) for m in re.finditer(r"^\[(\d+\.\d+)\] \d+ bytes from", open(sys.argv[1]).read(), re.M)]
print("%.3f" % ((max(ts) - t1) if ts else -1))
PY
)
echo "expiry: last reply $EXP s after the 3 s timeout was set"
# the keyring's expiry is whole seconds of real time: now + 3 truncated, so
# the key expires 2 to 3 s after KEYCTL_SET_TIMEOUT
check "traffic until the expiry (last reply >= 2 s after the timeout was set)" \
	python3 -c "import sys; sys.exit(not float('$EXP') >= 2.0)"
check "and none later than 1 s after it (< 4 s)" python3 -c "import sys; sys.exit(not float('$EXP') < 4.0)"
check "show --json: identity_key expired" is_idkey expired
check "bpftun down $IF on A after the expiry" inA "$BT" down "$IF"
check "B down" inB "$BT" down bt0
check_summary
