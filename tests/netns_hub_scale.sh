#!/usr/bin/env bash
# netns_hub_scale.sh - a hub with many peers: `bpftun up` of a generated
# config with N peers (default 10,000; one /32 AllowedIPs each, no
# endpoints) in a network namespace of its own, `bpftun show` lists them
# all, the datapath's maps are sized for them (16,384: the power of two
# above N + N/4), and `bpftun down` leaves nothing: no device, no route, no
# key manager, no log, no map. Times are printed, not asserted (the bench
# figures are in docs/datapath.md, "Scale"); the test is bounded by a
# deadline of its own.
#
# usage: netns_hub_scale.sh BUILD_DIR [N]
set -u

BUILD=$(cd "${1:?usage: netns_hub_scale.sh BUILD_DIR [N]}" && pwd)
N=${2:-10000}
BT=$BUILD/tunnel/bpftun
NS="bt-hub-$$"
TMP=$(mktemp -d /tmp/bt-hub-XXXXXX)
IF=bthub0

# shellcheck source=../scripts/lib/netns.sh
. "$(dirname "$0")/../scripts/lib/netns.sh"
cleanup() {
	ns_remove "$NS"
	rm -rf "$TMP"
	return 0
}
trap 'kill "$WATCHDOG" 2>/dev/null; cleanup' EXIT
trap 'exit 143' INT TERM

# shellcheck source=lib/check.sh
. "$(dirname "$0")/lib/check.sh"
deadline 150

inN() { ip netns exec "$NS" "$@"; }
json() { python3 -c "import json,sys; j=json.load(open(sys.argv[1])); print($2)" "$1"; }

ip netns add "$NS" && ip -n "$NS" link set lo up || { echo "FAIL: namespace"; exit 1; }
KEY=$("$BT" genkey)
# N peers with random public keys, AllowedIPs 10.64.0.0 + i
(umask 077 && python3 - "$KEY" "$N" >"$TMP/$IF.conf" <<'PY'
import base64, os, sys
key, n = sys.argv[1], int(sys.argv[2])
print("[Interface]\nPrivateKey = %s\nListenPort = 51999\nAddress = 10.63.0.1/16\nProtocol = bpftun" % key)
for i in range(n):
    print("\n[Peer]\nPublicKey = %s\nAllowedIPs = 10.%d.%d.%d/32" % (
        base64.b64encode(os.urandom(32)).decode(), 64 + (i >> 16), (i >> 8) & 255, i & 255))
PY
)
LAST="10.$((64 + ((N - 1) >> 16))).$((((N - 1) >> 8) & 255)).$(((N - 1) & 255))/32"
WANT=$(python3 -c "n=$N; c=256
while c < n + n // 4 and c < 16384: c *= 2
print(min(c, 16384))")

t0=$(date +%s.%N)
check "bpftun up with $N peers" inN "$BT" up "$TMP/$IF.conf"
t1=$(date +%s.%N)
echo "  up took $(python3 -c "print(round($t1 - $t0, 2))") s"
check "bpftun show --json lists $N peers, the last with $LAST" bash -c "
	ip netns exec $NS $BT show $IF --json >$TMP/s.json &&
	[ \"\$(python3 -c \"import json; j=json.load(open('$TMP/s.json'))['interfaces'][0]['peers']; print(len(j), j[-1]['allowed_ips'])\")\" = \"$N ['$LAST']\" ]"
t2=$(date +%s.%N)
echo "  show --json took $(python3 -c "print(round($t2 - $t1, 2))") s"
check "$N routes through $IF" bash -c "[ \$(ip netns exec $NS ip route show dev $IF | grep -c '^10\.') -ge $N ]"

# The datapath's maps, from tc_seal's program on the hidden veth end.
PROG=$(inN tc -j filter show dev "$IF-s" ingress |
	python3 -c "import json,sys; print([f['options']['prog']['id'] for f in json.load(sys.stdin) if 'prog' in f.get('options', {})][0])")
MAPS=$(bpftool prog show id "$PROG" -j | python3 -c "import json,sys; print(' '.join(map(str, json.load(sys.stdin)['map_ids'])))")
bpftool map show -j >"$TMP/maps.json"
check "maps sized for $N peers: peers $WANT, tx_sas/rx_refs/rx_sas $((WANT * 3)), stats $((WANT + 1))" python3 -c "
import json
m = {x['name']: x for x in json.load(open('$TMP/maps.json')) if str(x['id']) in '$MAPS'.split()}
want = {'peers': $WANT, 'tx_sas': $((WANT * 3)), 'rx_refs': $((WANT * 3)), 'rx_sas': $((WANT * 3)), 'stats': $((WANT + 1))}
got = {k: m[k]['max_entries'] for k in want}
print(got, 'memlock total', sum(x['bytes_memlock'] for x in m.values()))
assert got == want, (got, want)"
python3 -c "
import json
m = [x for x in json.load(open('$TMP/maps.json')) if str(x['id']) in '$MAPS'.split()]
print('  BPF map memlock: %d bytes for $N peers' % sum(x['bytes_memlock'] for x in m))"

t3=$(date +%s.%N)
check "bpftun down" inN "$BT" down "$IF"
echo "  down took $(python3 -c "print(round($(date +%s.%N) - $t3, 2))") s"
check "down leaves only lo, no route" bash -c "
	[ \"\$(ip netns exec $NS ip -br link | awk '{print \$1}')\" = lo ] &&
	[ -z \"\$(ip netns exec $NS ip route; ip netns exec $NS ip -6 route | grep -v '^fe80\|^ff00\|^::1')\" ]"
check "down leaves no key manager and no log in /run/bpftun" bash -c "
	! ip netns pids $NS | grep -q . &&
	ino=\$(ip netns exec $NS stat -Lc %i /proc/self/ns/net) &&
	! ls /run/bpftun/\$ino-* 2>/dev/null | grep -q ."
check "down leaves none of the datapath's maps" wait_until 10 bash -c "
	for id in $MAPS; do bpftool map show id \$id >/dev/null 2>&1 && exit 1; done; exit 0"
check_summary
