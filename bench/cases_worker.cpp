// The worker rows: Colony's workers (libworker and the broker) through their
// public API, each next to its floor.
//
//   worker-start  colony        WorkerHandle::start() until the echo of a message
//                               posted right after it (colony_bench_worker echo --once)
//   worker-start  posix-spawn   floor: posix_spawn of colony_bench_worker exit-now
//                               (it exits before attaching) until waitpid returns
//   worker-start  fork-exec     floor: the same with fork + execve
//   worker-start  python-spawn  Python multiprocessing.Process, start method "spawn",
//                               from p.start() until its echo through a Pipe
//                               (python_spawn.py times the starts; absent without python3)
//   latency-*     colony-api    round trip of a std::uint64_t, parent <-> worker:
//                               WorkerHandle::post_message / on_message and
//                               Worker::dispatch in the bench, on_message /
//                               post_message / run in the worker; -spin with
//                               Worker::set_spin on both sides
//   latency-*     raw-ring      the same std::uint64_t over two rings of the shm
//                               layer (TypedWriter / TypedReader), driven like the
//                               colony rows: the floor the API runs on
//   workers-64    colony-api    64 workers echo at once; the bench keeps a window of
//                               messages in flight to each; msgs/s counts the echoes
//                               the bench received; notes give the bench's VmRSS
//                               and VmHWM (and the workers' VmRSS)
//
// Placement: the round-trip rows pin as the other round-trip rows do (bench on
// its CPU, the worker pins itself to the peer CPU). The start rows and
// workers-64 run unpinned over the two CPUs, as an application would: the
// bench's thread, the broker's threads and every process started float.
//
// Every row that starts a Broker gives it a session "<bench session>-w<N>";
// destroying it ends the workers and removes the session's segments, which the
// row then checks (and main checks again at the end of the run).

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "colony/broker/broker.hpp"
#include "colony/shm/names.hpp"
#include "colony/shm/ring.hpp"
#include "colony/shm/segment.hpp"
#include "colony/shm/typed.hpp"
#include "colony/worker/worker.hpp"
#include "drivers.hpp"
#include "shm_objects.hpp"

extern char** environ;

namespace bench {
namespace {

using colony::shm::RingReader;
using colony::shm::RingStatus;
using colony::shm::RingWriter;
using colony::shm::TypedReader;
using colony::shm::TypedWriter;
using colony::shm::WaitPolicy;

constexpr const char* kWorkerExecutable = "colony_bench_worker";
constexpr const char* kPythonScript = "python_spawn.py";

constexpr std::uint32_t kSpinBudget = std::uint32_t{1} << 20;  // as the colony spin rows
constexpr std::chrono::milliseconds kDispatchSlice{100};       // one Worker::dispatch wait

constexpr std::size_t kFanWorkers = 64;  // CaseKind::workers prints as "workers-64"
constexpr std::uint64_t kFanWindow = 16;  // messages in flight to each worker

std::size_t start_count(const RunContext& context) { return context.quick() ? 20 : 100; }
std::size_t start_warmup(const RunContext& context) { return context.quick() ? 1 : 3; }
std::size_t python_count(const RunContext& context) { return context.quick() ? 5 : 100; }
double fan_seconds(const RunContext& context) { return context.quick() ? 0.2 : 1.0; }
double fan_warmup_seconds(const RunContext& context) { return context.quick() ? 0.05 : 0.2; }

std::int64_t elapsed_ns(Clock::time_point start, Clock::time_point end) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(end - start).count();
}

// p50, p90 and p99 of samples, and how many there were.
Measurement detailed_latency(std::vector<std::int64_t> samples) {
  Measurement m;
  m.samples = samples.size();
  m.p90_ns = percentile(samples, 0.90);
  m.p50_ns = percentile(samples, 0.50);
  m.p99_ns = percentile(samples, 0.99);
  return m;
}

std::chrono::milliseconds left_until(Clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  return std::max(left, std::chrono::milliseconds(0));
}

// ---------------------------------------------------------------------------
// Files next to colony_bench

std::filesystem::path bench_directory() {
  std::error_code error;
  const std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", error);
  if (error) throw BenchError("cannot read /proc/self/exe: " + error.message());
  return self.parent_path();
}

std::string sibling(const char* name, const char* what) {
  const std::filesystem::path path = bench_directory() / name;
  if (::access(path.c_str(), R_OK) != 0) {
    throw BenchError(std::string(what) + " " + path.string() + " is missing (it is built with colony_bench)");
  }
  return path.string();
}

std::string worker_executable() { return sibling(kWorkerExecutable, "the worker executable"); }

// ---------------------------------------------------------------------------
// Placement, processes, memory

// Lets this thread (and the threads and processes it starts meanwhile) run on
// both of the bench's CPUs; restores the pinning at the end of the scope.
class Unpinned {
 public:
  explicit Unpinned(const Placement& placement) {
    if (!placement.bench_cpu || !placement.peer_cpu) return;
    if (::sched_getaffinity(0, sizeof(saved_), &saved_) != 0) return;
    cpu_set_t both;
    CPU_ZERO(&both);
    CPU_SET(static_cast<std::size_t>(*placement.bench_cpu), &both);
    CPU_SET(static_cast<std::size_t>(*placement.peer_cpu), &both);
    active_ = ::sched_setaffinity(0, sizeof(both), &both) == 0;
  }
  Unpinned(const Unpinned&) = delete;
  Unpinned& operator=(const Unpinned&) = delete;
  ~Unpinned() {
    if (active_) ::sched_setaffinity(0, sizeof(saved_), &saved_);
  }

