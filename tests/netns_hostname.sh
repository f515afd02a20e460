#!/usr/bin/env bash
# netns_hostname.sh - Endpoint = name:port and [name]:port: resolved at `up`
# with getaddrinfo, refused (file:line: Endpoint: the resolver's message,
# nothing changed) when the name does not resolve, and resolved again by the
# key manager when a handshake times out, moving to the new address.
#
# Names come from a hosts file of the test's own: A's `up` runs in a private
# mount namespace (unshare -m) in which $TMP/hosts is bind-mounted over
# /etc/hosts and an nsswitch.conf with "hosts: files" over /etc/nsswitch.conf,
# so no DNS server is ever asked; the key manager inherits that namespace.
# The hosts file is rewritten in place (same inode) to move the name. The
# mount namespace goes away with its last process.
#
# usage: netns_hostname.sh BUILD_DIR
set -u
BUILD=$(cd "${1:?usage: netns_hostname.sh BUILD_DIR}" && pwd)
BT=$BUILD/tunnel/bpftun
A="bt-ha-$$"
B="bt-hb-$$"
TMP=$(mktemp -d /tmp/bt-host-XXXXXX)
chmod 755 "$TMP"
PORT=51850
# shellcheck source=../scripts/lib/netns.sh
. "$(dirname "$0")/../scripts/lib/netns.sh"
trap 'ns_remove "$A" "$B"; rm -rf "$TMP"' EXIT
trap 'exit 143' INT TERM
# shellcheck source=lib/check.sh
. "$(dirname "$0")/lib/check.sh"
# shellcheck source=lib/hosts.sh
. "$(dirname "$0")/lib/hosts.sh"
# a command in A, with the test's hosts file and no DNS
inA_hosts() {
	unshare -m --propagation private sh -c '
		mount --bind "$0/hosts" /etc/hosts && mount --bind "$0/nsswitch.conf" /etc/nsswitch.conf &&
		ns=$1 && shift && exec ip netns exec "$ns" "$@"' "$TMP" "$A" "$@"
}

two_hosts 10.81.0.1 10.81.0.3 || exit 1
ip -n "$A" addr add fd81::1/64 dev va nodad; ip -n "$B" addr add fd81::2/64 dev vb nodad
printf 'hosts: files\n' >"$TMP/nsswitch.conf"
printf '127.0.0.1 localhost\n10.81.0.3 peer-b.test\nfd81::2 peer6.test\n' >"$TMP/hosts"

KA=$("$BT" genkey); KB=$("$BT" genkey)
PA=$(echo "$KA" | "$BT" pubkey); PB=$(echo "$KB" | "$BT" pubkey)
mkdir "$TMP/a" "$TMP/b"
conf() { # DIR PRIV PEER_PUB ADDR EP ALLOWED
	(umask 077 && printf '[Interface]\nPrivateKey = %s\nListenPort = %s\nAddress = %s\nProtocol = bpftun\n[Peer]\nPublicKey = %s\nEndpoint = %s\nAllowedIPs = %s\n' \
		"$2" "$PORT" "$4" "$3" "$5" "$6" >"$1/bt0.conf")
}
conf "$TMP/b" "$KB" "$PA" 10.9.6.2/24 "10.81.0.1:$PORT" "10.9.6.1/32"
sed -i '/^Endpoint/d' "$TMP/b/bt0.conf" # B waits for A
check "B up" inB "$BT" up "$TMP/b/bt0.conf"
links() { ip -n "$A" -o link show | cut -d' ' -f2; }
links >"$TMP/links0"

# --- a name that does not resolve: refused, nothing changed
conf "$TMP/a" "$KA" "$PB" 10.9.6.1/24 "no-such-peer.test:$PORT" "10.9.6.2/32"
refused() {
	! inA_hosts "$BT" up "$TMP/a/bt0.conf" 2>"$TMP/e" &&
		grep -q "bt0.conf:8: Endpoint: 'no-such-peer.test:$PORT': cannot resolve 'no-such-peer.test': " "$TMP/e"
}
check "unresolvable name refused with file:line: Endpoint and the resolver's message" refused
sed 's/^/    /' "$TMP/e"
links >"$TMP/links1"
check "nothing changed: the same links, no key manager log" bash -c "
	diff $TMP/links0 $TMP/links1 && ! ls /run/bpftun/\$(ip netns exec $A stat -Lc %i /proc/self/ns/net)-bt0.log 2>/dev/null"

# --- [name]:port, IPv6
conf "$TMP/a" "$KA" "$PB" 10.9.6.1/24 "[peer6.test]:$PORT" "10.9.6.2/32"
check "up with Endpoint = [peer6.test]:$PORT" inA_hosts "$BT" up "$TMP/a/bt0.conf"
check "endpoint resolved to [fd81::2]:$PORT" bash -c "ip netns exec $A '$BT' show bt0 dump | sed -n 2p | cut -f3 | grep -qx '\[fd81::2\]:$PORT'"
check "A down" inA "$BT" down bt0

# --- name:port pointing where no peer answers; the name then moves to B.
# B has no Endpoint for A, so nothing but A's own re-resolution can move
# A's endpoint (B learns A only from A's initiation).
printf '127.0.0.1 localhost\n10.81.0.9 peer-b.test\nfd81::2 peer6.test\n' >"$TMP/hosts.new"
cat "$TMP/hosts.new" >"$TMP/hosts" # same inode: the bind mount sees it
conf "$TMP/a" "$KA" "$PB" 10.9.6.1/24 "peer-b.test:$PORT" "10.9.6.2/32"
check "up with Endpoint = peer-b.test:$PORT" inA_hosts "$BT" up "$TMP/a/bt0.conf"
check "endpoint resolved to 10.81.0.9:$PORT (nobody there)" bash -c "ip netns exec $A '$BT' show bt0 dump | sed -n 2p | cut -f3 | grep -qx '10.81.0.9:$PORT'"
check "control: no handshake, no ping" bash -c "! ip netns exec $A ping -c 2 -i 0.5 -W 1 10.9.6.2"
printf '127.0.0.1 localhost\n10.81.0.3 peer-b.test\nfd81::2 peer6.test\n' >"$TMP/hosts.new"
cat "$TMP/hosts.new" >"$TMP/hosts"
LOG=/run/bpftun/$(inA stat -Lc %i /proc/self/ns/net)-bt0.log
# the initiation to 10.81.0.9 goes unanswered; on the retry (5 s) the key
# manager resolves the name again
check "the key manager resolved the name again on the handshake timeout" \
	wait_until 20 grep -q "'peer-b.test' now resolves to 10.81.0.3:$PORT; endpoint moved" "$LOG"
check "endpoint is 10.81.0.3:$PORT" bash -c "ip netns exec $A '$BT' show bt0 dump | sed -n 2p | cut -f3 | grep -qx '10.81.0.3:$PORT'"
check "the handshake to the new address completes: ping" wait_until 15 inA ping -c 1 -W 1 10.9.6.2
[ -n "${DEBUG:-}" ] && cat "$LOG"
check "A down" inA "$BT" down bt0
check "B down" inB "$BT" down bt0
check_summary
