#pragma once
// What the byte-array tests share, on every platform
// (byte_array_test.cpp, linux/byte_array_linux_test.cpp).

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "colony/shm/byte_array.hpp"
#include "colony/shm/layout.hpp"
#include "foreign_mapping.hpp"
#include "test_session.hpp"

namespace colony::test::bytes {

using namespace std::chrono_literals;
using shm::ByteArray;
using shm::Deadline;
using shm::SegmentKind;

// Word offsets shared by the multi-process scenarios and their tests.
inline constexpr std::size_t kReadyWord = 0;    // children bump it just before they wait
inline constexpr std::size_t kGoWord = 4;       // the parent sets it to start the children
inline constexpr std::size_t kCounter32 = 8;
inline constexpr std::size_t kCounter64 = 16;
inline constexpr std::size_t kScenarioCapacity = 64;
inline constexpr int kAddsPerChild = 200'000;

template <class T>
T ok(shm::Expected<T> result) {
  if (!result) FAIL(result.error().message);
  return std::move(result).value();
}

inline void ok(shm::Expected<void> result) {
  if (!result) FAIL(result.error().message);
}

template <class T>
shm::Error error_of(shm::Expected<T> result) {
  REQUIRE_FALSE(result);
  return result.error();
}

inline std::vector<std::byte> bytes_of(const std::string& text) {
  std::vector<std::byte> bytes(text.size());
  std::memcpy(bytes.data(), text.data(), text.size());
  return bytes;
}

inline std::string text_of(std::span<const std::byte> bytes) {
  return std::string(reinterpret_cast<const char*>(bytes.data()), bytes.size());
}

inline ByteArray open_scenario_array(const std::string& session) {
  auto name = shm::SegmentName::make(session, SegmentKind::bytes, "shared");
  if (!name) throw std::runtime_error(name.error().message);
  auto array = ByteArray::open(*name, Deadline::after(5s));
  if (!array) throw std::runtime_error(array.error().message);
  return std::move(array).value();
}

inline ByteArray create_scenario_array(const test::TestSession& session) {
  return ok(ByteArray::create(session.segment(SegmentKind::bytes, "shared"), kScenarioCapacity, kScenarioCapacity));
}

// The control block of a byte array as a foreign mapping sees it.
inline shm::ByteArrayControl& control_of(const ForeignMapping& raw) {
  return *reinterpret_cast<shm::ByteArrayControl*>(raw.at(shm::kControlOffset));
}

}  // namespace colony::test::bytes
