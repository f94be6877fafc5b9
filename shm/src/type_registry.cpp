#include "colony/shm/type_registry.hpp"

#include <cstdio>
#include <cstdlib>
#include <map>
#include <mutex>

namespace colony::shm {
namespace {

struct Entry {
  std::string alias;
  std::string type_name;
};

struct Registry {
  std::mutex mutex;
  std::map<std::uint32_t, Entry> by_tag;
};

Registry& registry() {
  static Registry instance;
  return instance;
}

}  // namespace

bool TypeRegistry::add(std::string_view alias, std::uint32_t tag, const std::type_info& type) {
  Registry& r = registry();
  const std::lock_guard lock(r.mutex);
  auto [found, inserted] = r.by_tag.try_emplace(tag, Entry{std::string(alias), type.name()});
  if (!inserted && (found->second.alias != alias || found->second.type_name != type.name())) {
    std::fprintf(stderr,
                 "colony: type registry conflict: alias '%.*s' (%s) and alias '%s' (%s) share type tag 0x%08x; "
                 "choose another alias\n",
                 static_cast<int>(alias.size()), alias.data(), type.name(), found->second.alias.c_str(),
                 found->second.type_name.c_str(), tag);
    std::abort();
  }
  return true;
}

std::optional<std::string> TypeRegistry::alias_of(std::uint32_t tag) {
  Registry& r = registry();
  const std::lock_guard lock(r.mutex);
  const auto found = r.by_tag.find(tag);
  if (found == r.by_tag.end()) return std::nullopt;
  return found->second.alias;
}

std::string TypeRegistry::describe(std::uint32_t tag) {
  if (auto alias = alias_of(tag)) return "'" + *alias + "'";
  char text[48];
  std::snprintf(text, sizeof text, "unregistered type tag 0x%08x", tag);
  return text;
}

}  // namespace colony::shm

