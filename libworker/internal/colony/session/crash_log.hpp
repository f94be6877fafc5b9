#pragma once
// The crash reports of a named worker, where `colony ps` and `colony top`
// read them: a byte array the broker alone writes, holding the latest
// reports as one JSON array, under a sequence lock (its layout and crash
// windows: CrashLogHeader in contract.hpp).

#include <optional>
#include <string>
#include <string_view>

#include "colony/session/contract.hpp"
#include "colony/session/session_error.hpp"
#include "colony/shm/byte_array.hpp"

namespace colony {

class CrashLog {
 public:
  static constexpr std::size_t kCapacity = detail::kCrashLogSize;

  // The broker's: made if absent, emptied. os_error when it cannot be made.
  static detail::SessionExpected<CrashLog> create(std::string_view session, std::string_view worker_name);
  // A reader's; nullopt when the worker never crashed (or the log is foreign,
  // or no worker can have that name).
  static std::optional<CrashLog> open(std::string_view session, std::string_view worker_name);

  // Replaces the text; one writer only. Text past the capacity is cut.
  void publish(std::string_view json_array);
  // The text, or nullopt if it stayed mid-write through every try.
  std::optional<std::string> read() const;

 private:
  explicit CrashLog(shm::ByteArray bytes) : bytes_(std::move(bytes)) {}
  shm::ByteArray bytes_;
};

}  // namespace colony
