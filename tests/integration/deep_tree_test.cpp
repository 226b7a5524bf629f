// A tree 2,000 levels deep (paths far beyond PATH_MAX) copied with only 256 descriptors allowed:
// the copier must not hold one descriptor per level.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include "copiers.hpp"
#include "scratch.hpp"
#include "tree_assert.hpp"
#include "tree_maker.hpp"

namespace treecopy_test {
namespace {

constexpr int depth = 2000;

void build_deep_tree(const std::string& root) {
  tree_maker m(root, 3);
  unique_fd dir(::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  for (int level = 0; level < depth; ++level) {
    const std::string name = "level_" + std::to_string(level);
    m.dir(name, 0755, {}, dir.get());
    if (level % 100 == 0) {
      m.file("file", "at level " + std::to_string(level), 0640, {}, {}, dir.get());
      m.symlink("link", "file", {}, dir.get());
    }
    dir = open_dir_at(dir.get(), name);
  }
  m.file("bottom", "the bottom", 0600, {}, {}, dir.get());
  m.finish();
}

class deep_tree_test : public testing::TestWithParam<int> {
 protected:
  static void SetUpTestSuite() {
    scratch_ = new scratch_dir("deep");
    build_deep_tree(*scratch_ / "src");
  }
  static void TearDownTestSuite() {
    delete scratch_;
    scratch_ = nullptr;
  }
  static scratch_dir* scratch_;
};

scratch_dir* deep_tree_test::scratch_ = nullptr;

TEST_P(deep_tree_test, copies_with_256_descriptors) {
  const std::string dst = *scratch_ / ("dst_j" + std::to_string(GetParam()));
  const process_result r = run_treecopy(
      {"-q", "-j", std::to_string(GetParam()), *scratch_ / "src", dst}, with_nofile_limit(256));
  EXPECT_TRUE(exited_with(r, 0));
  compare_options o;
  o.directory_atime = true;
  o.left_label = "source";
  o.right_label = "treecopy (ulimit -n 256)";
  EXPECT_TRUE(same_trees(*scratch_ / "src", dst, o));
}

INSTANTIATE_TEST_SUITE_P(jobs, deep_tree_test, testing::Values(1, 8),
                         [](const testing::TestParamInfo<int>& info) {
                           return "jobs_" + std::to_string(info.param);
                         });

}  // namespace
}  // namespace treecopy_test
