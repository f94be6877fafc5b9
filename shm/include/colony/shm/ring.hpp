#pragma once
// Ring channels: variable-size framed records in a named segment, one reader,
// one writer (RingVariant::single_writer) or many (RingVariant::many_writers).
// The layout and the publication protocol are described in layout.hpp.
//
// Design in brief
// - Writers claim space, fill the payload in place, then commit. Nothing is
//   visible to the reader before commit, and a claim that is dropped without
//   commit leaves nothing behind (single writer) or padding (many writers).
// - The reader receives records and commits them later: a reader killed
//   between the two leaves every uncommitted record to the next reader.
// - Full, empty and timed out are ordinary results, not errors.
// - Blocking calls sleep on a wait word in the segment (wait_word.hpp); the other side skips
//   the wake syscall when nobody sleeps. A spin budget, off by default, trades
//   a core for latency.
// - Every index, length and sequence read back from the segment is checked;
//   a ring that fails a check reports corrupt from then on and is never read
//   out of bounds.

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <utility>

#include "colony/shm/deadline.hpp"
#include "colony/shm/error.hpp"
#include "colony/shm/layout.hpp"
#include "colony/shm/process.hpp"
#include "colony/shm/robust_mutex.hpp"
#include "colony/shm/segment.hpp"
#include "colony/shm/outcome.hpp"

namespace colony::shm {

struct RingOptions {
  std::size_t capacity = 1 << 20;      // bytes of records; rounded up to a power of two
  std::size_t max_message = 64 << 10;  // largest payload; at most largest_message(capacity)
  RingVariant variant = RingVariant::single_writer;
  // reserved_as_written: a ring that may never fill costs /dev/shm only what
  // is written to it (a worker's channels); its writers can then get
  // no_space. The default reserves every page at creation.
  RingPages pages = RingPages::reserved_at_creation;
};

// How a blocking call waits: spin this many times (re-checking, with a CPU
// pause) before sleeping in the kernel. 0, the default, never spins; a
// writer that finds the ring full also spins up to RingWriter::kFullSpin
// while the reader frees a quarter of it, whatever the policy.
//
// stream_spin: a reader that keeps up with a stream (its receives find
// records at once) and catches up with its writer waits this long for the
// next record before it sleeps; a spin that runs out is not tried again
// until a receive finds a record at once, so a reader of requests or
// replies that come slower sleeps at once. 0: always sleep at once.
struct WaitPolicy {
  std::uint32_t spin_iterations = 0;
  std::chrono::microseconds stream_spin{20};
};

// One process's mapping of a ring segment. Readers and writers borrow it.
class Ring {
 public:
  static Expected<Ring> create(const SegmentName& name, const RingOptions& options);
  static Expected<Ring> open(const SegmentName& name, Deadline ready_deadline);

  const SegmentName& name() const noexcept { return segment_.name(); }
  std::size_t capacity() const noexcept { return capacity_; }
  std::size_t max_message() const noexcept { return max_message_; }
  RingVariant variant() const noexcept { return variant_; }
  RingPages pages() const noexcept { return pages_; }

  // Stops sends; the reader drains what was committed, then sees closed.
  void close() noexcept;
  // Wakes the reader from a receive(deadline, interrupt) so that it looks at
  // its interrupt flag; set the flag first. Writes nothing else.
  void wake_reader() noexcept;
  bool is_closed() const noexcept;

  // Introspection, racy by nature: bytes and records between head and tail.
  std::size_t bytes_used() const noexcept;
  std::uint64_t records_written() const noexcept;
  std::uint64_t records_read() const noexcept;

  RingControl& control() const noexcept { return *reinterpret_cast<RingControl*>(segment_.control()); }
  std::byte* data() const noexcept { return segment_.data(); }
  // kRingUserSize bytes reserved for the layer above (see layout.hpp), zero at creation.
  std::byte* user_area() const noexcept { return segment_.base() + kRingUserOffset; }
  // What RecordHeader::publication holds once the record at position is committed.
  std::uint64_t publication_for(std::uint64_t position) const noexcept { return position ^ publication_key_; }
  // RingPages::reserved_as_written: reserves data bytes [offset, offset + length).
  Expected<void> reserve_data(std::size_t offset, std::size_t length) const {
    return segment_.reserve_data(offset, length);
  }

