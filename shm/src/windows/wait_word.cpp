// The wait word on Windows, until issue 13 gives it a cross-process sleep:
// sleepers poll the word. Correct for waits on a value change (rings,
// conditions, READY), but a wake that leaves the value unchanged wakes nobody
// and wake_waiters always reports 0, so the byte array's exact wait/notify
// counts hold on Linux only.
#include <algorithm>
#include <thread>

#include "colony/shm/wait_word.hpp"

namespace colony::shm {

Outcome wait_while_equal(const std::atomic<std::uint32_t>& word, std::uint32_t expected, Deadline deadline) noexcept {
  if (word.load(std::memory_order_acquire) != expected) return Outcome::not_equal;
  while (!deadline.passed()) {
    std::this_thread::sleep_for(std::min<Clock::duration>(deadline.remaining(), std::chrono::microseconds(200)));
    if (word.load(std::memory_order_acquire) != expected) return Outcome::ok;
  }
  return Outcome::timed_out;
}

int wake_waiters(const std::atomic<std::uint32_t>&, int) noexcept { return 0; }

}  // namespace colony::shm
