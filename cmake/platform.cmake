# The platform folder every layer builds from. What differs between operating
# systems sits behind a small interface header and is implemented once per
# platform, in <layer>/src/linux/ and <layer>/src/windows/ (the same file name
# in each), so nothing outside those folders needs an #ifdef. A port to another
# system adds a folder of that name to each layer and a line here.
# This is the only place that looks at the system name (WIN32,
# CMAKE_SYSTEM_NAME): every other CMake file tests COLONY_PLATFORM.
if(WIN32)
  set(COLONY_PLATFORM windows)
elseif(CMAKE_SYSTEM_NAME STREQUAL "Linux")
  set(COLONY_PLATFORM linux)
else()
  message(FATAL_ERROR "Colony has platform folders for Linux and Windows, not for ${CMAKE_SYSTEM_NAME}: "
                      "a port adds src/<platform>/ to each layer (see cmake/platform.cmake)")
endif()
