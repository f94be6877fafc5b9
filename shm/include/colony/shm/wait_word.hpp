#pragma once
// The wait word: a 32-bit word in shared memory that a thread of any process
// sleeps on while it holds an expected value, until another process wakes the
// word's sleepers or a deadline passes. Rings, conditions, a segment's READY
// flag, byte-array waits and a worker's doorbell all sleep on one.
//
// What every platform's implementation promises (linux/wait_word.cpp,
// windows/wait_word.cpp):
// - no lost wakeup: comparing the word with expected and falling asleep are
//   one step as far as wake_waiters is concerned, so a process that changes
//   the word and then wakes it ends every sleep that began on the old value;
// - across processes: sleepers and wakers meet on the word even when each
//   process maps the segment at another address (std::atomic::wait does not
//   promise that: GCC 12's wakes only its own process);
// - a sleeper killed in its sleep leaves nothing behind that a later wake or
//   sleep would wait for.

#include <atomic>
#include <cstdint>

#include "colony/shm/deadline.hpp"
#include "colony/shm/outcome.hpp"

namespace colony::shm {

// Sleeps while word == expected, until woken or the deadline passes: ok
// (woken by wake_waiters, or rarely spuriously: callers re-check their
// condition), interrupted (a signal handler ran; nothing woke it), not_equal
// (the word did not hold expected on entry) or timed_out.
Outcome wait_while_equal(const std::atomic<std::uint32_t>& word, std::uint32_t expected, Deadline deadline) noexcept;

// Wakes up to count sleepers on word (kWakeAll for all). Returns how many woke
// where the platform counts them (Linux: exactly), 0 where it cannot.
int wake_waiters(const std::atomic<std::uint32_t>& word, int count) noexcept;

inline constexpr int kWakeAll = 0x7fffffff;

}  // namespace colony::shm
