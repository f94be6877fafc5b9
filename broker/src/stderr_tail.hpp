#pragma once
// The last lines a worker wrote to its standard error, for its crash report:
// keeps the newest kKeep bytes of the stream and cuts them into lines.

#include <cstddef>
#include <string>
#include <string_view>

namespace colony::broker_detail {

class StderrTail {
 public:
  static constexpr std::size_t kKeep = 2048;
  static constexpr std::size_t kMaxLines = 10;

  void append(std::string_view bytes) {
    kept_.append(bytes);
    if (kept_.size() > 2 * kKeep) kept_.erase(0, kept_.size() - kKeep);
  }

  // Up to kMaxLines whole last lines (a last line without its newline too),
  // newline-separated; the first may be cut if the stream had longer lines.
  std::string lines() const {
    std::string_view text(kept_);
    if (text.size() > kKeep) text.remove_prefix(text.size() - kKeep);
    while (!text.empty() && text.back() == '\n') text.remove_suffix(1);
    std::size_t start = 0;
    std::size_t end = text.size();  // the line being taken ends here
    for (std::size_t count = 0; count < kMaxLines; ++count) {
      const std::size_t newline = end == 0 ? std::string_view::npos : text.rfind('\n', end - 1);
      start = newline == std::string_view::npos ? 0 : newline + 1;
      if (newline == std::string_view::npos) break;
      end = newline;
    }
    return std::string(text.substr(start));
  }

 private:
  std::string kept_;
};

}  // namespace colony::broker_detail
