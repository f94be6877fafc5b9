#pragma once
// The ordinary outcomes of the shm layer's operations, one vocabulary for
// all of them: a ring's send and receive, a typed receive, a lock, a
// condition's wait, a byte array's wait and the wait word under them.
// Ordinary means the caller expected it might happen and branches on it (a
// full ring, a deadline, a dead previous owner); what is wrong with the world
// (no such segment, a foreign one, an OS error) is an Error instead
// (error.hpp), carried by Expected. Each operation says which of these it
// can return; none returns them all.

#include <cstdint>
#include <string_view>

namespace colony::shm {

enum class Outcome : std::uint8_t {
  ok,            // done: sent, received, acquired, woken, notified
  timed_out,     // the deadline passed first
  full,          // a try_ send or claim: no space now
  empty,         // a try_ receive: nothing committed now
  would_block,   // try_lock: held by a live owner
  owner_died,    // a lock: acquired, and its previous owner died holding it: repair what it protects
  not_equal,     // a wait: the word did not hold the expected value, so it did not sleep
  interrupted,   // the wait word: the OS cut the sleep short (a signal handler ran); nothing woke it
  too_large,     // a send: the payload exceeds the ring's max_message; nothing was written
  no_space,      // a send: /dev/shm has no room for the ring's next pages (RingPages); nothing was written
  closed,        // a send: the ring is closed; a receive: closed and drained
  corrupt,       // a value read from the segment failed validation
  wrong_type,    // a typed receive: a registered type other than the one asked for
  unknown_type,  // a typed receive: a type tag this process has no alias for
  undecodable,   // a typed receive: the bytes do not decode as the type their tag names
  failed,        // a lock: not acquired, for a reason in its error_number (relocking, a corrupt cell)
};

// "ok", "timed out", "too large", ...: for messages.
std::string_view to_string(Outcome outcome) noexcept;

}  // namespace colony::shm
