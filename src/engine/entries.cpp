// Copying one entry: regular files (clone, copy_file_range, holes, large files in parallel chunks),
// symlinks, special files and hard links, with their metadata. Every failure becomes a reported
// entry_error; nothing here throws into the task scheduler.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <memory>

#include "engine/copier.hpp"

namespace treecopy::engine {
namespace {

// Files at least this large are split into chunks that several workers copy at once.
// Files at least this large are stat'ed again after the copy to see whether they changed meanwhile.
// Smaller ones are copied within microseconds of their first fstat; a shrink shows for any size.
constexpr off_t recheck_threshold = 1 << 20;
// Files from this size on let the rest of their batch go to other workers (hand_off_rest()).
constexpr off_t hand_off_threshold = 1 << 20;

entry_kind kind_of(mode_t mode) {
  switch (mode & S_IFMT) {
    case S_IFLNK:
      return entry_kind::symlink;
    case S_IFIFO:
      return entry_kind::fifo;
    case S_IFSOCK:
      return entry_kind::socket;
    case S_IFCHR:
      return entry_kind::char_device;
    case S_IFBLK:
      return entry_kind::block_device;
    case S_IFDIR:
      return entry_kind::directory;
    default:
      return entry_kind::file;
  }
}

// Whether a failed metadata step (apply_fd_meta, apply_at_meta) is reported under the destination
// path: all are writes to it except reading the source's extended attributes.
bool names_dst(operation op) { return op != operation::read_xattr; }

bool looks_sparse(const struct stat& st) {
  return st.st_size > 0 &&
         static_cast<std::uint64_t>(st.st_blocks) * 512 < static_cast<std::uint64_t>(st.st_size);
}

}  // namespace

// Creates an entry with create() (0 or errno); with --merge, once more after removing what was in
// the way. Reports a failure as op; returns whether the entry now exists.
template <class Create>
bool copier::create_replacing(dir_node* node, const char* name, operation op, Create&& create) {
  for (int attempt = 0;; ++attempt) {
    int err = create();
    if (err == 0) return true;
    if (err == EEXIST &&
        plan::decide_exists(pol_, nullptr, attempt).what == plan::action::replace) {
      if (!replace_existing(node, name)) return false;  // reported there
      continue;
    }
    rep_.report(node, name, true, op, err);
    return false;
  }
}

// Every chunk of a large file is done: as copy_regular() does after copy_bytes().
void copier::big_file_done(big_file& f) {
  dir_node* node = f.node;
  const char* name = f.name;
  if (int err = f.error.load()) {
    const bool read_side = f.read_side.load();
    rep_.report(node, name, !read_side, read_side ? operation::read : operation::write, err);
    discard_file(node, name);
    if (f.first_link) link_waiters(node, name, f.st, false);
  } else if (f.sparse && ::ftruncate(f.dfd.get(), f.st.st_size) != 0) {
    rep_.report(node, name, true, operation::write, errno);
    discard_file(node, name);
    if (f.first_link) link_waiters(node, name, f.st, false);
  } else {
    const bool changed = source_changed(f.sfd.get(), f.st, f.short_read.load());
    finish_file(node, name, f.sfd.get(), f.dfd, f.st, f.first_link, changed);
  }
  f.sfd.reset();
  f.dfd.reset();
  release_users(node);
  finish_child(node);
}

void copier::copy_entry(dir_node* node, const char* name, std::uint8_t dtype) {
  try {
    if (opt_.dry_run) return dry_entry(node, name);
    if (pol_.merge) return merge_entry(node, name);
    if (dtype == DT_REG) return copy_regular(node, name);
    struct stat st {};
    if (!stat_source(node, name, st)) return;
    copy_by_stat(node, name, st);
  } catch (const std::bad_alloc&) {
    rep_.report(node, name, false, operation::read, ENOMEM);
  }
}

void copier::copy_by_stat(dir_node* node, const char* name, const struct stat& st) {
  switch (st.st_mode & S_IFMT) {
    case S_IFREG:
      return copy_regular(node, name);
    case S_IFLNK:
      return copy_symlink(node, name, st);
    case S_IFDIR: {
      // Listed without a type (DT_UNKNOWN): a directory after all.
      return spawn_child(node, name, true);
    }
    default:
      return copy_special(node, name, st);
  }
}

void copier::copy_regular(dir_node* node, const char* name, const struct stat* claimed,
                          bool replace) {
  // The first name of a hard-link group claimed by the caller (--update): whatever stops this copy
  // early must finish the group, or the names waiting for it would never be linked or reported.
  auto give_up = [&] {
    if (claimed) link_waiters(node, name, *claimed, false);
  };
  int s = fs::open_at(node->src_fd, name, O_RDONLY | src_nofollow(node) | O_NONBLOCK | O_NOCTTY);
  if (s < 0) {
    struct stat st {};
    // Listed as a file but something else now (a symlink: ELOOP; a socket: ENXIO): copy what it is.
    if ((s == -ELOOP || s == -ENXIO) &&
        ::fstatat(node->src_fd, name, &st, follows(node) ? 0 : AT_SYMLINK_NOFOLLOW) == 0 &&
        !S_ISREG(st.st_mode)) {
      give_up();
      return copy_by_stat(node, name, st);
    }
    rep_.report(node, name, false, operation::open_source, -s);
    return give_up();
  }
  fs::unique_fd sfd(s);
  struct stat st {};
  if (::fstat(sfd.get(), &st) != 0) {
    rep_.report(node, name, false, operation::stat, errno);
    return give_up();
  }
  if (!S_ISREG(st.st_mode)) {
    sfd.reset();
    give_up();
    return copy_by_stat(node, name, st);
  }
  rep_.count().bytes_found.fetch_add(static_cast<std::uint64_t>(st.st_size),
                                     std::memory_order_relaxed);
  if (st.st_size >= hand_off_threshold) hand_off_rest(node);
  bool first = claimed != nullptr;
  if (!first && claims_at_create(node, st) && handle_links(node, name, st, first)) return;
  if (replace && ::unlinkat(node->dst_fd, dst_name(node, name), 0) != 0 && errno != ENOENT) {
    rep_.report(node, name, true, operation::remove, errno);
    return give_up();
  }

  int d = create_file(node, name, st.st_mode & 0777);
  if (d < 0) {
    if (first) link_waiters(node, name, st, false);
    return;
  }
  fs::unique_fd dfd(d);
  bool done = false;
  bool ok = try_clone(node, name, sfd.get(), dfd.get(), st, done);
  if (ok && !done && static_cast<std::uint64_t>(st.st_size) >= big_file_threshold &&
      !node->pseudo_fs && streams_.start(*sched_, node, name, sfd, dfd, st, first)) {
    return;
  }
  bool changed = false;
  if (ok && !done) ok = copy_bytes(node, name, sfd.get(), dfd.get(), st, changed);
  if (!ok) {
    dfd.reset();
    discard_file(node, name);
    if (first) link_waiters(node, name, st, false);
    return;
  }
  finish_file(node, name, sfd.get(), dfd, st, first, changed);
}

// Shares the data with FICLONE where allowed and possible. done: the data is in place. Returns
// false (after reporting) only when the entry failed: --reflink=always and no clone.
bool copier::try_clone(dir_node* node, const char* name, int sfd, int dfd, const struct stat& st,
                       bool& done) {
  done = st.st_size == 0 && !node->pseudo_fs;
  if (done || opt_.reflink == reflink_mode::never || node->pseudo_fs) return true;
  const bool root = root_pair(node, st);
  if (root && clone_state_.load(std::memory_order_relaxed) == 2 &&
      opt_.reflink != reflink_mode::always)
    return true;
  int err = fs::clone_file(sfd, dfd);
  if (err == 0) {
    clone_state_.store(1, std::memory_order_relaxed);
    rep_.count().bytes_done.fetch_add(static_cast<std::uint64_t>(st.st_size),
                                      std::memory_order_relaxed);
    done = true;
    return true;
  }
  if (opt_.reflink == reflink_mode::always) {
    rep_.report(node, name, true, operation::clone, err);
    return false;
  }
  // Remember that the two root file systems cannot clone, so later files skip the attempt.
  if (root && fs::clone_unsupported(err)) clone_state_.store(2, std::memory_order_relaxed);
  return true;
}

// How a file's data is copied. copy_file_range may share blocks by itself (XFS, btrfs):
// --reflink=never must not use it. Once it said EXDEV for a file copied between the two root file
// systems, they cannot use it, and later such files skip the failing call.
fs::copy_control copier::data_control(const dir_node* node, const struct stat& st) noexcept {
  const bool root_fs = root_pair(node, st);
  const bool use_cfr = opt_.reflink != reflink_mode::never &&
                       !(root_fs && cfr_refused_.load(std::memory_order_relaxed));
  return {&rep_.count().bytes_done, flags_.flag(), use_cfr, root_fs ? &cfr_refused_ : nullptr};
}

// Copies the bytes, keeping holes. Reports its own failure; false means discard the file. changed:
// the source changed while it was copied (see source_changed()).
bool copier::copy_bytes(dir_node* node, const char* name, int sfd, int dfd, const struct stat& st,
                        bool& changed) {
  // Files of /proc and /sys report sizes and block counts that mean nothing: read them to EOF.
  const bool sparse = !node->pseudo_fs && looks_sparse(st);
  const std::uint64_t len = node->pseudo_fs ? UINT64_MAX : static_cast<std::uint64_t>(st.st_size);
  // Large files are read front to back: a wider readahead window matters on a cold cache.
  if (st.st_size >= (1 << 20)) (void)::posix_fadvise(sfd, 0, 0, POSIX_FADV_SEQUENTIAL);
  fs::copy_control ctl = data_control(node, st);
  ctl.dst_position_ours = true;  // a fresh descriptor, written by this thread alone
  fs::copy_result r = fs::copy_range(sfd, dfd, 0, len, sparse, ctl);
  if (r.error) {
    rep_.report(node, name, !r.read_side, r.read_side ? operation::read : operation::write,
                r.error);
    return false;
  }
  if (sparse && ::ftruncate(dfd, st.st_size) != 0) {
    rep_.report(node, name, true, operation::write, errno);
    return false;
  }
  if (!node->pseudo_fs) changed = source_changed(sfd, st, !sparse && r.bytes < len);
  return true;
}

// Whether the source file changed while it was copied: it ended before its size (short_read), or,
// for files large enough that copying takes a while, its size or modification time is not what
// the copy started from. A change inside one clock tick of the mtime goes unseen.
bool copier::source_changed(int sfd, const struct stat& before, bool short_read) const noexcept {
  if (short_read) return true;
  if (before.st_size < recheck_threshold) return false;
  struct stat now {};
  if (::fstat(sfd, &now) != 0) return false;
  return now.st_size != before.st_size || now.st_mtim.tv_sec != before.st_mtim.tv_sec ||
         now.st_mtim.tv_nsec != before.st_mtim.tv_nsec;
}

// Applies the metadata and closes the file. A file whose source changed meanwhile keeps what was
// copied and the times read before the copy (so --update recopies it) and is reported, not counted.
void copier::finish_file(dir_node* node, const char* name, int sfd, fs::unique_fd& dfd,
                         const struct stat& st, bool first_link, bool changed) {
  operation op{};
  int err = apply_fd_meta(node, sfd, dfd.get(), st, nullptr, op);
  int cerr = dfd.close_checked();
  if (!err && cerr) {
    err = cerr;
    op = operation::close;
  }
  if (err) {
    rep_.report(node, name, names_dst(op), op, err);
    if (op == operation::close) discard_file(node, name);  // the data may not have reached the disk
  } else if (changed) {
    rep_.report(node, name, false, operation::read, make_error_code(errc::source_changed));
  } else {
    rep_.entry_done(node, name, entry_kind::file);
  }
  if (first_link) link_waiters(node, name, st, err == 0 || op != operation::close);
}

void copier::discard_file(dir_node* node, const char* name) {
  ::unlinkat(node->dst_fd, dst_name(node, name), 0);
}

int copier::create_file(dir_node* node, const char* name, mode_t mode) {
  const char* dname = dst_name(node, name);
  int fd = -1;
  create_replacing(node, name, operation::create, [&] {
    fd = fs::open_at(node->dst_fd, dname, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, mode);
    return fd < 0 ? -fd : 0;
  });
  return fd;
}

// --merge: removes the destination entry that a non-directory is about to replace.
bool copier::replace_existing(dir_node* node, const char* name) {
  const char* dname = dst_name(node, name);
  struct stat st {};
  plan::entry_facts there;
  const bool have = ::fstatat(node->dst_fd, dname, &st, AT_SYMLINK_NOFOLLOW) == 0;
  if (have) there = plan::entry_facts::of(st);
  const plan::entry_decision d = plan::decide_exists(pol_, have ? &there : nullptr, 0);
  if (d.what == plan::action::conflict) {
    rep_.report(node, name, true, operation::create, d.error);  // cannot overwrite a directory
    return false;
  }
  if (::unlinkat(node->dst_fd, dname, 0) != 0 && errno != ENOENT) {
    rep_.report(node, name, true, operation::remove, errno);
    return false;
  }
  return true;
}

mode_t copier::created_mode(const struct stat& st) const noexcept {
  return plan::created_mode(pol_, plan::entry_facts::of(st));
}

bool copier::needs_chown(const struct stat& st, const dir_node* parent) const noexcept {
  return plan::new_needs_chown(pol_, plan::entry_facts::of(st), parent->always_chmod);
}

// Metadata through a descriptor, in cp's order: owner (chown clears set-id bits), attributes, mode,
// times. Returns 0 or errno, with op naming the failed step.
int copier::apply_fd_meta(const dir_node* parent, int sfd, int dfd, const struct stat& st,
                          const fs::xattr_list* xattrs, operation& op) {
  mode_t mode = st.st_mode & 07777;
  if (needs_chown(st, parent) && ::fchown(dfd, st.st_uid, st.st_gid) != 0) {
    int err = errno;
    if (plan::chown_failure_reported(pol_, err)) return op = operation::set_owner, err;
    // Not permitted, as for any non-root cp -a: keep at least the group if we may, and never leave
    // set-id bits on an entry that does not have the source's owner (cp also drops the sticky bit
    // of such files, but not of directories).
    if (st.st_gid != pol_.who.egid) (void)::fchown(dfd, static_cast<uid_t>(-1), st.st_gid);
    mode = plan::mode_without_owner(plan::entry_facts::of(st));
  }
  bool force_chmod = false;
  if (opt_.preserve_xattrs && (xattrs || sfd >= 0)) {
    auto write_attrs = [&](bool& read_side) {
      return xattrs ? fs::write_xattrs(dfd, *xattrs) : fs::copy_xattrs(sfd, dfd, read_side);
    };
    bool read_side = false;
    int err = write_attrs(read_side);
    if (plan::lend_write_for_xattrs(pol_, err, read_side, created_mode(st))) {
      // user.* attributes need write permission even through a descriptor, and the file was
      // created read-only: lend the owner write permission until the final mode is set.
      if (::fchmod(dfd, created_mode(st) | S_IWUSR) == 0) {
        force_chmod = true;
        err = write_attrs(read_side);
      }
    }
    if (err) return op = read_side ? operation::read_xattr : operation::set_xattr, err;
  }
  if (plan::new_needs_chmod(pol_, plan::entry_facts::of(st), mode, parent->always_chmod) ||
      force_chmod) {
    if (::fchmod(dfd, mode) != 0) return op = operation::set_mode, errno;
  }
  const struct timespec times[2] = {st.st_atim, st.st_mtim};
  if (::futimens(dfd, times) != 0) return op = operation::set_times, errno;
  return 0;
}

// Metadata by name, for entries that cannot be opened (symlinks, devices, FIFOs, sockets).
int copier::apply_at_meta(const dir_node* parent, int src_dirfd, const char* sname,
                          const char* dname, const struct stat& st, operation& op) {
  const int dfd = parent->dst_fd;
  mode_t mode = st.st_mode & 07777;
  if (needs_chown(st, parent) &&
      ::fchownat(dfd, dname, st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW) != 0) {
    int err = errno;
    if (plan::chown_failure_reported(pol_, err)) return op = operation::set_owner, err;
    if (st.st_gid != pol_.who.egid)
      (void)::fchownat(dfd, dname, static_cast<uid_t>(-1), st.st_gid, AT_SYMLINK_NOFOLLOW);
    mode = plan::mode_without_owner(plan::entry_facts::of(st));
  }
  if (opt_.preserve_xattrs && src_dirfd >= 0) {
    bool read_side = false;
    if (int err = fs::copy_xattrs_at(src_dirfd, sname, dfd, dname, read_side))
      return op = read_side ? operation::read_xattr : operation::set_xattr, err;
  }
  if (plan::new_needs_chmod(pol_, plan::entry_facts::of(st), mode, parent->always_chmod)) {
    // Never through a symlink: something planted under this name since mknodat() must not get
    // the mode (fchmodat2, or glibc's O_PATH emulation on older kernels).
    if (::fchmodat(dfd, dname, mode, AT_SYMLINK_NOFOLLOW) != 0)
      return op = operation::set_mode, errno;
  }
  const struct timespec times[2] = {st.st_atim, st.st_mtim};
  if (::utimensat(dfd, dname, times, AT_SYMLINK_NOFOLLOW) != 0)
    return op = operation::set_times, errno;
  return 0;
}

// A source directory that cannot be opened (no read permission): as cp -a, its copy is still
// made, empty, with the metadata its parent can see (owner, mode, times); the caller reports the
// open's failure. Failures here go unreported beside that one, as they would only repeat it.
void copier::create_unlisted_dir(dir_node* parent, const char* name, int psrc, int pdst) {
  struct stat st {};
  const int follow = opt_.dereference == symlink_mode::always ? 0 : AT_SYMLINK_NOFOLLOW;
  if (::fstatat(psrc, name, &st, follow) != 0 || !S_ISDIR(st.st_mode)) return;
  const char* dname = dst_name(parent, name);
  if (::mkdirat(pdst, dname, S_IRWXU) != 0 && (errno != EEXIST || !pol_.merge)) return;
  fs::unique_fd d(fs::open_at(pdst, dname, O_RDONLY | fs::dir_open_flags));
  if (d.get() < 0) return;
  operation op{};
  (void)apply_fd_meta(parent, -1, d.get(), st, nullptr, op);
}

void copier::copy_symlink(dir_node* node, const char* name, const struct stat& st) {
  std::string target(static_cast<std::size_t>(st.st_size > 0 ? st.st_size : 255) + 1, '\0');
  for (;;) {
    ssize_t n = ::readlinkat(node->src_fd, name, target.data(), target.size());
    if (n < 0) return rep_.report(node, name, false, operation::read_link, errno);
    if (static_cast<std::size_t>(n) < target.size()) {
      target.resize(static_cast<std::size_t>(n));
      break;
    }
    target.resize(target.size() * 2);  // it grew since the stat
  }
  bool first = false;
  if (claims_at_create(node, st) && handle_links(node, name, st, first)) return;
  const char* dname = dst_name(node, name);
  if (!create_replacing(node, name, operation::create, [&] {
        return ::symlinkat(target.c_str(), node->dst_fd, dname) == 0 ? 0 : errno;
      })) {
    if (first) link_waiters(node, name, st, false);
    return;
  }
  operation op{};
  if (int err = apply_at_meta(node, node->src_fd, name, dname, st, op))
    rep_.report(node, name, names_dst(op), op, err);
  else
    rep_.entry_done(node, name, entry_kind::symlink);
  if (first) link_waiters(node, name, st, true);
}

void copier::copy_special(dir_node* node, const char* name, const struct stat& st) {
  bool first = false;
  if (claims_at_create(node, st) && handle_links(node, name, st, first)) return;
  const char* dname = dst_name(node, name);
  const bool device = S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode);
  const mode_t mode = (st.st_mode & S_IFMT) | (st.st_mode & 0777);
  // FIFOs and sockets are recreated, never opened: opening a FIFO for reading would block.
  if (!create_replacing(node, name, operation::create, [&] {
        return ::mknodat(node->dst_fd, dname, mode, device ? st.st_rdev : 0) == 0 ? 0 : errno;
      })) {
    if (first) link_waiters(node, name, st, false);
    return;
  }
  operation op{};
  if (int err = apply_at_meta(node, node->src_fd, name, dname, st, op))
    rep_.report(node, name, names_dst(op), op, err);
  else
    rep_.entry_done(node, name, kind_of(st.st_mode));
  if (first) link_waiters(node, name, st, true);
}

