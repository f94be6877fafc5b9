#include "process_tree.hpp"

#include <algorithm>
#include <cstdio>
#include <string_view>

#include "pipes.hpp"
#include "plain_io.hpp"
#include "unix_time.hpp"
#include "colony/session/slot_state.hpp"

namespace colony::broker_detail {

using namespace detail;

namespace {

// How often the loop looks whether a dead plain executable's output has
// drained (its pump thread sets a flag; nothing wakes the loop for it).
constexpr auto kDrainPoll = std::chrono::milliseconds(5);

}  // namespace

ProcessTree::ProcessTree(std::string session, std::shared_ptr<SessionMap> map, const BrokerLimits& limits,
                         EventOutbox& outbox)
    : session_(std::move(session)), map_(std::move(map)), limits_(limits), outbox_(outbox) {
  Managed host;
  host.slot = kHostSlot;
  host.generation = 1;
  host.alive = false;  // not a process of ours
  host.online = true;
  track(std::move(host));
}

void ProcessTree::track(Managed worker) {
  const std::uint32_t slot = worker.slot;
  const std::uint32_t generation = worker.generation;
  if (workers_.emplace(slot, std::move(worker)).second) outbox_.open(slot, generation);
}

const Managed* ProcessTree::find(std::uint32_t slot) const {
  const auto found = workers_.find(slot);
  return found == workers_.end() ? nullptr : &found->second;
}

void ProcessTree::kill(std::uint32_t slot) {
  if (const auto found = workers_.find(slot); found != workers_.end()) {
    found->second.kill_sent = kill_process(found->second.process);
  }
}

// --- launching ------------------------------------------------------------------

std::vector<std::string> ProcessTree::worker_environment(const Managed& worker) const {
  std::vector<std::string> environment;
  for (auto& variable : inherited_environment()) {
    const std::string_view name(variable);
    if (name.starts_with("COLONY_SESSION=") || name.starts_with("COLONY_WORKER=") ||
        name.starts_with("COLONY_BROKER_PID=") || name.starts_with("COLONY_WORKER_NAME=")) {
      continue;
    }
    environment.push_back(std::move(variable));
  }
  environment.push_back(std::string(kSessionEnv) + "=" + session_);
  environment.push_back(std::string(kWorkerEnv) + "=" + std::to_string(worker.slot) + "." +
                        std::to_string(worker.generation));
  environment.push_back(std::string(kBrokerPidEnv) + "=" + std::to_string(shm::current_pid()));
  if (!worker.named.empty()) environment.push_back(std::string(kWorkerNameEnv) + "=" + worker.named);
  return environment;
}

void ProcessTree::refuse(const LaunchRequest& request, std::uint32_t parent, LaunchRefusal why,
                         const std::string& error) {
  outbox_.post(parent, LaunchResult{request.slot, request.generation, false, static_cast<std::uint32_t>(why), error});
}

void ProcessTree::on_launch(const LaunchRequest& request) {
  if (request.slot == kHostSlot || request.slot >= kMaxWorkerSlots) return;
  WorkerSlot& record = map_->slot(request.slot);
  const std::uint32_t parent = record.parent_slot.load();
  const std::uint64_t word = record.state_word.load(std::memory_order_acquire);
  if (generation_of(word) != request.generation || state_of(word) != SlotState::created) {
    refuse(request, parent, LaunchRefusal::bad_state, "the worker is not in state new");
    return;
  }
  const auto parent_entry = workers_.find(parent);
  if (ending_ || parent_entry == workers_.end() || parent_entry->second.terminating ||
      parent_entry->second.generation != record.parent_generation.load()) {
    refuse(request, parent, LaunchRefusal::bad_state, ending_ ? "the session is ending" : "its parent is ending");
    discard_unlaunched(request.slot, request.generation);
    return;
  }
  if (running_ >= limits_.max_running && limits_.over_cap == BrokerLimits::OverCap::fail) {
    refuse(request, parent, LaunchRefusal::worker_cap,
           "the session already runs " + std::to_string(running_) + " workers, its cap (max_running " +
               std::to_string(limits_.max_running) + ")");
    discard_unlaunched(request.slot, request.generation);
    return;
  }
  Managed worker;
  worker.slot = request.slot;
  worker.generation = request.generation;
  worker.parent = parent;
  worker.launch = request;
  track(std::move(worker));
  parent_entry->second.children.push_back(request.slot);
  if (running_ >= limits_.max_running) {
    publish_slot_state(record, request.generation, SlotState::queued, SlotWriter::broker);
    launch_queue_.push_back(request.slot);
    outbox_.post(parent, LaunchResult{request.slot, request.generation, true, 0, {}});
    return;
  }
  if (auto error = spawn(request.slot)) {
    refuse(request, parent, cannot_execute(*error) ? LaunchRefusal::no_such_executable : LaunchRefusal::os_error,
           error->message);
    forget_unspawned(request.slot);
    return;
  }
  outbox_.post(parent, LaunchResult{request.slot, request.generation, true, 0, {}});
}

std::optional<shm::Error> ProcessTree::spawn(std::uint32_t slot) {
  Managed& worker = workers_.at(slot);
  WorkerSlot& record = map_->slot(worker.slot);
  // Published before the process exists, so the worker finds its slot
  // `starting` when it attaches.
  publish_slot_state(record, worker.generation, SlotState::starting, SlotWriter::broker);
  PlainIo io;
  if (worker.launch.plain) {
    if (auto error = io.prepare(map_, worker.launch)) {
      publish_slot_state(record, worker.generation, SlotState::created, SlotWriter::broker);
      return shm::Error{shm::Errc::os_error, std::move(*error)};
    }
  }
  // A named worker's standard error goes through the reaper, which keeps
  // its tail for the crash report (and copies it to ours).
  Pipe stderr_pipe;
  // Taken before the process exists: whatever it does comes after.
  const Clock::time_point spawn_started = Clock::now();
  if (!worker.named.empty()) stderr_pipe = make_pipe().value_or(Pipe{});
  auto spawned = spawn_process(worker.launch.executable, worker.launch.arguments, worker_environment(worker),
                               worker.launch.working_directory, io.child_stdin(), io.child_stdout(),
                               stderr_pipe.write_end);
  io.close_child_ends();
  close_end(stderr_pipe.write_end);
  if (!spawned) {
    close_end(stderr_pipe.read_end);
    publish_slot_state(record, worker.generation, SlotState::created, SlotWriter::broker);
    return spawned.error();
  }
  // Watched before it counts as running: a process whose end could not be
  // seen would hold its slot and its place under the cap for ever.
  if (auto unwatched = reaper_->watch(*spawned, (std::uint64_t{worker.slot} << 32) | worker.generation,
                                      stderr_pipe.read_end)) {
    kill_and_reap(*spawned);
    publish_slot_state(record, worker.generation, SlotState::created, SlotWriter::broker);
    return unwatched;
  }
  if (worker.launch.plain) {
    worker.pumps = io.start_pumps(worker.launch.chunks);
    // It will never attach: it is online as soon as it runs.
    worker.online = true;
    publish_slot_state(record, worker.generation, SlotState::running, SlotWriter::broker);
    outbox_.post(worker.parent, ChildOnline{worker.slot, worker.generation, spawned->pid});
  }
  worker.process = *spawned;
  worker.spawned_at = spawn_started;
  worker.alive = true;
  worker.attach_deadline = Clock::now() + limits_.attach_timeout;
  record.pid.store(spawned->pid, std::memory_order_release);
  record.started_unix_ns.store(unix_ns(), std::memory_order_relaxed);
  ++running_;
  map_->header().running_workers.store(running_, std::memory_order_relaxed);
  return std::nullopt;
}

// A launch that never ran: forget it and its segments; the parent was told.
void ProcessTree::forget_unspawned(std::uint32_t slot) {
  const auto found = workers_.find(slot);
  if (found == workers_.end()) return;
  const std::uint32_t generation = found->second.generation;
  detach_from_parent(found->second);
  outbox_.close(slot);
  workers_.erase(found);
  discard_unlaunched(slot, generation);
}

void ProcessTree::discard_unlaunched(std::uint32_t slot, std::uint32_t generation) {
  remove_worker_segments(*map_, slot, generation);
  map_->slot(slot).exit_kind.store(static_cast<std::uint32_t>(ExitKind::failed_to_start));
  release_slot(slot, generation);
}

// The slot's last store: from here a creator may claim it again. The owner
// fields are cleared first, so that no scan of ours matches a stale owner
// while the next creator is filling them in.
void ProcessTree::release_slot(std::uint32_t slot, std::uint32_t generation) {
  WorkerSlot& record = map_->slot(slot);
  record.parent_slot.store(0, std::memory_order_relaxed);
  record.parent_generation.store(0, std::memory_order_relaxed);
  record.creator_pid.store(0, std::memory_order_relaxed);
  publish_slot_state(record, generation, SlotState::terminated, SlotWriter::broker);
}

void ProcessTree::launch_queued() {
  while (!launch_queue_.empty() && running_ < limits_.max_running && !ending_) {
    const std::uint32_t slot = launch_queue_.front();
    launch_queue_.pop_front();
    const auto found = workers_.find(slot);
    if (found == workers_.end() || found->second.terminating) continue;
    if (auto error = spawn(slot)) fail_start(slot, error->message);
  }
}

void ProcessTree::fail_start(std::uint32_t slot, const std::string& error) {
  Managed& worker = workers_.at(slot);
  worker.exit =
      ChildExit{worker.slot, worker.generation, static_cast<std::uint32_t>(ExitKind::failed_to_start), 0, 0, false, error};
  try_finalize(slot);
}

// --- named workers' processes -------------------------------------------------------

detail::SessionExpected<std::pair<std::uint32_t, std::uint32_t>> ProcessTree::claim_named_slot(const std::string& executable) {
  return make_worker_slot(*map_, kHostSlot, 1, executable);
}

void ProcessTree::track_named(const std::string& name, LaunchRequest launch) {
  Managed worker;
  worker.slot = launch.slot;
  worker.generation = launch.generation;
  worker.parent = kHostSlot;
  worker.named = name;
  worker.launch = std::move(launch);
  const std::uint32_t slot = worker.slot;
  track(std::move(worker));
  workers_.at(kHostSlot).children.push_back(slot);
}

bool ProcessTree::queue_if_at_cap(std::uint32_t slot) {
  if (running_ < limits_.max_running) return false;
  const Managed& worker = workers_.at(slot);
  publish_slot_state(map_->slot(slot), worker.generation, SlotState::queued, SlotWriter::broker);
  launch_queue_.push_back(slot);
  return true;
}

// --- lifecycle ----------------------------------------------------------------------

void ProcessTree::on_online(const OnlineNotice& notice) {
  const auto found = workers_.find(notice.slot);
  if (found == workers_.end() || found->second.generation != notice.generation || !found->second.alive) return;
  Managed& worker = found->second;
  worker.online = true;
  (void)advance_slot_state(map_->slot(worker.slot), worker.generation, SlotState::starting, worker.generation,
                           SlotState::running, SlotWriter::broker);
  outbox_.post(worker.parent, ChildOnline{worker.slot, worker.generation, notice.pid});
}

void ProcessTree::on_terminate(const TerminateRequest& request) {
  const auto found = workers_.find(request.slot);
  if (found == workers_.end()) {
    // Created but never started: nothing runs; end it here.
    if (request.slot == kHostSlot || request.slot >= kMaxWorkerSlots) return;
    WorkerSlot& record = map_->slot(request.slot);
    const std::uint64_t word = record.state_word.load(std::memory_order_acquire);
    if (generation_of(word) == request.generation && state_of(word) == SlotState::created) {
      const std::uint32_t parent = record.parent_slot.load();
      discard_unlaunched(request.slot, request.generation);
      outbox_.post(parent, ChildExit{request.slot, request.generation, static_cast<std::uint32_t>(ExitKind::failed_to_start),
                                     0, 0, true, "terminated before it started"});
    }
    return;
  }
  if (found->second.generation != request.generation) return;
  terminate_subtree(request.slot);
}

void ProcessTree::terminate_subtree(std::uint32_t slot) {
  const auto found = workers_.find(slot);
  if (found == workers_.end()) return;
  Managed& worker = found->second;
  if (!worker.terminating) {
    worker.terminating = true;
    if (worker.alive) {
      publish_slot_state(map_->slot(slot), worker.generation, SlotState::terminating, SlotWriter::broker);
    }
  }
  const auto children = worker.children;
  for (const std::uint32_t child : children) terminate_subtree(child);
  advance(slot);
}

// Moves a terminating worker on: kill it once its children are gone;
// finalize it once it is dead too.
void ProcessTree::advance(std::uint32_t slot) {
  const auto found = workers_.find(slot);
  if (found == workers_.end() || slot == kHostSlot) return;
  Managed& worker = found->second;
  if (worker.terminating && worker.children.empty()) {
    if (worker.alive && !worker.kill_sent) {
      worker.kill_sent = kill_process(worker.process);
    } else if (!worker.alive && !worker.exit) {
      // Queued, never spawned.
      launch_queue_.erase(std::remove(launch_queue_.begin(), launch_queue_.end(), slot), launch_queue_.end());
      worker.exit = ChildExit{worker.slot, worker.generation, static_cast<std::uint32_t>(ExitKind::failed_to_start),
                              0, 0, true, "terminated before it started"};
    }
  }
  try_finalize(slot);
}

void ProcessTree::on_process_end(const ChildEnded& ended) {
  const std::uint32_t slot = ended.slot;
  const auto found = workers_.find(slot);
  if (found == workers_.end() || found->second.generation != ended.generation || !found->second.alive) return;
  Managed& worker = found->second;
  worker.alive = false;
  worker.noticed_ns = ended.noticed_ns;
  worker.stderr_tail = ended.stderr_tail;
  release_process(worker.process);
  if (worker.pumps) worker.pumps->process_ended();
  --running_;
  map_->header().running_workers.store(running_, std::memory_order_relaxed);
  ChildExit exit{worker.slot, worker.generation, ended.kind, ended.code, ended.signal, worker.terminating, {}};
  if (!ended.known) {
    exit.reason = "reaped by another part of the host process: its exit status is unknown";
    exit.code = -1;
  }
  if (worker.missed_attach) {
    exit.kind = static_cast<std::uint32_t>(ExitKind::not_attached);
    exit.reason = "did not attach to the session within " + std::to_string(limits_.attach_timeout.count()) +
                  " ms (not a Colony worker?)";
  }
  worker.exit = exit;
  WorkerSlot& record = map_->slot(slot);
  record.exit_kind.store(exit.kind);
  record.exit_code.store(exit.code);
  record.exit_signal.store(exit.signal);
  // Slots it claimed and never started go with it.
  discard_slots_created_by(ended.pid);
  // Its children do not outlive it.
  if (!worker.children.empty()) terminate_subtree(slot);
  try_finalize(slot);
  launch_queued();
  // It may have died between publishing a record and ringing the
  // receiver's doorbell: every doorbell is rung at the end of this turn.
  doorbells_due_ = true;
}

// Once per turn of the loop, not once per end: a session that ends a
// thousand workers would otherwise wake each survivor a thousand times.
// A worker sent SIGKILL reads nothing more: its doorbell is left alone.
void ProcessTree::ring_doorbells_if_due() {
  if (!doorbells_due_) return;
  doorbells_due_ = false;
  for (const auto& [index, entry] : workers_) {
    if (!entry.kill_sent) map_->ring_doorbell(index);
  }
}

void ProcessTree::discard_slots_created_by(int pid) {
  for (std::uint32_t index = 1; index < kMaxWorkerSlots; ++index) {
    WorkerSlot& record = map_->slot(index);
    const std::uint64_t word = record.state_word.load(std::memory_order_acquire);
    const SlotState state = state_of(word);
    if (record.creator_pid.load() != pid || workers_.contains(index)) continue;
    if (state == SlotState::created || state == SlotState::reserved) {
      discard_unlaunched(index, generation_of(word));
    } else if (state == SlotState::free || state == SlotState::terminated) {
      // It died between claiming creator_pid and the state: the slot is
      // claimable again once nobody is named its creator.
      std::int32_t dead = pid;
      record.creator_pid.compare_exchange_strong(dead, 0);
    }
  }
}

void ProcessTree::detach_from_parent(const Managed& worker) {
  const auto parent = workers_.find(worker.parent);
  if (parent == workers_.end()) return;
  auto& siblings = parent->second.children;
  siblings.erase(std::remove(siblings.begin(), siblings.end(), worker.slot), siblings.end());
}

// A worker is terminated when its process has ended and its children are
// terminated: only then is its parent told, and its segments removed.
void ProcessTree::try_finalize(std::uint32_t slot) {
  const auto found = workers_.find(slot);
  if (found == workers_.end() || slot == kHostSlot) return;
  Managed& worker = found->second;
  if (worker.alive || !worker.exit || !worker.children.empty()) return;
  // A plain executable's output is all in its channel before its end is told.
  if (worker.pumps && !worker.pumps->output_done()) return;
  worker.pumps.reset();
  const ChildExit exit = *worker.exit;
  const std::uint32_t parent = worker.parent;
  // Children it created but never started go with it.
  for (std::uint32_t index = 1; index < kMaxWorkerSlots; ++index) {
    WorkerSlot& record = map_->slot(index);
    const std::uint64_t word = record.state_word.load(std::memory_order_acquire);
    const SlotState state = state_of(word);
    if ((state == SlotState::created || state == SlotState::reserved) && record.parent_slot.load() == slot &&
        record.parent_generation.load() == worker.generation) {
      discard_unlaunched(index, generation_of(word));
    }
  }
  detach_from_parent(worker);
  remove_worker_segments(*map_, slot, worker.generation);
  release_slot(slot, worker.generation);
  std::optional<NamedFinished> named;
  if (!worker.named.empty()) {
    named = NamedFinished{worker.named, exit, worker.process.pid, worker.noticed_ns, worker.stderr_tail,
                          worker.spawned_at};
  }
  outbox_.close(slot);
  workers_.erase(found);
  outbox_.post(parent, exit);
  advance(parent);
  if (named && named_finished_) named_finished_(*named);
}

// --- the loop's turns -----------------------------------------------------------------

void ProcessTree::check_attach_deadlines(Clock::time_point now) {
  for (auto& [slot, worker] : workers_) {
    if (worker.alive && !worker.online && !worker.missed_attach && now >= worker.attach_deadline) {
      worker.missed_attach = true;
      worker.kill_sent = kill_process(worker.process);
    }
  }
}

void ProcessTree::finalize_drained() {
  std::vector<std::uint32_t> draining;
  for (const auto& [slot, worker] : workers_) {
    if (!worker.alive && worker.pumps && worker.pumps->output_done()) draining.push_back(slot);
  }
  for (const std::uint32_t slot : draining) try_finalize(slot);
}

ProcessTree::Clock::time_point ProcessTree::next_timer(Clock::time_point now) const {
  auto next = Clock::time_point::max();
  for (const auto& [slot, worker] : workers_) {
    if (worker.alive && !worker.online && !worker.missed_attach) next = std::min(next, worker.attach_deadline);
    if (!worker.alive && worker.pumps) next = std::min(next, now + kDrainPoll);
  }
  return next;
}

// --- the session's end ------------------------------------------------------------------

void ProcessTree::begin_stop() {
  ending_ = true;
  // Queued, never to start: their parents hear of it now.
  const std::deque<std::uint32_t> queued = launch_queue_;
  for (const std::uint32_t slot : queued) {
    if (auto found = workers_.find(slot); found != workers_.end()) {
      found->second.terminating = true;
      advance(slot);
    }
  }
  for (auto& [slot, worker] : workers_) {
    if (worker.alive) {
      worker.terminating = true;
      ask_to_stop(worker.process);
    }
  }
}

bool ProcessTree::any_alive() const {
  for (const auto& [slot, worker] : workers_) {
    if (worker.alive) return true;
  }
  return false;
}

bool ProcessTree::any_exit_untold() const {
  for (const auto& [slot, worker] : workers_) {
    if (!worker.alive && worker.exit) return true;
  }
  return false;
}

void ProcessTree::kill_all() {
  for (auto& [slot, worker] : workers_) {
    if (worker.alive && !worker.kill_sent) worker.kill_sent = kill_process(worker.process);
    // Output nobody reads any more must not hold the exit back.
    if (worker.pumps) worker.pumps->stop();
  }
}

}  // namespace colony::broker_detail
