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
};

/// How many tasks the machine runs at once (oneTBB's default concurrency: the CPUs this process
/// may use).
unsigned scheduler_cores() noexcept;

/// The oneTBB scheduler: a task_arena of `jobs` slots and one task_group, no process-wide setting.
/// Starts the arena now, with nothing queued: throws what its start throws (std::bad_alloc, or
/// another std::exception when a thread cannot be started). plan_threads() in the copier made sure
/// that jobs - 1 threads can be started.
std::unique_ptr<scheduler> make_tbb_scheduler(unsigned jobs, stop_flags& stop);

}  // namespace treecopy::engine
