#!/usr/bin/env bash
# vm_lane.sh - what runs inside Debian 13's stock kernel (scripts/test-vm.sh
# boots it; tests/vm_stock_kernel.sh does both):
#   - the BPF unit tests and the netns tests, through ctest in BUILD_DIR (the
#     guest sees the host's build; its writes land in the guest's tmpfs overlay);
#   - the driver that ecb(aes) resolves to (aes-aesni expected where the CPU
#     has AES-NI: then datapath's byte-for-byte reference check ran on it);
#   - ESP: esp4/esp6 load, `ip xfrm state add ... proto esp` works in a netns,
#     and ESP-protected pings pass between two namespaces;
#   - ESP software RSS: xdp_steer's found path (tests/vm_esp_steer.sh: found,
#     steered to the expected CPU, released; unknown SPIs pass untouched);
#   - kernel WireGuard: the module loads and a wireguard link can be created,
#     and it interoperates with the datapath's WireGuard suite
#     (tests/wg_dp_interop.sh kernel: handshake, pings, TCP, keepalives),
#     and `bpftun up` with Protocol = wireguard, the key manager's handshake
#     and timers, interoperates with it (tests/netns_wg_interop.sh kernel);
#   - bench_crypto: both suites' seal/open, printed (timings under TCG are
#     QEMU's, not the CPU's; BPFTUN_VM_BENCH=0 skips it);
#   - `bpftun up`'s kernel check loads a named cipher's module (aes_ti);
#   - PrivateKeyKeyring: 6.12 refuses bpf_lookup_user_key in syscall
#     programs, so `bpftun up` refuses, naming file:line: PrivateKeyKeyring
#     and the kernel's reason, and nothing is left behind.
# Each result is a PASS or FAIL line naming what was checked; something the
# kernel lacks is a FAIL that names it, never a skip.
#
# usage: vm_lane.sh BUILD_DIR [TEST...]   (default tests: see TESTS below)
set -u
BUILD=$(cd "${1:?usage: vm_lane.sh BUILD_DIR [TEST...]}" && pwd)
shift
HERE=$(cd "$(dirname "$0")" && pwd)
TESTS=(datapath poly1305_bpf ctx_lifetime steer kernel_check netns_datapath netns_bpftun)
[ $# -gt 0 ] && TESTS=("$@")
X="bt-vx-$$"
Y="bt-vy-$$"
K="bt-vk-$$"
TMP=$(mktemp -d /tmp/bt-vm-XXXXXX)

# shellcheck source=../scripts/lib/netns.sh
. "$HERE/../scripts/lib/netns.sh"
cleanup() {
	ns_remove "$X" "$Y" "$K"
	[ -n "${KR_SERIAL-}" ] && keyctl_py unlink "$KR_SERIAL" 2>/dev/null
	rm -rf "$TMP"
	return 0
}
trap cleanup EXIT INT TERM
# shellcheck source=lib/check.sh
. "$HERE/lib/check.sh"
# shellcheck source=lib/keyctl.sh
. "$HERE/lib/keyctl.sh"

echo "kernel: $(uname -r) ($(nproc) CPUs; AES-NI in CPU flags: $(grep -qw aes /proc/cpuinfo && echo yes || echo no))"
mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf

# ecb_drivers: the drivers of the ecb(aes) lskcipher instances, highest priority first
ecb_drivers() {
	awk -F' *: ' '
		/^name/ { n = $2 } /^driver/ { d = $2 } /^priority/ { p = $2 } /^type/ { t = $2 }
		/^$/ { if (n == "ecb(aes)" && t == "lskcipher") print p, d; n = d = p = t = "" }
	' /proc/crypto | sort -rn | awk '{ print $2 }'
}

# ctest_one NAME: one ctest test, full output on failure, its timing line on success
ctest_one() {
	local out rc
	out=$(cd "$BUILD" && timeout 900 ctest -R "^$1\$" --output-on-failure 2>&1)
	rc=$?
	if [ $rc -eq 0 ] && printf '%s\n' "$out" | grep -q '100% tests passed, 0 tests failed out of 1'; then
		echo "PASS: ctest $1: $(printf '%s\n' "$out" | grep -o 'Passed *[0-9.]* sec')"
		pass=$((pass + 1))
	else
		echo "FAIL: ctest $1 (exit $rc)"
		printf '%s\n' "$out" | sed 's/^/    /'
		fail=$((fail + 1))
	fi
}

aes_ni_driver() {
	local d
	d=$(ecb_drivers | head -n1)
	echo "ecb(aes) resolves to: ${d:-nothing} (instances: $(ecb_drivers | tr '\n' ' '))"
	[ -n "$d" ] || { echo "no ecb(aes) instance in /proc/crypto: no test created a context"; return 1; }
	if grep -qw aes /proc/cpuinfo; then
		[ "$d" = "ecb(aes-aesni)" ] || { echo "the CPU has AES-NI but ecb(aes) is $d (aesni_intel not loaded?)"; return 1; }
	fi
}

for t in "${TESTS[@]}"; do
	ctest_one "$t"
	# the first context any test creates instantiates ecb(aes): right after
	# datapath, the one instance is the driver its reference check ran on
	if [ "$t" = datapath ]; then
		echo "ecb(aes) instances after datapath: $(ecb_drivers | tr '\n' ' ')"
		check "ecb(aes) is the AES-NI driver while datapath checks seal/open against OpenSSL+libsodium" aes_ni_driver
		ecb_drivers | head -n1 >"$TMP/driver"
	fi
done
[ -s "$TMP/driver" ] || check "ecb(aes) is the AES-NI driver" aes_ni_driver

# `bpftun up`'s kernel check (dp_kernel_check) on a cipher whose module is
# not loaded: bpf_crypto_ctx_create does not load it on 6.12 (-EOPNOTSUPP),
# the check must (modprobe crypto-NAME) or name it.
cipher_module() {
	rmmod aes_ti 2>/dev/null
	if grep -qE '^driver *: aes-fixed-time$' /proc/crypto; then
		echo "aes_ti cannot be unloaded (in use): the module load cannot be tested"
		return 1
	fi
	"$BUILD/tests/test_kernel_check" "$HERE/.." "ecb(aes-fixed-time)"
}
check "kernel check loads a cipher's module: after rmmod aes_ti, dp_kernel_check(ecb(aes-fixed-time)) passes and aes-fixed-time is registered" cipher_module

# PrivateKeyKeyring on a kernel that refuses bpf_lookup_user_key in syscall
# programs (6.12): `bpftun up` refuses before any change, naming the file,
# the line and the field, and the kernel's reason (the verifier's words).
# Compared before and after: the namespace's links, addresses, qdiscs and
# processes, /run/bpftun, the pins under /sys/fs/bpf/bpftun, and the BPF
# programs loaded on the machine.
keyring_refused() {
	local bt=$BUILD/tunnel/bpftun dir=$TMP/kr before after out pub
	ip netns add "$K" && ip -n "$K" link add va type veth peer name vb &&
		ip -n "$K" link set lo up && ip -n "$K" link set va up && ip -n "$K" link set vb up &&
		ip -n "$K" addr add 10.87.0.1/24 dev va || return 1
	"$bt" genkey --keyring user:bpftun:vk0 >/dev/null || { echo "bpftun genkey --keyring failed"; return 1; }
	KR_SERIAL=$(keyctl_py find bpftun:vk0)
	pub=$("$bt" genkey | "$bt" pubkey)
	mkdir -m 700 "$dir"
	printf '%s\n' "[Interface]" "PrivateKeyKeyring = user:bpftun:vk0" "ListenPort = 51840" \
		"Address = 10.9.7.1/24" "" "[Peer]" "PublicKey = $pub" "Endpoint = 10.87.0.2:51840" \
		"AllowedIPs = 10.9.7.2/32" >"$dir/vk0.conf"
	state() {
		{ ip -n "$K" -o link show; ip -n "$K" -o addr show; ip -n "$K" qdisc show
		  ip netns pids "$K"; ls -R /run/bpftun /sys/fs/bpf/bpftun
		  bpftool prog show | grep -c '^[0-9]*:'; } 2>&1 | sed 's/ tentative//'
	}
	before=$(state)
	if out=$(ip netns exec "$K" "$bt" up "$dir/vk0.conf" 2>&1); then
		echo "bpftun up succeeded on $(uname -r) (this lane expects 6.12's refusal): $out"
		ip netns exec "$K" "$bt" down vk0
		return 1
	fi
	printf '%s\n' "$out" >"$TMP/kr-msg"
	after=$(state)
	printf '%s\n' "$out" | grep -qF "$dir/vk0.conf:2: PrivateKeyKeyring: this kernel ($(uname -r)) refuses bpf_lookup_user_key" ||
		{ echo "no 'FILE:2: PrivateKeyKeyring: this kernel ($(uname -r)) refuses bpf_lookup_user_key'"; return 1; }
	printf '%s\n' "$out" | grep -qF 'calling kernel function bpf_lookup_user_key is not allowed' ||
		{ echo "the verifier's reason is not named"; return 1; }
	[ "$before" = "$after" ] || { echo "the host changed:"; diff <(echo "$before") <(echo "$after"); return 1; }
	ip -n "$K" link show vk0 >/dev/null 2>&1 && { echo "a vk0 device was left"; return 1; }
	return 0
}
check "PrivateKeyKeyring: up refused with file:2: PrivateKeyKeyring and the kernel's reason, nothing left behind" keyring_refused
[ -s "$TMP/kr-msg" ] && sed 's/^/    bpftun up said: /' "$TMP/kr-msg"

# ESP between two namespaces: states in both directions, policies, ping.
esp() {
	local k1=0x1111111111111111111111111111111111111111111111111111111111111111deadbeef
	local k2=0x2222222222222222222222222222222222222222222222222222222222222222cafef00d
	modprobe esp4 || { echo "this kernel lacks esp4"; return 1; }
	modprobe esp6 || { echo "this kernel lacks esp6"; return 1; }
	ip netns add "$X" && ip netns add "$Y" || return 1
	ip link add ex netns "$X" type veth peer name ey netns "$Y" || return 1
	for n in "$X ex 10.88.0.1/24 fd88::1/64" "$Y ey 10.88.0.2/24 fd88::2/64"; do
		set -- $n
		ip -n "$1" link set lo up && ip -n "$1" link set "$2" up &&
			ip -n "$1" addr add "$3" dev "$2" && ip -n "$1" addr add "$4" dev "$2" nodad || return 1
	done
	for ns in "$X" "$Y"; do
		ip -n "$ns" xfrm state add src 10.88.0.1 dst 10.88.0.2 proto esp spi 0x101 reqid 1 mode transport \
			aead 'rfc4106(gcm(aes))' $k1 128 || { echo "ip xfrm state add proto esp (IPv4) failed"; return 1; }
		ip -n "$ns" xfrm state add src 10.88.0.2 dst 10.88.0.1 proto esp spi 0x102 reqid 1 mode transport \
			aead 'rfc4106(gcm(aes))' $k2 128 || return 1
		ip -n "$ns" xfrm state add src fd88::1 dst fd88::2 proto esp spi 0x601 reqid 2 mode transport \
			aead 'rfc4106(gcm(aes))' $k1 128 || { echo "ip xfrm state add proto esp (IPv6) failed"; return 1; }
		ip -n "$ns" xfrm state add src fd88::2 dst fd88::1 proto esp spi 0x602 reqid 2 mode transport \
			aead 'rfc4106(gcm(aes))' $k2 128 || return 1
	done
	ip -n "$X" xfrm policy add src 10.88.0.1 dst 10.88.0.2 dir out tmpl proto esp reqid 1 mode transport &&
		ip -n "$X" xfrm policy add src 10.88.0.2 dst 10.88.0.1 dir in tmpl proto esp reqid 1 mode transport &&
		ip -n "$Y" xfrm policy add src 10.88.0.2 dst 10.88.0.1 dir out tmpl proto esp reqid 1 mode transport &&
		ip -n "$Y" xfrm policy add src 10.88.0.1 dst 10.88.0.2 dir in tmpl proto esp reqid 1 mode transport &&
		ip -n "$X" xfrm policy add src fd88::1 dst fd88::2 dir out tmpl proto esp reqid 2 mode transport &&
		ip -n "$X" xfrm policy add src fd88::2 dst fd88::1 dir in tmpl proto esp reqid 2 mode transport &&
		ip -n "$Y" xfrm policy add src fd88::2 dst fd88::1 dir out tmpl proto esp reqid 2 mode transport &&
		ip -n "$Y" xfrm policy add src fd88::1 dst fd88::2 dir in tmpl proto esp reqid 2 mode transport || return 1
	ip netns exec "$X" ping -c 3 -i 0.2 -W 5 10.88.0.2 || { echo "ESP ping over IPv4 failed"; return 1; }
	ip netns exec "$X" ping -6 -c 3 -i 0.2 -W 5 fd88::2 || { echo "ESP ping over IPv6 failed"; return 1; }
	# the packets went through the states: Y's inbound SAs counted 3 packets each
	local n4 n6
	n4=$(ip -n "$Y" -s xfrm state get src 10.88.0.1 dst 10.88.0.2 proto esp spi 0x101 |
		awk '/lifetime current:/ { getline; split($2, a, "("); print a[1] }')
	n6=$(ip -n "$Y" -s xfrm state get src fd88::1 dst fd88::2 proto esp spi 0x601 |
		awk '/lifetime current:/ { getline; split($2, a, "("); print a[1] }')
	echo "inbound ESP state use in $Y: IPv4 $n4 packets, IPv6 $n6 packets" | tee "$TMP/esp"
	[ "${n4:-0}" -ge 3 ] 2>/dev/null && [ "${n6:-0}" -ge 3 ] 2>/dev/null ||
		{ echo "ESP states did not count the pings (IPv4 '$n4', IPv6 '$n6')"; ip -n "$Y" -s xfrm state; return 1; }
}
check "ESP: esp4/esp6 load, ip xfrm state add proto esp in a netns, ESP pings (IPv4, IPv6) pass through the states" esp
[ -s "$TMP/esp" ] && cat "$TMP/esp"

# xdp_steer's ESP found path (its own namespaces, PASS/FAIL lines of its own)
echo "--- ESP software RSS (tests/vm_esp_steer.sh)"
if bash "$HERE/vm_esp_steer.sh" "$BUILD" 2>&1 | sed 's/^/    /'; [ "${PIPESTATUS[0]}" -eq 0 ]; then
	echo "PASS: ESP software RSS: found, steered to the expected CPU, released; unknown SPIs pass untouched"
	pass=$((pass + 1))
else
	echo "FAIL: ESP software RSS (tests/vm_esp_steer.sh, lines above)"
	fail=$((fail + 1))
fi

wireguard() {
	modprobe wireguard || { echo "this kernel lacks the wireguard module"; return 1; }
	ip -n "$X" link add wg0 type wireguard || { echo "ip link add type wireguard failed"; return 1; }
	ip -n "$X" -d link show wg0 | grep -q wireguard
}
ip netns add "$X" 2>/dev/null
check "kernel WireGuard: modprobe wireguard, ip link add wg0 type wireguard (in a netns)" wireguard

# the datapath's WireGuard suite against the kernel module (own namespaces,
# PASS/FAIL lines of its own; about 160 s under TCG)
echo "--- the datapath's WireGuard suite against kernel WireGuard (tests/wg_dp_interop.sh kernel)"
if bash "$HERE/wg_dp_interop.sh" "$BUILD/tests/dp_attach" "$BUILD/tests/wg_dp_handshake" kernel 2>&1 |
	sed 's/^/    /'; [ "${PIPESTATUS[0]}" -eq 0 ]; then
	echo "PASS: kernel WireGuard <-> tc_seal/tc_open WireGuard suite: pings, TCP sha256, keepalives, bad_tag, replay"
	pass=$((pass + 1))
else
	echo "FAIL: kernel WireGuard <-> the datapath's WireGuard suite (tests/wg_dp_interop.sh, lines above)"
	fail=$((fail + 1))
fi

# bpftun up (Protocol = wireguard, the key manager's handshake) against the
# kernel module (own namespaces; PASS/FAIL lines of its own)
echo "--- bpftun up against kernel WireGuard (tests/netns_wg_interop.sh kernel)"
if bash "$HERE/netns_wg_interop.sh" "$BUILD" kernel 2>&1 | sed 's/^/    /'; [ "${PIPESTATUS[0]}" -eq 0 ]; then
	echo "PASS: bpftun up <-> kernel WireGuard: both initiate, pings v4/v6, TCP sha256, 3 rekeys, show dump = wg show dump, bad_tag, roaming"
	pass=$((pass + 1))
else
	echo "FAIL: bpftun up <-> kernel WireGuard (tests/netns_wg_interop.sh kernel, lines above)"
	fail=$((fail + 1))
fi

# The two suites' seal/open cost on this kernel, ecb(aes) on AES-NI beside
# ChaCha20-Poly1305 in BPF. Under TCG (no /dev/kvm) the guest's timings
# measure QEMU's emulation, not the CPU: printed for the record, not judged.
if [ -x "$BUILD/bench/bench_crypto" ] && [ "${BPFTUN_VM_BENCH:-1}" = 1 ]; then
	echo "--- bench_crypto in the guest ($( [ -e /dev/kvm ] && echo KVM || echo 'TCG: emulated timings'))"
	"$BUILD/bench/bench_crypto" --algos 'ecb(aes),ecb(aes-generic),wireguard' --sizes 64,1400 \
		--samples 200 --warmup 20 2>&1 | sed 's/^/    /'
fi

check_summary
