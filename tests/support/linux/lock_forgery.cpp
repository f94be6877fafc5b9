// Glibc's pthread_mutex_t: __lock is the futex word (the holder's thread id),
// __kind the mutex type. Raw pthread calls play the locker that does not follow
// the robust protocol. MutexCell::native holds that pthread_mutex_t, as
// shm/src/linux/robust_mutex.cpp keeps it.
#include "lock_forgery.hpp"

#include <pthread.h>

#include <cerrno>
#include <new>

namespace colony::test {
namespace {

pthread_mutex_t& native_mutex(shm::MutexCell& cell) noexcept {
  return *std::launder(reinterpret_cast<pthread_mutex_t*>(cell.native));
}

}  // namespace

void forge_lock_holder(shm::MutexCell& cell, int thread_id) { native_mutex(cell).__data.__lock = thread_id; }

void forge_not_a_lock(shm::MutexCell& cell) { native_mutex(cell).__data.__kind = -1; }

Abandoned take_dead_owners_lock_and_abandon_it(shm::MutexCell& cell) {
  Abandoned abandoned;
  const int locked = pthread_mutex_lock(&native_mutex(cell));
  abandoned.owner_was_dead = locked == EOWNERDEAD;
  if (locked == 0 || locked == EOWNERDEAD) abandoned.released = pthread_mutex_unlock(&native_mutex(cell)) == 0;
  return abandoned;
}

}  // namespace colony::test
