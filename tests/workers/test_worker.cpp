// The worker executable the multi-process tests launch. argv[1] names the
// behaviour; each is a small worker a user might write.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <thread>

#include "colony/worker/worker.hpp"

namespace {

using colony::Worker;

// Echoes strings and increments integers back to the parent.
int echo(Worker& self) {
  self.on_message<std::string>([&](std::string text) { self.post_message(text); });
  self.on_message<std::int32_t>([&](std::int32_t n) { self.post_message(std::int32_t{n + 1}); });
  return self.run();
}

int main_with(const std::string& mode, int argc, char** argv) {
  if (mode == "not-a-worker") {
    // Never calls Worker::current(): the broker must give up on it.
    std::this_thread::sleep_for(std::chrono::seconds(60));
    return 0;
  }
  if (mode == "exit") {
    (void)Worker::current();
    return argc > 2 ? std::atoi(argv[2]) : 0;
  }
  if (mode == "exit-without-attaching") return argc > 2 ? std::atoi(argv[2]) : 0;
  auto& self = Worker::current();
  if (mode == "echo") return echo(self);
  std::fprintf(stderr, "test_worker: unknown mode '%s'\n", mode.c_str());
  return 64;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: colony_test_worker MODE [ARGS...]\n");
    return 64;
  }
  try {
    return main_with(argv[1], argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "test_worker %s: %s\n", argv[1], e.what());
    return 70;
  }
}
