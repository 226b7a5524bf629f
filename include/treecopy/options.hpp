// copy_options: everything that changes what copy_tree() does, as a plain struct with defaults.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace treecopy {

/// How file data may be shared between source and destination (as in cp --reflink).
enum class reflink_mode : std::uint8_t {
  automatic,  ///< clone (FICLONE) where the file systems allow it, else copy the bytes
  always,     ///< clone or fail the entry
  never,      ///< always copy the bytes
};

/// Which symlinks are followed (copied as what they point to) instead of copied as links.
enum class symlink_mode : std::uint8_t {
  never,         ///< copy every symlink as a link (cp -a, cp -P)
  command_line,  ///< follow SRC itself if it is a symlink, no others (cp -H)
  always,        ///< follow every symlink; a directory cycle is reported, not followed (cp -L)
};

/// The names of reflink_mode values: "auto", "always", "never" (as cp --reflink=WHEN).
const char* to_id(reflink_mode mode) noexcept;

/// The reflink_mode named id ("auto", "always" or "never"), or nullopt.
std::optional<reflink_mode> parse_reflink_mode(std::string_view id) noexcept;

/// The names of symlink_mode values: "never", "command_line", "always".
const char* to_id(symlink_mode mode) noexcept;

/// The symlink_mode named id ("never", "command_line" or "always"), or nullopt.
std::optional<symlink_mode> parse_symlink_mode(std::string_view id) noexcept;

/// One include or exclude rule. Rules are tried in order; the first that matches decides.
struct filter_rule {
  bool include = false;  ///< true: --include, false: --exclude
  std::string pattern;   ///< glob: * ? [...] and ** across directories; see README "Filters"
};

/// One entry of a source directory's listing, as copy_options::on_listing sees it.
struct listed_entry {
  std::string_view name;
  std::uint8_t type;  ///< DT_* value of <dirent.h>; DT_UNKNOWN when the file system does not say
};

/// A per-directory hook: rel_dir is the directory's path from SRC ('/'-separated, "" for SRC),
/// src_dir_fd the source directory (open for reading; do not close it), entries its listing in
/// the order the file system gave it (getdents, the order of readdir and os.scandir). Setting
/// leave_out[i] (sized as entries, all false) leaves entry i out of the copy, counted as skipped
/// (unlike an excluded entry, it is not protected from delete_extraneous).
using listing_filter =
    std::function<void(std::string_view rel_dir, int src_dir_fd,
                       std::span<const listed_entry> entries, std::vector<bool>& leave_out)>;

/// Options of one copy_tree() call. The defaults make DST an exact copy of SRC, as `cp -aT`.
struct copy_options {
  /// Concurrent workers. 0 picks the automatic value default_jobs(), or one worker per core
  /// (at most default_jobs()) when every source and destination is on tmpfs or ramfs. Values
  /// above the core count are honoured: copies block on I/O, so more workers than cores keep more
  /// requests in flight.
  unsigned jobs = 0;

  /// DST may already exist: copy into it, replacing non-directory entries of the same name.
  /// Without it, an existing DST is a setup_error.
  bool merge = false;

  /// How file data is shared or copied.
  reflink_mode reflink = reflink_mode::automatic;

  /// Stop at the first entry error instead of copying the rest of the tree.
  bool fail_fast = false;

  /// Preserve owner and group. Failures to do so are silent when not running as root, as in cp -a.
  bool preserve_ownership = true;

  /// Preserve extended attributes and ACLs.
  bool preserve_xattrs = true;

  /// Preserve permission bits. Without: new entries get SRC's permission bits less the umask and
  /// without set-id bits (cp -R), or with default_modes 0666 (0777 for directories and sockets)
  /// less the umask (cp --no-preserve=mode); existing entries keep theirs; no chmod call.
  bool preserve_mode = true;
  /// With preserve_mode off: SRC's permission bits are not looked at (see preserve_mode).
  bool default_modes = false;

  /// Preserve access and modification times. Without: no utimensat call (mtime = copy time);
  /// --update then takes DST as up to date when its size is SRC's and its mtime not before SRC's.
  bool preserve_timestamps = true;

  /// Preserve hard links. Without: every name of a hard-linked file becomes a file of its own.
  bool preserve_links = true;

  /// How often copy_observer::on_progress() is called.
  std::chrono::milliseconds progress_interval{100};

  /// Errors kept in copy_report::errors; further ones are still counted in error_count.
  std::size_t max_errors_kept = 1000;

  /// Walk SRC and report what would be copied (observer::on_entry, counts, bytes) and every problem
  /// that can be foreseen, without creating or changing anything.
  bool dry_run = false;

  /// DST may exist: the data of entries whose destination already has the same type, size and
  /// mtime (to the nanosecond, or see modify_window) is not copied again; their owner, mode,
  /// attributes and times are still made equal, hard-link groups are split or joined as SRC's,
  /// and everything else is copied again. Implies merge.
  bool update = false;

  /// With update: compare file contents (byte for byte) instead of size and mtime.
  bool checksum = false;

  /// With update: mtimes that differ by at most this much count as equal (rsync's
  /// --modify-window). DST's own time granularity (whole seconds on ext4 with 128-byte inodes,
  /// 2 s on FAT) is detected and allowed for in any case.
  std::chrono::nanoseconds modify_window{0};

  /// With update or merge: remove entries of DST that are not in SRC (never outside DST).
  bool delete_extraneous = false;

  /// Include/exclude rules, in order. Excluded entries are neither copied nor deleted.
  std::vector<filter_rule> filters;

  /// Also leave out what git ignores (.gitignore files, .git/info/exclude, core.excludesFile), as
  /// `git ls-files -co --exclude-standard` lists; .git itself is copied. The filters decide
  /// first: an entry no rule matches is left out when git ignores it. See docs/filters.md.
  bool gitignore = false;

  /// Copy only these paths relative to SRC (rsync's --files-from), each with the directories that
  /// lead to it (their metadata too); a listed directory is copied whole. A listed path missing in
  /// SRC is a failed entry. An absolute path or one with ".." is a setup_error. The filters and
  /// gitignore still apply to what the list selects. Empty: everything. See docs/filters.md.
  std::vector<std::string> files_from;

  /// Regular files become hard links to the source files instead of copies (cp -l): directories
  /// are created, symlinks and special files copied. Nothing of SRC is changed (the links share
  /// its inodes: no owner, mode or times are set). Across file systems each file fails (EXDEV).
  bool link = false;

  /// Previous copies to link against (rsync's --link-dest), tried in order: a file whose
  /// counterpart in PREV has the same type, size, mtime (ns), mode, owner, group and attributes
  /// becomes a hard link to it; every other entry is copied. PREV is never written (a link changes
  /// only its inode's link count and ctime). With one pair PREV stands for DST; with several, for
  /// the directory that receives them: DST's counterpart is PREV/<DST's name>. A linked file's
  /// atime is PREV's. Used only while every attribute is preserved (the defaults). Each PREV must
  /// be a directory (setup_error otherwise).
  std::vector<std::string> link_dest;

  /// Which symlinks are followed.
  symlink_mode dereference = symlink_mode::never;

  /// Do not descend into directories on another file system than SRC's (cp -x).
  bool one_file_system = false;

  /// Called once for each source directory the walker lists, before the filters, with its whole
  /// listing (see listing_filter); empty: no call. The Python copytree() calls ignore= through it.
  /// Called from several workers at once; must not throw.
  listing_filter on_listing;
};

/// The number of workers used when copy_options::jobs is 0 (copies between memory file systems
/// use at most one per core).
unsigned default_jobs() noexcept;

}  // namespace treecopy
