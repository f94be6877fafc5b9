// colony_demo_shm: the shm layer across two processes.
//
// The parent (the consumer) creates a session, one single-writer ring in it,
// attaches as the ring's reader and starts a fresh copy of this executable
// (--child ...) as the producer. The producer opens the ring by name,
// attaches as its writer, sends typed Block messages (sequence number,
// payload, checksum) through it and closes it. The consumer receives every
// block, checks order and checksums, reaps the producer, removes the segment
// and prints a summary.
//
//   colony_demo_shm [--messages N]
//
// Every wait has a deadline, the producer never outlives the consumer (the OS
// kills it when the consumer dies: processes.hpp), and the segment is removed
// on every way out of main, Ctrl-C included. Exit status 0 means every block
// arrived intact, in order, and nothing was left behind.

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cinttypes>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "colony/shm/names.hpp"
#include "colony/shm/process.hpp"
#include "colony/shm/ring.hpp"
#include "colony/shm/segment.hpp"
#include "colony/shm/typed.hpp"
#include "processes.hpp"

namespace demo {

// The message. Any cereal-serializable type with a registered alias travels
// through a ring; the alias's hash is the record's type tag.
struct Block {
  std::uint64_t sequence = 0;
  std::vector<std::uint8_t> payload;
  std::uint64_t checksum = 0;

  template <class Archive>
  void serialize(Archive& archive) {
    archive(sequence, payload, checksum);
  }
};

}  // namespace demo

COLONY_REGISTER_TYPE(demo::Block, "demo.block")

namespace demo {
namespace {

using namespace std::chrono_literals;
namespace shm = colony::shm;
using shm::Clock;
using shm::Deadline;

constexpr std::uint64_t kDefaultMessages = 100'000;
constexpr std::size_t kRingCapacity = 256 << 10;  // small on purpose: the ring wraps and the producer waits when it is full
constexpr std::size_t kMaxMessage = 4 << 10;
constexpr auto kOpenTimeout = 10s;       // producer: for the ring to exist and be ready
constexpr auto kStallTimeout = 10s;      // both sides: for the next block to go through
constexpr auto kReapTimeout = 5s;        // consumer: for the producer to exit once the ring is closed
constexpr auto kPollSlice = 100ms;       // consumer: re-checks the producer and Ctrl-C this often
constexpr int kExitInterrupted = 130;

volatile std::sig_atomic_t g_interrupted = 0;
void on_signal(int) { g_interrupted = 1; }

const char* g_role = "consumer";

__attribute__((format(printf, 1, 2))) void say(const char* format, ...) {
  std::printf("[%s %d] ", g_role, shm::current_pid());
  va_list args;
  va_start(args, format);
  std::vprintf(format, args);
  va_end(args);
  std::printf("\n");
  std::fflush(stdout);  // both processes write to the same stdout: whole lines, in order
}

__attribute__((format(printf, 1, 2))) int fail(const char* format, ...) {
  std::fflush(stdout);
  std::fprintf(stderr, "[%s %d] error: ", g_role, shm::current_pid());
  va_list args;
  va_start(args, format);
  std::vfprintf(stderr, format, args);
  va_end(args);
  std::fprintf(stderr, "\n");
  std::fflush(stderr);
  return 1;
}

std::string str(std::string_view view) { return std::string(view); }

// FNV-1a over the sequence number and the payload.
std::uint64_t checksum_of(std::uint64_t sequence, const std::vector<std::uint8_t>& payload) {
  std::uint64_t hash = 14695981039346656037ull;
  auto mix = [&hash](std::uint8_t byte) {
    hash ^= byte;
    hash *= 1099511628211ull;
  };
  for (int shift = 0; shift < 64; shift += 8) mix(static_cast<std::uint8_t>(sequence >> shift));
  for (const std::uint8_t byte : payload) mix(byte);
  return hash;
}

// 16 to 256 bytes of payload, a different pattern for every block.
Block make_block(std::uint64_t sequence) {
  Block block;
  block.sequence = sequence;
  block.payload.resize(16 + static_cast<std::size_t>((sequence * 37) % 241));
  for (std::size_t i = 0; i < block.payload.size(); ++i) {
    block.payload[i] = static_cast<std::uint8_t>((sequence * 131 + i * 7) & 0xffu);
  }
  block.checksum = checksum_of(sequence, block.payload);
  return block;
}

std::optional<std::uint64_t> parse_positive(const char* text) {
  if (text == nullptr || *text < '0' || *text > '9') return std::nullopt;
  char* end = nullptr;
  errno = 0;
  const unsigned long long value = std::strtoull(text, &end, 10);
  if (errno != 0 || *end != '\0' || value == 0) return std::nullopt;
  return static_cast<std::uint64_t>(value);
}

// Removes the ring's segment on every way out of the consumer.
class SegmentRemover {
 public:
  explicit SegmentRemover(const shm::SegmentName& name) : name_(name) {}
  SegmentRemover(const SegmentRemover&) = delete;
  SegmentRemover& operator=(const SegmentRemover&) = delete;
  ~SegmentRemover() { remove(); }
  void remove() noexcept {
    if (removed_) return;
    removed_ = true;
    if (shm::Segment::remove(name_)) say("removed segment %s", name_.os_name().c_str());
  }

