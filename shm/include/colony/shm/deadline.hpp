#pragma once
// Every blocking call in Colony takes a Deadline: an absolute point on the
// monotonic clock (CLOCK_MONOTONIC on Linux, which the wait word's timeouts use).

#include <chrono>

namespace colony::shm {

using Clock = std::chrono::steady_clock;

class Deadline {
 public:
  static Deadline never() noexcept { return Deadline(Clock::time_point::max()); }
  static Deadline now() noexcept { return Deadline(Clock::now()); }  // do not block
  template <class Rep, class Period>
  static Deadline after(std::chrono::duration<Rep, Period> timeout) noexcept {
    return Deadline(Clock::now() + std::chrono::duration_cast<Clock::duration>(timeout));
  }
  static Deadline at(Clock::time_point when) noexcept { return Deadline(when); }

  bool is_never() const noexcept { return when_ == Clock::time_point::max(); }
  bool expired() const noexcept { return !is_never() && Clock::now() >= when_; }
  bool passed() const noexcept { return !is_never() && Clock::now() >= when_; }
  Clock::time_point when() const noexcept { return when_; }
  Clock::duration remaining() const noexcept {
    if (is_never()) return Clock::duration::max();
    const auto left = when_ - Clock::now();
    return left > Clock::duration::zero() ? left : Clock::duration::zero();
  }
  // The earlier of the two: used to wake up periodically while waiting.
  Deadline capped(Clock::duration slice) const noexcept {
    const auto slice_end = Clock::now() + slice;
    return Deadline(slice_end < when_ ? slice_end : when_);
  }

 private:
  explicit Deadline(Clock::time_point when) noexcept : when_(when) {}
  Clock::time_point when_;
};

}  // namespace colony::shm
