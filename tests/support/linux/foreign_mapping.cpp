// Foreign mappings on Linux: shm_open and mmap.
#include "foreign_mapping.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>

namespace colony::test {

ForeignMapping::ForeignMapping(const std::string& os_name) {
  const int fd = ::shm_open(os_name.c_str(), O_RDWR, 0);
  REQUIRE(fd >= 0);
  struct stat info {};
  REQUIRE(::fstat(fd, &info) == 0);
  size_ = static_cast<std::size_t>(info.st_size);
  address_ = ::mmap(nullptr, size_, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  ::close(fd);
  REQUIRE(address_ != MAP_FAILED);
}

ForeignMapping::~ForeignMapping() { ::munmap(address_, size_); }

ForeignObject::ForeignObject(const std::string& os_name, std::span<const std::byte> bytes, std::size_t size)
    : os_name_(os_name) {
  const int fd = ::shm_open(os_name.c_str(), O_CREAT | O_EXCL | O_RDWR, 0600);
  REQUIRE(fd >= 0);
  ::fchmod(fd, 0600);
  REQUIRE(::ftruncate(fd, static_cast<off_t>(size)) == 0);
  if (!bytes.empty()) REQUIRE(::pwrite(fd, bytes.data(), bytes.size(), 0) == static_cast<ssize_t>(bytes.size()));
  ::close(fd);
}

// The test session removes what is left under its name; the object may be gone already.
ForeignObject::~ForeignObject() { ::shm_unlink(os_name_.c_str()); }

}  // namespace colony::test
