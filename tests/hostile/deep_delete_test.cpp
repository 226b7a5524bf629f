// --delete and --update remove trees of any depth: an extraneous directory chain in DST tens of
// thousands of levels deep (deeper than a recursive removal's stack allows, and than the descriptor
// limit) is removed under a small descriptor limit, and filters still protect an entry at its
// bottom. Built with fd-relative calls: the paths are far longer than PATH_MAX.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>

#include "fault_support.hpp"
#include "fd.hpp"
#include "scratch.hpp"
#include "tree_assert.hpp"
#include "tree_maker.hpp"

namespace treecopy_test::faults {
namespace {

// Makes root/d/d/.../d, depth levels, and a file `leaf` at the bottom; returns nothing, throws on
// failure.
void make_chain(const std::string& root, int depth, const std::string& leaf) {
  unique_fd dir = open_dir(root);
  for (int i = 0; i < depth; ++i) {
    if (::mkdirat(dir.get(), "d", 0755) != 0) throw_errno("mkdir chain");
    dir = open_dir_at(dir.get(), "d");
  }
  unique_fd f(::openat(dir.get(), leaf.c_str(),
                       O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644));
  if (!f.valid()) throw_errno("create leaf");
}

// The depth of the chain below root/d (0 when root has no "d").
int chain_depth(const std::string& root) {
  unique_fd dir = open_dir(root);
  int depth = 0;
  for (;;) {
    const int fd = ::openat(dir.get(), "d", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return depth;
    dir.reset(fd);
    ++depth;
  }
}

class deep_delete_test : public testing::Test {
 protected:
  void SetUp() override {
    tree_maker s(src_, 1);
    s.file("keep.txt", "kept", 0644);
    s.finish();
    tree_maker d(dst_, 2);
    d.file("keep.txt", "kept", 0644);
    d.finish();
  }
  scratch_dir scratch_{"deep-delete"};
  std::string src_ = scratch_ / "src";
  std::string dst_ = scratch_ / "dst";
};

TEST_F(deep_delete_test, a_chain_deeper_than_the_stack_and_the_descriptor_limit_is_removed) {
  make_chain(dst_, 20000, "leaf");
  const auto r =
      run_treecopy_limited({"-q", "--update", "--delete", "-j", "4", src_, dst_}, 300, nofile(64));
  ASSERT_FALSE(hung(r)) << r.describe();
  EXPECT_EQ(r.signal, 0) << r.describe();
  EXPECT_EQ(r.exit_code, 0) << r.describe();
  EXPECT_EQ(chain_depth(dst_), 0);
  compare_options o;
  o.atime = false;
  EXPECT_TRUE(same_trees(src_, dst_, o));
}

TEST_F(deep_delete_test, an_excluded_entry_at_the_bottom_keeps_its_chain) {
  make_chain(dst_, 3000, "keep.log");
  const auto r = run_treecopy_limited(
      {"-q", "--update", "--delete", "--exclude", "*.log", src_, dst_}, 300, nofile(64));
  ASSERT_FALSE(hung(r)) << r.describe();
  EXPECT_EQ(r.exit_code, 1) << r.describe();  // each kept directory is reported, as rsync does
  EXPECT_EQ(chain_depth(dst_), 3000) << "the chain holding an excluded entry was removed";
  const auto dry = run_treecopy_limited(
      {"-q", "--dry-run", "--update", "--delete", "--exclude", "*.log", src_, dst_}, 300,
      nofile(64));
  EXPECT_EQ(dry.exit_code, 1) << dry.describe();
}

}  // namespace
}  // namespace treecopy_test::faults
