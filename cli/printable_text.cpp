#include "printable_text.hpp"

#include <cstdint>

namespace colony::cli {

std::string printable(std::string_view text) {
  std::string out;
  for (std::size_t i = 0; i < text.size();) {
    const auto lead = static_cast<unsigned char>(text[i]);
    if (lead < 0x80) {
      out += (lead < 0x20 || lead == 0x7f) ? '?' : static_cast<char>(lead);
      ++i;
      continue;
    }
    const std::size_t length = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc2 ? 2 : 0;
    bool valid = length > 0 && lead < 0xf5 && i + length <= text.size();
    std::uint32_t code = lead & (0x7fu >> length);
    for (std::size_t k = 1; valid && k < length; ++k) {
      const auto next = static_cast<unsigned char>(text[i + k]);
      valid = (next & 0xc0) == 0x80;
      code = (code << 6) | (next & 0x3fu);
    }
    // Overlong forms would hide a control character; U+0080..U+009F are C1 controls.
    valid = valid && code >= 0xa0 && !(length == 3 && code < 0x800) && !(length == 4 && code < 0x10000) &&
            code <= 0x10ffff;
    if (valid) {
      out.append(text.substr(i, length));
      i += length;
    } else {
      out += '?';
      ++i;
    }
  }
  return out;
}

}  // namespace colony::cli
