// treecopy-mpi's copy as a whole (distributed.hpp): the verdict on the request, the copy thread
// that runs units with the engine's copier, and the phases after the walk.
#include "distributed.hpp"

#include <fcntl.h>
#include <limits.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <map>
#include <memory>
#include <optional>
#include <system_error>
#include <thread>
#include <utility>

#include "engine/copier.hpp"
#include "engine/entry_copier.hpp"
#include "engine/ignore_rules.hpp"
#include "engine/reporter.hpp"
#include "engine/setup.hpp"
#include "fs/sys.hpp"
#include "plan/decide.hpp"
#include "plan/filter.hpp"
#include "serial.hpp"
#include "signals.hpp"

namespace treecopy_mpi {

namespace engine = treecopy::engine;
namespace fs = treecopy::fs;
using treecopy::copy_report;
using treecopy::entry_kind;

verdict_state& verdict() noexcept {
  static verdict_state v;
  return v;
}

std::string rank_state::join(const std::string& rel) const {
  if (prefix_.empty()) return rel;
  if (rel.empty()) return prefix_;
  return prefix_ + "/" + rel;
}

bool rank_state::hand_off(const std::string& rel) {
  if (keep_.load(std::memory_order_relaxed)) return false;
  std::string full = join(rel);
  if (full.size() > max_rel_) return false;  // deeper than a path can name: copied here
  std::lock_guard lock(mu);
  if (waiting.empty()) return false;
  outbox.push_back({waiting.front().rank, std::move(full)});
  waiting.pop_front();
  thieves_.fetch_sub(1, std::memory_order_relaxed);
  return true;
}

bool rank_state::hand_off_files(const std::string& rel, const engine::dir_node& node,
                                std::string&& names) {
  std::string full = join(rel);
  if (full.size() > max_rel_) return false;
  std::string unit = batch_unit(full, node, names);
  std::lock_guard lock(mu);
  if (!waiting.empty()) {
    outbox.push_back({waiting.front().rank, std::move(unit)});
    waiting.pop_front();
    thieves_.fetch_sub(1, std::memory_order_relaxed);
    return true;
  }
  if (idle.empty()) return false;
  outbox.push_back({idle.front(), std::move(unit), true});
  idle.pop_front();
  idle_count_.fetch_sub(1, std::memory_order_relaxed);
  return true;
}

void rank_state::forget_idle(int rank) {
  const auto it = std::find(idle.begin(), idle.end(), rank);
  if (it == idle.end()) return;
  idle.erase(it);
  idle_count_.fetch_sub(1, std::memory_order_relaxed);
}

std::string batch_unit(const std::string& rel, const engine::dir_node& node,
                       const std::string& names) {
  std::string unit;
  unit.reserve(rel.size() + 2 + names.size());
  unit += rel;
  unit += '\0';
  unit += static_cast<char>((node.existed ? 1 : 0) | (node.always_chmod ? 2 : 0));
  unit += names;
  return unit;
}

bool parse_batch_unit(const std::string& unit, std::string& rel,
                      engine::setup_result::listed_batch& batch) {
  const auto nul = unit.find('\0');
  if (nul == std::string::npos || nul + 1 >= unit.size()) return false;
  rel = unit.substr(0, nul);
  const auto flags = static_cast<unsigned char>(unit[nul + 1]);
  batch.existed = (flags & 1) != 0;
  batch.always_chmod = (flags & 2) != 0;
  for (std::size_t at = nul + 2; at < unit.size();) {
    const auto type = static_cast<std::uint8_t>(unit[at++]);
    const auto end = unit.find('\0', at);
    if (end == std::string::npos) break;
    batch.entries.push_back({static_cast<std::uint32_t>(batch.names.size()), type});
    batch.names.append(unit, at, end - at + 1);
    at = end + 1;
  }
  return true;
}

void rank_state::defer_dir(const std::string& rel, const engine::dir_node& node) {
  deferred_dir d;
  d.rel = join(rel);
  d.depth =
      d.rel.empty() ? 0 : 1 + static_cast<unsigned>(std::count(d.rel.begin(), d.rel.end(), '/'));
  d.st = node.st;
  d.xattrs = node.xattrs;
  d.xattrs_read = node.xattrs_read;
  d.existed = node.existed;
  d.parent_always_chmod = node.parent ? node.parent->always_chmod : true;
  std::lock_guard lock(mu);
  dirs.push_back(std::move(d));
}

void rank_state::link_name(dev_t dev, ino_t ino, const std::string& rel) {
  link_record r{static_cast<std::uint64_t>(dev), static_cast<std::uint64_t>(ino), join(rel)};
  std::lock_guard lock(mu);
  links.push_back(std::move(r));
}

bool rank_state::take_file(const std::string& rel, const struct stat& st, bool dir_always_chmod) {
  std::string full = join(rel);
  if (!may_chunk_ || full.size() > max_rel_) return false;
  std::lock_guard lock(mu);
  files.push_back({std::move(full), st, dir_always_chmod});
  return true;
}

void rank_state::read_progress(std::uint64_t out[progress_fields]) {
  std::lock_guard lock(mu);
  for (int i = 0; i < progress_fields; ++i) out[i] = done_counts[i];
  if (!live) return;
  const auto load = [](const auto& a) -> std::uint64_t {
    return a.load(std::memory_order_relaxed);
  };
  // What the unit counted twice is taken off only once it has counted it: the sums never go
  // back, nor below the truth.
  const std::uint64_t found = load(live->entries_found), done = load(live->entries_done);
  out[0] += found - std::min(found, live_twice[0]);
  out[1] += done - std::min(done, live_twice[1]);
  out[2] += load(live->bytes_found);
  out[3] += load(live->bytes_done);
  out[4] += load(live->errors);
  out[5] += load(live->skipped);
}

namespace {

// Runs c as this rank's current unit: its counters are read for progress while it runs. twice:
// how many entries it finds and copies that the rank that listed them counts too.
copy_report run_counted(engine::pair_run& c, rank_state& st, std::uint64_t found_twice = 0,
                        std::uint64_t done_twice = 0) {
  {
    std::lock_guard lock(st.mu);
    st.live = &c.counts();
    st.live_twice[0] = found_twice;
    st.live_twice[1] = done_twice;
  }
  copy_report r = c.run();
  std::uint64_t now[progress_fields];
  st.read_progress(now);
  std::lock_guard lock(st.mu);
  for (int i = 0; i < progress_fields; ++i) st.done_counts[i] = now[i];
  st.live = nullptr;
  return r;
}

int world_rank() {
  int r = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &r);
  return r;
}

int world_size() {
  int n = 1;
  MPI_Comm_size(MPI_COMM_WORLD, &n);
  return n;
}

std::string join_path(const std::string& base, const std::string& rel) {
  if (rel.empty()) return base;
  std::string out = base;
  while (out.size() > 1 && out.back() == '/') out.pop_back();
  return out + "/" + rel;
}

// Adds what one unit (or one phase) did to the rank's report.
void add_report(copy_report& into, copy_report&& r, std::size_t keep) {
  for (std::size_t k = 0; k < treecopy::entry_kind_count; ++k)
    into.copied.by_kind[k] += r.copied.by_kind[k];
  into.bytes_copied += r.bytes_copied;
  into.skipped += r.skipped;
  into.removed += r.removed;
  into.error_count += r.error_count;
  into.cancelled |= r.cancelled;
  for (auto& e : r.errors)
    if (into.errors.size() < keep) into.errors.push_back(std::move(e));
}

// Rank 0's observer for its units: errors and entries as they come; progress is the whole job's,
// not one unit's.
class unit_observer final : public treecopy::copy_observer {
 public:
  explicit unit_observer(treecopy::copy_observer* to) : to_(to) {}
  void on_error(const treecopy::entry_error& e) override { to_->on_error(e); }
  bool wants_entries() const override { return to_->wants_entries(); }
  void on_entry(entry_kind k, std::string_view p) override { to_->on_entry(k, p); }
  void on_remove(std::string_view p) override { to_->on_remove(p); }

