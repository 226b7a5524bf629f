// The copy engine: a tree of directory tasks on a scheduler (scheduler.hpp), entries copied with
// their metadata, the reporter, and large files on streams (stream.hpp).
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

/// The hard-link table's answer as the plan's decisions take it (one to one).
inline plan::link_answer to_answer(link_claim::kind k) noexcept {
  switch (k) {
    case link_claim::kind::first:
      return plan::link_answer::first;
    case link_claim::kind::wait:
      return plan::link_answer::wait;
    case link_claim::kind::link_to:
      return plan::link_answer::link_to;
    case link_claim::kind::copy:
      return plan::link_answer::copy;
  }
  return plan::link_answer::none;
}

/// Runs one copy. Created and used by copy_tree() for a single call.
class copier final : private stream_owner {
 public:
  copier(setup_result& setup, const copy_options& options, copy_observer* observer,
         std::stop_token stop);
  ~copier();
  copier(const copier&) = delete;
  copier& operator=(const copier&) = delete;

  /// Copies everything and returns the report.
  copy_report run();

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
  void run_batch(dir_node* node, std::uint32_t begin, std::uint32_t end);
  void copy_entries(dir_node* node, std::uint32_t begin, std::uint32_t end);
  void hand_off_rest(dir_node* node);
  void add_work(dir_node* node, std::int64_t n);
  void release_users(dir_node* node);
  void finish_child(dir_node* node);
  void finalize_dir(dir_node* node);
  void close_fds(dir_node* node);
  bool over_budget() const noexcept;
  void plan_descriptors();
  void run_root();

  // Entries (entries.cpp).
  void copy_entry(dir_node* node, const char* name, std::uint8_t dtype);
  void copy_by_stat(dir_node* node, const char* name, const struct stat& st);
  void dry_entry(dir_node* node, const char* name);
  void dry_waiters(std::vector<link_table::waiter> waiters, bool ok, ino_t dst_ino);
  /// Copies a regular file. claimed: the stat under which the caller claimed the first name of a
  /// hard-link group; replace: DST's entry of that name is to be removed once the source is open.
  void copy_regular(dir_node* node, const char* name, const struct stat* claimed = nullptr,
                    bool replace = false);
  bool stat_source(dir_node* node, const char* name, struct stat& st);
  /// Whether symlinks among node's source entries are followed: with -L all are; with -H only SRC
  /// itself (the one entry of the virtual parent).
  bool follows(const dir_node* node) const noexcept { return pol_.follows(node->is_top); }
  int src_nofollow(const dir_node* node) const noexcept { return follows(node) ? 0 : O_NOFOLLOW; }

  // Merge, update and delete (update.cpp).
  void merge_entry(dir_node* node, const char* name);
  bool up_to_date(dir_node* node, const char* name, const struct stat& src, const struct stat& dst);
  /// plan::decide_entry() with the I/O it asks for (the table's answer is left in c).
  plan::entry_decision decide(dir_node* node, const char* name, const plan::entry_facts& s,
                              const plan::entry_facts* d, const struct stat& src, link_claim& c,
                              const std::function<std::string()>& parent_path);
  bool same_link_target(dir_node* node, const char* name, off_t size);
  bool keep_entry(dir_node* node, const char* name, const struct stat& src, const struct stat& dst);
  std::error_code fix_meta(dir_node* node, const char* name, const struct stat& src,
                           const struct stat& dst, operation& op);
  void detect_time_granularity(int dfd);
  bool same_content(dir_node* node, const char* name);
  /// What remove_tree() did with an entry.
  enum class removal { removed, kept, failed };
  removal remove_tree(dir_node* node, int dirfd, const char* name, const std::string& sub,
                      const std::string& node_rel);
  void delete_extraneous(dir_node* node);
  bool excluded(dir_node* node, const std::string& rel_dir, const char* name, std::uint8_t& dtype);
  void copy_symlink(dir_node* node, const char* name, const struct stat& st);
  void copy_special(dir_node* node, const char* name, const struct stat& st);
  bool handle_links(dir_node* node, const char* name, const struct stat& st, bool& first);
  /// Whether creating this entry asks the hard-link table first (plan's claim_at_create).
  bool claims_at_create(const dir_node* node, const struct stat& st) const noexcept {
    plan::entry_context ctx;
    ctx.at_top = node->is_top;
    return plan::decide_entry(pol_, plan::entry_facts::of(st), nullptr, ctx).claim_at_create;
  }
  void link_waiters(dir_node* node, const char* name, const struct stat& st, bool ok);
  void make_link(dir_node* node, const char* name, int target_dir, const char* target_name);
  fs::unique_fd create_file(dir_node* node, const char* name, mode_t mode);
  template <class Create>  // defined and used in entries.cpp only
  bool create_replacing(dir_node* node, const char* name, operation op, Create&& create);
  bool replace_existing(dir_node* node, const char* name);
  bool try_clone(dir_node* node, const char* name, int sfd, int dfd, const struct stat& st,
                 bool& done);
  bool copy_bytes(dir_node* node, const char* name, int sfd, int dfd, const struct stat& st,
                  bool& changed);
  bool source_changed(int sfd, const struct stat& before, bool short_read) const noexcept;
  void finish_file(dir_node* node, const char* name, int sfd, fs::unique_fd& dfd,
                   const struct stat& st, bool first_link, bool changed = false);
  void discard_file(dir_node* node, const char* name);
  std::error_code apply_fd_meta(const dir_node* parent, int sfd, int dfd, const struct stat& st,
                                const fs::xattr_list* xattrs, operation& op);
  std::error_code apply_at_meta(const dir_node* parent, int src_dirfd, const char* sname,
                                const char* dname, const struct stat& st, operation& op);
  void create_unlisted_dir(dir_node* parent, const char* name, int psrc, int pdst);
  void big_file_done(big_file& f) override;
  mode_t created_mode(const struct stat& st) const noexcept;
  fs::copy_control data_control(const dir_node* node, const struct stat& st) noexcept override;
  /// Whether a file of node is copied between the two root file systems (SRC's and DST's), for
  /// which clone_state_ and cfr_refused_ speak.
  bool root_pair(const dir_node* node, const struct stat& st) const noexcept {
    return st.st_dev == top_.src_dev && !node->dst_foreign;
  }
  bool needs_chown(const struct stat& st, const dir_node* parent) const noexcept;

  std::string rel_path(const dir_node* node) const { return engine::rel_path(node, root_); }
  const char* dst_name(const dir_node* node, const char* name) const noexcept {
    return node->is_top ? setup_.dst_name.c_str() : name;
  }
  bool stopping() const noexcept { return flags_.stopping(); }
  void cancel() noexcept { flags_.cancel(); }

  setup_result& setup_;
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
  /// 0 unknown, 1 cloning works, 2 cannot clone between the root file systems.
  std::atomic<int> clone_state_{0};
  /// copy_file_range said EXDEV for a file copied between the root file systems: later such files
  /// go straight to sendfile, splice or read/write.
  std::atomic<bool> cfr_refused_{false};
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

  /// --dry-run --update: how many names of a DST inode (dev, ino) the real run would replace.
  std::mutex dry_mu_;
  std::map<std::pair<dev_t, ino_t>, nlink_t> dry_replaced_;

  plan::filter filter_;
  link_table links_;
  std::unique_ptr<scheduler> sched_;
  stream_queue streams_{*this};
};

}  // namespace treecopy::engine
