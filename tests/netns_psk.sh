#!/usr/bin/env bash
# netns_psk.sh - PresharedKey (Noise psk2) through the real bpftun up/down:
# two peers with the same key from `bpftun genpsk` carry traffic; different
# keys, or a key on one side only, never complete a handshake (no session, no
# traffic) and the initiator's log names the reason; a config that holds a
# PresharedKey and is readable by others is refused before anything changes;
# a PresharedKey set live outlives a key manager restart (kept in the user
# keyring) and `down` removes it. Two namespaces joined by one veth pair.
#
# usage: netns_psk.sh BUILD_DIR
set -u
BUILD=$(cd "${1:?usage: netns_psk.sh BUILD_DIR}" && pwd)
BT=$BUILD/tunnel/bpftun
A="bt-pa-$$"
B="bt-pb-$$"
TMP=$(mktemp -d /tmp/bt-psk-XXXXXX)
chmod 755 "$TMP"
PORT=51831
# shellcheck source=../scripts/lib/netns.sh
. "$(dirname "$0")/../scripts/lib/netns.sh"
IA='' IB=''
down_both() {
	ip netns exec "$A" "$BT" down bt0 >/dev/null 2>&1
	ip netns exec "$B" "$BT" down bt0 >/dev/null 2>&1
}
trap 'down_both; ns_remove "$A" "$B"; rm -rf "$TMP" ${IA:+/sys/fs/bpf/bpftun/$IA-bt0} ${IB:+/sys/fs/bpf/bpftun/$IB-bt0}' EXIT
trap 'exit 143' INT TERM
# shellcheck source=lib/check.sh
. "$(dirname "$0")/lib/check.sh"
# shellcheck source=lib/hosts.sh
. "$(dirname "$0")/lib/hosts.sh"
# shellcheck source=lib/keyctl.sh
. "$(dirname "$0")/lib/keyctl.sh"

two_hosts 10.78.0.1 10.78.0.2 || exit 1
IA=$(stat -Lc %i /run/netns/"$A"); IB=$(stat -Lc %i /run/netns/"$B")
KA=$("$BT" genkey); KB=$("$BT" genkey)
PA=$(echo "$KA" | "$BT" pubkey); PB=$(echo "$KB" | "$BT" pubkey)
mkdir "$TMP/a" "$TMP/b"
LOGA=/run/bpftun/$IA-bt0.log

# conf DIR PRIV PEER_PUB ADDR ENDPOINTLINE ALLOWED [PSKLINE]: DIR/bt0.conf, mode 0600
conf() {
	(umask 077 && printf '[Interface]\nPrivateKey = %s\nListenPort = %s\nAddress = %s\nProtocol = bpftun\n[Peer]\nPublicKey = %s\n%s\nAllowedIPs = %s\n%s\n' \
		"$2" "$PORT" "$4" "$3" "$5" "$6" "${7:-}" >"$1/bt0.conf")
}
# confs PSKLINE_A PSKLINE_B: only A has an endpoint, so A is always the
# initiator and B the responder (which installs keys it will not use until A
# confirms them: a refused response leaves A without any)
confs() {
	conf "$TMP/a" "$KA" "$PB" 10.9.9.1/24 "Endpoint = 10.78.0.2:$PORT" 10.9.9.2/32 "$1"
	conf "$TMP/b" "$KB" "$PA" 10.9.9.2/24 "" 10.9.9.1/32 "$2"
}
up_both() { inA "$BT" up "$TMP/a/bt0.conf" && inB "$BT" up "$TMP/b/bt0.conf"; }
# the latest-handshake column of A's one peer in `show bt0 dump`
hs_time() { inA "$BT" show bt0 dump | sed -n 2p | cut -f5; }

