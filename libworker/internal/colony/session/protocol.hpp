#pragma once
// Records between workers and the broker, and the error report a worker sends
// its parent. All travel as typed records (shm/typed.hpp) with colony.*
// aliases; all are small, bounded by the caps the typed layer enforces.

#include <cereal/types/string.hpp>
#include <cereal/types/vector.hpp>
#include <cstdint>
#include <string>
#include <vector>

#include "colony/shm/type_registry.hpp"

namespace colony::detail {

// --- to the broker (ring.broker, many writers) ---------------------------

// Where the broker answers a request. A sender that waits for the outcome
// makes a reply ring (reply_ring.hpp), names it here with a correlation id
// unique in the session, and gets exactly one BrokerReply with that id:
// success, or an error with a code and a message (never a silent drop).
// Empty reply_to: nobody waits (a queued call's EnsureNamed: the call's
// outcome is the mailbox's, and its worker's start failures are recorded in
// the mailbox control and the crash log).
struct ReplyAddress {
  std::uint64_t correlation_id = 0;
  std::string reply_to;  // a reply ring's object name (names.hpp), or empty
  template <class A> void serialize(A& a) { a(correlation_id, reply_to); }
};

struct LaunchRequest {
  std::uint32_t slot = 0;
  std::uint32_t generation = 0;
  std::string executable;
  std::vector<std::string> arguments;
  std::string working_directory;  // the parent's: relative paths mean what they meant there
  // A plain executable (one that knows nothing of Colony): its standard input
  // is fed from channel stdin_channel (0: none) and its standard output is
  // published to channel stdout_channel, as lines or as byte chunks.
  bool plain = false;
  std::uint64_t stdin_channel = 0;
  std::uint64_t stdout_channel = 0;
  bool chunks = false;
  template <class A> void serialize(A& a) {
    a(slot, generation, executable, arguments, working_directory, plain, stdin_channel, stdout_channel, chunks);
  }
};

struct TerminateRequest {
  std::uint32_t slot = 0;
  std::uint32_t generation = 0;
  template <class A> void serialize(A& a) { a(slot, generation); }
};

// A worker attached: the broker marks it running and tells its parent.
struct OnlineNotice {
  std::uint32_t slot = 0;
  std::uint32_t generation = 0;
  std::int32_t pid = 0;
  template <class A> void serialize(A& a) { a(slot, generation, pid); }
};

// From the broker's own reaper thread: the kernel reported a child's end.
// The slot and generation, not the pid, say which: the pid may be reused by
// the time the broker reads this.
struct ChildEnded {
  std::int32_t pid = 0;
  std::uint32_t slot = 0;
  std::uint32_t generation = 0;
  std::uint32_t kind = 0;  // ExitKind
  std::int32_t code = 0;
  std::int32_t signal = 0;
  bool known = true;  // false: reaped by someone else, the status is lost
  std::uint64_t noticed_ns = 0;  // steady clock when the reaper saw the end
  std::string stderr_tail;       // the last lines it wrote to stderr, when captured
  template <class A> void serialize(A& a) { a(pid, slot, generation, kind, code, signal, known, noticed_ns, stderr_tail); }
};

// Binds a worker name to an executable (4D: a named worker's definition).
struct DefineNamed {
  std::string name;
  std::string executable;
  std::vector<std::string> arguments;
  std::uint32_t max_attempts = 3;
  std::string working_directory;
  // NamedWorkerOptions (supervision.hpp), in milliseconds.
  std::uint32_t restart = 1;  // RestartPolicy
  std::uint32_t max_restarts = 10;
  std::uint64_t restart_window_ms = 60'000;
  std::uint64_t backoff_initial_ms = 10;
  std::uint64_t backoff_max_ms = 1'000;
  std::uint64_t handler_timeout_ms = 0;
  template <class A> void serialize(A& a) {
    a(name, executable, arguments, max_attempts, working_directory, restart, max_restarts, restart_window_ms,
      backoff_initial_ms, backoff_max_ms, handler_timeout_ms);
  }
};

// A message was posted to a named worker's mailbox: start its process if none runs.
struct EnsureNamed {
  std::string name;
  ReplyAddress reply;
  template <class A> void serialize(A& a) { a(name, reply); }
};

// Ends a named worker's process at once (SIGKILL); its mailbox stays.
struct TerminateNamed {
  std::string name;
  ReplyAddress reply;
  template <class A> void serialize(A& a) { a(name, reply); }
};

// Starts a named worker that supervision gave up, its restart history cleared.
struct RestartNamed {
  std::string name;
  ReplyAddress reply;
  template <class A> void serialize(A& a) { a(name, reply); }
};

struct StopRequest {
  std::int32_t from_pid = 0;
  ReplyAddress reply;
  template <class A> void serialize(A& a) { a(from_pid, reply); }
};

// The one answer to a request that named a ReplyAddress, on its reply ring.
struct BrokerReply {
  std::uint64_t correlation_id = 0;
  bool ok = true;
  std::uint32_t code = 0;  // WorkerErrc (errors.hpp), when !ok
  std::string message;     // what the broker did, or why it could not
  template <class A> void serialize(A& a) { a(correlation_id, ok, code, message); }
};

// --- from the broker to a worker (ring.w<S>g<G>-ev, one writer) ----------

enum class LaunchRefusal : std::uint32_t { none = 0, no_such_executable = 1, worker_cap = 2, bad_state = 3, os_error = 4 };

struct LaunchResult {
  std::uint32_t slot = 0;
  std::uint32_t generation = 0;
  bool accepted = false;   // spawned, or queued under the cap
  std::uint32_t refusal = 0;  // LaunchRefusal, when !accepted
  std::string error;       // why not, when !accepted
  template <class A> void serialize(A& a) { a(slot, generation, accepted, refusal, error); }
};

struct ChildOnline {
  std::uint32_t slot = 0;
  std::uint32_t generation = 0;
  std::int32_t pid = 0;
  template <class A> void serialize(A& a) { a(slot, generation, pid); }
};

struct ChildExit {
  std::uint32_t slot = 0;
  std::uint32_t generation = 0;
  std::uint32_t kind = 0;  // ExitKind
  std::int32_t code = 0;
  std::int32_t signal = 0;
  bool terminated = false;
  std::string reason;
  template <class A> void serialize(A& a) { a(slot, generation, kind, code, signal, terminated, reason); }
};

// --- from a worker to its parent, on the worker's -out channel -----------

// An exception escaped one of the worker's handlers; the worker goes on.
struct ErrorReport {
  std::string message;
  template <class A> void serialize(A& a) { a(message); }
};

}  // namespace colony::detail

