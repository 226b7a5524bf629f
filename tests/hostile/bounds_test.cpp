// Hard bounds: a copy under a tiny descriptor limit, with few threads allowed or little address
// space either completes exactly or fails with one clear line; it never spins on EMFILE, never
// aborts (no "terminate called", no core dump) and always honours SIGTERM.
#include <fcntl.h>
#include <grp.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <ctime>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "fault_support.hpp"
#include "scratch.hpp"
#include "tree_assert.hpp"
#include "treecopy/treecopy.hpp"

namespace treecopy_test::faults {
namespace {

// A directory fd, closed on scope exit.
struct dir_fd {
  int fd = -1;
  dir_fd(int parent, const char* name) {
    if (::mkdirat(parent, name, 0755) != 0 && errno != EEXIST) ADD_FAILURE() << "mkdir " << name;
    fd = ::openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) ADD_FAILURE() << "open " << name << ": " << std::strerror(errno);
  }
  ~dir_fd() {
    if (fd >= 0) ::close(fd);
  }
  dir_fd(const dir_fd&) = delete;
  dir_fd& operator=(const dir_fd&) = delete;
};

// A past mtime, and an atime ahead of now so that reading the file (relatime) does not move it.
void set_times(int fd) {
  const timespec times[2] = {{::time(nullptr) + 86400, 0}, {1600000000, 123456789}};
  ASSERT_EQ(::futimens(fd, times), 0);
}

void write_at(int dir, const std::string& name, const std::string& data) {
  const int fd =
      ::openat(dir, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
  ASSERT_GE(fd, 0) << name << ": " << std::strerror(errno);
  ASSERT_EQ(::write(fd, data.data(), data.size()), static_cast<ssize_t>(data.size()));
  set_times(fd);
  ::close(fd);
}

// Descriptors the test inherited (from the shell or the test runner) would count against the
// CLI's limit too: the limits below are about what treecopy itself needs, from a clean start.
void keep_descriptors_from_children() {
  for (int fd = 3; fd < 1024; ++fd) {
    const int flags = ::fcntl(fd, F_GETFD);
    if (flags >= 0) ::fcntl(fd, F_SETFD, flags | FD_CLOEXEC);
  }
}

// Every shape that holds descriptors: a chain of 10 nested directories, a wide directory, many
// sibling directories, a 130 MiB sparse file (the large-file stream path) and hard links, one of
// them to the large file from another directory.
void build_bounded_tree(const std::string& src, int files_per_dir = 8, int siblings = 12) {
  keep_descriptors_from_children();
  ASSERT_EQ(::mkdir(src.c_str(), 0755), 0);
  const int root = ::open(src.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  ASSERT_GE(root, 0);
  {
    std::vector<std::unique_ptr<dir_fd>> chain;
    int parent = root;
    for (int depth = 0; depth < 10; ++depth) {
      chain.push_back(std::make_unique<dir_fd>(parent, ("n" + std::to_string(depth)).c_str()));
      parent = chain.back()->fd;
      for (int i = 0; i < 3; ++i)
        write_at(parent, "f" + std::to_string(i), std::string(depth * 7 + i, 'd'));
    }
    dir_fd wide(root, "wide");
    for (int i = 0; i < 300; ++i)
      write_at(wide.fd, "w" + std::to_string(i), "wide " + std::to_string(i));
    for (int s = 0; s < siblings; ++s) {
      dir_fd d(root, ("s" + std::to_string(s)).c_str());
      dir_fd inner(d.fd, "inner");
      for (int i = 0; i < files_per_dir; ++i) {
        write_at(d.fd, "f" + std::to_string(i), std::string(100 * i + s, 'a' + (i % 26)));
        write_at(inner.fd, "g" + std::to_string(i), std::to_string(s * 1000 + i));
      }
    }
    dir_fd big(root, "big");
    const int fd =
        ::openat(big.fd, "sparse", O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    ASSERT_GE(fd, 0);
    const std::string block(4096, 'x');
    for (off_t at : {off_t{0}, off_t{64} << 20, (off_t{130} << 20) - 4096}) {
      ASSERT_EQ(::pwrite(fd, block.data(), block.size(), at), 4096);
    }
    set_times(fd);
    ::close(fd);
    dir_fd links(root, "links");
    ASSERT_EQ(::linkat(big.fd, "sparse", links.fd, "sparse-link", 0), 0);
    ASSERT_EQ(::linkat(wide.fd, "w7", links.fd, "w7-link", 0), 0);
    dir_fd s0(root, "s0");
    ASSERT_EQ(::linkat(wide.fd, "w7", s0.fd, "w7-again", 0), 0);
  }
  ::close(root);
}

bool exists(const std::string& path) {
  struct stat st {};
  return ::fstatat(AT_FDCWD, path.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0;
}

// The outcome of a run under a limit: exact copy, or one line and (below the descriptor minimum)
// nothing created. Never an abort, never a hang.
void expect_exact_or_one_line(const process_result& r, const std::string& src,
                              const std::string& dst, const compare_options& cmp = {}) {
  ASSERT_FALSE(hung(r)) << r.describe();
  ASSERT_EQ(r.signal, 0) << r.describe();
  ASSERT_NE(r.exit_code, 134) << r.describe();
  EXPECT_EQ(r.err.find("terminate called"), std::string::npos) << r.describe();
  if (r.exit_code == 0) {
    EXPECT_TRUE(same_trees(src, dst, cmp));
    return;
  }
  const auto lines = split_lines(r.err);
  ASSERT_EQ(lines.size(), 1u) << r.describe();
  EXPECT_EQ(lines[0].rfind("treecopy: ", 0), 0u) << r.describe();
}

// `ulimit -n 12`, one worker: the copy used to wait forever for descriptors it held itself.
TEST(bounds, one_worker_at_twelve_descriptors_copies_exactly) {
  if (auto why = sanitizer_runtime()) GTEST_SKIP() << *why;
  scratch_dir dir("bounds-twelve");
  const std::string src = dir / "src", dst = dir / "dst";
  build_bounded_tree(src);
  const auto r = run_treecopy_limited({"-q", "-j", "1", src, dst}, 120, nofile(12));
  ASSERT_FALSE(hung(r)) << r.describe();
  ASSERT_TRUE(exited_with(r, 0));
  EXPECT_TRUE(same_trees(src, dst));
}

// Every -j under every small limit: fewer workers hold descriptors, so the copy is exact; below
// the minimum (12 for the CLI copying a directory: 3 standard streams, 2 for signals, SRC, DST's
// parent and DST, one directory pair and one file pair) it exits 2, names the cause and creates
// nothing.
TEST(bounds, descriptor_matrix_copies_exactly_or_refuses_to_start) {
  if (auto why = sanitizer_runtime()) GTEST_SKIP() << *why;
  scratch_dir dir("bounds-matrix");
  const std::string src = dir / "src";
  build_bounded_tree(src);
  int n = 0;
  for (unsigned jobs : {1u, 2u, 8u, 64u}) {
    for (unsigned long limit : {10ul, 12ul, 16ul, 24ul, 64ul}) {
      SCOPED_TRACE("-j " + std::to_string(jobs) + ", nofile " + std::to_string(limit));
      const std::string dst = dir / ("dst" + std::to_string(n++));
      const auto r =
          run_treecopy_limited({"-q", "-j", std::to_string(jobs), src, dst}, 120, nofile(limit));
      expect_exact_or_one_line(r, src, dst);
      if (limit >= 12) {
        EXPECT_TRUE(exited_with(r, 0));
      } else {
        EXPECT_TRUE(exited_with(r, 2));
        EXPECT_TRUE(one_error_line_naming(r, "file descriptors"));
        EXPECT_FALSE(exists(dst)) << dst;
      }
    }
  }
}

// Arguments for running the CLI as uid 65534 under prlimit.
process_result run_limited_as_nobody(const std::string& prlimit_arg,
                                     const std::vector<std::string>& args) {
  std::vector<std::string> argv{"timeout", "-k", "10", "120", "prlimit", prlimit_arg, cli_path()};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_process(argv, as_uid(unprivileged_id));
}

compare_options unprivileged_compare() {
  compare_options cmp;
  cmp.owner = false;  // an unprivileged copy belongs to its user
  return cmp;
}

// A few threads allowed (RLIMIT_NPROC counts every thread of the user) or little address space:
// TBB used to end the process ("pthread_create has failed", exit 134) or wait forever.
TEST(bounds, few_threads_or_little_memory_copy_exactly_or_fail_in_one_line) {
  if (auto why = sanitizer_runtime()) GTEST_SKIP() << *why;
  if (auto why = unprivileged_unavailable()) {
    GTEST_SKIP() << *why;
  }
  scratch_dir dir("bounds-threads");
  dir.give_to(unprivileged_id);
  const std::string src = dir / "src";
  build_bounded_tree(src);
  int n = 0;
  std::vector<std::string> limits = {"--nproc=1", "--nproc=2", "--nproc=4", "--nproc=8"};
  for (unsigned long mib : {32ul, 64ul, 128ul, 256ul})
    limits.push_back("--as=" + std::to_string(mib << 20));
  for (const std::string& limit : limits) {
    SCOPED_TRACE(limit);
    const std::string dst = dir / ("dst" + std::to_string(n++));
    const auto r = run_limited_as_nobody(limit, {"-q", "-j", "8", src, dst});
    expect_exact_or_one_line(r, src, dst, unprivileged_compare());
    if (limit.rfind("--nproc", 0) == 0) {
      EXPECT_TRUE(exited_with(r, 0));
    }
  }
}

// Starts the CLI as uid 65534 with RLIMIT_NPROC `nproc`, stderr to err_path; returns its pid.
pid_t spawn_as_nobody(unsigned long nproc, const std::vector<std::string>& args,
                      const std::string& err_path) {
  std::vector<std::string> all{cli_path()};
  all.insert(all.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : all) argv.push_back(a.data());
  argv.push_back(nullptr);
  const int err = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (err < 0) return -1;
  const pid_t pid = ::fork();
  if (pid == 0) {
    const rlimit lim{nproc, nproc};
    if (::dup2(err, STDERR_FILENO) < 0 || ::setgroups(0, nullptr) != 0 ||
        ::setgid(unprivileged_id) != 0 || ::setuid(unprivileged_id) != 0 ||
        ::setrlimit(RLIMIT_NPROC, &lim) != 0)
      ::_exit(126);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  ::close(err);
  return pid;
}

// Waits up to `seconds` for pid; kills it and returns -1 when it does not end.
int wait_limited(pid_t pid, int seconds) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  int status = 0;
  while (std::chrono::steady_clock::now() < until) {
    if (::waitpid(pid, &status, WNOHANG) == pid) return status;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ::kill(pid, SIGKILL);
  ::waitpid(pid, &status, 0);
  return -1;
}

// SIGTERM in the middle of a copy that could start no thread, or only a few, still ends it with
// exit code 143.
TEST(bounds, sigterm_is_honoured_with_few_threads) {
  if (auto why = unprivileged_unavailable()) {
    GTEST_SKIP() << *why;
  }
  scratch_dir dir("bounds-sigterm");
  dir.give_to(unprivileged_id);
  const std::string src = dir / "src";
  build_bounded_tree(src, 400, 40);  // 40 x 800 files: a copy of a few seconds with few workers
  int n = 0;
  for (unsigned long nproc : {1ul, 2ul, 4ul}) {
    SCOPED_TRACE("nproc " + std::to_string(nproc));
    const std::string dst = dir / ("dst" + std::to_string(n++));
    const std::string err = dir / ("err" + std::to_string(n));
    const pid_t pid = spawn_as_nobody(nproc, {"-q", "-j", "8", src, dst}, err);
    ASSERT_GT(pid, 0);
    // Mid-run: once the copy has created DST's first directories.
    for (int i = 0; i < 1500 && !exists(dst + "/s0"); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    ::kill(pid, SIGTERM);
    const int status = wait_limited(pid, 60);
    ASSERT_NE(status, -1) << "did not end after SIGTERM: " << read_file(err).value_or("");
    if (WIFEXITED(status) && WEXITSTATUS(status) == 126) {
      GTEST_SKIP() << "cannot switch to uid 65534";
    }
    EXPECT_TRUE(WIFEXITED(status)) << "killed by signal " << WTERMSIG(status);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) continue;  // finished before the signal
    EXPECT_EQ(WEXITSTATUS(status), 143) << read_file(err).value_or("");
    EXPECT_EQ(read_file(err).value_or("").find("terminate called"), std::string::npos);
  }
}

// The library under the same limits: copy_tree() returns a report or throws, never terminates.
TEST(bounds, library_copy_with_no_thread_to_spare_returns_or_throws) {
  if (!running_as_root()) {
    GTEST_SKIP() << "needs root to switch to uid 65534";
  }
  scratch_dir dir("bounds-library");
  dir.give_to(unprivileged_id);
  const std::string src = dir / "src", dst = dir / "dst";
  build_bounded_tree(src);
  for (unsigned long nproc : {1ul, 3ul}) {
    SCOPED_TRACE("nproc " + std::to_string(nproc));
    const std::string to = dst + std::to_string(nproc);
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      const rlimit lim{nproc, nproc};
      if (::setgroups(0, nullptr) != 0 || ::setgid(unprivileged_id) != 0 ||
          ::setuid(unprivileged_id) != 0 || ::setrlimit(RLIMIT_NPROC, &lim) != 0)
        ::_exit(126);
      try {
        treecopy::copy_options options;
        options.jobs = 8;
        const treecopy::copy_report rep = treecopy::copy_tree(src, to, options);
        ::_exit(rep.error_count == 0 ? 0 : 1);
      } catch (const std::system_error&) {
        ::_exit(3);
      }
    }
    const int status = wait_limited(pid, 120);
    ASSERT_NE(status, -1) << "copy_tree() did not return";
    ASSERT_TRUE(WIFEXITED(status)) << "killed by signal " << WTERMSIG(status);
    if (WEXITSTATUS(status) == 126) {
      GTEST_SKIP() << "cannot switch to uid 65534";
    }
    EXPECT_TRUE(WEXITSTATUS(status) == 0 || WEXITSTATUS(status) == 3) << WEXITSTATUS(status);
    if (WEXITSTATUS(status) == 0) {
      EXPECT_TRUE(same_trees(src, to, unprivileged_compare()));
    }
  }
}

}  // namespace
}  // namespace treecopy_test::faults
