#include "fs/ring.hpp"

#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <new>

#include "fs/sys.hpp"

namespace treecopy::fs {
namespace {

unsigned load_acquire(const unsigned* p) noexcept {
  return std::atomic_ref<const unsigned>(*p).load(std::memory_order_acquire);
}
void store_release(unsigned* p, unsigned v) noexcept {
  std::atomic_ref<unsigned>(*p).store(v, std::memory_order_release);
}

int ring_setup(unsigned entries, io_uring_params& p) noexcept {
  return static_cast<int>(::syscall(__NR_io_uring_setup, entries, &p));
}

int ring_enter(int fd, unsigned submit, unsigned wait, unsigned flags) noexcept {
  return static_cast<int>(::syscall(__NR_io_uring_enter, fd, submit, wait, flags, nullptr, 0));
}

void* map_ring(int fd, std::size_t len, off_t what) noexcept {
  void* p = ::mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, what);
  return p == MAP_FAILED ? nullptr : p;
}

}  // namespace

std::unique_ptr<ring> ring::open(unsigned entries, std::error_code& err) noexcept {
  std::unique_ptr<ring> r(new (std::nothrow) ring);
  if (!r) {
    err = errno_code(ENOMEM);
    return nullptr;
  }
  // A round's failed operation must not keep the rest of it from being submitted (SUBMIT_ALL,
  // 5.18); completions are run on the next wait, which every round does (COOP_TASKRUN, 5.19).
  io_uring_params p{};
  p.flags = IORING_SETUP_SUBMIT_ALL | IORING_SETUP_COOP_TASKRUN;
  int fd = ring_setup(entries, p);
  if (fd < 0 && errno == EINVAL) {
    p = io_uring_params{};
    fd = ring_setup(entries, p);
  }
  if (fd < 0) {
    err = errno_code(errno);
    return nullptr;
  }
  r->fd_ = fd;
  // Workers that are threads of this process, and one mapping for both rings (5.12 on): the
  // kernels whose opens, stats, reads and closes the engine relies on.
  if (!(p.features & IORING_FEAT_NATIVE_WORKERS) || !(p.features & IORING_FEAT_SINGLE_MMAP) ||
      !(p.features & IORING_FEAT_NODROP)) {
    err = errno_code(ENOSYS);
    return nullptr;
  }
  r->sq_entries_ = p.sq_entries;
  try {
    r->refused_.reserve(p.sq_entries);
  } catch (const std::bad_alloc&) {
    err = errno_code(ENOMEM);
    return nullptr;
  }
  const std::size_t sq_len = p.sq_off.array + p.sq_entries * sizeof(unsigned);
  const std::size_t cq_len = p.cq_off.cqes + p.cq_entries * sizeof(io_uring_cqe);
  r->sq_map_len_ = sq_len > cq_len ? sq_len : cq_len;
  r->sq_map_ = map_ring(fd, r->sq_map_len_, IORING_OFF_SQ_RING);
  r->sqes_len_ = p.sq_entries * sizeof(io_uring_sqe);
  r->sqes_ = static_cast<io_uring_sqe*>(map_ring(fd, r->sqes_len_, IORING_OFF_SQES));
  if (!r->sq_map_ || !r->sqes_) {
    err = errno_code(errno);
    return nullptr;
  }
  auto* sq = static_cast<char*>(r->sq_map_);
  r->sq_head_ = reinterpret_cast<unsigned*>(sq + p.sq_off.head);
  r->sq_tail_ = reinterpret_cast<unsigned*>(sq + p.sq_off.tail);
  r->sq_mask_ = *reinterpret_cast<unsigned*>(sq + p.sq_off.ring_mask);
  r->sq_array_ = reinterpret_cast<unsigned*>(sq + p.sq_off.array);
  r->cq_head_ = reinterpret_cast<unsigned*>(sq + p.cq_off.head);
  r->cq_tail_ = reinterpret_cast<unsigned*>(sq + p.cq_off.tail);
  r->cq_mask_ = *reinterpret_cast<unsigned*>(sq + p.cq_off.ring_mask);
  r->cqes_ = reinterpret_cast<io_uring_cqe*>(sq + p.cq_off.cqes);
  return r;
}

ring::~ring() {
  if (sqes_) ::munmap(sqes_, sqes_len_);
  if (sq_map_) ::munmap(sq_map_, sq_map_len_);
  if (fd_ >= 0) (void)detail::close_fd(fd_);
}

