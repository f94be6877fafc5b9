#pragma once
// What the fuzz targets share: a failure that libFuzzer reports as a crash,
// session names unique to this process, and the removal of every segment a
// target made (also those an earlier run left when it crashed mid-input).

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <span>
#include <string>
#include <string_view>

#include "colony/shm/names.hpp"
#include "colony/shm/segment.hpp"

namespace colony::fuzz {

// An invariant the code under test broke: abort, which libFuzzer reports
// with the input that did it.
[[noreturn]] inline void fail(const char* what) {
  std::fprintf(stderr, "fuzz invariant broken: %s\n", what);
  std::abort();
}

inline void require(bool holds, const char* what) {
  if (!holds) fail(what);
}

// Every session a target makes is named "fz<tag><pid>": unique to this
// process, and recognisable as a fuzz target's when that process is gone.
inline std::string session_for(std::string_view tag) {
  return "fz" + std::string(tag) + std::to_string(::getpid());
}

inline void remove_session(std::string_view session) {
  for (const auto& os_name : shm::Segment::list(shm::SegmentName::session_prefix(session))) {
    (void)shm::Segment::remove_os_name(os_name.c_str());
  }
}

// Segments of fz<tag><pid> sessions whose process is gone: what a run that
// crashed in the middle of an input left behind.
inline void remove_stale_sessions(std::string_view tag) {
  const std::string prefix = "colony.fz" + std::string(tag);
  for (const auto& os_name : shm::Segment::list(prefix)) {
    const auto parsed = shm::SegmentName::parse(os_name);
    if (!parsed) continue;
    const std::string& session = parsed->session();
    int pid = 0;
    const char* digits = session.data() + prefix.size() - 7;  // after "colony."
    const auto [end, error] = std::from_chars(digits, session.data() + session.size(), pid);
    if (error != std::errc() || end != session.data() + session.size() || pid <= 0) continue;
    if (::kill(pid, 0) != 0 && errno == ESRCH) (void)shm::Segment::remove_os_name(os_name.c_str());
  }
}

// Reads fields off the front of a fuzz input; past its end, zeros.
class InputReader {
 public:
  InputReader(const std::uint8_t* data, std::size_t size) : data_(data), size_(size) {}
  template <class T>
  T take() {
    T value{};
    const std::size_t n = std::min(sizeof(T), size_ - at_);
    if (n > 0) std::memcpy(&value, data_ + at_, n);
    at_ += n;
    return value;
  }
  std::span<const std::uint8_t> take_bytes(std::size_t wanted) {
    const std::size_t n = std::min(wanted, size_ - at_);
    const std::span<const std::uint8_t> bytes(data_ + at_, n);
    at_ += n;
    return bytes;
  }
  std::span<const std::uint8_t> rest() { return take_bytes(size_ - at_); }
  bool empty() const { return at_ >= size_; }

 private:
  const std::uint8_t* data_;
  std::size_t size_;
  std::size_t at_ = 0;
};

// A FILE that swallows what the code under test prints.
inline std::FILE* null_output() {
  static std::FILE* const sink = std::fopen("/dev/null", "w");
  return sink;
}

}  // namespace colony::fuzz
