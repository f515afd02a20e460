# shellcheck shell=bash
# topo.sh - the two-namespace topology shared by scripts/demo.sh and
# tests/netns_datapath.sh. Source it, set DP_ATTACH, then call topo_setup.
#
#   ns $TOPO_A                              ns $TOPO_B
#   bt0 10.9.0.1 fd09::1                    bt0 10.9.0.2 fd09::2
#    |  (veth, NOARP, MTU 1420,              |
#    |   tx/tso/gso off: the kernel           |
#    |   segments and checksums here)         |
#   bt0p  tc ingress: tc_seal                bt0p
#   va    tc ingress: tc_open  <---------->  vb   underlay 10.77.0.0/24 fd77::/64
#
# Names carry the caller's PID so that parallel runs never collide.

TOPO_A="bt-a-$$"
TOPO_B="bt-b-$$"
TOPO_PIN="/sys/fs/bpf/bt-topo-$$"
TOPO_PORT=51820

topo_inA() { ip netns exec "$TOPO_A" "$@"; }
topo_inB() { ip netns exec "$TOPO_B" "$@"; }

topo_cleanup() {
	ip netns del "$TOPO_A" 2>/dev/null
	ip netns del "$TOPO_B" 2>/dev/null
	rm -rf "$TOPO_PIN"
	return 0
}

# 36 random bytes (AES-256 key + 4-byte salt) as hex.
topo_hexkey() { head -c 36 /dev/urandom | od -An -tx1 | tr -d ' \n'; }

# topo_setup OUTER [ALGO]: build both ends, outer family 4 or 6, and attach
# the datapath with fresh random keys. Returns non-zero on failure.
topo_setup() {
	local outer=$1 algo=${2:-ecb(aes)} la lb ns
	topo_cleanup
	mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf
	mkdir -p "$TOPO_PIN"
	ip netns add "$TOPO_A" && ip netns add "$TOPO_B" || return 1
	ip link add va netns "$TOPO_A" type veth peer name vb netns "$TOPO_B" || return 1
	topo_inA ip addr add 10.77.0.1/24 dev va
	topo_inB ip addr add 10.77.0.2/24 dev vb
	topo_inA ip addr add fd77::1/64 dev va nodad
	topo_inB ip addr add fd77::2/64 dev vb nodad
	for ns in "$TOPO_A" "$TOPO_B"; do
		ip netns exec "$ns" ip link set lo up
		ip netns exec "$ns" ip link add bt0 type veth peer name bt0p || return 1
		ip netns exec "$ns" ip link set bt0 arp off mtu 1420 up
		ip netns exec "$ns" ip link set bt0p up
		ip netns exec "$ns" ethtool -K bt0 tx off tso off gso off >/dev/null || return 1
	done
	topo_inA ip link set va up
	topo_inB ip link set vb up
	# Underlay checksum offload off: the software fallback real NICs hit.
	topo_inA ethtool -K va tx off >/dev/null
	topo_inB ethtool -K vb tx off >/dev/null
	topo_inA ip addr add 10.9.0.1/24 dev bt0
	topo_inB ip addr add 10.9.0.2/24 dev bt0
	topo_inA ip addr add fd09::1/64 dev bt0 nodad
	topo_inB ip addr add fd09::2/64 dev bt0 nodad

	if [ "$outer" = 6 ]; then
		la=fd77::1 lb=fd77::2
	else
		la=10.77.0.1 lb=10.77.0.2
	fi
	local mac_a mac_b k1 k2
	mac_a=$(topo_inA cat /sys/class/net/va/address)
	mac_b=$(topo_inB cat /sys/class/net/vb/address)
	k1=$(topo_hexkey)
	k2=$(topo_hexkey)
	# Keys go through stdin, never argv. nsenter --net keeps this mount
	# namespace, so the pins under /sys/fs/bpf stay reachable.
	printf '%s\n%s\n' "$k1" "$k2" | nsenter --net="/run/netns/$TOPO_A" "$DP_ATTACH" \
		--tun bt0 --hidden bt0p --underlay va --port $TOPO_PORT --local $la --remote $lb \
		--remote-mac "$mac_b" --tx-index 2 --rx-index 1 --pin "$TOPO_PIN/a" --algo "$algo" \
		--allowed 10.9.0.2/32 --allowed fd09::2/128 || return 1
	printf '%s\n%s\n' "$k2" "$k1" | nsenter --net="/run/netns/$TOPO_B" "$DP_ATTACH" \
		--tun bt0 --hidden bt0p --underlay vb --port $TOPO_PORT --local $lb --remote $la \
		--remote-mac "$mac_a" --tx-index 1 --rx-index 2 --pin "$TOPO_PIN/b" --algo "$algo" \
		--allowed 10.9.0.1/32 --allowed fd09::1/128 || return 1
}

# topo_counter SIDE "peer0 NAME" -> value of a datapath counter (a or b)
topo_counter() {
	"$DP_ATTACH" --show "$TOPO_PIN/$1" | awk -v n="$2" '$1 " " $2 == n {print $3}'
}
