// The portable floors: raw shared-memory atomics busy-waiting (the floor of a
// spinning round trip) and single-core memcpy (the throughput ceiling); and
// the list of every floor row, the system's (linux/) after them.

#include <algorithm>
#include <atomic>
#include <cstring>
#include <vector>

#include "drivers.hpp"
#include "floors.hpp"
#include "shm_objects.hpp"

namespace bench {
namespace {

using Buffer = std::vector<std::byte>;

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

// The same bytes copied once, on one core, from a rotating 4 MiB source
// (larger than a core's L2, so the source comes from further out, as a
// channel's bytes come from the other core) into one destination block.
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

std::vector<Case> floor_cases() {
  std::vector<Case> rows = {
      latency_case<AtomicPingPong>(CaseKind::latency_spin, "raw-atomic"),
      function_case(CaseKind::throughput, "memcpy", kSmall, run_memcpy),
      function_case(CaseKind::throughput, "memcpy", kMedium, run_memcpy),
      function_case(CaseKind::throughput, "memcpy", kLarge, run_memcpy),
  };
  for (Case& row : copy_ring_cases()) rows.push_back(std::move(row));
  for (Case& row : system_floor_cases()) rows.push_back(std::move(row));
  return rows;
}

}  // namespace bench
