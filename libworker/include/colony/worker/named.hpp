#pragma once
// Named workers (4D's CALL WORKER, as OS processes): a name bound to an
// executable; calling the name queues the call in the name's mailbox and
// starts the process if none runs. The process handles calls in order, one
// at a time, so its state persists between them; a method may reply.
//
// In the worker executable:
//
//   colony::Methods methods;
//   std::int64_t total = 0;
//   methods.on("add", [&](const colony::Call& call) { total += call.args[0].as_int(); return colony::Value(total); });
//   return methods.serve();
//
// From anywhere in the session (a worker, the host, the `colony` command):
//
//   colony::call(session, "counter", "add", colony::Value::Array{5});                  // queued, returns at once
//   auto total = colony::call(session, "counter", "add", colony::Value::Array{1}, {.wait = true});
//
// An empty method name runs the startup method, as in 4D. Delivery is at
// least once: a call whose process died in its handler is handled again by
// the next process, with `redelivered` set (see mailbox.hpp).

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "colony/worker/errors.hpp"
#include "colony/worker/value.hpp"

namespace colony {

struct Call {
  std::uint64_t id = 0;
  std::string method;
  Value args;               // an array by convention (the CLI's arguments)
  std::string reply_ring;   // the caller's reply ring, or empty: no reply wanted
  // Set on delivery, not sent:
  bool redelivered = false;
  std::uint32_t attempt = 1;
  template <class A> void serialize(A& a) { a(id, method, args, reply_ring); }
};

struct Reply {
  std::uint64_t id = 0;
  bool ok = true;
  Value value;
  std::string error;  // when !ok: the method is unknown, or it threw
  template <class A> void serialize(A& a) { a(id, ok, value, error); }
};

struct CallOptions {
  bool wait = false;  // wait for the reply
  std::chrono::milliseconds timeout{30'000};
  // With wait: pause iterations the caller spins on its reply before it
  // sleeps (as Worker::set_spin does for a worker's loop). For calls that
  // follow each other to a worker that answers in microseconds and spins
  // for the next call itself (Worker::current().set_spin(n) before serve()):
  // both sides then skip the kernel's wake, which costs tens of
  // microseconds on virtual machines. 0: sleep at once.
  std::uint32_t spin = 0;
  // With wait and spin 0: how long the caller spins on its reply before it
  // sleeps, so that a reply that comes within it costs no wake-up (about 20
  // us each on the benchmark's 2-vCPU AMD EPYC VM). A reply that takes longer
  // turns this Caller's spin off, so a caller of slow methods sleeps at
  // once, until a reply again comes within it. 0: sleep at once.
  std::chrono::microseconds reply_spin{50};
};

// Queues a call to the named worker of session (and starts its process if
// none runs); returns once it is queued. With wait, returns the reply's value.
// Throws WorkerError: not_found for a name nobody defined, bad_state with the
// worker's message when the method is unknown or threw (a wrong or missing
// argument names the method and the argument), timed_out when no reply came
// in time (the call stays queued), channel_full when the mailbox stayed full,
// undecodable for arguments nested deeper than a worker can decode,
// session_gone when no live broker runs the session. A waited call does not
// wait out its timeout when no reply can come: no_such_executable when the
// worker failed to start after the call was queued, bad_state when
// supervision gave the worker up, session_gone when the session ended. Its
// broker's death alone ends no wait: a broker that takes the session over
// answers the call (timed_out then says the broker died).
std::optional<Value> call(std::string_view session, std::string_view name, std::string_view method, Value args,
                          const CallOptions& options = {});

// For a caller that makes many calls: the session, each worker's mailbox and
// one reply ring are opened at its first call and kept, where call() above
// opens four segments and makes and removes a reply ring each time. call()
// behaves as the function does, with the same errors. Replies are told apart
// by the call's id, so a late reply to a call that timed out is skipped by a
// later call. If the session's broker died and another took the session
// over, the next call opens the new session. One thread at a time.
class Caller {
 public:
  // Throws WorkerError session_gone (or not_found) when no session of that name runs.
  explicit Caller(std::string_view session);
  Caller(Caller&&) noexcept;
  Caller& operator=(Caller&&) noexcept;
  ~Caller();

  std::optional<Value> call(std::string_view name, std::string_view method, Value args,
                            const CallOptions& options = {});

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Why executable cannot be started the way the broker starts a worker (a
// path with a '/' as it is, from the current directory; else looked up in
// PATH): "no such file", "not executable", ...; nullopt when it can.
std::optional<std::string> why_cannot_execute(const std::string& executable);
// The one PATH search of Colony: what the broker executes for executable
// (executable itself when it has a '/', else the first executable regular
// file of that name in PATH), or, with path empty, why there is none.
struct ExecutableLookup {
  std::string path;
  std::string why_not;         // for a person, when path is empty
  bool found_but_not_runnable = false;  // a file is there, but not a regular executable one
};
ExecutableLookup find_executable(const std::string& executable);

// Whether name is defined in session.
bool named_worker_exists(std::string_view session, std::string_view name);
// The pid of the named worker's live process; 0 when none runs.
int named_worker_pid(std::string_view session, std::string_view name);

class Methods {
 public:
  using Method = std::function<Value(const Call&)>;
  // Registers a method; "" is the startup method.
  void on(std::string name, Method method) { methods_[std::move(name)] = std::move(method); }
  // Runs this worker's event loop with its mailbox as one more source: calls
  // are handled one at a time, in order, and between them whatever the
  // worker's channels and children bring (their handlers, as in run()).
  // Returns when the mailbox stays empty for idle_exit (never, by default),
  // a method calls stop(), or the worker is killed (KILL WORKER). Returns
  // the exit code. Throws WorkerError not_a_worker in a process not started
  // as a named worker.
  int serve(std::chrono::milliseconds idle_exit = std::chrono::milliseconds::max());
  void stop() noexcept { stop_ = true; }

 private:
  class Server;  // serve.cpp
  std::map<std::string, Method, std::less<>> methods_;
  bool stop_ = false;
};

}  // namespace colony

COLONY_REGISTER_TYPE(colony::Call, "colony.call")
COLONY_REGISTER_TYPE(colony::Reply, "colony.reply")
