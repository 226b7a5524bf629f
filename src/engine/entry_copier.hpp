// The entry copier: copies one entry of a directory (regular file, symlink, special file, hard
// link) with its metadata, and decides what --merge, --update and --delete do with it. It knows
// nothing of how work is scheduled: whatever concerns the walk (a directory found, a large file,
// the names of a hard-link group that waited) goes to the driver through entry_driver. A driver
// other than the walker (a process of a distributed copy, a copytree handing over subtrees) builds
// one over its own directory nodes and calls copy().
#pragma once

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "engine/context.hpp"
#include "engine/reporter.hpp"
#include "fs/sys.hpp"
#include "plan/decide.hpp"
#include "plan/filter.hpp"
#include "treecopy/errors.hpp"
#include "treecopy/options.hpp"

namespace treecopy::engine {

struct big_file;     // stream.hpp
struct small_batch;  // small_files.hpp

/// Whether a file has fewer blocks than its size needs: it may have holes.
bool looks_sparse(const struct stat& st) noexcept;

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

/// The kind of entry a stat's mode says.
entry_kind kind_of(mode_t mode) noexcept;

/// One entry of a directory: the directory's node (its src_fd, and dst_fd unless a dry run has no
/// destination, open), the entry's name, and its type as the listing gave it (DT_UNKNOWN when the
/// file system did not say; DT_REG saves a stat).
struct entry_ref {
  dir_node* node;
  const char* name;
  std::uint8_t dtype = DT_UNKNOWN;
};

/// What copying one entry hands back to the driver that walks the tree: the only points where it
/// touches how work is scheduled.
class entry_driver {
 public:
  /// node/name is a directory: the driver descends into it (or not) as its walk sees fit.
  virtual void descend(dir_node* node, const char* name) = 0;
  /// A file of node of 1 MiB or more is about to be copied: a good moment to give the entries
  /// after it to other workers.
  virtual void large_file_ahead(dir_node* node) = 0;
  /// A file of big_file_threshold or more, open on both sides: true when the driver takes it (it
  /// copies the chunks, with data_control(), then calls entry_copier::finish_large_file()); false
  /// and the entry copier copies it itself.
  virtual bool take_large_file(dir_node* node, const char* name, fs::unique_fd& sfd,
                               fs::unique_fd& dfd, const struct stat& st, bool first_link) = 0;
  /// A name that waited in the hard-link table is done (link_table::claim() counted it in its
  /// node's users and pending).
  virtual void waiter_done(dir_node* node) = 0;

 protected:
  ~entry_driver() = default;
};

/// What an entry copier works with, owned by the driver and outliving the entry copier.
struct entry_services {
  const copy_options& options;  ///< the caller's (merge/update/checksum: read policy)
  /// The normalized options; detect_time_granularity() widens its mtime window.
  plan::policy& policy;
  const plan::guards& guards;  ///< what --update and --delete never remove
  const plan::filter& filter;
  link_table& links;
  reporter& rep;
  stop_flags& flags;
  entry_driver& driver;
};

/// Copies entries one at a time. Every method may be called from any thread at once; failures are
/// reported (services.rep), nothing throws out of copy().
class entry_copier {
 public:
  explicit entry_copier(const entry_services& services) noexcept;
  entry_copier(const entry_copier&) = delete;
  entry_copier& operator=(const entry_copier&) = delete;

  /// Where the copy is rooted, set before the first entry: SRC's device (clone and
  /// copy_file_range failures are remembered for SRC's and DST's file systems only), the name
  /// SRC's own entry gets in DST's parent (when SRC is not a directory), and DST's root directory
  /// (hard links are made by paths from it; -1 until it is open).
  struct roots {
    dev_t src_dev = 0;
    std::string dst_name;
    int dst_fd = -1;
    /// Other pairs share the run's hard-link table: SRC itself, a file, claims its inode too.
    bool shared_links = false;
    /// With other pairs: the file system of DST's parent (top_dev), and of DST once it is open
    /// (dst_dev), that hard-link groups are kept per (0 with one pair: one file system is meant).
    dev_t top_dev = 0;
    dev_t dst_dev = 0;
    /// --link-dest: each PREV's counterpart of SRC's directory, in order (those that exist).
    std::vector<int> prev_fds;
    /// --link-dest, SRC a file: each PREV's directory, in order, and the name SRC's copy has there.
    std::vector<int> prev_parent_fds;
    std::string prev_name;
    /// A dry run: DST's parent, the directory whose file system DST's would-be entries are on.
    int dry_parent_fd = -1;
    /// A unit of a distributed copy: SRC's path from the whole copy's SRC (setup_result).
    std::string unit_rel;
  };
  roots& where() noexcept { return roots_; }

  /// node's path as filters that match paths see it: from the whole copy's SRC.
  std::string filter_dir(const dir_node* node) const;

  /// Copies (merges, updates, or in a dry run records) one entry that is not known to be a
  /// directory; a directory goes to driver.descend().
  void copy(const entry_ref& e);

