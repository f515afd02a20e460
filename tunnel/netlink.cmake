# netlink.cmake - included from tunnel/CMakeLists.txt.
# libbpftun-netlink: the tunnel device (veth pair), addresses, routes,
# route/neighbour lookups and clsact set-up the bpftun command uses
# (netlink.h), over libnl-route-3, SIOCETHTOOL and libbpf's tc hooks.
# Its test runs in a private network namespace and needs root, ip, ethtool, tc.
add_library(bpftun_netlink STATIC ${CMAKE_CURRENT_LIST_DIR}/netlink.c)
target_include_directories(bpftun_netlink PUBLIC ${CMAKE_CURRENT_LIST_DIR} ${CMAKE_SOURCE_DIR}/bpf)
target_link_libraries(bpftun_netlink PUBLIC PkgConfig::NLROUTE PkgConfig::LIBBPF)

add_executable(test_netlink ${CMAKE_CURRENT_LIST_DIR}/../tests/test_netlink.c)
target_include_directories(test_netlink PRIVATE ${CMAKE_SOURCE_DIR}/tests)
target_link_libraries(test_netlink bpftun_netlink)
add_test(NAME netlink COMMAND test_netlink)
