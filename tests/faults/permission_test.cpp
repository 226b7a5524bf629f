// Permission faults as an unprivileged user (uid 65534 through setpriv): destination directories
// that cannot be written, source directories that can be searched but not listed or listed but not
// searched, unreadable files spread over a wide tree. Each is reported, the rest is copied, exit 1,
// and nothing that existed in the destination is damaged.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>

#include "fault_support.hpp"
#include "scratch.hpp"
#include "tree_assert.hpp"
#include "tree_maker.hpp"
#include "tree_walk.hpp"

namespace treecopy_test::faults {
namespace {

constexpr owner nobody{unprivileged_id, unprivileged_id};
constexpr owner root_owner{0, 0};
const std::string eacces_text = "Permission denied";

std::size_t errors_under(const std::vector<error_line>& errors, const std::string& prefix) {
  return static_cast<std::size_t>(
      std::count_if(errors.begin(), errors.end(),
                    [&](const error_line& e) { return e.path.rfind(prefix, 0) == 0; }));
}

class permission_test : public testing::Test {
 protected:
  void SetUp() override {
    if (auto why = unprivileged_unavailable()) GTEST_SKIP() << *why;
    scratch_.give_to(unprivileged_id);
  }

  // A tree owned by nobody: 16 directories of 20 files, plus what the test adds.
  void wide_source(tree_maker& m) {
    for (int d = 0; d < 16; ++d) {
      const std::string dir = "d" + std::to_string(d);
      m.dir(dir, 0755, nobody);
      for (int f = 0; f < 20; ++f) {
        m.file(dir + "/f" + std::to_string(f), m.random_bytes(100 + 97 * f), 0644, nobody);
      }
    }
  }

  scratch_dir scratch_{"perm"};
  std::string src_ = scratch_ / "src";
};

// --merge into a DST where one directory belongs to root: its children fail with EACCES, each
// reported; everything else arrives; what the locked directory held is untouched.
TEST_F(permission_test, destination_directory_without_write_permission) {
  {
    tree_maker m(src_, 21);
    wide_source(m);
    m.dir("locked", 0755, nobody);
    for (int f = 0; f < 10; ++f) m.file("locked/new" + std::to_string(f), "data", 0644, nobody);
    m.finish();
  }
  ASSERT_EQ(::chown(src_.c_str(), unprivileged_id, unprivileged_id), 0);
  const std::string dst = scratch_ / "dst";
  {
    tree_maker m(dst, 22);
    m.dir("locked", 0755, root_owner);
    m.file("locked/precious", "must survive", 0644, root_owner);
    m.finish();
  }
  ASSERT_EQ(::chown(dst.c_str(), unprivileged_id, unprivileged_id), 0);
  const auto locked_before = snapshot_tree(dst + "/locked");

  const auto r =
      run_treecopy_limited({"-q", "--merge", "-j", "4", src_, dst}, 120, as_uid(unprivileged_id));
  ASSERT_FALSE(hung(r)) << r.describe();
  EXPECT_TRUE(exited_with(r, 1));
  const auto errors = parse_error_lines(r.err);
  EXPECT_GE(errors_under(errors, dst + "/locked/new"), 10u) << "each refused file is reported\n"
                                                            << r.describe();
  for (const auto& e : errors) {
    EXPECT_EQ(e.path.rfind(dst + "/locked", 0), 0u)
        << "unexpected failure: " << e.op << " " << e.path;
    EXPECT_TRUE(e.reason == eacces_text || e.reason == "Operation not permitted") << e.reason;
  }
  EXPECT_EQ(snapshot_tree(dst + "/locked"), locked_before) << "the locked directory was changed";
  compare_options o;
  o.ignore = {"locked"};
  o.root_metadata = false;
  o.owner = false;
  EXPECT_TRUE(same_trees(src_, dst, o));
}

// DST's parent cannot be written: one clear error, exit 1 or 2, nothing created.
TEST_F(permission_test, destination_parent_without_write_permission) {
  {
    tree_maker m(src_, 23);
    wide_source(m);
    m.finish();
  }
  const std::string parent = scratch_ / "root_only";
  ASSERT_EQ(::mkdir(parent.c_str(), 0755), 0);
  const auto r = run_treecopy_limited({"-q", src_, parent + "/dst"}, 60, as_uid(unprivileged_id));
  ASSERT_FALSE(hung(r)) << r.describe();
  EXPECT_TRUE(r.exit_code == 1 || r.exit_code == 2) << r.describe();
  EXPECT_NE(r.err.find(parent + "/dst"), std::string::npos) << r.describe();
  EXPECT_NE(r.err.find(eacces_text), std::string::npos) << r.describe();
  EXPECT_EQ(::access((parent + "/dst").c_str(), F_OK), -1);
}

// Source directories that cannot be listed (0311) or whose entries cannot be reached (0644),
// and unreadable files in several directories, copied with many workers.
TEST_F(permission_test, unreadable_sources_across_a_wide_tree) {
  {
    tree_maker m(src_, 24);
    wide_source(m);
    m.dir("unlistable", 0311, nobody);
    m.file("unlistable/hidden", "x", 0644, nobody);
    m.dir("unsearchable", 0644, nobody);
    m.file("unsearchable/a", "x", 0644, nobody);
    m.file("unsearchable/b", "y", 0644, nobody);
    for (int d = 0; d < 16; d += 3) m.file("d" + std::to_string(d) + "/secret", "no", 0000, nobody);
    m.finish();
  }
  ASSERT_EQ(::chown(src_.c_str(), unprivileged_id, unprivileged_id), 0);
  const std::string dst = scratch_ / "dst";
  const auto r = run_treecopy_limited({"-q", "-j", "8", src_, dst}, 120, as_uid(unprivileged_id));
  ASSERT_FALSE(hung(r)) << r.describe();
  EXPECT_TRUE(exited_with(r, 1));
  const auto errors = parse_error_lines(r.err);
  for (int d = 0; d < 16; d += 3) {
    EXPECT_EQ(errors_under(errors, src_ + "/d" + std::to_string(d) + "/secret"), 1u)
        << r.describe();
  }
  EXPECT_GE(errors_under(errors, src_ + "/unlistable"), 1u) << r.describe();
  EXPECT_GE(errors_under(errors, src_ + "/unsearchable/"), 2u) << "each unreachable entry\n"
                                                               << r.describe();
  compare_options o;
  o.ignore = {"unlistable", "unsearchable"};
  for (int d = 0; d < 16; d += 3) o.ignore.insert("d" + std::to_string(d) + "/secret");
  o.owner = false;
  o.root_metadata = false;
  EXPECT_TRUE(same_trees(src_, dst, o));
  // A directory that could be listed but not searched still gets its metadata. (One that cannot
  // be opened at all, 0311, is reported and created empty, as cp -a does.)
  struct stat st {};
  ASSERT_EQ(::lstat((dst + "/unsearchable").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0644u);
}

}  // namespace
}  // namespace treecopy_test::faults