  /// Every chunk of a file taken by driver.take_large_file() is done (f.error tells how): applies
  /// the metadata, or discards it, and closes it.
  void finish_large_file(big_file& f);
  /// How a file's data is copied (clone and copy_file_range as far as the file systems allow).
  fs::copy_control data_control(const dir_node* node, const struct stat& st) noexcept;

  /// A directory's metadata, once its entries are written: dfd is node's destination directory.
  std::error_code finish_dir_meta(const dir_node* node, int dfd, operation& op);
  /// A source directory that cannot be opened (psrc/name): its copy is made empty in pdst.
  void create_unlisted_dir(dir_node* parent, const char* name, int psrc, int pdst);
  /// --update: learns how precisely DST's file system (dfd) keeps modification times.
  void detect_time_granularity(int dfd);
  /// --delete: removes what node's destination directory has and its source does not.
  void delete_extraneous(dir_node* node);
  /// Whether node's files may go in batches (copy_small_files()): plain copies (no merge,
  /// update, links, --link-dest or dry run) between file systems that cannot clone.
  bool batches_files(const dir_node* node) const noexcept;
  /// Copies the small and mid-size regular files among node's entries ents[0..n) (n <=
  /// small_batch_max) in b's rounds (small_files.hpp). Bit i of the result: entry i was copied, or
  /// its failure reported, here; the others are copy()'s to copy or report.
  std::uint64_t copy_small_files(dir_node* node, const fs::dir_entry* ents, unsigned n,
                                 small_batch& b);

  /// Whether the filters (then git's rules) exclude node's listed entry name; learns dtype by a
  /// stat where the listing did not say.
  bool excluded(dir_node* node, const std::string& rel_dir, const char* name, std::uint8_t& dtype);

 private:
  // Entries (entry_copier.cpp).
  void copy_entry(dir_node* node, const char* name, std::uint8_t dtype);
  void copy_by_stat(dir_node* node, const char* name, const struct stat& st);
  /// Copies a regular file. claimed: the stat under which the caller claimed the first name of a
  /// hard-link group; replace: DST's entry of that name is to be removed once the source is open.
  void copy_regular(dir_node* node, const char* name, const struct stat* claimed = nullptr,
                    bool replace = false);
  /// The rest of copy_regular() once the source is open (sfd) and fstat'ed (st, a regular file).
  void copy_open_regular(dir_node* node, const char* name, fs::unique_fd& sfd,
                         const struct stat& st, const struct stat* claimed = nullptr,
                         bool replace = false);
  void copy_symlink(dir_node* node, const char* name, const struct stat& st);
  void copy_special(dir_node* node, const char* name, const struct stat& st);
  /// The rest of a symlink's or special file's copy once its claim on a hard-link group is made:
  /// creates it with create(), applies its metadata, reports, and releases the group's waiters.
  template <class Create>  // defined and used in entry_copier.cpp only
  void create_and_finish(dir_node* node, const char* name, const struct stat& st, entry_kind kind,
                         bool first, Create&& create);
  bool handle_links(dir_node* node, const char* name, const struct stat& st, bool& first);
  /// Whether creating this entry asks the hard-link table first (plan's claim_at_create).
  bool claims_at_create(const dir_node* node, const struct stat& st) const noexcept {
    plan::entry_context ctx;
    ctx.at_top = node->is_top;
    ctx.top_links = roots_.shared_links;
    return plan::decide_entry(pol_, plan::entry_facts::of(st), nullptr, ctx).claim_at_create;
  }
  void link_waiters(dir_node* node, const char* name, const struct stat& st, bool ok);
  /// Links node/name to target_dir/target_name; false (nothing reported, nothing created) when the
  /// target is on another file system, and the caller copies the data instead.
  bool make_link(dir_node* node, const char* name, int target_dir, const char* target_name);
  /// The file system a name in node is made on, as far as hard-link groups tell them apart: a
  /// directory merged into on another file system than DST (a mount inside DST) has its own
  /// groups, so that its names link to the first copy made there rather than copy it again.
  dev_t link_dev(const dir_node* node) const noexcept {
    if (node->dst_foreign) return node->dst_dev;
    return node->is_top ? roots_.top_dev : roots_.dst_dev;
  }
  /// This pair's claim on node/name in the run's hard-link table.
  link_claimant claimant(const dir_node* node, const char* name) noexcept;
  fs::unique_fd create_file(dir_node* node, const char* name, mode_t mode);
  template <class Create>  // defined and used in entry_copier.cpp only
  bool create_replacing(dir_node* node, const char* name, operation op, Create&& create);
  bool replace_existing(dir_node* node, const char* name);
  bool try_clone(dir_node* node, const char* name, int sfd, int dfd, const struct stat& st,
                 bool& done);
  bool copy_bytes(dir_node* node, const char* name, int sfd, int dfd, const struct stat& st,
                  bool& changed);
  bool source_changed(int sfd, const struct stat& before, bool short_read) const noexcept;
  void finish_file(dir_node* node, const char* name, int sfd, fs::unique_fd& dfd,
                   const struct stat& st, bool first_link, bool changed = false);
  /// Reports a copied file's end: err (op naming the failed step; a failed close discards the
  /// copy), a source that changed meanwhile, or done.
  void conclude_file(dir_node* node, const char* name, std::error_code err, operation op,
                     bool changed);
  void discard_file(dir_node* node, const char* name);

