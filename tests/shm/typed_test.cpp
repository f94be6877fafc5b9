// The typed layer: registered types in and out, and every way a record can
// fail to be the value the receiver asked for, none of which may crash it.
#include <catch2/catch.hpp>
#include <cereal/types/map.hpp>
#include <cstring>
#include <map>

#include "colony/shm/typed.hpp"
#include "test_session.hpp"

using namespace colony;
using namespace std::chrono_literals;
using shm::Outcome;

namespace typed_test {

struct Reading {
  std::string sensor;
  std::vector<double> samples;
  std::map<std::string, std::int64_t> counters;
  template <class Archive>
  void serialize(Archive& archive) {
    archive(sensor, samples, counters);
  }
  bool operator==(const Reading&) const = default;
};

}  // namespace typed_test

COLONY_REGISTER_TYPE(typed_test::Reading, "test.reading")

TEST_CASE("a registered type arrives as an equal copy", "[unit][typed]") {
  test::TestSession session;
  auto ring = shm::Ring::create(session.segment(shm::SegmentKind::ring, "t"), {1 << 16, 4096});
  REQUIRE(ring);
  shm::TypedWriter writer(std::move(shm::RingWriter::attach(*ring)).value());
  shm::TypedReader reader(std::move(shm::RingReader::attach(*ring)).value());

  const typed_test::Reading sent{"thermo-7", {1.5, -2.25, 1e300}, {{"errors", 3}, {"ok", 1'000'000'000'000}}};
  REQUIRE(writer.send(sent, shm::Deadline::after(1s)) == Outcome::ok);
  REQUIRE(writer.send(std::string("plain string"), shm::Deadline::after(1s)) == Outcome::ok);

  auto got = reader.receive<typed_test::Reading>(shm::Deadline::after(1s));
  REQUIRE(got.ok());
  CHECK(*got.value == sent);
  auto text = reader.receive<std::string>(shm::Deadline::after(1s));
  REQUIRE(text.ok());
  CHECK(*text.value == "plain string");
}

TEST_CASE("a value larger than the channel's max_message is refused at send with nothing written", "[unit][typed]") {
  test::TestSession session;
  auto ring = shm::Ring::create(session.segment(shm::SegmentKind::ring, "t"), {1 << 16, 1000});
  REQUIRE(ring);
  shm::TypedWriter writer(std::move(shm::RingWriter::attach(*ring)).value());
  CHECK(writer.send(std::string(1000, 'x'), shm::Deadline::now()) == Outcome::too_large);  // + 8-byte size
  CHECK(ring->bytes_used() == 0);
  CHECK(writer.send(std::string(992, 'x'), shm::Deadline::now()) == Outcome::ok);
}

TEST_CASE("a record of another type is reported as wrong_type and the reader goes on", "[unit][typed]") {
  test::TestSession session;
  auto ring = shm::Ring::create(session.segment(shm::SegmentKind::ring, "t"), {1 << 16, 4096});
  REQUIRE(ring);
  shm::TypedWriter writer(std::move(shm::RingWriter::attach(*ring)).value());
  shm::TypedReader reader(std::move(shm::RingReader::attach(*ring)).value());
  REQUIRE(writer.send(std::int64_t{42}, shm::Deadline::now()) == Outcome::ok);
  REQUIRE(writer.send(std::string("next"), shm::Deadline::now()) == Outcome::ok);

  auto wrong = reader.receive<std::string>(shm::Deadline::after(1s));
  CHECK(wrong.status == Outcome::wrong_type);
  CHECK_THAT(wrong.error, Catch::Contains("colony.i64") && Catch::Contains("colony.string"));
  auto next = reader.receive<std::string>(shm::Deadline::after(1s));
  REQUIRE(next.ok());
  CHECK(*next.value == "next");
}

TEST_CASE("a record with an unregistered type tag is reported as unknown_type", "[unit][typed]") {
  test::TestSession session;
  auto ring = shm::Ring::create(session.segment(shm::SegmentKind::ring, "t"), {1 << 16, 4096});
  REQUIRE(ring);
  auto raw = shm::RingWriter::attach(*ring);
  REQUIRE(raw);
  REQUIRE(raw->try_send(0x5eedf00d, std::vector<std::byte>(12)) == Outcome::ok);
  shm::TypedReader reader(std::move(shm::RingReader::attach(*ring)).value());
  auto got = reader.receive<std::string>(shm::Deadline::after(1s));
  CHECK(got.status == Outcome::unknown_type);
  CHECK_THAT(got.error, Catch::Contains("0x5eedf00d"));
  CHECK(reader.try_receive<std::string>().status == Outcome::empty);  // consumed, not stuck
}

