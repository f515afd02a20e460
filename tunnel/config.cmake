# config.cmake - included from tunnel/CMakeLists.txt: the configuration-file
# parser (libbpftun_config). Its unit test `config` and its libFuzzer target
# `fuzz_config` are declared in tests/CMakeLists.txt.

add_library(bpftun_config STATIC ${CMAKE_CURRENT_LIST_DIR}/config.c)
target_include_directories(bpftun_config PUBLIC ${CMAKE_SOURCE_DIR}/bpf ${CMAKE_CURRENT_LIST_DIR})
target_link_libraries(bpftun_config PUBLIC PkgConfig::SODIUM bpftun_keyring)
