// fd_tables: what sharing one descriptor table costs a parallel copier. N threads copy SRC's
// directories and regular files into DST with the six calls per file of the fastest small-file
// copiers (openat, fstat, openat O_CREAT|O_EXCL, copy_file_range, close, close); each thread owns
// whole directories, which it opens by path from SRC's and DST's roots. With --private every
// thread first calls unshare(CLONE_FILES) and so allocates and looks up descriptors in a table of
// its own; by default all threads share the process's table, as treecopy's workers do (they pass
// directory descriptors between tasks). Symlinks and special files are left out; modes are kept
// as O_CREAT's mode keeps them (the umask applies; no fchmod), nothing else. SRC and DST must be on
// one file system: where copy_file_range refuses (EXDEV) every file fails with the reason, as
// there is no fallback. Time it from outside (hyperfine, /usr/bin/time): the two runs differ only
// in the table. Tests: tests/bench/bench_tools_test.py.
//
// With --split, two threads share each directory, as treecopy's batches may: the thread that lists
// it queues the odd-numbered files as a job of their own (on the same two descriptors) and copies
// the even-numbered ones, so both create files in one destination directory at once. With
// --split=reopen the queued half opens its own descriptors of the two directories (openat(fd,
// ".")): what is left of the difference is the directories themselves, not their descriptors.
//
// With --meta every file also gets the two calls `cp -a` adds to those six when the owner is the
// copier's and the file has no extended attributes: flistxattr on the source (each attribute it
// lists is copied) and futimens of the source's access and modification times. So the floor of a
// copy that keeps times and attributes is measured the same way, shared or private.
//
// Usage: fd_tables [-j N] [--private] [--split[=reopen]] [--meta] SRC DST
//        (N threads, default 2; DST must not exist)
#include <dirent.h>
#include <fcntl.h>
#include <linux/limits.h>
#include <sched.h>
#include <sys/stat.h>
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

enum class split_mode { none, shared_fds, reopen };

// A listed directory whose files two jobs copy: the descriptors close with the last of them.
struct listed_dir {
  int src = -1, dst = -1;
  std::vector<std::string> files;
  listed_dir() = default;
  listed_dir(const listed_dir&) = delete;
  listed_dir& operator=(const listed_dir&) = delete;
  ~listed_dir() {
    if (dst >= 0) close(dst);
    if (src >= 0) close(src);
  }
};

class table_copier {
 public:
  table_copier(unsigned threads, bool private_tables, split_mode split, bool meta)
      : threads_(threads), private_(private_tables), split_(split), meta_(meta) {}