 private:
  Ring(Segment segment, std::size_t capacity, std::size_t max_message, RingVariant variant, RingPages pages,
       std::uint64_t key)
      : segment_(std::move(segment)),
        capacity_(capacity),
        max_message_(max_message),
        variant_(variant),
        pages_(pages),
        publication_key_(key) {}
  Segment segment_;
  // Config copied out of the segment once, after validation: later reads of
  // the (writable, untrusted) control block cannot change them under us.
  std::size_t capacity_;
  std::size_t max_message_;
  RingVariant variant_;
  RingPages pages_;
  std::uint64_t publication_key_;
};

// Space claimed by a writer: fill payload, then commit it (or drop it).
struct Claim {
  Outcome status = Outcome::ok;
  std::span<std::byte> payload;
  std::uint64_t position = 0;  // where the record header starts
  std::uint64_t end = 0;       // position after the record
  std::uint64_t padding = ~std::uint64_t{0};  // where a padding record before it starts, if any
  std::uint32_t unstamped_tag = 0;  // non-zero: the header is left to commit, with this type tag
  bool ok() const noexcept { return status == Outcome::ok; }
};

class RingWriter {
 public:
  // Single-writer rings admit one writer at a time: busy while another live
  // process is attached. A writer of a dead process is replaced.
  static Expected<RingWriter> attach(Ring& ring, WaitPolicy policy = {});
  RingWriter(RingWriter&& other) noexcept;
  RingWriter& operator=(RingWriter&&) = delete;
  ~RingWriter();

  // Copies payload in as one record tagged type_tag (non-zero): ok, or full
  // (try_send: no space now), timed_out (send: no space by the deadline),
  // too_large (nothing written), closed or corrupt.
  //
  // A many-writer ring's claim lock is taken with the deadline too (a live
  // holder keeps it for a few instructions; one that keeps it longer is
  // stopped, hung, or the lock word was overwritten): send and claim return
  // timed_out when the lock stayed held until the deadline, and corrupt when
  // it cannot be taken at all (describe() says which). try_send and
  // try_claim wait for the lock at most kClaimLockPatience.
  static constexpr std::chrono::milliseconds kClaimLockPatience{20};
  // How long a writer that found the ring full waits for a quarter of it to
  // be freed before it sleeps (never past its deadline); see claim().
  static constexpr std::chrono::microseconds kFullSpin{20};
  Outcome try_send(std::uint32_t type_tag, std::span<const std::byte> payload);
  Outcome send(std::uint32_t type_tag, std::span<const std::byte> payload, Deadline deadline);

  // Zero-copy: claim, write into claim.payload, commit. A claim must be
  // committed or dropped before the next one.
  Claim try_claim(std::uint32_t type_tag, std::size_t payload_size);
  Claim claim(std::uint32_t type_tag, std::size_t payload_size, Deadline deadline);
  // Publishes the claim. Ends with a sequentially consistent fence (to decide
  // whether to wake the reader), so loads after it are ordered after the
  // publication: layers above rely on that to skip a fence of their own.
  void commit(const Claim& claim) noexcept;
  // Batching: publish makes the claim's record visible exactly as commit
  // does, but leaves out commit's fence and its look at whether the reader
  // sleeps; flush does those once for every record published since. A
  // reader that is awake takes a published record at once; one that sleeps
  // is woken at the flush. A run of publishes must end with a flush (claim
  // and send flush before they wait for space, so a batch that fills the
  // ring cannot leave the reader asleep on it).
  void publish(const Claim& claim) noexcept;
  void flush() noexcept;
  bool has_unflushed() const noexcept { return unflushed_; }
  void drop(const Claim& claim) noexcept;
  // Runs write(claim.payload), then commits. If write throws, the claim is
  // dropped (nothing half-written becomes visible) and the exception goes on.
  template <class Write>
  void write_and_commit(const Claim& claim, Write&& write) {
    write_and_publish(claim, std::forward<Write>(write));
    flush();
  }
  // The same with publish instead of commit (a batch's record).
  template <class Write>
  void write_and_publish(const Claim& claim, Write&& write) {
    try {
      write(claim.payload);
    } catch (...) {
      drop(claim);
      throw;
    }
    publish(claim);
  }

  Ring& ring() const noexcept { return *ring_; }

  // One line for a person on why the last claim or send failed with status,
  // naming the ring's segment: "ring /colony.s.ring.mb-x: its claim lock
  // stayed held by pid 4242 past the deadline (...)".
  std::string describe(Outcome status) const;

