#!/usr/bin/env bash
# vm_esp_steer.sh - the found path of xdp_steer's ESP steering (bpf/steer.bpf.c),
# on a kernel with ESP (the stock-kernel guest; tests/vm_lane.sh calls it).
#
# Two namespaces X -> Y over a veth pair, xdp_steer attached natively on Y's
# veth with ESP steering on, CPU set {0,1}, cpumap qsize 2048 (steer_tool
# attach, BPFTUN_STEER_QSIZE); then transport-mode ESP states and policies,
# the SPIs into Y chosen (with esp_tool expect, from the attached program's
# random key) so that the IPv4 SA goes to CPU 0 and the IPv6 SA to CPU 1:
# both CPUs are exercised, and a wrong CPU cannot pass by coincidence. Then:
#   - pings X -> Y through the SAs; every ESP packet that reached Y's veth was
#     looked up and found: esp_found == the packets Y's inbound states counted;
#   - each was steered to the CPU computed independently (esp_tool expect:
#     libsodium SipHash of the SPI tuple with the key from the pinned steer_cfg;
#     a per-CPU SA's own CPU needs xfrm_state.pcpu_num, Linux 6.13+: where the
#     kernel has it, this script says so and fails, as it tests the hash path);
#   - released: each inbound state's reference count (read by
#     tests/bpf/xfrm_ref.bpf.c) is the same before and after the traffic;
#   - raw ESP packets with unknown SPIs to addresses without policies pass:
#     counted esp_not_found, received byte for byte by a raw socket in Y, and
#     counted by the kernel's ESP input as XfrmInNoStates;
#   - the states and policies delete, and `ip xfrm state` is empty after.
# Prints PASS/FAIL lines and a summary line "ESP steering: ...".
#
# usage: vm_esp_steer.sh BUILD_DIR
set -u
BUILD=$(cd "${1:?usage: vm_esp_steer.sh BUILD_DIR}" && pwd)
HERE=$(cd "$(dirname "$0")" && pwd)
ST=$BUILD/tests/steer_tool
ET=$BUILD/tests/esp_tool
X="bt-ex-$$"
Y="bt-ey-$$"
TMP=$(mktemp -d /tmp/bt-esp-XXXXXX)
PIN=$TMP/bpf
N=10 # pings per family
K=5  # unknown-SPI packets per family

# shellcheck source=../scripts/lib/netns.sh
. "$HERE/../scripts/lib/netns.sh"
cleanup() {
	ip netns exec "$Y" "$ST" detach ey >/dev/null 2>&1
	ns_remove "$X" "$Y"
	umount "$PIN" 2>/dev/null
	rm -rf "$TMP"
	return 0
}
trap cleanup EXIT INT TERM
# shellcheck source=lib/check.sh
. "$HERE/lib/check.sh"

die() {
	echo "FAIL: $*"
	fail=$((fail + 1))
	check_summary
	exit 1
}
for b in "$ST" "$ET"; do [ -x "$b" ] || die "$b is not built"; done
modprobe esp4 || die "this kernel lacks esp4"
modprobe esp6 || die "this kernel lacks esp6"
mkdir -p "$PIN" && mount -t bpf bpf "$PIN" || die "cannot mount bpffs on $PIN"

