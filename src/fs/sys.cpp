// Implementation of the syscall wrappers in sys.hpp.
#include "fs/sys.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <linux/magic.h>
#include <linux/openat2.h>
#include <pthread.h>
#include <sys/ioctl.h>
#include <sys/sendfile.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>

namespace treecopy::fs {

std::error_code unique_fd::close() noexcept {
  if (fd_ < 0) return {};
  // EINTR after close on Linux means the descriptor is gone anyway; the data is not lost.
  return fs::close(std::exchange(fd_, -1));
}

opened open(int dirfd, const char* name, int flags, mode_t mode) noexcept {
  // The copy sizes itself to the descriptor limit, so running out is rare and brief (a descriptor
  // the caller opened meanwhile, another process filling the system table): a few quick retries,
  // then the entry fails. Never more: a copy that waited for descriptors it holds itself would
  // wait forever.
  for (int emfile_tries = 0;;) {
    // Without glibc's cancellation wrapper (detail::close_fd()); O_LARGEFILE as glibc adds it.
    int fd =
        static_cast<int>(::syscall(SYS_openat, dirfd, name, flags | O_CLOEXEC | O_LARGEFILE, mode));
    if (fd >= 0) return {unique_fd{fd}, {}};
    if (errno == EINTR) continue;
    if ((errno == EMFILE || errno == ENFILE) && ++emfile_tries < 8) {
      ::usleep(250);
      continue;
    }
    return {unique_fd{}, last_error()};
  }
}

std::error_code mount_id(int fd, std::uint64_t& id) noexcept {
  struct statx stx {};
  if (::statx(fd, "", AT_EMPTY_PATH, STATX_MNT_ID, &stx) != 0) return last_error();
  if (!(stx.stx_mask & STATX_MNT_ID)) return std::make_error_code(std::errc::not_supported);
  id = stx.stx_mnt_id;
  return {};
}

std::error_code read_link_at(int dirfd, const char* name, std::string& target,
                             std::size_t size_hint) noexcept {
  try {
    // One byte more than the link's size: a full buffer means it grew since it was measured.
    target.resize((size_hint > 0 ? size_hint : 255) + 1);
    for (;;) {
      ssize_t n = ::readlinkat(dirfd, name, target.data(), target.size());
      if (n < 0) return last_error();
      if (static_cast<std::size_t>(n) < target.size()) {
        target.resize(static_cast<std::size_t>(n));
        return {};
      }
      target.resize(target.size() * 2);
    }
  } catch (...) {
    return errno_code(ENOMEM);
  }
}

bool read_umask(mode_t& mask) noexcept {
  std::FILE* f = std::fopen("/proc/self/status", "re");
  if (!f) return false;
  char line[256];
  bool found = false;
  while (!found && std::fgets(line, sizeof line, f)) {
    if (std::strncmp(line, "Umask:", 6) == 0) {
      mask = static_cast<mode_t>(std::strtol(line + 6, nullptr, 8));
      found = true;
    }
  }
  std::fclose(f);
  return found;
}

bool is_mount_below(int parent_fd, int fd) noexcept {
  struct statx a {
  }, b{};
  if (::statx(parent_fd, "", AT_EMPTY_PATH, STATX_MNT_ID, &a) == 0 &&
      ::statx(fd, "", AT_EMPTY_PATH, STATX_MNT_ID, &b) == 0 && (a.stx_mask & STATX_MNT_ID) &&
      (b.stx_mask & STATX_MNT_ID))
    return a.stx_mnt_id != b.stx_mnt_id;
  struct stat sa {
  }, sb{};
  return ::fstat(parent_fd, &sa) == 0 && ::fstat(fd, &sb) == 0 && sa.st_dev != sb.st_dev;
}

namespace {

// openat2 with RESOLVE_NO_SYMLINKS | RESOLVE_BENEATH: the kernel walks the whole path but refuses
// any symlink and any escape from dirfd, so a directory swapped for a symlink during the copy
// cannot redirect us. ENOSYS where openat2 does not exist.
opened open_beneath_once(int dirfd, const char* path) noexcept {
  struct open_how how {};
  how.flags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
  how.resolve = RESOLVE_NO_SYMLINKS | RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
  for (;;) {
    long fd = ::syscall(SYS_openat2, dirfd, path, &how, sizeof how);
    if (fd >= 0) return {unique_fd{static_cast<int>(fd)}, {}};
    if (errno == EAGAIN || errno == EINTR) continue;
    return {unique_fd{}, last_error()};
  }
}

// The portable walk: one O_NOFOLLOW openat per component.
opened open_components(int dirfd, std::string_view rel) noexcept {
  unique_fd cur;
  int base = dirfd;
  std::string name;
  while (!rel.empty()) {
    auto slash = rel.find('/');
    name.assign(rel.substr(0, slash));
    rel = slash == std::string_view::npos ? std::string_view{} : rel.substr(slash + 1);
    if (name.empty()) continue;
    opened next = open(base, name.c_str(), O_RDONLY | dir_open_flags);
    if (!next) return next;
    cur = std::move(next.fd);
    base = cur.get();
  }
  if (!cur) return open(dirfd, ".", O_RDONLY | dir_open_flags);
  return {std::move(cur), {}};
}

}  // namespace

opened open_beneath(int root, std::string_view rel, follow links) noexcept {
  if (rel.empty()) return open(root, ".", O_RDONLY | dir_open_flags);
  // The kernel takes at most PATH_MAX bytes per call: walk long paths in chunks that end at a '/'.
  constexpr std::size_t chunk = PATH_MAX - 256;
  unique_fd cur;
  int base = root;
  std::string piece;
  while (!rel.empty()) {
    std::size_t take = rel.size();
    if (take > chunk) {
      take = rel.rfind('/', chunk);
      if (take == std::string_view::npos || take == 0)
        return {unique_fd{}, errno_code(ENAMETOOLONG)};
    }
    piece.assign(rel.substr(0, take));
    rel = take < rel.size() ? rel.substr(take + 1) : std::string_view{};
    opened next = links == follow::yes ? open(base, piece.c_str(), O_RDONLY | O_DIRECTORY)
                                       : open_beneath_once(base, piece.c_str());
    if (next.error == std::errc::function_not_supported) next = open_components(base, piece);
    if (!next) return next;
    cur = std::move(next.fd);
    base = cur.get();
  }
  return {std::move(cur), {}};
}

namespace {
// The fixed part of the kernel's record; the NUL-terminated name follows at name_offset.
struct linux_dirent64 {
  ino64_t d_ino;
  off64_t d_off;
  unsigned short d_reclen;
  unsigned char d_type;
};
constexpr std::size_t dirent_name_offset = 19;
}  // namespace

char* thread_buffer(thread_buffer_slot slot, std::size_t size) noexcept {
  constexpr auto slots = static_cast<std::size_t>(thread_buffer_slot::count);
  struct keys_t {
    pthread_key_t key[slots];
    bool made[slots];
  };
  static const keys_t keys = [] {
    keys_t k{};
    for (std::size_t i = 0; i < slots; ++i)
      k.made[i] =
          ::pthread_key_create(&k.key[i], [](void* p) { delete[] static_cast<char*>(p); }) == 0;
    return k;
  }();
  const auto i = static_cast<std::size_t>(slot);
  if (!keys.made[i]) return nullptr;
  auto* buf = static_cast<char*>(::pthread_getspecific(keys.key[i]));
  if (buf) return buf;
  buf = new (std::nothrow) char[size];
  if (buf && ::pthread_setspecific(keys.key[i], buf) != 0) {
    delete[] buf;
    buf = nullptr;
  }
  return buf;
}

std::error_code read_dir(int fd, std::string& names, std::vector<dir_entry>& entries) noexcept {
  // One buffer per thread: a directory read never allocates for the kernel's records.
  constexpr std::size_t buf_size = std::size_t{64} << 10;
  char* buf = thread_buffer(thread_buffer_slot::listing, buf_size);
  if (!buf) return errno_code(ENOMEM);
  try {
    for (;;) {
      long n = ::syscall(SYS_getdents64, fd, buf, buf_size);
      if (n < 0) {
        if (errno == EINTR) continue;
        return last_error();
      }
      if (n == 0) return {};
      for (long pos = 0; pos < n;) {
        auto* d = reinterpret_cast<linux_dirent64*>(buf + pos);
        pos += d->d_reclen;
        const char* nm = reinterpret_cast<const char*>(d) + dirent_name_offset;
        if (nm[0] == '.' && (nm[1] == 0 || (nm[1] == '.' && nm[2] == 0))) continue;
        entries.push_back({static_cast<std::uint32_t>(names.size()), d->d_type});
        names.append(nm, std::strlen(nm) + 1);
      }
    }
  } catch (...) {
    return errno_code(ENOMEM);
  }
}

std::error_code clone(int src, int dst) noexcept { return checked(::ioctl(dst, FICLONE, src)); }

bool mostly_cached(int fd, std::uint64_t size) noexcept {
  if (size == 0) return true;
  // cachestat(2): Linux 6.5, syscall 451 on every architecture; older headers lack its definitions.
  struct range {
    std::uint64_t off, len;
  } r{0, size};
  struct stats {
    std::uint64_t nr_cache, nr_dirty, nr_writeback, nr_evicted, nr_recently_evicted;
  } cs{};
  if (::syscall(451, fd, &r, &cs, 0) == 0) return cs.nr_cache * 2 * 4096 >= size;
  for (std::uint64_t off : {std::uint64_t{0}, size / 2, size - 1}) {
    char byte = 0;
    struct iovec iov {
      &byte, 1
    };
    if (::preadv2(fd, &iov, 1, static_cast<off_t>(off), RWF_NOWAIT) == 1) continue;
    // tmpfs refuses RWF_NOWAIT (EOPNOTSUPP), and its files live in memory.
    struct statfs fs {};
    return errno == EOPNOTSUPP && ::fstatfs(fd, &fs) == 0 &&
           (fs.f_type == TMPFS_MAGIC || fs.f_type == RAMFS_MAGIC);
  }
  return true;
}

bool clone_unsupported(std::error_code error) noexcept {
  if (error.category() != std::generic_category()) return false;
  const int err = error.value();
  return err == EOPNOTSUPP || err == EXDEV || err == ENOTTY || err == ENOSYS;
}

namespace {

constexpr std::size_t io_buffer_size = 1 << 20;

char* io_buffer() noexcept { return thread_buffer(thread_buffer_slot::io, io_buffer_size); }

bool cancelled(const copy_control& ctl) noexcept {
  return ctl.cancel && ctl.cancel->load(std::memory_order_relaxed);
}

// Counts n more bytes copied, at off: in the result, the position and the caller's progress.
void advance(const copy_control& ctl, copy_result& r, std::uint64_t& off, ssize_t n) noexcept {
  const auto bytes = static_cast<std::uint64_t>(n);
  off += bytes;
  r.bytes += bytes;
  if (ctl.progress) ctl.progress->fetch_add(bytes, std::memory_order_relaxed);
}

// Errors after which copy_file_range cannot work for this pair of files and read/write must.
bool cfr_unusable(int err) noexcept {
  return err == EXDEV || err == EINVAL || err == ENOSYS || err == EOPNOTSUPP || err == EBADF ||
         err == ETXTBSY || err == EPERM;
}

// Copies [off, end) with pread/pwrite; end == UINT64_MAX reads until EOF.
copy_result rw_copy(int src, int dst, std::uint64_t off, std::uint64_t end,
                    const copy_control& ctl) noexcept {
  copy_result r;
  char* buf = io_buffer();
  if (!buf) return {ENOMEM, false, false, 0};
  while (off < end) {
    if (cancelled(ctl)) return {ECANCELED, false, false, r.bytes};
    std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(end - off, io_buffer_size));
    ssize_t n = ::pread(src, buf, want, static_cast<off_t>(off));
    if (n < 0) {
      if (errno == EINTR) continue;
      return {errno, true, false, r.bytes};
    }
    if (n == 0) break;
    for (ssize_t done = 0; done < n;) {
      ssize_t w = ::pwrite(dst, buf + done, static_cast<std::size_t>(n - done),
                           static_cast<off_t>(off + done));
      if (w < 0) {
        if (errno == EINTR) continue;
        return {errno, false, false, r.bytes};
      }
      done += w;
    }
    advance(ctl, r, off, n);
  }
  return r;
}

// Errors of sendfile and splice that mean "this source cannot be spliced": read/write instead.
bool splice_unsupported(int err) noexcept {
  return err == EINVAL || err == ENOSYS || err == EOPNOTSUPP;
}

// Whether a failed data call's errno is the destination's doing (the call does not say which side
// failed): the usual write-side errors.
bool write_side_error(int err) noexcept {
  return err == ENOSPC || err == EDQUOT || err == EFBIG || err == EROFS;
}

// The most one in-kernel copy call (copy_file_range, sendfile) is asked for: large, to keep the
// call count low, and bounded, so that progress moves and cancellation is seen inside big files.
constexpr std::uint64_t kernel_copy_step = 64ull << 20;

// Extents from this size on go through a pipe with splice when copy_file_range is refused: below
// it, making and closing the pipe (four calls) costs more than the copy through user memory saves.
constexpr std::uint64_t splice_threshold = 256 << 10;

// Copies [off, end) through a pipe with splice(2), for file pairs that copy_file_range refuses
// (two file systems: EXDEV). Splicing the source into the pipe moves page references, and only
// the splice into the destination copies, once; pread/pwrite copy every byte twice, through user
// memory. That is the CPU a copy from the disk spends besides the disk's own work. Sets *fallback
// and copies nothing when no pipe can be had (out of descriptors) or the source cannot be spliced,
// so that the caller uses read/write from off.
copy_result splice_copy(int src, int dst, std::uint64_t off, std::uint64_t end,
                        const copy_control& ctl, bool& fallback) noexcept {
  copy_result r;
  fallback = false;
  int p[2];
  if (::pipe2(p, O_CLOEXEC) != 0) {
    fallback = true;
    return r;
  }
  unique_fd rd(p[0]), wr(p[1]);
  // A 1 MiB pipe (the unprivileged maximum by default) halves the calls of the default 64 KiB;
  // refused (a user over the pipe-buffer quota), the pipe keeps its size and works all the same.
  int cap = ::fcntl(wr.get(), F_SETPIPE_SZ, 1 << 20);
  if (cap <= 0) cap = ::fcntl(wr.get(), F_GETPIPE_SZ);
  if (cap <= 0) cap = 64 << 10;
  while (off < end) {
    if (cancelled(ctl)) return {ECANCELED, false, false, r.bytes};
    const auto want =
        static_cast<std::size_t>(std::min(end - off, static_cast<std::uint64_t>(cap)));
    loff_t in = static_cast<loff_t>(off);
    ssize_t n = ::splice(src, &in, wr.get(), nullptr, want, SPLICE_F_MOVE);
    if (n < 0) {
      if (errno == EINTR) continue;
      // A source file system without splice support: read/write, unless bytes were moved already.
      fallback = r.bytes == 0 && splice_unsupported(errno);
      return {fallback ? 0 : errno, !fallback, false, r.bytes};
    }
    if (n == 0) break;  // EOF before the expected end
    for (ssize_t moved = 0; moved < n;) {
      loff_t out = static_cast<loff_t>(off) + moved;
      const auto left = static_cast<std::size_t>(n - moved);
      ssize_t w = ::splice(rd.get(), nullptr, dst, &out, left, SPLICE_F_MOVE);
      if (w < 0 && errno == EINTR) continue;
      const std::uint64_t written = r.bytes + static_cast<std::uint64_t>(moved);
      // A destination file system that cannot be spliced into: read/write, if nothing was written.
      if (w < 0 && written == 0 && splice_unsupported(errno)) {
        fallback = true;
        return r;
      }
      if (w <= 0) return {w < 0 ? errno : EIO, false, false, written};
      moved += w;
    }
    advance(ctl, r, off, n);
  }
  return r;
}

// Copies [off, end) with sendfile(2), which writes at dst's file position: only for a destination
// descriptor that no other thread writes (ctl.dst_position_ours). Like splice_copy() the kernel
// copies each byte once, and it needs no pipe of ours: one call for a small file, where
// pread/pwrite need two. Sets *fallback and copies nothing when the source cannot be spliced.
copy_result sendfile_copy(int src, int dst, std::uint64_t off, std::uint64_t end,
                          const copy_control& ctl, bool& fallback) noexcept {
  copy_result r;
  fallback = false;
  // The position is 0 for the fresh descriptor of a file copied from its start; a later extent of
  // a sparse file moves it past the hole.
  if (off != 0 && ::lseek(dst, static_cast<off_t>(off), SEEK_SET) < 0) {
    fallback = true;
    return r;
  }
  while (off < end) {
    if (cancelled(ctl)) return {ECANCELED, false, false, r.bytes};
    off_t in = static_cast<off_t>(off);
    const auto want = static_cast<std::size_t>(std::min(end - off, kernel_copy_step));
    ssize_t n = ::sendfile(dst, src, &in, want);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (r.bytes == 0 && splice_unsupported(errno)) {
        fallback = true;
        return r;
      }
      return {errno, !write_side_error(errno), false, r.bytes};
    }
    if (n == 0) break;  // EOF before the expected end
    advance(ctl, r, off, n);
  }
  return r;
}

