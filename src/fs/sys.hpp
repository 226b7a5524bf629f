// Thin wrappers over the Linux system calls the engine uses: owned descriptors, fd-relative opens
// that never follow symlinks, directory listing, data copy (clone, copy_file_range, read/write, holes)
// and extended attributes. Every call reports failure as an errno value, never by throwing.
#pragma once

#include <sys/stat.h>
#include <sys/types.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace treecopy::fs {

/// An owned file descriptor, closed on destruction (close errors of read-only descriptors do not
/// matter; written files are closed explicitly with close_checked()).
class unique_fd {
 public:
  unique_fd() noexcept = default;
  explicit unique_fd(int fd) noexcept : fd_(fd) {}
  unique_fd(unique_fd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  unique_fd& operator=(unique_fd&& o) noexcept {
    if (this != &o) reset(std::exchange(o.fd_, -1));
    return *this;
  }
  unique_fd(const unique_fd&) = delete;
  unique_fd& operator=(const unique_fd&) = delete;
  ~unique_fd() { reset(); }

  int get() const noexcept { return fd_; }
  explicit operator bool() const noexcept { return fd_ >= 0; }
  int release() noexcept { return std::exchange(fd_, -1); }
  void reset(int fd = -1) noexcept;
  /// Closes and returns 0 or the errno of close().
  int close_checked() noexcept;

 private:
  int fd_ = -1;
};

/// Flags for opening a directory to read or to create entries in: never follows a final symlink.
inline constexpr int dir_open_flags = 0x10000 /*O_DIRECTORY*/ | 0x20000 /*O_NOFOLLOW*/ |
                                      0x80000 /*O_CLOEXEC*/;

/// openat() with EINTR retry. Returns the fd or -errno.
int open_at(int dirfd, const char* name, int flags, mode_t mode = 0) noexcept;

/// Opens the directory reached from root by the '/'-separated relative path rel (which may be longer
/// than PATH_MAX), following no symlink in any component and never leaving root (unless follow:
/// then symlinks are followed, for copies that dereference them). An empty rel reopens root itself.
/// Returns the fd or -errno.
int open_dir_beneath(int root, std::string_view rel, bool follow = false) noexcept;

/// Whether the directory fd is mounted somewhere other than where its parent directory parent_fd
/// is: another file system, or a bind mount (statx's mount id; the device number where the kernel
/// has none, which does not see bind mounts of the same file system).
bool is_mount_below(int parent_fd, int fd) noexcept;

/// One directory entry as listed by getdents64: name offset into a names buffer, and d_type.
struct dir_entry {
  std::uint32_t name_offset;  ///< offset of the NUL-terminated name in the listing's names
  std::uint8_t type;          ///< DT_* value (DT_UNKNOWN when the file system does not say)
};

/// Lists a directory fd (getdents64 directly, into a caller-provided buffer), skipping "." and "..".
/// Names are appended NUL-terminated to names. Returns 0 or errno.
int list_dir(int fd, std::string& names, std::vector<dir_entry>& entries) noexcept;

/// What a data copy did.
struct copy_result {
  int error = 0;            ///< 0 or errno
  bool read_side = false;   ///< the error came from reading the source
  bool cloned = false;      ///< the data was shared with FICLONE
  std::uint64_t bytes = 0;  ///< bytes written or cloned
};

/// Copies bytes [offset, offset + length) of src into the same range of dst, with copy_file_range
/// where possible and a read/write loop otherwise. With sparse, only the data extents (SEEK_DATA /
/// SEEK_HOLE) are copied, so holes stay holes. Each increment is added to *progress as it is made,
/// so a large file shows progress while the kernel copies it. length == UINT64_MAX means "until end
/// of file" (for files whose size is unknown or wrong, as in /proc and /sys). copy_file_range falls
/// back by itself where the kernel refuses it (EXDEV between two file systems) to sendfile (see
/// dst_position_ours) or else to splice through a pipe for extents of 256 KiB and more, and to
/// read/write for the rest and where it stops short of the expected length (files that lie about
/// their size).
/// Stops between steps (returning ECANCELED) once *cancel becomes true, when cancel is not null.
struct copy_control {
  std::atomic<std::uint64_t>* progress = nullptr;  ///< bumped by every increment written
  const std::atomic<bool>* cancel = nullptr;       ///< checked between steps
  bool use_cfr = true;                             ///< try copy_file_range before read/write
  std::atomic<bool>* cfr_refused = nullptr;        ///< set when copy_file_range says EXDEV
  /// No other thread writes through dst and its file position is 0 (a descriptor opened for this
  /// copy, copied from offset 0): sendfile may replace copy_file_range where that is refused.
  bool dst_position_ours = false;
};

copy_result copy_range(int src, int dst, std::uint64_t offset, std::uint64_t length, bool sparse,
                       const copy_control& ctl) noexcept;

/// Whether most of the first size bytes of fd are in the page cache, so that reading them costs
/// memory bandwidth, not disk time. cachestat(2) where the kernel has it (6.5), else a look at three
/// pages with preadv2(RWF_NOWAIT) (a miss starts their readahead), tmpfs and ramfs counting as
/// cached; false when neither can tell.
bool mostly_cached(int fd, std::uint64_t size) noexcept;

/// Tries to clone all of src into dst (FICLONE). Returns 0 or errno.
int clone_file(int src, int dst) noexcept;

/// Whether an errno from clone_file() means "this pair of file systems cannot clone" (as opposed to
/// "this file cannot").
bool clone_unsupported(int err) noexcept;

/// Extended attributes of an entry: names and values, in listing order.
struct xattr_list {
  std::vector<std::pair<std::string, std::string>> items;
  bool empty() const noexcept { return items.empty(); }
};

/// Reads all extended attributes of fd. Returns 0 (also when the file system has none) or errno.
int read_xattrs(int fd, xattr_list& out) noexcept;

/// Writes attributes to fd. Failures that cp -a also passes over silently (unsupported on the
/// destination; security/trusted/system namespaces without the privilege) are skipped. Returns 0 or
/// the errno of the first other failure.
int write_xattrs(int fd, const xattr_list& attrs) noexcept;

/// Copies the extended attributes from src to dst without keeping them: 0 or errno; read_side tells
/// which side failed.
int copy_xattrs(int src, int dst, bool& read_side) noexcept;

/// copy_xattrs() for entries that cannot be opened (symlinks, FIFOs, devices): src_dir/src_name to
/// dst_dir/dst_name, not following a final symlink. Linux has no descriptor-relative xattr calls
/// before 6.13, so this goes through /proc/self/fd/N/NAME; without /proc it does nothing.
int copy_xattrs_at(int src_dir, const char* src_name, int dst_dir, const char* dst_name,
                   bool& read_side) noexcept;

/// Removes the attributes of fd that keep does not have (those cp -a could not have set either,
/// see write_xattrs(), stay). Returns 0 or errno. The common case, no attributes, is one call.
int remove_other_xattrs(int fd, const xattr_list& keep) noexcept;

/// Makes the attributes of dst_dir/dst_name equal to those of src_dir/src_name, not following a
/// final symlink: sets the missing and different ones, removes those SRC does not have; skips what
/// write_xattrs() skips. 0 or errno; read_side tells which side failed. Through /proc/self/fd, as
/// copy_xattrs_at().
int sync_xattrs_at(int src_dir, const char* src_name, int dst_dir, const char* dst_name,
                   bool& read_side) noexcept;

}  // namespace treecopy::fs
