#include "small_shm.hpp"

#include <sched.h>
#include <sys/mount.h>

#include <cerrno>
#include <cstring>

namespace colony::test {

std::string use_small_shm(std::size_t bytes) {
  const auto failed = [](const char* what) { return std::string(what) + ": " + std::strerror(errno); };
  if (::unshare(CLONE_NEWNS) != 0) return failed("unshare(CLONE_NEWNS) (the test needs root)");
  // Private, so that the mount below is seen by no other namespace.
  if (::mount("none", "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) return failed("making / private");
  const std::string options = "size=" + std::to_string(bytes) + ",mode=1777";
  if (::mount("tmpfs", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, options.c_str()) != 0) {
    return failed("mounting a tmpfs on /dev/shm");
  }
  return {};
}

}  // namespace colony::test
