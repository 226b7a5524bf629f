// Small checks of single entries and of whole trees for the hostile tests, which assert on
// inodes, presence and differences by path. Every lookup is fd-relative: the parent directory is
// opened without following a symlink in its last component and the entry is looked at with
// AT_SYMLINK_NOFOLLOW, so a test never follows a link a run may have put in the way.
#pragma once

#include <sys/stat.h>

#include <string>

#include "tree_compare.hpp"

namespace treecopy_test {

/// The entry at path itself (a symlink is not followed); a test failure and a zeroed stat when
/// it cannot be looked at.
struct stat lstat_of(const std::string& path);

/// Whether an entry (of any type, a dangling symlink included) is at path.
bool exists(const std::string& path);

/// The differences between two trees, readable; "" when there are none.
std::string diffs(const std::string& a, const std::string& b, const compare_options& o = {});

}  // namespace treecopy_test
