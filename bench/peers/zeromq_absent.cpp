// The ZeroMQ rows when colony_bench was built without libzmq.

#include "peers/peers.hpp"

namespace bench {

std::vector<Case> zeromq_cases() {
  return absent_cases("zeromq",
                      {{CaseKind::latency_block, kPingSize},
                       {CaseKind::throughput, kSmall},
                       {CaseKind::throughput, kMedium},
                       {CaseKind::throughput, kLarge}},
                      "not compiled in: libzmq was not found (pkg-config libzmq) when colony_bench was built");
}

}  // namespace bench
