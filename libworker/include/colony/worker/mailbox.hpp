#pragma once
// A named worker's mailbox (4D's CALL WORKER message box, for OS processes):
// a many-writer ring in the session that outlives the process reading it.
//
// Any process of the session posts; one process at a time reads. A message
// leaves the box only after its handler returned (done()). If the reader
// dies inside the handler, the next reader gets the same message again,
// marked as redelivered with its attempt number; after max_attempts
// deliveries that each ended in a death, the message moves to the dead-letter
// box instead, and the messages behind it flow on.
//
//   writer:  Mailbox box = Mailbox::open_or_create(session, "resize");
//            box.post(call);
//   reader:  while (auto delivery = box.take(deadline)) { handle(*delivery); box.done(); }
//
// Crash windows (the reader, on the next line):
// - dies after take() received the record, before it recorded the attempt:
//   the next reader gets it as if new (the handler never ran);
// - dies after recording the attempt: the death counts toward max_attempts;
// - dies after done() committed, before clearing the in-flight mark: the next
//   record has another sequence, so nothing is miscounted.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "colony/shm/ring.hpp"
#include "colony/shm/typed.hpp"
#include "colony/worker/errors.hpp"

namespace colony {

// State kept in the mailbox ring's user area (shm::kRingUserOffset).
struct MailboxControl {
  std::uint64_t magic;                         // kMailboxMagic once initialized
  std::atomic<std::uint64_t> in_flight;        // sequence of the message a handler runs on; 0: none
  std::atomic<std::uint32_t> attempts;         // deliveries of that message so far
  // K: deliveries ending in death before dead-lettering. Written again at
  // each definition of the name: the box may be older than its definition.
  std::atomic<std::uint32_t> max_attempts;
  std::atomic<std::uint64_t> handled;          // messages done()
  std::atomic<std::uint64_t> dead_lettered;    // messages moved to the dead-letter box
  std::atomic<std::uint64_t> redelivered;      // deliveries marked redelivered
  // KILL WORKER: kKillRequested | records_written at the kill. The messages
  // up to that count are dropped, and the reader ends after its current one.
  // 0: none.
  std::atomic<std::uint64_t> kill_upto;
  // Written by the broker, for `colony ps`:
  std::atomic<std::uint32_t> starts;            // processes started for this name
  std::atomic<std::uint32_t> last_exit_kind;    // ExitKind of the last process's end
  std::atomic<std::int32_t> last_exit_code;
  std::atomic<std::int32_t> last_exit_signal;
  std::atomic<std::uint32_t> current_slot;      // worker slot of the live process; 0: none
  std::atomic<std::uint32_t> current_generation;
  // Written by the reader: when the handler of in_flight began (steady clock
  // ns; the broker kills a handler past its timeout), and the method it runs.
  std::atomic<std::uint64_t> in_flight_since_ns;
  char in_flight_method[48];  // NUL-terminated; may be torn while it changes: a report, not a key
  // Written by the broker (supervision):
  std::atomic<std::uint32_t> supervision;  // SupervisionState
  std::atomic<std::uint32_t> crashes;      // crash reports made
  std::atomic<std::uint64_t> death_noticed_ns;  // steady clock: the reaper saw the last failure
  std::atomic<std::uint64_t> replaced_ns;       // steady clock: its replacement was spawned
  std::atomic<std::uint32_t> restarts;          // restarts after failures
  std::atomic<std::uint32_t> kills;             // KILL WORKER requests: the broker restarts none of them
  // Set by a kill after kill_upto, with a wake of the reader's sleep on the
  // ring: the reader's take() returns on it, so a kill of an idle reader
  // ends it at once. A set flag without a kill (the kill was drained before
  // its killer set it) is cleared by the reader.
  std::atomic<bool> kill_wake;
  std::uint8_t reserved[256 - 169];
};
static_assert(sizeof(MailboxControl) == 256);
static_assert(offsetof(MailboxControl, in_flight_since_ns) == 80);
static_assert(offsetof(MailboxControl, supervision) == 136);
static_assert(offsetof(MailboxControl, restarts) == 160);
static_assert(offsetof(MailboxControl, kill_wake) == 168);
static_assert(std::atomic<bool>::is_always_lock_free);

enum class SupervisionState : std::uint32_t { normal = 0, backing_off = 1, given_up = 2 };
static_assert(offsetof(MailboxControl, in_flight) == 8);
static_assert(offsetof(MailboxControl, handled) == 24);
static_assert(offsetof(MailboxControl, kill_upto) == 48);
static_assert(offsetof(MailboxControl, current_slot) == 72);
static_assert(sizeof(MailboxControl) <= shm::kRingUserSize);
inline constexpr std::uint64_t kMailboxMagic = 0x31584f424c49414dULL;  // "MAILBOX1"
inline constexpr std::uint64_t kKillRequested = std::uint64_t{1} << 63;

// A message that reached its attempt limit, kept with what is known of it.
struct DeadLetter {
  std::uint64_t sequence = 0;
  std::uint32_t attempts = 0;
  std::uint32_t type_tag = 0;
  std::vector<std::byte> payload;
  template <class A> void serialize(A& a) { a(sequence, attempts, type_tag, payload); }
};

struct MailboxOptions {
  std::size_t capacity = 1 << 20;
  std::uint32_t max_attempts = 3;
};

class Mailbox {
 public:
  struct Delivery {
    shm::RecordView record;   // valid until done()
    bool redelivered = false;
    std::uint32_t attempt = 1;
  };

