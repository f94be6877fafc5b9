// iceoryx (Eclipse iceoryx 2.0, Debian's package) as a peer: zero-copy
// publish/subscribe through shared-memory chunks that its daemon, iox-roudi,
// manages. Untyped publisher and subscriber, two topics for a round trip:
//
//   latency-spin   iceoryx  ping topic bench -> peer, pong topic back; both
//                           sides poll take() in a loop with pause
//   latency-block  iceoryx  the same, both sides sleep in a WaitSet (a futex
//                           semaphore) until the subscriber has data
//   throughput     iceoryx  one topic, the subscriber's queue blocks the
//                           publisher when full (BLOCK_PRODUCER and
//                           WAIT_FOR_CONSUMER: lossless; iceoryx's publisher
//                           then yields in a loop); the receiver sleeps in a
//                           WaitSet when the queue is empty
//
// Like every other peer, the sender copies its message into the transport (a
// loaned chunk) and the throughput receiver copies it out into its buffer
// (then releases the chunk); round-trip receivers check the chunk in place.
//
// The daemon: the first iceoryx row of a run starts iox-roudi (found in PATH)
// as a child of the bench with a config file of its own (mempools below),
// waits until it is ready, and the run's end stops it by its pid (SIGTERM,
// SIGKILL after 10 s) and removes whatever it left in /dev/shm and /tmp that
// did not exist before. It dies with the bench (PR_SET_PDEATHSIG, SIGTERM).
//
// The processes: iceoryx's runtime is a process-wide singleton that registers
// with RouDi, runs a keep-alive thread and must deregister when the process
// ends (RouDi sends SIGTERM to every process still registered when it stops).
// The bench process itself therefore never touches iceoryx: each row runs in
// a case process forked from the bench (run_in_child), which forks its peer
// before either side starts its runtime; both leave RouDi with exit(0).
//
// When iceoryx was not found at build time, or iox-roudi is missing or does
// not start, the rows are absent and say why.

#include <memory>
#include <string>
#include <vector>

#include "drivers.hpp"

#if COLONY_BENCH_HAVE_ICEORYX

#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <system_error>

#include <iceoryx_hoofs/log/logmanager.hpp>
#include <iceoryx_posh/mepoo/chunk_header.hpp>
#include <iceoryx_posh/popo/untyped_publisher.hpp>
#include <iceoryx_posh/popo/untyped_subscriber.hpp>
#include <iceoryx_posh/popo/wait_set.hpp>
#include <iceoryx_posh/runtime/posh_runtime.hpp>
#include "two_process.hpp"

namespace bench {
namespace {

using Buffer = std::vector<std::byte>;

// ---------------------------------------------------------------------------
// iox-roudi, one per run

// Payload mempools of the run's RouDi: room for every row's messages in flight
// (a subscriber queue holds at most 256 chunks; see queue_capacity()).
constexpr const char* kRoudiConfig =
    "# written by colony_bench for its own iox-roudi\n"
    "[general]\n"
    "version = 1\n"
    "\n"
    "[[segment]]\n"
    "\n"
    "[[segment.mempool]]\n"
    "size = 128\n"
    "count = 2048\n"
    "\n"
    "[[segment.mempool]]\n"
    "size = 1024\n"
    "count = 1024\n"
    "\n"
    "[[segment.mempool]]\n"
    "size = 65536\n"
    "count = 512\n";

constexpr const char* kReadyLine = "RouDi is ready for clients";
constexpr std::chrono::seconds kStartTimeout{10};
constexpr std::chrono::seconds kStopTimeout{10};

// Text without the terminal colour sequences iceoryx's logger writes.
std::string strip_escapes(const std::string& text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\033') {
      while (i < text.size() && !std::isalpha(static_cast<unsigned char>(text[i]))) ++i;
      continue;
    }
    out += text[i];
  }
  return out;
}

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// What went wrong, from RouDi's output: its first fatal message, else its
// first error, else its last line.
std::string failure_reason(const std::string& log) {
  std::vector<std::string> lines;
  std::size_t begin = 0;
  const std::string text = strip_escapes(log);
  while (begin < text.size()) {
    auto end = text.find('\n', begin);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(begin, end - begin);
    begin = end + 1;
    if (line.find_first_not_of(" \t\r") != std::string::npos) lines.push_back(std::move(line));
  }
  if (lines.empty()) return "no output";
  for (const char* level : {"[ Fatal ]", "[ Error ]"}) {
    for (const std::string& line : lines) {
      const auto at = line.find(level);
      if (at == std::string::npos) continue;
      const auto message = line.find(": ", at);  // after "<time> [ Level ]: "
      return message == std::string::npos ? line : line.substr(message + 2);
    }
  }
  return lines.back();
}