 private:
  cpu_set_t saved_{};
  bool active_ = false;
};

// Waits for a child this row started; kills it if the watchdog fires first.
int reap(pid_t pid, const char* what) {
  int status = 0;
  for (;;) {
    if (::waitpid(pid, &status, 0) == pid) return status;
    if (errno != EINTR) throw BenchError(std::string("waitpid (") + what + "): " + std::strerror(errno));
    if (watchdog_fired()) {
      ::kill(pid, SIGKILL);
      while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
      }
      throw BenchError(std::string(what) + " timed out; it was killed");
    }
  }
}

// A child process of this row: killed and reaped if the row leaves early.
class ChildGuard {
 public:
  explicit ChildGuard(pid_t pid) noexcept : pid_(pid) {}
  ChildGuard(const ChildGuard&) = delete;
  ChildGuard& operator=(const ChildGuard&) = delete;
  ~ChildGuard() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    while (::waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {
    }
  }
  int wait_for(const char* what) { return reap(std::exchange(pid_, -1), what); }

 private:
  pid_t pid_;
};

std::string describe_wait_status(int status) {
  if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return "was killed by signal " + std::to_string(WTERMSIG(status));
  return "ended with wait status " + std::to_string(status);
}

// VmRSS, VmHWM and RssShmem (the part of VmRSS that is shared memory, here
// mostly the rings' pages the process touched) of a process, from
// /proc/<pid>/status, in bytes.
struct Memory {
  std::optional<double> rss;
  std::optional<double> hwm;
  std::optional<double> shmem;
};

Memory read_memory(const std::string& pid = "self") {
  Memory memory;
  std::ifstream status("/proc/" + pid + "/status");
  std::string line;
  while (std::getline(status, line)) {
    const auto kib = [&line] {
      std::istringstream fields(line.substr(line.find(':') + 1));
      double value = 0;
      fields >> value;
      return value * 1024.0;
    };
    if (line.rfind("VmRSS:", 0) == 0) memory.rss = kib();
    if (line.rfind("VmHWM:", 0) == 0) memory.hwm = kib();
    if (line.rfind("RssShmem:", 0) == 0) memory.shmem = kib();
  }
  return memory;
}

