// The PATH search on Linux: directories separated by ':', an empty entry
// meaning the current directory, a file that stat(2) calls regular and
// access(2) lets this process execute, as execvp(3) would look.
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <string>
#include <string_view>

#include "colony/worker/named.hpp"

namespace colony {
namespace {

struct FileCheck {
  const char* why_not = nullptr;  // nullptr: it can be run
  bool exists = false;
};

FileCheck check_file(const std::string& path) {
  struct stat info {};
  if (::stat(path.c_str(), &info) != 0) return {"no such file", false};
  if (!S_ISREG(info.st_mode)) return {"not a regular file", true};
  if (::access(path.c_str(), X_OK) != 0) return {"not executable", true};
  return {nullptr, true};
}

}  // namespace

ExecutableLookup find_executable(const std::string& executable) {
  if (executable.empty()) return {{}, "an empty name"};
  if (executable.find('/') != std::string::npos) {
    if (const FileCheck checked = check_file(executable); checked.why_not != nullptr) {
      return {{}, checked.why_not, checked.exists};
    }
    return {executable, {}};
  }
  const char* path = std::getenv("PATH");
  std::string_view directories = path != nullptr ? path : "/usr/local/bin:/usr/bin:/bin";
  for (;;) {
    const auto colon = directories.find(':');
    const std::string directory(directories.substr(0, colon));
    std::string candidate = (directory.empty() ? "." : directory) + "/" + executable;
    if (check_file(candidate).why_not == nullptr) return {std::move(candidate), {}};
    if (colon == std::string_view::npos) break;
    directories.remove_prefix(colon + 1);
  }
  return {{}, "not found in PATH"};
}

}  // namespace colony
