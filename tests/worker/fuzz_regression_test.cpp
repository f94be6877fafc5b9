// Inputs the fuzz targets (tests/fuzz) found mishandled, kept as ordinary
// tests of the behaviour users rely on. Each reproducer is also in the
// target's corpus (tests/fuzz/corpus/TARGET/).
#include <catch2/catch.hpp>

#include <chrono>
#include <string>

#include "colony/broker/broker.hpp"
#include "colony/worker/crash_log.hpp"
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
    CrashLog::create(broker.session(), "fragile").publish(log);
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
