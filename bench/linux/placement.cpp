// CPU placement on Linux: sched_setaffinity, and the CPUs' cores from sysfs.

#include "placement.hpp"

#include <sched.h>

#include <cstring>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

namespace bench {
namespace {

static_assert(sizeof(cpu_set_t) == Unpinned::kSavedBytes);

// The CPU's (package, core) from sysfs, to keep the two processes off SMT siblings.
std::pair<int, int> core_of(int cpu) {
  const std::string base = "/sys/devices/system/cpu/cpu" + std::to_string(cpu) + "/topology/";
  int package = -1;
  int core = -1;
  std::ifstream(base + "physical_package_id") >> package;
  std::ifstream(base + "core_id") >> core;
  return {package, core};
}

}  // namespace

bool pin_to(std::optional<int> cpu) noexcept {
  if (!cpu) return true;
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(static_cast<std::size_t>(*cpu), &set);
  return ::sched_setaffinity(0, sizeof(set), &set) == 0;
}

Placement pin_bench_process() {
  cpu_set_t allowed;
  CPU_ZERO(&allowed);
  if (::sched_getaffinity(0, sizeof(allowed), &allowed) != 0) return {};
  std::vector<int> cpus;
  for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
    if (CPU_ISSET(static_cast<std::size_t>(cpu), &allowed)) cpus.push_back(cpu);
  }
  if (cpus.size() < 2) return {};
  const int first = cpus.front();
  int second = cpus[1];
  const auto [package, core] = core_of(first);
  for (std::size_t i = 1; i < cpus.size(); ++i) {
    const auto [other_package, other_core] = core_of(cpus[i]);
    if (other_package == package && other_core != core) {
      second = cpus[i];
      break;
    }
  }
  if (!pin_to(first)) return {};
  return Placement{first, second};
}

Unpinned::Unpinned(const Placement& placement) {
  if (!placement.bench_cpu || !placement.peer_cpu) return;
  cpu_set_t saved;
  if (::sched_getaffinity(0, sizeof(saved), &saved) != 0) return;
  std::memcpy(saved_, &saved, sizeof(saved));
  cpu_set_t both;
  CPU_ZERO(&both);
  CPU_SET(static_cast<std::size_t>(*placement.bench_cpu), &both);
  CPU_SET(static_cast<std::size_t>(*placement.peer_cpu), &both);
  active_ = ::sched_setaffinity(0, sizeof(both), &both) == 0;
}

Unpinned::~Unpinned() {
  if (!active_) return;
  cpu_set_t saved;
  std::memcpy(&saved, saved_, sizeof(saved));
  ::sched_setaffinity(0, sizeof(saved), &saved);
}

}  // namespace bench
