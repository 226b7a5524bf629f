// Small fd-relative file-system helpers for the test support code: an owning descriptor, directory
// listing and error reporting that work at any depth (no full-path calls, so no PATH_MAX limit).
#pragma once

#include <sys/stat.h>

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace treecopy_test {

/// Owns one file descriptor; closes it on destruction.
class unique_fd {
 public:
  unique_fd() = default;
  explicit unique_fd(int fd) noexcept : fd_(fd) {}
  unique_fd(unique_fd&& other) noexcept : fd_(other.release()) {}
  unique_fd& operator=(unique_fd&& other) noexcept;
  unique_fd(const unique_fd&) = delete;
  unique_fd& operator=(const unique_fd&) = delete;
  ~unique_fd();

  int get() const noexcept { return fd_; }
  bool valid() const noexcept { return fd_ >= 0; }
  int release() noexcept;
  void reset(int fd = -1) noexcept;

 private:
  int fd_ = -1;
};

/// Throws std::system_error with errno and a message naming what failed.
[[noreturn]] void throw_errno(const std::string& what);

/// openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC), with O_NOATIME where
/// permitted so that inspecting a tree does not change its access times; throws on failure.
unique_fd open_dir_at(int dirfd, const std::string& name);

/// Opens a directory by path (following symlinks only in the leading components); throws on
/// failure.
unique_fd open_dir(const std::string& path);

/// openat with O_PATH | O_NOFOLLOW: a handle on any entry, symlinks and devices included, that
/// neither reads nor triggers anything; throws on failure.
unique_fd open_path_at(int dirfd, const std::string& name);

/// The names in an open directory, without "." and "..", sorted bytewise. Does not move dirfd's
/// own offset (it reads through a duplicate).
std::vector<std::string> list_dir(int dirfd);

/// openat(dirfd, name, flags | O_NOATIME | O_CLOEXEC), retrying without O_NOATIME when it is not
/// permitted (only the owner and root may use it). Returns -1 with errno set on failure.
int open_noatime(int dirfd, const std::string& name, int flags);

/// fstatat(dirfd, name, AT_SYMLINK_NOFOLLOW); throws on failure.
struct stat lstat_at(int dirfd, const std::string& name);

/// "/proc/self/fd/N": a short path that reaches the entry held by an O_PATH descriptor, for calls
/// that only take paths (listxattr and friends) on entries whose real path may exceed PATH_MAX.
std::string proc_fd_path(int fd);

/// The entry's extended attributes (name and value), sorted by name, read through an O_PATH fd.
/// Returns an error code instead of throwing: ENOTSUP means the file system has none.
std::error_code read_xattrs(int path_fd, std::vector<std::pair<std::string, std::string>>& out);

/// A path (or any bytes) made printable for a message: control and non-ASCII bytes become \xNN,
/// newline becomes \n, and very long strings keep their start and end around an ellipsis.
std::string printable(std::string_view bytes, std::size_t max_length = 300);

/// Seconds and nanoseconds as "SECONDS.NNNNNNNNN".
std::string format_time(const struct timespec& t);

/// Raises the soft RLIMIT_NOFILE of this process to its hard limit (deep-tree tests keep many
/// directories open through the copier's children; the support code itself stays bounded).
void raise_nofile_limit() noexcept;

/// Runs body on a thread with a 1 GiB stack (reserved, touched only as deep as it goes) and waits
/// for it; an exception from body is rethrown here. The tree walks recurse once per directory
/// level, and a 2,000-level tree under AddressSanitizer's larger frames needs more than the main
/// thread's 8 MiB.
void run_on_deep_stack(const std::function<void()>& body);

}  // namespace treecopy_test
