#!/usr/bin/env bash
# bench_km_tick.sh - what an idle key manager costs at hub scale: a hub with
# N peers (netns_hub_scale.sh's config: random public keys, one /32 each, no
# endpoints) is brought up in a network namespace of its own, the key manager
# is left alone for SECS seconds, and its CPU time is reported (utime+stime
# from /proc/PID/stat, and the scheduler's run time from /proc/PID/schedstat,
# which has nanosecond resolution), then its syscalls per tick from
# `strace -c -f -p PID` over STRACE seconds: every syscall counted, divided by
# the poll() calls (the idle event loop polls once and ticks once per pass;
# strace slows the process down, so the CPU figures are taken before it
# attaches). With several builds
# (--build NAME=DIR, repeated), each round runs each build once, in turn, so
# that noise on the machine lands on all alike; the table gives every
# round and the median per build.
#
# usage: bench_km_tick.sh [--peers N] [--secs T] [--strace S] [--rounds R]
#                         [--protocol bpftun|wireguard] [--build NAME=DIR]...
# Default: --peers 10000 --secs 20 --strace 5 --rounds 1 --protocol bpftun,
# one build: $BUILD (bench/bench sets it) or build/.
set -u
here=$(cd "$(dirname "$0")" && pwd)
N=10000 SECS=20 STRACE=5 ROUNDS=1 PROTO=bpftun
BUILDS=()
while [ $# -gt 0 ]; do
	case $1 in
	--peers) N=$2; shift 2 ;;
	--secs) SECS=$2; shift 2 ;;
	--strace) STRACE=$2; shift 2 ;;
	--rounds) ROUNDS=$2; shift 2 ;;
	--protocol) PROTO=$2; shift 2 ;;
	--build) BUILDS+=("$2"); shift 2 ;;
	-h | --help) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "bench_km_tick: unknown option '$1' (--help)" >&2; exit 2 ;;
	esac
done
case $PROTO in bpftun | wireguard) ;; *) echo "bench_km_tick: --protocol bpftun|wireguard, not '$PROTO'" >&2; exit 2 ;; esac
for v in "$N" "$SECS" "$STRACE" "$ROUNDS"; do
	case $v in '' | *[!0-9]*) echo "bench_km_tick: '$v' is not a whole number" >&2; exit 2 ;; esac
done
[ ${#BUILDS[@]} -gt 0 ] || BUILDS=("this=${BUILD:-$here/../build}")
for b in "${BUILDS[@]}"; do
	case $b in *=*) ;; *) echo "bench_km_tick: --build NAME=DIR, not '$b'" >&2; exit 2 ;; esac
	[ -x "${b#*=}/tunnel/bpftun" ] || { echo "bench_km_tick: no ${b#*=}/tunnel/bpftun (build it first)" >&2; exit 2; }
done
[ "$(id -u)" = 0 ] || { echo "bench_km_tick: needs root (BPF, network namespaces)" >&2; exit 2; }

NS="bt-kmtick-$$"
TMP=$(mktemp -d /tmp/bt-kmtick-XXXXXX)
IF=btkm0
# shellcheck source=../scripts/lib/netns.sh
. "$here/../scripts/lib/netns.sh"
trap 'ns_remove "$NS"; rm -rf "$TMP"' EXIT
trap 'exit 143' INT TERM

# N peers with random public keys, AllowedIPs 10.64.0.0 + i (netns_hub_scale.sh)
KEY=$("${BUILDS[0]#*=}/tunnel/bpftun" genkey)
(umask 077 && python3 - "$KEY" "$N" "$PROTO" >"$TMP/$IF.conf" <<'PY'
import base64, os, sys
key, n, proto = sys.argv[1], int(sys.argv[2]), sys.argv[3]
print("[Interface]\nPrivateKey = %s\nListenPort = 51999\nAddress = 10.63.0.1/16\nProtocol = %s" % (key, proto))
for i in range(n):
    print("\n[Peer]\nPublicKey = %s\nAllowedIPs = 10.%d.%d.%d/32" % (
        base64.b64encode(os.urandom(32)).decode(), 64 + (i >> 16), (i >> 8) & 255, i & 255))
PY
)

