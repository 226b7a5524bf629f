// A minimal io_uring submission and completion queue, over the raw system calls (no liburing: the
// engine needs five operations, submitted and reaped in rounds). The engine copies batches of
// small files through it (engine/small_files.cpp): one io_uring_enter for a round of opens, stats,
// reads, writes or closes of up to dozens of files, instead of one system call each.
#pragma once

#include <linux/io_uring.h>
#include <linux/stat.h>

#include <cstdint>
#include <memory>
#include <system_error>
#include <vector>

namespace treecopy::fs {

/// A ring whose every round is submitted at once and waited for to its last completion: after
/// run() returns no operation is in flight, so the buffers and names it was given may go away.
class ring {
 public:
  /// A ring of `entries` submission slots; null (err set) when this kernel, a seccomp filter
  /// (containers commonly refuse io_uring), kernel.io_uring_disabled or the limits refuse one.
  static std::unique_ptr<ring> open(unsigned entries, std::error_code& err) noexcept;
  ~ring();
  ring(const ring&) = delete;
  ring& operator=(const ring&) = delete;

  unsigned capacity() const noexcept { return sq_entries_; }
  /// The descriptor the ring holds (one per ring).
  int fd() const noexcept { return fd_; }

  /// The next submission slot of this round, zeroed, its user_data `tag`. When the round is full
  /// (capacity()) or the ring broken, a slot that is never submitted: run() reports its tag
  /// cancelled (-ECANCELED), as it does the operations the kernel refused.
  io_uring_sqe* add(std::uint64_t tag) noexcept;
  /// The kernel refused a round: the ring is not entered again.
  bool broken() const noexcept { return broken_; }
  /// How many times io_uring_enter was called: one a round when nothing interrupts its wait.
  std::uint64_t enters() const noexcept { return enters_; }
  /// Submits the round and waits for every completion, calling done(tag, res) for each (res: the
  /// result, or -errno). Returns an error only when the kernel took none of the round or a wait
  /// failed for good; operations it took are always waited for (signals interrupt no wait).
  template <class Done>
  std::error_code run(Done&& done) noexcept {
    std::error_code err = submit_and_wait();
    reap(done);
    return err;
  }

  // Preparing the slots (add()) of the operations the engine uses.
  static void openat(io_uring_sqe* s, int dirfd, const char* name, int flags,
                     unsigned mode) noexcept;
  static void statx(io_uring_sqe* s, int fd, unsigned mask, struct statx* out) noexcept;
  static void read(io_uring_sqe* s, int fd, void* buf, unsigned len) noexcept;
  static void write(io_uring_sqe* s, int fd, const void* buf, unsigned len) noexcept;
  static void close(io_uring_sqe* s, int fd) noexcept;

 private:
  ring() = default;
  std::error_code submit_and_wait() noexcept;
  bool next_cqe(std::uint64_t& tag, int& res) noexcept;
  template <class Done>
  void reap(Done& done) noexcept {
    std::uint64_t tag;
    int res;
    while (next_cqe(tag, res)) done(tag, res);
  }

  int fd_ = -1;
  unsigned sq_entries_ = 0;
  unsigned pending_ = 0;      ///< slots added this round, not yet submitted
  unsigned inflight_ = 0;     ///< submitted, not yet reaped
  unsigned unsubmitted_ = 0;  ///< left in the queue when the kernel refused them (broken_)
  bool broken_ = false;       ///< never entered again
  std::uint64_t enters_ = 0;
  /// What add() gives when it cannot give a slot (raw: io_uring_sqe ends in a zero-size array).
  alignas(io_uring_sqe) unsigned char spare_[sizeof(io_uring_sqe)] = {};
  std::vector<std::uint64_t> refused_;  ///< their tags (room for capacity() reserved)
  // The mapped rings (one mapping for both with IORING_FEAT_SINGLE_MMAP).
  void* sq_map_ = nullptr;
  std::size_t sq_map_len_ = 0;
  void* cq_map_ = nullptr;
  std::size_t cq_map_len_ = 0;
  io_uring_sqe* sqes_ = nullptr;
  std::size_t sqes_len_ = 0;
  unsigned* sq_head_ = nullptr;
  unsigned* sq_tail_ = nullptr;
  unsigned sq_mask_ = 0;
  unsigned* sq_array_ = nullptr;
  unsigned* cq_head_ = nullptr;
  unsigned* cq_tail_ = nullptr;
  unsigned cq_mask_ = 0;
  io_uring_cqe* cqes_ = nullptr;
};

}  // namespace treecopy::fs
