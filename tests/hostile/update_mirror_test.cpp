// --update must leave DST equal to SRC, not only its data: an entry whose size and mtime are equal
// still gets SRC's mode, owner, attributes and link target; hard-link groups are split and joined
// as SRC's are; a destination that stores whole seconds does not make every run copy everything;
// and --dry-run takes the same decisions. Each case also checks that a further run is a no-op.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

#include "entry_check.hpp"
#include "fault_support.hpp"
#include "process.hpp"
#include "scratch.hpp"
#include "tree_assert.hpp"
#include "treecopy/treecopy.hpp"

namespace treecopy_test {
namespace {

using treecopy::entry_kind;

[[noreturn]] void fail_errno(const std::string& what) {
  throw std::system_error(errno, std::generic_category(), what);
}

void write_file(const std::string& path, const std::string& data, mode_t mode = 0644) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, mode);
  if (fd < 0) fail_errno("open " + path);
  if (::write(fd, data.data(), data.size()) != static_cast<ssize_t>(data.size()))
    fail_errno("write " + path);
  ::close(fd);
}

// Sets the times of path (not following a symlink) to those of from.
void copy_times(const std::string& from, const std::string& path) {
  const struct stat st = lstat_of(from);
  const struct timespec t[2] = {st.st_atim, st.st_mtim};
  if (::utimensat(AT_FDCWD, path.c_str(), t, AT_SYMLINK_NOFOLLOW) != 0)
    fail_errno("utimensat " + path);
}

void set_mtime(const std::string& path, time_t sec, long nsec) {
  const struct timespec t[2] = {{sec, nsec}, {sec, nsec}};
  if (::utimensat(AT_FDCWD, path.c_str(), t, AT_SYMLINK_NOFOLLOW) != 0)
    fail_errno("utimensat " + path);
}

std::string xattr_of(const std::string& path, const char* name) {
  char buf[256];
  ssize_t n = ::lgetxattr(path.c_str(), name, buf, sizeof buf);
  return n < 0 ? std::string("<none>") : std::string(buf, static_cast<std::size_t>(n));
}

std::string link_target(const std::string& path) {
  char buf[4096];
  ssize_t n = ::readlink(path.c_str(), buf, sizeof buf);
  if (n < 0) fail_errno("readlink " + path);
  return std::string(buf, static_cast<std::size_t>(n));
}

std::string describe(const treecopy::copy_report& r) {
  std::string s = "copied " + std::to_string(r.copied.total()) + " (files " +
                  std::to_string(r.copied[entry_kind::file]) + ", links " +
                  std::to_string(r.copied[entry_kind::hardlink]) + ", symlinks " +
                  std::to_string(r.copied[entry_kind::symlink]) + "), skipped " +
                  std::to_string(r.skipped) + ", errors " + std::to_string(r.error_count);
  for (const auto& e : r.errors) s += "\n  " + e.path + ": " + e.code.message();
  return s;
}

std::uint64_t non_directories(const treecopy::copy_report& r) {
  return r.copied.total() - r.copied[entry_kind::directory];
}

treecopy::copy_report update(const std::string& src, const std::string& dst, bool dry_run = false,
                             bool checksum = false) {
  treecopy::copy_options o;
  o.update = true;
  o.delete_extraneous = true;
  o.dry_run = dry_run;
  o.checksum = checksum;
  return treecopy::copy_tree(src, dst, o);
}

// Files written here have atime == mtime: the copy's read moves SRC's atime (relatime) after
// DST's was set, which is no fault of --update.
compare_options labelled() {
  compare_options o;
  o.atime = false;
  o.left_label = "src";
  o.right_label = "dst";
  return o;
}