// Resets VmHWM to the current VmRSS (Linux >= 4.0), so that the peak read
// later is this row's; false when the kernel refused.
bool reset_peak_memory() {
  std::ofstream clear("/proc/self/clear_refs");
  clear << "5";
  clear.flush();
  return clear.good();
}

std::string megabytes(const std::optional<double>& bytes) {
  if (!bytes) return "?";
  char text[32];
  std::snprintf(text, sizeof(text), "%.1f MB", *bytes / 1e6);
  return text;
}

// ---------------------------------------------------------------------------
// The broker of one row

class BrokerScope {
 public:
  explicit BrokerScope(RunContext& context, colony::BrokerLimits limits = {})
      : context_(context), session_(context.broker_session()) {
    broker_.emplace(colony::BrokerOptions{session_, limits});
  }

  colony::Worker& host() { return broker_->host(); }

  // Ends the session (its workers and segments) and checks that nothing of it
  // is left in /dev/shm.
  void finish() {
    broker_.reset();
    const auto left = colony::shm::Segment::list(colony::shm::SegmentName::session_prefix(session_));
    if (!left.empty()) {
      for (const std::string& name : left) colony::shm::Segment::remove_os_name(name.c_str());
      throw BenchError("the broker left " + std::to_string(left.size()) + " segment(s) of session " + session_ +
                       " in /dev/shm, e.g. " + left.front());
    }
  }

  // Dispatches the host's events until done() holds; throws at the row's deadline.
  template <class Done>
  void dispatch_until(Done&& done, const char* what) {
    colony::Worker& self = host();
    for (std::uint32_t turn = 1; !done(); ++turn) {
      if (!self.dispatch(kDispatchSlice) || turn % 256 == 0) {
        if (Clock::now() >= context_.deadline()) throw BenchError(std::string(what) + " timed out");
        check_watchdog(what);
      }
    }
  }

 private:
  RunContext& context_;
  std::string session_;
  std::optional<colony::Broker> broker_;
};

void end_worker(RunContext& context, colony::WorkerHandle& worker) {
  if (worker.exit_status()) return;
  worker.terminate();
  if (!worker.join(left_until(context.deadline()))) throw BenchError("a terminated worker did not end in time");
}

// ---------------------------------------------------------------------------
// worker-start rows

Measurement run_worker_start(RunContext& context) {
  const std::string executable = worker_executable();
  const std::size_t warmup = start_warmup(context);
  const std::size_t total = warmup + start_count(context);
  Unpinned unpinned(context.placement());
  BrokerScope scope(context);
  colony::Worker& host = scope.host();

  std::vector<std::int64_t> samples;
  std::vector<std::int64_t> creates;  // create() before start(), not in the samples
  for (std::uint64_t i = 0; i < total; ++i) {
    const auto create_start = Clock::now();
    colony::WorkerHandle worker = host.create(executable, {"echo", "--once"});
    const auto created = Clock::now();
    std::optional<std::uint64_t> answer;
    std::optional<colony::ExitStatus> ended;
    worker.on_message<std::uint64_t>([&answer](std::uint64_t value) { answer = value; });
    worker.on_exit([&ended](const colony::ExitStatus& status) { ended = status; });

    const auto start = Clock::now();
    worker.start();
    worker.post_message(i);
    scope.dispatch_until([&] { return answer || ended; }, "waiting for a new worker's echo");
    const auto end = Clock::now();

    if (!answer) throw BenchError("a new worker ended before it answered: " + ended->describe());
    if (*answer != i) throw BenchError("a new worker answered " + std::to_string(*answer));
    // It closes itself after the echo.
    scope.dispatch_until([&] { return ended.has_value(); }, "waiting for a worker to close");
    if (!ended->ok()) throw BenchError("a worker ended badly: " + ended->describe());
    if (i >= warmup) {
      samples.push_back(elapsed_ns(start, end));
      creates.push_back(elapsed_ns(create_start, created));
    }
  }
  scope.finish();
  Measurement m = detailed_latency(std::move(samples));
  const double create_p50 = percentile(creates, 0.50);
  m.note = "start() to the echo of a message posted after it; create() before it: p50 " +
           std::to_string(static_cast<long>(create_p50 / 1e3)) + " us";
  m.extra.emplace_back("create_p50_ns", create_p50);
  return m;
}

