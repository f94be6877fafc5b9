#pragma once
// colony top's terminal, as the platform provides it (cli/linux/terminal.cpp):
// standard output and its window, keys from standard input, and the signals
// that quit, redraw or suspend top. Frames are plain ANSI text, which works
// over ssh and needs no curses; the codes top draws with are here.

#include <chrono>
#include <cstddef>
#include <memory>
#include <string_view>

namespace colony::cli {

inline constexpr std::string_view kClearScreen = "\x1b[2J";
inline constexpr std::string_view kHome = "\x1b[H";
inline constexpr std::string_view kClearToLineEnd = "\x1b[K";
inline constexpr std::string_view kClearBelow = "\x1b[J";

// All of text to standard output; false when nobody reads any more (a
// closed pipe, a hung-up terminal).
bool write_output(std::string_view text);
bool output_is_terminal();
bool input_is_terminal();

struct WindowSize {
  std::size_t rows = 24;
  std::size_t columns = 80;
};
// Standard output's window; 24 by 80 when it does not say.
WindowSize window_size();

// What a wait ended with.
enum class Wake {
  nothing,  // the time passed, or the sleep was cut short: look again
  quit,     // a quit signal, q pressed, or the terminal gone
  redraw,   // the window changed size, or top came back from a stop
};

// top's hold on the process and its terminal, for its lifetime. The quit
// signals (interrupt, terminate, hang-up, quit) end a wait instead of the
// process; a write nobody reads fails instead of ending it. With screen: a
// resize redraws, Ctrl-Z gives the terminal back to the shell as it was and
// `fg` brings the screen back, the cursor is hidden, and with keys the input
// is read a key at a time without echo. All of it is put back on the way
// out, also when top crashes (the terminal first, then the crash goes on).
class TopTerminal {
 public:
  TopTerminal(bool screen, bool keys);
  ~TopTerminal();
  TopTerminal(const TopTerminal&) = delete;
  TopTerminal& operator=(const TopTerminal&) = delete;

  // What happened since the last look, without sleeping.
  Wake pending();
  // Sleeps up to timeout (under a second), or until something happens.
  Wake wait(std::chrono::nanoseconds timeout);
  // The signal that asked to quit; 0 while none did.
  int quit_signal() const;
  // Leaves the screen (the last frame stays, the cursor on the line below)
  // and the key-at-a-time input, before a last message.
  void leave_screen();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace colony::cli
