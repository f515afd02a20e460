#!/usr/bin/env bash
# netns_fulltunnel.sh - wg-quick's full tunnel, FwMark and DNS through the
# real `bpftun up`/`down`:
#   - A has default routes (v4 and v6) via B on the underlay, and reaches B's
#     endpoint 198.18.7.2 only through them. A's tunnel routes 0.0.0.0/0 and
#     ::/0 to B (Table = auto): the policy rules and table 51820 appear, the
#     endpoint's route without the mark is the tunnel (what would loop) and
#     with it the underlay; the handshake completes and pings to addresses
#     that only B has go through the tunnel (B's counters, nothing in
#     plaintext on the underlay); `down` and a failed `up` leave ip rule,
#     ip -6 rule and every routing table exactly as they were.
#   - FwMark without a full tunnel: B's endpoint is routed only for packets
#     marked 0x1234 (ip rule fwmark 0x1234 table 77): the handshake socket,
#     up's route lookup and tc_seal's outer packets must all carry it.
#   - Table = 1234 (every route there, no rules) and Table = off (none).
#   - DNS: refused when resolvconf is not in PATH, before anything changes;
#     with a stand-in resolvconf (a script that records its arguments and
#     input) `up` runs `resolvconf -a bt0 -m 0 -x` and `down` `-d bt0 -f`.
#
# usage: netns_fulltunnel.sh BUILD_DIR
set -u
BUILD=$(cd "${1:?usage: netns_fulltunnel.sh BUILD_DIR}" && pwd)
BT=$BUILD/tunnel/bpftun
A="bt-fa-$$"
B="bt-fb-$$"
TMP=$(mktemp -d /tmp/bt-full-XXXXXX)
chmod 755 "$TMP"
PORT=51840
# shellcheck source=../scripts/lib/netns.sh
. "$(dirname "$0")/../scripts/lib/netns.sh"
trap 'ns_remove "$A" "$B"; rm -rf "$TMP"' EXIT
trap 'exit 143' INT TERM
# shellcheck source=lib/check.sh
. "$(dirname "$0")/lib/check.sh"
# shellcheck source=lib/hosts.sh
. "$(dirname "$0")/lib/hosts.sh"

two_hosts 10.80.0.1 10.80.0.2 || exit 1
ip -n "$A" addr add fd80::1/64 dev va nodad; ip -n "$B" addr add fd80::2/64 dev vb nodad
# B's endpoint and the addresses only B has (A's routes to them: the defaults)
ip -n "$B" addr add 198.18.7.2/32 dev lo
ip -n "$B" addr add 10.99.7.1/32 dev lo; ip -n "$B" addr add fd99:7::1/128 dev lo
ip -n "$A" route add default via 10.80.0.2 dev va
# strict reverse-path filtering on A (RHEL's default): B's handshake replies
# from 198.18.7.2 would fail it if their reverse route went into the tunnel
inA sysctl -qw net.ipv4.conf.all.rp_filter=1 net.ipv4.conf.va.rp_filter=1
# B answers ARP only for addresses on the asking interface and asks from
# 10.80.0.2 (A never learns 198.18.7.2's MAC): 198.18.7.2 is not on link for A (else a route lookup bound to va, as bpf_redirect_neigh's is,
# would fall back to "on link" and hide a missing mark)
inB sysctl -qw net.ipv4.conf.all.arp_ignore=1 net.ipv4.conf.all.arp_announce=2
# and B sends from its endpoint address (so A's endpoint stays 198.18.7.2,
# reached through the default route, and does not roam to 10.80.0.2)
ip -n "$B" route change 10.80.0.0/24 dev vb proto kernel scope link src 198.18.7.2
ip -n "$A" -6 route add default via fd80::2 dev va

