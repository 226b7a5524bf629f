// The tree comparator: walks two trees side by side (fd-relative, any depth) and lists every
// difference in the attributes `cp -a` preserves, each naming the path, the attribute and both
// values, so a failed test says exactly what differs.
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <vector>

namespace treecopy_test {

/// Which attributes compare_trees() looks at. All on by default except directory atime.
struct compare_options {
  bool content = true;  ///< regular file bytes
  bool size = true;     ///< st_size of files and symlinks
  bool mode = true;     ///< all 12 permission bits (setuid, setgid, sticky included)
  bool owner = true;    ///< uid and gid
  bool mtime = true;    ///< to the nanosecond, symlinks and directories included
  bool atime = true;    ///< to the nanosecond, for everything but directories (see below)
  /// Directory atime: off by default because reading a directory updates it under relatime
  /// unless its atime is later than its mtime and ctime, which holds only for trees made by
  /// tree_builder (whose atimes lie ahead of the build time). A directory read by anything
  /// between the copy and the comparison, or a tree made otherwise, would differ for no fault of
  /// the copier. The comparator itself opens with O_NOATIME and disturbs nothing.
  bool directory_atime = false;
  bool xattrs = true;         ///< every listable extended attribute, ACLs included
  bool hard_links = true;     ///< the same partition of names into inodes
  bool sparseness = true;     ///< right's allocated size not above left's plus the tolerance
  bool rdev = true;           ///< device numbers of character and block devices
  bool root_metadata = true;  ///< compare the roots' own attributes, not only their contents
  std::uint64_t sparse_tolerance_bytes = 64 * 1024;
  /// Relative paths ("a/b") left out of the comparison in both trees, with everything below.
  std::set<std::string> ignore;
  std::string left_label = "left";  ///< names of the trees in messages
  std::string right_label = "right";
};

/// One difference: path relative to the roots ("" is the root itself), the attribute, and the
/// values in the left and right tree, all printable.
struct difference {
  std::string path;
  std::string attribute;
  std::string left;
  std::string right;
};

/// Compares the tree at left with the tree at right (roots may be directories, files or symlinks;
/// they are not followed). Returns every difference, in walk order, hard-link groups last.
/// Throws std::system_error only when a root cannot be examined at all.
std::vector<difference> compare_trees(const std::string& left, const std::string& right,
                                      const compare_options& options = {});

/// A readable list of differences (at most max_shown of them) for a test failure message.
std::string describe(const std::vector<difference>& diffs, const compare_options& options = {},
                     std::size_t max_shown = 40);

}  // namespace treecopy_test
