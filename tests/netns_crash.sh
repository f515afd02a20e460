#!/usr/bin/env bash
# netns_crash.sh - `bpftun up` killed after each of its steps, and tunnels
# deleted behind bpftun's back, leave nothing that bpftun cannot remove.
#
#   A: va 10.66.0.1 ---- vb 10.66.0.2 :B      (B's tunnel stays up throughout)
#      bt0 10.9.0.1                 bt0 10.9.0.2
#
# 1. For N = 1, 2, ...: bpftun-testhooks (bpftun built with the test hook)
#    runs `up` with BPFTUN_TEST_STOP_AFTER=N and dies by SIGKILL right after
#    its N-th step that changes the host. Then:
#      - a second `up` of the same name refuses and names `bpftun down bt0`;
#      - `bpftun down bt0` succeeds and A is exactly as before the up (links,
#        addresses, routes, qdiscs, filters on every device, /run/bpftun
#        files, processes in the namespace);
#      - a new `up` works (a ping through the tunnel to B), and `down`
#        again leaves A as before.
#    The loop ends when `up` completes all its steps (N past the last one),
#    bounded at 60 steps.
# 2. The key manager dies by SIGKILL, then `ip link del bt0`: tc_open stays on
#    va with the dead tunnel's maps. `up` refuses and names `bpftun cleanup`;
#    `bpftun cleanup` removes it (and the clsact bpftun added); the same with
#    `bpftun down bt0` for the deleted device.
# 3. The log, control socket and live PresharedKeys (user keyring) of a key
#    manager whose namespace is gone: `bpftun cleanup` (from any namespace)
#    removes them; B's stay.
#
# usage: netns_crash.sh BUILD_DIR
set -u

BUILD=$(cd "${1:?usage: netns_crash.sh BUILD_DIR}" && pwd)
BT=$BUILD/tunnel/bpftun
BTH=$BUILD/tunnel/bpftun-testhooks
A="bt-ca-$$"
B="bt-cb-$$"
TMP=$(mktemp -d /tmp/bt-crash-XXXXXX)
PORT=51820
MAX_STEPS=60

# shellcheck source=../scripts/lib/netns.sh
. "$(dirname "$0")/../scripts/lib/netns.sh"
D="bt-cd-$$" # a namespace deleted behind its key manager's files
DEAD=
PSKD="bpftun-psk:1-zz$$:$(printf 'p%.0s' $(seq 43))="
cleanup() {
	ns_remove "$A" "$B" "$D"
	[ -n "$DEAD" ] && rm -f $DEAD
	keyctl_py unlink "$(keyctl_py find "$PSKD" 2>/dev/null)" 2>/dev/null
	rm -rf "$TMP"
	return 0
}
trap cleanup EXIT INT TERM

# shellcheck source=lib/check.sh
. "$(dirname "$0")/lib/check.sh"
# shellcheck source=lib/keyctl.sh
. "$(dirname "$0")/lib/keyctl.sh"
# shellcheck source=lib/hosts.sh
. "$(dirname "$0")/lib/hosts.sh"

for f in "$BT" "$BTH" "$BUILD/tunnel/bpftun-keymgmt"; do
	[ -x "$f" ] || { echo "FAIL: $f not built"; echo "0 passed, 1 failed"; exit 1; }
done

topology() { two_hosts 10.66.0.1 10.66.0.2; }

configs() {
	local ka kb pa pb
	ka=$("$BT" genkey) && kb=$("$BT" genkey) || return 1
	pa=$(echo "$ka" | "$BT" pubkey) && pb=$(echo "$kb" | "$BT" pubkey) || return 1
	mkdir -p "$TMP/a" "$TMP/b"
	(umask 077
	printf '[Interface]\nPrivateKey = %s\nListenPort = %s\nAddress = 10.9.0.1/24, fd09::1/64\nProtocol = bpftun\n[Peer]\nPublicKey = %s\nEndpoint = 10.66.0.2:%s\nAllowedIPs = 10.9.0.2/32, fd09::2/128, 10.9.5.0/24\n' \
		"$ka" "$PORT" "$pb" "$PORT" >"$TMP/a/bt0.conf"
	printf '[Interface]\nPrivateKey = %s\nListenPort = %s\nAddress = 10.9.0.2/24, fd09::2/64\nProtocol = bpftun\n[Peer]\nPublicKey = %s\nEndpoint = 10.66.0.1:%s\nAllowedIPs = 10.9.0.1/32, fd09::1/128\n' \
		"$kb" "$PORT" "$pa" "$PORT" >"$TMP/b/bt0.conf")
}

