#pragma once
// The session's shared-memory contract: every struct the processes of a
// session share above the segment layer (whose own contract, rings and
// segment headers, is shm/layout.hpp). Each struct says who writes which
// part of it and what a peer sees if that writer dies mid-step.
//
//   SessionHeader, WorkerSlot, ObjectEntry   ctl.session (the control segment)
//   ChannelControl                           a channel ring's user area
//   MailboxControl                           a mailbox ring's user area
//   PropertyStoreHeader                      a worker's properties byte array
//   CrashLogHeader                           a named worker's crash log byte array
//
// Segment names are names.hpp's; the records on the rings are protocol.hpp's;
// how a slot's state may change is slot_state.hpp's.
//
// Layout rules are those of shm/layout.hpp: plain structs, lock-free atomics,
// no pointers, offsets pinned by static_assert, every value read back checked.

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "colony/shm/layout.hpp"
#include "colony/shm/process.hpp"

namespace colony::detail {

inline constexpr char kSessionEnv[] = "COLONY_SESSION";
inline constexpr char kWorkerEnv[] = "COLONY_WORKER";        // "<slot>.<generation>"
inline constexpr char kBrokerPidEnv[] = "COLONY_BROKER_PID";

// How long an opener waits for the creator of a session segment to publish
// it: creating to publishing takes microseconds, seconds cover a loaded
// machine, and an opener that gives up reports the segment as missing.
inline constexpr std::chrono::seconds kSegmentPublishWait{2};

inline constexpr std::uint64_t kSessionMagic = 0x3153534553594e43ULL;  // "CNYSESS1"
// 2: the broker is recorded with its start time (broker_start).
// 3: a worker slot's message counters left the doorbell's line.
inline constexpr std::uint32_t kSessionVersion = 3;
inline constexpr std::uint32_t kMaxWorkerSlots = 1024;
inline constexpr std::uint32_t kHostSlot = 0;  // the process that hosts the broker
inline constexpr std::uint32_t kMaxObjectEntries = 4096;
// ObjectEntry::kind of a named worker's definition (segment kinds are below 16).
inline constexpr std::uint32_t kNamedWorkerEntryKind = 100;
inline constexpr char kWorkerNameEnv[] = "COLONY_WORKER_NAME";

// A worker slot's life. Written by whoever holds the slot at that step (a
// creator claims free -> reserved -> created; the broker does the rest),
// through the transition table of slot_state.hpp only.
enum class SlotState : std::uint32_t {
  free = 0,
  reserved = 1,     // a creator is filling the slot
  created = 2,      // segments exist, properties can be set; not launched
  queued = 3,       // start() asked; waiting under the running-worker cap
  starting = 4,     // process spawned, not attached yet
  running = 5,      // attached (online)
  terminating = 6,  // being ended, children first
  terminated = 7,   // the process is gone and so are its children
};

enum class SessionState : std::uint32_t { starting = 0, running = 1, ending = 2 };

// How a worker ended. ExitStatus (exit_status.hpp) is the public view.
enum class ExitKind : std::uint32_t {
  none = 0,
  exited = 1,           // exit code
  signaled = 2,         // killed by a signal
  failed_to_start = 3,  // spawn failed (not found, not executable, cap with fail policy)
  not_attached = 4,     // ran but never attached to the session within the deadline
};

// The control block of ctl.session. The broker fills it before READY (a
// broker dying before leaves a segment openers refuse as never ready); later
// only the atomics change: broker_pid, state and running_workers by the
// broker, the counters by any process of the session (fetch_add: a process
// dying after it took a number leaves a gap, never a duplicate).
struct SessionHeader {
  std::uint64_t magic;  // kSessionMagic
  std::uint32_t version;
  std::uint32_t slot_count;  // kMaxWorkerSlots
  std::atomic<std::int32_t> broker_pid;
  std::atomic<std::uint32_t> state;  // SessionState
  std::uint64_t broker_started_unix_ns;
  // Limits, fixed for the session's life.
  std::uint32_t max_running;
  std::uint32_t over_cap_policy;  // 0 queue, 1 fail
  std::uint64_t max_message;
  std::uint64_t channel_capacity;
  std::uint32_t attach_timeout_ms;
  std::uint32_t reserved0;
  // Counters.
  std::atomic<std::uint64_t> next_object_id;   // channel and anonymous object names
  std::atomic<std::uint32_t> next_fresh_slot;  // slots below it have been used at least once
  std::atomic<std::uint32_t> running_workers;
  std::atomic<std::uint32_t> object_entries;  // ObjectEntry slots handed out so far
  // ProcessIdentity::start of broker_pid: with it, a broker whose pid was
  // given to another process is dead, not live. Written before READY.
  std::uint32_t broker_start;
  // Events the broker dropped because their addressee's backlog was full:
  // a worker (or host) that does not run its event loop. Written by the
  // broker only.
  std::atomic<std::uint64_t> events_dropped;
  std::uint8_t reserved[256 - 96];
};
static_assert(sizeof(SessionHeader) == 256);
static_assert(offsetof(SessionHeader, broker_pid) == 16);
static_assert(offsetof(SessionHeader, max_message) == 40);
static_assert(offsetof(SessionHeader, next_object_id) == 64);
static_assert(offsetof(SessionHeader, object_entries) == 80);
static_assert(offsetof(SessionHeader, broker_start) == 84);
static_assert(offsetof(SessionHeader, events_dropped) == 88);
static_assert(shm::kControlOffset + sizeof(SessionHeader) <= shm::kDataOffset);

// The broker as recorded: judged alive with shm::is_alive, never by pid alone.
inline shm::ProcessIdentity broker_identity(const SessionHeader& header) noexcept {
  return {header.broker_pid.load(std::memory_order_acquire), header.broker_start};
}

// One worker. Slot 0 is the host. Three 128-byte lines: what senders read
// (state), the doorbell, and what only inspectors read (the worker's message
// counters and the executable's name). Line 0 is written by the slot's
// creator while it holds the slot reserved, then by the broker (state, pid,
// exit), each step through slot_state.hpp; line 1 by the worker's own
// process when its loop sleeps; line 2 by the creator (the name) and the
// worker's own process (the counters).
//
// The doorbell word is what the worker's event loop sleeps on: anyone who
// publishes something for this worker (a channel record, an event) rings it,
// so one sleep on a wait word covers all of its channels. Every sender reads
// it after every message, so nothing written per message shares its line:
// the counters once did, and each message then moved that line from the
// receiver's core to the sender's and back.
struct WorkerSlot {
  // line 0: identity and state, written at creation, launch and end
  std::atomic<std::uint64_t> state_word;  // generation << 32 | SlotState
  std::atomic<std::uint32_t> parent_slot;
  std::atomic<std::uint32_t> parent_generation;
  std::atomic<std::int32_t> pid;          // 0 until spawned
  std::atomic<std::int32_t> creator_pid;  // the process that claimed the slot
  std::atomic<std::uint32_t> exit_kind;   // ExitKind
  std::atomic<std::int32_t> exit_code;
  std::atomic<std::int32_t> exit_signal;
  std::uint32_t reserved0;
  std::atomic<std::uint64_t> started_unix_ns;
  std::uint8_t pad0[128 - 48];
  // line 1: read by every sender, written by the worker's own process as its loop sleeps and wakes
  std::atomic<std::uint32_t> doorbell_sleeping;  // a wait word: 1 while the loop sleeps
  std::uint8_t pad1[128 - 4];
  // line 2: for inspectors
  std::atomic<std::uint64_t> messages_in;   // records its channels delivered to it
  std::atomic<std::uint64_t> messages_out;  // records it committed to channels
  char executable[112];  // for display; NUL-terminated, truncated
};
static_assert(sizeof(WorkerSlot) == 384);
static_assert(offsetof(WorkerSlot, pid) == 16);
static_assert(offsetof(WorkerSlot, started_unix_ns) == 40);
static_assert(offsetof(WorkerSlot, doorbell_sleeping) == 128);
static_assert(offsetof(WorkerSlot, messages_in) == 256);
static_assert(offsetof(WorkerSlot, executable) == 272);

// The registry of channels and shared objects, for inspection (`colony ps`).
// Entries are appended, never reused: the objects live until the session
// ends. A creator that dies between claiming and publishing leaves an entry
// in state 1 that readers skip.
struct ObjectEntry {
  std::atomic<std::uint32_t> state;  // 0 unused, 1 being written, 2 published
  std::uint32_t kind;                // shm::SegmentKind
  std::uint32_t owner_slot;          // the worker that created it
  std::uint32_t owner_generation;
  std::uint64_t created_unix_ns;
  char name[128 - 24];  // within the session; NUL-terminated
};
static_assert(sizeof(ObjectEntry) == 128);
static_assert(offsetof(ObjectEntry, name) == 24);

inline constexpr std::size_t kSessionDataSize =
    sizeof(WorkerSlot) * kMaxWorkerSlots + sizeof(ObjectEntry) * kMaxObjectEntries;

inline constexpr std::uint64_t pack_state(std::uint32_t generation, SlotState state) noexcept {
  return (std::uint64_t{generation} << 32) | static_cast<std::uint32_t>(state);
}
inline constexpr std::uint32_t generation_of(std::uint64_t word) noexcept { return static_cast<std::uint32_t>(word >> 32); }
inline constexpr SlotState state_of(std::uint64_t word) noexcept {
  return static_cast<SlotState>(static_cast<std::uint32_t>(word));
}

// Per-channel state kept in the ring segment's user area (shm::kRingUserOffset).
// Endpoints are encoded as slot + 1 (0: none) and a generation.
struct ChannelControl {
  std::atomic<std::uint32_t> sender_slot_plus_one;
  std::atomic<std::uint32_t> sender_generation;
  std::atomic<std::uint32_t> receiver_slot_plus_one;  // set when the receiver binds
  std::atomic<std::uint32_t> receiver_generation;
  // messageerror reported back to the sender: the receiver writes the text,
  // then bumps the count (release) and rings the sender's doorbell. A receiver
  // dying between the two leaves the count unchanged: the sender is not told
  // of that one, and the text is overwritten by the next report.
  std::atomic<std::uint32_t> error_count;
  std::atomic<std::uint32_t> error_length;
  std::uint8_t reserved[8];
  char error_text[224];
};
static_assert(sizeof(ChannelControl) == 256);
static_assert(offsetof(ChannelControl, error_count) == 16);
static_assert(sizeof(ChannelControl) <= shm::kRingUserSize);

// --- a named worker's mailbox (ring.mb-<E>, in the ring's user area) -------
//
// Four parties write it, each its own block (the ring itself has its own
// contract, shm/layout.hpp):
//   the creator   any process that made the box: magic, once, last
//   the broker    the definition's K, and what supervision did
//   the reader    the one process handling the box's messages
//   a killer      `colony kill` (any process): the kill mark; the reader clears it
// Every field is read by `colony ps` and `colony top`.

// 3: posters ring the reader's doorbell (current_session_started_ns).
inline constexpr std::uint64_t kMailboxMagic = 0x33584f424c49414dULL;  // "MAILBOX3"
inline constexpr std::uint64_t kKillRequested = std::uint64_t{1} << 63;

enum class SupervisionState : std::uint32_t { normal = 0, backing_off = 1, given_up = 2 };

struct MailboxControl {
  // The creator: stored (release) after the rest is set up. An opener waits
  // for it; a creator that died first leaves a box openers refuse as never
  // initialized.
  std::uint64_t magic;  // kMailboxMagic

