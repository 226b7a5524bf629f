// Copying into an existing destination: --merge (replace what is there), --update (skip what is
// already equal), --delete (remove what the source does not have), and include/exclude filters.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <unordered_set>

#include "engine/copier.hpp"

namespace treecopy::engine {
namespace {

bool same_time(const struct timespec& a, const struct timespec& b) {
  return a.tv_sec == b.tv_sec && a.tv_nsec == b.tv_nsec;
}

// Reads up to n bytes at off; returns bytes read or -errno.
ssize_t read_full(int fd, char* buf, std::size_t n, off_t off) {
  std::size_t got = 0;
  while (got < n) {
    ssize_t r = ::pread(fd, buf + got, n - got, off + static_cast<off_t>(got));
    if (r < 0) {
      if (errno == EINTR) continue;
      return -errno;
    }
    if (r == 0) break;
    got += static_cast<std::size_t>(r);
  }
  return static_cast<ssize_t>(got);
}

}  // namespace

bool copier::stat_source(dir_node* node, const char* name, struct stat& st) {
  const int flags = follows(node) ? 0 : AT_SYMLINK_NOFOLLOW;
  if (::fstatat(node->src_fd, name, &st, flags) == 0) return true;
  report(node, name, false, operation::stat, errno);  // with -L: a dangling link
  return false;
}

// One non-directory entry when DST may already have something of that name.
void copier::merge_entry(dir_node* node, const char* name) {
  struct stat src {};
  if (!stat_source(node, name, src)) return;
  if (S_ISDIR(src.st_mode)) return copy_by_stat(node, name, src);
  const char* dname = dst_name(node, name);
  struct stat dst {};
  if (::fstatat(node->dst_fd, dname, &dst, AT_SYMLINK_NOFOLLOW) != 0) {
    if (errno != ENOENT) return report(node, name, true, operation::stat, errno);
    return copy_by_stat(node, name, src);
  }
  bool first = false;
  if (opt_.update && S_ISREG(src.st_mode) && src.st_nlink > 1 && !node->is_top) {
    link_claim c = links_.claim(src.st_dev, src.st_ino, node, name, [&] { return rel_path(node); });
    switch (c.what) {
      case link_claim::kind::first:
        if (up_to_date(node, name, src, dst)) {
          count_.skipped.fetch_add(1, std::memory_order_relaxed);
          count_.entries_done.fetch_add(1, std::memory_order_relaxed);
          return link_waiters(node, name, src, true);
        }
        first = true;
        break;
      case link_claim::kind::wait:
        return;  // linked (replacing what is there) when the first name is copied
      case link_claim::kind::link_to: {
        if (c.target_ino != 0 && dst.st_ino == c.target_ino) {
          count_.skipped.fetch_add(1, std::memory_order_relaxed);
          count_.entries_done.fetch_add(1, std::memory_order_relaxed);
          return;
        }
        int pfd = fs::open_dir_beneath(dst_root_fd_, c.target_parent);
        if (pfd < 0) return report(node, name, true, operation::link, -pfd);
        fs::unique_fd parent(pfd);
        return make_link(node, name, parent.get(), c.target_name.c_str());
      }
      case link_claim::kind::copy:
        break;
    }
  } else if (opt_.update && up_to_date(node, name, src, dst)) {
    count_.skipped.fetch_add(1, std::memory_order_relaxed);
    count_.entries_done.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  // Something else is there: make room. A directory gives way only to --update (as cp, --merge
  // refuses to overwrite a directory with a non-directory).
  bool room = true;
  if (S_ISDIR(dst.st_mode)) {
    if (!opt_.update) {
      report(node, name, true, operation::create, EISDIR);
      room = false;
    } else {
      const std::string rel = filter_.needs_path() ? rel_path(node) : std::string();
      room = remove_tree(node, node->dst_fd, dname, dname, rel) == removal::removed;
    }
  } else if (::unlinkat(node->dst_fd, dname, 0) != 0 && errno != ENOENT) {
    report(node, name, true, operation::remove, errno);
    room = false;
  }
  if (!room) {
    if (first) link_waiters(node, name, src, false);
    return;
  }
  if (S_ISREG(src.st_mode)) return copy_regular(node, name, first);
  copy_by_stat(node, name, src);
}

bool copier::up_to_date(dir_node* node, const char* name, const struct stat& src,
                        const struct stat& dst) {
  if ((src.st_mode & S_IFMT) != (dst.st_mode & S_IFMT) || src.st_size != dst.st_size) return false;
  if ((S_ISCHR(src.st_mode) || S_ISBLK(src.st_mode)) && src.st_rdev != dst.st_rdev) return false;
  if (opt_.checksum && S_ISREG(src.st_mode)) return same_content(node, name);
  return same_time(src.st_mtim, dst.st_mtim);
}

// --checksum: compares the bytes themselves. Both files are local, so reading them is the whole
// cost either way, and a byte comparison is exact where a hash is only almost so.
bool copier::same_content(dir_node* node, const char* name) {
  int s = fs::open_at(node->src_fd, name, O_RDONLY | src_nofollow(node) | O_NONBLOCK | O_NOCTTY);
  if (s < 0) return false;
  fs::unique_fd sfd(s);
  int d = fs::open_at(node->dst_fd, dst_name(node, name), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY);
  if (d < 0) return false;
  fs::unique_fd dfd(d);
  constexpr std::size_t chunk = std::size_t{256} << 10;
  thread_local std::unique_ptr<char[]> a, b;
  if (!a) {
    a.reset(new (std::nothrow) char[chunk]);
    b.reset(new (std::nothrow) char[chunk]);
    if (!a || !b) return false;
  }
  for (off_t off = 0;; off += chunk) {
    ssize_t na = read_full(sfd.get(), a.get(), chunk, off);
    ssize_t nb = read_full(dfd.get(), b.get(), chunk, off);
    if (na < 0 || nb < 0 || na != nb) return false;
    if (std::memcmp(a.get(), b.get(), static_cast<std::size_t>(na)) != 0) return false;
    if (static_cast<std::size_t>(na) < chunk) return true;
  }
}

// Removes dirfd/name and everything below it, never following a symlink (a link is removed, not
// what it names). sub is its path relative to node's destination directory, for messages, and
// node_rel node's path relative to DST, for filters that match paths. Entries that the filters
// exclude are kept at every depth, and so are the directories that hold them (reported, as rsync's
// "cannot delete non-empty directory"); a directory that is SRC, holds SRC or is DST is never
// entered.
copier::removal copier::remove_tree(dir_node* node, int dirfd, const char* name,
                                    const std::string& sub, const std::string& node_rel) {
  auto fail = [&](auto err) {  // an errno value or an errc
    report(node, sub, true, operation::remove, err);
    return removal::failed;
  };
  auto gone = [&] {
    count_.removed.fetch_add(1, std::memory_order_relaxed);
    if (want_entries_) notify_removed(display_path(node, sub, true));
    return removal::removed;
  };
  // --dry-run walks what it would remove, so that it foresees the same kept directories.
  struct stat st {};
  if (opt_.dry_run) {
    if (::fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
      return errno == ENOENT ? removal::removed : fail(errno);
    if (!S_ISDIR(st.st_mode)) return gone();
  } else if (::unlinkat(dirfd, name, 0) == 0) {
    return gone();
  } else if (errno == ENOENT) {
    return removal::removed;
  } else if (errno != EISDIR && errno != EPERM) {
    return fail(errno);
  }
  int fd = fs::open_at(dirfd, name, O_RDONLY | fs::dir_open_flags);
  if (fd < 0) return fail(-fd);
  fs::unique_fd dir(fd);
  if (::fstat(dir.get(), &st) != 0) return fail(errno);
  if (protected_dir(file_id::of(st))) return fail(make_error_code(errc::holds_source));
  std::string names;
  std::vector<fs::dir_entry> entries;
  if (int err = fs::list_dir(dir.get(), names, entries)) return fail(err);
  bool kept = false, failed = false;
  for (auto& e : entries) {
    const char* child = names.c_str() + e.name_offset;
    const std::string child_sub = sub + "/" + child;
    if (!filter_.empty()) {
      if (e.type == DT_UNKNOWN) {
        struct stat cst {};
        if (::fstatat(dir.get(), child, &cst, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(cst.st_mode))
          e.type = DT_DIR;
      }
      const std::string rel = !filter_.needs_path() ? std::string()
                              : node_rel.empty()    ? child_sub
                                                    : node_rel + "/" + child_sub;
      if (filter_.excluded(rel, child, e.type == DT_DIR)) {
        kept = true;
        continue;
      }
    }
    switch (remove_tree(node, dir.get(), child, child_sub, node_rel)) {
      case removal::removed: break;
      case removal::kept: kept = true; break;
      case removal::failed: failed = true; break;
    }
  }
  dir.reset();
  if (failed) return removal::failed;  // the failure below was reported
  if (kept) {
    report(node, sub, true, operation::remove, make_error_code(errc::holds_excluded));
    return removal::kept;
  }
  if (!opt_.dry_run && ::unlinkat(dirfd, name, AT_REMOVEDIR) != 0) return fail(errno);
  return gone();
}

// --delete: removes what DST has in this directory and SRC does not (excluded names are kept).
void copier::delete_extraneous(dir_node* node) {
  if (!node->existed || node->dst_fd < 0) return;
  std::unordered_set<std::string_view> in_src;
  in_src.reserve(node->entries.size());
  for (const auto& e : node->entries) in_src.insert(node->names.c_str() + e.name_offset);
  // A descriptor of its own: listing moves the directory offset.
  int fd = fs::open_at(node->dst_fd, ".", O_RDONLY | fs::dir_open_flags);
  if (fd < 0) return report(node, {}, true, operation::read_dir, -fd);
  fs::unique_fd dir(fd);
  std::string names;
  std::vector<fs::dir_entry> entries;
  if (int err = fs::list_dir(dir.get(), names, entries)) return report(node, {}, true, operation::read_dir, err);
  const std::string rel_dir = filter_.needs_path() ? rel_path(node) : std::string();
  for (auto& e : entries) {
    const char* name = names.c_str() + e.name_offset;
    if (in_src.count(name)) continue;
    if (!filter_.empty()) {
      if (e.type == DT_UNKNOWN) {
        struct stat st {};
        if (::fstatat(dir.get(), name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode)) e.type = DT_DIR;
      }
      std::string rel = rel_dir.empty() ? std::string(name) : rel_dir + "/" + name;
      if (filter_.excluded(rel, name, e.type == DT_DIR)) continue;
    }
    remove_tree(node, node->dst_fd, name, name, rel_dir);
  }
}

// Applies the filters to one listed entry; learns the type by stat when the listing did not say.
bool copier::excluded(dir_node* node, const std::string& rel_dir, const char* name, std::uint8_t& dtype) {
  if (filter_.empty()) return false;
  if (dtype == DT_UNKNOWN) {
    struct stat st {};
    if (::fstatat(node->src_fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode)) dtype = DT_DIR;
  }
  if (!filter_.needs_path()) return filter_.excluded({}, name, dtype == DT_DIR);
  std::string rel = rel_dir.empty() ? std::string(name) : rel_dir + "/" + name;
  return filter_.excluded(rel, name, dtype == DT_DIR);
}

void copier::notify_removed(const std::string& path) {
  if (!want_entries_) return;
  try {
    std::lock_guard lock(report_mu_);
    observer_->on_remove(path);
  } catch (...) {
    // An observer's failure must not escape into the task scheduler.
  }
}

}  // namespace treecopy::engine
