#include "session_processes.hpp"

#include <dirent.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <iterator>

#include "colony/shm/process.hpp"
#include "colony/worker/session_layout.hpp"

namespace colony::broker_detail {

std::vector<int> processes_in_session(const std::string& session) {
  std::vector<int> pids;
  std::string needle(detail::kSessionEnv);
  needle.append("=").append(session);
  DIR* proc = ::opendir("/proc");
  if (proc == nullptr) return pids;
  while (const dirent* entry = ::readdir(proc)) {
    const int pid = std::atoi(entry->d_name);
    if (pid <= 0) continue;
    std::ifstream file(std::string("/proc/").append(entry->d_name).append("/environ"), std::ios::binary);
    const std::string environment((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
    for (std::size_t start = 0; start < environment.size();) {
      const std::size_t end = std::min(environment.find('\0', start), environment.size());
      if (environment.compare(start, end - start, needle) == 0) {
        if (shm::process_is_alive(pid)) pids.push_back(pid);
        break;
      }
      start = end + 1;
    }
  }
  ::closedir(proc);
  return pids;
}

}  // namespace colony::broker_detail
