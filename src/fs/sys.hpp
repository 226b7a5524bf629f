// Thin wrappers over the Linux system calls the engine uses: owned descriptors, fd-relative opens
// that never follow symlinks, stat and metadata calls, directory listing, data copy (clone,
// copy_file_range, read/write, holes) and extended attributes. Every call reports failure as a
// value, never by throwing: a std::error_code holding the errno in std::generic_category() (the
// category entry errors carry).
#pragma once

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

namespace treecopy::fs {

namespace detail {
/// close(2) as a plain system call. glibc's close() (like its openat() and copy_file_range()) is a
/// cancellation point that switches the thread's cancellation state before and after the call:
/// two calls into libc for each of the few system calls a small file costs, for a feature the copy
/// never uses (no thread of it is ever cancelled). Same call, same errno. Under ThreadSanitizer,
/// which must see a descriptor it saw made (a pipe) closed before its number is reused, glibc's.
inline int close_fd(int fd) noexcept {
#if defined(__SANITIZE_THREAD__)
  return ::close(fd);
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
  return ::close(fd);
#endif
#endif
  return static_cast<int>(::syscall(SYS_close, fd));
}
}  // namespace detail

/// An owned file descriptor, closed on destruction (close errors of read-only descriptors do not
/// matter; written files are closed explicitly with close()).
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
  void reset(int fd = -1) noexcept {
    if (fd_ >= 0) detail::close_fd(fd_);
    fd_ = fd;
  }
  /// Closes the descriptor, for files whose close can report a write error (NFS, quotas); none
  /// when it was not open.
  std::error_code close() noexcept;

 private:
  int fd_ = -1;
};

/// Flags for opening a directory to read or to create entries in: never follows a final symlink.
/// (The numbers differ between architectures: on arm64 and powerpc, x86's O_DIRECTORY|O_NOFOLLOW
/// would mean O_DIRECT|O_LARGEFILE.)
inline constexpr int dir_open_flags = O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;

/// errno value err as an error code, in the category entry errors carry.
inline std::error_code errno_code(int err) noexcept { return {err, std::generic_category()}; }

/// The errno of the call that just failed, as an error code.
inline std::error_code last_error() noexcept { return errno_code(errno); }

/// The outcome of a call that returns 0, or -1 and sets errno.
inline std::error_code checked(int rc) noexcept {
  return rc == 0 ? std::error_code{} : last_error();
}

/// A descriptor just opened, or why it could not be: `auto [fd, error] = fs::open(...)`.
struct opened {
  unique_fd fd;
  std::error_code error;
  explicit operator bool() const noexcept { return !error; }
};

/// Whether a call on a name follows the name's final symlink: fs::follow{deref} from a bool.
enum class follow : bool { no = false, yes = true };

/// Whether the directory fd is mounted somewhere other than where its parent directory parent_fd
/// is: another file system, or a bind mount (statx's mount id; the device number where the kernel
/// has none, which does not see bind mounts of the same file system).
bool is_mount_below(int parent_fd, int fd) noexcept;

/// One directory entry as listed by getdents64: name offset into a names buffer, and d_type.
struct dir_entry {
  std::uint32_t name_offset;  ///< offset of the NUL-terminated name in the listing's names
  std::uint8_t type;          ///< DT_* value (DT_UNKNOWN when the file system does not say)
};

/// The buffers a thread keeps for its whole life, one per use.
enum class thread_buffer_slot : unsigned { listing, io, compare_a, compare_b, count };
/// This thread's buffer for slot, of `size` bytes (always the same for a slot), allocated on first
/// use and freed when the thread ends; null when there is no memory. Kept with pthread keys
/// rather than thread_local objects: glibc ends the process when it cannot allocate the record of
/// a thread_local object's destructor, and a copy out of memory must go on.
char* thread_buffer(thread_buffer_slot slot, std::size_t size) noexcept;

/// Lists a directory fd (getdents64 directly, into a caller-provided buffer), skipping "." and
/// "..". Names are appended NUL-terminated to names.
std::error_code read_dir(int fd, std::string& names, std::vector<dir_entry>& entries) noexcept;

/// What a data copy did.
struct copy_result {
  int error = 0;            ///< 0 or errno
  bool read_side = false;   ///< the error came from reading the source
  bool cloned = false;      ///< the data was shared with FICLONE
  std::uint64_t bytes = 0;  ///< bytes written or cloned
  /// error as an error code (in std::generic_category()).
  std::error_code code() const noexcept { return {error, std::generic_category()}; }
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
  /// No other thread reads through src and its file position is 0. With dst_position_ours, a copy
  /// from offset 0 without holes lets copy_file_range move both positions itself: the kernel then
  /// reads and writes no offsets in user memory (four copies between user and kernel per call).
  bool src_position_ours = false;
};

copy_result copy_range(int src, int dst, std::uint64_t offset, std::uint64_t length, bool sparse,
                       const copy_control& ctl) noexcept;

