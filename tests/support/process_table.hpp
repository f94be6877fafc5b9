#pragma once
// Processes this one did not start, found by what the OS says of them now: a
// parent's children, the processes of a session (by an environment entry).
// A process's state is colony::subprocess::run_state. Racy by nature: ask
// again with eventually(). Implemented per platform, under this file's name
// in linux/ (a Windows port adds windows/).

#include <string>
#include <vector>

namespace colony::test {

// The pids of the processes whose parent is parent.
std::vector<int> children_of(int parent);

// The live (neither zombie nor gone) processes whose environment holds entry
// exactly ("NAME=value").
std::vector<int> processes_with_environment_entry(const std::string& entry);

// How many times process pid went to sleep and was woken (the kernel's
// voluntary context switches); -1 when it cannot be told.
long voluntary_waits(int pid);
// The same for the thread of this process named name; -1 when there is none.
long own_thread_voluntary_waits(const std::string& name);
// Whether process pid has mapped a file whose name contains part (a
// shared-memory segment, for instance).
bool maps_file_containing(int pid, const std::string& part);

}  // namespace colony::test
