// floor_copy: the lower bound the benchmarks compare treecopy against. A minimal parallel tree
// copier that does only the work any copier must do: read each directory, create it, and per file
// openat, fstat, create, copy_file_range, fchmod, futimens and close. No ownership, no xattrs, no
// hard links, no directory metadata, no sparse handling: just the floor. The one fallback is
// read/write where copy_file_range is refused (EXDEV between two mounts), as every copier needs.
//
// Usage: floor_copy [-j N] SRC DST   (N threads, default 2; DST must not exist)
//
// Threads share one LIFO stack of work items under a mutex: "read this directory" or "copy this
// batch of files". Reading a directory creates its subdirectories at once and pushes them, and cuts
// its files into batches so that one huge directory is still shared between threads.
#include <dirent.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace {

constexpr std::size_t batch_size = 128;

struct work_item {
  int src_dir = -1;  // directory holding the entries (kept open until the end)
  int dst_dir = -1;
  std::vector<std::string> names;  // files to copy; empty: read src_dir itself
};

class floor_copier {
 public:
  explicit floor_copier(unsigned threads) : threads_(threads) {}

  int run(const char* src, const char* dst) {
    int s = open(src, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (s < 0) return fail("open", src);
    if (mkdir(dst, 0755) != 0) return fail("mkdir", dst);
    int d = open(dst, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (d < 0) return fail("open", dst);
    remember(s, d);
    push(work_item{s, d, {}});

    std::vector<std::thread> pool;
    for (unsigned i = 1; i < threads_; ++i) pool.emplace_back([this] { work(); });
    work();
    for (auto& t : pool) t.join();
    for (int fd : open_fds_) close(fd);
    return errors_.load() ? 1 : 0;
  }

 private:
  void push(work_item item) {
    {
      std::lock_guard lock(mu_);
      stack_.push_back(std::move(item));
      ++pending_;
    }
    cv_.notify_one();
  }

  void work() {
    for (;;) {
      work_item item;
      {
        std::unique_lock lock(mu_);
        cv_.wait(lock, [this] { return !stack_.empty() || pending_ == 0; });
        if (stack_.empty()) return;
        item = std::move(stack_.back());
        stack_.pop_back();
      }
      if (item.names.empty()) {
        read_dir(item.src_dir, item.dst_dir);
      } else {
        for (const auto& name : item.names) copy_file(item.src_dir, item.dst_dir, name.c_str());
      }
      std::lock_guard lock(mu_);
      if (--pending_ == 0) cv_.notify_all();
    }
  }

  void read_dir(int src_dir, int dst_dir) {
    int fd = dup(src_dir);
    DIR* dir = fd < 0 ? nullptr : fdopendir(fd);
    if (!dir) {
      fail("opendir", "?");
      return;
    }
    work_item batch{src_dir, dst_dir, {}};
    while (dirent* e = readdir(dir)) {
      const char* name = e->d_name;
      if (name[0] == '.' && (name[1] == 0 || (name[1] == '.' && name[2] == 0))) continue;
      unsigned char type = e->d_type;
      struct stat st;
      if (type == DT_UNKNOWN && fstatat(src_dir, name, &st, AT_SYMLINK_NOFOLLOW) == 0)
        type = S_ISDIR(st.st_mode)   ? DT_DIR
               : S_ISLNK(st.st_mode) ? DT_LNK
               : S_ISREG(st.st_mode) ? DT_REG
                                     : 0;
      if (type == DT_DIR) {
        int s = openat(src_dir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (s < 0 || mkdirat(dst_dir, name, 0755) != 0) {
          if (s >= 0) close(s);
          fail("mkdir", name);
          continue;
        }
        int d = openat(dst_dir, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (d < 0) {
          close(s);
          fail("open", name);
          continue;
        }
        remember(s, d);
        push(work_item{s, d, {}});
      } else if (type == DT_LNK) {
        char target[4096];
        ssize_t n = readlinkat(src_dir, name, target, sizeof target - 1);
        if (n < 0) {
          fail("readlink", name);
          continue;
        }
        target[n] = 0;
        // Links keep their times too, so that the copy passes the same check as the others'.
        struct stat ls;
        if (symlinkat(target, dst_dir, name) != 0) {
          fail("symlink", name);
        } else if (fstatat(src_dir, name, &ls, AT_SYMLINK_NOFOLLOW) == 0) {
          const struct timespec times[2] = {ls.st_atim, ls.st_mtim};
          utimensat(dst_dir, name, times, AT_SYMLINK_NOFOLLOW);
        }
      } else if (type == DT_REG) {
        batch.names.emplace_back(name);
        if (batch.names.size() == batch_size) {
          push(std::move(batch));
          batch = work_item{src_dir, dst_dir, {}};
        }
      }
    }
    closedir(dir);
    // The last partial batch is copied here instead of queued: the cheapest hand-off.
    for (const auto& name : batch.names) copy_file(src_dir, dst_dir, name.c_str());
  }

  void copy_file(int src_dir, int dst_dir, const char* name) {
    int in = openat(src_dir, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (in < 0) {
      fail("open", name);
      return;
    }
    struct stat st;
    if (fstat(in, &st) != 0) {
      fail("fstat", name);
      close(in);
      return;
    }
    int out = openat(dst_dir, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, st.st_mode & 07777);
    if (out < 0) {
      fail("create", name);
      close(in);
      return;
    }
    copy_data(in, out, st.st_size, name);
    if (fchmod(out, st.st_mode & 07777) != 0) fail("fchmod", name);
    const struct timespec times[2] = {st.st_atim, st.st_mtim};
    if (futimens(out, times) != 0) fail("futimens", name);
    if (close(out) != 0) fail("close", name);
    close(in);
  }

  // copy_file_range, or read/write where the kernel refuses it (between two ext4 mounts it
  // returns EXDEV); after the first refusal every later file goes straight to read/write.
  void copy_data(int in, int out, off_t size, const char* name) {
    off_t left = size;
    while (left > 0 && use_cfr_.load(std::memory_order_relaxed)) {
      ssize_t n = copy_file_range(in, nullptr, out, nullptr, static_cast<size_t>(left), 0);
      if (n > 0) {
        left -= n;
        continue;
      }
      if (n == 0) return;
      if (errno != EXDEV && errno != EINVAL && errno != EOPNOTSUPP && errno != ENOSYS) {
        fail("copy_file_range", name);
        return;
      }
      use_cfr_.store(false, std::memory_order_relaxed);
    }
    thread_local std::vector<char> buf(1 << 17);
    while (left > 0) {
      ssize_t n = read(in, buf.data(), buf.size());
      if (n <= 0) {
        if (n < 0) fail("read", name);
        return;
      }
      for (ssize_t done = 0; done < n;) {
        ssize_t w = write(out, buf.data() + done, static_cast<size_t>(n - done));
        if (w < 0) {
          fail("write", name);
          return;
        }
        done += w;
      }
      left -= n;
    }
  }

  void remember(int s, int d) {
    std::lock_guard lock(fds_mu_);
    open_fds_.push_back(s);
    open_fds_.push_back(d);
  }

  int fail(const char* what, const char* name) {
    int err = errno;
    if (errors_.fetch_add(1) < 10)
      std::fprintf(stderr, "floor_copy: %s %s: %s\n", what, name, std::strerror(err));
    return 1;
  }

  unsigned threads_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<work_item> stack_;
  std::size_t pending_ = 0;
  std::mutex fds_mu_;
  std::vector<int> open_fds_;
  std::atomic<unsigned> errors_{0};
  std::atomic<bool> use_cfr_{true};
};

}  // namespace

int main(int argc, char** argv) {
  unsigned threads = 2;
  int arg = 1;
  if (arg + 1 < argc && std::strcmp(argv[arg], "-j") == 0) {
    threads = static_cast<unsigned>(std::atoi(argv[arg + 1]));
    arg += 2;
  }
  if (argc - arg != 2 || threads == 0) {
    std::fprintf(stderr, "usage: floor_copy [-j N] SRC DST\n");
    return 2;
  }
  // Every directory keeps two descriptors open until the end.
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
  return floor_copier(threads).run(argv[arg], argv[arg + 1]);
}
