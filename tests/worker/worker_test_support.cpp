#include "worker_test_support.hpp"

#include <dirent.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <sstream>

namespace colony::test {

const std::string& worker_path() {
  static const std::string path = COLONY_TEST_WORKER_PATH;
  return path;
}

BrokerOptions broker_options() {
  static std::atomic<int> counter{0};
  BrokerOptions options;
  options.session = "test" + std::to_string(::getpid()) + "n" + std::to_string(1000 + counter.fetch_add(1));
  options.limits.attach_timeout = std::chrono::milliseconds(3000);
  options.limits.stop_grace = std::chrono::milliseconds(1000);
  return options;
}

bool dispatch_until(Worker& host, const std::function<bool()>& predicate, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!predicate()) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    host.dispatch(std::min(left, std::chrono::milliseconds(50)));
  }
  return true;
}

std::vector<int> processes_matching(const std::string& needle) {
  std::vector<int> pids;
  DIR* proc = ::opendir("/proc");
  if (proc == nullptr) return pids;
  while (const dirent* entry = ::readdir(proc)) {
    const int pid = std::atoi(entry->d_name);
    if (pid <= 0) continue;
    std::ifstream file("/proc/" + std::string(entry->d_name) + "/cmdline");
    std::stringstream contents;
    contents << file.rdbuf();
    std::string line = contents.str();
    for (auto& c : line) {
      if (c == '\0') c = ' ';
    }
    if (line.find(needle) != std::string::npos) {
      std::ifstream status("/proc/" + std::string(entry->d_name) + "/stat");
      std::string skip, state;
      status >> skip >> skip >> state;
      if (state != "Z") pids.push_back(pid);
    }
  }
  ::closedir(proc);
  return pids;
}

}  // namespace colony::test
