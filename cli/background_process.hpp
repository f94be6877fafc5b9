#pragma once
// A process of colony's own in the background, as the platform makes one
// (cli/linux/background_process.cpp): colony broker start leaves its broker
// running this way.

#include <functional>
#include <string>

namespace colony::cli {

// The background process's one line to the process that started it, saying
// how its start went. Said once: the starter stops listening after it.
class StartReport {
 public:
  explicit StartReport(int channel) : channel_(channel) {}
  StartReport(const StartReport&) = delete;
  StartReport& operator=(const StartReport&) = delete;
  ~StartReport();
  void say(const std::string& line);

 private:
  int channel_;
};

// Runs body in a new process, detached from the terminal and from the
// shell's job control (its own session; standard streams on the null
// device), and returns what it said: empty when it ended without a word.
// body's return value is the process's exit code. Call before this process
// has started any thread: the new process has only the calling one.
std::string start_in_background(const std::function<int(StartReport&)>& body);

// Asks the process to end, as the platform asks (on Linux, SIGTERM); false
// when it could not be asked.
bool ask_process_to_end(int pid);

}  // namespace colony::cli
