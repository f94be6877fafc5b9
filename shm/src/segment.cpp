#include "colony/shm/segment.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <thread>
#include <utility>

#include "colony/shm/failpoint.hpp"
#include "colony/shm/process.hpp"
#include "colony/shm/wait_word.hpp"
#include "shared_memory_object.hpp"

namespace colony::shm {
namespace {

using namespace std::chrono_literals;

// How often an opener waiting for READY re-checks that the creator lives.
constexpr auto kCreatorCheckInterval = 10ms;

std::uint64_t unix_now_ns() {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count());
}

// Header fields that an opener may read while the creator is still writing
// them are accessed through atomic_ref; the rest are read only after READY
// (acquire) or after the magic (release-stored after them).
std::uint64_t load_magic(SegmentHeader& header) {
  return std::atomic_ref<std::uint64_t>(header.magic).load(std::memory_order_acquire);
}
// creator_start is stored before creator_pid is release-stored.
ProcessIdentity load_creator(SegmentHeader& header) {
  const int pid = std::atomic_ref<std::int32_t>(header.creator_pid).load(std::memory_order_acquire);
  return {pid, std::atomic_ref<std::uint32_t>(header.creator_start).load(std::memory_order_relaxed)};
}

Error refuse(const SegmentName& name, Errc code, const std::string& detail) {
  return Error{code, "segment " + name.os_name() + " refused: " + detail};
}

}  // namespace

std::size_t Segment::total_size_for(std::size_t data_size) noexcept { return kDataOffset + data_size; }

Segment::Segment(SegmentName name, std::unique_ptr<platform::SharedMemoryObject> object, std::size_t data_size)
    : name_(std::move(name)),
      object_(std::move(object)),
      base_(object_->address()),
      size_(object_->size()),
      data_size_(data_size) {}

// A moved-from segment maps nothing: its base is null, not a pointer into
// the mapping it gave away.
Segment::Segment(Segment&& other) noexcept
    : name_(std::move(other.name_)),
      object_(std::move(other.object_)),
      base_(std::exchange(other.base_, nullptr)),
      size_(std::exchange(other.size_, 0)),
      data_size_(std::exchange(other.data_size_, 0)) {}

Segment& Segment::operator=(Segment&& other) noexcept {
  if (this != &other) {
    name_ = std::move(other.name_);
    object_ = std::move(other.object_);
    base_ = std::exchange(other.base_, nullptr);
    size_ = std::exchange(other.size_, 0);
    data_size_ = std::exchange(other.data_size_, 0);
  }
  return *this;
}
Segment::~Segment() = default;

Expected<Segment> Segment::create(const SegmentName& name, std::size_t data_size,
                                 std::optional<std::size_t> reserve_data) {
  if (data_size > (std::size_t{1} << 40)) {
    return Error{Errc::invalid_argument, "segment " + name.os_name() + ": data size " + std::to_string(data_size) +
                                             " is larger than 1 TiB"};
  }
  const std::size_t total = total_size_for(data_size);
  const std::size_t reserve_now = reserve_data ? kDataOffset + std::min(*reserve_data, data_size) : total;
  auto object = platform::SharedMemoryObject::create_exclusive(name.os_name(), total, reserve_now);
  if (!object) return object.error();
  Segment segment(name, std::move(object).value(), data_size);

  // The object is zero-filled. Publish the creator first so that an opener
  // racing with us can tell "still being built" from "creator died".
  SegmentHeader& header = segment.header();
  const ProcessIdentity self = current_identity();
  std::atomic_ref<std::uint32_t>(header.creator_start).store(self.start, std::memory_order_relaxed);
  std::atomic_ref<std::int32_t>(header.creator_pid).store(self.pid, std::memory_order_release);
  header.layout_version = kLayoutVersion;
  header.kind = static_cast<std::uint32_t>(name.kind());
  header.total_size = total;
  header.data_offset = data_size > 0 ? kDataOffset : 0;
  header.data_size = data_size;
  header.created_unix_ns = unix_now_ns();
  // If we die here, openers see magic == 0 and a dead creator_pid: creator_died.
  COLONY_FAILPOINT("segment.create.before_magic");
  std::atomic_ref<std::uint64_t>(header.magic).store(kSegmentMagic, std::memory_order_release);
  return segment;
}

bool Segment::data_reserved_in_full() const noexcept { return object_ && object_->reserved_in_full(); }

