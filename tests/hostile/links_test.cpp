// Bad cases of --link, --link-dest and --files-from: -l across file systems (a clear EXDEV per
// file, nothing else wrong), a PREV whose file has another mode or owner (copied, never linked),
// PREV never modified (as root and as an unprivileged user), listed paths with '..', absolute
// or missing. tmpfs mounts need root: those tests skip elsewhere.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <string>
#include <vector>

#include "entry_check.hpp"
#include "fault_support.hpp"
#include "scratch.hpp"
#include "tree_compare.hpp"
#include "tree_maker.hpp"

namespace treecopy_test::faults {
namespace {

// src: f (0644), g (0640), sub/h, a symlink and a FIFO.
void make_source(const std::string& root) {
  tree_maker m(root, 21);
  m.file("f", "eff", 0644);
  m.file("g", "gee", 0640);
  m.dir("sub", 0755);
  m.file("sub/h", "aitch", 0600);
  m.symlink("link", "f");
  m.special("fifo", S_IFIFO, 0600);
  m.finish();
}

TEST(links_hostile_test, link_across_file_systems_fails_each_file_clearly) {
  if (auto why = mount_unavailable()) GTEST_SKIP() << *why;
  scratch_dir s("link-xdev");
  make_source(s / "src");
  tmpfs_mount other(s / "other", "size=4m,mode=755");
  const process_result r = run_quiet({"-l", s / "src", s / "other/dst"});
  EXPECT_EQ(r.exit_code, 1) << r.describe();
  const auto errors = parse_error_lines(r.err);
  EXPECT_EQ(errors.size(), 3u) << r.describe();  // f, g, sub/h
  for (const error_line& e : errors) {
    EXPECT_EQ(e.op, "link") << r.describe();
    EXPECT_NE(e.reason.find("Invalid cross-device link"), std::string::npos) << r.describe();
  }
  // Directories, the symlink and the FIFO are there, as SRC has them; the files are not.
  compare_options o;
  o.ignore = {"f", "g", "sub/h"};
  EXPECT_EQ(diffs(s / "src", s / "other/dst", o), "");
  EXPECT_FALSE(exists(s / "other/dst/f"));
}

class link_dest_hostile_test : public testing::Test {
 protected:
  void SetUp() override {
    make_source(s_ / "src");
    ASSERT_EQ(run_quiet({s_ / "src", s_ / "prev"}).exit_code, 0);
  }
  // A copy of PREV as it is now, to compare with after the run.
  void snapshot() { ASSERT_EQ(::system(("cp -a " + s_ / "prev" + " " + s_ / "snap").c_str()), 0); }

