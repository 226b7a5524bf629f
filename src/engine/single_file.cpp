// copy_file(): one file copied the way the entry copier copies one (clone, else copy_file_range and
// its fallbacks; metadata after the data), without a copier, workers or setup: the entry point of
// Python's treecopy.copy2() and treecopy.copyfile(), where a whole copy_tree() per file would cost
// two realpath calls, a /proc read and a task arena.
#include <fcntl.h>
#include <sys/stat.h>

#include <cstdint>
#include <optional>
#include <string>

#include "fs/sys.hpp"
#include "treecopy/copy_file.hpp"

namespace treecopy {

namespace {

entry_error failure(const std::filesystem::path& path, entry_side side, operation op,
                    std::error_code code) {
  return {path.string(), op, code, side};
}

// shutil.copystat's order: times, extended attributes, permission bits. The times are those of a
// stat taken after the data was read, as copystat's own stat is, so that an atime the read moved
// is the one copied.
std::optional<entry_error> copy_metadata(int sfd, int dfd, const std::filesystem::path& src,
                                         const std::filesystem::path& dst) {
  struct stat st {};
  if (std::error_code err = fs::stat(sfd, st))
    return failure(src, entry_side::source, operation::stat, err);
  const struct timespec times[2] = {st.st_atim, st.st_mtim};
  if (std::error_code err = fs::set_times(dfd, times))
    return failure(dst, entry_side::destination, operation::set_times, err);
  if (fs::copy_error err = fs::copy_xattrs(sfd, dfd))
    return err.read_side ? failure(src, entry_side::source, operation::read_xattr, err.error)
                         : failure(dst, entry_side::destination, operation::set_xattr, err.error);
  if (std::error_code err = fs::chmod(dfd, st.st_mode & 07777))
    return failure(dst, entry_side::destination, operation::set_mode, err);
  return std::nullopt;
}

}  // namespace

std::optional<entry_error> copy_file(const std::filesystem::path& src,
                                     const std::filesystem::path& dst,
                                     const file_copy_options& options) {
  fs::opened s = fs::open(AT_FDCWD, src.c_str(), O_RDONLY | O_NOCTTY);
  if (!s) return failure(src, entry_side::source, operation::open_source, s.error);
  struct stat st {};
  if (std::error_code err = fs::stat(s.fd.get(), st))
    return failure(src, entry_side::source, operation::stat, err);
  fs::opened d = fs::open(AT_FDCWD, dst.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOCTTY, 0666);
  if (!d) return failure(dst, entry_side::destination, operation::create, d.error);
  const bool regular = S_ISREG(st.st_mode);
  bool done = regular && st.st_size == 0;
  if (!done && regular && options.reflink != reflink_mode::never) {
    std::error_code err = fs::clone(s.fd.get(), d.fd.get());
    if (!err) done = true;
    if (err && options.reflink == reflink_mode::always)
      return failure(dst, entry_side::destination, operation::clone, err);
  }
  if (!done) {
    fs::copy_control ctl;
    ctl.use_cfr = options.reflink != reflink_mode::never;
    ctl.dst_position_ours = true;  // opened here, written from offset 0 by this thread alone
    ctl.src_position_ours = true;  // opened here, read by this thread alone
    const std::uint64_t len = regular ? static_cast<std::uint64_t>(st.st_size) : UINT64_MAX;
    fs::copy_result r = fs::copy_range(s.fd.get(), d.fd.get(), 0, len, false, ctl);
    if (r.error)
      return r.read_side ? failure(src, entry_side::source, operation::read, r.code())
                         : failure(dst, entry_side::destination, operation::write, r.code());
  }
  if (options.metadata) {
    if (auto err = copy_metadata(s.fd.get(), d.fd.get(), src, dst)) return err;
  }
  if (std::error_code err = fs::close(d.fd.release()))
    return failure(dst, entry_side::destination, operation::close, err);
  return std::nullopt;
}

}  // namespace treecopy
