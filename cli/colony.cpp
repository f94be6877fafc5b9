// colony: launch, call, kill and inspect workers.
#include <cstdio>
#include <string>
#include <vector>

#include "command_line.hpp"

int main(int argc, char** argv) {
  colony::cli::CommandLine command_line;
  const colony::cli::ParsedCommandLine parsed = command_line.parse(std::vector<std::string>(argv, argv + argc));
  if (!parsed.chosen) {
    std::fputs(parsed.output.c_str(), stdout);
    std::fputs(parsed.errors.c_str(), stderr);
    return parsed.exit_code;
  }
  return command_line.run();
}
