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

#include "shared_memory_object.hpp"

namespace colony::shm::platform {
namespace {

constexpr mode_t kOwnerOnly = 0600;

class PosixSharedMemory final : public SharedMemoryObject {
 public:
  PosixSharedMemory(void* address, std::size_t size) : address_(address), size_(size) {}
  ~PosixSharedMemory() override { ::munmap(address_, size_); }
  PosixSharedMemory(const PosixSharedMemory&) = delete;
  PosixSharedMemory& operator=(const PosixSharedMemory&) = delete;

  void* address() const noexcept override { return address_; }
  std::size_t size() const noexcept override { return size_; }

 private:
  void* address_;
  std::size_t size_;
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

Error out_of_space(const std::string& os_name, std::size_t size) {
  std::string message = "segment " + os_name + " needs " + mebibytes(size) + " of shared memory";
  struct statvfs space {};
  if (::statvfs("/dev/shm", &space) == 0) {
    const std::uint64_t free_bytes = std::uint64_t{space.f_bavail} * space.f_frsize;
    const std::uint64_t total_bytes = std::uint64_t{space.f_blocks} * space.f_frsize;
    message += "; /dev/shm has " + mebibytes(free_bytes) + " free of " + mebibytes(total_bytes);
  }
  return Error{Errc::no_space, std::move(message)};
}

Expected<std::unique_ptr<SharedMemoryObject>> map(int fd, std::size_t size, const std::string& os_name) {
  void* address = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (address == MAP_FAILED) return os_error("mmap " + os_name, errno);
  return std::unique_ptr<SharedMemoryObject>(new PosixSharedMemory(address, size));
}

}  // namespace

Expected<std::unique_ptr<SharedMemoryObject>> SharedMemoryObject::create_exclusive(const std::string& os_name,
                                                                                   std::size_t size) {
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
  // Reserve every page now. /dev/shm is a tmpfs of fixed size, and ftruncate
  // alone makes a sparse file: the first write to a page that has no room
  // would kill the writer with SIGBUS, much later and in any process. With
  // the pages reserved, what does not fit is this error, at creation.
  if (const int rc = ::posix_fallocate(fd.get(), 0, static_cast<off_t>(size)); rc != 0) {
    if (rc == ENOSPC || rc == EFBIG || rc == ENOMEM) {
      ::shm_unlink(os_name.c_str());
      return out_of_space(os_name, size);
    }
    // EOPNOTSUPP, EINVAL: a file system that cannot reserve; the sizes stand.
  }
  auto mapped = map(fd.get(), size, os_name);
  if (!mapped) ::shm_unlink(os_name.c_str());
  return mapped;
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
  return map(fd.get(), static_cast<std::size_t>(info.st_size), os_name);
}

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
