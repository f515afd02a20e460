# log.cmake - included from tunnel/CMakeLists.txt: libbpftun_log (log.h),
# the logging module of bpftun and bpftun-keymgmt, and of the libraries
# both are made of (netlink, underlay).
add_library(bpftun_log STATIC ${CMAKE_CURRENT_LIST_DIR}/log.c)
target_include_directories(bpftun_log PUBLIC ${CMAKE_CURRENT_LIST_DIR})
target_link_libraries(bpftun_log PUBLIC PkgConfig::LIBBPF)
