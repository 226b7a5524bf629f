// Identities, not paths: SRC and DST reached through bind mounts, symlinks and '..' (DST inside
// SRC, SRC inside DST, the same directory twice), a DST that is a symlink, a progress file inside
// SRC or DST, and filters that must protect excluded entries at every depth of a directory that
// --delete or --update removes. Whatever the hostile layout, SRC is never changed and nothing
// outside DST is touched. Bind mounts need root: those tests skip elsewhere.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <string>
#include <vector>

#include "entry_check.hpp"
#include "fault_support.hpp"
#include "scratch.hpp"
#include "tree_maker.hpp"

namespace treecopy_test::faults {
namespace {

bool is_kind(const std::string& path, mode_t kind) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0 && (st.st_mode & S_IFMT) == kind;
}

std::string run_text(const process_result& r) { return r.describe(); }

bool mentions(const std::vector<error_line>& errors, const std::string& path) {
  return std::any_of(errors.begin(), errors.end(),
                     [&](const error_line& e) { return e.path == path; });
}

class identity_test : public testing::Test {
 protected:
  // SRC = scratch/p/src: a.txt, sub/b.txt.
  void make_source() {
    ASSERT_EQ(::mkdir(parent_.c_str(), 0755), 0);
    tree_maker m(src_, 7);
    m.file("a.txt", "alpha", 0644);
    m.dir("sub", 0755);
    m.file("sub/b.txt", "bravo", 0644);
    m.finish();
  }
  void expect_source_intact() {
    EXPECT_EQ(read_file(src_ + "/a.txt"), std::optional<std::string>("alpha"));
    EXPECT_EQ(read_file(src_ + "/sub/b.txt"), std::optional<std::string>("bravo"));
  }