enum class Launch { posix_spawn, fork_exec };

// The floor of a start: the same binary, which exits before attaching, from
// the launch to waitpid.
Measurement run_process_floor(RunContext& context, Launch launch) {
  std::string executable = worker_executable();
  std::string mode = "exit-now";
  char* argv[] = {executable.data(), mode.data(), nullptr};
  const std::size_t warmup = start_warmup(context);
  const std::size_t total = warmup + start_count(context);
  Unpinned unpinned(context.placement());
  std::fflush(nullptr);

  std::vector<std::int64_t> samples;
  for (std::size_t i = 0; i < total; ++i) {
    const auto start = Clock::now();
    pid_t pid = -1;
    if (launch == Launch::fork_exec) {
      pid = ::fork();
      if (pid == 0) {
        ::execve(executable.c_str(), argv, environ);
        ::_exit(127);
      }
      if (pid < 0) throw BenchError(std::string("fork: ") + std::strerror(errno));
    } else {
      const int error = ::posix_spawn(&pid, executable.c_str(), nullptr, nullptr, argv, environ);
      if (error != 0) throw BenchError(std::string("posix_spawn: ") + std::strerror(error));
    }
    const int status = reap(pid, "the floor process");
    const auto end = Clock::now();
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      throw BenchError(std::string(kWorkerExecutable) + " exit-now " + describe_wait_status(status));
    }
    if (i >= warmup) samples.push_back(elapsed_ns(start, end));
  }
  Measurement m = detailed_latency(std::move(samples));
  m.note = launch == Launch::fork_exec ? "fork + execve to waitpid, no attach" : "posix_spawn to waitpid, no attach";
  return m;
}

// Runs python_spawn.py, which times the starts itself, and collects its samples.
Measurement run_python_spawn(RunContext& context) {
  const std::optional<std::string> python = find_in_path("python3");
  if (!python) throw CaseAbsent("python3 not found in PATH");
  const std::string script = sibling(kPythonScript, "the script");
  const std::size_t count = python_count(context);
  const auto budget = std::chrono::duration_cast<std::chrono::seconds>(context.deadline() - Clock::now()) -
                      std::chrono::seconds(2);
  std::vector<std::string> arguments{*python, script, std::to_string(count), std::to_string(start_warmup(context)),
                                     std::to_string(std::max<std::int64_t>(budget.count(), 1))};
  std::vector<char*> argv;
  for (std::string& argument : arguments) argv.push_back(argument.data());
  argv.push_back(nullptr);

  Unpinned unpinned(context.placement());
  FdPair output = make_pipe();
  std::fflush(nullptr);
  const pid_t bench_pid = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) throw BenchError(std::string("fork: ") + std::strerror(errno));
  if (pid == 0) {
    // Python and its children die with the bench.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != bench_pid) ::_exit(1);
    ::dup2(output.second.get(), STDOUT_FILENO);
    ::dup2(output.second.get(), STDERR_FILENO);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  ChildGuard child(pid);
  output.second.reset();

  std::string text;
  char buffer[4096];
  for (;;) {
    const auto left = left_until(context.deadline());
    pollfd readable{output.first.get(), POLLIN, 0};
    const int ready = ::poll(&readable, 1, static_cast<int>(std::min<std::int64_t>(left.count(), 1000)));
    if (ready < 0 && errno != EINTR) throw BenchError(std::string("poll: ") + std::strerror(errno));
    if (ready <= 0) {
      if (Clock::now() < context.deadline() && !watchdog_fired()) continue;
      throw BenchError("python3 did not finish in time; it was killed");
    }
    const ssize_t n = ::read(output.first.get(), buffer, sizeof(buffer));
    if (n > 0) {
      text.append(buffer, static_cast<std::size_t>(n));
    } else if (n == 0) {
      break;
    } else if (errno != EINTR) {
      throw BenchError(std::string("reading python3's output: ") + std::strerror(errno));
    }
  }
  const int status = child.wait_for("python3");

  std::vector<std::int64_t> samples;
  bool done = false;
  std::istringstream lines(text);
  std::string line;
  std::string last;
  while (std::getline(lines, line)) {
    if (line.rfind("sample_ns ", 0) == 0) {
      samples.push_back(std::stoll(line.substr(10)));
    } else if (line == "done") {
      done = true;
    } else if (!line.empty()) {
      last = line;
    }
  }
  if (!done || samples.size() != count || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    throw BenchError("python3 " + script + " " + describe_wait_status(status) +
                     (last.empty() ? std::string() : ": " + last));
  }
  Measurement m = detailed_latency(std::move(samples));
  m.note = "multiprocessing spawn: p.start() to the echo through a Pipe";
  return m;
}

