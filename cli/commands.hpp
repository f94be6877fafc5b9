#pragma once
// What every subcommand shares: its exit codes, the error for bad words, and
// its shape. A subcommand lives in <command>_command.cpp as one setup
// function, listed once in command_table.cpp; the setup registers the
// command's options on the CLI11 app the table made for it and returns what
// runs it.

#include <CLI/CLI.hpp>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

#include "colony/worker/errors.hpp"

namespace colony::cli {

// Exit codes shared by every subcommand (documented in the README).
inline constexpr int kSuccess = 0;
inline constexpr int kFailure = 1;      // the command could not do what was asked
inline constexpr int kUsage = 2;        // bad arguments
inline constexpr int kTimedOut = 3;     // no answer before --timeout
inline constexpr int kCannotRun = 127;  // colony run: the worker could not be started

// The one mapping from the worker API's error codes to exit codes: a timeout
// is kTimedOut, every other failure kFailure (usage errors are found before
// any call and are UsageError's).
constexpr int exit_code_for(WorkerErrc code) noexcept { return code == WorkerErrc::timed_out ? kTimedOut : kFailure; }

// Bad words on the command line, found after parsing: exit code kUsage.
class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

using Runner = std::function<int()>;

// For a command whose trailing words CLI11 must never see (colony run EXE
// ARGS...): takes them out of the whole command line (the program name
// first) before it is parsed, and returns the rest.
using SetAside = std::function<std::vector<std::string>(std::vector<std::string>)>;

// A subcommand with its options registered.
struct Command {
  Command(Runner run_it, SetAside set_aside_words = {}) : run(std::move(run_it)), set_aside(std::move(set_aside_words)) {}
  Runner run;  // runs it, once the command line chose it
  SetAside set_aside;  // empty for all but colony run
};

// Registers a subcommand's options, arguments and help on the app made for it.
using CommandSetup = Command (*)(CLI::App& command);

}  // namespace colony::cli
