// iceoryx (Eclipse iceoryx 2.0, Debian's package) as a peer: zero-copy
// publish/subscribe through shared-memory chunks that its daemon, iox-roudi,
// manages. Untyped publisher and subscriber, two topics for a round trip:
//
//   latency-spin   iceoryx  ping topic bench -> peer, pong topic back; both
//                           sides spin on take() with pause
//   latency-block  iceoryx  the same, both sides sleep in a WaitSet (a
//                           semaphore in shared memory) until the subscriber
//                           has data
//   throughput     iceoryx  one topic, the subscriber's queue blocks the
//                           publisher when full (BLOCK_PRODUCER and
//                           WAIT_FOR_CONSUMER: lossless; iceoryx's publisher
//                           then yields in a loop); the receiver sleeps in a
//                           WaitSet when the queue is empty
//
// Like every other peer, the sender copies its message into the transport (a
// loaned chunk) and the throughput receiver copies it out into its buffer
// (then releases the chunk); round-trip receivers check the chunk in place.
//
// The daemon: the first iceoryx row of a run starts iox-roudi, which the
// run's end stops (iceoryx_roudi.hpp).
//
// The processes: iceoryx's runtime is a process-wide singleton that registers
// with RouDi, runs a keep-alive thread and must deregister when the process
// ends (RouDi sends SIGTERM to every process still registered when it stops).
// The bench process itself therefore never touches iceoryx: each row runs in
// a case process forked from the bench (run_in_child), which forks its peer
// before either side starts its runtime; both leave RouDi with exit(0).
//
// Compiled only when iceoryx was found at build time (iceoryx_absent.cpp
// otherwise); when iox-roudi is missing or does not start, the rows are
// absent and say why.

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include <iceoryx_hoofs/log/logmanager.hpp>
#include <iceoryx_posh/mepoo/chunk_header.hpp>
#include <iceoryx_posh/popo/untyped_publisher.hpp>
#include <iceoryx_posh/popo/untyped_subscriber.hpp>
#include <iceoryx_posh/popo/wait_set.hpp>
#include <iceoryx_posh/runtime/posh_runtime.hpp>

#include "drivers.hpp"
#include "peers/iceoryx_roudi.hpp"
#include "peers/peers.hpp"

namespace bench {
namespace {

using Buffer = std::vector<std::byte>;

// ---------------------------------------------------------------------------
// The iceoryx side of a process

// Registers this process with RouDi, once (in the case process or its peer,
// never in the bench).
void join_roudi(const std::string& prefix) {
  static bool joined = false;
  if (joined) return;
  iox::log::LogManager::GetLogManager().SetDefaultLogLevel(iox::log::LogLevel::kWarn,
                                                         iox::log::LogLevelOutput::kHideLogLevel);
  const std::string name = prefix + std::to_string(::getpid());
  iox::runtime::PoshRuntime::initRuntime(iox::RuntimeName_t(iox::cxx::TruncateToCapacity, name.c_str(), name.size()));
  joined = true;
}

iox::capro::IdString_t id(const std::string& text) {
  return iox::capro::IdString_t(iox::cxx::TruncateToCapacity, text.c_str(), text.size());
}

// Queued chunks per subscriber: as many bytes as Colony's 4 MiB stream ring,
// within 64 and iceoryx's maximum of 256.
std::uint64_t queue_capacity(std::size_t size) {
  return std::clamp<std::uint64_t>((std::uint64_t{4} << 20) / size, 64, iox::MAX_SUBSCRIBER_QUEUE_CAPACITY);
}

iox::popo::PublisherOptions publisher_options() {
  iox::popo::PublisherOptions options;
  options.subscriberTooSlowPolicy = iox::popo::ConsumerTooSlowPolicy::WAIT_FOR_CONSUMER;
  return options;
}

iox::popo::SubscriberOptions subscriber_options(std::size_t size) {
  iox::popo::SubscriberOptions options;
  options.queueCapacity = queue_capacity(size);
  options.queueFullPolicy = iox::popo::QueueFullPolicy::BLOCK_PRODUCER;
  return options;
}

enum class Wait { spin, block };

// One topic's receiving end: a subscriber, and a WaitSet when it sleeps.
class Inbox {
 public:
  Inbox(const iox::capro::ServiceDescription& service, std::size_t size, Wait wait, Clock::time_point deadline)
      : deadline_(deadline), wait_(wait) {
    subscriber_.emplace(service, subscriber_options(size));
    if (wait_ == Wait::block) {
      waitset_.emplace();
      if (waitset_->attachState(*subscriber_, iox::popo::SubscriberState::HAS_DATA).has_error()) {
        throw BenchError("iceoryx: cannot attach the subscriber to a WaitSet");
      }
    }
  }
  Inbox(const Inbox&) = delete;
  Inbox& operator=(const Inbox&) = delete;
  ~Inbox() { waitset_.reset(); }  // detached before the subscriber goes