  // Metadata (entry_meta.cpp).
  std::error_code apply_fd_meta(const dir_node* parent, int sfd, int dfd, const struct stat& st,
                                const fs::xattr_list* xattrs, operation& op, bool existed = false);
  std::error_code apply_at_meta(const dir_node* parent, int src_dirfd, const char* sname,
                                const char* dname, const struct stat& st, operation& op);
  bool keep_entry(dir_node* node, const char* name, const struct stat& src, const struct stat& dst);
  std::error_code fix_meta(dir_node* node, const char* name, const struct stat& src,
                           const struct stat& dst, operation& op);
  mode_t created_mode(const struct stat& st) const noexcept;
  bool needs_chown(const struct stat& st, const dir_node* parent) const noexcept;

  // Merge, update, delete and the dry run (update.cpp).
  bool stat_source(dir_node* node, const char* name, struct stat& st);
  void merge_entry(dir_node* node, const char* name);
  /// plan::decide_entry() with the I/O it asks for (the table's answer is left in c).
  plan::entry_decision decide(dir_node* node, const char* name, const plan::entry_facts& s,
                              const plan::entry_facts* d, const struct stat& src, link_claim& c,
                              const std::function<std::string()>& parent_path);
  bool same_link_target(dir_node* node, const char* name, off_t size);
  bool same_content(dir_node* node, const char* name);
  /// What remove_tree() did with an entry.
  enum class removal { removed, kept, failed };
  removal remove_tree(dir_node* node, int dirfd, const char* name, const std::string& sub,
                      const std::string& node_rel);
  removal removal_failed(dir_node* node, const std::string& path, std::error_code err);
  removal removal_done(dir_node* node, const std::string& path);
  std::optional<removal> remove_one(dir_node* node, const std::string& path, int parent,
                                    const char* entry);
  // Hard links instead of copies (entry_links.cpp).
  void link_source(dir_node* node, const char* name, const struct stat* claimed);
  bool link_previous(dir_node* node, const char* name, int sfd, const struct stat& st);
  bool dry_may_link(const dir_node* node, int pdir, const char* pname,
                    const struct stat& pst) const;
  bool kept_by_filter(const dir_node* node, int dirfd, const char* child, std::uint8_t& type,
                      const std::string& path, const std::string& node_rel) const;
  /// Whether the filters, then git's rules (--gitignore), leave out entry name of sub (a directory
  /// relative to node's, "" for node's own entries); rel: its path relative to SRC when the
  /// filters need it.
  bool left_out(const dir_node* node, std::string_view sub, std::string_view rel, const char* name,
                bool is_dir) const;
  removal remove_emptied(dir_node* node, const std::string& path, int parent,
                         const std::string& name, bool failed, bool kept);
  void dry_entry(dir_node* node, const char* name);
  bool dry_links_previous(dir_node* node, const char* name, const struct stat& st);
  void dry_waiters(std::vector<link_table::waiter> waiters, bool ok, ino_t dst_ino);

  /// Whether symlinks among node's source entries are followed: with -L all are; with -H only SRC
  /// itself (the one entry of the virtual parent).
  bool follows(const dir_node* node) const noexcept { return pol_.follows(node->is_top); }
  int src_nofollow(const dir_node* node) const noexcept { return follows(node) ? 0 : O_NOFOLLOW; }
  /// Whether a file of node is copied between the two root file systems (SRC's and DST's), for
  /// which clone_state_ and cfr_refused_ speak.
  bool root_pair(const dir_node* node, const struct stat& st) const noexcept {
    return st.st_dev == roots_.src_dev && !node->dst_foreign;
  }
  std::string rel_path(const dir_node* node) const { return rep_.rel_path(node); }
  const char* dst_name(const dir_node* node, const char* name) const noexcept {
    return node->is_top ? roots_.dst_name.c_str() : name;
  }

  const copy_options& opt_;
  plan::policy& pol_;
  const plan::guards& guards_;
  const plan::filter& filter_;
  link_table& links_;
  reporter& rep_;
  stop_flags& flags_;
  entry_driver& driver_;
  roots roots_;

  /// 0 unknown, 1 cloning works, 2 cannot clone between the root file systems.
  std::atomic<int> clone_state_{0};
  /// copy_file_range said EXDEV for a file copied between the root file systems: later such files
  /// go straight to sendfile, splice or read/write.
  std::atomic<bool> cfr_refused_{false};
  /// --dry-run --update: how many names of a DST inode (dev, ino) the real run would replace.
  std::mutex dry_mu_;
  std::map<std::pair<dev_t, ino_t>, nlink_t> dry_replaced_;
};

}  // namespace treecopy::engine
