// ZeroMQ (libzmq) as a peer: the ipc:// transport (a Unix stream socket and
// libzmq's I/O thread on each side), two processes, the socket pairs of
// libzmq's own perf tools:
//
//   latency-block  zeromq  REQ (bench) / REP (peer): zmq_send then zmq_recv of a
//                          64 B message, the peer echoes it
//   throughput     zeromq  PUSH (bench) / PULL (peer), default high-water marks
//                          (1000 messages per side): zmq_send blocks when full
//
// Messages go through zmq_send / zmq_recv with the application's buffers
// (libzmq copies them in and out), as the other peers read and write theirs.
// Each row runs in a case process forked from the bench (run_in_child), which
// forks the peer: libzmq's threads never run in the bench process.
// The bench binds, the peer connects; the socket file lives in /dev/shm under
// the run's "colony_<session>_" prefix, held by a ScopedName and checked by
// main's leftover scan. Each process makes its own context after the fork.
//
// Compiled only when libzmq was found (pkg-config libzmq); without it,
// zeromq_absent.cpp gives the same rows, absent.

#include <zmq.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <system_error>
#include <vector>

#include "drivers.hpp"
#include "peers/peers.hpp"

namespace bench {
namespace {

using Buffer = std::vector<std::byte>;

[[noreturn]] void zmq_failure(const char* what) {
  throw BenchError(std::string("zmq ") + what + ": " + zmq_strerror(zmq_errno()));
}

// Milliseconds until the case's deadline, as zmq's timeouts take them.
int millis_until(Clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return static_cast<int>(std::clamp<long long>(left, 1, INT_MAX));
}

// One context and one socket, made in the process that uses them.
class ZmqSocket {
 public:
  ZmqSocket() = default;
  ZmqSocket(const ZmqSocket&) = delete;
  ZmqSocket& operator=(const ZmqSocket&) = delete;
  ~ZmqSocket() { close(0); }

  void open(int type, Clock::time_point deadline) {
    context_ = zmq_ctx_new();
    if (context_ == nullptr) zmq_failure("context");
    socket_ = zmq_socket(context_, type);
    if (socket_ == nullptr) zmq_failure("socket");
    set(ZMQ_SNDTIMEO, millis_until(deadline));
    set(ZMQ_RCVTIMEO, millis_until(deadline));
    set(ZMQ_LINGER, 0);
  }
  void bind(const std::string& endpoint) {
    if (zmq_bind(socket_, endpoint.c_str()) != 0) zmq_failure(("bind " + endpoint).c_str());
  }
  void connect(const std::string& endpoint) {
    // The peer may connect before the bench has bound: retry every millisecond.
    set(ZMQ_RECONNECT_IVL, 1);
    if (zmq_connect(socket_, endpoint.c_str()) != 0) zmq_failure(("connect " + endpoint).c_str());
  }

  void send(std::span<const std::byte> message) {
    for (;;) {
      if (zmq_send(socket_, message.data(), message.size(), 0) >= 0) return;
      if (zmq_errno() == EINTR) {
        check_watchdog("zmq send");
        continue;
      }
      if (zmq_errno() == EAGAIN) throw BenchError("zmq send timed out");
      zmq_failure("send");
    }
  }
  // Receives one message into message; it must have exactly its size.
  void receive(std::span<std::byte> message) {
    for (;;) {
      const int n = zmq_recv(socket_, message.data(), message.size(), 0);
      if (n >= 0) {
        if (static_cast<std::size_t>(n) != message.size()) {
          throw BenchError("zmq: received " + std::to_string(n) + " bytes, expected " +
                           std::to_string(message.size()));
        }
        return;
      }
      if (zmq_errno() == EINTR) {
        check_watchdog("zmq receive");
        continue;
      }
      if (zmq_errno() == EAGAIN) throw BenchError("zmq receive timed out");
      zmq_failure("receive");
    }
  }

  // Closes the socket; linger_ms > 0 lets the I/O thread send what is still
  // queued first (zmq_ctx_term waits for it).
  void close(int linger_ms) noexcept {
    if (socket_ != nullptr) {
      zmq_setsockopt(socket_, ZMQ_LINGER, &linger_ms, sizeof(linger_ms));
      zmq_close(socket_);
      socket_ = nullptr;
    }
    if (context_ != nullptr) {
      while (zmq_ctx_term(context_) != 0 && zmq_errno() == EINTR) {
      }
      context_ = nullptr;
    }
  }

