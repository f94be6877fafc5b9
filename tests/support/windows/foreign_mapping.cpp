// Foreign mappings on Windows: named file mappings in the Local\ namespace,
// opened and made with the Win32 calls alone.
#include "foreign_mapping.hpp"

#include <windows.h>

#include <catch2/catch.hpp>
#include <cstring>

#include "windows/owner_only.hpp"  // shm/src: this user's security descriptor

namespace colony::test {
namespace {

std::wstring local_name(const std::string& os_name) {
  const std::string bare = !os_name.empty() && os_name.front() == '/' ? os_name.substr(1) : os_name;
  return L"Local\\" + std::wstring(bare.begin(), bare.end());
}

}  // namespace

ForeignMapping::ForeignMapping(const std::string& os_name) {
  HANDLE mapping = ::OpenFileMappingW(FILE_MAP_ALL_ACCESS, FALSE, local_name(os_name).c_str());
  REQUIRE(mapping != nullptr);
  address_ = ::MapViewOfFile(mapping, FILE_MAP_ALL_ACCESS, 0, 0, 0);
  REQUIRE(address_ != nullptr);
  MEMORY_BASIC_INFORMATION info{};
  REQUIRE(::VirtualQuery(address_, &info, sizeof(info)) != 0);
  size_ = info.RegionSize;
  handle_ = reinterpret_cast<std::intptr_t>(mapping);
}

ForeignMapping::~ForeignMapping() {
  ::UnmapViewOfFile(address_);
  ::CloseHandle(reinterpret_cast<HANDLE>(handle_));
}

ForeignObject::ForeignObject(const std::string& os_name, std::span<const std::byte> bytes, std::size_t size)
    : os_name_(os_name) {
  // Owned by this user, as another program of theirs would make it.
  HANDLE mapping = ::CreateFileMappingW(INVALID_HANDLE_VALUE, shm::platform::owner_only_attributes(), PAGE_READWRITE, 0, static_cast<DWORD>(size),
                                        local_name(os_name).c_str());
  REQUIRE(mapping != nullptr);
  REQUIRE(::GetLastError() != ERROR_ALREADY_EXISTS);
  if (!bytes.empty()) {
    void* view = ::MapViewOfFile(mapping, FILE_MAP_ALL_ACCESS, 0, 0, size);
    REQUIRE(view != nullptr);
    std::memcpy(view, bytes.data(), bytes.size());
    ::UnmapViewOfFile(view);
  }
  handle_ = reinterpret_cast<std::intptr_t>(mapping);
}

// A mapping lives while a handle to it is open: this one's is the last.
ForeignObject::~ForeignObject() { ::CloseHandle(reinterpret_cast<HANDLE>(handle_)); }

}  // namespace colony::test