// Copies one data extent [off, end): copy_file_range in large steps. Where it is refused (two file
// systems): sendfile when dst's file position is ours, else splice through a pipe for large
// extents; read/write for what neither can do.
// by_position: both file positions are off, and only this call moves them (copy_range()).
copy_result copy_extent(int src, int dst, std::uint64_t off, std::uint64_t end,
                        const copy_control& ctl, bool by_position = false) noexcept {
  copy_result r;
  while (ctl.use_cfr && off < end) {
    if (cancelled(ctl)) return {ECANCELED, false, false, r.bytes};
    loff_t in = static_cast<loff_t>(off), out = static_cast<loff_t>(off);
    std::size_t want = static_cast<std::size_t>(std::min(end - off, kernel_copy_step));
    // Without glibc's cancellation wrapper (detail::close_fd()). The positions advance by what was
    // copied, as off does; the fallbacks below take explicit offsets (sendfile seeks dst to off).
    ssize_t n = ::syscall(SYS_copy_file_range, src, by_position ? nullptr : &in, dst,
                          by_position ? nullptr : &out, want, 0u);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (cfr_unusable(errno)) {  // finish this extent without it
        if (errno == EXDEV && ctl.cfr_refused) ctl.cfr_refused->store(true);
        break;
      }
      return {errno, !write_side_error(errno), false, r.bytes};
    }
    if (n == 0) break;  // EOF before the expected end: the size lied; read until real EOF
    advance(ctl, r, off, n);
  }
  if (off < end && (ctl.dst_position_ours || end - off >= splice_threshold)) {
    bool fallback = false;
    copy_result rest = ctl.dst_position_ours ? sendfile_copy(src, dst, off, end, ctl, fallback)
                                             : splice_copy(src, dst, off, end, ctl, fallback);
    r.bytes += rest.bytes;
    off += rest.bytes;
    // Done, failed, or stopped short: a short end is checked with read/write below, which
    // reads until the real end of file, whatever splicing made of it.
    if (!fallback && (rest.error || off >= end)) {
      rest.bytes = r.bytes;
      return rest;
    }
  }
  if (off < end) {
    copy_result rest = rw_copy(src, dst, off, end, ctl);
    rest.bytes += r.bytes;
    return rest;
  }
  return r;
}

}  // namespace