  // The broker. K: deliveries ending in death before dead-lettering; the
  // creator writes the first, and each definition of the name writes it
  // again (the box may be older than its definition).
  std::atomic<std::uint32_t> max_attempts;
  std::atomic<std::uint32_t> starts;          // processes started for this name
  std::atomic<std::uint32_t> last_exit_kind;  // ExitKind of the last process's end
  std::atomic<std::int32_t> last_exit_code;
  std::atomic<std::int32_t> last_exit_signal;
  // The live process: its slot, stored (release) after its generation, so a
  // reader that sees the slot sees the generation that goes with it; 0: none.
  // A poster rings that slot's doorbell once its message is published: the
  // process's event loop sleeps on it, as it does for its channels.
  std::atomic<std::uint32_t> current_slot;
  std::atomic<std::uint32_t> current_generation;
  std::atomic<std::uint32_t> supervision;  // SupervisionState
  std::atomic<std::uint32_t> crashes;      // crash reports made
  std::atomic<std::uint32_t> restarts;     // restarts after failures
  std::atomic<std::uint64_t> death_noticed_ns;  // steady clock: the reaper saw the last failure
  std::atomic<std::uint64_t> replaced_ns;       // steady clock: its replacement was spawned

  // The reader, per message. in_flight is the sequence of the message a
  // handler runs on (0: none); attempts counts its deliveries. A reader dying
  // after it recorded the attempt has the death counted toward K (see
  // mailbox.hpp for every crash window).
  std::atomic<std::uint64_t> in_flight;
  std::atomic<std::uint32_t> attempts;
  std::uint32_t reserved0;
  std::atomic<std::uint64_t> handled;        // messages done()
  std::atomic<std::uint64_t> dead_lettered;  // moved to the dead-letter box
  std::atomic<std::uint64_t> redelivered;    // deliveries marked redelivered
  // When the handler of in_flight began (steady clock ns: the broker kills a
  // handler past its timeout) and the method it runs, NUL-terminated; the
  // method may be torn while it changes: a report, not a key.
  std::atomic<std::uint64_t> in_flight_since_ns;
  char in_flight_method[48];