TEST_CASE("undecodable bytes and forged size fields are reported, never allocated or crashed on",
          "[unit][typed]") {
  test::TestSession session;
  auto ring = shm::Ring::create(session.segment(shm::SegmentKind::ring, "t"), {1 << 16, 4096});
  REQUIRE(ring);
  auto raw = shm::RingWriter::attach(*ring);
  REQUIRE(raw);
  shm::TypedReader reader(std::move(shm::RingReader::attach(*ring)).value());
  const auto string_tag = shm::TypeAlias<std::string>::tag;

  SECTION("a string whose size field claims an exabyte") {
    std::vector<std::byte> forged(16);
    const std::uint64_t huge = 1ull << 60;
    std::memcpy(forged.data(), &huge, sizeof huge);
    REQUIRE(raw->try_send(string_tag, forged) == Outcome::ok);
    auto got = reader.receive<std::string>(shm::Deadline::after(1s));
    CHECK(got.status == Outcome::undecodable);
    CHECK_THAT(got.error, Catch::Contains("exceeds"));
  }
  SECTION("a nested container whose inner size is forged") {
    typed_test::Reading reading{"s", {1.0, 2.0}, {}};
    std::vector<std::byte> bytes(shm::serialized_size(reading));
    shm::SpanOutputArchive archive(bytes);
    archive(reading);
    // The samples vector's size field follows the 8-byte sensor size and 1 byte of text.
    const std::uint64_t forged = 1ull << 40;
    std::memcpy(bytes.data() + 9, &forged, sizeof forged);
    REQUIRE(raw->try_send(shm::TypeAlias<typed_test::Reading>::tag, bytes) == Outcome::ok);
    auto got = reader.receive<typed_test::Reading>(shm::Deadline::after(1s));
    CHECK(got.status == Outcome::undecodable);
  }
  SECTION("a truncated message") {
    REQUIRE(raw->try_send(shm::TypeAlias<std::int64_t>::tag, std::vector<std::byte>(3)) == Outcome::ok);
    auto got = reader.receive<std::int64_t>(shm::Deadline::after(1s));
    CHECK(got.status == Outcome::undecodable);
    CHECK_THAT(got.error, Catch::Contains("truncated"));
  }
  SECTION("trailing bytes after a whole value") {
    REQUIRE(raw->try_send(shm::TypeAlias<std::int64_t>::tag, std::vector<std::byte>(9)) == Outcome::ok);
    auto got = reader.receive<std::int64_t>(shm::Deadline::after(1s));
    CHECK(got.status == Outcome::undecodable);
    CHECK_THAT(got.error, Catch::Contains("left over"));
  }
  // In every case the bad record was consumed and the ring still works.
  REQUIRE(raw->try_send(shm::TypeAlias<std::int64_t>::tag, std::vector<std::byte>(8)) == Outcome::ok);
  auto after = reader.receive<std::int64_t>(shm::Deadline::after(1s));
  REQUIRE(after.ok());
  CHECK(*after.value == 0);
}

TEST_CASE("with CommitMode::later a typed record stays until the caller commits", "[unit][typed]") {
  test::TestSession session;
  auto ring = shm::Ring::create(session.segment(shm::SegmentKind::ring, "t"), {1 << 16, 4096});
  REQUIRE(ring);
  shm::TypedWriter writer(std::move(shm::RingWriter::attach(*ring)).value());
  REQUIRE(writer.send(std::string("hold me"), shm::Deadline::now()) == Outcome::ok);
  {
    shm::TypedReader reader(std::move(shm::RingReader::attach(*ring)).value());
    auto got = reader.receive<std::string>(shm::Deadline::after(1s), shm::CommitMode::later);
    REQUIRE(got.ok());
  }
  shm::TypedReader successor(std::move(shm::RingReader::attach(*ring)).value());
  auto again = successor.receive<std::string>(shm::Deadline::after(1s));
  REQUIRE(again.ok());
  CHECK(*again.value == "hold me");
}

TEST_CASE("type tags are stable hashes of the alias, and 0 is reserved for padding", "[unit][typed]") {
  // Separately built processes must agree on every tag: pinned values (FNV-1a
  // of the alias, computed outside this code) catch any change of the hash.
  CHECK(shm::type_tag_for("colony.string") == 0xaf339566u);
  CHECK(shm::TypeAlias<std::string>::tag == 0xaf339566u);
  CHECK(shm::type_tag_for("test.reading") == 0x9ee8f56fu);
  CHECK(shm::TypeAlias<typed_test::Reading>::tag == 0x9ee8f56fu);
  CHECK(shm::TypeRegistry::alias_of(shm::TypeAlias<typed_test::Reading>::tag) == "test.reading");
  CHECK(shm::type_tag_for("") == 0x811c9dc5u);
  // "ppkttia" is an alias whose FNV-1a hash is 0, the padding tag: it gets 1.
  CHECK(shm::type_tag_for("ppkttia") == 1u);
}

