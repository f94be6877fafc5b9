#pragma once
// SIGINT and SIGTERM end a session cleanly: block them before any thread
// exists (every thread inherits the mask), and a thread of this object waits
// for them and asks the broker to stop.

#include <atomic>
#include <csignal>
#include <ctime>
#include <thread>

#include "colony/broker/broker.hpp"

namespace colony::cli {

inline sigset_t stop_signals() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  return signals;
}

// Call first thing, before a Broker starts its threads.
inline void block_stop_signals() {
  const sigset_t signals = stop_signals();
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
}

class StopOnSignals {
 public:
  explicit StopOnSignals(Broker& broker) {
    thread_ = std::thread([this, &broker] {
      const sigset_t signals = stop_signals();
      const timespec tick{0, 100'000'000};
      while (!done_.load()) {
        const int received = ::sigtimedwait(&signals, nullptr, &tick);
        if (received == SIGINT || received == SIGTERM) {
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
  int signal() const { return signal_.load(); }

 private:
  std::atomic<bool> done_{false};
  std::atomic<int> signal_{0};
  std::thread thread_;
};

}  // namespace colony::cli
