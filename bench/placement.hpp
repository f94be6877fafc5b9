#pragma once
// Where the bench's processes run: the bench and its peer pinned to two CPUs
// of different cores, or, for rows that start many processes, the whole
// pair of CPUs (linux/placement.cpp).

#include <cstddef>
#include <optional>

#include "bench.hpp"

namespace bench {

// Picks two allowed CPUs, on different cores of one package where the
// machine has them, and pins this process to the first; quietly returns an
// empty placement when fewer than two CPUs are allowed or pinning fails.
Placement pin_bench_process();
// Pins this process to cpu (none: leaves it); false when the system refused.
bool pin_to(std::optional<int> cpu) noexcept;

// Lets this thread (and the threads and processes it starts meanwhile) run on
// both of the bench's CPUs; restores the pinning at the end of the scope.
class Unpinned {
 public:
  explicit Unpinned(const Placement& placement);
  Unpinned(const Unpinned&) = delete;
  Unpinned& operator=(const Unpinned&) = delete;
  ~Unpinned();

  // The size of the system's CPU set, which this keeps as bytes.
  static constexpr std::size_t kSavedBytes = 128;

 private:
  // The CPU set this thread had, restored at the end.
  alignas(8) unsigned char saved_[kSavedBytes] = {};
  bool active_ = false;
};

}  // namespace bench