  // A killer. kKillRequested | records_written at the kill: the messages up
  // to that count are dropped and the reader ends after its current one; 0:
  // none. kills counts the requests (the broker restarts none of them).
  std::atomic<std::uint64_t> kill_upto;
  std::atomic<std::uint32_t> kills;
  // Set by a killer after kill_upto, then the reader's sleep on the ring is
  // woken: take() waits with it as its interrupt, so a kill of an idle
  // reader ends it at once. A set flag without a kill (drained before its
  // killer set it) is cleared by the reader, which then looks at the kill again.
  std::atomic<bool> kill_wake;
  std::uint8_t reserved1[3];

  // The broker, before current_slot: the broker_started_unix_ns of the
  // control segment whose slot table current_slot indexes. A poster whose
  // mapping of ctl.session says otherwise mapped a session since taken over
  // (its doorbells wake nobody now) and maps the session again.
  std::atomic<std::uint64_t> current_session_started_ns;
  std::uint8_t reserved[256 - 184];
};
static_assert(sizeof(MailboxControl) == 256);
static_assert(offsetof(MailboxControl, max_attempts) == 8);
static_assert(offsetof(MailboxControl, current_slot) == 28);
static_assert(offsetof(MailboxControl, death_noticed_ns) == 48);
static_assert(offsetof(MailboxControl, in_flight) == 64);
static_assert(offsetof(MailboxControl, handled) == 80);
static_assert(offsetof(MailboxControl, in_flight_since_ns) == 104);
static_assert(offsetof(MailboxControl, in_flight_method) == 112);
static_assert(offsetof(MailboxControl, kill_upto) == 160);
static_assert(offsetof(MailboxControl, kills) == 168);
static_assert(offsetof(MailboxControl, kill_wake) == 172);
static_assert(offsetof(MailboxControl, current_session_started_ns) == 176);
static_assert(std::atomic<bool>::is_always_lock_free);
static_assert(sizeof(MailboxControl) <= shm::kRingUserSize);

// --- a worker's shared properties (bytes.w<S>g<G>-props, mutex.w<S>g<G>-props)
//
// Written by whoever sets a property (the worker, its parent, `colony prop`),
// under the store's mutex; read under it too. The byte array's own segment
// header carries the magic and kind; this is the layout of its bytes:
// the header, then two halves of kPropertyHalf bytes, each able to hold the
// whole dictionary (cereal, bounded decode), so a writer never overwrites the
// one readers see.
inline constexpr std::size_t kPropertyHalf = 64 << 10;

struct PropertyStoreHeader {
  // (length << 1) | half: the published dictionary; 0: empty. The writer's
  // one store switches readers to the other half: dying before it leaves the
  // old dictionary, after it the new one.
  std::uint64_t selector;
  std::uint8_t reserved[56];
};
static_assert(sizeof(PropertyStoreHeader) == 64);
static_assert(offsetof(PropertyStoreHeader, selector) == 0);
inline constexpr std::size_t kPropertyStoreSize = sizeof(PropertyStoreHeader) + 2 * kPropertyHalf;

// --- a named worker's crash reports (bytes.cr-<E>) ---------------------------
//
// Written by the broker alone, read by `colony ps` and `colony top`, under a
// sequence lock: the generation is odd while the broker writes. A broker that
// dies mid-write leaves it odd; readers give up after a few tries and report
// nothing (a broker taking the session over starts a new log).
inline constexpr std::size_t kCrashLogSize = 32 << 10;

struct CrashLogHeader {
  std::uint32_t generation;  // odd while being written
  std::uint32_t length;      // bytes of text that follow: the latest reports, one JSON array
};
static_assert(sizeof(CrashLogHeader) == 8);
static_assert(offsetof(CrashLogHeader, length) == 4);
inline constexpr std::size_t kCrashLogTextCapacity = kCrashLogSize - sizeof(CrashLogHeader);

}  // namespace colony::detail
