// Unit tests of the std::error_code calls of src/fs: each one on a real scratch tree, once where it
// succeeds (checked by reading the result back with another call) and once for each way the
// engine meets it failing (ENOENT, EEXIST, ELOOP through a symlink, ENOTDIR, ...), the error
// compared with std::errc and carried in std::generic_category(), as entry errors carry it.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "fs/place.hpp"
#include "fs/sys.hpp"
#include "scratch.hpp"

namespace treecopy_test {
namespace {

namespace fs = treecopy::fs;
using std::errc;

// The descriptor flags the engine's directories are opened with are the platform's own.
static_assert(fs::dir_open_flags == (O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));

class fs_calls : public testing::Test {
 protected:
  void SetUp() override {
    auto [fd, error] = fs::open(AT_FDCWD, dir_.path().c_str(), O_RDONLY | fs::dir_open_flags);
    ASSERT_FALSE(error) << error.message();
    root_ = std::move(fd);
  }

  int root() const { return root_.get(); }

  // A regular file root/name holding data.
  void make_file(const char* name, const std::string& data = {}, mode_t mode = 0644) {
    auto [fd, error] = fs::open(root(), name, O_WRONLY | O_CREAT | O_EXCL, mode);
    ASSERT_FALSE(error) << name << ": " << error.message();
    ASSERT_EQ(::write(fd.get(), data.data(), data.size()), static_cast<ssize_t>(data.size()));
    ASSERT_FALSE(fd.close());
  }

  struct stat lstat(const char* name) {
    struct stat st {};
    EXPECT_FALSE(fs::stat_at(root(), name, st, fs::follow::no)) << name;
    return st;
  }

