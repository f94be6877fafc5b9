# libFuzzer targets over every parser of bytes another process or a user
# controls (tests/fuzz). Clang only: libFuzzer is clang's. The fuzz preset
# turns this on together with COLONY_SANITIZE=address,undefined, so the
# libraries the targets link are built by the same compiler with the same
# sanitizers.
option(COLONY_BUILD_FUZZERS "Build the libFuzzer targets in tests/fuzz (needs clang++)" OFF)
if(COLONY_BUILD_FUZZERS)
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "COLONY_BUILD_FUZZERS needs clang++ (libFuzzer is clang's): use the fuzz preset")
  endif()
  # Coverage instrumentation in every library, so that libFuzzer is steered
  # by what the parsers under test do, not just by the targets' own lines.
  # The targets themselves link the fuzzing driver (-fsanitize=fuzzer).
  add_compile_options(-fsanitize=fuzzer-no-link)
endif()
