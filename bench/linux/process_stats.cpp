// process_stats.hpp on Linux: /proc/<pid>/smaps_rollup (Linux >= 4.14),
// /proc/<pid>/task/<tid>/status, RLIMIT_NOFILE.

#include "process_stats.hpp"

#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <system_error>

namespace bench {
namespace {

std::string proc_directory(int pid) { return pid == 0 ? std::string("/proc/self") : "/proc/" + std::to_string(pid); }

// The number after "<key>:" on a line of a /proc file.
double field_value(const std::string& line) {
  std::istringstream fields(line.substr(line.find(':') + 1));
  double value = 0;
  fields >> value;
  return value;
}

}  // namespace

std::optional<Pss> pss_of(int pid) {
  std::ifstream rollup(proc_directory(pid) + "/smaps_rollup");
  if (!rollup) return std::nullopt;
  Pss pss;
  bool found = false;
  std::string line;
  while (std::getline(rollup, line)) {
    if (line.rfind("Pss:", 0) == 0) {
      pss.total = field_value(line) * 1024.0;
      found = true;
    } else if (line.rfind("Pss_File:", 0) == 0) {
      pss.file = field_value(line) * 1024.0;
    } else if (line.rfind("Pss_Shmem:", 0) == 0) {
      pss.shmem = field_value(line) * 1024.0;
    }
  }
  if (!found) return std::nullopt;
  return pss;
}

std::optional<std::uint64_t> context_switches_of(int pid, int except_tid) {
  std::error_code error;
  std::filesystem::directory_iterator tasks(proc_directory(pid) + "/task", error);
  if (error) return std::nullopt;
  std::uint64_t switches = 0;
  for (const auto& task : tasks) {
    if (except_tid != 0 && task.path().filename() == std::to_string(except_tid)) continue;
    std::ifstream status(task.path() / "status");
    std::string line;
    while (std::getline(status, line)) {
      if (line.rfind("voluntary_ctxt_switches:", 0) == 0 || line.rfind("nonvoluntary_ctxt_switches:", 0) == 0) {
        switches += static_cast<std::uint64_t>(field_value(line));
      }
    }
  }
  return switches;
}

int current_thread_id() noexcept { return static_cast<int>(::syscall(SYS_gettid)); }

void raise_open_file_limit() noexcept {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur >= limit.rlim_max) return;
  limit.rlim_cur = limit.rlim_max;
  (void)::setrlimit(RLIMIT_NOFILE, &limit);
}

}  // namespace bench
