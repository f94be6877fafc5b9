# Warnings live in one interface target that every Colony target links.
add_library(colony_warnings INTERFACE)
add_library(colony::warnings ALIAS colony_warnings)
target_compile_options(colony_warnings INTERFACE
  -Wall -Wextra -Wpedantic -Wconversion -Wshadow -Wsign-conversion
  -Wnon-virtual-dtor -Wold-style-cast -Wcast-align -Wnull-dereference)
if(COLONY_WERROR)
  target_compile_options(colony_warnings INTERFACE -Werror)
endif()
