#pragma once
// Every type that travels through a ring has a registered alias; the record's
// type tag is a 32-bit hash of the alias, so a receiver knows what it got
// before decoding a byte, and processes built separately agree without
// exchanging a table.
//
//   struct Point { int x, y; template <class A> void serialize(A& a) { a(x, y); } };
//   COLONY_REGISTER_TYPE(Point, "app.point")
//
// The macro is used at global namespace scope, once per type (in a header
// that both sides include). Two aliases with the same hash, or one alias for
// two types, stop the process at startup with a message: a silent mix-up
// would decode one type's bytes as another.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <typeinfo>
#include <vector>

namespace colony::shm {

// FNV-1a; 0 is reserved for padding records.
constexpr std::uint32_t type_tag_for(std::string_view alias) noexcept {
  std::uint32_t hash = 2166136261u;
  for (const char c : alias) {
    hash ^= static_cast<std::uint8_t>(c);
    hash *= 16777619u;
  }
  return hash == 0 ? 1 : hash;
}

// Specialized by COLONY_REGISTER_TYPE; an unregistered type does not compile.
template <class T>
struct TypeAlias;

template <class T>
concept RegisteredType = requires {
  { TypeAlias<T>::name } -> std::convertible_to<std::string_view>;
  { TypeAlias<T>::tag } -> std::convertible_to<std::uint32_t>;
};

class TypeRegistry {
 public:
  // Records alias -> tag for diagnostics; aborts on a collision.
  static bool add(std::string_view alias, std::uint32_t tag, const std::type_info& type);
  // The alias registered in this process for a tag, if any.
  static std::optional<std::string> alias_of(std::uint32_t tag);
  // "app.point" or "unregistered type tag 0x1234abcd".
  static std::string describe(std::uint32_t tag);
};

}  // namespace colony::shm

#define COLONY_TYPE_CONCAT2(a, b) a##b
#define COLONY_TYPE_CONCAT(a, b) COLONY_TYPE_CONCAT2(a, b)
#define COLONY_REGISTER_TYPE(Type, alias)                                                       \
  template <>                                                                                   \
  struct colony::shm::TypeAlias<Type> {                                                         \
    static constexpr std::string_view name = alias;                                             \
    static constexpr std::uint32_t tag = ::colony::shm::type_tag_for(alias);                    \
  };                                                                                            \
  [[maybe_unused]] static const bool COLONY_TYPE_CONCAT(colony_type_registered_, __COUNTER__) = \
      ::colony::shm::TypeRegistry::add(alias, ::colony::shm::type_tag_for(alias), typeid(Type));

// Types every Colony process understands out of the box.
COLONY_REGISTER_TYPE(bool, "colony.bool")
COLONY_REGISTER_TYPE(std::int32_t, "colony.i32")
COLONY_REGISTER_TYPE(std::int64_t, "colony.i64")
COLONY_REGISTER_TYPE(std::uint32_t, "colony.u32")
COLONY_REGISTER_TYPE(std::uint64_t, "colony.u64")
COLONY_REGISTER_TYPE(double, "colony.f64")
COLONY_REGISTER_TYPE(std::string, "colony.string")
COLONY_REGISTER_TYPE(std::vector<std::byte>, "colony.bytes")
COLONY_REGISTER_TYPE(std::vector<std::uint8_t>, "colony.u8s")
