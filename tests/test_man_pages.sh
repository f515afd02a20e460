#!/bin/sh
# test_man_pages.sh PAGE... - each page through man-db (`man -l --warnings`,
# the macro warnings) and, as well, groff with every warning on (-ww); any
# message on stderr fails the test, and so does having neither tool.
fail=0
have_man=0; have_groff=0
command -v man >/dev/null 2>&1 && have_man=1
command -v groff >/dev/null 2>&1 && have_groff=1
if [ $have_man = 0 ] && [ $have_groff = 0 ]; then
	echo "man_pages: neither man (man-db) nor groff is installed (scripts/install-deps.sh)"
	exit 1
fi
for page in "$@"; do
	for tool in man groff; do
		if [ $tool = man ]; then
			[ $have_man = 1 ] || continue
			err=$(LC_ALL=C.UTF-8 MANWIDTH=80 man -l --warnings -E UTF-8 -Tutf8 "$page" 2>&1 >/dev/null)
		else
			[ $have_groff = 1 ] || continue
			err=$(LC_ALL=C.UTF-8 groff -man -ww -z -Tutf8 "$page" 2>&1)
		fi
		rc=$?
		if [ $rc -ne 0 ] || [ -n "$err" ]; then
			echo "FAIL: $tool: $page (exit $rc)"
			printf '%s\n' "$err"
			fail=1
		else
			echo "ok: $tool: $page"
		fi
	done
done
exit $fail
