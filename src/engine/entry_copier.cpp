// Copying one entry: regular files (clone, copy_file_range, holes, large files handed to the
// driver), symlinks, special files and hard links. Every failure becomes a reported entry_error;
// nothing here throws into the driver.
#include "engine/entry_copier.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <memory>

#include "engine/small_files.hpp"
#include "engine/stream.hpp"

namespace treecopy::engine {
namespace {

// Files at least this large are stat'ed again after the copy to see whether they changed meanwhile.
// Smaller ones are copied within microseconds of their first fstat (those a small-file batch
// copies later are stat'ed again by the batch); a shrink shows for any size.
constexpr off_t recheck_threshold = 1 << 20;
// Files from this size on let the rest of their batch go to other workers (the driver's
// large_file_ahead()). A small-file batch keeps only smaller ones.
constexpr off_t hand_off_threshold = 1 << 20;
static_assert(mid_file_max <= hand_off_threshold);

// Whether a failed metadata step (apply_fd_meta, apply_at_meta) is reported under the destination
// path: all are writes to it except reading the source's extended attributes.
bool names_dst(operation op) { return op != operation::read_xattr; }

}  // namespace

bool looks_sparse(const struct stat& st) noexcept {
  return st.st_size > 0 &&
         static_cast<std::uint64_t>(st.st_blocks) * 512 < static_cast<std::uint64_t>(st.st_size);
}

entry_kind kind_of(mode_t mode) noexcept {
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

// Creates an entry with create() (its error); with --merge, once more after removing what was in
// the way. Reports a failure as op; returns whether the entry now exists.
template <class Create>
bool entry_copier::create_replacing(dir_node* node, const char* name, operation op,
                                    Create&& create) {
  for (int attempt = 0;; ++attempt) {
    std::error_code err = create();
    if (!err) return true;
    if (err == std::errc::file_exists &&
        plan::decide_exists(pol_, nullptr, attempt).what == plan::action::replace) {
      if (!replace_existing(node, name)) return false;  // reported there
      continue;
    }
    rep_.report(node, name, true, op, err);
    return false;
  }
}

entry_copier::entry_copier(const entry_services& services) noexcept
    : opt_(services.options),
      pol_(services.policy),
      guards_(services.guards),
      filter_(services.filter),
      links_(services.links),
      rep_(services.rep),
      flags_(services.flags),
      driver_(services.driver) {}

void entry_copier::copy(const entry_ref& e) { copy_entry(e.node, e.name, e.dtype); }

// Every chunk of a large file is done: as copy_regular() does after copy_bytes().
void entry_copier::finish_large_file(big_file& f) {
  dir_node* node = f.node;
  const char* name = f.name;
  std::error_code err;
  if (int chunk_err = f.error.load()) {
    const bool read_side = f.read_side.load();
    rep_.report(node, name, !read_side, read_side ? operation::read : operation::write,
                fs::errno_code(chunk_err));
    discard_file(node, name);
    if (f.first_link) link_waiters(node, name, f.st, false);
  } else if (f.sparse && (err = fs::truncate(f.dfd.get(), f.st.st_size))) {
    rep_.report(node, name, true, operation::write, err);
    discard_file(node, name);
    if (f.first_link) link_waiters(node, name, f.st, false);
  } else {
    const bool changed = source_changed(f.sfd.get(), f.st, f.short_read.load());
    finish_file(node, name, f.sfd.get(), f.dfd, f.st, f.first_link, changed);
  }
  f.sfd.reset();
  f.dfd.reset();
}

void entry_copier::copy_entry(dir_node* node, const char* name, std::uint8_t dtype) {
  try {
    if (opt_.dry_run) return dry_entry(node, name);
    if (pol_.merge) return merge_entry(node, name);
    if (dtype == DT_REG) return copy_regular(node, name);
    struct stat st {};
    if (!stat_source(node, name, st)) return;
    copy_by_stat(node, name, st);
  } catch (const std::bad_alloc&) {
    rep_.report(node, name, false, operation::read, fs::errno_code(ENOMEM));
  }
}

void entry_copier::copy_by_stat(dir_node* node, const char* name, const struct stat& st) {
  switch (st.st_mode & S_IFMT) {
    case S_IFREG:
      return copy_regular(node, name);
    case S_IFLNK:
      return copy_symlink(node, name, st);
    case S_IFDIR: {
      // Listed without a type (DT_UNKNOWN): a directory after all.
      return driver_.descend(node, name);
    }
    default:
      return copy_special(node, name, st);
  }
}

void entry_copier::copy_regular(dir_node* node, const char* name, const struct stat* claimed,
                                bool replace) {
  // The first name of a hard-link group claimed by the caller (--update): whatever stops this copy
  // early must finish the group, or the names waiting for it would never be linked or reported.
  auto give_up = [&] {
    if (claimed) link_waiters(node, name, *claimed, false);
  };
  auto [sfd, open_err] =
      fs::open(node->src_fd, name, O_RDONLY | src_nofollow(node) | O_NONBLOCK | O_NOCTTY);
  if (open_err) {
    struct stat st {};
    // Listed as a file but something else now (a symlink: ELOOP; a socket: ENXIO): copy what it is.
    if ((open_err == std::errc::too_many_symbolic_link_levels ||
         open_err == std::errc::no_such_device_or_address) &&
        !fs::stat_at(node->src_fd, name, st, fs::follow{follows(node)}) && !S_ISREG(st.st_mode)) {
      give_up();
      return copy_by_stat(node, name, st);
    }
    rep_.report(node, name, false, operation::open_source, open_err);
    return give_up();
  }
  struct stat st;  // filled by fstat before any use: not zeroed first, on every file's path
  if (std::error_code err = fs::stat(sfd.get(), st)) {
    rep_.report(node, name, false, operation::stat, err);
    return give_up();
  }
  if (!S_ISREG(st.st_mode)) {
    sfd.reset();
    give_up();
    return copy_by_stat(node, name, st);
  }
  copy_open_regular(node, name, sfd, st, claimed, replace);
}

void entry_copier::copy_open_regular(dir_node* node, const char* name, fs::unique_fd& sfd,
                                     const struct stat& st, const struct stat* claimed,
                                     bool replace) {
  auto give_up = [&] {
    if (claimed) link_waiters(node, name, *claimed, false);
  };
  rep_.count().bytes_found.fetch_add(static_cast<std::uint64_t>(st.st_size),
                                     std::memory_order_relaxed);
  if (st.st_size >= hand_off_threshold && !opt_.link) driver_.large_file_ahead(node);
  bool first = claimed != nullptr;
  // -l: every name links to the source inode, so hard-link groups need no table.
  if (!opt_.link && !first && claims_at_create(node, st) && handle_links(node, name, st, first))
    return;
  if (replace) {
    std::error_code err = fs::unlink_at(node->dst_fd, dst_name(node, name));
    if (err && err != std::errc::no_such_file_or_directory) {
      rep_.report(node, name, true, operation::remove, err);
      return give_up();
    }
  }
  if (opt_.link) return link_source(node, name, claimed);
  if (!roots_.prev_fds.empty() || !roots_.prev_parent_fds.empty()) {
    if (link_previous(node, name, sfd.get(), st)) {
      if (first) link_waiters(node, name, st, true);
      return;
    }
  }

  fs::unique_fd dfd = create_file(node, name, plan::open_mode(pol_, plan::entry_facts::of(st)));
  if (!dfd) {
    if (first) link_waiters(node, name, st, false);
    return;
  }
  bool done = false;
  bool ok = try_clone(node, name, sfd.get(), dfd.get(), st, done);
  if (ok && !done && static_cast<std::uint64_t>(st.st_size) >= big_file_threshold &&
      !node->pseudo_fs && driver_.take_large_file(node, name, sfd, dfd, st, first)) {
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
bool entry_copier::try_clone(dir_node* node, const char* name, int sfd, int dfd,
                             const struct stat& st, bool& done) {
  done = st.st_size == 0 && !node->pseudo_fs;
  if (done || opt_.reflink == reflink_mode::never || node->pseudo_fs) return true;
  const bool root = root_pair(node, st);
  if (root && clone_state_.load(std::memory_order_relaxed) == 2 &&
      opt_.reflink != reflink_mode::always)
    return true;
  std::error_code err = fs::clone(sfd, dfd);
  if (!err) {
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
fs::copy_control entry_copier::data_control(const dir_node* node, const struct stat& st) noexcept {
  const bool root_fs = root_pair(node, st);
  const bool use_cfr = opt_.reflink != reflink_mode::never &&
                       !(root_fs && cfr_refused_.load(std::memory_order_relaxed));
  return {&rep_.count().bytes_done.local(), flags_.flag(), use_cfr,
          root_fs ? &cfr_refused_ : nullptr};
}

// Copies the bytes, keeping holes. Reports its own failure; false means discard the file. changed:
// the source changed while it was copied (see source_changed()).
bool entry_copier::copy_bytes(dir_node* node, const char* name, int sfd, int dfd,
                              const struct stat& st, bool& changed) {
  // Files of /proc and /sys report sizes and block counts that mean nothing: read them to EOF.
  const bool sparse = !node->pseudo_fs && looks_sparse(st);
  const std::uint64_t len = node->pseudo_fs ? UINT64_MAX : static_cast<std::uint64_t>(st.st_size);
  // Large files are read front to back: a wider readahead window matters on a cold cache.
  if (st.st_size >= (1 << 20)) (void)fs::advise(sfd, POSIX_FADV_SEQUENTIAL);
  fs::copy_control ctl = data_control(node, st);
  ctl.dst_position_ours = true;  // a fresh descriptor, written by this thread alone
  ctl.src_position_ours = true;  // a fresh descriptor, read by this thread alone (clone and
                                 // mostly_cached() move no position)
  fs::copy_result r = fs::copy_range(sfd, dfd, 0, len, sparse, ctl);
  if (r.error) {
    rep_.report(node, name, !r.read_side, r.read_side ? operation::read : operation::write,
                r.code());
    return false;
  }
  if (sparse) {
    if (std::error_code err = fs::truncate(dfd, st.st_size)) {
      rep_.report(node, name, true, operation::write, err);
      return false;
    }
  }
  if (!node->pseudo_fs) changed = source_changed(sfd, st, !sparse && r.bytes < len);
  return true;
}

// Whether the source file changed while it was copied: it ended before its size (short_read), or,
// for files large enough that copying takes a while, its size or modification time is not what
// the copy started from. A change inside one clock tick of the mtime goes unseen.
bool entry_copier::source_changed(int sfd, const struct stat& before,
                                  bool short_read) const noexcept {
  if (short_read) return true;
  if (before.st_size < recheck_threshold) return false;
  struct stat now {};
  if (fs::stat(sfd, now)) return false;
  return now.st_size != before.st_size || now.st_mtim.tv_sec != before.st_mtim.tv_sec ||
         now.st_mtim.tv_nsec != before.st_mtim.tv_nsec;
}

// Applies the metadata and closes the file. A file whose source changed meanwhile keeps what was
// copied and the times read before the copy (so --update recopies it) and is reported, not counted.
void entry_copier::finish_file(dir_node* node, const char* name, int sfd, fs::unique_fd& dfd,
                               const struct stat& st, bool first_link, bool changed) {
  operation op{};
  std::error_code err = apply_fd_meta(node, sfd, dfd.get(), st, nullptr, op);
  std::error_code cerr = dfd.close();
  if (!err && cerr) {
    err = cerr;
    op = operation::close;
  }
  conclude_file(node, name, err, op, changed);
  if (first_link) link_waiters(node, name, st, !err || op != operation::close);
}

void entry_copier::conclude_file(dir_node* node, const char* name, std::error_code err,
                                 operation op, bool changed) {
  if (err) {
    rep_.report(node, name, names_dst(op), op, err);
    if (op == operation::close) discard_file(node, name);  // the data may not have reached the disk
  } else if (changed) {
    rep_.report(node, name, false, operation::read, make_error_code(errc::source_changed));
  } else {
    rep_.entry_done(node, name, entry_kind::file);
  }
}

void entry_copier::discard_file(dir_node* node, const char* name) {
  (void)fs::unlink_at(node->dst_fd, dst_name(node, name));
}

fs::unique_fd entry_copier::create_file(dir_node* node, const char* name, mode_t mode) {
  const char* dname = dst_name(node, name);
  fs::unique_fd fd;
  create_replacing(node, name, operation::create, [&] {
    fs::opened o = fs::open(node->dst_fd, dname, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, mode);
    fd = std::move(o.fd);
    return o.error;
  });
  return fd;
}

// --merge: removes the destination entry that a non-directory is about to replace.
bool entry_copier::replace_existing(dir_node* node, const char* name) {
  const char* dname = dst_name(node, name);
  struct stat st {};
  plan::entry_facts there;
  const bool have = !fs::stat_at(node->dst_fd, dname, st, fs::follow::no);
  if (have) there = plan::entry_facts::of(st);
  const plan::entry_decision d = plan::decide_exists(pol_, have ? &there : nullptr, 0);
  if (d.what == plan::action::conflict) {  // cannot overwrite a directory
    rep_.report(node, name, true, operation::create, fs::errno_code(d.error));
    return false;
  }
  std::error_code err = fs::unlink_at(node->dst_fd, dname);
  if (err && err != std::errc::no_such_file_or_directory) {
    rep_.report(node, name, true, operation::remove, err);
    return false;
  }
  return true;
}

// A source directory that cannot be opened (no read permission): as cp -a, its copy is still
// made, empty, with the metadata its parent can see (owner, mode, times); the caller reports the
// open's failure. Failures here go unreported beside that one, as they would only repeat it.
void entry_copier::create_unlisted_dir(dir_node* parent, const char* name, int psrc, int pdst) {
  struct stat st {};
  const fs::follow follow{opt_.dereference == symlink_mode::always};
  if (fs::stat_at(psrc, name, st, follow) || !S_ISDIR(st.st_mode)) return;
  const char* dname = dst_name(parent, name);
  if (std::error_code err = fs::make_dir_at(pdst, dname, S_IRWXU);
      err && (err != std::errc::file_exists || !pol_.merge))
    return;
  fs::opened d = fs::open(pdst, dname, O_RDONLY | fs::dir_open_flags);
  if (!d) return;
  operation op{};
  (void)apply_fd_meta(parent, -1, d.fd.get(), st, nullptr, op);
}

template <class Create>
void entry_copier::create_and_finish(dir_node* node, const char* name, const struct stat& st,
                                     entry_kind kind, bool first, Create&& create) {
  if (!create_replacing(node, name, operation::create, std::forward<Create>(create))) {
    if (first) link_waiters(node, name, st, false);
    return;
  }
  operation op{};
  if (std::error_code err = apply_at_meta(node, node->src_fd, name, dst_name(node, name), st, op))
    rep_.report(node, name, names_dst(op), op, err);
  else
    rep_.entry_done(node, name, kind);
  if (first) link_waiters(node, name, st, true);
}

void entry_copier::copy_symlink(dir_node* node, const char* name, const struct stat& st) {
  std::string target;
  const std::size_t size = st.st_size > 0 ? static_cast<std::size_t>(st.st_size) : 0;
  if (std::error_code err = fs::read_link_at(node->src_fd, name, target, size))
    return rep_.report(node, name, false, operation::read_link, err);
  bool first = false;
  if (claims_at_create(node, st) && handle_links(node, name, st, first)) return;
  const char* dname = dst_name(node, name);
  create_and_finish(node, name, st, entry_kind::symlink, first,
                    [&] { return fs::symlink_at(target.c_str(), node->dst_fd, dname); });
}

void entry_copier::copy_special(dir_node* node, const char* name, const struct stat& st) {
  bool first = false;
  if (claims_at_create(node, st) && handle_links(node, name, st, first)) return;
  const char* dname = dst_name(node, name);
  const bool device = S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode);
  const mode_t mode = (st.st_mode & S_IFMT) | plan::open_mode(pol_, plan::entry_facts::of(st));
  // FIFOs and sockets are recreated, never opened: opening a FIFO for reading would block.
  create_and_finish(node, name, st, kind_of(st.st_mode), first, [&] {
    return fs::make_node_at(node->dst_fd, dname, mode, device ? st.st_rdev : 0);
  });
}

// ---- hard links --------------------------------------------------------------------------------

// Returns true when this name is taken care of (linked now, or queued until the first copy is
// done); false when the caller must copy it, with first telling whether others may wait for it.
bool entry_copier::handle_links(dir_node* node, const char* name, const struct stat& st,
                                bool& first) {
  link_claim c = links_.claim(st.st_dev, st.st_ino, claimant(node, name), node, name,
                              [&] { return rel_path(node); });
  const plan::entry_decision d = plan::decide_create(to_answer(c.what));
  switch (d.what) {
    case plan::action::wait:
      return true;
    case plan::action::link: {
      fs::opened parent = fs::open_beneath(c.target_root, c.target_parent);
      if (!parent) {
        rep_.report(node, name, true, operation::link, parent.error);
        return true;
      }
      if (make_link(node, name, parent.fd.get(), c.target_name.c_str())) return true;
      first = false;  // the first copy is on another file system: copy the data
      return false;
    }
    default:
      first = d.first_link;
      return false;
  }
}

bool entry_copier::make_link(dir_node* node, const char* name, int target_dir,
                             const char* target_name) {
  const char* dname = dst_name(node, name);
  // The first copy in another pair's DST on another file system: not an error, the caller copies
  // the data (nothing was created: link() checks the file systems after the name is free).
  bool elsewhere = false;
  if (!create_replacing(node, name, operation::link, [&] {
        std::error_code err = fs::link_at(target_dir, target_name, node->dst_fd, dname);
        if (err != std::errc::cross_device_link) return err;
        elsewhere = true;
        return std::error_code();
      }))
    return true;
  if (elsewhere) return false;
  rep_.entry_done(node, name, entry_kind::hardlink);
  return true;
}

link_claimant entry_copier::claimant(const dir_node* node, const char* name) noexcept {
  return {this, node->is_top ? node->dst_fd : roots_.dst_fd, link_dev(node), dst_name(node, name)};
}

void entry_copier::link_waiters(dir_node* node, const char* name, const struct stat& st, bool ok) {
  std::vector<link_table::waiter> waiters;
  // --update compares later names with the first copy's inode, so remember which it is.
  struct stat dst {};
  ino_t dst_ino = 0;
  if (plan::remembers_first_inode(pol_, ok) &&
      !fs::stat_at(node->dst_fd, dst_name(node, name), dst, fs::follow::no))
    dst_ino = dst.st_ino;
  try {
    waiters = links_.finish(st.st_dev, st.st_ino, link_dev(node), ok, dst_ino);
  } catch (const std::bad_alloc&) {
    return;
  }
  for (auto& w : waiters) {
    // The waiting name may belong to another pair: its own entry copier links or copies it.
    entry_copier& e = *w.owner;
    // Only with the first copy's inode remembered (--update) is what the name has looked at.
    struct stat have {};
    plan::entry_facts have_facts;
    const bool looked =
        ok && dst_ino != 0 &&
        !fs::stat_at(w.node->dst_fd, e.dst_name(w.node, w.name.c_str()), have, fs::follow::no);
    if (looked) have_facts = plan::entry_facts::of(have);
    switch (plan::decide_waiter(ok, dst_ino, looked ? &have_facts : nullptr)) {
      case plan::action::skip:  // --update: this name is already a link to the first copy
        rep_.skipped();
        break;
      case plan::action::link:
        if (!e.make_link(w.node, w.name.c_str(), node->dst_fd, dst_name(node, name)))
          e.copy_entry(w.node, w.name.c_str(), DT_UNKNOWN);  // another file system
        break;
      default:
        e.copy_entry(w.node, w.name.c_str(), DT_UNKNOWN);
        break;
    }
    e.driver_.waiter_done(w.node);
  }
}

link_claim link_table::claim(dev_t dev, ino_t ino, const link_claimant& who, dir_node* node,
                             std::string_view name,
                             const std::function<std::string()>& parent_path) {
  if (hook_) {
    std::string rel = parent_path();
    hook_->link_name(dev, ino, rel.empty() ? std::string(name) : rel + "/" + std::string(name));
  }
  shard& sh = shard_for(dev, ino);
  std::lock_guard lock(sh.mu);
  auto [it, inserted] = sh.groups.try_emplace({dev, ino, who.dst_dev});
  group& g = it->second;
  if (inserted) {
    g.parent = parent_path();
    g.name = who.dst_name;
    g.root_fd = who.root_fd;
    return {link_claim::kind::first, {}, {}};
  }
  switch (g.st) {
    case group::state::copying:
      g.waiters.push_back({who.owner, node, std::string(name)});
      node->users.fetch_add(1, std::memory_order_relaxed);
      node->pending.fetch_add(1, std::memory_order_relaxed);
      return {link_claim::kind::wait, {}, {}};
    case group::state::done:
      return {link_claim::kind::link_to, g.parent, g.name, g.dst_ino, g.root_fd};
    case group::state::failed:
    default:
      return {link_claim::kind::copy, {}, {}};
  }
}

std::vector<link_table::waiter> link_table::finish(dev_t dev, ino_t ino, dev_t dst_dev, bool ok,
                                                   ino_t dst_ino) {
  shard& sh = shard_for(dev, ino);
  std::lock_guard lock(sh.mu);
  auto it = sh.groups.find({dev, ino, dst_dev});
  if (it == sh.groups.end()) return {};
  it->second.st = ok ? group::state::done : group::state::failed;
  it->second.dst_ino = dst_ino;
  return std::move(it->second.waiters);
}

}  // namespace treecopy::engine
