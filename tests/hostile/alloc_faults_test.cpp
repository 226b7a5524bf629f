// Memory and threads running out in the middle of a copy: the k-th allocation fails (a shim
// preloaded into the command, tests/hostile/fault_shim.cpp), swept over k, or thread starts are
// refused. The copy never hangs and never aborts: it ends with exit 0 and an exact copy, or exit 1
// and a destination whose every file is complete, every missing one reported (itself or a
// directory above it).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <ctime>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "fault_support.hpp"
#include "scratch.hpp"
#include "tree_assert.hpp"

namespace treecopy_test::faults {
namespace {

// Why the shim cannot be used in this build, or nullopt.
std::optional<std::string> shim_unavailable() {
  // ASan and TSan replace malloc themselves and must be the first library loaded: a preloaded
  // malloc comes before them and the runtime refuses to start.
  if (auto why = sanitizer_runtime())
    return "the fault shim replaces malloc, as the sanitizer does";
  if (::access(TREECOPY_FAULT_SHIM, R_OK) != 0) return std::string("no ") + TREECOPY_FAULT_SHIM;
  return std::nullopt;
}

// 9 directories of 100 small files: enough entries that the copy starts its workers.
void build_tree(const std::string& src) {
  ASSERT_EQ(::mkdir(src.c_str(), 0755), 0);
  const int root = ::open(src.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  ASSERT_GE(root, 0);
  for (int d = 0; d < 9; ++d) {
    const std::string dir = "d" + std::to_string(d);
    ASSERT_EQ(::mkdirat(root, dir.c_str(), 0755), 0);
    const int dfd = ::openat(root, dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    ASSERT_GE(dfd, 0);
    for (int f = 0; f < 100; ++f) {
      const std::string name = "f" + std::to_string(f);
      const int fd =
          ::openat(dfd, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
      ASSERT_GE(fd, 0);
      const std::string data = dir + "/" + name + std::string(static_cast<std::size_t>(f), 'x');
      ASSERT_EQ(::write(fd, data.data(), data.size()), static_cast<ssize_t>(data.size()));
      // An atime ahead of now: reading the file (relatime) does not move it, copy after copy.
      const timespec times[2] = {{::time(nullptr) + 86400, 0}, {1600000000, 123456789}};
      ASSERT_EQ(::futimens(fd, times), 0);
      ::close(fd);
    }
    ::close(dfd);
  }
  ::close(root);
}

// The command under the shim with the given settings, at most 20 seconds.
process_result run_with_shim(const std::vector<std::string>& settings,
                             const std::vector<std::string>& args) {
  std::vector<std::string> argv{"timeout", "-k",  "5",
                                "20",      "env", std::string("LD_PRELOAD=") + TREECOPY_FAULT_SHIM};
  argv.insert(argv.end(), settings.begin(), settings.end());
  argv.push_back(cli_path());
  argv.insert(argv.end(), args.begin(), args.end());
  return run_process(argv);
}

// Allocations and threads of oneTBB's own counted by the shim in a copy that fails nothing.
struct counts {
  long allocations = 0, threads = 0, tbb_threads = 0;
};
counts count_run(const std::string& src, const std::string& dst, const std::string& file) {
  const auto r = run_with_shim({"TREECOPY_COUNT_FILE=" + file}, {"-q", "-j", "8", src, dst});
  EXPECT_TRUE(exited_with(r, 0)) << r.describe();
  counts c;
  std::istringstream in(read_file(file).value_or(""));
  in >> c.allocations >> c.threads >> c.tbb_threads;
  return c;
}

// rel relative to the root it is under (src or dst), or nullopt.
std::optional<std::string> relative(const std::string& path, const std::string& src,
                                    const std::string& dst) {
  for (const std::string* root : {&src, &dst}) {
    if (path == *root) return std::string();
    if (path.rfind(*root + "/", 0) == 0) return path.substr(root->size() + 1);
  }
  return std::nullopt;
}

// Exit 0 and an exact copy, or exit 1 with complete files and every missing one reported. When
// every allocation fails (all), paths cannot be formatted either: the files copied must still be
// complete, and each failure is still told by a line (without its path), never an exit 1 in
// silence (under -q those lines are all the user sees).
void expect_copy_or_reported(const process_result& r, const std::string& src,
                             const std::string& dst, bool all) {
  ASSERT_FALSE(hung(r)) << "hung: " << r.describe();
  ASSERT_EQ(r.signal, 0) << r.describe();
  ASSERT_NE(r.exit_code, 134) << r.describe();
  EXPECT_EQ(r.err.find("terminate called"), std::string::npos) << r.describe();
  if (r.exit_code == 0) {
    EXPECT_TRUE(same_trees(src, dst)) << r.describe();
    return;
  }
  if (r.exit_code == 2) {  // out of memory before the copy started: one line
    EXPECT_EQ(split_lines(r.err).size(), 1u) << r.describe();
    return;
  }
  ASSERT_EQ(r.exit_code, 1) << r.describe();
  for (const std::string& problem : incomplete_files(src, dst)) ADD_FAILURE() << problem;
  EXPECT_FALSE(r.err.empty()) << "exit 1 without a word: " << r.describe();
  if (all) return;
  std::set<std::string> reported;
  bool stopped = false;  // the copy as a whole stopped, with a message
  for (const error_line& e : parse_error_lines(r.err)) {
    if (auto rel = relative(e.path, src, dst)) reported.insert(*rel);
  }
  if (r.err.find("copy stopped") != std::string::npos) stopped = true;
  const auto copied = regular_files(dst);
  const std::set<std::string> there(copied.begin(), copied.end());
  for (const std::string& f : regular_files(src)) {
    if (there.count(f) || stopped) continue;
    bool covered = reported.count("") != 0;
    for (std::size_t at = 0; !covered && at != std::string::npos;) {
      at = f.find('/', at + 1);
      covered = reported.count(f.substr(0, at)) != 0;
    }
    EXPECT_TRUE(covered) << f << " missing and not reported: " << r.describe();
  }
}

// One allocation fails, at points spread over the last quarter of the command's allocations (the
// copy itself, where the workers run; before it come the options and the setup): a task that
// oneTBB could not allocate used to leave every thread waiting forever. Then the
// same with every allocation failing from that point on, as under a memory limit.
TEST(alloc_faults, failing_allocation_never_hangs_and_leaves_a_reported_partial_copy) {
  if (auto why = shim_unavailable()) GTEST_SKIP() << *why;
  scratch_dir dir("alloc-faults");
  const std::string src = dir / "src";
  build_tree(src);
  const counts c = count_run(src, dir / "counted", dir / "count");
  ASSERT_GT(c.allocations, 100);
  const long from = c.allocations * 3 / 4;
  const long step = std::max(1L, (c.allocations - from) / 80);
  int n = 0;
  for (const bool all : {false, true}) {
    for (long k = from; k <= c.allocations; k += all ? 4 * step : step) {
      SCOPED_TRACE("allocation " + std::to_string(k) + (all ? " and every one after" : ""));
      const std::string dst = dir / ("dst" + std::to_string(n++));
      const std::string log = dir / ("log" + std::to_string(n));
      const auto r = run_with_shim({"TREECOPY_FAIL_ALLOC=" + std::to_string(k),
                                    std::string("TREECOPY_FAIL_ALLOC_ALL=") + (all ? "1" : "0"),
                                    "TREECOPY_FAULT_LOG=" + log},
                                   {"-q", "-j", "8", src, dst});
      ASSERT_FALSE(hung(r)) << "hung: " << r.describe();
      // oneTBB itself does not survive some of its own allocations failing: a worker's start
      // (a noexcept routine: terminate), a thread's first use of oneTBB (it frees what it never
      // allocated: SIGSEGV). Such an end is oneTBB's, told apart by where the allocation was
      // made. When oneTBB is linked into the command (no thread of its own seen), its code cannot
      // be told apart and no such end is judged. A hang always is.
      const bool died = r.signal != 0 || r.exit_code == 134;
      if (died && (c.tbb_threads == 0 || read_file(log).value_or("") == "tbb\n")) continue;
      expect_copy_or_reported(r, src, dst, all);
      if (HasFatalFailure()) return;
    }
  }
}

// Thread starts refused from the k-th on: fewer workers, never an abort or a hang.
TEST(alloc_faults, refused_thread_starts_copy_exactly) {
  if (auto why = shim_unavailable()) GTEST_SKIP() << *why;
  scratch_dir dir("alloc-faults-threads");
  const std::string src = dir / "src";
  build_tree(src);
  for (int k = 1; k <= 10; ++k) {
    SCOPED_TRACE("thread start " + std::to_string(k));
    const std::string dst = dir / ("dst" + std::to_string(k));
    const auto r =
        run_with_shim({"TREECOPY_FAIL_THREAD=" + std::to_string(k)}, {"-q", "-j", "8", src, dst});
    ASSERT_FALSE(hung(r)) << r.describe();
    EXPECT_TRUE(exited_with(r, 0)) << r.describe();
    EXPECT_TRUE(same_trees(src, dst)) << r.describe();
  }
}

}  // namespace
}  // namespace treecopy_test::faults
