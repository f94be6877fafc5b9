// Properties, the default channel pair, message channels, references and
// message errors, between the test process (the host) and real workers.
#include <catch2/catch.hpp>

#include "colony/broker/broker.hpp"
#include "colony/session/context.hpp"
#include "test_types.hpp"
#include "worker_test_support.hpp"

using namespace colony;
using namespace std::chrono_literals;

// Registered only here: the test worker has no alias for it.
struct OnlyInTests {
  std::int32_t value = 0;
  template <class A> void serialize(A& a) { a(value); }
};
COLONY_REGISTER_TYPE(OnlyInTests, "test.only_in_tests")

namespace {

struct Inbox {
  std::vector<std::string> texts;
  bool has(const std::string& text) const { return std::find(texts.begin(), texts.end(), text) != texts.end(); }
  bool has_prefix(const std::string& prefix) const {
    return std::any_of(texts.begin(), texts.end(), [&](const std::string& t) { return t.starts_with(prefix); });
  }
};

WorkerHandle start_worker(Broker& broker, const std::vector<std::string>& args, Inbox& inbox) {
  auto worker = broker.host().create(test::worker_path(), args);
  worker.on_message<std::string>([&inbox](std::string text) { inbox.texts.push_back(std::move(text)); });
  return worker;
}

}  // namespace

TEST_CASE("properties set before start are read at the child's first line and set back by it", "[ipc]") {
  Broker broker(test::broker_options());
  Inbox inbox;
  auto worker = start_worker(broker, {"props"}, inbox);
  worker.set_shared_property("in", std::int32_t{21});
  worker.set_shared_property("name", std::string("colony"));
  CHECK(worker.state() == WorkerState::created);
  worker.start();
  REQUIRE(test::dispatch_until(broker.host(), [&] { return inbox.has("ready"); }));
  CHECK(worker.get_shared_property<std::int32_t>("out") == 42);
  CHECK(worker.get_shared_property<std::string>("greeting") == "hello colony");
  CHECK(worker.get_shared_property<std::int32_t>("in") == 21);

  SECTION("a missing key and a wrong type are clear errors") {
    try {
      (void)worker.get_shared_property<std::int32_t>("absent");
      FAIL("no error for a missing key");
    } catch (const WorkerError& e) {
      CHECK(e.code() == WorkerErrc::no_such_property);
      CHECK(std::string(e.what()).find("absent") != std::string::npos);
    }
    try {
      (void)worker.get_shared_property<std::int32_t>("greeting");
      FAIL("no error for a wrong type");
    } catch (const WorkerError& e) {
      CHECK(e.code() == WorkerErrc::wrong_type);
      CHECK(std::string(e.what()).find("colony.string") != std::string::npos);
    }
  }
  SECTION("values are copies: a later set does not change what was read") {
    worker.set_shared_property("in", std::int32_t{5});
    worker.set_shared_property("name", std::string("changed"));
    // Asked only now, after both sets: the worker still holds what it read
    // at startup, while reading again gives the new value.
    worker.post_message(std::string("report"));
    REQUIRE(test::dispatch_until(broker.host(), [&] { return inbox.has_prefix("read "); }));
    CHECK(inbox.has("read in=21 name=colony, now in=5"));
    CHECK(worker.get_shared_property<std::int32_t>("out") == 42);
  }
}

TEST_CASE("channels reach a worker through a property and inside a message", "[ipc]") {
  Broker broker(test::broker_options());
  Inbox inbox;
  auto worker = start_worker(broker, {"channels"}, inbox);
  auto through_property = MessageChannel::create();
  worker.set_shared_property("jobs", through_property);
  through_property.send(std::string("early"));  // sent before the receiver exists: kept
  worker.start();
  REQUIRE(test::dispatch_until(broker.host(), [&] { return inbox.has("ready"); }));

  auto in_message = MessageChannel::create();
  worker.post_message(TestEnvelope{"envelope", in_message});
  REQUIRE(test::dispatch_until(broker.host(), [&] { return inbox.has("bound:envelope"); }));
  through_property.send(std::string("one"));
  in_message.send(std::string("two"));
  REQUIRE(test::dispatch_until(broker.host(), [&] {
    return inbox.has("property:early") && inbox.has("property:one") && inbox.has("envelope:two");
  }));
  CHECK(through_property.state() == ChannelState::open);

  SECTION("close lets the receiver drain, then the channel is closed") {
    in_message.send(std::string("last"));
    in_message.close();
    REQUIRE(test::dispatch_until(broker.host(), [&] { return inbox.has("envelope:last"); }));
    CHECK(test::dispatch_until(broker.host(), [&] { return in_message.state() == ChannelState::closed; }));
    try {
      in_message.send(std::string("after close"));
      FAIL("send after close did not fail");
    } catch (const WorkerError& e) {
      CHECK(e.code() == WorkerErrc::channel_closed);
    }
  }
}

