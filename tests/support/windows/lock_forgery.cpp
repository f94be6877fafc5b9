// What can be forged in a MutexCell on Windows, where the lock itself is a
// named kernel mutex that no write to shared memory reaches: its name (the
// id in MutexCell::native, as shm/src/windows/robust_mutex.cpp keeps it), and
// a holder that never lets go.
#include "lock_forgery.hpp"

#include <windows.h>

#include <atomic>
#include <new>
#include <string>
#include <thread>

namespace colony::test {
namespace {

struct NativeLock {
  std::atomic<std::uint64_t> id;
  std::atomic<std::uint32_t> thread;
};

NativeLock& native_lock(shm::MutexCell& cell) noexcept { return *std::launder(reinterpret_cast<NativeLock*>(cell.native)); }

}  // namespace

// A holder that exists nowhere the lockers can see: a thread of this process
// takes the mutex and parks for the rest of the process's life, so the
// mutex is never released nor abandoned. The thread id named is written too.
void forge_lock_holder(shm::MutexCell& cell, int thread_id) {
  const std::wstring name = L"Local\\colony-mutex-" + std::to_wstring(native_lock(cell).id.load());
  std::atomic<bool> taken{false};
  std::thread([&taken, name] {
    HANDLE mutex = ::CreateMutexW(nullptr, FALSE, name.c_str());
    ::WaitForSingleObject(mutex, INFINITE);
    taken.store(true);
    for (;;) ::Sleep(INFINITE);
  }).detach();
  while (!taken.load()) ::Sleep(1);
  native_lock(cell).thread.store(static_cast<std::uint32_t>(thread_id));
}

// No mutex is named any more.
void forge_not_a_lock(shm::MutexCell& cell) { native_lock(cell).id.store(0); }

}  // namespace colony::test
