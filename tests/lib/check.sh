# shellcheck shell=bash
# check.sh - the netns tests' harness: check "what" command... runs the
# command, prints PASS/FAIL (with the command's last output lines on
# failure) and counts, with the seconds since the script started, so a slow
# step shows in the log; check_summary prints "N passed, M failed" and gives
# the script's exit status. wait_until and listening are waits on conditions
# instead of sleeps (exported: usable inside `check "..." bash -c "..."`).
pass=0
fail=0

check() {
	local what=$1 out
	shift
	if out=$("$@" 2>&1); then
		echo "PASS: $what [${SECONDS}s]"
		pass=$((pass + 1))
	else
		echo "FAIL: $what [${SECONDS}s]"
		[ -n "$out" ] && printf '%s\n' "$out" | tail -n 20 | sed 's/^/    /'
		fail=$((fail + 1))
	fi
}

check_summary() {
	echo "$pass passed, $fail failed"
	[ "$fail" -eq 0 ] && [ "$pass" -gt 0 ]
}

# wait_until SECONDS COMMAND...: run COMMAND every 0.1 s until it succeeds
# (return 0) or SECONDS of wall time have passed (return 1). The bound is
# time, not a count, so a loaded machine gets the same deadline.
wait_until() {
	local end=$(($(date +%s%N) / 1000000 + $1 * 1000))
	shift
	until "$@"; do
		[ "$(($(date +%s%N) / 1000000))" -lt "$end" ] || return 1
		sleep 0.1
	done
}

# listening NS t|u PORT: a TCP socket in namespace NS listens on PORT, or a
# UDP socket is bound to it.
listening() {
	ip netns exec "$1" ss -Hln"$2" "sport = :$3" 2>/dev/null | grep -q .
}
export -f wait_until listening

# deadline SECONDS: stop this script with SIGTERM (so its EXIT trap cleans
# up, and the log says which step it had reached) once SECONDS have passed.
# ctest kills a test that runs over its TIMEOUT with SIGKILL, which leaves
# namespaces and key managers behind; keep SECONDS below that TIMEOUT.
# BT_DEADLINE overrides it. The caller's EXIT trap kills "$WATCHDOG".
deadline() {
	local t=${BT_DEADLINE:-$1}
	(
		trap 'kill $s 2>/dev/null; exit 0' TERM
		sleep "$t" &
		s=$!
		wait $s && echo "FAIL: deadline of $t s reached" && kill -TERM $$
	) &
	WATCHDOG=$!
}
