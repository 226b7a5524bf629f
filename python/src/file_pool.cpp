// file_pool: worker threads that copy queued single files through treecopy::copy_tree().
#include "file_pool.hpp"

#include <cerrno>
#include <exception>
#include <utility>

namespace treecopy_py {

file_pool::file_pool(unsigned workers, const treecopy::copy_options& per_file)
    : per_file_(per_file) {
  // Each file is one copy_tree() call on one worker: the parallelism is across files, so the
  // engine's own arena stays at one thread per call.
  per_file_.jobs = 1;
  if (workers == 0) workers = 1;
  workers_.reserve(workers);
  for (unsigned i = 0; i < workers; ++i) workers_.emplace_back([this] { run_worker(); });
}

file_pool::~file_pool() {
  cancel();
  {
    std::lock_guard lock(mutex_);
    shutdown_ = true;
  }
  work_.notify_all();
  for (auto& t : workers_) t.join();
}

bool file_pool::try_submit(file_job&& job) {
  {
    std::lock_guard lock(mutex_);
    if (stop_.stop_requested() || queue_.size() >= queue_capacity) return false;
    queue_.push_back(std::move(job));
  }
  work_.notify_one();
  return true;
}

bool file_pool::has_room_or_cancelled_locked() const {
  return stop_.stop_requested() || queue_.size() < queue_capacity;
}

bool file_pool::idle_locked() const { return queue_.empty() && running_ == 0; }

void file_pool::cancel() {
  {
    std::lock_guard lock(mutex_);
    stop_.request_stop();
    queue_.clear();
  }
  changed_.notify_all();
}

std::vector<file_failure> file_pool::take_failures() {
  std::lock_guard lock(mutex_);
  return std::exchange(failures_, {});
}

pool_counters file_pool::counters() const noexcept {
  return {files_done_.load(std::memory_order_relaxed), bytes_done_.load(std::memory_order_relaxed),
          failure_count_.load(std::memory_order_relaxed)};
}

void file_pool::run_worker() {
  std::unique_lock lock(mutex_);
  for (;;) {
    work_.wait(lock, [this] { return shutdown_ || !queue_.empty(); });
    if (queue_.empty()) return;  // shutdown with nothing left
    file_job job = std::move(queue_.front());
    queue_.pop_front();
    ++running_;
    lock.unlock();
    changed_.notify_all();  // room in the queue
    copy_one(job);
    lock.lock();
    --running_;
    changed_.notify_all();  // maybe idle now
  }
}

void file_pool::copy_one(const file_job& job) {
  treecopy::copy_options options = per_file_;
  options.merge = job.merge;
  file_failure failure;
  failure.seq = job.seq;
  bool failed = false;
  try {
    treecopy::copy_report report =
        treecopy::copy_tree(job.src, job.dst, options, nullptr, stop_.get_token());
    bytes_done_.fetch_add(report.bytes_copied, std::memory_order_relaxed);
    if (!report.errors.empty()) {
      // shutil.copy2 stops at its first failure: report the first one only.
      const treecopy::entry_error& e = report.errors.front();
      failure.code = e.code;
      failure.op = e.op;
      failure.path = e.path;
      failure.on_destination = e.side == treecopy::entry_side::destination;
      failed = true;
    } else if (report.error_count > 0 || report.cancelled) {
      failure.code = std::make_error_code(report.cancelled ? std::errc::operation_canceled
                                                           : std::errc::io_error);
      failure.op = treecopy::operation::cancelled;
      failure.path = job.dst;
      failure.on_destination = true;
      failed = true;
    }
  } catch (const treecopy::setup_error& e) {
    failure.code = e.code();
    failure.setup = true;
    failure.op = treecopy::operation::open_source;
    failure.path = e.path();
    // The engine names the path it checked: dst itself or dst's parent are about the destination.
    const std::string& p = e.path();
    failure.on_destination = p == job.dst || (p != job.src && job.dst.starts_with(p + "/"));
    failed = true;
  } catch (const std::bad_alloc&) {
    failure.code = std::make_error_code(std::errc::not_enough_memory);
    failure.path = job.src;
    failed = true;
  } catch (const std::exception&) {
    failure.code = std::make_error_code(std::errc::io_error);
    failure.path = job.src;
    failed = true;
  }
  files_done_.fetch_add(1, std::memory_order_relaxed);
  if (failed) {
    failure_count_.fetch_add(1, std::memory_order_relaxed);
    std::lock_guard lock(mutex_);
    failures_.push_back(std::move(failure));
  }
}

}  // namespace treecopy_py
