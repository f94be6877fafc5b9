#pragma once
// Unpredictable bits from the operating system, for names others must not
// guess (reply rings, sessions) and for the rings' publication keys.
//
// Not std::random_device: each one made runs cpuid to choose its source,
// which a virtual machine traps (23 us measured on the 2-vCPU Intel Xeon,
// against 0.2 us for getrandom), and a worker's creation made three.
//
// One implementation per platform, under this file's name in src/linux/
// (getrandom) and src/windows/ (rand_s, the CRT's RtlGenRandom).

#include <cstdint>

namespace colony::shm {

// 64 bits from the OS's entropy source. Never fails: should the source fail
// (it does not block once the system has booted), std::random_device is used.
std::uint64_t random_bits() noexcept;

}  // namespace colony::shm
