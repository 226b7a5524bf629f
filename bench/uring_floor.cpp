// uring_floor: whether a copier that goes through io_uring can beat the six system calls per file
// of the fastest small-file copiers (see fd_tables). N threads copy SRC's directories and regular
// files into DST; each thread owns whole directories, as fd_tables' do, and has a ring of its own.
// A directory's files go through the ring in groups of up to 64: one io_uring_enter submits, for
// every file of the group, a statx by name and an open of the source; a second one submits, per
// file, a chain of open (O_CREAT|O_EXCL, the source's mode), read of the whole file into a buffer,
// write of it, and the two closes. The files are opened as direct descriptors (the ring's own
// table): no descriptor of the process's table is taken, so threads never share one. The kernel
// runs creating opens, and what is linked after them, on its io-wq worker threads.
//
// What it keeps: content, and modes as O_CREAT's mode keeps them (the umask applies), nothing
// else; symlinks and special files are left out. Files larger than the 16 KiB buffer, or that
// the ring failed to open, are copied with openat and copy_file_range instead (so SRC and DST
// must be on one file system, as for fd_tables: an EXDEV is reported, there is no fallback). A file
// whose read comes up short of the size statx saw (it changed meanwhile) is reported as failed.
// Where io_uring is not allowed (kernel.io_uring_disabled, a seccomp filter) it says so and exits 1
// before DST is made; a thread whose own ring cannot be set up (its table of 128 direct
// descriptors counts against `ulimit -n`) says so and copies every file past the ring; a ring that
// fails later (a submission or a wait refused) ends the process with exit code 1, as what it had
// queued cannot be accounted for. A failed step is reported with its error (a full disk: the
// write's ENOSPC).
//
// With --meta every file also gets what `cp -a` adds per file (see fd_tables --meta), which
// io_uring has no operation for: its extended attributes are listed by name (listxattrat, Linux
// 6.13; before it through a descriptor of the source opened for that) and any found copied, and
// its access and modification times are set by name (utimensat), once its chain is done. Files
// past the ring get flistxattr and futimens on their descriptors.
//
// Time it from outside against fd_tables and the peers (scripts/bench-alternate.py). Tests:
// tests/bench/bench_tools_test.py.
//
// Usage: uring_floor [-j N] [--meta] SRC DST   (N threads, default 2; DST must not exist)
#include <dirent.h>
#include <fcntl.h>
#include <liburing.h>
#include <linux/limits.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace {

constexpr unsigned group = 64;            // files per round trip; slots [0, group) are sources
constexpr std::size_t buffer = 16 << 10;  // a file of at most this size goes through the ring
constexpr unsigned chain = 5;             // open, read, write, close, close

class ring_copier {
 public:
  ring_copier(unsigned threads, bool meta) : threads_(threads), meta_(meta) {}

