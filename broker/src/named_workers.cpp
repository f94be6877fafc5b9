#include "named_workers.hpp"

#include <algorithm>
#include <atomic>
#include <cstdio>

#include "colony/session/crash_log.hpp"

namespace colony::broker_detail {

using namespace detail;

std::string NamedWorkers::define(const DefineNamed& definition) {
  if (definition.name.empty() || definition.name.size() >= sizeof(ObjectEntry::name)) return "the name is too long";
  auto found = workers_.find(definition.name);
  const bool known = found != workers_.end();
  if (!known) {
    std::optional<Mailbox> box;
    try {
      box.emplace(Mailbox::open_or_create(session_, definition.name, MailboxOptions{1 << 20, definition.max_attempts}));
    } catch (const std::exception& e) {
      return std::string("cannot make its mailbox: ") + e.what();
    }
    // A mailbox taken over from a dead broker still names its processes.
    MailboxControl& control = box->control();
    control.current_slot.store(0, std::memory_order_seq_cst);
    std::atomic_thread_fence(std::memory_order_seq_cst);  // before the depth below, as in on_finished
    control.supervision.store(static_cast<std::uint32_t>(SupervisionState::normal), std::memory_order_relaxed);
    std::optional<CrashLog> log;
    if (auto made = CrashLog::create(session_, definition.name)) {
      log.emplace(std::move(*made));
    } else {
      std::fprintf(stderr, "colony broker: no crash log for '%s': %s\n", definition.name.c_str(),
                   made.error().message.c_str());
    }
    found = workers_
                .emplace(definition.name,
                         NamedWorker{definition, std::move(*box),
                                     NamedSupervision(definition.name, options_of(definition), std::move(log)), {}})
                .first;
  } else {
    found->second.spec = definition;
    found->second.supervision.set_options(options_of(definition));
  }
  NamedWorker& worker = found->second;
  // The box may be older than this definition (a redefinition, a session
  // taken over from a dead broker): its K is this definition's from now on.
  worker.box.control().max_attempts.store(definition.max_attempts, std::memory_order_relaxed);
  // Publishing point: callers find the name from here on.
  if (!known) (void)map_->register_entry(kNamedWorkerEntryKind, definition.name, kHostSlot, 1);
  if (worker.box.depth() > 0) (void)ensure_running(definition.name);
  return {};
}

RequestOutcome NamedWorkers::ensure_running(const std::string& name) {
  const std::string worker_name = "worker '" + name + "'";
  if (tree_.ending()) return RequestOutcome::refused(WorkerErrc::session_gone, "the session is ending");
  const auto found = workers_.find(name);
  if (found == workers_.end()) {
    return RequestOutcome::refused(WorkerErrc::not_found, "no worker named '" + name + "' in session '" + session_ + "'");
  }
  NamedWorker& worker = found->second;
  if (worker.running) return RequestOutcome::done(worker_name + " is running");
  if (worker.supervision.given_up()) {
    return RequestOutcome::refused(WorkerErrc::bad_state, "supervision gave up " + worker_name +
                                                              "; colony restart " + name + " starts it again");
  }
  if (worker.supervision.restart_at()) return RequestOutcome::done(worker_name + " starts after its restart back-off");
  const auto claimed = tree_.claim_named_slot(worker.spec.executable);
  if (!claimed) {
    // Printed as well: the start a queued call asks for has nobody to answer.
    std::fprintf(stderr, "colony broker: cannot start worker '%s': %s\n", name.c_str(), claimed.error().message.c_str());
    return RequestOutcome::refused(claimed.error().code, "cannot start " + worker_name + ": " + claimed.error().message);
  }
  const auto [slot, generation] = *claimed;
  MailboxControl& control = worker.box.control();
  tree_.track_named(name, LaunchRequest{slot, generation, worker.spec.executable, worker.spec.arguments,
                                        worker.spec.working_directory});
  worker.running = NamedWorker::Process{slot, control.kills.load(std::memory_order_acquire), false};
  control.starts.fetch_add(1, std::memory_order_relaxed);
  control.current_session_started_ns.store(map_->header().broker_started_unix_ns, std::memory_order_relaxed);
  control.current_generation.store(generation, std::memory_order_relaxed);
  control.current_slot.store(slot, std::memory_order_release);
  if (tree_.queue_if_at_cap(slot)) return RequestOutcome::done(worker_name + " waits for a place under the running cap");
  // For the kill-to-replacement figure (colony ps, the benchmark): when the
  // spawn began, stored before it. Stored after, a broker thread preempted
  // once the spawn returned would leave the previous time in place while the
  // new process already answers calls (a caller would see a replacement
  // older than the death it replaced).
  const std::uint64_t previous_replaced_ns = control.replaced_ns.load(std::memory_order_relaxed);
  control.replaced_ns.store(static_cast<std::uint64_t>(Clock::now().time_since_epoch().count()),
                            std::memory_order_relaxed);
  const auto error = tree_.spawn(slot);
  if (error) {
    control.replaced_ns.store(previous_replaced_ns, std::memory_order_relaxed);  // nothing replaced it
    std::fprintf(stderr, "colony broker: cannot start worker '%s': %s\n", name.c_str(), error->message.c_str());
    // A start that failed is a failure like a crash: on_finished decides.
    tree_.fail_start(slot, error->message);
    return RequestOutcome::refused(cannot_execute(*error) ? WorkerErrc::no_such_executable : WorkerErrc::os_error,
                                   "cannot start " + worker_name + ": " + error->message);
  }
  return RequestOutcome::done(worker_name + " started");
}

RequestOutcome NamedWorkers::restart(const std::string& name) {
  const auto found = workers_.find(name);
  if (found == workers_.end()) {
    return RequestOutcome::refused(WorkerErrc::not_found, "no worker named '" + name + "' in session '" + session_ + "'");
  }
  found->second.supervision.reset();
  found->second.box.control().supervision.store(static_cast<std::uint32_t>(SupervisionState::normal));
  return ensure_running(name);
}

RequestOutcome NamedWorkers::terminate(const std::string& name) {
  const auto found = workers_.find(name);
  if (found == workers_.end()) {
    return RequestOutcome::refused(WorkerErrc::not_found, "no worker named '" + name + "' in session '" + session_ + "'");
  }
  if (!found->second.running) return RequestOutcome::done("worker '" + name + "' runs no process");
  tree_.terminate_subtree(found->second.running->slot);
  return RequestOutcome::done("worker '" + name + "' terminated");
}

void NamedWorkers::on_finished(const ProcessTree::NamedFinished& finished) {
  const auto found = workers_.find(finished.name);
  if (found == workers_.end()) return;
  NamedWorker& worker = found->second;
  const std::optional<NamedWorker::Process> process = worker.running;
  worker.running.reset();
  MailboxControl& control = worker.box.control();
  NamedEnd end;
  end.exit = finished.exit;
  end.pid = finished.pid;
  end.noticed_ns = finished.noticed_ns;
  end.stderr_tail = finished.stderr_tail;
  if (process) {
    end.handler_timed_out = process->handler_timed_out;
    end.killed = control.kills.load(std::memory_order_acquire) != process->kills_at_start;
  }
  // Its process is dead and the next is not started yet: a call in flight
  // now is one this process took.
  end.in_handler = control.in_flight.load(std::memory_order_acquire) != 0 &&
                   Clock::time_point{Clock::duration(control.in_flight_since_ns.load())} >= finished.spawned_at;
  // Then the depth below: a caller that posted and then saw this process
  // still current asked for no start (Caller's needs_start); the fence
  // makes the depth include its call.
  control.current_slot.store(0, std::memory_order_seq_cst);
  std::atomic_thread_fence(std::memory_order_seq_cst);
  control.last_exit_kind.store(end.exit.kind, std::memory_order_relaxed);
  control.last_exit_code.store(end.exit.code, std::memory_order_relaxed);
  control.last_exit_signal.store(end.exit.signal, std::memory_order_relaxed);
  if (tree_.ending()) return;
  // A start that failed is a failure like a crash: retried with back-off,
  // and given up past the intensity.
  using Next = NamedSupervision::Next;
  const Next next = worker.supervision.on_end(end, worker.box.depth() > 0, control, Clock::now());
  if (next == Next::start_now) (void)ensure_running(finished.name);
}

void NamedWorkers::tick(Clock::time_point now) {
  if (tree_.ending()) return;
  // A handler past its timeout is killed; its end counts as a crash, and its
  // call is delivered again (toward the dead-letter limit).
  for (auto& [name, worker] : workers_) {
    const auto timeout = worker.supervision.options().handler_timeout;
    if (!worker.running || timeout.count() == 0 || worker.running->handler_timed_out) continue;
    const Managed* process = tree_.find(worker.running->slot);
    if (process == nullptr || !process->alive) continue;
    const MailboxControl& control = worker.box.control();
    if (control.in_flight.load(std::memory_order_acquire) == 0) continue;
    const Clock::time_point since{Clock::duration(control.in_flight_since_ns.load(std::memory_order_relaxed))};
    // A call its predecessor died in: this process has not taken it yet.
    if (since < process->spawned_at) continue;
    if (now - since < timeout) continue;
    worker.running->handler_timed_out = true;
    tree_.kill(worker.running->slot);
  }
  // Restarts whose back-off has passed.
  for (auto& [name, worker] : workers_) {
    const auto at = worker.supervision.restart_at();
    if (!at || *at > now) continue;
    worker.supervision.restart_due();
    MailboxControl& control = worker.box.control();
    control.supervision.store(static_cast<std::uint32_t>(SupervisionState::normal), std::memory_order_release);
    // Killed while it waited out its back-off: no restart, unless calls
    // came in after the kill.
    const bool killed_since = control.kills.load(std::memory_order_acquire) != worker.supervision.kills_when_planned();
    if (killed_since && worker.box.depth() == 0) continue;
    (void)ensure_running(name);
  }
}

NamedWorkers::Clock::time_point NamedWorkers::next_timer(Clock::time_point now) const {
  auto next = Clock::time_point::max();
  if (tree_.ending()) return next;
  for (const auto& [name, worker] : workers_) {
    if (const auto at = worker.supervision.restart_at()) next = std::min(next, *at);
    const auto timeout = worker.supervision.options().handler_timeout;
    if (timeout.count() > 0 && worker.running) {
      next = std::min(next, now + std::clamp<Clock::duration>(timeout / 4, std::chrono::milliseconds(5),
                                                               std::chrono::milliseconds(100)));
    }
  }
  return next;
}

}  // namespace colony::broker_detail