TEST_CASE("two workers exchange 100000 messages through a channel in order", "[ipc]") {
  constexpr std::uint64_t kCount = 100'000;
  Broker broker(test::broker_options());
  Inbox producer_inbox;
  Inbox consumer_inbox;
  auto producer = start_worker(broker, {"produce", std::to_string(kCount)}, producer_inbox);
  auto consumer = start_worker(broker, {"consume", std::to_string(kCount)}, consumer_inbox);
  std::optional<TestCounts> counts;
  consumer.on_message<TestCounts>([&](TestCounts c) { counts = c; });
  // The producer made the channel (it is the sender); we pass it on to the consumer.
  producer.on_message<MessageChannel>([&](MessageChannel channel) { consumer.post_message(channel); });
  producer.start();
  consumer.start();
  REQUIRE(test::dispatch_until(broker.host(), [&] { return consumer_inbox.has("bound"); }));
  producer.post_message(std::string("go"));
  REQUIRE(test::dispatch_until(broker.host(), [&] { return counts.has_value(); }, 60s));
  CHECK(counts->received == kCount);
  CHECK(counts->out_of_order == 0);
}

TEST_CASE("an exception in a worker's handler reaches the parent and the worker keeps serving", "[ipc]") {
  Broker broker(test::broker_options());
  Inbox inbox;
  auto worker = start_worker(broker, {"throw"}, inbox);
  std::vector<std::string> errors;
  worker.on_error([&](const std::string& message) { errors.push_back(message); });
  worker.start();
  worker.post_message(std::string("boom"));
  worker.post_message(std::string("after"));
  REQUIRE(test::dispatch_until(broker.host(), [&] { return inbox.has("served:after") && !errors.empty(); }));
  CHECK(errors == std::vector<std::string>{"boom requested"});
  // Its state comes by the lifecycle events, which may arrive after its
  // messages: it becomes (and stays) running, it never ends.
  CHECK(test::dispatch_until(broker.host(), [&] { return worker.state() == WorkerState::running; }));
}

TEST_CASE("an undecodable message raises messageerror on both sides and nobody stops", "[ipc]") {
  Broker broker(test::broker_options());
  Inbox inbox;
  auto worker = start_worker(broker, {"messageerror"}, inbox);
  std::vector<MessageError> errors;
  worker.on_messageerror([&](const MessageError& error) { errors.push_back(error); });
  worker.start();

  SECTION("parent to worker") {
    worker.post_message(OnlyInTests{1});
    worker.post_message(std::string("still there?"));
    REQUIRE(test::dispatch_until(broker.host(), [&] {
      return inbox.has_prefix("told-received:") && inbox.has("served:still there?") && !errors.empty();
    }));
    CHECK(errors.front().sent);
    CHECK(errors.front().message.find("test.only_in_tests") == std::string::npos);  // the worker cannot name it
    CHECK(errors.front().message.find("unregistered") != std::string::npos);
  }
  SECTION("worker to parent") {
    worker.post_message(std::string("send-undecodable"));
    REQUIRE(test::dispatch_until(broker.host(), [&] { return !errors.empty() && inbox.has_prefix("told-sent:"); }));
    CHECK_FALSE(errors.front().sent);
    worker.post_message(std::string("still there?"));
    REQUIRE(test::dispatch_until(broker.host(), [&] { return inbox.has("served:still there?"); }));
  }
}

TEST_CASE("the same byte array passed twice resolves to one object", "[ipc]") {
  Broker broker(test::broker_options());
  Inbox inbox;
  auto worker = start_worker(broker, {"bytes"}, inbox);
  std::optional<TestBytesReport> report;
  worker.on_message<TestBytesReport>([&](TestBytesReport r) { report = r; });
  worker.start();
  auto shared = SharedByteArray::create(4096);
  auto other = SharedByteArray::create(4096);
  REQUIRE(shared->store<std::uint32_t>(0, 1234));
  worker.post_message(shared);
  worker.post_message(shared);
  worker.post_message(other);
  REQUIRE(test::dispatch_until(broker.host(), [&] { return report.has_value(); }));
  CHECK(report->first_is_second);
  CHECK_FALSE(report->first_is_third);
  CHECK(report->value == 1234);
  // The worker wrote through its handle: the same bytes.
  CHECK(shared->load<std::uint32_t>(4).value() == 77);
}

