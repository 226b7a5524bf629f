// Bad input through the CLI: each case must exit with 2, print one line on stderr naming the path
// (or option) and the reason, and leave the file system exactly as it was.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include "copiers.hpp"
#include "scratch.hpp"
#include "tree_assert.hpp"
#include "tree_builder.hpp"
#include "tree_walk.hpp"

namespace treecopy_test {
namespace {

class bad_input_test : public testing::Test {
 protected:
  void SetUp() override {
    random_tree_options o;
    o.files = 40;
    o.directories = 6;
    build_random_tree(src_, o);
    ASSERT_EQ(::mkdir((src_ + "/sub").c_str(), 0755), 0);
    ASSERT_EQ(::symlink(src_.c_str(), (scratch_ / "link_to_src").c_str()), 0);
    ASSERT_EQ(::mkdir((scratch_ / "existing").c_str(), 0755), 0);
    ASSERT_EQ(::close(::creat((scratch_ / "existing_file").c_str(), 0644)), 0);
  }

  // Runs the CLI and checks the three promises: exit code 2, one line naming `names`, no change.
  void expect_refused(const std::vector<std::string>& args, const std::string& names,
                      const process_options& options = {}) {
    const auto before = snapshot_tree(scratch_.path());
    const process_result r = run_treecopy(args, options);
    EXPECT_TRUE(exited_with(r, 2));
    EXPECT_TRUE(one_error_line_naming(r, names));
    EXPECT_EQ(snapshot_tree(scratch_.path()), before)
        << "the file system changed: " << r.describe();
  }

  scratch_dir scratch_{"bad_input"};
  std::string src_ = scratch_ / "src";
};

TEST_F(bad_input_test, source_missing) {
  expect_refused({scratch_ / "no_such_source", scratch_ / "dst"}, "no_such_source");
}

TEST_F(bad_input_test, source_directory_unreadable) {
  if (auto why = unprivileged_unavailable()) GTEST_SKIP() << *why;
  scratch_.give_to(unprivileged_id);
  ASSERT_EQ(::chmod(src_.c_str(), 0700), 0);  // owned by root: closed to uid 65534
  expect_refused({src_, scratch_ / "dst"}, src_, as_user(unprivileged_id));
}

TEST_F(bad_input_test, source_behind_unsearchable_directory) {
  if (auto why = unprivileged_unavailable()) GTEST_SKIP() << *why;
  scratch_.give_to(unprivileged_id);
  ASSERT_EQ(::mkdir((scratch_ / "closed").c_str(), 0700), 0);
  ASSERT_EQ(::mkdir((scratch_ / "closed/inner").c_str(), 0755), 0);
  expect_refused({scratch_ / "closed/inner", scratch_ / "dst"}, "closed/inner",
                 as_user(unprivileged_id));
}

TEST_F(bad_input_test, source_file_unreadable) {
  if (auto why = unprivileged_unavailable()) GTEST_SKIP() << *why;
  scratch_.give_to(unprivileged_id);
  ASSERT_EQ(::close(::creat((scratch_ / "secret").c_str(), 0600)), 0);
  expect_refused({scratch_ / "secret", scratch_ / "dst"}, "secret", as_user(unprivileged_id));
}

TEST_F(bad_input_test, destination_directly_inside_source) {
  expect_refused({src_, src_ + "/sub/dst"}, "src");
  expect_refused({src_, src_ + "/dst"}, "src");
}

TEST_F(bad_input_test, destination_inside_source_through_symlink) {
  expect_refused({src_, scratch_ / "link_to_src/dst"}, "dst");
  // With a trailing slash the SRC symlink is resolved: SRC is the directory it points to.
  // (Without it, SRC is the symlink itself, copied as a link: not an error.)
  expect_refused({scratch_ / "link_to_src/", src_ + "/dst"}, "dst");
}

TEST_F(bad_input_test, destination_inside_source_through_dotdot) {
  expect_refused({src_, scratch_ / "existing/../src/sub/dst"}, "dst");
  expect_refused({src_ + "/sub/..", src_ + "/dst"}, "dst");
}

TEST_F(bad_input_test, source_and_destination_the_same) {
  expect_refused({src_, src_}, "src");
  expect_refused({"--merge", src_, src_}, "src");
  expect_refused({"--merge", src_, scratch_ / "link_to_src"}, "src");
  expect_refused({"--merge", src_ + "/sub/..", src_}, "src");
  expect_refused({"--merge", scratch_ / "existing_file", scratch_ / "existing_file"},
                 "existing_file");
}

TEST_F(bad_input_test, destination_exists_without_merge) {
  expect_refused({src_, scratch_ / "existing"}, "existing");
  expect_refused({src_, scratch_ / "existing_file"}, "existing_file");
  expect_refused({src_, scratch_ / "link_to_src"}, "src");  // names link_to_src or what it reaches
}

TEST_F(bad_input_test, destination_parent_missing) {
  expect_refused({src_, scratch_ / "no/such/parent/dst"}, "no/such/parent");
}

TEST_F(bad_input_test, unknown_option) {
  expect_refused({"--no-such-option", src_, scratch_ / "dst"}, "--no-such-option");
  expect_refused({"-Z", src_, scratch_ / "dst"}, "-Z");
}

TEST_F(bad_input_test, bad_jobs_values) {
  for (const char* value : {"0", "-1", "abc", "", "1.5", "99999999999999999999"}) {
    SCOPED_TRACE(std::string("--jobs '") + value + "'");
    expect_refused({"--jobs", value, src_, scratch_ / "dst"}, "jobs");
    expect_refused({std::string("--jobs=") + value, src_, scratch_ / "dst"}, "jobs");
  }
  expect_refused({"-j", "0", src_, scratch_ / "dst"}, "j");
  expect_refused({src_, scratch_ / "dst", "--jobs"}, "jobs");
}

TEST_F(bad_input_test, bad_reflink_value) {
  expect_refused({"--reflink=sometimes", src_, scratch_ / "dst"}, "reflink");
}

TEST_F(bad_input_test, wrong_number_of_operands) {
  const auto before = snapshot_tree(scratch_.path());
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{}, {src_}, {src_, scratch_ / "a", scratch_ / "b"}}) {
    const process_result r = run_treecopy(args);
    EXPECT_TRUE(exited_with(r, 2));
    EXPECT_FALSE(r.err.empty()) << r.describe();
  }
  EXPECT_EQ(snapshot_tree(scratch_.path()), before);
}

}  // namespace
}  // namespace treecopy_test
