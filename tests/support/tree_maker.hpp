// Entry-making primitives shared by the tree builders: every call works relative to the tree's
// root descriptor (or a given directory descriptor), sets owner, then mode, then times, in the
// order cp uses, and records directory modes so they are applied last, deepest first.
#pragma once

#include <sys/stat.h>
#include <sys/types.h>

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "fd.hpp"

namespace treecopy_test {

/// A file's or directory's owner.
struct owner {
  uid_t uid;
  gid_t gid;
};

/// Atime and mtime of one entry.
struct entry_times {
  timespec atime;
  timespec mtime;
};

/// Makes entries under one root directory. Not thread-safe; one per build.
class tree_maker {
 public:
  /// Creates root (mode 0700 until finish()) and opens it. time_base: seconds that all times are
  /// derived from (0 = now); seed: the random content and times.
  tree_maker(const std::string& root, std::uint64_t seed, std::int64_t time_base = 0);

  int root_fd() const noexcept { return root_.get(); }
  std::mt19937_64& rng() noexcept { return rng_; }

  /// Distinct times for the next entry: mtime in the past, atime ahead of the build time.
  /// The atime lies ahead because relatime updates an atime that is not later than both mtime and
  /// ctime (and ctime is the build time), so any earlier atime would change when cp or treecopy
  /// read the file, and copies made before and after would legitimately differ.
  entry_times next_times();

  /// mkdirat(dir, rel); its final mode (applied by finish()) is `mode`.
  void dir(const std::string& rel, mode_t mode = 0755, std::optional<owner> who = {}, int at = -1);
  /// A regular file with the given bytes.
  void file(const std::string& rel, const std::string& content, mode_t mode = 0644,
            std::optional<owner> who = {}, std::optional<entry_times> times = {}, int at = -1);
  /// Random bytes of the given size, from the maker's generator.
  std::string random_bytes(std::size_t size);
  /// A sparse file of the given size, mode 0644: 4 KiB of random data at each offset, holes
  /// elsewhere (a leading and a trailing one unless an offset is 0 or at the end).
  void sparse_file(const std::string& rel, off_t size, const std::vector<off_t>& data_offsets);
  /// A symlink with its own times and (optionally) owner.
  void symlink(const std::string& rel, const std::string& target, std::optional<owner> who = {},
               int at = -1);
  /// A further name of an existing entry (not following a symlink).
  void hardlink(const std::string& existing, const std::string& rel, int existing_at = -1,
                int at = -1);
  /// A FIFO, a socket, or a device (kind is S_IFIFO, S_IFSOCK, S_IFCHR or S_IFBLK).
  void special(const std::string& rel, mode_t kind, mode_t mode, dev_t dev = 0, int at = -1);
  /// Sets an extended attribute on an entry (not following symlinks). Returns the error.
  std::error_code xattr(const std::string& rel, const std::string& name, const std::string& value,
                        int at = -1);
  /// Sets times of an existing entry, not following symlinks.
  void set_times(const std::string& rel, const entry_times& times, int at = -1);

  /// Records the final mode of a directory that was made by other means.
  void dir_mode(const std::string& rel, mode_t mode) { dir_modes_[rel] = mode; }

  /// Applies, deepest first, every directory's recorded mode (0755 when none) and fresh times,
  /// after all children exist: a directory's mtime would otherwise change with each new child.
  void finish();

 private:
  int at_or_root(int at) const noexcept { return at < 0 ? root_.get() : at; }

  std::string root_path_;
  unique_fd root_;
  std::mt19937_64 rng_;
  std::int64_t time_base_;
  std::uint64_t time_counter_ = 0;
  std::map<std::string, mode_t> dir_modes_;
};

/// Creates the file `path` (O_EXCL, O_NOFOLLOW) of `size` bytes of `fill`, mode 0640, with its
/// atime an hour ahead and its mtime an hour behind, so that a copy's read leaves its atime alone
/// (relatime), as the tree builders' files do. Fails the calling test when it cannot.
void write_filled_file(const std::string& path, std::size_t size, char fill);

/// Builds a POSIX ACL xattr value (system.posix_acl_access / _default format, version 2) from
/// entries of (tag, id, perm); tags are ACL_USER_OBJ = 1, ACL_USER = 2, ACL_GROUP_OBJ = 4,
/// ACL_GROUP = 8, ACL_MASK = 0x10, ACL_OTHER = 0x20. Entries must be given in that tag order.
std::string posix_acl_value(const std::vector<std::array<unsigned, 3>>& entries);

}  // namespace treecopy_test
