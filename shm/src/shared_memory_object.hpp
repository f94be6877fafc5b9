#pragma once
// Named shared-memory objects of the OS, created, opened, mapped, listed and
// removed: the layer behind Segment. Implemented in linux/ (shm_open, mmap) and
// windows/ (named file mappings) under this file's name, so no #ifdef reaches
// the segment logic.

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "colony/shm/error.hpp"
#include "colony/shm/segment.hpp"

namespace colony::shm::platform {

class SharedMemoryObject {
 public:
  // Creates the object exclusively, owner-only (0600 whatever the umask),
  // sized and mapped read-write. Fails with already_exists if the name is taken.
  static Expected<std::unique_ptr<SharedMemoryObject>> create_exclusive(const std::string& os_name,
                                                                        std::size_t size);
  // Opens and maps an existing object after checking that it belongs to this
  // user and has mode 0600; the mapping covers the object's current size.
  static Expected<std::unique_ptr<SharedMemoryObject>> open_existing(const std::string& os_name);
  static bool remove(const std::string& os_name) noexcept;
  // Whether the entry exists and belongs to this user, without opening it
  // (a symlink is not followed); description says what it is otherwise.
  static EntryOwner owner_of(const std::string& os_name);
  static std::vector<std::string> list(std::string_view prefix);

  virtual ~SharedMemoryObject() = default;
  virtual void* address() const noexcept = 0;
  virtual std::size_t size() const noexcept = 0;
};

}  // namespace colony::shm::platform