  int run(const char* src, const char* dst) {
    // The roots are open before any thread unshares: every private table inherits them.
    src_root_ = open(src, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (src_root_ < 0) return fail("open", src);
    if (mkdir(dst, 0755) != 0) return fail("mkdir", dst);
    dst_root_ = open(dst, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dst_root_ < 0) return fail("open", dst);
    push({".", {}});
    std::vector<std::thread> pool;
    for (unsigned i = 0; i < threads_; ++i) pool.emplace_back([this] { work(); });
    for (auto& t : pool) t.join();
    close(src_root_);
    close(dst_root_);
    return errors_.load() ? 1 : 0;
  }

 private:
  // A directory to list (dir empty), or the odd-numbered files of a listed one.
  struct job {
    std::string rel;
    std::shared_ptr<listed_dir> dir;
  };

  void push(job j) {
    {
      std::lock_guard lock(mu_);
      queue_.push_back(std::move(j));
      ++pending_;
    }
    cv_.notify_one();
  }

  void work() {
    if (private_ && unshare(CLONE_FILES) != 0) fail("unshare", "CLONE_FILES");
    for (;;) {
      job j;
      {
        std::unique_lock lock(mu_);
        cv_.wait(lock, [this] { return !queue_.empty() || pending_ == 0; });
        if (queue_.empty()) return;
        j = std::move(queue_.back());
        queue_.pop_back();
      }
      if (j.dir) {
        copy_half(*j.dir, 1);
      } else {
        copy_dir(j.rel);
      }
      j.dir.reset();
      std::lock_guard lock(mu_);
      if (--pending_ == 0) cv_.notify_all();
    }
  }

  void copy_dir(const std::string& rel) {
    const int s = openat(src_root_, rel.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (s < 0) {
      fail("open", rel.c_str());
      return;
    }
    if (rel != "." && mkdirat(dst_root_, rel.c_str(), 0755) != 0) fail("mkdir", rel.c_str());
    const int d = openat(dst_root_, rel.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    DIR* dir = d < 0 ? nullptr : fdopendir(dup(s));
    if (!dir) {
      fail("opendir", rel.c_str());
      if (d >= 0) close(d);
      close(s);
      return;
    }
    if (split_ == split_mode::none) {
      while (const dirent* e = readdir(dir)) {
        const char* name = e->d_name;
        if (name[0] == '.' && (name[1] == 0 || (name[1] == '.' && name[2] == 0))) continue;
        if (e->d_type == DT_DIR) push({rel == "." ? std::string(name) : rel + '/' + name, {}});
        if (e->d_type == DT_REG) copy_file(s, d, name);
      }
      closedir(dir);
      close(d);
      close(s);
      return;
    }
    auto listed = std::make_shared<listed_dir>();
    listed->src = s;
    listed->dst = d;
    while (const dirent* e = readdir(dir)) {
      const char* name = e->d_name;
      if (name[0] == '.' && (name[1] == 0 || (name[1] == '.' && name[2] == 0))) continue;
      if (e->d_type == DT_DIR) push({rel == "." ? std::string(name) : rel + '/' + name, {}});
      if (e->d_type == DT_REG) listed->files.emplace_back(name);
    }
    closedir(dir);
    push({{}, listed});
    copy_half(*listed, 0);
  }

  // Copies the files of dir whose index has the parity half.
  void copy_half(const listed_dir& dir, std::size_t half) {
    int s = dir.src, d = dir.dst;
    if (split_ == split_mode::reopen && half == 1) {
      s = openat(dir.src, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      d = openat(dir.dst, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      if (s < 0 || d < 0) fail("reopen", ".");
    }
    if (s >= 0 && d >= 0) {
      for (std::size_t i = half; i < dir.files.size(); i += 2)
        copy_file(s, d, dir.files[i].c_str());
    }
    if (s >= 0 && s != dir.src) close(s);
    if (d >= 0 && d != dir.dst) close(d);
  }

  void copy_file(int src_dir, int dst_dir, const char* name) {
    const int in = openat(src_dir, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    struct stat st {};
    if (in < 0 || fstat(in, &st) != 0) {
      fail("open", name);
      if (in >= 0) close(in);
      return;
    }
    const int out = openat(dst_dir, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                           st.st_mode & 07777);
    if (out < 0) {
      fail("create", name);
      close(in);
      return;
    }
    for (off_t left = st.st_size; left > 0;) {
      const ssize_t n = copy_file_range(in, nullptr, out, nullptr, static_cast<size_t>(left), 0);
      if (n <= 0) {
        if (n < 0) fail("copy_file_range", name);
        break;
      }
      left -= n;
    }
    if (meta_) copy_meta(in, out, st, name);
    if (close(out) != 0) fail("close", name);
    close(in);
  }

  // The source's extended attributes and its access and modification times, onto out.
  void copy_meta(int in, int out, const struct stat& st, const char* name) {
    static thread_local char list[XATTR_LIST_MAX];
    static thread_local char value[XATTR_SIZE_MAX];
    const ssize_t len = flistxattr(in, list, sizeof list);
    if (len < 0 && errno != ENOTSUP) fail("flistxattr", name);
    for (ssize_t at = 0; at < len; at += static_cast<ssize_t>(std::strlen(list + at)) + 1) {
      const ssize_t n = fgetxattr(in, list + at, value, sizeof value);
      if (n < 0 || fsetxattr(out, list + at, value, static_cast<size_t>(n), 0) != 0)
        fail("xattr", name);
    }
    const struct timespec times[2] = {st.st_atim, st.st_mtim};
    if (futimens(out, times) != 0) fail("futimens", name);
  }

  int fail(const char* what, const char* name) {
    std::fprintf(stderr, "fd_tables: %s %s: %s\n", what, name, std::strerror(errno));
    errors_.fetch_add(1);
    return 1;
  }

  unsigned threads_;
  bool private_;
  split_mode split_;
  bool meta_;
  int src_root_ = -1, dst_root_ = -1;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<job> queue_;
  long pending_ = 0;
  std::atomic<int> errors_{0};
};

}  // namespace

int main(int argc, char** argv) {
  unsigned threads = 2;
  bool private_tables = false;
  split_mode split = split_mode::none;
  bool meta = false;
  int i = 1;
  for (; i < argc && argv[i][0] == '-'; ++i) {
    if (std::strcmp(argv[i], "--private") == 0) {
      private_tables = true;
    } else if (std::strcmp(argv[i], "--split") == 0) {
      split = split_mode::shared_fds;
    } else if (std::strcmp(argv[i], "--split=reopen") == 0) {
      split = split_mode::reopen;
    } else if (std::strcmp(argv[i], "--meta") == 0) {
      meta = true;
    } else if (std::strcmp(argv[i], "-j") == 0 && i + 1 < argc) {
      threads = static_cast<unsigned>(std::strtoul(argv[++i], nullptr, 10));
    } else {
      break;
    }
  }
  // A private table has no descriptor another thread opened: the halves cannot share them.
  if (argc - i != 2 || threads == 0 || (private_tables && split != split_mode::none)) {
    std::fprintf(stderr,
                 "usage: fd_tables [-j N] [--private] [--split[=reopen]] [--meta] SRC DST\n");
    return 2;
  }
  return table_copier(threads, private_tables, split, meta).run(argv[i], argv[i + 1]);
}
