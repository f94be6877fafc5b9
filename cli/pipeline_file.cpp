#include "pipeline_file.hpp"

#include <toml++/toml.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "colony/shm/names.hpp"
#include "colony/session/contract.hpp"
#include "session_option.hpp"
#include "worker_spec.hpp"

namespace colony::cli {
namespace {

constexpr std::size_t kMaxStages = 256;
constexpr std::size_t kMaxStageName = 64;
constexpr std::size_t kMaxWorkerName = sizeof(detail::ObjectEntry::name) - 1;
constexpr std::int64_t kMinCapacity = 4096;
constexpr std::int64_t kMaxCapacity = std::int64_t{1} << 30;

// Errors name the file and the line, as a compiler would.
class FileErrors {
 public:
  explicit FileErrors(std::string path) : path_(std::move(path)) {}
  // The message is its parts appended (g++ 12 misreads chains of + at -O2).
  template <class... Parts>
  [[noreturn]] void fail(const toml::node& where, const Parts&... parts) const {
    fail_at(where.source().begin.line, parts...);
  }
  template <class... Parts>
  [[noreturn]] void fail_at(std::uint32_t line, const Parts&... parts) const {
    std::string text = path_;
    if (line != 0) text.append(":").append(std::to_string(line));
    text.append(": ");
    (text.append(parts), ...);
    throw UsageError(text);
  }
  [[noreturn]] void fail(const std::string& message) const { fail_at(0, message); }

