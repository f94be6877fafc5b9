// POSIX shared memory: shm_open + mmap.
#include <dirent.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <optional>

#include "shared_memory_object.hpp"

namespace colony::shm::platform {
namespace {

constexpr mode_t kOwnerOnly = 0600;

class PosixSharedMemory final : public SharedMemoryObject {
 public:
  PosixSharedMemory(void* address, std::size_t size, bool reserved_in_full)
      : address_(address), size_(size), reserved_in_full_(reserved_in_full) {}
  ~PosixSharedMemory() override { ::munmap(address_, size_); }
  PosixSharedMemory(const PosixSharedMemory&) = delete;
  PosixSharedMemory& operator=(const PosixSharedMemory&) = delete;

  void* address() const noexcept override { return address_; }
  std::size_t size() const noexcept override { return size_; }
  std::size_t size_granularity() const noexcept override { return 1; }
  bool reserved_in_full() const noexcept override { return reserved_in_full_; }
  void mark_reserved_in_full() noexcept { reserved_in_full_ = true; }
  Expected<void> reserve(std::size_t offset, std::size_t length) override;

 private:
  void* address_;
  std::size_t size_;
  bool reserved_in_full_;
};

// Closes the descriptor on every path: the mapping keeps the object alive.
class FileDescriptor {
 public:
  explicit FileDescriptor(int fd) : fd_(fd) {}
  ~FileDescriptor() {
    if (fd_ >= 0) ::close(fd_);
  }
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  int get() const noexcept { return fd_; }

 private:
  int fd_;
};

std::string mebibytes(std::uint64_t bytes) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f MiB", static_cast<double>(bytes) / (1024.0 * 1024.0));
  return text;
}

// Where /dev/shm stands, for a message about what did not fit in it.
std::string shm_space() {
  struct statvfs space {};
  if (::statvfs("/dev/shm", &space) == 0) {
    const std::uint64_t free_bytes = std::uint64_t{space.f_bavail} * space.f_frsize;
    const std::uint64_t total_bytes = std::uint64_t{space.f_blocks} * space.f_frsize;
    return "; /dev/shm has " + mebibytes(free_bytes) + " free of " + mebibytes(total_bytes);
  }
  return {};
}

Error out_of_space(const std::string& os_name, std::size_t size) {
  return Error{Errc::no_space, "segment " + os_name + " needs " + mebibytes(size) + " of shared memory" + shm_space()};
}

// MADV_POPULATE_WRITE (Linux 5.14) faults the pages in writable and reports a
// page that has no room as EFAULT instead of raising SIGBUS.
// Named here for C libraries older than the flag.
constexpr int kPopulateWrite = 23;

int populate(void* address, std::size_t length) {
  return ::madvise(address, length, kPopulateWrite) == 0 ? 0 : errno;
}

Expected<std::unique_ptr<PosixSharedMemory>> map(int fd, std::size_t size, const std::string& os_name,
                                                 bool reserved_in_full) {
  void* address = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (address == MAP_FAILED) return os_error("mmap " + os_name, errno);
  return std::make_unique<PosixSharedMemory>(address, size, reserved_in_full);
}

// posix_fallocate of [offset, offset + length): ok, or the error to report.
std::optional<Error> fallocate_or_error(int fd, std::size_t offset, std::size_t length, const std::string& os_name,
                                        std::size_t size) {
  const int rc = ::posix_fallocate(fd, static_cast<off_t>(offset), static_cast<off_t>(length));
  if (rc == ENOSPC || rc == EFBIG || rc == ENOMEM) return out_of_space(os_name, size);
  // EOPNOTSUPP, EINVAL: a file system that cannot reserve; the sizes stand.
  return std::nullopt;
}

}  // namespace

Expected<std::unique_ptr<SharedMemoryObject>> SharedMemoryObject::create_exclusive(const std::string& os_name,
                                                                                   std::size_t size,
                                                                                   std::size_t reserve_now) {
  const FileDescriptor fd(::shm_open(os_name.c_str(), O_CREAT | O_EXCL | O_RDWR | O_NOFOLLOW | O_CLOEXEC, kOwnerOnly));
  if (fd.get() < 0) {
    if (errno == EEXIST) return Error{Errc::already_exists, "segment " + os_name + " already exists", EEXIST};
    return os_error("shm_open " + os_name, errno);
  }
  // The umask may have cleared bits of kOwnerOnly; set the mode exactly.
  if (::fchmod(fd.get(), kOwnerOnly) != 0 || ::ftruncate(fd.get(), static_cast<off_t>(size)) != 0) {
    const int saved = errno;
    ::shm_unlink(os_name.c_str());
    return os_error("sizing " + os_name, saved);
  }
  // Reserve the pages asked for now. /dev/shm is a tmpfs of fixed size, and
  // ftruncate alone makes a sparse file: the first touch of a page that has
  // no room would kill the process with SIGBUS, much later and in any
  // process. With the pages reserved, what does not fit is this error, at
  // creation. The rest are reserved by reserve() before anyone touches them.
  reserve_now = std::min(reserve_now, size);
  if (auto failed = fallocate_or_error(fd.get(), 0, reserve_now, os_name, size)) {
    ::shm_unlink(os_name.c_str());
    return std::move(*failed);
  }
  auto mapped = map(fd.get(), size, os_name, reserve_now == size);
  if (!mapped) {
    ::shm_unlink(os_name.c_str());
    return mapped.error();
  }
  // A kernel without MADV_POPULATE_WRITE (before 5.14) could only reserve
  // later at the risk of SIGBUS: reserve every page now instead. The first
  // page is reserved already, so the probe costs no memory.
  if (reserve_now < size && populate((*mapped)->address(), std::min<std::size_t>(size, 4096)) != 0) {
    if (auto failed = fallocate_or_error(fd.get(), reserve_now, size - reserve_now, os_name, size)) {
      mapped->reset();
      ::shm_unlink(os_name.c_str());
      return std::move(*failed);
    }
    (*mapped)->mark_reserved_in_full();
  }
  return std::unique_ptr<SharedMemoryObject>(std::move(mapped).value());
}

