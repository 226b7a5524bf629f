// The copy engine: a tree of directory tasks on a scheduler (scheduler.hpp), entries copied by the
// entry copier (entry_copier.hpp), the reporter, and large files on streams (stream.hpp).
#pragma once

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <stop_token>
#include <string>
#include <string_view>
#include <vector>

#include "engine/context.hpp"
#include "engine/entry_copier.hpp"
#include "engine/reporter.hpp"
#include "engine/scheduler.hpp"
#include "engine/setup.hpp"
#include "engine/small_files.hpp"
#include "engine/stream.hpp"
#include "plan/decide.hpp"
#include "plan/filter.hpp"
#include "treecopy/errors.hpp"
#include "treecopy/observer.hpp"
#include "treecopy/options.hpp"
#include "treecopy/report.hpp"
#include "treecopy/treecopy.hpp"

namespace treecopy::engine {

/// What the copies of one call share, however many (SRC, DST) pairs it has: the stop flags, one
/// reporter (one report, one progress view), one scheduler (one pool) and the limits planned for
/// them (plan_threads(), plan_descriptors()).
struct shared_run {
  shared_run(const setup_result& first, const copy_options& options, copy_observer* observer)
      : rep(first, options, observer, flags) {}

  stop_flags flags;
  reporter rep;
  std::unique_ptr<scheduler> sched;
  unsigned jobs = 1;
  std::size_t pairs = 1;        ///< how many pairs share the run
  bool sampler_wanted = false;  ///< a progress sampler thread, if one can be started
  int dir_fd_budget = 64;
  unsigned stream_cap = 1;        ///< large-file chunks copied at once, by each pair
  std::size_t big_queue_cap = 4;  ///< large files that may wait for a stream, in each pair
  /// Small files copied in batches (small_files.hpp), as many as the descriptors allow.
  std::unique_ptr<small_batches> batches;
  /// Fewer threads could be started than wanted (RLIMIT_NPROC, RLIMIT_AS): no batches either,
  /// whose rings need kernel worker threads of this process.
  bool threads_scarce = false;
  std::atomic<int> open_dir_fds{0};
  /// One hard-link table for every pair: a file linked between two sources is linked in the copy.
  link_table links;
  /// With several pairs: each pair's DST once opened, guarded by every other pair (plan::guards).
  std::unique_ptr<plan::dst_roots> dsts;
  std::size_t copiers_made = 0;  ///< the next copier's index among the pairs
};

/// Plans the descriptors of a run of pairs (walker.cpp): fewer workers under a low limit, the
/// budget of directories kept open, the large-file queues; throws setup_error below what one needs.
void plan_descriptors(shared_run& run, std::size_t pairs, const std::string& dst_display);

class copier;
class walk_hook;

/// The copy of every pair of setups (each validated by prepare()) on one shared pool, with one
/// report. Built first (it plans threads and descriptors, and throws setup_error below what one
/// copy needs, before anything is created), then run once.
class pair_run {
 public:
  /// hook: a distributed copy's (walk_hook.hpp), for its one pair; none for a copy on its own.
  pair_run(std::vector<setup_result>& setups, const copy_options& options, copy_observer* observer,
           std::stop_token stop, walk_hook* hook = nullptr);
  ~pair_run();
  pair_run(const pair_run&) = delete;
  pair_run& operator=(const pair_run&) = delete;

  /// Copies everything and returns the report; refused holds the sources that setup found missing
  /// or unreadable among several, told as entry errors first. Throws setup_error when the pool
  /// cannot start (nothing created then).
  copy_report run(const std::vector<entry_error>& refused = {});
  /// The counters workers bump, for a driver that sums the progress of several runs.
  const counters& counts() noexcept { return shared_.rep.count(); }

 private:
  std::vector<setup_result>& setups_;
  std::stop_token stop_;
  shared_run shared_;
  std::vector<std::unique_ptr<copier>> copiers_;
};

/// pair_run's whole life in one call.
copy_report run_pairs(std::vector<setup_result>& setups, const std::vector<entry_error>& refused,
                      const copy_options& options, copy_observer* observer, std::stop_token stop);

/// Copies one (SRC, DST) pair on a run shared with the other pairs of the call.
class copier final : private stream_owner, private entry_driver {
 public:
  /// hook: a distributed copy's (walk_hook.hpp); none for a copy on its own.
  copier(setup_result& setup, const copy_options& options, shared_run& run,
         walk_hook* hook = nullptr);
  ~copier();
  copier(const copier&) = delete;
  copier& operator=(const copier&) = delete;