// --dry-run: what the real run would do with one entry (the same plan::decide_entry()), recorded
// (counts, the observer, errors that can be known now) instead of done.
void copier::dry_entry(dir_node* node, const char* name) {
  struct stat st {};
  if (::fstatat(node->src_fd, name, &st, follows(node) ? 0 : AT_SYMLINK_NOFOLLOW) != 0)
    return rep_.report(node, name, false, operation::stat, errno);
  if (S_ISDIR(st.st_mode)) {
    return spawn_child(node, name, true);
  }
  struct stat dst {};
  const bool have_dst = node->dst_fd >= 0 && ::fstatat(node->dst_fd, dst_name(node, name), &dst,
                                                       AT_SYMLINK_NOFOLLOW) == 0;
  const plan::entry_facts s = plan::entry_facts::of(st);
  plan::entry_facts d = plan::entry_facts::of(dst);
  // A name of a DST inode that the real run would replace no longer counts as one of its names.
  const std::pair<dev_t, ino_t> key{dst.st_dev, dst.st_ino};
  if (have_dst && dst.st_nlink > 1) {
    std::lock_guard lock(dry_mu_);
    auto it = dry_replaced_.find(key);
    if (it != dry_replaced_.end()) d.nlink -= it->second;
  }
  link_claim c{link_claim::kind::copy, {}, {}, 0};
  const plan::entry_decision dec =
      decide(node, name, s, have_dst ? &d : nullptr, st, c, [] { return std::string(); });
  bool first = dec.first_link;
  auto finish_group = [&](bool ok, ino_t ino) {
    if (first) dry_waiters(links_.finish(st.st_dev, st.st_ino, ok, ino), ok, ino);
  };
  switch (dec.what) {
    case plan::action::conflict:
      finish_group(false, 0);
      return rep_.report(node, name, true, operation::create, dec.error);
    case plan::action::wait:
      return;  // counted when the first name is done (dry_waiters)
    case plan::action::skip:
      return rep_.skipped();
    case plan::action::link:
      return rep_.entry_done(node, name, entry_kind::hardlink);
    case plan::action::keep:
      finish_group(true, plan::remembers_first_inode(pol_, true) ? dst.st_ino : 0);
      return rep_.skipped();
    default:
      break;
  }
  // Created, after making room as the real run would (a directory in the way is removed first).
  if (dec.what == plan::action::replace_tree) {
    const char* dname = dst_name(node, name);
    const std::string rel = filter_.needs_path() ? rel_path(node) : std::string();
    if (remove_tree(node, node->dst_fd, dname, dname, rel) != removal::removed)
      return finish_group(false, 0);
  } else if (dec.what == plan::action::replace && dst.st_nlink > 1) {
    std::lock_guard lock(dry_mu_);
    ++dry_replaced_[key];
  }
  // What can be foreseen to fail at creation: the source is opened before the table is asked.
  if (S_ISREG(st.st_mode) && ::faccessat(node->src_fd, name, R_OK, AT_EACCESS) != 0) {
    const int err = errno;
    finish_group(false, 0);
    return rep_.report(node, name, false, operation::open_source, err);
  }
  if (dec.claim_at_create) {
    c = links_.claim(st.st_dev, st.st_ino, node, name, [] { return std::string(); });
    const plan::entry_decision at = plan::decide_create(to_answer(c.what));
    if (at.what == plan::action::wait) return;  // counted by dry_waiters
    if (at.what == plan::action::link) return rep_.entry_done(node, name, entry_kind::hardlink);
    first = at.first_link;
  }
  if (int err = plan::foresee_create(pol_, s)) {  // as mknodat() would fail
    finish_group(false, 0);
    return rep_.report(node, name, true, operation::create, err);
  }
  finish_group(true, 0);
  if (S_ISREG(st.st_mode)) {
    rep_.count().bytes_found.fetch_add(static_cast<std::uint64_t>(st.st_size),
                                       std::memory_order_relaxed);
    rep_.count().bytes_done.fetch_add(static_cast<std::uint64_t>(st.st_size),
                                      std::memory_order_relaxed);
  }
  rep_.entry_done(node, name, kind_of(st.st_mode));
}

