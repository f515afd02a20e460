#!/usr/bin/env bash
# bench_tunnel.sh - bpftun side by side with plain veth, wireguard-go and
# OpenVPN 2.6, in one run, on two network namespaces joined by a veth pair.
#
#   ns A (client)                               ns B (server)
#   va 10.77.0.1/24  <------- veth ------->     vb 10.77.0.2/24   (underlay)
#   tunnel 10.X.0.1                             tunnel 10.X.0.2   (MTU 1420)
#
# Scenarios (each set up in fresh namespaces and torn down after its tests):
#   veth            no tunnel: iperf3 straight over the underlay (the ceiling)
#   bpftun-aft      bpftun, Cipher = aes-fixed-time (constant time, the default)
#   bpftun-gen      bpftun, Cipher = aes-generic (table-based, faster)
#   wireguard-go    userspace WireGuard over TUN, configured with `wg set`
#   openvpn         OpenVPN 2.6 p2p over UDP, TLS with run-time certificates,
#                   --data-ciphers AES-256-GCM, no DCO
# Tests per scenario, A -> B:
#   tcp1 / tcp2     iperf3 TCP, 1 and 2 streams (-P 2), first second omitted
#   udp1400         iperf3 UDP -b 0, 1372-byte payload = 1400-byte IP packets
#   udp64           iperf3 UDP -b 0 -l 64: delivered packets per second
#   ping            ICMP RTT, -i 0.01: median, p99 (CPUs idle between packets:
#                   includes the VM's vCPU wake-up latency)
#   pingbusy        ICMP RTT, -i 0.0002: the same with the CPUs kept busy
#   sockperf        UDP ping-pong RTT (--full-rtt), 64 B, back to back: median, p99
# and around every iperf3 run: machine CPU from /proc/stat deltas, and the CPU
# time of the scenario's daemons (wireguard-go, openvpn, bpftun-keymgmt).
#
# usage: bench_tunnel.sh [--quick] [--time S] [--rounds N] [--only LIST]
#                        [--out DIR] [--build DIR] [--no-crypto] [--no-plot]
set -uo pipefail

TOP=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$TOP/build}
OUT=$TOP/bench/results
QUICK=0
T=
ROUNDS=
ONLY=
CRYPTO=1
PLOT=1
ALL_SCEN="veth bpftun-aft bpftun-gen wireguard-go openvpn"

usage() {
	sed -n '2,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//'
	cat <<EOF
options:
  --quick       2 s per iperf3 test, 1 round, short latency runs: < 3 min
  --time S      seconds per iperf3 test (full: 6, quick: 2)
  --rounds N    rounds over all scenarios, order rotated each round (full: 3)
                every figure in the summary is the median over the rounds
  --only LIST   comma-separated subset of: ${ALL_SCEN// /,}
  --out DIR     where tunnel-<date>.json, latest.json and PNGs go ($OUT)
  --build DIR   build directory with tunnel/bpftun, bench/bench_crypto ($BUILD)
  --no-crypto   do not run bench_crypto (no cost-by-size plot or crypto ratios)
  --no-plot     do not draw PNGs
EOF
}

while [ $# -gt 0 ]; do
	case $1 in
	--quick) QUICK=1 ;;
	--time) T=${2:?}; shift ;;
	--rounds) ROUNDS=${2:?}; shift ;;
	--only) ONLY=${2:?}; shift ;;
	--out) OUT=${2:?}; shift ;;
	--build) BUILD=${2:?}; shift ;;
	--no-crypto) CRYPTO=0 ;;
	--no-plot) PLOT=0 ;;
	-h | --help) usage; exit 0 ;;
	*) echo "bench_tunnel: unknown option '$1' (--help)" >&2; exit 2 ;;
	esac
	shift
done

if [ "$QUICK" = 1 ]; then
	T=${T:-2} ROUNDS=${ROUNDS:-1} PING_N=50 PINGB_N=500 SP_T=2 CRYPTO_SAMPLES=300
else
	T=${T:-6} ROUNDS=${ROUNDS:-3} PING_N=100 PINGB_N=1000 SP_T=3 CRYPTO_SAMPLES=2000
fi
case $T in '' | *[!0-9]* | 0) echo "bench_tunnel: --time must be a positive integer" >&2; exit 2 ;; esac
case $ROUNDS in '' | *[!0-9]* | 0) echo "bench_tunnel: --rounds must be a positive integer" >&2; exit 2 ;; esac
[ "$T" -le 60 ] && [ "$ROUNDS" -le 20 ] || { echo "bench_tunnel: --time <= 60, --rounds <= 20" >&2; exit 2; }
SCEN=$ALL_SCEN
if [ -n "$ONLY" ]; then
	SCEN=
	for s in ${ONLY//,/ }; do
		case " $ALL_SCEN " in *" $s "*) SCEN="$SCEN $s" ;; *) echo "bench_tunnel: unknown scenario '$s'" >&2; exit 2 ;; esac
	done
fi

if [ "$(id -u)" -ne 0 ]; then
	echo "bench_tunnel: run as root (namespaces, BPF)" >&2
	exit 1
fi
for t in ip iperf3 ping python3 ss timeout openssl; do
	command -v "$t" >/dev/null || { echo "bench_tunnel: '$t' missing (bench/install-bench-deps.sh)" >&2; exit 1; }
done
BT=$BUILD/tunnel/bpftun
BENCH_CRYPTO=$BUILD/bench/bench_crypto
mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf

TMP=$(mktemp -d /tmp/bench-tunnel-XXXXXX)
REC=$TMP/records.jsonl
: >"$REC"
NSLIST=()
WGSOCKS=()
NA= NB=
START=$(date +%s)
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
CLK_TCK=$(getconf CLK_TCK)

