// Hard links between the sources of one call: `treecopy d1 d2 f DIR` keeps a file linked between
// d1, d2 and f linked in the copy, as `cp -a d1 d2 f DIR` does (one hard-link table for the run),
// with 2 and 8 workers, as root and as an unprivileged user; --update over such a copy, --dry-run's
// counts, and a second pair whose DST is on another file system (the data is copied, no error).
// Also --link --dry-run's counts (links, as -l makes), and --link-dest's PREVs all tried, in
// order, for a file among several sources.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "entry_check.hpp"
#include "fault_support.hpp"
#include "scratch.hpp"
#include "tree_compare.hpp"
#include "tree_maker.hpp"
#include "treecopy/treecopy.hpp"

namespace treecopy_test::faults {
namespace {

// in/d1, in/d2 and the file in/f: groups of names spread over both trees and f, some groups also
// linked within one tree, symlinks and FIFOs with several names, and plain files.
void make_sources(const std::string& in) {
  tree_maker m(in, 17);
  m.dir("d1", 0755);
  m.dir("d2", 0750);
  m.dir("d1/sub", 0755);
  m.dir("d2/deep", 0700);
  m.dir("d2/deep/er", 0755);
  for (int i = 0; i < 40; ++i) {
    const std::string n = std::to_string(i);
    m.file("d1/sub/g" + n, "group " + n, i % 2 ? 0644 : 0600);
    m.hardlink("d1/sub/g" + n, "d2/deep/er/h" + n);
    if (i % 3 == 0) m.hardlink("d1/sub/g" + n, "d2/k" + n);
    if (i % 4 == 0) m.hardlink("d1/sub/g" + n, "d1/l" + n);
    m.file("d2/plain" + n, "plain " + n);
  }
  m.file("f", "the file among the sources", 0640);
  m.hardlink("f", "d1/f_again");
  m.hardlink("f", "d2/f_again");
  m.symlink("d1/sym", "sub/g1");
  m.hardlink("d1/sym", "d2/sym_again");
  m.special("d1/fifo", S_IFIFO, 0600);
  m.hardlink("d1/fifo", "d2/fifo_again");
  m.finish();
}

class pair_links_test : public testing::Test {
 protected:
  void SetUp() override {
    make_sources(s_ / "in");
    ASSERT_EQ(::mkdir((s_ / "ref").c_str(), 0755), 0);
    ASSERT_EQ(::system(("cp -a " + s_ / "in/d1" + " " + s_ / "in/d2" + " " + s_ / "in/f" + " " +
                        s_ / "ref")
                           .c_str()),
              0);
    ASSERT_EQ(::mkdir((s_ / "out").c_str(), 0755), 0);
  }
  std::vector<std::string> sources() const { return {s_ / "in/d1", s_ / "in/d2", s_ / "in/f"}; }
  // The copy and cp's, bit for bit, inode sharing included (the roots were made by the test).
  std::string against_cp() const {
    compare_options o;
    o.root_metadata = false;
    o.left_label = "cp -a";
    o.right_label = "treecopy";
    return diffs(s_ / "ref", s_ / "out", o);
  }
  void copy_with(const std::string& jobs, const process_options& options = {}) {
    std::vector<std::string> args = {"-j", jobs};
    for (const std::string& src : sources()) args.push_back(src);
    args.push_back(s_ / "out");
    const process_result r = run_quiet(args, options);
    ASSERT_EQ(r.exit_code, 0) << r.describe();
    EXPECT_EQ(against_cp(), "");
  }
  scratch_dir s_{"pair-links"};
};

TEST_F(pair_links_test, links_between_sources_are_kept_as_cp_keeps_them_2_workers) {
  copy_with("2");
  EXPECT_EQ(lstat_of(s_ / "out/f").st_ino, lstat_of(s_ / "out/d2/f_again").st_ino);
  EXPECT_EQ(lstat_of(s_ / "out/d1/sub/g5").st_ino, lstat_of(s_ / "out/d2/deep/er/h5").st_ino);
}

TEST_F(pair_links_test, links_between_sources_are_kept_as_cp_keeps_them_8_workers) {
  for (int round = 0; round < 5; ++round) {
    SCOPED_TRACE(round);
    copy_with("8");
    ASSERT_EQ(
        ::system(("rm -rf " + s_ / "out/d1" + " " + s_ / "out/d2" + " " + s_ / "out/f").c_str()),
        0);
  }
}

TEST_F(pair_links_test, links_between_sources_are_kept_as_an_unprivileged_user) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to hand the trees to uid 65534";
  ASSERT_EQ(::chmod(s_.path().c_str(), 0777), 0);
  ASSERT_EQ(
      ::system(("chown -R 65534:65534 " + s_ / "in" + " " + s_ / "ref" + " " + s_ / "out").c_str()),
      0);
  copy_with("8", as_uid(65534));
}

TEST_F(pair_links_test, library_pairs_share_one_link_table) {
  const std::vector<treecopy::copy_pair> pairs = {
      {s_ / "in/d1", s_ / "out/d1"}, {s_ / "in/d2", s_ / "out/d2"}, {s_ / "in/f", s_ / "out/f"}};
  treecopy::copy_options o;
  o.jobs = 8;
  const treecopy::copy_report r = treecopy::copy_trees(pairs, o);
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(against_cp(), "");
}

TEST_F(pair_links_test, update_keeps_and_remakes_links_between_sources) {
  copy_with("4");
  const ino_t first = lstat_of(s_ / "out/d1/sub/g3").st_ino;
  // Nothing changed: nothing is touched.
  std::vector<std::string> args = {"--update", "--json", "-j", "4"};
  for (const std::string& src : sources()) args.push_back(src);
  args.push_back(s_ / "out");
  process_result r = run_quiet(args);
  ASSERT_EQ(r.exit_code, 0) << r.describe();
  EXPECT_EQ(against_cp(), "");
  EXPECT_EQ(lstat_of(s_ / "out/d1/sub/g3").st_ino, first);
  // d2's names of d1's files gone: --update makes them links to d1's copies again.
  ASSERT_EQ(::system(("rm -rf " + s_ / "out/d2/deep" + " " + s_ / "out/d2/f_again").c_str()), 0);
  r = run_quiet(args);
  ASSERT_EQ(r.exit_code, 0) << r.describe();
  EXPECT_EQ(against_cp(), "");
}

TEST_F(pair_links_test, dry_run_counts_the_links_a_real_run_makes) {
  std::vector<std::string> args = {"-j", "4"};
  for (const std::string& src : sources()) args.push_back(src);
  args.push_back(s_ / "out");
  std::vector<std::string> dry = args;
  dry.insert(dry.begin(), "--dry-run");
  const process_result d = run_quiet(dry);
  const process_result r = run_quiet(args);
  ASSERT_EQ(d.exit_code, 0) << d.describe();
  ASSERT_EQ(r.exit_code, 0) << r.describe();
  // "N entries (.. files, .. directories, .. hard links, ..), bytes": the same in both summaries.
  EXPECT_EQ(summary_counts(d.err), summary_counts(r.err));
  EXPECT_NE(r.err.find("hard links"), std::string::npos) << r.err;
  EXPECT_EQ(against_cp(), "");
}

TEST_F(pair_links_test, second_pair_on_another_file_system_copies_the_data) {
  if (auto why = mount_unavailable()) GTEST_SKIP() << *why;
  tmpfs_mount other(s_ / "other", "size=8m,mode=755");
  const std::vector<treecopy::copy_pair> pairs = {{s_ / "in/d1", s_ / "out/d1b"},
                                                  {s_ / "in/d2", s_ / "other/d2"}};
  treecopy::copy_options o;
  o.jobs = 4;
  const treecopy::copy_report rep = treecopy::copy_trees(pairs, o);
  EXPECT_TRUE(rep.ok());
  EXPECT_EQ(rep.error_count, 0u);
  EXPECT_EQ(diffs(s_ / "in/d1", s_ / "out/d1b"), "");
  // d2's names of d1's files are copies on the other file system, linked among themselves there:
  // d2's own hard-link groups are kept as they are in SRC.
  EXPECT_EQ(diffs(s_ / "in/d2", s_ / "other/d2"), "");
  EXPECT_EQ(lstat_of(s_ / "other/d2/k3").st_ino, lstat_of(s_ / "other/d2/deep/er/h3").st_ino);
}

// A name whose group's first copy lies across a mount inside DST (--merge into a DST that holds a
// mount point): link() fails with EXDEV, and the data is copied instead, without an error.
TEST(pair_links_exdev_test, name_across_a_mount_inside_dst_is_copied) {
  if (auto why = mount_unavailable()) GTEST_SKIP() << *why;
  scratch_dir s("pair-links-mount");
  tree_maker m(s / "src", 5);
  m.dir("sub", 0755);
  m.file("a", "one inode, two file systems", 0644);
  m.hardlink("a", "sub/b");
  m.finish();
  ASSERT_EQ(::mkdir((s / "dst").c_str(), 0755), 0);
  ASSERT_EQ(::mkdir((s / "dst/sub").c_str(), 0755), 0);
  tmpfs_mount other(s / "dst/sub", "size=4m,mode=755");
  const process_result r = run_quiet({"--merge", "-j", "2", s / "src", s / "dst"});
  EXPECT_EQ(r.exit_code, 0) << r.describe();
  EXPECT_EQ(parse_error_lines(r.err).size(), 0u) << r.describe();
  compare_options o;
  o.hard_links = false;
  o.root_metadata = false;

  EXPECT_EQ(diffs(s / "src", s / "dst", o), "");
  EXPECT_EQ(*read_file(s / "dst/sub/b"), "one inode, two file systems");
}

// The names of a group that fall on a mount inside DST are linked to the first copy made there
// (one copy of the data on that file system), as cp -a links them; the names outside it stay one
// inode too.
TEST(pair_links_exdev_test, names_under_a_mount_inside_dst_link_to_each_other) {
  if (auto why = mount_unavailable()) GTEST_SKIP() << *why;
  scratch_dir s("pair-links-mount-group");
  tree_maker m(s / "src", 6);
  m.dir("sub", 0755);
  m.dir("sub/deeper", 0700);
  m.file("a", "one inode, names on two file systems", 0644);
  m.hardlink("a", "a_again");
  m.hardlink("a", "sub/b");
  m.hardlink("a", "sub/c");
  m.hardlink("a", "sub/deeper/d");
  m.file("sub/x", "a group of its own under the mount", 0600);
  m.hardlink("sub/x", "sub/deeper/y");
  m.finish();
  for (const std::string dst : {"dst", "cp"}) {
    ASSERT_EQ(::mkdir((s / dst).c_str(), 0755), 0);
    ASSERT_EQ(::mkdir((s / dst + "/sub").c_str(), 0755), 0);
  }
  tmpfs_mount mine(s / "dst/sub", "size=4m,mode=755");
  tmpfs_mount theirs(s / "cp/sub", "size=4m,mode=755");
  // cp -a copies sub first (it refuses the link from a, across the mount, with an error).
  ASSERT_EQ(::system(("cp -a " + s / "src/sub/." + " " + s / "cp/sub/").c_str()), 0);
  for (const std::string jobs : {"1", "4"}) {
    SCOPED_TRACE(jobs);
    const process_result r = run_quiet({"--merge", "-j", jobs, s / "src", s / "dst"});
    EXPECT_EQ(r.exit_code, 0) << r.describe();
    compare_options o;
    o.root_metadata = false;
    EXPECT_EQ(diffs(s / "cp/sub", s / "dst/sub", o), "");
    EXPECT_EQ(lstat_of(s / "dst/sub/b").st_nlink, 3u);
    EXPECT_EQ(lstat_of(s / "dst/a").st_ino, lstat_of(s / "dst/a_again").st_ino);
    EXPECT_EQ(*read_file(s / "dst/a"), "one inode, names on two file systems");
    ASSERT_EQ(::system(("rm -rf " + s / "dst/a " + s / "dst/a_again " + s / "dst/sub/*").c_str()),
              0);
  }
}

// --update over a copy with symlinks and FIFOs that have several names: a removed name comes
// back as a link to the kept name's inode, so that the result is what a fresh cp -a makes.
TEST(update_links_test, removed_names_of_symlinks_and_fifos_link_to_the_kept_inode) {
  scratch_dir s("update-special-links");
  tree_maker m(s / "src", 12);
  m.dir("sub", 0755);
  m.symlink("sym", "somewhere");
  m.hardlink("sym", "sub/sym_again");
  m.hardlink("sym", "z_sym");
  m.special("fifo", S_IFIFO, 0640);
  m.hardlink("fifo", "sub/fifo_again");
  m.hardlink("fifo", "z_fifo");
  m.file("f", "a file");
  m.hardlink("f", "sub/f_again");
  m.finish();
  ASSERT_EQ(::system(("cp -a " + s / "src" + " " + s / "cp").c_str()), 0);
  for (const std::string jobs : {"1", "4"}) {
    SCOPED_TRACE(jobs);
    ASSERT_EQ(run_quiet({"-j", jobs, s / "src", s / "dst"}).exit_code, 0);
    EXPECT_EQ(diffs(s / "cp", s / "dst"), "");
    // The first names kept, later ones gone; and the other way round.
    for (const char* gone : {"sub/sym_again", "sub/fifo_again", "sub/f_again", "z_sym"})
      ASSERT_EQ(::unlink((s / "dst/" + gone).c_str()), 0) << gone;
    process_result r = run_quiet({"--update", "-j", jobs, s / "src", s / "dst"});
    ASSERT_EQ(r.exit_code, 0) << r.describe();
    EXPECT_EQ(diffs(s / "cp", s / "dst"), "");
    for (const char* gone : {"sym", "fifo", "z_fifo"})
      ASSERT_EQ(::unlink((s / "dst/" + gone).c_str()), 0) << gone;
    r = run_quiet({"--update", "-j", jobs, s / "src", s / "dst"});
    ASSERT_EQ(r.exit_code, 0) << r.describe();
    EXPECT_EQ(diffs(s / "cp", s / "dst"), "");
    ASSERT_EQ(::system(("rm -rf " + s / "dst").c_str()), 0);
  }
}

// --link --dry-run says what -l does: every file a hard link (to its source), no data copied.
TEST(link_dry_run_test, counts_links_as_the_real_run_does) {
  scratch_dir s("link-dry");
  tree_maker m(s / "src", 9);
  m.dir("sub", 0755);
  m.file("a", "alpha", 0644);
  m.file("sub/b", "bravo bravo", 0600);
  m.hardlink("a", "sub/a_again");
  m.symlink("sym", "a");
  m.special("fifo", S_IFIFO, 0644);
  m.finish();
  const process_result dry = run_quiet({"-l", "--dry-run", "--json", s / "src", s / "dst"});
  ASSERT_EQ(dry.exit_code, 0) << dry.describe();
  const process_result real = run_quiet({"-l", "--json", s / "src", s / "dst"});
  ASSERT_EQ(real.exit_code, 0) << real.describe();
  EXPECT_EQ(json_counts(dry.out), json_counts(real.out));
  EXPECT_NE(json_counts(real.out).find("\"file\":0,"), std::string::npos) << real.out;
  EXPECT_NE(json_counts(real.out).find("\"hardlink\":3,"), std::string::npos) << real.out;
  // The human summary too.
  const process_result dry_text = run_quiet({"-l", "--dry-run", s / "src", s / "dst2"});
  EXPECT_NE(dry_text.err.find("(2 directories, 1 symlink, 3 hard links, 1 FIFO), 0 B"),
            std::string::npos)
      << dry_text.err;
}

// --link-dest with several PREVs and a file among the sources: each PREV is tried in order, as
// for a directory's files.
TEST(link_dest_pairs_test, file_source_tries_every_prev_in_order) {
  scratch_dir s("link-dest-file");
  tree_maker m(s / "in", 4);
  m.dir("d", 0755);
  m.file("d/x", "ex", 0644);
  m.file("f", "the file source", 0640);
  m.finish();
  for (const std::string prev : {"prev1", "prev2", "prev3"})
    ASSERT_EQ(::mkdir((s / prev).c_str(), 0755), 0);
  // prev1 has f with another mode (not linked), prev2 an unchanged f, prev3 one too (not reached).
  ASSERT_EQ(::system(("cp -a " + s / "in/f" + " " + s / "prev1/f").c_str()), 0);
  ASSERT_EQ(::chmod((s / "prev1/f").c_str(), 0600), 0);
  ASSERT_EQ(::system(("cp -a " + s / "in/f" + " " + s / "prev2/f").c_str()), 0);
  ASSERT_EQ(::system(("cp -a " + s / "in/f" + " " + s / "prev3/f").c_str()), 0);
  ASSERT_EQ(::mkdir((s / "out").c_str(), 0755), 0);
  const process_result r =
      run_quiet({"--link-dest", s / "prev1", "--link-dest", s / "prev2", "--link-dest", s / "prev3",
                 s / "in/d", s / "in/f", s / "out"});
  ASSERT_EQ(r.exit_code, 0) << r.describe();
  EXPECT_EQ(lstat_of(s / "out/f").st_ino, lstat_of(s / "prev2/f").st_ino);
  EXPECT_EQ(lstat_of(s / "prev1/f").st_mode & 07777, 0600u);  // PREV untouched
  EXPECT_EQ(diffs(s / "in/f", s / "out/f"), "");
  EXPECT_EQ(diffs(s / "in/d", s / "out/d"), "");
}

}  // namespace
}  // namespace treecopy_test::faults
