#!/usr/bin/env bash
# netns_show.sh - `bpftun show`: reads the live maps without loading any
# program, refuses (non-zero, naming what failed) when not root, and
# `show IFNAME dump` / `show all dump` in wg(8)'s dump format.
# Two namespaces joined by one veth pair, one tunnel between them.
#
# usage: netns_show.sh BUILD_DIR
set -u
BUILD=$(cd "${1:?usage: netns_show.sh BUILD_DIR}" && pwd)
BT=$BUILD/tunnel/bpftun
A="bt-sa-$$"
B="bt-sb-$$"
TMP=$(mktemp -d /tmp/bt-show-XXXXXX)
chmod 755 "$TMP"
PORT=51830
# shellcheck source=../scripts/lib/netns.sh
. "$(dirname "$0")/../scripts/lib/netns.sh"
IA='' IB='' STAGE=''
# pins outlive namespaces: remove ours (only ours: NETNSINODE-bt0) on every exit
trap 'ns_remove "$A" "$B"; rm -rf "$TMP" ${STAGE:+"$STAGE"} ${IA:+/sys/fs/bpf/bpftun/$IA-bt0} ${IB:+/sys/fs/bpf/bpftun/$IB-bt0}' EXIT
trap 'exit 143' INT TERM
# shellcheck source=lib/check.sh
. "$(dirname "$0")/lib/check.sh"
# shellcheck source=lib/hosts.sh
. "$(dirname "$0")/lib/hosts.sh"

two_hosts 10.78.0.1 10.78.0.2 || exit 1
KA=$("$BT" genkey); KB=$("$BT" genkey)
PA=$(echo "$KA" | "$BT" pubkey); PB=$(echo "$KB" | "$BT" pubkey)
conf() { # FILE PRIV PEER_PUB ADDR EP ALLOWED
	(umask 077 && printf '[Interface]\nPrivateKey = %s\nListenPort = %s\nAddress = %s\nProtocol = bpftun\n[Peer]\nPublicKey = %s\nEndpoint = %s\nAllowedIPs = %s\n' \
		"$2" "$PORT" "$4" "$3" "$5" "$6" >"$1")
}
conf "$TMP/a.conf" "$KA" "$PB" 10.9.8.1/24 "10.78.0.2:$PORT" "10.9.8.2/32, fd09:8::2/128"
conf "$TMP/b.conf" "$KB" "$PA" 10.9.8.2/24 "10.78.0.1:$PORT" "10.9.8.1/32"
mv "$TMP/a.conf" "$TMP/bt0.conf.a"; mkdir "$TMP/a" "$TMP/b"
mv "$TMP/bt0.conf.a" "$TMP/a/bt0.conf"; mv "$TMP/b.conf" "$TMP/b/bt0.conf"
check "both ends up" bash -c "ip netns exec $A '$BT' up $TMP/a/bt0.conf && ip netns exec $B '$BT' up $TMP/b/bt0.conf"
check "ping through the tunnel" inA ping -c 3 -i 0.2 -W 2 10.9.8.2
# A came up first: its initiation went unanswered, B's completed the
# handshake. Once B's keepalive confirmed that session, A does not retry its
# own (5 s + jitter later), which would make a second session on both ends.
sessions_of() { grep -c "new session in slot" /run/bpftun/"$(ip netns exec "$1" stat -Lc %i /proc/self/ns/net)"-bt0.log; }
sleep 7
check "one session on each end 7 s after up (A's initiation not retried once B's confirmed)" \
	eval '[ "$(sessions_of "$A")" = 1 ] && [ "$(sessions_of "$B")" = 1 ] || { echo "A $(sessions_of "$A"), B $(sessions_of "$B")"; false; }'

# --- show loads nothing: no BPF_PROG_LOAD in its system calls
check "show makes no BPF_PROG_LOAD call" bash -c "ip netns exec $A strace -f -e trace=bpf -o $TMP/st '$BT' show bt0 >/dev/null && grep -q BPF_MAP_LOOKUP_ELEM $TMP/st && ! grep -q BPF_PROG_LOAD $TMP/st"
check "show --json makes no BPF_PROG_LOAD call" bash -c "ip netns exec $A strace -f -e trace=bpf -o $TMP/st '$BT' show --json >/dev/null && grep -q BPF_MAP_LOOKUP_ELEM $TMP/st && ! grep -q BPF_PROG_LOAD $TMP/st"