# Everything of A that a tunnel could leave behind (not neighbours: ARP
# entries for B come and go with traffic).
snapshot() {
	ip -n "$A" -d -j link show | python3 -c '
import json, sys
for l in json.load(sys.stdin):
    for k in ("stats", "stats64", "linkinfo"):
        l.pop(k, None)
    print(json.dumps(l, sort_keys=True))'
	# an address still in duplicate address detection says "tentative" for a
	# moment after the topology is made: the flag is not state a tunnel leaves
	ip -n "$A" -j addr show | sed 's/"tentative":true,//g'
	ip -n "$A" -j route show
	ip -n "$A" -6 -j route show
	tc -n "$A" qdisc show
	for d in $(ip -n "$A" -o link show | awk -F': ' '{print $2}' | cut -d@ -f1); do
		echo "$d ingress:"; tc -n "$A" filter show dev "$d" ingress 2>/dev/null
		echo "$d egress:"; tc -n "$A" filter show dev "$d" egress 2>/dev/null
	done
	echo "run files:"; ls /run/bpftun 2>/dev/null | grep "^$INO-" || true
	echo "processes:"; ip netns pids "$A"
}

same_as_before() {
	local now
	now=$(snapshot)
	[ "$now" = "$BEFORE" ] && return 0
	diff <(echo "$BEFORE") <(echo "$now") | head -20
	return 1
}

# ping B through the tunnel (the handshake may still be running): 15 tries of 0.3 s
tunnel_works() {
	for _ in $(seq 1 15); do
		inA ping -c 1 -W 0.3 10.9.0.2 >/dev/null 2>&1 && return 0
	done
	echo "no ping reply through the tunnel"
	return 1
}

check "topology" topology
check "configs" configs
check "B's tunnel is up (it stays up)" inB "$BT" up "$TMP/b/bt0.conf"
INO=$(inA stat -Lc %i /proc/self/ns/net)
# A namespace inode is reused once its namespace is gone: a file under that
# name is a dead namespace's (a key manager killed there), never A's tunnel.
rm -f /run/bpftun/"$INO"-*
BEFORE=$(snapshot)
up_works() { # a normal up, and a ping through the tunnel
	inA "$BT" up "$TMP/a/bt0.conf" >"$TMP/up2.out" 2>&1 || { cat "$TMP/up2.out"; return 1; }
	tunnel_works
}
down_clean() { # down, and A is as before the up
	inA "$BT" down bt0 || return 1
	same_as_before
}
up_then_down() { up_works && inA "$BT" down bt0; }
refuses() { # refuses WORDS: a second up is refused with a message containing WORDS
	! inA "$BT" up "$TMP/a/bt0.conf" 2>"$TMP/again" >/dev/null && grep -qF "$1" "$TMP/again" ||
		{ cat "$TMP/again"; return 1; }
}
check "A: a normal up, a ping through the tunnel" up_works
check "... down: A is as before" down_clean

echo "== up killed after each step"
steps=0
completed=0
for n in $(seq 1 $MAX_STEPS); do
	BPFTUN_TEST_STOP_AFTER=$n inA "$BTH" up "$TMP/a/bt0.conf" >"$TMP/up.out" 2>&1
	rc=$?
	if [ $rc = 0 ]; then
		completed=1
		break
	fi
	step=$(sed -n 's/.*killed after step [0-9]* (\(.*\))/\1/p' "$TMP/up.out")
	if [ $rc != 137 ] || [ -z "$step" ]; then
		check "up with BPFTUN_TEST_STOP_AFTER=$n is killed (exit $rc)" bash -c "cat '$TMP/up.out'; false"
		break
	fi
	steps=$n
	check "killed after step $n ($step): a new up refuses, naming 'bpftun down bt0'" \
		refuses "bpftun down bt0"
	check "... bpftun down bt0 succeeds" inA "$BT" down bt0
	check "... and A is as before the up" same_as_before
	check "... a new up works (ping through the tunnel), and down" up_then_down
done
check "up completed once N passed its last step ($steps steps killed, bound $MAX_STEPS)" \
	[ "$completed" = 1 ] && [ "$steps" -ge 15 ]
inA "$BT" down bt0 >/dev/null 2>&1

