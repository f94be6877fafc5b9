#pragma once
// Workers as OS processes (ArkTS workers, AIR workers), the API a worker
// executable links.
//
// In a worker executable:
//
//   int main() {
//     auto& self = colony::Worker::current();          // attaches to the session
//     auto greeting = self.get_shared_property<std::string>("greeting");
//     self.on_message<std::string>([&](std::string text) { self.post_message(greeting + text); });
//     return self.run();                                // the event loop
//   }
//
// In its parent (another worker, or the process hosting the broker):
//
//   auto child = colony::Worker::current().create("./greeter");
//   child.set_shared_property("greeting", std::string("hello, "));
//   child.on_message<std::string>([](std::string reply) { ... });
//   child.on_exit([](const colony::ExitStatus& status) { ... });
//   child.start();
//   child.post_message(std::string("world"));
//
// A Worker context and its handles belong to the thread that uses them, as a
// JavaScript worker's objects belong to its thread: call them from one thread.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "colony/worker/channel.hpp"
#include "colony/worker/errors.hpp"
#include "colony/worker/exit_status.hpp"
#include "colony/worker/properties.hpp"
#include "colony/worker/shared_objects.hpp"

namespace colony {

// new -> (queued) -> starting -> running -> terminating -> terminated
enum class WorkerState { created, queued, starting, running, terminating, terminated };
std::string_view to_string(WorkerState state) noexcept;

namespace detail {
class Context;
struct HandleCore;

// What a worker and a handle to it have in common: a default channel pair
// (outgoing/incoming from the holder's side) and the worker's shared
// properties. Self provides outgoing(), incoming(), properties() and
// check_can_send().
template <class Self>
class WorkerPort {
 public:
  template <shm::RegisteredType T>
  void post_message(const T& value) {
    self().check_can_send();
    auto& channel = self().outgoing();
    const SendStatus status = send_value(channel, value);
    if (status != SendStatus::ok) throw_send_failure(channel, status);
  }
  template <shm::RegisteredType T, class F>
  void on_message(F&& handler) {
    add_handler(self().incoming(), shm::TypeAlias<T>::tag, make_handler<T>(std::forward<F>(handler)));
  }
  // Without the event loop: blocks for the next message (handlers registered
  // with on_message are bypassed).
  template <shm::RegisteredType T>
  shm::TypedReceived<T> receive(std::chrono::milliseconds timeout) {
    return receive_value<T>(self().incoming(), shm::Deadline::after(timeout));
  }

  // Shared properties: copies, settable before start, readable and settable
  // by the worker and by anyone holding a handle to it.
  template <shm::RegisteredType T>
  void set_shared_property(std::string_view key, const T& value) {
    self().properties().set(key, shm::TypeAlias<T>::tag, serialize_value(value));
  }
  template <shm::RegisteredType T>
  T get_shared_property(std::string_view key) {
    return decode_property<T>(key, self().properties().get(key));
  }
  bool has_shared_property(std::string_view key) { return self().properties().get(key).has_value(); }

 private:
  Self& self() { return static_cast<Self&>(*this); }
};
}  // namespace detail

// A plain executable as a worker (`tr`, `gzip`, `python3 -c ...`): the
// broker feeds its standard input from a channel and publishes its standard
// output to a channel.
struct PlainOptions {
  // Feeds its standard input: each std::string is written with a newline
  // (lines), or each std::vector<std::byte> as it is (chunks); closing the
  // channel is end of input. Without one, its standard input is /dev/null.
  MessageChannel input;
  bool chunks = false;  // output as byte chunks (std::vector<std::byte>), not lines (std::string)
  ChannelOptions output;
};

class WorkerHandle : public detail::WorkerPort<WorkerHandle> {
 public:
  WorkerHandle() = default;
  explicit WorkerHandle(std::shared_ptr<detail::HandleCore> core) : core_(std::move(core)) {}

  bool valid() const noexcept { return core_ != nullptr; }
  std::uint32_t slot() const;
  std::uint32_t generation() const;
  WorkerState state() const;
  int pid() const;  // 0 before it runs
  friend bool operator==(const WorkerHandle& a, const WorkerHandle& b) noexcept { return a.core_ == b.core_; }

  // Parent only. Launches the worker; throws WorkerError when the executable
  // does not exist or is not executable, or the cap is reached under the fail
  // policy. Returns once the broker has spawned (or queued) it.
  void start();
  // Parent only. Ends the worker at once (SIGKILL), its children first; the
  // exit event follows once all of them are gone.
  void terminate();
  // Waits (dispatching this process's events meanwhile) until the worker has
  // ended; nullopt if the timeout passes first.
  std::optional<ExitStatus> join(std::chrono::milliseconds timeout);
  std::optional<ExitStatus> exit_status() const;
  // A plain executable's standard output, as its parent receives it: one
  // std::string per line (or a byte chunk), closed after the last one, all
  // of it before the exit event.
  MessageChannel output() const;

