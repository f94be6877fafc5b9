// The kernel's byte streams as peers: two pipes, or one Unix stream socket
// pair, read and written with exact-size read/write calls.
//
//   latency-block  pipe         64 B round trip over two pipes
//   latency-block  unix-socket  64 B round trip over one socket pair
//   throughput     unix-socket  one way, bench to peer

#include <vector>

#include "drivers.hpp"
#include "peers/peers.hpp"

namespace bench {
namespace {

using Buffer = std::vector<std::byte>;

class PipePingPong {
 public:
  explicit PipePingPong(RunContext&) : down_(make_pipe()), up_(make_pipe()), message_(kPingSize) {
    fill_message(message_);
  }

  void bench_side() {
    down_.first.reset();
    up_.second.reset();
  }
  void peer_side() {
    down_.second.reset();
    up_.first.reset();
  }
  void ping(std::uint64_t seq) {
    stamp(message_, seq);
    write_all(down_.second.get(), message_, "pipe");
  }
  void await_pong(std::uint64_t seq) {
    read_all(up_.first.get(), message_, "pipe");
    check_message(message_, kPingSize, seq, false);
  }
  void echo(std::uint64_t seq) {
    read_all(down_.first.get(), message_, "pipe");
    check_message(message_, kPingSize, seq, false);
    write_all(up_.second.get(), message_, "pipe");
  }

 private:
  FdPair down_;  // bench writes second, peer reads first
  FdPair up_;    // peer writes second, bench reads first
  Buffer message_;
};

class SocketPingPong {
 public:
  explicit SocketPingPong(RunContext&) : sockets_(make_socket_pair()), message_(kPingSize) { fill_message(message_); }

  void bench_side() { sockets_.second.reset(); }
  void peer_side() { sockets_.first.reset(); }
  void ping(std::uint64_t seq) {
    stamp(message_, seq);
    write_all(sockets_.first.get(), message_, "socket");
  }
  void await_pong(std::uint64_t seq) {
    read_all(sockets_.first.get(), message_, "socket");
    check_message(message_, kPingSize, seq, false);
  }
  void echo(std::uint64_t seq) {
    read_all(sockets_.second.get(), message_, "socket");
    check_message(message_, kPingSize, seq, false);
    write_all(sockets_.second.get(), message_, "socket");
  }

 private:
  FdPair sockets_;  // bench uses first, peer second
  Buffer message_;
};

class SocketStream {
 public:
  SocketStream(RunContext&, std::size_t size) : sockets_(make_socket_pair()), message_(size) { fill_message(message_); }

  void sender_side() { sockets_.second.reset(); }
  void receiver_side() { sockets_.first.reset(); }
  void send(std::uint64_t seq) {
    stamp(message_, seq);
    write_all(sockets_.first.get(), message_, "socket");
  }
  void receive(std::uint64_t seq, bool every_byte) {
    read_all(sockets_.second.get(), message_, "socket");
    check_message(message_, message_.size(), seq, every_byte);
  }

 private:
  FdPair sockets_;
  Buffer message_;
};

}  // namespace

std::vector<Case> kernel_stream_round_trips() {
  return {
      latency_case<PipePingPong>(CaseKind::latency_block, "pipe"),
      latency_case<SocketPingPong>(CaseKind::latency_block, "unix-socket"),
  };
}

std::vector<Case> kernel_stream_throughput() {
  return {
      throughput_case<SocketStream>("unix-socket", kSmall),
      throughput_case<SocketStream>("unix-socket", kMedium),
      throughput_case<SocketStream>("unix-socket", kLarge),
  };
}

}  // namespace bench