# Every process a scenario started lives in A or B: stop them by pid, then the
# namespaces. Bounded: 20 x 0.1 s per namespace before SIGKILL.
ns_kill() {
	local ns=$1 pids
	pids=$(ip netns pids "$ns" 2>/dev/null) || return 0
	[ -z "$pids" ] && return 0
	kill $pids 2>/dev/null
	for _ in $(seq 1 20); do
		pids=$(ip netns pids "$ns" 2>/dev/null)
		[ -z "$pids" ] && return 0
		sleep 0.1
	done
	kill -9 $pids 2>/dev/null
	sleep 0.1
}
ns_del() {
	local ns=$1
	ip netns list 2>/dev/null | awk '{print $1}' | grep -qxF -- "$ns" || return 0
	if [ -x "$BT" ] && ip -n "$ns" link show bt0 >/dev/null 2>&1; then
		timeout 10 ip netns exec "$ns" "$BT" down bt0 >/dev/null 2>&1
	fi
	ns_kill "$ns"
	ip netns del "$ns" 2>/dev/null
}
cleanup() {
	local ns s
	for ns in "${NSLIST[@]}"; do ns_del "$ns"; done
	for s in "${WGSOCKS[@]}"; do rm -f "$s"; done
	rm -rf "$TMP"
	return 0
}
trap cleanup EXIT
trap 'echo; echo "bench_tunnel: interrupted" >&2; exit 130' INT TERM

inA() { ip netns exec "$NA" "$@"; }
inB() { ip netns exec "$NB" "$@"; }
elapsed() { echo $(($(date +%s) - START)); }
since() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }'; }
say() { printf '[%4ss] %s\n' "$(elapsed)" "$*"; }

# ------------------------------------------------------------ the parser
# One helper for every raw output: it appends one JSON record to $REC and
# prints a one-line summary. The final report is built from $REC alone.
cat >"$TMP/parse.py" <<'PYEOF'
import json, sys, re, statistics

def pct(xs, p):
    xs = sorted(xs)
    if not xs:
        return None
    k = (len(xs) - 1) * p / 100.0
    f = int(k)
    c = min(f + 1, len(xs) - 1)
    return xs[f] + (xs[c] - xs[f]) * (k - f)

def snap(path):
    """/proc/stat cpu line + daemon pids' utime/stime, as written by cpu_snap."""
    d = {"t": None, "cpu": None, "pids": {}}
    for line in open(path):
        w = line.split()
        if not w:
            continue
        if w[0] == "wall":
            d["t"] = float(w[1])
        elif w[0] == "cpu":
            d["cpu"] = [int(x) for x in w[1:]]
        elif w[0] == "pid" and len(w) >= 5:
            d["pids"][w[1]] = (int(w[2]) + int(w[3]), w[4])
    return d

def cpu_delta(p0, p1, hz):
    a, b = snap(p0), snap(p1)
    if a["cpu"] is None or b["cpu"] is None:
        return None
    names = ["user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal"]
    d = {n: (b["cpu"][i] - a["cpu"][i]) / hz for i, n in enumerate(names)}
    wall = b["t"] - a["t"]
    busy = d["user"] + d["nice"] + d["system"] + d["irq"] + d["softirq"]
    daemons = {}
    for pid, (ticks, comm) in b["pids"].items():
        if pid in a["pids"]:
            daemons.setdefault(comm, 0.0)
            daemons[comm] += (ticks - a["pids"][pid][0]) / hz
    return {
        "wall_s": round(wall, 3),
        "busy_cpu_s": round(busy, 3),
        "busy_cores": round(busy / wall, 3) if wall > 0 else None,
        "user_s": round(d["user"] + d["nice"], 3),
        "system_s": round(d["system"], 3),
        "softirq_s": round(d["softirq"] + d["irq"], 3),
        "steal_s": round(d["steal"], 3),
        "idle_s": round(d["idle"] + d["iowait"], 3),
        "daemon_cpu_s": round(sum(daemons.values()), 3),
        "daemons": {k: round(v, 3) for k, v in daemons.items()},
    }

def tail(path, n=4):
    try:
        lines = [l.strip() for l in open(path, errors="replace") if l.strip()]
        return " | ".join(lines[-n:])
    except OSError:
        return ""