// Names of a hard-link group that met its first name between claim() and finish() (another
// worker): what link_waiters() would make of them (plan::decide_waiter()).
void copier::dry_waiters(std::vector<link_table::waiter> waiters, bool ok, ino_t dst_ino) {
  for (auto& w : waiters) {
    struct stat have {};
    plan::entry_facts have_facts;
    const bool looked = ok && dst_ino != 0 && w.node->dst_fd >= 0 &&
                        ::fstatat(w.node->dst_fd, dst_name(w.node, w.name.c_str()), &have,
                                  AT_SYMLINK_NOFOLLOW) == 0;
    if (looked) have_facts = plan::entry_facts::of(have);
    switch (plan::decide_waiter(ok, dst_ino, looked ? &have_facts : nullptr)) {
      case plan::action::skip:
        rep_.skipped();
        break;
      case plan::action::link:
        rep_.entry_done(w.node, w.name, entry_kind::hardlink);
        break;
      default:
        copy_entry(w.node, w.name.c_str(), DT_UNKNOWN);  // on its own, as the real run
        break;
    }
    release_users(w.node);
    finish_child(w.node);
  }
}

// ---- hard links --------------------------------------------------------------------------------

// Returns true when this name is taken care of (linked now, or queued until the first copy is
// done); false when the caller must copy it, with first telling whether others may wait for it.
bool copier::handle_links(dir_node* node, const char* name, const struct stat& st, bool& first) {
  link_claim c = links_.claim(st.st_dev, st.st_ino, node, name, [&] { return rel_path(node); });
  const plan::entry_decision d = plan::decide_create(to_answer(c.what));
  switch (d.what) {
    case plan::action::wait:
      return true;
    case plan::action::link: {
      int pfd = fs::open_dir_beneath(dst_root_fd_, c.target_parent);
      if (pfd < 0) {
        rep_.report(node, name, true, operation::link, -pfd);
        return true;
      }
      fs::unique_fd parent(pfd);
      make_link(node, name, parent.get(), c.target_name.c_str());
      return true;
    }
    default:
      first = d.first_link;
      return false;
  }
}