k1=0x1111111111111111111111111111111111111111111111111111111111111111deadbeef
k2=0x2222222222222222222222222222222222222222222222222222222222222222cafef00d
setup_ns() {
	ip netns add "$X" && ip netns add "$Y" &&
		ip link add ex netns "$X" type veth peer name ey netns "$Y" || return 1
	for n in "$X ex 1" "$Y ey 2"; do
		set -- $n
		ip -n "$1" link set lo up && ip -n "$1" link set "$2" up &&
			ip -n "$1" addr add 10.88.0.$3/24 dev "$2" && ip -n "$1" addr add fd88::$3/64 dev "$2" nodad &&
			ip -n "$1" addr add 10.89.0.$3/24 dev "$2" && ip -n "$1" addr add fd89::$3/64 dev "$2" nodad || return 1
	done
}
setup_sa() {
	for ns in "$X" "$Y"; do
		ip -n "$ns" xfrm state add src 10.88.0.1 dst 10.88.0.2 proto esp spi $S4 reqid 1 mode transport \
			aead 'rfc4106(gcm(aes))' $k1 128 &&
			ip -n "$ns" xfrm state add src 10.88.0.2 dst 10.88.0.1 proto esp spi 0x102 reqid 1 mode transport \
				aead 'rfc4106(gcm(aes))' $k2 128 &&
			ip -n "$ns" xfrm state add src fd88::1 dst fd88::2 proto esp spi $S6 reqid 2 mode transport \
				aead 'rfc4106(gcm(aes))' $k1 128 &&
			ip -n "$ns" xfrm state add src fd88::2 dst fd88::1 proto esp spi 0x602 reqid 2 mode transport \
				aead 'rfc4106(gcm(aes))' $k2 128 || { echo "ip xfrm state add proto esp failed in $ns"; return 1; }
	done
	for p in "$X 1 2" "$Y 2 1"; do
		set -- $p
		ip -n "$1" xfrm policy add src 10.88.0.$2 dst 10.88.0.$3 dir out tmpl proto esp reqid 1 mode transport &&
			ip -n "$1" xfrm policy add src 10.88.0.$3 dst 10.88.0.$2 dir in tmpl proto esp reqid 1 mode transport &&
			ip -n "$1" xfrm policy add src fd88::$2 dst fd88::$3 dir out tmpl proto esp reqid 2 mode transport &&
			ip -n "$1" xfrm policy add src fd88::$3 dst fd88::$2 dir in tmpl proto esp reqid 2 mode transport || return 1
	done
}
check "two namespaces X, Y joined by a veth pair" setup_ns
[ "$fail" -eq 0 ] || die "setup failed"
check "xdp_steer loads and attaches natively on Y's veth: ESP on, CPUs 0,1, cpumap qsize 2048" \
	ip netns exec "$Y" "$ST" attach ey 0 0,1 "$PIN" --esp
[ "$fail" -eq 0 ] || die "cannot attach xdp_steer"
ip -n "$Y" link show ey | grep -o 'prog/xdp id [0-9]*' | sed 's/^/    /'

# pick_spi DADDR CPU FIRST: the first of 64 SPIs from FIRST that the attached
# program's key sends to CPU (by esp_tool, independently of the BPF code)
pick_spi() {
	local i spi
	for i in $(seq 0 63); do
		spi=$(printf '0x%x' $(($3 + i)))
		[ "$("$ET" expect "$PIN" "$1" "$spi")" = "$2" ] && { echo "$spi"; return 0; }
	done
	return 1
}
S4=$(pick_spi 10.88.0.2 0 0x1000) || die "no SPI in 0x1000..0x103f hashes to CPU 0"
S6=$(pick_spi fd88::2 1 0x6000) || die "no SPI in 0x6000..0x603f hashes to CPU 1"
check "ESP states (IPv4 SPI $S4 into Y, 0x102 back; IPv6 $S6 into Y, 0x602 back) and policies" setup_sa
[ "$fail" -eq 0 ] || die "setup failed"

# sget NAME: one xdp_steer counter (0 when absent)
stats() { ip netns exec "$Y" "$ST" stats "$PIN"; }
sget() { stats | awk -v k="$1" '$1 == k { v = $2 } END { print v + 0 }'; }
# use SRC DST SPI: packets Y's inbound state counted
use() {
	ip -n "$Y" -s xfrm state get src "$1" dst "$2" proto esp spi "$3" |
		awk '/lifetime current:/ { getline; split($2, a, "("); print a[1] + 0 }'
}
refcnt() { ip netns exec "$Y" "$ET" refcnt "$1" "$2"; }
nostates() { ip netns exec "$Y" awk '$1 == "XfrmInNoStates" { print $2 }' /proc/net/xfrm_stat; }