def main():
    kind, rec_path, meta = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
    args = sys.argv[4:]
    r = dict(meta)
    if kind == "iperf":
        out, err, c0, c1, rc, hz = args
        r["ok"] = False
        try:
            j = json.load(open(out))
        except Exception:
            j = None
        if j is None or "error" in (j or {}) or rc != "0":
            msg = (j or {}).get("error") or tail(err) or "no iperf3 output"
            r["error"] = "iperf3 exit %s: %s" % (rc, msg)
        else:
            e = j["end"]
            s, rv = e.get("sum_sent", {}), e.get("sum_received", {})
            r["ok"] = True
            if r["test"].startswith("tcp"):
                r["goodput_bps"] = rv.get("bits_per_second")
                r["sent_bps"] = s.get("bits_per_second")
                r["retransmits"] = s.get("retransmits")
                r["bytes"] = rv.get("bytes")
                r["seconds"] = rv.get("seconds")
            else:
                secs = rv.get("seconds") or s.get("seconds") or 1
                pk, lost = rv.get("packets", 0), rv.get("lost_packets", 0)
                r["goodput_bps"] = rv.get("bits_per_second")
                r["sent_bps"] = s.get("bits_per_second")
                r["sent_pps"] = s.get("packets", 0) / (s.get("seconds") or secs)
                r["delivered_pps"] = (pk - lost) / secs
                r["lost_packets"] = lost
                r["packets"] = pk
                r["lost_percent"] = rv.get("lost_percent")
                r["bytes"] = rv.get("bytes")
                r["seconds"] = secs
                if pk - lost <= 0:
                    r["ok"] = False
                    r["error"] = "no datagram delivered"
            r["iperf3_cpu_percent"] = e.get("cpu_utilization_percent")
        cpu = cpu_delta(c0, c1, float(hz))
        r["cpu"] = cpu
        if cpu and r.get("bytes") and r.get("seconds"):
            # busy cores averaged over the run x measured seconds, per GB delivered
            r["cpu_s_per_GB"] = round(cpu["busy_cores"] * r["seconds"] / (r["bytes"] / 1e9), 3)
            per_gb = lambda x: round(x / cpu["wall_s"] * r["seconds"] / (r["bytes"] / 1e9), 3)
            r["daemon_cpu_s_per_GB"] = per_gb(cpu["daemon_cpu_s"])
            r["kernel_cpu_s_per_GB"] = per_gb(cpu["system_s"] + cpu["softirq_s"])
            r["user_cpu_s_per_GB"] = per_gb(cpu["user_s"])
    elif kind == "ping":
        out, rc = args
        txt = open(out, errors="replace").read()
        rtts = [float(x) * 1000 for x in re.findall(r"time=([0-9.]+) ms", txt)]
        m = re.search(r"(\d+) packets transmitted, (\d+) received", txt)
        r["sent"], r["received"] = (int(m.group(1)), int(m.group(2))) if m else (None, len(rtts))
        r["rtt_us"] = [round(x, 1) for x in rtts]
        r["ok"] = len(rtts) > 0
        if rtts:
            r["median_us"] = round(pct(rtts, 50), 1)
            r["p99_us"] = round(pct(rtts, 99), 1)
            r["min_us"] = round(min(rtts), 1)
            r["mean_us"] = round(statistics.mean(rtts), 1)
        else:
            r["error"] = "no reply (ping exit %s): %s" % (rc, tail(out, 3))
    elif kind == "sockperf":
        out, rc = args
        txt = open(out, errors="replace").read()
        ps = {float(a): float(b) for a, b in re.findall(r"percentile\s+([0-9.]+)\s*=\s*([0-9.]+)", txt)}
        m = re.search(r"avg-rtt=([0-9.]+)", txt)
        n = re.search(r"ReceivedMessages=(\d+)", txt)
        r["ok"] = 50.0 in ps and 99.0 in ps
        if r["ok"]:
            r["median_us"], r["p99_us"] = ps[50.0], ps[99.0]
            r["p999_us"] = ps.get(99.9)
            r["avg_us"] = float(m.group(1)) if m else None
            r["messages"] = int(n.group(1)) if n else None
        else:
            r["error"] = "sockperf exit %s: %s" % (rc, tail(out, 3))
    elif kind == "event":
        r["ok"] = args[0] == "ok"
        if args[1]:
            r["error" if not r["ok"] else "info"] = args[1]
        if len(args) > 2 and args[2]:
            r["seconds"] = float(args[2])
    with open(rec_path, "a") as f:
        f.write(json.dumps(r) + "\n")
    # progress line
    t = r["test"]
    if not r["ok"]:
        print("FAILED: %s" % r.get("error", "?"))
    elif kind == "iperf":
        c = r.get("cpu") or {}
        cores = "cpu %.2f cores (%.2f daemons)" % (c.get("busy_cores") or 0, (c.get("daemon_cpu_s") or 0) / (c.get("wall_s") or 1))
        if t.startswith("tcp"):
            print("%7.3f Gbit/s  retr %s  %s" % (r["goodput_bps"] / 1e9, r["retransmits"], cores))
        else:
            print("%7.3f Gbit/s  %8.0f pps delivered  loss %.1f%%  %s" % (r["goodput_bps"] / 1e9, r["delivered_pps"], r["lost_percent"] or 0, cores))
    elif kind in ("ping", "sockperf"):
        print("median %.1f us  p99 %.1f us" % (r["median_us"], r["p99_us"]))
    else:
        print(r.get("info", "ok"))

main()
PYEOF

# record KIND META_JSON ARGS...: parse raw output into one record, print it
record() { python3 "$TMP/parse.py" "$1" "$REC" "$2" "${@:3}" 2>&1 | head -3; }
meta() { printf '{"round": %d, "scenario": "%s", "test": "%s"}' "$ROUND" "$SC" "$1"; }
event() { # event TEST ok|fail MESSAGE [SECONDS]
	printf '[%4ss]   %-9s ' "$(elapsed)" "$1"
	record event "$(meta "$1")" "$2" "$3" "${4:-}"
}

