// Tests of the tree builders, the snapshot and the remover, with GNU cp -a as the reference: a
// cp -a copy of a built tree must compare equal to it on every attribute, or the builder or the
// comparator is wrong (and the copy tests would be meaningless).
#include "tree_builder.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <climits>
#include <ctime>

#include "copiers.hpp"
#include "scratch.hpp"
#include "tree_compare.hpp"
#include "tree_walk.hpp"

namespace treecopy_test {
namespace {

compare_options strict(const char* left, const char* right) {
  compare_options o;
  o.directory_atime = true;
  o.left_label = left;
  o.right_label = right;
  return o;
}

struct tree_stats {
  std::size_t entries = 0;
  std::size_t longest_path = 0;
  std::size_t max_nlink = 0;
  std::size_t kinds[16] = {};
};

tree_stats stats_of(const std::string& root) {
  tree_stats s;
  walk_callbacks cb;
  cb.pre = [&](const walk_entry& e) {
    ++s.entries;
    s.longest_path = std::max(s.longest_path, root.size() + 1 + e.rel_path.size());
    if (!S_ISDIR(e.st.st_mode)) s.max_nlink = std::max<std::size_t>(s.max_nlink, e.st.st_nlink);
    ++s.kinds[(e.st.st_mode & S_IFMT) >> 12];
    return true;
  };
  walk_tree(root, cb);
  return s;
}

TEST(tree_builder, full_tree_holds_every_case) {
  scratch_dir scratch("builder");
  const std::string src = scratch / "src";
  const build_report report = build_full_tree(src);
  const tree_stats s = stats_of(src);
  EXPECT_GT(s.longest_path, static_cast<std::size_t>(PATH_MAX));
  EXPECT_GE(s.max_nlink, 65u) << "the 64-name hard-link group";
  EXPECT_GT(s.kinds[S_IFIFO >> 12], 0u);
  EXPECT_GT(s.kinds[S_IFSOCK >> 12], 0u);
  EXPECT_GT(s.kinds[S_IFLNK >> 12], 10u);
  struct stat st {};
  ASSERT_EQ(::stat((src + "/" + full_tree::sparse_file).c_str(), &st), 0);
  EXPECT_LT(st.st_blocks * 512, st.st_size / 8)
      << "the sparse file is not sparse on " << scratch_root();
  ASSERT_EQ(::stat((src + "/" + full_tree::read_only_dir).c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0555u);
  if (running_as_root()) {
    EXPECT_TRUE(report.owners) << report.missing_text();
    EXPECT_GT(s.kinds[S_IFCHR >> 12], 0u) << report.missing_text();
    EXPECT_GT(s.kinds[S_IFBLK >> 12], 0u) << report.missing_text();
  }
  if (!report.missing.empty()) {
    GTEST_SKIP() << "cases missing on this machine: " << report.missing_text();
  }
}

TEST(tree_builder, full_tree_copied_by_cp_compares_equal) {
  scratch_dir scratch("builder");
  const std::string src = scratch / "src";
  const std::string copy = scratch / "cp";
  build_full_tree(src);
  const process_result cp = run_cp(src, copy);
  ASSERT_TRUE(cp_ok_except_long_paths(cp)) << cp.describe();
  compare_options o = strict("source", "cp");
  o.ignore = {full_tree::long_path_dir};
  const auto diffs = compare_trees(src, copy, o);
  EXPECT_TRUE(diffs.empty()) << describe(diffs, o);
  // Reading the source again (as a second copier would) must not change its times.
  const process_result again = run_cp(src, scratch / "cp2");
  ASSERT_TRUE(cp_ok_except_long_paths(again)) << again.describe();
  const auto after = compare_trees(src, copy, o);
  EXPECT_TRUE(after.empty()) << describe(after, o);
}

TEST(tree_builder, random_tree_is_a_function_of_its_seed) {
  scratch_dir scratch("random");
  random_tree_options o;
  o.seed = 42;
  o.time_base = ::time(nullptr);
  build_random_tree(scratch / "a", o);
  build_random_tree(scratch / "b", o);
  compare_options c = strict("a", "b");
  const auto same = compare_trees(scratch / "a", scratch / "b", c);
  EXPECT_TRUE(same.empty()) << describe(same, c);
  EXPECT_GT(stats_of(scratch / "a").entries, 300u);

  o.seed = 43;
  build_random_tree(scratch / "c", o);
  EXPECT_FALSE(compare_trees(scratch / "a", scratch / "c", c).empty());
}

TEST(tree_builder, random_tree_copied_by_cp_compares_equal) {
  scratch_dir scratch("random");
  random_tree_options o;
  o.seed = 7;
  build_random_tree(scratch / "src", o);
  const process_result cp = run_cp(scratch / "src", scratch / "cp");
  ASSERT_EQ(cp.exit_code, 0) << cp.describe();
  const compare_options c = strict("source", "cp");
  const auto diffs = compare_trees(scratch / "src", scratch / "cp", c);
  EXPECT_TRUE(diffs.empty()) << describe(diffs, c);
}

TEST(tree_walk, snapshot_sees_every_change_and_nothing_else) {
  scratch_dir scratch("snapshot");
  random_tree_options o;
  o.files = 30;
  o.directories = 5;
  build_random_tree(scratch / "t", o);
  const auto before = snapshot_tree(scratch.path());
  EXPECT_EQ(snapshot_tree(scratch.path()), before);
  // A chmod that restores the mode still changes ctime: the snapshot notices.
  struct stat st {};
  ASSERT_EQ(::stat((scratch / "t").c_str(), &st), 0);
  ASSERT_EQ(::chmod((scratch / "t").c_str(), st.st_mode & 07777), 0);
  EXPECT_NE(snapshot_tree(scratch.path()), before);
  const auto middle = snapshot_tree(scratch.path());
  ASSERT_EQ(::mkdir((scratch / "new").c_str(), 0755), 0);
  ASSERT_EQ(::rmdir((scratch / "new").c_str()), 0);
  EXPECT_NE(snapshot_tree(scratch.path()), middle) << "the parent's mtime changed";
}

TEST(tree_walk, remove_tree_removes_everything) {
  std::string path;
  {
    scratch_dir scratch("remove");
    path = scratch.path();
    build_full_tree(scratch / "full");
  }
  struct stat st {};
  EXPECT_NE(::lstat(path.c_str(), &st), 0);
  EXPECT_EQ(errno, ENOENT);
}

}  // namespace
}  // namespace treecopy_test
