// Scheduling of a copy: directory tasks that list a directory and spawn tasks for its
// subdirectories and batches of its other entries, descriptor budgeting, and post-order
// finalization of directory metadata (the last child to finish finalizes its parent).
#include "engine/copier.hpp"

#include <fcntl.h>
#include <pthread.h>
#include <sys/resource.h>
#include <sys/statfs.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <new>
#include <memory>
#include <optional>
#include <stdexcept>
#include <system_error>
#include <thread>
#include <utility>

#include <oneapi/tbb/info.h>
#include <oneapi/tbb/task_arena.h>
#include <oneapi/tbb/task_group.h>

#include "engine/limits.hpp"

namespace treecopy::engine {
namespace {

// The process umask, read without changing it (umask() would race with other threads).
int read_umask() {
  std::FILE* f = std::fopen("/proc/self/status", "re");
  if (!f) return -1;
  char line[256];
  int mask = -1;
  while (std::fgets(line, sizeof line, f)) {
    if (std::strncmp(line, "Umask:", 6) == 0) {
      mask = static_cast<int>(std::strtol(line + 6, nullptr, 8));
      break;
    }
  }
  std::fclose(f);
  return mask;
}

// File systems whose files report sizes that are wrong (0, or a page): read them until EOF.
bool is_pseudo_fs(int fd) {
  struct statfs sfs {};
  if (::fstatfs(fd, &sfs) != 0) return false;
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

bool has_default_acl(int fd) {
  return ::fgetxattr(fd, "system.posix_acl_default", nullptr, 0) >= 0;
}

// Threads of the copy's own that work in its arena beside TBB's workers. TBB starts at most
// (cores - 1) workers unless a process-wide global_control raises that ceiling, which would also
// change it for every other user of TBB in the process (and several copies at once would undo each
// other's). Copies block on I/O, so -j may ask for more workers than cores: the rest are these
// threads. Each takes one of the arena's slots reserved for external threads and works on the
// arena's tasks while it waits for a deferred task of its own, which release() drops. They are
// started with pthread_create and TBB's stack size: a thread that cannot be started is one worker
// fewer, never an abort (see plan_threads()).
class arena_threads {
 public:
  explicit arena_threads(tbb::task_arena& arena) noexcept : arena_(arena) {}
  ~arena_threads() { release(); }
  arena_threads(const arena_threads&) = delete;
  arena_threads& operator=(const arena_threads&) = delete;

  /// Starts up to n threads into the arena; fewer when no more can be started.
  void start(unsigned n) noexcept {
    pthread_attr_t attr;
    if (::pthread_attr_init(&attr) != 0) return;
    ::pthread_attr_setstacksize(&attr, worker_stack_size);
    try {
      members_.reserve(n);
      for (unsigned i = 0; i < n; ++i) {
        auto m = std::make_unique<member>();
        m->arena = &arena_;
        m->done = m->waits.defer([] {});
        if (::pthread_create(&m->thread, &attr, &member::work, m.get()) != 0) break;
        members_.push_back(std::move(m));
      }
    } catch (...) {
      // Out of memory: the threads started so far work, the others are not there.
    }
    ::pthread_attr_destroy(&attr);
  }

  /// Lets the threads leave the arena once its work is done, and joins them. A deferred task that
  /// is destroyed without running ends the wait on it as if it had run.
  void release() noexcept {
    for (auto& m : members_) m->done = tbb::task_handle();
    for (auto& m : members_) ::pthread_join(m->thread, nullptr);
    members_.clear();
  }

 private:
  struct member {
    tbb::task_arena* arena = nullptr;
    tbb::task_group waits;
    tbb::task_handle done;
    pthread_t thread{};
    static void* work(void* self) {
      auto* m = static_cast<member*>(self);
      try {
        m->arena->execute([m] { m->waits.wait(); });
      } catch (...) {
        // The tasks' failures are rethrown to the thread that waits for the copy's task group.
      }
      return nullptr;
    }
  };
  tbb::task_arena& arena_;
  std::vector<std::unique_ptr<member>> members_;
};

}  // namespace

copier::copier(setup_result& setup, const copy_options& options, copy_observer* observer,
               std::stop_token stop)
    : setup_(setup), opt_(options), stop_(std::move(stop)), rep_(setup, opt_, observer, flags_),
      filter_(options.filters) {
  if (opt_.checksum) opt_.update = true;
  if (opt_.update) opt_.merge = true;
  jobs_ = opt_.jobs ? opt_.jobs : default_jobs();
  euid_ = ::geteuid();
  egid_ = ::getegid();
  is_root_ = euid_ == 0;
  umask_ = read_umask();
  mtime_window_ns_ = opt_.modify_window.count();
  sampler_wanted_ = observer != nullptr;
  plan_threads();
  plan_descriptors();
  top_.is_top = true;
  top_.pinned = true;
  tasks_ = std::make_unique<tbb::task_group>();
}

copier::~copier() = default;

// Threads: TBB ends the process when it cannot start a worker it wants, so ask only for those
// that can be started (down to none: the calling thread alone runs the copy), keeping one spare
// for whatever else of the user's starts meanwhile, and one for the progress sampler.
void copier::plan_threads() {
  const unsigned wanted = jobs_ - 1 + (sampler_wanted_ ? 1u : 0u);
  const unsigned got = startable_threads(wanted);
  if (got >= wanted) return;
  unsigned workers = got > 0 ? got - 1 : 0;  // the spare
  if (sampler_wanted_ && workers > 0) --workers;
  jobs_ = std::min(jobs_, workers + 1);
}

// Descriptors: SRC's and DST's roots stay open for the whole copy. A worker holds the pair of the
// directory it lists and a file pair (or a parent reopened by path and the pair it opens, or a
// source file and a hard link's target directory): 4. With several workers, each may also keep a
// pair open past the budget (they check it at the same time), and names of a hard-linked file
// being copied keep their directories open while they wait: 6 each, and 4 spare. A large file
// waiting for a stream holds its pair and its directory's. What the soft limit leaves after the
// descriptors already open goes to directories kept open between their listing and their
// finalization. When the limit cannot hold every worker, fewer run, down to one; below what one
// needs, the copy does not start (and creates nothing).
void copier::plan_descriptors() {
  constexpr long alone = 4, per_worker = 6, waiters = 4;
  long limit = descriptor_limit();
  if (limit < 0) limit = 1L << 20;
  long open_now = open_descriptors(limit);
  if (open_now < 0) open_now = 16;  // no /proc: a guess at what a process usually has open
  const long avail = limit - open_now - 1;  // DST's root is opened once the copy starts
  if (avail < alone) {
    throw setup_error(setup_.dst_display, std::make_error_code(std::errc::too_many_files_open),
                      "too few file descriptors: the limit (ulimit -n) is " + std::to_string(limit) +
                          " and " + std::to_string(open_now) + " are open already; a copy needs " +
                          std::to_string(open_now + 1 + alone) + " at least");
  }
  const long fit = (avail - waiters) / per_worker;
  jobs_ = fit >= 2 ? static_cast<unsigned>(std::min<long>(jobs_, fit)) : 1u;
  long spare = avail - (jobs_ == 1 ? alone : per_worker * static_cast<long>(jobs_) + waiters);
  stream_cap_ = std::clamp(static_cast<unsigned>(tbb::info::default_concurrency()), 1u, jobs_);
  big_queue_cap_ = std::min<std::size_t>(4 * std::size_t{stream_cap_},
                                         static_cast<std::size_t>(spare / 8));
  spare -= 4 * static_cast<long>(big_queue_cap_);
  spare -= std::min(24L, spare / 4);  // for descriptors the caller opens meanwhile
  // + 2: the pair of SRC's and DST's roots counts among the open directories.
  dir_fd_budget_ = static_cast<int>(std::clamp(spare, 0L, 4096L)) + 2;
}

bool copier::over_budget() const noexcept {
  return open_dir_fds_.load(std::memory_order_relaxed) > dir_fd_budget_;
}

void copier::add_work(dir_node* node, std::int64_t n) {
  node->pending.fetch_add(n, std::memory_order_relaxed);
}

copy_report copier::run() {
  rep_.start_clock();
  std::stop_callback on_stop(stop_, [this] { cancel(); });

  top_.src_fd = setup_.src_parent ? setup_.src_parent.get() : -1;
  top_.dst_fd = setup_.dst_parent.get();
  // New entries get modes the umask predicts, except under a default ACL or a set-group-ID
  // directory (which also decides their group): there, owner and mode are always set explicitly.
  struct stat top_st {};
  top_.always_chmod = umask_ < 0 || has_default_acl(top_.dst_fd) ||
                      ::fstat(top_.dst_fd, &top_st) != 0 || (top_st.st_mode & S_ISGID) != 0;
  if (setup_.src_dir) {
    top_.src_dev = setup_.src_st.st_dev;
    top_.pseudo_fs = is_pseudo_fs(setup_.src_dir.get());
  } else if (top_.src_fd >= 0) {
    top_.pseudo_fs = is_pseudo_fs(top_.src_fd);
    top_.src_dev = setup_.src_st.st_dev;
  }

  // Of the jobs_ threads, the calling one and TBB's workers (at most cores - 1 of them: see
  // arena_threads) run the tasks, and threads of our own the rest. The arena asks TBB for no more
  // workers than that, and plan_threads() made sure that all of them can be started: TBB never
  // tries to start a worker it cannot have (it would end the process).
  const unsigned cores = static_cast<unsigned>(std::max(1, tbb::info::default_concurrency()));
  const unsigned own = jobs_ - std::min(jobs_, cores);
  tbb::task_arena arena(static_cast<int>(jobs_), 1 + own);
  // Started here, with nothing queued yet: an arena whose start failed cannot be used again, not
  // even to wait (it spins on its half-done start).
  try {
    arena.initialize();
  } catch (const std::bad_alloc&) {
    throw setup_error(setup_.dst_display, std::make_error_code(std::errc::not_enough_memory),
                      "cannot start the worker threads: out of memory");
  } catch (const std::exception& e) {
    throw setup_error(setup_.dst_display, std::make_error_code(std::errc::resource_unavailable_try_again),
                      std::string("cannot start the worker threads: ") + e.what());
  }

  rep_.start_sampler();
  std::exception_ptr failure;
  {
    arena_threads extra(arena);
    try {
      extra.start(own);
      run_tasks(arena);
    } catch (...) {
      failure = std::current_exception();
    }
  }
  rep_.stop_sampler();
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
  return rep_.finish();
}

// Runs the whole tree in the arena. TBB throws from here when it cannot start a worker thread or
// allocate a task; the tasks already queued must still run before the group may be destroyed, or
// its destructor waits for them forever: stop (they then skip their entries) and wait again, a
// bounded number of times, since each wait may meet the same failure.
void copier::run_tasks(tbb::task_arena& arena) {
  std::exception_ptr failure;
  try {
    arena.execute([&] {
      tasks_->run([this] { run_root(); });
      tasks_->wait();
    });
    return;
  } catch (...) {
    failure = std::current_exception();
  }
  cancel();
  for (unsigned attempt = 0; attempt <= jobs_ + 1; ++attempt) {
    bool drained = false;
    try {
      arena.execute([&] { tasks_->wait(); });
      drained = true;
    } catch (...) {
    }
    if (drained) std::rethrow_exception(failure);
  }
  // TBB keeps failing: the queued tasks can no longer run. Leave the group to the process's end
  // rather than wait for it forever.
  (void)tasks_.release();
  std::rethrow_exception(failure);
}

void copier::run_root() {
  if (setup_.src_dir) {
    root_ = new dir_node;
    root_->parent = &top_;
    root_->name = setup_.src_name;
    rep_.set_root(root_);
    top_.pending.fetch_add(1, std::memory_order_relaxed);
    rep_.count().entries_found.fetch_add(1, std::memory_order_relaxed);
    rep_.count().dirs_unlisted.fetch_add(1, std::memory_order_relaxed);
    process_dir(root_, true);
  } else {
    rep_.count().entries_found.fetch_add(1, std::memory_order_relaxed);
    std::uint8_t dtype = S_ISREG(setup_.src_st.st_mode) ? DT_REG : DT_UNKNOWN;
    copy_entry(&top_, setup_.src_name.c_str(), dtype);
  }
}

// ---- directories -------------------------------------------------------------------------------

// A task for subdirectory name of node. via_parent: it opens itself through node's descriptors,
// which stay open for it; otherwise it reopens its parent by path.
void copier::spawn_child(dir_node* node, const char* name, bool via_parent) {
  auto* child = new dir_node;
  child->parent = node;
  child->name = name;
  add_work(node, 1);
  if (via_parent) node->users.fetch_add(1, std::memory_order_relaxed);
  spawn_dir(child, via_parent);
}

void copier::spawn_dir(dir_node* node, bool via_parent) {
  rep_.count().dirs_unlisted.fetch_add(1, std::memory_order_relaxed);
  tasks_->run([this, node, via_parent] {
    process_dir(node, via_parent);
  });
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
    int s = fs::open_dir_beneath(src_root_fd_, rel, opt_.dereference == symlink_mode::always);
    if (s < 0) return rep_.report(parent, node->name, false, operation::open_source, -s), false;
    reopened_src.reset(s);
    int d = dst_root_fd_ < 0 ? -1 : fs::open_dir_beneath(dst_root_fd_, rel);
    if (d < 0 && !opt_.dry_run) return rep_.report(parent, node->name, true, operation::open_source, -d), false;
    reopened_dst.reset(d);
    psrc = s;
    pdst = d;
  }
  fs::unique_fd sfd;
  if (node == root_) {
    sfd.reset(setup_.src_dir.release());
  } else {
    int s = fs::open_at(psrc, node->name.c_str(), O_RDONLY | O_DIRECTORY | src_nofollow(parent));
    if (s == -EACCES && !opt_.dry_run) create_unlisted_dir(parent, node->name.c_str(), psrc, pdst);
    if (s < 0) return rep_.report(parent, node->name, false, operation::open_source, -s), false;
    sfd.reset(s);
  }
  if (::fstat(sfd.get(), &node->st) != 0) return rep_.report(parent, node->name, false, operation::stat, errno), false;
  if (!S_ISDIR(node->st.st_mode)) return rep_.report(parent, node->name, false, operation::open_source, ENOTDIR), false;
  if (opt_.dereference == symlink_mode::always) {
    // Following links can lead back to a directory being copied: report the cycle, do not loop.
    for (const dir_node* a = parent; a && !a->is_top; a = a->parent)
      if (a->st.st_ino == node->st.st_ino && a->st.st_dev == node->st.st_dev)
        return rep_.report(parent, node->name, false, operation::open_source,
                      make_error_code(errc::directory_cycle)), false;
  }
  // DST, SRC or an ancestor of SRC met again inside SRC (a bind mount, a followed link): copying
  // it would copy the copy, or SRC, into itself without end (cp: "cannot copy a directory into
  // itself"). One compare against a few identities, after the fstat every directory gets anyway.
  if (node != root_ && protected_dir(file_id::of(node->st))) {
    rep_.report(parent, node->name, false, operation::open_source, make_error_code(errc::into_itself));
    return false;
  }
  node->no_descend = opt_.one_file_system && node != root_ && root_ && node->st.st_dev != root_->st.st_dev;
  node->src_dev = node->st.st_dev;
  node->pseudo_fs = node->st.st_dev == parent->src_dev ? parent->pseudo_fs : is_pseudo_fs(sfd.get());
  if (opt_.preserve_xattrs) {
    if (int err = fs::read_xattrs(sfd.get(), node->xattrs))
      rep_.report(parent, node->name, false, operation::read_xattr, err);
    else
      node->xattrs_read = true;
  }

