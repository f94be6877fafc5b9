// colony top: a live view of a session, refreshed every --interval; q or
// Ctrl-C quits. Plain ANSI escape codes (they work over ssh and need no
// curses); when stdout is no terminal, frames follow one another as text, or
// as JSON lines with --json.
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/select.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <iterator>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "colony/worker/errors.hpp"
#include "commands.hpp"
#include "json_output.hpp"
#include "live_session.hpp"
#include "session_option.hpp"
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

// --- signals -------------------------------------------------------------------------------
// Handlers only set these. The signals are blocked except while the loop
// sleeps in pselect, so they interrupt no system call anywhere else.
volatile std::sig_atomic_t g_quit_signal = 0;
volatile std::sig_atomic_t g_resized = 0;
volatile std::sig_atomic_t g_suspend = 0;
volatile std::sig_atomic_t g_continued = 0;

// What the fault handler needs to put the terminal back.
termios g_saved_terminal{};
volatile std::sig_atomic_t g_terminal_changed = 0;
volatile std::sig_atomic_t g_cursor_hidden = 0;
constexpr std::string_view kShowCursor = "\x1b[?25h";
constexpr std::string_view kHideCursor = "\x1b[?25l";
constexpr std::string_view kClearScreen = "\x1b[2J";
constexpr std::string_view kHome = "\x1b[H";
constexpr std::string_view kClearToLineEnd = "\x1b[K";
constexpr std::string_view kClearBelow = "\x1b[J";

// Async-signal-safe: tcsetattr and write only.
void restore_terminal_now() noexcept {
  if (g_terminal_changed) ::tcsetattr(STDIN_FILENO, TCSANOW, &g_saved_terminal);
  if (g_cursor_hidden) {
    [[maybe_unused]] const auto written = ::write(STDOUT_FILENO, kShowCursor.data(), kShowCursor.size());
  }
  g_terminal_changed = 0;
  g_cursor_hidden = 0;
}

bool write_all(std::string_view text) {
  while (!text.empty()) {
    const ssize_t written = ::write(STDOUT_FILENO, text.data(), text.size());
    if (written < 0 && errno == EINTR) continue;
    if (written <= 0) return false;  // a closed pipe or a hung-up terminal: nobody reads
    text.remove_prefix(static_cast<std::size_t>(written));
  }
  return true;
}

bool in_foreground() { return ::tcgetpgrp(STDIN_FILENO) == ::getpgrp(); }

void on_quit(int signal) { g_quit_signal = signal; }
void on_resize(int) { g_resized = 1; }
void on_suspend(int) { g_suspend = 1; }
void on_continue(int) { g_continued = 1; }

// Installs the handlers and blocks their signals for its lifetime; puts back
// what was there before. SIGPIPE is ignored: a closed pipe shows up as a
// failed write, which ends top quietly (`colony top | head`).
class SignalScope {
 public:
  explicit SignalScope(bool screen) {
    std::vector<std::pair<int, void (*)(int)>> handlers{
        {SIGINT, on_quit}, {SIGTERM, on_quit}, {SIGHUP, on_quit}, {SIGQUIT, on_quit}, {SIGPIPE, SIG_IGN}};
    if (screen) handlers.insert(handlers.end(), {{SIGWINCH, on_resize}, {SIGTSTP, on_suspend}, {SIGCONT, on_continue}});
    sigset_t ours;
    sigemptyset(&ours);
    for (const auto& [signal, handler] : handlers) sigaddset(&ours, signal);
    ::pthread_sigmask(SIG_BLOCK, &ours, &before_);
    waiting_ = before_;
    for (const auto& [signal, handler] : handlers) {
      if (handler != SIG_IGN) sigdelset(&waiting_, signal);
      struct sigaction action {};
      action.sa_handler = handler;
      sigemptyset(&action.sa_mask);
      struct sigaction previous {};
      ::sigaction(signal, &action, &previous);
      previous_.emplace_back(signal, previous);
    }
  }
  ~SignalScope() {
    // Unblocked first, while our handlers still catch what is pending.
    ::pthread_sigmask(SIG_SETMASK, &before_, nullptr);
    for (const auto& [signal, previous] : previous_) ::sigaction(signal, &previous, nullptr);
  }
  SignalScope(const SignalScope&) = delete;
  SignalScope& operator=(const SignalScope&) = delete;
  // The mask to sleep with: ours let through.
  const sigset_t& waiting_mask() const { return waiting_; }

