// Copying into an existing destination: --merge (replace what is there), --update (skip what is
// already equal), --delete (remove what the source does not have), include/exclude filters, and
// the dry run, which takes the same decisions and records them instead of acting.
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

#include "engine/entry_copier.hpp"

namespace treecopy::engine {
namespace {

plan::compared compared(bool equal) {
  return equal ? plan::compared::equal : plan::compared::differ;
}

}  // namespace

bool entry_copier::stat_source(dir_node* node, const char* name, struct stat& st) {
  std::error_code err = fs::stat_at(node->src_fd, name, st, fs::follow{follows(node)});
  if (!err) return true;
  rep_.report(node, name, false, operation::stat, err);  // with -L: a dangling link
  return false;
}

// One non-directory entry when DST may already have something of that name: the decision is
// plan::decide_entry()'s, asked again with the I/O it needs (the hard-link table, a comparison).
void entry_copier::merge_entry(dir_node* node, const char* name) {
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
      fs::opened parent = fs::open_beneath(c.target_root, c.target_parent);
      if (!parent) return rep_.report(node, name, true, operation::link, parent.error);
      if (!make_link(node, name, parent.fd.get(), c.target_name.c_str()))
        copy_by_stat(node, name, src);  // the first copy is on another file system
      return;
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
    const std::string rel = filter_.needs_path() ? filter_dir(node) : std::string();
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
plan::entry_decision entry_copier::decide(dir_node* node, const char* name,
                                          const plan::entry_facts& s, const plan::entry_facts* d,
                                          const struct stat& src, link_claim& c,
                                          const std::function<std::string()>& parent_path) {
  plan::entry_context ctx;
  ctx.at_top = node->is_top;
  ctx.top_links = roots_.shared_links;
  plan::entry_decision dec = plan::decide_entry(pol_, s, d, ctx);
  while (dec.what == plan::action::ask) {
    switch (dec.asks) {
      case plan::need::link_claim:
        c = links_.claim(src.st_dev, src.st_ino, claimant(node, name), node, name, parent_path);
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

bool entry_copier::same_link_target(dir_node* node, const char* name, off_t size) {
  if (size <= 0 || size > 4096)
    return false;  // a length the kernel does not say: compare by copying
  const auto n = static_cast<std::size_t>(size);
  std::string a, b;
  if (fs::read_link_at(node->src_fd, name, a, n) || a.size() != n) return false;
  if (fs::read_link_at(node->dst_fd, dst_name(node, name), b, n) || b.size() != n) return false;
  return a == b;
}

// --checksum: compares the bytes themselves. Both files are local, so reading them is the whole
// cost either way, and a byte comparison is exact where a hash is only almost so.
bool entry_copier::same_content(dir_node* node, const char* name) {
  fs::opened sfd =
      fs::open(node->src_fd, name, O_RDONLY | src_nofollow(node) | O_NONBLOCK | O_NOCTTY);
  if (!sfd) return false;
  fs::opened dfd =
      fs::open(node->dst_fd, dst_name(node, name), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY);
  if (!dfd) return false;
  constexpr std::size_t chunk = std::size_t{256} << 10;
  char* a = fs::thread_buffer(fs::thread_buffer_slot::compare_a, chunk);
  char* b = fs::thread_buffer(fs::thread_buffer_slot::compare_b, chunk);
  if (!a || !b) return false;
  for (off_t off = 0;; off += chunk) {
    std::size_t na = 0, nb = 0;
    if (fs::pread_full(sfd.fd.get(), a, chunk, off, na)) return false;
    if (fs::pread_full(dfd.fd.get(), b, chunk, off, nb)) return false;
    if (na != nb || std::memcmp(a, b, na) != 0) return false;
    if (na < chunk) return true;
  }
}

entry_copier::removal entry_copier::removal_failed(dir_node* node, const std::string& path,
                                                   std::error_code err) {
  rep_.report(node, path, true, operation::remove, err);
  return removal::failed;
}

entry_copier::removal entry_copier::removal_done(dir_node* node, const std::string& path) {
  rep_.removed(node, path);
  return removal::removed;
}

// One entry of a tree being removed (path, parent/entry): a non-directory goes at once; ENOENT
// counts as removed. nullopt: a directory, to enter. --dry-run walks what it would remove, so that
// it foresees the same kept directories.
std::optional<entry_copier::removal> entry_copier::remove_one(dir_node* node,
                                                              const std::string& path, int parent,
                                                              const char* entry) {
  if (opt_.dry_run) {
    struct stat st {};
    if (std::error_code err = fs::stat_at(parent, entry, st, fs::follow::no))
      return err == std::errc::no_such_file_or_directory ? removal::removed
                                                         : removal_failed(node, path, err);
    if (!S_ISDIR(st.st_mode)) return removal_done(node, path);
    return std::nullopt;
  }
  std::error_code err = fs::unlink_at(parent, entry);
  if (!err) return removal_done(node, path);
  if (err == std::errc::no_such_file_or_directory) return removal::removed;
  if (err != std::errc::is_a_directory && err != std::errc::operation_not_permitted)
    return removal_failed(node, path, err);
  return std::nullopt;
}

// Whether the filters (or git's rules) keep dirfd/child (path relative to node's destination
// directory, node_rel node's path relative to DST); learns type by a stat where the listing did
// not say. git's rules below node are node's own: DST's .gitignore files are not read.
bool entry_copier::kept_by_filter(const dir_node* node, int dirfd, const char* child,
                                  std::uint8_t& type, const std::string& path,
                                  const std::string& node_rel) const {
  if (filter_.empty() && !node->ignores.scope) return false;
  if (type == DT_UNKNOWN) {
    struct stat st {};
    if (!fs::stat_at(dirfd, child, st, fs::follow::no) && S_ISDIR(st.st_mode)) type = DT_DIR;
  }
  const std::string rel = !filter_.needs_path() ? std::string()
                          : node_rel.empty()    ? path
                                                : node_rel + "/" + path;
  const std::size_t name_len = std::strlen(child);
  const std::string_view sub(path.data(), path.size() > name_len ? path.size() - name_len - 1 : 0);
  return left_out(node, sub, rel, child, type == DT_DIR);
}

std::string entry_copier::filter_dir(const dir_node* node) const {
  std::string rel = rel_path(node);
  if (roots_.unit_rel.empty()) return rel;
  return rel.empty() ? roots_.unit_rel : roots_.unit_rel + "/" + rel;
}

bool entry_copier::left_out(const dir_node* node, std::string_view sub, std::string_view rel,
                            const char* name, bool is_dir) const {
  const plan::filter_verdict v =
      filter_.empty() ? plan::filter_verdict::none : filter_.verdict(rel, name, is_dir);
  return plan::left_out(v, [&] {
    // git never looks at an entry named .git: it is copied, whatever the patterns say.
    const plan::ignore_scope* scope = node->ignores.scope.get();
    if (!scope || std::strcmp(name, ".git") == 0) return false;
    if (node->ignores.all) return true;
    const std::string& top = node->ignores.repo_path;
    if (sub.empty()) return scope->ignored(top, name, is_dir);
    std::string dir = top.empty() ? std::string(sub) : top + "/" + std::string(sub);
    return scope->ignored(dir, name, is_dir);
  });
}

// A directory of a tree being removed whose entries are all done (failed: one could not be
// removed; kept: one is excluded): removed from parent, or kept and reported.
entry_copier::removal entry_copier::remove_emptied(dir_node* node, const std::string& path,
                                                   int parent, const std::string& name, bool failed,
                                                   bool kept) {
  switch (plan::finish_removal(failed, kept)) {
    case plan::removal_end::failed:
      return removal::failed;  // the failure below was reported
    case plan::removal_end::kept:
      rep_.report(node, path, true, operation::remove, make_error_code(errc::holds_excluded));
      return removal::kept;
    case plan::removal_end::remove:
      if (std::error_code err =
              opt_.dry_run ? std::error_code{} : fs::remove_dir_at(parent, name.c_str()))
        return removal_failed(node, path, err);
      return removal_done(node, path);
  }
  return removal::failed;
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
entry_copier::removal entry_copier::remove_tree(dir_node* node, int dirfd, const char* name,
                                                const std::string& sub,
                                                const std::string& node_rel) {
  std::string path = sub;  // of the entry at hand, relative to node's destination directory
  auto fail = [&](std::error_code err) { return removal_failed(node, path, err); };
  auto remove_entry = [&](int parent, const char* entry) {
    return remove_one(node, path, parent, entry);
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
      if (kept_by_filter(node, top.fd.get(), child, e.type, path, node_rel)) {
        top.kept = true;
        continue;
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
    const removal result = remove_emptied(node, path, parent, done.name, done.failed, done.kept);
    if (stack.empty()) return result;
    stack.back().fd = std::move(up);
    if (result == removal::failed) stack.back().failed = true;
    if (result == removal::kept) stack.back().kept = true;
  }
}

// --delete: removes what DST has in this directory and SRC does not (excluded names are kept).
void entry_copier::delete_extraneous(dir_node* node) {
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
  const std::string rel_dir = filter_.needs_path() ? filter_dir(node) : std::string();
  for (auto& e : entries) {
    const char* name = names.c_str() + e.name_offset;
    const bool in_source = in_src.count(name) != 0;
    bool excluded = false;  // neither copied nor deleted (filters, git's rules)
    if (!in_source && (!filter_.empty() || node->ignores.scope)) {
      if (e.type == DT_UNKNOWN) {
        struct stat st {};
        if (!fs::stat_at(dir.get(), name, st, fs::follow::no) && S_ISDIR(st.st_mode))
          e.type = DT_DIR;
      }
      std::string rel = rel_dir.empty() ? std::string(name) : rel_dir + "/" + name;
      excluded = left_out(node, {}, rel, name, e.type == DT_DIR);
    }
    if (plan::decide_extraneous(in_source, excluded) == plan::extraneous_action::remove)
      remove_tree(node, node->dst_fd, name, name, rel_dir);
  }
}

// Applies the filters, then git's rules, to one listed entry; learns the type by stat when the
// listing did not say.
bool entry_copier::excluded(dir_node* node, const std::string& rel_dir, const char* name,
                            std::uint8_t& dtype) {
  if (filter_.empty() && !node->ignores.scope) return false;
  if (dtype == DT_UNKNOWN) {
    struct stat st {};
    if (!fs::stat_at(node->src_fd, name, st, fs::follow::no) && S_ISDIR(st.st_mode)) dtype = DT_DIR;
  }
  if (!filter_.needs_path()) return left_out(node, {}, {}, name, dtype == DT_DIR);
  std::string rel = rel_dir.empty() ? std::string(name) : rel_dir + "/" + name;
  return left_out(node, {}, rel, name, dtype == DT_DIR);
}

// --dry-run: what the real run would do with one entry (the same plan::decide_entry()), recorded
// (counts, the observer, errors that can be known now) instead of done.
void entry_copier::dry_entry(dir_node* node, const char* name) {
  struct stat st {};
  if (std::error_code err = fs::stat_at(node->src_fd, name, st, fs::follow{follows(node)}))
    return rep_.report(node, name, false, operation::stat, err);
  if (S_ISDIR(st.st_mode)) {
    return driver_.descend(node, name);
  }
  struct stat dst {};
  const bool have_dst =
      node->dst_fd >= 0 && !fs::stat_at(node->dst_fd, dst_name(node, name), dst, fs::follow::no);
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
    if (first) dry_waiters(links_.finish(st.st_dev, st.st_ino, link_dev(node), ok, ino), ok, ino);
  };
  switch (dec.what) {
    case plan::action::conflict:
      finish_group(false, 0);
      return rep_.report(node, name, true, operation::create, fs::errno_code(dec.error));
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
    const std::string rel = filter_.needs_path() ? filter_dir(node) : std::string();
    if (remove_tree(node, node->dst_fd, dname, dname, rel) != removal::removed)
      return finish_group(false, 0);
  } else if (dec.what == plan::action::replace && dst.st_nlink > 1) {
    std::lock_guard lock(dry_mu_);
    ++dry_replaced_[key];
  }
  // What can be foreseen to fail at creation: the source is opened before the table is asked.
  if (S_ISREG(st.st_mode)) {
    if (std::error_code err = fs::access_at(node->src_fd, name, R_OK)) {
      finish_group(false, 0);
      return rep_.report(node, name, false, operation::open_source, err);
    }
  }
  // -l: a file becomes a new name of its source, as every name of its group does (no table).
  const bool linked = opt_.link && S_ISREG(st.st_mode);
  if (dec.claim_at_create && !linked) {
    c = links_.claim(st.st_dev, st.st_ino, claimant(node, name), node, name,
                     [] { return std::string(); });
    const plan::entry_decision at = plan::decide_create(to_answer(c.what));
    if (at.what == plan::action::wait) return;  // counted by dry_waiters
    if (at.what == plan::action::link) return rep_.entry_done(node, name, entry_kind::hardlink);
    first = at.first_link;
  }
  // --link-dest: a file unchanged against a PREV's becomes a link to it, as in the real run.
  if (S_ISREG(st.st_mode) && !linked && dry_links_previous(node, name, st)) {
    finish_group(true, 0);
    rep_.count().bytes_found.fetch_add(static_cast<std::uint64_t>(st.st_size),
                                       std::memory_order_relaxed);
    return;
  }
  if (int err = plan::foresee_create(pol_, s)) {  // as mknodat() would fail
    finish_group(false, 0);
    return rep_.report(node, name, true, operation::create, fs::errno_code(err));
  }
  finish_group(true, 0);
  if (S_ISREG(st.st_mode)) {
    rep_.count().bytes_found.fetch_add(static_cast<std::uint64_t>(st.st_size),
                                       std::memory_order_relaxed);
    if (!linked)  // a link copies no data
      rep_.count().bytes_done.fetch_add(static_cast<std::uint64_t>(st.st_size),
                                        std::memory_order_relaxed);
  }
  rep_.entry_done(node, name, linked ? entry_kind::hardlink : kind_of(st.st_mode));
}

// --link-dest in a dry run: link_previous() without the link, on the source opened read-only as
// the real run opens it (its attributes are compared with PREV's file's).
bool entry_copier::dry_links_previous(dir_node* node, const char* name, const struct stat& st) {
  if (roots_.prev_fds.empty() && roots_.prev_parent_fds.empty()) return false;
  const int nofollow = follows(node) ? 0 : O_NOFOLLOW;
  fs::opened sfd = fs::open(node->src_fd, name, O_RDONLY | O_NOCTTY | O_NONBLOCK | nofollow);
  struct stat opened {};
  if (!sfd || fs::stat(sfd.fd.get(), opened) || opened.st_ino != st.st_ino ||
      opened.st_dev != st.st_dev)
    return false;
  return link_previous(node, name, sfd.fd.get(), st);
}

// Names of a hard-link group that met its first name between claim() and finish() (another
// worker): what link_waiters() would make of them (plan::decide_waiter()).
void entry_copier::dry_waiters(std::vector<link_table::waiter> waiters, bool ok, ino_t dst_ino) {
  for (auto& w : waiters) {
    struct stat have {};
    plan::entry_facts have_facts;
    const bool looked = ok && dst_ino != 0 && w.node->dst_fd >= 0 &&
                        !fs::stat_at(w.node->dst_fd, w.owner->dst_name(w.node, w.name.c_str()),
                                     have, fs::follow::no);
    if (looked) have_facts = plan::entry_facts::of(have);
    switch (plan::decide_waiter(ok, dst_ino, looked ? &have_facts : nullptr)) {
      case plan::action::skip:
        rep_.skipped();
        break;
      case plan::action::link:
        rep_.entry_done(w.node, w.name, entry_kind::hardlink);
        break;
      default:
        w.owner->copy_entry(w.node, w.name.c_str(), DT_UNKNOWN);  // on its own, as the real run
        break;
    }
    w.owner->driver_.waiter_done(w.node);
  }
}

}  // namespace treecopy::engine