/// Whether most of the first size bytes of fd are in the page cache, so that reading them costs
/// memory bandwidth, not disk time. cachestat(2) where the kernel has it (6.5), else a look at
/// three pages with preadv2(RWF_NOWAIT) (a miss starts their readahead), tmpfs and ramfs counting
/// as cached; false when neither can tell.
bool mostly_cached(int fd, std::uint64_t size) noexcept;

/// Tries to clone all of src into dst (FICLONE).
std::error_code clone(int src, int dst) noexcept;

/// Whether an error from clone() means "this pair of file systems cannot clone" (as opposed to
/// "this file cannot").
bool clone_unsupported(std::error_code error) noexcept;

/// A failure of a call that reads one entry and writes another, and which of the two failed.
struct copy_error {
  std::error_code error;
  bool read_side = false;  ///< reading the source failed (else writing the destination did)
  explicit operator bool() const noexcept { return static_cast<bool>(error); }
};

/// Extended attributes of an entry: names and values, in listing order.
struct xattr_list {
  std::vector<std::pair<std::string, std::string>> items;
  bool empty() const noexcept { return items.empty(); }
};

/// Reads all extended attributes of fd (none, also when its file system has none).
std::error_code get_xattrs(int fd, xattr_list& out) noexcept;

/// Writes attributes to fd. Failures that cp -a also passes over silently (unsupported on the
/// destination; security/trusted/system namespaces without the privilege) are skipped; the first
/// other failure is returned.
std::error_code set_xattrs(int fd, const xattr_list& attrs) noexcept;

/// Copies the extended attributes from src to dst without keeping them; the error tells which side
/// failed.
copy_error copy_xattrs(int src, int dst) noexcept;

/// copy_xattrs() for entries that cannot be opened (symlinks, FIFOs, devices): src_dir/src_name to
/// dst_dir/dst_name, not following a final symlink. Linux has no descriptor-relative xattr calls
/// before 6.13, so this goes through /proc/self/fd/N/NAME; without /proc it does nothing.
copy_error copy_xattrs_at(int src_dir, const char* src_name, int dst_dir,
                          const char* dst_name) noexcept;

/// Removes the attributes of fd that keep does not have (those cp -a could not have set either,
/// see set_xattrs(), stay). The common case, no attributes, is one call.
std::error_code prune_xattrs(int fd, const xattr_list& keep) noexcept;

/// Makes the attributes of dst_dir/dst_name equal to those of src_dir/src_name, not following a
/// final symlink: sets the missing and different ones, removes those SRC does not have; skips what
/// set_xattrs() skips. The error tells which side failed. Through /proc/self/fd, as
/// copy_xattrs_at().
copy_error sync_xattrs_at(int src_dir, const char* src_name, int dst_dir,
                          const char* dst_name) noexcept;

// ---- The std::error_code calls ----------------------------------------------------------------
// One function per system call the engine makes, as thin as the call itself: inline, no call
// added on any path, EINTR retried where the call can return it (open, read, truncate). The *_at
// calls that change an entry (chown_at, chmod_at, set_times_at) never follow a final symlink:
// the copy only ever changes the entry it created. name is relative to dirfd (AT_FDCWD for a
// path).

/// openat() (always O_CLOEXEC, EINTR retried): the descriptor, or why not. A lack of descriptors
/// (EMFILE, ENFILE) is retried a few times before it is reported.
opened open(int dirfd, const char* name, int flags, mode_t mode = 0) noexcept;

/// Opens the directory reached from root by the '/'-separated relative path rel (which may be
/// longer than PATH_MAX), following no symlink in any component and never leaving root (unless
/// follow::yes: then symlinks are followed, for copies that dereference them). An empty rel
/// reopens root itself.
opened open_beneath(int root, std::string_view rel, follow links = follow::no) noexcept;

/// fstatat(): the entry dirfd/name (the symlink itself with follow::no).
inline std::error_code stat_at(int dirfd, const char* name, struct stat& st,
                               follow links) noexcept {
  const int flags = links == follow::yes ? 0 : AT_SYMLINK_NOFOLLOW;
  return checked(::fstatat(dirfd, name, &st, flags));
}

/// fstat().
inline std::error_code stat(int fd, struct stat& st) noexcept { return checked(::fstat(fd, &st)); }

/// fstatfs(): the file system fd is on (f_type tells which kind).
inline std::error_code stat_fs(int fd, struct statfs& st) noexcept {
  return checked(::fstatfs(fd, &st));
}

/// The id of the mount fd is on (statx STATX_MNT_ID): ENOTSUP where the kernel has none (before
/// 5.8), so that bind mounts of one file system cannot be told apart.
std::error_code mount_id(int fd, std::uint64_t& id) noexcept;

/// faccessat() with the effective ids (AT_EACCESS: those the copy acts with), following a final
/// symlink as faccessat does. mode is R_OK, W_OK, X_OK or F_OK.
inline std::error_code access_at(int dirfd, const char* name, int mode) noexcept {
  return checked(::faccessat(dirfd, name, mode, AT_EACCESS));
}

/// mkdirat().
inline std::error_code make_dir_at(int dirfd, const char* name, mode_t mode) noexcept {
  return checked(::mkdirat(dirfd, name, mode));
}

