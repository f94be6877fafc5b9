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
// A post, a replay and a kill wake the reader twice over: its sleep in
// take(), and the doorbell of the worker the broker runs for the name, whose
// event loop (Methods::serve) sleeps on it with its channels and children.
//
// Crash windows (the reader, on the next line):
// - dies after take() received the record, before it recorded the attempt:
//   the next reader gets it as if new (the handler never ran);
// - dies after recording the attempt: the death counts toward max_attempts;
// - dies after done() committed, before clearing the in-flight mark: the next
//   record has another sequence, so nothing is miscounted.
// And a poster, on the next line:
// - dies after its message is published, before it rang the reader's
//   doorbell (as a ring writer may die before its wake): the message is
//   queued, and the reader takes it at its next wake (a post, a kill, any
//   event of its loop), not at once.

#include <cstdint>
#include <memory>
#include <optional>
#include <ranges>
#include <string>
#include <string_view>
#include <vector>

#include "colony/shm/ring.hpp"
#include "colony/shm/typed.hpp"
#include "colony/worker/errors.hpp"

namespace colony {

namespace detail {
// The mailbox's shared state (colony/session/contract.hpp), for the broker
// and the colony command.
struct MailboxControl;
class SessionMap;
}  // namespace detail

// What a mailbox has seen, for monitoring: a snapshot of its counters.
struct MailboxStats {
  std::size_t depth = 0;            // messages waiting, the one in a handler included
  bool handling = false;            // a handler runs on one of them now
  std::uint64_t handled = 0;        // messages whose handler returned
  std::uint64_t dead_lettered = 0;  // moved to the dead-letter box
  std::uint64_t redelivered = 0;    // deliveries marked redelivered
  std::uint32_t starts = 0;         // processes the broker started for the name
  std::uint32_t restarts = 0;       // of them, restarts after a failure
  std::uint32_t crashes = 0;        // crash reports made
  std::uint32_t kills = 0;          // KILL WORKER requests
};

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

  const std::string& name() const noexcept { return name_; }

  // --- any process ---
  template <shm::RegisteredType T>
  shm::Outcome post(const T& value, shm::Deadline deadline) {
    const shm::Outcome outcome = writer().send(value, deadline);
    if (outcome == shm::Outcome::ok) ring_reader_doorbell();
    return outcome;
  }
  // Batching: posts every value of a range in order, each published at once
  // (a reader that is awake takes it as it comes), with one fence and one
  // wake of the reader for the run, or sooner when the box fills (the
  // reader is woken before the poster waits for room). Returns how many were
  // posted, and in failure the outcome of the first that was not (ok when
  // all were): full, timed_out, too_large or closed, as for post.
  template <std::ranges::input_range Range>
    requires shm::RegisteredType<std::ranges::range_value_t<Range>>
  std::size_t post_all(const Range& values, shm::Deadline deadline, shm::Outcome* failure = nullptr) {
    using T = std::ranges::range_value_t<Range>;
    shm::RingWriter& ring = writer().raw();
    std::size_t posted = 0;
    shm::Outcome outcome = shm::Outcome::ok;
    struct WakeAtExit {
      Mailbox& box;
      shm::RingWriter& ring;
      ~WakeAtExit() {
        if (ring.has_unflushed()) box.flush_posts();
      }
    } wake_at_exit{*this, ring};
    for (const T& value : values) {
      const std::size_t size = shm::serialized_size(value);
      shm::Claim claimed = ring.try_claim(shm::TypeAlias<T>::tag, size);
      if (claimed.status == shm::Outcome::full) {
        if (ring.has_unflushed()) flush_posts();  // the reader may sleep on what is posted
        claimed = ring.claim(shm::TypeAlias<T>::tag, size, deadline);
      }
      if (!claimed.ok()) {
        outcome = claimed.status;
        break;
      }
      // Visible from here. A poster that dies before the run's wake leaves
      // the reader asleep on it only until the broker, seeing the poster
      // end, rings every doorbell.
      ring.write_and_publish(claimed, shm::serializer_of(value));
      ++posted;
    }
    if (failure != nullptr) *failure = outcome;
    return posted;
  }
  // Why the last post failed with status, naming the mailbox's segment.
  std::string describe(shm::Outcome status) { return writer().describe(status); }
  std::size_t depth() const noexcept;  // messages waiting, the one in a handler included
  MailboxStats stats() const noexcept;
  const detail::MailboxControl& control() const noexcept;
  detail::MailboxControl& control() noexcept;
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
  bool kill_requested() const noexcept;
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
  // The same without waiting: nullopt when no message is there. A kill is
  // not looked at here: the caller asks kill_requested() before and after.
  std::optional<Delivery> try_take();
  // The handler of the last delivery returned: the message leaves the box.
  void done();

  Mailbox(Mailbox&&) noexcept;
  Mailbox& operator=(Mailbox&&) noexcept;
  ~Mailbox();

 private:
  struct Impl;
  explicit Mailbox(std::unique_ptr<Impl> impl);
  shm::TypedWriter& writer();
  // After a publication (a full fence behind it): wakes the event loop of
  // the process the broker runs for the name, if it sleeps.
  void ring_reader_doorbell() noexcept;
  // post_all's wake: the ring's fence and wake, then the doorbell.
  void flush_posts() noexcept;
  // The box's reader, attached at first use; throws when another process reads it.
  shm::RingReader& reader();
  std::unique_ptr<Impl> impl_;
  std::string name_;
};

}  // namespace colony

COLONY_REGISTER_TYPE(colony::DeadLetter, "colony.dead_letter")
