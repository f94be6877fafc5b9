#pragma once
// One naming scheme for every segment of a session:
//   /colony.<session>.<kind>.<name>
// Sessions and names are 1..kMaxNameLength characters of [A-Za-z0-9_-]; the
// dot is reserved as the separator so that `colony clean` can parse an OS name
// back into its parts.

#include <optional>
#include <string>
#include <string_view>

#include "colony/shm/error.hpp"

namespace colony::shm {

enum class SegmentKind : unsigned {
  control = 1,
  ring = 2,
  bytes = 3,
  mutex = 4,
  condition = 5,
};

inline constexpr std::size_t kMaxSessionLength = 48;
inline constexpr std::size_t kMaxNameLength = 128;

std::string_view kind_name(SegmentKind kind) noexcept;
std::optional<SegmentKind> kind_from_name(std::string_view name) noexcept;

// Checks a user-supplied session or object name; the error says what is wrong.
Expected<void> validate_name(std::string_view name, std::string_view what, std::size_t max_length);

class SegmentName;
// Refuses a name of another kind: a ring created under a bytes name would
// otherwise be opened later as a byte array, its control block misread.
Expected<void> require_kind(const SegmentName& name, SegmentKind kind);

class SegmentName {
 public:
  static Expected<SegmentName> make(std::string_view session, SegmentKind kind, std::string_view name);
  // Parses "/colony.<session>.<kind>.<name>" (the leading slash is optional).
  static std::optional<SegmentName> parse(std::string_view os_name);

  const std::string& session() const noexcept { return session_; }
  SegmentKind kind() const noexcept { return kind_; }
  const std::string& name() const noexcept { return name_; }
  // The name given to shm_open, with its leading slash.
  const std::string& os_name() const noexcept { return os_name_; }

  // Prefix shared by every segment of a session, without the leading slash:
  // what a /dev/shm listing shows.
  static std::string session_prefix(std::string_view session);

 private:
  SegmentName(std::string session, SegmentKind kind, std::string name);
  std::string session_;
  SegmentKind kind_;
  std::string name_;
  std::string os_name_;
};

}  // namespace colony::shm
