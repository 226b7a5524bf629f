// --delete and --update never empty another mount inside DST: a tmpfs or a bind mount of a
// directory elsewhere, mounted in a directory that SRC does not have (or has as a file), is left
// alone and reported, and the rest of the mirror is still made. Mounting needs root: skipped
// elsewhere.
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <optional>
#include <string>

#include "entry_check.hpp"
#include "fault_support.hpp"
#include "scratch.hpp"
#include "tree_maker.hpp"

namespace treecopy_test::faults {
namespace {

class delete_mounts_test : public testing::Test {
 protected:
  void SetUp() override {
    if (auto why = mount_unavailable()) GTEST_SKIP() << *why;
    tree_maker s(src_, 3);
    s.file("keep.txt", "kept", 0644);
    s.file("becomes_file", "now a file", 0644);
    s.finish();
    tree_maker d(dst_, 4);
    d.file("keep.txt", "old", 0644);
    d.dir("gone", 0755);
    d.dir("gone/mnt", 0755);
    d.file("gone/extra.txt", "extra", 0644);
    d.dir("becomes_file", 0755);
    d.dir("becomes_file/mnt", 0755);
    d.finish();
    tree_maker o(outside_, 5);
    o.file("precious.txt", "precious", 0644);
    o.finish();
  }

  scratch_dir scratch_{"delete-mounts"};
  std::string src_ = scratch_ / "src";
  std::string dst_ = scratch_ / "dst";
  std::string outside_ = scratch_ / "outside";
};

TEST_F(delete_mounts_test, a_tmpfs_in_a_removed_directory_is_left_alone) {
  tmpfs_mount mnt(dst_ + "/gone/mnt", "size=1m,mode=755");
  write_pattern_file(mnt.path() + "/data", 1000, 1);
  const auto r = run_treecopy_limited({"-q", "--update", "--delete", src_, dst_}, 60);
  EXPECT_EQ(r.exit_code, 1) << r.describe();
  EXPECT_TRUE(exists(mnt.path() + "/data")) << "a file of another mounted file system was removed";
  EXPECT_FALSE(exists(dst_ + "/gone/extra.txt")) << "the rest of the extraneous directory stays";
  const auto errors = parse_error_lines(r.err);
  ASSERT_EQ(errors.size(), 1u) << r.describe();
  EXPECT_EQ(errors[0].path, dst_ + "/gone/mnt");
  EXPECT_EQ(errors[0].reason, "a mount point (another file system): left alone");
  EXPECT_EQ(read_file(dst_ + "/keep.txt"), std::optional<std::string>("kept"));
}

TEST_F(delete_mounts_test, a_bind_mount_of_the_same_file_system_is_left_alone) {
  bind_mount mnt(outside_, dst_ + "/becomes_file/mnt");
  ASSERT_TRUE(mnt.ok());
  // --update replaces the directory by SRC's file: it cannot, since a mount is inside it.
  const auto r = run_treecopy_limited({"-q", "--update", "--delete", src_, dst_}, 60);
  EXPECT_EQ(r.exit_code, 1) << r.describe();
  EXPECT_EQ(read_file(outside_ + "/precious.txt"), std::optional<std::string>("precious"));
  const auto errors = parse_error_lines(r.err);
  ASSERT_FALSE(errors.empty()) << r.describe();
  EXPECT_EQ(errors[0].path, dst_ + "/becomes_file/mnt") << r.describe();
  EXPECT_EQ(read_file(dst_ + "/keep.txt"), std::optional<std::string>("kept"));
}

}  // namespace
}  // namespace treecopy_test::faults