// ---------------------------------------------------------------------------
// Round trips

// The floor of the API round trip: one std::uint64_t each way over two rings
// of the shm layer, typed as the API types it, driven like the colony rows
// (run_latency: the peer forked and pinned to the peer CPU).
class RingU64PingPong {
 public:
  RingU64PingPong(RunContext& context, std::uint32_t spin_iterations)
      : context_(context),
        down_(context, "apiping", kRing),
        up_(context, "apipong", kRing),
        policy_{spin_iterations} {}

  void bench_side() {
    writer_.emplace(must(RingWriter::attach(down_.ring(), policy_), "attaching a ring writer"));
    reader_.emplace(must(RingReader::attach(up_.ring(), policy_), "attaching a ring reader"));
  }
  void peer_side() {
    down_opened_.emplace(must(colony::shm::Ring::open(down_.name(), context_.shm_deadline()), "opening ring"));
    up_opened_.emplace(must(colony::shm::Ring::open(up_.name(), context_.shm_deadline()), "opening ring"));
    reader_.emplace(must(RingReader::attach(*down_opened_, policy_), "attaching a ring reader"));
    writer_.emplace(must(RingWriter::attach(*up_opened_, policy_), "attaching a ring writer"));
  }
  void ping(std::uint64_t seq) { send(seq); }
  void await_pong(std::uint64_t seq) { receive(seq); }
  void echo(std::uint64_t seq) {
    receive(seq);
    send(seq);
  }

 private:
  static constexpr colony::shm::RingOptions kRing{.capacity = 64 << 10, .max_message = 64};

  void send(std::uint64_t value) {
    const RingStatus status = writer_->send(value, context_.shm_deadline());
    if (status != RingStatus::ok) throw BenchError("ring send: " + std::string(to_string(status)));
  }
  void receive(std::uint64_t expected) {
    std::uint64_t value = 0;
    const auto info = reader_->receive_into(value, context_.shm_deadline());
    if (!info.ok()) throw BenchError("ring receive: " + std::string(to_string(info.status)) + " " + info.error);
    if (value != expected) throw BenchError("expected " + std::to_string(expected) + ", got " + std::to_string(value));
  }

  RunContext& context_;
  OwnedRing down_;
  OwnedRing up_;
  WaitPolicy policy_;
  std::optional<colony::shm::Ring> down_opened_;
  std::optional<colony::shm::Ring> up_opened_;
  std::optional<TypedWriter> writer_;
  std::optional<TypedReader> reader_;
};

