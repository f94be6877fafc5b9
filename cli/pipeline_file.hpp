#pragma once
// A pipeline description file (TOML) for `colony run --pipeline FILE`:
//
//   [session]                 # optional
//   name = "words"            # default: a random name (--session, then $COLONY_SESSION, win)
//   max_workers = 16
//
//   [[worker]]                # a named worker the session offers (colony call)
//   name = "dictionary"
//   exec = "./dictionary"     # relative to the file's directory when it has a '/'; must be executable
//   args = ["--lang", "en"]
//   max_attempts = 3          # deaths on one call before it is dead-lettered
//   restart = "on-failure"    # supervision: "never", "on-failure" or "always"
//   max_restarts = 10         # more restarts than this within...
//   restart_window_ms = 60000 # ...this window, and the worker is given up
//   backoff_ms = 10           # back-off from the second restart in a window,
//   backoff_max_ms = 1000     # doubling up to this
//   handler_timeout_ms = 0    # a handler running longer is killed (0: never)
//
//   [[stage]]                 # stages, connected by channels
//   name = "source"
//   exec = "./produce"        # a Colony worker: colony::stage_channels()
//
//   [[stage]]
//   name = "upper"
//   exec = "tr"               # no '/': looked up in PATH
//   args = ["a-z", "A-Z"]
//   plain = true              # knows nothing of Colony: stdin and stdout
//   output = "lines"          # or "chunks" (plain stages only)
//   input = "source"          # default: the stage before it; "none" for none
//   capacity = 262144         # bytes of its output channel (default: the session's)
//
// A stage whose output no stage reads is printed on colony's standard output.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "colony/broker/supervision.hpp"

namespace colony::cli {

struct NamedWorkerSpec {
  std::string name;
  std::string executable;
  std::vector<std::string> arguments;
  NamedWorkerOptions options;
};

struct StageSpec {
  std::string name;
  std::string executable;
  std::vector<std::string> arguments;
  bool plain = false;
  bool chunks = false;
  std::optional<std::size_t> input;  // the index of the stage it reads
  std::size_t capacity = 0;          // 0: the session's default
};

struct PipelineSpec {
  std::string session;  // empty: not given
  std::optional<std::uint32_t> max_workers;
  std::vector<NamedWorkerSpec> workers;
  std::vector<StageSpec> stages;  // in an order where every input comes first
};

// Reads and checks the whole file; throws UsageError naming the file, the line
// and what is wrong.
PipelineSpec read_pipeline_file(const std::string& path);

}  // namespace colony::cli
