// colony bytes create|info|read|write|cas|wait|notify NAME ...: a session's
// shared byte arrays from a shell.
#include <algorithm>
#include <cstdio>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "colony/session/channel_core.hpp"
#include "colony/shm/byte_array.hpp"
#include "commands.hpp"
#include "json_output.hpp"
#include "live_session.hpp"
#include "raw_arguments.hpp"
#include "session_option.hpp"
// The session layer's own headers, in one block.
#include "colony/session/names.hpp"
#include "colony/session/session_map.hpp"

namespace colony::cli {
namespace {

using Json = nlohmann::json;

struct BytesOptions {
  std::string session;
  std::string action;
  std::string name;
  std::vector<std::string> operands;
  bool json = false;
  bool hex = false;
  bool wide = false;  // 64-bit words for cas
  std::uint32_t timeout_ms = 10'000;
  int count = 1;
};

std::size_t number(const std::string& text, const char* what) {
  try {
    std::size_t used = 0;
    const auto value = std::stoull(text, &used, 0);
    if (used != text.size()) throw std::invalid_argument(text);
    return static_cast<std::size_t>(value);
  } catch (const std::exception&) {
    throw UsageError(std::string(what) + " must be a number, got '" + text + "'");
  }
}

void need(const BytesOptions& o, std::size_t count, const char* usage) {
  if (o.operands.size() != count) throw UsageError(std::string("usage: colony bytes ") + usage);
}

std::string hex_of(std::span<const std::byte> bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (const auto b : bytes) {
    out += kHex[std::to_integer<unsigned>(b) >> 4];
    out += kHex[std::to_integer<unsigned>(b) & 15];
  }
  return out;
}

std::vector<std::byte> from_hex(const std::string& text) {
  if (text.size() % 2 != 0) throw UsageError("hex data has an odd number of digits");
  std::vector<std::byte> out;
  for (std::size_t i = 0; i < text.size(); i += 2) {
    const auto digit = [&](char c) -> unsigned {
      if (c >= '0' && c <= '9') return static_cast<unsigned>(c - '0');
      if (c >= 'a' && c <= 'f') return static_cast<unsigned>(c - 'a' + 10);
      if (c >= 'A' && c <= 'F') return static_cast<unsigned>(c - 'A' + 10);
      throw UsageError(std::string("'") + c + "' is not a hex digit");
    };
    out.push_back(static_cast<std::byte>(digit(text[i]) * 16 + digit(text[i + 1])));
  }
  return out;
}

shm::ByteArray open_bytes(const std::string& session, const std::string& name) {
  auto segment = shm::SegmentName::make(session, shm::SegmentKind::bytes, name);
  if (!segment) throw UsageError(segment.error().message);
  auto bytes = shm::ByteArray::open(*segment, shm::Deadline::after(detail::kSegmentPublishWait));
  if (!bytes) throw WorkerError(WorkerErrc::not_found, "no byte array '" + name + "' in session '" + session + "': " + bytes.error().message);
  return std::move(*bytes);
}

template <class T>
T check(shm::Expected<T> result) {
  if (!result) throw WorkerError(WorkerErrc::bad_state, result.error().message);
  return std::move(*result);
}
void check(shm::Expected<void> result) {
  if (!result) throw WorkerError(WorkerErrc::bad_state, result.error().message);
}

int run_bytes(const BytesOptions& o) {
  const std::string session = resolve_session(o.session);
  if (o.action == "create") {
    need(o, 1, "create NAME SIZE");
    const auto map = open_live_session(session);
    if (detail::is_reserved_object_name(o.name)) throw UsageError("the name '" + o.name + "' is reserved for Colony's own segments");
    const std::size_t size = number(o.operands[0], "SIZE");
    auto segment = shm::SegmentName::make(session, shm::SegmentKind::bytes, o.name);
    if (!segment) throw UsageError(segment.error().message);
    auto bytes = check(shm::ByteArray::create(*segment, size, size));
    (void)map->register_object(shm::SegmentKind::bytes, o.name, 0, 0);
    std::printf("%s\n", bytes.os_name().c_str());
    return kSuccess;
  }
  auto bytes = open_bytes(session, o.name);
  if (o.action == "info") {
    need(o, 0, "info NAME");
    const Json info{{"name", o.name}, {"os_name", bytes.os_name()}, {"data_offset", shm::ByteArray::data_offset()},
                    {"capacity", bytes.capacity()}, {"length", check(bytes.length())}};
    if (o.json) {
      std::printf("%s\n", json_text(info).c_str());
    } else {
      std::printf("os name:     %s\ndata offset: %zu\ncapacity:    %zu\nlength:      %zu\n", bytes.os_name().c_str(),
                  shm::ByteArray::data_offset(), bytes.capacity(), check(bytes.length()));
    }
    return kSuccess;
  }
  if (o.action == "read") {
    if (o.operands.size() != 2) throw UsageError("usage: colony bytes read NAME OFFSET LENGTH [--hex]");
    const std::size_t offset = number(o.operands[0], "OFFSET");
    const std::size_t length = number(o.operands[1], "LENGTH");
    // Checked before any memory is taken for it: LENGTH is the user's.
    const std::size_t current = check(bytes.length());
    if (offset > current || length > current - offset) {
      throw WorkerError(WorkerErrc::bad_state, "byte array " + bytes.os_name() + ": read of " + std::to_string(length) +
                                                   " bytes at offset " + std::to_string(offset) +
                                                   " is beyond the length " + std::to_string(current));
    }
    // In chunks: a large array is printed in bounded memory.
    constexpr std::size_t kChunk = 64 << 10;
    std::vector<std::byte> chunk(std::min(length, kChunk));
    for (std::size_t done = 0; done < length;) {
      const std::span<std::byte> part(chunk.data(), std::min(kChunk, length - done));
      check(bytes.read(offset + done, part));
      if (o.hex) {
        std::fputs(hex_of(part).c_str(), stdout);
      } else {
        std::fwrite(part.data(), 1, part.size(), stdout);
      }
      done += part.size();
    }
    if (o.hex) std::fputc('\n', stdout);
    return kSuccess;
  }
  if (o.action == "write") {
    need(o, 2, "write NAME OFFSET DATA [--hex]");
    const auto& data = o.operands[1];
    const std::vector<std::byte> in = o.hex ? from_hex(data)
                                            : std::vector<std::byte>(reinterpret_cast<const std::byte*>(data.data()),
                                                                     reinterpret_cast<const std::byte*>(data.data()) + data.size());
    check(bytes.write(number(o.operands[0], "OFFSET"), in));
    return kSuccess;
  }
  if (o.action == "cas") {
    need(o, 3, "cas NAME OFFSET EXPECTED DESIRED [--wide]");
    const std::size_t offset = number(o.operands[0], "OFFSET");
    const auto expected = number(o.operands[1], "EXPECTED");
    const auto desired = number(o.operands[2], "DESIRED");
    const std::uint64_t found =
        o.wide ? check(bytes.compare_exchange<std::uint64_t>(offset, expected, desired))
               : check(bytes.compare_exchange<std::uint32_t>(offset, static_cast<std::uint32_t>(expected),
                                                             static_cast<std::uint32_t>(desired)));
    std::printf("%llu\n", static_cast<unsigned long long>(found));
    return found == expected ? kSuccess : kFailure;  // 0: swapped
  }
  if (o.action == "wait") {
    need(o, 2, "wait NAME OFFSET EXPECTED [--timeout MS]");
    const auto status = check(bytes.wait<std::uint32_t>(number(o.operands[0], "OFFSET"),
                                                        static_cast<std::uint32_t>(number(o.operands[1], "EXPECTED")),
                                                        shm::Deadline::after(std::chrono::milliseconds(o.timeout_ms))));
    if (status == shm::Outcome::ok) {
      std::printf("notified\n");
      return kSuccess;
    }
    if (status == shm::Outcome::not_equal) {
      std::printf("not-equal\n");
      return kSuccess;
    }
    std::printf("timed-out\n");  // the wait's one other outcome
    return kTimedOut;
  }
  if (o.action == "notify") {
    need(o, 1, "notify NAME OFFSET [--count N]");
    std::printf("%d\n", check(bytes.notify(number(o.operands[0], "OFFSET"), o.count)));
    return kSuccess;
  }
  throw UsageError("unknown bytes action '" + o.action + "'");
}

}  // namespace

Command setup_bytes(CLI::App& command) {
  auto options = std::make_shared<BytesOptions>();
  add_session_option(command, options->session);
  command.add_option("action", options->action, "create|info|read|write|cas|wait|notify")
      ->required()
      ->check(CLI::IsMember({"create", "info", "read", "write", "cas", "wait", "notify"}));
  command.add_option("name", options->name, "The array's name in the session")->required()->check(session_name_validator());
  // The operands (SIZE | OFFSET LENGTH | OFFSET DATA | OFFSET EXPECTED DESIRED | ...) are taken as
  // typed, extras: "[a,b]" is data to write, not a list (raw_arguments.hpp).
  command.allow_extras();
  command.add_flag("--json", options->json, "info as one JSON object");
  command.add_flag("--hex", options->hex, "read prints hex; write takes hex");
  command.add_flag("--wide", options->wide, "cas on a 64-bit word (default 32)");
  command.add_option("--timeout", options->timeout_ms, "wait: milliseconds")->capture_default_str();
  command.add_option("--count", options->count, "notify: waiters to wake")->capture_default_str();
  command.footer("Operands: create NAME SIZE | read NAME OFFSET LENGTH | write NAME OFFSET DATA |\n"
                 "cas NAME OFFSET EXPECTED DESIRED | wait NAME OFFSET EXPECTED | notify NAME OFFSET.\n"
                 "info prints the OS name of the segment and the data offset (4096), for other languages' mappers.\n"
                 "cas exits 0 when it swapped, 1 when not (it prints the value found); wait exits 3 on timeout.");
  return {[options, &command] {
    options->operands = raw_arguments(command);
    return run_bytes(*options);
  }};
}

}  // namespace colony::cli
