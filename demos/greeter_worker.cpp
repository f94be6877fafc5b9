// A worker executable: reads its shared properties, answers each message
// from its parent, and ends on "bye". Launched by greeter_parent.cpp (or by
// `colony run`).
#include <unistd.h>

#include <string>

#include "colony/worker/worker.hpp"

int main() {
  auto& self = colony::Worker::current();  // attaches to the session
  const auto greeting = self.get_shared_property<std::string>("greeting");
  const auto id = self.get_shared_property<std::int32_t>("id");
  self.on_message<std::string>([&](const std::string& name) {
    if (name == "bye") {
      self.close();  // ends after this handler, exit code 0
      return;
    }
    self.post_message(greeting + ", " + name + ", from worker " + std::to_string(id) + " (pid " +
                      std::to_string(::getpid()) + ")");
  });
  return self.run();  // the event loop
}
