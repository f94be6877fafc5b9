#include "colony/shm/ring.hpp"

#include <algorithm>
#include <bit>
#include <climits>
#include <cstring>
#include <stdexcept>

#include "colony/shm/cpu_relax.hpp"
#include "colony/shm/entropy.hpp"
#include "colony/shm/failpoint.hpp"
#include "colony/shm/process.hpp"
#include "colony/shm/robust_mutex.hpp"
#include "colony/shm/wait_word.hpp"

namespace colony::shm {
namespace {

using namespace std::chrono_literals;

constexpr std::size_t kMinCapacity = 256;
constexpr std::size_t kMaxCapacity = std::size_t{1} << 40;
constexpr std::uint64_t kFirstSequence = 1;
// A reader waiting on a record that a live writer of a many-writer ring is
// still filling re-checks that writer's liveness this often.
constexpr auto kWriterLivenessInterval = 5ms;

constexpr std::size_t record_size_for(std::size_t payload) noexcept {
  return (sizeof(RecordHeader) + payload + kRecordAlign - 1) & ~(kRecordAlign - 1);
}

// A claimed, uncommitted record of a many-writer ring stores -(payload + 1),
// so that an empty payload in progress is distinguishable from a committed one.
constexpr std::int32_t in_progress_length(std::size_t payload) noexcept {
  return -static_cast<std::int32_t>(payload) - 1;
}

Error corrupt_config(const SegmentName& name, const std::string& detail) {
  return Error{Errc::corrupt, "ring " + name.os_name() + " is corrupt: " + detail};
}

// Claims an identity slot (the writer of a single-writer ring, the reader)
// for this process, taking it over from a dead holder: one whose pid is gone
// or now names a process that started at another time.
Expected<void> claim_slot(std::atomic<std::uint64_t>& slot, const SegmentName& name, const char* role) {
  const ProcessIdentity self = current_identity();
  std::uint64_t holder_word = slot.load(std::memory_order_acquire);
  for (;;) {
    const ProcessIdentity holder = unpack_identity(holder_word);
    if (holder_word != 0 && (holder.pid == self.pid || is_alive(holder))) {
      return Error{Errc::busy, "ring " + name.os_name() + " already has a " + role + " (pid " +
                                   std::to_string(holder.pid) + ")"};
    }
    if (slot.compare_exchange_weak(holder_word, pack(self), std::memory_order_acq_rel)) return {};
  }
}

void release_slot(std::atomic<std::uint64_t>& slot) noexcept {
  std::uint64_t self = pack(current_identity());
  slot.compare_exchange_strong(self, 0, std::memory_order_acq_rel);
}

std::uint64_t random_publication_key() {
  const std::uint64_t key = random_bits();
  return key == 0 ? 1 : key;  // 0 would match the zero-filled data of a new ring at position 0
}

RecordHeader& header_at(const Ring& ring, std::uint64_t position) noexcept {
  return *reinterpret_cast<RecordHeader*>(ring.data() + (position & (ring.capacity() - 1)));
}

Claim claim_failed(Outcome status) noexcept {
  Claim claim;
  claim.status = status;
  return claim;
}

Received receive_status(Outcome status) noexcept {
  Received received;
  received.status = status;
  return received;
}

}  // namespace

// ---------------------------------------------------------------------------
// Ring

Expected<Ring> Ring::create(const SegmentName& name, const RingOptions& options) {
  if (auto kind = require_kind(name, SegmentKind::ring); !kind) return kind.error();
  if (options.capacity == 0 || options.capacity > kMaxCapacity) {
    return Error{Errc::invalid_argument, "ring capacity must be between 1 and 2^40 bytes"};
  }
  const std::size_t capacity = std::max(kMinCapacity, std::bit_ceil(options.capacity));
  const std::size_t largest = largest_message(capacity);
  if (options.max_message == 0 || options.max_message > largest ||
      options.max_message > static_cast<std::size_t>(INT32_MAX) - kRecordAlign) {
    return Error{Errc::invalid_argument, "ring max_message " + std::to_string(options.max_message) +
                                             " must be between 1 and " + std::to_string(largest) +
                                             " for a capacity of " + std::to_string(capacity)};
  }
  if (options.variant != RingVariant::single_writer && options.variant != RingVariant::many_writers) {
    return Error{Errc::invalid_argument, "unknown ring variant"};
  }
  if (options.pages != RingPages::reserved_at_creation && options.pages != RingPages::reserved_as_written) {
    return Error{Errc::invalid_argument, "unknown ring page reservation"};
  }
  const bool as_written = options.pages == RingPages::reserved_as_written;
  auto segment = as_written ? Segment::create(name, capacity, kRingDataReservedAtCreation)
                            : Segment::create(name, capacity);
  if (!segment) return segment.error();
  // The platform may have reserved every page anyway (RingPages).
  const RingPages pages =
      as_written && !segment->data_reserved_in_full() ? RingPages::reserved_as_written : RingPages::reserved_at_creation;
  auto& control = *reinterpret_cast<RingControl*>(segment->control());
  control.capacity = capacity;
  control.max_message = options.max_message;
  control.variant = static_cast<std::uint32_t>(options.variant);
  control.pages = static_cast<std::uint32_t>(pages);
  control.next_sequence.store(kFirstSequence, std::memory_order_relaxed);
  control.publication_key = random_publication_key();
  if (options.variant == RingVariant::many_writers) {
    if (auto ok = RobustMutexCell::initialize(control.claim_lock); !ok) {
      Segment::remove(name);
      return ok.error();
    }
  }
  // If we die before this line, openers see a segment that never became READY.
  COLONY_FAILPOINT("ring.create.before_ready");
  segment->mark_ready();
  const std::uint64_t key = control.publication_key;
  return Ring(std::move(segment).value(), capacity, options.max_message, options.variant, pages, key);
}

Expected<Ring> Ring::open(const SegmentName& name, Deadline ready_deadline) {
  if (auto kind = require_kind(name, SegmentKind::ring); !kind) return kind.error();
  auto segment = Segment::open(name, ready_deadline);
  if (!segment) return segment.error();
  const auto& control = *reinterpret_cast<const RingControl*>(segment->control());
  const std::uint64_t capacity = control.capacity;
  const std::uint64_t max_message = control.max_message;
  const std::uint32_t variant = control.variant;
  const std::uint32_t pages = control.pages;
  const std::uint64_t key = control.publication_key;
  if (key == 0) return corrupt_config(name, "its publication key is zero");
  if (capacity < kMinCapacity || !std::has_single_bit(capacity) || capacity != segment->data_size()) {
    return corrupt_config(name, "capacity " + std::to_string(capacity) + " does not match its data area");
  }
  if (max_message == 0 || max_message > largest_message(capacity)) {
    return corrupt_config(name, "max_message " + std::to_string(max_message) + " is out of range");
  }
  if (variant != static_cast<std::uint32_t>(RingVariant::single_writer) &&
      variant != static_cast<std::uint32_t>(RingVariant::many_writers)) {
    return corrupt_config(name, "unknown variant " + std::to_string(variant));
  }
  if (pages != static_cast<std::uint32_t>(RingPages::reserved_at_creation) &&
      pages != static_cast<std::uint32_t>(RingPages::reserved_as_written)) {
    return corrupt_config(name, "unknown page reservation " + std::to_string(pages));
  }
  return Ring(std::move(segment).value(), capacity, max_message, static_cast<RingVariant>(variant),
              static_cast<RingPages>(pages), key);
}

void Ring::close() noexcept {
  RingControl& c = control();
  c.closed.store(1, std::memory_order_release);
  // Wake every sleeper so that it sees closed; unconditional because close is rare.
  c.data_signal.fetch_add(1, std::memory_order_release);
  wake_waiters(c.data_signal, kWakeAll);
  c.space_signal.fetch_add(1, std::memory_order_release);
  wake_waiters(c.space_signal, kWakeAll);
}

void Ring::wake_reader() noexcept {
  RingControl& c = control();
  // Unconditional: the reader may be between its announcement and its sleep.
  // The bump makes that sleep return at once; the wake ends one in progress.
  c.data_signal.fetch_add(1, std::memory_order_release);
  wake_waiters(c.data_signal, kWakeAll);
}

bool Ring::is_closed() const noexcept { return control().closed.load(std::memory_order_acquire) != 0; }

std::size_t Ring::bytes_used() const noexcept {
  const std::uint64_t head = control().head.load(std::memory_order_acquire);
  const std::uint64_t tail = control().tail.load(std::memory_order_acquire);
  if (tail < head) return 0;  // the reader took a published record before tail moved past it
  return tail - head <= capacity_ ? static_cast<std::size_t>(tail - head) : capacity_;
}

std::uint64_t Ring::records_written() const noexcept {
  return control().records_written.load(std::memory_order_relaxed);
}
std::uint64_t Ring::records_read() const noexcept { return control().records_read.load(std::memory_order_relaxed); }

// ---------------------------------------------------------------------------
// RingWriter

RingWriter::RingWriter(Ring& ring, WaitPolicy policy)
    : ring_(&ring),
      policy_(policy),
      self_(current_identity()),
      reserved_end_(ring.pages() == RingPages::reserved_as_written
                        ? std::min(ring.capacity(), kRingDataReservedAtCreation)
                        : ring.capacity()) {}

RingWriter::RingWriter(RingWriter&& other) noexcept
    : ring_(other.ring_),
      policy_(other.policy_),
      self_(other.self_),
      attached_single_(other.attached_single_),
      tail_(other.tail_),
      cached_head_(other.cached_head_),
      full_spin_pays_(other.full_spin_pays_),
      reader_spins_(other.reader_spins_),
      unflushed_(other.unflushed_),
      reserved_end_(other.reserved_end_),
      reserve_failure_(std::move(other.reserve_failure_)) {
  other.attached_single_ = false;
  other.unflushed_ = false;
}

RingWriter::~RingWriter() {
  // A writer that goes away leaves no reader asleep on what it published.
  if (unflushed_) flush();
  if (attached_single_) release_slot(ring_->control().writer);
}

Expected<RingWriter> RingWriter::attach(Ring& ring, WaitPolicy policy) {
  RingWriter writer(ring, policy);
  RingControl& c = ring.control();
  if (ring.variant() == RingVariant::single_writer) {
    if (auto ok = claim_slot(c.writer, ring.name(), "writer"); !ok) return ok.error();
    writer.attached_single_ = true;
    writer.recover_published_records();
  }
  // Head and tail move while we look (the reader commits; other writers of a
  // many-writer ring claim): only a pair read while head stood still is
  // checked, so that a live ring is never mistaken for a corrupt one.
  std::uint64_t head = c.head.load(std::memory_order_acquire);
  std::uint64_t tail = c.tail.load(std::memory_order_acquire);
  for (int attempt = 0; attempt < 1000; ++attempt) {
    const std::uint64_t head_again = c.head.load(std::memory_order_acquire);
    if (head_again == head) break;
    head = head_again;
    tail = c.tail.load(std::memory_order_acquire);
  }
  if (tail < head || tail - head > ring.capacity() || tail % kRecordAlign != 0) {
    return corrupt_config(ring.name(), "head " + std::to_string(head) + " and tail " + std::to_string(tail) +
                                           " are inconsistent");
  }
  // A single writer that replaces a dead one starts at the published tail:
  // whatever its predecessor wrote beyond it was never visible.
  writer.tail_ = tail;
  writer.cached_head_ = head;
  writer.reader_spins_ = c.reader_spins.load(std::memory_order_relaxed) != 0;
  return writer;
}

void RingWriter::recover_published_records() {
  // A predecessor that died between a record's publication word and its tail
  // store left that record published, and the reader may have taken it:
  // resume after every record whose publication word matches. We hold the
  // writer slot, so nobody else writes here.
  RingControl& c = ring_->control();
  const std::size_t capacity = ring_->capacity();
  const std::uint64_t head = c.head.load(std::memory_order_acquire);
  const std::uint64_t tail = c.tail.load(std::memory_order_acquire);
  std::uint64_t end = tail;
  std::uint64_t last_sequence = 0;
  // Records between tail and head (the reader took them already) are skipped
  // like the others; nothing may reach beyond a ring past head.
  while (end % kRecordAlign == 0 && (end < head || end - head < capacity)) {
    RecordHeader& header = header_at(*ring_, end);
    if (header.publication.load(std::memory_order_acquire) != ring_->publication_for(end)) break;
    const std::int32_t length = header.length.load(std::memory_order_relaxed);
    if (length < 0) break;
    const std::size_t size = record_size_for(static_cast<std::size_t>(length));
    if ((end & (capacity - 1)) + size > capacity) break;
    if (end + size > head && end + size - head > capacity) break;
    if (header.type_tag != kPaddingTag) last_sequence = header.sequence;
    end += size;
  }
  if (end == tail) return;
  if (last_sequence >= c.next_sequence.load(std::memory_order_relaxed)) {
    c.next_sequence.store(last_sequence + 1, std::memory_order_relaxed);
  }
  c.tail.store(end, std::memory_order_release);
}

bool RingWriter::has_space(std::uint64_t tail, std::size_t needed, Outcome& failure) {
  const std::size_t capacity = ring_->capacity();
  if (cached_head_ <= tail && tail + needed - cached_head_ <= capacity) return true;
  cached_head_ = ring_->control().head.load(std::memory_order_acquire);
  reader_spins_ = ring_->control().reader_spins.load(std::memory_order_relaxed) != 0;  // on head's line
  if (cached_head_ > tail || tail - cached_head_ > capacity || cached_head_ % kRecordAlign != 0) {
    failure = Outcome::corrupt;
    return false;
  }
  if (tail + needed - cached_head_ <= capacity) return true;
  failure = Outcome::full;
  return false;
}

bool RingWriter::reserve_through(std::size_t record_end_offset) {
  // Reserved: this record and the header after it, where the reader spins
  // and the next writer looks (RingPages). At the end of the data area the
  // next header is at offset 0, reserved at creation.
  const std::size_t capacity = ring_->capacity();
  const std::size_t needed = std::min(capacity, record_end_offset + kRecordAlign);
  if (needed <= reserved_end_) return true;
  // A step at a time: one system call per 64 KiB of the ring's first lap.
  constexpr std::size_t kStep = 64 << 10;
  const std::size_t target = std::min(capacity, (needed + kStep - 1) / kStep * kStep);
  auto reserved = ring_->reserve_data(reserved_end_, target - reserved_end_);
  if (!reserved) {
    reserve_failure_ = reserved.error().message;
    return false;
  }
  reserved_end_ = target;
  return true;
}

Claim RingWriter::try_claim(std::uint32_t type_tag, std::size_t payload_size) {
  // Only a many-writer ring has a claim lock to wait for: a single writer's
  // try_claim reads no clock (a send of the worker API is one).
  const Deadline lock_deadline =
      ring_->variant() == RingVariant::many_writers ? Deadline::after(kClaimLockPatience) : Deadline::never();
  return claim_within(type_tag, payload_size, lock_deadline);
}

Claim RingWriter::claim_within(std::uint32_t type_tag, std::size_t payload_size, Deadline lock_deadline) {
  if (type_tag == kPaddingTag) throw std::invalid_argument("ring records need a non-zero type tag");
  lock_failure_ = Outcome::ok;
  if (payload_size > ring_->max_message()) return claim_failed(Outcome::too_large);
  if (ring_->is_closed()) return claim_failed(Outcome::closed);
  const std::size_t record_size = record_size_for(payload_size);
  return ring_->variant() == RingVariant::single_writer
             ? claim_single(type_tag, payload_size, record_size)
             : claim_many(type_tag, payload_size, record_size, lock_deadline);
}

std::string RingWriter::describe(Outcome status) const {
  const std::string ring = "ring " + ring_->name().os_name();
  if (lock_failure_ == Outcome::timed_out && status == Outcome::timed_out) {
    return ring + ": its claim lock stayed held" +
           (lock_holder_pid_ != 0 ? " by pid " + std::to_string(lock_holder_pid_) : std::string()) +
           " past the deadline (that process is stopped or hung, or the lock word names no live thread)";
  }
  if (lock_failure_ == Outcome::failed && status == Outcome::corrupt) {
    return ring + ": its claim lock cannot be taken: " + describe_lock_failure(lock_failure_, lock_failure_errno_);
  }
  switch (status) {
    case Outcome::full: return ring + " is full";
    case Outcome::timed_out: return ring + " stayed full until the deadline";
    case Outcome::corrupt: return ring + " is corrupt (a value in its control block is out of range)";
    case Outcome::no_space: return ring + ": its next record does not fit in shared memory: " + reserve_failure_;
    default: return ring + ": " + std::string(to_string(status));
  }
}

Claim RingWriter::claim_single(std::uint32_t type_tag, std::size_t payload_size, std::size_t record_size) {
  const std::size_t capacity = ring_->capacity();
  std::uint64_t position = tail_;
  const std::size_t to_end = capacity - (position & (capacity - 1));
  const bool wraps = to_end < record_size;
  Outcome failure = Outcome::full;
  if (!has_space(position, record_size + (wraps ? to_end : 0), failure)) return claim_failed(failure);
  if (!reserve_through(wraps ? record_size : capacity - to_end + record_size)) return claim_failed(Outcome::no_space);

  std::uint64_t padding_position = ~std::uint64_t{0};
  if (wraps) {
    // Unpublished until commit stores its publication word.
    RecordHeader& padding = header_at(*ring_, position);
    padding.type_tag = kPaddingTag;
    padding.sequence = 0;
    padding.writer_pid = self_.pid;
    padding.writer_start = self_.start;
    padding.length.store(static_cast<std::int32_t>(to_end - sizeof(RecordHeader)), std::memory_order_relaxed);
    padding_position = position;
    position += to_end;
  }
  RecordHeader& header = header_at(*ring_, position);
  // A reader that spins polls the record's first line, pause by pause: each
  // store to that line before the publication word invites a move of the line
  // to the reader and back. So a record of several lines gets its header with
  // the publication word, in publish (AMD EPYC, the 64-byte spinning round
  // trip: 380-390 ns with the header stamped here, 260-280 there). Otherwise it
  // is stamped now: a record of one line has its payload on that line anyway
  // (8 bytes: 240 ns stamped here, 260 there), and a stream to a reader that
  // does not spin measured slower with the header late in every set of runs
  // (64 bytes: medians of about 30 against 24 M/s, within the VM's spread).
  const bool stamp_at_publish = reader_spins_ && record_size > kRecordAlign;
  if (!stamp_at_publish) stamp_header(header, type_tag, payload_size);
  auto* payload = reinterpret_cast<std::byte*>(&header) + sizeof(RecordHeader);
  return Claim{Outcome::ok,     {payload, payload_size}, position, position + record_size, padding_position,
               stamp_at_publish ? type_tag : kPaddingTag};
}

void RingWriter::stamp_header(RecordHeader& header, std::uint32_t type_tag, std::size_t payload_size) const noexcept {
  header.type_tag = type_tag;
  header.sequence = ring_->control().next_sequence.load(std::memory_order_relaxed);
  header.writer_pid = self_.pid;
  header.writer_start = self_.start;
  header.length.store(static_cast<std::int32_t>(payload_size), std::memory_order_relaxed);
}

Claim RingWriter::claim_many(std::uint32_t type_tag, std::size_t payload_size, std::size_t record_size,
                             Deadline lock_deadline) {
  RingControl& c = ring_->control();
  RobustMutexCell lock(c.claim_lock);
  // A writer that died holding the lock published nothing past tail, or a
  // whole claimed header: either way the state is consistent, so an
  // owner-died report needs no repair here.
  const LockResult locked = lock.lock_until(lock_deadline);
  if (!locked.acquired()) {
    lock_failure_ = locked.status;
    lock_failure_errno_ = locked.error_number;
    lock_holder_pid_ = lock.holder_pid();
    // EDEADLK cannot happen (the lock is never held across calls): any
    // failure other than a timeout is a lock word that is not ours.
    return claim_failed(locked.status == Outcome::timed_out ? Outcome::timed_out : Outcome::corrupt);
  }
  COLONY_FAILPOINT("ring.claim_many.locked");
  const std::size_t capacity = ring_->capacity();
  std::uint64_t position = c.tail.load(std::memory_order_relaxed);
  if (position % kRecordAlign != 0) {
    lock.unlock();
    return claim_failed(Outcome::corrupt);
  }
  const std::size_t to_end = capacity - (position & (capacity - 1));
  const bool wraps = to_end < record_size;
  Outcome failure = Outcome::full;
  if (!has_space(position, record_size + (wraps ? to_end : 0), failure)) {
    lock.unlock();
    return claim_failed(failure);
  }
  // Under the lock: the header after ours is reserved before tail names it.
  if (!reserve_through(wraps ? record_size : capacity - to_end + record_size)) {
    lock.unlock();
    return claim_failed(Outcome::no_space);
  }
  if (wraps) {
    RecordHeader& padding = header_at(*ring_, position);
    padding.type_tag = kPaddingTag;
    padding.sequence = 0;
    padding.writer_pid = self_.pid;
    padding.writer_start = self_.start;
    padding.length.store(static_cast<std::int32_t>(to_end - sizeof(RecordHeader)), std::memory_order_relaxed);
    position += to_end;
  }
  RecordHeader& header = header_at(*ring_, position);
  const std::uint64_t sequence = c.next_sequence.load(std::memory_order_relaxed);
  header.type_tag = type_tag;
  header.sequence = sequence;
  header.writer_pid = self_.pid;
  header.writer_start = self_.start;
  header.length.store(in_progress_length(payload_size), std::memory_order_relaxed);
  c.next_sequence.store(sequence + 1, std::memory_order_relaxed);
  // Publishes the header (and any padding) with our pid. If we die after
  // this line, the reader finds a record in progress whose writer is dead and
  // turns it into padding; later records are unaffected.
  c.tail.store(position + record_size, std::memory_order_release);
  COLONY_FAILPOINT("ring.claim_many.after_tail");
  lock.unlock();
  auto* payload = reinterpret_cast<std::byte*>(&header) + sizeof(RecordHeader);
  return Claim{Outcome::ok, {payload, payload_size}, position, position + record_size, ~std::uint64_t{0}};
}

Claim RingWriter::claim(std::uint32_t type_tag, std::size_t payload_size, Deadline deadline) {
  RingControl& c = ring_->control();
  bool first_try = true;
  for (;;) {
    Claim claimed = claim_within(type_tag, payload_size, deadline);
    if (claimed.status != Outcome::full) {
      // Room at once: the reader keeps up, so waiting for it is worth a spin again.
      if (first_try) full_spin_pays_ = true;
      return claimed;
    }
    first_try = false;
    // The reader may sleep on records published without a wake: it must
    // run before we can expect space from it.
    if (unflushed_) flush();
    // Spin: one load per pause; claim again only once the reader moved.
    for (std::uint32_t spin = 0; spin < policy_.spin_iterations; ++spin) {
      cpu_relax();
      if (c.head.load(std::memory_order_relaxed) != cached_head_ || ring_->is_closed()) {
        claimed = claim_within(type_tag, payload_size, deadline);
        if (claimed.status != Outcome::full) return claimed;
      }
    }
    // Before sleeping, a short spin while the reader frees a quarter of the
    // ring: a reader that is taking records frees it within microseconds, and
    // a writer that slept would instead be woken at its first commit, to
    // fill one record and sleep again, a futex round trip per message (a
    // 256 KiB ring of 64 KiB messages ran at 2.6 GB/s that way, and at 14 to
    // 16 with this spin). A quarter, not one record: refilling each record as
    // it is freed moves head and the record between the cores per message. A
    // spin that ran out is not tried again until a claim finds room at once:
    // a reader slower than the writer costs one spin, not one per message.
    if (full_spin_pays_) {
      const Clock::time_point spin_end = std::min(Clock::now() + kFullSpin, deadline.when());
      const std::uint64_t wanted = std::max<std::uint64_t>(ring_->capacity() / 4, 1);
      bool paid = false;
      for (std::uint32_t spin = 1; !paid; ++spin) {
        cpu_relax();
        if (c.head.load(std::memory_order_relaxed) - cached_head_ >= wanted || ring_->is_closed()) {
          claimed = claim_within(type_tag, payload_size, deadline);
          if (claimed.status != Outcome::full) return claimed;
          paid = true;  // room for others' records, not ours yet: no more spinning for it
        }
        if (spin % 64 == 0 && Clock::now() >= spin_end) break;
      }
      full_spin_pays_ = paid;
    }
    // Read the signal, announce that we sleep, re-check, sleep on the value
    // read first. A commit that runs before our announcement is seen by the
    // re-check (the two fences order it); one that runs after it clears the
    // flag and bumps the signal, so our sleep returns at once and we announce
    // again. Reading the signal after announcing would lose that: a commit
    // that freed too little could consume the announcement and leave us
    // asleep on the bumped value with nobody left to wake us.
    // The flag stays set if we leave without sleeping: the reader's next
    // commit then clears it with one wake that finds nobody.
    const std::uint32_t signal = c.space_signal.load(std::memory_order_acquire);
    c.writers_waiting.store(1, std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_seq_cst);
    claimed = claim_within(type_tag, payload_size, deadline);
    if (claimed.status != Outcome::full) return claimed;
    if (deadline.passed()) return claim_failed(Outcome::timed_out);
    wait_while_equal(c.space_signal, signal, deadline);
  }
}

void RingWriter::commit(const Claim& claimed) noexcept {
  publish(claimed);
  flush();
}

void RingWriter::flush() noexcept {
  unflushed_ = false;
  wake_reader();
}

void RingWriter::publish(const Claim& claimed) noexcept {
  RingControl& c = ring_->control();
  RecordHeader& header = header_at(*ring_, claimed.position);
  if (ring_->variant() == RingVariant::single_writer) {
    if (claimed.padding != ~std::uint64_t{0}) {
      header_at(*ring_, claimed.padding)
          .publication.store(ring_->publication_for(claimed.padding), std::memory_order_release);
    }
    if (claimed.unstamped_tag != kPaddingTag) stamp_header(header, claimed.unstamped_tag, claimed.payload.size());
    // Publishes header and payload. If we die before this line, nothing of
    // the record is visible and the next writer overwrites it; if we die
    // after it, the reader may take the record and the next writer's attach
    // moves tail past it.
    COLONY_FAILPOINT("ring.commit.before_publication");
    header.publication.store(ring_->publication_for(claimed.position), std::memory_order_release);
    COLONY_FAILPOINT("ring.commit.after_publication");
    c.next_sequence.store(header.sequence + 1, std::memory_order_relaxed);
    c.records_written.store(c.records_written.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    tail_ = claimed.end;
    c.tail.store(tail_, std::memory_order_release);
  } else {
    c.records_written.fetch_add(1, std::memory_order_relaxed);
    // The length is published last: the reader sees the whole payload or waits.
    COLONY_FAILPOINT("ring.commit_many.before_length");
    header.length.store(static_cast<std::int32_t>(claimed.payload.size()), std::memory_order_release);
  }
  unflushed_ = true;
}

void RingWriter::drop(const Claim& claimed) noexcept {
  if (ring_->variant() == RingVariant::single_writer) return;  // unpublished: nothing to undo
  // The claim is already visible as a record in progress: turn it into padding.
  RecordHeader& header = header_at(*ring_, claimed.position);
  header.type_tag = kPaddingTag;
  header.length.store(static_cast<std::int32_t>(claimed.payload.size()), std::memory_order_release);
  wake_reader();
}

void RingWriter::wake_reader() noexcept {
  RingControl& c = ring_->control();
  // Pairs with the reader's announcement in RingReader::receive: either the
  // reader's re-check sees what we published, or we see readers_waiting.
  // Whoever wakes the reader also clears its flag, so the writes that follow,
  // until the reader has run and announced itself again, make no syscall.
  // A losing writer of a many-writer ring need not wake: see the comment in
  // RingReader::receive on why its record is seen all the same.
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (c.readers_waiting.load(std::memory_order_relaxed) != 0 &&
      c.readers_waiting.exchange(0, std::memory_order_acq_rel) != 0) {
    c.data_signal.fetch_add(1, std::memory_order_release);
    wake_waiters(c.data_signal, 1);
  }
}

Outcome RingWriter::try_send(std::uint32_t type_tag, std::span<const std::byte> payload) {
  return fill_and_commit(try_claim(type_tag, payload.size()), payload);
}

Outcome RingWriter::send(std::uint32_t type_tag, std::span<const std::byte> payload, Deadline deadline) {
  return fill_and_commit(claim(type_tag, payload.size(), deadline), payload);
}

Outcome RingWriter::fill_and_commit(const Claim& claimed, std::span<const std::byte> payload) noexcept {
  if (!claimed.ok()) return claimed.status;
  if (!payload.empty()) std::memcpy(claimed.payload.data(), payload.data(), payload.size());
  commit(claimed);
  return Outcome::ok;
}

// ---------------------------------------------------------------------------
// RingReader

RingReader::RingReader(Ring& ring, WaitPolicy policy) : ring_(&ring), policy_(policy) {}

RingReader::RingReader(RingReader&& other) noexcept
    : ring_(other.ring_),
      policy_(other.policy_),
      attached_(other.attached_),
      corrupt_(other.corrupt_),
      cursor_(other.cursor_),
      committed_(other.committed_),
      cached_tail_(other.cached_tail_),
      last_sequence_(other.last_sequence_),
      uncommitted_(other.uncommitted_),
      in_progress_writer_(other.in_progress_writer_),
      liveness_position_(other.liveness_position_),
      liveness_checked_at_(other.liveness_checked_at_),
      stream_spin_pays_(other.stream_spin_pays_) {
  other.attached_ = false;
}

RingReader::~RingReader() {
  // Uncommitted records stay in the ring for the next reader, exactly as if
  // this process had been killed.
  if (attached_) release_slot(ring_->control().reader);
}

Expected<RingReader> RingReader::attach(Ring& ring, WaitPolicy policy) {
  RingControl& c = ring.control();
  if (auto ok = claim_slot(c.reader, ring.name(), "reader"); !ok) return ok.error();
  RingReader reader(ring, policy);
  reader.attached_ = true;
  const std::uint64_t head = c.head.load(std::memory_order_acquire);
  const std::uint64_t tail = c.tail.load(std::memory_order_acquire);
  // A single writer's tail may lag head by records the previous reader took
  // on their publication word alone, never by more than a ring.
  const std::uint64_t spread = tail >= head ? tail - head : head - tail;
  const bool lag_allowed = tail >= head || ring.variant() == RingVariant::single_writer;
  if (!lag_allowed || spread > ring.capacity() || head % kRecordAlign != 0) {
    return corrupt_config(ring.name(), "head " + std::to_string(head) + " and tail " + std::to_string(tail) +
                                           " are inconsistent");
  }
  reader.cursor_ = reader.committed_ = head;
  reader.cached_tail_ = head;
  reader.last_sequence_ = c.last_sequence.load(std::memory_order_relaxed);
  // A reader that died asleep left the flag set; only one reader exists.
  c.readers_waiting.store(0, std::memory_order_relaxed);
  c.reader_spins.store(policy.spin_iterations > 0 ? 1 : 0, std::memory_order_relaxed);
  return reader;
}

Received RingReader::fail_corrupt() {
  corrupt_ = true;
  return receive_status(Outcome::corrupt);
}

bool RingReader::published_at_cursor() const noexcept {
  return ring_->variant() == RingVariant::single_writer &&
         header_at(*ring_, cursor_).publication.load(std::memory_order_acquire) == ring_->publication_for(cursor_);
}

RingReader::Step RingReader::step(Received& out) {
  in_progress_writer_ = 0;
  const std::size_t capacity = ring_->capacity();
  // Ask for the record's second cache line now, so that its transfer from
  // the writer's core overlaps the first line's. Harmless if there is none.
  const std::size_t offset_now = cursor_ & (capacity - 1);
  if (offset_now + 2 * kRecordAlign <= capacity) __builtin_prefetch(ring_->data() + offset_now + kRecordAlign);
  // How far records may reach: tail, or a whole ring past what we committed
  // when the record at the cursor is known published from its own header.
  std::uint64_t limit = cached_tail_;
  if (cursor_ >= cached_tail_) {
    if (published_at_cursor()) {
      limit = committed_ + capacity;
    } else {
      cached_tail_ = ring_->control().tail.load(std::memory_order_acquire);
      const bool single = ring_->variant() == RingVariant::single_writer;
      const bool lagging = cached_tail_ < committed_;  // only a single writer's tail may lag us
      if ((lagging && (!single || committed_ - cached_tail_ > capacity)) ||
          (!lagging && cached_tail_ - committed_ > capacity) || cached_tail_ % kRecordAlign != 0) {
        out = fail_corrupt();
        return Step::none;
      }
      if (cursor_ >= cached_tail_) return Step::none;
      limit = cached_tail_;
    }
  }
  RecordHeader& header = header_at(*ring_, cursor_);
  const std::size_t offset = cursor_ & (capacity - 1);
  std::int32_t length = header.length.load(std::memory_order_acquire);
  if (length < 0) {
    if (ring_->variant() == RingVariant::single_writer) {
      out = fail_corrupt();
      return Step::none;
    }
    // Liveness costs system calls (is_alive, process.hpp): ask at most once
    // per interval for the same record, however often the caller polls.
    const ProcessIdentity writer{header.writer_pid, header.writer_start};
    const auto now = Clock::now();
    if (cursor_ == liveness_position_ && now - liveness_checked_at_ < kWriterLivenessInterval) {
      in_progress_writer_ = writer.pid;
      return Step::in_progress;
    }
    liveness_position_ = cursor_;
    liveness_checked_at_ = now;
    if (is_alive(writer)) {
      in_progress_writer_ = writer.pid;
      return Step::in_progress;
    }
    // Its writer died inside the record: make it padding. Only the reader
    // does this, so no live process races us; if we die on the next line,
    // the next reader finds the same dead writer and does the same.
    length = -(length + 1);
    header.type_tag = kPaddingTag;
    COLONY_FAILPOINT("ring.reader.before_padding_length");
    header.length.store(length, std::memory_order_release);
  }
  const auto payload_size = static_cast<std::size_t>(length);
  if (payload_size > capacity) {
    out = fail_corrupt();
    return Step::none;
  }
  const std::size_t record_size = record_size_for(payload_size);
  if (offset + record_size > capacity || record_size > limit - cursor_) {
    out = fail_corrupt();
    return Step::none;
  }
  const std::uint32_t type_tag = header.type_tag;
  if (type_tag == kPaddingTag) {
    cursor_ += record_size;
    return Step::padding;
  }
  const std::uint64_t sequence = header.sequence;
  if (payload_size > ring_->max_message() || sequence <= last_sequence_) {
    out = fail_corrupt();
    return Step::none;
  }
  out = Received{Outcome::ok,
                 RecordView{type_tag, sequence,
                            {reinterpret_cast<const std::byte*>(&header) + sizeof(RecordHeader), payload_size}}};
  cursor_ += record_size;
  last_sequence_ = sequence;
  ++uncommitted_;
  return Step::record;
}

Received RingReader::try_receive() {
  if (corrupt_) return receive_status(Outcome::corrupt);
  for (;;) {
    Received out;
    switch (step(out)) {
      case Step::record: return out;
      case Step::padding:
        // Padding alone before any pending record is freed at once.
        if (uncommitted_ == 0) commit();
        continue;
      case Step::in_progress: return receive_status(Outcome::empty);
      case Step::none:
        if (out.status == Outcome::corrupt) return out;
        if (ring_->is_closed()) {
          // close() is ordered after the last send: look once more.
          cached_tail_ = ring_->control().tail.load(std::memory_order_acquire);
          if (cursor_ < cached_tail_ || published_at_cursor()) continue;
          return receive_status(Outcome::closed);
        }
        return receive_status(Outcome::empty);
    }
  }
}

Received RingReader::receive(Deadline deadline) { return receive_until(deadline, nullptr); }

Received RingReader::receive(Deadline deadline, const std::atomic<bool>& interrupt) {
  return receive_until(deadline, &interrupt);
}

Received RingReader::receive_until(Deadline deadline, const std::atomic<bool>* interrupt) {
  RingControl& c = ring_->control();
  const auto interrupted = [interrupt] { return interrupt != nullptr && interrupt->load(std::memory_order_acquire); };
  bool first_try = true;
  for (;;) {
    Received received = try_receive();
    // A record there at once: the writer is ahead, and will likely be again.
    if (first_try && received.ok()) stream_spin_pays_ = true;
    first_try = false;
    if (received.status != Outcome::empty || interrupted()) return received;
    // Spin: one load per pause of the word that says the next record is
    // there: its publication word (single writer), the tail (many writers),
    // or, behind a claim still being filled, its length. The publication
    // word sits in the record's first line, which the reader needs anyway:
    // a record of one line then moves once between the cores, where polling
    // tail moved tail's line and then the record's (AMD EPYC, the 8-byte
    // raw-ring round trip: 230 against 341 ns). A two-line record costs the
    // same either way (64 B: 371 against 360 ns, within the runs' spread).
    const bool single = ring_->variant() == RingVariant::single_writer;
    for (std::uint32_t spin = 0; spin < policy_.spin_iterations; ++spin) {
      cpu_relax();
      const bool moved = in_progress_writer_ != 0
                             ? header_at(*ring_, cursor_).length.load(std::memory_order_relaxed) >= 0
                         : single ? published_at_cursor()
                                  : c.tail.load(std::memory_order_relaxed) > cursor_;
      if (moved || ring_->is_closed()) {
        received = try_receive();
        if (received.status != Outcome::empty) return received;
      }
    }
    // A reader that keeps up with a stream catches up with its writer now
    // and then, and the next record is then a fraction of a microsecond
    // away: asleep, it would cost the writer a wake syscall per catch-up and
    // itself a wake-up of tens of microseconds (a 256 KiB ring of 64-byte
    // messages: 212,000 wakes in a third of a second, 6 M messages/s). So it
    // spins for it a while first, looking at tail every 128 pauses (3.5 us
    // on the AMD machine of the benchmark) rather than every pause: each look
    // moves the writer's line, which the writer stores per record, and a
    // reader that takes each record the moment it is published keeps the
    // pair in lockstep, moving lines while they are written. Letting the
    // writer get a few records ahead, it drains them in a run (a 1 KiB
    // stream read in place: 9.4 M/s looking every 32 pauses, 13.9 every
    // 128). A record that comes during the spin waits at most that long; one
    // that comes to a sleeping reader wakes it at once. A spin that ran out
    // is not tried again until a receive finds a record at once: a reader
    // waiting for requests or replies sleeps at once, as before.
    if (stream_spin_pays_ && policy_.stream_spin.count() > 0 && !interrupted() && !deadline.passed()) {
      const Clock::time_point spin_end = std::min(Clock::now() + policy_.stream_spin, deadline.when());
      for (std::uint32_t spin = 1;; ++spin) {
        cpu_relax();
        if (spin % 128 != 0) continue;
        if (c.tail.load(std::memory_order_relaxed) > cursor_ || ring_->is_closed()) {
          received = try_receive();
          if (received.status != Outcome::empty) return received;
        }
        if (interrupted()) return received;
        if (Clock::now() >= spin_end) break;
      }
      stream_spin_pays_ = false;
    }
    // Announce, then re-check: a writer either published before our
    // announcement (the re-check sees it) or sees readers_waiting and wakes us.
    // Two writers may both see the flag and only one win the exchange that
    // clears it; the loser's fence then precedes ours in the single total
    // order (its exchange is coherence-ordered before our next store of the
    // flag), so our next re-check sees its record.
    // As in RingWriter::claim: the signal is read before the announcement.
    const std::uint32_t signal = c.data_signal.load(std::memory_order_acquire);
    c.readers_waiting.store(1, std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_seq_cst);
    received = try_receive();
    if (received.status == Outcome::empty && interrupted()) {
      // The interrupter bumped data_signal after setting the flag: either we
      // read the bumped signal above (and see the flag here), or the sleep
      // below returns at once.
      c.readers_waiting.store(0, std::memory_order_relaxed);
      return received;
    }
    if (received.status != Outcome::empty || deadline.passed()) {
      c.readers_waiting.store(0, std::memory_order_relaxed);
      return received.status == Outcome::empty ? receive_status(Outcome::timed_out) : received;
    }
    // While a live writer fills the record at our cursor, wake up now and
    // then to notice if it dies; otherwise sleep until woken or the deadline.
    COLONY_FAILPOINT("ring.reader.before_sleep");
    wait_while_equal(c.data_signal, signal, in_progress_writer_ != 0 ? deadline.capped(kWriterLivenessInterval) : deadline);
    c.readers_waiting.store(0, std::memory_order_relaxed);
  }
}

void RingReader::commit() noexcept {
  if (cursor_ == committed_) return;
  RingControl& c = ring_->control();
  c.records_read.store(c.records_read.load(std::memory_order_relaxed) + uncommitted_, std::memory_order_relaxed);
  committed_ = cursor_;
  uncommitted_ = 0;
  // Frees the space. If we die before this line, every record received since
  // the last commit is delivered again to the next reader.
  COLONY_FAILPOINT("ring.reader_commit.before_head");
  c.head.store(committed_, std::memory_order_release);
  COLONY_FAILPOINT("ring.reader_commit.after_head");
  // After head, never before: a reader that dies between the two leaves a
  // last_sequence that is merely older, which weakens the next reader's
  // sequence check but never makes a good record look replayed.
  c.last_sequence.store(last_sequence_, std::memory_order_relaxed);
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (c.writers_waiting.load(std::memory_order_relaxed) != 0 &&
      c.writers_waiting.exchange(0, std::memory_order_acq_rel) != 0) {
    c.space_signal.fetch_add(1, std::memory_order_release);
    wake_waiters(c.space_signal, kWakeAll);  // each writer re-announces before sleeping again
  }
}

}  // namespace colony::shm
