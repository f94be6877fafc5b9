#pragma once
// The shared-memory contract of Colony, in one place.
//
// Every segment is one OS shared-memory object laid out as
//
//   offset 0       SegmentHeader   (128 bytes: magic, version, kind, sizes, READY)
//   offset 128     control block   (RingControl | ByteArrayControl | MutexCell | ConditionCell)
//   offset 4096    data            (ring records or byte-array bytes; page aligned)
//
// Rules every struct here follows, because separately built processes map them:
// - plain structs of fixed-width integers and lock-free std::atomic, no pointers
//   (a mapping's address differs per process), no virtual functions;
// - hot words written by different sides sit on different 128-byte lines
//   (two cache lines: the adjacent-line prefetcher pulls pairs), a fixed
//   constant rather than std::hardware_destructive_interference_size, which
//   may differ between builds;
// - offsets and sizes are pinned by static_assert, so a layout change is a
//   compile error until kLayoutVersion is bumped;
// - every value read back is treated as untrusted input and checked before use.

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace colony::shm {

inline constexpr std::size_t kLineSize = 128;
inline constexpr std::size_t kDataOffset = 4096;  // documented: foreign mappers rely on it
inline constexpr std::uint64_t kSegmentMagic = 0x31594e4f4c4f4323ULL;  // "#COLONY1" little endian
// 2: creators, ring writers and readers are recorded as a pid with its start
// time (ProcessIdentity), so that a reused pid is never taken for them.
// 3: a ring's data pages may be reserved as its writers first reach them
// (RingControl::pages), which a writer of version 2 would not do.
inline constexpr std::uint32_t kLayoutVersion = 3;

static_assert(std::atomic<std::uint32_t>::is_always_lock_free);
static_assert(std::atomic<std::int32_t>::is_always_lock_free);
static_assert(std::atomic<std::uint64_t>::is_always_lock_free);

// ---------------------------------------------------------------------------
// SegmentHeader: the first 128 bytes of every segment.
// The creator fills every field, then release-stores ready = 1 (and wakes the
// sleepers on it, a wait word). An opener that sees ready == 0 waits with a deadline and gives
// up early when the creator (creator_pid started at creator_start) is dead, so
// a creator killed before READY leaves a segment that is refused, never
// adopted half-made. creator_start is written before creator_pid is
// release-stored: whoever sees the pid sees its start too.
struct SegmentHeader {
  std::uint64_t magic;            // kSegmentMagic
  std::uint32_t layout_version;   // kLayoutVersion
  std::uint32_t kind;             // SegmentKind
  std::uint64_t total_size;       // bytes of the OS object, checked against fstat
  std::uint64_t data_offset;      // kDataOffset where the kind has data, else 0
  std::uint64_t data_size;        // bytes of data at data_offset
  std::int32_t creator_pid;
  std::atomic<std::uint32_t> ready;  // 0 while being built, 1 once usable; a wait word
  std::uint64_t created_unix_ns;
  std::uint32_t creator_start;    // ProcessIdentity::start of creator_pid
  std::uint8_t reserved[kLineSize - 60];
};
static_assert(sizeof(SegmentHeader) == kLineSize);
static_assert(offsetof(SegmentHeader, magic) == 0, "magic must stay first: foreign tools read it there");
static_assert(offsetof(SegmentHeader, creator_pid) == 40);
static_assert(offsetof(SegmentHeader, ready) == 44);
static_assert(offsetof(SegmentHeader, creator_start) == 56);
inline constexpr std::size_t kControlOffset = sizeof(SegmentHeader);

// ---------------------------------------------------------------------------
// MutexCell: the robust lock (robust_mutex.hpp) plus who holds it.
// Used by the Mutex segment and, inside RingControl, as the claim lock of a
// many-writer ring. owner_pid is written right after the lock is taken and
// cleared right before it is released; if the owner dies in between, the next
// locker is told so by the OS (on Linux: EOWNERDEAD, from the kernel-kept
// robust list) and can read owner_pid to report who died. native holds the
// platform's lock, which only shm/src/<platform>/robust_mutex.cpp touches: on
// Linux a robust pthread mutex (glibc's x86-64 pthread_mutex_t is these 40
// bytes, which that file checks); a port keeps its own lock within them.
inline constexpr std::size_t kNativeLockBytes = 40;
struct MutexCell {
  alignas(8) std::byte native[kNativeLockBytes];
  std::atomic<std::int32_t> owner_pid;       // 0 when free
  std::atomic<std::uint32_t> owner_died_count;  // times a dead owner was recovered
  std::atomic<std::uint64_t> acquisitions;   // for introspection (colony ps/top)
  std::uint8_t reserved[kLineSize - kNativeLockBytes - 16];
};
static_assert(offsetof(MutexCell, owner_pid) == 40);
static_assert(offsetof(MutexCell, acquisitions) == 48);
static_assert(sizeof(MutexCell) == kLineSize);

// ---------------------------------------------------------------------------
// ConditionCell: a condition variable built on a sequence wait word, not on
// pthread_cond_t (glibc's process-shared condvar keeps waiter state that a
// killed waiter leaves inconsistent). Notifiers bump `sequence` and wake the
// wait word; a waiter sleeps only while `sequence` is still the value it read
// before releasing the mutex, so no wakeup is lost and a dead waiter holds
// nothing: it leaves nothing on the wait word (wait_word.hpp).
struct ConditionCell {
  std::atomic<std::uint32_t> sequence;  // the wait word
  std::atomic<std::uint32_t> waiters;   // over-counts if a waiter died: costs a syscall, never a hang
  std::atomic<std::uint64_t> notifications;
  std::uint8_t reserved[kLineSize - 16];
};
static_assert(sizeof(ConditionCell) == kLineSize);

// ---------------------------------------------------------------------------
// ByteArrayControl: capacity fixed at creation, length atomic within it.
// The bytes themselves start at kDataOffset, page aligned, so another
// language's shared-memory API can map the OS object and index from there.
struct ByteArrayControl {
  std::uint64_t capacity;               // bytes at kDataOffset; never changes
  std::atomic<std::uint64_t> length;    // 0..capacity, compare-and-swap to change
  std::uint8_t reserved[kLineSize - 16];
};
static_assert(sizeof(ByteArrayControl) == kLineSize);

// ---------------------------------------------------------------------------
// Ring: variable-size framed records in a power-of-two data area.
//
//   RingControl at kControlOffset:
//     line 0  config (fixed at creation) and the closed flag
//     line 1  writer side: tail, next_sequence, data_signal, readers_waiting, writer
//     line 2  reader side: head, last_sequence, space_signal, writers_waiting, reader
//     line 3  claim lock of the many-writer variant
//   data at kDataOffset: capacity bytes of records
//
// Positions (head, tail) are byte counts that only grow; the offset in the
// data area is position & (capacity - 1). A record is a RecordHeader followed
// by its payload, the whole rounded up to kRecordAlign, so a record never
// straddles the end: a writer that does not fit before the end first writes a
// padding record that fills it.
//
// Publication, single writer: header (length > 0) and payload are written
// beyond tail, then the header's publication word is release-stored, then
// tail. The reader takes a record at its cursor as soon as the publication
// word matches, else it reads tail. A writer that dies before the publication
// word published nothing; one that dies between it and tail left a record the
// reader may already have taken, and the next writer's attach moves tail past
// every record whose publication word matches.
// Publication, many writers: under the claim lock a writer writes the header
// with length = -payload (claimed, in progress) and its identity (pid and
// start time), then release-stores tail and unlocks; it copies the payload
// without the lock and finally release-stores length = +payload. The reader
// acquire-loads tail, then the length: negative means "in progress"; if the
// writer named in the header is dead (its pid gone, or now another process's),
// the reader turns the record into padding and goes on.
// Records start on a cache line: a record then spans as few lines as its
// size allows, and the lines are what moves between the two cores.
inline constexpr std::size_t kRecordAlign = 64;
inline constexpr std::uint32_t kPaddingTag = 0;  // type tag of padding records

struct RecordHeader {
  std::atomic<std::int32_t> length;  // payload bytes; < 0 while being written; published last
  std::uint32_t type_tag;            // kPaddingTag or the payload's registered type tag
  std::uint64_t sequence;            // per ring, strictly increasing over data records
  std::int32_t writer_pid;
  std::uint32_t writer_start;        // ProcessIdentity::start of writer_pid
  // Single-writer rings: position ^ RingControl::publication_key, release-
  // stored after the record's header and payload, before tail. A reader that
  // finds this value at its cursor knows the record is whole without reading
  // tail. Every position is used once per 2^64 bytes, so an older record or
  // stale payload bytes at this place cannot match.
  std::atomic<std::uint64_t> publication;
};
static_assert(sizeof(RecordHeader) == 32);
static_assert(kRecordAlign % sizeof(RecordHeader) == 0, "padding at the end must hold at least a header");
static_assert(offsetof(RecordHeader, length) == 0);
static_assert(offsetof(RecordHeader, type_tag) == 4);
static_assert(offsetof(RecordHeader, sequence) == 8);
static_assert(offsetof(RecordHeader, writer_pid) == 16);
static_assert(offsetof(RecordHeader, writer_start) == 20);
static_assert(offsetof(RecordHeader, publication) == 24);

// The largest payload a ring of `capacity` data bytes takes (RingOptions::
// max_message may not exceed it): a record fills at most half the ring, so a
// writer that must pad to the end first never waits for space the reader
// cannot free.
inline constexpr std::size_t largest_message(std::size_t capacity) noexcept {
  return capacity / 2 - sizeof(RecordHeader);
}

enum class RingVariant : std::uint32_t { single_writer = 1, many_writers = 2 };

// When the pages of a ring's data area are reserved in /dev/shm.
// reserved_as_written: the first kRingDataReservedAtCreation bytes at
// creation, the rest by each writer before it first writes there, together
// with the header after its record, where the reader and the next writer
// look (a look at a page never reserved would reserve it, and raise SIGBUS
// when /dev/shm has no room). Every byte any process touches is then
// reserved first, and a writer that finds no room gets no_space.
enum class RingPages : std::uint32_t { reserved_at_creation = 0, reserved_as_written = 1 };
inline constexpr std::size_t kRingDataReservedAtCreation = 4096;

struct RingControl {
  // line 0: config, written once before READY
  std::uint64_t capacity;       // power of two, bytes of the data area
  std::uint64_t max_message;    // largest payload accepted; <= largest_message(capacity)
  std::uint32_t variant;        // RingVariant
  std::atomic<std::uint32_t> closed;  // set once by close(); receivers drain, then see closed
  std::uint64_t publication_key;      // random, non-zero; see RecordHeader::publication
  std::uint32_t pages;                // RingPages
  std::uint32_t pad0a;
  std::uint8_t pad0[kLineSize - 40];

  // line 1: hot for writers. Each send writes tail and reads readers_waiting,
  // so the flag the reader sets before sleeping lives here, not on its own line.
  std::atomic<std::uint64_t> tail;            // end of the last claimed record
  std::atomic<std::uint64_t> next_sequence;   // sequence of the next data record
  std::atomic<std::uint32_t> pad1a;
  std::atomic<std::uint32_t> data_signal;     // wait word the reader sleeps on; bumped when it waits
  std::atomic<std::uint32_t> readers_waiting; // 1: the reader sleeps; the writer that wakes it clears it
  std::atomic<std::uint32_t> pad1b;
  std::atomic<std::uint64_t> records_written;
  // Single-writer variant: the attached writer, pack(ProcessIdentity); 0: none.
  // One word, claimed by one compare-and-swap, so pid and start never tear.
  std::atomic<std::uint64_t> writer;
  std::uint8_t pad1[kLineSize - 48];

  // line 2: hot for the reader. Each commit writes head and reads writers_waiting.
  std::atomic<std::uint64_t> head;            // start of the oldest record not yet committed
  std::atomic<std::uint64_t> last_sequence;   // sequence of the last committed data record
  // 1: the attached reader spins on each record's publication word between
  // records (WaitPolicy::spin_iterations > 0). Set at its attach; a writer
  // picks it up whenever it reads head, and then stamps a record of several
  // lines when it publishes it, not when it claims it (RingWriter::claim_single).
  std::atomic<std::uint32_t> reader_spins;
  std::atomic<std::uint32_t> space_signal;    // wait word writers sleep on; bumped when they wait
  std::atomic<std::uint32_t> writers_waiting; // 1: some writer sleeps; the reader clears it and wakes them all
  std::atomic<std::uint32_t> pad2b;
  std::atomic<std::uint64_t> records_read;
  std::atomic<std::uint64_t> reader;          // the attached reader, pack(ProcessIdentity); 0: none
  std::uint8_t pad2[kLineSize - 48];

  // line 3: claim lock of the many-writer variant
  MutexCell claim_lock;
};
static_assert(offsetof(RingControl, pages) == 32);
static_assert(offsetof(RingControl, tail) == kLineSize, "writer line starts on its own 128-byte line");
static_assert(offsetof(RingControl, head) == 2 * kLineSize, "reader line starts on its own 128-byte line");
static_assert(offsetof(RingControl, claim_lock) == 3 * kLineSize);
static_assert(offsetof(RingControl, writer) == kLineSize + 40);
static_assert(offsetof(RingControl, reader) == 2 * kLineSize + 40);
static_assert(offsetof(RingControl, reader_spins) == 2 * kLineSize + 16);
static_assert(sizeof(RingControl) == 4 * kLineSize);
static_assert(kControlOffset + sizeof(RingControl) <= kDataOffset);

// The layer above rings (libworker's channels) keeps its own per-ring state in
// the control block's second half. The shm layer never reads or writes it;
// Segment::create zero-fills it, and it is the only place a ring segment holds
// state the ring protocol does not define.
inline constexpr std::size_t kRingUserOffset = 2048;
inline constexpr std::size_t kRingUserSize = kDataOffset - kRingUserOffset;
static_assert(kControlOffset + sizeof(RingControl) <= kRingUserOffset);
static_assert(kControlOffset + sizeof(ByteArrayControl) <= kDataOffset);

}  // namespace colony::shm
