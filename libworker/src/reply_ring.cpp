#include "colony/session/reply_ring.hpp"

#include <algorithm>

#include "colony/session/names.hpp"

namespace colony::detail {
namespace {

constexpr int kReplyNameTries = 8;

}  // namespace

SessionExpected<ReplyRing> ReplyRing::make(const SessionMap& map, std::size_t capacity) {
  shm::RingOptions options;
  options.capacity = capacity;
  options.max_message = shm::largest_message(capacity);
  // Many writers: the workers a caller calls answer into its one ring, and
  // one may still be inside its send (a late reply, or the previous answer's
  // writer not yet let go) when the next answers. A single-writer ring
  // would refuse the second writer, and its answer would be lost.
  options.variant = shm::RingVariant::many_writers;
  for (int attempt = 0; attempt < kReplyNameTries; ++attempt) {
    std::string object = random_reply_ring_object();
    auto candidate = map.name(shm::SegmentKind::ring, object);
    auto made = shm::Ring::create(candidate, options);
    if (made) return ReplyRing(std::move(object), std::move(candidate), std::move(*made));
    if (made.error().code != shm::Errc::already_exists) {
      return session_error(WorkerErrc::os_error, "cannot make a reply ring: ", made.error());
    }
  }
  return SessionError{WorkerErrc::os_error, "cannot make a reply ring: " + std::to_string(kReplyNameTries) +
                                                " random names in a row exist already"};
}

ReplyRing::ReplyRing(std::string object, shm::SegmentName name, shm::Ring ring)
    : object_(std::move(object)), name_(std::move(name)), ring_(std::make_unique<shm::Ring>(std::move(ring))) {}

ReplyRing::ReplyRing(ReplyRing&& other) noexcept
    : object_(std::move(other.object_)), name_(std::move(other.name_)), ring_(std::move(other.ring_)) {
  other.name_.reset();
}

ReplyRing::~ReplyRing() {
  if (!name_) return;
  // Closed first: an answering process that keeps this ring mapped
  // (ReplyRingCache) sees it closed and lets its memory go.
  ring_->close();
  shm::Segment::remove(*name_);
}

SessionExpected<shm::TypedReader> ReplyRing::reader() {
  auto reader = shm::RingReader::attach(*ring_);
  if (!reader) return session_error(WorkerErrc::os_error, "", reader.error());
  return shm::TypedReader(std::move(*reader));
}

std::optional<shm::Ring> open_reply_ring(const SessionMap& map, const std::string& object, shm::Deadline deadline) {
  if (!is_reply_ring_object(object)) return std::nullopt;
  auto ring = shm::Ring::open(map.name(shm::SegmentKind::ring, object), deadline);
  if (!ring) return std::nullopt;
  return std::move(*ring);
}

shm::Ring* ReplyRingCache::find_or_open(const SessionMap& map, const std::string& object, shm::Deadline deadline) {
  ++uses_;
  // A ring closed by its caller is removed from the system: our mapping is
  // all that holds its memory (every segment's pages are reserved whole).
  std::erase_if(mapped_, [](const Mapped& entry) { return entry.ring->is_closed(); });
  for (Mapped& entry : mapped_) {
    if (entry.object == object) {
      entry.last_use = uses_;
      return entry.ring.get();
    }
  }
  auto ring = open_reply_ring(map, object, deadline);
  if (!ring) return nullptr;
  if (mapped_.size() >= kMaxRings) {
    const auto oldest = std::min_element(mapped_.begin(), mapped_.end(),
                                         [](const Mapped& a, const Mapped& b) { return a.last_use < b.last_use; });
    mapped_.erase(oldest);
  }
  mapped_.push_back(Mapped{object, std::make_unique<shm::Ring>(std::move(*ring)), uses_});
  return mapped_.back().ring.get();
}

}  // namespace colony::detail