// A run with nothing to do: no entry but directories is written, no inode changed in any way.
void expect_noop(const std::string& src, const std::string& dst, const std::string& name,
                 std::uint64_t entries) {
  const struct stat before = lstat_of(dst + "/" + name);
  const treecopy::copy_report r = update(src, dst);
  EXPECT_TRUE(r.ok()) << describe(r);
  EXPECT_EQ(non_directories(r), 0u) << describe(r);
  EXPECT_EQ(r.skipped, entries) << describe(r);
  const struct stat after = lstat_of(dst + "/" + name);
  EXPECT_EQ(after.st_ino, before.st_ino);
  EXPECT_EQ(after.st_ctim.tv_sec, before.st_ctim.tv_sec) << name << " was changed by a no-op run";
  EXPECT_EQ(after.st_ctim.tv_nsec, before.st_ctim.tv_nsec) << name << " was changed by a no-op run";
}

class update_mirror : public testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(::mkdir(src_.c_str(), 0755), 0);
    write_file(src_ + "/f", "hello, world\n");
    write_file(src_ + "/other", "other\n");
  }
  void first_copy() {
    const treecopy::copy_report r = treecopy::copy_tree(src_, dst_);
    ASSERT_TRUE(r.ok()) << describe(r);
  }

  scratch_dir s_{"upd-mirror"};
  std::string src_ = s_ / "src";
  std::string dst_ = s_ / "dst";
};

// chmod 600 in SRC, mtime unchanged: DST's file becomes private too, without its data copied.
TEST_F(update_mirror, mode_made_private_without_recopy) {
  first_copy();
  const ino_t ino = lstat_of(dst_ + "/f").st_ino;
  ASSERT_EQ(::chmod((src_ + "/f").c_str(), 0600), 0);
  const treecopy::copy_report r = update(src_, dst_);
  EXPECT_TRUE(r.ok()) << describe(r);
  EXPECT_EQ(lstat_of(dst_ + "/f").st_mode & 07777, 0600u);
  EXPECT_EQ(lstat_of(dst_ + "/f").st_ino, ino) << "the data was copied again";
  EXPECT_EQ(non_directories(r), 0u) << describe(r);
  EXPECT_EQ(r.skipped, 2u) << describe(r);
  EXPECT_TRUE(same_trees(src_, dst_, labelled()));
  expect_noop(src_, dst_, "f", 2);
}

TEST_F(update_mirror, owner_change_applied) {
  if (!running_as_root()) GTEST_SKIP() << "changing an owner needs root";
  first_copy();
  ASSERT_EQ(::lchown((src_ + "/f").c_str(), 1234, 5678), 0);
  const treecopy::copy_report r = update(src_, dst_);
  EXPECT_TRUE(r.ok()) << describe(r);
  EXPECT_EQ(lstat_of(dst_ + "/f").st_uid, 1234u);
  EXPECT_EQ(lstat_of(dst_ + "/f").st_gid, 5678u);
  EXPECT_TRUE(same_trees(src_, dst_, labelled()));
  expect_noop(src_, dst_, "f", 2);
}

// An attribute added, then changed, then removed in SRC; one DST alone has is removed.
TEST_F(update_mirror, xattrs_made_equal) {
  first_copy();
  ASSERT_EQ(::lsetxattr((src_ + "/f").c_str(), "user.tag", "one", 3, 0), 0);
  treecopy::copy_report r = update(src_, dst_);
  EXPECT_TRUE(r.ok()) << describe(r);
  EXPECT_EQ(xattr_of(dst_ + "/f", "user.tag"), "one");
  EXPECT_TRUE(same_trees(src_, dst_, labelled()));
  expect_noop(src_, dst_, "f", 2);

  ASSERT_EQ(::lsetxattr((src_ + "/f").c_str(), "user.tag", "two", 3, 0), 0);
  ASSERT_EQ(::lsetxattr((src_ + "/f").c_str(), "user.more", "x", 1, 0), 0);
  r = update(src_, dst_);
  EXPECT_TRUE(r.ok()) << describe(r);
  EXPECT_EQ(xattr_of(dst_ + "/f", "user.tag"), "two");
  EXPECT_EQ(xattr_of(dst_ + "/f", "user.more"), "x");

  ASSERT_EQ(::lremovexattr((src_ + "/f").c_str(), "user.tag"), 0);
  r = update(src_, dst_);
  EXPECT_TRUE(r.ok()) << describe(r);
  EXPECT_EQ(xattr_of(dst_ + "/f", "user.tag"), "<none>");
  EXPECT_TRUE(same_trees(src_, dst_, labelled()));
  expect_noop(src_, dst_, "f", 2);
}

