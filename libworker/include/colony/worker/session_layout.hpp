#pragma once
// The session's shared-memory contract between the broker and libworker.
//
// A session is a set of segments whose names start with /colony.<session>.:
//
//   ctl.session          SessionHeader (control block); data: WorkerSlot[kMaxWorkerSlots],
//                        then ObjectEntry[kMaxObjectEntries] (channels and shared objects)
//   ring.broker          many-writer ring: requests to the broker (launch, terminate, online)
//   ring.w<S>g<G>-ev     broker -> worker S: lifecycle events of its children, launch results
//   ring.w<S>g<G>-in     parent -> worker: post_message from the parent (a channel)
//   ring.w<S>g<G>-out    worker -> parent: post_message to the parent, error reports (a channel)
//   bytes.w<S>g<G>-props and mutex.w<S>g<G>-props: the worker's shared properties
//   ring.ch<N>           a MessageChannel
//   bytes.<name>, mutex.<name>, cond.<name>: shared objects
//
// Layout rules are those of shm/layout.hpp: plain structs, lock-free atomics,
// no pointers, offsets pinned by static_assert, every value read back checked.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "colony/shm/layout.hpp"
#include "colony/shm/process.hpp"

namespace colony::detail {

inline constexpr char kSessionEnv[] = "COLONY_SESSION";
inline constexpr char kWorkerEnv[] = "COLONY_WORKER";        // "<slot>.<generation>"
inline constexpr char kBrokerPidEnv[] = "COLONY_BROKER_PID";

inline constexpr std::uint64_t kSessionMagic = 0x3153534553594e43ULL;  // "CNYSESS1"
// 2: the broker is recorded with its start time (broker_start).
inline constexpr std::uint32_t kSessionVersion = 2;
inline constexpr std::uint32_t kMaxWorkerSlots = 1024;
inline constexpr std::uint32_t kHostSlot = 0;  // the process that hosts the broker
inline constexpr std::uint32_t kMaxObjectEntries = 4096;
// ObjectEntry::kind of a named worker's definition (segment kinds are below 16).
inline constexpr std::uint32_t kNamedWorkerEntryKind = 100;
inline constexpr char kWorkerNameEnv[] = "COLONY_WORKER_NAME";

// A worker slot's life. Written by whoever holds the slot at that step:
// a creator claims free -> reserved -> created; the broker does the rest.
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

// As colony ps and colony top show it (a WorkerState's name).
inline constexpr std::string_view slot_state_name(SlotState state) noexcept {
  switch (state) {
    case SlotState::created: return "new";
    case SlotState::queued: return "queued";
    case SlotState::starting: return "starting";
    case SlotState::running: return "running";
    case SlotState::terminating: return "terminating";
    default: return "terminated";
  }
}

enum class SessionState : std::uint32_t { starting = 0, running = 1, ending = 2 };

// How a worker ended. ExitStatus (exit_status.hpp) is the public view.
enum class ExitKind : std::uint32_t {
  none = 0,
  exited = 1,           // exit code
  signaled = 2,         // killed by a signal
  failed_to_start = 3,  // spawn failed (not found, not executable, cap with fail policy)
  not_attached = 4,     // ran but never attached to the session within the deadline
};

// The control block of ctl.session. The broker fills it before READY; later
// only the atomics change.
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
// (state), what the worker itself writes per message (doorbell, counters),
// and the executable's name for display.
//
// The doorbell word is what the worker's event loop sleeps on: anyone who
// publishes something for this worker (a channel record, an event) rings it,
// so one futex wait covers all of its channels.
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
  // line 1: hot, written by the worker's own process
  std::atomic<std::uint32_t> doorbell_sleeping;  // futex word: 1 while the loop sleeps
  std::uint32_t reserved1;
  std::atomic<std::uint64_t> messages_in;   // records its channels delivered to it
  std::atomic<std::uint64_t> messages_out;  // records it committed to channels
  std::uint8_t pad1[128 - 24];
  // line 2
  char executable[128];  // for display; NUL-terminated, truncated
};
static_assert(sizeof(WorkerSlot) == 384);
static_assert(offsetof(WorkerSlot, pid) == 16);
static_assert(offsetof(WorkerSlot, started_unix_ns) == 40);
static_assert(offsetof(WorkerSlot, doorbell_sleeping) == 128);
static_assert(offsetof(WorkerSlot, messages_in) == 136);
static_assert(offsetof(WorkerSlot, executable) == 256);

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

}  // namespace colony::detail
