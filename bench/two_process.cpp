#include "two_process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <system_error>
#include <utility>
#include <vector>

namespace bench {
namespace {

// ---------------------------------------------------------------------------
// State the signal handlers read: lock-free atomics and fixed buffers only.

std::atomic<int> g_watchdog_fired{0};
std::atomic<pid_t> g_peer_pid{-1};

constexpr int kNameSlots = 64;
struct NameSlot {
  std::atomic<bool> used{false};
  char os_name[256] = {};
};
std::array<NameSlot, kNameSlots> g_names;

// The prefix of set_cleanup_prefix, and whether it is set.
char g_cleanup_prefix[256] = {};
std::atomic<bool> g_cleanup_prefix_set{false};

// The (directory, prefix) pairs of add_cleanup_prefix.
struct PrefixSlot {
  std::atomic<bool> used{false};
  char directory[128] = {};
  char prefix[128] = {};
};
std::array<PrefixSlot, 4> g_prefixes;

static_assert(std::atomic<int>::is_always_lock_free && std::atomic<pid_t>::is_always_lock_free &&
              std::atomic<bool>::is_always_lock_free);

extern "C" void on_alarm(int) {
  g_watchdog_fired.store(1);
  const pid_t peer = g_peer_pid.load();
  if (peer > 0) ::kill(peer, SIGKILL);
}

// Unlinks the entries of directory_path whose names start with prefix, with
// async-signal-safe calls only (open, getdents64, unlinkat, close). Rescans
// after a pass that removed something, as removing entries while reading a
// directory may make the reading skip some.
void unlink_prefixed(const char* directory_path, const char* prefix) noexcept {
  const int directory = ::open(directory_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (directory < 0) return;
  alignas(8) char buffer[8192];
  for (int pass = 0; pass < 8; ++pass) {
    bool removed = false;
    if (::lseek(directory, 0, SEEK_SET) != 0) break;
    for (;;) {
      const long n = ::syscall(SYS_getdents64, directory, buffer, sizeof(buffer));
      if (n <= 0) break;
      // struct linux_dirent64: u64 d_ino, s64 d_off, u16 d_reclen, u8 d_type, char d_name[].
      for (long offset = 0; offset < n;) {
        unsigned short length = 0;
        std::memcpy(&length, buffer + offset + 16, sizeof(length));
        const char* name = buffer + offset + 19;
        std::size_t i = 0;
        while (prefix[i] != '\0' && name[i] == prefix[i]) ++i;
        if (prefix[i] == '\0' && ::unlinkat(directory, name, 0) == 0) removed = true;
        if (length == 0) break;
        offset += length;
      }
    }
    if (!removed) break;
  }
  ::close(directory);
}

// The /dev/shm entries of the brokers' sessions (set_cleanup_prefix), and
// those of add_cleanup_prefix.
void unlink_prefixed_shm() noexcept {
  if (g_cleanup_prefix_set.load()) unlink_prefixed("/dev/shm", g_cleanup_prefix);
  for (const PrefixSlot& slot : g_prefixes) {
    if (slot.used.load()) unlink_prefixed(slot.directory, slot.prefix);
  }
}

// SIGINT/SIGTERM/SIGHUP: kill the peer, unlink every named object, then die
// of the same signal.
extern "C" void on_terminate(int signal_number) {
  const pid_t peer = g_peer_pid.load();
  if (peer > 0) ::kill(peer, SIGKILL);
  for (NameSlot& slot : g_names) {
    if (slot.used.load()) ::shm_unlink(slot.os_name);
  }
  unlink_prefixed_shm();
  static const char message[] = "colony_bench: interrupted; removed its shared-memory objects\n";
  [[maybe_unused]] const ssize_t ignored = ::write(STDERR_FILENO, message, sizeof(message) - 1);
  ::signal(signal_number, SIG_DFL);
  ::raise(signal_number);
}

constexpr std::array kTerminationSignals{SIGINT, SIGTERM, SIGHUP};

enum class Io { ok, eof, interrupted };

// Reads exactly bytes.size() bytes unless EOF or the watchdog comes first.
Io read_exact(int fd, std::span<std::byte> bytes, const char* what) {
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::read(fd, bytes.data() + done, bytes.size() - done);
    if (n > 0) {
      done += static_cast<std::size_t>(n);
    } else if (n == 0) {
      return Io::eof;
    } else if (errno == EINTR) {
      if (watchdog_fired()) return Io::interrupted;
    } else {
      throw BenchError(std::string("reading ") + what + ": " + std::strerror(errno));
    }
  }
  return Io::ok;
}

std::string timeout_message(const char* what) {
  return std::string(what) + " timed out after " + std::to_string(kCaseTimeout.count()) + " s";
}

// The CPU's (package, core) from sysfs, to keep the two processes off SMT siblings.
std::pair<int, int> core_of(int cpu) {
  const std::string base = "/sys/devices/system/cpu/cpu" + std::to_string(cpu) + "/topology/";
  int package = -1;
  int core = -1;
  std::ifstream(base + "physical_package_id") >> package;
  std::ifstream(base + "core_id") >> core;
  return {package, core};
}

[[noreturn]] void run_peer(const RunContext& context, pid_t bench_pid, int from_bench, int to_bench,
                           const std::function<void(ControlLink&)>& body) {
  for (const int signal_number : {SIGALRM, SIGINT, SIGTERM, SIGHUP}) ::signal(signal_number, SIG_DFL);
  // Die with the bench, even if it is killed before it reaps us.
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::getppid() != bench_pid) ::_exit(1);
  // Our own watchdog, in case the bench hangs without dying.
  const auto left = std::chrono::duration_cast<std::chrono::seconds>(context.deadline() - Clock::now());
  ::alarm(static_cast<unsigned>(std::max<std::int64_t>(left.count(), 0) + 5));
  pin_to(context.placement().peer_cpu);

