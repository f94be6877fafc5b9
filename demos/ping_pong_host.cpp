// colony_demo_ping_pong: the round-trip latency between two processes. This
// process hosts the broker and bounces a number off one worker
// (ping_pong_worker.cpp) over the default channel pair, one message in
// flight at a time, timing each round trip with steady_clock.
//
//   colony_demo_ping_pong [--round-trips N] [--spin [ITERATIONS]]
//
// Without --spin both sides sleep in the kernel (on a wait word) between messages,
// so a round trip costs two wake-ups. With --spin both sides re-check their
// channels ITERATIONS times (default 20000) before sleeping: lower latency,
// paid for with two busy cores.
//
// Exit code 0 when every round trip completed with its own number back.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "colony/broker/broker.hpp"
#include "ping_pong_stats.hpp"
#include "processes.hpp"

namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  std::uint64_t round_trips = 100'000;
  std::uint32_t spin = 0;
};

[[noreturn]] void usage() {
  std::fprintf(stderr, "usage: colony_demo_ping_pong [--round-trips N] [--spin [ITERATIONS]]\n");
  std::exit(2);
}

bool is_number(const char* text, long long& value) {
  char* end = nullptr;
  value = std::strtoll(text, &end, 10);
  return end != text && *end == '\0' && value > 0;
}

Options parse(int argc, char** argv) {
  Options options;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    long long value = 0;
    if (arg == "--round-trips" && i + 1 < argc && is_number(argv[i + 1], value)) {
      options.round_trips = static_cast<std::uint64_t>(value);
      ++i;
    } else if (arg == "--spin") {
      options.spin = 20'000;
      if (i + 1 < argc && is_number(argv[i + 1], value) && value <= 100'000'000) {
        options.spin = static_cast<std::uint32_t>(value);
        ++i;
      }
    } else {
      usage();
    }
  }
  return options;
}

double us(std::uint64_t ns) { return static_cast<double>(ns) / 1000.0; }

}  // namespace

int main(int argc, char** argv) {
  const Options options = parse(argc, argv);
  const auto worker_exe = demo::sibling_executable("colony_demo_ping_pong_worker");

  colony::Broker broker;  // a new session; this process is its host
  auto& host = broker.host();
  host.set_spin(options.spin);

  auto peer = host.create(worker_exe);
  peer.set_shared_property("spin", options.spin);
  bool answered = false;
  std::uint64_t answer = 0;
  peer.on_message<std::uint64_t>([&](std::uint64_t ball) {
    answer = ball;
    answered = true;
  });
  peer.start();

  // One round trip: post, then run the event loop until the answer came back.
  // False when it did not within 5 s, or came back as another number.
  const auto bounce = [&](std::uint64_t ball) {
    answered = false;
    peer.post_message(ball);
    const auto give_up = Clock::now() + std::chrono::seconds(5);
    while (!answered && Clock::now() < give_up) host.dispatch(std::chrono::milliseconds(100));
    return answered && answer == ball;
  };

  // Not measured: the first round trips start the worker and touch the rings' pages.
  constexpr std::uint64_t kWarmUp = 1000;
  for (std::uint64_t i = 0; i < kWarmUp; ++i) {
    if (!bounce(i)) {
      std::printf("warm-up round trip %llu failed\n", static_cast<unsigned long long>(i));
      return 1;
    }
  }

  std::vector<std::uint64_t> samples;
  samples.reserve(options.round_trips);
  const auto started = Clock::now();
  for (std::uint64_t i = 0; i < options.round_trips; ++i) {
    const auto t0 = Clock::now();
    if (!bounce(kWarmUp + i)) {
      std::printf("round trip %llu failed after %zu completed\n", static_cast<unsigned long long>(i), samples.size());
      return 1;
    }
    samples.push_back(static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - t0).count()));
  }
  const double seconds = std::chrono::duration<double>(Clock::now() - started).count();

  peer.post_message(std::string("bye"));
  const auto status = peer.join(std::chrono::seconds(10));

  std::sort(samples.begin(), samples.end());
  std::printf("%zu round trips (after %llu warm-up), spin %u, %.2f s, %.0f round trips/s\n", samples.size(),
              static_cast<unsigned long long>(kWarmUp), options.spin, seconds, static_cast<double>(samples.size()) / seconds);
  std::printf("round trip: p50 %.2f us, p90 %.2f us, p99 %.2f us, max %.2f us\n", us(ping_pong::quantile(samples, 0.50)),
              us(ping_pong::quantile(samples, 0.90)), us(ping_pong::quantile(samples, 0.99)), us(samples.back()));
  ping_pong::print_histogram(samples);
  if (!status || !status->ok()) {
    std::printf("the worker did not end cleanly: %s\n", status ? status->describe().c_str() : "still running after 10 s");
    return 1;
  }
  return 0;
}
