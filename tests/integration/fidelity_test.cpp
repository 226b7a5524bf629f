// Fidelity of the treecopy CLI: the full-case tree (and random trees) copied by treecopy must
// equal both the source and GNU cp -a's copy on every attribute, for several worker counts.
#include <gtest/gtest.h>

#include <memory>

#include "copiers.hpp"
#include "scratch.hpp"
#include "tree_assert.hpp"
#include "tree_builder.hpp"

namespace treecopy_test {
namespace {

// One source tree and its cp -a copy per test process, shared by the tests of this suite.
class fidelity_test : public testing::TestWithParam<int> {
 protected:
  static void SetUpTestSuite() {
    scratch_ = std::make_unique<scratch_dir>("fidelity");
    report_ = build_full_tree(source());
    cp_result_ = run_cp(source(), reference());
  }
  static void TearDownTestSuite() { scratch_.reset(); }

  static std::string source() { return *scratch_ / "src"; }
  static std::string reference() { return *scratch_ / "cp"; }

  static compare_options against_cp() {
    compare_options o;
    o.directory_atime = true;
    o.left_label = "cp -a";
    o.right_label = "treecopy";
    // cp cannot copy paths past PATH_MAX (see cp_ok_except_long_paths); that part is checked
    // against the source only.
    o.ignore = {full_tree::long_path_dir};
    return o;
  }
  static compare_options against_source() {
    compare_options o;
    o.directory_atime = true;
    o.left_label = "source";
    o.right_label = "treecopy";
    return o;
  }

  static std::unique_ptr<scratch_dir> scratch_;
  static build_report report_;
  static process_result cp_result_;
};

std::unique_ptr<scratch_dir> fidelity_test::scratch_;
build_report fidelity_test::report_;
process_result fidelity_test::cp_result_;

TEST_P(fidelity_test, full_tree_equals_cp_and_source) {
  ASSERT_TRUE(cp_ok_except_long_paths(cp_result_)) << cp_result_.describe();
  const std::string dst = *scratch_ / ("treecopy_j" + std::to_string(GetParam()));
  const process_result r = run_treecopy({"--jobs", std::to_string(GetParam()), source(), dst});
  EXPECT_TRUE(exited_with(r, 0));
  EXPECT_TRUE(same_trees(reference(), dst, against_cp()));
  EXPECT_TRUE(same_trees(source(), dst, against_source()));
}

TEST_P(fidelity_test, random_trees_equal_cp) {
  for (std::uint64_t seed : {11u, 12u, 13u}) {
    random_tree_options o;
    o.seed = seed;
    const std::string tag = std::to_string(seed) + "_j" + std::to_string(GetParam());
    const std::string src = *scratch_ / ("random_src_" + tag);
    build_random_tree(src, o);
    const process_result cp = run_cp(src, *scratch_ / ("random_cp_" + tag));
    ASSERT_TRUE(exited_with(cp, 0));
    const std::string dst = *scratch_ / ("random_tc_" + tag);
    const process_result r = run_treecopy({"-j", std::to_string(GetParam()), src, dst});
    EXPECT_TRUE(exited_with(r, 0)) << "seed " << seed;
    compare_options c = against_cp();
    c.ignore.clear();
    EXPECT_TRUE(same_trees(*scratch_ / ("random_cp_" + tag), dst, c)) << "seed " << seed;
  }
}

INSTANTIATE_TEST_SUITE_P(jobs, fidelity_test, testing::Values(1, 2, 8),
                         [](const testing::TestParamInfo<int>& info) {
                           return "jobs_" + std::to_string(info.param);
                         });

// The cases that depend on the machine (root, xattr support) were all built; when not, this test
// is skipped, naming what the fidelity tests above could not cover here.
TEST(fidelity_capabilities, every_case_was_built) {
  scratch_dir scratch("capabilities");
  const build_report report = build_full_tree(scratch / "src");
  if (!report.missing.empty()) {
    GTEST_SKIP() << "not covered on this machine: " << report.missing_text();
  }
  EXPECT_TRUE(report.owners && report.devices && report.user_xattrs && report.trusted_xattrs &&
              report.acls);
}

// Worker counts far above the core count must work as well (they are meant for slow storage).
TEST(fidelity_many_workers, sixty_four_workers_equal_the_source) {
  scratch_dir scratch("many_workers");
  build_full_tree(scratch / "src");
  const process_result r = run_treecopy({"-j", "64", scratch / "src", scratch / "dst"});
  EXPECT_TRUE(exited_with(r, 0));
  compare_options o;
  o.left_label = "source";
  o.right_label = "treecopy";
  EXPECT_TRUE(same_trees(scratch / "src", scratch / "dst", o));
}

}  // namespace
}  // namespace treecopy_test
