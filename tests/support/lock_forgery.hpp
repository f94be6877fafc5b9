#pragma once
// What a stray write, or a hostile process of the same user, can leave in a
// MutexCell's native lock, forged for tests that check a lock never hangs on
// it. Written through the platform's own lock representation, under this
// file's name in linux/ and windows/.

#include "colony/shm/layout.hpp"

namespace colony::test {

// The lock word names thread_id as its holder.
void forge_lock_holder(shm::MutexCell& cell, int thread_id);
// The lock is no robust mutex at all.
void forge_not_a_lock(shm::MutexCell& cell);
struct Abandoned {
  bool owner_was_dead = false;  // the lock came with word of its owner's death
  bool released = false;
};
// Linux only (a Windows mutex has no unrecoverable state): locks like a
// locker that ignores the robust protocol, taking the lock of a dead owner
// and releasing it without making it usable again.
Abandoned take_dead_owners_lock_and_abandon_it(shm::MutexCell& cell);

}  // namespace colony::test
