// Unit tests of the tree comparator: each kind of difference must be found, alone, with its path
// and both values. A comparator that saw nothing would make every copy test pass vacuously.
#include "tree_compare.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <set>

#include "copiers.hpp"
#include "scratch.hpp"
#include "tree_maker.hpp"
#include "tree_walk.hpp"

namespace treecopy_test {
namespace {

class tree_compare_test : public testing::Test {
 protected:
  void SetUp() override {
    tree_maker m(left_, 7);
    m.dir("d");
    m.file("d/file", "some content", 0640);
    m.file("d/pair_a", "linked");
    m.hardlink("d/pair_a", "d/pair_b");
    m.file("d/single", "alone");
    const entry_times same = m.next_times();
    m.file("d/twin1", "twins", 0644, {}, same);
    m.file("d/twin2", "twins", 0644, {}, same);
    m.symlink("d/link", "file");
    m.special("fifo", S_IFIFO, 0644);
    m.dir("empty");
    m.file("new\nline", "odd name");
    {
      const std::string sparse = "sparse";
      m.file(sparse, "", 0644);
      unique_fd fd(::openat(m.root_fd(), sparse.c_str(), O_WRONLY));
      ASSERT_EQ(::pwrite(fd.get(), "data", 4, 8 << 20), 4);
      ASSERT_EQ(::ftruncate(fd.get(), 16 << 20), 0);
      m.set_times(sparse, m.next_times());
    }
    xattrs_ = !m.xattr("d/file", "user.one", "1");
    if (xattrs_) m.set_times("d/file", m.next_times());
    m.finish();
    const process_result cp = run_cp(left_, right_);
    ASSERT_EQ(cp.exit_code, 0) << cp.describe();
    const auto diffs = compare_trees(left_, right_, options_);
    ASSERT_TRUE(diffs.empty()) << describe(diffs, options_);
  }

  // The attributes reported, each as "path|attribute".
  std::multiset<std::string> found() const {
    std::multiset<std::string> out;
    for (const difference& d : compare_trees(left_, right_, options_))
      out.insert(d.path + "|" + d.attribute);
    return out;
  }

  std::string right(const std::string& rel) const { return right_ + "/" + rel; }

  // Sets the times of a right-tree entry back to its left twin's (after a change moved them).
  void restore_times(const std::string& rel) const {
    struct stat st {};
    ASSERT_EQ(::lstat((left_ + "/" + rel).c_str(), &st), 0);
    const timespec ts[2] = {st.st_atim, st.st_mtim};
    ASSERT_EQ(::utimensat(AT_FDCWD, right(rel).c_str(), ts, AT_SYMLINK_NOFOLLOW), 0);
  }

  void shift_time(const std::string& rel, bool atime, long nanoseconds) const {
    struct stat st {};
    ASSERT_EQ(::lstat(right(rel).c_str(), &st), 0);
    timespec ts[2] = {st.st_atim, st.st_mtim};
    timespec& t = atime ? ts[0] : ts[1];
    t.tv_nsec = (t.tv_nsec + nanoseconds) % 1000000000;
    ASSERT_EQ(::utimensat(AT_FDCWD, right(rel).c_str(), ts, AT_SYMLINK_NOFOLLOW), 0);
  }

