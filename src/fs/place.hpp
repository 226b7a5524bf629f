// Where a path or a directory lies: its canonical path, and its place in its file system (the
// mount's device and the path from that file system's own root), from /proc/self/mountinfo.
#pragma once

#include <optional>
#include <string>

namespace treecopy::fs {

/// realpath() of an existing path, of any length; empty when it cannot be resolved.
std::string real_path(const std::string& path);

/// Where a directory lies in its file system. A bind mount shows one subtree at another place, so
/// ".." from its root leaves the file system's tree; this path is the same wherever the directory
/// is seen from.
struct place {
  std::string dev;   ///< "major:minor" of the mount
  std::string path;  ///< from the file system's root, "/" included
};

/// The place of the directory open as fd, from statx's mount id and /proc/self/mountinfo (the
/// mount's root and mount point); nullopt when either is missing or the mount point is hidden from
/// this process's view.
std::optional<place> place_of(int fd);

/// Whether place a is b or lies below it.
bool place_within(const place& a, const place& b);

/// A field of /proc/self/mountinfo with its escapes (\ooo for space, tab, newline, backslash)
/// undone.
std::string unescape_mountinfo(const std::string& field);

}  // namespace treecopy::fs
