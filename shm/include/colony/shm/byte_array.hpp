#pragma once
// A shareable byte array: a named segment (SegmentKind::bytes) whose capacity
// is fixed at creation and whose length, the logical size, changes atomically
// within it (AIR's ByteArray.atomicCompareAndSwapLength). Every read, write and
// atomic operation is bounds-checked against the current length.
//
// The bytes start at kDataOffset (4096, page aligned) of the OS object, so
// another language can map the same object by os_name() and index from there;
// Python: SharedMemory(name=os_name()[1:]).buf[4096:].
//
// Atomics follow JavaScript's Atomics on a SharedArrayBuffer: sequentially
// consistent, read-modify-write operations return the previous value, offsets
// must be aligned to the integer's size. wait/notify sleep on and wake the
// 32-bit word itself (it is a wait word, wait_word.hpp), so on Linux notify
// returns the exact count of waiters it woke, in any process. There is no
// 64-bit wait: a wait word compares 32 bits, so
// waiting on half of a 64-bit value would miss changes to the other half.
// Wait instead on a 32-bit generation word kept beside the 64-bit value and
// bumped (then notified) after each change of it.
//
// A handle maps the segment; dropping it does not unlink the segment, which
// belongs to its session (Segment::remove(name()) unlinks it earlier).
//
// Plain reads and writes are not atomic: callers that share bytes written by
// another process synchronize through the atomics, a Mutex or a ring.

#include <atomic>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "colony/shm/deadline.hpp"
#include "colony/shm/error.hpp"
#include "colony/shm/layout.hpp"
#include "colony/shm/names.hpp"
#include "colony/shm/segment.hpp"
#include "colony/shm/wait_word.hpp"
#include "colony/shm/outcome.hpp"

namespace colony::shm {

// The integers the atomic operations accept: exactly those that are lock-free
// in shared memory on every platform we build for.
template <class T>
concept SharedInteger = std::same_as<T, std::uint32_t> || std::same_as<T, std::int32_t> ||
                        std::same_as<T, std::uint64_t> || std::same_as<T, std::int64_t>;

// The integers a wait word can be.
template <class T>
concept WaitableInteger = std::same_as<T, std::uint32_t> || std::same_as<T, std::int32_t>;

static_assert(std::atomic_ref<std::uint32_t>::is_always_lock_free);
static_assert(std::atomic_ref<std::uint64_t>::is_always_lock_free);
static_assert(std::atomic_ref<std::uint64_t>::required_alignment == sizeof(std::uint64_t),
              "offsets are checked against the integer's size; a stricter alignment would need its own check");
static_assert(std::atomic_ref<std::uint32_t>::required_alignment == sizeof(std::uint32_t));

class ByteArray {
 public:

  // Creates the segment with capacity bytes, all zero, and publishes it.
  // initial_length must not exceed capacity.
  static Expected<ByteArray> create(const SegmentName& name, std::size_t capacity, std::size_t initial_length = 0);
  // Opens and validates; waits up to ready_deadline for the creator to publish.
  static Expected<ByteArray> open(const SegmentName& name, Deadline ready_deadline);

  ByteArray(ByteArray&&) noexcept = default;
  ByteArray& operator=(ByteArray&&) noexcept = default;

  std::size_t capacity() const noexcept { return capacity_; }
  // An error only when the length stored in shared memory is beyond capacity.
  Expected<std::size_t> length() const;
  // Sets the length to desired if it equals expected; returns the length found,
  // so the swap happened if and only if the result equals expected.
  // Bytes between two lengths keep what they held: the length is a bound, and
  // no process could zero them atomically with the swap.
  Expected<std::size_t> compare_and_swap_length(std::size_t expected, std::size_t desired);

  Expected<void> read(std::size_t offset, std::span<std::byte> out) const;
  Expected<void> write(std::size_t offset, std::span<const std::byte> in);

