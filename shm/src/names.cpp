#include "colony/shm/names.hpp"

#include <array>

namespace colony::shm {
namespace {

constexpr std::string_view kPrefix = "colony.";

struct KindName {
  SegmentKind kind;
  std::string_view name;
};
constexpr std::array<KindName, 5> kKindNames{{
    {SegmentKind::control, "ctl"},
    {SegmentKind::ring, "ring"},
    {SegmentKind::bytes, "bytes"},
    {SegmentKind::mutex, "mutex"},
    {SegmentKind::condition, "cond"},
}};

bool is_name_char(char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
}

}  // namespace

std::string_view kind_name(SegmentKind kind) noexcept {
  for (const auto& entry : kKindNames) {
    if (entry.kind == kind) return entry.name;
  }
  return "unknown";
}

std::optional<SegmentKind> kind_from_name(std::string_view name) noexcept {
  for (const auto& entry : kKindNames) {
    if (entry.name == name) return entry.kind;
  }
  return std::nullopt;
}

Expected<void> validate_name(std::string_view name, std::string_view what, std::size_t max_length) {
  const auto fail = [&](std::string reason) {
    return Error{Errc::invalid_name, std::string(what) + " name '" + std::string(name) + "' " + reason};
  };
  if (name.empty()) return Error{Errc::invalid_name, std::string(what) + " name is empty"};
  if (name.size() > max_length) {
    return fail("is " + std::to_string(name.size()) + " characters long; the limit is " + std::to_string(max_length));
  }
  for (const char c : name) {
    if (!is_name_char(c)) {
      return fail("contains '" + std::string(1, c) + "'; allowed are letters, digits, '_' and '-'");
    }
  }
  return {};
}

Expected<void> require_kind(const SegmentName& name, SegmentKind kind) {
  if (name.kind() == kind) return {};
  const std::string_view noun = kind == SegmentKind::bytes ? "byte array" : kind == SegmentKind::condition ? "condition"
                                                                                                             : kind_name(kind);
  return Error{Errc::invalid_argument, "segment " + name.os_name() + " is not a " + std::string(noun) +
                                           " name (kind " + std::string(kind_name(name.kind())) + ")"};
}

SegmentName::SegmentName(std::string session, SegmentKind kind, std::string name)
    : session_(std::move(session)), kind_(kind), name_(std::move(name)) {
  // Built with append: g++ 12 at -O3 flags operator+ chains with a bogus
  // -Wrestrict (GCC bug 105651).
  std::string os_name(1, '/');
  os_name.append(session_prefix(session_)).append(kind_name(kind_)).append(1, '.').append(name_);
  os_name_ = std::move(os_name);
}

std::string SegmentName::session_prefix(std::string_view session) {
  return std::string(kPrefix) + std::string(session) + ".";
}

Expected<SegmentName> SegmentName::make(std::string_view session, SegmentKind kind, std::string_view name) {
  if (auto ok = validate_name(session, "session", kMaxSessionLength); !ok) return ok.error();
  if (auto ok = validate_name(name, std::string(kind_name(kind)), kMaxNameLength); !ok) return ok.error();
  return SegmentName(std::string(session), kind, std::string(name));
}

std::optional<SegmentName> SegmentName::parse(std::string_view os_name) {
  if (!os_name.empty() && os_name.front() == '/') os_name.remove_prefix(1);
  if (!os_name.starts_with(kPrefix)) return std::nullopt;
  os_name.remove_prefix(kPrefix.size());
  const auto first_dot = os_name.find('.');
  if (first_dot == std::string_view::npos) return std::nullopt;
  const auto session = os_name.substr(0, first_dot);
  const auto rest = os_name.substr(first_dot + 1);
  const auto second_dot = rest.find('.');
  if (second_dot == std::string_view::npos) return std::nullopt;
  const auto kind = kind_from_name(rest.substr(0, second_dot));
  if (!kind) return std::nullopt;
  auto made = make(session, *kind, rest.substr(second_dot + 1));
  if (!made) return std::nullopt;
  return std::move(made).value();
}

}  // namespace colony::shm
