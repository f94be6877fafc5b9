# Cross-compiles Colony for 64-bit Windows with Debian's MinGW-w64 (the posix
# thread model: std::thread and std::mutex over winpthreads), and runs what it
# builds (the tests' discovery, ctest) under Wine. Used by the `windows`
# preset; on a Windows machine with MinGW or MSVC no toolchain file is needed.
set(CMAKE_SYSTEM_NAME Windows)
set(CMAKE_SYSTEM_PROCESSOR x86_64)
set(CMAKE_C_COMPILER x86_64-w64-mingw32-gcc-posix)
set(CMAKE_CXX_COMPILER x86_64-w64-mingw32-g++-posix)
set(CMAKE_RC_COMPILER x86_64-w64-mingw32-windres)

# Libraries and packages come from the MinGW tree only, never from the Linux
# system's; the header-only ones Colony uses are Debian's copies, taken
# one folder each (cmake/header_only_dependencies.cmake) so that no Linux
# system header reaches a Windows build.
set(CMAKE_FIND_ROOT_PATH /usr/x86_64-w64-mingw32)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

# The executables carry their runtime (libstdc++, libgcc, winpthreads), so
# Wine or a Windows machine runs them without MinGW's DLLs on the path.
set(CMAKE_EXE_LINKER_FLAGS_INIT "-static")
set(CMAKE_CROSSCOMPILING_EMULATOR "${CMAKE_CURRENT_LIST_DIR}/../../scripts/wine-run.sh")
