// A copy as a whole: its setup from the caller's options and the process's limits (threads, the
// umask), the run from start to report, and the opening of each directory pair (source opened,
// destination created or merged into, with the checks that keep the copy out of itself).
#include "engine/copier.hpp"

#include <fcntl.h>
#include <linux/magic.h>
#include <sys/statfs.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <new>
#include <optional>
#include <stdexcept>
#include <system_error>
#include <utility>

#include "engine/limits.hpp"

namespace treecopy::engine {
namespace {

// File systems whose files report sizes that are wrong (0, or a page): read them until EOF.
bool is_pseudo_fs(int fd) {
  struct statfs sfs {};
  if (fs::stat_fs(fd, sfs)) return false;
  switch (static_cast<unsigned long>(sfs.f_type)) {
    case 0x9fa0:      // proc
    case 0x62656572:  // sysfs
    case 0x64626720:  // debugfs
    case 0x74726163:  // tracefs
    case 0x73636673:  // securityfs
    case 0x27e0eb:    // cgroup
    case 0x63677270:  // cgroup2
    case 0x62656570:  // configfs
    case 0xde5e81e4:  // efivarfs
    case 0x6165676c:  // pstore
      return true;
    default:
      return false;
  }
}

// File systems that live in memory: nothing there waits for a disk.
bool in_memory(int fd) {
  struct statfs sfs {};
  if (fd < 0 || fs::stat_fs(fd, sfs)) return false;
  return sfs.f_type == TMPFS_MAGIC || sfs.f_type == RAMFS_MAGIC;
}

// Workers when the caller leaves the count to the copy. default_jobs() runs more workers than
// cores so that requests wait on the disk in parallel; when every source and destination is in
// memory nothing waits, and the extra workers only take the cores from each other (preempted
// while they hold a directory's lock, switched in and out): there, one worker per core
// (docs/benchmarks.md, "Workers in memory").
unsigned automatic_jobs(const std::vector<setup_result>& setups) {
  const unsigned jobs = default_jobs();
  if (setups.empty()) return jobs;
  for (const setup_result& s : setups) {
    const int src = s.src_dir ? s.src_dir.get() : s.src_parent.get();
    if (!in_memory(src) || !in_memory(s.dst_parent.get())) return jobs;
  }
  return std::min(jobs, scheduler_cores());
}

// The directory of a path that setup opens: the path itself when `itself` (a directory SRC, a
// DST named "." or ".."), else its parent. Opened O_PATH: only to ask its file system.
fs::unique_fd place_dir(std::string p, bool itself) {
  while (p.size() > 1 && p.back() == '/') p.pop_back();
  if (!itself) {
    const auto slash = p.rfind('/');
    p = slash == std::string::npos ? "." : slash == 0 ? "/" : p.substr(0, slash);
  }
  return fs::open(AT_FDCWD, p.c_str(), O_PATH | O_CLOEXEC).fd;
}

bool has_default_acl(int fd) {
  std::size_t size = 0;
  return !fs::xattr_size(fd, "system.posix_acl_default", size);
}

}  // namespace

unsigned jobs_for(std::span<const copy_pair> pairs, const copy_options& options) noexcept {
  if (options.jobs) return options.jobs;
  const unsigned jobs = default_jobs();
  if (pairs.empty()) return jobs;
  const bool follow = options.dereference != symlink_mode::never;
  try {
    for (const copy_pair& pair : pairs) {
      const std::string src = pair.src.string(), dst = pair.dst.string();
      struct stat st {};
      const bool src_is_dir = !src.empty() &&
                              !fs::stat_at(AT_FDCWD, src.c_str(), st, fs::follow{follow}) &&
                              S_ISDIR(st.st_mode);
      std::string dst_name = dst;
      while (dst_name.size() > 1 && dst_name.back() == '/') dst_name.pop_back();
      dst_name = dst_name.substr(dst_name.rfind('/') == std::string::npos || dst_name == "/"
                                     ? 0
                                     : dst_name.rfind('/') + 1);
      // ".", ".." and "/" name an existing directory: setup resolves it and opens its parent.
      const bool dst_itself = dst_name == "." || dst_name == ".." || dst_name == "/";
      if (!in_memory(place_dir(src, src_is_dir).get()) ||
          !in_memory((dst_itself ? place_dir(dst + "/..", true) : place_dir(dst, false)).get()))
        return jobs;
    }
  } catch (const std::bad_alloc&) {
    return jobs;  // no memory for a path: the count without the probes
  }
  return std::min(jobs, scheduler_cores());
}

copier::copier(setup_result& setup, const copy_options& options, shared_run& run, walk_hook* hook)
    : setup_(setup),
      hook_(hook),
      opt_(options),
      pol_(setup.policy),
      run_(run),
      flags_(run.flags),
      rep_(run.rep),
      jobs_(run.jobs),
      filter_(options.filters, options.files_from) {
  streams_.set_limits(run.stream_cap, run.big_queue_cap);
  top_.is_top = true;
  top_.pinned = true;
  top_.pair = &setup_;
  if (hook_) run_.links.set_hook(hook_);
  guards_.pair = run.copiers_made++;
  guards_.pair_dsts = run.dsts.get();
}

copier::~copier() = default;

namespace {

// Threads: TBB ends the process when it cannot start a worker it wants, so ask only for those
// that can be started (down to none: the calling thread alone runs the copy), keeping one spare
// for whatever else of the user's starts meanwhile, and one for the progress sampler.
void plan_threads(shared_run& run) {
  const unsigned wanted = run.jobs - 1 + (run.sampler_wanted ? 1u : 0u);
  const unsigned got = startable_threads(wanted);
  if (got >= wanted) return;
  run.threads_scarce = true;
  unsigned workers = got > 0 ? got - 1 : 0;  // the spare
  if (run.sampler_wanted && workers > 0) --workers;
  run.jobs = std::min(run.jobs, workers + 1);
}

// A setup_result for a run whose every source was refused: the reporter's default display.
const setup_result& no_pair() {
  static const setup_result none;
  return none;
}

}  // namespace

void copier::open_top() {
  top_.src_fd = setup_.src_parent ? setup_.src_parent.get() : -1;
  top_.dst_fd = setup_.dst_parent.get();
  // New entries get modes the umask predicts, except under a default ACL or a set-group-ID
  // directory (which also decides their group): there, owner and mode are always set explicitly.
  struct stat top_st {};
  top_.always_chmod = pol_.who.umask < 0 || has_default_acl(top_.dst_fd) ||
                      fs::stat(top_.dst_fd, top_st) || (top_st.st_mode & S_ISGID) != 0;
  if (setup_.src_dir) {
    top_.src_dev = setup_.src_st.st_dev;
    top_.pseudo_fs = is_pseudo_fs(setup_.src_dir.get());
  } else if (top_.src_fd >= 0) {
    top_.pseudo_fs = is_pseudo_fs(top_.src_fd);
    top_.src_dev = setup_.src_st.st_dev;
  }
  entries_.where().src_dev = top_.src_dev;
  entries_.where().dst_name = setup_.dst_name;
  entries_.where().unit_rel = setup_.unit_rel;
  entries_.where().shared_links = run_.pairs > 1;
  if (run_.pairs > 1) {
    // Until DST is open (a dry run may never open it), DST's parent's file system is DST's.
    struct stat parent_st {};
    if (!fs::stat(top_.dst_fd, parent_st)) entries_.where().top_dev = parent_st.st_dev;
    entries_.where().dst_dev = entries_.where().top_dev;
  }
  check_listed();
  open_previous();
}

// --link-dest: each PREV's counterpart of DST (PREV itself, or PREV/<DST's name> when several
// pairs copy into one directory), opened once; one that does not exist is left out (everything
// there is new). A SRC that is a file is looked up by name in each PREV in turn, as a directory's
// files are. A dry run opens them too (read-only, as the real run does: PREV is never written) so
// that it tells which files would be linked rather than copied.
void copier::open_previous() {
  if (!plan::links_previous(opt_)) return;
  if (opt_.dry_run) entries_.where().dry_parent_fd = top_.dst_fd;
  for (const std::string& prev : opt_.link_dest) {
    fs::opened root = fs::open(AT_FDCWD, prev.c_str(), O_RDONLY | O_DIRECTORY);
    if (!root) continue;
    if (!setup_.src_dir) {
      // A file: its counterpart is PREV itself with one pair (not a directory: nothing to link),
      // or PREV/<DST's name>.
      if (run_.pairs == 1) continue;
      prev_.push_back(std::move(root.fd));
      entries_.where().prev_parent_fds.push_back(prev_.back().get());
      entries_.where().prev_name = setup_.dst_name;
      continue;
    }
    if (run_.pairs > 1) {
      root = fs::open_beneath(root.fd.get(), setup_.dst_name);
      if (!root) continue;
    }
    prev_.push_back(std::move(root.fd));
    entries_.where().prev_fds.push_back(prev_.back().get());
  }
}

// --files-from: a listed path that SRC does not have is a failed entry (rsync: "link_stat failed"),
// told before the copy starts. Looked up beneath SRC, following no symlink on the way.
void copier::check_listed() {
  if (!setup_.src_dir) return;
  std::string display = setup_.src_display;
  while (display.size() > 1 && display.back() == '/') display.pop_back();
  for (const std::string& rel : filter_.selected().listed()) {
    if (rel.empty()) continue;
    const auto slash = rel.rfind('/');
    const std::string parent = slash == std::string::npos ? std::string() : rel.substr(0, slash);
    const std::string name = slash == std::string::npos ? rel : rel.substr(slash + 1);
    struct stat st {};
    fs::opened dir = fs::open_beneath(setup_.src_dir.get(), parent);
    std::error_code err = dir.error;
    if (!err) err = fs::stat_at(dir.fd.get(), name.c_str(), st, fs::follow::no);
    if (err) rep_.report_refused({display + "/" + rel, operation::stat, err, entry_side::source});
  }
}

pair_run::pair_run(std::vector<setup_result>& setups, const copy_options& options,
                   copy_observer* observer, std::stop_token stop, walk_hook* hook)
    : setups_(setups),
      stop_(std::move(stop)),
      shared_(setups.empty() ? no_pair() : setups.front(), options, observer) {
  shared_.jobs = options.jobs ? options.jobs : automatic_jobs(setups);
  shared_.pairs = setups.size();
  if (setups.size() > 1) {
    // DSTs there before the copy are guarded from the start; new ones once made (open_root()).
    shared_.dsts = std::make_unique<plan::dst_roots>(setups.size());
    for (std::size_t i = 0; i < setups.size(); ++i)
      if (setups[i].dst_exists) shared_.dsts->publish(i, setups[i].dst_id);
  }
  shared_.sampler_wanted = observer != nullptr;
  plan_threads(shared_);
  plan_descriptors(shared_, setups.size(),
                   setups.empty() ? std::string() : setups.front().dst_display);
  // Every pair its own walk (its roots, guards, hard-link table), all on the one pool.
  copiers_.reserve(setups.size());
  for (setup_result& s : setups)
    copiers_.push_back(std::make_unique<copier>(s, options, shared_, hook));
}

pair_run::~pair_run() = default;

copy_report pair_run::run(const std::vector<entry_error>& refused) {
  shared_run& run = shared_;
  run.rep.start_clock();
  for (const entry_error& e : refused) run.rep.report_refused(e);
  std::stop_callback on_stop(stop_, [&run] { run.flags.cancel(); });
  for (auto& c : copiers_) c->open_top();
  const std::string dst_display = setups_.empty() ? std::string() : setups_.front().dst_display;

  try {
    // Workers and the progress sampler start once the copy has work for them.
    run.sched = make_tbb_scheduler(run.jobs, run.flags, run.rep.count(),
                                   [&run] { run.rep.start_sampler(); });
  } catch (const std::bad_alloc&) {
    throw setup_error(dst_display, std::make_error_code(std::errc::not_enough_memory),
                      "cannot start the worker threads: out of memory");
  } catch (const std::exception& e) {
    throw setup_error(dst_display, std::make_error_code(std::errc::resource_unavailable_try_again),
                      std::string("cannot start the worker threads: ") + e.what());
  }

  std::exception_ptr failure;
  try {
    // One pair starts right in the first task, as it always did; several are each a task of
    // their own, so that idle workers take whole trees from the start.
    run.sched->run([&run, this] {
      if (copiers_.size() == 1) return copiers_.front()->run_root();
      // Every DST made and guarded first: a pair that meets another's DST (a followed link, a
      // bind mount) refuses it even when that pair has not started its walk.
      for (auto& c : copiers_) c->open_root();
      for (auto& c : copiers_) {
        copier* p = c.get();
        run.sched->spawn([p] { p->run_root(); });
      }
    });
  } catch (...) {
    failure = std::current_exception();
  }
  if (!failure) {
    // A task lost on the way (a failure no task could report) leaves its directories unfinished:
    // the copy is not complete, whatever the entries reported so far say.
    for (auto& c : copiers_)
      if (!c->walk_finished())
        failure = std::make_exception_ptr(std::runtime_error("some of the work could not be done"));
  }
  run.rep.stop_sampler();
  if (failure) {
    // Something the copy as a whole needs failed (a worker thread, memory for a task): what was
    // copied stays, and the caller learns what stopped the rest.
    try {
      std::rethrow_exception(failure);
    } catch (const std::bad_alloc&) {
      throw std::system_error(ENOMEM, std::generic_category(), "copy stopped");
    } catch (const std::system_error&) {
      throw;
    } catch (const std::exception& e) {
      throw std::runtime_error(std::string("copy stopped: ") + e.what());
    }
  }
  return run.rep.finish();
}

copy_report run_pairs(std::vector<setup_result>& setups, const std::vector<entry_error>& refused,
                      const copy_options& options, copy_observer* observer, std::stop_token stop) {
  pair_run run(setups, options, observer, std::move(stop));
  return run.run(refused);
}

// Opens the source directory and creates and opens the destination one. via_parent: the parent's
// descriptors are held open for us; otherwise both are reopened by path from the roots.
bool copier::open_dir_pair(dir_node* node, bool via_parent) {
  dir_node* parent = node->parent;
  const char* dname = dst_name(parent, node->name.c_str());
  fs::unique_fd reopened_src, reopened_dst;
  // Without via_parent the parent's descriptors may be closed by another thread at any moment:
  // not even read them then.
  int psrc = -1, pdst = -1;
  if (via_parent) {
    psrc = parent->src_fd;
    pdst = parent->dst_fd;
  } else {
    std::string rel = rel_path(parent);
    fs::opened s =
        fs::open_beneath(src_root_fd_, rel, fs::follow{opt_.dereference == symlink_mode::always});
    if (!s) return rep_.report(parent, node->name, false, operation::open_source, s.error), false;
    reopened_src = std::move(s.fd);
    if (dst_root_fd_ >= 0) {  // else a dry run into a DST that does not exist
      fs::opened d = fs::open_beneath(dst_root_fd_, rel);
      if (!d && !opt_.dry_run)
        return rep_.report(parent, node->name, true, operation::open_source, d.error), false;
      reopened_dst = std::move(d.fd);
    }
    psrc = reopened_src.get();
    pdst = reopened_dst ? reopened_dst.get() : -1;
  }
  fs::unique_fd sfd;
  if (node == root_) {
    sfd.reset(setup_.src_dir.release());
  } else {
    fs::opened s =
        fs::open(psrc, node->name.c_str(), O_RDONLY | O_DIRECTORY | src_nofollow(parent));
    if (s.error == std::errc::permission_denied && !opt_.dry_run)
      entries_.create_unlisted_dir(parent, node->name.c_str(), psrc, pdst);
    if (!s) return rep_.report(parent, node->name, false, operation::open_source, s.error), false;
    sfd = std::move(s.fd);
  }
  if (std::error_code err = fs::stat(sfd.get(), node->st))
    return rep_.report(parent, node->name, false, operation::stat, err), false;
  if (!S_ISDIR(node->st.st_mode))
    return rep_.report(parent, node->name, false, operation::open_source, fs::errno_code(ENOTDIR)),
           false;
  // Following links (-L) can lead back to a directory being copied; DST, SRC or an ancestor of
  // SRC met again inside SRC (a bind mount, a followed link) would copy the copy, or SRC, into
  // itself without end (cp: "cannot copy a directory into itself"); -x copies other file systems
  // empty. Decided on the fstat every directory gets anyway.
  bool revisits = false;
  for (const dir_node* a = parent; pol_.checks_cycles() && a && !a->is_top; a = a->parent)
    if (file_id::of(a->st) == file_id::of(node->st)) revisits = true;
  const plan::dir_source_decision source =
      plan::decide_dir_source(pol_, guards_, plan::entry_facts::of(node->st), node == root_,
                              root_ ? root_->st.st_dev : node->st.st_dev, revisits);
  if (source.what == plan::dir_source_action::refuse)
    return rep_.report(parent, node->name, false, operation::open_source, source.error), false;
  node->no_descend = source.what == plan::dir_source_action::copy_empty;
  node->src_dev = node->st.st_dev;
  node->pseudo_fs =
      node->st.st_dev == parent->src_dev ? parent->pseudo_fs : is_pseudo_fs(sfd.get());
  if (opt_.preserve_xattrs) {
    if (std::error_code err = fs::get_xattrs(sfd.get(), node->xattrs))
      rep_.report(parent, node->name, false, operation::read_xattr, err);
    else
      node->xattrs_read = true;
  }

  int d = -1;
  if (!open_dst_dir(node, pdst, dname, d)) return false;
  node->src_fd = sfd.release();
  node->dst_fd = d;
  run_.open_dir_fds.fetch_add(2, std::memory_order_relaxed);
  // An existing directory, or one that inherited a default ACL, gives new entries modes that the
  // umask does not predict: set them explicitly.
  switch (plan::dir_explicit_modes(pol_, parent->always_chmod, node->existed)) {
    case plan::explicit_modes::yes:
      node->always_chmod = true;
      break;
    case plan::explicit_modes::no:
      node->always_chmod = false;
      break;
    case plan::explicit_modes::probe_acl:
      node->always_chmod = d >= 0 && has_default_acl(d);
      break;
  }
  if (node == root_ && setup_.batch) node->always_chmod = setup_.batch->always_chmod;
  return true;
}

// Creates (or, merging, finds) and opens node's destination directory dname in pdst; a dry run only
// looks at what is there. Sets node->existed and node->dst_foreign, and DST's identity when node is
// SRC's root. Returns false after reporting a failure; out: -1 when a dry run has nothing to open.
bool copier::open_dst_dir(dir_node* node, int pdst, const char* dname, int& out) {
  dir_node* parent = node->parent;
  if (node == root_) guards_.src_chain = setup_.src_chain;  // once, before any child is opened
  bool existed = false;
  fs::opened d{fs::unique_fd{}, fs::errno_code(ENOENT)};
  // What DST has under dname decides (plan::decide_dir_dest): created, merged into, replaced
  // (--update: a file or link where SRC now has a directory) or refused.
  auto found_at = [](const fs::opened& o) {
    return o ? plan::found::directory
           : o.error == std::errc::too_many_symbolic_link_levels ||
                   o.error == std::errc::not_a_directory
               ? plan::found::other
               : plan::found::nothing;
  };
  auto open_there = [&] { return fs::open(pdst, dname, O_RDONLY | fs::dir_open_flags); };
  if (opt_.dry_run) {
    // Nothing is created: look at what exists, to foresee conflicts.
    if (pdst >= 0) d = open_there();
    const plan::dir_dest_decision dest = plan::decide_dir_dest(pol_, found_at(d));
    if (dest.what == plan::dir_dest_action::conflict)
      return rep_.report(parent, node->name, true, operation::create, fs::errno_code(dest.error)),
             false;
    existed = static_cast<bool>(d);
  } else if (node == root_ && setup_.batch) {
    // A batch of a directory another process created and listed: it is there.
    d = open_there();
    existed = setup_.batch->existed;
    if (!d) return rep_.report(parent, node->name, true, operation::open_source, d.error), false;
  } else {
    if (std::error_code err = fs::make_dir_at(pdst, dname, S_IRWXU)) {
      if (err != std::errc::file_exists)
        return rep_.report(parent, node->name, true, operation::create, err), false;
      // Without merge what is there is refused whatever it is: not opened.
      const plan::found there = pol_.merge ? found_at(d = open_there()) : plan::found::directory;
      const plan::dir_dest_decision dest = plan::decide_dir_dest(pol_, there);
      if (dest.what == plan::dir_dest_action::conflict)
        return rep_.report(parent, node->name, true, operation::create, fs::errno_code(dest.error)),
               false;
      existed = true;
      if (dest.what == plan::dir_dest_action::replace) {
        err = fs::unlink_at(pdst, dname);
        if (!err) err = fs::make_dir_at(pdst, dname, S_IRWXU);
        if (err) return rep_.report(parent, node->name, true, operation::remove, err), false;
        existed = false;
        d = open_there();
      }
    } else {
      d = open_there();
    }
    if (!d) {
      // An existing symlink is not a directory to merge into.
      std::error_code err =
          d.error == std::errc::too_many_symbolic_link_levels ? fs::errno_code(ENOTDIR) : d.error;
      return rep_.report(parent, node->name, true, operation::create, err), false;
    }
  }
  node->existed = existed;
  // A directory that was there may be another file system mounted in DST. A directory made here
  // is on its parent's.
  node->dst_foreign = parent->dst_foreign;
  node->dst_dev = parent->dst_dev;
  if (d && (node == root_ || existed)) {
    struct stat ds {};
    if (std::error_code err = fs::stat(d.fd.get(), ds))
      return rep_.report(parent, node->name, true, operation::stat, err), false;
    if (node == root_) {
      dst_root_dev_ = ds.st_dev;
      guards_.dst_root = file_id::of(ds);
      if (run_.pairs > 1) entries_.where().dst_dev = ds.st_dev;
      // Before any entry is written in it: from now on no other pair copies it as a source's
      // directory (met through a bind mount or a followed link), as this pair never does.
      if (run_.dsts) run_.dsts->publish(guards_.pair, guards_.dst_root);
    } else {
      node->dst_foreign = ds.st_dev != dst_root_dev_;
      node->dst_dev = ds.st_dev;
    }
    // DST that holds SRC (refused by setup for --delete, maybe swapped since), or a directory of
    // DST that is SRC or holds it (a bind mount): merging into it, or --delete in it, would change
    // or remove SRC itself.
    if (std::error_code refused =
            plan::check_dir_dest(pol_, guards_, node == root_, plan::entry_facts::of(ds)))
      return rep_.report(parent, node->name, true, operation::create, refused), false;
  }
  out = d ? d.fd.release() : -1;
  return true;
}

}  // namespace treecopy::engine
