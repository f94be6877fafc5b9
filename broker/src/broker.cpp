// The public Broker: builds the pieces of a session and hands requests from
// this process's threads to the broker's loop. The work is done elsewhere:
//   session_bootstrap  the session's segments, created, taken over, removed
//   broker_loop        the broker's thread: requests, internal queue, timers
//   internal_queue     requests from this process's own threads
//   process_tree       worker processes, the launch queue, termination
//   plain_io, plain_pumps  a plain executable's standard input and output
//   event_outbox       events to workers, bounded
//   named_workers      named workers and their supervision
//   launcher, pipes    the platform layer (linux/)
#include "colony/broker/broker.hpp"

#include <filesystem>
#include <future>
#include <thread>

#include "broker_loop.hpp"
#include "event_outbox.hpp"
#include "internal_queue.hpp"
#include "launcher.hpp"
#include "named_supervision.hpp"
#include "named_workers.hpp"
#include "process_tree.hpp"
#include "session_bootstrap.hpp"

namespace colony {
namespace {

// How long a definition or restart from this process waits for the loop's
// answer: the loop answers at its next turn and never waits on shared memory.
constexpr auto kAnswerDeadline = std::chrono::seconds(10);

// The loop's answer, or why none came: it did not come in time, or the loop
// ended and dropped the request (a broken promise).
template <class Answer>
Answer await_answer(std::future<Answer>& answered, const std::string& what) {
  const std::string late = "the broker did not answer " + what + " within " + std::to_string(kAnswerDeadline.count()) + " s";
  if (answered.wait_for(kAnswerDeadline) != std::future_status::ready) throw WorkerError(WorkerErrc::session_gone, late);
  try {
    return answered.get();
  } catch (const std::future_error&) {
    throw WorkerError(WorkerErrc::session_gone, "the broker stopped before it answered " + what);
  }
}

}  // namespace

struct Broker::Impl {
  BrokerOptions options;
  broker_detail::SessionBootstrap bootstrap;
  std::unique_ptr<broker_detail::InternalQueue> internal;
  std::unique_ptr<broker_detail::EventOutbox> outbox;
  std::unique_ptr<broker_detail::ProcessTree> tree;
  std::unique_ptr<broker_detail::NamedWorkers> named;
  std::unique_ptr<broker_detail::BrokerLoop> loop;
  std::unique_ptr<broker_detail::Reaper> reaper;
  std::thread thread;
  bool stopped = false;

  void start() {
    bootstrap.create(options);
    internal = std::make_unique<broker_detail::InternalQueue>(bootstrap.requests_ring());
    outbox = std::make_unique<broker_detail::EventOutbox>(bootstrap.map(), options.limits.max_undelivered_events);
    tree = std::make_unique<broker_detail::ProcessTree>(bootstrap.session(), bootstrap.map(), options.limits, *outbox);
    named = std::make_unique<broker_detail::NamedWorkers>(bootstrap.session(), bootstrap.map(), *tree);
    tree->on_named_finished([named = named.get()](const broker_detail::ProcessTree::NamedFinished& finished) {
      named->on_finished(finished);
    });
    loop = std::make_unique<broker_detail::BrokerLoop>(*bootstrap.map(), bootstrap.requests(), *internal, *tree,
                                                       *named, *outbox, options.limits);
    reaper = std::make_unique<broker_detail::Reaper>([queue = internal.get()](const broker_detail::ProcessEnd& end) {
      using detail::ExitKind;
      queue->post(detail::ChildEnded{end.pid,
                                     static_cast<std::uint32_t>(end.token >> 32),
                                     static_cast<std::uint32_t>(end.token),
                                     static_cast<std::uint32_t>(end.signaled ? ExitKind::signaled : ExitKind::exited),
                                     end.code,
                                     end.signal,
                                     end.known,
                                     end.noticed_ns,
                                     end.stderr_tail});
    });
    tree->set_reaper(reaper.get());
    thread = std::thread([loop = loop.get()] {
      broker_detail::name_this_thread("colony-broker");
      loop->run();
    });
  }
};

Broker::Broker(BrokerOptions options) : impl_(std::make_unique<Impl>()) {
  impl_->options = std::move(options);
  try {
    impl_->start();
  } catch (...) {
    impl_->bootstrap.uninstall_host_context();
    impl_->bootstrap.remove_own_segments();
    throw;
  }
}

Broker::~Broker() { stop(); }

const std::string& Broker::session() const noexcept { return impl_->bootstrap.session(); }

Worker& Broker::host() { return impl_->bootstrap.host_context().facade(); }

void Broker::define_named_worker(const std::string& name, const std::string& executable,
                                 std::vector<std::string> arguments, std::uint32_t max_attempts) {
  NamedWorkerOptions options;
  options.max_attempts = max_attempts;
  define_named_worker(name, executable, std::move(arguments), options);
}

std::string Broker::restart_named_worker(const std::string& name) {
  auto answer = std::make_shared<std::promise<broker_detail::RequestOutcome>>();
  auto answered = answer->get_future();
  impl_->internal->post(broker_detail::InternalQueue::RestartCall{name, std::move(answer)});
  broker_detail::RequestOutcome outcome = await_answer(answered, "the restart of worker '" + name + "'");
  if (!outcome.ok) throw WorkerError(outcome.code, outcome.message);
  return std::move(outcome.message);
}

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
  impl_->internal->post(broker_detail::InternalQueue::DefineCall{
      broker_detail::with_options(detail::DefineNamed{name, executable, std::move(arguments), max_attempts,
                                                      std::filesystem::current_path(ignored).string()},
                                  options),
      std::move(answer)});
  if (const std::string why = await_answer(answered, "the definition of worker '" + name + "'"); !why.empty()) {
    throw WorkerError(WorkerErrc::bad_state, "cannot define worker '" + name + "': " + why);
  }
}

void Broker::request_stop() noexcept { impl_->internal->post_stop(); }

void Broker::wait_until_stopped() {
  if (impl_->thread.joinable()) impl_->thread.join();
}

void Broker::stop() {
  if (impl_->stopped) return;
  impl_->stopped = true;
  request_stop();
  if (impl_->thread.joinable()) impl_->thread.join();
  impl_->reaper.reset();
  impl_->bootstrap.uninstall_host_context();
  impl_->bootstrap.remove_session_segments();
}

}  // namespace colony
