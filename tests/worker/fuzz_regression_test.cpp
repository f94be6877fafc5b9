// Inputs the fuzz targets (tests/fuzz) found mishandled, kept as ordinary
// tests of the behaviour users rely on. Each reproducer is also in the
// target's corpus (tests/fuzz/corpus/TARGET/).
#include <catch2/catch.hpp>

#include <string>

#include "colony/worker/errors.hpp"
#include "colony/worker/value.hpp"

using namespace colony;

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
