#include "test_session.hpp"

#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <stdexcept>

#include "colony/shm/segment.hpp"

namespace colony::test {

TestSession::TestSession() {
  static std::atomic<int> counter{0};
  name_ = "test" + std::to_string(::getpid()) + "n" + std::to_string(counter.fetch_add(1));
}

TestSession::~TestSession() {
  for (const auto& entry : leftover_segments()) shm::Segment::remove_os_name(("/" + entry).c_str());
}

shm::SegmentName TestSession::segment(shm::SegmentKind kind, const std::string& object) const {
  auto made = shm::SegmentName::make(name_, kind, object);
  if (!made) throw std::invalid_argument(made.error().message);
  return std::move(made).value();
}

std::vector<std::string> TestSession::leftover_segments() const {
  std::vector<std::string> found;
  const std::string prefix = shm::SegmentName::session_prefix(name_);
  std::error_code ignored;
  for (const auto& entry : std::filesystem::directory_iterator("/dev/shm", ignored)) {
    const auto file = entry.path().filename().string();
    if (file.starts_with(prefix)) found.push_back(file);
  }
  return found;
}

}  // namespace colony::test
