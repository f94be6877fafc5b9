#pragma once
// What a foreign program does to a named OS object, with no Colony code in
// the way: map one and write into it (a stray write, or a peer of another
// build), or make one of its own under a Colony name. Implemented per
// platform, under this file's name in linux/ (shm_open, mmap) and windows/
// (named file mappings).

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

namespace colony::test {

// The whole object named os_name ("/colony.S.bytes.x"), mapped read-write.
class ForeignMapping {
 public:
  explicit ForeignMapping(const std::string& os_name);
  ~ForeignMapping();
  ForeignMapping(const ForeignMapping&) = delete;
  ForeignMapping& operator=(const ForeignMapping&) = delete;

  std::byte* at(std::size_t offset) const { return static_cast<std::byte*>(address_) + offset; }
  std::size_t size() const noexcept { return size_; }

 private:
  void* address_ = nullptr;
  std::size_t size_ = 0;
  std::intptr_t handle_ = 0;  // the platform's handle on the object, where it keeps one
};

// An object made by a foreign program under os_name, owner-only, holding
// bytes then zeros up to size. It exists while this lives (on Linux, until
// the test session removes it as well).
class ForeignObject {
 public:
  ForeignObject(const std::string& os_name, std::span<const std::byte> bytes, std::size_t size);
  ~ForeignObject();
  ForeignObject(const ForeignObject&) = delete;
  ForeignObject& operator=(const ForeignObject&) = delete;

 private:
  std::string os_name_;
  std::intptr_t handle_ = 0;
};

}  // namespace colony::test
