// The machine on Linux: /proc/cpuinfo, sysconf, uname.

#include "machine.hpp"

#include <sys/utsname.h>
#include <unistd.h>

#include <fstream>

namespace bench {

std::string cpu_model() {
  std::ifstream cpuinfo("/proc/cpuinfo");
  std::string line;
  while (std::getline(cpuinfo, line)) {
    if (line.rfind("model name", 0) == 0) {
      const auto colon = line.find(':');
      if (colon != std::string::npos) return line.substr(line.find_first_not_of(" \t", colon + 1));
    }
  }
  return "unknown CPU";
}

long cores_online() { return ::sysconf(_SC_NPROCESSORS_ONLN); }

std::string kernel_release() {
  utsname system{};
  return ::uname(&system) == 0 ? system.release : "unknown";
}

}  // namespace bench
