// A destination that fills up (bytes or inodes) and a read-only destination file system: every
// failure reported with its path and the system's reason, exit code 1 (or 2 before any work), no
// file left under its final name with partial data or without its final mtime, nothing that was
// there before damaged.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <set>

#include "fault_support.hpp"
#include "scratch.hpp"
#include "tree_assert.hpp"
#include "tree_walk.hpp"

namespace treecopy_test::faults {
namespace {

const std::string enospc_text = "No space left on device";
const std::string erofs_text = "Read-only file system";

// Gives a file a fixed past mtime, so that "has its final mtime" is a real check (a file that was
// created but not finished carries the time of the copy instead).
void age(const std::string& path, long seconds) {
  const timespec times[2] = {{seconds, 123456789}, {seconds, 987654321}};
  ASSERT_EQ(::utimensat(AT_FDCWD, path.c_str(), times, AT_SYMLINK_NOFOLLOW), 0) << path;
}

// SRC of about 7 MiB: 24 files of 256 KiB, 12 of 64 KiB, 300 small ones, and 60 of 20 KiB and
// of less than 8 KiB mixed, in 4 directories (small and mixed files are copied in batches where
// the machine allows io_uring; a batch may fill the disk in any of its steps).
void build_source(const std::string& src) {
  ASSERT_EQ(::mkdir(src.c_str(), 0755), 0);
  unsigned seed = 1;
  for (const char* dir : {"big", "mid", "small", "mixed"}) {
    ASSERT_EQ(::mkdir((src + "/" + dir).c_str(), 0755), 0);
  }
  for (int i = 0; i < 24; ++i) {
    const std::string p = src + "/big/f" + std::to_string(i);
    write_pattern_file(p, 256 * 1024, seed++);
    age(p, 1000000000 + i);
  }
  for (int i = 0; i < 12; ++i) {
    const std::string p = src + "/mid/f" + std::to_string(i);
    write_pattern_file(p, 64 * 1024 + 17, seed++);
    age(p, 1100000000 + i);
  }
  for (int i = 0; i < 300; ++i) {
    const std::string p = src + "/small/f" + std::to_string(i);
    write_pattern_file(p, 1 + (i * 37) % 3000, seed++);
    age(p, 1200000000 + i);
  }
  for (int i = 0; i < 60; ++i) {
    const std::string p = src + "/mixed/f" + std::to_string(i);
    write_pattern_file(p, i % 2 ? 20000 + i : 1 + (i * 53) % 8000, seed++);
    age(p, 1300000000 + i);
  }
}

// Every source file absent from dst must be named by an error line, itself or through the
// directory that could not be created.
std::vector<std::string> unreported_missing(const std::string& src, const std::string& dst,
                                            const std::vector<error_line>& errors) {
  const auto have = regular_files(dst);
  const std::set<std::string> present(have.begin(), have.end());
  std::vector<std::string> out;
  for (const std::string& rel : regular_files(src)) {
    if (present.count(rel)) continue;
    const std::string dir = rel.substr(0, rel.find('/'));
    const bool named =
        std::any_of(errors.begin(), errors.end(),
                    [&](const error_line& e) {
                      return e.path.size() >= rel.size() &&
                             e.path.compare(e.path.size() - rel.size(), rel.size(), rel) == 0;
                    }) ||
        std::any_of(errors.begin(), errors.end(),
                    [&](const error_line& e) { return e.path == dst + "/" + dir; });
    if (!named) out.push_back(rel);
  }
  return out;
}

class full_destination_test : public testing::TestWithParam<int> {
 protected:
  void SetUp() override {
    if (auto why = mount_unavailable()) GTEST_SKIP() << *why;
    build_source(src_);
  }

  void expect_reported_and_complete(const process_result& r, const std::string& dst) {
    ASSERT_FALSE(hung(r)) << "the copy did not finish\n" << r.describe();
    EXPECT_TRUE(exited_with(r, 1));
    std::vector<std::string> malformed;
    const auto errors = parse_error_lines(r.err, &malformed);
    EXPECT_TRUE(malformed.empty()) << "unparsable error line: " << malformed.front();
    EXPECT_FALSE(errors.empty()) << r.describe();
    for (const error_line& e : errors) {
      EXPECT_EQ(e.reason, enospc_text) << e.op << " '" << e.path << "'";
      EXPECT_EQ(e.path.rfind(dst, 0), 0u)
          << "a write-side failure names the destination: " << e.path;
    }
    std::size_t complete = 0;
    const auto problems = incomplete_files(src_, dst, &complete);
    EXPECT_TRUE(problems.empty()) << problems.size()
                                  << " damaged files, first: " << problems.front();
    EXPECT_GT(complete, 0u) << "nothing fitted at all";
    const auto missing = unreported_missing(src_, dst, errors);
    EXPECT_TRUE(missing.empty()) << missing.size()
                                 << " files silently missing, first: " << missing.front() << "\n"
                                 << r.describe();
  }

