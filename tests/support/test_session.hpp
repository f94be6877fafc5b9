#pragma once
// A unique session name per test, and the guarantee that every segment of it
// is removed when the test ends, whether it passed, failed or threw.

#include <string>
#include <vector>

#include "colony/shm/error.hpp"
#include "colony/shm/names.hpp"

namespace colony::test {

// What every session name the suite chooses begins with: "test<run>p<pid>n"
// under ctest, whose run id ($COLONY_TEST_RUN, set per ctest run) lets
// tests/check_no_leftovers.sh tell this run's segments from those of a suite
// running at the same time; "test<pid>n" outside ctest.
const std::string& session_name_prefix();

// What an opener gets once a segment's creator died before READY:
// creator_died where segments outlive their processes (Linux), not_found
// where the segment went with its creator (Windows).
shm::Errc after_creator_death() noexcept;

class TestSession {
 public:
  TestSession();
  ~TestSession();
  TestSession(const TestSession&) = delete;
  TestSession& operator=(const TestSession&) = delete;

  const std::string& name() const noexcept { return name_; }
  shm::SegmentName segment(shm::SegmentKind kind, const std::string& object) const;
  // The shared-memory objects of this session, by name without the leading slash.
  std::vector<std::string> leftover_segments() const;

 private:
  std::string name_;
};

}  // namespace colony::test