copy_result copy_range(int src, int dst, std::uint64_t offset, std::uint64_t length, bool sparse,
                       const copy_control& ctl) noexcept {
  const std::uint64_t end = length == UINT64_MAX ? UINT64_MAX : offset + length;
  if (end == UINT64_MAX) {
    // Unknown size: read until EOF whatever copy_file_range thinks of the size.
    return rw_copy(src, dst, offset, end, ctl);
  }
  if (!sparse)
    return copy_extent(src, dst, offset, end, ctl,
                       offset == 0 && ctl.src_position_ours && ctl.dst_position_ours);
  copy_result total;
  std::uint64_t pos = offset;
  while (pos < end) {
    off_t data = ::lseek(src, static_cast<off_t>(pos), SEEK_DATA);
    if (data < 0) {
      if (errno == ENXIO) break;  // only a hole remains
      if (errno == EINVAL || errno == EOPNOTSUPP) {
        copy_result r = copy_extent(src, dst, pos, end, ctl);
        r.bytes += total.bytes;
        return r;
      }
      return {errno, true, false, total.bytes};
    }
    if (static_cast<std::uint64_t>(data) >= end) break;
    off_t hole = ::lseek(src, data, SEEK_HOLE);
    if (hole < 0) return {errno, true, false, total.bytes};
    std::uint64_t stop = std::min<std::uint64_t>(static_cast<std::uint64_t>(hole), end);
    copy_result r = copy_extent(src, dst, static_cast<std::uint64_t>(data), stop, ctl);
    total.bytes += r.bytes;
    if (r.error) {
      r.bytes = total.bytes;
      return r;
    }
    pos = stop;
  }
  return total;
}

