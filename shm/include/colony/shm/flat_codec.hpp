#pragma once
// A fast path for the flat built-in payloads: arithmetic values, strings and
// vectors of bytes or arithmetic values. It writes exactly what the cereal
// archives write (the value's bytes; or a 64-bit size, then the elements), so
// either side may use either path, but it constructs no cereal archive: their
// bookkeeping (pointer and version tables) cost about 20 ns per archive, three
// archives per message, more than the copy itself for small messages.
// Every other type goes through cereal.

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

namespace colony::shm {

template <class T>
struct FlatCodec {
  static constexpr bool enabled = false;
};

namespace flat_detail {

// What a failed decode reports; typed.hpp turns it into `undecodable`.
struct DecodeError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

inline void need(std::size_t wanted, std::size_t left) {
  if (wanted > left) {
    throw DecodeError("message truncated: " + std::to_string(wanted) + " bytes wanted, " + std::to_string(left) +
                      " left");
  }
}

template <class Element>
struct Sequence {
  static constexpr bool enabled = true;
  template <class Container>
  static std::size_t size(const Container& value) {
    return sizeof(std::uint64_t) + value.size() * sizeof(Element);
  }
  template <class Container>
  static void write(const Container& value, std::byte* out) {
    // Callers pass a buffer of size(value) >= 8 bytes; saying so silences
    // g++ 12's -Wnull-dereference on a vector(n).data() it cannot see through.
    if (out == nullptr) __builtin_unreachable();
    const std::uint64_t count = value.size();
    std::memcpy(out, &count, sizeof count);
    if (count != 0) std::memcpy(out + sizeof count, value.data(), value.size() * sizeof(Element));
  }
  template <class Container>
  static void read(std::span<const std::byte> in, Container& value) {
    need(sizeof(std::uint64_t), in.size());
    std::uint64_t count = 0;
    std::memcpy(&count, in.data(), sizeof count);
    const std::size_t left = in.size() - sizeof count;
    // The size field is untrusted: checked against the bytes present before
    // anything is allocated.
    if (count > left / sizeof(Element)) {
      throw DecodeError("size field " + std::to_string(count) + " exceeds the " + std::to_string(left) +
                        " bytes left in the message");
    }
    if (left != count * sizeof(Element)) {
      throw DecodeError(std::to_string(left - count * sizeof(Element)) + " bytes left over after decoding");
    }
    value.resize(static_cast<std::size_t>(count));
    if (count != 0) std::memcpy(value.data(), in.data() + sizeof count, left);
  }
};

}  // namespace flat_detail

template <class T>
  requires std::is_arithmetic_v<T>
struct FlatCodec<T> {
  static constexpr bool enabled = true;
  static std::size_t size(const T&) { return sizeof(T); }
  static void write(const T& value, std::byte* out) { std::memcpy(out, &value, sizeof value); }
  static void read(std::span<const std::byte> in, T& value) {
    flat_detail::need(sizeof(T), in.size());
    if (in.size() != sizeof(T)) {
      throw flat_detail::DecodeError(std::to_string(in.size() - sizeof(T)) + " bytes left over after decoding");
    }
    std::memcpy(&value, in.data(), sizeof value);
  }
};

template <>
struct FlatCodec<bool> {
  static constexpr bool enabled = false;  // cereal stores bool as one byte; keep its rules
};

template <>
struct FlatCodec<std::string> : flat_detail::Sequence<char> {};

template <>
struct FlatCodec<std::vector<std::byte>> : flat_detail::Sequence<std::byte> {};

template <class T>
  requires(std::is_arithmetic_v<T> && !std::is_same_v<T, bool>)
struct FlatCodec<std::vector<T>> : flat_detail::Sequence<T> {};

}  // namespace colony::shm
