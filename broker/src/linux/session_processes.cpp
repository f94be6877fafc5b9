#include "session_processes.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

#include "colony/shm/process.hpp"
#include "colony/session/contract.hpp"

namespace colony::broker_detail {
namespace {

// A process's environment, NUL-separated; empty when it cannot be read.
std::string environment_of(const char* pid) {
  std::string path("/proc/");
  path.append(pid).append("/environ");
  std::string environment;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return environment;
  char chunk[4096];
  for (ssize_t length; (length = ::read(fd, chunk, sizeof chunk)) > 0;) {
    environment.append(chunk, static_cast<std::size_t>(length));
  }
  ::close(fd);
  return environment;
}

}  // namespace

std::vector<int> processes_in_session(const std::string& session) {
  std::vector<int> pids;
  std::string needle(detail::kSessionEnv);
  needle.append("=").append(session);
  DIR* proc = ::opendir("/proc");
  if (proc == nullptr) return pids;
  while (const dirent* entry = ::readdir(proc)) {
    const int pid = std::atoi(entry->d_name);
    if (pid <= 0) continue;
    const std::string environment = environment_of(entry->d_name);
    // Entries are NUL-terminated: the needle matches a whole entry.
    for (const char* at = environment.c_str(); at < environment.c_str() + environment.size(); at += std::strlen(at) + 1) {
      if (needle == at) {
        if (shm::process_is_alive(pid)) pids.push_back(pid);
        break;
      }
    }
  }
  ::closedir(proc);
  return pids;
}

}  // namespace colony::broker_detail
