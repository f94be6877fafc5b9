// colony prop get|set WORKER KEY [JSON]: a named worker's shared properties
// from a shell, as JSON.
#include <cstdio>
#include <memory>
#include <span>
#include <string>

#include "colony/worker/properties.hpp"
#include "colony/worker/value_record.hpp"
#include "commands.hpp"
#include "live_session.hpp"
#include "session_option.hpp"
#include "session_snapshot.hpp"
// The session layer's own headers, in one block.
#include "colony/session/names.hpp"
#include "colony/session/session_map.hpp"

namespace colony::cli {
namespace {

struct PropOptions {
  std::string session;
  std::string action;
  std::string worker;
  std::string key;
  std::string value;
};

detail::PropertyStore open_properties(const detail::SessionMap& map, const std::string& worker) {
  require_named_worker(map, worker);
  const auto process = current_process_of(map, worker);
  if (!process) {
    throw WorkerError(WorkerErrc::bad_state, "worker '" + worker + "' has no process now: its properties live with it");
  }
  const std::string object = detail::worker_object(process->slot, process->generation, detail::kPropertiesSuffix);
  return detail::PropertyStore::open(map.name(shm::SegmentKind::bytes, object), map.name(shm::SegmentKind::mutex, object));
}

// A property as JSON: a colony::Value, or one of the built-in scalar types.
std::string property_json(const std::string& key, const detail::StoredValue& stored) {
  const shm::RecordView record{stored.type_tag, 0, std::span<const std::byte>(stored.bytes)};
  if (auto value = value_of_record(record)) return value->to_json();
  throw WorkerError(WorkerErrc::wrong_type, "property '" + key + "' holds " + shm::TypeRegistry::describe(stored.type_tag) +
                                                ", which has no JSON form");
}

int run_prop(const PropOptions& o) {
  const auto map = open_live_session(o.session);
  auto store = open_properties(*map, o.worker);
  if (o.action == "get") {
    const auto stored = store.get(o.key);
    if (!stored) throw WorkerError(WorkerErrc::no_such_property, "worker '" + o.worker + "' has no property '" + o.key + "'");
    std::printf("%s\n", property_json(o.key, *stored).c_str());
    return kSuccess;
  }
  if (o.value.empty()) throw UsageError("usage: colony prop set WORKER KEY JSON");
  Value value;
  try {
    value = Value::from_json(o.value);
  } catch (const WorkerError& e) {
    throw UsageError(std::string("the value is not JSON: ") + e.what());
  }
  store.set(o.key, shm::TypeAlias<Value>::tag, detail::serialize_value(value));
  return kSuccess;
}

}  // namespace

Command setup_prop(CLI::App& command) {
  auto options = std::make_shared<PropOptions>();
  add_session_option(command, options->session);
  command.add_option("action", options->action, "get|set")->required()->check(CLI::IsMember({"get", "set"}));
  command.add_option("worker", options->worker, "The worker's name")->required();
  command.add_option("key", options->key, "The property")->required();
  command.add_option("value", options->value, "set: a JSON value");
  return {[options] { return run_prop(*options); }};
}

}  // namespace colony::cli
