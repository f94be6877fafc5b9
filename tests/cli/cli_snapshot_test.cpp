// colony ps and colony top only look: against a broker hosted in the test,
// they create no segment (a named worker's missing mailbox included), take no
// reader role from another process, list the rest of a session when one of
// its registry entries is corrupt, and print no name raw to a terminal.
#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "colony/broker/broker.hpp"
#include "colony/shm/ring.hpp"
#include "colony/shm/segment.hpp"
#include "colony/shm/typed.hpp"
#include "colony/worker/value.hpp"
#include "colony/worker/mailbox.hpp"
// The session layer's own headers, in one block.
#include "colony/session/names.hpp"
#include "colony/session/session_map.hpp"
#include "worker_test_support.hpp"

using namespace colony;
using namespace std::chrono_literals;

namespace {

std::vector<std::string> sorted_segments(const std::string& session) {
  auto segments = test::session_segments(session);
  std::sort(segments.begin(), segments.end());
  return segments;
}

test::CommandResult run_colony(const std::string& session, const std::vector<std::string>& args) {
  std::vector<std::string> argv{test::cli_path()};
  argv.insert(argv.end(), args.begin(), args.end());
  argv.push_back("--session");
  argv.push_back(session);
  return test::run_command(argv, 20s);
}

const Value* named_row(const Value& snapshot, const std::string& name) {
  for (const auto& row : snapshot["named_workers"].as_array()) {
    if (row["name"].as_string() == name) return &row;
  }
  return nullptr;
}

shm::SegmentName ring_named(const std::string& session, const std::string& object) {
  auto made = shm::SegmentName::make(session, shm::SegmentKind::ring, object);
  REQUIRE(made.has_value());
  return std::move(*made);
}

}  // namespace

TEST_CASE("colony ps and top on a named worker whose mailbox is missing create nothing, and ps says so", "[ipc]") {
  Broker broker(test::broker_options());
  broker.define_named_worker("kept", test::worker_path(), {"named"});
  broker.define_named_worker("lost", test::worker_path(), {"named"});
  REQUIRE(shm::Segment::remove(ring_named(broker.session(), detail::mailbox_object("lost"))));
  REQUIRE(shm::Segment::remove(ring_named(broker.session(), detail::dead_letter_object("lost"))));
  const auto before = sorted_segments(broker.session());

  const auto json = run_colony(broker.session(), {"ps", "--json", "--interval", "50"});  // two looks
  INFO("ps: " << json.err);
  REQUIRE(json.exit_code == 0);
  const Value snapshot = Value::from_json(json.out);
  const Value* lost = named_row(snapshot, "lost");
  const Value* kept = named_row(snapshot, "kept");
  REQUIRE(lost != nullptr);
  REQUIRE(kept != nullptr);
  CHECK((*lost)["problem"].as_string() == "its mailbox segment is missing");
  CHECK((*lost)["queued"].as_int() == 0);
  CHECK((*lost)["state"].as_string() == "idle");
  CHECK((*kept)["problem"].is_null());
  const auto table = run_colony(broker.session(), {"ps", "--interval", "0"});
  CHECK(table.exit_code == 0);
  CHECK(table.out.find("cannot be read whole: its mailbox segment is missing") != std::string::npos);
  const auto top = run_colony(broker.session(), {"top", "--once", "--json", "--interval", "50"});
  CHECK(top.exit_code == 0);
  CHECK(named_row(Value::from_json(top.out), "lost") != nullptr);

  CHECK(sorted_segments(broker.session()) == before);
}

