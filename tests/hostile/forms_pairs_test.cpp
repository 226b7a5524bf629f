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

// DSTs the run creates are guarded before any pair's walk starts: a link in a's SRC to b's DST
// path (and one to a's own) is refused every time, never followed into b's copy while it fills
// (nor met before b's DST exists). A SRC that is missing gets no DST; a dry run creates none.
TEST(forms_pairs_test, source_reaching_a_dst_the_run_creates_is_refused_every_time) {
  scratch_dir s("forms-guard-new");
  make_sources(s / "in");
  tree_maker m(s / "in/b/many", 34);
  for (int i = 0; i < 300; ++i) m.file("f" + std::to_string(i), "b's file");
  m.finish();
  ASSERT_EQ(::mkdir((s / "out").c_str(), 0755), 0);
  ASSERT_EQ(::symlink((s / "out/a").c_str(), (s / "in/a/own").c_str()), 0);
  ASSERT_EQ(::symlink((s / "out/b").c_str(), (s / "in/a/peek").c_str()), 0);
  const process_result dry = run_quiet(
      {"--dry-run", "-L", "-j", "8", s / "in/a", s / "in/missing", s / "in/b", s / "out"});
  EXPECT_EQ(dry.exit_code, 1) << dry.describe();
  EXPECT_FALSE(exists(s / "out/a")) << dry.describe();
  EXPECT_FALSE(exists(s / "out/b")) << dry.describe();
  for (int round = 0; round < 12; ++round) {
    // Both orders: b's DST made before a's walk starts, or a's walk first.
    const std::string jobs = round % 2 ? "8" : "2";
    const bool b_first = round % 4 >= 2;
    SCOPED_TRACE("round " + std::to_string(round) + ", -j " + jobs);
    const process_result r =
        run_quiet({"-L", "-j", jobs, s / (b_first ? "in/b" : "in/a"), s / "in/missing",
                   s / (b_first ? "in/a" : "in/b"), s / "out"});
    EXPECT_EQ(r.exit_code, 1) << r.describe();
    const auto errors = parse_error_lines(r.err);
    ASSERT_EQ(errors.size(), 3u) << r.describe();
    std::string refusal;
    for (const error_line& e : errors) {
      if (e.path == s / "in/missing") continue;
      EXPECT_TRUE(e.path == s / "in/a/own" || e.path == s / "in/a/peek") << r.describe();
      if (refusal.empty()) refusal = e.reason;
      EXPECT_EQ(e.reason, refusal) << r.describe();  // the same refusal for both
    }
    EXPECT_FALSE(exists(s / "out/missing")) << r.describe();
    EXPECT_FALSE(exists(s / "out/a/own")) << r.describe();
    EXPECT_FALSE(exists(s / "out/a/peek")) << r.describe();
    compare_options o;
    o.ignore = {"own", "peek"};
    EXPECT_EQ(diffs(s / "in/a", s / "out/a", o), "");
    EXPECT_EQ(diffs(s / "in/b", s / "out/b"), "");
    ASSERT_EQ(::system(("rm -rf " + s / "out/a" + " " + s / "out/b").c_str()), 0);
  }
}

}  // namespace
}  // namespace treecopy_test::faults