class Roudi {
 public:
  Roudi() : runtime_prefix_("colony_bench_iox_" + std::to_string(::getpid()) + "_") {}
  Roudi(const Roudi&) = delete;
  Roudi& operator=(const Roudi&) = delete;

  // Starts iox-roudi the first time a row asks; throws CaseAbsent when it
  // cannot run here (then and for every later row).
  static void ensure_running(const std::shared_ptr<Roudi>& self, RunContext& context) {
    if (self->state_ == State::not_started) {
      self->state_ = State::failed;  // unless start() says otherwise
      try {
        self->start(context.placement());
        self->state_ = State::running;
      } catch (const CaseAbsent& e) {
        self->failure_ = e.what();
      } catch (const std::exception& e) {
        // Not iceoryx's fault (no temporary directory, no fork): every
        // iceoryx row fails with it.
        self->failure_ = e.what();
        self->failure_is_error_ = true;
      }
      // Stops it, and removes its files and the temporary directory, even
      // after a failed start.
      context.at_run_end([self] { self->stop(); });
    }
    if (self->state_ == State::failed) {
      if (self->failure_is_error_) throw BenchError("starting iox-roudi: " + self->failure_);
      throw CaseAbsent(self->failure_);
    }
  }

  // Runtime names of this run's processes: the prefix and the process id.
  const std::string& runtime_prefix() const noexcept { return runtime_prefix_; }

 private:
  enum class State { not_started, running, failed };

  // The files a RouDi makes, whatever its configuration: its management and
  // payload segments (the payload one is named after the writer group; the
  // user's name too, in case), its socket and its lock files.
  static std::vector<std::string> daemon_files() {
    std::vector<std::string> files = {"/dev/shm/iceoryx_mgmt", "/tmp/roudi", "/tmp/roudi.lock",
                                      "/tmp/iox-unique-roudi.lock"};
    if (const group* g = ::getgrgid(::getegid()); g != nullptr) files.push_back(std::string("/dev/shm/") + g->gr_name);
    if (const passwd* p = ::getpwuid(::geteuid()); p != nullptr) {
      const std::string user = std::string("/dev/shm/") + p->pw_name;
      if (std::find(files.begin(), files.end(), user) == files.end()) files.push_back(user);
    }
    return files;
  }