# wait_listen NS PROTO PORT: up to 5 s for a listening socket
wait_listen() {
	for _ in $(seq 1 50); do
		ip netns exec "$1" ss -Hln"${2:0:1}" "sport = :$3" 2>/dev/null | grep -q . && return 0
		sleep 0.1
	done
	return 1
}
# stop PID: stop a background job of ours (a `timeout` wrapper), bounded
stop() {
	local pid=$1
	for _ in $(seq 1 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	kill "$pid" 2>/dev/null
	for _ in $(seq 1 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	kill -9 "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	return 0
}

DAEMONS=
cpu_snap() {
	{
		echo "wall $(date +%s.%N)"
		head -1 /proc/stat
		for p in $DAEMONS; do
			[ -r "/proc/$p/stat" ] || continue
			echo "pid $p $(cut -d')' -f2- "/proc/$p/stat" | awk '{print $12, $13}') $(cat "/proc/$p/comm" 2>/dev/null | tr -d ' ')"
		done
	} >"$1" 2>/dev/null
}

# ------------------------------------------------------------ scenarios
ERR=
underlay() {
	ip netns add "$NA" && ip netns add "$NB" || { ERR="ip netns add failed"; return 1; }
	NSLIST+=("$NA" "$NB")
	ip link add va netns "$NA" type veth peer name vb netns "$NB" || { ERR="veth failed"; return 1; }
	inA ip addr add 10.77.0.1/24 dev va
	inB ip addr add 10.77.0.2/24 dev vb
	for ns in "$NA" "$NB"; do ip -n "$ns" link set lo up; done
	inA ip link set va up && inB ip link set vb up || { ERR="link up failed"; return 1; }
	SRV=10.77.0.2
}

setup_veth() { SRV=10.77.0.2; }

setup_bpftun() { # CIPHER
	local cipher=$1 ka kb pa pb d=$SD j
	[ -x "$BT" ] || { ERR="$BT not built (cmake --build build)"; return 1; }
	ka=$("$BT" genkey) && kb=$("$BT" genkey) || { ERR="bpftun genkey failed"; return 1; }
	pa=$(printf '%s\n' "$ka" | "$BT" pubkey) && pb=$(printf '%s\n' "$kb" | "$BT" pubkey) || { ERR="bpftun pubkey failed"; return 1; }
	mkdir -p "$d/a" "$d/b"
	(
		umask 077
		printf '[Interface]\nPrivateKey = %s\nListenPort = 51820\nAddress = 10.9.0.1/24\nMTU = 1420\nCipher = %s\n\n[Peer]\nPublicKey = %s\nEndpoint = 10.77.0.2:51820\nAllowedIPs = 10.9.0.2/32\n' \
			"$ka" "$cipher" "$pb" >"$d/a/bt0.conf"
		printf '[Interface]\nPrivateKey = %s\nListenPort = 51820\nAddress = 10.9.0.2/24\nMTU = 1420\nCipher = %s\n\n[Peer]\nPublicKey = %s\nEndpoint = 10.77.0.1:51820\nAllowedIPs = 10.9.0.1/32\n' \
			"$kb" "$cipher" "$pa" >"$d/b/bt0.conf"
	)
	timeout 20 ip netns exec "$NA" "$BT" up "$d/a/bt0.conf" >"$d/up-a.log" 2>&1 ||
		{ ERR="bpftun up (A): $(tail -n 3 "$d/up-a.log" | tr '\n' ' ')"; return 1; }
	timeout 20 ip netns exec "$NB" "$BT" up "$d/b/bt0.conf" >"$d/up-b.log" 2>&1 ||
		{ ERR="bpftun up (B): $(tail -n 3 "$d/up-b.log" | tr '\n' ' ')"; return 1; }
	for _ in $(seq 1 50); do
		if timeout 5 ip netns exec "$NA" "$BT" show bt0 --json >"$d/show.json" 2>/dev/null &&
			j=$(python3 -c "import json,sys; i=json.load(open(sys.argv[1]))['interfaces'][0]; print(i['peers'][0]['latest_handshake'], i.get('cipher'))" "$d/show.json" 2>/dev/null) &&
			[ "${j%% *}" != 0 ]; then
			[ "${j#* }" = "$cipher" ] || { ERR="show --json says cipher '${j#* }', want '$cipher'"; return 1; }
			SRV=10.9.0.2
			INFO="cipher $cipher, MTU 1420"
			return 0
		fi
		sleep 0.1
	done
	ERR="no handshake within 5 s ($(tail -n 2 "$d/show.json" 2>/dev/null | tr '\n' ' '))"
	return 1
}
teardown_bpftun() {
	local e=
	timeout 10 ip netns exec "$NA" "$BT" down bt0 >"$SD/down-a.log" 2>&1 || e="down A: $(tail -n 2 "$SD/down-a.log" | tr '\n' ' ')"
	timeout 10 ip netns exec "$NB" "$BT" down bt0 >"$SD/down-b.log" 2>&1 || e="$e down B: $(tail -n 2 "$SD/down-b.log" | tr '\n' ' ')"
	[ -z "$e" ] || { ERR=$e; return 1; }
}

WGA="bwa$$"
WGB="bwb$$"
setup_wireguard_go() {
	local d=$SD ka kb pa pb
	command -v wireguard-go >/dev/null && command -v wg >/dev/null ||
		{ ERR="wireguard-go or wg not installed (bench/install-bench-deps.sh)"; return 1; }
	ka=$(wg genkey) && kb=$(wg genkey) || { ERR="wg genkey failed"; return 1; }
	pa=$(printf '%s\n' "$ka" | wg pubkey) && pb=$(printf '%s\n' "$kb" | wg pubkey)
	(umask 077 && printf '%s\n' "$ka" >"$d/a.key" && printf '%s\n' "$kb" >"$d/b.key")
	# /run is shared by all namespaces: the UAPI sockets carry our pid
	WGSOCKS+=("/var/run/wireguard/$WGA.sock" "/var/run/wireguard/$WGB.sock")
	inA env LOG_LEVEL=error wireguard-go -f "$WGA" >"$d/wg-a.log" 2>&1 &
	inB env LOG_LEVEL=error wireguard-go -f "$WGB" >"$d/wg-b.log" 2>&1 &
	for _ in $(seq 1 50); do
		[ -S "/var/run/wireguard/$WGA.sock" ] && [ -S "/var/run/wireguard/$WGB.sock" ] && break
		sleep 0.1
	done
	[ -S "/var/run/wireguard/$WGA.sock" ] && [ -S "/var/run/wireguard/$WGB.sock" ] ||
		{ ERR="wireguard-go did not start: $(cat "$d/wg-a.log" "$d/wg-b.log" | tail -n 3 | tr '\n' ' ')"; return 1; }
	inA wg set "$WGA" private-key "$d/a.key" listen-port 51820 \
		peer "$pb" endpoint 10.77.0.2:51820 allowed-ips 10.8.0.2/32 &&
		inB wg set "$WGB" private-key "$d/b.key" listen-port 51820 \
			peer "$pa" endpoint 10.77.0.1:51820 allowed-ips 10.8.0.1/32 ||
		{ ERR="wg set failed"; return 1; }
	inA ip addr add 10.8.0.1/24 dev "$WGA" && inB ip addr add 10.8.0.2/24 dev "$WGB" &&
		inA ip link set "$WGA" mtu 1420 up && inB ip link set "$WGB" mtu 1420 up ||
		{ ERR="address/link on the wireguard-go TUN failed"; return 1; }
	SRV=10.8.0.2
	INFO="wireguard-go $(wireguard-go --version 2>/dev/null | head -1 | awk '{print $2}'), ChaCha20-Poly1305, MTU 1420"
}

OVA="ova$$"
OVB="ovb$$"
PKI=
make_pki() { # once per run: CA, server and client certificates (EC P-256)
	PKI=$TMP/pki
	mkdir -p "$PKI"
	(
		cd "$PKI" || exit 1
		umask 077
		openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
			-keyout ca.key -out ca.crt -days 2 -subj /CN=bench-ca &&
			for who in server client; do
				openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
					-keyout $who.key -out $who.csr -subj /CN=bench-$who &&
					printf 'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyAgreement\nextendedKeyUsage=%s\n' \
						"$([ $who = server ] && echo serverAuth || echo clientAuth)" >$who.ext &&
					openssl x509 -req -in $who.csr -CA ca.crt -CAkey ca.key -CAcreateserial \
						-out $who.crt -days 2 -extfile $who.ext || exit 1
			done
	) >"$TMP/pki.log" 2>&1
}
setup_openvpn() {
	local d=$SD common
	command -v openvpn >/dev/null || { ERR="openvpn not installed (bench/install-bench-deps.sh)"; return 1; }
	[ -n "$PKI" ] || make_pki || { ERR="openssl certificates: $(tail -n 2 "$TMP/pki.log" | tr '\n' ' ')"; return 1; }
	# Best settings for throughput: no compression (default), --fast-io, 4 MiB
	# socket buffers (= net.core.rmem_max here), MTU 1420 like the others.
	common=(--dev-type tun --proto udp4 --port 1194 --ca "$PKI/ca.crt" --dh none
		--data-ciphers AES-256-GCM --tun-mtu 1420 --disable-dco --fast-io
		--sndbuf 4194304 --rcvbuf 4194304 --txqueuelen 1000 --verb 3 --script-security 0
		--ping 10 --ping-exit 120)
	inB timeout 3600 openvpn "${common[@]}" --dev "$OVB" --local 10.77.0.2 --remote 10.77.0.1 \
		--ifconfig 10.10.0.2 10.10.0.1 --tls-server --cert "$PKI/server.crt" --key "$PKI/server.key" \
		--remote-cert-tls client >"$d/ovpn-b.log" 2>&1 &
	inA timeout 3600 openvpn "${common[@]}" --dev "$OVA" --local 10.77.0.1 --remote 10.77.0.2 \
		--ifconfig 10.10.0.1 10.10.0.2 --tls-client --cert "$PKI/client.crt" --key "$PKI/client.key" \
		--remote-cert-tls server >"$d/ovpn-a.log" 2>&1 &
	for _ in $(seq 1 200); do
		grep -q "Initialization Sequence Completed" "$d/ovpn-a.log" &&
			grep -q "Initialization Sequence Completed" "$d/ovpn-b.log" && break
		grep -q "Exiting due to fatal error\|Options error" "$d/ovpn-a.log" "$d/ovpn-b.log" && break
		sleep 0.1
	done
	grep -q "Initialization Sequence Completed" "$d/ovpn-a.log" && grep -q "Initialization Sequence Completed" "$d/ovpn-b.log" ||
		{ ERR="openvpn not up within 20 s: $(grep -h -i "error\|fatal" "$d/ovpn-a.log" "$d/ovpn-b.log" | tail -n 2 | tr '\n' ' ')"; return 1; }
	local ciph
	ciph=$(grep -o "Data Channel: cipher '[^']*'" "$d/ovpn-a.log" | tail -1 | cut -d"'" -f2)
	[ "$ciph" = AES-256-GCM ] || { ERR="openvpn negotiated data cipher '$ciph', want AES-256-GCM"; return 1; }
	SRV=10.10.0.2
	INFO="$(openvpn --version | head -1 | awk '{print $1, $2}'), TLS p2p, data cipher $ciph, no DCO, MTU 1420"
}

# ------------------------------------------------------------ tests
iperf_test() { # NAME IPERF_ARGS...
	local name=$1 f=$SD/$1 rc spid
	shift
	printf '[%4ss]   %-9s ' "$(elapsed)" "$name"
	inB timeout $((T + 30)) iperf3 -s -1 -B "$SRV" -p 5201 >"$f.srv" 2>&1 &
	spid=$!
	if ! wait_listen "$NB" tcp 5201; then
		stop "$spid"
		record event "$(meta "$name")" fail "iperf3 server did not start: $(tail -n 2 "$f.srv" | tr '\n' ' ')"
		return
	fi
	cpu_snap "$f.c0"
	inA timeout $((T + 25)) iperf3 -c "$SRV" -p 5201 -t "$T" "$@" --json >"$f.json" 2>"$f.err"
	rc=$?
	cpu_snap "$f.c1"
	stop "$spid"
	record iperf "$(meta "$name")" "$f.json" "$f.err" "$f.c0" "$f.c1" "$rc" "$CLK_TCK"
}
ping_test() { # NAME COUNT INTERVAL
	local f=$SD/$1 rc
	printf '[%4ss]   %-9s ' "$(elapsed)" "$1"
	inA timeout 30 ping -n -c "$2" -i "$3" -W 1 "$SRV" >"$f.out" 2>&1
	rc=$?
	record ping "$(meta "$1")" "$f.out" "$rc"
}
sockperf_test() {
	local f=$SD/sockperf rc spid
	printf '[%4ss]   %-9s ' "$(elapsed)" sockperf
	if ! command -v sockperf >/dev/null; then
		record event "$(meta sockperf)" fail "sockperf not installed (bench/install-bench-deps.sh)"
		return
	fi
	inB timeout $((SP_T + 30)) sockperf sr -i "$SRV" -p 11111 >"$f.srv" 2>&1 &
	spid=$!
	if ! wait_listen "$NB" udp 11111; then
		stop "$spid"
		record event "$(meta sockperf)" fail "sockperf server did not start: $(tail -n 2 "$f.srv" | tr '\n' ' ')"
		return
	fi
	inA timeout $((SP_T + 20)) sockperf pp -i "$SRV" -p 11111 -t "$SP_T" -m 64 --full-rtt >"$f.out" 2>&1
	rc=$?
	kill "$spid" 2>/dev/null
	stop "$spid"
	record sockperf "$(meta sockperf)" "$f.out" "$rc"
}

N=0
run_scenario() { # NAME
	SC=$1
	N=$((N + 1))
	NA="bb-a-$$-$N"
	NB="bb-b-$$-$N"
	SD=$TMP/s$N
	mkdir -p "$SD"
	ERR= INFO=
	say "round $ROUND/$ROUNDS  $SC: setting up"
	local t0 ok=1
	t0=$(date +%s.%N)
	if underlay; then
		case $SC in
		veth) setup_veth ;;
		bpftun-aft) setup_bpftun aes-fixed-time ;;
		bpftun-gen) setup_bpftun aes-generic ;;
		wireguard-go) setup_wireguard_go ;;
		openvpn) setup_openvpn ;;
		esac || ok=0
	else
		ok=0
	fi
	# the tunnel must carry traffic before anything is measured
	if [ $ok = 1 ] && ! inA timeout 15 ping -n -c 5 -i 0.2 -W 2 "$SRV" >"$SD/check.ping" 2>&1; then
		ok=0
		ERR="no ping reply through the tunnel: $(tail -n 2 "$SD/check.ping" | tr '\n' ' ')"
	fi
	if [ $ok = 0 ]; then
		event setup fail "$ERR" "$(since "$t0")"
		ns_del "$NA"
		ns_del "$NB"
		return
	fi
	event setup ok "${INFO:-underlay only}" "$(since "$t0")"
	# the scenario's own processes (daemons), for per-process CPU
	DAEMONS="$(ip netns pids "$NA") $(ip netns pids "$NB")"
	iperf_test tcp1 -O 1
	iperf_test tcp2 -O 1 -P 2
	iperf_test udp1400 -u -b 0 -l 1372
	iperf_test udp64 -u -b 0 -l 64
	ping_test ping "$PING_N" 0.01
	ping_test pingbusy "$PINGB_N" 0.0002
	sockperf_test
	DAEMONS=
	if [ "$SC" = bpftun-aft ] || [ "$SC" = bpftun-gen ]; then
		if teardown_bpftun; then event teardown ok "bpftun down on both ends"; else event teardown fail "$ERR"; fi
	fi
	ns_del "$NA"
	ns_del "$NB"
}

