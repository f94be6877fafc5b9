#pragma once
// Colony shared-memory objects as the bench owns them: created in the bench
// before the fork, opened by name in the peer, removed when the case ends
// (or from a signal handler, through ScopedName).

#include <new>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "bench.hpp"
#include "colony/shm/names.hpp"
#include "colony/shm/ring.hpp"
#include "colony/shm/segment.hpp"
#include "two_process.hpp"

namespace bench {

template <class T>
T must(colony::shm::Expected<T> result, std::string_view what) {
  if (!result) throw BenchError(std::string(what) + ": " + result.error().message);
  return std::move(result).value();
}

inline colony::shm::SegmentName segment_name(RunContext& context, colony::shm::SegmentKind kind,
                                             std::string_view stem) {
  return must(colony::shm::SegmentName::make(context.session(), kind, context.unique(stem)), "segment name");
}

// A ring the bench created.
class OwnedRing {
 public:
  OwnedRing(RunContext& context, std::string_view stem, const colony::shm::RingOptions& options)
      : name_(segment_name(context, colony::shm::SegmentKind::ring, stem)),
        guard_(name_.os_name(), [name = name_] { colony::shm::Segment::remove(name); }),
        ring_(must(colony::shm::Ring::create(name_, options), "creating ring " + name_.os_name())) {}

  const colony::shm::SegmentName& name() const noexcept { return name_; }
  colony::shm::Ring& ring() noexcept { return ring_; }

 private:
  colony::shm::SegmentName name_;
  ScopedName guard_;  // registered before the ring exists: no window for a leak
  colony::shm::Ring ring_;
};

// A raw segment holding one Cells struct (atomics), for the floor rows.
template <class Cells>
class SharedCells {
 public:
  SharedCells(RunContext& context, std::string_view stem)
      : name_(segment_name(context, colony::shm::SegmentKind::bytes, stem)),
        guard_(name_.os_name(), [name = name_] { colony::shm::Segment::remove(name); }),
        segment_(must(colony::shm::Segment::create(name_, sizeof(Cells)), "creating segment " + name_.os_name())),
        cells_(new (segment_.data()) Cells{}) {
    segment_.mark_ready();
  }

  // The bench's cells, in the mapping it created.
  Cells& in_bench() noexcept { return *cells_; }
  // The peer maps the segment again by name.
  Cells& in_peer(colony::shm::Deadline deadline) {
    opened_.emplace(must(colony::shm::Segment::open(name_, deadline), "opening segment " + name_.os_name()));
    return *std::launder(reinterpret_cast<Cells*>(opened_->data()));
  }

 private:
  colony::shm::SegmentName name_;
  ScopedName guard_;
  colony::shm::Segment segment_;
  Cells* cells_;
  std::optional<colony::shm::Segment> opened_;
};

}  // namespace bench
