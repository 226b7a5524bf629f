// The walker: directory tasks that list a directory and spawn tasks for its subdirectories and
// batches of its other entries, the descriptor budget, and post-order finalization of directory
// metadata (the last child to finish finalizes its parent). Written against the scheduler
// interface (scheduler.hpp): nothing here knows oneTBB.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>
#include <new>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "engine/copier.hpp"
#include "engine/limits.hpp"
#include "engine/listing_hook.hpp"

namespace treecopy::engine {

// Descriptors: SRC's and DST's roots stay open for the whole copy. A worker holds the pair of the
// directory it lists and a file pair (or a parent reopened by path and the pair it opens, or a
// source file and a hard link's target directory): 4. With several workers, each may also keep a
// pair open past the budget (they check it at the same time), and names of a hard-linked file
// being copied keep their directories open while they wait: 6 each, and 4 spare. A large file
// waiting for a stream holds its pair and its directory's. What the soft limit leaves after the
// descriptors already open goes to directories kept open between their listing and their
// finalization. When the limit cannot hold every worker, fewer run, down to one; below what one
// needs, the copy does not start (and creates nothing).
// Several pairs: each keeps its roots' pair open for the whole copy, and its own queue of large
// files gets an equal share of the queue's descriptors.
void plan_descriptors(shared_run& run, std::size_t pairs, const std::string& dst_display) {
  constexpr long alone = 4, per_worker = 6, waiters = 4;
  const long roots = static_cast<long>(std::max<std::size_t>(pairs, 1));
  long limit = descriptor_limit();
  if (limit < 0) limit = 1L << 20;
  long open_now = open_descriptors(limit);
  if (open_now < 0) open_now = 16;  // no /proc: a guess at what a process usually has open
  const long avail = limit - open_now - roots;  // DST's roots are opened once the copy starts
  if (avail < alone) {
    throw setup_error(dst_display, std::make_error_code(std::errc::too_many_files_open),
                      "too few file descriptors: the limit (ulimit -n) is " +
                          std::to_string(limit) + " and " + std::to_string(open_now) +
                          " are open already; a copy needs " +
                          std::to_string(open_now + roots + alone) + " at least");
  }
  const long fit = (avail - waiters) / per_worker;
  run.jobs = fit >= 2 ? static_cast<unsigned>(std::min<long>(run.jobs, fit)) : 1u;
  long spare = avail - (run.jobs == 1 ? alone : per_worker * static_cast<long>(run.jobs) + waiters);
  run.stream_cap = std::clamp(scheduler_cores(), 1u, run.jobs);
  const std::size_t big_queue_cap =
      std::min<std::size_t>(4 * std::size_t{run.stream_cap}, static_cast<std::size_t>(spare / 8));
  run.big_queue_cap = big_queue_cap / static_cast<std::size_t>(roots);
  spare -= 4 * static_cast<long>(run.big_queue_cap) * roots;
  spare -= std::min(24L, spare / 4);  // for descriptors the caller opens meanwhile
  // Small-file batches: each worker's ring and its files open on both sides, from half of what
  // is left (the directories keep the rest); none when too few would fit.
  const long jobs = static_cast<long>(run.jobs);
  const long batch_files = std::min<long>(small_batch_max, (spare / 2 / jobs - 1) / 2);
  const bool batches = batch_files > 0 && !run.threads_scarce && !address_space_small();
  run.batches =
      std::make_unique<small_batches>(batches ? static_cast<unsigned>(batch_files) : 0u, run.jobs);
  if (run.batches->files() != 0) spare -= jobs * (1 + 2 * batch_files);
  // + 2 a pair: the pair of SRC's and DST's roots counts among the open directories.
  run.dir_fd_budget = static_cast<int>(std::clamp(spare, 0L, 4096L) + 2 * roots);
}

bool copier::over_budget() const noexcept {
  return run_.open_dir_fds.load(std::memory_order_relaxed) > run_.dir_fd_budget;
}

void copier::add_work(dir_node* node, std::int64_t n) {
  node->pending.fetch_add(n, std::memory_order_relaxed);
}

// SRC's directory and DST's, opened (DST made) and DST published to the other pairs; the walk
// of them is run_root()'s. With several pairs every pair does this before any pair's walk starts.
void copier::open_root() {
  if (!setup_.src_dir || root_) return;
  root_ = new dir_node;
  root_->parent = &top_;
  root_->name = setup_.src_name;
  if (opt_.gitignore)
    root_->ignores =
        setup_.unit_ignores ? *setup_.unit_ignores : source_ignore_rules(setup_.src_dir.get());
  top_.pending.fetch_add(1, std::memory_order_relaxed);
  rep_.count().entries_found.fetch_add(1, std::memory_order_relaxed);
  rep_.count().dirs_unlisted.fetch_add(1, std::memory_order_relaxed);
  root_opened_ = open_node(root_, true);
}

void copier::run_root() {
  if (root_ || setup_.src_dir) {  // open_root() takes src_dir
    open_root();                  // unless done before the walks started
    return list_node(root_, true, root_opened_);
  }
  rep_.count().entries_found.fetch_add(1, std::memory_order_relaxed);
  std::uint8_t dtype = S_ISREG(setup_.src_st.st_mode) ? DT_REG : DT_UNKNOWN;
  entries_.copy({&top_, setup_.src_name.c_str(), dtype});
}

// A task for subdirectory name of node. via_parent: it opens itself through node's descriptors,
// which stay open for it; otherwise it reopens its parent by path.
void copier::spawn_child(dir_node* node, const char* name, bool via_parent) {
  auto* child = new dir_node;
  child->parent = node;
  child->name = name;
  // Until its listing shows a .gitignore of its own, a directory has its parent's rules; inside
  // .git none apply (git never looks there).
  if (node->ignores.scope) child->ignores = child_rules(node->ignores, child->name);
  add_work(node, 1);
  if (via_parent) node->users.fetch_add(1, std::memory_order_relaxed);
  try {
    spawn_dir(child, via_parent);
  } catch (...) {
    // No task (no memory): the counts taken for it are given back, or node would never be
    // finished; the caller reports the failure.
    delete child;
    if (via_parent) node->users.fetch_sub(1, std::memory_order_relaxed);
    add_work(node, -1);
    throw;
  }
}

void copier::spawn_dir(dir_node* node, bool via_parent) {
  rep_.count().dirs_unlisted.fetch_add(1, std::memory_order_relaxed);
  try {
    run_.sched->spawn([this, node, via_parent] { process_dir(node, via_parent); });
  } catch (...) {
    rep_.count().dirs_unlisted.fetch_sub(1, std::memory_order_relaxed);
    throw;
  }
}

void copier::process_dir(dir_node* node, bool via_parent) {
  list_node(node, via_parent, open_node(node, via_parent));
}

// Opens node's source directory and creates and opens its destination; DST's root is published
// to the other pairs there. Returns whether both are open.
bool copier::open_node(dir_node* node, bool via_parent) {
  bool opened = false;
  // A distributed copy: a directory not started yet goes to a process that asks for work, which
  // creates and copies it; here it is done as one that could not be opened, without an error.
  const bool handed = hook_ && node != root_ && hook_->wants_dir() && !stopping() &&
                      hook_->hand_off(rel_path(node));
  if (!handed && !stopping()) {
    try {
      opened = open_dir_pair(node, via_parent);
    } catch (const std::bad_alloc&) {
      rep_.report(node->parent, node->name, false, operation::open_source, fs::errno_code(ENOMEM));
    }
  }
  if (node == root_ && opened) {
    src_root_fd_ = node->src_fd;
    dst_root_fd_ = node->dst_fd;
    entries_.where().dst_fd = node->dst_fd;
    node->pinned = true;
    if (pol_.update && node->existed && node->dst_fd >= 0)
      entries_.detect_time_granularity(node->dst_fd);
  }
  return opened;
}

// The rest of a directory's task once open_node() is done: lists it and schedules its entries.
void copier::list_node(dir_node* node, bool via_parent, bool opened) {
  if (via_parent) release_users(node->parent);
  if (!opened) {
    rep_.count().dirs_unlisted.fetch_sub(1, std::memory_order_relaxed);
    dir_node* parent = node->parent;
    delete node;
    finish_child(parent);
    return;
  }
  rep_.count().entries_done.fetch_add(1, std::memory_order_relaxed);
  const bool batch = node == root_ && setup_.batch;
  if (batch) {
    node->names = std::move(setup_.batch->names);
    node->entries = std::move(setup_.batch->entries);
  } else if (!node->no_descend) {
    if (std::error_code err = fs::read_dir(node->src_fd, node->names, node->entries))
      rep_.report(node, {}, false, operation::read_dir, err);
  }
  rep_.count().entries_found.fetch_add(node->entries.size(), std::memory_order_relaxed);
  rep_.count().dirs_unlisted.fetch_sub(1, std::memory_order_relaxed);
  try {
    // A batch's rules are its lister's, its directory's own included (setup_result).
    if (node->ignores.scope && !batch) read_ignore_rules(node);
    if (plan::deletes_in(pol_, node->existed) && !batch && !stopping())
      entries_.delete_extraneous(node);
    schedule_children(node);
  } catch (const std::bad_alloc&) {
    rep_.report(node, {}, false, operation::read_dir, fs::errno_code(ENOMEM));
  }
  release_users(node);
  finish_child(node);
}

// Subdirectories first, then batches of the other entries: a worker pops its newest task first, so
// it finishes this directory's files (and can close its descriptors) before it descends, while idle
// workers steal the oldest tasks, the subdirectories, and so spread out across the tree.
void copier::schedule_children(dir_node* node) {
  auto& ents = node->entries;
  if (opt_.on_listing) rep_.skipped(apply_listing_hook(opt_.on_listing, *node, rel_path(node)));
  if (!filter_.empty() || node->ignores.scope) {
    const std::string rel_dir = filter_.needs_path() ? entries_.filter_dir(node) : std::string();
    auto kept = std::remove_if(ents.begin(), ents.end(), [&](fs::dir_entry& e) {
      return entries_.excluded(node, rel_dir, node->names.c_str() + e.name_offset, e.type);
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
  for (auto it = first_dir; it != ents.end(); ++it) {
    const char* name = node->names.c_str() + it->name_offset;
    try {
      spawn_child(node, name, !over_budget());
    } catch (const std::bad_alloc&) {
      rep_.report(node, name, false, operation::open_source, fs::errno_code(ENOMEM));
    }
  }
  if (nfiles == 0) return;
  // A distributed copy may share a huge directory's batches with other processes.
  const std::uint32_t slice = hook_ ? hook_->file_slice(nfiles) : 0;
  // Where small files go in batches, a batch task holds a whole one (a ring's round costs about as
  // much for a few files as for dozens).
  const std::uint32_t least = run_.batches->files() ? run_.batches->files() : 8;
  const std::uint32_t per =
      slice ? slice : std::clamp<std::uint32_t>(nfiles / (jobs_ * 4), std::min(least, 128u), 128);
  // A few entries are done right here; so are all of them when too many directories are open
  // already, rather than queue work that would keep this directory's descriptors open.
  if (nfiles <= per || over_budget()) return copy_entries(node, 0, nfiles);
  for (std::uint32_t b = 0; b < nfiles; b += per) {
    std::uint32_t e = std::min(nfiles, b + per);
    add_work(node, 1);
    node->users.fetch_add(1, std::memory_order_relaxed);
    try {
      run_.sched->spawn([this, node, b, e, slice] { run_batch(node, b, e, slice != 0); });
    } catch (const std::bad_alloc&) {
      // No task for this batch: the counts taken for it are given back, and this worker copies
      // the rest itself (a batch needs no memory of its own).
      node->users.fetch_sub(1, std::memory_order_relaxed);
      add_work(node, -1);
      return copy_entries(node, b, nfiles);
    }
  }
}

// --gitignore: a listing that shows a .gitignore gives the directory rules of its own, below its
// parent's; one that shows .git (below SRC) may be a nested repository, whose rules start afresh
// (git does not look into it from the enclosing repository). Found in the listing: a directory
// without them costs no system call. A .gitignore that cannot be read is reported and counts as
// empty (git warns and goes on); a symlink is not followed, as git does not.
void copier::read_ignore_rules(dir_node* node) {
  const fs::dir_entry* gitignore = nullptr;
  bool has_git = false;
  for (const fs::dir_entry& e : node->entries) {
    const char* name = node->names.c_str() + e.name_offset;
    if (name[0] != '.' || name[1] != 'g') continue;
    if (std::strcmp(name, ".gitignore") == 0) gitignore = &e;
    // SRC's own .git was found with the rules above it; a unit's root is a subdirectory.
    if (std::strcmp(name, ".git") == 0) has_git = node != root_ || !setup_.unit_rel.empty();
  }
  if (!gitignore && !has_git) return;
  std::string text;
  if (gitignore && gitignore->type != DT_DIR) {
    if (std::error_code err = read_ignore_file(node->src_fd, ".gitignore", text))
      rep_.report(node, ".gitignore", false, operation::read, err);
  }
  add_own_rules(node->ignores, node->src_fd, text, has_git);
}

namespace {

// The entries a worker is going through (copy_entries()), so that large_file_ahead(), called by
// the entry copier's copy_regular() several calls down, can hand the rest of them to other workers.
// Thread-local rather than passed down: every path to copy_regular() (plain, --merge, --update,
// hard-link waiters) would need it, and only the entry the loop is at may use it (armed).
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

// Takes a run's small-file batch for the length of a copy_entries(), and gives it back.
class batch_lease {
 public:
  explicit batch_lease(small_batches& from) noexcept : from_(from) {}
  ~batch_lease() {
    if (b_) from_.give(b_);
  }
  batch_lease(const batch_lease&) = delete;
  batch_lease& operator=(const batch_lease&) = delete;
  small_batch* get() noexcept {
    if (!b_ && !refused_) refused_ = (b_ = from_.take()) == nullptr;
    return b_;
  }

 private:
  small_batches& from_;
  small_batch* b_ = nullptr;
  bool refused_ = false;
};

}  // namespace

// Runs of small regular files go in batches (small_files.hpp): each batch's entries are moved to
// the front of what is left, those it copied skipped, the rest copied one by one as usual (a large
// file among them then hands what follows it to other workers: never an entry the batch took).
void copier::copy_entries(dir_node* node, std::uint32_t begin, std::uint32_t end) {
  entry_cursor cursor{this, node, begin, end, false};
  cursor_scope scope(&cursor);
  const unsigned batch_files = run_.batches->files();
  // Not before the copy is large enough to start the workers: a ring and its kernel threads
  // cost more than a few files save.
  const bool batches = batch_files != 0 && end - begin >= small_batch_min && run_.sched->started();
  batch_lease lease(*run_.batches);
  std::uint32_t batched_until = begin;  // entries before this went through a batch
  while (cursor.next < cursor.end) {
    if (stopping()) {
      rep_.count().entries_done.fetch_add(cursor.end - cursor.next, std::memory_order_relaxed);
      break;
    }
    // (Asked again at each batch: the first file copied tells whether the file systems clone.)
    if (batches && cursor.next >= batched_until && cursor.end - cursor.next >= small_batch_min &&
        entries_.batches_files(node)) {
      if (small_batch* b = lease.get()) {
        const auto n =
            static_cast<unsigned>(std::min<std::uint32_t>(batch_files, cursor.end - cursor.next));
        fs::dir_entry* first = node->entries.data() + cursor.next;
        const std::uint64_t taken = entries_.copy_small_files(node, first, n, *b);
        // The copied ones first (passed over), then the rest of the batch, in order.
        fs::dir_entry was[small_batch_max];
        std::copy(first, first + n, was);
        fs::dir_entry* to = first;
        for (unsigned i = 0; i < n; ++i)
          if ((taken >> i) & 1) *to++ = was[i];
        for (unsigned i = 0; i < n; ++i)
          if (!((taken >> i) & 1)) *to++ = was[i];
        batched_until = cursor.next + n;
        cursor.next += static_cast<std::uint32_t>(std::popcount(taken));
        continue;
      }
    }
    const auto& e = node->entries[cursor.next++];
    armed_while_copying armed(cursor);
    entries_.copy({node, node->names.c_str() + e.name_offset, e.type});
  }
}

// A file of a few MiB takes milliseconds, hundreds of small files' worth: the worker that meets
// one spawns the entries after it as a batch of their own before copying it, so that idle
// workers take them (and the other large files among them) instead of waiting for this one. File
// sizes are known only once a file is open, so this is how the largest work starts early without
// a stat per entry at listing time.
void copier::large_file_ahead(dir_node* node) {
  run_.sched->found_work();  // workers and progress, before this file's copy
  entry_cursor* c = current_entries;
  if (!c || !c->armed || c->owner != this || c->node != node) return;
  c->armed = false;
  if (c->next >= c->end) return;
  const std::uint32_t b = c->next, e = c->end;
  add_work(node, 1);
  node->users.fetch_add(1, std::memory_order_relaxed);
  try {
    run_.sched->spawn([this, node, b, e] { run_batch(node, b, e); });
  } catch (const std::bad_alloc&) {
    // No task: this worker keeps the entries. The batch it is in still counts as pending and as
    // a user of the listing, so neither count reaches zero here.
    add_work(node, -1);
    node->users.fetch_sub(1, std::memory_order_relaxed);
    return;
  }
  c->end = b;
}

void copier::run_batch(dir_node* node, std::uint32_t begin, std::uint32_t end, bool shared) {
  if (!shared || !hand_off_batch(node, begin, end)) copy_entries(node, begin, end);
  release_users(node);
  finish_child(node);
}

// A batch of a directory shared with other processes (walk_hook::file_slice()) goes to one that
// asks for work, which copies it (a unit of its own), unless one of its entries may be a directory
// (one of unknown type: it would be listed and copied there, not here).
bool copier::hand_off_batch(dir_node* node, std::uint32_t begin, std::uint32_t end) {
  if (stopping() || !hook_->wants_dir()) return false;
  std::string names;
  for (std::uint32_t i = begin; i < end; ++i) {
    const fs::dir_entry& e = node->entries[i];
    if (e.type == DT_UNKNOWN || e.type == DT_DIR) return false;
    names += static_cast<char>(e.type);
    names += node->names.c_str() + e.name_offset;
    names += '\0';
  }
  if (!hook_->hand_off_files(rel_path(node), *node, std::move(names))) return false;
  // The taker finds and copies them: no longer this process's.
  rep_.count().entries_found.fetch_sub(end - begin, std::memory_order_relaxed);
  return true;
}

void copier::close_fds(dir_node* node) {
  if (node->pinned || node->src_fd < 0) return;
  (void)fs::close(node->src_fd);
  if (node->dst_fd >= 0) (void)fs::close(node->dst_fd);
  node->src_fd = node->dst_fd = -1;
  run_.open_dir_fds.fetch_sub(2, std::memory_order_relaxed);
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
  if (node == root_ && setup_.batch) {
    // A batch: the directory and its metadata are the lister's.
    node->pinned = false;
    return close_fds(node);
  }
  if (hook_) {
    // Other processes may still write into it: the hook applies its metadata after them all.
    hook_->defer_dir(rel_path(node), *node);
    node->pinned = false;
    return close_fds(node);
  }
  fs::unique_fd reopened;
  int dfd = node->dst_fd;
  if (dfd < 0) {
    fs::opened o = fs::open_beneath(dst_root_fd_, rel_path(node));
    if (!o) {
      rep_.report(node->parent, node->name, true, operation::set_mode, o.error);
      return;
    }
    reopened = std::move(o.fd);
    dfd = reopened.get();
  }
  operation op{};
  if (std::error_code err = entries_.finish_dir_meta(node, dfd, op))
    rep_.report(node->parent, node->name, true, op, err);
  else
    rep_.entry_done(node->parent, node->name, entry_kind::directory);
  if (node == root_) {
    node->pinned = false;
    if (run_.pairs > 1 && node->dst_fd >= 0) {
      kept_dst_root_.reset(node->dst_fd);  // other pairs may still link to files beneath it
      node->dst_fd = -1;
    }
    close_fds(node);
  } else {
    close_fds(node);
  }
}

// Listed without a type (DT_UNKNOWN), or met by a dry run: a directory after all. Its parent's
// descriptors stay open for it.
void copier::descend(dir_node* node, const char* name) { spawn_child(node, name, true); }

bool copier::take_large_file(dir_node* node, const char* name, fs::unique_fd& sfd,
                             fs::unique_fd& dfd, const struct stat& st, bool first_link) {
  // A distributed copy spreads the chunks over its processes (a hard link's first name stays
  // here: its other names wait for it).
  if (hook_ && !first_link && !node->is_top) {
    const std::string rel = rel_path(node);
    if (hook_->take_file(rel.empty() ? std::string(name) : rel + "/" + name, st,
                         node->always_chmod)) {
      if (std::error_code err = fs::truncate(dfd.get(), st.st_size)) {
        rep_.report(node, name, true, operation::write, err);
        (void)fs::unlink_at(node->dst_fd, name);
      }
      sfd.reset();
      dfd.reset();
      return true;
    }
  }
  return streams_.start(*run_.sched, node, name, sfd, dfd, st, first_link);
}

void copier::waiter_done(dir_node* node) {
  release_users(node);
  finish_child(node);
}

void copier::big_file_done(big_file& f) {
  dir_node* node = f.node;
  entries_.finish_large_file(f);
  release_users(node);
  finish_child(node);
}

fs::copy_control copier::data_control(const dir_node* node, const struct stat& st) noexcept {
  return entries_.data_control(node, st);
}

}  // namespace treecopy::engine
