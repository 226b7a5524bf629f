// copy_file(): one regular file, without the tree machinery (no workers, no setup walk).
#pragma once

#include <filesystem>
#include <optional>

#include "treecopy/errors.hpp"
#include "treecopy/options.hpp"

namespace treecopy {

/// What copy_file() copies besides the data.
struct file_copy_options {
  /// Copy permission bits (set-id bits included), times (atime and mtime, to the nanosecond) and
  /// extended attributes, as Python's shutil.copy2 does (never the owner); else data only, as
  /// shutil.copyfile.
  bool metadata = true;
  /// How the data may be shared (a clone where the file systems allow it, by default).
  reflink_mode reflink = reflink_mode::automatic;
};

/// Copies the data of src (following symlinks) into dst, as shutil.copyfile does: dst is opened
/// for writing, created with mode 0666 less the umask or truncated in place when it exists (its
/// inode, owner and hard links stay). With options.metadata, then sets dst's times, extended
/// attributes (those the destination refuses as unsupported or not permitted are passed over, as
/// shutil does) and permission bits from src, in shutil.copystat's order. A src that is not a
/// regular file is read until end of file. Returns the first failure (path: src or dst as given,
/// side: which one), or nothing. Never throws but std::bad_alloc; never prints.
std::optional<entry_error> copy_file(const std::filesystem::path& src,
                                     const std::filesystem::path& dst,
                                     const file_copy_options& options = {});

}  // namespace treecopy