 private:
  sigset_t before_{};
  sigset_t waiting_{};
  std::vector<std::pair<int, struct sigaction>> previous_;
};

// --- the terminal ----------------------------------------------------------------------------

constexpr int kFaults[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT};
struct sigaction g_fault_previous[std::size(kFaults)];

// A crash must not leave the terminal without echo: put it back, then hand
// the signal to whoever handled it before (the default, or a sanitizer).
void on_fault(int signal, siginfo_t* info, void*) {
  restore_terminal_now();
  for (std::size_t i = 0; i < std::size(kFaults); ++i) {
    if (kFaults[i] == signal) ::sigaction(signal, &g_fault_previous[i], nullptr);
  }
  // A fault happens again on return, with its own details; a sent signal
  // (abort, kill) has to be sent again.
  if (info == nullptr || info->si_code <= 0) ::raise(signal);
}

// The screen while top shows it: cursor hidden, and with keys, input without
// echo, a key at a time. The destructor puts everything back, also when an
// exception unwinds the loop; the fault handler does it for a crash.
class TerminalMode {
 public:
  explicit TerminalMode(bool keys) : keys_(keys) {
    for (std::size_t i = 0; i < std::size(kFaults); ++i) {
      struct sigaction action {};
      action.sa_sigaction = on_fault;
      action.sa_flags = SA_SIGINFO;
      sigemptyset(&action.sa_mask);
      ::sigaction(kFaults[i], &action, &g_fault_previous[i]);
    }
    enter();
  }
  ~TerminalMode() {
    leave();
    for (std::size_t i = 0; i < std::size(kFaults); ++i) ::sigaction(kFaults[i], &g_fault_previous[i], nullptr);
  }
  TerminalMode(const TerminalMode&) = delete;
  TerminalMode& operator=(const TerminalMode&) = delete;

  void enter() {
    // A process in the background would be stopped by tcsetattr (SIGTTOU).
    if (keys_ && in_foreground()) {
      if (!applied_) {
        termios current{};
        if (::tcgetattr(STDIN_FILENO, &current) != 0) return;
        g_saved_terminal = current;
        raw_ = current;
        raw_.c_lflag &= ~static_cast<tcflag_t>(ICANON | ECHO);  // ISIG stays: Ctrl-C is still SIGINT
        raw_.c_cc[VMIN] = 1;
        raw_.c_cc[VTIME] = 0;
      }
      g_terminal_changed = 1;  // before the change: a fault in between still restores
      applied_ = ::tcsetattr(STDIN_FILENO, TCSANOW, &raw_) == 0;
      if (!applied_) g_terminal_changed = 0;
    }
    g_cursor_hidden = 1;
    write_all(std::string(kHideCursor) + std::string(kClearScreen));
  }
  // Leaves the last frame on screen and the cursor on the line below it.
  void leave() {
    const bool showing = g_cursor_hidden != 0;
    applied_ = false;
    restore_terminal_now();
    if (showing) write_all("\r\n");
  }
  bool reads_keys() const { return applied_; }

 private:
  bool keys_;
  bool applied_ = false;
  termios raw_{};
};

