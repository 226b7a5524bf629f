// copy_options::dereference and one_file_system through copy_tree(): -L copies what links name,
// reports a directory cycle instead of following it forever and copies the rest, reports dangling
// links; -H follows SRC itself only; -x does not descend into another file system.
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <future>

#include "scratch.hpp"
#include "sync_support.hpp"
#include "tree_assert.hpp"
#include "tree_maker.hpp"

namespace treecopy_test {
namespace {

using treecopy::symlink_mode;

treecopy::copy_options follow(symlink_mode mode) {
  treecopy::copy_options o;
  o.dereference = mode;
  return o;
}

// Runs copy_tree() with a deadline, so that a copy that follows a cycle forever fails the test
// instead of hanging it (the thread is then left behind, and the process exits with the test).
treecopy::copy_report copy_with_deadline(const std::string& src, const std::string& dst,
                                         const treecopy::copy_options& o, bool& finished) {
  auto task = std::make_shared<std::packaged_task<treecopy::copy_report()>>(
      [=] { return treecopy::copy_tree(src, dst, o); });
  auto result = task->get_future();
  std::thread([task] { (*task)(); }).detach();
  finished = result.wait_for(std::chrono::seconds(60)) == std::future_status::ready;
  return finished ? result.get() : treecopy::copy_report{};
}

bool has_error(const treecopy::copy_report& r, const std::string& path, std::error_code code) {
  return std::any_of(r.errors.begin(), r.errors.end(), [&](const treecopy::entry_error& e) {
    return e.path == path && e.code == code;
  });
}

bool has_error(const treecopy::copy_report& r, const std::string& path, int err) {
  return has_error(r, path, std::error_code(err, std::generic_category()));
}

void build_loops(const std::string& root) {
  tree_maker m(root, 801);
  m.dir("a");
  m.dir("a/b");
  m.file("a/b/data", "real data");
  m.symlink("a/b/up", "..");      // a/b/up -> a: cycle
  m.symlink("a/b/top", "../..");  // -> SRC itself: cycle
  m.symlink("a/self", ".");       // -> a: cycle
  m.dir("c");
  m.file("c/f", "in c");
  m.symlink("to_c", "c");  // not a cycle: c is copied twice
  m.symlink("file_link", "a/b/data");
  m.finish();
}

TEST(dereference_test, loops_are_reported_and_the_rest_copied) {
  scratch_dir s("deref-loop");
  build_loops(s / "src");
  bool finished = false;
  const treecopy::copy_report r =
      copy_with_deadline(s / "src", s / "dst", follow(symlink_mode::always), finished);
  ASSERT_TRUE(finished) << "-L on a symlink cycle did not finish within 60 s";
  EXPECT_EQ(r.error_count, 3u) << describe(r);
  for (const char* cycle : {"a/b/up", "a/b/top", "a/self"})
    EXPECT_TRUE(has_error(r, s / "src/" + cycle, treecopy::errc::directory_cycle))
        << cycle << " not reported\n"
        << describe(r);
  EXPECT_EQ(read_whole(s / "dst/a/b/data"), "real data");
  EXPECT_TRUE(S_ISDIR(lstat_path(s / "dst/to_c").st_mode));
  EXPECT_EQ(read_whole(s / "dst/to_c/f"), "in c");
  EXPECT_TRUE(S_ISREG(lstat_path(s / "dst/file_link").st_mode));
  for (const char* cycle : {"a/b/up", "a/b/top", "a/self"})
    EXPECT_FALSE(entry_exists(s / "dst/" + cycle)) << cycle;
}

TEST(dereference_test, link_to_file_becomes_the_file) {
  scratch_dir s("deref-file");
  tree_maker m(s / "src", 802);
  m.dir("d");
  m.file("d/target", "target bytes", 0640);
  m.symlink("link", "d/target");
  m.symlink("d/link2", "target");
  m.finish();
  const treecopy::copy_report r =
      treecopy::copy_tree(s / "src", s / "dst", follow(symlink_mode::always));
  EXPECT_TRUE(r.ok()) << describe(r);
  for (const char* name : {"link", "d/link2"}) {
    const struct stat st = lstat_path(s / "dst/" + name);
    EXPECT_TRUE(S_ISREG(st.st_mode)) << name;
    EXPECT_EQ(read_whole(s / "dst/" + name), "target bytes") << name;
    // The copy carries the target's metadata, not the link's.
    const struct stat target = lstat_path(s / "src/d/target");
    EXPECT_EQ(st.st_mode, target.st_mode) << name;
    EXPECT_EQ(st.st_mtim.tv_sec, target.st_mtim.tv_sec) << name;
    EXPECT_EQ(st.st_mtim.tv_nsec, target.st_mtim.tv_nsec) << name;
  }
  // Without -L the links stay links.
  const treecopy::copy_report plain = treecopy::copy_tree(s / "src", s / "plain");
  EXPECT_TRUE(plain.ok()) << describe(plain);
  EXPECT_TRUE(same_trees(s / "src", s / "plain"));
}

TEST(dereference_test, dangling_link_is_reported) {
  scratch_dir s("deref-dangling");
  tree_maker m(s / "src", 803);
  m.file("ok", "fine");
  m.symlink("dangling", "nowhere");
  m.finish();
  const treecopy::copy_report r =
      treecopy::copy_tree(s / "src", s / "dst", follow(symlink_mode::always));
  EXPECT_EQ(r.error_count, 1u) << describe(r);
  EXPECT_TRUE(has_error(r, s / "src/dangling", ENOENT)) << describe(r);
  EXPECT_EQ(read_whole(s / "dst/ok"), "fine");
  EXPECT_FALSE(entry_exists(s / "dst/dangling"));
}

// -H: SRC given as a symlink is followed; links inside are copied as links.
TEST(dereference_test, command_line_follows_only_src) {
  scratch_dir s("deref-H");
  tree_maker m(s / "real", 804);
  m.dir("d");
  m.file("d/f", "f");
  m.symlink("inner_link", "d");
  m.finish();
  ASSERT_EQ(::symlink("real", (s / "src_link").c_str()), 0);

  const treecopy::copy_report h =
      treecopy::copy_tree(s / "src_link", s / "dst_H", follow(symlink_mode::command_line));
  EXPECT_TRUE(h.ok()) << describe(h);
  EXPECT_TRUE(S_ISDIR(lstat_path(s / "dst_H").st_mode));
  EXPECT_TRUE(S_ISLNK(lstat_path(s / "dst_H/inner_link").st_mode));
  EXPECT_TRUE(same_trees(s / "real", s / "dst_H"));

  const treecopy::copy_report p = treecopy::copy_tree(s / "src_link", s / "dst_P");
  EXPECT_TRUE(p.ok()) << describe(p);
  EXPECT_TRUE(S_ISLNK(lstat_path(s / "dst_P").st_mode)) << "without -H, SRC is copied as a link";

  const treecopy::copy_report l =
      treecopy::copy_tree(s / "src_link", s / "dst_L", follow(symlink_mode::always));
  EXPECT_TRUE(l.ok()) << describe(l);
  EXPECT_TRUE(S_ISDIR(lstat_path(s / "dst_L/inner_link").st_mode)) << "-L follows inner links too";
}

// Mounts a small tmpfs for the life of the object (root only; skipped otherwise).
class tmpfs_mount {
 public:
  explicit tmpfs_mount(const std::string& at) : at_(at) {
    if (::mount("tmpfs", at.c_str(), "tmpfs", 0, "size=16m") == 0)
      mounted_ = true;
    else
      error_ = errno;
  }
  ~tmpfs_mount() {
    if (mounted_) ::umount2(at_.c_str(), MNT_DETACH);
  }
  bool mounted() const { return mounted_; }
  int error() const { return error_; }

