// Copying into an existing destination: --merge (replace what is there), --update (skip what is
// already equal), --delete (remove what the source does not have), and include/exclude filters.
#include <fcntl.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <unordered_set>
#include <vector>

#include "engine/copier.hpp"

namespace treecopy::engine {
namespace {

constexpr std::int64_t ns_per_s = 1'000'000'000;

std::int64_t ns_between(const struct timespec& a, const struct timespec& b) {
  return (static_cast<std::int64_t>(a.tv_sec) - b.tv_sec) * ns_per_s + (a.tv_nsec - b.tv_nsec);
}

plan::compared compared(bool equal) {
  return equal ? plan::compared::equal : plan::compared::differ;
}

}  // namespace

bool copier::stat_source(dir_node* node, const char* name, struct stat& st) {
  std::error_code err = fs::stat_at(node->src_fd, name, st, fs::follow{follows(node)});
  if (!err) return true;
  rep_.report(node, name, false, operation::stat, err);  // with -L: a dangling link
  return false;
}

// One non-directory entry when DST may already have something of that name: the decision is
// plan::decide_entry()'s, asked again with the I/O it needs (the hard-link table, a comparison).
void copier::merge_entry(dir_node* node, const char* name) {
  struct stat src {};
  if (!stat_source(node, name, src)) return;
  if (S_ISDIR(src.st_mode)) return copy_by_stat(node, name, src);
  const char* dname = dst_name(node, name);
  struct stat dst {};
  if (std::error_code err = fs::stat_at(node->dst_fd, dname, dst, fs::follow::no)) {
    if (err != std::errc::no_such_file_or_directory)
      return rep_.report(node, name, true, operation::stat, err);
    return copy_by_stat(node, name, src);
  }
  const plan::entry_facts s = plan::entry_facts::of(src), d = plan::entry_facts::of(dst);
  link_claim c{link_claim::kind::copy, {}, {}, 0};
  const plan::entry_decision dec =
      decide(node, name, s, &d, src, c, [&] { return rel_path(node); });
  const bool first = dec.first_link;
  switch (dec.what) {
    case plan::action::keep: {
      const bool ok = keep_entry(node, name, src, dst);
      if (first) link_waiters(node, name, src, ok);
      return;
    }
    case plan::action::skip:
      return rep_.skipped();
    case plan::action::wait:
      return;  // linked (replacing what is there) when the first name is copied
    case plan::action::link: {
      fs::opened parent = fs::open_beneath(dst_root_fd_, c.target_parent);
      if (!parent) return rep_.report(node, name, true, operation::link, parent.error);
      return make_link(node, name, parent.fd.get(), c.target_name.c_str());
    }
    case plan::action::create:
      return copy_by_stat(node, name, src);
    default:
      break;
  }
  // Something else is there: make room (or not: --merge does not overwrite a directory).
  bool room = true;
  if (dec.what == plan::action::conflict) {
    rep_.report(node, name, true, operation::create, fs::errno_code(dec.error));
    room = false;
  } else if (dec.what == plan::action::replace_tree) {
    const std::string rel = filter_.needs_path() ? rel_path(node) : std::string();
    room = remove_tree(node, node->dst_fd, dname, dname, rel) == removal::removed;
  } else if (S_ISREG(src.st_mode)) {
    // A file replaces what is there only once its source is open: an unreadable source leaves
    // DST's old copy in place (as cp does), instead of removing it and failing.
    return copy_regular(node, name, first ? &src : nullptr, true);
  } else if (std::error_code err = fs::unlink_at(node->dst_fd, dname);
             err && err != std::errc::no_such_file_or_directory) {
    rep_.report(node, name, true, operation::remove, err);
    room = false;
  }
  if (!room) {
    if (first) link_waiters(node, name, src, false);
    return;
  }
  if (S_ISREG(src.st_mode)) return copy_regular(node, name, first ? &src : nullptr);
  copy_by_stat(node, name, src);
}

// plan::decide_entry() for one entry, with the I/O it asks for: the hard-link table (its answer
// left in c) and the comparisons of link targets or contents.
plan::entry_decision copier::decide(dir_node* node, const char* name, const plan::entry_facts& s,
                                    const plan::entry_facts* d, const struct stat& src,
                                    link_claim& c,
                                    const std::function<std::string()>& parent_path) {
  plan::entry_context ctx;
  ctx.at_top = node->is_top;
  plan::entry_decision dec = plan::decide_entry(pol_, s, d, ctx);
  while (dec.what == plan::action::ask) {
    switch (dec.asks) {
      case plan::need::link_claim:
        c = links_.claim(src.st_dev, src.st_ino, node, name, parent_path);
        ctx.link = to_answer(c.what);
        ctx.link_target_ino = c.target_ino;
        break;
      case plan::need::link_target:
        ctx.comparison = compared(same_link_target(node, name, src.st_size));
        break;
      case plan::need::content:
        ctx.comparison = compared(same_content(node, name));
        break;
      case plan::need::nothing:
        return dec;  // not asked for anything: cannot happen
    }
    dec = plan::decide_entry(pol_, s, d, ctx);
  }
  return dec;
}

// Whether DST's entry holds SRC's data (or link target, or device number), so that only its
// metadata may need setting (keep_entry()).
bool copier::up_to_date(dir_node* node, const char* name, const struct stat& src,
                        const struct stat& dst) {
  const plan::entry_facts s = plan::entry_facts::of(src), d = plan::entry_facts::of(dst);
  plan::need asks = plan::need::nothing;
  plan::compared c = plan::compare_data(pol_, s, d, plan::compared::not_done, &asks);
  if (asks == plan::need::link_target)
    c = compared(same_link_target(node, name, src.st_size));
  else if (asks == plan::need::content)
    c = compared(same_content(node, name));
  if (asks != plan::need::nothing) c = plan::compare_data(pol_, s, d, c, nullptr);
  return c == plan::compared::equal;
}

bool copier::same_link_target(dir_node* node, const char* name, off_t size) {
  if (size <= 0 || size > 4096)
    return false;  // a length the kernel does not say: compare by copying
  const auto n = static_cast<std::size_t>(size);
  std::string a, b;
  if (fs::read_link_at(node->src_fd, name, a, n) || a.size() != n) return false;
  if (fs::read_link_at(node->dst_fd, dst_name(node, name), b, n) || b.size() != n) return false;
  return a == b;
}

// --update: DST's entry has SRC's data. Its metadata is made equal too, as rsync -a does: owner
// and mode from the stat both sides already have; attributes (and ACLs) only when SRC's entry
// may have changed after DST's was set (ctime), so that an unchanged entry costs no call at all;
// times when they differ (--checksum; not within DST's granularity). Counted as skipped (no data
// copied); returns false after reporting a failure.
bool copier::keep_entry(dir_node* node, const char* name, const struct stat& src,
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
std::error_code copier::fix_meta(dir_node* node, const char* name, const struct stat& src,
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
void copier::detect_time_granularity(int dfd) {
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

// --checksum: compares the bytes themselves. Both files are local, so reading them is the whole
// cost either way, and a byte comparison is exact where a hash is only almost so.
bool copier::same_content(dir_node* node, const char* name) {
  fs::opened sfd =
      fs::open(node->src_fd, name, O_RDONLY | src_nofollow(node) | O_NONBLOCK | O_NOCTTY);
  if (!sfd) return false;
  fs::opened dfd =
      fs::open(node->dst_fd, dst_name(node, name), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY);
  if (!dfd) return false;
  constexpr std::size_t chunk = std::size_t{256} << 10;
  thread_local std::unique_ptr<char[]> a, b;
  if (!a) {
    a.reset(new (std::nothrow) char[chunk]);
    b.reset(new (std::nothrow) char[chunk]);
    if (!a || !b) return false;
  }
  for (off_t off = 0;; off += chunk) {
    std::size_t na = 0, nb = 0;
    if (fs::pread_full(sfd.fd.get(), a.get(), chunk, off, na)) return false;
    if (fs::pread_full(dfd.fd.get(), b.get(), chunk, off, nb)) return false;
    if (na != nb || std::memcmp(a.get(), b.get(), na) != 0) return false;
    if (na < chunk) return true;
  }
}

// Removes dirfd/name and everything below it, never following a symlink (a link is removed, not
// what it names). sub is its path relative to node's destination directory, for messages, and
// node_rel node's path relative to DST, for filters that match paths. Entries that the filters
// exclude are kept at every depth, and so are the directories that hold them (reported, as rsync's
// "cannot delete non-empty directory"); a directory that is SRC, holds SRC or is DST, or that is
// another mount, is never entered.
//
// Depth first without recursion and with one descriptor: a tree to remove may be as deep as any
// other (tens of thousands of levels), which a recursive walk pays for with its stack, and one
// descriptor per level would not fit the copy's descriptor budget. Only the deepest directory is
// open; the way back up is "..", checked against the identity seen on the way down, so a directory
// moved meanwhile stops the removal instead of removing entries of another directory.
copier::removal copier::remove_tree(dir_node* node, int dirfd, const char* name,
                                    const std::string& sub, const std::string& node_rel) {
  std::string path = sub;  // of the entry at hand, relative to node's destination directory
  auto fail = [&](std::error_code err) {
    rep_.report(node, path, true, operation::remove, err);
    return removal::failed;
  };
  auto gone = [&] {
    rep_.removed(node, path);
    return removal::removed;
  };
  // A non-directory goes at once; ENOENT counts as removed. nullopt: a directory, to enter.
  // --dry-run walks what it would remove, so that it foresees the same kept directories.
  auto remove_entry = [&](int parent, const char* entry) -> std::optional<removal> {
    if (opt_.dry_run) {
      struct stat st {};
      if (std::error_code err = fs::stat_at(parent, entry, st, fs::follow::no))
        return err == std::errc::no_such_file_or_directory ? removal::removed : fail(err);
      if (!S_ISDIR(st.st_mode)) return gone();
      return std::nullopt;
    }
    std::error_code err = fs::unlink_at(parent, entry);
    if (!err) return gone();
    if (err == std::errc::no_such_file_or_directory) return removal::removed;
    if (err != std::errc::is_a_directory && err != std::errc::operation_not_permitted)
      return fail(err);
    return std::nullopt;
  };

  struct level {
    std::string name;  // in its parent
    fs::unique_fd fd;  // open while it is the deepest level
    file_id id;
    std::string names;
    std::vector<fs::dir_entry> entries;
    std::size_t next = 0;
    std::size_t path_len = 0;  // path's length when it names this directory
    bool kept = false, failed = false;
  };
  std::vector<level> stack;
  // Opens and lists directory entry of parent; false when it must not or cannot be entered
  // (reported).
  auto enter = [&](int parent, const char* entry) {
    fs::opened o = fs::open(parent, entry, O_RDONLY | fs::dir_open_flags);
    if (!o) return fail(o.error), false;
    level l;
    l.fd = std::move(o.fd);
    const int fd = l.fd.get();
    struct stat st {};
    if (std::error_code err = fs::stat(fd, st)) return fail(err), false;
    l.id = file_id::of(st);
    // SRC, what holds it, or DST; another file system (or a bind mount) mounted inside DST is not
    // the copy's to empty either: rm -r would, rsync -x would not. Left alone and reported.
    const bool protects = guards_.protects(l.id);
    if (std::error_code refused = plan::refuse_removal(guards_, plan::entry_facts::of(st),
                                                       !protects && fs::is_mount_below(parent, fd)))
      return fail(refused), false;
    if (std::error_code err = fs::read_dir(fd, l.names, l.entries)) return fail(err), false;
    l.name = entry;
    l.path_len = path.size();
    if (!stack.empty()) stack.back().fd.reset();  // back up through ".." later
    stack.push_back(std::move(l));
    return true;
  };

  if (std::optional<removal> r = remove_entry(dirfd, name)) return *r;
  if (!enter(dirfd, name)) return removal::failed;
  for (;;) {
    level& top = stack.back();
    if (top.next < top.entries.size()) {
      fs::dir_entry& e = top.entries[top.next++];
      const char* child = top.names.c_str() + e.name_offset;
      path.resize(top.path_len);
      (path += '/') += child;
      if (!filter_.empty()) {
        if (e.type == DT_UNKNOWN) {
          struct stat cst {};
          if (!fs::stat_at(top.fd.get(), child, cst, fs::follow::no) && S_ISDIR(cst.st_mode))
            e.type = DT_DIR;
        }
        const std::string rel = !filter_.needs_path() ? std::string()
                                : node_rel.empty()    ? path
                                                      : node_rel + "/" + path;
        if (filter_.excluded(rel, child, e.type == DT_DIR)) {
          top.kept = true;
          continue;
        }
      }
      const int parent = top.fd.get();
      if (std::optional<removal> r = remove_entry(parent, child)) {
        if (*r == removal::failed) top.failed = true;
        continue;
      }
      if (!enter(parent, child)) stack.back().failed = true;  // top may have moved: not 'top'
      continue;
    }

    // Every child is done: back up to the parent and remove this directory there.
    level done = std::move(stack.back());
    stack.pop_back();
    path.resize(done.path_len);
    fs::unique_fd up;
    int parent = dirfd;
    if (!stack.empty()) {
      up = fs::open(done.fd.get(), "..", O_RDONLY | O_DIRECTORY).fd;
      struct stat st {};
      if (!up || fs::stat(up.get(), st) || file_id::of(st) != stack.back().id) {
        // Moved while it was being removed: where ".." leads now is not the directory it was in.
        path.resize(stack.back().path_len);
        return fail(fs::errno_code(EAGAIN));
      }
      parent = up.get();
    }
    done.fd.reset();
    removal result = removal::removed;
    switch (plan::finish_removal(done.failed, done.kept)) {
      case plan::removal_end::failed:
        result = removal::failed;  // the failure below was reported
        break;
      case plan::removal_end::kept:
        rep_.report(node, path, true, operation::remove, make_error_code(errc::holds_excluded));
        result = removal::kept;
        break;
      case plan::removal_end::remove:
        if (std::error_code err =
                opt_.dry_run ? std::error_code{} : fs::remove_dir_at(parent, done.name.c_str()))
          result = fail(err);
        else
          result = gone();
        break;
    }
    if (stack.empty()) return result;
    stack.back().fd = std::move(up);
    if (result == removal::failed) stack.back().failed = true;
    if (result == removal::kept) stack.back().kept = true;
  }
}

// --delete: removes what DST has in this directory and SRC does not (excluded names are kept).
void copier::delete_extraneous(dir_node* node) {
  if (node->dst_fd < 0) return;
  std::unordered_set<std::string_view> in_src;
  in_src.reserve(node->entries.size());
  for (const auto& e : node->entries) in_src.insert(node->names.c_str() + e.name_offset);
  // A descriptor of its own: listing moves the directory offset.
  auto [dir, open_err] = fs::open(node->dst_fd, ".", O_RDONLY | fs::dir_open_flags);
  if (open_err) return rep_.report(node, {}, true, operation::read_dir, open_err);
  std::string names;
  std::vector<fs::dir_entry> entries;
  if (std::error_code err = fs::read_dir(dir.get(), names, entries))
    return rep_.report(node, {}, true, operation::read_dir, err);
  const std::string rel_dir = filter_.needs_path() ? rel_path(node) : std::string();
  for (auto& e : entries) {
    const char* name = names.c_str() + e.name_offset;
    const bool in_source = in_src.count(name) != 0;
    bool excluded = false;  // neither copied nor deleted
    if (!in_source && !filter_.empty()) {
      if (e.type == DT_UNKNOWN) {
        struct stat st {};
        if (!fs::stat_at(dir.get(), name, st, fs::follow::no) && S_ISDIR(st.st_mode))
          e.type = DT_DIR;
      }
      std::string rel = rel_dir.empty() ? std::string(name) : rel_dir + "/" + name;
      excluded = filter_.excluded(rel, name, e.type == DT_DIR);
    }
    if (plan::decide_extraneous(in_source, excluded) == plan::extraneous_action::remove)
      remove_tree(node, node->dst_fd, name, name, rel_dir);
  }
}

// Applies the filters to one listed entry; learns the type by stat when the listing did not say.
bool copier::excluded(dir_node* node, const std::string& rel_dir, const char* name,
                      std::uint8_t& dtype) {
  if (filter_.empty()) return false;
  if (dtype == DT_UNKNOWN) {
    struct stat st {};
    if (!fs::stat_at(node->src_fd, name, st, fs::follow::no) && S_ISDIR(st.st_mode)) dtype = DT_DIR;
  }
  if (!filter_.needs_path()) return filter_.excluded({}, name, dtype == DT_DIR);
  std::string rel = rel_dir.empty() ? std::string(name) : rel_dir + "/" + name;
  return filter_.excluded(rel, name, dtype == DT_DIR);
}

}  // namespace treecopy::engine
