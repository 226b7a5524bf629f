// copy_options: everything that changes what copy_tree() does, as a plain struct with defaults.
#pragma once

#include <chrono>
#include <cstdint>

namespace treecopy {

/// How file data may be shared between source and destination (as in cp --reflink).
enum class reflink_mode : std::uint8_t {
  automatic,  ///< clone (FICLONE) where the file systems allow it, else copy the bytes
  always,     ///< clone or fail the entry
  never,      ///< always copy the bytes
};

/// Options of one copy_tree() call. The defaults make DST an exact copy of SRC, as `cp -aT`.
struct copy_options {
  /// Concurrent workers. 0 picks the automatic value default_jobs(). Values above the core count
  /// are honoured: copies block on I/O, so more workers than cores keep more requests in flight.
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

  /// How often copy_observer::on_progress() is called.
  std::chrono::milliseconds progress_interval{100};

  /// Errors kept in copy_report::errors; further ones are still counted in error_count.
  std::size_t max_errors_kept = 1000;
};

/// The number of workers used when copy_options::jobs is 0.
unsigned default_jobs() noexcept;

}  // namespace treecopy
