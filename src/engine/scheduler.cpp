// The oneTBB scheduler (scheduler.hpp): the only code of the engine that knows oneTBB.
#include "engine/scheduler.hpp"

#include <oneapi/tbb/info.h>
#include <oneapi/tbb/task_arena.h>
#include <oneapi/tbb/task_group.h>
#include <pthread.h>

#include <algorithm>
#include <exception>
#include <memory>
#include <utility>
#include <vector>

#include "engine/limits.hpp"

namespace treecopy::engine {
namespace {

// Threads of the copy's own that work in its arena beside TBB's workers. TBB starts at most
// (cores - 1) workers unless a process-wide global_control raises that ceiling, which would also
// change it for every other user of TBB in the process (and several copies at once would undo each
// other's). Copies block on I/O, so -j may ask for more workers than cores: the rest are these
// threads. Each takes one of the arena's slots reserved for external threads and works on the
// arena's tasks while it waits for a deferred task of its own, which release() drops. They are
// started with pthread_create and TBB's stack size: a thread that cannot be started is one worker
// fewer, never an abort (see plan_threads()).
class arena_threads {
 public:
  explicit arena_threads(tbb::task_arena& arena) noexcept : arena_(arena) {}
  ~arena_threads() { release(); }
  arena_threads(const arena_threads&) = delete;
  arena_threads& operator=(const arena_threads&) = delete;

  /// Starts up to n threads into the arena; fewer when no more can be started.
  void start(unsigned n) noexcept {
    pthread_attr_t attr;
    if (::pthread_attr_init(&attr) != 0) return;
    ::pthread_attr_setstacksize(&attr, worker_stack_size);
    try {
      members_.reserve(n);
      for (unsigned i = 0; i < n; ++i) {
        auto m = std::make_unique<member>();
        m->arena = &arena_;
        m->done = m->waits.defer([] {});
        if (::pthread_create(&m->thread, &attr, &member::work, m.get()) != 0) break;
        members_.push_back(std::move(m));
      }
    } catch (...) {
      // Out of memory: the threads started so far work, the others are not there.
    }
    ::pthread_attr_destroy(&attr);
  }

  /// Lets the threads leave the arena once its work is done, and joins them. A deferred task that
  /// is destroyed without running ends the wait on it as if it had run.
  void release() noexcept {
    for (const auto& m : members_) m->done = tbb::task_handle();
    for (const auto& m : members_) ::pthread_join(m->thread, nullptr);
    members_.clear();
  }

 private:
  struct member {
    tbb::task_arena* arena = nullptr;
    tbb::task_group waits;
    tbb::task_handle done;
    pthread_t thread{};
    static void* work(void* self) {
      auto* m = static_cast<member*>(self);
      try {
        m->arena->execute([m] { m->waits.wait(); });
      } catch (...) {
        // The tasks' failures are rethrown to the thread that waits for the copy's task group.
      }
      return nullptr;
    }
  };
  tbb::task_arena& arena_;
  std::vector<std::unique_ptr<member>> members_;
};

class tbb_scheduler final : public scheduler {
 public:
  tbb_scheduler(unsigned jobs, stop_flags& stop)
      : jobs_(jobs),
        own_(jobs - std::min(jobs, scheduler_cores())),
        arena_(static_cast<int>(jobs), 1 + own_),
        stop_(stop),
        tasks_(std::make_unique<tbb::task_group>()) {
    // Started here, with nothing queued yet: an arena whose start failed cannot be used again, not
    // even to wait (it spins on its half-done start).
    arena_.initialize();
  }

  void spawn(task t) override { tasks_->run(std::move(t)); }
  void run(task first) override;

 private:
  // Of the jobs_ threads, the calling one and TBB's workers (at most cores - 1 of them: see
  // arena_threads) run the tasks, and threads of our own the rest. The arena asks TBB for no more
  // workers than that: TBB never tries to start a worker that the copy did not plan for (failing,
  // it would end the process).
  unsigned jobs_;
  unsigned own_;  ///< threads of our own beside TBB's workers
  tbb::task_arena arena_;
  stop_flags& stop_;
  std::unique_ptr<tbb::task_group> tasks_;
};

// TBB throws from here when it cannot start a worker thread or allocate a task; the tasks already
// queued must still run before the group may be destroyed, or its destructor waits for them
// forever: stop (they then skip their entries) and wait again, a bounded number of times, since
// each wait may meet the same failure.
void tbb_scheduler::run(task first) {
  arena_threads extra(arena_);
  std::exception_ptr failure;
  try {
    extra.start(own_);
    arena_.execute([&] {
      tasks_->run(std::move(first));
      tasks_->wait();
    });
    return;
  } catch (...) {
    failure = std::current_exception();
  }
  stop_.cancel();
  for (unsigned attempt = 0; attempt <= jobs_ + 1; ++attempt) {
    bool drained = false;
    try {
      arena_.execute([&] { tasks_->wait(); });
      drained = true;
    } catch (...) {
    }
    if (drained) std::rethrow_exception(failure);
  }
  // TBB keeps failing: the queued tasks can no longer run. Leave the group to the process's end
  // rather than wait for it forever.
  (void)tasks_.release();
  std::rethrow_exception(failure);
}

}  // namespace

unsigned scheduler_cores() noexcept {
  return static_cast<unsigned>(std::max(1, tbb::info::default_concurrency()));
}

std::unique_ptr<scheduler> make_tbb_scheduler(unsigned jobs, stop_flags& stop) {
  return std::make_unique<tbb_scheduler>(jobs, stop);
}

}  // namespace treecopy::engine
