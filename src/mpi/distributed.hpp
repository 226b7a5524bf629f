// treecopy-mpi's copy: one tree copied by every rank of MPI_COMM_WORLD with the engine of
// treecopy. Directories are the units of work (a rank copies a subtree with its own copier, and
// hands subdirectories it has not started to ranks that ask), a token ring detects the end of the
// walk, and two global phases follow it: hard-link names met by different ranks are made links
// again, then directory metadata is applied deepest level first. See docs/scale-out.md.
#pragma once

#include <mpi.h>
#include <sys/stat.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <stop_token>
#include <string>
#include <vector>

#include "engine/context.hpp"
#include "engine/setup.hpp"
#include "engine/walk_hook.hpp"
#include "treecopy/treecopy.hpp"

namespace treecopy_mpi {

/// Message counts of one rank, printed at the end when TREECOPY_MPI_STATS is set.
struct message_stats {
  std::uint64_t sent = 0, bytes = 0, units_run = 0, units_given = 0;
  std::uint64_t chunks = 0;                          ///< chunks of large files this rank copied
  std::uint64_t batches_given = 0, batches_run = 0;  ///< batches of shared directories' files
  std::uint64_t link_bytes = 0;  ///< bytes of hard-link names this rank sent to their owners
  double link_seconds = 0;       ///< this rank's time in the hard-link phase
};

/// A directory whose listing holds more files (entries other than directories) than this is
/// shared: batches of its files go to ranks that ask for work, as subdirectories do. One rank
/// copies fewer in a fraction of a second (tens of microseconds a file), where another rank's
/// unit (a request, a copier and its pool, the directory reopened by path) would gain little.
inline constexpr std::size_t shared_dir_files = 4096;
/// Files in one batch of a shared directory: a message of some 10-30 KB (names and a type byte
/// each) and tens of milliseconds of copying, worth a unit on the rank that takes it.
inline constexpr std::uint32_t shared_batch_files = 1024;

/// Progress counters a rank sends: entries found, entries done, bytes found, bytes done, errors,
/// skipped.
inline constexpr int progress_fields = 6;

/// A directory whose metadata waits for the directory phase (relative to DST's root).
struct deferred_dir {
  std::string rel;
  unsigned depth = 0;
  struct stat st {};
  treecopy::fs::xattr_list xattrs;
  bool xattrs_read = false;
  bool existed = false;
  bool parent_always_chmod = true;
};

/// A large file whose chunks every rank copies after the walk; its owner (the rank that met it)
/// applies its metadata once all are written.
struct large_file {
  std::string rel;
  struct stat st {};
  bool dir_always_chmod = true;
};

/// One name of a file with several links: its source (dev, ino) and path from DST's root.
struct link_record {
  std::uint64_t dev = 0, ino = 0;
  std::string rel;
};

/// What the walker hands this rank (treecopy::engine::walk_hook), and the rank's queue of units.
/// The copy thread runs the units; the MPI thread (the only one that calls MPI) serves thieves.
class rank_state final : public treecopy::engine::walk_hook {
 public:
  /// max_rel: the longest path from SRC a unit may have (it is opened by path, SRC/rel).
  /// may_chunk: large files are spread over the ranks.
  /// may_share: batches of huge directories' files are handed off too (not in a dry run, where
  /// the directory is not created for the taker to copy into).
  rank_state(bool may_hand_off, bool may_chunk, bool may_share, std::size_t max_rel)
      : may_hand_off_(may_hand_off),
        may_chunk_(may_chunk),
        may_share_(may_hand_off && may_share),
        max_rel_(max_rel) {}

  bool wants_dir() const noexcept override {
    return may_hand_off_ && (thieves_.load(std::memory_order_relaxed) > 0 ||
                             (may_share_ && idle_count_.load(std::memory_order_relaxed) > 0));
  }
  bool hand_off(const std::string& rel) override;
  std::uint32_t file_slice(std::size_t files) const noexcept override {
    return may_share_ && files > shared_dir_files ? shared_batch_files : 0;
  }
  bool hand_off_files(const std::string& rel, const treecopy::engine::dir_node& node,
                      std::string&& names) override;
  void defer_dir(const std::string& rel, const treecopy::engine::dir_node& node) override;
  void link_name(dev_t dev, ino_t ino, const std::string& rel) override;
  bool take_file(const std::string& rel, const struct stat& st, bool dir_always_chmod) override;

  /// The unit the copy thread runs now: its path prefixes what the walker reports. keep: none of
  /// its subdirectories is handed off (a unit that copies one directory its rank could not open).
  void set_prefix(std::string prefix, bool keep = false) {
    prefix_ = std::move(prefix);
    keep_.store(keep, std::memory_order_relaxed);
  }

