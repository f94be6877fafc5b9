#include "colony/shm/byte_array.hpp"

#include <cstring>
#include <new>

namespace colony::shm {
namespace {

static_assert(kDataOffset % sizeof(std::uint64_t) == 0,
              "offset alignment checks assume the data start is aligned for every atomic type");
static_assert(sizeof(std::atomic<std::uint32_t>) == sizeof(std::uint32_t) &&
                  alignof(std::atomic<std::uint32_t>) == alignof(std::uint32_t),
              "wait words are viewed both through atomic_ref and as std::atomic");

std::string describe(const SegmentName& name) { return "byte array " + name.os_name() + ": "; }

Error corrupt_length(const SegmentName& name, std::uint64_t length, std::size_t capacity) {
  return Error{Errc::corrupt, describe(name) + "its length " + std::to_string(length) + " is beyond its capacity " +
                                  std::to_string(capacity)};
}

const std::atomic<std::uint32_t>& wait_word_at(std::byte* address) noexcept {
  return *reinterpret_cast<const std::atomic<std::uint32_t>*>(address);
}

}  // namespace

ByteArray::ByteArray(Segment segment) noexcept
    : segment_(std::move(segment)),
      control_(reinterpret_cast<ByteArrayControl*>(segment_.control())),
      data_(segment_.data()),
      capacity_(segment_.data_size()) {}

Expected<ByteArray> ByteArray::create(const SegmentName& name, std::size_t capacity, std::size_t initial_length) {
  if (auto kind = require_kind(name, SegmentKind::bytes); !kind) return kind.error();
  if (initial_length > capacity) {
    return Error{Errc::invalid_argument, describe(name) + "initial length " + std::to_string(initial_length) +
                                             " is beyond the capacity " + std::to_string(capacity)};
  }
  auto segment = Segment::create(name, capacity);
  if (!segment) return segment.error();
  auto* control = new (segment->control()) ByteArrayControl{};
  control->capacity = capacity;
  control->length.store(initial_length, std::memory_order_relaxed);
  segment->mark_ready();  // release: openers see the control block complete
  return ByteArray(std::move(segment).value());
}

Expected<ByteArray> ByteArray::open(const SegmentName& name, Deadline ready_deadline) {
  if (auto kind = require_kind(name, SegmentKind::bytes); !kind) return kind.error();
  auto segment = Segment::open(name, ready_deadline);
  if (!segment) return segment.error();
  // Read once, atomically: another process could be rewriting the field.
  auto* control = reinterpret_cast<ByteArrayControl*>(segment->control());
  const std::uint64_t capacity = std::atomic_ref<std::uint64_t>(control->capacity).load(std::memory_order_relaxed);
  if (capacity != segment->data_size()) {
    return Error{Errc::corrupt, describe(name) + "its control block says capacity " + std::to_string(capacity) +
                                    " but the segment holds " + std::to_string(segment->data_size()) + " bytes"};
  }
  ByteArray array(std::move(segment).value());
  if (auto checked = array.length(); !checked) return checked.error();
  return array;
}

Expected<std::size_t> ByteArray::length() const {
  const std::uint64_t stored = control_->length.load();
  if (stored > capacity_) return corrupt_length(name(), stored, capacity_);
  return static_cast<std::size_t>(stored);
}

Expected<std::size_t> ByteArray::compare_and_swap_length(std::size_t expected, std::size_t desired) {
  if (desired > capacity_) {
    return Error{Errc::invalid_argument, describe(name()) + "length " + std::to_string(desired) +
                                             " is beyond the capacity " + std::to_string(capacity_)};
  }
  // No valid length equals such an expected value: the swap fails, and the
  // result is what the shared length holds (or corrupt, were it to match).
  if (expected > capacity_) return length();
  std::uint64_t found = expected;
  control_->length.compare_exchange_strong(found, desired);
  if (found > capacity_) return corrupt_length(name(), found, capacity_);
  return static_cast<std::size_t>(found);
}

Expected<std::byte*> ByteArray::locate(const char* what, std::size_t offset, std::size_t size,
                                       std::size_t alignment) const {
  auto current = length();
  if (!current) return current.error();
  if (offset % alignment != 0) {
    return Error{Errc::invalid_argument, describe(name()) + what + " of " + std::to_string(size) + " bytes at offset " +
                                             std::to_string(offset) + ": offset is not a multiple of " +
                                             std::to_string(alignment)};
  }
  // Written so that offset + size cannot wrap around.
  if (offset > *current || size > *current - offset) {
    return Error{Errc::invalid_argument, describe(name()) + what + " of " + std::to_string(size) + " bytes at offset " +
                                             std::to_string(offset) + " is beyond the length " +
                                             std::to_string(*current)};
  }
  return data_ + offset;
}

Expected<void> ByteArray::read(std::size_t offset, std::span<std::byte> out) const {
  auto source = locate("read", offset, out.size(), 1);
  if (!source) return source.error();
  if (!out.empty()) std::memcpy(out.data(), *source, out.size());  // memcpy wants non-null even for 0 bytes
  return {};
}

Expected<void> ByteArray::write(std::size_t offset, std::span<const std::byte> in) {
  auto target = locate("write", offset, in.size(), 1);
  if (!target) return target.error();
  if (!in.empty()) std::memcpy(*target, in.data(), in.size());
  return {};
}

Expected<Outcome> ByteArray::wait_word(std::size_t offset, std::uint32_t expected, Deadline deadline) const {
  auto address = locate("wait", offset, sizeof(std::uint32_t), sizeof(std::uint32_t));
  if (!address) return address.error();
  const auto& word = wait_word_at(*address);
  // Like Atomics.wait, the value is compared once, at entry; from then on only
  // a notify or the deadline ends the wait, even if the value changes.
  if (word.load() != expected) return Outcome::not_equal;
  for (;;) {
    const Outcome slept = wait_while_equal(word, expected, deadline);
    // A signal handler ran: sleep again until notified or the deadline.
    if (slept != Outcome::interrupted) return slept;  // ok, not_equal or timed_out
  }
}

Expected<int> ByteArray::notify(std::size_t offset, int count) {
  if (count < 0) {
    return Error{Errc::invalid_argument, describe(name()) + "notify count " + std::to_string(count) + " is negative"};
  }
  auto address = locate("notify", offset, sizeof(std::uint32_t), sizeof(std::uint32_t));
  if (!address) return address.error();
  return wake_waiters(wait_word_at(*address), count);
}

}  // namespace colony::shm