  // Parent only: post_message / on_message / receive (from WorkerPort) use
  // the default channel pair (ArkTS postMessage / onmessage).
  void on_online(std::function<void()> handler);
  void on_exit(std::function<void(const ExitStatus&)> handler);
  // An exception escaped one of the worker's handlers; the worker goes on.
  void on_error(std::function<void(const std::string&)> handler);
  // A message between parent and worker could not be handled, on either side.
  void on_messageerror(std::function<void(const MessageError&)> handler);

  // A worker handle is a reference: it serializes as (slot, generation).
  template <class A> void save(A& archive) const { archive(slot(), generation()); }
  template <class A> void load(A& archive) {
    std::uint32_t s = 0, g = 0;
    archive(s, g);
    *this = resolve(s, g);
  }

  const std::shared_ptr<detail::HandleCore>& core() const noexcept { return core_; }

 private:
  friend class detail::WorkerPort<WorkerHandle>;
  static WorkerHandle resolve(std::uint32_t slot, std::uint32_t generation);
  detail::ChannelCore& outgoing();
  detail::ChannelCore& incoming();
  detail::PropertyStore& properties();
  void check_can_send() const;
  std::shared_ptr<detail::HandleCore> core_;
};

class Worker : public detail::WorkerPort<Worker> {
 public:
  // This process's worker context: in a process the broker launched, attaches
  // on first use (from then on the process dies with the broker); in the
  // process hosting a broker, the host context. Throws WorkerError
  // (not_a_worker) anywhere else.
  static Worker& current();
  // True when current() would succeed.
  static bool in_session() noexcept;

  const std::string& session() const;
  std::uint32_t slot() const;
  std::uint32_t generation() const;
  bool is_host() const;
  // A handle to this worker, to pass to others.
  WorkerHandle self() const;

  // A new worker in state created: set its properties and handlers, then start().
  WorkerHandle create(const std::string& executable, std::vector<std::string> arguments = {});
  // The same for a program that knows nothing of Colony (see PlainOptions).
  WorkerHandle create_plain(const std::string& executable, std::vector<std::string> arguments = {},
                            PlainOptions options = {});
  // start() of each of children (this worker's own, created, not started),
  // their launch requests posted together so that the broker spawns them
  // back to back while this process waits once: the way to start many.
  // Every handle is checked before any request leaves, and an
  // error there starts none; a refusal by the broker (the cap under the
  // fail policy) ends that handle as failed_to_start, and the first one is
  // thrown once every request has been answered, the others started. When
  // a request cannot be sent at all (the broker is gone), that error is
  // thrown once the requests sent are answered; the handles from that one
  // on stay in state created.
  void start_all(std::span<WorkerHandle> children);

  // post_message / on_message / receive (from WorkerPort): the default
  // channel pair with the parent. The properties are this worker's own.
  void on_messageerror(std::function<void(const MessageError&)> handler);
  // Errors raised by this process's handlers. By default a worker reports them
  // to its parent (the parent's on_error) and the host prints them to stderr.
  void on_error(std::function<void(const std::string&)> handler);

  // The event loop: waits on all of this worker's channels and events with one
  // kernel wait and dispatches them, until stop() or close(). Returns 0.
  int run();
  // From a handler: run() returns after the current handler.
  void stop() noexcept;
  // The worker ends after the current handler (at once outside a handler),
  // with exit code 0; the parent drains what it posted before, then sees exit.
  void close();
  // Dispatches what is ready, waiting up to timeout for the first event;
  // returns true when something was dispatched. For code that runs its own loop.
  bool dispatch(std::chrono::milliseconds timeout);
  // Spin this many times re-checking before sleeping in the kernel (0: never).
  void set_spin(std::uint32_t iterations) noexcept;

  // The session's limits.
  std::size_t max_message() const;

  explicit Worker(std::shared_ptr<detail::Context> context) : context_(std::move(context)) {}
  detail::Context& context() const noexcept { return *context_; }
  // Installs or clears the host context (used by the broker).
  static void set_host_context(std::shared_ptr<detail::Context> context);

 private:
  friend class detail::WorkerPort<Worker>;
  detail::ChannelCore& outgoing();
  detail::ChannelCore& incoming();
  detail::PropertyStore& properties();
  void check_can_send() const {}
  std::shared_ptr<detail::Context> context_;
};

}  // namespace colony

COLONY_REGISTER_TYPE(colony::WorkerHandle, "colony.ref.worker")
