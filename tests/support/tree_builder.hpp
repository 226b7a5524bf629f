// Builders of source trees for the tests: the full-case tree (every case of cp -a fidelity the
// project promises) and seeded random trees (same seed, same tree).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace treecopy_test {

/// What build_full_tree() could create on this machine and file system. Cases that need a
/// capability (root for owners and devices, xattr support) are left out when it is missing, and
/// `missing` says which and why, so tests can skip with that reason.
struct build_report {
  bool owners = false;               ///< entries owned by other users (uid 1234, 65534)
  bool devices = false;              ///< character and block devices
  bool user_xattrs = false;          ///< user.* on files and directories
  bool trusted_xattrs = false;       ///< trusted.* (root only), on a file and a symlink
  bool acls = false;                 ///< access and default POSIX ACLs
  std::vector<std::string> missing;  ///< one line per case left out, with the reason

  /// The missing cases as one text.
  std::string missing_text() const;
};

/// Options of build_full_tree().
struct full_tree_options {
  std::uint64_t seed = 1;  ///< random file contents
  bool privileged = true;  ///< make root-only cases (owners, devices) when running as root
  /// Make entries that their owner cannot read (0000 files, 0000 and 0300 directories), which
  /// only root can copy. Off for trees that an unprivileged user is to copy.
  bool unreadable_entries = true;
};

/// Creates root (which must not exist) holding every fidelity case: files of sizes 0, 1, 4095,
/// 4096, 4097 and several MiB; odd and set-id modes; foreign owners; nanosecond times; symlinks of
/// every sort; hard-link groups (across directories, and one with 64 names); xattrs and ACLs;
/// sparse files; FIFOs, a socket and devices; empty and read-only directories; awkward names; a
/// path longer than PATH_MAX. Directory modes and times are set last.
build_report build_full_tree(const std::string& root, const full_tree_options& options = {});

/// Relative paths of notable entries of the full tree, for tests that look at one case.
namespace full_tree {
inline constexpr const char* sparse_file = "sparse/holes";
inline constexpr const char* read_only_dir = "modes/ro_dir";
inline constexpr const char* many_links_dir = "hardlinks/many";
inline constexpr const char* long_path_dir = "long";
inline constexpr const char* xattr_dir = "xattrs";
inline constexpr const char* acl_dir = "acl";
inline constexpr const char* special_dir = "special";
inline constexpr const char* owners_dir = "owners";
}  // namespace full_tree

/// Options of build_random_tree().
struct random_tree_options {
  std::uint64_t seed = 1;
  int directories = 40;  ///< directories besides the root
  int files = 300;       ///< regular files
  int max_depth = 5;     ///< levels below the root
  std::size_t max_file_size = 256 * 1024;
  bool links = true;           ///< add symlinks, hard links and FIFOs too
  std::int64_t time_base = 0;  ///< seconds all times derive from (0 = now)
};

/// Creates root (which must not exist) as a random tree drawn from options.seed: the same options
/// always give the same names, contents, modes, times and link structure.
void build_random_tree(const std::string& root, const random_tree_options& options = {});

}  // namespace treecopy_test
