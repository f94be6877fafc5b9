#pragma once
// The two processes of a row: the bench and the peer it forks for the case,
// the control pipes between them, and a whole case run in a process of its
// own. Starting, waiting for and killing processes is colony::subprocess's
// (support/); the watchdog and the cleanup on signals are watchdog.hpp's.
//
// A Peer that goes out of scope is killed if still running and always reaped.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <string>

#include "bench.hpp"
#include "colony/subprocess/child.hpp"
#include "colony/subprocess/io.hpp"
#include "watchdog.hpp"

namespace bench {

using colony::subprocess::Fd;
using colony::subprocess::FdPair;
using colony::subprocess::make_pipe;
using colony::subprocess::make_socket_pair;

// Writes/reads exactly bytes.size() bytes. Throw BenchError on EOF, on an
// error, or when the watchdog interrupts the call.
void write_all(int fd, std::span<const std::byte> bytes, const char* what);
void read_all(int fd, std::span<std::byte> bytes, const char* what);

// What travels on the control pipes: small, fixed size, written atomically.
enum class ControlKind : std::uint32_t { ready = 1, count = 2, done = 3, error = 4 };

struct ControlMessage {
  ControlKind kind{};
  std::uint32_t reserved = 0;
  std::uint64_t value = 0;   // count: messages to handle; done: messages handled
  std::int64_t time_ns = 0;  // done: steady_clock time of the last receive
  char text[232] = {};       // error: what went wrong
};
static_assert(sizeof(ControlMessage) == 256);

// The peer's end of the control pipes.
class ControlLink {
 public:
  ControlLink(int from_bench, int to_bench) noexcept : in_(from_bench), out_(to_bench) {}
  void send(ControlKind kind, std::uint64_t value = 0, std::int64_t time_ns = 0);
  void send_error(const char* text) noexcept;
  std::uint64_t receive_count();

 private:
  int in_;
  int out_;
};

class Peer {
 public:
  // Forks the peer: it pins itself to the peer CPU, runs body and exits 0, or
  // reports the exception body threw and exits 1. It never returns here.
  static Peer spawn(RunContext& context, const std::function<void(ControlLink&)>& body);

  Peer(Peer&& other) noexcept = default;
  Peer& operator=(Peer&&) = delete;
  ~Peer();  // kills the peer if it still runs; always reaps it

  int pid() const noexcept { return child_.pid(); }
  void send_count(std::uint64_t count);
  // Waits for a message of this kind; throws on a peer error, exit or timeout.
  ControlMessage expect(ControlKind kind);
  // Waits for the peer to exit; throws unless it exited 0.
  void finish();
  // After a failure on the bench's side: what the peer reported or how it
  // ended, if it did within a moment ("; peer process: ..."), else "".
  std::string post_mortem() noexcept;

 private:
  Peer(colony::subprocess::Child child, Clock::time_point deadline, Fd to_peer, Fd from_peer) noexcept;
  // Reaps the peer and says how it ended ("exited with status 0").
  std::string reap_and_describe();
  void kill_and_reap() noexcept;

  colony::subprocess::Child child_;
  Clock::time_point reap_by_;  // the peer's own alarm has ended it by then
  Fd to_peer_;
  Fd from_peer_;
};

// Runs body, a whole case (its own peer included), in a child forked from the
// bench, and returns what it measured (or rethrows its BenchError or
// CaseAbsent). For libraries that must not live in the bench process: a
// process-wide runtime that registers with a daemon and must leave it when
// the process exits (iceoryx), background threads that would stay after the
// case. The child pins like the bench, runs under its own watchdog, sends its
// standard output to standard error (the bench's stdout may carry JSON), and
// ends with exit(0) so that the static destructors of those libraries run.
// The bench waits until a few seconds after the case's deadline, then kills it.
Measurement run_in_child(RunContext& context, const std::function<Measurement()>& body);

}  // namespace bench