  scratch_dir dir_{"fs"};
  fs::unique_fd root_;
};

// Whether error is the errno value e, in the category entry errors use.
testing::AssertionResult is(std::error_code error, errc e) {
  if (error == e && error.category() == std::generic_category()) return testing::AssertionSuccess();
  return testing::AssertionFailure()
         << error.category().name() << ":" << error.value() << " (" << error.message()
         << "), expected " << std::make_error_code(e).message();
}

TEST_F(fs_calls, flag_constants_are_fcntl_h_ones) {
  EXPECT_EQ(fs::dir_open_flags, O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  EXPECT_EQ(fs::dir_open_flags & O_DIRECT, 0);
  // What they do: a symlink to a directory is refused (the link itself is no directory: ENOTDIR,
  // where a symlink opened with O_NOFOLLOW alone gives ELOOP), a file is no directory.
  make_file("file");
  ASSERT_FALSE(fs::symlink_at(".", root(), "link"));
  EXPECT_TRUE(
      is(fs::open(root(), "link", O_RDONLY | fs::dir_open_flags).error, errc::not_a_directory));
  EXPECT_TRUE(fs::open(root(), "link", O_RDONLY | O_DIRECTORY));  // followed without O_NOFOLLOW
  EXPECT_TRUE(
      is(fs::open(root(), "file", O_RDONLY | fs::dir_open_flags).error, errc::not_a_directory));
}

TEST_F(fs_calls, error_codes_are_generic_category) {
  EXPECT_FALSE(fs::errno_code(0));
  EXPECT_TRUE(is(fs::errno_code(ENOENT), errc::no_such_file_or_directory));
  errno = EEXIST;
  EXPECT_TRUE(is(fs::checked(-1), errc::file_exists));
  EXPECT_FALSE(fs::checked(0));
}

TEST_F(fs_calls, open) {
  make_file("file", "data");
  fs::opened o = fs::open(root(), "file", O_RDONLY);
  ASSERT_TRUE(o) << o.error.message();
  EXPECT_GE(o.fd.get(), 0);
  EXPECT_EQ(::fcntl(o.fd.get(), F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);  // always close-on-exec

  fs::opened missing = fs::open(root(), "missing", O_RDONLY);
  EXPECT_FALSE(missing);
  EXPECT_FALSE(missing.fd);
  EXPECT_TRUE(is(missing.error, errc::no_such_file_or_directory));
  EXPECT_TRUE(
      is(fs::open(root(), "file", O_WRONLY | O_CREAT | O_EXCL, 0600).error, errc::file_exists));
  EXPECT_TRUE(is(fs::open(root(), "file/x", O_RDONLY).error, errc::not_a_directory));
  ASSERT_FALSE(fs::symlink_at("file", root(), "link"));
  EXPECT_TRUE(is(fs::open(root(), "link", O_RDONLY | O_NOFOLLOW).error,
                 errc::too_many_symbolic_link_levels));
  EXPECT_TRUE(fs::open(root(), "link", O_RDONLY));  // followed without O_NOFOLLOW
}

TEST_F(fs_calls, open_beneath) {
  ASSERT_FALSE(fs::make_dir_at(root(), "a", 0755));
  ASSERT_FALSE(fs::make_dir_at(root(), "a/b", 0755));
  ASSERT_FALSE(fs::symlink_at("a", root(), "to_a"));
  auto [fd, error] = fs::open_beneath(root(), "a/b");
  ASSERT_FALSE(error) << error.message();
  struct stat st {
  }, want = lstat("a/b");
  ASSERT_FALSE(fs::stat(fd.get(), st));
  EXPECT_EQ(st.st_ino, want.st_ino);
  EXPECT_TRUE(fs::open_beneath(root(), ""));  // root itself
  EXPECT_TRUE(is(fs::open_beneath(root(), "a/missing").error, errc::no_such_file_or_directory));
  // A symlink in any component is refused, unless links are followed.
  EXPECT_TRUE(is(fs::open_beneath(root(), "to_a/b").error, errc::too_many_symbolic_link_levels));
  EXPECT_TRUE(fs::open_beneath(root(), "to_a/b", fs::follow::yes));
}

TEST_F(fs_calls, stat_at_and_stat) {
  make_file("file", "12345");
  ASSERT_FALSE(fs::symlink_at("file", root(), "link"));
  ASSERT_FALSE(fs::symlink_at("missing", root(), "dangling"));
  struct stat st {};
  ASSERT_FALSE(fs::stat_at(root(), "link", st, fs::follow::no));
  EXPECT_TRUE(S_ISLNK(st.st_mode));
  ASSERT_FALSE(fs::stat_at(root(), "link", st, fs::follow::yes));
  EXPECT_TRUE(S_ISREG(st.st_mode));
  EXPECT_EQ(st.st_size, 5);
  const bool deref = false;  // from a bool, as a copy's options say
  ASSERT_FALSE(fs::stat_at(root(), "link", st, fs::follow{deref}));
  EXPECT_TRUE(S_ISLNK(st.st_mode));
  EXPECT_TRUE(
      is(fs::stat_at(root(), "dangling", st, fs::follow::yes), errc::no_such_file_or_directory));
  EXPECT_FALSE(fs::stat_at(root(), "dangling", st, fs::follow::no));
  EXPECT_TRUE(is(fs::stat_at(root(), "file/x", st, fs::follow::no), errc::not_a_directory));
  // A path from the working directory, as setup stats its arguments.
  EXPECT_FALSE(fs::stat_at(AT_FDCWD, (dir_ / "file").c_str(), st, fs::follow::no));

  ASSERT_FALSE(fs::stat(root(), st));
  EXPECT_TRUE(S_ISDIR(st.st_mode));
  EXPECT_TRUE(is(fs::stat(-1, st), errc::bad_file_descriptor));
  struct statfs sfs {};
  EXPECT_FALSE(fs::stat_fs(root(), sfs));
  EXPECT_TRUE(is(fs::stat_fs(-1, sfs), errc::bad_file_descriptor));
}

TEST_F(fs_calls, mount_id) {
  ASSERT_FALSE(fs::make_dir_at(root(), "d", 0755));
  auto sub = fs::open(root(), "d", O_RDONLY | fs::dir_open_flags);
  ASSERT_TRUE(sub);
  std::uint64_t a = 0, b = 0;
  std::error_code error = fs::mount_id(root(), a);
  if (error == errc::not_supported) GTEST_SKIP() << "the kernel has no mount ids (before 5.8)";
  ASSERT_FALSE(error) << error.message();
  ASSERT_FALSE(fs::mount_id(sub.fd.get(), b));
  EXPECT_EQ(a, b);  // one mount
  EXPECT_NE(a, 0u);
  EXPECT_TRUE(is(fs::mount_id(-1, a), errc::bad_file_descriptor));
}

TEST_F(fs_calls, access_at) {
  make_file("file", "", 0644);
  EXPECT_FALSE(fs::access_at(root(), "file", R_OK));
  EXPECT_TRUE(is(fs::access_at(root(), "missing", R_OK), errc::no_such_file_or_directory));
  // Not executable for anyone: refused even to root.
  EXPECT_TRUE(is(fs::access_at(root(), "file", X_OK), errc::permission_denied));
}

TEST_F(fs_calls, make_and_remove_directories) {
  EXPECT_FALSE(fs::make_dir_at(root(), "d", 0700));
  EXPECT_TRUE(S_ISDIR(lstat("d").st_mode));
  EXPECT_TRUE(is(fs::make_dir_at(root(), "d", 0700), errc::file_exists));
  EXPECT_TRUE(is(fs::make_dir_at(root(), "missing/d", 0700), errc::no_such_file_or_directory));
  make_file("d/file");
  EXPECT_TRUE(is(fs::remove_dir_at(root(), "d"), errc::directory_not_empty));
  EXPECT_TRUE(is(fs::remove_dir_at(root(), "d/file"), errc::not_a_directory));
  EXPECT_TRUE(is(fs::unlink_at(root(), "d"), errc::is_a_directory));
  EXPECT_FALSE(fs::unlink_at(root(), "d/file"));
  EXPECT_TRUE(is(fs::unlink_at(root(), "d/file"), errc::no_such_file_or_directory));
  EXPECT_FALSE(fs::remove_dir_at(root(), "d"));
  struct stat st {};
  EXPECT_TRUE(is(fs::stat_at(root(), "d", st, fs::follow::no), errc::no_such_file_or_directory));
}

TEST_F(fs_calls, link_at) {
  make_file("file");
  ASSERT_FALSE(fs::symlink_at("file", root(), "link"));
  EXPECT_FALSE(fs::link_at(root(), "file", root(), "hard"));
  EXPECT_EQ(lstat("file").st_nlink, 2u);
  EXPECT_EQ(lstat("hard").st_ino, lstat("file").st_ino);
  // The symlink itself gets the new name, not the file it points to.
  EXPECT_FALSE(fs::link_at(root(), "link", root(), "hard_link"));
  EXPECT_TRUE(S_ISLNK(lstat("hard_link").st_mode));
  EXPECT_TRUE(is(fs::link_at(root(), "file", root(), "hard"), errc::file_exists));
  EXPECT_TRUE(is(fs::link_at(root(), "missing", root(), "x"), errc::no_such_file_or_directory));
}

TEST_F(fs_calls, symlink_and_read_link_at) {
  EXPECT_FALSE(fs::symlink_at("some/target", root(), "link"));
  EXPECT_TRUE(is(fs::symlink_at("other", root(), "link"), errc::file_exists));
  std::string target = "garbage";
  EXPECT_FALSE(fs::read_link_at(root(), "link", target, 11));
  EXPECT_EQ(target, "some/target");
  EXPECT_FALSE(fs::read_link_at(root(), "link", target));  // no size known
  EXPECT_EQ(target, "some/target");
  // Longer than the first buffer and than the size given (the link changed since its stat).
  const std::string long_target(3000, 'x');
  ASSERT_FALSE(fs::symlink_at(long_target.c_str(), root(), "long"));
  EXPECT_FALSE(fs::read_link_at(root(), "long", target));
  EXPECT_EQ(target, long_target);
  EXPECT_FALSE(fs::read_link_at(root(), "long", target, 10));
  EXPECT_EQ(target, long_target);
  make_file("file");
  EXPECT_TRUE(is(fs::read_link_at(root(), "file", target), errc::invalid_argument));
  EXPECT_TRUE(is(fs::read_link_at(root(), "missing", target), errc::no_such_file_or_directory));
}

TEST_F(fs_calls, make_node_at) {
  EXPECT_FALSE(fs::make_node_at(root(), "fifo", S_IFIFO | 0640, 0));
  struct stat st = lstat("fifo");
  EXPECT_TRUE(S_ISFIFO(st.st_mode));
  EXPECT_EQ(st.st_mode & 07777 & ~0640u, 0u);  // 0640 less the umask
  EXPECT_TRUE(is(fs::make_node_at(root(), "fifo", S_IFIFO | 0600, 0), errc::file_exists));
  EXPECT_TRUE(is(fs::make_node_at(root(), "missing/fifo", S_IFIFO | 0600, 0),
                 errc::no_such_file_or_directory));
}

TEST_F(fs_calls, chown_and_chown_at) {
  make_file("file");
  ASSERT_FALSE(fs::symlink_at("file", root(), "link"));
  // Root gives entries away; anyone else can only "change" to their own ids.
  const uid_t uid = running_as_root() ? unprivileged_id : fs::effective_uid();
  const gid_t gid = running_as_root() ? unprivileged_id : fs::effective_gid();
  auto o = fs::open(root(), "file", O_RDONLY);
  ASSERT_TRUE(o);
  EXPECT_FALSE(fs::chown(o.fd.get(), uid, gid));
  EXPECT_EQ(lstat("file").st_uid, uid);
  EXPECT_EQ(lstat("file").st_gid, gid);
  EXPECT_TRUE(is(fs::chown(-1, uid, gid), errc::bad_file_descriptor));
  // chown_at changes the symlink itself.
  EXPECT_FALSE(fs::chown_at(root(), "link", fs::effective_uid(), fs::effective_gid()));
  EXPECT_EQ(lstat("link").st_uid, fs::effective_uid());
  EXPECT_EQ(lstat("file").st_uid, uid);
  EXPECT_TRUE(is(fs::chown_at(root(), "missing", uid, gid), errc::no_such_file_or_directory));
}

TEST_F(fs_calls, chmod_and_chmod_at) {
  make_file("file", "", 0600);
  ASSERT_FALSE(fs::symlink_at("file", root(), "link"));
  auto o = fs::open(root(), "file", O_RDONLY);
  ASSERT_TRUE(o);
  EXPECT_FALSE(fs::chmod(o.fd.get(), 0640));
  EXPECT_EQ(lstat("file").st_mode & 07777, 0640u);
  EXPECT_TRUE(is(fs::chmod(-1, 0640), errc::bad_file_descriptor));
  EXPECT_FALSE(fs::chmod_at(root(), "file", 0604));
  EXPECT_EQ(lstat("file").st_mode & 07777, 0604u);
  // Never through a symlink: Linux links have no mode of their own.
  EXPECT_TRUE(is(fs::chmod_at(root(), "link", 0777), errc::operation_not_supported));
  EXPECT_EQ(lstat("file").st_mode & 07777, 0604u);
  EXPECT_TRUE(is(fs::chmod_at(root(), "missing", 0600), errc::no_such_file_or_directory));
}

TEST_F(fs_calls, set_times_and_set_times_at) {
  make_file("file");
  ASSERT_FALSE(fs::symlink_at("file", root(), "link"));
  const struct timespec times[2] = {{1000, 1}, {2000, 2}};
  auto o = fs::open(root(), "file", O_RDONLY);
  ASSERT_TRUE(o);
  EXPECT_FALSE(fs::set_times(o.fd.get(), times));
  struct stat st = lstat("file");
  EXPECT_EQ(st.st_atim.tv_sec, 1000);
  EXPECT_EQ(st.st_mtim.tv_sec, 2000);
  EXPECT_EQ(st.st_mtim.tv_nsec, 2);
  EXPECT_TRUE(is(fs::set_times(-1, times), errc::bad_file_descriptor));
  // set_times_at sets the symlink's own times.
  const struct timespec link_times[2] = {{0, UTIME_OMIT}, {3000, 3}};
  EXPECT_FALSE(fs::set_times_at(root(), "link", link_times));
  EXPECT_EQ(lstat("link").st_mtim.tv_sec, 3000);
  EXPECT_EQ(lstat("file").st_mtim.tv_sec, 2000);
  EXPECT_TRUE(is(fs::set_times_at(root(), "missing", times), errc::no_such_file_or_directory));
}

TEST_F(fs_calls, truncate_advise_pread_full) {
  make_file("file", "0123456789");
  auto o = fs::open(root(), "file", O_RDWR);
  ASSERT_TRUE(o);
  const int fd = o.fd.get();
  EXPECT_FALSE(fs::advise(fd, POSIX_FADV_SEQUENTIAL));
  EXPECT_TRUE(is(fs::advise(-1, POSIX_FADV_SEQUENTIAL), errc::bad_file_descriptor));

  char buf[32] = {};
  std::size_t got = 99;
  EXPECT_FALSE(fs::pread_full(fd, buf, 4, 3, got));
  EXPECT_EQ(got, 4u);
  EXPECT_EQ(std::string(buf, got), "3456");
  EXPECT_FALSE(fs::pread_full(fd, buf, sizeof buf, 6, got));  // stops at the end of the file
  EXPECT_EQ(std::string(buf, got), "6789");
  EXPECT_TRUE(is(fs::pread_full(root(), buf, sizeof buf, 0, got), errc::is_a_directory));

  EXPECT_FALSE(fs::truncate(fd, 4));
  EXPECT_EQ(lstat("file").st_size, 4);
  EXPECT_FALSE(fs::truncate(fd, 1 << 20));  // grows with a hole
  EXPECT_EQ(lstat("file").st_size, 1 << 20);
  EXPECT_TRUE(is(fs::truncate(fd, -1), errc::invalid_argument));
  EXPECT_TRUE(is(fs::truncate(-1, 0), errc::bad_file_descriptor));
}

TEST_F(fs_calls, close) {
  make_file("file");
  auto o = fs::open(root(), "file", O_RDONLY);
  ASSERT_TRUE(o);
  const int fd = o.fd.release();
  EXPECT_FALSE(fs::close(fd));
  EXPECT_TRUE(is(fs::close(fd), errc::bad_file_descriptor));

  auto owned = fs::open(root(), "file", O_RDONLY);
  ASSERT_TRUE(owned);
  EXPECT_FALSE(owned.fd.close());
  EXPECT_FALSE(owned.fd);
  EXPECT_FALSE(owned.fd.close());  // nothing left to close
}

TEST_F(fs_calls, process_ids_and_umask) {
  EXPECT_EQ(fs::effective_uid(), ::geteuid());
  EXPECT_EQ(fs::effective_gid(), ::getegid());
  const mode_t old = ::umask(027);  // this test's process only: no other thread reads it
  mode_t mask = 0;
  const bool known = fs::read_umask(mask);
  ::umask(old);
  ASSERT_TRUE(known) << "no Umask line in /proc/self/status";
  EXPECT_EQ(mask, 027u);
}

TEST_F(fs_calls, read_dir) {
  make_file("b");
  make_file("a");
  ASSERT_FALSE(fs::make_dir_at(root(), "d", 0755));
  std::string names;
  std::vector<fs::dir_entry> entries;
  ASSERT_FALSE(fs::read_dir(root(), names, entries));
  std::vector<std::string> seen;
  for (const auto& e : entries) seen.emplace_back(names.c_str() + e.name_offset);
  std::sort(seen.begin(), seen.end());
  EXPECT_EQ(seen, (std::vector<std::string>{"a", "b", "d"}));  // without "." and ".."
  auto file = fs::open(root(), "a", O_RDONLY);
  ASSERT_TRUE(file);
  EXPECT_TRUE(is(fs::read_dir(file.fd.get(), names, entries), errc::not_a_directory));
}

TEST_F(fs_calls, clone) {
  make_file("src", "data");
  auto src = fs::open(root(), "src", O_RDONLY);
  auto dst = fs::open(root(), "dst", O_WRONLY | O_CREAT | O_EXCL, 0600);
  ASSERT_TRUE(src && dst);
  std::error_code error = fs::clone(src.fd.get(), dst.fd.get());
  // tmpfs and ext4 cannot share extents; btrfs and XFS can.
  if (error)
    EXPECT_TRUE(fs::clone_unsupported(error)) << error.message();
  else
    EXPECT_EQ(lstat("dst").st_size, 4);
  EXPECT_TRUE(is(fs::clone(-1, dst.fd.get()), errc::bad_file_descriptor));
  EXPECT_FALSE(fs::clone_unsupported(fs::errno_code(EBADF)));
  EXPECT_TRUE(fs::clone_unsupported(fs::errno_code(EXDEV)));
}

TEST_F(fs_calls, copy_result_code) {
  fs::copy_control ctl;
  fs::copy_result r = fs::copy_range(-1, -1, 0, 10, false, ctl);
  EXPECT_TRUE(is(r.code(), errc::bad_file_descriptor));
  EXPECT_FALSE(fs::copy_result{}.code());
}

// Sets user.name=value on root/file, or says why the file system cannot.
std::error_code set_user_xattr(int dirfd, const char* file, const char* name, const char* value) {
  auto o = fs::open(dirfd, file, O_RDONLY);
  if (!o) return o.error;
  return fs::checked(::fsetxattr(o.fd.get(), name, value, std::strlen(value), 0));
}

TEST_F(fs_calls, xattrs_by_descriptor) {
  make_file("src");
  make_file("dst");
  if (std::error_code e = set_user_xattr(root(), "src", "user.a", "1"); e == errc::not_supported)
    GTEST_SKIP() << "the scratch file system has no user attributes";
  ASSERT_FALSE(set_user_xattr(root(), "dst", "user.old", "x"));
  auto src = fs::open(root(), "src", O_RDONLY);
  auto dst = fs::open(root(), "dst", O_RDONLY);
  ASSERT_TRUE(src && dst);

  std::size_t size = 0;
  EXPECT_FALSE(fs::xattr_size(src.fd.get(), "user.a", size));
  EXPECT_EQ(size, 1u);
  EXPECT_TRUE(is(fs::xattr_size(src.fd.get(), "user.none", size), errc::no_message_available));
  EXPECT_TRUE(is(fs::xattr_size(-1, "user.a", size), errc::bad_file_descriptor));

  fs::xattr_list list;
  ASSERT_FALSE(fs::get_xattrs(src.fd.get(), list));
  ASSERT_EQ(list.items.size(), 1u);
  EXPECT_EQ(list.items[0].first, "user.a");
  EXPECT_EQ(list.items[0].second, "1");
  EXPECT_TRUE(is(fs::get_xattrs(-1, list), errc::bad_file_descriptor));

  EXPECT_FALSE(fs::copy_xattrs(src.fd.get(), dst.fd.get()));
  EXPECT_FALSE(fs::prune_xattrs(dst.fd.get(), list));  // removes user.old, keeps user.a
  fs::xattr_list now;
  ASSERT_FALSE(fs::get_xattrs(dst.fd.get(), now));
  EXPECT_EQ(now.items, list.items);
  list.items.emplace_back("user.b", "2");
  EXPECT_FALSE(fs::set_xattrs(dst.fd.get(), list));
  now.items.clear();
  ASSERT_FALSE(fs::get_xattrs(dst.fd.get(), now));
  EXPECT_EQ(now.items.size(), 2u);
  EXPECT_TRUE(is(fs::set_xattrs(-1, list), errc::bad_file_descriptor));
  EXPECT_TRUE(is(fs::prune_xattrs(-1, list), errc::bad_file_descriptor));

  // Which side failed.
  fs::copy_error read = fs::copy_xattrs(-1, dst.fd.get());
  EXPECT_TRUE(is(read.error, errc::bad_file_descriptor));
  EXPECT_TRUE(read.read_side);
  fs::copy_error write = fs::copy_xattrs(src.fd.get(), -1);
  EXPECT_TRUE(is(write.error, errc::bad_file_descriptor));
  EXPECT_FALSE(write.read_side);
}

TEST_F(fs_calls, xattrs_by_name) {
  make_file("src");
  make_file("dst");
  if (std::error_code e = set_user_xattr(root(), "src", "user.a", "1"); e == errc::not_supported)
    GTEST_SKIP() << "the scratch file system has no user attributes";
  ASSERT_FALSE(set_user_xattr(root(), "src", "user.b", "2"));
  ASSERT_FALSE(set_user_xattr(root(), "dst", "user.a", "old"));
  ASSERT_FALSE(set_user_xattr(root(), "dst", "user.gone", "x"));

  EXPECT_FALSE(fs::sync_xattrs_at(root(), "src", root(), "dst"));
  auto src = fs::open(root(), "src", O_RDONLY);
  auto dst = fs::open(root(), "dst", O_RDONLY);
  ASSERT_TRUE(src && dst);
  fs::xattr_list want, have;
  ASSERT_FALSE(fs::get_xattrs(src.fd.get(), want));
  ASSERT_FALSE(fs::get_xattrs(dst.fd.get(), have));
  EXPECT_EQ(have.items.size(), 2u);
  for (const auto& item : want.items)
    EXPECT_NE(std::find(have.items.begin(), have.items.end(), item), have.items.end())
        << item.first;

  make_file("copy");
  EXPECT_FALSE(fs::copy_xattrs_at(root(), "src", root(), "copy"));
  auto copy = fs::open(root(), "copy", O_RDONLY);
  fs::xattr_list copied;
  ASSERT_FALSE(fs::get_xattrs(copy.fd.get(), copied));
  EXPECT_EQ(copied.items.size(), 2u);

  // A destination that is gone fails on the destination's side; a source that is gone has
  // nothing to copy.
  fs::copy_error e = fs::copy_xattrs_at(root(), "src", root(), "missing");
  EXPECT_TRUE(is(e.error, errc::no_such_file_or_directory));
  EXPECT_FALSE(e.read_side);
  e = fs::sync_xattrs_at(root(), "src", root(), "missing");
  EXPECT_TRUE(is(e.error, errc::no_such_file_or_directory));
  EXPECT_FALSE(e.read_side);
  EXPECT_FALSE(fs::copy_xattrs_at(root(), "missing", root(), "dst"));
}

TEST(fs_place, mountinfo_escapes_are_undone) {
  EXPECT_EQ(fs::unescape_mountinfo("/a\\040b\\011c\\012d\\134e"), "/a b\tc\nd\\e");
  EXPECT_EQ(fs::unescape_mountinfo("/plain"), "/plain");
}

TEST(fs_place, within_compares_whole_components_on_one_device) {
  const fs::place top{"8:1", "/"}, a{"8:1", "/a"}, ab{"8:1", "/a/b"}, abc{"8:1", "/abc"};
  EXPECT_TRUE(fs::place_within(ab, a));
  EXPECT_TRUE(fs::place_within(a, a));
  EXPECT_TRUE(fs::place_within(abc, top));
  EXPECT_FALSE(fs::place_within(abc, a));  // "/abc" is not below "/a"
  EXPECT_FALSE(fs::place_within(a, ab));
  EXPECT_FALSE(fs::place_within(fs::place{"8:2", "/a/b"}, a));
}

TEST(fs_place, a_directory_and_its_subdirectory_lie_one_within_the_other) {
  scratch_dir tmp("fs-place");
  const int top = ::open(tmp.path().c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  ASSERT_GE(top, 0);
  ASSERT_EQ(::mkdirat(top, "sub", 0755), 0);
  const int sub = ::openat(top, "sub", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  ASSERT_GE(sub, 0);
  auto p_top = fs::place_of(top), p_sub = fs::place_of(sub);
  ::close(top);
  ::close(sub);
  if (!p_top || !p_sub) GTEST_SKIP() << "no statx mount id or /proc/self/mountinfo here";
  EXPECT_EQ(p_sub->dev, p_top->dev);
  EXPECT_EQ(p_sub->path, p_top->path + (p_top->path == "/" ? "" : "/") + "sub");
  EXPECT_TRUE(fs::place_within(*p_sub, *p_top));
  EXPECT_FALSE(fs::place_within(*p_top, *p_sub));
}

}  // namespace
}  // namespace treecopy_test