  ControlLink link(from_bench, to_bench);
  int code = 0;
  try {
    body(link);
  } catch (const std::exception& e) {
    link.send_error(e.what());
    code = 1;
  } catch (...) {
    link.send_error("unknown exception");
    code = 1;
  }
  // Never run the bench's destructors or atexit handlers in the peer.
  ::_exit(code);
}

}  // namespace

// ---------------------------------------------------------------------------
// Fd and I/O

Fd& Fd::operator=(Fd&& other) noexcept {
  if (this != &other) {
    reset();
    fd_ = std::exchange(other.fd_, -1);
  }
  return *this;
}

void Fd::reset() noexcept {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

FdPair make_pipe() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) throw BenchError(std::string("pipe: ") + std::strerror(errno));
  return FdPair{Fd(fds[0]), Fd(fds[1])};
}

FdPair make_socket_pair() {
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) {
    throw BenchError(std::string("socketpair: ") + std::strerror(errno));
  }
  return FdPair{Fd(fds[0]), Fd(fds[1])};
}

void write_all(int fd, std::span<const std::byte> bytes, const char* what) {
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n >= 0) {
      done += static_cast<std::size_t>(n);
    } else if (errno == EINTR) {
      check_watchdog(what);
    } else {
      throw BenchError(std::string("writing ") + what + ": " + std::strerror(errno));
    }
  }
}

void read_all(int fd, std::span<std::byte> bytes, const char* what) {
  switch (read_exact(fd, bytes, what)) {
    case Io::ok:
      return;
    case Io::eof:
      throw BenchError(std::string("reading ") + what + ": the other side closed it");
    case Io::interrupted:
      throw BenchError(timeout_message(what));
  }
}

// ---------------------------------------------------------------------------
// Placement

void pin_to(std::optional<int> cpu) noexcept {
  if (!cpu) return;
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(static_cast<std::size_t>(*cpu), &set);
  ::sched_setaffinity(0, sizeof(set), &set);  // best effort
}

Placement pin_bench_process() {
  cpu_set_t allowed;
  CPU_ZERO(&allowed);
  if (::sched_getaffinity(0, sizeof(allowed), &allowed) != 0) return {};
  std::vector<int> cpus;
  for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
    if (CPU_ISSET(static_cast<std::size_t>(cpu), &allowed)) cpus.push_back(cpu);
  }
  if (cpus.size() < 2) return {};
  const int first = cpus.front();
  int second = cpus[1];
  const auto [package, core] = core_of(first);
  for (std::size_t i = 1; i < cpus.size(); ++i) {
    const auto [other_package, other_core] = core_of(cpus[i]);
    if (other_package == package && other_core != core) {
      second = cpus[i];
      break;
    }
  }
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(static_cast<std::size_t>(first), &set);
  if (::sched_setaffinity(0, sizeof(set), &set) != 0) return {};
  return Placement{first, second};
}

