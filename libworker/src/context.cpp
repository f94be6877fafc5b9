#include "colony/session/context.hpp"

#include <cstdio>
#include <filesystem>
#include <cstdlib>
#include <cstring>
#include <mutex>

#include "colony/session/slot_state.hpp"
#include "colony/shm/cpu_relax.hpp"
#include "colony/shm/failpoint.hpp"
#include "colony/shm/process.hpp"
#include "colony/shm/wait_word.hpp"
#include "colony/worker/named.hpp"
#include "parent_death.hpp"

namespace colony::detail {
namespace {

std::mutex g_context_mutex;
std::shared_ptr<Context> g_context;

constexpr auto kBrokerAnswerDeadline = std::chrono::seconds(10);
constexpr int kBatch = 64;  // records taken from one source before looking at the next

std::uint64_t handle_key(std::uint32_t slot, std::uint32_t generation) {
  return (std::uint64_t{slot} << 32) | generation;
}

void print_unhandled(const std::string& what) { std::fprintf(stderr, "colony: %s\n", what.c_str()); }

template <class Function>
void run_handler(Context& context, Function&& function) {
  try {
    function();
  } catch (const std::exception& e) {
    context.report_error(e.what());
  } catch (...) {
    context.report_error("unknown exception");
  }
}

}  // namespace

// --- HandleCore ---------------------------------------------------------

WorkerState HandleCore::state() const {
  if (exit) return WorkerState::terminated;
  return public_state(session->slot(slot).state_word.load(std::memory_order_acquire), generation);
}

PropertyStore& HandleCore::property_store() {
  if (!properties) {
    if (state() == WorkerState::terminated && !parent_view) {
      throw WorkerError(WorkerErrc::not_found, "worker " + std::to_string(slot) + " is terminated");
    }
    const std::string object = worker_object(slot, generation, kPropertiesSuffix);
    properties.emplace(PropertyStore::open(session->name(shm::SegmentKind::bytes, object),
                                           session->name(shm::SegmentKind::mutex, object)));
  }
  return *properties;
}

// --- the process's context ------------------------------------------------

std::shared_ptr<Context> Context::current_or_null() noexcept {
  std::lock_guard lock(g_context_mutex);
  return g_context;
}

std::shared_ptr<Context> Context::current() {
  std::lock_guard lock(g_context_mutex);
  if (!g_context) g_context = attach_from_environment();
  return g_context;
}

void install_host_context(std::shared_ptr<Context> context) {
  std::lock_guard lock(g_context_mutex);
  g_context = std::move(context);
}

Context::Context(std::shared_ptr<SessionMap> session, std::uint32_t slot, std::uint32_t generation)
    : session_(std::move(session)), slot_(slot), generation_(generation) {}

Context::~Context() = default;

std::shared_ptr<Context> Context::attach_from_environment() {
  const char* session = std::getenv(kSessionEnv);
  const char* worker = std::getenv(kWorkerEnv);
  const char* broker = std::getenv(kBrokerPidEnv);
  if (session == nullptr || worker == nullptr || broker == nullptr) {
    throw WorkerError(WorkerErrc::not_a_worker,
                      "this process was not started by a Colony broker (COLONY_SESSION is not set); "
                      "start it with `colony run` or from a worker");
  }
  unsigned slot = 0, generation = 0;
  int broker_pid = 0;
  if (std::sscanf(worker, "%u.%u", &slot, &generation) != 2 || slot == kHostSlot || slot >= kMaxWorkerSlots ||
      std::sscanf(broker, "%d", &broker_pid) != 1) {
    throw WorkerError(WorkerErrc::not_a_worker, std::string("malformed ") + kWorkerEnv + " '" + worker + "'");
  }
  // From here on this process dies with the broker. Checked after arming: a
  // broker that died before this line is caught by the parent-pid check.
  COLONY_FAILPOINT("context.attach.before_die_with_parent");
  die_with_parent(broker_pid);

  auto map = or_throw(SessionMap::open(session, shm::Deadline::after(detail::kSegmentPublishWait)));
  const std::uint64_t word = map->slot(slot).state_word.load(std::memory_order_acquire);
  if (generation_of(word) != generation || state_of(word) != SlotState::starting) {
    throw WorkerError(WorkerErrc::not_a_worker, "worker slot " + std::to_string(slot) + " of session '" + session +
                                                    "' is not waiting for this process");
  }
  auto context = std::shared_ptr<Context>(new Context(std::move(map), slot, generation));
  context->open_broker_ring();
  context->open_own_segments(false);
  context->post_request(OnlineNotice{slot, generation, shm::current_pid()});
  return context;
}

std::shared_ptr<Context> Context::create_host(std::shared_ptr<SessionMap> session) {
  auto context = std::shared_ptr<Context>(new Context(std::move(session), kHostSlot, 1));
  context->open_broker_ring();
  context->open_own_segments(true);
  return context;
}

void Context::open_broker_ring() { broker_.emplace(or_throw(BrokerLink::open(*session_))); }

std::shared_ptr<ChannelCore> Context::open_channel_ring(const shm::SegmentName& name, std::uint64_t id) {
  auto ring = shm::Ring::open(name, shm::Deadline::after(detail::kSegmentPublishWait));
  if (!ring) throw WorkerError(WorkerErrc::not_found, "cannot open channel: " + ring.error().message);
  return std::make_shared<ChannelCore>(session_, std::move(*ring), id);
}

void Context::open_own_segments(bool host) {
  auto events = shm::Ring::open(session_->name(shm::SegmentKind::ring, worker_object(slot_, generation_, kEventsSuffix)),
                                shm::Deadline::after(detail::kSegmentPublishWait));
  if (!events) throw WorkerError(WorkerErrc::session_gone, "cannot open the events ring: " + events.error().message);
  events_ring_.emplace(std::move(*events));
  auto reader = shm::RingReader::attach(*events_ring_);
  if (!reader) throw WorkerError(WorkerErrc::session_gone, "cannot read the events ring: " + reader.error().message);
  events_reader_.emplace(std::move(*reader));

  const std::string props = worker_object(slot_, generation_, kPropertiesSuffix);
  own_properties_.emplace(PropertyStore::open(session_->name(shm::SegmentKind::bytes, props),
                                              session_->name(shm::SegmentKind::mutex, props)));
  if (host) return;
  from_parent_ = open_channel_ring(
      session_->name(shm::SegmentKind::ring, worker_object(slot_, generation_, kToWorkerSuffix)), 0);
  from_parent_->bind_receiver(slot_, generation_);
  to_parent_ = open_channel_ring(
      session_->name(shm::SegmentKind::ring, worker_object(slot_, generation_, kToParentSuffix)), 0);
  to_parent_->set_sender(slot_, generation_);
  // Both directions of the default pair report to the worker's own handler.
  const auto forward = [this](const MessageError& error) {
    if (on_messageerror) {
      on_messageerror(error);
    } else {
      print_unhandled("messageerror: " + error.message);
    }
  };
  from_parent_->on_messageerror = forward;
  to_parent_->on_messageerror = forward;
}

void Context::post_request(const auto& request) {
  or_throw(broker_->post(request, shm::Deadline::after(kBrokerAnswerDeadline)));
}

ChannelCore& Context::to_parent() {
  if (!to_parent_) throw WorkerError(WorkerErrc::bad_state, "the host process has no parent to post to");
  return *to_parent_;
}

ChannelCore& Context::from_parent() {
  if (!from_parent_) throw WorkerError(WorkerErrc::bad_state, "the host process has no parent to hear from");
  return *from_parent_;
}

WorkerHandle Context::self() { return resolve_worker(slot_, generation_); }

// --- children ---------------------------------------------------------------

WorkerHandle Context::create_child(const std::string& executable, std::vector<std::string> arguments) {
  const auto [slot, generation] = or_throw(make_worker_slot(*session_, slot_, generation_, executable));

  auto core = std::make_shared<HandleCore>();
  core->context = weak_from_this();
  core->session = session_;
  core->slot = slot;
  core->generation = generation;
  core->parent_view = true;
  core->executable = executable;
  core->arguments = std::move(arguments);
  wire_parent_view(*core);
  children_.push_back(core);
  handles_[handle_key(slot, generation)] = core;
  return WorkerHandle(core);
}

WorkerHandle Context::create_plain(const std::string& executable, std::vector<std::string> arguments,
                                  PlainOptions options) {
  WorkerHandle handle = create_child(executable, std::move(arguments));
  auto& core = *handle.core();
  core.plain = true;
  core.chunks = options.chunks;
  if (options.input.valid()) core.stdin_channel = options.input.id();
  core.output = create_channel(options.output);
  return handle;
}

void Context::wire_parent_view(HandleCore& core) {
  core.to_worker = open_channel_ring(
      session_->name(shm::SegmentKind::ring, worker_object(core.slot, core.generation, kToWorkerSuffix)), 0);
  core.to_worker->set_sender(slot_, generation_);
  core.to_worker->set_receiver(core.slot, core.generation);
  core.from_worker = open_channel_ring(
      session_->name(shm::SegmentKind::ring, worker_object(core.slot, core.generation, kToParentSuffix)), 0);
  core.from_worker->bind_receiver(slot_, generation_);
  HandleCore* raw = &core;  // the channels live inside core: the pointer cannot outlive it
  core.from_worker->internal_tag = shm::TypeAlias<ErrorReport>::tag;
  core.from_worker->internal_handler = [raw](const shm::RecordView& record) {
    auto decoded = shm::decode_record<ErrorReport>(record);
    if (decoded.ok()) {
      if (raw->on_error) {
        raw->on_error(decoded.value->message);
      } else {
        print_unhandled("worker " + std::to_string(raw->slot) + " (" + raw->executable +
                        ") reported an error: " + decoded.value->message);
      }
    }
    return static_cast<shm::ReceiveInfo>(decoded);
  };
  const auto forward = [raw](const MessageError& error) {
    if (raw->on_messageerror) {
      raw->on_messageerror(error);
    } else {
      print_unhandled("messageerror with worker " + std::to_string(raw->slot) + ": " + error.message);
    }
  };
  core.from_worker->on_messageerror = forward;
  core.to_worker->on_messageerror = forward;
}

void Context::remove_child(const HandleCore& child) {
  std::erase_if(children_, [&](const auto& core) { return core.get() == &child; });
}

std::shared_ptr<HandleCore> Context::child_core(std::uint32_t slot, std::uint32_t generation) {
  for (const auto& child : children_) {
    if (child->slot == slot && child->generation == generation) return child;
  }
  return nullptr;
}

void Context::check_startable(const HandleCore& child) const {
  if (!child.parent_view || child.context.lock().get() != this) {
    throw WorkerError(WorkerErrc::bad_state, "only a worker's parent can start it");
  }
  if (child.start_requested) {
    throw WorkerError(WorkerErrc::bad_state, "worker " + std::to_string(child.slot) + " was already started");
  }
  if (auto problem = why_cannot_execute(child.executable)) {
    throw WorkerError(WorkerErrc::no_such_executable, "cannot start '" + child.executable + "': " + *problem);
  }
}

void Context::request_launch(HandleCore& child) {
  std::error_code ignored;
  LaunchRequest request{child.slot, child.generation, child.executable, child.arguments,
                        std::filesystem::current_path(ignored).string()};
  request.plain = child.plain;
  request.stdin_channel = child.stdin_channel;
  request.stdout_channel = child.output ? child.output->id() : 0;
  request.chunks = child.chunks;
  post_request(request);
  // Only once posted: a request that could not be sent leaves the handle
  // startable, in state created.
  child.start_requested = true;
}

void Context::await_launch(HandleCore& child) {
  const auto result = wait_for_launch_result(child, shm::Deadline::after(kBrokerAnswerDeadline));
  if (!result) throw WorkerError(WorkerErrc::session_gone, "the broker did not answer a launch request");
  if (result->accepted) return;
  ExitStatus failed;
  failed.kind = ExitStatus::Kind::failed_to_start;
  failed.reason = result->error;
  child.exit = failed;
  remove_child(child);
  const auto refusal = static_cast<LaunchRefusal>(result->refusal);
  const WorkerErrc code = refusal == LaunchRefusal::worker_cap           ? WorkerErrc::worker_cap
                          : refusal == LaunchRefusal::no_such_executable ? WorkerErrc::no_such_executable
                          : refusal == LaunchRefusal::bad_state          ? WorkerErrc::bad_state
                                                                         : WorkerErrc::os_error;
  throw WorkerError(code, "cannot start '" + child.executable + "': " + result->error);
}

void Context::start(HandleCore& child) {
  check_startable(child);
  request_launch(child);
  await_launch(child);
}

void Context::start_all(const std::vector<HandleCore*>& children) {
  for (const HandleCore* child : children) check_startable(*child);
  for (std::size_t i = 0; i < children.size(); ++i) {
    for (std::size_t j = 0; j < i; ++j) {
      if (children[j] == children[i]) {
        throw WorkerError(WorkerErrc::bad_state, "worker " + std::to_string(children[i]->slot) + " is listed twice");
      }
    }
  }
  // Every request first: the broker spawns them back to back while this
  // process waits once, instead of once per worker.
  std::size_t posted = 0;
  std::optional<WorkerError> first_failure;
  try {
    for (HandleCore* child : children) {
      request_launch(*child);
      ++posted;
    }
  } catch (const WorkerError& e) {
    first_failure = e;
  }
  for (std::size_t i = 0; i < posted; ++i) {
    try {
      await_launch(*children[i]);
    } catch (const WorkerError& e) {
      if (!first_failure) first_failure = e;
    }
  }
  if (first_failure) throw *first_failure;
}

// Reads the broker's events into launch_results_ and stashed_ without running
// any handler: start() must not run user code (nor eat messages) while it waits.
void Context::take_broker_events() {
  BrokerEvent event;
  while (read_broker_event(event)) {
    if (const auto* result = std::get_if<LaunchResult>(&event)) {
      launch_results_[handle_key(result->slot, result->generation)] = *result;
    } else {
      stashed_.push_back(std::move(event));
    }
  }
}

std::optional<LaunchResult> Context::wait_for_launch_result(const HandleCore& child, shm::Deadline deadline) {
  const std::uint64_t key = handle_key(child.slot, child.generation);
  auto& word = session_->slot(slot_).doorbell_sleeping;
  for (;;) {
    take_broker_events();
    if (const auto found = launch_results_.find(key); found != launch_results_.end()) {
      LaunchResult result = std::move(found->second);
      launch_results_.erase(found);
      return result;
    }
    if (deadline.expired()) return std::nullopt;
    word.store(1, std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_seq_cst);  // pairs with ring_doorbell
    const auto& events = events_reader_->raw().ring();
    if (events.records_written() == events.records_read() + events_reader_->raw().uncommitted()) {
      (void)shm::wait_while_equal(word, 1, deadline);
    }
    word.store(0, std::memory_order_relaxed);
  }
}

void Context::terminate(HandleCore& child) {
  if (!child.parent_view) throw WorkerError(WorkerErrc::bad_state, "only a worker's parent can terminate it");
  if (child.exit) return;
  post_request(TerminateRequest{child.slot, child.generation});
}

std::optional<ExitStatus> Context::join(HandleCore& child, shm::Deadline deadline) {
  if (!child.parent_view) {
    // Not ours: no exit event comes here; watch the slot.
    while (child.state() != WorkerState::terminated) {
      if (deadline.expired()) return std::nullopt;
      ::usleep(1000);
    }
    const auto& record = session_->slot(child.slot);
    ChildExit exit{child.slot, child.generation, record.exit_kind.load(), record.exit_code.load(),
                   record.exit_signal.load(), false, {}};
    child.exit = exit_status_from(exit);
    return child.exit;
  }
  const auto keep_alive = shared_from_this();
  while (!child.exit) {
    dispatch(deadline);
    // close() from the handler we are nested in ends the wait: the worker ends next.
    if (child.exit || deadline.expired() || close_requested_) break;
  }
  return child.exit;
}

// --- the event loop ---------------------------------------------------------

bool Context::read_broker_event(BrokerEvent& event) {
  const shm::Received received = events_reader_->raw().try_receive();
  if (!received.ok()) return false;
  const auto& record = received.record;
  bool decoded = false;
  if (record.type_tag == shm::TypeAlias<LaunchResult>::tag) {
    auto value = shm::decode_record<LaunchResult>(record);
    if ((decoded = value.ok())) event = std::move(*value.value);
  } else if (record.type_tag == shm::TypeAlias<ChildOnline>::tag) {
    auto value = shm::decode_record<ChildOnline>(record);
    if ((decoded = value.ok())) event = std::move(*value.value);
  } else if (record.type_tag == shm::TypeAlias<ChildExit>::tag) {
    auto value = shm::decode_record<ChildExit>(record);
    if ((decoded = value.ok())) event = std::move(*value.value);
  }
  events_reader_->commit();
  if (!decoded) {
    print_unhandled("ignored an undecodable broker event of type " + shm::TypeRegistry::describe(record.type_tag));
    return read_broker_event(event);
  }
  return true;
}

void Context::drain_children_output(HandleCore& child) {
  // A plain executable's standard output, if read by handler, comes first.
  if (child.output && !child.output->handlers.empty()) {
    for (;;) {
      bool delivered = false;
      run_handler(*this, [&] { delivered = child.output->dispatch_one(child.output->on_messageerror); });
      if (!delivered) break;
    }
  }
  if (!child.from_worker) return;
  const auto report = child.from_worker->on_messageerror;
  for (;;) {
    bool delivered = false;
    run_handler(*this, [&] { delivered = child.from_worker->dispatch_one(report); });
    if (!delivered) break;
  }
}

void Context::handle_event(const BrokerEvent& event) {
  if (const auto* online = std::get_if<ChildOnline>(&event)) {
    if (auto child = child_core(online->slot, online->generation)) {
      child->online = true;
      if (child->on_online) run_handler(*this, [&] { child->on_online(); });
    }
  } else if (const auto* exit = std::get_if<ChildExit>(&event)) {
    if (auto child = child_core(exit->slot, exit->generation)) {
      // What the worker posted before it ended comes before its exit event.
      drain_children_output(*child);
      child->exit = exit_status_from(*exit);
      remove_child(*child);
      if (child->on_exit) run_handler(*this, [&] { child->on_exit(*child->exit); });
    }
  } else if (const auto* result = std::get_if<LaunchResult>(&event)) {
    // Kept for a start() that waits for it; a queued launch that fails
    // later arrives as an exit.
    launch_results_[handle_key(result->slot, result->generation)] = *result;
  }
}

bool Context::dispatch_ready() {
  // Every handler runs inside this: close() from one defers to its end.
  struct Depth {
    int& depth;
    explicit Depth(int& d) : depth(d) { ++depth; }
    ~Depth() { --depth; }
  } depth{handler_depth_};
  bool progress = false;
  const auto stopping = [this] { return stop_requested_ || close_requested_; };
  const auto handle_one = [&](ChannelCore& channel) {
    bool delivered = false;
    run_handler(*this, [&] { delivered = channel.dispatch_one(channel.on_messageerror); });
    return delivered;
  };

  while (!stashed_.empty() && !stopping()) {
    BrokerEvent event = std::move(stashed_.front());
    stashed_.pop_front();
    handle_event(event);
    progress = true;
  }
  BrokerEvent event;
  for (int n = 0; n < kBatch && !stopping() && read_broker_event(event); ++n) {
    handle_event(event);
    progress = true;
  }
  if (work_source_) {
    for (int n = 0; n < kBatch && !stopping() && work_source_(); ++n) progress = true;
  }
  if (from_parent_) {
    for (int n = 0; n < kBatch && !stopping() && handle_one(*from_parent_); ++n) progress = true;
  }
  // By index, holding each child: a handler may create or lose children
  // (a nested dispatch included) while we walk; one may then be visited
  // twice or not at all in this pass, never after it is freed.
  for (std::size_t i = 0; i < children_.size() && !stopping(); ++i) {
    HandleCore* looked_at = children_[i].get();  // no user code runs while we only look
    const bool has_message = looked_at->from_worker->peek();
    auto error = looked_at->to_worker->take_sent_error();
    if (!has_message && !error) continue;
    const std::shared_ptr<HandleCore> child = children_[i];  // held while handlers run
    for (int n = 0; n < kBatch && !stopping() && handle_one(*child->from_worker); ++n) progress = true;
    if (error) {
      run_handler(*this, [&] { child->to_worker->on_messageerror(*error); });
      progress = true;
    }
  }
  for (std::size_t i = 0; i < receiving_.size() && !stopping();) {
    const auto channel = receiving_[i];
    for (int n = 0; n < kBatch && !stopping() && handle_one(*channel); ++n) progress = true;
    if (channel.use_count() <= 2 && channel->state() == ChannelState::closed) {
      // Closed, drained, and no handle left outside: nothing more can come.
      receiving_[i] = receiving_.back();
      receiving_.pop_back();
      continue;
    }
    ++i;
  }
  const auto check_sent = [&](ChannelCore& channel) {
    if (auto error = channel.take_sent_error()) {
      if (channel.on_messageerror) {
        run_handler(*this, [&] { channel.on_messageerror(*error); });
      } else {
        print_unhandled("messageerror on channel " + std::to_string(channel.id()) + ": " + error->message);
      }
      progress = true;
    }
  };
  if (to_parent_) check_sent(*to_parent_);
  for (std::size_t i = 0; i < sending_.size();) {
    auto channel = sending_[i].lock();
    if (!channel) {
      sending_[i] = sending_.back();
      sending_.pop_back();
      continue;
    }
    check_sent(*channel);
    ++i;
  }
  return progress;
}

bool Context::dispatch(shm::Deadline deadline) {
  // A handler may destroy the Broker, and with it the last other owner.
  const auto keep_alive = shared_from_this();
  for (;;) {
    if (dispatch_ready()) break;
    bool found = false;
    for (std::uint32_t spin = 0; spin < spin_iterations_ && !found; ++spin) {
      shm::cpu_relax();
      found = dispatch_ready();
    }
    if (found) break;
    if (deadline.expired()) return false;
    auto& word = session_->slot(slot_).doorbell_sleeping;
    word.store(1, std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_seq_cst);
    found = dispatch_ready();
    if (!found && !stop_requested_ && !close_requested_) (void)shm::wait_while_equal(word, 1, deadline);
    word.store(0, std::memory_order_relaxed);
    if (found) break;
    if (stop_requested_ || close_requested_) break;
  }
  if (close_requested_ && handler_depth_ == 0) finish_close();
  // Outside run(), a stop() from a handler has done its job: this dispatch returned.
  if (!in_run_) stop_requested_ = false;
  return true;
}

int Context::run() {
  const auto keep_alive = shared_from_this();
  stop_requested_ = false;
  in_run_ = true;
  while (!stop_requested_) dispatch(shm::Deadline::never());
  in_run_ = false;
  stop_requested_ = false;
  return 0;
}

void Context::close() {
  if (is_host()) {
    throw WorkerError(WorkerErrc::bad_state, "close() ends a worker; the host ends by destroying its Broker");
  }
  close_requested_ = true;
  if (handler_depth_ == 0) finish_close();
}

void Context::finish_close() {
  // Whatever we posted stays readable: the parent drains it before our exit event.
  if (to_parent_) to_parent_->close();
  std::fflush(nullptr);
  std::exit(0);
}

Worker& Context::facade() {
  if (!facade_) facade_.emplace(std::shared_ptr<Context>(std::shared_ptr<Context>{}, this));
  return *facade_;
}

void Context::report_error(const std::string& message) {
  if (on_error) {
    try {
      on_error(message);
      return;
    } catch (...) {
      print_unhandled("the error handler threw while handling: " + message);
      return;
    }
  }
  if (to_parent_) {
    try {
      if (to_parent_->send(ErrorReport{message}, shm::Deadline::after(std::chrono::seconds(1))) == SendStatus::ok) {
        return;
      }
    } catch (...) {
    }
  }
  print_unhandled("error in a handler: " + message);
}

// --- references ---------------------------------------------------------------

std::shared_ptr<ChannelCore> Context::create_channel(const ChannelOptions& options) {
  const std::size_t capacity = options.capacity != 0 ? options.capacity : session_->header().channel_capacity;
  if (capacity < 4096) throw WorkerError(WorkerErrc::bad_state, "channel capacity must be at least 4096 bytes");
  const std::uint64_t id = session_->header().next_object_id.fetch_add(1, std::memory_order_relaxed);
  shm::RingOptions ring_options;
  ring_options.capacity = capacity;
  ring_options.max_message = std::min(shm::largest_message(capacity), std::size_t{session_->header().max_message});
  auto ring = shm::Ring::create(session_->name(shm::SegmentKind::ring, channel_object(id)), ring_options);
  if (!ring) throw WorkerError(WorkerErrc::os_error, "cannot create a channel: " + ring.error().message);
  auto core = std::make_shared<ChannelCore>(session_, std::move(*ring), id);
  core->options = options;
  core->set_sender(slot_, generation_);
  (void)session_->register_object(shm::SegmentKind::ring, channel_object(id), slot_, generation_);
  channels_[id] = core;
  track_sending(core);
  return core;
}

std::shared_ptr<ChannelCore> Context::resolve_channel(std::uint64_t id) {
  if (auto existing = channels_[id].lock()) return existing;
  auto core = open_channel_ring(session_->name(shm::SegmentKind::ring, channel_object(id)), id);
  channels_[id] = core;
  return core;
}

WorkerHandle Context::resolve_worker(std::uint32_t slot, std::uint32_t generation) {
  if (slot >= kMaxWorkerSlots) throw WorkerError(WorkerErrc::not_found, "worker slot " + std::to_string(slot) + " does not exist");
  if (auto existing = handles_[handle_key(slot, generation)].lock()) return WorkerHandle(existing);
  auto core = std::make_shared<HandleCore>();
  core->context = weak_from_this();
  core->session = session_;
  core->slot = slot;
  core->generation = generation;
  const auto& record = session_->slot(slot);
  core->executable.assign(record.executable, ::strnlen(record.executable, sizeof(record.executable)));
  handles_[handle_key(slot, generation)] = core;
  return WorkerHandle(core);
}

void Context::track_receiving(const std::shared_ptr<ChannelCore>& channel) { receiving_.push_back(channel); }

void Context::track_sending(const std::shared_ptr<ChannelCore>& channel) {
  if (channel->tracked_as_sender) return;
  channel->tracked_as_sender = true;
  sending_.push_back(channel);
}

}  // namespace colony::detail
