#include "colony/worker/value.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>

namespace colony {
namespace {

using Json = nlohmann::json;

constexpr char kBase64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

std::string to_base64(const Value::Bytes& bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    const auto n = (std::to_integer<unsigned>(bytes[i]) << 16) | (std::to_integer<unsigned>(bytes[i + 1]) << 8) |
                   std::to_integer<unsigned>(bytes[i + 2]);
    for (int shift = 18; shift >= 0; shift -= 6) out += kBase64[(n >> shift) & 63];
  }
  if (i < bytes.size()) {
    const bool two = i + 1 < bytes.size();
    const auto n = (std::to_integer<unsigned>(bytes[i]) << 16) | (two ? std::to_integer<unsigned>(bytes[i + 1]) << 8 : 0);
    out += kBase64[(n >> 18) & 63];
    out += kBase64[(n >> 12) & 63];
    out += two ? kBase64[(n >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

Value::Bytes from_base64(std::string_view text) {
  if (text.size() % 4 != 0) throw WorkerError(WorkerErrc::undecodable, "$bytes: base64 length is not a multiple of 4");
  const auto decode = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  Value::Bytes out;
  out.reserve(text.size() / 4 * 3);
  for (std::size_t i = 0; i < text.size(); i += 4) {
    unsigned n = 0;
    int padding = 0;
    for (std::size_t j = 0; j < 4; ++j) {
      const char c = text[i + j];
      if (c == '=' && i + 4 == text.size() && j >= 2) {
        ++padding;
        n <<= 6;
        continue;
      }
      const int d = decode(c);
      if (d < 0 || padding > 0) throw WorkerError(WorkerErrc::undecodable, "$bytes: not base64");
      n = (n << 6) | static_cast<unsigned>(d);
    }
    out.push_back(static_cast<std::byte>(n >> 16));
    if (padding < 2) out.push_back(static_cast<std::byte>((n >> 8) & 0xff));
    if (padding < 1) out.push_back(static_cast<std::byte>(n & 0xff));
  }
  return out;
}

Value from_json_value(const Json& json, int depth) {
  if (depth > Value::kMaxDepth) {
    throw WorkerError(WorkerErrc::undecodable, "JSON nested deeper than " + std::to_string(Value::kMaxDepth));
  }
  switch (json.type()) {
    case Json::value_t::null: return Value();
    case Json::value_t::boolean: return Value(json.get<bool>());
    case Json::value_t::number_integer: return Value(json.get<std::int64_t>());
    case Json::value_t::number_unsigned: {
      const auto value = json.get<std::uint64_t>();
      if (value <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
        return Value(static_cast<std::int64_t>(value));
      }
      return Value(static_cast<double>(value));
    }
    case Json::value_t::number_float: return Value(json.get<double>());
    case Json::value_t::string: return Value(json.get_ref<const std::string&>());
    case Json::value_t::array: {
      Value::Array array;
      array.reserve(json.size());
      for (const auto& element : json) array.push_back(from_json_value(element, depth + 1));
      return Value(std::move(array));
    }
    case Json::value_t::object: {
      if (json.size() == 1 && json.contains("$bytes") && json["$bytes"].is_string()) {
        return Value(from_base64(json["$bytes"].get_ref<const std::string&>()));
      }
      Value::Map map;
      for (const auto& [key, element] : json.items()) map.emplace(key, from_json_value(element, depth + 1));
      return Value(std::move(map));
    }
    default: throw WorkerError(WorkerErrc::undecodable, "JSON value of an unsupported type");
  }
}

Json to_json_value(const Value& value) {
  switch (value.kind()) {
    case Value::Kind::null: return nullptr;
    case Value::Kind::boolean: return value.as_bool();
    case Value::Kind::integer: return value.as_int();
    case Value::Kind::floating: {
      const double d = value.as_double();
      return std::isfinite(d) ? Json(d) : Json(nullptr);
    }
    case Value::Kind::string: return value.as_string();
    case Value::Kind::bytes: return Json{{"$bytes", to_base64(value.as_bytes())}};
    case Value::Kind::array: {
      Json array = Json::array();
      for (const auto& element : value.as_array()) array.push_back(to_json_value(element));
      return array;
    }
    case Value::Kind::map: {
      Json object = Json::object();
      for (const auto& [key, element] : value.as_map()) object[key] = to_json_value(element);
      return object;
    }
  }
  return nullptr;
}

}  // namespace

Value::Value(unsigned long value) {
  if (value > static_cast<unsigned long>(std::numeric_limits<std::int64_t>::max())) {
    throw WorkerError(WorkerErrc::wrong_type, std::to_string(value) + " does not fit a 64-bit signed integer");
  }
  data_ = static_cast<std::int64_t>(value);
}

Value::Value(unsigned long long value) : Value(static_cast<unsigned long>(value)) {}

std::string_view Value::kind_name(Kind kind) noexcept {
  switch (kind) {
    case Kind::null: return "null";
    case Kind::boolean: return "bool";
    case Kind::integer: return "integer";
    case Kind::floating: return "floating point";
    case Kind::string: return "string";
    case Kind::bytes: return "bytes";
    case Kind::array: return "array";
    case Kind::map: return "map";
  }
  return "unknown";
}

std::string_view Value::kind_with_article(Kind kind) noexcept {
  switch (kind) {
    case Kind::null: return "null";
    case Kind::boolean: return "a bool";
    case Kind::integer: return "an integer";
    case Kind::floating: return "a floating point number";
    case Kind::string: return "a string";
    case Kind::bytes: return "bytes";
    case Kind::array: return "an array";
    case Kind::map: return "a map";
  }
  return "unknown";
}

std::string Value::describe() const {
  // Long enough to recognize a value, short enough for one line of an error.
  constexpr std::size_t kShown = 40;
  switch (kind()) {
    case Kind::null: return "null";
    case Kind::boolean: return as_bool() ? "the bool true" : "the bool false";
    case Kind::integer: return "the integer " + std::to_string(as_int());
    case Kind::floating: {
      const double number = std::get<double>(data_);
      if (std::isnan(number)) return "the floating point number NaN";
      if (std::isinf(number)) return number > 0 ? "the floating point number infinity" : "the floating point number -infinity";
      return "the floating point number " + to_json();
    }
    case Kind::string: {
      const std::string& text = as_string();
      if (text.size() <= kShown) return "the string " + to_json();
      return "the string " + Value(text.substr(0, kShown)).to_json() + "... (" + std::to_string(text.size()) + " bytes)";
    }
    case Kind::bytes: return std::to_string(as_bytes().size()) + " bytes";
    case Kind::array: return "an array of " + std::to_string(as_array().size());
    case Kind::map: return "a map of " + std::to_string(as_map().size());
  }
  return "an unknown value";
}

void Value::wrong(Kind wanted) const {
  throw ValueError(WorkerErrc::wrong_type, "expected " + std::string(kind_with_article(wanted)) + ", got " + describe(), this);
}

bool Value::as_bool() const {
  if (kind() != Kind::boolean) wrong(Kind::boolean);
  return std::get<bool>(data_);
}
std::int64_t Value::as_int() const {
  if (kind() != Kind::integer) wrong(Kind::integer);
  return std::get<std::int64_t>(data_);
}
double Value::as_double() const {
  if (kind() == Kind::integer) return static_cast<double>(std::get<std::int64_t>(data_));
  if (kind() != Kind::floating) wrong(Kind::floating);
  return std::get<double>(data_);
}
const std::string& Value::as_string() const {
  if (kind() != Kind::string) wrong(Kind::string);
  return std::get<std::string>(data_);
}
const Value::Bytes& Value::as_bytes() const {
  if (kind() != Kind::bytes) wrong(Kind::bytes);
  return std::get<Bytes>(data_);
}
const Value::Array& Value::as_array() const {
  if (kind() != Kind::array) wrong(Kind::array);
  return std::get<Array>(data_);
}
Value::Array& Value::as_array() {
  if (kind() != Kind::array) wrong(Kind::array);
  return std::get<Array>(data_);
}
const Value::Map& Value::as_map() const {
  if (kind() != Kind::map) wrong(Kind::map);
  return std::get<Map>(data_);
}
Value::Map& Value::as_map() {
  if (kind() != Kind::map) wrong(Kind::map);
  return std::get<Map>(data_);
}

const Value& Value::operator[](std::size_t index) const {
  const auto& array = as_array();
  if (index >= array.size()) {
    throw ValueError(WorkerErrc::not_found,
                     "index " + std::to_string(index) + " is past the end of an array of " + std::to_string(array.size()),
                     this, index);
  }
  return array[index];
}

const Value& Value::operator[](std::string_view key) const {
  const auto& map = as_map();
  const auto found = map.find(key);
  if (found == map.end()) throw ValueError(WorkerErrc::not_found, "no key '" + std::string(key) + "' in the map", this);
  return found->second;
}

Value& Value::operator[](std::string_view key) {
  if (is_null()) data_ = Map{};
  auto& map = as_map();
  const auto found = map.find(key);
  if (found != map.end()) return found->second;
  return map.emplace(std::string(key), Value()).first->second;
}

bool Value::contains(std::string_view key) const {
  return kind() == Kind::map && std::get<Map>(data_).contains(key);
}

std::size_t Value::size() const noexcept {
  switch (kind()) {
    case Kind::string: return std::get<std::string>(data_).size();
    case Kind::bytes: return std::get<Bytes>(data_).size();
    case Kind::array: return std::get<Array>(data_).size();
    case Kind::map: return std::get<Map>(data_).size();
    default: return 0;
  }
}

int Value::depth() const {
  // Without recursion: a value built in C++ may nest deeper than any stack.
  int deepest = 0;
  std::vector<std::pair<const Value*, int>> pending{{this, 0}};
  while (!pending.empty()) {
    const auto [value, level] = pending.back();
    pending.pop_back();
    deepest = std::max(deepest, level);
    if (value->kind() == Kind::array) {
      for (const auto& element : std::get<Array>(value->data_)) pending.emplace_back(&element, level + 1);
    } else if (value->kind() == Kind::map) {
      for (const auto& [key, element] : std::get<Map>(value->data_)) pending.emplace_back(&element, level + 1);
    }
  }
  return deepest;
}

Value Value::from_json(std::string_view text) {
  Json json;
  try {
    json = Json::parse(text);
  } catch (const Json::exception& e) {
    // Not only parse_error: a number too large for a double ("1e999") is an
    // out_of_range. e.what() reads "[json.exception.parse_error.101] parse
    // error at line 1, column 5: ..." or "[...out_of_range.406] number overflow ..."
    std::string message = e.what();
    if (const auto cut = message.find("] "); cut != std::string::npos) message = message.substr(cut + 2);
    throw WorkerError(WorkerErrc::undecodable, "malformed JSON: " + message);
  }
  return from_json_value(json, 0);
}

std::string Value::to_json(int indent) const {
  // Strings that are not UTF-8 (any bytes may travel in a string) are written
  // with U+FFFD where they break, never as invalid JSON.
  return to_json_value(*this).dump(indent, ' ', false, Json::error_handler_t::replace);
}

}  // namespace colony
