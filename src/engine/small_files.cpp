#include "engine/small_files.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <new>

#include "engine/entry_copier.hpp"

namespace treecopy::engine {
namespace {

// The ring's tags: the file's index in the batch and which of its operations completed.
enum class step : std::uint64_t {
  open_src,
  stat,
  create,
  read,
  write,
  restat,
  close_src,
  close_dst
};
std::uint64_t tag(unsigned i, step s) noexcept { return (static_cast<std::uint64_t>(s) << 8) | i; }
unsigned file_of(std::uint64_t t) noexcept { return static_cast<unsigned>(t & 0xff); }
step step_of(std::uint64_t t) noexcept { return static_cast<step>(t >> 8); }

struct timespec to_timespec(const struct statx_timestamp& t) noexcept {
  struct timespec ts {};
  ts.tv_sec = t.tv_sec;
  ts.tv_nsec = t.tv_nsec;
  return ts;
}

// What the engine's decisions read of a stat, from the ring's statx.
void to_stat(const struct statx& x, struct stat& st) noexcept {
  std::memset(&st, 0, sizeof st);
  st.st_dev = makedev(x.stx_dev_major, x.stx_dev_minor);
  st.st_ino = x.stx_ino;
  st.st_mode = x.stx_mode;
  st.st_nlink = x.stx_nlink;
  st.st_uid = x.stx_uid;
  st.st_gid = x.stx_gid;
  st.st_rdev = makedev(x.stx_rdev_major, x.stx_rdev_minor);
  st.st_size = static_cast<off_t>(x.stx_size);
  st.st_blksize = static_cast<blksize_t>(x.stx_blksize);
  st.st_blocks = static_cast<blkcnt_t>(x.stx_blocks);
  st.st_atim = to_timespec(x.stx_atime);
  st.st_mtim = to_timespec(x.stx_mtime);
  st.st_ctim = to_timespec(x.stx_ctime);
}

bool uring_wanted() noexcept {
  const char* v = std::getenv("TREECOPY_IO_URING");
  return !(v && std::strcmp(v, "0") == 0);
}

}  // namespace

small_batches::small_batches(unsigned files, unsigned most) noexcept
    : files_(files < small_batch_min ? 0 : std::min(files, small_batch_max)), most_(most) {
  if (files_ == 0 || !uring_wanted()) off_.store(true, std::memory_order_relaxed);
}

small_batches::~small_batches() {
  for (small_batch* b : all_) delete b;
}

small_batch* small_batches::take() noexcept {
  if (off_.load(std::memory_order_relaxed)) return nullptr;
  {
    std::lock_guard lock(mu_);
    if (!free_.empty()) {
      small_batch* b = free_.back();
      free_.pop_back();
      return b;
    }
    if (all_.size() >= most_) return nullptr;
  }
  // A ring of a submission slot for each operation of a round: two a file.
  auto* b = new (std::nothrow) small_batch;
  if (!b) return nullptr;
  std::error_code err;
  b->ring = fs::ring::open(2 * small_batch_max, err);
  b->data.reset(new (std::nothrow) char[std::size_t{small_batch_max} * small_file_max]);
  if (!b->ring || !b->data) {
    delete b;
    // No memory may pass; a refused ring will be refused again.
    if (err) off_.store(true, std::memory_order_relaxed);
    return nullptr;
  }
  std::lock_guard lock(mu_);
  try {
    all_.push_back(b);
    free_.reserve(all_.size());
  } catch (const std::bad_alloc&) {
    delete b;
    return nullptr;
  }
  return b;
}

void small_batches::give(small_batch* b) noexcept {
  std::lock_guard lock(mu_);
  if (b->ring->broken() || b->workers_refused) {  // no more batches
    off_.store(true, std::memory_order_relaxed);
    return;  // freed with the others
  }
  free_.push_back(b);  // reserved in take()
}

bool entry_copier::batches_files(const dir_node* node) const noexcept {
  // Clones share the data instead of copying it: where they work, files take the ordinary path.
  const bool no_clone =
      opt_.reflink == reflink_mode::never || (opt_.reflink == reflink_mode::automatic &&
                                              clone_state_.load(std::memory_order_relaxed) == 2);
  return no_clone && !opt_.dry_run && !pol_.merge && !opt_.link && roots_.prev_fds.empty() &&
         roots_.prev_parent_fds.empty() && !node->is_top && !node->pseudo_fs &&
         !node->dst_foreign && node->dst_fd >= 0;
}

std::uint64_t entry_copier::copy_small_files(dir_node* node, const fs::dir_entry* ents, unsigned n,
                                             small_batch& b) {
  fs::ring& r = *b.ring;
  auto name_of = [&](unsigned i) { return node->names.c_str() + ents[i].name_offset; };
  for (unsigned i = 0; i < n; ++i) b.files[i] = {-1, -1, 0, false, false, false, false, {}, {}};
  b.workers_refused = false;

  // 1: open the sources (as copy_regular() does: no FIFO may block the open, no tty is taken).
  const int src_flags = O_RDONLY | src_nofollow(node) | O_NONBLOCK | O_NOCTTY | O_CLOEXEC;
  for (unsigned i = 0; i < n; ++i) {
    if (ents[i].type == DT_REG)
      fs::ring::openat(r.add(tag(i, step::open_src)), node->src_fd, name_of(i), src_flags, 0);
  }
  (void)r.run([&](std::uint64_t t, int res) {
    if (res >= 0) b.files[file_of(t)].sfd = res;
  });

  // 2: what each is. Only plain regular files stay in the batch (not sparse, not hard links whose
  // other names wait for them, on SRC's file system): small ones whole, mid-size ones but for
  // their data, which copy_file_range moves.
  auto on_stat = [&](std::uint64_t t, int res) {
    small_batch::file& f = b.files[file_of(t)];
    if (res == -ECANCELED || res == -EAGAIN) b.workers_refused = true;
    if (res < 0) return;
    const struct stat& st = f.st;
    to_stat(f.stx, f.st);
    const bool reg = S_ISREG(st.st_mode);
    const bool under_mib = st.st_size < mid_file_max;
    const bool plain =
        reg && !looks_sparse(st) && root_pair(node, st) && !claims_at_create(node, st);
    f.keep = plain && st.st_size <= static_cast<off_t>(small_file_max);
    f.mid = plain && !f.keep && under_mib;
    // Other regular files under 1 MiB (sparse, hard-linked, on another file system) are copied
    // one by one once the batch is done, from the descriptor and stat it has, as are mid-size
    // files whose create failed (larger ones are the walk's: they hand the rest of the batch to
    // other workers before they copy).
    f.handed = reg && !plain && under_mib;
  };
  for (unsigned i = 0; i < n; ++i) {
    if (b.files[i].sfd >= 0)
      fs::ring::statx(r.add(tag(i, step::stat)), b.files[i].sfd, STATX_BASIC_STATS,
                      &b.files[i].stx);
  }
  (void)r.run(on_stat);

  // 3: create the copies and read the small files' data, unless the copy is stopping.
  const bool go = !flags_.stopping();
  for (unsigned i = 0; go && i < n; ++i) {
    small_batch::file& f = b.files[i];
    if (!f.keep && !f.mid) continue;
    fs::ring::openat(r.add(tag(i, step::create)), node->dst_fd, name_of(i),
                     O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                     plan::open_mode(pol_, plan::entry_facts::of(f.st)));
    if (f.keep && f.st.st_size != 0)
      fs::ring::read(r.add(tag(i, step::read)), f.sfd,
                     b.data.get() + std::size_t{i} * small_file_max,
                     static_cast<unsigned>(f.st.st_size));
  }
  if (go) {
    (void)r.run([&](std::uint64_t t, int res) {
      small_batch::file& f = b.files[file_of(t)];
      if (step_of(t) == step::create) {
        f.dfd = res >= 0 ? res : -1;
        if (res == -ECANCELED || res == -EAGAIN) b.workers_refused = true;
      } else {
        f.got = res;
      }
    });
  }
  for (unsigned i = 0; i < n; ++i) {
    small_batch::file& f = b.files[i];
    if (!go || f.dfd < 0) {
      // The ordinary path creates it, or reports why not: for a mid-size file, from the
      // descriptor the batch has.
      f.handed = f.handed || (go && f.mid);
      f.keep = f.mid = false;
      continue;
    }
    if (!f.keep) continue;
    // The source was opened without blocking: a read the page cache cannot serve at once says
    // EAGAIN (having started it). Read it now, waiting.
    if (f.got == -EAGAIN) {
      ssize_t got = -1;
      do
        got = ::pread(f.sfd, b.data.get() + std::size_t{i} * small_file_max,
                      static_cast<std::size_t>(f.st.st_size), 0);
      while (got < 0 && errno == EINTR);
      f.got = got < 0 ? -errno : static_cast<int>(got);
    }
    if (f.got < 0) {
      (void)fs::unlink_at(node->dst_fd, name_of(i));  // the ordinary path reports the read
      f.keep = false;
    } else {
      f.changed = f.got < f.st.st_size;  // the file shrank
    }
  }

  // The mid-size files' data, as copy_open_regular() copies it (clones are not tried: batches run
  // only where they do not work). Once the copy is stopping the rest are left, as the walker
  // leaves its entries.
  std::uint64_t reported = 0;
  for (unsigned i = 0; i < n; ++i) {
    small_batch::file& f = b.files[i];
    if (!f.mid) continue;
    if (flags_.stopping()) {
      discard_file(node, name_of(i));
      f.mid = false;
      continue;
    }
    rep_.count().bytes_found.fetch_add(static_cast<std::uint64_t>(f.st.st_size),
                                       std::memory_order_relaxed);
    if (!copy_bytes(node, name_of(i), f.sfd, f.dfd, f.st, f.changed)) {
      discard_file(node, name_of(i));  // copy_bytes() reported why
      reported |= std::uint64_t{1} << i;
      f.mid = false;
    }
  }

  // 4: write the small files' data, and stat the mid-size files' sources again. Their data was
  // copied a while after their stat (after the batch's other files), so a change meanwhile is
  // looked for as for a file of 1 MiB or more (source_changed()).
  for (unsigned i = 0; i < n; ++i) {
    small_batch::file& f = b.files[i];
    if (f.keep && f.got > 0)
      fs::ring::write(r.add(tag(i, step::write)), f.dfd,
                      b.data.get() + std::size_t{i} * small_file_max, static_cast<unsigned>(f.got));
    if (f.mid) fs::ring::statx(r.add(tag(i, step::restat)), f.sfd, STATX_BASIC_STATS, &f.stx);
  }
  (void)r.run([&](std::uint64_t t, int res) {
    small_batch::file& f = b.files[file_of(t)];
    if (step_of(t) == step::restat) {
      // The stat of a file that cannot be stat'ed again proves nothing (as source_changed()).
      if (res == 0 && (static_cast<off_t>(f.stx.stx_size) != f.st.st_size ||
                       f.stx.stx_mtime.tv_sec != f.st.st_mtim.tv_sec ||
                       static_cast<long>(f.stx.stx_mtime.tv_nsec) != f.st.st_mtim.tv_nsec))
        f.changed = true;
      return;
    }
    if (res == f.got) return;
    (void)fs::unlink_at(node->dst_fd, name_of(file_of(t)));  // the ordinary path reports it
    f.keep = false;
  });

  // The metadata, through the descriptors, as finish_file() does.
  struct outcome {
    std::error_code err;
    operation op;
  };
  outcome out[small_batch_max];
  for (unsigned i = 0; i < n; ++i) {
    small_batch::file& f = b.files[i];
    if (!f.keep && !f.mid) continue;
    out[i].op = operation{};
    out[i].err = apply_fd_meta(node, f.sfd, f.dfd, f.st, nullptr, out[i].op);
  }

  // 5: close both sides (a copy's close may report a write error).
  for (unsigned i = 0; i < n; ++i) {
    small_batch::file& f = b.files[i];
    if (f.sfd >= 0 && !(go && f.handed)) fs::ring::close(r.add(tag(i, step::close_src)), f.sfd);
    if (f.dfd >= 0) fs::ring::close(r.add(tag(i, step::close_dst)), f.dfd);
  }
  (void)r.run([&](std::uint64_t t, int res) {
    const unsigned i = file_of(t);
    if (res == -ECANCELED) {  // never closed: a broken ring refused it
      const int fd = step_of(t) == step::close_dst ? b.files[i].dfd : b.files[i].sfd;
      res = fs::detail::close_fd(fd) < 0 ? -errno : 0;
    }
    if (step_of(t) == step::close_dst && res < 0 && res != -EINTR &&
        (b.files[i].keep || b.files[i].mid) && !out[i].err) {
      out[i].err = fs::errno_code(-res);
      out[i].op = operation::close;
    }
  });

  // The handed files' descriptors, owned before any of them is copied (a copy may throw).
  fs::unique_fd handed[small_batch_max];
  for (unsigned i = 0; go && i < n; ++i) {
    if (b.files[i].handed) handed[i].reset(b.files[i].sfd);
  }
  std::uint64_t taken = reported;
  for (unsigned i = 0; i < n; ++i) {
    small_batch::file& f = b.files[i];
    if (!f.keep && !f.mid) continue;
    taken |= std::uint64_t{1} << i;
    if (f.keep)
      rep_.count().bytes_found.fetch_add(static_cast<std::uint64_t>(f.st.st_size),
                                         std::memory_order_relaxed);
    if (f.keep && f.got > 0)
      rep_.count().bytes_done.fetch_add(static_cast<std::uint64_t>(f.got),
                                        std::memory_order_relaxed);
    conclude_file(node, name_of(i), out[i].err, out[i].op, f.changed);
  }
  for (unsigned i = 0; go && i < n; ++i) {
    small_batch::file& f = b.files[i];
    if (!f.handed) continue;
    taken |= std::uint64_t{1} << i;
    copy_open_regular(node, name_of(i), handed[i], f.st);
  }
  return taken;
}

}  // namespace treecopy::engine
