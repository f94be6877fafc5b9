#pragma once
// colony::Value: a message whose shape is not known at compile time. Null,
// bool, integer (64-bit signed), floating point, string, bytes, array, map
// (string keys, sorted). It travels through channels, mailboxes and
// properties like any registered type ("colony.value"), and converts to and
// from JSON, so that the CLI, shell scripts and C++ workers can talk.
//
//   colony::Value job = colony::Value::Map{{"file", "a.txt"}, {"lines", 3}};
//   worker.post_message(job);
//   auto parsed = colony::Value::from_json(R"({"file": "a.txt", "lines": 3})");
//   parsed["lines"].as_int();   // 3
//
// JSON has no bytes: they are written as {"$bytes": "<base64>"} and read back
// as bytes. Non-finite floating point numbers are written as null.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <cereal/cereal.hpp>

#include "colony/shm/type_registry.hpp"
#include "colony/worker/errors.hpp"

namespace colony {

class Value;

// What Value's accessors throw: a WorkerError (wrong_type, or not_found for
// an index or key that is not there) that also says which value refused, so
// that code knowing where that value sits can say so (Methods names the
// argument of a call). The address is for comparing only, never to follow:
// the value may be gone by the time the error is caught.
class ValueError : public WorkerError {
 public:
  ValueError(WorkerErrc code, const std::string& message, const Value* value,
             std::optional<std::size_t> missing_index = std::nullopt)
      : WorkerError(code, message), value_(value), missing_index_(missing_index) {}
  const Value* value() const noexcept { return value_; }
  // operator[](index) past the end of an array: the index asked for.
  std::optional<std::size_t> missing_index() const noexcept { return missing_index_; }

 private:
  const Value* value_;
  std::optional<std::size_t> missing_index_;
};

class Value {
 public:
  using Array = std::vector<Value>;
  using Map = std::map<std::string, Value, std::less<>>;
  using Bytes = std::vector<std::byte>;
  enum class Kind : std::uint8_t { null = 0, boolean, integer, floating, string, bytes, array, map };

  // Nesting deeper than this is refused when decoding (JSON or a message),
  // so hostile input cannot exhaust the stack.
  static constexpr int kMaxDepth = 128;

  Value() = default;
  Value(std::nullptr_t) {}  // NOLINT: implicit by design, as are the others
  Value(bool value) : data_(value) {}                                 // NOLINT
  Value(int value) : data_(std::int64_t{value}) {}                    // NOLINT
  Value(long value) : data_(static_cast<std::int64_t>(value)) {}      // NOLINT
  Value(long long value) : data_(static_cast<std::int64_t>(value)) {} // NOLINT
  Value(unsigned value) : data_(std::int64_t{value}) {}               // NOLINT
  // Throw WorkerError(wrong_type) above INT64_MAX: integers are signed 64-bit.
  Value(unsigned long value);                                         // NOLINT
  Value(unsigned long long value);                                    // NOLINT
  Value(double value) : data_(value) {}                               // NOLINT
  Value(const char* value) : data_(std::string(value)) {}             // NOLINT
  Value(std::string value) : data_(std::move(value)) {}               // NOLINT
  Value(std::string_view value) : data_(std::string(value)) {}        // NOLINT
  Value(Bytes value) : data_(std::move(value)) {}                     // NOLINT
  Value(Array value) : data_(std::move(value)) {}                     // NOLINT
  Value(Map value) : data_(std::move(value)) {}                       // NOLINT

  Kind kind() const noexcept { return static_cast<Kind>(data_.index()); }
  bool is_null() const noexcept { return kind() == Kind::null; }

  // Each throws ValueError(wrong_type) naming what it holds instead:
  // "expected an integer, got the string \"x\"".
  bool as_bool() const;
  std::int64_t as_int() const;
  double as_double() const;  // an integer converts
  const std::string& as_string() const;
  const Bytes& as_bytes() const;
  const Array& as_array() const;
  Array& as_array();
  const Map& as_map() const;
  Map& as_map();

  // Element access; const versions throw ValueError(not_found) when absent.
  const Value& operator[](std::size_t index) const;
  const Value& operator[](std::string_view key) const;
  Value& operator[](std::string_view key);  // inserts null into a map (or turns null into a map)
  bool contains(std::string_view key) const;
  std::size_t size() const noexcept;  // elements of an array or map, bytes of a string or bytes; else 0

  friend bool operator==(const Value&, const Value&) = default;

