#!/usr/bin/env bash
# netns_transit.sh - a router that runs its own bpftun on the same port must
# forward other people's traffic to that port untouched (issue 13, item 0).
#
#   A: va 10.77.1.1 fd77:1::1 --- ra | R | rb --- vb 10.77.2.2 fd77:2::2 :B
#                                    | R | rc --- vc 10.77.3.3 fd77:3::3 :C
#
# R forwards (IPv4 and IPv6) and runs `bpftun up` with ListenPort 51820 and
# two peers whose endpoints lie behind ra and rb, so R's tc_open sits on both
# of its devices that the transit traffic enters. A and B run a bpftun tunnel
# with each other on 51820 through R. C runs no bpftun, only a UDP socket on
# 51820. Checked:
#   - the A-B tunnel works through R, over outer IPv4 and outer IPv6;
#   - plain UDP datagrams whose first byte is 4 (a bpftun or WireGuard data
#     message as far as a port-and-type filter can tell) from A to C:51820,
#     over IPv4 and IPv6, all arrive, byte for byte;
#   - R counted nothing for any of it (bpftun show --json: no packets, no
#     drops, per peer and unattributed);
#   - and R's tc_open is live: data messages addressed to R itself are judged
#     by it (counted as no_sa), so the zero counts above are not an accident.
# Old code: tc_open on R took every type-4 datagram to its port, whatever its
# destination, and dropped them as no_sa: no ping through, no UDP datagram
# through, and R's no_sa counter grew.
#
# usage: netns_transit.sh BUILD_DIR
set -u

BUILD=$(cd "${1:?usage: netns_transit.sh BUILD_DIR}" && pwd)
BT=$BUILD/tunnel/bpftun
A="bt-xa-$$"
B="bt-xb-$$"
R="bt-xr-$$"
C="bt-xc-$$"
TMP=$(mktemp -d /tmp/bt-transit-XXXXXX)
PORT=51820

# shellcheck source=../scripts/lib/netns.sh
. "$(dirname "$0")/../scripts/lib/netns.sh"
cleanup() {
	ns_remove "$A" "$B" "$R" "$C"
	rm -rf "$TMP"
	return 0
}
trap cleanup EXIT INT TERM

# shellcheck source=lib/check.sh
. "$(dirname "$0")/lib/check.sh"

command -v python3 >/dev/null || { echo "FAIL: python3 missing (scripts/install-deps.sh)"; exit 1; }

inA() { ip netns exec "$A" "$@"; }
inB() { ip netns exec "$B" "$@"; }
inR() { ip netns exec "$R" "$@"; }

topology() {
	ip netns add "$A" && ip netns add "$B" && ip netns add "$R" && ip netns add "$C" || return 1
	ip link add va netns "$A" type veth peer name ra netns "$R" || return 1
	ip link add vb netns "$B" type veth peer name rb netns "$R" || return 1
	ip link add vc netns "$C" type veth peer name rc netns "$R" || return 1
	for ns in "$A" "$B" "$R" "$C"; do ip -n "$ns" link set lo up; done
	ip -n "$A" addr add 10.77.1.1/24 dev va
	ip -n "$A" addr add fd77:1::1/64 dev va nodad
	ip -n "$B" addr add 10.77.2.2/24 dev vb
	ip -n "$B" addr add fd77:2::2/64 dev vb nodad
	ip -n "$C" addr add 10.77.3.3/24 dev vc
	ip -n "$C" addr add fd77:3::3/64 dev vc nodad
	ip -n "$R" addr add 10.77.1.254/24 dev ra
	ip -n "$R" addr add fd77:1::fe/64 dev ra nodad
	ip -n "$R" addr add 10.77.2.254/24 dev rb
	ip -n "$R" addr add fd77:2::fe/64 dev rb nodad
	ip -n "$R" addr add 10.77.3.254/24 dev rc
	ip -n "$R" addr add fd77:3::fe/64 dev rc nodad
	for d in "$A va" "$B vb" "$C vc" "$R ra" "$R rb" "$R rc"; do
		set -- $d
		ip -n "$1" link set "$2" up
		ip netns exec "$1" ethtool -K "$2" tx off >/dev/null
	done
	inR sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
	for d in "$A 1" "$B 2" "$C 3"; do
		set -- $d
		ip -n "$1" route add default via 10.77.$2.254
		ip -n "$1" -6 route add default via fd77:$2::fe
	done
}

