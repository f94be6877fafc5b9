#pragma once
// Which named mapping an address of this process lies in. The wait table
// (wait_word.cpp) meets sleepers and wakers of other processes on a word by
// the mapping's name and the word's offset in it, since each process maps a
// segment at its own address. shared_memory_object.cpp records every view it
// maps and forgets it when unmapped.

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace colony::shm::platform {

// The same for every process that maps the object: a hash of its name and
// the offset in it. An address in no recorded mapping (process-private
// memory) gets a key of this process alone, by address.
struct WordKey {
  std::uint64_t object = 0;
  std::uint64_t offset = 0;
  friend bool operator==(const WordKey&, const WordKey&) = default;
};

void record_mapping(const void* base, std::size_t size, std::string_view os_name);
void forget_mapping(const void* base) noexcept;
WordKey key_of(const void* address) noexcept;

}  // namespace colony::shm::platform
