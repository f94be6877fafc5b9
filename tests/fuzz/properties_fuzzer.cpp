// A worker's shared properties (properties.cpp) as the worker reads them, the
// store's bytes written by another process: the fuzz bytes are the selector
// word, then the blob of the half it names. Reading gives the dictionary or
// WorkerError; every value read decodes as its type or is refused; a set
// over whatever was there stores a dictionary that reads back.
//
//   [0..7] u64 selector: (length << 1) | half
//   rest   the blob, written at the start of that half
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "colony/session/contract.hpp"
#include "colony/worker/named.hpp"
#include "colony/worker/properties.hpp"
#include "colony/worker/value.hpp"
#include "fuzz_support.hpp"

using namespace colony;

namespace {

constexpr std::size_t kFirstHalf = sizeof(detail::PropertyStoreHeader);

struct Store {
  std::string session = fuzz::session_for("prop");
  shm::SegmentName bytes_name = *shm::SegmentName::make(session, shm::SegmentKind::bytes, "w1g1-props");
  shm::SegmentName mutex_name = *shm::SegmentName::make(session, shm::SegmentKind::mutex, "w1g1-props");
  detail::PropertyStore store = detail::PropertyStore::create(bytes_name, mutex_name);
  shm::ByteArray bytes = shm::ByteArray::open(bytes_name, shm::Deadline::now()).value();
  ~Store() { fuzz::remove_session(session); }
};

Store& store() {
  static Store made;
  return made;
}

template <shm::RegisteredType T>
void get_as(std::string_view key, const std::optional<detail::StoredValue>& stored) {
  try {
    (void)detail::decode_property<T>(key, stored);
  } catch (const WorkerError&) {
    // wrong type or undecodable: what a reader is told
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  fuzz::remove_stale_sessions("prop");
  (void)store();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  Store& s = store();
  fuzz::InputReader input(data, size);
  const auto selector = input.take<std::uint64_t>();
  const auto blob = input.rest();
  const std::span<std::byte> all = s.bytes.bytes();
  std::memset(all.data(), 0, all.size());
  std::memcpy(all.data(), &selector, sizeof selector);
  const std::size_t half = kFirstHalf + (selector & 1) * detail::kPropertyHalf;
  if (!blob.empty()) std::memcpy(all.data() + half, blob.data(), std::min(blob.size(), all.size() - half));

  auto store_now = detail::PropertyStore::open(s.bytes_name, s.mutex_name);
  std::vector<std::string> keys;
  try {
    keys = store_now.keys();
  } catch (const WorkerError& e) {
    fuzz::require(e.code() == WorkerErrc::undecodable, "an unreadable store refused with the wrong code");
    return 0;
  }
  for (const auto& key : keys) {
    const auto stored = store_now.get(key);
    fuzz::require(stored.has_value(), "a listed key cannot be read");
    get_as<Value>(key, stored);
    get_as<std::string>(key, stored);
    get_as<std::int64_t>(key, stored);
    get_as<bool>(key, stored);
    get_as<std::vector<std::byte>>(key, stored);
  }
  // A set keeps what was there and adds one: both read back.
  try {
    store_now.set("fuzz.added", shm::TypeAlias<std::int64_t>::tag, detail::serialize_value(std::int64_t{42}));
  } catch (const WorkerError& e) {
    fuzz::require(e.code() == WorkerErrc::message_too_large, "a set refused with the wrong code");
    return 0;
  }
  const auto after = store_now.keys();
  fuzz::require(after.size() == keys.size() + (std::find(keys.begin(), keys.end(), "fuzz.added") == keys.end() ? 1 : 0),
                "a set lost or invented keys");
  fuzz::require(detail::decode_property<std::int64_t>("fuzz.added", store_now.get("fuzz.added")) == 42,
                "the value set does not read back");
  return 0;
}