  bool existed = false;
  int d = -1;
  if (opt_.dry_run) {
    // Nothing is created: look at what exists, to foresee conflicts.
    d = pdst < 0 ? -ENOENT : fs::open_at(pdst, dname, O_RDONLY | fs::dir_open_flags);
    if ((d == -ELOOP || d == -ENOTDIR) && !opt_.update)
      return rep_.report(parent, node->name, true, operation::create, ENOTDIR), false;
    existed = d >= 0;
    if (d < 0) d = -1;
  } else {
    if (::mkdirat(pdst, dname, S_IRWXU) != 0) {
      int err = errno;
      if (err != EEXIST || !opt_.merge) return rep_.report(parent, node->name, true, operation::create, err), false;
      existed = true;
    }
    d = fs::open_at(pdst, dname, O_RDONLY | fs::dir_open_flags);
    if ((d == -ELOOP || d == -ENOTDIR) && opt_.update) {
      // --update: a file (or link) where the source now has a directory gives way.
      if (::unlinkat(pdst, dname, 0) != 0 || ::mkdirat(pdst, dname, S_IRWXU) != 0)
        return rep_.report(parent, node->name, true, operation::remove, errno), false;
      existed = false;
      d = fs::open_at(pdst, dname, O_RDONLY | fs::dir_open_flags);
    }
    if (d < 0) {
      int err = -d == ELOOP ? ENOTDIR : -d;  // an existing symlink is not a directory to merge into
      return rep_.report(parent, node->name, true, operation::create, err), false;
    }
  }
  node->existed = existed;
  // A directory that was there may be another file system mounted in DST. A directory made here
  // is on its parent's.
  node->dst_foreign = parent->dst_foreign;
  if (d >= 0 && (node == root_ || existed)) {
    struct stat ds {};
    fs::unique_fd guard(d);
    if (::fstat(d, &ds) != 0) return rep_.report(parent, node->name, true, operation::stat, errno), false;
    bool refused = false;
    if (node == root_) {
      dst_root_dev_ = ds.st_dev;
      dst_root_id_ = file_id::of(ds);
      // Setup refused this DST by identity for --delete; it may have been swapped since.
      refused = existed && opt_.delete_extraneous && holds_source(dst_root_id_);
    } else {
      node->dst_foreign = ds.st_dev != dst_root_dev_;
      // A directory of DST that is SRC or holds it (a bind mount): merging into it, or --delete
      // in it, would change or remove SRC itself.
      refused = protected_dir(file_id::of(ds));
    }
    if (refused) {
      rep_.report(parent, node->name, true, operation::create, make_error_code(errc::holds_source));
      return false;
    }
    guard.release();
  }
  node->src_fd = sfd.release();
  node->dst_fd = d;
  open_dir_fds_.fetch_add(2, std::memory_order_relaxed);
  // An existing directory, or one that inherited a default ACL, gives new entries modes that the
  // umask does not predict: set them explicitly.
  node->always_chmod = parent->always_chmod || existed;
  if (!node->always_chmod && opt_.merge && d >= 0) node->always_chmod = has_default_acl(d);
  return true;
}

void copier::process_dir(dir_node* node, bool via_parent) {
  bool opened = false;
  if (!stopping()) {
    try {
      opened = open_dir_pair(node, via_parent);
    } catch (const std::bad_alloc&) {
      rep_.report(node->parent, node->name, false, operation::open_source, ENOMEM);
    }
  }
  if (node == root_ && opened) {
    src_root_fd_ = node->src_fd;
    dst_root_fd_ = node->dst_fd;
    node->pinned = true;
    if (opt_.update && node->existed && node->dst_fd >= 0) detect_time_granularity(node->dst_fd);
  }
  if (via_parent) release_users(node->parent);
  if (!opened) {
    rep_.count().dirs_unlisted.fetch_sub(1, std::memory_order_relaxed);
    dir_node* parent = node->parent;
    delete node;
    finish_child(parent);
    return;
  }
  rep_.count().entries_done.fetch_add(1, std::memory_order_relaxed);
  if (!node->no_descend) {
    if (int err = fs::list_dir(node->src_fd, node->names, node->entries))
      rep_.report(node, {}, false, operation::read_dir, err);
  }
  rep_.count().entries_found.fetch_add(node->entries.size(), std::memory_order_relaxed);
  rep_.count().dirs_unlisted.fetch_sub(1, std::memory_order_relaxed);
  try {
    if (opt_.delete_extraneous && !stopping()) delete_extraneous(node);
    schedule_children(node);
  } catch (const std::bad_alloc&) {
    rep_.report(node, {}, false, operation::read_dir, ENOMEM);
  }
  release_users(node);
  finish_child(node);
}

// Subdirectories first, then batches of the other entries: a worker pops its newest task first, so
// it finishes this directory's files (and can close its descriptors) before it descends, while idle
// workers steal the oldest tasks, the subdirectories, and so spread out across the tree.
void copier::schedule_children(dir_node* node) {
  auto& ents = node->entries;
  if (!filter_.empty()) {
    const std::string rel_dir = filter_.needs_path() ? rel_path(node) : std::string();
    auto kept = std::remove_if(ents.begin(), ents.end(), [&](fs::dir_entry& e) {
      return excluded(node, rel_dir, node->names.c_str() + e.name_offset, e.type);
    });
    const auto dropped = static_cast<std::uint64_t>(ents.end() - kept);
    rep_.skipped(dropped);
    ents.erase(kept, ents.end());
  }
  auto first_dir = std::stable_partition(ents.begin(), ents.end(),
                                         [](const fs::dir_entry& e) { return e.type != DT_DIR; });
  const auto nfiles = static_cast<std::uint32_t>(first_dir - ents.begin());
  if (stopping()) {
    rep_.count().entries_done.fetch_add(ents.size(), std::memory_order_relaxed);
    return;
  }
  for (auto it = first_dir; it != ents.end(); ++it)
    spawn_child(node, node->names.c_str() + it->name_offset, !over_budget());
  if (nfiles == 0) return;
  const std::uint32_t per = std::clamp<std::uint32_t>(nfiles / (jobs_ * 4), 8, 128);
  // A few entries are done right here; so are all of them when too many directories are open
  // already, rather than queue work that would keep this directory's descriptors open.
  if (nfiles <= per || over_budget()) return copy_entries(node, 0, nfiles);
  for (std::uint32_t b = 0; b < nfiles; b += per) {
    std::uint32_t e = std::min(nfiles, b + per);
    add_work(node, 1);
    node->users.fetch_add(1, std::memory_order_relaxed);
    tasks_->run([this, node, b, e] {
      run_batch(node, b, e);
    });
  }
}

namespace {

// The entries a worker is going through (copy_entries()), so that copy_regular(), several calls
// down, can hand the rest of them to other workers when it meets a large file. Thread-local
// rather than passed down: every path to copy_regular() (plain, --merge, --update, hard-link
// waiters) would need it, and only the entry the loop is at may use it (armed).
struct entry_cursor {
  const copier* owner;
  dir_node* node;
  std::uint32_t next, end;
  bool armed;
};
thread_local entry_cursor* current_entries = nullptr;

// Restores the enclosing cursor however copy_entries() is left.
class cursor_scope {
 public:
  explicit cursor_scope(entry_cursor* c) noexcept : outer_(std::exchange(current_entries, c)) {}
  ~cursor_scope() { current_entries = outer_; }
  cursor_scope(const cursor_scope&) = delete;
  cursor_scope& operator=(const cursor_scope&) = delete;

