#include "command_table.hpp"

namespace colony::cli {

// Each defined in <name>_command.cpp.
Command setup_run(CLI::App& command);
Command setup_clean(CLI::App& command);
Command setup_broker(CLI::App& command);
Command setup_call(CLI::App& command);
Command setup_kill(CLI::App& command);
Command setup_terminate(CLI::App& command);
Command setup_restart(CLI::App& command);
Command setup_ps(CLI::App& command);
Command setup_deadletters(CLI::App& command);
Command setup_bytes(CLI::App& command);
Command setup_prop(CLI::App& command);
Command setup_send(CLI::App& command);
Command setup_recv(CLI::App& command);
Command setup_top(CLI::App& command);
Command setup_bench(CLI::App& command);

std::span<const CommandEntry> command_table() {
  static constexpr CommandEntry kTable[] = {
      {"run", "Start a session in the foreground: run EXE in it as a worker, or the stages of a pipeline file",
       setup_run},
      {"clean", "Remove the shared-memory segments of sessions whose broker is dead", setup_clean},
      {"broker", "Start, stop or inspect a broker in the background", setup_broker},
      {"call", "Queue a call to a named worker (starting it if needed); --wait for the reply", setup_call},
      {"kill", "KILL WORKER: drop the calls queued for NAME, end it after its current call", setup_kill},
      {"terminate", "End NAME's process at once (SIGKILL); its queued calls stay", setup_terminate},
      {"restart", "Start NAME again after supervision gave it up (its history cleared)", setup_restart},
      {"ps", "Named workers, worker processes, channels and shared objects of a session", setup_ps},
      {"deadletters", "The dead-letter box of a named worker: list, replay or drop", setup_deadletters},
      {"bytes", "Shared byte arrays: create, info, read, write, cas, wait, notify", setup_bytes},
      {"prop", "A named worker's shared properties: get or set, as JSON", setup_prop},
      {"send", "Send a JSON value on a channel (as its sender)", setup_send},
      {"recv", "Receive values from a channel (as its receiver), one JSON line each", setup_recv},
      {"top", "A live view of a session: processes, named workers, channels, mutexes", setup_top},
      {"bench", "Run colony_bench: Colony against its peers, one table (colony bench --help)", setup_bench},
  };
  return kTable;
}

}  // namespace colony::cli
