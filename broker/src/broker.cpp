#include "colony/broker/broker.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <filesystem>
#include <future>
#include <tuple>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>
#include <unordered_map>
#include <variant>

#include "colony/broker/clean.hpp"
#include "colony/shm/process.hpp"
#include "colony/session/context.hpp"
#include "colony/worker/mailbox.hpp"
#include "launcher.hpp"
#include "named_supervision.hpp"
#include "plain_pumps.hpp"

extern char** environ;

namespace colony {
namespace {

using namespace detail;
using broker_detail::ProcessEnd;
using broker_detail::Spawned;
using Clock = shm::Clock;

// Requests are small (a launch carries its arguments); reserved at creation.
constexpr std::size_t kRequestRingCapacity = 512 << 10;
constexpr std::size_t kRequestMaxMessage = 128 << 10;
constexpr auto kEventRetry = std::chrono::milliseconds(5);
constexpr auto kKillWait = std::chrono::seconds(3);
// The broker's loop answers a definition at its next turn; it never waits on shared memory.
constexpr auto kDefineDeadline = std::chrono::seconds(10);

std::string random_session_name() {
  std::random_device device;
  std::uniform_int_distribution<unsigned> digit(0, 35);
  std::string name = "s";
  for (int i = 0; i < 10; ++i) {
    const unsigned d = digit(device);
    name += static_cast<char>(d < 10 ? '0' + d : 'a' + (d - 10));
  }
  return name;
}

std::uint64_t unix_ns() {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch()).count());
}

// The pipes and channels of a plain executable, from before its spawn until
// the pumps own what they need.
struct PlainIo {
  std::shared_ptr<ChannelCore> input;
  std::shared_ptr<ChannelCore> output;
  int child_stdin = -1;
  int child_stdout = -1;
  int feed_fd = -1;
  int publish_fd = -1;

  PlainIo() = default;
  PlainIo(const PlainIo&) = delete;
  PlainIo& operator=(const PlainIo&) = delete;
  ~PlainIo() {
    close_child_ends();
    for (int fd : {feed_fd, publish_fd}) {
      if (fd >= 0) ::close(fd);
    }
  }
  void close_child_ends() {
    for (int* fd : {&child_stdin, &child_stdout}) {
      if (*fd >= 0) ::close(*fd);
      *fd = -1;
    }
  }
};

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
  Clock::time_point attach_deadline{};
  std::vector<std::uint32_t> children;  // slots, removed when they are finalized
  std::optional<ChildExit> exit;        // set when the process ended (or never ran)
  LaunchRequest launch;                 // kept while queued
  std::string named;                    // the worker name it serves, if it is a named worker
  std::uint32_t kills_at_start = 0;     // its mailbox's KILL WORKER count when it started
  bool handler_timed_out = false;       // killed by the broker: a handler ran past its timeout
  std::uint64_t noticed_ns = 0;         // when the reaper saw its end (steady clock)
  Clock::time_point spawned_at{};
  std::string stderr_tail;              // a named worker's last stderr lines
  std::unique_ptr<broker_detail::PlainPumps> pumps;  // a plain executable's standard input and output
  std::optional<shm::Ring> events_ring;
  std::optional<shm::TypedWriter> events;
  std::deque<BrokerEvent> undelivered;  // the events ring was full
};

}  // namespace

struct Broker::Impl {
  BrokerOptions options;
  std::string session;
  std::shared_ptr<SessionMap> map;
  std::optional<shm::Ring> requests_ring;
  std::optional<shm::RingReader> requests;
  // Requests from this process's own threads (the reaper, stop, define,
  // restart) go through an in-process queue, not through the request ring:
  // a process that holds the ring's claim lock and is stopped, or a lock word
  // someone overwrote, must not keep the broker from learning of deaths or
  // from stopping. Posting sets internal_pending, then wakes the loop's sleep
  // on the ring (Ring::wake_reader). A definition is answered through its
  // promise: empty once the name is registered, else why it is not.
  struct DefineCall {
    DefineNamed definition;
    std::shared_ptr<std::promise<std::string>> answer;
  };
  using InternalRequest = std::variant<ChildEnded, DefineCall, RestartNamed>;
  std::mutex internal_mutex;
  std::deque<InternalRequest> internal_queue;
  std::atomic<bool> stop_requested{false};
  std::atomic<bool> internal_pending{false};
  std::shared_ptr<Context> host_context;
  std::unique_ptr<broker_detail::Reaper> reaper;
  std::thread thread;
  bool stopped = false;
  std::vector<std::string> existing_before_start;  // what a failed start must leave

  // Broker-thread state.
  std::map<std::uint32_t, Managed> workers;
  std::deque<std::uint32_t> launch_queue;
  std::map<std::string, DefineNamed> named_specs;
  std::map<std::string, Mailbox> named_boxes;
  std::map<std::string, std::uint32_t> named_running;  // name -> slot of its live process
  std::map<std::string, broker_detail::NamedSupervision> supervisors;
  std::uint32_t running = 0;
  bool ending = false;
  Clock::time_point grace_deadline{};
  Clock::time_point hard_deadline{};

  // --- setup --------------------------------------------------------------

