// Small files in batches: a worker copies up to small_batch_max small regular files of one
// directory in five rounds of io_uring operations (open the sources; stat them; create the copies
// and read the data; write it; close both sides), one system call a round instead of six to eight
// a file. Mid-size files of the run take the same rounds but for their data, which
// copy_file_range copies between the create and the close. Everything that is not plainly a
// regular file, and everything that fails before its data, is left to the ordinary path, which
// copies or reports it from the start.
#pragma once

#include <linux/stat.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "fs/ring.hpp"

namespace treecopy::engine {

/// The largest file whose data a batch reads and writes itself, and how many files a batch takes
/// at most. Larger files' data goes by copy_file_range, without a pass through user memory, which
/// for files of a few pages already costs more than the system calls a batch saves
/// (docs/benchmarks.md).
inline constexpr unsigned small_file_max = 8 * 1024;
/// Plain files larger than small_file_max and smaller than this are created and closed by the
/// batch, and their data moved by copy_file_range in between (larger files are the walk's, which
/// hands the rest of their batch to other workers first).
inline constexpr off_t mid_file_max = off_t{1} << 20;
inline constexpr unsigned small_batch_max = 64;
/// A directory's run of files shorter than this is copied on the ordinary path: a ring costs
/// about as much to set up as the calls a few files save (one-file copies must start fast).
inline constexpr unsigned small_batch_min = 8;

/// What one batch is copied with: its ring, a buffer and the state of each file.
struct small_batch {
  std::unique_ptr<fs::ring> ring;
  std::unique_ptr<char[]> data;  ///< small_file_max bytes a file
  struct file {
    int sfd;
    int dfd;
    int got;      ///< bytes read, or -errno
    bool keep;    ///< a small regular file this batch copies
    bool mid;     ///< a mid-size one: the batch creates and closes it, copy_file_range copies it
    bool handed;  ///< another regular file, copied from its descriptor once the batch is done
    bool changed;
    struct statx stx;  ///< the ring's statx
    struct stat st;    ///< the same, as the engine's decisions read it
  };
  file files[small_batch_max];
  /// The kernel could not start a worker thread for the ring's operations that need one (a
  /// small RLIMIT_NPROC): it cancels them after retrying for milliseconds. No more batches.
  bool workers_refused = false;
};

/// The batches of a run, each used by one worker at a time: made when none is free (as many as
/// workers copy at once) and freed with the run. Off for the run once a ring cannot be made
/// (kernels before 5.12, kernel.io_uring_disabled, a seccomp filter that refuses io_uring, as
/// container runtimes' default profiles do), and off when the environment says
/// TREECOPY_IO_URING=0.
class small_batches {
 public:
  /// files: the files a batch may hold open on each side (plan_descriptors(): 0 also where
  /// threads are scarce or RLIMIT_AS is small); fewer than small_batch_min: none; most: how many
  /// batches may exist at once.
  small_batches(unsigned files, unsigned most) noexcept;
  ~small_batches();
  small_batches(const small_batches&) = delete;
  small_batches& operator=(const small_batches&) = delete;

  /// How many files a batch takes (0: batches are off).
  unsigned files() const noexcept { return off_.load(std::memory_order_relaxed) ? 0 : files_; }
  /// A free batch, or null (all in use, or batches are off: made now and then refused).
  small_batch* take() noexcept;
  void give(small_batch* b) noexcept;

 private:
  unsigned files_;
  unsigned most_;
  std::atomic<bool> off_{false};
  std::mutex mu_;
  std::vector<small_batch*> all_;
  std::vector<small_batch*> free_;
};

}  // namespace treecopy::engine