KA=$("$BT" genkey); KB=$("$BT" genkey)
PA=$(echo "$KA" | "$BT" pubkey); PB=$(echo "$KB" | "$BT" pubkey)
mkdir "$TMP/a" "$TMP/b" "$TMP/bin" "$TMP/nobin"
conf() { # DIR PRIV PEER_PUB ADDR EP ALLOWED [EXTRA-INTERFACE-LINES]
	(umask 077 && printf '[Interface]\nPrivateKey = %s\nListenPort = %s\nAddress = %s\n%s\nProtocol = bpftun\n[Peer]\nPublicKey = %s\nEndpoint = %s\nAllowedIPs = %s\n' \
		"$2" "$PORT" "$4" "${7:-}" "$3" "$5" "$6" >"$1/bt0.conf")
}
conf "$TMP/b" "$KB" "$PA" "10.9.7.2/24, fd09:7::2/64" "10.80.0.1:$PORT" "10.9.7.1/32, fd09:7::1/128"
conf "$TMP/a" "$KA" "$PB" "10.9.7.1/24, fd09:7::1/64" "198.18.7.2:$PORT" "0.0.0.0/0, ::/0"
snap() { # the namespace's rules and routes (every table), both families
	inA sh -c 'ip rule; ip -6 rule; ip route show table all; ip -6 route show table all' |
		grep -v ' proto kernel .*linkdown' >"$1"
}
same() { diff "$1" "$2"; }
peer_json() { # NS FIELD: the first peer's counter from show --json
	ip netns exec "$1" "$BT" show bt0 --json |
		python3 -c "import json,sys; print(json.load(sys.stdin)['interfaces'][0]['peers'][0]['$2'])"
}

check "B up" inB "$BT" up "$TMP/b/bt0.conf"
# the snapshot after IPv6 DAD of va's link-local address (it then enters table local)
check "A's addresses settled (no tentative IPv6)" wait_until 10 bash -c "! ip -n $A -6 addr | grep -q tentative"
snap "$TMP/before"
check "A's default routes exist before up" bash -c "ip -n $A route show default | grep -q via && ip -n $A -6 route show default | grep -q via"

# --- full tunnel
check "A up with AllowedIPs = 0.0.0.0/0, ::/0 and a default route present" inA "$BT" up "$TMP/a/bt0.conf"
check "ip rule: not fwmark 51820 lookup 51820, main suppress_prefixlength 0 (v4)" bash -c "
	ip -n $A rule | grep -q 'not from all fwmark 0xca6c lookup 51820' &&
	ip -n $A rule | grep -q 'from all lookup main suppress_prefixlength 0'"
check "ip -6 rule: the same two rules" bash -c "
	ip -n $A -6 rule | grep -q 'not from all fwmark 0xca6c lookup 51820' &&
	ip -n $A -6 rule | grep -q 'from all lookup main suppress_prefixlength 0'"
check "table 51820 holds the default routes via bt0 (v4 and v6)" bash -c "
	ip -n $A route show table 51820 | grep -q '^default dev bt0' &&
	ip -n $A -6 route show table 51820 | grep -q '^default dev bt0'"
check "main keeps its default routes" bash -c "ip -n $A route show default | grep -q 'via 10.80.0.2' && ip -n $A -6 route show default | grep -q 'via fd80::2'"
check "without the mark, B's endpoint would route into the tunnel (the loop)" bash -c "ip -n $A route get 198.18.7.2 | grep -q 'dev bt0'"
check "with mark 51820, B's endpoint routes over the underlay" bash -c "ip -n $A route get 198.18.7.2 mark 51820 | grep -q 'dev va'"
check "src_valid_mark set (as wg-quick)" test "$(inA cat /proc/sys/net/ipv4/conf/all/src_valid_mark)" = 1
check "show: fwmark and policy table" bash -c "ip netns exec $A '$BT' show bt0 | grep -q 'fwmark: 51820' && ip netns exec $A '$BT' show bt0 | grep -q 'policy table: 51820'"
check "show dump: fwmark 0xca6c" bash -c "ip netns exec $A '$BT' show bt0 dump | head -1 | cut -f4 | grep -qx 0xca6c"
check "the key manager's socket carries the mark" bash -c "ip netns exec $A ss -Hunaep 'sport = :$PORT' | grep -q 'fwmark:0xca6c'"
check "handshake completes, ping B's tunnel address" wait_until 15 inA ping -c 1 -W 1 10.9.7.2
rx0=$(peer_json "$B" rx_packets)
inA timeout 20 tcpdump -ni va -c 1 -w "$TMP/plain.pcap" 'icmp[icmptype] == icmp-echo or (icmp6 and ip6[40] == 128)' >/dev/null 2>&1 &
TD=$!
sleep 1
check "ping 10.99.7.1 (only B has it) through the tunnel" inA ping -c 5 -i 0.2 -W 2 10.99.7.1
check "ping6 fd99:7::1 (only B has it) through the tunnel" inA ping -6 -c 5 -i 0.2 -W 2 fd99:7::1
rx1=$(peer_json "$B" rx_packets)
check "B's datapath received them from A ($rx0 -> $rx1, >= 10 more)" test "$rx1" -ge $((rx0 + 10))
kill "$TD" 2>/dev/null; wait "$TD" 2>/dev/null
check "no plaintext echo request on the underlay" bash -c "[ \$(tcpdump -nr $TMP/plain.pcap 2>/dev/null | wc -l) = 0 ]"
check "A's outer packets still reach B over the underlay (B saw A's endpoint)" bash -c "ip netns exec $B '$BT' show bt0 dump | sed -n 2p | cut -f3 | grep -q '^10.80.0.1:'"
check "A's endpoint for B is still 198.18.7.2 (reached by the default route)" bash -c "ip netns exec $A '$BT' show bt0 dump | sed -n 2p | cut -f3 | grep -qx '198.18.7.2:$PORT'"
check "A down" inA "$BT" down bt0
snap "$TMP/after"
check "down restores ip rule, ip -6 rule and every routing table exactly" same "$TMP/before" "$TMP/after"

