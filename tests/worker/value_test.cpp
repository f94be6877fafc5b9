// colony::Value: the dynamic message type, its JSON form, and its decoding of
// bytes that came through shared memory.
#include <catch2/catch.hpp>
#include <cmath>
#include <random>

#include "colony/broker/broker.hpp"
#include "colony/shm/typed.hpp"
#include "colony/worker/properties.hpp"
#include "colony/worker/value.hpp"
#include "worker_test_support.hpp"

using namespace colony;
using namespace std::chrono_literals;

namespace {

Value sample() {
  Value::Map map;
  map["null"] = nullptr;
  map["yes"] = true;
  map["count"] = -42;
  map["ratio"] = 0.25;
  map["name"] = "colony";
  map["raw"] = Value::Bytes{std::byte{0}, std::byte{0xff}, std::byte{0x10}, std::byte{'a'}};
  map["list"] = Value::Array{1, "two", Value::Array{3.5}, Value::Map{{"k", false}}};
  return Value(std::move(map));
}

// Encodes as a message would travel, and decodes as a receiver would.
shm::TypedReceived<Value> through_bytes(const std::vector<std::byte>& bytes) {
  const shm::RecordView record{shm::TypeAlias<Value>::tag, 0, std::span<const std::byte>(bytes)};
  return shm::decode_record<Value>(record);
}

}  // namespace

TEST_CASE("a value holds one of eight kinds and says so when asked for another", "[unit]") {
  const Value value = sample();
  CHECK(value.kind() == Value::Kind::map);
  CHECK(value["count"].as_int() == -42);
  CHECK(value["ratio"].as_double() == 0.25);
  CHECK(value["count"].as_double() == -42.0);  // an integer converts to floating point
  CHECK(value["list"][1].as_string() == "two");
  CHECK(value["null"].is_null());
  CHECK(value.size() == 7);
  try {
    (void)value["name"].as_int();
    FAIL("a string read as an integer");
  } catch (const WorkerError& e) {
    CHECK(e.code() == WorkerErrc::wrong_type);
    CHECK(std::string(e.what()) == "expected an integer, got the string \"colony\"");
  }
  try {
    (void)value["absent"];
    FAIL("an absent key was found");
  } catch (const WorkerError& e) {
    CHECK(e.code() == WorkerErrc::not_found);
  }
  CHECK_THROWS_AS(Value(std::uint64_t{1} << 63), WorkerError);
}

TEST_CASE("values convert to JSON and back without loss", "[unit]") {
  const Value value = sample();
  const std::string json = value.to_json();
  CHECK(json.find(R"("raw":{"$bytes":"AP8QYQ=="})") != std::string::npos);
  CHECK(Value::from_json(json) == value);
  CHECK(Value::from_json(value.to_json(2)) == value);

  SECTION("numbers: integers stay integers, others are floating point") {
    CHECK(Value::from_json("7").kind() == Value::Kind::integer);
    CHECK(Value::from_json("7.0").kind() == Value::Kind::floating);
    CHECK(Value::from_json("-9223372036854775808").as_int() == INT64_MIN);
    CHECK(Value::from_json("18446744073709551615").kind() == Value::Kind::floating);
    CHECK(Value(std::nan("")).to_json() == "null");
  }
  SECTION("bytes of every length survive base64") {
    for (std::size_t n = 0; n < 8; ++n) {
      Value::Bytes bytes(n);
      for (std::size_t i = 0; i < n; ++i) bytes[i] = static_cast<std::byte>(i * 37 + 1);
      CHECK(Value::from_json(Value(bytes).to_json()) == Value(bytes));
    }
  }
  SECTION("a string that is not UTF-8 still makes valid JSON") {
    const std::string broken("ok\xff\xfe", 4);
    const auto written = Value(broken).to_json();
    CHECK(Value::from_json(written).as_string().starts_with("ok"));
  }
}

TEST_CASE("malformed or hostile JSON is a clear error, never a crash", "[unit]") {
  const auto error_of = [](std::string_view text) {
    try {
      (void)Value::from_json(text);
    } catch (const WorkerError& e) {
      CHECK(e.code() == WorkerErrc::undecodable);
      return std::string(e.what());
    }
    return std::string("no error");
  };
  CHECK(error_of(R"({"a": 1,})").find("line 1, column 9") != std::string::npos);
  CHECK(error_of("").find("malformed JSON") != std::string::npos);
  CHECK(error_of(R"({"$bytes": "@@@@"})").find("base64") != std::string::npos);
  CHECK(error_of(std::string(200, '[') + std::string(200, ']')).find("nested deeper") != std::string::npos);
  CHECK(error_of(std::string(100000, '[')).find("malformed JSON") != std::string::npos);
}

TEST_CASE("a value decodes from exactly its bytes and refuses forged ones", "[unit]") {
  const Value value = sample();
  const auto bytes = detail::serialize_value(value);
  const auto decoded = through_bytes(bytes);
  REQUIRE(decoded.ok());
  CHECK(*decoded.value == value);

  SECTION("truncated") {
    for (std::size_t cut = 0; cut < bytes.size(); ++cut) {
      const std::vector<std::byte> part(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(cut));
      CHECK(through_bytes(part).status == shm::Outcome::undecodable);
    }
  }
  SECTION("a nesting bomb") {
    // Array of one element, over and over: each level costs 9 bytes.
    std::vector<std::byte> bomb;
    for (int i = 0; i < 10000; ++i) {
      bomb.push_back(std::byte{static_cast<unsigned char>(Value::Kind::array)});
      const std::uint64_t one = 1;
      const auto* p = reinterpret_cast<const std::byte*>(&one);
      bomb.insert(bomb.end(), p, p + sizeof one);
    }
    bomb.push_back(std::byte{0});
    const auto result = through_bytes(bomb);
    CHECK(result.status == shm::Outcome::undecodable);
    CHECK(result.error.find("nested deeper") != std::string::npos);
  }
  SECTION("random corruption") {
    std::mt19937 random(12345);
    int refused = 0;
    for (int round = 0; round < 3000; ++round) {
      auto corrupt = bytes;
      for (int flips = 0; flips < 3; ++flips) {
        corrupt[random() % corrupt.size()] = static_cast<std::byte>(random());
      }
      const auto result = through_bytes(corrupt);  // must not crash or allocate wildly
      if (!result.ok()) ++refused;
    }
    CHECK(refused > 0);
  }
}

TEST_CASE("a value travels to a worker and back", "[ipc]") {
  Broker broker(test::broker_options());
  auto worker = broker.host().create(test::worker_path(), {"value-echo"});
  std::optional<Value> reply;
  worker.on_message<Value>([&](Value value) { reply = std::move(value); });
  worker.start();
  worker.post_message(sample());
  REQUIRE(test::dispatch_until(broker.host(), [&] { return reply.has_value(); }));
  CHECK((*reply)["seen_by"].as_int() == worker.pid());
  Value expected = sample();
  expected["seen_by"] = static_cast<std::int64_t>(worker.pid());
  CHECK(*reply == expected);
}
