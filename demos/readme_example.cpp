// The example shown in README.md, compiled and run by the test suite so that
// the README cannot drift from the API. One process plays both sides here;
// across processes the reader side opens the ring with Ring::open(name, deadline).
#include <cstdio>
#include <string>
#include <vector>

#include "colony/shm/byte_array.hpp"
#include "colony/shm/condition.hpp"
#include "colony/shm/mutex.hpp"
#include "colony/shm/process.hpp"
#include "colony/shm/typed.hpp"

struct Order {
  std::string symbol;
  std::vector<double> prices;
  template <class Archive>
  void serialize(Archive& archive) { archive(symbol, prices); }
};
COLONY_REGISTER_TYPE(Order, "example.order")  // the alias names the type on the wire

int main() {
  using namespace colony::shm;
  using namespace std::chrono_literals;
  const std::string session = "readme" + std::to_string(current_pid());

  // A ring: one writer, one reader, messages up to 4 KiB in 64 KiB of records.
  auto name = SegmentName::make(session, SegmentKind::ring, "orders");
  if (!name) return std::fprintf(stderr, "%s\n", name.error().message.c_str()), 1;
  auto ring = Ring::create(*name, {64 << 10, 4096, RingVariant::single_writer});
  if (!ring) return std::fprintf(stderr, "%s\n", ring.error().message.c_str()), 1;
  TypedWriter writer(std::move(RingWriter::attach(*ring)).value());
  TypedReader reader(std::move(RingReader::attach(*ring)).value());

  if (writer.send(Order{"ACME", {10.5, 10.75}}, Deadline::after(1s)) != Outcome::ok) return 1;
  auto got = reader.receive<Order>(Deadline::after(1s));
  if (!got.ok()) return std::fprintf(stderr, "%s\n", got.error.c_str()), 1;
  std::printf("received %s with %zu prices\n", got.value->symbol.c_str(), got.value->prices.size());

  // A byte array with atomics, and a mutex that survives its holder's death.
  auto counters = ByteArray::create(*SegmentName::make(session, SegmentKind::bytes, "counters"), 4096, 64);
  auto lock = Mutex::create(*SegmentName::make(session, SegmentKind::mutex, "lock"));
  if (!counters || !lock) return 1;
  (void)counters->fetch_add<std::uint64_t>(0, 1);
  {
    MutexLock held(*lock, Deadline::after(1s));  // every lock takes a deadline
    if (!held) return 1;
    if (held.owner_died()) std::printf("previous holder %d died: repairing\n", held.dead_owner_pid());
    (void)counters->store<std::uint32_t>(8, 42);
  }
  std::printf("counter = %llu, os name %s, data at offset %zu\n",
              static_cast<unsigned long long>(*counters->load<std::uint64_t>(0)), counters->os_name().c_str(),
              ByteArray::data_offset());

  for (const auto& segment : {ring->name(), counters->name(), lock->name()}) Segment::remove(segment);
  return 0;
}
