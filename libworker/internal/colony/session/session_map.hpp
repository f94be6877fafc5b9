#pragma once
// One process's mapping of a session's control segment: the worker slots, the
// limits, the doorbells. Shared by everything in the process that belongs to
// the session, so a handle that outlives its Worker context still points at
// mapped memory.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "colony/shm/deadline.hpp"
#include "colony/shm/names.hpp"
#include "colony/shm/segment.hpp"
#include "colony/session/contract.hpp"
#include "colony/session/names.hpp"
#include "colony/session/session_error.hpp"

namespace colony::detail {

class SessionMap {
 public:
  // Opens and validates ctl.session of a running session: session_gone when
  // there is none, or it is not a Colony session of this version.
  static SessionExpected<std::shared_ptr<SessionMap>> open(std::string_view session, shm::Deadline deadline);
  // Wraps a control segment the broker has just created and filled.
  static std::shared_ptr<SessionMap> adopt(shm::Segment segment);

  const std::string& session() const noexcept { return segment_.name().session(); }
  SessionHeader& header() const noexcept { return *reinterpret_cast<SessionHeader*>(segment_.control()); }
  WorkerSlot& slot(std::uint32_t index) const noexcept {
    return reinterpret_cast<WorkerSlot*>(segment_.data())[index % kMaxWorkerSlots];
  }
  ObjectEntry& object_entry(std::uint32_t index) const noexcept {
    auto* entries = reinterpret_cast<ObjectEntry*>(segment_.data() + sizeof(WorkerSlot) * kMaxWorkerSlots);
    return entries[index % kMaxObjectEntries];
  }
  // Lists a channel or shared object in the registry; false when it is full
  // (the object works all the same, it is just not listed).
  bool register_object(shm::SegmentKind kind, std::string_view name, std::uint32_t owner_slot,
                       std::uint32_t owner_generation) const noexcept;
  bool register_entry(std::uint32_t kind, std::string_view name, std::uint32_t owner_slot,
                      std::uint32_t owner_generation) const noexcept;
  // A published entry of that kind and name exists.
  bool has_entry(std::uint32_t kind, std::string_view name) const noexcept;
  // A name in this session. Throws WorkerError bad_state on a name the rules
  // refuse: for the names names.hpp builds (bounded by construction) that is
  // a bug, and for a name read from shared memory it is the check.
  shm::SegmentName name(shm::SegmentKind kind, std::string_view object) const;

  // Wakes worker `index`'s event loop if it sleeps. Call after publishing.
  void ring_doorbell(std::uint32_t index) const noexcept;
  // The same when a full fence already separates the publication from this
  // call (RingWriter::commit ends with one).
  void ring_doorbell_after_fence(std::uint32_t index) const noexcept;

 private:
  explicit SessionMap(shm::Segment segment) : segment_(std::move(segment)) {}
  shm::Segment segment_;
};


}  // namespace colony::detail