// ---------------------------------------------------------------------------
// Watchdog and cleanup

void install_signal_handlers() {
  struct sigaction alarm_action {};
  alarm_action.sa_handler = on_alarm;
  sigemptyset(&alarm_action.sa_mask);
  alarm_action.sa_flags = 0;  // no SA_RESTART: blocking calls return EINTR
  ::sigaction(SIGALRM, &alarm_action, nullptr);

  struct sigaction terminate_action {};
  terminate_action.sa_handler = on_terminate;
  sigemptyset(&terminate_action.sa_mask);
  for (const int signal_number : kTerminationSignals) ::sigaddset(&terminate_action.sa_mask, signal_number);
  for (const int signal_number : kTerminationSignals) ::sigaction(signal_number, &terminate_action, nullptr);

  // A peer that died makes writes fail with EPIPE instead of killing us.
  ::signal(SIGPIPE, SIG_IGN);
}

void arm_watchdog(Clock::time_point deadline) {
  g_watchdog_fired.store(0);
  const auto left = std::chrono::duration_cast<std::chrono::seconds>(deadline - Clock::now());
  // Fires after the deadline that Colony, futex and Boost waits use, so those
  // report their own timeout first; it catches the waits that have none.
  ::alarm(static_cast<unsigned>(std::max<std::int64_t>(left.count(), 0) + 2));
}

void disarm_watchdog() noexcept { ::alarm(0); }

bool watchdog_fired() noexcept { return g_watchdog_fired.load(std::memory_order_relaxed) != 0; }

void check_watchdog(const char* what) {
  if (watchdog_fired()) throw BenchError(timeout_message(what));
}

void set_cleanup_prefix(const std::string& prefix) {
  if (prefix.empty() || prefix.size() >= sizeof(g_cleanup_prefix)) throw BenchError("bad cleanup prefix: " + prefix);
  g_cleanup_prefix_set.store(false);
  std::memcpy(g_cleanup_prefix, prefix.c_str(), prefix.size() + 1);
  g_cleanup_prefix_set.store(true);
}

void add_cleanup_prefix(const std::string& directory, const std::string& prefix) {
  if (directory.empty() || directory.size() >= sizeof(PrefixSlot::directory) || prefix.empty() ||
      prefix.size() >= sizeof(PrefixSlot::prefix)) {
    throw BenchError("bad cleanup prefix: " + directory + "/" + prefix);
  }
  for (PrefixSlot& slot : g_prefixes) {
    if (slot.used.load()) {
      if (directory == slot.directory && prefix == slot.prefix) return;
      continue;
    }
    std::memcpy(slot.directory, directory.c_str(), directory.size() + 1);
    std::memcpy(slot.prefix, prefix.c_str(), prefix.size() + 1);
    slot.used.store(true);
    return;
  }
  throw BenchError("too many cleanup prefixes");
}

ScopedName::ScopedName(std::string os_name, std::function<void()> remove) : slot_(-1), remove_(std::move(remove)) {
  if (os_name.size() >= sizeof(NameSlot::os_name)) throw BenchError("object name too long: " + os_name);
  for (int i = 0; i < kNameSlots; ++i) {
    NameSlot& slot = g_names[static_cast<std::size_t>(i)];
    if (slot.used.load()) continue;
    std::memcpy(slot.os_name, os_name.c_str(), os_name.size() + 1);
    slot.used.store(true);
    slot_ = i;
    return;
  }
  throw BenchError("too many named objects at once");
}

ScopedName::~ScopedName() {
  try {
    if (remove_) remove_();
  } catch (...) {
    // Removal is best effort; the signal path covers the same name.
  }
  if (slot_ >= 0) g_names[static_cast<std::size_t>(slot_)].used.store(false);
}

// ---------------------------------------------------------------------------
// ControlLink (peer side)

void ControlLink::send(ControlKind kind, std::uint64_t value, std::int64_t time_ns) {
  ControlMessage message;
  message.kind = kind;
  message.value = value;
  message.time_ns = time_ns;
  write_all(out_, std::as_bytes(std::span(&message, 1)), "control pipe");
}