  bool connected() const { return subscriber_->getSubscriptionState() == iox::SubscribeState::SUBSCRIBED; }

  // The next chunk's payload; hand it back with release().
  std::span<const std::byte> take() {
    for (std::uint32_t spins = 0;; ++spins) {
      auto taken = subscriber_->take();
      if (!taken.has_error()) {
        const void* payload = taken.value();
        const auto* header = iox::mepoo::ChunkHeader::fromUserPayload(payload);
        return {static_cast<const std::byte*>(payload), header->userPayloadSize()};
      }
      if (taken.get_error() != iox::popo::ChunkReceiveResult::NO_CHUNK_AVAILABLE) {
        throw BenchError("iceoryx take: too many chunks held");
      }
      if (wait_ == Wait::spin) {
        cpu_relax();
        if (spins % 4096 == 4095) check_deadline();
      } else {
        waitset_->timedWait(iox::units::Duration::fromMilliseconds(100));
        check_deadline();
      }
    }
  }
  void release(std::span<const std::byte> payload) { subscriber_->release(payload.data()); }

 private:
  void check_deadline() const {
    check_watchdog("iceoryx receive");
    if (Clock::now() > deadline_) throw BenchError("iceoryx receive timed out");
  }

  Clock::time_point deadline_;
  Wait wait_;
  std::optional<iox::popo::UntypedSubscriber> subscriber_;
  std::optional<iox::popo::WaitSet<>> waitset_;
};

// One topic's sending end.
class Outbox {
 public:
  explicit Outbox(const iox::capro::ServiceDescription& service) { publisher_.emplace(service, publisher_options()); }

  bool connected() const { return publisher_->hasSubscribers(); }

  // Loans a chunk, copies message into it, publishes it.
  void send(std::span<const std::byte> message) {
    auto loaned = publisher_->loan(static_cast<std::uint32_t>(message.size()));
    if (loaned.has_error()) {
      throw BenchError("iceoryx loan failed (error " + std::to_string(static_cast<int>(loaned.get_error())) + ")");
    }
    void* chunk = loaned.value();
    std::memcpy(chunk, message.data(), message.size());
    publisher_->publish(chunk);
  }

