// Bad forms of several sources: two sources with one name into DIR, DIR missing or not a
// directory, a SRC that is DIR or one of its ancestors, a DST inside another pair's SRC,
// --delete on an ancestor of another pair's SRC, a SRC without a name of its own. Each is
// refused with exit 2 before anything is created, and every SRC stays as it was.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "fault_support.hpp"
#include "scratch.hpp"
#include "tree_compare.hpp"
#include "tree_maker.hpp"
#include "treecopy/treecopy.hpp"

namespace treecopy_test::faults {
namespace {

class forms_hostile_test : public testing::Test {
 protected:
  void SetUp() override {
    tree_maker a(s_ / "a", 11);
    a.file("f", "alpha", 0644);
    a.dir("sub", 0755);
    a.file("sub/g", "gamma", 0600);
    a.finish();
    ASSERT_EQ(::mkdir((s_ / "other").c_str(), 0755), 0);
    tree_maker b(s_ / "other/a", 12);
    b.file("h", "beta", 0644);
    b.finish();
    ASSERT_EQ(::mkdir((s_ / "dir").c_str(), 0755), 0);
    ASSERT_EQ(::mkdir((s_ / "snap").c_str(), 0755), 0);
    ASSERT_EQ(::system(("cp -a " + s_ / "a" + " " + s_ / "snap/a").c_str()), 0);
    ASSERT_EQ(::system(("cp -a " + s_ / "other" + " " + s_ / "snap/other").c_str()), 0);
  }
  process_result tc(std::vector<std::string> args) {
    args.insert(args.begin(), "--progress=none");
    return run_treecopy_limited(args, 60);
  }
  // Exit 2, with a message on stderr, and nothing created or changed.
  void expect_refused(const process_result& r, const std::string& says) {
    EXPECT_EQ(r.exit_code, 2) << r.describe();
    EXPECT_NE(r.err.find(says), std::string::npos) << r.describe();
    EXPECT_TRUE(compare_trees(s_ / "snap/a", s_ / "a").empty());
    EXPECT_TRUE(compare_trees(s_ / "snap/other", s_ / "other").empty());
    EXPECT_TRUE(empty_dir(s_ / "dir")) << "something was created in dir";
  }
  static bool empty_dir(const std::string& path) {
    const process_result r = run_process({"ls", "-A", path});
    return r.exit_code == 0 && r.out.empty();
  }

  scratch_dir s_{"forms-hostile"};
};

TEST_F(forms_hostile_test, two_sources_with_one_name) {
  expect_refused(tc({s_ / "a", s_ / "other/a", s_ / "dir"}), "two sources would be copied here");
  // Also when written differently (a trailing slash), and with -t.
  expect_refused(tc({"-t", s_ / "dir", s_ / "a/", s_ / "other/a"}),
                 "two sources would be copied here");
}

TEST_F(forms_hostile_test, dir_missing_or_not_a_directory) {
  expect_refused(tc({s_ / "a", s_ / "other", s_ / "nowhere"}), "No such file or directory");
  expect_refused(tc({"-t", s_ / "nowhere", s_ / "a"}), "No such file or directory");
  expect_refused(tc({s_ / "a", s_ / "other", s_ / "a/f"}), "is not a directory");
  EXPECT_FALSE(::access((s_ / "nowhere").c_str(), F_OK) == 0);
}

TEST_F(forms_hostile_test, source_that_is_dir_or_its_ancestor) {
  // DIR inside SRC: the copy of SRC would land inside itself.
  expect_refused(tc({s_ / "other", s_ / "a", s_ / "a/sub"}), "inside the source directory");
  // SRC = DIR.
  expect_refused(tc({s_ / "other", s_ / "dir", s_ / "dir"}), "inside the source directory");
  // A SRC that is the ancestor of DIR, through another pair than its own.
  expect_refused(tc({"-t", s_ / "other/a", s_ / "a", s_ / "other"}), "inside the source directory");
}

TEST_F(forms_hostile_test, delete_on_an_ancestor_of_another_source) {
  ASSERT_EQ(::mkdir((s_ / "dir/a").c_str(), 0755), 0);
  ASSERT_EQ(::mkdir((s_ / "dir/a/keep").c_str(), 0755), 0);
  // dir/a is the DST of pair 1 (SRC a) and holds pair 2's SRC dir/a/keep: --delete there would
  // remove a source of the same call.
  const process_result r =
      tc({"--update", "--delete", "-t", s_ / "dir", s_ / "a", s_ / "dir/a/keep"});
  EXPECT_EQ(r.exit_code, 2) << r.describe();
  EXPECT_NE(r.err.find("refusing --delete on an ancestor of the source"), std::string::npos)
      << r.describe();
  EXPECT_EQ(::access((s_ / "dir/a/keep").c_str(), F_OK), 0);
  EXPECT_NE(::access((s_ / "dir/a/f").c_str(), F_OK), 0);
}

TEST_F(forms_hostile_test, source_without_a_name_of_its_own) {
  const std::string here = s_ / "a/.";
  expect_refused(tc({here, s_ / "other", s_ / "dir"}), "has no name of its own");
  expect_refused(tc({"-t", s_ / "dir", "/"}), "has no name of its own");
}

TEST_F(forms_hostile_test, library_refuses_conflicting_pairs_before_creating_anything) {
  const std::vector<treecopy::copy_pair> same = {{s_ / "a", s_ / "dir/x"},
                                                 {s_ / "other/a", s_ / "dir/x/"}};
  EXPECT_THROW(treecopy::copy_trees(same), treecopy::setup_error);
  const std::vector<treecopy::copy_pair> nested = {{s_ / "other", s_ / "dir/o"},
                                                   {s_ / "a", s_ / "other/a2"}};
  EXPECT_THROW(treecopy::copy_trees(nested), treecopy::setup_error);
  EXPECT_TRUE(empty_dir(s_ / "dir"));
  EXPECT_FALSE(::access((s_ / "other/a2").c_str(), F_OK) == 0);
}

}  // namespace
}  // namespace treecopy_test::faults
