// The state one copy_tree() call shares between its tasks: options, counters, directory nodes, the
// hard-link table and the error list. Internal to the engine; TBB appears only in the .cpp files.
#pragma once

#include <sys/stat.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "engine/ignore_rules.hpp"
#include "engine/walk_hook.hpp"
#include "fs/sys.hpp"
#include "treecopy/observer.hpp"
#include "treecopy/options.hpp"
#include "treecopy/report.hpp"

namespace treecopy::engine {

struct setup_result;  // setup.hpp
class entry_copier;   // entry_copier.hpp

/// One source directory being copied. Lives from the task that lists it until its metadata has been
/// applied, which happens when the last of its children is done (pending reaches zero).
struct dir_node {
  dir_node* parent = nullptr;
  std::string name;  ///< name in the parent (source side; the destination uses the same name)

  /// Children not finished yet, plus one for the listing task itself. The task that brings it to
  /// zero finalizes the directory (mode and times after every child was written) and then its
  /// parent.
  std::atomic<std::int64_t> pending{1};
  /// Tasks that need src_fd/dst_fd open. When it reaches zero the descriptors may be closed early
  /// (when too many are open), and reopened by path at finalization.
  std::atomic<std::int32_t> users{1};

  int src_fd = -1;
  int dst_fd = -1;
  bool pinned = false;      ///< descriptors owned by the copy as a whole (root and its parent)
  bool is_top = false;      ///< the virtual parent of SRC: no metadata of its own
  bool pseudo_fs = false;   ///< source is on /proc, /sys...: sizes lie, read until EOF
  bool existed = false;     ///< the destination directory was there before (merge, update)
  bool no_descend = false;  ///< on another file system with one_file_system: copy it empty
  bool followed = false;    ///< reached through a symlink (dereference): reopen by following
  /// The destination directory, there before (merge), is on another file system than DST's: what
  /// the copy remembers of DST's file system (no clones, no copy_file_range) does not hold here.
  bool dst_foreign = false;
  /// With dst_foreign: the file system of the destination directory (hard-link groups are kept
  /// per file system, so that names there link to the first copy made there).
  dev_t dst_dev = 0;
  /// New entries here get a mode or group the umask does not predict (the directory existed
  /// before, has a default ACL, or is set-group-ID): set owner and mode of every entry explicitly.
  bool always_chmod = false;
  dev_t src_dev = 0;
  /// On the virtual parent: the pair (SRC, DST) below it, for the paths of messages.
  const setup_result* pair = nullptr;

  struct stat st {};         ///< the source directory's metadata, applied at finalization
  fs::xattr_list xattrs;     ///< the source directory's attributes, applied at finalization
  bool xattrs_read = false;  ///< xattrs holds all of them (else DST's are not pruned)

  /// --gitignore: git's rules for this directory's entries (its parent's, unless it holds a
  /// .gitignore or is a nested repository's top); no scope without --gitignore and inside .git.
  ignore_rules ignores;

  // The listing, kept while batches of its entries are in flight.
  std::string names;
  std::vector<fs::dir_entry> entries;
};

/// What the hard-link table says about an inode with several names.
struct link_claim {
  enum class kind { first, wait, link_to, copy } what;
  std::string target_parent;  ///< for link_to: destination directory of the first copy, from root
  std::string target_name;    ///< for link_to: its name there
  ino_t target_ino = 0;       ///< for link_to: the destination inode of the first copy (update)
  /// for link_to: the directory target_parent is relative to (the first copy's pair's DST root,
  /// or DST's parent when that pair's SRC is a file).
  int target_root = -1;
};

/// Who claims a name in the hard-link table: the pair's entry copier (which links or copies the
/// name when it waited), and where its copy would be found by another pair's later names.
struct link_claimant {
  entry_copier* owner = nullptr;
  int root_fd = -1;           ///< what the parent path is relative to (link_claim::target_root)
  dev_t dst_dev = 0;          ///< the file system the copy is made on (link_table's key)
  std::string_view dst_name;  ///< the name the copy has in DST (differs from the source's at top)
};

/// Inodes with st_nlink > 1, so that every further name becomes a hard link to the first copy, even
/// when two workers meet two names of the same inode at the same time. One table serves every pair
/// of a run (shared_run), as cp keeps links between its sources.
class link_table {
 public:
  struct waiter {
    entry_copier* owner;  ///< the entry copier of the waiting name's pair
    dir_node* node;
    std::string name;
  };

