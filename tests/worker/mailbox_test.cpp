// Mailboxes: at-least-once delivery across reader deaths, the dead-letter box,
// case-sensitive names, many writers. Readers are real processes killed by
// real SIGKILL; the test plays the broker's part of restarting them.
#include <catch2/catch.hpp>
#include <map>

#include "colony/broker/broker.hpp"
#include "colony/session/names.hpp"
#include "colony/worker/mailbox.hpp"
#include "child_process.hpp"
#include "worker_test_support.hpp"

using namespace colony;
using namespace std::chrono_literals;

namespace {

// Starts readers of the mailbox one after another, each after the previous
// one died, until `until` holds; returns how many were started.
// The last reader is ended once `until` holds and its last message has left
// the box (it reports a message just before it commits it).
int run_readers(Broker& broker, const std::string& mailbox, std::vector<std::string>& handled,
                const std::function<bool()>& until) {
  auto box = Mailbox::open_or_create(broker.session(), mailbox);
  int started = 0;
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  while (!until() && std::chrono::steady_clock::now() < deadline) {
    auto reader = broker.host().create(test::worker_path(), {"mailbox-reader", mailbox});
    reader.on_message<std::string>([&](std::string text) { handled.push_back(text); });
    reader.start();
    ++started;
    while (!until() && !reader.exit_status() && std::chrono::steady_clock::now() < deadline) {
      broker.host().dispatch(50ms);
    }
    if (!reader.exit_status()) {
      (void)test::eventually([&] { return !box.stats().handling; }, 5s);
      reader.terminate();
      (void)reader.join(10s);
    }
  }
  return started;
}

}  // namespace

TEST_CASE("a message whose reader is SIGKILLed in its handler is delivered again and marked", "[crash]") {
  Broker broker(test::broker_options());
  auto box = Mailbox::open_or_create(broker.session(), "resize");
  for (const char* text : {"a", "die-once b", "c"}) REQUIRE(box.post(std::string(text), shm::Deadline::now()) == shm::Outcome::ok);
  std::vector<std::string> handled;
  const int readers = run_readers(broker, "resize", handled, [&] { return handled.size() == 3; });
  CHECK(readers == 2);
  CHECK(handled == std::vector<std::string>{"handled:a:1:0", "handled:die-once b:2:1", "handled:c:1:0"});
  CHECK(box.depth() == 0);
  CHECK(box.stats().handled == 3);
  CHECK(box.stats().redelivered == 1);
}

TEST_CASE("a message that kills every reader is dead-lettered after K tries and the rest flows", "[crash]") {
  Broker broker(test::broker_options());
  auto box = Mailbox::open_or_create(broker.session(), "poisoned", MailboxOptions{1 << 20, 3});
  for (const char* text : {"x", "die", "y"}) REQUIRE(box.post(std::string(text), shm::Deadline::now()) == shm::Outcome::ok);
  std::vector<std::string> handled;
  const int readers = run_readers(broker, "poisoned", handled, [&] { return handled.size() == 2; });
  CHECK(readers == 4);  // three deaths on "die", then a reader that buries it and goes on
  CHECK(handled == std::vector<std::string>{"handled:x:1:0", "handled:y:1:0"});
  const auto letters = box.dead_letters();
  REQUIRE(letters.size() == 1);
  CHECK(letters[0].attempts == 3);
  const auto text = shm::decode_record<std::string>(
      shm::RecordView{letters[0].type_tag, 0, std::span<const std::byte>(letters[0].payload)});
  CHECK(*text.value == "die");
  // Listing does not consume.
  CHECK(box.dead_letters().size() == 1);
  CHECK(box.stats().dead_lettered == 1);
}