 private:
  void set(int option, int value) {
    if (zmq_setsockopt(socket_, option, &value, sizeof(value)) != 0) zmq_failure("setsockopt");
  }

  void* context_ = nullptr;
  void* socket_ = nullptr;
};

// The ipc:// endpoint of a case: a socket file in /dev/shm, named like the
// run's other objects, removed when the case ends (libzmq also removes it
// when the bound socket closes).
class Endpoint {
 public:
  explicit Endpoint(RunContext& context)
      : name_("colony_" + context.session() + "_" + context.unique("zmq")),
        path_("/dev/shm/" + name_),
        guard_("/" + name_, [path = path_] {
          std::error_code ignored;
          std::filesystem::remove(path, ignored);
        }) {}

  std::string uri() const { return "ipc://" + path_; }

 private:
  std::string name_;
  std::string path_;
  ScopedName guard_;
};

class ZmqPingPong {
 public:
  explicit ZmqPingPong(RunContext& context) : context_(context), endpoint_(context), message_(kPingSize) {
    fill_message(message_);
  }

  void bench_side() {
    socket_.open(ZMQ_REQ, context_.deadline());
    socket_.bind(endpoint_.uri());
  }
  void peer_side() {
    socket_.open(ZMQ_REP, context_.deadline());
    socket_.connect(endpoint_.uri());
  }
  void ping(std::uint64_t seq) {
    stamp(message_, seq);
    socket_.send(message_);
  }
  void await_pong(std::uint64_t seq) {
    socket_.receive(message_);
    check_message(message_, kPingSize, seq, false);
  }
  void echo(std::uint64_t seq) {
    socket_.receive(message_);
    check_message(message_, kPingSize, seq, false);
    socket_.send(message_);
  }
  // The last echo may still sit in the peer's I/O thread: send it before the
  // peer _exits.
  void peer_end() { socket_.close(millis_until(context_.deadline())); }

 private:
  RunContext& context_;
  Endpoint endpoint_;
  ZmqSocket socket_;
  Buffer message_;
};

class ZmqStream {
 public:
  ZmqStream(RunContext& context, std::size_t size) : context_(context), endpoint_(context), message_(size) {
    fill_message(message_);
  }

  void sender_side() {
    socket_.open(ZMQ_PUSH, context_.deadline());
    socket_.bind(endpoint_.uri());
  }
  void receiver_side() {
    socket_.open(ZMQ_PULL, context_.deadline());
    socket_.connect(endpoint_.uri());
  }
  void send(std::uint64_t seq) {
    stamp(message_, seq);
    socket_.send(message_);
  }
  void receive(std::uint64_t seq, bool every_byte) {
    socket_.receive(message_);
    check_message(message_, message_.size(), seq, every_byte);
  }
  void peer_end() { socket_.close(0); }

 private:
  RunContext& context_;
  Endpoint endpoint_;
  ZmqSocket socket_;
  Buffer message_;
};

}  // namespace

// Each row runs in a case process of its own (run_in_child): libzmq's I/O
// threads and their malloc arenas stay out of the bench process, whose memory
// the worker rows report.
// The endpoints' files belong to the case process; a bench interrupted by a
// signal unlinks them by prefix (the case process dies with it).
void clean_endpoints_on_signals(RunContext& context) {
  add_cleanup_prefix("/dev/shm", "colony_" + context.session() + "_zmq");
}

std::vector<Case> zeromq_cases() {
  const auto latency = [](RunContext& context) {
    clean_endpoints_on_signals(context);
    return run_in_child(context, [&] { return run_latency<ZmqPingPong>(context); });
  };
  const auto throughput = [](std::size_t size) {
    return Case{CaseKind::throughput, "zeromq", size, [size](RunContext& context) {
                  clean_endpoints_on_signals(context);
                  return run_in_child(context, [&] { return run_throughput<ZmqStream>(context, size); });
                }};
  };
  return {
      Case{CaseKind::latency_block, "zeromq", kPingSize, latency},
      throughput(kSmall),
      throughput(kMedium),
      throughput(kLarge),
  };
}

}  // namespace bench
