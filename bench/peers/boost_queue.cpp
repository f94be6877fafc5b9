// Boost.Interprocess message_queue as a peer: a mutex and two process-shared
// condition variables around a message array in POSIX shared memory.
//
//   latency-block  boost-mq  64 B round trip over two queues
//   throughput     boost-mq  one way over one queue, as deep in bytes as
//                            Colony's 4 MiB stream ring

#include <algorithm>
#include <boost/date_time/posix_time/posix_time_types.hpp>
#include <boost/interprocess/ipc/message_queue.hpp>
#include <optional>
#include <string>
#include <vector>

#include "drivers.hpp"
#include "peers/peers.hpp"

namespace bench {
namespace {

namespace bip = boost::interprocess;
using Buffer = std::vector<std::byte>;

class OwnedQueue {
 public:
  OwnedQueue(RunContext& context, std::string_view stem, std::size_t max_messages, std::size_t message_size)
      : name_("colony_" + context.session() + "_" + context.unique(stem)),
        guard_("/" + name_, [name = name_] { bip::message_queue::remove(name.c_str()); }),
        deadline_(
            boost::posix_time::microsec_clock::universal_time() +
            boost::posix_time::microseconds(
                std::chrono::duration_cast<std::chrono::microseconds>(context.deadline() - Clock::now()).count())) {
    created_.emplace(bip::create_only, name_.c_str(), max_messages, message_size);
  }

  // The bench uses the queue it created; the peer opens it again by name.
  void open_in_peer() { opened_.emplace(bip::open_only, name_.c_str()); }

  void send(const Buffer& message) {
    if (!queue().timed_send(message.data(), message.size(), 0, deadline_))
      throw BenchError("message_queue send timed out");
  }
  void receive(Buffer& message) {
    bip::message_queue::size_type received = 0;
    unsigned int priority = 0;
    if (!queue().timed_receive(message.data(), message.size(), received, priority, deadline_)) {
      throw BenchError("message_queue receive timed out");
    }
    if (received != message.size()) throw BenchError("message_queue: short message of " + std::to_string(received));
  }

 private:
  bip::message_queue& queue() { return opened_ ? *opened_ : *created_; }

  std::string name_;
  ScopedName guard_;
  boost::posix_time::ptime deadline_;
  std::optional<bip::message_queue> created_;
  std::optional<bip::message_queue> opened_;
};

class QueuePingPong {
 public:
  explicit QueuePingPong(RunContext& context)
      : down_(context, "mqping", 16, kPingSize), up_(context, "mqpong", 16, kPingSize), message_(kPingSize) {
    fill_message(message_);
  }

  void bench_side() {}
  void peer_side() {
    down_.open_in_peer();
    up_.open_in_peer();
  }
  void ping(std::uint64_t seq) {
    stamp(message_, seq);
    down_.send(message_);
  }
  void await_pong(std::uint64_t seq) {
    up_.receive(message_);
    check_message(message_, kPingSize, seq, false);
  }
  void echo(std::uint64_t seq) {
    down_.receive(message_);
    check_message(message_, kPingSize, seq, false);
    up_.send(message_);
  }

 private:
  OwnedQueue down_;
  OwnedQueue up_;
  Buffer message_;
};

// As many queued bytes as Colony's 4 MiB stream ring, within 64..4096 messages.
std::size_t queue_depth(std::size_t size) { return std::clamp<std::size_t>((4u << 20) / size, 64, 4096); }

class QueueStream {
 public:
  QueueStream(RunContext& context, std::size_t size) : queue_(context, "mq", queue_depth(size), size), message_(size) {
    fill_message(message_);
  }

  void sender_side() {}
  void receiver_side() { queue_.open_in_peer(); }
  void send(std::uint64_t seq) {
    stamp(message_, seq);
    queue_.send(message_);
  }
  void receive(std::uint64_t seq, bool every_byte) {
    queue_.receive(message_);
    check_message(message_, message_.size(), seq, every_byte);
  }

 private:
  OwnedQueue queue_;
  Buffer message_;
};

}  // namespace

std::vector<Case> boost_queue_cases() {
  return {
      latency_case<QueuePingPong>(CaseKind::latency_block, "boost-mq"),
      throughput_case<QueueStream>("boost-mq", kSmall),
      throughput_case<QueueStream>("boost-mq", kMedium),
      throughput_case<QueueStream>("boost-mq", kLarge),
  };
}

}  // namespace bench