io_uring_sqe* ring::add(std::uint64_t tag) noexcept {
  if (broken_ || pending_ + inflight_ >= sq_entries_) {
    if (refused_.size() < refused_.capacity()) refused_.push_back(tag);
    return reinterpret_cast<io_uring_sqe*>(spare_);
  }
  const unsigned tail = *sq_tail_ + pending_;  // only this side writes the tail
  const unsigned idx = tail & sq_mask_;
  io_uring_sqe* s = &sqes_[idx];
  std::memset(s, 0, sizeof *s);
  s->user_data = tag;
  sq_array_[idx] = idx;
  ++pending_;
  return s;
}

std::error_code ring::submit_and_wait() noexcept {
  std::error_code err;
  if (pending_ != 0) {
    store_release(sq_tail_, *sq_tail_ + pending_);
    unsigned to_submit = pending_;
    pending_ = 0;
    int refusals = 0;
    while (to_submit != 0) {
      // Submits and waits in one call: the kernel waits only when it took the whole round.
      const int n = ring_enter(fd_, to_submit, inflight_ + to_submit, IORING_ENTER_GETEVENTS);
      ++enters_;
      if (n > 0) {
        inflight_ += static_cast<unsigned>(n);
        to_submit -= static_cast<unsigned>(n);
        continue;
      }
      const int e = n < 0 ? errno : EAGAIN;
      if ((e == EINTR || e == EAGAIN || e == EBUSY) && ++refusals < 100) continue;
      // The kernel will not take the rest: they stay in the submission queue, so this ring is
      // never entered again (run() reports them cancelled).
      broken_ = true;
      unsubmitted_ = to_submit;
      err = errno_code(e);
      break;
    }
  }
  // Every operation taken is waited for: the kernel may write into their buffers until then.
  // (The kernel counts the completions not yet reaped, and none are reaped before the round ends:
  // the wait is for all of them.)
  while (inflight_ != 0 && load_acquire(cq_tail_) - *cq_head_ < inflight_) {
    const int n = ring_enter(fd_, 0, inflight_, IORING_ENTER_GETEVENTS);
    ++enters_;
    if (n < 0 && errno != EINTR && errno != EAGAIN && errno != EBUSY) {
      // Unexpected: keep waiting rather than free what the kernel may still write.
      ::usleep(1000);
    }
  }
  return err;
}

bool ring::next_cqe(std::uint64_t& tag, int& res) noexcept {
  if (inflight_ == 0) {
    if (unsubmitted_ == 0) {
      if (refused_.empty()) return false;
      tag = refused_.back();
      refused_.pop_back();
      res = -ECANCELED;
      return true;
    }
    // Never submitted: reported as cancelled, from the submission queue the kernel did not read.
    const unsigned idx = sq_array_[(*sq_tail_ - unsubmitted_) & sq_mask_];
    --unsubmitted_;
    tag = sqes_[idx].user_data;
    res = -ECANCELED;
    return true;
  }
  const unsigned head = *cq_head_;
  if (head == load_acquire(cq_tail_)) return false;
  const io_uring_cqe& c = cqes_[head & cq_mask_];
  tag = c.user_data;
  res = c.res;
  store_release(cq_head_, head + 1);
  --inflight_;
  return true;
}

void ring::openat(io_uring_sqe* s, int dirfd, const char* name, int flags, unsigned mode) noexcept {
  s->opcode = IORING_OP_OPENAT;
  s->fd = dirfd;
  s->addr = reinterpret_cast<std::uintptr_t>(name);
  s->len = mode;
  s->open_flags = static_cast<unsigned>(flags);
}

void ring::statx(io_uring_sqe* s, int fd, unsigned mask, struct statx* out) noexcept {
  static const char empty[] = "";
  s->opcode = IORING_OP_STATX;
  s->fd = fd;
  s->addr = reinterpret_cast<std::uintptr_t>(empty);
  s->len = mask;
  s->off = reinterpret_cast<std::uintptr_t>(out);
  s->statx_flags = AT_EMPTY_PATH | AT_STATX_SYNC_AS_STAT;
}

void ring::read(io_uring_sqe* s, int fd, void* buf, unsigned len) noexcept {
  s->opcode = IORING_OP_READ;
  s->fd = fd;
  s->addr = reinterpret_cast<std::uintptr_t>(buf);
  s->len = len;
  s->off = 0;
}

void ring::write(io_uring_sqe* s, int fd, const void* buf, unsigned len) noexcept {
  s->opcode = IORING_OP_WRITE;
  s->fd = fd;
  s->addr = reinterpret_cast<std::uintptr_t>(buf);
  s->len = len;
  s->off = 0;
}

void ring::close(io_uring_sqe* s, int fd) noexcept {
  s->opcode = IORING_OP_CLOSE;
  s->fd = fd;
}

}  // namespace treecopy::fs