/// unlinkat() of anything but a directory.
inline std::error_code unlink_at(int dirfd, const char* name) noexcept {
  return checked(::unlinkat(dirfd, name, 0));
}

/// unlinkat(AT_REMOVEDIR): removes an empty directory.
inline std::error_code remove_dir_at(int dirfd, const char* name) noexcept {
  return checked(::unlinkat(dirfd, name, AT_REMOVEDIR));
}

/// linkat(): a new name dst_dir/dst_name for the entry src_dir/src_name (a symlink itself, not
/// what it points to, unless flags holds AT_SYMLINK_FOLLOW).
inline std::error_code link_at(int src_dir, const char* src_name, int dst_dir, const char* dst_name,
                               int flags = 0) noexcept {
  return checked(::linkat(src_dir, src_name, dst_dir, dst_name, flags));
}

/// symlinkat(): creates dirfd/name as a symlink to target.
inline std::error_code symlink_at(const char* target, int dirfd, const char* name) noexcept {
  return checked(::symlinkat(target, dirfd, name));
}

/// readlinkat() of a target of any length into target. size_hint (the link's st_size, 0 when not
/// known) sizes the first read, so that one call is enough for a link that did not change.
std::error_code read_link_at(int dirfd, const char* name, std::string& target,
                             std::size_t size_hint = 0) noexcept;

/// mknodat(): a FIFO, socket or device node (mode holds the type bits; dev is for devices).
inline std::error_code make_node_at(int dirfd, const char* name, mode_t mode, dev_t dev) noexcept {
  return checked(::mknodat(dirfd, name, mode, dev));
}

/// fchown(); uid_t(-1) or gid_t(-1) leaves that id as it is.
inline std::error_code chown(int fd, uid_t uid, gid_t gid) noexcept {
  return checked(::fchown(fd, uid, gid));
}

/// fchownat() of the entry itself (a symlink is not followed).
inline std::error_code chown_at(int dirfd, const char* name, uid_t uid, gid_t gid) noexcept {
  return checked(::fchownat(dirfd, name, uid, gid, AT_SYMLINK_NOFOLLOW));
}

/// fchmod().
inline std::error_code chmod(int fd, mode_t mode) noexcept { return checked(::fchmod(fd, mode)); }

/// fchmodat() of the entry itself: EOPNOTSUPP for a symlink (Linux links have no mode).
inline std::error_code chmod_at(int dirfd, const char* name, mode_t mode) noexcept {
  return checked(::fchmodat(dirfd, name, mode, AT_SYMLINK_NOFOLLOW));
}

/// futimens(): times[0] is the access time, times[1] the modification time (UTIME_OMIT keeps one).
inline std::error_code set_times(int fd, const struct timespec times[2]) noexcept {
  return checked(::futimens(fd, times));
}

/// utimensat() of the entry itself (a symlink's own times).
inline std::error_code set_times_at(int dirfd, const char* name,
                                    const struct timespec times[2]) noexcept {
  return checked(::utimensat(dirfd, name, times, AT_SYMLINK_NOFOLLOW));
}

/// ftruncate().
inline std::error_code truncate(int fd, off_t size) noexcept {
  while (::ftruncate(fd, size) != 0)
    if (errno != EINTR) return last_error();
  return {};
}

/// posix_fadvise() over the whole file (advice: POSIX_FADV_SEQUENTIAL, ...). It returns its error
/// instead of setting errno.
inline std::error_code advise(int fd, int advice) noexcept {
  return errno_code(::posix_fadvise(fd, 0, 0, advice));
}

/// pread() until size bytes are read or the file ends: got says how many were.
inline std::error_code pread_full(int fd, char* buf, std::size_t size, off_t offset,
                                  std::size_t& got) noexcept {
  got = 0;
  while (got < size) {
    ssize_t n = ::pread(fd, buf + got, size - got, offset + static_cast<off_t>(got));
    if (n < 0) {
      if (errno == EINTR) continue;
      return last_error();
    }
    if (n == 0) break;
    got += static_cast<std::size_t>(n);
  }
  return {};
}

/// close() of a descriptor not held in a unique_fd. EINTR is no error: on Linux the descriptor is
/// closed then, and closing again could close another thread's new one.
inline std::error_code close(int fd) noexcept {
  return detail::close_fd(fd) == 0 || errno == EINTR ? std::error_code{} : last_error();
}

/// The effective user and group ids: those new entries get, and that the copy's rights are.
inline uid_t effective_uid() noexcept { return ::geteuid(); }
inline gid_t effective_gid() noexcept { return ::getegid(); }

/// The process umask, read from /proc/self/status without changing it (umask() would race with
/// other threads): false when /proc cannot tell.
bool read_umask(mode_t& mask) noexcept;

/// fgetxattr() without the value: the size of fd's attribute name. ENODATA when fd has none of
/// that name, ENOTSUP when its file system has no attributes.
inline std::error_code xattr_size(int fd, const char* name, std::size_t& size) noexcept {
  ssize_t n = ::fgetxattr(fd, name, nullptr, 0);
  if (n < 0) return last_error();
  size = static_cast<std::size_t>(n);
  return {};
}

}  // namespace treecopy::fs