# --- a failed up (here: DNS, after the rules) rolls the rules back too
# (failing, it exits without reading its input: up must survive the EPIPE)
printf '#!/bin/sh\necho "$*" >>%s/rc.log\n[ -n "${RC_EXIT:-}" ] && exit "$RC_EXIT"\ncat >>%s/rc.log\n' "$TMP" "$TMP" >"$TMP/bin/resolvconf"
chmod 755 "$TMP/bin/resolvconf"
conf "$TMP/a" "$KA" "$PB" "10.9.7.1/24, fd09:7::1/64" "198.18.7.2:$PORT" "0.0.0.0/0, ::/0" \
	"DNS = 10.99.7.53, fd99:7::53, corp.example"
check "up fails when resolvconf fails (after the rules were added)" bash -c "
	! ip netns exec $A env PATH=$TMP/bin:\$PATH RC_EXIT=1 '$BT' up $TMP/a/bt0.conf 2>$TMP/e && grep -q 'resolvconf -a bt0 failed' $TMP/e"
snap "$TMP/after2"
check "the failed up restored rules and routes exactly" same "$TMP/before" "$TMP/after2"
check "and removed the device" bash -c "! ip -n $A link show bt0 2>/dev/null"

# --- DNS
rm -f "$TMP/rc.log"
check "DNS without resolvconf: refused naming DNS, nothing changed" bash -c "
	! ip netns exec $A env PATH=$TMP/nobin '$BT' up $TMP/a/bt0.conf 2>$TMP/e &&
	grep -q 'bt0.conf:5: DNS: resolvconf(8) is not installed' $TMP/e && ! ip -n $A link show bt0 2>/dev/null && [ ! -e $TMP/rc.log ]"
snap "$TMP/after3"
check "the refusal left rules and routes as they were" same "$TMP/before" "$TMP/after3"
check "up with DNS and a resolvconf in PATH" inA env PATH="$TMP/bin:$PATH" "$BT" up "$TMP/a/bt0.conf"
check "resolvconf -a bt0 -m 0 -x got the servers and search line" bash -c "
	grep -qx -- '-a bt0 -m 0 -x' $TMP/rc.log && grep -qx 'nameserver 10.99.7.53' $TMP/rc.log &&
	grep -qx 'nameserver fd99:7::53' $TMP/rc.log && grep -qx 'search corp.example' $TMP/rc.log"
check "traffic with DNS set" wait_until 15 inA ping -c 1 -W 1 10.99.7.1
check "down runs resolvconf -d bt0 -f" bash -c "
	ip netns exec $A env PATH=$TMP/bin:\$PATH '$BT' down bt0 && grep -qx -- '-d bt0 -f' $TMP/rc.log"
snap "$TMP/after4"
check "down restored rules and routes" same "$TMP/before" "$TMP/after4"

