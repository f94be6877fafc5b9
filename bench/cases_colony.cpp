// Colony's rows: rings through the typed layer, a std::vector<std::byte> per
// message (the alias "colony.bytes" every process knows).
//
// colony-view is the same ring read in place (shm::receive_view): the
// receiver checks the bytes where they lie, one copy fewer.
//
// colony-batch16 is the same ring written in batches: each record is
// published at once (RingWriter::publish) and the fence and the look at
// whether the reader sleeps come once per 16 (RingWriter::flush), as
// MessageChannel::send_all does; next to copy-ring-batch16.
//
// Diagnostic rows (--diagnostics) take the same rings apart:
//   colony-u8    the typed layer with std::vector<std::uint8_t> ("colony.u8s"),
//                which cereal serializes as one block instead of byte by byte;
//   colony-raw   the ring API without the typed layer: RingWriter::send of a
//                span, RingReader::receive checked in place, then commit;
//   colony-try   colony-raw, but spinning in the bench's own loop around
//                try_receive (one check per pause) instead of the ring's spin;
//   colony-256k  throughput through a ring of a default channel's size (256
//                KiB) instead of 4 MiB;
//   *-spin       throughput with WaitPolicy{1 << 20} on both sides instead of
//                the default (sleep as soon as the ring is empty or full), at
//                every size.

#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "colony/shm/in_place.hpp"
#include "colony/shm/ring.hpp"
#include "colony/shm/typed.hpp"
#include "drivers.hpp"
#include "shm_objects.hpp"

namespace bench {
namespace {

using colony::shm::Received;
using colony::shm::Ring;
using colony::shm::RingOptions;
using colony::shm::RingReader;
using colony::shm::Outcome;
using colony::shm::RingWriter;
using colony::shm::TypedReader;
using colony::shm::TypedWriter;
using colony::shm::WaitPolicy;
using Bytes = std::vector<std::byte>;
using U8s = std::vector<std::uint8_t>;

constexpr std::uint32_t kNoSpin = 0;
constexpr std::uint32_t kSpinBudget = std::uint32_t{1} << 20;

// Round trips: the blocking rows sleep as soon as the ring is empty (no
// stream spin either: a round trip is not a stream), the spinning rows spin.
WaitPolicy round_trip_policy(std::uint32_t spin_iterations) {
  return WaitPolicy{spin_iterations, std::chrono::microseconds{0}};
}

// Room for the largest message plus the 8-byte size cereal writes before a vector.
constexpr RingOptions kPingRing{.capacity = 64 << 10, .max_message = kPingSize + 64};
constexpr RingOptions kStreamRing{.capacity = 4 << 20, .max_message = kLarge + 64};
// A default channel's size (BrokerLimits::channel_capacity), the copy ring's:
// the colony-256k diagnostic rows, what a user's channel gets.
constexpr RingOptions kChannelRing{.capacity = 256 << 10, .max_message = kLarge + 64};

// How a message crosses the ring.
struct Typed {};       // TypedWriter/TypedReader, Message = the vector type below
struct View {};        // TypedWriter; the reader looks at the bytes in the ring (in_place.hpp)
struct Batched {};     // TypedWriter's ring, published per record and flushed per 16; TypedReader
struct Raw {};         // RingWriter::send(span) / RingReader::receive + commit
struct RawOwnPoll {};  // Raw, spinning on try_receive in our own loop

template <class Mode, class Vector = Bytes>
class RingEnd {
  static constexpr bool kView = std::is_same_v<Mode, View>;
  static constexpr bool kBatched = std::is_same_v<Mode, Batched>;
  static constexpr bool kTyped = std::is_same_v<Mode, Typed> || kView || kBatched;
  static constexpr std::uint64_t kBatch = 16;
  using Writer = std::conditional_t<kTyped, TypedWriter, RingWriter>;
  using Reader = std::conditional_t<kTyped, TypedReader, RingReader>;

 public:
  using Message = Vector;

  RingEnd(RunContext& context, std::string_view stem, const RingOptions& options, WaitPolicy policy)
      : context_(context), owned_(context, stem, options), policy_(policy) {}

  void attach_writer(bool in_bench) {
    writer_.emplace(must(RingWriter::attach(ring_for(in_bench), policy_), "attaching a ring writer"));
  }
  void attach_reader(bool in_bench) {
    reader_.emplace(must(RingReader::attach(ring_for(in_bench), policy_), "attaching a ring reader"));
  }

