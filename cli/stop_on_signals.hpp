#pragma once
// The signals that end a session cleanly (interrupt and terminate: Ctrl-C,
// kill): blocked before any thread exists (every thread inherits the mask),
// then a thread of StopOnSignals waits for them and asks the broker to stop.
// Blocking and waiting are the platform's (cli/linux/stop_on_signals.cpp).

#include <atomic>
#include <chrono>
#include <thread>

#include "colony/broker/broker.hpp"

namespace colony::cli {

// Call first thing, before a Broker starts its threads.
void block_stop_signals();

// Waits up to patience for a blocked stop signal; its number, or 0.
int wait_for_stop_signal(std::chrono::milliseconds patience);

class StopOnSignals {
 public:
  explicit StopOnSignals(Broker& broker) {
    thread_ = std::thread([this, &broker] {
      while (!done_.load()) {
        if (const int received = wait_for_stop_signal(std::chrono::milliseconds(100)); received != 0) {
          signal_.store(received);
          broker.request_stop();
        }
      }
    });
  }
  ~StopOnSignals() {
    done_.store(true);
    thread_.join();
  }
  StopOnSignals(const StopOnSignals&) = delete;
  StopOnSignals& operator=(const StopOnSignals&) = delete;
  // The stop signal received, 0 while none: a command stopped by signal N exits 128+N.
  int signal() const { return signal_.load(); }

 private:
  std::atomic<bool> done_{false};
  std::atomic<int> signal_{0};
  std::thread thread_;
};

}  // namespace colony::cli