  // How deep arrays and maps nest in this value, counted as the decoders
  // count: 0 for a scalar or an empty array or map, 1 for [1] or [[]]. A
  // value deeper than kMaxDepth does not decode.
  int depth() const;

  // Throws WorkerError(undecodable) with the position of the first problem.
  static Value from_json(std::string_view text);
  // indent < 0: one line.
  std::string to_json(int indent = -1) const;

  // "integer", "string", ...; with an article: "an integer", "a string".
  static std::string_view kind_name(Kind kind) noexcept;
  static std::string_view kind_with_article(Kind kind) noexcept;
  // The value for a person, short: "the string \"x\"", "the integer 5",
  // "an array of 2", "null" (long strings are cut).
  std::string describe() const;

  template <class A>
  void save(A& archive) const;
  template <class A>
  void load(A& archive);

 private:
  // Elements of an array reserved before any decodes (the rest as they do).
  static constexpr std::size_t kReservedElements = 64;
  using Data = std::variant<std::monostate, bool, std::int64_t, double, std::string, Bytes, Array, Map>;
  [[noreturn]] void wrong(Kind wanted) const;
  template <class A>
  void load_at_depth(A& archive, int depth);
  Data data_;
};

// --- serialization: a kind byte, then the payload ----------------------------

template <class A>
void Value::save(A& archive) const {
  archive(static_cast<std::uint8_t>(kind()));
  switch (kind()) {
    case Kind::null: break;
    case Kind::boolean: archive(std::get<bool>(data_)); break;
    case Kind::integer: archive(std::get<std::int64_t>(data_)); break;
    case Kind::floating: archive(std::get<double>(data_)); break;
    case Kind::string: archive(std::get<std::string>(data_)); break;
    case Kind::bytes: archive(std::get<Bytes>(data_)); break;
    case Kind::array: {
      const auto& array = std::get<Array>(data_);
      archive(cereal::make_size_tag(static_cast<cereal::size_type>(array.size())));
      for (const auto& element : array) element.save(archive);
      break;
    }
    case Kind::map: {
      const auto& map = std::get<Map>(data_);
      archive(cereal::make_size_tag(static_cast<cereal::size_type>(map.size())));
      for (const auto& [key, element] : map) {
        archive(key);
        element.save(archive);
      }
      break;
    }
  }
}

template <class A>
void Value::load(A& archive) {
  load_at_depth(archive, 0);
}

template <class A>
void Value::load_at_depth(A& archive, int depth) {
  if (depth > kMaxDepth) throw cereal::Exception("value nested deeper than " + std::to_string(kMaxDepth));
  std::uint8_t tag = 0;
  archive(tag);
  switch (static_cast<Kind>(tag)) {
    case Kind::null: data_ = std::monostate{}; break;
    case Kind::boolean: { bool v = false; archive(v); data_ = v; break; }
    case Kind::integer: { std::int64_t v = 0; archive(v); data_ = v; break; }
    case Kind::floating: { double v = 0; archive(v); data_ = v; break; }
    case Kind::string: { std::string v; archive(v); data_ = std::move(v); break; }
    case Kind::bytes: { Bytes v; archive(v); data_ = std::move(v); break; }
    case Kind::array: {
      cereal::size_type count = 0;
      archive(cereal::make_size_tag(count));  // capped by the bytes left (each element takes one at least)
      // Grown as elements decode, never sized to the count up front: each of
      // the kMaxDepth levels of nested arrays may claim as many elements as
      // bytes are left, and sizing every level would allocate depth x size x
      // sizeof(Value) (gigabytes for one large message) before a byte of the
      // elements is checked.
      Array array;
      array.reserve(static_cast<std::size_t>(std::min<cereal::size_type>(count, kReservedElements)));
      for (cereal::size_type i = 0; i < count; ++i) array.emplace_back().load_at_depth(archive, depth + 1);
      data_ = std::move(array);
      break;
    }
    case Kind::map: {
      cereal::size_type count = 0;
      archive(cereal::make_size_tag(count));
      Map map;
      for (cereal::size_type i = 0; i < count; ++i) {
        std::string key;
        archive(key);
        Value element;
        element.load_at_depth(archive, depth + 1);
        map.insert_or_assign(std::move(key), std::move(element));
      }
      data_ = std::move(map);
      break;
    }
    default: throw cereal::Exception("unknown value kind " + std::to_string(tag));
  }
}

}  // namespace colony

COLONY_REGISTER_TYPE(colony::Value, "colony.value")
