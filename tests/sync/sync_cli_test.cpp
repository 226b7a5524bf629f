// The re-run options through the treecopy CLI: --update, --checksum, --delete (mirror, dry run,
// refusals with exit code 2), --exclude/--include/--exclude-from (order kept across the two
// options), -L/-H, -x and --reflink on a file system that cannot clone. Exit codes and messages
// are checked along with the trees.
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <iterator>

#include "copiers.hpp"
#include "scratch.hpp"
#include "sync_support.hpp"
#include "tree_assert.hpp"
#include "tree_builder.hpp"
#include "tree_maker.hpp"
#include "tree_walk.hpp"

namespace treecopy_test {
namespace {

process_result tc(std::vector<std::string> args) {
  args.insert(args.begin(), {"--progress=none", "-j", "4"});
  return run_treecopy(args);
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

random_tree_options small_tree(std::uint64_t seed) {
  random_tree_options o;
  o.seed = seed;
  o.files = 200;
  o.directories = 25;
  return o;
}

TEST(sync_cli_test, update_on_unchanged_tree_touches_no_file) {
  scratch_dir s("cli-upd");
  build_random_tree(s / "src", small_tree(901));
  ASSERT_TRUE(exited_with(tc({s / "src", s / "dst"}), 0));
  const auto before = non_directory_inodes(s / "dst");
  const process_result r = tc({"--update", s / "src", s / "dst"});
  EXPECT_TRUE(exited_with(r, 0));
  EXPECT_EQ(inode_changes(before, non_directory_inodes(s / "dst")), "") << r.describe();
  EXPECT_TRUE(same_trees(s / "src", s / "dst"));
}

TEST(sync_cli_test, update_brings_changes_over) {
  scratch_dir s("cli-upd2");
  build_random_tree(s / "src", small_tree(902));
  ASSERT_TRUE(exited_with(tc({s / "src", s / "dst"}), 0));
  write_file(s / "src/changed_or_new", "new bytes", past_time(1));
  ::mkdir((s / "src/new_dir").c_str(), 0700);
  write_file(s / "src/new_dir/f", "f", past_time(2));
  EXPECT_TRUE(exited_with(tc({"--update", s / "src", s / "dst"}), 0));
  EXPECT_TRUE(same_trees(s / "src", s / "dst"));
}

TEST(sync_cli_test, checksum_sees_same_size_same_mtime_change) {
  scratch_dir s("cli-sum");
  tree_maker m(s / "src", 903);
  m.file("f", std::string(5000, 'x'));
  m.finish();
  ASSERT_TRUE(exited_with(tc({s / "src", s / "dst"}), 0));
  const struct stat st = lstat_path(s / "src/f");
  overwrite_in_place(s / "src/f", std::string(4999, 'x') + "y", st.st_mtim);
  set_entry_times(s / "src/f", st.st_mtim);
  EXPECT_TRUE(exited_with(tc({"--update", s / "src", s / "dst"}), 0));
  EXPECT_EQ(read_whole(s / "dst/f"), std::string(5000, 'x'))
      << "plain --update trusts size and mtime";
  EXPECT_TRUE(exited_with(tc({"--update", "--checksum", s / "src", s / "dst"}), 0));
  EXPECT_TRUE(same_trees(s / "src", s / "dst"));
}

class cli_delete_test : public testing::Test {
 protected:
  void SetUp() override {
    tree_maker m(src_, 904);
    m.dir("d");
    m.file("d/a", "a");
    m.file("b", "b");
    m.finish();
    tree_maker o(outside_, 905);
    o.file("victim", "must survive");
    o.finish();
    ASSERT_TRUE(exited_with(tc({src_, dst_}), 0));
    write_file(dst_ + "/extra", "extra", past_time(1));
    ::mkdir((dst_ + "/d/extra_dir").c_str(), 0755);
    write_file(dst_ + "/d/extra_dir/x", "x", past_time(2));
    ASSERT_EQ(::symlink(outside_.c_str(), (dst_ + "/d/out_link").c_str()), 0);
    ASSERT_EQ(::symlink((outside_ + "/victim").c_str(), (dst_ + "/victim_link").c_str()), 0);
    outside_before_ = snapshot_tree(outside_);
  }

  scratch_dir s_{"cli-del"};
  std::string src_ = s_ / "src", dst_ = s_ / "dst", outside_ = s_ / "outside";
  std::vector<std::string> outside_before_;
};

TEST_F(cli_delete_test, mirror) {
  const process_result r = tc({"--update", "--delete", src_, dst_});
  EXPECT_TRUE(exited_with(r, 0));
  EXPECT_TRUE(same_trees(src_, dst_));
  EXPECT_EQ(snapshot_tree(outside_), outside_before_);
}

TEST_F(cli_delete_test, merge_delete_mirrors_too) {
  const process_result r = tc({"--merge", "--delete", src_, dst_});
  EXPECT_TRUE(exited_with(r, 0));
  EXPECT_TRUE(same_trees(src_, dst_));
  EXPECT_EQ(snapshot_tree(outside_), outside_before_);
}

TEST_F(cli_delete_test, dry_run_lists_and_removes_nothing) {
  const auto before = snapshot_tree(dst_);
  const process_result r = tc({"--update", "--delete", "--dry-run", "-v", src_, dst_});
  EXPECT_TRUE(exited_with(r, 0));
  EXPECT_EQ(snapshot_tree(dst_), before);
  for (const char* rel : {"extra", "d/extra_dir", "d/out_link", "victim_link"})
    EXPECT_TRUE(contains(r.out, dst_ + "/" + rel)) << rel << " not listed\n" << r.describe();
}

TEST_F(cli_delete_test, delete_alone_is_bad_usage) {
  const auto before = snapshot_tree(dst_);
  const process_result r = tc({"--delete", src_, dst_});
  EXPECT_TRUE(exited_with(r, 2));
  EXPECT_TRUE(contains(r.err, "--delete")) << r.describe();
  EXPECT_EQ(snapshot_tree(dst_), before);
}

TEST(sync_cli_refusal_test, ancestor_home_and_root_exit_2) {
  scratch_dir s("cli-refuse");
  ASSERT_EQ(::mkdir((s / "top").c_str(), 0755), 0);
  tree_maker m(s / "top/src", 906);
  m.file("f", "f");
  m.finish();
  write_file(s / "top/beside", "beside", past_time(1));
  const auto before = snapshot_tree(s / "top");
  {
    const process_result r = tc({"--update", "--delete", s / "top/src", s / "top"});
    EXPECT_TRUE(exited_with(r, 2));
    EXPECT_TRUE(one_error_line_naming(r, s / "top"));
  }
  {
    // Trailing '/' and "/." name the same ancestor.
    EXPECT_TRUE(exited_with(tc({"--update", "--delete", s / "top/src", s / "top/"}), 2));
    EXPECT_TRUE(exited_with(tc({"--update", "--delete", s / "top/src", s / "top/."}), 2));
  }
  {
    tree_maker h(s / "home", 907);
    h.file(".profile", "precious");
    h.finish();
    const auto home_before = snapshot_tree(s / "home");
    home_override home(s / "home");
    const process_result r = tc({"--update", "--delete", s / "top/src", s / "home"});
    EXPECT_TRUE(exited_with(r, 2));
    EXPECT_TRUE(one_error_line_naming(r, s / "home"));
    EXPECT_EQ(snapshot_tree(s / "home"), home_before);
  }
  {
    // "/" only together with --dry-run: refused before any work, and a dry run changes nothing.
    const process_result r = tc({"--update", "--delete", "--dry-run", s / "top/src", "/"});
    EXPECT_TRUE(exited_with(r, 2));
  }
  EXPECT_EQ(snapshot_tree(s / "top"), before);
}

void build_checkout(const std::string& root) {
  tree_maker m(root, 908);
  m.dir(".git");
  m.file(".git/HEAD", "ref");
  m.dir("src");
  m.file("src/a.c", "a");
  m.file("src/a.o", "obj");
  m.file("src/keep.o", "kept object");
  m.dir("sub");
  m.file("sub/.git", "gitdir: x");
  m.file("notes.tmp", "scratch");
  m.finish();
}

TEST(sync_cli_filter_test, typical_excludes) {
  scratch_dir s("cli-filter");
  build_checkout(s / "src");
  const process_result r = tc({"--exclude", ".git/", "--exclude", "*.o", s / "src", s / "dst"});
  EXPECT_TRUE(exited_with(r, 0));
  compare_options c;
  c.ignore = {".git", "src/a.o", "src/keep.o"};
  EXPECT_TRUE(same_trees(s / "src", s / "dst", c));
  for (const char* rel : {".git", "src/a.o", "src/keep.o"})
    EXPECT_FALSE(entry_exists(s / "dst/" + rel)) << rel;
  EXPECT_TRUE(entry_exists(s / "dst/sub/.git"));
}

// The rules keep their command-line order across --include and --exclude: the first match decides.
TEST(sync_cli_filter_test, include_and_exclude_keep_their_order) {
  scratch_dir s("cli-filter2");
  build_checkout(s / "src");
  const process_result a =
      tc({"--include", "keep.o", "--exclude", "*.o", s / "src", s / "inc_first"});
  EXPECT_TRUE(exited_with(a, 0));
  EXPECT_TRUE(entry_exists(s / "inc_first/src/keep.o")) << a.describe();
  EXPECT_FALSE(entry_exists(s / "inc_first/src/a.o")) << a.describe();
  const process_result b =
      tc({"--exclude", "*.o", "--include", "keep.o", s / "src", s / "exc_first"});
  EXPECT_TRUE(exited_with(b, 0));
  EXPECT_FALSE(entry_exists(s / "exc_first/src/keep.o")) << "the exclude came first\n"
                                                         << b.describe();
}

TEST(sync_cli_filter_test, exclude_from_file) {
  scratch_dir s("cli-filter3");
  build_checkout(s / "src");
  write_file(s / "rules", ".git/\n*.o\n/notes.tmp\n", past_time(1));
  const process_result r = tc({"--exclude-from", s / "rules", s / "src", s / "dst"});
  EXPECT_TRUE(exited_with(r, 0));
  for (const char* rel : {".git", "src/a.o", "src/keep.o", "notes.tmp"})
    EXPECT_FALSE(entry_exists(s / "dst/" + rel)) << rel << "\n" << r.describe();
  EXPECT_TRUE(entry_exists(s / "dst/src/a.c"));
}

// Blank lines and '#' comments in an exclude file are not patterns (as in rsync and .gitignore).
TEST(sync_cli_filter_test, exclude_from_file_skips_blank_lines_and_comments) {
  scratch_dir s("cli-filter4");
  build_checkout(s / "src");
  write_file(s / "rules", "# build output\n*.o\n\n", past_time(1));
  const process_result r = tc({"--exclude-from", s / "rules", s / "src", s / "dst"});
  EXPECT_TRUE(exited_with(r, 0));
  EXPECT_FALSE(entry_exists(s / "dst/src/a.o")) << r.describe();
  EXPECT_TRUE(entry_exists(s / "dst/src/a.c")) << r.describe();
}

TEST(sync_cli_filter_test, missing_exclude_file_and_bad_pattern_are_bad_usage) {
  scratch_dir s("cli-filter5");
  build_checkout(s / "src");
  const process_result r = tc({"--exclude-from", s / "no_such_file", s / "src", s / "dst"});
  EXPECT_TRUE(exited_with(r, 2));
  EXPECT_TRUE(contains(r.err, s / "no_such_file")) << r.describe();
  const process_result p = tc({"--exclude", "/", s / "src", s / "dst"});
  EXPECT_TRUE(exited_with(p, 2));
  EXPECT_FALSE(entry_exists(s / "dst"));
}

TEST(sync_cli_link_test, dereference_loop_exit_1_rest_copied) {
  scratch_dir s("cli-L");
  tree_maker m(s / "src", 909);
  m.dir("a");
  m.file("a/data", "data");
  m.symlink("a/up", "..");
  m.symlink("file_link", "a/data");
  m.finish();
  const process_result r = tc({"-L", s / "src", s / "dst"});
  EXPECT_TRUE(exited_with(r, 1));
  EXPECT_TRUE(contains(r.err, s / "src/a/up")) << r.describe();
  EXPECT_EQ(read_whole(s / "dst/a/data"), "data");
  EXPECT_TRUE(S_ISREG(lstat_path(s / "dst/file_link").st_mode));
  const process_result l = tc({"--dereference", s / "src", s / "dst2"});
  EXPECT_TRUE(exited_with(l, 1));
}

TEST(sync_cli_link_test, dangling_with_L_exit_1) {
  scratch_dir s("cli-L2");
  tree_maker m(s / "src", 910);
  m.file("ok", "ok");
  m.symlink("dangling", "nowhere");
  m.finish();
  const process_result r = tc({"-L", s / "src", s / "dst"});
  EXPECT_TRUE(exited_with(r, 1));
  EXPECT_TRUE(contains(r.err, s / "src/dangling")) << r.describe();
  EXPECT_EQ(read_whole(s / "dst/ok"), "ok");
}

TEST(sync_cli_link_test, H_follows_only_src) {
  scratch_dir s("cli-H");
  tree_maker m(s / "real", 911);
  m.dir("d");
  m.file("d/f", "f");
  m.symlink("inner", "d");
  m.finish();
  ASSERT_EQ(::symlink("real", (s / "link").c_str()), 0);
  const process_result r = tc({"-H", s / "link", s / "dst"});
  EXPECT_TRUE(exited_with(r, 0));
  EXPECT_TRUE(S_ISDIR(lstat_path(s / "dst").st_mode));
  EXPECT_TRUE(S_ISLNK(lstat_path(s / "dst/inner").st_mode));
  EXPECT_TRUE(same_trees(s / "real", s / "dst"));
}

TEST(sync_cli_test, one_file_system) {
  scratch_dir s("cli-x");
  tree_maker m(s / "src", 912);
  m.file("here", "here");
  m.dir("mnt");
  m.finish();
  if (::mount("tmpfs", (s / "src/mnt").c_str(), "tmpfs", 0, "size=8m") != 0)
    GTEST_SKIP() << "cannot mount a tmpfs here (" << std::strerror(errno) << ")";
  write_file(s / "src/mnt/elsewhere", "elsewhere", past_time(1));
  const process_result r = tc({"-x", s / "src", s / "dst"});
  const process_result l = tc({"--one-file-system", s / "src", s / "dst2"});
  ::umount2((s / "src/mnt").c_str(), MNT_DETACH);
  EXPECT_TRUE(exited_with(r, 0));
  EXPECT_TRUE(exited_with(l, 0));
  EXPECT_TRUE(entry_exists(s / "dst/here"));
  EXPECT_TRUE(S_ISDIR(lstat_path(s / "dst/mnt").st_mode));
  EXPECT_FALSE(entry_exists(s / "dst/mnt/elsewhere"));
  EXPECT_FALSE(entry_exists(s / "dst2/mnt/elsewhere"));
}

// ---- a dry run foresees the real run ------------------------------------------------------------

// The parts of a --json report that a dry run must foresee: all but the timing and the dry_run
// flag.
std::string foreseen(std::string json) {
  for (const char* key : {"\"elapsed\":", "\"bytes_per_second\":", "\"dry_run\":"}) {
    const std::size_t at = json.find(key);
    if (at == std::string::npos) continue;
    const std::size_t end = json.find(',', at);
    json.erase(at, end == std::string::npos ? std::string::npos : end - at + 1);
  }
  return json;
}

// Runs the copy with --dry-run, then for real: the dry run reports the counts and errors that the
// real run then has.
void expect_dry_run_foresees(const std::vector<std::string>& args,
                             const process_options& how = {}) {
  auto run = [&](bool dry) {
    std::vector<std::string> a = {"--progress=none", "-j", "4", "--json"};
    if (dry) a.push_back("--dry-run");
    a.insert(a.end(), args.begin(), args.end());
    return run_treecopy(a, how);
  };
  const process_result dry = run(true);
  const process_result real = run(false);
  EXPECT_EQ(dry.exit_code, real.exit_code) << dry.describe() << real.describe();
  EXPECT_EQ(foreseen(dry.out), foreseen(real.out)) << dry.describe() << real.describe();
}

// A scratch directory that uid 65534 can write in, with SRC's directory owned by it.
void give_to_nobody(const scratch_dir& s) {
  ASSERT_EQ(::chmod(s.path().c_str(), 0755), 0);
  ASSERT_EQ(::chown(s.path().c_str(), 65534, 65534), 0);
  ASSERT_EQ(::mkdir((s / "src").c_str(), 0755), 0);
  ASSERT_EQ(::chown((s / "src").c_str(), 65534, 65534), 0);
}

// An unreadable file that DST already has: --update keeps it (only its mode is set), no open.
TEST(dry_run_foresees_test, unreadable_file_already_up_to_date) {
  scratch_dir s("dry-unreadable");
  give_to_nobody(s);
  write_file(s / "src/f", "bytes", past_time(1));
  ASSERT_EQ(::lchown((s / "src/f").c_str(), 65534, 65534), 0);
  ASSERT_TRUE(
      exited_with(run_treecopy({"--progress=none", s / "src", s / "dst"}, as_user(65534)), 0));
  ASSERT_EQ(::chmod((s / "src/f").c_str(), 0), 0);
  expect_dry_run_foresees({"--update", s / "src", s / "dst"}, as_user(65534));
}

// A device that DST already has, copied by root: a user's --update keeps it (no mknod, no EPERM).
TEST(dry_run_foresees_test, device_already_up_to_date_without_root) {
  scratch_dir s("dry-device");
  give_to_nobody(s);
  if (::mknod((s / "src/null").c_str(), S_IFCHR | 0666, makedev(1, 3)) != 0)
    GTEST_SKIP() << "cannot make a device node here: " << std::strerror(errno);
  set_entry_times(s / "src/null", past_time(2));
  ASSERT_TRUE(exited_with(run_treecopy({"--progress=none", s / "src", s / "dst"}), 0));
  expect_dry_run_foresees({"--update", s / "src", s / "dst"}, as_user(65534));
}

// --update replaces a DST directory by SRC's file: what it removes is counted by the dry run too.
TEST(dry_run_foresees_test, directory_replaced_by_a_file) {
  scratch_dir s("dry-dir-file");
  ASSERT_EQ(::mkdir((s / "src").c_str(), 0755), 0);
  write_file(s / "src/x", "file", past_time(3));
  write_file(s / "src/other", "other", past_time(4));
  ASSERT_TRUE(exited_with(tc({s / "src", s / "dst"}), 0));
  ASSERT_EQ(::unlink((s / "dst/x").c_str()), 0);
  ASSERT_EQ(::mkdir((s / "dst/x").c_str(), 0755), 0);
  ASSERT_EQ(::mkdir((s / "dst/x/sub").c_str(), 0755), 0);
  write_file(s / "dst/x/a", "a", past_time(5));
  write_file(s / "dst/x/sub/b", "b", past_time(6));
  expect_dry_run_foresees({"--update", s / "src", s / "dst"});
}

// Names of a hard-linked file in several directories, DST up to date: while the first name is
// compared (--checksum reads it), the others wait for it; each is counted once, as kept.
TEST(dry_run_foresees_test, waiting_hard_link_names_counted_once) {
  scratch_dir s("dry-links");
  ASSERT_EQ(::mkdir((s / "src").c_str(), 0755), 0);
  for (int i = 0; i < 8; ++i)
    ASSERT_EQ(::mkdir((s / ("src/d" + std::to_string(i))).c_str(), 0755), 0);
  write_file(s / "src/d0/big", std::string(std::size_t{32} << 20, 'x'), past_time(7));
  for (int i = 1; i < 8; ++i)
    ASSERT_EQ(
        ::link((s / "src/d0/big").c_str(), (s / ("src/d" + std::to_string(i) + "/big")).c_str()),
        0);
  ASSERT_TRUE(exited_with(tc({s / "src", s / "dst"}), 0));
  expect_dry_run_foresees({"--checksum", s / "src", s / "dst"});
}

// --update, a hard-linked file whose source cannot be read: the first name fails, and the names
// waiting for it are reported too (they were left waiting, unreported, and their directory never
// got its metadata); DST's old copies stay (they were removed before the source was opened).
TEST(update_link_group_test, unreadable_first_name_releases_the_others) {
  scratch_dir s("update-unreadable-links");
  give_to_nobody(s);
  write_file(s / "src/a", "old", past_time(1));
  ASSERT_EQ(::link((s / "src/a").c_str(), (s / "src/b").c_str()), 0);
  ASSERT_EQ(::lchown((s / "src/a").c_str(), 65534, 65534), 0);
  ASSERT_TRUE(
      exited_with(run_treecopy({"--progress=none", s / "src", s / "dst"}, as_user(65534)), 0));
  write_file(s / "src/a", "newer bytes", past_time(2));
  ASSERT_EQ(::chmod((s / "src/a").c_str(), 0), 0);
  auto r = run_treecopy({"--progress=none", "-j", "1", "--update", s / "src", s / "dst"},
                        as_user(65534));
  EXPECT_EQ(r.exit_code, 1) << r.describe();
  EXPECT_NE(r.err.find("'" + s / "src/a" + "'"), std::string::npos) << r.describe();
  EXPECT_NE(r.err.find("'" + s / "src/b" + "'"), std::string::npos) << r.describe();
  EXPECT_NE(r.err.find("2 errors"), std::string::npos) << r.describe();
  EXPECT_NE(r.err.find("(1 directory)"), std::string::npos) << "DST's directory was not finalized\n"
                                                            << r.describe();
  for (const char* name : {"dst/a", "dst/b"}) {
    std::ifstream in(s / name, std::ios::binary);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_TRUE(in.good() || in.eof()) << name << " was removed";
    EXPECT_EQ(text, "old") << name;
  }
}

}  // namespace
}  // namespace treecopy_test