 private:
  entry_cursor* outer_;
};

// Arms the cursor for the entry the loop is at, and only while that entry is being copied.
class armed_while_copying {
 public:
  explicit armed_while_copying(entry_cursor& c) noexcept : c_(c) { c_.armed = true; }
  ~armed_while_copying() { c_.armed = false; }
  armed_while_copying(const armed_while_copying&) = delete;
  armed_while_copying& operator=(const armed_while_copying&) = delete;

 private:
  entry_cursor& c_;
};

}  // namespace

void copier::copy_entries(dir_node* node, std::uint32_t begin, std::uint32_t end) {
  entry_cursor cursor{this, node, begin, end, false};
  cursor_scope scope(&cursor);
  while (cursor.next < cursor.end) {
    if (stopping()) {
      rep_.count().entries_done.fetch_add(cursor.end - cursor.next, std::memory_order_relaxed);
      break;
    }
    const auto& e = node->entries[cursor.next++];
    armed_while_copying armed(cursor);
    copy_entry(node, node->names.c_str() + e.name_offset, e.type);
  }
}

// A file of a few MiB takes milliseconds, hundreds of small files' worth: the worker that meets
// one spawns the entries after it as a batch of their own before copying it, so that idle
// workers take them (and the other large files among them) instead of waiting for this one. File
// sizes are known only once a file is open, so this is how the largest work starts early without
// a stat per entry at listing time.
void copier::hand_off_rest(dir_node* node) {
  entry_cursor* c = current_entries;
  if (!c || !c->armed || c->owner != this || c->node != node) return;
  c->armed = false;
  if (c->next >= c->end) return;
  const std::uint32_t b = c->next, e = c->end;
  add_work(node, 1);
  node->users.fetch_add(1, std::memory_order_relaxed);
  try {
    tasks_->run([this, node, b, e] { run_batch(node, b, e); });
  } catch (const std::bad_alloc&) {
    // No task: this worker keeps the entries. The batch it is in still counts as pending and as
    // a user of the listing, so neither count reaches zero here.
    add_work(node, -1);
    node->users.fetch_sub(1, std::memory_order_relaxed);
    return;
  }
  c->end = b;
}

void copier::run_batch(dir_node* node, std::uint32_t begin, std::uint32_t end) {
  copy_entries(node, begin, end);
  release_users(node);
  finish_child(node);
}

void copier::close_fds(dir_node* node) {
  if (node->pinned || node->src_fd < 0) return;
  ::close(node->src_fd);
  if (node->dst_fd >= 0) ::close(node->dst_fd);
  node->src_fd = node->dst_fd = -1;
  open_dir_fds_.fetch_sub(2, std::memory_order_relaxed);
}

void copier::release_users(dir_node* node) {
  if (node->users.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
  // Nobody lists or copies into this directory any more: drop the listing, and the descriptors
  // too when many are open (finalization will reopen the destination by path).
  std::string().swap(node->names);
  std::vector<fs::dir_entry>().swap(node->entries);
  if (over_budget()) close_fds(node);
}

void copier::finish_child(dir_node* node) {
  while (node && node->pending.fetch_sub(1, std::memory_order_acq_rel) == 1) {
    if (node->is_top) return;
    dir_node* parent = node->parent;
    finalize_dir(node);
    delete node;
    node = parent;
  }
}

// Owner, attributes, mode and times of a destination directory, after all its children.
void copier::finalize_dir(dir_node* node) {
  if (opt_.dry_run) {
    rep_.entry_done(node->parent, node->name, entry_kind::directory);
    node->pinned = false;
    return close_fds(node);
  }
  fs::unique_fd reopened;
  int dfd = node->dst_fd;
  if (dfd < 0) {
    int fd = fs::open_dir_beneath(dst_root_fd_, rel_path(node));
    if (fd < 0) {
      rep_.report(node->parent, node->name, true, operation::set_mode, -fd);
      return;
    }
    reopened.reset(fd);
    dfd = fd;
  }
  operation op{};
  int err = apply_fd_meta(node->parent, -1, dfd, node->st, &node->xattrs, op);
  // --update makes an existing directory's attributes equal: also drop those SRC's has not.
  if (!err && opt_.update && node->existed && node->xattrs_read) {
    err = fs::remove_other_xattrs(dfd, node->xattrs);
    if (err) op = operation::set_xattr;
  }
  if (err) rep_.report(node->parent, node->name, true, op, err);
  else rep_.entry_done(node->parent, node->name, entry_kind::directory);
  if (node == root_) {
    node->pinned = false;
    close_fds(node);
  } else {
    close_fds(node);
  }
}

}  // namespace treecopy::engine
