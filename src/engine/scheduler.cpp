// The oneTBB scheduler (scheduler.hpp): the only code of the engine that knows oneTBB.
#include "engine/scheduler.hpp"

#include <oneapi/tbb/info.h>
#include <oneapi/tbb/task_arena.h>
#include <oneapi/tbb/task_group.h>
#include <pthread.h>
#include <sched.h>
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <exception>
#include <memory>
#include <mutex>
#include <new>
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
    std::unique_ptr<member> m;
    try {
      members_.reserve(n);
      for (unsigned i = 0; i < n; ++i) {
        m = std::make_unique<member>();
        m->arena = &arena_;
        m->done = m->waits.defer([] {});
        if (::pthread_create(&m->thread, &attr, &member::work, m.get()) != 0) break;
        members_.push_back(std::move(m));
      }
    } catch (...) {
      // Out of memory: the threads started so far work, the others are not there. oneTBB counts
      // a deferred task before it allocates it: a group whose defer() failed would wait for it
      // forever when destroyed, so the member is left to the process's end.
      if (m && !m->done) (void)m.release();
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

// The arena and its workers, once a copy has work for them: tasks come in from the calling thread
// while it is outside the arena (the tasks it had queued, and those it spawns until it joins)
// and from inside (every worker's spawns).
// The copy's tasks are counted here rather than by waiting for their task group: oneTBB counts a
// task in its group before it allocates it, and a task it could not allocate (or spawn) stays
// counted, so a wait for the group would never end. A task that throws would also cancel the
// group, and oneTBB would then drop the tasks queued (and the directories they own). So every task
// counts itself in outstanding_ and never lets an exception out; join() waits on a group of its
// own, whose one deferred task the last of them drops.
class tbb_pool {
 public:
  // Of the jobs threads, the calling one and TBB's workers (at most cores - 1 of them: see
  // arena_threads) run the tasks, and threads of our own the rest. The arena asks TBB for no more
  // workers than that: TBB never tries to start a worker that the copy did not plan for (failing,
  // it would end the process). Started here, with nothing queued yet: an arena whose start failed
  // cannot be used again, not even to wait (it spins on its half-done start).
  tbb_pool(unsigned jobs, stop_flags& stop)
      : own_(jobs - std::min(jobs, scheduler_cores())),
        arena_(static_cast<int>(jobs), 1 + own_),
        stop_(stop),
        tasks_(std::make_unique<tbb::task_group>()),
        finish_(std::make_unique<tbb::task_group>()),
        extra_(arena_) {
    try {
      finish_handle_ = finish_->defer([] {});
    } catch (...) {
      (void)finish_.release();  // it counts a task that is not there: never wait for it
      (void)tasks_.release();
      throw;
    }
    arena_.initialize();
  }
  ~tbb_pool() {
    // A group that counts a task it could not allocate would wait for it forever.
    if (lost_.load(std::memory_order_relaxed)) (void)tasks_.release();
  }
  tbb_pool(const tbb_pool&) = delete;
  tbb_pool& operator=(const tbb_pool&) = delete;

  /// From a thread outside the arena: queued in the arena, where a worker takes it. One enqueued
  /// task may spawn many: a worker runs them as if it had spawned them itself. Throws when it
  /// cannot: t is then left to the caller, as it was.
  void enqueue(scheduler::task& t) { submit(t, true); }
  /// From a task in the arena; as enqueue().
  void spawn(scheduler::task& t) { submit(t, false); }
  /// Runs t on this thread (a task of the pool that could not spawn it), keeping what it throws
  /// as a task's failure.
  void run_here(scheduler::task& t) noexcept {
    try {
      t();
    } catch (...) {
      note_failure();
    }
  }
  /// Starts the copy's own threads beside TBB's workers.
  void start_extra() noexcept { extra_.start(own_); }
  /// The calling thread joins the arena until every task is done; see scheduler::run().
  void join();

 private:
  // A task and whether it ran: a spawn that failed takes it back unless it ran (oneTBB may
  // report a failure after the task was queued).
  struct ticket {
    explicit ticket(scheduler::task&& t) noexcept : body(std::move(t)) {}
    scheduler::task body;
    std::atomic<bool> claimed{false};
  };
  void submit(scheduler::task& t, bool from_outside);
  void execute(ticket& k) noexcept;
  void done_one() noexcept;
  void note_failure() noexcept;

  unsigned own_;  ///< threads of our own beside TBB's workers
  tbb::task_arena arena_;
  stop_flags& stop_;
  std::unique_ptr<tbb::task_group> tasks_;
  std::unique_ptr<tbb::task_group> finish_;   ///< join() waits for it; one deferred task
  tbb::task_handle finish_handle_;            ///< dropped when outstanding_ reaches zero
  std::atomic<std::int64_t> outstanding_{1};  ///< tasks queued or running, + 1 until join()
  std::atomic<bool> lost_{false};             ///< tasks_ counts a task that will never run
  std::mutex failure_mu_;
  std::exception_ptr failure_;  ///< the first exception a task let out
  arena_threads extra_;
};

void tbb_pool::submit(scheduler::task& t, bool from_outside) {
  auto k = std::make_shared<ticket>(std::move(t));  // t is untouched when this throws
  outstanding_.fetch_add(1, std::memory_order_relaxed);
  try {
    if (from_outside)
      arena_.enqueue(tasks_->defer([this, k] { execute(*k); }));
    else
      tasks_->run([this, k] { execute(*k); });
  } catch (...) {
    lost_.store(true, std::memory_order_relaxed);
    if (k->claimed.exchange(true)) return;  // it was queued after all, and runs
    t = std::move(k->body);
    done_one();
    throw;
  }
}

void tbb_pool::execute(ticket& k) noexcept {
  if (k.claimed.exchange(true)) return;  // its spawn failed, and the spawner took it back
  // What a task throws is kept from oneTBB, which would cancel the group and drop the queued
  // tasks: they run, and skip their entries after the stop.
  run_here(k.body);
  scheduler::task().swap(k.body);  // what it holds is released before the count says done
  done_one();
}

void tbb_pool::note_failure() noexcept {
  stop_.cancel();
  std::lock_guard lock(failure_mu_);
  if (!failure_) failure_ = std::current_exception();
}

void tbb_pool::done_one() noexcept {
  if (outstanding_.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
  finish_handle_ = tbb::task_handle();  // a deferred task destroyed unrun ends the wait on it
  outstanding_.notify_all();
}

// Waits in the arena, running tasks, until the last one is done. Joining the arena may itself
// fail (no memory): a few attempts, then the workers finish the tasks while this thread waits.
void tbb_pool::join() {
  done_one();  // join()'s own count
  for (int attempt = 0; attempt < 3; ++attempt) {
    try {
      arena_.execute([&] { finish_->wait(); });
      break;
    } catch (...) {
      stop_.cancel();
    }
  }
  for (std::int64_t n; (n = outstanding_.load(std::memory_order_acquire)) != 0;)
    outstanding_.wait(n, std::memory_order_acquire);
  extra_.release();
  if (!lost_.load(std::memory_order_relaxed)) {
    // The last task may still be leaving oneTBB's group; a group is destroyed only once empty.
    try {
      arena_.execute([&] { tasks_->wait(); });
    } catch (...) {
      lost_.store(true, std::memory_order_relaxed);
    }
  }
  std::lock_guard lock(failure_mu_);
  if (failure_) std::rethrow_exception(failure_);
}

class tbb_scheduler;
// The scheduler whose run() the calling thread is in, while it runs tasks itself (outside the
// arena): its spawns go to the local queue, or to the arena's shared queue once the pool runs.
thread_local tbb_scheduler* running_here = nullptr;

class tbb_scheduler final : public scheduler {
 public:
  tbb_scheduler(unsigned jobs, stop_flags& stop, const counters& found,
                std::function<void()> on_start)
      : jobs_(jobs), stop_(stop), found_(found), on_start_(std::move(on_start)) {}

  void spawn(task t) override;
  void run(task first) override;
  void found_work() override;
  /// Set before the pool's threads start, read by them after: no other synchronization needed.
  bool started() const noexcept override { return started_; }

 private:
  // Entries found, bytes of files found, time run alone: past any of these the copy is no longer
  // small and workers pay for themselves. The first two catch a tree's or a large file's work as
  // soon as it is listed or opened; the time is for slow file systems, where even a few entries
  // are worth requests in parallel, and for progress, which starts with the pool. The time counts
  // only when the calling thread spent it waiting for the file system (it slept in a system call)
  // or working (its CPU time): on a busy machine a small copy in memory is often preempted for
  // longer than time_alone, and starting the pool then (oneTBB's initialization, threads that
  // compete for the same busy cores) costs more than the copy it would share.
  static constexpr std::uint64_t entries_alone = 64;
  static constexpr std::uint64_t bytes_alone = 1 << 20;
  static constexpr std::chrono::milliseconds time_alone{5};
  // Once time_alone has passed without a wait or that much CPU time, how long until the thread's
  // times are read again (a system call: not at every spawn).
  static constexpr std::chrono::milliseconds recheck_alone{1};

  bool worth_starting() noexcept;
  bool waited_or_worked() noexcept;
  void start_pool();

  unsigned jobs_;
  stop_flags& stop_;
  const counters& found_;
  std::function<void()> on_start_;
  bool started_ = false;  ///< on_start_ called and, with jobs_ > 1, pool_ tried (once)
  std::chrono::steady_clock::time_point begun_;
  std::chrono::steady_clock::time_point next_look_;  ///< when waited_or_worked() may be asked
  struct rusage begun_usage_ {};                     ///< the calling thread's, at begun_
  bool usage_known_ = false;
  std::vector<task> local_;  ///< queued by the calling thread before the pool starts
  std::unique_ptr<tbb_pool> pool_;
};

bool tbb_scheduler::worth_starting() noexcept {
  if (found_.entries_found.load(std::memory_order_relaxed) >= entries_alone ||
      found_.bytes_found.load(std::memory_order_relaxed) >= bytes_alone)
    return true;
  const auto now = std::chrono::steady_clock::now();
  if (now - begun_ < time_alone || now < next_look_) return false;
  if (waited_or_worked()) return true;
  next_look_ = now + recheck_alone;
  return false;
}

// Whether the calling thread, since run() began, slept in a system call (a voluntary context
// switch: a file system that answers slowly, a full pipe) or ran for time_alone on a CPU. Without
// its times (getrusage failed) the elapsed time alone decides, as it always did.
bool tbb_scheduler::waited_or_worked() noexcept {
  struct rusage now {};
  if (!usage_known_ || ::getrusage(RUSAGE_THREAD, &now) != 0) return true;
  auto usec = [](const struct timeval& t) {
    return std::chrono::seconds(t.tv_sec) + std::chrono::microseconds(t.tv_usec);
  };
  const auto cpu = usec(now.ru_utime) + usec(now.ru_stime) -
                   (usec(begun_usage_.ru_utime) + usec(begun_usage_.ru_stime));
  return now.ru_nvcsw > begun_usage_.ru_nvcsw || cpu >= time_alone;
}

// Hands the queued tasks to a new pool. Without one (-j 1, or it could not start) the calling
// thread goes on alone: a worker that cannot be started is one worker fewer, never an abort.
void tbb_scheduler::start_pool() {
  started_ = true;
  if (jobs_ > 1) {
    try {
      // pool_ is set before any task can reach a worker: their spawns go to it.
      pool_ = std::make_unique<tbb_pool>(jobs_, stop_);
      auto queued = std::make_shared<std::vector<task>>(std::move(local_));
      local_.clear();
      try {
        // A task that cannot be spawned (no memory) runs right here instead.
        task hand_over = [pool = pool_.get(), queued] {
          for (task& t : *queued) {
            try {
              pool->spawn(t);
            } catch (const std::bad_alloc&) {
              pool->run_here(t);
            }
          }
        };
        pool_->enqueue(hand_over);
        pool_->start_extra();
      } catch (...) {
        // Nothing reached the arena (no memory, or oneTBB could not start a worker): the tasks
        // are run here, as without a pool.
        local_ = std::move(*queued);
        pool_.reset();
      }
    } catch (const std::exception&) {
      // No memory, or the arena's start failed (a thread could not be started): tbb_pool's
      // constructor threw and nothing was handed over.
      pool_.reset();
    }
  }
  try {
    if (on_start_) on_start_();
  } catch (...) {
    // Progress is a comfort: the copy goes on without it (and spawn()'s task is queued already).
  }
}

void tbb_scheduler::found_work() {
  if (running_here == this && !started_ && worth_starting()) start_pool();
}

void tbb_scheduler::spawn(task t) {
  if (running_here != this) return pool_->spawn(t);
  if (pool_) return pool_->enqueue(t);
  local_.push_back(std::move(t));
  if (!started_ && worth_starting()) start_pool();
}

// The calling thread runs the tasks itself until the copy is worth a pool (spawn() and the loop
// check), then joins the pool. A task's failure is rethrown once every queued task has run (they
// skip their entries after the stop), as the pool does.
void tbb_scheduler::run(task first) {
  begun_ = std::chrono::steady_clock::now();
  next_look_ = begun_;
  usage_known_ = ::getrusage(RUSAGE_THREAD, &begun_usage_) == 0;
  std::exception_ptr failure;
  tbb_scheduler* outer = std::exchange(running_here, this);
  local_.push_back(std::move(first));
  while (!pool_ && !local_.empty()) {
    if (!started_ && worth_starting()) {
      start_pool();
      if (pool_) break;
    }
    task t = std::move(local_.back());
    local_.pop_back();
    try {
      t();
    } catch (...) {
      if (!failure) failure = std::current_exception();
      stop_.cancel();
    }
  }
  running_here = outer;
  if (pool_) {
    try {
      pool_->join();
    } catch (...) {
      if (!failure) failure = std::current_exception();
    }
  }
  if (failure) std::rethrow_exception(failure);
}

}  // namespace

// oneTBB counts the CPUs of the process's affinity mask (without hwloc, which it probes for by
// loading libraries): the same count, without starting oneTBB for it.
unsigned scheduler_cores() noexcept {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (::sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0)
    return static_cast<unsigned>(CPU_COUNT(&set));
  return static_cast<unsigned>(std::max(1, tbb::info::default_concurrency()));
}

std::unique_ptr<scheduler> make_tbb_scheduler(unsigned jobs, stop_flags& stop,
                                              const counters& found,
                                              std::function<void()> on_start) {
  return std::make_unique<tbb_scheduler>(jobs, stop, found, std::move(on_start));
}

}  // namespace treecopy::engine
