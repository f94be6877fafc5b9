// Entropy on Linux: getrandom(2), from the kernel's pool without a file.
#include <sys/random.h>

#include <cerrno>
#include <random>

#include "colony/shm/entropy.hpp"

namespace colony::shm {

std::uint64_t random_bits() noexcept {
  std::uint64_t bits = 0;
  auto* out = reinterpret_cast<unsigned char*>(&bits);
  std::size_t filled = 0;
  while (filled < sizeof bits) {
    const ssize_t n = ::getrandom(out + filled, sizeof bits - filled, 0);
    if (n > 0) {
      filled += static_cast<std::size_t>(n);
    } else if (n < 0 && errno != EINTR) {
      break;
    }
  }
  if (filled == sizeof bits) return bits;
  try {
    std::random_device fallback;
    return (std::uint64_t{fallback()} << 32) ^ fallback();
  } catch (...) {
    return bits;  // both sources refused: what getrandom gave, if anything
  }
}

}  // namespace colony::shm
