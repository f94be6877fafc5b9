#pragma once
// Reply rings: a ring a caller makes to hear one answer (a named worker's
// Reply, the broker's BrokerReply), under an unpredictable name
// (names.hpp: random_reply_ring_object), removed by the caller on every way
// out; and the answering side, which writes into a ring it did not make.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "colony/session/session_error.hpp"
#include "colony/session/session_map.hpp"
#include "colony/shm/ring.hpp"
#include "colony/shm/typed.hpp"

namespace colony::detail {

class ReplyRing {
 public:
  // os_error when no ring can be made. A name that exists already
  // (squatted, or a one-in-2^64 clash) is never adopted: another is drawn.
  static SessionExpected<ReplyRing> make(const SessionMap& map, std::size_t capacity);
  ReplyRing(ReplyRing&& other) noexcept;
  ReplyRing& operator=(ReplyRing&&) = delete;
  ~ReplyRing();

  // What a request names as its reply_to.
  const std::string& object() const noexcept { return object_; }
  shm::Ring& ring() noexcept { return *ring_; }
  // The ring's reader: os_error when it cannot attach (another reader holds it).
  SessionExpected<shm::TypedReader> reader();

 private:
  ReplyRing(std::string object, shm::SegmentName name, shm::Ring ring);
  std::string object_;
  std::optional<shm::SegmentName> name_;  // empty once moved from: nothing to remove
  // Held where it stays put: a reader points at it, and a ReplyRing moves.
  std::unique_ptr<shm::Ring> ring_;
};

// The reply ring object of map's session, or nothing when the name is not a
// reply ring's or the caller has given up and removed it (then nobody
// listens: the answer has nowhere to go).
std::optional<shm::Ring> open_reply_ring(const SessionMap& map, const std::string& object, shm::Deadline deadline);

// Sends answer to the reply ring object; the status of the send, or closed
// when there is no such ring to write to.
// Sends answer into a reply ring this process has mapped: a writer of its
// own for this one answer (the ring takes many), let go after it.
template <shm::RegisteredType Answer>
shm::Outcome send_answer(shm::Ring& ring, const Answer& answer, shm::Deadline deadline) {
  auto writer = shm::RingWriter::attach(ring);
  if (!writer) return shm::Outcome::closed;
  return shm::TypedWriter(std::move(*writer)).send(answer, deadline);
}

template <shm::RegisteredType Answer>
shm::Outcome send_to_reply_ring(const SessionMap& map, const std::string& object, const Answer& answer,
                                   shm::Deadline deadline) {
  auto ring = open_reply_ring(map, object, deadline);
  if (!ring) return shm::Outcome::closed;
  return send_answer(*ring, answer, deadline);
}

// The answering side of a process that answers many calls (a named
// worker's serve()): the reply rings of its recent callers stay mapped, so
// that an answer to a caller it answered before is one record, not a
// shm_open, an mmap and an munmap. Only the mapping is kept: a writer is
// attached for each answer (the ring takes many, one per worker answering
// the same caller) and let go after it. A caller that is done closes its ring
// before removing it, and the next answer drops every closed ring here: a
// removed segment's memory (reserved whole) lives as long as a mapping of
// it. A caller killed before it could close stays mapped until evicted (the
// least recently used of kMaxRings); an answer written there reaches
// nobody, as it would not have anyway.
class ReplyRingCache {
 public:
  static constexpr std::size_t kMaxRings = 16;

  template <shm::RegisteredType Answer>
  shm::Outcome send(const SessionMap& map, const std::string& object, const Answer& answer, shm::Deadline deadline) {
    shm::Ring* ring = find_or_open(map, object, deadline);
    if (ring == nullptr) return shm::Outcome::closed;
    return send_answer(*ring, answer, deadline);
  }

 private:
  struct Mapped {
    std::string object;
    std::unique_ptr<shm::Ring> ring;  // held where it stays put: a writer points at it
    std::uint64_t last_use = 0;
  };
  shm::Ring* find_or_open(const SessionMap& map, const std::string& object, shm::Deadline deadline);

  std::vector<Mapped> mapped_;
  std::uint64_t uses_ = 0;
};

}  // namespace colony::detail