  /// Registers a name of (dev, ino) copied onto the file system who.dst_dev: a group per file
  /// system, as a link cannot cross them (pairs whose DSTs are on different ones). The first caller
  /// copies the data; while it does, later callers are queued (their node stays pinned) and linked
  /// when the copy finishes.
  link_claim claim(dev_t dev, ino_t ino, const link_claimant& who, dir_node* node,
                   std::string_view name, const std::function<std::string()>& parent_path);

  /// The first copy finished (ok or not), as destination inode dst_ino: returns the names that
  /// waited for it.
  std::vector<waiter> finish(dev_t dev, ino_t ino, dev_t dst_dev, bool ok, ino_t dst_ino);

  /// A distributed copy: every name claimed is also told to hook (other processes may meet other
  /// names of the same inode). Set before the first claim.
  void set_hook(walk_hook* hook) noexcept { hook_ = hook; }

 private:
  walk_hook* hook_ = nullptr;
  struct group {
    enum class state { copying, done, failed } st = state::copying;
    std::string parent;  // destination parent of the first name, relative to the destination root
    std::string name;
    int root_fd = -1;  // what parent is relative to
    ino_t dst_ino = 0;
    std::vector<waiter> waiters;
  };
  struct key {
    dev_t dev;
    ino_t ino;
    dev_t dst_dev;
    bool operator==(const key&) const = default;
  };
  struct key_hash {
    std::size_t operator()(const key& k) const noexcept {
      return std::hash<ino_t>{}(k.ino) ^ (std::hash<dev_t>{}(k.dev) << 1) ^
             (std::hash<dev_t>{}(k.dst_dev) << 2);
    }
  };
  static constexpr std::size_t shard_count = 16;
  struct shard {
    std::mutex mu;
    std::unordered_map<key, group, key_hash> groups;
  };
  shard& shard_for(dev_t dev, ino_t ino) { return shards_[(ino ^ dev) % shard_count]; }
  std::array<shard, shard_count> shards_;
};

/// A counter that only grows, bumped for every file by every worker: each thread adds to one of a
/// few cells of its own cache line (drawn once per thread), and a reader adds the cells up. One
/// shared atomic would make its cache line travel between the cores at every file. Relaxed, as the
/// plain atomics: a sum read during the copy may lag behind each cell's latest value.
class spread_counter {
 public:
  void fetch_add(std::uint64_t n, std::memory_order order = std::memory_order_seq_cst) noexcept {
    local().fetch_add(n, order);
  }
  std::uint64_t load(std::memory_order order = std::memory_order_seq_cst) const noexcept {
    std::uint64_t sum = 0;
    for (const cell& c : cells_) sum += c.value.load(order);
    return sum;
  }
  /// This thread's cell, for callers that take an atomic to bump (fs::copy_control::progress).
  std::atomic<std::uint64_t>& local() noexcept { return cells_[this_thread_cell()].value; }

 private:
  static constexpr std::size_t cell_count = 4;
  static constexpr std::size_t no_cell = ~std::size_t{0};
  struct alignas(64) cell {
    std::atomic<std::uint64_t> value{0};
  };
  // Constant-initialized, so reading it needs no thread-local guard: it is read for every file.
  static inline thread_local std::size_t thread_cell_ = no_cell;
  static std::size_t this_thread_cell() noexcept {
    return thread_cell_ != no_cell ? thread_cell_ : draw_cell();
  }
  static std::size_t draw_cell() noexcept;
  std::array<cell, cell_count> cells_{};
};

/// Counters that workers bump (relaxed) and the sampler reads. What grows at every file is spread
/// over cells (spread_counter); what may go down (entries_found, dirs_unlisted) or moves per
/// directory or per error stays one atomic.
struct counters {
  std::array<spread_counter, entry_kind_count> copied{};
  spread_counter bytes_done;
  spread_counter bytes_found;
  std::atomic<std::uint64_t> entries_found{0};
  spread_counter entries_done;
  std::atomic<std::uint64_t> errors{0};
  std::atomic<std::uint64_t> skipped{0};
  std::atomic<std::uint64_t> removed{0};
  std::atomic<std::int64_t> dirs_unlisted{0};
};

}  // namespace treecopy::engine
