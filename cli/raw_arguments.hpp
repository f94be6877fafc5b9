#pragma once
// Positional arguments exactly as typed. CLI11 takes "[a,b]" given to a list
// option for a list literal and splits it into a and b, which tears JSON
// apart ('[5,7]' would arrive as 5 and 7, '[]' would vanish). A command whose
// arguments are data declares its fixed positionals, calls allow_extras(),
// and takes the rest from here: CLI11 leaves extras untouched, and options
// still work anywhere on the line.

#include <CLI/CLI.hpp>
#include <cctype>
#include <string>
#include <vector>

#include "session_option.hpp"

namespace colony::cli {

// What CLI11 left over, in order. allow_extras() also lets an unknown option
// through: anything that starts with '-' and is not a negative number is
// refused here as one.
inline std::vector<std::string> raw_arguments(const CLI::App& command) {
  std::vector<std::string> arguments = command.remaining();
  for (const auto& argument : arguments) {
    const bool looks_like_option =
        argument.size() > 1 && argument[0] == '-' && std::isdigit(static_cast<unsigned char>(argument[1])) == 0;
    if (looks_like_option) {
      throw UsageError(command.get_name() + ": unknown option '" + argument + "' (see colony " + command.get_name() +
                       " --help)");
    }
  }
  return arguments;
}

}  // namespace colony::cli
