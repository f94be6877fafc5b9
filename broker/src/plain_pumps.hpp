#pragma once
// The two threads that make a plain executable (one that knows nothing of
// Colony) a worker: one feeds its standard input from a channel, one
// publishes its standard output to a channel, as lines or byte chunks.

#include <atomic>
#include <memory>
#include <thread>

#include "colony/session/channel_core.hpp"
#include "colony/worker/channel.hpp"

namespace colony::broker_detail {

class PlainPumps {
 public:
  // Takes ownership of the pipe ends (either may be -1: none). input and
  // output may be null.
  PlainPumps(std::shared_ptr<detail::ChannelCore> input, int stdin_write_fd,
             std::shared_ptr<detail::ChannelCore> output, int stdout_read_fd, bool chunks);
  ~PlainPumps();  // stops both and joins
  PlainPumps(const PlainPumps&) = delete;
  PlainPumps& operator=(const PlainPumps&) = delete;

  // The output pump has published everything the process wrote and closed
  // its channel (the process's end is reported after this).
  bool output_done() const noexcept { return output_done_.load(std::memory_order_acquire); }
  // The process ended: the input pump stops feeding it.
  void process_ended() noexcept { process_ended_.store(true, std::memory_order_release); }
  // The session is ending: the output pump stops waiting for room in a
  // channel nobody may read any more.
  void stop() noexcept { stopping_.store(true, std::memory_order_release); }

 private:
  void feed(std::shared_ptr<detail::ChannelCore> input, int fd);
  void publish(std::shared_ptr<detail::ChannelCore> output, int fd, bool chunks);
  std::atomic<bool> stopping_{false};
  std::atomic<bool> process_ended_{false};
  std::atomic<bool> output_done_{false};
  std::thread input_thread_;
  std::thread output_thread_;
};

}  // namespace colony::broker_detail
