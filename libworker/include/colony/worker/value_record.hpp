#pragma once
// A received record as a colony::Value: a Value itself, or one of the
// built-in scalar and string types, so that tools (the colony command) can
// show any simple message as JSON.

#include <optional>

#include "colony/shm/typed.hpp"
#include "colony/worker/value.hpp"

namespace colony {

inline std::optional<Value> value_of_record(const shm::RecordView& record) {
  if (auto v = shm::decode_record<Value>(record); v.ok()) return std::move(*v.value);
  if (auto v = shm::decode_record<std::string>(record); v.ok()) return Value(std::move(*v.value));
  if (auto v = shm::decode_record<std::int32_t>(record); v.ok()) return Value(*v.value);
  if (auto v = shm::decode_record<std::int64_t>(record); v.ok()) return Value(static_cast<long long>(*v.value));
  if (auto v = shm::decode_record<std::uint32_t>(record); v.ok()) return Value(*v.value);
  if (auto v = shm::decode_record<std::uint64_t>(record); v.ok()) {
    // Beyond the signed range a Value holds it as floating point, as JSON would.
    if (*v.value <= static_cast<std::uint64_t>(INT64_MAX)) return Value(static_cast<long long>(*v.value));
    return Value(static_cast<double>(*v.value));
  }
  if (auto v = shm::decode_record<double>(record); v.ok()) return Value(*v.value);
  if (auto v = shm::decode_record<bool>(record); v.ok()) return Value(*v.value);
  return std::nullopt;
}

}  // namespace colony
