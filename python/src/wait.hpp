// Waiting for native work from the Python thread that started it: the GIL is released while
// waiting, and every tick the thread takes the GIL back to run Python's signal handlers (so Ctrl-C
// raises KeyboardInterrupt) and the caller's own tick (progress callbacks). Signal handlers only
// run on the main thread, which is why native work runs on other threads and the caller's thread
// waits here.
#pragma once

#include <pybind11/pybind11.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <utility>

namespace treecopy_py {

namespace py = pybind11;

/// A Python exception raised on the waiting thread (by a signal handler or a callback), kept until
/// the native work has stopped and then raised again. Must be used with the GIL held.
class pending_exception {
 public:
  bool has() const noexcept { return error_.has_value(); }
  void keep(py::error_already_set&& e) {
    if (!error_) error_.emplace(std::move(e));
  }
  /// Raises the kept exception, if any.
  void rethrow() {
    if (error_) {
      py::error_already_set e = std::move(*error_);
      error_.reset();
      throw e;
    }
  }

 private:
  std::optional<py::error_already_set> error_;
};

/// Waits on cv under mutex (done() is called with it held; GIL held on entry and on return,
/// released in between) until done() holds. Every `tick`, and whenever woken, calls
/// on_wake(finished) with the GIL held and the lock released (finished: done() held, this is the
/// last call); on_wake may throw py::error_already_set, which is kept in `pending`. Pending signals
/// are checked on each wake; a raised one is kept in `pending` and stop() is called once. The wait
/// still goes on until done(): the native work must finish before Python can go on.
template <class Done, class OnWake, class Stop>
void wait_interruptibly(std::mutex& mutex, std::condition_variable& cv,
                        std::chrono::milliseconds tick, Done done, OnWake on_wake, Stop stop,
                        pending_exception& pending) {
  bool stopped = false;
  for (;;) {
    bool finished = false;
    {
      py::gil_scoped_release release;
      std::unique_lock lock(mutex);
      finished = cv.wait_for(lock, tick, done);
    }
    // GIL held again from here on.
    if (PyErr_CheckSignals() != 0) pending.keep(py::error_already_set());
    if (!pending.has()) {
      try {
        on_wake(finished);
      } catch (py::error_already_set& e) {
        pending.keep(std::move(e));
      }
    }
    if (pending.has() && !stopped) {
      stopped = true;
      stop();
    }
    if (finished) return;
  }
}

}  // namespace treecopy_py
