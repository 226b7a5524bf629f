// Where a copy's tasks run: the small interface the walker is written against, and the oneTBB
// scheduler that implements it. Another driver (the workers of an MPI rank, a caller's own pool)
// implements the same two calls; this header includes nothing of oneTBB.
#pragma once

#include <functional>
#include <memory>

#include "engine/reporter.hpp"

namespace treecopy::engine {

/// Runs the tasks of one copy. Stopping early is not the scheduler's business: every task queued
/// still runs and, once stop_flags say stop, skips its entries (tasks own directory nodes that only
/// they finalize and free).
class scheduler {
 public:
  using task = std::function<void()>;
  virtual ~scheduler() = default;

  /// Queues t to run on some worker. Throws (std::bad_alloc) when it cannot; t never runs then.
  virtual void spawn(task t) = 0;
  /// Runs first and returns once it and every task spawned since are done. Rethrows what stopped
  /// the scheduler itself (a worker that could not start, no memory for a task), after asking the
  /// copy to stop and letting the queued tasks drain.
  virtual void run(task first) = 0;
  /// Called from a task that found work that takes long (a large file to copy): a scheduler that
  /// starts its workers or its progress sampler lazily starts them now.
  virtual void found_work() {}
  /// Whether the copy has outgrown a small one (the scheduler's workers started): what is worth
  /// setting up for many entries (small-file batches) waits for that.
  virtual bool started() const noexcept { return true; }
};

/// How many tasks the machine runs at once: the CPUs this process may use (oneTBB's default
/// concurrency), counted without starting oneTBB.
unsigned scheduler_cores() noexcept;

/// The oneTBB scheduler: a task_arena of `jobs` slots and one task_group, no process-wide setting,
/// started lazily. A small copy (a file, a few dozen entries) costs less than starting threads:
/// run() runs the tasks on the calling thread, newest first as a worker would, until the copy has
/// found work for more than one (`found`: many entries, a large file) or has run for a few
/// milliseconds; then the arena and its workers start with the tasks queued so far, and
/// `on_start` is called (the progress sampler starts then). Starting costs oneTBB's
/// initialization, a thread per worker and their spinning, which are several times the copy of a
/// small file. When the arena cannot start, the calling thread goes on alone. plan_threads() in
/// the copier made sure that jobs - 1 threads can be started.
std::unique_ptr<scheduler> make_tbb_scheduler(unsigned jobs, stop_flags& stop,
                                              const counters& found,
                                              std::function<void()> on_start);

}  // namespace treecopy::engine
