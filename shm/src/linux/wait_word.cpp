// The wait word on Linux: a shared futex (no FUTEX_PRIVATE_FLAG), which the
// kernel keys by the physical page, so processes mapping the segment at
// different addresses meet on it, and which forgets a task that dies asleep.
#include "colony/shm/wait_word.hpp"

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <ctime>

namespace colony::shm {
namespace {

// libstdc++'s steady_clock is CLOCK_MONOTONIC, the clock FUTEX_WAIT_BITSET
// measures an absolute timeout against when FUTEX_CLOCK_REALTIME is not set.
timespec to_monotonic_timespec(Deadline deadline) noexcept {
  const auto since_epoch = deadline.when().time_since_epoch();
  const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(since_epoch);
  const auto nanos = std::chrono::duration_cast<std::chrono::nanoseconds>(since_epoch - seconds);
  return timespec{static_cast<time_t>(seconds.count()), static_cast<long>(nanos.count())};
}

std::uint32_t* word_address(const std::atomic<std::uint32_t>& word) noexcept {
  static_assert(sizeof(std::atomic<std::uint32_t>) == sizeof(std::uint32_t));
  // The futex syscall takes the word's address; the kernel only reads it.
  return const_cast<std::uint32_t*>(reinterpret_cast<const std::uint32_t*>(&word));
}

}  // namespace

Outcome wait_while_equal(const std::atomic<std::uint32_t>& word, std::uint32_t expected, Deadline deadline) noexcept {
  if (deadline.passed()) return Outcome::timed_out;
  timespec timeout{};
  const timespec* timeout_ptr = nullptr;
  if (!deadline.is_never()) {
    timeout = to_monotonic_timespec(deadline);
    timeout_ptr = &timeout;
  }
  const long rc = syscall(SYS_futex, word_address(word), FUTEX_WAIT_BITSET, expected, timeout_ptr, nullptr,
                          FUTEX_BITSET_MATCH_ANY);
  if (rc == 0) return Outcome::ok;
  switch (errno) {
    case EAGAIN: return Outcome::not_equal;
    case ETIMEDOUT: return Outcome::timed_out;
    case EINTR: return Outcome::interrupted;
    default: return Outcome::ok;  // not expected from FUTEX_WAIT; callers re-check
  }
}

int wake_waiters(const std::atomic<std::uint32_t>& word, int count) noexcept {
  const long woken = syscall(SYS_futex, word_address(word), FUTEX_WAKE, count, nullptr, nullptr, 0);
  return woken < 0 ? 0 : static_cast<int>(woken);
}

}  // namespace colony::shm
