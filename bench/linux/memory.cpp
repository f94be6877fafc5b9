// Process memory on Linux: /proc/<pid>/status, and /proc/self/clear_refs to
// reset the peak (Linux >= 4.0).

#include "memory.hpp"

#include <fstream>
#include <sstream>
#include <string>

namespace bench {
namespace {

Memory read_memory(const std::string& pid) {
  Memory memory;
  std::ifstream status("/proc/" + pid + "/status");
  std::string line;
  while (std::getline(status, line)) {
    const auto kib = [&line] {
      std::istringstream fields(line.substr(line.find(':') + 1));
      double value = 0;
      fields >> value;
      return value * 1024.0;
    };
    if (line.rfind("VmRSS:", 0) == 0) memory.rss = kib();
    if (line.rfind("VmHWM:", 0) == 0) memory.hwm = kib();
    if (line.rfind("RssShmem:", 0) == 0) memory.shmem = kib();
  }
  return memory;
}

}  // namespace

Memory memory_of_self() { return read_memory("self"); }
Memory memory_of(int pid) { return read_memory(std::to_string(pid)); }

bool reset_peak_memory() {
  std::ofstream clear("/proc/self/clear_refs");
  clear << "5";
  clear.flush();
  return clear.good();
}

}  // namespace bench