  std::mutex mu;
  std::condition_variable cv;
  /// Units not started: relative paths from SRC, or batches of a shared directory (batch_unit).
  std::deque<std::string> queue;
  bool busy = false;  ///< the copy thread runs a unit
  bool quit = false;  ///< the walk is over: the copy thread returns
  struct thief {
    int rank;
    double since;
  };
  std::deque<thief> waiting;  ///< ranks that asked for work and wait for an answer
  /// Ranks this one told it had no work for them (and that have not asked again): a batch of a
  /// shared directory is pushed to them when no rank waits, so that a lister whose batches start
  /// while nobody happens to wait does not keep most of its directory.
  std::deque<int> idle;
  std::atomic<int> idle_count_{0};
  /// Notes that rank asked again (it waits now), or got a unit: no longer idle as far as known.
  void forget_idle(int rank);
  struct gift {
    int rank;
    std::string rel;
    bool pushed = false;  ///< not an answer to a request: a batch pushed to an idle rank
  };
  std::vector<gift> outbox;  ///< units handed off, for the MPI thread to send
  std::atomic<int> thieves_{0};
  /// Stops this rank's units: a signal here, or a stop message from another rank.
  std::stop_source job_stop;
  /// The signal (SIGINT, SIGTERM) that stopped another rank, told with its stop message, or 0.
  std::atomic<int> remote_signal{0};

  /// Progress: the counters of the unit running (guarded by mu: the unit is not destroyed
  /// while it is read) and the sums of the units done.
  const treecopy::engine::counters* live = nullptr;
  /// What the running unit counts twice, found and done, once it has counted it: the directory
  /// it starts from, which the rank that listed it found (and, for a batch, already copied).
  std::uint64_t live_twice[2] = {};
  std::uint64_t done_counts[progress_fields] = {};
  /// This rank's counters now, under mu.
  void read_progress(std::uint64_t out[progress_fields]);

  std::vector<deferred_dir> dirs;
  std::vector<link_record> links;
  std::vector<large_file> files;

 private:
  std::string join(const std::string& rel) const;
  bool may_hand_off_;
  bool may_chunk_;
  bool may_share_;
  std::size_t max_rel_;
  std::string prefix_;
  std::atomic<bool> keep_{false};
};

/// A batch of a shared directory as one unit (one work message): the directory's path from SRC, a
/// NUL, a byte of flags (the lister's dir_node::existed, always_chmod), then each file's DT_* type
/// byte and NUL-terminated name. A directory unit is its path alone, which holds no NUL.
std::string batch_unit(const std::string& rel, const treecopy::engine::dir_node& node,
                       const std::string& names);
/// Whether unit is a batch; if so, its directory and what the taker copies.
bool parse_batch_unit(const std::string& unit, std::string& rel,
                      treecopy::engine::setup_result::listed_batch& batch);

/// The observer of a rank other than 0 under -v: the entries it copied (or removed), sent to rank
/// 0 at the end (rank 0 lists them after its own).
class entry_list final : public treecopy::copy_observer {
 public:
  bool wants_entries() const override { return true; }
  void on_entry(treecopy::entry_kind kind, std::string_view path) override {
    std::lock_guard lock(mu_);
    items.emplace_back(static_cast<int>(kind), std::string(path));
  }
  void on_remove(std::string_view path) override {
    std::lock_guard lock(mu_);
    items.emplace_back(-1, std::string(path));
  }
  std::vector<std::pair<int, std::string>> items;  ///< kind (-1: removed) and path

 private:
  std::mutex mu_;
};

/// Forwards the entries (-v) of a phase after the walk to the rank's observer; its errors reach
/// rank 0 with the report instead.
class entries_only final : public treecopy::copy_observer {
 public:
  explicit entries_only(treecopy::copy_observer* to) : to_(to) {}
  bool wants_entries() const override { return to_ && to_->wants_entries(); }
  void on_entry(treecopy::entry_kind k, std::string_view p) override { to_->on_entry(k, p); }
  void on_remove(std::string_view p) override { to_->on_remove(p); }

 private:
  treecopy::copy_observer* to_;
};

/// Runs the walk's message loop on the calling (MPI) thread until every rank is idle and no work
/// is in flight (Dijkstra-Safra token ring with message counts); then drains every request.
/// observer (rank 0's, or null): told the sum of every rank's progress every interval.
void run_walk(rank_state& st, MPI_Comm comm, message_stats& stats,
              treecopy::copy_observer* observer, double interval);

/// The walk and the phases after it are over (every rank calls it): rank 0's observer is told
/// every rank's final counters, as the walker tells treecopy's at its end (the last progress
/// event holds the tree's exact totals). after_walk: what this rank's phases after the walk did
/// (large files copied in chunks), which the walk's counters do not hold.
void final_progress(rank_state& st, const std::uint64_t after_walk[progress_fields],
                    treecopy::copy_observer* observer, std::chrono::nanoseconds elapsed);

/// The copy of src to dst over all ranks; same contract as treecopy::copy_tree(). Rank 0 decides
/// whether the request is valid and tells the others (who then throw the same setup_error).
treecopy::copy_report distributed_copy(const std::string& src, const std::string& dst,
                                       const treecopy::copy_options& options,
                                       treecopy::copy_observer* observer, std::stop_token stop,
                                       message_stats& stats);

/// Whether rank 0 took a verdict, and which (0: the copy ran).
struct verdict_state {
  bool sent = false;
  int code = 0;
};
verdict_state& verdict() noexcept;

}  // namespace treecopy_mpi
