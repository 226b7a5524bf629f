// The signal handler and its watcher thread: see signals.hpp.
#include "signals.hpp"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <system_error>

namespace treecopy_cli {
namespace {

// Process-wide by nature: a signal handler has nowhere else to find its state. Atomics, not
// volatile sig_atomic_t: the handler runs on whichever thread the kernel picks (a worker as often
// as the main thread), and two signals may be handled on two threads at once. Lock-free atomics
// are safe in a signal handler.
std::atomic<int> first_signal{0};
std::atomic<bool> live_line_on_stderr{false};
std::atomic<int> signal_pipe_write{-1};
std::atomic<bool> no_watcher{false};
static_assert(std::atomic<int>::is_always_lock_free && std::atomic<bool>::is_always_lock_free);

void on_stop_signal(int sig) {
  int none = 0;
  // Exactly one signal is the first, also when two arrive on two threads at once.
  if (no_watcher.load() || !first_signal.compare_exchange_strong(none, sig)) {
    // The user insists: leave at once. A file being written may stay behind, partly written.
    if (live_line_on_stderr.load()) (void)!::write(STDERR_FILENO, "\n", 1);
    ::_exit(128 + sig);
  }
  int saved = errno;
  unsigned char byte = static_cast<unsigned char>(sig);
  (void)!::write(signal_pipe_write.load(), &byte, 1);
  errno = saved;
}

}  // namespace

signal_stopper::signal_stopper(std::stop_source stop, std::function<void(int)> on_signal,
                               bool watch_now)
    : stop_(std::move(stop)), on_signal_(std::move(on_signal)) {
  if (::pipe2(pipe_, O_CLOEXEC) != 0)
    throw std::system_error(errno, std::generic_category(), "pipe");
  // The handler must never block: a full pipe just loses a byte it does not need.
  ::fcntl(pipe_[1], F_SETFL, O_NONBLOCK);
  signal_pipe_write = pipe_[1];
  if (watch_now) start_watching();
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  ::sigaction(SIGINT, &sa, &old_int_);
  ::sigaction(SIGTERM, &sa, &old_term_);
}

void signal_stopper::start_watching() {
  if (watching_) return;
  watching_ = true;
  try {
    watcher_ = std::thread([this] { watch(); });
  } catch (const std::exception&) {
    // No thread to turn a signal into a clean stop (too many threads already, or no memory for
    // its state): the first
    // signal then ends the process at once, as a second one does, rather than be ignored. One
    // that came already is acted on here, where stopping is safe.
    no_watcher.store(true);
    if (const int sig = first_signal.load(); sig != 0) {
      stop_.request_stop();
      on_signal_(sig);
    }
  }
}

void signal_stopper::stop_watching() {
  if (!watcher_.joinable()) return;
  unsigned char quit = 0;
  while (::write(pipe_[1], &quit, 1) < 0 && errno == EINTR) {
  }
  watcher_.join();
}

signal_stopper::~signal_stopper() {
  stop_watching();
  ::sigaction(SIGINT, &old_int_, nullptr);
  ::sigaction(SIGTERM, &old_term_, nullptr);
  signal_pipe_write = -1;
  ::close(pipe_[0]);
  ::close(pipe_[1]);
}

int signal_stopper::received() noexcept { return first_signal.load(); }

void signal_stopper::note_remote(int sig) noexcept {
  int none = 0;
  first_signal.compare_exchange_strong(none, sig);
}

void signal_stopper::set_live_line(bool on) noexcept { live_line_on_stderr.store(on); }

void signal_stopper::watch() {
  for (;;) {
    unsigned char byte = 0;
    ssize_t n = ::read(pipe_[0], &byte, 1);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0 || byte == 0) return;
    stop_.request_stop();
    on_signal_(byte);
  }
}

}  // namespace treecopy_cli