// Round trips through the worker API, timed one by one in the bench (the
// host); the worker echoes from its event loop on the peer CPU.
Measurement run_api_roundtrip(RunContext& context, std::uint32_t spin_iterations) {
  const std::string executable = worker_executable();
  std::vector<std::string> arguments{"echo"};
  if (spin_iterations != 0) arguments.insert(arguments.end(), {"--spin", std::to_string(spin_iterations)});
  if (context.placement().peer_cpu) {
    arguments.insert(arguments.end(), {"--cpu", std::to_string(*context.placement().peer_cpu)});
  }
  BrokerScope scope(context);  // its threads share the bench's CPU; they sleep while the row runs
  colony::Worker& host = scope.host();
  host.set_spin(spin_iterations);

  colony::WorkerHandle worker = host.create(executable, arguments);
  std::uint64_t answer = 0;
  bool answered = false;
  std::optional<colony::ExitStatus> ended;
  worker.on_message<std::uint64_t>([&](std::uint64_t value) {
    answer = value;
    answered = true;
  });
  worker.on_exit([&ended](const colony::ExitStatus& status) { ended = status; });
  worker.start();

  const std::uint64_t warmup = context.latency_warmup();
  const std::uint64_t total = warmup + context.latency_iterations();
  std::vector<std::int64_t> samples;
  samples.reserve(total - warmup);
  for (std::uint64_t seq = 1; seq <= total; ++seq) {
    answered = false;
    const auto start = Clock::now();
    worker.post_message(seq);
    while (!answered && !ended) {
      if (!host.dispatch(kDispatchSlice)) {
        if (Clock::now() >= context.deadline()) throw BenchError("waiting for the worker's echo timed out");
        check_watchdog("waiting for the worker's echo");
      }
    }
    const auto end = Clock::now();
    if (ended) throw BenchError("the worker ended: " + ended->describe());
    if (answer != seq) throw BenchError("expected " + std::to_string(seq) + ", got " + std::to_string(answer));
    if (seq > warmup) samples.push_back(elapsed_ns(start, end));
  }
  host.set_spin(0);
  end_worker(context, worker);
  scope.finish();
  Measurement m = detailed_latency(std::move(samples));
  return m;
}

// ---------------------------------------------------------------------------
// workers-64

