#include "colony/session/contract.hpp"
#include "colony/worker/properties.hpp"

#include <cereal/types/map.hpp>

#include "colony/shm/failpoint.hpp"
#include "colony/shm/archive.hpp"

namespace colony::detail {
namespace {

// The layout is PropertyStoreHeader's (colony/session/contract.hpp).
constexpr std::size_t kSelectorOffset = offsetof(PropertyStoreHeader, selector);
constexpr std::size_t kFirstHalf = sizeof(PropertyStoreHeader);
constexpr std::size_t kHalf = kPropertyHalf;

std::size_t half_offset(std::uint64_t half) { return kFirstHalf + half * kHalf; }

[[noreturn]] void fail(const std::string& what, const shm::Error& error) {
  throw WorkerError(WorkerErrc::session_gone, "shared properties: " + what + ": " + error.message);
}

}  // namespace

PropertyStore PropertyStore::create(const shm::SegmentName& bytes_name, const shm::SegmentName& mutex_name) {
  auto bytes = shm::ByteArray::create(bytes_name, kPropertyStoreSize, kPropertyStoreSize);
  if (!bytes) fail("create", bytes.error());
  auto mutex = shm::Mutex::create(mutex_name);
  if (!mutex) {
    shm::Segment::remove(bytes_name);
    fail("create", mutex.error());
  }
  return PropertyStore(std::move(*bytes), std::move(*mutex));
}

PropertyStore PropertyStore::open(const shm::SegmentName& bytes_name, const shm::SegmentName& mutex_name) {
  const auto deadline = shm::Deadline::after(kSegmentPublishWait);
  auto bytes = shm::ByteArray::open(bytes_name, deadline);
  if (!bytes) fail("open", bytes.error());
  if (bytes->capacity() < kPropertyStoreSize) {
    throw WorkerError(WorkerErrc::session_gone, "shared properties: " + bytes_name.os_name() + " is too small");
  }
  auto mutex = shm::Mutex::open(mutex_name, deadline);
  if (!mutex) fail("open", mutex.error());
  return PropertyStore(std::move(*bytes), std::move(*mutex));
}

shm::MutexLock PropertyStore::lock_store() {
  shm::MutexLock lock(mutex_, shm::Deadline::after(kLockDeadline));
  if (lock) return lock;
  const auto code = lock.result().status == shm::Outcome::timed_out ? WorkerErrc::timed_out : WorkerErrc::os_error;
  throw WorkerError(code, "shared properties: cannot lock " + mutex_.name().os_name() + ": " +
                              shm::describe_lock_failure(lock.result().status, lock.result().error_number));
}

std::map<std::string, StoredValue, std::less<>> PropertyStore::load_locked() {
  std::map<std::string, StoredValue, std::less<>> values;
  const auto selector = bytes_.load<std::uint64_t>(kSelectorOffset);
  if (!selector || *selector == 0) return values;
  const std::uint64_t length = *selector >> 1;
  if (length > kHalf) throw WorkerError(WorkerErrc::undecodable, "shared properties: stored length is corrupt");
  const auto blob = bytes_.bytes().subspan(half_offset(*selector & 1), length);
  try {
    shm::BoundedInputArchive archive(blob);
    archive(values);
  } catch (const std::exception& e) {
    throw WorkerError(WorkerErrc::undecodable, std::string("shared properties do not decode: ") + e.what());
  }
  return values;
}

void PropertyStore::set(std::string_view key, std::uint32_t type_tag, std::vector<std::byte> bytes) {
  const shm::MutexLock lock = lock_store();
  // A previous writer that died here left the old dictionary published: the
  // selector only ever points at a complete blob.
  auto values = load_locked();
  values.insert_or_assign(std::string(key), StoredValue{type_tag, std::move(bytes)});
  shm::SpanOutputArchive counter;
  counter(values);
  const std::size_t length = counter.bytes_written();
  if (length > kHalf) {
    throw WorkerError(WorkerErrc::message_too_large, "shared properties: " + std::to_string(length) +
                                                         " bytes would exceed the store's " + std::to_string(kHalf));
  }
  const auto current = bytes_.load<std::uint64_t>(kSelectorOffset);
  const std::uint64_t next_half = (current && *current != 0) ? ((*current & 1) ^ 1) : 0;
  shm::SpanOutputArchive writer(bytes_.bytes().subspan(half_offset(next_half), length));
  writer(values);
  // Publishing point: one store switches readers to the new blob. Dying
  // before it leaves the old dictionary; after it, the new one.
  COLONY_FAILPOINT("properties.set.before_publish");
  (void)bytes_.store<std::uint64_t>(kSelectorOffset, (std::uint64_t{length} << 1) | next_half);
}

std::optional<StoredValue> PropertyStore::get(std::string_view key) {
  const shm::MutexLock lock = lock_store();
  auto values = load_locked();
  const auto found = values.find(key);
  if (found == values.end()) return std::nullopt;
  return std::move(found->second);
}

std::vector<std::string> PropertyStore::keys() {
  const shm::MutexLock lock = lock_store();
  std::vector<std::string> names;
  for (auto& [name, value] : load_locked()) names.push_back(name);
  return names;
}

}  // namespace colony::detail
