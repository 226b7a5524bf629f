// Checks a copy request before anything is written and opens the starting points of the copy.
#pragma once

#include <sys/stat.h>

#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "engine/ignore_rules.hpp"
#include "fs/sys.hpp"
#include "plan/decide.hpp"
#include "treecopy/errors.hpp"
#include "treecopy/options.hpp"
#include "treecopy/treecopy.hpp"

namespace treecopy::engine {

/// A file's identity: what every safety decision compares, never path strings (a bind mount, a
/// symlink or '..' gives one directory several paths, but one identity).
using file_id = plan::identity;

/// The identities of directory dirfd and of each of its ancestors up to '/', through "..": the
/// chain a path from '/' takes, whatever mounts it crosses. Stops early (shorter chain) where an
/// ancestor cannot be opened.
std::vector<file_id> ancestor_chain(int dirfd);

/// The opened ends of a validated copy request.
struct setup_result {
  fs::unique_fd src_parent;  ///< directory holding SRC (for a SRC that is not a directory)
  fs::unique_fd src_dir;     ///< SRC itself, when it is a directory
  fs::unique_fd dst_parent;  ///< directory that receives DST
  std::string src_name;      ///< SRC's name in src_parent
  std::string dst_name;      ///< DST's name in dst_parent
  std::string src_display;   ///< SRC as the caller wrote it, for messages
  std::string dst_display;   ///< DST as the caller wrote it, for messages
  struct stat src_st {};     ///< SRC's metadata (of the link itself when SRC is a symlink)
  bool dst_exists = false;   ///< DST exists (only possible with copy_options::merge)
  file_id dst_id{};          ///< DST's identity when it exists
  /// SRC (when a directory; else its parent) and its ancestors up to '/'. A source directory with
  /// one of these identities would copy SRC into itself; a destination directory with one of them
  /// holds SRC and must never be merged into or removed.
  std::vector<file_id> src_chain;
  /// The options normalized (checksum implies update implies merge) with the process's ids and
  /// umask: what the engine decides by, never copy_options' merge/update/checksum.
  plan::policy policy;
  /// A batch of a directory another process of a distributed copy listed and shares
  /// (walk_hook::hand_off_files()): SRC and DST name that directory, which is there already, and
  /// only these entries of it (none a directory) are copied here. The directory itself, its
  /// --delete and its metadata stay the lister's.
  struct listed_batch {
    std::string names;  ///< NUL-terminated, as fs::read_dir() gives them
    std::vector<fs::dir_entry> entries;
    bool existed = false;       ///< the lister's dir_node::existed
    bool always_chmod = false;  ///< the lister's dir_node::always_chmod
  };
  std::optional<listed_batch> batch;
  /// A unit of a distributed copy: SRC's path from the SRC of the whole copy ("" otherwise).
  /// Filters that match paths see each entry by its path from there, as the whole copy's walk
  /// does.
  std::string unit_rel;
  /// --gitignore, a unit: the rules the whole copy's walk has for SRC's entries before SRC's own
  /// .gitignore (for a batch: with it, as the lister read it), instead of SRC's own discovery.
  std::optional<ignore_rules> unit_ignores;
};

/// A refusal that concerns SRC alone (missing, unreadable, not openable): among several sources
/// it is one failed entry, and the other pairs are still copied (as cp does).
class source_refusal : public setup_error {
 public:
  explicit source_refusal(const setup_error& e) : setup_error(e) {}
};

/// Validates src and dst and opens them; throws setup_error with a one-line reason otherwise
/// (source_refusal when the reason is SRC itself).
setup_result prepare(const std::filesystem::path& src, const std::filesystem::path& dst,
                     const copy_options& options);

/// Validates every pair before anything is created: each as prepare() does, and the pairs against
/// each other (two pairs with one DST, a DST inside another pair's SRC, --delete on an ancestor of
/// another pair's SRC); throws setup_error for any of these. With several pairs, a source_refusal
/// is not thrown: that pair is left out and its refusal appended to refused.
std::vector<setup_result> prepare_pairs(std::span<const copy_pair> pairs,
                                        const copy_options& options,
                                        std::vector<entry_error>& refused);

}  // namespace treecopy::engine
