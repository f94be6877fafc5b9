// SIGINT and SIGTERM blocked, and waited for with sigtimedwait.
#include <signal.h>

#include <ctime>

#include "stop_on_signals.hpp"

namespace colony::cli {
namespace {

sigset_t stop_signals() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  return signals;
}

}  // namespace

void block_stop_signals() {
  const sigset_t signals = stop_signals();
  ::pthread_sigmask(SIG_BLOCK, &signals, nullptr);
}

int wait_for_stop_signal(std::chrono::milliseconds patience) {
  const sigset_t signals = stop_signals();
  const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(patience);
  const timespec timeout{static_cast<std::time_t>(seconds.count()),
                         static_cast<long>(std::chrono::nanoseconds(patience - seconds).count())};
  const int received = ::sigtimedwait(&signals, nullptr, &timeout);
  return received == SIGINT || received == SIGTERM ? received : 0;
}

}  // namespace colony::cli