  void start(const Placement& placement) {
    const std::optional<std::string> program = find_in_path("iox-roudi");
    if (!program) throw CaseAbsent("iox-roudi not found in PATH (Debian package iceoryx)");

    std::error_code error;
    for (const std::string& file : daemon_files()) {
      if (std::filesystem::exists(std::filesystem::symlink_status(file, error))) existed_before_.push_back(file);
    }
    // The runtimes of the case processes make "/tmp/<name>" and
    // "/tmp/<name>.lock"; an interrupted run unlinks them from its handler.
    add_cleanup_prefix("/tmp", runtime_prefix_);
    char directory[] = "/tmp/colony_bench_roudi_XXXXXX";
    if (::mkdtemp(directory) == nullptr) throw BenchError(std::string("mkdtemp: ") + std::strerror(errno));
    directory_ = directory;
    const std::string config = directory_ + "/roudi_config.toml";
    log_ = directory_ + "/roudi.log";
    std::ofstream(config) << kRoudiConfig;

    // -m on: RouDi removes a process that stops sending keep-alives (a killed
    // case process); -k 2: at its own end it waits 2 s, not 45, for processes
    // still registered (none, normally).
    std::vector<std::string> args = {*program, "-c", config, "-l", "warning", "-m", "on", "-k", "2"};
    std::vector<char*> argv;
    for (std::string& arg : args) argv.push_back(arg.data());
    argv.push_back(nullptr);
    const int log_fd = ::open(log_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (log_fd < 0) throw BenchError("cannot create " + log_ + ": " + std::strerror(errno));
    const int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);

    std::fflush(nullptr);
    const pid_t bench_pid = ::getpid();
    const pid_t pid = ::fork();
    if (pid < 0) {
      ::close(log_fd);
      if (null_fd >= 0) ::close(null_fd);
      throw BenchError(std::string("fork: ") + std::strerror(errno));
    }
    if (pid == 0) {
      // Stops (cleanly: it removes its files) when the bench dies.
      ::prctl(PR_SET_PDEATHSIG, SIGTERM);
      if (::getppid() != bench_pid) ::_exit(1);
      if (null_fd >= 0) ::dup2(null_fd, STDIN_FILENO);
      ::dup2(log_fd, STDOUT_FILENO);
      ::dup2(log_fd, STDERR_FILENO);
      ::signal(SIGPIPE, SIG_DFL);  // the bench ignores it; exec keeps that
      // A daemon: free to run on both of the bench's CPUs, not pinned to the
      // bench's like the process it was forked from.
      if (placement.bench_cpu && placement.peer_cpu) {
        cpu_set_t both;
        CPU_ZERO(&both);
        CPU_SET(static_cast<std::size_t>(*placement.bench_cpu), &both);
        CPU_SET(static_cast<std::size_t>(*placement.peer_cpu), &both);
        ::sched_setaffinity(0, sizeof(both), &both);
      }
      sigset_t none;
      sigemptyset(&none);
      ::sigprocmask(SIG_SETMASK, &none, nullptr);
      ::execv(argv[0], argv.data());
      const char message[] = "colony_bench: cannot execute iox-roudi\n";
      [[maybe_unused]] const ssize_t ignored = ::write(STDERR_FILENO, message, sizeof(message) - 1);
      ::_exit(127);
    }
    ::close(log_fd);
    if (null_fd >= 0) ::close(null_fd);
    pid_ = pid;

    const Clock::time_point limit = Clock::now() + kStartTimeout;
    for (;;) {
      const std::string log = read_text(log_);
      if (log.find(kReadyLine) != std::string::npos) {
        // RouDi has read its config and keeps its output open: nothing of
        // the directory is needed any more, and an interrupted run leaves
        // nothing of it behind.
        std::filesystem::remove_all(directory_, error);
        directory_.clear();
        return;
      }
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        throw CaseAbsent("iox-roudi failed to start: " + failure_reason(log));
      }
      if (Clock::now() > limit) {
        stop_process();
        throw CaseAbsent("iox-roudi was not ready within " + std::to_string(kStartTimeout.count()) +
                         " s: " + failure_reason(log));
      }
      ::usleep(10'000);
    }
  }