// Ctrl-Z: the terminal goes back to the shell as it was, the process stops,
// and on `fg` the screen comes back.
void stop_for_shell(TerminalMode& terminal) {
  terminal.leave();
  struct sigaction fallback {};
  fallback.sa_handler = SIG_DFL;
  sigemptyset(&fallback.sa_mask);
  struct sigaction ours {};
  ::sigaction(SIGTSTP, &fallback, &ours);
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGTSTP);
  ::raise(SIGTSTP);  // pending while blocked: it stops us at the unblock below
  ::pthread_sigmask(SIG_UNBLOCK, &stop, nullptr);
  ::pthread_sigmask(SIG_BLOCK, &stop, nullptr);
  ::sigaction(SIGTSTP, &ours, nullptr);
  terminal.enter();
}

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
  winsize size{};
  std::size_t rows = 24;
  std::size_t columns = 80;
  if (::ioctl(STDOUT_FILENO, TIOCGWINSZ, &size) == 0 && size.ws_row > 0 && size.ws_col > 0) {
    rows = size.ws_row;
    columns = size.ws_col;
  }
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
Event wait_for_event(Clock::time_point until, const SessionLooker& watcher, const SignalScope& signals,
                     TerminalMode* terminal) {
  for (;;) {
    if (g_quit_signal != 0) return Event::quit;
    if (g_suspend != 0 && terminal != nullptr) {
      g_suspend = 0;
      stop_for_shell(*terminal);
      return Event::redraw;
    }
    if (g_continued != 0 && terminal != nullptr) {
      g_continued = 0;
      terminal->enter();  // continued by `fg` after something else stopped us
      return Event::redraw;
    }
    if (g_resized != 0) {
      g_resized = 0;
      return Event::redraw;
    }
    if (watcher.session_ended()) return Event::session_ended;
    const auto now = Clock::now();
    if (now >= until) return Event::tick;
    const auto slice = std::chrono::duration_cast<std::chrono::nanoseconds>(std::min<Clock::duration>(until - now, kEndCheck));
    const timespec timeout{0, static_cast<long>(slice.count())};  // below kEndCheck: under a second
    const bool keys = terminal != nullptr && terminal->reads_keys();
    fd_set readable;
    FD_ZERO(&readable);
    if (keys) FD_SET(STDIN_FILENO, &readable);
    const int ready = ::pselect(keys ? STDIN_FILENO + 1 : 0, keys ? &readable : nullptr, nullptr, nullptr, &timeout,
                                &signals.waiting_mask());
    if (ready > 0 && keys && FD_ISSET(STDIN_FILENO, &readable)) {
      char pressed[64];
      const ssize_t count = ::read(STDIN_FILENO, pressed, sizeof pressed);
      if (count <= 0) return Event::quit;  // the terminal is gone
      for (ssize_t i = 0; i < count; ++i) {
        if (pressed[i] == 'q' || pressed[i] == 'Q') return Event::quit;
      }
    }
  }
}

// One frame as text lines or a JSON line, for a pipe or a file.
bool print_frame(const SessionSnapshot& frame, const TopOptions& options, bool first) {
  if (options.json) {
    return write_all(json_text(frame_json(frame)) + "\n");
  }
  std::string text = first ? "" : "\n";
  for (const auto& line : frame_lines(frame, options.interval_ms)) text += line + "\n";
  return write_all(text);
}

int session_ended(const std::string& session) {
  std::fprintf(stderr, "colony: session '%s' ended\n", session.c_str());
  return kSuccess;
}

int run_top(const TopOptions& options) {
  const std::string session = resolve_session(options.session);
  SessionLooker watcher(open_live_session(session), LookOptions{false, true});
  const bool screen = !options.once && !options.json && ::isatty(STDOUT_FILENO) == 1;
  const bool keys = screen && ::isatty(STDIN_FILENO) == 1;
  g_quit_signal = 0;
  SignalScope signals(screen);
  const auto interval = std::chrono::milliseconds(options.interval_ms);
  SessionSnapshot frame = watcher.look();
  auto next = frame.taken + interval;

  if (options.once) {
    // The first look only starts the rates: the frame is the second.
    for (;;) {
      const Event event = wait_for_event(next, watcher, signals, nullptr);
      if (event == Event::quit) return 128 + g_quit_signal;
      if (event == Event::session_ended) return session_ended(session);
      if (event == Event::tick) break;
    }
    return print_frame(watcher.look(), options, true) ? kSuccess : kFailure;
  }

  std::optional<TerminalMode> terminal;
  if (screen) terminal.emplace(keys);
  const auto show = [&](bool first, bool clear) {
    if (!screen) return print_frame(frame, options, first);
    auto lines = frame_lines(frame, options.interval_ms);
    lines.front() += ", q quits";
    return write_all((clear ? std::string(kClearScreen) : std::string()) + screen_text(lines));
  };
  for (bool first = true;; first = false) {
    if (!show(first, false)) return kSuccess;
    Event event = Event::redraw;
    while ((event = wait_for_event(next, watcher, signals, terminal ? &*terminal : nullptr)) == Event::redraw) {
      if (!show(false, true)) return kSuccess;
    }
    if (event != Event::tick) {
      terminal.reset();
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
