#pragma once
// A session's segments, from birth to removal: the checks before a start (a
// live broker's session is refused; a dead one's is taken over, its
// mailboxes kept), the control segment and the request ring, the host's own
// segments and context; at the end, the removal of what is ours.

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "colony/broker/broker.hpp"
#include "colony/shm/ring.hpp"
#include "colony/session/context.hpp"
#include "colony/session/session_map.hpp"

namespace colony::broker_detail {

class SessionBootstrap {
 public:
  // Makes the session that options name (or a random one) and installs the
  // host context; throws WorkerError. What a throw leaves is removed by
  // remove_own_segments.
  void create(const BrokerOptions& options);

  const std::string& session() const noexcept { return session_; }
  const std::shared_ptr<detail::SessionMap>& map() const noexcept { return map_; }
  shm::Ring& requests_ring() { return *requests_ring_; }
  shm::RingReader& requests() { return *requests_; }
  detail::Context& host_context() { return *host_context_; }

  // The host context is no longer this process's.
  void uninstall_host_context() noexcept;
  // At the end: every segment of the session that validates as ours and was
  // made by us or by a process that is gone (our workers). What cannot be
  // validated (a name squatted under our prefix) is not ours to remove.
  void remove_session_segments();
  // A start that failed removes only what this start made: names that were
  // not there before it began and that validate as made by this process.
  void remove_own_segments() noexcept;

 private:
  std::string session_;
  std::vector<std::string> existing_before_start_;
  std::shared_ptr<detail::SessionMap> map_;
  std::optional<shm::Ring> requests_ring_;
  std::optional<shm::RingReader> requests_;
  std::shared_ptr<detail::Context> host_context_;
};

}  // namespace colony::broker_detail
