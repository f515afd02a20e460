# shellcheck shell=bash
# hosts.sh - the two hosts of the netns tests: network namespaces "$A" and
# "$B" joined by one veth pair, va in A and vb in B.
#
#   two_hosts ADDR_A ADDR_B   create namespaces A and B (lo up) and
#                             veth_link ADDR_A ADDR_B
#   veth_link ADDR_A ADDR_B   va (in A, ADDR_A/24) -- vb (in B, ADDR_B/24),
#                             both up, tx checksum offload off on both (the
#                             kernel then completes checksums in software,
#                             the path that must work: docs/kernel.md)
#   inA / inB CMD...          CMD in A / in B (ip netns exec)
# two_hosts and veth_link return non-zero at the first step that fails.

inA() { ip netns exec "$A" "$@"; }
inB() { ip netns exec "$B" "$@"; }

veth_link() {
	ip link add va netns "$A" type veth peer name vb netns "$B" &&
		ip -n "$A" addr add "$1/24" dev va && ip -n "$B" addr add "$2/24" dev vb &&
		ip -n "$A" link set va up && ip -n "$B" link set vb up &&
		inA ethtool -K va tx off >/dev/null && inB ethtool -K vb tx off >/dev/null
}

two_hosts() {
	ip netns add "$A" && ip netns add "$B" &&
		ip -n "$A" link set lo up && ip -n "$B" link set lo up &&
		veth_link "$1" "$2"
}
