#pragma once
// Each subcommand registers its options on the app and returns the function
// that runs it; main() picks the one the command line chose.

#include <CLI/CLI.hpp>
#include <functional>

namespace colony::cli {

// Exit codes shared by every subcommand (documented in the README).
inline constexpr int kSuccess = 0;
inline constexpr int kFailure = 1;      // the command could not do what was asked
inline constexpr int kUsage = 2;        // bad arguments
inline constexpr int kCannotRun = 127;  // colony run: the worker could not be started

using Runner = std::function<int()>;

Runner add_run_command(CLI::App& app);
Runner add_clean_command(CLI::App& app);

}  // namespace colony::cli
