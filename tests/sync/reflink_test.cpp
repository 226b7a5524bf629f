// --reflink on a file system that can clone: an XFS image (mkfs.xfs -m reflink=1) loop-mounted for
// the test. --reflink=always and auto share extents (filefrag -v shows "shared", free space
// barely moves), never does not; always onto a file system that cannot clone fails clearly. One
// test measures and prints the time to clone a tree holding 4 GiB of data.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

#include "copiers.hpp"
#include "scratch.hpp"
#include "sync_support.hpp"
#include "tree_assert.hpp"
#include "tree_maker.hpp"
#include "tree_walk.hpp"

namespace treecopy_test {
namespace {

constexpr std::uint64_t mib = 1024 * 1024;

bool have_program(const char* name) {
  for (const char* dir : {"/usr/sbin", "/sbin", "/usr/bin", "/bin"})
    if (::access((std::string(dir) + "/" + name).c_str(), X_OK) == 0) return true;
  return false;
}

// Where images go: a disk-backed directory, so that gigabytes of test data do not sit in memory.
std::string image_dir() {
  if (const char* env = std::getenv("TREECOPY_TEST_IMAGE_DIR"); env && *env) return env;
  return "/var/tmp";
}

// A sparse image file formatted as XFS with reflink support and loop-mounted; unmounted and
// removed on destruction. unavailable() says why not, when it could not be set up.
class xfs_image {
 public:
  explicit xfs_image(std::uint64_t size_mib) : scratch_(std::make_unique<scratch_dir>("reflink")) {
    if (!running_as_root()) {
      why_ = "mounting a loop image needs root";
      return;
    }
    for (const char* p : {"mkfs.xfs", "mount", "umount", "filefrag", "xfs_io"})
      if (!have_program(p)) {
        why_ = std::string(p) + " is not installed (packages xfsprogs, e2fsprogs, mount)";
        return;
      }
    image_ = image_dir() + "/treecopy-reflink-" + std::to_string(::getpid()) + "-" +
             std::to_string(counter_++) + ".img";
    mount_ = *scratch_ / "mnt";
    ::mkdir(mount_.c_str(), 0755);
    const process_result t =
        run_process({"truncate", "-s", std::to_string(size_mib) + "M", image_});
    if (t.exit_code != 0) {
      why_ = "cannot create the image in " + image_dir() + ": " + t.err;
      return;
    }
    const process_result f = run_process({"mkfs.xfs", "-q", "-f", "-m", "reflink=1", image_});
    if (f.exit_code != 0) {
      why_ = "mkfs.xfs -m reflink=1 failed: " + f.err;
      return;
    }
    const process_result m = run_process({"mount", "-o", "loop", image_, mount_});
    if (m.exit_code != 0) {
      why_ = "loop mount not permitted here: " + m.err;
      return;
    }
    mounted_ = true;
  }

  ~xfs_image() {
    if (mounted_ && run_process({"umount", mount_}).exit_code != 0)
      run_process({"umount", "-l", mount_});
    if (!image_.empty()) ::unlink(image_.c_str());
  }

  const std::optional<std::string>& unavailable() const { return why_; }
  std::string operator/(const std::string& rel) const { return mount_ + "/" + rel; }

  /// Bytes in use on the mounted file system, after writing everything out.
  std::uint64_t used_bytes() const {
    run_process({"sync", "-f", mount_});
    struct statvfs v {};
    if (::statvfs(mount_.c_str(), &v) != 0) throw_errno("statvfs " + mount_);
    return static_cast<std::uint64_t>(v.f_blocks - v.f_bfree) * v.f_frsize;
  }

