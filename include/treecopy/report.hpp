// copy_report and progress_snapshot: what a copy did, at the end and while it runs.
#pragma once

#include <chrono>
#include <cstdint>
#include <vector>

#include "treecopy/errors.hpp"

namespace treecopy {

/// The kinds of entry treecopy creates.
enum class entry_kind : std::uint8_t {
  file,          ///< regular file (data copied or cloned)
  directory,     ///< directory
  symlink,       ///< symbolic link, copied as a link
  hardlink,      ///< a further name of a file already copied, recreated with link()
  fifo,          ///< named pipe
  socket,        ///< socket inode
  char_device,   ///< character device
  block_device,  ///< block device
};

/// The number of entry kinds, for arrays indexed by entry_kind.
inline constexpr std::size_t entry_kind_count = 8;

/// A name for an entry kind ("file", "directory", ...).
const char* to_string(entry_kind kind) noexcept;

/// Counts per entry kind.
struct entry_counts {
  std::uint64_t by_kind[entry_kind_count] = {};

  std::uint64_t& operator[](entry_kind k) noexcept { return by_kind[static_cast<std::size_t>(k)]; }
  std::uint64_t operator[](entry_kind k) const noexcept {
    return by_kind[static_cast<std::size_t>(k)];
  }
  /// Sum over all kinds.
  std::uint64_t total() const noexcept;
};

/// The state of a running copy, as seen by the progress sampler.
struct progress_snapshot {
  std::uint64_t entries_found = 0;  ///< entries seen in source directories so far
  std::uint64_t entries_done = 0;   ///< entries finished (copied or failed)
  std::uint64_t bytes_found = 0;    ///< sizes of the regular files examined so far
  std::uint64_t bytes_done = 0;     ///< file data written so far (counts inside large files too)
  std::uint64_t errors = 0;         ///< entries that failed so far
  std::uint64_t skipped = 0;        ///< entries skipped so far (already up to date, filtered)
  bool scan_complete = false;       ///< every source directory has been listed
  std::chrono::nanoseconds elapsed{0};
};

/// The result of copy_tree().
struct copy_report {
  entry_counts copied;              ///< entries created, per kind
  std::uint64_t bytes_copied = 0;   ///< file data written or cloned
  std::uint64_t skipped = 0;        ///< entries left as they were (update: already equal; filters)
  std::uint64_t removed = 0;        ///< destination entries removed (delete_extraneous)
  std::uint64_t error_count = 0;    ///< entries that failed (>= errors.size())
  std::vector<entry_error> errors;  ///< the first copy_options::max_errors_kept failures
  std::chrono::nanoseconds elapsed{0};
  bool cancelled = false;  ///< the copy was stopped before it finished

  /// True when every entry was copied and the copy was not stopped.
  bool ok() const noexcept { return error_count == 0 && !cancelled; }
};

}  // namespace treecopy
