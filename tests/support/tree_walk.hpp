// A depth-first, fd-relative walk over one tree with pre- and post-order callbacks, plus the tree
// operations built on it (listing snapshot, forced removal). Open descriptors stay bounded whatever
// the depth, and paths longer than PATH_MAX are fine.
#pragma once

#include <sys/stat.h>

#include <functional>
#include <string>
#include <vector>

#include "fd.hpp"

namespace treecopy_test {

/// One entry met by walk_tree(). rel_path is "" for the root, "a/b" below it.
struct walk_entry {
  const std::string& rel_path;
  int parent_fd;            ///< the directory holding the entry
  const std::string& name;  ///< the entry's name in parent_fd
  const struct stat& st;    ///< lstat of the entry, taken before pre()
  int depth;                ///< 0 for the root
};

/// What walk_tree() calls. pre() runs for every entry before a directory's children; returning
/// false skips that directory's children. post() runs for directories after their children.
struct walk_callbacks {
  std::function<bool(const walk_entry&)> pre;
  std::function<void(const walk_entry&)> post;
};

/// Walks root (which may also be a file or a symlink; it is not followed), children in bytewise
/// name order. Throws std::system_error when an entry cannot be read.
void walk_tree(const std::string& root, const walk_callbacks& callbacks);

/// Runs body on the subdirectory `name` of dir_fd. While body runs, dir_fd is closed (so open
/// descriptors do not grow with depth); afterwards it is reopened through the child's "..", and
/// checked to be the same directory. Throws std::system_error on failure.
void descend(unique_fd& dir_fd, const std::string& name,
             const std::function<void(unique_fd& child_fd)>& body);

/// Opens the directory holding root and returns its last component in `name` ("." for "/").
unique_fd open_parent(const std::string& root, std::string& name);

/// One line per entry with path, type, mode, owner, size, inode, mtime, ctime and symlink target:
/// two snapshots are equal exactly when nothing in the tree was created, removed, replaced or
/// changed. Access times are left out on purpose: listing and reading update them legitimately.
std::vector<std::string> snapshot_tree(const std::string& root);

/// Gives every entry of the tree to uid:gid (symlinks themselves, not their targets), keeping
/// modes: chown clears set-id bits, so they are set again. Times are not changed.
void give_tree_to(const std::string& root, unsigned uid, unsigned gid);

/// Removes root and everything below it, whatever the modes (directories are made writable
/// first) and the depth. A missing root is not an error.
void remove_tree(const std::string& root);

}  // namespace treecopy_test