 private:
  std::string path_;
};

void refuse_unknown_keys(const FileErrors& errors, const toml::table& table, const std::set<std::string>& known,
                         const std::string& where) {
  for (auto&& [key, value] : table) {
    if (known.contains(std::string(key.str()))) continue;
    std::string allowed;
    for (const auto& name : known) allowed.append(allowed.empty() ? "" : ", ").append(name);
    errors.fail(value, "unknown key '", key.str(), "' in ", where, " (known: ", allowed, ")");
  }
}

std::string required_string(const FileErrors& errors, const toml::table& table, const char* key,
                            const std::string& where) {
  const toml::node* node = table.get(key);
  if (node == nullptr) errors.fail(table, where, " has no '", key, "'");
  const auto value = node->value<std::string>();
  if (!value || value->empty()) errors.fail(*node, "'", key, "' in ", where, " must be a non-empty string");
  if (value->find('\0') != std::string::npos) errors.fail(*node, "'", key, "' in ", where, " holds a NUL character");
  return *value;
}

std::optional<std::string> optional_string(const FileErrors& errors, const toml::table& table, const char* key,
                                           const std::string& where) {
  const toml::node* node = table.get(key);
  if (node == nullptr) return std::nullopt;
  if (!node->is_string()) errors.fail(*node, "'", key, "' in ", where, " must be a string");
  return node->value<std::string>();
}

std::optional<std::int64_t> optional_integer(const FileErrors& errors, const toml::table& table, const char* key,
                                             const std::string& where, std::int64_t low, std::int64_t high) {
  const toml::node* node = table.get(key);
  if (node == nullptr) return std::nullopt;
  const auto value = node->value_exact<std::int64_t>();
  if (!value || *value < low || *value > high) {
    errors.fail(*node, "'", key, "' in ", where, " must be an integer from ", std::to_string(low), " to ",
                std::to_string(high));
  }
  return value;
}

std::vector<std::string> string_array(const FileErrors& errors, const toml::table& table, const char* key,
                                      const std::string& where) {
  std::vector<std::string> strings;
  const toml::node* node = table.get(key);
  if (node == nullptr) return strings;
  const toml::array* array = node->as_array();
  if (array == nullptr) errors.fail(*node, "'", key, "' in ", where, " must be an array of strings");
  for (const toml::node& element : *array) {
    const auto text = element.value_exact<std::string>();
    if (!text) {
      errors.fail(element, "'", key, "' in ", where, " must hold strings only (quote numbers: \"3\")");
    }
    if (text->find('\0') != std::string::npos) errors.fail(element, "'", key, "' in ", where, " holds a NUL character");
    strings.push_back(*text);
  }
  return strings;
}

// "./worker" is found next to the file; "tr" in PATH; "/bin/tr" as it is.
std::string resolve_executable(const std::string& executable, const std::filesystem::path& file_directory) {
  if (executable.find('/') == std::string::npos || executable.front() == '/') return executable;
  return (file_directory / executable).lexically_normal().string();
}

std::vector<const toml::table*> tables_of(const FileErrors& errors, const toml::table& root, const char* key) {
  std::vector<const toml::table*> tables;
  const toml::node* node = root.get(key);
  if (node == nullptr) return tables;
  const toml::array* array = node->as_array();
  if (array == nullptr || !array->is_array_of_tables()) {
    errors.fail(*node, "'", key, "' must be written [[", key, "]]");
  }
  for (const toml::node& element : *array) tables.push_back(element.as_table());
  return tables;
}

bool is_stage_name(const std::string& name) {
  if (name.empty() || name.size() > kMaxStageName) return false;
  for (const char c : name) {
    const bool allowed =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.';
    if (!allowed) return false;
  }
  return true;
}

void read_session(const FileErrors& errors, const toml::table& root, PipelineSpec& spec) {
  const toml::node* node = root.get("session");
  if (node == nullptr) return;
  const toml::table* session = node->as_table();
  if (session == nullptr) errors.fail(*node, "'session' must be a table: [session]");
  refuse_unknown_keys(errors, *session, {"name", "max_workers"}, "[session]");
  if (auto name = optional_string(errors, *session, "name", "[session]")) {
    if (auto valid = shm::validate_name(*name, "session", shm::kMaxSessionLength); !valid) {
      errors.fail(*session->get("name"), valid.error().message);
    }
    spec.session = *name;
  }
  if (auto cap = optional_integer(errors, *session, "max_workers", "[session]", 1, 1023)) {
    spec.max_workers = static_cast<std::uint32_t>(*cap);
  }
}

void read_workers(const FileErrors& errors, const toml::table& root, const std::filesystem::path& directory,
                  PipelineSpec& spec) {
  std::set<std::string> names;
  for (const toml::table* table : tables_of(errors, root, "worker")) {
    refuse_unknown_keys(errors, *table,
                        {"name", "exec", "args", "max_attempts", "restart", "max_restarts", "restart_window_ms",
                         "backoff_ms", "backoff_max_ms", "handler_timeout_ms"},
                        "a [[worker]]");
    NamedWorkerSpec worker;
    worker.name = required_string(errors, *table, "name", "a [[worker]]");
    if (worker.name.size() > kMaxWorkerName) {
      errors.fail(*table, "worker name '", worker.name.substr(0, 20), "...' is longer than ",
                  std::to_string(kMaxWorkerName), " bytes");
    }
    const std::string where = std::string("worker '").append(worker.name).append("'");
    if (!names.insert(worker.name).second) errors.fail(*table, "two workers are named '", worker.name, "'");
    worker.executable = resolve_executable(required_string(errors, *table, "exec", where), directory);
    if (const std::string problem = definition_problem(worker.name, worker.executable); !problem.empty()) {
      errors.fail(*table->get("exec"), problem);
    }
    worker.arguments = string_array(errors, *table, "args", where);
    NamedWorkerOptions& options = worker.options;
    if (auto attempts = optional_integer(errors, *table, "max_attempts", where, 1, 1000)) {
      options.max_attempts = static_cast<std::uint32_t>(*attempts);
    }
    if (auto policy = optional_string(errors, *table, "restart", where)) {
      const auto parsed = parse_restart_policy(*policy);
      if (!parsed) errors.fail(*table->get("restart"), "'restart' in ", where, " must be \"never\", \"on-failure\" or \"always\"");
      options.restart = *parsed;
    }
    constexpr std::int64_t kHour = 3'600'000;
    if (auto restarts = optional_integer(errors, *table, "max_restarts", where, 1, 1'000'000)) {
      options.max_restarts = static_cast<std::uint32_t>(*restarts);
    }
    const auto milliseconds = [&](const char* key, std::int64_t low, std::chrono::milliseconds& into) {
      if (auto value = optional_integer(errors, *table, key, where, low, kHour)) into = std::chrono::milliseconds(*value);
    };
    milliseconds("restart_window_ms", 1, options.restart_window);
    milliseconds("backoff_ms", 0, options.backoff_initial);
    milliseconds("backoff_max_ms", 0, options.backoff_max);
    milliseconds("handler_timeout_ms", 0, options.handler_timeout);
    spec.workers.push_back(std::move(worker));
  }
}

// Stages in file order, their inputs still names; linked and ordered after.
struct StageDraft {
  StageSpec stage;
  std::optional<std::string> input_name;
  std::uint32_t line = 0;
};

std::vector<StageDraft> read_stage_drafts(const FileErrors& errors, const toml::table& root,
                                          const std::filesystem::path& directory) {
  std::vector<StageDraft> drafts;
  for (const toml::table* table : tables_of(errors, root, "stage")) {
    refuse_unknown_keys(errors, *table, {"name", "exec", "args", "plain", "output", "input", "capacity"},
                        "a [[stage]]");
    StageDraft draft;
    draft.line = table->source().begin.line;
    StageSpec& stage = draft.stage;
    stage.name = required_string(errors, *table, "name", "a [[stage]]");
    if (!is_stage_name(stage.name) || stage.name == "none") {
      errors.fail(*table, "stage name '", stage.name, "': use 1 to 64 of A-Z a-z 0-9 _ - . (and not 'none')");
    }
    const std::string where = std::string("stage '").append(stage.name).append("'");
    stage.executable = resolve_executable(required_string(errors, *table, "exec", where), directory);
    stage.arguments = string_array(errors, *table, "args", where);
    if (const toml::node* plain = table->get("plain")) {
      if (!plain->is_boolean()) errors.fail(*plain, "'plain' in ", where, " must be true or false");
      stage.plain = *plain->value<bool>();
    }
    if (auto output = optional_string(errors, *table, "output", where)) {
      if (*output != "lines" && *output != "chunks") {
        errors.fail(*table->get("output"), "'output' in ", where, " must be \"lines\" or \"chunks\"");
      }
      if (!stage.plain) errors.fail(*table->get("output"), "'output' applies to plain stages only (", where, ")");
      stage.chunks = *output == "chunks";
    }
    draft.input_name = optional_string(errors, *table, "input", where);
    if (!draft.input_name && !drafts.empty()) draft.input_name = drafts.back().stage.name;
    if (draft.input_name == "none") draft.input_name.reset();
    if (auto capacity = optional_integer(errors, *table, "capacity", where, kMinCapacity, kMaxCapacity)) {
      stage.capacity = static_cast<std::size_t>(*capacity);
    }
    drafts.push_back(std::move(draft));
    if (drafts.size() > kMaxStages) errors.fail(*table, "more than ", std::to_string(kMaxStages), " stages");
  }
  return drafts;
}

// Resolves each input to a stage, one reader per stage, no cycles; returns
// the stages ordered so that each comes after the stage it reads.
std::vector<StageSpec> link_stages(const FileErrors& errors, std::vector<StageDraft> drafts) {
  std::map<std::string, std::size_t> index_of;
  for (std::size_t i = 0; i < drafts.size(); ++i) {
    if (!index_of.emplace(drafts[i].stage.name, i).second) {
      errors.fail_at(drafts[i].line, "two stages are named '", drafts[i].stage.name, "'");
    }
  }
  std::vector<std::optional<std::size_t>> input_of(drafts.size());
  std::vector<std::optional<std::size_t>> reader_of(drafts.size());
  for (std::size_t i = 0; i < drafts.size(); ++i) {
    if (!drafts[i].input_name) continue;
    const auto found = index_of.find(*drafts[i].input_name);
    if (found == index_of.end()) {
      errors.fail_at(drafts[i].line, "stage '", drafts[i].stage.name, "' reads '", *drafts[i].input_name,
                     "', which is no stage (or \"none\")");
    }
    const std::size_t source = found->second;
    if (source == i) errors.fail_at(drafts[i].line, "stage '", drafts[i].stage.name, "' reads itself");
    if (reader_of[source]) {
      errors.fail_at(drafts[i].line, "stages '", drafts[*reader_of[source]].stage.name, "' and '", drafts[i].stage.name,
                     "' both read '", drafts[source].stage.name, "': a channel has one reader");
    }
    reader_of[source] = i;
    input_of[i] = source;
  }
  // Each stage has at most one input and one reader: the stages form chains,
  // or cycles, which have no first stage and would never start reading.
  std::vector<StageSpec> ordered;
  std::vector<std::optional<std::size_t>> new_index(drafts.size());
  for (std::size_t head = 0; head < drafts.size(); ++head) {
    if (input_of[head]) continue;
    for (std::optional<std::size_t> at = head; at; at = reader_of[*at]) {
      StageSpec stage = std::move(drafts[*at].stage);
      if (input_of[*at]) stage.input = new_index[*input_of[*at]];
      new_index[*at] = ordered.size();
      ordered.push_back(std::move(stage));
    }
  }
  if (ordered.size() != drafts.size()) {
    for (std::size_t i = 0; i < drafts.size(); ++i) {
      if (!new_index[i]) errors.fail_at(drafts[i].line, "stage '", drafts[i].stage.name, "' is in a cycle of stages");
    }
  }
  return ordered;
}

}  // namespace

PipelineSpec read_pipeline_file(const std::string& path) {
  const FileErrors errors(path);
  std::error_code error;
  if (!std::filesystem::is_regular_file(path, error)) errors.fail("no such file (or not a regular file)");
  toml::table root;
  try {
    root = toml::parse_file(path);
  } catch (const toml::parse_error& e) {
    errors.fail_at(e.source().begin.line, std::string(e.description()));
  }
  refuse_unknown_keys(errors, root, {"session", "worker", "stage"}, "the file");
  const auto directory = std::filesystem::absolute(path, error).parent_path();
  PipelineSpec spec;
  read_session(errors, root, spec);
  read_workers(errors, root, directory, spec);
  spec.stages = link_stages(errors, read_stage_drafts(errors, root, directory));
  if (spec.stages.empty() && spec.workers.empty()) errors.fail("neither a [[stage]] nor a [[worker]]: nothing to run");
  return spec;
}

}  // namespace colony::cli