TEST_CASE("worker names are case-sensitive and any string is a name", "[unit]") {
  Broker broker(test::broker_options());
  auto lower = Mailbox::open_or_create(broker.session(), "resize");
  auto upper = Mailbox::open_or_create(broker.session(), "Resize");
  auto spaced = Mailbox::open_or_create(broker.session(), "re size/é");
  REQUIRE(lower.post(std::string("one"), shm::Deadline::now()) == shm::Outcome::ok);
  CHECK(lower.depth() == 1);
  CHECK(upper.depth() == 0);
  CHECK(spaced.depth() == 0);
  CHECK(detail::encode_worker_name("Resize") != detail::encode_worker_name("resize"));
  CHECK(detail::encode_worker_name("a_b") != detail::encode_worker_name("a_5fb_"));
  // The same name opens the same box.
  CHECK(Mailbox::open_or_create(broker.session(), "resize").depth() == 1);
}

TEST_CASE("several processes post into one mailbox at once and nothing is lost", "[ipc]") {
  constexpr int kPerWriter = 2000;
  Broker broker(test::broker_options());
  auto box = Mailbox::open_or_create(broker.session(), "shared");
  std::vector<WorkerHandle> writers;
  for (const char* id : {"p", "q", "r"}) {
    auto writer = broker.host().create(test::worker_path(), {"mailbox-post", "shared", id, std::to_string(kPerWriter)});
    writer.start();
    writers.push_back(writer);
  }
  std::map<std::string, int> next;  // per writer: the index expected next
  int received = 0;
  while (received < 3 * kPerWriter) {
    auto delivery = box.take(shm::Deadline::after(20s));
    REQUIRE(delivery);
    const auto text = *shm::decode_record<std::string>(delivery->record).value;
    const auto colon = text.find(':');
    const std::string id = text.substr(0, colon);
    CHECK(std::stoi(text.substr(colon + 1)) == next[id]);  // each writer's order is kept
    ++next[id];
    ++received;
    box.done();
  }
  for (auto& writer : writers) {
    const auto status = writer.join(10s);
    REQUIRE(status);
    CHECK(status->ok());
  }
  CHECK(next == std::map<std::string, int>{{"p", kPerWriter}, {"q", kPerWriter}, {"r", kPerWriter}});
}

TEST_CASE("post_all's batch reaches a sleeping reader whole and in order, through a box that fills on the way", "[ipc]") {
  Broker broker(test::broker_options());
  auto box = Mailbox::open_or_create(broker.session(), "batched", MailboxOptions{4096, 3});
  std::vector<std::string> handled;
  auto reader = broker.host().create(test::worker_path(), {"mailbox-reader", "batched"});
  reader.on_message<std::string>([&](std::string text) { handled.push_back(std::move(text)); });
  reader.start();
  REQUIRE(test::eventually([&] { return reader.state() == WorkerState::running; }, 10s));

  // 300 records of 128 bytes through a 4 KiB box: it fills again and again,
  // and the reader, asleep at first, must be woken each time.
  std::vector<std::string> texts;
  for (int i = 0; i < 300; ++i) texts.push_back("batch-" + std::to_string(i) + std::string(60, '.'));
  shm::Outcome failure = shm::Outcome::corrupt;
  CHECK(box.post_all(texts, shm::Deadline::after(20s), &failure) == texts.size());
  CHECK(failure == shm::Outcome::ok);
  REQUIRE(test::dispatch_until(broker.host(), [&] { return handled.size() == texts.size(); }, 20s));
  for (std::size_t i = 0; i < texts.size(); ++i) REQUIRE(handled[i] == "handled:" + texts[i] + ":1:0");

  SECTION("a value too large for the box stops the batch there, the ones before it posted") {
    std::vector<std::string> with_oversized{"first", std::string(8192, 'x'), "never"};
    CHECK(box.post_all(with_oversized, shm::Deadline::after(5s), &failure) == 1);
    CHECK(failure == shm::Outcome::too_large);
    REQUIRE(test::dispatch_until(broker.host(), [&] { return handled.size() == texts.size() + 1; }));
    CHECK(handled.back() == "handled:first:1:0");
  }
  (void)test::eventually([&] { return !box.stats().handling; }, 5s);
  reader.terminate();
  (void)reader.join(10s);
}
