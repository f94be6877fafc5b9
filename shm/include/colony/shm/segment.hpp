#pragma once
// A named segment: one OS shared-memory object, mapped, starting with a
// SegmentHeader. Segments are created exclusively with mode 0600 and are
// never adopted unless owner, mode, magic, version, kind and size all match.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "colony/shm/deadline.hpp"
#include "colony/shm/error.hpp"
#include "colony/shm/layout.hpp"
#include "colony/shm/names.hpp"
#include "colony/shm/process.hpp"

namespace colony::shm {

namespace platform {
class SharedMemoryObject;
}

// What a name in the shared-memory namespace is, seen without opening it.
struct EntryOwner {
  bool exists = false;
  bool ours = false;        // a plain object (or symlink) of this user
  std::string description;  // when not ours: "belongs to uid 1000", "is a directory"...
  std::uint64_t bytes = 0;  // memory it holds (allocated blocks, not its apparent size)
};

class Segment {
 public:
  // Creates the OS object exclusively (fails with already_exists), sizes it to
  // hold the header, a control block and data_size bytes at kDataOffset (or
  // just the header and control block when data_size is 0), and fills the
  // header. The segment is not READY: the creator initializes its control
  // block, then calls mark_ready(). If the creator dies first, openers get
  // creator_died and the segment is never used.
  //
  // Every page is reserved at creation (so what does not fit in /dev/shm is
  // no_space now), unless reserve_data says how many leading bytes of the data
  // to reserve: the header and control block are always reserved, and the
  // rest of the data must go through reserve_data() before any process
  // touches it. data_reserved_in_full() tells whether the platform reserved
  // it all anyway (Windows; Linux before 5.14).
  static Expected<Segment> create(const SegmentName& name, std::size_t data_size,
                                  std::optional<std::size_t> reserve_data = std::nullopt);

  // Opens and validates. Waits up to ready_deadline for READY.
  static Expected<Segment> open(const SegmentName& name, Deadline ready_deadline);

  // Unlinks the OS object. The mapping of every process stays valid until it
  // unmaps. Returns false when there was nothing to remove (always, where
  // the OS has no name to unlink: see outlives_its_processes); never throws.
  static bool remove(const SegmentName& name) noexcept;
  // Whether a segment outlives every process that maps it. Linux: yes, it
  // stays in /dev/shm until removed, which is why sessions remove theirs and
  // colony clean exists. Windows: no, a named mapping goes with its last
  // handle, so a crash of every process leaves nothing behind, and an opener
  // whose creator died before READY finds no segment at all (not_found, where
  // Linux says creator_died).
  static bool outlives_its_processes() noexcept;
  static bool remove_os_name(const char* os_name) noexcept;

  // OS names (with the leading slash) of the existing objects whose name,
  // without the slash, starts with prefix. Empty where the OS cannot list
  // shared memory (Windows): there, objects vanish with their last handle.
  static std::vector<std::string> list(std::string_view prefix);
  // Whether os_name exists and belongs to this user, without opening it.
  static EntryOwner owner_of(const std::string& os_name);

  Segment(Segment&&) noexcept;
  Segment& operator=(Segment&&) noexcept;
  ~Segment();

  void mark_ready() noexcept;

  const SegmentName& name() const noexcept { return name_; }
  SegmentHeader& header() const noexcept { return *static_cast<SegmentHeader*>(base_); }
  std::byte* base() const noexcept { return static_cast<std::byte*>(base_); }
  std::size_t size() const noexcept { return size_; }
  std::byte* control() const noexcept { return base() + kControlOffset; }
  std::byte* data() const noexcept { return base() + kDataOffset; }
  std::size_t data_size() const noexcept { return data_size_; }
  // Only meaningful in the process that created the segment.
  bool data_reserved_in_full() const noexcept;
  // Reserves the pages of data bytes [offset, offset + length) in this
  // process's mapping, faulting them in: ok, or no_space with /dev/shm's
  // figures (no signal; what was reserved before the failure stays).
  Expected<void> reserve_data(std::size_t offset, std::size_t length) const;
  // Who created it: the pid and its start time, for is_alive().
  ProcessIdentity creator() const noexcept { return {header().creator_pid, header().creator_start}; }

  // Bytes the OS object of a segment with data_size bytes of data occupies.
  static std::size_t total_size_for(std::size_t data_size) noexcept;

 private:
  Segment(SegmentName name, std::unique_ptr<platform::SharedMemoryObject> object, std::size_t data_size);

  SegmentName name_;
  std::unique_ptr<platform::SharedMemoryObject> object_;
  void* base_ = nullptr;
  std::size_t size_ = 0;
  std::size_t data_size_ = 0;
};

}  // namespace colony::shm
