#pragma once
// The session's named workers, one NamedWorker object each: its definition,
// its mailbox, the process that serves it now (if any) and its supervision.
// Here a named worker's process is started (at the first call, when calls
// wait after an end, or when supervision says so), killed past its handler
// timeout, and told to NamedSupervision (named_supervision.hpp) when it ends:
// that is where a restart is decided.

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "colony/worker/mailbox.hpp"
#include "colony/session/protocol.hpp"
#include "colony/session/session_map.hpp"
#include "named_supervision.hpp"
#include "process_tree.hpp"
#include "request_outcome.hpp"

namespace colony::broker_detail {

struct NamedWorker {
  // The process serving it now.
  struct Process {
    std::uint32_t slot = 0;
    std::uint32_t kills_at_start = 0;  // its mailbox's KILL WORKER count when it started
    bool handler_timed_out = false;    // killed by the broker: a handler ran past its timeout
  };

  detail::DefineNamed spec;
  Mailbox box;
  NamedSupervision supervision;
  std::optional<Process> running;
};

class NamedWorkers {
 public:
  using Clock = shm::Clock;

  NamedWorkers(std::string session, std::shared_ptr<detail::SessionMap> map, ProcessTree& tree)
      : session_(std::move(session)), map_(std::move(map)), tree_(tree) {}

  // Returns why the name could not be defined; empty once callers can see it.
  std::string define(const detail::DefineNamed& definition);
  // Starts the named worker's process unless one runs, supervision gave it
  // up, or it waits out a back-off; a child of the host. What it answers a
  // caller: refused for an unknown name, an ending session, a worker given
  // up, or a start that failed.
  RequestOutcome ensure_running(const std::string& name);
  // `colony restart`: its history cleared, started again.
  RequestOutcome restart(const std::string& name);
  // `colony terminate`: its process ends now; queued calls stay.
  RequestOutcome terminate(const std::string& name);
  // Supervision: what follows the end of one of its processes.
  void on_finished(const ProcessTree::NamedFinished& finished);
  // Handlers past their timeout are killed; restarts whose back-off passed start.
  void tick(Clock::time_point now);
  // When tick must look again: a back-off ends, or a handler with a timeout
  // may run past it (checked a few times per timeout).
  Clock::time_point next_timer(Clock::time_point now) const;

 private:
  std::string session_;
  std::shared_ptr<detail::SessionMap> map_;
  ProcessTree& tree_;
  std::map<std::string, NamedWorker> workers_;
};

}  // namespace colony::broker_detail