hz=$(getconf CLK_TCK)
# one run: prints "cpu_stat_pct cpu_sched_pct syscalls_per_tick bpf_per_tick"
run_one() {
	local bt=$1/tunnel/bpftun pid s0 s1 r0 r1 t0 t1
	ip netns add "$NS" && ip -n "$NS" link set lo up || return 1
	ip netns exec "$NS" "$bt" up "$TMP/$IF.conf" >"$TMP/up.log" 2>&1 || { cat "$TMP/up.log" >&2; return 1; }
	pid=$(ip netns pids "$NS" | head -1)
	[ -n "$pid" ] || { echo "no key manager" >&2; return 1; }
	sleep 3 # past the start (resume, first ticks)
	s0=$(awk '{print $14 + $15}' "/proc/$pid/stat") r0=$(awk '{print $1}' "/proc/$pid/schedstat") t0=$(date +%s.%N)
	sleep "$SECS"
	s1=$(awk '{print $14 + $15}' "/proc/$pid/stat") r1=$(awk '{print $1}' "/proc/$pid/schedstat") t1=$(date +%s.%N)
	timeout -s INT "$STRACE" strace -c -f -q -p "$pid" -o "$TMP/strace.txt" 2>/dev/null
	ip netns exec "$NS" "$bt" down "$IF" >/dev/null 2>&1
	ns_remove "$NS"
	python3 - "$s0" "$s1" "$r0" "$r1" "$t0" "$t1" "$hz" "$STRACE" "$TMP/strace.txt" <<'PY'
import sys
s0, s1, r0, r1, t0, t1, hz, secs = map(float, sys.argv[1:9])
calls = bpf = polls = 0
for line in open(sys.argv[9]):
    f = line.split()
    if len(f) >= 5 and f[0][0].isdigit() and f[-1] != "total":
        n = int(f[3])
        calls += n
        bpf += n if f[-1] == "bpf" else 0
        polls += n if f[-1] in ("poll", "ppoll") else 0
# one poll per pass of the idle event loop, one tick per pass (keymgmt.c run)
ticks = polls or secs * 10
el = t1 - t0
print("%.2f %.2f %.0f %.0f" % (100 * (s1 - s0) / hz / el, 100 * (r1 - r0) / 1e9 / el, calls / ticks, bpf / ticks))
PY
}

echo "key manager idle, $N peers, Protocol = $PROTO: CPU over $SECS s, syscalls per tick over $STRACE s of strace"
printf '%-12s %5s %14s %15s %16s %13s\n' build round "cpu% (stat)" "cpu% (sched)" "syscalls/tick" "bpf()/tick"
for r in $(seq 1 "$ROUNDS"); do
	for b in "${BUILDS[@]}"; do
		out=$(run_one "${b#*=}") || { echo "bench_km_tick: run of ${b%%=*} failed" >&2; exit 1; }
		echo "${b%%=*} $out" >>"$TMP/results"
		# shellcheck disable=SC2086
		printf '%-12s %5s %14s %15s %16s %13s\n' "${b%%=*}" "$r" $out
	done
done
python3 - "$TMP/results" <<'PY'
import statistics, sys
rows = {}
for line in open(sys.argv[1]):
    f = line.split()
    rows.setdefault(f[0], []).append(list(map(float, f[1:])))
print("median:")
med = {}
for k, v in rows.items():
    med[k] = [statistics.median(c) for c in zip(*v)]
    print("%-12s %5s %14.2f %15.2f %16.0f %13.0f" % (k, "", *med[k]))
names = list(med)
if len(names) > 1:
    a = med[names[0]][1]
    for k in names[1:]:
        if med[k][1] > 0:
            print("cpu (sched) %s / %s: %.1f" % (names[0], k, a / med[k][1]))
PY