pcpu=no
bpftool btf dump file /sys/kernel/btf/vmlinux 2>/dev/null | grep -q '\bpcpu_num;' && pcpu=yes
echo "kernel has xfrm_state.pcpu_num (per-CPU SAs): $pcpu"
check "no per-CPU SA support on this kernel (6.12): the expected CPU is the SPI hash" test "$pcpu" = no
e4=$("$ET" expect "$PIN" 10.88.0.2 $S4)
e6=$("$ET" expect "$PIN" fd88::2 $S6)
echo "expected CPU (libsodium SipHash of the SPI tuple): SPI $S4 -> $e4, SPI $S6 -> $e6"
r4a=$(refcnt 10.88.0.2 $S4)
r6a=$(refcnt fd88::2 $S6)
check "reference counts readable before traffic (IPv4 '$r4a', IPv6 '$r6a')" test -n "$r4a" -a -n "$r6a"

# expect_cpus C4 C6: "exp0 exp1", the to_cpu counts C4 packets of the IPv4
# SA and C6 of the IPv6 SA must give
expect_cpus() {
	local x0=0 x1=0
	case $e4 in 0) x0=$((x0 + $1)) ;; 1) x1=$((x1 + $1)) ;; *) x0=-1 ;; esac
	case $e6 in 0) x0=$((x0 + $2)) ;; 1) x1=$((x1 + $2)) ;; *) x0=-1 ;; esac
	echo "$x0 $x1"
}
check "$N ESP pings over IPv4 (SPI $S4 into Y)" ip netns exec "$X" ping -c $N -i 0.2 -W 5 10.88.0.2
# after the IPv4 pings alone: each CPU's count by itself (the totals below
# could not tell two swapped CPUs apart when both SAs carried as many packets)
sleep 0.5
p4=$(use 10.88.0.1 10.88.0.2 $S4)
p6=$(use fd88::1 fd88::2 $S6)
set -- $(expect_cpus "$p4" "$p6")
check "IPv4 pings alone steered to SPI $S4's CPU $e4: to_cpu0 $(sget to_cpu0) == $1, to_cpu1 $(sget to_cpu1) == $2" \
	test "$(sget to_cpu0)" -eq "$1" -a "$(sget to_cpu1)" -eq "$2" -a "$p4" -ge $N
check "$N ESP pings over IPv6 (SPI $S6 into Y)" ip netns exec "$X" ping -6 -c $N -i 0.2 -W 5 fd88::2
sleep 0.5
c4=$(use 10.88.0.1 10.88.0.2 $S4)
c6=$(use fd88::1 fd88::2 $S6)
found=$(sget esp_found)
steered=$(sget esp_steered)
echo "Y's inbound states counted: SPI $S4 $c4, SPI $S6 $c6; xdp_steer:"
stats | sed 's/^/    /'
check "the states counted the pings ($S4: $c4 >= $N, $S6: $c6 >= $N)" test "${c4:-0}" -ge $N -a "${c6:-0}" -ge $N
check "every ESP packet's state was found: esp_found $found == $c4 + $c6" test "$found" -eq $((c4 + c6))
check "every found packet was steered: esp_steered $steered == esp_found $found" test "$steered" -eq "$found"
check "none steered by a per-CPU SA CPU (esp_pcpu 0)" test "$(sget esp_pcpu)" -eq 0
check "no lookup errors, nothing passed for lack of a CPU (esp_error 0, no_cpu 0)" \
	test "$(sget esp_error)" -eq 0 -a "$(sget no_cpu)" -eq 0