namespace {

// Reads all attributes through list(buf, size) and get(name, buf, size), which are the f*, or the
// l* calls on a path. None is no error, also when the file system has none.
template <class List, class Get>
std::error_code read_xattrs_with(List list, Get get, xattr_list& out) noexcept {
  try {
    char small[1024];
    ssize_t n = list(small, sizeof small);
    std::string names;
    if (n < 0 && errno == ERANGE) {
      ssize_t need = list(nullptr, 0);
      if (need < 0) return last_error();
      names.resize(static_cast<std::size_t>(need));
      n = list(names.data(), names.size());
      if (n >= 0) names.resize(static_cast<std::size_t>(n));
    } else if (n > 0) {
      names.assign(small, static_cast<std::size_t>(n));
    }
    if (n < 0) return errno == ENOTSUP ? std::error_code{} : last_error();
    for (std::size_t pos = 0; pos < names.size();) {
      std::size_t end = names.find('\0', pos);
      if (end == std::string::npos) end = names.size();
      std::string name = names.substr(pos, end - pos);
      pos = end + 1;
      if (name.empty()) continue;
      std::string value;
      for (;;) {
        ssize_t len = get(name.c_str(), nullptr, 0);
        if (len < 0) {
          if (errno == ENODATA) break;  // removed meanwhile
          return last_error();
        }
        value.resize(static_cast<std::size_t>(len));
        ssize_t got = get(name.c_str(), value.data(), value.size());
        if (got >= 0) {
          value.resize(static_cast<std::size_t>(got));
          out.items.emplace_back(std::move(name), std::move(value));
          break;
        }
        if (errno != ERANGE) return last_error();  // ERANGE: it grew meanwhile; ask again
      }
    }
    return {};
  } catch (...) {
    return errno_code(ENOMEM);
  }
}

// Failures of setting or removing an attribute that cp -a passes over silently: the file system
// has no such attributes, or the namespace (security, trusted, system) needs a privilege.
bool ignorable_xattr_error(std::string_view name, int err) {
  if (err == ENOTSUP) return true;
  return name.rfind("user.", 0) != 0 && (err == EPERM || err == EACCES);
}

// Removes the attributes of the entry that keep does not name, through remove(name).
template <class Remove>
std::error_code remove_others(const xattr_list& have, const xattr_list& keep,
                              Remove remove) noexcept {
  for (const auto& [name, value] : have.items) {
    bool kept = false;
    for (const auto& k : keep.items) kept = kept || k.first == name;
    if (kept || remove(name.c_str()) == 0) continue;
    int err = errno;
    if (err == ENODATA || ignorable_xattr_error(name, err)) continue;
    return errno_code(err);
  }
  return {};
}

}  // namespace