  void create_session() {
    if (broker_detail::children_are_auto_reaped()) {
      throw WorkerError(WorkerErrc::bad_state,
                        "SIGCHLD is ignored (or SA_NOCLDWAIT set) in this process: the kernel would reap the "
                        "workers and the broker could not learn how they end; restore SIGCHLD's default first");
    }
    session = options.session.empty() ? random_session_name() : options.session;
    if (auto valid = shm::validate_name(session, "session", shm::kMaxSessionLength); !valid) {
      throw WorkerError(WorkerErrc::bad_state, valid.error().message);
    }
    existing_before_start = shm::Segment::list(shm::SegmentName::session_prefix(session));
    // Only a session that is provably dead is taken over; anything we cannot
    // prove ours and dead is refused and left as it is.
    const SessionCheck check = check_session(session);
    switch (check.verdict) {
      case SessionVerdict::live:
        throw WorkerError(WorkerErrc::bad_state, "session '" + session + "' is already run by a live broker" +
                                                     (check.broker.pid > 0 ? " (pid " + std::to_string(check.broker.pid) + ")"
                                                                           : std::string()));
      case SessionVerdict::foreign:
        throw WorkerError(WorkerErrc::bad_state, "session '" + session + "' is not accessible to this user: " + check.reason);
      case SessionVerdict::unverifiable:
        throw WorkerError(WorkerErrc::bad_state, "session '" + session + "' cannot be started: " + check.reason +
                                                     "; `colony clean --force --session " + session +
                                                     "` removes it once no process of it runs");
      case SessionVerdict::dead:
      case SessionVerdict::no_control: break;
    }
    // A dead broker's session: its mailboxes stay, for us to go on with.
    const auto taken_over = take_over_dead_session(session);
    if (!taken_over.kept.empty()) {
      std::fprintf(stderr, "colony broker: session '%s' was left by a dead broker: taking over %zu mailbox segments\n",
                   session.c_str(), taken_over.kept.size());
    }

    auto control_name = shm::SegmentName::make(session, shm::SegmentKind::control, kSessionControl);
    auto segment = shm::Segment::create(*control_name, kSessionDataSize);
    if (!segment) throw WorkerError(WorkerErrc::os_error, "cannot create the session: " + segment.error().message);
    auto& header = *reinterpret_cast<SessionHeader*>(segment->control());
    header.magic = kSessionMagic;
    header.version = kSessionVersion;
    header.slot_count = kMaxWorkerSlots;
    const shm::ProcessIdentity self = shm::current_identity();
    header.broker_pid.store(self.pid);
    header.broker_start = self.start;
    header.state.store(static_cast<std::uint32_t>(SessionState::starting));
    header.broker_started_unix_ns = unix_ns();
    header.max_running = options.limits.max_running;
    header.over_cap_policy = options.limits.over_cap == BrokerLimits::OverCap::fail ? 1 : 0;
    header.max_message = options.limits.max_message;
    header.channel_capacity = options.limits.channel_capacity;
    header.attach_timeout_ms = static_cast<std::uint32_t>(options.limits.attach_timeout.count());
    // After a take-over, calls of the dead session still name their reply
    // rings by id: ours go on from its next id, with a margin.
    header.next_object_id.store(taken_over.kept.empty() ? 1 : taken_over.next_object_id + (1u << 20));
    header.next_fresh_slot.store(1);
    // Slot 0 is the host: this process.
    auto& host = *reinterpret_cast<WorkerSlot*>(segment->data());
    host.pid.store(shm::current_pid());
    host.state_word.store(pack_state(1, SlotState::running));
    segment->mark_ready();
    map = SessionMap::adopt(std::move(*segment));

    shm::RingOptions ring_options;
    ring_options.capacity = kRequestRingCapacity;
    ring_options.max_message = kRequestMaxMessage;
    ring_options.variant = shm::RingVariant::many_writers;
    auto ring = shm::Ring::create(map->name(shm::SegmentKind::ring, kBrokerRing), ring_options);
    if (!ring) throw WorkerError(WorkerErrc::os_error, "cannot create the broker ring: " + ring.error().message);
    requests_ring.emplace(std::move(*ring));
    auto reader = shm::RingReader::attach(*requests_ring);
    if (!reader) throw WorkerError(WorkerErrc::os_error, reader.error().message);
    requests.emplace(std::move(*reader));

    create_worker_segments(*map, kHostSlot, 1);
    Managed host_entry;
    host_entry.slot = kHostSlot;
    host_entry.generation = 1;
    host_entry.alive = false;  // not a process of ours
    host_entry.online = true;
    workers.emplace(kHostSlot, std::move(host_entry));
    host_context = Context::create_host(map);
    install_host_context(host_context);
  }

  // From any thread of this process; never blocks on shared memory.
  void post_internal(InternalRequest request) {
    {
      std::lock_guard lock(internal_mutex);
      internal_queue.push_back(std::move(request));
    }
    wake_loop();
  }

  // Allocation-free, for request_stop (noexcept) and signal-waiting threads.
  void post_stop() noexcept {
    stop_requested.store(true, std::memory_order_release);
    wake_loop();
  }

  void wake_loop() noexcept {
    // Flag first, then the bump of the ring's signal that the loop sleeps on
    // (see RingReader::receive with an interrupt).
    internal_pending.store(true, std::memory_order_seq_cst);
    requests_ring->wake_reader();
  }

  void handle_internal() {
    if (!internal_pending.load(std::memory_order_acquire)) return;
    std::deque<InternalRequest> pending;
    {
      std::lock_guard lock(internal_mutex);
      // Cleared under the lock, before we take the queue: a request posted
      // after this sets it again and is handled on the next turn.
      internal_pending.store(false, std::memory_order_relaxed);
      pending.swap(internal_queue);
    }
    if (stop_requested.exchange(false, std::memory_order_acq_rel)) begin_stop();
    for (const auto& request : pending) {
      try {
        std::visit([this](const auto& r) { handle_internal_request(r); }, request);
      } catch (const std::exception& e) {
        std::fprintf(stderr, "colony broker: %s\n", e.what());
      }
    }
  }

  void handle_internal_request(const ChildEnded& ended) { on_process_end(ended); }
  void handle_internal_request(const DefineCall& call) {
    std::string why;
    try {
      why = on_define_named(call.definition);
    } catch (const std::exception& e) {
      why = e.what();
    }
    call.answer->set_value(std::move(why));
  }
  void handle_internal_request(const RestartNamed& restart) { on_restart_named(restart.name); }

  // --- events to workers ------------------------------------------------------

  void post_event(std::uint32_t slot, BrokerEvent event) {
    const auto found = workers.find(slot);
    if (found == workers.end()) return;  // the addressee is gone: nobody to tell
    Managed& to = found->second;
    to.undelivered.push_back(std::move(event));
    flush_events(to);
  }

