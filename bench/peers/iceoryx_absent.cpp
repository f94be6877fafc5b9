// The iceoryx rows when colony_bench was built without iceoryx.

#include "peers/peers.hpp"

namespace bench {

std::vector<Case> iceoryx_cases() {
  return absent_cases(
      "iceoryx",
      {{CaseKind::latency_spin, kPingSize},
       {CaseKind::latency_block, kPingSize},
       {CaseKind::throughput, kSmall},
       {CaseKind::throughput, kMedium},
       {CaseKind::throughput, kLarge}},
      "not compiled in: iceoryx (CMake package iceoryx_posh) was not found when colony_bench was built");
}

}  // namespace bench
