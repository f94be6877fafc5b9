#pragma once
// The session's worker processes as a tree: each worker from its launch
// request to its finalization, the launch queue under the running cap, the
// termination of a subtree (children first), and the release of a slot once
// its worker, its process and its children are gone. Its events (launch
// results, online, exits) go to the parent through the EventOutbox.

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "colony/broker/broker.hpp"
#include "colony/session/context.hpp"
#include "colony/session/protocol.hpp"
#include "colony/session/session_map.hpp"
#include "event_outbox.hpp"
#include "launcher.hpp"
#include "plain_pumps.hpp"

namespace colony::broker_detail {

// A worker as the broker tracks it, from launch request to finalization.
struct Managed {
  std::uint32_t slot = 0;
  std::uint32_t generation = 0;
  std::uint32_t parent = 0;  // slot
  Spawned process;
  bool alive = false;        // the process runs (spawned, not reaped)
  bool online = false;
  bool terminating = false;  // ending with its subtree
  bool kill_sent = false;
  bool missed_attach = false;
  shm::Clock::time_point attach_deadline{};
  std::vector<std::uint32_t> children;  // slots, removed when they are finalized
  std::optional<detail::ChildExit> exit;  // set when the process ended (or never ran)
  detail::LaunchRequest launch;           // kept while queued
  std::string named;                      // the worker name it serves, if it is a named worker
  std::uint64_t noticed_ns = 0;           // when the reaper saw its end (steady clock)
  shm::Clock::time_point spawned_at{};
  std::string stderr_tail;                // a named worker's last stderr lines
  std::unique_ptr<PlainPumps> pumps;      // a plain executable's standard input and output
};

class ProcessTree {
 public:
  using Clock = shm::Clock;

  // A named worker's process was finalized: its exit is told to the host.
  struct NamedFinished {
    std::string name;
    detail::ChildExit exit;
    int pid = 0;
    std::uint64_t noticed_ns = 0;
    std::string stderr_tail;
    Clock::time_point spawned_at{};
  };

  ProcessTree(std::string session, std::shared_ptr<detail::SessionMap> map, const BrokerLimits& limits,
              EventOutbox& outbox);
  void set_reaper(Reaper* reaper) noexcept { reaper_ = reaper; }
  void on_named_finished(std::function<void(const NamedFinished&)> listener) { named_finished_ = std::move(listener); }

  // --- requests (workers' and the reaper's) ---
  void on_launch(const detail::LaunchRequest& request);
  void on_online(const detail::OnlineNotice& notice);
  void on_terminate(const detail::TerminateRequest& request);
  void on_process_end(const detail::ChildEnded& ended);
  void terminate_subtree(std::uint32_t slot);

  // --- a named worker's process: a child of the host, started by the broker ---
  // A slot for it, or why none can be had (worker_cap: every slot is in use).
  detail::SessionExpected<std::pair<std::uint32_t, std::uint32_t>> claim_named_slot(const std::string& executable);
  void track_named(const std::string& name, detail::LaunchRequest launch);
  // Under the running cap it waits in the launch queue: true.
  bool queue_if_at_cap(std::uint32_t slot);
  // Spawns a tracked worker; returns the error when it could not
  // (cannot_execute(error): the executable is missing or not executable).
  std::optional<shm::Error> spawn(std::uint32_t slot);
  // Its start failed: it ends as failed_to_start.
  void fail_start(std::uint32_t slot, const std::string& error);
  const Managed* find(std::uint32_t slot) const;
  void kill(std::uint32_t slot);

  // --- the loop's turns ---
  void check_attach_deadlines(Clock::time_point now);
  // Plain executables whose output has all reached its channel: told now.
  void finalize_drained();
  // After process ends: the doorbells of every worker that may still read,
  // once per turn however many ended in it (doorbells_due_).
  void ring_doorbells_if_due();
  Clock::time_point next_timer(Clock::time_point now) const;

  // --- the session's end ---
  bool ending() const noexcept { return ending_; }
  // Queued launches end unstarted; every process is asked to stop.
  void begin_stop();
  bool any_alive() const;
  // A process has ended but its exit is not told yet: a plain executable's
  // output is still draining into its channel. The session's end waits for
  // it (up to the hard deadline), or its parent would never hear the exit.
  bool any_exit_untold() const;
  // The grace period is over: every process is killed, and output nobody
  // reads any more no longer holds an exit back.
  void kill_all();

 private:
  void track(Managed worker);
  void refuse(const detail::LaunchRequest& request, std::uint32_t parent, detail::LaunchRefusal why,
              const std::string& error);
  std::vector<std::string> worker_environment(const Managed& worker) const;
  void forget_unspawned(std::uint32_t slot);
  void discard_unlaunched(std::uint32_t slot, std::uint32_t generation);
  void release_slot(std::uint32_t slot, std::uint32_t generation);
  void launch_queued();
  void advance(std::uint32_t slot);
  void discard_slots_created_by(int pid);
  void detach_from_parent(const Managed& worker);
  void try_finalize(std::uint32_t slot);

  std::string session_;
  std::shared_ptr<detail::SessionMap> map_;
  BrokerLimits limits_;
  EventOutbox& outbox_;
  Reaper* reaper_ = nullptr;
  std::function<void(const NamedFinished&)> named_finished_;
  std::map<std::uint32_t, Managed> workers_;
  std::deque<std::uint32_t> launch_queue_;
  std::uint32_t running_ = 0;
  bool ending_ = false;
  bool doorbells_due_ = false;
};

}  // namespace colony::broker_detail
