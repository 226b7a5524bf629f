// fd_borrow: what it costs a thread with a descriptor table of its own (unshare(CLONE_FILES)) to
// use a directory descriptor that another such thread opened. A copier whose workers keep private
// tables (bench/fd_tables --private) but hand directories to each other in batches must do this
// once per directory and batch. Two ways, each timed as "get a descriptor of the same directory in
// this thread's table, then close it", against dup() of a descriptor the thread has itself:
//   pidfd_getfd   pidfd_getfd() through a pidfd of the owning thread (pidfd_open(tid,
//                 PIDFD_THREAD), Linux 6.9): the same open file, no lookup by name;
//   proc          open("/proc/self/task/TID/fd/N"): a new open file, through procfs.
// Both must yield the owner's directory (same device and inode), else the tool fails. A way the
// kernel refuses (older kernel, seccomp) is reported as unavailable with the reason.
//
// Usage: fd_borrow [-n COUNT] [DIR]   (COUNT rounds per way, 1 to 10^9, default 100000; DIR
//        default ".")
#include <fcntl.h>
#include <sched.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <thread>

#ifndef PIDFD_THREAD
#define PIDFD_THREAD O_EXCL
#endif

namespace {

struct owner_state {
  std::atomic<int> tid{0};
  std::atomic<int> fd{-1};
  std::atomic<int> error{0};
  std::atomic<bool> done{false};
};

bool same_file(int a, const struct stat& want) {
  struct stat st {};
  return fstat(a, &st) == 0 && st.st_dev == want.st_dev && st.st_ino == want.st_ino;
}

// Times COUNT rounds of get() + close(); false (after saying why) when get() fails or yields
// another file than want.
bool time_way(const char* name, long count, const struct stat& want,
              const std::function<int()>& get) {
  const int first = get();
  if (first < 0) {
    std::printf("%-12s unavailable: %s\n", name, std::strerror(errno));
    return true;
  }
  const bool same = same_file(first, want);
  close(first);
  if (!same) {
    std::fprintf(stderr, "fd_borrow: %s gave another file than the owner's directory\n", name);
    return false;
  }
  const auto start = std::chrono::steady_clock::now();
  for (long i = 0; i < count; ++i) {
    const int fd = get();
    if (fd < 0) {
      std::fprintf(stderr, "fd_borrow: %s failed in round %ld: %s\n", name, i,
                   std::strerror(errno));
      return false;
    }
    close(fd);
  }
  const std::chrono::duration<double, std::nano> took = std::chrono::steady_clock::now() - start;
  std::printf("%-12s %8.0f ns per descriptor (get + close)\n", name,
              took.count() / static_cast<double>(count));
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  long count = 100000;
  const char* dir = ".";
  int i = 1;
  if (i + 1 < argc && std::strcmp(argv[i], "-n") == 0) {
    char* end = nullptr;
    count = std::strtol(argv[i + 1], &end, 10);
    if (*end != 0 || count < 1 || count > 1'000'000'000) count = 0;  // overflow: LONG_MAX
    i += 2;
  }
  if (i < argc) dir = argv[i++];
  if (i != argc || count < 1) {
    std::fprintf(stderr, "usage: fd_borrow [-n COUNT] [DIR]\n");
    return 2;
  }

  owner_state owner;
  std::thread owner_thread([&] {
    if (unshare(CLONE_FILES) != 0) {
      owner.error = errno;
    } else {
      const int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      if (fd < 0) owner.error = errno;
      owner.fd = fd;
    }
    owner.tid = static_cast<int>(gettid());
    while (!owner.done.load()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    if (owner.fd >= 0) close(owner.fd);
  });
  while (owner.tid.load() == 0) std::this_thread::yield();

  bool ok = owner.error == 0;
  if (!ok) std::fprintf(stderr, "fd_borrow: %s: %s\n", dir, std::strerror(owner.error));
  if (ok) {
    std::thread borrower([&] {
      if (unshare(CLONE_FILES) != 0) {
        std::fprintf(stderr, "fd_borrow: unshare(CLONE_FILES): %s\n", std::strerror(errno));
        ok = false;
        return;
      }
      struct stat want {};
      const int mine = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      if (mine < 0 || fstat(mine, &want) != 0) {
        std::fprintf(stderr, "fd_borrow: %s: %s\n", dir, std::strerror(errno));
        ok = false;
        return;
      }
      const int tid = owner.tid.load(), fd = owner.fd.load();
      const std::string proc_path =
          "/proc/self/task/" + std::to_string(tid) + "/fd/" + std::to_string(fd);
      const int pidfd = static_cast<int>(syscall(SYS_pidfd_open, tid, PIDFD_THREAD));
      const int pidfd_errno = errno;
      ok = time_way("dup", count, want, [&] { return dup(mine); }) &&
           time_way("pidfd_getfd", count, want,
                    [&] {
                      if (pidfd < 0) return errno = pidfd_errno, -1;
                      return static_cast<int>(syscall(SYS_pidfd_getfd, pidfd, fd, 0));
                    }) &&
           time_way("proc", count, want,
                    [&] { return open(proc_path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); });
      if (pidfd >= 0) close(pidfd);
      close(mine);
    });
    borrower.join();
  }
  owner.done = true;
  owner_thread.join();
  return ok ? 0 : 1;
}
