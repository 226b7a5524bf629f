// SIGINT and SIGTERM stop the copy cleanly. The handler does only async-signal-safe work: it
// records the signal and writes one byte to a pipe; a watcher thread reads the pipe and requests
// the stop (std::stop_source is not async-signal-safe). A second signal ends the process at once,
// and so does the first when no watcher thread could be started.
//
// The watcher may start late: a small copy, done on the calling thread in a millisecond or two,
// is not worth a thread (its start, the process's first extra thread, and the wake-ups of its
// end cost more than the copy). A signal that comes before the watcher is kept in the pipe, and
// acted on when the watcher starts, or told by received() when the copy ends.
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
  /// watch_now false: the watcher starts with start_watching() (or never).
  signal_stopper(std::stop_source stop, std::function<void(int)> on_signal, bool watch_now = true);

  /// Starts the watcher, which first acts on a signal received before. Safe to call more than
  /// once; call it from the thread that made this object.
  void start_watching();

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
  bool watching_ = false;  ///< start_watching() was called
  struct sigaction old_int_ {};
  struct sigaction old_term_ {};
};

}  // namespace treecopy_cli
