#pragma once
// Every subcommand of colony, in one table: adding a command is its file and
// one entry in command_table.cpp.

#include <span>

#include "commands.hpp"

namespace colony::cli {

struct CommandEntry {
  const char* name;
  const char* summary;  // its line in `colony --help`
  CommandSetup setup;
};

// In the order `colony --help` lists them.
std::span<const CommandEntry> command_table();

}  // namespace colony::cli
