#pragma once
// Starting worker processes and learning of their ends: the platform layer of
// the broker. Linux: posix_spawn, a pidfd per process, and a reaper thread
// that polls the pidfds. A Win32 implementation fills the same interface
// (CreateProcess, a job object, WaitForMultipleObjects).

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "colony/shm/error.hpp"

namespace colony::broker_detail {

struct Spawned {
  int pid = 0;
  int handle = -1;  // pidfd: signals go through it, never to a reused pid
};

// Starts executable (searched in PATH when it has no '/') with arguments and
// exactly the environment given, in working_directory (unless empty); signals
// blocked or ignored in the caller are reset to defaults in the child. Errors
// name the cause (errno's text).
shm::Expected<Spawned> spawn_process(const std::string& executable, const std::vector<std::string>& arguments,
                                     const std::vector<std::string>& environment,
                                     const std::string& working_directory);
bool signal_process(const Spawned& process, int signal) noexcept;
void release_process(Spawned& process) noexcept;

struct ProcessEnd {
  int pid = 0;
  bool signaled = false;
  int code = 0;    // exit code
  int signal = 0;  // when signaled
};

// Waits for the end of watched processes on its own thread, reaps each one
// and calls on_end (on that thread).
class Reaper {
 public:
  explicit Reaper(std::function<void(const ProcessEnd&)> on_end);
  ~Reaper();  // stops the thread; processes still watched stay unreaped
  void watch(const Spawned& process);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace colony::broker_detail
