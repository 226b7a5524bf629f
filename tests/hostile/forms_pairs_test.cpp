// cp's forms with several sources, the cases between pairs: --files-from applied to each SRC (a
// listed path one SRC lacks is reported as with one SRC, the others are copied), `-t DIR` with DIR
// a symlink (copied into what it names, as cp -t) against a two-path DST that is a symlink
// (refused), and a SRC that reaches another pair's DST while it is being written.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <string>
#include <vector>

#include "entry_check.hpp"
#include "fault_support.hpp"
#include "scratch.hpp"
#include "tree_compare.hpp"
#include "tree_maker.hpp"

namespace treecopy_test::faults {
namespace {

// a/{x, sub/y} and b/{x, other/z}.
void make_sources(const std::string& in) {
  tree_maker m(in, 33);
  m.dir("a", 0755);
  m.dir("a/sub", 0755);
  m.file("a/x", "a's x");
  m.file("a/sub/y", "a's y");
  m.dir("b", 0750);
  m.dir("b/other", 0755);
  m.file("b/x", "b's x");
  m.file("b/other/z", "b's z");
  m.finish();
}

TEST(forms_pairs_test, files_from_applies_to_each_source_and_reports_what_one_lacks) {
  scratch_dir s("forms-from");
  make_sources(s / "in");
  ASSERT_EQ(::mkdir((s / "out").c_str(), 0755), 0);
  std::ofstream(s / "list") << "x\nsub/y\n";
  const process_result r =
      run_quiet({"--files-from", s / "list", s / "in/a", s / "in/b", s / "out"});
  // b has no sub/y: one failed entry, as with b alone; everything else is copied.
  EXPECT_EQ(r.exit_code, 1) << r.describe();
  const auto errors = parse_error_lines(r.err);
  ASSERT_EQ(errors.size(), 1u) << r.describe();
  EXPECT_EQ(errors[0].path, s / "in/b/sub/y");
  EXPECT_EQ(diffs(s / "in/a", s / "out/a"), "");
  compare_options o;
  o.ignore = {"other"};
  EXPECT_EQ(diffs(s / "in/b", s / "out/b", o), "");
  EXPECT_FALSE(exists(s / "out/b/other"));
  EXPECT_FALSE(exists(s / "out/b/sub"));
  // The single-SRC case says the same of the same path.
  const process_result one = run_quiet({"--files-from", s / "list", s / "in/b", s / "one"});
  EXPECT_EQ(one.exit_code, 1) << one.describe();
  const auto one_errors = parse_error_lines(one.err);
  ASSERT_EQ(one_errors.size(), 1u) << one.describe();
  EXPECT_EQ(one_errors[0].path, errors[0].path);
  EXPECT_EQ(one_errors[0].op, errors[0].op);
  EXPECT_EQ(one_errors[0].reason, errors[0].reason);
}

TEST(forms_pairs_test, target_directory_symlink_is_followed_two_path_dst_symlink_is_refused) {
  scratch_dir s("forms-tlink");
  make_sources(s / "in");
  ASSERT_EQ(::mkdir((s / "real").c_str(), 0755), 0);
  ASSERT_EQ(::symlink("real", (s / "alias").c_str()), 0);
  // -t DIR: copied into what DIR names, as cp -t does.
  const process_result t = run_quiet({"-t", s / "alias", s / "in/a"});
  EXPECT_EQ(t.exit_code, 0) << t.describe();
  EXPECT_EQ(diffs(s / "in/a", s / "real/a"), "");
  // SRC DST with DST a symlink (to a directory): refused, nothing created.
  ASSERT_EQ(::symlink("real/b", (s / "b_alias").c_str()), 0);
  ASSERT_EQ(::mkdir((s / "real/b").c_str(), 0755), 0);
  const process_result two = run_quiet({"--merge", s / "in/b", s / "b_alias"});
  EXPECT_EQ(two.exit_code, 2) << two.describe();
  EXPECT_FALSE(exists(s / "real/b/x"));
  char target[64] = {};
  ASSERT_GT(::readlink((s / "b_alias").c_str(), target, sizeof target - 1), 0);
  EXPECT_EQ(std::string(target), "real/b");
}

// A link inside one SRC, followed (-L), to another pair's DST while that pair writes it: refused
// as the pair's own DST is ("into itself"), never copied half-written, never changed.
TEST(forms_pairs_test, source_reaching_another_pairs_dst_is_refused_as_its_own_is) {
  scratch_dir s("forms-guard");
  make_sources(s / "in");
  ASSERT_EQ(::mkdir((s / "out").c_str(), 0755), 0);
  ASSERT_EQ(::mkdir((s / "out/a").c_str(), 0755), 0);
  ASSERT_EQ(::mkdir((s / "out/b").c_str(), 0755), 0);
  ASSERT_EQ(::symlink((s / "out/a").c_str(), (s / "in/a/own").c_str()), 0);
  ASSERT_EQ(::symlink((s / "out/b").c_str(), (s / "in/a/peek").c_str()), 0);
  for (const std::string jobs : {"1", "4"}) {
    SCOPED_TRACE(jobs);
    const process_result r =
        run_quiet({"-L", "--merge", "-j", jobs, s / "in/a", s / "in/b", s / "out"});
    EXPECT_EQ(r.exit_code, 1) << r.describe();
    const auto errors = parse_error_lines(r.err);
    ASSERT_EQ(errors.size(), 2u) << r.describe();
    for (const error_line& e : errors) {
      EXPECT_TRUE(e.path == s / "in/a/own" || e.path == s / "in/a/peek") << r.describe();
      EXPECT_EQ(e.reason, errors[0].reason) << r.describe();  // the same refusal for both
    }
    EXPECT_FALSE(exists(s / "out/a/own")) << r.describe();
    EXPECT_FALSE(exists(s / "out/a/peek")) << r.describe();
    EXPECT_EQ(diffs(s / "in/b", s / "out/b",
                    [] {
                      compare_options o;
                      o.root_metadata = false;
                      return o;
                    }()),
              "");
  }
}

}  // namespace
}  // namespace treecopy_test::faults