void copier::make_link(dir_node* node, const char* name, int target_dir, const char* target_name) {
  const char* dname = dst_name(node, name);
  if (!create_replacing(node, name, operation::link, [&] {
        return ::linkat(target_dir, target_name, node->dst_fd, dname, 0) == 0 ? 0 : errno;
      }))
    return;
  rep_.entry_done(node, name, entry_kind::hardlink);
}

void copier::link_waiters(dir_node* node, const char* name, const struct stat& st, bool ok) {
  std::vector<link_table::waiter> waiters;
  // --update compares later names with the first copy's inode, so remember which it is.
  struct stat dst {};
  ino_t dst_ino = 0;
  if (plan::remembers_first_inode(pol_, ok) &&
      ::fstatat(node->dst_fd, dst_name(node, name), &dst, AT_SYMLINK_NOFOLLOW) == 0)
    dst_ino = dst.st_ino;
  try {
    waiters = links_.finish(st.st_dev, st.st_ino, ok, dst_ino);
  } catch (const std::bad_alloc&) {
    return;
  }
  for (auto& w : waiters) {
    // Only with the first copy's inode remembered (--update) is what the name has looked at.
    struct stat have {};
    plan::entry_facts have_facts;
    const bool looked = ok && dst_ino != 0 &&
                        ::fstatat(w.node->dst_fd, dst_name(w.node, w.name.c_str()), &have,
                                  AT_SYMLINK_NOFOLLOW) == 0;
    if (looked) have_facts = plan::entry_facts::of(have);
    switch (plan::decide_waiter(ok, dst_ino, looked ? &have_facts : nullptr)) {
      case plan::action::skip:  // --update: this name is already a link to the first copy
        rep_.skipped();
        break;
      case plan::action::link:
        make_link(w.node, w.name.c_str(), node->dst_fd, dst_name(node, name));
        break;
      default:
        copy_entry(w.node, w.name.c_str(), DT_UNKNOWN);
        break;
    }
    release_users(w.node);
    finish_child(w.node);
  }
}