  /// Before the scheduler runs: the virtual parent of SRC and what the entry copier needs of it.
  void open_top();
  /// With several pairs, before any pair's first task: SRC's directory and DST's opened (DST
  /// made and published to the other pairs), so that no pair's walk can meet another pair's DST
  /// before it is guarded. Nothing when SRC is not a directory.
  void open_root();
  /// The first task of this pair: SRC's directory task, or the copy of SRC when not a directory.
  void run_root();
  /// Once the scheduler is done: whether every task of this pair's walk ran to its end (SRC's
  /// directory finalized). Not so only when work was lost, which the run must not report as done.
  bool walk_finished() const noexcept {
    return top_.pending.load(std::memory_order_acquire) == 1;  // its own count, no child's
  }

 private:
  // Opening a directory pair (copier.cpp).
  void check_listed();
  void open_previous();
  bool open_dir_pair(dir_node* node, bool via_parent);
  bool open_dst_dir(dir_node* node, int pdst, const char* dname, int& out);

  // The walker: directory tasks, batches, the descriptor budget, finalization (walker.cpp).
  void spawn_child(dir_node* node, const char* name, bool via_parent);
  void spawn_dir(dir_node* node, bool via_parent);
  void process_dir(dir_node* node, bool via_parent);
  bool open_node(dir_node* node, bool via_parent);
  void list_node(dir_node* node, bool via_parent, bool opened);
  void schedule_children(dir_node* node);
  void read_ignore_rules(dir_node* node);
  void run_batch(dir_node* node, std::uint32_t begin, std::uint32_t end, bool shared = false);
  bool hand_off_batch(dir_node* node, std::uint32_t begin, std::uint32_t end);
  void copy_entries(dir_node* node, std::uint32_t begin, std::uint32_t end);
  void add_work(dir_node* node, std::int64_t n);
  void release_users(dir_node* node);
  void finish_child(dir_node* node);
  void finalize_dir(dir_node* node);
  void close_fds(dir_node* node);
  bool over_budget() const noexcept;

  // What the entry copier and the streams hand back to the walk (walker.cpp).
  void descend(dir_node* node, const char* name) override;
  void large_file_ahead(dir_node* node) override;
  bool take_large_file(dir_node* node, const char* name, fs::unique_fd& sfd, fs::unique_fd& dfd,
                       const struct stat& st, bool first_link) override;
  void waiter_done(dir_node* node) override;
  void big_file_done(big_file& f) override;
  fs::copy_control data_control(const dir_node* node, const struct stat& st) noexcept override;
  /// Whether symlinks among node's source entries are followed: with -L all are; with -H only SRC
  /// itself (the one entry of the virtual parent).
  bool follows(const dir_node* node) const noexcept { return pol_.follows(node->is_top); }
  int src_nofollow(const dir_node* node) const noexcept { return follows(node) ? 0 : O_NOFOLLOW; }

  std::string rel_path(const dir_node* node) const { return engine::rel_path(node, root_); }
  const char* dst_name(const dir_node* node, const char* name) const noexcept {
    return node->is_top ? setup_.dst_name.c_str() : name;
  }
  bool stopping() const noexcept { return flags_.stopping(); }
  void cancel() noexcept { flags_.cancel(); }

  setup_result& setup_;
  walk_hook* hook_ = nullptr;
  copy_options opt_;  ///< the caller's options (merge/update/checksum: read pol_)
  /// The options normalized in setup (prepare) and the process's ids; its mtime window widens
  /// when DST is opened (detect_time_granularity), before any of its children is.
  plan::policy pol_;
  shared_run& run_;
  stop_flags& flags_;
  reporter& rep_;
  const unsigned jobs_;
  /// DST's file system: set when DST is opened, before any of its children is.
  dev_t dst_root_dev_ = 0;
  /// The directories never copied, merged into or removed: SRC and its ancestors (from setup)
  /// and DST's directory (created or merged into), set once when DST is opened, before any of its
  /// children is: a source directory that is DST is the copy itself (DST reached again through a
  /// bind mount or a link inside SRC).
  plan::guards guards_;

  dir_node top_;              ///< the virtual parent of SRC
  dir_node* root_ = nullptr;  ///< SRC itself when it is a directory
  bool root_opened_ = false;  ///< open_root() opened root_'s pair
  int src_root_fd_ = -1;
  int dst_root_fd_ = -1;

  plan::filter filter_;
  std::vector<fs::unique_fd> prev_;  ///< --link-dest: PREV's counterparts of SRC's directory
  /// DST's root once finalized, with other pairs: their names of a hard-link group first copied
  /// here are linked from it (link_claim::target_root) until the run ends.
  fs::unique_fd kept_dst_root_;
  stream_queue streams_{*this};
  /// Copies the entries; this walker is its driver.
  entry_copier entries_{{opt_, pol_, guards_, filter_, run_.links, rep_, flags_, *this}};
};

/// The workers a copy of these pairs starts with (treecopy::jobs_for()): options.jobs, or
/// default_jobs(), or one per core when every source and destination is on tmpfs or ramfs, asked
/// of the file systems by path before setup opens them, as pair_run does of what setup opened.
unsigned jobs_for(std::span<const copy_pair> pairs, const copy_options& options) noexcept;

}  // namespace treecopy::engine
