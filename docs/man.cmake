# docs/man.cmake - man pages and bash completion: install rules.
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

# Its test, man_pages, is declared in tests/CMakeLists.txt (tests/test_man_pages.sh).
