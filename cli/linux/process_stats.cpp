// A process's CPU time, memory and start, from /proc/PID/stat.
#include "process_stats.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <string>
#include <string_view>

namespace colony::cli {

std::optional<ProcessStats> read_process_stats(int pid) {
  if (pid <= 0) return std::nullopt;
  const std::string path = "/proc/" + std::to_string(pid) + "/stat";
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  // One read: the kernel makes the whole line at once, so its fields agree.
  char buffer[1024];
  const ssize_t got = ::read(fd, buffer, sizeof buffer);
  ::close(fd);
  if (got <= 0) return std::nullopt;
  const std::string_view line(buffer, static_cast<std::size_t>(got));
  // Field 2 (comm) is in parentheses and may hold spaces and ')'; the others
  // follow the last ')'. Numbers as in proc(5): 14 utime, 15 stime,
  // 22 starttime, 24 rss (pages, the value statm's resident field holds).
  std::size_t at = line.rfind(')');
  if (at == std::string_view::npos) return std::nullopt;
  std::uint64_t fields[25] = {};
  int number = 2;
  while (number < 24) {
    at = line.find_first_not_of(' ', at + 1);
    if (at == std::string_view::npos) return std::nullopt;
    const std::size_t end = std::min(line.find(' ', at), line.size());
    ++number;
    std::from_chars(line.data() + at, line.data() + end, fields[number]);
    at = end;
  }
  static const long ticks_per_second = ::sysconf(_SC_CLK_TCK);
  static const long page = ::sysconf(_SC_PAGESIZE);
  const auto ticks = static_cast<std::uint64_t>(ticks_per_second > 0 ? ticks_per_second : 100);
  const std::uint64_t cpu_ticks = fields[14] + fields[15];
  ProcessStats stats;
  // Whole seconds and the rest apart, so that no product can overflow.
  stats.cpu_time = std::chrono::seconds(cpu_ticks / ticks) +
                   std::chrono::nanoseconds((cpu_ticks % ticks) * 1'000'000'000 / ticks);
  stats.started = fields[22];
  stats.rss_bytes = fields[24] * static_cast<std::uint64_t>(page > 0 ? page : 4096);
  return stats;
}

}  // namespace colony::cli