 private:
  treecopy::copy_observer* to_;
};

struct job {
  std::string src, dst;
  treecopy::copy_options options;       // the caller's
  treecopy::copy_options unit_options;  // for units below SRC
  copy_report report;
  std::uint64_t units_run = 0, batches_run = 0;
  std::unique_ptr<unit_observer> observer;
  std::stop_token stop;
  fs::unique_fd src_root, dst_root;  // opened by the first unit of this rank (copy thread only)
  std::optional<engine::ignore_rules> src_rules;  // --gitignore: SRC's, read by the first unit
};

bool same_file(int a, int b) {
  struct stat sa {
  }, sb{};
  return !fs::stat(a, sa) && !fs::stat(b, sb) && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

// A unit is opened by path (prepare()), while the rank that listed it reached it from SRC's root
// following no symlink. Both must name the same directories, or one on the way was swapped since
// (for a symlink that leads out of SRC or DST, say): then the unit is refused, as the walker
// refuses a directory that moved. With -L symlinks are followed on purpose.
std::error_code unit_moved(job& j, const std::string& rel, const engine::setup_result& s) {
  const fs::follow links{j.unit_options.dereference == treecopy::symlink_mode::always};
  for (auto [root, path] : {std::pair{&j.src_root, &j.src}, std::pair{&j.dst_root, &j.dst}}) {
    if (*root) continue;
    fs::opened o = fs::open(AT_FDCWD, path->c_str(), O_RDONLY | O_DIRECTORY);
    if (!o) return o.error;
    *root = std::move(o.fd);
  }
  const auto slash = rel.rfind('/');
  const std::string parent = slash == std::string::npos ? std::string() : rel.substr(0, slash);
  fs::opened src = fs::open_beneath(j.src_root.get(), rel, links);
  if (!src) return src.error;
  fs::opened dst = fs::open_beneath(j.dst_root.get(), parent);
  if (!dst) return dst.error;
  if (!s.src_dir || !same_file(src.fd.get(), s.src_dir.get()) ||
      !same_file(dst.fd.get(), s.dst_parent.get()))
    return std::make_error_code(std::errc::no_such_file_or_directory);
  return {};
}

// A unit's starting point in the whole copy: its path from SRC and, with --gitignore, the rules
// the walk of SRC has for its directory's entries, read again here from the directories between
// (whose .gitignore files the walk read just before handing the unit off). own: the directory's own
// .gitignore too (a batch, whose directory the lister has listed).
void unit_rules(job& j, const std::string& rel, bool own, engine::setup_result& s) {
  s.unit_rel = rel;
  if (!j.options.gitignore) return;
  if (!j.src_rules) j.src_rules = engine::source_ignore_rules(j.src_root.get());
  engine::ignore_rules r;
  const bool follow = j.unit_options.dereference == treecopy::symlink_mode::always;
  if (std::error_code err =
          engine::unit_ignore_rules(*j.src_rules, j.src_root.get(), rel, own, follow, r))
    throw std::system_error(err, "directory moved");
  s.unit_ignores = std::move(r);
}

// A batch of a shared directory: a copy of SRC/rel into DST/rel, there already (made by the rank
// that listed it), of the batch's entries only, with the caller's policy.
engine::setup_result prepare_batch(job& j, const std::string& rel,
                                   engine::setup_result::listed_batch&& batch) {
  treecopy::copy_options into = j.unit_options;
  into.merge = true;
  into.delete_extraneous = false;
  engine::setup_result s = engine::prepare(join_path(j.src, rel), join_path(j.dst, rel), into);
  mode_t mask = 0;
  const int umask = fs::read_umask(mask) ? static_cast<int>(mask) : -1;
  s.policy =
      treecopy::plan::normalize(j.unit_options, {fs::effective_uid(), fs::effective_gid(), umask});
  s.batch = std::move(batch);
  return s;
}

// Runs one unit: a copy of SRC/rel to DST/rel with the engine's copier, hooked to this rank, or
// (batch) a batch of a shared directory's files. Throws when SRC/rel cannot be copied from.
void run_one(job& j, rank_state& st, const std::string& rel,
             engine::setup_result::listed_batch* batch, bool keep = false) {
  st.set_prefix(rel, keep);
  std::vector<engine::setup_result> setup;
  setup.push_back(
      batch ? prepare_batch(j, rel, std::move(*batch))
            : engine::prepare(join_path(j.src, rel), join_path(j.dst, rel), j.unit_options));
  if (std::error_code err = unit_moved(j, rel, setup.front()))
    throw std::system_error(err, "directory moved");
  unit_rules(j, rel, batch != nullptr, setup.front());
  engine::pair_run c(setup, j.unit_options, j.observer.get(), j.stop, &st);
  // The rank that listed the unit found its directory, and for a batch copied it too.
  add_report(j.report, run_counted(c, st, keep ? 2 : 1, batch ? 1 : 0), j.options.max_errors_kept);
}

// A directory this rank cannot open (no read permission): treecopy creates it empty, with its
// metadata, and reports it. So does this rank, which copies it as the one entry of a batch of its
// parent (created by the rank that listed it), and keeps it: the walker does the rest. So is a
// mount point under -x (made empty, without an error).
bool run_unreadable(job& j, rank_state& st, const std::string& rel) {
  const auto slash = rel.rfind('/');
  const std::string parent = slash == std::string::npos ? std::string() : rel.substr(0, slash);
  const std::string name = slash == std::string::npos ? rel : rel.substr(slash + 1);
  engine::setup_result::listed_batch batch;
  batch.existed = true;  // merging: it may be there
  batch.always_chmod = true;
  batch.entries.push_back({0, DT_DIR});
  batch.names.append(name).push_back('\0');
  try {
    run_one(j, st, parent, &batch, true);
    return true;
  } catch (const std::exception&) {
    return false;  // the parent went away too: the unit's own error is reported
  }
}

// -x: whether the unit SRC/rel is on another file system than SRC. The walker that listed it
// decided nothing yet (it hands a directory off before opening it); treecopy would copy it empty,
// with its metadata. The unit's own walk compares its entries with the unit's device, which is
// then SRC's: the same decisions.
bool other_file_system(job& j, const std::string& rel) {
  if (!j.src_root) {
    fs::opened o = fs::open(AT_FDCWD, j.src.c_str(), O_RDONLY | O_DIRECTORY);
    if (!o) return false;  // the unit fails as it would have
    j.src_root = std::move(o.fd);
  }
  struct stat root {
  }, unit{};
  return ::fstat(j.src_root.get(), &root) == 0 &&
         ::fstatat(j.src_root.get(), rel.c_str(), &unit, AT_SYMLINK_NOFOLLOW) == 0 &&
         S_ISDIR(unit.st_mode) && unit.st_dev != root.st_dev;
}

// Runs one unit (a directory or batch_unit()); a unit that cannot start is an entry error, as the
// walker reports a directory it cannot open.
void run_unit(job& j, rank_state& st, const std::string& unit) {
  std::string rel = unit;
  engine::setup_result::listed_batch batch;
  const bool is_batch = parse_batch_unit(unit, rel, batch);
  if (is_batch) ++j.batches_run;
  // A mount point under -x: copied as an entry of its parent, which the walker makes empty.
  if (!is_batch && !rel.empty() && j.options.one_file_system && other_file_system(j, rel) &&
      run_unreadable(j, st, rel))
    return;
  try {
    run_one(j, st, rel, is_batch ? &batch : nullptr);
  } catch (const std::exception& e) {
    // The directory went away or cannot be read since its parent was listed: an entry error.
    const auto* se = dynamic_cast<const std::system_error*>(&e);
    const std::error_code code = se ? se->code() : std::make_error_code(std::errc::io_error);
    if (!is_batch && !rel.empty() && !j.options.dry_run && code == std::errc::permission_denied &&
        run_unreadable(j, st, rel))
      return;
    treecopy::entry_error err{join_path(j.src, rel), treecopy::operation::open_source, code,
                              treecopy::entry_side::source};
    if (j.observer) j.observer->on_error(err);
    ++j.report.error_count;
    if (j.report.errors.size() < j.options.max_errors_kept) j.report.errors.push_back(err);
    // A directory was found by the rank that listed it; done here, with an error, as the walker
    // counts one it cannot open.
    std::lock_guard lock(st.mu);
    if (!is_batch) ++st.done_counts[1];
    ++st.done_counts[4];
  }
}

// The copy thread: runs units until the walk is over. The first unit of rank 0 (SRC itself) is
// a copier built before the verdict was sent.
void copy_thread(job& j, rank_state& st, engine::pair_run* first) {
  if (first) {
    st.set_prefix({});
    try {
      add_report(j.report, run_counted(*first, st), j.options.max_errors_kept);
    } catch (const std::exception& e) {
      // What the copy as a whole needed failed (a thread, memory): counted as an error of SRC;
      // the other ranks finish theirs.
      const auto* se = dynamic_cast<const std::system_error*>(&e);
      ++j.report.error_count;
      j.report.errors.push_back({j.src, treecopy::operation::open_source,
                                 se ? se->code() : std::make_error_code(std::errc::io_error),
                                 treecopy::entry_side::source});
      if (j.observer) j.observer->on_error(j.report.errors.back());
    }
    std::lock_guard lock(st.mu);
    st.busy = false;
  }
  for (;;) {
    std::string rel;
    {
      std::unique_lock lock(st.mu);
      st.cv.wait(lock, [&] { return st.quit || !st.queue.empty(); });
      if (st.queue.empty()) return;
      rel = std::move(st.queue.back());
      st.queue.pop_back();
      st.busy = true;
    }
    run_unit(j, st, rel);
    ++j.units_run;
    std::lock_guard lock(st.mu);
    st.busy = false;
  }
}

}  // namespace

// Phases after the walk (chunks.cpp, phases.cpp).
void copy_large_files(const std::string& src, const std::string& dst,
                      const treecopy::copy_options& options, const std::vector<large_file>& mine,
                      copy_report& report, message_stats& stats, bool stopping,
                      treecopy::copy_observer* observer, std::uint64_t after_walk[progress_fields]);
void relink_groups(const std::string& dst, std::vector<link_record> local, copy_report& report,
                   message_stats& stats);
void apply_dir_meta(const std::string& src, const std::string& dst,
                    const treecopy::copy_options& options, std::vector<deferred_dir>& dirs,
                    copy_report& report, treecopy::copy_observer* observer);
void gather_entries(treecopy::copy_observer* observer);
copy_report gather_reports(copy_report local, std::size_t told, treecopy::copy_observer* observer);

copy_report distributed_copy(const std::string& src, const std::string& dst,
                             const treecopy::copy_options& options,
                             treecopy::copy_observer* observer, std::stop_token stop,
                             message_stats& stats) {
  const auto start = std::chrono::steady_clock::now();
  const int rank = world_rank();
  job j;
  j.src = src;
  j.dst = dst;
  j.options = options;
  j.unit_options = options;
  j.unit_options.dereference = options.dereference == treecopy::symlink_mode::command_line
                                   ? treecopy::symlink_mode::never
                                   : options.dereference;
  if (observer) j.observer = std::make_unique<unit_observer>(observer);
  const std::size_t longest = std::max(src.size(), dst.size()) + 256;
  rank_state st(world_size() > 1, world_size() > 1 && !options.dry_run, !options.dry_run,
                longest < PATH_MAX ? PATH_MAX - longest : 0);
  // A stop asked here (a signal) stops this rank's units and, through the walk's messages, every
  // other rank's.
  std::stop_callback forward_stop(stop, [&st] { st.job_stop.request_stop(); });
  j.stop = st.job_stop.get_token();

  // Rank 0 checks the request (and opens SRC and DST's parent); every rank learns the verdict
  // before anything is created.
  std::vector<engine::setup_result> setup;
  std::unique_ptr<engine::pair_run> first;
  int code = 0;
  if (rank == 0) {
    try {
      // Both name paths from the root of SRC (--files-from) or of DST (--link-dest), which a
      // unit, a copy of SRC/rel to DST/rel, does not know.
      if (!options.files_from.empty() || !options.link_dest.empty())
        throw treecopy::setup_error({}, std::make_error_code(std::errc::not_supported),
                                    "--files-from and --link-dest are not supported by "
                                    "treecopy-mpi; use treecopy");
      setup.push_back(engine::prepare(src, dst, options));
      first = std::make_unique<engine::pair_run>(setup, options, j.observer.get(), j.stop, &st);
    } catch (const treecopy::plan::filter_error& e) {
      code = 2;
      verdict() = {true, code};
      MPI_Bcast(&code, 1, MPI_INT, 0, MPI_COMM_WORLD);
      throw treecopy::setup_error({}, std::make_error_code(std::errc::invalid_argument), e.what());
    } catch (...) {
      code = 2;
      verdict() = {true, code};
      MPI_Bcast(&code, 1, MPI_INT, 0, MPI_COMM_WORLD);
      throw;
    }
    verdict() = {true, 0};
  }
  MPI_Bcast(&code, 1, MPI_INT, 0, MPI_COMM_WORLD);
  verdict() = {true, code};
  if (code != 0)
    throw treecopy::setup_error(dst, std::make_error_code(std::errc::invalid_argument),
                                "refused by rank 0");

  MPI_Comm walk_comm;
  MPI_Comm_dup(MPI_COMM_WORLD, &walk_comm);
  if (first) st.busy = true;
  std::thread worker([&] { copy_thread(j, st, first.get()); });
  run_walk(st, walk_comm, stats, observer,
           std::max(0.1, static_cast<double>(options.progress_interval.count()) / 1000.0));
  {
    std::lock_guard lock(st.mu);
    st.quit = true;
  }
  st.cv.notify_all();
  worker.join();
  stats.units_run = j.units_run + (first ? 1 : 0);
  stats.batches_run = j.batches_run;
  first.reset();
  MPI_Comm_free(&walk_comm);

  const std::size_t told = j.report.errors.size();
  std::uint64_t after_walk[progress_fields] = {};
  if (!options.dry_run) {
    copy_large_files(src, dst, options, st.files, j.report, stats, st.job_stop.stop_requested(),
                     observer, after_walk);
    relink_groups(dst, std::move(st.links), j.report, stats);
    apply_dir_meta(src, dst, options, st.dirs, j.report, observer);
  }
  final_progress(st, after_walk, observer, std::chrono::steady_clock::now() - start);
  gather_entries(observer);
  j.report.cancelled |= st.job_stop.stop_requested();
  // A signal that stopped another rank is the job's, as if rank 0 had received it (its exit
  // status and summary are treecopy's for that signal).
  if (rank == 0 && st.remote_signal.load() != 0)
    treecopy_cli::signal_stopper::note_remote(st.remote_signal.load());
  copy_report total = gather_reports(std::move(j.report), told, observer);
  total.elapsed = std::chrono::steady_clock::now() - start;
  return total;
}

}  // namespace treecopy_mpi
