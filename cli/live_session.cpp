#include "live_session.hpp"

#include <chrono>

#include "colony/broker/clean.hpp"
#include "colony/worker/errors.hpp"
#include "session_option.hpp"

namespace colony::cli {

std::shared_ptr<detail::SessionMap> open_live_session(const std::string& given_session) {
  const std::string session = resolve_session(given_session);
  require_live_session(session);
  return open_session_map(session);
}

std::shared_ptr<detail::SessionMap> open_session_map(const std::string& session) {
  // The deadline covers a broker still publishing the segment.
  return detail::SessionMap::open(session, shm::Deadline::after(std::chrono::seconds(2)));
}

void require_named_worker(const detail::SessionMap& map, const std::string& name) {
  if (!map.has_entry(detail::kNamedWorkerEntryKind, name)) {
    throw WorkerError(WorkerErrc::not_found, "no worker named '" + name + "' in session '" + map.session() + "'");
  }
}

}  // namespace colony::cli
