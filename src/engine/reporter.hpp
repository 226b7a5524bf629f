// What one copy tells: the counters workers bump, per-entry errors, the observer's calls, the
// display paths of entries, and the thread that samples progress. Knows nothing of scheduling.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <stop_token>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "engine/context.hpp"
#include "engine/setup.hpp"
#include "treecopy/errors.hpp"
#include "treecopy/observer.hpp"
#include "treecopy/options.hpp"
#include "treecopy/report.hpp"

namespace treecopy::engine {

/// Whether new work may start. A failure under fail_fast stops the copy; the caller or the observer
/// cancels it (a stop that the report tells as cancelled).
class stop_flags {
 public:
  bool stopping() const noexcept { return stopping_.load(std::memory_order_relaxed); }
  bool cancelled() const noexcept { return cancelled_.load(std::memory_order_relaxed); }
  void request_stop() noexcept { stopping_.store(true, std::memory_order_relaxed); }
  void cancel() noexcept {
    cancelled_.store(true, std::memory_order_relaxed);
    request_stop();
  }
  /// The flag that data copies check between steps (fs::copy_control::cancel).
  const std::atomic<bool>* flag() const noexcept { return &stopping_; }

 private:
  std::atomic<bool> stopping_{false};   ///< no new entry may start
  std::atomic<bool> cancelled_{false};  ///< the caller or the observer asked to stop
};

/// The '/'-separated path of node from root (SRC's node: the child of a virtual parent, or root
/// when given); empty for root and for the virtual parent.
std::string rel_path(const dir_node* node, const dir_node* root);

/// Counts, errors and observer calls of one copy. Every method may be called from any worker.
class reporter {
 public:
  reporter(const setup_result& setup, const copy_options& options, copy_observer* observer,
           stop_flags& stop);
  ~reporter();
  reporter(const reporter&) = delete;
  reporter& operator=(const reporter&) = delete;

  /// SRC's directory node, for a reporter used without virtual parents (each pair's node tells
  /// its own paths: setup_result's displays from dir_node::pair).
  void set_root(const dir_node* root) noexcept { root_ = root; }
  counters& count() noexcept { return count_; }
  /// Whether the observer wants every entry (on_entry, on_remove).
  bool wants_entries() const noexcept { return want_entries_; }

  std::string rel_path(const dir_node* node) const { return engine::rel_path(node, root_); }
  /// The path of node's entry name as the caller wrote SRC or DST (dst_side), for messages.
  std::string display_path(const dir_node* node, std::string_view name, bool dst_side) const;

  /// A source that setup refused among several (missing, unreadable): counted and told as a
  /// failed entry, before the copy of the others starts.
  void report_refused(const entry_error& e);
  /// A failed entry: counted, told to the observer, kept in the report. ECANCELED after a stop
  /// is no failure and goes untold.
  void report(dir_node* node, std::string_view name, bool dst_side, operation op,
              std::error_code code);
  /// An entry copied (or, in a dry run, that would be). Inline, and for a C string name: its
  /// length is not computed unless the observer wants every entry.
  void entry_done(dir_node* node, const char* name, entry_kind kind) {
    count_done(kind);
    if (want_entries_) tell_entry(node, name, kind);
  }
  void entry_done(dir_node* node, std::string_view name, entry_kind kind) {
    count_done(kind);
    if (want_entries_) tell_entry(node, name, kind);
  }
  /// An entry left as it was (filters, --update): done, not copied.
  void skipped(std::uint64_t n = 1) noexcept {
    count_.skipped.fetch_add(n, std::memory_order_relaxed);
    count_.entries_done.fetch_add(n, std::memory_order_relaxed);
  }
  /// An entry of DST removed (path relative to node's destination directory).
  void removed(const dir_node* node, std::string_view path);

  /// Starts the clock of the copy's elapsed time.
  void start_clock() noexcept { start_ = std::chrono::steady_clock::now(); }
  /// Tells the observer that the workers start, then starts the progress sampler. Progress is a
  /// comfort: without a thread for it, the copy goes on and reports at the end.
  void start_sampler();
  /// Stops the sampler. Safe to call more than once.
  void stop_sampler();
  /// The report of the copy, after every task is done; tells the observer a last snapshot.
  copy_report finish();

 private:
  void count_done(entry_kind kind) noexcept {
    count_.copied[static_cast<std::size_t>(kind)].fetch_add(1, std::memory_order_relaxed);
    if (kind != entry_kind::directory) count_.entries_done.fetch_add(1, std::memory_order_relaxed);
  }
  void tell_entry(dir_node* node, std::string_view name, entry_kind kind);
  progress_snapshot snapshot() const;
  void sample_progress(const std::stop_token& done);

  const setup_result& setup_;
  const copy_options& opt_;
  copy_observer* observer_;
  stop_flags& stop_;
  bool want_entries_ = false;
  const dir_node* root_ = nullptr;
  counters count_;
  std::mutex report_mu_;  ///< one observer call at a time; guards errors_
  std::vector<entry_error> errors_;
  std::chrono::steady_clock::time_point start_;
  std::mutex sampler_mu_;  ///< only for sampler_cv_'s timed waits
  std::condition_variable_any sampler_cv_;
  std::jthread sampler_;
};

}  // namespace treecopy::engine
