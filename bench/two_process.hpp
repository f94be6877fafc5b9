#pragma once
// The process plumbing of colony_bench: the forked peer, the control pipes
// between the two processes, CPU pinning, the per-case watchdog and the
// cleanup of named objects.
//
// Robustness rules, in one place:
// - every case runs under a watchdog (alarm): when it expires the peer is
//   killed, blocking system calls of the bench return EINTR and busy loops see
//   watchdog_fired(); the case fails with a timeout;
// - the peer dies with the bench (PR_SET_PDEATHSIG) and by its own alarm, so
//   it never outlives a hung or killed bench;
// - every named object (Colony segment, Boost queue) is held by a ScopedName,
//   removed when the case ends, and also from SIGINT/SIGTERM/SIGHUP handlers;
//   so are the segments of the brokers the worker rows start (by prefix);
// - a Peer that goes out of scope is killed if still running and always reaped.

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "bench.hpp"

namespace bench {

// ---------------------------------------------------------------------------
// File descriptors and exact-size I/O

class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) noexcept : fd_(fd) {}
  Fd(Fd&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  Fd& operator=(Fd&& other) noexcept;
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { reset(); }

  int get() const noexcept { return fd_; }
  void reset() noexcept;

 private:
  int fd_ = -1;
};

struct FdPair {
  Fd first;
  Fd second;
};
FdPair make_pipe();         // first: read end, second: write end
FdPair make_socket_pair();  // AF_UNIX SOCK_STREAM

// Writes/reads exactly bytes.size() bytes. Throw BenchError on EOF, on an
// error, or when the watchdog interrupts the call.
void write_all(int fd, std::span<const std::byte> bytes, const char* what);
void read_all(int fd, std::span<std::byte> bytes, const char* what);

// ---------------------------------------------------------------------------
// CPU placement

// Picks two allowed CPUs and pins this process to the first; quietly returns
// an empty placement when fewer than two CPUs are allowed or pinning fails.
Placement pin_bench_process();
void pin_to(std::optional<int> cpu) noexcept;

// ---------------------------------------------------------------------------
// Watchdog and cleanup

// Installs the SIGALRM watchdog and the SIGINT/SIGTERM/SIGHUP cleanup handlers.
void install_signal_handlers();

// Arms the watchdog for the current case: it fires a little after deadline.
void arm_watchdog(Clock::time_point deadline);
void disarm_watchdog() noexcept;
bool watchdog_fired() noexcept;
// Throws BenchError("... timed out") when the watchdog fired.
void check_watchdog(const char* what);

// Names the sessions of the brokers the worker rows start ("colony.<session>-w"):
// the SIGINT/SIGTERM/SIGHUP handlers also unlink every /dev/shm entry whose
// name starts with it (a broker makes too many segments to hold by name).
void set_cleanup_prefix(const std::string& prefix);

// The handlers also unlink the entries of directory whose names start with
// prefix: files a library makes per process (iceoryx's runtime sockets in
// /tmp) that a process killed with the bench cannot remove itself.
void add_cleanup_prefix(const std::string& directory, const std::string& prefix);

// Holds a named OS object: remove() runs when the holder goes out of scope;
// the OS name (what shm_unlink takes) is also unlinked from a signal handler.
class ScopedName {
 public:
  ScopedName(std::string os_name, std::function<void()> remove);
  ScopedName(ScopedName&&) = delete;
  ScopedName& operator=(ScopedName&&) = delete;
  ~ScopedName();

 private:
  int slot_;
  std::function<void()> remove_;
};

// ---------------------------------------------------------------------------
// The peer process and its control pipes

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

  Peer(Peer&& other) noexcept;
  Peer& operator=(Peer&&) = delete;
  ~Peer();  // kills the peer if it still runs; always reaps it

  void send_count(std::uint64_t count);
  // Waits for a message of this kind; throws on a peer error, exit or timeout.
  ControlMessage expect(ControlKind kind);
  // Waits for the peer to exit; throws unless it exited 0.
  void finish();
  // After a failure on the bench's side: what the peer reported or how it
  // ended, if it did within a moment ("; peer process: ..."), else "".
  std::string post_mortem() noexcept;

 private:
  Peer(pid_t pid, Fd to_peer, Fd from_peer) noexcept;
  std::string exit_description();
  void kill_and_reap() noexcept;

  pid_t pid_ = -1;
  Fd to_peer_;
  Fd from_peer_;
};

// ---------------------------------------------------------------------------
// A case in a process of its own

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

// The first executable file named program in $PATH.
std::optional<std::string> find_in_path(std::string_view program);

}  // namespace bench