 private:
  std::optional<iox::popo::UntypedPublisher> publisher_;
};

// Waits until every end given is connected (RouDi matches them every 100 ms).
template <class... Ends>
void await_connected(Clock::time_point deadline, const Ends&... ends) {
  while (!(ends.connected() && ...)) {
    check_watchdog("iceoryx discovery");
    if (Clock::now() > deadline) throw BenchError("iceoryx: publisher and subscriber did not connect in time");
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

// Leaves RouDi and ends the peer process: the runtime deregisters in its
// static destructor, which _exit would skip.
[[noreturn]] void leave_and_exit() {
  std::fflush(nullptr);
  std::exit(0);
}

// The services of one case: unique in the run (the case process's pid in it).
std::string instance_name(RunContext& context) {
  return context.session() + "_" + context.unique("iox") + "_" + std::to_string(::getpid());
}

class IceoryxPingPong {
 public:
  IceoryxPingPong(RunContext& context, Wait wait, const std::string& prefix)
      : context_(context), wait_(wait), prefix_(prefix), instance_(instance_name(context)), message_(kPingSize) {
    fill_message(message_);
  }

  void bench_side() {
    join_roudi(prefix_);
    out_.emplace(service("ping"));
    in_.emplace(service("pong"), kPingSize, wait_, context_.deadline());
    await_connected(context_.deadline(), *out_, *in_);
  }
  void peer_side() {
    join_roudi(prefix_);
    in_.emplace(service("ping"), kPingSize, wait_, context_.deadline());
    out_.emplace(service("pong"));
    await_connected(context_.deadline(), *out_, *in_);
  }
  void ping(std::uint64_t seq) {
    stamp(message_, seq);
    out_->send(message_);
  }
  void await_pong(std::uint64_t seq) {
    const auto payload = in_->take();
    check_message(payload, kPingSize, seq, false);
    in_->release(payload);
  }
  void echo(std::uint64_t seq) {
    const auto payload = in_->take();
    check_message(payload, kPingSize, seq, false);
    out_->send(payload);
    in_->release(payload);
  }
  void peer_end() {
    in_.reset();
    out_.reset();
    leave_and_exit();
  }

 private:
  iox::capro::ServiceDescription service(const char* event) const {
    return {id("ColonyBench"), id(instance_), id(event)};
  }

  RunContext& context_;
  Wait wait_;
  std::string prefix_;
  std::string instance_;
  Buffer message_;
  std::optional<Outbox> out_;
  std::optional<Inbox> in_;
};

class IceoryxStream {
 public:
  IceoryxStream(RunContext& context, std::size_t size, const std::string& prefix)
      : context_(context), prefix_(prefix), instance_(instance_name(context)), message_(size) {
    fill_message(message_);
  }

  void sender_side() {
    join_roudi(prefix_);
    out_.emplace(service());
    await_connected(context_.deadline(), *out_);
  }
  void receiver_side() {
    join_roudi(prefix_);
    in_.emplace(service(), message_.size(), Wait::block, context_.deadline());
    await_connected(context_.deadline(), *in_);
  }
  void send(std::uint64_t seq) {
    stamp(message_, seq);
    out_->send(message_);
  }
  void receive(std::uint64_t seq, bool every_byte) {
    const auto payload = in_->take();
    if (payload.size() != message_.size()) {
      throw BenchError("iceoryx: a chunk of " + std::to_string(payload.size()) + " bytes, expected " +
                       std::to_string(message_.size()));
    }
    std::memcpy(message_.data(), payload.data(), payload.size());
    in_->release(payload);
    check_message(message_, message_.size(), seq, every_byte);
  }
  void peer_end() {
    in_.reset();
    leave_and_exit();
  }

 private:
  iox::capro::ServiceDescription service() const { return {id("ColonyBench"), id(instance_), id("stream")}; }

  RunContext& context_;
  std::string prefix_;
  std::string instance_;
  Buffer message_;
  std::optional<Outbox> out_;
  std::optional<Inbox> in_;
};

}  // namespace

std::vector<Case> iceoryx_cases() {
  const auto roudi = std::make_shared<Roudi>();
  const auto latency = [roudi](CaseKind kind, Wait wait) {
    return Case{kind, "iceoryx", kPingSize, [roudi, wait](RunContext& context) {
                  Roudi::ensure_running(roudi, context);
                  const std::string prefix = roudi->runtime_prefix();
                  return run_in_child(context,
                                      [&] { return run_latency<IceoryxPingPong>(context, wait, prefix); });
                }};
  };
  const auto throughput = [roudi](std::size_t size) {
    return Case{CaseKind::throughput, "iceoryx", size, [roudi, size](RunContext& context) {
                  Roudi::ensure_running(roudi, context);
                  const std::string prefix = roudi->runtime_prefix();
                  return run_in_child(context,
                                      [&] { return run_throughput<IceoryxStream>(context, size, prefix); });
                }};
  };
  return {
      latency(CaseKind::latency_spin, Wait::spin),
      latency(CaseKind::latency_block, Wait::block),
      throughput(kSmall),
      throughput(kMedium),
      throughput(kLarge),
  };
}

}  // namespace bench