  // The mailbox of name in session, made at first use. Names are
  // case-sensitive and may hold any character; they are encoded into segment
  // names. Throws WorkerError.
  static Mailbox open_or_create(std::string_view session, std::string_view name, const MailboxOptions& options = {});
  // Segment object names: "mb-<encoded>" and "dl-<encoded>".
  static std::string encode_name(std::string_view name);

  const std::string& name() const noexcept { return name_; }

  // --- any process ---
  template <shm::RegisteredType T>
  shm::RingStatus post(const T& value, shm::Deadline deadline) {
    return writer().send(value, deadline);
  }
  // Why the last post failed with status, naming the mailbox's segment.
  std::string describe(shm::RingStatus status) { return writer().describe(status); }
  std::size_t depth() const noexcept;  // messages waiting, the one in a handler included
  const MailboxControl& control() const noexcept;
  MailboxControl& control() noexcept;
  // KILL WORKER: drops what is queued now and ends the reader after its
  // current message. With no live reader, drops it here and now.
  struct KillReport {
    std::size_t queued = 0;   // messages in the box at the kill, one in a handler included
    std::size_t dropped = 0;  // of those, the ones the kill drops
    // A live reader runs a handler on a message: that one is not dropped; it
    // finishes and is answered. (A reader that took a message an instant
    // before the kill, and has not begun its handler, drops it instead.)
    bool in_flight_finishes = false;
  };
  KillReport kill();
  // The same; returns how many messages were queued at the kill.
  std::size_t request_kill() { return kill().queued; }
  bool kill_requested() const noexcept { return control().kill_upto.load(std::memory_order_acquire) != 0; }
  // Reader: drops the messages the kill covers; the caller then ends.
  void drain_killed();
  // Dead letters: replay moves them back into the box, drop removes them.
  std::size_t replay_dead_letters();
  std::size_t drop_dead_letters();
  std::vector<DeadLetter> dead_letters();  // a snapshot, oldest first

  // --- the one reading process ---
  // The next message; nullopt on timeout, or at once when a kill is
  // requested (the caller drains it). Moves messages that exhausted their
  // attempts to the dead-letter box on the way.
  std::optional<Delivery> take(shm::Deadline deadline);
  // The handler of the last delivery returned: the message leaves the box.
  void done();

  Mailbox(Mailbox&&) noexcept;
  Mailbox& operator=(Mailbox&&) noexcept;
  ~Mailbox();

 private:
  struct Impl;
  explicit Mailbox(std::unique_ptr<Impl> impl);
  shm::TypedWriter& writer();
  std::unique_ptr<Impl> impl_;
  std::string name_;
};

}  // namespace colony

COLONY_REGISTER_TYPE(colony::DeadLetter, "colony.dead_letter")
