// Large files copied in chunks by stream tasks: several chunks at once, one per core, while the
// other workers go on with the small files.
#pragma once

#include <sys/stat.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>

#include "engine/context.hpp"
#include "engine/scheduler.hpp"
#include "fs/sys.hpp"

namespace treecopy::engine {

/// Files at least this large are split into chunks that several workers copy at once.
inline constexpr std::uint64_t big_file_threshold = 128ull << 20;

/// A large file copied in chunks. It waits in the stream queue (see stream_queue::start()) with its
/// descriptors open; stream tasks claim its chunks in file order, so the file is read front to back
/// by streams close together (never backwards, which defeats readahead on a cold cache). The last
/// chunk to finish hands the file back to its owner, which applies the metadata.
struct big_file {
  dir_node* node;
  const char* name;  ///< points into node->names, kept alive by the node's users count
  fs::unique_fd sfd, dfd;
  struct stat st;
  bool first_link;  ///< other names of the file wait for it (hard links)
  bool sparse;
  bool cached;  ///< its data was in the page cache when it was queued
  std::uint64_t chunks;
  std::uint64_t next = 0;  ///< the next unclaimed chunk; guarded by the queue's mutex
  unsigned streams = 0;    ///< streams copying a chunk of it; guarded by the queue's mutex
  std::atomic<std::uint64_t> remaining;
  std::atomic<int> error{0};            ///< the first chunk's failure (errno)
  std::atomic<bool> read_side{false};   ///< error came from reading the source
  std::atomic<bool> short_read{false};  ///< the source ended before its size
};

/// What the streams need from the copy around them.
class stream_owner {
 public:
  /// How the data of node's file st is copied (progress, stop flag, copy_file_range).
  virtual fs::copy_control data_control(const dir_node* node, const struct stat& st) noexcept = 0;
  /// Every chunk of f is done (f.error tells how): finish the file, and release its directory
  /// (pending work and users) as stream_queue::start() took it.
  virtual void big_file_done(big_file& f) = 0;

 protected:
  ~stream_owner() = default;
};

/// The queue of large files and the stream tasks that copy them.
class stream_queue {
 public:
  explicit stream_queue(stream_owner& owner) noexcept : owner_(owner) {}

  /// At most streams chunks copied at once, at most queued files waiting (each holds a descriptor
  /// pair, and its directory's).
  void set_limits(unsigned streams, std::size_t queued) noexcept {
    cap_ = streams;
    queue_cap_ = queued;
  }

  /// Queues node's file name (descriptors sfd, dfd taken over; stat st) and spawns streams for it.
  /// The file keeps its directory open and unfinished (one more pending and user) until its last
  /// chunk is written. Returns false, taking nothing, when the queue is full: the caller then
  /// copies the file itself.
  bool start(scheduler& sched, dir_node* node, const char* name, fs::unique_fd& sfd,
             fs::unique_fd& dfd, const struct stat& st, bool first_link);

 private:
  void run_stream();
  void copy_chunk(big_file& f, std::uint64_t index);

  stream_owner& owner_;
  unsigned cap_ = 1;           ///< chunks copied at once: one per core, at most -j
  std::size_t queue_cap_ = 4;  ///< large files that may wait for a stream
  std::mutex mu_;              ///< guards the two below and each big_file's next and streams
  std::deque<std::shared_ptr<big_file>> queue_;  ///< large files with unclaimed chunks
  unsigned streams_ = 0;                         ///< stream tasks running
};

}  // namespace treecopy::engine