  template <SharedInteger T>
  Expected<T> load(std::size_t offset) const {
    return apply<T>("load", offset, [](std::atomic_ref<T> word) { return word.load(); });
  }
  template <SharedInteger T>
  Expected<void> store(std::size_t offset, T value) {
    auto word = locate("store", offset, sizeof(T), sizeof(T));
    if (!word) return word.error();
    ref<T>(*word).store(value);
    return {};
  }
  template <SharedInteger T>
  Expected<T> fetch_add(std::size_t offset, T operand) {
    return apply<T>("fetch_add", offset, [operand](std::atomic_ref<T> word) { return word.fetch_add(operand); });
  }
  template <SharedInteger T>
  Expected<T> fetch_sub(std::size_t offset, T operand) {
    return apply<T>("fetch_sub", offset, [operand](std::atomic_ref<T> word) { return word.fetch_sub(operand); });
  }
  template <SharedInteger T>
  Expected<T> fetch_and(std::size_t offset, T operand) {
    return apply<T>("fetch_and", offset, [operand](std::atomic_ref<T> word) { return word.fetch_and(operand); });
  }
  template <SharedInteger T>
  Expected<T> fetch_or(std::size_t offset, T operand) {
    return apply<T>("fetch_or", offset, [operand](std::atomic_ref<T> word) { return word.fetch_or(operand); });
  }
  template <SharedInteger T>
  Expected<T> fetch_xor(std::size_t offset, T operand) {
    return apply<T>("fetch_xor", offset, [operand](std::atomic_ref<T> word) { return word.fetch_xor(operand); });
  }
  template <SharedInteger T>
  Expected<T> exchange(std::size_t offset, T value) {
    return apply<T>("exchange", offset, [value](std::atomic_ref<T> word) { return word.exchange(value); });
  }
  // AIR's atomicCompareAndSwapIntAt and JS's compareExchange: stores desired if
  // the word holds expected; returns the value found either way.
  template <SharedInteger T>
  Expected<T> compare_exchange(std::size_t offset, T expected, T desired) {
    return apply<T>("compare_exchange", offset, [expected, desired](std::atomic_ref<T> word) {
      T found = expected;
      word.compare_exchange_strong(found, desired);
      return found;
    });
  }

  // Sleeps while the 32-bit word at offset holds expected, until notified
  // (ok) or the deadline passes (timed_out); not_equal at once when the word
  // does not hold expected. Signals do not end the wait early. If the value
  // changed while a signal handler ran, the result is not_equal.
  template <WaitableInteger T>
  Expected<Outcome> wait(std::size_t offset, T expected, Deadline deadline) const {
    return wait_word(offset, static_cast<std::uint32_t>(expected), deadline);
  }
  // Wakes up to count waiters on the 32-bit word at offset, in any process;
  // returns how many woke. Store the new value before notifying.
  Expected<int> notify(std::size_t offset, int count = kWakeAll);

  // All capacity bytes, for zero-copy users who synchronize themselves and
  // respect length() on their own.
  std::span<std::byte> bytes() noexcept { return {data_, capacity_}; }
  std::span<const std::byte> bytes() const noexcept { return {data_, capacity_}; }

  const SegmentName& name() const noexcept { return segment_.name(); }
  const std::string& os_name() const noexcept { return segment_.name().os_name(); }
  // Where the bytes start in the OS object, for foreign mappers.
  static constexpr std::size_t data_offset() noexcept { return kDataOffset; }

 private:
  explicit ByteArray(Segment segment) noexcept;

  // The address of size bytes at offset, checked against the current length
  // and, for atomics, the alignment; `what` names the access in the error.
  Expected<std::byte*> locate(const char* what, std::size_t offset, std::size_t size, std::size_t alignment) const;
  Expected<Outcome> wait_word(std::size_t offset, std::uint32_t expected, Deadline deadline) const;

  template <SharedInteger T>
  static std::atomic_ref<T> ref(std::byte* address) noexcept {
    return std::atomic_ref<T>(*reinterpret_cast<T*>(address));
  }
  template <SharedInteger T, class Operation>
  Expected<T> apply(const char* what, std::size_t offset, Operation operation) const {
    auto word = locate(what, offset, sizeof(T), sizeof(T));
    if (!word) return word.error();
    return operation(ref<T>(*word));
  }

  Segment segment_;
  ByteArrayControl* control_;
  std::byte* data_;
  std::size_t capacity_;  // validated copy: shared memory could be rewritten under us
};

}  // namespace colony::shm
