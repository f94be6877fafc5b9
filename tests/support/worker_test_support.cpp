#include "worker_test_support.hpp"

#include <atomic>
#include <fstream>
#include <sstream>

#include "colony/shm/names.hpp"
#include "colony/shm/segment.hpp"
#include "process_table.hpp"
#include "test_session.hpp"

namespace colony::test {

const std::string& worker_path() {
  static const std::string path = COLONY_TEST_WORKER_PATH;
  return path;
}

BrokerOptions broker_options() {
  static std::atomic<int> counter{0};
  BrokerOptions options;
  options.session = session_name_prefix() + std::to_string(1000 + counter.fetch_add(1));
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

std::string unique_session(const char* what) {
  static std::atomic<int> counter{0};
  return session_name_prefix() + what + std::to_string(++counter);
}

std::vector<int> processes_in_session(const std::string& session) {
  return processes_with_environment_entry("COLONY_SESSION=" + session);
}

const std::string& cli_path() {
  static const std::string path = COLONY_CLI_PATH;
  return path;
}

ScratchDirectory::ScratchDirectory(const char* what)
    : path_(std::filesystem::temp_directory_path() / unique_session(what)) {
  std::filesystem::create_directories(path_);
}

ScratchDirectory::~ScratchDirectory() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

std::string read_file(const std::string& path) {
  std::ifstream file(path);
  std::stringstream text;
  text << file.rdbuf();
  return text.str();
}

std::vector<std::string> session_segments(const std::string& session) {
  std::vector<std::string> names;
  for (const auto& os_name : shm::Segment::list(shm::SegmentName::session_prefix(session))) {
    names.push_back(os_name.substr(1));  // without the leading slash
  }
  return names;
}

}  // namespace colony::test
