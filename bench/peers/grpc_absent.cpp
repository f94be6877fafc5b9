// The gRPC row when colony_bench was built without gRPC.

#include "peers/peers.hpp"

namespace bench {

std::vector<Case> grpc_cases() {
  return absent_cases("grpc-unix", {{CaseKind::call, 0}},
                      "not compiled in: gRPC was not found (pkg-config grpc++ protobuf, protoc and "
                      "grpc_cpp_plugin) when colony_bench was built");
}

}  // namespace bench
