#include "channel_argument.hpp"

#include <chrono>

#include "colony/worker/errors.hpp"
#include "commands.hpp"
#include "live_session.hpp"
// The session layer's own headers, in one block.
#include "colony/session/names.hpp"
#include "colony/session/contract.hpp"

namespace colony::cli {

std::shared_ptr<detail::ChannelCore> open_channel_argument(const std::string& session, const std::string& word) {
  const auto id = detail::parse_channel_object(word, true);
  if (!id) throw UsageError("a channel is ch<N> or <N>, got '" + word + "'");
  auto map = open_live_session(session);
  const std::string object = detail::channel_object(*id);
  auto ring = shm::Ring::open(map->name(shm::SegmentKind::ring, object), shm::Deadline::after(detail::kSegmentPublishWait));
  if (!ring) throw WorkerError(WorkerErrc::not_found, "no channel " + object + " in session '" + session + "'");
  return std::make_shared<detail::ChannelCore>(std::move(map), std::move(*ring), *id);
}

}  // namespace colony::cli