Expected<std::unique_ptr<SharedMemoryObject>> SharedMemoryObject::open_existing(const std::string& os_name) {
  // O_NONBLOCK: a FIFO squatting the name must not block the open.
  const FileDescriptor fd(::shm_open(os_name.c_str(), O_RDWR | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0));
  if (fd.get() < 0) {
    if (errno == ENOENT) return Error{Errc::not_found, "segment " + os_name + " does not exist", ENOENT};
    if (errno == EACCES) return Error{Errc::foreign_owner, "segment " + os_name + " is not accessible to this user", EACCES};
    if (errno == ELOOP) return Error{Errc::bad_mode, "segment " + os_name + " is a symbolic link, never followed", ELOOP};
    if (errno == EISDIR) return Error{Errc::bad_mode, "segment " + os_name + " is a directory", EISDIR};
    return os_error("shm_open " + os_name, errno);
  }
  struct stat info {};
  if (::fstat(fd.get(), &info) != 0) return os_error("fstat " + os_name, errno);
  if (!S_ISREG(info.st_mode)) return Error{Errc::bad_mode, "segment " + os_name + " is not a regular file"};
  if (info.st_uid != ::geteuid()) {
    return Error{Errc::foreign_owner, "segment " + os_name + " belongs to uid " + std::to_string(info.st_uid) +
                                          ", not to this user (uid " + std::to_string(::geteuid()) + ")"};
  }
  if ((info.st_mode & 07777) != kOwnerOnly) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(info.st_mode & 07777));
    return Error{Errc::bad_mode, "segment " + os_name + " has mode " + mode + ", expected 0600"};
  }
  if (info.st_size <= 0) return Error{Errc::bad_size, "segment " + os_name + " is empty"};
  auto mapped = map(fd.get(), static_cast<std::size_t>(info.st_size), os_name, false);
  if (!mapped) return mapped.error();
  return std::unique_ptr<SharedMemoryObject>(std::move(mapped).value());
}

Expected<void> PosixSharedMemory::reserve(std::size_t offset, std::size_t length) {
  if (offset > size_ || length > size_ - offset) {
    return Error{Errc::invalid_argument, "reserving bytes " + std::to_string(offset) + " to " +
                                             std::to_string(offset + length) + " of a mapping of " +
                                             std::to_string(size_)};
  }
  if (length == 0 || reserved_in_full_) return {};
  // Whole pages: the mapping is page aligned, and a page is reserved whole.
  constexpr std::size_t kPage = 4096;
  const std::size_t first = offset / kPage * kPage;
  const std::size_t last = std::min(size_, (offset + length + kPage - 1) / kPage * kPage);
  const int rc = populate(static_cast<std::byte*>(address_) + first, last - first);
  if (rc == 0) return {};
  if (rc == EFAULT || rc == ENOMEM) {
    return Error{Errc::no_space, "no room for " + mebibytes(last - first) + " more of shared memory" + shm_space(),
                 ENOSPC};
  }
  return os_error("reserving pages", rc);
}

bool SharedMemoryObject::outlives_its_processes() noexcept { return true; }

bool SharedMemoryObject::remove(const std::string& os_name) noexcept { return ::shm_unlink(os_name.c_str()) == 0; }

EntryOwner SharedMemoryObject::owner_of(const std::string& os_name) {
  EntryOwner owner;
  struct stat info {};
  // Built by append: g++ 12 warns falsely on "/dev/shm" + string (GCC bug 105651).
  std::string path("/dev/shm");
  path.append(os_name);
  if (::lstat(path.c_str(), &info) != 0) return owner;
  owner.exists = true;
  owner.bytes = static_cast<std::uint64_t>(info.st_blocks) * 512;
  if (info.st_uid != ::geteuid()) {
    owner.description = "belongs to uid " + std::to_string(info.st_uid) + ", not to this user";
  } else if (!S_ISREG(info.st_mode) && !S_ISLNK(info.st_mode)) {
    owner.description = "is neither a file nor a symbolic link";
  } else {
    owner.ours = true;
  }
  return owner;
}

std::vector<std::string> SharedMemoryObject::list(std::string_view prefix) {
  // Linux and the BSDs with a tmpfs mount expose POSIX shared memory as /dev/shm.
  std::vector<std::string> names;
  DIR* directory = ::opendir("/dev/shm");
  if (directory == nullptr) return names;
  while (const dirent* entry = ::readdir(directory)) {
    const std::string_view name(entry->d_name);
    if (!name.starts_with(prefix)) continue;
    // Built by append: g++ 12 warns falsely on "/" + string (GCC bug 105651).
    std::string os_name(1, '/');
    os_name.append(name);
    names.push_back(std::move(os_name));
  }
  ::closedir(directory);
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace colony::shm::platform
