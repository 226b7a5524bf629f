// Pure decisions of a copy (see decide.hpp): what the engine and its dry run do with each entry.
#include "plan/decide.hpp"

#include <algorithm>
#include <cerrno>

namespace treecopy::plan {
namespace {

constexpr std::int64_t ns_per_s = 1'000'000'000;

std::int64_t ns_between(const struct timespec& a, const struct timespec& b) noexcept {
  return (static_cast<std::int64_t>(a.tv_sec) - b.tv_sec) * ns_per_s + (a.tv_nsec - b.tv_nsec);
}

bool later(const struct timespec& a, const struct timespec& b) noexcept {
  return a.tv_sec > b.tv_sec || (a.tv_sec == b.tv_sec && a.tv_nsec > b.tv_nsec);
}

bool same_mtime(const policy& p, const struct timespec& a, const struct timespec& b) noexcept {
  const std::int64_t d = ns_between(a, b);
  return (d < 0 ? -d : d) <= p.mtime_window_ns;
}

bool is_device(const entry_facts& e) noexcept { return e.type() == S_IFCHR || e.type() == S_IFBLK; }

entry_decision decided(action what) {
  entry_decision d;
  d.what = what;
  return d;
}

entry_decision asking(need what) {
  entry_decision d;
  d.what = action::ask;
  d.asks = what;
  return d;
}

entry_decision conflict(int err) {
  entry_decision d;
  d.what = action::conflict;
  d.error = err;
  return d;
}

// Something is in the way of a new entry: a directory gives way only to --update (as cp, --merge
// refuses to overwrite a directory with a non-directory); anything else is unlinked.
entry_decision make_room(const policy& p, const entry_facts& dst) {
  if (!dst.is_dir()) return decided(action::replace);
  if (!p.update) return conflict(EISDIR);
  return decided(action::replace_tree);
}

}  // namespace

policy normalize(const copy_options& o, const process_ids& who) {
  policy p;
  p.checksum = o.checksum;
  p.update = o.update || o.checksum;
  p.merge = o.merge || p.update;
  p.delete_extraneous = o.delete_extraneous;
  p.dry_run = o.dry_run;
  p.preserve_ownership = o.preserve_ownership;
  p.preserve_xattrs = o.preserve_xattrs;
  p.preserve_mode = o.preserve_mode;
  p.default_modes = !o.preserve_mode && o.default_modes;
  p.preserve_timestamps = o.preserve_timestamps;
  p.preserve_links = o.preserve_links;
  p.one_file_system = o.one_file_system;
  p.dereference = o.dereference;
  p.mtime_window_ns = o.modify_window.count();
  p.who = who;
  return p;
}

void allow_granularity(policy& p, const time_probe& probe) noexcept {
  const std::int64_t dropped = probe.fat ? 2 * ns_per_s - 1 : probe.dropped_ns;
  if (dropped > p.mtime_window_ns) p.mtime_window_ns = dropped;
}

std::int64_t guess_dropped_ns(const entry_facts& dst_root) noexcept {
  return dst_root.mtime.tv_nsec == 0 && dst_root.ctime.tv_nsec == 0 ? ns_per_s - 1 : 0;
}

// ---- one non-directory entry ------------------------------------------------------------------

compared compare_data(const policy& p, const entry_facts& src, const entry_facts& dst,
                      compared comparison, need* asks) {
  if (asks) *asks = need::nothing;
  if (src.type() != dst.type() || src.size != dst.size) return compared::differ;
  if (is_device(src) && src.rdev != dst.rdev) return compared::differ;
  // DST's inode has names SRC's has not: it is shared with an entry that SRC keeps apart, and
  // writing one would change the other. A fresh copy splits it. (SRC's count may be higher:
  // names outside SRC, or excluded.)
  // Without preserve_links every name is a file of its own: DST's inodes have one name each.
  if (dst.nlink > (p.preserve_links ? src.nlink : 1)) return compared::differ;
  if (src.is_link()) {
    // A length the kernel does not say (or a long one): compare by copying it again.
    if (src.size <= 0 || src.size > 4096) return compared::differ;
    // A target of the same length and mtime can still differ.
    if (comparison == compared::not_done) {
      if (asks) *asks = need::link_target;
      return compared::not_done;
    }
    if (comparison == compared::differ) return compared::differ;
  } else if (p.checksum && src.is_reg()) {
    if (comparison == compared::not_done && asks) *asks = need::content;
    return comparison;
  }
  // Without preserve_timestamps DST's mtime is its copy's time, never SRC's: a copy made after
  // SRC was last written (mtime not before SRC's) holds its data.
  if (!p.preserve_timestamps)
    return later(src.mtime, dst.mtime) ? compared::differ : compared::equal;
  return same_mtime(p, src.mtime, dst.mtime) ? compared::equal : compared::differ;
}

entry_decision decide_entry(const policy& p, const entry_facts& src, const entry_facts* dst,
                            const entry_context& ctx) {
  if (src.is_dir()) return decided(action::descend);
  const bool group = p.preserve_links && src.nlink > 1 && (!ctx.at_top || ctx.top_links);
  if (!dst) {
    entry_decision d = decided(action::create);
    d.claim_at_create = group;
    return d;
  }
  if (!p.merge) return conflict(EEXIST);
  bool first = false;
  // --update on a name of a hard-linked file (a regular file, a symlink, a FIFO...): the table is
  // asked before comparing, so that only the first name is compared and the others follow it
  // (linked, or already its links); a name that is missing links to the first name's inode.
  if (p.update && group) {
    switch (ctx.link) {
      case link_answer::none:
        return asking(need::link_claim);
      case link_answer::wait:
        return decided(action::wait);  // linked (replacing what is there) when the first is done
      case link_answer::link_to:
        if (ctx.link_target_ino != 0 && dst->ino == ctx.link_target_ino)
          return decided(action::skip);
        return decided(action::link);
      case link_answer::first:
        first = true;
        break;
      case link_answer::copy:
        break;
    }
  }
  if (p.update && (first || !group)) {
    need asks = need::nothing;
    const compared c = compare_data(p, src, *dst, ctx.comparison, &asks);
    if (asks != need::nothing) {
      entry_decision d = asking(asks);
      d.first_link = first;
      return d;
    }
    if (c == compared::equal) {
      entry_decision d = decided(action::keep);
      d.first_link = first;
      return d;
    }
  }
  entry_decision d = make_room(p, *dst);
  d.first_link = first;
  d.claim_at_create = group && !first && d.what != action::conflict;
  return d;
}

entry_decision decide_create(link_answer answer) {
  switch (answer) {
    case link_answer::first: {
      entry_decision d = decided(action::create);
      d.first_link = true;
      return d;
    }
    case link_answer::wait:
      return decided(action::wait);
    case link_answer::link_to:
      return decided(action::link);
    case link_answer::none:
    case link_answer::copy:
      break;
  }
  return decided(action::create);
}

entry_decision decide_exists(const policy& p, const entry_facts* in_the_way, int attempt) {
  if (!p.merge || attempt > 0) return conflict(EEXIST);
  if (in_the_way && in_the_way->is_dir()) return conflict(EISDIR);  // cannot overwrite a directory
  return decided(action::replace);
}

action decide_waiter(bool group_ok, ino_t first_dst_ino, const entry_facts* have) {
  if (!group_ok) return action::create;
  if (first_dst_ino != 0 && have && have->ino == first_dst_ino) return action::skip;
  return action::link;
}

bool links_previous(const copy_options& o) noexcept {
  return !o.link_dest.empty() && !o.link && o.preserve_mode && o.preserve_ownership &&
         o.preserve_timestamps && o.preserve_xattrs;
}

bool remembers_first_inode(const policy& p, bool group_ok) noexcept { return group_ok && p.update; }

int foresee_create(const policy& p, const entry_facts& src) noexcept {
  return is_device(src) && !p.is_root() ? EPERM : 0;
}

// ---- metadata
// ------------------------------------------------------------------------------------

meta_fix fix_metadata(const policy& p, const entry_facts& src, const entry_facts& dst) noexcept {
  meta_fix f;
  f.owner_differs = p.preserve_ownership && (src.uid != dst.uid || src.gid != dst.gid);
  // Without the privilege only the group of one's own files can change.
  f.chown = f.owner_differs && (p.is_root() || src.uid == p.who.euid);
  // SRC's ctime not before DST's: SRC may have changed since DST was last set (attributes, ACLs,
  // or else a chmod, a new link...). Equal ctimes count: two changes within one clock tick.
  f.sync_xattrs = p.preserve_xattrs && !later(dst.ctime, src.ctime);
  // Times are also set again when SRC changed after DST was set, even if nothing differed: that
  // moves DST's ctime past SRC's, so the next run does not compare the attributes again.
  f.set_times = p.preserve_timestamps && (!same_mtime(p, src.mtime, dst.mtime) ||
                                          (f.sync_xattrs && later(src.ctime, dst.ctime)));
  return f;
}

bool fix_mode(const policy& p, const entry_facts& src, const entry_facts& dst, bool owner_ok,
              mode_t& mode) noexcept {
  // Without preserve_mode an existing entry keeps its mode, as cp leaves it.
  if (!p.preserve_mode) return false;
  mode = owner_ok ? static_cast<mode_t>(src.mode & 07777) : mode_without_owner(src);
  // chown() may have cleared set-id bits: set the mode again after it.
  const bool chowned = owner_ok && (src.uid != dst.uid || src.gid != dst.gid);
  return !src.is_link() && (chowned || mode != (dst.mode & 07777));
}

bool chown_failure_reported(const policy& p, int err) noexcept {
  return p.is_root() || (err != EPERM && err != EINVAL);
}

bool lend_write_for_xattrs(const policy& p, int err, bool read_side, mode_t dst_mode) noexcept {
  return err == EACCES && !read_side && !p.is_root() && !S_ISLNK(dst_mode) &&
         (dst_mode & S_IWUSR) == 0;
}

mode_t open_mode(const policy& p, const entry_facts& src) noexcept {
  if (!p.default_modes) return static_cast<mode_t>(src.mode & 0777);
  return src.is_dir() || src.type() == S_IFSOCK ? 0777 : 0666;
}

mode_t created_mode(const policy& p, const entry_facts& src) noexcept {
  const mode_t mask = p.who.umask < 0 ? 0 : static_cast<mode_t>(p.who.umask);
  return static_cast<mode_t>(open_mode(p, src) & ~mask);
}

mode_t final_mode(const policy& p, const entry_facts& src) noexcept {
  return p.preserve_mode ? static_cast<mode_t>(src.mode & 07777) : created_mode(p, src);
}

bool new_needs_chown(const policy& p, const entry_facts& src, bool explicit_modes) noexcept {
  if (!p.preserve_ownership) return false;
  return explicit_modes || src.uid != p.who.euid || src.gid != p.who.egid;
}

mode_t mode_without_owner(const entry_facts& src) noexcept {
  const mode_t drop = S_ISUID | S_ISGID | (src.is_reg() ? S_ISVTX : 0);
  return static_cast<mode_t>(src.mode & 07777 & ~drop);
}

bool new_needs_chmod(const policy& p, const entry_facts& src, mode_t mode,
                     bool explicit_modes) noexcept {
  if (src.is_link()) return false;  // never through a symlink
  // A directory was created u+rwx only, so that its children could be written.
  if (src.is_dir() || explicit_modes) return true;
  return mode != created_mode(p, src);
}

// ---- directories
// ---------------------------------------------------------------------------------

void dst_roots::publish(std::size_t pair, const identity& id) noexcept {
  if (pair >= count_) return;
  slots_[pair].dev.store(id.dev, std::memory_order_relaxed);
  slots_[pair].ino.store(id.ino, std::memory_order_release);
}

bool dst_roots::other_than(std::size_t pair, const identity& id) const noexcept {
  for (std::size_t i = 0; i < count_; ++i) {
    if (i == pair) continue;
    const ino_t ino = slots_[i].ino.load(std::memory_order_acquire);
    if (ino != 0 && ino == id.ino && slots_[i].dev.load(std::memory_order_relaxed) == id.dev)
      return true;
  }
  return false;
}

bool guards::holds_source(const identity& id) const noexcept {
  return std::any_of(src_chain.begin(), src_chain.end(),
                     [&](const identity& a) { return a == id; });
}

dir_source_decision decide_dir_source(const policy& p, const guards& g, const entry_facts& src,
                                      bool is_root, dev_t root_dev, bool revisits_ancestor) {
  dir_source_decision d;
  // Following links can lead back to a directory being copied: report the cycle, do not loop.
  if (p.checks_cycles() && revisits_ancestor) {
    d.what = dir_source_action::refuse;
    d.error = make_error_code(errc::directory_cycle);
  } else if (!is_root && g.protects(src.id())) {
    // DST, SRC or an ancestor of SRC met again inside SRC (a bind mount, a followed link).
    d.what = dir_source_action::refuse;
    d.error = make_error_code(errc::into_itself);
  } else if (p.one_file_system && !is_root && src.dev != root_dev) {
    d.what = dir_source_action::copy_empty;
  }
  return d;
}

dir_dest_decision decide_dir_dest(const policy& p, found there) {
  dir_dest_decision d;
  switch (there) {
    case found::nothing:
      d.what = dir_dest_action::create;
      break;
    case found::directory:
      d.what = p.merge ? dir_dest_action::merge_into : dir_dest_action::conflict;
      if (!p.merge) d.error = EEXIST;
      break;
    case found::other:
      // --update: a file (or link) where the source now has a directory gives way; --merge
      // does not merge into what a symlink names.
      d.what = p.update ? dir_dest_action::replace : dir_dest_action::conflict;
      if (!p.update) d.error = p.merge ? ENOTDIR : EEXIST;
      break;
  }
  return d;
}

std::error_code check_dir_dest(const policy& p, const guards& g, bool is_root,
                               const entry_facts& dst_dir) {
  // DST itself was refused by setup for --delete when it holds SRC; it may have been swapped
  // since. A directory inside DST that is SRC or holds it would have SRC changed or removed.
  const bool refused =
      is_root ? p.delete_extraneous && g.holds_source(dst_dir.id()) : g.protects(dst_dir.id());
  return refused ? make_error_code(errc::holds_source) : std::error_code();
}

explicit_modes dir_explicit_modes(const policy& p, bool parent_explicit, bool existed) noexcept {
  if (parent_explicit || existed) return explicit_modes::yes;
  return p.merge ? explicit_modes::probe_acl : explicit_modes::no;
}

bool prunes_dir_xattrs(const policy& p, bool existed, bool xattrs_read) noexcept {
  return p.update && existed && xattrs_read;
}

// ---- --delete ----------------------------------------------------------------------------------

bool deletes_in(const policy& p, bool existed) noexcept { return p.delete_extraneous && existed; }

extraneous_action decide_extraneous(bool in_source, bool excluded) noexcept {
  if (in_source) return extraneous_action::leave;
  return excluded ? extraneous_action::keep : extraneous_action::remove;
}

std::error_code refuse_removal(const guards& g, const entry_facts& dir, bool mount_below) noexcept {
  if (g.protects(dir.id())) return make_error_code(errc::holds_source);
  // Another file system (or a bind mount) mounted inside DST is not the copy's to empty.
  if (mount_below) return make_error_code(errc::mount_point);
  return {};
}

removal_end finish_removal(bool failed_below, bool kept_below) noexcept {
  if (failed_below) return removal_end::failed;
  return kept_below ? removal_end::kept : removal_end::remove;
}

}  // namespace treecopy::plan
