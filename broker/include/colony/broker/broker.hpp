#pragma once
// The broker: owns a session, launches worker executables as OS processes,
// learns of their deaths from the kernel, keeps the registry in the session's
// control segment, and removes every segment of the session when it ends.
//
// A Broker runs in the process that constructs it (on its own thread) and
// makes that process the session's host: Worker::current() there is the host
// context, slot 0, the parent of the workers it creates.
//
//   colony::Broker broker;                           // a session with a random name
//   auto worker = colony::Worker::current().create("./my_worker");
//   worker.start();
//   ...
//   // ~Broker: stops every worker (asks it to stop, kills it after the
//   // grace period) and removes every segment of the session.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "colony/broker/supervision.hpp"
#include "colony/worker/worker.hpp"

namespace colony {

struct BrokerLimits {
  // Running worker processes. A start() past it waits in a queue, or fails
  // with WorkerErrc::worker_cap under OverCap::fail.
  std::uint32_t max_running = 64;
  enum class OverCap { queue, fail } over_cap = OverCap::queue;
  std::size_t max_message = 16 << 20;      // bytes, per message
  // Bytes of ring per channel unless a channel asks otherwise. Pages are
  // touched as the ring cycles, so this is also what a busy channel costs in
  // memory; larger messages than half of it travel out of line.
  std::size_t channel_capacity = 256 << 10;
  // A launched process must attach (call Worker::current()) within this, or it
  // is killed and reported not_attached.
  std::chrono::milliseconds attach_timeout{5000};
  // At the session's end, workers are asked to stop (SIGTERM on POSIX), and
  // killed after this.
  std::chrono::milliseconds stop_grace{2000};
  // Events (launch results, children online, child exits) that may wait for
  // room in one worker's events ring. Past it they are dropped and counted
  // (the session header's events_dropped): what becomes of the events of a
  // host that never runs its event loop.
  std::size_t max_undelivered_events = 4096;
};

struct BrokerOptions {
  std::string session;  // empty: a random name
  BrokerLimits limits;
};

class Broker {
 public:
  // Creates the session; throws WorkerError when the name is refused or a
  // live broker already owns it. The segments of a dead broker's session of
  // the same name are removed first.
  explicit Broker(BrokerOptions options = {});
  ~Broker();
  Broker(const Broker&) = delete;
  Broker& operator=(const Broker&) = delete;

  const std::string& session() const noexcept;
  // This process's worker context (the same as Worker::current()).
  Worker& host();

  // Binds name (any string, case-sensitive) to an executable: a named worker
  // (named.hpp). Its mailbox is made now; its process starts at the first
  // call, and again whenever it ended with calls still queued. Returns once
  // callers can see the name. Throws WorkerError for a name too long.
  void define_named_worker(const std::string& name, const std::string& executable,
                           std::vector<std::string> arguments = {}, std::uint32_t max_attempts = 3);
  // The same, supervised as options say (supervision.hpp): restart policy,
  // intensity, back-off and handler timeout.
  void define_named_worker(const std::string& name, const std::string& executable, std::vector<std::string> arguments,
                           const NamedWorkerOptions& options);
  // Starts a named worker that supervision gave up, its history cleared (as
  // `colony restart`); returns what the broker did ("worker 'w' started").
  // Throws WorkerError with the broker's code and reason when it refuses:
  // not_found for an unknown name, no_such_executable or os_error when the
  // process cannot start, worker_cap without a free slot.
  std::string restart_named_worker(const std::string& name);

  // Stops every worker, children first, and removes every segment of the
  // session. Idempotent; the destructor calls it.
  void stop();
  // Blocks until the broker has stopped its workers because someone asked it
  // to (request_stop, `colony broker stop`, a signal handled by the host);
  // then stop() removes the segments. For a process that only hosts a broker.
  void wait_until_stopped();

  // Asks the broker to begin stopping, from any thread (a signal-waiting
  // thread, say). Workers' exit events still reach the host.
  void request_stop() noexcept;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace colony