// A symlink retargeted to a target of the same length, with the old mtime back.
TEST_F(update_mirror, symlink_same_length_target_recreated) {
  ASSERT_EQ(::symlink("aaaa", (src_ + "/l").c_str()), 0);
  first_copy();
  ASSERT_EQ(::symlink("bbbb", (src_ + "/l.new").c_str()), 0);
  copy_times(src_ + "/l", src_ + "/l.new");
  ASSERT_EQ(::rename((src_ + "/l.new").c_str(), (src_ + "/l").c_str()), 0);
  const treecopy::copy_report r = update(src_, dst_);
  EXPECT_TRUE(r.ok()) << describe(r);
  EXPECT_EQ(link_target(dst_ + "/l"), "bbbb");
  EXPECT_EQ(r.copied[entry_kind::symlink], 1u) << describe(r);
  EXPECT_TRUE(same_trees(src_, dst_, labelled()));
  expect_noop(src_, dst_, "l", 3);
}

// A directory's mode and attributes, also when everything in it is unchanged or excluded; an
// attribute only DST's directory has goes.
TEST_F(update_mirror, directory_metadata_made_equal) {
  ASSERT_EQ(::mkdir((src_ + "/d").c_str(), 0755), 0);
  write_file(src_ + "/d/keep", "k\n");
  ASSERT_EQ(::mkdir((src_ + "/e").c_str(), 0755), 0);
  write_file(src_ + "/e/skipped.o", "o\n");
  first_copy();
  ASSERT_EQ(::chmod((src_ + "/d").c_str(), 0700), 0);
  ASSERT_EQ(::lsetxattr((src_ + "/d").c_str(), "user.dir", "new", 3, 0), 0);
  ASSERT_EQ(::lsetxattr((dst_ + "/d").c_str(), "user.stale", "old", 3, 0), 0);
  ASSERT_EQ(::chmod((src_ + "/e").c_str(), 0750), 0);
  treecopy::copy_options o;
  o.update = true;
  o.filters.push_back({false, "*.o"});
  const treecopy::copy_report r = treecopy::copy_tree(src_, dst_, o);
  EXPECT_TRUE(r.ok()) << describe(r);
  EXPECT_EQ(lstat_of(dst_ + "/d").st_mode & 07777, 0700u);
  EXPECT_EQ(lstat_of(dst_ + "/e").st_mode & 07777, 0750u);
  EXPECT_EQ(xattr_of(dst_ + "/d", "user.dir"), "new");
  EXPECT_EQ(xattr_of(dst_ + "/d", "user.stale"), "<none>");
  EXPECT_TRUE(same_trees(src_, dst_, labelled()));
}

// SRC broke a hard link (cp -p g g.new && mv g.new g): DST's two names must become two inodes.
TEST_F(update_mirror, broken_hard_link_split) {
  ASSERT_EQ(::link((src_ + "/f").c_str(), (src_ + "/g").c_str()), 0);
  first_copy();
  ASSERT_EQ(lstat_of(dst_ + "/f").st_ino, lstat_of(dst_ + "/g").st_ino);
  write_file(src_ + "/g.new", "hello, world\n");
  copy_times(src_ + "/g", src_ + "/g.new");
  ASSERT_EQ(::rename((src_ + "/g.new").c_str(), (src_ + "/g").c_str()), 0);
  const treecopy::copy_report r = update(src_, dst_);
  EXPECT_TRUE(r.ok()) << describe(r);
  EXPECT_NE(lstat_of(dst_ + "/f").st_ino, lstat_of(dst_ + "/g").st_ino) << "still one inode";
  EXPECT_EQ(lstat_of(dst_ + "/f").st_nlink, 1u);
  EXPECT_EQ(lstat_of(dst_ + "/g").st_nlink, 1u);
  EXPECT_TRUE(same_trees(src_, dst_, labelled()));
  // Editing one no longer changes the other.
  write_file(dst_ + "/f", "changed\n");
  EXPECT_EQ(*faults::read_file(dst_ + "/g"), "hello, world\n");
  ::unlink((dst_ + "/f").c_str());
  ASSERT_TRUE(update(src_, dst_).ok());
  expect_noop(src_, dst_, "f", 3);
}

