// Placeholder until the Win32 launcher (issue 13): there the search follows
// CreateProcess (the application's directory, the current one, then PATH
// separated by ';', trying each PATHEXT suffix). Until then nothing is found.
#include <string>

#include "colony/worker/named.hpp"

namespace colony {

ExecutableLookup find_executable(const std::string& executable) {
  if (executable.empty()) return {{}, "an empty name"};
  return {{}, "this Windows build has no launcher yet: it starts no executable"};
}

}  // namespace colony
