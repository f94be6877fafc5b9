#pragma once
// A child process this process started, owned RAII-style: one that is still
// running when its Child goes away is killed (SIGKILL; on Windows
// TerminateProcess, which ExitStatus reads as signal 9) and reaped, so a test
// that fails early or a bench case that throws leaves no process behind.
// Every wait takes a deadline.

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace colony::subprocess {

using Clock = std::chrono::steady_clock;

// How a child ended.
struct ExitStatus {
  bool exited = false;  // exited normally with code
  int code = -1;
  bool signaled = false;  // killed by signal
  int signal = 0;

  bool ok() const noexcept { return exited && code == 0; }
  bool killed_by_sigkill() const noexcept;
  // "Killed", "Terminated": the system's name of signal.
  std::string signal_name() const;
  // "exited with code 3", "killed by signal Killed", "still running (timed out)".
  std::string describe() const;
};

// What the child gets when this process dies before it: nothing, SIGKILL, or
// SIGTERM (for a daemon that removes its files when asked to stop).
enum class OnParentDeath { nothing, kill, terminate };

// How a forked child (Child::run) ends after its function returned: quickly
// (_exit: no destructor or atexit handler of the copied parent runs), or
// normally (exit: static destructors run, for a library that must leave a
// daemon when its process ends).
enum class Ending { quick, normal };

// Standard descriptors of a spawned child: kInherit keeps ours, kNull gives
// it /dev/null, any other value is a descriptor of ours it gets instead.
inline constexpr int kInherit = -1;
inline constexpr int kNull = -2;

struct SpawnOptions {
  // Variables set (or replaced) in the child's environment, over ours.
  std::vector<std::pair<std::string, std::string>> environment;
  int stdin_fd = kInherit;
  int stdout_fd = kInherit;
  int stderr_fd = kInherit;
  OnParentDeath on_parent_death = OnParentDeath::kill;
};

class Child {
 public:
  // Runs argv[0] (a path) with argv. The program starts with every signal at
  // its default disposition and none blocked, whatever this process set.
  // Throws std::system_error when it cannot be started.
  static Child spawn(const std::vector<std::string>& argv, const SpawnOptions& options = {});

  // Forks a copy of this process that runs body and ends with the code it
  // returns (1 when it throws). Buffered standard output is flushed first,
  // so nothing is printed twice. Signal dispositions stay as they are.
  static Child run(const std::function<int()>& body, OnParentDeath on_parent_death, Ending ending);

  Child() = default;
  Child(Child&& other) noexcept;
  // Kills and reaps the process this one held, if it still runs.
  Child& operator=(Child&& other) noexcept;
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;
  ~Child();

  int pid() const noexcept { return pid_; }
  // True from the start until the child is reaped.
  bool running() const noexcept { return pid_ > 0 && !status_; }
  // How it ended, once reaped.
  const std::optional<ExitStatus>& status() const noexcept { return status_; }

  // Reaps the child if it has ended; nullopt while it runs.
  std::optional<ExitStatus> try_wait();
  // Waits until the child ends (and reaps it) or the deadline passes (nullopt).
  std::optional<ExitStatus> wait_until(Clock::time_point deadline);
  std::optional<ExitStatus> wait_for(std::chrono::milliseconds timeout);
  // Waits until the child stops itself (SIGSTOP). False when it ended first
  // (reaped: see status()) or the deadline passed.
  bool wait_until_stopped(Clock::time_point deadline);

  void kill() noexcept;       // SIGKILL; not reaped
  void terminate() noexcept;  // SIGTERM
  void resume() noexcept;     // SIGCONT, for a stopped child
  // SIGKILL, then reaps it (a killed process ends at once, stopped or not).
  ExitStatus kill_and_reap() noexcept;

 private:
  Child(int pid, int handle) noexcept : pid_(pid), handle_(handle) {}
  void release() noexcept;  // kills and reaps a running child, closes its handle
  void reaped(int wait_status) noexcept;

  int pid_ = -1;
  int handle_ = -1;  // the OS's handle on the child (Linux: a pidfd); -1 where there is none: waits then sleep in slices
  std::optional<ExitStatus> status_;
};

// SIGKILL to a process this one did not start (a broker's worker); false
// when there is no such process.
bool kill_process(int pid) noexcept;
// The other things a test does to a process it did not start, each false
// when there is no such process. Asks it to end, as a service manager would
// (SIGTERM):
bool ask_to_end(int pid) noexcept;
// Interrupts it as Ctrl-C at its terminal would (SIGINT).
bool interrupt(int pid) noexcept;
// Lets a stopped process (at a failpoint, or by stop_self) go on (SIGCONT).
bool resume(int pid) noexcept;
// Stops this process as a debugger would, until another resumes it (SIGSTOP).
void stop_self() noexcept;

// Called in a child that should not outlive its parent: it gets SIGKILL when
// the parent dies. False when the parent is already gone (this process was
// handed to init), which the caller should treat as its end.
bool die_with_parent() noexcept;

// Sets (or with nullopt removes) a variable of this process's environment,
// which children started from then on inherit.
void set_environment_variable(const std::string& name, const std::optional<std::string>& value);

// The path of this process's executable.
std::string self_executable();
// The first executable file named program in $PATH.
std::optional<std::string> find_in_path(std::string_view program);

// What the kernel says a process is doing: for a test, asleep in a wait,
// or stopped at a failpoint.
enum class RunState { running, sleeping, stopped, other, gone };
RunState run_state(int pid);

}  // namespace colony::subprocess