// The other way: two equal files that SRC joins into one inode (ln -f f g).
TEST_F(update_mirror, separate_files_joined) {
  write_file(src_ + "/g", "hello, world\n");
  copy_times(src_ + "/f", src_ + "/g");
  first_copy();
  ASSERT_EQ(::unlink((src_ + "/g").c_str()), 0);
  ASSERT_EQ(::link((src_ + "/f").c_str(), (src_ + "/g").c_str()), 0);
  const treecopy::copy_report r = update(src_, dst_);
  EXPECT_TRUE(r.ok()) << describe(r);
  EXPECT_EQ(lstat_of(dst_ + "/f").st_ino, lstat_of(dst_ + "/g").st_ino) << "not joined";
  EXPECT_TRUE(same_trees(src_, dst_, labelled()));
  expect_noop(src_, dst_, "g", 3);
}

// Two groups of equal data that DST holds as one inode of four names: split into SRC's two.
TEST_F(update_mirror, merged_groups_split) {
  ASSERT_EQ(::link((src_ + "/f").c_str(), (src_ + "/f2").c_str()), 0);
  write_file(src_ + "/g", "hello, world\n");
  copy_times(src_ + "/f", src_ + "/g");
  ASSERT_EQ(::link((src_ + "/g").c_str(), (src_ + "/g2").c_str()), 0);
  first_copy();
  for (const char* n : {"g", "g2"}) {
    ASSERT_EQ(::unlink((dst_ + "/" + n).c_str()), 0);
    ASSERT_EQ(::link((dst_ + "/f").c_str(), (dst_ + "/" + n).c_str()), 0);
  }
  const treecopy::copy_report r = update(src_, dst_);
  EXPECT_TRUE(r.ok()) << describe(r);
  EXPECT_TRUE(same_trees(src_, dst_, labelled()));
  expect_noop(src_, dst_, "g2", 5);
}

// Intact hard-link groups: a re-run still skips every name.
TEST_F(update_mirror, intact_hard_links_skipped) {
  ASSERT_EQ(::link((src_ + "/f").c_str(), (src_ + "/g").c_str()), 0);
  ASSERT_EQ(::link((src_ + "/f").c_str(), (src_ + "/h").c_str()), 0);
  first_copy();
  expect_noop(src_, dst_, "g", 4);
  EXPECT_EQ(lstat_of(dst_ + "/f").st_nlink, 3u);
}

// --dry-run --update takes the decisions the real run takes: a metadata-only fix is counted as
// skipped (no data to copy), a broken hard link as a file to copy, a joined one as a link.
TEST_F(update_mirror, dry_run_counts_as_the_real_run) {
  ASSERT_EQ(::link((src_ + "/f").c_str(), (src_ + "/g").c_str()), 0);
  ASSERT_EQ(::symlink("aaaa", (src_ + "/l").c_str()), 0);
  write_file(src_ + "/p", "same\n");
  write_file(src_ + "/q", "same\n");
  copy_times(src_ + "/p", src_ + "/q");
  first_copy();
  ASSERT_EQ(::unlink((src_ + "/q").c_str()), 0);
  ASSERT_EQ(::link((src_ + "/p").c_str(), (src_ + "/q").c_str()), 0);
  ASSERT_EQ(::chmod((src_ + "/other").c_str(), 0600), 0);
  write_file(src_ + "/g.new", "hello, world\n");
  copy_times(src_ + "/g", src_ + "/g.new");
  ASSERT_EQ(::rename((src_ + "/g.new").c_str(), (src_ + "/g").c_str()), 0);
  ASSERT_EQ(::symlink("bbbb", (src_ + "/l.new").c_str()), 0);
  copy_times(src_ + "/l", src_ + "/l.new");
  ASSERT_EQ(::rename((src_ + "/l.new").c_str(), (src_ + "/l").c_str()), 0);
  const treecopy::copy_report dry = update(src_, dst_, true);
  EXPECT_EQ(lstat_of(dst_ + "/other").st_mode & 07777, 0644u) << "a dry run changed DST";
  const treecopy::copy_report real = update(src_, dst_);
  EXPECT_TRUE(dry.ok()) << describe(dry);
  EXPECT_TRUE(real.ok()) << describe(real);
  EXPECT_EQ(dry.skipped, real.skipped) << "dry: " << describe(dry) << "\nreal: " << describe(real);
  EXPECT_EQ(dry.copied[entry_kind::symlink], 1u) << describe(dry);
  EXPECT_EQ(real.copied[entry_kind::symlink], 1u) << describe(real);
  EXPECT_EQ(dry.copied[entry_kind::hardlink], 1u) << describe(dry);
  EXPECT_EQ(real.copied[entry_kind::hardlink], 1u) << describe(real);
  EXPECT_EQ(non_directories(dry), non_directories(real))
      << "dry: " << describe(dry) << "\nreal: " << describe(real);
  EXPECT_TRUE(same_trees(src_, dst_, labelled()));
}

