#pragma once
// The colony command line: every subcommand of the table (command_table.hpp)
// registered on one CLI11 app, the parse that picks one, and the call of the
// one picked. Parsing runs no
// command and prints nothing, so anything may parse any words (the fuzz
// target over the command line does) without side effects.

#include <CLI/CLI.hpp>
#include <map>
#include <string>
#include <vector>

#include "commands.hpp"

namespace colony::cli {

// What parsing a command line decided.
struct ParsedCommandLine {
  bool chosen = false;  // a command was chosen: run() runs it
  int exit_code = 0;    // when !chosen: what colony exits with (help: 0, bad words: kUsage)
  std::string output;   // when !chosen: for standard output (help)
  std::string errors;   // when !chosen: for standard error, lines with their ends
};

class CommandLine {
 public:
  CommandLine();
  CommandLine(const CommandLine&) = delete;
  CommandLine& operator=(const CommandLine&) = delete;

  // Parses argv as given (the program name first). Once only.
  ParsedCommandLine parse(std::vector<std::string> command_line);
  // Runs the command parse() chose; its exit code. Errors are printed here.
  int run() const;

 private:
  ParsedCommandLine help(const CLI::Error& request) const;

  CLI::App app_{"colony: a multi-process IPC broker on shared memory", "colony"};
  std::map<const CLI::App*, Command> commands_;  // by the subcommand's app
};

}  // namespace colony::cli
