// --preserve=LIST and --no-preserve=LIST through the CLI, each word on and off, compared with GNU
// cp on the same tree (`cp -a --no-preserve=LIST`, `cp -R --preserve=LIST`), as root and as an
// unprivileged user; a bad LIST is bad usage; --update after a copy without times.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "copiers.hpp"
#include "scratch.hpp"
#include "sync_support.hpp"
#include "tree_assert.hpp"
#include "tree_maker.hpp"

namespace treecopy_test {
namespace {

constexpr unsigned nobody = 65534;

// Every attribute a word stands for: modes with set-id bits and unusual permissions, owners,
// times, a hard link, a symlink, a FIFO, a user attribute and an access ACL. Readable by nobody
// (its own entries, or others may read) so that the unprivileged copies see the same tree.
void build_tree(const std::string& root) {
  tree_maker m(root, 1901);
  m.dir("d", 0750, owner{nobody, nobody});
  m.file("d/g", "nobody's", 0600, owner{nobody, nobody});
  m.file("f", "set-uid", 04755);
  m.hardlink("f", "hl");
  m.file("x.sh", "#!/bin/sh\n", 0775);
  m.file("ro", "read only", 0444);
  m.symlink("ln", "f");
  m.special("p", S_IFIFO, 0640);
  ASSERT_FALSE(m.xattr("d/g", "user.note", "kept"));
  m.file("acl", "with an ACL", 0644);
  ASSERT_FALSE(
      m.xattr("acl", "system.posix_acl_access",
              posix_acl_value({{1, 0, 6}, {2, 1000, 4}, {4, 0, 4}, {0x10, 0, 4}, {0x20, 0, 4}})));
  m.dir("sub", 02775);
  m.file("sub/h", "h", 0640, owner{0, nobody});
  m.finish();
}

process_result run(std::vector<std::string> argv, const process_options& o) {
  return run_process(argv, o);
}

// Whether option=list keeps word's attributes.
bool kept(const std::string& option, const std::string& list, const std::string& word) {
  const bool named = list == "all" || list.find(word) != std::string::npos;
  return option == "--no-preserve" ? !named : named;
}

bool has_acl(const std::string& path) {
  return ::lgetxattr(path.c_str(), "system.posix_acl_access", nullptr, 0) > 0;
}

// cp's and treecopy's copies of one tree with the same LIST; times compared only when kept.
void expect_as_cp(const std::string& option, const std::string& list, bool unprivileged) {
  scratch_dir s("preserve");
  build_tree(s / "src");
  process_options o;
  if (unprivileged) {
    s.give_to(nobody);
    o.run_as = nobody;
  }
  const std::string arg = option + "=" + list;
  // --no-preserve drops from cp -a; --preserve alone starts from cp -R (nothing preserved).
  const char* base = option == "--no-preserve" ? "-a" : "-R";
  const process_result cp = run({"cp", base, arg, "-T", "--", s / "src", s / "cp"}, o);
  const process_result tc =
      run_treecopy({"--progress=none", "-j", "4", arg, s / "src", s / "tc"}, o);
  ASSERT_EQ(cp.exit_code, 0) << cp.describe();
  ASSERT_TRUE(exited_with(tc, 0));
  compare_options c;
  c.left_label = "cp " + std::string(base) + " " + arg;
  c.right_label = "treecopy " + arg;
  const bool times = kept(option, list, "timestamps");
  c.mtime = c.atime = times;
  // cp copies ACLs with the mode, treecopy with the other attributes (README): where the two words
  // part, the ACL'd file is checked on its own.
  const bool xattrs = kept(option, list, "xattr");
  if (kept(option, list, "mode") != xattrs) {
    c.ignore.insert("acl");
    EXPECT_EQ(has_acl(s / "tc/acl"), xattrs) << arg;
  }
  EXPECT_TRUE(same_trees(s / "cp", s / "tc", c)) << arg << (unprivileged ? " as nobody" : "");
  if (!times) {  // no utimensat: the copy's mtime is its own, not SRC's
    EXPECT_NE(lstat_path(s / "src/x.sh").st_mtim.tv_sec, lstat_path(s / "tc/x.sh").st_mtim.tv_sec);
  }
}

const char* const lists[] = {"mode",  "ownership", "timestamps",      "links",
                             "xattr", "all",       "mode,timestamps", "ownership,xattr,links"};

class preserve_test : public ::testing::TestWithParam<const char*> {
 protected:
  void SetUp() override { ::umask(022); }
};

TEST_P(preserve_test, no_preserve_as_cp_a) { expect_as_cp("--no-preserve", GetParam(), false); }
TEST_P(preserve_test, preserve_only_as_cp_r) { expect_as_cp("--preserve", GetParam(), false); }
TEST_P(preserve_test, no_preserve_as_cp_a_unprivileged) {
  expect_as_cp("--no-preserve", GetParam(), true);
}
TEST_P(preserve_test, preserve_only_as_cp_r_unprivileged) {
  expect_as_cp("--preserve", GetParam(), true);
}

INSTANTIATE_TEST_SUITE_P(lists, preserve_test, ::testing::ValuesIn(lists));

TEST(preserve_cli_test, both_options_combine_as_cp) {
  ::umask(022);
  scratch_dir s("preserve-both");
  build_tree(s / "src");
  ASSERT_EQ(run({"cp", "-R", "--preserve=links,xattr", "--no-preserve=mode", "-T", "--", s / "src",
                 s / "cp"},
                {})
                .exit_code,
            0);
  ASSERT_TRUE(exited_with(run_treecopy({"--progress=none", "--preserve=links,xattr",
                                        "--no-preserve=mode", s / "src", s / "tc"}),
                          0));
  compare_options c;
  c.mtime = c.atime = false;
  c.ignore.insert("acl");  // cp copies ACLs with the mode only
  EXPECT_TRUE(same_trees(s / "cp", s / "tc", c));
  EXPECT_TRUE(has_acl(s / "tc/acl"));
}

TEST(preserve_cli_test, bad_list_is_bad_usage_and_creates_nothing) {
  scratch_dir s("preserve-bad");
  build_tree(s / "src");
  for (const char* arg : {"--preserve=mode,bogus", "--no-preserve=context", "--no-preserve=Mode"}) {
    const process_result r = run_treecopy({"--progress=none", arg, s / "src", s / "dst"});
    EXPECT_TRUE(exited_with(r, 2)) << arg;
    EXPECT_NE(r.err.find("invalid argument"), std::string::npos) << r.describe();
    EXPECT_FALSE(entry_exists(s / "dst")) << arg;
  }
}

// Without times, --update takes a copy whose size is SRC's and whose mtime is not before SRC's as
// up to date: a second run changes nothing, a file written since is copied again.
TEST(preserve_cli_test, update_after_copy_without_times) {
  scratch_dir s("preserve-upd");
  build_tree(s / "src");
  const std::vector<std::string> base = {"--progress=none", "--no-preserve=timestamps"};
  auto tc = [&](std::vector<std::string> more) {
    std::vector<std::string> a = base;
    a.insert(a.end(), more.begin(), more.end());
    a.push_back(s / "src");
    a.push_back(s / "dst");
    return run_treecopy(a);
  };
  ASSERT_TRUE(exited_with(tc({}), 0));
  const auto before = non_directory_inodes(s / "dst");
  ASSERT_TRUE(exited_with(tc({"--update"}), 0));
  EXPECT_EQ(inode_changes(before, non_directory_inodes(s / "dst")), "");
  timespec later{};
  ::clock_gettime(CLOCK_REALTIME, &later);
  later.tv_sec += 100;
  overwrite_in_place(s / "src/x.sh", "#!/bin/bash", later);  // same size, written after the copy
  ASSERT_TRUE(exited_with(tc({"--update"}), 0));
  EXPECT_EQ(read_whole(s / "dst/x.sh"), "#!/bin/bash");
  const auto after = non_directory_inodes(s / "dst");
  EXPECT_NE(after.at("x.sh"), before.at("x.sh"));
  EXPECT_EQ(after.at("f"), before.at("f"));
}

}  // namespace
}  // namespace treecopy_test