  void send(const Message& message) {
    Outcome status;
    if constexpr (kBatched) {
      RingWriter& raw = writer_->raw();
      const auto claimed =
          raw.claim(colony::shm::TypeAlias<Message>::tag, colony::shm::serialized_size(message), context_.shm_deadline());
      status = claimed.status;
      if (claimed.ok()) {
        colony::shm::serializer_of(message)(claimed.payload);
        raw.publish(claimed);
        if (++unflushed_ == kBatch) flush();
      }
    } else if constexpr (kTyped) {
      status = writer_->send(message, context_.shm_deadline());
    } else {
      status =
          writer_->send(colony::shm::TypeAlias<Bytes>::tag, std::as_bytes(std::span(message)), context_.shm_deadline());
    }
    if (status != Outcome::ok) throw BenchError("colony send: " + std::string(to_string(status)));
  }

  // The driver's end of a batch: what was published without a wake.
  void flush() {
    if constexpr (kBatched) {
      writer_->raw().flush();
      unflushed_ = 0;
    }
  }

  // Receives the next message and hands its bytes to use() while they are valid.
  template <class Use>
  void receive(Use&& use) {
    if constexpr (kView) {
      const auto received = colony::shm::receive_view<Vector>(*reader_, context_.shm_deadline(), use);
      if (!received.ok()) {
        throw BenchError("colony view: " + std::string(to_string(received.status)) + " " + received.error);
      }
    } else if constexpr (kTyped) {
      // Into a reused message, as the peers read into a reused buffer.
      const auto received = reader_->receive_into(inbox_, context_.shm_deadline());
      if (!received.ok()) {
        throw BenchError("colony receive: " + std::string(to_string(received.status)) + " " + received.error);
      }
      use(std::as_bytes(std::span(inbox_)));
    } else {
      const Received received = raw_receive();
      if (!received.ok()) throw BenchError("colony receive: " + std::string(to_string(received.status)));
      use(received.record.payload);
      reader_->commit();
    }
  }

 private:
  // The bench uses the ring it created; the peer maps it again by name.
  Ring& ring_for(bool in_bench) {
    if (in_bench) return owned_.ring();
    if (!opened_) opened_.emplace(must(Ring::open(owned_.name(), context_.shm_deadline()), "opening ring"));
    return *opened_;
  }

  Received raw_receive() {
    if constexpr (std::is_same_v<Mode, RawOwnPoll>) {
      for (std::uint32_t spins = 0;; ++spins) {
        Received received = reader_->try_receive();
        if (received.status != Outcome::empty) return received;
        cpu_relax();
        if (spins % 4096 == 4095 && Clock::now() > context_.deadline()) {
          return Received{Outcome::timed_out, {}};
        }
      }
    } else {
      return reader_->receive(context_.shm_deadline());
    }
  }

  RunContext& context_;
  OwnedRing owned_;
  WaitPolicy policy_;
  std::optional<Ring> opened_;
  std::optional<Writer> writer_;
  std::optional<Reader> reader_;
  Message inbox_;  // the typed reader decodes into it, reusing its capacity
  std::uint64_t unflushed_ = 0;  // Batched: records published since the last flush
};

template <class Vector>
void copy_into(Vector& out, std::span<const std::byte> bytes) {
  out.resize(bytes.size());
  std::memcpy(out.data(), bytes.data(), bytes.size());
}

// Two single-writer rings, one per direction.
template <class Mode, class Vector = Bytes>
class ColonyPingPong {
 public:
  ColonyPingPong(RunContext& context, std::uint32_t spin_iterations)
      : down_(context, "ping", kPingRing, round_trip_policy(spin_iterations)),
        up_(context, "pong", kPingRing, round_trip_policy(spin_iterations)),
        message_(kPingSize) {
    fill_message(std::as_writable_bytes(std::span(message_)));
  }

  void bench_side() {
    down_.attach_writer(true);
    up_.attach_reader(true);
  }
  void peer_side() {
    down_.attach_reader(false);
    up_.attach_writer(false);
  }
  void ping(std::uint64_t seq) {
    stamp(std::as_writable_bytes(std::span(message_)), seq);
    down_.send(message_);
  }
  void await_pong(std::uint64_t seq) {
    up_.receive([&](std::span<const std::byte> bytes) { check_message(bytes, kPingSize, seq, false); });
  }
  void echo(std::uint64_t seq) {
    down_.receive([&](std::span<const std::byte> bytes) {
      check_message(bytes, kPingSize, seq, false);
      copy_into(message_, bytes);
    });
    up_.send(message_);
  }