  void stop_process() noexcept {
    if (pid_ < 0) return;
    ::kill(pid_, SIGTERM);
    const Clock::time_point limit = Clock::now() + kStopTimeout;
    bool killed = false;
    for (;;) {
      int status = 0;
      const pid_t reaped = ::waitpid(pid_, &status, WNOHANG);
      if (reaped == pid_ || (reaped < 0 && errno != EINTR)) break;
      if (!killed && Clock::now() > limit) {
        std::fprintf(stderr, "colony_bench: iox-roudi (pid %d) did not stop within %lld s; killed\n",
                     static_cast<int>(pid_), static_cast<long long>(kStopTimeout.count()));
        ::kill(pid_, SIGKILL);
        killed = true;
      }
      ::usleep(5'000);
    }
    pid_ = -1;
  }

  void stop() {
    stop_process();
    std::error_code error;
    // What RouDi (or a killed case process: its runtime's socket) left behind,
    // if this run created it.
    std::vector<std::string> left;
    for (const std::string& file : daemon_files()) {
      const bool before = std::find(existed_before_.begin(), existed_before_.end(), file) != existed_before_.end();
      if (!before && std::filesystem::exists(std::filesystem::symlink_status(file, error))) {
        left.push_back(file);
      }
    }
    for (const auto& entry : std::filesystem::directory_iterator("/tmp", error)) {
      if (entry.path().filename().string().rfind(runtime_prefix_, 0) == 0) left.push_back(entry.path().string());
    }
    for (const std::string& file : left) {
      std::filesystem::remove(file, error);
      std::fprintf(stderr, "colony_bench: %s was left behind by iceoryx (now removed)\n", file.c_str());
    }
    if (!directory_.empty()) std::filesystem::remove_all(directory_, error);
    directory_.clear();
  }

  State state_ = State::not_started;
  std::string failure_;
  bool failure_is_error_ = false;
  std::string runtime_prefix_;
  pid_t pid_ = -1;
  std::string directory_;  // the config file and RouDi's output
  std::string log_;
  std::vector<std::string> existed_before_;
};

// ---------------------------------------------------------------------------
// The iceoryx side of a process

// Registers this process with RouDi, once (in the case process or its peer,
// never in the bench).
void join_roudi(const std::string& prefix) {
  static bool joined = false;
  if (joined) return;
  iox::log::LogManager::GetLogManager().SetDefaultLogLevel(iox::log::LogLevel::kWarn,
                                                         iox::log::LogLevelOutput::kHideLogLevel);
  const std::string name = prefix + std::to_string(::getpid());
  iox::runtime::PoshRuntime::initRuntime(iox::RuntimeName_t(iox::cxx::TruncateToCapacity, name.c_str(), name.size()));
  joined = true;
}

iox::capro::IdString_t id(const std::string& text) {
  return iox::capro::IdString_t(iox::cxx::TruncateToCapacity, text.c_str(), text.size());
}

// Queued chunks per subscriber: as many bytes as Colony's 4 MiB stream ring,
// within 64 and iceoryx's maximum of 256.
std::uint64_t queue_capacity(std::size_t size) {
  return std::clamp<std::uint64_t>((std::uint64_t{4} << 20) / size, 64, iox::MAX_SUBSCRIBER_QUEUE_CAPACITY);
}

iox::popo::PublisherOptions publisher_options() {
  iox::popo::PublisherOptions options;
  options.subscriberTooSlowPolicy = iox::popo::ConsumerTooSlowPolicy::WAIT_FOR_CONSUMER;
  return options;
}

iox::popo::SubscriberOptions subscriber_options(std::size_t size) {
  iox::popo::SubscriberOptions options;
  options.queueCapacity = queue_capacity(size);
  options.queueFullPolicy = iox::popo::QueueFullPolicy::BLOCK_PRODUCER;
  return options;
}

enum class Wait { spin, block };

// One topic's receiving end: a subscriber, and a WaitSet when it sleeps.
class Inbox {
 public:
  Inbox(const iox::capro::ServiceDescription& service, std::size_t size, Wait wait, Clock::time_point deadline)
      : deadline_(deadline), wait_(wait) {
    subscriber_.emplace(service, subscriber_options(size));
    if (wait_ == Wait::block) {
      waitset_.emplace();
      if (waitset_->attachState(*subscriber_, iox::popo::SubscriberState::HAS_DATA).has_error()) {
        throw BenchError("iceoryx: cannot attach the subscriber to a WaitSet");
      }
    }
  }
  Inbox(const Inbox&) = delete;
  Inbox& operator=(const Inbox&) = delete;
  ~Inbox() { waitset_.reset(); }  // detached before the subscriber goes

  bool connected() const { return subscriber_->getSubscriptionState() == iox::SubscribeState::SUBSCRIBED; }

