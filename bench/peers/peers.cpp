// Every peer's rows, in the table's order within a kind: pipes and sockets,
// Boost, ZeroMQ, iceoryx, Python, gRPC.

#include "peers/peers.hpp"

#include <utility>

namespace bench {

std::vector<Case> peer_cases() {
  std::vector<Case> rows;
  for (auto list : {kernel_stream_round_trips, boost_queue_cases, kernel_stream_throughput, zeromq_cases,
                    iceoryx_cases, python_spawn_cases, grpc_cases}) {
    for (Case& row : list()) rows.push_back(std::move(row));
  }
  return rows;
}

std::vector<Case> absent_cases(const std::string& transport, const std::vector<RowShape>& rows,
                               const std::string& reason) {
  std::vector<Case> out;
  for (const RowShape& shape : rows) {
    out.push_back(Case{shape.kind, transport, shape.size_bytes,
                       [reason](RunContext&) -> Measurement { throw CaseAbsent(reason); }});
  }
  return out;
}

}  // namespace bench