 private:
  std::string at_;
  bool mounted_ = false;
  int error_ = 0;
};

TEST(one_file_system_test, does_not_descend_into_other_mounts) {
  scratch_dir s("onefs");
  tree_maker m(s / "src", 805);
  m.file("here", "on the source file system");
  m.dir("mnt", 0750);
  m.finish();
  tmpfs_mount mnt(s / "src/mnt");
  if (!mnt.mounted())
    GTEST_SKIP() << "cannot mount a tmpfs here (" << std::strerror(mnt.error())
                 << "): -x needs a second file system inside SRC";
  write_file(s / "src/mnt/elsewhere", "on another file system", past_time(1));
  ::mkdir((s / "src/mnt/sub").c_str(), 0755);

  treecopy::copy_options o;
  o.one_file_system = true;
  const treecopy::copy_report r = treecopy::copy_tree(s / "src", s / "dst", o);
  EXPECT_TRUE(r.ok()) << describe(r);
  EXPECT_EQ(read_whole(s / "dst/here"), "on the source file system");
  // As cp -x: the mount point itself is copied, empty.
  EXPECT_TRUE(S_ISDIR(lstat_path(s / "dst/mnt").st_mode));
  EXPECT_FALSE(entry_exists(s / "dst/mnt/elsewhere"));
  EXPECT_FALSE(entry_exists(s / "dst/mnt/sub"));

  const treecopy::copy_report all = treecopy::copy_tree(s / "src", s / "dst_all");
  EXPECT_TRUE(all.ok()) << describe(all);
  EXPECT_EQ(read_whole(s / "dst_all/mnt/elsewhere"), "on another file system");
}

}  // namespace
}  // namespace treecopy_test