  // The next chunk's payload; hand it back with release().
  std::span<const std::byte> take() {
    for (std::uint32_t spins = 0;; ++spins) {
      auto taken = subscriber_->take();
      if (!taken.has_error()) {
        const void* payload = taken.value();
        const auto* header = iox::mepoo::ChunkHeader::fromUserPayload(payload);
        return {static_cast<const std::byte*>(payload), header->userPayloadSize()};
      }
      if (taken.get_error() != iox::popo::ChunkReceiveResult::NO_CHUNK_AVAILABLE) {
        throw BenchError("iceoryx take: too many chunks held");
      }
      if (wait_ == Wait::spin) {
        cpu_relax();
        if (spins % 4096 == 4095) check_deadline();
      } else {
        waitset_->timedWait(iox::units::Duration::fromMilliseconds(100));
        check_deadline();
      }
    }
  }
  void release(std::span<const std::byte> payload) { subscriber_->release(payload.data()); }

 private:
  void check_deadline() const {
    check_watchdog("iceoryx receive");
    if (Clock::now() > deadline_) throw BenchError("iceoryx receive timed out");
  }

  Clock::time_point deadline_;
  Wait wait_;
  std::optional<iox::popo::UntypedSubscriber> subscriber_;
  std::optional<iox::popo::WaitSet<>> waitset_;
};

// One topic's sending end.
class Outbox {
 public:
  explicit Outbox(const iox::capro::ServiceDescription& service) { publisher_.emplace(service, publisher_options()); }

  bool connected() const { return publisher_->hasSubscribers(); }

  // Loans a chunk, copies message into it, publishes it.
  void send(std::span<const std::byte> message) {
    auto loaned = publisher_->loan(static_cast<std::uint32_t>(message.size()));
    if (loaned.has_error()) {
      throw BenchError("iceoryx loan failed (error " + std::to_string(static_cast<int>(loaned.get_error())) + ")");
    }
    void* chunk = loaned.value();
    std::memcpy(chunk, message.data(), message.size());
    publisher_->publish(chunk);
  }

