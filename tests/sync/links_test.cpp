// --files-from, -l/--link and --link-dest through the CLI and the library: what is selected,
// linked or copied, checked against the real trees bit for bit (tree_compare) and by inode.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <string>
#include <vector>

#include "copiers.hpp"
#include "scratch.hpp"
#include "sync_support.hpp"
#include "tree_assert.hpp"
#include "tree_builder.hpp"
#include "tree_compare.hpp"

namespace treecopy_test {
namespace {

process_result tc(std::vector<std::string> args) {
  args.insert(args.begin(), {"--progress=none", "-j", "4"});
  return run_treecopy(args);
}

void write_text(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

ino_t inode_of(const std::string& path) { return lstat_path(path).st_ino; }

// SRC: a/b/f, a/g, c/h, c/d/i, top; modes that differ from the defaults on a and c.
void make_source(const scratch_dir& s) {
  ASSERT_EQ(::mkdir((s / "src").c_str(), 0755), 0);
  for (const char* d : {"src/a", "src/a/b", "src/c", "src/c/d", "src/e"})
    ASSERT_EQ(::mkdir((s / d).c_str(), 0755), 0);
  write_file(s / "src/a/b/f", "f", past_time(1));
  write_file(s / "src/a/g", "g", past_time(2));
  write_file(s / "src/c/h", "h", past_time(3));
  write_file(s / "src/c/d/i", "i", past_time(4));
  write_file(s / "src/top", "top", past_time(5));
  ASSERT_EQ(::chmod((s / "src/a").c_str(), 0701), 0);
  ASSERT_EQ(::chmod((s / "src/a/b").c_str(), 0750), 0);
  set_entry_times(s / "src/a", past_time(6));
  set_entry_times(s / "src/a/b", past_time(7));
}

TEST(links_test, files_from_copies_listed_paths_with_their_parents) {
  scratch_dir s("from");
  make_source(s);
  write_text(s / "list", "a/b/f\n# a comment\n\n./c//\n");
  ASSERT_TRUE(exited_with(tc({"--files-from", s / "list", s / "src", s / "dst"}), 0));
  // Exactly the listed paths and their parents, each as SRC has it (parents' metadata too).
  compare_options o;
  o.ignore = {"a/g", "top", "e"};
  o.root_metadata = false;  // the root's mtime: SRC's, as it is
  EXPECT_TRUE(same_trees(s / "src", s / "dst", o));
  EXPECT_FALSE(entry_exists(s / "dst/a/g"));
  EXPECT_FALSE(entry_exists(s / "dst/top"));
  EXPECT_FALSE(entry_exists(s / "dst/e"));
  EXPECT_EQ(lstat_path(s / "dst/a").st_mode & 07777, 0701u);
  EXPECT_TRUE(same_trees(s / "src/c", s / "dst/c"));  // a listed directory is copied whole
}

TEST(links_test, files_from_nul_separated_from_stdin_and_the_library) {
  scratch_dir s("from0");
  make_source(s);
  write_text(s / "list0", std::string("top\0a/b\0", 8));
  const process_result r = run_process(
      {"sh", "-c", "exec \"$0\" --progress=none -0 --files-from - \"$1\" \"$2\" < \"$3\"",
       cli_path(), s / "src", s / "dst", s / "list0"});
  ASSERT_TRUE(exited_with(r, 0));
  EXPECT_TRUE(same_trees(s / "src/a/b", s / "dst/a/b"));
  EXPECT_TRUE(same_trees(s / "src/top", s / "dst/top"));
  EXPECT_FALSE(entry_exists(s / "dst/a/g"));
  treecopy::copy_options o;
  o.files_from = {"c/d/i"};
  EXPECT_TRUE(treecopy::copy_tree(s / "src", s / "lib", o).ok());
  EXPECT_TRUE(same_trees(s / "src/c/d/i", s / "lib/c/d/i"));
  EXPECT_FALSE(entry_exists(s / "lib/c/h"));
}

TEST(links_test, files_from_with_update_delete_leaves_unlisted_entries_alone) {
  scratch_dir s("from-del");
  make_source(s);
  ASSERT_TRUE(exited_with(tc({s / "src", s / "dst"}), 0));
  write_file(s / "dst/c/extra", "x", past_time(8));
  write_file(s / "dst/a/extra", "x", past_time(8));
  write_text(s / "list", "c\n");
  ASSERT_TRUE(exited_with(
      tc({"--update", "--delete", "--files-from", s / "list", s / "src", s / "dst"}), 0));
  EXPECT_FALSE(entry_exists(s / "dst/c/extra"));  // inside a listed directory: mirrored
  EXPECT_TRUE(entry_exists(s / "dst/a/extra"));   // not listed: neither copied nor deleted
}

TEST(links_test, link_makes_hard_links_to_the_source_files) {
  scratch_dir s("link");
  random_tree_options t;
  t.seed = 1703;
  t.files = 150;
  t.directories = 20;
  build_random_tree(s / "src", t);
  ASSERT_EQ(::system(("cp -a " + s / "src" + " " + s / "snap").c_str()), 0);
  ASSERT_TRUE(exited_with(tc({"-l", s / "src", s / "dst"}), 0));
  // Every regular file of DST is SRC's inode; the rest is a copy.
  ASSERT_TRUE(exited_with(run_process({"sh", "-c",
                                       "cd \"$0\" && find . -type f | while read -r f; do "
                                       "[ \"$f\" -ef \"$1/$f\" ] || exit 1; done",
                                       s / "src", s / "dst"}),
                          0));
  compare_options o;
  o.hard_links = false;  // SRC's link counts grew: each file has one more name now
  o.directory_atime = false;
  EXPECT_TRUE(same_trees(s / "src", s / "dst", o));
  EXPECT_TRUE(same_trees(s / "snap", s / "src", o));  // SRC's files kept their metadata
}

TEST(links_test, link_dest_links_unchanged_files_and_copies_the_rest) {
  scratch_dir s("linkdest");
  make_source(s);
  ASSERT_TRUE(exited_with(tc({s / "src", s / "prev"}), 0));
  ASSERT_EQ(::system(("cp -a " + s / "prev" + " " + s / "prev-snap").c_str()), 0);
  write_file(s / "src/c/h", "changed", past_time(9));    // content and mtime
  ASSERT_EQ(::chmod((s / "src/a/g").c_str(), 0600), 0);  // mode only
  write_file(s / "src/new", "new", past_time(10));       // not in PREV
  ASSERT_TRUE(exited_with(tc({"--link-dest", s / "nothing-here", s / "src", s / "x"}), 2));
  ASSERT_TRUE(exited_with(tc({"--link-dest", s / "prev", s / "src", s / "dst"}), 0));
  EXPECT_TRUE(same_trees(s / "src", s / "dst"));
  EXPECT_EQ(inode_of(s / "dst/a/b/f"), inode_of(s / "prev/a/b/f"));
  EXPECT_EQ(inode_of(s / "dst/top"), inode_of(s / "prev/top"));
  EXPECT_NE(inode_of(s / "dst/c/h"), inode_of(s / "prev/c/h"));
  EXPECT_NE(inode_of(s / "dst/a/g"), inode_of(s / "prev/a/g"));
  compare_options o;
  o.hard_links = true;
  EXPECT_TRUE(same_trees(s / "prev-snap", s / "prev", o));  // PREV unchanged
  // Several PREVs, tried in order: the second has what the first lacks.
  ASSERT_TRUE(exited_with(
      tc({"--link-dest", s / "prev", "--link-dest", s / "dst", s / "src", s / "dst2"}), 0));
  EXPECT_TRUE(same_trees(s / "src", s / "dst2"));
  EXPECT_EQ(inode_of(s / "dst2/top"), inode_of(s / "prev/top"));
  EXPECT_EQ(inode_of(s / "dst2/new"), inode_of(s / "dst/new"));
  // Into DIR: PREV is a previous DIR.
  ASSERT_EQ(::mkdir((s / "snaps").c_str(), 0755), 0);
  ASSERT_EQ(::mkdir((s / "snaps/1").c_str(), 0755), 0);
  ASSERT_EQ(::mkdir((s / "snaps/2").c_str(), 0755), 0);
  ASSERT_TRUE(exited_with(tc({"-t", s / "snaps/1", s / "src"}), 0));
  ASSERT_TRUE(exited_with(tc({"--link-dest", s / "snaps/1", "-t", s / "snaps/2", s / "src"}), 0));
  EXPECT_EQ(inode_of(s / "snaps/2/src/c/h"), inode_of(s / "snaps/1/src/c/h"));
  EXPECT_TRUE(same_trees(s / "src", s / "snaps/2/src"));
}

}  // namespace
}  // namespace treecopy_test