// --checksum: equal contents, but mode and mtime moved in SRC: both applied, data not copied.
TEST_F(update_mirror, checksum_applies_metadata) {
  first_copy();
  const ino_t ino = lstat_of(dst_ + "/f").st_ino;
  ASSERT_EQ(::chmod((src_ + "/f").c_str(), 0640), 0);
  set_mtime(src_ + "/f", 1'600'000'000, 5);
  const treecopy::copy_report r = update(src_, dst_, false, true);
  EXPECT_TRUE(r.ok()) << describe(r);
  EXPECT_EQ(lstat_of(dst_ + "/f").st_ino, ino) << "the data was copied again";
  EXPECT_EQ(r.bytes_copied, 0u) << describe(r);
  EXPECT_TRUE(same_trees(src_, dst_, labelled()));
}

// As an unprivileged user: a file of one's own made read-only, with a new user.* attribute (which
// needs write permission to set).
TEST_F(update_mirror, unprivileged_read_only_file_gets_attribute_and_mode) {
  if (auto why = unprivileged_unavailable()) GTEST_SKIP() << *why;
  s_.give_to(unprivileged_id);
  for (const std::string& p : {src_, src_ + "/f", src_ + "/other"})
    ASSERT_EQ(::lchown(p.c_str(), unprivileged_id, unprivileged_id), 0);
  process_result r =
      faults::run_treecopy_limited({src_, dst_}, 60, faults::as_uid(unprivileged_id));
  ASSERT_TRUE(exited_with(r, 0));
  ASSERT_EQ(::lsetxattr((src_ + "/f").c_str(), "user.tag", "v", 1, 0), 0);
  ASSERT_EQ(::chmod((src_ + "/f").c_str(), 0444), 0);
  r = faults::run_treecopy_limited({"--update", src_, dst_}, 60, faults::as_uid(unprivileged_id));
  EXPECT_TRUE(exited_with(r, 0));
  EXPECT_EQ(lstat_of(dst_ + "/f").st_mode & 07777, 0444u);
  EXPECT_EQ(xattr_of(dst_ + "/f", "user.tag"), "v");
  EXPECT_TRUE(same_trees(src_, dst_, labelled()));
}

// --modify-window=SECONDS: mtimes that close count as equal; further apart they do not.
TEST_F(update_mirror, modify_window_option) {
  first_copy();
  const struct stat st = lstat_of(src_ + "/f");
  set_mtime(dst_ + "/f", st.st_mtim.tv_sec + 1, st.st_mtim.tv_nsec);
  const ino_t ino = lstat_of(dst_ + "/f").st_ino;
  process_result r =
      faults::run_treecopy_limited({"--update", "--modify-window=2", src_, dst_}, 60);
  EXPECT_TRUE(exited_with(r, 0));
  EXPECT_EQ(lstat_of(dst_ + "/f").st_ino, ino) << "copied again within the window\n"
                                               << r.describe();
  r = faults::run_treecopy_limited({"--update", src_, dst_}, 60);
  EXPECT_TRUE(exited_with(r, 0));
  EXPECT_NE(lstat_of(dst_ + "/f").st_ino, ino) << "not copied without the window\n" << r.describe();
  EXPECT_TRUE(same_trees(src_, dst_, labelled()));
}

// A loop-mounted image made by the mkfs command given (ext4 with 128-byte inodes: whole-second
// times); unmounted and removed on destruction.
class coarse_time_image {
 public:
  coarse_time_image(const std::vector<std::string>& mkfs, const std::string& mount_options)
      : scratch_(std::make_unique<scratch_dir>("upd-image", disk_scratch_root())) {
    if (!running_as_root()) {
      why_ = "mounting a loop image needs root";
      return;
    }
    image_ = *scratch_ / "fs.img";
    mount_ = *scratch_ / "mnt";
    ::mkdir(mount_.c_str(), 0755);
    if (run_process({"truncate", "-s", "64M", image_}).exit_code != 0) {
      why_ = "cannot create the image";
      return;
    }
    std::vector<std::string> cmd = mkfs;
    cmd.push_back(image_);
    const process_result f = run_process(cmd);
    if (f.exit_code != 0) {
      why_ = mkfs[0] + " failed or is missing (scripts/deps.sh installs it): " + f.err;
      return;
    }
    const process_result m = run_process({"mount", "-o", "loop," + mount_options, image_, mount_});
    if (m.exit_code != 0) {
      why_ = "loop mount not permitted here: " + m.err;
      return;
    }
    mounted_ = true;
  }
  ~coarse_time_image() {
    if (mounted_ && run_process({"umount", mount_}).exit_code != 0)
      run_process({"umount", "-l", mount_});
  }
  const std::optional<std::string>& unavailable() const { return why_; }
  std::string operator/(const std::string& rel) const { return mount_ + "/" + rel; }

 private:
  std::unique_ptr<scratch_dir> scratch_;  // holds the image and the mount point
  std::string image_, mount_;
  bool mounted_ = false;
  std::optional<std::string> why_;
};

TEST_F(update_mirror, whole_second_destination_skips_unchanged) {
  coarse_time_image fs({"mkfs.ext4", "-q", "-F", "-I", "128"}, "rw");
  if (fs.unavailable()) GTEST_SKIP() << *fs.unavailable();
  ASSERT_EQ(::mkdir((src_ + "/d").c_str(), 0755), 0);
  for (int i = 0; i < 20; ++i) write_file(src_ + "/d/n" + std::to_string(i), std::to_string(i));
  set_mtime(src_ + "/f", 1'600'000'000, 123'456'789);  // not a whole second
  const std::string dst = fs / "dst";
  treecopy::copy_report r = treecopy::copy_tree(src_, dst);
  ASSERT_TRUE(r.ok()) << describe(r);
  ASSERT_EQ(lstat_of(dst + "/f").st_mtim.tv_nsec, 0) << "the image keeps nanoseconds";
  r = update(src_, dst);
  EXPECT_TRUE(r.ok()) << describe(r);
  EXPECT_EQ(non_directories(r), 0u) << describe(r);
  EXPECT_EQ(r.skipped, 22u) << describe(r);
  // A change of size, and one of content and mtime (by a second) at the same size, are copied.
  write_file(src_ + "/other", "other, longer\n");
  write_file(src_ + "/d/n7", "x");
  set_mtime(src_ + "/d/n7", lstat_of(dst + "/d/n7").st_mtim.tv_sec + 1, 0);
  r = update(src_, dst);
  EXPECT_TRUE(r.ok()) << describe(r);
  EXPECT_EQ(r.copied[entry_kind::file], 2u) << describe(r);
  EXPECT_EQ(*faults::read_file(dst + "/d/n7"), "x");
  compare_options o = labelled();
  o.mtime = false;  // whole seconds there
  EXPECT_TRUE(same_trees(src_, dst, o));
  // A dry run decides the same without writing.
  r = update(src_, dst, true);
  EXPECT_EQ(non_directories(r), 0u) << describe(r);
}

}  // namespace
}  // namespace treecopy_test