 private:
  std::optional<iox::popo::UntypedPublisher> publisher_;
};

// Waits until every end given is connected (RouDi matches them every 100 ms).
template <class... Ends>
void await_connected(Clock::time_point deadline, const Ends&... ends) {
  while (!(ends.connected() && ...)) {
    check_watchdog("iceoryx discovery");
    if (Clock::now() > deadline) throw BenchError("iceoryx: publisher and subscriber did not connect in time");
    ::usleep(1'000);
  }
}

// Leaves RouDi and ends the peer process: the runtime deregisters in its
// static destructor, which _exit would skip.
[[noreturn]] void leave_and_exit() {
  std::fflush(nullptr);
  std::exit(0);
}

// The services of one case: unique in the run (the case process's pid in it).
std::string instance_name(RunContext& context) {
  return context.session() + "_" + context.unique("iox") + "_" + std::to_string(::getpid());
}

class IceoryxPingPong {
 public:
  IceoryxPingPong(RunContext& context, Wait wait, const std::string& prefix)
      : context_(context), wait_(wait), prefix_(prefix), instance_(instance_name(context)), message_(kPingSize) {
    fill_message(message_);
  }

  void bench_side() {
    join_roudi(prefix_);
    out_.emplace(service("ping"));
    in_.emplace(service("pong"), kPingSize, wait_, context_.deadline());
    await_connected(context_.deadline(), *out_, *in_);
  }
  void peer_side() {
    join_roudi(prefix_);
    in_.emplace(service("ping"), kPingSize, wait_, context_.deadline());
    out_.emplace(service("pong"));
    await_connected(context_.deadline(), *out_, *in_);
  }
  void ping(std::uint64_t seq) {
    stamp(message_, seq);
    out_->send(message_);
  }
  void await_pong(std::uint64_t seq) {
    const auto payload = in_->take();
    check_message(payload, kPingSize, seq, false);
    in_->release(payload);
  }
  void echo(std::uint64_t seq) {
    const auto payload = in_->take();
    check_message(payload, kPingSize, seq, false);
    out_->send(payload);
    in_->release(payload);
  }
  void peer_end() {
    in_.reset();
    out_.reset();
    leave_and_exit();
  }

 private:
  iox::capro::ServiceDescription service(const char* event) const {
    return {id("ColonyBench"), id(instance_), id(event)};
  }

  RunContext& context_;
  Wait wait_;
  std::string prefix_;
  std::string instance_;
  Buffer message_;
  std::optional<Outbox> out_;
  std::optional<Inbox> in_;
};

class IceoryxStream {
 public:
  IceoryxStream(RunContext& context, std::size_t size, const std::string& prefix)
      : context_(context), prefix_(prefix), instance_(instance_name(context)), message_(size) {
    fill_message(message_);
  }

  void sender_side() {
    join_roudi(prefix_);
    out_.emplace(service());
    await_connected(context_.deadline(), *out_);
  }
  void receiver_side() {
    join_roudi(prefix_);
    in_.emplace(service(), message_.size(), Wait::block, context_.deadline());
    await_connected(context_.deadline(), *in_);
  }
  void send(std::uint64_t seq) {
    stamp(message_, seq);
    out_->send(message_);
  }
  void receive(std::uint64_t seq, bool every_byte) {
    const auto payload = in_->take();
    if (payload.size() != message_.size()) {
      throw BenchError("iceoryx: a chunk of " + std::to_string(payload.size()) + " bytes, expected " +
                       std::to_string(message_.size()));
    }
    std::memcpy(message_.data(), payload.data(), payload.size());
    in_->release(payload);
    check_message(message_, message_.size(), seq, every_byte);
  }
  void peer_end() {
    in_.reset();
    leave_and_exit();
  }

 private:
  iox::capro::ServiceDescription service() const { return {id("ColonyBench"), id(instance_), id("stream")}; }

  RunContext& context_;
  std::string prefix_;
  std::string instance_;
  Buffer message_;
  std::optional<Outbox> out_;
  std::optional<Inbox> in_;
};

}  // namespace

std::vector<Case> iceoryx_cases() {
  const auto roudi = std::make_shared<Roudi>();
  const auto latency = [roudi](CaseKind kind, Wait wait) {
    return Case{kind, "iceoryx", kPingSize, [roudi, wait](RunContext& context) {
                  Roudi::ensure_running(roudi, context);
                  const std::string prefix = roudi->runtime_prefix();
                  return run_in_child(context,
                                      [&] { return run_latency<IceoryxPingPong>(context, wait, prefix); });
                }};
  };
  const auto throughput = [roudi](std::size_t size) {
    return Case{CaseKind::throughput, "iceoryx", size, [roudi, size](RunContext& context) {
                  Roudi::ensure_running(roudi, context);
                  const std::string prefix = roudi->runtime_prefix();
                  return run_in_child(context,
                                      [&] { return run_throughput<IceoryxStream>(context, size, prefix); });
                }};
  };
  return {
      latency(CaseKind::latency_spin, Wait::spin),
      latency(CaseKind::latency_block, Wait::block),
      throughput(kSmall),
      throughput(kMedium),
      throughput(kLarge),
  };
}

}  // namespace bench

#else  // !COLONY_BENCH_HAVE_ICEORYX

namespace bench {

std::vector<Case> iceoryx_cases() {
  const auto absent = [](RunContext&) -> Measurement {
    throw CaseAbsent(
        "not compiled in: iceoryx (CMake package iceoryx_posh) was not found when colony_bench was built");
  };
  return {
      Case{CaseKind::latency_spin, "iceoryx", kPingSize, absent},
      Case{CaseKind::latency_block, "iceoryx", kPingSize, absent},
      Case{CaseKind::throughput, "iceoryx", kSmall, absent},
      Case{CaseKind::throughput, "iceoryx", kMedium, absent},
      Case{CaseKind::throughput, "iceoryx", kLarge, absent},
  };
}

}  // namespace bench

#endif
