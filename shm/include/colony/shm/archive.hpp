#pragma once
// Binary cereal archives that read and write spans of shared memory directly.
//
// SpanOutputArchive writes into a fixed span (the ring's claimed payload), or
// only counts bytes when given no span: the typed layer counts first, claims
// exactly that much, then serializes in place, so a message is copied once in.
//
// BoundedInputArchive reads from a span and caps every size field by the bytes
// actually left: cereal itself trusts a container's size and resizes to it
// before reading the elements, so a forged size in shared memory would
// otherwise allocate gigabytes. Every element takes at least one byte, so a
// size larger than the bytes left is a lie and is refused before any
// allocation. Running out of bytes throws cereal::Exception, which the typed
// layer turns into an undecodable-message result.

#include <cereal/cereal.hpp>
#include <cereal/details/traits.hpp>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <vector>

namespace colony::shm {

class SpanOutputArchive : public cereal::OutputArchive<SpanOutputArchive, cereal::AllowEmptyClassElision> {
 public:
  // Counting mode: records sizes, writes nothing.
  SpanOutputArchive() : OutputArchive(this) {}
  explicit SpanOutputArchive(std::span<std::byte> out) : OutputArchive(this), out_(out), counting_(false) {}

  void saveBinary(const void* data, std::size_t size) {
    if (size == 0) return;  // an empty container's data() may be null: no memcpy
    if (!counting_) {
      if (size > out_.size() - written_) {
        throw cereal::Exception("message grew while it was being serialized");
      }
      std::memcpy(out_.data() + written_, data, size);
    }
    written_ += size;
  }
  std::size_t bytes_written() const noexcept { return written_; }

 private:
  std::span<std::byte> out_;
  std::size_t written_ = 0;
  bool counting_ = true;
};

class BoundedInputArchive : public cereal::InputArchive<BoundedInputArchive, cereal::AllowEmptyClassElision> {
 public:
  explicit BoundedInputArchive(std::span<const std::byte> in) : InputArchive(this), in_(in) {}

  void loadBinary(void* data, std::size_t size) {
    if (size > remaining()) {
      throw cereal::Exception("message truncated: " + std::to_string(size) + " bytes wanted, " +
                              std::to_string(remaining()) + " left");
    }
    if (size == 0) return;
    std::memcpy(data, in_.data() + read_, size);
    read_ += size;
  }
  std::size_t remaining() const noexcept { return in_.size() - read_; }

 private:
  std::span<const std::byte> in_;
  std::size_t read_ = 0;
};

// -- arithmetic types and raw binary blocks --------------------------------
template <class T>
inline std::enable_if_t<std::is_arithmetic_v<T>> CEREAL_SAVE_FUNCTION_NAME(SpanOutputArchive& ar, const T& value) {
  ar.saveBinary(std::addressof(value), sizeof(value));
}
template <class T>
inline std::enable_if_t<std::is_arithmetic_v<T> && !std::is_same_v<T, bool>> CEREAL_LOAD_FUNCTION_NAME(
    BoundedInputArchive& ar, T& value) {
  ar.loadBinary(std::addressof(value), sizeof(value));
}
// A bool is one byte, 0 or 1. Any other byte (from a corrupt or forged
// record) is refused: copied into a bool it would be undefined behaviour.
inline void CEREAL_LOAD_FUNCTION_NAME(BoundedInputArchive& ar, bool& value) {
  std::uint8_t byte = 0;
  ar.loadBinary(&byte, 1);
  if (byte > 1) throw cereal::Exception("a bool field holds " + std::to_string(byte) + ", not 0 or 1");
  value = byte == 1;
}
template <class T>
inline void CEREAL_SAVE_FUNCTION_NAME(SpanOutputArchive& ar, const cereal::BinaryData<T>& block) {
  ar.saveBinary(block.data, static_cast<std::size_t>(block.size));
}
template <class T>
inline void CEREAL_LOAD_FUNCTION_NAME(BoundedInputArchive& ar, cereal::BinaryData<T>& block) {
  ar.loadBinary(block.data, static_cast<std::size_t>(block.size));
}

// -- names are not stored; sizes are capped on load --------------------------
template <class Archive, class T>
inline CEREAL_ARCHIVE_RESTRICT(BoundedInputArchive, SpanOutputArchive)
    CEREAL_SERIALIZE_FUNCTION_NAME(Archive& ar, cereal::NameValuePair<T>& pair) {
  ar(pair.value);
}
template <class T>
inline void CEREAL_SAVE_FUNCTION_NAME(SpanOutputArchive& ar, const cereal::SizeTag<T>& tag) {
  ar(tag.size);
}
template <class T>
inline void CEREAL_LOAD_FUNCTION_NAME(BoundedInputArchive& ar, cereal::SizeTag<T>& tag) {
  ar(tag.size);
  if (static_cast<std::size_t>(tag.size) > ar.remaining()) {
    throw cereal::Exception("size field " + std::to_string(static_cast<std::size_t>(tag.size)) +
                            " exceeds the " + std::to_string(ar.remaining()) + " bytes left in the message");
  }
}

// -- raw bytes --------------------------------------------------------------
// std::byte is an enum, so cereal's vector support would move a
// std::vector<std::byte> one element per call; it is the common payload, so
// it goes as one block. Same encoding: a size, then the bytes.
template <class Allocator>
inline void CEREAL_SAVE_FUNCTION_NAME(SpanOutputArchive& ar, const std::vector<std::byte, Allocator>& bytes) {
  ar(cereal::make_size_tag(static_cast<cereal::size_type>(bytes.size())));
  ar.saveBinary(bytes.data(), bytes.size());
}
template <class Allocator>
inline void CEREAL_LOAD_FUNCTION_NAME(BoundedInputArchive& ar, std::vector<std::byte, Allocator>& bytes) {
  cereal::size_type size = 0;
  ar(cereal::make_size_tag(size));  // capped by the bytes left, before resize
  bytes.resize(static_cast<std::size_t>(size));
  ar.loadBinary(bytes.data(), bytes.size());
}

}  // namespace colony::shm

CEREAL_REGISTER_ARCHIVE(colony::shm::SpanOutputArchive)
CEREAL_REGISTER_ARCHIVE(colony::shm::BoundedInputArchive)
CEREAL_SETUP_ARCHIVE_TRAITS(colony::shm::BoundedInputArchive, colony::shm::SpanOutputArchive)