# ------------------------------------------------------------ environment
env_json() {
	local commit dirty
	commit=$(git -C "$TOP" rev-parse HEAD 2>/dev/null || echo unknown)
	dirty=$(git -C "$TOP" status --porcelain --untracked-files=no 2>/dev/null | awk '{print $2}' | tr '\n' ' ')
	python3 - "$commit" "$dirty" "$T" "$ROUNDS" "$QUICK" "$PING_N" "$SP_T" "$SCEN" "$PINGB_N" <<'PYEOF' >"$TMP/env.json"
import json, os, platform, subprocess, sys, datetime
def run(*c):
    try:
        return subprocess.run(c, capture_output=True, text=True, timeout=10).stdout.strip().splitlines()[0]
    except Exception:
        return "unknown"
def sysctl(k):
    try:
        return int(open("/proc/sys/" + k.replace(".", "/")).read())
    except Exception:
        return None
cpu = "unknown"
for l in open("/proc/cpuinfo"):
    if l.startswith("model name"):
        cpu = l.split(":", 1)[1].strip(); break
commit, dirty, t, rounds, quick, ping_n, sp_t, scen, pingb_n = sys.argv[1:]
print(json.dumps({
    "env": {
        "kernel": platform.release(),
        "cpu_model": cpu,
        "cpus_online": os.cpu_count(),
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "loadavg_start": open("/proc/loadavg").read().split()[:3],
        "bpftun_commit": commit,
        "bpftun_dirty_files": dirty.split(),
        "versions": {
            "wireguard-go": run("wireguard-go", "--version"),
            "wireguard-tools": run("dpkg-query", "-W", "-f=${Version}", "wireguard-tools"),
            "openvpn": run("openvpn", "--version"),
            "openssl": run("openssl", "version"),
            "iperf3": run("iperf3", "--version"),
            "sockperf": run("sockperf", "--version"),
            "ping": run("ping", "-V"),
        },
        "socket_buffers": {k: sysctl(k) for k in ("net.core.rmem_max", "net.core.wmem_max", "net.core.rmem_default", "net.core.wmem_default")},
        "socket_buffers_note": "net.core.{r,w}mem_{max,default} cannot be written inside a network namespace on this kernel (EINVAL); namespaces inherit the values above. OpenVPN gets --sndbuf/--rcvbuf 4194304 (= rmem_max). wireguard-go 0.0.20220316 sets no socket buffer sizes itself.",
    },
    "config": {
        "quick": quick == "1", "iperf3_seconds": int(t), "tcp_omit_seconds": 1, "rounds": int(rounds),
        "ping_count": int(ping_n), "ping_interval_s": 0.01,
        "pingbusy_count": int(pingb_n), "pingbusy_interval_s": 0.0002,
        "latency_note": "ping -i 0.01 leaves the CPUs idle between packets, so its RTT includes the VM's vCPU wake-up latency; pingbusy (-i 0.0002) and sockperf (back-to-back ping-pong) keep them busy and show the path's own cost",
        "sockperf_seconds": int(sp_t), "sockperf_msg_bytes": 64,
        "scenarios": scen.split(),
        "tunnel_mtu": 1420, "udp_large_payload": 1372, "udp_large_ip_packet": 1400, "udp_small_payload": 64,
        "underlay": "one veth pair between two namespaces, default offloads, MTU 1500, 10.77.0.0/24",
        "direction": "client (iperf3 -c, ping, sockperf pp) in A, server in B",
        "summary": "median over rounds of each figure; latency percentiles over the pooled ping samples of all rounds",
    },
}))
PYEOF
}