void ControlLink::send_error(const char* text) noexcept {
  ControlMessage message;
  message.kind = ControlKind::error;
  std::snprintf(message.text, sizeof(message.text), "%s", text);
  try {
    write_all(out_, std::as_bytes(std::span(&message, 1)), "control pipe");
  } catch (...) {
    // The bench is gone or not listening: the exit status still tells.
  }
}

std::uint64_t ControlLink::receive_count() {
  ControlMessage message;
  read_all(in_, std::as_writable_bytes(std::span(&message, 1)), "control pipe");
  if (message.kind != ControlKind::count) throw BenchError("control pipe: expected a count");
  return message.value;
}

// ---------------------------------------------------------------------------
// Peer (bench side)

Peer::Peer(pid_t pid, Fd to_peer, Fd from_peer) noexcept
    : pid_(pid), to_peer_(std::move(to_peer)), from_peer_(std::move(from_peer)) {}

Peer::Peer(Peer&& other) noexcept
    : pid_(std::exchange(other.pid_, -1)),
      to_peer_(std::move(other.to_peer_)),
      from_peer_(std::move(other.from_peer_)) {}

Peer::~Peer() { kill_and_reap(); }

Peer Peer::spawn(RunContext& context, const std::function<void(ControlLink&)>& body) {
  FdPair down = make_pipe();  // bench -> peer
  FdPair up = make_pipe();    // peer -> bench
  std::fflush(nullptr);       // nothing buffered is printed twice
  const pid_t bench_pid = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) throw BenchError(std::string("fork: ") + std::strerror(errno));
  if (pid == 0) {
    // The bench's ends stay open in the bench only, so that each side sees
    // EOF when the other dies.
    down.second.reset();
    up.first.reset();
    run_peer(context, bench_pid, down.first.get(), up.second.get(), body);
  }
  g_peer_pid.store(pid);
  return Peer(pid, std::move(down.second), std::move(up.first));
}

void Peer::send_count(std::uint64_t value) {
  ControlMessage message;
  message.kind = ControlKind::count;
  message.value = value;
  write_all(to_peer_.get(), std::as_bytes(std::span(&message, 1)), "control pipe");
}

ControlMessage Peer::expect(ControlKind kind) {
  ControlMessage message;
  switch (read_exact(from_peer_.get(), std::as_writable_bytes(std::span(&message, 1)), "control pipe")) {
    case Io::ok:
      break;
    case Io::eof:
      throw BenchError("the peer process " + exit_description() + " before reporting");
    case Io::interrupted:
      kill_and_reap();
      throw BenchError(timeout_message("waiting for the peer process") + "; it was killed");
  }
  if (message.kind == ControlKind::error) {
    message.text[sizeof(message.text) - 1] = '\0';
    throw BenchError(std::string("peer process: ") + message.text);
  }
  if (message.kind != kind)
    throw BenchError("control pipe: unexpected message kind " +
                     std::to_string(static_cast<std::uint32_t>(message.kind)));
  return message;
}

void Peer::finish() {
  if (pid_ < 0) return;
  const std::string how = exit_description();
  if (how != "exited with status 0") throw BenchError("the peer process " + how);
}

std::string Peer::post_mortem() noexcept {
  try {
    std::string out;
    pollfd readable{from_peer_.get(), POLLIN, 0};
    if (::poll(&readable, 1, 200) == 1) {
      ControlMessage message;
      if (read_exact(from_peer_.get(), std::as_writable_bytes(std::span(&message, 1)), "control pipe") == Io::ok &&
          message.kind == ControlKind::error) {
        message.text[sizeof(message.text) - 1] = '\0';
        out += std::string("; peer process: ") + message.text;
      }
    }
    if (pid_ > 0) {
      for (int i = 0; i < 20; ++i) {
        int status = 0;
        if (::waitpid(pid_, &status, WNOHANG) == pid_) {
          pid_ = -1;
          g_peer_pid.store(-1);
          if (WIFSIGNALED(status)) {
            out += "; the peer process was killed by signal " + std::to_string(WTERMSIG(status)) + " (" +
                   ::strsignal(WTERMSIG(status)) + ")";
          } else if (WIFEXITED(status)) {
            out += "; the peer process exited with status " + std::to_string(WEXITSTATUS(status));
          }
          break;
        }
        ::usleep(10'000);
      }
    }
    return out;
  } catch (...) {
    return {};
  }
}

// Reaps the peer and says how it ended. Waits at most until the watchdog.
std::string Peer::exit_description() {
  if (pid_ < 0) return "was already reaped";
  int status = 0;
  for (;;) {
    if (::waitpid(pid_, &status, 0) == pid_) break;
    if (errno != EINTR) return std::string("could not be reaped: ") + std::strerror(errno);
    // The watchdog killed it (or is about to): the next waitpid returns.
    if (watchdog_fired()) ::kill(pid_, SIGKILL);
  }
  pid_ = -1;
  g_peer_pid.store(-1);
  if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) {
    const int signal_number = WTERMSIG(status);
    return "was killed by signal " + std::to_string(signal_number) + " (" + ::strsignal(signal_number) + ")";
  }
  return "ended with wait status " + std::to_string(status);
}

