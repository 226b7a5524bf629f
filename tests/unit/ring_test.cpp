// The io_uring ring of src/fs/ring.hpp on a real scratch directory: rounds of creates, writes,
// opens, stats, reads and closes whose results are read back with ordinary calls; a round larger
// than the ring, whose excess is reported cancelled and never run.
#include "fs/ring.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <vector>

#include "fs/sys.hpp"
#include "scratch.hpp"

namespace treecopy_test {
namespace {

namespace fs = treecopy::fs;

class ring_test : public testing::Test {
 protected:
  void SetUp() override {
    std::error_code err;
    ring_ = fs::ring::open(8, err);
    if (!ring_) GTEST_SKIP() << "io_uring is not available here: " << err.message();
    auto [fd, error] = fs::open(AT_FDCWD, dir_.path().c_str(), O_RDONLY | fs::dir_open_flags);
    ASSERT_FALSE(error) << error.message();
    root_ = std::move(fd);
  }
  scratch_dir dir_{"ring"};
  fs::unique_fd root_;
  std::unique_ptr<fs::ring> ring_;
};

TEST_F(ring_test, creates_writes_and_reads_back_files) {
  fs::ring& r = *ring_;
  const char* names[] = {"a", "b", "c"};
  const std::string data[] = {"", "one", std::string(5000, 'x')};
  int fds[3] = {-1, -1, -1};
  for (unsigned i = 0; i < 3; ++i)
    fs::ring::openat(r.add(i), root_.get(), names[i], O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
                     0640);
  std::error_code err = r.run([&](std::uint64_t t, int res) { fds[t] = res; });
  ASSERT_FALSE(err) << err.message();
  for (int fd : fds) ASSERT_GE(fd, 0) << -fd;
  for (unsigned i = 1; i < 3; ++i)
    fs::ring::write(r.add(i), fds[i], data[i].data(), static_cast<unsigned>(data[i].size()));
  std::vector<int> wrote(3, -1);
  (void)r.run([&](std::uint64_t t, int res) { wrote[t] = res; });
  EXPECT_EQ(wrote[1], 3);
  EXPECT_EQ(wrote[2], 5000);
  for (unsigned i = 0; i < 3; ++i) fs::ring::close(r.add(i), fds[i]);
  std::vector<int> closed(3, -1);
  (void)r.run([&](std::uint64_t t, int res) { closed[t] = res; });
  EXPECT_EQ(closed, std::vector<int>({0, 0, 0}));

  // Back through the ring: open, stat and read.
  for (unsigned i = 0; i < 3; ++i)
    fs::ring::openat(r.add(i), root_.get(), names[i], O_RDONLY | O_NOFOLLOW | O_CLOEXEC, 0);
  (void)r.run([&](std::uint64_t t, int res) { fds[t] = res; });
  struct statx stx[3] = {};
  std::string got[3] = {std::string(16, '\0'), std::string(16, '\0'), std::string(8000, '\0')};
  int read_res[3] = {};
  for (unsigned i = 0; i < 3; ++i) {
    ASSERT_GE(fds[i], 0);
    fs::ring::statx(r.add(i), fds[i], STATX_BASIC_STATS, &stx[i]);
    fs::ring::read(r.add(8 + i), fds[i], got[i].data(), static_cast<unsigned>(got[i].size()));
  }
  (void)r.run([&](std::uint64_t t, int res) {
    if (t >= 8)
      read_res[t - 8] = res;
    else
      EXPECT_EQ(res, 0) << "statx of " << names[t];
  });
  for (unsigned i = 0; i < 3; ++i) {
    EXPECT_EQ(stx[i].stx_size, data[i].size());
    EXPECT_EQ(stx[i].stx_mode & 07777, 0640u);
    ASSERT_EQ(read_res[i], static_cast<int>(data[i].size()));
    EXPECT_EQ(got[i].substr(0, data[i].size()), data[i]);
    ::close(fds[i]);
  }
}

TEST_F(ring_test, operations_beyond_its_size_are_reported_cancelled_and_never_run) {
  fs::ring& r = *ring_;
  const unsigned n = r.capacity() + 3;
  std::vector<std::string> names;
  for (unsigned i = 0; i < n; ++i) names.push_back("f" + std::to_string(i));
  for (unsigned i = 0; i < n; ++i)
    fs::ring::openat(r.add(i), root_.get(), names[i].c_str(),
                     O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  std::vector<int> res(n, 1);
  (void)r.run([&](std::uint64_t t, int v) { res[t] = v; });
  for (unsigned i = 0; i < n; ++i) {
    struct stat st {};
    const bool exists = ::fstatat(root_.get(), names[i].c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0;
    if (i < r.capacity()) {
      EXPECT_GE(res[i], 0) << names[i];
      EXPECT_TRUE(exists) << names[i];
      if (res[i] >= 0) ::close(res[i]);
    } else {
      EXPECT_EQ(res[i], -ECANCELED) << names[i];
      EXPECT_FALSE(exists) << names[i] << " was created";
    }
  }
  // The ring goes on working after such a round.
  fs::ring::openat(r.add(7), root_.get(), "after", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  int after = -1;
  (void)r.run([&](std::uint64_t, int v) { after = v; });
  ASSERT_GE(after, 0);
  ::close(after);
}

// Creates run on the kernel's worker threads and complete one by one: the round still waits for
// all of them in the kernel, not by calling io_uring_enter again for each (once a busy loop that
// took twice the CPU of the copy it made).
TEST_F(ring_test, a_round_waits_for_all_its_completions_in_one_call) {
  std::error_code err;
  std::unique_ptr<fs::ring> big = fs::ring::open(128, err);
  ASSERT_TRUE(big) << err.message();
  // Half the round completes as it is submitted (closes of no descriptor), half later.
  std::vector<int> fds(64, -1);
  std::vector<std::string> names;  // read by the kernel when it takes the round
  for (unsigned i = 0; i < 64; ++i) names.push_back("w" + std::to_string(i));
  for (unsigned i = 0; i < 64; ++i) {
    fs::ring::close(big->add(64 + i), 1 << 20);
    fs::ring::openat(big->add(i), root_.get(), names[i].c_str(),
                     O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  }
  unsigned closes = 0;
  (void)big->run([&](std::uint64_t t, int res) {
    if (t >= 64) {
      EXPECT_EQ(res, -EBADF);
      ++closes;
    } else {
      fds[t] = res;
    }
  });
  EXPECT_EQ(closes, 64u);
  for (int fd : fds) {
    EXPECT_GE(fd, 0);
    if (fd >= 0) ::close(fd);
  }
  EXPECT_LE(big->enters(), 3u) << "io_uring_enter calls for one round";
}

TEST_F(ring_test, a_failed_operation_reports_its_errno_and_spares_the_rest) {
  fs::ring& r = *ring_;
  fs::ring::openat(r.add(0), root_.get(), "missing", O_RDONLY | O_CLOEXEC, 0);
  fs::ring::openat(r.add(1), root_.get(), "made", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  fs::ring::close(r.add(2), 1 << 20);  // no such descriptor
  int res[3] = {1, -1, 1};
  (void)r.run([&](std::uint64_t t, int v) { res[t] = v; });
  EXPECT_EQ(res[0], -ENOENT);
  ASSERT_GE(res[1], 0);
  EXPECT_EQ(res[2], -EBADF);
  ::close(res[1]);
}

}  // namespace
}  // namespace treecopy_test
