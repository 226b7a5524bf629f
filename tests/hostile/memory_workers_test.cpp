// Workers between memory file systems: with the worker count left to the copy (jobs 0), a copy
// whose source and destination are both on tmpfs runs one worker per core, not default_jobs()'s
// four per core (nothing there waits for a disk; extra workers only take the cores from each
// other). Counted as the threads of the process while the pool runs, and the copy stays exact.
#include <gtest/gtest.h>
#include <linux/magic.h>
#include <sched.h>
#include <sys/statfs.h>

#include <atomic>
#include <cstddef>
#include <string>
#include <vector>

#include "fault_support.hpp"
#include "process.hpp"
#include "scratch.hpp"
#include "tree_assert.hpp"
#include "tree_builder.hpp"
#include "treecopy/treecopy.hpp"

namespace treecopy_test::faults {
namespace {

std::size_t affinity_cores() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (::sched_getaffinity(0, sizeof set, &set) != 0) return 0;
  return static_cast<std::size_t>(CPU_COUNT(&set));
}

// Looks at the process's threads once the copy has done enough entries for its pool to run
// (it starts after 64 entries found).
class thread_watch final : public treecopy::copy_observer {
 public:
  bool wants_entries() const override { return true; }
  void on_entry(treecopy::entry_kind, std::string_view) override {
    if (seen_.fetch_add(1) + 1 != look_at) return;
    most_ = thread_count();
  }
  std::size_t most() const { return most_; }

 private:
  static constexpr std::size_t look_at = 300;
  std::atomic<std::size_t> seen_{0};
  std::size_t most_ = 0;
};

TEST(memory_workers, one_worker_per_core_between_tmpfs_mounts) {
  if (auto why = mount_unavailable()) GTEST_SKIP() << *why;
  // A sanitizer's run-time starts threads of its own, at times of its choosing.
  if (auto why = sanitizer_runtime()) GTEST_SKIP() << *why;
  const std::size_t cores = affinity_cores();
  ASSERT_GT(cores, 0u);
  if (treecopy::default_jobs() <= cores) GTEST_SKIP() << "default_jobs() is not above the cores";
  scratch_dir scratch{"memory_workers"};
  tmpfs_mount src_fs(scratch / "src_fs", "size=64m,mode=755");
  tmpfs_mount dst_fs(scratch / "dst_fs", "size=64m,mode=755");
  const std::string src = src_fs.path() + "/src";
  const std::string dst = dst_fs.path() + "/dst";
  random_tree_options tree;
  tree.directories = 20;
  tree.files = 1200;
  tree.max_file_size = 2048;
  build_random_tree(src, tree);

  // Threads before the copy: this one.
  const std::size_t before = thread_count();
  thread_watch watch;
  treecopy::copy_options options;  // jobs 0: the copy picks
  const treecopy::copy_report report = treecopy::copy_tree(src, dst, options, &watch);
  EXPECT_EQ(report.error_count, 0u);
  EXPECT_TRUE(same_trees(src, dst));
  // Beside those, TBB's workers (one per core with the calling thread) and the progress sampler.
  ASSERT_GT(watch.most(), 0u) << "the copy did not reach the pool";
  EXPECT_LE(watch.most(), before + cores) << "default_jobs() is " << treecopy::default_jobs();
}

// The command's JSON start event tells the workers the copy runs, not default_jobs(): one per
// core between tmpfs mounts, default_jobs() for a DST elsewhere, and -j when it is given.
TEST(memory_workers, the_json_start_event_tells_the_workers_used) {
  if (auto why = mount_unavailable()) GTEST_SKIP() << *why;
  const std::size_t cores = affinity_cores();
  ASSERT_GT(cores, 0u);
  if (treecopy::default_jobs() <= cores) GTEST_SKIP() << "default_jobs() is not above the cores";
  scratch_dir scratch{"memory_workers_json"};
  tmpfs_mount src_fs(scratch / "src_fs", "size=4m,mode=755");
  tmpfs_mount dst_fs(scratch / "dst_fs", "size=4m,mode=755");
  const std::string src = src_fs.path() + "/src";
  random_tree_options tree;
  tree.directories = 2;
  tree.files = 10;
  tree.max_file_size = 512;
  build_random_tree(src, tree);

  auto start_jobs = [&](std::vector<std::string> args) {
    args.insert(args.begin(), "--progress=json");
    const process_result r = run_treecopy_limited(args, 60);
    EXPECT_EQ(r.exit_code, 0) << r.describe();
    const std::string key = "\"jobs\":";
    const auto at = r.err.find(key);
    if (at == std::string::npos || r.err.find("\"event\":\"start\"") == std::string::npos) {
      ADD_FAILURE() << "no start event with jobs: " << r.describe();
      return std::string();
    }
    return r.err.substr(at + key.size(), r.err.find_first_of(",}", at) - at - key.size());
  };
  EXPECT_EQ(start_jobs({src, dst_fs.path() + "/dst"}), std::to_string(cores));
  EXPECT_EQ(start_jobs({"-j", "3", src, dst_fs.path() + "/dst3"}), "3");
  // A DST on the disk's scratch directory, when that is not in memory too.
  const std::string elsewhere = disk_scratch_root();
  struct statfs sfs {};
  if (::statfs(elsewhere.c_str(), &sfs) == 0 && sfs.f_type != TMPFS_MAGIC &&
      sfs.f_type != RAMFS_MAGIC) {
    scratch_dir disk{"memory_workers_json", elsewhere};
    EXPECT_EQ(start_jobs({src, disk / "dst"}), std::to_string(treecopy::default_jobs()));
  }
}

}  // namespace
}  // namespace treecopy_test::faults