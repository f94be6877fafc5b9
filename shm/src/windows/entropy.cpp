// Entropy on Windows: rand_s, the CRT's call of RtlGenRandom.
#define _CRT_RAND_S
#include <stdlib.h>

#include <random>

#include "colony/shm/entropy.hpp"

namespace colony::shm {

std::uint64_t random_bits() noexcept {
  unsigned int high = 0;
  unsigned int low = 0;
  if (rand_s(&high) == 0 && rand_s(&low) == 0) return (std::uint64_t{high} << 32) | low;
  try {
    std::random_device fallback;
    return (std::uint64_t{fallback()} << 32) ^ fallback();
  } catch (...) {
    return (std::uint64_t{high} << 32) | low;
  }
}

}  // namespace colony::shm