TEST_CASE("messages beyond the channel ring travel out of line and beyond the session limit fail", "[ipc]") {
  auto options = test::broker_options();
  options.limits.channel_capacity = 64 << 10;
  options.limits.max_message = 1 << 20;
  Broker broker(options);
  auto worker = broker.host().create(test::worker_path(), {"echo"});
  std::string reply;
  worker.on_message<std::string>([&](std::string text) { reply = std::move(text); });
  worker.start();
  const std::string large(200'000, 'x');
  worker.post_message(large);
  REQUIRE(test::dispatch_until(broker.host(), [&] { return !reply.empty(); }));
  CHECK(reply == large);
  try {
    worker.post_message(std::string(2 << 20, 'y'));
    FAIL("an oversized message was accepted");
  } catch (const WorkerError& e) {
    CHECK(e.code() == WorkerErrc::message_too_large);
    CHECK(std::string(e.what()).find("limit") != std::string::npos);
  }
  // Nothing was lost or left behind: the worker still answers.
  reply.clear();
  worker.post_message(std::string("small"));
  REQUIRE(test::dispatch_until(broker.host(), [&] { return reply == "small"; }));
}

TEST_CASE("a worker that does not use the event loop blocks in receive", "[ipc]") {
  Broker broker(test::broker_options());
  auto worker = broker.host().create(test::worker_path(), {"blocking-echo"});
  worker.start();
  worker.post_message(std::string("one"));
  worker.post_message(std::string("two"));
  for (const char* expected : {"got:one", "got:two"}) {
    const auto reply = worker.receive<std::string>(10s);
    REQUIRE(reply.ok());
    CHECK(*reply.value == expected);
  }
  CHECK(worker.receive<std::string>(50ms).status == shm::Outcome::timed_out);
  worker.post_message(std::string("quit"));
  const auto status = worker.join(10s);
  REQUIRE(status);
  CHECK(status->ok());
  try {
    worker.post_message(std::string("too late"));
    FAIL("posting to an ended worker did not fail");
  } catch (const WorkerError& e) {
    CHECK(e.code() == WorkerErrc::bad_state);
  }
}

TEST_CASE("channels and shared objects are listed in the session's registry", "[ipc]") {
  Broker broker(test::broker_options());
  auto channel = MessageChannel::create();
  auto bytes = SharedByteArray::create(64, "frame");
  auto mutex = SharedMutex::create();
  auto& context = Worker::current().context();
  std::vector<std::string> listed;
  const auto count = context.session().header().object_entries.load();
  for (std::uint32_t i = 0; i < count; ++i) {
    const auto& entry = context.session().object_entry(i);
    if (entry.state.load() == 2) listed.emplace_back(entry.name);
  }
  CHECK(listed == std::vector<std::string>{"ch" + std::to_string(channel.id()), "frame", mutex.name()});
}

TEST_CASE("stop from a handler ends run and the loop runs again afterwards", "[ipc]") {
  Broker broker(test::broker_options());
  auto& host = broker.host();
  // run() has no deadline of its own: a worker that exits after 20 s stops
  // it, through the same loop, if the reply never comes.
  auto watchdog = host.create(test::worker_path(), {"idle", "20000"});
  bool watchdog_fired = false;
  watchdog.on_exit([&](const ExitStatus&) {
    watchdog_fired = true;
    host.stop();
  });
  watchdog.start();
  auto worker = host.create(test::worker_path(), {"echo"});
  int replies = 0;
  worker.on_message<std::int32_t>([&](std::int32_t) {
    ++replies;
    host.stop();
  });
  worker.start();
  worker.post_message(std::int32_t{1});
  CHECK(host.run() == 0);
  REQUIRE_FALSE(watchdog_fired);
  CHECK(replies == 1);
  worker.post_message(std::int32_t{2});
  CHECK(host.run() == 0);
  REQUIRE_FALSE(watchdog_fired);
  CHECK(replies == 2);
  // A stop outside run() does not stick to the next dispatch.
  host.stop();
  worker.post_message(std::int32_t{3});
  REQUIRE(test::dispatch_until(host, [&] { return replies == 3; }));
}
