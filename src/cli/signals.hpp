// SIGINT and SIGTERM stop the copy cleanly. The handler does only async-signal-safe work: it
// records the signal and writes one byte to a pipe; a watcher thread reads the pipe and requests
// the stop (std::stop_source is not async-signal-safe). A second signal ends the process at once,
// and so does the first when no watcher thread could be started.
// Header-only: the CLI is built as a single translation unit.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <functional>
#include <stop_token>
#include <system_error>
#include <thread>

namespace treecopy_cli {

namespace detail {
// Process-wide by nature: a signal handler has nowhere else to find its state.
inline volatile sig_atomic_t first_signal = 0;
inline volatile sig_atomic_t live_line_on_stderr = 0;
inline int signal_pipe_write = -1;
inline volatile sig_atomic_t no_watcher = 0;

inline void on_stop_signal(int sig) {
  if (first_signal != 0 || no_watcher) {
    // The user insists: leave at once. A file being written may stay behind, partly written.
    if (live_line_on_stderr) (void)!::write(STDERR_FILENO, "\n", 1);
    ::_exit(128 + sig);
  }
  first_signal = sig;
  int saved = errno;
  unsigned char byte = static_cast<unsigned char>(sig);
  (void)!::write(signal_pipe_write, &byte, 1);
  errno = saved;
}
}  // namespace detail

/// While alive, turns the first SIGINT/SIGTERM into stop.request_stop() plus a call to
/// on_signal(signal) from the watcher thread; a second one calls _exit(128 + signal).
class signal_stopper {
 public:
  signal_stopper(std::stop_source stop, std::function<void(int)> on_signal)
      : stop_(std::move(stop)), on_signal_(std::move(on_signal)) {
    if (::pipe2(pipe_, O_CLOEXEC) != 0)
      throw std::system_error(errno, std::generic_category(), "pipe");
    // The handler must never block: a full pipe just loses a byte it does not need.
    ::fcntl(pipe_[1], F_SETFL, O_NONBLOCK);
    detail::signal_pipe_write = pipe_[1];
    try {
      watcher_ = std::thread([this] { watch(); });
    } catch (const std::system_error&) {
      // No thread to turn a signal into a clean stop (too many threads already): the first
      // signal then ends the process at once, as a second one does, rather than be ignored.
      detail::no_watcher = 1;
    }
    struct sigaction sa {};
    sa.sa_handler = detail::on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    ::sigaction(SIGINT, &sa, &old_int_);
    ::sigaction(SIGTERM, &sa, &old_term_);
  }

  /// Keeps the handlers (a late signal still counts, and a second one still exits at once) but
  /// ends the watcher. Safe to call more than once.
  void stop_watching() {
    if (!watcher_.joinable()) return;
    unsigned char quit = 0;
    while (::write(pipe_[1], &quit, 1) < 0 && errno == EINTR) {
    }
    watcher_.join();
  }

  ~signal_stopper() {
    stop_watching();
    ::sigaction(SIGINT, &old_int_, nullptr);
    ::sigaction(SIGTERM, &old_term_, nullptr);
    detail::signal_pipe_write = -1;
    ::close(pipe_[0]);
    ::close(pipe_[1]);
  }

  signal_stopper(const signal_stopper&) = delete;
  signal_stopper& operator=(const signal_stopper&) = delete;

  /// The first signal received (SIGINT or SIGTERM), or 0.
  static int received() noexcept { return detail::first_signal; }
  /// Tells the handler whether a live line is on stderr (it then ends that line before exiting).
  static void set_live_line(bool on) noexcept { detail::live_line_on_stderr = on; }

 private:
  void watch() {
    for (;;) {
      unsigned char byte = 0;
      ssize_t n = ::read(pipe_[0], &byte, 1);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0 || byte == 0) return;
      stop_.request_stop();
      on_signal_(byte);
    }
  }

  int pipe_[2] = {-1, -1};
  std::stop_source stop_;
  std::function<void(int)> on_signal_;
  std::thread watcher_;
  struct sigaction old_int_ {};
  struct sigaction old_term_ {};
};

}  // namespace treecopy_cli
