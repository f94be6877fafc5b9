// Messages built in place (MessageChannel::loan), viewed in place
// (on_view, receive_view) and sent as a batch (send_all): what arrives, what
// a dropped loan leaves, what a receiver or sender killed in the middle
// leaves, between the test process and real workers.
#include <catch2/catch.hpp>

#include <algorithm>
#include <csignal>
#include <numeric>

#include "colony/broker/broker.hpp"
#include "test_types.hpp"
#include "worker_test_support.hpp"

COLONY_REGISTER_TYPE(std::vector<float>, "test.zero_copy.f32s")

using namespace colony;
using namespace std::chrono_literals;

namespace {

using U8s = std::vector<std::uint8_t>;
using Bytes = std::vector<std::byte>;

bool has_pattern(std::span<const std::uint8_t> bytes, std::uint64_t i) {
  for (std::size_t j = 0; j < bytes.size(); ++j) {
    if (bytes[j] != static_cast<std::uint8_t>((i + j) & 0xff)) return false;
  }
  return true;
}

std::size_t out_of_line_segments(const std::string& session) {
  const auto names = test::session_segments(session);
  return static_cast<std::size_t>(
      std::count_if(names.begin(), names.end(), [](const std::string& n) { return n.find("bytes.ol") != std::string::npos; }));
}

}  // namespace

