// file_pool: copies single files in parallel through treecopy::copy_tree(), for
// treecopy.copytree(). shutil.copytree() semantics (following symlinks, the ignore callable, no
// hard links, special files refused) are decided by the Python walk; each regular file it meets is
// handed to this pool, whose worker threads copy it with the engine (clone/copy_file_range, holes,
// mode, times, xattrs).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <stop_token>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "treecopy/treecopy.hpp"

namespace treecopy_py {

/// One file to copy. seq orders failures as the Python walk met the files.
struct file_job {
  std::uint64_t seq = 0;
  std::string src;  ///< file-system encoded path
  std::string dst;
  bool merge = false;  ///< dst may exist and is then replaced
};

/// The first failure of one file job.
struct file_failure {
  std::uint64_t seq = 0;
  std::error_code code;
  treecopy::operation op{};
  bool setup = false;           ///< thrown as setup_error (the file could not be started)
  bool on_destination = false;  ///< the failure is about the destination path, not the source
  std::string path;             ///< the path the engine named
};

/// Progress counters, bumped by workers with relaxed atomics.
struct pool_counters {
  std::uint64_t files_done = 0;
  std::uint64_t bytes_done = 0;
  std::uint64_t failures = 0;
};

/// A fixed set of worker threads and a bounded queue of file jobs. Not thread-safe itself: one
/// thread submits and waits (the Python thread running copytree).
class file_pool {
 public:
  /// Jobs in the queue before submit() blocks: bounds memory whatever the tree's size.
  static constexpr std::size_t queue_capacity = 1024;

  /// workers: thread count (at least 1). per_file: options of every copy_tree() call (jobs is
  /// forced to 1 and merge is taken from each job).
  file_pool(unsigned workers, const treecopy::copy_options& per_file);
  file_pool(const file_pool&) = delete;
  file_pool& operator=(const file_pool&) = delete;
  /// Cancels what is left and joins the workers.
  ~file_pool();

  /// Queues a job. Returns false without queuing when the queue is full (the caller waits with
  /// wait_for_room() and tries again) or when the pool was cancelled.
  bool try_submit(file_job&& job);
  /// True when a job can be queued now (or the pool was cancelled and submit is pointless).
  /// Call with mutex() held.
  bool has_room_or_cancelled_locked() const;
  /// True when every queued job has finished (or was dropped by cancel()). Call with mutex() held.
  bool idle_locked() const;
  /// Stops the copy: queued jobs are dropped, running copies are asked to stop.
  void cancel();
  bool cancelled() const noexcept { return stop_.stop_requested(); }

  /// Failures collected so far, handed over (the pool keeps none afterwards).
  std::vector<file_failure> take_failures();
  pool_counters counters() const noexcept;

  /// Waiters on room or idleness are woken through this pair.
  std::mutex& mutex() const noexcept { return mutex_; }
  std::condition_variable& changed() const noexcept { return changed_; }

 private:
  void run_worker();
  void copy_one(const file_job& job);

  treecopy::copy_options per_file_;
  std::stop_source stop_;
  mutable std::mutex mutex_;
  mutable std::condition_variable changed_;  // room in the queue, a job finished, cancel
  std::condition_variable work_;             // a job was queued, or shutdown
  std::deque<file_job> queue_;
  std::size_t running_ = 0;
  bool shutdown_ = false;
  std::vector<file_failure> failures_;
  std::atomic<std::uint64_t> files_done_{0};
  std::atomic<std::uint64_t> bytes_done_{0};
  std::atomic<std::uint64_t> failure_count_{0};
  std::vector<std::thread> workers_;
};

}  // namespace treecopy_py
