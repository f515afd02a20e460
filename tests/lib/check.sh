# shellcheck shell=bash
# check.sh - the netns tests' harness: check "what" command... runs the
# command, prints PASS/FAIL (with the command's last output lines on
# failure) and counts; check_summary prints "N passed, M failed" and gives
# the script's exit status.
pass=0
fail=0

check() {
	local what=$1 out
	shift
	if out=$("$@" 2>&1); then
		echo "PASS: $what"
		pass=$((pass + 1))
	else
		echo "FAIL: $what"
		[ -n "$out" ] && printf '%s\n' "$out" | tail -n 20 | sed 's/^/    /'
		fail=$((fail + 1))
	fi
}

check_summary() {
	echo "$pass passed, $fail failed"
	[ "$fail" -eq 0 ] && [ "$pass" -gt 0 ]
}