  scratch_dir scratch_{"enospc"};
  std::string src_ = scratch_ / "src";
};

TEST_P(full_destination_test, bytes_run_out) {
  tmpfs_mount mnt(scratch_ / "mnt", "size=2m,mode=755");
  const std::string dst = mnt.path() + "/dst";
  const auto r = run_treecopy_limited({"-q", "-j", std::to_string(GetParam()), src_, dst}, 120);
  expect_reported_and_complete(r, dst);
}

TEST_P(full_destination_test, inodes_run_out) {
  tmpfs_mount mnt(scratch_ / "mnt", "size=64m,nr_inodes=120,mode=755");
  const std::string dst = mnt.path() + "/dst";
  const auto r = run_treecopy_limited({"-q", "-j", std::to_string(GetParam()), src_, dst}, 120);
  expect_reported_and_complete(r, dst);
}

// A merge into a destination that is already nearly full must not damage what was there.
TEST_P(full_destination_test, merge_keeps_existing_files_intact) {
  tmpfs_mount mnt(scratch_ / "mnt", "size=3m,mode=755");
  const std::string dst = mnt.path() + "/dst";
  ASSERT_EQ(::mkdir(dst.c_str(), 0755), 0);
  write_pattern_file(dst + "/keep_me", 1024 * 1024, 99);
  const auto before = read_file(dst + "/keep_me");
  const auto r =
      run_treecopy_limited({"-q", "--merge", "-j", std::to_string(GetParam()), src_, dst}, 120);
  ASSERT_FALSE(hung(r)) << r.describe();
  EXPECT_TRUE(exited_with(r, 1));
  EXPECT_EQ(read_file(dst + "/keep_me"), before) << "an unrelated destination file changed";
  EXPECT_TRUE(incomplete_files(src_, dst).size() <= 1u) << "only keep_me may lack a source";
}

INSTANTIATE_TEST_SUITE_P(jobs, full_destination_test, testing::Values(1, 4),
                         [](const auto& info) { return "j" + std::to_string(info.param); });

class read_only_destination_test : public testing::Test {
 protected:
  void SetUp() override {
    if (auto why = mount_unavailable()) GTEST_SKIP() << *why;
    build_source(src_);
    mnt_.emplace(scratch_ / "mnt", "size=16m,mode=755");
    ASSERT_EQ(::mkdir((mnt_->path() + "/existing").c_str(), 0755), 0);
    write_pattern_file(mnt_->path() + "/existing/old", 4096, 7);
    mnt_->remount(true, "size=16m");
    before_ = snapshot_tree(mnt_->path());
  }

  void TearDown() override {
    if (mnt_) {
      EXPECT_EQ(snapshot_tree(mnt_->path()), before_) << "the read-only file system changed";
    }
  }

  void expect_erofs(const process_result& r) {
    ASSERT_FALSE(hung(r)) << r.describe();
    EXPECT_TRUE(r.exit_code == 1 || r.exit_code == 2) << r.describe();
    EXPECT_NE(r.err.find(erofs_text), std::string::npos) << r.describe();
    std::vector<std::string> malformed;
    for (const error_line& e : parse_error_lines(r.err, &malformed)) {
      EXPECT_EQ(e.reason, erofs_text);
    }
    EXPECT_TRUE(malformed.empty());
  }

  scratch_dir scratch_{"erofs"};
  std::string src_ = scratch_ / "src";
  std::optional<tmpfs_mount> mnt_;
  std::vector<std::string> before_;
};

TEST_F(read_only_destination_test, new_destination) {
  const auto r = run_treecopy_limited({"-q", src_, mnt_->path() + "/dst"}, 60);
  expect_erofs(r);
}

TEST_F(read_only_destination_test, merge_into_existing_directory) {
  const auto r =
      run_treecopy_limited({"-q", "--merge", "-j", "4", src_, mnt_->path() + "/existing"}, 60);
  expect_erofs(r);
  EXPECT_EQ(r.exit_code, 1) << "the copy started (DST exists), so failures are per entry";
}

TEST_F(read_only_destination_test, single_file_source) {
  const auto r = run_treecopy_limited({"-q", src_ + "/big/f0", mnt_->path() + "/f0"}, 60);
  expect_erofs(r);
}

}  // namespace
}  // namespace treecopy_test::faults
