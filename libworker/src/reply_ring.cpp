#include "colony/session/reply_ring.hpp"

#include "colony/session/names.hpp"
#include "colony/worker/errors.hpp"

namespace colony::detail {
namespace {

constexpr int kReplyNameTries = 8;

shm::Ring create_ring(const SessionMap& map, std::size_t capacity, std::string& object,
                      std::optional<shm::SegmentName>& name) {
  shm::RingOptions options;
  options.capacity = capacity;
  options.max_message = shm::largest_message(capacity);
  for (int attempt = 0; attempt < kReplyNameTries; ++attempt) {
    object = random_reply_ring_object();
    const auto candidate = map.name(shm::SegmentKind::ring, object);
    auto made = shm::Ring::create(candidate, options);
    if (made) {
      name = candidate;
      return std::move(*made);
    }
    if (made.error().code != shm::Errc::already_exists) {
      throw WorkerError(WorkerErrc::os_error, "cannot make a reply ring: " + made.error().message);
    }
  }
  throw WorkerError(WorkerErrc::os_error, "cannot make a reply ring: " + std::to_string(kReplyNameTries) +
                                              " random names in a row exist already");
}

}  // namespace

ReplyRing::ReplyRing(const SessionMap& map, std::size_t capacity) : ring_(create_ring(map, capacity, object_, name_)) {}

ReplyRing::~ReplyRing() {
  if (name_) shm::Segment::remove(*name_);
}

shm::TypedReader ReplyRing::reader() {
  auto reader = shm::RingReader::attach(ring_);
  if (!reader) throw WorkerError(WorkerErrc::os_error, reader.error().message);
  return shm::TypedReader(std::move(*reader));
}

std::optional<shm::Ring> open_reply_ring(const SessionMap& map, const std::string& object, shm::Deadline deadline) {
  if (!is_reply_ring_object(object)) return std::nullopt;
  auto ring = shm::Ring::open(map.name(shm::SegmentKind::ring, object), deadline);
  if (!ring) return std::nullopt;
  return std::move(*ring);
}

}  // namespace colony::detail
