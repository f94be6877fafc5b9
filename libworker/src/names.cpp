#include "colony/session/names.hpp"

#include <cstdio>

#include "colony/shm/entropy.hpp"

namespace colony::detail {
namespace {

constexpr std::string_view kChannelPrefix = "ch";
constexpr std::string_view kOutOfLinePrefix = "ol";
constexpr std::string_view kMailboxPrefix = "mb-";
constexpr std::string_view kDeadLetterPrefix = "dl-";
constexpr std::string_view kCrashLogPrefix = "cr-";
constexpr std::string_view kReplyRingPrefix = "rp";
constexpr std::size_t kReplyRingDigits = 16;
// Ids are u64: at most 20 decimal digits.
constexpr std::size_t kMaxIdDigits = 20;

bool is_digits(std::string_view text) noexcept {
  return !text.empty() && text.find_first_not_of("0123456789") == std::string_view::npos;
}

bool digits_after(std::string_view object, std::string_view prefix) noexcept {
  return object.starts_with(prefix) && is_digits(object.substr(prefix.size()));
}

// w<digits>g...-...: the shape of worker_object's names, taken broadly.
bool is_worker_object(std::string_view object) noexcept {
  return object.size() > 1 && object[0] == 'w' && object.find('g') != std::string_view::npos &&
         object.find('-') != std::string_view::npos &&
         object.find_first_not_of("0123456789", 1) == object.find('g');
}

}  // namespace

std::string worker_object(std::uint32_t slot, std::uint32_t generation, std::string_view suffix) {
  // Built by append: g++ 12 warns falsely on chained string + (GCC bug 105651).
  std::string name(1, 'w');
  name.append(std::to_string(slot)).append(1, 'g').append(std::to_string(generation)).append(1, '-').append(suffix);
  return name;
}

std::string channel_object(std::uint64_t id) { return std::string(kChannelPrefix).append(std::to_string(id)); }

std::optional<std::uint64_t> parse_channel_object(std::string_view object, bool accept_bare_id) noexcept {
  if (object.starts_with(kChannelPrefix)) {
    object.remove_prefix(kChannelPrefix.size());
  } else if (!accept_bare_id) {
    return std::nullopt;
  }
  // 19 digits always fit a u64; longer ids were never handed out.
  if (!is_digits(object) || object.size() > 19) return std::nullopt;
  std::uint64_t id = 0;
  for (const char c : object) id = id * 10 + static_cast<std::uint64_t>(c - '0');
  return id;
}

std::string out_of_line_object(std::uint64_t id) { return std::string(kOutOfLinePrefix).append(std::to_string(id)); }

bool is_out_of_line_name(std::string_view object) noexcept {
  return digits_after(object, kOutOfLinePrefix) && object.size() - kOutOfLinePrefix.size() <= kMaxIdDigits;
}

std::string encode_worker_name(std::string_view name) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string encoded;
  for (const char c : name) {
    const auto u = static_cast<unsigned char>(c);
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-') {
      encoded += c;
    } else {
      encoded += '_';
      encoded += kHex[u >> 4];
      encoded += kHex[u & 15];
    }
  }
  return encoded;
}

std::string mailbox_object(std::string_view worker_name) {
  return std::string(kMailboxPrefix).append(encode_worker_name(worker_name));
}
std::string dead_letter_object(std::string_view worker_name) {
  return std::string(kDeadLetterPrefix).append(encode_worker_name(worker_name));
}
std::string crash_log_object(std::string_view worker_name) {
  return std::string(kCrashLogPrefix).append(encode_worker_name(worker_name));
}

std::string random_reply_ring_object() {
  // From the OS's entropy each time: a seeded generator's next names could be
  // worked out from the names it showed in /dev/shm.
  const std::uint64_t bits = shm::random_bits();
  char digits[kReplyRingDigits + 1];
  std::snprintf(digits, sizeof digits, "%016llx", static_cast<unsigned long long>(bits));
  return std::string(kReplyRingPrefix).append(digits);
}

bool is_reply_ring_object(std::string_view object) noexcept {
  return object.size() == kReplyRingPrefix.size() + kReplyRingDigits && object.starts_with(kReplyRingPrefix) &&
         object.find_first_not_of("0123456789abcdef", kReplyRingPrefix.size()) == std::string_view::npos;
}

bool is_reserved_object_name(std::string_view object) noexcept {
  return digits_after(object, kOutOfLinePrefix) || digits_after(object, kChannelPrefix) || is_worker_object(object) ||
         object.starts_with(kCrashLogPrefix);
}

bool is_kept_on_take_over(const shm::SegmentName& name) noexcept {
  const std::string& object = name.name();
  return name.kind() == shm::SegmentKind::ring &&
         (object.starts_with(kMailboxPrefix) || object.starts_with(kDeadLetterPrefix) ||
          object.starts_with(kReplyRingPrefix));
}

}  // namespace colony::detail
