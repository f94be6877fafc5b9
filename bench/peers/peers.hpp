#pragma once
// The lists of peers/, which peers.cpp puts in table order (bench.hpp
// declares peer_cases() for main). A peer whose library was not found when
// colony_bench was built has its rows all the same, absent, with the reason.

#include <vector>

#include "bench.hpp"

namespace bench {

std::vector<Case> kernel_stream_round_trips();  // kernel_streams.cpp: pipe, unix-socket
std::vector<Case> kernel_stream_throughput();   // kernel_streams.cpp: unix-socket
std::vector<Case> boost_queue_cases();          // boost_queue.cpp
std::vector<Case> zeromq_cases();               // zeromq.cpp, or zeromq_absent.cpp
std::vector<Case> iceoryx_cases();              // iceoryx.cpp, or iceoryx_absent.cpp
std::vector<Case> python_spawn_cases();         // python_spawn.cpp
std::vector<Case> grpc_cases();                 // grpc.cpp, or grpc_absent.cpp

// Rows of a peer that cannot run here, shaped like its real ones.
struct RowShape {
  CaseKind kind;
  std::size_t size_bytes;
};
std::vector<Case> absent_cases(const std::string& transport, const std::vector<RowShape>& rows,
                               const std::string& reason);

}  // namespace bench
