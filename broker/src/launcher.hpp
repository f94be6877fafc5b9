#pragma once
// Starting worker processes, stopping them and learning of their ends: the
// platform layer of the broker (linux/launcher.cpp). The logic above names
// no signal and no handle kind: it asks a process to stop, kills it, and is
// told when it ended. A Win32 implementation fills the same interface
// (CreateProcess, a job object, WaitForMultipleObjects).

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "colony/shm/error.hpp"

namespace colony::broker_detail {

struct Spawned {
  int pid = 0;
  int handle = -1;  // the OS's handle of this very process: never a reused pid
};

// Starts executable (found by colony::find_executable when it has no '/'; a
// path with '/' is taken from working_directory) with arguments and
// exactly the environment given, in working_directory (unless empty); signals
// blocked or handled in the caller are reset to defaults in the child, and the
// child is killed if the calling thread ends, from before its first
// instruction on. Errors carry the OS's error number and name the cause.
// stdin_fd / stdout_fd / stderr_fd (-1: inherit) become the child's standard
// input, output and error.
shm::Expected<Spawned> spawn_process(const std::string& executable, const std::vector<std::string>& arguments,
                                     const std::vector<std::string>& environment,
                                     const std::string& working_directory, int stdin_fd = -1, int stdout_fd = -1,
                                     int stderr_fd = -1);
// Whether a spawn_process error means the executable cannot be run at all
// (missing, or not executable), as opposed to the OS failing otherwise.
inline bool cannot_execute(const shm::Error& error) noexcept {
  return error.code == shm::Errc::not_found || error.code == shm::Errc::not_permitted;
}
// The session is ending: the process may clean up and exit (it is killed
// after the grace period). False when it could not be told.
bool ask_to_stop(const Spawned& process) noexcept;
// Ends the process now, whatever it does. False when it could not be killed.
bool kill_process(const Spawned& process) noexcept;
// Whether this process lets the kernel reap its children (SIGCHLD ignored or
// SA_NOCLDWAIT): then no exit status can be learnt.
bool children_are_auto_reaped() noexcept;
void release_process(Spawned& process) noexcept;
// SIGKILL, then waits for the end and reaps it (a killed process ends at
// once), then releases the handle: for a process that must not run on.
void kill_and_reap(Spawned& process) noexcept;
// This process's environment, for a worker's to start from.
std::vector<std::string> inherited_environment();
// Names the calling thread where the OS shows thread names (top -H, a
// debugger), so that the broker's threads can be told apart.
void name_this_thread(const char* name) noexcept;

struct ProcessEnd {
  std::uint64_t token = 0;  // what watch() was given: identifies the process even if its pid is reused
  int pid = 0;
  bool known = true;      // false: something else reaped it, the status is lost
  bool signaled = false;
  int code = 0;    // exit code
  int signal = 0;  // when signaled
  std::uint64_t noticed_ns = 0;  // steady clock, when the end was seen
  std::string stderr_tail;       // the last lines of its standard error, when watched
};

// Waits for the end of watched processes on its own thread, reaps each one
// and calls on_end (on that thread).
class Reaper {
 public:
  explicit Reaper(std::function<void(const ProcessEnd&)> on_end);
  ~Reaper();  // stops the thread; processes still watched stay unreaped
  // stderr_fd (-1: none), the read end of the process's standard error, is
  // now the reaper's: it copies what arrives to this process's standard
  // error (never blocking on it) and keeps the tail for the ProcessEnd.
  // The error when the process cannot be watched (the system refused a
  // descriptor): then its end would never be seen, so the caller kills it
  // (kill_and_reap) and treats the start as failed; stderr_fd is closed.
  std::optional<shm::Error> watch(const Spawned& process, std::uint64_t token, int stderr_fd = -1);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace colony::broker_detail