TEST_CASE("colony ps and top count dead letters without taking the dead-letter box from its reader", "[ipc]") {
  Broker broker(test::broker_options());
  broker.define_named_worker("graveyard", test::worker_path(), {"named"});
  auto dead = shm::Ring::open(ring_named(broker.session(), detail::dead_letter_object("graveyard")), shm::Deadline::after(2s));
  REQUIRE(dead.has_value());
  {
    // A dead letter, as a mailbox reader leaves one that killed it max_attempts times.
    auto writer = shm::RingWriter::attach(*dead);
    REQUIRE(writer.has_value());
    shm::TypedWriter typed(std::move(*writer));
    const DeadLetter letter{41, 3, 0, std::vector<std::byte>(8, std::byte{7})};
    REQUIRE(typed.send(letter, shm::Deadline::after(5s)) == shm::Outcome::ok);
  }
  // This process reads the box now, as `colony deadletters replay` does while it runs.
  auto attached = shm::RingReader::attach(*dead);
  REQUIRE(attached.has_value());
  std::optional<shm::RingReader> reader(std::move(*attached));

  for (const std::vector<std::string>& look : {std::vector<std::string>{"ps", "--json", "--interval", "50"},
                                              std::vector<std::string>{"top", "--once", "--json", "--interval", "50"}}) {
    INFO(look.front());
    const auto result = run_colony(broker.session(), look);
    INFO("stderr: " << result.err);
    REQUIRE(result.exit_code == 0);
    const Value shown = Value::from_json(result.out);
    const Value* row = named_row(shown, "graveyard");
    REQUIRE(row != nullptr);
    CHECK((*row)["dead_letters"].as_int() == 1);
  }

  // Still the reader, and the letter still there: nothing was taken from it.
  const shm::Received received = reader->try_receive();
  REQUIRE(received.ok());
  const auto decoded = shm::decode_record<DeadLetter>(received.record);
  REQUIRE(decoded.ok());
  CHECK(decoded.value->sequence == 41);
  reader.reset();  // uncommitted: the letter stays for the next reader
  const auto listed = run_colony(broker.session(), {"deadletters", "list", "graveyard", "--json"});
  CHECK(listed.exit_code == 0);
  CHECK(Value::from_json(listed.out)["sequence"].as_int() == 41);
  CHECK(run_colony(broker.session(), {"deadletters", "drop", "graveyard"}).out == "dropped 1 dead letters of graveyard\n");
}

TEST_CASE("colony ps lists a session whose registry holds entries that make no segment name", "[ipc]") {
  Broker broker(test::broker_options());
  broker.define_named_worker("fine", test::worker_path(), {"named"});
  const auto map = detail::or_throw(detail::SessionMap::open(broker.session(), shm::Deadline::after(2s)));
  // Any process of the session may write the registry. Each space encodes as
  // three characters: 60 of them pass the longest encoded worker name.
  const std::string too_long(60, ' ');
  REQUIRE(detail::encode_worker_name(too_long).size() > detail::kMaxEncodedWorkerName);
  REQUIRE(map->register_entry(detail::kNamedWorkerEntryKind, too_long, 0, 1));
  REQUIRE(map->register_object(shm::SegmentKind::ring, "not a name", 0, 1));
  REQUIRE(map->register_object(shm::SegmentKind::bytes, "not a name", 0, 1));
  REQUIRE(map->register_object(shm::SegmentKind::mutex, "not a name", 0, 1));

  const auto json = run_colony(broker.session(), {"ps", "--json", "--interval", "0"});
  INFO("ps: " << json.err);
  REQUIRE(json.exit_code == 0);
  const Value snapshot = Value::from_json(json.out);
  REQUIRE(named_row(snapshot, "fine") != nullptr);
  CHECK((*named_row(snapshot, "fine"))["problem"].is_null());
  const Value* corrupt = named_row(snapshot, too_long);
  REQUIRE(corrupt != nullptr);
  CHECK((*corrupt)["problem"].as_string().starts_with("its mailbox cannot be read: "));
  CHECK(snapshot["channels"].as_array().empty());  // made no name: skipped
  CHECK(snapshot["objects"].as_array().empty());
  const auto table = run_colony(broker.session(), {"ps", "--interval", "0"});
  CHECK(table.exit_code == 0);
  CHECK(table.out.find("fine") != std::string::npos);
  CHECK(table.out.find("cannot be read whole: its mailbox cannot be read: ") != std::string::npos);
  CHECK(run_colony(broker.session(), {"top", "--once", "--json", "--interval", "50"}).exit_code == 0);
}

TEST_CASE("colony ps and top print a name holding escape codes as '?', and --json keeps it whole", "[ipc]") {
  Broker broker(test::broker_options());
  const std::string name = "evil\x1b[2J\x07";
  broker.define_named_worker(name, test::worker_path(), {"named"});
  for (const std::vector<std::string>& text : {std::vector<std::string>{"ps", "--interval", "0"},
                                              std::vector<std::string>{"top", "--once", "--interval", "50"}}) {
    INFO(text.front());
    const auto shown = run_colony(broker.session(), text);
    REQUIRE(shown.exit_code == 0);
    CHECK(shown.out.find('\x1b') == std::string::npos);
    CHECK(shown.out.find('\x07') == std::string::npos);
    CHECK(shown.out.find("evil?[2J?") != std::string::npos);
  }
  const auto json = run_colony(broker.session(), {"ps", "--json", "--interval", "0"});
  REQUIRE(json.exit_code == 0);
  CHECK(json.out.find("evil\\u001b[2J\\u0007") != std::string::npos);
  CHECK(named_row(Value::from_json(json.out), name) != nullptr);
}
