// colony::Value from JSON text (colony call's arguments, colony prop set, a
// script's input): parses or throws WorkerError(undecodable), never another
// exception, a crash or a stack overflow.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "value_common.hpp"

using namespace colony;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  Value value;
  try {
    value = Value::from_json(text);
  } catch (const WorkerError& e) {
    fuzz::require(e.code() == WorkerErrc::undecodable, "malformed JSON refused with the wrong code");
    return 0;
  }
  fuzz::check_decoded_value(value);
  return 0;
}
