# config.cmake - included from tunnel/CMakeLists.txt: the configuration-file
# parser (libbpftun_config), its unit test `config` and its libFuzzer target
# `fuzz_config` (built with clang-19 directly, ASan + UBSan, run for 20 s on a
# corpus seeded from the unit test's configs).

add_library(bpftun_config STATIC ${CMAKE_CURRENT_LIST_DIR}/config.c)
target_include_directories(bpftun_config PUBLIC ${CMAKE_SOURCE_DIR}/bpf ${CMAKE_CURRENT_LIST_DIR})
target_link_libraries(bpftun_config PUBLIC PkgConfig::SODIUM)

add_executable(test_config ${CMAKE_SOURCE_DIR}/tests/test_config.c)
target_include_directories(test_config PRIVATE ${CMAKE_SOURCE_DIR}/tests)
target_link_libraries(test_config bpftun_config)
add_test(NAME config COMMAND test_config)

# libFuzzer needs clang; the BPF build already requires clang-19.
find_program(FUZZ_CLANG NAMES clang-19 REQUIRED)
set(FUZZ_CONFIG ${CMAKE_CURRENT_BINARY_DIR}/fuzz_config)
set(FUZZ_CONFIG_CORPUS ${CMAKE_CURRENT_BINARY_DIR}/fuzz_config_corpus)
set(FUZZ_CONFIG_DICT ${CMAKE_CURRENT_BINARY_DIR}/fuzz_config.dict)
set(FUZZ_CONFIG_SRCS ${CMAKE_SOURCE_DIR}/tests/fuzz/fuzz_config.c ${CMAKE_CURRENT_LIST_DIR}/config.c)

add_custom_command(
  OUTPUT ${FUZZ_CONFIG}
  COMMAND ${FUZZ_CLANG} -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
          -D_GNU_SOURCE -Wall -Wextra -Werror ${SODIUM_CFLAGS}
          -I${CMAKE_CURRENT_LIST_DIR} -I${CMAKE_SOURCE_DIR}/bpf
          ${FUZZ_CONFIG_SRCS} ${SODIUM_LDFLAGS} -o ${FUZZ_CONFIG}
  DEPENDS ${FUZZ_CONFIG_SRCS} ${CMAKE_CURRENT_LIST_DIR}/config.h
          ${CMAKE_SOURCE_DIR}/bpf/bpftun_shared.h
  COMMENT "fuzz_config (clang-19, libFuzzer + ASan + UBSan)"
  VERBATIM)

# Seeds: the unit test's good config and its table of bad ones, plus a
# dictionary of the format's words, written by test_config itself so the
# fuzzer starts from the same configs the test checks.
add_custom_command(
  OUTPUT ${FUZZ_CONFIG_CORPUS}/seed-000.conf ${FUZZ_CONFIG_DICT}
  COMMAND ${CMAKE_COMMAND} -E make_directory ${FUZZ_CONFIG_CORPUS}
  COMMAND test_config --write-seeds ${FUZZ_CONFIG_CORPUS} ${FUZZ_CONFIG_DICT}
  DEPENDS test_config
  COMMENT "fuzz_config corpus seeds from test_config"
  VERBATIM)

add_custom_target(fuzz_config_build ALL
  DEPENDS ${FUZZ_CONFIG} ${FUZZ_CONFIG_CORPUS}/seed-000.conf ${FUZZ_CONFIG_DICT})

# New inputs found are kept in the corpus directory (build tree only);
# a crash leaves its input as fuzz_config-crash-* beside the binary.
add_test(NAME fuzz_config
  COMMAND ${FUZZ_CONFIG} -max_total_time=20 -rss_limit_mb=1024 -print_final_stats=1
          -dict=${FUZZ_CONFIG_DICT} -artifact_prefix=${CMAKE_CURRENT_BINARY_DIR}/fuzz_config-
          ${FUZZ_CONFIG_CORPUS}
  WORKING_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR})
set_tests_properties(fuzz_config PROPERTIES TIMEOUT 120)
