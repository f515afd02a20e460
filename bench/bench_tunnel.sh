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
#   bpftun-aft-steer  bpftun-aft with Steering = on (xdp_steer on both underlays)
#   bpftun-gen-steer  bpftun-gen with Steering = on
#   bpftun-wg       bpftun, Protocol = wireguard (ChaCha20-Poly1305 in BPF,
#                   WireGuard's handshake; its messages carry no flow mark)
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
# Pinning (default): every process of A runs on CPU 0 and every process of B
# on CPU 1, so that the two "hosts" do not share cores at random. Softirq
# work is not pinned: on veth, B's receive runs on the sending CPU unless
# xdp_steer moves it, which is what the -steer scenarios measure (each side
# steers to its own CPU: SteeringCPUs = 0 on A, 1 on B).
#
# usage: bench_tunnel.sh [--quick] [--time S] [--rounds N] [--only LIST]
#                        [--out DIR] [--build DIR] [--no-crypto] [--no-plot]
#                        [--no-pin]
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
PIN=1
ALL_SCEN="veth bpftun-aft bpftun-gen bpftun-aft-steer bpftun-gen-steer bpftun-wg wireguard-go openvpn"

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
  --no-pin      do not pin A to CPU 0 and B to CPU 1 (steering: every CPU)
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
	--no-pin) PIN=0 ;;
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
PIN_A=() PIN_B=()
if [ "$PIN" = 1 ]; then
	command -v taskset >/dev/null || { echo "bench_tunnel: taskset missing (util-linux), or --no-pin" >&2; exit 1; }
	[ "$(nproc)" -ge 2 ] || { echo "bench_tunnel: pinning needs 2 online CPUs (--no-pin)" >&2; exit 1; }
	PIN_A=(taskset -c 0) PIN_B=(taskset -c 1)
fi
BENCH_CRYPTO=$BUILD/bench/bench_crypto
SOCKBUF=$BUILD/bench/bench_sockbuf
SOCKBUF_BYTES=4194304 # OpenVPN's --sndbuf/--rcvbuf below
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

inA() { ip netns exec "$NA" "${PIN_A[@]}" "$@"; }
inB() { ip netns exec "$NB" "${PIN_B[@]}" "$@"; }
elapsed() { echo $(($(date +%s) - START)); }
since() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }'; }
say() { printf '[%4ss] %s\n' "$(elapsed)" "$*"; }

# ------------------------------------------------------------ the parser
# One helper for every raw output (bench/tunnel_parse.py): it appends one JSON record to $REC and
# prints a one-line summary. The final report is built from $REC alone.

# record KIND META_JSON ARGS...: parse raw output into one record, print it
record() { python3 "$TOP/bench/tunnel_parse.py" "$1" "$REC" "$2" "${@:3}" 2>&1 | head -3; }
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

