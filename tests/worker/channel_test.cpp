// Channel semantics a user relies on, with both ends in the host process so
// each state can be observed exactly: available(), closing and closed,
// back-pressure by option, and references that resolve to one object.
#include <catch2/catch.hpp>

#include "colony/broker/broker.hpp"
#include "colony/session/channel_core.hpp"
#include "test_types.hpp"
#include "worker_test_support.hpp"

using namespace colony;
using namespace std::chrono_literals;

TEST_CASE("a channel counts what is available, drains after close, then reports closed", "[unit]") {
  Broker broker(test::broker_options());
  auto channel = MessageChannel::create();
  CHECK(channel.state() == ChannelState::open);
  for (std::int32_t i = 0; i < 3; ++i) channel.send(i);
  CHECK(channel.available() == 3);
  channel.close();
  CHECK(channel.state() == ChannelState::closing);
  for (std::int32_t i = 0; i < 3; ++i) {
    const auto received = channel.receive<std::int32_t>(1s);
    REQUIRE(received.ok());
    CHECK(*received.value == i);
  }
  CHECK(channel.available() == 0);
  CHECK(channel.state() == ChannelState::closed);
  CHECK(channel.receive<std::int32_t>(1s).status == shm::Outcome::closed);
  CHECK(channel.try_send(std::int32_t{9}) == SendStatus::closed);
}

TEST_CASE("a full channel fails at once or blocks until its deadline, by option", "[unit]") {
  Broker broker(test::broker_options());
  ChannelOptions options;
  options.capacity = 4096;
  const std::string block(512, 'x');

  SECTION("fail") {
    options.when_full = WhenFull::fail;
    auto channel = MessageChannel::create(options);
    int sent = 0;
    while (channel.try_send(block) == SendStatus::ok) ++sent;
    CHECK(sent > 0);
    CHECK(channel.try_send(block) == SendStatus::full);
    try {
      channel.send(block);
      FAIL("send into a full channel did not fail");
    } catch (const WorkerError& e) {
      CHECK(e.code() == WorkerErrc::channel_full);
    }
    // Nothing was lost: everything sent is still there, in order.
    CHECK(channel.available() == static_cast<std::size_t>(sent));
  }
  SECTION("block with a deadline") {
    options.send_timeout = 200ms;
    auto channel = MessageChannel::create(options);
    while (channel.try_send(block) == SendStatus::ok) {
    }
    const auto started = std::chrono::steady_clock::now();
    try {
      channel.send(block);
      FAIL("send into a full channel did not time out");
    } catch (const WorkerError& e) {
      CHECK(e.code() == WorkerErrc::channel_full);
    }
    const auto waited = std::chrono::steady_clock::now() - started;
    CHECK(waited >= 200ms);
    CHECK(waited < 5s);
  }
}

TEST_CASE("a worker handle passed to another worker is a reference to the same worker", "[ipc]") {
  Broker broker(test::broker_options());
  auto alpha = broker.host().create(test::worker_path(), {"echo"});
  alpha.set_shared_property("name", std::string("alpha"));
  auto peer = broker.host().create(test::worker_path(), {"peer"});
  std::string reply;
  peer.on_message<std::string>([&](std::string text) { reply = text; });
  bool alpha_online = false;
  alpha.on_online([&] { alpha_online = true; });
  alpha.start();
  peer.start();
  REQUIRE(test::dispatch_until(broker.host(), [&] { return alpha_online; }));
  peer.post_message(alpha);
  REQUIRE(test::dispatch_until(broker.host(), [&] { return !reply.empty(); }));
  CHECK(reply == "alpha is running");
  // In this process a handle that comes back through a channel is the same handle.
  auto loop = MessageChannel::create();
  loop.send(alpha);
  const auto back = loop.receive<WorkerHandle>(1s);
  REQUIRE(back.ok());
  CHECK(*back.value == alpha);
}

TEST_CASE("names of Colony's own segments are refused for shared objects", "[unit]") {
  Broker broker(test::broker_options());
  for (const char* reserved : {"ol5", "ch12", "w3g1-props"}) {
    try {
      (void)SharedByteArray::create(64, reserved);
      FAIL("created a shared object named " << reserved);
    } catch (const WorkerError& e) {
      CHECK(std::string(e.what()).find("reserved") != std::string::npos);
    }
  }
  CHECK(SharedByteArray::create(64, "olive").valid());
  CHECK(SharedMutex::create("channel").valid());
}

TEST_CASE("a forged out-of-line record cannot make a receiver remove another segment", "[unit]") {
  Broker broker(test::broker_options());
  auto frame = SharedByteArray::create(64, "frame");
  auto channel = MessageChannel::create();
  REQUIRE(channel.core()->send(detail::OutOfLine{shm::TypeAlias<std::string>::tag, 16, "frame"},
                               shm::Deadline::now()) == SendStatus::ok);
  const auto received = channel.receive<std::string>(1s);
  CHECK_FALSE(received.ok());
  CHECK(received.error.find("not an out-of-line segment") != std::string::npos);
  // Still there, still openable by name.
  CHECK(SharedByteArray::open("frame") == frame);
  CHECK(test::session_segments(broker.session()).size() > 0);
  const auto segments = test::session_segments(broker.session());
  CHECK(std::find(segments.begin(), segments.end(), "colony." + broker.session() + ".bytes.frame") != segments.end());
}