  int run(const char* src, const char* dst) {
    // The ring is tried before anything is made: a refusal leaves no DST behind.
    {
      io_uring probe;
      if (const int err = io_uring_queue_init(8, &probe, 0); err < 0) {
        std::fprintf(stderr, "uring_floor: io_uring is not available: %s\n", std::strerror(-err));
        return 1;
      }
      io_uring_queue_exit(&probe);
    }
    src_root_ = open(src, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (src_root_ < 0) return fail("open", src, errno);
    if (mkdir(dst, 0755) != 0) return fail("mkdir", dst, errno);
    dst_root_ = open(dst, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dst_root_ < 0) return fail("open", dst, errno);
    push(".");
    std::vector<std::thread> pool;
    for (unsigned i = 0; i < threads_; ++i) pool.emplace_back([this] { work(); });
    for (auto& t : pool) t.join();
    close(src_root_);
    close(dst_root_);
    return errors_.load() ? 1 : 0;
  }

 private:
  struct worker {
    io_uring ring{};
    std::vector<char> data = std::vector<char>(group * buffer);
    struct statx stx[group];
    int open_res[group];
    bool ok = false;
  };

  void push(std::string rel) {
    {
      std::lock_guard lock(mu_);
      queue_.push_back(std::move(rel));
      ++pending_;
    }
    cv_.notify_one();
  }

  void work() {
    auto w = std::make_unique<worker>();
    // Without a ring of its own (too few descriptors for its table, no memory) this worker copies
    // every file past the ring, and says so once.
    int err = io_uring_queue_init(group * chain, &w->ring, 0);
    if (err == 0) {
      err = io_uring_register_files_sparse(&w->ring, 2 * group);
      if (err < 0) io_uring_queue_exit(&w->ring);
    }
    if (err < 0) {
      fail("io_uring", "setup", -err);
    } else {
      w->ok = true;
    }
    for (;;) {
      std::string rel;
      {
        std::unique_lock lock(mu_);
        cv_.wait(lock, [this] { return !queue_.empty() || pending_ == 0; });
        if (queue_.empty()) break;
        rel = std::move(queue_.back());
        queue_.pop_back();
      }
      copy_dir(*w, rel);
      std::lock_guard lock(mu_);
      if (--pending_ == 0) cv_.notify_all();
    }
    if (w->ok) io_uring_queue_exit(&w->ring);
  }

  void copy_dir(worker& w, const std::string& rel) {
    const int s = openat(src_root_, rel.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (s < 0) {
      fail("open", rel.c_str(), errno);
      return;
    }
    if (rel != "." && mkdirat(dst_root_, rel.c_str(), 0755) != 0) fail("mkdir", rel.c_str(), errno);
    const int d = openat(dst_root_, rel.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    DIR* dir = d < 0 ? nullptr : fdopendir(dup(s));
    if (!dir) {
      fail("opendir", rel.c_str(), errno);
      if (d >= 0) close(d);
      close(s);
      return;
    }
    std::vector<std::string> files;
    while (const dirent* e = readdir(dir)) {
      const char* name = e->d_name;
      if (name[0] == '.' && (name[1] == 0 || (name[1] == '.' && name[2] == 0))) continue;
      if (e->d_type == DT_DIR) push(rel == "." ? std::string(name) : rel + '/' + name);
      if (e->d_type == DT_REG) files.emplace_back(name);
    }
    closedir(dir);
    for (std::size_t at = 0; at < files.size(); at += group) {
      const std::size_t n = std::min<std::size_t>(group, files.size() - at);
      if (w.ok) {
        copy_group(w, s, d, &files[at], static_cast<unsigned>(n));
      } else {
        for (std::size_t i = 0; i < n; ++i) copy_plain(s, d, files[at + i].c_str());
      }
    }
    close(d);
    close(s);
  }

  [[noreturn]] void lost_ring(const char* what, int err) {
    fail(what, "", err);
    std::fflush(stderr);
    std::_Exit(1);
  }

  void submit(worker& w, unsigned queued) {
    int got;
    while ((got = io_uring_submit(&w.ring)) == -EINTR) {
    }
    if (got < 0) lost_ring("io_uring_submit", -got);
    if (static_cast<unsigned>(got) != queued) lost_ring("io_uring_submit (short)", EAGAIN);
  }

  // Waits for `expect` completions; calls done(user_data, res) for each.
  template <class F>
  void reap(worker& w, unsigned expect, F&& done) {
    while (expect > 0) {
      io_uring_cqe* cqe = nullptr;
      const int err = io_uring_wait_cqe(&w.ring, &cqe);
      if (err == -EINTR) continue;
      if (err < 0) lost_ring("io_uring_wait_cqe", -err);
      done(io_uring_cqe_get_data64(cqe), cqe->res);
      io_uring_cqe_seen(&w.ring, cqe);
      --expect;
    }
  }

  void copy_group(worker& w, int s, int d, const std::string* names, unsigned n) {
    // Round one: the source's metadata and an open of it, per file.
    for (unsigned i = 0; i < n; ++i) {
      io_uring_sqe* sqe = io_uring_get_sqe(&w.ring);
      io_uring_prep_statx(sqe, s, names[i].c_str(), AT_SYMLINK_NOFOLLOW,
                          STATX_MODE | STATX_SIZE | (meta_ ? STATX_ATIME | STATX_MTIME : 0u),
                          &w.stx[i]);
      io_uring_sqe_set_data64(sqe, i);
      sqe = io_uring_get_sqe(&w.ring);
      io_uring_prep_openat_direct(sqe, s, names[i].c_str(), O_RDONLY | O_NOFOLLOW, 0, i);
      io_uring_sqe_set_data64(sqe, group + i);
    }
    submit(w, 2 * n);
    int stat_res[group];
    reap(w, 2 * n, [&](std::uint64_t k, int res) {
      if (k < group) {
        stat_res[k] = res;
      } else {
        w.open_res[k - group] = res;
      }
    });
    // Round two: per file, create, read, write and close both, as one chain whose links hold
    // whatever fails (IOSQE_IO_HARDLINK): both slots are closed in every case.
    unsigned submitted = 0;
    bool by_ring[group];
    auto queue = [&](unsigned step, unsigned i) {
      io_uring_sqe* sqe = io_uring_get_sqe(&w.ring);
      io_uring_sqe_set_data64(sqe, step * group + i);
      ++submitted;
      return sqe;
    };
    for (unsigned i = 0; i < n; ++i) {
      const bool opened = w.open_res[i] >= 0;
      by_ring[i] =
          opened && stat_res[i] == 0 && S_ISREG(w.stx[i].stx_mode) && w.stx[i].stx_size <= buffer;
      if (!by_ring[i]) {
        if (opened) io_uring_prep_close_direct(queue(3, i), i);
        continue;
      }
      const auto size = static_cast<unsigned>(w.stx[i].stx_size);
      char* buf = w.data.data() + i * buffer;
      io_uring_sqe* sqe = queue(0, i);
      io_uring_prep_openat_direct(sqe, d, names[i].c_str(),
                                  O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW,
                                  w.stx[i].stx_mode & 07777, group + i);
      sqe->flags |= IOSQE_IO_HARDLINK;
      sqe = queue(1, i);
      io_uring_prep_read(sqe, static_cast<int>(i), buf, size, 0);
      sqe->flags |= IOSQE_FIXED_FILE | IOSQE_IO_HARDLINK;
      sqe = queue(2, i);
      io_uring_prep_write(sqe, static_cast<int>(group + i), buf, size, 0);
      sqe->flags |= IOSQE_FIXED_FILE | IOSQE_IO_HARDLINK;
      sqe = queue(3, i);
      io_uring_prep_close_direct(sqe, i);
      sqe->flags |= IOSQE_IO_HARDLINK;
      io_uring_prep_close_direct(queue(4, i), group + i);
    }
    submit(w, submitted);
    // Per file, the first step that failed and its errno (EIO for a short read or write).
    const char* failed_step[group] = {};
    int failed_err[group] = {};
    reap(w, submitted, [&](std::uint64_t k, int res) {
      const auto i = static_cast<unsigned>(k % group);
      const unsigned step = static_cast<unsigned>(k / group);
      static constexpr const char* steps[] = {"create", "read", "write", "close", "close"};
      const bool whole =
          step != 1 && step != 2 ? res >= 0 : res == static_cast<int>(w.stx[i].stx_size);
      if (whole || step == 3 || failed_step[i]) return;  // the source's close cannot lose data
      failed_step[i] = steps[step];
      failed_err[i] = res < 0 ? -res : EIO;
    });
    for (unsigned i = 0; i < n; ++i) {
      if (by_ring[i]) {
        if (failed_step[i]) {
          fail(failed_step[i], names[i].c_str(), failed_err[i]);
        } else if (meta_) {
          copy_meta_by_name(s, d, names[i].c_str(), w.stx[i]);
        }
      } else if (stat_res[i] != 0 || S_ISREG(w.stx[i].stx_mode)) {
        copy_plain(s, d, names[i].c_str());  // large, or the ring could not open or stat it
      }
    }
  }

  void copy_plain(int src_dir, int dst_dir, const char* name) {
    const int in = openat(src_dir, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    struct stat st {};
    if (in < 0 || fstat(in, &st) != 0) {
      fail("open", name, errno);
      if (in >= 0) close(in);
      return;
    }
    const int out = openat(dst_dir, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                           st.st_mode & 07777);
    if (out < 0) {
      fail("create", name, errno);
      close(in);
      return;
    }
    for (off_t left = st.st_size; left > 0;) {
      const ssize_t n = copy_file_range(in, nullptr, out, nullptr, static_cast<size_t>(left), 0);
      if (n <= 0) {
        if (n < 0) fail("copy_file_range", name, errno);
        break;
      }
      left -= n;
    }
    if (meta_) {
      static thread_local char list[XATTR_LIST_MAX];
      const ssize_t len = flistxattr(in, list, sizeof list);
      if (len < 0 && errno != ENOTSUP) fail("flistxattr", name, errno);
      copy_xattrs(in, out, list, len, name);
      const struct timespec times[2] = {st.st_atim, st.st_mtim};
      if (futimens(out, times) != 0) fail("futimens", name, errno);
    }
    if (close(out) != 0) fail("close", name, errno);
    close(in);
  }

  // A file copied through the ring: its attributes and times, by name (no descriptor is left).
  void copy_meta_by_name(int s, int d, const char* name, const struct statx& sx) {
    static thread_local char list[XATTR_LIST_MAX];
    const ssize_t len = list_xattrs_at(s, name, list, sizeof list);
    if (len < 0 && errno != ENOTSUP) fail("listxattr", name, errno);
    if (len > 0) {
      const int in = openat(s, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
      const int out = openat(d, name, O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
      if (in < 0 || out < 0) {
        fail("open for attributes", name, errno);
      } else {
        copy_xattrs(in, out, list, len, name);
      }
      if (in >= 0) close(in);
      if (out >= 0) close(out);
    }
    const struct timespec times[2] = {{sx.stx_atime.tv_sec, sx.stx_atime.tv_nsec},
                                      {sx.stx_mtime.tv_sec, sx.stx_mtime.tv_nsec}};
    if (utimensat(d, name, times, AT_SYMLINK_NOFOLLOW) != 0) fail("utimensat", name, errno);
  }

  // The names of the attributes of name in dir: listxattrat where the kernel has it (x86-64's
  // number; Debian 12's headers predate it), else through a descriptor opened for it.
  static ssize_t list_xattrs_at(int dir, const char* name, char* list, std::size_t size) {
#ifdef __x86_64__
    static std::atomic<bool> missing{false};
    if (!missing.load(std::memory_order_relaxed)) {
      constexpr long nr_listxattrat = 465;
      const long n = syscall(nr_listxattrat, dir, name, AT_SYMLINK_NOFOLLOW, list, size);
      if (n >= 0 || errno != ENOSYS) return n;
      missing.store(true, std::memory_order_relaxed);
    }
#endif
    const int fd = openat(dir, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return -1;
    const ssize_t n = flistxattr(fd, list, size);
    const int err = errno;
    close(fd);
    errno = err;
    return n;
  }

  // The attributes named in list (len bytes) from in onto out.
  void copy_xattrs(int in, int out, const char* list, ssize_t len, const char* name) {
    static thread_local char value[XATTR_SIZE_MAX];
    for (ssize_t at = 0; at < len; at += static_cast<ssize_t>(std::strlen(list + at)) + 1) {
      const ssize_t n = fgetxattr(in, list + at, value, sizeof value);
      if (n < 0 || fsetxattr(out, list + at, value, static_cast<size_t>(n), 0) != 0)
        fail("xattr", name, errno);
    }
  }

  int fail(const char* what, const char* name, int err) {
    std::fprintf(stderr, "uring_floor: %s %s: %s\n", what, name, std::strerror(err));
    errors_.fetch_add(1);
    return 1;
  }

  unsigned threads_;
  bool meta_;
  int src_root_ = -1, dst_root_ = -1;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::string> queue_;
  long pending_ = 0;
  std::atomic<int> errors_{0};
};

}  // namespace

int main(int argc, char** argv) {
  unsigned threads = 2;
  bool meta = false;
  int i = 1;
  for (; i < argc && argv[i][0] == '-'; ++i) {
    if (std::strcmp(argv[i], "--meta") == 0) {
      meta = true;
    } else if (std::strcmp(argv[i], "-j") == 0 && i + 1 < argc) {
      threads = static_cast<unsigned>(std::strtoul(argv[++i], nullptr, 10));
    } else {
      break;
    }
  }
  if (argc - i != 2 || threads == 0) {
    std::fprintf(stderr, "usage: uring_floor [-j N] [--meta] SRC DST\n");
    return 2;
  }
  return ring_copier(threads, meta).run(argv[i], argv[i + 1]);
}
