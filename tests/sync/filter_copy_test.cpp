// Filters end to end through copy_tree(): a source tree laid out like a build checkout, copied with
// the typical --exclude .git/ --exclude '*.o', and with include rules ahead of excludes. Excluded
// entries are absent, everything else is an exact copy, and the report counts what was left out.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <set>

#include "scratch.hpp"
#include "sync_support.hpp"
#include "tree_assert.hpp"
#include "tree_maker.hpp"
#include "tree_walk.hpp"

namespace treecopy_test {
namespace {

void build_checkout(const std::string& root) {
  tree_maker m(root, 701);
  m.dir(".git");
  m.dir(".git/objects");
  m.file(".git/objects/ab12", m.random_bytes(3000));
  m.file(".git/HEAD", "ref: refs/heads/main\n");
  m.file(".gitignore", "*.o\n");
  m.dir("src");
  m.file("src/main.c", "int main() {}\n");
  m.file("src/main.o", m.random_bytes(500));
  m.file("src/keep.o", m.random_bytes(400));
  m.dir("src/lib", 0750);
  m.file("src/lib/util.c", "void util() {}\n");
  m.file("src/lib/util.o", m.random_bytes(700));
  m.dir("src/objects.o");  // a directory matched by '*.o' is left out too
  m.file("src/objects.o/inner.c", "inside an excluded directory");
  m.dir("vendor");
  m.dir("vendor/dep");
  m.file("vendor/dep/.git", "gitdir: ../../.git/modules/dep\n");  // a file: not matched by .git/
  m.file("vendor/dep/dep.c", "dep");
  m.dir("vendor/other");
  m.dir("vendor/other/.git");
  m.file("vendor/other/.git/config", "[core]\n");
  m.symlink("src/main.o.link", "main.o");
  m.file("notes.txt", "plain");
  m.finish();
}

TEST(filter_copy_test, typical_excludes) {
  scratch_dir s("filter");
  build_checkout(s / "src");
  treecopy::copy_options o;
  o.filters = {{false, ".git/"}, {false, "*.o"}};
  recording_observer obs;
  const treecopy::copy_report r = treecopy::copy_tree(s / "src", s / "dst", o, &obs);
  EXPECT_TRUE(r.ok()) << describe(r);
  const std::set<std::string> excluded = {".git",           "src/main.o",    "src/keep.o",
                                          "src/lib/util.o", "src/objects.o", "vendor/other/.git"};
  for (const auto& rel : excluded)
    EXPECT_FALSE(entry_exists(s / "dst/" + rel)) << rel << " was copied";
  EXPECT_EQ(r.skipped, excluded.size()) << describe(r);
  EXPECT_TRUE(S_ISREG(lstat_path(s / "dst/vendor/dep/.git").st_mode))
      << "a .git file is not a directory";
  EXPECT_TRUE(S_ISLNK(lstat_path(s / "dst/src/main.o.link").st_mode));
  compare_options c;
  c.ignore = excluded;
  c.left_label = "src";
  c.right_label = "dst";
  EXPECT_TRUE(same_trees(s / "src", s / "dst", c));
  for (const auto& [kind, path] : obs.entries)
    for (const auto& rel : excluded) EXPECT_NE(path, s / "dst/" + rel) << "reported as copied";
}

TEST(filter_copy_test, include_before_exclude_and_anchored_rules) {
  scratch_dir s("filter2");
  build_checkout(s / "src");
  treecopy::copy_options o;
  o.filters = {{true, "keep.o"}, {false, "*.o"}, {false, "/vendor/other/"}, {false, "src/lib/*.c"}};
  const treecopy::copy_report r = treecopy::copy_tree(s / "src", s / "dst", o);
  EXPECT_TRUE(r.ok()) << describe(r);
  EXPECT_TRUE(entry_exists(s / "dst/src/keep.o"));
  EXPECT_TRUE(entry_exists(s / "dst/.git/HEAD"));
  const std::set<std::string> excluded = {"src/main.o", "src/lib/util.o", "src/objects.o",
                                          "vendor/other", "src/lib/util.c"};
  for (const auto& rel : excluded)
    EXPECT_FALSE(entry_exists(s / "dst/" + rel)) << rel << " was copied";
  compare_options c;
  c.ignore = excluded;
  EXPECT_TRUE(same_trees(s / "src", s / "dst", c));
}

// With --update, an excluded source entry is not copied even when DST lacks it, and an entry
// present in both is left as it is in DST even if it differs.
TEST(filter_copy_test, update_leaves_excluded_entries_alone) {
  scratch_dir s("filter3");
  build_checkout(s / "src");
  ASSERT_TRUE(treecopy::copy_tree(s / "src", s / "dst").ok());
  write_file(s / "src/src/main.o", "rebuilt object", past_time(3));
  write_file(s / "src/src/new.o", "new object", past_time(4));
  write_file(s / "src/src/main.c", "int main() { return 1; }\n", past_time(5));
  treecopy::copy_options o;
  o.update = true;
  o.filters = {{false, "*.o"}};
  const treecopy::copy_report r = treecopy::copy_tree(s / "src", s / "dst", o);
  EXPECT_TRUE(r.ok()) << describe(r);
  EXPECT_EQ(r.copied[treecopy::entry_kind::file], 1u) << describe(r);
  EXPECT_FALSE(entry_exists(s / "dst/src/new.o"));
  EXPECT_NE(read_whole(s / "dst/src/main.o"), "rebuilt object");
  EXPECT_EQ(read_whole(s / "dst/src/main.c"), "int main() { return 1; }\n");
}

TEST(filter_copy_test, bad_pattern_is_a_setup_error) {
  scratch_dir s("filter4");
  build_checkout(s / "src");
  treecopy::copy_options o;
  o.filters = {{false, "/"}};
  bool threw = false;
  try {
    treecopy::copy_tree(s / "src", s / "dst", o);
  } catch (const treecopy::setup_error&) {
    threw = true;
  } catch (const std::exception& e) {
    ADD_FAILURE() << "a bad pattern should be a setup_error, got: " << e.what();
    threw = true;
  }
  EXPECT_TRUE(threw);
  EXPECT_FALSE(entry_exists(s / "dst")) << "nothing may be created for a bad pattern";
}

}  // namespace
}  // namespace treecopy_test
