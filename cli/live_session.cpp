#include "live_session.hpp"

#include <chrono>

#include "colony/broker/clean.hpp"
#include "colony/session/contract.hpp"
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
  return detail::or_throw(detail::SessionMap::open(session, shm::Deadline::after(detail::kSegmentPublishWait)));
}

void require_named_worker(const detail::SessionMap& map, const std::string& name) {
  if (!map.has_entry(detail::kNamedWorkerEntryKind, name)) {
    throw WorkerError(WorkerErrc::not_found, "no worker named '" + name + "' in session '" + map.session() + "'");
  }
}

Command named_worker_command(CLI::App& command, NamedWorkerAction act) {
  struct Options {
    std::string session;
    std::string name;
  };
  auto options = std::make_shared<Options>();
  add_session_option(command, options->session);
  command.add_option("name", options->name, "The worker's name")->required();
  return {[options, act = std::move(act)] {
    const auto map = open_live_session(options->session);
    require_named_worker(*map, options->name);
    act(*map, options->name);
    return kSuccess;
  }};
}

}  // namespace colony::cli