  void flush_events(Managed& to) {
    if (!to.events) {
      auto ring = shm::Ring::open(map->name(shm::SegmentKind::ring, worker_object(to.slot, to.generation, kEventsSuffix)),
                                  shm::Deadline::after(std::chrono::seconds(1)));
      if (!ring) {
        to.undelivered.clear();
        return;
      }
      to.events_ring.emplace(std::move(*ring));
      auto writer = shm::RingWriter::attach(*to.events_ring);
      if (!writer) {
        to.events_ring.reset();
        to.undelivered.clear();
        return;
      }
      to.events.emplace(std::move(*writer));
    }
    bool sent = false;
    while (!to.undelivered.empty()) {
      const auto status = std::visit([&](const auto& e) { return to.events->try_send(e); }, to.undelivered.front());
      if (status == shm::RingStatus::full) break;  // retried on the next turn of the loop
      to.undelivered.pop_front();
      sent = sent || status == shm::RingStatus::ok;
    }
    if (sent) map->ring_doorbell(to.slot);
  }

  // --- launching ----------------------------------------------------------------

  std::vector<std::string> worker_environment(const Managed& worker) const {
    std::vector<std::string> environment;
    for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
      const std::string_view variable(*entry);
      if (variable.starts_with("COLONY_SESSION=") || variable.starts_with("COLONY_WORKER=") ||
          variable.starts_with("COLONY_BROKER_PID=") || variable.starts_with("COLONY_WORKER_NAME=")) {
        continue;
      }
      environment.emplace_back(variable);
    }
    environment.push_back(std::string(kSessionEnv) + "=" + session);
    environment.push_back(std::string(kWorkerEnv) + "=" + std::to_string(worker.slot) + "." +
                          std::to_string(worker.generation));
    environment.push_back(std::string(kBrokerPidEnv) + "=" + std::to_string(shm::current_pid()));
    if (!worker.named.empty()) environment.push_back(std::string(kWorkerNameEnv) + "=" + worker.named);
    return environment;
  }

  void refuse(const LaunchRequest& request, std::uint32_t parent, LaunchRefusal why, const std::string& error) {
    post_event(parent, LaunchResult{request.slot, request.generation, false, static_cast<std::uint32_t>(why), error});
  }

  void on_launch(const LaunchRequest& request) {
    if (request.slot == kHostSlot || request.slot >= kMaxWorkerSlots) return;
    WorkerSlot& record = map->slot(request.slot);
    const std::uint32_t parent = record.parent_slot.load();
    const std::uint64_t word = record.state_word.load(std::memory_order_acquire);
    if (generation_of(word) != request.generation || state_of(word) != SlotState::created) {
      refuse(request, parent, LaunchRefusal::bad_state, "the worker is not in state new");
      return;
    }
    const auto parent_entry = workers.find(parent);
    if (ending || parent_entry == workers.end() || parent_entry->second.terminating ||
        parent_entry->second.generation != record.parent_generation.load()) {
      refuse(request, parent, LaunchRefusal::bad_state, ending ? "the session is ending" : "its parent is ending");
      discard_unlaunched(request.slot, request.generation);
      return;
    }
    if (running >= options.limits.max_running && options.limits.over_cap == BrokerLimits::OverCap::fail) {
      refuse(request, parent, LaunchRefusal::worker_cap,
             "the session already runs " + std::to_string(running) + " workers, its cap (max_running " +
                 std::to_string(options.limits.max_running) + ")");
      discard_unlaunched(request.slot, request.generation);
      return;
    }
    Managed worker;
    worker.slot = request.slot;
    worker.generation = request.generation;
    worker.parent = parent;
    worker.launch = request;
    workers.emplace(request.slot, std::move(worker));
    parent_entry->second.children.push_back(request.slot);
    if (running >= options.limits.max_running) {
      record.state_word.store(pack_state(request.generation, SlotState::queued), std::memory_order_release);
      launch_queue.push_back(request.slot);
      post_event(parent, LaunchResult{request.slot, request.generation, true, 0, {}});
      return;
    }
    if (auto error = spawn(workers.at(request.slot))) {
      const bool missing = error->find("No such file") != std::string::npos ||
                           error->find("Permission denied") != std::string::npos;
      refuse(request, parent, missing ? LaunchRefusal::no_such_executable : LaunchRefusal::os_error, *error);
      forget_unspawned(request.slot);
      return;
    }
    post_event(parent, LaunchResult{request.slot, request.generation, true, 0, {}});
  }

  // Opens a plain executable's channels and makes its pipes (close-on-exec:
  // the spawn's dup2 onto 0 and 1 is what the child keeps).
  std::optional<std::string> prepare_plain_io(const Managed& worker, PlainIo& io) {
    const auto open_channel = [&](std::uint64_t id) -> std::shared_ptr<ChannelCore> {
      auto ring = shm::Ring::open(map->name(shm::SegmentKind::ring, "ch" + std::to_string(id)),
                                  shm::Deadline::after(std::chrono::seconds(1)));
      if (!ring) return nullptr;
      return std::make_shared<ChannelCore>(map, std::move(*ring), id);
    };
    int pipe_fds[2];
    if (worker.launch.stdin_channel != 0) {
      io.input = open_channel(worker.launch.stdin_channel);
      if (!io.input) return "its input channel " + std::to_string(worker.launch.stdin_channel) + " does not exist";
      try {
        io.input->bind_receiver(worker.slot, worker.generation);
      } catch (const std::exception& e) {
        return std::string("its input channel: ") + e.what();
      }
      if (::pipe2(pipe_fds, O_CLOEXEC) != 0) return "pipe2 failed";
      io.child_stdin = pipe_fds[0];
      io.feed_fd = pipe_fds[1];
    } else {
      io.child_stdin = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    }
    if (worker.launch.stdout_channel != 0) {
      io.output = open_channel(worker.launch.stdout_channel);
      if (!io.output) return "its output channel " + std::to_string(worker.launch.stdout_channel) + " does not exist";
      io.output->set_sender(worker.slot, worker.generation);
      if (::pipe2(pipe_fds, O_CLOEXEC) != 0) return "pipe2 failed";
      io.child_stdout = pipe_fds[1];
      io.publish_fd = pipe_fds[0];
    }
    return std::nullopt;
  }

  // Spawns a tracked worker; returns the error when it could not.
  std::optional<std::string> spawn(Managed& worker) {
    WorkerSlot& record = map->slot(worker.slot);
    // Published before the process exists, so the worker finds its slot
    // `starting` when it attaches.
    record.state_word.store(pack_state(worker.generation, SlotState::starting), std::memory_order_release);
    PlainIo io;
    if (worker.launch.plain) {
      if (auto error = prepare_plain_io(worker, io)) {
        record.state_word.store(pack_state(worker.generation, SlotState::created), std::memory_order_release);
        return error;
      }
    }
    // A named worker's standard error goes through the reaper, which keeps
    // its tail for the crash report (and copies it to ours).
    int stderr_pipe[2] = {-1, -1};
    // Taken before the process exists: whatever it does comes after.
    const Clock::time_point spawn_started = Clock::now();
    if (!worker.named.empty() && ::pipe2(stderr_pipe, O_CLOEXEC) != 0) stderr_pipe[0] = stderr_pipe[1] = -1;
    auto spawned = broker_detail::spawn_process(worker.launch.executable, worker.launch.arguments,
                                                worker_environment(worker), worker.launch.working_directory,
                                                io.child_stdin, io.child_stdout, stderr_pipe[1]);
    io.close_child_ends();
    if (stderr_pipe[1] >= 0) ::close(stderr_pipe[1]);
    if (!spawned && stderr_pipe[0] >= 0) ::close(stderr_pipe[0]);
    if (!spawned) {
      record.state_word.store(pack_state(worker.generation, SlotState::created), std::memory_order_release);
      return spawned.error().message;
    }
    if (worker.launch.plain) {
      worker.pumps = std::make_unique<broker_detail::PlainPumps>(io.input, io.feed_fd, io.output, io.publish_fd,
                                                                 worker.launch.chunks);
      io.feed_fd = io.publish_fd = -1;  // the pumps own them now
      // It will never attach: it is online as soon as it runs.
      worker.online = true;
      record.state_word.store(pack_state(worker.generation, SlotState::running), std::memory_order_release);
      post_event(worker.parent, ChildOnline{worker.slot, worker.generation, spawned->pid});
    }
    worker.process = *spawned;
    worker.spawned_at = spawn_started;
    worker.alive = true;
    worker.attach_deadline = Clock::now() + options.limits.attach_timeout;
    record.pid.store(spawned->pid, std::memory_order_release);
    record.started_unix_ns.store(unix_ns(), std::memory_order_relaxed);
    ++running;
    map->header().running_workers.store(running, std::memory_order_relaxed);
    reaper->watch(worker.process, (std::uint64_t{worker.slot} << 32) | worker.generation, stderr_pipe[0]);
    return std::nullopt;
  }

  // A launch that never ran: forget it and its segments; the parent was told.
  void forget_unspawned(std::uint32_t slot) {
    const auto found = workers.find(slot);
    if (found == workers.end()) return;
    const std::uint32_t generation = found->second.generation;
    detach_from_parent(found->second);
    workers.erase(found);
    discard_unlaunched(slot, generation);
  }

  void discard_unlaunched(std::uint32_t slot, std::uint32_t generation) {
    remove_worker_segments(*map, slot, generation);
    map->slot(slot).exit_kind.store(static_cast<std::uint32_t>(ExitKind::failed_to_start));
    release_slot(slot, generation);
  }

  // The slot's last store: from here a creator may claim it again. The owner
  // fields are cleared first, so that no scan of ours matches a stale owner
  // while the next creator is filling them in.
  void release_slot(std::uint32_t slot, std::uint32_t generation) {
    WorkerSlot& record = map->slot(slot);
    record.parent_slot.store(0, std::memory_order_relaxed);
    record.parent_generation.store(0, std::memory_order_relaxed);
    record.creator_pid.store(0, std::memory_order_relaxed);
    record.state_word.store(pack_state(generation, SlotState::terminated), std::memory_order_release);
  }

  void launch_queued() {
    while (!launch_queue.empty() && running < options.limits.max_running && !ending) {
      const std::uint32_t slot = launch_queue.front();
      launch_queue.pop_front();
      const auto found = workers.find(slot);
      if (found == workers.end() || found->second.terminating) continue;
      Managed& worker = found->second;
      if (auto error = spawn(worker)) {
        worker.exit = ChildExit{worker.slot, worker.generation, static_cast<std::uint32_t>(ExitKind::failed_to_start),
                                0, 0, false, *error};
        try_finalize(slot);
      }
    }
  }

  // --- named workers ----------------------------------------------------------

  // Returns why the name could not be defined; empty once callers can see it.
  std::string on_define_named(const DefineNamed& definition) {
    if (definition.name.empty() || definition.name.size() >= sizeof(ObjectEntry::name)) return "the name is too long";
    try {
      named_boxes.emplace(definition.name,
                          Mailbox::open_or_create(session, definition.name, MailboxOptions{1 << 20, definition.max_attempts}));
    } catch (const std::exception& e) {
      return std::string("cannot make its mailbox: ") + e.what();
    }
    // The box may be older than this definition (a redefinition, a session
    // taken over from a dead broker): its K is this definition's from now on.
    named_boxes.at(definition.name).control().max_attempts.store(definition.max_attempts, std::memory_order_relaxed);
    const bool known = named_specs.contains(definition.name);
    named_specs.insert_or_assign(definition.name, definition);
    if (const auto found = supervisors.find(definition.name); found != supervisors.end()) {
      found->second.set_options(broker_detail::options_of(definition));
    } else {
      // A mailbox taken over from a dead broker still names its processes.
      MailboxControl& control = named_boxes.at(definition.name).control();
      control.current_slot.store(0, std::memory_order_release);
      control.supervision.store(static_cast<std::uint32_t>(SupervisionState::normal), std::memory_order_relaxed);
      std::optional<CrashLog> log;
      try {
        log = CrashLog::create(session, definition.name);
      } catch (const std::exception& e) {
        std::fprintf(stderr, "colony broker: no crash log for '%s': %s\n", definition.name.c_str(), e.what());
      }
      supervisors.emplace(definition.name, broker_detail::NamedSupervision(
                                               definition.name, broker_detail::options_of(definition), std::move(log)));
    }
    // Publishing point: callers find the name from here on.
    if (!known) (void)map->register_entry(kNamedWorkerEntryKind, definition.name, kHostSlot, 1);
    if (named_boxes.at(definition.name).depth() > 0) launch_named(definition.name);
    return {};
  }

  // Starts the named worker's process unless one runs, supervision gave it
  // up, or it waits out a back-off; a child of the host.
  void launch_named(const std::string& name) {
    if (ending || named_running.contains(name)) return;
    const auto spec = named_specs.find(name);
    if (spec == named_specs.end()) return;
    const auto supervisor = supervisors.find(name);
    if (supervisor != supervisors.end() && (supervisor->second.given_up() || supervisor->second.restart_at())) return;
    std::uint32_t slot = 0;
    std::uint32_t generation = 0;
    try {
      std::tie(slot, generation) = make_worker_slot(*map, kHostSlot, 1, spec->second.executable);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "colony broker: cannot start worker '%s': %s\n", name.c_str(), e.what());
      return;
    }
    Managed worker;
    worker.slot = slot;
    worker.generation = generation;
    worker.parent = kHostSlot;
    worker.named = name;
    worker.kills_at_start = named_boxes.at(name).control().kills.load(std::memory_order_acquire);
    worker.launch = LaunchRequest{slot, generation, spec->second.executable, spec->second.arguments,
                                  spec->second.working_directory};
    workers.emplace(slot, std::move(worker));
    workers.at(kHostSlot).children.push_back(slot);
    named_running[name] = slot;
    MailboxControl& control = named_boxes.at(name).control();
    control.starts.fetch_add(1, std::memory_order_relaxed);
    control.current_generation.store(generation, std::memory_order_relaxed);
    control.current_slot.store(slot, std::memory_order_release);
    if (running >= options.limits.max_running) {
      map->slot(slot).state_word.store(pack_state(generation, SlotState::queued), std::memory_order_release);
      launch_queue.push_back(slot);
      return;
    }
    const Clock::time_point spawn_started = Clock::now();
    const auto error = spawn(workers.at(slot));
    // For the kill-to-replacement figure (colony ps, the benchmark): when the
    // spawn began. Read after it returns, a preempted broker thread could
    // record a time after the new process had already answered a call.
    control.replaced_ns.store(static_cast<std::uint64_t>(spawn_started.time_since_epoch().count()),
                              std::memory_order_relaxed);
    if (error) {
      std::fprintf(stderr, "colony broker: cannot start worker '%s': %s\n", name.c_str(), error->c_str());
      workers.at(slot).exit = ChildExit{slot, generation, static_cast<std::uint32_t>(ExitKind::failed_to_start), 0, 0,
                                        false, *error};
      try_finalize(slot);
    }
  }

  // --- lifecycle ---------------------------------------------------------------

  void on_online(const OnlineNotice& notice) {
    const auto found = workers.find(notice.slot);
    if (found == workers.end() || found->second.generation != notice.generation || !found->second.alive) return;
    Managed& worker = found->second;
    worker.online = true;
    std::uint64_t expected = pack_state(worker.generation, SlotState::starting);
    map->slot(worker.slot).state_word.compare_exchange_strong(expected, pack_state(worker.generation, SlotState::running));
    post_event(worker.parent, ChildOnline{worker.slot, worker.generation, notice.pid});
  }

  void on_terminate(const TerminateRequest& request) {
    const auto found = workers.find(request.slot);
    if (found == workers.end()) {
      // Created but never started: nothing runs; end it here.
      WorkerSlot& record = map->slot(request.slot);
      const std::uint64_t word = record.state_word.load(std::memory_order_acquire);
      if (request.slot != kHostSlot && request.slot < kMaxWorkerSlots && generation_of(word) == request.generation &&
          state_of(word) == SlotState::created) {
        const std::uint32_t parent = record.parent_slot.load();
        discard_unlaunched(request.slot, request.generation);
        post_event(parent, ChildExit{request.slot, request.generation, static_cast<std::uint32_t>(ExitKind::failed_to_start),
                                     0, 0, true, "terminated before it started"});
      }
      return;
    }
    if (found->second.generation != request.generation) return;
    terminate_subtree(request.slot);
  }

  void terminate_subtree(std::uint32_t slot) {
    const auto found = workers.find(slot);
    if (found == workers.end()) return;
    Managed& worker = found->second;
    if (!worker.terminating) {
      worker.terminating = true;
      if (worker.alive) {
        map->slot(slot).state_word.store(pack_state(worker.generation, SlotState::terminating), std::memory_order_release);
      }
    }
    const auto children = worker.children;
    for (const std::uint32_t child : children) terminate_subtree(child);
    advance(slot);
  }

  // Moves a terminating worker on: kill it once its children are gone;
  // finalize it once it is dead too.
  void advance(std::uint32_t slot) {
    const auto found = workers.find(slot);
    if (found == workers.end() || slot == kHostSlot) return;
    Managed& worker = found->second;
    if (worker.terminating && worker.children.empty()) {
      if (worker.alive && !worker.kill_sent) {
        worker.kill_sent = broker_detail::signal_process(worker.process, SIGKILL);
      } else if (!worker.alive && !worker.exit) {
        // Queued, never spawned.
        launch_queue.erase(std::remove(launch_queue.begin(), launch_queue.end(), slot), launch_queue.end());
        worker.exit = ChildExit{worker.slot, worker.generation, static_cast<std::uint32_t>(ExitKind::failed_to_start),
                                0, 0, true, "terminated before it started"};
      }
    }
    try_finalize(slot);
  }

  void on_process_end(const ChildEnded& ended) {
    const std::uint32_t slot = ended.slot;
    const auto found = workers.find(slot);
    if (found == workers.end() || found->second.generation != ended.generation || !found->second.alive) return;
    Managed& worker = found->second;
    worker.alive = false;
    worker.noticed_ns = ended.noticed_ns;
    worker.stderr_tail = ended.stderr_tail;
    broker_detail::release_process(worker.process);
    if (worker.pumps) worker.pumps->process_ended();
    --running;
    map->header().running_workers.store(running, std::memory_order_relaxed);
    ChildExit exit{worker.slot, worker.generation, ended.kind, ended.code, ended.signal, worker.terminating, {}};
    if (!ended.known) {
      exit.reason = "reaped by another part of the host process: its exit status is unknown";
      exit.code = -1;
    }
    if (worker.missed_attach) {
      exit.kind = static_cast<std::uint32_t>(ExitKind::not_attached);
      exit.reason = "did not attach to the session within " + std::to_string(options.limits.attach_timeout.count()) +
                    " ms (not a Colony worker?)";
    }
    worker.exit = exit;
    WorkerSlot& record = map->slot(slot);
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
    // receiver's doorbell: ring them all, so nobody sleeps on a message.
    for (const auto& [index, entry] : workers) map->ring_doorbell(index);
  }

  void discard_slots_created_by(int pid) {
    for (std::uint32_t index = 1; index < kMaxWorkerSlots; ++index) {
      WorkerSlot& record = map->slot(index);
      const std::uint64_t word = record.state_word.load(std::memory_order_acquire);
      const SlotState state = state_of(word);
      if (record.creator_pid.load() != pid || workers.contains(index)) continue;
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

  void detach_from_parent(const Managed& worker) {
    const auto parent = workers.find(worker.parent);
    if (parent == workers.end()) return;
    auto& siblings = parent->second.children;
    siblings.erase(std::remove(siblings.begin(), siblings.end(), worker.slot), siblings.end());
  }

  // A worker is terminated when its process has ended and its children are
  // terminated: only then is its parent told, and its segments removed.
  void try_finalize(std::uint32_t slot) {
    const auto found = workers.find(slot);
    if (found == workers.end() || slot == kHostSlot) return;
    Managed& worker = found->second;
    if (worker.alive || !worker.exit || !worker.children.empty()) return;
    // A plain executable's output is all in its channel before its end is told.
    if (worker.pumps && !worker.pumps->output_done()) return;
    worker.pumps.reset();
    const ChildExit exit = *worker.exit;
    const std::uint32_t parent = worker.parent;
    // Children it created but never started go with it.
    for (std::uint32_t index = 1; index < kMaxWorkerSlots; ++index) {
      WorkerSlot& record = map->slot(index);
      const std::uint64_t word = record.state_word.load(std::memory_order_acquire);
      const SlotState state = state_of(word);
      if ((state == SlotState::created || state == SlotState::reserved) && record.parent_slot.load() == slot &&
          record.parent_generation.load() == worker.generation) {
        discard_unlaunched(index, generation_of(word));
      }
    }
    detach_from_parent(worker);
    remove_worker_segments(*map, slot, worker.generation);
    release_slot(slot, worker.generation);
    const std::string named = worker.named;
    broker_detail::NamedEnd end;
    if (!named.empty()) {
      end.exit = exit;
      end.pid = worker.process.pid;
      end.handler_timed_out = worker.handler_timed_out;
      end.noticed_ns = worker.noticed_ns;
      end.stderr_tail = worker.stderr_tail;
      if (const auto box = named_boxes.find(named); box != named_boxes.end()) {
        const MailboxControl& control = box->second.control();
        end.killed = control.kills.load(std::memory_order_acquire) != worker.kills_at_start;
        // Taken before the next process can take a call: this one's, if any.
        end.in_handler = control.in_flight.load(std::memory_order_acquire) != 0 &&
                         Clock::time_point{Clock::duration(control.in_flight_since_ns.load())} >= worker.spawned_at;
      }
    }
    workers.erase(found);
    post_event(parent, exit);
    advance(parent);
    if (!named.empty()) on_named_end(named, end);
  }

  // Supervision: what follows the end of a named worker's process.
  void on_named_end(const std::string& name, const broker_detail::NamedEnd& end) {
    named_running.erase(name);
    const auto box = named_boxes.find(name);
    const auto supervisor = supervisors.find(name);
    if (box == named_boxes.end() || supervisor == supervisors.end()) return;
    MailboxControl& control = box->second.control();
    control.current_slot.store(0, std::memory_order_release);
    control.last_exit_kind.store(end.exit.kind, std::memory_order_relaxed);
    control.last_exit_code.store(end.exit.code, std::memory_order_relaxed);
    control.last_exit_signal.store(end.exit.signal, std::memory_order_relaxed);
    if (ending) return;
    // A start that failed is a failure like a crash: retried with back-off,
    // and given up past the intensity.
    using Next = broker_detail::NamedSupervision::Next;
    const Next next = supervisor->second.on_end(end, box->second.depth() > 0, control, Clock::now());
    if (next == Next::start_now) launch_named(name);
  }

  // Restarts whose back-off has passed.
  void start_due_restarts(Clock::time_point now) {
    for (auto& [name, supervisor] : supervisors) {
      if (const auto at = supervisor.restart_at(); at && *at <= now) {
        supervisor.restart_due();
        const auto box = named_boxes.find(name);
        if (box == named_boxes.end()) continue;
        MailboxControl& control = box->second.control();
        control.supervision.store(static_cast<std::uint32_t>(SupervisionState::normal), std::memory_order_release);
        // Killed while it waited out its back-off: no restart, unless calls
        // came in after the kill.
        const bool killed_since = control.kills.load(std::memory_order_acquire) != supervisor.kills_when_planned();
        if (killed_since && box->second.depth() == 0) continue;
        launch_named(name);
      }
    }
  }

  // A handler past its timeout is killed; its end counts as a crash, and its
  // call is delivered again (toward the dead-letter limit).
  void kill_overdue_handlers(Clock::time_point now) {
    for (const auto& [name, slot] : named_running) {
      const auto supervisor = supervisors.find(name);
      if (supervisor == supervisors.end() || supervisor->second.options().handler_timeout.count() == 0) continue;
      const auto found = workers.find(slot);
      if (found == workers.end() || !found->second.alive || found->second.handler_timed_out) continue;
      const MailboxControl& control = named_boxes.at(name).control();
      if (control.in_flight.load(std::memory_order_acquire) == 0) continue;
      const Clock::time_point since{Clock::duration(control.in_flight_since_ns.load(std::memory_order_relaxed))};
      // A call its predecessor died in: this process has not taken it yet.
      if (since < found->second.spawned_at) continue;
      if (now - since < supervisor->second.options().handler_timeout) continue;
      found->second.handler_timed_out = true;
      found->second.kill_sent = broker_detail::signal_process(found->second.process, SIGKILL);
    }
  }

  // When the broker must look again: a back-off ends, or a handler with a
  // timeout may run past it (checked a few times per timeout).
  Clock::time_point next_supervision_timer(Clock::time_point now) const {
    auto next = Clock::time_point::max();
    for (const auto& [name, supervisor] : supervisors) {
      if (const auto at = supervisor.restart_at()) next = std::min(next, *at);
      const auto timeout = supervisor.options().handler_timeout;
      if (timeout.count() > 0 && named_running.contains(name)) {
        next = std::min(next, now + std::clamp<Clock::duration>(timeout / 4, std::chrono::milliseconds(5),
                                                                 std::chrono::milliseconds(100)));
      }
    }
    return next;
  }

  void check_attach_deadlines(Clock::time_point now) {
    for (auto& [slot, worker] : workers) {
      if (worker.alive && !worker.online && !worker.missed_attach && now >= worker.attach_deadline) {
        worker.missed_attach = true;
        worker.kill_sent = broker_detail::signal_process(worker.process, SIGKILL);
      }
    }
  }

  // --- the session's end ----------------------------------------------------------

  void begin_stop() {
    if (ending) return;
    ending = true;
    map->header().state.store(static_cast<std::uint32_t>(SessionState::ending));
    // Queued, never to start: their parents hear of it now.
    const std::deque<std::uint32_t> queued = launch_queue;
    for (const std::uint32_t slot : queued) {
      if (auto found = workers.find(slot); found != workers.end()) {
        found->second.terminating = true;
        advance(slot);
      }
    }
    for (auto& [slot, worker] : workers) {
      if (worker.alive) {
        worker.terminating = true;
        broker_detail::signal_process(worker.process, SIGTERM);
      }
    }
    grace_deadline = Clock::now() + options.limits.stop_grace;
    hard_deadline = grace_deadline + kKillWait;
  }

  bool any_alive() const {
    for (const auto& [slot, worker] : workers) {
      if (worker.alive) return true;
    }
    return false;
  }

  // A process has ended but its exit is not told yet: a plain executable's
  // output is still draining into its channel. The session's end waits for
  // it (up to the hard deadline), or its parent would never hear the exit.
  bool any_exit_untold() const {
    for (const auto& [slot, worker] : workers) {
      if (!worker.alive && worker.exit) return true;
    }
    return false;
  }

  // --- the loop ---------------------------------------------------------------------

  void handle(const shm::RecordView& record) {
    const auto tag = record.type_tag;
    if (tag == shm::TypeAlias<LaunchRequest>::tag) {
      if (auto r = shm::decode_record<LaunchRequest>(record); r.ok()) on_launch(*r.value);
    } else if (tag == shm::TypeAlias<TerminateRequest>::tag) {
      if (auto r = shm::decode_record<TerminateRequest>(record); r.ok()) on_terminate(*r.value);
    } else if (tag == shm::TypeAlias<OnlineNotice>::tag) {
      if (auto r = shm::decode_record<OnlineNotice>(record); r.ok()) on_online(*r.value);
    } else if (tag == shm::TypeAlias<StopRequest>::tag) {
      begin_stop();
    } else if (tag == shm::TypeAlias<EnsureNamed>::tag) {
      if (auto r = shm::decode_record<EnsureNamed>(record); r.ok()) launch_named(r.value->name);
    } else if (tag == shm::TypeAlias<RestartNamed>::tag) {
      if (auto r = shm::decode_record<RestartNamed>(record); r.ok()) on_restart_named(r.value->name);
    } else if (tag == shm::TypeAlias<TerminateNamed>::tag) {
      if (auto r = shm::decode_record<TerminateNamed>(record); r.ok()) {
        if (const auto running_slot = named_running.find(r.value->name); running_slot != named_running.end()) {
          terminate_subtree(running_slot->second);
        }
      }
    }
    // Anything else is not for us: dropped (deaths and definitions come from
    // this process only, never through the ring). Requests come from
    // processes of this user only (segments are 0600), but a bad record must
    // not stop the broker.
  }

  void on_restart_named(const std::string& name) {
    const auto supervisor = supervisors.find(name);
    if (supervisor == supervisors.end()) return;
    supervisor->second.reset();
    if (const auto box = named_boxes.find(name); box != named_boxes.end()) {
      box->second.control().supervision.store(static_cast<std::uint32_t>(SupervisionState::normal));
    }
    launch_named(name);
  }

  Clock::time_point next_timer() const {
    auto next = Clock::time_point::max();
    for (const auto& [slot, worker] : workers) {
      if (worker.alive && !worker.online && !worker.missed_attach) next = std::min(next, worker.attach_deadline);
      if (!worker.undelivered.empty() || (!worker.alive && worker.pumps)) next = std::min(next, Clock::now() + kEventRetry);
    }
    if (ending) next = std::min(next, any_alive() && Clock::now() < grace_deadline ? grace_deadline : hard_deadline);
    if (!ending) next = std::min(next, next_supervision_timer(Clock::now()));
    return next;
  }

  void loop() {
    map->header().state.store(static_cast<std::uint32_t>(SessionState::running));
    for (;;) {
      // Returns at once while an internal request is pending (handled below,
      // before the checks of this turn, so that a stop ends the loop now).
      const shm::Received received = requests->receive(shm::Deadline::at(next_timer()), internal_pending);
      if (received.ok()) {
        try {
          handle(received.record);
        } catch (const std::exception& e) {
          std::fprintf(stderr, "colony broker: %s\n", e.what());
        }
        requests->commit();
      } else if (received.status == shm::RingStatus::corrupt) {
        if (!ending) std::fprintf(stderr, "colony broker: the request ring is corrupt; stopping the session\n");
        begin_stop();
        // No more requests can be read: only deaths matter now, and those
        // we wait for without spinning on the broken ring.
        std::this_thread::sleep_for(kEventRetry);
      }
      handle_internal();
      const auto now = Clock::now();
      check_attach_deadlines(now);
      if (!ending) {
        kill_overdue_handlers(now);
        start_due_restarts(now);
      }
      for (auto& [slot, worker] : workers) {
        if (!worker.undelivered.empty()) flush_events(worker);
      }
      std::vector<std::uint32_t> draining;
      for (const auto& [slot, worker] : workers) {
        if (!worker.alive && worker.pumps && worker.pumps->output_done()) draining.push_back(slot);
      }
      for (const std::uint32_t slot : draining) try_finalize(slot);
      if (ending) {
        if (!any_alive() && !any_exit_untold()) break;
        if (now >= grace_deadline) {
          for (auto& [slot, worker] : workers) {
            if (worker.alive && !worker.kill_sent) worker.kill_sent = broker_detail::signal_process(worker.process, SIGKILL);
            // Output nobody reads any more must not hold the exit back.
            if (worker.pumps) worker.pumps->stop();
          }
        }
        if (now >= hard_deadline) break;  // unkillable (D state): give up waiting, never hang
      }
    }
  }

  // At the end: every segment of the session that validates as ours and was
  // made by us or by a process that is gone (our workers). What cannot be
  // validated (a name squatted under our prefix) is not ours to remove.
  void remove_session_segments() {
    for (const auto& left : colony::remove_session_segments(session, shm::current_identity(), true)) {
      std::fprintf(stderr, "colony broker: left %s: %s\n", left.name.c_str(), left.reason.c_str());
    }
  }

  // A start that failed removes only what this start made: names that were
  // not there before it began and that validate as made by this process.
  void remove_own_segments() noexcept {
    try {
      const auto before = std::set<std::string>(existing_before_start.begin(), existing_before_start.end());
      for (const auto& name : shm::Segment::list(shm::SegmentName::session_prefix(session))) {
        if (before.contains(name)) continue;
        const auto parsed = shm::SegmentName::parse(name);
        if (!parsed) continue;
        auto segment = shm::Segment::open(*parsed, shm::Deadline::now());
        if (segment && segment->creator() == shm::current_identity()) (void)shm::Segment::remove_os_name(name.c_str());
      }
    } catch (...) {
    }
  }
};

Broker::Broker(BrokerOptions options) : impl_(std::make_unique<Impl>()) {
  impl_->options = std::move(options);
  try {
    impl_->create_session();
    impl_->reaper = std::make_unique<broker_detail::Reaper>([impl = impl_.get()](const ProcessEnd& end) {
      ChildEnded ended{end.pid,
                       static_cast<std::uint32_t>(end.token >> 32),
                       static_cast<std::uint32_t>(end.token),
                       static_cast<std::uint32_t>(end.signaled ? ExitKind::signaled : ExitKind::exited),
                       end.code,
                       end.signal,
                       end.known,
                       end.noticed_ns,
                       end.stderr_tail};
      impl->post_internal(ended);
    });
    impl_->thread = std::thread([impl = impl_.get()] { impl->loop(); });
  } catch (...) {
    install_host_context(nullptr);
    impl_->host_context.reset();
    if (!impl_->session.empty()) impl_->remove_own_segments();
    throw;
  }
}

Broker::~Broker() { stop(); }

const std::string& Broker::session() const noexcept { return impl_->session; }

Worker& Broker::host() { return impl_->host_context->facade(); }

void Broker::define_named_worker(const std::string& name, const std::string& executable,
                                 std::vector<std::string> arguments, std::uint32_t max_attempts) {
  NamedWorkerOptions options;
  options.max_attempts = max_attempts;
  define_named_worker(name, executable, std::move(arguments), options);
}

void Broker::restart_named_worker(const std::string& name) { impl_->post_internal(detail::RestartNamed{name}); }

void Broker::define_named_worker(const std::string& name, const std::string& executable,
                                 std::vector<std::string> arguments, const NamedWorkerOptions& options) {
  const std::uint32_t max_attempts = options.max_attempts;
  if (name.empty() || name.size() >= sizeof(detail::ObjectEntry::name)) {
    throw WorkerError(WorkerErrc::bad_state, "a worker name must have 1 to " +
                                                 std::to_string(sizeof(detail::ObjectEntry::name) - 1) + " characters");
  }
  if (max_attempts == 0) throw WorkerError(WorkerErrc::bad_state, "max_attempts must be at least 1");
  std::error_code ignored;
  if (options.max_restarts == 0 && options.restart != RestartPolicy::never) {
    throw WorkerError(WorkerErrc::bad_state, "max_restarts must be at least 1 (or the policy never)");
  }
  auto answer = std::make_shared<std::promise<std::string>>();
  auto answered = answer->get_future();
  impl_->post_internal(Impl::DefineCall{
      broker_detail::with_options(detail::DefineNamed{name, executable, std::move(arguments), max_attempts,
                                                      std::filesystem::current_path(ignored).string()},
                                  options),
      std::move(answer)});
  if (answered.wait_for(kDefineDeadline) != std::future_status::ready) {
    throw WorkerError(WorkerErrc::session_gone, "the broker did not register worker '" + name + "' within " +
                                                    std::to_string(kDefineDeadline.count()) + " s");
  }
  if (const std::string why = answered.get(); !why.empty()) {
    throw WorkerError(WorkerErrc::bad_state, "cannot define worker '" + name + "': " + why);
  }
}

void Broker::request_stop() noexcept { impl_->post_stop(); }

void Broker::wait_until_stopped() {
  if (impl_->thread.joinable()) impl_->thread.join();
}

void Broker::stop() {
  if (impl_->stopped) return;
  impl_->stopped = true;
  request_stop();
  if (impl_->thread.joinable()) impl_->thread.join();
  impl_->reaper.reset();
  install_host_context(nullptr);
  impl_->host_context.reset();
  impl_->remove_session_segments();
}

}  // namespace colony
