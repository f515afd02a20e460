# netlink.cmake - included from tunnel/CMakeLists.txt.
# libbpftun-netlink: the tunnel device (veth pair), addresses, routes,
# route/neighbour lookups and clsact set-up the bpftun command uses
# (netlink.h), over libnl-route-3, SIOCETHTOOL and libbpf's tc hooks.
# Its test `netlink` is declared in tests/CMakeLists.txt.
add_library(bpftun_netlink STATIC ${CMAKE_CURRENT_LIST_DIR}/netlink.c)
target_include_directories(bpftun_netlink PUBLIC ${CMAKE_CURRENT_LIST_DIR} ${CMAKE_SOURCE_DIR}/bpf)
target_link_libraries(bpftun_netlink PUBLIC PkgConfig::NLROUTE PkgConfig::LIBBPF bpftun_log)
