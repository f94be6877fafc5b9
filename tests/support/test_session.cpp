#include "test_session.hpp"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <stdexcept>

#include "colony/shm/segment.hpp"

namespace colony::test {

shm::Errc after_creator_death() noexcept {
  return shm::Segment::outlives_its_processes() ? shm::Errc::creator_died : shm::Errc::not_found;
}

const std::string& session_name_prefix() {
  static const std::string prefix = [] {
    const std::string pid = std::to_string(::getpid());
    const char* run = std::getenv("COLONY_TEST_RUN");
    const std::string_view id = run == nullptr ? std::string_view{} : std::string_view(run);
    const bool usable = !id.empty() && id.size() <= 12 && std::all_of(id.begin(), id.end(), [](char c) {
      return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z');
    });
    return usable ? "test" + std::string(id) + "p" + pid + "n" : "test" + pid + "n";
  }();
  return prefix;
}

TestSession::TestSession() {
  static std::atomic<int> counter{0};
  name_ = session_name_prefix() + std::to_string(counter.fetch_add(1));
}

TestSession::~TestSession() {
  for (const auto& os_name : shm::Segment::list(shm::SegmentName::session_prefix(name_))) {
    shm::Segment::remove_os_name(os_name.c_str());
  }
}

shm::SegmentName TestSession::segment(shm::SegmentKind kind, const std::string& object) const {
  auto made = shm::SegmentName::make(name_, kind, object);
  if (!made) throw std::invalid_argument(made.error().message);
  return std::move(made).value();
}

std::vector<std::string> TestSession::leftover_segments() const {
  std::vector<std::string> found;
  for (const auto& os_name : shm::Segment::list(shm::SegmentName::session_prefix(name_))) {
    found.push_back(os_name.substr(1));  // without the leading slash
  }
  return found;
}

}  // namespace colony::test
