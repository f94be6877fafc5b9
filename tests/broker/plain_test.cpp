// Plain executables (programs that know nothing of Colony) as workers: their
// standard input fed from a channel, their standard output published to one.
#include <catch2/catch.hpp>

#include "colony/broker/broker.hpp"
#include "test_types.hpp"
#include "worker_test_support.hpp"

using namespace colony;
using namespace std::chrono_literals;

TEST_CASE("tr between a Colony producer and a Colony consumer", "[ipc][threads]") {
  constexpr int kLines = 2000;
  Broker broker(test::broker_options());
  auto& host = broker.host();
  auto producer = host.create(test::worker_path(), {"produce-lines", std::to_string(kLines)});
  auto consumer = host.create(test::worker_path(), {"collect-upper"});
  std::optional<TestCounts> counts;
  consumer.on_message<TestCounts>([&](TestCounts c) { counts = c; });
  MessageChannel lines;
  producer.on_message<MessageChannel>([&](MessageChannel channel) { lines = channel; });
  producer.start();
  consumer.start();
  REQUIRE(test::dispatch_until(host, [&] { return lines.valid(); }));

  PlainOptions io;
  io.input = lines;
  auto upper = host.create_plain("tr", {"a-z", "A-Z"}, io);
  std::optional<ExitStatus> tr_exit;
  upper.on_exit([&](const ExitStatus& status) { tr_exit = status; });
  upper.start();
  consumer.post_message(upper.output());
  producer.post_message(std::string("go"));
  REQUIRE(test::dispatch_until(host, [&] { return counts.has_value() && tr_exit.has_value(); }, 60s));
  CHECK(counts->received == kLines);
  CHECK(counts->out_of_order == 0);
  CHECK(tr_exit->ok());  // tr saw end of input when the producer closed its channel
}

TEST_CASE("a plain stage that exits early is reported, and its output up to then arrives first", "[ipc]") {
  Broker broker(test::broker_options());
  auto& host = broker.host();
  auto input = MessageChannel::create();
  PlainOptions io;
  io.input = input;
  auto head = host.create_plain("head", {"-n", "3"}, io);
  std::vector<std::string> out;
  head.output().on_message<std::string>([&](std::string line) { out.push_back(line); });
  std::vector<std::string> seen_at_exit;
  std::optional<ExitStatus> exited;
  head.on_exit([&](const ExitStatus& status) {
    exited = status;
    seen_at_exit = out;
  });
  head.start();
  for (int i = 0; i < 10; ++i) input.send("row " + std::to_string(i));  // more than it reads
  REQUIRE(test::dispatch_until(host, [&] { return exited.has_value(); }, 20s));
  CHECK(exited->ok());
  CHECK(seen_at_exit == std::vector<std::string>{"row 0", "row 1", "row 2"});

  SECTION("and a failing one with its exit code") {
    auto failing = host.create_plain("sh", {"-c", "echo partial; exit 4"});
    std::vector<std::string> lines;
    failing.output().on_message<std::string>([&](std::string line) { lines.push_back(line); });
    failing.start();
    const auto status = failing.join(20s);
    REQUIRE(status);
    CHECK(status->kind == ExitStatus::Kind::exited);
    CHECK(status->code == 4);
    CHECK(lines == std::vector<std::string>{"partial"});
  }
}

TEST_CASE("a plain stage's output as byte chunks", "[ipc]") {
  Broker broker(test::broker_options());
  PlainOptions io;
  io.chunks = true;
  auto cat = broker.host().create_plain("printf", {"a\\0b\\nc"}, io);
  std::vector<std::byte> bytes;
  cat.output().on_message<std::vector<std::byte>>([&](std::vector<std::byte> chunk) {
    bytes.insert(bytes.end(), chunk.begin(), chunk.end());
  });
  cat.start();
  REQUIRE(cat.join(20s));
  const std::vector<std::byte> expected{std::byte{'a'}, std::byte{0}, std::byte{'b'}, std::byte{'\n'}, std::byte{'c'}};
  CHECK(bytes == expected);
}
