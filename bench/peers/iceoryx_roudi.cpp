// iox-roudi for the iceoryx rows (iceoryx_roudi.hpp).

#include "peers/iceoryx_roudi.hpp"

#include <grp.h>
#include <pwd.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <system_error>
#include <thread>

#include "colony/subprocess/io.hpp"
#include "placement.hpp"
#include "watchdog.hpp"

namespace bench {
namespace {

// Payload mempools of the run's RouDi: room for every row's messages in flight
// (a subscriber queue holds at most 256 chunks; see iceoryx.cpp's
// queue_capacity()).
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

// The files a RouDi makes, whatever its configuration: its management and
// payload segments (the payload one is named after the writer group; the
// user's name too, in case), its socket and its lock files.
std::vector<std::string> daemon_files() {
  std::vector<std::string> files = {"/dev/shm/iceoryx_mgmt", "/tmp/roudi", "/tmp/roudi.lock",
                                    "/tmp/iox-unique-roudi.lock"};
  if (const group* g = ::getgrgid(::getegid()); g != nullptr) files.push_back(std::string("/dev/shm/") + g->gr_name);
  if (const passwd* p = ::getpwuid(::geteuid()); p != nullptr) {
    const std::string user = std::string("/dev/shm/") + p->pw_name;
    if (std::find(files.begin(), files.end(), user) == files.end()) files.push_back(user);
  }
  return files;
}

}  // namespace

Roudi::Roudi() : runtime_prefix_("colony_bench_iox_" + std::to_string(::getpid()) + "_") {}

void Roudi::ensure_running(const std::shared_ptr<Roudi>& self, RunContext& context) {
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

void Roudi::start(const Placement& placement) {
  const std::optional<std::string> program = colony::subprocess::find_in_path("iox-roudi");
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
  const std::vector<std::string> args = {*program, "-c", config, "-l", "warning", "-m", "on", "-k", "2"};
  const colony::subprocess::Fd log = colony::subprocess::create_file(log_);
  colony::subprocess::SpawnOptions options;
  options.stdin_fd = colony::subprocess::kNull;
  options.stdout_fd = log.get();
  options.stderr_fd = log.get();
  // Stops (cleanly: it removes its files) when the bench dies.
  options.on_parent_death = colony::subprocess::OnParentDeath::terminate;
  {
    // A daemon: free to run on both of the bench's CPUs, not pinned to the
    // bench's like the process that starts it.
    const Unpinned unpinned(placement);
    daemon_ = colony::subprocess::Child::spawn(args, options);
  }

  const Clock::time_point limit = Clock::now() + kStartTimeout;
  for (;;) {
    const std::string text = read_text(log_);
    if (text.find(kReadyLine) != std::string::npos) {
      // RouDi has read its config and keeps its output open: nothing of
      // the directory is needed any more, and an interrupted run leaves
      // nothing of it behind.
      std::filesystem::remove_all(directory_, error);
      directory_.clear();
      return;
    }
    if (daemon_.try_wait()) throw CaseAbsent("iox-roudi failed to start: " + failure_reason(text));
    if (Clock::now() > limit) {
      stop_process();
      throw CaseAbsent("iox-roudi was not ready within " + std::to_string(kStartTimeout.count()) +
                       " s: " + failure_reason(text));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

void Roudi::stop_process() noexcept {
  if (!daemon_.running()) return;
  daemon_.terminate();
  if (daemon_.wait_for(kStopTimeout)) return;
  std::fprintf(stderr, "colony_bench: iox-roudi (pid %d) did not stop within %lld s; killed\n", daemon_.pid(),
               static_cast<long long>(kStopTimeout.count()));
  daemon_.kill_and_reap();
}

void Roudi::stop() {
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

}  // namespace bench
