// --merge: copying into an existing destination must give what `cp -aT SRC DST` gives on the same
// destination: files replaced, extra destination entries kept, and a directory over a file (or a
// file over a directory) reported as a failure, exit code 1.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <ctime>
#include <fstream>
#include <sstream>

#include "copiers.hpp"
#include "scratch.hpp"
#include "tree_assert.hpp"
#include "tree_maker.hpp"

namespace treecopy_test {
namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

class merge_test : public testing::Test {
 protected:
  void build_source(bool conflicts) {
    tree_maker m(src_, 21);
    m.file("a", "new a");
    m.dir("b");
    m.file("b/c", "new c", 0600);
    m.file("b/added", "only in the source");
    m.dir("same_dir", 0750);
    m.file("same_dir/f", "new f");
    m.symlink("link", "a");
    if (conflicts) {
      m.file("x", "a file where the destination has a directory");
      m.dir("y");
      m.file("y/child", "a directory where the destination has a file");
    }
    m.finish();
  }
  // Two identical destinations, one for cp and one for treecopy: the same seed and the same time
  // base (by default each tree_maker takes the clock's second, which may tick between the two).
  void build_destination(const std::string& root, bool conflicts, std::int64_t time_base) {
    tree_maker m(root, 22, time_base);
    m.file("a", "old a, longer than the new one");
    m.dir("b");
    m.file("b/c", "old c");
    m.file("b/extra", "only in the destination");
    m.dir("same_dir");
    m.file("same_dir/keep", "kept");
    m.file("link", "a file where the source has a symlink");
    m.file("extra_file", "kept");
    if (conflicts) {
      m.dir("x");
      m.file("x/inner", "stays");
      m.file("y", "stays a file");
    }
    m.finish();
  }
  void prepare(bool conflicts) {
    build_source(conflicts);
    const std::int64_t time_base = ::time(nullptr);
    build_destination(dst_cp_, conflicts, time_base);
    build_destination(dst_tc_, conflicts, time_base);
  }

  compare_options against_cp() const {
    compare_options o;
    o.left_label = "cp -aT";
    o.right_label = "treecopy --merge";
    return o;
  }

  scratch_dir scratch_{"merge"};
  std::string src_ = scratch_ / "src";
  std::string dst_cp_ = scratch_ / "dst_cp";
  std::string dst_tc_ = scratch_ / "dst_tc";
};

TEST_F(merge_test, replaces_files_and_keeps_extra_entries) {
  prepare(false);
  const process_result cp = run_cp(src_, dst_cp_);
  ASSERT_TRUE(exited_with(cp, 0));
  const process_result r = run_treecopy({"--merge", src_, dst_tc_});
  EXPECT_TRUE(exited_with(r, 0));
  EXPECT_EQ(read_file(dst_tc_ + "/a"), "new a");
  EXPECT_EQ(read_file(dst_tc_ + "/b/extra"), "only in the destination");
  EXPECT_EQ(read_file(dst_tc_ + "/extra_file"), "kept");
  EXPECT_TRUE(same_trees(dst_cp_, dst_tc_, against_cp()));
}

TEST_F(merge_test, directory_over_file_and_file_over_directory_fail_like_cp) {
  prepare(true);
  const process_result cp = run_cp(src_, dst_cp_);
  ASSERT_TRUE(exited_with(cp, 1));
  const process_result r = run_treecopy({"--merge", src_, dst_tc_});
  EXPECT_TRUE(exited_with(r, 1));
  bool x_reported = false, y_reported = false;
  for (const std::string& line : split_lines(r.err)) {
    x_reported |= line.find(dst_tc_ + "/x") != std::string::npos ||
                  line.find(src_ + "/x") != std::string::npos;
    y_reported |= line.find(dst_tc_ + "/y") != std::string::npos ||
                  line.find(src_ + "/y") != std::string::npos;
  }
  EXPECT_TRUE(x_reported) << r.describe();
  EXPECT_TRUE(y_reported) << r.describe();
  EXPECT_TRUE(same_trees(dst_cp_, dst_tc_, against_cp()));
}

// cp -aT writes a regular file through a destination symlink of the same name (it opens the
// existing name for writing), changing the symlink's target instead of the entry. treecopy replaces
// the entry: a copy never writes outside the destination tree. Not compared with cp, on purpose.
TEST_F(merge_test, destination_symlinks_are_replaced_not_followed) {
  build_source(false);
  ASSERT_EQ(::mkdir(dst_tc_.c_str(), 0755), 0);
  ASSERT_EQ(::close(::creat((scratch_ / "outside").c_str(), 0644)), 0);
  ASSERT_EQ(::symlink((scratch_ / "outside").c_str(), (dst_tc_ + "/a").c_str()), 0);
  EXPECT_TRUE(exited_with(run_treecopy({"--merge", src_, dst_tc_}), 0));
  struct stat st {};
  ASSERT_EQ(::lstat((dst_tc_ + "/a").c_str(), &st), 0);
  EXPECT_TRUE(S_ISREG(st.st_mode)) << "the symlink must be replaced by the file";
  EXPECT_EQ(read_file(dst_tc_ + "/a"), "new a");
  EXPECT_EQ(read_file(scratch_ / "outside"), "") << "nothing may be written through the symlink";
}

TEST_F(merge_test, merging_twice_changes_nothing_more) {
  prepare(false);
  ASSERT_TRUE(exited_with(run_treecopy({"--merge", src_, dst_tc_}), 0));
  ASSERT_TRUE(exited_with(run_treecopy({"--merge", "-j", "4", src_, dst_tc_}), 0));
  ASSERT_TRUE(exited_with(run_cp(src_, dst_cp_), 0));
  EXPECT_TRUE(same_trees(dst_cp_, dst_tc_, against_cp()));
}

TEST_F(merge_test, into_an_empty_existing_directory_equals_a_fresh_copy) {
  build_source(false);
  ASSERT_EQ(::mkdir(dst_tc_.c_str(), 0700), 0);
  EXPECT_TRUE(exited_with(run_treecopy({"--merge", src_, dst_tc_}), 0));
  compare_options o;
  o.left_label = "source";
  o.right_label = "treecopy --merge";
  EXPECT_TRUE(same_trees(src_, dst_tc_, o));
}

}  // namespace
}  // namespace treecopy_test