void Peer::kill_and_reap() noexcept {
  if (pid_ < 0) return;
  ::kill(pid_, SIGKILL);
  int status = 0;
  while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  pid_ = -1;
  g_peer_pid.store(-1);
}

// ---------------------------------------------------------------------------
// A case in a process of its own

namespace {

// The child's answer, as text lines: "ok" then "<field> <value>" lines, or
// "error" / "absent" then the message. Numbers in hexadecimal floating point,
// so that they cross exactly.
std::string encode(const Measurement& m) {
  std::string out = "ok\n";
  const auto number = [&out](const char* name, double value) {
    char buffer[64];
    std::snprintf(buffer, sizeof(buffer), "%a", value);
    out += std::string(name) + " " + buffer + "\n";
  };
  if (m.p50_ns) number("p50", *m.p50_ns);
  if (m.p99_ns) number("p99", *m.p99_ns);
  if (m.p90_ns) number("p90", *m.p90_ns);
  if (m.msgs_per_s) number("msgs", *m.msgs_per_s);
  if (m.bytes_per_s) number("bytes", *m.bytes_per_s);
  if (m.samples) number("samples", static_cast<double>(*m.samples));
  for (const auto& [name, value] : m.extra) number(("extra:" + name).c_str(), value);
  std::string note = m.note;
  std::replace(note.begin(), note.end(), '\n', ' ');
  if (!note.empty()) out += "note " + note + "\n";
  return out;
}

Measurement decode(const std::string& text) {
  const auto first_end = text.find('\n');
  const std::string head = text.substr(0, first_end);
  std::string rest = first_end == std::string::npos ? std::string() : text.substr(first_end + 1);
  if (head == "error" || head == "absent") {
    if (!rest.empty() && rest.back() == '\n') rest.pop_back();
    if (head == "absent") throw CaseAbsent(rest);
    throw BenchError(rest);
  }
  if (head != "ok") throw BenchError("the case process sent no result");
  Measurement m;
  std::size_t begin = 0;
  while (begin < rest.size()) {
    auto end = rest.find('\n', begin);
    if (end == std::string::npos) end = rest.size();
    const std::string line = rest.substr(begin, end - begin);
    begin = end + 1;
    const auto space = line.find(' ');
    if (space == std::string::npos) continue;
    const std::string name = line.substr(0, space);
    const std::string value_text = line.substr(space + 1);
    if (name == "note") {
      m.note = value_text;
      continue;
    }
    const double value = std::strtod(value_text.c_str(), nullptr);
    if (name == "p50") m.p50_ns = value;
    if (name == "p99") m.p99_ns = value;
    if (name == "p90") m.p90_ns = value;
    if (name == "msgs") m.msgs_per_s = value;
    if (name == "bytes") m.bytes_per_s = value;
    if (name == "samples") m.samples = static_cast<std::size_t>(value);
    if (name.rfind("extra:", 0) == 0) m.extra.emplace_back(name.substr(6), value);
  }
  return m;
}

[[noreturn]] void run_case_child(RunContext& context, pid_t bench_pid, int out,
                                 const std::function<Measurement()>& body) {
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::getppid() != bench_pid) ::_exit(1);
  // Libraries may print; the bench's stdout may be JSON lines.
  ::dup2(STDERR_FILENO, STDOUT_FILENO);
  // Alarms are not inherited across fork: this process needs its own.
  arm_watchdog(context.deadline());
  std::string answer;
  try {
    answer = encode(body());
  } catch (const CaseAbsent& e) {
    answer = std::string("absent\n") + e.what();
  } catch (const std::exception& e) {
    answer = std::string("error\n") + e.what();
  } catch (...) {
    answer = "error\nunknown exception";
  }
  try {
    write_all(out, std::as_bytes(std::span(answer.data(), answer.size())), "result pipe");
  } catch (...) {
    // The bench is gone; the exit status still tells.
  }
  ::close(out);
  disarm_watchdog();
  std::fflush(nullptr);
  // exit, not _exit: the libraries' static destructors (a runtime leaving its
  // daemon) must run. The bench's own objects live on its stack: untouched.
  std::exit(0);
}

}  // namespace

