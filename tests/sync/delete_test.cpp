// copy_options::delete_extraneous through copy_tree(): DST becomes an exact mirror, symlinks in
// DST are removed as links (their targets outside DST untouched, never followed), excluded names
// are neither copied nor deleted, a dry run lists and removes nothing, and the dangerous targets
// ("/", the home directory, an ancestor of SRC) are refused before any work.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>

#include "scratch.hpp"
#include "sync_support.hpp"
#include "tree_assert.hpp"
#include "tree_maker.hpp"
#include "tree_walk.hpp"

namespace treecopy_test {
namespace {

treecopy::copy_options mirror_options() {
  treecopy::copy_options o;
  o.update = true;
  o.delete_extraneous = true;
  return o;
}

void build_source(const std::string& root) {
  tree_maker m(root, 601);
  m.dir("keep");
  m.file("keep/a", "a");
  m.dir("keep/sub", 0750);
  m.file("keep/sub/b", "b");
  m.dir("was_link_in_dst");
  m.file("was_link_in_dst/c", "c");
  m.symlink("rel_link", "keep/a");
  m.finish();
}

// What DST holds besides a copy of SRC; `outside` is a directory beside DST that must survive.
void add_extras(const std::string& dst, const std::string& outside) {
  write_file(dst + "/extra_file", "extra", past_time(1));
  ::mkdir((dst + "/extra_dir").c_str(), 0755);
  ::mkdir((dst + "/extra_dir/nested").c_str(), 0555);
  write_file(dst + "/extra_dir/f", "f", past_time(2));
  ::chmod((dst + "/extra_dir/nested").c_str(), 0755);
  write_file(dst + "/extra_dir/nested/g", "g", past_time(3));
  ::chmod((dst + "/extra_dir/nested").c_str(), 0555);
  if (::symlink("keep/a", (dst + "/extra_link").c_str()) != 0) throw_errno("symlink");
  if (::symlink((outside + "/victim").c_str(), (dst + "/keep/link_out_file").c_str()) != 0)
    throw_errno("symlink");
  if (::symlink(outside.c_str(), (dst + "/keep/link_out_dir").c_str()) != 0) throw_errno("symlink");
  if (::symlink("../../../outside", (dst + "/keep/sub/rel_out").c_str()) != 0)
    throw_errno("symlink");
  if (::mkfifo((dst + "/keep/extra_fifo").c_str(), 0600) != 0) throw_errno("mkfifo");
  // Where SRC has a directory, DST has a link to a directory outside: it must be replaced, and
  // nothing may be deleted or copied through it.
  remove_tree(dst + "/was_link_in_dst");
  if (::symlink(outside.c_str(), (dst + "/was_link_in_dst").c_str()) != 0) throw_errno("symlink");
}

void build_outside(const std::string& outside) {
  tree_maker m(outside, 602);
  m.file("victim", "must survive");
  m.dir("victim_dir");
  m.file("victim_dir/v", "must survive too");
  m.file("c", "not the source's c");
  m.finish();
}

class delete_test : public testing::Test {
 protected:
  void SetUp() override {
    build_source(src_);
    build_outside(outside_);
    ASSERT_TRUE(treecopy::copy_tree(src_, dst_).ok());
    add_extras(dst_, outside_);
    outside_before_ = snapshot_tree(outside_);
  }