 private:
  RingWriter(Ring& ring, WaitPolicy policy);
  Claim claim_within(std::uint32_t type_tag, std::size_t payload_size, Deadline lock_deadline);
  Claim claim_single(std::uint32_t type_tag, std::size_t payload_size, std::size_t record_size);
  Claim claim_many(std::uint32_t type_tag, std::size_t payload_size, std::size_t record_size, Deadline lock_deadline);
  Outcome fill_and_commit(const Claim& claimed, std::span<const std::byte> payload) noexcept;
  bool has_space(std::uint64_t tail, std::size_t needed, Outcome& failure);
  bool reserve_through(std::size_t record_end_offset);
  void stamp_header(RecordHeader& header, std::uint32_t type_tag, std::size_t payload_size) const noexcept;
  void wake_reader() noexcept;
  void recover_published_records();

  Ring* ring_;
  WaitPolicy policy_;
  ProcessIdentity self_;  // stamped into each record; a writer belongs to the process that attached it
  bool attached_single_ = false;
  std::uint64_t tail_ = 0;         // single writer: our own tail, published on commit
  std::uint64_t cached_head_ = 0;  // last head seen; refreshed only when space looks short
  // Whether a full ring is waited for with a short spin before sleeping
  // (RingWriter::claim): off after a spin that ran out, on again once a claim
  // finds room at once.
  bool full_spin_pays_ = true;
  bool reader_spins_ = false;  // RingControl::reader_spins as last read, with head
  bool unflushed_ = false;  // records published without the reader's wake check (publish)
  // Why the last claim failed at the claim lock (ok: it did not).
  Outcome lock_failure_ = Outcome::ok;
  int lock_failure_errno_ = 0;
  int lock_holder_pid_ = 0;  // the pid the lock named when it timed out
  // Data bytes [0, reserved_end_) are reserved in this process's mapping
  // (RingPages): the whole ring unless its pages are reserved as written.
  std::size_t reserved_end_ = 0;
  std::string reserve_failure_;  // why the last claim got no_space
};

// A committed record, valid until the reader commits it.
struct RecordView {
  std::uint32_t type_tag = 0;
  std::uint64_t sequence = 0;
  std::span<const std::byte> payload;
};

// ok, empty (try_receive), timed_out, closed (closed and drained) or corrupt.
struct Received {
  Outcome status = Outcome::empty;
  RecordView record;
  bool ok() const noexcept { return status == Outcome::ok; }
};

class RingReader {
 public:
  // One reader at a time: busy while another live process is attached.
  static Expected<RingReader> attach(Ring& ring, WaitPolicy policy = {});
  RingReader(RingReader&& other) noexcept;
  RingReader& operator=(RingReader&&) = delete;
  ~RingReader();

  // The next record after those already received. Does not free its space:
  // commit() does, for every record received so far.
  Received try_receive();
  Received receive(Deadline deadline);
  // As receive, but also returns (empty) as soon as interrupt is set by a
  // thread that then calls Ring::wake_reader: how a process waits for records
  // and for work of its own in one sleep.
  Received receive(Deadline deadline, const std::atomic<bool>& interrupt);
  void commit() noexcept;

  // Records received but not yet committed.
  std::size_t uncommitted() const noexcept { return uncommitted_; }
  Ring& ring() const noexcept { return *ring_; }

 private:
  RingReader(Ring& ring, WaitPolicy policy);
  enum class Step { record, padding, in_progress, none };
  Received receive_until(Deadline deadline, const std::atomic<bool>* interrupt);
  Step step(Received& out);
  bool published_at_cursor() const noexcept;
  Received fail_corrupt();

  Ring* ring_;
  WaitPolicy policy_;
  bool attached_ = false;
  bool corrupt_ = false;
  std::uint64_t cursor_ = 0;        // position after the last record received
  std::uint64_t committed_ = 0;     // head as we last published it
  std::uint64_t cached_tail_ = 0;
  std::uint64_t last_sequence_ = 0; // of the last data record received
  std::size_t uncommitted_ = 0;
  int in_progress_writer_ = 0;      // many writers: pid of the record we wait on
  std::uint64_t liveness_position_ = ~std::uint64_t{0};  // record whose writer we last checked
  Clock::time_point liveness_checked_at_{};
  // Whether an empty ring is waited on with a short spin before sleeping:
  // on while receives find records at once (a stream), off after a spin
  // that ran out (RingReader::receive_until).
  bool stream_spin_pays_ = false;
};

}  // namespace colony::shm
