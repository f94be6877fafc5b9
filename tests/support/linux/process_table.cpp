// What /proc says: /proc/PID/stat for state and parent, /proc/PID/environ
// for the environment a process started with, /proc/PID/status for its
// wakeups, /proc/PID/maps for what it mapped.
#include "process_table.hpp"

#include <dirent.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

namespace colony::test {
namespace {

struct Stat {
  char state = '?';  // '?': unreadable
  int parent = 0;
};

// "pid (comm) STATE PPID ...": comm may hold spaces and parentheses, the last ')' ends it.
Stat read_stat(const std::string& pid) {
  std::ifstream file("/proc/" + pid + "/stat");
  std::string text;
  std::getline(file, text);  // one line (istreambuf_iterator trips -Wnull-dereference in the TSan build)
  Stat stat;
  const auto close = text.rfind(')');
  if (close == std::string::npos || close + 2 >= text.size()) return stat;
  stat.state = text[close + 2];
  if (close + 4 < text.size()) stat.parent = std::atoi(text.c_str() + close + 4);
  return stat;
}

// Z: a zombie (ended, not yet reaped); X: dead; '?': unreadable, gone.
bool is_live(char state) { return state != 'Z' && state != 'X' && state != 'x' && state != '?'; }

template <class F>
void for_each_pid(F&& visit) {
  DIR* proc = ::opendir("/proc");
  if (proc == nullptr) return;
  while (const dirent* entry = ::readdir(proc)) {
    const int pid = std::atoi(entry->d_name);
    if (pid > 0) visit(pid, std::string(entry->d_name));
  }
  ::closedir(proc);
}

bool environment_holds(const std::string& pid, const std::string& entry) {
  std::ifstream file("/proc/" + pid + "/environ");
  std::stringstream contents;
  contents << file.rdbuf();
  const std::string environment = contents.str();
  std::size_t start = 0;
  while (start < environment.size()) {
    const std::size_t end = environment.find('\0', start);
    if (environment.compare(start, (end == std::string::npos ? environment.size() : end) - start, entry) == 0) {
      return true;
    }
    if (end == std::string::npos) break;
    start = end + 1;
  }
  return false;
}

}  // namespace

std::vector<int> children_of(int parent) {
  std::vector<int> children;
  for_each_pid([&](int pid, const std::string& name) {
    if (read_stat(name).parent == parent) children.push_back(pid);
  });
  return children;
}

std::vector<int> processes_with_environment_entry(const std::string& entry) {
  std::vector<int> pids;
  for_each_pid([&](int pid, const std::string& name) {
    if (!environment_holds(name, entry)) return;
    if (is_live(read_stat(name).state)) pids.push_back(pid);
  });
  return pids;
}

namespace {

long voluntary_switches_in(const std::string& status_path) {
  std::ifstream in(status_path);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("voluntary_ctxt_switches:", 0) == 0) return std::stol(line.substr(line.find(':') + 1));
  }
  return -1;
}

}  // namespace

long voluntary_waits(int pid) { return voluntary_switches_in("/proc/" + std::to_string(pid) + "/status"); }

long own_thread_voluntary_waits(const std::string& name) {
  DIR* tasks = ::opendir("/proc/self/task");
  if (tasks == nullptr) return -1;
  std::string found;
  while (const dirent* entry = ::readdir(tasks)) {
    if (entry->d_name[0] == '.') continue;
    const std::string dir = std::string("/proc/self/task/") + entry->d_name;
    std::ifstream comm(dir + "/comm");
    std::string thread_name;
    std::getline(comm, thread_name);
    if (thread_name == name) found = dir + "/status";
  }
  ::closedir(tasks);
  return found.empty() ? -1 : voluntary_switches_in(found);
}

bool maps_file_containing(int pid, const std::string& part) {
  std::ifstream maps("/proc/" + std::to_string(pid) + "/maps");
  std::string line;
  while (std::getline(maps, line)) {
    if (line.find(part) != std::string::npos) return true;
  }
  return false;
}

}  // namespace colony::test