echo "== a tunnel deleted with ip link del after its key manager died"
orphan() { # leaves tc_open on va for a bt0 that is gone
	inA "$BT" up "$TMP/a/bt0.conf" >/dev/null 2>&1 || return 1
	local pid
	pid=$(inA "$BT" show bt0 --json | python3 -c "import json,sys; print(json.load(sys.stdin)['interfaces'][0]['keymgmt_pid'])")
	kill -9 "$pid" && sleep 0.3 && ip -n "$A" link del bt0 || return 1
	tc -n "$A" filter show dev va ingress | grep -q tc_open || { echo "no tc_open left on va"; return 1; }
}
check "key manager killed, ip link del bt0: tc_open stays on va" orphan
check "... up refuses, naming 'bpftun cleanup'" refuses "bpftun cleanup"
cleans() {
	inA "$BT" cleanup 2>"$TMP/e" && grep -q 'removed 1 tc_open' "$TMP/e" || { cat "$TMP/e"; return 1; }
}
check "... bpftun cleanup removes it" cleans
check "... and A is as before" same_as_before
down_gone() { orphan && inA "$BT" down bt0; }
check "the same again, removed by 'bpftun down bt0' of the deleted device" down_gone
check "... and A is as before" same_as_before
check "a new up works after that" up_works
live_alone() {
	inA "$BT" cleanup 2>/dev/null && tc -n "$A" filter show dev va ingress | grep -q tc_open &&
		tunnel_works
}
check "cleanup leaves a live tunnel alone" live_alone
check "down: A is as before" down_clean
missing() { ! inA "$BT" down bt0 2>"$TMP/e" && grep -q 'no such device' "$TMP/e"; }
check "down of a tunnel that never existed still fails clearly" missing

echo "== the files of a key manager whose namespace is gone"
# A key manager killed together with its namespace leaves its log and its
# control socket in /run/bpftun under that namespace's inode; cleanup, from
# any namespace, removes them, and leaves those of live namespaces (B's).
dead_files() {
	local ino
	ip netns add "$D" || return 1
	ino=$(ip netns exec "$D" stat -Lc %i /proc/self/ns/net) || return 1
	DEAD="/run/bpftun/$ino-zz9.log /run/bpftun/$ino-zz9.ctl"
	mkdir -p /run/bpftun && : >"/run/bpftun/$ino-zz9.log" &&
		python3 -c 'import socket,sys; socket.socket(socket.AF_UNIX, socket.SOCK_STREAM).bind(sys.argv[1])' \
			"/run/bpftun/$ino-zz9.ctl" || return 1
	# and a live PresharedKey a key manager kept in @u (keyring.h), under an
	# inode no namespace has
	python3 -c '
import ctypes, sys
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
s = libc.syscall(248, b"user", sys.argv[1].encode(), b"A" * 43 + b"=", 44, ctypes.c_long(-3))
assert s > 0 and libc.syscall(250, 5, s, 0x3f3f0000) == 0
assert libc.syscall(250, 8, s, ctypes.c_long(-4)) == 0 and libc.syscall(250, 9, s, ctypes.c_long(-3)) == 0' \
		"$PSKD" || { echo "adding $PSKD to @u failed"; return 1; }
	ip netns del "$D"
	inA "$BT" cleanup 2>"$TMP/e" || { cat "$TMP/e"; return 1; }
	grep -q "removed 2 files of key managers whose network namespace is gone" "$TMP/e" ||
		{ cat "$TMP/e"; return 1; }
	for f in $DEAD; do [ ! -e "$f" ] || { echo "$f left"; return 1; }; done
	grep -q "removed 1 live PresharedKey of namespaces that are gone" "$TMP/e" ||
		{ cat "$TMP/e"; return 1; }
	! keyctl_py find "$PSKD" 2>/dev/null || { echo "$PSKD left in @u"; return 1; }
}
check "a dead namespace's .log, .ctl and live PresharedKey: removed by cleanup from A" dead_files
b_files() {
	local ino
	ino=$(inB stat -Lc %i /proc/self/ns/net)
	[ -e "/run/bpftun/$ino-bt0.log" ] && [ -S "/run/bpftun/$ino-bt0.ctl" ] ||
		{ ls -l /run/bpftun; return 1; }
	inB "$BT" show bt0 | grep -q "key manager pid"
}
check "... B's log and control socket stay, and its key manager runs" b_files

check_summary
