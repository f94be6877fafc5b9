// Glibc's pthread_mutex_t: __lock is the futex word (the holder's thread id),
// __kind the mutex type. Raw pthread calls play the locker that does not follow
// the robust protocol.
#include "lock_forgery.hpp"

#include <pthread.h>

#include <cerrno>

namespace colony::test {

void forge_lock_holder(shm::MutexCell& cell, int thread_id) { cell.native.__data.__lock = thread_id; }

void forge_not_a_lock(shm::MutexCell& cell) { cell.native.__data.__kind = -1; }

Abandoned take_dead_owners_lock_and_abandon_it(shm::MutexCell& cell) {
  Abandoned abandoned;
  const int locked = pthread_mutex_lock(&cell.native);
  abandoned.owner_was_dead = locked == EOWNERDEAD;
  if (locked == 0 || locked == EOWNERDEAD) abandoned.released = pthread_mutex_unlock(&cell.native) == 0;
  return abandoned;
}

}  // namespace colony::test