# conf DIR PRIV ADDRS PEERS...: DIR/bt0.conf (the file name is the
# interface's); each PEER is "PUB|ENDPOINT|ALLOWED"
conf() {
	local f=$1/bt0.conf priv=$2 addrs=$3 p
	mkdir -p "$1" || return 1
	shift 3
	(
		umask 077
		printf '[Interface]\nPrivateKey = %s\nListenPort = %s\nAddress = %s\nProtocol = bpftun\n' \
			"$priv" "$PORT" "$addrs" >"$f"
		for p in "$@"; do
			IFS='|' read -r pub ep allowed <<<"$p"
			printf '\n[Peer]\nPublicKey = %s\nEndpoint = %s\nAllowedIPs = %s\n' \
				"$pub" "$ep" "$allowed" >>"$f"
		done
	)
}

# R's own tunnel: two peers that never answer, one behind ra, one behind rb
# (addresses inside our namespaces' subnets that nobody owns).
router_up() {
	local k1 k2
	k1=$("$BT" genkey | "$BT" pubkey) && k2=$("$BT" genkey | "$BT" pubkey) || return 1
	conf "$TMP/r" "$("$BT" genkey)" "10.66.0.254/24" \
		"$k1|10.77.1.99:$PORT|10.66.0.1/32" "$k2|10.77.2.99:$PORT|10.66.0.2/32"
	inR "$BT" up "$TMP/r/bt0.conf" || return 1
	# tc_open must be on both devices the transit traffic enters
	for d in ra rb; do
		inR tc filter show dev $d ingress | grep -q 'tc_open' ||
			{ echo "no tc_open on R's $d"; return 1; }
	done
}

pair_up() { # OUTER
	local ea eb ka kb
	if [ "$1" = 6 ]; then ea="[fd77:1::1]:$PORT" eb="[fd77:2::2]:$PORT"
	else ea="10.77.1.1:$PORT" eb="10.77.2.2:$PORT"; fi
	ka=$("$BT" genkey) && kb=$("$BT" genkey) || return 1
	conf "$TMP/a" "$ka" "10.9.0.1/24" "$(echo "$kb" | "$BT" pubkey)|$eb|10.9.0.2/32"
	conf "$TMP/b" "$kb" "10.9.0.2/24" "$(echo "$ka" | "$BT" pubkey)|$ea|10.9.0.1/32"
	inA "$BT" up "$TMP/a/bt0.conf" && inB "$BT" up "$TMP/b/bt0.conf"
}

pair_down() {
	inA "$BT" down bt0 && inB "$BT" down bt0
}

# R's counters from `bpftun show --json`: the sum, over peers and the
# unattributed drops, of every counter tc_open can move (rx_packets and the
# drop reasons except the seal-only ones: no_peer, no_route, csum_partial,
# counter_exhausted; R's own stack sends an IGMP report into its tunnel
# device when it comes up, and tc_seal counts that as no_peer); or, with an
# argument, one drop reason.
r_total() {
	inR "$BT" show bt0 --json >"$TMP/r.json" || { echo x; return; }
	python3 - "$TMP/r.json" "${1:-}" <<'EOF'
import json, sys
i = json.load(open(sys.argv[1]))['interfaces'][0]
reason = sys.argv[2]
if reason:
    print(i['drops'][reason] + sum(p['drops'][reason] for p in i['peers']))
else:
    seal_only = ('no_peer', 'no_route', 'csum_partial', 'counter_exhausted')
    opened = lambda d: sum(v for k, v in d.items() if k not in seal_only)
    n = opened(i['drops'])
    for p in i['peers']:
        n += p['rx_packets'] + opened(p['drops'])
    print(n)
EOF
}

r_zero() {
	local n
	n=$(r_total)
	echo "R's tc_open counted $n packets and drops"
	inR "$BT" show bt0 --json
	[ "$n" = 0 ]
}