read -r exp0 exp1 <<<"$(expect_cpus "$c4" "$c6")"
got0=$(sget to_cpu0)
got1=$(sget to_cpu1)
check "steered to the expected CPUs: to_cpu0 $got0 == $exp0, to_cpu1 $got1 == $exp1" \
	test "$got0" -eq "$exp0" -a "$got1" -eq "$exp1"
r4b=$(refcnt 10.88.0.2 $S4)
r6b=$(refcnt fd88::2 $S6)
check "released: state reference counts unchanged by the traffic ($S4 $r4a -> $r4b, $S6 $r6a -> $r6b)" \
	test -n "$r4b" -a "$r4b" = "$r4a" -a -n "$r6b" -a "$r6b" = "$r6a"

# unknown SPIs, to addresses no policy covers: passed untouched
nf0=$(sget esp_not_found)
f0=$(sget esp_found)
s0=$(sget steered)
ns0=$(nostates)
unknown() { # FAMILY DADDR SPI
	local out=$TMP/recv$1 i
	ip netns exec "$Y" "$ET" recv "$1" "$3" $K 30 >"$out" &
	local rp=$!
	for i in $(seq 50); do grep -q ready "$out" 2>/dev/null && break; sleep 0.1; done
	ip netns exec "$X" "$ET" send "$2" "$3" $K || { kill "$rp"; return 1; }
	wait "$rp"
	local rc=$?
	cat "$out"
	return $rc
}
check "$K raw ESP packets, IPv4, unknown SPI 0xbad00004: received byte for byte in Y" unknown 4 10.89.0.2 0xbad00004
check "$K raw ESP packets, IPv6, unknown SPI 0xbad00006: received byte for byte in Y" unknown 6 fd89::2 0xbad00006
nf=$(($(sget esp_not_found) - nf0))
ns=$(($(nostates) - ns0))
check "unknown SPIs counted: esp_not_found +$nf == $((2 * K))" test "$nf" -eq $((2 * K))
check "unknown SPIs passed, not steered: steered +$(($(sget steered) - s0)) == 0, the kernel's XfrmInNoStates +$ns == $((2 * K))" \
	test "$(sget steered)" -eq "$s0" -a "$ns" -eq $((2 * K))
# anything found since (a neighbour probe over ESP) was counted by the states too
c4z=$(use 10.88.0.1 10.88.0.2 $S4)
c6z=$(use fd88::1 fd88::2 $S6)
check "esp_found over the whole run $(sget esp_found) == the states' count $((c4z + c6z))" \
	test "$(sget esp_found)" -eq $((c4z + c6z))
echo "ESP steering: found $found of $((c4 + c6)) ESP packets (IPv4 $c4, IPv6 $c6), steered $steered" \
	"(to_cpu0 $got0, to_cpu1 $got1; expected $exp0/$exp1: SPI $S4 -> CPU $e4, $S6 -> CPU $e6)," \
	"released (refcnt $S4 $r4a -> $r4b, $S6 $r6a -> $r6b), unknown SPIs not_found $nf of $((2 * K))" | tee "$TMP/summary"

check "xdp_steer detaches" ip netns exec "$Y" "$ST" detach ey
delstates() {
	local ns
	for ns in "$X" "$Y"; do
		ip -n "$ns" xfrm policy flush || return 1
		ip -n "$ns" xfrm state delete src 10.88.0.1 dst 10.88.0.2 proto esp spi $S4 &&
			ip -n "$ns" xfrm state delete src 10.88.0.2 dst 10.88.0.1 proto esp spi 0x102 &&
			ip -n "$ns" xfrm state delete src fd88::1 dst fd88::2 proto esp spi $S6 &&
			ip -n "$ns" xfrm state delete src fd88::2 dst fd88::1 proto esp spi 0x602 || return 1
		[ -z "$(ip -n "$ns" xfrm state)" ] || { ip -n "$ns" xfrm state; return 1; }
	done
}
check "the states delete and ip xfrm state is empty in both namespaces" delstates
check_summary
