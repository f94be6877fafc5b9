// colony top's terminal on Linux: termios for the key-at-a-time input,
// sigaction for the signals, pselect to sleep until a key or a signal.
#include "terminal.hpp"

#include <signal.h>
#include <sys/ioctl.h>
#include <sys/select.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <ctime>
#include <iterator>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace colony::cli {
namespace {

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

// Async-signal-safe: tcsetattr and write only.
void restore_terminal_now() noexcept {
  if (g_terminal_changed) ::tcsetattr(STDIN_FILENO, TCSANOW, &g_saved_terminal);
  if (g_cursor_hidden) {
    [[maybe_unused]] const auto written = ::write(STDOUT_FILENO, kShowCursor.data(), kShowCursor.size());
  }
  g_terminal_changed = 0;
  g_cursor_hidden = 0;
}

}  // namespace

bool write_output(std::string_view text) {
  while (!text.empty()) {
    const ssize_t written = ::write(STDOUT_FILENO, text.data(), text.size());
    if (written < 0 && errno == EINTR) continue;
    if (written <= 0) return false;  // a closed pipe or a hung-up terminal: nobody reads
    text.remove_prefix(static_cast<std::size_t>(written));
  }
  return true;
}

namespace {

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
    write_output(std::string(kHideCursor) + std::string(kClearScreen));
  }
  // Leaves the last frame on screen and the cursor on the line below it.
  void leave() {
    const bool showing = g_cursor_hidden != 0;
    applied_ = false;
    restore_terminal_now();
    if (showing) write_output("\r\n");
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

}  // namespace

bool output_is_terminal() { return ::isatty(STDOUT_FILENO) == 1; }
bool input_is_terminal() { return ::isatty(STDIN_FILENO) == 1; }

WindowSize window_size() {
  winsize size{};
  if (::ioctl(STDOUT_FILENO, TIOCGWINSZ, &size) == 0 && size.ws_row > 0 && size.ws_col > 0) {
    return WindowSize{size.ws_row, size.ws_col};
  }
  return WindowSize{};
}

struct TopTerminal::Impl {
  SignalScope signals;
  std::optional<TerminalMode> screen;
  Impl(bool with_screen, bool keys) : signals(with_screen) {
    if (with_screen) screen.emplace(keys);
  }
};

TopTerminal::TopTerminal(bool screen, bool keys) {
  g_quit_signal = 0;
  impl_ = std::make_unique<Impl>(screen, keys);
}

TopTerminal::~TopTerminal() = default;

int TopTerminal::quit_signal() const { return g_quit_signal; }

void TopTerminal::leave_screen() { impl_->screen.reset(); }

Wake TopTerminal::pending() {
  if (g_quit_signal != 0) return Wake::quit;
  TerminalMode* screen = impl_->screen ? &*impl_->screen : nullptr;
  if (g_suspend != 0 && screen != nullptr) {
    g_suspend = 0;
    stop_for_shell(*screen);
    return Wake::redraw;
  }
  if (g_continued != 0 && screen != nullptr) {
    g_continued = 0;
    screen->enter();  // continued by `fg` after something else stopped us
    return Wake::redraw;
  }
  if (g_resized != 0) {
    g_resized = 0;
    return Wake::redraw;
  }
  return Wake::nothing;
}

Wake TopTerminal::wait(std::chrono::nanoseconds timeout) {
  if (const Wake now = pending(); now != Wake::nothing) return now;
  const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(timeout);
  const timespec sleep{static_cast<std::time_t>(seconds.count()), static_cast<long>((timeout - seconds).count())};
  const bool keys = impl_->screen && impl_->screen->reads_keys();
  fd_set readable;
  FD_ZERO(&readable);
  if (keys) FD_SET(STDIN_FILENO, &readable);
  // Our signals get through only while asleep here: they cut no other system call short.
  const int ready = ::pselect(keys ? STDIN_FILENO + 1 : 0, keys ? &readable : nullptr, nullptr, nullptr, &sleep,
                              &impl_->signals.waiting_mask());
  if (ready > 0 && keys && FD_ISSET(STDIN_FILENO, &readable)) {
    char pressed[64];
    const ssize_t count = ::read(STDIN_FILENO, pressed, sizeof pressed);
    if (count <= 0) return Wake::quit;  // the terminal is gone
    for (ssize_t i = 0; i < count; ++i) {
      if (pressed[i] == 'q' || pressed[i] == 'Q') return Wake::quit;
    }
  }
  return pending();
}

}  // namespace colony::cli