  scratch_dir s_{"delete"};
  std::string src_ = s_ / "src";
  std::string dst_ = s_ / "dst";
  std::string outside_ = s_ / "outside";
  std::vector<std::string> outside_before_;
};

// Everything add_extras() put into DST, as on_remove() names it (directories after children).
std::vector<std::string> expected_removals(const std::string& dst) {
  std::vector<std::string> v;
  for (const char* rel : {"extra_file", "extra_dir", "extra_dir/f", "extra_dir/nested",
                          "extra_dir/nested/g", "extra_link", "keep/link_out_file",
                          "keep/link_out_dir", "keep/sub/rel_out", "keep/extra_fifo"})
    v.push_back(dst + "/" + rel);
  std::sort(v.begin(), v.end());
  return v;
}

TEST_F(delete_test, mirror_removes_extras_and_never_leaves_dst) {
  recording_observer obs;
  const treecopy::copy_report r = treecopy::copy_tree(src_, dst_, mirror_options(), &obs);
  EXPECT_TRUE(r.ok()) << describe(r);
  EXPECT_TRUE(same_trees(src_, dst_));
  EXPECT_EQ(snapshot_tree(outside_), outside_before_) << "an entry outside DST changed";
  EXPECT_EQ(read_whole(outside_ + "/victim"), "must survive");
  EXPECT_TRUE(S_ISDIR(lstat_path(dst_ + "/was_link_in_dst").st_mode));
  auto removed = obs.removed;
  std::sort(removed.begin(), removed.end());
  // The link that stood where SRC has a directory is replaced, not counted as extraneous.
  auto expected = expected_removals(dst_);
  removed.erase(std::remove(removed.begin(), removed.end(), dst_ + "/was_link_in_dst"),
                removed.end());
  EXPECT_EQ(removed, expected);
  EXPECT_GE(r.removed, expected.size()) << describe(r);
}

TEST_F(delete_test, dry_run_lists_and_removes_nothing) {
  const auto dst_before = snapshot_tree(dst_);
  recording_observer obs;
  treecopy::copy_options o = mirror_options();
  o.dry_run = true;
  const treecopy::copy_report r = treecopy::copy_tree(src_, dst_, o, &obs);
  EXPECT_EQ(snapshot_tree(dst_), dst_before) << "the dry run changed DST\n" << describe(r);
  EXPECT_EQ(snapshot_tree(outside_), outside_before_);
  auto removed = obs.removed;
  std::sort(removed.begin(), removed.end());
  // A dry run lists each extraneous top entry (a directory stands for what it holds); the real
  // run's on_remove() names each entry. Either way every extra top name must be listed.
  for (const char* rel : {"extra_file", "extra_dir", "extra_link", "keep/link_out_file",
                          "keep/link_out_dir", "keep/sub/rel_out", "keep/extra_fifo"})
    EXPECT_TRUE(std::binary_search(removed.begin(), removed.end(), dst_ + "/" + rel))
        << rel << " not listed; listed:\n"
        << testing::PrintToString(removed);
  EXPECT_GE(r.removed, 7u) << describe(r);
}

TEST_F(delete_test, excluded_names_are_neither_copied_nor_deleted) {
  write_file(src_ + "/keep/obj.o", "object in the source", past_time(5));
  ::mkdir((src_ + "/cache").c_str(), 0755);
  write_file(src_ + "/cache/c1", "cached in the source", past_time(6));
  write_file(dst_ + "/keep/stale.o", "object only in DST", past_time(7));
  ::mkdir((dst_ + "/keep/cache").c_str(), 0755);
  write_file(dst_ + "/keep/cache/c2", "cache only in DST", past_time(8));
  treecopy::copy_options o = mirror_options();
  o.filters = {{false, "*.o"}, {false, "cache/"}};
  recording_observer obs;
  const treecopy::copy_report r = treecopy::copy_tree(src_, dst_, o, &obs);
  EXPECT_TRUE(r.ok()) << describe(r);
  EXPECT_FALSE(entry_exists(dst_ + "/keep/obj.o")) << "an excluded file was copied";
  EXPECT_FALSE(entry_exists(dst_ + "/cache")) << "an excluded directory was copied";
  EXPECT_EQ(read_whole(dst_ + "/keep/stale.o"), "object only in DST")
      << "an excluded name was deleted";
  EXPECT_EQ(read_whole(dst_ + "/keep/cache/c2"), "cache only in DST")
      << "an excluded dir was deleted";
  compare_options c;
  c.ignore = {"keep/obj.o", "cache", "keep/stale.o", "keep/cache"};
  EXPECT_TRUE(same_trees(src_, dst_, c));
  EXPECT_FALSE(entry_exists(dst_ + "/extra_file"));
}

TEST(delete_refusal_test, delete_needs_update_or_merge) {
  scratch_dir s("del-plain");
  build_source(s / "src");
  ASSERT_TRUE(treecopy::copy_tree(s / "src", s / "dst").ok());
  write_file(s / "dst/extra", "x", past_time(1));
  const auto before = snapshot_tree(s / "dst");
  treecopy::copy_options o;
  o.delete_extraneous = true;
  EXPECT_THROW(treecopy::copy_tree(s / "src", s / "dst", o), treecopy::setup_error);
  EXPECT_EQ(snapshot_tree(s / "dst"), before);
}

TEST(delete_refusal_test, ancestor_of_source_is_refused) {
  scratch_dir s("del-anc");
  ASSERT_EQ(::mkdir((s / "top").c_str(), 0755), 0);
  build_source(s / "top/src");
  write_file(s / "top/other", "beside the source", past_time(1));
  const auto before = snapshot_tree(s / "top");
  for (const std::string& dst : {s / "top", s / "top/", s / "top/.", s.path()}) {
    for (bool dry : {true, false}) {
      treecopy::copy_options o = mirror_options();
      o.dry_run = dry;
      EXPECT_THROW(treecopy::copy_tree(s / "top/src", dst, o), treecopy::setup_error)
          << "DST " << dst << (dry ? " (dry run)" : "");
      EXPECT_EQ(snapshot_tree(s / "top"), before) << "DST " << dst;
    }
  }
}

// s/src, and s/home: a copy of it with a .profile of its own, also reached through s/home_link.
void make_home(const scratch_dir& s) {
  build_source(s / "src");
  ASSERT_TRUE(treecopy::copy_tree(s / "src", s / "home").ok());
  write_file(s / "home/.profile", "precious", past_time(1));
  if (::symlink((s / "home").c_str(), (s / "home_link").c_str()) != 0) throw_errno("symlink");
}

TEST(delete_refusal_test, home_directory_is_refused) {
  scratch_dir s("del-home");
  ASSERT_NO_FATAL_FAILURE(make_home(s));
  const auto before = snapshot_tree(s / "home");
  home_override home(s / "home");
  for (const std::string& dst : {s / "home", s / "home/", s / "home/."}) {
    EXPECT_THROW(treecopy::copy_tree(s / "src", dst, mirror_options()), treecopy::setup_error)
        << "DST " << dst;
    EXPECT_EQ(snapshot_tree(s / "home"), before) << "DST " << dst;
  }
  {
    // HOME itself given through a symlink: the same directory.
    home_override through_link(s / "home_link");
    EXPECT_THROW(treecopy::copy_tree(s / "src", s / "home", mirror_options()),
                 treecopy::setup_error)
        << "HOME is a symlink to DST";
    EXPECT_EQ(snapshot_tree(s / "home"), before);
  }
}

// DST given as a symlink that names the home directory: the merge goes into the directory the
// link names (see setup), so the refusal must look at that directory.
TEST(delete_refusal_test, symlink_to_home_directory_is_refused) {
  scratch_dir s("del-homelink");
  ASSERT_NO_FATAL_FAILURE(make_home(s));
  const auto before = snapshot_tree(s / "home");
  home_override home(s / "home");
  treecopy::copy_options o = mirror_options();
  o.dry_run = true;  // a failure of the refusal must not cost .profile
  EXPECT_THROW(treecopy::copy_tree(s / "src", s / "home_link", o), treecopy::setup_error);
  EXPECT_EQ(snapshot_tree(s / "home"), before);
}

// "/" is only ever tried with dry_run set too: the refusal comes before any work, and should it
// not, a dry run still changes nothing.
TEST(delete_refusal_test, root_directory_is_refused) {
  scratch_dir s("del-root");
  build_source(s / "src");
  if (::symlink("/", (s / "root_link").c_str()) != 0) throw_errno("symlink");
  treecopy::copy_options o = mirror_options();
  o.dry_run = true;
  for (const std::string& dst : {std::string("/"), std::string("//"), std::string("/."),
                                 std::string("/tmp/.."), s / "root_link"}) {
    EXPECT_THROW(treecopy::copy_tree(s / "src", dst, o), treecopy::setup_error) << "DST " << dst;
  }
}

}  // namespace
}  // namespace treecopy_test