# --- not root: an error naming what failed, non-zero, no JSON on stdout
for args in "show" "show --json" "show bt0" "show all dump"; do
	check "'$args' as nobody fails with a permission error" bash -c "
		! ip netns exec $A setpriv --reuid=nobody --regid=nogroup --clear-groups '$BT' $args >$TMP/o 2>$TMP/e &&
		grep -q 'bt0' $TMP/e && grep -q 'bpf_prog_get_fd_by_id' $TMP/e && grep -qi 'not permitted' $TMP/e && [ ! -s $TMP/o ]"
done

# --- dump
check "show bt0 dump" bash -c "ip netns exec $A '$BT' show bt0 dump >$TMP/d1"
ndrops=$(inA "$BT" show bt0 --json | python3 -c "import json,sys; print(len(json.load(sys.stdin)['interfaces'][0]['peers'][0]['drops']))")
check "dump interface line: 4 fields, (hidden), A's public key, port, fwmark off" \
	bash -c "sed -n 1p $TMP/d1 | awk -F'\t' 'NF==4 && \$1==\"(hidden)\" && \$2==\"$PA\" && \$3==$PORT && \$4==\"off\"' | grep -q ."
check "dump peer line: 8 wg fields + $ndrops drop columns, B's key, endpoint, allowed-ips" \
	bash -c "sed -n 2p $TMP/d1 | awk -F'\t' 'NF==8+$ndrops && \$1==\"$PB\" && \$2==\"(none)\" && \$3==\"10.78.0.2:$PORT\" && \$4==\"10.9.8.2/32,fd09:8::2/128\" && \$5>0 && \$8==\"off\"' | grep -q ."
check "dump has no private key" bash -c "! grep -qF -- '$KA' $TMP/d1"
check "dump: exactly one peer line" test "$(wc -l <"$TMP/d1")" = 2
inA ping -c 3 -i 0.2 -W 2 10.9.8.2 >/dev/null
inA "$BT" show bt0 dump >"$TMP/d2"
check "dump counters move (rx and tx grow)" bash -c "
	r1=\$(sed -n 2p $TMP/d1 | cut -f6); t1=\$(sed -n 2p $TMP/d1 | cut -f7)
	r2=\$(sed -n 2p $TMP/d2 | cut -f6); t2=\$(sed -n 2p $TMP/d2 | cut -f7)
	[ \$r2 -gt \$r1 ] && [ \$t2 -gt \$t1 ]"
check "show all dump: interface name first, 5 and 9+ fields" bash -c "
	ip netns exec $A '$BT' show all dump >$TMP/d3 &&
	awk -F'\t' 'NR==1 && NF==5 && \$1==\"bt0\" && \$3==\"$PA\" {a=1} NR==2 && NF==9+$ndrops && \$1==\"bt0\" && \$2==\"$PB\" {b=1} END {exit !(a && b && NR==2)}' $TMP/d3"
check "dump with --json is a usage error" bash -c "ip netns exec $A '$BT' show bt0 dump --json; [ \$? = 2 ]"

# --- the service's split (bpftun@.service + bpftun-keymgmt@.service):
# up --no-keymgmt, a key manager run by its supervisor, killed and restarted
KM=$BUILD/tunnel/bpftun-keymgmt
check "A down" inA "$BT" down bt0
check "up --no-keymgmt: up, no key manager" bash -c "
	ip netns exec $A '$BT' up --no-keymgmt $TMP/a/bt0.conf &&
	ip netns exec $A '$BT' show bt0 | grep -q 'key manager: not running'"
