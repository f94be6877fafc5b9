#include "colony/shm/mutex.hpp"

#include <new>
#include <string>
#include <utility>

#include "colony/shm/failpoint.hpp"

namespace colony::shm {
namespace {

static_assert(kControlOffset + sizeof(MutexCell) <= kDataOffset, "a mutex segment holds its cell before kDataOffset");

MutexCell& cell_of(const Segment& segment) noexcept {
  return *std::launder(static_cast<MutexCell*>(static_cast<void*>(segment.control())));
}

}  // namespace

Mutex::Mutex(Segment segment) noexcept : segment_(std::move(segment)), cell_(cell_of(segment_)) {}

Expected<Mutex> Mutex::create(const SegmentName& name) {
  if (auto kind = require_kind(name, SegmentKind::mutex); !kind) return kind.error();
  auto segment = Segment::create(name, 0);
  if (!segment) return segment.error();

  auto* cell = new (segment->control()) MutexCell{};
  if (auto initialized = RobustMutexCell::initialize(*cell); !initialized) {
    // Undo the half-made segment: its name would otherwise stay taken.
    Segment::remove(name);
    return initialized.error();
  }
  // If we die before mark_ready, openers get creator_died and never touch the cell.
  COLONY_FAILPOINT("mutex.create.before_ready");
  segment->mark_ready();
  return Mutex(std::move(segment).value());
}

Expected<Mutex> Mutex::open(const SegmentName& name, Deadline ready_deadline) {
  if (auto kind = require_kind(name, SegmentKind::mutex); !kind) return kind.error();
  auto segment = Segment::open(name, ready_deadline);
  if (!segment) return segment.error();
  // Segment::open checked magic, version, kind and size, and its acquire of
  // READY makes the creator's initialization of the cell visible here.
  return Mutex(std::move(segment).value());
}

}  // namespace colony::shm
