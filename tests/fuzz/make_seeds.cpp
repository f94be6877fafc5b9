// Writes the valid seed inputs of the fuzz targets: what the real writers
// (a ring writer, the typed layer, the property store, the broker's crash
// log) make, in each target's input format. The checked-in corpus
// (tests/fuzz/corpus/TARGET/) holds its output next to hand-written edge
// cases; run it again after a format changes:
//
//   build/fuzz/tests/fuzz/colony_fuzz_make_seeds tests/fuzz/corpus
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "colony/session/channel_core.hpp"
#include "colony/session/contract.hpp"
#include "colony/shm/typed.hpp"
#include "colony/worker/channel.hpp"
#include "colony/worker/named.hpp"
#include "colony/worker/properties.hpp"
#include "colony/session/protocol.hpp"
#include "colony/worker/value.hpp"
#include "fuzz_support.hpp"
#include "ring_image.hpp"
#include "session_image.hpp"

using namespace colony;
namespace fs = std::filesystem;

namespace {

fs::path g_out;

void write_seed(const std::string& target, const std::string& name, const std::vector<std::uint8_t>& bytes) {
  const fs::path dir = g_out / target;
  fs::create_directories(dir);
  std::ofstream out(dir / name, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

void write_text(const std::string& target, const std::string& name, const std::string& text) {
  write_seed(target, name, std::vector<std::uint8_t>(text.begin(), text.end()));
}

template <class T>
std::vector<std::uint8_t> encoded(const T& value) {
  const auto bytes = detail::serialize_value(value);
  const auto* begin = reinterpret_cast<const std::uint8_t*>(bytes.data());
  return {begin, begin + bytes.size()};
}

Value sample_value() {
  return Value::Map{{"file", "a.txt"},
                    {"lines", 3},
                    {"ratio", 0.5},
                    {"ok", true},
                    {"none", nullptr},
                    {"raw", Value::Bytes{std::byte{0}, std::byte{0xff}, std::byte{7}}},
                    {"list", Value::Array{1, "two", Value::Array{3.0}, Value::Map{{"k", "v"}}}}};
}

// --- ring ------------------------------------------------------------------

void ring_seeds(const std::string& session) {
  const std::vector<std::byte> payload(40, std::byte{0x61});
  {
    auto ring = fuzz::make_fuzz_ring(session, shm::RingVariant::single_writer);
    auto writer = shm::RingWriter::attach(ring);
    for (std::uint32_t tag = 1; tag <= 3; ++tag) (void)writer->try_send(tag, payload);
    write_seed("ring_reader", "single-three-records", fuzz::save_image(ring, fuzz::kStepCommitEach));
    write_seed("ring_reader", "single-three-records-then-write", fuzz::save_image(ring, fuzz::kStepWriter));
    // Read two, then fill past the end: a padding record and a wrapped one.
    auto reader = shm::RingReader::attach(ring);
    (void)reader->try_receive();
    (void)reader->try_receive();
    reader->commit();
    const std::vector<std::byte> big(900, std::byte{0x62});
    for (int i = 0; i < 8; ++i) (void)writer->try_send(9, big);
    write_seed("ring_reader", "single-wrapped", fuzz::save_image(ring, fuzz::kStepClosed));
  }
  {
    auto ring = fuzz::make_fuzz_ring(session, shm::RingVariant::many_writers);
    auto writer = shm::RingWriter::attach(ring);
    (void)writer->try_send(5, payload);
    const shm::Claim pending = writer->try_claim(6, 16);  // left in progress by this (soon dead) pid
    (void)pending;
    write_seed("ring_reader", "many-record-and-claim", fuzz::save_image(ring, 0));
    writer->commit(pending);
    (void)writer->try_send(7, std::vector<std::byte>{});
    write_seed("ring_reader", "many-records", fuzz::save_image(ring, fuzz::kStepWriter | fuzz::kStepCommitEach));
  }
}

// --- typed, value_binary, value_json -----------------------------------------

template <class T>
void typed_seed(std::uint8_t index, const std::string& name, const T& value) {
  std::vector<std::uint8_t> bytes{index};
  const auto body = encoded(value);
  bytes.insert(bytes.end(), body.begin(), body.end());
  write_seed("typed_decoder", name, bytes);
}

void typed_seeds() {
  // Indexes as in typed_decoder_fuzzer.cpp's table.
  typed_seed<bool>(0, "bool", true);
  typed_seed<std::int32_t>(1, "i32", -5);
  typed_seed<std::uint64_t>(4, "u64", 1ull << 63);
  typed_seed<double>(5, "f64", 2.5);
  typed_seed<std::string>(6, "string", std::string("hello"));
  typed_seed<std::vector<std::byte>>(7, "bytes", std::vector<std::byte>(5, std::byte{1}));
  typed_seed<std::vector<std::uint8_t>>(8, "u8s", std::vector<std::uint8_t>{1, 2, 3});
  typed_seed<Value>(9, "value", sample_value());
  typed_seed<Call>(10, "call", Call{7, "add", Value::Array{5, "x"}, "rp1", false, 1});
  typed_seed<Reply>(11, "reply", Reply{7, false, Value(), "unknown method"});
  typed_seed<detail::LaunchRequest>(
      12, "launch", detail::LaunchRequest{1, 2, "/bin/true", {"-a", "b"}, "/tmp", true, 3, 4, false});
  typed_seed<detail::ChildEnded>(15, "child-ended", detail::ChildEnded{42, 1, 2, 2, 0, 9, true, 123, "boom\n"});
  detail::DefineNamed define;
  define.name = "counter";
  define.executable = "/bin/cat";
  define.arguments = {"-u"};
  typed_seed<detail::DefineNamed>(17, "define", define);
  typed_seed<detail::ChildExit>(23, "child-exit", detail::ChildExit{1, 2, 1, 3, 0, false, "exited"});
  typed_seed<detail::OutOfLine>(25, "out-of-line", detail::OutOfLine{9, 100000, "ool7"});

  write_seed("value_binary", "sample", encoded(sample_value()));
  write_seed("value_binary", "scalar-int", encoded(Value(-1)));
  write_seed("value_binary", "string", encoded(Value("é ok")));
  Value deep = Value::Array{};
  for (int i = 0; i < Value::kMaxDepth - 1; ++i) deep = Value::Array{deep};
  write_seed("value_binary", "deepest-allowed", encoded(deep));

  write_text("value_json", "sample", sample_value().to_json());
  write_text("value_json", "pretty", sample_value().to_json(2));
}

// --- session control --------------------------------------------------------

void patch(std::vector<std::uint8_t>& image, std::uint8_t where, std::uint16_t index, const void* bytes,
           std::size_t length) {
  image.push_back(where);
  image.push_back(static_cast<std::uint8_t>(index & 0xff));
  image.push_back(static_cast<std::uint8_t>(index >> 8));
  image.push_back(static_cast<std::uint8_t>(length));
  const auto* b = static_cast<const std::uint8_t*>(bytes);
  image.insert(image.end(), b, b + length);
}

void entry_patch(std::vector<std::uint8_t>& image, std::uint16_t index, std::uint32_t kind, const std::string& name) {
  std::uint8_t entry[sizeof(detail::ObjectEntry)] = {};
  const std::uint32_t published = 2;
  std::memcpy(entry + offsetof(detail::ObjectEntry, state), &published, 4);
  std::memcpy(entry + offsetof(detail::ObjectEntry, kind), &kind, 4);
  std::memcpy(entry + offsetof(detail::ObjectEntry, name), name.data(), name.size());
  patch(image, 1, index, entry, offsetof(detail::ObjectEntry, name) + name.size() + 1);
}

void session_seeds() {
  std::vector<std::uint8_t> base(1 + fuzz::kSegmentHeaderPatch + sizeof(detail::SessionHeader), 0);
  write_seed("session_control", "valid-empty", base);

  std::vector<std::uint8_t> listed = base;
  entry_patch(listed, 0, detail::kNamedWorkerEntryKind, "counter");
  entry_patch(listed, 1, static_cast<std::uint32_t>(shm::SegmentKind::ring), "ch1");
  entry_patch(listed, 2, static_cast<std::uint32_t>(shm::SegmentKind::mutex), "lock");
  entry_patch(listed, 3, static_cast<std::uint32_t>(shm::SegmentKind::bytes), "frame");
  entry_patch(listed, 4, static_cast<std::uint32_t>(shm::SegmentKind::condition), "ready");
  std::uint8_t slot[sizeof(detail::WorkerSlot)] = {};
  const std::uint64_t running = detail::pack_state(1, detail::SlotState::running);
  const std::int32_t pid = 1;
  std::memcpy(slot + offsetof(detail::WorkerSlot, state_word), &running, 8);
  std::memcpy(slot + offsetof(detail::WorkerSlot, pid), &pid, 4);
  std::memcpy(slot + offsetof(detail::WorkerSlot, executable), "/bin/worker", 11);
  patch(listed, 0, 1, slot, sizeof slot - 128 + 12);
  write_seed("session_control", "entries-and-a-worker", listed);

  std::vector<std::uint8_t> dead = listed;
  dead[0] = fuzz::kSessionPatchHeader | fuzz::kSessionForceClean;
  dead[1 + offsetof(shm::SegmentHeader, creator_pid)] = 0x7f;  // made by another pid: unverifiable
  write_seed("session_control", "other-creator-force", dead);
}

// --- crash log, properties --------------------------------------------------

void crash_seeds() {
  Value::Map report{{"time", "2026-01-01T00:00:00Z"}, {"pid", 4242}, {"signal", 9},
                    {"reason", "killed by signal 9 (SIGKILL)"}, {"restarts", 1},
                    {"in_flight", Value::Map{{"sequence", 3}, {"attempt", 2}, {"method", "add"}}},
                    {"stderr_tail", Value::Array{"line one", "line two"}}, {"action", "restarted"}};
  const std::string text = Value(Value::Array{report, report}).to_json();
  std::vector<std::uint8_t> bytes(8);
  const std::uint32_t generation = 2;
  const auto length = static_cast<std::uint32_t>(text.size());
  std::memcpy(bytes.data(), &generation, 4);
  std::memcpy(bytes.data() + 4, &length, 4);
  bytes.insert(bytes.end(), text.begin(), text.end());
  write_seed("crash_log", "two-reports", bytes);
}

void property_seeds(const std::string& session) {
  const auto bytes_name = *shm::SegmentName::make(session, shm::SegmentKind::bytes, "seedprops");
  const auto mutex_name = *shm::SegmentName::make(session, shm::SegmentKind::mutex, "seedprops");
  auto store = detail::PropertyStore::create(bytes_name, mutex_name);
  store.set("config", shm::TypeAlias<Value>::tag, detail::serialize_value(sample_value()));
  store.set("name", shm::TypeAlias<std::string>::tag, detail::serialize_value(std::string("w")));
  store.set("count", shm::TypeAlias<std::int64_t>::tag, detail::serialize_value(std::int64_t{3}));
  auto array = shm::ByteArray::open(bytes_name, shm::Deadline::now()).value();
  std::uint64_t selector = 0;
  std::memcpy(&selector, array.bytes().data(), sizeof selector);
  const std::size_t half = sizeof(detail::PropertyStoreHeader) + (selector & 1) * detail::kPropertyHalf;
  std::vector<std::uint8_t> seed(sizeof selector);
  std::memcpy(seed.data(), &selector, sizeof selector);
  const auto* blob = reinterpret_cast<const std::uint8_t*>(array.bytes().data()) + half;
  seed.insert(seed.end(), blob, blob + (selector >> 1));
  write_seed("properties", "three-keys", seed);
}

// --- command line -------------------------------------------------------------

void cli_seed(const std::string& name, const std::vector<std::string>& words) {
  std::vector<std::uint8_t> bytes;
  for (std::size_t i = 0; i < words.size(); ++i) {
    if (i > 0) bytes.push_back(0);
    bytes.insert(bytes.end(), words[i].begin(), words[i].end());
  }
  write_seed("cli_arguments", name, bytes);
}

void cli_seeds() {
  cli_seed("run-exe", {"run", "--session", "s1", "--max-workers", "4", "/bin/echo", "-n", "hi"});
  cli_seed("run-pipeline", {"run", "--pipeline", "p.toml", "--worker", "dict=/bin/cat -u"});
  cli_seed("call-wait", {"call", "--session", "s", "--wait", "--timeout", "100", "counter", "add", "[5,7]"});
  cli_seed("ps-json", {"ps", "--session", "s", "--json", "--interval", "0"});
  cli_seed("top", {"top", "--session", "s", "--once", "--json"});
  cli_seed("bytes-cas", {"bytes", "cas", "frame", "8", "0", "1", "--wide"});
  cli_seed("prop-set", {"prop", "set", "--session", "s", "counter", "key", "{\"a\":1}"});
  cli_seed("recv", {"recv", "--session", "s", "ch1", "--count", "3"});
  cli_seed("broker-start", {"broker", "start", "--session", "s", "--max-workers", "8"});
  cli_seed("clean-force", {"clean", "--force", "--session", "s"});
  cli_seed("deadletters", {"deadletters", "replay", "counter"});
  cli_seed("help", {"ps", "--help"});
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
    return 2;
  }
  g_out = argv[1];
  const std::string session = fuzz::session_for("seed");
  try {
    ring_seeds(session);
    typed_seeds();
    session_seeds();
    crash_seeds();
    property_seeds(session);
    cli_seeds();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "make_seeds: %s\n", e.what());
    fuzz::remove_session(session);
    return 1;
  }
  fuzz::remove_session(session);
  return 0;
}
