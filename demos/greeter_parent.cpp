// The parent: hosts a broker, starts three greeter workers as OS processes,
// talks to them, and waits for their exits.
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "colony/broker/broker.hpp"

int main(int, char** argv) {
  const auto worker_exe = std::filesystem::path(argv[0]).parent_path() / "colony_demo_greeter_worker";
  colony::Broker broker;  // a new session; this process is its host
  auto& host = broker.host();

  int replies = 0;
  int exits = 0;
  std::vector<colony::WorkerHandle> workers;
  for (std::int32_t id = 0; id < 3; ++id) {
    auto worker = host.create(worker_exe);
    worker.set_shared_property("greeting", std::string("hello"));  // readable from its first line
    worker.set_shared_property("id", id);
    worker.on_message<std::string>([&](const std::string& reply) {
      std::printf("%s\n", reply.c_str());
      ++replies;
    });
    worker.on_exit([&, id](const colony::ExitStatus& status) {
      std::printf("worker %d %s\n", id, status.describe().c_str());
      ++exits;
    });
    worker.start();
    worker.post_message(std::string("world"));
    workers.push_back(worker);
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (replies < 3 && std::chrono::steady_clock::now() < deadline) host.dispatch(std::chrono::milliseconds(100));
  for (auto& worker : workers) worker.post_message(std::string("bye"));
  while (exits < 3 && std::chrono::steady_clock::now() < deadline) host.dispatch(std::chrono::milliseconds(100));
  std::printf("%d replies, %d workers ended; the broker now removes the session's segments\n", replies, exits);
  return replies == 3 && exits == 3 ? 0 : 1;
}
