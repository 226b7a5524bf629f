// Scratch directories for tests and the facts about the machine that decide which tests can run.
#pragma once

#include <optional>
#include <string>

namespace treecopy_test {

/// The directory scratch_dir creates its directories in.
std::string scratch_root();

/// A directory on a disk file system, for tests that need a page cache they can drop:
/// $TREECOPY_TEST_DISK_SCRATCH when set, else /var/tmp, else the system temporary directory.
std::string disk_scratch_root();

/// A fresh directory under the scratch root, removed with everything in it on destruction.
/// The scratch root is $TREECOPY_TEST_SCRATCH when set, else /dev/shm (a tmpfs: fast, and it has
/// xattrs, sparse files and nanosecond times), else the system temporary directory.
class scratch_dir {
 public:
  /// Creates "<root>/treecopy-<label>-XXXX-XXXX", mode 0755; root defaults to scratch_root().
  explicit scratch_dir(const std::string& label, const std::string& root = scratch_root());
  ~scratch_dir();
  scratch_dir(const scratch_dir&) = delete;
  scratch_dir& operator=(const scratch_dir&) = delete;

  /// The directory's absolute path.
  const std::string& path() const noexcept { return path_; }

  /// path() + "/" + rel.
  std::string operator/(const std::string& rel) const { return path_ + "/" + rel; }

  /// Gives the directory to uid:gid, so an unprivileged child can create entries in it.
  void give_to(unsigned id) const;

 private:
  std::string path_;
};

/// True when the tests run as root (uid 0).
bool running_as_root();

/// The uid and gid unprivileged runs use (nobody).
inline constexpr unsigned unprivileged_id = 65534;

/// Why an unprivileged run is impossible here (not root, no setpriv), or nullopt when it works.
std::optional<std::string> unprivileged_unavailable();

/// Whether this process may make an io_uring ring (and TREECOPY_IO_URING does not say no): the
/// engine's small-file batches run only then.
bool io_uring_works();

/// The path of the treecopy CLI under test, from the TREECOPY_CLI compile definition.
std::string cli_path();

}  // namespace treecopy_test
