# shellcheck shell=bash
# netns.sh - ns_remove NS...: remove network namespaces a script created, and
# what bpftun left there if a tunnel was not taken down: its processes (found
# by namespace, never by name) and its files in /run/bpftun (the key
# manager's log and control socket, the saved down hooks: a key manager
# killed here cannot remove them, and the inode is reused by a later
# namespace).
ns_remove() {
	local ns pid ino
	for ns in "$@"; do
		for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$pid" 2>/dev/null; done
		ino=$(ip netns exec "$ns" stat -Lc %i /proc/self/ns/net 2>/dev/null) &&
			rm -f /run/bpftun/"$ino"-*
		ip netns del "$ns" 2>/dev/null
	done
	return 0
}
