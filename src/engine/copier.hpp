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
#include <stop_token>
#include <string>
#include <string_view>
#include <vector>

#include "engine/context.hpp"
#include "engine/entry_copier.hpp"
#include "engine/reporter.hpp"
#include "engine/scheduler.hpp"
#include "engine/setup.hpp"
#include "engine/stream.hpp"
#include "plan/decide.hpp"
#include "plan/filter.hpp"
#include "treecopy/errors.hpp"
#include "treecopy/observer.hpp"
#include "treecopy/options.hpp"
#include "treecopy/report.hpp"

namespace treecopy::engine {

/// Runs one copy. Created and used by copy_tree() for a single call.
class copier final : private stream_owner, private entry_driver {
 public:
  /// hook: a distributed copy's (walk_hook.hpp); none for a copy on its own.
  copier(setup_result& setup, const copy_options& options, copy_observer* observer,
         std::stop_token stop, walk_hook* hook = nullptr);
  ~copier();
  copier(const copier&) = delete;
  copier& operator=(const copier&) = delete;

  /// Copies everything and returns the report.
  copy_report run();
  /// The counters workers bump, for a driver that sums the progress of several copies.
  const counters& counts() noexcept { return rep_.count(); }

 private:
  // The copy as a whole, and opening a directory pair (copier.cpp).
  void plan_threads();
  bool open_dir_pair(dir_node* node, bool via_parent);
  bool open_dst_dir(dir_node* node, int pdst, const char* dname, int& out);

  // The walker: directory tasks, batches, the descriptor budget, finalization (walker.cpp).
  void spawn_child(dir_node* node, const char* name, bool via_parent);
  void spawn_dir(dir_node* node, bool via_parent);
  void process_dir(dir_node* node, bool via_parent);
  void schedule_children(dir_node* node);
  void read_ignore_rules(dir_node* node);
  void run_batch(dir_node* node, std::uint32_t begin, std::uint32_t end);
  void copy_entries(dir_node* node, std::uint32_t begin, std::uint32_t end);
  void add_work(dir_node* node, std::int64_t n);
  void release_users(dir_node* node);
  void finish_child(dir_node* node);
  void finalize_dir(dir_node* node);
  void close_fds(dir_node* node);
  bool over_budget() const noexcept;
  void plan_descriptors();
  void run_root();

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
  std::stop_token stop_;
  stop_flags flags_;
  reporter rep_;

  unsigned jobs_ = 1;
  int dir_fd_budget_ = 64;
  bool sampler_wanted_ = false;  ///< a progress sampler thread, if one can be started
  std::atomic<int> open_dir_fds_{0};
  /// DST's file system: set when DST is opened, before any of its children is.
  dev_t dst_root_dev_ = 0;
  /// The directories never copied, merged into or removed: SRC and its ancestors (from setup)
  /// and DST's directory (created or merged into), set once when DST is opened, before any of its
  /// children is: a source directory that is DST is the copy itself (DST reached again through a
  /// bind mount or a link inside SRC).
  plan::guards guards_;

  dir_node top_;              ///< the virtual parent of SRC
  dir_node* root_ = nullptr;  ///< SRC itself when it is a directory
  int src_root_fd_ = -1;
  int dst_root_fd_ = -1;

  plan::filter filter_;
  link_table links_;
  std::unique_ptr<scheduler> sched_;
  stream_queue streams_{*this};
  /// Copies the entries; this walker is its driver.
  entry_copier entries_{{opt_, pol_, guards_, filter_, links_, rep_, flags_, *this}};
};

}  // namespace treecopy::engine
