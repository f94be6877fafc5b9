#pragma once
// What the demos ask of the OS about processes: where their sibling
// executables are, starting, reaping and killing a child, dying with a
// parent, Ctrl-C. Implemented per platform, under this file's name in
// linux/ (a Windows port adds windows/).

#include <optional>
#include <string>
#include <vector>

namespace demo {

// The path of the running executable; nullopt when the OS does not say.
std::optional<std::string> this_executable();
// The executable called name in this executable's directory. Throws when
// this executable's path is unknown.
std::string sibling_executable(const std::string& name);

// How a child ended.
struct ChildExit {
  bool exited = false;  // ran to its end with code
  int code = -1;
  int signal = 0;       // killed by this signal when not exited
  bool succeeded() const noexcept { return exited && code == 0; }
  // "exited with code 3", "was killed by signal 9 (Killed)".
  std::string describe() const;
};

// Starts argv[0] (a path) with argv and this process's environment. Returns
// its pid, or -1 with why in error.
int start_process(const std::vector<std::string>& argv, std::string& error);
// Reaps pid if it has ended; never blocks.
std::optional<ChildExit> try_reap(int pid);
// Ends pid at once (SIGKILL); false when no such process could be killed.
bool kill_process(int pid);

// Arranges for this process to be killed when its parent dies; false when
// the parent (parent_pid) is gone already.
bool die_with_parent(int parent_pid);
// Calls handler on Ctrl-C or a termination request. The system call it
// interrupts is not restarted, so a waiting demo sees the request at once.
void on_interrupt(void (*handler)(int));
// Whether standard error is a terminal (progress lines redraw in place).
bool stderr_is_terminal();

}  // namespace demo
