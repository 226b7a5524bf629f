// Implementation of stream.hpp.
#include "engine/stream.hpp"

#include <fcntl.h>

#include <algorithm>
#include <utility>

namespace treecopy::engine {
namespace {

constexpr std::uint64_t chunk_size = 32ull << 20;

bool looks_sparse(const struct stat& st) {
  return st.st_size > 0 &&
         static_cast<std::uint64_t>(st.st_blocks) * 512 < static_cast<std::uint64_t>(st.st_size);
}

}  // namespace

// Large files are queued rather than each given a stream of its own: stream tasks (run_stream())
// copy at most cap_ chunks at once, one per core and at most -j. More streams than cores only slow
// the copy down: writes to one file take turns on its inode lock, and far-apart reads cost seeks
// and readahead. Meanwhile the other workers go on with the small files. Returns false when the
// queue is full: the caller then copies the file itself, so that a directory of many large files
// does not hold two descriptors for each of them.
bool stream_queue::start(scheduler& sched, dir_node* node, const char* name, fs::unique_fd& sfd,
                         fs::unique_fd& dfd, const struct stat& st, bool first_link) {
  const auto size = static_cast<std::uint64_t>(st.st_size);
  const std::uint64_t chunks = (size + chunk_size - 1) / chunk_size;
  (void)fs::advise(sfd.get(), POSIX_FADV_SEQUENTIAL);
  const bool sparse = looks_sparse(st);
  // A sparse file's holes are never cached: it counts as read from the disk.
  const bool cached = !sparse && fs::mostly_cached(sfd.get(), size);
  std::uint64_t spawn = 0;
  {
    std::lock_guard lock(mu_);
    if (queue_.size() >= queue_cap_) return false;
    auto job = std::make_shared<big_file>();
    job->node = node;
    job->name = name;
    job->sfd = std::move(sfd);
    job->dfd = std::move(dfd);
    job->st = st;
    job->first_link = first_link;
    job->sparse = sparse;
    job->cached = cached;
    job->chunks = chunks;
    job->remaining.store(chunks);
    // The file keeps its directory open and unfinished until its last chunk is written.
    node->pending.fetch_add(1, std::memory_order_relaxed);
    node->users.fetch_add(1, std::memory_order_relaxed);
    queue_.push_back(std::move(job));
    spawn = std::min<std::uint64_t>(cap_ - streams_, chunks);
    streams_ += static_cast<unsigned>(spawn);
  }
  for (std::uint64_t i = 0; i < spawn; ++i) {
    try {
      sched.spawn([this] { run_stream(); });
    } catch (const std::bad_alloc&) {
      // No task (no memory): the file is queued already, so this worker is a stream itself in
      // place of the ones that could not be spawned; else it might wait for a stream forever.
      {
        std::lock_guard lock(mu_);
        streams_ -= static_cast<unsigned>(spawn - i - 1);
      }
      run_stream();
      break;
    }
  }
  return true;
}

// A stream task: copies chunks until none is left unclaimed. A file whose data is cached is memory
// work, and writes to one file take turns on its inode lock: streams spread over such files, each
// chunk going to the one with the fewest streams on it. A file read from the disk has at most one
// stream, which reads it front to back (two streams on one file cost each other's readahead and
// take turns writing it), but several such files are read at once, one per stream: the disk gets
// more than one request at a time and the copying into the destination runs on every core. Ties
// go to the oldest file, so a stream stays with its file.
void stream_queue::run_stream() {
  std::shared_ptr<big_file> job;
  for (;;) {
    std::shared_ptr<big_file> done = std::move(job);  // released outside the lock
    std::uint64_t index = 0;
    {
      std::lock_guard lock(mu_);
      if (done) --done->streams;
      auto pick = queue_.end();
      for (auto it = queue_.begin(); it != queue_.end(); ++it) {
        if (!(*it)->cached && (*it)->streams > 0) continue;
        if (pick == queue_.end() || (*it)->streams < (*pick)->streams) pick = it;
      }
      if (pick == queue_.end()) {
        --streams_;
        return;
      }
      job = *pick;
      index = job->next++;
      ++job->streams;
      if (job->next == job->chunks) queue_.erase(pick);
    }
    copy_chunk(*job, index);
  }
}

void stream_queue::copy_chunk(big_file& f, std::uint64_t index) {
  if (f.error.load(std::memory_order_relaxed) == 0) {
    const auto size = static_cast<std::uint64_t>(f.st.st_size);
    const std::uint64_t off = index * chunk_size;
    const std::uint64_t len = std::min(chunk_size, size - off);
    fs::copy_result r = fs::copy_range(f.sfd.get(), f.dfd.get(), off, len, f.sparse,
                                       owner_.data_control(f.node, f.st));
    if (r.error) {
      int expected = 0;
      if (f.error.compare_exchange_strong(expected, r.error)) f.read_side.store(r.read_side);
    } else if (!f.sparse && r.bytes < len) {
      f.short_read.store(true, std::memory_order_relaxed);
    }
  }
  if (f.remaining.fetch_sub(1, std::memory_order_acq_rel) == 1) owner_.big_file_done(f);
}

}  // namespace treecopy::engine
