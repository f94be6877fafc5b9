#pragma once
// What the two Value targets check of every value that decoded: it shows as
// JSON and for a person, its JSON reads back (or is refused with
// WorkerError, never another exception), and its binary form decodes.

#include "colony/shm/typed.hpp"
#include "colony/worker/properties.hpp"
#include "colony/worker/value.hpp"
#include "fuzz_support.hpp"

namespace colony::fuzz {

inline void check_decoded_value(const Value& value) {
  fuzz::require(value.depth() <= Value::kMaxDepth, "a value deeper than the decoders allow was decoded");
  (void)value.describe();
  (void)value.size();
  const std::string json = value.to_json();
  (void)value.to_json(2);
  try {
    (void)Value::from_json(json);
  } catch (const WorkerError&) {
    // Refused with a reason (a map that reads as {"$bytes": ...}): allowed.
  }
  const auto bytes = detail::serialize_value(value);
  const shm::RecordView record{shm::TypeAlias<Value>::tag, 1, std::span<const std::byte>(bytes)};
  fuzz::require(shm::decode_record<Value>(record).ok(), "a value's binary form does not decode");
}

}  // namespace colony::fuzz
