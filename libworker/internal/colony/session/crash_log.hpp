#pragma once
// The crash reports of a named worker, where `colony ps` and `colony top`
// read them: a byte array ("cr-<encoded name>") the broker alone writes,
// holding the latest reports as one JSON array, under a sequence lock.
//
//   [0]  u32 generation: odd while the broker writes
//   [4]  u32 length of the text
//   [8]  the text
//
// A broker that dies while writing leaves the generation odd; readers then
// give up after a few tries and report nothing, and the session is over
// anyway (a new broker taking it over starts a new log).

#include <optional>
#include <string>
#include <string_view>

#include "colony/shm/byte_array.hpp"

namespace colony {

class CrashLog {
 public:
  static constexpr std::size_t kCapacity = 32 << 10;

  // The broker's: made if absent, emptied.
  static CrashLog create(std::string_view session, std::string_view worker_name);
  // A reader's; nullopt when the worker never crashed (or the log is foreign).
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
