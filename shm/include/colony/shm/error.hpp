#pragma once
// One error convention for the whole project: operations that can fail for a
// reason the caller must see return Expected<T>; an Error carries a code to
// branch on and a message that names the reason for a person.
// Full, empty and timeout are not errors: they are ordinary results of the
// operations that can meet them (see ring.hpp).

#include <cassert>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace colony::shm {

enum class Errc {
  invalid_name,      // a session, kind or object name breaks the naming rules
  invalid_argument,  // a size, offset or option outside what the object allows
  already_exists,    // create found an object of that name
  not_found,         // open found no object of that name
  foreign_owner,     // the object belongs to another user: never adopted
  bad_mode,          // permissions other than 0600: never adopted
  bad_magic,         // not a Colony segment
  bad_version,       // a Colony segment of another layout version
  wrong_kind,        // a Colony segment of another kind (a ring opened as bytes...)
  bad_size,          // the size recorded in the header disagrees with the object
  creator_died,      // the creator died before the segment became ready
  not_ready,         // the segment did not become ready before the deadline
  busy,              // the single reader or writer slot is held by a live process
  corrupt,           // a field read from shared memory is out of range
  no_space,          // the shared-memory file system cannot hold the segment (the message says how much is free)
  not_permitted,     // the OS refused access (a file that may not be executed or opened)
  os_error,          // a system call failed for another reason (Error::system_code says which)
};

std::string_view to_string(Errc code) noexcept;

struct Error {
  Errc code;
  std::string message;
  // The OS's own error number (errno on POSIX) when a system call failed:
  // for code that must tell causes apart; never parse the message for it.
  int system_code = 0;
};

// A value or an error: an Error here, another layer's own error type above
// (the session layer's SessionError). Deliberately small: C++20 has no
// std::expected.
template <class T, class E = Error>
class [[nodiscard]] Expected {
 public:
  Expected(T value) : state_(std::in_place_index<0>, std::move(value)) {}  // NOLINT: implicit by design
  Expected(E error) : state_(std::in_place_index<1>, std::move(error)) {}  // NOLINT

  bool has_value() const noexcept { return state_.index() == 0; }
  explicit operator bool() const noexcept { return has_value(); }

  T& value() & { assert(has_value()); return std::get<0>(state_); }
  const T& value() const& { assert(has_value()); return std::get<0>(state_); }
  T&& value() && { assert(has_value()); return std::get<0>(std::move(state_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

  const E& error() const { assert(!has_value()); return std::get<1>(state_); }

 private:
  std::variant<T, E> state_;
};

template <class E>
class [[nodiscard]] Expected<void, E> {
 public:
  Expected() = default;
  Expected(E error) : error_(std::move(error)), failed_(true) {}  // NOLINT
  bool has_value() const noexcept { return !failed_; }
  explicit operator bool() const noexcept { return !failed_; }
  const E& error() const { assert(failed_); return error_; }

 private:
  E error_{};
  bool failed_ = false;
};

// Builds an Error whose message is "<what>: <strerror(errno_value)>", whose
// system_code is errno_value, and whose code names the common causes
// (not_found, not_permitted, already_exists, no_space), else os_error.
Error os_error(std::string_view what, int errno_value);

}  // namespace colony::shm
