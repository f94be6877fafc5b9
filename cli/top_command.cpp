// colony top: a live view of a session, refreshed every --interval; q or
// Ctrl-C quits. Plain ANSI escape codes (they work over ssh and need no
// curses); when stdout is no terminal, frames follow one another as text, or
// as JSON lines with --json.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "colony/worker/errors.hpp"
#include "commands.hpp"
#include "json_output.hpp"
#include "live_session.hpp"
#include "session_option.hpp"
#include "session_snapshot.hpp"
#include "terminal.hpp"
#include "top_view.hpp"

namespace colony::cli {
namespace {

using Clock = std::chrono::steady_clock;
// How often a wait looks whether the session ended, whatever the interval.
constexpr auto kEndCheck = std::chrono::milliseconds(250);

struct TopOptions {
  std::string session;
  std::uint32_t interval_ms = 1000;
  bool once = false;
  bool json = false;
};

// --- the screen ------------------------------------------------------------------------------

// Columns of a UTF-8 line cut to fit: code points, not bytes.
std::string fit(const std::string& line, std::size_t columns) {
  std::size_t count = 0;
  for (std::size_t i = 0; i < line.size(); ++i) {
    if ((static_cast<unsigned char>(line[i]) & 0xc0) == 0x80) continue;
    if (count++ == columns) return line.substr(0, i);
  }
  return line;
}

// The whole frame drawn over the last one, cut to the window: one write, so
// the screen never shows half a frame.
std::string screen_text(const std::vector<std::string>& lines) {
  const WindowSize window = window_size();
  const std::size_t rows = window.rows;
  const std::size_t columns = window.columns;
  std::string text(kHome);
  const std::size_t shown = lines.size() <= rows ? lines.size() : rows - 1;
  for (std::size_t i = 0; i < shown; ++i) {
    // One column short of the edge: no terminal wraps the line then.
    text += fit(lines[i], columns - 1);
    text += kClearToLineEnd;
    if (i + 1 < shown) text += "\r\n";  // none after the last: the screen must not scroll
  }
  if (shown < lines.size()) {
    text += "\r\n" + fit("... " + std::to_string(lines.size() - shown) + " more lines", columns - 1);
    text += kClearToLineEnd;
  }
  text += kClearBelow;
  return text;
}

// --- the loop --------------------------------------------------------------------------------

enum class Event { tick, quit, redraw, session_ended };

// Sleeps until `until`, waking for a signal, a key, or the session's end.
Event wait_for_event(Clock::time_point until, const SessionLooker& watcher, TopTerminal& terminal) {
  for (Wake woke = terminal.pending();;) {
    if (woke == Wake::quit) return Event::quit;
    if (woke == Wake::redraw) return Event::redraw;
    if (watcher.session_ended()) return Event::session_ended;
    const auto now = Clock::now();
    if (now >= until) return Event::tick;
    woke = terminal.wait(std::chrono::duration_cast<std::chrono::nanoseconds>(std::min<Clock::duration>(until - now, kEndCheck)));
  }
}

// One frame as text lines or a JSON line, for a pipe or a file.
bool print_frame(const SessionSnapshot& frame, const TopOptions& options, bool first) {
  if (options.json) {
    return write_output(json_text(frame_json(frame)) + "\n");
  }
  std::string text = first ? "" : "\n";
  for (const auto& line : frame_lines(frame, options.interval_ms)) text += line + "\n";
  return write_output(text);
}

int session_ended(const std::string& session) {
  std::fprintf(stderr, "colony: session '%s' ended\n", session.c_str());
  return kSuccess;
}

int run_top(const TopOptions& options) {
  const std::string session = resolve_session(options.session);
  SessionLooker watcher(open_live_session(session), LookOptions{false, true});
  const bool screen = !options.once && !options.json && output_is_terminal();
  TopTerminal terminal(screen, screen && input_is_terminal());
  const auto interval = std::chrono::milliseconds(options.interval_ms);
  SessionSnapshot frame = watcher.look();
  auto next = frame.taken + interval;

  if (options.once) {
    // The first look only starts the rates: the frame is the second.
    for (;;) {
      const Event event = wait_for_event(next, watcher, terminal);
      if (event == Event::quit) return 128 + terminal.quit_signal();
      if (event == Event::session_ended) return session_ended(session);
      if (event == Event::tick) break;
    }
    return print_frame(watcher.look(), options, true) ? kSuccess : kFailure;
  }

  const auto show = [&](bool first, bool clear) {
    if (!screen) return print_frame(frame, options, first);
    auto lines = frame_lines(frame, options.interval_ms);
    lines.front() += ", q quits";
    return write_output((clear ? std::string(kClearScreen) : std::string()) + screen_text(lines));
  };
  for (bool first = true;; first = false) {
    if (!show(first, false)) return kSuccess;
    Event event = Event::redraw;
    while ((event = wait_for_event(next, watcher, terminal)) == Event::redraw) {
      if (!show(false, true)) return kSuccess;
    }
    if (event != Event::tick) {
      terminal.leave_screen();
      return event == Event::session_ended ? session_ended(session) : kSuccess;
    }
    frame = watcher.look();
    // Frames keep their rhythm; one that came late does not make the next early.
    next = std::max(next + interval, frame.taken + interval / 2);
  }
}

}  // namespace

Command setup_top(CLI::App& command) {
  auto options = std::make_shared<TopOptions>();
  add_session_option(command, options->session);
  command.add_option("--interval", options->interval_ms, "Milliseconds between frames, the window of the rates")
      ->check(CLI::Range(50u, 3'600'000u))
      ->capture_default_str();
  command.add_flag("--once", options->once, "Print one frame, one interval after the first look, and exit");
  command.add_flag("--json", options->json, "Frames as JSON objects, one per line");
  return {[options] { return run_top(*options); }};
}

}  // namespace colony::cli
