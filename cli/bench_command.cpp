// colony bench [ARGS...]: runs colony_bench (the benchmark against its peers)
// with ARGS, every one of them, and exits with its exit code (128+N when it
// died by signal N). colony_bench is $COLONY_BENCH when set, else
// <directory of this executable>/../bench/colony_bench (the build tree's layout).

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <system_error>
#include <vector>

#include "commands.hpp"

extern char** environ;

namespace colony::cli {
namespace {

// The running colony_bench, for the signal forwarder.
std::atomic<pid_t> g_bench_pid{-1};

extern "C" void forward_to_bench(int signal_number) {
  const pid_t pid = g_bench_pid.load();
  if (pid > 0) ::kill(pid, signal_number);
}

bool is_executable(const std::string& path) {
  std::error_code error;
  return std::filesystem::is_regular_file(path, error) && ::access(path.c_str(), X_OK) == 0;
}

// "" when there is none.
std::string find_colony_bench() {
  if (const char* configured = std::getenv("COLONY_BENCH"); configured != nullptr && configured[0] != '\0') {
    return is_executable(configured) ? std::string(configured) : std::string();
  }
  std::error_code error;
  const std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", error);
  if (error) return {};
  const std::string candidate = (self.parent_path() / ".." / "bench" / "colony_bench").lexically_normal().string();
  return is_executable(candidate) ? candidate : std::string();
}

// While colony_bench runs: SIGINT and SIGQUIT, which a terminal sends to both
// processes, are left to it (as system() does); SIGTERM and SIGHUP sent to
// colony are passed on. Restored when the scope ends.
class SignalsToChild {
 public:
  SignalsToChild() {
    struct sigaction ignore {};
    ignore.sa_handler = SIG_IGN;
    sigemptyset(&ignore.sa_mask);
    struct sigaction forward {};
    forward.sa_handler = forward_to_bench;
    sigemptyset(&forward.sa_mask);
    ::sigaction(SIGINT, &ignore, &saved_[0]);
    ::sigaction(SIGQUIT, &ignore, &saved_[1]);
    ::sigaction(SIGTERM, &forward, &saved_[2]);
    ::sigaction(SIGHUP, &forward, &saved_[3]);
  }
  SignalsToChild(const SignalsToChild&) = delete;
  SignalsToChild& operator=(const SignalsToChild&) = delete;
  ~SignalsToChild() {
    ::sigaction(SIGINT, &saved_[0], nullptr);
    ::sigaction(SIGQUIT, &saved_[1], nullptr);
    ::sigaction(SIGTERM, &saved_[2], nullptr);
    ::sigaction(SIGHUP, &saved_[3], nullptr);
  }

 private:
  struct sigaction saved_[4] {};
};

int run_bench(const std::vector<std::string>& arguments) {
  const std::string bench = find_colony_bench();
  if (bench.empty()) {
    std::fprintf(stderr, "colony: colony_bench not found (build the bench target, or set COLONY_BENCH)\n");
    return kFailure;
  }
  std::vector<std::string> words;
  words.push_back(bench);
  words.insert(words.end(), arguments.begin(), arguments.end());
  std::vector<char*> argv;
  for (std::string& word : words) argv.push_back(word.data());
  argv.push_back(nullptr);

  // colony_bench starts with default dispositions and no blocked signal,
  // whatever this process changed.
  posix_spawnattr_t attributes;
  posix_spawnattr_init(&attributes);
  sigset_t defaults;
  sigemptyset(&defaults);
  for (const int signal_number : {SIGINT, SIGQUIT, SIGTERM, SIGHUP, SIGPIPE}) sigaddset(&defaults, signal_number);
  sigset_t none;
  sigemptyset(&none);
  posix_spawnattr_setsigdefault(&attributes, &defaults);
  posix_spawnattr_setsigmask(&attributes, &none);
  posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);

  std::fflush(nullptr);
  const SignalsToChild signals;
  // A SIGTERM or SIGHUP that comes before the pid is known waits for it.
  sigset_t forwarded;
  sigemptyset(&forwarded);
  sigaddset(&forwarded, SIGTERM);
  sigaddset(&forwarded, SIGHUP);
  sigset_t previous;
  ::pthread_sigmask(SIG_BLOCK, &forwarded, &previous);
  pid_t pid = -1;
  const int spawned = ::posix_spawn(&pid, bench.c_str(), nullptr, &attributes, argv.data(), environ);
  posix_spawnattr_destroy(&attributes);
  if (spawned == 0) g_bench_pid.store(pid);
  ::pthread_sigmask(SIG_SETMASK, &previous, nullptr);
  if (spawned != 0) {
    std::fprintf(stderr, "colony: cannot run %s: %s\n", bench.c_str(), std::strerror(spawned));
    return kFailure;
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) {
      g_bench_pid.store(-1);
      std::fprintf(stderr, "colony: waiting for colony_bench: %s\n", std::strerror(errno));
      return kFailure;
    }
  }
  g_bench_pid.store(-1);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return WIFEXITED(status) ? WEXITSTATUS(status) : kFailure;
}

}  // namespace

Command setup_bench(CLI::App& command) {
  // Every argument after "bench" belongs to colony_bench, --help included.
  command.prefix_command();
  command.set_help_flag();
  command.footer(
      "Runs $COLONY_BENCH, else <directory of colony>/../bench/colony_bench, with the\n"
      "arguments given and exits with its exit code (128+N when it died by signal N).");
  return {[&command] { return run_bench(command.remaining()); }};
}

}  // namespace colony::cli
