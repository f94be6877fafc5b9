#include "colony/session/crash_log.hpp"

#include <atomic>
#include <thread>
#include <vector>

#include "colony/session/names.hpp"
#include "colony/shm/failpoint.hpp"
#include "colony/shm/segment.hpp"
#include "colony/worker/mailbox.hpp"

namespace colony {
namespace {

// The layout is CrashLogHeader's (colony/session/contract.hpp).
constexpr std::size_t kGeneration = offsetof(detail::CrashLogHeader, generation);
constexpr std::size_t kLength = offsetof(detail::CrashLogHeader, length);
constexpr std::size_t kText = sizeof(detail::CrashLogHeader);
constexpr int kReadTries = 50;

shm::Expected<shm::SegmentName> log_name(std::string_view session, std::string_view worker_name) {
  return shm::SegmentName::make(session, shm::SegmentKind::bytes, detail::crash_log_object(worker_name));
}

}  // namespace

detail::SessionExpected<CrashLog> CrashLog::create(std::string_view session, std::string_view worker_name) {
  const auto name = log_name(session, worker_name);
  if (!name) return detail::session_error(WorkerErrc::bad_state, "crash log: ", name.error());
  (void)shm::Segment::remove(*name);  // a log left by an earlier broker of this session
  auto bytes = shm::ByteArray::create(*name, kCapacity, kCapacity);
  if (!bytes) return detail::session_error(WorkerErrc::os_error, "crash log: ", bytes.error());
  return CrashLog(std::move(*bytes));
}

std::optional<CrashLog> CrashLog::open(std::string_view session, std::string_view worker_name) {
  const auto name = log_name(session, worker_name);
  if (!name) return std::nullopt;  // no worker has that name: it has no log
  auto bytes = shm::ByteArray::open(*name, shm::Deadline::after(std::chrono::milliseconds(200)));
  if (!bytes || bytes->capacity() != kCapacity) return std::nullopt;
  return CrashLog(std::move(*bytes));
}

void CrashLog::publish(std::string_view json_array) {
  const std::string_view text = json_array.substr(0, kCapacity - kText);
  const auto stored = bytes_.load<std::uint32_t>(kGeneration);
  const std::uint32_t generation = stored ? *stored : 0;
  (void)bytes_.store<std::uint32_t>(kGeneration, generation | 1u);
  // Readers that saw the old even generation must not see new bytes as old.
  std::atomic_thread_fence(std::memory_order_release);
  (void)bytes_.write(kText, std::as_bytes(std::span(text.data(), text.size())));
  (void)bytes_.store<std::uint32_t>(kLength, static_cast<std::uint32_t>(text.size()));
  COLONY_FAILPOINT("crash_log.publish.before_even");
  // Publishing point: even again, the text whole. Dying before leaves it odd.
  (void)bytes_.store<std::uint32_t>(kGeneration, (generation | 1u) + 1u);
}

std::optional<std::string> CrashLog::read() const {
  std::vector<std::byte> copy;
  for (int attempt = 0; attempt < kReadTries; ++attempt) {
    if (attempt > 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    const auto before = bytes_.load<std::uint32_t>(kGeneration);
    if (!before || (*before & 1u) != 0) continue;
    const auto length = bytes_.load<std::uint32_t>(kLength);
    if (!length || *length > kCapacity - kText) continue;  // checked: shared memory is untrusted
    copy.resize(*length);
    if (!bytes_.read(kText, copy)) continue;
    std::atomic_thread_fence(std::memory_order_acquire);
    const auto after = bytes_.load<std::uint32_t>(kGeneration);
    if (!after || *after != *before) continue;
    return std::string(reinterpret_cast<const char*>(copy.data()), copy.size());
  }
  return std::nullopt;
}

}  // namespace colony
