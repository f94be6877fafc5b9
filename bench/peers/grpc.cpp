// gRPC as a peer of the call rows: what a team would pick for local
// request/response today. A unary call over a Unix socket, synchronous on
// both sides, the service of answerer.proto:
//
//   call  grpc-unix  the bench's stub calls Ping (an empty request) and waits
//                    for the reply (the server's pid), the server in the peer
//                    answers at once; timed from the call to its reply
//
// The processes: gRPC starts threads (its executor, the server's pollers)
// that must not live in the bench process, so the row runs in a case process
// forked from the bench (run_in_child), which forks the peer before either
// side touches gRPC; each side initializes gRPC after the fork.
// The socket file lives in /dev/shm under the run's "colony_<session>_"
// prefix, held by a ScopedName as the ZeroMQ peer's endpoint is.
//
// Compiled only when gRPC was found at build time (grpc_absent.cpp otherwise).

#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "answerer.grpc.pb.h"
#include "drivers.hpp"
#include "peers/peers.hpp"

namespace bench {
namespace {

class AnswererService final : public colony_bench::Answerer::Service {
  grpc::Status Ping(grpc::ServerContext*, const colony_bench::PingRequest*, colony_bench::PingReply* reply) override {
    reply->set_pid(::getpid());
    return grpc::Status::OK;
  }
};

// The server's side: serves until the bench sends its count (the end).
void serve(const std::string& address, ControlLink& link) {
  AnswererService service;
  grpc::ServerBuilder builder;
  builder.AddListeningPort(address, grpc::InsecureServerCredentials());
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server) throw BenchError("gRPC: the server did not start on " + address);
  link.send(ControlKind::ready);
  link.receive_count();
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
  server->Wait();
}

Measurement run_grpc_calls(RunContext& context) {
  const std::string name = "colony_" + context.session() + "_" + context.unique("grpc");
  const std::string path = "/dev/shm/" + name;
  ScopedName guard("/" + name, [path] {
    std::error_code ignored;
    std::filesystem::remove(path, ignored);
  });
  add_cleanup_prefix("/dev/shm", "colony_" + context.session() + "_grpc");
  const std::string address = "unix:" + path;

  Peer peer = Peer::spawn(context, [&](ControlLink& link) { serve(address, link); });
  return with_post_mortem(peer, [&] {
    peer.expect(ControlKind::ready);
    const auto channel = grpc::CreateChannel(address, grpc::InsecureChannelCredentials());
    const auto stub = colony_bench::Answerer::NewStub(channel);
    const std::size_t warmup = context.latency_warmup() / 2;
    const std::size_t iterations = context.latency_iterations() / 2;
    std::vector<std::int64_t> samples;
    samples.reserve(iterations);
    const colony_bench::PingRequest request;
    for (std::size_t i = 0; i < warmup + iterations; ++i) {
      if (Clock::now() >= context.deadline()) throw BenchError("the gRPC calls took longer than the case's deadline");
      grpc::ClientContext call;
      call.set_deadline(std::chrono::system_clock::now() + (context.deadline() - Clock::now()));
      colony_bench::PingReply reply;
      const auto start = Clock::now();
      const grpc::Status status = stub->Ping(&call, request, &reply);
      const auto end = Clock::now();
      if (!status.ok()) throw BenchError("gRPC Ping failed: " + status.error_message());
      if (reply.pid() != peer.pid()) throw BenchError("a gRPC reply came back without the server's pid");
      if (i >= warmup) samples.push_back(std::chrono::duration_cast<std::chrono::nanoseconds>(end - start).count());
    }
    peer.send_count(0);
    peer.finish();
    return latency_measurement(std::move(samples));
  });
}

}  // namespace

std::vector<Case> grpc_cases() {
  return {Case{CaseKind::call, "grpc-unix", 0,
               [](RunContext& context) { return run_in_child(context, [&] { return run_grpc_calls(context); }); }}};
}

}  // namespace bench
