// cli/linux: the Linux side of the command's platform headers (one .cpp per
// header in cli/: background_process, broken_pipe, child_process,
// process_stats, stop_on_signals, terminal). Nothing above this folder
// calls the OS for what differs between platforms.
//
// Here: a background process by fork, detached with setsid; it reports
// through a pipe.
#include "background_process.hpp"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <stdexcept>

namespace colony::cli {

StartReport::~StartReport() {
  if (channel_ >= 0) ::close(channel_);
}

void StartReport::say(const std::string& line) {
  if (channel_ < 0) return;
  (void)!::write(channel_, line.data(), line.size());
  // Closed at once: the starter reads to the end of the pipe, and the
  // process goes on running.
  ::close(channel_);
  channel_ = -1;
}

std::string start_in_background(const std::function<int(StartReport&)>& body) {
  int report[2];
  // Close-on-exec: a process the background one starts (a worker the broker
  // starts at once) must not hold the pipe open, or the starter would wait on.
  if (::pipe2(report, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
  const pid_t pid = ::fork();
  if (pid < 0) {
    ::close(report[0]);
    ::close(report[1]);
    throw std::runtime_error("fork failed");
  }
  if (pid == 0) {
    ::close(report[0]);
    ::setsid();
    const int null_fd = ::open("/dev/null", O_RDWR | O_CLOEXEC);
    if (null_fd >= 0) {
      ::dup2(null_fd, STDIN_FILENO);
      ::dup2(null_fd, STDOUT_FILENO);
      ::dup2(null_fd, STDERR_FILENO);
      if (null_fd > STDERR_FILENO) ::close(null_fd);
    }
    int code = 1;
    try {
      StartReport said(report[1]);
      code = body(said);
    } catch (...) {
      // Nothing to tell: the starter sees the pipe end without a word.
    }
    std::_Exit(code);
  }
  ::close(report[1]);
  std::string answer;
  char buffer[256];
  for (ssize_t n; (n = ::read(report[0], buffer, sizeof buffer)) > 0;) answer.append(buffer, static_cast<std::size_t>(n));
  ::close(report[0]);
  return answer;
}

bool ask_process_to_end(int pid) { return pid > 0 && ::kill(pid, SIGTERM) == 0; }

}  // namespace colony::cli
