// colony_demo_frame_consumer: one reader of the shared frame (frame_host.cpp
// is the producer). Waits on the shared condition for a new generation, copies
// the frame out while holding the shared mutex, checks it after letting go
// (so the producer is held up for a memcpy, not for a checksum), and in the
// end reports to its parent how many frames it saw and how many were bad.
//
// It sees the latest frame each time it wakes, not every frame: frames the
// producer published while this consumer was busy are skipped, as a video
// consumer drops frames it is too slow for.
#include <chrono>
#include <cstring>
#include <vector>

#include "colony/worker/worker.hpp"
#include "frame_layout.hpp"

namespace {

using colony::shm::Deadline;

// No new frame for this long: the producer is gone; report what we have.
constexpr auto kIdleLimit = std::chrono::seconds(10);

}  // namespace

int main() {
  auto& self = colony::Worker::current();
  const auto id = self.get_shared_property<std::int32_t>("id");
  auto frame = self.get_shared_property<colony::SharedByteArray>("frame");
  auto lock = self.get_shared_property<colony::SharedMutex>("lock");
  auto changed = self.get_shared_property<colony::SharedCondition>("changed");
  self.post_message(std::string("ready"));  // the producer waits for every consumer before its first frame

  const auto bytes = frame->bytes();
  const std::size_t words = (bytes.size() - frame::kPayloadOffset) / sizeof(std::uint64_t);
  std::vector<std::uint64_t> copy(words);
  frame::ConsumerReport report;
  report.consumer = id;
  std::uint32_t seen_generation = 0;

  for (;;) {
    bool fresh = false;
    bool done = false;
    std::uint64_t number = 0;
    std::uint64_t sum = 0;
    {
      const auto idle_deadline = Deadline::after(kIdleLimit);
      // The frame's words are only read or written under the mutex.
      colony::shm::MutexLock guard(*lock, idle_deadline);
      if (!guard) break;  // held past the idle limit: the producer is stuck
      // Re-check after every wake: a notification may be meant for another waiter.
      while (frame->load<std::uint32_t>(frame::kGenerationOffset).value() == seen_generation &&
             frame->load<std::uint32_t>(frame::kDoneOffset).value() == 0 && !idle_deadline.expired()) {
        if (!changed->wait(guard, idle_deadline).holds_mutex()) break;
      }
      if (!guard) break;
      const auto generation = frame->load<std::uint32_t>(frame::kGenerationOffset).value();
      done = frame->load<std::uint32_t>(frame::kDoneOffset).value() != 0;
      if (generation != seen_generation) {
        seen_generation = generation;
        fresh = true;
        number = frame->load<std::uint64_t>(frame::kNumberOffset).value();
        sum = frame->load<std::uint64_t>(frame::kChecksumOffset).value();
        std::memcpy(copy.data(), bytes.data() + frame::kPayloadOffset, words * sizeof(std::uint64_t));
      } else if (!done) {
        break;  // idle for kIdleLimit: the producer is gone
      }
    }
    if (fresh) {
      // Checked outside the lock, on our copy.
      const bool intact = frame::checksum(copy) == sum && copy.front() == frame::payload_word(number, 0) &&
                          copy.back() == frame::payload_word(number, words - 1);
      const bool forward = report.frames_seen == 0 || number > report.last_frame;
      if (!intact || !forward) ++report.frames_bad;
      if (report.frames_seen == 0) report.first_frame = number;
      report.last_frame = number;
      ++report.frames_seen;
    }
    if (done && !fresh) break;  // the last frame is checked: nothing more will come
  }
  self.post_message(report);
  self.close();  // the parent drains the report, then sees us exit with code 0
}
