# docs/man.cmake - man pages and bash completion: install rules, and the
# man_pages test, which formats every page and fails on any warning.
# Included from the top-level CMakeLists.txt (after enable_testing()):
#   include(docs/man.cmake)

include(GNUInstallDirs)

get_filename_component(BPFTUN_TOP_DIR ${CMAKE_CURRENT_LIST_DIR} DIRECTORY)
set(BPFTUN_MAN5 ${CMAKE_CURRENT_LIST_DIR}/bpftun.conf.5)
set(BPFTUN_MAN8 ${CMAKE_CURRENT_LIST_DIR}/bpftun.8 ${CMAKE_CURRENT_LIST_DIR}/bpftun-keymgmt.8)
set(BPFTUN_COMPLETION ${BPFTUN_TOP_DIR}/scripts/completion/bpftun)

install(FILES ${BPFTUN_MAN5} DESTINATION ${CMAKE_INSTALL_MANDIR}/man5)
install(FILES ${BPFTUN_MAN8} DESTINATION ${CMAKE_INSTALL_MANDIR}/man8)
# bash-completion loads completions/NAME when NAME is first completed.
install(FILES ${BPFTUN_COMPLETION}
        DESTINATION ${CMAKE_INSTALL_DATAROOTDIR}/bash-completion/completions)

# Each page through man-db (`man -l --warnings`, the macro warnings) and, as
# well, groff with every warning on (-ww); any message on stderr fails the
# test, and so does having neither tool.
add_test(NAME man_pages
         COMMAND sh -c [=[
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
]=] man_pages ${BPFTUN_MAN8} ${BPFTUN_MAN5})

