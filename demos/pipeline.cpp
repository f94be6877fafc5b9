// colony_demo_pipeline: a producer, stages of worker processes, and a
// consumer, connected by mailboxes (at-least-once). With --chaos a thread
// SIGKILLs a random stage process every 50 to 200 ms; supervision restarts
// it, its block is handled again, and the result is the same as without
// chaos: the result checksum printed at the end says so.
//
//   colony_demo_pipeline                         200,000 blocks, 4 parallel transformers
//   colony_demo_pipeline --stages 3 --chaos      3 stages in series, under fire
//
// Exit code 0 when every block arrived, none corrupt, and duplicates stay
// within what the kills explain (one per kill at most); 1 otherwise.
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "colony/broker/broker.hpp"
#include "colony/shm/process.hpp"
#include "colony/worker/mailbox.hpp"
#include "colony/worker/named.hpp"
#include "pipeline_blocks.hpp"
#include "processes.hpp"

namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  std::uint64_t messages = 200'000;
  std::uint64_t rate = 0;  // blocks per second the producer sends at most; 0: as fast as it can
  int width = 4;  // parallel transformers
  int depth = 1;  // stages in series
  bool chaos = false;
  bool json = false;
  unsigned seed = 1;
  int timeout_s = 120;
};

[[noreturn]] void usage() {
  std::fprintf(stderr,
               "usage: colony_demo_pipeline [--messages N] [--transformers K | --stages S] [--chaos] [--seed N]\n"
               "                            [--rate BLOCKS_PER_S] [--timeout SECONDS] [--json]\n");
  std::exit(2);
}

Options parse(int argc, char** argv) {
  Options options;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const auto number = [&]() -> long long {
      if (i + 1 >= argc) usage();
      char* end = nullptr;
      const long long value = std::strtoll(argv[++i], &end, 10);
      if (*end != '\0' || value <= 0) usage();
      return value;
    };
    if (arg == "--messages") options.messages = static_cast<std::uint64_t>(number());
    else if (arg == "--transformers") options.width = static_cast<int>(number()), options.depth = 1;
    else if (arg == "--stages") options.depth = static_cast<int>(number()), options.width = 1;
    else if (arg == "--chaos") options.chaos = true;
    else if (arg == "--json") options.json = true;
    else if (arg == "--seed") options.seed = static_cast<unsigned>(number());
    else if (arg == "--rate") options.rate = static_cast<std::uint64_t>(number());
    else if (arg == "--timeout") options.timeout_s = static_cast<int>(number());
    else usage();
  }
  if (options.width > 64 || options.depth > 16) usage();
  return options;
}

std::string stage_name(int depth, int lane) { return "stage-" + std::to_string(depth) + "-" + std::to_string(lane); }

std::string stage_executable() {
  return demo::sibling_executable("colony_demo_pipeline_stage");
}

// The order blocks arrive in does not change it: a sum of per-block hashes.
std::uint64_t result_term(std::uint64_t seq, std::uint64_t sum) {
  std::uint64_t x = (seq + 1) * 0x9E3779B97F4A7C15ULL ^ sum;
  x ^= x >> 31;
  return x * 0xBF58476D1CE4E5B9ULL;
}

}  // namespace

