// Small files copied in batches through io_uring (src/engine/small_files.cpp): directories whose
// files are every kind the batch must take or leave to the ordinary path, copied with batches,
// without them (TREECOPY_IO_URING=0), where io_uring is refused (a seccomp filter, as in
// containers), as an unprivileged user, with few descriptors, and with only modes kept. Each copy
// must equal the source (or cp -a's copy) on every attribute.
#include <gtest/gtest.h>
#include <linux/io_uring.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "copiers.hpp"
#include "scratch.hpp"
#include "tree_assert.hpp"
#include "tree_maker.hpp"
#include "tree_walk.hpp"

namespace treecopy_test {
namespace {

// A directory of 200 entries: files of every size around the batch's limit (8 KiB) and far
// above it, empty ones, all permission bits (set-id and sticky among them), foreign owners when
// root, extended attributes and ACLs, hard-link pairs, symlinks, FIFOs and a sparse file between
// them; and a directory of 9 small files, just above what makes a batch.
void build_batch_tree(const std::string& root, bool privileged) {
  tree_maker m(root, 42);
  const std::vector<std::size_t> sizes = {0, 1, 100, 4095, 8191, 8192, 8193, 16385, 70000, 9000};
  const std::vector<mode_t> modes = {0644, 0600, 0755, 0444, 0640, 04755, 02750, 01644, 0400, 0711};
  const std::string acl =
      posix_acl_value({{1, 0, 6}, {2, 1234, 4}, {4, 0, 4}, {0x10, 0, 4}, {0x20, 0, 0}});
  m.dir("flat", 0755);
  for (int i = 0; i < 200; ++i) {
    const std::string rel = "flat/e" + std::to_string(i);
    if (i % 17 == 16) {
      m.symlink(rel, "e" + std::to_string(i - 1));
    } else if (i % 31 == 30) {
      m.special(rel, S_IFIFO, 0640);
    } else if (i % 13 == 12) {
      m.hardlink("flat/e" + std::to_string(i - 1), rel);
    } else if (i == 99) {
      m.sparse_file(rel, 1 << 20, {0, 512 << 10});
    } else {
      std::optional<owner> who;
      if (privileged && i % 3 == 0) who = owner{1234, 5678};
      // One file past 1 MiB: the walk's own (it hands the entries after it to other workers).
      const std::size_t size =
          i == 49 ? (1u << 20) + 1 : sizes[static_cast<std::size_t>(i) % sizes.size()];
      m.file(rel, m.random_bytes(size), modes[static_cast<std::size_t>(i / 10) % modes.size()],
             who);
      if (i % 5 == 0) {
        EXPECT_FALSE(m.xattr(rel, "user.batch", "value " + std::to_string(i)));
      }
      if (i % 7 == 0 && privileged) {
        EXPECT_FALSE(m.xattr(rel, "system.posix_acl_access", acl));
      }
    }
  }
  // Plain small files only: each one is the batch's.
  m.dir("plain", 0755);
  for (int i = 0; i < 300; ++i)
    m.file("plain/p" + std::to_string(i), m.random_bytes(static_cast<std::size_t>(i * 53) % 8193));
  m.dir("nine", 0750);
  for (int i = 0; i < 9; ++i)
    m.file("nine/f" + std::to_string(i), m.random_bytes(static_cast<std::size_t>(i) * 1000));
  m.finish();
}

compare_options against(const char* left, const char* right) {
  compare_options o;
  o.left_label = left;
  o.right_label = right;
  return o;
}

// The counts of `strace -c`'s table: syscall name -> (calls, errors).
std::map<std::string, std::pair<long, long>> syscall_counts(const std::string& path) {
  std::map<std::string, std::pair<long, long>> counts;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::vector<std::string> f;
    for (std::string w; fields >> w;) f.push_back(w);
    // "% time seconds usecs/call calls [errors] syscall"
    if (f.size() == 5) counts[f[4]] = {std::atol(f[3].c_str()), 0};
    if (f.size() == 6) counts[f[5]] = {std::atol(f[3].c_str()), std::atol(f[4].c_str())};
  }
  return counts;
}

class small_files_test : public testing::Test {
 protected:
  void SetUp() override { build_batch_tree(src_, running_as_root()); }
  scratch_dir scratch_{"small-files"};
  std::string src_ = scratch_ / "src";
};

TEST_F(small_files_test, batches_equal_the_source_for_every_worker_count) {
  for (const char* jobs : {"1", "2", "4"}) {
    const std::string dst = scratch_ / (std::string("dst_j") + jobs);
    const process_result r = run_treecopy({"-q", "-j", jobs, src_, dst});
    EXPECT_TRUE(exited_with(r, 0)) << r.describe();
    EXPECT_TRUE(same_trees(src_, dst, against("source", "treecopy"))) << "jobs " << jobs;
  }
}

TEST_F(small_files_test, without_io_uring_the_copy_is_the_same) {
  const process_result off =
      run_process({"env", "TREECOPY_IO_URING=0", cli_path(), "-q", src_, scratch_ / "off"});
  EXPECT_TRUE(exited_with(off, 0)) << off.describe();
  EXPECT_TRUE(same_trees(src_, scratch_ / "off", against("source", "treecopy, no io_uring")));
  // Refused by the kernel, as under a container's seccomp profile: the ordinary path, silently.
  const process_result denied =
      run_process({TREECOPY_DENY_IO_URING, cli_path(), "-q", src_, scratch_ / "denied"});
  EXPECT_TRUE(exited_with(denied, 0)) << denied.describe();
  EXPECT_EQ(denied.err, "");
  EXPECT_TRUE(
      same_trees(src_, scratch_ / "denied", against("source", "treecopy, io_uring refused")));
}

TEST_F(small_files_test, with_few_descriptors_nothing_fails) {
  for (unsigned long limit : {24ul, 40ul, 100ul}) {
    const std::string dst = scratch_ / ("dst_n" + std::to_string(limit));
    const process_result r = run_treecopy({"-q", "-j", "4", src_, dst}, with_nofile_limit(limit));
    EXPECT_TRUE(exited_with(r, 0)) << "ulimit -n " << limit << ": " << r.describe();
    EXPECT_TRUE(same_trees(src_, dst, against("source", "treecopy"))) << "ulimit -n " << limit;
  }
}

TEST_F(small_files_test, only_modes_kept_as_cp_preserve_mode) {
  const process_result cp = run_process(
      {"cp", "-R", "--preserve=mode", "--no-target-directory", "--", src_, scratch_ / "cp"});
  ASSERT_TRUE(exited_with(cp, 0)) << cp.describe();
  const process_result r = run_treecopy({"-q", "--preserve=mode", src_, scratch_ / "tc"});
  EXPECT_TRUE(exited_with(r, 0)) << r.describe();
  compare_options o = against("cp --preserve=mode", "treecopy --preserve=mode");
  o.mtime = o.atime = false;  // both copies' own times
  o.root_metadata = false;
  // cp's "mode" takes ACLs along; treecopy's keeps only the permission bits (docs/fidelity.md).
  o.xattrs = false;
  EXPECT_TRUE(same_trees(scratch_ / "cp", scratch_ / "tc", o));
}

TEST_F(small_files_test, as_an_unprivileged_user_equal_to_cp) {
  if (auto why = unprivileged_unavailable()) GTEST_SKIP() << *why;
  scratch_dir mine("small-files-nobody");
  mine.give_to(unprivileged_id);
  const std::string src = mine / "src";
  build_batch_tree(src, false);
  give_tree_to(src, unprivileged_id, unprivileged_id);
  const process_options nobody = as_user(unprivileged_id);
  const process_result cp = run_cp(src, mine / "cp", nobody);
  ASSERT_TRUE(exited_with(cp, 0)) << cp.describe();
  const process_result r = run_treecopy({"-q", "-j", "2", src, mine / "tc"}, nobody);
  EXPECT_TRUE(exited_with(r, 0)) << r.describe();
  EXPECT_TRUE(same_trees(mine / "cp", mine / "tc", against("cp -a as 65534", "treecopy as 65534")));
}

// The point of batches: a small file costs no system call of its own for its data, opens and
// closes. Read from strace's count of a copy of 200 files in one directory.
TEST_F(small_files_test, batched_files_cost_no_open_or_close_each) {
#ifndef TREECOPY_STATIC_CLI_BUILT
  GTEST_SKIP() << "the shared build's sanitizers cannot run under ptrace";
#endif
  if (!tool_present("strace")) GTEST_SKIP() << "strace is not installed";
  const std::string trace = scratch_ / "trace";
  const process_result run = run_process({"strace", "-f", "-qq", "-c", "-o", trace, cli_path(),
                                          "-q", "-j", "1", src_, scratch_ / "dst"});
  if (run.exit_code != 0 && run.err.find("ptrace") != std::string::npos)
    GTEST_SKIP() << "strace cannot trace here: " << run.err;
  ASSERT_TRUE(exited_with(run, 0)) << run.describe();
  EXPECT_TRUE(same_trees(src_, scratch_ / "dst", against("source", "treecopy under strace")));
  auto counts = syscall_counts(trace);
  if (!io_uring_works())
    GTEST_SKIP() << "io_uring is not available here (ENOSYS, seccomp or io_uring_disabled)";
  EXPECT_EQ(counts["io_uring_setup"].second, 0) << "a ring was refused";
  EXPECT_GT(counts["io_uring_enter"].first, 0);
  // 300 plain files of at most 8 KiB in plain/, which alone would cost 600 opens and closes and 300
  // copy_file_range calls one by one; flat/'s large, sparse and hard-linked files (about 70) and
  // the directories still open, copy and close by system call.
  EXPECT_LT(counts["openat"].first, 300) << "openat calls: " << counts["openat"].first;
  EXPECT_LT(counts["close"].first, 300) << "close calls: " << counts["close"].first;
  EXPECT_LT(counts["copy_file_range"].first, 150);
}

}  // namespace
}  // namespace treecopy_test
