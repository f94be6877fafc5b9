// The rows Colony is compared with: raw floors (atomic spin, futex), the
// kernel's pipes and Unix sockets, Boost.Interprocess message_queue, and
// single-core memcpy as the throughput ceiling.

#include <atomic>
#include <boost/date_time/posix_time/posix_time_types.hpp>
#include <boost/interprocess/ipc/message_queue.hpp>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "colony/shm/futex.hpp"
#include "drivers.hpp"
#include "shm_objects.hpp"

namespace bench {
namespace {

namespace bip = boost::interprocess;
using Buffer = std::vector<std::byte>;

// ---------------------------------------------------------------------------
// Raw shared-memory atomics, busy-waiting: the floor of a spinning round trip.

struct SpinCells {
  alignas(128) std::atomic<std::uint64_t> ping{0};
  alignas(128) std::atomic<std::uint64_t> pong{0};
};

class AtomicPingPong {
 public:
  explicit AtomicPingPong(RunContext& context) : context_(context), cells_(context, "spin") {}

  void bench_side() { words_ = &cells_.in_bench(); }
  void peer_side() { words_ = &cells_.in_peer(context_.shm_deadline()); }
  void ping(std::uint64_t seq) { words_->ping.store(seq, std::memory_order_release); }
  void await_pong(std::uint64_t seq) { spin_until(words_->pong, seq); }
  void echo(std::uint64_t seq) {
    spin_until(words_->ping, seq);
    words_->pong.store(seq, std::memory_order_release);
  }

 private:
  // The peer's own alarm kills it; the bench's watchdog sets the flag.
  static void spin_until(const std::atomic<std::uint64_t>& word, std::uint64_t value) {
    while (word.load(std::memory_order_acquire) != value) {
      cpu_relax();
      if (watchdog_fired()) throw BenchError("spinning on a shared atomic timed out");
    }
  }

  RunContext& context_;
  SharedCells<SpinCells> cells_;
  SpinCells* words_ = nullptr;
};

// ---------------------------------------------------------------------------
// Raw futex: store, then wait/wake on shared words every round trip (no
// skip-the-wake optimisation): the floor of a blocking round trip.

struct FutexCells {
  alignas(128) std::atomic<std::uint32_t> ping{0};
  alignas(128) std::atomic<std::uint32_t> pong{0};
};

class FutexPingPong {
 public:
  explicit FutexPingPong(RunContext& context) : context_(context), cells_(context, "futex") {}

  void bench_side() { words_ = &cells_.in_bench(); }
  void peer_side() { words_ = &cells_.in_peer(context_.shm_deadline()); }
  void ping(std::uint64_t seq) { post(words_->ping, seq); }
  void await_pong(std::uint64_t seq) { wait_for(words_->pong, seq); }
  void echo(std::uint64_t seq) {
    wait_for(words_->ping, seq);
    post(words_->pong, seq);
  }

 private:
  static void post(std::atomic<std::uint32_t>& word, std::uint64_t seq) {
    word.store(static_cast<std::uint32_t>(seq), std::memory_order_release);
    colony::shm::futex_wake(word, 1);
  }
  void wait_for(const std::atomic<std::uint32_t>& word, std::uint64_t seq) {
    const auto wanted = static_cast<std::uint32_t>(seq);
    for (;;) {
      const std::uint32_t seen = word.load(std::memory_order_acquire);
      if (seen == wanted) return;
      if (colony::shm::futex_wait(word, seen, context_.shm_deadline()) == colony::shm::WaitResult::timed_out &&
          word.load(std::memory_order_acquire) != wanted) {
        throw BenchError("futex wait timed out");
      }
    }
  }

  RunContext& context_;
  SharedCells<FutexCells> cells_;
  FutexCells* words_ = nullptr;
};

// ---------------------------------------------------------------------------
// Kernel byte streams: two pipes, or one Unix stream socket pair.

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

// ---------------------------------------------------------------------------
// Boost.Interprocess message_queue: a mutex and two process-shared condition
// variables around a message array in POSIX shared memory.

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

// ---------------------------------------------------------------------------
// memcpy: the same bytes copied once, on one core, from a rotating 4 MiB
// source (the size of Colony's stream ring) into one destination block.

Measurement run_memcpy(RunContext& context, std::size_t size) {
  Buffer source(4u << 20);
  fill_message(source);
  Buffer destination(size);
  std::size_t offset = 0;
  const auto copy = [&](std::uint64_t count) {
    const std::int64_t start = now_ns();
    for (std::uint64_t i = 0; i < count; ++i) {
      std::memcpy(destination.data(), source.data() + offset, size);
      // Keeps the copy: the compiler must assume the destination is read.
      __asm__ __volatile__("" : : "r"(destination.data()) : "memory");
      offset = offset + 2 * size <= source.size() ? offset + size : 0;
    }
    return now_ns() - start;
  };
  const std::uint64_t pilot = context.pilot_messages(size);
  const std::int64_t pilot_ns = std::max<std::int64_t>(copy(pilot), 1);
  const std::uint64_t count =
      timed_messages(static_cast<double>(pilot) / (static_cast<double>(pilot_ns) * 1e-9), context.throughput_seconds());
  const std::int64_t elapsed_ns = copy(count);
  if (std::any_of(destination.begin(), destination.end(), [](std::byte b) { return b != kFill; })) {
    throw BenchError("memcpy produced wrong bytes");
  }
  return throughput_measurement(count, size, elapsed_ns);
}

}  // namespace

std::vector<Case> peer_cases() {
  return {
      latency_case<AtomicPingPong>(CaseKind::latency_spin, "raw-atomic"),
      latency_case<FutexPingPong>(CaseKind::latency_block, "raw-futex"),
      latency_case<PipePingPong>(CaseKind::latency_block, "pipe"),
      latency_case<SocketPingPong>(CaseKind::latency_block, "unix-socket"),
      latency_case<QueuePingPong>(CaseKind::latency_block, "boost-mq"),
      throughput_case<QueueStream>("boost-mq", kSmall),
      throughput_case<QueueStream>("boost-mq", kMedium),
      throughput_case<QueueStream>("boost-mq", kLarge),
      throughput_case<SocketStream>("unix-socket", kSmall),
      throughput_case<SocketStream>("unix-socket", kMedium),
      throughput_case<SocketStream>("unix-socket", kLarge),
      function_case(CaseKind::throughput, "memcpy", kSmall, run_memcpy),
      function_case(CaseKind::throughput, "memcpy", kMedium, run_memcpy),
      function_case(CaseKind::throughput, "memcpy", kLarge, run_memcpy),
  };
}

}  // namespace bench
