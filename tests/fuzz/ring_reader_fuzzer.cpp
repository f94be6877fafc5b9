// A ring reader (and then a writer) stepping through a data area and control
// words that another process forged: every record it hands out lies inside
// the data area, and whatever the bytes, it answers ok, empty, closed or
// corrupt; never a read out of bounds, a hang or a crash.
#include <cstddef>
#include <cstdint>
#include <optional>

#include "fuzz_support.hpp"
#include "ring_image.hpp"

using namespace colony;

namespace {

constexpr int kMaxSteps = 256;

struct Rings {
  shm::Ring single = fuzz::make_fuzz_ring(fuzz::session_for("ring"), shm::RingVariant::single_writer);
  shm::Ring many = fuzz::make_fuzz_ring(fuzz::session_for("ring"), shm::RingVariant::many_writers);
};

Rings& rings() {
  static Rings made;
  return made;
}

void require_inside(const shm::Ring& ring, std::span<const std::byte> payload) {
  const std::byte* begin = ring.data();
  const std::byte* end = begin + ring.capacity();
  fuzz::require(payload.data() >= begin && payload.data() <= end && payload.size() <= ring.max_message() &&
                    static_cast<std::size_t>(end - payload.data()) >= payload.size(),
                "a received record lies outside the data area");
}

void read_all(shm::Ring& ring, bool commit_each) {
  auto reader = shm::RingReader::attach(ring);
  if (!reader) return;  // refused as inconsistent: what the check is for
  std::uint64_t last_sequence = 0;
  bool any = false;
  for (int step = 0; step < kMaxSteps; ++step) {
    const shm::Received received = reader->try_receive();
    if (!received.ok()) {
      if (received.status == shm::Outcome::corrupt) {
        fuzz::require(reader->try_receive().status == shm::Outcome::corrupt, "a corrupt ring became readable again");
      }
      break;
    }
    require_inside(ring, received.record.payload);
    fuzz::require(received.record.type_tag != shm::kPaddingTag, "padding handed out as a record");
    fuzz::require(!any || received.record.sequence > last_sequence, "sequences went backwards");
    any = true;
    last_sequence = received.record.sequence;
    volatile std::uint8_t sum = 0;  // every payload byte is readable
    for (const std::byte b : received.record.payload) sum = static_cast<std::uint8_t>(sum + std::to_integer<std::uint8_t>(b));
    if (commit_each) reader->commit();
  }
  reader->commit();
}

void write_one(shm::Ring& ring) {
  auto writer = shm::RingWriter::attach(ring);
  if (!writer) return;
  for (const std::size_t size : {std::size_t{0}, std::size_t{100}, fuzz::kFuzzRingMaxMessage}) {
    const shm::Claim claim = writer->try_claim(7, size);
    if (!claim.ok()) return;
    fuzz::require(claim.payload.size() == size, "a claim of the wrong size");
    require_inside(ring, claim.payload);
    std::memset(claim.payload.data(), 0xab, claim.payload.size());
    writer->commit(claim);
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  fuzz::remove_stale_sessions("ring");  // nothing is left by this target, but be sure
  (void)rings();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fuzz::InputReader input(data, size);
  const auto header = input.take<fuzz::RingImageHeader>();
  shm::Ring& ring = (header.flags & fuzz::kImageManyWriters) != 0 ? rings().many : rings().single;
  fuzz::load_image(ring, header, input.rest());
  read_all(ring, (header.steps & fuzz::kStepCommitEach) != 0);
  if ((header.steps & fuzz::kStepWriter) != 0) {
    write_one(ring);
    read_all(ring, true);
  }
  return 0;
}
