// colony::Value from its binary form (a message or property another process
// wrote): decodes or is refused as undecodable, never a crash, a stack
// overflow or an allocation the input's size does not justify.
#include <cstddef>
#include <cstdint>

#include "value_common.hpp"

using namespace colony;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const shm::RecordView record{shm::TypeAlias<Value>::tag, 1,
                               std::span<const std::byte>(reinterpret_cast<const std::byte*>(data), size)};
  const auto received = shm::decode_record<Value>(record);
  if (!received.ok()) {
    fuzz::require(received.status == shm::Outcome::undecodable, "a Value refused with the wrong status");
    return 0;
  }
  fuzz::check_decoded_value(*received.value);
  return 0;
}
