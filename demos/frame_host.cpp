// colony_demo_frame: one producer, K consumer processes, one 64 KiB frame in
// a shared byte array, guarded by a shared mutex and announced through a
// shared condition.
//
// This process hosts the broker and is the producer: it writes frame k
// (payload words derived from k, a header holding k and the payload's
// checksum) under the mutex, bumps the generation word and notifies. Each
// consumer (frame_consumer.cpp) wakes, copies the latest frame under the
// mutex and checks it. Consumers skip the frames published while they were
// busy; what must hold is that no frame they saw was torn or older than the
// one before it.
//
//   colony_demo_frame [--frames N] [--consumers K]
//
// Exit code 0 when every consumer reported, saw at least one frame, and no
// frame was bad; 1 otherwise; 2 on a usage error.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "colony/broker/broker.hpp"
#include "frame_layout.hpp"
#include "processes.hpp"

namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  std::uint64_t frames = 2000;
  std::int32_t consumers = 3;
};

[[noreturn]] void usage() {
  std::fprintf(stderr, "usage: colony_demo_frame [--frames N] [--consumers K (1..32)]\n");
  std::exit(2);
}

Options parse(int argc, char** argv) {
  Options options;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (i + 1 >= argc) usage();
    char* end = nullptr;
    const long long value = std::strtoll(argv[++i], &end, 10);
    if (*end != '\0' || value <= 0) usage();
    if (arg == "--frames") options.frames = static_cast<std::uint64_t>(value);
    else if (arg == "--consumers" && value <= 32) options.consumers = static_cast<std::int32_t>(value);
    else usage();
  }
  return options;
}

// Writes frame k into the array and announces it. The whole frame is written
// under the mutex, so a consumer holding it never sees half of two frames.
void publish(colony::SharedByteArray& frame, colony::SharedMutex& lock, colony::SharedCondition& changed,
             std::uint64_t k, bool last) {
  {
    // A consumer holds the mutex only to copy one frame.
    colony::shm::MutexLock guard(*lock, colony::shm::Deadline::after(std::chrono::seconds(10)));
    if (!guard) throw std::runtime_error("the frame's mutex stayed held for 10 s");
    const auto bytes = frame->bytes();
    const std::size_t words = (bytes.size() - frame::kPayloadOffset) / sizeof(std::uint64_t);
    std::uint64_t sum = 0xCBF29CE484222325ULL;  // frame::checksum, computed as we write
    for (std::size_t j = 0; j < words; ++j) {
      const std::uint64_t word = frame::payload_word(k, j);
      std::memcpy(bytes.data() + frame::kPayloadOffset + j * sizeof(word), &word, sizeof(word));
      sum = (sum ^ word) * 0x100000001B3ULL;
    }
    (void)frame->store<std::uint64_t>(frame::kNumberOffset, k);
    (void)frame->store<std::uint64_t>(frame::kChecksumOffset, sum);
    if (last) (void)frame->store<std::uint32_t>(frame::kDoneOffset, 1);
    (void)frame->fetch_add<std::uint32_t>(frame::kGenerationOffset, 1);
  }
  changed->notify_all();  // after unlocking: woken consumers do not block on a held mutex
}

}  // namespace

int main(int argc, char** argv) {
  const Options options = parse(argc, argv);
  const auto consumer_exe = demo::sibling_executable("colony_demo_frame_consumer");

  colony::Broker broker;  // a new session; this process is its host
  auto& host = broker.host();
  // Shared objects live in the session: created here, handed over as
  // properties, the same mapping in every process.
  auto frame = colony::SharedByteArray::create(frame::kFrameBytes, "frame");
  auto lock = colony::SharedMutex::create("frame-lock");
  auto changed = colony::SharedCondition::create("frame-changed");

  const auto count = static_cast<std::size_t>(options.consumers);
  std::size_t ready = 0;
  std::size_t exits_ok = 0;
  std::size_t exits = 0;
  std::vector<frame::ConsumerReport> reports;
  std::vector<colony::WorkerHandle> consumers;
  for (std::int32_t id = 0; id < options.consumers; ++id) {
    auto consumer = host.create(consumer_exe);
    consumer.set_shared_property("id", id);
    consumer.set_shared_property("frame", frame);
    consumer.set_shared_property("lock", lock);
    consumer.set_shared_property("changed", changed);
    consumer.on_message<std::string>([&](const std::string&) { ++ready; });
    consumer.on_message<frame::ConsumerReport>([&](const frame::ConsumerReport& report) { reports.push_back(report); });
    consumer.on_exit([&, id](const colony::ExitStatus& status) {
      if (!status.ok()) std::printf("consumer %d %s\n", id, status.describe().c_str());
      if (status.ok()) ++exits_ok;
      ++exits;
    });
    consumer.start();
    consumers.push_back(consumer);
  }

  // Every consumer holds the objects before frame 1. A slow starter may miss the
  // first frames, but the last one stays in the array with done set: each sees it.
  const auto deadline = Clock::now() + std::chrono::seconds(60);
  while (ready < count && Clock::now() < deadline) host.dispatch(std::chrono::milliseconds(100));
  if (ready < count) {
    std::printf("only %zu of %zu consumers became ready\n", ready, count);
    return 1;
  }

  const auto started = Clock::now();
  for (std::uint64_t k = 1; k <= options.frames; ++k) publish(frame, lock, changed, k, k == options.frames);
  const auto elapsed_ms = std::chrono::duration<double, std::milli>(Clock::now() - started).count();

  while ((reports.size() < count || exits < count) && Clock::now() < deadline) {
    host.dispatch(std::chrono::milliseconds(100));
  }

  std::printf("published %llu frames of %zu KiB in %.1f ms to %zu consumers\n",
              static_cast<unsigned long long>(options.frames), frame::kFrameBytes >> 10, elapsed_ms, count);
  bool good = reports.size() == count && exits_ok == count;
  for (const auto& r : reports) {
    std::printf("consumer %d: saw %llu frames (first %llu, last %llu), %llu bad\n", r.consumer,
                static_cast<unsigned long long>(r.frames_seen), static_cast<unsigned long long>(r.first_frame),
                static_cast<unsigned long long>(r.last_frame), static_cast<unsigned long long>(r.frames_bad));
    good = good && r.frames_seen > 0 && r.frames_bad == 0;
  }
  std::printf("consumers skip the frames published while they were checking one: fewer than %llu seen is expected\n",
              static_cast<unsigned long long>(options.frames));
  std::printf("%s\n", good ? "OK: no torn or out-of-order frame" : "FAILED");
  return good ? 0 : 1;
}
