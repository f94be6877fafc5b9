// colony_bench_worker: the worker executable the worker rows of colony_bench
// launch. colony_bench finds it next to its own binary.
//
//   colony_bench_worker exit-now
//       exits 0 at once, without attaching to a session: the floor rows
//       (fork-exec, posix-spawn) time the bare start and end of this binary;
//   colony_bench_worker named [--cpu C]
//       a named worker whose method "ping" answers with its pid (the restart
//       and call rows);
//   colony_bench_worker echo [--once] [--spin N] [--cpu C]
//       attaches and sends every std::uint64_t it receives back to its parent;
//       --once: closes itself after the first one (the worker-start row);
//       --spin N: Worker::set_spin(N); --cpu C: pins itself to CPU C first.

#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <optional>
#include <string>

#include "colony/worker/named.hpp"
#include "colony/worker/worker.hpp"
#include "placement.hpp"

namespace {

struct EchoOptions {
  bool once = false;
  std::uint32_t spin = 0;
  int cpu = -1;
};

bool parse_echo(int argc, char** argv, EchoOptions& options) {
  for (int i = 2; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--once") {
      options.once = true;
    } else if (arg == "--spin" && i + 1 < argc) {
      options.spin = static_cast<std::uint32_t>(std::strtoul(argv[++i], nullptr, 10));
    } else if (arg == "--cpu" && i + 1 < argc) {
      options.cpu = std::atoi(argv[++i]);
    } else {
      std::fprintf(stderr, "colony_bench_worker: unknown argument '%s'\n", arg.c_str());
      return false;
    }
  }
  return true;
}

int echo(const EchoOptions& options) {
  if (options.cpu >= 0 && !bench::pin_to(options.cpu)) {
    std::fprintf(stderr, "colony_bench_worker: cannot pin to cpu %d: %s\n", options.cpu, std::strerror(errno));
  }
  colony::Worker& self = colony::Worker::current();
  self.set_spin(options.spin);
  self.on_message<std::uint64_t>([&self, once = options.once](std::uint64_t value) {
    self.post_message(value);
    if (once) self.close();
  });
  return self.run();
}

}  // namespace

int main(int argc, char** argv) {
  // Before anything else: this mode is the floor of a process start.
  if (argc == 2 && std::strcmp(argv[1], "exit-now") == 0) return 0;
  if (argc >= 2 && std::strcmp(argv[1], "named") == 0) {
    // A named worker for the restart and call rows: answers "ping" with its
    // pid; --cpu C pins it first, --spin N spins that long for the next
    // call before sleeping (the call rows).
    for (int i = 2; i + 1 < argc; i += 2) {
      if (std::strcmp(argv[i], "--cpu") == 0 && !bench::pin_to(std::atoi(argv[i + 1]))) {
        std::fprintf(stderr, "colony_bench_worker: cannot pin to cpu %s: %s\n", argv[i + 1], std::strerror(errno));
      } else if (std::strcmp(argv[i], "--spin") == 0) {
        colony::Worker::current().set_spin(static_cast<std::uint32_t>(std::strtoul(argv[i + 1], nullptr, 10)));
      }
    }
    colony::Methods methods;
    methods.on("ping", [](const colony::Call&) { return colony::Value(static_cast<long long>(::getpid())); });
    return methods.serve();
  }
  if (argc < 2 || std::strcmp(argv[1], "echo") != 0) {
    std::fprintf(stderr, "usage: colony_bench_worker exit-now | named [--cpu C] [--spin N] | echo [--once] [--spin N] [--cpu C]\n");
    return 64;
  }
  EchoOptions options;
  if (!parse_echo(argc, argv, options)) return 64;
  try {
    return echo(options);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "colony_bench_worker: %s\n", e.what());
    return 70;
  }
}
