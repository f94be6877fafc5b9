// The floor of a copying channel between two cores: the least a ring can do
// and still carry messages. Fixed slots of the message size rounded up to
// 64 bytes, the writer copies each message in and the reader copies it out,
// one release store of the writer's count per message and one of the
// reader's; no record header, no wake-up, no sleeping (both sides spin). Its
// ring is the size of a default channel (256 KiB), so the lines it moves are
// what any copying channel must move from one core to the other.
//
//   copy-ring          one store of each count per message (the targets use it)
//   copy-ring-batch16  one store of each count per 16 messages: what batching can win

#include <algorithm>
#include <atomic>
#include <cstring>
#include <vector>

#include "drivers.hpp"
#include "floors.hpp"
#include "shm_objects.hpp"

namespace bench {
namespace {

constexpr std::size_t kRingBytes = 256 << 10;  // BrokerLimits::channel_capacity's default
constexpr std::size_t kSlotAlignment = 64;
// A spinning side looks at the watchdog this often.
constexpr std::uint32_t kWatchdogSpins = 1 << 12;

struct CopyRingControl {
  alignas(128) std::atomic<std::uint64_t> written{0};  // messages the writer published
  alignas(128) std::atomic<std::uint64_t> read{0};     // messages the reader is done with
};

struct CopyRingCells {
  CopyRingControl control;
  alignas(kSlotAlignment) std::byte slots[kRingBytes];
};

std::size_t slot_size(std::size_t message_size) {
  return (message_size + kSlotAlignment - 1) / kSlotAlignment * kSlotAlignment;
}

void spin_once(std::uint32_t& spins, const char* what) {
  cpu_relax();
  if (++spins % kWatchdogSpins == 0 && watchdog_fired()) throw BenchError(what);
}

template <std::uint64_t kStoreEvery>
class CopyRing {
 public:
  CopyRing(RunContext& context, std::size_t message_size)
      : context_(context),
        cells_(context, "copyring"),
        size_(message_size),
        slot_(slot_size(message_size)),
        slot_count_(kRingBytes / slot_),
        message_(message_size) {
    static_assert(kStoreEvery >= 1);
    fill_message(message_);
  }

  void sender_side() { cells_at_ = &cells_.in_bench(); }
  void receiver_side() { cells_at_ = &cells_.in_peer(context_.shm_deadline()); }

  void send(std::uint64_t seq) {
    CopyRingControl& control = cells_at_->control;
    std::uint32_t spins = 0;
    if (written_ - cached_read_ >= slot_count_) {
      // Full: what is not published yet is what the reader waits for (a
      // ring of fewer than 16 slots publishes its batches here). Then wait
      // for a quarter of the ring, not one slot: a writer that refills each
      // slot as it is freed moves the reader's count across the cores once
      // per message.
      if (published_ != written_) flush();
      const std::uint64_t room = std::max<std::uint64_t>(slot_count_ / 4, 1);
      for (;;) {
        cached_read_ = control.read.load(std::memory_order_acquire);
        if (slot_count_ - (written_ - cached_read_) >= room) break;
        spin_once(spins, "the copy ring's reader stopped taking");
      }
    }
    stamp(message_, seq);
    std::memcpy(slot_at(written_), message_.data(), size_);
    ++written_;
    if (written_ % kStoreEvery == 0) flush();
  }

  // Also the driver's end of a batch: what the last store did not publish yet.
  void flush() {
    cells_at_->control.written.store(written_, std::memory_order_release);
    published_ = written_;
  }

  void receive(std::uint64_t seq, bool every_byte) {
    CopyRingControl& control = cells_at_->control;
    std::uint32_t spins = 0;
    while (read_ == cached_written_) {
      cached_written_ = control.written.load(std::memory_order_acquire);
      if (read_ == cached_written_) spin_once(spins, "nothing came through the copy ring");
    }
    std::memcpy(message_.data(), slot_at(read_), size_);
    ++read_;
    // Every 16th, and whenever it caught up: a writer waiting for space waits
    // for this store.
    if (read_ % kStoreEvery == 0 || read_ == cached_written_) control.read.store(read_, std::memory_order_release);
    check_message(message_, size_, seq, every_byte);
  }

 private:
  std::byte* slot_at(std::uint64_t index) { return cells_at_->slots + (index % slot_count_) * slot_; }

  RunContext& context_;
  SharedCells<CopyRingCells> cells_;
  CopyRingCells* cells_at_ = nullptr;
  std::size_t size_;
  std::size_t slot_;
  std::uint64_t slot_count_;
  std::vector<std::byte> message_;  // the writer's source, the reader's destination
  std::uint64_t written_ = 0;        // writer: messages copied in
  std::uint64_t published_ = 0;      // writer: the count it last stored
  std::uint64_t cached_read_ = 0;    // writer: the reader's count when last looked at
  std::uint64_t read_ = 0;           // reader: messages copied out
  std::uint64_t cached_written_ = 0; // reader: the writer's count when last looked at
};

}  // namespace

std::vector<Case> copy_ring_cases() {
  std::vector<Case> rows;
  for (const std::size_t size : {kSmall, kMedium, kLarge}) {
    rows.push_back(throughput_case<CopyRing<1>>(kCopyRingFloor, size));
    rows.push_back(throughput_case<CopyRing<16>>("copy-ring-batch16", size));
  }
  return rows;
}

}  // namespace bench