TEST_CASE("receive_into decodes into an existing value and keeps its storage", "[unit][typed]") {
  test::TestSession session;
  auto ring = shm::Ring::create(session.segment(shm::SegmentKind::ring, "t"), {1 << 16, 4096});
  REQUIRE(ring);
  shm::TypedWriter writer(std::move(shm::RingWriter::attach(*ring)).value());
  shm::TypedReader reader(std::move(shm::RingReader::attach(*ring)).value());
  std::vector<std::byte> inbox;
  inbox.reserve(1024);
  const auto* storage = inbox.data();
  for (std::size_t size : {100u, 10u, 1000u}) {
    REQUIRE(writer.send(std::vector<std::byte>(size, std::byte{7}), shm::Deadline::now()) == Outcome::ok);
    const auto info = reader.receive_into(inbox, shm::Deadline::after(1s));
    REQUIRE(info.ok());
    CHECK(inbox.size() == size);
    CHECK(inbox.data() == storage);  // no reallocation within the reserved capacity
  }
  REQUIRE(writer.send(std::string("not bytes"), shm::Deadline::now()) == Outcome::ok);
  const auto wrong = reader.receive_into(inbox, shm::Deadline::after(1s));
  CHECK(wrong.status == Outcome::wrong_type);
  CHECK(reader.receive_into(inbox, shm::Deadline::after(10ms)).status == Outcome::timed_out);
}

namespace {

template <class T>
void check_flat_matches_cereal(const T& value) {
  static_assert(shm::FlatCodec<T>::enabled);
  std::vector<std::byte> by_cereal(1024);
  shm::SpanOutputArchive archive(by_cereal);
  archive(value);
  by_cereal.resize(archive.bytes_written());

  std::vector<std::byte> by_flat(shm::FlatCodec<T>::size(value));
  shm::FlatCodec<T>::write(value, by_flat.data());
  CHECK(by_flat == by_cereal);

  T decoded_flat{};
  shm::FlatCodec<T>::read(by_cereal, decoded_flat);
  CHECK(decoded_flat == value);
  T decoded_cereal{};
  shm::BoundedInputArchive reader(by_flat);
  reader(decoded_cereal);
  CHECK(decoded_cereal == value);
}

}  // namespace

TEST_CASE("the flat fast path writes exactly what cereal writes, both ways", "[unit][typed]") {
  check_flat_matches_cereal(std::int64_t{-42});
  check_flat_matches_cereal(3.25);
  check_flat_matches_cereal(std::string("flat and cereal agree"));
  check_flat_matches_cereal(std::string());
  check_flat_matches_cereal(std::vector<std::byte>{std::byte{1}, std::byte{2}, std::byte{255}});
  check_flat_matches_cereal(std::vector<std::uint8_t>{9, 8, 7});
  check_flat_matches_cereal(std::vector<double>{1.5, -2.5});
  check_flat_matches_cereal(std::vector<std::uint32_t>{});
}

TEST_CASE("an undecodable record does not free earlier records still awaiting a later commit", "[unit][typed]") {
  test::TestSession session;
  auto ring = shm::Ring::create(session.segment(shm::SegmentKind::ring, "t"), {1 << 16, 4096});
  REQUIRE(ring);
  auto raw = shm::RingWriter::attach(*ring);
  REQUIRE(raw);
  shm::TypedWriter writer(std::move(raw).value());
  REQUIRE(writer.send(std::string("act on me"), shm::Deadline::now()) == Outcome::ok);
  REQUIRE(writer.raw().try_send(shm::TypeAlias<std::string>::tag, std::vector<std::byte>(3)) == Outcome::ok);
  {
    shm::TypedReader reader(std::move(shm::RingReader::attach(*ring)).value());
    auto pending = reader.receive<std::string>(shm::Deadline::after(1s), shm::CommitMode::later);
    REQUIRE(pending.ok());
    auto bad = reader.receive<std::string>(shm::Deadline::after(1s), shm::CommitMode::later);
    CHECK(bad.status == Outcome::undecodable);
    // The reader dies here, before acting on "act on me" and committing it.
  }
  shm::TypedReader successor(std::move(shm::RingReader::attach(*ring)).value());
  auto again = successor.receive<std::string>(shm::Deadline::after(1s));
  REQUIRE(again.ok());
  CHECK(*again.value == "act on me");
  CHECK(successor.receive<std::string>(shm::Deadline::after(1s)).status == Outcome::undecodable);
  CHECK(successor.try_receive<std::string>().status == Outcome::empty);  // freed, not stuck
}

TEST_CASE("a bool field holding a byte other than 0 or 1 is undecodable, not undefined behaviour", "[unit][typed]") {
  const std::vector<std::byte> forged{std::byte{37}};
  const shm::RecordView record{shm::TypeAlias<bool>::tag, 0, std::span<const std::byte>(forged)};
  const auto decoded = shm::decode_record<bool>(record);
  CHECK(decoded.status == Outcome::undecodable);
  CHECK(decoded.error.find("not 0 or 1") != std::string::npos);
  const std::vector<std::byte> honest{std::byte{1}};
  CHECK(*shm::decode_record<bool>(shm::RecordView{shm::TypeAlias<bool>::tag, 0, std::span<const std::byte>(honest)}).value);
}
