// The robust mutex on Windows: a named kernel mutex per MutexCell. Windows
// hands a mutex whose owner thread ended without releasing it (killed with
// TerminateProcess, or its thread exited) to the next waiter with
// WAIT_ABANDONED: the counterpart of EOWNERDEAD.
//
// MutexCell::native holds what names the mutex and who holds it:
//   id      64 random bits, set at initialization: the mutex is
//           Local\colony-mutex-<id>, opened (or made) by each process at
//           its first lock of the cell and kept open while it runs
//   thread  the holding thread's id, so that a relock from that thread fails
//           (EDEADLK) and an unlock from another fails, as the Linux
//           error-checking mutex does (a Windows mutex is recursive)
// A named mutex vanishes with its last handle. A holder that dies while no
// other process has the mutex open takes it with it, and the next locker makes
// a new one, which WAIT_ABANDONED cannot report: owner_pid, still naming the
// dead holder, says so instead.
#include <windows.h>

#include <algorithm>
#include <cerrno>
#include <map>
#include <mutex>
#include <new>
#include <string>

#include "colony/shm/entropy.hpp"
#include "colony/shm/process.hpp"
#include "colony/shm/robust_mutex.hpp"
#include "mutex_holder.hpp"
#include "owner_only.hpp"

namespace colony::shm {
namespace {

struct NativeLock {
  std::atomic<std::uint64_t> id;
  std::atomic<std::uint32_t> thread;  // the holder's thread id, 0 when free
};
static_assert(sizeof(NativeLock) <= kNativeLockBytes);
static_assert(alignof(NativeLock) <= alignof(MutexCell));

NativeLock& native_lock(MutexCell& cell) noexcept { return *std::launder(reinterpret_cast<NativeLock*>(cell.native)); }

// This process's handle on each cell's mutex, by id.
HANDLE mutex_handle(std::uint64_t id) noexcept {
  static std::mutex* guard = new std::mutex;
  static auto* handles = new std::map<std::uint64_t, HANDLE>;
  const std::lock_guard lock(*guard);
  auto& handle = (*handles)[id];
  if (handle == nullptr) {
    const std::wstring name = L"Local\\colony-mutex-" + std::to_wstring(id);
    handle = ::CreateMutexW(platform::owner_only_attributes(), FALSE, name.c_str());
  }
  return handle;
}

DWORD milliseconds_until(Deadline deadline) noexcept {
  if (deadline.is_never()) return INFINITE;
  const auto ms = std::chrono::ceil<std::chrono::milliseconds>(deadline.remaining()).count();
  return static_cast<DWORD>(std::clamp<long long>(ms, 0, INFINITE - 1));
}

LockResult wait_for(MutexCell& cell, DWORD timeout_ms) noexcept {
  NativeLock& native = native_lock(cell);
  const std::uint64_t id = native.id.load(std::memory_order_acquire);
  if (id == 0) return LockResult{Outcome::failed, 0, EINVAL};  // never initialized, or overwritten
  const DWORD self = ::GetCurrentThreadId();
  // Thread ids are unique among running threads, not over time: a dead
  // holder's may be ours now, but not with our pid as the holder.
  if (native.thread.load(std::memory_order_relaxed) == self && cell.owner_pid.load(std::memory_order_relaxed) == current_pid()) {
    return LockResult{Outcome::failed, 0, EDEADLK};
  }
  HANDLE mutex = mutex_handle(id);
  if (mutex == nullptr) return LockResult{Outcome::failed, 0, platform::errno_of_windows_error(::GetLastError())};
  const DWORD waited = ::WaitForSingleObject(mutex, timeout_ms);
  if (waited == WAIT_TIMEOUT) return LockResult{Outcome::timed_out};
  if (waited != WAIT_OBJECT_0 && waited != WAIT_ABANDONED) {
    return LockResult{Outcome::failed, 0, platform::errno_of_windows_error(::GetLastError())};
  }
  // A holder that died leaves owner_pid set (it clears it before releasing);
  // that also covers a mutex that vanished with its dead holder's handle.
  const bool owner_died = waited == WAIT_ABANDONED || cell.owner_pid.load(std::memory_order_relaxed) != 0;
  native.thread.store(self, std::memory_order_relaxed);
  return detail::record_acquisition(cell, owner_died);
}

}  // namespace

Expected<void> RobustMutexCell::initialize(MutexCell& cell) {
  NativeLock& native = *new (cell.native) NativeLock{};
  std::uint64_t id = 0;
  while (id == 0) id = random_bits();
  native.thread.store(0, std::memory_order_relaxed);
  native.id.store(id, std::memory_order_release);
  cell.owner_pid.store(0, std::memory_order_relaxed);
  return {};
}

LockResult RobustMutexCell::lock_until(Deadline deadline) noexcept {
  return wait_for(*cell_, milliseconds_until(deadline));
}

LockResult RobustMutexCell::try_lock() noexcept {
  const LockResult attempt = wait_for(*cell_, 0);
  if (attempt.status == Outcome::timed_out) return LockResult{Outcome::would_block};
  // Held by this very thread: for a try, simply "held".
  if (attempt.status == Outcome::failed && attempt.error_number == EDEADLK) return LockResult{Outcome::would_block};
  return attempt;
}

bool RobustMutexCell::unlock() noexcept {
  NativeLock& native = native_lock(*cell_);
  if (native.thread.load(std::memory_order_relaxed) != ::GetCurrentThreadId() ||
      cell_->owner_pid.load(std::memory_order_relaxed) != current_pid()) {
    return false;
  }
  const detail::HolderRelease release = detail::begin_release(*cell_);
  native.thread.store(0, std::memory_order_relaxed);
  HANDLE mutex = mutex_handle(native.id.load(std::memory_order_acquire));
  if (mutex != nullptr && ::ReleaseMutex(mutex)) return true;
  native.thread.store(::GetCurrentThreadId(), std::memory_order_relaxed);
  detail::undo_release(*cell_, release);
  return false;
}

}  // namespace colony::shm
