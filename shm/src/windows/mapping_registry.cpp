// The views this process mapped, by address, for the wait table's keys.
#include "mapping_registry.hpp"

#include <map>
#include <mutex>
#include <shared_mutex>

#include "colony/shm/process.hpp"

namespace colony::shm::platform {
namespace {

struct View {
  std::size_t size;
  std::uint64_t object;
};

std::uint64_t hash_name(std::string_view name) noexcept {
  std::uint64_t hash = 0xcbf29ce484222325ULL;  // FNV-1a
  for (const char c : name) {
    hash ^= static_cast<unsigned char>(c);
    hash *= 0x100000001b3ULL;
  }
  return hash | 1;  // never 0, never a private key (below)
}

struct Registry {
  std::shared_mutex mutex;
  std::map<std::uintptr_t, View> views;  // by base address
};

Registry& registry() {
  static Registry instance;  // never destroyed before the views it holds
  return instance;
}

}  // namespace

void record_mapping(const void* base, std::size_t size, std::string_view os_name) {
  Registry& r = registry();
  const std::unique_lock lock(r.mutex);
  r.views[reinterpret_cast<std::uintptr_t>(base)] = View{size, hash_name(os_name)};
}

void forget_mapping(const void* base) noexcept {
  Registry& r = registry();
  const std::unique_lock lock(r.mutex);
  r.views.erase(reinterpret_cast<std::uintptr_t>(base));
}

WordKey key_of(const void* address) noexcept {
  const auto at = reinterpret_cast<std::uintptr_t>(address);
  Registry& r = registry();
  {
    const std::shared_lock lock(r.mutex);
    auto it = r.views.upper_bound(at);
    if (it != r.views.begin()) {
      --it;
      if (at - it->first < it->second.size) return WordKey{it->second.object, at - it->first};
    }
  }
  // Private memory: only this process can reach the word. Even keys are
  // private ones (a name's hash is odd), tagged with the pid.
  return WordKey{static_cast<std::uint64_t>(static_cast<std::uint32_t>(current_pid())) << 1, at};
}

}  // namespace colony::shm::platform
