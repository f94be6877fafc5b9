// Named shared memory on Windows: pagefile-backed file mappings in the
// session's Local\ namespace, created exclusively and owner-only.
//
// A named mapping has no file behind it: it lives while some process holds a
// handle to it or a view of it, and vanishes with the last. So a segment
// lasts as long as one process of its session maps it, a crash of every
// process leaves nothing behind, and there is nothing to remove: remove()
// reports false and colony clean finds nothing (list() is empty).
#include <windows.h>

#include "mapping_registry.hpp"
#include "owner_only.hpp"
#include "shared_memory_object.hpp"

namespace colony::shm::platform {
namespace {

// Wine keeps a mapping's size in whole pages, and Windows exactly: sizes are
// reported rounded up to pages on both.
inline constexpr std::size_t kPage = 4096;

class WindowsSharedMemory final : public SharedMemoryObject {
 public:
  WindowsSharedMemory(HANDLE mapping, void* view, std::size_t size, const std::string& os_name)
      : mapping_(mapping), view_(view), size_(size) {
    record_mapping(view_, size_, os_name);
  }
  WindowsSharedMemory(const WindowsSharedMemory&) = delete;
  WindowsSharedMemory& operator=(const WindowsSharedMemory&) = delete;
  ~WindowsSharedMemory() override {
    forget_mapping(view_);
    ::UnmapViewOfFile(view_);
    ::CloseHandle(mapping_);
  }
  void* address() const noexcept override { return view_; }
  std::size_t size() const noexcept override { return size_; }
  std::size_t size_granularity() const noexcept override { return kPage; }
  // A pagefile-backed mapping without SEC_RESERVE commits every page when it
  // is created (the creation fails when the commit limit is reached), so
  // nothing is left to reserve.
  bool reserved_in_full() const noexcept override { return true; }
  Expected<void> reserve(std::size_t, std::size_t) override { return {}; }

 private:
  HANDLE mapping_;
  void* view_;
  std::size_t size_;
};

Error windows_failure(const std::string& what, const std::string& os_name, DWORD code) {
  const int errno_value = errno_of_windows_error(code);
  Error error = os_error(what + " " + os_name, errno_value);
  error.message = what + " " + os_name + ": " + describe_windows_error(code);
  return error;
}

// The size the mapping was created with, in whole pages (a view may be
// larger: its size is rounded up to the allocation granularity): ntdll's
// NtQuerySection, which Win32 has no wrapper for.
std::size_t section_size(HANDLE mapping) noexcept {
  struct SectionBasicInformation {
    PVOID base_address;
    ULONG allocation_attributes;
    LARGE_INTEGER maximum_size;
  };
  using Query = LONG(WINAPI*)(HANDLE, int, PVOID, SIZE_T, PSIZE_T);
  static const auto query = reinterpret_cast<Query>(
      reinterpret_cast<void*>(::GetProcAddress(::GetModuleHandleW(L"ntdll.dll"), "NtQuerySection")));
  SectionBasicInformation info{};
  if (query == nullptr || query(mapping, 0, &info, sizeof(info), nullptr) != 0) return 0;
  const auto exact = static_cast<std::size_t>(info.maximum_size.QuadPart);
  return (exact + kPage - 1) / kPage * kPage;
}

}  // namespace

Expected<std::unique_ptr<SharedMemoryObject>> SharedMemoryObject::create_exclusive(const std::string& os_name,
                                                                                   std::size_t size, std::size_t) {
  const std::wstring name = local_object_name(os_name);
  const auto size64 = static_cast<std::uint64_t>(size);
  HANDLE mapping = ::CreateFileMappingW(INVALID_HANDLE_VALUE, owner_only_attributes(), PAGE_READWRITE,
                                        static_cast<DWORD>(size64 >> 32), static_cast<DWORD>(size64), name.c_str());
  if (mapping == nullptr) return windows_failure("creating", os_name, ::GetLastError());
  if (::GetLastError() == ERROR_ALREADY_EXISTS) {
    // CreateFileMapping opened someone else's object: not ours to use.
    ::CloseHandle(mapping);
    return Error{Errc::already_exists, "segment " + os_name + " already exists"};
  }
  void* view = ::MapViewOfFile(mapping, FILE_MAP_ALL_ACCESS, 0, 0, size);
  if (view == nullptr) {
    const DWORD code = ::GetLastError();
    ::CloseHandle(mapping);
    return windows_failure("mapping", os_name, code);
  }
  return std::unique_ptr<SharedMemoryObject>(new WindowsSharedMemory(mapping, view, size, os_name));
}

Expected<std::unique_ptr<SharedMemoryObject>> SharedMemoryObject::open_existing(const std::string& os_name) {
  const std::wstring name = local_object_name(os_name);
  HANDLE mapping = ::OpenFileMappingW(FILE_MAP_ALL_ACCESS | READ_CONTROL, FALSE, name.c_str());
  if (mapping == nullptr) {
    const DWORD code = ::GetLastError();
    if (code == ERROR_FILE_NOT_FOUND) return Error{Errc::not_found, "segment " + os_name + " does not exist"};
    if (code == ERROR_ACCESS_DENIED) {
      return Error{Errc::not_permitted, "segment " + os_name + " belongs to another user"};
    }
    return windows_failure("opening", os_name, code);
  }
  if (!owned_by_this_user(mapping)) {
    ::CloseHandle(mapping);
    return Error{Errc::foreign_owner, "segment " + os_name + " is not owned by this user: never adopted"};
  }
  void* view = ::MapViewOfFile(mapping, FILE_MAP_ALL_ACCESS, 0, 0, 0);
  if (view == nullptr) {
    const DWORD code = ::GetLastError();
    ::CloseHandle(mapping);
    return windows_failure("mapping", os_name, code);
  }
  return std::unique_ptr<SharedMemoryObject>(new WindowsSharedMemory(mapping, view, section_size(mapping), os_name));
}

bool SharedMemoryObject::outlives_its_processes() noexcept { return false; }

bool SharedMemoryObject::remove(const std::string&) noexcept { return false; }

std::vector<std::string> SharedMemoryObject::list(std::string_view) { return {}; }

EntryOwner SharedMemoryObject::owner_of(const std::string&) { return {}; }

}  // namespace colony::shm::platform
