// copy_options::update and checksum through copy_tree() in-process: an unchanged tree is left
// alone (counters and inodes prove it), changed, added and removed entries are brought over, type
// changes in both directions, a change --checksum alone can see, and hard-link groups.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include "scratch.hpp"
#include "sync_support.hpp"
#include "tree_assert.hpp"
#include "tree_builder.hpp"
#include "tree_maker.hpp"
#include "tree_walk.hpp"

namespace treecopy_test {
namespace {

using treecopy::entry_kind;

treecopy::copy_options update_options(bool checksum = false) {
  treecopy::copy_options o;
  o.update = true;
  o.checksum = checksum;
  return o;
}

compare_options labelled() {
  compare_options o;
  o.left_label = "src";
  o.right_label = "dst";
  return o;
}

// First copy, then --update on the same tree: no entry but directories is written, every other
// entry is counted as skipped, and no non-directory inode is replaced or touched.
void expect_noop_update(const std::string& src, const std::string& dst, bool checksum) {
  const census c = count_entries(src);
  const auto before = non_directory_inodes(dst);
  const treecopy::copy_report r = treecopy::copy_tree(src, dst, update_options(checksum));
  EXPECT_TRUE(r.ok()) << describe(r);
  EXPECT_EQ(non_directories_copied(r), 0u) << describe(r);
  EXPECT_EQ(r.bytes_copied, 0u) << describe(r);
  EXPECT_EQ(r.skipped, c.others) << describe(r);
  // Directory metadata is still made equal: each directory is counted once, as re-applied.
  EXPECT_EQ(r.copied[entry_kind::directory], c.directories) << describe(r);
  EXPECT_EQ(inode_changes(before, non_directory_inodes(dst)), "");
  EXPECT_TRUE(same_trees(src, dst, labelled()));
}

class update_noop_test : public testing::TestWithParam<bool> {};

TEST_P(update_noop_test, random_tree_unchanged_copies_nothing) {
  scratch_dir s("upd-noop");
  random_tree_options o;
  o.seed = 501;
  o.files = 600;
  o.directories = 60;
  build_random_tree(s / "src", o);
  const treecopy::copy_report first = treecopy::copy_tree(s / "src", s / "dst");
  ASSERT_TRUE(first.ok()) << describe(first);
  ASSERT_TRUE(same_trees(s / "src", s / "dst", labelled()));
  expect_noop_update(s / "src", s / "dst", GetParam());
  // And again: a second no-op run is still a no-op.
  expect_noop_update(s / "src", s / "dst", GetParam());
}

TEST_P(update_noop_test, full_tree_unchanged_copies_nothing) {
  scratch_dir s("upd-full");
  const build_report built = build_full_tree(s / "src");
  const treecopy::copy_report first = treecopy::copy_tree(s / "src", s / "dst");
  ASSERT_TRUE(first.ok()) << describe(first);
  // A difference here is a fault of the plain copy (also seen by the library tests); the update
  // below is still checked.
  EXPECT_TRUE(same_trees(s / "src", s / "dst", labelled())) << "after the first, plain copy";
  expect_noop_update(s / "src", s / "dst", GetParam());
  if (!built.missing.empty()) std::cout << "full tree without: " << built.missing_text() << "\n";
}

INSTANTIATE_TEST_SUITE_P(mtime_and_checksum, update_noop_test, testing::Values(false, true),
                         [](const auto& info) { return info.param ? "checksum" : "mtime"; });

// Source with a bit of everything; the edits below change it after the first copy.
void build_base(const std::string& root) {
  tree_maker m(root, 502);
  m.dir("a", 0750);
  m.dir("a/deep");
  m.dir("b");
  m.file("a/same", "unchanged content");
  m.file("a/changed", "old content, old size");
  m.file("a/deep/resized", "short");
  m.file("b/to_remove", "will disappear from the source");
  m.dir("b/dir_to_remove");
  m.file("b/dir_to_remove/inner", "gone too");
  m.file("file_becomes_dir", "a file now");
  m.dir("dir_becomes_file", 0700);
  m.file("dir_becomes_file/child", "child");
  m.dir("dir_becomes_file/sub");
  m.file("dir_becomes_file/sub/grandchild", "grandchild");
  m.symlink("link_becomes_file", "a/same");
  m.file("file_becomes_link", "a file now");
  m.symlink("link_retargeted", "a/same");
  m.special("fifo_becomes_file", S_IFIFO, 0640);
  m.finish();
}

struct edit_counts {
  int files = 0;     // regular files the update must write
  int symlinks = 0;  // symlinks the update must create
};

// Edits the source after the first copy; returns what --update has to copy.
edit_counts edit_source(const std::string& src) {
  edit_counts n;
  write_file(src + "/a/changed", "new content, new size!", past_time(10));
  ++n.files;
  write_file(src + "/a/deep/resized", "much longer than before", past_time(11));
  ++n.files;
  write_file(src + "/a/added", "brand new", past_time(12));
  ++n.files;
  ::mkdir((src + "/b/new_dir").c_str(), 0711);
  write_file(src + "/b/new_dir/new_file", "in a new directory", past_time(13));
  ++n.files;
  set_entry_times(src + "/b/new_dir", past_time(14));
  ::unlink((src + "/b/to_remove").c_str());
  remove_tree(src + "/b/dir_to_remove");
  set_entry_times(src + "/b", past_time(15));

  ::unlink((src + "/file_becomes_dir").c_str());
  ::mkdir((src + "/file_becomes_dir").c_str(), 0705);
  write_file(src + "/file_becomes_dir/inside", "inside the new directory", past_time(16));
  ++n.files;
  set_entry_times(src + "/file_becomes_dir", past_time(17));
  remove_tree(src + "/dir_becomes_file");
  write_file(src + "/dir_becomes_file", "a directory before", past_time(18));
  ++n.files;
  ::unlink((src + "/link_becomes_file").c_str());
  write_file(src + "/link_becomes_file", "a link before", past_time(19));
  ++n.files;
  ::unlink((src + "/file_becomes_link").c_str());
  if (::symlink("a/same", (src + "/file_becomes_link").c_str()) != 0) throw_errno("symlink");
  set_entry_times(src + "/file_becomes_link", past_time(20));
  ++n.symlinks;
  ::unlink((src + "/link_retargeted").c_str());
  if (::symlink("a/changed", (src + "/link_retargeted").c_str()) != 0) throw_errno("symlink");
  set_entry_times(src + "/link_retargeted", past_time(21));
  ++n.symlinks;
  ::unlink((src + "/fifo_becomes_file").c_str());
  write_file(src + "/fifo_becomes_file", "a FIFO before", past_time(22));
  ++n.files;
  set_entry_times(src, past_time(23));
  return n;
}

TEST(update_test, changed_added_removed_and_type_changes) {
  scratch_dir s("upd-edit");
  build_base(s / "src");
  ASSERT_TRUE(treecopy::copy_tree(s / "src", s / "dst").ok());
  const auto before = non_directory_inodes(s / "dst");
  const edit_counts n = edit_source(s / "src");

  const treecopy::copy_report r = treecopy::copy_tree(s / "src", s / "dst", update_options());
  EXPECT_TRUE(r.ok()) << describe(r);
  EXPECT_EQ(r.copied[entry_kind::file], static_cast<std::uint64_t>(n.files)) << describe(r);
  EXPECT_EQ(r.copied[entry_kind::symlink], static_cast<std::uint64_t>(n.symlinks)) << describe(r);
  // Without --delete, what SRC lost stays in DST; everything else is equal.
  compare_options o = labelled();
  o.ignore = {"b"};
  EXPECT_TRUE(same_trees(s / "src", s / "dst", o));
  EXPECT_TRUE(entry_exists(s / "dst/b/to_remove"));
  EXPECT_TRUE(entry_exists(s / "dst/b/dir_to_remove/inner"));
  // The unchanged file was not rewritten.
  EXPECT_TRUE(before.at("a/same") == non_directory_inodes(s / "dst").at("a/same"));
  EXPECT_TRUE(S_ISDIR(lstat_path(s / "dst/file_becomes_dir").st_mode));
  EXPECT_TRUE(S_ISREG(lstat_path(s / "dst/dir_becomes_file").st_mode));

  // With --delete the mirror is exact.
  treecopy::copy_options mirror = update_options();
  mirror.delete_extraneous = true;
  const treecopy::copy_report m = treecopy::copy_tree(s / "src", s / "dst", mirror);
  EXPECT_TRUE(m.ok()) << describe(m);
  EXPECT_EQ(non_directories_copied(m), 0u) << describe(m);
  EXPECT_EQ(m.removed, 3u) << describe(m);  // b/to_remove, b/dir_to_remove, its inner file
  EXPECT_TRUE(same_trees(s / "src", s / "dst", labelled()));
}

// The destination changed behind our back (same name, other content, other mtime): --update
// copies it again, as the size or the mtime differ.
TEST(update_test, destination_edits_are_overwritten) {
  scratch_dir s("upd-dstedit");
  build_base(s / "src");
  ASSERT_TRUE(treecopy::copy_tree(s / "src", s / "dst").ok());
  write_file(s / "dst/a/same", "edited in the destination", past_time(30));
  write_file(s / "dst/a/changed", "old content, old size",
             past_time(31));  // same size, other mtime
  const treecopy::copy_report r = treecopy::copy_tree(s / "src", s / "dst", update_options());
  EXPECT_TRUE(r.ok()) << describe(r);
  EXPECT_EQ(r.copied[entry_kind::file], 2u) << describe(r);
  EXPECT_TRUE(same_trees(s / "src", s / "dst", labelled()));
}

// Same size, same mtime, other bytes: only --checksum sees it.
TEST(update_test, checksum_catches_change_with_same_size_and_mtime) {
  scratch_dir s("upd-sum");
  tree_maker m(s / "src", 503);
  m.dir("d");
  m.file("d/f", std::string(100000, 'a'));
  m.file("d/g", "untouched");
  m.file("empty", "");
  m.finish();
  ASSERT_TRUE(treecopy::copy_tree(s / "src", s / "dst").ok());
  const struct stat st = lstat_path(s / "src/d/f");
  std::string changed(100000, 'a');
  changed[54321] = 'b';
  overwrite_in_place(s / "src/d/f", changed, st.st_mtim);
  set_entry_times(s / "src/d/f", st.st_mtim);
  ASSERT_EQ(lstat_path(s / "src/d/f").st_size, st.st_size);

  const treecopy::copy_report plain = treecopy::copy_tree(s / "src", s / "dst", update_options());
  EXPECT_TRUE(plain.ok()) << describe(plain);
  EXPECT_EQ(non_directories_copied(plain), 0u) << "size and mtime equal: skipped\n"
                                               << describe(plain);
  EXPECT_EQ(read_whole(s / "dst/d/f"), std::string(100000, 'a'));

  const treecopy::copy_report sum = treecopy::copy_tree(s / "src", s / "dst", update_options(true));
  EXPECT_TRUE(sum.ok()) << describe(sum);
  EXPECT_EQ(sum.copied[entry_kind::file], 1u) << describe(sum);
  EXPECT_EQ(sum.skipped, 2u) << describe(sum);
  EXPECT_TRUE(same_trees(s / "src", s / "dst", labelled()));
}

// Hard-link groups: an unchanged group stays as it is, a group whose content changed is copied
// once and linked again, a new name joins its group, a name split off becomes its own inode.
TEST(update_test, hard_link_groups_after_update) {
  scratch_dir s("upd-links");
  tree_maker m(s / "src", 504);
  m.dir("x");
  m.dir("y");
  m.dir("y/z");
  m.file("x/still", "unchanged group");
  m.hardlink("x/still", "y/still2");
  m.hardlink("x/still", "y/z/still3");
  m.file("x/edit", "group whose content changes");
  m.hardlink("x/edit", "y/edit2");
  m.file("x/grow", "group that gains a name");
  m.hardlink("x/grow", "y/grow2");
  m.file("x/split", "group that loses a name");
  m.hardlink("x/split", "y/split2");
  m.hardlink("x/split", "y/z/split3");
  m.finish();
  ASSERT_TRUE(treecopy::copy_tree(s / "src", s / "dst").ok());
  ASSERT_TRUE(same_trees(s / "src", s / "dst", labelled()));
  const auto before = non_directory_inodes(s / "dst");

  overwrite_in_place(s / "src/y/edit2", "group whose content changed, longer", past_time(40));
  ASSERT_EQ(::link((s / "src/x/grow").c_str(), (s / "src/y/z/grow3").c_str()), 0);
  ASSERT_EQ(::unlink((s / "src/y/z/split3").c_str()), 0);
  write_file(s / "src/y/z/split3", "now a file of its own", past_time(41));
  for (const char* d : {"src/y/z", "src/y"}) set_entry_times(s / d, past_time(42));

  const treecopy::copy_report r = treecopy::copy_tree(s / "src", s / "dst", update_options());
  EXPECT_TRUE(r.ok()) << describe(r);
  EXPECT_TRUE(same_trees(s / "src", s / "dst", labelled()));
  const auto after = non_directory_inodes(s / "dst");
  for (const char* name : {"x/still", "y/still2", "y/z/still3"})
    EXPECT_TRUE(before.at(name) == after.at(name)) << name << " was rewritten\n" << describe(r);
  // One file data copy for the edited group, one for the split-off name; the rest are links. The
  // "grow" group depends on which of its names the workers meet first: an old, up-to-date name
  // (the new name is then linked to it) or the new name (its data is then copied and the old names
  // are linked to it again: the same tree for one more file copy).
  const auto files = r.copied[entry_kind::file];
  const auto links = r.copied[entry_kind::hardlink];
  EXPECT_TRUE((files == 2u && links == 2u) || (files == 3u && links == 3u)) << describe(r);
  EXPECT_EQ(files + links + r.skipped, 11u) << describe(r);
}

// Unchanged hard-link groups spread over many directories: whichever name the workers meet first,
// no name may be relinked or counted as copied. With --checksum the first name of a group takes a
// while to check (its bytes are read), so other names of the group are met meanwhile.
class update_links_test : public testing::TestWithParam<bool> {};

TEST_P(update_links_test, unchanged_hard_link_groups_are_not_relinked) {
  scratch_dir s("upd-links2");
  tree_maker m(s / "src", 505);
  for (int d = 0; d < 16; ++d) m.dir("d" + std::to_string(d));
  for (int g = 0; g < 200; ++g) {
    const std::string first = "d" + std::to_string(g % 16) + "/g" + std::to_string(g);
    m.file(first, m.random_bytes(GetParam() ? 256 * 1024 + g : 1000 + g));
    for (int k = 1; k < 4; ++k)
      m.hardlink(first, "d" + std::to_string((g + 5 * k) % 16) + "/g" + std::to_string(g) + "_" +
                            std::to_string(k));
  }
  m.finish();
  ASSERT_TRUE(treecopy::copy_tree(s / "src", s / "dst").ok());
  for (int round = 0; round < 3; ++round) expect_noop_update(s / "src", s / "dst", GetParam());
}

INSTANTIATE_TEST_SUITE_P(mtime_and_checksum, update_links_test, testing::Values(false, true),
                         [](const auto& info) { return info.param ? "checksum" : "mtime"; });

// --update with --dry-run changes nothing, and foresees what the real run then does: the same
// entries copied and removed, and no failure the real run does not have.
TEST(update_test, dry_run_changes_nothing_and_predicts_the_run) {
  scratch_dir s("upd-dry");
  build_base(s / "src");
  ASSERT_TRUE(treecopy::copy_tree(s / "src", s / "dst").ok());
  const edit_counts n = edit_source(s / "src");
  const auto snapshot = snapshot_tree(s / "dst");
  treecopy::copy_options o = update_options();
  o.delete_extraneous = true;
  o.dry_run = true;
  const treecopy::copy_report dry = treecopy::copy_tree(s / "src", s / "dst", o);
  EXPECT_EQ(snapshot_tree(s / "dst"), snapshot) << describe(dry);
  o.dry_run = false;
  const treecopy::copy_report real = treecopy::copy_tree(s / "src", s / "dst", o);
  ASSERT_TRUE(real.ok()) << describe(real);
  ASSERT_EQ(real.copied[entry_kind::file], static_cast<std::uint64_t>(n.files)) << describe(real);
  EXPECT_TRUE(same_trees(s / "src", s / "dst", labelled()));
  EXPECT_TRUE(dry.ok()) << "the dry run foresees failures the real run does not have\n"
                        << describe(dry);
  EXPECT_EQ(non_directories_copied(dry), non_directories_copied(real))
      << "dry: " << describe(dry) << "real: " << describe(real);
  EXPECT_EQ(dry.skipped, real.skipped) << "an up-to-date entry is not one that would be copied\n"
                                       << "dry: " << describe(dry) << "real: " << describe(real);
}

}  // namespace
}  // namespace treecopy_test
