# The libraries Colony builds with, all from Debian's packages. A native build
# finds them with find_package. A build cross-compiled for Windows (the
# MinGW toolchain, cmake/toolchains/mingw-w64.cmake) takes the header-only
# ones from the same Debian packages, one include folder each, under the
# target names find_package gives: the Linux system headers beside them in
# /usr/include never reach a Windows compile.
find_package(Threads REQUIRED)

if(NOT (CMAKE_CROSSCOMPILING AND COLONY_PLATFORM STREQUAL "windows"))
  find_package(Boost 1.74 REQUIRED)
  find_package(cereal REQUIRED)
  find_package(nlohmann_json 3.10 REQUIRED)
  find_package(CLI11 REQUIRED)
  # Pipeline files are TOML: toml++ (Debian's libtomlplusplus-dev) reads them
  # with line numbers for every error, which a hand-written parser would not.
  find_package(tomlplusplus 3 REQUIRED)
  if(COLONY_BUILD_TESTS)
    find_package(Catch2 2.13 REQUIRED)
  endif()
  return()
endif()

# Each Debian include folder linked into one folder of the build tree, which
# the targets below name as a system include directory.
set(COLONY_HEADER_ONLY_ROOT ${CMAKE_BINARY_DIR}/header-only)
function(colony_header_only_target target)
  cmake_parse_arguments(PARSE_ARGV 1 arg "" "" "FOLDERS")
  foreach(folder IN LISTS arg_FOLDERS)
    if(NOT EXISTS /usr/include/${folder})
      message(FATAL_ERROR "${target}: /usr/include/${folder} is missing (scripts/install-deps.sh installs it)")
    endif()
    file(MAKE_DIRECTORY ${COLONY_HEADER_ONLY_ROOT})
    file(CREATE_LINK /usr/include/${folder} ${COLONY_HEADER_ONLY_ROOT}/${folder} SYMBOLIC)
  endforeach()
  add_library(${target} INTERFACE IMPORTED GLOBAL)
  target_include_directories(${target} SYSTEM INTERFACE ${COLONY_HEADER_ONLY_ROOT})
endfunction()

colony_header_only_target(Boost::headers FOLDERS boost)
colony_header_only_target(cereal::cereal FOLDERS cereal)
colony_header_only_target(nlohmann_json::nlohmann_json FOLDERS nlohmann)
colony_header_only_target(CLI11::CLI11 FOLDERS CLI)
colony_header_only_target(tomlplusplus::tomlplusplus FOLDERS toml++)
if(COLONY_BUILD_TESTS)
  # Catch2 2.13 is one header; support/main.cpp compiles its implementation.
  colony_header_only_target(Catch2::Catch2 FOLDERS catch2)
  # catch_discover_tests, which runs each test binary through
  # CMAKE_CROSSCOMPILING_EMULATOR to list its tests.
  list(APPEND CMAKE_MODULE_PATH /usr/lib/cmake/Catch2)
endif()