  scratch_dir s_{"link-dest-hostile"};
};

TEST_F(link_dest_hostile_test, prev_with_another_mode_is_copied_not_linked) {
  ASSERT_EQ(::chmod((s_ / "prev/f").c_str(), 0600), 0);
  snapshot();
  const process_result r = run_quiet({"--link-dest", s_ / "prev", s_ / "src", s_ / "dst"});
  ASSERT_EQ(r.exit_code, 0) << r.describe();
  EXPECT_NE(lstat_of(s_ / "dst/f").st_ino, lstat_of(s_ / "prev/f").st_ino);
  EXPECT_EQ(lstat_of(s_ / "dst/g").st_ino, lstat_of(s_ / "prev/g").st_ino);
  EXPECT_EQ(diffs(s_ / "src", s_ / "dst"), "");
  EXPECT_EQ(diffs(s_ / "snap", s_ / "prev"), "");
}

TEST_F(link_dest_hostile_test, prev_with_another_owner_is_copied_not_linked) {
  if (::geteuid() != 0) GTEST_SKIP() << "chown needs root";
  ASSERT_EQ(::lchown((s_ / "prev/sub/h").c_str(), 65534, 65534), 0);
  snapshot();
  const process_result r = run_quiet({"--link-dest", s_ / "prev", s_ / "src", s_ / "dst"});
  ASSERT_EQ(r.exit_code, 0) << r.describe();
  EXPECT_NE(lstat_of(s_ / "dst/sub/h").st_ino, lstat_of(s_ / "prev/sub/h").st_ino);
  EXPECT_EQ(lstat_of(s_ / "dst/sub/h").st_uid, lstat_of(s_ / "src/sub/h").st_uid);
  EXPECT_EQ(diffs(s_ / "src", s_ / "dst"), "");
  EXPECT_EQ(diffs(s_ / "snap", s_ / "prev"), "");
}

// --dry-run opens the PREVs (read-only) and says what the real run then does: the files it links
// to a PREV (here f to prev2's, whose prev has another mode, and sub/h to prev2's, whose prev has
// another owner or is missing) and those it copies (g changed, new not in any PREV).
TEST_F(link_dest_hostile_test, dry_run_reports_what_the_real_run_does) {
  ASSERT_EQ(run_quiet({s_ / "src", s_ / "prev2"}).exit_code, 0);
  ASSERT_EQ(::chmod((s_ / "prev/f").c_str(), 0600), 0);
  if (::geteuid() == 0)
    ASSERT_EQ(::lchown((s_ / "prev/sub/h").c_str(), 65534, 65534), 0);
  else
    ASSERT_EQ(::unlink((s_ / "prev/sub/h").c_str()), 0);
  std::ofstream(s_ / "src/g", std::ios::app) << " changed";
  std::ofstream(s_ / "src/new") << "new";
  // Atimes ahead of the mtimes, as tree_maker sets them: reading the copies' sources keeps them.
  for (const char* name : {"g", "new"}) {
    const timespec times[2] = {{::time(nullptr) + 86400, 0}, {0, UTIME_OMIT}};
    ASSERT_EQ(::utimensat(AT_FDCWD, (s_ / "src/" + name).c_str(), times, AT_SYMLINK_NOFOLLOW), 0);
  }
  snapshot();
  ASSERT_EQ(::system(("cp -a " + s_ / "prev2" + " " + s_ / "snap2").c_str()), 0);
  const std::vector<std::string> args = {"--link-dest", s_ / "prev", "--link-dest",
                                         s_ / "prev2",  s_ / "src",  s_ / "dst"};
  auto with = [&](std::vector<std::string> front) {
    front.insert(front.end(), args.begin(), args.end());
    return front;
  };
  const process_result dry = run_quiet(with({"--dry-run", "--json"}));
  ASSERT_EQ(dry.exit_code, 0) << dry.describe();
  const process_result dry_text = run_quiet(with({"--dry-run", "-j", "4"}));
  ASSERT_EQ(dry_text.exit_code, 0) << dry_text.describe();
  EXPECT_FALSE(exists(s_ / "dst"));
  EXPECT_EQ(diffs(s_ / "snap", s_ / "prev"), "");
  EXPECT_EQ(diffs(s_ / "snap2", s_ / "prev2"), "");
  const process_result real = run_quiet(with({"--json"}));
  ASSERT_EQ(real.exit_code, 0) << real.describe();
  EXPECT_EQ(json_counts(dry.out), json_counts(real.out));
  EXPECT_NE(json_counts(real.out).find("\"hardlink\":2,"), std::string::npos) << real.out;
  EXPECT_EQ(lstat_of(s_ / "dst/f").st_ino, lstat_of(s_ / "prev2/f").st_ino);
  EXPECT_EQ(lstat_of(s_ / "dst/sub/h").st_ino, lstat_of(s_ / "prev2/sub/h").st_ino);
  EXPECT_EQ(diffs(s_ / "src", s_ / "dst"), "");
  ASSERT_EQ(::system(("rm -rf " + s_ / "dst").c_str()), 0);
  const process_result real_text = run_quiet(with({"-j", "4"}));
  ASSERT_EQ(real_text.exit_code, 0) << real_text.describe();
  EXPECT_EQ(summary_counts(dry_text.err), summary_counts(real_text.err));
  EXPECT_NE(summary_counts(real_text.err).find("2 hard links"), std::string::npos) << real_text.err;
  EXPECT_EQ(diffs(s_ / "snap", s_ / "prev"), "");
  EXPECT_EQ(diffs(s_ / "snap2", s_ / "prev2"), "");
}

TEST_F(link_dest_hostile_test, prev_is_never_modified_as_an_unprivileged_user) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to hand the trees to uid 65534";
  ASSERT_EQ(::chmod(s_.path().c_str(), 0777), 0);
  ASSERT_EQ(::system(("chown -R 65534:65534 " + s_ / "src" + " " + s_ / "prev").c_str()), 0);
  ASSERT_EQ(::chmod((s_ / "prev/g").c_str(), 0604), 0);  // changed: copied
  snapshot();
  const process_result r =
      run_quiet({"--link-dest", s_ / "prev", s_ / "src", s_ / "dst"}, as_uid(65534));
  ASSERT_EQ(r.exit_code, 0) << r.describe();
  EXPECT_EQ(lstat_of(s_ / "dst/f").st_ino, lstat_of(s_ / "prev/f").st_ino);
  EXPECT_NE(lstat_of(s_ / "dst/g").st_ino, lstat_of(s_ / "prev/g").st_ino);
  EXPECT_EQ(diffs(s_ / "src", s_ / "dst"), "");
  EXPECT_EQ(diffs(s_ / "snap", s_ / "prev"), "");
}

TEST(files_from_hostile_test, paths_leaving_src_are_refused_before_anything_is_created) {
  scratch_dir s("from-hostile");
  make_source(s / "src");
  for (const std::string listed : {"../src/f", "sub/../../x", "/etc/passwd", "sub/.."}) {
    std::ofstream(s / "list") << "f\n" << listed << "\n";
    const process_result r = run_quiet({"--files-from", s / "list", s / "src", s / "dst"});
    EXPECT_EQ(r.exit_code, 2) << listed << r.describe();
    EXPECT_NE(r.err.find("not a path inside SRC"), std::string::npos) << r.describe();
    EXPECT_FALSE(exists(s / "dst")) << listed;
  }
}

TEST(files_from_hostile_test, missing_listed_path_is_an_entry_error) {
  scratch_dir s("from-missing");
  make_source(s / "src");
  std::ofstream(s / "list") << "sub/h\nnothing\nlink/x\n";
  const process_result r = run_quiet({"--files-from", s / "list", s / "src", s / "dst"});
  EXPECT_EQ(r.exit_code, 1) << r.describe();
  const auto errors = parse_error_lines(r.err);
  ASSERT_EQ(errors.size(), 2u) << r.describe();
  EXPECT_EQ(errors[0].path, s / "src/nothing");
  EXPECT_EQ(errors[1].path, s / "src/link/x");  // not through the symlink
  EXPECT_EQ(diffs(s / "src/sub", s / "dst/sub"), "");
  EXPECT_FALSE(exists(s / "dst/f"));
}

}  // namespace
}  // namespace treecopy_test::faults