Measurement run_workers(RunContext& context) {
  const std::string executable = worker_executable();
  const Memory before = read_memory();
  const bool peak_reset = reset_peak_memory();
  Unpinned unpinned(context.placement());
  colony::BrokerLimits limits;
  limits.max_running = static_cast<std::uint32_t>(kFanWorkers);
  BrokerScope scope(context, limits);
  colony::Worker& host = scope.host();

  struct Peer {
    colony::WorkerHandle handle;
    std::uint64_t sent = 0;
    std::uint64_t received = 0;
  };
  std::vector<Peer> peers(kFanWorkers);
  bool refill = true;
  std::uint64_t echoes = 0;
  std::size_t online = 0;
  std::optional<std::string> failure;
  for (Peer& peer : peers) {
    peer.handle = host.create(executable, {"echo"});
    peer.handle.on_online([&online] { ++online; });
    peer.handle.on_exit([&failure](const colony::ExitStatus& status) {
      if (!failure) failure = "a worker ended during the run: " + status.describe();
    });
    peer.handle.on_message<std::uint64_t>([&, p = &peer](std::uint64_t value) {
      if (value != p->received + 1 && !failure) failure = "a worker echoed " + std::to_string(value) + " out of order";
      ++p->received;
      ++echoes;
      if (refill) p->handle.post_message(++p->sent);
    });
  }
  for (Peer& peer : peers) peer.handle.start();
  scope.dispatch_until([&] { return online == kFanWorkers || failure; }, "waiting for 64 workers to attach");
  if (failure) throw BenchError(*failure);
  const Memory started = read_memory();

  const auto run_for = [&](double seconds) {
    const auto until = Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
    scope.dispatch_until([&] { return Clock::now() >= until || failure; }, "the 64-worker exchange");
    if (failure) throw BenchError(*failure);
  };
  for (Peer& peer : peers) {
    while (peer.sent < kFanWindow) peer.handle.post_message(++peer.sent);
  }
  run_for(fan_warmup_seconds(context));
  const std::uint64_t echoes_before = echoes;
  const auto start = Clock::now();
  run_for(fan_seconds(context));
  const std::uint64_t timed_echoes = echoes - echoes_before;
  const auto end = Clock::now();
  refill = false;
  scope.dispatch_until(
      [&] {
        for (const Peer& peer : peers) {
          if (peer.received != peer.sent) return static_cast<bool>(failure);
        }
        return true;
      },
      "draining the 64 workers");
  if (failure) throw BenchError(*failure);
  const Memory after = read_memory();

  double worker_rss = 0;
  double worker_shmem = 0;
  std::size_t worker_rss_count = 0;
  for (const Peer& peer : peers) {
    const Memory memory = read_memory(std::to_string(peer.handle.pid()));
    if (memory.rss && memory.shmem) {
      worker_rss += *memory.rss;
      worker_shmem += *memory.shmem;
      ++worker_rss_count;
    }
  }
  for (Peer& peer : peers) peer.handle.terminate();
  for (Peer& peer : peers) {
    if (!peer.handle.join(left_until(context.deadline()))) throw BenchError("a terminated worker did not end in time");
  }
  scope.finish();

  Measurement m = throughput_measurement(timed_echoes, kApiSize, elapsed_ns(start, end));
  const auto mean = [&](double sum) {
    return worker_rss_count != 0 ? std::optional<double>(sum / static_cast<double>(worker_rss_count)) : std::nullopt;
  };
  const std::optional<double> worker_mean = mean(worker_rss);
  const std::optional<double> worker_shmem_mean = mean(worker_shmem);
  m.note = std::to_string(kFanWorkers) + " workers x " + std::to_string(kFanWindow) +
           " in flight, echoes/s; bench VmRSS " + megabytes(before.rss) + " before, " + megabytes(started.rss) +
           " started, " + megabytes(after.rss) + " after (RssShmem " + megabytes(after.shmem) + "), VmHWM " +
           megabytes(after.hwm) + (peak_reset ? "" : " (of the whole run)") + "; worker VmRSS " +
           megabytes(worker_mean) + " each (RssShmem " + megabytes(worker_shmem_mean) + ")";
  m.extra = {{"workers", static_cast<double>(kFanWorkers)},
             {"in_flight_per_worker", static_cast<double>(kFanWindow)},
             {"echoes", static_cast<double>(timed_echoes)}};
  const auto add = [&m](const char* name, const std::optional<double>& value) {
    if (value) m.extra.emplace_back(name, *value);
  };
  add("vmrss_before_bytes", before.rss);
  add("vmrss_started_bytes", started.rss);
  add("vmrss_after_bytes", after.rss);
  add("rss_shmem_after_bytes", after.shmem);
  add("vmhwm_bytes", after.hwm);
  add("worker_vmrss_mean_bytes", worker_mean);
  add("worker_rss_shmem_mean_bytes", worker_shmem_mean);
  return m;
}

}  // namespace

std::vector<Case> worker_cases() {
  return {
      Case{CaseKind::worker_start, "colony", 0, run_worker_start},
      Case{CaseKind::worker_start, "posix-spawn", 0,
           [](RunContext& context) { return run_process_floor(context, Launch::posix_spawn); }},
      Case{CaseKind::worker_start, "fork-exec", 0,
           [](RunContext& context) { return run_process_floor(context, Launch::fork_exec); }},
      Case{CaseKind::worker_start, "python-spawn", 0, run_python_spawn},

      Case{CaseKind::latency_spin, "colony-api", kApiSize,
           [](RunContext& context) { return run_api_roundtrip(context, kSpinBudget); }},
      Case{CaseKind::latency_spin, "raw-ring", kApiSize,
           [](RunContext& context) { return run_latency<RingU64PingPong>(context, kSpinBudget); }},
      Case{CaseKind::latency_block, "colony-api", kApiSize,
           [](RunContext& context) { return run_api_roundtrip(context, 0); }},
      Case{CaseKind::latency_block, "raw-ring", kApiSize,
           [](RunContext& context) { return run_latency<RingU64PingPong>(context, std::uint32_t{0}); }},

      Case{CaseKind::workers, "colony-api", kApiSize, run_workers},
  };
}

}  // namespace bench
