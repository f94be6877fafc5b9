// Built only with COLONY_FAILPOINTS=ON (see failpoint.hpp).
#include "colony/shm/failpoint.hpp"

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "failpoint_stop.hpp"

namespace colony::shm::failpoint {
namespace {

// The parsed variable. Written once during static initialization, read-only
// afterwards, so reached() needs no lock and no allocation.
struct Spec {
  char name[128] = {};
  unsigned long pass = 1;  // stop on this pass, counted from 1
  char once_path[256] = {};
  std::atomic<unsigned long> passes{0};
};

Spec g_spec;

// NAME[@N][,once=PATH]; a malformed value arms nothing and says so.
bool parse(const char* text, Spec& spec) {
  const char* comma = std::strchr(text, ',');
  const char* at = std::strchr(text, '@');
  if (at != nullptr && comma != nullptr && at > comma) at = nullptr;
  const char* name_end = at != nullptr ? at : comma != nullptr ? comma : text + std::strlen(text);
  const auto name_length = static_cast<std::size_t>(name_end - text);
  if (name_length == 0 || name_length >= sizeof spec.name) return false;
  std::memcpy(spec.name, text, name_length);
  if (at != nullptr) {
    char* end = nullptr;
    spec.pass = std::strtoul(at + 1, &end, 10);
    if (spec.pass == 0 || end != (comma != nullptr ? comma : at + 1 + std::strlen(at + 1))) return false;
  }
  if (comma != nullptr) {
    static constexpr char kOnce[] = "once=";
    if (std::strncmp(comma + 1, kOnce, sizeof kOnce - 1) != 0) return false;
    const char* path = comma + sizeof kOnce;
    if (*path == '\0' || std::strlen(path) >= sizeof spec.once_path) return false;
    std::memcpy(spec.once_path, path, std::strlen(path));
  }
  return true;
}

bool arm_from_environment() {
  const char* text = std::getenv("COLONY_FAILPOINT");
  if (text == nullptr || *text == '\0') return false;
  if (parse(text, g_spec)) return true;
  std::fputs("colony: COLONY_FAILPOINT is malformed (NAME[@N][,once=PATH]); ignored\n", stderr);
  return false;
}

}  // namespace

bool g_armed = arm_from_environment();

void reached(const char* name) noexcept {
  if (std::strcmp(name, g_spec.name) != 0) return;
  if (g_spec.passes.fetch_add(1, std::memory_order_relaxed) + 1 != g_spec.pass) return;
  // Without the claim, another process stopped here already.
  if (g_spec.once_path[0] != '\0' && !platform::claim_once(g_spec.once_path)) return;
  platform::stop_this_process();
}

}  // namespace colony::shm::failpoint