# --- genpsk: 32 random bytes in base64, as wg genpsk
P1=$("$BT" genpsk); P2=$("$BT" genpsk)
check "genpsk: 44 characters of base64 for 32 bytes, a new key each time" bash -c "
	[ ${#P1} = 44 ] && [ \"\$(printf %s '$P1' | base64 -d | wc -c)\" = 32 ] && [ '$P1' != '$P2' ]"
check "genpsk with an argument is a usage error (2)" bash -c "'$BT' genpsk x >/dev/null 2>&1; [ \$? = 2 ]"

# --- the same PresharedKey on both sides
confs "PresharedKey = $P1" "PresharedKey = $P1"
check "same PresharedKey: both ends up" up_both
check "same PresharedKey: ping through the tunnel" wait_until 10 inA ping -c 1 -W 1 10.9.9.2
check "same PresharedKey: a handshake is recorded" bash -c "[ \"\$(ip netns exec $A '$BT' show bt0 dump | sed -n 2p | cut -f5)\" -gt 0 ]"
check "show and dump never print the PresharedKey" bash -c "
	! { ip netns exec $A '$BT' show bt0; ip netns exec $A '$BT' show bt0 dump; ip netns exec $A '$BT' show --json; } | grep -qF -- '$P1'"
check "the key manager's log never holds the PresharedKey" bash -c "! grep -qF -- '$P1' $LOGA"
down_both

# --- PresharedKeyFile on one side, the same key inline on the other
(umask 077 && echo "$P1" >"$TMP/psk")
confs "PresharedKeyFile = $TMP/psk" "PresharedKey = $P1"
check "PresharedKeyFile = the same key: ping" bash -c "
	ip netns exec $A '$BT' up $TMP/a/bt0.conf && ip netns exec $B '$BT' up $TMP/b/bt0.conf &&
	wait_until 10 ip netns exec $A ping -c 1 -W 1 10.9.9.2"
down_both

# --- a PresharedKey set live (`bpftun set`) outlives the key manager: a
# restarted one takes it from the user keyring, not the file's P1; down
# removes it from the keyring
KM=$BUILD/tunnel/bpftun-keymgmt
km_pid() { inA "$BT" show bt0 --json | python3 -c "import json,sys; print(json.load(sys.stdin)['interfaces'][0].get('keymgmt_pid', 0))"; }
PSKDESC="bpftun-psk:$IA-bt0:$PB"
confs "PresharedKey = $P1" "PresharedKey = $P1"
check "live PresharedKey: both ends up with P1, ping" bash -c "
	ip netns exec $A '$BT' up $TMP/a/bt0.conf && ip netns exec $B '$BT' up $TMP/b/bt0.conf &&
	wait_until 10 ip netns exec $A ping -c 1 -W 1 10.9.9.2"
# set_both KEY: `bpftun set ... preshared-key` KEY on both ends
set_both() {
	(umask 077 && echo "$1" >"$TMP/pnew") &&
		inA "$BT" set bt0 peer "$PB" preshared-key "$TMP/pnew" &&
		inB "$BT" set bt0 peer "$PA" preshared-key "$TMP/pnew"
}
kept() { [ "$(keyctl_py read "$(keyctl_py find "$PSKDESC")")" = "$1" ]; } # KEY: A's in @u
newer_hs() { [ "$(hs_time)" -gt "$1" ] 2>/dev/null; }
# km_start: A's key manager started here (as a supervisor would); mark: the
# log's length before
km_start() {
	mark=$(wc -l <"$LOGA")
	inA setsid "$KM" --ifname bt0 --config "$TMP/a/bt0.conf" >>"$LOGA" 2>&1 </dev/null &
}
since_start() { tail -n +$((mark + 1)) "$LOGA" | grep -q "$1"; }
check "live PresharedKey: bpftun set ... preshared-key P2 on both ends" set_both "$P2"
check "live PresharedKey: kept in the user keyring as $PSKDESC, = P2" kept "$P2"
h0=$(hs_time); sleep 1.1
kill -USR1 "$(km_pid)"
check "live PresharedKey: a rekey under P2 completes" wait_until 10 newer_hs "$h0"
kill -9 "$(km_pid)"
km_start
check "live PresharedKey: A's key manager killed and restarted from the file (P1)" \
	wait_until 5 since_start 'PresharedKey from the last live change'
h0=$(hs_time); sleep 1.1
kill -USR1 "$(km_pid)"
check "live PresharedKey: the restarted key manager's rekey completes (it uses P2)" wait_until 10 newer_hs "$h0"
check "live PresharedKey: no 'response not authentic' since the restart" eval '! since_start "response not authentic"'
check "live PresharedKey: ping" inA ping -c 1 -W 2 10.9.9.2
# with no key manager running, `set` applies the change itself: the key it
# is given must still reach the key manager that starts later
kill -9 "$(km_pid)"
check "live PresharedKey: set ... P1 on A while its key manager is down, and on B" set_both "$P1"
check "live PresharedKey: ... and the keyring holds P1 for A" kept "$P1"
km_start
check "live PresharedKey: A's key manager started again" \
	wait_until 5 since_start 'PresharedKey from the last live change'
h0=$(hs_time); sleep 1.1
kill -USR1 "$(km_pid)"
check "live PresharedKey: its rekey completes under P1" wait_until 10 newer_hs "$h0"
check "live PresharedKey: no 'response not authentic' since" eval '! since_start "response not authentic"'
down_both
check "live PresharedKey: down removed it from the keyring" bash -c "! keyctl_py find '$PSKDESC' 2>/dev/null"

# --- different PresharedKeys: no session. A initiates (its ping); B answers
# (message 1 does not depend on the key); A refuses the response.
for case in "different:$P1:$P2" "A only:$P1:" "B only::$P2"; do
	what=${case%%:*}; rest=${case#*:}; pa=${rest%%:*}; pb=${rest#*:}
	confs "${pa:+PresharedKey = $pa}" "${pb:+PresharedKey = $pb}"
	mark=0; [ -f "$LOGA" ] && mark=$(wc -l <"$LOGA")
	check "PresharedKey $what: both ends up" up_both
	inA ping -c 4 -i 0.5 -W 1 10.9.9.2 >"$TMP/ping" 2>&1
	inB ping -c 2 -i 0.5 -W 1 10.9.9.1 >"$TMP/pingb" 2>&1
	check "PresharedKey $what: no ping reply in 4 tries from A, 2 from B" bash -c "
		grep -q ' 0 received' $TMP/ping && grep -q ' 0 received' $TMP/pingb"
	check "PresharedKey $what: A (the initiator) records no handshake" test "$(hs_time)" = 0
	check "PresharedKey $what: A's log names the reason" wait_until 5 bash -c "
		tail -n +$((mark + 1)) $LOGA | grep -q 'response not authentic (preshared keys differ'"
	down_both
done

# --- a config holding a PresharedKey must be private, as for PrivateKey:
# refused before anything changes
(umask 077 && printf '[Interface]\nPrivateKeyFile = %s\nListenPort = %s\n\n[Peer]\nPublicKey = %s\nAllowedIPs = 10.9.9.2/32\nPresharedKey = %s\n' \
	"$TMP/ka" "$PORT" "$PB" "$P1" >"$TMP/a/bt0.conf")
(umask 077 && echo "$KA" >"$TMP/ka")
chmod 0644 "$TMP/a/bt0.conf"
check "a 0644 config with a PresharedKey: up refused, naming the line and the mode, not the key" bash -c "
	! ip netns exec $A '$BT' up $TMP/a/bt0.conf 2>$TMP/e &&
	grep -q 'bt0.conf:8: PresharedKey: .*mode 0644 is readable by group or others' $TMP/e &&
	! grep -qF -- '$P1' $TMP/e && ! ip netns exec $A ip link show bt0 >/dev/null 2>&1"
chmod 0600 "$TMP/a/bt0.conf"
check "the same config at 0600: up" inA "$BT" up "$TMP/a/bt0.conf"
down_both
check_summary
