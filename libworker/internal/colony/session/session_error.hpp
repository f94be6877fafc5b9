#pragma once
// How the session layer fails: every operation of it that can fail returns
// SessionExpected<T>, whose error carries the WorkerErrc the public facade
// throws (and the colony command maps to an exit code, cli/commands.hpp),
// a message for a person and, when a system call failed, its errno. The
// facade (Worker, Caller, Mailbox, properties) turns an error into a
// WorkerError with or_throw; the broker and the colony command branch on it.

#include <string>
#include <type_traits>
#include <utility>

#include "colony/shm/error.hpp"
#include "colony/worker/errors.hpp"

namespace colony::detail {

struct SessionError {
  WorkerErrc code = WorkerErrc::os_error;
  std::string message;
  int system_code = 0;  // the OS's error number, carried from shm::Error; never parsed from the message
};

template <class T>
using SessionExpected = shm::Expected<T, SessionError>;

// The segment layer's error, said in the session's terms: code, the context
// before the segment layer's message, its errno kept.
inline SessionError session_error(WorkerErrc code, const std::string& context, const shm::Error& cause) {
  return SessionError{code, context + cause.message, cause.system_code};
}

[[noreturn]] inline void throw_error(const SessionError& error) {
  throw WorkerError(error.code, error.message, error.system_code);
}

// The facade's boundary: the value, or the error as a WorkerError.
template <class T>
T or_throw(SessionExpected<T>&& result) {
  if (!result) throw_error(result.error());
  if constexpr (!std::is_void_v<T>) return std::move(result).value();
}

}  // namespace colony::detail
