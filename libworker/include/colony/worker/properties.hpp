#pragma once
// Shared properties (AIR): a per-worker dictionary of copies, keyed by string.
// Values are serialized on set and decoded on get, so each side holds its own
// copy; only the reference kinds (channels, workers, shared objects) resolve
// to the same object.
//
// Storage: a bytes segment and a robust mutex per worker. The dictionary is
// one serialized blob written into the half of the segment not in use, then
// published by one atomic store of (length, half): a writer killed mid-write
// leaves the previous dictionary in place, and the mutex reports it died.

#include <cstdint>
#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "colony/shm/byte_array.hpp"
#include "colony/shm/mutex.hpp"
#include "colony/shm/typed.hpp"
#include "colony/worker/errors.hpp"

namespace colony::detail {

struct StoredValue {
  std::uint32_t type_tag = 0;
  std::vector<std::byte> bytes;
  template <class A> void serialize(A& a) { a(type_tag, bytes); }
};

class PropertyStore {
 public:
  // Bytes of serialized dictionary (colony/session/contract.hpp: each of
  // two halves, so a writer never overwrites the published one). Reserved at
  // creation like every segment: 64 KiB holds configuration and handles;
  // larger data belongs in a byte array.
  static constexpr std::size_t kDefaultCapacity = 64 << 10;

  static PropertyStore create(const shm::SegmentName& bytes_name, const shm::SegmentName& mutex_name);
  static PropertyStore open(const shm::SegmentName& bytes_name, const shm::SegmentName& mutex_name);

  // How long an operation waits for the store's mutex. A live holder keeps
  // it for one copy of the dictionary; a stopped one would otherwise hold
  // every reader and writer for ever. Past it: WorkerError timed_out.
  static constexpr std::chrono::seconds kLockDeadline{2};

  void set(std::string_view key, std::uint32_t type_tag, std::vector<std::byte> bytes);
  std::optional<StoredValue> get(std::string_view key);
  std::vector<std::string> keys();

 private:
  shm::MutexLock lock_store();
  PropertyStore(shm::ByteArray bytes, shm::Mutex mutex) : bytes_(std::move(bytes)), mutex_(std::move(mutex)) {}
  std::map<std::string, StoredValue, std::less<>> load_locked();
  shm::ByteArray bytes_;
  shm::Mutex mutex_;
};

template <shm::RegisteredType T>
std::vector<std::byte> serialize_value(const T& value) {
  std::vector<std::byte> bytes(shm::serialized_size(value));
  shm::serialize_into(value, std::span<std::byte>(bytes));
  return bytes;
}

template <shm::RegisteredType T>
T decode_property(std::string_view key, const std::optional<StoredValue>& stored) {
  if (!stored) throw WorkerError(WorkerErrc::no_such_property, "no shared property '" + std::string(key) + "'");
  const shm::RecordView view{stored->type_tag, 0, std::span<const std::byte>(stored->bytes)};
  auto decoded = shm::decode_record<T>(view);
  if (decoded.ok()) return std::move(*decoded.value);
  const auto code = decoded.status == shm::Outcome::undecodable ? WorkerErrc::undecodable : WorkerErrc::wrong_type;
  throw WorkerError(code, "shared property '" + std::string(key) + "': " + decoded.error);
}

}  // namespace colony::detail
