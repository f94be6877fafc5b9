// Win32 shared memory through Boost.Interprocess's windows_shared_memory.
// A Windows named mapping has no owner uid or mode and vanishes with its last
// handle, so: "exclusive" is create_only, ownership is the session's (the
// object lives in the session's namespace), and remove() is a no-op because
// the object goes away when the last process closes it.
#include <boost/interprocess/mapped_region.hpp>
#include <boost/interprocess/windows_shared_memory.hpp>

#include "shared_memory_object.hpp"

namespace colony::shm::platform {
namespace {

namespace bip = boost::interprocess;

class WindowsSharedMemory final : public SharedMemoryObject {
 public:
  WindowsSharedMemory(bip::windows_shared_memory object, bip::mapped_region region)
      : object_(std::move(object)), region_(std::move(region)) {}
  void* address() const noexcept override { return region_.get_address(); }
  std::size_t size() const noexcept override { return region_.get_size(); }
  // A pagefile-backed mapping commits every page when it is created (the
  // commit charge fails the creation when there is none), so nothing is
  // left to reserve.
  bool reserved_in_full() const noexcept override { return true; }
  Expected<void> reserve(std::size_t, std::size_t) override { return {}; }

 private:
  bip::windows_shared_memory object_;  // keeps the mapping object alive
  bip::mapped_region region_;
};

std::string windows_name(const std::string& os_name) {
  // Drop the POSIX leading slash; backslashes are not allowed in our names.
  return os_name.empty() || os_name.front() != '/' ? os_name : os_name.substr(1);
}

}  // namespace

Expected<std::unique_ptr<SharedMemoryObject>> SharedMemoryObject::create_exclusive(const std::string& os_name,
                                                                                   std::size_t size, std::size_t) {
  try {
    bip::windows_shared_memory object(bip::create_only, windows_name(os_name).c_str(), bip::read_write,
                                      static_cast<bip::offset_t>(size));
    bip::mapped_region region(object, bip::read_write);
    return std::unique_ptr<SharedMemoryObject>(new WindowsSharedMemory(std::move(object), std::move(region)));
  } catch (const bip::interprocess_exception& e) {
    if (e.get_error_code() == bip::already_exists_error) {
      return Error{Errc::already_exists, "segment " + os_name + " already exists"};
    }
    return Error{Errc::os_error, "creating " + os_name + ": " + e.what()};
  }
}

Expected<std::unique_ptr<SharedMemoryObject>> SharedMemoryObject::open_existing(const std::string& os_name) {
  try {
    bip::windows_shared_memory object(bip::open_only, windows_name(os_name).c_str(), bip::read_write);
    bip::mapped_region region(object, bip::read_write);
    return std::unique_ptr<SharedMemoryObject>(new WindowsSharedMemory(std::move(object), std::move(region)));
  } catch (const bip::interprocess_exception& e) {
    if (e.get_error_code() == bip::not_found_error) {
      return Error{Errc::not_found, "segment " + os_name + " does not exist"};
    }
    return Error{Errc::os_error, "opening " + os_name + ": " + e.what()};
  }
}

bool SharedMemoryObject::remove(const std::string&) noexcept { return false; }

std::vector<std::string> SharedMemoryObject::list(std::string_view) { return {}; }

// Windows cannot list or inspect named mappings: nothing is ever found to
// clean, and a mapping vanishes with its last handle.
EntryOwner SharedMemoryObject::owner_of(const std::string&) { return {}; }

}  // namespace colony::shm::platform