int main(int argc, char** argv) {
  const Options options = parse(argc, argv);
  colony::BrokerOptions broker_options;
  broker_options.session = "pipeline" + std::to_string(colony::shm::current_pid());
  colony::Broker broker(broker_options);
  const std::string session = broker.session();

  // Each stage posts to the next one in its lane; the last to "results".
  colony::NamedWorkerOptions supervision;
  supervision.max_attempts = 1000;  // chaos may kill a block's handler often; it must not be buried
  supervision.max_restarts = 1'000'000;
  supervision.restart_window = std::chrono::seconds(1);
  supervision.backoff_initial = std::chrono::milliseconds(1);
  supervision.backoff_max = std::chrono::milliseconds(20);
  std::vector<std::string> stages;
  for (int lane = 0; lane < options.width; ++lane) {
    for (int depth = 1; depth <= options.depth; ++depth) {
      const std::string next = depth == options.depth ? "results" : stage_name(depth + 1, lane);
      broker.define_named_worker(stage_name(depth, lane), stage_executable(), {next}, supervision);
      stages.push_back(stage_name(depth, lane));
    }
  }
  auto results = colony::Mailbox::open_or_create(session, "results", colony::MailboxOptions{4 << 20, 1000});
  for (const auto& name : stages) (void)colony::call(session, name, "", colony::Value::Array{});  // start them all

  const auto started = Clock::now();
  std::atomic<bool> done{false};
  std::thread producer([&] {
    std::vector<colony::Mailbox> firsts;
    for (int lane = 0; lane < options.width; ++lane) firsts.push_back(colony::Mailbox::open_or_create(session, stage_name(1, lane)));
    for (std::uint64_t seq = 0; seq < options.messages && !done.load(); ++seq) {
      if (options.rate > 0) {
        const auto due = started + std::chrono::microseconds(seq * 1'000'000 / options.rate);
        if (due > Clock::now()) std::this_thread::sleep_until(due);
      }
      colony::Call call{0, "block", pipeline_demo::make_block(seq, pipeline_demo::block_data(seq)), {}};
      auto& box = firsts[seq % firsts.size()];
      while (box.post(call, colony::shm::Deadline::after(std::chrono::milliseconds(200))) != colony::shm::Outcome::ok) {
        if (done.load()) return;
      }
    }
  });
  std::atomic<std::uint64_t> kills{0};
  std::thread chaos([&] {
    if (!options.chaos) return;
    std::mt19937 random(options.seed);
    std::uniform_int_distribution<int> pause(50, 200);
    std::uniform_int_distribution<std::size_t> pick(0, stages.size() - 1);
    while (!done.load()) {
      const auto until = Clock::now() + std::chrono::milliseconds(pause(random));
      while (!done.load() && Clock::now() < until) std::this_thread::sleep_for(std::chrono::milliseconds(5));
      if (done.load()) break;
      const int pid = colony::named_worker_pid(session, stages[pick(random)]);
      if (pid > 0 && demo::kill_process(pid)) kills.fetch_add(1);
    }
  });

  // The consumer: each block checked against what the stages must have made of it.
  std::vector<bool> seen(options.messages, false);
  std::uint64_t arrived = 0, duplicates = 0, corrupt = 0, result = 0;
  const bool tty = demo::stderr_is_terminal();
  auto last_progress = Clock::now();
  const auto deadline = started + std::chrono::seconds(options.timeout_s);
  while (arrived < options.messages && Clock::now() < deadline) {
    if (Clock::now() - last_progress >= (tty ? std::chrono::milliseconds(200) : std::chrono::milliseconds(1000))) {
      last_progress = Clock::now();
      const double seconds = std::chrono::duration<double>(last_progress - started).count();
      std::fprintf(stderr, "%s[pipeline] %llu/%llu blocks, %.0f blocks/s, %llu kills%s", tty ? "\r" : "",
                   static_cast<unsigned long long>(arrived), static_cast<unsigned long long>(options.messages),
                   static_cast<double>(arrived) / seconds, static_cast<unsigned long long>(kills.load()),
                   tty ? "   " : "\n");
    }
    auto delivery = results.take(colony::shm::Deadline::after(std::chrono::milliseconds(100)));
    if (!delivery) continue;
    auto call = colony::shm::decode_record<colony::Call>(delivery->record);
    results.done();
    if (!call.ok() || call.value->args.contains("corrupt")) {
      ++corrupt;
      continue;
    }
    const colony::Value& block = call.value->args;
    const auto seq = static_cast<std::uint64_t>(block["seq"].as_int());
    auto expected = pipeline_demo::block_data(seq);
    for (int i = 0; i < options.depth; ++i) pipeline_demo::transform(expected);
    const auto sum = static_cast<std::uint64_t>(block["sum"].as_int());
    if (seq >= options.messages || block["data"].as_bytes() != expected || sum != pipeline_demo::checksum(expected)) {
      ++corrupt;
      continue;
    }
    if (seen[seq]) {
      ++duplicates;
      continue;
    }
    seen[seq] = true;
    ++arrived;
    result += result_term(seq, sum);
  }
  const double seconds = std::chrono::duration<double>(Clock::now() - started).count();
  done.store(true);
  producer.join();
  chaos.join();
  if (tty) std::fprintf(stderr, "\n");

  std::uint64_t restarts = 0;
  for (const auto& name : stages) restarts += colony::Mailbox::open_or_create(session, name).stats().restarts;
  const bool ok = arrived == options.messages && corrupt == 0 && duplicates <= kills.load();
  char checksum[32];
  std::snprintf(checksum, sizeof checksum, "%016llx", static_cast<unsigned long long>(result));
  if (options.json) {
    std::printf(
        "{\"messages\":%llu,\"arrived\":%llu,\"duplicates\":%llu,\"corrupt\":%llu,\"kills\":%llu,\"restarts\":%llu,"
        "\"seconds\":%.3f,\"blocks_per_s\":%.0f,\"stages\":%d,\"lanes\":%d,\"chaos\":%s,\"result\":\"%s\",\"ok\":%s}\n",
        static_cast<unsigned long long>(options.messages), static_cast<unsigned long long>(arrived),
        static_cast<unsigned long long>(duplicates), static_cast<unsigned long long>(corrupt),
        static_cast<unsigned long long>(kills.load()), static_cast<unsigned long long>(restarts), seconds,
        static_cast<double>(arrived) / seconds, options.depth, options.width, options.chaos ? "true" : "false", checksum,
        ok ? "true" : "false");
  } else {
    std::printf("pipeline: %llu blocks through %d lane(s) of %d stage(s) in %.2f s (%.0f blocks/s)%s\n",
                static_cast<unsigned long long>(options.messages), options.width, options.depth, seconds,
                static_cast<double>(arrived) / seconds, options.chaos ? ", under chaos" : "");
    std::printf("  sent %llu, arrived %llu, duplicates %llu, corrupt %llu, kills %llu, restarts %llu\n",
                static_cast<unsigned long long>(options.messages), static_cast<unsigned long long>(arrived),
                static_cast<unsigned long long>(duplicates), static_cast<unsigned long long>(corrupt),
                static_cast<unsigned long long>(kills.load()), static_cast<unsigned long long>(restarts));
    std::printf("  result checksum %s%s\n", checksum, ok ? "" : "  (INCOMPLETE OR WRONG)");
  }
  broker.stop();
  return ok ? 0 : 1;
}