 private:
  const shm::SegmentName& name_;
  bool removed_ = false;
};

// The producer process: reaped on every way out of the consumer, killed first
// if it is still running.
class Child {
 public:
  explicit Child(int pid) : pid_(pid) {}
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;
  ~Child() {
    if (status_) return;
    kill_process(pid_);
    if (wait_for(kReapTimeout)) say("stopped the producer (pid %d)", pid_);
  }

  int pid() const noexcept { return pid_; }

  // Reaps the child if it has exited; never blocks.
  std::optional<ChildExit> try_reap() {
    if (!status_) status_ = demo::try_reap(pid_);
    return status_;
  }

  std::optional<ChildExit> wait_for(Clock::duration timeout) {
    const Deadline deadline = Deadline::after(timeout);
    for (;;) {
      if (auto status = try_reap()) return status;
      if (deadline.passed()) return std::nullopt;
      std::this_thread::sleep_for(1ms);
    }
  }

 private:
  int pid_;
  std::optional<ChildExit> status_;
};

// ---------------------------------------------------------------------------
// The producer: a fresh process started by the consumer.

int run_producer(const char* session, int consumer, std::uint64_t count) {
  g_role = "producer";
  // Never outlive the consumer: if it dies, the OS kills us.
  if (!die_with_parent(consumer)) return fail("the consumer (pid %d) is already gone", consumer);

  auto name = shm::SegmentName::make(session, shm::SegmentKind::ring, "blocks");
  if (!name) return fail("%s", name.error().message.c_str());
  auto ring = shm::Ring::open(*name, Deadline::after(kOpenTimeout));
  if (!ring) return fail("cannot open %s: %s", name->os_name().c_str(), ring.error().message.c_str());
  say("opened segment %s (a ring of %zu bytes)", name->os_name().c_str(), ring->capacity());

  auto attached = shm::RingWriter::attach(*ring);
  if (!attached) return fail("cannot attach as writer: %s", attached.error().message.c_str());
  shm::TypedWriter writer(std::move(attached).value());
  say("attached as the ring's writer; sending %" PRIu64 " blocks of type '%s'", count,
      std::string(shm::TypeAlias<Block>::name).c_str());

  const auto started = Clock::now();
  std::uint64_t payload_bytes = 0;
  for (std::uint64_t sequence = 0; sequence < count; ++sequence) {
    const Block block = make_block(sequence);
    // Waits while the ring is full, up to a deadline: a consumer that stops reading is an error.
    const shm::Outcome sent = writer.send(block, Deadline::after(kStallTimeout));
    if (sent != shm::Outcome::ok) {
      ring->close();  // the consumer sees closed, not a silent stall
      return fail("sending block %" PRIu64 " of %" PRIu64 ": %s", sequence, count, str(to_string(sent)).c_str());
    }
    payload_bytes += block.payload.size();
  }
  const std::chrono::duration<double> elapsed = Clock::now() - started;
  say("sent %" PRIu64 " blocks (%" PRIu64 " payload bytes) in %.3f s; closing the ring", count, payload_bytes,
      elapsed.count());
  ring->close();
  return 0;
}

// ---------------------------------------------------------------------------
// The consumer: creates the ring, starts the producer, checks what arrives.

int run_consumer(std::uint64_t count) {
  g_role = "consumer";
  on_interrupt(on_signal);

  const std::string session = "demo" + std::to_string(shm::current_pid());
  auto name = shm::SegmentName::make(session, shm::SegmentKind::ring, "blocks");
  if (!name) return fail("%s", name.error().message.c_str());

  shm::RingOptions options;
  options.capacity = kRingCapacity;
  options.max_message = kMaxMessage;
  options.variant = shm::RingVariant::single_writer;
  auto ring = shm::Ring::create(*name, options);
  if (!ring) return fail("cannot create %s: %s", name->os_name().c_str(), ring.error().message.c_str());
  SegmentRemover remover(*name);
  say("created segment %s: a single-writer ring of %zu bytes, messages up to %zu bytes", name->os_name().c_str(),
      ring->capacity(), ring->max_message());

  auto attached = shm::RingReader::attach(*ring);
  if (!attached) return fail("cannot attach as reader: %s", attached.error().message.c_str());
  shm::TypedReader reader(std::move(attached).value());
  say("attached as the ring's reader");

  const auto executable = this_executable();
  if (!executable) return fail("cannot find this executable's path: %s", std::strerror(errno));
  const std::vector<std::string> arguments{*executable, "--child", session, std::to_string(shm::current_pid()),
                                           std::to_string(count)};
  say("starting the producer: %s --child %s %s %s", executable->c_str(), session.c_str(), arguments[3].c_str(),
      arguments[4].c_str());
  std::string why;
  const int pid = start_process(arguments, why);
  if (pid < 0) return fail("cannot start the producer: %s", why.c_str());
  Child producer(pid);

  Deadline deadline = Deadline::after(kStallTimeout);  // for the next block; renewed with each one
  std::uint64_t received = 0;
  std::uint64_t payload_bytes = 0;
  std::uint64_t serialized_bytes = 0;
  Clock::time_point first{};
  Clock::time_point last{};
  for (bool draining = true; draining;) {
    if (g_interrupted) {
      fail("interrupted after %" PRIu64 " of %" PRIu64 " blocks; cleaning up", received, count);
      return kExitInterrupted;
    }
    if (deadline.passed()) {
      return fail("timed out: no block for %lld s, %" PRIu64 " of %" PRIu64 " arrived",
                  static_cast<long long>(std::chrono::duration_cast<std::chrono::seconds>(kStallTimeout).count()),
                  received, count);
    }
    auto got = reader.receive<Block>(deadline.capped(kPollSlice));
    switch (got.status) {
      case shm::Outcome::ok: break;
      case shm::Outcome::empty:
      case shm::Outcome::timed_out:
        // Nothing yet: a producer that died without closing the ring will send nothing more.
        if (const auto status = producer.try_reap(); status && !ring->is_closed()) {
          return fail("the producer %s before closing the ring; %" PRIu64 " of %" PRIu64 " blocks arrived",
                      status->describe().c_str(), received, count);
        }
        continue;
      case shm::Outcome::closed: draining = false; continue;
      default:
        return fail("receiving block %" PRIu64 ": %s: %s", received, str(to_string(got.status)).c_str(),
                    got.error.c_str());
    }
    const Block& block = *got.value;
    if (block.sequence != received) {
      return fail("out of order: expected block %" PRIu64 ", got block %" PRIu64, received, block.sequence);
    }
    if (block.checksum != checksum_of(block.sequence, block.payload)) {
      return fail("block %" PRIu64 " is damaged: its checksum does not match its payload", block.sequence);
    }
    last = Clock::now();
    if (received == 0) first = last;
    deadline = Deadline::after(kStallTimeout);
    ++received;
    payload_bytes += block.payload.size();
    serialized_bytes += shm::serialized_size(block);
  }
  say("the ring is closed and drained: %" PRIu64 " blocks received", received);

  const auto status = producer.wait_for(kReapTimeout);
  if (!status) return fail("the producer (pid %d) did not exit within 5 s after closing the ring", pid);
  say("the producer %s", status->describe().c_str());
  if (!status->succeeded()) return fail("the producer failed");
  if (received != count) return fail("only %" PRIu64 " of %" PRIu64 " blocks arrived", received, count);

  const std::chrono::duration<double> elapsed = last - first;
  say("messages: %" PRIu64 ", bytes: %" PRIu64 " of payload (%" PRIu64 " serialized through the ring)", received,
      payload_bytes, serialized_bytes);
  if (elapsed.count() > 0) {
    say("elapsed: %.3f s from first to last block: %.0f msgs/s, %.1f MB/s of payload", elapsed.count(),
        static_cast<double>(received) / elapsed.count(), static_cast<double>(payload_bytes) / elapsed.count() / 1e6);
  }
  say("all %" PRIu64 " messages arrived in order, checksums ok", received);

  remover.remove();
  const auto left = shm::Segment::list(shm::SegmentName::session_prefix(session));
  if (!left.empty()) return fail("segment %s is still in /dev/shm", left.front().c_str());
  say("no segment of session %s left in /dev/shm; done", session.c_str());
  return 0;
}

int usage(const char* program) {
  std::fprintf(stderr, "usage: %s [--messages N]   (default %" PRIu64 ")\n", program, kDefaultMessages);
  return 2;
}

}  // namespace
}  // namespace demo

int main(int argc, char** argv) {
  try {
    if (argc >= 2 && std::strcmp(argv[1], "--child") == 0) {
      // Internal: colony_demo_shm --child SESSION CONSUMER_PID COUNT
      const auto consumer = argc == 5 ? demo::parse_positive(argv[3]) : std::nullopt;
      const auto count = argc == 5 ? demo::parse_positive(argv[4]) : std::nullopt;
      if (!consumer || !count || *consumer > INT32_MAX) return demo::usage(argv[0]);
      return demo::run_producer(argv[2], static_cast<int>(*consumer), *count);
    }
    std::uint64_t count = demo::kDefaultMessages;
    for (int i = 1; i < argc; ++i) {
      if (std::strcmp(argv[i], "--messages") == 0 && i + 1 < argc) {
        const auto parsed = demo::parse_positive(argv[++i]);
        if (!parsed) return demo::usage(argv[0]);
        count = *parsed;
      } else {
        return demo::usage(argv[0]);
      }
    }
    return demo::run_consumer(count);
  } catch (const std::exception& e) {
    // Caught here so that the stack unwinds: the segment is removed, the producer reaped.
    return demo::fail("unexpected exception: %s", e.what());
  }
}
