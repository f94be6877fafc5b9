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
  // sized and mapped read-write. Fails with already_exists if the name is
  // taken, and with no_space if its first reserve_now bytes do not fit. The
  // pages beyond them are reserved later, by reserve(), where the platform
  // can do that without a signal on failure; where it cannot, every page is
  // reserved now and reserved_in_full() says so.
  static Expected<std::unique_ptr<SharedMemoryObject>> create_exclusive(const std::string& os_name,
                                                                        std::size_t size, std::size_t reserve_now);
  // Opens and maps an existing object after checking that it belongs to this
  // user and has mode 0600; the mapping covers the object's current size.
  static Expected<std::unique_ptr<SharedMemoryObject>> open_existing(const std::string& os_name);
  static bool remove(const std::string& os_name) noexcept;
  // Segment::outlives_its_processes.
  static bool outlives_its_processes() noexcept;
  // Whether the entry exists and belongs to this user, without opening it
  // (a symlink is not followed); description says what it is otherwise.
  static EntryOwner owner_of(const std::string& os_name);
  static std::vector<std::string> list(std::string_view prefix);

  virtual ~SharedMemoryObject() = default;
  virtual void* address() const noexcept = 0;
  virtual std::size_t size() const noexcept = 0;
  // What an opened object's size() is a multiple of: 1 where the system
  // keeps the exact size it was made with (Linux), a page where it keeps
  // whole pages (Windows under Wine; Windows itself keeps the exact size,
  // which is a multiple of 1 as well).
  virtual std::size_t size_granularity() const noexcept = 0;
  // Whether every page of an object this process created was reserved at its
  // creation; meaningless for an object it opened.
  virtual bool reserved_in_full() const noexcept = 0;
  // Reserves the pages of [offset, offset + length) of the mapping, so that
  // no later access to them can fault for want of memory: ok, or no_space
  // (nothing is signalled; pages reserved before the failure stay reserved).
  virtual Expected<void> reserve(std::size_t offset, std::size_t length) = 0;
};

}  // namespace colony::shm::platform