TEST_CASE("a loaned message is read in place as it was written, in the ring and past it", "[unit]") {
  Broker broker(test::broker_options());
  ChannelOptions options;
  options.capacity = 8192;  // a loan of 100000 bytes travels out of line
  auto channel = MessageChannel::create(options);

  for (const std::size_t size : {std::size_t{0}, std::size_t{1}, std::size_t{1000}, std::size_t{100'000}}) {
    auto loan = channel.loan<U8s>(size);
    REQUIRE(loan.elements().size() == size);
    for (std::size_t j = 0; j < size; ++j) loan.elements()[j] = static_cast<std::uint8_t>((size + j) & 0xff);
    loan.send();
    std::size_t viewed = ~std::size_t{0};
    bool matches = false;
    const auto info = channel.receive_view<U8s>(1s, [&](std::span<const std::uint8_t> bytes) {
      viewed = bytes.size();
      matches = has_pattern(bytes, size);
    });
    REQUIRE(info.ok());
    CHECK(viewed == size);
    CHECK(matches);
  }
  // The out-of-line message's segment went with it.
  CHECK(out_of_line_segments(broker.session()) == 0);

  SECTION("floats and strings are flat arrays too") {
    auto floats = channel.loan<std::vector<float>>(3);
    floats.elements()[0] = 1.5f;
    floats.elements()[1] = -2.0f;
    floats.elements()[2] = 4.25f;
    floats.send();
    channel.send(std::string("in place"));
    std::vector<float> got;
    REQUIRE(channel.receive_view<std::vector<float>>(1s, [&](std::span<const float> f) { got.assign(f.begin(), f.end()); }).ok());
    CHECK(got == std::vector<float>{1.5f, -2.0f, 4.25f});
    std::string text;
    REQUIRE(channel.receive_view<std::string>(1s, [&](std::span<const char> c) { text.assign(c.begin(), c.end()); }).ok());
    CHECK(text == "in place");
  }
  SECTION("a view of another type is refused, reported, and the message consumed") {
    channel.send(std::string("not bytes"));
    bool ran = false;
    const auto info = channel.receive_view<U8s>(1s, [&](std::span<const std::uint8_t>) { ran = true; });
    CHECK(info.status == shm::Outcome::wrong_type);
    CHECK_FALSE(ran);
    CHECK(channel.available() == 0);
  }
}

TEST_CASE("a dropped loan leaves nothing, and a channel lends one message at a time", "[unit]") {
  Broker broker(test::broker_options());
  ChannelOptions options;
  options.capacity = 8192;
  auto channel = MessageChannel::create(options);

  {
    auto loan = channel.loan<U8s>(500);
    std::fill(loan.elements().begin(), loan.elements().end(), std::uint8_t{0xee});
    try {
      channel.send(std::string("while lent"));
      FAIL("a send while a loan is outstanding did not fail");
    } catch (const WorkerError& e) {
      CHECK(e.code() == WorkerErrc::bad_state);
    }
    CHECK_THROWS_AS(channel.loan<U8s>(10), WorkerError);
  }  // dropped unsent
  {
    auto large = channel.loan<U8s>(50'000);  // out of line
    CHECK(out_of_line_segments(broker.session()) == 1);
    large.drop();
    CHECK(out_of_line_segments(broker.session()) == 0);
    CHECK_THROWS_AS(large.send(), WorkerError);
  }
  CHECK(channel.available() == 0);
  CHECK(channel.receive<U8s>(50ms).status == shm::Outcome::timed_out);

  // The dropped room is reused, and what comes next is whole.
  channel.send(U8s{7, 8, 9});
  const auto after = channel.receive<U8s>(1s);
  REQUIRE(after.ok());
  CHECK(*after.value == U8s{7, 8, 9});

  SECTION("a loan past the session's message limit is refused as too large") {
    try {
      (void)channel.loan<U8s>(std::size_t{1} << 40);
      FAIL("an oversized loan was granted");
    } catch (const WorkerError& e) {
      CHECK(e.code() == WorkerErrc::message_too_large);
    }
  }
}

TEST_CASE("send_all sends a run of values in order, and stops at the first that does not fit", "[unit]") {
  Broker broker(test::broker_options());
  SECTION("all of them") {
    auto channel = MessageChannel::create();
    std::vector<std::uint64_t> values(1000);
    std::iota(values.begin(), values.end(), std::uint64_t{0});
    channel.send_all(values);
    CHECK(channel.available() == 1000);
    for (std::uint64_t i = 0; i < 1000; ++i) {
      const auto got = channel.receive<std::uint64_t>(1s);
      REQUIRE(got.ok());
      REQUIRE(*got.value == i);
    }
  }
  SECTION("into a channel that fills") {
    ChannelOptions options;
    options.capacity = 4096;
    options.when_full = WhenFull::fail;
    auto channel = MessageChannel::create(options);
    std::vector<std::string> values;
    for (int i = 0; i < 100; ++i) values.push_back(std::to_string(i) + std::string(500, 'x'));
    try {
      channel.send_all(values);
      FAIL("send_all into a full channel did not fail");
    } catch (const WorkerError& e) {
      CHECK(e.code() == WorkerErrc::channel_full);
    }
    const std::size_t sent = channel.available();
    CHECK(sent > 0);
    CHECK(sent < values.size());
    for (std::size_t i = 0; i < sent; ++i) {
      const auto got = channel.receive<std::string>(1s);
      REQUIRE(got.ok());
      CHECK(*got.value == values[i]);
    }
  }
}

TEST_CASE("a worker's loans, its large loan and its batch reach a viewing receiver whole and in order", "[ipc]") {
  constexpr std::uint64_t kCount = 2000;
  Broker broker(test::broker_options());
  auto producer = broker.host().create(test::worker_path(), {"loan-produce", std::to_string(kCount)});
  MessageChannel channel;
  bool sent = false;
  producer.on_message<MessageChannel>([&](MessageChannel c) { channel = c; });
  producer.on_message<std::string>([&](const std::string& text) { sent = sent || text == "sent"; });
  producer.start();
  REQUIRE(test::dispatch_until(broker.host(), [&] { return channel.valid(); }));

  std::uint64_t viewed = 0;
  std::uint64_t wrong = 0;
  std::size_t largest = 0;
  std::uint64_t batched = 0;
  std::uint64_t batch_out_of_order = 0;
  channel.on_view<U8s>([&](std::span<const std::uint8_t> bytes) {
    const std::size_t expected_size = viewed < kCount ? static_cast<std::size_t>(viewed % 5 * 300 + 1) : std::size_t{1} << 20;
    if (bytes.size() != expected_size || !has_pattern(bytes, viewed)) ++wrong;
    largest = std::max(largest, bytes.size());
    ++viewed;
  });
  channel.on_message<std::uint64_t>([&](std::uint64_t value) {
    if (value != batched) ++batch_out_of_order;
    ++batched;
  });
  // The host sleeps in its event loop while the batch comes: its one wake
  // at the end (or when the ring fills) must reach it.
  producer.post_message(std::string("go"));
  REQUIRE(test::dispatch_until(broker.host(), [&] { return sent && batched == kCount; }, 30s));
  CHECK(viewed == kCount + 1);
  CHECK(wrong == 0);
  CHECK(largest == std::size_t{1} << 20);
  CHECK(batch_out_of_order == 0);
  CHECK(out_of_line_segments(broker.session()) == 0);
}

TEST_CASE("a sender SIGKILLed holding a loan: what it sent arrives, the loan never does, and the channel goes on", "[crash]") {
  Broker broker(test::broker_options());
  auto sender = broker.host().create(test::worker_path(), {"loan-die"});
  MessageChannel channel;
  sender.on_message<MessageChannel>([&](MessageChannel c) { channel = c; });
  sender.start();
  REQUIRE(test::dispatch_until(broker.host(), [&] { return channel.valid(); }));
  sender.post_message(std::string("go"));
  const auto ended = sender.join(10s);
  REQUIRE(ended.has_value());
  CHECK(ended->signal == SIGKILL);

  std::vector<int> firsts;
  for (;;) {
    const auto info = channel.receive_view<U8s>(200ms, [&](std::span<const std::uint8_t> bytes) {
      const bool uniform = std::all_of(bytes.begin(), bytes.end(), [&](std::uint8_t b) { return b == bytes[0]; });
      firsts.push_back(bytes.size() == 100 && uniform ? bytes[0] : -1);
    });
    if (!info.ok()) {
      CHECK(info.status == shm::Outcome::timed_out);
      break;
    }
  }
  CHECK(firsts == std::vector<int>{1, 2, 3});
  // The dead sender's place is taken: a new loan in the space it held arrives whole.
  auto loan = channel.loan<U8s>(100);
  std::fill(loan.elements().begin(), loan.elements().end(), std::uint8_t{4});
  loan.send();
  int next = 0;
  REQUIRE(channel.receive_view<U8s>(1s, [&](std::span<const std::uint8_t> bytes) { next = bytes[0]; }).ok());
  CHECK(next == 4);
}

TEST_CASE("a receiver SIGKILLed inside a view handler: the message it viewed goes to the next receiver", "[crash]") {
  Broker broker(test::broker_options());
  auto channel = MessageChannel::create();
  channel.send(Bytes(100, std::byte{0x11}));
  channel.send(Bytes(2000, std::byte{0xdd}));
  channel.send(Bytes(300, std::byte{0x22}));
  auto receiver = broker.host().create(test::worker_path(), {"view-die"});
  std::vector<std::string> texts;
  receiver.on_message<std::string>([&](std::string text) { texts.push_back(std::move(text)); });
  receiver.start();
  receiver.post_message(channel);
  const auto ended = receiver.join(10s);
  REQUIRE(ended.has_value());
  CHECK(ended->signal == SIGKILL);
  REQUIRE(test::dispatch_until(broker.host(), [&] { return texts.size() >= 3; }));
  CHECK(texts == std::vector<std::string>{"bound", "viewed 100 17", "viewed 2000 221"});

  // The next receiver (this process) gets the viewed message again, then the rest.
  std::vector<std::size_t> sizes;
  for (int i = 0; i < 2; ++i) {
    REQUIRE(channel.receive_view<Bytes>(1s, [&](std::span<const std::byte> bytes) { sizes.push_back(bytes.size()); }).ok());
  }
  CHECK(sizes == std::vector<std::size_t>{2000, 300});
}