 private:
  static inline int counter_ = 0;
  std::unique_ptr<scratch_dir> scratch_;  // holds the mount point
  std::string image_, mount_;
  bool mounted_ = false;
  std::optional<std::string> why_;
};

// Writes size_mib of real data (not preallocated extents, which XFS does not share) with xfs_io.
void write_data(const std::string& path, std::uint64_t size_mib, int pattern) {
  const process_result r = run_process(
      {"xfs_io", "-f", "-c",
       "pwrite -q -S " + std::to_string(pattern) + " -b 4m 0 " + std::to_string(size_mib) + "m",
       path});
  if (r.exit_code != 0) throw std::runtime_error("xfs_io pwrite failed\n" + r.describe());
}

// Whether filefrag -v reports a shared extent in the file.
bool has_shared_extent(const std::string& path, std::string& report) {
  const process_result r = run_process({"filefrag", "-v", path});
  report = r.out + r.err;
  return r.exit_code == 0 && r.out.find("shared") != std::string::npos;
}

process_result tc(std::vector<std::string> args) {
  args.insert(args.begin(), {"--progress=none", "-q"});
  return run_treecopy(args);
}

void build_small_tree(const std::string& root) {
  tree_maker m(root, 1101);
  m.dir("d", 0750);
  for (int i = 0; i < 50; ++i) m.file("d/small" + std::to_string(i), m.random_bytes(100 + 37 * i));
  m.symlink("link", "d/small1");
  m.finish();
}

class reflink_xfs_test : public testing::Test {
 protected:
  void SetUp() override {
    if (image_.unavailable()) GTEST_SKIP() << *image_.unavailable();
    build_small_tree(image_ / "src");
    write_data(image_ / "src/big1", 64, 0x11);
    write_data(image_ / "src/d/big2", 32, 0x22);
  }
  xfs_image image_{1024};
  const std::uint64_t data_ = 96 * mib;
};

TEST_F(reflink_xfs_test, always_shares_extents) {
  const std::uint64_t before = image_.used_bytes();
  const process_result r = tc({"--reflink=always", image_ / "src", image_ / "dst"});
  ASSERT_TRUE(exited_with(r, 0));
  const std::uint64_t grew = image_.used_bytes() - before;
  std::string frag;
  EXPECT_TRUE(has_shared_extent(image_ / "dst/big1", frag)) << frag;
  EXPECT_TRUE(has_shared_extent(image_ / "dst/d/big2", frag)) << frag;
  EXPECT_LT(grew, data_ / 10) << "a clone of " << data_ / mib << " MiB used " << grew / mib
                              << " MiB";
  EXPECT_TRUE(same_trees(image_ / "src", image_ / "dst"));
}

TEST_F(reflink_xfs_test, auto_shares_extents) {
  const process_result r = tc({"--reflink=auto", image_ / "src", image_ / "dst"});
  ASSERT_TRUE(exited_with(r, 0));
  std::string frag;
  EXPECT_TRUE(has_shared_extent(image_ / "dst/big1", frag)) << frag;
  EXPECT_TRUE(same_trees(image_ / "src", image_ / "dst"));
}

TEST_F(reflink_xfs_test, never_does_not_share) {
  const std::uint64_t before = image_.used_bytes();
  const process_result r = tc({"--reflink=never", image_ / "src", image_ / "dst"});
  ASSERT_TRUE(exited_with(r, 0));
  const std::uint64_t grew = image_.used_bytes() - before;
  std::string frag;
  EXPECT_FALSE(has_shared_extent(image_ / "dst/big1", frag)) << frag;
  EXPECT_FALSE(has_shared_extent(image_ / "src/big1", frag)) << frag;
  EXPECT_GE(grew, data_ * 9 / 10) << "a full copy of " << data_ / mib << " MiB used " << grew / mib
                                  << " MiB";
  // A byte copy reads the source, and under relatime that moves the atime of files whose atime is
  // not after their mtime (as here): the copy keeps the atime the source had before, as cp does.
  compare_options no_atime;
  no_atime.atime = false;
  EXPECT_TRUE(same_trees(image_ / "src", image_ / "dst", no_atime));
}

// --merge into a DST that holds another file system's mount: cloning fails there (EXDEV), which
// must not stop the files outside it from being cloned. -j 1, and the mount's directory is listed
// between others, so that some of them are copied after it whichever end the worker starts from.
TEST_F(reflink_xfs_test, merge_keeps_cloning_outside_a_mount_in_dst) {
  const std::string src = image_ / "msrc", dst = image_ / "mdst";
  std::vector<std::string> dirs;
  for (int i = 0; i < 10; ++i) dirs.push_back(i == 5 ? "mnt" : "d" + std::to_string(i));
  ASSERT_EQ(::mkdir(src.c_str(), 0755), 0);
  for (std::size_t i = 0; i < dirs.size(); ++i) {
    ASSERT_EQ(::mkdir((src + "/" + dirs[i]).c_str(), 0755), 0);
    write_data(src + "/" + dirs[i] + "/data", 1, 0x30 + static_cast<int>(i));
  }
  ASSERT_EQ(::mkdir(dst.c_str(), 0755), 0);
  ASSERT_EQ(::mkdir((dst + "/mnt").c_str(), 0755), 0);
  const process_result m =
      run_process({"mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", dst + "/mnt"});
  ASSERT_TRUE(exited_with(m, 0));
  struct unmount {
    std::string path;
    ~unmount() { run_process({"umount", path}); }
  } guard{dst + "/mnt"};

  const process_result r = tc({"--merge", "--reflink=auto", "-j", "1", src, dst});
  ASSERT_TRUE(exited_with(r, 0));
  for (const std::string& d : dirs) {
    if (d == "mnt") continue;
    std::string frag;
    EXPECT_TRUE(has_shared_extent(dst + "/" + d + "/data", frag)) << d << "\n" << frag;
  }
  // mnt/data was copied byte by byte, which moved its source's atime (see never_does_not_share).
  compare_options no_atime;
  no_atime.atime = false;
  EXPECT_TRUE(same_trees(src, dst, no_atime));
}

// From XFS to tmpfs no clone is possible: always fails each non-empty file and names it.
TEST_F(reflink_xfs_test, always_across_file_systems_fails_clearly) {
  scratch_dir s("reflink-x");
  const process_result r = tc({"--reflink=always", image_ / "src", s / "dst"});
  EXPECT_TRUE(exited_with(r, 1));
  EXPECT_NE(r.err.find(s / "dst/big1"), std::string::npos) << r.describe();
  EXPECT_FALSE(entry_exists(s / "dst/big1")) << "a file that could not be cloned is left in DST";
}

// tmpfs cannot clone at all: --reflink=always fails (exit 1) and names the file, auto and never
// copy.
TEST(reflink_tmpfs_test, always_onto_tmpfs_fails_clearly) {
  scratch_dir s("reflink-tmpfs");
  tree_maker m(s / "src", 1102);
  m.file("data", m.random_bytes(100000));
  m.file("empty", "");
  m.finish();
  const process_result r = tc({"--reflink=always", s / "src", s / "dst"});
  EXPECT_TRUE(exited_with(r, 1));
  EXPECT_NE(r.err.find(s / "dst/data"), std::string::npos) << "the message names the file\n"
                                                           << r.describe();
  EXPECT_FALSE(entry_exists(s / "dst/data")) << "a file that could not be cloned is left in DST";
  for (const char* mode : {"--reflink=auto", "--reflink=never"}) {
    const std::string dst = s / (std::string("dst_") + (mode + 10));
    EXPECT_TRUE(exited_with(tc({mode, s / "src", dst}), 0)) << mode;
    EXPECT_TRUE(same_trees(s / "src", dst)) << mode;
  }
}

// Measured and printed, not asserted: the time to clone a tree with 4 GiB of data (4 files of
// 1 GiB and 2,000 small ones), and for comparison the time to copy it with --reflink=never.
TEST(reflink_timing_test, clone_tree_with_4_gib) {
  xfs_image image(12 * 1024);
  if (image.unavailable()) GTEST_SKIP() << *image.unavailable();
  tree_maker m(image / "src", 1103);
  for (int d = 0; d < 20; ++d) {
    m.dir("d" + std::to_string(d));
    for (int i = 0; i < 100; ++i)
      m.file("d" + std::to_string(d) + "/f" + std::to_string(i), m.random_bytes(4096 + 13 * i));
  }
  m.finish();
  const auto w0 = std::chrono::steady_clock::now();
  for (int i = 0; i < 4; ++i) write_data(image / ("src/big" + std::to_string(i)), 1024, 0x30 + i);
  run_process({"sync"});
  const double write_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - w0).count();
  std::printf("wrote 4 GiB of data in %.1f s\n", write_s);

  for (const char* mode : {"--reflink=always", "--reflink=never"}) {
    const std::string dst = image / (std::string("dst_") + (mode + 10));
    const auto t0 = std::chrono::steady_clock::now();
    const process_result r = tc({mode, image / "src", dst});
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    EXPECT_TRUE(exited_with(r, 0)) << mode;
    std::printf(
        "treecopy --progress=none -q %s SRC DST (4 GiB in 4 files + 2,000 small files, XFS "
        "loop image): %.3f s\n",
        mode, s);
    RecordProperty(std::string("seconds_") + (mode + 10), std::to_string(s));
  }
}

}  // namespace
}  // namespace treecopy_test
