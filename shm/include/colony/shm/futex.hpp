#pragma once
// Cross-process wait and wake on a 32-bit word in shared memory.
// On Linux this is a shared (not FUTEX_PRIVATE) futex: std::atomic::wait in
// GCC 12 uses private futexes, which never wake another process.

#include <atomic>
#include <cstdint>

#include "colony/shm/deadline.hpp"

namespace colony::shm {

enum class WaitResult {
  woken,          // by a futex_wake (or, rarely, spuriously: callers re-check their condition)
  interrupted,    // a signal handler ran (EINTR); nothing was woken
  value_changed,  // *word was not expected on entry
  timed_out,
};

// Sleeps while *word == expected, until woken or the deadline passes.
WaitResult futex_wait(const std::atomic<std::uint32_t>& word, std::uint32_t expected, Deadline deadline) noexcept;

// Wakes up to count sleepers (INT32_MAX for all); returns how many woke.
int futex_wake(const std::atomic<std::uint32_t>& word, int count) noexcept;

inline constexpr int kWakeAll = 0x7fffffff;

}  // namespace colony::shm
