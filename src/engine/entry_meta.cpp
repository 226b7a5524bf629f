// Metadata of the entries the entry copier writes: owner, extended attributes, mode and times of a
// new entry (through its descriptor or by name), of a directory once its entries are written, and
// of an entry --update keeps (only what differs).
#include <fcntl.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/statfs.h>

#include <cstdint>

#include "engine/entry_copier.hpp"

namespace treecopy::engine {
namespace {

constexpr std::int64_t ns_per_s = 1'000'000'000;

std::int64_t ns_between(const struct timespec& a, const struct timespec& b) {
  return (static_cast<std::int64_t>(a.tv_sec) - b.tv_sec) * ns_per_s + (a.tv_nsec - b.tv_nsec);
}

}  // namespace

mode_t entry_copier::created_mode(const struct stat& st) const noexcept {
  return plan::created_mode(pol_, plan::entry_facts::of(st));
}

bool entry_copier::needs_chown(const struct stat& st, const dir_node* parent) const noexcept {
  return plan::new_needs_chown(pol_, plan::entry_facts::of(st), parent->always_chmod);
}

// Metadata through a descriptor, in cp's order: owner (chown clears set-id bits), attributes, mode,
// times. Returns the failure, with op naming the failed step.
std::error_code entry_copier::apply_fd_meta(const dir_node* parent, int sfd, int dfd,
                                            const struct stat& st, const fs::xattr_list* xattrs,
                                            operation& op, bool existed) {
  mode_t mode = plan::final_mode(pol_, plan::entry_facts::of(st));
  if (needs_chown(st, parent)) {
    if (std::error_code err = fs::chown(dfd, st.st_uid, st.st_gid)) {
      if (plan::chown_failure_reported(pol_, err.value())) return op = operation::set_owner, err;
      // Not permitted, as for any non-root cp -a: keep at least the group if we may, and never
      // leave set-id bits on an entry that does not have the source's owner (cp also drops the
      // sticky bit of such files, but not of directories).
      if (st.st_gid != pol_.who.egid) (void)fs::chown(dfd, static_cast<uid_t>(-1), st.st_gid);
      if (pol_.preserve_mode) mode = plan::mode_without_owner(plan::entry_facts::of(st));
    }
  }
  bool force_chmod = false;
  if (opt_.preserve_xattrs && (xattrs || sfd >= 0)) {
    auto write_attrs = [&]() -> fs::copy_error {
      return xattrs ? fs::copy_error{fs::set_xattrs(dfd, *xattrs), false}
                    : fs::copy_xattrs(sfd, dfd);
    };
    fs::copy_error e = write_attrs();
    if (plan::lend_write_for_xattrs(pol_, e.error.value(), e.read_side, created_mode(st))) {
      // user.* attributes need write permission even through a descriptor, and the file was
      // created read-only: lend the owner write permission until the final mode is set.
      if (!fs::chmod(dfd, created_mode(st) | S_IWUSR)) {
        force_chmod = true;
        e = write_attrs();
      }
    }
    if (e) return op = e.read_side ? operation::read_xattr : operation::set_xattr, e.error;
  }
  // Without preserve_mode a directory merged into keeps its mode, as cp leaves it.
  const bool keep_mode = existed && !pol_.preserve_mode;
  if ((plan::new_needs_chmod(pol_, plan::entry_facts::of(st), mode, parent->always_chmod) &&
       !keep_mode) ||
      force_chmod) {
    if (std::error_code err = fs::chmod(dfd, mode)) return op = operation::set_mode, err;
  }
  if (!pol_.preserve_timestamps) return {};
  const struct timespec times[2] = {st.st_atim, st.st_mtim};
  if (std::error_code err = fs::set_times(dfd, times)) return op = operation::set_times, err;
  return {};
}

// Metadata by name, for entries that cannot be opened (symlinks, devices, FIFOs, sockets).
std::error_code entry_copier::apply_at_meta(const dir_node* parent, int src_dirfd,
                                            const char* sname, const char* dname,
                                            const struct stat& st, operation& op) {
  const int dfd = parent->dst_fd;
  mode_t mode = plan::final_mode(pol_, plan::entry_facts::of(st));
  if (needs_chown(st, parent)) {
    if (std::error_code err = fs::chown_at(dfd, dname, st.st_uid, st.st_gid)) {
      if (plan::chown_failure_reported(pol_, err.value())) return op = operation::set_owner, err;
      if (st.st_gid != pol_.who.egid)
        (void)fs::chown_at(dfd, dname, static_cast<uid_t>(-1), st.st_gid);
      if (pol_.preserve_mode) mode = plan::mode_without_owner(plan::entry_facts::of(st));
    }
  }
  if (opt_.preserve_xattrs && src_dirfd >= 0) {
    if (fs::copy_error e = fs::copy_xattrs_at(src_dirfd, sname, dfd, dname))
      return op = e.read_side ? operation::read_xattr : operation::set_xattr, e.error;
  }
  if (plan::new_needs_chmod(pol_, plan::entry_facts::of(st), mode, parent->always_chmod)) {
    // Never through a symlink: something planted under this name since mknodat() must not get
    // the mode (fchmodat2, or glibc's O_PATH emulation on older kernels).
    if (std::error_code err = fs::chmod_at(dfd, dname, mode)) return op = operation::set_mode, err;
  }
  if (!pol_.preserve_timestamps) return {};
  const struct timespec times[2] = {st.st_atim, st.st_mtim};
  if (std::error_code err = fs::set_times_at(dfd, dname, times))
    return op = operation::set_times, err;
  return {};
}

std::error_code entry_copier::finish_dir_meta(const dir_node* node, int dfd, operation& op) {
  std::error_code err =
      apply_fd_meta(node->parent, -1, dfd, node->st, &node->xattrs, op, node->existed);
  // --update makes an existing directory's attributes equal: also drop those SRC's has not.
  if (!err && plan::prunes_dir_xattrs(pol_, node->existed, node->xattrs_read)) {
    err = fs::prune_xattrs(dfd, node->xattrs);
    if (err) op = operation::set_xattr;
  }
  return err;
}

// --update: DST's entry has SRC's data. Its metadata is made equal too, as rsync -a does: owner
// and mode from the stat both sides already have; attributes (and ACLs) only when SRC's entry
// may have changed after DST's was set (ctime), so that an unchanged entry costs no call at all;
// times when they differ (--checksum; not within DST's granularity). Counted as skipped (no data
// copied); returns false after reporting a failure.
bool entry_copier::keep_entry(dir_node* node, const char* name, const struct stat& src,
                              const struct stat& dst) {
  operation op{};
  if (std::error_code err = fix_meta(node, name, src, dst, op)) {
    rep_.report(node, name, true, op, err);
    return false;
  }
  rep_.skipped();
  return true;
}

// The metadata steps of apply_at_meta() (owner, attributes, mode, times, in that order), each only
// where SRC and DST differ. Returns the failure, with op naming the failed step.
std::error_code entry_copier::fix_meta(dir_node* node, const char* name, const struct stat& src,
                                       const struct stat& dst, operation& op) {
  const char* dname = dst_name(node, name);
  const int dfd = node->dst_fd;
  // Which steps, as plan::fix_metadata() says; set-id bits stay off an entry without SRC's owner.
  const plan::entry_facts s = plan::entry_facts::of(src), d = plan::entry_facts::of(dst);
  const plan::meta_fix fix = plan::fix_metadata(pol_, s, d);
  bool owner_ok = !fix.owner_differs;
  if (fix.chown) {
    if (std::error_code err = fs::chown_at(dfd, dname, src.st_uid, src.st_gid); !err)
      owner_ok = true;
    else if (plan::chown_failure_reported(pol_, err.value()))
      return op = operation::set_owner, err;
  }
  mode_t mode = 0;
  bool set_mode = plan::fix_mode(pol_, s, d, owner_ok, mode);
  if (fix.sync_xattrs) {
    fs::copy_error e = fs::sync_xattrs_at(node->src_fd, name, dfd, dname);
    if (plan::lend_write_for_xattrs(pol_, e.error.value(), e.read_side, dst.st_mode) &&
        !fs::chmod_at(dfd, dname, (dst.st_mode & 07777) | S_IWUSR)) {
      // user.* attributes need write permission: lend it until the mode is set below.
      set_mode = true;
      e = fs::sync_xattrs_at(node->src_fd, name, dfd, dname);
    }
    if (e) return op = e.read_side ? operation::read_xattr : operation::set_xattr, e.error;
  }
  if (set_mode) {
    if (std::error_code err = fs::chmod_at(dfd, dname, mode)) return op = operation::set_mode, err;
  }
  // The times are also set again when SRC changed after DST was set (fix_metadata()).
  if (fix.set_times) {
    const struct timespec times[2] = {src.st_atim, src.st_mtim};
    if (std::error_code err = fs::set_times_at(dfd, dname, times))
      return op = operation::set_times, err;
  }
  return {};
}

// The granularity of DST's mtimes, so that --update does not copy again every file of a
// destination that drops what it cannot store (nanoseconds on ext4 with 128-byte inodes, ext3,
// HFS+; odd seconds on FAT). Found by setting DST's own mtime to an odd second and 999999999 ns
// and reading back what was kept, then restoring it (it is set again when DST is finalized); a
// dry run may not write: it takes mtime and ctime without nanoseconds as whole seconds. Only DST's
// file system is probed, not others mounted inside it.
void entry_copier::detect_time_granularity(int dfd) {
  struct statfs sfs {};
  if (!fs::stat_fs(dfd, sfs) && sfs.f_type == MSDOS_SUPER_MAGIC) {
    plan::allow_granularity(pol_, {true, 0});
    return;
  }
  struct stat before {};
  if (fs::stat(dfd, before)) return;
  std::int64_t dropped = 0;
  if (opt_.dry_run) {
    dropped = plan::guess_dropped_ns(plan::entry_facts::of(before));
  } else {
    const struct timespec probe[2] = {{0, UTIME_OMIT}, {before.st_mtim.tv_sec | 1, ns_per_s - 1}};
    struct stat after {};
    if (fs::set_times(dfd, probe) || fs::stat(dfd, after)) return;  // not ours: exact
    dropped = ns_between(probe[1], after.st_mtim);
    const struct timespec restore[2] = {{0, UTIME_OMIT}, before.st_mtim};
    (void)fs::set_times(dfd, restore);
  }
  plan::allow_granularity(pol_, {false, dropped});
}

}  // namespace treecopy::engine
