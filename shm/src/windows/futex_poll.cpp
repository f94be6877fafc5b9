// Fallback for platforms without a cross-process futex: waiters poll the word.
// Correct for waits on a value change (rings, conditions), but a notify that
// leaves the value unchanged wakes nobody and futex_wake always reports 0, so
// the byte array's exact wait/notify counts need a real futex (Linux builds).
#include <algorithm>
#include <thread>

#include "colony/shm/futex.hpp"

namespace colony::shm {

WaitResult futex_wait(const std::atomic<std::uint32_t>& word, std::uint32_t expected, Deadline deadline) noexcept {
  if (word.load(std::memory_order_acquire) != expected) return WaitResult::value_changed;
  while (!deadline.passed()) {
    std::this_thread::sleep_for(std::min<Clock::duration>(deadline.remaining(), std::chrono::microseconds(200)));
    if (word.load(std::memory_order_acquire) != expected) return WaitResult::woken;
  }
  return WaitResult::timed_out;
}

int futex_wake(const std::atomic<std::uint32_t>&, int) noexcept { return 0; }

}  // namespace colony::shm