# ------------------------------------------------------------ run
say "bench_tunnel: $([ "$QUICK" = 1 ] && echo quick || echo full) run, scenarios:$SCEN; $ROUNDS round(s), iperf3 ${T}s per test"
env_json || { echo "bench_tunnel: environment probe failed" >&2; exit 1; }
inst=$(python3 -c "import json,sys; e=json.load(open(sys.argv[1]))['env']; print(e['kernel'], '|', e['cpu_model'], '|', e['bpftun_commit'][:12], '| dirty:', ' '.join(e['bpftun_dirty_files']) or 'none')" "$TMP/env.json")
say "$inst"

CJSON=
if [ "$CRYPTO" = 1 ]; then
	if [ -x "$BENCH_CRYPTO" ]; then
		say "bench_crypto: sizes 64..1500, $CRYPTO_SAMPLES samples"
		if timeout 300 "$BENCH_CRYPTO" --sizes 64,128,...,1344,1400,1472,1500 --samples "$CRYPTO_SAMPLES" \
			--json "$TMP/crypto.json" >"$TMP/crypto.txt" 2>&1; then
			CJSON=$TMP/crypto.json
			grep -A4 "^ratios" "$TMP/crypto.txt" | head -3
			grep "^ 1400 |" "$TMP/crypto.txt"
		else
			say "bench_crypto FAILED: $(tail -n 3 "$TMP/crypto.txt" | tr '\n' ' ')"
			echo "{\"ok\": false, \"error\": $(tail -n 3 "$TMP/crypto.txt" | python3 -c 'import json,sys; print(json.dumps(sys.stdin.read()))')}" >"$TMP/crypto.json"
			CJSON=$TMP/crypto.json
		fi
	else
		say "bench_crypto not built ($BENCH_CRYPTO): no cost-by-size figures"
	fi
fi

