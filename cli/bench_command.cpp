// colony bench [ARGS...]: runs colony_bench (the benchmark against its peers)
// with ARGS, every one of them, and exits with its exit code (128+N when it
// died by signal N). colony_bench is $COLONY_BENCH when set, else
// <directory of this executable>/../bench/colony_bench (the build tree's layout).

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "child_process.hpp"
#include "commands.hpp"

namespace colony::cli {
namespace {

// "" when there is none.
std::string find_colony_bench() {
  if (const char* configured = std::getenv("COLONY_BENCH"); configured != nullptr && configured[0] != '\0') {
    return is_executable_file(configured) ? std::string(configured) : std::string();
  }
  const std::string self = this_executable_path();
  if (self.empty()) return {};
  const std::string candidate =
      (std::filesystem::path(self).parent_path() / ".." / "bench" / "colony_bench").lexically_normal().string();
  return is_executable_file(candidate) ? candidate : std::string();
}

int run_bench(const std::vector<std::string>& arguments) {
  const std::string bench = find_colony_bench();
  if (bench.empty()) {
    std::fprintf(stderr, "colony: colony_bench not found (build the bench target, or set COLONY_BENCH)\n");
    return kFailure;
  }
  return run_in_foreground(bench, arguments);
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
