// Regular files that become hard links instead of copies: -l/--link (to the source file itself,
// as cp -l) and --link-dest (to PREV's file at the same path when it is unchanged, as rsync).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include "engine/entry_copier.hpp"

namespace treecopy::engine {
namespace {

bool same_time(const timespec& a, const timespec& b) noexcept {
  return a.tv_sec == b.tv_sec && a.tv_nsec == b.tv_nsec;
}

// Whether PREV's file p may stand for SRC's file s: what a copy of s would have (type, size,
// mtime to the nanosecond, all 12 mode bits, owner, group), so that DST still equals SRC.
bool same_file(const struct stat& s, const struct stat& p) noexcept {
  return S_ISREG(p.st_mode) && p.st_size == s.st_size && same_time(p.st_mtim, s.st_mtim) &&
         (p.st_mode & 07777) == (s.st_mode & 07777) && p.st_uid == s.st_uid && p.st_gid == s.st_gid;
}

}  // namespace

// --link-dest --dry-run: whether link() would make DST's name a link to PREV's file pst (pname in
// pdir), as far as can be known without making it: the name's directory on PREV's file system
// (EXDEV otherwise; a directory the dry run does not create is on DST's parent's), and
// fs.protected_hardlinks (a caller that does not own the file needs to be able to read and write
// it; root may always).
bool entry_copier::dry_may_link(const dir_node* node, int pdir, const char* pname,
                                const struct stat& pst) const {
  struct stat dir {};
  const int dfd = node->dst_fd >= 0    ? node->dst_fd
                  : roots_.dst_fd >= 0 ? roots_.dst_fd
                                       : roots_.dry_parent_fd;
  if (dfd < 0 || fs::stat(dfd, dir) || dir.st_dev != pst.st_dev) return false;
  const uid_t me = geteuid();
  if (me == 0 || pst.st_uid == me) return true;
  if ((pst.st_mode & S_ISUID) || (pst.st_mode & (S_ISGID | S_IXGRP)) == (S_ISGID | S_IXGRP))
    return false;
  return !fs::access_at(pdir, pname, R_OK | W_OK);
}

// -l: the destination is a new name of the source file (following it where -L/-H follow it).
// Nothing of the source is changed: no owner, mode or times are set on the shared inode. Across
// file systems link() fails with EXDEV: a failed entry, as cp -l reports it.
void entry_copier::link_source(dir_node* node, const char* name, const struct stat* claimed) {
  const char* dname = dst_name(node, name);
  const int flags = follows(node) ? AT_SYMLINK_FOLLOW : 0;
  std::error_code err = fs::link_at(node->src_fd, name, node->dst_fd, dname, flags);
  // --merge: what is in the way is replaced, as create_replacing() does for copies.
  if (err == std::errc::file_exists &&
      plan::decide_exists(pol_, nullptr, 0).what == plan::action::replace) {
    if (!replace_existing(node, name)) {  // reported there
      if (claimed) link_waiters(node, name, *claimed, false);
      return;
    }
    err = fs::link_at(node->src_fd, name, node->dst_fd, dname, flags);
  }
  const bool ok = !err;
  if (ok)
    rep_.entry_done(node, name, entry_kind::hardlink);
  else
    rep_.report(node, name, true, operation::link, err);
  if (claimed) link_waiters(node, name, *claimed, ok);
}

// --link-dest: links DST's name to the first PREV's file that is unchanged against SRC's (st,
// open as sfd). Returns false, with nothing changed, when none is (or linking fails: PREV on
// another file system, a file the kernel will not link for this user): the caller copies.
bool entry_copier::link_previous(dir_node* node, const char* name, int sfd, const struct stat& st) {
  if (!plan::links_previous(opt_)) return false;
  fs::xattr_list src_attrs;
  bool src_attrs_read = false;
  // PREV's file pname in pdir: 1 linked, 0 not this one, -1 give up (SRC's attributes unreadable).
  auto try_one = [&](int pdir, const char* pname) {
    struct stat ps {};
    if (fs::stat_at(pdir, pname, ps, fs::follow::no) || !same_file(st, ps)) return 0;
    // Attributes (ACLs too) are part of the file: both lists must be equal.
    fs::opened pf = fs::open(pdir, pname, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY);
    struct stat opened {};
    if (!pf || fs::stat(pf.fd.get(), opened) || opened.st_ino != ps.st_ino ||
        opened.st_dev != ps.st_dev)
      return 0;
    if (!src_attrs_read) {
      if (fs::get_xattrs(sfd, src_attrs)) return -1;
      src_attrs_read = true;
    }
    fs::xattr_list prev_attrs;
    if (fs::get_xattrs(pf.fd.get(), prev_attrs) || prev_attrs.items != src_attrs.items) return 0;
    if (opt_.dry_run) {  // nothing is linked: what link() would do is foreseen
      if (!dry_may_link(node, pdir, pname, opened)) return 0;
      rep_.entry_done(node, name, entry_kind::hardlink);
      return 1;
    }
    const char* dname = dst_name(node, name);
    std::error_code err = fs::link_at(pdir, pname, node->dst_fd, dname);
    if (err == std::errc::file_exists &&
        plan::decide_exists(pol_, nullptr, 0).what == plan::action::replace &&
        replace_existing(node, name))
      err = fs::link_at(pdir, pname, node->dst_fd, dname);
    if (err) return 0;
    rep_.entry_done(node, name, entry_kind::hardlink);
    return 1;
  };
  if (node->is_top) {  // SRC is this file
    for (int prev : roots_.prev_parent_fds) {
      const int r = try_one(prev, roots_.prev_name.c_str());
      if (r != 0) return r > 0;
    }
    return false;
  }
  const std::string rel_dir = rel_path(node);
  for (int prev : roots_.prev_fds) {
    // PREV's directory at the same path, never through a symlink and never outside PREV.
    fs::opened dir = fs::open_beneath(prev, rel_dir);
    if (!dir) continue;
    const int r = try_one(dir.fd.get(), name);
    if (r != 0) return r > 0;
  }
  return false;
}

}  // namespace treecopy::engine