std::error_code get_xattrs(int fd, xattr_list& out) noexcept {
  return read_xattrs_with([fd](char* buf, std::size_t size) { return ::flistxattr(fd, buf, size); },
                          [fd](const char* name, void* buf, std::size_t size) {
                            return ::fgetxattr(fd, name, buf, size);
                          },
                          out);
}

std::error_code set_xattrs(int fd, const xattr_list& attrs) noexcept {
  for (const auto& [name, value] : attrs.items) {
    if (::fsetxattr(fd, name.c_str(), value.data(), value.size(), 0) == 0) continue;
    int err = errno;
    // As cp -a: unsupported on the destination, or a namespace that needs privilege.
    if (!ignorable_xattr_error(name, err)) return errno_code(err);
  }
  return {};
}

copy_error copy_xattrs(int src, int dst) noexcept {
  // The common case, no attributes at all, costs one flistxattr call.
  char probe[1];
  ssize_t n = ::flistxattr(src, probe, 0);
  if (n == 0) return {};
  if (n < 0) return errno == ENOTSUP ? copy_error{} : copy_error{last_error(), true};
  xattr_list list;
  if (std::error_code err = get_xattrs(src, list)) return {err, true};
  return {set_xattrs(dst, list), false};
}

copy_error copy_xattrs_at(int src_dir, const char* src_name, int dst_dir,
                          const char* dst_name) noexcept {
  char src[64 + NAME_MAX], dst[64 + NAME_MAX];
  std::snprintf(src, sizeof src, "/proc/self/fd/%d/%s", src_dir, src_name);
  std::snprintf(dst, sizeof dst, "/proc/self/fd/%d/%s", dst_dir, dst_name);
  char probe[1];
  ssize_t n = ::llistxattr(src, probe, 0);
  if (n == 0) return {};
  if (n < 0) {
    if (errno == ENOTSUP || errno == ENOENT) return {};
    return {last_error(), true};
  }
  try {
    std::string names(static_cast<std::size_t>(n), '\0');
    n = ::llistxattr(src, names.data(), names.size());
    if (n < 0) return errno == ERANGE ? copy_error{} : copy_error{last_error(), true};
    names.resize(static_cast<std::size_t>(n));
    std::string value;
    for (std::size_t pos = 0; pos < names.size();) {
      const char* name = names.c_str() + pos;
      pos += std::strlen(name) + 1;
      ssize_t len = ::lgetxattr(src, name, nullptr, 0);
      if (len < 0) continue;  // removed meanwhile
      value.resize(static_cast<std::size_t>(len));
      len = ::lgetxattr(src, name, value.data(), value.size());
      if (len < 0) continue;
      if (::lsetxattr(dst, name, value.data(), static_cast<std::size_t>(len), 0) == 0) continue;
      int err = errno;
      if (!ignorable_xattr_error(name, err)) return {errno_code(err), false};
    }
  } catch (...) {
    return {errno_code(ENOMEM), true};
  }
  return {};
}