 private:
  RingEnd<Mode, Vector> down_;
  RingEnd<Mode, Vector> up_;
  Vector message_;
};

template <class Mode, class Vector = Bytes>
class ColonyStream {
 public:
  ColonyStream(RunContext& context, std::size_t size, std::uint32_t spin_iterations = kNoSpin,
               const RingOptions& options = kStreamRing)
      : ring_(context, "stream", options, WaitPolicy{spin_iterations}), message_(size) {
    fill_message(std::as_writable_bytes(std::span(message_)));
  }

  void sender_side() { ring_.attach_writer(true); }
  void receiver_side() { ring_.attach_reader(false); }
  void send(std::uint64_t seq) {
    stamp(std::as_writable_bytes(std::span(message_)), seq);
    ring_.send(message_);
  }
  void receive(std::uint64_t seq, bool every_byte) {
    ring_.receive([&](std::span<const std::byte> bytes) { check_message(bytes, message_.size(), seq, every_byte); });
  }
  void flush() { ring_.flush(); }

 private:
  RingEnd<Mode, Vector> ring_;
  Vector message_;
};

Case diagnostic(Case row) {
  row.diagnostic = true;
  return row;
}

}  // namespace

std::vector<Case> colony_cases() {
  return {
      latency_case<ColonyPingPong<Typed>>(CaseKind::latency_spin, "colony", kSpinBudget),
      latency_case<ColonyPingPong<Typed>>(CaseKind::latency_block, "colony", kNoSpin),
      throughput_case<ColonyStream<Typed>>("colony", kSmall),
      throughput_case<ColonyStream<Typed>>("colony", kMedium),
      throughput_case<ColonyStream<Typed>>("colony", kLarge),
      throughput_case<ColonyStream<View>>("colony-view", kSmall),
      throughput_case<ColonyStream<View>>("colony-view", kMedium),
      throughput_case<ColonyStream<View>>("colony-view", kLarge),
      throughput_case<ColonyStream<Batched>>("colony-batch16", kSmall),
      throughput_case<ColonyStream<Batched>>("colony-batch16", kMedium),
      throughput_case<ColonyStream<Batched>>("colony-batch16", kLarge),

      diagnostic(latency_case<ColonyPingPong<Typed, U8s>>(CaseKind::latency_spin, "colony-u8", kSpinBudget)),
      diagnostic(latency_case<ColonyPingPong<Raw>>(CaseKind::latency_spin, "colony-raw", kSpinBudget)),
      diagnostic(latency_case<ColonyPingPong<RawOwnPoll>>(CaseKind::latency_spin, "colony-try", kNoSpin)),
      diagnostic(latency_case<ColonyPingPong<Typed, U8s>>(CaseKind::latency_block, "colony-u8", kNoSpin)),
      diagnostic(latency_case<ColonyPingPong<Raw>>(CaseKind::latency_block, "colony-raw", kNoSpin)),
      diagnostic(throughput_case<ColonyStream<Typed, U8s>>("colony-u8", kSmall)),
      diagnostic(throughput_case<ColonyStream<Typed, U8s>>("colony-u8", kMedium)),
      diagnostic(throughput_case<ColonyStream<Typed, U8s>>("colony-u8", kLarge)),
      diagnostic(throughput_case<ColonyStream<Raw>>("colony-raw", kSmall)),
      diagnostic(throughput_case<ColonyStream<Raw>>("colony-raw", kMedium)),
      diagnostic(throughput_case<ColonyStream<Raw>>("colony-raw", kLarge)),
      diagnostic(throughput_case<ColonyStream<Typed>>("colony-256k", kSmall, kNoSpin, kChannelRing)),
      diagnostic(throughput_case<ColonyStream<Typed>>("colony-256k", kMedium, kNoSpin, kChannelRing)),
      diagnostic(throughput_case<ColonyStream<Typed>>("colony-256k", kLarge, kNoSpin, kChannelRing)),
      diagnostic(throughput_case<ColonyStream<Typed>>("colony-spin", kSmall, kSpinBudget)),
      diagnostic(throughput_case<ColonyStream<Typed>>("colony-spin", kMedium, kSpinBudget)),
      diagnostic(throughput_case<ColonyStream<Typed>>("colony-spin", kLarge, kSpinBudget)),
      diagnostic(throughput_case<ColonyStream<Typed, U8s>>("colony-u8-spin", kSmall, kSpinBudget)),
      diagnostic(throughput_case<ColonyStream<Typed, U8s>>("colony-u8-spin", kLarge, kSpinBudget)),
  };
}

}  // namespace bench
