// The public faces of the worker API; the work happens in Context.
#include "colony/worker/worker.hpp"

#include <cerrno>

#include "colony/session/context.hpp"

namespace colony {

std::string_view to_string(WorkerState state) noexcept {
  switch (state) {
    case WorkerState::created: return "new";
    case WorkerState::queued: return "queued";
    case WorkerState::starting: return "starting";
    case WorkerState::running: return "running";
    case WorkerState::terminating: return "terminating";
    case WorkerState::terminated: return "terminated";
  }
  return "unknown";
}

namespace {

detail::HandleCore& checked(const std::shared_ptr<detail::HandleCore>& core) {
  if (!core) throw WorkerError(WorkerErrc::bad_state, "empty worker handle");
  return *core;
}

std::shared_ptr<detail::Context> context_of(detail::HandleCore& core) {
  auto context = core.context.lock();
  if (!context) throw WorkerError(WorkerErrc::session_gone, "the worker context of this handle is gone");
  return context;
}

}  // namespace

namespace detail {

void throw_send_failure(const ChannelCore& channel, SendStatus status) {
  WorkerErrc code = WorkerErrc::channel_closed;
  switch (status) {
    case SendStatus::too_large: code = WorkerErrc::message_too_large; break;
    case SendStatus::full:
    case SendStatus::timed_out: code = WorkerErrc::channel_full; break;
    case SendStatus::no_space:
      // /dev/shm is full: an OS condition, told by its errno, not the channel's state.
      throw WorkerError(WorkerErrc::os_error, channel.describe_failure(status, channel.last_send_size), ENOSPC);
    default: break;
  }
  throw WorkerError(code, channel.describe_failure(status, channel.last_send_size));
}

}  // namespace detail

// --- WorkerHandle ---------------------------------------------------------------

std::uint32_t WorkerHandle::slot() const { return checked(core_).slot; }
std::uint32_t WorkerHandle::generation() const { return checked(core_).generation; }
WorkerState WorkerHandle::state() const { return checked(core_).state(); }

int WorkerHandle::pid() const {
  auto& core = checked(core_);
  const auto& record = core.session->slot(core.slot);
  if (detail::generation_of(record.state_word.load(std::memory_order_acquire)) != core.generation) return 0;
  return record.pid.load(std::memory_order_acquire);
}

void WorkerHandle::start() {
  auto& core = checked(core_);
  context_of(core)->start(core);
}

void WorkerHandle::terminate() {
  auto& core = checked(core_);
  context_of(core)->terminate(core);
}

std::optional<ExitStatus> WorkerHandle::join(std::chrono::milliseconds timeout) {
  auto& core = checked(core_);
  if (core.exit) return core.exit;
  return context_of(core)->join(core, shm::Deadline::after(timeout));
}

std::optional<ExitStatus> WorkerHandle::exit_status() const { return checked(core_).exit; }

MessageChannel WorkerHandle::output() const {
  auto& core = checked(core_);
  if (!core.output) throw WorkerError(WorkerErrc::bad_state, "worker " + std::to_string(core.slot) + " is not a plain executable of ours");
  return MessageChannel(core.output);
}

detail::ChannelCore& WorkerHandle::outgoing() {
  auto& core = checked(core_);
  if (!core.parent_view) throw WorkerError(WorkerErrc::bad_state, "only a worker's parent can post to it");
  return *core.to_worker;
}

detail::ChannelCore& WorkerHandle::incoming() {
  auto& core = checked(core_);
  if (!core.parent_view) throw WorkerError(WorkerErrc::bad_state, "only a worker's parent hears its messages");
  return *core.from_worker;
}

detail::PropertyStore& WorkerHandle::properties() { return checked(core_).property_store(); }

void WorkerHandle::check_can_send() const {
  if (checked(core_).exit || core_->state() == WorkerState::terminated) {
    throw WorkerError(WorkerErrc::bad_state, "worker " + std::to_string(core_->slot) + " (" + core_->executable +
                                                 ") has ended");
  }
}

void WorkerHandle::on_online(std::function<void()> handler) { checked(core_).on_online = std::move(handler); }
void WorkerHandle::on_exit(std::function<void(const ExitStatus&)> handler) {
  checked(core_).on_exit = std::move(handler);
}
void WorkerHandle::on_error(std::function<void(const std::string&)> handler) {
  checked(core_).on_error = std::move(handler);
}
void WorkerHandle::on_messageerror(std::function<void(const MessageError&)> handler) {
  checked(core_).on_messageerror = std::move(handler);
}

WorkerHandle WorkerHandle::resolve(std::uint32_t slot, std::uint32_t generation) {
  return detail::Context::current()->resolve_worker(slot, generation);
}

// --- Worker -----------------------------------------------------------------------

Worker& Worker::current() { return detail::Context::current()->facade(); }

bool Worker::in_session() noexcept {
  return detail::Context::current_or_null() != nullptr || std::getenv(detail::kSessionEnv) != nullptr;
}

void Worker::set_host_context(std::shared_ptr<detail::Context> context) {
  detail::install_host_context(std::move(context));
}

const std::string& Worker::session() const { return context_->session().session(); }
std::uint32_t Worker::slot() const { return context_->slot(); }
std::uint32_t Worker::generation() const { return context_->generation(); }
bool Worker::is_host() const { return context_->is_host(); }
WorkerHandle Worker::self() const { return context_->self(); }

WorkerHandle Worker::create(const std::string& executable, std::vector<std::string> arguments) {
  return context_->create_child(executable, std::move(arguments));
}

WorkerHandle Worker::create_plain(const std::string& executable, std::vector<std::string> arguments,
                                  PlainOptions options) {
  return context_->create_plain(executable, std::move(arguments), std::move(options));
}

void Worker::start_all(std::span<WorkerHandle> children) {
  std::vector<detail::HandleCore*> cores;
  cores.reserve(children.size());
  for (WorkerHandle& child : children) cores.push_back(&checked(child.core()));
  context_->start_all(cores);
}

void Worker::on_messageerror(std::function<void(const MessageError&)> handler) {
  context_->on_messageerror = std::move(handler);
}
void Worker::on_error(std::function<void(const std::string&)> handler) { context_->on_error = std::move(handler); }

int Worker::run() { return context_->run(); }
void Worker::stop() noexcept { context_->stop(); }
void Worker::close() { context_->close(); }
bool Worker::dispatch(std::chrono::milliseconds timeout) { return context_->dispatch(shm::Deadline::after(timeout)); }
void Worker::set_spin(std::uint32_t iterations) noexcept { context_->set_spin(iterations); }
std::size_t Worker::max_message() const { return context_->session().header().max_message; }

detail::ChannelCore& Worker::outgoing() { return context_->to_parent(); }
detail::ChannelCore& Worker::incoming() { return context_->from_parent(); }
detail::PropertyStore& Worker::properties() { return context_->own_properties(); }

// --- MessageChannel -------------------------------------------------------------

MessageChannel MessageChannel::create(ChannelOptions options) {
  return MessageChannel(detail::Context::current()->create_channel(options));
}

std::uint64_t MessageChannel::id() const {
  if (!core_) throw WorkerError(WorkerErrc::bad_state, "empty channel handle");
  return core_->id();
}

detail::ChannelCore& MessageChannel::sender_core() {
  if (!core_) throw WorkerError(WorkerErrc::bad_state, "empty channel handle");
  if (!core_->tracked_as_sender) {
    auto context = detail::Context::current();
    core_->set_sender(context->slot(), context->generation());
    context->track_sending(core_);
  }
  return *core_;
}

detail::ChannelCore& MessageChannel::receiver_core() {
  if (!core_) throw WorkerError(WorkerErrc::bad_state, "empty channel handle");
  if (!core_->bound()) {
    auto context = detail::Context::current();
    core_->bind_receiver(context->slot(), context->generation());
    context->track_receiving(core_);
  }
  return *core_;
}

void MessageChannel::on_messageerror(std::function<void(const MessageError&)> handler) {
  if (!core_) throw WorkerError(WorkerErrc::bad_state, "empty channel handle");
  core_->on_messageerror = std::move(handler);
}

ChannelState MessageChannel::state() const { return core_ ? core_->state() : ChannelState::closed; }
std::size_t MessageChannel::available() const { return core_ ? core_->available() : 0; }
std::size_t MessageChannel::capacity() const { return core_ ? core_->ring().capacity() : 0; }
void MessageChannel::close() {
  if (core_) core_->close();
}

void MessageChannel::throw_send_failure(SendStatus status) const { detail::throw_send_failure(*core_, status); }

MessageChannel MessageChannel::resolve(std::uint64_t channel_id) {
  return MessageChannel(detail::Context::current()->resolve_channel(channel_id));
}

}  // namespace colony