  scratch_dir scratch_{"compare"};
  std::string left_ = scratch_ / "left";
  std::string right_ = scratch_ / "right";
  compare_options options_;
  bool xattrs_ = false;
};

using set = std::multiset<std::string>;

TEST_F(tree_compare_test, finds_changed_content_of_same_size) {
  {
    unique_fd fd(::open(right("d/file").c_str(), O_WRONLY));
    ASSERT_EQ(::pwrite(fd.get(), "S", 1, 0), 1);
  }
  restore_times("d/file");
  EXPECT_EQ(found(), (set{"d/file|content"}));
  const auto diffs = compare_trees(left_, right_, options_);
  ASSERT_EQ(diffs.size(), 1u);
  EXPECT_NE(diffs[0].left.find("byte 0"), std::string::npos) << diffs[0].left;
}

TEST_F(tree_compare_test, finds_changed_size) {
  ASSERT_EQ(::truncate(right("d/file").c_str(), 3), 0);
  restore_times("d/file");
  EXPECT_EQ(found(), (set{"d/file|size", "d/file|content"}));
}

TEST_F(tree_compare_test, finds_changed_permission_bits) {
  ASSERT_EQ(::chmod(right("d/file").c_str(), 0644), 0);
  EXPECT_EQ(found(), (set{"d/file|mode"}));
  ASSERT_EQ(::chmod(right("d/file").c_str(), 04640), 0);
  EXPECT_EQ(found(), (set{"d/file|mode"}));
  ASSERT_EQ(::chmod(right("d/file").c_str(), 0640), 0);
  ASSERT_EQ(::chmod(right("d").c_str(), 01755), 0);
  EXPECT_EQ(found(), (set{"d|mode"}));
}

TEST_F(tree_compare_test, finds_changed_owner_and_group) {
  if (!running_as_root()) GTEST_SKIP() << "changing an owner needs root";
  ASSERT_EQ(::lchown(right("d/file").c_str(), 1234, -1), 0);
  EXPECT_EQ(found(), (set{"d/file|uid"}));
  ASSERT_EQ(::lchown(right("d/link").c_str(), -1, 5678), 0);
  EXPECT_EQ(found(), (set{"d/file|uid", "d/link|gid"}));
}

TEST_F(tree_compare_test, finds_one_nanosecond_in_mtime_and_atime) {
  shift_time("d/file", false, 1);
  EXPECT_EQ(found(), (set{"d/file|mtime"}));
  shift_time("d/file", false, 999999999);
  shift_time("d/file", true, 1);
  EXPECT_EQ(found(), (set{"d/file|atime"}));
  options_.atime = false;
  EXPECT_EQ(found(), set{});
}

TEST_F(tree_compare_test, finds_symlink_times_not_their_targets) {
  shift_time("d/link", false, 1);
  EXPECT_EQ(found(), (set{"d/link|mtime"}));
}

TEST_F(tree_compare_test, finds_directory_mtime_and_optionally_atime) {
  shift_time("d", false, 1);
  EXPECT_EQ(found(), (set{"d|mtime"}));
  shift_time("d", false, 999999999);
  shift_time("d", true, 1);
  EXPECT_EQ(found(), set{});
  options_.directory_atime = true;
  EXPECT_EQ(found(), (set{"d|atime"}));
}

TEST_F(tree_compare_test, finds_changed_symlink_target) {
  ASSERT_EQ(::unlink(right("d/link").c_str()), 0);
  ASSERT_EQ(::symlink("fil3", right("d/link").c_str()), 0);
  restore_times("d/link");
  restore_times("d");
  EXPECT_EQ(found(), (set{"d/link|symlink target"}));
}

TEST_F(tree_compare_test, finds_changed_type) {
  ASSERT_EQ(::unlink(right("fifo").c_str()), 0);
  ASSERT_EQ(::mkdir(right("fifo").c_str(), 0644), 0);
  restore_times("fifo");
  restore_times("");
  EXPECT_EQ(found(), (set{"fifo|type"}));
}

TEST_F(tree_compare_test, finds_missing_and_extra_entries) {
  ASSERT_EQ(::unlink(right("d/single").c_str()), 0);
  ASSERT_EQ(::mkdir(right("empty/extra").c_str(), 0755), 0);
  restore_times("d");
  restore_times("empty");
  const auto diffs = compare_trees(left_, right_, options_);
  EXPECT_EQ(found(), (set{"d/single|presence", "empty/extra|presence"}));
  for (const difference& d : diffs) {
    if (d.path == "d/single") {
      EXPECT_EQ(d.right, "missing");
    }
    if (d.path == "empty/extra") {
      EXPECT_EQ(d.left, "missing");
    }
  }
}

TEST_F(tree_compare_test, finds_broken_hard_links) {
  // Replace one name of the pair with an equal, separate file: same attributes, new inode.
  const process_result cp = run_process({"cp", "-a", left_ + "/d/pair_a", right("d/pair_b.tmp")});
  ASSERT_EQ(cp.exit_code, 0) << cp.describe();
  ASSERT_EQ(::rename(right("d/pair_b.tmp").c_str(), right("d/pair_b").c_str()), 0);
  restore_times("d");
  EXPECT_EQ(found(), (set{"d/pair_a|hard-link group"}));
}

TEST_F(tree_compare_test, finds_new_hard_links) {
  // Two separate files with equal attributes that became one inode.
  ASSERT_EQ(::unlink(right("d/twin2").c_str()), 0);
  ASSERT_EQ(::link(right("d/twin1").c_str(), right("d/twin2").c_str()), 0);
  restore_times("d");
  EXPECT_EQ(found(), (set{"d/twin1|hard-link group"}));
}

TEST_F(tree_compare_test, finds_xattr_changes) {
  if (!xattrs_) GTEST_SKIP() << "user.* xattrs are not supported on " << scratch_root();
  ASSERT_EQ(::setxattr(right("d/file").c_str(), "user.one", "2", 1, XATTR_REPLACE), 0);
  EXPECT_EQ(found(), (set{"d/file|xattr user.one"}));
  ASSERT_EQ(::removexattr(right("d/file").c_str(), "user.one"), 0);
  EXPECT_EQ(found(), (set{"d/file|xattr user.one"}));
  ASSERT_EQ(::setxattr(right("d/file").c_str(), "user.one", "1", 1, 0), 0);
  ASSERT_EQ(::setxattr(right("empty").c_str(), "user.extra", "", 0, 0), 0);
  EXPECT_EQ(found(), (set{"empty|xattr user.extra"}));
}

TEST_F(tree_compare_test, finds_acl_changes) {
  const std::string acl = posix_acl_value(
      {{0x01, ~0u, 6}, {0x02, 1234, 4}, {0x04, ~0u, 4}, {0x10, ~0u, 4}, {0x20, ~0u, 0}});
  if (::setxattr(right("d/file").c_str(), "system.posix_acl_access", acl.data(), acl.size(), 0) !=
      0) {
    GTEST_SKIP() << "POSIX ACLs are not supported on " << scratch_root();
  }
  const set diffs = found();
  EXPECT_EQ(diffs.count("d/file|xattr system.posix_acl_access"), 1u)
      << testing::PrintToString(diffs);
}

TEST_F(tree_compare_test, finds_lost_sparseness) {
  ASSERT_EQ(::unlink(right("sparse").c_str()), 0);
  const process_result cp =
      run_process({"cp", "-a", "--sparse=never", left_ + "/sparse", right("sparse")});
  ASSERT_EQ(cp.exit_code, 0) << cp.describe();
  restore_times("");
  EXPECT_EQ(found(), (set{"sparse|allocated bytes (sparseness)"}));
  options_.sparseness = false;
  EXPECT_EQ(found(), set{});
}

TEST_F(tree_compare_test, finds_changed_device_numbers) {
  if (!running_as_root()) GTEST_SKIP() << "mknod of a device needs root";
  ASSERT_EQ(::mknod((left_ + "/empty/dev").c_str(), S_IFCHR | 0600, makedev(1, 3)), 0);
  ASSERT_EQ(::mknod(right("empty/dev").c_str(), S_IFCHR | 0600, makedev(1, 5)), 0);
  restore_times("empty/dev");
  restore_times("empty");
  EXPECT_EQ(found(), (set{"empty/dev|rdev"}));
}

TEST_F(tree_compare_test, reports_odd_names_printably) {
  shift_time("new\nline", false, 5);
  const auto diffs = compare_trees(left_, right_, options_);
  ASSERT_EQ(diffs.size(), 1u);
  EXPECT_EQ(diffs[0].path, "new\nline");
  const std::string text = describe(diffs, options_);
  EXPECT_NE(text.find("'new\\nline': mtime"), std::string::npos) << text;
  EXPECT_NE(text.find(diffs[0].left), std::string::npos) << text;
  EXPECT_NE(text.find(diffs[0].right), std::string::npos) << text;
}

TEST_F(tree_compare_test, ignores_listed_subtrees) {
  ASSERT_EQ(::chmod(right("d/file").c_str(), 0600), 0);
  options_.ignore = {"d/file"};
  EXPECT_EQ(found(), set{});
  options_.ignore = {"d"};
  EXPECT_EQ(found(), set{});
}

TEST_F(tree_compare_test, compares_roots_and_can_skip_them) {
  ASSERT_EQ(::chmod(right_.c_str(), 0700), 0);
  EXPECT_EQ(found(), (set{"|mode"}));
  options_.root_metadata = false;
  EXPECT_EQ(found(), set{});
}

TEST_F(tree_compare_test, compares_single_files_and_symlinks_as_roots) {
  EXPECT_TRUE(compare_trees(left_ + "/d/file", right("d/file"), options_).empty());
  EXPECT_TRUE(compare_trees(left_ + "/d/link", right("d/link"), options_).empty());
  shift_time("d/link", true, 3);
  const auto diffs = compare_trees(left_ + "/d/link", right("d/link"), options_);
  ASSERT_EQ(diffs.size(), 1u);
  EXPECT_EQ(diffs[0].attribute, "atime");
}

}  // namespace
}  // namespace treecopy_test