Measurement run_in_child(RunContext& context, const std::function<Measurement()>& body) {
  FdPair result = make_pipe();
  std::fflush(nullptr);
  const pid_t bench_pid = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) throw BenchError(std::string("fork: ") + std::strerror(errno));
  if (pid == 0) {
    result.first.reset();
    run_case_child(context, bench_pid, result.second.get(), body);
  }
  // Not the bench's peer for the watchdog: the child reports its own timeout
  // first. It dies with the bench (PR_SET_PDEATHSIG), and its peer with it.
  result.second.reset();

  // The child times itself out at the case's deadline (its watchdog); the
  // bench gives it a few seconds more to say so, then kills it.
  const Clock::time_point limit = context.deadline() + std::chrono::seconds(5);
  std::string text;
  bool timed_out = false;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(limit - Clock::now()).count();
    if (left <= 0) {
      timed_out = true;
      break;
    }
    pollfd readable{result.first.get(), POLLIN, 0};
    const int ready = ::poll(&readable, 1, static_cast<int>(std::min<long long>(left, 1000)));
    if (ready < 0 && errno != EINTR) throw BenchError(std::string("poll: ") + std::strerror(errno));
    if (ready <= 0) continue;
    char buffer[4096];
    const ssize_t n = ::read(result.first.get(), buffer, sizeof(buffer));
    if (n > 0) {
      text.append(buffer, static_cast<std::size_t>(n));
    } else if (n == 0) {
      break;
    } else if (errno != EINTR) {
      throw BenchError(std::string("reading the result pipe: ") + std::strerror(errno));
    }
  }
  if (timed_out) ::kill(pid, SIGKILL);
  // After the result pipe closed, the child only runs its static destructors
  // (a runtime leaving its daemon): they get until the limit too.
  int status = 0;
  for (bool killed = timed_out;;) {
    const pid_t reaped = ::waitpid(pid, &status, WNOHANG);
    if (reaped == pid || (reaped < 0 && errno != EINTR)) break;
    if (!killed && Clock::now() > limit) {
      ::kill(pid, SIGKILL);
      killed = true;
    }
    ::usleep(1'000);
  }
  if (timed_out) throw BenchError(timeout_message("the case process") + "; it was killed");
  if (text.empty()) {
    if (WIFSIGNALED(status)) {
      throw BenchError("the case process was killed by signal " + std::to_string(WTERMSIG(status)) + " (" +
                       ::strsignal(WTERMSIG(status)) + ")");
    }
    throw BenchError("the case process exited with status " + std::to_string(WEXITSTATUS(status)) +
                     " without a result");
  }
  Measurement measured = decode(text);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    const std::string how = WIFSIGNALED(status) ? "was killed by signal " + std::to_string(WTERMSIG(status))
                                                : "exited with status " + std::to_string(WEXITSTATUS(status));
    throw BenchError("the case process " + how + " after its result");
  }
  return measured;
}

std::optional<std::string> find_in_path(std::string_view program) {
  const char* path = std::getenv("PATH");
  std::string_view dirs = path != nullptr ? path : "/usr/local/bin:/usr/bin:/bin";
  while (!dirs.empty()) {
    const auto colon = dirs.find(':');
    const std::string dir(dirs.substr(0, colon));
    const std::string candidate = (dir.empty() ? std::string(".") : dir) + "/" + std::string(program);
    std::error_code error;
    if (std::filesystem::is_regular_file(candidate, error) && ::access(candidate.c_str(), X_OK) == 0) {
      return candidate;
    }
    if (colon == std::string_view::npos) break;
    dirs.remove_prefix(colon + 1);
  }
  return std::nullopt;
}

}  // namespace bench