setup_bpftun() { # CIPHER [STEERING]
	local cipher=$1 steer=${2:-off} ka kb pa pb d=$SD j cpus_a= cpus_b= suite
	# the WireGuard suite has no Cipher (ChaCha20-Poly1305); show reports it as the cipher
	suite=$'Protocol = bpftun\nCipher = '"$cipher"
	[ "$cipher" = wireguard ] && suite="Protocol = wireguard" cipher=chacha20-poly1305
	if [ "$steer" = on ] && [ "$PIN" = 1 ]; then
		cpus_a='SteeringCPUs = 0\n' cpus_b='SteeringCPUs = 1\n'
	fi
	[ -x "$BT" ] || { ERR="$BT not built (cmake --build build)"; return 1; }
	ka=$("$BT" genkey) && kb=$("$BT" genkey) || { ERR="bpftun genkey failed"; return 1; }
	pa=$(printf '%s\n' "$ka" | "$BT" pubkey) && pb=$(printf '%s\n' "$kb" | "$BT" pubkey) || { ERR="bpftun pubkey failed"; return 1; }
	mkdir -p "$d/a" "$d/b"
	(
		umask 077
		printf '[Interface]\nPrivateKey = %s\nListenPort = 51820\nAddress = 10.9.0.1/24\nMTU = 1420\n%s\nSteering = %s\n'"$cpus_a"'\n[Peer]\nPublicKey = %s\nEndpoint = 10.77.0.2:51820\nAllowedIPs = 10.9.0.2/32\n' \
			"$ka" "$suite" "$steer" "$pb" >"$d/a/bt0.conf"
		printf '[Interface]\nPrivateKey = %s\nListenPort = 51820\nAddress = 10.9.0.2/24\nMTU = 1420\n%s\nSteering = %s\n'"$cpus_b"'\n[Peer]\nPublicKey = %s\nEndpoint = 10.77.0.1:51820\nAllowedIPs = 10.9.0.1/32\n' \
			"$kb" "$suite" "$steer" "$pa" >"$d/b/bt0.conf"
	)
	timeout 20 ip netns exec "$NA" "${PIN_A[@]}" "$BT" up "$d/a/bt0.conf" >"$d/up-a.log" 2>&1 ||
		{ ERR="bpftun up (A): $(tail -n 3 "$d/up-a.log" | tr '\n' ' ')"; return 1; }
	timeout 20 ip netns exec "$NB" "${PIN_B[@]}" "$BT" up "$d/b/bt0.conf" >"$d/up-b.log" 2>&1 ||
		{ ERR="bpftun up (B): $(tail -n 3 "$d/up-b.log" | tr '\n' ' ')"; return 1; }
	for _ in $(seq 1 50); do
		if timeout 5 ip netns exec "$NA" "$BT" show bt0 --json >"$d/show.json" 2>/dev/null &&
			j=$(python3 -c "import json,sys; i=json.load(open(sys.argv[1]))['interfaces'][0]; print(i['peers'][0]['latest_handshake'], i.get('cipher'), i.get('steering', 'off'))" "$d/show.json" 2>/dev/null) &&
			[ "${j%% *}" != 0 ]; then
			[ "$j" = "${j%% *} $cipher $steer" ] || { ERR="show --json says '${j#* }', want '$cipher $steer'"; return 1; }
			SRV=10.9.0.2
			INFO="cipher $cipher, MTU 1420, steering $steer${cpus_b:+ (A to CPU 0, B to CPU 1)}"
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
	[ -x "$SOCKBUF" ] || { ERR="$SOCKBUF not built (cmake --build build)"; return 1; }
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
	# The 4 MiB socket buffers OpenVPN gets with --sndbuf/--rcvbuf: this
	# wireguard-go has no option for them, so bench_sockbuf makes the same
	# setsockopt calls on its UDP sockets (after link up: that is when it binds).
	local ns pid bufs=
	for ns in "$NA" "$NB"; do
		pid=
		for p in $(ip netns pids "$ns"); do
			[ "$(cat "/proc/$p/comm" 2>/dev/null)" = wireguard-go ] && pid=$p
		done
		[ -n "$pid" ] || { ERR="no wireguard-go process in $ns"; return 1; }
		for _ in $(seq 1 20); do # bounded: its sockets appear once the link is up
			"$SOCKBUF" "$pid" "$SOCKBUF_BYTES" >"$d/sockbuf-$ns.txt" 2>&1 && break
			sleep 0.1
		done
		grep -q rcvbuf "$d/sockbuf-$ns.txt" ||
			{ ERR="bench_sockbuf on wireguard-go ($ns): $(tail -n 1 "$d/sockbuf-$ns.txt")"; return 1; }
		bufs="$bufs$(awk '{print $7 / 1048576 "/" $9 / 1048576}' "$d/sockbuf-$ns.txt" | sort -u | tr '\n' ' ')"
	done
	SRV=10.8.0.2
	INFO="wireguard-go $(wireguard-go --version 2>/dev/null | head -1 | awk '{print $2}'), ChaCha20-Poly1305, MTU 1420, UDP rcv/snd buffers (A and B) ${bufs% } MiB, kernel-doubled as OpenVPN's"
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
		bpftun-aft-steer) setup_bpftun aes-fixed-time on ;;
		bpftun-gen-steer) setup_bpftun aes-generic on ;;
		bpftun-wg) setup_bpftun wireguard ;;
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
	if [ "${SC#bpftun-}" != "$SC" ]; then
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
	python3 "$TOP/bench/tunnel_env.py" "$commit" "$dirty" "$T" "$ROUNDS" "$QUICK" "$PING_N" "$SP_T" "$SCEN" "$PINGB_N" "$PIN" >"$TMP/env.json"
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
python3 "$TOP/bench/tunnel_report.py" "$TMP/env.json" "$REC" "${CJSON:-}" "$JSON" "$OUT/tunnel-$STAMP.md"
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