link_claim link_table::claim(dev_t dev, ino_t ino, dir_node* node, std::string_view name,
                             const std::function<std::string()>& parent_path) {
  shard& sh = shard_for(dev, ino);
  std::lock_guard lock(sh.mu);
  auto [it, inserted] = sh.groups.try_emplace({dev, ino});
  group& g = it->second;
  if (inserted) {
    g.parent = parent_path();
    g.name = name;
    return {link_claim::kind::first, {}, {}};
  }
  switch (g.st) {
    case group::state::copying:
      g.waiters.push_back({node, std::string(name)});
      node->users.fetch_add(1, std::memory_order_relaxed);
      node->pending.fetch_add(1, std::memory_order_relaxed);
      return {link_claim::kind::wait, {}, {}};
    case group::state::done:
      return {link_claim::kind::link_to, g.parent, g.name, g.dst_ino};
    case group::state::failed:
    default:
      return {link_claim::kind::copy, {}, {}};
  }
}

std::vector<link_table::waiter> link_table::finish(dev_t dev, ino_t ino, bool ok, ino_t dst_ino) {
  shard& sh = shard_for(dev, ino);
  std::lock_guard lock(sh.mu);
  auto it = sh.groups.find({dev, ino});
  if (it == sh.groups.end()) return {};
  it->second.st = ok ? group::state::done : group::state::failed;
  it->second.dst_ino = dst_ino;
  return std::move(it->second.waiters);
}

}  // namespace treecopy::engine
