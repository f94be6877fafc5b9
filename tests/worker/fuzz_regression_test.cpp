// Inputs found mishandled by the fuzz targets (tests/fuzz), or while writing
// them, kept as ordinary tests of the behaviour users rely on. Each input is
// also in the target's corpus (tests/fuzz/corpus/TARGET/).
#include <sys/resource.h>

#include <catch2/catch.hpp>

#include <chrono>
#include <string>

#include "colony/broker/broker.hpp"
#include "colony/shm/typed.hpp"
#include "colony/session/crash_log.hpp"
#include "colony/worker/errors.hpp"
#include "colony/worker/value.hpp"
#include "worker_test_support.hpp"

using namespace colony;
using namespace std::chrono_literals;

namespace {

// What from_json threw for text, or "" when it parsed.
std::string refusal_of(const std::string& text) {
  try {
    (void)Value::from_json(text);
    return "";
  } catch (const WorkerError& e) {
    return e.code() == WorkerErrc::undecodable ? std::string("undecodable: ") + e.what() : "another code";
  } catch (const std::exception& e) {
    return std::string("not a WorkerError: ") + e.what();
  }
}

// The most this process ever had resident, in bytes.
std::size_t peak_resident_bytes() {
  rusage usage{};
  ::getrusage(RUSAGE_SELF, &usage);
  return static_cast<std::size_t>(usage.ru_maxrss) * 1024;
}

// A Value message of `size` bytes that nests arrays kMaxDepth deep, each
// claiming as many elements as bytes are left after it, the innermost
// element undecodable.
std::vector<std::byte> nested_array_claims(std::size_t size) {
  std::vector<std::byte> bytes;
  for (int level = 0; level < Value::kMaxDepth; ++level) {
    bytes.push_back(static_cast<std::byte>(Value::Kind::array));
    const std::uint64_t claimed = size - bytes.size() - sizeof(std::uint64_t);
    const auto* count = reinterpret_cast<const std::byte*>(&claimed);
    bytes.insert(bytes.end(), count, count + sizeof claimed);
  }
  bytes.resize(size, std::byte{0xee});  // not a kind
  return bytes;
}

}  // namespace

// value_json: "1e999" made nlohmann's out_of_range escape Value::from_json,
// so `colony call W m 1e999` failed with the JSON library's message (exit 1)
// instead of a usage error naming the argument, and a worker catching
// WorkerError around from_json was terminated.
TEST_CASE("JSON whose number does not fit a double is refused as undecodable like malformed JSON", "[unit]") {
  for (const std::string text : {"1e999", "[1, {\"a\": -1e400}]", "123456789e999999"}) {
    INFO(text);
    const std::string refusal = refusal_of(text);
    CHECK(refusal.starts_with("undecodable: malformed JSON: "));
    CHECK(refusal.find("number overflow") != std::string::npos);  // says why
  }
}

// crash_log: the crash log is shared memory any process of the user can
// write; a report that was not an object (or whose fields were not strings)
// made `colony ps` stop with the JSON library's type_error, showing nothing.
TEST_CASE("colony ps shows a named worker whose crash log holds reports of another shape", "[ipc]") {
  Broker broker(test::broker_options());
  broker.define_named_worker("fragile", test::worker_path(), {"echo"});
  for (const std::string log : {"[1, 2]", R"([{"time": 5, "reason": [], "action": {}, "in_flight": {"attempt": "x",
        "method": 7}, "stderr_tail": [1, "kept line"]}])"}) {
    INFO(log);
    detail::or_throw(CrashLog::create(broker.session(), "fragile")).publish(log);
    const auto table = test::run_command({test::cli_path(), "ps", "--session", broker.session(), "--interval", "0"}, 20s);
    CHECK(table.exit_code == 0);
    CHECK(table.err.empty());
    CHECK(table.out.find("fragile") != std::string::npos);
    // What can be shown of a report is: a string line of its stderr tail.
    if (log.find("kept line") != std::string::npos) CHECK(table.out.find("stderr| kept line") != std::string::npos);
    const auto json = test::run_command({test::cli_path(), "ps", "--session", broker.session(), "--json", "--interval", "0"}, 20s);
    CHECK(json.exit_code == 0);
    CHECK(Value::from_json(json.out)["named_workers"].as_array().at(0)["name"].as_string() == "fragile");
  }
}

// value_binary (found writing the target): a Value array was sized to the
// count its message claimed before any element decoded. The count is capped
// by the bytes left, but each of 128 nested levels may claim that many, so a
// 128 KiB message made its receiver allocate and zero about 1 GiB (a 512 KiB
// mailbox message: 3.7 GiB) before being refused as undecodable.
TEST_CASE("a Value message cannot make its receiver allocate far more than its own size", "[unit]") {
  constexpr std::size_t kMessage = 128 << 10;
  const auto bytes = nested_array_claims(kMessage);
  const std::size_t before = peak_resident_bytes();
  const shm::RecordView record{shm::TypeAlias<Value>::tag, 1, std::span<const std::byte>(bytes)};
  const auto received = shm::decode_record<Value>(record);
  CHECK(received.status == shm::Outcome::undecodable);
  const std::size_t grown = peak_resident_bytes() - before;
  INFO("peak resident memory grew by " << grown / (1 << 20) << " MiB decoding " << kMessage / 1024 << " KiB");
  CHECK(grown < (std::size_t{16} << 20));  // sizing each level up front took about 1 GiB
}
