// Copies run as an unprivileged user (uid/gid 65534 through setpriv): read-only source directories
// must still receive their children, and ownership that cannot be kept is dropped silently, with
// exactly cp -a's result (including the set-id bits cp clears when chown fails).
#include <gtest/gtest.h>
#include <sys/stat.h>

#include "copiers.hpp"
#include "scratch.hpp"
#include "tree_assert.hpp"
#include "tree_builder.hpp"
#include "tree_maker.hpp"
#include "tree_walk.hpp"

namespace treecopy_test {
namespace {

constexpr owner nobody{unprivileged_id, unprivileged_id};
constexpr owner foreign{1234, 5678};
constexpr owner root_owner{0, 0};

// A source owned by nobody (so nobody can read it all) with read-only directories, plus a
// directory of entries owned by others.
void build_unprivileged_tree(const std::string& root) {
  tree_maker m(root, 5);
  m.file("plain", "plain file", 0644, nobody);
  m.dir("ro_dir", 0555, nobody);
  m.file("ro_dir/child", "in 0555", 0644, nobody);
  m.dir("ro_dir/ro_sub", 0555, nobody);
  m.file("ro_dir/ro_sub/grandchild", "in 0555 in 0555", 0444, nobody);
  m.symlink("ro_dir/link", "child", nobody);
  m.dir("rx_only", 0500, nobody);
  m.file("rx_only/child", "in 0500", 0400, nobody);
  m.dir("rx_only/nested", 0700, nobody);
  m.file("rx_only/nested/deep", "deeper", 0600, nobody);
  m.dir("empty_ro", 0555, nobody);
  m.dir("owned", 0755, root_owner);
  m.file("owned/root_file", "root's", 0644, root_owner);
  m.file("owned/foreign", "1234's", 0644, foreign);
  m.file("owned/setuid_root", "setuid root", 04755, root_owner);
  m.file("owned/setgid_foreign", "setgid 5678", 02755, foreign);
  m.file("owned/setuid_nobody", "setuid, own", 04755, nobody);
  m.dir("owned/sticky_foreign", 01777, foreign);
  m.file("owned/sticky_file_foreign", "sticky file, 1234's", 01644, foreign);
  m.symlink("owned/foreign_link", "foreign", foreign);
  m.special("owned/root_fifo", S_IFIFO, 0644);
  m.finish();
  // The root itself: read-only and nobody's, like its subdirectories.
  if (::chown(root.c_str(), unprivileged_id, unprivileged_id) != 0) throw_errno("chown");
  if (::chmod(root.c_str(), 0555) != 0) throw_errno("chmod");
}

class unprivileged_test : public testing::Test {
 protected:
  void SetUp() override {
    if (auto why = unprivileged_unavailable()) GTEST_SKIP() << *why;
    scratch_.give_to(unprivileged_id);
    build_unprivileged_tree(src_);
  }
  scratch_dir scratch_{"unprivileged"};
  std::string src_ = scratch_ / "src";
  const process_options as_nobody_ = as_user(unprivileged_id);
};

TEST_F(unprivileged_test, read_only_directories_receive_their_children) {
  const process_result r = run_treecopy({"-q", "-j", "4", src_, scratch_ / "dst"}, as_nobody_);
  EXPECT_TRUE(exited_with(r, 0));
  EXPECT_EQ(r.err, "") << "with -q and no failure, nothing is printed";
  compare_options o;
  o.directory_atime = true;
  o.left_label = "source";
  o.right_label = "treecopy as 65534";
  o.ignore = {"owned"};  // not ours to keep: see the next test
  EXPECT_TRUE(same_trees(src_, scratch_ / "dst", o));
}

TEST_F(unprivileged_test, ownership_is_dropped_silently_like_cp) {
  const process_result cp = run_cp(src_, scratch_ / "cp", as_nobody_);
  ASSERT_TRUE(exited_with(cp, 0));
  for (int jobs : {1, 4}) {
    const std::string dst = scratch_ / ("dst_j" + std::to_string(jobs));
    const process_result r =
        run_treecopy({"-q", "-j", std::to_string(jobs), src_, dst}, as_nobody_);
    EXPECT_TRUE(exited_with(r, 0));
    EXPECT_EQ(r.err, "") << "ownership failures must be silent for a non-root user";
    compare_options o;
    o.directory_atime = true;
    o.left_label = "cp -a as 65534";
    o.right_label = "treecopy as 65534";
    EXPECT_TRUE(same_trees(scratch_ / "cp", dst, o)) << "jobs " << jobs;
  }
}

// The full-case tree (without the root-only cases), owned by 65534 and copied by 65534: every
// attribute an unprivileged user can keep must be kept, xattrs of read-only files included.
TEST_F(unprivileged_test, full_tree_equals_cp_as_unprivileged_user) {
  full_tree_options options;
  options.privileged = false;
  options.unreadable_entries = false;
  build_full_tree(scratch_ / "full", options);
  give_tree_to(scratch_ / "full", unprivileged_id, unprivileged_id);
  const process_result cp = run_cp(scratch_ / "full", scratch_ / "full_cp", as_nobody_);
  ASSERT_TRUE(cp_ok_except_long_paths(cp)) << cp.describe();
  const process_result r =
      run_treecopy({"-j", "4", scratch_ / "full", scratch_ / "full_tc"}, as_nobody_);
  EXPECT_TRUE(exited_with(r, 0));
  compare_options o;
  o.directory_atime = true;
  o.left_label = "cp -a as 65534";
  o.right_label = "treecopy as 65534";
  o.ignore = {full_tree::long_path_dir};
  EXPECT_TRUE(same_trees(scratch_ / "full_cp", scratch_ / "full_tc", o));
  o.ignore.clear();
  o.left_label = "source";
  EXPECT_TRUE(same_trees(scratch_ / "full", scratch_ / "full_tc", o));
}

}  // namespace
}  // namespace treecopy_test
