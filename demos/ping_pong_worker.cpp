// colony_demo_ping_pong_worker: the far end of the ping-pong (ping_pong_host.cpp
// is the near end). Sends every number straight back on the default channel
// pair and ends on "bye". Nothing else happens here, so a round trip measures
// Colony's message path and wake-ups, not this worker's work.
#include <cstdint>
#include <string>

#include "colony/worker/worker.hpp"

int main() {
  auto& self = colony::Worker::current();
  // --spin on the host: this side spins as long before sleeping, or the host
  // would spin only to wait for a worker sleeping in the kernel.
  self.set_spin(self.get_shared_property<std::uint32_t>("spin"));
  self.on_message<std::uint64_t>([&](std::uint64_t ball) { self.post_message(ball); });
  self.on_message<std::string>([&](const std::string&) { self.close(); });
  return self.run();
}
