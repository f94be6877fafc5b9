// colony: launch, call, kill and inspect workers.
#include <cstdio>
#include <exception>
#include <string>

#include "colony/worker/errors.hpp"
#include "commands.hpp"
#include "session_option.hpp"

int main(int argc, char** argv) {
  CLI::App app{"colony: a multi-process IPC broker on shared memory", "colony"};
  app.require_subcommand(1);
  app.set_help_all_flag("--help-all", "Show the help of every subcommand");
  const auto run = colony::cli::add_run_command(app);
  const auto clean = colony::cli::add_clean_command(app);
  const auto broker = colony::cli::add_broker_command(app);
  const auto call = colony::cli::add_call_command(app);
  const auto named = colony::cli::add_named_commands(app);
  const auto data = colony::cli::add_data_commands(app);
  const auto channels = colony::cli::add_channel_commands(app);
  const auto top = colony::cli::add_top_command(app);
  const auto bench = colony::cli::add_bench_command(app);
  std::string known;
  bool is_known = false;
  for (const auto* command : app.get_subcommands({})) {
    known += (known.empty() ? "" : ", ") + command->get_name();
    is_known = is_known || (argc > 1 && command->get_name() == argv[1]);
  }
  if (argc > 1 && argv[1][0] != '-' && !is_known) {
    std::fprintf(stderr, "colony: unknown command '%s' (commands: %s)\nRun 'colony --help' for usage.\n", argv[1],
                 known.c_str());
    return colony::cli::kUsage;
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "colony: %s\nRun 'colony --help' for usage.\n", e.what());
    return colony::cli::kUsage;
  }
  try {
    if (app.got_subcommand("run")) return run();
    if (app.got_subcommand("clean")) return clean();
    if (app.got_subcommand("broker")) return broker();
    if (app.got_subcommand("call")) return call();
    if (app.got_subcommand("bytes") || app.got_subcommand("prop")) return data();
    if (app.got_subcommand("send") || app.got_subcommand("recv")) return channels();
    if (app.got_subcommand("top")) return top();
    if (app.got_subcommand("bench")) return bench();
    for (const char* command : {"kill", "terminate", "restart", "ps", "deadletters"}) {
      if (app.got_subcommand(command)) return named();
    }
  } catch (const colony::cli::UsageError& e) {
    std::fprintf(stderr, "colony: %s\n", e.what());
    return colony::cli::kUsage;
  } catch (const colony::WorkerError& e) {
    std::fprintf(stderr, "colony: %s\n", e.what());
    return colony::cli::kFailure;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "colony: %s\n", e.what());
    return colony::cli::kFailure;
  }
  return colony::cli::kUsage;
}