Expected<void> Segment::reserve_data(std::size_t offset, std::size_t length) const {
  if (offset > data_size_ || length > data_size_ - offset) {
    return Error{Errc::invalid_argument, "segment " + name_.os_name() + ": bytes " + std::to_string(offset) + " to " +
                                             std::to_string(offset + length) + " are beyond its data"};
  }
  auto reserved = object_->reserve(kDataOffset + offset, length);
  if (!reserved) {
    Error error = reserved.error();
    error.message = "segment " + name_.os_name() + ": " + error.message;
    return error;
  }
  return {};
}

void Segment::mark_ready() noexcept {
  // Everything the creator wrote happens-before an opener's acquire of ready.
  header().ready.store(1, std::memory_order_release);
  wake_waiters(header().ready, kWakeAll);
}

Expected<Segment> Segment::open(const SegmentName& name, Deadline ready_deadline) {
  for (;;) {
    auto object = platform::SharedMemoryObject::open_existing(name.os_name());
    if (!object) return object.error();
    const std::size_t object_size = (*object)->size();
    if (object_size < kDataOffset) {
      // A creator between shm_open and ftruncate, or a foreign object.
      if (ready_deadline.passed()) {
        return refuse(name, Errc::bad_size, "it is " + std::to_string(object_size) + " bytes, smaller than a header");
      }
      std::this_thread::sleep_for(1ms);
      continue;
    }
    auto& header = *static_cast<SegmentHeader*>((*object)->address());

    const std::uint64_t magic = load_magic(header);
    if (magic == 0) {
      // Zero-filled: the creator has not written the header yet.
      const ProcessIdentity creator = load_creator(header);
      if (creator.pid != 0 && !is_alive(creator)) {
        return refuse(name, Errc::creator_died,
                      "its creator (pid " + std::to_string(creator.pid) + ") died while building it");
      }
      if (ready_deadline.passed()) return refuse(name, Errc::not_ready, "its header was never written");
      std::this_thread::sleep_for(1ms);
      continue;
    }
    if (magic != kSegmentMagic) return refuse(name, Errc::bad_magic, "it is not a Colony segment (bad magic)");
    if (header.layout_version != kLayoutVersion) {
      return refuse(name, Errc::bad_version, "layout version " + std::to_string(header.layout_version) +
                                                 ", this build reads version " + std::to_string(kLayoutVersion));
    }
    if (header.kind != static_cast<std::uint32_t>(name.kind())) {
      return refuse(name, Errc::wrong_kind, "it holds kind " + std::to_string(header.kind) + ", not " +
                                                std::string(kind_name(name.kind())));
    }
    // Where the system keeps a mapping's size in whole pages (Windows), the
    // header's exact size is checked against it rounded up.
    const std::size_t granularity = (*object)->size_granularity();
    const std::uint64_t expected_size = (header.total_size + granularity - 1) / granularity * granularity;
    if (expected_size != object_size || header.total_size > object_size ||
        header.data_size > object_size - kDataOffset ||
        (header.data_size > 0 && header.data_offset != kDataOffset)) {
      return refuse(name, Errc::bad_size, "header says " + std::to_string(header.total_size) + " bytes, object has " +
                                              std::to_string(object_size));
    }

    while (header.ready.load(std::memory_order_acquire) == 0) {
      const ProcessIdentity creator = load_creator(header);
      if (!is_alive(creator)) {
        return refuse(name, Errc::creator_died,
                      "its creator (pid " + std::to_string(creator.pid) + ") died before marking it ready");
      }
      if (ready_deadline.passed()) return refuse(name, Errc::not_ready, "it did not become ready before the deadline");
      wait_while_equal(header.ready, 0, ready_deadline.capped(kCreatorCheckInterval));
    }
    const std::size_t data_size = header.data_size;
    return Segment(name, std::move(object).value(), data_size);
  }
}

bool Segment::outlives_its_processes() noexcept { return platform::SharedMemoryObject::outlives_its_processes(); }

bool Segment::remove(const SegmentName& name) noexcept { return platform::SharedMemoryObject::remove(name.os_name()); }

bool Segment::remove_os_name(const char* os_name) noexcept {
  try {
    return platform::SharedMemoryObject::remove(os_name);
  } catch (...) {
    return false;
  }
}

std::vector<std::string> Segment::list(std::string_view prefix) { return platform::SharedMemoryObject::list(prefix); }

EntryOwner Segment::owner_of(const std::string& os_name) { return platform::SharedMemoryObject::owner_of(os_name); }

}  // namespace colony::shm
