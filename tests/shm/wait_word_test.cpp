// The wait word directly: exact wake counts and deadlines among threads that
// come and go. Where sleepers meet in a table of per-thread slots
// (Windows), every thread that ends gives its slot back, and new threads
// take them over.
#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdint>
#include <thread>
#include <vector>

#include "colony/shm/wait_word.hpp"

using namespace colony;
using namespace std::chrono_literals;

namespace {

// Until count threads are in their wait, or the deadline: a thread bumps
// arrived right before it sleeps, so a few more wakes may be needed.
int wake_until(std::atomic<std::uint32_t>& word, int count, std::chrono::steady_clock::time_point deadline) {
  int woken = 0;
  while (woken < count && std::chrono::steady_clock::now() < deadline) {
    woken += shm::wake_waiters(word, count - woken);
    std::this_thread::sleep_for(1ms);
  }
  return woken;
}

}  // namespace

TEST_CASE("threads that slept on a word and ended leave nothing a later wake counts or a later sleep needs",
          "[threads][wait]") {
  std::atomic<std::uint32_t> word{0};
  for (int round = 0; round < 4; ++round) {
    // Each of these sleeps to its deadline and ends.
    std::vector<std::thread> sleepers;
    std::atomic<int> timed_out{0};
    for (int i = 0; i < 32; ++i) {
      sleepers.emplace_back([&] {
        if (shm::wait_while_equal(word, 0, shm::Deadline::after(5ms)) == shm::Outcome::timed_out) ++timed_out;
      });
    }
    for (auto& sleeper : sleepers) sleeper.join();
    CHECK(timed_out.load() == 32);
    CHECK(shm::wake_waiters(word, shm::kWakeAll) == 0);  // nobody sleeps now
  }

  // New threads, on the slots the old ones gave back: woken exactly.
  constexpr int kWaiters = 8;
  std::atomic<int> woken_ok{0};
  std::vector<std::thread> waiters;
  for (int i = 0; i < kWaiters; ++i) {
    waiters.emplace_back([&] {
      if (shm::wait_while_equal(word, 0, shm::Deadline::after(20s)) == shm::Outcome::ok) ++woken_ok;
    });
  }
  const int woken = wake_until(word, kWaiters, std::chrono::steady_clock::now() + 20s);
  for (auto& waiter : waiters) waiter.join();
  CHECK(woken == kWaiters);
  CHECK(woken_ok.load() == kWaiters);
}

TEST_CASE("a wake for count sleepers wakes exactly count of them, and the rest wait on", "[threads][wait]") {
  std::atomic<std::uint32_t> word{0};
  std::atomic<int> arrived{0};
  std::atomic<int> woken_ok{0};
  std::atomic<int> timed_out{0};
  std::vector<std::thread> waiters;
  for (int i = 0; i < 6; ++i) {
    waiters.emplace_back([&] {
      ++arrived;
      const auto outcome = shm::wait_while_equal(word, 0, shm::Deadline::after(3s));
      if (outcome == shm::Outcome::ok) ++woken_ok;
      if (outcome == shm::Outcome::timed_out) ++timed_out;
    });
  }
  const auto until = std::chrono::steady_clock::now() + 2s;
  while (arrived.load() < 6 && std::chrono::steady_clock::now() < until) std::this_thread::sleep_for(1ms);
  std::this_thread::sleep_for(50ms);  // into their sleep; wake_until covers one that is not yet
  const int woken = wake_until(word, 2, until);
  for (auto& waiter : waiters) waiter.join();
  CHECK(woken == 2);
  CHECK(woken_ok.load() == 2);
  CHECK(timed_out.load() == 4);
}