COLONY_REGISTER_TYPE(colony::detail::LaunchRequest, "colony.broker.launch")
COLONY_REGISTER_TYPE(colony::detail::TerminateRequest, "colony.broker.terminate")
COLONY_REGISTER_TYPE(colony::detail::OnlineNotice, "colony.broker.online")
COLONY_REGISTER_TYPE(colony::detail::ChildEnded, "colony.broker.child_ended")
COLONY_REGISTER_TYPE(colony::detail::StopRequest, "colony.broker.stop")
COLONY_REGISTER_TYPE(colony::detail::DefineNamed, "colony.broker.define_named")
COLONY_REGISTER_TYPE(colony::detail::EnsureNamed, "colony.broker.ensure_named")
COLONY_REGISTER_TYPE(colony::detail::TerminateNamed, "colony.broker.terminate_named")
COLONY_REGISTER_TYPE(colony::detail::RestartNamed, "colony.broker.restart_named")
COLONY_REGISTER_TYPE(colony::detail::BrokerReply, "colony.broker.reply")
COLONY_REGISTER_TYPE(colony::detail::LaunchResult, "colony.event.launch")
COLONY_REGISTER_TYPE(colony::detail::ChildOnline, "colony.event.online")
COLONY_REGISTER_TYPE(colony::detail::ChildExit, "colony.event.exit")
COLONY_REGISTER_TYPE(colony::detail::ErrorReport, "colony.event.error")
