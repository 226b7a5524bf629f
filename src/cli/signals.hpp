// SIGINT and SIGTERM stop the copy cleanly. The handler does only async-signal-safe work: it
// records the signal and writes one byte to a pipe; a watcher thread reads the pipe and requests
// the stop (std::stop_source is not async-signal-safe). A second signal ends the process at once,
// and so does the first when no watcher thread could be started.
#pragma once

#include <signal.h>

#include <functional>
#include <stop_token>
#include <thread>

namespace treecopy_cli {

/// While alive, turns the first SIGINT/SIGTERM into stop.request_stop() plus a call to
/// on_signal(signal) from the watcher thread; a second one calls _exit(128 + signal).
class signal_stopper {
 public:
  signal_stopper(std::stop_source stop, std::function<void(int)> on_signal);

  /// Keeps the handlers (a late signal still counts, and a second one still exits at once) but
  /// ends the watcher. Safe to call more than once.
  void stop_watching();

  ~signal_stopper();

  signal_stopper(const signal_stopper&) = delete;
  signal_stopper& operator=(const signal_stopper&) = delete;

  /// The first signal received (SIGINT or SIGTERM), or 0.
  static int received() noexcept;
  /// A signal another process of the same job received (treecopy-mpi: a rank that stopped every
  /// rank's copy): received() reports it as this process's own, unless one came here first.
  static void note_remote(int sig) noexcept;
  /// Tells the handler whether a live line is on stderr (it then ends that line before exiting).
  static void set_live_line(bool on) noexcept;

 private:
  void watch();

  int pipe_[2] = {-1, -1};
  std::stop_source stop_;
  std::function<void(int)> on_signal_;
  std::thread watcher_;
  struct sigaction old_int_ {};
  struct sigaction old_term_ {};
};

}  // namespace treecopy_cli