# --- crash safety: `up` killed (SIGKILL, bpftun-testhooks) right after each
# rule and after resolvconf; `down` then restores everything
BTH=$BUILD/tunnel/bpftun-testhooks
inA env PATH="$TMP/bin:$PATH" BPFTUN_TEST_STEPS=1 "$BTH" up "$TMP/a/bt0.conf" 2>"$TMP/steps" >/dev/null
inA env PATH="$TMP/bin:$PATH" "$BT" down bt0
steps=$(sed -n 's/.*test: step \([0-9]*\): \(policy rule added\|suppress rule added\|DNS set\)$/\1/p' "$TMP/steps" | tr '\n' ' ')
check "the testhooks build names 2 rule steps per family and the DNS step ($steps)" test "$(echo $steps | wc -w)" = 5
for n in $steps; do
	rm -f "$TMP/rc.log"
	inA env PATH="$TMP/bin:$PATH" BPFTUN_TEST_STOP_AFTER="$n" "$BTH" up "$TMP/a/bt0.conf" >/dev/null 2>&1
	check "killed after step $n: a rule of ours is there" bash -c "ip -n $A rule | grep -q 'lookup 51820'"
	check "killed after step $n: down restores rules and routes exactly" bash -c "
		ip netns exec $A env PATH=$TMP/bin:\$PATH '$BT' down bt0 >/dev/null 2>&1; $(declare -f snap inA); A=$A snap $TMP/crash && diff $TMP/before $TMP/crash"
done
check "after the DNS step's kill, down ran resolvconf -d bt0 -f" grep -qx -- '-d bt0 -f' "$TMP/rc.log"

# --- FwMark without a full tunnel: B's endpoint only for marked packets
ip -n "$A" route del default via 10.80.0.2 dev va
ip -n "$A" route add 198.18.7.2/32 via 10.80.0.2 dev va table 77
ip -n "$A" rule add fwmark 0x1234 table 77 priority 100
conf "$TMP/a" "$KA" "$PB" "10.9.7.1/24" "198.18.7.2:$PORT" "10.99.7.0/24, 10.9.7.2/32" "FwMark = 0x1234"
check "control: unmarked, there is no route to B's endpoint" bash -c "! ip -n $A route get 198.18.7.2 >/dev/null 2>&1"
check "A up with FwMark = 0x1234 (up's route lookup carries the mark)" inA "$BT" up "$TMP/a/bt0.conf"
check "no policy rule of bpftun's (no /0)" bash -c "! ip -n $A rule | grep -q suppress_prefixlength"
check "handshake (SO_MARK) and data (tc_seal's skb->mark): ping 10.99.7.1" wait_until 15 inA ping -c 1 -W 1 10.99.7.1
check "5 more pings" inA ping -c 5 -i 0.2 -W 2 10.99.7.1
check "A's endpoint for B is still 198.18.7.2" bash -c "ip netns exec $A '$BT' show bt0 dump | sed -n 2p | cut -f3 | grep -qx '198.18.7.2:$PORT'"
check "A down" inA "$BT" down bt0
ip -n "$A" rule del fwmark 0x1234 table 77 priority 100
ip -n "$A" route add default via 10.80.0.2 dev va

# --- Table = NUMBER and Table = off (as wg-quick: no rules)
snap "$TMP/before5"
conf "$TMP/a" "$KA" "$PB" "10.9.7.1/24" "198.18.7.2:$PORT" "10.99.7.0/24, 0.0.0.0/0" "Table = 1234"
check "Table = 1234: up" inA "$BT" up "$TMP/a/bt0.conf"
check "Table = 1234: both routes in table 1234, none in main, no rules" bash -c "
	ip -n $A route show table 1234 | grep -q '^10.99.7.0/24 dev bt0' && ip -n $A route show table 1234 | grep -q '^default dev bt0' &&
	! ip -n $A route show table main | grep -q 10.99.7 && ! ip -n $A rule | grep -q 1234"
check "Table = 1234: down restores" bash -c "ip netns exec $A '$BT' down bt0 && $(declare -f snap inA); A=$A snap $TMP/after5 && diff $TMP/before5 $TMP/after5"
conf "$TMP/a" "$KA" "$PB" "10.9.7.1/24" "198.18.7.2:$PORT" "10.99.7.0/24" "Table = off"
check "Table = off: up, no route for AllowedIPs" bash -c "
	ip netns exec $A '$BT' up $TMP/a/bt0.conf && ! ip -n $A route show table all | grep -q 10.99.7"
check "Table = off: down" inA "$BT" down bt0
check_summary
