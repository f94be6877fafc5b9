// The floor of a blocking round trip on Linux: store, then wait/wake on
// shared words through the shm layer's wait word (a futex) every round trip (no
// skip-the-wake optimisation).

#include <atomic>
#include <cstdint>

#include "colony/shm/wait_word.hpp"
#include "drivers.hpp"
#include "floors.hpp"
#include "linux/system_floors.hpp"
#include "shm_objects.hpp"

namespace bench {

const char kBlockingFloor[] = "raw-futex";

namespace {

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
    colony::shm::wake_waiters(word, 1);
  }
  void wait_for(const std::atomic<std::uint32_t>& word, std::uint64_t seq) {
    const auto wanted = static_cast<std::uint32_t>(seq);
    for (;;) {
      const std::uint32_t seen = word.load(std::memory_order_acquire);
      if (seen == wanted) return;
      if (colony::shm::wait_while_equal(word, seen, context_.shm_deadline()) == colony::shm::Outcome::timed_out &&
          word.load(std::memory_order_acquire) != wanted) {
        throw BenchError("futex wait timed out");
      }
    }
  }

  RunContext& context_;
  SharedCells<FutexCells> cells_;
  FutexCells* words_ = nullptr;
};

}  // namespace

Case raw_futex_case() { return latency_case<FutexPingPong>(CaseKind::latency_block, kBlockingFloor); }

}  // namespace bench