# udp_flow SRC_NS DST_ADDR N: N datagrams starting with byte 4 to DST:51820
# from SRC_NS to C's socket; all must arrive intact.
udp_flow() {
	local dst=$2 n=$3 rcv
	# resolve the neighbours on the path first (ICMP, not what is tested),
	# so that a slow ND or ARP under load cannot eat the first datagrams
	ip netns exec "$1" ping -c 1 -W 3 "$dst" >/dev/null 2>&1
	ip netns exec "$C" timeout 40 python3 - "$n" "$TMP/got" <<'EOF' &
import socket, sys
n, out = int(sys.argv[1]), sys.argv[2]
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
s.bind(('::', 51820))
open(out + '.ready', 'w').close()
s.settimeout(15)
got = []
try:
    while len(got) < n:
        got.append(s.recv(2048))
except socket.timeout:
    pass
open(out, 'w').write('\n'.join(g[1:].decode() for g in got if g[:1] == b'\x04'))
EOF
	rcv=$!
	for _ in $(seq 1 100); do [ -e "$TMP/got.ready" ] && break; sleep 0.1; done
	[ -e "$TMP/got.ready" ] || echo "C's socket not ready after 10 s"
	ip netns exec "$1" python3 - "$dst" "$n" <<'EOF'
import socket, sys, time
dst, n = sys.argv[1], int(sys.argv[2])
fam = socket.AF_INET6 if ':' in dst else socket.AF_INET
s = socket.socket(fam, socket.SOCK_DGRAM)
for i in range(n):
    # type 4, three zero bytes, a receiver index R does not know, a counter
    s.sendto(b'\x04' + b'transit-%03d-' % i + b'\0' * 40, (dst, 51820))
    time.sleep(0.01)
EOF
	wait "$rcv"
	local got
	got=$(grep -c '^transit-' "$TMP/got" 2>/dev/null)
	rm -f "$TMP/got" "$TMP/got.ready"
	echo "${got:-0} of $n datagrams arrived at C"
	[ "${got:-0}" = "$n" ] && return 0
	echo "R's neighbours:"; inR ip neigh show
	echo "R's counters:"; inR "$BT" show bt0 --json
	return 1
}

# to_router N ADDR: N data messages addressed to R itself are R's to judge
to_router() {
	local before after
	before=$(r_total no_sa)
	[ "$before" != x ] || return 1
	inA python3 - "$2" "$1" <<'EOF'
import socket, sys
dst, n = sys.argv[1], int(sys.argv[2])
s = socket.socket(socket.AF_INET6 if ':' in dst else socket.AF_INET, socket.SOCK_DGRAM)
for i in range(n):
    s.sendto(b'\x04\0\0\0' + b'\xee' * 60, (dst, 51820))
EOF
	for _ in $(seq 1 20); do
		after=$(r_total no_sa)
		[ "$after" = $((before + $1)) ] && break
		sleep 0.1
	done
	echo "R's no_sa went from $before to $after"
	[ "$after" = $((before + $1)) ]
}

check "topology: A - R - B, and C behind R" topology
check "R runs its own bpftun on port $PORT, tc_open on ra and rb" router_up

for outer in 4 6; do
	echo "== A-B tunnel over outer IPv$outer through R"
	check "outer v$outer: bpftun up on A and B" pair_up $outer
	check "outer v$outer: 5/5 pings through the A-B tunnel across R" \
		inA ping -c 5 -i 0.2 -W 3 10.9.0.2
	check "outer v$outer: 5/5 pings from B's side too" inB ping -c 5 -i 0.2 -W 3 10.9.0.1
	check "outer v$outer: A and B torn down" pair_down
done

echo "== third-party UDP to port $PORT through R"
check "20/20 type-4 datagrams A -> C:$PORT over IPv4 cross R intact" udp_flow "$A" 10.77.3.3 20
check "20/20 type-4 datagrams A -> C:$PORT over IPv6 cross R intact" udp_flow "$A" fd77:3::3 20
check "20/20 type-4 datagrams B -> C:$PORT over IPv4 cross R intact" udp_flow "$B" 10.77.3.3 20

echo "== R's counters"
check "R's tc_open counted nothing: no rx packet, no drop, per peer or unattributed" r_zero
check "R's tc_open is live: 5 data messages to R's own IPv4 address -> 5 no_sa" \
	to_router 5 10.77.1.254
check "R's tc_open is live: 5 data messages to R's own IPv6 address -> 5 no_sa" \
	to_router 5 fd77:1::fe
check "bpftun down on R" inR "$BT" down bt0

check_summary