read -ra SC_ARR <<<"$SCEN"
NS_=${#SC_ARR[@]}
for ((ROUND = 1; ROUND <= ROUNDS; ROUND++)); do
	# rotate the order each round, so slow drifts on the machine spread evenly
	for ((k = 0; k < NS_; k++)); do
		run_scenario "${SC_ARR[$(((k + ROUND - 1) % NS_))]}"
	done
done

# ------------------------------------------------------------ report
mkdir -p "$OUT"
JSON=$OUT/tunnel-$STAMP.json
say "writing $JSON"
python3 - "$TMP/env.json" "$REC" "${CJSON:-}" "$JSON" "$OUT/tunnel-$STAMP.md" <<'PYEOF'
import json, sys, statistics
envf, recf, cjf, outf, mdf = sys.argv[1:]
doc = json.load(open(envf))
recs = [json.loads(l) for l in open(recf) if l.strip()]
LABEL = {"veth": "plain veth", "bpftun-aft": "bpftun aes-fixed-time", "bpftun-gen": "bpftun aes-generic",
         "wireguard-go": "wireguard-go", "openvpn": "OpenVPN AES-256-GCM"}

def pct(xs, p):
    xs = sorted(xs)
    if not xs:
        return None
    k = (len(xs) - 1) * p / 100.0
    f = int(k); c = min(f + 1, len(xs) - 1)
    return xs[f] + (xs[c] - xs[f]) * (k - f)
def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None

scen = []
failures = []
for name in doc["config"]["scenarios"]:
    rs = [r for r in recs if r["scenario"] == name]
    rounds = {}
    for r in rs:
        rounds.setdefault(r["round"], {})[r["test"]] = r
        if not r["ok"]:
            failures.append({"scenario": name, "round": r["round"], "test": r["test"], "error": r.get("error")})
    def ok(test):
        return [r[test] for r in rounds.values() if test in r and r[test]["ok"]]
    s = {}
    for t in ("tcp1", "tcp2"):
        v = ok(t)
        s[t + "_gbps"] = med([x["goodput_bps"] / 1e9 for x in v])
        s[t + "_retransmits"] = med([x["retransmits"] for x in v])
        s[t + "_busy_cores"] = med([x["cpu"]["busy_cores"] for x in v if x.get("cpu")])
        s[t + "_cpu_s_per_GB"] = med([x.get("cpu_s_per_GB") for x in v])
        s[t + "_daemon_cpu_s_per_GB"] = med([x.get("daemon_cpu_s_per_GB") for x in v])
        s[t + "_kernel_cpu_s_per_GB"] = med([x.get("kernel_cpu_s_per_GB") for x in v])
        s[t + "_user_cpu_s_per_GB"] = med([x.get("user_cpu_s_per_GB") for x in v])
        s[t + "_n"] = len(v)
    for t in ("udp1400", "udp64"):
        v = ok(t)
        s[t + "_goodput_gbps"] = med([x["goodput_bps"] / 1e9 for x in v])
        s[t + "_sent_gbps"] = med([x["sent_bps"] / 1e9 for x in v])
        s[t + "_delivered_pps"] = med([x["delivered_pps"] for x in v])
        s[t + "_sent_pps"] = med([x["sent_pps"] for x in v])
        s[t + "_lost_percent"] = med([x["lost_percent"] for x in v])
        s[t + "_busy_cores"] = med([x["cpu"]["busy_cores"] for x in v if x.get("cpu")])
        s[t + "_cpu_s_per_GB"] = med([x.get("cpu_s_per_GB") for x in v])
        s[t + "_n"] = len(v)
    for t in ("ping", "pingbusy"):
        samples = [y for x in ok(t) for y in x["rtt_us"]]
        s[t + "_n"] = len(samples)
        s[t + "_median_us"] = round(pct(samples, 50), 1) if samples else None
        s[t + "_p99_us"] = round(pct(samples, 99), 1) if samples else None
        s[t + "_sent"] = sum(x["sent"] or 0 for x in ok(t))
    sp = ok("sockperf")
    s["sockperf_median_us"] = med([x["median_us"] for x in sp])
    s["sockperf_p99_us"] = med([x["p99_us"] for x in sp])
    setups = ok("setup")
    s["setup_seconds"] = med([x.get("seconds") for x in setups])
    s["rounds_ok"] = len(setups)
    info = setups[0].get("info") if setups else None
    scen.append({"name": name, "label": LABEL[name], "info": info, "summary": s,
                 "rounds": [rounds[k] for k in sorted(rounds)]})
doc["scenarios"] = scen
doc["failures"] = failures
if cjf:
    doc["crypto"] = json.load(open(cjf))

S = {x["name"]: x["summary"] for x in scen}
def ratio(a, b):
    return round(a / b, 3) if a is not None and b not in (None, 0) else None
def g(n, k):
    return S.get(n, {}).get(k)
rat = {}
for t in ("tcp1", "tcp2"):
    for b in ("bpftun-gen", "bpftun-aft"):
        rat["%s_%s_over_wireguard_go" % (t, b.replace("-", "_"))] = ratio(g(b, t + "_gbps"), g("wireguard-go", t + "_gbps"))
        rat["%s_%s_over_openvpn" % (t, b.replace("-", "_"))] = ratio(g(b, t + "_gbps"), g("openvpn", t + "_gbps"))
        rat["%s_%s_over_veth" % (t, b.replace("-", "_"))] = ratio(g(b, t + "_gbps"), g("veth", t + "_gbps"))
    rat["%s_wireguard_go_over_veth" % t] = ratio(g("wireguard-go", t + "_gbps"), g("veth", t + "_gbps"))
for k in ("ping", "pingbusy", "sockperf"):
    base = g("veth", k + "_median_us")
    added = {}
    for n in ("bpftun-aft", "bpftun-gen", "wireguard-go", "openvpn"):
        v = g(n, k + "_median_us")
        added[n] = round(v - base, 1) if v is not None and base is not None else None
    rat["added_rtt_us_" + k] = added
    for b in ("bpftun-aft", "bpftun-gen"):
        rat["added_rtt_%s_%s_over_wireguard_go" % (k, b.replace("-", "_"))] = ratio(added[b], added["wireguard-go"])
cr = doc.get("crypto") or {}
for r in cr.get("results", []):
    if r.get("inner_len") == 1400:
        lab = r["driver"].replace("ecb(", "").rstrip(")")
        rat["crypto_1400_%s" % lab.replace("-", "_")] = dict(r["ratios"], seal_ns=r["ops"]["seal"]["median_ns"],
                                                               open_ns=r["ops"]["open"]["median_ns"], ecb_ns=r["ops"]["ecb"]["median_ns"])
doc["ratios"] = rat
doc["env"]["loadavg_end"] = open("/proc/loadavg").read().split()[:3]
doc["ok"] = not failures and all(x["summary"]["rounds_ok"] == doc["config"]["rounds"] for x in scen)
json.dump(doc, open(outf, "w"), indent=1)

# ---- table
def f(v, fmt):
    return "-" if v is None else fmt % v
rows = []
hdr = ["scenario", "TCP x1 Gbit/s", "TCP x2 Gbit/s", "UDP 1400 B Gbit/s (loss)", "UDP 64 B kpps (loss)",
       "ping -i 0.01 RTT med / p99 µs", "ping -i 0.0002 RTT med / p99 µs", "UDP ping-pong RTT med / p99 µs",
       "TCP x1 CPU-s/GB: all / kernel / daemons"]
for x in scen:
    s = x["summary"]
    if s["rounds_ok"] == 0:
        rows.append([x["label"]] + ["FAILED"] + [""] * (len(hdr) - 2))
        continue
    rows.append([
        x["label"],
        f(s["tcp1_gbps"], "%.2f"), f(s["tcp2_gbps"], "%.2f"),
        "%s (%s)" % (f(s["udp1400_goodput_gbps"], "%.2f"), f(s["udp1400_lost_percent"], "%.1f%%")),
        "%s (%s)" % (f(s["udp64_delivered_pps"] and s["udp64_delivered_pps"] / 1e3, "%.0f"), f(s["udp64_lost_percent"], "%.1f%%")),
        "%s / %s" % (f(s["ping_median_us"], "%.0f"), f(s["ping_p99_us"], "%.0f")),
        "%s / %s" % (f(s["pingbusy_median_us"], "%.0f"), f(s["pingbusy_p99_us"], "%.0f")),
        "%s / %s" % (f(s["sockperf_median_us"], "%.0f"), f(s["sockperf_p99_us"], "%.0f")),
        "%s / %s / %s" % (f(s["tcp1_cpu_s_per_GB"], "%.1f"), f(s["tcp1_kernel_cpu_s_per_GB"], "%.1f"), f(s["tcp1_daemon_cpu_s_per_GB"], "%.1f")),
    ])
md = ["| " + " | ".join(hdr) + " |", "|" + "|".join(["---"] + ["---:"] * (len(hdr) - 1)) + "|"]
md += ["| " + " | ".join(r) + " |" for r in rows]
def pr(v, fmt="%.2f"):
    return "-" if v is None else fmt % v
lines = ["", "Ratios (same run):"]
lines.append("- TCP x1 goodput, bpftun / wireguard-go: aes-generic %s, aes-fixed-time %s (x2 streams: %s, %s)" % (
    pr(rat.get("tcp1_bpftun_gen_over_wireguard_go")), pr(rat.get("tcp1_bpftun_aft_over_wireguard_go")),
    pr(rat.get("tcp2_bpftun_gen_over_wireguard_go")), pr(rat.get("tcp2_bpftun_aft_over_wireguard_go"))))
lines.append("- TCP x1 goodput, bpftun / OpenVPN: aes-generic %s, aes-fixed-time %s" % (
    pr(rat.get("tcp1_bpftun_gen_over_openvpn")), pr(rat.get("tcp1_bpftun_aft_over_openvpn"))))
for k in sorted(rat):
    if k.startswith("crypto_1400_"):
        c = rat[k]
        lines.append("- bench_crypto, L = 1400 B, %s: (seal+open)/(2 ecb) = %.2f (seal/ecb %.2f, open/ecb %.2f; seal %d ns, open %d ns, ecb %d ns)" % (
            k[len("crypto_1400_"):].replace("_", "-"), c["seal_plus_open_over_2ecb"], c["seal_over_ecb"], c["open_over_ecb"],
            c["seal_ns"], c["open_ns"], c["ecb_ns"]))
for k in ("ping", "pingbusy", "sockperf"):
    a = rat["added_rtt_us_" + k]
    lines.append("- added median RTT over plain veth, %s: bpftun aes-fixed-time %s µs, aes-generic %s µs, wireguard-go %s µs, OpenVPN %s µs; bpftun/wireguard-go %s (aft), %s (generic)" % (
        {"ping": "ping -i 0.01", "pingbusy": "ping -i 0.0002", "sockperf": "UDP ping-pong"}[k], pr(a.get("bpftun-aft"), "%.0f"), pr(a.get("bpftun-gen"), "%.0f"), pr(a.get("wireguard-go"), "%.0f"), pr(a.get("openvpn"), "%.0f"),
        pr(rat.get("added_rtt_%s_bpftun_aft_over_wireguard_go" % k)), pr(rat.get("added_rtt_%s_bpftun_gen_over_wireguard_go" % k))))
if failures:
    lines.append("")
    lines.append("Failures:")
    for x in failures:
        lines.append("- round %d, %s, %s: %s" % (x["round"], x["scenario"], x["test"], x["error"]))
text = "\n".join(md + lines) + "\n"
open(mdf, "w").write(text)
print()
print(text)
PYEOF
rc=$?
[ $rc = 0 ] || { say "report failed"; exit 1; }
cp "$JSON" "$OUT/latest.json"
cp "$OUT/tunnel-$STAMP.md" "$OUT/latest.md"
if [ "$PLOT" = 1 ]; then
	if command -v gnuplot >/dev/null; then
		python3 "$TOP/bench/plot.py" "$JSON" "$OUT/tunnel-$STAMP" && say "plots: $OUT/tunnel-$STAMP-*.png"
	else
		say "gnuplot missing (bench/install-bench-deps.sh): no PNGs"
	fi
fi
say "done: $JSON (also latest.json)"
python3 -c "import json,sys; sys.exit(0 if json.load(open(sys.argv[1]))['ok'] else 1)" "$JSON"