check "no traffic before the key manager runs" bash -c "! ip netns exec $A ping -c 1 -W 1 10.9.8.2"
# (ip netns exec and setsid exec: $! is the key manager itself)
km_start() { ip netns exec "$A" setsid "$KM" --ifname bt0 --config "$TMP/a/bt0.conf" --foreground >>"$TMP/km.log" 2>&1 </dev/null & KMPID=$!; }
km_is() { inA "$BT" show bt0 | grep -q "key manager pid: $1\$"; }
km_start
check "the supervised key manager brings traffic" wait_until 10 inA ping -c 1 -W 1 10.9.8.2
check "show names the supervised key manager" wait_until 10 km_is "$KMPID"
kill -9 "$KMPID"; wait "$KMPID" 2>/dev/null
check "show: key manager not running after kill -9" bash -c "ip netns exec $A '$BT' show bt0 | grep -q 'key manager: not running'"
km_start # what Restart=on-failure does
check "show names the restarted key manager" wait_until 10 km_is "$KMPID"
check "a restarted key manager takes over: traffic" inA ping -c 2 -i 0.2 -W 2 10.9.8.2
kill "$KMPID"; wait "$KMPID" 2>/dev/null
inA "$BT" down bt0; inB "$BT" down bt0

# --- pins per network namespace: two tunnels named bt0, in A and in B, run
# from this mount namespace (nsenter keeps it, so both see one bpffs)
if [ "$(stat -fc %T /sys/fs/bpf 2>/dev/null)" != bpf_fs ]; then
	mount -t bpf bpf /sys/fs/bpf || { echo "FAIL: cannot mount bpffs"; exit 1; }
	BT_UMOUNT=1
fi
nsA() { nsenter --net=/run/netns/"$A" "$@"; }
nsB() { nsenter --net=/run/netns/"$B" "$@"; }
IA=$(stat -Lc %i /run/netns/"$A"); IB=$(stat -Lc %i /run/netns/"$B")
check "bt0 up in A and in B (one bpffs)" bash -c "
	nsenter --net=/run/netns/$A '$BT' up $TMP/a/bt0.conf && nsenter --net=/run/netns/$B '$BT' up $TMP/b/bt0.conf"
check "each has its own pins: /sys/fs/bpf/bpftun/NETNSINODE-bt0" bash -c "
	[ -e /sys/fs/bpf/bpftun/$IA-bt0/iface ] && [ -e /sys/fs/bpf/bpftun/$IB-bt0/iface ]"
check "A's and B's pinned iface maps are two maps" bash -c "
	a=\$(bpftool map show pinned /sys/fs/bpf/bpftun/$IA-bt0/iface -j | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"id\"])') &&
	b=\$(bpftool map show pinned /sys/fs/bpf/bpftun/$IB-bt0/iface -j | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"id\"])') &&
	[ -n \"\$a\" ] && [ \"\$a\" != \"\$b\" ]"
check "down in B removes B's pins only" bash -c "
	nsenter --net=/run/netns/$B '$BT' down bt0 && [ ! -e /sys/fs/bpf/bpftun/$IB-bt0 ] && [ -e /sys/fs/bpf/bpftun/$IA-bt0/iface ]"
check "A still works after B's down" bash -c "nsenter --net=/run/netns/$A '$BT' show bt0 | grep -q 'key manager pid'"
# a pin that fails is an error: a stale pin (as a crash would leave) of A's
# own iface map in A's pin directory
STAGE=/sys/fs/bpf/bt-show-$$
mkdir "$STAGE" && bpftool map pin pinned /sys/fs/bpf/bpftun/"$IA"-bt0/iface "$STAGE"/iface
nsA "$BT" down bt0
mkdir -p /sys/fs/bpf/bpftun/"$IA"-bt0 && bpftool map pin pinned "$STAGE"/iface /sys/fs/bpf/bpftun/"$IA"-bt0/iface
rm -rf "$STAGE"
check "a failed pin fails up, naming the directory" bash -c "
	! nsenter --net=/run/netns/$A '$BT' up $TMP/a/bt0.conf 2>$TMP/e && grep -q 'pinning its maps under /sys/fs/bpf/bpftun/$IA-bt0' $TMP/e &&
	! nsenter --net=/run/netns/$A ip link show bt0 2>/dev/null"
check "the failed up's rollback removed the stale pins" test ! -e /sys/fs/bpf/bpftun/"$IA"-bt0
check "up works again" nsA "$BT" up "$TMP/a/bt0.conf"
nsA "$BT" down bt0
[ -n "${BT_UMOUNT:-}" ] && umount /sys/fs/bpf
check_summary
