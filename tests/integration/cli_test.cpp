// The command line itself: --version, --help, single-file and symlink sources, output options and
// the table of exit codes.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <regex>

#include "copiers.hpp"
#include "scratch.hpp"
#include "tree_assert.hpp"
#include "tree_builder.hpp"
#include "tree_maker.hpp"

namespace treecopy_test {
namespace {

compare_options labelled(const char* left, const char* right) {
  compare_options o;
  o.left_label = left;
  o.right_label = right;
  return o;
}

TEST(cli, version) {
  const process_result r = run_treecopy({"--version"});
  EXPECT_TRUE(exited_with(r, 0));
  EXPECT_TRUE(std::regex_search(r.out, std::regex(R"(\d+\.\d+\.\d+)"))) << r.describe();
}

TEST(cli, help_documents_options_and_exit_codes) {
  const process_result r = run_treecopy({"--help"});
  EXPECT_TRUE(exited_with(r, 0));
  for (const char* text : {"--jobs", "--merge", "--reflink", "--fail-fast", "--quiet", "--verbose",
                           "--version", "SRC", "DST"}) {
    EXPECT_NE(r.out.find(text), std::string::npos) << "--help does not mention " << text;
  }
  const std::regex exit_codes(R"([Ee]xit (codes|status)[\s\S]*\b0\b[\s\S]*\b1\b[\s\S]*\b2\b)");
  EXPECT_TRUE(std::regex_search(r.out, exit_codes)) << "--help must explain exit codes 0, 1, 2\n"
                                                    << r.out;
}

class cli_copy_test : public testing::Test {
 protected:
  void SetUp() override {
    tree_maker m(src_, 31);
    m.file("file", m.random_bytes(100000), 04750);
    xattrs_ = !m.xattr("file", "user.kept", "yes");
    m.set_times("file", m.next_times());
    m.symlink("link", "file");
    m.symlink("dangling", "../nowhere");
    m.special("fifo", S_IFIFO, 0620);
    m.dir("dir");
    m.file("dir/inner", "inner");
    m.finish();
  }
  // Copies src_/rel with cp and with treecopy and expects equal results and exit 0.
  void expect_like_cp(const std::string& rel) {
    const std::string by_cp = scratch_ / ("cp_" + rel);
    const std::string by_tc = scratch_ / ("tc_" + rel);
    ASSERT_TRUE(exited_with(run_cp(src_ + "/" + rel, by_cp), 0));
    const process_result r = run_treecopy({src_ + "/" + rel, by_tc});
    EXPECT_TRUE(exited_with(r, 0));
    EXPECT_TRUE(same_trees(by_cp, by_tc, labelled("cp -aT", "treecopy")));
    EXPECT_TRUE(same_trees(src_ + "/" + rel, by_tc, labelled("source", "treecopy")));
  }

  scratch_dir scratch_{"cli"};
  std::string src_ = scratch_ / "src";
  bool xattrs_ = false;
};

TEST_F(cli_copy_test, single_file_source) { expect_like_cp("file"); }

TEST_F(cli_copy_test, symlink_source_is_copied_as_a_link) {
  expect_like_cp("link");
  struct stat st {};
  ASSERT_EQ(::lstat((scratch_ / "tc_link").c_str(), &st), 0);
  EXPECT_TRUE(S_ISLNK(st.st_mode));
  expect_like_cp("dangling");
}

TEST_F(cli_copy_test, fifo_source_is_recreated_not_read) {
  // A copier that opened the FIFO for reading would block here until the test's timeout.
  expect_like_cp("fifo");
}

TEST_F(cli_copy_test, reflink_modes_that_must_work_everywhere) {
  for (const char* mode : {"--reflink=never", "--reflink=auto"}) {
    const std::string dst = scratch_ / (std::string("tc") + (mode + 10));
    EXPECT_TRUE(exited_with(run_treecopy({mode, src_, dst}), 0)) << mode;
    EXPECT_TRUE(same_trees(src_, dst, labelled("source", mode)));
  }
}

TEST_F(cli_copy_test, quiet_success_prints_nothing_and_default_prints_a_summary) {
  const process_result quiet = run_treecopy({"-q", src_, scratch_ / "q"});
  EXPECT_TRUE(exited_with(quiet, 0));
  EXPECT_EQ(quiet.out, "");
  EXPECT_EQ(quiet.err, "");
  const process_result normal = run_treecopy({src_, scratch_ / "n"});
  EXPECT_TRUE(exited_with(normal, 0));
  EXPECT_FALSE(normal.err.empty()) << "a short summary is expected without -q";
  EXPECT_LE(split_lines(normal.err).size(), 3u) << normal.describe();
}

TEST_F(cli_copy_test, verbose_names_every_entry) {
  const process_result r = run_treecopy({"-v", "-j", "2", src_, scratch_ / "v"});
  EXPECT_TRUE(exited_with(r, 0));
  const std::string all = r.out + r.err;
  for (const char* name : {"/file", "/link", "/dangling", "/fifo", "/dir", "/dir/inner"}) {
    EXPECT_NE(all.find(scratch_ / "v" + name), std::string::npos) << name << "\n" << r.describe();
  }
}

// 0: everything copied; 1: some entries failed, the rest copied; 2: bad input, nothing touched.
TEST_F(cli_copy_test, exit_code_table) {
  EXPECT_TRUE(exited_with(run_treecopy({"-q", src_, scratch_ / "ok"}), 0));
  EXPECT_TRUE(exited_with(run_treecopy({"-q", scratch_ / "missing", scratch_ / "bad"}), 2));
  EXPECT_TRUE(exited_with(run_treecopy({"-q", "--bogus", src_, scratch_ / "bad"}), 2));
  EXPECT_TRUE(exited_with(run_treecopy({"-q", src_, scratch_ / "ok"}), 2)) << "DST exists";
  // A partial failure: the destination holds a directory where the source has a file.
  ASSERT_EQ(::mkdir((scratch_ / "partial").c_str(), 0755), 0);
  ASSERT_EQ(::mkdir((scratch_ / "partial/file").c_str(), 0755), 0);
  ASSERT_EQ(::close(::creat((scratch_ / "partial/file/keep").c_str(), 0644)), 0);
  const process_result partial = run_treecopy({"-q", "--merge", src_, scratch_ / "partial"});
  EXPECT_TRUE(exited_with(partial, 1));
  EXPECT_EQ(split_lines(partial.err).size(), 1u) << partial.describe();
  EXPECT_NE(partial.err.find("file"), std::string::npos);
  compare_options o = labelled("source", "treecopy");
  o.ignore = {"file"};
  EXPECT_TRUE(same_trees(src_, scratch_ / "partial", o)) << "the rest must be copied";
}

}  // namespace
}  // namespace treecopy_test