std::error_code prune_xattrs(int fd, const xattr_list& keep) noexcept {
  char probe[1];
  ssize_t n = ::flistxattr(fd, probe, 0);
  // None, or none possible (ENOTSUP): nothing to remove. Any other failure is one.
  if (n == 0) return {};
  if (n < 0) return errno == ENOTSUP ? std::error_code{} : last_error();
  xattr_list have;
  if (std::error_code err = get_xattrs(fd, have)) return err;
  return remove_others(have, keep, [fd](const char* name) { return ::fremovexattr(fd, name); });
}

copy_error sync_xattrs_at(int src_dir, const char* src_name, int dst_dir,
                          const char* dst_name) noexcept {
  char src[64 + NAME_MAX], dst[64 + NAME_MAX];
  std::snprintf(src, sizeof src, "/proc/self/fd/%d/%s", src_dir, src_name);
  std::snprintf(dst, sizeof dst, "/proc/self/fd/%d/%s", dst_dir, dst_name);
  auto list_of = [](const char* path) {
    return [path](char* buf, std::size_t size) { return ::llistxattr(path, buf, size); };
  };
  auto get_of = [](const char* path) {
    return [path](const char* name, void* buf, std::size_t size) {
      return ::lgetxattr(path, name, buf, size);
    };
  };
  try {
    xattr_list want, have;
    if (std::error_code err = read_xattrs_with(list_of(src), get_of(src), want))
      return err == std::errc::no_such_file_or_directory ? copy_error{} : copy_error{err, true};
    if (std::error_code err = read_xattrs_with(list_of(dst), get_of(dst), have))
      return {err, false};
    for (const auto& [name, value] : want.items) {
      bool same = false;
      for (const auto& h : have.items) same = same || (h.first == name && h.second == value);
      if (same || ::lsetxattr(dst, name.c_str(), value.data(), value.size(), 0) == 0) continue;
      int err = errno;
      if (!ignorable_xattr_error(name, err)) return {errno_code(err), false};
    }
    return {
        remove_others(have, want, [&dst](const char* name) { return ::lremovexattr(dst, name); }),
        false};
  } catch (...) {
    return {errno_code(ENOMEM), false};
  }
}

}  // namespace treecopy::fs
