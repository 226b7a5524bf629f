// Per-entry failures through the CLI (as uid 65534, who cannot read some source entries): exit
// code 1, each failure reported with its path, everything else copied, directory metadata included.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include "copiers.hpp"
#include "scratch.hpp"
#include "tree_assert.hpp"
#include "tree_maker.hpp"

namespace treecopy_test {
namespace {

constexpr owner nobody{unprivileged_id, unprivileged_id};
constexpr owner root_owner{0, 0};

class entry_errors_test : public testing::Test {
 protected:
  void SetUp() override {
    if (auto why = unprivileged_unavailable()) GTEST_SKIP() << *why;
    scratch_.give_to(unprivileged_id);
    tree_maker m(src_, 9);
    m.file("before", "copied", 0644, nobody);
    m.file("secret_file", "root only", 0600, root_owner);
    m.dir("secret_dir", 0700, root_owner);
    m.file("secret_dir/inside", "never seen", 0644, root_owner);
    m.dir("sub", 0750, nobody);
    m.file("sub/no_read", "mode 0000", 0000, nobody);
    m.file("sub/fine", "copied", 0640, nobody);
    m.dir("sub/deeper", 0555, nobody);
    m.file("sub/deeper/fine_too", "copied", 0644, nobody);
    m.file("zz_after", "copied", 0644, nobody);
    m.finish();
    ASSERT_EQ(::chown(src_.c_str(), unprivileged_id, unprivileged_id), 0);
  }

  // The lines of stderr that name `fragment`.
  static std::size_t lines_naming(const process_result& r, const std::string& fragment) {
    std::size_t n = 0;
    for (const std::string& line : split_lines(r.err))
      n += line.find(fragment) != std::string::npos;
    return n;
  }

  scratch_dir scratch_{"entry_errors"};
  std::string src_ = scratch_ / "src";
  const std::set<std::string> failing_{"secret_file", "secret_dir", "sub/no_read"};
};

TEST_F(entry_errors_test, failures_are_reported_and_the_rest_is_copied) {
  const process_result cp = run_cp(src_, scratch_ / "cp", as_user(unprivileged_id));
  ASSERT_TRUE(exited_with(cp, 1)) << "cp -a itself fails on these entries";
  for (int jobs : {1, 4}) {
    SCOPED_TRACE("jobs " + std::to_string(jobs));
    const std::string dst = scratch_ / ("dst_j" + std::to_string(jobs));
    const process_result r =
        run_treecopy({"-j", std::to_string(jobs), src_, dst}, as_user(unprivileged_id));
    EXPECT_TRUE(exited_with(r, 1));
    for (const std::string& path : failing_) {
      EXPECT_GE(lines_naming(r, path), 1u) << "'" << path << "' must be reported\n" << r.describe();
    }
    compare_options o;
    o.left_label = "source";
    o.right_label = "treecopy";
    o.ignore = failing_;
    // Includes the modes and mtimes of the root and of sub: directory metadata is applied even
    // though a child failed.
    EXPECT_TRUE(same_trees(src_, dst, o));
  }
}

TEST_F(entry_errors_test, quiet_prints_only_the_failures) {
  const process_result r = run_treecopy({"-q", src_, scratch_ / "dst"}, as_user(unprivileged_id));
  EXPECT_TRUE(exited_with(r, 1));
  EXPECT_EQ(split_lines(r.err).size(), failing_.size()) << r.describe();
  EXPECT_EQ(r.out, "");
}

TEST_F(entry_errors_test, fail_fast_stops_with_exit_code_1) {
  const process_result r =
      run_treecopy({"--fail-fast", "-j", "1", src_, scratch_ / "dst"}, as_user(unprivileged_id));
  EXPECT_TRUE(exited_with(r, 1));
  std::size_t reported = 0;
  for (const std::string& path : failing_) reported += lines_naming(r, path);
  EXPECT_GE(reported, 1u) << r.describe();
}

// The "side" of an error object in the --json summary, for the error whose path is `path`.
std::string side_of(const std::string& json, const std::string& path) {
  const std::size_t at = json.find("{\"path\":\"" + path + "\"");
  if (at == std::string::npos) return "<no error for " + path + ">";
  const std::string key = "\"side\":\"";
  const std::size_t side = json.find(key, at);
  if (side == std::string::npos || side > json.find('}', at)) return "<no side>";
  const std::size_t begin = side + key.size();
  return json.substr(begin, json.find('"', begin) - begin);
}

TEST_F(entry_errors_test, json_errors_say_which_tree) {
  // DST exists with a directory of root's where SRC has "sub": nothing can be created in it.
  const std::string dst = scratch_ / "dst";
  tree_maker m(dst, 3);
  m.dir("sub", 0755, root_owner);
  m.finish();
  ASSERT_EQ(::chown(dst.c_str(), unprivileged_id, unprivileged_id), 0);
  const process_result r =
      run_treecopy({"--merge", "--json", "-q", src_, dst}, as_user(unprivileged_id));
  EXPECT_TRUE(exited_with(r, 1)) << r.describe();
  EXPECT_EQ(side_of(r.out, src_ + "/secret_file"), "source") << r.out;
  EXPECT_EQ(side_of(r.out, src_ + "/sub/no_read"), "source") << r.out;
  EXPECT_EQ(side_of(r.out, dst + "/sub/fine"), "destination") << r.out;
}

}  // namespace
}  // namespace treecopy_test