  scratch_dir scratch_{"identity"};
  std::string parent_ = scratch_ / "p";
  std::string src_ = scratch_ / "p/src";
  std::string dst_ = scratch_ / "dst";
};

// Case: DST holds a bind mount of SRC's parent; --delete must not walk into it and remove SRC.
TEST_F(identity_test, delete_never_removes_source_through_bind_mount_in_dst) {
  if (auto why = mount_unavailable()) GTEST_SKIP() << *why;
  make_source();
  ASSERT_EQ(::mkdir(dst_.c_str(), 0755), 0);
  ASSERT_EQ(::mkdir((dst_ + "/m").c_str(), 0755), 0);
  bind_mount view(parent_, dst_ + "/m");
  ASSERT_TRUE(view.ok());
  auto r = run_treecopy_limited({"--update", "--delete", src_, dst_}, 60);
  EXPECT_EQ(r.exit_code, 1) << run_text(r);
  expect_source_intact();
  EXPECT_TRUE(mentions(parse_error_lines(r.err), dst_ + "/m")) << run_text(r);
  EXPECT_EQ(read_file(dst_ + "/a.txt"), std::optional<std::string>("alpha"));
}

// Same, when SRC has a directory of that name: the walker merges into it and --delete runs there.
TEST_F(identity_test, delete_never_merges_into_bind_mount_of_source_parent) {
  if (auto why = mount_unavailable()) GTEST_SKIP() << *why;
  make_source();
  ASSERT_EQ(::mkdir((src_ + "/m").c_str(), 0755), 0);
  ASSERT_EQ(::mkdir(dst_.c_str(), 0755), 0);
  ASSERT_EQ(::mkdir((dst_ + "/m").c_str(), 0755), 0);
  bind_mount view(parent_, dst_ + "/m");
  ASSERT_TRUE(view.ok());
  auto r = run_treecopy_limited({"--update", "--delete", src_, dst_}, 60);
  EXPECT_EQ(r.exit_code, 1) << run_text(r);
  expect_source_intact();
  EXPECT_TRUE(exists(src_ + "/m"));
  EXPECT_TRUE(mentions(parse_error_lines(r.err), dst_ + "/m")) << run_text(r);
}

// Case: DST inside a bind mount of SRC is DST inside SRC: refused before anything is created.
TEST_F(identity_test, destination_inside_bind_mount_of_source_is_refused) {
  if (auto why = mount_unavailable()) GTEST_SKIP() << *why;
  make_source();
  const std::string view_dir = scratch_ / "view";
  ASSERT_EQ(::mkdir(view_dir.c_str(), 0755), 0);
  bind_mount view(src_, view_dir);
  ASSERT_TRUE(view.ok());
  auto r = run_treecopy_limited({src_, view_dir + "/copy"}, 60);
  EXPECT_FALSE(hung(r)) << run_text(r);
  EXPECT_EQ(r.exit_code, 2) << run_text(r);
  EXPECT_NE(r.err.find("inside the source"), std::string::npos) << run_text(r);
  EXPECT_FALSE(exists(src_ + "/copy"));
  // Deeper, and written with '..': the same refusal.
  r = run_treecopy_limited({src_, view_dir + "/sub/../sub/copy"}, 60);
  EXPECT_EQ(r.exit_code, 2) << run_text(r);
  EXPECT_FALSE(exists(src_ + "/sub/copy"));
  expect_source_intact();
}

// DST a bind mount of SRC itself: the same directory.
TEST_F(identity_test, destination_bind_mount_of_source_is_the_same) {
  if (auto why = mount_unavailable()) GTEST_SKIP() << *why;
  make_source();
  const std::string view_dir = scratch_ / "view";
  ASSERT_EQ(::mkdir(view_dir.c_str(), 0755), 0);
  bind_mount view(src_, view_dir);
  ASSERT_TRUE(view.ok());
  auto r = run_treecopy_limited({"--update", "--delete", src_, view_dir}, 60);
  EXPECT_EQ(r.exit_code, 2) << run_text(r);
  EXPECT_NE(r.err.find("the same"), std::string::npos) << run_text(r);
  expect_source_intact();
}

// Both orders of nesting through a bind mount: --delete on DST whose ancestor chain holds SRC, and
// on DST that is an ancestor of SRC written through a bind mount.
TEST_F(identity_test, delete_nesting_through_bind_mounts_is_refused) {
  if (auto why = mount_unavailable()) GTEST_SKIP() << *why;
  make_source();
  const std::string view_dir = scratch_ / "view";
  ASSERT_EQ(::mkdir(view_dir.c_str(), 0755), 0);
  bind_mount view(src_, view_dir);
  ASSERT_TRUE(view.ok());
  auto r = run_treecopy_limited({"--update", "--delete", src_, view_dir + "/sub"}, 60);
  EXPECT_EQ(r.exit_code, 2) << run_text(r);
  expect_source_intact();

  // SRC = alias/src where alias is a bind mount of p, DST = p: DST is SRC's parent.
  const std::string alias = scratch_ / "alias";
  ASSERT_EQ(::mkdir(alias.c_str(), 0755), 0);
  bind_mount alias_mount(parent_, alias);
  ASSERT_TRUE(alias_mount.ok());
  tree_maker extra(parent_ + "/other", 3);
  extra.file("keep", "kilo", 0644);
  extra.finish();
  r = run_treecopy_limited({"--update", "--delete", alias + "/src", parent_}, 60);
  EXPECT_EQ(r.exit_code, 2) << run_text(r);
  EXPECT_NE(r.err.find("ancestor of the source"), std::string::npos) << run_text(r);
  EXPECT_EQ(read_file(parent_ + "/other/keep"), std::optional<std::string>("kilo"));
  expect_source_intact();
}

// A bind mount of a subdirectory of SRC, outside SRC: DST under it, or DST it itself, is inside SRC
// although no ".." from DST leads to SRC. Refused in setup; --delete removes nothing of SRC.
TEST_F(identity_test, destination_in_bind_mount_of_source_subdirectory_is_refused) {
  if (auto why = mount_unavailable()) GTEST_SKIP() << *why;
  make_source();
  const std::string view_dir = scratch_ / "view";
  ASSERT_EQ(::mkdir(view_dir.c_str(), 0755), 0);
  bind_mount view(src_ + "/sub", view_dir);
  ASSERT_TRUE(view.ok());
  auto r = run_treecopy_limited({src_, view_dir + "/copy"}, 120);
  ASSERT_FALSE(hung(r)) << run_text(r);
  EXPECT_EQ(r.exit_code, 2) << run_text(r);
  EXPECT_FALSE(exists(src_ + "/sub/copy"));
  r = run_treecopy_limited({"--update", "--delete", src_, view_dir}, 120);
  EXPECT_EQ(r.exit_code, 2) << run_text(r);
  expect_source_intact();
  EXPECT_FALSE(exists(src_ + "/sub/a.txt"));
}

// The walker checks again, for what setup cannot see: with -L, a link inside SRC to DST (which
// the copy creates) or, through a bind mount inside SRC, SRC's parent. It skips the directory,
// says so, and ends.
TEST_F(identity_test, walker_skips_destination_met_again_through_link) {
  make_source();
  ASSERT_EQ(::symlink("../../out", (src_ + "/to_out").c_str()), 0);
  const std::string out = scratch_ / "out";
  auto r = run_treecopy_limited({"-L", src_, out}, 120);
  ASSERT_FALSE(hung(r)) << run_text(r);
  EXPECT_EQ(r.exit_code, 1) << run_text(r);
  EXPECT_NE(r.err.find("into itself"), std::string::npos) << run_text(r);
  EXPECT_TRUE(mentions(parse_error_lines(r.err), src_ + "/to_out")) << run_text(r);
  EXPECT_EQ(read_file(out + "/sub/b.txt"), std::optional<std::string>("bravo"));
  EXPECT_FALSE(exists(out + "/to_out"));
}

TEST_F(identity_test, walker_skips_source_parent_met_again_through_bind_mount) {
  if (auto why = mount_unavailable()) GTEST_SKIP() << *why;
  make_source();
  // src/loop: a bind mount of SRC's parent, so src/loop/src/loop/... without end.
  ASSERT_EQ(::mkdir((src_ + "/loop").c_str(), 0755), 0);
  bind_mount loop(parent_, src_ + "/loop");
  ASSERT_TRUE(loop.ok());
  const std::string out = scratch_ / "out";
  auto r = run_treecopy_limited({src_, out}, 120);
  ASSERT_FALSE(hung(r)) << run_text(r);
  EXPECT_EQ(r.exit_code, 1) << run_text(r);
  EXPECT_NE(r.err.find("into itself"), std::string::npos) << run_text(r);
  EXPECT_TRUE(mentions(parse_error_lines(r.err), src_ + "/loop")) << run_text(r);
  EXPECT_EQ(read_file(out + "/sub/b.txt"), std::optional<std::string>("bravo"));
}

// Case: a DST that is a symlink is refused (exit 2, one line) and what it names is untouched;
// "LINK/" means the directory it names.
TEST_F(identity_test, destination_symlink_is_refused_unless_written_with_slash) {
  make_source();
  const std::string target = scratch_ / "target", link = scratch_ / "link";
  tree_maker t(target, 5);
  t.file("other.txt", "other", 0644);
  t.finish();
  ASSERT_EQ(::symlink(target.c_str(), link.c_str()), 0);
  auto r = run_treecopy_limited({"--update", "--delete", src_, link}, 60);
  EXPECT_EQ(r.exit_code, 2) << run_text(r);
  EXPECT_EQ(split_lines(r.err).size(), 1u) << run_text(r);
  EXPECT_NE(r.err.find("symbolic link"), std::string::npos) << run_text(r);
  EXPECT_EQ(read_file(target + "/other.txt"), std::optional<std::string>("other"));
  EXPECT_FALSE(exists(target + "/a.txt"));
  EXPECT_TRUE(is_kind(link, S_IFLNK));

  r = run_treecopy_limited({"--update", "--delete", src_, link + "/"}, 60);
  EXPECT_EQ(r.exit_code, 0) << run_text(r);
  EXPECT_EQ(read_file(target + "/a.txt"), std::optional<std::string>("alpha"));
  EXPECT_FALSE(exists(target + "/other.txt"));
  EXPECT_TRUE(is_kind(link, S_IFLNK));
  expect_source_intact();
}

// Case: filters protect excluded entries inside a directory that --delete removes.
TEST_F(identity_test, delete_keeps_excluded_entries_at_every_depth) {
  make_source();
  for (const std::vector<std::string>& rule :
       {std::vector<std::string>{"--exclude", "*.log"}, {"--exclude", "/old/deep/keep.log"}}) {
    const std::string dst =
        scratch_ / ("dst" + rule[1].substr(rule[1].size() - 3) + std::to_string(rule[1].size()));
    tree_maker d(dst, 9);
    d.dir("old", 0755);
    d.file("old/junk.txt", "junk", 0644);
    d.dir("old/deep", 0755);
    d.file("old/deep/keep.log", "log", 0644);
    d.dir("gone", 0755);
    d.file("gone/x", "x", 0644);
    d.finish();
    std::vector<std::string> args = {"--update", "--delete", rule[0], rule[1], src_, dst};
    auto r = run_treecopy_limited(args, 60);
    EXPECT_EQ(r.exit_code, 1) << run_text(r);
    EXPECT_EQ(read_file(dst + "/old/deep/keep.log"), std::optional<std::string>("log"))
        << run_text(r);
    EXPECT_FALSE(exists(dst + "/old/junk.txt"));
    EXPECT_FALSE(exists(dst + "/gone"));
    EXPECT_EQ(read_file(dst + "/a.txt"), std::optional<std::string>("alpha"));
    auto errors = parse_error_lines(r.err);
    EXPECT_TRUE(mentions(errors, dst + "/old/deep")) << run_text(r);
    EXPECT_TRUE(mentions(errors, dst + "/old")) << run_text(r);
  }
  expect_source_intact();
}

// --dry-run foresees the same: the directory holding an excluded entry is reported, not listed as
// removed, and nothing changes.
TEST_F(identity_test, dry_run_delete_foresees_kept_directories) {
  make_source();
  tree_maker d(dst_, 9);
  d.dir("old", 0755);
  d.file("old/junk.txt", "junk", 0644);
  d.file("old/keep.log", "log", 0644);
  d.finish();
  auto r = run_treecopy_limited(
      {"--dry-run", "-v", "--update", "--delete", "--exclude", "*.log", src_, dst_}, 60);
  EXPECT_EQ(r.exit_code, 1) << run_text(r);
  EXPECT_TRUE(mentions(parse_error_lines(r.err), dst_ + "/old")) << run_text(r);
  const std::vector<std::string> lines = split_lines(r.out);
  auto listed = [&](const std::string& path) {
    return std::find(lines.begin(), lines.end(), "deleting " + path) != lines.end();
  };
  EXPECT_FALSE(listed(dst_ + "/old")) << run_text(r);
  EXPECT_TRUE(listed(dst_ + "/old/junk.txt")) << run_text(r);
  EXPECT_EQ(read_file(dst_ + "/old/junk.txt"), std::optional<std::string>("junk"));
  EXPECT_EQ(read_file(dst_ + "/old/keep.log"), std::optional<std::string>("log"));
}

// Plain --update: a directory of DST replaced by a file of SRC keeps its excluded entries (and so
// is not replaced: reported).
TEST_F(identity_test, update_replacing_directory_keeps_excluded_entries) {
  make_source();
  tree_maker d(dst_, 9);
  d.dir("a.txt", 0755);
  d.file("a.txt/keep.log", "log", 0644);
  d.file("a.txt/junk", "junk", 0644);
  d.finish();
  auto r = run_treecopy_limited({"--update", "--exclude", "*.log", src_, dst_}, 60);
  EXPECT_EQ(r.exit_code, 1) << run_text(r);
  EXPECT_EQ(read_file(dst_ + "/a.txt/keep.log"), std::optional<std::string>("log"));
  EXPECT_FALSE(exists(dst_ + "/a.txt/junk"));
  EXPECT_TRUE(mentions(parse_error_lines(r.err), dst_ + "/a.txt")) << run_text(r);
  EXPECT_EQ(read_file(dst_ + "/sub/b.txt"), std::optional<std::string>("bravo"));
}

// A failure deep in a removed directory names the entry that failed, not a path that does not
// exist.
TEST_F(identity_test, remove_failure_names_the_real_path) {
  if (auto why = unprivileged_unavailable()) GTEST_SKIP() << *why;
  scratch_.give_to(unprivileged_id);
  const owner nobody{unprivileged_id, unprivileged_id};
  make_source();
  ASSERT_EQ(::chown(parent_.c_str(), unprivileged_id, unprivileged_id), 0);
  ASSERT_EQ(::chown(src_.c_str(), unprivileged_id, unprivileged_id), 0);
  tree_maker d(dst_, 9);
  d.dir("x", 0755, nobody);
  d.dir("x/ro", 0555, nobody);
  d.file("x/ro/in", "in", 0644, nobody);
  d.finish();
  ASSERT_EQ(::chown(dst_.c_str(), unprivileged_id, unprivileged_id), 0);
  auto r = run_treecopy_limited({"--update", "--delete", src_, dst_}, 60, as_uid(unprivileged_id));
  EXPECT_EQ(r.exit_code, 1) << run_text(r);
  auto errors = parse_error_lines(r.err);
  ASSERT_FALSE(errors.empty()) << run_text(r);
  for (const error_line& e : errors) EXPECT_TRUE(exists(e.path)) << e.path << "\n" << run_text(r);
  EXPECT_TRUE(mentions(errors, dst_ + "/x/ro/in")) << run_text(r);
}

// Case: the progress file must be neither DST nor inside SRC or DST: exit 2, nothing touched.
TEST_F(identity_test, progress_file_inside_source_or_destination_is_refused) {
  make_source();
  auto r = run_treecopy_limited({"--progress-file", dst_, src_, dst_}, 60);
  EXPECT_EQ(r.exit_code, 2) << run_text(r);
  EXPECT_FALSE(exists(dst_));

  r = run_treecopy_limited({"--progress-file", src_ + "/a.txt", src_, scratch_ / "out1"}, 60);
  EXPECT_EQ(r.exit_code, 2) << run_text(r);
  EXPECT_FALSE(exists(scratch_ / "out1"));
  // A failed setup too (DST's parent missing): the source file is not truncated.
  r = run_treecopy_limited({"--progress-file", src_ + "/a.txt", src_, scratch_ / "no/out"}, 60);
  EXPECT_EQ(r.exit_code, 2) << run_text(r);
  // Through a symlink to SRC and '..'.
  const std::string link = scratch_ / "srclink";
  ASSERT_EQ(::symlink(src_.c_str(), link.c_str()), 0);
  r = run_treecopy_limited({"--progress-file", link + "/sub/../events", src_, scratch_ / "out2"},
                           60);
  EXPECT_EQ(r.exit_code, 2) << run_text(r);
  EXPECT_FALSE(exists(src_ + "/events"));
  EXPECT_FALSE(exists(scratch_ / "out2"));

  tree_maker d(dst_, 9);
  d.file("old", "old", 0644);
  d.finish();
  r = run_treecopy_limited(
      {"--update", "--delete", "--progress-file", dst_ + "/events", src_, dst_}, 60);
  EXPECT_EQ(r.exit_code, 2) << run_text(r);
  EXPECT_EQ(read_file(dst_ + "/old"), std::optional<std::string>("old"));
  EXPECT_FALSE(exists(dst_ + "/events"));
  EXPECT_FALSE(exists(dst_ + "/a.txt"));
  expect_source_intact();
}

// Case: "FILE out/" says out is a directory: not there, or a file, is "Not a directory".
TEST_F(identity_test, file_to_trailing_slash_needs_a_directory) {
  make_source();
  auto r = run_treecopy_limited({src_ + "/a.txt", scratch_ / "out/"}, 60);
  EXPECT_EQ(r.exit_code, 2) << run_text(r);
  EXPECT_NE(r.err.find("ot a directory"), std::string::npos) << run_text(r);
  EXPECT_FALSE(exists(scratch_ / "out"));
  tree_maker d(dst_, 9);
  d.file("file", "old", 0644);
  d.finish();
  r = run_treecopy_limited({"--merge", src_ + "/a.txt", dst_ + "/file/"}, 60);
  EXPECT_EQ(r.exit_code, 2) << run_text(r);
  EXPECT_EQ(read_file(dst_ + "/file"), std::optional<std::string>("old"));
}

// Case: -H copies what SRC names, also a file or a FIFO (recreated, never opened).
TEST_F(identity_test, follow_source_link_to_file_and_fifo) {
  make_source();
  const std::string fifo = scratch_ / "fifo", to_file = scratch_ / "to_file",
                    to_fifo = scratch_ / "to_fifo";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0640), 0);
  ASSERT_EQ(::symlink((src_ + "/a.txt").c_str(), to_file.c_str()), 0);
  ASSERT_EQ(::symlink(fifo.c_str(), to_fifo.c_str()), 0);
  auto r = run_treecopy_limited({"-H", to_file, scratch_ / "out_file"}, 60);
  EXPECT_EQ(r.exit_code, 0) << run_text(r);
  EXPECT_TRUE(is_kind(scratch_ / "out_file", S_IFREG));
  EXPECT_EQ(read_file(scratch_ / "out_file"), std::optional<std::string>("alpha"));
  r = run_treecopy_limited({"-H", to_fifo, scratch_ / "out_fifo"}, 60);
  EXPECT_FALSE(hung(r)) << run_text(r);
  EXPECT_EQ(r.exit_code, 0) << run_text(r);
  EXPECT_TRUE(is_kind(scratch_ / "out_fifo", S_IFIFO));
  // --update runs the same way (merge_entry).
  r = run_treecopy_limited({"-H", "--update", to_file, scratch_ / "out_file2"}, 60);
  EXPECT_EQ(r.exit_code, 0) << run_text(r);
  EXPECT_TRUE(is_kind(scratch_ / "out_file2", S_IFREG));
}

}  // namespace
}  // namespace treecopy_test::faults
